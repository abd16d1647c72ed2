//! `coldchain demo`: a local four-bureau consortium with demo records.
//!
//! Writes a testnet, starts the four validators as child processes, runs the
//! demo story through the gateways (bureaus register code schemes and enrol
//! enterprises; a batch enters at a Hebei port, is stored in Tianjin, sold
//! in Beijing; a retail pack tests positive and Beijing raises an alert),
//! prints the trace and the affected set, downloads one proof and verifies
//! it offline, prints what to try next, and runs until Ctrl-C.

use crate::client::Gateway;
use crate::client::sign_record;
use crate::cluster::LocalCluster;
use crate::testnet;
use anyhow::{Context, Result, bail};
use coldchain_chaincode::scenario;
use coldchain_node::crypto::{generate_key, read_key_file, write_key_file};
use coldchain_node::genesis::Genesis;
use coldchain_node::proof::{ProofBundle, verify};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs the demo story (`coldchain_chaincode::scenario`) through the
/// gateways, wave by wave, each wave finalized before the next; returns the
/// transaction id of every step and the alert's id.
pub fn run_story(dir: &Path, nodes: &[testnet::TestnetNode]) -> Result<(Vec<(String, String)>, String)> {
    let keys_dir = dir.join("enterprises");
    std::fs::create_dir_all(&keys_dir)?;
    let mut enterprise_keys = std::collections::BTreeMap::new();
    for (label, ..) in scenario::ENTERPRISES {
        let key = generate_key();
        write_key_file(&keys_dir.join(format!("{label}.key")), &key)?;
        enterprise_keys.insert(label, key);
    }
    let admin = |bureau: &str| read_key_file(&dir.join(bureau).join("admin.key"));
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let steps = scenario::steps(today, |label| hex::encode(enterprise_keys[label].verifying_key().to_bytes()));
    let chain_id = Gateway::new(&nodes[0].gateway).chain_id()?;
    let mut done = Vec::new();
    let mut alert_id = String::new();
    let mut last_height = 0u64;
    let last_wave = steps.iter().map(|s| s.wave).max().unwrap_or(0);
    for wave in 1..=last_wave {
        let wave_steps: Vec<_> = steps.iter().filter(|s| s.wave == wave).collect();
        let mut txs = Vec::new();
        for step in &wave_steps {
            let key = match step.signer {
                scenario::Signer::Admin(b) => admin(b)?,
                scenario::Signer::Enterprise(l) => enterprise_keys[l].clone(),
            };
            let mut record = step.record.clone();
            if record.get("alertId").is_some() {
                record["alertId"] = json!(alert_id);
            }
            txs.push(sign_record(&chain_id, &key, record)?);
        }
        // Each wave through another bureau's gateway: they all serve the same
        // chain, but a node checks a record against its own state, so it must
        // have applied the wave before first.
        let gw = Gateway::new(&nodes[wave as usize % nodes.len()].gateway);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while gw.get("/v1/status")?.into_result()?["height"].as_u64().unwrap_or(0) < last_height {
            if std::time::Instant::now() > deadline {
                bail!("{} did not reach height {last_height} within 60 s", nodes[wave as usize % nodes.len()].gateway);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let answer = gw.post("/v1/records/batch?wait=finalized", &Value::Array(txs))?.into_result()?;
        for (step, r) in wave_steps.iter().zip(answer["results"].as_array().into_iter().flatten()) {
            if r["state"] != "finalized" {
                bail!("demo step \"{}\" was not finalized: {r}", step.note);
            }
            let id = r["tx_id"].as_str().unwrap_or_default().to_string();
            last_height = last_height.max(r["height"].as_u64().unwrap_or(0));
            if step.record["type"] == "alert" {
                alert_id = id.clone();
            }
            done.push((step.note.to_string(), id));
        }
    }
    // A record refused at finalization would show in its receipt: check them all.
    let gw = Gateway::new(&nodes[0].gateway);
    for (note, id) in &done {
        let tx = gw.get(&format!("/v1/tx/{id}"))?.into_result()?;
        if tx["outcome"]["status"] != "applied" {
            bail!("demo step \"{note}\" was refused: {}", tx["outcome"]);
        }
    }
    Ok((done, alert_id))
}

pub fn run(dir: Option<PathBuf>, exit_after: bool) -> Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("coldchain-demo-{}", std::process::id())),
    };
    println!("coldchain demo: writing a four-bureau consortium to {}", dir.display());
    let nodes = testnet::create(&dir, &testnet::Options { validators: 4, chain_id: "coldchain-demo".into(), leader_timeout_ms: 1000 })?;
    let mut cluster = LocalCluster::start(nodes.clone())?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc_flag(stop)?;
    }
    println!("starting validators beijing, tianjin, hebei, national …");
    cluster.wait_until_ready(Duration::from_secs(60))?;

    println!("running the demo story: a batch enters at Caofeidian (Hebei), is stored in Tianjin, sold in Beijing, and tests positive …");
    let (steps, alert_id) = run_story(&dir, &nodes)?;
    for (note, id) in &steps {
        println!("  {id:.16}…  {note}");
    }
    let tx_id = steps.iter().find(|(n, _)| n.contains("stock the imported batch")).map(|(_, id)| id.clone()).context("no batch step")?;
    let g = nodes[0].gateway.clone();
    let (scheme, code) = scenario::RETAIL;
    let beijing = read_key_file(&dir.join("beijing").join("admin.key"))?;
    // An officer holding only the notice: certificate number and batch.
    let (number, batch) = (scenario::QUARANTINE_NUMBER, scenario::CERT_BATCH);
    let found = Gateway::new(&g).reading_as(Some(beijing.clone())).get(&format!("/v1/search?certificate={number}&batch={batch}"))?.into_result()?;
    println!();
    println!("search by the notice's certificate {number} and batch {batch}, as Beijing's officer:");
    print!("{}", crate::client::search_table(&found));
    // Statistics for bureaus (摸清底数, 每日一报): today's figures by province, and who has not reported.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let as_beijing = Gateway::new(&g).reading_as(Some(beijing.clone()));
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let stats = as_beijing.get(&format!("/v1/statistics?from={today}&to={today}&by=province"))?.into_result()?;
    let unreported = as_beijing.get("/v1/statistics/unreported")?.into_result()?;
    println!();
    println!("statistics of today ({today}, China Standard Time), as Beijing's officer; the page: {g}/#statistics");
    print!("{}", statistics_table(&stats));
    for by in ["category", "origin", "port"] {
        let goods = as_beijing.get(&format!("/v1/statistics?from={today}&to={today}&by={by}"))?.into_result()?;
        let rows: Vec<String> = goods["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{} {} (batches {}, {} kg)", s(&r["key"]), s(&r["name"]), r["batches"], s(&r["weight_kg"])))
            .collect();
        println!("  goods entered by {by}: {}", if rows.is_empty() { "none".to_string() } else { rows.join("; ") });
    }
    println!(
        "  Beijing enterprises that recorded nothing today: {} of {}",
        unreported["enterprises"].as_array().map_or(0, Vec::len),
        unreported["enrolled"].as_u64().unwrap_or(0)
    );
    let trace = Gateway::new(&g).reading_as(Some(beijing)).get(&format!("/v1/trace?scheme={scheme}&code={code}&direction=both"))?.into_result()?;
    println!();
    println!("trace of Beijing retail code {scheme} {code}, as Beijing's officer sees it (inside the open alert: every province):");
    print!("{}", crate::client::trace_table(&trace));
    let tianjin = read_key_file(&dir.join("tianjin").join("admin.key"))?;
    let alert = Gateway::new(&nodes[1].gateway).reading_as(Some(tianjin)).get(&format!("/v1/alerts/{alert_id}"))?.into_result()?;
    println!();
    println!("alert {alert_id} (seen by Tianjin's bureau at its node): state {}", alert["alert"]["state"]);
    for (province, list) in alert["affected"].as_object().into_iter().flatten() {
        for e in list.as_array().into_iter().flatten() {
            println!(
                "  {province}  {}  {}  holds {} pieces, contact {}",
                e["uscc"].as_str().unwrap_or(""),
                e["name"].as_str().unwrap_or(""),
                e["holds_pieces"],
                e["contact_phone"].as_str().unwrap_or("-")
            );
        }
    }
    // Prove one from another bureau's node, and check it offline.
    let proof = Gateway::new(&nodes[2].gateway).get(&format!("/v1/proofs/{tx_id}"))?.into_result()?;
    let proof_path = dir.join("proof.json");
    std::fs::write(&proof_path, serde_json::to_string_pretty(&proof)?)?;
    let genesis = Genesis::load(&dir.join("genesis.json"))?;
    let verified = verify(&genesis, &serde_json::from_value::<ProofBundle>(proof)?).map_err(|e| anyhow::anyhow!("demo proof failed: {e}"))?;
    println!(
        "proof of the batch record {tx_id} (from Hebei's node) verified offline: block {}, signed by {}",
        verified.height,
        verified.signers.join(", ")
    );

    println!();
    println!("The consortium is running:");
    for n in &nodes {
        println!("  {:<9} {}", n.name, n.gateway);
    }
    let g = &g;
    println!();
    println!("Open the explorer in a browser: {g}/  (sign in with {} to read as Beijing's bureau)", dir.join("beijing").join("admin.key").display());
    println!("Try:");
    println!("  coldchain trace --gateway {g} --scheme {scheme} {code}   # the consumer view: product, certificate, provinces, alert");
    let admin = dir.join("beijing").join("admin.key");
    println!("  coldchain trace --gateway {g} --scheme {scheme} {code} --key {}   # as Beijing's bureau", admin.display());
    println!("  coldchain trace --gateway {g} --scheme {scheme} {code} --key {} --direction backward --format csv", admin.display());
    println!("  coldchain trace --gateway {g} --scheme {scheme} {code} --key {} --format svg > trace.svg", admin.display());
    println!("  curl -s {g}/v1/codes/HE-GS1/{}", scenario::HEBEI_CODE);
    println!(
        "  coldchain search --gateway {g} --key {} --certificate {} --batch {}   # or --container, --uscc, --name, --plate 冀B12345, --driver",
        admin.display(),
        scenario::QUARANTINE_NUMBER,
        scenario::CERT_BATCH
    );
    println!(
        "  open {g}/#statistics   # signed in as a bureau: figures by province, day, category, origin, port; reports sent; who has not reported; CSV"
    );
    println!("  coldchain alerts --gateway {g} --key {} {alert_id}   # alerts are for bureaus", admin.display());
    println!("  coldchain alerts --gateway {g} --key {} --follow", admin.display());
    println!("  curl -s {g}/v1/status");
    println!("  curl -s {g}/v1/tx/{tx_id}");
    println!("  coldchain proof --gateway {g} {tx_id} --out proof.json");
    println!("  coldchain verify --genesis {} {}", dir.join("genesis.json").display(), proof_path.display());
    println!("  coldchain submit --gateway {g} --key {} RECORD.json --wait", dir.join("enterprises/beijing-retailer-a.key").display());
    println!("  kill -9 one node (pids {:?}): the other three keep finalizing", cluster.pids());
    if exit_after {
        cluster.stop();
        return Ok(());
    }
    println!();
    println!("Ctrl-C stops the consortium.");
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("stopping …");
    cluster.stop();
    Ok(())
}

/// Figures by province as text (`GET /v1/statistics`): records, lots
/// entered and their weight, enterprises enrolled and reporting, reports sent.
fn statistics_table(s: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = |v: &Value| v.as_u64().map_or_else(|| "-".to_string(), |n| n.to_string());
    let _ = writeln!(
        out,
        "  {:<8} {:>7} {:>7} {:>9} {:>8} {:>9} {:>12} {:>5}  name",
        "province", "records", "batches", "kg", "enrolled", "reporting", "certificates", "flows"
    );
    for r in s["rows"].as_array().into_iter().flatten().chain([&s["total"]]) {
        let _ = writeln!(
            out,
            "  {:<8} {:>7} {:>7} {:>9} {:>8} {:>9} {:>12} {:>5}  {}",
            r["key"].as_str().unwrap_or(""),
            n(&r["records"]),
            n(&r["batches"]),
            r["weight_kg"].as_str().unwrap_or("-"),
            n(&r["enrolled"]),
            n(&r["reporting"]),
            n(&r["certificate_reports"]),
            n(&r["flow_reports"]),
            r["name"].as_str().unwrap_or("")
        );
    }
    out
}

/// Sets `flag` on Ctrl-C or SIGTERM.
fn ctrlc_flag(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        });
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    Ok(())
}
