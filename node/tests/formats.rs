//! The worked examples of docs/FORMATS.md and docs/PROOFS.md, computed by the
//! code: if an encoding changes, this test fails until the docs are updated.

use coldchain_chaincode::{Hash, Transaction};
use coldchain_node::block::{Header, leaf_hash, merkle_root};
use coldchain_node::crypto::{VoteKind, vote_message};
use ed25519_dalek::SigningKey;
use serde_json::json;

fn example_tx() -> Transaction {
    let key = SigningKey::from_bytes(&[1u8; 32]);
    Transaction::sign("coldchain-local", 1, json!({"type": "notarise", "document": {"batch": "L1", "weight": 13500.00}}), &key)
}

#[test]
fn transaction_example() {
    let tx = example_tx();
    let signing = tx.signing_bytes();
    let canonical = String::from_utf8(tx.canonical_bytes()).unwrap();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMATS.md")).unwrap();
    if std::env::var("PRINT_EXAMPLES").is_ok() {
        println!("public_key {}", hex::encode(tx.signer.public_key));
        println!("signed bytes (after tag) {}", String::from_utf8_lossy(&signing[16..]));
        println!("canonical {canonical}");
        println!("signature {}", hex::encode(tx.signature));
        println!("tx id {}", tx.id());
    }
    assert!(doc.contains(&canonical), "docs/FORMATS.md must show the canonical bytes {canonical}");
    assert!(doc.contains(&tx.id().to_hex()), "docs/FORMATS.md must show the tx id {}", tx.id());
}

#[test]
fn header_vote_and_merkle_examples() {
    let id = example_tx().id();
    let header = Header {
        chain_id: "coldchain-local".into(),
        height: 1,
        view: 1,
        parent: Hash([0xab; 32]),
        tx_root: merkle_root(&[id]),
        time_ms: 1_764_000_000_000,
        proposer: 1,
        tx_count: 1,
        state_height: 0,
        state_root: Hash([0xcd; 32]),
    };
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMATS.md")).unwrap();
    let header_hex = hex::encode(header.canonical_bytes());
    let vote_hex = hex::encode(vote_message(VoteKind::Finalize, "coldchain-local", 1, &header.hash()));
    if std::env::var("PRINT_EXAMPLES").is_ok() {
        println!("leaf {}", hex::encode(leaf_hash(&id)));
        println!("root {}", header.tx_root);
        println!("header bytes {header_hex}");
        println!("header hash {}", header.hash());
        println!("finalize vote bytes {vote_hex}");
    }
    assert_eq!(header.tx_root.0, leaf_hash(&id), "a one-leaf tree's root is its leaf");
    for (what, value) in [("header bytes", header_hex), ("header hash", header.hash().to_hex()), ("vote bytes", vote_hex)] {
        assert!(doc.contains(&value), "docs/FORMATS.md must show the {what} {value}");
    }
}

#[test]
fn the_example_genesis_is_valid() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../genesis/example.json"));
    let genesis = coldchain_node::genesis::Genesis::load(path).unwrap();
    assert_eq!(genesis.validators.len(), 4);
    assert_eq!(genesis.quorum(), 3);
    let provinces: Vec<&str> = genesis.validators.iter().map(|v| v.province.as_str()).collect();
    assert_eq!(provinces, ["110000", "120000", "130000", "000000"]);
}
