//! The votes and certificates of each view: counted per validator, a second
//! vote of one kind for another block kept as evidence, a certificate formed
//! once a quorum agrees. Signatures are checked before a vote gets here.

use super::types::*;
use crate::ValidatorIndex;
use crate::vote::VoteKind;
use coldchain_chaincode::Hash;
use std::collections::BTreeMap;

/// Votes and certificates of one view.
#[derive(Default)]
pub(super) struct ViewRound {
    /// The first proposal its leader signed for this view that reached this
    /// validator: the only one whose header and body are kept. Another is
    /// equivocation (evidence), and is fetched only if a quorum certifies it.
    pub signed: Option<Hash>,
    pub proposal: Option<Proposal>,
    /// Set once the proposal passed the core's checks and awaits the driver.
    pub verifying: Option<Hash>,
    notarizes: BTreeMap<ValidatorIndex, Vote>,
    nullifies: BTreeMap<ValidatorIndex, Vote>,
    finalizes: BTreeMap<ValidatorIndex, Vote>,
    notarization: Option<Certificate>,
    nullification: Option<Certificate>,
    finalization: Option<Certificate>,
}

impl ViewRound {
    /// Whether a certificate of this kind is held.
    pub fn has(&self, kind: VoteKind) -> bool {
        self.certificate(kind).is_some()
    }

    pub fn certificate(&self, kind: VoteKind) -> Option<&Certificate> {
        match kind {
            VoteKind::Notarize => self.notarization.as_ref(),
            VoteKind::Nullify => self.nullification.as_ref(),
            VoteKind::Finalize => self.finalization.as_ref(),
        }
    }

    /// The certificate that ended the view, if any: its nullification, its
    /// notarization or its finalization, in that order.
    pub fn ended_by(&self) -> Option<&Certificate> {
        self.nullification.as_ref().or(self.notarization.as_ref()).or(self.finalization.as_ref())
    }

    /// The view's block is certified: notarized or finalized.
    pub fn certified_block(&self) -> Option<&Certificate> {
        self.notarization.as_ref().or(self.finalization.as_ref())
    }

    /// Any validator has shown it is active in the view (Rule I).
    pub fn active(&self) -> bool {
        self.proposal.is_some() || !self.notarizes.is_empty() || !self.nullifies.is_empty() || !self.finalizes.is_empty()
    }

    fn votes(&mut self, kind: VoteKind) -> &mut BTreeMap<ValidatorIndex, Vote> {
        match kind {
            VoteKind::Notarize => &mut self.notarizes,
            VoteKind::Nullify => &mut self.nullifies,
            VoteKind::Finalize => &mut self.finalizes,
        }
    }

    /// Keeps the first certificate of its kind.
    pub fn insert_certificate(&mut self, cert: Certificate) {
        let slot = match cert.kind {
            VoteKind::Notarize => &mut self.notarization,
            VoteKind::Nullify => &mut self.nullification,
            VoteKind::Finalize => &mut self.finalization,
        };
        if slot.is_none() {
            *slot = Some(cert);
        }
    }
}

/// What counting one vote gave.
#[derive(Default)]
pub(super) struct Tally {
    /// The vote conflicts with one the same validator cast before.
    pub evidence: Option<Evidence>,
    /// The vote completed a quorum: a new certificate (already kept).
    pub certificate: Option<Certificate>,
}

/// The rounds of the views still of interest, keyed by view.
pub(super) struct VoteKeeper {
    quorum: usize,
    rounds: BTreeMap<View, ViewRound>,
}

impl VoteKeeper {
    pub fn new(quorum: usize) -> VoteKeeper {
        VoteKeeper { quorum, rounds: BTreeMap::new() }
    }

    pub fn get(&self, view: View) -> Option<&ViewRound> {
        self.rounds.get(&view)
    }

    pub fn round(&mut self, view: View) -> &mut ViewRound {
        self.rounds.entry(view).or_default()
    }

    /// Whether a certificate of `kind` for `view` is held.
    pub fn has(&self, view: View, kind: VoteKind) -> bool {
        self.rounds.get(&view).is_some_and(|r| r.has(kind))
    }

    /// The view after the highest one that a notarization or nullification ended.
    pub fn after_highest_certified(&self) -> Option<View> {
        self.rounds.iter().rev().find(|(_, r)| r.notarization.is_some() || r.nullification.is_some()).map(|(v, _)| v + 1)
    }

    /// The notarizations and nullifications of views from `from` on: what a
    /// signed state carries, and what laggards are sent.
    pub fn live_certificates(&self, from: View) -> Vec<Certificate> {
        self.rounds.range(from..).flat_map(|(_, r)| [r.notarization.clone(), r.nullification.clone()]).flatten().collect()
    }

    /// Forgets the views below `view`.
    pub fn prune_below(&mut self, view: View) {
        self.rounds = self.rounds.split_off(&view);
    }

    /// Counts a vote whose signature was checked. A second vote of one kind
    /// for another block (or a nullify beside a finalize) from one validator
    /// is evidence; the first vote stays the one counted.
    pub fn add(&mut self, vote: Vote) -> Tally {
        let (view, signer, kind, hash) = (vote.view, vote.signer, vote.kind, vote.hash);
        let round = self.rounds.entry(view).or_default();
        match round.votes(kind).get(&signer) {
            Some(prev) if prev.hash == hash => return Tally::default(),
            Some(prev) => {
                let evidence = match kind {
                    VoteKind::Notarize => Evidence::ConflictingNotarize(prev.clone(), vote),
                    _ => Evidence::ConflictingFinalize(prev.clone(), vote),
                };
                return Tally { evidence: Some(evidence), certificate: None };
            }
            None => {
                round.votes(kind).insert(signer, vote.clone());
            }
        }
        let cross = match kind {
            VoteKind::Nullify => round.finalizes.get(&signer),
            VoteKind::Finalize => round.nullifies.get(&signer),
            VoteKind::Notarize => None,
        };
        let evidence = cross.cloned().map(|other| Evidence::NullifyFinalize(other, vote));
        let certificate = self.try_certificate(view, kind, hash);
        if let Some(cert) = &certificate {
            self.round(view).insert_certificate(cert.clone());
        }
        Tally { evidence, certificate }
    }

    fn try_certificate(&self, view: View, kind: VoteKind, hash: Hash) -> Option<Certificate> {
        let round = self.rounds.get(&view)?;
        if round.has(kind) {
            return None;
        }
        let votes = match kind {
            VoteKind::Notarize => &round.notarizes,
            VoteKind::Nullify => &round.nullifies,
            VoteKind::Finalize => &round.finalizes,
        };
        let signatures: Vec<SignerSignature> =
            votes.values().filter(|v| v.hash == hash).map(|v| SignerSignature { signer: v.signer, signature: v.signature }).collect();
        (signatures.len() >= self.quorum).then_some(Certificate { kind, view, hash, signatures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keeper counts votes whose signatures were checked elsewhere: the
    /// signature bytes here only tell votes apart.
    fn vote(kind: VoteKind, view: View, hash: Hash, signer: ValidatorIndex) -> Vote {
        Vote { kind, view, hash, signer, signature: [signer as u8; 64] }
    }

    const A: Hash = Hash([0xaa; 32]);
    const B: Hash = Hash([0xbb; 32]);

    #[test]
    fn a_quorum_of_one_kind_for_one_block_forms_one_certificate() {
        let mut keeper = VoteKeeper::new(3);
        assert!(keeper.add(vote(VoteKind::Notarize, 4, A, 0)).certificate.is_none());
        assert!(keeper.add(vote(VoteKind::Notarize, 4, B, 1)).certificate.is_none(), "another block does not count");
        assert!(keeper.add(vote(VoteKind::Notarize, 4, A, 2)).certificate.is_none());
        let again = keeper.add(vote(VoteKind::Notarize, 4, A, 2));
        assert!(again.certificate.is_none() && again.evidence.is_none(), "a repeated vote counts once");
        let cert = keeper.add(vote(VoteKind::Notarize, 4, A, 3)).certificate.expect("three of four");
        assert_eq!((cert.kind, cert.view, cert.hash), (VoteKind::Notarize, 4, A));
        assert_eq!(cert.signatures.iter().map(|s| s.signer).collect::<Vec<_>>(), [0, 2, 3]);
        assert!(keeper.has(4, VoteKind::Notarize) && !keeper.has(4, VoteKind::Finalize));
        assert!(keeper.add(vote(VoteKind::Notarize, 4, A, 1)).certificate.is_none(), "formed once");
        assert_eq!(keeper.after_highest_certified(), Some(5));
        assert_eq!(keeper.live_certificates(0), [cert.clone()]);
        assert!(keeper.live_certificates(5).is_empty());
    }

    #[test]
    fn a_second_vote_for_another_block_is_evidence_and_the_first_stays_counted() {
        let mut keeper = VoteKeeper::new(3);
        keeper.add(vote(VoteKind::Finalize, 7, A, 1));
        let tally = keeper.add(vote(VoteKind::Finalize, 7, B, 1));
        assert!(matches!(&tally.evidence, Some(Evidence::ConflictingFinalize(a, b)) if a.hash == A && b.hash == B));
        keeper.add(vote(VoteKind::Finalize, 7, B, 2));
        keeper.add(vote(VoteKind::Finalize, 7, B, 3));
        assert!(!keeper.has(7, VoteKind::Finalize), "validator 1 counts for A only: B has two votes");
        // A nullify beside a finalize of the same view.
        let tally = keeper.add(vote(VoteKind::Nullify, 7, Hash::ZERO, 1));
        assert!(matches!(&tally.evidence, Some(Evidence::NullifyFinalize(f, n)) if f.kind == VoteKind::Finalize && n.kind == VoteKind::Nullify));
    }

    #[test]
    fn pruned_views_are_forgotten_and_activity_is_seen() {
        let mut keeper = VoteKeeper::new(3);
        assert!(keeper.get(3).is_none_or(|r| !r.active()));
        keeper.add(vote(VoteKind::Nullify, 3, Hash::ZERO, 0));
        keeper.add(vote(VoteKind::Nullify, 9, Hash::ZERO, 0));
        assert!(keeper.get(3).is_some_and(ViewRound::active));
        keeper.prune_below(5);
        assert!(keeper.get(3).is_none() && keeper.get(9).is_some());
    }
}
