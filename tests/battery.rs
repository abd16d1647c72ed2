//! The bad-input battery: over two hundred malformed, hostile or
//! unauthenticated requests to every route of a four-node consortium. Each
//! must get a 4xx answer in the envelope (naming the field where one is at
//! fault), and afterwards nothing is stored (the state's counters, the
//! mempool and the image store are as before) and every node is alive.

mod common;

use coldchain_chaincode::Transaction;
use common::story::admin_key;
use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

struct Case {
    name: String,
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The field the answer must name, when one is at fault.
    field: Option<&'static str>,
}

fn case(name: impl Into<String>, method: &'static str, target: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
    Case { name: name.into(), method, target: target.into(), headers: vec![], body: body.into(), field: None }
}

impl Case {
    fn header(mut self, name: &str, value: impl Into<String>) -> Case {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    fn naming(mut self, field: &'static str) -> Case {
        self.field = Some(field);
        self
    }
}

/// Sends a request as bytes over its own connection (targets that HTTP
/// libraries refuse to send, bodies of any bytes): (status, envelope).
fn send(addr: &str, c: &Case) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", c.method, c.target, c.body.len());
    if !c.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in &c.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(&c.body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.find("\r\n\r\n").map_or("", |i| &text[i + 4..]);
    let json = body.find('{').and_then(|a| body.rfind('}').map(|b| &body[a..=b])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

/// What must not change: per node, the state's applied and refused counts,
/// the mempool, and the files in the image store.
fn stored(c: &Cluster) -> Vec<(Value, Value, Value, usize)> {
    (0..4)
        .map(|i| {
            let (_, state) = get(&c.url(i, "/v1/state"));
            let status = c.status(i).unwrap();
            let images = std::fs::read_dir(c.dir.path().join(NAMES[i]).join("data/images")).map(|d| d.count()).unwrap_or(0);
            (state["result"]["applied"].clone(), state["result"]["rejected"].clone(), status["mempool"]["pending"].clone(), images)
        })
        .collect()
}

const NAMES: [&str; 4] = ["beijing", "tianjin", "hebei", "national"];

fn bodies(good: &Value, chain: &str) -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let text = serde_json::to_string(good).unwrap();
    let mut tampered = good.clone();
    tampered["record"]["document"]["seq"] = json!(999);
    let mut other_chain = good.clone();
    other_chain["chain_id"] = json!(format!("{chain}-other"));
    let image = format!("data:image/png;base64,{}", "A".repeat(64));
    let notarised_image =
        serde_json::to_vec(&Transaction::sign(chain, 77, json!({"type": "notarise", "document": {"Product_img": image}}), &enterprise_key(41)))
            .unwrap();
    let list = vec![
        ("empty body", vec![], None),
        ("open brace", b"{".to_vec(), None),
        ("missing value", b"{\"chain_id\":}".to_vec(), None),
        ("bare word", b"nul".to_vec(), None),
        ("open array", b"[1,2".to_vec(), None),
        ("a string", b"\"just a string\"".to_vec(), None),
        ("a number", b"12345".to_vec(), None),
        ("null", b"null".to_vec(), None),
        ("empty object", b"{}".to_vec(), None),
        ("empty array", b"[]".to_vec(), None),
        ("nested 300 deep", format!("{}{}", "[".repeat(300), "]".repeat(300)).into_bytes(), None),
        ("duplicate key", text.replacen('{', "{\"nonce\":2,", 1).into_bytes(), Some("nonce")),
        ("number beyond f64", b"{\"nonce\":1e400}".to_vec(), None),
        ("number beyond u64", text.replacen("\"nonce\":2", "\"nonce\":18446744073709551616", 1).into_bytes(), None),
        ("lone surrogate", b"{\"x\":\"\\ud800\"}".to_vec(), None),
        ("invalid UTF-8", b"{\"x\":\"\xff\xfe\"}".to_vec(), None),
        ("right-to-left override in the chain id", text.replacen(chain, &format!("{chain}\u{202e}"), 1).into_bytes(), None),
        ("byte-order mark", [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat(), None),
        ("trailing text", format!("{text} x").into_bytes(), None),
        ("tampered record", serde_json::to_vec(&tampered).unwrap(), None),
        ("another chain", serde_json::to_vec(&other_chain).unwrap(), None),
        ("an image in a notarise", notarised_image, None),
        ("10,001 items", format!("[{}]", vec![text.as_str(); 10_001].join(",")).into_bytes(), None),
    ];
    for (what, body, _) in &list {
        assert_ne!(body.as_slice(), text.as_bytes(), "{what}: the edit changed nothing");
    }
    list
}

#[test]
fn two_hundred_bad_requests_get_4xx_envelopes_and_store_nothing() {
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    let chain = c.chain_id();
    // One real transaction, so that reads have something to refuse access to.
    let real = serde_json::to_value(Transaction::sign(&chain, 1, json!({"type": "notarise", "document": {"seq": 1}}), &enterprise_key(40))).unwrap();
    let (code, env) = post(&c.url(0, "/v1/tx?wait=finalized"), &real);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    let id = env["result"]["tx_id"].as_str().unwrap().to_string();
    for i in 1..4 {
        wait_for("the transaction on every node", LONG, || {
            (get(&c.url(i, &format!("/v1/tx/{id}"))).1["result"]["state"] == "finalized").then_some(())
        });
    }
    let good = serde_json::to_value(Transaction::sign(&chain, 2, json!({"type": "notarise", "document": {"seq": 2}}), &enterprise_key(40))).unwrap();

    let mut cases = Vec::new();
    // Every body route, every bad body.
    let post_routes = [
        "/v1/tx",
        "/v1/tx/batch",
        "/v1/records",
        "/v1/records/batch",
        "/v1/apps",
        "/v1/alerts",
        "/cold-chain-tracing/certification.register",
        "/cold-chain-tracing/statistical.info.register",
    ];
    for route in post_routes {
        for (what, body, field) in bodies(&good, &chain) {
            let mut c = case(format!("POST {route}: {what}"), "POST", route, body);
            // Batches name a bad item inside the result list, not at the top.
            if !route.ends_with("batch") && !route.starts_with("/cold-chain") {
                c.field = field;
            }
            cases.push(c);
        }
    }
    // A good body under a type that is not JSON (a form post across sites, a
    // client that sent the wrong thing): refused before it is read.
    let wrong_types = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/jsonp"];
    for (route, media) in post_routes.iter().zip(wrong_types.iter().cycle()) {
        cases.push(
            case(format!("POST {route} as {media}"), "POST", *route, serde_json::to_vec(&good).unwrap())
                .header("Content-Type", *media)
                .naming("content-type"),
        );
    }
    // Path and query tricks on every read route.
    for bad in ["nothex", "00", &"g".repeat(64), "%00", "%FF%FE", "..%2F..%2Fetc%2Fpasswd", &"0".repeat(65), "%20"] {
        cases.push(case(format!("tx id {bad}"), "GET", format!("/v1/tx/{bad}"), ""));
        cases.push(case(format!("proof id {bad}"), "GET", format!("/v1/proofs/{bad}"), ""));
        cases.push(case(format!("alert id {bad}"), "GET", format!("/v1/alerts/{bad}"), ""));
        cases.push(case(format!("image {bad}"), "GET", format!("/v1/images/{bad}"), ""));
    }
    for bad in ["-1", "abc", "99999999999999999999999", "1.5", "%FF", "0x10", "1e3"] {
        cases.push(case(format!("block {bad}"), "GET", format!("/v1/blocks/{bad}"), ""));
    }
    let long_code = "A".repeat(4000);
    for query in [
        "".to_string(),
        "?scheme=BJ-ZS".into(),
        "?code=X".into(),
        "?scheme=BJ-ZS&code=X&direction=sideways".into(),
        "?scheme=BJ-ZS&code=X&format=exe".into(),
        "?scheme=%FF&code=%FE".into(),
        format!("?scheme=BJ-ZS&code={long_code}"),
        "?scheme=BJ-ZS&code=X&code=Y".into(),
    ] {
        cases.push(case(format!("trace {query:.40}"), "GET", format!("/v1/trace{query}"), ""));
    }
    for path in ["NOPE/123", "%FF/%FE", "BJ-ZS/%3Cscript%3E", "BJ-ZS/"] {
        cases.push(case(format!("code {path}"), "GET", format!("/v1/codes/{path}"), ""));
    }
    for path in ["/v1/nope", "/../../etc/passwd", "/v1/tx/", "/v1//status", "/%FF"] {
        cases.push(case(format!("no route {path}"), "GET", path, ""));
    }
    for (method, path) in [("DELETE", "/v1/tx"), ("PUT", "/v1/status"), ("PATCH", "/v1/alerts"), ("POST", "/v1/state"), ("GET", "/v1/apps")] {
        cases.push(case(format!("{method} {path}"), method, path, ""));
    }
    // POST queries that do not parse.
    for query in ["?wait=soon", "?wait=finalized&timeout_ms=-1", "?timeout_ms=99999999999999999999999", "?wait=%FF"] {
        cases.push(case(format!("POST /v1/tx{query}"), "POST", format!("/v1/tx{query}"), serde_json::to_vec(&good).unwrap()));
    }
    // Signed reads gone wrong.
    let read = format!("/v1/tx/{id}");
    let admin = admin_key(&c, "beijing");
    let admin_hex = hex::encode(admin.verifying_key().to_bytes());
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let stale = (chrono::Utc::now().timestamp_millis() - 600_000).to_string();
    let sig = "00".repeat(64);
    let signed = |key: &str, ts: &str, nonce: &str, sig: &str| {
        case("signed read", "GET", read.clone(), "")
            .header("x-coldchain-key", key)
            .header("x-coldchain-timestamp", ts)
            .header("x-coldchain-nonce", nonce)
            .header("x-coldchain-signature", sig)
    };
    cases.push(case("key alone", "GET", read.clone(), "").header("x-coldchain-key", admin_hex.clone()).naming("x-coldchain-timestamp"));
    cases.push(signed("zz", &now, "0123456789ab", &sig).naming("x-coldchain-key"));
    cases.push(signed(&"00".repeat(31), &now, "0123456789ab", &sig).naming("x-coldchain-key"));
    cases.push(signed(&admin_hex, "yesterday", "0123456789ab", &sig).naming("x-coldchain-timestamp"));
    cases.push(signed(&admin_hex, &stale, "0123456789ab", &sig).naming("x-coldchain-timestamp"));
    cases.push(signed(&admin_hex, &now, "short", &sig).naming("x-coldchain-nonce"));
    cases.push(signed(&admin_hex, &now, "has spaces in it", &sig).naming("x-coldchain-nonce"));
    cases.push(signed(&admin_hex, &now, "0123456789ab", "xyz").naming("x-coldchain-signature"));
    cases.push(signed(&admin_hex, &now, "0123456789ab", &sig).naming("x-coldchain-signature"));
    cases.push(signed(&hex::encode(enterprise_key(99).verifying_key().to_bytes()), &now, "0123456789ab", &sig).naming("x-coldchain-signature"));
    // Seed-004 signed requests gone wrong.
    let doc = br#"{"type":"notarise","document":{}}"#.to_vec();
    let app = |appid: &str, ts: &str, nonce: &str, sig: &str| {
        case("app request", "POST", "/v1/records", doc.clone())
            .header("appid", appid)
            .header("timestamp", ts)
            .header("nonce", nonce)
            .header("signature", sig)
    };
    cases.push(case("appid alone", "POST", "/v1/records", doc.clone()).header("appid", "x").naming("timestamp"));
    cases.push(app("nobody-erp", &now, "0123456789ab", &"00".repeat(32)).naming("appid"));
    cases.push(app("nobody-erp", "soon", "0123456789ab", &"00".repeat(32)).naming("timestamp"));
    cases.push(app("nobody-erp", &stale, "0123456789ab", &"00".repeat(32)).naming("timestamp"));
    cases.push(app("nobody-erp", &now, "short", &"00".repeat(32)).naming("nonce"));
    cases.push(app("nobody-erp", &now, &"n".repeat(65), &"00".repeat(32)).naming("nonce"));
    // HTTP Basic gone wrong at the national interface.
    for auth in ["Basic", "Basic !!!", "Bearer abc", "Basic bm8tY29sb24=", "Basic dW5rbm93bjpzZWNyZXQ=", "basic dW5rbm93bjpzZWNyZXQ="] {
        cases.push(
            case(format!("national auth {auth}"), "POST", "/cold-chain-tracing/certification.register", b"{}".to_vec()).header("Authorization", auth),
        );
    }

    // Request heads over the limits: the gateway's envelope, not hyper's bare 414/431.
    cases.push(case("long target", "GET", format!("/v1/trace?scheme=BJ-ZS&code={}", "A".repeat(60_000)), "").naming("(uri)"));
    cases.push(case("long path", "GET", format!("/v1/tx/{}", "0".repeat(9_000)), "").naming("(uri)"));
    let many = (0..150).fold(case("150 headers", "GET", "/v1/status", ""), |c, i| c.header(&format!("x-h{i}"), "v"));
    cases.push(many.naming("(headers)"));
    cases.push(case("one 40 KiB header", "GET", "/v1/status", "").header("x-big", "b".repeat(40 * 1024)).naming("(headers)"));
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let before = stored(&c);
    let addr = c.url(0, "").trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut failures = Vec::new();
    for case in &cases {
        let (code, env) = send(&addr, case);
        // A batch refused whole names each item's error in its results.
        let errors = env["result"]["error"].is_string()
            || env["result"]["results"].as_array().is_some_and(|r| !r.is_empty() && r.iter().all(|i| i["error"].is_string()));
        let enveloped = env["success"] == false && env["code"] == code && errors && env["message"].is_string();
        let named = case.field.is_none_or(|f| env["result"]["field"] == f);
        if !(400..500).contains(&code) || !enveloped || !named {
            failures.push(format!("{} ({} {:.60}): {code} {env:.300}", case.name, case.method, case.target));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    eprintln!("{} bad requests, each a 4xx envelope", cases.len());

    // Nothing stored, every node alive.
    assert_eq!(stored(&c), before, "a refused request stored something");
    for i in 0..4 {
        assert_eq!(get(&c.url(i, "/healthz")).0, 200, "node {i} answers");
    }
    let h = c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], h, LONG);
}
