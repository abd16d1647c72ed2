//! `GET /v1/lots/{quarantineNumber}/{batch}`: a lot in the shape of seed
//! 004's annex B (`chaincode::state::annex_b`), for the bureaus and for the
//! enterprises that hold or held it.

use super::Gateway;
use super::access::Caller;
use super::envelope::{ApiError, ErrorCode, ok};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use coldchain_chaincode::state::ledger::{HOLDINGS, LOT_IDS};

#[utoipa::path(
    get,
    path = "/v1/lots/{quarantine_number}/{batch}",
    tags = ["bureaus", "enterprises"],
    summary = "A lot as seed 004 annex B: the product batch record with its documents",
    description = "The lot of an entry quarantine certificate number and its production batch, in the members a `product_batch` record is submitted with (docs/RECORDS.md): `quarantineInfo`, `customsInfo`, `disinfectInfo`, `nucleicInfo`, `releaseInfo`, inventory, storage and specification, images as `sha256:` digests; with `enterprise` (the importer's USCC) and `tx` (the entering record). For any bureau, and for an enterprise that holds or held some of the lot (signed reads); others get 403.",
    params(
        ("quarantine_number" = String, Path, description = "The entry quarantine certificate number (检验检疫证明编号)."),
        ("batch" = String, Path, description = "The certificate's production batch."),
    ),
    responses(
        (status = 200, description = "The lot, annex B members.", body = super::openapi::LotEnvelope),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn lot(State(gw): State<Gateway>, caller: Caller, Path((number, batch)): Path<(String, String)>) -> Result<Response, ApiError> {
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let l = state.ledger();
    let Some(lot) = l.get(&LOT_IDS, &(number.clone(), batch.clone())) else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::field(ErrorCode::UnknownLot, "quarantine_number", format!("no lot of certificate {number} batch {batch} is on chain"))
        });
    };
    let may = match &caller {
        Caller::Bureau { .. } => true,
        Caller::Enterprise { uscc } => l.enterprise(uscc).is_some_and(|(id, _)| l.contains(&HOLDINGS, &(id, lot))),
        Caller::Public | Caller::Auditor { .. } => false,
    };
    if !may {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("lot {number}/{batch} is shown to the bureaus and to the enterprises that hold or held it, not to {}", caller.label()),
        ));
    }
    let view = coldchain_chaincode::state::annex_b::annex_b(l, lot);
    drop(state);
    Ok(ok(StatusCode::OK, format!("lot {number}/{batch}"), view))
}
