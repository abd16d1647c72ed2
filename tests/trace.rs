//! The cold-chain story on four real `coldchain node` processes, as officers
//! and enterprises see it through the gateways: the demo story finalizes
//! wave by wave through different nodes; the retail pack traces back to the
//! Hebei importer and forward to every holder in three provinces, the same
//! from every node; the alert names the affected enterprises by province;
//! every step's proof verifies offline; all nodes hold the same state, also
//! a node rebuilt from its blocks after a crash. Refused records name field
//! and rule and store nothing; the national report interfaces authenticate
//! their clients and refuse duplicates; images stay on the receiving node
//! with their SHA-256 on chain.

mod common;

use coldchain_chaincode::{Hash, scenario};
use common::schema;
use common::story::*;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Signing and HTTP helpers
// ---------------------------------------------------------------------------

/// (status, content type, body bytes)
fn get_raw(url: &str) -> (u16, String, Vec<u8>) {
    let mut resp = agent().get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, media, resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap())
}

/// [`get_raw`] with headers (a signed read).
fn get_raw_with(url: &str, headers: &[(&'static str, String)]) -> (u16, String, Vec<u8>) {
    let mut req = agent().get(url);
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, media, resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap())
}

/// The result of a successful GET.
fn get_ok(url: &str) -> Value {
    let (code, env) = get(url);
    assert_eq!(code, 200, "GET {url}: {env}");
    assert_eq!(env["success"], true, "GET {url}: {env}");
    env["result"].clone()
}

fn post_with(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut req = agent().post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(&serde_json::to_vec(body).unwrap()[..]).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

/// Submits one signed record with `?wait=finalized`; asserts it finalized
/// and was applied; returns its height.
fn submit_applied(c: &Cluster, node: usize, body: &Value, id: &str) -> u64 {
    let (code, env) = post(&c.url(node, "/v1/records?wait=finalized"), body);
    assert_eq!(code, 200, "{env}");
    assert_eq!(env["result"]["state"], "finalized", "{env}");
    assert_eq!(env["result"]["tx_id"], id, "{env}");
    let tx = get_ok(&c.url(node, &format!("/v1/tx/{id}")));
    assert_eq!(tx["outcome"]["status"], "applied", "{tx}");
    env["result"]["height"].as_u64().unwrap()
}

fn state_of(c: &Cluster, node: usize) -> Option<Value> {
    let (code, env) = try_get(&c.url(node, "/v1/state"))?;
    (code == 200).then(|| env["result"].clone())
}

/// Polls `/v1/state` on `nodes` (all at once) until one height of at least
/// `min_height` has been seen on every one of them, asserting the state roots
/// agree at every height seen on more than one node. Blocks may keep coming
/// (empty ones, view changes), so heights need not line up in one poll; the
/// answers are remembered per height. Returns that height and its state.
fn agreed_state(c: &Cluster, nodes: &[usize], min_height: u64) -> (u64, Value) {
    let mut seen: Vec<BTreeMap<u64, Value>> = vec![BTreeMap::new(); nodes.len()];
    wait_for(&format!("nodes {nodes:?} to report their state at one height ≥ {min_height}"), LONG, || {
        let answers: Vec<Option<Value>> = std::thread::scope(|s| {
            let handles: Vec<_> = nodes.iter().map(|&i| s.spawn(move || state_of(c, i))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (k, a) in answers.into_iter().enumerate() {
            if let Some(a) = a {
                seen[k].insert(a["height"].as_u64().unwrap(), a);
            }
        }
        for (k, m) in seen.iter().enumerate() {
            for (h, s) in m {
                for (j, other) in seen.iter().enumerate().skip(k + 1) {
                    if let Some(o) = other.get(h) {
                        assert!(s["root"] == o["root"], "state differs at height {h} between nodes {} and {}:\n{s:#}\n{o:#}", nodes[k], nodes[j]);
                    }
                }
            }
        }
        seen[0].iter().rev().find(|(h, _)| **h >= min_height && seen.iter().all(|m| m.contains_key(h))).map(|(h, s)| (*h, s.clone()))
    })
}

// ---------------------------------------------------------------------------
// The story
// ---------------------------------------------------------------------------

/// Reads `GET /v1/alerts/stream` over a raw socket in a thread. Returns once
/// the stream's headers arrived (the node has subscribed); the thread then
/// collects what the stream sends until it has seen `event: {until}` and the
/// end of that event, or until the deadline.
fn subscribe_alerts(gateway: &str, signed: Vec<(&'static str, String)>, until: &'static str, deadline: Instant) -> std::thread::JoinHandle<String> {
    let addr = gateway.trim_start_matches("http://").trim_end_matches('/').to_string();
    let headers: String = signed.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut sock = std::net::TcpStream::connect(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        write!(sock, "GET /v1/alerts/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{headers}\r\n").unwrap();
        let mut text = String::new();
        let mut buf = [0u8; 8192];
        let mut signalled = false;
        while Instant::now() < deadline {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("reading the alert stream: {e}"),
            }
            if !signalled && text.contains("\r\n\r\n") {
                signalled = true;
                let _ = ready_tx.send(());
            }
            if let Some(at) = text.find(&format!("event: {until}\n"))
                && text[at..].contains("\n\n")
            {
                break;
            }
        }
        text
    });
    ready_rx.recv_timeout(Duration::from_secs(60)).expect("the alert stream answered with its headers");
    handle
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn the_story_traces_across_three_provinces_proves_offline_and_every_node_agrees() {
    let started = Instant::now();
    let mut c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    // Tianjin's bureau watching alerts live, on its node (a signed read).
    let tianjin = admin_key(&c, "tianjin");
    let stream =
        subscribe_alerts(&c.nodes[1].gateway, c.signed_read(1, "/v1/alerts/stream", &tianjin), "alert", Instant::now() + Duration::from_secs(400));

    let story = run_story(&c, u32::MAX);
    let last_wave = story.steps.iter().map(|s| s.wave).max().unwrap();
    assert_eq!(last_wave, 13, "the story has 13 waves");
    let top = story.steps.iter().map(|s| s.height).max().unwrap();
    c.wait_height(&[0, 1, 2, 3], top, LONG);
    eprintln!("story: {} steps finalized in {:?}", story.steps.len(), started.elapsed());

    // The live stream saw the alert.
    let alert_id = story.alert_id.clone().unwrap();
    let streamed = stream.join().unwrap();
    let at = streamed.find("event: alert\n").unwrap_or_else(|| panic!("no `event: alert` on the stream; got:\n{streamed}"));
    let event = &streamed[at..at + streamed[at..].find("\n\n").unwrap()];
    assert!(event.contains(&format!("\"tx_id\":\"{alert_id}\"")), "the streamed alert is not ours: {event}");

    // Backward from the retail pack, on Beijing's node: back to the Hebei entry.
    let (scheme, code) = scenario::RETAIL;
    let importer = scenario::uscc("hebei-importer");
    // Read by Beijing's bureau: the lot is inside the open alert, so every
    // province's steps show (the public gets the consumer view, tests/masking.rs).
    let beijing = admin_key(&c, "beijing");
    let as_bureau = |c: &Cluster, node: usize, path: &str| -> Value {
        let (code, env) = c.read_as(node, path, Some(&beijing));
        assert_eq!(code, 200, "GET {path} at node {node}: {env}");
        env["result"].clone()
    };
    let back = as_bureau(&c, 0, &format!("/v1/trace?scheme={scheme}&code={code}&direction=backward"));
    assert_eq!(back["view"], "alert", "{back:#}");
    let usccs =
        |t: &Value| -> BTreeSet<String> { t["enterprises"].as_array().unwrap().iter().map(|e| e["uscc"].as_str().unwrap().to_string()).collect() };
    assert!(usccs(&back).contains(&importer), "backward trace misses the Hebei importer: {back:#}");
    assert_eq!(back["lot"]["origin_uscc"], importer.as_str());
    assert!(
        back["steps"].as_array().unwrap().iter().any(|s| s["kind"] == "entry" && s["to"] == importer.as_str()),
        "backward trace has no entry step at the Hebei importer: {back:#}"
    );
    assert!(!usccs(&back).contains(&scenario::uscc("beijing-retailer-b")), "backward goes sideways to the other retailer");

    // Both ways: every holder, in three provinces, the same from every node.
    let both_path = format!("/v1/trace?scheme={scheme}&code={code}&direction=both");
    let both = as_bureau(&c, 0, &both_path);
    let all: BTreeSet<String> = scenario::ENTERPRISES.iter().map(|e| scenario::uscc(e.0)).collect();
    assert_eq!(usccs(&both), all, "the trace both ways reaches every holder");
    let provinces: BTreeSet<&str> = both["enterprises"].as_array().unwrap().iter().map(|e| e["province"].as_str().unwrap()).collect();
    assert_eq!(provinces, BTreeSet::from(["110000", "120000", "130000"]));
    for node in 1..4 {
        assert_eq!(as_bureau(&c, node, &both_path), both, "node {node} traces differently");
    }

    // The alert, seen by Hebei's bureau at its node: affected enterprises in three provinces.
    let hebei = admin_key(&c, "hebei");
    let (code, env) = c.read_as(2, &format!("/v1/alerts/{alert_id}"), Some(&hebei));
    assert_eq!(code, 200, "{env}");
    let alert = env["result"].clone();
    // Alerts are for bureaus: on the list, the alert and the stream, the
    // public is asked to sign (401) and an enterprise is refused (403).
    let retailer = story.keys["beijing-retailer-a"].clone();
    for path in ["/v1/alerts".to_string(), format!("/v1/alerts/{alert_id}"), "/v1/alerts/stream".to_string()] {
        for (reader, refusal) in [(None, (401, Some("unauthorized"))), (Some(&retailer), (403, Some("forbidden")))] {
            let (code, env) = c.read_as(2, &path, reader);
            assert_eq!((code, env["result"]["error"].as_str()), refusal, "{path} as {reader:?}: {env}");
            assert_eq!(env["result"]["field"], "x-coldchain-key", "{path} as {reader:?}: {env}");
        }
    }
    let (code, env) = c.read_as(0, "/v1/alerts", Some(&admin_key(&c, "beijing")));
    assert_eq!((code, env["result"].as_array().map(Vec::len)), (200, Some(1)), "{env}");
    let affected = alert["affected"].as_object().unwrap();
    assert_eq!(affected.keys().map(String::as_str).collect::<Vec<_>>(), ["110000", "120000", "130000"], "{alert:#}");
    for (province, list) in affected {
        assert!(!list.as_array().unwrap().is_empty(), "no affected enterprise listed under {province}");
    }
    let affected_usccs: BTreeSet<&str> = affected.values().flat_map(|l| l.as_array().unwrap()).map(|e| e["uscc"].as_str().unwrap()).collect();
    for label in ["hebei-importer", "tianjin-storage", "beijing-wholesaler", "beijing-retailer-a"] {
        assert!(affected_usccs.contains(scenario::uscc(label).as_str()), "{label} is not among the affected: {affected_usccs:?}");
    }

    // Search from what a notice names (bureaus only): the truck, then the
    // certificate with the CLI; each finds the story's lot and its codes.
    let plate = "/v1/search?plate=%E5%86%80B12345";
    let (code, env) = c.read_as(1, plate, Some(&tianjin));
    assert_eq!(code, 200, "{env}");
    let hits = env["result"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{env}");
    assert_eq!(hits[0]["lot"]["quarantine_number"], scenario::QUARANTINE_NUMBER, "{env}");
    assert!(hits[0]["codes"].as_array().unwrap().iter().any(|c| c[1] == scenario::HEBEI_CODE), "{env}");
    for (reader, status) in [(None, 401), (Some(&retailer), 403)] {
        assert_eq!(c.read_as(1, plate, reader).0, status);
    }
    let (code, env) = c.read_as(1, "/v1/search?plate=x&driver=y", Some(&tianjin));
    assert_eq!((code, env["result"]["field"].as_str()), (400, Some("(query)")), "{env}");

    // The lot as seed 004 annex B: every bureau and each enterprise that
    // held it; nobody else; an unknown lot is named in the 404.
    let lot_path = format!("/v1/lots/{}/{}", scenario::QUARANTINE_NUMBER, scenario::CERT_BATCH);
    let importer_key = story.keys["hebei-importer"].clone();
    for (node, reader) in [(1, &tianjin), (2, &importer_key)] {
        let (code, env) = c.read_as(node, &lot_path, Some(reader));
        assert_eq!(code, 200, "{env}");
        let lot = &env["result"];
        assert_eq!(lot["quarantineInfo"]["quarantineNumber"], scenario::QUARANTINE_NUMBER, "{env}");
        assert_eq!(lot["customsInfo"]["customsNumber"], "040820261000123456", "{env}");
        assert_eq!(lot["disinfectInfo"]["disinfectNumber"], "HL20261105CF1", "{env}");
        assert_eq!((lot["nucleicInfo"]["naResult"].as_str(), lot["nucleicInfo"]["verifyMode"].as_str()), (Some("阴性"), Some("SelfCheck")), "{env}");
        assert_eq!(lot["enterprise"], importer.as_str(), "{env}");
    }
    let (code, env) = c.read_as(0, &lot_path, None);
    assert_eq!((code, env["result"]["error"].as_str()), (403, Some("forbidden")), "{env}");
    let (code, env) = c.read_as(0, &format!("/v1/lots/{}/NO-SUCH", scenario::QUARANTINE_NUMBER), Some(&beijing));
    assert_eq!(
        (code, env["result"]["error"].as_str(), env["result"]["field"].as_str()),
        (404, Some("unknown_lot"), Some("quarantine_number")),
        "{env}"
    );
    let out = run_cli(&[
        "search",
        "--gateway",
        &c.nodes[0].gateway,
        "--key",
        path_str(&c.dir.path().join("beijing").join("admin.key")),
        "--certificate",
        scenario::QUARANTINE_NUMBER,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("certificate {} batch {}", scenario::QUARANTINE_NUMBER, scenario::CERT_BATCH)), "{text}");
    assert!(text.contains(scenario::HEBEI_CODE), "{text}");

    // The dictionaries, to view and download (seed 000 §3.2), for anyone.
    let list = get_ok(&c.url(2, "/v1/dictionaries"));
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"country") && names.contains(&"entry_port"), "{list}");
    // Every dictionary of seed 000 §3.2 (and the cities below the provinces) is served.
    for name in ["common_role", "province", "city", "hs", "product_big_class", "entry_port", "country", "china_customs", "source_type"] {
        assert!(names.contains(&name), "{name} in {list}");
    }
    let sources = get_ok(&c.url(2, "/v1/dictionaries/source_type"));
    assert!(sources["entries"].as_array().unwrap().iter().any(|e| e["code"] == "1" && e["name"] == "一般贸易"), "{sources}");
    let (code, _, body) = get_raw(&c.url(2, "/v1/dictionaries/china_customs?format=csv"));
    let csv = String::from_utf8(body).unwrap();
    assert!(code == 200 && csv.contains("\r\n5300,深圳关区\r\n"), "{csv:.300}");
    let city = get_ok(&c.url(2, "/v1/dictionaries/city"));
    assert!(city["entries"].as_array().unwrap().iter().any(|e| e["code"] == "120116" && e["name"] == "滨海新区"), "{city}");
    let country = get_ok(&c.url(2, "/v1/dictionaries/country"));
    assert!(country["entries"].as_array().unwrap().iter().any(|e| e["code"] == "BR" && e["name"] == "巴西"), "{country}");
    let (code, content_type, body) = get_raw(&c.url(2, "/v1/dictionaries/country?format=csv"));
    let csv = String::from_utf8(body).unwrap();
    assert_eq!((code, content_type.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("\u{feff}code,name\r\n") && csv.contains("\r\nBR,巴西\r\n"), "{csv:.200}");
    let (code, env) = get(&c.url(2, "/v1/dictionaries/colours"));
    assert_eq!(code, 404, "{env}");
    let message = env["message"].as_str().unwrap();
    assert!(message.contains("the dictionaries are: china_customs, city, common_role, country,") && message.contains("source_type"), "{env}");

    // The Hebei code resolves to its Tianjin and Beijing codes.
    let resolved = get_ok(&c.url(3, &format!("/v1/codes/HE-GS1/{}", scenario::HEBEI_CODE)));
    let codes: BTreeSet<(String, String)> = resolved["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["scheme"].as_str().unwrap().to_string(), x["code"].as_str().unwrap().to_string()))
        .collect();
    for (s, k) in [("TJ-ZS", scenario::TIANJIN_CODE), ("BJ-ZS", scenario::BEIJING_WHOLESALE_CODE), ("BJ-ZS", scenario::BEIJING_RETAIL_CODE)] {
        assert!(codes.contains(&(s.to_string(), k.to_string())), "{s} {k} missing from {codes:?}");
    }

    // The same code as a GS1 Digital Link, on Tianjin's node: a redirect to
    // its resolution, and a linkset reaching every province's resolver for
    // its own code of the lot; a wrong check digit names AI (01).
    let no_redirects: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let dl = "/01/06901234001235/10/1BY9066";
    let resp = no_redirects.get(&c.url(1, dl)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 307);
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(location, format!("/v1/codes/HE-GS1/{}", scenario::HEBEI_CODE));
    assert!(resp.headers().get("link").and_then(|v| v.to_str().ok()).is_some_and(|l| l.contains("rel=\"linkset\"")));
    let mut resp = no_redirects.get(&c.url(1, &format!("{dl}?linkType=all"))).call().unwrap();
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/linkset+json"));
    let linkset: serde_json::Value = resp.body_mut().read_json().unwrap();
    let hrefs: Vec<String> = linkset["linkset"][0]["https://gs1.org/voc/traceability"]
        .as_array()
        .unwrap_or_else(|| panic!("{linkset}"))
        .iter()
        .map(|l| l["href"].as_str().unwrap().to_string())
        .collect();
    for code in [scenario::TIANJIN_CODE, scenario::BEIJING_WHOLESALE_CODE, scenario::BEIJING_RETAIL_CODE] {
        assert!(hrefs.iter().any(|h| h.contains(code)), "{code} missing from the linkset: {linkset}");
    }
    let (code, env) = get(&c.url(1, "/01/06901234001238/10/1BY9066"));
    assert_eq!((code, env["result"]["field"].as_str()), (400, Some("path")), "{env}");
    assert!(env["message"].as_str().unwrap().contains("AI (01): check digit is 8 but the mod-10 rule gives 5"), "{env}");
    // The other keys a scheme's codes may be: checked by the same rules,
    // looked up the same way (no demo code is a piece, an SSCC or a GLN).
    let (code, env) = get(&c.url(1, "/00/106141411234567890"));
    assert_eq!(code, 400, "{env}");
    assert!(env["message"].as_str().unwrap().contains("AI (00)"), "{env}");
    let piece = format!("{dl}/21/PIECE1");
    for path in ["/00/106141411234567897", piece.as_str(), "/01/06901234001235/21/PIECE1", "/414/6901234000009"] {
        let (code, env) = get(&c.url(1, path));
        assert_eq!((code, env["result"]["error"].as_str()), (404, Some("unknown_code")), "{path}: {env}");
    }
    let (code, description) = get(&c.url(1, "/.well-known/gs1resolver"));
    assert_eq!((code, &description["supportedPrimaryKeys"]), (200, &json!(["01", "00", "414"])), "{description}");

    // CSV: a header and one row per step; SVG: an SVG document.
    let file = |node: usize, path: String| -> String {
        let (code, _, body) = get_raw_with(&c.url(node, &path), &c.signed_read(node, &path, &beijing));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(code, 200, "GET {path}: {text}");
        text
    };
    let csv = file(0, format!("{both_path}&format=csv"));
    let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("step,kind,date"), "CSV header: {}", rows[0]);
    assert_eq!(rows.len(), 1 + both["steps"].as_array().unwrap().len(), "CSV rows:\n{csv}");
    let svg = file(1, format!("{both_path}&format=svg"));
    assert!(svg.starts_with("<svg"), "{:.200}", svg);

    // Every step's proof, from a node it was not submitted to, verifies offline.
    let proofs = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, s) in story.steps.iter().enumerate() {
        let other = (s.node + 1) % 4;
        let proof = get_ok(&c.url(other, &format!("/v1/proofs/{}", s.tx_id)));
        assert_eq!(proof["tx_id"], s.tx_id.as_str());
        let path = proofs.path().join(format!("step-{i:02}-{}.json", s.kind));
        std::fs::write(&path, serde_json::to_vec_pretty(&proof).unwrap()).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let genesis = c.genesis_path();
    let mut args = vec!["verify", "--genesis", path_str(&genesis)];
    args.extend(files.iter().map(String::as_str));
    let out = run_cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify refused: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("VALID proof").count() - stdout.matches("INVALID proof").count(), story.steps.len(), "{stdout}");
    for s in &story.steps {
        assert!(stdout.contains(&s.tx_id), "verify says nothing of {}", s.tx_id);
    }

    // Real answers conform to the schemas the OpenAPI document derives from
    // the types the handlers return: a trace in each caller's view, a code
    // as the public and signed, the alert, the lists, a transaction, its
    // proof and block, the state and a state proof.
    let (scheme, code) = scenario::RETAIL;
    let entry = story.steps.iter().find(|s| s.kind == "product_batch").expect("a product batch step");
    let code_path = format!("/v1/codes/{scheme}/{code}");
    schema::assert_answers_conform(
        &c,
        0,
        &[
            (both_path.clone(), None, "the public (consumer view)"),
            (both_path.clone(), Some(&retailer), "an enterprise on the trace"),
            (both_path.clone(), Some(&beijing), "a bureau inside the alert"),
            (code_path.clone(), None, "the public"),
            (code_path, Some(&beijing), "a bureau"),
            (format!("/v1/alerts/{alert_id}"), Some(&beijing), "a bureau"),
            ("/v1/alerts".into(), Some(&beijing), "a bureau"),
            ("/v1/access-log".into(), Some(&beijing), "a bureau"),
            ("/v1/notices".into(), None, "the public"),
            (format!("/v1/tx/{}", entry.tx_id), None, "the public"),
            (format!("/v1/tx/{}", entry.tx_id), Some(&beijing), "a bureau"),
            (format!("/v1/proofs/{}", entry.tx_id), None, "the public"),
            (format!("/v1/blocks/{}", entry.height), None, "the public"),
            ("/v1/status".into(), None, "the public"),
            ("/v1/state".into(), None, "the public"),
            (format!("/v1/state/proof?scheme={scheme}&code={code}"), None, "the public"),
        ],
    );

    // Same state everywhere, once the bureau's cross-province reads above
    // (access_log transactions) are final.
    wait_for("the access logs of the reads final", LONG, || (0..4).all(|i| c.status(i).is_some_and(|s| s["mempool"]["pending"] == 0)).then_some(()));
    let top = (0..4).filter_map(|i| c.height(i)).max().unwrap_or(top);
    let (h, state) = agreed_state(&c, &[0, 1, 2, 3], top);
    assert_eq!((state["enterprises"].as_u64(), state["alerts"].as_u64(), state["rejected"].as_u64()), (Some(5), Some(1), Some(0)), "{state:#}");
    eprintln!("four nodes agree at height {h}: state root {}", state["root"]);

    // Tianjin crashes; a record finalizes without it; it restarts, rebuilds
    // its state from its blocks and catches up.
    c.kill(1);
    let (body, id) = sign_record(&story.chain_id, &enterprise_key(7), record(1));
    let missed = submit_applied(&c, 0, &body, &id);
    c.start_node(1);
    c.wait_height(&[1], missed, LONG);
    let (h2, state2) = agreed_state(&c, &[0, 1, 2, 3], missed);
    assert!(h2 > h);
    for k in ["enterprises", "lots", "movements", "codes", "alerts", "notices", "rejected"] {
        assert_eq!(state2[k], state[k], "{k} changed across the restart");
    }
    assert_eq!(state2["applied"].as_u64(), state["applied"].as_u64().map(|n| n + 1), "{state2:#}");
    assert_eq!(get_ok(&c.url(1, &format!("/v1/tx/{id}")))["outcome"]["status"], "applied");
    assert_eq!(as_bureau(&c, 1, &both_path), both, "the restarted node traces differently");
    c.assert_same_chain(&[0, 1, 2, 3], missed);

    // Killed again, its stored state (opened at the restart, not replayed)
    // equals entry for entry the state a replay of its blocks from genesis
    // gives.
    c.kill(1);
    let out = std::process::Command::new(BIN).args(["verify-chain", "--config", path_str(&c.nodes[1].config)]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("the stored state matches the replayed one entry for entry"), "{text}");
    c.start_node(1);
    c.wait_height(&[1], missed, LONG);
    eprintln!("restarted tianjin agrees at height {h2}; test took {:?}", started.elapsed());
}

#[test]
fn refused_records_name_field_and_rule_and_store_nothing() {
    let started = Instant::now();
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    // Schemes, enterprises, products; the batch enters at the Hebei importer (1000 pieces).
    let story = run_story(&c, 3);
    c.wait_height(&[0, 1, 2, 3], story.steps.iter().map(|s| s.height).max().unwrap(), LONG);
    let chain = &story.chain_id;
    let all = scenario::steps(today(), |label| hex::encode(story.keys[label].verifying_key().to_bytes()));
    let record_of = |note: &str| all.iter().find(|s| s.note.starts_with(note)).unwrap().record.clone();
    let importer = &story.keys["hebei-importer"];
    let before = state_of(&c, 0).unwrap();
    let counts = |s: &Value| ["enterprises", "lots", "movements", "codes", "rejected"].map(|k| s[k].as_u64().unwrap());

    let refuse = |node: usize, body: &Value| -> Value {
        let (code, env) = post(&c.url(node, "/v1/records?wait=finalized"), body);
        assert_eq!(code, 422, "{env}");
        assert_eq!(env["success"], false);
        assert_eq!(env["result"]["error"], "rule_violated", "{env}");
        env["result"].clone()
    };
    let mut refused_ids = Vec::new();

    // A shipment of more pieces than the importer holds.
    let mut ship = record_of("ship 800 cartons");
    ship["Send_number"] = json!("HE-SO-9999");
    ship["Product_list"][0]["numberOfPieces"] = json!(1001);
    ship["Product_list"][0]["weight"] = json!(20020);
    let (body, id) = sign_record(chain, importer, ship);
    let r = refuse(1, &body);
    assert!(r["field"].as_str().unwrap().ends_with("numberOfPieces"), "{r}");
    let rule = r["rule"].as_str().unwrap();
    assert!(rule.contains("1001 pieces") && rule.contains("has 1000 pieces"), "the rule should say what is held: {rule}");
    refused_ids.push(id);

    // A product batch whose quarantine certificate number is no such number.
    let mut batch = record_of("stock the imported batch");
    batch["quarantineInfo"]["quarantineNumber"] = json!("13030022600012");
    batch["traceCode"] = json!("0106901234001235101BY9067");
    let (body, id) = sign_record(chain, importer, batch);
    let r = refuse(2, &body);
    assert_eq!(r["field"], "record.quarantineInfo.quarantineNumber", "{r}");
    assert!(r["rule"].as_str().unwrap().contains("15, 18 or 21 digits"), "{r}");
    refused_ids.push(id);

    // An enterprise enrolling an enterprise: only bureaus enrol.
    let mut enrol = all.iter().find(|s| s.record["type"] == "enterprise").unwrap().record.clone();
    enrol["Ent_name"] = json!("未经登记的冷链公司");
    let (body, id) = sign_record(chain, importer, enrol);
    let r = refuse(3, &body);
    assert_eq!(r["field"], "signer", "{r}");
    assert!(r["rule"].as_str().unwrap().contains("bureau"), "{r}");
    refused_ids.push(id);

    for node in 0..4 {
        assert_eq!(counts(&state_of(&c, node).unwrap()), counts(&before), "node {node} stored something of a refused record");
    }
    // The real shipment goes through, in a block after the refusals: one new
    // movement, and still none of the refused.
    let (body, id) = sign_record(chain, importer, record_of("ship 800 cartons"));
    let h = submit_applied(&c, 0, &body, &id);
    c.wait_height(&[0, 1, 2, 3], h, LONG);
    let (_, after) = agreed_state(&c, &[0, 1, 2, 3], h);
    let [e, l, m, k, rej] = counts(&before);
    assert_eq!(counts(&after), [e, l, m + 1, k, rej], "before {before:#}\nafter {after:#}");
    for id in &refused_ids {
        for node in 0..4 {
            let (code, env) = get(&c.url(node, &format!("/v1/tx/{id}")));
            assert_eq!(code, 404, "refused transaction {id} is known to node {node}: {env}");
        }
    }

    // EPCIS 2.0 capture (issue 20), by an app id Hebei's bureau issued to the
    // importer: a document with one bad event is refused whole, naming the
    // event, and stores nothing; the good event alone is captured as a
    // shipment and its vehicle; the trace exports as EPCIS.
    let key_file = c.dir.path().join("hebei").join("admin.key");
    let appid = "he-caofeidian-erp";
    let out = run_cli(&[
        "app",
        "issue",
        "--gateway",
        &c.nodes[2].gateway,
        "--key",
        path_str(&key_file),
        "--appid",
        appid,
        "--uscc",
        &scenario::uscc("hebei-importer"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let secret = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    let capture = |node: usize, events: Vec<Value>| -> (u16, Value) {
        let target = "/epcis/capture?wait=finalized";
        let doc = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"coldchain": "urn:coldchain:epcis:"}],
                         "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-24T02:00:00Z", "epcisBody": {"eventList": events}});
        let body = serde_json::to_vec(&doc).unwrap();
        let (timestamp, nonce) = (chrono::Utc::now().timestamp_millis().to_string(), hex::encode(rand::random::<[u8; 12]>()));
        let signature = coldchain_node::gateway::apps::sign_request(&secret, appid, &timestamp, &nonce, "POST", target, &body);
        let mut resp = agent()
            .post(&c.url(node, target))
            .header("content-type", "application/ld+json")
            .header("appid", appid)
            .header("timestamp", &timestamp)
            .header("nonce", &nonce)
            .header("signature", &signature)
            .send(&body[..])
            .unwrap();
        (resp.status().as_u16(), resp.body_mut().read_json().unwrap_or(Value::Null))
    };
    let (importer_uscc, storage_uscc) = (scenario::uscc("hebei-importer"), scenario::uscc("tianjin-storage"));
    let gtin = coldchain_chaincode::identifiers::gtin_with_check(scenario::GTIN_BODY);
    let shipping = |number: &str, pieces: u64| {
        json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
               "eventTime": format!("{}T00:30:00+08:00", today()), "eventTimeZoneOffset": "+08:00",
               "readPoint": {"id": format!("urn:coldchain:enterprise:{importer_uscc}")},
               "bizTransactionList": [{"type": "desadv", "bizTransaction": format!("urn:coldchain:document:{importer_uscc}:shipment:{number}")}],
               "sourceList": [{"type": "owning_party", "source": format!("urn:coldchain:party:{importer_uscc}")}],
               "destinationList": [{"type": "owning_party", "destination": format!("urn:coldchain:party:{storage_uscc}")}],
               "quantityList": [{"epcClass": format!("https://id.gs1.org/01/{gtin}/10/L1"), "quantity": pieces},
                                {"epcClass": format!("https://id.gs1.org/01/{gtin}/10/L1"), "quantity": pieces * 20, "uom": "KGM"}],
               "coldchain:vehicles": [{"licensePlate": "冀B54321", "driverName": "钱师傅"}]})
    };
    let before_capture = state_of(&c, 2).unwrap();
    // The importer holds 200 after the 800 shipped: 100, then 500 more, is too many.
    let (code, env) = capture(2, vec![shipping("HE-SO-0002", 100), shipping("HE-SO-0003", 500)]);
    assert_eq!((code, env["result"]["error"].as_str()), (422, Some("rule_violated")), "{env}");
    assert_eq!(env["result"]["field"], "epcisBody.eventList[1].quantityList", "{env}");
    assert!(env["result"]["rule"].as_str().unwrap().contains("takes 500 pieces"), "{env}");
    assert_eq!(counts(&state_of(&c, 2).unwrap()), counts(&before_capture), "nothing of the refused document is stored");
    // At another bureau's node: the app id is served by Hebei's.
    let (code, env) = capture(1, vec![shipping("HE-SO-0002", 100)]);
    assert_eq!((code, env["result"]["error"].as_str()), (403, Some("wrong_node")), "{env}");
    let (code, env) = capture(2, vec![shipping("HE-SO-0002", 100)]);
    assert_eq!(code, 200, "{env}");
    let kinds: Vec<&str> = env["result"]["records"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["shipment", "vehicle"], "{env}");
    assert!(env["result"]["records"].as_array().unwrap().iter().all(|r| r["state"] == "finalized" && r["event"] == 0), "{env}");
    let [e, l, m, k, rej] = counts(&before_capture);
    assert_eq!(counts(&state_of(&c, 2).unwrap()), [e, l, m + 1, k, rej]);
    let path = format!("/v1/trace?scheme=HE-GS1&code={}&direction=both&format=epcis", scenario::HEBEI_CODE);
    let (code, media, bytes) = get_raw_with(&c.url(2, &path), &c.signed_read(2, &path, &admin_key(&c, "hebei")));
    assert_eq!((code, media.as_str()), (200, "application/ld+json"), "{}", String::from_utf8_lossy(&bytes));
    let exported: Value = serde_json::from_slice(&bytes).unwrap();
    let events = exported["epcisBody"]["eventList"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["bizStep"] == "shipping" && e["coldchain:vehicles"][0]["licensePlate"] == "冀B54321"),
        "the captured shipment is in the export: {exported:#}"
    );
    // The lot's whole history, from its certificate: the same events.
    let path = format!("/v1/lots/{}/{}?format=epcis", scenario::QUARANTINE_NUMBER, scenario::CERT_BATCH);
    let (code, media, bytes) = get_raw_with(&c.url(2, &path), &c.signed_read(2, &path, &admin_key(&c, "hebei")));
    assert_eq!((code, media.as_str()), (200, "application/ld+json"), "{}", String::from_utf8_lossy(&bytes));
    let history: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(history["epcisBody"]["eventList"].as_array().unwrap().len(), events.len(), "{history:#}");
    let out = run_cli(&[
        "trace",
        "--gateway",
        &c.nodes[2].gateway,
        "--key",
        path_str(&key_file),
        "--scheme",
        "HE-GS1",
        scenario::HEBEI_CODE,
        "--format",
        "epcis",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["epcisBody"]["eventList"].as_array().unwrap().len(), events.len(), "coldchain trace --format epcis");

    // A positive nucleic-acid test stops the goods (seed 000 §二.5): the
    // importer re-submits its product batch with the result; the chain
    // raises an alert for Hebei, streamed to Hebei's bureau, and the next
    // shipment of the lot is refused naming the line and the result.
    let hebei = admin_key(&c, "hebei");
    let stream =
        subscribe_alerts(&c.nodes[2].gateway, c.signed_read(2, "/v1/alerts/stream", &hebei), "alert", Instant::now() + Duration::from_secs(120));
    let mut positive = record_of("stock the imported batch");
    positive["nucleicInfo"]["naResult"] = json!("阳性");
    let (body, id) = sign_record(chain, importer, positive);
    let h = submit_applied(&c, 2, &body, &id);
    c.wait_height(&[0, 1, 2, 3], h, LONG);
    let streamed = stream.join().unwrap();
    assert!(streamed.contains(&format!("\"tx_id\":\"{id}\"")), "the chain's alert was not streamed: {streamed}");
    let (code, env) = c.read_as(2, &format!("/v1/alerts/{id}"), Some(&hebei));
    assert_eq!(code, 200, "{env}");
    assert_eq!(env["result"]["alert"]["province"], "130000", "{env}");
    assert!(env["result"]["alert"]["reason"].as_str().unwrap().contains("核酸检测阳性"), "{env}");
    let mut ship = record_of("ship 800 cartons");
    ship["Send_number"] = json!("HE-SO-9998");
    ship["Product_list"][0]["numberOfPieces"] = json!(10);
    ship["Product_list"][0]["weight"] = json!(200);
    let (body, _) = sign_record(chain, importer, ship);
    let r = refuse(0, &body);
    assert_eq!(r["field"], "record.Product_list[0]", "{r}");
    assert!(r["rule"].as_str().unwrap().contains("is stopped: nucleic-acid test positive"), "{r}");
    eprintln!("refusals checked in {:?}", started.elapsed());
}

#[test]
fn an_alert_warns_associated_holders_and_closes_only_when_every_province_has_acted() {
    let started = Instant::now();
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    // The batch enters in Hebei and 798 cartons (15,960 kg) reach Tianjin.
    let story = run_story(&c, 5);
    c.wait_height(&[0, 1, 2, 3], story.steps.iter().map(|s| s.height).max().unwrap(), LONG);
    let chain = &story.chain_id;
    let all = scenario::steps(today(), |label| hex::encode(story.keys[label].verifying_key().to_bytes()));
    let importer = &story.keys["hebei-importer"];
    // A second batch of the same entry certificate stays at the Hebei importer.
    let mut second = all.iter().find(|s| s.note.starts_with("stock the imported batch")).unwrap().record.clone();
    second["batch"] = json!("L2");
    second["quarantineInfo"]["batch"] = json!("BY9067");
    second["traceCode"] = json!("0106901234001235101BY9067");
    for (k, v) in [("Number_of_pieces", 100), ("weight", 2000), ("inventory", 100), ("inventoryWeight", 2000)] {
        second[k] = json!(v);
    }
    let (body, id) = sign_record(chain, importer, second);
    submit_applied(&c, 2, &body, &id);

    // Beijing's bureau raises an alert on the first batch; Hebei's bureau,
    // watching its node's stream, is warned of the second.
    let (beijing, tianjin, hebei) = (admin_key(&c, "beijing"), admin_key(&c, "tianjin"), admin_key(&c, "hebei"));
    let stream = subscribe_alerts(&c.nodes[2].gateway, c.signed_read(2, "/v1/alerts/stream", &hebei), "warning", Instant::now() + LONG);
    let alert = json!({"type": "alert", "scheme": "HE-GS1", "code": scenario::HEBEI_CODE, "reason": "核酸阳性", "testedAt": today().to_string(), "lab": "北京市疾控中心"});
    let (body, alert_id) = sign_record(chain, &beijing, alert);
    submit_applied(&c, 0, &body, &alert_id);
    let streamed = stream.join().unwrap();
    let at = streamed.find("event: warning\n").unwrap_or_else(|| panic!("no `event: warning` on Hebei's stream; got:\n{streamed}"));
    let event = &streamed[at..at + streamed[at..].find("\n\n").unwrap()];
    assert!(event.contains(&format!("\"tx_id\":\"{alert_id}\"")) && event.contains("\"certificate_batch\":\"BY9067\""), "{event}");
    assert!(event.contains("\"same_certificate\""), "{event}");

    // GET /v1/warnings: Hebei's bureau is warned, with its holder's phone in full;
    // Tianjin's is not, and sees Hebei's holder masked when it asks for the alert's.
    let (code, env) = c.read_as(2, "/v1/warnings", Some(&hebei));
    assert_eq!(code, 200, "{env}");
    let list = env["result"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{env}");
    assert_eq!((list[0]["reason"].as_str(), list[0]["provinces"].clone()), (Some("same_certificate"), json!(["130000"])), "{env}");
    assert_eq!(list[0]["holders"][0]["uscc"], scenario::uscc("hebei-importer").as_str(), "{env}");
    let phone = list[0]["holders"][0]["contact_phone"].as_str().unwrap().to_string();
    assert!(!phone.contains('*'), "{env}");
    let (code, env) = c.read_as(1, "/v1/warnings", Some(&tianjin));
    assert_eq!((code, env["result"].as_array().map(Vec::len)), (200, Some(0)), "{env}");
    let by_alert = format!("/v1/warnings?alert={alert_id}");
    let (code, env) = c.read_as(1, &by_alert, Some(&tianjin));
    assert_eq!(code, 200, "{env}");
    assert!(env["result"][0]["holders"][0]["contact_phone"].as_str().unwrap().contains('*'), "{env}");
    assert_eq!(c.read_as(1, "/v1/warnings?alert=xyz", Some(&tianjin)).1["result"]["field"], "alert");
    assert_eq!(c.read_as(1, "/v1/warnings", Some(importer)).0, 403);

    // The closed loop: a disposal names its weight; Beijing cannot close
    // while Tianjin and Hebei, where the goods are, have not acted.
    let refuse = |node: usize, key: &ed25519_dalek::SigningKey, record: Value| -> Value {
        let (body, _) = sign_record(chain, key, record);
        let (code, env) = post(&c.url(node, "/v1/records?wait=finalized"), &body);
        assert_eq!(code, 422, "{env}");
        env["result"].clone()
    };
    let disposal = |state: &str, kg: Option<u64>| {
        let mut d = json!({"type": "alert_disposal", "alertId": alert_id, "state": state});
        if let Some(kg) = kg {
            d["weightKg"] = json!(kg);
        }
        d
    };
    let r = refuse(2, &hebei, disposal("sealed", None));
    assert_eq!(r["field"], "record.weightKg", "{r}");
    let r = refuse(0, &beijing, disposal("closed", None));
    assert_eq!(r["field"], "record.state", "{r}");
    assert!(r["rule"].as_str().unwrap().contains("province(s) 120000, 130000 received goods of the lot and recorded no disposal"), "{r}");
    for (node, key, kg) in [(1, &tianjin, 15_960), (2, &hebei, 4_000)] {
        let (body, id) = sign_record(chain, key, disposal("sealed", Some(kg)));
        submit_applied(&c, node, &body, &id);
    }
    let (code, env) = c.read_as(0, &format!("/v1/alerts/{alert_id}"), Some(&beijing));
    assert_eq!(code, 200, "{env}");
    let accounts = &env["result"]["accounts"];
    let shares: Vec<(&str, &str, &str, &str)> = accounts["provinces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["province"].as_str().unwrap(),
                a["stayed_kg"].as_str().unwrap(),
                a["sealed_kg"].as_str().unwrap(),
                a["unaccounted_kg"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(shares, [("120000", "15960", "15960", "0"), ("130000", "4040", "4000", "40")], "{accounts:#}");
    assert_eq!(accounts["unaccounted_kg"], "40");
    let (body, id) = sign_record(chain, &beijing, disposal("closed", None));
    submit_applied(&c, 0, &body, &id);
    let (_, env) = c.read_as(3, &format!("/v1/alerts/{alert_id}"), Some(&hebei));
    assert_eq!(env["result"]["alert"]["state"], "closed", "{env}");

    // Issue 19: Beijing's admin key is rotated by three bureaus (the
    // quorum), two of them on other nodes. The old key then signs and reads
    // nothing; the new key reads as Beijing; GET /v1/governance shows it all.
    let new_beijing = ed25519_dalek::SigningKey::from_bytes(&[77u8; 32]);
    let rotation = json!({"type": "governance", "change": "rotate_admin_key", "province": "110000",
                          "adminKey": hex::encode(new_beijing.verifying_key().to_bytes())});
    // Tianjin proposes and Hebei approves with `coldchain governance`,
    // Beijing approves with a record of its own; `status` shows the change
    // pending between.
    let key_file = |bureau: &str| c.dir.path().join(bureau).join("admin.key").to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let out = run_cli(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "coldchain {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let new_hex = hex::encode(new_beijing.verifying_key().to_bytes());
    let (tj_gateway, he_gateway) = (c.nodes[1].gateway.as_str(), c.nodes[2].gateway.as_str());
    cli(&["governance", "propose", "--gateway", tj_gateway, "--key", &key_file("tianjin"), "--province", "110000", "--admin-key", &new_hex]);
    c.wait_height(&[2], c.height(1).unwrap(), LONG);
    let status = cli(&["governance", "status", "--gateway", he_gateway]);
    assert!(status.contains("pending, 1 of 3 approvals; approved by 120000"), "{status}");
    let digest = status.split_whitespace().next().unwrap().to_string();
    cli(&["governance", "approve", "--gateway", he_gateway, "--key", &key_file("hebei"), &digest]);
    let (body, id) = sign_record(chain, &beijing, rotation.clone());
    let activated = submit_applied(&c, 0, &body, &id);
    c.wait_height(&[3], activated, LONG);
    let (code, env) = c.read_as(3, "/v1/governance", None);
    assert_eq!(code, 200, "{env}");
    let change = &env["result"][0];
    assert_eq!((change["status"].as_str(), change["activated_height"].as_u64()), (Some("in_effect"), Some(activated)), "{env}");
    let approvers: Vec<&str> = change["approvals"].as_array().unwrap().iter().map(|a| a["province"].as_str().unwrap()).collect();
    assert_eq!(approvers, ["120000", "130000", "110000"], "{env}");
    assert_eq!(change["previous_key"], hex::encode(beijing.verifying_key().to_bytes()), "{env}");
    assert_eq!(c.read_as(0, "/v1/alerts", Some(&beijing)).0, 401, "the retired key reads nothing");
    let (code, env) = c.read_as(0, &format!("/v1/alerts/{alert_id}"), Some(&new_beijing));
    assert_eq!((code, env["result"]["alert"]["state"].as_str()), (200, Some("closed")), "the new key reads as Beijing: {env}");
    let r = refuse(0, &beijing, json!({"type": "notarise", "document": {"after": "rotation"}}));
    assert_eq!(r["field"], "signer.public_key", "{r}");
    assert!(r["rule"].as_str().unwrap().starts_with(&format!("was bureau 110000's admin key until height {activated}")), "{r}");
    eprintln!("warnings, the closed loop and a key rotation checked in {:?}", started.elapsed());
}

#[test]
fn national_interfaces_authenticate_clients_and_refuse_duplicates() {
    let started = Instant::now();
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    let chain = c.chain_id();
    let (client, secret) = ("hebei-report-01", "s3cret-of-hebei");
    let credential = Hash::digest(format!("{client}:{secret}").as_bytes()).to_hex();
    let (body, id) =
        sign_record(&chain, &admin_key(&c, "hebei"), json!({"type": "report_client", "clientId": client, "credentialSha256": credential}));
    let h = submit_applied(&c, 2, &body, &id);
    c.wait_height(&[3], h, LONG);

    use base64::Engine;
    let basic = |secret: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}")));
    let auth = basic(secret);
    let steps = scenario::steps(today(), |_| hex::encode([1u8; 32]));
    let body_of = |kind: &str| {
        let mut r = steps.iter().find(|s| s.record["type"] == kind).unwrap().record.clone();
        r.as_object_mut().unwrap().remove("type");
        r
    };
    let number = "130300226000765432001";
    let mut certificate = body_of("certificate_report");
    certificate["quarantineNumber"] = json!(number);
    let cert_url = c.url(3, "/cold-chain-tracing/certification.register");

    // An import source type not in the dictionary is refused, naming the field and the dictionary.
    let mut unknown_source = certificate.clone();
    unknown_source["sourceType"] = json!("99x");
    let (code, env) = post_with(&cert_url, &[("authorization", &auth)], &unknown_source);
    assert_eq!(code, 422, "{env}");
    assert_eq!(env["result"]["field"], "record.sourceType", "{env}");
    assert!(env["result"]["rule"].as_str().unwrap().contains("dictionary `source_type`"), "{env}");
    certificate["sourceType"] = json!("一般贸易");

    let (code, env) = post_with(&cert_url, &[("authorization", &auth)], &certificate);
    assert_eq!(code, 200, "{env}");
    assert_eq!(env["result"]["client_id"], client, "{env}");
    let tx_id = env["result"]["tx_id"].as_str().unwrap().to_string();
    let tx = get_ok(&c.url(3, &format!("/v1/tx/{tx_id}")));
    assert_eq!(tx["outcome"]["status"], "applied", "{tx}");
    assert_eq!(tx["transaction"]["record"]["type"], "certificate_report");
    assert_eq!(tx["transaction"]["record"]["clientId"], client);
    assert_eq!(tx["transaction"]["record"]["sourceType"], "一般贸易");

    // The same certificate again the same day: a duplicate.
    let (code, env) = post_with(&cert_url, &[("authorization", &auth)], &certificate);
    assert_eq!(code, 422, "{env}");
    assert!(env["result"]["field"].as_str().unwrap().ends_with("quarantineNumber"), "{env}");
    let rule = env["result"]["rule"].as_str().unwrap();
    assert!(rule.contains("already reported") && rule.contains("one report a day"), "{rule}");

    // Bad credentials, no credentials.
    let mut other = certificate.clone();
    other["quarantineNumber"] = json!("130300226000765432002");
    let (code, env) = post_with(&cert_url, &[("authorization", &basic("not-the-secret"))], &other);
    assert_eq!((code, env["result"]["error"].clone()), (401, json!("unauthorized")), "{env}");
    let (code, env) = post_with(&cert_url, &[], &other);
    assert_eq!((code, env["result"]["error"].clone()), (401, json!("unauthorized")), "{env}");

    // A flow of a certificate and batch nobody reported: refused (on
    // Beijing's node, once it has the client and the certificate).
    c.wait_height(&[0], tx["height"].as_u64().unwrap(), LONG);
    let flow_url = c.url(0, "/cold-chain-tracing/statistical.info.register");
    let mut flow = body_of("flow_report");
    flow["quarantineNumber"] = json!("130300226000111111001");
    flow["productionBatch"] = json!("NOSUCH1");
    let (code, env) = post_with(&flow_url, &[("authorization", &auth)], &flow);
    assert_eq!(code, 422, "{env}");
    assert!(env["result"]["field"].as_str().unwrap().ends_with("productionBatch"), "{env}");
    assert!(env["result"]["rule"].as_str().unwrap().contains("no certificate"), "{env}");
    // The flow of the certificate just reported (with its batch) is taken.
    flow["quarantineNumber"] = json!(number);
    flow["productionBatch"] = certificate["productionBatch"].clone();
    let (code, env) = post_with(&flow_url, &[("authorization", &auth)], &flow);
    assert_eq!(code, 200, "{env}");

    // Revoked: its holder is told so; anyone guessing gets the answer an
    // unknown client id gets, so client ids cannot be probed.
    let (body, id) = sign_record(
        &chain,
        &admin_key(&c, "hebei"),
        json!({"type": "report_client", "clientId": client, "credentialSha256": credential, "revoked": true}),
    );
    let h = submit_applied(&c, 2, &body, &id);
    c.wait_height(&[3], h, LONG);
    let (code, env) = post_with(&cert_url, &[("authorization", &auth)], &other);
    assert_eq!(code, 401, "{env}");
    assert!(env["message"].as_str().unwrap().contains("revoked"), "{env}");
    let (_, guessed) = post_with(&cert_url, &[("authorization", &basic("a-guess"))], &other);
    let unknown = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("no-such-client:a-guess"));
    let (_, nobody) = post_with(&cert_url, &[("authorization", &unknown)], &other);
    assert_eq!((guessed["code"].clone(), guessed["message"].clone()), (nobody["code"].clone(), nobody["message"].clone()), "{guessed} vs {nobody}");
    eprintln!("national interfaces checked in {:?}", started.elapsed());
}

/// A 2×2 RGB PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
    0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0x00, 0x04,
    0x60, 0x82, 0xe1, 0xff, 0x7f, 0x00, 0x17, 0xf6, 0x03, 0xfd, 0x47, 0x7a, 0x61, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

#[test]
fn an_image_stays_on_the_receiving_node_with_its_digest_on_chain() {
    let started = Instant::now();
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    let chain = c.chain_id();
    let keys = story_keys();
    let steps = scenario::steps(today(), |label| hex::encode(keys[label].verifying_key().to_bytes()));
    let record_of = |note: &str, label: &str| {
        steps
            .iter()
            .find(|s| s.note == note && (s.record["Unif_soci_cred_code"] == scenario::uscc(label).as_str() || note != "enrol an enterprise"))
            .unwrap()
            .record
            .clone()
    };
    // Hebei enrols the importer.
    let (body, id) = sign_record(&chain, &admin_key(&c, "hebei"), record_of("enrol an enterprise", "hebei-importer"));
    let h = submit_applied(&c, 2, &body, &id);
    c.wait_height(&[1], h, LONG);

    // The importer's product, with a photo, through Tianjin's node.
    use base64::Engine;
    let mut product = record_of("product category", "hebei-importer");
    product["Product_img"] = json!(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(PNG)));
    let (body, id) = sign_record(&chain, &keys["hebei-importer"], product);
    assert!(body["record"]["Product_img"].as_str().unwrap().starts_with("data:image/png;base64,"), "the request carries the image");
    submit_applied(&c, 1, &body, &id);

    let digest = Hash::digest(PNG).to_hex();
    let tx = get_ok(&c.url(1, &format!("/v1/tx/{id}")));
    assert_eq!(tx["transaction"]["record"]["Product_img"], format!("sha256:{digest}"), "{tx:#}");
    // Kept once its record is final (the node settles staged images after each block).
    let (code, media, bytes) = wait_for("the product image kept", LONG, || {
        let answer = get_raw(&c.url(1, &format!("/v1/images/{digest}")));
        (answer.0 != 404).then_some(answer)
    });
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(!c.dir.path().join(format!("tianjin/data/images/staged/{id}")).exists(), "the staged copy is gone once the image is kept");
    assert_eq!(media, "image/png");
    assert_eq!(bytes, PNG, "the node returns the exact image bytes");
    let resp = agent().get(&c.url(1, &format!("/v1/images/{digest}"))).call().unwrap();
    assert_eq!(resp.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    assert!(resp.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("sandbox")));

    // Nobody hosts files on the node: an image in a notarise (a record type
    // without image fields), or from a key no bureau enrolled, is refused
    // and nothing is written.
    let stored = || std::fs::read_dir(c.dir.path().join("tianjin/data/images")).map(|d| d.count()).unwrap_or(0);
    let before = stored();
    assert!(before >= 1, "the accepted image is in tianjin/data/images");
    let blob = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode([PNG, b"other"].concat()));
    let notarise =
        coldchain_chaincode::Transaction::sign(&chain, 5, json!({"type": "notarise", "document": {"Product_img": blob}}), &keys["hebei-importer"]);
    let (code, env) = post(&c.url(1, "/v1/records"), &serde_json::to_value(&notarise).unwrap());
    assert_eq!((code, env["result"]["error"].as_str(), env["result"]["field"].as_str()), (400, Some("invalid_image"), Some("record.type")), "{env}");
    let mut product = record_of("product category", "hebei-importer");
    product["Product_img"] = json!(blob);
    let (body, _) = sign_record(&chain, &enterprise_key(77), product);
    let (code, env) = post(&c.url(1, "/v1/records"), &body);
    assert_eq!(
        (code, env["result"]["error"].as_str(), env["result"]["field"].as_str()),
        (400, Some("invalid_image"), Some("signer.public_key")),
        "{env}"
    );
    assert_eq!(stored(), before, "no file written for a refused image");

    // An image in a record with contacts (the importer's licence in a new
    // enrolment of Hebei's bureau) is served to whoever may see that record
    // in full: the enterprise and its bureau, not the public or another
    // province's bureau.
    let licence = [PNG, b"licence"].concat();
    let mut enrolment = record_of("enrol an enterprise", "hebei-importer");
    enrolment["Ent_img"] = json!(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&licence)));
    let (body, id) = sign_record(&chain, &admin_key(&c, "hebei"), enrolment);
    submit_applied(&c, 1, &body, &id);
    let path = format!("/v1/images/{}", Hash::digest(&licence).to_hex());
    let (code, env) = wait_for("the licence kept", LONG, || {
        let answer = c.read_as(1, &path, None);
        (answer.0 != 404).then_some(answer)
    });
    assert_eq!((code, env["result"]["error"].as_str()), (403, Some("forbidden")), "the public: {env}");
    assert_eq!(c.read_as(1, &path, Some(&admin_key(&c, "beijing"))).0, 403, "another province's bureau, outside an alert");
    let (code, media, bytes) = get_raw_with(&c.url(1, &path), &c.signed_read(1, &path, &keys["hebei-importer"]));
    assert_eq!((code, media.as_str(), bytes.as_slice()), (200, "image/png", licence.as_slice()), "the enterprise itself");
    assert_eq!(get_raw_with(&c.url(1, &path), &c.signed_read(1, &path, &admin_key(&c, "hebei"))).0, 200, "its bureau");
    eprintln!("image checked in {:?}", started.elapsed());
}
