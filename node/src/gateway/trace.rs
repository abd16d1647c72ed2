//! Reading the trace state: codes in any province's scheme, traces (JSON,
//! CSV, DOT, SVG), alerts and their live stream, notices, images, and the
//! state digest that shows two validators agree.

use super::Gateway;
use super::access::{self, Caller};
use super::envelope::{ApiError, ErrorCode, ok};
use super::handlers::{WaitQuery, parse_body, parse_id, submit_value, submitted, wait_ms};
use super::render;
use super::scope;
use crate::runtime::ChainEvent;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use coldchain_chaincode::Hash;
use coldchain_chaincode::state::ledger::{ACCESS_LOGS, ALERTS, Counter, NOTICE_IDS, NOTICES};
use coldchain_chaincode::state::trace::{AlertView, Direction, TraceError};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::convert::Infallible;
use utoipa::ToSchema;

fn trace_error(e: TraceError) -> ApiError {
    match e {
        TraceError::UnknownScheme(_) => {
            ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field(ErrorCode::UnknownScheme, "scheme", e.to_string()) }
        }
        TraceError::UnknownCode { .. } => {
            ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field(ErrorCode::UnknownCode, "code", e.to_string()) }
        }
        TraceError::UnknownAlert(_) => ApiError { status: StatusCode::NOT_FOUND, ..ApiError::field(ErrorCode::UnknownAlert, "id", e.to_string()) },
    }
}

/// `GET /v1/codes/{scheme}/{code}`: the code's lot, every linked code in
/// every scheme, and each scheme's resolution URL.
#[utoipa::path(
    get,
    path = "/v1/codes/{scheme}/{code}",
    tags = ["bureaus", "enterprises", "auditors"],
    summary = "Resolve a code in any province's scheme",
    description = "The code's lot, every linked code of the lot in every province's scheme (this one first), and each scheme's resolution URL (seed 000 §3.5: mutual recognition of codes). The public gets the lot's product and certificate and each code's scheme, province and resolver; who issued the codes and who imported the lot need a signed read (least privilege, docs/SECURITY.md).",
    params(
        ("scheme" = String, Path, description = "Scheme id, e.g. `BJ-ZS`, `HE-GS1`."),
        ("code" = String, Path, description = "A code of that scheme."),
    ),
    responses(
        (status = 200, description = "The lot and its codes.", body = super::openapi::ResolutionEnvelope),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn code(State(gw): State<Gateway>, caller: Caller, Path((scheme, code)): Path<(String, String)>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let resolution = state.resolve_code(&scheme, &code).map_err(trace_error)?;
    let n = resolution.codes.len();
    Ok(ok(StatusCode::OK, format!("{n} linked codes"), scope::resolution(resolution, &caller)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// Required: the code's scheme id, e.g. `BJ-ZS`, `HE-GS1`.
    scheme: Option<String>,
    /// Required: a trace code of that scheme.
    code: Option<String>,
    /// `forward`, `backward` or `both` (default).
    direction: Option<String>,
    /// `json` (default, in the envelope), `csv`, `dot`, `svg` (files) or
    /// `epcis` (an EPCIS 2.0 JSON-LD document; also chosen by
    /// `Accept: application/ld+json` when no format is given).
    format: Option<String>,
}

/// `GET /v1/trace?scheme=S&code=C&direction=forward|backward|both&format=json|csv|dot|svg|epcis`
/// Contacts are masked unless the caller may see them (see [`access`]).
#[utoipa::path(
    get,
    path = "/v1/trace",
    tags = ["bureaus"],
    summary = "Trace a lot from any of its codes",
    description = "The custody graph from the code's issuer: `backward` to the entry, `forward` to every holder, or `both`, cut to what the caller may see (least privilege, docs/SECURITY.md \"Who sees what\"; `view` names the cut). The public, and an enterprise not on the trace, get the consumer view (product, certificate, provinces passed, the lot's codes, whether an alert is open; `format=json` only, files 403). An enterprise on the trace gets the steps it is a party to and its direct counterparties; a bureau the steps with an end in its province, and every step inside an open alert on the lot (a cross-province read recorded on chain, `GET /v1/access-log`); an auditor the view of the bureau that registered it, masked. Contacts the caller may not read are masked; holdings of enterprises outside its view are left out. A signed read (`x-coldchain-*` headers) or a seed 004 signed request identifies the caller; bad read credentials: 401. `format=csv|dot|svg` answers a file instead of the envelope; `format=epcis` (or `Accept: application/ld+json`) the trace as an EPCIS 2.0 JSON-LD `EPCISDocument` (GS1's schema: docs/schemas/epcis-2.0.json; the mapping: docs/RECORDS.md \"EPCIS 2.0\"), for the same callers as the files. With `direction=both` from any code of a lot, it is the lot's whole history from its entry.",
    params(TraceQuery),
    responses(
        (status = 200, description = "The trace: JSON in the envelope, or a CSV, Graphviz DOT or SVG file.", content(
            (super::openapi::TraceEnvelope = "application/json"),
            (String = "text/csv"),
            (String = "text/vnd.graphviz"),
            (String = "image/svg+xml"),
            (Object = "application/ld+json"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn trace(State(gw): State<Gateway>, caller: Caller, headers: header::HeaderMap, Query(q): Query<TraceQuery>) -> Result<Response, ApiError> {
    let scheme = q.scheme.ok_or_else(|| ApiError::field(ErrorCode::BadQuery, "scheme", "is required: the code's scheme id"))?;
    let code = q.code.ok_or_else(|| ApiError::field(ErrorCode::BadQuery, "code", "is required: a trace code of the scheme"))?;
    let direction: Direction =
        q.direction.as_deref().unwrap_or("both").parse().map_err(|rule: String| ApiError::field(ErrorCode::BadQuery, "direction", rule))?;
    let wants_ld = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(coldchain_chaincode::epcis::MEDIA_TYPE));
    let format = q.format.as_deref().unwrap_or(if wants_ld { "epcis" } else { "json" });
    if !["json", "csv", "dot", "svg", "epcis"].contains(&format) {
        return Err(ApiError::field(ErrorCode::BadQuery, "format", format!("\"{format}\" is not a format: json, csv, dot, svg or epcis")));
    }
    let (scoped, alert, crossed) = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        let trace = state.trace(&scheme, &code, direction).map_err(trace_error)?;
        let mut vis = access::Visibility::new(&caller, &state, access::alert_on_lot(&state, &scheme, &code));
        let open = vis.alert().is_some();
        let scoped = match scope::scope(trace, &caller, &mut vis, open) {
            // A pack's history is where it came from, whatever direction was asked.
            scope::Scoped::Consumer(_) if direction != Direction::Backward => {
                scope::scope(state.trace(&scheme, &code, Direction::Backward).map_err(trace_error)?, &caller, &mut vis, open)
            }
            scoped => scoped,
        };
        (scoped, vis.alert(), vis.crossed)
    };
    access::record_access(&gw, &caller, alert, &crossed, format!("trace {scheme} {code}")).await?;
    let message = scoped.summary();
    let trace = match scoped {
        scope::Scoped::Custody(custody) if format != "json" => custody.trace,
        scope::Scoped::Custody(custody) => return Ok(ok(StatusCode::OK, message, custody)),
        scope::Scoped::Consumer(consumer) if format == "json" => return Ok(ok(StatusCode::OK, message, consumer)),
        scope::Scoped::Consumer(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!(
                    "the custody graph ({format}) is for enterprises on the trace and bureaus (a signed read); {} gets the consumer view (format=json)",
                    caller.label()
                ),
            ));
        }
    };
    let file = |ext: &str| format!("attachment; filename=\"trace-{}-{}.{ext}\"", scheme.replace('"', ""), code.replace('"', ""));
    Ok(match format {
        "csv" => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file("csv"))], render::csv(&trace))
            .into_response(),
        "dot" => (
            [(header::CONTENT_TYPE, "text/vnd.graphviz; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file("dot"))],
            render::dot(&trace),
        )
            .into_response(),
        "epcis" => (
            [(header::CONTENT_TYPE, coldchain_chaincode::epcis::MEDIA_TYPE.to_string()), (header::CONTENT_DISPOSITION, file("jsonld"))],
            super::epcis::document(&gw, &trace)?.to_string(),
        )
            .into_response(),
        _ => ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], render::svg(&trace)).into_response(),
    })
}

/// `POST /v1/alerts`: a bureau's signed `alert` record. Waits for
/// finalization (unless `?wait=` says otherwise … it always waits, bounded)
/// and answers with the affected set.
#[utoipa::path(
    post,
    path = "/v1/alerts",
    tags = ["bureaus"],
    summary = "Raise a positive-test alert",
    description = "A bureau's `alert` (signed by its admin key). Waits for finalization (bounded; `?wait` and `timeout_ms` as for `/v1/tx`, `wait` defaults to `finalized`) and answers with the affected enterprises by province, the trace and associated lots; other provinces see it on `/v1/alerts/stream`.",
    params(WaitQuery),
    request_body(content = coldchain_chaincode::Transaction, description = "A signed transaction whose record is an `alert`.", example = json!(super::openapi::examples::alert())),
    responses(
        (status = 200, description = "Finalized: the alert and its affected set (or the plain submission result if it cannot be read back).", body = super::openapi::AlertRaised),
        (status = 202, description = "Accepted, but not finalized within the wait.", body = super::openapi::SubmitEnvelope, example = json!(super::openapi::examples::not_yet())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn raise_alert(State(gw): State<Gateway>, Query(q): Query<WaitQuery>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let value = parse_body(body, gw.max_body_bytes)?;
    if value.pointer("/record/type").and_then(Value::as_str) != Some("alert") {
        return Err(ApiError::field(
            ErrorCode::InvalidTransaction,
            "record.type",
            "POST /v1/alerts takes a signed transaction whose record is of type \"alert\"",
        ));
    }
    let wait = wait_ms(&gw, &WaitQuery { wait: Some(q.wait.unwrap_or_else(|| "finalized".into())), timeout_ms: q.timeout_ms })?;
    let (id, height) = submit_value(&gw, value, wait).await?;
    if height.is_none() {
        return submitted(&gw, id, None, wait);
    }
    // The raising bureau sees its alert's affected set in full.
    let signer = value_signer(&gw, &id)?;
    let (answer, crossed) = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        match state.alert(&id) {
            Ok(mut a) => {
                let mut vis = access::Visibility::new(&signer, &state, Some(id));
                access::mask_alert(&mut a, &mut vis);
                (Ok(a), vis.crossed)
            }
            Err(e) => (Err(e), Default::default()),
        }
    };
    match answer {
        Ok(a) => {
            access::record_access(&gw, &signer, Some(id), &crossed, format!("alert {id}")).await?;
            let n: usize = a.affected.values().map(Vec::len).sum();
            Ok(ok(StatusCode::OK, format!("alert finalized; {n} enterprises in {} provinces affected", a.affected.len()), a))
        }
        Err(_) => submitted(&gw, id, height, wait),
    }
}

/// The caller a finalized transaction's signer stands for (a bureau, for an alert).
fn value_signer(gw: &Gateway, id: &coldchain_chaincode::TxId) -> Result<access::Caller, ApiError> {
    let Some(loc) = gw.services.store.tx_location(id).map_err(ApiError::internal)? else { return Ok(access::Caller::Public) };
    let Some(tx) = gw.services.store.tx_at(loc.height, loc.index).map_err(ApiError::internal)? else { return Ok(access::Caller::Public) };
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    // By the key's bureau then: an alert raised before its bureau's key was
    // rotated is still that bureau's.
    Ok(match state.ledger().province_of_admin_key(&tx.signer.public_key) {
        Some(province) => access::Caller::Bureau { province },
        None => access::Caller::Public,
    })
}

#[utoipa::path(
    get,
    path = "/v1/alerts",
    tags = ["bureaus"],
    summary = "Every alert and its disposal state",
    description = "For bureaus only: a signed read with a bureau's admin key (`x-coldchain-*` headers); anyone else gets 403. The public learns whether a lot is under an open alert from its trace.",
    responses(
        (status = 200, description = "The alerts.", body = super::openapi::AlertsEnvelope),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn alerts(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let list = gw.services.state.read().map_err(ApiError::internal)?.alerts();
    Ok(ok(StatusCode::OK, format!("{} alerts", list.len()), list))
}

#[utoipa::path(
    get,
    path = "/v1/alerts/{id}",
    tags = ["bureaus"],
    summary = "One alert",
    description = "For bureaus only (a signed read with a bureau's admin key, `x-coldchain-*` headers; anyone else gets 403). The alert, the affected enterprises by province, the trace (both directions) and associated lots (same certificate, container or cold storage). The bureau sees its own province in full and other provinces' contacts in full while the alert is open; each such cross-province read is recorded on chain (`GET /v1/access-log`). Bad read credentials: 401.",
    params(("id" = String, Path, description = "The alert's transaction id: 64 hexadecimal characters.")),
    responses(
        (status = 200, description = "The alert.", body = super::openapi::AlertEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn alert(State(gw): State<Gateway>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let (answer, crossed) = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        let mut answer = state.alert(&id).map_err(trace_error)?;
        let mut vis = access::Visibility::new(&caller, &state, Some(id));
        access::mask_alert(&mut answer, &mut vis);
        (answer, vis.crossed)
    };
    access::record_access(&gw, &caller, Some(id), &crossed, format!("alert {id}")).await?;
    Ok(ok(StatusCode::OK, "", answer))
}

/// `GET /v1/access-log`: bureaus' reads of other provinces' unmasked data
/// inside alerts' traces. A bureau (signed read) sees those that read its
/// province's data or that it made; an auditor sees all.
#[utoipa::path(
    get,
    path = "/v1/access-log",
    tags = ["bureaus", "auditors"],
    summary = "Cross-province unmasked reads",
    description = "Every read by a bureau of other provinces' unmasked data inside an open alert's trace, as recorded on chain (`access_log`). A bureau (signed read with its admin key) sees the reads by or about its province; an auditor sees all; anyone else gets 403.",
    responses(
        (status = 200, description = "The reads.", body = super::openapi::AccessLogEnvelope),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn access_log(State(gw): State<Gateway>, caller: Caller) -> Result<Response, ApiError> {
    let province = match &caller {
        access::Caller::Bureau { province } => Some(province.clone()),
        access::Caller::Auditor { .. } => None,
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "the access log is read by bureaus (a signed read with the admin key) and auditors",
            ));
        }
    };
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let entries: Vec<_> = state
        .ledger()
        .scan_all(&ACCESS_LOGS)
        .map(|(_, a)| a)
        .filter(|a| province.as_ref().is_none_or(|p| a.reader == *p || a.provinces.contains(p)))
        .collect();
    Ok(ok(StatusCode::OK, format!("{} reads", entries.len()), entries))
}

/// `GET /v1/alerts/stream`: server-sent events, one per finalized alert,
/// disposal or notice: `event: alert`, `data: {"tx_id", "height", "alert"}`.
#[utoipa::path(
    get,
    path = "/v1/alerts/stream",
    tags = ["bureaus"],
    summary = "Alerts, disposals and notices as they finalize",
    description = "Server-sent events, one per finalized record: `event: alert`, `alert_disposal` or `notice`, `data: {\"tx_id\", \"height\", \"alert\"|\"notice\"}`; after an alert that warned the holders of associated lots, `event: warning`, `data: {\"tx_id\", \"height\", \"warnings\"}` (as `GET /v1/warnings?alert=`); `event: lagged`, `data: {\"missed\": N}` when the client was too slow. Not an envelope; the stream stays open. For bureaus only: a signed read with a bureau's admin key (`x-coldchain-*` headers); anyone else gets 403, and more than `gateway.max_streams_per_ip` open streams from one address 503.",
    responses(
        (status = 200, description = "An event stream.", content_type = "text/event-stream", body = String),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn alert_stream(
    State(gw): State<Gateway>,
    extensions: axum::http::Extensions,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // The slot lives as long as the stream (moved into its state). A router
    // without `serve`'s extensions (unit tests) runs uncapped.
    let addr = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let slot = match (extensions.get::<super::Streams>(), addr) {
        (Some(super::Streams(slots)), Some(addr)) => Some(slots.try_take(addr.ip()).map_err(|full| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded,
                match full {
                    super::connections::Full::Total(n) => format!("{n} event streams are open on this node (gateway.max_streams); retry later"),
                    super::connections::Full::PerIp(n) => {
                        format!("{n} event streams are open from {} (gateway.max_streams_per_ip); close one first", addr.ip())
                    }
                },
            )
        })?),
        _ => None,
    };
    let rx = gw.services.events.subscribe();
    let state = gw.services.state.clone();
    let stream = futures::stream::unfold((rx, slot), move |(mut rx, slot)| {
        let state = state.clone();
        async move {
            match rx.recv().await {
                Ok(e) => Some((Ok(event(&state, e)), (rx, slot))),
                // A subscriber too slow to keep up is told how many it missed.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    Some((Ok(Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"))), (rx, slot)))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn event(state: &crate::runtime::SharedState, e: ChainEvent) -> Event {
    let mut data = json!({"tx_id": e.tx_id, "height": e.height});
    if let Ok(s) = state.read() {
        let l = s.ledger();
        match e.kind {
            "alert" => data["alert"] = json!(l.get(&ALERTS, &e.tx_id).map(AlertView::from)),
            "alert_disposal" => {
                data["alert"] = json!(l.scan_all(&ALERTS).map(|(_, a)| a).find(|a| a.disposals.iter().any(|d| d.tx == e.tx_id)).map(AlertView::from));
            }
            "warning" => {
                // Holders' phones masked for every subscriber: `GET /v1/warnings` shows a bureau its own in full.
                let mut list = s.warnings_of(&e.tx_id);
                for h in list.iter_mut().flat_map(|w| w.holders.iter_mut()) {
                    h.contact_phone = h.contact_phone.as_deref().map(access::mask_phone);
                }
                data["warnings"] = json!(list);
            }
            _ => data["notice"] = json!(l.get(&NOTICE_IDS, &e.tx_id).and_then(|i| l.get(&NOTICES, &i))),
        }
    }
    Event::default().event(e.kind).data(data.to_string())
}

#[utoipa::path(
    get,
    path = "/v1/notices",
    tags = ["bureaus", "enterprises"],
    summary = "Published notices, newest first",
    responses(
        (status = 200, description = "The notices.", body = super::openapi::NoticesEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn notices(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let l = state.ledger();
    let list: Vec<_> = (0..l.count(Counter::Notices)).rev().filter_map(|i| l.get(&NOTICES, &i)).collect();
    Ok(ok(StatusCode::OK, format!("{} notices", list.len()), list))
}

/// `GET /v1/images/{sha256}`: an image this node received with a record.
#[utoipa::path(
    get,
    path = "/v1/images/{sha256}",
    tags = ["bureaus", "auditors"],
    summary = "An image received with a record",
    description = "The bytes of an image (licence, label, certificate) that this node took out of a record it received; the chain holds its SHA-256. Images stay on the node that received them, are kept only once their record is finalized and applied, and are served only to a caller who may see that record in full (least privilege: a product's label to anyone, an enterprise's licence to the enterprise and its bureau; others 403). Not an envelope.",
    params(("sha256" = String, Path, description = "SHA-256 of the image bytes: 64 hexadecimal characters.")),
    responses(
        (status = 200, description = "The image, with its media type.", content(
            (super::openapi::Binary = "image/jpeg"),
            (super::openapi::Binary = "image/png"),
            (super::openapi::Binary = "image/gif"),
            (super::openapi::Binary = "application/pdf"),
            (super::openapi::Binary = "application/octet-stream"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn image(State(gw): State<Gateway>, caller: Caller, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let hash: Hash = sha.parse().map_err(|_| ApiError::field(ErrorCode::BadHash, "sha256", "must be 64 hexadecimal characters"))?;
    let images = gw.images.clone();
    let kept = tokio::task::spawn_blocking(move || images.read(&hash)).await.map_err(ApiError::internal)?.map_err(ApiError::internal)?;
    let Some((tx_id, bytes)) = kept else {
        return Err(ApiError::not_found(format!(
            "image {hash} is not kept on this node (images stay on the node that received them, once their record is final)"
        )));
    };
    let store = &gw.services.store;
    let loc = store
        .tx_location(&tx_id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("image {hash}: its record {tx_id} is not final")))?;
    let tx = store.tx_at(loc.height, loc.index).map_err(ApiError::internal)?.ok_or_else(|| ApiError::internal("indexed transaction missing"))?;
    let judged = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        access::judge(&state, &caller, &tx)
    };
    if !judged.full {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "image {hash} belongs to record {tx_id}, which {} may not see in full: its enterprise (its key or app id) or its bureau (a signed read) may",
                caller.label()
            ),
        ));
    }
    access::record_access(&gw, &caller, judged.alert, &judged.crossed, format!("image {hash}")).await?;
    let media = match bytes.as_slice() {
        [0xFF, 0xD8, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', ..] => "image/gif",
        [b'%', b'P', b'D', b'F', ..] => "application/pdf",
        _ => "application/octet-stream",
    };
    // Never sniffed, never run as a page: a download if it is no known image.
    let disposition = if media == "application/octet-stream" { "attachment" } else { "inline" };
    Ok((
        [
            (header::CONTENT_TYPE, media),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /v1/state`: the chaincode state's root and sizes. Two validators
/// with the same root at the same height hold the same state.
#[utoipa::path(
    get,
    path = "/v1/state",
    tags = ["auditors", "operators"],
    summary = "Chaincode state: root and sizes",
    description = "Two validators with the same root at the same height hold the same state (the root commits to every entry; docs/PROOFS.md). Answered from the state's own figures: no request reads the whole state (`coldchain verify-chain` compares it entry by entry, offline).",
    responses(
        (status = 200, description = "The state summary.", body = super::openapi::StateEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn state(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let state = gw.services.state.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<StateResult, ApiError> { Ok(summary(&*state.read().map_err(ApiError::internal)?)) })
        .await
        .map_err(ApiError::internal)??;
    Ok(ok(StatusCode::OK, "", result))
}

/// The state's figures, read from its counters (a few entries, whatever
/// the chain's length: the state's lock is held while they are read, and
/// blocks wait for it).
fn summary(s: &coldchain_chaincode::State) -> StateResult {
    let l = s.ledger();
    StateResult {
        height: s.height(),
        root: s.root(),
        applied: s.applied_count(),
        rejected: s.rejected_count(),
        enterprises: l.count(Counter::Enterprises),
        lots: l.count(Counter::Lots),
        movements: l.count(Counter::Movements),
        codes: l.count(Counter::Codes),
        schemes: l.schemes().len(),
        alerts: l.count(Counter::Alerts),
        notices: l.count(Counter::Notices),
    }
}

/// The result of `GET /v1/state`: equal roots at equal heights mean equal states.
#[derive(Serialize, ToSchema)]
pub struct StateResult {
    pub height: u64,
    /// The state root, 64 hex characters.
    pub root: Hash,
    pub applied: u64,
    pub rejected: u64,
    pub enterprises: u64,
    pub lots: u64,
    pub movements: u64,
    pub codes: u64,
    pub schemes: usize,
    pub alerts: u64,
    pub notices: u64,
}

#[cfg(test)]
mod tests {
    use super::summary;
    use coldchain_chaincode::state::store::{Changes, MemStore, StateStore};
    use coldchain_chaincode::{BlockContext, GenesisState, State};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store that counts the entries read from it.
    #[derive(Debug, Default)]
    struct Counting {
        inner: MemStore,
        reads: AtomicUsize,
    }

    impl StateStore for Counting {
        fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.get(key)
        }
        fn scan<'a>(&'a self, from: &[u8], to: &[u8]) -> Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a> {
            Box::new(self.inner.scan(from, to).inspect(|_| {
                self.reads.fetch_add(1, Ordering::Relaxed);
            }))
        }
    }

    #[test]
    fn the_public_state_summary_reads_a_few_entries_however_large_the_state() {
        let store = Arc::new(Counting::default());
        let mut state = State::open_store(store.clone(), GenesisState::default());
        state.apply_block(BlockContext { height: 1, time_ms: 0 }, []);
        store.inner.write(state.changes());
        state.settle();
        // 20,000 movements' worth of entries in the store.
        let bulk: Changes = (0..20_000u32).map(|i| ([&[0x35u8][..], &i.to_be_bytes()].concat(), Some(vec![0; 64]))).collect();
        store.inner.write(&bulk);
        store.reads.store(0, Ordering::Relaxed);
        let s = summary(&state);
        let reads = store.reads.load(Ordering::Relaxed);
        assert_eq!(s.height, 1);
        assert!(reads <= 32, "GET /v1/state read {reads} entries: an anonymous request must not scan the state");
    }
}
