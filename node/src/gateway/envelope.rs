//! The response envelope of seed 004 §8.2: every answer, success or error, is
//! `{"success", "code", "message", "timestamp", "result"}`. Errors carry an
//! application detail (`error`), and where a field broke a rule, the field
//! and the rule.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

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
    /// Application-level detail code, e.g. "bad_signature".
    pub error: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub rule: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, error, message: message.into(), field: None, rule: None }
    }

    /// A field that broke a rule: 400 unless said otherwise.
    pub fn field(error: &'static str, field: impl Into<String>, rule: impl Into<String>) -> ApiError {
        let (field, rule) = (field.into(), rule.into());
        ApiError { status: StatusCode::BAD_REQUEST, error, message: format!("field `{field}`: {rule}"), field: Some(field), rule: Some(rule) }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut result = json!({ "error": self.error });
        if let Some(f) = self.field {
            result["field"] = Value::String(f);
        }
        if let Some(r) = self.rule {
            result["rule"] = Value::String(r);
        }
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
        "bad_query"
    } else if text.contains("path") || text.contains("Path") || text.contains("URI") {
        "bad_path"
    } else {
        "bad_request"
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let mut answer = ApiError::new(parts.status, error, message).into_response();
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != axum::http::header::CONTENT_TYPE && *n != axum::http::header::CONTENT_LENGTH) {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
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
            ..ApiError::field("unsupported_media_type", "content-type", format!("is \"{shown}\"; the body must be JSON: application/json"))
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
