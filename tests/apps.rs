//! Seed 004's signed requests on four real nodes: Beijing's bureau issues an
//! app id to a Beijing wholesaler at its own node; the wholesaler's system
//! submits records with the appid/timestamp/nonce/signature headers and no
//! ed25519 key; every way a request can be wrong is refused with its own
//! message; a replay is refused, also after a restart (the node keeps the
//! nonces it saw on disk); the signature covers method, path and query; an
//! app id's secret goes only to the request that issued it; a rotated
//! secret replaces the old one; a revoked app id is refused.

mod common;

use coldchain_chaincode::{Transaction, scenario};
use coldchain_node::gateway::apps::sign_request;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);
const APPID: &str = "bj-xinfadi-erp";
/// Where the signed requests below are sent (the signature covers it).
const TARGET: &str = "/v1/records?wait=finalized";

struct Request {
    appid: String,
    timestamp: String,
    nonce: String,
    signature: String,
    body: Vec<u8>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn fresh_nonce() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

fn signed(secret: &str, body: &Value) -> Request {
    signed_for(secret, TARGET, body)
}

fn signed_for(secret: &str, target: &str, body: &Value) -> Request {
    let body = serde_json::to_vec(body).unwrap();
    let (timestamp, nonce) = (now_ms().to_string(), fresh_nonce());
    let signature = sign_request(secret, APPID, &timestamp, &nonce, "POST", target, &body);
    Request { appid: APPID.into(), timestamp, nonce, signature, body }
}

/// Sends `r` leaving out the headers named in `omit`: (status, envelope).
fn send(url: &str, r: &Request, omit: &[&str]) -> (u16, Value) {
    let mut req = agent().post(url).header("content-type", "application/json");
    for (name, value) in [("appid", &r.appid), ("timestamp", &r.timestamp), ("nonce", &r.nonce), ("signature", &r.signature)] {
        if !omit.contains(&name) {
            req = req.header(name, value.as_str());
        }
    }
    let mut resp = req.send(&r.body[..]).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

fn refused(url: &str, r: &Request, omit: &[&str], status: u16, error: &str, field: &str) -> String {
    let (code, env) = send(url, r, omit);
    assert_eq!(code, status, "{env}");
    assert_eq!(env["success"], false, "{env}");
    assert_eq!(env["result"]["error"], error, "{env}");
    assert_eq!(env["result"]["field"], field, "{env}");
    env["message"].as_str().unwrap().to_string()
}

/// `coldchain app issue|revoke` at node `node`, as Beijing's bureau.
fn app_cli(c: &Cluster, node: usize, revoke: bool, uscc: &str) -> std::process::Output {
    let key = c.dir.path().join("beijing").join("admin.key");
    let action = if revoke { "revoke" } else { "issue" };
    run_cli(&["app", action, "--gateway", &c.nodes[node].gateway, "--key", path_str(&key), "--appid", APPID, "--uscc", uscc])
}

fn document(n: u32) -> Value {
    json!({"type": "notarise", "document": {"note": "daily stock list", "seq": n}})
}

#[test]
fn enterprises_submit_with_signed_requests_and_every_bad_request_is_refused_with_its_own_message() {
    let mut c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    let chain = c.chain_id();
    let admin_key = coldchain_node::crypto::read_key_file(&c.dir.path().join("beijing").join("admin.key")).unwrap();

    // Beijing's bureau enrols the wholesaler (its key is never used below: it has only an app id).
    let uscc = scenario::uscc("beijing-wholesaler");
    let steps = scenario::steps((chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(), |_| {
        hex::encode(enterprise_key(5).verifying_key().to_bytes())
    });
    let enrol = steps.iter().find(|s| s.record["Unif_soci_cred_code"] == uscc.as_str()).unwrap().record.clone();
    let tx = serde_json::to_value(Transaction::sign(&chain, 1, enrol, &admin_key)).unwrap();
    let (code, env) = post(&c.url(0, "/v1/records?wait=finalized"), &tx);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");

    // Issued at Tianjin's node: refused, nothing issued. At Beijing's: the secret, once.
    let out = app_cli(&c, 1, false, &uscc);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("issuing bureau's own validator"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = app_cli(&c, 0, false, &uscc);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let secret = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(secret.len(), 64, "{text}");
    assert!(text.contains("served by: beijing"), "{text}");
    assert!(!c.log(0).contains(&secret), "the secret is never logged");

    // The issuing transaction is public (every block lists it). Anyone
    // re-posting it, at any node, gets no secret: it went once, to the
    // request that submitted it.
    let issued = wait_for("the app_credential in a block", LONG, || {
        (1..=c.status(0)?["height"].as_u64()?).find_map(|h| {
            let (_, block) = get(&c.url(0, &format!("/v1/blocks/{h}")));
            block["result"]["tx_ids"].as_array()?.iter().find_map(|id| {
                let (_, env) = get(&c.url(0, &format!("/v1/tx/{}", id.as_str()?)));
                let tx = &env["result"]["transaction"];
                (tx["record"]["type"] == "app_credential").then(|| tx.clone())
            })
        })
    });
    for node in 0..4 {
        let (code, env) = post(&c.url(node, "/v1/apps"), &issued);
        assert!(code == 409 || code == 403, "node {node}: {code} {env}");
        assert!(!env.to_string().contains(&secret), "node {node} handed out the secret to a replay: {env}");
        assert!(env["result"].get("secret").is_none(), "{env}");
    }
    let (code, env) = post(&c.url(0, "/v1/apps"), &issued);
    assert_eq!((code, env["result"]["error"].as_str()), (409, Some("already_submitted")), "{env}");

    // The CLI's signed request: finalized, signed by Beijing's validator, saying it came by the app id.
    let file = c.dir.path().join("doc.json");
    std::fs::write(&file, serde_json::to_vec(&document(0)).unwrap()).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["submit", "--gateway", &c.nodes[0].gateway, "--appid", APPID, "--wait", path_str(&file)])
        .env("COLDCHAIN_APP_SECRET", &secret)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && text.contains("finalized at height"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let id = text.lines().find_map(|l| l.strip_prefix("tx_id: ")).unwrap().to_string();
    // Finalized where it was submitted; another node has it once it has
    // committed that block.
    let env = wait_for("the transaction finalized on hebei's node", LONG, || {
        let (_, env) = get(&c.url(2, &format!("/v1/tx/{id}")));
        (env["result"]["state"] == "finalized").then_some(env)
    });
    let tx = &env["result"]["transaction"];
    assert_eq!(tx["record"]["via"], json!({"path": "appid", "appid": APPID}), "{env}");
    let status = c.status(0).unwrap();
    assert_eq!(tx["signer"]["public_key"], status["validator"]["public_key"], "the node signs for the app id");

    // A valid request, then every way of getting it wrong.
    let url = c.url(0, "/v1/records?wait=finalized");
    let good = signed(&secret, &document(1));
    let (code, env) = send(&url, &good, &[]);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    let good_id = env["result"]["tx_id"].as_str().unwrap().to_string();
    let good_height = env["result"]["height"].as_u64().unwrap();

    let mut messages = Vec::new();
    let wrong_secret = signed(&"0".repeat(64), &document(2));
    messages.push(refused(&url, &wrong_secret, &[], 401, "bad_signature", "signature"));
    let mut altered = signed(&secret, &document(3));
    altered.body = serde_json::to_vec(&document(4)).unwrap();
    messages.push(refused(&url, &altered, &[], 401, "bad_signature", "signature"));
    let mut stale = signed(&secret, &document(5));
    stale.timestamp = (now_ms() - 301_000).to_string();
    stale.signature = sign_request(&secret, APPID, &stale.timestamp, &stale.nonce, "POST", TARGET, &stale.body);
    messages.push(refused(&url, &stale, &[], 401, "stale_timestamp", "timestamp"));
    messages.push(refused(&url, &good, &[], 401, "replayed_nonce", "nonce"));
    for header in ["appid", "timestamp", "nonce", "signature"] {
        messages.push(refused(&url, &signed(&secret, &document(6)), &[header], 401, "missing_header", header));
    }
    let mut short = signed(&secret, &document(7));
    short.nonce = "abc123".into();
    short.signature = sign_request(&secret, APPID, &short.timestamp, &short.nonce, "POST", TARGET, &short.body);
    messages.push(refused(&url, &short, &[], 401, "bad_nonce", "nonce"));
    messages.push(refused(&c.url(1, "/v1/records"), &signed(&secret, &document(8)), &[], 403, "wrong_node", "appid"));
    let mut unknown = signed(&secret, &document(9));
    unknown.appid = "nobody-erp".into();
    messages.push(refused(&url, &unknown, &[], 401, "unknown_appid", "appid"));
    let distinct: std::collections::BTreeSet<&String> = messages.iter().collect();
    assert_eq!(distinct.len(), messages.len(), "each refusal has its own message: {messages:#?}");
    assert!(messages[1].contains(&coldchain_chaincode::Hash::digest(&altered.body).to_hex()), "names the body hash it checked");

    // The signature covers the method, path and query: the same request sent
    // to another target is refused.
    let elsewhere = signed(&secret, &document(13));
    refused(&c.url(0, "/v1/records"), &elsewhere, &[], 401, "bad_signature", "signature");

    // Restarted, the node still refuses the replay: the nonces it saw are on its disk.
    c.kill(0);
    c.start_node(0);
    wait_for("beijing back", LONG, || try_get(&c.url(0, "/healthz")));
    refused(&url, &good, &[], 401, "replayed_nonce", "nonce");
    let (code, env) = get(&c.url(0, &format!("/v1/tx/{good_id}")));
    assert_eq!((code, env["result"]["height"].as_u64()), (200, Some(good_height)), "finalized once, at its first height: {env}");

    // A batch of bare records in one signed request (seed 004 on every
    // write route): each record signed by the node, `via` the app id; a
    // replay of the request is refused.
    let batch_target = "/v1/records/batch?wait=finalized";
    let batch = signed_for(&secret, batch_target, &json!([document(20), document(21)]));
    let (code, env) = send(&c.url(0, batch_target), &batch, &[]);
    assert_eq!(code, 200, "{env}");
    let results = env["result"]["results"].as_array().unwrap_or_else(|| panic!("{env}"));
    assert_eq!(results.len(), 2, "{env}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["state"], "finalized", "{env}");
        // Finalized on Beijing's node; Hebei's node may be a block behind.
        let tx = wait_for("the record on hebei", LONG, || {
            let (code, tx) = get(&c.url(2, &format!("/v1/tx/{}", r["tx_id"].as_str().unwrap())));
            (code == 200).then_some(tx)
        });
        assert_eq!(tx["result"]["transaction"]["record"]["via"]["appid"], APPID, "{tx}");
        assert_eq!(tx["result"]["transaction"]["record"]["document"]["seq"], 20 + i, "{tx}");
    }
    refused(&c.url(0, batch_target), &batch, &[], 401, "replayed_nonce", "nonce");
    // A record that sets `via` itself is refused, naming its place.
    let forged = signed_for(&secret, batch_target, &json!([document(22), {"type": "notarise", "document": {}, "via": {}}]));
    refused(&c.url(0, batch_target), &forged, &[], 400, "invalid_record", "record[1].via");

    // Rotated: the old secret is refused, the new one signs.
    let out = run_cli(&[
        "app",
        "rotate",
        "--gateway",
        &c.nodes[0].gateway,
        "--key",
        path_str(&c.dir.path().join("beijing").join("admin.key")),
        "--appid",
        APPID,
        "--uscc",
        &uscc,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let rotated = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    assert_ne!(rotated, secret, "{text}");
    refused(&url, &signed(&secret, &document(11)), &[], 401, "bad_signature", "signature");
    let (code, env) = send(&url, &signed(&rotated, &document(12)), &[]);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");

    // Revoked: refused from then on.
    let out = app_cli(&c, 0, true, &uscc);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    messages.push(refused(&url, &signed(&rotated, &document(10)), &[], 401, "revoked_appid", "appid"));
}
