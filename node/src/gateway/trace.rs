//! Reading the trace state: codes in any province's scheme, traces (JSON,
//! CSV, DOT, SVG), alerts and their live stream, notices, images, and the
//! state digest that shows two validators agree.

use super::Gateway;
use super::envelope::{ApiError, ok};
use super::handlers::{WaitQuery, parse_body, parse_id, submit_value, submitted, wait_ms};
use super::render;
use crate::runtime::ChainEvent;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use coldchain_chaincode::Hash;
use coldchain_chaincode::state::trace::{Direction, TraceError};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;

fn trace_error(e: TraceError) -> ApiError {
    match e {
        TraceError::UnknownScheme(_) => ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field("unknown_scheme", "scheme", e.to_string()) },
        TraceError::UnknownCode { .. } => ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field("unknown_code", "code", e.to_string()) },
        TraceError::UnknownAlert(_) => ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field("unknown_alert", "id", e.to_string()) },
    }
}

/// `GET /v1/codes/{scheme}/{code}`: the code's lot, every linked code in
/// every scheme, and each scheme's resolution URL.
pub async fn code(State(gw): State<Gateway>, Path((scheme, code)): Path<(String, String)>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let resolution = state.resolve_code(&scheme, &code).map_err(trace_error)?;
    Ok(ok(StatusCode::OK, format!("{} linked codes", resolution.codes.len()), resolution))
}

#[derive(Deserialize)]
pub struct TraceQuery {
    scheme: Option<String>,
    code: Option<String>,
    direction: Option<String>,
    format: Option<String>,
}

/// `GET /v1/trace?scheme=S&code=C&direction=forward|backward|both&format=json|csv|dot|svg`
pub async fn trace(State(gw): State<Gateway>, Query(q): Query<TraceQuery>) -> Result<Response, ApiError> {
    let scheme = q.scheme.ok_or_else(|| ApiError::field("bad_query", "scheme", "is required: the code's scheme id"))?;
    let code = q.code.ok_or_else(|| ApiError::field("bad_query", "code", "is required: a trace code of the scheme"))?;
    let direction: Direction =
        q.direction.as_deref().unwrap_or("both").parse().map_err(|rule: String| ApiError::field("bad_query", "direction", rule))?;
    let trace = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        state.trace(&scheme, &code, direction).map_err(trace_error)?
    };
    let file = |ext: &str| format!("attachment; filename=\"trace-{}-{}.{ext}\"", scheme.replace('"', ""), code.replace('"', ""));
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => ok(StatusCode::OK, format!("{} steps, {} enterprises", trace.steps.len(), trace.enterprises.len()), trace),
        "csv" => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file("csv"))], render::csv(&trace))
            .into_response(),
        "dot" => (
            [(header::CONTENT_TYPE, "text/vnd.graphviz; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file("dot"))],
            render::dot(&trace),
        )
            .into_response(),
        "svg" => ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], render::svg(&trace)).into_response(),
        other => return Err(ApiError::field("bad_query", "format", format!("\"{other}\" is not a format: json, csv, dot or svg"))),
    })
}

/// `POST /v1/alerts`: a bureau's signed `alert` record. Waits for
/// finalization (unless `?wait=` says otherwise … it always waits, bounded)
/// and answers with the affected set.
pub async fn raise_alert(State(gw): State<Gateway>, Query(q): Query<WaitQuery>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let value = parse_body(body, gw.max_body_bytes)?;
    if value.pointer("/record/type").and_then(Value::as_str) != Some("alert") {
        return Err(ApiError::field(
            "invalid_transaction",
            "record.type",
            "POST /v1/alerts takes a signed transaction whose record is of type \"alert\"",
        ));
    }
    let wait = wait_ms(&gw, &WaitQuery { wait: Some(q.wait.unwrap_or_else(|| "finalized".into())), timeout_ms: q.timeout_ms })?;
    let (id, height) = submit_value(&gw, value, wait).await?;
    if height.is_none() {
        return submitted(&gw, id, None, wait);
    }
    let answer = gw.services.state.read().map_err(ApiError::internal)?.alert(&id);
    match answer {
        Ok(a) => {
            let n: usize = a.affected.values().map(Vec::len).sum();
            Ok(ok(StatusCode::OK, format!("alert finalized; {n} enterprises in {} provinces affected", a.affected.len()), a))
        }
        Err(_) => submitted(&gw, id, height, wait),
    }
}

pub async fn alerts(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let list = gw.services.state.read().map_err(ApiError::internal)?.alerts();
    Ok(ok(StatusCode::OK, format!("{} alerts", list.len()), list))
}

pub async fn alert(State(gw): State<Gateway>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let answer = gw.services.state.read().map_err(ApiError::internal)?.alert(&id).map_err(trace_error)?;
    Ok(ok(StatusCode::OK, "", answer))
}

/// `GET /v1/alerts/stream`: server-sent events, one per finalized alert,
/// disposal or notice: `event: alert`, `data: {"tx_id", "height", "alert"}`.
pub async fn alert_stream(State(gw): State<Gateway>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = gw.services.events.subscribe();
    let state = gw.services.state.clone();
    let stream = futures::stream::unfold(rx, move |mut rx| {
        let state = state.clone();
        async move {
            match rx.recv().await {
                Ok(e) => Some((Ok(event(&state, e)), rx)),
                // A subscriber too slow to keep up is told how many it missed.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    Some((Ok(Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"))), rx))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn event(state: &crate::runtime::SharedState, e: ChainEvent) -> Event {
    let mut data = json!({"tx_id": e.tx_id, "height": e.height});
    if let Ok(s) = state.read() {
        let l = s.ledger();
        match e.kind {
            "alert" => data["alert"] = json!(s.alerts().into_iter().find(|a| a.id == e.tx_id)),
            "alert_disposal" => {
                data["alert"] = json!(s.alerts().into_iter().find(|a| a.disposals.iter().any(|d| d.tx == e.tx_id)));
            }
            _ => data["notice"] = json!(l.notices.iter().find(|n| n.id == e.tx_id)),
        }
    }
    Event::default().event(e.kind).data(data.to_string())
}

pub async fn notices(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let list: Vec<_> = state.ledger().notices.iter().rev().cloned().collect();
    Ok(ok(StatusCode::OK, format!("{} notices", list.len()), list))
}

/// `GET /v1/images/{sha256}`: an image this node received with a record.
pub async fn image(State(gw): State<Gateway>, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let hash: Hash = sha.parse().map_err(|_| ApiError::field("bad_hash", "sha256", "must be 64 hexadecimal characters"))?;
    let bytes = match tokio::fs::read(gw.services.images_dir.join(hash.to_hex())).await {
        Ok(b) => b,
        Err(_) => return Err(ApiError::not_found(format!("image {hash} is not kept on this node (images stay on the node that received them)"))),
    };
    let media = match bytes.as_slice() {
        [0xFF, 0xD8, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', ..] => "image/gif",
        [b'%', b'P', b'D', b'F', ..] => "application/pdf",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, media)], bytes).into_response())
}

/// `GET /v1/state`: the chaincode state's root, digest and sizes. Two
/// validators with the same digest at the same height hold the same state.
pub async fn state(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let state = gw.services.state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let s = state.read().expect("state lock");
        let l = s.ledger();
        json!({
            "height": s.height(),
            "root": s.root(),
            "digest": s.digest(),
            "applied": s.applied_count(),
            "rejected": s.rejected_count(),
            "enterprises": l.enterprises.len(),
            "lots": l.lots.len(),
            "movements": l.movements.len(),
            "codes": l.codes.len(),
            "schemes": l.schemes.len(),
            "alerts": l.alerts.len(),
            "notices": l.notices.len(),
        })
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(ok(StatusCode::OK, "", result))
}
