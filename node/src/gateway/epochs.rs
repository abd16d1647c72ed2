//! `GET /v1/epochs`: the validator set of every epoch, from genesis, with
//! the certificate that started each (issue 19; docs/PROTOCOL.md,
//! "Epochs"). An auditor who holds only the genesis file checks each
//! certificate against the set before it; proof bundles of later epochs
//! carry the same certificates.

use super::Gateway;
use super::envelope::{ApiError, ok};
use crate::consensus::epoch::{EpochCertificate, EpochMember};
use crate::genesis::ConsensusParams;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use coldchain_chaincode::Hash;
use serde::Serialize;
use utoipa::ToSchema;

/// One epoch.
#[derive(Serialize, ToSchema)]
pub struct EpochView {
    /// 0 for genesis's validators, then one more per change (a number may
    /// be skipped when two changes take effect in one block).
    pub epoch: u64,
    /// Its blocks are above this height (the last block of the epoch before).
    pub after_height: u64,
    /// That block's hash (zeros for epoch 0).
    pub after_hash: Hash,
    /// The validators, in index order (votes name them by index).
    #[schema(value_type = Vec<Object>)]
    pub validators: Vec<EpochMember>,
    pub quorum: usize,
    /// Its consensus limits (docs/PROTOCOL.md, "Limits"): genesis's, or
    /// what a `set_consensus_params` change set; absent while this node's
    /// state has not reached the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub limits: Option<ConsensusParams>,
    /// The certificate that started it: the change, signed by a quorum of
    /// the epoch before (absent for epoch 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub certificate: Option<EpochCertificate>,
}

#[utoipa::path(
    get,
    path = "/v1/epochs",
    tags = ["operators", "auditors"],
    summary = "Validator sets by epoch",
    description = "Every epoch this node has entered or certified, oldest first: its validators and quorum, the block it starts after, and the epoch certificate (signed by a quorum of the epoch before) that started it. Epoch 0 is the genesis file's list; a `governance` change of the validator set (docs/RECORDS.md) starts the next.",
    responses(
        (status = 200, description = "The epochs.", body = super::openapi::EpochsEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn list_epochs(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let epochs = gw.services.epochs.read().map_err(ApiError::internal)?.clone();
    let genesis = &gw.services.genesis.consensus;
    let limits: Vec<Option<ConsensusParams>> = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        let ledger = state.ledger();
        epochs
            .sets()
            .iter()
            .map(|set| match set.number {
                0 => Some(genesis.clone()),
                n => ledger.epoch(n).map(|e| genesis.in_epoch(e.consensus.as_ref())),
            })
            .collect()
    };
    let list: Vec<EpochView> = epochs
        .sets()
        .iter()
        .zip(limits)
        .map(|(set, limits)| EpochView {
            epoch: set.number,
            after_height: set.after_height,
            after_hash: set.after_hash,
            validators: set.members.clone(),
            quorum: set.quorum,
            limits,
            certificate: epochs.certificate(set.number).cloned(),
        })
        .collect();
    let current = list.last().map_or(0, |e| e.epoch);
    Ok(ok(StatusCode::OK, format!("{} epochs; epoch {current} now", list.len()), list))
}
