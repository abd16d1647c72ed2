//! Every decoder that takes bytes from outside, fuzzed: arbitrary bytes, and
//! mutations of real encodings (bytes flipped, inserted, cut; JSON members
//! replaced by arbitrary JSON). Each must answer Ok or a typed error, never
//! panic. 10,000 cases per decoder here; `COLDCHAIN_FUZZ_CASES=2000000 cargo
//! test --release -p coldchain-node --test fuzz` runs millions.
//!
//! | decoder | input from |
//! |---|---|
//! | `strict_json::from_slice` | every HTTP request body |
//! | `Transaction::from_json` (+ the signature rule) | `/v1/tx`, `/v1/records`, batches |
//! | `WireMessage` (CBOR) | peers: votes, proposals, relayed transactions |
//! | `SyncRequest`, `SyncResponse` (CBOR) | peers: block sync |
//! | `ProofBundle` (JSON) + `proof::verify` | auditors' proof files (`coldchain verify`) |
//! | `StoredBlock` (JSON) | export files (`coldchain import`) |

use coldchain_chaincode::{Hash, Transaction, strict_json};
use coldchain_node::block::{Block, Header};
use coldchain_node::consensus::{Certificate, ConsensusMessage, SignerSignature, Vote};
use coldchain_node::crypto::VoteKind;
use coldchain_node::genesis::Genesis;
use coldchain_node::proof::ProofBundle;
use coldchain_node::storage::{Finality, StoredBlock};
use coldchain_node::wire::{SyncRequest, SyncResponse, WireMessage};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

fn config() -> ProptestConfig {
    let cases = std::env::var("COLDCHAIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

static TX: LazyLock<Transaction> = LazyLock::new(|| {
    Transaction::sign(
        "coldchain-local",
        1,
        json!({"type": "notarise", "document": {"batch": "L1", "weight": 13500, "note": "冷冻鸡翅", "list": [1, 2.5, true, null]}}),
        &key(),
    )
});

static HEADER: LazyLock<Header> = LazyLock::new(|| Header {
    chain_id: "coldchain-local".into(),
    height: 3,
    view: 4,
    parent: Hash::digest(b"parent"),
    tx_root: TX.id(),
    time_ms: 1_795_485_600_000,
    proposer: 1,
    tx_count: 1,
    state_height: 0,
    state_root: Default::default(),
});

static CERTIFICATE: LazyLock<Certificate> = LazyLock::new(|| Certificate {
    kind: VoteKind::Finalize,
    view: 4,
    hash: HEADER.hash(),
    signatures: (0..3).map(|i| SignerSignature { signer: i, signature: [i as u8 + 1; 64] }).collect(),
});

static GENESIS: LazyLock<Genesis> = LazyLock::new(|| {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../genesis/example.json")).expect("the example genesis");
    serde_json::from_str(&text).expect("the example genesis parses")
});

/// Real encodings to mutate.
fn tx_json() -> Vec<u8> {
    serde_json::to_vec(&*TX).expect("a transaction serializes")
}

fn bundle_json() -> Vec<u8> {
    let bundle = ProofBundle {
        version: 1,
        tx_id: TX.id(),
        transaction: Some(TX.clone()),
        leaf_index: 0,
        merkle_path: vec![],
        header: HEADER.clone(),
        links: vec![],
        finalization: Some(CERTIFICATE.clone()),
        epochs: vec![],
    };
    serde_json::to_vec(&bundle).expect("a bundle serializes")
}

fn block() -> Block {
    Block { header: HEADER.clone(), txs: Arc::new(vec![TX.clone()]) }
}

fn stored_block_json() -> Vec<u8> {
    serde_json::to_vec(&StoredBlock { block: block(), finality: Finality::Certificate(CERTIFICATE.clone()) }).expect("a block serializes")
}

fn cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
    cbor4ii::serde::to_vec(Vec::new(), value).expect("CBOR encodes")
}

fn wire_messages() -> Vec<Vec<u8>> {
    let vote = Vote { kind: VoteKind::Notarize, view: 4, hash: HEADER.hash(), signer: 2, signature: [9; 64] };
    vec![
        cbor(&WireMessage::Txs(Arc::new(vec![TX.clone()]))),
        cbor(&WireMessage::Hello { version: 2 }),
        cbor(&WireMessage::Consensus(ConsensusMessage::Vote(vote))),
        cbor(&WireMessage::Consensus(ConsensusMessage::Certificate(CERTIFICATE.clone()))),
    ]
}

/// One edit of a byte string: flip, insert or cut at a position.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Cut(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
            (any::<usize>(), 0usize..16).prop_map(|(i, n)| Edit::Cut(i, n)),
        ],
        1..6,
    )
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Cut(i, n) if !bytes.is_empty() => {
                let start = i % len;
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            _ => {}
        }
    }
    bytes
}

/// Arbitrary JSON, a few levels deep, with numbers at the edges of what
/// JSON and u64/i64/f64 hold, and unicode.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
        "[0-9a-f]{0,130}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("(type|chain_id|nonce|record|signer|signature|algorithm|public_key|document|[a-z_]{1,8})", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The transaction's JSON with the member at `path` (indices into the
/// sorted keys at each level) replaced by `value`, or removed.
fn replace_member(mut v: Value, path: &[usize], value: Option<Value>) -> Value {
    let mut node = &mut v;
    for (depth, &i) in path.iter().enumerate() {
        let Value::Object(map) = node else { break };
        if map.is_empty() {
            break;
        }
        let key = map.keys().nth(i % map.len()).cloned().unwrap_or_default();
        if depth + 1 == path.len() || !map[&key].is_object() {
            match &value {
                Some(new) => {
                    map.insert(key, new.clone());
                }
                None => {
                    map.remove(&key);
                }
            }
            break;
        }
        node = map.get_mut(&key).unwrap_or_else(|| unreachable!("the key was just read"));
    }
    v
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_bodies_parse_or_refuse(bytes in prop::collection::vec(any::<u8>(), 0..256), edits in edits(), text in "[\\[\\]{}\":,0-9a-z\\\\. eE+-]{0,64}") {
        let _ = strict_json::from_slice(&bytes);
        let _ = strict_json::from_slice(text.as_bytes());
        let _ = strict_json::from_slice(&apply(tx_json(), &edits));
    }

    #[test]
    fn transactions_parse_and_verify_or_refuse(path in prop::collection::vec(any::<usize>(), 1..4), value in prop::option::of(any_json()), edits in edits()) {
        let base: Value = serde_json::from_slice(&tx_json()).unwrap_or_default();
        let changed = replace_member(base, &path, value);
        if let Ok(tx) = Transaction::from_json(&changed, "coldchain-local") {
            let _ = tx.verify_signature();
            let _ = coldchain_chaincode::transaction::verify_batch(&[&tx, &TX]);
        }
        if let Ok(v) = strict_json::from_slice(&apply(tx_json(), &edits))
            && let Ok(tx) = Transaction::from_json(&v, "coldchain-local")
        {
            let _ = tx.verify_signature();
        }
    }

    #[test]
    fn peer_messages_decode_or_refuse(bytes in prop::collection::vec(any::<u8>(), 0..256), which in 0usize..4, edits in edits()) {
        let _ = cbor4ii::serde::from_slice::<WireMessage>(&bytes);
        let _ = cbor4ii::serde::from_slice::<SyncRequest>(&bytes);
        let _ = cbor4ii::serde::from_slice::<SyncResponse>(&bytes);
        let mutated = apply(wire_messages()[which].clone(), &edits);
        if let Ok(WireMessage::Txs(txs)) = cbor4ii::serde::from_slice::<WireMessage>(&mutated) {
            let refs: Vec<&Transaction> = txs.iter().collect();
            let _ = coldchain_chaincode::transaction::verify_batch(&refs);
            let _ = txs.iter().map(|t| t.record_is_canonical()).count();
        }
        let answer = cbor(&SyncResponse::Blocks(vec![StoredBlock { block: block(), finality: Finality::CoveredBy(4) }]));
        let _ = cbor4ii::serde::from_slice::<SyncResponse>(&apply(answer, &edits));
        let _ = cbor4ii::serde::from_slice::<SyncRequest>(&apply(cbor(&SyncRequest::Blocks { from: 1, max: 64 }), &edits));
    }

    #[test]
    fn proof_files_and_export_lines_parse_and_verify_or_refuse(bytes in prop::collection::vec(any::<u8>(), 0..256), edits in edits(), path in prop::collection::vec(any::<usize>(), 1..4), value in prop::option::of(any_json())) {
        let _ = serde_json::from_slice::<ProofBundle>(&bytes);
        if let Ok(bundle) = serde_json::from_slice::<ProofBundle>(&apply(bundle_json(), &edits)) {
            let _ = coldchain_node::proof::verify(&GENESIS, &bundle);
        }
        let base: Value = serde_json::from_slice(&bundle_json()).unwrap_or_default();
        if let Ok(bundle) = serde_json::from_value::<ProofBundle>(replace_member(base, &path, value)) {
            let _ = coldchain_node::proof::verify(&GENESIS, &bundle);
        }
        let _ = serde_json::from_slice::<StoredBlock>(&apply(stored_block_json(), &edits));
    }
}

#[test]
fn the_templates_are_real_encodings() {
    // The mutations start from encodings the decoders take, or they would
    // test only the first byte.
    assert!(Transaction::from_json(&strict_json::from_slice(&tx_json()).unwrap(), "coldchain-local").is_ok());
    assert!(serde_json::from_slice::<ProofBundle>(&bundle_json()).is_ok());
    assert!(serde_json::from_slice::<StoredBlock>(&stored_block_json()).is_ok());
    for m in wire_messages() {
        assert!(cbor4ii::serde::from_slice::<WireMessage>(&m).is_ok());
    }
    GENESIS.validate().unwrap();
}
