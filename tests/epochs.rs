//! Issue 19, in real processes: Shandong (370000) joins the four-bureau
//! consortium by a quorum of bureaus, catches up and votes (quorum 4 of 5);
//! Hebei leaves (3 of 4 again); Tianjin's validator key is rotated, and its
//! node refuses to start with the old key. Records are finalized in every
//! epoch, and a proof from each verifies offline against the original
//! genesis file alone; a forged epoch certificate does not. The
//! independent verifiers (`verifiers/python`, `verifiers/java`) give the
//! same verdict as `coldchain verify`, at the same check, on every file.

mod common;

use common::verdicts::*;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(90);
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn write_json(path: &Path, v: &Value) -> PathBuf {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path.to_path_buf()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A hex string with its first digit changed.
fn flip(s: &str) -> String {
    let first = if s.starts_with('0') { "1" } else { "0" };
    format!("{first}{}", &s[1..])
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A notarisation finalized through node `via`; its proof saved as `out`.
fn record_with_proof(c: &Cluster, via: usize, note: &str, out: &Path) -> u64 {
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let key = enterprise_key(201);
    let nonce = std::process::id() as u64 * 1_000 + NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tx = coldchain_chaincode::Transaction::sign(&c.chain_id(), nonce, serde_json::json!({"type": "notarise", "document": {"note": note}}), &key);
    let body = serde_json::to_value(&tx).unwrap();
    let deadline = Instant::now() + LONG;
    let env = loop {
        let (code, env) = post(&c.url(via, "/v1/tx?wait=finalized"), &body);
        if code == 200 && env["result"]["state"] == "finalized" {
            break env;
        }
        if Instant::now() > deadline {
            panic!("'{note}' not finalized through node {via} in {LONG:?}; the nodes' logs:\n{}", logs(c));
        }
    };
    let (code, proof) = get(&c.url(via, &format!("/v1/proofs/{}", tx.id())));
    assert_eq!(code, 200, "{proof}");
    std::fs::write(out, serde_json::to_vec_pretty(&proof["result"]).unwrap()).unwrap();
    env["result"]["height"].as_u64().unwrap()
}

/// Waits until every node in `nodes` reports `epoch` with `validators` validators.
fn wait_epoch(c: &Cluster, nodes: &[usize], epoch: u64, validators: usize) {
    wait_for(&format!("nodes {nodes:?} in epoch {epoch} with {validators} validators"), LONG, || {
        nodes
            .iter()
            .all(|&i| c.status(i).is_some_and(|s| s["epoch"] == epoch && s["validators"].as_array().is_some_and(|v| v.len() == validators)))
            .then_some(())
    });
}

/// What each node logged about consensus and epochs (a failure's evidence).
fn logs(c: &Cluster) -> String {
    (0..c.nodes.len())
        .map(|i| {
            let log = c.log(i);
            let lines: Vec<&str> = log.lines().filter(|l| !l.contains("interface_log") && !l.contains("finalized height")).collect();
            let metrics = agent().get(&c.url(i, "/metrics")).call().ok().and_then(|r| r.into_body().read_to_string().ok()).unwrap_or_default();
            let refused: Vec<&str> = metrics.lines().filter(|l| l.starts_with("coldchain_consensus") || l.starts_with("coldchain_view")).collect();
            let status = c
                .status(i)
                .map(|s| format!("epoch {} view {} idle {} mempool {}", s["epoch"], s["view"], s["idle"], s["mempool"]))
                .unwrap_or_default();
            format!("--- {} ({status}) ---\n{}\n{}", c.nodes[i].name, refused.join("\n"), lines[lines.len().saturating_sub(12)..].join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn gw(c: &Cluster, i: usize) -> String {
    c.nodes[i].gateway.clone()
}

#[test]
fn a_province_joins_a_bureau_leaves_and_a_key_rotates_while_records_finalize() {
    let started = Instant::now();
    let mut c = Cluster::start(4);
    let h = c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], h, LONG);
    let dir: PathBuf = c.dir.path().to_path_buf();
    let genesis = c.genesis_path();
    let admin = |bureau: &str| dir.join(bureau).join("admin.key").to_string_lossy().into_owned();
    let proof_file = |epoch: u64| dir.join(format!("proof-epoch-{epoch}.json"));
    record_with_proof(&c, 0, "epoch 0", &proof_file(0));

    // Shandong's keys and node: national's config on new ports, its own key and data.
    let sd = dir.join("shandong");
    std::fs::create_dir_all(&sd).unwrap();
    let validator_key = keygen(&sd.join("validator.key"));
    let admin_key = keygen(&sd.join("admin.key"));
    let national = std::fs::read_to_string(&c.nodes[3].config).unwrap();
    let p2p = national.lines().find_map(|l| l.strip_prefix("listen = \"/ip4/127.0.0.1/tcp/")).unwrap().trim_end_matches('"').to_string();
    let gateway_line = national.lines().find(|l| l.starts_with("listen = \"127.0.0.1:")).unwrap().to_string();
    let gateway_port = free_port();
    let config = national
        .replace("name = \"national\"", "name = \"shandong\"")
        .replace(&format!("/ip4/127.0.0.1/tcp/{p2p}\""), &format!("/ip4/127.0.0.1/tcp/{}\"", free_port()))
        .replace(&gateway_line, &format!("listen = \"127.0.0.1:{gateway_port}\""));
    std::fs::write(sd.join("node.toml"), config).unwrap();
    let shandong = c.add_node("shandong", &format!("http://127.0.0.1:{gateway_port}"), sd.join("node.toml"));

    // Beijing proposes; once that is final, Shandong's node may connect: it
    // starts, follows the chain, and catches up.
    cli(&[
        "governance",
        "propose",
        "--gateway",
        &gw(&c, 0),
        "--key",
        &admin("beijing"),
        "--change",
        "add_validator",
        "--province",
        "370000",
        "--name",
        "shandong",
        "--validator-key",
        &validator_key,
        "--admin-key",
        &admin_key,
    ]);
    c.start_node(shandong);
    let head = c.height(0).unwrap();
    c.wait_height(&[shandong], head, LONG);
    let digest = pending_digest(&gw(&c, 1));
    cli(&["governance", "approve", "--gateway", &gw(&c, 1), "--key", &admin("tianjin"), &digest]);
    let approved = Instant::now();
    cli(&["governance", "approve", "--gateway", &gw(&c, 3), "--key", &admin("national"), &digest]);
    wait_epoch(&c, &[0, 1, 2, 3, shandong], 1, 5);
    let status = c.status(shandong).unwrap();
    assert_eq!((status["quorum"].as_u64(), status["validator"]["province"].as_str()), (Some(4), Some("370000")), "{status}");
    assert!(status["validator"]["index"].is_u64(), "Shandong votes in epoch 1: {status}");
    let metrics = agent().get(&c.url(0, "/metrics")).call().unwrap().into_body().read_to_string().unwrap();
    assert!(metrics.lines().any(|l| l == "coldchain_epoch 1"), "/metrics shows the epoch");
    record_with_proof(&c, shandong, "epoch 1", &proof_file(1));
    eprintln!("epoch 1 (five validators) finalized a record {:?} after the approval that made the quorum", approved.elapsed());

    // Hebei leaves: four of the five bureaus approve (three do not suffice).
    cli(&[
        "governance",
        "propose",
        "--gateway",
        &gw(&c, shandong),
        "--key",
        &sd.join("admin.key").to_string_lossy(),
        "--change",
        "remove_validator",
        "--province",
        "130000",
    ]);
    let digest = pending_digest(&gw(&c, 0));
    for (node, bureau) in [(0, "beijing"), (1, "tianjin")] {
        cli(&["governance", "approve", "--gateway", &gw(&c, node), "--key", &admin(bureau), &digest]);
    }
    assert_eq!(c.status(0).unwrap()["epoch"], 1, "three of five approvals change nothing");
    cli(&["governance", "approve", "--gateway", &gw(&c, 3), "--key", &admin("national"), &digest]);
    wait_epoch(&c, &[0, 1, 3, shandong], 2, 4);
    c.kill(2);
    record_with_proof(&c, 0, "epoch 2", &proof_file(2));

    // Tianjin's validator key is rotated by three of the four bureaus; its
    // node, still on the old key, then follows; restarted with the old key
    // it refuses to start, and with the new one it votes again.
    let new_key_file = dir.join("tianjin-new.key");
    let new_key = keygen(&new_key_file);
    cli(&[
        "governance",
        "propose",
        "--gateway",
        &gw(&c, 0),
        "--key",
        &admin("beijing"),
        "--change",
        "rotate_validator_key",
        "--province",
        "120000",
        "--validator-key",
        &new_key,
    ]);
    let digest = pending_digest(&gw(&c, 3));
    cli(&["governance", "approve", "--gateway", &gw(&c, 3), "--key", &admin("national"), &digest]);
    cli(&["governance", "approve", "--gateway", &gw(&c, shandong), "--key", &sd.join("admin.key").to_string_lossy(), &digest]);
    wait_epoch(&c, &[0, 3, shandong], 3, 4);
    c.kill(1);
    let out = run_cli(&["node", "--config", c.nodes[1].config.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a node on a rotated key must not start: {said}");
    assert!(said.contains("was bureau 120000's validator key until height"), "{said}");
    std::fs::copy(&new_key_file, c.nodes[1].config.with_file_name("validator.key")).unwrap();
    c.start_node(1);
    wait_for("Tianjin voting on its new key", LONG, || c.status(1).filter(|s| s["epoch"] == 3 && s["validator"]["index"].is_u64()).map(|_| ()));
    let top = record_with_proof(&c, 1, "epoch 3", &proof_file(3));
    c.wait_height(&[0, 1, 3, shandong], top, LONG);
    c.assert_same_chain(&[0, 1, 3, shandong], top);

    // Every epoch's proof verifies against the original genesis alone.
    let files: Vec<String> = (0..4).map(|e| proof_file(e).to_string_lossy().into_owned()).collect();
    let mut args = vec!["verify", "--genesis", genesis.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let verified = cli(&args);
    assert_eq!(verified.matches("VALID proof").count(), 4, "{verified}");
    assert!(!verified.contains("INVALID"), "{verified}");
    let sizes: Vec<usize> = (0..4).map(|e| std::fs::read(proof_file(e)).unwrap().len()).collect();
    let epochs_carried: Vec<usize> = (0..4)
        .map(|e| serde_json::from_slice::<Value>(&std::fs::read(proof_file(e)).unwrap()).unwrap()["epochs"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(epochs_carried, [0, 1, 2, 3], "each proof carries the epoch certificates from genesis");
    eprintln!("proof bytes by epoch: {sizes:?}");

    // A forged epoch change: one signature short of the quorum, or the
    // validator list altered after signing.
    let mut forged: Value = serde_json::from_slice(&std::fs::read(proof_file(2)).unwrap()).unwrap();
    forged["epochs"][0]["signatures"].as_array_mut().unwrap().truncate(2);
    let short = dir.join("forged-short.json");
    std::fs::write(&short, forged.to_string()).unwrap();
    let mut altered: Value = serde_json::from_slice(&std::fs::read(proof_file(2)).unwrap()).unwrap();
    altered["epochs"][1]["change"]["validators"][0]["public_key"] = Value::String(new_key.clone());
    let altered_file = dir.join("forged-altered.json");
    std::fs::write(&altered_file, altered.to_string()).unwrap();
    for (file, expected) in [(&short, "check 7 (epochs): only 2 validators of epoch 0"), (&altered_file, "does not verify for this epoch change")] {
        let out = run_cli(&["verify", "--genesis", genesis.to_str().unwrap(), file.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(said.contains("INVALID") && said.contains(expected), "{said}");
    }

    // The independent verifiers agree with `coldchain verify` on each file:
    // the four proofs, the two forgeries, a state proof of epoch 3 (version 1
    // with three epoch certificates), and more tamperings.
    let tx3 = read_json(&proof_file(3))["tx_id"].as_str().unwrap().to_string();
    let path = format!("/v1/state/proof?key=03{tx3}");
    let beijing = coldchain_node::crypto::read_key_file(&dir.join("beijing").join("admin.key")).unwrap();
    let (code, env) = c.read_as(0, &path, Some(&beijing));
    assert_eq!(code, 200, "GET {path}: {env}");
    let state = env["result"].clone();
    assert_eq!((state["version"].as_u64(), state["epochs"].as_array().map(Vec::len)), (Some(1), Some(3)), "{state}");
    let two = read_json(&proof_file(2));
    let mut last_hash = two.clone();
    last_hash["epochs"][0]["change"]["last_hash"] = json!(flip(last_hash["epochs"][0]["change"]["last_hash"].as_str().unwrap()));
    let mut no_epochs = two.clone();
    no_epochs.as_object_mut().unwrap().remove("epochs");
    let mut stale = two.clone();
    stale["epochs"].as_array_mut().unwrap().truncate(1);
    let mut old_block = read_json(&proof_file(0));
    old_block["version"] = json!(2);
    old_block["epochs"] = read_json(&proof_file(1))["epochs"].clone();
    let mut unfinalized = read_json(&proof_file(1));
    unfinalized["finalization"] = Value::Null;
    let mut state_no_epochs = state.clone();
    state_no_epochs.as_object_mut().unwrap().remove("epochs");
    let mut cases: Vec<(PathBuf, &str)> = (0..4).map(|e| (proof_file(e), "VALID")).collect();
    cases.extend([
        (short.clone(), "7"),
        (altered_file.clone(), "7"),
        (write_json(&dir.join("state-epoch-3.json"), &state), "VALID"),
        // Epoch 1's last block is no longer what its validators signed.
        (write_json(&dir.join("forged-last-hash.json"), &last_hash), "7"),
        // Version 2 without its epoch certificates.
        (write_json(&dir.join("no-epochs.json"), &no_epochs), "0"),
        // Only the change to epoch 1: epoch 2's votes do not verify under epoch 1's keys and namespace.
        (write_json(&dir.join("stale-epochs.json"), &stale), "6"),
        // A block of epoch 0 presented as one of epoch 1.
        (write_json(&dir.join("old-block.json"), &old_block), "7"),
        // No finalization: the last epoch certificate must name the block, and epoch 1's does not.
        (write_json(&dir.join("unfinalized.json"), &unfinalized), "7"),
        // A state proof of epoch 3 checked against genesis's validators.
        (write_json(&dir.join("state-no-epochs.json"), &state_no_epochs), "6"),
    ]);
    let files: Vec<PathBuf> = cases.iter().map(|(f, _)| f.clone()).collect();
    let expected: BTreeMap<String, String> =
        cases.iter().map(|(f, v)| (f.file_name().unwrap().to_string_lossy().into_owned(), v.to_string())).collect();
    let (rust_code, rust) = run_verifier("coldchain verify", Command::new(BIN).args(["verify", "--genesis"]).arg(&genesis), &files, true);
    assert_eq!(rust, expected, "coldchain verify's verdicts");
    assert_eq!(rust_code, 2);
    let python = format!("{ROOT}/verifiers/python/coldchain_verify.py");
    let java = format!("{ROOT}/verifiers/java/ColdchainVerify.java");
    for (name, program, script) in [("Python", "python3", python), ("Java", "java", java)] {
        let (code, verdicts) = run_verifier(name, Command::new(program).arg(script).arg("--genesis").arg(&genesis), &files, false);
        for (file, verdict) in &rust {
            assert_eq!(verdicts.get(file), Some(verdict), "{name} and coldchain verify differ on {file}");
        }
        assert_eq!(code, rust_code, "{name}'s exit code");
    }
    eprintln!("join, leave, key rotation and proofs across three epoch changes checked in {:?}", started.elapsed());

    // The consensus limits change by governance, from the next epoch: a
    // record of 1.5 KB is finalized before, and refused after the largest
    // transaction became 1,000 bytes, naming the limit.
    let big = |nonce: u64| {
        let doc = json!({"note": "x".repeat(1_200)});
        coldchain_chaincode::Transaction::sign(&c.chain_id(), nonce, json!({"type": "notarise", "document": doc}), &enterprise_key(202))
    };
    let nonce = std::process::id() as u64 * 1_000 + 900;
    let (code, env) = post(&c.url(0, "/v1/tx?wait=finalized"), &serde_json::to_value(big(nonce)).unwrap());
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    let (beijing_gw, national_gw, beijing_admin) = (gw(&c, 0), gw(&c, 3), admin("beijing"));
    let limits = ["--max-tx-bytes", "1000", "--max-block-txs", "500", "--max-block-bytes", "1000000", "--max-clock-drift-ms", "5000"];
    let mut args = vec!["governance", "propose", "--gateway", &beijing_gw, "--key", &beijing_admin, "--change", "set_consensus_params"];
    args.extend(limits);
    cli(&args);
    let digest = pending_digest(&national_gw);
    cli(&["governance", "approve", "--gateway", &national_gw, "--key", &admin("national"), &digest]);
    cli(&["governance", "approve", "--gateway", &gw(&c, shandong), "--key", &sd.join("admin.key").to_string_lossy(), &digest]);
    wait_epoch(&c, &[0, 1, 3, shandong], 4, 4);
    let (_, epochs) = get(&c.url(0, "/v1/epochs"));
    let last = &epochs["result"][4];
    assert_eq!(
        (last["epoch"].as_u64(), last["limits"]["max_tx_bytes"].as_u64(), last["limits"]["max_block_txs"].as_u64()),
        (Some(4), Some(1_000), Some(500)),
        "{epochs}"
    );
    assert_eq!(
        epochs["result"][3]["limits"]["max_tx_bytes"].as_u64(),
        Some(coldchain_chaincode::transaction::MAX_TX_BYTES as u64),
        "epoch 3 kept genesis's"
    );
    for via in [0, shandong] {
        let (code, env) = post(&c.url(via, "/v1/tx"), &serde_json::to_value(big(nonce + 1 + via as u64)).unwrap());
        assert_eq!(code, 422, "node {via}: {env}");
        let said = env.to_string();
        assert!(said.contains("the limit is 1000"), "node {via} names the new limit: {said}");
    }
    let top = record_with_proof(&c, 3, "epoch 4, small", &dir.join("proof-epoch-4.json"));
    c.wait_height(&[0, 1, 3, shandong], top, LONG);
    c.assert_same_chain(&[0, 1, 3, shandong], top);

    // A wiped validator rejoins from a snapshot taken in epoch 4: the offer
    // is certified by epoch 4's set, which it learns from the epoch
    // certificates its peers send, each checked from genesis.
    let live = [0, 1, 3, shandong];
    for &i in &live {
        c.kill(i);
        let cfg = &c.nodes[i].config;
        let text = std::fs::read_to_string(cfg).unwrap();
        std::fs::write(cfg, format!("{text}\n[snapshot]\ninterval_blocks = 2\n")).unwrap();
    }
    for &i in &live {
        c.start_node(i);
    }
    // Every gateway answers before records are posted to one.
    c.wait_height(&live, 0, LONG);
    let epoch_4_after = epochs["result"][4]["after_height"].as_u64().unwrap();
    let head = c.advance(0, 12);
    c.wait_height(&live, head, LONG);
    c.kill(3);
    std::fs::remove_dir_all(c.nodes[3].config.with_file_name("data")).unwrap();
    std::fs::write(c.nodes[3].config.with_file_name("node.log"), b"").unwrap();
    c.start_node(3);
    c.wait_height(&[3], head, LONG);
    let log = plain(&c.log(3));
    let restored = log.lines().find(|l| l.contains("state restored from a snapshot")).unwrap_or_else(|| panic!("node 3 joined by snapshot:\n{log}"));
    let height: u64 = restored.split("height=").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap();
    assert!(height > epoch_4_after, "restored after block {height}, in epoch 4 (after {epoch_4_after}): {restored}");
    assert!(log.contains("applied_blocks=0"), "no block up to the snapshot was applied: {log}");
    wait_for("the national platform voting in epoch 4 after its snapshot join", LONG, || {
        c.status(3).filter(|s| s["epoch"] == 4 && s["validator"]["index"].is_u64()).map(|_| ())
    });
    let top = c.advance(3, 2);
    c.wait_height(&live, top, LONG);
    c.assert_same_chain(&live, top);
    eprintln!("the national platform rejoined from the snapshot after block {height} (epoch 4 starts after {epoch_4_after})");
}
