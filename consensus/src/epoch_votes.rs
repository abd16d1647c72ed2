//! Votes for the next epoch's change, collected into its certificate
//! ([`crate::epoch`]): a pure collector the node's driver and the
//! simulator's both use.

use crate::epoch::{EpochCertificate, EpochChange, EpochSet};
use crate::types::SignerSignature;
use coldchain_chaincode::Hash;
use std::collections::BTreeMap;

/// How far ahead of the newest epoch a vote's epoch may be.
pub const EPOCHS_AHEAD: u64 = 8;

/// Votes for the next epoch's change, from validators of the current
/// epoch: each validator's first change only (an honest one signs one), so
/// a Byzantine validator holds one slot, not all of them.
#[derive(Default)]
pub struct EpochVotes {
    changes: BTreeMap<Hash, (EpochChange, BTreeMap<u16, SignerSignature>)>,
    /// The change each validator signed, by (epoch, validator).
    signed: BTreeMap<(u64, u16), Hash>,
}

impl EpochVotes {
    /// Adds one validator's vote for a change that ends `current`; the
    /// certificate once a quorum of `current` signed one change, or why the
    /// vote counts nothing (a reason for `coldchain_consensus_refused`).
    pub fn add(
        &mut self,
        current: &EpochSet,
        chain_id: &str,
        change: EpochChange,
        signature: SignerSignature,
    ) -> Result<Option<EpochCertificate>, &'static str> {
        // The next epoch's number is one more, or a few when changes took
        // effect together: further ones are no honest validator's.
        if change.epoch <= current.number || change.epoch > current.number + EPOCHS_AHEAD || change.chain_id != chain_id {
            return Err("epoch_vote_other_epoch");
        }
        let key = current.keys.get(signature.signer as usize).ok_or("epoch_vote_unknown_signer")?;
        if !change.verify_signature(key, &signature.signature) {
            return Err("epoch_vote_bad_signature");
        }
        let digest = change.digest();
        let first = *self.signed.entry((change.epoch, signature.signer)).or_insert(digest);
        if first != digest {
            return Err("epoch_vote_conflicting");
        }
        let (_, signatures) = self.changes.entry(digest).or_insert_with(|| (change, BTreeMap::new()));
        signatures.insert(signature.signer, signature);
        if signatures.len() < current.quorum {
            return Ok(None);
        }
        let (change, signatures) = self.changes.remove(&digest).ok_or("epoch_vote_gone")?;
        Ok(Some(EpochCertificate { change, signatures: signatures.into_values().collect() }))
    }

    /// Forgets what is decided: votes for epochs up to `epoch`.
    pub fn settle(&mut self, epoch: u64) {
        self.changes.retain(|_, (c, _)| c.epoch > epoch);
        self.signed.retain(|(e, _), _| *e > epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epoch::{EpochMember, Epochs};
    use ed25519_dalek::SigningKey;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i + 1; 32])
    }

    fn change(epoch: u64, last_height: u64) -> EpochChange {
        let validators = (0..3)
            .map(|i| EpochMember { name: format!("v{i}"), province: format!("{i}00000"), public_key: key(i).verifying_key().to_bytes() })
            .collect();
        EpochChange {
            chain_id: "c".into(),
            epoch,
            last_height,
            last_hash: Hash::digest(&last_height.to_be_bytes()),
            last_view: last_height,
            validators,
        }
    }

    /// Issue 19: the epoch certificate forms from a quorum of the old set
    /// over one change; a Byzantine validator signing many changes, or far
    /// epochs, holds one slot and cannot keep the honest change from its
    /// quorum.
    #[test]
    fn a_quorum_over_one_change_makes_the_certificate_whatever_one_validator_floods() {
        let members = (0..4)
            .map(|i| EpochMember { name: format!("v{i}"), province: format!("{i}00000"), public_key: key(i).verifying_key().to_bytes() })
            .collect();
        let epochs = Epochs::new("c", members).unwrap();
        let current = epochs.current();
        let mut votes = EpochVotes::default();
        let honest = change(1, 10);
        // Validator 3 floods: changes for other last blocks and far epochs.
        assert_eq!(votes.add(current, "c", change(1, 99), change(1, 99).sign(3, &key(3))), Ok(None));
        for h in 100..120 {
            assert_eq!(votes.add(current, "c", change(1, h), change(1, h).sign(3, &key(3))), Err("epoch_vote_conflicting"));
        }
        assert_eq!(votes.add(current, "c", change(50, 10), change(50, 10).sign(3, &key(3))), Err("epoch_vote_other_epoch"));
        assert_eq!(votes.add(current, "c", honest.clone(), honest.sign(0, &key(1))), Err("epoch_vote_bad_signature"));
        assert_eq!(votes.add(current, "c", honest.clone(), honest.sign(0, &key(0))), Ok(None));
        assert_eq!(votes.add(current, "c", honest.clone(), honest.sign(1, &key(1))), Ok(None));
        let cert = votes.add(current, "c", honest.clone(), honest.sign(2, &key(2))).unwrap().expect("three of four");
        assert_eq!(cert.change, honest);
        assert_eq!(epochs.verify(&cert).map(|s| s.number), Ok(1));
        assert!(votes.changes.len() <= 1 && votes.signed.len() <= 4, "bounded by the validators");
    }
}
