//! Durable state of a node: the finalized chain ([`ChainStore`]: headers and
//! indexes in sled, block bodies in an append-only log) and the consensus
//! safety slots ([`SafetyFile`]), written apart so the votes a validator
//! signed survive even a damaged chain database.

mod body_log;
mod chain;
mod compaction;
mod leaf_spill;
mod pending;
mod safety_file;
mod snapshots;
mod state_tree;

pub use chain::{ChainStore, Finality, FinalityProof, StoreError, StoredBlock, TxLocation};
pub use leaf_spill::LeafSpill;
pub use safety_file::SafetyFile;
pub use snapshots::{SnapshotFiles, SnapshotInfo};
pub use state_tree::StateTree;
