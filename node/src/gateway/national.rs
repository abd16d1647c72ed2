//! The national platform's report interfaces (seed 000 §2):
//! `POST /cold-chain-tracing/certification.register` (entry certificate
//! information) and `POST /cold-chain-tracing/statistical.info.register`
//! (interprovincial flows), authenticated with HTTP Basic
//! (`Authorization: Basic base64(clientId:secret)`).
//!
//! A bureau registers each client on chain (`report_client`: the client id,
//! its province, SHA-256 of `clientId:secret`). The node checks the
//! credentials, then submits the body as a `certificate_report` or
//! `flow_report` record signed by its own validator key and naming the
//! client, and waits (bounded) for finalization. The chaincode applies the
//! same duplicate rules as for any other reporter.

use super::Gateway;
use super::envelope::{ApiError, ErrorCode, ok};
use super::handlers::{parse_body, submit_value, submitted};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use coldchain_chaincode::state::ledger::REPORT_CLIENTS;
use coldchain_chaincode::{Hash, Transaction};
use serde_json::Value;

#[utoipa::path(
    post,
    path = "/cold-chain-tracing/certification.register",
    tags = ["national interface"],
    summary = "Report entry certificate information",
    description = "The national data-interface rules (seed 000 §2), HTTP Basic with a client a bureau registered (`report_client`). The body is the report's fields; the node adds `type` (`certificate_report`) and `clientId`, signs it with its validator key, and waits (bounded) for finalization. The chaincode applies the seed's duplicate rules.",
    request_body(content = Object, description = "The report's fields (docs/RECORDS.md, `certificate_report`), without `type` and `clientId`.", example = json!(super::openapi::examples::certificate_report())),
    responses(
        (status = 200, description = "Registered on chain.", body = super::openapi::ReportEnvelope),
        (status = 202, description = "Accepted, but not finalized within the node's wait.", body = super::openapi::SubmitEnvelope, example = json!(super::openapi::examples::not_yet())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn certification_register(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    report(gw, headers, body, "certificate_report").await
}

#[utoipa::path(
    post,
    path = "/cold-chain-tracing/statistical.info.register",
    tags = ["national interface"],
    summary = "Report an interprovincial flow",
    description = "The national data-interface rules (seed 000 §2), HTTP Basic with a client a bureau registered (`report_client`). The body is the report's fields; the node adds `type` (`flow_report`) and `clientId`, signs it with its validator key, and waits (bounded) for finalization. The chaincode applies the seed's duplicate rules.",
    request_body(content = Object, description = "The report's fields (docs/RECORDS.md, `flow_report`), without `type` and `clientId`.", example = json!(super::openapi::examples::flow_report())),
    responses(
        (status = 200, description = "Registered on chain.", body = super::openapi::ReportEnvelope),
        (status = 202, description = "Accepted, but not finalized within the node's wait.", body = super::openapi::SubmitEnvelope, example = json!(super::openapi::examples::not_yet())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn statistical_info_register(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    report(gw, headers, body, "flow_report").await
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message.to_string())
}

/// The client id whose HTTP Basic credentials are valid and not revoked.
fn authenticate(gw: &Gateway, headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("the Authorization header is required: Basic base64(clientId:secret)"))?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let encoded = value.strip_prefix("Basic ").ok_or_else(|| unauthorized("the Authorization header must be Basic base64(clientId:secret)"))?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| unauthorized("the Basic credentials are not valid Base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized("the Basic credentials are not UTF-8"))?;
    let (client_id, _) = text.split_once(':').ok_or_else(|| unauthorized("the Basic credentials must be clientId:secret"))?;
    let digest = Hash::digest(text.as_bytes());
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    // Only the holder of the right secret learns that its client id is
    // revoked; anyone else gets one answer whether the id exists or not.
    match state.ledger().get(&REPORT_CLIENTS, &client_id.to_string()) {
        Some(c) if constant_time_eq(&c.credential_sha256.0, &digest.0) && !c.revoked => Ok(client_id.to_string()),
        Some(c) if constant_time_eq(&c.credential_sha256.0, &digest.0) => Err(unauthorized(&format!("client {client_id} is revoked"))),
        _ => Err(unauthorized("unknown client id or wrong secret")),
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn report(gw: Gateway, headers: HeaderMap, body: Result<Bytes, BytesRejection>, kind: &str) -> Result<Response, ApiError> {
    let client_id = authenticate(&gw, &headers)?;
    let mut record = parse_body(body, gw.max_body_bytes)?;
    let Some(obj) = record.as_object_mut() else {
        return Err(ApiError::field(ErrorCode::MalformedJson, "(body)", "must be a JSON object of the report's fields"));
    };
    if obj.contains_key("type") || obj.contains_key("clientId") {
        return Err(ApiError::field(ErrorCode::InvalidReport, "(body)", "the interface sets `type` and `clientId` itself; leave them out"));
    }
    obj.insert("type".into(), Value::String(kind.into()));
    obj.insert("clientId".into(), Value::String(client_id.clone()));
    let tx = Transaction::sign(&gw.services.genesis.chain_id, crate::crypto::fresh_nonce(), record, &gw.services.node_key);
    let value = serde_json::to_value(&tx).map_err(ApiError::internal)?;
    let wait = Some(gw.services.max_wait_ms);
    let (id, height) = submit_value(&gw, value, wait).await?;
    let Some(height) = height else { return submitted(&gw, id, None, wait) };
    let response = submitted(&gw, id, Some(height), wait)?;
    tracing::info!(client = %client_id, kind, tx = %id, "national report finalized");
    Ok(if response.status().is_success() { ok(StatusCode::OK, "registered", ReportResult { tx_id: id, height, client_id }) } else { response })
}

/// The result of a national report: registered on chain at `height`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReportResult {
    pub tx_id: coldchain_chaincode::TxId,
    pub height: u64,
    pub client_id: String,
}
