//! Blocks made for the node's unit tests.

use crate::block::{Block, Header, merkle_root};
use coldchain_chaincode::{Hash, Transaction, TxId};

/// A block of `txs` notarisations at `height` on `parent` (tests of the
/// store and of replay).
pub(crate) fn notarise_block(height: u64, parent: Hash, txs: u64) -> Block {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let txs: Vec<Transaction> =
        (0..txs).map(|i| Transaction::sign("c", height * 1000 + i, serde_json::json!({"type": "notarise", "document": {"n": i}}), &key)).collect();
    let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
    let header = Header {
        chain_id: "c".into(),
        height,
        view: height,
        parent,
        tx_root: merkle_root(&ids),
        time_ms: height as i64,
        proposer: 0,
        tx_count: txs.len() as u32,
        state_height: 0,
        state_root: Default::default(),
    };
    Block { header, txs: std::sync::Arc::new(txs) }
}
