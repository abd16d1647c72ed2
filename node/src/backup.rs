//! Backup and restore of the finalized chain (`coldchain export`/`import`,
//! `GET /v1/export`).
//!
//! An export is JSON Lines: first an [`ExportHeader`], then every finalized
//! block from height 1 as a [`StoredBlock`] (header, transactions, finality),
//! in height order. The last block always carries its own finalization
//! certificate, so a file is self-checking: [`import`] trusts nothing in it
//! and checks every block against genesis exactly as block sync checks a
//! peer's segment ([`crate::sync::verify_segment`]): parent links, Merkle
//! roots, and a quorum certificate for each run of blocks.

use crate::block::Header;
use crate::genesis::Genesis;
use crate::replay::open_state;
use crate::storage::{ChainStore, StoreError, StoredBlock};
use crate::sync::{SyncError, verify_segment};
use coldchain_chaincode::{BlockContext, Hash, Receipt};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

pub const FORMAT: &str = "coldchain-export/1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub format: String,
    pub chain_id: String,
    /// Hash of genesis's block header (height 0).
    pub genesis: Hash,
    /// The last height in the file.
    pub height: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Format { line: usize, message: String },
    #[error("the export is of chain `{found}` (genesis {found_genesis}), this node's genesis is `{expected}` ({expected_genesis})")]
    OtherChain { found: String, found_genesis: Hash, expected: String, expected_genesis: Hash },
    #[error("block {height} of the export differs from the block this node holds at that height")]
    Diverges { height: u64 },
    #[error("line {line}: {error}")]
    Invalid { line: usize, error: SyncError },
    #[error("the export ends at height {height} with a block that has no finalization certificate of its own")]
    Unfinished { height: u64 },
    /// A line or a run of blocks no honest chain writes: over the genesis
    /// message limit (a block is at most half of it).
    #[error("line {line}: {what} is over {limit} bytes, the genesis `consensus.max_message_bytes`; no block of this chain is that large")]
    TooLarge { line: usize, what: &'static str, limit: usize },
}

/// What [`export`] wrote or [`import`] stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Blocks written (export) or newly stored (import).
    pub blocks: u64,
    pub transactions: u64,
    /// Blocks the node already held (import only).
    pub already_held: u64,
    /// The node's head afterwards (import) or the file's last height (export).
    pub height: u64,
}

/// Writes the header and blocks 1..=head of `store`.
pub fn export(store: &ChainStore, genesis: &Genesis, out: &mut impl Write) -> Result<Summary, BackupError> {
    let height = store.head()?;
    let header = ExportHeader { format: FORMAT.into(), chain_id: genesis.chain_id.clone(), genesis: genesis.block_header().hash(), height };
    serde_json::to_writer(&mut *out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    let mut summary = Summary { height, ..Summary::default() };
    for h in 1..=height {
        let block =
            store.block(h)?.ok_or_else(|| StoreError::Corrupt { tree: "blocks", detail: format!("block {h} missing below head {height}") })?;
        serde_json::to_writer(&mut *out, &block).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        summary.blocks += 1;
        summary.transactions += block.block.txs.len() as u64;
    }
    out.flush()?;
    Ok(summary)
}

/// Appends the blocks of an export above `store`'s head, checking each run
/// of blocks against genesis before anything of it is stored. Blocks the
/// store already holds must be identical. Stops at the first bad line: what
/// was stored before it is checked and final, nothing after it is stored.
pub fn import(store: &ChainStore, genesis: &Genesis, input: impl BufRead) -> Result<Summary, BackupError> {
    let replayed = open_state(store, genesis)?;
    let mut state = replayed.state;
    let mut head: Header = replayed.head;
    // A line is read only up to the genesis message limit, and a run of
    // blocks waiting for its certificate is held only up to it: a file
    // cannot make the node read or hold more than an honest chain's block.
    let limit = genesis.consensus.max_message_bytes();
    let mut lines = bounded_lines(input, limit).enumerate().map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or(BackupError::Format { line: 1, message: "the file is empty".into() })?;
    let file: ExportHeader = serde_json::from_str(&first.map_err(|e| e.at(1))?)
        .map_err(|e| BackupError::Format { line: 1, message: format!("not an export header: {e}") })?;
    if file.format != FORMAT {
        return Err(BackupError::Format { line: 1, message: format!("format `{}`, expected `{FORMAT}`", file.format) });
    }
    let genesis_hash = genesis.block_header().hash();
    if file.chain_id != genesis.chain_id || file.genesis != genesis_hash {
        return Err(BackupError::OtherChain {
            found: file.chain_id,
            found_genesis: file.genesis,
            expected: genesis.chain_id.clone(),
            expected_genesis: genesis_hash,
        });
    }
    // Blocks of later epochs are checked against the epoch certificates
    // this store holds (an export of a chain that changed its validators
    // is imported into a store that has followed those changes).
    let mut epochs = genesis.epochs();
    for cert in store.epoch_certificates()? {
        if let Err(e) = epochs.push(cert) {
            return Err(BackupError::Format { line: 0, message: format!("stored epoch certificate: {e}") });
        }
    }
    let mut summary = Summary::default();
    let mut run: Vec<StoredBlock> = Vec::new();
    let mut run_start_line = 0;
    let mut run_bytes = 0;
    for (line, text) in lines {
        let text = text.map_err(|e| e.at(line))?;
        if text.trim().is_empty() {
            continue;
        }
        let stored: StoredBlock = serde_json::from_str(&text).map_err(|e| BackupError::Format { line, message: format!("not a block: {e}") })?;
        let height = stored.block.header.height;
        if height <= head.height {
            if store.header(height)?.map(|h| h.hash()) != Some(stored.block.header.hash()) {
                return Err(BackupError::Diverges { height });
            }
            summary.already_held += 1;
            continue;
        }
        if run.is_empty() {
            run_start_line = line;
            run_bytes = 0;
        }
        run_bytes += text.len();
        if run_bytes > limit {
            return Err(BackupError::TooLarge { line: run_start_line, what: "the run of blocks from here to its certificate", limit });
        }
        let certified = stored.finality.is_certified();
        run.push(stored);
        if !certified {
            continue;
        }
        let (count, finality) = verify_segment(&epochs, &head, &run).map_err(|error| BackupError::Invalid { line: run_start_line, error })?;
        debug_assert_eq!(count, run.len());
        let mut blocks = Vec::with_capacity(run.len());
        let mut roots = Vec::with_capacity(run.len());
        for stored in run.drain(..) {
            let block = stored.block;
            let ctx = BlockContext { height: block.header.height, time_ms: block.header.time_ms };
            let receipts: Vec<Receipt> = state.apply_block(ctx, block.txs.iter());
            summary.blocks += 1;
            summary.transactions += block.txs.len() as u64;
            blocks.push((block, receipts));
            roots.push(state.root());
        }
        store.commit_with_state(&blocks, &finality, &roots, state.changes())?;
        state.settle();
        head = blocks.last().expect("a run holds its certified block").0.header.clone();
    }
    if let Some(last) = run.last() {
        return Err(BackupError::Unfinished { height: last.block.header.height });
    }
    summary.height = head.height;
    Ok(summary)
}

/// Why a line could not be read.
enum LineError {
    Io(std::io::Error),
    TooLong(usize),
}

impl LineError {
    fn at(self, line: usize) -> BackupError {
        match self {
            LineError::Io(e) => BackupError::Io(e),
            LineError::TooLong(limit) => BackupError::TooLarge { line, what: "the line", limit },
        }
    }
}

/// The lines of `input`, each read only up to `limit` bytes: a longer one
/// is an error, and nothing after it is read.
fn bounded_lines(mut input: impl BufRead, limit: usize) -> impl Iterator<Item = Result<String, LineError>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = Vec::new();
        let read = std::io::Read::take(&mut input, limit as u64 + 1).read_until(b'\n', &mut buf);
        match read {
            Ok(0) => None,
            Err(e) => {
                done = true;
                Some(Err(LineError::Io(e)))
            }
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.len() > limit {
                    done = true;
                    return Some(Err(LineError::TooLong(limit)));
                }
                Some(String::from_utf8(buf).map_err(|e| LineError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: `lines()` read a line of any length into memory: a file of
    /// one 10 GB line took 10 GB before anything was checked. A line is
    /// now read up to the limit, and the one over it is refused by number.
    #[test]
    fn a_line_over_the_message_limit_is_refused_without_reading_it_all() {
        let text = format!("short\n{}\n{}\nnever read\n", "x".repeat(64), "y".repeat(65));
        let lines: Vec<_> = bounded_lines(text.as_bytes(), 64).enumerate().map(|(i, l)| l.map_err(|e| e.at(i + 1).to_string())).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].as_deref(), Ok("short"));
        assert_eq!(lines[1].as_deref().map(str::len), Ok(64));
        let err = lines[2].clone().unwrap_err();
        assert!(err.starts_with("line 3: the line is over 64 bytes"), "{err}");
        // A stream that never ends a line is cut at the limit, not read on.
        let endless = std::io::BufReader::new(std::io::repeat(b'z'));
        let first = bounded_lines(endless, 1 << 20).next().unwrap();
        assert!(matches!(first, Err(LineError::TooLong(_))));
    }
}
