//! The headers above the last finalized block: those whose bodies the
//! driver holds, the proposals waiting for their parent, and the headers
//! being fetched. Everything here is pruned when a block is finalized, to
//! what could still extend it.

use super::types::*;
use crate::block::Header;
use coldchain_chaincode::Hash;
use std::collections::{BTreeSet, HashMap};

/// Why the chain from a finalized block down to the last finalized one
/// cannot be committed yet, or ever.
pub(super) enum ChainGap {
    /// This header is not here yet.
    Missing(Hash),
    /// A block at or below the last finalized height: the finalized block
    /// does not extend ours (only possible with more than f faulty validators).
    Conflicting,
}

pub(super) struct BlockTree {
    last_finalized: Header,
    last_finalization: Option<Certificate>,
    /// Headers whose bodies the driver holds, above the last finalized height.
    headers: HashMap<Hash, Header>,
    /// Proposals whose parent header is not yet available, by parent hash.
    parked: HashMap<Hash, Proposal>,
    /// Ordered: timeouts re-issue these in iteration order, which must not
    /// depend on a per-process random hasher (exact replay).
    fetching: BTreeSet<Hash>,
}

impl BlockTree {
    /// A tree rooted at the last finalized block, with the headers of
    /// notarized blocks whose bodies the driver kept.
    pub fn new(last_finalized: Header, last_finalization: Option<Certificate>, known: Vec<Header>) -> BlockTree {
        let headers = known.into_iter().filter(|h| h.height > last_finalized.height).map(|h| (h.hash(), h)).collect();
        BlockTree { last_finalized, last_finalization, headers, parked: HashMap::new(), fetching: BTreeSet::new() }
    }

    pub fn last_finalized(&self) -> &Header {
        &self.last_finalized
    }

    pub fn last_finalization(&self) -> Option<&Certificate> {
        self.last_finalization.as_ref()
    }

    /// A header by hash: the last finalized one or one above it.
    pub fn get(&self, hash: &Hash) -> Option<&Header> {
        if *hash == self.last_finalized.hash() { Some(&self.last_finalized) } else { self.headers.get(hash) }
    }

    /// Whether the header is known (the last finalized one included).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.headers.contains_key(hash) || *hash == self.last_finalized.hash()
    }

    /// Keeps a header, no longer fetched; false if it was kept already.
    pub fn insert(&mut self, header: Header) -> bool {
        let hash = header.hash();
        self.fetching.remove(&hash);
        self.headers.insert(hash, header).is_none()
    }

    /// Drops a header whose body failed its checks.
    pub fn remove(&mut self, hash: &Hash) {
        self.headers.remove(hash);
    }

    /// Marks a header as wanted; true if it was not wanted already (the
    /// caller asks for it then).
    pub fn want(&mut self, hash: Hash) -> bool {
        self.fetching.insert(hash)
    }

    /// Forgets that a header was asked for, so the next [`want`](Self::want) asks again.
    pub fn forget_wanted(&mut self, hash: &Hash) {
        self.fetching.remove(hash);
    }

    pub fn wanted(&self) -> impl Iterator<Item = &Hash> {
        self.fetching.iter()
    }

    /// Holds a proposal until its parent's header arrives.
    pub fn park(&mut self, proposal: Proposal) {
        self.parked.insert(proposal.header.parent, proposal);
    }

    /// The proposal parked for this parent, if any.
    pub fn unpark(&mut self, parent: &Hash) -> Option<Proposal> {
        self.parked.remove(parent)
    }

    /// The headers from just above the last finalized block up to `tip`, in
    /// height order.
    pub fn chain_to(&self, tip: Hash) -> Result<Vec<Header>, ChainGap> {
        let mut chain = Vec::new();
        let mut cursor = tip;
        let lf_hash = self.last_finalized.hash();
        while cursor != lf_hash {
            let Some(h) = self.headers.get(&cursor) else { return Err(ChainGap::Missing(cursor)) };
            if h.height <= self.last_finalized.height {
                return Err(ChainGap::Conflicting);
            }
            chain.push(h.clone());
            cursor = h.parent;
        }
        chain.reverse();
        Ok(chain)
    }

    /// Moves the root to a newly finalized block and drops what can no
    /// longer extend it; only the parents of parked proposals stay wanted.
    pub fn finalize_to(&mut self, tip: Header, cert: Certificate) {
        self.last_finalized = tip;
        self.last_finalization = Some(cert);
        let lf = &self.last_finalized;
        self.headers.retain(|_, h| may_extend(lf, h));
        self.fetching.retain(|h| self.parked.contains_key(h));
        self.parked.retain(|_, p| p.header.height > lf.height + 1 && may_extend(lf, &p.header));
    }
}

/// Whether a block could ever extend the finalized block `finalized`: it is
/// higher, of a later view, and not higher by more than its view is later
/// (each block's view is above its parent's). A header a Byzantine leader
/// signed with a height no chain can reach is dropped, not kept for ever.
pub fn may_extend(finalized: &Header, h: &Header) -> bool {
    h.height > finalized.height && h.view > finalized.view && h.height - finalized.height <= h.view - finalized.view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis() -> Header {
        Header {
            chain_id: "c".into(),
            height: 0,
            view: 0,
            parent: Hash::ZERO,
            tx_root: Hash::ZERO,
            time_ms: 0,
            proposer: 0,
            tx_count: 0,
            state_height: 0,
            state_root: Hash::ZERO,
        }
    }

    fn child(parent: &Header, view: View) -> Header {
        Header { height: parent.height + 1, view, parent: parent.hash(), ..parent.clone() }
    }

    fn finalization(h: &Header) -> Certificate {
        Certificate { kind: crate::vote::VoteKind::Finalize, view: h.view, hash: h.hash(), signatures: vec![] }
    }

    #[test]
    fn the_chain_to_a_finalized_block_is_found_or_its_gap_named() {
        let g = genesis();
        let (b1, b2) = (child(&g, 1), child(&child(&g, 1), 3));
        let mut tree = BlockTree::new(g.clone(), None, vec![b2.clone()]);
        assert!(matches!(tree.chain_to(b2.hash()), Err(ChainGap::Missing(h)) if h == b1.hash()));
        assert!(tree.want(b1.hash()) && !tree.want(b1.hash()), "asked for once");
        assert!(tree.insert(b1.clone()) && !tree.insert(b1.clone()));
        assert_eq!(tree.wanted().count(), 0, "no longer wanted once here");
        assert_eq!(tree.chain_to(b2.hash()).ok(), Some(vec![b1.clone(), b2.clone()]));
        assert!(tree.get(&g.hash()).is_some() && tree.contains(&g.hash()));
        // Finalized past b2: a block that ends at or below it conflicts.
        tree.finalize_to(b2.clone(), finalization(&b2));
        assert_eq!(tree.chain_to(b2.hash()).ok(), Some(vec![]), "nothing left to commit");
        let fork = child(&g, 2);
        let mut tree2 = BlockTree::new(b1.clone(), None, vec![]);
        tree2.headers.insert(fork.hash(), fork.clone());
        assert!(matches!(tree2.chain_to(fork.hash()), Err(ChainGap::Conflicting)));
    }

    #[test]
    fn finalizing_drops_what_can_no_longer_extend_the_chain() {
        let g = genesis();
        let b1 = child(&g, 1);
        let sibling = child(&g, 2);
        let b2 = child(&b1, 4);
        // A header no chain from b1 can reach: 5 heights above in 1 view.
        let unreachable = Header { height: 7, view: 5, ..child(&b1, 5) };
        let orphan = child(&child(&b2, 6), 7);
        let mut tree = BlockTree::new(g, None, vec![b1.clone(), sibling.clone(), b2.clone(), unreachable.clone()]);
        tree.park(Proposal { header: orphan.clone(), signature: [0; 64], parent_certificate: None, nullifications: vec![] });
        tree.want(orphan.parent);
        tree.want(Hash([1; 32]));
        tree.finalize_to(b1.clone(), finalization(&b1));
        assert_eq!(tree.last_finalized(), &b1);
        assert!(tree.get(&sibling.hash()).is_none() && tree.get(&unreachable.hash()).is_none());
        assert!(tree.get(&b2.hash()).is_some());
        assert_eq!(tree.wanted().copied().collect::<Vec<_>>(), [orphan.parent], "only a parked proposal's parent stays wanted");
        assert!(tree.unpark(&orphan.parent).is_some());
    }
}
