//! `GET /v1/lots/{quarantineNumber}/{batch}`: a lot in the shape of seed
//! 004's annex B (`chaincode::state::annex_b`), for the bureaus and for the
//! enterprises that hold or held it; `?format=epcis`, its whole history as
//! an EPCIS 2.0 document, cut to what the caller may see of a trace.

use super::Gateway;
use super::access::{self, Caller};
use super::envelope::{ApiError, ErrorCode, ok};
use super::scope;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use coldchain_chaincode::state::ledger::{HOLDINGS, LOT_IDS};

/// What `GET /v1/lots/…` answers: annex B, or the history cut for the caller
/// (with the provinces it crossed and the open alert, for the access log).
enum Answer {
    AnnexB(serde_json::Value),
    History(Box<coldchain_chaincode::state::trace::Trace>, std::collections::BTreeSet<String>, Option<coldchain_chaincode::TxId>),
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LotQuery {
    /// `json` (default: annex B, in the envelope) or `epcis` (the lot's
    /// whole history as an EPCIS 2.0 JSON-LD document, not an envelope).
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/lots/{quarantine_number}/{batch}",
    tags = ["bureaus", "enterprises"],
    summary = "A lot as seed 004 annex B: the product batch record with its documents",
    description = "The lot of an entry quarantine certificate number and its production batch, in the members a `product_batch` record is submitted with (docs/RECORDS.md): `quarantineInfo`, `customsInfo`, `disinfectInfo`, `nucleicInfo`, `releaseInfo`, inventory, storage and specification, images as `sha256:` digests; with `enterprise` (the importer's USCC) and `tx` (the entering record). For any bureau, and for an enterprise that holds or held some of the lot (signed reads); others get 403. `?format=epcis`: the lot's whole history (every movement from its entry, every code link) as an EPCIS 2.0 JSON-LD `EPCISDocument` (docs/RECORDS.md \"EPCIS 2.0\"), cut as a trace is for the caller (docs/SECURITY.md \"Who sees what\").",
    params(
        LotQuery,
        ("quarantine_number" = String, Path, description = "The entry quarantine certificate number (检验检疫证明编号)."),
        ("batch" = String, Path, description = "The certificate's production batch."),
    ),
    responses(
        (status = 200, description = "The lot, annex B members; or with `format=epcis` its history as an EPCIS document.", content(
            (super::openapi::LotEnvelope = "application/json"),
            (Object = "application/ld+json"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn lot(
    State(gw): State<Gateway>,
    caller: Caller,
    Path((number, batch)): Path<(String, String)>,
    Query(q): Query<LotQuery>,
) -> Result<Response, ApiError> {
    let epcis = match q.format.as_deref() {
        None | Some("json") => false,
        Some("epcis") => true,
        Some(other) => return Err(ApiError::field(ErrorCode::BadQuery, "format", format!("\"{other}\" is not a format: json or epcis"))),
    };
    // What is read under the state's lock: annex B, or the history cut for the caller.
    let answer = {
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
        if epcis {
            let history = state.lot_history(lot);
            let alert = access::alert_on_lot(&state, &history.scheme, &history.code);
            let mut vis = access::Visibility::new(&caller, &state, alert);
            let open = vis.alert().is_some();
            match scope::scope(history, &caller, &mut vis, open) {
                scope::Scoped::Custody(custody) => Answer::History(Box::new(custody.trace), vis.crossed.clone(), vis.alert()),
                scope::Scoped::Consumer(_) => {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        ErrorCode::Forbidden,
                        format!("the lot's history is not shown to {}", caller.label()),
                    ));
                }
            }
        } else {
            Answer::AnnexB(coldchain_chaincode::state::annex_b::annex_b(l, lot))
        }
    };
    match answer {
        Answer::AnnexB(view) => Ok(ok(StatusCode::OK, format!("lot {number}/{batch}"), view)),
        Answer::History(trace, crossed, alert) => {
            access::record_access(&gw, &caller, alert, &crossed, format!("lot {number} {batch}")).await?;
            let file = format!("attachment; filename=\"lot-{}-{}.jsonld\"", number.replace('"', ""), batch.replace('"', ""));
            let body = super::epcis::document(&gw, &trace)?.to_string();
            Ok(([(header::CONTENT_TYPE, coldchain_chaincode::epcis::MEDIA_TYPE.to_string()), (header::CONTENT_DISPOSITION, file)], body)
                .into_response())
        }
    }
}
