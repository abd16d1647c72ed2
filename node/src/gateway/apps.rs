//! Seed 004's signed requests (§8.1 table 1): enterprises without an ed25519
//! key submit records with the headers `appid`, `timestamp`, `nonce` and
//! `signature`, and bureaus issue and revoke their app ids.
//!
//! ```text
//! string to sign = appid "\n" timestamp "\n" nonce "\n" method "\n" path and query "\n" hex(SHA-256(body))
//! signature      = hex(HMAC-SHA256(key = UTF-8 bytes of the app secret, string to sign))
//! ```
//!
//! `timestamp` is milliseconds since the Unix epoch and must be within
//! ±300 s of the node's clock; `nonce` is 10–64 of `A–Z a–z 0–9 - _` and is
//! accepted once per app id. docs/FORMATS.md has a worked example.
//!
//! An app id is served by the issuing bureau's validator, whose node derives
//! the secret: `hex(HMAC-SHA256(key = validator key, "coldchain/app-secret/v1\n"
//! appid "\n" issuing transaction id))`. The secret is therefore on no disk
//! and not on chain, survives a rebuilt data directory, and changes when an
//! app id is revoked and issued again. The node submits each request's
//! record signed by its validator key with `"via": {"path": "appid",
//! "appid": …}` and a transaction nonce derived from the app id and the
//! request nonce, so a replay, even after a restart, is the same transaction
//! (the chain keeps it once).

use super::Gateway;
use super::envelope::{ApiError, ErrorCode, ok};
use super::handlers::{MAX_BATCH, WaitQuery, body_bytes, parse_body, submit_batch, submit_new, submit_one, submit_value, submitted, wait_ms};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use coldchain_chaincode::state::ledger::APP_CREDENTIALS;
use coldchain_chaincode::{Hash, Transaction, TxId};
use hmac::{KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

pub use super::nonces::WINDOW_MS;

/// HMAC-SHA256 keyed with `key`.
#[allow(clippy::expect_used, reason = "HMAC takes a key of any length: new_from_slice never fails")]
fn hmac_with(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes any key length")
}

fn unauthorized(error: ErrorCode, field: &str, rule: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::UNAUTHORIZED, ..ApiError::field(error, field, rule) }
}

/// The app secret of `appid` as issued by transaction `tx`, on the node
/// holding `validator_key`.
pub fn app_secret(validator_key: &ed25519_dalek::SigningKey, appid: &str, tx: &TxId) -> String {
    let mut mac = hmac_with(&validator_key.to_bytes());
    mac.update(format!("coldchain/app-secret/v1\n{appid}\n{tx}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The string an enterprise signs: the request's method and target (path
/// and query, as sent) are covered, so a signature made for one route or
/// query is worth nothing on another.
pub fn string_to_sign(appid: &str, timestamp: &str, nonce: &str, method: &str, path_and_query: &str, body: &[u8]) -> String {
    format!("{appid}\n{timestamp}\n{nonce}\n{method}\n{path_and_query}\n{}", Hash::digest(body).to_hex())
}

/// `hex(HMAC-SHA256(secret, string to sign))`: what the `signature` header holds.
pub fn sign_request(secret: &str, appid: &str, timestamp: &str, nonce: &str, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut mac = hmac_with(secret.as_bytes());
    mac.update(string_to_sign(appid, timestamp, nonce, method, path_and_query, body).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    let value = headers.get(name).ok_or_else(|| {
        unauthorized(
            ErrorCode::MissingHeader,
            name,
            "is required: a signed request carries the headers appid, timestamp, nonce and signature (seed 004 table 1)",
        )
    })?;
    value.to_str().map_err(|_| unauthorized(ErrorCode::BadHeader, name, "must be ASCII text"))
}

/// Checks a signed request's headers against its body; answers the app id's
/// enterprise (USCC) once the request is authentic and new.
pub(super) fn authenticate(gw: &Gateway, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(String, String, String), ApiError> {
    let appid = header(headers, "appid")?;
    let timestamp = header(headers, "timestamp")?;
    let nonce = header(headers, "nonce")?;
    let signature = header(headers, "signature")?;
    if !super::access::valid_nonce(nonce) {
        return Err(unauthorized(ErrorCode::BadNonce, "nonce", "is 10–64 letters, digits, '-' or '_' (seed 004: at least 10 characters)"));
    }
    let sent: i64 = timestamp
        .parse()
        .ok()
        .filter(|t: &i64| *t > 1_000_000_000_000)
        .ok_or_else(|| unauthorized(ErrorCode::BadTimestamp, "timestamp", "is milliseconds since 1970-01-01T00:00:00Z, e.g. 1795485600000"))?;
    let now = gw.services.clock.now_ms();
    if (sent - now).abs() > WINDOW_MS {
        return Err(unauthorized(
            ErrorCode::StaleTimestamp,
            "timestamp",
            format!("is {} s from this node's clock; a request is accepted within ±{} s of it", (sent - now) / 1000, WINDOW_MS / 1000),
        ));
    }
    let (uscc, tx, served_by_me, issuer) = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        let ledger = state.ledger();
        let c = ledger
            .get(&APP_CREDENTIALS, &appid.to_string())
            .ok_or_else(|| unauthorized(ErrorCode::UnknownAppid, "appid", format!("app id {appid} was never issued")))?;
        if c.revoked {
            return Err(unauthorized(ErrorCode::RevokedAppid, "appid", format!("app id {appid} is revoked by its bureau")));
        }
        let me = gw.services.node_key.verifying_key().to_bytes();
        let issuer = ledger.bureaus().values().find(|b| b.validator_key == c.validator_key).map(|b| b.name.clone()).unwrap_or_default();
        (c.uscc, c.tx, c.validator_key == me, issuer)
    };
    if !served_by_me {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            ..ApiError::field(ErrorCode::WrongNode, "appid", format!("app id {appid} is served by the {issuer} node's gateway, which issued it"))
        });
    }
    let expected = app_secret(&gw.services.node_key, appid, &tx);
    let mut mac = hmac_with(expected.as_bytes());
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    mac.update(string_to_sign(appid, timestamp, nonce, method.as_str(), target, body).as_bytes());
    let given =
        hex::decode(signature).map_err(|_| unauthorized(ErrorCode::BadSignature, "signature", "is 64 hexadecimal characters: HMAC-SHA256"))?;
    if mac.verify_slice(&given).is_err() {
        return Err(unauthorized(
            ErrorCode::BadSignature,
            "signature",
            format!(
                "does not match HMAC-SHA256 with app id {appid}'s secret over appid, timestamp, nonce, method ({method}), path and query ({target}) and SHA-256 of the body as received ({}); check the secret and that the body is sent unchanged",
                Hash::digest(body).to_hex()
            ),
        ));
    }
    if !gw.nonces.first_use("app", appid, nonce, now)? {
        return Err(unauthorized(
            ErrorCode::ReplayedNonce,
            "nonce",
            format!("{nonce} was already used with app id {appid}; every request needs a new nonce"),
        ));
    }
    Ok((appid.to_string(), nonce.to_string(), uscc))
}

/// Any of these makes a request a signed request (and all are then required).
const SIGNED_REQUEST_HEADERS: [&str; 4] = ["appid", "timestamp", "nonce", "signature"];

/// The transaction nonce of a signed request: the same for a replay.
pub(super) fn tx_nonce(appid: &str, nonce: &str) -> u64 {
    let h = Hash::digest(format!("coldchain/appid-nonce/v1\n{appid}\n{nonce}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.0[..8]);
    u64::from_be_bytes(first) & coldchain_chaincode::transaction::MAX_NONCE
}

/// `POST /v1/records`: a record signed by its enterprise's key (a
/// transaction, as `/v1/tx`), or, with seed 004's headers, a bare record in
/// a signed request.
#[utoipa::path(
    post,
    path = "/v1/records",
    tags = ["enterprises"],
    summary = "Submit one trace record",
    description = "A trace record (docs/RECORDS.md), either signed by the enterprise's key as a transaction (exactly as `POST /v1/tx`), or bare, in a seed 004 signed request (§8.1 table 1: headers `appid`, `timestamp`, `nonce`, `signature`; docs/FORMATS.md) sent to the gateway of the bureau that issued the app id, whose node signs the record with its validator key and adds `via`. Any one of the four headers makes the request a signed request, and then all four are required. Base64 images (bare or as `data:` URIs, at most 2 MiB) are taken out of the record, kept on this node (`GET /v1/images/{sha256}`), and only their SHA-256 goes on chain. The examples are seed 004 annex B's product batch.",
    params(
        WaitQuery,
        ("appid" = Option<String>, Header, nullable = false, description = "Signed request: the app id a bureau issued (`POST /v1/apps`)."),
        ("timestamp" = Option<String>, Header, nullable = false, description = "Signed request: milliseconds since 1970-01-01T00:00:00Z, within ±300 s of the node's clock, e.g. 1795485600000."),
        ("nonce" = Option<String>, Header, nullable = false, description = "Signed request: 10–64 of A–Z a–z 0–9 - _, new for every request."),
        ("signature" = Option<String>, Header, nullable = false, description = "Signed request: hex(HMAC-SHA256(the app secret's 64 characters as UTF-8, appid \"\\n\" timestamp \"\\n\" nonce \"\\n\" method \"\\n\" path and query as sent \"\\n\" hex(SHA-256(body as sent))))."),
    ),
    request_body(
        content = super::openapi::RecordRequest,
        description = "A signed transaction whose record is a trace record, or (with the signed-request headers) the bare record.",
        examples(
            ("annex_b_product_batch" = (
                summary = "Seed 004 annex B's product batch, as a signed transaction",
                description = "Annex B's example record (the product batch interface) as a `product_batch`. The annex's GTIN 17896448006462 fails the GS1 mod-10 check digit (the rule gives 5), so this example uses 17896448006465, in `productLibraryId` and in the two GS1 trace codes that embed it; `numberOfPieces` (required, 900 × 15 kg = 13 500 kg) is added, the annex's JSON syntax is fixed and its image placeholders are a real Base64 image. The trace codes must match a code scheme of the signer's province; the key and signature shown are illustrative (`coldchain submit` signs).",
                value = json!(super::openapi::examples::annex_b_signed())
            )),
            ("annex_b_signed_request" = (
                summary = "The same record, bare, in a seed 004 signed request",
                description = "Sent with the headers appid, timestamp, nonce and signature; the node that issued the app id signs it and adds `via`.",
                value = json!(super::openapi::examples::annex_b_record())
            )),
            ("annex_b_as_published" = (
                summary = "Annex B's GTIN as published: refused",
                description = "With 17896448006462 as in the annex the chain refuses the record: 422 `rule_violated`, field `record.productLibraryId`, rule `GS1 check digit is 2 but the mod-10 rule gives 5`.",
                value = json!(super::openapi::examples::annex_b_as_published())
            ))
        )
    ),
    responses(
        (status = 200, description = "Accepted (`pending`, durable on this node) or finalized (with its height).", body = super::openapi::SubmitEnvelope,
            examples(("pending" = (value = json!(super::openapi::examples::accepted()))), ("finalized" = (value = json!(super::openapi::examples::finalized()))))),
        (status = 202, description = "Accepted, but not finalized within the wait.", body = super::openapi::SubmitEnvelope, example = json!(super::openapi::examples::not_yet())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn submit_record(
    State(gw): State<Gateway>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    q: Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !SIGNED_REQUEST_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return submit_one(State(gw), q, body).await;
    }
    let wait = wait_ms(&gw, &q)?;
    let bytes = body_bytes(body, gw.max_body_bytes)?;
    let (appid, nonce, uscc) = authenticate(&gw, &method, &uri, &headers, &bytes)?;
    let record = parse_body(Ok(bytes), gw.max_body_bytes)?;
    let value = app_transaction(&gw, &appid, tx_nonce(&appid, &nonce), record, "")?;
    let (id, height) = submit_value(&gw, value, wait).await?;
    tracing::info!(%appid, %uscc, tx = %id, "record submitted for an app id");
    submitted(&gw, id, height, wait)
}

/// A bare record of an app id's signed request as the transaction this node
/// signs for it: `via` added, images out of the signed form (kept beside
/// it). `at` is the record's place in the body, for errors (`""` or `[i]`).
pub(super) fn app_transaction(gw: &Gateway, appid: &str, nonce: u64, mut record: serde_json::Value, at: &str) -> Result<serde_json::Value, ApiError> {
    let Some(obj) = record.as_object_mut() else {
        return Err(ApiError::field(ErrorCode::MalformedJson, format!("(body){at}"), "must be the record: a JSON object with a \"type\""));
    };
    if obj.contains_key("via") {
        return Err(ApiError::field(
            ErrorCode::InvalidRecord,
            format!("record{at}.via"),
            "is set by the node that checks the signed request; leave it out",
        ));
    }
    obj.insert("via".into(), json!({"path": "appid", "appid": appid}));
    let mut signed_form = record.clone();
    let images = coldchain_chaincode::images::extract(&mut signed_form)
        .map_err(|e| ApiError::field(ErrorCode::InvalidImage, e.field.replacen("record", &format!("record{at}"), 1), e.rule))?;
    let tx = Transaction::sign(&gw.services.genesis.chain_id, nonce, signed_form, &gw.services.node_key);
    let mut value = serde_json::to_value(&tx).map_err(ApiError::internal)?;
    if !images.is_empty() {
        value["record"] = record;
    }
    Ok(value)
}

/// `POST /v1/records/batch`: signed transactions (as `POST /v1/tx/batch`),
/// or, with seed 004's headers, an array of bare records in one signed
/// request.
#[utoipa::path(
    post,
    path = "/v1/records/batch",
    tags = ["enterprises"],
    summary = "Submit trace records in a batch",
    description = "A JSON array of 1 to 10,000 signed transactions whose records are trace records (docs/RECORDS.md), exactly as `POST /v1/tx/batch`; or, in a seed 004 signed request (headers `appid`, `timestamp`, `nonce`, `signature`, signed over the whole body as for `POST /v1/records`), a JSON array of bare records, which the node of the bureau that issued the app id signs one by one (record `i`'s transaction nonce derives from the app id, the request nonce and `i`, so a replayed request is the same transactions). One result per item, in order. Base64 images are taken out of each record and kept on this node.",
    params(
        WaitQuery,
        ("appid" = Option<String>, Header, nullable = false, description = "Signed request: the app id a bureau issued (`POST /v1/apps`)."),
        ("timestamp" = Option<String>, Header, nullable = false, description = "Signed request: milliseconds since 1970-01-01T00:00:00Z, within ±300 s of the node's clock."),
        ("nonce" = Option<String>, Header, nullable = false, description = "Signed request: 10–64 of A–Z a–z 0–9 - _, new for every request."),
        ("signature" = Option<String>, Header, nullable = false, description = "Signed request: as for `POST /v1/records`, over this request's method, path and body."),
    ),
    request_body(content = Vec<coldchain_chaincode::Transaction>, description = "A JSON array of signed transactions, or (with the signed-request headers) of bare records.", example = json!(super::openapi::examples::batch())),
    responses(
        (status = 200, description = "At least one item accepted; each item's result says `pending`, `finalized` or `refused` with field and rule.", body = super::openapi::BatchEnvelope, example = json!(super::openapi::examples::batch_answer())),
        (status = 400, description = "Malformed JSON or not an array of 1 to 10,000 (`ErrorEnvelope`), or every item refused (`BatchEnvelope` with `success: false`).", body = super::openapi::BatchRefused),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn submit_records_batch(
    State(gw): State<Gateway>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    q: Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !SIGNED_REQUEST_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return submit_batch(State(gw), q, body).await;
    }
    let bytes = body_bytes(body, gw.max_body_bytes)?;
    let (appid, nonce, uscc) = authenticate(&gw, &method, &uri, &headers, &bytes)?;
    let serde_json::Value::Array(records) = parse_body(Ok(bytes), gw.max_body_bytes)? else {
        return Err(ApiError::field(ErrorCode::InvalidBatch, "(body)", "must be a JSON array of records"));
    };
    if records.is_empty() || records.len() > MAX_BATCH {
        return Err(ApiError::field(ErrorCode::InvalidBatch, "(body)", format!("must hold 1 to {MAX_BATCH} records, got {}", records.len())));
    }
    let txs = records
        .into_iter()
        .enumerate()
        .map(|(i, record)| app_transaction(&gw, &appid, tx_nonce(&appid, &format!("{nonce}[{i}]")), record, &format!("[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let n = txs.len();
    let body = serde_json::to_vec(&txs).map_err(ApiError::internal)?;
    tracing::info!(%appid, %uscc, records = n, "records submitted for an app id");
    submit_batch(State(gw), q, Ok(Bytes::from(body))).await
}

/// `POST /v1/apps`: a bureau's signed `app_credential` transaction. The
/// bureau's own node submits it and answers with the app secret to the
/// request that brought the transaction to it, and to no other: the
/// transaction is public once relayed, so a resubmission of it (by anyone,
/// the bureau included) gets 409 and no secret. A lost secret is replaced by
/// revoking the app id and issuing it again, which rotates it. A revocation
/// answers without a secret.
#[utoipa::path(
    post,
    path = "/v1/apps",
    tags = ["bureaus"],
    summary = "Issue or revoke an enterprise's app id",
    description = "A bureau's `app_credential` transaction, signed by its admin key, at its own validator's gateway (else 403 `wrong_node`). The node submits it, waits (bounded) for finalization and answers with the app secret, derived from its validator key and this transaction (it is on no disk and not on chain). The secret goes once, to the request that brought the transaction to the node: posting a transaction the node already holds (pending or finalized; transactions are public) answers 409 `already_submitted` without it. To replace a lost secret, revoke the app id and issue it again (`coldchain app rotate`). A revocation (`revoked: true`) answers without a secret.",
    request_body(content = coldchain_chaincode::Transaction, description = "A signed transaction whose record is an `app_credential`.", example = json!(super::openapi::examples::app_credential())),
    responses(
        (status = 200, description = "Issued (with `secret`) or revoked.", body = super::openapi::AppEnvelope, example = json!(super::openapi::examples::envelope(200, "issued; keep the secret: it signs every request and is shown once",
            serde_json::json!({"appid": "bj-fengze-erp", "uscc": "91110106MA01QF8J7U", "revoked": false, "tx_id": super::openapi::examples::TX_ID, "height": 1204, "served_by": "beijing",
                "secret": "5f2b8c0e3d9a4f6e8b1c7d2a9e4f0b3c6d8a1e5f7b2c9d4e0a3f6b8c1d5e7a9f"})))),
        (status = 202, description = "Accepted, but not finalized within the node's wait: the answer holds the secret all the same (it is shown once); it signs requests once the transaction is finalized.", body = super::openapi::AppEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 403, response = super::openapi::Forbidden),
        (status = 409, response = super::openapi::Conflict),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn issue(State(gw): State<Gateway>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let value = parse_body(body, gw.max_body_bytes)?;
    let tx: Transaction =
        serde_json::from_value(value.clone()).map_err(|e| ApiError::field(ErrorCode::InvalidTransaction, "(body)", e.to_string()))?;
    let record = tx.record.to_value();
    if record["type"] != "app_credential" {
        return Err(ApiError::field(ErrorCode::InvalidRecord, "record.type", "must be app_credential at /v1/apps"));
    }
    let appid = record["appid"].as_str().unwrap_or_default().to_string();
    {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        let ledger = state.ledger();
        let me = ledger.bureau_of_validator(&gw.services.node_key.verifying_key().to_bytes()).map(|b| b.province.clone());
        let signer = ledger.bureau_of_admin(&tx.signer.public_key).map(|b| b.province.clone());
        if signer.is_none() || signer != me {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                ..ApiError::field(
                    ErrorCode::WrongNode,
                    "signer",
                    "an app id is issued at the gateway of the issuing bureau's own validator, signed by that bureau's admin key",
                )
            });
        }
    }
    let wait = gw.services.max_wait_ms;
    let submission = submit_new(&gw, value, Some(wait)).await?;
    let revoked = record["revoked"].as_bool().unwrap_or(false);
    if !submission.first && !revoked {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            ..ApiError::field(
                ErrorCode::AlreadySubmitted,
                "(body)",
                format!(
                    "transaction {} is already held by this node; its secret was given once, to the request that submitted it. To replace a lost secret, revoke app id {appid} and issue it again (`coldchain app rotate`)",
                    submission.id
                ),
            )
        });
    }
    let (id, height) = (submission.id, submission.height);
    let answer = submitted(&gw, id, height, Some(wait))?;
    if !answer.status().is_success() {
        return Ok(answer);
    }
    let uscc = record["unifSociCredCode"].as_str().or(record["uscc"].as_str()).unwrap_or_default();
    tracing::info!(%appid, %uscc, tx = %id, revoked, "app id changed");
    let me = &gw.services.me.name;
    let result = AppResult {
        secret: (!revoked).then(|| app_secret(&gw.services.node_key, &appid, &id)),
        appid,
        uscc: uscc.to_string(),
        revoked,
        tx_id: id,
        height,
        served_by: me.clone(),
    };
    let (status, message) = match (revoked, height) {
        (true, _) => (StatusCode::OK, "revoked".to_string()),
        (false, Some(_)) => (StatusCode::OK, "issued; keep the secret: it signs every request and is shown once".to_string()),
        (false, None) => (
            StatusCode::ACCEPTED,
            format!(
                "accepted, not finalized within {wait} ms; keep the secret (it is shown once): it signs requests once the transaction is finalized"
            ),
        ),
    };
    let mut response = ok(status, message, result);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The result of `POST /v1/apps`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AppResult {
    pub appid: String,
    /// The enterprise's unified social credit code.
    pub uscc: String,
    pub revoked: bool,
    pub tx_id: TxId,
    /// Absent when not finalized within the wait (202).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<u64>,
    /// The validator whose gateway serves this app id.
    pub served_by: String,
    /// The app secret (only when issued): it signs every request; keep it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_of_docs_formats_md() {
        let secret = "5f2b8c0e3d9a4f6e8b1c7d2a9e4f0b3c6d8a1e5f7b2c9d4e0a3f6b8c1d5e7a9f";
        let body = br#"{"type":"notarise","document":{"note":"daily stock list"}}"#;
        assert_eq!(
            string_to_sign("bj-xinfadi-erp", "1795485600000", "8f14e45fceea167a5a36", "POST", "/v1/records?wait=finalized", body),
            "bj-xinfadi-erp\n1795485600000\n8f14e45fceea167a5a36\nPOST\n/v1/records?wait=finalized\nac154554392e8eea71a93a3e01bace84eee348cfd3d93fa476e68ddcd2900886"
        );
        assert_eq!(
            sign_request(secret, "bj-xinfadi-erp", "1795485600000", "8f14e45fceea167a5a36", "POST", "/v1/records?wait=finalized", body),
            "c6d2c93fa892ba258ea3e9fb25dad397172ed48c7c682511d973981ec11e1465"
        );
    }
}
