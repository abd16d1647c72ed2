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
