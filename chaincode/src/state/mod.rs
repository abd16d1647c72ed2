//! The chain state and the deterministic `apply` of finalized transactions.
//!
//! A transaction in a finalized block either applies or is rejected with a
//! receipt naming the field and rule; a rejected transaction changes nothing
//! but its entry in `seen` (its place and outcome). The state root
//! ([`merkle`]) commits to every entry after each block. Replaying the same
//! blocks from genesis yields the same roots and the same [`State::digest`]
//! (a hash of every stored entry) on every validator.

pub mod annex_b;
pub mod disposal;
pub mod ledger;
pub mod merkle;
pub mod search;
pub mod snapshot;
pub mod statistics;
pub mod store;
pub mod trace;
pub mod warning;

use crate::dictionary::Dictionaries;
use crate::hash::Hash;
use crate::record::RecordError;
use crate::records::{Actor, Cx, Plan, Record};
use crate::transaction::{Transaction, TxId};
use chrono::NaiveDate;
use ledger::{Bureau, Ledger};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{Changes, Kv, StateStore};

/// What the chaincode may know of the block it applies: nothing from a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockContext {
    pub height: u64,
    /// The block header's time, milliseconds since the Unix epoch.
    pub time_ms: i64,
}

impl BlockContext {
    /// The block's calendar date in China Standard Time (UTC+8).
    pub fn date(&self) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(self.time_ms + 8 * 3_600_000).map(|t| t.date_naive()).unwrap_or_default()
    }
}

/// What the chaincode did with a finalized transaction: `applied`, or
/// `rejected` with the field and the rule (the transaction stays on chain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The bureaus and dictionaries a chain starts with (from its genesis file).
#[derive(Clone, Debug, Default)]
pub struct GenesisState {
    pub bureaus: Vec<Bureau>,
    pub dictionaries: Dictionaries,
}

/// The chain state: the ledger in its store, and the figures of the last
/// block applied.
#[derive(Debug, Default)]
pub struct State {
    /// The root of the state tree ([`merkle`]) after the last block sealed.
    root: Hash,
    /// The state tree's version: how many blocks changed the state (none:
    /// nothing sealed yet).
    tree_version: Option<u64>,
    height: u64,
    /// The place in its block of the next transaction applied.
    next_index: u32,
    applied: u64,
    rejected: u64,
    ledger: Ledger,
}

pub(super) const META_HEIGHT: u8 = 0;
pub(super) const META_APPLIED: u8 = 1;
pub(super) const META_REJECTED: u8 = 2;
pub(super) const META_TREE_VERSION: u8 = 3;

impl State {
    /// An empty chain with no bureaus and no dictionaries (notarise only), in memory.
    pub fn new() -> State {
        State::with_genesis(GenesisState::default())
    }

    /// A new chain in memory.
    pub fn with_genesis(genesis: GenesisState) -> State {
        State::open(Kv::in_memory(), genesis)
    }

    /// The state in `store`: as committed there, or (an empty store) the
    /// chain's start, whose entries are written with the first block.
    pub fn open_store(store: Arc<dyn StateStore>, genesis: GenesisState) -> State {
        State::open(Kv::over(store), genesis)
    }

    fn open(kv: Kv, genesis: GenesisState) -> State {
        let meta = |k: u8| kv.get(&ledger::META, &k);
        if let Some(height) = meta(META_HEIGHT) {
            let (applied, rejected) = (meta(META_APPLIED).unwrap_or(0), meta(META_REJECTED).unwrap_or(0));
            let root = kv.get(&ledger::STATE_ROOT, &()).unwrap_or(merkle::EMPTY_ROOT);
            let tree_version = meta(META_TREE_VERSION);
            return State { root, tree_version, height, next_index: 0, applied, rejected, ledger: Ledger::open(kv) };
        }
        let mut state = State { ledger: Ledger::open(kv), root: merkle::EMPTY_ROOT, ..State::default() };
        state.ledger.set_dictionaries(genesis.dictionaries);
        for b in genesis.bureaus {
            state.ledger.put_bureau(b);
        }
        // The chain's start has a root of its own (height 0).
        state.seal_block();
        state
    }

    /// The height of the state a store holds, without opening it (none:
    /// nothing stored yet).
    pub fn stored_height(store: &dyn StateStore) -> Option<u64> {
        store.get(&ledger::META.key(&META_HEIGHT)).map(|b| ledger::META.decode(&b))
    }

    fn write_meta(&mut self) {
        let kv = self.ledger.kv_mut();
        kv.put(&ledger::META, &META_HEIGHT, &self.height);
        kv.put(&ledger::META, &META_APPLIED, &self.applied);
        kv.put(&ledger::META, &META_REJECTED, &self.rejected);
        kv.put(&ledger::STATE_ROOT, &(), &self.root);
        if let Some(v) = self.tree_version {
            kv.put(&ledger::META, &META_TREE_VERSION, &v);
        }
    }

    /// The root of the state tree as of the last sealed block: it commits
    /// to every entry of the state (every enterprise, lot, movement, code
    /// … and every transaction's outcome), and proves any of them
    /// ([`State::prove`]).
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Ends the block being applied: the keys it changed go into the state
    /// tree, whose new root is returned. A block that changed nothing
    /// leaves the root as it was. [`State::apply`] seals the previous block
    /// itself when a new height begins; the last block needs this call.
    pub fn seal_block(&mut self) -> Hash {
        let touched = self.ledger.kv_mut().take_touched();
        if touched.is_empty() {
            return self.root;
        }
        let version = self.tree_version.map_or(0, |v| v + 1);
        let (root, reached) = merkle::update(self.ledger.kv_mut(), version, touched);
        self.root = root;
        self.tree_version = Some(reached);
        self.write_meta();
        self.root
    }

    /// Applies a block's transactions in order and seals it.
    pub fn apply_block<'a>(&mut self, ctx: BlockContext, txs: impl IntoIterator<Item = &'a Transaction>) -> Vec<Receipt> {
        let receipts = txs.into_iter().map(|tx| self.apply(ctx, tx.id(), tx)).collect();
        // An empty block moves the state's height too: the state is the
        // state after the last block applied, whatever it held.
        if ctx.height != self.height {
            self.height = ctx.height;
            self.next_index = 0;
            self.write_meta();
        }
        self.seal_block();
        receipts
    }

    /// The value of `key` (a table key, [`ledger`]) in the sealed state and
    /// the proof of it, or of its absence, under [`State::root`].
    pub fn prove(&self, key: &[u8]) -> (Option<Vec<u8>>, merkle::StateProof) {
        let kv = self.ledger.kv();
        (kv.get_raw(key), merkle::prove(kv, self.tree_version, key))
    }

    /// SHA-256 over every entry of the state (every enterprise, lot,
    /// movement, code, report, alert …, and the root) in key order, but
    /// the tree's nodes: the root covers them, and their bytes name the
    /// version that wrote each one, which differs between a state replayed
    /// and one restored from a snapshot. Two validators with the same
    /// digest hold the same state. Reads it all.
    pub fn digest(&self) -> Hash {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"coldchain-ledger-v2\0");
        let kv = self.ledger.kv();
        for (k, v) in kv.scan_raw(&[], &[merkle::NODE_PREFIX]).chain(kv.scan_raw(&[merkle::NODE_PREFIX + 1], &[0xFF; 2])) {
            h.update((k.len() as u32).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u32).to_be_bytes());
            h.update(&v);
        }
        Hash(h.finalize().into())
    }

    /// The height of the last block applied (by [`State::apply_block`],
    /// empty ones included).
    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn applied_count(&self) -> u64 {
        self.applied
    }

    pub fn rejected_count(&self) -> u64 {
        self.rejected
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What the blocks applied since the last [`State::settle`] changed,
    /// for the node to write with them, atomically.
    pub fn changes(&self) -> &Changes {
        self.ledger.kv().changes()
    }

    /// The changes are in the store: reads go there. (A state in memory
    /// writes them itself.)
    pub fn settle(&mut self) {
        self.ledger.kv_mut().settle();
    }

    /// Whether a transaction with this id is on chain (applied or rejected).
    pub fn contains(&self, id: &TxId) -> bool {
        self.ledger.contains(&ledger::SEEN, id)
    }

    /// Where a transaction took effect, read from a store directly.
    pub fn stored_location(store: &dyn StateStore, id: &TxId) -> Option<ledger::Seen> {
        store.get(&ledger::SEEN.key(id)).map(|b| ledger::SEEN.decode(&b))
    }

    /// Every validator offence on chain, by offender, view and offence.
    pub fn evidence(&self) -> Vec<ledger::Evidence> {
        let epoch_0 = self.ledger.scan_all(&ledger::EVIDENCE).map(|(_, e)| e);
        epoch_0.chain(self.ledger.scan_all(&ledger::EPOCH_EVIDENCE).map(|(_, e)| e)).collect()
    }

    pub fn notarisation(&self, id: &TxId) -> Option<ledger::Notarisation> {
        self.ledger.get(&ledger::NOTARISATIONS, id)
    }

    fn actor(&self, record: &Record, signer: &[u8; 32]) -> Result<Actor, RecordError> {
        let l = &self.ledger;
        if let Some(b) = l.bureau_of_admin(signer) {
            return Ok(Actor::Bureau { province: b.province.clone() });
        }
        if let Some(b) = l.bureau_of_validator(signer) {
            return Ok(Actor::Node { province: b.province.clone() });
        }
        if let Some(id) = l.enterprise_of_key(signer) {
            let e = l.enterprise_at(id);
            if e.suspended {
                return Err(RecordError::new("signer", format!("enterprise {} is suspended by its bureau", e.uscc)));
            }
            return Ok(Actor::Enterprise(id));
        }
        // A retired admin key signs nothing, not even what any key may: what
        // it signed stays its bureau's, and nothing after may look so.
        if let Some(former) = l.former_admin_key(signer) {
            let how = match l.governance(&former.change) {
                Some(c) if c.change == "remove_validator" => "removed the bureau from the consortium",
                _ => "rotated it",
            };
            return Err(RecordError::new(
                "signer.public_key",
                format!(
                    "was bureau {}'s admin key until height {}, when governance change {} {how}; it signs nothing after",
                    former.province, former.until_height, former.change
                ),
            ));
        }
        if let Some(former) = l.former_validator_key(signer) {
            return Err(RecordError::new(
                "signer.public_key",
                format!(
                    "was bureau {}'s validator key until height {}, when governance change {} retired it; it signs nothing after",
                    former.province, former.until_height, former.change
                ),
            ));
        }
        if matches!(record, Record::Notarise) {
            return Ok(Actor::Anyone);
        }
        Err(RecordError::new("signer.public_key", "is not the key of an enrolled enterprise or a bureau; the enterprise's bureau enrols it first"))
    }

    /// The enterprise an app id stands for, when the validator serving it
    /// submits a record on the enterprise's behalf (`via.path` = `appid`).
    fn actor_via_appid(&self, appid: &str, signer: &[u8; 32]) -> Result<Actor, RecordError> {
        let l = &self.ledger;
        let Some(bureau) = l.bureau_of_validator(signer) else {
            return Err(RecordError::new("via", "only a validator's node submits a record on an app id's behalf"));
        };
        let c = l
            .get(&ledger::APP_CREDENTIALS, &appid.to_string())
            .ok_or_else(|| RecordError::new("via.appid", format!("app id {appid} was never issued")))?;
        if c.revoked {
            return Err(RecordError::new("via.appid", format!("app id {appid} is revoked")));
        }
        if &c.validator_key != signer {
            return Err(RecordError::new(
                "via.appid",
                format!("app id {appid} is served by the node of province {}, not {}", c.province, bureau.province),
            ));
        }
        let (id, e) = l.enterprise(&c.uscc).ok_or_else(|| RecordError::new("via.appid", format!("enterprise {} is not enrolled", c.uscc)))?;
        if e.suspended {
            return Err(RecordError::new("via.appid", format!("enterprise {} is suspended by its bureau", e.uscc)));
        }
        Ok(Actor::Enterprise(id))
    }

    /// The rules a transaction must meet against the current state, as of
    /// block `ctx`; used by the gateway before accepting, and again by
    /// `apply` at finalization.
    pub fn check(&self, ctx: BlockContext, id: &TxId, tx: &Transaction) -> Result<(Record, Cx, Plan), RecordError> {
        if self.contains(id) {
            return Err(duplicate(id));
        }
        self.check_new(ctx, id, tx)
    }

    /// Checks `txs` as if applied one after another in one block at `ctx`,
    /// each seeing the ones before it, on a scratch copy of the ledger that
    /// is dropped: nothing of it is kept. The index and the error of the
    /// first that breaks a rule (an EPCIS capture is accepted whole or not
    /// at all).
    pub fn check_sequence(&self, ctx: BlockContext, txs: &[(TxId, &Transaction)]) -> Result<(), (usize, RecordError)> {
        let mut scratch = State {
            root: self.root,
            tree_version: self.tree_version,
            height: self.height,
            next_index: 0,
            applied: self.applied,
            rejected: self.rejected,
            ledger: self.ledger.clone(),
        };
        for (i, (id, tx)) in txs.iter().enumerate() {
            let (record, cx, plan) = scratch.check(ctx, id, tx).map_err(|e| (i, e))?;
            record.apply(plan, &mut scratch.ledger, &cx);
            scratch.ledger.put(&ledger::SEEN, id, &ledger::Seen(ctx.height, i as u32, true));
        }
        Ok(())
    }

    /// [`State::check`] of a transaction known not to be on chain.
    fn check_new(&self, ctx: BlockContext, id: &TxId, tx: &Transaction) -> Result<(Record, Cx, Plan), RecordError> {
        let mut value = tx.record.to_value();
        let via = take_via(&mut value)?;
        let record = Record::parse(&value)?;
        let actor = match via {
            Some(appid) => self.actor_via_appid(&appid, &tx.signer.public_key)?,
            None => self.actor(&record, &tx.signer.public_key)?,
        };
        let cx = Cx { block: ctx, tx: *id, signer: tx.signer.public_key, actor, today: ctx.date(), chain_id: tx.chain_id.clone() };
        let plan = record.validate(&self.ledger, &cx)?;
        Ok((record, cx, plan))
    }

    /// Applies one transaction of a finalized block. The caller has verified
    /// its signature (consensus only finalizes verified blocks).
    pub fn apply(&mut self, ctx: BlockContext, id: TxId, tx: &Transaction) -> Receipt {
        if ctx.height != self.height {
            self.seal_block();
        }
        // One lookup of the id: a store read per transaction is a cost.
        let repeated = self.contains(&id);
        let checked = if repeated { Err(duplicate(&id)) } else { self.check_new(ctx, &id, tx) };
        let outcome = match checked {
            Ok((record, cx, plan)) => {
                record.apply(plan, &mut self.ledger, &cx);
                self.applied += 1;
                Outcome::Applied
            }
            Err(e) => {
                self.rejected += 1;
                Outcome::Rejected { field: e.field, rule: e.rule }
            }
        };
        if ctx.height != self.height {
            self.next_index = 0;
        }
        if !repeated {
            self.ledger.put(&ledger::SEEN, &id, &ledger::Seen(ctx.height, self.next_index, outcome == Outcome::Applied));
        }
        self.next_index += 1;
        self.height = ctx.height;
        self.write_meta();
        Receipt { tx_id: id, outcome }
    }
}

fn duplicate(id: &TxId) -> RecordError {
    RecordError::new("(transaction)", format!("duplicate: transaction {id} is already on chain"))
}

/// Takes a record's top-level `via` out: how a record signed by a
/// validator's key came to it (`{"path": "appid", "appid": "…"}`: an
/// enterprise's signed request, seed 004 table 1). A record without `via`
/// was signed by its submitter's own key.
fn take_via(record: &mut serde_json::Value) -> Result<Option<String>, RecordError> {
    let Some(via) = record.as_object_mut().and_then(|o| o.remove("via")) else { return Ok(None) };
    let rule = "is {\"path\": \"appid\", \"appid\": \"…\"}: set by the node that checked the app id's signed request";
    let obj = via.as_object().ok_or_else(|| RecordError::new("record.via", rule))?;
    match (obj.get("path").and_then(|p| p.as_str()), obj.get("appid").and_then(|a| a.as_str()), obj.len()) {
        (Some("appid"), Some(appid), 2) => Ok(Some(appid.to_string())),
        _ => Err(RecordError::new("record.via", rule)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    pub(super) fn tx(nonce: u64, record: serde_json::Value) -> Transaction {
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
                s.apply_block(BlockContext { height: h as u64 + 1, time_ms: 0 }, [t]);
            }
            (s.root(), s.digest())
        };
        assert_eq!(run(), run());
        assert_ne!(run().0, State::new().root());
    }

    #[test]
    fn the_digest_does_not_depend_on_the_order_transactions_were_applied() {
        let txs: Vec<Transaction> = (0..50).map(|i| tx(i, json!({"type": "notarise", "document": {"i": i}}))).collect();
        let ctx = BlockContext { height: 1, time_ms: 0 };
        let ledger_digest = |order: &mut dyn Iterator<Item = &Transaction>| {
            let mut s = State::new();
            s.apply_block(ctx, order);
            // The ledger's entries; the root and each transaction's place
            // depend on the order by design.
            let own = [ledger::META.prefix(), ledger::STATE_ROOT.prefix(), ledger::SEEN.prefix(), merkle::NODE_PREFIX];
            s.ledger().kv().scan_raw(&[], &[0xFF; 2]).filter(|(k, _)| !own.contains(&k[0])).collect::<Vec<_>>()
        };
        assert_eq!(ledger_digest(&mut txs.iter()), ledger_digest(&mut txs.iter().rev()));
    }

    #[test]
    fn block_dates_are_china_standard_time() {
        // 2026-11-23T16:30Z is 00:30 on the 24th in Beijing.
        let ctx = BlockContext { height: 1, time_ms: 1_795_451_400_000 };
        assert_eq!(ctx.date().to_string(), "2026-11-24");
    }
}
