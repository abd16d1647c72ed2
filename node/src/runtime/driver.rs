//! The consensus driver: the one task that owns the core, the mempool, the
//! chaincode state and the bodies of pending blocks. It turns network
//! messages, timers and submissions into core events and carries out the
//! core's actions: persist (fsync) before broadcast, build, verify, fetch,
//! commit.

use super::awaited::AwaitedProposals;
use super::services::{ChainEvent, Head, LiveStatus, NodeServices, SharedState, Submission};
use super::verify::verify_body;
use crate::block::{Block, Header, merkle_root};
use crate::config::{ConsensusConfig, SnapshotConfig};
use crate::consensus::epoch::Epochs;
use crate::consensus::{Action, Certificate, ConsensusMessage, Core, Event, TimeoutKind, View};
use crate::genesis::{ConsensusParams, ValidatorIndex};
use crate::mempool::Mempool;
use crate::storage::{ChainStore, Finality, SafetyFile, SnapshotFiles, StoredBlock};
use crate::sync::verify_segment;
use crate::wire::{NetEvent, Network, PROPOSAL_IDS_VERSION, SyncRequest, SyncResponse, WIRE_VERSION, WireMessage};
use coldchain_chaincode::{BlockContext, Hash, Outcome, Receipt, Transaction, TxId};
use libp2p::PeerId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

mod bodies;
mod certified;
mod epochs;
mod intake;

/// Results of work done off the driver's task.
enum Internal {
    Timeout {
        view: View,
        kind: TimeoutKind,
    },
    Verified {
        hash: Hash,
        valid: bool,
        /// The body failed its checks (not: it could not be stored).
        rejected: bool,
    },
    Fetched(Block),
    /// The grace period of a proposal held for missing transactions is over.
    AwaitExpired(Hash),
    TxsVerified(Vec<(TxId, Transaction)>),
    PeerHead {
        peer: PeerId,
        height: u64,
    },
    Segment(Vec<StoredBlock>),
    SyncIdle,
    /// Epoch certificates a peer sent, in order.
    Epochs(Vec<crate::consensus::epoch::EpochCertificate>),
    /// A peer says it is in a later epoch.
    EpochBehind(PeerId),
}

pub struct DriverParts {
    pub core: Core,
    pub services: NodeServices,
    pub store: ChainStore,
    pub safety_file: SafetyFile,
    pub state: SharedState,
    pub last_finalized: Header,
    pub proposals: Vec<Block>,
    pub consensus: ConsensusConfig,
    pub mempool_capacity: usize,
    pub head: watch::Sender<Head>,
    pub live: Arc<RwLock<LiveStatus>>,
    pub snapshots: SnapshotFiles,
    pub snapshot: SnapshotConfig,
    /// Every epoch certificate stored, checked from genesis.
    pub epochs: Epochs,
    /// The epoch `core` runs and this validator's place in it.
    pub core_epoch: u64,
    pub me: Option<ValidatorIndex>,
}

pub struct Driver {
    core: Core,
    net: Network,
    services: NodeServices,
    store: ChainStore,
    safety_file: SafetyFile,
    state: SharedState,
    mempool: Mempool,
    /// Bodies of blocks above the finalized head: proposals, fetched blocks.
    bodies: HashMap<Hash, Block>,
    /// Proposals by ids waiting for transactions this node lacks.
    awaited: AwaitedProposals,
    last_finalized: Header,
    consensus: ConsensusConfig,
    /// A block the core asked for: its view, parent, and until when to wait
    /// for transactions before proposing an empty block (`None`: wait for
    /// transactions however long, the mempool being empty; Rule I).
    pending_build: Option<(View, Header, Option<Instant>)>,
    /// What the core was last told of the mempool ([`Event::Work`]).
    reported_work: Option<bool>,
    head: watch::Sender<Head>,
    live: Arc<RwLock<LiveStatus>>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    events: VecDeque<Event>,
    syncing: bool,
    head_moved: Instant,
    /// Relayed transactions waiting for signature verification: bounded; when
    /// full, relays are dropped (the accepting node keeps them durable and
    /// proposes them in its own views).
    relay_queue: mpsc::Sender<Vec<(TxId, Transaction)>>,
    relay_rx: Option<mpsc::Receiver<Vec<(TxId, Transaction)>>>,
    relays_dropped: u64,
    /// Relayed transactions refused by the transaction rules.
    relays_refused: u64,
    /// Connected peers that said (by [`WireMessage::Hello`]) they read
    /// proposals by ids; the others are sent full proposals.
    reads_ids: HashSet<PeerId>,
    /// The root of the chain's start (height 0).
    genesis_root: Hash,
    /// Proposals whose state root names a block not applied here yet.
    root_waiting: Vec<(Header, Header)>,
    /// Set once a finalized header's root differs from this validator's.
    diverged: Option<certified::Divergence>,
    snapshots: SnapshotFiles,
    snapshot: SnapshotConfig,
    /// The height of this validator's newest snapshot.
    last_snapshot: u64,
    /// A body-log compaction runs; when the last one started.
    compacting: Arc<std::sync::atomic::AtomicBool>,
    compacted_at: Option<Instant>,
    /// Epoch certificates checked from genesis (perhaps ahead of the core).
    epochs: Epochs,
    /// The epoch the core runs, and this validator's place in its set.
    core_epoch: u64,
    me: Option<ValidatorIndex>,
    /// The epoch the committed state is in; above `core_epoch` while the
    /// core waits for the certificate of the epoch the state entered.
    state_epoch_number: u64,
    /// This validator's signature on the change that ends its epoch.
    own_epoch_vote: Option<(crate::consensus::epoch::EpochChange, crate::consensus::SignerSignature)>,
    epoch_votes: epochs::EpochVotes,
    /// The consensus limits of the epoch the core runs: genesis's, or what
    /// governance set (`set_consensus_params`).
    params: ConsensusParams,
}

/// Body-log compaction is tried at most this often (after commits only: an
/// idle chain makes no garbage).
const COMPACTION_EVERY: Duration = Duration::from_secs(10);

/// Relayed batches waiting for verification before further relays are dropped.
const RELAY_QUEUE: usize = 64;

impl Driver {
    pub fn new(parts: DriverParts) -> Result<Driver, crate::storage::StoreError> {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (relay_queue, relay_rx) = mpsc::channel(RELAY_QUEUE);
        let mut mempool = Mempool::new(parts.mempool_capacity);
        for (id, tx) in parts.store.pending_txs()? {
            if parts.store.tx_location(&id)?.is_none() {
                let _ = mempool.insert(id, tx);
            }
        }
        let genesis_root = coldchain_chaincode::State::with_genesis(parts.services.genesis.chaincode_genesis()).root();
        let bodies = parts.proposals.into_iter().filter(|b| b.header.height > parts.last_finalized.height).map(|b| (b.header.hash(), b)).collect();
        let limits = parts.state.read().unwrap_or_else(PoisonError::into_inner).ledger().consensus_limits();
        let params = parts.services.genesis.consensus.in_epoch(limits.as_ref());
        Ok(Driver {
            core: parts.core,
            net: parts.services.network.clone(),
            services: parts.services,
            store: parts.store,
            safety_file: parts.safety_file,
            state: parts.state,
            mempool,
            bodies,
            awaited: AwaitedProposals::default(),
            last_finalized: parts.last_finalized,
            consensus: parts.consensus,
            pending_build: None,
            reported_work: None,
            head: parts.head,
            live: parts.live,
            internal_tx,
            internal_rx,
            events: VecDeque::new(),
            syncing: false,
            head_moved: Instant::now(),
            relay_queue,
            relay_rx: Some(relay_rx),
            relays_dropped: 0,
            relays_refused: 0,
            reads_ids: HashSet::new(),
            genesis_root,
            root_waiting: Vec::new(),
            diverged: None,
            last_snapshot: parts.snapshots.list().first().map_or(0, |i| i.height),
            snapshots: parts.snapshots,
            snapshot: parts.snapshot,
            compacting: Arc::default(),
            compacted_at: None,
            epochs: parts.epochs,
            state_epoch_number: parts.core_epoch,
            core_epoch: parts.core_epoch,
            me: parts.me,
            own_epoch_vote: None,
            epoch_votes: epochs::EpochVotes::default(),
            params,
        })
    }

    pub async fn run(
        mut self,
        mut net_events: mpsc::Receiver<NetEvent>,
        mut submissions: mpsc::Receiver<Submission>,
        mut stop: watch::Receiver<bool>,
    ) {
        // One verifier for relayed transactions, one batch at a time.
        let Some(mut relay_rx) = self.relay_rx.take() else {
            tracing::error!("the consensus driver was started twice");
            return;
        };
        let verified_tx = self.internal_tx.clone();
        let signatures = self.services.signatures;
        tokio::spawn(async move {
            while let Some(batch) = relay_rx.recv().await {
                let good = tokio::task::spawn_blocking(move || {
                    let fresh: Vec<(TxId, Transaction)> = batch.into_iter().filter(|(_, t)| t.record_is_canonical()).collect();
                    let refs: Vec<&Transaction> = fresh.iter().map(|(_, t)| t).collect();
                    let results = signatures.check(&refs);
                    fresh.into_iter().zip(results).filter(|(_, r)| r.is_ok()).map(|(pair, _)| pair).collect()
                })
                .await
                .unwrap_or_default();
                if verified_tx.send(Internal::TxsVerified(good)).is_err() {
                    return;
                }
            }
        });
        // A state that entered an epoch the core has not: its end again
        // (this validator's vote), and the new epoch if its certificate is here.
        self.refresh_allowlist();
        let epoch = self.core_epoch;
        self.after_commit_epoch();
        if !self.halted() && self.core_epoch == epoch {
            let actions = self.core.start();
            self.execute(actions);
        }
        // Rule I: the core learns at once whether the mempool holds work.
        self.drain_events();
        // Peers connected before the driver ran (while joining from a
        // snapshot) learn its wire version now.
        for peer in self.net.connected_peers() {
            self.net.send(peer, WireMessage::Hello { version: WIRE_VERSION });
        }
        self.relay_pending();
        let mut sync_tick = tokio::time::interval(Duration::from_millis(1000));
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let build_deadline = self.pending_build.as_ref().and_then(|(_, _, d)| d.map(tokio::time::Instant::from_std));
            tokio::select! {
                _ = stop.changed() => break,
                Some(ev) = net_events.recv() => self.on_net(ev),
                Some(internal) = self.internal_rx.recv() => self.on_internal(internal),
                Some(sub) = submissions.recv() => self.on_submission(sub),
                _ = sync_tick.tick() => self.maybe_sync(),
                _ = async { tokio::time::sleep_until(build_deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if build_deadline.is_some() => self.try_build(true),
            }
            self.drain_events();
            self.publish_live();
        }
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    fn publish_live(&self) {
        if let Ok(mut live) = self.live.write() {
            live.view = self.core.view();
            live.idle = self.core.idle();
            live.mempool = self.mempool.len();
            live.mempool_capacity = self.mempool.capacity();
            if live.refused != *self.core.refused() {
                live.refused = self.core.refused().clone();
            }
        }
    }

    fn drain_events(&mut self) {
        if self.halted() {
            // The epoch ended here: nothing goes to the old core.
            self.events.clear();
            return;
        }
        loop {
            self.report_work();
            let Some(event) = self.events.pop_front() else { break };
            let actions = self.core.handle(event);
            self.execute(actions);
        }
    }

    /// Rule I: tells the core when the mempool turns empty or not empty, so
    /// an idle consortium neither proposes nor runs view timers.
    fn report_work(&mut self) {
        let pending = !self.mempool.is_empty() || self.uncertified();
        if self.reported_work != Some(pending) {
            self.reported_work = Some(pending);
            self.events.push_back(Event::Work { pending });
        }
    }

    fn handle(&mut self, event: Event) {
        self.events.push_back(event);
        self.drain_events();
    }

    // ----- carrying out actions -------------------------------------------

    fn send(&mut self, message: ConsensusMessage) {
        match message {
            ConsensusMessage::Proposal(proposal) => self.broadcast_proposal(proposal),
            message => {
                if matches!(message, ConsensusMessage::Vote(_))
                    && let Ok(mut live) = self.live.write()
                {
                    live.votes_sent += 1;
                }
                self.net.broadcast(WireMessage::Consensus(message))
            }
        }
    }

    fn execute(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::PersistThenBroadcast(guarded) => {
                    let (state, message) = guarded.into_parts();
                    // Rule P: our votes on disk before anything leaves (block
                    // bodies were written when built or verified).
                    let result = tokio::task::block_in_place(|| self.safety_file.store(&state).map_err(|e| e.to_string()));
                    if let Err(e) = result {
                        // Without durable safety state we must not vote: stop.
                        tracing::error!(error = %e, "cannot persist the safety state; exiting to stay safe");
                        std::process::exit(70);
                    }
                    self.send(message);
                }
                Action::Broadcast(message) => self.send(message),
                Action::Build { view, parent } => {
                    let deadline = Instant::now() + Duration::from_millis(self.consensus.max_block_interval_ms);
                    self.pending_build = Some((view, parent, Some(deadline)));
                    self.try_build(false);
                }
                Action::Verify { header, parent } => self.verify(header, parent),
                Action::ScheduleTimeout { view, kind, after_ms } => {
                    let tx = self.internal_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                        let _ = tx.send(Internal::Timeout { view, kind });
                    });
                }
                Action::Fetch { hash } => self.fetch(hash),
                Action::Commit { blocks, finalization } => self.commit(blocks, finalization),
                Action::Evidence(evidence) => match self.store.put_evidence(&evidence) {
                    Ok(true) => {
                        tracing::warn!(offender = evidence.offender(), ?evidence, "equivocation evidence");
                        self.submit_evidence(&evidence);
                    }
                    Ok(false) => tracing::debug!(offender = evidence.offender(), "equivocation evidence of an offence already recorded"),
                    Err(e) => tracing::error!(error = %e, "cannot store evidence"),
                },
            }
        }
    }

    /// Transactions already in blocks between the finalized head and
    /// `parent`; `None` when a body on that path is not held here, so the
    /// set would be incomplete.
    fn in_flight(&self, parent: &Header) -> Option<HashSet<TxId>> {
        let mut out = HashSet::new();
        let mut cursor = parent.clone();
        while cursor.height > self.last_finalized.height {
            let body = self.bodies.get(&cursor.hash())?;
            out.extend(body.tx_ids());
            cursor = match self.bodies.get(&body.header.parent) {
                Some(b) => b.header.clone(),
                None if body.header.parent == self.last_finalized.hash() => break,
                None => return None,
            };
        }
        Some(out)
    }

    fn try_build(&mut self, deadline_passed: bool) {
        let Some((view, parent, _)) = self.pending_build.clone() else { return };
        if view != self.core.view() || self.diverged.is_some() || self.halted() {
            self.pending_build = None;
            return;
        }
        // A transaction may be in a block only once on a chain: skip those in
        // the blocks this one extends, and propose an empty block when one of
        // those bodies is missing here (it is being fetched).
        let picked = match self.in_flight(&parent) {
            // Rule G: nothing after a validator change until it is final.
            Some(_) if self.reconfiguring(&parent) => Vec::new(),
            Some(exclude) => {
                let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
                let mut picked =
                    self.mempool.batch(self.consensus.max_block_txs.min(self.params.max_block_txs as usize), self.params.max_block_bytes(), &exclude);
                picked.retain(|(id, _)| !state.contains(id));
                picked
            }
            None => Vec::new(),
        };
        if picked.is_empty() && !deadline_passed {
            return;
        }
        // An empty block only carries the chain forward for transactions in
        // the blocks it extends, or certifies the state the last blocks left;
        // with neither (they became final meanwhile and a header certifies
        // the state) it would be an idle block: wait for transactions instead.
        if picked.is_empty() && self.mempool.is_empty() && !self.uncertified() {
            if let Some((_, _, deadline)) = self.pending_build.as_mut() {
                *deadline = None;
            }
            return;
        }
        self.pending_build = None;
        let (ids, txs): (Vec<TxId>, Vec<Transaction>) = picked.into_iter().unzip();
        let state_root = self.state.read().unwrap_or_else(PoisonError::into_inner).root();
        let header = Header {
            chain_id: self.services.genesis.chain_id.clone(),
            height: parent.height + 1,
            view,
            parent: parent.hash(),
            tx_root: merkle_root(&ids),
            time_ms: self.services.clock.now_ms().max(parent.time_ms),
            proposer: self.me.unwrap_or_default(),
            tx_count: txs.len() as u32,
            // The state after the last block applied here (certified.rs).
            state_height: self.last_finalized.height,
            state_root,
        };
        let block = Block { header: header.clone(), txs: Arc::new(txs) };
        // The body goes to the log beside the broadcast, not before it: the
        // block is notarized only with q − 1 other validators' votes, each
        // sent after that validator stored the body, so a body that might
        // become final is durable somewhere. Alone (n = 1) nobody else holds
        // it: stored first.
        if self.core.validators() > 1 {
            let (store, body) = (self.store.clone(), block.clone());
            tokio::task::spawn_blocking(move || {
                if let Err(e) = store.put_proposal(&body) {
                    tracing::error!(error = %e, "cannot store own proposal");
                }
            });
        } else if let Err(e) = tokio::task::block_in_place(|| self.store.put_proposal(&block)) {
            tracing::error!(error = %e, "cannot store own proposal");
            return;
        }
        self.bodies.insert(header.hash(), block);
        self.events.push_back(Event::Built { header });
    }

    fn verify(&mut self, header: Header, parent: Header) {
        let hash = header.hash();
        let Some(block) = self.bodies.get(&hash).cloned() else {
            self.events.push_back(Event::Verified { hash, valid: false });
            return;
        };
        if self.diverged.is_some() || header.state_height >= header.height {
            self.refuse(&header);
            return;
        }
        match self.check_root(&header) {
            certified::RootCheck::Matches => {}
            certified::RootCheck::Ahead => {
                if !self.wait_for_root(header.clone(), parent) {
                    self.refuse(&header);
                }
                return;
            }
            certified::RootCheck::Mismatch { ours } => {
                tracing::error!(
                    height = header.height,
                    view = header.view,
                    proposer = header.proposer,
                    state_height = header.state_height,
                    proposed = %header.state_root,
                    ours = %ours,
                    "STATE ROOT MISMATCH: refused a proposal: its state root after block {} is {}, this validator's is {}",
                    header.state_height,
                    header.state_root,
                    ours
                );
                self.refuse(&header);
                return;
            }
            certified::RootCheck::Unknown => {
                tracing::warn!(
                    height = header.height,
                    state_height = header.state_height,
                    "refused a proposal: no state root is recorded here for the block it names"
                );
                self.refuse(&header);
                return;
            }
        }
        if !block.txs.is_empty() && self.reconfiguring(&parent) {
            tracing::warn!(
                height = header.height,
                view = header.view,
                "rejected a proposal: it carries transactions above a validator change not yet final (Rule G)"
            );
            self.events.push_back(Event::Verified { hash, valid: false });
            return;
        }
        let ids = block.tx_ids();
        let known: HashSet<TxId> = ids.iter().filter(|id| self.mempool.contains(id)).copied().collect();
        // A transaction already finalized, or in a block this one extends,
        // must not be in it again.
        let repeated = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let in_flight = self.in_flight(&parent).unwrap_or_default();
            ids.iter().find(|id| state.contains(id) || in_flight.contains(id)).copied()
        };
        if let Some(id) = repeated {
            tracing::warn!(height = header.height, view = header.view, tx = %id, "rejected a proposal: it repeats a transaction of the chain it extends");
            self.events.push_back(Event::Verified { hash, valid: false });
            return;
        }
        let chain_id = self.services.genesis.chain_id.clone();
        let limits = self.params.clone();
        let signatures = self.services.signatures;
        let tx = self.internal_tx.clone();
        let now = self.services.clock.now_ms();
        let store = self.store.clone();
        // Off the driver's task: the check, then (Rule P for bodies) the
        // body durable on disk before the vote the result leads to.
        tokio::task::spawn_blocking(move || {
            let result = verify_body(&block, &parent, &chain_id, &limits, &known, now, signatures);
            if let Err(reason) = &result {
                tracing::warn!(height = block.header.height, view = block.header.view, %reason, "rejected a proposal");
            }
            let stored = result.is_ok() && {
                let stored = store.put_proposal(&block);
                if let Err(e) = &stored {
                    tracing::error!(error = %e, "cannot store proposal body");
                }
                stored.is_ok()
            };
            let _ = tx.send(Internal::Verified { hash, valid: stored, rejected: result.is_err() });
        });
    }

    fn commit(&mut self, headers: Vec<Header>, finalization: Certificate) {
        let mut blocks = Vec::with_capacity(headers.len());
        for header in &headers {
            match self.bodies.get(&header.hash()) {
                Some(b) => blocks.push(b.clone()),
                None => {
                    tracing::error!(height = header.height, "finalized block body missing; exiting so a restart resyncs");
                    std::process::exit(71);
                }
            }
        }
        self.store_finalized(blocks, Finality::Certificate(finalization));
    }

    /// Applies finalized blocks to the chaincode state and stores them.
    /// Applies finalized blocks to the chaincode state and stores them; the
    /// last carries `finality`. A block whose governance changed the
    /// validator set is the last of its epoch: the blocks after it in
    /// `blocks` (finalized by the old set, empty by Rule G) are not applied,
    /// and it is final by the epoch certificate to come (epochs.rs).
    fn store_finalized(&mut self, blocks: Vec<Block>, finality: Finality) {
        let total = blocks.len();
        let mut governance = false;
        let mut epoch_ended = false;
        let mut with_receipts = Vec::with_capacity(blocks.len());
        let mut events = Vec::new();
        let mut roots = Vec::with_capacity(blocks.len());
        // Each header's root against ours after the block it names, this
        // commit's blocks included.
        let mut certified = Vec::with_capacity(blocks.len());
        let before = self.last_finalized.height;
        let earlier: Vec<(u64, Option<Hash>)> =
            blocks.iter().map(|b| b.header.state_height).filter(|&h| h < before).map(|h| (h, self.root_at(h))).collect();
        let state_root = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let mut applied = vec![(before, state.root())];
            for block in blocks {
                if epoch_ended {
                    tracing::warn!(
                        height = block.header.height,
                        view = block.header.view,
                        txs = block.txs.len(),
                        "a block the old validator set finalized above the last block of its epoch: not applied"
                    );
                    continue;
                }
                let named = block.header.state_height;
                let ours = if named >= before {
                    applied.iter().find(|(h, _)| *h == named).map(|(_, r)| *r)
                } else {
                    earlier.iter().find(|(h, _)| *h == named).and_then(|(_, r)| *r)
                };
                certified.push((block.header.clone(), ours));
                let ctx = BlockContext { height: block.header.height, time_ms: block.header.time_ms };
                let receipts: Vec<Receipt> = state.apply_block(ctx, block.txs.iter());
                applied.push((block.header.height, state.root()));
                for (r, tx) in receipts.iter().zip(block.txs.iter()) {
                    self.mempool.remove(&r.tx_id);
                    if r.outcome == Outcome::Applied {
                        governance |= tx.record.as_str().contains("\"type\":\"governance\"");
                        for kind in ChainEvent::kinds_of(tx, &r.tx_id, &state) {
                            events.push(ChainEvent { kind, tx_id: r.tx_id, height: ctx.height });
                        }
                    }
                }
                // Only a validator change can end the epoch: the state is
                // asked only after one.
                epoch_ended = block.txs.iter().any(epochs::starts_epoch) && state.ledger().epoch_number() > self.state_epoch_number;
                with_receipts.push((block, receipts));
                roots.push(state.root());
            }
            state.root()
        };
        // The blocks and the state they leave are written together; readers
        // see the changes (from memory) meanwhile, and from the store after.
        let committed = tokio::task::block_in_place(|| {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let tip_finality = match with_receipts.len() < total {
                true => Finality::EndOfEpoch(state.ledger().epoch_number()),
                false => finality.clone(),
            };
            self.store.commit_with_state(&with_receipts, &tip_finality, &roots, state.changes())
        });
        if let Err(e) = committed {
            tracing::error!(error = %e, "cannot store finalized blocks; exiting so nothing unstored is acknowledged");
            std::process::exit(72);
        }
        self.state.write().unwrap_or_else(PoisonError::into_inner).settle();
        for (header, ours) in certified {
            self.check_certified(&header, ours);
        }
        let Some(tip) = with_receipts.last().map(|(b, _)| b.header.clone()) else { return };
        let txs: usize = with_receipts.iter().map(|(b, _)| b.txs.len()).sum();
        if let Ok(mut live) = self.live.write() {
            live.finalized_blocks += with_receipts.len() as u64;
            live.finalized_txs += txs as u64;
        }
        tracing::info!(height = tip.height, view = tip.view, txs, %state_root, "finalized");
        for e in events {
            let _ = self.services.events.send(e);
        }
        self.maybe_snapshot(tip.height);
        self.maybe_compact();
        self.bodies.retain(|_, b| crate::consensus::may_extend(&tip, &b.header));
        self.awaited.prune(tip.height);
        self.last_finalized = tip.clone();
        self.head_moved = Instant::now();
        let _ = self.head.send(Head { height: tip.height, hash: tip.hash() });
        self.release_root_waiting();
        if governance {
            self.refresh_allowlist();
        }
        if epoch_ended {
            self.after_commit_epoch();
        }
    }

    /// Takes this validator's snapshot when its turn has come: the state
    /// is that of the block just committed, and no block is applied until
    /// it is written (docs/PROTOCOL.md, "Snapshots").
    fn maybe_snapshot(&mut self, tip: u64) {
        let n = self.core.validators();
        let Some(me) = self.me else { return };
        if !crate::snapshot::due(&self.snapshot, n, me, self.last_snapshot, tip) {
            return;
        }
        self.last_snapshot = tip;
        let taken = tokio::task::block_in_place(|| {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            crate::snapshot::take(&self.snapshots, self.snapshot.keep, &state)
        });
        if let Err(e) = taken {
            tracing::error!(error = %e, height = tip, "cannot write a state snapshot; the node goes on without it");
        }
    }

    /// Puts an offence on chain: an `evidence` transaction signed by this
    /// validator, through the same intake as any submission. Its nonce comes
    /// from the offence, so this validator makes one transaction per offence,
    /// across restarts; the chaincode records the offence once, whichever
    /// validator's transaction is first.
    fn submit_evidence(&mut self, evidence: &crate::consensus::Evidence) {
        let genesis = self.services.genesis.clone();
        let epoch = self.core_epoch;
        let Some(offender) = self.epochs.get(epoch).and_then(|set| set.members.get(evidence.offender() as usize)).cloned() else { return };
        let (kind, signer, view) = evidence.offence();
        // Epoch 0 keeps the nonce it always had.
        let digest = match epoch {
            0 => Hash::digest(format!("evidence:{kind}:{signer}:{view}").as_bytes()),
            e => Hash::digest(format!("evidence:{e}:{kind}:{signer}:{view}").as_bytes()),
        };
        let nonce = digest.0[..8].iter().fold(0u64, |n, b| n << 8 | u64::from(*b)) & coldchain_chaincode::transaction::MAX_NONCE;
        let mut record = evidence.record(&offender.province);
        if epoch > 0 {
            record["epoch"] = epoch.into();
        }
        let tx = Transaction::sign(&genesis.chain_id, nonce, record, &self.services.node_key);
        let (reply, answer) = oneshot::channel();
        self.on_submission(Submission { txs: vec![(tx.id(), tx)], sequence: false, reply });
        let offender = offender.province.clone();
        tokio::spawn(async move {
            match answer.await {
                Ok(Ok(outcomes)) => tracing::warn!(%offender, view, ?outcomes, "evidence submitted to the chain"),
                Ok(Err(e)) => tracing::error!(%offender, view, error = %e, "evidence not submitted"),
                Err(_) => {}
            }
        });
    }

    /// Reclaims body-log segments that are mostly bodies of proposals that
    /// never became final (storage/compaction.rs), off the consensus task,
    /// one run at a time.
    fn maybe_compact(&mut self) {
        use std::sync::atomic::Ordering;
        if self.compacted_at.is_some_and(|t| t.elapsed() < COMPACTION_EVERY) || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        self.compacted_at = Some(Instant::now());
        let (store, live, busy) = (self.store.clone(), self.live.clone(), self.compacting.clone());
        tokio::task::spawn_blocking(move || {
            let mut reclaimed = 0;
            loop {
                match store.compact_bodies() {
                    Ok(Some(c)) => {
                        tracing::info!(
                            segment = c.segment,
                            segment_bytes = c.segment_bytes,
                            moved_bodies = c.moved_bodies,
                            moved_bytes = c.moved_bytes,
                            "body log: a segment of bodies that never became final reclaimed"
                        );
                        reclaimed += c.segment_bytes.saturating_sub(c.moved_bytes);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "body log compaction failed; the garbage stays until the next try");
                        break;
                    }
                }
            }
            if let (Ok((garbage, bytes)), Ok(mut live)) = (store.body_log_usage(), live.write()) {
                live.body_log_bytes = bytes;
                live.body_log_garbage_bytes = garbage;
                live.body_log_reclaimed_bytes += reclaimed;
            }
            busy.store(false, Ordering::Release);
        });
    }

    // ----- network ---------------------------------------------------------

    fn on_net(&mut self, event: NetEvent) {
        match event {
            crate::network::NetEvent::Message { from, message, .. } => match message {
                WireMessage::Consensus(m) => {
                    if matches!(m, ConsensusMessage::Vote(_))
                        && let Ok(mut live) = self.live.write()
                    {
                        live.votes_received += 1;
                    }
                    self.handle(Event::Message(m))
                }
                WireMessage::Proposal { proposal, txs } => {
                    let header = proposal.header.clone();
                    // A body is kept only for a proposal its view's leader
                    // signed, the first of its view to reach this node; a
                    // second one still goes to the core (evidence).
                    if txs.len() != header.tx_count as usize {
                        self.core.count_refused("proposal_tx_count");
                        return;
                    }
                    if !self.core.screen_proposal(&proposal) {
                        return;
                    }
                    if self.core.admits_body(&proposal) {
                        self.bodies.entry(header.hash()).or_insert(Block { header, txs });
                    }
                    self.handle(Event::Message(ConsensusMessage::Proposal(proposal)));
                }
                WireMessage::ProposalIds { proposal, ids } => {
                    // Sent only by validators that read them too.
                    self.reads_ids.insert(from);
                    self.on_proposal_ids(from, proposal, ids)
                }
                WireMessage::Txs(txs) => self.on_relayed(&txs),
                WireMessage::EpochVote { change, signature } => self.on_epoch_vote(Some(from), change, signature),
                WireMessage::Epoch(cert) => self.on_epoch_certificate(cert),
                WireMessage::Hello { version } => {
                    tracing::info!(peer = %from, version, "peer's wire version");
                    if version >= PROPOSAL_IDS_VERSION {
                        self.reads_ids.insert(from);
                    } else {
                        self.reads_ids.remove(&from);
                    }
                }
            },
            crate::network::NetEvent::Request { request, reply, .. } => self.answer(request, reply),
            crate::network::NetEvent::Connected(peer) => {
                tracing::info!(%peer, "peer connected");
                self.net.send(peer, WireMessage::Hello { version: WIRE_VERSION });
                self.relay_pending();
            }
            crate::network::NetEvent::Reconnected(peer) => {
                // Perhaps restarted as another version: full proposals until
                // it says Hello again (it does on its new connection).
                self.reads_ids.remove(&peer);
                self.net.send(peer, WireMessage::Hello { version: WIRE_VERSION });
            }
            crate::network::NetEvent::Disconnected(peer) => {
                tracing::info!(%peer, "peer disconnected");
                // It may come back as another version.
                self.reads_ids.remove(&peer);
            }
        }
    }

    fn answer(&self, request: SyncRequest, reply: oneshot::Sender<SyncResponse>) {
        match request {
            SyncRequest::Status => {
                let _ = reply.send(SyncResponse::Status {
                    height: self.last_finalized.height,
                    hash: self.last_finalized.hash(),
                    epoch: self.epochs.current().number,
                });
            }
            SyncRequest::Epochs { from } => {
                let _ = reply.send(SyncResponse::Epochs(self.epochs.certificates().iter().filter(|c| c.change.epoch >= from).cloned().collect()));
            }
            SyncRequest::Block(hash) => {
                if let Some(b) = self.bodies.get(&hash) {
                    let _ = reply.send(SyncResponse::Block(Some(b.clone())));
                    return;
                }
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || {
                    let block = store.height_of(&hash).ok().flatten().and_then(|h| store.block(h).ok().flatten()).map(|s| s.block);
                    let _ = reply.send(SyncResponse::Block(block));
                });
            }
            SyncRequest::Snapshot => {
                let (store, files) = (self.store.clone(), self.snapshots.clone());
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(SyncResponse::Snapshot(crate::snapshot::offer(&store, &files)));
                });
            }
            SyncRequest::SnapshotChunk { height, index } => {
                let files = self.snapshots.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(SyncResponse::SnapshotChunk(files.chunk(height, index)));
                });
            }
            SyncRequest::Blocks { from, max } => {
                let store = self.store.clone();
                let max_payload = self.services.genesis.consensus.max_payload_bytes();
                let epochs = self.epochs.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(SyncResponse::Blocks(read_segment(&store, &epochs, from, max.min(256), max_payload)));
                });
            }
        }
    }

    // ----- internal results --------------------------------------------------

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Timeout { view, kind } => self.handle(Event::Timeout { view, kind }),
            // A valid body is on disk already (stored by the verifying task).
            Internal::Verified { hash, valid, rejected } => {
                if rejected {
                    self.core.count_refused("body_invalid");
                }
                self.handle(Event::Verified { hash, valid })
            }
            Internal::Fetched(block) => {
                if !crate::consensus::may_extend(&self.last_finalized, &block.header) || !block.body_matches_header(&block.tx_ids()) {
                    return;
                }
                let header = block.header.clone();
                let hash = header.hash();
                self.bodies.insert(hash, block);
                if let Some(a) = self.awaited.take(&hash) {
                    self.handle(Event::Message(ConsensusMessage::Proposal(a.proposal)));
                }
                self.handle(Event::BlockAvailable { header });
            }
            Internal::AwaitExpired(hash) => {
                if let Some(first) = self.awaited.expire(&hash) {
                    tracing::debug!(%hash, "transactions of a proposal did not arrive by relay; fetching its block");
                    self.request_block(hash, Some(first));
                }
            }
            Internal::TxsVerified(txs) => {
                let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
                let mut inserted = Vec::new();
                for (id, tx) in txs {
                    if state.contains(&id) {
                        continue;
                    }
                    if self.mempool.insert(id, tx).is_err() {
                        break;
                    }
                    inserted.push(id);
                }
                drop(state);
                for (hash, a) in self.awaited.arrived(&inserted) {
                    self.assemble(hash, a.proposal, &a.ids, a.from);
                }
                self.try_build(false);
            }
            Internal::PeerHead { peer, height } => {
                if let Ok(mut live) = self.live.write() {
                    live.best_peer_height = height;
                }
                let behind = height > self.last_finalized.height + 2
                    || (height > self.last_finalized.height && self.head_moved.elapsed() > Duration::from_secs(3));
                if !behind {
                    self.syncing = false;
                    return;
                }
                let from = self.last_finalized.height + 1;
                let net = self.net.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    match net.request_with_timeout(peer, SyncRequest::Blocks { from, max: 128 }, Duration::from_secs(60)).await {
                        Ok(SyncResponse::Blocks(segment)) if !segment.is_empty() => {
                            let _ = tx.send(Internal::Segment(segment));
                        }
                        _ => {
                            let _ = tx.send(Internal::SyncIdle);
                        }
                    }
                });
            }
            Internal::Segment(segment) => {
                self.syncing = false;
                self.apply_segment(segment);
            }
            Internal::SyncIdle => self.syncing = false,
            Internal::Epochs(certs) => {
                for cert in certs {
                    self.on_epoch_certificate(cert);
                }
            }
            Internal::EpochBehind(peer) => {
                let from = self.epochs.current().number + 1;
                self.request_epochs(peer, from);
            }
        }
    }

    fn maybe_sync(&mut self) {
        if self.halted() {
            self.chase_epoch();
            return;
        }
        if self.syncing {
            return;
        }
        let peers = self.net.connected_peers();
        if peers.is_empty() {
            return;
        }
        self.syncing = true;
        let net = self.net.clone();
        let tx = self.internal_tx.clone();
        let faulty = self.core.validators() - self.core.quorum();
        let our_epoch = self.epochs.current().number;
        tokio::spawn(async move {
            let mut claims = Vec::with_capacity(peers.len());
            for peer in peers {
                if let Ok(SyncResponse::Status { height, epoch, .. }) = net.request(peer, SyncRequest::Status).await {
                    claims.push((peer, height));
                    if epoch > our_epoch {
                        let _ = tx.send(Internal::EpochBehind(peer));
                    }
                }
            }
            let _ = tx.send(match vouched_head(claims, faulty) {
                Some((peer, height)) => Internal::PeerHead { peer, height },
                None => Internal::SyncIdle,
            });
        });
    }

    fn apply_segment(&mut self, segment: Vec<StoredBlock>) {
        let first = segment.first().map(|s| s.block.header.height);
        if first != Some(self.last_finalized.height + 1) || self.halted() {
            return; // consensus moved on meanwhile
        }
        match verify_segment(&self.epochs, &self.last_finalized, &segment) {
            Ok((count, finality)) => {
                let blocks: Vec<Block> = segment.into_iter().take(count).map(|s| s.block).collect();
                let Some(tip) = blocks.last().map(|b| b.header.clone()) else { return };
                tracing::info!(from = blocks[0].header.height, to = tip.height, "caught up from a peer");
                self.store_finalized(blocks, finality.clone());
                if let Finality::Certificate(certificate) = finality
                    && !self.halted()
                    && self.last_finalized.hash() == tip.hash()
                {
                    self.handle(Event::Synced { header: tip, finalization: certificate });
                }
            }
            Err(e) => tracing::warn!(error = %e, "refused a block segment from a peer"),
        }
    }
}

/// The head to catch up to, from the heights peers claim: the highest that
/// `faulty + 1` of them claim (so at least one honest validator has it),
/// and the peer to fetch it from: of those claiming at least that, the one
/// claiming least (a liar's huge height puts it last). With fewer answers
/// than that, the lowest claim: a lagging node with one peer left still
/// catches up, and what it fetches is checked by its certificates anyway.
pub(crate) fn vouched_head(mut claims: Vec<(PeerId, u64)>, faulty: usize) -> Option<(PeerId, u64)> {
    claims.sort_by_key(|c| std::cmp::Reverse(c.1));
    let height = claims.get(faulty).or(claims.last())?.1;
    claims.into_iter().filter(|(_, h)| *h >= height).min_by_key(|(_, h)| *h)
}

/// A sync answer stops growing at this many transaction bytes, once it
/// ends with a certified block: a few megabytes per answer.
const SEGMENT_BYTES: usize = 8 << 20;

/// Finalized blocks from `from`, at most `max`, extended to the next block
/// with its own certificate so the segment can be verified on its own (and
/// ending at the last block of an epoch), and
/// never more transaction bytes than `max_payload` (half the genesis message limit)
/// but for its first block: every answer fits in one message, since a block
/// holds at most `max_block_bytes`, which is at most half of it.
fn read_segment(store: &ChainStore, epochs: &Epochs, from: u64, max: u32, max_payload: usize) -> Vec<StoredBlock> {
    let blocks = (from..).map_while(|h| store.block(h).ok().flatten());
    let mut out = Vec::new();
    let mut plan = SegmentPlan::new(max as usize, SEGMENT_BYTES, max_payload);
    for b in blocks {
        let bytes = b.block.txs.iter().map(Transaction::byte_len).sum();
        if !plan.take(bytes, b.finality.is_certified()) {
            break;
        }
        // An answer ends with the last block of an epoch: the blocks after
        // it are checked against the next epoch's validators.
        let ends_epoch = epochs.starting_after(b.block.header.height).is_some();
        out.push(b);
        if plan.done() || ends_epoch {
            break;
        }
    }
    out
}

/// Which blocks a sync answer takes, by their transaction bytes and
/// whether each carries its own certificate (pure, so it is tested alone).
struct SegmentPlan {
    max_blocks: usize,
    enough_bytes: usize,
    hard_bytes: usize,
    blocks: usize,
    bytes: usize,
    done: bool,
}

impl SegmentPlan {
    fn new(max_blocks: usize, enough_bytes: usize, hard_bytes: usize) -> SegmentPlan {
        SegmentPlan { max_blocks, enough_bytes, hard_bytes, blocks: 0, bytes: 0, done: false }
    }

    /// Whether the next block, of `bytes`, joins the answer.
    fn take(&mut self, bytes: usize, certified: bool) -> bool {
        if self.blocks > 0 && self.bytes.saturating_add(bytes) > self.hard_bytes {
            return false;
        }
        self.blocks += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        let enough = self.blocks >= self.max_blocks || self.bytes >= self.enough_bytes;
        self.done = (enough && certified) || self.blocks >= 4 * self.max_blocks;
        true
    }

    fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::{SegmentPlan, vouched_head};
    use libp2p::PeerId;

    /// Issue 17: sync counted transactions, not bytes, so a segment of large
    /// blocks could outgrow the message limit and a lagging node never get it.
    #[test]
    fn a_sync_answer_is_bounded_by_bytes_and_ends_certified() {
        let take = |plan: &mut SegmentPlan, blocks: &[(usize, bool)]| blocks.iter().take_while(|(b, c)| plan.take(*b, *c) && !plan.done()).count();
        // Enough bytes, then on to the next certified block.
        let mut plan = SegmentPlan::new(256, 100, 1_000);
        assert_eq!(take(&mut plan, &[(60, true), (60, false), (60, false), (60, true), (60, true)]), 3);
        assert!(plan.done() && plan.bytes == 240);
        // Never over the hard limit, whatever the certificates: a block that
        // would pass it waits for the next answer.
        let mut plan = SegmentPlan::new(256, 100, 150);
        assert_eq!(take(&mut plan, &[(60, false), (60, false), (60, true)]), 2);
        assert!(!plan.done() && plan.bytes == 120);
        // The first block always goes, so a lagging node always progresses.
        let mut plan = SegmentPlan::new(256, 100, 150);
        assert!(plan.take(140, false));
        assert!(!plan.take(20, true));
        // By count, as before, when the blocks are small.
        let mut plan = SegmentPlan::new(2, 1 << 20, 1 << 30);
        assert_eq!(take(&mut plan, &[(1, true), (1, true), (1, true)]), 1);
        assert_eq!(plan.blocks, 2);
    }

    #[test]
    fn one_peer_claiming_a_huge_height_moves_neither_the_target_nor_the_source() {
        let (liar, a, b) = (PeerId::random(), PeerId::random(), PeerId::random());
        // Four validators tolerate one fault: a height counts when two claim
        // it (the liar and b both claim 41 or more; b is the one asked).
        assert_eq!(vouched_head(vec![(liar, u64::MAX), (a, 40), (b, 41)], 1), Some((b, 41)));
        assert_eq!(vouched_head(vec![(a, 40), (liar, u64::MAX), (b, 40)], 1).map(|(_, h)| h), Some(40));
        // Two honest peers ahead: the target is theirs, fetched from one of them.
        assert_eq!(vouched_head(vec![(liar, u64::MAX), (a, 90), (b, 90)], 1).map(|(_, h)| h), Some(90));
        // One peer left: its word is all there is (its blocks are checked by their certificates).
        assert_eq!(vouched_head(vec![(a, 7)], 1), Some((a, 7)));
        assert_eq!(vouched_head(Vec::new(), 1), None);
    }
}
