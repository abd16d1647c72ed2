//! The proof format re-implemented from docs/PROOFS.md alone: the Python
//! (`verifiers/python`) and Java (`verifiers/java`) verifiers, which share no
//! code with the Rust one, must agree with `coldchain verify` on every
//! bundle: transaction and state proofs from a real four-node cluster, and
//! tamperings of each part of them. One cluster; each verifier runs once
//! over all files (and once more under another consortium's genesis).
//!
//! `COLDCHAIN_KEEP_PROOFS=DIR` keeps the bundles and the genesis files in
//! DIR, to run the verifiers on them by hand.

mod common;

use coldchain_chaincode::{Transaction, scenario};
use coldchain_node::crypto::{VoteKind, sign_vote, vote_message};
use common::story::{admin_key, run_story};
use common::verdicts::*;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// One bundle to verify: its file name, and the check it must fail
/// (`None`: it must be valid; `Some("35")`: check 3 or check 5).
struct Case {
    name: String,
    bundle: Value,
    fails: Option<&'static str>,
}

/// The tools the independent verifiers need; CI installs them, so a
/// missing one fails the test rather than skipping it.
fn require_tools() {
    let python = Command::new("python3").args(["-c", "import cryptography"]).output();
    assert!(
        python.as_ref().is_ok_and(|o| o.status.success()),
        "the Python verifier needs python3 with the `cryptography` package (pip install cryptography): {python:?}"
    );
    let java = Command::new("java").arg("-version").output();
    assert!(java.as_ref().is_ok_and(|o| o.status.success()), "the Java verifier needs a JDK 17 or newer (`java` on the PATH): {java:?}");
}

/// A hex string with the digit at `at` changed.
fn flip(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] = if b[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

fn flip_at(v: &mut Value, pointer: &str) {
    let s = v.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}")).as_str().unwrap().to_string();
    *v.pointer_mut(pointer).unwrap() = json!(flip(&s, 0));
}

fn set(v: &Value, pointer: &str, to: Value) -> Value {
    let mut v = v.clone();
    *v.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = to;
    v
}

fn bump(v: &Value, pointer: &str) -> Value {
    let n = v.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}")).as_i64().unwrap();
    set(v, pointer, json!(n + 1))
}

fn flipped(v: &Value, pointer: &str) -> Value {
    let mut v = v.clone();
    flip_at(&mut v, pointer);
    v
}

/// A signature whose `s` is `s + ℓ`: the same equation, a non-canonical scalar.
fn plus_order(sig_hex: &str) -> String {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x10,
    ];
    let mut sig = hex::decode(sig_hex).unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = sig[32 + i] as u16 + L[i] as u16 + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    hex::encode(sig)
}

/// A signature with R the identity point, made with the validator's secret
/// key (s = k·a): it satisfies the cofactorless equation, so a lax verifier
/// (OpenSSL's, the JDK's, ed25519-dalek's `verify`) accepts it; `verify_strict`
/// refuses R of small order. SHA-512 and the scalar product are done by a
/// few lines of Python (already required here).
fn identity_r_signature(key: &SigningKey, message: &[u8]) -> String {
    let script = "import hashlib,sys\n\
        L=2**252+27742317777372353535851937790883648493\n\
        seed,A,m=(bytes.fromhex(x) for x in sys.argv[1:4])\n\
        h=hashlib.sha512(seed).digest();a=int.from_bytes(h[:32],'little');a&=(1<<254)-8;a|=1<<254\n\
        R=(1).to_bytes(32,'little');k=int.from_bytes(hashlib.sha512(R+A+m).digest(),'little')%L\n\
        print((R+(k*a%L).to_bytes(32,'little')).hex())";
    let out = Command::new("python3")
        .args(["-c", script, &hex::encode(key.to_bytes()), &hex::encode(key.verifying_key().to_bytes()), &hex::encode(message)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sig = String::from_utf8(out.stdout).unwrap().trim().to_string();
    use ed25519_dalek::Verifier as _;
    let parsed = ed25519_dalek::Signature::from_slice(&hex::decode(&sig).unwrap()).unwrap();
    assert!(key.verifying_key().verify(message, &parsed).is_ok() && key.verifying_key().verify_strict(message, &parsed).is_err(), "lax only");
    sig
}

/// GET `path` at node `i`, as the public or as `reader` (a signed read),
/// waiting out the rate limit; the envelope's result.
fn fetch(c: &Cluster, node_keys: &[String], i: usize, path: &str, reader: Option<&SigningKey>) -> Value {
    loop {
        let mut req = agent().get(c.url(i, path));
        for (name, value) in reader.map(|k| signed_read(&node_keys[i], path, k)).unwrap_or_default() {
            req = req.header(name, value);
        }
        let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        if resp.status().as_u16() == 429 {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        let status = resp.status().as_u16();
        let env: Value = resp.body_mut().with_config().limit(64 << 20).read_json().unwrap();
        assert_eq!(status, 200, "GET {path}: {env}");
        return env["result"].clone();
    }
}

/// Notarised documents with what RFC 8785 makes awkward: doubles of every
/// form, escapes, non-ASCII and astral keys (UTF-16 order).
fn awkward_document(i: usize) -> Value {
    json!({
        "seq": i, "weight": 13500.00, "ratio": 0.1, "quarter": i as f64 + 0.25, "third": 1.0 / 3.0, "tiny": 1.5e-7, "small": 0.000001,
        "big": 1e21, "large": 1e20, "max": f64::MAX, "min": 5e-324, "negative": -273.15, "negzero": -0.0,
        "past2^53": 9_007_199_254_740_993u64, "i64": -9_007_199_254_740_991i64, "exp": 123e-20,
        "text": format!("冷链 {i}: tab\t newline\n quote\" backslash\\ slash/ \u{1} \u{1f} \u{7f} \u{2028} é 😀"),
        "😀": "astral", "\u{e000}": "private use", "a": [null, true, false, [], {}], "A": {"z": 1, "é": 2, "Z": 3},
    })
}

#[test]
fn python_and_java_verifiers_agree_with_coldchain_verify() {
    require_tools();
    let started = Instant::now();
    let c = Cluster::start(4);
    let chain = c.chain_id();
    let node_keys: Vec<String> = (0..4).map(|i| c.status(i).unwrap()["validator"]["public_key"].as_str().unwrap().to_string()).collect();
    // The validators' keys, in genesis order.
    let genesis_file: Value = serde_json::from_slice(&std::fs::read(c.genesis_path()).unwrap()).unwrap();
    let mut validators: Vec<SigningKey> = Vec::new();
    for v in genesis_file["validators"].as_array().unwrap() {
        let key = c
            .nodes
            .iter()
            .map(|n| coldchain_node::crypto::read_key_file(&n.config.with_file_name("validator.key")).unwrap())
            .find(|k| hex::encode(k.verifying_key().to_bytes()) == v["public_key"].as_str().unwrap())
            .expect("every genesis validator's key is in the testnet directory");
        validators.push(key);
    }

    // Code schemes, enterprises (their records carry contacts: the public
    // gets their proofs without the transaction), a product, a cold
    // storage, and the Hebei lot with its code.
    let story = run_story(&c, 3);
    // Notarisations with awkward JSON, one finalized batch through each node.
    let key = enterprise_key(77);
    let mut notarised = Vec::new();
    for i in 0..20 {
        let record = json!({"type": "notarise", "document": awkward_document(i)});
        let tx = serde_json::to_value(Transaction::sign(&chain, 1_000 + i as u64, record, &key)).unwrap();
        let (code, env) = post(&c.url(i % 4, "/v1/tx?wait=finalized"), &tx);
        assert_eq!((code, &env["result"]["state"]), (200, &json!("finalized")), "document {i}: {env}");
        notarised.push(env["result"]["tx_id"].as_str().unwrap().to_string());
    }

    let mut cases: Vec<Case> = Vec::new();
    let good = |cases: &mut Vec<Case>, name: String, bundle: Value| cases.push(Case { name, bundle, fails: None });

    // Transaction proofs: every story step as the public, the lot's stocking
    // also as Hebei's bureau, every notarisation, from all four nodes.
    let hebei = admin_key(&c, "hebei");
    let mut tx_proofs: Vec<Value> = Vec::new();
    for (k, step) in story.steps.iter().enumerate() {
        tx_proofs.push(fetch(&c, &node_keys, k % 4, &format!("/v1/proofs/{}", step.tx_id), None));
        if step.kind == "product_batch" {
            tx_proofs.push(fetch(&c, &node_keys, (k + 1) % 4, &format!("/v1/proofs/{}", step.tx_id), Some(&hebei)));
        }
    }
    for (k, id) in notarised.iter().enumerate() {
        tx_proofs.push(fetch(&c, &node_keys, k % 4, &format!("/v1/proofs/{id}"), None));
    }
    let withheld = tx_proofs.iter().filter(|p| p["transaction"].is_null()).count();
    let natural_links = tx_proofs.iter().filter(|p| !p["links"].as_array().unwrap().is_empty()).count();
    assert!(withheld >= 1 && tx_proofs.len() - withheld >= 20, "{withheld} of {} proofs withheld the transaction", tx_proofs.len());
    for (k, p) in tx_proofs.iter().enumerate() {
        let what = if p["transaction"].is_null() { "withheld".to_string() } else { p["transaction"]["record"]["type"].as_str().unwrap().to_string() };
        good(&mut cases, format!("good-tx-{k:02}-{what}.json"), p.clone());
    }

    // State proofs: a code present (its lot, holdings, USCCs), codes absent,
    // raw keys (the `seen` entry of a transaction, present and absent) and an
    // enterprise's enrolment, read as a bureau.
    let beijing = admin_key(&c, "beijing");
    let seen_key = format!("03{}", notarised[0]);
    let state_queries: Vec<(&str, String, Option<&SigningKey>)> = vec![
        ("code", format!("scheme=HE-GS1&code={}", scenario::HEBEI_CODE), None),
        ("code-absent", format!("scheme={}&code=BJ110105000000000ZZ", scenario::RETAIL.0), None),
        ("code-absent-2", "scheme=HE-GS1&code=0106901234001235101ZZ0001".to_string(), None),
        ("seen", format!("key={seen_key}"), Some(&beijing)),
        ("seen-absent", format!("key=03{}", "ab".repeat(32)), Some(&hebei)),
        ("enterprise", format!("enterprise={}", scenario::uscc("hebei-importer")), Some(&hebei)),
    ];
    let mut state_proofs = BTreeMap::new();
    for (k, (name, query, reader)) in state_queries.iter().enumerate() {
        let p = fetch(&c, &node_keys, k % 4, &format!("/v1/state/proof?{query}"), *reader);
        good(&mut cases, format!("good-state-{name}.json"), p.clone());
        state_proofs.insert(*name, p);
    }
    let code = state_proofs["code"].clone();
    let absent = state_proofs["code-absent"].clone();
    assert!(code["entries"].as_array().unwrap().len() >= 4 && !code["entries"][0]["value"].is_null(), "{code}");
    assert!(absent["entries"][0]["value"].is_null(), "{absent}");

    // Blocks after the state proofs' header, so a header can be linked to
    // the certificate of a descendant.
    let state_height = code["header"]["height"].as_u64().unwrap();
    let tip = c.advance(0, 2);
    assert!(tip >= state_height + 2);
    // Every block's header and its own certificate.
    let mut blocks: BTreeMap<u64, (Value, Value)> = BTreeMap::new();
    for h in 1..=tip {
        let (code, env) = get(&c.url(h as usize % 4, &format!("/v1/blocks/{h}")));
        assert_eq!(code, 200, "{env}");
        if let Some(cert) = env["result"]["finality"].get("certificate") {
            blocks.insert(h, (env["result"]["header"].clone(), cert.clone()));
        }
    }
    // A bundle of block h finalized through the certificate of block h + n.
    let linked = |bundle: &Value, n: u64| -> Option<Value> {
        let h = bundle["header"]["height"].as_u64().unwrap();
        let links: Vec<Value> = (1..=n).map(|d| blocks.get(&(h + d)).map(|b| b.0.clone())).collect::<Option<_>>()?;
        let mut b = bundle.clone();
        b["links"] = json!(links);
        b["finalization"] = blocks.get(&(h + n))?.1.clone();
        Some(b)
    };
    // A full transaction in a block of several, and a notarised document.
    let full = |p: &&Value| !p["transaction"].is_null() && p["links"].as_array().unwrap().is_empty();
    let base = tx_proofs.iter().filter(full).find(|p| p["header"]["tx_count"].as_u64().unwrap() >= 3).expect("a block of 3").clone();
    let notarise = tx_proofs.iter().filter(full).find(|p| p["transaction"]["record"]["type"] == "notarise").unwrap().clone();
    let tx_link1 = tx_proofs.iter().filter(|p| p["links"].as_array().unwrap().is_empty()).find_map(|p| linked(p, 1)).expect("two consecutive blocks");
    let tx_link2 =
        tx_proofs.iter().filter(|p| p["links"].as_array().unwrap().is_empty()).find_map(|p| linked(p, 2)).expect("three consecutive blocks");
    let state_link = linked(&code, 1).expect("the block after the state proof's header");
    good(&mut cases, "good-linked-tx-1.json".into(), tx_link1.clone());
    good(&mut cases, "good-linked-tx-2.json".into(), tx_link2.clone());
    good(&mut cases, "good-linked-state.json".into(), state_link.clone());

    // Valid variants: what the format allows.
    let f = base["finalization"].clone();
    let view = f["view"].as_u64().unwrap();
    let hash: coldchain_chaincode::Hash = f["hash"].as_str().unwrap().parse().unwrap();
    let vote = vote_message(VoteKind::Finalize, &chain, view, &hash);
    let sigs = f["signatures"].as_array().unwrap().clone();
    let signer = |k: usize| sigs[k]["signer"].as_u64().unwrap() as usize;
    let quorum_variant = if sigs.len() > 3 {
        set(&base, "/finalization/signatures", json!(sigs[..3]))
    } else {
        let missing = (0..4).find(|v| !sigs.iter().any(|s| s["signer"] == *v)).unwrap();
        let mut all = sigs.clone();
        all.push(json!({"signer": missing, "signature": hex::encode(sign_vote(&validators[missing], VoteKind::Finalize, &chain, view, &hash))}));
        set(&base, "/finalization/signatures", json!(all))
    };
    good(&mut cases, "good-variant-other-quorum.json".into(), quorum_variant);
    good(&mut cases, "good-variant-withheld.json".into(), set(&base, "/transaction", Value::Null));
    good(
        &mut cases,
        "good-variant-envelope.json".into(),
        json!({"success": true, "code": 200, "message": "ok", "timestamp": 0, "result": base.clone()}),
    );
    let mut extra = base.clone();
    extra["comment"] = json!("not part of the proof");
    good(&mut cases, "good-variant-unknown-member.json".into(), extra);
    let mut extra = base.clone();
    extra["transaction"]["note"] = json!("not part of the transaction");
    good(&mut cases, "good-variant-tx-unknown-member.json".into(), extra);
    let upper = base["header"]["parent"].as_str().unwrap().to_uppercase();
    good(&mut cases, "good-variant-uppercase-hex.json".into(), set(&base, "/header/parent", json!(upper)));
    let mut reordered = code.clone();
    reordered["entries"].as_array_mut().unwrap().reverse();
    good(&mut cases, "good-variant-state-reordered.json".into(), reordered);
    good(&mut cases, "good-variant-state-one-entry.json".into(), set(&code, "/entries", json!([code["entries"][1]])));

    // Tamperings, each with the check it must fail.
    let mut bad = |name: &str, bundle: Value, fails: &'static str| cases.push(Case { name: format!("bad-{name}.json"), bundle, fails: Some(fails) });
    let withheld_proof = tx_proofs.iter().find(|p| p["transaction"].is_null()).unwrap().clone();
    let doc = notarise["transaction"]["record"]["document"].clone();
    bad("tx-record", set(&notarise, "/transaction/record/document/weight", json!(13501.0)), "2");
    bad("tx-record-type", set(&base, "/transaction/record/type", json!("notarize")), "2");
    bad("tx-record-number-form", set(&notarise, "/transaction/record/document/quarter", json!(doc["quarter"].as_f64().unwrap() + 0.5)), "2");
    bad("tx-nonce", bump(&base, "/transaction/nonce"), "2");
    bad("tx-signature", flipped(&base, "/transaction/signature"), "2");
    bad("tx-signer", flipped(&base, "/transaction/signer/public_key"), "2");
    bad("tx-algorithm", set(&base, "/transaction/signer/algorithm", json!("Ed25519")), "2");
    bad("tx-chain", set(&base, "/transaction/chain_id", json!("coldchain-other")), "1");
    bad("tx-id", flipped(&base, "/tx_id"), "2");
    bad("tx-id-withheld", flipped(&withheld_proof, "/tx_id"), "3");
    bad("leaf-index", bump(&base, "/leaf_index"), "3");
    bad("merkle-path", flipped(&base, "/merkle_path/0"), "3");
    let mut longer = base.clone();
    longer["merkle_path"].as_array_mut().unwrap().push(json!("00".repeat(32)));
    bad("merkle-path-longer", longer, "3");
    let mut shorter = base.clone();
    shorter["merkle_path"].as_array_mut().unwrap().pop();
    bad("merkle-path-shorter", shorter, "3");
    bad("header-tx-count", bump(&base, "/header/tx_count"), "35");
    bad("header-tx-root", flipped(&base, "/header/tx_root"), "3");
    bad("header-time", bump(&base, "/header/time_ms"), "5");
    bad("header-height", bump(&base, "/header/height"), "5");
    bad("header-view", bump(&base, "/header/view"), "5");
    bad("header-proposer", bump(&base, "/header/proposer"), "5");
    bad("header-parent", flipped(&base, "/header/parent"), "5");
    bad("header-state-root", flipped(&base, "/header/state_root"), "5");
    bad("header-chain", set(&base, "/header/chain_id", json!("coldchain-other")), "1");
    bad("version", set(&base, "/version", json!(2)), "0");
    bad("final-hash", flipped(&base, "/finalization/hash"), "5");
    bad("final-view", bump(&base, "/finalization/view"), "5");
    bad("final-kind", set(&base, "/finalization/kind", json!("notarize")), "6");
    bad("final-signature", flipped(&base, "/finalization/signatures/0/signature"), "6");
    bad("final-below-quorum", set(&base, "/finalization/signatures", json!(sigs[..2])), "6");
    bad("final-duplicate", set(&base, "/finalization/signatures", json!([sigs[0], sigs[0], sigs[1]])), "6");
    bad("final-duplicate-index", set(&base, "/finalization/signatures/1/signer", json!(signer(0))), "6");
    bad("final-unknown-signer", set(&base, "/finalization/signatures/0/signer", json!(4)), "6");
    bad(
        "final-swapped-signers",
        set(&set(&base, "/finalization/signatures/0/signer", json!(signer(1))), "/finalization/signatures/1/signer", json!(signer(0))),
        "6",
    );
    let outsider = SigningKey::from_bytes(&[99; 32]);
    bad(
        "final-outsider",
        set(&base, "/finalization/signatures/0/signature", json!(hex::encode(sign_vote(&outsider, VoteKind::Finalize, &chain, view, &hash)))),
        "6",
    );
    let sig0 = sigs[0]["signature"].as_str().unwrap();
    bad("final-s-plus-order", set(&base, "/finalization/signatures/0/signature", json!(plus_order(sig0))), "6");
    bad("final-identity-r", set(&base, "/finalization/signatures/0/signature", json!(identity_r_signature(&validators[signer(0)], &vote))), "6");
    bad(
        "final-other-kind-signed",
        set(
            &base,
            "/finalization/signatures/0/signature",
            json!(hex::encode(sign_vote(&validators[signer(0)], VoteKind::Notarize, &chain, view, &hash))),
        ),
        "6",
    );
    bad("link-parent", flipped(&tx_link1, "/links/0/parent"), "4");
    bad("link-height", bump(&tx_link1, "/links/0/height"), "4");
    bad("link-time", bump(&tx_link1, "/links/0/time_ms"), "5");
    bad("link-chain", set(&tx_link1, "/links/0/chain_id", json!("coldchain-other")), "1");
    bad("link-dropped", set(&tx_link2, "/links", json!([tx_link2["links"][0]])), "5");
    bad("link-order", set(&tx_link2, "/links", json!([tx_link2["links"][1], tx_link2["links"][0]])), "4");
    bad("link-none", set(&tx_link1, "/links", json!([])), "5");

    bad("state-value", flipped(&code, "/entries/0/value"), "S");
    bad("state-value-other-entry", set(&code, "/entries/0/value", code["entries"][1]["value"].clone()), "S");
    bad("state-key", flipped(&code, "/entries/1/key"), "S");
    bad("state-sibling", flipped(&code, "/entries/0/proof/siblings/0"), "S");
    let mut fewer = code.clone();
    fewer["entries"][0]["proof"]["siblings"].as_array_mut().unwrap().pop();
    bad("state-sibling-dropped", fewer, "S");
    bad("state-leaf-key-hash", flipped(&code, "/entries/0/proof/leaf/key_hash"), "S");
    bad("state-leaf-value-hash", flipped(&code, "/entries/0/proof/leaf/value_hash"), "S");
    bad("state-present-claimed-absent", set(&code, "/entries/0/value", Value::Null), "S");
    bad("state-absent-given-value", set(&absent, "/entries/0/value", json!("a0")), "S");
    bad("state-header-root", flipped(&code, "/header/state_root"), "S");
    bad("state-header-time", bump(&code, "/header/time_ms"), "5");
    bad("state-header-state-height", bump(&code, "/header/state_height"), "5");
    bad("state-header-chain", set(&code, "/header/chain_id", json!("coldchain-other")), "1");
    bad("state-no-entries", set(&code, "/entries", json!([])), "S");
    bad("state-not-hex", set(&code, "/entries/0/value", json!("zz")), "S");
    bad("state-version", set(&code, "/version", json!(2)), "0");
    bad("state-below-quorum", set(&code, "/finalization/signatures", json!(code["finalization"]["signatures"].as_array().unwrap()[..2])), "6");
    bad("state-link-parent", flipped(&state_link, "/links/0/parent"), "4");

    // Write them out.
    let keep = std::env::var_os("COLDCHAIN_KEEP_PROOFS").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let genesis = dir.join("genesis.json");
    std::fs::copy(c.genesis_path(), &genesis).unwrap();
    let files: Vec<PathBuf> = cases
        .iter()
        .map(|case| {
            let path = dir.join(&case.name);
            std::fs::write(&path, serde_json::to_vec_pretty(&case.bundle).unwrap()).unwrap();
            path
        })
        .collect();
    let (n_good, n_bad) = (cases.iter().filter(|c| c.fails.is_none()).count(), cases.iter().filter(|c| c.fails.is_some()).count());
    assert!(n_good >= 30 && n_bad >= 30, "{n_good} good, {n_bad} tampered");

    // Another consortium's genesis, with the same chain id: its validators
    // signed none of these.
    let other = dir.join("other");
    let _ = std::fs::remove_dir_all(&other);
    assert!(run_cli(&["testnet", "--dir", path_str(&other), "--chain-id", &chain]).status.success());
    let other_genesis = other.join("genesis.json");
    let other_files: Vec<PathBuf> = ["good-tx-00", "good-state-code", "good-linked-tx-1"]
        .iter()
        .map(|n| files.iter().find(|f| f.file_name().unwrap().to_str().unwrap().starts_with(n)).unwrap().clone())
        .collect();

    let verifiers_started = Instant::now();
    let python = format!("{ROOT}/verifiers/python/coldchain_verify.py");
    let java = format!("{ROOT}/verifiers/java/ColdchainVerify.java");
    let mut results = Vec::new();
    for (g, list) in [(&genesis, &files), (&other_genesis, &other_files)] {
        let g = path_str(g);
        results.push([
            run_verifier("Rust", Command::new(BIN).args(["verify", "--genesis", g]), list, true),
            run_verifier("Python", Command::new("python3").args([python.as_str(), "--genesis", g]), list, false),
            run_verifier("Java", Command::new("java").args([java.as_str(), "--genesis", g]), list, false),
        ]);
    }
    let verifiers_took = verifiers_started.elapsed();

    let mut disagreements = Vec::new();
    for (case, path) in cases.iter().zip(&files) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let [rust, py, jv] = &results[0];
        let (r, p, j) = (&rust.1[name], &py.1[name], &jv.1[name]);
        let expected_ok = match case.fails {
            None => r == "VALID",
            Some(checks) => r != "VALID" && checks.contains(r.as_str()),
        };
        if r != p || r != j || !expected_ok {
            disagreements.push(format!("{name}: expected {:?}; coldchain verify {r}, Python {p}, Java {j}", case.fails.unwrap_or("VALID")));
        }
    }
    for path in &other_files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let [rust, py, jv] = &results[1];
        let (r, p, j) = (&rust.1[name], &py.1[name], &jv.1[name]);
        if r != "6" || p != "6" || j != "6" {
            disagreements.push(format!("{name} under another genesis: expected check 6; coldchain verify {r}, Python {p}, Java {j}"));
        }
    }
    assert!(disagreements.is_empty(), "the verifiers disagree:\n{}", disagreements.join("\n"));
    for run in &results {
        assert!(run.iter().all(|(code, _)| *code == 2), "exit codes (2: some invalid): {:?}", run.iter().map(|r| r.0).collect::<Vec<_>>());
    }
    eprintln!(
        "{n_good} valid and {n_bad} tampered bundles (+{} under another genesis): coldchain verify, Python and Java agree on each; \
         {withheld} proofs withheld the record, {natural_links} came with links; verifiers {:.1} s, whole test {:.1} s{}",
        other_files.len(),
        verifiers_took.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        keep.map(|d| format!("; bundles kept in {}", d.display())).unwrap_or_default()
    );
}
