//! `clients/java/ColdchainClient.java`, the JDK-only client for enterprise
//! systems, against a live node. Beijing's bureau enrols a wholesaler whose
//! key file `coldchain keygen` wrote; the client, run with the single-file
//! launcher, signs a product record carrying a Base64 image with that key and
//! waits until it is finalized; compiled with `javac`, it notarises a document
//! of awkward numbers, strings and keys (the node accepts the signature only
//! if the client wrote the same RFC 8785 bytes as `coldchain submit`); a
//! record that breaks a rule and a key nobody enrolled are refused (exit 1,
//! the field and the rule named); a key file others may read is refused
//! before anything is sent; and `submit-app` sends a record for an app id.
//!
//! `java` and `javac` (JDK 17 or newer) are required, as in
//! tests/verifiers.rs: CI installs them, so a missing JDK fails the test.

mod common;

use coldchain_chaincode::{Hash, Transaction, scenario};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const LONG: Duration = Duration::from_secs(60);
const APPID: &str = "bj-wholesaler-erp";
const GTIN: &str = "17896448006465";

fn require_jdk() {
    for tool in ["java", "javac"] {
        let out = Command::new(tool).arg("-version").output();
        assert!(
            out.as_ref().is_ok_and(|o| o.status.success()),
            "clients/java/ColdchainClient.java needs a JDK 17 or newer (`{tool}` on the PATH): {out:?}"
        );
    }
}

fn source() -> String {
    format!("{ROOT}/clients/java/ColdchainClient.java")
}

/// How the client is run: the single-file launcher, or the class `javac` compiled into a directory.
enum Java<'a> {
    Launcher,
    Compiled(&'a Path),
}

/// Exit code, the node's answer as the client printed it (stdout), stderr; and how long the run took.
struct Run {
    code: i32,
    answer: Value,
    stderr: String,
    took: Duration,
}

fn client(java: &Java, args: &[&str]) -> Run {
    let mut cmd = Command::new("java");
    match java {
        Java::Launcher => cmd.arg(source()),
        Java::Compiled(dir) => cmd.args(["-cp", path_str(dir), "ColdchainClient"]),
    };
    let start = Instant::now();
    let out: Output = cmd.args(args).env_remove("COLDCHAIN_APP_SECRET").output().expect("run java");
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let answer = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    eprintln!("java ColdchainClient {} → exit {:?} in {took:.2?}", args.join(" "), out.status.code());
    Run { code: out.status.code().unwrap_or(-1), answer, stderr, took }
}

fn write(path: &Path, v: &Value) -> String {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path_str(path).to_string()
}

/// `coldchain keygen --out path`: the key file and its public key (hex).
fn keygen(path: &Path) -> String {
    let out = run_cli(&["keygen", "--out", path_str(path)]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "keygen: {text}{}", String::from_utf8_lossy(&out.stderr));
    text.lines().find_map(|l| l.strip_prefix("public_key:")).unwrap().trim().to_string()
}

fn product(gtin: &str, name: &str) -> Value {
    json!({
        "type": "product", "productLibraryId": gtin, "productName": name, "productCategory": "4401",
        "country": "巴西", "lifeNumber": 24, "lifeUnit": "月", "specification": 12.50, "specificationUnit": "kg",
    })
}

/// Refused: exit 1, the envelope names `field` (and a rule containing `rule`), and so does stderr.
fn assert_refused(what: &str, run: &Run, field: &str, rule: &str) {
    let a = &run.answer;
    assert_eq!((run.code, &a["success"]), (1, &json!(false)), "{what}: {a}\n{}", run.stderr);
    assert_eq!(a["result"]["field"], field, "{what}: {a}");
    assert!(a["result"]["rule"].as_str().is_some_and(|r| r.contains(rule)), "{what}: the rule should say {rule:?}: {a}");
    assert!(
        run.stderr.contains(&format!("field `{field}`: ")) && run.stderr.contains(rule),
        "{what}: stderr should name the field and rule:\n{}",
        run.stderr
    );
}

#[test]
fn the_java_client_signs_and_submits_records_a_live_node_finalizes() {
    require_jdk();
    let started = Instant::now();
    let c = Cluster::start(1);
    let dir = c.dir.path();
    let gateway = c.nodes[0].gateway.as_str();
    let admin_path = dir.join("beijing").join("admin.key");
    let admin = coldchain_node::crypto::read_key_file(&admin_path).unwrap();

    // The wholesaler's key file, as `coldchain keygen` writes it; Beijing's bureau enrols that key.
    let key_path = dir.join("wholesaler.key");
    let public_key = keygen(&key_path);
    let uscc = scenario::uscc("beijing-wholesaler");
    let steps = scenario::steps((chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(), |_| public_key.clone());
    let enrol = steps.iter().find(|s| s.record["Unif_soci_cred_code"] == uscc.as_str()).unwrap().record.clone();
    let (code, env) =
        post(&c.url(0, "/v1/records?wait=finalized"), &serde_json::to_value(Transaction::sign(&c.chain_id(), 1, enrol, &admin)).unwrap());
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");

    // A product record with a label photo, through the single-file launcher, waiting for finalization.
    let image = b"\x89PNG\r\n\x1a\nnot really a label photo".to_vec();
    let mut record = product(GTIN, "冷冻鸡两节翅");
    record["productImg"] = json!(format!("data:image/png;base64,{}", base64_encode(&image)));
    let record_path = write(&dir.join("product.json"), &record);
    let run = client(&Java::Launcher, &["submit", "--gateway", gateway, "--key", path_str(&key_path), "--wait", &record_path]);
    let a = &run.answer;
    assert_eq!((run.code, a["result"]["state"].as_str()), (0, Some("finalized")), "{a}\n{}", run.stderr);
    assert!(a["result"]["height"].as_u64().is_some_and(|h| h > 0), "{a}");
    assert!(run.stderr.contains("finalized at height"), "{}", run.stderr);
    let launcher_took = run.took;

    // Read back: applied, signed by the wholesaler's key, the image on chain as its digest.
    let tx = read_tx(&c, a["result"]["tx_id"].as_str().unwrap(), &admin);
    assert_same_as_coldchain_submit(&tx, &record, &key_path, a);
    assert_eq!(tx["signer"]["public_key"], public_key.as_str(), "{tx}");
    assert_eq!(tx["record"]["productLibraryId"], GTIN, "{tx}");
    assert_eq!(tx["record"]["productImg"], format!("sha256:{}", Hash::digest(&image)), "{tx}");
    // The node kept the image the client sent (a product's picture is public).
    let url = c.url(0, &format!("/v1/images/{}", Hash::digest(&image)));
    let kept = wait_for("the image kept", LONG, || {
        let mut resp = agent().get(&url).call().ok()?;
        (resp.status() == 200).then(|| resp.body_mut().read_to_vec().unwrap())
    });
    assert_eq!(kept, image);

    // Compiled once with javac, the second command README.md shows.
    let classes = dir.join("classes");
    let out = Command::new("javac").args(["-d", path_str(&classes), &source()]).output().unwrap();
    assert!(out.status.success(), "javac: {}", String::from_utf8_lossy(&out.stderr));
    let compiled = Java::Compiled(&classes);

    // RFC 8785 the hard way: numbers in ECMAScript form, escapes, non-ASCII text, and keys whose
    // UTF-16 order differs from their UTF-8 order. The node checks the signature over its own
    // canonical bytes of the record, so acceptance means both sides wrote the same bytes.
    let awkward = r#"{"type": "notarise", "document": {
        "weight": 13500.00, "tiny": 1E-7, "big": 1e21, "neg": -0.50, "zero": -0, "int": 9007199254740993, "third": 0.333333333333333,
        "text": "冷冻鸡 \"两节翅\"\t\\ \u0001 \ud83d\ude00 \u2028 /", "nested": [true, false, null, {"b": [], "a": {}}],
        "\ud83d\ude00": "astral key", "\ue000": "private use key", "A": 1, "a": 2}}"#;
    let awkward_path = dir.join("awkward.json");
    std::fs::write(&awkward_path, awkward).unwrap();
    let run = client(&compiled, &["submit", "--gateway", gateway, "--key", path_str(&key_path), "--wait", path_str(&awkward_path)]);
    assert_eq!((run.code, run.answer["result"]["state"].as_str()), (0, Some("finalized")), "{}\n{}", run.answer, run.stderr);
    let compiled_took = run.took;
    let tx = read_tx(&c, run.answer["result"]["tx_id"].as_str().unwrap(), &admin);
    assert_same_as_coldchain_submit(&tx, &serde_json::from_str(awkward).unwrap(), &key_path, &run.answer);
    let canonical = |v: &Value| String::from_utf8(coldchain_chaincode::canonical::value_bytes(v).unwrap()).unwrap();
    assert_eq!(canonical(&tx["record"]), canonical(&serde_json::from_str(awkward).unwrap()), "the node holds the record as sent");

    // A record that breaks a rule (a GS1 check digit): exit 1, field and rule named.
    let bad_path = write(&dir.join("bad.json"), &product("17896448006466", "冷冻鸡两节翅"));
    let run = client(&compiled, &["submit", "--gateway", gateway, "--key", path_str(&key_path), "--wait", &bad_path]);
    assert_refused("a wrong check digit", &run, "record.productLibraryId", "check digit");

    // A key nobody enrolled may only notarise.
    let stranger_path = dir.join("stranger.key");
    keygen(&stranger_path);
    let other_path = write(&dir.join("other.json"), &product("06901234001235", "冷冻鸡中翅"));
    let run = client(&compiled, &["submit", "--gateway", gateway, "--key", path_str(&stranger_path), "--wait", &other_path]);
    assert_refused("a key nobody enrolled", &run, "signer.public_key", "enrolled enterprise");

    // A key file group and others may read is refused before anything is sent, as `coldchain` refuses it.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stranger_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let run = client(&compiled, &["submit", "--gateway", gateway, "--key", path_str(&stranger_path), &other_path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);

    // No arguments: the usage message, exit 2.
    let run = client(&compiled, &[]);
    assert!(run.code == 2 && run.stderr.contains("submit-app"), "{}", run.stderr);

    // The app id path: Beijing's bureau issues an app id to the wholesaler; a record goes with the seed 004 headers.
    let out = run_cli(&["app", "issue", "--gateway", gateway, "--key", path_str(&admin_path), "--appid", APPID, "--uscc", &uscc]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let secret = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    let run = client(&compiled, &["submit-app", "--gateway", gateway, "--appid", APPID, "--secret", &secret, "--wait", &other_path]);
    assert_eq!((run.code, run.answer["result"]["state"].as_str()), (0, Some("finalized")), "{}\n{}", run.answer, run.stderr);
    let tx = read_tx(&c, run.answer["result"]["tx_id"].as_str().unwrap(), &admin);
    assert_eq!(tx["record"]["via"], json!({"path": "appid", "appid": APPID}), "{tx}");
    let run = client(&compiled, &["submit-app", "--gateway", gateway, "--appid", APPID, "--secret", &"0".repeat(64), &other_path]);
    assert_eq!((run.code, &run.answer["result"]["error"]), (1, &json!("bad_signature")), "{}", run.answer);

    eprintln!(
        "java client: submit --wait {launcher_took:.2?} with the launcher (compiles first), {compiled_took:.2?} compiled; whole test {:.2?}",
        started.elapsed()
    );
}

/// `coldchain submit`'s signing (cli/src/client.rs, `sign_record`: images out, then
/// `Transaction::sign`) of `record` with the key file, under the chain and nonce of `tx`,
/// gives the signature and the transaction id the Java client's submission got.
fn assert_same_as_coldchain_submit(tx: &Value, record: &Value, key_path: &Path, answer: &Value) {
    let key = coldchain_node::crypto::read_key_file(key_path).unwrap();
    let mut signed_form = record.clone();
    coldchain_chaincode::images::extract(&mut signed_form).unwrap();
    let ours = Transaction::sign(tx["chain_id"].as_str().unwrap(), tx["nonce"].as_u64().unwrap(), signed_form, &key);
    assert_eq!(serde_json::to_value(&ours).unwrap()["signature"], tx["signature"], "the same signed bytes as coldchain submit");
    assert_eq!(answer["result"]["tx_id"], ours.id().to_hex(), "the same transaction id as coldchain submit");
}

/// The finalized, applied transaction `id`, read as Beijing's bureau.
fn read_tx(c: &Cluster, id: &str, reader: &ed25519_dalek::SigningKey) -> Value {
    let path = format!("/v1/tx/{id}");
    let env = wait_for(&format!("transaction {id} finalized"), LONG, || {
        let (_, env) = c.read_as(0, &path, Some(reader));
        (env["result"]["state"] == "finalized").then_some(env)
    });
    assert_eq!(env["result"]["outcome"]["status"], "applied", "{env}");
    env["result"]["transaction"].clone()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
