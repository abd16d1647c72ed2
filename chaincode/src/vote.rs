//! The bytes a validator signs for a consensus vote. The consensus signs and
//! checks them; the chaincode checks them again in an `evidence` record, so
//! they are defined once, here.
//!
//! `domain tag ‖ 0x00 ‖ len(chain_id) as u16 BE ‖ chain_id ‖ view as u64 BE
//! ‖ block hash (32 bytes; zeros for nullify)`: a vote can never be replayed
//! on another chain or as another kind of vote.
//!
//! Votes of epoch e ≥ 1 (after the validator set changed, issue 19) sign
//! the same bytes with [`namespace`]`(chain_id, e)` in place of the chain
//! id, so no vote of one epoch counts in another. Epoch 0 signs the chain
//! id itself, as every chain did before epochs.

use crate::Hash;
use serde::{Deserialize, Serialize};

/// The three kinds of vote of Simplex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    Notarize,
    Nullify,
    Finalize,
}

impl VoteKind {
    pub fn domain(self) -> &'static [u8] {
        match self {
            VoteKind::Notarize => b"coldchain-notarize-v1",
            VoteKind::Nullify => b"coldchain-nullify-v1",
            VoteKind::Finalize => b"coldchain-finalize-v1",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VoteKind::Notarize => "notarize",
            VoteKind::Nullify => "nullify",
            VoteKind::Finalize => "finalize",
        }
    }

    pub fn parse(s: &str) -> Option<VoteKind> {
        [VoteKind::Notarize, VoteKind::Nullify, VoteKind::Finalize].into_iter().find(|k| k.as_str() == s)
    }
}

/// The name votes of `epoch` are signed under: the chain id for epoch 0,
/// `{chain_id}/epoch-{epoch}` after (a chain id never holds `/`).
pub fn namespace(chain_id: &str, epoch: u64) -> String {
    match epoch {
        0 => chain_id.to_string(),
        e => format!("{chain_id}/epoch-{e}"),
    }
}

/// The exact bytes a validator signs for a vote.
pub fn vote_message(kind: VoteKind, chain_id: &str, view: u64, hash: &Hash) -> Vec<u8> {
    let domain = kind.domain();
    let mut out = Vec::with_capacity(domain.len() + 3 + chain_id.len() + 8 + 32);
    out.extend_from_slice(domain);
    out.push(0);
    out.extend_from_slice(&(chain_id.len() as u16).to_be_bytes());
    out.extend_from_slice(chain_id.as_bytes());
    out.extend_from_slice(&view.to_be_bytes());
    out.extend_from_slice(&hash.0);
    out
}
