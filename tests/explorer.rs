//! The explorer page (`GET /`) in a real browser, against four real nodes.
//!
//! Starts a local consortium, plays the demo story up to just before the
//! alert, and drives headless Chromium through the DevTools protocol over a
//! pipe (`--remote-debugging-pipe`: messages are JSON ended by a NUL byte on
//! the browser's file descriptors 3 and 4; no WebSocket, no extra crate).
//! The officer's path: the page shows the four bureaus up and the latest
//! blocks; typing the Beijing retail code and pressing Trace draws the
//! custody graph (an inline SVG with a box per enterprise) and the table of
//! enterprises and what they hold; the alert and the disposals, submitted
//! through another node while the page stays open, appear live from the
//! server-sent event stream; a step's transaction view verifies its proof in
//! the browser (SHA-256 and Ed25519 from WebCrypto), also against the
//! genesis file chosen in the file input; the page's verifier accepts the
//! proof of every story record and refuses tampered ones, naming the check.
//! A screenshot goes to docs/explorer.png.
//!
//! Needs Chromium (`apt-get install chromium`, or `CHROMIUM=/path/to/chrome`);
//! without it the test fails, saying so.

mod common;

use base64::Engine as _;
use coldchain_chaincode::{Transaction, scenario};
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(120);
/// How long the page may take to show something after it was asked to.
const PAGE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Chromium over the DevTools protocol
// ---------------------------------------------------------------------------

/// `$CHROMIUM`, else the first of the usual names on `PATH`.
fn find_chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the explorer test needs Chromium and found none of {names:?} on PATH: install it \
         (Debian/Ubuntu: `apt-get install -y chromium`) or set CHROMIUM=/path/to/chromium"
    );
}

struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: Receiver<Value>,
    next_id: u64,
    session: String,
    /// JavaScript exceptions and console or network errors the page reported.
    errors: Vec<String>,
    /// The browser's standard error, shown when the test fails.
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and opens one tab of
    /// 1280×900 pixels.
    fn launch(binary: &PathBuf, log: PathBuf) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // The shell puts our pipes on descriptors 3 (commands in) and 4
        // (answers out), where --remote-debugging-pipe expects them.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(binary)
            .args([
                "--headless=new",
                "--no-sandbox", // tests often run as root, where the sandbox cannot start
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--window-size=1280,900",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display())))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let to_browser = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, from_browser) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            while out.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        let mut b = Browser { child, to_browser, from_browser, next_id: 0, session: String::new(), errors: Vec::new(), log, _profile: profile };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
        b.session = attached["sessionId"].as_str().expect("a session id").to_string();
        b.call("Emulation.setDeviceMetricsOverride", json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}));
        b.call("Runtime.enable", json!({}));
        b.call("Log.enable", json!({}));
        b.call("Page.enable", json!({}));
        b
    }

    /// Sends one command (to the tab once attached) and waits for its answer,
    /// keeping the errors reported by events on the way.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap_or_else(|e| panic!("{method}: the browser is gone ({e})"));
        let deadline = Instant::now() + PAGE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match self.from_browser.recv_timeout(left) {
                Ok(v) => v,
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer from the browser in {PAGE:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: the browser exited"),
            };
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
            self.note_event(&v);
        }
    }

    fn note_event(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let d = &v["params"]["exceptionDetails"];
                self.errors.push(format!("exception: {} {}", d["text"], d["exception"]["description"]));
            }
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                let e = &v["params"]["entry"];
                self.errors.push(format!("{}: {} {}", e["source"], e["text"], e["url"]));
            }
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                self.errors.push(format!("console.error: {}", v["params"]["args"]));
            }
            _ => {}
        }
    }

    fn navigate(&mut self, url: &str) {
        let r = self.call("Page.navigate", json!({"url": url}));
        assert!(r.get("errorText").is_none(), "navigating to {url}: {r}");
    }

    /// Evaluates an expression in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}));
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating {expression}:\n{}", e["exception"]["description"].as_str().unwrap_or(&e.to_string()));
        }
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it gives something other than null, false or
    /// undefined; panics at the deadline with what the page shows.
    fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + PAGE;
        loop {
            let v = self.eval(expression);
            if !(v.is_null() || v == false) {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.eval("document.body.innerText");
                panic!("timed out after {PAGE:?} waiting for the page to show {what}; it shows:\n{}", text.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&mut self, selector: &str) -> String {
        self.eval(&format!("(document.querySelector({selector:?}) || {{}}).innerText || ''")).as_str().unwrap_or("").to_string()
    }

    /// Types `text` into the field `selector` as a user would.
    fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!("(() => {{ const e = document.querySelector({selector:?}); e.value = ''; e.focus(); }})()"));
        self.call("Input.insertText", json!({"text": text}));
    }

    fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("---- last lines of chromium's log ----\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        let mut bytes = serde_json::to_vec(&json!({"id": 0, "method": "Browser.close"})).unwrap();
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The demo story, wave by wave (as tests/trace.rs plays it)
// ---------------------------------------------------------------------------

struct Story {
    chain_id: String,
    steps: Vec<scenario::Step>,
    keys: BTreeMap<&'static str, SigningKey>,
    admins: BTreeMap<&'static str, SigningKey>,
    alert_id: Option<String>,
    /// (note, transaction id) of every step submitted so far.
    done: Vec<(&'static str, String)>,
    top: u64,
}

impl Story {
    fn new(c: &Cluster) -> Story {
        let keys: BTreeMap<&str, SigningKey> = scenario::ENTERPRISES.iter().enumerate().map(|(i, e)| (e.0, enterprise_key(40 + i as u8))).collect();
        let admins = ["beijing", "tianjin", "hebei"]
            .into_iter()
            .map(|b| (b, coldchain_node::crypto::read_key_file(&c.dir.path().join(b).join("admin.key")).unwrap()))
            .collect();
        let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
        let steps = scenario::steps(today, |label| hex::encode(keys[label].verifying_key().to_bytes()));
        Story { chain_id: c.chain_id(), steps, keys, admins, alert_id: None, done: Vec::new(), top: 0 }
    }

    /// Submits the waves, each through node `wave % 4` once it has the waves
    /// before, as one finalized batch; asserts every record was applied.
    fn run(&mut self, c: &Cluster, waves: RangeInclusive<u32>) {
        for wave in waves {
            let node = wave as usize % c.nodes.len();
            c.wait_height(&[node], self.top, LONG);
            let steps: Vec<&scenario::Step> = self.steps.iter().filter(|s| s.wave == wave).collect();
            let mut bodies = Vec::new();
            for step in &steps {
                let key = match step.signer {
                    scenario::Signer::Admin(b) => &self.admins[b],
                    scenario::Signer::Enterprise(l) => &self.keys[l],
                };
                let mut record = step.record.clone();
                if record.get("alertId").is_some() {
                    record["alertId"] = json!(self.alert_id.clone().expect("the alert comes before its disposals"));
                }
                let mut signed_form = record.clone();
                let images = coldchain_chaincode::images::extract(&mut signed_form).unwrap();
                let tx = Transaction::sign(&self.chain_id, coldchain_node::crypto::fresh_nonce(), signed_form, key);
                let mut body = serde_json::to_value(&tx).unwrap();
                if !images.is_empty() {
                    body["record"] = record;
                }
                bodies.push(body);
            }
            let (code, env) = post(&c.url(node, "/v1/records/batch?wait=finalized"), &Value::Array(bodies));
            assert_eq!(code, 200, "wave {wave}: {env}");
            for (step, r) in steps.iter().zip(env["result"]["results"].as_array().unwrap()) {
                assert_eq!(r["state"], "finalized", "wave {wave}, step \"{}\": {r}", step.note);
                let id = r["tx_id"].as_str().unwrap().to_string();
                let (_, tx) = get(&c.url(node, &format!("/v1/tx/{id}")));
                assert_eq!(tx["result"]["outcome"]["status"], "applied", "step \"{}\": {tx}", step.note);
                if step.record["type"] == "alert" {
                    self.alert_id = Some(id.clone());
                }
                self.top = self.top.max(r["height"].as_u64().unwrap());
                self.done.push((step.note, id));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn an_officer_traces_a_code_verifies_a_proof_and_sees_alerts_live_in_the_explorer() {
    let chromium = find_chromium();
    let started = Instant::now();
    let c = Cluster::start(4);
    let mut story = Story::new(&c);
    let alert_wave = story.steps.iter().find(|s| s.record["type"] == "alert").expect("the story raises an alert").wave;
    let last_wave = story.steps.iter().map(|s| s.wave).max().unwrap();
    story.run(&c, 1..=alert_wave - 1);
    c.wait_height(&[0], story.top, LONG);
    eprintln!("story up to the alert finalized after {:?}", started.elapsed());

    // The page itself: one HTML document, its script allowed by hash only.
    let mut resp = agent().get(&c.url(0, "/")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(csp.contains("script-src 'sha256-") && csp.contains("default-src 'none'"), "CSP: {csp}");
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let html = resp.body_mut().read_to_string().unwrap();
    assert!(html.contains("<main id=\"view\"") && !html.contains("EXPLORER_JS"), "{html:.300}");

    let log = c.dir.path().join("chromium.log");
    let mut b = Browser::launch(&chromium, log);
    b.navigate(&c.url(0, "/"));

    // Status: the four bureaus, all up, their provinces; the latest blocks.
    b.wait_for("four bureaus up", "document.querySelectorAll('#validators .tag.up').length === 4");
    b.eval("window.sameDocument = true");
    let validators = b.text("#validators");
    for name in ["beijing", "tianjin", "hebei", "national", "110000", "120000", "130000"] {
        assert!(validators.contains(name), "{name} missing from the validators:\n{validators}");
    }
    assert!(b.text("#chain-line").contains(&story.chain_id));
    b.wait_for("the latest blocks", "document.querySelectorAll('#blocks tbody tr').length >= 5");
    b.wait_for("the live alert stream connected", "document.querySelector('#live.on')");
    assert!(b.text("#alerts").contains("No alerts"), "{}", b.text("#alerts"));

    // Search the Beijing retail code, typed in as an officer would.
    let (scheme, code) = scenario::RETAIL;
    b.type_into("#scheme", scheme);
    b.type_into("#code", code);
    b.eval("document.querySelector('#search-button').click()");
    let boxes = b.wait_for("the trace graph", "document.querySelectorAll('#graph svg rect').length || null");
    assert!(boxes.as_u64().unwrap() >= 5, "one box per enterprise, got {boxes}");
    b.wait_for("the enterprises table", "document.querySelectorAll('table.enterprises tbody tr').length === 5");
    let enterprises = b.text("table.enterprises");
    for (_, _, name, ..) in scenario::ENTERPRISES {
        assert!(enterprises.contains(name), "{name} missing from the enterprises table:\n{enterprises}");
    }
    assert!(enterprises.contains("298 pcs"), "what the Tianjin store holds:\n{enterprises}");
    let codes = b.text("#trace");
    for linked in [scenario::HEBEI_CODE, scenario::TIANJIN_CODE, scenario::BEIJING_WHOLESALE_CODE] {
        assert!(codes.contains(linked), "linked code {linked} missing:\n{codes}");
    }
    assert_eq!(b.eval("document.querySelectorAll('table.steps tbody tr').length"), 6, "{}", b.text("table.steps"));
    let csv_href = b.eval("document.querySelector('#csv-link').href");
    let csv = agent().get(csv_href.as_str().unwrap()).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(csv.contains("天津东疆港冷链物流有限公司") && csv.lines().count() >= 7, "{csv}");

    // The alert and its disposals, submitted while the page stays open, reach
    // it from the event stream (the page does not poll alerts).
    story.run(&c, alert_wave..=last_wave);
    let alert_id = story.alert_id.clone().unwrap();
    b.wait_for("the alert, sealed", &format!("document.querySelector('#alerts .alert[data-id=\"{alert_id}\"][data-state=\"sealed\"]')"));
    b.wait_for("the public notice under the alert", "document.querySelector('#alerts').innerText.includes('Public notice')");
    let alerts = b.text("#alerts");
    assert!(alerts.contains(code) && alerts.contains("120000") && alerts.contains("1 open of 1"), "{alerts}");
    assert_eq!(b.eval("window.sameDocument"), true, "the page reloaded instead of updating live");

    let png = b.screenshot();
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/explorer.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());

    // The same lot from Hebei's code, by its link in the table of codes.
    b.eval(&format!("document.querySelector('table.codes a[href$=\"/{}\"]').click()", scenario::HEBEI_CODE));
    b.wait_for("the trace from the Hebei code", "(document.querySelector('#trace h2') || {}).innerText?.includes('HE-GS1')");
    b.wait_for("the same five enterprises", "document.querySelectorAll('table.enterprises tbody tr').length === 5");
    assert!(b.text("#route").contains("北京海淀区万家超市有限公司"), "{}", b.text("#route"));

    // A step's transaction: its record, and the proof verified in the browser.
    b.eval("document.querySelector('table.steps a[href^=\"#tx/\"]').click()");
    let valid = b.wait_for("the proof verdict", "(document.querySelector('#verdict') || {}).dataset?.valid || null");
    let verdict = b.text("#proof-result");
    assert_eq!(valid, "true", "{verdict}");
    assert!(verdict.contains("VALID") && verdict.contains("of the 4 bureaus"), "{verdict}");
    assert_eq!(b.eval("document.querySelectorAll('#proof-result .checks li.ok').length"), 6, "{verdict}");
    assert!(b.eval("!!document.querySelector('#download-proof')") == true);

    // The same proof against the genesis file the officer chooses.
    let doc = b.call("DOM.getDocument", json!({}));
    let input = b.call("DOM.querySelector", json!({"nodeId": doc["root"]["nodeId"], "selector": "#proof input[type=file]"}));
    b.call("DOM.setFileInputFiles", json!({"nodeId": input["nodeId"], "files": [c.genesis_path()]}));
    b.wait_for("the verdict against genesis.json", "document.querySelector('#proof-result').innerText.includes('your genesis file genesis.json')");
    assert_eq!(b.wait_for("the verdict", "(document.querySelector('#verdict') || {}).dataset?.valid || null"), "true", "{}", b.text("#proof-result"));

    // Every story record's proof verifies in the page (blocks of 1 to many
    // records, every leaf position), and tampered proofs are refused at the
    // check that catches them.
    let ids: Vec<&str> = story.done.iter().map(|(_, id)| id.as_str()).collect();
    let all = b.eval(&format!(
        "(async () => {{ const out = []; for (const id of {ids:?}) {{
            const env = await (await fetch('/v1/proofs/' + id)).json();
            const v = await coldchain.verifyProof(env.result, coldchain.state.anchor);
            out.push(v.ok ? 'ok' : id + ': ' + JSON.stringify(v.checks.find(c => c.ok === false)));
        }} return out; }})()"
    ));
    let failures: Vec<&Value> = all.as_array().unwrap().iter().filter(|v| *v != "ok").collect();
    assert!(failures.is_empty(), "proofs the page refused: {failures:#?}");
    assert_eq!(all.as_array().unwrap().len(), story.done.len());
    let tampered = b.eval(
        r#"(async () => {
            const p = coldchain.state.proof, anchor = coldchain.state.anchor, out = {};
            const first = async (name, change) => {
                const b = structuredClone(p); const a = structuredClone(anchor); change(b, a);
                const v = await coldchain.verifyProof(b, a);
                out[name] = v.ok ? 'accepted' : v.checks.findIndex(c => c.ok === false) + 1;
            };
            await first('untouched', () => {});
            await first('other chain', (b, a) => { a.chain_id = 'coldchain-other'; });
            await first('record changed', (b) => { b.transaction.record.changed = true; });
            await first('other leaf', (b) => { b.leaf_index = (b.leaf_index + 1) % Math.max(2, b.header.tx_count); if (b.header.tx_count < 2) b.header.tx_count = 2; });
            await first('certified header changed', (b) => { (b.links.length ? b.links[b.links.length - 1] : b.header).time_ms += 1; });
            await first('signature changed', (b) => { const s = b.finalization.signatures[0]; s.signature = (s.signature[0] === '0' ? '1' : '0') + s.signature.slice(1); });
            await first('one signature short', (b) => { b.finalization.signatures.pop(); });
            await first('same signer twice', (b) => { const s = b.finalization.signatures; s[1] = structuredClone(s[0]); });
            await first('unknown signer', (b) => { b.finalization.signatures[0].signer = 7; });
            await first('notarization', (b) => { b.finalization.kind = 'notarize'; });
            await first('other keys', (b, a) => { a.validators = [a.validators[1], a.validators[0], ...a.validators.slice(2)]; });
            return out;
        })()"#,
    );
    assert_eq!(
        tampered,
        json!({"untouched": "accepted", "other chain": 1, "record changed": 2, "other leaf": 3, "certified header changed": 5,
               "signature changed": 6, "one signature short": 6, "same signer twice": 6, "unknown signer": 6, "notarization": 6, "other keys": 6}),
        "the check (1-6) at which each tampered proof is refused"
    );

    // A proof whose certificate is a later block's (what `links` are for):
    // the first record's block, linked by the next headers up to one that
    // carries its own certificate. The page and `coldchain verify` both
    // accept it, and refuse it with a broken link.
    let linked = b.eval(&format!(
        r#"(async () => {{
            const get = async (path) => (await (await fetch(path)).json()).result;
            const p = await get('/v1/proofs/{first}');
            p.links = [];
            for (let h = p.header.height + 1; ; h++) {{
                const blk = await get('/v1/blocks/' + h);
                p.links.push(blk.header);
                if (blk.finality.certificate) {{ p.finalization = blk.finality.certificate; break; }}
            }}
            const bad = structuredClone(p);
            bad.links[0].parent = '00'.repeat(32);
            const [v, w] = [await coldchain.verifyProof(p, coldchain.state.anchor), await coldchain.verifyProof(bad, coldchain.state.anchor)];
            return {{ ok: v.ok, links: p.links.length, broken: w.checks.findIndex(c => c.ok === false) + 1, bundle: p }};
        }})()"#,
        first = ids[0]
    ));
    assert_eq!((&linked["ok"], &linked["broken"]), (&json!(true), &json!(4)), "{:#}", linked["bundle"]);
    let file = c.dir.path().join("linked-proof.json");
    std::fs::write(&file, serde_json::to_vec(&linked["bundle"]).unwrap()).unwrap();
    let out = run_cli(&["verify", "--genesis", path_str(&c.genesis_path()), path_str(&file)]);
    assert!(out.status.success(), "coldchain verify refuses what the page accepts: {}", String::from_utf8_lossy(&out.stdout));
    assert!(linked["links"].as_u64().unwrap() >= 1);

    // A block from the latest-blocks list.
    b.eval("location.hash = '#block/' + document.querySelector('#blocks tbody a').textContent.slice(1)");
    b.wait_for("the block view", "document.querySelector('#block h2')");
    // The alert's own record, from the alert card.
    b.eval(&format!("document.querySelector('#alerts .alert[data-id=\"{alert_id}\"] a[href=\"#tx/{alert_id}\"]').click()"));
    assert_eq!(b.wait_for("the alert's proof verdict", "(document.querySelector('#verdict') || {}).dataset?.valid || null"), "true");
    assert!(b.text("#tx").contains("alert"), "{}", b.text("#tx"));

    let errors = std::mem::take(&mut b.errors);
    assert!(errors.is_empty(), "the page reported errors:\n{}", errors.join("\n"));
    drop(b);
    eprintln!("explorer test done in {:?}", started.elapsed());
}
