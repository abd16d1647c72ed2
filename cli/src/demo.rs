//! `coldchain demo`: a local four-bureau consortium with demo records.
//!
//! Writes a testnet, starts the four validators as child processes, submits
//! signed demo records (an imported frozen-food batch's journey, notarised),
//! waits for them to be finalized, downloads one proof and verifies it
//! offline, prints what to try next, and runs until Ctrl-C.

use crate::client::Gateway;
use crate::cluster::LocalCluster;
use crate::testnet;
use anyhow::{Context, Result, bail};
use coldchain_chaincode::Transaction;
use coldchain_node::crypto::{generate_key, write_key_file};
use coldchain_node::genesis::Genesis;
use coldchain_node::proof::{ProofBundle, verify};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Steps of one imported batch's journey (fields as seed 004 spells them).
fn demo_records() -> Vec<Value> {
    let batch = json!({
        "productLibraryId": "17896448006462", "productName": "冷冻鸡两节翅", "batch": "L1",
        "containerNo": "MNBU3167382", "traceCode": "0117896448006462101138896901150",
        "quarantineNumber": "531620211160071009001", "portOfEntry": "天津新港", "weight": 13500.00,
        "productionDate": "2021-02-08", "dateOfentry": "2021-07-16"
    });
    let steps = [
        ("入境检疫 entry quarantine", "130000", "河北省秦皇岛港口冷库"),
        ("入库 stock-in", "120000", "天津市东疆冷链物流中心"),
        ("出库 stock-out", "120000", "天津市东疆冷链物流中心"),
        ("运输 transport", "120000", "津A·冷藏车 12345"),
        ("收货 receipt", "110000", "北京新发地批发市场"),
        ("零售 retail", "110000", "北京市朝阳区某超市"),
    ];
    steps
        .iter()
        .enumerate()
        .map(|(i, (step, province, site))| {
            json!({"type": "notarise", "document": {"step": i + 1, "event": step, "province": province, "site": site, "product": batch}})
        })
        .collect()
}

pub fn run(dir: Option<PathBuf>, exit_after: bool) -> Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("coldchain-demo-{}", std::process::id())),
    };
    println!("coldchain demo: writing a four-bureau consortium to {}", dir.display());
    let nodes = testnet::create(&dir, &testnet::Options { validators: 4, chain_id: "coldchain-demo".into(), leader_timeout_ms: 1000 })?;
    let enterprise = generate_key();
    let enterprise_key = dir.join("enterprise.key");
    write_key_file(&enterprise_key, &enterprise)?;

    let mut cluster = LocalCluster::start(nodes.clone())?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc_flag(stop)?;
    }
    println!("starting validators beijing, tianjin, hebei, national …");
    cluster.wait_for_height(1, Duration::from_secs(60))?;

    let gw = Gateway::new(&nodes[0].gateway);
    let chain_id = gw.chain_id()?;
    let txs: Vec<Value> = demo_records()
        .into_iter()
        .map(|r| serde_json::to_value(Transaction::sign(&chain_id, crate::nonce(), r, &enterprise)))
        .collect::<Result<_, _>>()?;
    let answer = gw.post("/v1/tx/batch?wait=finalized", &Value::Array(txs))?.into_result()?;
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    let finalized = results.iter().filter(|r| r["state"] == "finalized").count();
    if finalized != results.len() {
        bail!("only {finalized} of {} demo records were finalized: {answer}", results.len());
    }
    let tx_id = results.last().and_then(|r| r["tx_id"].as_str()).context("no tx id")?.to_string();
    println!("{} demo records finalized (heights {}–{})", results.len(), results[0]["height"], results[results.len() - 1]["height"]);

    // Prove one from another bureau's node, and check it offline.
    let proof = Gateway::new(&nodes[2].gateway).get(&format!("/v1/proofs/{tx_id}"))?.into_result()?;
    let proof_path = dir.join("proof.json");
    std::fs::write(&proof_path, serde_json::to_string_pretty(&proof)?)?;
    let genesis = Genesis::load(&dir.join("genesis.json"))?;
    let verified = verify(&genesis, &serde_json::from_value::<ProofBundle>(proof)?).map_err(|e| anyhow::anyhow!("demo proof failed: {e}"))?;
    println!("proof of {tx_id} verified offline: block {}, signed by {}", verified.height, verified.signers.join(", "));

    println!();
    println!("The consortium is running:");
    for n in &nodes {
        println!("  {:<9} {}", n.name, n.gateway);
    }
    let g = &nodes[0].gateway;
    println!();
    println!("Try:");
    println!("  curl -s {g}/v1/status");
    println!("  curl -s {g}/v1/tx/{tx_id}");
    println!("  coldchain proof --gateway {g} {tx_id} --out proof.json");
    println!("  coldchain verify --genesis {} {}", dir.join("genesis.json").display(), proof_path.display());
    println!("  coldchain submit --gateway {g} --key {} RECORD.json --wait", enterprise_key.display());
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
