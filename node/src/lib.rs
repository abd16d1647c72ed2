//! A coldchain validator: the Simplex consensus core (pure), and the adapters
//! around it: libp2p networking, sled storage, the mempool, block sync, and
//! the axum gateway. `runtime` wires them together.

pub mod block;
pub mod consensus;
pub mod crypto;
pub mod genesis;
