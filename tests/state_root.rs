//! The certified state root, on four real nodes: state proofs that verify
//! offline (and fail when tampered with), and a validator whose stored
//! state was altered refuses to vote while the others go on.

mod common;

use coldchain_chaincode::scenario;
use coldchain_chaincode::state::ledger;
use coldchain_chaincode::state::store::StateStore;
use common::story::{admin_key, run_story, sign_record};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// `coldchain verify` on one bundle: (exit code, stdout).
fn verify(c: &Cluster, bundle: &Value, name: &str) -> (i32, String) {
    let path = c.dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let out = run_cli(&["verify", "--genesis", path_str(&c.genesis_path()), path_str(&path)]);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn proof(c: &Cluster, node: usize, query: &str) -> Value {
    let (code, env) = get(&c.url(node, &format!("/v1/state/proof?{query}")));
    assert_eq!(code, 200, "{query}: {env}");
    env["result"].clone()
}

#[test]
fn state_proofs_verify_offline_and_a_tampered_validator_stops_voting() {
    let mut c = Cluster::start(4);
    let story = run_story(&c, u32::MAX);
    let (scheme, code) = scenario::RETAIL;

    // A code's resolution, its lot and the lot's holders, proven under a
    // certified root: the chain is idle now, and a header certifies its state.
    let bundle = proof(&c, 0, &format!("scheme={scheme}&code={code}"));
    let entries = bundle["entries"].as_array().unwrap();
    assert!(entries.len() >= 4, "the code, its lot, and holdings with USCCs: {bundle}");
    let (status, out) = verify(&c, &bundle, "code.json");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("VALID state proof"), "{out}");
    assert!(out.contains(&format!("codes [scheme {scheme}, code {code}] =")), "{out}");
    assert!(out.contains("holdings [enterprise #"), "{out}");
    // Another node proves the same entries under the same root.
    let other = proof(&c, 2, &format!("scheme={scheme}&code={code}"));
    assert_eq!(other["entries"], bundle["entries"]);
    assert_eq!(other["header"]["state_root"], bundle["header"]["state_root"]);

    // Absence is proven too.
    let absent = proof(&c, 1, &format!("scheme={scheme}&code=BJ110105000000000ZZ"));
    assert!(absent["entries"][0]["value"].is_null(), "{absent}");
    let (status, out) = verify(&c, &absent, "absent.json");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("is absent"), "{out}");

    // Three tamperings, each refused: the value, the path, the header.
    let mut value = bundle.clone();
    let v = value["entries"][0]["value"].as_str().unwrap().to_string();
    let last = if v.ends_with('0') { "1" } else { "0" };
    value["entries"][0]["value"] = json!(format!("{}{last}", &v[..v.len() - 1]));
    let mut path = bundle.clone();
    let s = path["entries"][0]["proof"]["siblings"][0].as_str().unwrap().to_string();
    path["entries"][0]["proof"]["siblings"][0] = json!(format!("{}{}", if s.starts_with('0') { "1" } else { "0" }, &s[1..]));
    let mut header = bundle.clone();
    header["header"]["time_ms"] = json!(header["header"]["time_ms"].as_i64().unwrap() + 1);
    for (name, forged, says) in [("value", value, "value's hash"), ("path", path, "leads to root"), ("header", header, "check 5")] {
        let (status, out) = verify(&c, &forged, &format!("forged-{name}.json"));
        assert_eq!(status, 2, "a forged {name} must fail: {out}");
        assert!(out.contains("INVALID state proof") && out.contains(says), "forged {name}: {out}");
    }

    // Enterprise records carry contacts: their proofs are for bureaus and auditors.
    let uscc = scenario::uscc("beijing-wholesaler");
    let (code_, env) = get(&c.url(0, &format!("/v1/state/proof?enterprise={uscc}")));
    assert_eq!(code_, 403, "{env}");
    let (code_, env) = get(&c.url(0, "/v1/state/proof?key=8100"));
    assert_eq!(code_, 403, "raw keys (app credentials among them) are for bureaus and auditors: {env}");
    let (code_, env) = get(&c.url(0, "/v1/state/proof?scheme=BJ-ZS"));
    assert_eq!((code_, env["result"]["field"].as_str()), (400, Some("code")), "{env}");

    // Hebei's validator (node 2) has its stored state altered while
    // stopped: Tianjin's code scheme is deleted from it.
    c.kill(2);
    {
        let store = coldchain_node::storage::ChainStore::open(&c.nodes[2].config.with_file_name("data").join("chain")).unwrap();
        let key = ledger::SCHEMES.key(&"TJ-ZS".to_string());
        assert!(store.state_tree().get(&key).is_some(), "the scheme is stored");
        store.write_state(&[(key, None)].into_iter().collect()).unwrap();
        store.flush().unwrap();
    }
    c.start_node(2);
    let head = c.height(0).unwrap();
    c.wait_height(&[2], head, LONG);
    // Beijing's bureau registering a scheme under Tianjin's id is refused
    // by the others' chaincode (the id is Tianjin's) and applied by the
    // altered one (it knows no such id): the states part.
    let beijing = admin_key(&c, "beijing");
    let again = json!({
        "type": "code_scheme", "schemeId": "TJ-ZS", "province": "110000", "name": "北京冷链食品追溯码（第二套）",
        "pattern": r"BJ\d{17}", "resolverUrl": "https://trace.beijing.example.gov.cn/code/{code}",
        "ruleDocSha256": "ab".repeat(32), "issuedCount": 1
    });
    let (body, id) = sign_record(&story.chain_id, &beijing, again);
    let (status, env) = post(&c.url(2, "/v1/records?wait=finalized"), &body);
    assert!(status == 200 || status == 202, "the altered node accepts it: {status} {env}");
    // The others finalize it as rejected; the altered node sees that the
    // certified root differs from its own, says so and stops voting.
    let log = wait_for("the altered validator to report its divergence", LONG, || {
        c.advance(0, 1);
        let log = c.log(2);
        log.contains("STATE DIVERGED").then_some(log)
    });
    assert!(log.contains("it no longer votes or proposes"), "{log}");
    for line in log.lines().filter(|l| l.contains("STATE DIVERGED") || l.contains("STATE ROOT MISMATCH")).take(2) {
        eprintln!("hebei: {line}");
    }
    let (code_, env) = get(&c.url(2, "/readyz"));
    assert_eq!(code_, 503, "{env}");
    assert!(env["message"].as_str().unwrap().contains("diverged"), "{env}");
    let (_, tx) = get(&c.url(0, &format!("/v1/tx/{id}")));
    assert_eq!(tx["result"]["outcome"]["status"], "rejected", "the others refused the duplicate scheme: {tx}");
    // The three others keep finalizing without it.
    let before = c.height(0).unwrap();
    let after = c.advance(1, 3);
    assert!(after >= before + 3, "{before} → {after}");
    c.wait_height(&[0, 1, 3], after, LONG);
}

/// `/v1/state` of node `i`: (height, root).
fn state_of(c: &Cluster, i: usize) -> Option<(u64, String)> {
    let (code, env) = try_get(&c.url(i, "/v1/state"))?;
    (code == 200).then(|| (env["result"]["height"].as_u64().unwrap_or(0), env["result"]["root"].as_str().unwrap_or("").to_string()))
}

#[test]
fn a_wiped_validator_rejoins_from_a_snapshot_and_a_forged_chunk_is_refused() {
    let mut c = Cluster::start(4);
    // Snapshots every two blocks, each validator in turn (every eighth block per validator).
    for i in 0..4 {
        c.kill(i);
        let cfg = &c.nodes[i].config;
        let text = std::fs::read_to_string(cfg).unwrap();
        std::fs::write(cfg, format!("{text}\n[snapshot]\ninterval_blocks = 2\n")).unwrap();
    }
    for i in 0..4 {
        c.start_node(i);
    }
    // Every gateway answers before the story posts to it.
    c.wait_height(&[0, 1, 2, 3], 0, LONG);
    let story = run_story(&c, u32::MAX);
    let head = c.advance(0, 12);
    c.wait_height(&[0, 1, 2, 3], head, LONG);
    let snapshots = |i: usize| -> Vec<u64> {
        let dir = c.nodes[i].config.with_file_name("data").join("snapshots");
        let mut hs: Vec<u64> =
            std::fs::read_dir(dir).map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()).unwrap_or_default();
        hs.sort();
        hs
    };
    let taken: Vec<Vec<u64>> = (0..3).map(snapshots).collect();
    assert!(taken.iter().all(|t| !t.is_empty()), "every validator has taken snapshots: {taken:?}");

    // Beijing's and Tianjin's validators (nodes 0 and 1) serve forged
    // chunks: a byte of the first chunk of each of their snapshots is
    // changed on their disks. Hebei's (node 2) are genuine.
    for i in [0, 1] {
        for h in &taken[i] {
            let chunk = c.nodes[i].config.with_file_name("data").join(format!("snapshots/{h}/0.chunk"));
            let mut bytes = std::fs::read(&chunk).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x01;
            std::fs::write(&chunk, bytes).unwrap();
        }
    }
    let forged: Vec<u64> = taken[0].iter().chain(&taken[1]).copied().collect();

    // The national platform's validator (node 3) loses its data directory.
    c.kill(3);
    std::fs::remove_dir_all(c.nodes[3].config.with_file_name("data")).unwrap();
    std::fs::write(c.nodes[3].config.with_file_name("node.log"), b"").unwrap();
    c.start_node(3);
    let head = c.height(0).unwrap();
    c.wait_height(&[3], head, LONG);
    let log = plain(&c.log(3));
    let restored = log.lines().find(|l| l.contains("state restored from a snapshot")).unwrap_or_else(|| panic!("node 3 joined by snapshot:\n{log}"));
    let height: u64 = restored.split("height=").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap();
    assert!(height > 0, "{restored}");
    assert!(log.contains("applied_blocks=0"), "no block up to the snapshot was applied: {log}");
    assert!(taken[2].contains(&height), "restored from Hebei's genuine snapshot {:?}, not {height}", taken[2]);
    // Every forged snapshot offered above it was tried first, and refused.
    let offered: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("snapshot offered"))
        .filter_map(|l| l.split("height=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect();
    let refusals = log.matches("refused a state snapshot chunk").count();
    let forged_above = offered.iter().filter(|h| forged.contains(h) && **h > height).count();
    assert_eq!(refusals, forged_above, "offered {offered:?}, forged {forged:?}:\n{log}");
    eprintln!("node 3 restored the state after block {height}; offered {offered:?}; {refusals} forged offers refused");
    // The blocks below the snapshot are there, the same as everyone's.
    c.assert_same_chain(&[0, 3], head);

    // It votes and applies from there: records through it, and all four
    // agree on the state after every block.
    let after = c.advance(3, 3);
    c.wait_height(&[0, 1, 2, 3], after, LONG);
    let states = wait_for("all four at the same certified state", LONG, || {
        let s: Vec<_> = (0..4).map(|i| state_of(&c, i)).collect::<Option<Vec<_>>>()?;
        s.iter().all(|x| x == &s[0]).then_some(s)
    });
    assert!(states[0].0 >= after, "{states:?}");
    for h in height + 1..=after {
        let roots: Vec<Option<String>> = (0..4)
            .map(|i| try_get(&c.url(i, &format!("/v1/blocks/{h}"))).map(|(_, env)| env["result"]["header"]["state_root"].to_string()))
            .collect();
        assert!(roots.iter().all(|r| r == &roots[0]), "block {h}: {roots:?}");
    }
    assert!(!c.log(3).contains("STATE DIVERGED"));
    let (code, env) = get(&c.url(3, "/readyz"));
    assert_eq!(code, 200, "{env}");
    // A state proof from the rejoined node verifies against genesis alone.
    let (scheme, code) = scenario::RETAIL;
    let bundle = proof(&c, 3, &format!("scheme={scheme}&code={code}"));
    let (status, out) = verify(&c, &bundle, "rejoined.json");
    assert_eq!(status, 0, "{out}");
    // A transaction from before the snapshot is found there, with its outcome.
    let id = &story.steps.iter().find(|s| s.height <= height).expect("a story step below the snapshot").tx_id;
    let (code, tx) = get(&c.url(3, &format!("/v1/tx/{id}")));
    assert_eq!(code, 200, "{tx}");
    assert_eq!(tx["result"]["outcome"]["status"], "applied", "{tx}");
}
