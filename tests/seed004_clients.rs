//! The seed 004 signed-request snippets of docs/FORMATS.md against a live
//! node: `verifiers/seed004/sign_request.py` (Python, standard library) and
//! `verifiers/seed004/SignRequest.java` (JDK, single-file launcher) each
//! submit a product record for a Beijing wholesaler that holds only an app id
//! and its secret; both records are accepted and finalized, and a request
//! signed with a wrong secret is refused (exit 1, `bad_signature`). And the
//! signing functions docs/FORMATS.md shows are the files' own.
//!
//! `python3` and `java` are required: without them the test fails.

mod common;

use coldchain_chaincode::{Hash, Transaction, scenario};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const LONG: Duration = Duration::from_secs(60);
const APPID: &str = "bj-wholesaler-erp";

fn require_tools() {
    let python = Command::new("python3").args(["-c", "import sys; assert sys.version_info >= (3, 11)"]).output();
    assert!(
        python.as_ref().is_ok_and(|o| o.status.success()),
        "verifiers/seed004/sign_request.py needs python3 (3.11 or newer) on the PATH: {python:?}"
    );
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.as_ref().is_ok_and(|o| o.status.success()),
        "verifiers/seed004/SignRequest.java needs a JDK 17 or newer (`java` on the PATH): {java:?}"
    );
}

fn python(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(format!("{ROOT}/verifiers/seed004/sign_request.py")).args(args);
    cmd
}

fn java(args: &[&str]) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg(format!("{ROOT}/verifiers/seed004/SignRequest.java")).args(args);
    cmd
}

/// (exit code, the node's answer as printed, stderr)
fn outcome(name: &str, out: Output) -> (i32, Value, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let answer = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{name} printed no JSON answer ({e}):\n{stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), answer, stderr)
}

fn product(gtin: &str, name: &str) -> Value {
    json!({
        "type": "product", "productLibraryId": gtin, "productName": name, "productCategory": "4401",
        "country": "巴西", "lifeNumber": 24, "lifeUnit": "月", "specification": 15, "specificationUnit": "kg",
    })
}

fn write(path: &Path, v: &Value) -> String {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path_str(path).to_string()
}

/// The `sign` function of `file`, from `start` to the line `end`, less
/// docstrings and `indent` spaces: docs/FORMATS.md shows it as it is.
fn signing_part(file: &str, start: &str, end: &str, indent: usize) -> String {
    let text = std::fs::read_to_string(format!("{ROOT}/verifiers/seed004/{file}")).unwrap();
    let lines: Vec<&str> = text.lines().skip_while(|l| !l.trim_start().starts_with(start)).collect();
    let last = lines.iter().position(|l| l.starts_with(end)).unwrap_or_else(|| panic!("no end of sign in {file}"));
    lines[..=last].iter().filter(|l| !l.contains("\"\"\"")).map(|l| l.get(indent..).unwrap_or(l.trim_start())).collect::<Vec<_>>().join("\n")
}

#[test]
fn docs_formats_md_shows_the_snippets_signing_functions() {
    let doc = std::fs::read_to_string(format!("{ROOT}/docs/FORMATS.md")).unwrap();
    for part in [signing_part("sign_request.py", "def sign(", "    return", 0), signing_part("SignRequest.java", "static String sign(", "    }", 4)] {
        assert!(doc.contains(&part), "docs/FORMATS.md \"Signed requests\" must show, as it is in verifiers/seed004:\n{part}");
    }
}

#[test]
fn the_python_and_java_snippets_sign_requests_a_live_node_accepts() {
    require_tools();
    let c = Cluster::start(1);
    let chain = c.chain_id();
    let admin_key = coldchain_node::crypto::read_key_file(&c.dir.path().join("beijing").join("admin.key")).unwrap();

    // Beijing's bureau enrols the wholesaler (its key is never used: it has only an app id) and issues the app id.
    let uscc = scenario::uscc("beijing-wholesaler");
    let steps = scenario::steps((chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(), |_| {
        hex::encode(enterprise_key(5).verifying_key().to_bytes())
    });
    let enrol = steps.iter().find(|s| s.record["Unif_soci_cred_code"] == uscc.as_str()).unwrap().record.clone();
    let tx = serde_json::to_value(Transaction::sign(&chain, 1, enrol, &admin_key)).unwrap();
    let (code, env) = post(&c.url(0, "/v1/records?wait=finalized"), &tx);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    let key = c.dir.path().join("beijing").join("admin.key");
    let out = run_cli(&["app", "issue", "--gateway", &c.nodes[0].gateway, "--key", path_str(&key), "--appid", APPID, "--uscc", &uscc]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let secret = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(secret.len(), 64, "{text}");

    let gateway = c.nodes[0].gateway.as_str();
    let python_record = write(&c.dir.path().join("python.json"), &product("17896448006465", "冷冻鸡两节翅"));
    let java_record = write(&c.dir.path().join("java.json"), &product("06901234001235", "冷冻鸡中翅"));
    let wrong = "0".repeat(64);

    // The launcher compiles the Java file before it runs: both Java runs go
    // in threads while the Python ones run.
    let spawn_java = |args: Vec<String>| std::thread::spawn(move || java(&args.iter().map(String::as_str).collect::<Vec<_>>()).output());
    let java_good = spawn_java(vec![gateway.into(), APPID.into(), secret.clone(), java_record.clone()]);
    let java_wrong = spawn_java(vec![gateway.into(), APPID.into(), wrong.clone(), java_record.clone()]);

    // Python, waiting for finalization: the answer says finalized, with its height.
    let (code, answer, stderr) = outcome("sign_request.py", python(&["--wait", gateway, APPID, &secret, &python_record]).output().unwrap());
    assert_eq!((code, answer["result"]["state"].as_str()), (0, Some("finalized")), "{answer}\n{stderr}");
    assert!(answer["result"]["height"].as_u64().is_some(), "{answer}");
    let python_tx = answer["result"]["tx_id"].as_str().unwrap().to_string();

    // A wrong secret (the record on stdin this time): exit 1 and the node's answer names the problem.
    let stdin = std::fs::File::open(&python_record).unwrap();
    let (code, answer, _) = outcome("sign_request.py", python(&[gateway, APPID, &wrong]).stdin(stdin).output().unwrap());
    assert_bad_signature("sign_request.py", code, &answer, &python_record);

    // Java, not waiting: accepted (pending), then finalized.
    let (code, answer, stderr) = outcome("SignRequest.java", java_good.join().unwrap().expect("run java"));
    assert_eq!((code, answer["result"]["state"].as_str()), (0, Some("pending")), "{answer}\n{stderr}");
    let java_tx = answer["result"]["tx_id"].as_str().unwrap().to_string();
    let (code, answer, _) = outcome("SignRequest.java", java_wrong.join().unwrap().expect("run java"));
    assert_bad_signature("SignRequest.java", code, &answer, &java_record);

    // Both finalized and applied, signed by Beijing's validator for the app id.
    let validator = c.status(0).unwrap()["validator"]["public_key"].clone();
    for (id, gtin) in [(&python_tx, "17896448006465"), (&java_tx, "06901234001235")] {
        let path = format!("/v1/tx/{id}");
        let env = wait_for(&format!("transaction {id} finalized"), LONG, || {
            let (_, env) = c.read_as(0, &path, Some(&admin_key));
            (env["result"]["state"] == "finalized").then_some(env)
        });
        assert_eq!(env["result"]["outcome"]["status"], "applied", "{env}");
        let tx = &env["result"]["transaction"];
        assert_eq!(tx["record"]["type"], "product", "{env}");
        assert_eq!(tx["record"]["productLibraryId"], gtin, "{env}");
        assert_eq!(tx["record"]["via"], json!({"path": "appid", "appid": APPID}), "{env}");
        assert_eq!(tx["signer"]["public_key"], validator, "the node signs for the app id: {env}");
    }
}

/// Refused with `bad_signature`, the message naming the secret and the SHA-256 of the body the node received.
fn assert_bad_signature(name: &str, code: i32, answer: &Value, record: &str) {
    assert_eq!(code, 1, "{name} with a wrong secret: {answer}");
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["result"]["error"], "bad_signature", "{answer}");
    assert_eq!(answer["result"]["field"], "signature", "{answer}");
    let body_hash = Hash::digest(&std::fs::read(record).unwrap()).to_hex();
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("check the secret") && m.contains(&body_hash)), "{answer}");
}
