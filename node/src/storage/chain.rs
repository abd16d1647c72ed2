//! The finalized chain in sled.
//!
//! Trees (integers big-endian, so keys sort by height):
//! - `blocks`: height → {header, finality} (JSON, small);
//! - `block_bodies`: height → where the block's body is in the body log
//!   (`bodies/`, see [`super::body_log`]): segment (u64) ‖ offset (u64) ‖
//!   length (u32), then the offset in the body of every 64th transaction's
//!   line (u32 each), so one transaction is read without the rest;
//! - `block_txs` (stores written before the body log, still read): height ‖
//!   chunk (u32) → the canonical bytes of up to 64 of the block's
//!   transactions, one per line (canonical JSON has no raw newline);
//! - `hashes`: block hash → height; `txs`: for the transactions the
//!   chaincode refused only, tx id → height (u64) ‖ index (u32) ‖ the
//!   outcome as JSON (stores written before this encoding hold JSON
//!   `{height, index, outcome}` for every transaction, still read);
//! - `pending`: per accepted submission, values of up to 64 of its
//!   transactions under a sequence number (u64): their canonical bytes, one
//!   per line; each deleted
//!   when the last of them is final (stores written before this hold one
//!   transaction per value under its id, still read);
//! - outside sled, in the body log: the body of each block this node voted
//!   for, fsynced before the vote (a consortium that restarts all at once
//!   still holds every block that may be final); once final, `block_bodies`
//!   points at it, so a body is written once. (Stores from before the log
//!   kept these as `proposals/HEIGHT-HASH.block` files, still read.)
//! - `state`: the chaincode state ([`super::StateTree`], docs/FORMATS.md),
//!   which also says where each finalized transaction is (its `seen` table);
//! - `body_garbage`: segment ‖ offset (u64 each) → frame bytes (u64), for
//!   each frame of the body log that nothing points at (the body of a
//!   proposal that never became final): what body-log compaction reclaims
//!   ([`super::compaction`]);
//! - `evidence`; `meta` (`head`: the last finalized height; `bodies_from`:
//!   where in the body log the bodies above the head begin;
//!   `bodies_compacting`: a compaction under way).
//!
//! No block body in sled: sled copies a tree node on every insert. The
//! state's batch is written after the blocks and before the head; the head
//! is written last and everything is flushed before a commit returns, so
//! what the node acknowledges is on disk; block entries above the head (an
//! interrupted commit) are ignored, and a state above the head moves the
//! head up at open.

use super::body_log::{BodyLog, BodyPos};
use super::pending::PendingIndex;
use super::state_tree::StateTree;
use crate::block::{Block, Header};
use crate::consensus::epoch::EpochCertificate;
use crate::consensus::{Certificate, Evidence};
use coldchain_chaincode::state::store::Changes;
use coldchain_chaincode::{Hash, Outcome, Receipt, State, Transaction, TxId};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in tree `{tree}`: {detail}")]
    Corrupt { tree: &'static str, detail: String },
    /// Replaying the stored blocks gave another state root than the one
    /// recorded when the block was committed, or than a header certifies.
    #[error(
        "the state replayed from the stored blocks differs at height {height}: root {replayed}, but {stored} recorded when the block was committed or certified by a later header; \
         this binary applies a historical transaction differently from the one that committed it, or the store was altered. Not starting: \
         run the release that committed the chain, or restore this node from a peer (docs/OPERATIONS.md)"
    )]
    StateDiverged { height: u64, stored: Hash, replayed: Hash },
}

/// How a stored block is known to be final.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finality {
    /// Its own finalization certificate.
    Certificate(Certificate),
    /// Final because the block at this height, which extends it, was finalized.
    CoveredBy(u64),
    /// The last block of an epoch, final by the certificate of the epoch
    /// that follows it (stored apart, [`ChainStore::epoch_certificates`]):
    /// the block that extended it in the old epoch and carried the
    /// finalization is not part of the chain (docs/PROTOCOL.md, "Epochs").
    EndOfEpoch(u64),
}

impl Finality {
    /// Whether the block carries its own proof of finality (a certificate,
    /// or the epoch certificate that names it).
    pub fn is_certified(&self) -> bool {
        !matches!(self, Finality::CoveredBy(_))
    }
}

/// How a block is proven final, for proofs: a finalization certificate and
/// the headers from the block up to the certified one, or the epoch
/// certificate that names the last of those headers.
#[derive(Clone, Debug, PartialEq)]
pub enum FinalityProof {
    Certificate(Certificate, Vec<Header>),
    EndOfEpoch(u64, Vec<Header>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredBlock {
    pub block: Block,
    pub finality: Finality,
}

#[derive(Serialize, Deserialize)]
struct BlockMeta {
    header: Header,
    finality: Finality,
    /// The chaincode state root after this block, as the committing node
    /// computed it; checked on every replay (absent in stores written
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_root: Option<Hash>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub struct ChainStore {
    pub(super) db: sled::Db,
    blocks: sled::Tree,
    block_txs: sled::Tree,
    hashes: sled::Tree,
    txs: sled::Tree,
    pending: sled::Tree,
    /// Which `pending` batch holds each accepted transaction, in memory: a
    /// commit finds the batches it completes without a lookup in sled.
    pending_ids: Arc<Mutex<PendingIndex>>,
    proposal_dir: std::path::PathBuf,
    pub(super) bodies: BodyLog,
    pub(super) block_bodies: sled::Tree,
    pub(super) body_garbage: sled::Tree,
    /// One body-log compaction at a time.
    pub(super) compaction: Arc<Mutex<()>>,
    /// Bodies in the log of blocks above the head (voted for, not yet final).
    unfinal: Arc<Mutex<HashMap<Hash, Unfinal>>>,
    evidence: sled::Tree,
    /// Epoch certificates by epoch (u64 BE), JSON.
    epochs: sled::Tree,
    pub(super) meta: sled::Tree,
    nonces: sled::Tree,
    images: sled::Tree,
    state: StateTree,
    /// The head as of the last flush. sled shows a write to readers before
    /// it is on disk; readers (the gateway acknowledging a transaction as
    /// final) see only heights that a crash cannot take back.
    durable_head: Arc<AtomicU64>,
}

const HEAD: &[u8] = b"head";
/// Where in the body log the oldest body above the head starts (segment ‖
/// offset, u64 each): a start reads the log from there only.
const BODIES_FROM: &[u8] = b"bodies_from";
/// The height of the snapshot the state was restored from (u64).
const RESTORED_AT: &[u8] = b"restored_at";

struct Unfinal {
    header: Header,
    place: BodyPlace,
}

/// Where a body is: its place in the log, and the offset within it of every
/// [`CHUNK`]th transaction line (none for an empty block).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct BodyPlace {
    pub(super) pos: BodyPos,
    chunks: Vec<u32>,
}

impl BodyPlace {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BodyPos::ENCODED + 4 * self.chunks.len());
        self.pos.encode(&mut out);
        for c in &self.chunks {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<BodyPlace, StoreError> {
        let pos = BodyPos::decode(bytes).ok_or_else(|| corrupt("block_bodies", format!("value of {} bytes", bytes.len())))?;
        let rest = &bytes[BodyPos::ENCODED..];
        if !rest.len().is_multiple_of(4) {
            return Err(corrupt("block_bodies", format!("value of {} bytes", bytes.len())));
        }
        Ok(BodyPlace { pos, chunks: rest.chunks(4).map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes"))).collect() })
    }

    /// The byte range of the transaction lines from chunk `from` up to chunk
    /// `to` (`None`: to the end of the body).
    fn range(&self, from: usize, to: Option<usize>) -> std::ops::Range<usize> {
        let end = to.and_then(|k| self.chunks.get(k)).map_or(self.pos.len as usize, |&c| c as usize);
        self.chunks.get(from).map_or(end, |&c| c as usize)..end
    }
}

/// A block's body as the log holds it: the header as JSON, a newline, then
/// each transaction's canonical bytes and a newline; and the offsets of
/// every [`CHUNK`]th line.
pub(super) fn body_payload(block: &Block) -> (Vec<u8>, Vec<u32>) {
    let mut out = serde_json::to_vec(&block.header).expect("plain data");
    out.push(b'\n');
    let mut chunks = Vec::with_capacity(block.txs.len().div_ceil(CHUNK));
    for (i, tx) in block.txs.iter().enumerate() {
        if i % CHUNK == 0 {
            chunks.push(out.len() as u32);
        }
        tx.write_canonical_bytes(&mut out);
        out.push(b'\n');
    }
    (out, chunks)
}

/// A logged body's header, and where its transaction lines start.
pub(super) fn parse_header(payload: &[u8]) -> Result<(Header, usize), StoreError> {
    let split = payload.iter().position(|b| *b == b'\n').ok_or_else(|| corrupt("bodies", "a body without a header line"))?;
    let header: Header = serde_json::from_slice(&payload[..split]).map_err(|e| corrupt("bodies", e))?;
    Ok((header, split + 1))
}

/// The offsets of every [`CHUNK`]th transaction line of a logged body.
fn chunk_offsets(payload: &[u8], start: usize) -> Vec<u32> {
    let mut chunks = Vec::new();
    let mut at = start;
    let mut i = 0;
    while at < payload.len() {
        if i % CHUNK == 0 {
            chunks.push(at as u32);
        }
        at += payload[at..].iter().position(|b| *b == b'\n').map_or(payload.len() - at, |p| p + 1);
        i += 1;
    }
    chunks
}

pub(super) fn corrupt(tree: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { tree, detail: e.to_string() }
}

impl TxLocation {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        if self.outcome != Outcome::Applied {
            out.extend(serde_json::to_vec(&self.outcome).expect("plain data"));
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<TxLocation, StoreError> {
        if bytes.first() == Some(&b'{') {
            return serde_json::from_slice(bytes).map_err(|e| corrupt("txs", e));
        }
        if bytes.len() < 12 {
            return Err(corrupt("txs", format!("location of {} bytes", bytes.len())));
        }
        let height = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let index = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let outcome = if bytes.len() == 12 { Outcome::Applied } else { serde_json::from_slice(&bytes[12..]).map_err(|e| corrupt("txs", e))? };
        Ok(TxLocation { height, index, outcome })
    }
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Transactions per `block_txs` value.
const CHUNK: usize = 64;

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

fn encode_txs<'a>(txs: impl Iterator<Item = &'a Transaction>) -> Vec<u8> {
    let mut out = Vec::new();
    for tx in txs {
        tx.write_canonical_bytes(&mut out);
        out.push(b'\n');
    }
    out
}

fn decode_txs(bytes: &[u8], name: &'static str) -> Result<Vec<Transaction>, StoreError> {
    lines(bytes).map(|l| Transaction::from_canonical_bytes(l).map_err(|e| corrupt(name, e))).collect()
}

/// sled 0.34.7 writes a snapshot while it opens a store with new log data,
/// as `snap.<lsn>.generating`, fsyncs it and renames it. A process killed
/// before the rename leaves the half-written file, which the next open takes
/// for the newest snapshot and then refuses to open the store ("Read
/// corrupted data"; spacejam/sled#1527, unfixed in the last release). The
/// crash-loop test (node/tests/store_crashloop.rs) hit it in 5 of 6 runs of
/// 1,000 SIGKILLs. Only complete snapshots are ever renamed, and older ones
/// are removed only after the rename, so deleting the half-written file
/// loses nothing.
fn remove_half_written_snapshots(dir: &Path) -> Result<(), StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %entry.path().display(), "removing a half-written sled snapshot left by a crash");
            std::fs::remove_file(entry.path()).map_err(|e| corrupt("snapshot", e))?;
        }
    }
    Ok(())
}

/// sled's log segment size: 8 MiB for a new store, so a page of pending
/// transactions (up to 16 values of 64) stays in the log instead of
/// becoming a blob file of its own (sled's threshold is a quarter segment;
/// at its default 512 KiB such pages, then of block bodies too, created,
/// fsynced and later unlinked a file each). A store created before keeps the size it was created
/// with (sled refuses to open it with another), read from sled's `conf`.
fn segment_size(dir: &Path) -> usize {
    // `conf` is text lines followed by a binary CRC-32.
    std::fs::read(dir.join("conf"))
        .ok()
        .and_then(|conf| String::from_utf8_lossy(&conf).lines().find_map(|l| l.strip_prefix("segment_size: ")?.trim().parse().ok()))
        .unwrap_or(8 << 20)
}

/// Where in the body log the bodies above the head begin, as last recorded.
pub(super) fn bodies_from(meta: &sled::Tree) -> Result<Option<(u64, u64)>, StoreError> {
    match meta.get(BODIES_FROM)? {
        Some(v) if v.len() == 16 => {
            Ok(Some((u64::from_be_bytes(v[..8].try_into().expect("8 bytes")), u64::from_be_bytes(v[8..].try_into().expect("8 bytes")))))
        }
        Some(v) => Err(corrupt("meta", format!("bodies_from of {} bytes", v.len()))),
        None => Ok(None),
    }
}

fn head_of(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(match meta.get(HEAD)? {
        Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|e| corrupt("meta", e))?),
        None => 0,
    })
}

impl ChainStore {
    /// Opens (or creates) the store in `dir` with a small page cache.
    pub fn open(dir: &Path) -> Result<ChainStore, StoreError> {
        ChainStore::open_with_cache(dir, 8 << 20)
    }

    /// Opens the store, with a page cache of `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<ChainStore, StoreError> {
        ChainStore::open_with(dir, cache_bytes, super::body_log::SEGMENT_BYTES)
    }

    /// Opens the store, with a page cache of `cache_bytes` and body-log
    /// segments of about `body_segment_bytes`.
    pub(super) fn open_with(dir: &Path, cache_bytes: u64, body_segment_bytes: u64) -> Result<ChainStore, StoreError> {
        remove_half_written_snapshots(dir)?;
        // Half for sled's page cache, half for the state's read cache.
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes / 2).segment_size(segment_size(dir)).open()?;
        // Proposal files of stores from before the body log, if any.
        let proposal_dir = dir.join("proposals");
        let pending = db.open_tree("pending")?;
        let meta = db.open_tree("meta")?;
        let blocks = db.open_tree("blocks")?;
        let state = StateTree::new(db.open_tree("state")?, cache_bytes / 2);
        let mut head = head_of(&meta)?;
        // A crash between a commit's state batch and its head: the blocks
        // are stored (they are written first), so the head moves up to them.
        // A state restored from a snapshot above the blocks stored so far
        // is not that: the blocks below it are being fetched.
        let restored_at = meta.get(RESTORED_AT)?.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes));
        if let Some(at) = coldchain_chaincode::State::stored_height(&state)
            && at > head
            && restored_at.is_none_or(|r| head >= r)
        {
            if blocks.get(at.to_be_bytes())?.is_none() {
                return Err(corrupt("state", format!("the state is at height {at} but the chain holds blocks only up to {head}")));
            }
            meta.insert(HEAD, &at.to_be_bytes())?;
            head = at;
        }
        let block_bodies = db.open_tree("block_bodies")?;
        // One pass over the body log from where the oldest body not yet
        // final was when the last commit ended: those above the head are
        // proposals this node voted for.
        let from = bodies_from(&meta)?;
        // A compaction cut short copied bodies to the end of the log: the
        // pass reads from there too, so the copies nothing points at are
        // counted as garbage.
        let compacting = super::compaction::Marker::read(&meta)?;
        let from = match (from, compacting.as_ref().and_then(|m| m.copies_from())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (_, None) => from,
            (None, Some(_)) => None,
        };
        let body_garbage = db.open_tree("body_garbage")?;
        let mut unfinal = HashMap::new();
        let mut garbage = sled::Batch::default();
        let bodies = BodyLog::open_with_segment_bytes(&dir.join("bodies"), from, body_segment_bytes, |pos, payload| {
            let (header, start) = parse_header(payload)?;
            if header.height > head {
                let chunks = chunk_offsets(payload, start);
                unfinal.insert(header.hash(), Unfinal { header, place: BodyPlace { pos, chunks } });
            } else if let Some(place) = block_bodies.get(header.height.to_be_bytes())? {
                // Final, and a body the block does not point at (a proposal
                // that lost, or a copy made by a compaction cut short).
                if BodyPlace::decode(&place)?.pos != pos {
                    let (key, value) = super::compaction::garbage_entry(pos);
                    garbage.insert(&key, &value);
                }
            }
            Ok(())
        })?;
        body_garbage.apply_batch(garbage)?;
        let store = ChainStore {
            blocks,
            block_txs: db.open_tree("block_txs")?,
            hashes: db.open_tree("hashes")?,
            txs: db.open_tree("txs")?,
            pending,
            pending_ids: Arc::default(),
            proposal_dir,
            bodies,
            block_bodies,
            body_garbage,
            compaction: Arc::default(),
            unfinal: Arc::new(Mutex::new(unfinal)),
            evidence: db.open_tree("evidence")?,
            epochs: db.open_tree("epochs")?,
            nonces: db.open_tree("request_nonces")?,
            images: db.open_tree("images")?,
            state,
            meta,
            db,
            durable_head: Arc::new(AtomicU64::new(head)),
        };
        store.load_pending()?;
        if let Some(marker) = compacting {
            store.finish_compaction(marker)?;
        }
        Ok(store)
    }

    /// Indexes the stored pending batches; transactions already final (a
    /// crash between a commit and the deletion of their batch) are not
    /// pending, and batches left with none are deleted.
    fn load_pending(&self) -> Result<(), StoreError> {
        let mut pending = self.pending_ids.lock().map_err(|e| corrupt("pending", e))?;
        let mut closed = sled::Batch::default();
        for item in self.pending.iter() {
            let (k, v) = item?;
            pending.add(&k, lines(&v).map(Hash::digest).filter(|id| !self.is_final(id)));
            if !pending.is_open(&k) {
                closed.remove(k);
            }
        }
        self.pending.apply_batch(closed)?;
        Ok(())
    }

    /// The tree where the gateway keeps the nonces of signed requests
    /// (`gateway::nonces`), so a restart does not forget them.
    pub fn request_nonces(&self) -> sled::Tree {
        self.nonces.clone()
    }

    /// The tree where the gateway indexes the images it keeps and counts
    /// each key's daily image bytes (`gateway::images`).
    pub fn image_index(&self) -> sled::Tree {
        self.images.clone()
    }

    /// The chaincode state's tree.
    pub fn state_tree(&self) -> StateTree {
        self.state.clone()
    }

    /// Writes state changes made outside a commit (catching up after a
    /// restart, in chunks of blocks already stored), atomically; flushes.
    pub fn write_state(&self, changes: &Changes) -> Result<(), StoreError> {
        self.state.write(changes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Height of the last finalized block on disk (0: only genesis): moved
    /// only after the flush that made it durable.
    pub fn head(&self) -> Result<u64, StoreError> {
        Ok(self.durable_head.load(Ordering::Acquire))
    }

    pub(super) fn place_of(&self, height: u64) -> Result<Option<BodyPlace>, StoreError> {
        self.block_bodies.get(height.to_be_bytes())?.map(|v| BodyPlace::decode(&v)).transpose()
    }

    fn meta_of(&self, height: u64) -> Result<Option<BlockMeta>, StoreError> {
        if height == 0 || height > self.head()? {
            return Ok(None);
        }
        match self.blocks.get(height.to_be_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| corrupt("blocks", e))?)),
            None => Ok(None),
        }
    }

    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        Ok(self.block_and_root(height)?.map(|(block, _)| block))
    }

    /// A block with the chaincode state root recorded after it when it was
    /// committed, from one read of its metadata: what replay checks.
    pub fn block_and_root(&self, height: u64) -> Result<Option<(StoredBlock, Option<Hash>)>, StoreError> {
        let Some(meta) = self.meta_of(height)? else { return Ok(None) };
        let mut txs = Vec::with_capacity(meta.header.tx_count as usize);
        if let Some(place) = self.place_of(height)? {
            txs = decode_txs(&self.bodies.read(place.pos, place.range(0, None))?, "bodies")?;
        }
        for chunk in self.block_txs.scan_prefix(height.to_be_bytes()).values() {
            txs.extend(decode_txs(&chunk?, "block_txs")?);
        }
        if txs.len() != meta.header.tx_count as usize {
            return Err(corrupt("block_txs", format!("block {height} has {} of {} transactions", txs.len(), meta.header.tx_count)));
        }
        Ok(Some((StoredBlock { block: Block { header: meta.header, txs: Arc::new(txs) }, finality: meta.finality }, meta.state_root)))
    }

    /// The state root recorded after block `height` when it was committed.
    pub fn state_root_at(&self, height: u64) -> Result<Option<Hash>, StoreError> {
        Ok(self.meta_of(height)?.and_then(|m| m.state_root))
    }

    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        Ok(self.meta_of(height)?.map(|m| m.header))
    }

    /// The ids of a block's transactions, in order, hashed from the stored
    /// canonical bytes without parsing them.
    pub fn tx_ids(&self, height: u64) -> Result<Vec<TxId>, StoreError> {
        let mut ids = Vec::new();
        if let Some(place) = self.place_of(height)? {
            return Ok(lines(&self.bodies.read(place.pos, place.range(0, None))?).map(Hash::digest).collect());
        }
        for chunk in self.block_txs.scan_prefix(height.to_be_bytes()).values() {
            ids.extend(lines(&chunk?).map(Hash::digest));
        }
        Ok(ids)
    }

    pub fn tx_at(&self, height: u64, index: u32) -> Result<Option<Transaction>, StoreError> {
        let chunk = index / CHUNK as u32;
        if let Some(place) = self.place_of(height)? {
            if chunk as usize >= place.chunks.len() {
                return Ok(None);
            }
            let bytes = self.bodies.read(place.pos, place.range(chunk as usize, Some(chunk as usize + 1)))?;
            return match lines(&bytes).nth(index as usize % CHUNK) {
                Some(line) => Ok(Some(Transaction::from_canonical_bytes(line).map_err(|e| corrupt("bodies", e))?)),
                None => Ok(None),
            };
        }
        let Some(v) = self.block_txs.get(key(&[&height.to_be_bytes(), &chunk.to_be_bytes()]))? else { return Ok(None) };
        match lines(&v).nth(index as usize % CHUNK) {
            Some(line) => Ok(Some(Transaction::from_canonical_bytes(line).map_err(|e| corrupt("block_txs", e))?)),
            None => Ok(None),
        }
    }

    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        let Some(v) = self.hashes.get(hash.0)? else { return Ok(None) };
        let h = u64::from_be_bytes(v.as_ref().try_into().map_err(|e| corrupt("hashes", e))?);
        Ok((h <= self.head()?).then_some(h))
    }

    /// Whether a transaction is in a finalized block (in the state's
    /// record of every transaction, written with its block).
    pub fn is_final(&self, id: &TxId) -> bool {
        State::stored_location(&self.state, id).is_some()
    }

    /// Where a finalized transaction is and what the chaincode made of it.
    pub fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>, StoreError> {
        let Some(seen) = State::stored_location(&self.state, id) else { return Ok(None) };
        // Written by a commit whose flush has not returned: not yet final here.
        if seen.height() > self.head()? {
            return Ok(None);
        }
        if seen.applied() {
            return Ok(Some(TxLocation { height: seen.height(), index: seen.index(), outcome: Outcome::Applied }));
        }
        match self.txs.get(id.0)? {
            Some(v) => TxLocation::decode(&v).map(Some),
            // Refused in a block stored, not applied, here (below the
            // snapshot this node's state was restored from): the state
            // records the refusal, the nodes that applied it the reason.
            None if self.restored_at()?.is_some_and(|at| seen.height() <= at) => Ok(Some(TxLocation {
                height: seen.height(),
                index: seen.index(),
                outcome: Outcome::Rejected {
                    field: "-".into(),
                    rule: "refused; this node started from a state snapshot taken after this block and keeps no reason for it (another validator's /v1/tx has it)".into(),
                },
            })),
            None => Err(corrupt("txs", format!("outcome of refused transaction {id} missing"))),
        }
    }

    /// Stores finalized blocks in height order with their receipts; the last
    /// one carries `tip_finality` (a certificate, or the end of an epoch),
    /// the others are covered by it. Records
    /// `roots[k]`, the chaincode state root after `blocks[k]`, with the
    /// block, and writes the chaincode state's `changes` (those of `blocks`)
    /// in one atomic batch after the blocks and before the head: after a
    /// crash the state is that of the head or of a later stored block
    /// ([`ChainStore::open`] moves the head up to it), never of half a
    /// block. Flushes.
    pub fn commit_with_state(
        &self,
        blocks: &[(Block, Vec<Receipt>)],
        tip_finality: &Finality,
        roots: &[Hash],
        changes: &Changes,
    ) -> Result<(), StoreError> {
        let Some((last, _)) = blocks.last() else { return Ok(()) };
        let tip = last.header.height;
        let mut located: Vec<TxId> = Vec::new();
        let mut seen_here = coldchain_chaincode::IdSet::default();
        // Bodies: those this node voted for are in the log already; the
        // others (fetched, synced, imported) are appended once, and all are
        // durable before sled points at them.
        let mut places = Vec::with_capacity(blocks.len());
        {
            let unfinal = self.unfinal.lock().map_err(|e| corrupt("bodies", e))?;
            let mut appended = false;
            for (block, _) in blocks {
                let place = match unfinal.get(&block.header.hash()) {
                    Some(u) => u.place.clone(),
                    None => {
                        let (payload, chunks) = body_payload(block);
                        appended = true;
                        BodyPlace { pos: self.bodies.append(&payload)?, chunks }
                    }
                };
                places.push(place);
            }
            if appended {
                self.bodies.sync()?;
            }
        }
        {
            for (k, ((block, receipts), place)) in blocks.iter().zip(&places).enumerate() {
                let height = block.header.height;
                let mut refused = sled::Batch::default();
                for (i, receipt) in receipts.iter().enumerate() {
                    // A transaction in a block again (the chaincode refuses the
                    // repeat) keeps the location where it took effect.
                    // (Only a refused one can be a repeat: the chaincode
                    // refuses every transaction already on chain.)
                    let applied = receipt.outcome == Outcome::Applied;
                    if (!applied && self.is_final(&receipt.tx_id)) || !seen_here.insert(receipt.tx_id) {
                        continue;
                    }
                    located.push(receipt.tx_id);
                    if !applied {
                        let loc = TxLocation { height, index: i as u32, outcome: receipt.outcome.clone() };
                        refused.insert(&receipt.tx_id.0, loc.encode());
                    }
                }
                self.txs.apply_batch(refused)?;
                let finality = if height == tip { tip_finality.clone() } else { Finality::CoveredBy(tip) };
                self.put_block(&block.header, place, finality, roots.get(k).copied())?;
            }
        }
        self.state.write(changes)?;
        self.meta.insert(HEAD, &tip.to_be_bytes())?;
        self.db.flush()?;
        self.durable_head.store(tip, Ordering::Release);
        // Located (in the state batch above) before no longer pending, so a
        // reader never finds an acknowledged transaction in neither.
        // Pending values whose transactions are all final go; durable with
        // the next flush (a crash before it: `load_pending` drops them).
        let mut pending = self.pending_ids.lock().map_err(|e| corrupt("pending", e))?;
        let mut closed = sled::Batch::default();
        for id in &located {
            if let Some(key) = pending.finalize(id) {
                closed.remove(key);
            }
        }
        drop(pending);
        self.pending.apply_batch(closed)?;
        let (segment, offset) = {
            let mut unfinal = self.unfinal.lock().map_err(|e| corrupt("bodies", e))?;
            let end = self.bodies.end()?;
            // The bodies of proposals at final heights that did not become
            // the block there are garbage now: counted before `bodies_from`
            // moves past them.
            let mut garbage = sled::Batch::default();
            for u in unfinal.values().filter(|u| u.header.height <= tip) {
                if self.place_of(u.header.height)?.is_none_or(|p| p.pos != u.place.pos) {
                    let (key, value) = super::compaction::garbage_entry(u.place.pos);
                    garbage.insert(&key, &value);
                }
            }
            self.body_garbage.apply_batch(garbage)?;
            unfinal.retain(|_, u| u.header.height > tip);
            unfinal.values().map(|u| BodyLog::frame_start(u.place.pos)).min().unwrap_or(end)
        };
        // Durable with the next flush; an older value only makes a start read more.
        self.meta.insert(BODIES_FROM, [segment.to_be_bytes(), offset.to_be_bytes()].concat())?;
        for (height, path) in self.proposal_files()? {
            if height <= tip {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    fn put_block(&self, header: &Header, place: &BodyPlace, finality: Finality, state_root: Option<Hash>) -> Result<(), StoreError> {
        let height = header.height;
        self.block_bodies.insert(height.to_be_bytes(), place.encode())?;
        self.hashes.insert(header.hash().0, &height.to_be_bytes())?;
        let meta = BlockMeta { header: header.clone(), finality, state_root };
        self.blocks.insert(height.to_be_bytes(), serde_json::to_vec(&meta).map_err(|e| corrupt("blocks", e))?)?;
        Ok(())
    }

    /// Stores finalized blocks without applying them: the history below a
    /// state restored from a snapshot (docs/PROTOCOL.md, "Snapshots"). They
    /// are final by what makes block `certified` final (one of them, or
    /// the block above them that carries it: its certificate, or the
    /// certificate of the epoch it ends); `restored` is the snapshot's
    /// (height, root), recorded with its block. Moves the head; flushes.
    pub fn commit_history(&self, blocks: &[Block], certified: (u64, &Finality), restored: (u64, Hash)) -> Result<(), StoreError> {
        let Some(last) = blocks.last() else { return Ok(()) };
        let mut places = Vec::with_capacity(blocks.len());
        for block in blocks {
            let (payload, chunks) = body_payload(block);
            places.push(BodyPlace { pos: self.bodies.append(&payload)?, chunks });
        }
        self.bodies.sync()?;
        for (block, place) in blocks.iter().zip(&places) {
            let finality = match block.header.height == certified.0 {
                true => certified.1.clone(),
                false => Finality::CoveredBy(certified.0),
            };
            let root = (block.header.height == restored.0).then_some(restored.1);
            self.put_block(&block.header, place, finality, root)?;
        }
        self.meta.insert(HEAD, &last.header.height.to_be_bytes())?;
        self.db.flush()?;
        self.durable_head.store(last.header.height, Ordering::Release);
        Ok(())
    }

    /// Empties the chaincode state (a restore that did not finish); flushes.
    pub fn clear_state(&self) -> Result<(), StoreError> {
        self.state.clear()?;
        self.db.flush()?;
        Ok(())
    }

    /// Writes the last changes of a state restored from a snapshot after
    /// block `height` (its height and figures), and records that height:
    /// the blocks up to it are stored here without being applied. The
    /// record is written first, so no crash leaves the state at `height`
    /// without it (which [`ChainStore::open`] would take for a store
    /// whose head was lost). Flushes.
    pub fn finish_restore(&self, height: u64, changes: &Changes) -> Result<(), StoreError> {
        self.meta.insert(RESTORED_AT, &height.to_be_bytes())?;
        self.write_state(changes)
    }

    /// The height of the snapshot this node's state started from, if any.
    pub fn restored_at(&self) -> Result<Option<u64>, StoreError> {
        match self.meta.get(RESTORED_AT)? {
            Some(v) => Ok(Some(u64::from_be_bytes(v.as_ref().try_into().map_err(|e| corrupt("meta", e))?))),
            None => Ok(None),
        }
    }

    /// Stores accepted transactions, 64 to a value; durable once
    /// [`ChainStore::flush`] returns.
    pub fn put_pending(&self, txs: &[(TxId, Transaction)]) -> Result<(), StoreError> {
        if txs.is_empty() {
            return Ok(());
        }
        let mut pending = self.pending_ids.lock().map_err(|e| corrupt("pending", e))?;
        let mut batch = sled::Batch::default();
        let mut keys = Vec::new();
        for chunk in txs.chunks(CHUNK) {
            let key = self.db.generate_id()?.to_be_bytes();
            batch.insert(&key, encode_txs(chunk.iter().map(|(_, tx)| tx)));
            keys.push((key, chunk));
        }
        self.pending.apply_batch(batch)?;
        for (key, chunk) in keys {
            pending.add(&key, chunk.iter().map(|(id, _)| *id));
        }
        Ok(())
    }

    pub fn is_pending(&self, id: &TxId) -> Result<bool, StoreError> {
        Ok(self.pending_ids.lock().map_err(|e| corrupt("pending", e))?.contains(id))
    }

    /// The accepted transactions not yet final.
    pub fn pending_txs(&self) -> Result<Vec<(TxId, Transaction)>, StoreError> {
        let pending = self.pending_ids.lock().map_err(|e| corrupt("pending", e))?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for item in self.pending.iter() {
            let (_, v) = item?;
            for line in lines(&v) {
                let id = Hash::digest(line);
                if pending.contains(&id) && seen.insert(id) {
                    out.push((id, Transaction::from_canonical_bytes(line).map_err(|e| corrupt("pending", e))?));
                }
            }
        }
        Ok(out)
    }

    /// Keeps the body of a block this node is about to vote for: appended
    /// to the body log and fsynced before this returns.
    pub fn put_proposal(&self, block: &Block) -> Result<(), StoreError> {
        let hash = block.header.hash();
        // Appended and listed under one lock, so a commit computing where
        // the unfinal bodies start sees every body appended before it.
        let mut unfinal = self.unfinal.lock().map_err(|e| corrupt("bodies", e))?;
        if unfinal.contains_key(&hash) {
            return Ok(());
        }
        let (payload, chunks) = body_payload(block);
        let pos = self.bodies.append(&payload)?;
        self.bodies.sync()?;
        let place = BodyPlace { pos, chunks };
        unfinal.insert(hash, Unfinal { header: block.header.clone(), place });
        Ok(())
    }

    fn proposal_files(&self) -> Result<Vec<(u64, std::path::PathBuf)>, StoreError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.proposal_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(corrupt("proposals", e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| corrupt("proposals", e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(height) = name.strip_suffix(".block").and_then(|n| n.split('-').next()).and_then(|h| h.parse().ok()) {
                out.push((height, path));
            }
        }
        Ok(out)
    }

    /// Bodies of blocks this node voted for and has not seen final.
    pub fn proposals(&self) -> Result<Vec<Block>, StoreError> {
        let mut out = Vec::new();
        let head = self.head()?;
        for u in self.unfinal.lock().map_err(|e| corrupt("bodies", e))?.values() {
            if u.header.height > head {
                let txs = decode_txs(&self.bodies.read(u.place.pos, u.place.range(0, None))?, "bodies")?;
                out.push(Block { header: u.header.clone(), txs: Arc::new(txs) });
            }
        }
        for (_, path) in self.proposal_files()? {
            let bytes = std::fs::read(&path).map_err(|e| corrupt("proposals", e))?;
            let mut parts = bytes.splitn(2, |b| *b == b'\n');
            let header: Header = serde_json::from_slice(parts.next().unwrap_or_default()).map_err(|e| corrupt("proposals", e))?;
            let txs = decode_txs(parts.next().unwrap_or_default(), "proposals")?;
            if txs.len() == header.tx_count as usize {
                out.push(Block { header, txs: Arc::new(txs) });
            }
        }
        Ok(out)
    }

    /// Records an offence once: keyed by kind (u8) ‖ offender (u16) ‖ view
    /// (u64), so a validator flooding conflicting votes in one view leaves
    /// one record, the first; returns whether this one was new. (Stores
    /// from before this keyed each record by a sequence number of 8 bytes;
    /// those are still read.)
    pub fn put_evidence(&self, evidence: &Evidence) -> Result<bool, StoreError> {
        let (kind, offender, view) = evidence.offence();
        let key = [&[kind][..], &offender.to_be_bytes(), &view.to_be_bytes()].concat();
        let value = serde_json::to_vec(evidence).expect("plain data");
        Ok(self.evidence.compare_and_swap(key, None as Option<&[u8]>, Some(value))?.is_ok())
    }

    pub fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        self.evidence.iter().values().map(|v| serde_json::from_slice(&v?).map_err(|e| corrupt("evidence", e))).collect()
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The finalization certificate that covers `height`, and the headers
    /// from `height + 1` up to the certified block; `None` for a block final
    /// by the end of its epoch ([`ChainStore::finality_proof_of`] has it).
    pub fn finality_of(&self, height: u64) -> Result<Option<(Certificate, Vec<Header>)>, StoreError> {
        Ok(match self.finality_proof_of(height)? {
            Some(FinalityProof::Certificate(c, links)) => Some((c, links)),
            _ => None,
        })
    }

    /// How block `height` is proven final.
    pub fn finality_proof_of(&self, height: u64) -> Result<Option<FinalityProof>, StoreError> {
        let Some(meta) = self.meta_of(height)? else { return Ok(None) };
        let (tip, finality) = match meta.finality {
            Finality::CoveredBy(tip) => match self.meta_of(tip)?.map(|m| m.finality) {
                Some(f) if f.is_certified() => (tip, f),
                _ => return Err(corrupt("blocks", format!("block {tip} has no certificate"))),
            },
            f => (height, f),
        };
        let mut links = Vec::new();
        for h in height + 1..=tip {
            links.push(self.header(h)?.ok_or_else(|| corrupt("blocks", format!("missing block {h}")))?);
        }
        Ok(match finality {
            Finality::Certificate(c) => Some(FinalityProof::Certificate(c, links)),
            Finality::EndOfEpoch(epoch) => Some(FinalityProof::EndOfEpoch(epoch, links)),
            Finality::CoveredBy(_) => None,
        })
    }

    /// Stores an epoch certificate (checked by the caller against the epoch
    /// before it); flushes.
    pub fn put_epoch_certificate(&self, cert: &EpochCertificate) -> Result<(), StoreError> {
        let value = serde_json::to_vec(cert).map_err(|e| corrupt("epochs", e))?;
        self.epochs.insert(cert.change.epoch.to_be_bytes(), value)?;
        self.epochs.flush()?;
        Ok(())
    }

    /// The epoch certificates stored, by epoch.
    pub fn epoch_certificates(&self) -> Result<Vec<EpochCertificate>, StoreError> {
        self.epochs.iter().values().map(|v| serde_json::from_slice(&v?).map_err(|e| corrupt("epochs", e))).collect()
    }
}

/// Blocks and commits for the store's tests.
#[cfg(test)]
pub(super) mod test_support {
    use super::*;
    use crate::consensus::SignerSignature;
    use crate::crypto::VoteKind;

    pub(in crate::storage) fn block(height: u64, parent: Hash, txs: u64) -> Block {
        crate::testing::notarise_block(height, parent, txs)
    }

    pub(in crate::storage) fn certificate(header: &Header) -> Certificate {
        let signatures = vec![SignerSignature { signer: 0, signature: [0; 64] }];
        Certificate { kind: VoteKind::Finalize, view: header.view, hash: header.hash(), signatures }
    }

    /// Applies `b` to `state` and commits both, as the driver does.
    pub(in crate::storage) fn commit(store: &ChainStore, state: &mut State, b: &Block) {
        let ctx = coldchain_chaincode::BlockContext { height: b.header.height, time_ms: b.header.time_ms };
        let receipts: Vec<Receipt> = state.apply_block(ctx, b.txs.iter());
        store.commit_with_state(&[(b.clone(), receipts)], &Finality::Certificate(certificate(&b.header)), &[state.root()], state.changes()).unwrap();
        state.settle();
    }

    pub(in crate::storage) fn log_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir.join("bodies")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::crypto::VoteKind;

    #[test]
    fn an_offence_is_recorded_once_however_many_conflicting_votes_arrive() {
        use crate::consensus::{Evidence, Vote};
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(dir.path()).unwrap();
        let vote = |view: u64, hash: u8| Vote { kind: VoteKind::Notarize, view, hash: Hash([hash; 32]), signer: 3, signature: [0; 64] };
        // One validator signs 200 conflicting notarize votes in view 7.
        let mut new = 0;
        for h in 1..=200u8 {
            new += store.put_evidence(&Evidence::ConflictingNotarize(vote(7, 0), vote(7, h))).unwrap() as usize;
        }
        assert_eq!(new, 1);
        assert_eq!(store.evidence().unwrap(), vec![Evidence::ConflictingNotarize(vote(7, 0), vote(7, 1))], "the first evidence of the offence stays");
        // Another view is another offence; so is another kind in the same view.
        assert!(store.put_evidence(&Evidence::ConflictingNotarize(vote(8, 0), vote(8, 1))).unwrap());
        assert!(store.put_evidence(&Evidence::NullifyFinalize(vote(7, 0), vote(7, 1))).unwrap());
        assert_eq!(store.evidence().unwrap().len(), 3);
    }

    /// A body this node voted for is written once: it survives a restart as
    /// a proposal, and committing it writes no second copy; every read
    /// (block, ids, one transaction past the first chunk) finds it.
    #[test]
    fn a_voted_body_is_written_once_and_read_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let b1 = block(1, Hash::ZERO, 70);
        let b2 = block(2, b1.header.hash(), 0);
        {
            let store = ChainStore::open(dir.path()).unwrap();
            store.put_proposal(&b1).unwrap();
            store.put_proposal(&b1).unwrap();
        }
        let written = log_bytes(dir.path());
        let store = ChainStore::open(dir.path()).unwrap();
        assert_eq!(store.proposals().unwrap(), vec![b1.clone()]);
        let mut state = State::open_store(Arc::new(store.state_tree()), Default::default());
        commit(&store, &mut state, &b1);
        assert_eq!(log_bytes(dir.path()), written, "the committed body was written again");
        // A block this node did not vote for is appended at commit.
        commit(&store, &mut state, &b2);
        drop((store, state));
        let store = ChainStore::open(dir.path()).unwrap();
        assert!(store.proposals().unwrap().is_empty());
        assert_eq!(store.head().unwrap(), 2);
        assert_eq!(store.block(1).unwrap().unwrap().block, b1);
        assert_eq!(store.block(2).unwrap().unwrap().block, b2);
        assert_eq!(store.tx_ids(1).unwrap(), b1.tx_ids());
        assert_eq!(store.tx_at(1, 66).unwrap().as_ref(), Some(&b1.txs[66]));
        assert_eq!(store.tx_at(1, 70).unwrap(), None);
        let loc = store.tx_location(&b1.txs[69].id()).unwrap().unwrap();
        assert_eq!((loc.height, loc.index, loc.outcome), (1, 69, Outcome::Applied));
        // A start reads the log only from where the bodies above the head
        // begin, and still finds a proposal voted for after the last commit.
        let b3 = block(3, b2.header.hash(), 5);
        store.put_proposal(&b3).unwrap();
        drop(store);
        let store = ChainStore::open(dir.path()).unwrap();
        assert_eq!(store.proposals().unwrap(), vec![b3]);
        assert_eq!(store.tx_at(1, 66).unwrap().as_ref(), Some(&b1.txs[66]));
    }

    /// A crash after a snapshot's state was written and before the blocks
    /// below it were fetched: the store opens (its head is not "lost"), and
    /// says which blocks it still needs.
    #[test]
    fn a_state_restored_above_the_blocks_stored_opens_and_waits_for_them() {
        use coldchain_chaincode::state::ledger;
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(dir.path()).unwrap();
        let height: Changes = [(ledger::META.key(&0u8), Some(ledger::META.encode(&5u64)))].into_iter().collect();
        store.finish_restore(5, &height).unwrap();
        drop(store);
        let store = ChainStore::open(dir.path()).unwrap();
        assert_eq!(store.head().unwrap(), 0);
        assert_eq!(store.restored_at().unwrap(), Some(5));
        assert_eq!(State::stored_height(&store.state_tree()), Some(5));
    }

    /// A commit writes its state batch (where a transaction's location is
    /// kept) before it flushes, and sled shows the batch to readers at once:
    /// until the flush returns, the transaction is not final here, or the
    /// gateway would acknowledge what a crash can still take back (CI saw
    /// `/v1/tx` answer 404 after a kill for a transaction acknowledged as
    /// finalized).
    #[test]
    fn a_transaction_is_final_only_once_its_commit_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(dir.path()).unwrap();
        let mut state = State::open_store(Arc::new(store.state_tree()), Default::default());
        let b1 = block(1, Hash::ZERO, 2);
        commit(&store, &mut state, &b1);
        // Block 2 applied and its state batch written, its flush not yet done.
        let b2 = block(2, b1.header.hash(), 2);
        let ctx = coldchain_chaincode::BlockContext { height: 2, time_ms: b2.header.time_ms };
        state.apply_block(ctx, b2.txs.iter());
        store.state_tree().write(state.changes()).unwrap();
        assert!(store.is_final(&b2.txs[0].id()), "the batch is visible to readers");
        assert_eq!(store.tx_location(&b2.txs[0].id()).unwrap(), None, "not acknowledged before the flush");
        assert_eq!(store.head().unwrap(), 1);
        assert_eq!(store.tx_location(&b1.txs[1].id()).unwrap().map(|l| l.height), Some(1));
    }

    /// A transaction in a block again keeps the place where it took effect;
    /// the repeat is refused, and a refused one's reason is found.
    #[test]
    fn a_repeated_transaction_keeps_its_first_place_and_refusals_their_reason() {
        let with_txs = |height: u64, parent: Hash, txs: Vec<Transaction>| {
            let mut b = block(height, parent, 0);
            b.header.tx_root = crate::block::merkle_root(&txs.iter().map(Transaction::id).collect::<Vec<_>>());
            b.header.tx_count = txs.len() as u32;
            b.txs = Arc::new(txs);
            b
        };
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(dir.path()).unwrap();
        let mut state = State::open_store(Arc::new(store.state_tree()), Default::default());
        let b1 = block(1, Hash::ZERO, 3);
        let b2 = with_txs(2, b1.header.hash(), vec![b1.txs[2].clone()]);
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let bogus = Transaction::sign("c", 7, serde_json::json!({"type": "no_such_record"}), &key);
        let b3 = with_txs(3, b2.header.hash(), vec![bogus.clone()]);
        for b in [&b1, &b2, &b3] {
            commit(&store, &mut state, b);
        }
        let loc = store.tx_location(&b1.txs[2].id()).unwrap().unwrap();
        assert_eq!((loc.height, loc.index, loc.outcome), (1, 2, Outcome::Applied));
        let loc = store.tx_location(&bogus.id()).unwrap().unwrap();
        assert_eq!((loc.height, loc.index), (3, 0));
        assert!(matches!(loc.outcome, Outcome::Rejected { ref field, .. } if field == "record.type"), "{:?}", loc.outcome);
    }

    #[test]
    fn a_store_created_with_sleds_default_segment_size_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let old = sled::Config::new().path(dir.path()).open().unwrap();
        old.open_tree("blocks").unwrap().insert(b"k", b"v").unwrap();
        old.flush().unwrap();
        drop(old);
        assert_eq!(segment_size(dir.path()), 512 * 1024);
        let store = ChainStore::open(dir.path()).unwrap();
        assert_eq!(store.head().unwrap(), 0);
        let fresh = tempfile::tempdir().unwrap();
        ChainStore::open(fresh.path()).unwrap();
        assert_eq!(segment_size(fresh.path()), 8 << 20);
    }
}
