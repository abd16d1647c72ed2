//! The state root in headers, checked against this validator's own state
//! (docs/PROTOCOL.md, "The certified state root").
//!
//! - A proposal's `state_root` must equal this validator's root after block
//!   `state_height`; otherwise it does not vote for it, and says so. A
//!   proposal that names a block this validator has not applied yet waits
//!   until it has (the leader was ahead), within the view's timers.
//! - A *finalized* header whose root differs from ours proves that this
//!   validator's state is the odd one (at least f + 1 correct validators
//!   checked that root before voting): it stops voting and proposing for
//!   good, says why at every finalization, and `/readyz` reports it.
//! - While the last finalized header does not certify the current state
//!   (blocks changed it since), there is work to do: the leader proposes
//!   (an empty block if nothing waits), so every state a burst of records
//!   leaves is certified by a header soon after, and then the chain idles.

use super::Driver;
use crate::block::Header;
use crate::consensus::Event;
use coldchain_chaincode::Hash;
use std::sync::PoisonError;

/// Proposals waiting for this validator to apply the block their root
/// names; more are refused (a leader is never that far ahead).
const ROOT_WAITING: usize = 16;

/// This validator's state differs from the state a quorum certified.
#[derive(Clone, Debug)]
pub struct Divergence {
    pub height: u64,
    pub ours: Hash,
    pub certified: Hash,
}

pub(super) enum RootCheck {
    Matches,
    /// Names a block above the last this validator applied.
    Ahead,
    Mismatch {
        ours: Hash,
    },
    /// Names a block whose root is not recorded here (a store from before
    /// roots were recorded).
    Unknown,
}

impl Driver {
    /// This validator's state root after block `height` (at most the last
    /// finalized one).
    pub(super) fn root_at(&self, height: u64) -> Option<Hash> {
        if height == self.last_finalized.height {
            return Some(self.state.read().unwrap_or_else(PoisonError::into_inner).root());
        }
        if height == 0 {
            return Some(self.genesis_root);
        }
        self.store.state_root_at(height).ok().flatten()
    }

    pub(super) fn check_root(&self, header: &Header) -> RootCheck {
        if header.state_height > self.last_finalized.height {
            return RootCheck::Ahead;
        }
        match self.root_at(header.state_height) {
            Some(ours) if ours == header.state_root => RootCheck::Matches,
            Some(ours) => RootCheck::Mismatch { ours },
            None => RootCheck::Unknown,
        }
    }

    /// Holds a proposal until this validator has applied the block its
    /// root names; false when too many wait already.
    pub(super) fn wait_for_root(&mut self, header: Header, parent: Header) -> bool {
        if self.root_waiting.len() >= ROOT_WAITING {
            return false;
        }
        self.root_waiting.push((header, parent));
        true
    }

    /// After a commit: the proposals whose named block is now applied are
    /// verified.
    pub(super) fn release_root_waiting(&mut self) {
        let height = self.last_finalized.height;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.root_waiting).into_iter().partition(|(h, _)| h.state_height <= height);
        self.root_waiting = waiting;
        for (header, parent) in ready {
            self.verify(header, parent);
        }
    }

    /// A finalized header's root against ours (`ours`: our root after its
    /// `state_height`, from this commit or before). A difference is a
    /// divergence of this validator.
    pub(super) fn check_certified(&mut self, header: &Header, ours: Option<Hash>) {
        let Some(ours) = ours else { return };
        if ours == header.state_root {
            return;
        }
        let d = Divergence { height: header.state_height, ours, certified: header.state_root };
        tracing::error!(
            height = d.height,
            ours = %d.ours,
            certified = %d.certified,
            finalized_at = header.height,
            "STATE DIVERGED: this validator's state root after block {} is {}, but the quorum certified {} (in block {}); \
             it no longer votes or proposes. Its stored state was altered or a release decides differently: \
             restore the data directory from a backup or a peer's export and restart (docs/OPERATIONS.md)",
            d.height,
            d.ours,
            d.certified,
            header.height
        );
        if self.diverged.is_none() {
            if let Ok(mut live) = self.live.write() {
                live.diverged = Some(format!(
                    "state root after block {} is {} here, {} certified by the quorum in block {}",
                    d.height, d.ours, d.certified, header.height
                ));
            }
            self.diverged = Some(d);
        }
    }

    /// Rule I with certification: work is pending while transactions wait
    /// or the last finalized header does not certify the current state.
    pub(super) fn uncertified(&self) -> bool {
        if self.diverged.is_some() {
            return false;
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.height() > 0 && state.root() != self.last_finalized.state_root
    }

    pub(super) fn refuse(&mut self, header: &Header) {
        self.events.push_back(Event::Verified { hash: header.hash(), valid: false });
    }
}
