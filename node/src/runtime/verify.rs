//! Checking a proposed block's body, off the driver's thread: transactions
//! match the header, none repeats, each signature verifies (batch, skipping
//! those this node verified already), and the time is sane.

use super::services::SignatureCheck;
use crate::block::{Block, Header};
use crate::genesis::ConsensusParams;
use coldchain_chaincode::TxId;
use std::collections::HashSet;

/// Checks a proposed block against its parent, this chain's consensus
/// parameters (genesis) and this node's clock `now_ms`; `Err` says why it
/// gets no vote.
pub fn verify_body(
    block: &Block,
    parent: &Header,
    chain_id: &str,
    limits: &ConsensusParams,
    already_verified: &HashSet<TxId>,
    now_ms: i64,
    signatures: SignatureCheck,
) -> Result<(), String> {
    let h = &block.header;
    if h.time_ms < parent.time_ms {
        return Err(format!("time {} is before the parent's {}", h.time_ms, parent.time_ms));
    }
    let drift = i64::try_from(limits.max_clock_drift_ms).unwrap_or(i64::MAX);
    if h.time_ms > now_ms.saturating_add(drift) {
        return Err(format!("time {} is {} ms ahead of ours; genesis allows {drift} ms", h.time_ms, h.time_ms - now_ms));
    }
    if block.txs.len() > limits.max_block_txs as usize {
        return Err(format!("{} transactions; genesis allows {} a block", block.txs.len(), limits.max_block_txs));
    }
    let ids = block.tx_ids();
    if !block.body_matches_header(&ids) {
        return Err("transactions do not match tx_root/tx_count".into());
    }
    let mut seen = HashSet::with_capacity(ids.len());
    if !ids.iter().all(|id| seen.insert(*id)) {
        return Err("a transaction appears twice".into());
    }
    let bytes: usize = block.txs.iter().map(|tx| tx.byte_len()).sum();
    if bytes > limits.max_block_bytes() {
        return Err(format!("{bytes} transaction bytes; genesis allows {} a block", limits.max_block_bytes));
    }
    if let Some((i, e)) = block.txs.iter().enumerate().find_map(|(i, tx)| tx.check_envelope(chain_id, limits.max_tx_bytes()).err().map(|e| (i, e))) {
        return Err(format!("transaction {i}: {} {}", e.field, e.rule));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::merkle_root;
    use coldchain_chaincode::{Hash, Transaction};
    use ed25519_dalek::SigningKey;
    use std::sync::Arc;

    const CHAIN: &str = "c";
    const NOW: i64 = 1_800_000_000_000;

    fn parent() -> Header {
        Header {
            chain_id: CHAIN.into(),
            height: 1,
            view: 1,
            parent: Hash::ZERO,
            tx_root: Hash::ZERO,
            time_ms: NOW - 1_000,
            proposer: 0,
            tx_count: 0,
            state_height: 0,
            state_root: Hash::ZERO,
        }
    }

    fn txs(n: u64) -> Vec<Transaction> {
        (0..n)
            .map(|i| Transaction::sign(CHAIN, i, serde_json::json!({"type": "notarise", "document": {"n": i}}), &SigningKey::from_bytes(&[7; 32])))
            .collect()
    }

    /// A block a leader proposes on [`parent`], at `time_ms`.
    fn block(txs: Vec<Transaction>, time_ms: i64) -> Block {
        let ids: Vec<_> = txs.iter().map(Transaction::id).collect();
        let header =
            Header { height: 2, view: 2, parent: parent().hash(), tx_root: merkle_root(&ids), time_ms, tx_count: ids.len() as u32, ..parent() };
        Block { header, txs: Arc::new(txs) }
    }

    fn verdict(b: &Block, limits: &ConsensusParams) -> Result<(), String> {
        verify_body(b, &parent(), CHAIN, limits, &HashSet::new(), NOW, SignatureCheck::Verify)
    }

    #[test]
    fn an_honest_block_within_the_genesis_limits_gets_a_vote() {
        assert_eq!(verdict(&block(txs(3), NOW), &ConsensusParams::default()), Ok(()));
    }

    /// Issue 17: a Byzantine leader's block over the genesis limits, or
    /// with its time moved ahead, gets no vote from an honest validator.
    #[test]
    fn a_block_over_the_genesis_limits_gets_no_vote() {
        let limits = ConsensusParams { max_block_txs: 2, ..ConsensusParams::default() };
        let e = verdict(&block(txs(3), NOW), &limits).unwrap_err();
        assert!(e.contains("3 transactions; genesis allows 2"), "{e}");

        let three = txs(3);
        let bytes: usize = three.iter().map(Transaction::byte_len).sum();
        let limits = ConsensusParams { max_block_bytes: bytes as u64 - 1, max_tx_bytes: 1_000, ..ConsensusParams::default() };
        let e = verdict(&block(three.clone(), NOW), &limits).unwrap_err();
        assert!(e.contains(&format!("{bytes} transaction bytes; genesis allows {}", bytes - 1)), "{e}");
        let limits = ConsensusParams { max_block_bytes: bytes as u64, ..limits };
        assert_eq!(verdict(&block(three, NOW), &limits), Ok(()));

        let drift = ConsensusParams::default().max_clock_drift_ms as i64;
        assert_eq!(verdict(&block(txs(1), NOW + drift), &ConsensusParams::default()), Ok(()));
        let e = verdict(&block(txs(1), NOW + drift + 1), &ConsensusParams::default()).unwrap_err();
        assert!(e.contains(&format!("{} ms ahead of ours; genesis allows {drift} ms", drift + 1)), "{e}");
    }

    /// Issue 17: a transaction the gateway would refuse is refused inside a
    /// peer's proposal too, even when its signature verifies.
    #[test]
    fn a_proposal_carrying_a_transaction_the_gateway_refuses_gets_no_vote() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let cases = [
            (Transaction::sign(CHAIN, coldchain_chaincode::transaction::MAX_NONCE + 1, serde_json::json!({"type": "notarise"}), &key), "nonce"),
            (Transaction::sign("other", 1, serde_json::json!({"type": "notarise"}), &key), "chain_id"),
            (Transaction::sign(CHAIN, 1, serde_json::json!({"type": "notarise", "document": "x".repeat(2_000)}), &key), "(body)"),
        ];
        let limits = ConsensusParams { max_tx_bytes: 1_000, ..ConsensusParams::default() };
        for (tx, field) in cases {
            assert_eq!(tx.verify_signature(), Ok(()), "{field}: the signature itself is good");
            let e = verdict(&block(vec![tx], NOW), &limits).unwrap_err();
            assert!(e.starts_with(&format!("transaction 0: {field} ")), "{field}: {e}");
        }
    }
}
