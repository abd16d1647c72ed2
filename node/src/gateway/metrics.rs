//! `GET /metrics` (Prometheus text format) and `GET /readyz`.
//!
//! Chain and consensus figures are read from the node's live status when
//! scraped; gateway requests are counted by route template and outcome
//! (`ok`, `client_error`, `server_error`) with a latency histogram, by a
//! middleware around every route, which also writes the interface log
//! (seed 004 §5): one line per request, target
//! `coldchain_node::gateway::interface_log`, with the caller (client IP and the
//! `appid` header if any), method, route template (never the query string),
//! status, outcome and duration in milliseconds (to the response head: a
//! stream's line is written when it starts). Never headers such as
//! `signature` or `authorization`, and never bodies.

use super::Gateway;
use super::envelope::ok;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// The node's metrics: the registry and the handles that are updated.
pub struct Metrics {
    registry: Registry,
    height: Gauge,
    view: Gauge,
    epoch: Gauge,
    finalized_blocks: Gauge,
    finalized_txs: Gauge,
    mempool: Gauge,
    peers: Gauge,
    votes_sent: Gauge,
    votes_received: Gauge,
    sync_lag: Gauge,
    idle: Gauge,
    body_log: Gauge,
    body_log_garbage: Gauge,
    body_log_reclaimed: Gauge,
    refused: Family<ReasonLabels, Gauge>,
    send_dropped: Family<ReasonLabels, Gauge>,
    send_bytes: Gauge,
    read_bytes: Gauge,
    read_refused: Gauge,
    requests: Family<RouteLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("coldchain");
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let height = gauge(&mut registry, "height", "Height of the last finalized block");
        let view = gauge(&mut registry, "view", "Current consensus view");
        let epoch = gauge(&mut registry, "epoch", "The newest validator-set epoch this node holds a certificate of (0: genesis's validators)");
        let finalized_blocks = gauge(&mut registry, "finalized_blocks", "Blocks finalized since the process started");
        let finalized_txs = gauge(&mut registry, "finalized_transactions", "Transactions finalized since the process started");
        let mempool = gauge(&mut registry, "mempool_transactions", "Transactions waiting in the mempool");
        let peers = gauge(&mut registry, "connected_peers", "Validators connected over libp2p");
        let votes_sent = gauge(&mut registry, "votes_sent", "Consensus votes broadcast since the process started");
        let votes_received = gauge(&mut registry, "votes_received", "Consensus votes received since the process started");
        let sync_lag = gauge(&mut registry, "sync_lag_blocks", "Blocks between the highest height a peer reported and this node's");
        let idle = gauge(&mut registry, "consensus_idle", "1 while the consensus is idle (no work, nobody active in the view: no blocks are made)");
        let body_log = gauge(&mut registry, "body_log_bytes", "Bytes in the block-body log's files");
        let body_log_garbage = gauge(
            &mut registry,
            "body_log_garbage_bytes",
            "Bytes of the body log that are bodies of proposals that never became final, not yet reclaimed",
        );
        let body_log_reclaimed = gauge(&mut registry, "body_log_reclaimed_bytes", "Body-log bytes reclaimed by compaction since the process started");
        let refused = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "consensus_refused",
            "Consensus messages from peers dropped since the process started, by reason (docs/OPERATIONS.md)",
            refused.clone(),
        );
        let send_dropped = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "network_send_dropped",
            "Messages to peers this node dropped instead of sending since the process started, by reason: not_connected, queue_full, over_budget (a peer that does not read), unencodable",
            send_dropped.clone(),
        );
        let send_bytes = gauge(&mut registry, "network_send_bytes", "Encoded bytes of messages queued or in flight to peers (at most 64 MiB a peer)");
        let read_bytes = gauge(
            &mut registry,
            "network_read_bytes",
            "Encoded bytes of messages from peers being read or not yet handled (at most max_message_bytes a connection)",
        );
        let read_refused = gauge(
            &mut registry,
            "network_read_refused",
            "Messages from peers refused while read since the process started: their connection already held max_message_bytes of unhandled messages",
        );
        let requests = Family::<RouteLabels, Counter>::default();
        registry.register("gateway_requests", "Gateway requests by route and outcome", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        registry.register("gateway_request_seconds", "Gateway request latency by route and outcome", latency.clone());
        Metrics {
            registry,
            height,
            view,
            epoch,
            finalized_blocks,
            finalized_txs,
            mempool,
            peers,
            votes_sent,
            votes_received,
            sync_lag,
            idle,
            body_log,
            body_log_garbage,
            body_log_reclaimed,
            refused,
            send_dropped,
            send_bytes,
            read_bytes,
            read_refused,
            requests,
            latency,
        }
    }
}

/// The `appid` header as the log shows it: at most 64 characters, only
/// letters, digits and `-_.:`, else `(invalid)`; `-` when absent.
fn loggable_appid(request: &Request) -> String {
    match request.headers().get("appid").map(|v| v.to_str().unwrap_or("\u{0}")) {
        None => "-".into(),
        Some(v) if v.len() <= 64 && !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) => v.into(),
        Some(_) => "(invalid)".into(),
    }
}

/// Counts, times and logs every request by its route template.
pub async fn track(State(gw): State<Gateway>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "(no route)".into());
    let caller = super::limits::caller_ip(&request).map_or_else(|| "-".to_string(), |ip| ip.to_string());
    let appid = loggable_appid(&request);
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let outcome = if status.is_server_error() {
        "server_error"
    } else if status.is_client_error() {
        "client_error"
    } else {
        "ok"
    };
    let elapsed = start.elapsed();
    tracing::info!(
        target: "coldchain_node::gateway::interface_log",
        caller = %caller,
        appid = %appid,
        method = %method,
        route = %route,
        status = status.as_u16(),
        outcome,
        duration_ms = elapsed.as_micros() as f64 / 1000.0,
        "request"
    );
    let labels = RouteLabels { route, outcome: outcome.into() };
    gw.metrics.requests.get_or_create(&labels).inc();
    gw.metrics.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    response
}

fn refresh(gw: &Gateway) -> (u64, u64, usize) {
    let s = &gw.services;
    let m: &Arc<Metrics> = &gw.metrics;
    let height = s.head.borrow().height;
    let live = s.live.read().map(|l| l.clone()).unwrap_or_default();
    let peers = s.network.connected_peers().len();
    m.height.set(height as i64);
    m.view.set(live.view as i64);
    m.epoch.set(s.epochs.read().map_or(0, |e| e.current().number) as i64);
    m.finalized_blocks.set(live.finalized_blocks as i64);
    m.finalized_txs.set(live.finalized_txs as i64);
    m.mempool.set(live.mempool as i64);
    m.peers.set(peers as i64);
    m.votes_sent.set(live.votes_sent as i64);
    m.votes_received.set(live.votes_received as i64);
    m.sync_lag.set(live.best_peer_height.saturating_sub(height) as i64);
    m.idle.set(live.idle as i64);
    m.body_log.set(live.body_log_bytes as i64);
    m.body_log_garbage.set(live.body_log_garbage_bytes as i64);
    m.body_log_reclaimed.set(live.body_log_reclaimed_bytes as i64);
    let drops = s.network.send_drops();
    for (reason, n) in [
        ("not_connected", drops.not_connected),
        ("queue_full", drops.queue_full),
        ("over_budget", drops.over_budget),
        ("unencodable", drops.unencodable),
    ] {
        m.send_dropped.get_or_create(&ReasonLabels { reason: reason.to_string() }).set(n as i64);
    }
    m.send_bytes.set(s.network.send_bytes() as i64);
    m.read_bytes.set(s.network.read_bytes() as i64);
    m.read_refused.set(s.network.read_refused() as i64);
    for (reason, n) in &live.refused {
        m.refused.get_or_create(&ReasonLabels { reason: reason.to_string() }).set(*n as i64);
    }
    (height, live.best_peer_height, peers)
}

#[utoipa::path(
    get,
    path = "/metrics",
    tags = ["operators"],
    summary = "Prometheus metrics",
    description = "OpenMetrics text: height, view, finalized blocks and transactions, mempool, connected peers, votes, sync lag, gateway requests and latency by route and outcome. Not an envelope.",
    responses(
        (status = 200, description = "The metrics.", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 500, description = "The metrics could not be encoded.", content_type = "text/plain", body = String),
    )
)]
pub async fn metrics(State(gw): State<Gateway>) -> Response {
    refresh(&gw);
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &gw.metrics.registry) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {e}")).into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// Ready when connected to enough validators to reach a quorum, no peer
/// reports a finalized height more than 2 blocks ahead, and this
/// validator's state agrees with the certified one.
#[utoipa::path(
    get,
    path = "/readyz",
    tags = ["operators"],
    summary = "Readiness",
    description = "200 `ready` when connected to enough validators for a quorum, no peer reports a finalized height more than 2 ahead and this validator's state root agrees with the certified one; else 503 saying which.",
    responses(
        (status = 200, description = "Ready.", body = super::openapi::ReadyEnvelope),
        (status = 503, description = "Not ready: too few validators connected, catching up, or this validator's state diverged.", body = super::openapi::ReadyEnvelope),
    )
)]
pub async fn readyz(State(gw): State<Gateway>) -> Response {
    let (height, best_peer, peers) = refresh(&gw);
    let needed = gw.services.genesis.quorum().saturating_sub(1);
    let body = ReadyResult { height, best_peer_height: best_peer, connected_peers: peers, peers_for_quorum: needed };
    if let Some(why) = gw.services.live.read().ok().and_then(|l| l.diverged.clone()) {
        return ok(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: this validator's state diverged ({why}); it does not vote"), body);
    }
    if peers < needed {
        return ok(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: connected to {peers} validators, {needed} needed for a quorum"), body);
    }
    if best_peer > height + 2 {
        return ok(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: catching up, at {height} of {best_peer}"), body);
    }
    ok(StatusCode::OK, "ready", body)
}

/// The result of `GET /readyz`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReadyResult {
    pub height: u64,
    /// The highest finalized height that f + 1 peers claim (one peer's
    /// claim alone moves it only when it is the last peer connected).
    pub best_peer_height: u64,
    pub connected_peers: usize,
    /// Other validators needed for a quorum.
    pub peers_for_quorum: usize,
}
