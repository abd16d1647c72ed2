//! Safety rules: what this validator has signed, and the checks that stop it
//! from ever signing two conflicting votes, even across a restart.
//!
//! The state is small and written in full (over the older of two slot files,
//! fdatasynced; see `storage::safety_file`) by the driver
//! on every [`Action::Persist`](super::Action::Persist), which the core always
//! emits before the vote it protects.

use super::types::{Certificate, View};
use coldchain_chaincode::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
