//! State proofs: that, in the state a quorum certified, some keys held
//! some values (or nothing), checked offline against the genesis file.
//! Format and checks: docs/PROOFS.md ("State proofs").
//!
//! A bundle carries entries (key, value or none, and the tree proof of
//! each), and the finalized header whose `state_root` they are proven
//! under, with its finalization (and links, if a descendant's
//! certificate finalized it): the same checks 4–6 as a transaction proof.

use crate::block::Header;
use crate::consensus::Certificate;
use crate::proof::{ProofError, ProofVerifier};
use coldchain_chaincode::Hash;
use coldchain_chaincode::state::ledger::describe_entry;
use coldchain_chaincode::state::merkle::{self, StateProof};
use serde::{Deserialize, Serialize};

pub const STATE_PROOF_VERSION: u32 = 1;
/// The `kind` that tells a state proof from a transaction proof.
pub const STATE_PROOF_KIND: &str = "state";

/// A state proof bundle (docs/PROOFS.md, "State proofs"): entries of the
/// chaincode state, each with its proof under `header.state_root`, and that
/// header's finalization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateProofBundle {
    /// Always `state`.
    pub kind: String,
    pub version: u32,
    pub entries: Vec<ProvenEntry>,
    /// A finalized header: its `state_root` is the root the entries are
    /// proven under (the state after block `state_height`).
    pub header: Header,
    /// Headers from `header.height + 1` up to the certified block, when a
    /// descendant's certificate finalized it; usually empty.
    pub links: Vec<Header>,
    /// By the validators of the certified block's epoch.
    pub finalization: Certificate,
    /// The epoch certificates from genesis to that epoch (absent in epoch 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub epochs: Vec<crate::consensus::epoch::EpochCertificate>,
}

/// One entry and its proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvenEntry {
    /// The entry's key bytes (docs/FORMATS.md, "The chaincode state on disk"), hex.
    pub key: String,
    /// Its value bytes (CBOR), hex; `null`: the key is absent.
    pub value: Option<String>,
    pub proof: StateProof,
}

/// One verified entry, read from its bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadEntry {
    pub table: String,
    pub key: String,
    /// `None`: proven absent.
    pub value: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifiedState {
    pub chain_id: String,
    pub state_height: u64,
    pub state_root: Hash,
    pub header_height: u64,
    pub certified_height: u64,
    pub certified_hash: Hash,
    pub signers: Vec<String>,
    pub entries: Vec<ReadEntry>,
}

/// The first check that failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StateProofError {
    #[error("not a state proof (kind \"{0}\")")]
    Kind(String),
    #[error("unsupported state proof version {0} (this verifier reads version {STATE_PROOF_VERSION})")]
    Version(u32),
    #[error("check 1 (chain): the proof is for chain \"{found}\", the genesis file is for \"{expected}\"")]
    Chain { expected: String, found: String },
    #[error("the proof has no entries")]
    Empty,
    #[error("entry {index}: {field} is not hexadecimal")]
    Hex { index: usize, field: &'static str },
    #[error("check S (state tree): entry {index} ({table} {key}): {source}")]
    Entry { index: usize, table: String, key: String, source: merkle::ProofError },
    #[error("{0}")]
    Certified(ProofError),
}

/// Checks a state proof: each entry against the header's state root
/// (check S), then the header's finality (checks 4–6).
pub fn verify_state(verifier: &mut ProofVerifier, b: &StateProofBundle) -> Result<VerifiedState, StateProofError> {
    if b.kind != STATE_PROOF_KIND {
        return Err(StateProofError::Kind(b.kind.clone()));
    }
    if b.version != STATE_PROOF_VERSION {
        return Err(StateProofError::Version(b.version));
    }
    let chain = verifier.chain_id().to_string();
    if let Some(found) = std::iter::once(&b.header).chain(&b.links).map(|h| &h.chain_id).find(|c| **c != chain) {
        return Err(StateProofError::Chain { expected: chain, found: found.clone() });
    }
    if b.entries.is_empty() {
        return Err(StateProofError::Empty);
    }
    let mut entries = Vec::with_capacity(b.entries.len());
    for (index, e) in b.entries.iter().enumerate() {
        let key = hex::decode(&e.key).map_err(|_| StateProofError::Hex { index, field: "key" })?;
        let value = match &e.value {
            Some(v) => Some(hex::decode(v).map_err(|_| StateProofError::Hex { index, field: "value" })?),
            None => None,
        };
        let (table, key_text, decoded) = describe_entry(&key, value.as_deref());
        e.proof.verify(&b.header.state_root, &key, value.as_deref()).map_err(|source| StateProofError::Entry {
            index,
            table: table.clone(),
            key: key_text.clone(),
            source,
        })?;
        entries.push(ReadEntry { table, key: key_text, value: decoded });
    }
    let certified = verifier.certified(&b.header, &b.links, Some(&b.finalization), &b.epochs).map_err(StateProofError::Certified)?;
    let (certified_height, certified_hash, signers) = (certified.height, certified.hash, certified.signers);
    Ok(VerifiedState {
        chain_id: chain,
        state_height: b.header.state_height,
        state_root: b.header.state_root,
        header_height: b.header.height,
        certified_height,
        certified_hash,
        signers,
        entries,
    })
}
