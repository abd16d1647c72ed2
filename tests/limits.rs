//! The gateway's limits against a real one-validator node: the per-caller
//! rate and the body limit under many concurrent connections, the interface
//! log, HTTPS with a self-signed certificate, and the refusal of plain HTTP
//! on a non-loopback address.

mod common;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// One validator started with extra `node.toml` lines and environment
/// overrides; killed when dropped.
struct OneNode {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
    child: Child,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl OneNode {
    /// `gateway_lines` go into `[gateway]`, relative paths in them are
    /// relative to the node's directory, `prepare` writes files there
    /// first; `ready` says when the started node answers.
    fn start(gateway_lines: &str, env: &[(&str, &str)], prepare: impl Fn(&std::path::Path), ready: impl Fn(u16) -> bool) -> OneNode {
        for attempt in 1..=3 {
            let lock = cluster_lock();
            let dir = tempfile::tempdir().unwrap();
            let out = run_cli(&["testnet", "--dir", path_str(dir.path()), "--validators", "1", "--leader-timeout-ms", "800"]);
            assert!(out.status.success(), "testnet: {}", String::from_utf8_lossy(&out.stderr));
            let config = dir.path().join("beijing/node.toml");
            prepare(config.parent().unwrap());
            let text = std::fs::read_to_string(&config).unwrap();
            let port: u16 = text.split("[gateway]\nlisten = \"127.0.0.1:").nth(1).and_then(|r| r.split('"').next()).unwrap().parse().unwrap();
            let text = text.replacen("[gateway]\n", &format!("[gateway]\n{gateway_lines}\n"), 1);
            std::fs::write(&config, text).unwrap();
            let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
            let child = Command::new(BIN)
                .args(["node", "--config", path_str(&config)])
                .env("RUST_LOG", "info,libp2p=warn")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut node = OneNode { dir, config, port, child, _lock: lock };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = node.child.try_wait() {
                    let log = node.log();
                    if log.contains("in use") && attempt < 3 {
                        eprintln!("attempt {attempt}: the gateway port was taken; again on new ports");
                        break;
                    }
                    panic!("the node exited at start ({status}):\n{log}");
                }
                if ready(node.port) {
                    return node;
                }
                assert!(Instant::now() < deadline, "the node did not answer within 60 s:\n{}", node.log());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The node's log without the terminal colour codes.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default();
        let mut text = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                chars.by_ref().find(|&c| c == 'm');
            } else {
                text.push(c);
            }
        }
        text
    }
}

impl Drop for OneNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- last lines of the node's log ({}) ----", self.config.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn http_ready(port: u16) -> bool {
    try_get(&format!("http://127.0.0.1:{port}/healthz")).is_some_and(|(code, _)| code == 200)
}

/// One request on its own connection's agent: (status, envelope, Retry-After).
fn get_with(agent: &ureq::Agent, url: &str) -> (u16, Value, Option<String>) {
    let mut resp = agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null), retry_after)
}

#[test]
fn the_rate_limit_holds_for_one_caller_over_many_connections() {
    const RATE: f64 = 20.0;
    const BURST: f64 = 40.0;
    const CONNECTIONS: usize = 64;
    const PER_CONNECTION: usize = 30;
    let node = OneNode::start("", &[("COLDCHAIN__GATEWAY__RATE_PER_SECOND", "20"), ("COLDCHAIN__GATEWAY__RATE_BURST", "40")], |_| {}, http_ready);
    let url = node.url("/v1/status");
    let barrier = Arc::new(Barrier::new(CONNECTIONS + 1));
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    // Operators' probes are not limited, even while the caller is.
    let probe = {
        let (healthz, metrics, flooding) = (node.url("/healthz"), node.url("/metrics"), flooding.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let mut answers = Vec::new();
            while flooding.load(std::sync::atomic::Ordering::Relaxed) || answers.len() < 5 {
                answers.push(get_with(&agent, &healthz).0);
                answers.push(agent.get(&metrics).call().map(|r| r.status().as_u16()).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20)); // pacing the probe, not waiting for a state
            }
            answers
        })
    };
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let agent = agent(); // its own connection pool: one connection per thread
                barrier.wait();
                (0..PER_CONNECTION).map(|_| get_with(&agent, &url)).collect::<Vec<_>>()
            })
        })
        .collect();
    let start = Instant::now();
    barrier.wait();
    let answers: Vec<(u16, Value, Option<String>)> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let elapsed = start.elapsed().as_secs_f64();
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let probes = probe.join().unwrap();

    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    let bound = BURST + RATE * elapsed + 1.0;
    eprintln!(
        "{} requests on {CONNECTIONS} connections in {elapsed:.2} s: {ok} answered 200 (bound {bound:.0} = burst + rate × elapsed), {} got 429; {} probes, all 200: {}",
        answers.len(),
        limited.len(),
        probes.len(),
        probes.iter().all(|&c| c == 200)
    );
    assert_eq!(ok + limited.len(), answers.len(), "only 200 or 429: {:?}", answers.iter().find(|a| a.0 != 200 && a.0 != 429));
    assert!(ok >= 1 && (ok as f64) <= bound, "{ok} requests answered 200 in {elapsed:.2} s; at most {bound:.0} allowed");
    for (_, env, retry_after) in &limited {
        assert_eq!(
            (env["success"].as_bool(), env["code"].as_u64(), env["result"]["error"].as_str()),
            (Some(false), Some(429), Some("rate_limited")),
            "{env}"
        );
        let secs: u64 = retry_after.as_deref().expect("a Retry-After header").parse().expect("Retry-After in seconds");
        assert!(secs >= 1, "{secs}");
    }
    assert!(probes.iter().all(|&c| c == 200), "a probe was refused: {probes:?}");
    // Each line is written before its answer is sent.
    let logged_429 = node.log().lines().filter(|l| l.contains("gateway::interface_log") && l.contains("status=429")).count();
    assert_eq!(logged_429, limited.len(), "every 429 is in the interface log");

    // The allowance comes back; the interface log has one line per request,
    // with the route template and without the query string or secrets.
    let code = wait_for("an answer other than 429 after the Retry-After", Duration::from_secs(30), || {
        let resp = agent()
            .get(&node.url("/v1/tx/nothex?token=hunter2"))
            .header("appid", "app-4711")
            .header("signature", "s3cr3t-signature")
            .header("authorization", "Basic c2VjcmV0")
            .call()
            .unwrap();
        Some(resp.status().as_u16()).filter(|&c| c != 429)
    });
    // An app id without the rest of seed 004's headers: 401, before the path is read.
    assert_eq!(code, 401);
    let line = wait_for("the access log line of the request with an appid", Duration::from_secs(10), || {
        node.log().lines().find(|l| l.contains("gateway::interface_log") && l.contains("app-4711") && l.contains("status=401")).map(str::to_string)
    });
    eprintln!("{line}");
    for field in ["caller=127.0.0.1", "method=GET", "route=/v1/tx/{id}", "status=401", "client_error", "duration_ms="] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    let log = node.log();
    for secret in ["hunter2", "s3cr3t", "c2VjcmV0", "token="] {
        assert!(!log.contains(secret), "the log holds {secret}");
    }
}

/// POSTs `len` bytes on a plain socket, declaring a Content-Length or
/// chunked; reads the answer even when the server answers and closes before
/// the body is sent. (status, envelope)
fn post_body(port: u16, len: usize, chunked: bool) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {len}") };
    let head = format!("POST /v1/tx HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 16 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        let written = if chunked {
            stream.write_all(format!("{n:x}\r\n").as_bytes()).and_then(|_| stream.write_all(&chunk[..n])).and_then(|_| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(&chunk[..n])
        };
        if written.is_err() {
            break; // the server has answered and closed: read what it said
        }
        sent += n;
    }
    if chunked && sent == len {
        let _ = stream.write_all(b"0\r\n\r\n");
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no HTTP status in {text:.300}"));
    let body = &text[text.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let json = body.find('{').and_then(|a| body.rfind('}').map(|b| &body[a..=b])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[test]
fn the_body_limit_holds_under_many_concurrent_connections_with_and_without_content_length() {
    const LIMIT: usize = 64 * 1024;
    const CONNECTIONS: usize = 48;
    let node =
        OneNode::start("", &[("COLDCHAIN__GATEWAY__MAX_BODY_BYTES", "65536"), ("COLDCHAIN__GATEWAY__RATE_PER_SECOND", "0")], |_| {}, http_ready);
    let port = node.port;
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let start = Instant::now();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (i % 2 == 1, post_body(port, 4 * LIMIT, i % 2 == 1))
            })
        })
        .collect();
    let answers: Vec<(bool, (u16, Value))> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!(
        "{CONNECTIONS} concurrent bodies of {} bytes over a limit of {LIMIT} ({} chunked) answered in {:.2} s",
        4 * LIMIT,
        answers.iter().filter(|a| a.0).count(),
        start.elapsed().as_secs_f64()
    );
    for (chunked, (code, env)) in &answers {
        assert_eq!(*code, 413, "chunked: {chunked}: {env}");
        assert_eq!((env["code"].as_u64(), env["result"]["error"].as_str()), (Some(413), Some("body_too_large")), "chunked: {chunked}: {env}");
    }
    // A body of exactly the limit, either way, is read (and refused as JSON).
    for chunked in [false, true] {
        let (code, env) = post_body(port, LIMIT, chunked);
        assert_eq!((code, env["result"]["error"].as_str()), (400, Some("malformed_json")), "chunked: {chunked}: {env}");
    }
    // The node keeps serving.
    assert_eq!(common::get(&node.url("/healthz")).0, 200);
    let (code, env) = common::get(&node.url("/v1/status"));
    assert_eq!(code, 200, "{env}");
}

#[test]
fn https_with_a_self_signed_certificate_and_no_plain_http_beside_it() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (pem_cert, pem_key) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let der = cert.cert.der().to_vec();
    let tls_agent = move || -> ureq::Agent {
        let root = ureq::tls::Certificate::from_der(&der).to_owned();
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root]))).build();
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
    };
    let ready_agent = tls_agent.clone();
    let node = OneNode::start(
        "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"",
        &[],
        |dir| {
            std::fs::create_dir(dir.join("tls")).unwrap();
            std::fs::write(dir.join("tls/cert.pem"), &pem_cert).unwrap();
            std::fs::write(dir.join("tls/key.pem"), &pem_key).unwrap();
        },
        |port| ready_agent().get(&format!("https://localhost:{port}/healthz")).call().is_ok_and(|r| r.status().as_u16() == 200),
    );
    let agent = tls_agent();
    for host in ["localhost", "127.0.0.1"] {
        let (code, env, _) = get_with(&agent, &format!("https://{host}:{}/v1/status", node.port));
        assert_eq!((code, env["success"].as_bool()), (200, Some(true)), "{env}");
    }
    // Plain HTTP on the same port gets no answer.
    let plain = common::agent().get(&node.url("/healthz")).call();
    assert!(plain.is_err(), "plain HTTP was answered: {:?}", plain.map(|r| r.status()));
    // A client that does not trust the certificate does not connect.
    let untrusted: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert!(untrusted.get(&format!("https://localhost:{}/healthz", node.port)).call().is_err());
    assert!(node.log().contains("scheme=\"https\""), "{}", node.log());
}

#[test]
fn plain_http_off_loopback_stops_the_node_at_start() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run_cli(&["testnet", "--dir", path_str(dir.path()), "--validators", "1"]).status.success());
    let cfg = dir.path().join("beijing/node.toml");
    let out = Command::new(BIN).args(["node", "--config", path_str(&cfg)]).env("COLDCHAIN__GATEWAY__LISTEN", "0.0.0.0:0").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in ["gateway.listen", "gateway.tls_cert", "gateway.tls_key", "plain_http_on_any_address"] {
        assert!(stderr.contains(needle), "{needle} not in: {stderr}");
    }
}

/// Sends a GET on a raw connection; the status line's code, or None when
/// the server closed the connection without answering.
fn raw_get(stream: &mut TcpStream, path: &str) -> Option<u16> {
    raw_get_with(stream, path, &[])
}

/// [`raw_get`] with more headers.
fn raw_get_with(stream: &mut TcpStream, path: &str, headers: &[(&str, String)]) -> Option<u16> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let headers: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// True once the server has closed `stream` (EOF or reset on read), after
/// reading what is left of earlier answers.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

#[test]
fn connections_and_event_streams_are_capped_idle_ones_closed_and_the_node_lives() {
    const PER_IP: usize = 24;
    let node = OneNode::start(
        "",
        &[
            ("COLDCHAIN__GATEWAY__MAX_CONNECTIONS_PER_IP", "24"),
            ("COLDCHAIN__GATEWAY__MAX_STREAMS_PER_IP", "3"),
            ("COLDCHAIN__GATEWAY__MAX_WAIT_MS", "500"),
            ("COLDCHAIN__GATEWAY__REQUEST_TIMEOUT_MS", "1000"),
            ("COLDCHAIN__GATEWAY__IDLE_TIMEOUT_MS", "1500"),
        ],
        |_| {},
        http_ready,
    );
    let addr = format!("127.0.0.1:{}", node.port);
    // Held open and served: PER_IP connections (once the readiness probe's own is gone).
    let mut held: Vec<TcpStream> = wait_for("PER_IP connections served", Duration::from_secs(10), || {
        let mut held: Vec<TcpStream> = (0..PER_IP).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        held.iter_mut().all(|s| raw_get(s, "/healthz") == Some(200)).then_some(held)
    });
    // One more from the same address is closed unanswered.
    let mut extra = TcpStream::connect(&addr).unwrap();
    assert_eq!(raw_get(&mut extra, "/healthz"), None, "connection {} from one address was served", PER_IP + 1);
    // Held idle, they are closed by the node after gateway.idle_timeout_ms.
    let started = Instant::now();
    wait_for("the idle connections closed by the node", Duration::from_secs(10), || held.iter_mut().all(closed_by_server).then_some(()));
    assert!(started.elapsed() >= Duration::from_millis(500), "closed before the idle timeout: {:?}", started.elapsed());
    drop(held);
    // Their slots are free again.
    let mut again = TcpStream::connect(&addr).unwrap();
    assert_eq!(raw_get(&mut again, "/healthz"), Some(200));
    drop(again);

    // Event streams (a bureau's signed reads): three from one address, the
    // fourth refused with the envelope.
    let admin = coldchain_node::crypto::read_key_file(&node.dir.path().join("beijing/admin.key")).unwrap();
    let node_key = get(&node.url("/v1/status")).1["result"]["validator"]["public_key"].as_str().unwrap().to_string();
    let signed = || signed_read(&node_key, "/v1/alerts/stream", &admin);
    let streams: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            assert_eq!(raw_get_with(&mut s, "/v1/alerts/stream", &signed()), Some(200));
            s
        })
        .collect();
    let mut req = agent().get(node.url("/v1/alerts/stream"));
    for (name, value) in signed() {
        req = req.header(name, value);
    }
    let mut resp = req.call().unwrap();
    let (code, env): (u16, Value) = (resp.status().as_u16(), resp.body_mut().read_json().unwrap_or(Value::Null));
    assert_eq!((code, env["result"]["error"].as_str()), (503, Some("overloaded")), "{env}");
    assert!(env["message"].as_str().unwrap().contains("max_streams_per_ip"), "{env}");
    drop(streams);
    let code = wait_for("a stream slot freed when its client left", Duration::from_secs(10), || {
        let mut s = TcpStream::connect(&addr).unwrap();
        raw_get_with(&mut s, "/v1/alerts/stream", &signed()).filter(|&c| c == 200)
    });
    assert_eq!(code, 200);
    assert_eq!(get(&node.url("/healthz")).0, 200);
    let mut node = node;
    assert!(node.child.try_wait().unwrap().is_none(), "the node is alive");
    assert!(node.log().contains("gateway refused a connection"), "refusals are logged");
}
