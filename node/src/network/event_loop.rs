//! The swarm task: turns handle commands into libp2p requests and swarm
//! events into [`NetEvent`]s, and redials disconnected peers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::request_response::{Event as RrEvent, Message as RrMessage, OutboundFailure, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, ListenError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use super::behaviour::{Behaviour, BehaviourEvent, Frame, Received, encode};
use super::inbox::Inbox;
use super::{
    Command, MAX_IN_FLIGHT_MESSAGES, MAX_REQUEST_TIMEOUT, NetError, NetEvent, PEER_INBOX_CAPACITY, PEER_QUEUE_CAPACITY, PEER_SEND_BUDGET_BYTES,
    Shared, lock,
};

/// Outstanding outbound sync requests before [`NetError::Busy`].
const MAX_PENDING_REQUESTS: usize = 1024;
/// Connect/disconnect events kept while the application's queue is full.
const MAX_CONTROL_BACKLOG: usize = 1024;
/// Consecutive message timeouts after which a peer's connections are closed
/// (and redialled), in case the connection is half-open.
const MAX_CONSECUTIVE_TIMEOUTS: u32 = 3;

/// A one-way message's encoding, shared by the peers of a broadcast.
type Encoded = Arc<[u8]>;

/// Outgoing state of one peer; kept across reconnects so that late results of
/// old in-flight messages are still accounted for.
#[derive(Default)]
struct PeerState {
    connected: bool,
    in_flight: usize,
    queue: VecDeque<Encoded>,
    /// Encoded bytes in flight and queued: at most [`PEER_SEND_BUDGET_BYTES`]
    /// (or one larger message alone).
    bytes: usize,
    consecutive_timeouts: u32,
}

/// Outcome of one outbound one-way message.
enum Outcome {
    Acked,
    TimedOut,
    Failed,
}

type PendingReply<R> = BoxFuture<'static, (ResponseChannel<R>, Option<R>)>;

pub(super) struct EventLoop<M, Q, R>
where
    M: Serialize + DeserializeOwned + Send + Clone + 'static,
    Q: Serialize + DeserializeOwned + Send + Clone + 'static,
    R: Serialize + DeserializeOwned + Send + Clone + 'static,
{
    swarm: Swarm<Behaviour<M, Q, R>>,
    commands: mpsc::Receiver<Command<M, Q, R>>,
    events: mpsc::Sender<NetEvent<M, Q, R>>,
    shared: Arc<Shared>,
    /// Configured dial targets.
    targets: HashMap<PeerId, Vec<Multiaddr>>,
    allowed: HashSet<PeerId>,
    redial_interval: Duration,
    peers: HashMap<PeerId, PeerState>,
    /// One-way messages awaiting their ack, with their encoded size.
    in_flight: HashMap<OutboundRequestId, (PeerId, usize)>,
    /// Sync requests awaiting their response.
    requests: HashMap<OutboundRequestId, oneshot::Sender<Result<R, NetError>>>,
    /// Inbound sync requests awaiting the application's answer.
    replies: FuturesUnordered<PendingReply<R>>,
    /// Connect/disconnect events not yet delivered (application queue full).
    control_backlog: VecDeque<NetEvent<M, Q, R>>,
    /// Peers' messages not yet delivered (application queue full), per peer.
    inbox: Inbox<(M, Received)>,
}

impl<M, Q, R> EventLoop<M, Q, R>
where
    M: Serialize + DeserializeOwned + Send + Clone + 'static,
    Q: Serialize + DeserializeOwned + Send + Clone + 'static,
    R: Serialize + DeserializeOwned + Send + Clone + 'static,
{
    pub(super) fn new(
        swarm: Swarm<Behaviour<M, Q, R>>,
        commands: mpsc::Receiver<Command<M, Q, R>>,
        events: mpsc::Sender<NetEvent<M, Q, R>>,
        shared: Arc<Shared>,
        targets: HashMap<PeerId, Vec<Multiaddr>>,
        allowed: HashSet<PeerId>,
        redial_interval: Duration,
    ) -> Self {
        Self {
            swarm,
            commands,
            events,
            shared,
            targets,
            allowed,
            redial_interval,
            peers: HashMap::new(),
            in_flight: HashMap::new(),
            requests: HashMap::new(),
            replies: FuturesUnordered::new(),
            control_backlog: VecDeque::new(),
            inbox: Inbox::new(PEER_INBOX_CAPACITY),
        }
    }

    pub(super) async fn run(mut self) {
        let mut redial = tokio::time::interval(self.redial_interval);
        redial.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // A second sender to reserve capacity without borrowing `self`.
        let events = self.events.clone();
        let done = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => break None,
                    Some(Command::Shutdown { done }) => break Some(done),
                    Some(command) => self.on_command(command),
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = redial.tick() => self.redial(),
                Some((channel, response)) = self.replies.next(), if !self.replies.is_empty() => {
                    self.on_reply(channel, response);
                }
                permit = events.reserve(), if !self.control_backlog.is_empty() || !self.inbox.is_empty() => {
                    let next = self.control_backlog.pop_front().or_else(|| self.inbox.pop().map(|(from, (message, received))| NetEvent::Message { from, message, received }));
                    match (permit, next) {
                        (Ok(permit), Some(event)) => permit.send(event),
                        (Err(_), _) => {
                            self.control_backlog.clear();
                            self.inbox = Inbox::new(PEER_INBOX_CAPACITY);
                        }
                        (Ok(_), None) => {}
                    }
                }
            }
        };
        tracing::info!(peer = %self.swarm.local_peer_id(), "network stopping");
        lock(&self.shared.connected).clear();
        lock(&self.shared.listen_addrs).clear();
        // Pending requesters see `Shutdown`, the application's receiver ends,
        // and the swarm drop closes the listener and every connection.
        drop(events);
        drop(self);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    fn on_command(&mut self, command: Command<M, Q, R>) {
        match command {
            Command::Send { to, message } => {
                if let Some(encoded) = self.encode(message) {
                    self.enqueue(to, encoded);
                }
            }
            Command::Broadcast { message } => {
                let connected: Vec<PeerId> = self.peers.iter().filter(|(_, state)| state.connected).map(|(peer, _)| *peer).collect();
                tracing::trace!(peers = connected.len(), "broadcast");
                if connected.is_empty() {
                    return;
                }
                if let Some(encoded) = self.encode(message) {
                    for peer in connected {
                        self.enqueue(peer, encoded.clone());
                    }
                }
            }
            Command::Request { to, request, reply } => {
                if !self.swarm.is_connected(&to) {
                    let _ = reply.send(Err(NetError::NotConnected(to)));
                } else if self.requests.len() >= MAX_PENDING_REQUESTS {
                    let _ = reply.send(Err(NetError::Busy));
                } else {
                    let id = self.swarm.behaviour_mut().sync.send_request(&to, request);
                    tracing::debug!(peer = %to, ?id, "sync request sent");
                    self.requests.insert(id, reply);
                }
            }
            Command::AddPeer { peer, addr } => {
                if peer == *self.swarm.local_peer_id() {
                    return;
                }
                let addrs = self.targets.entry(peer).or_default();
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
                self.dial(peer);
            }
            Command::Allow { peers } => {
                for peer in peers {
                    if self.allowed.insert(peer) {
                        tracing::info!(%peer, "peer added to the allowlist");
                        self.swarm.behaviour_mut().allow.allow_peer(peer);
                    }
                }
            }
            // Handled in `run`.
            Command::Shutdown { .. } => {}
        }
    }

    /// Encodes a one-way message once, for every peer it goes to.
    fn encode(&self, message: M) -> Option<Encoded> {
        match encode(message) {
            Ok(encoded) => Some(encoded),
            Err(error) => {
                tracing::warn!(%error, "cannot encode a message; dropping it");
                self.shared.unencodable.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Sends or queues a one-way message; drops it if the peer is not
    /// connected, its queue is full or its byte budget spent. Touches no
    /// other peer's state, so a peer that does not read delays only itself.
    fn enqueue(&mut self, to: PeerId, message: Encoded) {
        let shared = &self.shared;
        let Some(state) = self.peers.get_mut(&to).filter(|s| s.connected) else {
            tracing::debug!(peer = %to, "peer not connected; dropping message");
            shared.not_connected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let size = message.len();
        // A message larger than the whole budget goes alone.
        if state.bytes > 0 && state.bytes.saturating_add(size) > PEER_SEND_BUDGET_BYTES {
            tracing::debug!(peer = %to, outstanding = state.bytes, size, "peer's send budget spent; dropping message");
            shared.over_budget.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if state.in_flight < MAX_IN_FLIGHT_MESSAGES {
            let id = self.swarm.behaviour_mut().msg.send_request(&to, Frame::Outgoing(message));
            state.in_flight += 1;
            self.in_flight.insert(id, (to, size));
        } else if state.queue.len() < PEER_QUEUE_CAPACITY {
            state.queue.push_back(message);
        } else {
            tracing::debug!(peer = %to, "outgoing queue full; dropping message");
            shared.queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.bytes += size;
        shared.send_bytes.fetch_add(size as u64, Ordering::Relaxed);
    }

    /// Accounts for a finished one-way message and sends queued ones.
    fn message_done(&mut self, id: OutboundRequestId, outcome: Outcome) {
        let Some((peer, size)) = self.in_flight.remove(&id) else {
            return;
        };
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        state.bytes -= size;
        self.shared.send_bytes.fetch_sub(size as u64, Ordering::Relaxed);
        match outcome {
            Outcome::Acked => state.consecutive_timeouts = 0,
            Outcome::TimedOut => state.consecutive_timeouts += 1,
            Outcome::Failed => {}
        }
        if state.consecutive_timeouts >= MAX_CONSECUTIVE_TIMEOUTS {
            tracing::info!(%peer, "peer stopped acknowledging messages; closing its connections");
            state.consecutive_timeouts = 0;
            clear_queue(state, &self.shared);
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        while state.connected && state.in_flight < MAX_IN_FLIGHT_MESSAGES {
            let Some(message) = state.queue.pop_front() else {
                break;
            };
            let size = message.len();
            let id = self.swarm.behaviour_mut().msg.send_request(&peer, Frame::Outgoing(message));
            state.in_flight += 1;
            self.in_flight.insert(id, (peer, size));
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent<M, Q, R>>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Msg(event)) => self.on_message_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Allow(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::Limits(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p::ping::Event { peer, connection, result: Err(error) })) => {
                tracing::info!(%peer, %error, "peer stopped answering pings; closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(_)) => {}
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                tracing::debug!(peer = %peer_id, address = %endpoint.get_remote_address(), "connection established");
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, "peer connected");
                    let state = self.peers.entry(peer_id).or_default();
                    state.connected = true;
                    state.consecutive_timeouts = 0;
                    lock(&self.shared.connected).insert(peer_id);
                    self.control_event(NetEvent::Connected(peer_id));
                } else {
                    self.control_event(NetEvent::Reconnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, cause, .. } => {
                tracing::debug!(peer = %peer_id, ?cause, "connection closed");
                if num_established == 0 {
                    tracing::info!(peer = %peer_id, ?cause, "peer disconnected");
                    if let Some(state) = self.peers.get_mut(&peer_id) {
                        state.connected = false;
                        clear_queue(state, &self.shared);
                    }
                    lock(&self.shared.connected).remove(&peer_id);
                    self.control_event(NetEvent::Disconnected(peer_id));
                }
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, peer_id, .. } => match error {
                ListenError::Denied { cause } => {
                    tracing::info!(address = %send_back_addr, ?peer_id, %cause, "incoming connection refused");
                }
                error => {
                    tracing::debug!(address = %send_back_addr, ?peer_id, %error, "incoming connection failed");
                }
            },
            SwarmEvent::OutgoingConnectionError { error: DialError::DialPeerConditionFalse(_), .. } => {}
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, %error, "dial failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                let mut addrs = lock(&self.shared.listen_addrs);
                if !addrs.contains(&address) {
                    addrs.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                lock(&self.shared.listen_addrs).retain(|a| a != &address);
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                tracing::warn!(?reason, "listener closed");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            _ => {}
        }
    }

    fn on_message_event(&mut self, event: RrEvent<Frame<M>, ()>) {
        match event {
            RrEvent::Message { peer, message: RrMessage::Request { request, channel, .. }, .. } => {
                // Ack first: it only paces the sender.
                let _ = self.swarm.behaviour_mut().msg.send_response(channel, ());
                // The codec reads every request as `Incoming`.
                let Frame::Incoming(message, received) = request else {
                    return;
                };
                if !self.allowed.contains(&peer) {
                    tracing::warn!(%peer, "message from a peer outside the allowlist; ignored");
                    return;
                }
                tracing::trace!(%peer, "message received");
                // Straight to the application while nothing waits; else
                // behind the peer's own queued messages, served in turn.
                let request = if self.inbox.is_empty() {
                    match self.events.try_send(NetEvent::Message { from: peer, message, received }) {
                        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                        Err(mpsc::error::TrySendError::Full(NetEvent::Message { message, received, .. })) => (message, received),
                        Err(mpsc::error::TrySendError::Full(_)) => return,
                    }
                } else {
                    (message, received)
                };
                if self.inbox.push(peer, request).is_some() {
                    tracing::debug!(%peer, "this peer's queue is full; dropping its oldest message");
                }
            }
            RrEvent::Message { message: RrMessage::Response { request_id, .. }, .. } => self.message_done(request_id, Outcome::Acked),
            RrEvent::OutboundFailure { peer, request_id, error, .. } => {
                tracing::debug!(%peer, %error, "message not delivered");
                let outcome = match error {
                    OutboundFailure::Timeout => Outcome::TimedOut,
                    _ => Outcome::Failed,
                };
                self.message_done(request_id, outcome);
            }
            RrEvent::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound message failed (undecodable, oversized or aborted)");
            }
            RrEvent::ResponseSent { .. } => {}
        }
    }

    fn on_sync_event(&mut self, event: RrEvent<Q, R>) {
        match event {
            RrEvent::Message { peer, message: RrMessage::Request { request, channel, .. }, .. } => {
                if !self.allowed.contains(&peer) {
                    tracing::warn!(%peer, "sync request from a peer outside the allowlist; refused");
                    return;
                }
                tracing::debug!(%peer, "sync request received");
                let (reply, answer) = oneshot::channel();
                let event = NetEvent::Request { from: peer, request, reply };
                if let Err(e) = self.events.try_send(event) {
                    // Dropping `channel` closes the stream: the requester
                    // gets an error instead of waiting for its timeout.
                    tracing::warn!(%peer, full = matches!(e, mpsc::error::TrySendError::Full(_)), "application cannot take the sync request; refusing it");
                    return;
                }
                self.replies.push(
                    async move {
                        let response = tokio::time::timeout(MAX_REQUEST_TIMEOUT, answer).await;
                        (channel, response.ok().and_then(Result::ok))
                    }
                    .boxed(),
                );
            }
            RrEvent::Message { peer, message: RrMessage::Response { request_id, response }, .. } => {
                tracing::debug!(%peer, ?request_id, "sync response received");
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            RrEvent::OutboundFailure { peer, request_id, error, .. } => {
                tracing::debug!(%peer, ?request_id, %error, "sync request failed");
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Err(map_failure(error)));
                }
            }
            RrEvent::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            RrEvent::ResponseSent { .. } => {}
        }
    }

    /// The application answered (or dropped) an inbound sync request.
    fn on_reply(&mut self, channel: ResponseChannel<R>, response: Option<R>) {
        match response {
            Some(response) => {
                if self.swarm.behaviour_mut().sync.send_response(channel, response).is_err() {
                    tracing::debug!("sync response dropped: request stream already closed");
                }
            }
            None => tracing::debug!("sync request not answered by the application"),
        }
    }

    /// Delivers a connect/disconnect event, keeping it if the queue is full.
    fn control_event(&mut self, event: NetEvent<M, Q, R>) {
        if !self.control_backlog.is_empty() {
            self.push_backlog(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => self.push_backlog(event),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn push_backlog(&mut self, event: NetEvent<M, Q, R>) {
        if self.control_backlog.len() >= MAX_CONTROL_BACKLOG {
            tracing::debug!("connection event backlog full; dropping the oldest");
            self.control_backlog.pop_front();
        }
        self.control_backlog.push_back(event);
    }

    fn redial(&mut self) {
        let disconnected: Vec<PeerId> = self.targets.keys().filter(|peer| !self.swarm.is_connected(peer)).copied().collect();
        for peer in disconnected {
            self.dial(peer);
        }
    }

    fn dial(&mut self, peer: PeerId) {
        let Some(addrs) = self.targets.get(&peer) else {
            return;
        };
        // A fresh source port: reusing the listen port could make two
        // simultaneous dials collide into one TCP simultaneous open.
        let opts = DialOpts::peer_id(peer).condition(PeerCondition::DisconnectedAndNotDialing).addresses(addrs.clone()).allocate_new_port().build();
        match self.swarm.dial(opts) {
            Ok(()) => tracing::trace!(%peer, "dialing"),
            Err(DialError::DialPeerConditionFalse(_)) => {}
            Err(error) => tracing::debug!(%peer, %error, "cannot dial"),
        }
    }
}

/// Drops a peer's queued messages (not its in-flight ones, whose results
/// still come) and their bytes.
fn clear_queue(state: &mut PeerState, shared: &Shared) {
    let queued: usize = state.queue.drain(..).map(|message| message.len()).sum();
    state.bytes -= queued;
    shared.send_bytes.fetch_sub(queued as u64, Ordering::Relaxed);
}

fn map_failure(error: OutboundFailure) -> NetError {
    match error {
        OutboundFailure::Timeout => NetError::Timeout,
        OutboundFailure::ConnectionClosed => NetError::ConnectionClosed,
        OutboundFailure::DialFailure => NetError::ConnectionClosed,
        OutboundFailure::UnsupportedProtocols => NetError::UnsupportedProtocol,
        OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => NetError::NoResponse,
        OutboundFailure::Io(e) => NetError::Io(e),
    }
}
