//! Safety rules: what this validator has signed, and the checks that stop it
//! from ever signing two conflicting votes, even across a restart.
//!
//! [`SafetyRules`] is the only holder of the validator's signing key. Each
//! vote goes through one sequence: check the rule, record the vote in the
//! state, sign, and hand back a [`Guarded`] message that carries the state
//! to persist with it (anchor: aptos `safety-rules`,
//! `guarded_construct_and_sign_vote_two_chain`). The core can only send it
//! as [`Action::PersistThenBroadcast`](super::Action::PersistThenBroadcast),
//! which the driver carries out by writing the state in full (over the older
//! of two slot files, fdatasynced; see `storage::safety_file`) before the
//! message leaves: "persist before send" is a type, not an order of actions.

use super::types::{Certificate, View};
use crate::ValidatorIndex;
use crate::vote::{VoteKind, sign_vote};
use coldchain_chaincode::Hash;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A message signed under the safety rules, with the safety state that must
/// be durable before it is sent. Made only by [`SafetyRules`]; `map` changes
/// the message (a notarize vote's signature into a proposal), never the state.
#[derive(Clone, Debug, PartialEq)]
pub struct Guarded<M> {
    state: SafetyState,
    message: M,
}

impl<M> Guarded<M> {
    pub fn state(&self) -> &SafetyState {
        &self.state
    }

    pub fn message(&self) -> &M {
        &self.message
    }

    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> Guarded<N> {
        Guarded { state: self.state, message: f(self.message) }
    }

    /// The state to write, then the message to send, in that order.
    pub fn into_parts(self) -> (SafetyState, M) {
        (self.state, self.message)
    }
}

/// The validator's signing key and its [`SafetyState`]: the one place a
/// vote is checked, recorded and signed.
pub struct SafetyRules {
    state: SafetyState,
    signer: Option<(ValidatorIndex, SigningKey)>,
    /// The epoch's vote namespace ([`crate::vote::namespace`]).
    namespace: String,
}

impl SafetyRules {
    /// Rules resuming from `state` (empty on first start); `signer` is `None`
    /// for a node that only follows (it signs nothing).
    pub fn new(state: SafetyState, signer: Option<(ValidatorIndex, SigningKey)>, namespace: String) -> SafetyRules {
        SafetyRules { state, signer, namespace }
    }

    pub fn state(&self) -> &SafetyState {
        &self.state
    }

    pub fn me(&self) -> Option<ValidatorIndex> {
        self.signer.as_ref().map(|(i, _)| *i)
    }

    fn sign(&self, kind: VoteKind, view: View, hash: Hash) -> Option<super::types::Vote> {
        let (signer, key) = self.signer.as_ref()?;
        Some(super::types::Vote { kind, view, hash, signer: *signer, signature: sign_vote(key, kind, &self.namespace, view, &hash) })
    }

    /// Records a vote that the rule allowed, keeps `certificates` (so a
    /// consortium restarting at once can justify proposals) and signs.
    fn guarded(&mut self, kind: VoteKind, view: View, hash: Hash, certificates: Vec<Certificate>) -> Option<Guarded<super::types::Vote>> {
        let vote = self.sign(kind, view, hash)?;
        self.state.view = self.state.view.max(view);
        let entry = self.state.entry(view);
        match kind {
            VoteKind::Notarize => entry.notarized = Some(hash),
            VoteKind::Nullify => entry.nullified = true,
            VoteKind::Finalize => entry.finalized = Some(hash),
        }
        self.state.certificates = certificates;
        Some(Guarded { state: self.state.clone(), message: vote })
    }

    /// Rule N: a notarize vote for `hash` in `view`, if the rule allows it.
    pub fn notarize(&mut self, view: View, hash: Hash, certificates: Vec<Certificate>) -> Option<Guarded<super::types::Vote>> {
        if !self.state.may_notarize(view, &hash) {
            return None;
        }
        self.guarded(VoteKind::Notarize, view, hash, certificates)
    }

    /// Rule F: a finalize vote for `hash` in `view`, if the rule allows it.
    pub fn finalize(&mut self, view: View, hash: Hash, certificates: Vec<Certificate>) -> Option<Guarded<super::types::Vote>> {
        if !self.state.may_finalize(view, &hash) {
            return None;
        }
        self.guarded(VoteKind::Finalize, view, hash, certificates)
    }

    /// Rule X: a first nullify vote for `view`, if the rule allows it.
    pub fn nullify(&mut self, view: View, certificates: Vec<Certificate>) -> Option<Guarded<super::types::Vote>> {
        if self.state.voted(view).nullified || !self.state.may_nullify(view) {
            return None;
        }
        self.guarded(VoteKind::Nullify, view, Hash::ZERO, certificates)
    }

    /// The nullify vote of a view already nullified, signed again to be
    /// re-sent (the state already holds it, so nothing is to persist).
    pub fn renullify(&self, view: View) -> Option<super::types::Vote> {
        if !self.state.voted(view).nullified {
            return None;
        }
        self.sign(VoteKind::Nullify, view, Hash::ZERO)
    }

    /// Whether Rule N would allow notarizing `hash` in `view` now.
    pub fn may_notarize(&self, view: View, hash: &Hash) -> bool {
        self.state.may_notarize(view, hash)
    }

    pub fn prune(&mut self, finalized_view: View) {
        self.state.prune(finalized_view);
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voted {
    pub notarized: Option<Hash>,
    pub nullified: bool,
    pub finalized: Option<Hash>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyState {
    /// The highest view this validator has entered when it last voted; after
    /// a restart it never votes in a lower view.
    pub view: View,
    pub votes: BTreeMap<View, Voted>,
    /// Notarizations and nullifications above the last finalized view, so a
    /// consortium that restarts all at once can still justify proposals.
    pub certificates: Vec<Certificate>,
    /// The epoch these votes were signed in (issue 19); a state of an
    /// earlier epoch binds nothing in a later one (its votes sign another
    /// namespace), so a validator entering a new epoch starts afresh.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SafetyState {
    pub fn voted(&self, view: View) -> Voted {
        self.votes.get(&view).copied().unwrap_or_default()
    }

    /// Rule N: notarize at most one block per view, and never after
    /// nullifying it.
    pub fn may_notarize(&self, view: View, hash: &Hash) -> bool {
        let v = self.voted(view);
        view >= self.view && !v.nullified && v.notarized.is_none_or(|h| h == *hash)
    }

    /// Rule F: finalize only a view not nullified, and only one block; never
    /// in a view below the highest voted in (its record may be pruned).
    pub fn may_finalize(&self, view: View, hash: &Hash) -> bool {
        let v = self.voted(view);
        view >= self.view && !v.nullified && v.finalized.is_none_or(|h| h == *hash)
    }

    /// Rule X: never nullify a view after finalizing in it.
    pub fn may_nullify(&self, view: View) -> bool {
        self.voted(view).finalized.is_none() && view >= self.view
    }

    pub fn entry(&mut self, view: View) -> &mut Voted {
        self.votes.entry(view).or_default()
    }

    /// Drops what no longer matters once `finalized_view` is final.
    pub fn prune(&mut self, finalized_view: View) {
        self.votes = self.votes.split_off(&finalized_view);
        self.certificates.retain(|c| c.view >= finalized_view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_in_view_5() -> SafetyState {
        SafetyState { view: 5, ..Default::default() }
    }

    const A: Hash = Hash([0xaa; 32]);
    const B: Hash = Hash([0xbb; 32]);

    #[test]
    fn notarize_one_block_a_view_never_after_nullify_never_below() {
        let mut s = state_in_view_5();
        assert!(s.may_notarize(5, &A));
        s.entry(5).notarized = Some(A);
        assert!(s.may_notarize(5, &A), "the same block again");
        assert!(!s.may_notarize(5, &B), "another block of the view");
        s.entry(6).nullified = true;
        assert!(!s.may_notarize(6, &A), "after nullifying the view");
        assert!(!s.may_notarize(4, &A), "below the highest view voted in");
    }

    /// Issue 17: `may_finalize` lacked the `view >= self.view` check the
    /// other two rules have. Once the record of a view is pruned (or lost
    /// with it), a finalize vote for that view could be signed in a view
    /// this validator had nullified: the two votes no honest validator signs.
    #[test]
    fn finalize_one_block_a_view_never_after_nullify_never_below() {
        let mut s = state_in_view_5();
        assert!(s.may_finalize(5, &A));
        s.entry(5).finalized = Some(A);
        assert!(s.may_finalize(5, &A), "the same block again");
        assert!(!s.may_finalize(5, &B), "another block of the view");
        s.entry(6).nullified = true;
        assert!(!s.may_finalize(6, &A), "after nullifying the view");
        s.entry(3).nullified = true;
        s.prune(4);
        assert_eq!(s.voted(3), Voted::default(), "view 3's record is pruned");
        assert!(!s.may_finalize(3, &A), "below the highest view voted in, record pruned");
        assert!(!s.may_finalize(4, &A), "below the highest view voted in");
    }

    fn rules(state: SafetyState) -> SafetyRules {
        SafetyRules::new(state, Some((2, SigningKey::from_bytes(&[7; 32]))), "test-chain".into())
    }

    /// Each vote the rules sign is recorded in the state it hands back, and a
    /// vote the rules refuse is never signed: the key cannot be used around
    /// them.
    #[test]
    fn the_rules_sign_only_what_they_allow_and_return_the_state_that_records_it() {
        let mut r = rules(state_in_view_5());
        let g = r.notarize(5, A, Vec::new()).expect("a first notarize in view 5");
        assert_eq!((g.message().kind, g.message().view, g.message().hash, g.message().signer), (VoteKind::Notarize, 5, A, 2));
        assert_eq!(g.state().voted(5).notarized, Some(A), "the state to persist records the vote");
        assert!(r.notarize(5, B, Vec::new()).is_none(), "a second block of view 5");
        assert!(r.nullify(4, Vec::new()).is_none(), "below the highest view voted in");
        let n = r.nullify(6, Vec::new()).expect("nullify view 6");
        assert!(n.state().voted(6).nullified && n.state().view == 6);
        assert!(r.nullify(6, Vec::new()).is_none(), "nullified once; re-sent with renullify");
        assert_eq!(r.renullify(6).map(|v| (v.kind, v.view)), Some((VoteKind::Nullify, 6)));
        assert!(r.renullify(7).is_none(), "view 7 was never nullified");
        assert!(r.finalize(6, A, Vec::new()).is_none(), "finalize after nullify");
        assert!(r.notarize(6, A, Vec::new()).is_none(), "notarize after nullify");
        let f = r.finalize(5, A, Vec::new()).map(|g| g.state().voted(5).finalized);
        assert!(f.is_none(), "view 5 is below view 6, the highest voted in");
        // A follower holds no key and signs nothing.
        let mut follower = SafetyRules::new(state_in_view_5(), None, "test-chain".into());
        assert!(follower.notarize(5, A, Vec::new()).is_none() && follower.state().voted(5) == Voted::default());
    }

    #[test]
    fn nullify_never_after_finalize_never_below() {
        let mut s = state_in_view_5();
        assert!(s.may_nullify(5));
        s.entry(6).finalized = Some(A);
        assert!(!s.may_nullify(6), "after finalizing in the view");
        assert!(!s.may_nullify(4), "below the highest view voted in");
        assert!(s.may_nullify(7));
    }
}
