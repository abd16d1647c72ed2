//! Proof bundles: everything an auditor needs to check, offline and with
//! nothing but the genesis file, that a transaction was finalized by a
//! quorum of bureaus. Format and checks: `docs/PROOFS.md`.

use crate::block::{Header, verify_merkle_path};
use crate::consensus::{Certificate, CertificateError};
use crate::crypto::VoteKind;
use crate::genesis::Genesis;
use coldchain_chaincode::{Hash, Transaction, TxId};
use serde::{Deserialize, Serialize};

pub const PROOF_VERSION: u32 = 1;

/// The proof bundle (docs/PROOFS.md): enough to check offline, with only
/// the genesis file, that a quorum of validators finalized the transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProofBundle {
    pub version: u32,
    pub tx_id: TxId,
    /// The transaction itself; left out (`null`) when the caller may not
    /// see its record in full: the proof then establishes that `tx_id` was
    /// finalized, and whoever holds the record checks it hashes to `tx_id`.
    #[serde(default)]
    pub transaction: Option<Transaction>,
    pub leaf_index: u64,
    /// Sibling hashes from the leaf to the block's `tx_root`.
    pub merkle_path: Vec<Hash>,
    /// The block that holds the transaction.
    pub header: Header,
    /// Headers from `header.height + 1` up to the certified block, when the
    /// transaction's block was finalized through a descendant; usually empty.
    pub links: Vec<Header>,
    pub finalization: Certificate,
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verified {
    pub chain_id: String,
    pub tx_id: TxId,
    pub height: u64,
    pub block_hash: Hash,
    pub certified_height: u64,
    pub certified_hash: Hash,
    pub signers: Vec<String>,
    pub quorum: usize,
    pub validators: usize,
    /// Whether the bundle carried the transaction (check 2 ran).
    pub record_included: bool,
}

/// The first check that failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProofError {
    #[error("unsupported proof version {0} (this verifier reads version {PROOF_VERSION})")]
    Version(u32),
    #[error("check 1 (chain): the proof is for chain \"{found}\", the genesis file is for \"{expected}\"")]
    Chain { expected: String, found: String },
    #[error("check 2 (transaction): its SHA-256 is {computed}, the proof claims {claimed}")]
    TxId { computed: TxId, claimed: TxId },
    #[error("check 3 (Merkle path): leaf {index} of {count} does not lead to the header's tx_root {root}")]
    Merkle { index: u64, count: u32, root: Hash },
    #[error("check 4 (header chain): link at height {height} does not extend the block before it")]
    Link { height: u64 },
    #[error(
        "check 5 (certified hash): the finalization certifies {certified} at view {view}, but the header chain ends at {computed} (view {header_view})"
    )]
    CertifiedHash { certified: Hash, view: u64, computed: Hash, header_view: u64 },
    #[error("check 6 (quorum): {0}")]
    Certificate(CertificateError),
}

/// A certificate as remembered once verified: view, hash, signatures.
type CertificateKey = (u64, Hash, Vec<(u16, [u8; 64])>);

/// Checks proofs against one genesis. Keys are parsed once, and a
/// finalization certificate that verified once is not verified again, so
/// checking many records of the same blocks costs hashing only.
pub struct ProofVerifier {
    chain_id: String,
    names: Vec<String>,
    keys: Vec<ed25519_dalek::VerifyingKey>,
    quorum: usize,
    verified: std::collections::HashSet<CertificateKey>,
}

impl ProofVerifier {
    pub fn new(genesis: &Genesis) -> ProofVerifier {
        ProofVerifier {
            chain_id: genesis.chain_id.clone(),
            names: genesis.validators.iter().map(|v| v.name.clone()).collect(),
            keys: genesis.keys(),
            quorum: genesis.quorum(),
            verified: Default::default(),
        }
    }

    pub fn verify(&mut self, bundle: &ProofBundle) -> Result<Verified, ProofError> {
        if bundle.version != PROOF_VERSION {
            return Err(ProofError::Version(bundle.version));
        }
        let chain = self.chain_id.clone();
        for found in bundle
            .transaction
            .iter()
            .map(|t| &t.chain_id)
            .chain(std::iter::once(&bundle.header.chain_id))
            .chain(bundle.links.iter().map(|h| &h.chain_id))
        {
            if *found != chain {
                return Err(ProofError::Chain { expected: chain.clone(), found: found.clone() });
            }
        }
        let computed = match &bundle.transaction {
            Some(tx) => tx.id(),
            None => bundle.tx_id,
        };
        if computed != bundle.tx_id {
            return Err(ProofError::TxId { computed, claimed: bundle.tx_id });
        }
        let h = &bundle.header;
        if !verify_merkle_path(&h.tx_root, &computed, bundle.leaf_index as usize, h.tx_count as usize, &bundle.merkle_path) {
            return Err(ProofError::Merkle { index: bundle.leaf_index, count: h.tx_count, root: h.tx_root });
        }
        let block_hash = h.hash();
        let (tip, tip_hash, signers) = self.certified(h, &bundle.links, &bundle.finalization)?;
        Ok(Verified {
            chain_id: chain,
            tx_id: computed,
            height: h.height,
            block_hash,
            certified_height: tip,
            certified_hash: tip_hash,
            signers,
            quorum: self.quorum,
            validators: self.keys.len(),
            record_included: bundle.transaction.is_some(),
        })
    }
}

impl ProofVerifier {
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Checks 4–6: `header`, then `links`, form a chain ending at the block
    /// `finalization` certifies, and a quorum of the genesis validators
    /// signed it. Returns that block's height and hash and the signers.
    pub fn certified(&mut self, header: &Header, links: &[Header], finalization: &Certificate) -> Result<(u64, Hash, Vec<String>), ProofError> {
        let mut tip = header;
        let mut tip_hash = header.hash();
        for link in links {
            if link.parent != tip_hash || link.height != tip.height + 1 {
                return Err(ProofError::Link { height: link.height });
            }
            tip = link;
            tip_hash = link.hash();
        }
        let f = finalization;
        if f.hash != tip_hash || f.view != tip.view {
            return Err(ProofError::CertifiedHash { certified: f.hash, view: f.view, computed: tip_hash, header_view: tip.view });
        }
        let memo = (f.view, f.hash, f.signatures.iter().map(|s| (s.signer, s.signature)).collect::<Vec<_>>());
        if f.kind != VoteKind::Finalize || !self.verified.contains(&memo) {
            f.verify(VoteKind::Finalize, &self.chain_id, &self.keys, self.quorum).map_err(ProofError::Certificate)?;
            self.verified.insert(memo);
        }
        let signers = f.signatures.iter().map(|s| self.names.get(s.signer as usize).cloned().unwrap_or_default()).collect();
        Ok((tip.height, tip_hash, signers))
    }

    pub fn quorum(&self) -> usize {
        self.quorum
    }

    pub fn validators(&self) -> usize {
        self.keys.len()
    }
}

/// Checks one proof (see [`ProofVerifier`] for many).
pub fn verify(genesis: &Genesis, bundle: &ProofBundle) -> Result<Verified, ProofError> {
    ProofVerifier::new(genesis).verify(bundle)
}
