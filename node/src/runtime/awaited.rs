//! Proposals that came by transaction ids (`WireMessage::ProposalIds`) while
//! this validator lacked some of the transactions they name: held, not shown
//! to the consensus core, until the relays bring the rest or, after a grace
//! period, the whole block is fetched from the proposer.
//!
//! Bounded: at most [`MAX_AWAITED`] proposals; past it the one furthest
//! ahead is dropped (or the new one, when it is further still): proposals
//! for the views being decided now are never pushed out by a peer's flood
//! of far-future ones, and a dropped one that does become notarized is
//! fetched as a block.

use crate::consensus::Proposal;
use coldchain_chaincode::{Hash, IdSet, TxId};
use libp2p::PeerId;
use std::collections::HashMap;

/// Proposals held at once: a few views' worth.
pub const MAX_AWAITED: usize = 16;

pub struct Awaited {
    pub proposal: Proposal,
    /// The block's transactions, in block order.
    pub ids: Vec<TxId>,
    /// The peer that sent it: the first one asked for the whole block.
    pub from: PeerId,
    missing: IdSet,
    fetching: bool,
}

#[derive(Default)]
pub struct AwaitedProposals {
    entries: HashMap<Hash, Awaited>,
}

impl AwaitedProposals {
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Holds `proposal` until every id of `missing` has arrived.
    pub fn hold(&mut self, hash: Hash, proposal: Proposal, ids: Vec<TxId>, missing: IdSet, from: PeerId) {
        let place = |p: &Proposal| (p.header.height, p.header.view);
        if self.entries.len() >= MAX_AWAITED
            && let Some((furthest, at)) = self.entries.iter().map(|(h, a)| (*h, place(&a.proposal))).max_by_key(|(_, at)| *at)
        {
            if place(&proposal) >= at {
                return;
            }
            self.entries.remove(&furthest);
        }
        self.entries.insert(hash, Awaited { proposal, ids, from, missing, fetching: false });
    }

    /// Notes that `ids` are now held; returns the proposals that miss
    /// nothing more (and forgets them).
    pub fn arrived<'a>(&mut self, ids: impl IntoIterator<Item = &'a TxId>) -> Vec<(Hash, Awaited)> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        for id in ids {
            for a in self.entries.values_mut() {
                a.missing.remove(id);
            }
        }
        let complete: Vec<Hash> = self.entries.iter().filter(|(_, a)| a.missing.is_empty() && !a.fetching).map(|(h, _)| *h).collect();
        complete.into_iter().filter_map(|h| self.entries.remove(&h).map(|a| (h, a))).collect()
    }

    /// The grace period of `hash` is over: if it is still incomplete, marks
    /// it as being fetched and returns the peer to ask first.
    pub fn expire(&mut self, hash: &Hash) -> Option<PeerId> {
        let a = self.entries.get_mut(hash).filter(|a| !a.fetching)?;
        a.fetching = true;
        Some(a.from)
    }

    /// Forgets `hash` (its whole block arrived), returning its proposal.
    pub fn take(&mut self, hash: &Hash) -> Option<Awaited> {
        self.entries.remove(hash)
    }

    /// Forgets proposals at or below the finalized height.
    pub fn prune(&mut self, finalized: u64) {
        self.entries.retain(|_, a| a.proposal.header.height > finalized);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Header;

    fn proposal(height: u64) -> Proposal {
        let header = Header {
            chain_id: "c".into(),
            height,
            view: height,
            parent: Hash([0; 32]),
            tx_root: Hash([0; 32]),
            time_ms: 0,
            proposer: 0,
            tx_count: 2,
            state_height: 0,
            state_root: Default::default(),
        };
        Proposal { header, signature: [0; 64], parent_certificate: None, nullifications: Vec::new() }
    }

    fn id(b: u8) -> TxId {
        Hash([b; 32])
    }

    #[test]
    fn a_proposal_is_released_when_its_last_transaction_arrives() {
        let mut awaited = AwaitedProposals::default();
        let p = proposal(5);
        let hash = p.header.hash();
        awaited.hold(hash, p, vec![id(1), id(2)], [id(1), id(2)].into_iter().collect(), PeerId::random());
        assert!(awaited.arrived(&[id(1), id(9)]).is_empty());
        let done = awaited.arrived(&[id(2)]);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, hash);
        assert_eq!(done[0].1.ids, vec![id(1), id(2)]);
        assert!(awaited.is_empty());
    }

    #[test]
    fn an_expired_proposal_is_fetched_once_and_not_released_by_late_relays() {
        let mut awaited = AwaitedProposals::default();
        let p = proposal(5);
        let hash = p.header.hash();
        let from = PeerId::random();
        awaited.hold(hash, p, vec![id(1)], [id(1)].into_iter().collect(), from);
        assert_eq!(awaited.expire(&hash), Some(from));
        assert_eq!(awaited.expire(&hash), None, "one fetch per proposal");
        assert!(awaited.arrived(&[id(1)]).is_empty(), "the fetch delivers it");
        assert!(awaited.take(&hash).is_some());
        assert_eq!(awaited.expire(&hash), None);
    }

    #[test]
    fn bounded_and_pruned_by_height() {
        let mut awaited = AwaitedProposals::default();
        for h in 1..=(MAX_AWAITED as u64 + 4) {
            let p = proposal(h);
            awaited.hold(p.header.hash(), p, vec![id(1)], [id(1)].into_iter().collect(), PeerId::random());
        }
        assert_eq!(awaited.len(), MAX_AWAITED);
        assert!(awaited.contains(&proposal(1).header.hash()), "the nearest are kept");
        assert!(!awaited.contains(&proposal(MAX_AWAITED as u64 + 1).header.hash()), "those further ahead were not held");
        awaited.prune(10);
        assert_eq!(awaited.len(), MAX_AWAITED - 10);
    }

    #[test]
    fn a_flood_of_far_future_proposals_does_not_push_out_the_current_one() {
        let mut awaited = AwaitedProposals::default();
        let current = proposal(5);
        awaited.hold(current.header.hash(), current.clone(), vec![id(1)], [id(1)].into_iter().collect(), PeerId::random());
        let flooder = PeerId::random();
        for h in 1_000..1_000 + 4 * MAX_AWAITED as u64 {
            let p = proposal(h);
            awaited.hold(p.header.hash(), p, vec![id(1)], [id(1)].into_iter().collect(), flooder);
        }
        assert!(awaited.contains(&current.header.hash()), "the proposal of the current height is still held");
        // A nearer proposal still gets a place, at the expense of the furthest.
        let next = proposal(6);
        awaited.hold(next.header.hash(), next.clone(), vec![id(1)], [id(1)].into_iter().collect(), PeerId::random());
        assert!(awaited.contains(&next.header.hash()));
        assert_eq!(awaited.len(), MAX_AWAITED);
    }
}
