//! Epochs in the driver (issue 19; docs/PROTOCOL.md, "Epochs").
//!
//! - **The end.** Committing the block whose governance approval changed
//!   the validator set ends the epoch at that block: the blocks finalized
//!   with it above it are not applied (they are empty, Rule G below), the
//!   core stops, and this validator, if it is one of the old set, signs the
//!   [`EpochChange`] its state names and sends it to every peer, again every
//!   second until a quorum of the old set has signed.
//! - **The certificate.** q signatures of the old set over one change are
//!   the epoch certificate: stored, sent to any peer still voting, and the
//!   core restarts with the new set on top of the last block.
//! - **Rule G (no transactions after a change in flight).** A block that
//!   extends a block not yet final here holding a validator change carries
//!   no transactions: the leader builds it empty and the others refuse it
//!   otherwise. So whatever the old set finalizes above the last block of
//!   its epoch holds nothing to lose.

use super::{Driver, Internal};
use crate::block::Header;
use crate::consensus::epoch::{EpochCertificate, EpochChange, EpochMember, EpochSet};
pub(super) use crate::consensus::epoch_votes::EpochVotes;
use crate::consensus::{Core, CoreConfig, SafetyState, SignerSignature, Timeouts};
use crate::wire::{SyncRequest, SyncResponse, WireMessage};
use coldchain_chaincode::Transaction;
use libp2p::PeerId;
use std::sync::PoisonError;
use std::time::Duration;

/// Whether a transaction starts an epoch if it takes effect: it changes the
/// validator set or the consensus limits.
pub(super) fn starts_epoch(tx: &Transaction) -> bool {
    let text = tx.record.as_str();
    text.contains("\"type\":\"governance\"")
        && [
            "\"change\":\"add_validator\"",
            "\"change\":\"remove_validator\"",
            "\"change\":\"rotate_validator_key\"",
            "\"change\":\"set_consensus_params\"",
        ]
        .iter()
        .any(|c| text.contains(c))
}

impl Driver {
    /// The epoch the chaincode state is in, with its validator list; `None`
    /// while it is genesis's.
    fn state_epoch(&self) -> Option<(u64, u64, Vec<EpochMember>)> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.ledger().current_epoch().map(|e| {
            let members =
                e.validators.iter().map(|v| EpochMember { name: v.name.clone(), province: v.province.clone(), public_key: v.public_key }).collect();
            (e.number, e.after_height, members)
        })
    }

    /// The committed state is in a later epoch than the core: the core is
    /// stopped until the epoch certificate is here.
    pub(super) fn halted(&self) -> bool {
        self.state_epoch_number > self.core_epoch
    }

    /// Rule G: the blocks between the finalized head and `parent` hold a
    /// validator change (bodies not held here count as not holding one).
    pub(super) fn reconfiguring(&self, parent: &Header) -> bool {
        let mut cursor = parent.clone();
        while cursor.height > self.last_finalized.height {
            let Some(body) = self.bodies.get(&cursor.hash()) else { return false };
            if body.txs.iter().any(starts_epoch) {
                return true;
            }
            match self.bodies.get(&body.header.parent) {
                Some(b) => cursor = b.header.clone(),
                None => return false,
            }
        }
        false
    }

    /// After a commit that applied a validator change (and at start): if the
    /// state entered a new epoch, the old one ended at the head; sign the
    /// change and wait for its certificate.
    pub(super) fn after_commit_epoch(&mut self) {
        let Some((number, after_height, validators)) = self.state_epoch() else { return };
        if number <= self.state_epoch_number {
            return;
        }
        self.state_epoch_number = number;
        let last = &self.last_finalized;
        if after_height != last.height {
            // The state entered the epoch below the head (a state restored
            // from a snapshot without the epoch's certificate): the epoch
            // did not end here, and no change for it is signed here.
            tracing::error!(
                epoch = number,
                after_height,
                head = last.height,
                "the state is in epoch {number}, which started after height {after_height}, but this node holds no certificate of it; waiting for it from peers"
            );
            self.pending_build = None;
            self.own_epoch_vote = None;
            return;
        }
        let change = EpochChange {
            chain_id: self.services.genesis.chain_id.clone(),
            epoch: number,
            last_height: last.height,
            last_hash: last.hash(),
            last_view: last.view,
            validators,
        };
        tracing::warn!(
            epoch = number,
            after_height = last.height,
            validators = ?change.validators.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            "the validator set changes: epoch {} ends at height {}; waiting for its certificate", self.core_epoch, last.height
        );
        self.pending_build = None;
        self.own_epoch_vote = None;
        let key = self.services.node_key.clone();
        let index = self.epochs.current().index_of(&key.verifying_key());
        if let Some(index) = index.filter(|_| self.epochs.current().number == self.core_epoch) {
            let signature = change.sign(index, &key);
            self.own_epoch_vote = Some((change.clone(), signature.clone()));
            self.on_epoch_vote(None, change, signature);
        }
        self.broadcast_epoch_vote();
        self.maybe_switch();
    }

    pub(super) fn broadcast_epoch_vote(&self) {
        if let Some((change, signature)) = &self.own_epoch_vote {
            self.net.broadcast(WireMessage::EpochVote { change: change.clone(), signature: signature.clone() });
        }
    }

    /// A vote for the next epoch, from `from` (`None`: our own).
    pub(super) fn on_epoch_vote(&mut self, from: Option<PeerId>, change: EpochChange, signature: SignerSignature) {
        if let Some(cert) = self.epochs.certificate(change.epoch) {
            // It is behind: it gets the certificate.
            if let Some(peer) = from {
                self.net.send(peer, WireMessage::Epoch(cert.clone()));
            }
            return;
        }
        match self.epoch_votes.add(self.epochs.current(), &self.services.genesis.chain_id, change, signature) {
            Ok(Some(cert)) => self.on_epoch_certificate(cert),
            Ok(None) => {}
            Err(reason) => {
                if reason == "epoch_vote_conflicting" {
                    tracing::warn!("a validator signed two different changes for one epoch");
                }
                self.core.count_refused(reason)
            }
        }
    }

    /// An epoch certificate, formed here or received: checked against the
    /// newest epoch, stored, and entered if the chain is at its start.
    pub(super) fn on_epoch_certificate(&mut self, cert: EpochCertificate) {
        if self.epochs.certificate(cert.change.epoch).is_some() {
            return;
        }
        if let Err(e) = self.epochs.verify(&cert) {
            tracing::warn!(epoch = cert.change.epoch, error = %e, "refused an epoch certificate");
            self.core.count_refused("epoch_certificate_invalid");
            return;
        }
        if let Err(e) = tokio::task::block_in_place(|| self.store.put_epoch_certificate(&cert)) {
            tracing::error!(error = %e, "cannot store an epoch certificate");
            return;
        }
        let epoch = cert.change.epoch;
        let keys: Vec<PeerId> = cert.change.validators.iter().map(|v| crate::network::peer_id_of(&v.public_key)).collect();
        if self.epochs.push(cert.clone()).is_err() {
            return;
        }
        self.epoch_votes.settle(epoch);
        *self.services.epochs.write().unwrap_or_else(PoisonError::into_inner) = self.epochs.clone();
        let _ = self.net.allow(keys);
        tracing::info!(epoch, after_height = cert.change.last_height, signers = cert.signatures.len(), "epoch certificate");
        self.net.broadcast(WireMessage::Epoch(cert));
        self.maybe_switch();
    }

    /// Restarts the core in the epoch that starts at the head, once this
    /// node's state has ended the epoch before (a node catching up may hold
    /// certificates of later epochs already: it enters each in turn).
    pub(super) fn maybe_switch(&mut self) {
        let head = &self.last_finalized;
        let set = match self.epochs.starting_after(head.height) {
            Some(set) if set.after_hash == head.hash() => set.clone(),
            Some(_) => return,
            // An epoch that started below the head (a state restored from a
            // snapshot before its certificate was here).
            None => match self.epochs.at_height(head.height + 1) {
                set if set.after_height < head.height => set.clone(),
                _ => return,
            },
        };
        if set.number <= self.core_epoch || self.state_epoch_number < set.number {
            return;
        }
        self.start_epoch(set);
    }

    fn start_epoch(&mut self, set: EpochSet) {
        let key = self.services.node_key.clone();
        let me = set.index_of(&key.verifying_key());
        let safety = SafetyState { epoch: set.number, ..SafetyState::default() };
        if let Err(e) = tokio::task::block_in_place(|| self.safety_file.store(&safety)) {
            tracing::error!(error = %e, "cannot persist the safety state; exiting to stay safe");
            std::process::exit(70);
        }
        let cfg = CoreConfig {
            chain_id: self.services.genesis.chain_id.clone(),
            epoch: set.number,
            epoch_base: Some(set.after_hash),
            validators: set.keys.clone(),
            quorum: set.quorum,
            signer: me.map(|i| (i, (*key).clone())),
            timeouts: Timeouts {
                leader_ms: self.consensus.leader_timeout_ms,
                advance_ms: self.consensus.advance_timeout_ms,
                retry_ms: self.consensus.retry_ms,
            },
        };
        tracing::warn!(
            epoch = set.number,
            after_height = set.after_height,
            validators = set.members.len(),
            quorum = set.quorum,
            this_node = ?me,
            "entered epoch {}", set.number
        );
        self.core = Core::new(cfg, safety, self.last_finalized.clone(), None, Vec::new());
        self.core_epoch = set.number;
        // The limits of the new epoch: the state at its base sets them.
        let limits = self.state.read().unwrap_or_else(PoisonError::into_inner).ledger().consensus_limits();
        self.params = self.services.genesis.consensus.in_epoch(limits.as_ref());
        tracing::info!(params = ?self.params, "consensus limits of epoch {}", set.number);
        self.me = me;
        self.own_epoch_vote = None;
        self.bodies.clear();
        self.awaited = Default::default();
        self.pending_build = None;
        self.reported_work = None;
        self.events.clear();
        let actions = self.core.start();
        self.execute(actions);
    }

    /// Lets in the peers of validators governance names (one being added
    /// can connect and catch up before its epoch starts).
    pub(super) fn refresh_allowlist(&self) {
        let keys: Vec<PeerId> = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            state.ledger().governance_changes().into_iter().filter_map(|(_, c)| c.validator_key).map(|k| crate::network::peer_id_of(&k)).collect()
        };
        if !keys.is_empty() {
            let _ = self.net.allow(keys);
        }
    }

    /// While halted: our vote again, and the certificates peers hold.
    pub(super) fn chase_epoch(&mut self) {
        self.broadcast_epoch_vote();
        let from = self.epochs.current().number + 1;
        for peer in self.net.connected_peers() {
            self.request_epochs(peer, from);
        }
    }

    pub(super) fn request_epochs(&self, peer: PeerId, from: u64) {
        let (net, tx) = (self.net.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            if let Ok(SyncResponse::Epochs(certs)) = net.request_with_timeout(peer, SyncRequest::Epochs { from }, Duration::from_secs(10)).await {
                let _ = tx.send(Internal::Epochs(certs));
            }
        });
    }
}
