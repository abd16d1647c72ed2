//! `evidence`: a validator that signed two votes no honest validator signs
//! (two blocks in one view, or nullify and finalize in one view) is named on
//! chain, with the two signatures, so every bureau and auditor can check the
//! offence from the record alone. Submitted by any validator's node; one
//! offence (epoch, offender, view, kind) is recorded once.
//!
//! The votes were signed in an epoch (issue 19; `epoch`, 0 when left out):
//! they are checked under that epoch's vote namespace against the
//! offender's validator key in that epoch, so an offence stays provable
//! after its validator key was rotated or its bureau left.
//!
//! ```json
//! {"type": "evidence", "offender": "120000", "view": 7, "epoch": 0,
//!  "votes": [{"kind": "notarize", "hash": "<64 hex>", "signature": "<128 hex>"},
//!            {"kind": "notarize", "hash": "<64 hex>", "signature": "<128 hex>"}]}
//! ```

use super::{Actor, Cx};
use crate::Hash;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{EPOCH_EVIDENCE, EVIDENCE, Evidence, EvidenceVote, Ledger};
use crate::vote::{VoteKind, namespace, vote_message};

/// The offences, as stored (the key's last part) and named.
pub const OFFENCES: &[(u8, &str)] = &[(0, "conflicting_notarize"), (1, "conflicting_finalize"), (2, "nullify_finalize")];

#[derive(Clone, Debug)]
pub struct EvidenceRecord {
    pub offender: String,
    /// The epoch the votes were signed in, and its field path.
    pub epoch: (u64, String),
    pub view: u64,
    pub votes: [(VoteKind, Hash, [u8; 64]); 2],
    pub offence: u8,
}

fn vote(mut f: Fields) -> Result<(VoteKind, Hash, [u8; 64])> {
    let (kind, kind_path) = f.req_str_at("kind", &[], 16)?;
    let kind = VoteKind::parse(&kind).ok_or_else(|| RecordError::new(&kind_path, "is one of notarize, nullify, finalize"))?;
    let (hash, hash_path) = f.req_str_at("hash", &[], 64)?;
    let hash: Hash = hash.parse().map_err(|_| RecordError::new(&hash_path, "is a block hash, 64 hexadecimal characters"))?;
    if (kind == VoteKind::Nullify) != (hash == Hash::ZERO) {
        return Err(RecordError::new(&hash_path, "is 64 zeros for a nullify vote and a block's hash for the others"));
    }
    let (signature, sig_path) = f.req_str_at("signature", &[], 128)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&signature, &mut sig).map_err(|_| RecordError::new(&sig_path, "is an ed25519 signature, 128 hexadecimal characters"))?;
    f.finish("kind, hash, signature")?;
    Ok((kind, hash, sig))
}

impl EvidenceRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let offender = f.req_str("offender", 6)?;
        let (view, _) = f.opt_count("view", &[])?.ok_or_else(|| RecordError::new(f.at("view"), "is required"))?;
        let epoch = f.opt_count("epoch", &[])?.unwrap_or_else(|| (0, f.at("epoch")));
        let votes_path = f.at("votes");
        let mut items = f.req_objects("votes", &[], 2)?.into_iter();
        let (Some(a), Some(b)) = (items.next(), items.next()) else {
            return Err(RecordError::new(votes_path, "lists exactly two votes of the offender in the view"));
        };
        let votes = [vote(a)?, vote(b)?];
        f.finish("offender, view, epoch, votes")?;
        let offence = match (votes[0].0, votes[1].0) {
            (VoteKind::Notarize, VoteKind::Notarize) if votes[0].1 != votes[1].1 => 0,
            (VoteKind::Finalize, VoteKind::Finalize) if votes[0].1 != votes[1].1 => 1,
            (VoteKind::Nullify, VoteKind::Finalize) | (VoteKind::Finalize, VoteKind::Nullify) => 2,
            _ => {
                return Err(RecordError::new(
                    votes_path,
                    "are no offence: an offence is notarize votes (or finalize votes) for two different blocks, or a nullify and a finalize vote",
                ));
            }
        };
        Ok(EvidenceRecord { offender, epoch, view, votes, offence })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        if !matches!(cx.actor, Actor::Node { .. }) {
            return Err(RecordError::new("signer", "an evidence record is signed by a validator's key (its node submits it)"));
        }
        let (epoch, e_path) = (self.epoch.0, &self.epoch.1);
        let current = l.epoch_number();
        if epoch > current {
            return Err(RecordError::new(e_path, format!("epoch {epoch} has not begun; the chain is in epoch {current}")));
        }
        let Some(validator_key) = l.validator_key_in_epoch(&self.offender, epoch) else {
            let known: Vec<String> = match epoch {
                0 => l.bureaus().values().filter(|b| b.added_height.is_none()).map(|b| b.province.clone()).collect(),
                e => l.epoch(e).map(|e| e.validators.into_iter().map(|v| v.province).collect()).unwrap_or_default(),
            };
            return Err(RecordError::new(
                "record.offender",
                format!("names no validator of epoch {epoch}; its validators' province codes are {}", known.join(", ")),
            ));
        };
        let namespace = namespace(&cx.chain_id, epoch);
        for (i, (kind, hash, signature)) in self.votes.iter().enumerate() {
            let message = vote_message(*kind, &namespace, self.view, hash);
            if crate::signature::verify(&validator_key, &message, signature).is_err() {
                return Err(RecordError::new(
                    format!("record.votes[{i}].signature"),
                    format!(
                        "is not the {} validator's signature of this {} vote in view {} on chain {}{}",
                        self.offender,
                        kind.as_str(),
                        self.view,
                        cx.chain_id,
                        if epoch == 0 { String::new() } else { format!(" in epoch {epoch}") }
                    ),
                ));
            }
        }
        if let Some(e) = self.recorded(l) {
            return Err(RecordError::new(
                "record",
                format!(
                    "this offence ({} by {} in view {}{}) is already on chain, recorded by transaction {}",
                    offence_name(self.offence),
                    self.offender,
                    self.view,
                    if epoch == 0 { String::new() } else { format!(" of epoch {epoch}") },
                    e.id
                ),
            ));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let votes = self.votes.map(|(kind, hash, signature)| EvidenceVote { kind, hash, signature: hex::encode(signature) });
        let e = Evidence {
            id: cx.tx,
            offender: self.offender.clone(),
            offence: offence_name(self.offence).to_string(),
            view: self.view,
            epoch: (self.epoch.0 > 0).then_some(self.epoch.0),
            votes: votes.to_vec(),
            reporter: cx.province(l),
            height: cx.block.height,
            time_ms: cx.block.time_ms,
        };
        match self.epoch.0 {
            0 => l.put(&EVIDENCE, &(self.offender, self.view, self.offence), &e),
            epoch => l.put(&EPOCH_EVIDENCE, &(epoch, self.offender, self.view, self.offence), &e),
        }
    }

    /// The same offence on chain already: epoch 0's in [`EVIDENCE`], later
    /// epochs' in [`EPOCH_EVIDENCE`].
    fn recorded(&self, l: &Ledger) -> Option<Evidence> {
        match self.epoch.0 {
            0 => l.get(&EVIDENCE, &(self.offender.clone(), self.view, self.offence)),
            epoch => l.get(&EPOCH_EVIDENCE, &(epoch, self.offender.clone(), self.view, self.offence)),
        }
    }
}

pub fn offence_name(code: u8) -> &'static str {
    OFFENCES.iter().find(|(c, _)| *c == code).map_or("unknown", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use crate::testkit::{CHAIN_ID, Chain, admin_key, validator_key};
    use crate::vote::{VoteKind, vote_message};
    use crate::{Hash, Outcome};
    use ed25519_dalek::Signer;
    use serde_json::{Value, json};

    fn vote(signer: &str, kind: VoteKind, view: u64, hash: Hash) -> Value {
        let signature = validator_key(signer).sign(&vote_message(kind, CHAIN_ID, view, &hash)).to_bytes();
        json!({"kind": kind.as_str(), "hash": hash.to_string(), "signature": hex::encode(signature)})
    }

    fn record(offender: &str, view: u64, votes: [Value; 2]) -> Value {
        json!({"type": "evidence", "offender": offender, "view": view, "votes": votes})
    }

    fn rejected(outcome: Outcome) -> (String, String) {
        match outcome {
            Outcome::Rejected { field, rule } => (field, rule),
            Outcome::Applied => panic!("applied"),
        }
    }

    /// Tianjin's validator notarized two blocks in view 7: any validator's
    /// node records it, once; the record shows both signatures.
    #[test]
    fn an_offence_is_recorded_once_with_both_signatures() {
        let mut c = Chain::new();
        let (a, b) = (Hash::digest(b"block a"), Hash::digest(b"block b"));
        let votes = [vote("tianjin", VoteKind::Notarize, 7, a), vote("tianjin", VoteKind::Notarize, 7, b)];
        assert_eq!(c.submit(&validator_key("hebei"), record("120000", 7, votes.clone())).outcome, Outcome::Applied);
        let on_chain = c.state.evidence();
        assert_eq!(on_chain.len(), 1);
        let e = &on_chain[0];
        assert_eq!((e.offender.as_str(), e.offence.as_str(), e.view, e.reporter.as_str()), ("120000", "conflicting_notarize", 7, "130000"));
        assert_eq!(e.votes.iter().map(|v| v.hash).collect::<Vec<_>>(), vec![a, b]);
        // The same offence from another validator, or with the votes swapped
        // or other blocks of that view: already on chain.
        let again = record("120000", 7, [votes[1].clone(), vote("tianjin", VoteKind::Notarize, 7, Hash::digest(b"block c"))]);
        let (field, rule) = rejected(c.submit(&validator_key("beijing"), again).outcome);
        assert_eq!(field, "record");
        assert!(rule.contains("already on chain") && rule.contains(&e.id.to_string()), "{rule}");
        // Another kind of offence in the same view is another offence.
        let nf = [vote("tianjin", VoteKind::Nullify, 7, Hash::ZERO), vote("tianjin", VoteKind::Finalize, 7, a)];
        assert_eq!(c.submit(&validator_key("beijing"), record("120000", 7, nf)).outcome, Outcome::Applied);
        assert_eq!(c.state.evidence().len(), 2);
    }

    /// Each broken rule names its field.
    #[test]
    fn bad_evidence_is_refused_naming_the_field() {
        let mut c = Chain::new();
        let (a, b) = (Hash::digest(b"block a"), Hash::digest(b"block b"));
        let good = [vote("tianjin", VoteKind::Notarize, 7, a), vote("tianjin", VoteKind::Notarize, 7, b)];
        let cases: Vec<(ed25519_dalek::SigningKey, Value, &str, &str)> = vec![
            (admin_key("hebei"), record("120000", 7, good.clone()), "signer", "validator's key"),
            (validator_key("hebei"), record("370000", 7, good.clone()), "record.offender", "names no validator"),
            (validator_key("hebei"), record("120000", 8, good.clone()), "record.votes[0].signature", "view 8"),
            (
                validator_key("hebei"),
                record("120000", 7, [good[0].clone(), vote("beijing", VoteKind::Notarize, 7, b)]),
                "record.votes[1].signature",
                "120000 validator's signature",
            ),
            (validator_key("hebei"), record("120000", 7, [good[0].clone(), good[0].clone()]), "record.votes", "no offence"),
            (validator_key("hebei"), record("120000", 7, [good[0].clone(), vote("tianjin", VoteKind::Finalize, 7, b)]), "record.votes", "no offence"),
            (validator_key("hebei"), json!({"type": "evidence", "offender": "120000", "view": 7, "votes": [good[0]]}), "record.votes", "exactly two"),
        ];
        for (key, r, field, says) in cases {
            let (f, rule) = rejected(c.submit(&key, r.clone()).outcome);
            assert_eq!(f, field, "{r}: {rule}");
            assert!(rule.contains(says), "{r}: {rule}");
        }
        assert!(c.state.evidence().is_empty());
    }
}
