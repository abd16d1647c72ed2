//! The fault-injection suite: the four bureau validators of
//! `docker-compose.yml`, each in its own container from the `FROM scratch`
//! image, under a steady load of signed records through all four gateways,
//! while faults are injected: the leader killed with SIGKILL every 10 s,
//! a node paused, a node isolated, a 2/2 split, all four killed, a rolling
//! restart, a clock 20 s ahead and behind, and a reconfiguration: Hebei's
//! validator key rotated by governance (issue 19) while Tianjin is killed
//! between the approvals and restarted only once the change took effect
//! (it catches up across the epoch boundary); Hebei's node refuses to start
//! on its retired key, then votes in epoch 1 on its new one.
//!
//! Every request's outcome is logged: acknowledged (200), refused (4xx) or
//! unknown (5xx, timeout, no connection). After each scenario the checker
//! reads the chain through the gateways and fails on any of:
//! an acknowledged record not finalized, or finalized twice; a refused one
//! finalized; two nodes holding different blocks at a height; a certificate
//! that does not verify against genesis or a block that does not link to its
//! parent; a node's height going backwards; finalization not resuming within
//! 15 s of the heal. Certificates are checked epoch by epoch: each epoch
//! certificate a node lists (`GET /v1/epochs`) is verified from genesis's
//! validators ([`Epochs::push`]), a block above an epoch's start must carry
//! a finalization of that epoch's set under its namespace, and the last
//! block of an epoch may instead be named by the next epoch's certificate.
//! Each scenario prints its figures; the table at the end is written to
//! `target/faults-report.md` (docs/FAULTS.md keeps the last).
//!
//! Needs a Docker engine, docker-compose (or `docker compose`) and the image
//! `coldchain:latest` built from this checkout by `bash docker/build`.
//! `.ci/run` does that and runs, when an engine is present:
//!
//! ```text
//! cargo test -p coldchain --test faults -- --ignored --nocapture
//! ```
//!
//! `COLDCHAIN_FAULT_SCALE=5` multiplies every fault's duration (by hand).
//! `COLDCHAIN_FAULTS_ONLY=<text>` runs only the scenarios whose name
//! contains it (while developing one; e.g. `COLDCHAIN_FAULTS_ONLY=rotate`).

mod common;

use coldchain_chaincode::Transaction;
use coldchain_node::block::Header;
use coldchain_node::consensus::Certificate;
use coldchain_node::consensus::epoch::{EpochCertificate, Epochs};
use coldchain_node::crypto::VoteKind;
use coldchain_node::genesis::Genesis;
use common::{BIN, cli, enterprise_key, keygen, pending_digest, record, wait_for};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NAMES: [&str; 4] = ["beijing", "tianjin", "hebei", "national"];
const SHORT: [&str; 4] = ["bj", "tj", "hb", "nat"];
/// The pair networks of docker-compose.yml: network k joins PAIRS[k].
const PAIRS: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
const CHAIN: &str = "coldchain-faults";
/// Finalization must resume within this long after a heal.
const RESUME_LIMIT: Duration = Duration::from_secs(15);

fn scale() -> f64 {
    std::env::var("COLDCHAIN_FAULT_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs_f64(s as f64 * scale())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Option<(u16, Value)> {
    let mut resp = agent.get(url).call().ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().with_config().limit(64 << 20).read_json().ok()?))
}

// ---------------------------------------------------------------------------
// The consortium in containers
// ---------------------------------------------------------------------------

struct Consortium {
    project: String,
    compose: Vec<String>,
    file: String,
    env: Mutex<Vec<(String, String)>>,
    ports: [u16; 4],
    subnet: String,
    genesis: Genesis,
    /// $COLDCHAIN_NET: what the containers mount, and the admin keys.
    net: PathBuf,
    _dir: tempfile::TempDir,
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker").args(args).output().map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Consortium {
    fn up() -> Consortium {
        docker(&["info", "--format", "{{.ServerVersion}}"]).expect("this suite needs a running Docker engine");
        docker(&["image", "inspect", "coldchain:latest", "--format", "{{.Id}}"])
            .expect("the image coldchain:latest is missing: build it from this checkout with `bash docker/build`");
        let compose = if Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success()) {
            vec!["docker".to_string(), "compose".to_string()]
        } else {
            vec!["docker-compose".to_string()]
        };
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        let subnet = std::env::var("COLDCHAIN_FAULT_SUBNET").unwrap_or_else(|_| "10.213".into());
        let out = Command::new(BIN)
            .args(["testnet", "--docker", "--dir", net.to_str().unwrap(), "--chain-id", CHAIN, "--subnet-prefix", &subnet])
            .output()
            .unwrap();
        assert!(out.status.success(), "coldchain testnet --docker: {}", String::from_utf8_lossy(&out.stderr));
        let genesis = Genesis::load(&net.join("genesis.json")).unwrap();
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut env = vec![("COLDCHAIN_NET".to_string(), net.to_str().unwrap().to_string()), ("COLDCHAIN_SUBNET".to_string(), subnet.clone())];
        for (i, name) in NAMES.iter().enumerate() {
            env.push((format!("{}_PORT", name.to_uppercase()), ports[i].to_string()));
        }
        let c = Consortium {
            project: format!("ccfaults{}", std::process::id()),
            compose,
            file: concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml").to_string(),
            env: Mutex::new(env),
            ports,
            subnet,
            genesis,
            net,
            _dir: dir,
        };
        c.compose(&["up", "-d"]).unwrap();
        c
    }

    fn compose(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..]).args(["-p", &self.project, "-f", &self.file]).args(args);
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
        let out = cmd.output().map_err(|e| format!("{}: {e}", self.compose.join(" ")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("compose {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[i])
    }

    fn container(&self, i: usize) -> String {
        self.compose(&["ps", "-q", NAMES[i]]).unwrap().trim().to_string()
    }

    fn network(&self, k: usize) -> String {
        let (a, b) = PAIRS[k];
        format!("{}_{}-{}", self.project, SHORT[a], SHORT[b])
    }

    fn kill(&self, i: usize) {
        docker(&["kill", "--signal", "KILL", &self.container(i)]).unwrap();
    }

    fn start(&self, i: usize) {
        docker(&["start", &self.container(i)]).unwrap();
    }

    /// SIGTERM, then the container stays stopped (also out of a restart loop).
    fn stop(&self, i: usize) {
        docker(&["stop", "-t", "10", &self.container(i)]).unwrap();
    }

    fn restart(&self, i: usize) {
        docker(&["restart", "-t", "10", &self.container(i)]).unwrap();
    }

    /// The gateway's base URL, as the CLI's `--gateway` takes it.
    fn gateway(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Everything validator i's container has logged, across its restarts.
    fn logs(&self, i: usize) -> String {
        let out = Command::new("docker").args(["logs", &self.container(i)]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)).unwrap_or_default()
    }

    fn pause(&self, i: usize) {
        docker(&["pause", &self.container(i)]).unwrap();
    }

    fn unpause(&self, i: usize) {
        docker(&["unpause", &self.container(i)]).unwrap();
    }

    /// Cuts (or restores) the direct link between validators a and b.
    fn link(&self, a: usize, b: usize, up: bool) {
        let k = PAIRS.iter().position(|&p| p == (a.min(b), a.max(b))).unwrap();
        for i in [a, b] {
            let (net, container) = (self.network(k), self.container(i));
            if up {
                let ip = format!("{}.{k}.{}", self.subnet, 10 + i);
                docker(&["network", "connect", "--ip", &ip, &net, &container]).unwrap();
            } else {
                docker(&["network", "disconnect", &net, &container]).unwrap();
            }
        }
    }

    fn isolate(&self, i: usize, isolated: bool) {
        for j in (0..4).filter(|&j| j != i) {
            // One side is enough to cut a pair network's link.
            let k = PAIRS.iter().position(|&p| p == (i.min(j), i.max(j))).unwrap();
            let (net, container) = (self.network(k), self.container(i));
            if isolated {
                docker(&["network", "disconnect", &net, &container]).unwrap();
            } else {
                let ip = format!("{}.{k}.{}", self.subnet, 10 + i);
                docker(&["network", "connect", "--ip", &ip, &net, &container]).unwrap();
            }
        }
    }

    /// Recreates validator i's container with its clock shifted (its volume,
    /// and so its chain, is kept).
    fn set_clock(&self, i: usize, offset_ms: i64) {
        let key = format!("{}_CLOCK_OFFSET_MS", NAMES[i].to_uppercase());
        {
            let mut env = self.env.lock().unwrap();
            env.retain(|(k, _)| *k != key);
            env.push((key, offset_ms.to_string()));
        }
        self.compose(&["up", "-d", "--no-deps", NAMES[i]]).unwrap();
    }

    fn status(&self, agent: &ureq::Agent, i: usize) -> Option<Value> {
        match get_json(agent, &self.url(i, "/v1/status")) {
            Some((200, v)) => Some(v["result"].clone()),
            _ => None,
        }
    }

    fn height(&self, agent: &ureq::Agent, i: usize) -> Option<u64> {
        self.status(agent, i)?["height"].as_u64()
    }

    /// The validator leading the current view, as the first node that
    /// answers reports it.
    fn leader(&self, agent: &ureq::Agent) -> usize {
        let view = common::wait_for("a node reporting its view", Duration::from_secs(60), || {
            (0..4).find_map(|i| self.status(agent, i).and_then(|s| s["view"].as_u64()))
        });
        (view % 4) as usize
    }

    fn log_tail(&self, i: usize) -> String {
        let out = Command::new("docker").args(["logs", "--tail", "15", &self.container(i)]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)).unwrap_or_default()
    }
}

impl Drop for Consortium {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..4 {
                eprintln!("--- {} (last log lines)\n{}", NAMES[i], self.log_tail(i));
            }
        }
        for i in 0..4 {
            let _ = docker(&["unpause", &self.container(i)]);
        }
        if let Err(e) = self.compose(&["down", "-v", "--remove-orphans", "-t", "5"]) {
            eprintln!("cleanup: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Load: signed records through all four gateways, every outcome logged
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Acknowledged,
    Refused,
    Unknown,
}

#[derive(Default)]
struct Outcomes {
    by_tx: HashMap<String, Outcome>,
}

struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Records per second per gateway.
const RATE_PER_NODE: f64 = 10.0;

static SEQ: AtomicU64 = AtomicU64::new(1);

impl Load {
    fn start(c: &Consortium, outcomes: &Arc<Mutex<Outcomes>>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|i| {
                let (url, stop, outcomes) = (c.url(i, "/v1/tx"), stop.clone(), outcomes.clone());
                std::thread::spawn(move || {
                    let agent = agent(Duration::from_secs(5));
                    let key = enterprise_key(40 + i as u8);
                    let period = Duration::from_secs_f64(1.0 / RATE_PER_NODE);
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
                        let tx = Transaction::sign(CHAIN, seq, record(seq as usize), &key);
                        let id = tx.id().to_string();
                        let outcome = match agent.post(&url).send_json(&tx) {
                            Ok(resp) if resp.status().as_u16() == 200 => Outcome::Acknowledged,
                            Ok(resp) if resp.status().is_client_error() => Outcome::Refused,
                            _ => Outcome::Unknown,
                        };
                        outcomes.lock().unwrap().by_tx.insert(id, outcome);
                        next += period;
                        match next.checked_duration_since(Instant::now()) {
                            Some(wait) => std::thread::sleep(wait), // pacing the load, not waiting for a state
                            None => next = Instant::now(),
                        }
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Observers and the checker
// ---------------------------------------------------------------------------

/// Polls every node's height; counts any height lower than one seen before.
struct HeightWatch {
    stop: Arc<AtomicBool>,
    regressions: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HeightWatch {
    fn start(ports: [u16; 4]) -> HeightWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let regressions = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), regressions.clone());
        let thread = std::thread::spawn(move || {
            let agent = agent(Duration::from_secs(2));
            let mut seen = [0u64; 4];
            while !s.load(Ordering::Relaxed) {
                for i in 0..4 {
                    let url = format!("http://127.0.0.1:{}/v1/status", ports[i]);
                    if let Some((200, v)) = get_json(&agent, &url)
                        && let Some(h) = v["result"]["height"].as_u64()
                    {
                        if h < seen[i] {
                            r.lock().unwrap().push(format!("{}: height {h} after {}", NAMES[i], seen[i]));
                        }
                        seen[i] = seen[i].max(h);
                    }
                }
                std::thread::sleep(Duration::from_millis(250)); // sampling period
            }
        });
        HeightWatch { stop, regressions, thread: Some(thread) }
    }
}

impl Drop for HeightWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the checker has verified of the chain so far.
struct Ledger {
    /// Hash of every verified height, from 0 (genesis).
    hashes: Vec<String>,
    /// Occurrences of each transaction id in verified blocks.
    occurrences: HashMap<String, u32>,
    /// Headers verified but not yet covered by a certificate.
    uncertified: Vec<Header>,
}

struct Report {
    scenario: String,
    acknowledged: usize,
    refused: usize,
    unknown: usize,
    unknown_finalized: usize,
    lost: usize,
    duplicated: usize,
    refused_finalized: usize,
    resumed: Duration,
    caught_up: Duration,
    height: u64,
    /// The scenario's own figures, if it has any.
    note: String,
}

struct Suite {
    c: Consortium,
    agent: ureq::Agent,
    outcomes: Arc<Mutex<Outcomes>>,
    ledger: Ledger,
    watch: HeightWatch,
    reports: Vec<Report>,
    /// What the running scenario's fault noted for the report.
    note: RefCell<String>,
}

impl Suite {
    fn heights(&self) -> [Option<u64>; 4] {
        std::array::from_fn(|i| self.c.height(&self.agent, i))
    }

    fn max_height(&self) -> u64 {
        self.heights().into_iter().flatten().max().unwrap_or(0)
    }

    /// After a heal at `healed` when the highest node was at `at_heal`:
    /// time until any node finalizes past it, and until all four reach it.
    fn recovery(&self, healed: Instant, at_heal: u64) -> (Duration, Duration) {
        let deadline = healed + Duration::from_secs(180);
        let mut resumed = None;
        loop {
            let h = self.heights();
            if resumed.is_none() && h.iter().flatten().any(|&x| x > at_heal) {
                resumed = Some(healed.elapsed());
            }
            if let Some(r) = resumed
                && h.iter().all(|x| x.is_some_and(|x| x >= at_heal))
            {
                return (r, healed.elapsed());
            }
            assert!(Instant::now() < deadline, "no recovery 180 s after the heal: heights {h:?}, at heal {at_heal}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn block(&self, i: usize, height: u64) -> Option<Value> {
        match get_json(&self.agent, &self.c.url(i, &format!("/v1/blocks/{height}"))) {
            Some((200, v)) => Some(v["result"].clone()),
            _ => None,
        }
    }

    /// The epochs from genesis as far as any node knows them: each node's
    /// `GET /v1/epochs`, every certificate verified against the set before
    /// it starting from genesis's validators (a node's list is never taken
    /// on trust); the longest chain of verified epochs.
    fn epochs(&self) -> Epochs {
        let mut best = self.c.genesis.epochs();
        for i in 0..4 {
            let Some((200, v)) = get_json(&self.agent, &self.c.url(i, "/v1/epochs")) else { continue };
            let mut epochs = self.c.genesis.epochs();
            for e in v["result"].as_array().expect("GET /v1/epochs lists epochs") {
                if e["epoch"] == 0 {
                    continue;
                }
                let cert: EpochCertificate = serde_json::from_value(e["certificate"].clone())
                    .unwrap_or_else(|err| panic!("{}: epoch {} without a readable certificate: {err}", NAMES[i], e["epoch"]));
                let set =
                    epochs.push(cert).unwrap_or_else(|err| panic!("{}: the certificate of epoch {} does not verify: {err}", NAMES[i], e["epoch"]));
                let listed: Vec<String> = e["validators"].as_array().unwrap().iter().map(|m| m["public_key"].as_str().unwrap().to_string()).collect();
                let certified: Vec<String> = set.members.iter().map(|m| hex::encode(m.public_key)).collect();
                assert_eq!(
                    (e["epoch"].as_u64(), e["after_height"].as_u64(), listed),
                    (Some(set.number), Some(set.after_height), certified),
                    "{}: GET /v1/epochs lists epoch {} otherwise than its certificate",
                    NAMES[i],
                    set.number
                );
            }
            if epochs.sets().len() > best.sets().len() {
                best = epochs;
            }
        }
        best
    }

    /// Verifies every block up to the height all four nodes hold: the same
    /// hash on every node, linked to its parent, covered by a certificate
    /// of its epoch's validators (verified from genesis) under its epoch's
    /// namespace, or the last block of an epoch named by the next epoch's
    /// certificate; counts transaction ids. Returns the verified height
    /// (below the common one while the certificate of an epoch that a
    /// stored block ends is not yet known to any node).
    fn verify_chain(&mut self) -> u64 {
        let common = self.heights().into_iter().map(|h| h.expect("all nodes up for the check")).min().unwrap();
        // Read after the heights: every block up to `common` is of an epoch listed.
        let epochs = self.epochs();
        for height in self.ledger.hashes.len() as u64..=common {
            let blocks: Vec<Value> = (0..4).map(|i| self.block(i, height).unwrap_or_else(|| panic!("{} lacks block {height}", NAMES[i]))).collect();
            for (i, b) in blocks.iter().enumerate() {
                assert_eq!(
                    b["hash"], blocks[0]["hash"],
                    "fork at height {height}: {} holds {}, {} holds {}",
                    NAMES[i], b["hash"], NAMES[0], blocks[0]["hash"]
                );
            }
            let header: Header = serde_json::from_value(blocks[0]["header"].clone()).unwrap();
            let hash = header.hash().to_string();
            assert_eq!(blocks[0]["hash"].as_str(), Some(hash.as_str()), "block {height}: the header does not hash to the stated hash");
            assert_eq!(header.parent.to_string(), *self.ledger.hashes.last().unwrap(), "block {height} does not link to block {}", height - 1);
            let set = epochs.at_height(height);
            let finality = &blocks[0]["finality"];
            let certified = if let Some(cert) = finality.get("certificate") {
                let cert: Certificate = serde_json::from_value(cert.clone()).unwrap();
                assert_eq!(cert.hash, header.hash(), "block {height}: the certificate is for another block");
                cert.verify(VoteKind::Finalize, &set.namespace(CHAIN), &set.keys, set.quorum)
                    .unwrap_or_else(|e| panic!("block {height}: certificate of epoch {}: {e}", set.number));
                true
            } else if let Some(e) = finality.get("end_of_epoch") {
                let e = e.as_u64().expect("end_of_epoch is an epoch number");
                let Some(next) = epochs.get(e) else {
                    // Stored as soon as it is committed; the old set signs the change after.
                    println!("block {height} ends epoch {}: epoch {e}'s certificate not yet listed, checked next time", set.number);
                    return height - 1;
                };
                assert!(e > set.number, "block {height} of epoch {} claims to end it for epoch {e}", set.number);
                assert_eq!(
                    (next.after_height, next.after_hash.to_string()),
                    (height, hash.clone()),
                    "block {height}: epoch {e}'s certificate names another last block"
                );
                println!("block {height}, the last of epoch {}, is final by epoch {e}'s certificate", set.number);
                true
            } else {
                false
            };
            self.ledger.hashes.push(hash);
            for id in blocks[0]["tx_ids"].as_array().unwrap() {
                *self.ledger.occurrences.entry(id.as_str().unwrap().to_string()).or_default() += 1;
            }
            match certified {
                true => self.ledger.uncertified.clear(), // its ancestors are final through the parent links
                false => self.ledger.uncertified.push(header),
            }
        }
        common
    }

    fn run(&mut self, name: &str, fault: impl FnOnce(&Suite) -> Instant) {
        if let Ok(only) = std::env::var("COLDCHAIN_FAULTS_ONLY")
            && !name.contains(&only)
        {
            println!("\n== {name}: skipped (COLDCHAIN_FAULTS_ONLY={only})");
            return;
        }
        println!("\n== {name}");
        let started = Instant::now();
        let load = Load::start(&self.c, &self.outcomes);
        std::thread::sleep(secs(3)); // steady load before the fault
        let before = self.max_height();
        let healed = fault(self);
        let at_heal = self.max_height().max(before);
        let (resumed, caught_up) = self.recovery(healed, at_heal);
        std::thread::sleep(secs(3)); // steady load after the heal
        load.stop();

        // Every acknowledged record must finalize; give them time to.
        let outcomes: Vec<(String, Outcome)> = self.outcomes.lock().unwrap().by_tx.drain().collect();
        let acknowledged: HashSet<&String> = outcomes.iter().filter(|(_, o)| *o == Outcome::Acknowledged).map(|(id, _)| id).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut height;
        loop {
            height = self.verify_chain();
            let missing = acknowledged.iter().filter(|id| !self.ledger.occurrences.contains_key(**id)).count();
            if missing == 0 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let count = |o: Outcome| outcomes.iter().filter(|(_, x)| *x == o).count();
        let occurrences = |id: &String| self.ledger.occurrences.get(id).copied().unwrap_or(0);
        let report = Report {
            scenario: name.to_string(),
            acknowledged: acknowledged.len(),
            refused: count(Outcome::Refused),
            unknown: count(Outcome::Unknown),
            unknown_finalized: outcomes.iter().filter(|(id, o)| *o == Outcome::Unknown && occurrences(id) > 0).count(),
            lost: acknowledged.iter().filter(|id| occurrences(id) == 0).count(),
            duplicated: outcomes.iter().filter(|(id, _)| occurrences(id) > 1).count(),
            refused_finalized: outcomes.iter().filter(|(id, o)| *o == Outcome::Refused && occurrences(id) > 0).count(),
            resumed,
            caught_up,
            height,
            note: self.note.take(),
        };
        println!(
            "{name}: {} acknowledged, {} refused, {} unknown ({} of them finalized); lost {}, duplicated {}, refused-but-finalized {}; \
             finalization resumed {:.1} s after the heal, all nodes caught up after {:.1} s; chain verified to height {height}; took {:.0} s",
            report.acknowledged,
            report.refused,
            report.unknown,
            report.unknown_finalized,
            report.lost,
            report.duplicated,
            report.refused_finalized,
            resumed.as_secs_f64(),
            caught_up.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        let regressions = self.watch.regressions.lock().unwrap().clone();
        assert!(regressions.is_empty(), "{name}: heights went backwards: {regressions:?}");
        assert_eq!(report.lost, 0, "{name}: acknowledged records were lost");
        assert_eq!(report.duplicated, 0, "{name}: records were finalized more than once");
        assert_eq!(report.refused_finalized, 0, "{name}: refused records were finalized");
        assert!(report.acknowledged > 0, "{name}: no record was acknowledged under load");
        assert!(resumed <= RESUME_LIMIT, "{name}: finalization resumed only {resumed:?} after the heal (limit {RESUME_LIMIT:?})");
        self.reports.push(report);
    }

    fn wait_ready(&self, i: usize) {
        common::wait_for(&format!("{} ready", NAMES[i]), Duration::from_secs(120), || {
            matches!(get_json(&self.agent, &self.c.url(i, "/readyz")), Some((200, _))).then_some(())
        });
    }

    fn write_report(&self) {
        let mut text = String::from(
            "| scenario | acknowledged | refused | unknown (finalized) | lost | duplicated | resumed after heal | all caught up | verified to height | notes |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.reports {
            text += &format!(
                "| {} | {} | {} | {} ({}) | {} | {} | {:.1} s | {:.1} s | {} | {} |\n",
                r.scenario,
                r.acknowledged,
                r.refused,
                r.unknown,
                r.unknown_finalized,
                r.lost,
                r.duplicated,
                r.resumed.as_secs_f64(),
                r.caught_up.as_secs_f64(),
                r.height,
                r.note
            );
        }
        println!("\n{text}");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/faults-report.md");
        let _ = std::fs::write(path, format!("COLDCHAIN_FAULT_SCALE={}\n\n{text}", scale()));
    }
}

#[test]
#[ignore = "needs a Docker engine and the coldchain:latest image (bash docker/build); .ci/run runs it with --ignored"]
fn faults_lose_nothing_and_fork_nothing() {
    let c = Consortium::up();
    let agent = agent(Duration::from_secs(3));
    let watch = HeightWatch::start(c.ports);
    let genesis_hash = c.genesis.block_header().hash().to_string();
    let mut suite = Suite {
        c,
        agent,
        outcomes: Arc::new(Mutex::new(Outcomes::default())),
        ledger: Ledger { hashes: vec![genesis_hash], occurrences: HashMap::new(), uncertified: Vec::new() },
        watch,
        reports: Vec::new(),
        note: RefCell::new(String::new()),
    };
    for i in 0..4 {
        suite.wait_ready(i);
    }

    suite.run("kill -9 the leader every 10 s (3 times)", |s| {
        let mut down: Option<usize> = None;
        for _ in 0..3 {
            if let Some(d) = down.take() {
                s.c.start(d);
                s.wait_ready(d);
            }
            let leader = s.c.leader(&s.agent);
            println!("killing the leader, {}", NAMES[leader]);
            s.c.kill(leader);
            down = Some(leader);
            std::thread::sleep(secs(10));
        }
        s.c.start(down.unwrap());
        Instant::now()
    });
    for (i, seconds) in [(1usize, 10u64), (2, 60)] {
        suite.run(&format!("pause {} for {seconds} s", NAMES[i]), |s| {
            s.c.pause(i);
            std::thread::sleep(secs(seconds));
            s.c.unpause(i);
            Instant::now()
        });
    }
    for (i, seconds) in [(3usize, 10u64), (0, 120)] {
        suite.run(&format!("isolate {} for {seconds} s", NAMES[i]), |s| {
            s.c.isolate(i, true);
            std::thread::sleep(secs(seconds));
            s.c.isolate(i, false);
            Instant::now()
        });
    }
    suite.run("split beijing+tianjin / hebei+national for 20 s", |s| {
        for (a, b) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            s.c.link(a, b, false);
        }
        let stalled_at = s.max_height();
        std::thread::sleep(secs(20));
        // Neither half holds a quorum of 3: nothing may have been finalized.
        assert!(s.max_height() <= stalled_at + 2, "a half without quorum finalized blocks during the split");
        for (a, b) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            s.c.link(a, b, true);
        }
        Instant::now()
    });
    suite.run("kill -9 all four at once, restart", |s| {
        for i in 0..4 {
            s.c.kill(i);
        }
        for i in 0..4 {
            s.c.start(i);
        }
        Instant::now()
    });
    suite.run("rolling restart (SIGTERM), one node at a time", |s| {
        for i in 0..4 {
            s.c.compose(&["restart", "-t", "30", NAMES[i]]).unwrap();
            s.wait_ready(i);
        }
        Instant::now()
    });
    for offset in [20_000i64, -20_000] {
        suite.run(&format!("hebei's clock {:+} s", offset / 1000), |s| {
            s.c.set_clock(2, offset);
            s.wait_ready(2);
            std::thread::sleep(secs(20));
            s.c.set_clock(2, 0);
            s.wait_ready(2);
            Instant::now()
        });
    }
    suite.run("rotate hebei's validator key under load, tianjin killed mid-way", rotate_hebei_key);
    suite.write_report();
    let occurrences: BTreeMap<u32, usize> = suite.ledger.occurrences.values().fold(BTreeMap::new(), |mut m, n| {
        *m.entry(*n).or_default() += 1;
        m
    });
    println!("transaction ids by number of occurrences in the chain: {occurrences:?}");
}

// ---------------------------------------------------------------------------
// Reconfiguration: a validator key rotated by governance
// ---------------------------------------------------------------------------

/// Hebei's validator key rotated by three of the four bureaus under load
/// (Beijing proposes, National approves, Tianjin is killed, Hebei's own
/// approval makes the quorum); Tianjin restarts once epoch 1 began and
/// catches up across its boundary; Hebei's node, restarted on its retired
/// key, refuses to start; on the new key it votes in epoch 1. Returns when
/// Hebei restarted on its new key (the heal).
fn rotate_hebei_key(s: &Suite) -> Instant {
    const LONG: Duration = Duration::from_secs(120);
    let admin = |bureau: &str| s.c.net.join("admin").join(format!("{bureau}.key")).to_string_lossy().into_owned();
    let status = |i: usize| s.c.status(&s.agent, i);
    let epoch_of = |i: usize| status(i).and_then(|st| st["epoch"].as_u64());
    let new_key_file = s.c.net.join("hebei-new.key");
    let new_key = keygen(&new_key_file);
    cli(&[
        "governance",
        "propose",
        "--gateway",
        &s.c.gateway(0),
        "--key",
        &admin("beijing"),
        "--change",
        "rotate_validator_key",
        "--province",
        "130000",
        "--validator-key",
        &new_key,
    ]);
    let digest = pending_digest(&s.c.gateway(3));
    cli(&["governance", "approve", "--gateway", &s.c.gateway(3), "--key", &admin("national"), &digest]);
    println!("2 of 3 approvals on chain; killing tianjin");
    s.c.kill(1);
    cli(&["governance", "approve", "--gateway", &s.c.gateway(2), "--key", &admin("hebei"), &digest]);
    let approved = Instant::now();

    // The change takes effect: the old set certifies epoch 1 (Beijing,
    // Hebei on its old key and National are a quorum of epoch 0).
    wait_for("epoch 1 on beijing and national", LONG, || [0, 3].iter().all(|&i| epoch_of(i).is_some_and(|e| e >= 1)).then_some(()));
    let in_effect = approved.elapsed();
    let (200, epochs) = get_json(&s.agent, &s.c.url(0, "/v1/epochs")).expect("GET /v1/epochs") else { panic!("GET /v1/epochs") };
    let one = epochs["result"].as_array().unwrap().iter().find(|e| e["epoch"] == 1).expect("epoch 1 listed").clone();
    let boundary = one["after_height"].as_u64().unwrap();
    let hebei = one["validators"].as_array().unwrap().iter().find(|m| m["province"] == "130000").unwrap();
    assert_eq!(hebei["public_key"].as_str(), Some(new_key.as_str()), "epoch 1 holds Hebei's new key: {one}");

    // Tianjin catches up across the epoch boundary; with Beijing and
    // National it is a quorum of epoch 1 (Hebei's node still holds the old key).
    s.c.start(1);
    let tianjin_started = approved.elapsed();
    let first =
        wait_for("a block finalized in epoch 1", LONG, || s.heights().into_iter().flatten().any(|h| h > boundary).then(|| approved.elapsed()));
    wait_for("tianjin in epoch 1", LONG, || (epoch_of(1) == Some(1)).then_some(()));

    // Hebei on its retired key: the node refuses to start, naming the height.
    s.c.restart(2);
    let said = wait_for("hebei refusing its retired key", LONG, || {
        let logs = s.c.logs(2);
        logs.lines().find(|l| l.contains("was bureau 130000's validator key until height")).map(str::to_string)
    });
    println!("hebei on its old key: {}", said.trim());
    s.c.stop(2);
    let key_file = s.c.net.join("hebei").join("validator.key");
    // Overwritten in place: the file keeps the mode the container reads it with.
    std::fs::write(&key_file, std::fs::read(&new_key_file).unwrap()).unwrap();
    s.c.start(2);
    let healed = Instant::now();
    wait_for("hebei a validator of epoch 1 on its new key", LONG, || {
        status(2).filter(|st| st["epoch"] == 1 && st["validator"]["index"].is_u64()).map(|_| ())
    });
    // Hebei's new key at work: a block of epoch 1 it proposed, or whose
    // finalization it signed.
    let index = one["validators"].as_array().unwrap().iter().position(|m| m["province"] == "130000").unwrap() as u64;
    let mut next = s.max_height() + 1;
    let (signed, voting) = wait_for("a block proposed or signed by hebei's new key", LONG, || {
        let top = s.c.height(&s.agent, 0)?;
        while next <= top {
            let b = s.block(0, next)?;
            let signers = b["finality"]["certificate"]["signatures"].as_array().cloned().unwrap_or_default();
            next += 1;
            if b["header"]["proposer"].as_u64() == Some(index) || signers.iter().any(|x| x["signer"].as_u64() == Some(index)) {
                return Some((next - 1, healed.elapsed()));
            }
        }
        None
    });
    wait_for("all four in epoch 1", LONG, || (0..4).all(|i| epoch_of(i) == Some(1)).then_some(()));
    let note = format!(
        "epoch 1 after height {boundary}, in effect {:.1} s after the quorum-making approval; tianjin restarted at {:.1} s; \
         first block of epoch 1 finalized {:.1} s after that approval; hebei refused its retired key; on the new one it proposed or signed block {signed} {:.1} s after its restart",
        in_effect.as_secs_f64(),
        tianjin_started.as_secs_f64(),
        first.as_secs_f64(),
        voting.as_secs_f64()
    );
    println!("{note}");
    *s.note.borrow_mut() = note;
    healed
}
