//! The libp2p behaviour of the network adapter and the swarm built around it.

use std::collections::HashSet;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt, FutureExt};

use libp2p::allow_block_list::{self, AllowedPeers};
use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::core::upgrade::Version;
use libp2p::request_response::{self, Codec, ProtocolSupport, cbor};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{PeerId, StreamProtocol, Swarm, SwarmBuilder, identity, noise, ping, tcp, yamux};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{MAX_CONNECTIONS_PER_PEER, MAX_IN_FLIGHT_MESSAGES, MAX_REQUEST_TIMEOUT, MESSAGE_PROTOCOL, NetError, NetworkConfig, SYNC_PROTOCOL};

/// Response of the message protocol: an empty acknowledgement.
pub(super) type Ack = ();

/// A one-way message on the wire: encoded once by the sender (a broadcast
/// shares one encoding among its peers, and the encoding's length is what
/// the per-peer byte budget counts), decoded by the receiver.
pub(super) enum Frame<M> {
    Outgoing(Arc<[u8]>),
    Incoming(M, Received),
}

/// The CBOR encoding of `message`, exactly as [`cbor::codec::Codec`] writes
/// it on the stream.
pub(super) fn encode<M: Serialize + DeserializeOwned + Send>(message: M) -> io::Result<Arc<[u8]>> {
    let mut bytes = Vec::new();
    let protocol = StreamProtocol::new(MESSAGE_PROTOCOL);
    // Writing to a `Vec` never waits.
    match cbor::codec::Codec::<M, Ack>::default().write_request(&protocol, &mut bytes, message).now_or_never() {
        Some(Ok(())) => Ok(bytes.into()),
        Some(Err(e)) => Err(e),
        None => Err(io::Error::other("encoding into memory did not complete")),
    }
}

/// [`cbor::codec::Codec`] for one-way messages, writing the sender's
/// encoding as it is and reading within its connection's [`ReadBudget`].
///
/// libp2p clones the behaviour's codec once for each connection and then
/// clones that connection's codec once for each stream: so the clone of a
/// codec without a budget (the behaviour's) starts a connection's budget, and
/// every later clone shares it. (A test, `a_peer_flooding_large_messages_…`
/// in network.rs, fails if that ever changes.)
pub(super) struct MessageCodec<M> {
    cbor: cbor::codec::Codec<M, Ack>,
    budget: Budget,
}

enum Budget {
    /// The behaviour's codec: it reads nothing itself.
    Behaviour {
        limit: usize,
        stats: Arc<ReadStats>,
    },
    Connection(Arc<ReadBudget>),
}

impl<M> MessageCodec<M> {
    pub(super) fn new(max_message_bytes: usize, budget_bytes: usize, stats: Arc<ReadStats>) -> Self {
        let max = u64::try_from(max_message_bytes).unwrap_or(u64::MAX);
        Self {
            cbor: cbor::codec::Codec::default().set_request_size_maximum(max).set_response_size_maximum(ACK_MAX_BYTES),
            budget: Budget::Behaviour { limit: budget_bytes, stats },
        }
    }
}

impl<M> Clone for MessageCodec<M> {
    fn clone(&self) -> Self {
        let budget = match &self.budget {
            Budget::Behaviour { limit, stats } => {
                Budget::Connection(Arc::new(ReadBudget { held: AtomicUsize::new(0), limit: *limit, stats: stats.clone() }))
            }
            Budget::Connection(budget) => Budget::Connection(budget.clone()),
        };
        Self { cbor: self.cbor.clone(), budget }
    }
}

/// What all connections hold of received messages, and what they refused.
#[derive(Default)]
pub(super) struct ReadStats {
    /// Encoded bytes read and not yet handled by the application.
    pub(super) held: AtomicU64,
    /// Messages refused because their connection's budget was spent.
    pub(super) over_budget: AtomicU64,
}

/// The bytes of one connection's messages that are read, or being read, and
/// not yet handled by the application (a [`Received`] is dropped when it is).
/// A message that would pass the limit is refused: its stream is reset, the
/// sender sees it as not delivered, and nothing of it is kept.
pub(super) struct ReadBudget {
    held: AtomicUsize,
    limit: usize,
    stats: Arc<ReadStats>,
}

impl ReadBudget {
    fn take(&self, bytes: usize) -> bool {
        let taken =
            self.held.fetch_update(AtomicOrdering::AcqRel, AtomicOrdering::Acquire, |h| h.checked_add(bytes).filter(|t| *t <= self.limit)).is_ok();
        if taken {
            self.stats.held.fetch_add(bytes as u64, AtomicOrdering::Relaxed);
        }
        taken
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, AtomicOrdering::AcqRel);
        self.stats.held.fetch_sub(bytes as u64, AtomicOrdering::Relaxed);
    }
}

/// The share of its connection's [`ReadBudget`] that one received message
/// holds, given back when this is dropped: it travels with the message to
/// the application ([`super::NetEvent::Message`]).
pub struct Received {
    budget: Arc<ReadBudget>,
    bytes: usize,
}

impl Received {
    /// Encoded bytes of the message.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Received({} bytes)", self.bytes)
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// A stream read that takes each chunk's bytes from the connection's budget
/// before the codec keeps them.
struct Metered<'a, T> {
    io: &'a mut T,
    held: &'a mut Received,
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<'_, T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = match Pin::new(&mut *this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        let budget = &this.held.budget;
        if !budget.take(n) {
            budget.stats.over_budget.fetch_add(1, AtomicOrdering::Relaxed);
            return Poll::Ready(Err(io::Error::other(format!(
                "the connection's unhandled messages would pass its read budget of {} bytes",
                budget.limit
            ))));
        }
        this.held.bytes += n;
        Poll::Ready(Ok(n))
    }
}

impl<M> Codec for MessageCodec<M>
where
    M: Serialize + DeserializeOwned + Send,
{
    type Protocol = StreamProtocol;
    type Request = Frame<M>;
    type Response = Ack;

    async fn read_request<T>(&mut self, protocol: &StreamProtocol, io: &mut T) -> io::Result<Frame<M>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let Budget::Connection(budget) = &self.budget else {
            return Err(io::Error::other("the behaviour's codec reads no stream"));
        };
        let mut held = Received { budget: budget.clone(), bytes: 0 };
        let message = self.cbor.read_request(protocol, &mut Metered { io, held: &mut held }).await?;
        Ok(Frame::Incoming(message, held))
    }
    async fn read_response<T>(&mut self, protocol: &StreamProtocol, io: &mut T) -> io::Result<Ack>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.cbor.read_response(protocol, io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, frame: Frame<M>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match frame {
            Frame::Outgoing(bytes) => io.write_all(&bytes).await,
            Frame::Incoming(..) => Err(io::Error::other("a received message is not sent on")),
        }
    }

    async fn write_response<T>(&mut self, protocol: &StreamProtocol, io: &mut T, ack: Ack) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.cbor.write_response(protocol, io, ack).await
    }
}

/// Time for one one-way message (write it and read its ack).
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Size limit of an encoded ack (CBOR `null` is one byte).
const ACK_MAX_BYTES: u64 = 64;
/// Size limit of an encoded sync request.
pub(super) const MAX_SYNC_REQUEST_BYTES: u64 = 4 * 1024;
/// Concurrent sync streams per connection (both directions).
const MAX_SYNC_STREAMS: usize = 64;
/// Time to dial and finish the Noise and Yamux handshakes.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections still in their handshake, per direction.
const MAX_PENDING_CONNECTIONS: u32 = 16;
/// A connection whose peer has not answered a ping within PING_TIMEOUT is
/// closed (and redialled): a cut link or a paused peer leaves a TCP
/// connection that looks open but carries nothing.
const PING_INTERVAL: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour<M, Q, R>
where
    M: Serialize + DeserializeOwned + Send + 'static,
    Q: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    /// First, so a non-allowed peer is refused before anything else sees it.
    pub(super) allow: allow_block_list::Behaviour<AllowedPeers>,
    pub(super) limits: connection_limits::Behaviour,
    pub(super) msg: request_response::Behaviour<MessageCodec<M>>,
    pub(super) sync: cbor::Behaviour<Q, R>,
    pub(super) ping: ping::Behaviour,
}

/// Peers the allowlist may gain at run time before the connection limit
/// binds (a restart sizes it anew).
const JOINING_PEERS: u32 = 16;

pub(super) fn build_swarm<M, Q, R>(
    keypair: identity::Keypair,
    config: &NetworkConfig,
    allowed: &HashSet<PeerId>,
    read_stats: Arc<ReadStats>,
) -> Result<Swarm<Behaviour<M, Q, R>>, NetError>
where
    M: Serialize + DeserializeOwned + Send + 'static,
    Q: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    let max_bytes = u64::try_from(config.max_message_bytes).unwrap_or(u64::MAX);

    let mut allow = allow_block_list::Behaviour::<AllowedPeers>::default();
    for peer in allowed {
        allow.allow_peer(*peer);
    }

    // Both sides may dial each other at once, hence two per peer; room for
    // validators that join later (`NetworkHandle::allow`).
    let peers = u32::try_from(allowed.len()).unwrap_or(u32::MAX).saturating_add(JOINING_PEERS);
    let limits = connection_limits::Behaviour::new(
        ConnectionLimits::default()
            .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
            .with_max_established(Some(peers.saturating_mul(MAX_CONNECTIONS_PER_PEER)))
            .with_max_pending_incoming(Some(MAX_PENDING_CONNECTIONS))
            .with_max_pending_outgoing(Some(MAX_PENDING_CONNECTIONS.max(peers * 2))),
    );

    // Each connection carries our in-flight messages plus the peer's.
    let msg = request_response::Behaviour::with_codec(
        MessageCodec::new(config.max_message_bytes, config.max_message_bytes, read_stats),
        [(StreamProtocol::new(MESSAGE_PROTOCOL), ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(MESSAGE_TIMEOUT).with_max_concurrent_streams(2 * MAX_IN_FLIGHT_MESSAGES + 16),
    );
    let sync = cbor::Behaviour::with_codec(
        // Requests are a few bytes (a height, a hash); answers may be large,
        // but only those this validator asked for arrive.
        cbor::codec::Codec::default().set_request_size_maximum(MAX_SYNC_REQUEST_BYTES).set_response_size_maximum(max_bytes),
        [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(MAX_REQUEST_TIMEOUT).with_max_concurrent_streams(MAX_SYNC_STREAMS),
    );
    let ping = ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL).with_timeout(PING_TIMEOUT));
    let behaviour = Behaviour { allow, limits, msg, sync, ping };

    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetError::Transport(format!("{e:?}")))?
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(Duration::from_secs(u64::MAX))
                // Send the first request bytes with the protocol proposal
                // instead of waiting one round trip for its confirmation.
                .with_substream_upgrade_protocol_override(Version::V1Lazy)
                .with_max_negotiating_inbound_streams(2 * MAX_IN_FLIGHT_MESSAGES + 16)
        })
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    Ok(swarm)
}
