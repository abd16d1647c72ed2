//! The HTTP gateway (axum). Every route is in the table below; every answer
//! is the seed-004 envelope (see [`envelope`]).
//!
//! | method | path                  | for         | what |
//! |--------|-----------------------|-------------|------|
//! | GET    | `/`                   | officers    | the explorer page: status, blocks, trace search and graph, transactions with in-browser proof check, live alerts |
//! | GET    | `/v1/status`          | everyone    | chain id, height, head hash, this validator, validators and which are connected |
//! | POST   | `/v1/tx`              | enterprises | one signed transaction; `?wait=finalized` waits (bounded) for its height |
//! | POST   | `/v1/tx/batch`        | enterprises | an array of signed transactions, one result each |
//! | GET    | `/v1/tx/{id}`         | everyone    | the transaction and its state: pending, finalized at height H, unknown |
//! | GET    | `/v1/proofs/{id}`     | auditors    | the proof bundle (docs/PROOFS.md) |
//! | GET    | `/v1/blocks/{height}` | everyone    | header, hash, finality certificate, transaction ids |
//! | POST   | `/v1/records`         | enterprises | one signed record (as `/v1/tx`), or a bare record with seed 004's `appid`/`timestamp`/`nonce`/`signature` headers; Base64 images are kept here, their SHA-256 on chain |
//! | POST   | `/v1/records/batch`   | enterprises | an array of signed records |
//! | POST   | `/v1/apps`            | bureaus     | a signed `app_credential`: issues (answering the secret) or revokes an enterprise's app id |
//! | GET    | `/v1/codes/{scheme}/{code}` | everyone | a code's lot, its linked codes in every scheme, resolution URLs |
//! | GET    | `/v1/trace`           | bureaus     | `?scheme=&code=&direction=forward\|backward\|both&format=json\|csv\|dot\|svg` |
//! | POST   | `/v1/alerts`          | bureaus     | a signed `alert`; answers with the affected set once finalized |
//! | GET    | `/v1/alerts`          | bureaus     | every alert and its disposal state (signed read; 403 for others) |
//! | GET    | `/v1/alerts/{id}`     | bureaus     | one alert: affected set by province, trace, associated lots |
//! | GET    | `/v1/alerts/stream`   | bureaus     | server-sent events: alerts, disposals, notices as they finalize (signed read; 403 for others) |
//! | GET    | `/v1/notices`         | everyone    | published notices, newest first |
//! | GET    | `/v1/access-log`      | bureaus, auditors | cross-province unmasked reads inside alerts' traces (signed read) |
//! | GET    | `/v1/images/{sha256}` | who may see its record | an image this node received with a record, kept once the record is final |
//! | GET    | `/v1/state`           | auditors    | chaincode state root, digest and sizes |
//! | GET    | `/v1/state/proof`     | auditors    | state entries proven under a certified state root |
//! | GET    | `/v1/export`          | bureaus     | the finalized chain as an export file (JSON Lines, `coldchain export --key`); a bureau's signed read only |
//! | POST   | `/cold-chain-tracing/certification.register` | provinces | national interface (HTTP Basic): entry certificate |
//! | POST   | `/cold-chain-tracing/statistical.info.register` | provinces | national interface (HTTP Basic): interprovincial flow |
//! | GET    | `/healthz`            | operators   | the process is alive |
//! | GET    | `/readyz`             | operators   | 200 when connected to a quorum and caught up with peers, else 503 saying why |
//! | GET    | `/metrics`            | operators   | Prometheus text: height, view, finalized blocks and transactions, mempool, peers, votes, sync lag, requests by route |
//! | GET    | `/openapi.json`       | everyone    | the OpenAPI 3 document of every route, generated from the code ([`openapi`]); not an envelope |

// No panic reachable from a request: errors are answers (docs/SECURITY.md).
#![cfg_attr(not(test), deny(clippy::expect_used, clippy::unwrap_used))]

pub mod access;
pub mod apps;
pub mod connections;
pub mod envelope;
mod explorer;
pub mod export;
mod handlers;
pub mod images;
pub mod limits;
pub mod metrics;
mod national;
pub mod nonces;
pub mod openapi;
pub mod render;
pub mod scope;
mod state_proof;
pub mod tls;
mod trace;

use crate::runtime::NodeServices;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};

/// Submissions processed at once; beyond it the gateway answers 503 at once
/// instead of queueing without bound.
pub const MAX_CONCURRENT_SUBMISSIONS: usize = 64;

#[derive(Clone)]
pub struct Gateway {
    pub services: NodeServices,
    pub submit_permits: Arc<Semaphore>,
    pub max_body_bytes: usize,
    pub metrics: Arc<metrics::Metrics>,
    /// Nonces of signed requests (seed 004's and signed reads) seen in the
    /// last 10 minutes, kept in the store across restarts.
    pub nonces: Arc<nonces::NonceCache>,
    /// Exports that may start ([`export::MAX_CONCURRENT_EXPORTS`]).
    pub exports: Arc<Semaphore>,
    /// The images of records received here, staged until final ([`images`]).
    pub images: Arc<images::ImageStore>,
}

pub fn router(services: NodeServices, max_body_bytes: usize, images: Arc<images::ImageStore>) -> Router {
    let nonces = match nonces::NonceCache::open(services.store.request_nonces(), services.clock.now_ms()) {
        Ok(cache) => cache,
        Err(e) => {
            // Refusing to serve would be worse than a replay window: say it loudly.
            tracing::error!(error = %e, "cannot read the stored request nonces; replays of requests signed before this start are not refused");
            nonces::NonceCache::in_memory()
        }
    };
    let state = Gateway {
        services,
        submit_permits: Arc::new(Semaphore::new(MAX_CONCURRENT_SUBMISSIONS)),
        max_body_bytes,
        metrics: Arc::new(metrics::Metrics::default()),
        nonces: Arc::new(nonces),
        exports: Arc::new(Semaphore::new(export::MAX_CONCURRENT_EXPORTS)),
        images,
    };
    Router::new()
        .route("/", get(explorer::page))
        .route("/v1/status", get(handlers::status))
        .route("/v1/tx", post(handlers::submit_one))
        .route("/v1/tx/batch", post(handlers::submit_batch))
        .route("/v1/tx/{id}", get(handlers::transaction))
        .route("/v1/proofs/{id}", get(handlers::proof))
        .route("/v1/blocks/{height}", get(handlers::block))
        .route("/v1/records", post(apps::submit_record))
        .route("/v1/apps", post(apps::issue))
        .route("/v1/records/batch", post(handlers::submit_batch))
        .route("/v1/codes/{scheme}/{code}", get(trace::code))
        .route("/v1/trace", get(trace::trace))
        .route("/v1/alerts", post(trace::raise_alert).get(trace::alerts))
        .route("/v1/alerts/stream", get(trace::alert_stream))
        .route("/v1/alerts/{id}", get(trace::alert))
        .route("/v1/notices", get(trace::notices))
        .route("/v1/access-log", get(trace::access_log))
        .route("/v1/images/{sha256}", get(trace::image))
        .route("/v1/state", get(trace::state))
        .route("/v1/state/proof", get(state_proof::state_proof))
        .route("/v1/export", get(export::export))
        .route("/cold-chain-tracing/certification.register", post(national::certification_register))
        .route("/cold-chain-tracing/statistical.info.register", post(national::statistical_info_register))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // After routing (the route template is known), on every route and
        // the fallback; each layer wraps those above it: the metrics and
        // interface log see every answer of the limits that `serve`
        // installs (rate, declared body size, timeout).
        .layer(axum::middleware::from_fn(envelope::json_bodies))
        .layer(axum::middleware::from_fn(envelope::envelope_rejections))
        .layer(axum::middleware::from_fn(limits::enforce))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Keeps the staged images of transactions finalized since the last call,
/// drops those refused or long unknown ([`images`]); after every new head,
/// and once a minute for the grace period.
async fn settle_images(services: NodeServices, images: Arc<images::ImageStore>, mut stop: watch::Receiver<bool>) {
    let mut head = services.head.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = head.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
        let (services, images) = (services.clone(), images.clone());
        let settled = tokio::task::spawn_blocking(move || {
            let store = &services.store;
            images.settle(
                |id| match store.tx_location(id) {
                    Ok(Some(loc)) if matches!(loc.outcome, coldchain_chaincode::Outcome::Applied) => images::Fate::Applied,
                    Ok(Some(_)) => images::Fate::Refused,
                    Ok(None) if store.is_pending(id).unwrap_or(true) => images::Fate::Pending,
                    Ok(None) => images::Fate::Unknown,
                    Err(_) => images::Fate::Pending,
                },
                services.clock.now_ms(),
            )
        })
        .await;
        match settled {
            Ok(Ok(s)) if s != images::Settled::default() => tracing::debug!(kept = s.kept, dropped = s.dropped, "images settled"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot settle staged images; retrying at the next block"),
            Err(e) => tracing::warn!(error = %e, "settling staged images failed"),
        }
    }
}

/// The event streams open now, capped ([`connections`]).
#[derive(Clone)]
pub struct Streams(pub Arc<connections::Slots>);

/// Blocking threads of the gateway's runtime (signature checks of
/// submissions, traces, proofs, exports).
pub const GATEWAY_BLOCKING_THREADS: usize = 64;

/// Runs [`serve`] on a tokio runtime of its own, on its own threads: its
/// workers and blocking pool serve clients only, so clients that hold every
/// one of them (stalled downloads, slow traces) cannot delay the consensus
/// driver's verification, which runs on the node's runtime. Returns the
/// thread; it ends when the gateway has stopped.
pub fn spawn(
    listener: std::net::TcpListener,
    services: NodeServices,
    cfg: crate::config::GatewayConfig,
    stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(GATEWAY_BLOCKING_THREADS)
        .thread_name("gateway")
        .enable_all()
        .build()?;
    std::thread::Builder::new().name("gateway".into()).spawn(move || {
        runtime.block_on(serve(listener, services, cfg, stop));
        // Streams still open after the grace period are dropped with the runtime.
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    })
}

/// Longest time a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTPS when `cfg` names a certificate and key, else plain HTTP,
/// with the limits of `cfg`, until `stop` turns true; then stops accepting,
/// finishes the requests in flight and closes what is still open (streams)
/// after `request_timeout_ms`.
pub async fn serve(listener: std::net::TcpListener, services: NodeServices, cfg: crate::config::GatewayConfig, mut stop: watch::Receiver<bool>) {
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => match tls::server_config(cert, key) {
            Ok(config) => Some(axum_server::tls_rustls::RustlsConfig::from_config(config)),
            Err(e) => return tracing::error!(error = %e, "gateway not started"),
        },
        _ => None,
    };
    if let Err(e) = listener.set_nonblocking(true) {
        return tracing::error!(error = %e, "gateway not started");
    }
    let limits = Arc::new(limits::Limits::new(&cfg));
    let nofile = match connections::raise_descriptor_limit() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    };
    let max_connections = connections::fitting_cap(cfg.max_connections, nofile);
    if max_connections < cfg.max_connections {
        tracing::warn!(
            configured = cfg.max_connections,
            max_connections,
            open_file_limit = nofile,
            "gateway.max_connections lowered to leave 1024 descriptors to the node; raise the open-file limit (ulimit -n, LimitNOFILE) to allow more"
        );
    }
    let capping = connections::CappingAcceptor {
        slots: connections::Slots::new(max_connections, cfg.max_connections_per_ip),
        idle: std::time::Duration::from_millis(cfg.idle_timeout_ms),
    };
    let images = match images::ImageStore::open(&services.images_dir, services.store.image_index(), cfg.image_quota_bytes_per_day) {
        Ok(images) => Arc::new(images),
        Err(e) => return tracing::error!(error = %e, "gateway not started"),
    };
    tokio::spawn(settle_images(services.clone(), images.clone(), stop.clone()));
    let app = router(services, cfg.max_body_bytes, images)
        .layer(axum::Extension(limits.clone()))
        .layer(axum::Extension(Streams(connections::Slots::new(cfg.max_streams, cfg.max_streams_per_ip))));
    let make_service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let handle = axum_server::Handle::new();
    let (stopper, grace) = (handle.clone(), std::time::Duration::from_millis(cfg.request_timeout_ms));
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(limits::SWEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = sweep.tick() => { limits.sweep(); }
            }
        }
        stopper.graceful_shutdown(Some(grace));
    });
    tracing::info!(%addr, scheme = if tls.is_some() { "https" } else { "http" }, max_connections, "gateway listening");
    // Refused connections (over a cap, or no descriptor left) are counted,
    // not logged one by one: a flood would flood the log.
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let on_refused = move |_: Option<&std::net::SocketAddr>, e: &std::io::Error| {
        let n = refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if (n + 1).is_power_of_two() {
            tracing::warn!(error = %e, refused = n + 1, "gateway refused a connection");
        }
    };
    let served = match tls {
        Some(tls) => match axum_server::from_tcp_rustls(listener, tls) {
            Ok(server) => {
                let mut server = server.map(|tls| tls.acceptor(capping)).accept_error_handler(on_refused);
                server.http_builder().http1().header_read_timeout(HEADER_READ_TIMEOUT);
                server.handle(handle).serve(make_service).await
            }
            Err(e) => Err(e),
        },
        None => match axum_server::from_tcp(listener) {
            Ok(server) => {
                let mut server = server.acceptor(capping).accept_error_handler(on_refused);
                server.http_builder().http1().header_read_timeout(HEADER_READ_TIMEOUT);
                server.handle(handle).serve(make_service).await
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "gateway stopped");
    }
}
