//! The response envelope of seed 004 §8.2: every answer, success or error, is
//! `{"success", "code", "message", "timestamp", "result"}`. Errors carry an
//! application detail (`error`), and where a field broke a rule, the field
//! and the rule.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $code:literal,)+) => {
        /// The detail code of an error answer (`result.error`): one name per
        /// kind of refusal, the same on every route.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// The transaction is already on chain or pending (409).
    AlreadySubmitted = "already_submitted",
    /// A body that is not what the route takes.
    BadBody = "bad_body",
    /// A hash that is not 64 hexadecimal characters.
    BadHash = "bad_hash",
    /// A credential header that is not ASCII text.
    BadHeader = "bad_header",
    /// A block height that is not a number.
    BadHeight = "bad_height",
    /// A public key that is not an ed25519 key in hex.
    BadKey = "bad_key",
    /// A nonce that is not 10–64 of A–Z a–z 0–9 - _.
    BadNonce = "bad_nonce",
    /// A path that does not parse (not UTF-8, a parameter of the wrong type).
    BadPath = "bad_path",
    /// A query string that does not parse or breaks a rule.
    BadQuery = "bad_query",
    /// A request the gateway cannot read (before any field).
    BadRequest = "bad_request",
    /// A signature that does not verify.
    BadSignature = "bad_signature",
    /// A timestamp that is not milliseconds since the epoch.
    BadTimestamp = "bad_timestamp",
    /// A transaction id that is not 64 hexadecimal characters.
    BadTxId = "bad_tx_id",
    /// A body over `gateway.max_body_bytes` (413).
    BodyTooLarge = "body_too_large",
    /// A JSON object with the same key twice.
    DuplicateKey = "duplicate_key",
    /// The caller is known but may not do this (403).
    Forbidden = "forbidden",
    /// Request headers over the limit (431).
    HeadersTooLarge = "headers_too_large",
    /// Image bytes over the signing key's daily quota (429).
    ImageQuota = "image_quota",
    /// The node failed; the request may be retried (500).
    Internal = "internal",
    /// A batch that is not an array of 1 to 10,000 transactions.
    InvalidBatch = "invalid_batch",
    /// An image field that is not Base64 of an allowed image.
    InvalidImage = "invalid_image",
    /// An EPCIS document, or one of its events, that maps to no record (422).
    InvalidEpcis = "invalid_epcis",
    /// A record that breaks a rule of its type.
    InvalidRecord = "invalid_record",
    /// A national report that breaks a rule of seed 000.
    InvalidReport = "invalid_report",
    /// A transaction that does not parse or whose signature does not verify.
    InvalidTransaction = "invalid_transaction",
    /// A body that is not JSON.
    MalformedJson = "malformed_json",
    /// A method the route does not take (405).
    MethodNotAllowed = "method_not_allowed",
    /// A credential header that must come with the others is missing (401).
    MissingHeader = "missing_header",
    /// No header certified the state yet (503).
    NotCertified = "not_certified",
    /// The transaction is known but not finalized yet.
    NotFinalized = "not_finalized",
    /// No such route or object (404).
    NotFound = "not_found",
    /// Too much at once: submissions, streams, exports (503).
    Overloaded = "overloaded",
    /// More requests than `gateway.rate_per_second` allows (429).
    RateLimited = "rate_limited",
    /// A nonce used before with the same credential (401).
    ReplayedNonce = "replayed_nonce",
    /// An app id its bureau revoked (401).
    RevokedAppid = "revoked_appid",
    /// The chaincode refused the record: `field` broke `rule` (422).
    RuleViolated = "rule_violated",
    /// The node is stopping (503).
    ShuttingDown = "shutting_down",
    /// A timestamp more than 300 s from the node's clock (401).
    StaleTimestamp = "stale_timestamp",
    /// No answer within `gateway.request_timeout_ms` (503).
    Timeout = "timeout",
    /// Credentials are needed and none were sent (401).
    Unauthorized = "unauthorized",
    /// No alert with this id.
    UnknownAlert = "unknown_alert",
    /// An app id no bureau issued (401).
    UnknownAppid = "unknown_appid",
    /// A trace code no record names.
    UnknownCode = "unknown_code",
    /// A key that is not a bureau's, an enrolled enterprise's or a registered auditor's (401).
    UnknownKey = "unknown_key",
    /// No lot with this certificate number and batch (404).
    UnknownLot = "unknown_lot",
    /// A code scheme not registered on chain.
    UnknownScheme = "unknown_scheme",
    /// A transaction this node has never seen (404).
    UnknownTransaction = "unknown_transaction",
    /// A body declared as something other than JSON (415).
    UnsupportedMediaType = "unsupported_media_type",
    /// A key type other than ed25519.
    UnsupportedKeyType = "unsupported_key_type",
    /// A URI over the limit (414).
    UriTooLong = "uri_too_long",
    /// A transaction signed for another chain (`chain_id`).
    WrongChain = "wrong_chain",
    /// A request meant for another node.
    WrongNode = "wrong_node",
}

#[derive(Serialize)]
pub struct Envelope<T: Serialize> {
    pub success: bool,
    pub code: u16,
    pub message: String,
    pub timestamp: String,
    pub result: T,
}

pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A successful answer.
pub fn ok<T: Serialize>(status: StatusCode, message: impl Into<String>, result: T) -> Response {
    let env = Envelope { success: status.is_success(), code: status.as_u16(), message: message.into(), timestamp: timestamp(), result };
    (status, Json(env)).into_response()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Application-level detail code.
    pub error: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub rule: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { status, error, message: message.into(), field: None, rule: None }
    }

    /// A field that broke a rule: 400 unless said otherwise.
    pub fn field(error: ErrorCode, field: impl Into<String>, rule: impl Into<String>) -> ApiError {
        let (field, rule) = (field.into(), rule.into());
        ApiError { status: StatusCode::BAD_REQUEST, error, message: format!("field `{field}`: {rule}"), field: Some(field), rule: Some(rule) }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, message.to_string())
    }
}

/// The `result` of an error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorResult {
    /// The detail code: one of a fixed list, the same on every route.
    pub error: ErrorCode,
    /// The field that broke a rule, with its path as submitted (e.g. `record.quarantineInfo.quarantineNumber`, `signature`, `(body)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "signature")]
    pub field: Option<String>,
    /// The rule it broke.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "does not verify under signer.public_key over the transaction's signed bytes")]
    pub rule: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let result = ErrorResult { error: self.error, field: self.field, rule: self.rule };
        let env = Envelope { success: false, code: self.status.as_u16(), message: self.message, timestamp: timestamp(), result };
        (self.status, Json(env)).into_response()
    }
}

/// Middleware: an error answer that is not an envelope (axum's own
/// rejections: a query string or path parameter that does not parse, a path
/// that is not UTF-8, a body that is not what the route takes) becomes one,
/// with its text as the message: `bad_query`, `bad_path` or `bad_request`.
pub async fn envelope_rejections(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let plain = response.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let error = if text.contains("Query") || text.contains("query") {
        ErrorCode::BadQuery
    } else if text.contains("path") || text.contains("Path") || text.contains("URI") {
        ErrorCode::BadPath
    } else {
        ErrorCode::BadRequest
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let mut answer = ApiError::new(parts.status, error, message).into_response();
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != axum::http::header::CONTENT_TYPE && *n != axum::http::header::CONTENT_LENGTH) {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}

/// Longest request target (path and query) the gateway reads; beyond it 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most request header fields; beyond it 431.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of request header fields (names and values); beyond it 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's own bound on header fields, set well above [`MAX_HEADERS`] so
/// that the gateway, not hyper, answers (with an envelope) every request
/// over the limits but the absurd: over this many fields, a target over
/// 64 KiB or a head over hyper's buffer (~400 KiB), hyper answers 431 or
/// 414 with no body before any of the gateway's code runs.
pub const HYPER_MAX_HEADERS: usize = 512;

/// Middleware: a request head over the gateway's limits is refused with an
/// envelope naming what is too large: 414 `uri_too_long` (field `(uri)`),
/// 431 `headers_too_large` (field `(headers)`).
pub async fn request_heads(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return ApiError {
            status: StatusCode::URI_TOO_LONG,
            ..ApiError::field(ErrorCode::UriTooLong, "(uri)", format!("the path and query are {target} bytes; at most {MAX_URI_BYTES}"))
        }
        .into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        let rule = format!("{} header fields of {bytes} bytes; at most {MAX_HEADERS} fields of {MAX_HEADER_BYTES} bytes", headers.len());
        return ApiError { status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, ..ApiError::field(ErrorCode::HeadersTooLarge, "(headers)", rule) }
            .into_response();
    }
    next.run(request).await
}

/// Middleware: a request with a body (POST) says it is JSON or says
/// nothing. Any other declared type (`text/plain`, a form, XML) is 415
/// `unsupported_media_type` naming the header, before the body is read: a
/// browser form can then not post to the gateway across sites, and a client
/// that sent the wrong thing learns it from the answer, not from a JSON
/// error about bytes it never meant as JSON.
pub async fn json_bodies(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == axum::http::Method::POST
        && let Some(declared) = request.headers().get(axum::http::header::CONTENT_TYPE)
        && !is_json(declared)
    {
        let shown = String::from_utf8_lossy(declared.as_bytes()).chars().take(80).collect::<String>();
        return ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ..ApiError::field(ErrorCode::UnsupportedMediaType, "content-type", format!("is \"{shown}\"; the body must be JSON: application/json"))
        }
        .into_response();
    }
    next.run(request).await
}

/// `application/json` or `application/<anything>+json`, parameters
/// (`; charset=utf-8`) allowed, any letter case.
pub fn is_json(value: &axum::http::HeaderValue) -> bool {
    let Ok(text) = value.to_str() else { return false };
    let media = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use axum::http::HeaderValue;

    #[test]
    fn each_error_code_is_written_as_its_name() {
        for code in super::ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
    }

    #[test]
    fn json_media_types_are_told_from_the_others() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/ld+json", "application/json ;charset=UTF-8"] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in
            ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "json", "", "application/jsonp"]
        {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
