//! Transactions coming in: submissions through this node's gateway (checked,
//! stored, acknowledged once durable, relayed) and relays from its peers
//! (queued for signature checks, then into the mempool).

use super::Driver;
use crate::runtime::services::{Submission, SubmitError, SubmitOutcome};
use crate::wire::WireMessage;
use coldchain_chaincode::{BlockContext, Transaction, TxId};
use std::collections::HashSet;
use std::sync::{Arc, PoisonError};

impl Driver {
    /// A peer's transactions meet the rules the gateway applies (chain,
    /// nonce, algorithm, size: [`Transaction::check_envelope`]) before they
    /// are queued; those that do not are dropped and counted.
    pub(super) fn on_relayed(&mut self, txs: &[Transaction]) {
        let (genesis, state) = (&self.services.genesis, self.state.read().unwrap_or_else(PoisonError::into_inner));
        let mut refused = 0u64;
        let fresh: Vec<(TxId, Transaction)> = txs
            .iter()
            .filter(|tx| {
                let ok = tx.check_envelope(&genesis.chain_id, self.params.max_tx_bytes()).is_ok();
                refused += u64::from(!ok);
                ok
            })
            .map(|tx| (tx.id(), tx))
            .filter(|(id, _)| !self.mempool.contains(id) && !state.contains(id))
            .map(|(id, tx)| (id, tx.clone()))
            .collect();
        drop(state);
        if refused > 0 {
            self.relays_refused += refused;
            tracing::warn!(refused, total = self.relays_refused, "refused relayed transactions that break the transaction rules");
        }
        if fresh.is_empty() {
            return;
        }
        if self.relay_queue.try_send(fresh).is_err() {
            self.relays_dropped += 1;
            tracing::debug!(dropped = self.relays_dropped, "relay verification queue full; dropped a relayed batch");
        }
    }

    /// Re-relays what this node accepted and has not seen finalized, e.g.
    /// after a restart or when a peer (re)connects.
    pub(super) fn relay_pending(&self) {
        let pending: Vec<Transaction> = self.mempool.batch(usize::MAX, usize::MAX, &HashSet::new()).into_iter().map(|(_, t)| t).collect();
        self.relay(&pending);
    }

    /// Relays `txs` to every peer, in messages that each fit the genesis
    /// message limit (half of it, for the encoding's overhead).
    fn relay(&self, txs: &[Transaction]) {
        let max_bytes = RELAY_CHUNK_BYTES.min(self.services.genesis.consensus.max_payload_bytes());
        for chunk in relay_chunks(txs, RELAY_CHUNK_TXS, max_bytes) {
            self.net.broadcast(WireMessage::Txs(Arc::new(chunk.to_vec())));
        }
    }

    pub(super) fn on_submission(&mut self, sub: Submission) {
        if sub.sequence
            && let Some(refused) = self.refuse_sequence(&sub.txs)
        {
            let _ = sub.reply.send(Ok(refused));
            return;
        }
        let mut outcomes = Vec::with_capacity(sub.txs.len());
        let mut accepted = Vec::new();
        let fresh = sub.txs.iter().filter(|(id, _)| !self.mempool.contains(id)).count();
        if !self.mempool.has_room(fresh) {
            let _ = sub.reply.send(Err(SubmitError::Overloaded(self.mempool.capacity())));
            return;
        }
        for (id, tx) in sub.txs {
            if self.mempool.contains(&id) {
                outcomes.push(SubmitOutcome::AlreadyPending);
                continue;
            }
            if self.state.read().unwrap_or_else(PoisonError::into_inner).contains(&id) {
                match self.store.tx_location(&id) {
                    Ok(Some(loc)) => {
                        outcomes.push(SubmitOutcome::AlreadyFinalized { height: loc.height });
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = sub.reply.send(Err(SubmitError::Storage(e.to_string())));
                        return;
                    }
                }
            }
            // The rules a peer's relay and a proposal are held to, for every
            // local path (gateway, app ids, national reports, access logs).
            let genesis = &self.services.genesis;
            if let Err(e) = tx.check_envelope(&genesis.chain_id, self.params.max_tx_bytes()) {
                outcomes.push(SubmitOutcome::Rejected { field: e.field, rule: e.rule });
                continue;
            }
            // A sequence was checked whole, each seeing the ones before it (refuse_sequence).
            let ctx = BlockContext { height: self.last_finalized.height + 1, time_ms: self.services.clock.now_ms() };
            if !sub.sequence
                && let Err(e) = self.state.read().unwrap_or_else(PoisonError::into_inner).check(ctx, &id, &tx)
            {
                outcomes.push(SubmitOutcome::Rejected { field: e.field, rule: e.rule });
                continue;
            }
            let _ = self.mempool.insert(id, tx.clone());
            accepted.push((id, tx));
            outcomes.push(SubmitOutcome::Accepted);
        }
        if accepted.is_empty() {
            let _ = sub.reply.send(Ok(outcomes));
            return;
        }
        if let Err(e) = self.store.put_pending(&accepted) {
            for (id, _) in &accepted {
                self.mempool.remove(id);
            }
            let _ = sub.reply.send(Err(SubmitError::Storage(e.to_string())));
            return;
        }
        let accepted: Vec<Transaction> = accepted.into_iter().map(|(_, t)| t).collect();
        self.relay(&accepted);
        // Acknowledge only once durable; the flush runs off this task and
        // concurrent submissions share it.
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let result = store.flush().map(|_| outcomes).map_err(|e| SubmitError::Storage(e.to_string()));
            let _ = sub.reply.send(result);
        });
        self.try_build(false);
    }
}

impl Driver {
    /// For an all-or-nothing submission: the outcomes refusing all of it when
    /// one of its new transactions breaks the transaction rules or, checked
    /// in order with the ones before it applied, a rule of the chaincode;
    /// `None` when all may be accepted.
    fn refuse_sequence(&self, txs: &[(TxId, Transaction)]) -> Option<Vec<SubmitOutcome>> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let genesis = &self.services.genesis;
        let fresh: Vec<(usize, (TxId, &Transaction))> = txs
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| !self.mempool.contains(id) && !state.contains(id))
            .map(|(i, (id, tx))| (i, (*id, tx)))
            .collect();
        let envelope = fresh
            .iter()
            .find_map(|(i, (_, tx))| tx.check_envelope(&genesis.chain_id, self.params.max_tx_bytes()).err().map(|e| (*i, e.field, e.rule)));
        let ctx = BlockContext { height: self.last_finalized.height + 1, time_ms: self.services.clock.now_ms() };
        let (at, field, rule) = envelope.or_else(|| {
            let sequence: Vec<(TxId, &Transaction)> = fresh.iter().map(|(_, t)| *t).collect();
            state.check_sequence(ctx, &sequence).err().map(|(k, e)| (fresh[k].0, e.field, e.rule))
        })?;
        Some(
            (0..txs.len())
                .map(|i| match i == at {
                    true => SubmitOutcome::Rejected { field: field.clone(), rule: rule.clone() },
                    false => SubmitOutcome::Rejected {
                        field: "(sequence)".into(),
                        rule: format!("not stored: transaction {at} of the same all-or-nothing submission broke a rule"),
                    },
                })
                .collect(),
        )
    }
}

/// Most transactions in one relay message.
const RELAY_CHUNK_TXS: usize = 2048;
/// Most canonical transaction bytes in one relay message (or one larger
/// transaction alone): a peer holds a relay against its connection's read
/// budget until it is handled, and the relays waiting for verification
/// (`RELAY_QUEUE` of them) stay within 64 MiB. Half the genesis message
/// limit (128 MiB by default) was the cut before.
const RELAY_CHUNK_BYTES: usize = 1 << 20;

/// Splits `txs`, in order, into runs of at most `max_txs` transactions and
/// `max_bytes` canonical bytes; a transaction larger than `max_bytes` goes
/// alone (the genesis limits keep it within a message).
fn relay_chunks(txs: &[Transaction], max_txs: usize, max_bytes: usize) -> Vec<&[Transaction]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, tx) in txs.iter().enumerate() {
        let n = tx.byte_len();
        if i > start && (i - start >= max_txs || bytes.saturating_add(n) > max_bytes) {
            chunks.push(&txs[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(n);
    }
    if start < txs.len() {
        chunks.push(&txs[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::relay_chunks;
    use coldchain_chaincode::Transaction;
    use ed25519_dalek::SigningKey;

    /// Issue 17: relays were cut by count alone (2,048), so 2,048 large
    /// transactions made one message far over the message limit, which
    /// every peer drops.
    #[test]
    fn relays_are_cut_by_count_and_by_bytes_in_order() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let txs: Vec<Transaction> = (0..7).map(|n| Transaction::sign("c", n, serde_json::json!({"type": "notarise"}), &key)).collect();
        let one = txs[0].byte_len();
        let sizes = |chunks: Vec<&[Transaction]>| chunks.iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(sizes(relay_chunks(&txs, 3, usize::MAX)), [3, 3, 1]);
        assert_eq!(sizes(relay_chunks(&txs, 100, 2 * one)), [2, 2, 2, 1]);
        assert_eq!(sizes(relay_chunks(&txs, 100, one - 1)), [1; 7], "one too large goes alone");
        let flat: Vec<u64> = relay_chunks(&txs, 2, 3 * one).concat().iter().map(|t| t.nonce).collect();
        assert_eq!(flat, (0..7).collect::<Vec<_>>());
        assert!(relay_chunks(&[], 2, 10).is_empty());
    }
}
