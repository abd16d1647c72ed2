//! `GET /v1/governance`: every change to the consortium on chain
//! (`governance` records, docs/RECORDS.md): who proposed and approved it,
//! by transaction and height, and the height it took effect.

use super::Gateway;
use super::envelope::{ApiError, ok};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use coldchain_chaincode::state::ledger::{ConsensusLimits, GovernanceChange};
use coldchain_chaincode::{Hash, TxId};
use serde::Serialize;
use utoipa::ToSchema;

/// One change, as `GET /v1/governance` lists it.
#[derive(Serialize, ToSchema)]
pub struct GovernanceView {
    /// SHA-256 of the change's canonical content: what every approval signs.
    pub digest: Hash,
    /// `rotate_admin_key`, `add_validator`, `remove_validator`,
    /// `rotate_validator_key` or `set_consensus_params`.
    pub change: String,
    /// The bureau the change is about (empty for `set_consensus_params`).
    pub province: String,
    /// The consensus limits it sets (`set_consensus_params`): `max_tx_bytes`,
    /// `max_block_txs`, `max_block_bytes`, `max_clock_drift_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub consensus: Option<ConsensusLimits>,
    /// The new admin key, 64 hex (`rotate_admin_key`, `add_validator`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub admin_key: Option<String>,
    /// The new bureau's name (`add_validator`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// The new validator key, 64 hex (`add_validator`, `rotate_validator_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub validator_key: Option<String>,
    /// `pending` (approvals below the quorum) or `in_effect`.
    pub status: &'static str,
    /// Approvals it needs: the bureau quorum when it was proposed.
    pub quorum: usize,
    /// The proposal first, then each approval.
    pub approvals: Vec<ApprovalView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub activated_height: Option<u64>,
    /// The key it retired (64 hex), once in effect: the old admin key, the
    /// old validator key, or the admin key of the bureau that left.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_key: Option<String>,
    /// The epoch a validator or consensus change started, once in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub epoch: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalView {
    pub province: String,
    pub tx: TxId,
    pub height: u64,
}

impl GovernanceView {
    fn of(digest: Hash, c: GovernanceChange) -> GovernanceView {
        GovernanceView {
            digest,
            change: c.change,
            province: c.province,
            consensus: c.consensus,
            admin_key: c.admin_key.map(hex::encode),
            name: c.name,
            validator_key: c.validator_key.map(hex::encode),
            status: if c.activated_height.is_some() { "in_effect" } else { "pending" },
            quorum: c.quorum,
            approvals: c.approvals.into_iter().map(|a| ApprovalView { province: a.province, tx: a.tx, height: a.height }).collect(),
            activated_height: c.activated_height,
            previous_key: c.previous_key.map(hex::encode),
            epoch: c.epoch,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/governance",
    tags = ["bureaus", "auditors"],
    summary = "Changes to the consortium",
    description = "Every `governance` change on chain (docs/RECORDS.md): a bureau's admin key rotated, a bureau added or removed, a validator key rotated, the consensus limits set, by a quorum of bureaus; a validator or consensus change starts an epoch. Each with its approvals (the first is the proposal), the quorum it needs, and, once in effect, the height it took effect at and the key it retired. Pending changes are listed too, so a bureau sees what waits for its approval.",
    responses(
        (status = 200, description = "The changes, in digest order.", body = super::openapi::GovernanceEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn list(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let changes = gw.services.state.read().map_err(ApiError::internal)?.ledger().governance_changes();
    let list: Vec<GovernanceView> = changes.into_iter().map(|(d, c)| GovernanceView::of(d, c)).collect();
    let pending = list.iter().filter(|c| c.status == "pending").count();
    Ok(ok(StatusCode::OK, format!("{} changes, {pending} pending", list.len()), list))
}
