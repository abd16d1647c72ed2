//! Messages, certificates, evidence, and the events and actions through which
//! the consensus core talks to the world.

use crate::ValidatorIndex;
use crate::block::Header;
use crate::vote::{self, VoteKind};
use coldchain_chaincode::Hash;
use coldchain_chaincode::hash::serde_bytes_compat as fixed;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub type View = u64;

/// One validator's signed vote. A nullify vote's `hash` is all zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub kind: VoteKind,
    pub view: View,
    pub hash: Hash,
    pub signer: ValidatorIndex,
    #[serde(serialize_with = "fixed::serialize_64", deserialize_with = "fixed::deserialize_64")]
    pub signature: [u8; 64],
}

/// One validator's signature in a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignerSignature {
    /// The validator's index in genesis.
    #[cfg_attr(feature = "openapi", schema(value_type = u16))]
    pub signer: ValidatorIndex,
    /// Ed25519 over the vote's signed bytes (docs/PROOFS.md): 128 hexadecimal characters.
    #[serde(serialize_with = "fixed::serialize_64", deserialize_with = "fixed::deserialize_64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{128}$"))]
    pub signature: [u8; 64],
}

/// q votes of one kind for one (view, hash) from distinct validators: a
/// notarization, a nullification or a finalization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certificate {
    pub kind: VoteKind,
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub view: View,
    pub hash: Hash,
    pub signatures: Vec<SignerSignature>,
}

/// Why a certificate was refused; the first failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is a {found:?} certificate, expected {expected:?}")]
    WrongKind { expected: VoteKind, found: VoteKind },
    #[error("signer index {0} is not a validator in genesis")]
    UnknownSigner(ValidatorIndex),
    #[error("validator {0} signed the certificate twice")]
    DuplicateSigner(ValidatorIndex),
    #[error("signature of validator {0} does not verify for this chain, view and hash")]
    BadSignature(ValidatorIndex),
    #[error("only {found} distinct validators signed; the quorum is {quorum}")]
    BelowQuorum { found: usize, quorum: usize },
}

impl Certificate {
    /// Checks kind, distinct known signers, every signature (`verify_strict`)
    /// and the quorum.
    pub fn verify(&self, kind: VoteKind, chain_id: &str, validators: &[VerifyingKey], quorum: usize) -> Result<(), CertificateError> {
        if self.kind != kind {
            return Err(CertificateError::WrongKind { expected: kind, found: self.kind });
        }
        let mut seen = BTreeSet::new();
        for s in &self.signatures {
            let key = validators.get(s.signer as usize).ok_or(CertificateError::UnknownSigner(s.signer))?;
            if !seen.insert(s.signer) {
                return Err(CertificateError::DuplicateSigner(s.signer));
            }
            if !vote::verify_vote(key, self.kind, chain_id, self.view, &self.hash, &s.signature) {
                return Err(CertificateError::BadSignature(s.signer));
            }
        }
        if seen.len() < quorum {
            return Err(CertificateError::BelowQuorum { found: seen.len(), quorum });
        }
        Ok(())
    }
}

/// A leader's proposal: the header (the body travels beside it, handled by
/// the driver), the leader's own notarize signature, and the certificates
/// that justify the parent: a notarization (or finalization) of the parent
/// and a nullification of every view between the parent's and this one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub header: Header,
    #[serde(serialize_with = "fixed::serialize_64", deserialize_with = "fixed::deserialize_64")]
    pub signature: [u8; 64],
    pub parent_certificate: Option<Certificate>,
    pub nullifications: Vec<Certificate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    Proposal(Proposal),
    Vote(Vote),
    Certificate(Certificate),
}

/// Two signed votes from one validator that no honest validator would sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evidence {
    ConflictingNotarize(Vote, Vote),
    ConflictingFinalize(Vote, Vote),
    NullifyFinalize(Vote, Vote),
}

impl Evidence {
    pub fn offender(&self) -> ValidatorIndex {
        match self {
            Evidence::ConflictingNotarize(a, _) | Evidence::ConflictingFinalize(a, _) | Evidence::NullifyFinalize(a, _) => a.signer,
        }
    }

    /// The chaincode's `evidence` record of this offence (docs/RECORDS.md),
    /// naming the offender by its province code.
    pub fn record(&self, offender_province: &str) -> serde_json::Value {
        let (Evidence::ConflictingNotarize(a, b) | Evidence::ConflictingFinalize(a, b) | Evidence::NullifyFinalize(a, b)) = self;
        let vote = |v: &Vote| serde_json::json!({"kind": v.kind.as_str(), "hash": v.hash.to_string(), "signature": hex::encode(v.signature)});
        serde_json::json!({"type": "evidence", "offender": offender_province, "view": a.view, "votes": [vote(a), vote(b)]})
    }

    /// The offence: its kind, the offender and the view. Any number of
    /// conflicting votes one validator signs in one view are one offence,
    /// recorded once.
    pub fn offence(&self) -> (u8, ValidatorIndex, View) {
        let (kind, vote) = match self {
            Evidence::ConflictingNotarize(a, _) => (0, a),
            Evidence::ConflictingFinalize(a, _) => (1, a),
            Evidence::NullifyFinalize(a, _) => (2, a),
        };
        (kind, vote.signer, vote.view)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeoutKind {
    /// No valid proposal arrived in time.
    Leader,
    /// The view did not end (no certificate) in time.
    Advance,
    /// Still stuck after nullifying: rebroadcast.
    Retry,
}

/// Inputs to the core.
#[derive(Clone, Debug)]
pub enum Event {
    Message(ConsensusMessage),
    Timeout {
        view: View,
        kind: TimeoutKind,
    },
    /// The driver built the block requested by [`Action::Build`].
    Built {
        header: Header,
    },
    /// The driver checked the body of a proposal ([`Action::Verify`]).
    Verified {
        hash: Hash,
        valid: bool,
    },
    /// The driver holds this block's body (fetched, or from a proposal), so
    /// the core may build on it or commit it.
    BlockAvailable {
        header: Header,
    },
    /// The driver stored finalized blocks up to `header` through block sync,
    /// after checking `finalization` against genesis.
    Synced {
        header: Header,
        finalization: Certificate,
    },
    /// Whether the driver holds transactions not yet final (its mempool is
    /// not empty). Sent when that changes; a core starts with none (Rule I).
    Work {
        pending: bool,
    },
}

/// Outputs of the core, to be carried out in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A vote or proposal the safety rules signed: its safety state is
    /// written, durably, before the message is sent (Rule P).
    PersistThenBroadcast(super::safety::Guarded<ConsensusMessage>),
    /// A message that signs nothing new (a certificate, a vote re-sent).
    Broadcast(ConsensusMessage),
    Build {
        view: View,
        parent: Header,
    },
    Verify {
        header: Header,
        parent: Header,
    },
    ScheduleTimeout {
        view: View,
        kind: TimeoutKind,
        after_ms: u64,
    },
    Fetch {
        hash: Hash,
    },
    /// Blocks now final, in height order; the last one's hash is the one the
    /// finalization certifies, the others are its ancestors.
    Commit {
        blocks: Vec<Header>,
        finalization: Certificate,
    },
    Evidence(Evidence),
}
