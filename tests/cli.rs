//! The `coldchain` command without a running cluster: keys, testnet files,
//! config errors that name the option.

mod common;

use common::*;

#[test]
fn keygen_writes_an_owner_only_key_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let out = run_cli(&["keygen", "--out", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("public_key: ") && stdout.contains("peer_id:    12D3KooW"), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!run_cli(&["keygen", "--out", path.to_str().unwrap()]).status.success());
}

#[test]
fn testnet_writes_genesis_configs_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(&["testnet", "--dir", dir.path().to_str().unwrap(), "--validators", "3"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no faulty validator is tolerated"), "{stdout}");
    let listing: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("testnet.json")).unwrap()).unwrap();
    let names: Vec<&str> = listing.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["beijing", "tianjin", "hebei"]);
    for n in &names {
        for f in ["node.toml", "validator.key", "admin.key"] {
            assert!(dir.path().join(n).join(f).exists(), "{n}/{f}");
        }
    }
    let genesis: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("genesis.json")).unwrap()).unwrap();
    assert_eq!(genesis["validators"][2]["province"], "130000");
    // A second testnet in the same directory is refused.
    assert!(!run_cli(&["testnet", "--dir", dir.path().to_str().unwrap()]).status.success());
}

#[test]
fn a_bad_config_stops_the_node_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run_cli(&["testnet", "--dir", dir.path().to_str().unwrap(), "--validators", "1"]).status.success());
    let cfg = dir.path().join("beijing/node.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("[gateway]\nlisten = \"", "[gateway]\nlisten = \"nonsense")).unwrap();
    let out = run_cli(&["node", "--config", cfg.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gateway.listen"), "{stderr}");
    std::fs::write(&cfg, text.replace("[consensus]", "[consensus]\nleader_timeuot_ms = 5")).unwrap();
    let out = run_cli(&["node", "--config", cfg.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("leader_timeuot_ms"));
}

#[test]
fn a_single_validator_testnet_finalizes_on_its_own() {
    let c = Cluster::start(1);
    c.advance(0, 2);
    c.wait_height(&[0], 2, std::time::Duration::from_secs(60));
}

#[test]
fn metrics_and_readiness_describe_a_running_node() {
    let c = Cluster::start(1);
    c.advance(0, 1);
    // One validator: a quorum of one, nothing to catch up with.
    let (code, body) = wait_for("readyz 200", std::time::Duration::from_secs(60), || {
        let (code, body) = common::get(&c.url(0, "/readyz"));
        (code == 200).then_some((code, body))
    });
    assert_eq!((code, body["message"].as_str()), (200, Some("ready")));
    let _ = common::get(&c.url(0, "/v1/status"));
    let _ = common::get(&c.url(0, "/v1/tx/nothex"));
    let text = common::agent().get(&c.url(0, "/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    let height: u64 = text.lines().find_map(|l| l.strip_prefix("coldchain_height ")).expect("coldchain_height").trim().parse().unwrap();
    assert!(height >= 1, "{text}");
    assert!(text.contains(r#"coldchain_gateway_requests_total{route="/v1/status",outcome="ok"}"#), "{text}");
    assert!(text.contains(r#"coldchain_gateway_requests_total{route="/v1/tx/{id}",outcome="client_error"}"#), "{text}");
    assert!(text.contains("coldchain_gateway_request_seconds_bucket"), "{text}");
    for name in ["coldchain_view", "coldchain_mempool_transactions", "coldchain_connected_peers", "coldchain_votes_sent", "coldchain_sync_lag_blocks"]
    {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from\n{text}");
    }
}
