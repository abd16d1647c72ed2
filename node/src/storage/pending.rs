//! Which accepted, not yet final transactions are in which stored batch.
//!
//! `pending` in sled holds one value per 64 accepted transactions (their
//! canonical bytes, one per line), not one per transaction:
//! ids are random keys and sled copies a tree leaf on every insert. This
//! index, in memory, says which batch holds each id and how many of a
//! batch's transactions are still not final, so a batch is deleted once its
//! last one is.

use coldchain_chaincode::IdMap;
use coldchain_chaincode::TxId;
use std::collections::HashMap;

/// A batch's key in the `pending` tree.
pub type BatchKey = Vec<u8>;

#[derive(Debug, Default)]
pub struct PendingIndex {
    batch_of: IdMap<BatchKey>,
    open: HashMap<BatchKey, usize>,
}

impl PendingIndex {
    /// Records a stored batch; ids already pending in another batch stay there.
    pub fn add(&mut self, key: &[u8], ids: impl IntoIterator<Item = TxId>) {
        let mut count = 0;
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.batch_of.entry(id) {
                slot.insert(key.to_vec());
                count += 1;
            }
        }
        if count > 0 {
            *self.open.entry(key.to_vec()).or_default() += count;
        }
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.batch_of.contains_key(id)
    }

    /// Marks `id` final; returns the key of its batch when that was the
    /// batch's last pending transaction (the batch can be deleted).
    pub fn finalize(&mut self, id: &TxId) -> Option<BatchKey> {
        let key = self.batch_of.remove(id)?;
        let left = self.open.get_mut(&key).expect("every indexed id's batch is open");
        *left -= 1;
        if *left == 0 {
            self.open.remove(&key);
            return Some(key);
        }
        None
    }

    /// Whether a stored batch still holds a pending transaction (false once
    /// all of them are final, or when every line was pending elsewhere).
    pub fn is_open(&self, key: &[u8]) -> bool {
        self.open.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::Hash;

    #[test]
    fn a_batch_closes_when_its_last_transaction_is_final() {
        let (a, b, c) = (Hash::digest(b"a"), Hash::digest(b"b"), Hash::digest(b"c"));
        let mut p = PendingIndex::default();
        p.add(b"1", [a, b]);
        p.add(b"2", [b, c]); // b stays in batch 1
        assert!(p.contains(&b) && p.is_open(b"1") && p.is_open(b"2"));
        assert_eq!(p.finalize(&b), None);
        assert_eq!(p.finalize(&c), Some(b"2".to_vec()));
        assert_eq!(p.finalize(&c), None, "already final");
        assert_eq!(p.finalize(&a), Some(b"1".to_vec()));
        assert!(!p.contains(&a) && !p.is_open(b"1"));
    }
}
