//! EPCIS 2.0 capture (issue 20): `POST /epcis/capture` takes an
//! `EPCISDocument` in a seed 004 signed request (an app id's, as
//! `POST /v1/records`), maps each event to the record the seeds define for
//! it (`coldchain_chaincode::epcis`, docs/RECORDS.md "EPCIS 2.0"), and
//! submits the records, signed by this node for the app id, all or nothing:
//! the driver checks them in order, each with the ones before it applied,
//! and stores none if one breaks a rule. The export is a rendering of a
//! trace (`GET /v1/trace?format=epcis`, [`document`]).

use super::Gateway;
use super::apps::{app_transaction, authenticate, tx_nonce};
use super::envelope::{ApiError, ErrorCode, ok};
use super::handlers::{
    WaitQuery, body_bytes, check_transactions, parse_body, shed_if_full, submission_permit, submit_error, wait_finalized, wait_ms,
};
use crate::runtime::SubmitOutcome;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use coldchain_chaincode::epcis::{self, Captured, EpcisError};
use coldchain_chaincode::state::trace::Trace;
use coldchain_chaincode::{Outcome, RecordError, TxId};
use serde::Serialize;
use utoipa::ToSchema;

/// The trace as an EPCIS 2.0 document: block times from this node's store.
pub fn document(gw: &Gateway, trace: &Trace) -> Result<serde_json::Value, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let store = &gw.services.store;
    let block_time = |h: u64| store.header(h).ok().flatten().map(|header| header.time_ms);
    epcis::document(trace, state.ledger(), block_time, gw.services.clock.now_ms()).map_err(|e| ApiError::internal(e.to_string()))
}

fn refused(e: EpcisError) -> ApiError {
    ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, ..ApiError::field(ErrorCode::InvalidEpcis, e.field, e.rule) }
}

/// The result of `POST /epcis/capture`.
#[derive(Serialize, ToSchema)]
pub struct CaptureResult {
    /// How many events the document held.
    pub events: usize,
    /// The records the events became, in order.
    pub records: Vec<CapturedRecord>,
}

/// One record of a capture.
#[derive(Serialize, ToSchema)]
pub struct CapturedRecord {
    /// The event's index in `epcisBody.eventList`.
    pub event: usize,
    /// The record's type: `shipment`, `receipt`, `stock_in`, `stock_out`, `code_link` or `vehicle`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tx_id: TxId,
    pub state: super::handlers::TxState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/epcis/capture",
    tags = ["enterprises"],
    summary = "Capture an EPCIS 2.0 document",
    description = "An EPCIS 2.0 `EPCISDocument` (JSON-LD, `application/ld+json` or `application/json`) in a seed 004 signed request (headers `appid`, `timestamp`, `nonce`, `signature`, signed over this request's method, path and query and body, as for `POST /v1/records`), sent to the gateway of the bureau that issued the app id. Each event becomes the record docs/RECORDS.md \"EPCIS 2.0\" maps it to, recorded by the app id's enterprise: `ObjectEvent` `OBSERVE` with bizStep `shipping` a `shipment` (and a `vehicle` per `coldchain:vehicles` entry), `receiving` a `receipt`, `storing` a `stock_in`, `departing` a `stock_out`; `TransformationEvent` `commissioning` a `code_link`. The node signs the records for the app id (nonce of record `i` from the app id, the request nonce and `i`) and submits them all or nothing: they are checked in order by the chaincode's rules, each with the ones before it applied; an event that maps to no record, names another enterprise as its actor, or whose record breaks a rule refuses the whole document (422, `field` = `epcisBody.eventList[i].<member>`, the rule naming the record's field), and nothing of it is stored. `?wait=finalized` waits (bounded) for the records.",
    params(
        WaitQuery,
        ("appid" = String, Header, description = "The app id a bureau issued (`POST /v1/apps`)."),
        ("timestamp" = String, Header, description = "Milliseconds since 1970-01-01T00:00:00Z, within ±300 s of the node's clock."),
        ("nonce" = String, Header, description = "10–64 of A–Z a–z 0–9 - _, new for every request."),
        ("signature" = String, Header, description = "As for `POST /v1/records`, over this request's method, path and query and body."),
    ),
    request_body(content = Object, description = "An EPCIS 2.0 EPCISDocument (docs/schemas/epcis-2.0.json).", content_type = "application/ld+json"),
    responses(
        (status = 200, description = "Every record accepted (`pending`) or finalized.", body = super::openapi::CaptureEnvelope),
        (status = 202, description = "Accepted, not all finalized within the wait.", body = super::openapi::CaptureEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn capture(
    State(gw): State<Gateway>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let wait = wait_ms(&gw, &q)?;
    shed_if_full(&gw)?;
    let bytes = body_bytes(body, gw.max_body_bytes)?;
    let (appid, nonce, uscc) = authenticate(&gw, &method, &uri, &headers, &bytes)?;
    let doc = parse_body(Ok(bytes), gw.max_body_bytes)?;
    let captured: Vec<Captured> = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        epcis::capture(&doc, &uscc, state.ledger()).map_err(refused)?
    };
    let permit = submission_permit(&gw)?;
    let values = captured
        .iter()
        .enumerate()
        .map(|(i, c)| app_transaction(&gw, &appid, tx_nonce(&appid, &format!("{nonce}[{i}]")), c.record.clone(), &format!("[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut txs = Vec::with_capacity(values.len());
    for (i, checked) in check_transactions(values, &gw).await.into_iter().enumerate() {
        let (id, tx, _) = checked
            .map_err(|e| refused(epcis::refusal(&captured, i, &RecordError::new(e.field.unwrap_or_default(), e.rule.unwrap_or(e.message)))))?;
        txs.push((id, tx));
    }
    let ids: Vec<TxId> = txs.iter().map(|(id, _)| *id).collect();
    let outcomes = gw.services.submit_sequence(txs).await.map_err(submit_error)?;
    drop(permit);
    if let Some((i, field, rule)) = outcomes.iter().enumerate().find_map(|(i, o)| match o {
        SubmitOutcome::Rejected { field, rule } if field != "(sequence)" => Some((i, field, rule)),
        _ => None,
    }) {
        let e = epcis::refusal(&captured, i, &RecordError::new(field.clone(), rule.clone()));
        return Err(ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, ..ApiError::field(ErrorCode::RuleViolated, e.field, e.rule) });
    }
    let mut heights: Vec<Option<u64>> =
        outcomes.iter().map(|o| if let SubmitOutcome::AlreadyFinalized { height } = o { Some(*height) } else { None }).collect();
    if let Some(ms) = wait {
        heights = wait_finalized(&gw, &ids, ms).await?;
    }
    // Finalized and refused all the same: a transaction from elsewhere came first.
    for (i, (id, h)) in ids.iter().zip(&heights).enumerate() {
        if h.is_some()
            && let Some(loc) = gw.services.store.tx_location(id).map_err(ApiError::internal)?
            && let Outcome::Rejected { field, rule } = loc.outcome
        {
            let e = epcis::refusal(&captured, i, &RecordError::new(field, format!("{rule} (refused when finalized at height {})", loc.height)));
            return Err(ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, ..ApiError::field(ErrorCode::RuleViolated, e.field, e.rule) });
        }
    }
    let records: Vec<CapturedRecord> = captured
        .iter()
        .zip(ids.iter().zip(&heights))
        .map(|(c, (id, h))| CapturedRecord {
            event: c.event,
            kind: c.record.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string(),
            tx_id: *id,
            state: if h.is_some() { super::handlers::TxState::Finalized } else { super::handlers::TxState::Pending },
            height: *h,
        })
        .collect();
    let events = doc.pointer("/epcisBody/eventList").and_then(|l| l.as_array()).map_or(0, Vec::len);
    let pending = heights.iter().filter(|h| h.is_none()).count();
    tracing::info!(%appid, %uscc, events, records = records.len(), "EPCIS document captured for an app id");
    let (status, message) = match (wait, pending) {
        (Some(ms), n) if n > 0 => {
            (StatusCode::ACCEPTED, format!("{events} events, {} records accepted; {n} not finalized within {ms} ms", records.len()))
        }
        (Some(_), _) => (StatusCode::OK, format!("{events} events, {} records finalized", records.len())),
        (None, _) => (StatusCode::OK, format!("{events} events, {} records accepted", records.len())),
    };
    Ok(ok(status, message, CaptureResult { events, records }))
}
