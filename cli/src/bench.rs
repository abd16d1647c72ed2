//! `coldchain bench`: figures, not assertions.
//!
//! - the machine's limit L = cores × (ed25519 batch-verification rate on one
//!   core, batches of 64) ÷ validators: every validator verifies every record;
//! - a local four-validator cluster (real processes of this binary): records
//!   pre-signed before the clock starts, submitted in batches through all four
//!   gateways; finalized records per second, submit→finalized latency p50 and
//!   p99, each node's CPU and peak memory;
//! - the same at half that load (paced, open loop) for latency;
//! - overload at twice that load: how much the gateways shed (503/429), and
//!   whether finalization keeps its rate;
//! - `--verify-proofs`: offline proof verification rate on one core.

use crate::client::Gateway;
use crate::cluster::LocalCluster;
use crate::testnet;
use anyhow::{Context, Result};
use coldchain_chaincode::Transaction;
use coldchain_node::block::{Header, merkle_path, merkle_root};
use coldchain_node::consensus::{Certificate, SignerSignature};
use coldchain_node::crypto::{VoteKind, sign_vote, verify_vote};
use coldchain_node::genesis::{Genesis, Validator};
use coldchain_node::proof::{PROOF_VERSION, ProofBundle, ProofVerifier};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Options {
    pub json: bool,
    pub verify_proofs: bool,
    /// Opaque payloads of this many bytes, signature checks skipped.
    pub opaque: Option<usize>,
    /// Records in the full-load phase (`None`: the mode's default).
    pub records: Option<usize>,
    pub batch: usize,
    pub clients: usize,
}

const CHAIN: &str = "coldchain-bench";
/// Mempool capacity of the bench's nodes.
const MEMPOOL: usize = 20_000;

fn record(i: usize) -> Value {
    json!({"type": "notarise", "document": {
        "seq": i, "productName": "冷冻鸡两节翅", "batch": format!("L{}", i % 97),
        "traceCode": format!("01178964480064621011{:011}", i), "quarantineNumber": "531620211160071009001",
        "weight": 13500.00, "portOfEntry": "天津新港"}})
}

fn sign_records(from: usize, n: usize) -> Vec<Transaction> {
    let keys: Vec<SigningKey> = (1..=16u8).map(|k| SigningKey::from_bytes(&[k; 32])).collect();
    (from..from + n).map(|i| Transaction::sign(CHAIN, i as u64, record(i), &keys[i % keys.len()])).collect()
}

/// Signatures per second that one core verifies in batches of 64.
fn batch_verify_rate() -> f64 {
    let txs = sign_records(0, 64 * 16);
    let refs: Vec<&Transaction> = txs.iter().collect();
    let start = Instant::now();
    let mut verified = 0usize;
    while start.elapsed() < Duration::from_millis(1500) {
        for chunk in refs.chunks(64) {
            let results = coldchain_chaincode::transaction::verify_batch(chunk);
            assert!(results.iter().all(Result::is_ok));
            verified += chunk.len();
        }
    }
    verified as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// CPU seconds (user + system) and peak resident memory of a process.
fn proc_usage(pid: u32) -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
        })
        .unwrap_or(0.0);
    let peak_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    (cpu, peak_kb * 1024)
}

struct PhaseResult {
    offered: usize,
    finalized: usize,
    shed: usize,
    wall: f64,
    latencies_ms: Vec<f64>,
}

impl PhaseResult {
    fn rate(&self) -> f64 {
        self.finalized as f64 / self.wall
    }
    fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies_ms, q)
    }
}

/// Submits pre-serialized batches with `?wait=finalized`. Open loop when
/// `rate` is set (batch i is sent at i × batch ÷ rate), else as fast as
/// `workers` clients go. Latency: batch sent → its records finalized.
fn run_phase(gateways: &[String], bodies: Vec<(usize, Vec<u8>)>, workers: usize, rate: Option<f64>, retry_shed: bool) -> PhaseResult {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build().into();
    let offered = bodies.iter().map(|(n, _)| n).sum();
    let queue = Arc::new(Mutex::new(bodies.into_iter().enumerate().collect::<VecDeque<_>>()));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let finalized = Arc::new(AtomicUsize::new(0));
    let shed = Arc::new(AtomicUsize::new(0));
    let last_done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let per_batch = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (queue, latencies, finalized, shed, last_done, agent) =
                (queue.clone(), latencies.clone(), finalized.clone(), shed.clone(), last_done.clone(), agent.clone());
            let gateways = gateways.to_vec();
            std::thread::spawn(move || {
                loop {
                    let Some((i, (n, body))) = queue.lock().expect("queue").pop_front() else { return };
                    if let Some(step) = per_batch {
                        let at = start + step * (i as u32);
                        if let Some(wait) = at.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let url = format!("{}/v1/tx/batch?wait=finalized", gateways[(i + w) % gateways.len()]);
                    let sent = Instant::now();
                    let Ok(mut resp) = agent.post(&url).header("content-type", "application/json").send(&body[..]) else { continue };
                    let code = resp.status().as_u16();
                    let env: Value = resp.body_mut().with_config().limit(64 << 20).read_json().unwrap_or(Value::Null);
                    if code == 503 || code == 429 {
                        shed.fetch_add(n, Ordering::Relaxed);
                        if retry_shed {
                            std::thread::sleep(Duration::from_millis(50));
                            queue.lock().expect("queue").push_back((i, (n, body)));
                        }
                        continue;
                    }
                    let done = env["result"]["results"].as_array().map(|r| r.iter().filter(|x| x["state"] == "finalized").count()).unwrap_or(0);
                    let ms = sent.elapsed().as_secs_f64() * 1000.0;
                    finalized.fetch_add(done, Ordering::Relaxed);
                    latencies.lock().expect("latencies").extend(std::iter::repeat_n(ms, done));
                    last_done.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut latencies_ms = Arc::try_unwrap(latencies).map(|m| m.into_inner().expect("latencies")).unwrap_or_default();
    latencies_ms.sort_by(f64::total_cmp);
    PhaseResult {
        offered,
        finalized: finalized.load(Ordering::Relaxed),
        shed: shed.load(Ordering::Relaxed),
        wall: (last_done.load(Ordering::Relaxed) as f64 / 1e6).max(1e-3),
        latencies_ms,
    }
}

fn bodies(txs: &[Transaction], batch: usize) -> Vec<(usize, Vec<u8>)> {
    txs.chunks(batch).map(|c| (c.len(), serde_json::to_vec(c).expect("plain data"))).collect()
}

pub fn run(opts: Options) -> Result<()> {
    if opts.verify_proofs {
        return bench_proofs(opts.json);
    }
    if let Some(size) = opts.opaque {
        return bench_opaque(&opts, size);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let validators = 4;
    let one_core = batch_verify_rate();
    let limit = cores as f64 * one_core / validators as f64;
    if !opts.json {
        println!("machine: {cores} cores; ed25519 batch verification {one_core:.0}/s on one core; limit L = {limit:.0} records/s");
    }

    let dir = tempfile_dir()?;
    let nodes = testnet::create(&dir, &testnet::Options { validators, chain_id: CHAIN.into(), leader_timeout_ms: 2000 })?;
    // A mempool of a few seconds of throughput, so overload is shed at the
    // gateway instead of queueing (an ordinary config option).
    for n in &nodes {
        let mut cfg = std::fs::read_to_string(&n.config)?;
        cfg.push_str(&format!("\n[mempool]\nmax_txs = {MEMPOOL}\n"));
        std::fs::write(&n.config, cfg)?;
    }
    let mut cluster = LocalCluster::start(nodes.clone())?;
    cluster.wait_until_ready(Duration::from_secs(60))?;
    let gateways: Vec<String> = nodes.iter().map(|n| n.gateway.clone()).collect();
    let pids = cluster.pids();

    // Pre-sign everything before any clock starts.
    let n = opts.records.unwrap_or(60_000);
    let full = sign_records(1_000_000, n);
    let warm = sign_records(2_000_000, 2_000);
    run_phase(&gateways, bodies(&warm, opts.batch), 8, None, true);

    let cpu_before: Vec<f64> = pids.iter().map(|p| proc_usage(*p).0).collect();
    let max = run_phase(&gateways, bodies(&full, opts.batch), opts.clients, None, true);
    let cpu_after: Vec<f64> = pids.iter().map(|p| proc_usage(*p).0).collect();
    if !opts.json {
        println!(
            "full load: {} records finalized in {:.2} s = {:.0}/s; latency p50 {:.0} ms, p99 {:.0} ms",
            max.finalized,
            max.wall,
            max.rate(),
            max.p(0.5),
            max.p(0.99)
        );
    }

    let half_rate = 0.5 * max.rate();
    let half_n = ((half_rate * 8.0) as usize).max(opts.batch * 4);
    let half_batches = (half_n / opts.batch).max(1);
    let half_txs = sign_records(3_000_000, half_batches * opts.batch);
    let half = run_phase(&gateways, bodies(&half_txs, opts.batch), 64, Some(half_rate / opts.batch as f64), true);
    if !opts.json {
        println!("half load ({half_rate:.0}/s offered): {} finalized; latency p50 {:.0} ms, p99 {:.0} ms", half.finalized, half.p(0.5), half.p(0.99));
    }

    let over_rate = 2.0 * max.rate();
    let over_batches = ((over_rate * 10.0) as usize / opts.batch).max(4);
    let over_txs = sign_records(4_000_000, over_batches * opts.batch);
    let over = run_phase(&gateways, bodies(&over_txs, opts.batch), 128, Some(over_rate / opts.batch as f64), false);
    if !opts.json {
        println!(
            "overload ({over_rate:.0}/s offered, {} records): {} finalized at {:.0}/s, {} shed with 503/429",
            over.offered,
            over.finalized,
            over.rate(),
            over.shed
        );
    }

    let nodes_json: Vec<Value> = nodes
        .iter()
        .zip(&pids)
        .enumerate()
        .map(|(i, (node, pid))| {
            let (_, peak) = proc_usage(*pid);
            json!({"name": node.name, "cpu_percent_full_load": 100.0 * (cpu_after[i] - cpu_before[i]) / max.wall, "peak_rss_mb": peak as f64 / 1048576.0})
        })
        .collect();
    let heights: Vec<u64> = gateways.iter().filter_map(|g| Gateway::new(g).get("/v1/status").ok()?.into_result().ok()?["height"].as_u64()).collect();
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);

    let report = json!({
        "cores": cores,
        "validators": validators,
        "batch": opts.batch,
        "mempool": MEMPOOL,
        "clients": opts.clients,
        "verify_rate_one_core": one_core.round(),
        "limit_per_sec": limit.round(),
        "records": max.finalized,
        "finalized_per_sec": max.rate().round(),
        "target_per_sec": (0.5 * limit).round(),
        "p50_ms": max.p(0.5).round(),
        "p99_ms": max.p(0.99).round(),
        "half_load": {"offered_per_sec": half_rate.round(), "finalized": half.finalized, "p50_ms": half.p(0.5).round(), "p99_ms": half.p(0.99).round()},
        "overload": {"offered_per_sec": over_rate.round(), "offered": over.offered, "finalized": over.finalized, "finalized_per_sec": over.rate().round(), "shed": over.shed},
        "nodes": nodes_json,
        "heights": heights,
    });
    if opts.json {
        println!("{report}");
    } else {
        for n in report["nodes"].as_array().into_iter().flatten() {
            println!(
                "  {:<9} cpu {:>5.0}% at full load, peak memory {:.0} MB",
                n["name"].as_str().unwrap_or(""),
                n["cpu_percent_full_load"].as_f64().unwrap_or(0.0),
                n["peak_rss_mb"].as_f64().unwrap_or(0.0)
            );
        }
        println!("finalized_per_sec {} vs target 0.5 × L = {}", report["finalized_per_sec"], report["target_per_sec"]);
    }
    Ok(())
}

/// The consensus pipeline alone: four validators in this process (through
/// `runtime::run_with`, the only way to skip signature checks), carrying
/// opaque payloads of `size` bytes: finalized payloads per second, p50 and
/// p99 at full load and at half load.
fn bench_opaque(opts: &Options, size: usize) -> Result<()> {
    use coldchain_node::runtime::{SignatureCheck, run_with};
    // The machine's speed at the time (a shared host varies by a third from
    // hour to hour), so runs on different days can be compared.
    let one_core = batch_verify_rate();
    let dir = tempfile_dir()?;
    let nodes = testnet::create(&dir, &testnet::Options { validators: 4, chain_id: CHAIN.into(), leader_timeout_ms: 2000 })?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for n in &nodes {
        let mut cfg = std::fs::read_to_string(&n.config)?;
        cfg.push_str(&format!("\n[mempool]\nmax_txs = {MEMPOOL}\n"));
        std::fs::write(&n.config, cfg)?;
        let cfg = coldchain_node::config::NodeConfig::load(&n.config)?;
        let mut stopped = stopped.clone();
        tasks.push(rt.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = run_with(cfg, shutdown, SignatureCheck::SkipForBenchmark).await {
                eprintln!("node failed: {e}");
            }
        }));
    }
    let gateways: Vec<String> = nodes.iter().map(|n| n.gateway.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !gateways.iter().all(|g| Gateway::new(g).get("/readyz").ok().is_some_and(|a| a.status == 200)) {
        anyhow::ensure!(Instant::now() < deadline, "in-process cluster did not start within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let payloads = |from: usize, n: usize| -> Vec<Transaction> {
        let key = SigningKey::from_bytes(&[42; 32]);
        (from..from + n)
            .map(|i| {
                let payload: String = format!("{i:016x}").chars().cycle().take(size).collect();
                Transaction::sign(CHAIN, i as u64, json!({"type": "notarise", "document": {"opaque": payload}}), &key)
            })
            .collect()
    };
    // Warm up as the main benchmark does (connections, allocator, first
    // segments of the body log), then measure.
    run_phase(&gateways, bodies(&payloads(20_000_000, 2_000), opts.batch), 8, None, true);
    let full_txs = payloads(0, opts.records.unwrap_or(200_000));
    let height = || Gateway::new(&gateways[0]).get("/v1/status").ok().and_then(|a| a.into_result().ok()).and_then(|s| s["height"].as_u64());
    let before = height();
    let max = run_phase(&gateways, bodies(&full_txs, opts.batch), opts.clients, None, true);
    // Blocks finalized during the phase (read after it, so a few late empty
    // ones may count): how the pipeline cut the load.
    let blocks = height().zip(before).map_or(0, |(a, b)| a.saturating_sub(b));
    let half_rate = 0.5 * max.rate();
    let half_batches = ((half_rate * 8.0) as usize / opts.batch).max(4);
    let half_txs = payloads(10_000_000, half_batches * opts.batch);
    let half = run_phase(&gateways, bodies(&half_txs, opts.batch), 64, Some(half_rate / opts.batch as f64), true);
    let _ = stop.send(true);
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(tasks)).await;
    });
    rt.shutdown_timeout(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
    let report = json!({
        "mode": "opaque", "payload_bytes": size, "signature_checks": "skipped", "verify_rate_one_core": one_core.round(),
        "finalized_per_sec": max.rate().round(), "p50_ms": max.p(0.5).round(), "p99_ms": max.p(0.99).round(),
        "blocks": blocks, "mean_block_payloads": (max.finalized as f64 / blocks.max(1) as f64).round(),
        "half_load": {"offered_per_sec": half_rate.round(), "finalized": half.finalized, "p50_ms": half.p(0.5).round(), "p99_ms": half.p(0.99).round()},
    });
    if opts.json {
        println!("{report}");
    } else {
        println!("opaque {size}-byte payloads, signature checks skipped, four validators in one process:");
        println!("  machine: ed25519 batch verification {one_core:.0}/s on one core (its speed at the time)");
        println!(
            "  full load: {} finalized in {:.2} s = {:.0}/s; latency p50 {:.0} ms, p99 {:.0} ms",
            max.finalized,
            max.wall,
            max.rate(),
            max.p(0.5),
            max.p(0.99)
        );
        println!("  blocks: {blocks}, {:.0} payloads each on average", max.finalized as f64 / blocks.max(1) as f64);
        println!("  half load ({half_rate:.0}/s offered): p50 {:.0} ms, p99 {:.0} ms", half.p(0.5), half.p(0.99));
    }
    Ok(())
}

/// Bytes a process has caused to be written to storage (`/proc/PID/io`).
fn written_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("write_bytes:").and_then(|v| v.trim().parse().ok())))
        .unwrap_or(0)
}

/// Total size of the files under `dir`.
pub(crate) fn tree_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => tree_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `coldchain bench --idle SECONDS`: four validators with nothing to do
/// (Rule I, docs/PROTOCOL.md). One record first, so the window starts after
/// a block; then blocks, bytes written to storage, data directory growth and
/// CPU per node over the window; then the first record after it.
pub fn run_idle(seconds: u64, json_out: bool) -> Result<()> {
    let dir = tempfile_dir()?;
    let nodes = testnet::create(&dir, &testnet::Options { validators: 4, chain_id: CHAIN.into(), leader_timeout_ms: 2000 })?;
    let mut cluster = LocalCluster::start(nodes.clone())?;
    cluster.wait_until_ready(Duration::from_secs(60))?;
    let gateways: Vec<Gateway> = nodes.iter().map(|n| Gateway::new(&n.gateway)).collect();
    let pids = cluster.pids();
    let submit = |i: usize| -> Result<(u64, f64)> {
        let tx = Transaction::sign(CHAIN, i as u64, record(i), &SigningKey::from_bytes(&[7; 32]));
        let started = Instant::now();
        let r = gateways[i % 4].post("/v1/tx?wait=finalized", &serde_json::to_value(tx)?)?.into_result()?;
        anyhow::ensure!(r["state"] == "finalized", "record {i} not finalized: {r}");
        Ok((r["height"].as_u64().unwrap_or(0), started.elapsed().as_secs_f64() * 1000.0))
    };
    submit(0)?;
    let heights = || -> Vec<u64> {
        gateways.iter().map(|g| g.get("/v1/status").ok().and_then(|a| a.into_result().ok()).and_then(|s| s["height"].as_u64()).unwrap_or(0)).collect()
    };
    // Let the first record's block become final everywhere.
    std::thread::sleep(Duration::from_secs(3));
    let data = |i: usize| nodes[i].config.with_file_name("data");
    let h0 = heights();
    let cpu0: Vec<f64> = pids.iter().map(|p| proc_usage(*p).0).collect();
    let w0: Vec<u64> = pids.iter().map(|p| written_bytes(*p)).collect();
    let d0: Vec<u64> = (0..4).map(|i| tree_bytes(&data(i))).collect();
    if !json_out {
        println!("idle for {seconds} s: four validators, no submissions …");
    }
    std::thread::sleep(Duration::from_secs(seconds));
    let h1 = heights();
    let cpu1: Vec<f64> = pids.iter().map(|p| proc_usage(*p).0).collect();
    let w1: Vec<u64> = pids.iter().map(|p| written_bytes(*p)).collect();
    let d1: Vec<u64> = (0..4).map(|i| tree_bytes(&data(i))).collect();
    let (height, first_ms) = submit(1)?;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let per_node: Vec<Value> = (0..4)
        .map(|i| {
            json!({
                "name": nodes[i].name,
                "blocks": h1[i].saturating_sub(h0[i]),
                "bytes_written": w1[i].saturating_sub(w0[i]),
                "data_dir_growth_bytes": d1[i] as i64 - d0[i] as i64,
                "cpu_percent": (100.0 * (cpu1[i] - cpu0[i]) / seconds as f64 * 1000.0).round() / 1000.0,
            })
        })
        .collect();
    let report = json!({"idle_seconds": seconds, "nodes": per_node, "first_record_after_idle_ms": first_ms.round(), "first_record_height": height});
    if json_out {
        println!("{report}");
    } else {
        for n in &per_node {
            println!(
                "  {:<9} {} blocks, {} bytes written to storage, data directory {:+} bytes, cpu {}%",
                n["name"].as_str().unwrap_or(""),
                n["blocks"],
                n["bytes_written"],
                n["data_dir_growth_bytes"].as_i64().unwrap_or(0),
                n["cpu_percent"]
            );
        }
        println!("first record after the pause: finalized in {first_ms:.0} ms, at height {height}");
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("coldchain-bench-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    Ok(dir)
}

/// Offline proof verification on one core, two cases: every proof from a
/// different block (each certificate verified: 3 × verify_strict), and an
/// auditor checking 1,000 records of the same 10 blocks (each certificate
/// verified once). Proofs are parsed from JSON each time, as a tool would.
fn bench_proofs(json_out: bool) -> Result<()> {
    let keys: Vec<SigningKey> = (10..14u8).map(|k| SigningKey::from_bytes(&[k; 32])).collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time: "2026-11-24T00:00:00Z".into(),
        validators: keys
            .iter()
            .zip(testnet::BUREAUS)
            .map(|(k, (name, province))| Validator {
                name: name.into(),
                province: province.into(),
                public_key: hex::encode(k.verifying_key().to_bytes()),
                admin_key: None,
            })
            .collect(),
        dictionaries: coldchain_chaincode::dictionary::Dictionaries::builtin(),
        consensus: Default::default(),
    };
    let txs = sign_records(0, 1000);
    let ids: Vec<_> = txs.iter().map(Transaction::id).collect();
    let root = merkle_root(&ids);
    // Proofs for record i of block b: blocks differ by view/height, so each
    // has its own certificate.
    let proof = |block: u64, index: usize| -> ProofBundle {
        let header = Header {
            chain_id: CHAIN.into(),
            height: block,
            view: block + 3,
            parent: genesis.block_header().hash(),
            tx_root: root,
            time_ms: 1_764_000_000_000,
            proposer: (block % 4) as u16,
            tx_count: ids.len() as u32,
            state_height: 0,
            state_root: Default::default(),
        };
        let hash = header.hash();
        let signatures = (0..3u16)
            .map(|i| SignerSignature { signer: i, signature: sign_vote(&keys[i as usize], VoteKind::Finalize, CHAIN, block + 3, &hash) })
            .collect();
        ProofBundle {
            version: PROOF_VERSION,
            tx_id: ids[index],
            transaction: Some(txs[index].clone()),
            leaf_index: index as u64,
            merkle_path: merkle_path(&ids, index),
            header,
            links: vec![],
            finalization: Some(Certificate { kind: VoteKind::Finalize, view: block + 3, hash, signatures }),
            epochs: vec![],
        }
    };
    let distinct: Vec<String> = (0..400u64).map(|b| serde_json::to_string(&proof(b + 1, (b as usize * 7) % 1000))).collect::<Result<_, _>>()?;
    let same_blocks: Vec<String> = (0..1000usize).map(|i| serde_json::to_string(&proof((i % 10) as u64 + 1, i))).collect::<Result<_, _>>()?;
    // One verifier per round, as a tool checking many proofs holds one per
    // genesis (its keys decompressed once). In the distinct-block case every
    // proof has its own certificate, so none is remembered from another.
    let measure = |texts: &[String]| -> Result<f64> {
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed() < Duration::from_secs(2) {
            let mut verifier = ProofVerifier::new(&genesis);
            for text in texts {
                let b: ProofBundle = serde_json::from_str(text)?;
                verifier.verify(&b).map_err(|e| anyhow::anyhow!("bench proof invalid: {e}"))?;
                count += 1;
            }
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    };
    // The bound for the distinct-block case on this core, in the same run:
    // the certificates' signatures alone (3 × verify_strict per proof), no
    // parsing, hashing or Merkle path.
    let certificates: Vec<Certificate> = distinct
        .iter()
        .map(|text| serde_json::from_str::<ProofBundle>(text).map(|b| b.finalization))
        .collect::<Result<Option<_>, _>>()?
        .context("a bench proof without its finalization")?;
    let keys = genesis.keys();
    let signatures_only = || -> Result<f64> {
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed() < Duration::from_secs(2) {
            for c in &certificates {
                for s in &c.signatures {
                    if !verify_vote(&keys[s.signer as usize], c.kind, CHAIN, c.view, &c.hash, &s.signature) {
                        anyhow::bail!("bench certificate signature of validator {} invalid", s.signer);
                    }
                }
                count += 1;
            }
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    };
    let new_blocks = measure(&distinct)?;
    let bound = signatures_only()?;
    let known_blocks = measure(&same_blocks)?;
    if json_out {
        println!(
            "{}",
            json!({
                "proofs_per_sec_distinct_blocks": new_blocks.round(),
                "signatures_only_per_sec_distinct_blocks": bound.round(),
                "proofs_per_sec_1000_records_of_10_blocks": known_blocks.round(),
                "target_per_sec": 10000,
            })
        );
    } else {
        println!("offline proof verification on one core (blocks of 1,000 records):");
        println!("  every proof from a different block: {new_blocks:.0} proofs/s (3 × verify_strict each)");
        println!(
            "    bound on this core: their certificates' signatures alone verify at {bound:.0} certificates/s ({:.0}% reached)",
            100.0 * new_blocks / bound
        );
        println!("  1,000 records of the same 10 blocks: {known_blocks:.0} proofs/s (each certificate verified once)");
        println!("  target 10,000/s");
    }
    Ok(())
}
