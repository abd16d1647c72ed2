//! Route handlers. Parse and check first, name the field and rule that
//! failed, and store nothing of a request that is refused.

use super::Gateway;
use super::access::{self, Caller};
use super::envelope::{ApiError, ErrorCode, ok};
use crate::block::merkle_path;
use crate::network::peer_id_of;
use crate::proof::ProofBundle;
use crate::runtime::{SubmitError, SubmitOutcome};
use crate::storage::{Finality, FinalityProof};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use coldchain_chaincode::images::{self, Image};
use coldchain_chaincode::state::ledger::ENTERPRISE_KEYS;
use coldchain_chaincode::{Hash, Outcome, Transaction, TxError, TxId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::time::Duration;
use utoipa::ToSchema;

/// Most transactions in one batch request.
pub const MAX_BATCH: usize = 10_000;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// `finalized` to wait for finalization.
    pub wait: Option<String>,
    /// Upper bound of the wait in milliseconds (capped by the node's config).
    pub timeout_ms: Option<u64>,
}

/// The result of `GET /v1/status`.
#[derive(Serialize, ToSchema)]
pub struct StatusResult {
    pub chain_id: String,
    /// Height of the last finalized block.
    pub height: u64,
    /// 64 hex characters.
    pub last_block_hash: Hash,
    /// Current consensus view.
    pub view: u64,
    /// No transaction waits and no validator is active in the view: the
    /// consortium makes no blocks until one is submitted (docs/PROTOCOL.md,
    /// Rule I), so a height that does not move is expected.
    pub idle: bool,
    /// The validator set's epoch: 0 from genesis, one more each time
    /// governance changed it (`GET /v1/epochs`).
    pub epoch: u64,
    /// This node's validator.
    pub validator: ThisValidator,
    pub validators: Vec<ValidatorStatus>,
    /// Votes needed to finalize.
    pub quorum: usize,
    /// libp2p peer ids of the connected validators.
    pub connected_peers: Vec<String>,
    pub mempool: Mempool,
    /// Who the node takes a signed read's caller for (`bureau 110000`,
    /// `enterprise <USCC>`, `auditor <name>`); absent from an unsigned request's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub caller: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ThisValidator {
    /// Its place in the current epoch's validators; absent while this node
    /// is not one (it follows the chain: joining, or removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub index: Option<u16>,
    pub name: String,
    /// GB/T 2260 code, e.g. 110000.
    pub province: String,
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct ValidatorStatus {
    pub index: usize,
    pub name: String,
    pub province: String,
    pub public_key: String,
    /// Absent when the genesis key does not parse (the node refuses such a genesis at start).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub peer_id: Option<String>,
    /// Connected to this node (this node itself is always true).
    pub connected: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Mempool {
    pub pending: usize,
    pub capacity: usize,
}

/// The state of a transaction.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    Pending,
    Finalized,
}

/// The result of one submission.
#[derive(Serialize, ToSchema)]
pub struct SubmitResult {
    /// SHA-256 of the transaction's signed bytes, 64 hex characters.
    pub tx_id: TxId,
    pub state: TxState,
    /// When finalized.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<u64>,
}

/// The result of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub results: Vec<BatchItem>,
}

/// The state of one item of a batch.
#[derive(Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    Finalized,
    Refused,
}

/// One item of a batch, in request order.
#[derive(Serialize, ToSchema)]
pub struct BatchItem {
    pub index: usize,
    /// Absent when the item did not parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tx_id: Option<TxId>,
    pub state: ItemState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<u64>,
    /// For a refused item: the detail code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<ErrorCode>,
    /// For a refused item: the field, where one is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// For a refused item: the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rule: Option<String>,
}

impl BatchItem {
    fn new(index: usize, tx_id: Option<TxId>, state: ItemState) -> BatchItem {
        BatchItem { index, tx_id, state, height: None, error: None, field: None, rule: None }
    }

    fn refused(index: usize, tx_id: Option<TxId>, e: ApiError) -> BatchItem {
        BatchItem { error: Some(e.error), field: e.field, rule: e.rule, ..BatchItem::new(index, tx_id, ItemState::Refused) }
    }
}

#[utoipa::path(
    get,
    path = "/healthz",
    tags = ["operators"],
    summary = "Liveness",
    description = "The process is alive (it does not say whether the node is connected or caught up: see `/readyz`).",
    responses((status = 200, description = "Alive; `result` is an empty object.", body = super::openapi::HealthEnvelope, example = json!(super::openapi::examples::envelope(200, "alive", serde_json::json!({})))))
)]
pub async fn healthz() -> Response {
    ok(StatusCode::OK, "alive", super::openapi::Empty {})
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {}; see the route table in docs/OPERATIONS.md", uri.path()))
}

pub async fn wrong_method(uri: Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed, format!("{} does not take this method", uri.path()))
}

#[utoipa::path(
    get,
    path = "/v1/status",
    tags = ["operators", "auditors"],
    summary = "Chain and validator status",
    description = "Chain id, height and hash of the last finalized block, the consensus view, this validator, the epoch, every validator of the epoch and whether it is connected, the quorum and the mempool. With a signed read (`x-coldchain-*` headers) it also says who the node takes the caller for (`caller`: `bureau 110000`, `enterprise <USCC>`, `auditor <name>`); a key it does not know is 401.",
    responses(
        (status = 200, description = "The status.", body = super::openapi::StatusEnvelope),
        (status = 401, response = super::openapi::Unauthorized),
    )
)]
pub async fn status(State(gw): State<Gateway>, caller: Caller) -> Result<Response, ApiError> {
    // Named only for a signed read; the plain status stays as cheap as ever.
    let caller = (caller != Caller::Public).then(|| caller.label());
    let s = &gw.services;
    let g = &s.genesis;
    let head = *s.head.borrow();
    let connected = s.network.connected_peers();
    let epoch = s.epochs.read().unwrap_or_else(std::sync::PoisonError::into_inner).current().clone();
    let validators = epoch
        .members
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let peer = peer_id_of(&v.public_key);
            let public_key = hex::encode(v.public_key);
            ValidatorStatus {
                index: i,
                name: v.name.clone(),
                province: v.province.clone(),
                peer_id: Some(peer.to_string()),
                connected: public_key == s.me.public_key || connected.contains(&peer),
                public_key,
            }
        })
        .collect();
    let live = s.live.read().map(|l| l.clone()).unwrap_or_default();
    let index = epoch.members.iter().position(|v| hex::encode(v.public_key) == s.me.public_key).map(|i| i as u16);
    // A validator that joined after this node started is named by its epoch.
    let me = match index.map(|i| &epoch.members[i as usize]) {
        Some(m) => crate::runtime::Identity { name: m.name.clone(), province: m.province.clone(), public_key: s.me.public_key.clone() },
        None => s.me.clone(),
    };
    let answer = StatusResult {
        chain_id: g.chain_id.clone(),
        height: head.height,
        last_block_hash: head.hash,
        view: live.view,
        idle: live.idle,
        epoch: epoch.number,
        validator: ThisValidator { index, name: me.name.clone(), province: me.province.clone(), public_key: me.public_key.clone() },
        validators,
        quorum: epoch.quorum,
        connected_peers: connected.iter().map(|p| p.to_string()).collect(),
        mempool: Mempool { pending: live.mempool, capacity: live.mempool_capacity },
        caller,
    };
    Ok(ok(StatusCode::OK, "", answer))
}

pub fn parse_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Value, ApiError> {
    coldchain_chaincode::strict_json::from_slice(&body_bytes(body, limit)?).map_err(malformed_json)
}

pub fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge, format!("the request body exceeds the limit of {limit} bytes"))
        } else {
            ApiError::new(e.status(), ErrorCode::BadBody, e.body_text())
        }
    })
}

fn malformed_json(e: serde_json::Error) -> ApiError {
    match coldchain_chaincode::strict_json::duplicate_path(&e) {
        Some(path) => ApiError::field(
            ErrorCode::DuplicateKey,
            path,
            format!("appears twice in one object (line {}, column {}); an object names each key once", e.line(), e.column()),
        ),
        None => ApiError::field(ErrorCode::MalformedJson, "(body)", format!("must be valid JSON: {e}")),
    }
}

/// 503 at once, before any parsing or signature check, while the mempool is
/// full: under overload the gateway spends nothing on what it would shed.
pub(super) fn shed_if_full(gw: &Gateway) -> Result<(), ApiError> {
    let (pending, capacity) = gw.services.live.read().map(|l| (l.mempool, l.mempool_capacity)).unwrap_or((0, usize::MAX));
    if capacity > 0 && pending >= capacity {
        return Err(submit_error(SubmitError::Overloaded(capacity)));
    }
    Ok(())
}

pub(super) fn submission_permit(gw: &Gateway) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    gw.submit_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded, "too many submissions in flight; retry later"))
}

fn tx_error(e: TxError) -> ApiError {
    let code = match e.field.as_str() {
        "signature" => ErrorCode::BadSignature,
        "signer.algorithm" => ErrorCode::UnsupportedKeyType,
        "chain_id" => ErrorCode::WrongChain,
        _ => ErrorCode::InvalidTransaction,
    };
    ApiError::field(code, e.field, e.rule)
}

pub(super) fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::Overloaded(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded, e.to_string()),
        SubmitError::ShuttingDown => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown, e.to_string()),
        SubmitError::Storage(_) => ApiError::internal(e),
    }
}

/// A transaction that parsed and verified, with the images taken out of its record.
pub type Checked = (TxId, Transaction, Vec<Image>);

/// Takes Base64 images out of each transaction's record (seed 004 §5:
/// images as Base64; the chain keeps their SHA-256), then parses and
/// verifies (batch signature check, off the async threads).
pub async fn check_transactions(values: Vec<Value>, gw: &Gateway) -> Vec<Result<Checked, ApiError>> {
    check_items(values, gw, Ok).await
}

/// As [`check_transactions`], for a batch held as raw JSON items: each is
/// parsed only when its turn comes, so a batch never exists as one tree of
/// `Value`s (about ten times its text).
async fn check_raw_transactions(items: Vec<Box<RawValue>>, gw: &Gateway) -> Vec<Result<Checked, ApiError>> {
    check_items(items, gw, |raw| coldchain_chaincode::strict_json::from_str(raw.get()).map_err(malformed_json)).await
}

async fn check_items<I: Send + 'static>(items: Vec<I>, gw: &Gateway, to_value: fn(I) -> Result<Value, ApiError>) -> Vec<Result<Checked, ApiError>> {
    let chain_id = gw.services.genesis.chain_id.clone();
    let signatures = gw.services.signatures;
    let state = gw.services.state.clone();
    let count = items.len();
    let checked = tokio::task::spawn_blocking(move || {
        let parsed: Vec<Result<(Transaction, Vec<Image>), ApiError>> = items
            .into_iter()
            .map(|item| {
                let mut v = to_value(item)?;
                let images = match v.get_mut("record") {
                    Some(record) => images::extract(record).map_err(|e| ApiError::field(ErrorCode::InvalidImage, e.field, e.rule))?,
                    None => Vec::new(),
                };
                let tx = Transaction::from_json(&v, &chain_id).map_err(tx_error)?;
                if !images.is_empty() && !may_send_images(&state, &tx.signer.public_key) {
                    return Err(ApiError::field(
                        ErrorCode::InvalidImage,
                        "signer.public_key",
                        "images are kept only for records signed by an enrolled enterprise, a bureau's admin key or (for an app id) its bureau's node",
                    ));
                }
                Ok((tx, images))
            })
            .collect();
        let ok: Vec<&Transaction> = parsed.iter().filter_map(|r| r.as_ref().ok().map(|(t, _)| t)).collect();
        let mut verdicts = signatures.check(&ok).into_iter();
        parsed
            .into_iter()
            .map(|r| {
                let (tx, images) = r?;
                verdicts.next().ok_or_else(|| ApiError::internal("a transaction was not checked"))?.map_err(tx_error)?;
                Ok((tx.id(), tx, images))
            })
            .collect()
    })
    .await;
    // A check that failed (a panic in a decoder) refuses the items, never the node.
    checked.unwrap_or_else(|e| (0..count).map(|_| Err(ApiError::internal(format!("checking the transactions failed: {e}")))).collect())
}

/// Whether this node keeps images sent under `key`: an enrolled
/// enterprise's, a bureau's admin or validator key (an app id's records are
/// signed by its bureau's node). Anyone else's would make the node a free
/// file host.
fn may_send_images(state: &crate::runtime::SharedState, key: &[u8; 32]) -> bool {
    let Ok(state) = state.read() else { return false };
    let l = state.ledger();
    l.contains(&ENTERPRISE_KEYS, key) || l.bureau_of_admin(key).is_some() || l.bureau_of_validator(key).is_some()
}

/// Stages a record's images until its transaction is final
/// ([`super::images`]), within its signer's daily quota (429 `image_quota`).
pub fn stage_images(gw: &Gateway, id: &TxId, tx: &Transaction, images: &[Image]) -> Result<(), ApiError> {
    if images.is_empty() {
        return Ok(());
    }
    gw.images.stage(id, &tx.signer.public_key, images, gw.services.clock.now_ms()).map_err(|e| match e {
        super::images::ImageStoreError::OverQuota { .. } => {
            ApiError { status: StatusCode::TOO_MANY_REQUESTS, ..ApiError::field(ErrorCode::ImageQuota, "signer.public_key", e.to_string()) }
        }
        other => ApiError::internal(format!("cannot stage the images of {id}: {other}")),
    })
}

pub async fn wait_finalized(gw: &Gateway, ids: &[TxId], timeout_ms: u64) -> Result<Vec<Option<u64>>, ApiError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    let mut head = gw.services.head.clone();
    let mut heights: Vec<Option<u64>> = vec![None; ids.len()];
    loop {
        head.borrow_and_update();
        // Only the ones still pending, and of those only the ones the state
        // (in memory) has applied, are looked up in the store: one lookup per
        // transaction, not one per transaction and block. The state is
        // updated before the store, so one applied but not yet stored is
        // looked up again when the head moves after its commit.
        let applied: Vec<usize> = {
            let state = gw.services.state.read().map_err(|_| ApiError::internal("state lock poisoned"))?;
            heights.iter().zip(ids).enumerate().filter(|(_, (slot, id))| slot.is_none() && state.contains(id)).map(|(i, _)| i).collect()
        };
        for i in applied {
            heights[i] = gw.services.store.tx_location(&ids[i]).map_err(ApiError::internal)?.map(|l| l.height);
        }
        if heights.iter().all(Option::is_some) {
            return Ok(heights);
        }
        match tokio::time::timeout_at(deadline, head.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(heights),
        }
    }
}

pub fn wait_ms(gw: &Gateway, q: &WaitQuery) -> Result<Option<u64>, ApiError> {
    match q.wait.as_deref() {
        None => Ok(None),
        Some("finalized") => Ok(Some(q.timeout_ms.unwrap_or(gw.services.max_wait_ms).min(gw.services.max_wait_ms))),
        Some(other) => Err(ApiError::field(ErrorCode::BadQuery, "wait", format!("must be \"finalized\", got \"{other}\""))),
    }
}

#[utoipa::path(
    post,
    path = "/v1/tx",
    tags = ["enterprises"],
    summary = "Submit one signed transaction",
    description = "One signed transaction (docs/FORMATS.md). The gateway checks the signature, the chain id and the record's rules against the state; an accepted transaction is on this node's disk before the answer. `?wait=finalized` waits (bounded by `timeout_ms` and the node's limit) for finalization. Resubmitting is harmless: the same id, `pending` or `finalized`.",
    params(WaitQuery),
    request_body(content = coldchain_chaincode::Transaction, description = "A signed transaction.", example = json!(super::openapi::examples::notarise())),
    responses(
        (status = 200, description = "Accepted (`pending`, durable on this node) or finalized (with its height).", body = super::openapi::SubmitEnvelope,
            examples(("pending" = (value = json!(super::openapi::examples::accepted()))), ("finalized" = (value = json!(super::openapi::examples::finalized()))))),
        (status = 202, description = "Accepted, but not finalized within the wait.", body = super::openapi::SubmitEnvelope, example = json!(super::openapi::examples::not_yet())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::RuleViolated),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn submit_one(State(gw): State<Gateway>, Query(q): Query<WaitQuery>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let wait = wait_ms(&gw, &q)?;
    let value = parse_body(body, gw.max_body_bytes)?;
    let (id, height) = submit_value(&gw, value, wait).await?;
    submitted(&gw, id, height, wait)
}

/// The answer to one submission: pending, finalized (applied), or refused at finalization.
pub fn submitted(gw: &Gateway, id: TxId, height: Option<u64>, wait: Option<u64>) -> Result<Response, ApiError> {
    Ok(match height {
        Some(h) => match gw.services.store.tx_location(&id).map_err(ApiError::internal)?.map(|l| l.outcome) {
            Some(Outcome::Rejected { field, rule }) => {
                return Err(ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    ..ApiError::field(ErrorCode::RuleViolated, field, format!("{rule} (refused when finalized at height {h})"))
                });
            }
            _ => ok(StatusCode::OK, "finalized", SubmitResult { tx_id: id, state: TxState::Finalized, height: Some(h) }),
        },
        None if wait.is_some() => ok(
            StatusCode::ACCEPTED,
            format!("accepted; not finalized within {} ms", wait.unwrap_or(0)),
            SubmitResult { tx_id: id, state: TxState::Pending, height: None },
        ),
        None => ok(StatusCode::OK, "accepted", SubmitResult { tx_id: id, state: TxState::Pending, height: None }),
    })
}

/// Checks, submits and (when asked) waits for one transaction: its id and
/// the height it was finalized at, if it was within the wait.
pub async fn submit_value(gw: &Gateway, value: Value, wait: Option<u64>) -> Result<(TxId, Option<u64>), ApiError> {
    let submission = submit_new(gw, value, wait).await?;
    Ok((submission.id, submission.height))
}

/// What one submission did: the transaction's id, the height it was
/// finalized at (if it was within the wait), and whether this request is
/// the one that brought it to this node (`false` for a resubmission of a
/// transaction already pending or finalized here).
pub struct Submission {
    pub id: TxId,
    pub height: Option<u64>,
    pub first: bool,
}

/// As [`submit_value`], also saying whether the transaction was new here.
pub async fn submit_new(gw: &Gateway, value: Value, wait: Option<u64>) -> Result<Submission, ApiError> {
    let permit = submission_permit(gw)?;
    let (id, tx, images) = check_transactions(vec![value], gw).await.pop().ok_or_else(|| ApiError::internal("no result for the transaction"))??;
    // Staged before the transaction can be final: an image over the quota
    // refuses the record, it never finalizes without its images.
    stage_images(gw, &id, &tx, &images)?;
    let outcome =
        gw.services.submit(vec![(id, tx)]).await.map_err(submit_error)?.pop().ok_or_else(|| ApiError::internal("no outcome for the transaction"))?;
    let (mut height, first) = match outcome {
        SubmitOutcome::Rejected { field, rule } => {
            return Err(ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, ..ApiError::field(ErrorCode::RuleViolated, field, rule) });
        }
        SubmitOutcome::AlreadyFinalized { height } => (Some(height), false),
        SubmitOutcome::AlreadyPending => (None, false),
        SubmitOutcome::Accepted => (None, true),
    };
    drop(permit);
    if let (Some(ms), None) = (wait, height) {
        height = wait_finalized(gw, &[id], ms).await?[0];
    }
    Ok(Submission { id, height, first })
}

#[utoipa::path(
    post,
    path = "/v1/tx/batch",
    tags = ["enterprises"],
    summary = "Submit signed transactions in a batch",
    description = "A JSON array of 1 to 10,000 signed transactions, checked together (batch signature verification); one result per item, in order: `pending`, `finalized` or `refused` with the field and the rule. `?wait=finalized` waits (bounded) for the accepted ones.",
    params(WaitQuery),
    request_body(content = Vec<coldchain_chaincode::Transaction>, description = "A JSON array of signed transactions.", example = json!(super::openapi::examples::batch())),
    responses(
        (status = 200, description = "At least one item accepted; see each item's result.", body = super::openapi::BatchEnvelope, example = json!(super::openapi::examples::batch_answer())),
        (status = 400, description = "Malformed JSON or not an array of 1 to 10,000 (an error envelope), or every item refused (the batch envelope with `success: false`).", body = super::openapi::BatchRefused),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 500, response = super::openapi::Internal),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn submit_batch(State(gw): State<Gateway>, Query(q): Query<WaitQuery>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let wait = wait_ms(&gw, &q)?;
    shed_if_full(&gw)?;
    let permit = submission_permit(&gw)?;
    let items: Vec<Box<RawValue>> = match serde_json::from_slice(&body_bytes(body, gw.max_body_bytes)?) {
        Ok(items) => items,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(ApiError::field(ErrorCode::InvalidBatch, "(body)", "must be a JSON array of transactions"));
        }
        Err(e) => return Err(malformed_json(e)),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::field(ErrorCode::InvalidBatch, "(body)", format!("must hold 1 to {MAX_BATCH} transactions, got {}", items.len())));
    }
    let checked: Vec<_> = check_raw_transactions(items, &gw)
        .await
        .into_iter()
        .map(|r| r.and_then(|(id, tx, images)| stage_images(&gw, &id, &tx, &images).map(|_| (id, tx))))
        .collect();
    let valid: Vec<(TxId, Transaction)> = checked.iter().filter_map(|r| r.as_ref().ok().map(|(id, tx)| (*id, tx.clone()))).collect();
    let mut outcomes = if valid.is_empty() { Vec::new() } else { gw.services.submit(valid).await.map_err(submit_error)? }.into_iter();
    let mut results = Vec::with_capacity(checked.len());
    let mut to_wait = Vec::new();
    let mut refused = 0;
    for (index, r) in checked.into_iter().enumerate() {
        match r {
            Err(e) => {
                refused += 1;
                results.push(BatchItem::refused(index, None, e));
            }
            Ok((id, _)) => match outcomes.next().ok_or_else(|| ApiError::internal("no outcome for a transaction of the batch"))? {
                SubmitOutcome::Rejected { field, rule } => {
                    refused += 1;
                    results.push(BatchItem::refused(index, Some(id), ApiError::field(ErrorCode::RuleViolated, field, rule)));
                }
                SubmitOutcome::AlreadyFinalized { height } => {
                    results.push(BatchItem { height: Some(height), ..BatchItem::new(index, Some(id), ItemState::Finalized) })
                }
                SubmitOutcome::Accepted | SubmitOutcome::AlreadyPending => {
                    to_wait.push((results.len(), id));
                    results.push(BatchItem::new(index, Some(id), ItemState::Pending));
                }
            },
        }
    }
    // The permit bounds the work of checking and submitting; waiting for
    // finalization holds only ids.
    drop(permit);
    if let Some(ms) = wait
        && !to_wait.is_empty()
    {
        let ids: Vec<TxId> = to_wait.iter().map(|(_, id)| *id).collect();
        for ((slot, _), height) in to_wait.iter().zip(wait_finalized(&gw, &ids, ms).await?) {
            if let Some(h) = height {
                results[*slot].state = ItemState::Finalized;
                results[*slot].height = Some(h);
            }
        }
    }
    let total = results.len();
    let message = if refused == 0 { format!("{total} accepted") } else { format!("{refused} of {total} refused; see each result's field and rule") };
    let status = if refused == total { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(ok(status, message, BatchResult { results }))
}

/// The result of `GET /v1/tx/{id}`: `pending`, or `finalized` with its
/// place and outcome, as the caller may see it (the other fields are absent
/// while pending).
#[derive(Serialize, ToSchema)]
pub struct TxResult {
    pub tx_id: TxId,
    pub state: TxState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<u64>,
    /// Position in the block.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub outcome: Option<Outcome>,
    /// Whether the record is masked for this caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub masked: Option<bool>,
    /// Who the caller is taken to be (`public`, an enterprise, a bureau, an auditor).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub caller: Option<String>,
    /// The transaction, its record masked as the caller may see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<coldchain_chaincode::Transaction>, nullable = false)]
    pub transaction: Option<Value>,
}

pub fn parse_id(id: &str) -> Result<TxId, ApiError> {
    id.parse::<Hash>().map_err(|_| ApiError::field(ErrorCode::BadTxId, "id", "must be 64 hexadecimal characters (a transaction id)"))
}

#[utoipa::path(
    get,
    path = "/v1/tx/{id}",
    tags = ["enterprises", "auditors"],
    summary = "A transaction and its state",
    description = "`finalized` (height, index in the block, the chaincode's outcome, the transaction) or `pending`; 404 `unknown_transaction` when this node has never seen it. What the caller sees depends on who it is (least privilege, docs/OPERATIONS.md): the public gets contacts and phones masked and prices removed; a signed read (`x-coldchain-*` headers) or a seed 004 signed request identifies an enterprise, a bureau or an auditor; a bureau's unmasked read of another province inside an open alert's trace is recorded on chain (`GET /v1/access-log`). Bad read credentials: 401.",
    params(("id" = String, Path, description = "Transaction id: 64 hexadecimal characters.")),
    responses(
        (status = 200, description = "The transaction's state.", body = super::openapi::TxEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn transaction(State(gw): State<Gateway>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = &gw.services.store;
    if let Some(loc) = store.tx_location(&id).map_err(ApiError::internal)? {
        let tx = store.tx_at(loc.height, loc.index).map_err(ApiError::internal)?.ok_or_else(|| ApiError::internal("indexed transaction missing"))?;
        let judged = {
            let state = gw.services.state.read().map_err(ApiError::internal)?;
            access::judge(&state, &caller, &tx)
        };
        access::record_access(&gw, &caller, judged.alert, &judged.crossed, format!("transaction {id}")).await?;
        let mut view = serde_json::to_value(&tx).map_err(ApiError::internal)?;
        view["record"] = judged.record;
        return Ok(ok(
            StatusCode::OK,
            format!("finalized at height {}", loc.height),
            TxResult {
                tx_id: id,
                state: TxState::Finalized,
                height: Some(loc.height),
                index: Some(loc.index),
                outcome: Some(loc.outcome),
                masked: Some(!judged.full),
                caller: Some(caller.label()),
                transaction: Some(view),
            },
        ));
    }
    if store.is_pending(&id).map_err(ApiError::internal)? {
        return Ok(ok(
            StatusCode::OK,
            "pending",
            TxResult { tx_id: id, state: TxState::Pending, height: None, index: None, outcome: None, masked: None, caller: None, transaction: None },
        ));
    }
    Err(ApiError::new(StatusCode::NOT_FOUND, ErrorCode::UnknownTransaction, format!("transaction {id} is unknown to this node")))
}

/// `GET /v1/proofs/{id}`: the bundle with the transaction for callers who
/// may see its record in full (its enterprise, its bureau, a bureau inside an
/// open alert's trace, an auditor); for others the transaction is left out
/// and the bundle proves the transaction id.
#[utoipa::path(
    get,
    path = "/v1/proofs/{id}",
    tags = ["auditors"],
    summary = "The proof bundle of a finalized transaction",
    description = "Everything needed to check offline, with only the genesis file, that a quorum of validators finalized the transaction (docs/PROOFS.md; `coldchain verify`). 404 `not_finalized` while it is pending, `unknown_transaction` if unknown. Callers who may not see the record in full (the public) get the bundle without the transaction: it proves the transaction id. What the caller sees depends on who it is (least privilege, docs/OPERATIONS.md): the public gets contacts and phones masked and prices removed; a signed read (`x-coldchain-*` headers) or a seed 004 signed request identifies an enterprise, a bureau or an auditor; a bureau's unmasked read of another province inside an open alert's trace is recorded on chain (`GET /v1/access-log`). Bad read credentials: 401.",
    params(("id" = String, Path, description = "Transaction id: 64 hexadecimal characters.")),
    responses(
        (status = 200, description = "The proof bundle.", body = super::openapi::ProofEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn proof(State(gw): State<Gateway>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let (store, epochs) = (gw.services.store.clone(), gw.services.epochs.clone());
    let bundle = tokio::task::spawn_blocking(move || -> Result<Option<ProofBundle>, ApiError> {
        let Some(loc) = store.tx_location(&id).map_err(ApiError::internal)? else { return Ok(None) };
        let header = store.header(loc.height).map_err(ApiError::internal)?.ok_or_else(|| ApiError::internal("indexed block missing"))?;
        let transaction =
            store.tx_at(loc.height, loc.index).map_err(ApiError::internal)?.ok_or_else(|| ApiError::internal("indexed transaction missing"))?;
        let finality = store.finality_proof_of(loc.height).map_err(ApiError::internal)?.ok_or_else(|| ApiError::internal("finality missing"))?;
        // The epoch certificates from genesis to the certifying epoch.
        let (finalization, links, epochs) = {
            let known = epochs.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            match finality {
                FinalityProof::Certificate(c, links) => {
                    let tip = loc.height + links.len() as u64;
                    (Some(c), links, known.certificates_to(known.at_height(tip).number))
                }
                FinalityProof::EndOfEpoch(n, links) => (None, links, known.certificates_to(n)),
            }
        };
        let ids = store.tx_ids(loc.height).map_err(ApiError::internal)?;
        Ok(Some(ProofBundle {
            version: ProofBundle::version_for(&epochs),
            epochs,
            tx_id: id,
            transaction: Some(transaction),
            leaf_index: loc.index as u64,
            merkle_path: merkle_path(&ids, loc.index as usize),
            header,
            links,
            finalization,
        }))
    })
    .await
    .map_err(ApiError::internal)??;
    match bundle {
        Some(mut b) => {
            let tx = b.transaction.as_ref().ok_or_else(|| ApiError::internal("the bundle was built without its transaction"))?;
            let judged = {
                let state = gw.services.state.read().map_err(ApiError::internal)?;
                access::judge(&state, &caller, tx)
            };
            let included = judged.full || matches!(caller, access::Caller::Auditor { .. });
            if included {
                access::record_access(&gw, &caller, judged.alert, &judged.crossed, format!("proof {id}")).await?;
            } else {
                b.transaction = None;
            }
            let message = if included { "" } else { "the record is withheld from this caller; the proof establishes its transaction id" };
            Ok(ok(StatusCode::OK, message, b))
        }
        None if gw.services.store.is_pending(&id).map_err(ApiError::internal)? => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFinalized,
            format!("transaction {id} is pending; a proof exists once it is finalized"),
        )),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, ErrorCode::UnknownTransaction, format!("transaction {id} is unknown to this node"))),
    }
}

#[utoipa::path(
    get,
    path = "/v1/evidence",
    tags = ["auditors", "operators"],
    summary = "Validators' offences on chain",
    description = "Every offence a validator committed and another validator's node recorded (an `evidence` transaction): two notarize or two finalize votes for different blocks in one view, or a nullify and a finalize vote in one view; each once, by offender, view and offence, with both signatures as signed, so anyone can check them against the genesis keys.",
    responses(
        (status = 200, description = "The offences.", body = super::openapi::EvidenceEnvelope),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn evidence(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let list = gw.services.state.read().map_err(ApiError::internal)?.evidence();
    Ok(ok(StatusCode::OK, format!("{} offences", list.len()), list))
}

#[utoipa::path(
    get,
    path = "/v1/blocks/{height}",
    tags = ["auditors"],
    summary = "A finalized block",
    description = "Header, hash, finality (its certificate, or the height whose certificate covers it) and transaction ids. Height 0 is the genesis block.",
    params(("height" = u64, Path, description = "Block height; 0 is the genesis block.")),
    responses(
        (status = 200, description = "The block.", body = super::openapi::BlockEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn block(State(gw): State<Gateway>, Path(height): Path<String>) -> Result<Response, ApiError> {
    let height: u64 = height.parse().map_err(|_| ApiError::field(ErrorCode::BadHeight, "height", "must be a non-negative integer"))?;
    let store = &gw.services.store;
    if height == 0 {
        let header = gw.services.genesis.block_header();
        return Ok(ok(StatusCode::OK, "genesis", BlockResult { height: 0, hash: header.hash(), header, finality: None, tx_ids: vec![] }));
    }
    let stored = store
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}; the head is {}", gw.services.head.borrow().height)))?;
    let finality = match stored.finality {
        Finality::Certificate(c) => BlockFinality { certificate: Some(c), covered_by: None, end_of_epoch: None },
        Finality::CoveredBy(h) => BlockFinality { certificate: None, covered_by: Some(h), end_of_epoch: None },
        Finality::EndOfEpoch(e) => BlockFinality { certificate: None, covered_by: None, end_of_epoch: Some(e) },
    };
    let (hash, tx_ids) = (stored.block.header.hash(), stored.block.tx_ids());
    Ok(ok(StatusCode::OK, "", BlockResult { height, hash, header: stored.block.header, finality: Some(finality), tx_ids }))
}

/// The result of `GET /v1/blocks/{height}` (height 0 is the genesis block, without finality).
#[derive(Serialize, ToSchema)]
pub struct BlockResult {
    pub height: u64,
    /// The header's hash, 64 hex characters.
    pub hash: Hash,
    pub header: crate::block::Header,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub finality: Option<BlockFinality>,
    pub tx_ids: Vec<TxId>,
}

/// How a block is final: its own certificate, or covered by the certificate of a descendant at `covered_by`.
#[derive(Serialize, ToSchema)]
pub struct BlockFinality {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub certificate: Option<crate::consensus::Certificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub covered_by: Option<u64>,
    /// The last block of an epoch: final by the certificate of this epoch,
    /// the next (`GET /v1/epochs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub end_of_epoch: Option<u64>,
}
