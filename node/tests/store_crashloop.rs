//! Crash-loop test of the chain store (issue 5): what the store
//! acknowledges survives a SIGKILL at any moment.
//!
//! A child process (this test binary re-executed, entering [`child_writer`])
//! opens a [`ChainStore`] and writes to it as a validator does, forever:
//! accepted transactions with `put_pending` + `flush`, then finalized blocks
//! with `commit_with_state` (one to three blocks per commit, the last
//! carrying the certificate, the pending transactions included in them),
//! applying them to the chaincode state stored beside them, as the node
//! does, and writing the state's changes in the same commit. It prints a line
//! only after the call that makes the data durable has returned:
//! `pending <tx id>` after `flush`, `ack <height> <block hash>` after `commit`.
//!
//! The parent ([`crash_loop`]) kills the child with SIGKILL after a random
//! delay (0–150 ms, so kills land while the binary starts, while sled
//! recovers, mid-`commit`, mid-`flush`, and between them), opens the store
//! itself and checks, after every kill, everything acknowledged in every
//! round so far:
//! - the head is at least the highest acknowledged height;
//! - every block 1..=head is there, links to its parent by hash and its
//!   body matches its header; an acknowledged height holds exactly the
//!   acknowledged hash; nothing is readable above the head;
//! - every transaction of those blocks is indexed at its height and index,
//!   applied or refused as the chaincode decides;
//! - the stored state is at the head, with the root recorded for the head
//!   (every 200th round: equal entry for entry to a replay from genesis);
//! - every acknowledged pending transaction is still pending or finalized.
//!
//! Then the next round restarts the child on the same directory. A block's
//! content depends on its height only (as a finalized block is unique), so a
//! commit interrupted and redone after a restart writes the same block.
//!
//! ```sh
//! cargo test -p coldchain-node --test store_crashloop -- --nocapture
//! COLDCHAIN_CRASHLOOP_ROUNDS=20000 COLDCHAIN_CRASHLOOP_SEED=42 cargo test -p coldchain-node --test store_crashloop -- --nocapture
//! ```
//!
//! The seed drives the kill delays and the child's choices; it is printed,
//! and a failure names it with the round and height. A kill's timing also
//! depends on the machine, so a seed narrows a failure down rather than
//! replaying it exactly.

use coldchain_chaincode::{BlockContext, Hash, Outcome, Receipt, State, Transaction, TxId};
use coldchain_node::block::{Block, Header, merkle_root};
use coldchain_node::consensus::{Certificate, SignerSignature};
use coldchain_node::crypto::{VoteKind, sign_vote};
use coldchain_node::storage::{ChainStore, TxLocation};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set (to the store's directory) only in the child.
const CHILD_ENV: &str = "COLDCHAIN_CRASHLOOP_CHILD";
/// The child's RNG seed.
const CHILD_SEED_ENV: &str = "COLDCHAIN_CRASHLOOP_CHILD_SEED";
const ROUNDS_ENV: &str = "COLDCHAIN_CRASHLOOP_ROUNDS";
const SEED_ENV: &str = "COLDCHAIN_CRASHLOOP_SEED";
const ROUNDS: u64 = 1000;
const MAX_KILL_DELAY_US: u64 = 150_000;
const CHAIN_ID: &str = "coldchain-crashloop";

// ----- the chain both processes agree on --------------------------------------

fn genesis_hash() -> Hash {
    Hash::digest(b"coldchain-crashloop-genesis")
}

fn client_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn validator_keys() -> Vec<SigningKey> {
    (0..4u8).map(|i| SigningKey::from_bytes(&[0x40 + i; 32])).collect()
}

/// The transaction submitted (and acknowledged as pending) for block `height`.
fn pending_tx(key: &SigningKey, height: u64) -> Transaction {
    Transaction::sign(CHAIN_ID, height * 100, json!({"type": "notarise", "document": {"batch": format!("P{height}")}}), key)
}

/// Whether the chaincode applies transaction `index` of a block: every
/// third is a record type it refuses, so receipts differ.
fn refused_at(index: u64) -> bool {
    index % 3 == 2
}

/// Block `height`, naming the state root after the block before it: up to two transactions of its own (every 50th block more
/// than one chunk of 64 transactions, as `block_bodies` indexes them), then
/// its pending transaction.
fn block_at(key: &SigningKey, height: u64, parent: Hash, state_root: Hash) -> Block {
    let own = if height.is_multiple_of(50) { 70 } else { height % 3 };
    let record = |j: u64| {
        let kind = if refused_at(j) { "crashloop_refused" } else { "notarise" };
        json!({"type": kind, "document": {"batch": format!("L{height}-{j}")}})
    };
    let mut txs: Vec<Transaction> = (0..own).map(|j| Transaction::sign(CHAIN_ID, height * 100 + 1 + j, record(j), key)).collect();
    txs.push(pending_tx(key, height));
    let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
    let header = Header {
        chain_id: CHAIN_ID.into(),
        height,
        view: height + height / 10,
        parent,
        tx_root: merkle_root(&ids),
        time_ms: 1_750_000_000_000 + height as i64 * 1000,
        proposer: (height % 4) as u16,
        tx_count: txs.len() as u32,
        // As a proposer names it: the state after the block before.
        state_height: height - 1,
        state_root,
    };
    Block { header, txs: Arc::new(txs) }
}

/// Applies `block` to `state` as a validator does.
fn apply(state: &mut State, block: &Block) -> Vec<Receipt> {
    let ctx = BlockContext { height: block.header.height, time_ms: block.header.time_ms };
    state.apply_block(ctx, block.txs.iter())
}

/// The chaincode state kept in `store`.
fn stored_state(store: &ChainStore) -> State {
    State::open_store(Arc::new(store.state_tree()), Default::default())
}

fn finalization(validators: &[SigningKey], header: &Header) -> Certificate {
    let hash = header.hash();
    let signatures = validators[..3]
        .iter()
        .enumerate()
        .map(|(i, k)| SignerSignature { signer: i as u16, signature: sign_vote(k, VoteKind::Finalize, CHAIN_ID, header.view, &hash) })
        .collect();
    Certificate { kind: VoteKind::Finalize, view: header.view, hash, signatures }
}

// ----- the child ------------------------------------------------------------------

/// The child's entry point, not a test: without `COLDCHAIN_CRASHLOOP_CHILD`
/// it returns at once; with it, it writes to the store until killed.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let seed = std::env::var(CHILD_SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    run_child(Path::new(&dir), seed)
}

/// One write per call, so the parent never reads half a line of an
/// operation; exits if the parent is gone.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|_| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// Opens the store, waiting while the parent's dropped handle still holds
/// sled's lock: dropping a `sled::Db` does not release its file lock at once
/// (background threads keep the file open a little longer), and `open` only
/// tries the lock. Returns the store and how many tries failed on the lock.
fn open_when_unlocked(dir: &Path) -> Result<(ChainStore, u32), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut waits = 0;
    loop {
        match ChainStore::open(dir) {
            Ok(store) => return Ok((store, waits)),
            Err(e) if e.to_string().contains("could not acquire lock") && Instant::now() < deadline => {
                waits += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("cannot open the store: {e}")),
        }
    }
}

fn run_child(dir: &Path, seed: u64) -> ! {
    let mut rng = StdRng::seed_from_u64(seed);
    let key = client_key();
    let validators = validator_keys();
    let (store, lock_waits) = open_when_unlocked(dir).unwrap_or_else(|e| panic!("{e}"));
    let head = store.head().expect("head");
    let mut state = stored_state(&store);
    assert_eq!(state.height(), head, "the stored state is at the head");
    let mut parent = if head == 0 { genesis_hash() } else { store.header(head).expect("read head").expect("head block").hash() };
    say(&format!("opened {head} {lock_waits}\n"));
    let mut next = head + 1;
    // Heights whose pending transaction is known durable in this run; those
    // of earlier runs are put again (idempotent), as a resubmission would.
    let mut pending_to = head;
    loop {
        let last = next + [0, 0, 0, 1, 2][rng.random_range(0..5)];
        if pending_to < last {
            let to = last + rng.random_range(0..5);
            let txs: Vec<(TxId, Transaction)> = (pending_to + 1..=to).map(|h| pending_tx(&key, h)).map(|t| (t.id(), t)).collect();
            say(&format!("putting {} {to}\n", pending_to + 1));
            store.put_pending(&txs).expect("put_pending");
            store.flush().expect("flush");
            say(&txs.iter().map(|(id, _)| format!("pending {id}\n")).collect::<String>());
            pending_to = to;
        }
        let mut blocks = Vec::new();
        let mut roots = Vec::new();
        for h in next..=last {
            let block = block_at(&key, h, parent, state.root());
            parent = block.header.hash();
            let receipts = apply(&mut state, &block);
            roots.push(state.root());
            blocks.push((block, receipts));
        }
        let cert = finalization(&validators, &blocks.last().expect("one block").0.header);
        say(&format!("committing {next} {last}\n"));
        store.commit_with_state(&blocks, &coldchain_node::storage::Finality::Certificate(cert.clone()), &roots, state.changes()).expect("commit");
        state.settle();
        say(&blocks.iter().map(|(b, _)| format!("ack {} {}\n", b.header.height, b.header.hash())).collect::<String>());
        next = last + 1;
    }
}

// ----- the parent -------------------------------------------------------------

/// What the child printed before it died: every complete line.
struct ChildRun {
    lines: Vec<String>,
    stderr: String,
}

impl ChildRun {
    /// The last line the child printed of its own protocol (not the harness's).
    fn last_step(&self) -> Option<&str> {
        self.lines.iter().rev().filter_map(|l| l.split(' ').next()).find(|w| matches!(*w, "opened" | "putting" | "pending" | "committing" | "ack"))
    }
}

fn run_child_once(exe: &Path, dir: &Path, child_seed: u64, delay: Duration) -> Result<ChildRun, String> {
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_SEED_ENV, child_seed.to_string())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        // A line counts only once its newline arrived.
        while reader.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) && buf.ends_with(b"\n") {
            lines.push(String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned());
            buf.clear();
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // The random moment of the kill is the point of the test.
    std::thread::sleep(delay);
    child.kill().map_err(|e| format!("cannot kill the child: {e}"))?;
    let status = child.wait().map_err(|e| format!("cannot wait for the child: {e}"))?;
    let run = ChildRun { lines: out_reader.join().expect("stdout reader"), stderr: err_reader.join().expect("stderr reader") };
    if status.signal() != Some(9) {
        return Err(format!("the child ended by itself ({status}) instead of being killed; its stderr:\n{}", run.stderr));
    }
    Ok(run)
}

/// What the parent knows: every acknowledgement, and every block it has
/// read after a restart (a restarted node serves those, so they must stay).
#[derive(Default)]
struct Model {
    acked: BTreeMap<u64, Hash>,
    /// `seen[h - 1]`: the hash of block `h` as read after an earlier kill.
    seen: Vec<Hash>,
    /// Every acknowledged pending transaction, with its round.
    pending: BTreeMap<TxId, u64>,
    /// Those not yet seen finalized.
    open_pending: BTreeMap<TxId, u64>,
}

/// One round's acknowledgements.
#[derive(Default)]
struct RoundAcks {
    blocks: Vec<(u64, Hash)>,
    pending: u64,
    /// The head the child found, and how often its open met the parent's lock.
    opened: Option<(u64, u32)>,
}

impl Model {
    /// Records a run's acknowledgements; a height acknowledged twice must
    /// carry the same hash both times.
    fn record(&mut self, run: &ChildRun, round: u64) -> Result<RoundAcks, String> {
        let mut acks = RoundAcks::default();
        let bad = |line: &str| format!("the child printed a malformed line {line:?}");
        for line in &run.lines {
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("ack"), Some(h), Some(hash)) => {
                    let h: u64 = h.parse().map_err(|_| bad(line))?;
                    let hash: Hash = hash.parse().map_err(|_| bad(line))?;
                    if let Some(old) = self.acked.insert(h, hash)
                        && old != hash
                    {
                        return Err(format!("height {h} acknowledged as {old} before and as {hash} now"));
                    }
                    acks.blocks.push((h, hash));
                }
                (Some("opened"), Some(h), Some(waits)) => {
                    acks.opened = Some((h.parse().map_err(|_| bad(line))?, waits.parse().map_err(|_| bad(line))?));
                }
                (Some("pending"), Some(id), None) => {
                    let id: TxId = id.parse().map_err(|_| bad(line))?;
                    self.pending.entry(id).or_insert(round);
                    self.open_pending.entry(id).or_insert(round);
                    acks.pending += 1;
                }
                _ => {}
            }
        }
        Ok(acks)
    }

    fn top(&self) -> u64 {
        self.acked.last_key_value().map(|(h, _)| *h).unwrap_or(0)
    }

    fn parent_of(&self, height: u64) -> Hash {
        if height == 1 { genesis_hash() } else { self.seen[height as usize - 2] }
    }
}

fn store_err(e: coldchain_node::storage::StoreError) -> String {
    format!("store error: {e}")
}

/// Block `h` is there, links to `parent`, its body matches its header, and
/// the hash index and each transaction's index point at it with the receipt
/// the child wrote. Returns its hash.
fn check_block(store: &ChainStore, h: u64, parent: Hash) -> Result<Hash, String> {
    let stored = store.block(h).map_err(store_err)?.ok_or_else(|| format!("block {h} is missing below the head"))?;
    let header = &stored.block.header;
    let hash = header.hash();
    if header.height != h || header.parent != parent {
        return Err(format!("block {h} ({hash}) does not link: height {}, parent {} (expected {parent})", header.height, header.parent));
    }
    let ids = stored.block.tx_ids();
    if !stored.block.body_matches_header(&ids) {
        return Err(format!("block {h}: body does not match header"));
    }
    if store.height_of(&hash).map_err(store_err)? != Some(h) {
        return Err(format!("block {h}: the hash index does not point at it"));
    }
    for (i, id) in ids.iter().enumerate() {
        match store.tx_location(id).map_err(store_err)? {
            Some(TxLocation { height, index, outcome })
                if height == h && index == i as u32 && (outcome == Outcome::Applied) != (refused_at(i as u64) && i + 1 < ids.len()) => {}
            other => return Err(format!("tx {id} (block {h}, index {i}) is indexed as {other:?}")),
        }
    }
    Ok(hash)
}

/// Checks the store after a kill: this round's acknowledgements one by one;
/// the blocks new since the last check, linked onto the ones seen before;
/// `sample` of those seen before (or all of them, `full`); the pending
/// transactions not yet seen finalized (or all, `full`). Returns the head.
fn verify(store: &ChainStore, model: &mut Model, acks: &RoundAcks, sample: &[u64], full: bool) -> Result<u64, String> {
    let head = store.head().map_err(store_err)?;
    let seen = model.seen.len() as u64;
    if head < model.top() {
        return Err(format!("head is {head} but block {} was acknowledged: blocks {}..={} lost", model.top(), head + 1, model.top()));
    }
    if head < seen {
        return Err(format!("head went back from {seen} to {head}: blocks read after an earlier restart are gone"));
    }
    for (h, want) in &acks.blocks {
        match store.header(*h).map_err(store_err)? {
            Some(header) if header.hash() == *want => {}
            Some(header) => return Err(format!("block {h} is {}, acknowledged as {want}", header.hash())),
            None => return Err(format!("acknowledged block {h} ({want}) is missing")),
        }
    }
    let old: Vec<u64> = if full { (1..=seen).collect() } else { sample.iter().copied().chain((seen > 0).then_some(seen)).collect() };
    for h in old {
        let hash = check_block(store, h, model.parent_of(h))?;
        if hash != model.seen[h as usize - 1] {
            return Err(format!("block {h} is now {hash}, it was {} after an earlier restart", model.seen[h as usize - 1]));
        }
    }
    for h in seen + 1..=head {
        let hash = check_block(store, h, model.parent_of(h))?;
        model.seen.push(hash);
    }
    if store.block(head + 1).map_err(store_err)?.is_some() || store.header(head + 1).map_err(store_err)?.is_some() {
        return Err(format!("a block is readable above head {head}"));
    }
    // The state was written with its blocks: it is the head's, never half of one.
    let stored = stored_state(store);
    if stored.height() != head {
        return Err(format!("the stored state is at height {} but the chain's head is {head}", stored.height()));
    }
    if head > 0 {
        let recorded = store.block_and_root(head).map_err(store_err)?.and_then(|(_, root)| root);
        if recorded != Some(stored.root()) {
            return Err(format!("the stored state's root {} is not the root {recorded:?} recorded for head {head}", stored.root()));
        }
    }
    if full {
        let mut replayed = State::with_genesis(Default::default());
        for h in 1..=head {
            let b = store.block(h).map_err(store_err)?.ok_or_else(|| format!("block {h} missing"))?;
            apply(&mut replayed, &b.block);
            replayed.settle();
        }
        if replayed.digest() != stored.digest() {
            return Err(format!("at head {head} the stored state differs from a replay of blocks 1..={head}"));
        }
    }
    let to_check = if full { &model.pending } else { &model.open_pending };
    let mut finalized = Vec::new();
    for (id, round) in to_check {
        if store.tx_location(id).map_err(store_err)?.is_some() {
            finalized.push(*id);
        } else if !store.is_pending(id).map_err(store_err)? {
            return Err(format!("pending tx {id} acknowledged in round {round} is neither pending nor finalized"));
        }
    }
    for id in finalized {
        model.open_pending.remove(&id);
    }
    Ok(head)
}

/// Blocks from earlier rounds re-read in full after each kill (re-reading
/// all of them every round would make the loop quadratic) ...
const SAMPLE: usize = 32;
/// ... and every one of them, with every pending transaction ever
/// acknowledged, every `FULL_EVERY` rounds and after the last.
const FULL_EVERY: u64 = 200;

#[derive(Default)]
struct Figures {
    acks: u64,
    pending_acks: u64,
    killed_before_open: u64,
    killed_mid_commit: u64,
    killed_mid_flush: u64,
    killed_between: u64,
    unacked_commit_durable: u64,
    full_checks: u64,
    lock_waits: u64,
    lock_wait_rounds: u64,
    snapshots_removed: u64,
    /// Tries of the parent's own open that found the lock still held.
    parent_lock_waits: u64,
    child_time: Duration,
    verify_time: Duration,
    open_time: Duration,
}

/// Half-written sled snapshots a kill left behind (`snap.<lsn>.generating`:
/// sled 0.34.7 would take one at the next open and refuse to open,
/// spacejam/sled#1527); `ChainStore::open` removes them. Counted before the
/// parent's open, for the figures.
fn half_written_snapshots(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("snap.") && name.ends_with(".generating")
        })
        .count() as u64
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) }).sum()
        })
        .unwrap_or(0)
}

#[test]
fn crash_loop() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let rounds: u64 = std::env::var(ROUNDS_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(ROUNDS);
    let seed: u64 = std::env::var(SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("store crash loop: {rounds} rounds, seed {seed} (rerun with {SEED_ENV}={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let exe = std::env::current_exe().expect("test binary path");
    // Kept on failure, as evidence; removed after a pass.
    let tmp = tempfile::Builder::new().prefix("coldchain-crashloop-").tempdir().expect("temp dir").keep();
    let dir = tmp.join("chain");
    let mut model = Model::default();
    let mut fig = Figures::default();
    let started = Instant::now();
    let mut head = 0;
    for round in 1..=rounds {
        let delay = Duration::from_micros(rng.random_range(0..=MAX_KILL_DELAY_US));
        let mut last_line = String::from("(not started)");
        macro_rules! fail {
            ($what:expr) => {
                panic!(
                    "crash loop round {round} of {rounds} (seed {seed}, head before the round {head}, highest acknowledged {}, \
                     child killed after {delay:?}, its last line {last_line:?}; store kept in {}): {}",
                    model.top(),
                    dir.display(),
                    $what
                )
            };
        }
        let t = Instant::now();
        let run = run_child_once(&exe, &dir, rng.random(), delay).unwrap_or_else(|e| fail!(e));
        last_line = run.lines.last().cloned().unwrap_or_default();
        fig.child_time += t.elapsed();
        match run.last_step() {
            None => fig.killed_before_open += 1,
            Some("committing") => fig.killed_mid_commit += 1,
            Some("putting") => fig.killed_mid_flush += 1,
            Some(_) => fig.killed_between += 1,
        }
        let acks = model.record(&run, round).unwrap_or_else(|e| fail!(e));
        if let Some((child_head, waits)) = acks.opened {
            if child_head != head {
                fail!(format!("the child opened the store at head {child_head}, the parent had checked head {head}"));
            }
            fig.lock_waits += waits as u64;
            fig.lock_wait_rounds += (waits > 0) as u64;
        }
        fig.acks += acks.blocks.len() as u64;
        fig.pending_acks += acks.pending;
        let full = round % FULL_EVERY == 0 || round == rounds;
        fig.full_checks += full as u64;
        let seen = model.seen.len() as u64;
        let sample: Vec<u64> = if seen == 0 { Vec::new() } else { (0..SAMPLE).map(|_| rng.random_range(1..=seen)).collect() };
        fig.snapshots_removed += half_written_snapshots(&dir);
        let t = Instant::now();
        // This process's store of the previous round may still hold sled's
        // file lock for a moment after it was dropped (its background
        // flusher), exactly as the child may find it: wait for the lock, then open.
        let (store, waits) = open_when_unlocked(&dir).unwrap_or_else(|e| fail!(e));
        fig.parent_lock_waits += waits as u64;
        fig.open_time += t.elapsed();
        let new_head = verify(&store, &mut model, &acks, &sample, full).unwrap_or_else(|e| fail!(e));
        drop(store);
        fig.verify_time += t.elapsed();
        if new_head > model.top() {
            fig.unacked_commit_durable += 1;
        }
        head = new_head;
    }
    let size = dir_size(&dir);
    std::fs::remove_dir_all(&tmp).expect("remove the store");
    let f = &fig;
    println!(
        "store crash loop passed: {rounds} rounds in {:.1} s (children {:.1} s, reopen + check {:.1} s of which reopen {:.1} s, {} full checks), seed {seed}\n  \
         blocks acknowledged {} (head {head}, store {:.0} MB), pending txs acknowledged {}\n  \
         kills (by the child's last line): before the store opened {}, mid-commit {}, mid-put_pending/flush {}, between operations {}\n  \
         rounds where a commit killed before its ack was on disk anyway: {}\n  \
         rounds where the child's open found sled's lock still held by the parent's dropped store: {} ({} failed tries)",
        started.elapsed().as_secs_f64(),
        f.child_time.as_secs_f64(),
        f.verify_time.as_secs_f64(),
        f.open_time.as_secs_f64(),
        f.full_checks,
        f.acks,
        size as f64 / 1e6,
        f.pending_acks,
        f.killed_before_open,
        f.killed_mid_commit,
        f.killed_mid_flush,
        f.killed_between,
        f.unacked_commit_durable,
        f.lock_wait_rounds,
        f.lock_waits,
    );
    println!("  half-written sled snapshots found (and removed by ChainStore::open): {}", f.snapshots_removed);
    println!("  tries of the parent's open that found its previous store's lock still held: {}", f.parent_lock_waits);
}
