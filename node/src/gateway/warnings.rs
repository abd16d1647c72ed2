//! `GET /v1/warnings`: the risk warnings for associated products (seed 003)
//! that alerts addressed to the caller's bureau (chaincode `state::warning`).

use super::Gateway;
use super::access::{self, Caller, Visibility};
use super::envelope::{ApiError, ErrorCode, ok};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// The national bureau's province code: it is warned of every lot.
const NATIONAL: &str = "000000";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarningsQuery {
    /// Only the warnings this alert raised (its transaction id, 64 hexadecimal characters),
    /// to every province; without it, those addressed to the caller's bureau.
    alert: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/warnings",
    tags = ["bureaus"],
    summary = "Risk warnings for associated products",
    description = "When an alert is raised, every other lot that shared its entry certificate, its container, a cold storage or a vehicle within a day is warned to the bureaus of the provinces that hold it (seed 003, 关联产品风险预警). A bureau sees the warnings addressed to it, newest alert first (the national bureau sees all), or with `alert` every warning one alert raised. Each names the lot, why, and who holds how much; contacts of other provinces' holders are masked. Also streamed as `event: warning` on `GET /v1/alerts/stream`. For bureaus only (a signed read with a bureau's admin key); anyone else gets 403.",
    params(WarningsQuery),
    responses(
        (status = 200, description = "The warnings.", body = super::openapi::WarningsEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn warnings(State(gw): State<Gateway>, caller: Caller, Query(q): Query<WarningsQuery>) -> Result<Response, ApiError> {
    let alert = match q.alert.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(a) => {
            Some(a.parse().map_err(|_| ApiError::field(ErrorCode::BadQuery, "alert", "is an alert's transaction id: 64 hexadecimal characters"))?)
        }
        None => None,
    };
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let mut list = match (alert, &caller) {
        (Some(id), _) => state.warnings_of(&id),
        (None, Caller::Bureau { province }) if province != NATIONAL => state.warnings(Some(province)),
        (None, _) => state.warnings(None),
    };
    let mut vis = Visibility::new(&caller, &state, None);
    for w in &mut list {
        for h in &mut w.holders {
            if !vis.full(&h.uscc) {
                h.contact_phone = h.contact_phone.as_deref().map(access::mask_phone);
            }
        }
    }
    Ok(ok(StatusCode::OK, format!("{} warnings", list.len()), list))
}
