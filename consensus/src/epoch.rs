//! Epochs (issue 19): the validator set changes only between epochs, and
//! every change is certified by the set it replaces.
//!
//! Epoch 0 is genesis's validator list. Governance (a quorum of bureaus, in
//! the chaincode) changes the set while a block is applied; that block,
//! at height h, is the *last block* of its epoch. Each validator of the old
//! set, once it has committed that block (so it is final), stops voting in
//! the old epoch and signs an [`EpochChange`]: the new epoch's number, the
//! last block (height, hash, view) and the new validator list, as its state
//! after the block has it. q of those signatures, from distinct validators
//! of the old set, are an [`EpochCertificate`]. With it, the new set runs
//! Simplex from view `last_view + 1`, on top of the last block, signing its
//! votes under [`crate::vote::namespace`]`(chain_id, epoch)`.
//!
//! Why no two epochs finalize conflicting blocks: the old set finalizes the
//! last block b (it is committed), so every block the old epoch finalizes
//! is an ancestor of b or extends b; blocks above b in the old epoch are
//! never applied by anyone (every honest validator stops applying at b, the
//! block at which its own state changed the set, and all honest validators
//! apply the same finalized chain). The new epoch's first block extends b,
//! and only certificates of the new namespace count in it. An epoch
//! certificate for another last block would need an honest old validator to
//! sign two changes for one epoch, which it never does: it signs only the
//! change its committed state names.
//!
//! Bytes signed (integers big-endian):
//! `"coldchain-epoch-v1" ‖ 0x00 ‖ u16 len(chain_id) ‖ chain_id ‖ u64 epoch ‖
//! u64 last_height ‖ last_hash[32] ‖ u64 last_view ‖ u16 n ‖ n × (key[32] ‖
//! u8 len(province) ‖ province ‖ u8 len(name) ‖ name)`.

use crate::ValidatorIndex;
use crate::types::{SignerSignature, View};
use coldchain_chaincode::Hash;
use coldchain_chaincode::hash::serde_bytes_compat as fixed;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const EPOCH_DOMAIN: &[u8] = b"coldchain-epoch-v1\0";

/// Byzantine quorum of `n` validators: q = n − ⌊(n−1)/3⌋.
pub fn quorum(n: usize) -> usize {
    n - n.saturating_sub(1) / 3
}

/// A validator of an epoch: its bureau and consensus key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EpochMember {
    pub name: String,
    pub province: String,
    /// ed25519 public key, 64 hexadecimal characters.
    #[serde(serialize_with = "fixed::serialize_32", deserialize_with = "fixed::deserialize_32")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    pub public_key: [u8; 32],
}

/// What the old set signs: the new epoch, the old epoch's last block and
/// the new validator list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EpochChange {
    pub chain_id: String,
    pub epoch: u64,
    pub last_height: u64,
    pub last_hash: Hash,
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub last_view: View,
    pub validators: Vec<EpochMember>,
}

impl EpochChange {
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(EPOCH_DOMAIN.len() + 64 + self.chain_id.len() + self.validators.len() * 64);
        out.extend_from_slice(EPOCH_DOMAIN);
        out.extend_from_slice(&(self.chain_id.len() as u16).to_be_bytes());
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.last_height.to_be_bytes());
        out.extend_from_slice(&self.last_hash.0);
        out.extend_from_slice(&self.last_view.to_be_bytes());
        out.extend_from_slice(&(self.validators.len() as u16).to_be_bytes());
        for v in &self.validators {
            out.extend_from_slice(&v.public_key);
            for text in [&v.province, &v.name] {
                out.push(text.len().min(255) as u8);
                out.extend_from_slice(&text.as_bytes()[..text.len().min(255)]);
            }
        }
        out
    }

    /// SHA-256 of [`EpochChange::signed_bytes`]: the change's identity.
    pub fn digest(&self) -> Hash {
        Hash::digest(&self.signed_bytes())
    }

    pub fn sign(&self, signer: ValidatorIndex, key: &SigningKey) -> SignerSignature {
        SignerSignature { signer, signature: key.sign(&self.signed_bytes()).to_bytes() }
    }

    pub fn verify_signature(&self, key: &VerifyingKey, signature: &[u8; 64]) -> bool {
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(signature)).is_ok()
    }
}

/// An epoch change signed by a quorum of the set it replaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EpochCertificate {
    pub change: EpochChange,
    pub signatures: Vec<SignerSignature>,
}

/// Why an epoch certificate was refused: the first failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    #[error("the epoch change is for chain \"{found}\", not \"{expected}\"")]
    Chain { expected: String, found: String },
    #[error("epoch {found} does not follow epoch {current}")]
    Order { current: u64, found: u64 },
    #[error("epoch {epoch} starts after height {found}, below epoch {current}'s start (height {start})")]
    Height { epoch: u64, found: u64, current: u64, start: u64 },
    #[error("epoch {0} lists no validators, more than 64, or one key twice")]
    Validators(u64),
    #[error("signer index {signer} is not a validator of epoch {epoch}")]
    UnknownSigner { signer: ValidatorIndex, epoch: u64 },
    #[error("validator {0} signed the epoch change twice")]
    DuplicateSigner(ValidatorIndex),
    #[error("the signature of validator {signer} of epoch {epoch} does not verify for this epoch change")]
    BadSignature { signer: ValidatorIndex, epoch: u64 },
    #[error("only {found} validators of epoch {epoch} signed the change to epoch {next}; its quorum is {quorum}")]
    BelowQuorum { found: usize, quorum: usize, epoch: u64, next: u64 },
}

/// One epoch's validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSet {
    pub number: u64,
    /// The previous epoch's last block (0 for epoch 0): this epoch's blocks
    /// are above it.
    pub after_height: u64,
    /// Its view: this epoch's views are above it.
    pub after_view: View,
    /// Its hash (zero for epoch 0): this epoch's first block extends it.
    pub after_hash: Hash,
    pub members: Vec<EpochMember>,
    pub keys: Vec<VerifyingKey>,
    pub quorum: usize,
}

impl EpochSet {
    fn new(number: u64, after: (u64, View, Hash), members: Vec<EpochMember>) -> Option<EpochSet> {
        let (after_height, after_view, after_hash) = after;
        let distinct: BTreeSet<[u8; 32]> = members.iter().map(|m| m.public_key).collect();
        if members.is_empty() || members.len() > 64 || distinct.len() != members.len() {
            return None;
        }
        let keys = members.iter().map(|m| VerifyingKey::from_bytes(&m.public_key).ok()).collect::<Option<Vec<_>>>()?;
        Some(EpochSet { number, after_height, after_view, after_hash, quorum: quorum(members.len()), members, keys })
    }

    /// What this epoch's votes are signed under.
    pub fn namespace(&self, chain_id: &str) -> String {
        crate::vote::namespace(chain_id, self.number)
    }

    pub fn index_of(&self, key: &VerifyingKey) -> Option<ValidatorIndex> {
        self.keys.iter().position(|k| k == key).map(|i| i as ValidatorIndex)
    }
}

/// The chain of epochs from genesis, each certified by the one before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epochs {
    chain_id: String,
    sets: Vec<EpochSet>,
    certificates: Vec<EpochCertificate>,
}

impl Epochs {
    /// Epoch 0: genesis's validators, in genesis order.
    pub fn new(chain_id: &str, genesis: Vec<EpochMember>) -> Result<Epochs, EpochError> {
        let zero = EpochSet::new(0, (0, 0, Hash::ZERO), genesis).ok_or(EpochError::Validators(0))?;
        Ok(Epochs { chain_id: chain_id.to_string(), sets: vec![zero], certificates: Vec::new() })
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Every epoch, oldest first.
    pub fn sets(&self) -> &[EpochSet] {
        &self.sets
    }

    pub fn current(&self) -> &EpochSet {
        &self.sets[self.sets.len() - 1]
    }

    pub fn get(&self, number: u64) -> Option<&EpochSet> {
        self.sets.iter().find(|s| s.number == number)
    }

    /// The epoch whose blocks include height `h` (a block above the newest
    /// epoch's start is the newest epoch's).
    pub fn at_height(&self, h: u64) -> &EpochSet {
        self.sets.iter().rev().find(|s| s.after_height < h || s.number == 0).unwrap_or(&self.sets[0])
    }

    /// The epoch that starts right after block `height`, if one does (the
    /// newest, when two start there).
    pub fn starting_after(&self, height: u64) -> Option<&EpochSet> {
        self.sets.iter().rev().find(|s| s.number > 0 && s.after_height == height)
    }

    /// The certificate that made epoch `number`.
    pub fn certificate(&self, number: u64) -> Option<&EpochCertificate> {
        self.certificates.iter().find(|c| c.change.epoch == number)
    }

    /// The certificates from genesis to the newest epoch.
    pub fn certificates(&self) -> &[EpochCertificate] {
        &self.certificates
    }

    /// The certificates from genesis up to epoch `number`.
    pub fn certificates_to(&self, number: u64) -> Vec<EpochCertificate> {
        self.certificates.iter().filter(|c| c.change.epoch <= number).cloned().collect()
    }

    /// Checks `cert` against the newest epoch and makes it the newest.
    pub fn push(&mut self, cert: EpochCertificate) -> Result<&EpochSet, EpochError> {
        let set = self.verify(&cert)?;
        self.sets.push(set);
        self.certificates.push(cert);
        Ok(self.current())
    }

    /// What [`Epochs::push`] checks, without pushing.
    pub fn verify(&self, cert: &EpochCertificate) -> Result<EpochSet, EpochError> {
        let (current, change) = (self.current(), &cert.change);
        if change.chain_id != self.chain_id {
            return Err(EpochError::Chain { expected: self.chain_id.clone(), found: change.chain_id.clone() });
        }
        if change.epoch <= current.number {
            return Err(EpochError::Order { current: current.number, found: change.epoch });
        }
        if change.last_height < current.after_height
            || (current.number > 0 && change.last_height == current.after_height && change.last_view < current.after_view)
        {
            return Err(EpochError::Height { epoch: change.epoch, found: change.last_height, current: current.number, start: current.after_height });
        }
        let next = EpochSet::new(change.epoch, (change.last_height, change.last_view, change.last_hash), change.validators.clone())
            .ok_or(EpochError::Validators(change.epoch))?;
        let bytes = change.signed_bytes();
        let mut seen = BTreeSet::new();
        for s in &cert.signatures {
            let key = current.keys.get(s.signer as usize).ok_or(EpochError::UnknownSigner { signer: s.signer, epoch: current.number })?;
            if !seen.insert(s.signer) {
                return Err(EpochError::DuplicateSigner(s.signer));
            }
            if key.verify_strict(&bytes, &Signature::from_bytes(&s.signature)).is_err() {
                return Err(EpochError::BadSignature { signer: s.signer, epoch: current.number });
            }
        }
        if seen.len() < current.quorum {
            return Err(EpochError::BelowQuorum { found: seen.len(), quorum: current.quorum, epoch: current.number, next: change.epoch });
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> SigningKey {
        SigningKey::from_bytes(&Hash::digest(name.as_bytes()).0)
    }

    fn member(name: &str, province: &str) -> EpochMember {
        EpochMember { name: name.into(), province: province.into(), public_key: key(name).verifying_key().to_bytes() }
    }

    fn genesis() -> Vec<EpochMember> {
        vec![member("beijing", "110000"), member("tianjin", "120000"), member("hebei", "130000"), member("national", "000000")]
    }

    fn change(epoch: u64, last_height: u64, validators: Vec<EpochMember>) -> EpochChange {
        EpochChange { chain_id: "c".into(), epoch, last_height, last_hash: Hash::digest(b"last"), last_view: last_height + 3, validators }
    }

    fn certify(change: &EpochChange, signers: &[(ValidatorIndex, &str)]) -> EpochCertificate {
        EpochCertificate { change: change.clone(), signatures: signers.iter().map(|(i, n)| change.sign(*i, &key(n))).collect() }
    }

    /// Issue 19: Shandong joins (quorum 4 of 5), then Hebei leaves; each
    /// change is certified by the set before it, and an auditor holding
    /// only genesis follows the chain.
    #[test]
    fn each_epoch_is_certified_by_the_set_before_it() {
        let mut epochs = Epochs::new("c", genesis()).unwrap();
        let mut five = genesis();
        five.push(member("shandong", "370000"));
        let one = certify(&change(1, 10, five.clone()), &[(0, "beijing"), (1, "tianjin"), (3, "national")]);
        assert_eq!(epochs.push(one).unwrap().quorum, 4);
        let four: Vec<EpochMember> = five.iter().filter(|m| m.name != "hebei").cloned().collect();
        let two = change(2, 20, four);
        // Three of five are not a quorum of epoch 1.
        let short = certify(&two, &[(0, "beijing"), (1, "tianjin"), (4, "shandong")]);
        assert_eq!(epochs.verify(&short), Err(EpochError::BelowQuorum { found: 3, quorum: 4, epoch: 1, next: 2 }));
        let two = certify(&two, &[(0, "beijing"), (1, "tianjin"), (3, "national"), (4, "shandong")]);
        epochs.push(two).unwrap();
        assert_eq!(epochs.current().number, 2);
        assert_eq!(epochs.current().quorum, 3);
        assert_eq!(epochs.at_height(10).number, 0);
        assert_eq!(epochs.at_height(11).number, 1);
        assert_eq!(epochs.at_height(21).number, 2);
        assert_eq!(epochs.certificates_to(1).len(), 1);
    }

    #[test]
    fn a_forged_epoch_change_is_refused() {
        let epochs = Epochs::new("c", genesis()).unwrap();
        let mut rogue = genesis();
        rogue[0] = member("mallory", "110000");
        let next = change(1, 10, rogue);
        // Signed by too few, by keys of no validator, twice by one, or altered after signing.
        assert_eq!(
            epochs.verify(&certify(&next, &[(0, "beijing"), (1, "tianjin")])),
            Err(EpochError::BelowQuorum { found: 2, quorum: 3, epoch: 0, next: 1 })
        );
        assert_eq!(
            epochs.verify(&certify(&next, &[(0, "mallory"), (1, "tianjin"), (2, "hebei")])),
            Err(EpochError::BadSignature { signer: 0, epoch: 0 })
        );
        assert_eq!(epochs.verify(&certify(&next, &[(0, "beijing"), (0, "beijing"), (2, "hebei")])), Err(EpochError::DuplicateSigner(0)));
        assert_eq!(epochs.verify(&certify(&next, &[(9, "beijing")])), Err(EpochError::UnknownSigner { signer: 9, epoch: 0 }));
        let mut altered = certify(&next, &[(0, "beijing"), (1, "tianjin"), (2, "hebei")]);
        assert!(epochs.verify(&altered).is_ok());
        altered.change.last_height = 11;
        assert_eq!(epochs.verify(&altered), Err(EpochError::BadSignature { signer: 0, epoch: 0 }));
        let mut other = certify(&next, &[(0, "beijing"), (1, "tianjin"), (2, "hebei")]);
        other.change.chain_id = "d".into();
        assert!(matches!(epochs.verify(&other), Err(EpochError::Chain { .. })));
        let stale = certify(&change(0, 10, genesis()), &[(0, "beijing"), (1, "tianjin"), (2, "hebei")]);
        assert_eq!(epochs.verify(&stale), Err(EpochError::Order { current: 0, found: 0 }));
    }
}
