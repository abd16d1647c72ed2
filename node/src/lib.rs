//! A coldchain validator: the Simplex consensus core (pure), and the adapters
//! around it: libp2p networking, sled storage, the mempool, block sync, and
//! the axum gateway. `runtime` wires them together.

pub mod block;
pub mod consensus;
pub mod crypto;
pub mod genesis;
pub mod mempool;
pub mod proof;
pub mod storage;
pub mod config;
pub mod gateway;
pub mod network;
pub mod runtime;
pub mod sync;
pub mod wire;
