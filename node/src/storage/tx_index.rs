//! Where each finalized transaction is: its block height and index, and
//! whether the chaincode applied it. Held in memory, rebuilt when the store
//! opens by hashing the stored canonical bytes of every block's transactions
//! (a transaction id is the SHA-256 of those bytes, so nothing is parsed).
//!
//! Why not a sled tree: ids are uniformly random keys, so one insert per
//! transaction touched a different tree leaf every time; sled copies the
//! leaf on each insert, and that was a fifth of a validator's CPU under load.
//! The blocks are the truth and the index is derived from them, so it needs
//! no durability of its own.

use coldchain_chaincode::IdMap;
use coldchain_chaincode::TxId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub height: u64,
    pub index: u32,
    /// False when the chaincode refused it; the outcome is then in sled.
    pub applied: bool,
}

/// 256 maps by the id's first byte, so that growing one never rehashes
/// millions of ids at once while a block commits.
#[derive(Debug)]
pub struct TxIndex(Vec<IdMap<Slot>>);

impl Default for TxIndex {
    fn default() -> Self {
        TxIndex(vec![IdMap::default(); 256])
    }
}

impl TxIndex {
    pub fn get(&self, id: &TxId) -> Option<Slot> {
        self.0[id.0[0] as usize].get(id).copied()
    }

    /// Records where `id` took effect; a transaction already indexed keeps
    /// its first location (a repeat in a later block is refused by the
    /// chaincode and changes nothing). Returns whether it was new.
    pub fn insert_first(&mut self, id: TxId, slot: Slot) -> bool {
        let shard = &mut self.0[id.0[0] as usize];
        if shard.contains_key(&id) {
            return false;
        }
        shard.insert(id, slot);
        true
    }

    /// Indexes `id` at `slot` unless it is already at an earlier one (a
    /// rebuild that meets blocks out of height order keeps where the
    /// transaction took effect).
    pub fn insert_earliest(&mut self, id: TxId, slot: Slot) {
        let shard = &mut self.0[id.0[0] as usize];
        match shard.get(&id) {
            Some(s) if (s.height, s.index) <= (slot.height, slot.index) => {}
            _ => {
                shard.insert(id, slot);
            }
        }
    }

    /// Marks an indexed transaction as refused by the chaincode.
    pub fn mark_refused(&mut self, id: &TxId) {
        if let Some(slot) = self.0[id.0[0] as usize].get_mut(id) {
            slot.applied = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::Hash;

    #[test]
    fn the_first_location_of_a_transaction_is_kept() {
        let mut index = TxIndex::default();
        let id = Hash::digest(b"tx");
        assert!(index.insert_first(id, Slot { height: 3, index: 7, applied: true }));
        assert!(!index.insert_first(id, Slot { height: 9, index: 0, applied: false }));
        assert_eq!(index.get(&id), Some(Slot { height: 3, index: 7, applied: true }));
        index.mark_refused(&id);
        assert_eq!(index.get(&id).map(|s| s.applied), Some(false));
        assert_eq!(index.get(&Hash::digest(b"other")), None);
    }
}
