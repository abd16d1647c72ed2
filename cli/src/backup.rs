//! `coldchain export` and `coldchain import`: a thin shell over
//! `coldchain_node::backup`. Files are written to a temporary name and
//! renamed when complete, so a backup file is never half a chain.

use crate::client::Gateway;
use anyhow::{Context, Result, bail};
use coldchain_node::backup::{self, ExportHeader, Summary};
use coldchain_node::config::NodeConfig;
use coldchain_node::genesis::Genesis;
use coldchain_node::storage::ChainStore;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

fn open_store(cfg: &NodeConfig) -> Result<ChainStore> {
    ChainStore::open(&cfg.data_dir.join("chain"))
        .with_context(|| format!("opening the store in {} (stop the node first, or export with --gateway)", cfg.data_dir.display()))
}

/// Writes `out` through a temporary file; `write` fills it.
fn write_atomically(out: &Path, write: impl FnOnce(&mut BufWriter<std::fs::File>) -> Result<()>) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.partial", out.display()));
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let result = write(&mut w).and_then(|_| {
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))
}

/// From a running node's gateway (`GET /v1/export`).
pub fn export_from_gateway(gateway: &str, admin_key: ed25519_dalek::SigningKey, out: &Path) -> Result<Summary> {
    let gw = Gateway::new(gateway).reading_as(Some(admin_key));
    write_atomically(out, |w| gw.download("/v1/export", w).map(|_| ()))?;
    summarize(out)
}

/// From a stopped node's data directory.
pub fn export_from_store(config: &Path, out: &Path) -> Result<Summary> {
    let cfg = NodeConfig::load(config)?;
    let genesis = Genesis::load(&cfg.genesis)?;
    let store = open_store(&cfg)?;
    let mut summary = Summary::default();
    write_atomically(out, |w| {
        summary = backup::export(&store, &genesis, w)?;
        Ok(())
    })?;
    Ok(summary)
}

/// `coldchain verify-chain`: replays a stopped node's finalized blocks from
/// genesis and checks the state root after each against the one recorded
/// when the block was committed.
pub fn verify_chain(config: &Path) -> Result<()> {
    let cfg = NodeConfig::load(config)?;
    let genesis = Genesis::load(&cfg.genesis)?;
    let store = open_store(&cfg)?;
    let started = std::time::Instant::now();
    let replayed = coldchain_node::replay::replay(&store, &genesis)?;
    println!(
        "replayed {} blocks ({} transactions applied, {} refused) in {:.1} s: state root {} at height {}; {} recorded roots matched",
        replayed.head.height,
        replayed.state.applied_count(),
        replayed.state.rejected_count(),
        started.elapsed().as_secs_f64(),
        replayed.state.root(),
        replayed.head.height,
        replayed.checked_roots
    );
    // The state the node stored, entry by entry, against the one re-derived.
    let stored = coldchain_chaincode::State::open_store(std::sync::Arc::new(store.state_tree()), genesis.chaincode_genesis());
    if stored.height() != replayed.head.height {
        println!("the stored state is at height {}: the node applies the blocks above it when it starts; not compared", stored.height());
        return Ok(());
    }
    let (kept, derived) = (stored.digest(), replayed.state.digest());
    if kept != derived {
        bail!(
            "the state stored at height {} differs from the state the blocks give: digest {kept} stored, {derived} replayed; \
             the store was altered or damaged: restore this node from a peer (docs/OPERATIONS.md)",
            stored.height()
        );
    }
    println!("the stored state matches the replayed one entry for entry (digest {kept})");
    Ok(())
}

/// Counts what an export file holds, checking that its last line is whole.
fn summarize(path: &Path) -> Result<Summary> {
    let mut lines = BufReader::new(std::fs::File::open(path)?).lines();
    let header: ExportHeader = serde_json::from_str(&lines.next().context("empty export")??).context("not an export header")?;
    let mut summary = Summary { height: header.height, ..Summary::default() };
    for line in lines {
        let block: coldchain_node::storage::StoredBlock = serde_json::from_str(&line?).context("an incomplete block in the export")?;
        summary.blocks += 1;
        summary.transactions += block.block.txs.len() as u64;
    }
    if summary.blocks != header.height {
        bail!("the export announces height {} but holds {} blocks", header.height, summary.blocks);
    }
    Ok(summary)
}

/// Appends an export to a stopped node's store.
pub fn import(config: &Path, file: &Path) -> Result<Summary> {
    let cfg = NodeConfig::load(config)?;
    let genesis = Genesis::load(&cfg.genesis)?;
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let store = open_store(&cfg)?;
    let input = BufReader::with_capacity(1 << 20, std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let summary = backup::import(&store, &genesis, input).with_context(|| format!("importing {}", file.display()))?;
    store.flush()?;
    Ok(summary)
}

pub fn print(what: &str, s: &Summary) {
    println!("{what}: {} blocks, {} transactions; height {}", s.blocks, s.transactions, s.height);
    if s.already_held > 0 {
        println!("{} blocks of the file were already held (identical)", s.already_held);
    }
}

impl Gateway {
    /// Streams a non-envelope download into `out`; returns the bytes copied.
    pub fn download(&self, path: &str, out: &mut impl Write) -> Result<u64> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.get_request(path)?.config().timeout_global(None).build().call().with_context(|| format!("GET {url}"))?;
        if resp.status().as_u16() != 200 {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let envelope: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            bail!("gateway answered {}: {}", resp.status().as_u16(), crate::client::describe_error(&envelope));
        }
        let n = std::io::copy(&mut resp.body_mut().with_config().limit(u64::MAX).reader(), out).with_context(|| format!("reading {url}"))?;
        out.flush()?;
        Ok(n)
    }
}
