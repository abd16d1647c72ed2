//! Backup and recovery on four real `coldchain node` processes: an export
//! from a running node's gateway and one from a stopped node's data
//! directory hold the same chain; a node whose chain was lost is restored
//! from the export and catches up from its peers; another rebuilds from its
//! peers alone; an export that was tampered with, or is of another chain,
//! is refused naming what is wrong, and stores nothing of the bad part.

mod common;

use coldchain_chaincode::Transaction;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

fn submit(c: &Cluster, n: usize, offset: usize) {
    let chain = c.chain_id();
    let key = enterprise_key(9);
    let txs: Vec<Value> =
        (0..n).map(|i| serde_json::to_value(Transaction::sign(&chain, (offset + i) as u64, record(offset + i), &key)).unwrap()).collect();
    let (code, env) = post(&c.url(0, "/v1/tx/batch?wait=finalized"), &Value::Array(txs));
    assert_eq!(code, 200, "{env}");
    assert!(env["result"]["results"].as_array().unwrap().iter().all(|r| r["state"] == "finalized"), "{env}");
}

fn cli_ok(args: &[&str]) -> String {
    let out = run_cli(args);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "coldchain {}: {text}", args.join(" "));
    text
}

fn cli_err(args: &[&str]) -> String {
    let out = run_cli(args);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "coldchain {} should fail: {text}", args.join(" "));
    text
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

fn state_root(c: &Cluster, i: usize) -> (u64, String) {
    let (code, env) = get(&c.url(i, "/v1/state"));
    assert_eq!(code, 200, "{env}");
    (env["result"]["height"].as_u64().unwrap(), env["result"]["root"].as_str().unwrap().to_string())
}

#[test]
fn an_export_restores_a_lost_node_and_a_node_rebuilds_from_its_peers() {
    let mut c = Cluster::start(4);
    submit(&c, 40, 0);
    let work = tempfile::tempdir().unwrap();

    // An export from a running node: a header naming the chain, then every block.
    let online = work.path().join("online.export");
    // The export is the whole chain unmasked: nobody but a bureau gets a byte of it.
    let (code, env) = get(&c.url(1, "/v1/export"));
    assert_eq!(
        (code, env["result"]["error"].as_str(), env["result"]["field"].as_str()),
        (401, Some("unauthorized"), Some("x-coldchain-key")),
        "{env}"
    );
    let out = run_cli(&["export", "--gateway", &c.nodes[1].gateway, "--out", path_str(&online)]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--key"), "{}", String::from_utf8_lossy(&out.stderr));
    let enterprise = work.path().join("enterprise.key");
    run_cli(&["keygen", "--out", path_str(&enterprise)]);
    let out = run_cli(&["export", "--gateway", &c.nodes[1].gateway, "--key", path_str(&enterprise), "--out", path_str(&online)]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("x-coldchain-key"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!online.exists(), "nothing written of a refused export");
    let admin = c.dir.path().join("tianjin").join("admin.key");
    let text = cli_ok(&["export", "--gateway", &c.nodes[1].gateway, "--key", path_str(&admin), "--out", path_str(&online)]);
    let file = lines(&online);
    let header: Value = serde_json::from_str(&file[0]).unwrap();
    assert_eq!(header["format"], "coldchain-export/1");
    assert_eq!(header["chain_id"], c.chain_id().as_str());
    let exported_height = header["height"].as_u64().unwrap();
    assert_eq!(file.len() as u64, exported_height + 1, "one line per block after the header");
    assert!(text.contains(&format!("height {exported_height}")) && text.contains("40 transactions"), "{text}");
    let last: Value = serde_json::from_str(file.last().unwrap()).unwrap();
    assert!(last["finality"].get("certificate").is_some(), "the last block carries its own certificate: {}", last["finality"]);

    // Hebei loses its chain; it is restored from the export while stopped.
    c.kill(2);
    let hebei = c.nodes[2].config.clone();
    std::fs::remove_dir_all(hebei.with_file_name("data").join("chain")).unwrap();
    let text = cli_ok(&["import", "--config", path_str(&hebei), path_str(&online)]);
    assert!(text.contains(&format!("imported: {exported_height} blocks, 40 transactions; height {exported_height}")), "{text}");
    // Importing again stores nothing new: every block is already held, identical.
    let text = cli_ok(&["import", "--config", path_str(&hebei), path_str(&online)]);
    assert!(text.contains("imported: 0 blocks") && text.contains(&format!("{exported_height} blocks of the file were already held")), "{text}");

    // An export from the stopped node's data directory holds the same chain.
    let offline = work.path().join("offline.export");
    cli_ok(&["export", "--config", path_str(&hebei), "--out", path_str(&offline)]);
    assert_eq!(lines(&offline), file, "the stopped node's export equals the running node's");

    // The imported chain replays to the state root recorded for every block.
    let text = cli_ok(&["verify-chain", "--config", path_str(&hebei)]);
    assert!(
        text.contains(&format!("replayed {exported_height} blocks"))
            && text.contains(&format!("{exported_height} recorded roots matched"))
            && text.contains("the stored state matches the replayed one entry for entry"),
        "{text}"
    );

    // More records while hebei is down; restarted, it catches up from there.
    submit(&c, 20, 1000);
    c.start_node(2);
    let target = c.height(0).unwrap();
    c.wait_height(&[2], target, LONG);
    c.assert_same_chain(&[0, 1, 2, 3], target);

    // Tianjin loses its chain and starts empty: it rebuilds from its peers.
    c.kill(1);
    std::fs::remove_dir_all(c.nodes[1].config.with_file_name("data").join("chain")).unwrap();
    c.start_node(1);
    let target = c.height(0).unwrap();
    c.wait_height(&[1], target, LONG);
    c.assert_same_chain(&[0, 1, 2, 3], target);
    wait_for("equal state roots on all four nodes", LONG, || {
        let d: Vec<(u64, String)> = (0..4).map(|i| state_root(&c, i)).collect();
        d.iter().all(|x| *x == d[0]).then_some(())
    });

    // A tampered export: one transaction's record changed in block 3. A fresh
    // data directory takes blocks 1-2 (checked, final) and refuses the rest.
    let fresh = work.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let config = std::fs::read_to_string(&hebei).unwrap().replace("data_dir = \"data\"", &format!("data_dir = \"{}\"", fresh.join("data").display()));
    let config = config.replace("genesis = \"../genesis.json\"", &format!("genesis = \"{}\"", path_str(&c.genesis_path())));
    let fresh_config = fresh.join("node.toml");
    std::fs::write(&fresh_config, config).unwrap();
    std::fs::copy(hebei.with_file_name("validator.key"), fresh.join("validator.key")).unwrap();
    let with_tx = file.iter().position(|l| l.contains("seq")).expect("a block with a record");
    let mut tampered = file.clone();
    // The record is embedded as JSON (or as a string holding it): change a digit of its `seq`.
    tampered[with_tx] = tampered[with_tx].replacen("\"seq\":", "\"seq\":9", 1).replacen("\\\"seq\\\":", "\\\"seq\\\":9", 1);
    assert_ne!(tampered[with_tx], file[with_tx], "the tamper changed the line");
    let bad = work.path().join("tampered.export");
    std::fs::write(&bad, tampered.join("\n") + "\n").unwrap();
    let text = cli_err(&["import", "--config", path_str(&fresh_config), path_str(&bad)]);
    // Line k + 1 holds block k: the error names the line of the run that failed and the block.
    assert!(text.contains("line ") && text.contains(&format!("block at height {with_tx}")), "names the line and block: {text}");
    assert!(text.contains("Merkle root"), "says what is wrong: {text}");
    let text = cli_ok(&["export", "--config", path_str(&fresh_config), "--out", path_str(&work.path().join("partial.export"))]);
    let kept = lines(&work.path().join("partial.export")).len() - 1;
    assert!(kept < with_tx, "nothing from the tampered block on was stored ({kept} blocks kept): {text}");

    // An export of another chain is refused before anything is read.
    let mut other = file.clone();
    other[0] = other[0].replace(&c.chain_id(), "another-chain");
    let other_path = work.path().join("other.export");
    std::fs::write(&other_path, other.join("\n") + "\n").unwrap();
    let text = cli_err(&["import", "--config", path_str(&fresh_config), path_str(&other_path)]);
    assert!(text.contains("another-chain") && text.contains(&c.chain_id()), "{text}");
}
