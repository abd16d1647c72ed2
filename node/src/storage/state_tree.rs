//! The chaincode state's entries in sled (tree `state`): the adapter behind
//! [`coldchain_chaincode::state::store::StateStore`].
//!
//! A block's changes are written in one `apply_batch`, so the tree holds the
//! state after some block, never half of one; the chaincode's own `meta`
//! entries (height, counts, root) are in the same batch, so the state says
//! which block it is the state after.

use coldchain_chaincode::state::store::{Changes, StateStore};

#[derive(Clone, Debug)]
pub struct StateTree(pub(super) sled::Tree);

/// A state store that cannot be read is beyond what the node can repair:
/// it stops, as it does when a commit fails, rather than answer from a
/// state it cannot see (docs/OPERATIONS.md, "restore a node").
fn fatal(e: sled::Error) -> ! {
    tracing::error!(error = %e, "cannot read the state store; exiting");
    std::process::exit(72)
}

impl StateTree {
    /// A state store of its own in `dir`, without a chain (benchmarks that
    /// apply records straight to a state), with a page cache of `cache_bytes`.
    pub fn open(dir: &std::path::Path, cache_bytes: u64) -> Result<StateTree, sled::Error> {
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).segment_size(8 << 20).open()?;
        Ok(StateTree(db.open_tree("state")?))
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.0.flush().map(|_| ())
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
        self.0.apply_batch(batch)
    }

    /// Entries and their key and value bytes.
    pub fn size(&self) -> (u64, u64) {
        let mut n = 0;
        let mut bytes = 0;
        for (k, v) in self.0.iter().flatten() {
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        (n, bytes)
    }
}

impl StateStore for StateTree {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).unwrap_or_else(|e| fatal(e)).map(|v| v.to_vec())
    }

    fn scan<'a>(&'a self, from: &[u8], to: &[u8]) -> Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a> {
        Box::new(self.0.range(from.to_vec()..to.to_vec()).map(|r| r.unwrap_or_else(|e| fatal(e))).map(|(k, v)| (k.to_vec(), v.to_vec())))
    }
}
