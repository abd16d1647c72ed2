//! Runs one validator: loads config, genesis, key and disk state, rebuilds
//! the chaincode state by replaying the finalized blocks, then runs the
//! consensus driver, the network and the gateway until shutdown.

// No panic reachable from a peer's message or a request (docs/SECURITY.md).
#![cfg_attr(not(test), deny(clippy::expect_used, clippy::unwrap_used))]

mod awaited;
mod driver;
mod services;
mod verify;

pub use services::{
    ChainEvent, Head, Identity, LiveStatus, NodeServices, SharedEpochs, SharedState, SignatureCheck, Submission, SubmitError, SubmitOutcome,
};

use crate::config::NodeConfig;
use crate::consensus::{Core, CoreConfig, Timeouts};
use crate::crypto::read_key_file;
use crate::genesis::Genesis;
use crate::network::{self, NetworkConfig};
use crate::storage::{ChainStore, SafetyFile, SnapshotFiles};
use std::future::Future;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Genesis(#[from] crate::genesis::GenesisError),
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    #[error(
        "the key in {key} was bureau {province}'s validator key until height {height}, when governance rotated it; start this node with the bureau's new validator key (docs/OPERATIONS.md, \"A bureau rotates its validator key\")"
    )]
    RetiredKey { key: String, province: String, height: u64 },
    #[error("epochs: {0}")]
    Epoch(String),
    #[error("storage: {0}")]
    Store(#[from] crate::storage::StoreError),
    #[error("safety file: {0}")]
    Safety(std::io::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("network: {0}")]
    Network(String),
    #[error("gateway: cannot listen on {addr}: {source}")]
    Gateway { addr: String, source: std::io::Error },
}

/// Starts the node and runs it until `shutdown` resolves.
pub async fn run(cfg: NodeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), NodeError> {
    run_with(cfg, shutdown, SignatureCheck::Verify).await
}

/// [`run`], choosing how signatures are checked: only `coldchain bench
/// --opaque` passes anything but [`SignatureCheck::Verify`].
pub async fn run_with(cfg: NodeConfig, shutdown: impl Future<Output = ()> + Send + 'static, signatures: SignatureCheck) -> Result<(), NodeError> {
    let genesis = Genesis::load(&cfg.genesis)?;
    let key = read_key_file(&cfg.key)?;
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| NodeError::DataDir { path: cfg.data_dir.display().to_string(), source })?;
    let store = ChainStore::open_with_cache(&cfg.data_dir.join("chain"), cfg.storage.cache_mb << 20)?;
    let mut safety_file = SafetyFile::new(&cfg.data_dir);
    let safety = safety_file.load().map_err(NodeError::Safety)?.unwrap_or_default();
    // The epochs this node has seen, each checked against the one before.
    let mut epochs = genesis.epochs();
    for cert in store.epoch_certificates()? {
        let epoch = cert.change.epoch;
        epochs.push(cert).map_err(|e| NodeError::Epoch(format!("stored certificate of epoch {epoch}: {e}")))?;
    }

    let peers = cfg
        .p2p
        .peers
        .iter()
        .map(|p| p.parse().map_err(|e| NodeError::Network(format!("`p2p.peers` entry {p}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let listen = cfg.p2p.listen.parse().map_err(|e| NodeError::Network(format!("`p2p.listen` {}: {e}", cfg.p2p.listen)))?;
    let net_config = NetworkConfig {
        secret_key: key.to_bytes(),
        listen,
        peers,
        // Every validator of every epoch known, and a validator that
        // governance is adding (refreshed as blocks finalize).
        allowed: {
            let mut keys: std::collections::BTreeSet<[u8; 32]> =
                epochs.certificates().iter().flat_map(|c| c.change.validators.iter().map(|v| v.public_key)).collect();
            keys.extend(genesis.keys().iter().map(|k| k.to_bytes()));
            keys.iter().map(network::peer_id_of).collect()
        },
        max_message_bytes: genesis.consensus.max_message_bytes(),
        redial_interval: std::time::Duration::from_millis(1000),
    };
    let (net, mut net_events) = network::spawn(net_config).await.map_err(|e| NodeError::Network(e.to_string()))?;
    let snapshots = SnapshotFiles::open(&cfg.data_dir.join("snapshots"))
        .map_err(|source| NodeError::DataDir { path: cfg.data_dir.join("snapshots").display().to_string(), source })?;
    // A node with no state joins from a peer's snapshot, if one is offered.
    match crate::snapshot::join(&net, &mut net_events, &store, &genesis, &cfg.snapshot).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "joining from a snapshot failed; starting from the blocks stored"),
    }
    // The epoch certificates the join fetched (a snapshot of a later epoch).
    for cert in store.epoch_certificates()? {
        if epochs.certificate(cert.change.epoch).is_none() {
            let epoch = cert.change.epoch;
            epochs.push(cert).map_err(|e| NodeError::Epoch(format!("stored certificate of epoch {epoch}: {e}")))?;
        }
    }

    // The chaincode state as stored, brought up to the head if blocks are
    // stored above it (a store from an earlier release).
    let opened = std::time::Instant::now();
    let crate::replay::Replayed { state, head: last, finalization: last_finalization, applied_blocks, .. } =
        crate::replay::open_state(&store, &genesis)?;
    let head = last.height;
    // The epoch the chain is in at the head, and this node's place in it.
    let set = epochs.at_height(head + 1).clone();
    let me = set.index_of(&key.verifying_key());
    let bureau = state.ledger().bureau_of_validator(&key.verifying_key().to_bytes()).cloned();
    let identity = match (&bureau, genesis.index_of(&key.verifying_key())) {
        (Some(b), _) => Identity { name: b.name.clone(), province: b.province.clone(), public_key: hex::encode(key.verifying_key().to_bytes()) },
        (None, Some(i)) => {
            let v = &genesis.validators[i as usize];
            Identity { name: v.name.clone(), province: v.province.clone(), public_key: v.public_key.clone() }
        }
        (None, None) => Identity { name: "follower".into(), province: String::new(), public_key: hex::encode(key.verifying_key().to_bytes()) },
    };
    if me.is_none() {
        if let Some(former) = state.ledger().former_validator_key(&key.verifying_key().to_bytes()) {
            return Err(NodeError::RetiredKey { key: cfg.key.display().to_string(), province: former.province.clone(), height: former.until_height });
        }
        tracing::warn!(
            epoch = set.number,
            key = %identity.public_key,
            "this node's key is not a validator of epoch {}: it follows the chain and votes once governance makes it one", set.number
        );
    }
    let safety = if safety.epoch == set.number { safety } else { crate::consensus::SafetyState { epoch: set.number, ..Default::default() } };
    tracing::info!(
        validator = %identity.name,
        epoch = set.number,
        height = head,
        state_root = %state.root(),
        applied_blocks,
        ms = opened.elapsed().as_millis() as u64,
        "state opened from disk"
    );
    if cfg.clock_offset_ms != 0 {
        tracing::warn!(clock_offset_ms = cfg.clock_offset_ms, "this node's clock is shifted by clock_offset_ms");
    }

    let proposals = store.proposals()?;
    let known = proposals.iter().filter(|b| b.header.height > head).map(|b| b.header.clone()).collect();
    let core_cfg = CoreConfig {
        chain_id: genesis.chain_id.clone(),
        epoch: set.number,
        epoch_base: (set.number > 0).then_some(set.after_hash),
        validators: set.keys.clone(),
        quorum: set.quorum,
        signer: me.map(|i| (i, key.clone())),
        timeouts: Timeouts {
            leader_ms: cfg.consensus.leader_timeout_ms,
            advance_ms: cfg.consensus.advance_timeout_ms,
            retry_ms: cfg.consensus.retry_ms,
        },
    };
    let core = Core::new(core_cfg, safety, last.clone(), last_finalization, known);

    let (head_tx, head_rx) = watch::channel(Head { height: last.height, hash: last.hash() });
    let (submit_tx, submit_rx) = mpsc::channel(1024);
    let live = Arc::new(RwLock::new(LiveStatus::default()));
    let state = Arc::new(RwLock::new(state));
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let images_dir = cfg.data_dir.join("images");
    std::fs::create_dir_all(&images_dir).map_err(|source| NodeError::DataDir { path: images_dir.display().to_string(), source })?;
    let node_key = Arc::new(key.clone());
    let services = NodeServices {
        genesis: Arc::new(genesis),
        me: identity,
        epochs: Arc::new(RwLock::new(epochs.clone())),
        store: store.clone(),
        head: head_rx,
        live: live.clone(),
        submit: submit_tx,
        network: net.clone(),
        max_wait_ms: cfg.gateway.max_wait_ms,
        signatures,
        state: state.clone(),
        events,
        images_dir,
        node_key,
        clock: crate::clock::Clock::with_offset(cfg.clock_offset_ms),
    };

    let gateway_error = |source| NodeError::Gateway { addr: cfg.gateway.listen.clone(), source };
    let listener = std::net::TcpListener::bind(&cfg.gateway.listen).map_err(gateway_error)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let gateway = crate::gateway::spawn(listener, services.clone(), cfg.gateway.clone(), stop_rx.clone()).map_err(gateway_error)?;

    let driver = driver::Driver::new(driver::DriverParts {
        core,
        services: services.clone(),
        store,
        safety_file,
        state,
        last_finalized: last,
        proposals,
        consensus: cfg.consensus.clone(),
        mempool_capacity: cfg.mempool.max_txs,
        head: head_tx,
        live,
        snapshots,
        snapshot: cfg.snapshot.clone(),
        epochs,
        core_epoch: set.number,
        me,
    })?;
    let driver_task = tokio::spawn(driver.run(net_events, submit_rx, stop_rx));

    shutdown.await;
    tracing::info!("shutting down: closing the gateway, flushing the store");
    let _ = stop_tx.send(true);
    let _ = tokio::task::spawn_blocking(move || gateway.join()).await;
    let _ = driver_task.await;
    Ok(())
}
