//! `GET /v1/search`: a bureau officer finds lots from what a positive-test
//! notice names (chaincode `state::search`), then traces from their codes.

use super::Gateway;
use super::envelope::{ApiError, ErrorCode, ok};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use coldchain_chaincode::state::search::{self, SearchHit};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The most lots one search answers with.
pub const MAX_HITS: usize = 200;

/// Exactly one way to search (`batch` only with `certificate`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// An entry quarantine certificate number (检验检疫证明编号), 15, 18 or 21 digits.
    certificate: Option<String>,
    /// With `certificate`: the certificate's production batch (生产批次号).
    batch: Option<String>,
    /// A container number (ISO 6346).
    container: Option<String>,
    /// An enterprise's unified social credit code: the lots it holds or held.
    uscc: Option<String>,
    /// Part of an enterprise's name: the lots such enterprises hold or held.
    name: Option<String>,
    /// A vehicle's plate: the lots of the shipments and stock-outs it carried (`vehicle` records).
    plate: Option<String>,
    /// A driver's name: the lots of the shipments and stock-outs they drove.
    driver: Option<String>,
}

/// The lots found, at most [`MAX_HITS`].
#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    pub hits: Vec<SearchHit>,
    /// More lots matched than are listed: narrow the search.
    pub truncated: bool,
}

impl SearchQuery {
    fn query(self) -> Result<search::Query, ApiError> {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let given = [
            ("certificate", clean(self.certificate)),
            ("container", clean(self.container).map(|c| c.to_ascii_uppercase())),
            ("uscc", clean(self.uscc).map(|c| c.to_ascii_uppercase())),
            ("name", clean(self.name)),
            ("plate", clean(self.plate)),
            ("driver", clean(self.driver)),
        ];
        let batch = clean(self.batch);
        let mut named = given.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
        let one = |rule: &str| ApiError::field(ErrorCode::BadQuery, "(query)", rule);
        let Some((key, value)) = named.next() else {
            return Err(one("name what to search by: certificate (and batch), container, uscc, name, plate or driver"));
        };
        if let Some((other, _)) = named.next() {
            return Err(one(&format!("search by one thing at a time, not both {key} and {other}")));
        }
        if batch.is_some() && key != "certificate" {
            return Err(ApiError::field(ErrorCode::BadQuery, "batch", "goes with certificate"));
        }
        if key == "name" && value.chars().count() < 2 {
            return Err(ApiError::field(ErrorCode::BadQuery, "name", "give at least 2 characters of the name"));
        }
        Ok(match key {
            "certificate" => search::Query::Certificate { number: value, batch },
            "container" => search::Query::Container(value),
            "uscc" => search::Query::Enterprise(value),
            "name" => search::Query::EnterpriseName(value),
            "plate" => search::Query::Plate(value),
            _ => search::Query::Driver(value),
        })
    }
}

#[utoipa::path(
    get,
    path = "/v1/search",
    tags = ["bureaus"],
    summary = "Find lots by certificate, container, enterprise, vehicle or driver",
    description = "For bureaus only (a signed read with a bureau's admin key). A positive-test notice names a certificate number and batch, a container, an enterprise, a truck or a driver: this finds the lots they name, with what matched and every code of each lot, to trace from (`GET /v1/trace`) or to raise an alert on (`alert` with `quarantineNumber` and `batch`). One parameter at a time (`batch` with `certificate`). At most 200 lots; `truncated` says more matched.",
    params(SearchQuery),
    responses(
        (status = 200, description = "The lots found (possibly none).", body = super::openapi::SearchEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn search(State(gw): State<Gateway>, Query(q): Query<SearchQuery>) -> Result<Response, ApiError> {
    let query = q.query()?;
    let (hits, truncated) = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        search::search(state.ledger(), &query, MAX_HITS)
    };
    let message = format!("{} lots{}", hits.len(), if truncated { " (more matched; narrow the search)" } else { "" });
    Ok(ok(StatusCode::OK, message, SearchResult { hits, truncated }))
}
