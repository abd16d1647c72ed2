//! Four real `coldchain node` processes on loopback: records finalize, every
//! node holds the same chain, proofs verify offline (and tampered ones do
//! not), the chain survives one node killed, stops safely with two, and bad
//! input is refused with an envelope naming the problem.

mod common;

use coldchain_chaincode::Transaction;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

/// A bare libp2p endpoint in place of a validator, holding its key: what a
/// test makes of it (a validator of an earlier release, a Byzantine one).
struct Endpoint<M> {
    rt: tokio::runtime::Runtime,
    net: coldchain_node::network::NetworkHandle<M, coldchain_node::wire::SyncRequest, coldchain_node::wire::SyncResponse>,
    events: tokio::sync::mpsc::Receiver<coldchain_node::network::NetEvent<M, coldchain_node::wire::SyncRequest, coldchain_node::wire::SyncResponse>>,
    genesis: coldchain_node::genesis::Genesis,
}

/// Stops node `i` and starts an endpoint of message type `M` with its key,
/// at its address, dialling its peers.
fn endpoint_in_place_of<M>(c: &mut Cluster, i: usize) -> Endpoint<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + Clone + 'static,
{
    use coldchain_node::network::{NetworkConfig, peer_id_of, spawn};
    c.kill(i);
    let cfg = coldchain_node::config::NodeConfig::load(&c.nodes[i].config).unwrap();
    let key = coldchain_node::crypto::read_key_file(&cfg.key).unwrap();
    let genesis = coldchain_node::genesis::Genesis::load(&cfg.genesis).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (net, events) = rt
        .block_on(spawn(NetworkConfig {
            secret_key: key.to_bytes(),
            listen: cfg.p2p.listen.parse().unwrap(),
            peers: cfg.p2p.peers.iter().map(|p| p.parse().unwrap()).collect(),
            allowed: genesis.keys().iter().map(|k| peer_id_of(&k.to_bytes())).collect(),
            max_message_bytes: 256 * 1024 * 1024,
            redial_interval: Duration::from_millis(200),
        }))
        .unwrap();
    Endpoint { rt, net, events, genesis }
}

/// Submits `n` signed records as batches spread over `via` nodes; returns ids.
fn submit_records(c: &Cluster, via: &[usize], n: usize, offset: usize, wait: bool) -> Vec<String> {
    let chain = c.chain_id();
    let key = enterprise_key(7);
    let txs: Vec<Value> =
        (0..n).map(|i| serde_json::to_value(Transaction::sign(&chain, (offset + i) as u64, record(offset + i), &key)).unwrap()).collect();
    let mut ids = Vec::new();
    let per = n.div_ceil(via.len());
    for (k, chunk) in txs.chunks(per).enumerate() {
        let q = if wait { "?wait=finalized" } else { "" };
        let (code, env) = post(&c.url(via[k % via.len()], &format!("/v1/tx/batch{q}")), &Value::Array(chunk.to_vec()));
        assert_eq!(code, 200, "{env}");
        for r in env["result"]["results"].as_array().unwrap() {
            assert!(r["state"] == "pending" || r["state"] == "finalized", "{r}");
            ids.push(r["tx_id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn finalized_height(c: &Cluster, node: usize, id: &str) -> Option<u64> {
    let (code, env) = try_get(&c.url(node, &format!("/v1/tx/{id}")))?;
    (code == 200 && env["result"]["state"] == "finalized").then(|| env["result"]["height"].as_u64().unwrap())
}

fn wait_all_finalized(c: &Cluster, node: usize, ids: &[String]) {
    wait_for(&format!("{} records finalized on node {node}", ids.len()), LONG, || {
        ids.iter().all(|id| finalized_height(c, node, id).is_some()).then_some(())
    });
}

fn verify_cli(genesis: &str, proof: &Value) -> (bool, String) {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), serde_json::to_vec(proof).unwrap()).unwrap();
    let out = run_cli(&["verify", "--genesis", genesis, f.path().to_str().unwrap()]);
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn records_finalize_identically_and_proofs_verify_offline() {
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    let ids = submit_records(&c, &[0, 1, 2, 3], 500, 0, true);
    assert_eq!(ids.len(), 500);
    for node in 0..4 {
        wait_all_finalized(&c, node, &ids);
    }
    let top = (0..4).map(|i| c.height(i).unwrap()).min().unwrap();
    c.assert_same_chain(&[0, 1, 2, 3], top);

    // A proof downloaded from one node verifies against genesis alone.
    let (code, env) = get(&c.url(2, &format!("/v1/proofs/{}", ids[123])));
    assert_eq!(code, 200, "{env}");
    let proof = env["result"].clone();
    let genesis = c.genesis_path();
    let genesis = genesis.to_str().unwrap();
    let (ok, out) = verify_cli(genesis, &proof);
    assert!(ok, "valid proof refused: {out}");
    assert!(out.contains("VALID") && out.contains(&ids[123]), "{out}");

    // A changed transaction byte.
    let mut bad = proof.clone();
    bad["transaction"]["record"]["document"]["weight"] = json!(13501.0);
    let (ok, out) = verify_cli(genesis, &bad);
    assert!(!ok && out.contains("check 2"), "tampered transaction accepted: {out}");

    // The certificate lost a signature (3 of 4 needed; keep 2).
    let mut bad = proof.clone();
    let sigs = bad["finalization"]["signatures"].as_array_mut().unwrap();
    sigs.truncate(2);
    let (ok, out) = verify_cli(genesis, &bad);
    assert!(!ok && out.contains("check 6") && out.contains("quorum"), "thin certificate accepted: {out}");

    // A signature by a key not in genesis: an outsider signs the same vote,
    // posing as validator 0.
    let mut bad = proof.clone();
    let f = &proof["finalization"];
    let hash: coldchain_chaincode::Hash = f["hash"].as_str().unwrap().parse().unwrap();
    let outsider = ed25519_dalek::SigningKey::from_bytes(&[99; 32]);
    let sig =
        coldchain_node::crypto::sign_vote(&outsider, coldchain_node::crypto::VoteKind::Finalize, &c.chain_id(), f["view"].as_u64().unwrap(), &hash);
    bad["finalization"]["signatures"][0]["signature"] = json!(hex::encode(sig));
    let (ok, out) = verify_cli(genesis, &bad);
    assert!(!ok && out.contains("check 6") && out.contains("does not verify"), "outsider signature accepted: {out}");

    // Checked against another consortium's genesis.
    let other = tempfile::tempdir().unwrap();
    assert!(run_cli(&["testnet", "--dir", other.path().to_str().unwrap(), "--chain-id", "coldchain-local"]).status.success());
    let (ok, out) = verify_cli(other.path().join("genesis.json").to_str().unwrap(), &proof);
    assert!(!ok && out.contains("check 6"), "proof accepted under another genesis: {out}");
}

#[test]
fn one_node_killed_the_rest_finalize_and_it_catches_up() {
    let mut c = Cluster::start(4);
    c.advance(0, 2);
    c.wait_height(&[0, 1, 2, 3], 2, LONG);
    c.kill(3);
    let ids = submit_records(&c, &[0, 1, 2], 60, 1000, false);
    wait_all_finalized(&c, 0, &ids);
    let target = c.advance(0, 3);
    c.wait_height(&[0, 1, 2], target, LONG);

    c.start_node(3);
    let head = c.height(0).unwrap();
    c.wait_height(&[3], head, LONG);
    c.assert_same_chain(&[0, 1, 2, 3], head);
    wait_all_finalized(&c, 3, &ids);
    // And it takes part again: with another node down, finalization goes on.
    c.kill(0);
    let more = submit_records(&c, &[1, 3], 20, 2000, false);
    wait_all_finalized(&c, 3, &more);
}

/// Proposals name their transactions by id; a validator that lacks them
/// (here: its mempool holds 5, so it drops nearly every relay) fetches each
/// block from its proposer and still votes. With a fourth node down, no
/// block is finalized without its vote.
#[test]
fn a_validator_that_dropped_the_relays_fetches_the_blocks_and_votes() {
    let mut c = Cluster::start(4);
    c.advance(0, 2);
    c.wait_height(&[0, 1, 2, 3], 2, LONG);
    c.kill(1);
    let mut cfg = std::fs::read_to_string(&c.nodes[1].config).unwrap();
    cfg.push_str("\n[mempool]\nmax_txs = 5\n");
    std::fs::write(&c.nodes[1].config, cfg).unwrap();
    c.start_node(1);
    c.wait_height(&[1], c.height(0).unwrap(), LONG);
    c.kill(3);
    let ids = submit_records(&c, &[0], 300, 4000, false);
    wait_all_finalized(&c, 1, &ids);
    let big = (1..=c.height(1).unwrap()).any(|h| {
        let (_, env) = get(&c.url(1, &format!("/v1/blocks/{h}")));
        env["result"]["tx_ids"].as_array().is_some_and(|t| t.len() > 5)
    });
    assert!(big, "no block held more transactions than the validator's mempool");
    let head = c.height(1).unwrap();
    c.wait_height(&[0, 2], head, LONG);
    c.assert_same_chain(&[0, 1, 2], head);
}

/// A validator of wire version 1, as it was before proposals by ids: it
/// reads full proposals, votes and relays, and nothing else (a message of a
/// later version does not decode and is dropped, as in that release).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum EarlierWireMessage {
    Consensus(coldchain_node::consensus::ConsensusMessage),
    Proposal { proposal: coldchain_node::consensus::Proposal, txs: Vec<Transaction> },
    Txs(Vec<Transaction>),
}

/// Rolling upgrade: the fourth validator still speaks wire version 1 (here
/// an in-test endpoint with its key and address, which reads what that
/// release read). Each of the three upgraded validators sends it its
/// proposals whole (a proposal by ids would not decode there), with bodies
/// that match their headers' Merkle roots, while proposing by ids to each
/// other.
#[test]
fn a_validator_of_the_earlier_wire_version_is_sent_whole_proposals() {
    use coldchain_node::network::{NetEvent, peer_id_of};
    let mut c = Cluster::start(4);
    c.advance(0, 2);
    c.wait_height(&[0, 1, 2, 3], 2, LONG);
    let Endpoint { rt, net: _net, mut events, genesis, .. } = endpoint_in_place_of::<EarlierWireMessage>(&mut c, 3);
    let upgraded: Vec<String> = genesis.keys()[..3].iter().map(|k| peer_id_of(&k.to_bytes()).to_string()).collect();
    let mut whole_from = std::collections::BTreeSet::new();
    let mut records_carried = 0;
    let mut submitted = 0;
    let deadline = std::time::Instant::now() + LONG;
    while whole_from.len() < 3 || records_carried == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "whole proposals came only from {whole_from:?} of {upgraded:?}, carrying {records_carried} records"
        );
        if submitted < 3000 {
            submit_records(&c, &[0, 1, 2], 100, 5000 + submitted, false);
            submitted += 100;
        }
        let window = rt.block_on(async {
            let mut got = Vec::new();
            let until = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Some(event)) = tokio::time::timeout_at(until, events.recv()).await {
                got.push(event);
            }
            got
        });
        for event in window {
            if let NetEvent::Message { from, message: EarlierWireMessage::Proposal { proposal, txs }, .. } = event {
                let h = &proposal.header;
                let ids: Vec<_> = txs.iter().map(Transaction::id).collect();
                assert_eq!(ids.len(), h.tx_count as usize, "proposal at height {} from {from}: body and header disagree", h.height);
                assert_eq!(
                    coldchain_node::block::merkle_root(&ids),
                    h.tx_root,
                    "proposal at height {} from {from}: body is not the header's",
                    h.height
                );
                whole_from.insert(from.to_string());
                records_carried += txs.len();
            }
        }
    }
    // The three upgraded validators still finalize among themselves.
    let head = c.advance(0, 1);
    c.wait_height(&[0, 1, 2], head, LONG);
    c.assert_same_chain(&[0, 1, 2], head);
}

#[test]
fn two_nodes_down_nothing_finalizes_no_fork_then_resumes() {
    let mut c = Cluster::start(4);
    c.advance(0, 2);
    c.wait_height(&[0, 1, 2, 3], 2, LONG);
    c.kill(2);
    c.kill(3);
    // Let anything in flight settle, then watch: no quorum, no new block.
    let settled = wait_for("heights to settle", LONG, || {
        let a = (c.height(0)?, c.height(1)?);
        std::thread::sleep(Duration::from_millis(1500));
        let b = (c.height(0)?, c.height(1)?);
        (a == b).then_some(b)
    });
    let ids = submit_records(&c, &[0, 1], 10, 3000, false);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((c.height(0).unwrap(), c.height(1).unwrap()), settled, "finalized without a quorum");
    assert!(ids.iter().all(|id| finalized_height(&c, 0, id).is_none()));
    let top = settled.0.min(settled.1);
    c.assert_same_chain(&[0, 1], top);

    c.start_node(2);
    c.start_node(3);
    for node in 0..4 {
        wait_all_finalized(&c, node, &ids);
    }
    let head = (0..4).map(|i| c.height(i).unwrap()).min().unwrap();
    c.assert_same_chain(&[0, 1, 2, 3], head);
}

#[test]
fn bad_input_gets_an_envelope_naming_the_problem_and_nothing_is_stored() {
    let c = Cluster::start(4);
    c.advance(0, 1);
    let chain = c.chain_id();
    let tx_url = c.url(0, "/v1/tx");
    let good = serde_json::to_value(Transaction::sign(&chain, 1, record(1), &enterprise_key(3))).unwrap();

    let (code, env) = post_bytes(&tx_url, b"{\"chain_id\": ");
    assert_eq!(code, 400);
    assert_eq!((env["success"].clone(), env["code"].clone(), env["result"]["error"].clone()), (json!(false), json!(400), json!("malformed_json")));
    assert!(env["message"].as_str().unwrap().contains("valid JSON"), "{env}");
    assert!(env["timestamp"].is_string());

    let mut bad_sig = good.clone();
    bad_sig["record"]["document"]["seq"] = json!(2);
    let (code, env) = post(&tx_url, &bad_sig);
    assert_eq!(code, 400, "{env}");
    assert_eq!(env["result"]["field"], "signature");
    assert_eq!(env["result"]["error"], "bad_signature");
    let bad_id = Transaction::from_json(&bad_sig, &chain).unwrap().id();

    let mut unknown_key = good.clone();
    unknown_key["signer"]["algorithm"] = json!("sm2");
    let (code, env) = post(&tx_url, &unknown_key);
    assert_eq!(code, 400, "{env}");
    assert_eq!(env["result"]["field"], "signer.algorithm");
    assert!(env["message"].as_str().unwrap().contains("sm2"));

    let unknown_type = serde_json::to_value(Transaction::sign(&chain, 9, json!({"type": "teleport"}), &enterprise_key(3))).unwrap();
    let (code, env) = post(&tx_url, &unknown_type);
    assert_eq!(code, 422, "{env}");
    assert_eq!(env["result"]["field"], "record.type");

    let oversized = vec![b' '; 17 * 1024 * 1024];
    let (code, env) = post_raw(&tx_url, &oversized);
    assert_eq!(code, 413, "{env}");
    assert_eq!(env["result"]["error"], "body_too_large");

    let (code, env) = get(&c.url(0, "/v1/nope"));
    assert_eq!((code, env["success"].clone()), (404, json!(false)));

    // axum's own refusals (a query that does not parse, a path that is not
    // UTF-8) come in the envelope too.
    let (code, env) = post(&c.url(0, "/v1/tx?wait=finalized&timeout_ms=soon"), &good);
    assert_eq!((code, env["success"].clone(), env["result"]["error"].as_str()), (400, json!(false), Some("bad_query")), "{env}");
    assert!(env["message"].as_str().unwrap().contains("timeout_ms"), "{env}");
    let (code, env) = get(&c.url(0, "/v1/tx/%FF%FE"));
    assert_eq!((code, env["success"].clone()), (400, json!(false)), "{env}");
    assert!(env["result"]["error"].is_string() && env["timestamp"].is_string(), "{env}");

    // A key named twice is refused wherever it is, naming it: the signed
    // text and what the node would keep (the last) would differ. The
    // duplicate is the signed transaction's own value, so the signature holds.
    let text = serde_json::to_string(&good).unwrap();
    let chain_twice = text.replacen("{", &format!("{{\"chain_id\":\"other\","), 1);
    let type_twice = text.replacen("\"type\":\"notarise\"", "\"type\":\"alert\",\"type\":\"notarise\"", 1);
    let nonce_twice = text.replacen("{", "{\"nonce\":2,", 1);
    for (body, field) in [(chain_twice, "chain_id"), (type_twice, "record.type"), (nonce_twice, "nonce")] {
        let (code, env) = post_bytes(&tx_url, body.as_bytes());
        assert_eq!(
            (code, env["result"]["error"].as_str(), env["result"]["field"].as_str()),
            (400, Some("duplicate_key"), Some(field)),
            "{body}: {env}"
        );
        let (code, env) = post_bytes(&c.url(0, "/v1/tx/batch"), format!("[{body}]").as_bytes());
        assert_eq!(code, 400, "{env}");
        let item = &env["result"]["results"][0];
        assert_eq!((item["error"].as_str(), item["field"].as_str()), (Some("duplicate_key"), Some(field)), "{env}");
    }
    let (code, _) = get(&c.url(0, &format!("/v1/tx/{}", Transaction::from_json(&good, &chain).unwrap().id())));
    assert_eq!(code, 404, "nothing of a body with a repeated key is stored");

    // Nothing of the refused requests is stored; the node keeps serving.
    let (code, env) = get(&c.url(0, &format!("/v1/tx/{bad_id}")));
    assert_eq!(code, 404, "{env}");
    assert_eq!(env["result"]["error"], "unknown_transaction");
    let (code, env) = post(&format!("{tx_url}?wait=finalized"), &good);
    assert_eq!(code, 200, "{env}");
    assert_eq!(env["result"]["state"], "finalized");
    // Submitting it again is harmless: the same id, no second copy.
    let (code, again) = post(&tx_url, &good);
    assert_eq!(code, 200);
    assert_eq!(again["result"]["tx_id"], env["result"]["tx_id"]);
    assert_eq!(again["result"]["height"], env["result"]["height"]);
}

/// The `coldchain_<name>` gauge of node `i`'s `/metrics`.
fn gauge(c: &Cluster, i: usize, name: &str) -> u64 {
    let mut resp = agent().get(&c.url(i, "/metrics")).call().unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    let prefix = format!("coldchain_{name} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {prefix} in /metrics"))
}

/// Rule I (docs/PROTOCOL.md): with nothing submitted the validators make no
/// blocks and send no votes; the first record after the pause is finalized.
#[test]
fn an_idle_consortium_makes_no_blocks_and_sends_no_votes() {
    let c = Cluster::start(4);
    let h = c.advance(1, 1);
    c.wait_height(&[0, 1, 2, 3], h, LONG);
    // Settled: the last record's block is final everywhere and its view over.
    let (heights, votes) = wait_for("heights and votes to settle", LONG, || {
        let a: Vec<u64> = (0..4).map(|i| c.height(i).unwrap()).collect();
        let va: Vec<u64> = (0..4).map(|i| gauge(&c, i, "votes_sent")).collect();
        std::thread::sleep(Duration::from_millis(1500));
        let b: Vec<u64> = (0..4).map(|i| c.height(i).unwrap()).collect();
        let vb: Vec<u64> = (0..4).map(|i| gauge(&c, i, "votes_sent")).collect();
        (a == b && va == vb).then_some((b, vb))
    });
    // An idle window of several leader timeouts (800 ms here): before Rule I
    // this was ~4 empty blocks a second per node.
    std::thread::sleep(Duration::from_secs(8));
    let after: Vec<u64> = (0..4).map(|i| c.height(i).unwrap()).collect();
    let votes_after: Vec<u64> = (0..4).map(|i| gauge(&c, i, "votes_sent")).collect();
    assert_eq!(after, heights, "blocks were finalized while idle");
    assert_eq!(votes_after, votes, "votes were sent while idle");
    for i in 0..4 {
        assert_eq!(c.status(i).unwrap()["idle"], true, "node {i} says it is idle");
        assert_eq!(gauge(&c, i, "consensus_idle"), 1);
    }
    // The next record is finalized, in the next block.
    let started = std::time::Instant::now();
    let h2 = c.advance(2, 1);
    assert_eq!(h2, heights[2] + 1, "the record is in the next block");
    eprintln!("first record after {} s idle finalized in {:?}", 8, started.elapsed());
    c.wait_height(&[0, 1, 2, 3], h2, LONG);
}
