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

    /// Rule F: finalize only a view not nullified, and only one block.
    pub fn may_finalize(&self, view: View, hash: &Hash) -> bool {
        let v = self.voted(view);
        !v.nullified && v.finalized.is_none_or(|h| h == *hash)
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
