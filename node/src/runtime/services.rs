//! What the gateway may use of a running node: read-only views of the store
//! and status, and a channel to submit transactions to the driver.

use crate::clock::Clock;
use crate::consensus::epoch::Epochs;
use crate::genesis::Genesis;
use crate::storage::ChainStore;
use crate::wire::Network;
use coldchain_chaincode::{Hash, State, Transaction, TxId};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// The chaincode state: written by the driver as blocks finalize, read by
/// the gateway (codes, traces, alerts).
pub type SharedState = Arc<RwLock<State>>;

/// Something finalized that other provinces' officers are told of at once
/// (`GET /v1/alerts/stream`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainEvent {
    /// `alert`, `warning`, `alert_disposal` or `notice`.
    pub kind: &'static str,
    pub tx_id: TxId,
    pub height: u64,
}

impl ChainEvent {
    /// The event kinds of an applied transaction: an alert, disposal or
    /// notice record, or a record whose positive test result made the chain
    /// raise an alert (`state`, after applying it, holds an alert under its
    /// id; chaincode `records::clearance`); an alert that warned holders of
    /// associated lots is followed by a `warning`.
    pub fn kinds_of(tx: &Transaction, tx_id: &TxId, state: &State) -> Vec<&'static str> {
        let text = tx.record.as_str();
        let alert = if text.contains("\"type\":\"product_batch\"") || text.contains("\"type\":\"central_warehouse\"") {
            state.ledger().contains(&coldchain_chaincode::state::ledger::ALERTS, tx_id)
        } else if text.contains("\"type\":\"alert") || text.contains("\"type\":\"notice\"") {
            match tx.record_type().as_str() {
                "alert" => true,
                "alert_disposal" => return vec!["alert_disposal"],
                "notice" => return vec!["notice"],
                _ => return Vec::new(),
            }
        } else {
            return Vec::new(); // most records: no parse
        };
        if !alert {
            return Vec::new();
        }
        let warned = state.ledger().scan(&coldchain_chaincode::state::ledger::WARNINGS, tx_id).next().is_some();
        if warned { vec!["alert", "warning"] } else { vec!["alert"] }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Head {
    pub height: u64,
    pub hash: Hash,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LiveStatus {
    pub view: u64,
    pub mempool: usize,
    pub mempool_capacity: usize,
    /// The highest finalized height a peer has reported (sync's view of the chain).
    pub best_peer_height: u64,
    pub votes_sent: u64,
    pub votes_received: u64,
    /// Blocks and transactions finalized since this process started.
    pub finalized_blocks: u64,
    pub finalized_txs: u64,
    /// The consensus core is idle (Rule I): no work and nobody active in
    /// the current view, so no timer runs and no block is made.
    pub idle: bool,
    /// Why this validator stopped voting: its state root differs from one
    /// the quorum certified (runtime/driver/certified.rs).
    pub diverged: Option<String>,
    /// The body log's files, the part of it that is garbage (bodies of
    /// proposals that never became final), and what compaction reclaimed
    /// since this process started; measured after each compaction run.
    pub body_log_bytes: u64,
    pub body_log_garbage_bytes: u64,
    pub body_log_reclaimed_bytes: u64,
    /// Consensus messages from peers the core dropped, by reason.
    pub refused: std::collections::BTreeMap<&'static str, u64>,
}

/// The driver's answer for one submitted transaction.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// Durably stored on this node and relayed; will be finalized.
    Accepted,
    /// Already pending: nothing new stored.
    AlreadyPending,
    /// Already on chain.
    AlreadyFinalized { height: u64 },
    /// Broke a rule of the chaincode; nothing stored.
    Rejected { field: String, rule: String },
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SubmitError {
    #[error("the mempool is full ({0} pending transactions); retry later")]
    Overloaded(usize),
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("storage failed: {0}")]
    Storage(String),
}

pub struct Submission {
    pub txs: Vec<(TxId, Transaction)>,
    /// All or nothing, in order: each transaction is checked against the
    /// state with the ones before it applied, and if one breaks a rule none
    /// is stored (an EPCIS capture). Otherwise each stands alone.
    pub sequence: bool,
    pub reply: oneshot::Sender<Result<Vec<SubmitOutcome>, SubmitError>>,
}

/// How a node checks transaction signatures. Every real node verifies.
/// `SkipForBenchmark` exists for one purpose: `coldchain bench --opaque`,
/// which compares the consensus pipeline with other BFT implementations on
/// opaque payloads. It runs its nodes in-process through
/// [`run_with`](super::run_with); no config option or command-line flag of
/// `coldchain node` can select it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Verify,
    SkipForBenchmark,
}

impl SignatureCheck {
    /// One verdict per transaction (batch verification when verifying).
    pub fn check(self, txs: &[&Transaction]) -> Vec<Result<(), coldchain_chaincode::TxError>> {
        match self {
            SignatureCheck::Verify => coldchain_chaincode::transaction::verify_batch(txs),
            SignatureCheck::SkipForBenchmark => vec![Ok(()); txs.len()],
        }
    }
}

/// This node: its key and the bureau it is the validator of (from the
/// chain, or genesis; a node not yet a validator, one joining, has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub province: String,
    /// 64 hexadecimal characters.
    pub public_key: String,
}

/// The epochs this node knows, checked from genesis (the driver adds each
/// new one; the gateway reads them for status and proofs).
pub type SharedEpochs = Arc<RwLock<Epochs>>;

#[derive(Clone)]
pub struct NodeServices {
    pub genesis: Arc<Genesis>,
    pub me: Identity,
    pub epochs: SharedEpochs,
    pub store: ChainStore,
    pub head: watch::Receiver<Head>,
    pub live: Arc<RwLock<LiveStatus>>,
    pub submit: mpsc::Sender<Submission>,
    pub network: Network,
    pub max_wait_ms: u64,
    pub signatures: SignatureCheck,
    pub state: SharedState,
    pub events: broadcast::Sender<ChainEvent>,
    /// Where images taken out of records are kept, by SHA-256.
    pub images_dir: PathBuf,
    /// This validator's key: signs national-interface reports on behalf of
    /// their HTTP Basic clients.
    pub node_key: Arc<SigningKey>,
    /// This node's wall clock (offset by `clock_offset_ms`).
    pub clock: Clock,
}

impl NodeServices {
    /// Hands verified transactions to the driver; answers once they are
    /// durable on this node (or refused).
    pub async fn submit(&self, txs: Vec<(TxId, Transaction)>) -> Result<Vec<SubmitOutcome>, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.submit.send(Submission { txs, sequence: false, reply }).await.map_err(|_| SubmitError::ShuttingDown)?;
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// As [`NodeServices::submit`], all or nothing: the transactions are
    /// checked in order, each against the state with the ones before it
    /// applied; one that breaks a rule is `Rejected` with its field and rule,
    /// and then none is stored (the others are `Rejected` naming it). They
    /// enter the mempool in order, so blocks apply them in order.
    pub async fn submit_sequence(&self, txs: Vec<(TxId, Transaction)>) -> Result<Vec<SubmitOutcome>, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.submit.send(Submission { txs, sequence: true, reply }).await.map_err(|_| SubmitError::ShuttingDown)?;
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }
}
