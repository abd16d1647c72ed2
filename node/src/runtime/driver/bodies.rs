//! Where the driver gets block bodies it lacks: a proposal by ids is built
//! from the mempool, or held while relays bring what is missing and then
//! fetched whole from its proposer; a block the core needs is fetched by hash.

use super::{Driver, Internal};
use crate::block::Block;
use crate::consensus::{ConsensusMessage, Event, Proposal};
use crate::wire::{SyncRequest, SyncResponse, WireMessage};
use coldchain_chaincode::{Hash, IdSet, Transaction, TxId};
use libp2p::PeerId;
use std::sync::Arc;
use std::time::Duration;

/// How long a proposal by ids waits for relays of the transactions this node
/// lacks before the whole block is fetched from its proposer.
const AWAIT_GRACE: Duration = Duration::from_millis(100);

impl Driver {
    pub(super) fn fetch(&mut self, hash: Hash) {
        if let Some(b) = self.bodies.get(&hash) {
            self.events.push_back(Event::BlockAvailable { header: b.header.clone() });
            return;
        }
        self.request_block(hash, None);
    }

    /// Asks the connected peers for the block `hash`, `first` (if connected)
    /// before the others; the block comes back as [`Internal::Fetched`].
    pub(super) fn request_block(&self, hash: Hash, first: Option<PeerId>) {
        let mut peers = self.net.connected_peers();
        if let Some(i) = first.and_then(|f| peers.iter().position(|p| *p == f)) {
            peers.swap(0, i);
        }
        let net = self.net.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            for peer in peers {
                if let Ok(SyncResponse::Block(Some(block))) = net.request(peer, SyncRequest::Block(hash)).await
                    && block.header.hash() == hash
                {
                    let _ = tx.send(Internal::Fetched(block));
                    return;
                }
            }
        });
    }

    /// Sends this leader's proposal: by ids to the peers that read them (they
    /// hold the transactions already, relayed when accepted, so a block's
    /// bytes cross the network once, not once more behind the relays), and
    /// with the whole body to peers of an earlier wire version.
    pub(super) fn broadcast_proposal(&self, proposal: Proposal) {
        let hash = proposal.header.hash();
        let txs = self.bodies.get(&hash).map(|b| b.txs.clone()).unwrap_or_default();
        let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
        let peers = self.net.connected_peers();
        if peers.iter().all(|p| self.reads_ids.contains(p)) {
            self.net.broadcast(WireMessage::ProposalIds { proposal, ids });
            return;
        }
        for peer in peers {
            let message = if self.reads_ids.contains(&peer) {
                WireMessage::ProposalIds { proposal: proposal.clone(), ids: ids.clone() }
            } else {
                WireMessage::Proposal { proposal: proposal.clone(), txs: txs.clone() }
            };
            self.net.send(peer, message);
        }
    }

    /// A proposal by ids: its body from this node's mempool, or held until
    /// the missing transactions arrive (or the block is fetched).
    pub(super) fn on_proposal_ids(&mut self, from: PeerId, proposal: Proposal, ids: Vec<TxId>) {
        let header = &proposal.header;
        // Nothing is built, held or fetched for a proposal its view's leader did not sign.
        if ids.len() != header.tx_count as usize {
            self.core.count_refused("proposal_tx_count");
            return;
        }
        if !self.core.screen_proposal(&proposal) {
            return;
        }
        let hash = header.hash();
        // A second proposal of the view (a two-faced leader) goes to the
        // core for the evidence; its body is neither built nor fetched.
        if self.bodies.contains_key(&hash) || !self.core.admits_body(&proposal) {
            self.handle(Event::Message(ConsensusMessage::Proposal(proposal)));
            return;
        }
        if self.awaited.contains(&hash) {
            return;
        }
        let missing: IdSet = ids.iter().filter(|id| !self.mempool.contains(id)).copied().collect();
        if missing.is_empty() {
            self.assemble(hash, proposal, &ids, from);
            return;
        }
        self.awaited.hold(hash, proposal, ids, missing, from);
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(AWAIT_GRACE).await;
            let _ = tx.send(Internal::AwaitExpired(hash));
        });
    }

    /// Builds the body of a proposal by ids from the mempool and shows the
    /// proposal to the core; fetches the block instead if a transaction left
    /// the mempool meanwhile (finalized in another block, so the proposal
    /// repeats it and will be rejected once fetched).
    pub(super) fn assemble(&mut self, hash: Hash, proposal: Proposal, ids: &[TxId], from: PeerId) {
        let txs: Option<Vec<Transaction>> = ids.iter().map(|id| self.mempool.get(id).cloned()).collect();
        match txs {
            Some(txs) => {
                self.bodies.insert(hash, Block { header: proposal.header.clone(), txs: Arc::new(txs) });
                self.handle(Event::Message(ConsensusMessage::Proposal(proposal)));
            }
            None => {
                self.awaited.hold(hash, proposal, ids.to_vec(), Default::default(), from);
                if let Some(first) = self.awaited.expire(&hash) {
                    self.request_block(hash, Some(first));
                }
            }
        }
    }
}
