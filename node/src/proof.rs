//! Proof bundles: everything an auditor needs to check, offline and with
//! nothing but the genesis file, that a transaction was finalized by a
//! quorum of bureaus. Format and checks: `docs/PROOFS.md`.

use crate::block::{Header, verify_merkle_path};
use crate::consensus::epoch::{EpochCertificate, EpochError, Epochs};
use crate::consensus::{Certificate, CertificateError};
use crate::crypto::VoteKind;
use crate::genesis::Genesis;
use coldchain_chaincode::{Hash, Transaction, TxId};
use serde::{Deserialize, Serialize};

/// Version 1: a block of epoch 0, certified by genesis's validators.
pub const PROOF_VERSION: u32 = 1;
/// Version 2: a block of a later epoch, with the epoch certificates from
/// genesis to it (docs/PROOFS.md, "Across epochs").
pub const PROOF_VERSION_EPOCHS: u32 = 2;

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
    /// The certified block's finalization, by the validators of its epoch;
    /// `null` (version 2 only) when the certified block is the last of an
    /// epoch, certified by the last of `epochs`.
    pub finalization: Option<Certificate>,
    /// Version 2: the epoch certificates from genesis up to the certified
    /// block's epoch, each signed by a quorum of the epoch before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub epochs: Vec<EpochCertificate>,
}

impl ProofBundle {
    /// The version a bundle with these epoch certificates has.
    pub fn version_for(epochs: &[EpochCertificate]) -> u32 {
        if epochs.is_empty() { PROOF_VERSION } else { PROOF_VERSION_EPOCHS }
    }
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
    /// The epoch whose validators certified the block (0: genesis's).
    pub epoch: u64,
}

/// What checks 4–7 established: the certified block, who signed, and the
/// epoch they signed in (with its set's size and quorum).
#[derive(Clone, Debug, PartialEq)]
pub struct Certified {
    pub height: u64,
    pub hash: Hash,
    pub signers: Vec<String>,
    pub epoch: u64,
    pub quorum: usize,
    pub validators: usize,
}

/// The first check that failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProofError {
    #[error("unsupported proof version {0} (this verifier reads versions {PROOF_VERSION} and {PROOF_VERSION_EPOCHS})")]
    Version(u32),
    #[error("proof version {version} with {epochs} epoch certificates: version 1 carries none, version 2 at least one")]
    VersionEpochs { version: u32, epochs: usize },
    #[error("check 7 (epochs): {0}")]
    Epoch(String),
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

impl From<EpochError> for ProofError {
    fn from(e: EpochError) -> ProofError {
        ProofError::Epoch(e.to_string())
    }
}

/// A certificate as remembered once verified: view, hash, signatures.
type CertificateKey = (u64, Hash, Vec<(u16, [u8; 64])>);

/// Checks proofs against one genesis. Keys are parsed once, and a
/// finalization certificate that verified once is not verified again, so
/// checking many records of the same blocks costs hashing only.
pub struct ProofVerifier {
    chain_id: String,
    /// Epoch 0, from genesis: every chain of epoch certificates starts here.
    genesis: Epochs,
    verified: std::collections::HashSet<(u64, CertificateKey)>,
    /// Chains of epoch certificates checked once, by their changes and
    /// signatures: many proofs of one epoch carry the same chain.
    chains: std::collections::HashMap<Vec<(Hash, Vec<(u16, [u8; 64])>)>, Epochs>,
}

impl ProofVerifier {
    pub fn new(genesis: &Genesis) -> ProofVerifier {
        ProofVerifier { chain_id: genesis.chain_id.clone(), genesis: genesis.epochs(), verified: Default::default(), chains: Default::default() }
    }

    pub fn verify(&mut self, bundle: &ProofBundle) -> Result<Verified, ProofError> {
        if bundle.version != ProofBundle::version_for(&bundle.epochs) {
            return Err(match bundle.version {
                PROOF_VERSION | PROOF_VERSION_EPOCHS => ProofError::VersionEpochs { version: bundle.version, epochs: bundle.epochs.len() },
                v => ProofError::Version(v),
            });
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
        let c = self.certified(h, &bundle.links, bundle.finalization.as_ref(), &bundle.epochs)?;
        Ok(Verified {
            chain_id: chain,
            tx_id: computed,
            height: h.height,
            block_hash,
            certified_height: c.height,
            certified_hash: c.hash,
            signers: c.signers,
            quorum: c.quorum,
            validators: c.validators,
            record_included: bundle.transaction.is_some(),
            epoch: c.epoch,
        })
    }
}

impl ProofVerifier {
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Checks 7, then 4–6: `epochs` chain from genesis, each certified by a
    /// quorum of the epoch before; `header`, then `links`, form a chain
    /// ending at the block `finalization` certifies, signed by a quorum of
    /// the newest epoch's validators, the block being that epoch's (above
    /// its start). Without a finalization the chain ends at the last block
    /// of the epoch before the newest, which the newest epoch's certificate
    /// names.
    pub fn certified(
        &mut self,
        header: &Header,
        links: &[Header],
        finalization: Option<&Certificate>,
        epochs: &[EpochCertificate],
    ) -> Result<Certified, ProofError> {
        let key: Vec<_> = epochs.iter().map(|c| (c.change.digest(), c.signatures.iter().map(|s| (s.signer, s.signature)).collect())).collect();
        let chain = match self.chains.get(&key) {
            Some(chain) => chain.clone(),
            None => {
                let mut chain = self.genesis.clone();
                for cert in epochs {
                    chain.push(cert.clone())?;
                }
                self.chains.insert(key, chain.clone());
                chain
            }
        };
        let mut tip = header;
        let mut tip_hash = header.hash();
        for link in links {
            if link.parent != tip_hash || link.height != tip.height + 1 {
                return Err(ProofError::Link { height: link.height });
            }
            tip = link;
            tip_hash = link.hash();
        }
        let set = chain.current();
        let Some(f) = finalization else {
            // The last block of the epoch before the newest: its certificate names it.
            let Some(cert) = epochs.last() else {
                return Err(ProofError::Epoch("the bundle has neither a finalization nor an epoch certificate".into()));
            };
            if cert.change.last_hash != tip_hash || cert.change.last_height != tip.height {
                return Err(ProofError::Epoch(format!(
                    "epoch {} starts after block {} at height {}, but the header chain ends at {} (height {})",
                    cert.change.epoch, cert.change.last_hash, cert.change.last_height, tip_hash, tip.height
                )));
            }
            let before = chain.get(epochs.len().checked_sub(2).map_or(0, |i| epochs[i].change.epoch)).unwrap_or(set);
            let signers = cert.signatures.iter().map(|s| before.members.get(s.signer as usize).map(|m| m.name.clone()).unwrap_or_default()).collect();
            return Ok(Certified {
                height: tip.height,
                hash: tip_hash,
                signers,
                epoch: before.number,
                quorum: before.quorum,
                validators: before.members.len(),
            });
        };
        if set.number > 0 && tip.height <= set.after_height {
            return Err(ProofError::Epoch(format!(
                "the certified block (height {}) is not of epoch {}, which starts after height {}",
                tip.height, set.number, set.after_height
            )));
        }
        if f.hash != tip_hash || f.view != tip.view {
            return Err(ProofError::CertifiedHash { certified: f.hash, view: f.view, computed: tip_hash, header_view: tip.view });
        }
        let memo = (set.number, (f.view, f.hash, f.signatures.iter().map(|s| (s.signer, s.signature)).collect::<Vec<_>>()));
        if f.kind != VoteKind::Finalize || !self.verified.contains(&memo) {
            f.verify(VoteKind::Finalize, &set.namespace(&self.chain_id), &set.keys, set.quorum).map_err(ProofError::Certificate)?;
            self.verified.insert(memo);
        }
        let signers = f.signatures.iter().map(|s| set.members.get(s.signer as usize).map(|m| m.name.clone()).unwrap_or_default()).collect();
        Ok(Certified { height: tip.height, hash: tip_hash, signers, epoch: set.number, quorum: set.quorum, validators: set.members.len() })
    }

    /// Genesis's quorum and validator count (epoch 0).
    pub fn quorum(&self) -> usize {
        self.genesis.current().quorum
    }

    pub fn validators(&self) -> usize {
        self.genesis.current().members.len()
    }
}

/// Checks one proof (see [`ProofVerifier`] for many).
pub fn verify(genesis: &Genesis, bundle: &ProofBundle) -> Result<Verified, ProofError> {
    ProofVerifier::new(genesis).verify(bundle)
}
