//! Snapshots of the state: taking them, offering them to peers, and
//! joining the consortium from one (docs/PROTOCOL.md, "Snapshots").
//!
//! - **Taking.** Validator i takes one after a commit that ends in the i-th
//!   of every n runs of `interval_blocks` blocks (so at most one validator
//!   pauses for it at a time), at least `interval_blocks` after its last.
//! - **Offering.** A snapshot is offered once a finalized header names its
//!   height and root (`state_height`, `state_root`): the offer carries the
//!   headers from the block after the snapshot up to the one that carries
//!   a finalization certificate, so a joiner checks it against genesis
//!   (through the epoch certificates from genesis to the header's epoch,
//!   which it fetches from the same peers and checks first).
//! - **Joining.** A node whose store holds no state asks its peers for
//!   offers at start, takes the highest that verifies, stores the blocks up
//!   to it without applying them (checked as block sync checks them), then
//!   restores the state chunk by chunk, each checked against the certified
//!   root; a peer whose chunk fails is dropped and the restore starts over
//!   from another. Meanwhile it answers its peers as a node at its head.

use crate::block::Header;
use crate::config::SnapshotConfig;
use crate::consensus::epoch::{EpochSet, Epochs};
use crate::consensus::{Certificate, CertificateError};
use crate::crypto::VoteKind;
use crate::genesis::Genesis;
use crate::storage::{ChainStore, LeafSpill, SnapshotFiles, SnapshotInfo, StoreError};
use crate::sync::verify_segment;
use crate::wire::{NetEvent, Network, SyncRequest, SyncResponse};
use coldchain_chaincode::State;
use coldchain_chaincode::state::ledger;
use coldchain_chaincode::state::snapshot::{CHUNK_ENTRIES, Chunk, Restore, SnapshotError};
use coldchain_chaincode::state::store::{Changes, StateStore};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A peer's snapshot and the finalized headers that certify it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotOffer {
    pub info: SnapshotInfo,
    /// Blocks `info.height + 1 ..`: one names the snapshot's height and
    /// root; the last is finalized by `certificate`.
    pub headers: Vec<Header>,
    pub certificate: Certificate,
}

/// Most headers between a snapshot and the certificate that covers it.
const MAX_OFFER_HEADERS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OfferError {
    #[error("the offer has {0} headers (1 to {MAX_OFFER_HEADERS})")]
    Headers(usize),
    #[error("header {0} does not follow the one before it")]
    Link(u64),
    #[error("no header names state height {height} with root {root}")]
    NotNamed { height: u64, root: coldchain_chaincode::Hash },
    #[error("the certificate is not for the last header")]
    CertifiedHash,
    #[error("the certificate: {0}")]
    Certificate(CertificateError),
}

impl SnapshotOffer {
    /// Checks that a quorum of genesis's validators finalized a header that
    /// names this snapshot's height and root.
    /// Checks the offer; `set` is the epoch of its last header (whose
    /// validators sign the certificate under the epoch's namespace).
    pub fn verify(&self, chain_id: &str, set: &EpochSet) -> Result<(), OfferError> {
        let (Some(first), Some(last)) = (self.headers.first(), self.headers.last()) else { return Err(OfferError::Headers(0)) };
        if self.headers.len() > MAX_OFFER_HEADERS {
            return Err(OfferError::Headers(self.headers.len()));
        }
        if first.height != self.info.height + 1 || first.chain_id != chain_id {
            return Err(OfferError::Link(first.height));
        }
        for pair in self.headers.windows(2) {
            if pair[1].parent != pair[0].hash() || pair[1].height != pair[0].height + 1 || pair[1].chain_id != chain_id {
                return Err(OfferError::Link(pair[1].height));
            }
        }
        if !self.headers.iter().any(|h| h.state_height == self.info.height && h.state_root == self.info.root) {
            return Err(OfferError::NotNamed { height: self.info.height, root: self.info.root });
        }
        if self.certificate.hash != last.hash() || self.certificate.view != last.view {
            return Err(OfferError::CertifiedHash);
        }
        self.certificate.verify(VoteKind::Finalize, &set.namespace(chain_id), &set.keys, set.quorum).map_err(OfferError::Certificate)
    }
}

/// Whether validator `me` of `n` takes a snapshot after a commit ending at
/// `tip`, its last having been at `last`.
pub fn due(cfg: &SnapshotConfig, n: usize, me: u16, last: u64, tip: u64) -> bool {
    let every = cfg.interval_blocks;
    every > 0 && tip >= last + every && (tip / every) % n.max(1) as u64 == u64::from(me)
}

/// Writes the snapshot of `state` (settled, after block `state.height()`).
pub fn take(files: &SnapshotFiles, keep: usize, state: &State) -> std::io::Result<SnapshotInfo> {
    let started = Instant::now();
    let height = state.height();
    let info = files.write(height, keep, |scratch, sink| {
        let summary = state.snapshot(CHUNK_ENTRIES, &mut LeafSpill::create(scratch)?, sink)?;
        Ok(SnapshotInfo {
            height,
            root: state.root(),
            tree_version: state.tree_version(),
            applied: state.applied_count(),
            refused: state.rejected_count(),
            entries: summary.entries,
            chunks: summary.chunks,
            bytes: 0,
        })
    })?;
    tracing::info!(
        height,
        entries = info.entries,
        chunks = info.chunks,
        bytes = info.bytes,
        ms = started.elapsed().as_millis() as u64,
        "state snapshot taken"
    );
    Ok(info)
}

/// The offer of this node's newest snapshot that a stored finalized header
/// certifies (none yet: the headers after it have not named it).
pub fn offer(store: &ChainStore, files: &SnapshotFiles) -> Option<SnapshotOffer> {
    let head = store.head().ok()?;
    for info in files.list() {
        let mut headers = Vec::new();
        for h in info.height + 1..=head.min(info.height + MAX_OFFER_HEADERS as u64 / 2) {
            let header = store.header(h).ok()??;
            let names = header.state_height == info.height && header.state_root == info.root;
            headers.push(header);
            if !names {
                continue;
            }
            let (certificate, links) = store.finality_of(h).ok()??;
            headers.extend(links);
            return Some(SnapshotOffer { info, headers, certificate });
        }
    }
    None
}

/// Why joining by snapshot stopped; the node then starts as it would
/// without one (applying what it has from genesis, then block sync).
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the blocks up to the snapshot: {0}")]
    History(String),
    #[error("every peer offering the snapshot failed: {0}")]
    Restore(String),
}

/// Joins from a peer's snapshot if this node's store holds no state and a
/// peer offers one. Returns the height restored, or none (started as it
/// would have without snapshots).
///
/// The state is restored first, from the highest offer whose chunks all
/// check (a lower one if a peer's chunk fails), and its height recorded;
/// then the blocks up to it are stored. A node stopped in between resumes
/// the blocks at its next start.
pub async fn join(
    net: &Network,
    events: &mut mpsc::Receiver<NetEvent>,
    store: &ChainStore,
    genesis: &Genesis,
    cfg: &SnapshotConfig,
) -> Result<Option<u64>, JoinError> {
    let peers_expected = genesis.validators.len().saturating_sub(1);
    let mut link = Link { net, events, store };
    // The epoch certificates this store holds, checked from genesis; more
    // are fetched with the offers.
    let mut epochs = genesis.epochs();
    for cert in store.epoch_certificates()? {
        epochs.push(cert).map_err(|e| JoinError::History(format!("a stored epoch certificate: {e}")))?;
    }
    if let Some(at) = store.restored_at()?
        && store.head()? < at
    {
        tracing::info!(height = at, head = store.head()?, "resuming the blocks below the snapshot this node's state was restored from");
        let root = store.state_tree().get(&ledger::STATE_ROOT.key(&())).map(|b| ledger::STATE_ROOT.decode(&b)).unwrap_or_default();
        link.history(genesis, &epochs, (at, root)).await?;
        return Ok(Some(at));
    }
    if State::stored_height(&store.state_tree()).is_some() {
        return Ok(None);
    }
    // Entries without the state's height: a restore a stop cut short.
    if store.state_tree().scan(&[], &[0xFF; 2]).next().is_some() {
        tracing::warn!("removing the state of a snapshot restore that did not finish");
        store.clear_state()?;
    }
    if !cfg.sync || peers_expected == 0 {
        return Ok(None);
    }
    let mut offers = link.offers(genesis, &mut epochs, peers_expected, Duration::from_millis(cfg.offer_wait_ms)).await;
    offers.sort_by_key(|(_, o)| std::cmp::Reverse(o.info.height));
    let head = store.head()?;
    let started = Instant::now();
    let mut tried: Vec<SnapshotInfo> = Vec::new();
    for (_, offer) in &offers {
        let info = &offer.info;
        if info.height <= head || tried.contains(info) {
            continue;
        }
        tried.push(info.clone());
        let sources: Vec<PeerId> = offers.iter().filter(|(_, o)| o.info == *info).map(|(p, _)| *p).collect();
        tracing::info!(height = info.height, root = %info.root, entries = info.entries, bytes = info.bytes, peers = sources.len(), "joining from a state snapshot");
        if let Err(e) = link.restore(&sources, info).await {
            tracing::warn!(height = info.height, error = %e, "could not restore this snapshot");
            continue;
        }
        let restore_ms = started.elapsed().as_millis() as u64;
        link.history(genesis, &epochs, (info.height, info.root)).await?;
        let top = store.header(info.height)?.map(|h| h.hash());
        if offer.headers.first().map(|h| h.parent) != top {
            return Err(JoinError::History(format!("block {} stored does not lead to the offer's certified headers", info.height)));
        }
        tracing::info!(height = info.height, restore_ms, ms = started.elapsed().as_millis() as u64, "state restored from a snapshot");
        return Ok(Some(info.height));
    }
    if tried.is_empty() {
        tracing::info!("no peer offers a state snapshot above this node's head; starting from the blocks stored");
    }
    Ok(None)
}

/// The network while joining: every request goes out while incoming
/// events are answered as a node at its head with nothing to offer.
struct Link<'a> {
    net: &'a Network,
    events: &'a mut mpsc::Receiver<NetEvent>,
    store: &'a ChainStore,
}

impl Link<'_> {
    fn answer(&self, event: NetEvent) {
        let NetEvent::Request { request, reply, .. } = event else { return };
        let response = match request {
            SyncRequest::Status => {
                let head = self.store.head().unwrap_or(0);
                let hash = self.store.header(head).ok().flatten().map(|h| h.hash()).unwrap_or_default();
                let epoch = self.store.epoch_certificates().ok().and_then(|c| c.last().map(|c| c.change.epoch)).unwrap_or(0);
                SyncResponse::Status { height: head, hash, epoch }
            }
            SyncRequest::Epochs { from } => {
                SyncResponse::Epochs(self.store.epoch_certificates().unwrap_or_default().into_iter().filter(|c| c.change.epoch >= from).collect())
            }
            SyncRequest::Block(_) => SyncResponse::Block(None),
            SyncRequest::Blocks { .. } => SyncResponse::Blocks(Vec::new()),
            SyncRequest::Snapshot => SyncResponse::Snapshot(None),
            SyncRequest::SnapshotChunk { .. } => SyncResponse::SnapshotChunk(None),
        };
        let _ = reply.send(response);
    }

    /// Answers events for `wait`.
    async fn ask_nobody(&mut self, wait: Duration) {
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                Some(event) = self.events.recv() => self.answer(event),
            }
        }
    }

    /// One request to `peer`, answering events until it returns.
    async fn ask(&mut self, peer: PeerId, request: SyncRequest) -> Option<SyncResponse> {
        let net = self.net.clone();
        let mut call = Box::pin(async move { net.request_with_timeout(peer, request, Duration::from_secs(60)).await });
        loop {
            tokio::select! {
                done = &mut call => return done.ok(),
                Some(event) = self.events.recv() => self.answer(event),
            }
        }
    }

    /// Every peer's offer that verifies, waiting at most `wait` for all
    /// `expected` peers to answer. An offer of a later epoch is checked
    /// against that epoch's validators: the epoch certificates come from the
    /// offering peers, each checked against the set before it from genesis,
    /// and are stored.
    async fn offers(&mut self, genesis: &Genesis, epochs: &mut Epochs, expected: usize, wait: Duration) -> Vec<(PeerId, SnapshotOffer)> {
        let deadline = tokio::time::Instant::now() + wait;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut asked = std::collections::HashSet::new();
        let mut answered = 0;
        let mut offers = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while answered < expected {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = tick.tick() => {
                    for peer in self.net.connected_peers() {
                        if asked.insert(peer) {
                            let (net, tx) = (self.net.clone(), tx.clone());
                            tokio::spawn(async move {
                                let _ = tx.send((peer, net.request_with_timeout(peer, SyncRequest::Snapshot, wait).await.ok()));
                            });
                        }
                    }
                }
                Some((peer, answer)) = rx.recv() => {
                    answered += 1;
                    if let Some(SyncResponse::Snapshot(Some(offer))) = answer {
                        offers.push((peer, offer));
                    }
                }
                Some(event) = self.events.recv() => self.answer(event),
            }
        }
        let peers: Vec<PeerId> = offers.iter().map(|(p, _)| *p).collect();
        for peer in peers {
            self.learn_epochs(peer, epochs).await;
        }
        offers.retain(|(peer, offer)| {
            let set = epochs.at_height(offer.headers.last().map_or(0, |h| h.height));
            match offer.verify(&genesis.chain_id, set) {
                Ok(()) => {
                    tracing::info!(%peer, height = offer.info.height, root = %offer.info.root, epoch = set.number, "snapshot offered");
                    true
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, epoch = set.number, "refused a snapshot offer");
                    false
                }
            }
        });
        offers
    }

    /// The epoch certificates `peer` holds beyond `epochs`: each checked
    /// against the set before it, then kept and stored.
    async fn learn_epochs(&mut self, peer: PeerId, epochs: &mut Epochs) {
        let from = epochs.current().number + 1;
        let Some(SyncResponse::Epochs(certs)) = self.ask(peer, SyncRequest::Epochs { from }).await else { return };
        for cert in certs {
            if epochs.certificate(cert.change.epoch).is_some() {
                continue;
            }
            if let Err(e) = epochs.push(cert.clone()) {
                tracing::warn!(%peer, epoch = cert.change.epoch, error = %e, "refused an epoch certificate");
                return;
            }
            if let Err(e) = self.store.put_epoch_certificate(&cert) {
                tracing::error!(error = %e, "cannot store an epoch certificate");
                return;
            }
            let _ = self.net.allow(cert.change.validators.iter().map(|v| crate::network::peer_id_of(&v.public_key)).collect());
        }
    }

    /// Stores the finalized blocks up to `height` (the snapshot's, whose
    /// `root` is recorded with its block), unapplied, fetched from
    /// the connected peers in turn and checked as block sync checks them.
    /// Without them the node cannot start: it keeps asking.
    async fn history(&mut self, genesis: &Genesis, epochs: &Epochs, (height, root): (u64, coldchain_chaincode::Hash)) -> Result<(), JoinError> {
        let mut failures = 0usize;
        while self.store.head()? < height {
            let peers = self.net.connected_peers();
            if peers.is_empty() {
                self.ask_nobody(Duration::from_millis(500)).await;
                continue;
            }
            let peer = peers[failures % peers.len()];
            if failures > 0 && failures.is_multiple_of(10) {
                tracing::warn!(failures, head = self.store.head()?, height, "still fetching the blocks below the restored snapshot");
            }
            let head = self.store.head()?;
            let head_header = match head {
                0 => genesis.block_header(),
                h => self.store.header(h)?.ok_or_else(|| JoinError::History(format!("stored block {h} missing")))?,
            };
            let Some(SyncResponse::Blocks(segment)) = self.ask(peer, SyncRequest::Blocks { from: head + 1, max: 128 }).await else {
                failures += 1;
                continue;
            };
            // Each block against its own epoch's validators; a segment that
            // ends an epoch is final by the next epoch's certificate.
            match verify_segment(epochs, &head_header, &segment) {
                Ok((count, finality)) => {
                    let tip = segment[count - 1].block.header.height;
                    let blocks: Vec<_> = segment.into_iter().take(count).map(|s| s.block).filter(|b| b.header.height <= height).collect();
                    self.store.commit_history(&blocks, (tip, &finality), (height, root))?;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(%peer, error = %e, "refused a block segment while joining");
                }
            }
        }
        Ok(())
    }

    /// Restores the state of `info` from `sources`, one peer at a time: a
    /// peer whose chunk fails is dropped and the restore starts over.
    async fn restore(&mut self, sources: &[PeerId], info: &SnapshotInfo) -> Result<(), JoinError> {
        let mut errors = Vec::new();
        for &peer in sources {
            self.store.clear_state()?;
            match self.restore_from(peer, info).await? {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "refused a state snapshot chunk; restoring from another peer");
                    errors.push(format!("{peer}: {e}"));
                }
            }
        }
        self.store.clear_state()?;
        Err(JoinError::Restore(errors.join("; ")))
    }

    async fn restore_from(&mut self, peer: PeerId, info: &SnapshotInfo) -> Result<Result<(), SnapshotError>, StoreError> {
        let state = self.store.state_tree();
        let restore = RestoreThread::start(info);
        for index in 0..info.chunks {
            let Some(SyncResponse::SnapshotChunk(Some(bytes))) = self.ask(peer, SyncRequest::SnapshotChunk { height: info.height, index }).await
            else {
                return Ok(Err(SnapshotError::Decode(format!("chunk {index} was not sent"))));
            };
            match restore.call(Step::Add(bytes)).await {
                Ok(changes) => state.write(&changes)?,
                Err(e) => return Ok(Err(e)),
            }
        }
        match restore.call(Step::Finish).await {
            Ok(last) => {
                self.store.finish_restore(info.height, &last)?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

enum Step {
    Add(Vec<u8>),
    Finish,
}

/// jmt's restore is not `Send`, and a node's tasks must be: it runs on a
/// thread of its own, a chunk at a time.
struct RestoreThread {
    steps: std::sync::mpsc::Sender<(Step, tokio::sync::oneshot::Sender<Result<Changes, SnapshotError>>)>,
}

impl RestoreThread {
    fn start(info: &SnapshotInfo) -> RestoreThread {
        let (steps, rx) = std::sync::mpsc::channel::<(Step, tokio::sync::oneshot::Sender<Result<Changes, SnapshotError>>)>();
        let (root, version, height, claimed) = (info.root, info.tree_version, info.height, (info.applied, info.refused));
        std::thread::spawn(move || {
            let mut restore = Some(Restore::new(root, version));
            while let Ok((step, reply)) = rx.recv() {
                let Some(r) = restore.as_mut() else { return };
                let result = match step {
                    Step::Add(bytes) => Chunk::from_bytes(&bytes).and_then(|c| r.add(c)),
                    Step::Finish => match restore.take() {
                        Some(r) => r.finish(height, claimed).map(|(changes, _)| changes),
                        None => return,
                    },
                };
                let _ = reply.send(result);
            }
        });
        RestoreThread { steps }
    }

    async fn call(&self, step: Step) -> Result<Changes, SnapshotError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || SnapshotError::Decode("the restore stopped".into());
        self.steps.send((step, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::SignerSignature;
    use coldchain_chaincode::Hash;
    use ed25519_dalek::SigningKey;

    fn keys() -> Vec<SigningKey> {
        (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
    }

    /// A snapshot after block 10 and headers 11–13; 12 names it; 13 is
    /// finalized by `signers`.
    fn offer(signers: &[usize]) -> SnapshotOffer {
        let root = Hash::digest(b"the state after block 10");
        let info = SnapshotInfo { height: 10, root, tree_version: 9, applied: 40, refused: 1, entries: 300, chunks: 1, bytes: 9_000 };
        let mut parent = Hash::digest(b"block 10");
        let mut headers = Vec::new();
        for height in 11..=13u64 {
            let named = height == 12;
            let header = Header {
                chain_id: "c".into(),
                height,
                view: height,
                parent,
                tx_root: Hash::default(),
                time_ms: 0,
                proposer: 0,
                tx_count: 0,
                state_height: if named { 10 } else { height - 2 },
                state_root: if named { root } else { Hash::digest(&height.to_be_bytes()) },
            };
            parent = header.hash();
            headers.push(header);
        }
        let keys = keys();
        let signatures = signers
            .iter()
            .map(|&i| SignerSignature { signer: i as u16, signature: crate::crypto::sign_vote(&keys[i], VoteKind::Finalize, "c", 13, &parent) })
            .collect();
        SnapshotOffer { info, headers, certificate: Certificate { kind: VoteKind::Finalize, view: 13, hash: parent, signatures } }
    }

    #[test]
    fn an_offer_verifies_only_with_a_quorum_certified_header_naming_its_root() {
        let members = keys()
            .iter()
            .enumerate()
            .map(|(i, k)| crate::consensus::epoch::EpochMember {
                name: format!("v{i}"),
                province: format!("{i}00000"),
                public_key: k.verifying_key().to_bytes(),
            })
            .collect();
        let epochs = Epochs::new("c", members).unwrap();
        let check = |o: &SnapshotOffer| o.verify("c", epochs.current());
        assert_eq!(check(&offer(&[0, 1, 3])), Ok(()));
        assert!(matches!(check(&offer(&[0, 1])), Err(OfferError::Certificate(_))), "two signatures of four");
        let mut other_root = offer(&[0, 1, 2]);
        other_root.info.root = Hash::digest(b"a forged state");
        assert!(matches!(check(&other_root), Err(OfferError::NotNamed { .. })));
        let mut other_height = offer(&[0, 1, 2]);
        other_height.info.height = 9;
        assert!(matches!(check(&other_height), Err(OfferError::Link(11))));
        let mut unlinked = offer(&[0, 1, 2]);
        unlinked.headers[1].time_ms = 1;
        assert!(matches!(check(&unlinked), Err(OfferError::Link(13))));
        let mut uncertified = offer(&[0, 1, 2]);
        uncertified.headers.pop();
        assert_eq!(check(&uncertified), Err(OfferError::CertifiedHash));
        let mut empty = offer(&[0, 1, 2]);
        empty.headers.clear();
        assert_eq!(check(&empty), Err(OfferError::Headers(0)));
    }

    #[test]
    fn each_validator_takes_its_turn() {
        let cfg = SnapshotConfig { interval_blocks: 10, ..SnapshotConfig::default() };
        // Four validators: blocks 0–9 are validator 0's run, 10–19 validator 1's …
        assert!(due(&cfg, 4, 1, 0, 12));
        assert!(!due(&cfg, 4, 0, 0, 12));
        assert!(!due(&cfg, 4, 1, 5, 12), "less than an interval since its last");
        assert!(due(&cfg, 4, 0, 0, 41));
        assert!(!due(&SnapshotConfig { interval_blocks: 0, ..cfg.clone() }, 4, 0, 0, 1_000), "0: never");
    }
}
