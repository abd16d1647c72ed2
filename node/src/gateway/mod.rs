//! The HTTP gateway (axum). Every route is declared once, in
//! [`routes::declared`], with who may call it and its limits; the router,
//! each request's admission and the OpenAPI document (`GET /openapi.json`)
//! come from there. Every JSON answer is the seed-004 envelope (see
//! [`envelope`]); files and streams are not.

// No panic reachable from a request: errors are answers (docs/SECURITY.md).
#![cfg_attr(not(test), deny(clippy::expect_used, clippy::unwrap_used))]

pub mod access;
pub mod apps;
pub mod connections;
pub mod dictionaries;
pub mod envelope;
mod epcis;
mod epochs;
mod explorer;
pub mod export;
mod governance;
mod gs1;
mod handlers;
pub mod images;
pub mod limits;
mod lots;
pub mod metrics;
mod national;
pub mod nonces;
pub mod openapi;
pub mod render;
pub mod routes;
pub mod scope;
mod search;
mod state_proof;
mod statistics;
pub mod templates;
pub mod tls;
mod trace;
mod warnings;

use crate::runtime::NodeServices;
use axum::Router;
use axum::extract::DefaultBodyLimit;
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
    routes::router(state.clone())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // After routing (the route template is known), on every route and
        // the fallback, outside each route's own limits and admission; each
        // layer wraps those above it: the metrics and interface log see
        // every answer.
        .layer(axum::middleware::from_fn(envelope::json_bodies))
        .layer(axum::middleware::from_fn(envelope::envelope_rejections))
        .layer(axum::middleware::from_fn(envelope::request_heads))
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
                server.http_builder().http1().header_read_timeout(HEADER_READ_TIMEOUT).max_headers(envelope::HYPER_MAX_HEADERS);
                server.handle(handle).serve(make_service).await
            }
            Err(e) => Err(e),
        },
        None => match axum_server::from_tcp(listener) {
            Ok(server) => {
                let mut server = server.acceptor(capping).accept_error_handler(on_refused);
                server.http_builder().http1().header_read_timeout(HEADER_READ_TIMEOUT).max_headers(envelope::HYPER_MAX_HEADERS);
                server.handle(handle).serve(make_service).await
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "gateway stopped");
    }
}
