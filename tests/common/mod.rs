//! A local consortium of real `coldchain node` processes for integration
//! tests: free ports from the OS (via `coldchain testnet`), waits by polling
//! with a deadline, SIGKILL and restart of single nodes.

#![allow(dead_code)]

pub mod verdicts;

pub mod schema;
pub mod story;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_coldchain");

/// Tests that start clusters run one at a time: on two shared cores,
/// parallel clusters would only test the scheduler.
static CLUSTER_LOCK: Mutex<()> = Mutex::new(());

pub fn cluster_lock() -> MutexGuard<'static, ()> {
    CLUSTER_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Node {
    pub name: String,
    pub gateway: String,
    pub config: PathBuf,
    child: Option<Child>,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    _lock: MutexGuard<'static, ()>,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into()
}

/// GET, waiting out the gateway's rate limit as it asks (429 with
/// Retry-After): tests poll a lot from one address.
fn get_response(url: &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    loop {
        let resp = agent().get(url).call()?;
        if resp.status().as_u16() != 429 {
            return Ok(resp);
        }
        let seconds = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1u64);
        std::thread::sleep(Duration::from_secs(seconds.min(5)));
    }
}

/// (HTTP status, envelope)
pub fn get(url: &str) -> (u16, Value) {
    let mut resp = get_response(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().with_config().limit(256 << 20).read_json().unwrap_or(Value::Null))
}

pub fn try_get(url: &str) -> Option<(u16, Value)> {
    let mut resp = get_response(url).ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().read_json().ok()?))
}

/// POSTs `body` over a plain socket and reads the answer even when the
/// server answers and closes before the whole body is sent (as it may for
/// a body over the limit; an HTTP client library then reports a broken pipe).
pub fn post_raw(url: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    for chunk in body.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            break; // the server has answered and closed: read what it said
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no HTTP status in {text:.200}"));
    let json_start = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0);
    let body_text = &text[json_start..];
    // The body may be chunked; take the JSON object inside it.
    let json = body_text.find('{').and_then(|a| body_text.rfind('}').map(|b| &body_text[a..=b])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

pub fn post_bytes(url: &str, body: &[u8]) -> (u16, Value) {
    let mut resp = agent().post(url).header("content-type", "application/json").send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

pub fn post(url: &str, body: &Value) -> (u16, Value) {
    post_bytes(url, &serde_json::to_vec(body).unwrap())
}

/// Polls `f` every 100 ms until it returns `Some`, or panics at the deadline.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run coldchain")
}

impl Cluster {
    pub fn start(validators: usize) -> Cluster {
        // Ports come free from the OS when the testnet is written, but another
        // socket may take one before a node binds it: then start again on
        // new ports (a node that cannot bind exits, naming the address).
        for attempt in 1..=3 {
            let lock = cluster_lock();
            let dir = tempfile::tempdir().unwrap();
            let out =
                run_cli(&["testnet", "--dir", dir.path().to_str().unwrap(), "--validators", &validators.to_string(), "--leader-timeout-ms", "800"]);
            assert!(out.status.success(), "testnet failed: {}", String::from_utf8_lossy(&out.stderr));
            let listing: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.path().join("testnet.json")).unwrap()).unwrap();
            let nodes = listing
                .iter()
                .map(|n| Node {
                    name: n["name"].as_str().unwrap().into(),
                    gateway: n["gateway"].as_str().unwrap().into(),
                    config: n["config"].as_str().unwrap().into(),
                    child: None,
                })
                .collect();
            let mut cluster = Cluster { dir, nodes, _lock: lock };
            for i in 0..cluster.nodes.len() {
                cluster.start_node(i);
            }
            match cluster.wait_listening(Duration::from_secs(60)) {
                Ok(()) => return cluster,
                Err(log) if log.contains("in use") && attempt < 3 => {
                    eprintln!("cluster start, attempt {attempt}: a port was taken; retrying on new ports");
                    drop(cluster);
                }
                Err(log) => panic!("a node exited at start:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Waits until every node's gateway answers; a node that exits first
    /// gives its log as the error.
    fn wait_listening(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            for i in 0..self.nodes.len() {
                if let Some(child) = self.nodes[i].child.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(format!("{} exited ({status}):\n{}", self.nodes[i].name, self.log(i)));
                }
            }
            if (0..self.nodes.len()).all(|i| try_get(&self.url(i, "/healthz")).is_some()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("gateways not answering after {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn genesis_path(&self) -> PathBuf {
        self.dir.path().join("genesis.json")
    }

    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "{} is already running", node.name);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(node.config.with_file_name("node.log")).unwrap();
        let child = Command::new(BIN)
            .args(["node", "--config", node.config.to_str().unwrap()])
            .env("RUST_LOG", "info,libp2p=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        node.child = Some(child);
    }

    /// Adds a node started from `config` (not yet running); its index.
    pub fn add_node(&mut self, name: &str, gateway: &str, config: PathBuf) -> usize {
        self.nodes.push(Node { name: name.into(), gateway: gateway.into(), config, child: None });
        self.nodes.len() - 1
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn url(&self, i: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[i].gateway)
    }

    pub fn status(&self, i: usize) -> Option<Value> {
        let (code, env) = try_get(&self.url(i, "/v1/status"))?;
        (code == 200).then(|| env["result"].clone())
    }

    /// The four headers of a signed read of `path` at node `i` by `key`,
    /// with a fresh nonce (docs/FORMATS.md, "Signed reads").
    pub fn signed_read(&self, i: usize, path: &str, key: &ed25519_dalek::SigningKey) -> Vec<(&'static str, String)> {
        let node_key = self.status(i).unwrap()["validator"]["public_key"].as_str().unwrap().to_string();
        signed_read(&node_key, path, key)
    }

    /// GET `path` at node `i` as `reader` (a signed read), or as the public: (status, envelope).
    pub fn read_as(&self, i: usize, path: &str, reader: Option<&ed25519_dalek::SigningKey>) -> (u16, Value) {
        let mut req = agent().get(self.url(i, path));
        for (name, value) in reader.map(|key| self.signed_read(i, path, key)).unwrap_or_default() {
            req = req.header(name, value);
        }
        let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.body_mut().with_config().limit(256 << 20).read_json().unwrap_or(Value::Null))
    }

    pub fn height(&self, i: usize) -> Option<u64> {
        self.status(i)?["height"].as_u64()
    }

    pub fn chain_id(&self) -> String {
        wait_for("a node's status", Duration::from_secs(30), || self.status(0).or_else(|| self.status(1)))["chain_id"].as_str().unwrap().into()
    }

    /// Waits until every listed node has finalized at least `height` blocks.
    pub fn wait_height(&self, nodes: &[usize], height: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !nodes.iter().all(|&i| self.height(i).is_some_and(|h| h >= height)) {
            if Instant::now() > deadline {
                let report: Vec<String> = nodes
                    .iter()
                    .map(|&i| {
                        let log = self.log(i);
                        let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
                        format!("--- {} at height {:?}, last log lines:\n{}", self.nodes[i].name, self.height(i), tail.join("\n"))
                    })
                    .collect();
                panic!("timed out after {timeout:?} waiting for nodes {nodes:?} to reach height {height}\n{}", report.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Finalizes at least `blocks` more blocks, submitting one notarisation
    /// at a time through node `via` and waiting until each is final: an idle
    /// consortium makes no blocks (Rule I, docs/PROTOCOL.md). Returns the
    /// height of the last one.
    pub fn advance(&self, via: usize, blocks: u64) -> u64 {
        static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let chain = self.chain_id();
        let key = enterprise_key(250);
        let mut height = 0;
        for _ in 0..blocks {
            let nonce = std::process::id() as u64 * 1_000_000 + NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tx =
                coldchain_chaincode::Transaction::sign(&chain, nonce, serde_json::json!({"type": "notarise", "document": {"advance": nonce}}), &key);
            let body = serde_json::to_value(tx).unwrap();
            let env = wait_for(&format!("a notarisation finalized through node {via}"), Duration::from_secs(90), || {
                let (code, env) = post(&self.url(via, "/v1/tx?wait=finalized"), &body);
                (code == 200 && env["result"]["state"] == "finalized").then_some(env)
            });
            height = env["result"]["height"].as_u64().unwrap_or(0);
        }
        height
    }

    pub fn block_hash(&self, i: usize, height: u64) -> Option<String> {
        let (code, env) = try_get(&self.url(i, &format!("/v1/blocks/{height}")))?;
        (code == 200).then(|| env["result"]["hash"].as_str().unwrap().to_string())
    }

    /// Asserts the listed nodes hold the same block at every height up to `upto`.
    pub fn assert_same_chain(&self, nodes: &[usize], upto: u64) {
        for h in 1..=upto {
            let hashes: Vec<Option<String>> = nodes.iter().map(|&i| self.block_hash(i, h)).collect();
            assert!(hashes[0].is_some(), "node {} has no block {h}", nodes[0]);
            assert!(hashes.iter().all(|x| x == &hashes[0]), "fork at height {h}: {hashes:?}");
        }
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].config.with_file_name("node.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                let log = std::fs::read_to_string(n.config.with_file_name("node.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                eprintln!("---- last lines of {} ----", n.name);
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// The four headers of a signed read of `path` by `key` at the node whose
/// validator key is `node_key` (hex), with a fresh nonce.
pub fn signed_read(node_key: &str, path: &str, key: &ed25519_dalek::SigningKey) -> Vec<(&'static str, String)> {
    use ed25519_dalek::Signer;
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let nonce = hex::encode(rand::random::<[u8; 12]>());
    let message = coldchain_node::gateway::access::read_message("GET", path, &timestamp, &nonce, node_key);
    vec![
        ("x-coldchain-key", hex::encode(key.verifying_key().to_bytes())),
        ("x-coldchain-timestamp", timestamp),
        ("x-coldchain-nonce", nonce),
        ("x-coldchain-signature", hex::encode(key.sign(message.as_bytes()).to_bytes())),
    ]
}

pub fn enterprise_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

pub fn record(i: usize) -> Value {
    serde_json::json!({"type": "notarise", "document": {"seq": i, "productName": "冷冻鸡两节翅", "batch": "L1", "weight": 13500.0}})
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A log without its colours.
pub fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut escape = false;
    for ch in log.chars() {
        match (escape, ch) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, _) => out.push(ch),
        }
    }
    out
}

/// Runs the CLI and gives its standard output; fails the test, with both outputs, if it fails.
pub fn cli(args: &[&str]) -> String {
    let out = run_cli(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "coldchain {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// A new key file; its public key (hex).
pub fn keygen(path: &Path) -> String {
    let out = cli(&["keygen", "--out", path.to_str().unwrap()]);
    out.lines().find_map(|l| l.strip_prefix("public_key: ")).unwrap().trim().to_string()
}

/// The digest of the pending change `coldchain governance status` lists first.
pub fn pending_digest(gateway: &str) -> String {
    let status = cli(&["governance", "status", "--gateway", gateway]);
    let line =
        status.lines().zip(status.lines().skip(1)).find(|(_, next)| next.contains("pending")).map(|(l, _)| l).unwrap_or_else(|| panic!("{status}"));
    line.split_whitespace().next().unwrap().to_string()
}
