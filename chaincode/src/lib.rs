//! The coldchain chaincode: the deterministic state machine every validator runs
//! over finalized transactions.
//!
//! It knows records and their rules and nothing else: no network, no storage
//! engine, no clock, no randomness. Given the same finalized blocks, every
//! validator reaches the same [`State`] and the same [`State::root`].
//!
//! - [`hash`]: the 32-byte SHA-256 digest type used everywhere.
//! - [`canonical`]: RFC 8785 canonical JSON, the byte form that is hashed and signed.
//! - [`transaction`]: the signed transaction envelope, its id and signature rules.
//! - [`record`]: the record types a transaction carries and their field rules.
//! - [`state`]: applying records, receipts and the state root.

pub mod canonical;
pub mod hash;
pub mod record;
pub mod state;
pub mod transaction;

pub use hash::Hash;
pub use record::{Record, RecordError};
pub use state::{BlockContext, Outcome, Receipt, State};
pub use transaction::{Signer, Transaction, TxError, TxId};
