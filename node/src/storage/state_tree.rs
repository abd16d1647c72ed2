//! The chaincode state's entries in sled (tree `state`): the adapter behind
//! [`coldchain_chaincode::state::store::StateStore`].
//!
//! A block's changes are written in one `apply_batch`, so the tree holds the
//! state after some block, never half of one; the chaincode's own `meta`
//! entries (height, counts, root) are in the same batch, so the state says
//! which block it is the state after.
//!
//! Reads go through a bounded cache of entries (enterprises, lots and
//! holdings are read many times per block): a sled lookup walks the tree
//! and copies the value each time. The cache is kept exact: a write
//! replaces the entries it changes, and a read that raced a write does not
//! fill the cache with what it read.

use coldchain_chaincode::state::merkle;
use coldchain_chaincode::state::store::{Changes, StateStore};
use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct StateTree {
    tree: sled::Tree,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for StateTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateTree({} cached entries)", self.cache.entries.len())
    }
}

type Entry = Option<Arc<[u8]>>;

/// An entry's weight: its key and value bytes and the cache's own cost.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Vec<u8>, Entry> for Weight {
    fn weight(&self, key: &Vec<u8>, value: &Entry) -> u64 {
        (key.len() + value.as_ref().map_or(0, |v| v.len()) + 64) as u64
    }
}

struct ReadCache {
    entries: Cache<Vec<u8>, Entry, Weight>,
    /// Bumped before and after each write; a read fills the cache only if
    /// no write began since it looked the entry up.
    writes: AtomicU64,
    gate: RwLock<()>,
}

/// A state store that cannot be read is beyond what the node can repair:
/// it stops, as it does when a commit fails, rather than answer from a
/// state it cannot see (docs/OPERATIONS.md, "restore a node").
fn fatal(e: sled::Error) -> ! {
    tracing::error!(error = %e, "cannot read the state store; exiting");
    std::process::exit(72)
}

/// A node of the state tree below its top three levels: a block rewrites
/// thousands of them, each read again only when a later block changes a key
/// beneath it, so writing them into the cache would only push out the
/// entries that records read (enterprises, lots, holdings). The top levels
/// (at most 4,369 nodes) are read by every block and stay.
fn deep_tree_node(key: &[u8]) -> bool {
    key.first() == Some(&merkle::NODE_PREFIX) && key.get(1).is_some_and(|&nibbles| nibbles > 3)
}

impl StateTree {
    /// The state in `tree`, with a read cache of about `cache_bytes`.
    pub(super) fn new(tree: sled::Tree, cache_bytes: u64) -> StateTree {
        let entries = Cache::with_weighter((cache_bytes / 256).max(16) as usize, cache_bytes.max(4096), Weight);
        StateTree { tree, cache: Arc::new(ReadCache { entries, writes: AtomicU64::new(0), gate: RwLock::new(()) }) }
    }

    /// A state store of its own in `dir`, without a chain (benchmarks that
    /// apply records straight to a state), with `cache_bytes` split between
    /// sled's page cache and the read cache, as a node's.
    pub fn open(dir: &std::path::Path, cache_bytes: u64) -> Result<StateTree, sled::Error> {
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes / 2).segment_size(8 << 20).open()?;
        Ok(StateTree::new(db.open_tree("state")?, cache_bytes / 2))
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.tree.flush().map(|_| ())
    }

    /// Writes a batch of changes atomically.
    pub fn write(&self, changes: &Changes) -> Result<(), sled::Error> {
        let mut batch = sled::Batch::default();
        for (k, v) in changes {
            match v {
                Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                None => batch.remove(k.as_slice()),
            }
        }
        let bump = || {
            let _closed = self.cache.gate.write().unwrap_or_else(|e| e.into_inner());
            self.cache.writes.fetch_add(1, Ordering::AcqRel);
        };
        bump();
        let written = self.tree.apply_batch(batch);
        {
            let _closed = self.cache.gate.write().unwrap_or_else(|e| e.into_inner());
            for (k, v) in changes {
                if deep_tree_node(k) {
                    self.cache.entries.remove(k);
                } else {
                    self.cache.entries.insert(k.clone(), v.as_deref().map(Arc::from));
                }
            }
            self.cache.writes.fetch_add(1, Ordering::AcqRel);
        }
        written
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<(), sled::Error> {
        let _closed = self.cache.gate.write().unwrap_or_else(|e| e.into_inner());
        self.cache.writes.fetch_add(1, Ordering::AcqRel);
        self.tree.clear()?;
        self.cache.entries.clear();
        Ok(())
    }

    /// Entries and their key and value bytes.
    pub fn size(&self) -> (u64, u64) {
        let mut n = 0;
        let mut bytes = 0;
        for (k, v) in self.tree.iter().flatten() {
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        (n, bytes)
    }
}

impl StateStore for StateTree {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(hit) = self.cache.entries.get(key) {
            return hit.map(|v| v.to_vec());
        }
        let before = self.cache.writes.load(Ordering::Acquire);
        let value: Entry = self.tree.get(key).unwrap_or_else(|e| fatal(e)).map(|v| Arc::from(v.as_ref()));
        {
            let _open = self.cache.gate.read().unwrap_or_else(|e| e.into_inner());
            if self.cache.writes.load(Ordering::Acquire) == before {
                self.cache.entries.insert(key.to_vec(), value.clone());
            }
        }
        value.map(|v| v.to_vec())
    }

    fn scan<'a>(&'a self, from: &[u8], to: &[u8]) -> Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a> {
        Box::new(self.tree.range(from.to_vec()..to.to_vec()).map(|r| r.unwrap_or_else(|e| fatal(e))).map(|(k, v)| (k.to_vec(), v.to_vec())))
    }
}
