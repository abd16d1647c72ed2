//! A Byzantine peer for tests: a slow reader. It holds a validator's key,
//! connects like one (TCP, Noise, Yamux) and keeps its connections open by
//! answering pings, but never reads a one-way message: it accepts each
//! message stream and leaves it unread, so the sender's writes stall on Yamux
//! flow control and no message is ever acknowledged. It speaks no other
//! protocol (sync requests to it fail at once).
//!
//! Not used by the validator; tests of the network module and
//! `tests/byzantine.rs` start it against honest validators.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite, StreamExt};
use libp2p::request_response::{self, Codec, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, SwarmBuilder, identity, noise, ping, tcp, yamux};
use tokio::task::JoinHandle;

use super::{MESSAGE_PROTOCOL, NetError, error_chain, peer_of_addr};

/// Long enough that no unread stream is given up during a test.
const NEVER: Duration = Duration::from_secs(24 * 3600);
/// Unread message streams held per connection.
const MAX_UNREAD_STREAMS: usize = 100_000;

/// Accepts a message stream and never reads it.
#[derive(Clone)]
struct NeverReads {
    unread: Arc<AtomicU64>,
}

impl Codec for NeverReads {
    type Protocol = StreamProtocol;
    type Request = ();
    type Response = ();

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<()>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.unread.fetch_add(1, Ordering::Relaxed);
        futures::future::pending().await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<()>
    where
        T: AsyncRead + Unpin + Send,
    {
        futures::future::pending().await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, _: &mut T, _: ()) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Ok(())
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, _: &mut T, _: ()) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
}

#[derive(NetworkBehaviour)]
struct SlowBehaviour {
    msg: request_response::Behaviour<NeverReads>,
    ping: ping::Behaviour,
}

/// A running slow reader; stopped when dropped.
pub struct SlowReader {
    task: JoinHandle<()>,
    unread: Arc<AtomicU64>,
    connected: Arc<AtomicU64>,
    listen_addr: Multiaddr,
}

impl SlowReader {
    /// Message streams accepted and left unread so far.
    pub fn unread(&self) -> u64 {
        self.unread.load(Ordering::Relaxed)
    }

    /// Peers it holds a connection to now.
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }

    /// The address it listens on (port 0 resolved).
    pub fn listen_addr(&self) -> &Multiaddr {
        &self.listen_addr
    }
}

impl Drop for SlowReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a slow reader with the ed25519 `secret_key`, listening on `listen`
/// and dialling `peers` (each ending in `/p2p/<peer id>`) whenever it is not
/// connected to them.
pub async fn spawn(secret_key: [u8; 32], listen: Multiaddr, peers: Vec<Multiaddr>) -> Result<SlowReader, NetError> {
    let mut seed = secret_key;
    let keypair = identity::Keypair::ed25519_from_bytes(&mut seed).map_err(|e| NetError::InvalidKey(e.to_string()))?;
    let mut targets: HashMap<PeerId, Multiaddr> = HashMap::new();
    for addr in peers {
        targets.insert(peer_of_addr(&addr)?, addr);
    }
    let unread = Arc::new(AtomicU64::new(0));
    let msg = request_response::Behaviour::with_codec(
        NeverReads { unread: unread.clone() },
        [(StreamProtocol::new(MESSAGE_PROTOCOL), ProtocolSupport::Inbound)],
        request_response::Config::default().with_request_timeout(NEVER).with_max_concurrent_streams(MAX_UNREAD_STREAMS),
    );
    let ping = ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(1)));
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_behaviour(|_| SlowBehaviour { msg, ping })
        .map_err(|e| NetError::Transport(format!("{e:?}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(NEVER).with_max_negotiating_inbound_streams(MAX_UNREAD_STREAMS))
        .build();
    let listen_err = |reason: String| NetError::Listen { addr: listen.clone(), reason };
    swarm.listen_on(listen.clone()).map_err(|e| listen_err(error_chain(&e)))?;
    let listen_addr = loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => break address,
            SwarmEvent::ListenerClosed { reason, .. } => return Err(listen_err(format!("listener closed: {reason:?}"))),
            SwarmEvent::ListenerError { error, .. } => return Err(listen_err(error_chain(&error))),
            _ => {}
        }
    };
    let connected = Arc::new(AtomicU64::new(0));
    let count = connected.clone();
    let task = tokio::spawn(async move {
        let mut redial = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                event = swarm.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { num_established, .. } if num_established.get() == 1 => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    SwarmEvent::ConnectionClosed { num_established: 0, .. } => {
                        count.fetch_sub(1, Ordering::Relaxed);
                    }
                    _ => {}
                },
                _ = redial.tick() => {
                    for (peer, addr) in &targets {
                        let opts = DialOpts::peer_id(*peer).condition(PeerCondition::DisconnectedAndNotDialing).addresses(vec![addr.clone()]).build();
                        let _ = swarm.dial(opts);
                    }
                }
            }
        }
    });
    Ok(SlowReader { task, unread, connected, listen_addr })
}
