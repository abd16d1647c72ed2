//! Transactions accepted but not yet finalized, first in first out.
//!
//! Bounded: when full, new transactions are refused with
//! [`MempoolError::Full`] (the gateway answers 503) rather than growing
//! without limit. Everything in it has had its signature verified once, so a
//! proposal carrying it need not be verified again.

use coldchain_chaincode::IdMap;
use coldchain_chaincode::{Transaction, TxId};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MempoolError {
    #[error("the mempool is full ({0} transactions); retry later")]
    Full(usize),
}

pub struct Mempool {
    capacity: usize,
    next_seq: u64,
    order: BTreeMap<u64, TxId>,
    txs: IdMap<(u64, Transaction)>,
}

impl Mempool {
    pub fn new(capacity: usize) -> Mempool {
        Mempool { capacity, next_seq: 0, order: BTreeMap::new(), txs: IdMap::default() }
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.txs.contains_key(id)
    }

    pub fn get(&self, id: &TxId) -> Option<&Transaction> {
        self.txs.get(id).map(|(_, tx)| tx)
    }

    /// Room for `n` more?
    pub fn has_room(&self, n: usize) -> bool {
        self.txs.len() + n <= self.capacity
    }

    /// Adds a verified transaction; `Ok(false)` if it was already there.
    pub fn insert(&mut self, id: TxId, tx: Transaction) -> Result<bool, MempoolError> {
        if self.txs.contains_key(&id) {
            return Ok(false);
        }
        if self.txs.len() >= self.capacity {
            return Err(MempoolError::Full(self.capacity));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, id);
        self.txs.insert(id, (seq, tx));
        Ok(true)
    }

    /// Transactions in arrival order, skipping `exclude`: at most `max_txs`
    /// of them and `max_bytes` of their canonical bytes (a block's limits).
    /// Stops at the first that does not fit, so none is passed over for
    /// long: it leads the next block.
    pub fn batch(&self, max_txs: usize, max_bytes: usize, exclude: &HashSet<TxId>) -> Vec<(TxId, Transaction)> {
        let mut bytes = 0usize;
        self.order
            .values()
            .filter(|id| !exclude.contains(id))
            .take(max_txs)
            .map(|id| (id, &self.txs[id].1))
            .take_while(|(_, tx)| {
                bytes = bytes.saturating_add(tx.byte_len());
                bytes <= max_bytes
            })
            .map(|(id, tx)| (*id, tx.clone()))
            .collect()
    }

    pub fn remove(&mut self, id: &TxId) {
        if let Some((seq, _)) = self.txs.remove(id) {
            self.order.remove(&seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::Hash;
    use ed25519_dalek::SigningKey;

    fn tx(n: u64) -> (TxId, Transaction) {
        let t = Transaction::sign("c", n, serde_json::json!({"type": "notarise", "document": {}}), &SigningKey::from_bytes(&[1; 32]));
        (t.id(), t)
    }

    #[test]
    fn dedups_orders_bounds_and_excludes() {
        let mut m = Mempool::new(3);
        let (a, b, c, d) = (tx(1), tx(2), tx(3), tx(4));
        assert_eq!(m.insert(a.0, a.1.clone()), Ok(true));
        assert_eq!(m.insert(a.0, a.1.clone()), Ok(false));
        m.insert(b.0, b.1).unwrap();
        m.insert(c.0, c.1).unwrap();
        assert_eq!(m.insert(d.0, d.1.clone()), Err(MempoolError::Full(3)));
        let exclude: HashSet<Hash> = [b.0].into();
        let ids: Vec<TxId> = m.batch(10, usize::MAX, &exclude).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![a.0, c.0]);
        // A block's byte limit: the first that does not fit ends the batch.
        let one = a.1.byte_len();
        assert_eq!(m.batch(10, 2 * one - 1, &exclude).len(), 1);
        assert_eq!(m.batch(10, 2 * one, &exclude).len(), 2);
        assert_eq!(m.batch(1, usize::MAX, &exclude).len(), 1);
        m.remove(&a.0);
        assert_eq!(m.insert(d.0, d.1), Ok(true));
        assert_eq!(m.len(), 3);
    }
}
