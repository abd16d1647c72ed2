//! Rebuilding the chaincode state from the finalized blocks on disk: what a
//! node does at start, and what `coldchain import` does before it appends.

use crate::block::Header;
use crate::consensus::Certificate;
use crate::genesis::Genesis;
use crate::storage::{ChainStore, Finality, StoreError};
use coldchain_chaincode::{BlockContext, State};

/// The state after the last finalized block on disk.
pub struct Replayed {
    pub state: State,
    /// The last finalized header (genesis's when the store is empty).
    pub head: Header,
    /// The head's own finalization certificate, if it carries one.
    pub finalization: Option<Certificate>,
}

/// Applies every stored block, in height order, to genesis's state.
pub fn replay(store: &ChainStore, genesis: &Genesis) -> Result<Replayed, StoreError> {
    let top = store.head()?;
    let mut state = State::with_genesis(genesis.chaincode_genesis());
    let mut head = genesis.block_header();
    let mut finalization = None;
    for height in 1..=top {
        let stored =
            store.block(height)?.ok_or_else(|| StoreError::Corrupt { tree: "blocks", detail: format!("block {height} missing below head {top}") })?;
        let ctx = BlockContext { height, time_ms: stored.block.header.time_ms };
        for tx in stored.block.txs.iter() {
            state.apply(ctx, tx.id(), tx);
        }
        head = stored.block.header;
        finalization = match stored.finality {
            Finality::Certificate(c) => Some(c),
            Finality::CoveredBy(_) => None,
        };
    }
    Ok(Replayed { state, head, finalization })
}
