//! State snapshots: the state after one block, in chunks that a new node
//! checks one by one against the state root a finalized header certifies.
//!
//! A snapshot is every leaf of the state tree ([`super::merkle`]: every
//! entry but the state's own figures and the tree's nodes), in the order
//! of the keys' hashes, cut into chunks of [`CHUNK_ENTRIES`]. Each chunk
//! carries the range proof of its last key: the hashes of the subtrees to
//! the right of that key's path. With the leaves of the chunks before it,
//! that is enough to compute the root; so a chunk that was forged, reordered,
//! cut short or left out fails at once, before any later chunk is read
//! (jmt's restore, as Diem's and Aptos's state sync use it). The restored
//! tree's nodes are built as the leaves arrive, never all in memory.
//!
//! The figures the tree does not cover are checked where they can be: the
//! height and root are the certified ones; the count of transactions
//! applied must equal the `seen` entries that say so; the count refused
//! must be at least the `seen` entries that say so (a repeat of a
//! transaction already on chain is refused without an entry of its own,
//! so that part of the figure is the serving peer's word).
//!
//! Pure: [`State::snapshot`] reads a settled state, [`Restore`] returns the
//! entries each chunk adds; the node writes them.

use super::ledger::{self, SEEN};
use super::merkle::{self, RangeProof};
use super::store::{Changes, Kv};
use super::{META_APPLIED, META_HEIGHT, META_REJECTED, META_TREE_VERSION, State};
use crate::hash::Hash;
use jmt::Version;
use jmt::restore::{JellyfishMerkleRestore, StateSnapshotReceiver};
use jmt::storage::{NodeBatch, TreeWriter};
use std::sync::{Arc, Mutex, PoisonError};

/// Entries per chunk: about half a megabyte at the state's average entry.
pub const CHUNK_ENTRIES: usize = 4096;

/// A run of leaves, in key-hash order, and the proof of the last one.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Chunk {
    /// (key, value) as stored.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub proof: RangeProof,
}

impl Chunk {
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Chunk, SnapshotError> {
        borsh::from_slice(bytes).map_err(|e| SnapshotError::Decode(e.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("the chunk does not decode: {0}")]
    Decode(String),
    #[error("chunk {0} is empty")]
    Empty(u32),
    #[error("chunk {index}: key {key} is not a leaf of the state tree (the state's own figures and the tree's nodes are never sent)")]
    NotALeaf { index: u32, key: String },
    #[error("chunk {index} does not prove against the certified root: {reason}")]
    Proof { index: u32, reason: String },
    #[error("the restored tree's root is {restored}, not the certified {certified} (chunks are missing)")]
    Root { restored: Hash, certified: Hash },
    #[error("the snapshot claims {claimed:?} transactions (applied, refused); its entries show {counted:?}")]
    Figures { claimed: (u64, u64), counted: (u64, u64) },
}

/// How many leaves and chunks a snapshot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub chunks: u32,
}

impl State {
    /// The tree's version now (sent with a snapshot: a restored tree takes
    /// the same, so its next block writes the version a replay would).
    pub fn tree_version(&self) -> Version {
        self.tree_version.unwrap_or(0)
    }

    /// The state as it is (sealed and written: no changes pending) as
    /// chunks, each passed to `emit` in order. The leaves are read in one
    /// pass in key order and put in key-hash order by `order`; each chunk's
    /// proof is read from the tree, which must not change meanwhile.
    pub fn snapshot<E: From<std::io::Error>>(
        &self,
        chunk_entries: usize,
        order: &mut dyn LeafOrder,
        mut emit: impl FnMut(Chunk) -> Result<(), E>,
    ) -> Result<Summary, E> {
        let kv = self.ledger.kv();
        debug_assert!(kv.changes().is_empty(), "a snapshot is of a settled state");
        let mut summary = Summary::default();
        let Some(version) = self.tree_version else { return Ok(summary) };
        for (key, value) in leaves(kv) {
            order.push(merkle::key_hash(&key).0, key, value)?;
        }
        let per = chunk_entries.max(1);
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(per);
        let mut send = |entries: Vec<(Vec<u8>, Vec<u8>)>, summary: &mut Summary| {
            let Some((last, _)) = entries.last() else { return Ok(()) };
            let proof = merkle::range_proof(kv, version, last);
            summary.entries += entries.len() as u64;
            summary.chunks += 1;
            emit(Chunk { entries, proof })
        };
        while let Some(run) = order.next_run()? {
            for (_, key, value) in run {
                entries.push((key, value));
                if entries.len() == per {
                    send(std::mem::replace(&mut entries, Vec::with_capacity(per)), &mut summary)?;
                }
            }
        }
        send(entries, &mut summary)?;
        Ok(summary)
    }
}

/// A leaf of the state tree: its key's hash, its key and value as stored.
pub type Leaf = ([u8; 32], Vec<u8>, Vec<u8>);

/// Puts a snapshot's leaves in key-hash order. The state pushes every leaf
/// once, in key order (one sequential pass over the store, no lookup per
/// leaf), then reads them back in runs: each run sorted, every hash of a
/// run below every hash of the next. A node spills them to files by hash
/// prefix, so that taking a snapshot needs the memory of one run, not of
/// the whole state; [`InMemory`] keeps them all (small states, tests).
pub trait LeafOrder {
    fn push(&mut self, hash: [u8; 32], key: Vec<u8>, value: Vec<u8>) -> std::io::Result<()>;
    /// The next run, or `None` once every leaf pushed has been returned.
    fn next_run(&mut self) -> std::io::Result<Option<Vec<Leaf>>>;
}

/// Every leaf in memory, returned as one run.
#[derive(Default)]
pub struct InMemory {
    leaves: Vec<Leaf>,
    returned: bool,
}

impl LeafOrder for InMemory {
    fn push(&mut self, hash: [u8; 32], key: Vec<u8>, value: Vec<u8>) -> std::io::Result<()> {
        self.leaves.push((hash, key, value));
        Ok(())
    }

    fn next_run(&mut self) -> std::io::Result<Option<Vec<Leaf>>> {
        if std::mem::replace(&mut self.returned, true) {
            return Ok(None);
        }
        let mut run = std::mem::take(&mut self.leaves);
        run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(run))
    }
}

/// The tree's leaves (key, value), in key order.
fn leaves(kv: &Kv) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    let below = kv.scan_raw(&[], &[merkle::NODE_PREFIX]);
    let above = kv.scan_raw(&[merkle::NODE_PREFIX + 1], &[0xFF; 9]);
    below.chain(above).filter(|(k, _)| merkle::committed(k))
}

/// The tree nodes jmt's restore freezes, as state entries.
#[derive(Default)]
struct NodeSink(Mutex<Changes>);

impl TreeWriter for NodeSink {
    fn write_node_batch(&self, batch: &NodeBatch) -> anyhow::Result<()> {
        let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, node) in batch.nodes() {
            out.insert(merkle::node_key_bytes(key), Some(borsh::to_vec(node)?));
        }
        Ok(())
    }
}

impl NodeSink {
    fn take(&self) -> Changes {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A snapshot being restored into an empty store: each chunk is checked
/// before its entries are handed out to be written.
pub struct Restore {
    tree: JellyfishMerkleRestore<jmt_sha2::Sha256>,
    nodes: Arc<NodeSink>,
    root: Hash,
    version: Version,
    next: u32,
    applied: u64,
    rejected: u64,
    summary: Summary,
}

impl Restore {
    /// Restores the state whose tree has `root` (certified) as `version`.
    pub fn new(root: Hash, version: Version) -> Restore {
        let nodes = Arc::new(NodeSink::default());
        let tree = match JellyfishMerkleRestore::new_overwrite(nodes.clone(), version, jmt::RootHash(root.0)) {
            Ok(t) => t,
            Err(e) => unreachable!("an overwriting restore has nothing to read: {e}"),
        };
        Restore { tree, nodes, root, version, next: 0, applied: 0, rejected: 0, summary: Summary::default() }
    }

    /// Checks the next chunk; returns its entries and the tree nodes it
    /// completed, to be written. After an error this restore is spent.
    pub fn add(&mut self, chunk: Chunk) -> Result<Changes, SnapshotError> {
        let index = self.next;
        if chunk.entries.is_empty() {
            return Err(SnapshotError::Empty(index));
        }
        let mut changes = Changes::new();
        let mut leaves = Vec::with_capacity(chunk.entries.len());
        for (key, value) in chunk.entries {
            if !merkle::committed(&key) {
                return Err(SnapshotError::NotALeaf { index, key: hex::encode(&key) });
            }
            if key.first() == Some(&SEEN.prefix()) {
                // The peer's bytes: a value that does not decode is refused, not a panic.
                match SEEN.try_decode(&value).map_err(|e| SnapshotError::Decode(format!("chunk {index}: {e}")))?.applied() {
                    true => self.applied += 1,
                    false => self.rejected += 1,
                }
            }
            leaves.push((merkle::key_hash(&key), value.clone()));
            changes.insert(key, Some(value));
        }
        self.summary.entries += leaves.len() as u64;
        self.tree.add_chunk(leaves, chunk.proof).map_err(|e| SnapshotError::Proof { index, reason: e.to_string() })?;
        changes.extend(self.nodes.take());
        self.next += 1;
        self.summary.chunks += 1;
        Ok(changes)
    }

    /// After the last chunk: the remaining tree nodes and the state's own
    /// figures, as the state after block `height` with `claimed`
    /// transactions (applied, refused). Fails if the tree built is not the
    /// certified one (a chunk was held back) or the figures cannot be.
    pub fn finish(self, height: u64, claimed: (u64, u64)) -> Result<(Changes, Summary), SnapshotError> {
        let Restore { tree, nodes, root, version, applied, rejected, summary, .. } = self;
        let mut changes = Changes::new();
        let restored = if summary.chunks == 0 {
            merkle::EMPTY_ROOT
        } else {
            tree.finish().map_err(|e| SnapshotError::Proof { index: summary.chunks, reason: e.to_string() })?;
            changes = nodes.take();
            // The root's place: no nibbles.
            let root_key = vec![merkle::NODE_PREFIX, 0];
            changes.get(&root_key).and_then(|n| n.as_deref()).and_then(merkle::node_hash).unwrap_or(merkle::EMPTY_ROOT)
        };
        if restored != root {
            return Err(SnapshotError::Root { restored, certified: root });
        }
        if claimed.0 != applied || claimed.1 < rejected {
            return Err(SnapshotError::Figures { claimed, counted: (applied, rejected) });
        }
        let meta = |k: u8, v: u64| (ledger::META.key(&k), Some(ledger::META.encode(&v)));
        changes.extend([
            meta(META_HEIGHT, height),
            meta(META_APPLIED, claimed.0),
            meta(META_REJECTED, claimed.1),
            meta(META_TREE_VERSION, version),
            (ledger::STATE_ROOT.key(&()), Some(ledger::STATE_ROOT.encode(&root))),
        ]);
        Ok((changes, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::{MemStore, StateStore};
    use crate::state::{BlockContext, GenesisState};
    use crate::transaction::Transaction;
    use serde_json::json;

    fn tx(i: u32) -> Transaction {
        crate::state::tests::tx(i as u64, json!({"type": "notarise", "document": {"i": i}}))
    }

    /// A state of `blocks` blocks of notarisations.
    fn chain(blocks: u32) -> State {
        let mut state = State::with_genesis(GenesisState::default());
        for h in 1..=blocks {
            // Each block repeats a transaction, which the chaincode refuses.
            let txs: Vec<Transaction> = (0..40).map(|i| tx(h * 100 + i)).chain([tx(h * 100)]).collect();
            state.apply_block(BlockContext { height: h as u64, time_ms: 0 }, txs.iter());
            state.settle();
        }
        state
    }

    fn chunks(state: &State, per: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        state
            .snapshot::<std::io::Error>(per, &mut InMemory::default(), |c| {
                out.push(c.to_bytes());
                Ok(())
            })
            .unwrap();
        out
    }

    fn restore(state: &State, chunks: &[Vec<u8>]) -> Result<State, SnapshotError> {
        restore_into(state, chunks).map(|(s, _)| s)
    }

    fn restore_into(state: &State, chunks: &[Vec<u8>]) -> Result<(State, Arc<MemStore>), SnapshotError> {
        let mut r = Restore::new(state.root(), state.tree_version());
        let store = Arc::new(MemStore::default());
        for c in chunks {
            store.write(&r.add(Chunk::from_bytes(c)?)?);
        }
        let (last, _) = r.finish(state.height(), (state.applied_count(), state.rejected_count()))?;
        store.write(&last);
        Ok((State::open_store(store.clone() as Arc<dyn StateStore>, GenesisState::default()), store))
    }

    #[test]
    fn a_restored_state_is_the_state_and_goes_on_as_it_would() {
        let mut state = chain(6);
        let chunks = chunks(&state, 50);
        assert!(chunks.len() > 4, "{} chunks", chunks.len());
        let (mut restored, store) = restore_into(&state, &chunks).unwrap();
        assert_eq!(restored.root(), state.root());
        assert_eq!(restored.height(), 6);
        assert_eq!((restored.applied_count(), restored.rejected_count()), (240, 6));
        assert_eq!((state.applied_count(), state.rejected_count()), (240, 6));
        assert_eq!(restored.digest(), state.digest());
        // The next block leaves both at the same root.
        let next: Vec<Transaction> = (0..10).map(|i| tx(9_000 + i)).collect();
        let ctx = BlockContext { height: 7, time_ms: 0 };
        state.apply_block(ctx, next.iter());
        state.settle();
        restored.apply_block(ctx, next.iter());
        store.write(restored.changes());
        restored.settle();
        assert_eq!(restored.root(), state.root());
        assert_eq!(restored.digest(), state.digest());
    }

    #[test]
    fn a_forged_reordered_or_missing_chunk_is_refused() {
        let state = chain(4);
        let good = chunks(&state, 40);
        // A value changed in the third chunk: refused at that chunk.
        let mut forged = good.clone();
        let mut c = Chunk::from_bytes(&forged[2]).unwrap();
        c.entries[3].1.push(b'x');
        forged[2] = c.to_bytes();
        assert!(matches!(restore(&state, &forged), Err(SnapshotError::Proof { index: 2, .. })));
        // An entry left out of a chunk.
        let mut short = good.clone();
        let mut c = Chunk::from_bytes(&short[1]).unwrap();
        c.entries.remove(5);
        short[1] = c.to_bytes();
        assert!(matches!(restore(&state, &short), Err(SnapshotError::Proof { index: 1, .. })));
        // Two chunks swapped.
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert!(matches!(restore(&state, &swapped), Err(SnapshotError::Proof { index: 1, .. })));
        // The last chunk held back: every chunk proves, the tree does not.
        let held = &good[..good.len() - 1];
        assert!(matches!(restore(&state, held), Err(SnapshotError::Root { .. })));
        // A state figure smuggled in.
        let mut meta = good.clone();
        let mut c = Chunk::from_bytes(&meta[0]).unwrap();
        c.entries.insert(0, (ledger::META.key(&META_APPLIED), ledger::META.encode(&1u64)));
        meta[0] = c.to_bytes();
        assert!(matches!(restore(&state, &meta), Err(SnapshotError::NotALeaf { index: 0, .. })));
        // A `seen` value that does not decode: refused, not a panic.
        let mut junk = good.clone();
        let mut c = Chunk::from_bytes(&junk[1]).unwrap();
        let seen = c.entries.iter_mut().find(|(k, _)| k.first() == Some(&SEEN.prefix())).unwrap();
        seen.1 = vec![0xFF];
        junk[1] = c.to_bytes();
        assert!(matches!(restore(&state, &junk), Err(SnapshotError::Decode(e)) if e.starts_with("chunk 1: state table `seen`")));
        // Figures that the entries contradict.
        let mut r = Restore::new(state.root(), state.tree_version());
        for c in &good {
            r.add(Chunk::from_bytes(c).unwrap()).unwrap();
        }
        assert!(matches!(r.finish(4, (state.applied_count() + 1, 0)), Err(SnapshotError::Figures { .. })));
        // Bytes that are no chunk.
        assert!(matches!(restore(&state, &[b"junk".to_vec()]), Err(SnapshotError::Decode(_))));
        // And the genuine one restores.
        assert_eq!(restore(&state, &good).unwrap().root(), state.root());
    }
}
