//! `GET /v1/dictionaries[/{name}]`: the code dictionaries records are
//! checked against (seed 000 §3.2 基础数据字典查看和下载), as they stand on
//! chain after every `dictionary_amendment`, to view or download (CSV).

use super::Gateway;
use super::envelope::{ApiError, ErrorCode, ok};
use super::render;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A dictionary's name and size.
#[derive(Serialize, ToSchema)]
pub struct DictionarySummary {
    pub name: String,
    pub entries: usize,
}

/// One entry: the code records carry, and its name (records may give either).
#[derive(Serialize, ToSchema)]
pub struct DictionaryEntry {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct DictionaryView {
    pub name: String,
    pub entries: Vec<DictionaryEntry>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DictionaryQuery {
    /// `json` (the default) or `csv` (a file: `code,name`, UTF-8 with a byte-order mark for Excel).
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/dictionaries",
    tags = ["enterprises", "bureaus"],
    summary = "The code dictionaries",
    description = "Every dictionary records are checked against (docs/RECORDS.md, \"Dictionaries\"), with its number of entries, as it stands on chain.",
    responses(
        (status = 200, description = "The dictionaries.", body = super::openapi::DictionariesEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn dictionaries(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let list: Vec<DictionarySummary> =
        state.ledger().dictionaries().0.iter().map(|(name, d)| DictionarySummary { name: name.clone(), entries: d.len() }).collect();
    Ok(ok(StatusCode::OK, format!("{} dictionaries", list.len()), list))
}

#[utoipa::path(
    get,
    path = "/v1/dictionaries/{name}",
    tags = ["enterprises", "bureaus"],
    summary = "One code dictionary, to view or download",
    description = "Every (code, name) of one dictionary as it stands on chain, in code order; `?format=csv` downloads it as a file.",
    params(("name" = String, Path, description = "The dictionary, e.g. `country`, `entry_port`, `hs`."), DictionaryQuery),
    responses(
        (status = 200, description = "The dictionary: JSON in the envelope, or a CSV file.", content(
            (super::openapi::DictionaryEnvelope = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn dictionary(State(gw): State<Gateway>, Path(name): Path<String>, Query(q): Query<DictionaryQuery>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let all = state.ledger().dictionaries();
    let Some(d) = all.get(&name) else {
        let known: Vec<&str> = all.0.keys().map(String::as_str).collect();
        return Err(ApiError::not_found(format!("no dictionary \"{name}\"; the dictionaries are: {}", known.join(", "))));
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let entries = d.entries().map(|(code, name)| DictionaryEntry { code: code.to_string(), name: name.to_string() }).collect();
            Ok(ok(StatusCode::OK, format!("{} entries", d.len()), DictionaryView { name, entries }))
        }
        "csv" => {
            let file = format!("attachment; filename=\"{}.csv\"", name.replace('"', ""));
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file)], render::dictionary_csv(d))
                .into_response())
        }
        other => Err(ApiError::field(ErrorCode::BadQuery, "format", format!("\"{other}\" is not a format: json or csv"))),
    }
}
