//! Integration tests of the libp2p networking adapter, on 127.0.0.1 with
//! ephemeral ports. Every wait polls with a deadline.

use std::collections::HashSet;
use std::time::Duration;

use coldchain_node::network::*;
use ed25519_dalek::SigningKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Ping(u64, Vec<u8>);

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct GetBlock(u64);

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Block(u64, Vec<u8>);

type Handle = NetworkHandle<Ping, GetBlock, Block>;
type Events = mpsc::Receiver<NetEvent<Ping, GetBlock, Block>>;

/// Generous bound for anything that should take milliseconds.
const DEADLINE: Duration = Duration::from_secs(15);
const REDIAL: Duration = Duration::from_millis(200);

fn seed(i: u8) -> [u8; 32] {
    [i; 32]
}

/// Peer id of validator `i`, derived from its ed25519-dalek public key.
fn pid(i: u8) -> PeerId {
    let public = SigningKey::from_bytes(&seed(i)).verifying_key().to_bytes();
    peer_id_of(&public)
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

fn config(i: u8, listen: Multiaddr, peers: Vec<Multiaddr>, allowed: &[u8]) -> NetworkConfig {
    NetworkConfig {
        secret_key: seed(i),
        listen,
        peers,
        allowed: allowed.iter().map(|&j| pid(j)).collect(),
        max_message_bytes: 64 << 20,
        redial_interval: REDIAL,
    }
}

async fn start(i: u8, peers: Vec<Multiaddr>, allowed: &[u8]) -> (Handle, Events) {
    spawn(config(i, loopback(), peers, allowed)).await.unwrap()
}

/// The address others dial: the bound address plus `/p2p/<peer id>`.
fn dial_addr<M, Q, R>(handle: &NetworkHandle<M, Q, R>) -> Multiaddr
where
    M: Serialize + serde::de::DeserializeOwned + Send + Clone + 'static,
    Q: Serialize + serde::de::DeserializeOwned + Send + Clone + 'static,
    R: Serialize + serde::de::DeserializeOwned + Send + Clone + 'static,
{
    let addr = handle.listen_addrs().first().cloned().expect("listening");
    addr.with(Protocol::P2p(handle.local_peer_id()))
}

/// Polls `condition` every 10 ms until it holds or `DEADLINE` passes.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn connected(handle: &Handle) -> HashSet<PeerId> {
    handle.connected_peers().into_iter().collect()
}

/// Next one-way message, skipping other events; `None` at the deadline.
async fn next_message(events: &mut Events, within: Duration) -> Option<(PeerId, Ping)> {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(NetEvent::Message { from, message, .. })) => return Some((from, message)),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Receives messages until `wanted` arrives; returns everything received.
async fn receive_until(events: &mut Events, wanted: &Ping) -> Vec<(PeerId, Ping)> {
    let mut seen = Vec::new();
    loop {
        let got = next_message(events, DEADLINE).await.unwrap_or_else(|| panic!("{wanted:?} not delivered; got {seen:?}"));
        let done = &got.1 == wanted;
        seen.push(got);
        if done {
            return seen;
        }
    }
}

/// Three validators 1, 2, 3: 2 dials 1, 3 dials 1 and 2.
async fn mesh() -> [(Handle, Events); 3] {
    let a = start(1, vec![], &[2, 3]).await;
    let b = start(2, vec![dial_addr(&a.0)], &[1, 3]).await;
    let c = start(3, vec![dial_addr(&a.0), dial_addr(&b.0)], &[1, 2]).await;
    for (node, others) in [(&a.0, [2, 3]), (&b.0, [1, 3]), (&c.0, [1, 2])] {
        let want: HashSet<PeerId> = others.iter().map(|&j| pid(j)).collect();
        eventually("full mesh", || connected(node) == want).await;
    }
    [a, b, c]
}

#[tokio::test]
async fn identity_is_the_validator_key() {
    let (a, _events) = start(1, vec![], &[]).await;
    assert_eq!(a.local_peer_id(), pid(1));
    assert!(!a.listen_addrs().is_empty());
    let port = a.listen_addrs()[0].iter().find_map(|p| match p {
        Protocol::Tcp(port) => Some(port),
        _ => None,
    });
    assert!(matches!(port, Some(p) if p != 0), "port 0 resolved");
}

#[tokio::test]
async fn bad_config_is_rejected() {
    let no_peer_id: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    let result = spawn::<Ping, GetBlock, Block>(config(1, loopback(), vec![no_peer_id], &[2])).await;
    assert!(matches!(result, Err(NetError::InvalidPeerAddress(_))));
}

#[tokio::test]
async fn broadcast_reaches_all_and_send_reaches_one() {
    let [(a, mut a_events), (b, mut b_events), (c, mut c_events)] = mesh().await;

    a.broadcast(Ping(1, b"hello".to_vec()));
    for events in [&mut b_events, &mut c_events] {
        let got = next_message(events, DEADLINE).await.expect("broadcast delivered");
        assert_eq!(got, (pid(1), Ping(1, b"hello".to_vec())));
    }

    // A direct message reaches its target only: C then gets a marker and
    // must not have seen message 2 before it.
    a.send(pid(2), Ping(2, vec![]));
    assert_eq!(receive_until(&mut b_events, &Ping(2, vec![])).await.len(), 1);
    a.send(pid(3), Ping(3, vec![]));
    let seen_by_c = receive_until(&mut c_events, &Ping(3, vec![])).await;
    assert_eq!(seen_by_c, vec![(pid(1), Ping(3, vec![]))]);

    // Every direction works, and nobody hears from itself.
    c.broadcast(Ping(4, vec![]));
    b.send(pid(1), Ping(5, vec![]));
    let seen_by_a = receive_until(&mut a_events, &Ping(4, vec![])).await;
    assert!(seen_by_a.iter().all(|(from, _)| *from != pid(1)));
    assert_eq!(receive_until(&mut b_events, &Ping(4, vec![])).await.len(), 1);
}

#[tokio::test]
async fn connect_events_are_reported_once_per_peer() {
    let [(_a, mut a_events), _b, _c] = mesh().await;
    let mut connected_events = Vec::new();
    while let Ok(event) = a_events.try_recv() {
        if let NetEvent::Connected(peer) = event {
            connected_events.push(peer);
        }
    }
    connected_events.sort();
    let mut want = vec![pid(2), pid(3)];
    want.sort();
    assert_eq!(connected_events, want);
}

#[tokio::test]
async fn requests_are_answered_refused_or_time_out() {
    let (server, mut server_events) = start(1, vec![], &[2]).await;
    let (client, _client_events) = start(2, vec![dial_addr(&server)], &[1]).await;
    eventually("connected", || connected(&client).contains(&pid(1))).await;

    // Height 0: refuse (drop reply). Height 1: hold the reply forever.
    // Otherwise answer.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(event) = server_events.recv().await {
            if let NetEvent::Request { from, request, reply } = event {
                assert_eq!(from, pid(2));
                match request.0 {
                    0 => drop(reply),
                    1 => held.push(reply),
                    h => {
                        let _ = reply.send(Block(h, vec![h as u8; 100]));
                    }
                }
            }
        }
    });

    let answered = client.request(pid(1), GetBlock(7)).await.unwrap();
    assert_eq!(answered, Block(7, vec![7; 100]));

    let refused = timeout(DEADLINE, client.request(pid(1), GetBlock(0))).await.expect("a refused request must not hang");
    assert!(matches!(refused, Err(NetError::NoResponse)), "{refused:?}");

    let started = Instant::now();
    let held = client.request_with_timeout(pid(1), GetBlock(1), Duration::from_millis(300)).await;
    assert!(matches!(held, Err(NetError::Timeout)), "{held:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let stranger = client.request(pid(9), GetBlock(7)).await;
    assert!(matches!(stranger, Err(NetError::NotConnected(p)) if p == pid(9)));

    // Many concurrent requests all get their own answer.
    let many = futures::future::join_all((10..60).map(|h| client.request(pid(1), GetBlock(h)))).await;
    for (h, response) in (10..60).zip(many) {
        assert_eq!(response.unwrap().0, h);
    }
}

#[tokio::test]
async fn peers_outside_the_allowlist_cannot_deliver() {
    // 1 allows only 2. Intruder 9 has a valid key and allows 1, but is not
    // allowed by 1; it keeps redialling and sending.
    let (a, mut a_events) = start(1, vec![], &[2]).await;
    let (b, _b_events) = start(2, vec![dial_addr(&a)], &[1]).await;
    let (x, _x_events) = start(9, vec![dial_addr(&a)], &[1]).await;
    eventually("allowed peer connected", || connected(&a).contains(&pid(2))).await;

    // Keep both sending for several redial periods; each round waits for the
    // allowed peer's control message, and nothing may come from 9.
    let started = Instant::now();
    let mut round = 0u64;
    while round < 10 || started.elapsed() < REDIAL * 5 {
        round += 1;
        x.send(pid(1), Ping(666, vec![]));
        x.broadcast(Ping(667, vec![]));
        b.send(pid(1), Ping(round, vec![]));
        let seen = receive_until(&mut a_events, &Ping(round, vec![])).await;
        assert!(seen.iter().all(|(from, _)| *from == pid(2)), "message from a peer outside the allowlist: {seen:?}");
        assert!(!connected(&a).contains(&pid(9)));
        let refused = x.request_with_timeout(pid(1), GetBlock(1), Duration::from_millis(100)).await;
        assert!(refused.is_err());
    }
    assert_eq!(connected(&a), HashSet::from([pid(2)]));
    while let Ok(event) = a_events.try_recv() {
        match event {
            NetEvent::Message { from, .. } | NetEvent::Request { from, .. } => {
                assert_eq!(from, pid(2))
            }
            NetEvent::Connected(peer) | NetEvent::Reconnected(peer) | NetEvent::Disconnected(peer) => assert_eq!(peer, pid(2)),
        }
    }
}

#[tokio::test]
async fn restarted_peer_is_reconnected() {
    let [(a, a_events), (b, mut b_events), (c, mut c_events)] = mesh().await;
    let a_listen = a.listen_addrs()[0].clone();

    // Dropping every handle (and the event receiver) stops the swarm.
    drop((a, a_events));
    eventually("peers notice the stop", || !connected(&b).contains(&pid(1)) && !connected(&c).contains(&pid(1))).await;

    // Same key, same address; only the others know where it is.
    let restarted = Instant::now();
    let (a, mut a_events) = spawn::<Ping, GetBlock, Block>(config(1, a_listen.clone(), vec![], &[2, 3])).await.unwrap();
    assert_eq!(a.listen_addrs(), vec![a_listen]);
    let both = HashSet::from([pid(2), pid(3)]);
    eventually("reconnected", || connected(&a) == both && connected(&b).contains(&pid(1)) && connected(&c).contains(&pid(1))).await;
    // Redial every 200 ms: well within the ~2 s the validators need.
    assert!(restarted.elapsed() < Duration::from_secs(3), "{:?}", restarted.elapsed());

    b.send(pid(1), Ping(7, vec![]));
    receive_until(&mut a_events, &Ping(7, vec![])).await;
    a.broadcast(Ping(8, vec![]));
    receive_until(&mut b_events, &Ping(8, vec![])).await;
    receive_until(&mut c_events, &Ping(8, vec![])).await;
}

#[tokio::test]
async fn shutdown_disconnects_and_makes_handles_inert() {
    let (a, mut a_events) = start(1, vec![], &[2]).await;
    let (b, mut b_events) = start(2, vec![dial_addr(&a)], &[1]).await;
    eventually("connected", || connected(&a).contains(&pid(2))).await;

    let b_clone = b.clone();
    b.shutdown().await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, a_events.recv()).await {
            Ok(Some(NetEvent::Disconnected(peer))) => {
                assert_eq!(peer, pid(2));
                break;
            }
            Ok(Some(_)) => continue,
            other => panic!("no Disconnected event: {other:?}"),
        }
    }
    assert!(b_clone.connected_peers().is_empty());
    b_clone.send(pid(1), Ping(1, vec![]));
    assert!(matches!(b_clone.request(pid(1), GetBlock(1)).await, Err(NetError::Shutdown)));
    assert!(connected(&a).is_empty());
    // The stopped node's event stream ends.
    let ended = timeout(DEADLINE, async { while b_events.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "event stream still open after shutdown");
}

#[tokio::test]
async fn simultaneous_dials_are_harmless() {
    let (a, mut a_events) = start(1, vec![], &[2]).await;
    let (b, mut b_events) = start(2, vec![], &[1]).await;
    a.add_peer(dial_addr(&b)).unwrap();
    b.add_peer(dial_addr(&a)).unwrap();
    eventually("connected both ways", || connected(&a).contains(&pid(2)) && connected(&b).contains(&pid(1))).await;

    for i in 0..20 {
        a.send(pid(2), Ping(i, vec![]));
        b.send(pid(1), Ping(i, vec![]));
    }
    let mut from_a: Vec<u64> = receive_until(&mut b_events, &Ping(19, vec![])).await.iter().map(|m| m.1.0).collect();
    let mut from_b: Vec<u64> = receive_until(&mut a_events, &Ping(19, vec![])).await.iter().map(|m| m.1.0).collect();
    // Streams may complete out of order: collect the stragglers too.
    while from_a.len() < 20 {
        from_a.push(next_message(&mut b_events, DEADLINE).await.expect("all delivered").1.0);
    }
    while from_b.len() < 20 {
        from_b.push(next_message(&mut a_events, DEADLINE).await.expect("all delivered").1.0);
    }
    from_a.sort();
    from_b.sort();
    assert_eq!(from_a, (0..20).collect::<Vec<_>>());
    assert_eq!(from_b, (0..20).collect::<Vec<_>>());
    assert_eq!(a.connected_peers(), vec![pid(2)]);
}

#[tokio::test]
async fn large_messages_and_responses_are_delivered() {
    let (a, mut a_events) = start(1, vec![], &[2]).await;
    let (b, _b_events) = start(2, vec![dial_addr(&a)], &[1]).await;
    eventually("connected", || connected(&b).contains(&pid(1))).await;

    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    b.send(pid(1), Ping(42, payload.clone()));
    let (from, message) = next_message(&mut a_events, DEADLINE).await.expect("large message");
    assert_eq!(from, pid(2));
    assert_eq!(message.0, 42);
    assert!(message.1 == payload, "payload intact");

    let block = payload.clone();
    tokio::spawn(async move {
        while let Some(event) = a_events.recv().await {
            if let NetEvent::Request { request, reply, .. } = event {
                let _ = reply.send(Block(request.0, block.clone()));
            }
        }
    });
    let response = b.request(pid(1), GetBlock(3)).await.unwrap();
    assert_eq!(response.0, 3);
    assert!(response.1 == payload, "response intact");
}

#[tokio::test]
async fn oversized_and_undecodable_messages_are_dropped() {
    // 1 accepts at most 1 MiB.
    let mut small = config(1, loopback(), vec![], &[2, 3]);
    small.max_message_bytes = 1 << 20;
    let (a, mut a_events) = spawn::<Ping, GetBlock, Block>(small).await.unwrap();
    let (b, _b_events) = start(2, vec![dial_addr(&a)], &[1]).await;
    // Peer 3 speaks the same protocols with another message type.
    let (c, _c_events) = spawn::<String, GetBlock, Block>(config(3, loopback(), vec![dial_addr(&a)], &[1])).await.unwrap();
    eventually("connected", || connected(&a).len() == 2).await;

    b.send(pid(1), Ping(1, vec![7; 2 << 20]));
    c.send(pid(1), "not a ping".to_string());
    b.send(pid(1), Ping(2, vec![7; 1000]));
    let seen = receive_until(&mut a_events, &Ping(2, vec![7; 1000])).await;
    assert_eq!(seen.len(), 1, "only the valid message arrives");

    // Neither kills the connection.
    c.send(pid(1), "still not a ping".to_string());
    b.send(pid(1), Ping(3, vec![]));
    receive_until(&mut a_events, &Ping(3, vec![])).await;
    assert_eq!(connected(&a), HashSet::from([pid(2), pid(3)]));
}

#[tokio::test]
async fn bursts_of_small_messages_are_delivered() {
    let [(a, mut a_events), (b, _b_events), (c, _c_events)] = mesh().await;
    const N: u64 = 2000;
    for i in 0..N {
        b.send(pid(1), Ping(i, vec![1; 200]));
        c.send(pid(1), Ping(N + i, vec![1; 200]));
    }
    let mut got = HashSet::new();
    while got.len() < 2 * N as usize {
        let (_, Ping(i, _)) =
            next_message(&mut a_events, DEADLINE).await.unwrap_or_else(|| panic!("only {} of {} messages arrived", got.len(), 2 * N));
        got.insert(i);
    }
    drop(a);
}
