//! The HTTP gateway (axum). Every route is in the table below; every answer
//! is the seed-004 envelope (see [`envelope`]).
//!
//! | method | path                  | for         | what |
//! |--------|-----------------------|-------------|------|
//! | GET    | `/v1/status`          | everyone    | chain id, height, head hash, this validator, validators and which are connected |
//! | POST   | `/v1/tx`              | enterprises | one signed transaction; `?wait=finalized` waits (bounded) for its height |
//! | POST   | `/v1/tx/batch`        | enterprises | an array of signed transactions, one result each |
//! | GET    | `/v1/tx/{id}`         | everyone    | the transaction and its state: pending, finalized at height H, unknown |
//! | GET    | `/v1/proofs/{id}`     | auditors    | the proof bundle (docs/PROOFS.md) |
//! | GET    | `/v1/blocks/{height}` | everyone    | header, hash, finality certificate, transaction ids |
//! | GET    | `/healthz`            | operators   | the process is alive |

pub mod envelope;
mod handlers;

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
}

pub fn router(services: NodeServices, max_body_bytes: usize) -> Router {
    let state = Gateway { services, submit_permits: Arc::new(Semaphore::new(MAX_CONCURRENT_SUBMISSIONS)), max_body_bytes };
    Router::new()
        .route("/v1/status", get(handlers::status))
        .route("/v1/tx", post(handlers::submit_one))
        .route("/v1/tx/batch", post(handlers::submit_batch))
        .route("/v1/tx/{id}", get(handlers::transaction))
        .route("/v1/proofs/{id}", get(handlers::proof))
        .route("/v1/blocks/{height}", get(handlers::block))
        .route("/healthz", get(handlers::healthz))
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Serves until `stop` turns true, then finishes requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, services: NodeServices, max_body_bytes: usize, mut stop: watch::Receiver<bool>) {
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%addr, "gateway listening");
    let app = router(services, max_body_bytes);
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "gateway stopped");
    }
}
