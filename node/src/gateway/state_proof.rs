//! `GET /v1/state/proof`: entries of the chaincode state with their proofs
//! under a finalized header's state root (crate::state_proof).
//!
//! The proofs are made under the state lock, from the state after the last
//! block applied; the bundle then waits (a few seconds at most) for a
//! finalized header that certifies that state: the next block's, or, on an
//! idle chain, the header that already does (Rule I with certification,
//! docs/PROTOCOL.md).

use super::Gateway;
use super::access::Caller;
use super::envelope::{ApiError, ErrorCode, ok};
use crate::state_proof::{ProvenEntry, STATE_PROOF_KIND, STATE_PROOF_VERSION, StateProofBundle};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use coldchain_chaincode::Hash;
use coldchain_chaincode::state::ledger::{CODES, CodeEntry, ENTERPRISE_IDS, ENTERPRISES, EntId, HOLDINGS, LOTS};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a bundle waits for a header that certifies the state it was made from.
const CERTIFY_WAIT: Duration = Duration::from_secs(10);
/// Entries one bundle may carry (a lot's holders, at most).
const MAX_ENTRIES: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateProofQuery {
    scheme: Option<String>,
    code: Option<String>,
    enterprise: Option<String>,
    key: Option<String>,
}

#[derive(Clone)]
enum Asked {
    /// A code's resolution to its lot, the lot, and for every enterprise
    /// the lot reached, its holding (or its absence) and USCC.
    Code { scheme: String, code: String },
    /// An enterprise's enrolment and status.
    Enterprise(String),
    /// Any entry, by its key bytes.
    Key(Vec<u8>),
}

fn asked(q: StateProofQuery) -> Result<Asked, ApiError> {
    let rule = "give exactly one of: scheme and code; enterprise (a USCC); key (hex)";
    match (q.scheme, q.code, q.enterprise, q.key) {
        (Some(scheme), Some(code), None, None) => Ok(Asked::Code { scheme, code }),
        (None, None, Some(uscc), None) => Ok(Asked::Enterprise(uscc)),
        (None, None, None, Some(key)) => {
            let bytes =
                hex::decode(&key).map_err(|_| ApiError::field(ErrorCode::BadKey, "key", "must be hexadecimal key bytes (docs/FORMATS.md)"))?;
            if bytes.is_empty() {
                return Err(ApiError::field(ErrorCode::BadKey, "key", "must not be empty"));
            }
            Ok(Asked::Key(bytes))
        }
        (Some(_), None, None, None) => Err(ApiError::field(ErrorCode::BadQuery, "code", "is required with scheme")),
        (None, Some(_), None, None) => Err(ApiError::field(ErrorCode::BadQuery, "scheme", "is required with code")),
        _ => Err(ApiError::field(ErrorCode::BadQuery, "query", rule)),
    }
}

/// The keys whose entries answer `asked`, read from the state.
fn keys(state: &coldchain_chaincode::State, asked: &Asked) -> Vec<Vec<u8>> {
    let l = state.ledger();
    match asked {
        Asked::Key(k) => vec![k.clone()],
        Asked::Enterprise(uscc) => {
            let mut keys = vec![ENTERPRISE_IDS.key(uscc)];
            if let Some(id) = l.get(&ENTERPRISE_IDS, uscc) {
                keys.push(ENTERPRISES.key(&id));
            }
            keys
        }
        Asked::Code { scheme, code } => {
            let pair = (scheme.clone(), code.clone());
            let mut keys = vec![CODES.key(&pair)];
            let Some(entry) = l.get::<_, CodeEntry>(&CODES, &pair) else { return keys };
            keys.push(LOTS.key(&entry.lot));
            let lot = l.lot_at(entry.lot);
            let mut reached: BTreeSet<EntId> = [lot.origin].into();
            reached.extend(l.lot_movements(entry.lot).into_iter().map(|m| l.movement_at(m).to));
            for e in reached.into_iter().take((MAX_ENTRIES - 2) / 2) {
                keys.push(HOLDINGS.key(&(e, entry.lot)));
                keys.push(ENTERPRISE_IDS.key(&l.enterprise_at(e).uscc));
            }
            keys
        }
    }
}

/// Enterprise records hold contacts; raw keys can name any table: those
/// proofs are for bureaus and auditors.
fn allowed(caller: &Caller, asked: &Asked) -> bool {
    matches!(asked, Asked::Code { .. }) || matches!(caller, Caller::Bureau { .. } | Caller::Auditor { .. })
}

#[utoipa::path(
    get,
    path = "/v1/state/proof",
    tags = ["auditors", "bureaus"],
    summary = "Entries of the state with proofs under a certified state root",
    description = "Exactly one of: `scheme` and `code` (the code's lot, the lot, and for every enterprise the lot reached its holding or its absence, and its USCC); `enterprise` (a USCC: its enrolment and status; bureaus and auditors); `key` (hex key bytes of any entry, docs/FORMATS.md; bureaus and auditors). The bundle verifies offline with `coldchain verify --genesis genesis.json proof.json` (docs/PROOFS.md, \"State proofs\"). 503 when no header certified the state within 10 s.",
    params(
        ("scheme" = Option<String>, Query, description = "A code scheme id, with `code`."),
        ("code" = Option<String>, Query, description = "A trace code of that scheme."),
        ("enterprise" = Option<String>, Query, description = "An enterprise's USCC."),
        ("key" = Option<String>, Query, description = "Key bytes, hex."),
    ),
    responses(
        (status = 200, description = "The bundle.", body = super::openapi::StateProofEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn state_proof(State(gw): State<Gateway>, caller: Caller, Query(q): Query<StateProofQuery>) -> Result<Response, ApiError> {
    let asked = asked(q)?;
    if !allowed(&caller, &asked) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "proofs of enterprise records and of raw keys are for bureaus and auditors (a signed read, docs/FORMATS.md)",
        ));
    }
    let deadline = Instant::now() + CERTIFY_WAIT;
    let mut head = gw.services.head.clone();
    loop {
        // The entries and their proofs, from the state as it is now (after
        // block `at`, the last that changed it).
        let (state, asked_now) = (gw.services.state.clone(), asked.clone());
        let (root, at, entries) = tokio::task::spawn_blocking(move || -> Result<(Hash, u64, Vec<ProvenEntry>), ApiError> {
            let s = state.read().map_err(ApiError::internal)?;
            let entries = keys(&s, &asked_now)
                .into_iter()
                .map(|k| {
                    let (value, proof) = s.prove(&k);
                    ProvenEntry { key: hex::encode(&k), value: value.map(hex::encode), proof }
                })
                .collect();
            Ok((s.root(), s.height(), entries))
        })
        .await
        .map_err(ApiError::internal)??;
        // A finalized header that certifies that root: the head's (an idle
        // chain), or one of those finalized while we wait.
        let mut from = head.borrow().height.saturating_sub(8).max(1);
        loop {
            let top = head.borrow_and_update().height;
            let (store, entries, epochs) = (gw.services.store.clone(), entries.clone(), gw.services.epochs.clone());
            let (found, superseded) = tokio::task::spawn_blocking(move || -> Result<(Option<StateProofBundle>, bool), ApiError> {
                let mut superseded = false;
                for h in from..=top {
                    let Some(header) = store.header(h).map_err(ApiError::internal)? else { continue };
                    if header.state_root != root {
                        // A header certifies a later state: ours never will be.
                        superseded |= header.state_height > at;
                        continue;
                    }
                    // (A header final only by the end of its epoch certifies
                    // through a later one.)
                    let Some((finalization, links)) = store.finality_of(h).map_err(ApiError::internal)? else { continue };
                    let tip = h + links.len() as u64;
                    let epochs = epochs.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let epochs = epochs.certificates_to(epochs.at_height(tip).number);
                    let bundle = StateProofBundle {
                        kind: STATE_PROOF_KIND.into(),
                        version: STATE_PROOF_VERSION,
                        entries,
                        header,
                        links,
                        finalization,
                        epochs,
                    };
                    return Ok((Some(bundle), false));
                }
                Ok((None, superseded))
            })
            .await
            .map_err(ApiError::internal)??;
            if let Some(bundle) = found {
                return Ok(ok(StatusCode::OK, "", bundle));
            }
            from = top + 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::NotCertified,
                    format!("no finalized header certified the state root {root} within {} s; try again", CERTIFY_WAIT.as_secs()),
                ));
            }
            if superseded {
                break;
            }
            let _ = tokio::time::timeout(left, head.changed()).await;
        }
    }
}
