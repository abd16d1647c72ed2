//! A coldchain validator: the Simplex consensus core (pure), and the adapters
//! around it: libp2p networking, sled storage, the mempool, block sync, and
//! the axum gateway. `runtime` wires them together.

pub mod backup;
pub use coldchain_consensus::block;
pub mod clock;
pub mod config;
/// The Simplex consensus core (its own crate: no I/O, no async runtime).
pub use coldchain_consensus as consensus;
pub mod crypto;
pub mod gateway;
pub mod genesis;
pub mod mempool;
pub mod network;
pub mod proof;
pub mod replay;
pub mod runtime;
pub mod snapshot;
pub mod state_proof;
pub mod storage;
pub mod sync;
#[cfg(test)]
pub(crate) mod testing;
pub mod wire;
