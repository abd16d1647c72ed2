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
    /// Blocks whose recorded state root was checked (stores from before
    /// roots were recorded have none).
    pub checked_roots: u64,
}

/// Applies every stored block, in height order, to genesis's state.
pub fn replay(store: &ChainStore, genesis: &Genesis) -> Result<Replayed, StoreError> {
    let top = store.head()?;
    let mut state = State::with_genesis(genesis.chaincode_genesis());
    let mut head = genesis.block_header();
    let mut finalization = None;
    let mut checked_roots = 0;
    for height in 1..=top {
        let (stored, recorded) = store
            .block_and_root(height)?
            .ok_or_else(|| StoreError::Corrupt { tree: "blocks", detail: format!("block {height} missing below head {top}") })?;
        let ctx = BlockContext { height, time_ms: stored.block.header.time_ms };
        for tx in stored.block.txs.iter() {
            state.apply(ctx, tx.id(), tx);
        }
        // The same blocks must give the same state as when they were
        // committed: a release that decides a historical transaction
        // differently, or an altered store, stops here, not after diverging.
        if let Some(recorded) = recorded {
            if recorded != state.root() {
                return Err(StoreError::StateDiverged { height, stored: recorded, replayed: state.root() });
            }
            checked_roots += 1;
        }
        head = stored.block.header;
        finalization = match stored.finality {
            Finality::Certificate(c) => Some(c),
            Finality::CoveredBy(_) => None,
        };
    }
    Ok(Replayed { state, head, finalization, checked_roots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::notarise_block;
    use crate::consensus::{Certificate, SignerSignature};
    use crate::crypto::VoteKind;
    use crate::genesis::Validator;
    use coldchain_chaincode::{Hash, Receipt};
    use ed25519_dalek::SigningKey;

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "c".into(),
            genesis_time: "2026-11-24T00:00:00Z".into(),
            validators: vec![Validator {
                name: "beijing".into(),
                province: "110000".into(),
                public_key: hex::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes()),
                admin_key: None,
            }],
            dictionaries: coldchain_chaincode::dictionary::Dictionaries::builtin(),
        }
    }

    /// Three blocks of notarisations committed with the roots a state
    /// computed; `tamper` changes the root recorded for block 2.
    fn chain(dir: &std::path::Path, tamper: bool) -> (ChainStore, Genesis) {
        let g = genesis();
        let store = ChainStore::open(dir).unwrap();
        let mut state = State::with_genesis(g.chaincode_genesis());
        let mut parent = g.block_header();
        for height in 1..=3u64 {
            let block = notarise_block(height, parent.hash(), 4);
            let header = block.header.clone();
            let ctx = BlockContext { height, time_ms: header.time_ms };
            let receipts: Vec<Receipt> = block.txs.iter().map(|t| state.apply(ctx, t.id(), t)).collect();
            let root = if tamper && height == 2 { Hash::digest(b"another release's root") } else { state.root() };
            let cert = Certificate {
                kind: VoteKind::Finalize,
                view: height,
                hash: header.hash(),
                signatures: vec![SignerSignature { signer: 0, signature: [0; 64] }],
            };
            store.commit_with_roots(&[(block, receipts)], &cert, &[root]).unwrap();
            parent = header;
        }
        (store, g)
    }

    #[test]
    fn replay_checks_every_recorded_root() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), false);
        let replayed = replay(&store, &g).unwrap();
        assert_eq!(replayed.head.height, 3);
        assert_eq!(replayed.checked_roots, 3);
        assert_eq!(Some(replayed.state.root()), store.block_and_root(3).unwrap().unwrap().1);
    }

    #[test]
    fn a_replay_that_differs_from_the_recorded_root_stops_naming_the_height() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), true);
        match replay(&store, &g) {
            Err(e @ StoreError::StateDiverged { height: 2, .. }) => {
                let text = e.to_string();
                let recorded = Hash::digest(b"another release's root").to_string();
                assert!(text.contains("height 2") && text.contains(&recorded), "{text}");
            }
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("a replay that differs from the committed root was accepted"),
        }
    }
}
