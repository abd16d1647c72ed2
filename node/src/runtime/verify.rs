//! Checking a proposed block's body, off the driver's thread: transactions
//! match the header, none repeats, each signature verifies (batch, skipping
//! those this node verified already), and the time is sane.

use super::services::SignatureCheck;
use crate::block::{Block, Header};
use coldchain_chaincode::TxId;
use std::collections::HashSet;

/// How far a proposer's clock may run ahead of ours.
pub const MAX_CLOCK_DRIFT_MS: i64 = 30_000;

pub fn verify_body(
    block: &Block,
    parent: &Header,
    chain_id: &str,
    already_verified: &HashSet<TxId>,
    now_ms: i64,
    signatures: SignatureCheck,
) -> Result<(), String> {
    let h = &block.header;
    if h.time_ms < parent.time_ms {
        return Err(format!("time {} is before the parent's {}", h.time_ms, parent.time_ms));
    }
    if h.time_ms > now_ms + MAX_CLOCK_DRIFT_MS {
        return Err(format!("time {} is more than {MAX_CLOCK_DRIFT_MS} ms ahead of ours", h.time_ms));
    }
    let ids = block.tx_ids();
    if !block.body_matches_header(&ids) {
        return Err("transactions do not match tx_root/tx_count".into());
    }
    let mut seen = HashSet::with_capacity(ids.len());
    if !ids.iter().all(|id| seen.insert(*id)) {
        return Err("a transaction appears twice".into());
    }
    if let Some(tx) = block.txs.iter().find(|tx| tx.chain_id != chain_id) {
        return Err(format!("transaction for chain {}", tx.chain_id));
    }
    let unverified: Vec<_> = block.txs.iter().zip(&ids).filter(|(_, id)| !already_verified.contains(id)).map(|(tx, _)| tx).collect();
    if unverified.iter().any(|tx| !tx.record_is_canonical()) {
        return Err("a transaction's record is not in RFC 8785 canonical form".into());
    }
    if let Some(e) = signatures.check(&unverified).into_iter().find_map(Result::err) {
        return Err(format!("transaction signature: {e}"));
    }
    Ok(())
}
