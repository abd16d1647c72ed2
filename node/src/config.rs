//! `node.toml`: one validator's configuration. Relative paths are resolved
//! against the directory of the config file. Unknown options are refused, so
//! a typo stops the node at start with the option's name.
//!
//! ```toml
//! name = "beijing"
//! genesis = "../genesis.json"
//! key = "validator.key"
//! data_dir = "data"
//! [p2p]
//! listen = "/ip4/127.0.0.1/tcp/30001"
//! peers = ["/ip4/127.0.0.1/tcp/30002/p2p/12D3KooW…"]
//! [gateway]
//! listen = "127.0.0.1:8001"
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This validator's name in genesis (e.g. "beijing").
    pub name: String,
    /// Path of the genesis file.
    pub genesis: PathBuf,
    /// Path of this validator's key file (`coldchain keygen`).
    pub key: PathBuf,
    /// Directory for the chain database and the safety file.
    pub data_dir: PathBuf,
    pub p2p: P2pConfig,
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub consensus: ConsensusConfig,
    #[serde(default)]
    pub mempool: MempoolConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// Shifts this node's clock by this many milliseconds (default 0). For
    /// the fault suite's clock-skew scenario; a real node leaves it at 0
    /// and keeps its host clock in sync (NTP).
    #[serde(default)]
    pub clock_offset_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// libp2p listen address, e.g. "/ip4/0.0.0.0/tcp/30001".
    pub listen: String,
    /// The other validators: "/ip4/…/tcp/…/p2p/<peer id>".
    #[serde(default)]
    pub peers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Listen address, e.g. "127.0.0.1:8001". Plain HTTP only on a
    /// loopback address, unless TLS is configured or
    /// `plain_http_on_any_address` is set.
    pub listen: String,
    /// Largest request body accepted, in bytes (default 16 MiB); larger ones
    /// get 413, whether they declare a Content-Length or come chunked.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest `?wait=finalized` wait, in milliseconds (default 30 000).
    #[serde(default = "default_max_wait")]
    pub max_wait_ms: u64,
    /// PEM file of the gateway's certificate chain (leaf first). With
    /// `tls_key`, the gateway speaks HTTPS only (seed 004 §5). Both or neither.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Allows plain HTTP on a non-loopback `listen` address (default false:
    /// the node refuses to start). Only for a node behind a TLS-terminating
    /// proxy, or in a container whose port is published on loopback.
    #[serde(default)]
    pub plain_http_on_any_address: bool,
    /// Requests per second one caller (client IP address; an IPv6 client by
    /// its /64) may make, sustained (default 1000; 0: unlimited). Beyond it
    /// and the burst: 429 `rate_limited` with Retry-After. `/healthz`,
    /// `/readyz` and `/metrics` are not limited.
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    /// Requests one caller may make at once above the sustained rate
    /// (default 2000; at least 1 when `rate_per_second` is set).
    #[serde(default = "default_burst")]
    pub rate_burst: u32,
    /// Longest time to answer a request, in milliseconds, reading its body
    /// included (default 60 000; must exceed `max_wait_ms`); beyond it 503
    /// `timeout`. Not for the streams `/v1/alerts/stream` and `/v1/export`.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Connections open at once, in all (default 4096; lowered at start to
    /// leave 1024 of the process's open-file limit to the node). One over
    /// the cap is closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 client by its
    /// /64; default 256).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// A connection on which nothing is read or written for this long is
    /// closed, in milliseconds (default 75 000; must exceed
    /// `request_timeout_ms`).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_ms: u64,
    /// Event streams (`/v1/alerts/stream`) open at once, in all (default 512).
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    /// Event streams open at once from one address (default 8).
    #[serde(default = "default_max_streams_per_ip")]
    pub max_streams_per_ip: usize,
    /// Bytes of new images one signing key may send per UTC day (default
    /// 256 MiB); beyond it the record is refused with 429 `image_quota`.
    #[serde(default = "default_image_quota")]
    pub image_quota_bytes_per_day: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// Time for the leader's proposal to arrive before nullifying the view.
    pub leader_timeout_ms: u64,
    /// Time for a view to end before nullifying it.
    pub advance_timeout_ms: u64,
    /// Rebroadcast interval while a view is stuck.
    pub retry_ms: u64,
    /// Most transactions in one block.
    pub max_block_txs: usize,
    /// A leader with an empty mempool waits this long before proposing an
    /// empty block.
    pub max_block_interval_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig { leader_timeout_ms: 2_000, advance_timeout_ms: 4_000, retry_ms: 1_000, max_block_txs: 4_000, max_block_interval_ms: 500 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most pending transactions; beyond it submissions get 503.
    pub max_txs: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig { max_txs: 50_000 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Memory for the store's page cache (the chaincode state, block
    /// metadata and indexes are read through it), in MiB. The state itself
    /// lives on disk: memory does not grow with the chain.
    pub cache_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { cache_mb: 64 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// A validator takes a snapshot of the state in every n-th run of this
    /// many blocks (n validators, each its own run, so they never pause
    /// together); 0: never.
    pub interval_blocks: u64,
    /// Snapshots kept on disk, the newest.
    pub keep: usize,
    /// A node whose store is empty starts from a peer's snapshot instead
    /// of applying the chain from genesis.
    pub sync: bool,
    /// How long such a node waits at start for every peer's answer, in ms.
    pub offer_wait_ms: u64,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig { interval_blocks: 1_000, keep: 2, sync: true, offer_wait_ms: 5_000 }
    }
}

fn default_image_quota() -> u64 {
    256 * 1024 * 1024
}
fn default_max_body() -> usize {
    16 * 1024 * 1024
}
fn default_max_wait() -> u64 {
    30_000
}
fn default_rate() -> u32 {
    1_000
}
fn default_burst() -> u32 {
    2_000
}
fn default_request_timeout() -> u64 {
    60_000
}
fn default_max_connections() -> usize {
    4_096
}
fn default_max_connections_per_ip() -> usize {
    256
}
fn default_idle_timeout() -> u64 {
    75_000
}
fn default_max_streams() -> usize {
    512
}
fn default_max_streams_per_ip() -> usize {
    8
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

impl NodeConfig {
    /// Reads `path`, then applies `COLDCHAIN__…` environment overrides.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        NodeConfig::load_with(path, std::env::vars())
    }

    /// Reads `path` and applies overrides from `vars`: a variable
    /// `COLDCHAIN__SECTION__OPTION` sets `[section] option` (and
    /// `COLDCHAIN__OPTION` a top-level option), its value read as TOML when
    /// it parses (`8001`, `true`, `["a", "b"]`), else as a string.
    pub fn load_with(path: &Path, vars: impl IntoIterator<Item = (String, String)>) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let invalid = |message: String| ConfigError::Invalid { path: path.display().to_string(), message };
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let mut overridden = Vec::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("COLDCHAIN__") else { continue };
            let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let parsed =
                toml::from_str::<toml::Table>(&format!("v = {value}")).ok().and_then(|mut t| t.remove("v")).unwrap_or(toml::Value::String(value));
            let (last, sections) = keys.split_last().expect("split yields one item");
            let mut table = &mut doc;
            for key in sections {
                let entry = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                table = entry.as_table_mut().ok_or_else(|| invalid(format!("environment variable {name}: `{key}` is not a section")))?;
            }
            table.insert(last.clone(), parsed);
            overridden.push(name);
        }
        let mut cfg: NodeConfig = doc.try_into().map_err(|e: toml::de::Error| {
            if overridden.is_empty() {
                invalid(e.to_string())
            } else {
                invalid(format!("{e} (with environment overrides {})", overridden.join(", ")))
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let gw = &mut cfg.gateway;
        for p in [&mut cfg.genesis, &mut cfg.key, &mut cfg.data_dir].into_iter().chain(gw.tls_cert.as_mut()).chain(gw.tls_key.as_mut()) {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let Ok(listen) = gw.listen.parse::<std::net::SocketAddr>() else {
            return Err(invalid(format!("`gateway.listen` must be host:port, got \"{}\"", gw.listen)));
        };
        match (&gw.tls_cert, &gw.tls_key) {
            (Some(cert), Some(key)) => {
                crate::gateway::tls::server_config(cert, key).map_err(invalid)?;
            }
            (None, None) if !listen.ip().is_loopback() && !gw.plain_http_on_any_address => {
                return Err(invalid(format!(
                    "`gateway.listen` is {listen}, not a loopback address, and no TLS is configured: set `gateway.tls_cert` and \
                     `gateway.tls_key` (seed 004 §5 requires HTTPS), or, behind a proxy that terminates TLS, set \
                     `gateway.plain_http_on_any_address = true`"
                )));
            }
            (None, None) => {}
            _ => return Err(invalid("`gateway.tls_cert` and `gateway.tls_key` go together: set both or neither".into())),
        }
        if gw.rate_per_second > 0 && gw.rate_burst == 0 {
            return Err(invalid("`gateway.rate_burst` must be at least 1 when `gateway.rate_per_second` is set (0 turns the limit off)".into()));
        }
        if gw.request_timeout_ms <= gw.max_wait_ms {
            return Err(invalid(format!(
                "`gateway.request_timeout_ms` ({}) must exceed `gateway.max_wait_ms` ({}), or `?wait=finalized` would time out",
                gw.request_timeout_ms, gw.max_wait_ms
            )));
        }
        if gw.idle_timeout_ms <= gw.request_timeout_ms {
            return Err(invalid(format!(
                "`gateway.idle_timeout_ms` ({}) must exceed `gateway.request_timeout_ms` ({}), or a request still being answered would be cut",
                gw.idle_timeout_ms, gw.request_timeout_ms
            )));
        }
        for (name, value) in [
            ("max_connections", gw.max_connections),
            ("max_connections_per_ip", gw.max_connections_per_ip),
            ("max_streams", gw.max_streams),
            ("max_streams_per_ip", gw.max_streams_per_ip),
        ] {
            if value == 0 {
                return Err(invalid(format!("`gateway.{name}` must be at least 1")));
            }
        }
        if gw.max_body_bytes == 0 {
            return Err(invalid("`gateway.max_body_bytes` must be positive".into()));
        }
        if cfg.p2p.listen.parse::<libp2p::Multiaddr>().is_err() {
            return Err(invalid(format!("`p2p.listen` must be a multiaddr like /ip4/0.0.0.0/tcp/30001, got \"{}\"", cfg.p2p.listen)));
        }
        for (i, peer) in cfg.p2p.peers.iter().enumerate() {
            let ok = peer.parse::<libp2p::Multiaddr>().is_ok_and(|a| a.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(_))));
            if !ok {
                return Err(invalid(format!("`p2p.peers[{i}]` must be a multiaddr ending in /p2p/<peer id>, got \"{peer}\"")));
            }
        }
        let c = &cfg.consensus;
        if c.leader_timeout_ms == 0 || c.advance_timeout_ms < c.leader_timeout_ms {
            return Err(invalid("`consensus.advance_timeout_ms` must be at least `consensus.leader_timeout_ms` (> 0)".into()));
        }
        if c.max_block_interval_ms >= c.leader_timeout_ms {
            return Err(invalid("`consensus.max_block_interval_ms` must be below `consensus.leader_timeout_ms`".into()));
        }
        if c.max_block_txs == 0 || cfg.mempool.max_txs == 0 {
            return Err(invalid("`consensus.max_block_txs` and `mempool.max_txs` must be positive".into()));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"beijing\"\ngenesis = \"genesis.json\"\nkey = \"validator.key\"\ndata_dir = \"data\"\n\n[p2p]\nlisten = \"/ip4/127.0.0.1/tcp/30001\"\n\n[gateway]\nlisten = \"127.0.0.1:8001\"\n";

    fn file() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), MINIMAL).unwrap();
        f
    }

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn environment_variables_override_the_file() {
        let f = file();
        let cfg = NodeConfig::load_with(
            f.path(),
            vars(&[
                ("COLDCHAIN__GATEWAY__LISTEN", "0.0.0.0:9001"),
                ("COLDCHAIN__GATEWAY__PLAIN_HTTP_ON_ANY_ADDRESS", "true"),
                ("COLDCHAIN__MEMPOOL__MAX_TXS", "1234"),
                ("PATH", "/bin"),
                ("COLDCHAIN__DATA_DIR", "/var/lib/cc"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.gateway.listen, "0.0.0.0:9001");
        assert_eq!(cfg.mempool.max_txs, 1234);
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/cc"));
        assert_eq!(NodeConfig::load_with(f.path(), vars(&[])).unwrap().gateway.listen, "127.0.0.1:8001");
    }

    #[test]
    fn a_bad_override_names_the_option_and_the_variable() {
        let f = file();
        let e = NodeConfig::load_with(f.path(), vars(&[("COLDCHAIN__MEMPOOL__MAX_TXS", "many")])).unwrap_err().to_string();
        assert!(e.contains("max_txs") && e.contains("COLDCHAIN__MEMPOOL__MAX_TXS"), "{e}");
        let e = NodeConfig::load_with(f.path(), vars(&[("COLDCHAIN__GATEWAY__LISTN", "x")])).unwrap_err().to_string();
        assert!(e.contains("listn"), "{e}");
    }

    #[test]
    fn gateway_limits_have_working_defaults_and_checked_values() {
        let f = file();
        let g = NodeConfig::load_with(f.path(), vars(&[])).unwrap().gateway;
        assert_eq!((g.rate_per_second, g.rate_burst, g.request_timeout_ms), (1_000, 2_000, 60_000));
        assert!(g.tls_cert.is_none() && g.tls_key.is_none() && !g.plain_http_on_any_address);
        let err = |v: &[(&str, &str)]| NodeConfig::load_with(f.path(), vars(v)).unwrap_err().to_string();
        let e = err(&[("COLDCHAIN__GATEWAY__REQUEST_TIMEOUT_MS", "30000")]);
        assert!(e.contains("gateway.request_timeout_ms") && e.contains("gateway.max_wait_ms"), "{e}");
        let e = err(&[("COLDCHAIN__GATEWAY__RATE_BURST", "0")]);
        assert!(e.contains("gateway.rate_burst"), "{e}");
        let e = err(&[("COLDCHAIN__GATEWAY__RATE_PER_SECOND", "-1")]);
        assert!(e.contains("rate_per_second"), "{e}");
        // 0 turns the rate limit off, burst and all.
        let off = vars(&[("COLDCHAIN__GATEWAY__RATE_PER_SECOND", "0"), ("COLDCHAIN__GATEWAY__RATE_BURST", "0")]);
        assert_eq!(NodeConfig::load_with(f.path(), off).unwrap().gateway.rate_per_second, 0);
    }

    #[test]
    fn plain_http_off_loopback_is_refused_unless_allowed() {
        let f = file();
        for listen in ["0.0.0.0:8001", "10.0.0.5:8001", "[::]:8001"] {
            let e = NodeConfig::load_with(f.path(), vars(&[("COLDCHAIN__GATEWAY__LISTEN", listen)])).unwrap_err().to_string();
            assert!(e.contains("gateway.listen") && e.contains("gateway.tls_cert") && e.contains("plain_http_on_any_address"), "{e}");
        }
        for listen in ["127.0.0.1:8001", "127.0.0.2:8001", "[::1]:8001"] {
            NodeConfig::load_with(f.path(), vars(&[("COLDCHAIN__GATEWAY__LISTEN", listen)])).unwrap();
        }
        let allowed = vars(&[("COLDCHAIN__GATEWAY__LISTEN", "0.0.0.0:8001"), ("COLDCHAIN__GATEWAY__PLAIN_HTTP_ON_ANY_ADDRESS", "true")]);
        NodeConfig::load_with(f.path(), allowed).unwrap();
    }

    #[test]
    fn tls_files_are_relative_to_the_config_and_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, MINIMAL.replace("127.0.0.1:8001\"", "0.0.0.0:8001\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"")).unwrap();
        // Missing files: named by option.
        let e = NodeConfig::load_with(&path, vars(&[])).unwrap_err().to_string();
        assert!(e.contains("gateway.tls_cert") && e.contains("cannot read"), "{e}");
        std::fs::create_dir(dir.path().join("tls")).unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("tls/cert.pem"), a.cert.pem()).unwrap();
        // A key file without a key, then a key of another certificate.
        std::fs::write(dir.path().join("tls/key.pem"), a.cert.pem()).unwrap();
        let e = NodeConfig::load_with(&path, vars(&[])).unwrap_err().to_string();
        assert!(e.contains("gateway.tls_key") && e.contains("no private key"), "{e}");
        std::fs::write(dir.path().join("tls/key.pem"), b.signing_key.serialize_pem()).unwrap();
        let e = NodeConfig::load_with(&path, vars(&[])).unwrap_err().to_string();
        assert!(e.contains("gateway.tls_key") && e.contains("does not go with"), "{e}");
        std::fs::write(dir.path().join("tls/key.pem"), a.signing_key.serialize_pem()).unwrap();
        let g = NodeConfig::load_with(&path, vars(&[])).unwrap().gateway;
        assert_eq!(g.tls_cert, Some(dir.path().join("tls/cert.pem")));
        // One without the other is refused.
        std::fs::write(&path, MINIMAL.replace("127.0.0.1:8001\"", "127.0.0.1:8001\"\ntls_cert = \"tls/cert.pem\"")).unwrap();
        let e = NodeConfig::load_with(&path, vars(&[])).unwrap_err().to_string();
        assert!(e.contains("set both or neither"), "{e}");
    }
}
