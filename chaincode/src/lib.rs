//! The coldchain chaincode: the deterministic state machine every validator runs
//! over finalized transactions.
//!
//! It knows records and their rules and nothing else: no network, no storage
//! engine, no clock, no randomness. Given the same finalized blocks, every
//! validator reaches the same [`State`], the same [`State::root`] and the
//! same [`State::digest`].
//!
//! - [`hash`]: the 32-byte SHA-256 digest type used everywhere.
//! - [`canonical`]: RFC 8785 canonical JSON, the byte form that is hashed and signed.
//! - [`transaction`]: the signed transaction envelope, its id and signature rules.
//! - [`records`]: the record types of the seeds, one module each, and their rules.
//! - [`fields`]: reading fields in either of seed 004's spellings; weights, dates.
//! - [`identifiers`]: USCC, GS1 and certificate-number check rules.
//! - [`dictionary`]: the code dictionaries of genesis.
//! - [`images`]: Base64 images off chain, their SHA-256 on chain.
//! - [`state`]: applying records, receipts, the ledger and its trace queries.

// No panic reachable from a peer's block or a request: errors are typed (docs/SECURITY.md).
#![cfg_attr(not(test), deny(clippy::expect_used, clippy::unwrap_used))]

pub mod canonical;
pub mod dictionary;
pub mod epcis;
pub mod fields;
pub mod gs1;
pub mod hash;
pub mod identifiers;
pub mod images;
#[cfg(feature = "openapi")]
mod openapi;
pub mod record;
pub mod records;
pub mod scenario;
pub mod signature;
pub mod state;
pub mod strict_json;
pub mod testkit;
pub mod transaction;
pub mod vote;

pub use hash::Hash;
pub use record::RecordError;
pub use records::Record;
pub use state::{BlockContext, GenesisState, Outcome, Receipt, State};
pub use transaction::{IdMap, IdSet, Signer, Transaction, TxError, TxId};
