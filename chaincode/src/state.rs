//! The chain state and the deterministic `apply` of finalized transactions.
//!
//! A transaction in a finalized block either applies or is rejected with a
//! receipt naming the field and rule; a rejected transaction changes nothing
//! but the state root, which commits to every outcome in order. Replaying the
//! same blocks from genesis yields the same root on every validator.

use crate::hash::Hash;
use crate::record::{Record, RecordError};
use crate::transaction::{Transaction, TxId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// What the chaincode may know of the block it applies: nothing from a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockContext {
    pub height: u64,
    /// The block header's time, milliseconds since the Unix epoch.
    pub time_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Rejected { field: String, rule: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_id: TxId,
    pub outcome: Outcome,
}

/// A notarised document as the state keeps it; the transaction id commits
/// to its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notarisation {
    pub signer: [u8; 32],
    pub height: u64,
}

#[derive(Clone, Debug, Default)]
pub struct State {
    root: Hash,
    applied: u64,
    rejected: u64,
    seen: HashSet<TxId>,
    notarisations: BTreeMap<TxId, Notarisation>,
}

const STATE_DOMAIN: &[u8] = b"coldchain-state-v1\0";

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Commits to every applied transaction and outcome, in order.
    pub fn root(&self) -> Hash {
        self.root
    }

    pub fn applied_count(&self) -> u64 {
        self.applied
    }

    pub fn rejected_count(&self) -> u64 {
        self.rejected
    }

    /// Whether a transaction with this id is on chain (applied or rejected).
    pub fn contains(&self, id: &TxId) -> bool {
        self.seen.contains(id)
    }

    pub fn notarisation(&self, id: &TxId) -> Option<&Notarisation> {
        self.notarisations.get(id)
    }

    /// The rules a transaction must meet against the current state; used by
    /// the gateway before accepting, and again by `apply` at finalization.
    pub fn check(&self, id: &TxId, tx: &Transaction) -> Result<Record, RecordError> {
        if self.seen.contains(id) {
            return Err(RecordError::new("(transaction)", format!("duplicate: transaction {id} is already on chain")));
        }
        Record::parse(&tx.record.to_value())
    }

    /// Applies one transaction of a finalized block. The caller has verified
    /// its signature (consensus only finalizes verified blocks).
    pub fn apply(&mut self, ctx: BlockContext, id: TxId, tx: &Transaction) -> Receipt {
        let outcome = match self.check(&id, tx) {
            Ok(record) => {
                self.execute(ctx, id, tx, record);
                self.applied += 1;
                Outcome::Applied
            }
            Err(e) => {
                self.rejected += 1;
                Outcome::Rejected { field: e.field, rule: e.rule }
            }
        };
        self.seen.insert(id);
        let tag: &[u8] = if outcome == Outcome::Applied { b"A" } else { b"R" };
        self.root = Hash::digest_parts(&[STATE_DOMAIN, &self.root.0, &id.0, tag, &ctx.height.to_be_bytes()]);
        Receipt { tx_id: id, outcome }
    }

    fn execute(&mut self, ctx: BlockContext, id: TxId, tx: &Transaction, record: Record) {
        match record {
            Record::Notarise => {
                self.notarisations.insert(id, Notarisation { signer: tx.signer.public_key, height: ctx.height });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    fn tx(nonce: u64, record: serde_json::Value) -> Transaction {
        Transaction::sign("c", nonce, record, &SigningKey::from_bytes(&[9; 32]))
    }

    #[test]
    fn applies_then_rejects_a_duplicate_and_roots_diverge_by_outcome() {
        let ctx = BlockContext { height: 1, time_ms: 0 };
        let t = tx(1, json!({"type": "notarise", "document": {"a": 1}}));
        let mut s = State::new();
        assert_eq!(s.apply(ctx, t.id(), &t).outcome, Outcome::Applied);
        assert!(s.notarisation(&t.id()).is_some());
        let r = s.apply(ctx, t.id(), &t);
        assert!(matches!(r.outcome, Outcome::Rejected { ref rule, .. } if rule.starts_with("duplicate")));
        assert_eq!((s.applied_count(), s.rejected_count()), (1, 1));
    }

    #[test]
    fn replay_reproduces_the_root() {
        let txs: Vec<Transaction> =
            (0..20).map(|i| tx(i, if i % 5 == 0 { json!({"type": "bogus"}) } else { json!({"type": "notarise", "document": {"i": i}}) })).collect();
        let run = || {
            let mut s = State::new();
            for (h, t) in txs.iter().enumerate() {
                s.apply(BlockContext { height: h as u64, time_ms: 0 }, t.id(), t);
            }
            s.root()
        };
        assert_eq!(run(), run());
        assert_ne!(run(), State::new().root());
    }
}
