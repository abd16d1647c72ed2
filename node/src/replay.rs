//! The chaincode state of a node's store at start, and the full replay
//! from genesis that checks it.
//!
//! The state lives in the store, written with each block ([`open_state`]
//! reads it: no replay). Only blocks stored above the state's height (a
//! store from before the state was stored, or a crash between a block and
//! its state, which the store's open repairs) are applied at start.
//! [`replay`] re-derives the whole state from genesis in memory, for
//! `coldchain verify-chain`.

use crate::block::Header;
use crate::consensus::Certificate;
use crate::genesis::Genesis;
use crate::storage::{ChainStore, Finality, StoreError};
use coldchain_chaincode::{BlockContext, State};
use std::sync::Arc;

/// The state after the last finalized block on disk.
pub struct Replayed {
    pub state: State,
    /// The last finalized header (genesis's when the store is empty).
    pub head: Header,
    /// The head's own finalization certificate, if it carries one.
    pub finalization: Option<Certificate>,
    /// Blocks applied to reach the head, and of those, blocks whose
    /// recorded state root was checked (stores from before roots were
    /// recorded have none).
    pub applied_blocks: u64,
    pub checked_roots: u64,
}

/// Roots kept to check the roots headers name (a header names a block
/// at most a few below it).
const RECENT_ROOTS: usize = 256;

/// Changes held before they are written while catching up.
const CATCH_UP_CHANGES: usize = 200_000;

/// The state stored in `store`, brought up to its head: blocks above the
/// state's height are applied (checking their recorded roots) and their
/// changes written, in chunks.
pub fn open_state(store: &ChainStore, genesis: &Genesis) -> Result<Replayed, StoreError> {
    let state = State::open_store(Arc::new(store.state_tree()), genesis.chaincode_genesis());
    let from = state.height();
    if from > store.head()? {
        return Err(StoreError::Corrupt { tree: "state", detail: format!("state at height {from}, above the chain's head {}", store.head()?) });
    }
    apply_stored(store, genesis, state, from, |state| {
        if state.changes().len() >= CATCH_UP_CHANGES {
            store.write_state(state.changes())?;
            state.settle();
        }
        Ok(())
    })
    .and_then(|mut r| {
        store.write_state(r.state.changes())?;
        r.state.settle();
        Ok(r)
    })
}

/// Applies every stored block, in height order, to genesis's state, in memory.
pub fn replay(store: &ChainStore, genesis: &Genesis) -> Result<Replayed, StoreError> {
    apply_stored(store, genesis, State::with_genesis(genesis.chaincode_genesis()), 0, |state| {
        state.settle();
        Ok(())
    })
}

/// Applies blocks `from + 1 ..= head` to `state`, calling `after_block` after each.
fn apply_stored(
    store: &ChainStore,
    genesis: &Genesis,
    mut state: State,
    from: u64,
    mut after_block: impl FnMut(&mut State) -> Result<(), StoreError>,
) -> Result<Replayed, StoreError> {
    let top = store.head()?;
    let mut head = genesis.block_header();
    let mut finalization = None;
    let mut checked_roots = 0;
    if from > 0 {
        let stored =
            store.block(from)?.ok_or_else(|| StoreError::Corrupt { tree: "blocks", detail: format!("block {from} missing below head {top}") })?;
        head = stored.block.header;
        finalization = match stored.finality {
            Finality::Certificate(c) => Some(c),
            Finality::CoveredBy(_) | Finality::EndOfEpoch(_) => None,
        };
    }
    // Roots after the latest blocks: each header names one (the state its
    // proposer had applied), which the replayed state must match too.
    let mut recent: std::collections::BTreeMap<u64, coldchain_chaincode::Hash> = [(from, state.root())].into();
    for height in from + 1..=top {
        let (stored, recorded) = store
            .block_and_root(height)?
            .ok_or_else(|| StoreError::Corrupt { tree: "blocks", detail: format!("block {height} missing below head {top}") })?;
        let named = (stored.block.header.state_height, stored.block.header.state_root);
        if let Some(replayed) = recent.get(&named.0)
            && *replayed != named.1
        {
            return Err(StoreError::StateDiverged { height: named.0, stored: named.1, replayed: *replayed });
        }
        let ctx = BlockContext { height, time_ms: stored.block.header.time_ms };
        state.apply_block(ctx, stored.block.txs.iter());
        // The same blocks must give the same state as when they were
        // committed: a release that decides a historical transaction
        // differently, or an altered store, stops here, not after diverging.
        if let Some(recorded) = recorded {
            if recorded != state.root() {
                return Err(StoreError::StateDiverged { height, stored: recorded, replayed: state.root() });
            }
            checked_roots += 1;
        }
        recent.insert(height, state.root());
        if recent.len() > RECENT_ROOTS {
            recent.pop_first();
        }
        after_block(&mut state)?;
        head = stored.block.header;
        finalization = match stored.finality {
            Finality::Certificate(c) => Some(c),
            Finality::CoveredBy(_) | Finality::EndOfEpoch(_) => None,
        };
    }
    Ok(Replayed { state, head, finalization, applied_blocks: top - from, checked_roots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Certificate, SignerSignature};
    use crate::crypto::VoteKind;
    use crate::genesis::Validator;
    use crate::testing::notarise_block;
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
            consensus: Default::default(),
        }
    }

    /// Three blocks of notarisations committed with the roots a state
    /// computed; `tamper` changes the root recorded for block 2;
    /// `store_state` writes the state with the blocks (else the store is
    /// one of a release that kept no state).
    fn chain(dir: &std::path::Path, tamper: bool, store_state: bool) -> (ChainStore, Genesis) {
        chain_with(dir, tamper, false, store_state)
    }

    fn chain_with(dir: &std::path::Path, tamper: bool, tamper_header: bool, store_state: bool) -> (ChainStore, Genesis) {
        let g = genesis();
        let store = ChainStore::open(dir).unwrap();
        let mut state = State::with_genesis(g.chaincode_genesis());
        let mut parent = g.block_header();
        for height in 1..=3u64 {
            let mut block = notarise_block(height, parent.hash(), 4);
            // Each header names the state after the block before it.
            block.header.state_height = height - 1;
            block.header.state_root = state.root();
            if tamper_header && height == 3 {
                block.header.state_root = Hash::digest(b"a root nobody computed");
            }
            let header = block.header.clone();
            let ctx = BlockContext { height, time_ms: header.time_ms };
            let receipts: Vec<Receipt> = state.apply_block(ctx, block.txs.iter());
            let root = if tamper && height == 2 { Hash::digest(b"another release's root") } else { state.root() };
            let cert = Certificate {
                kind: VoteKind::Finalize,
                view: height,
                hash: header.hash(),
                signatures: vec![SignerSignature { signer: 0, signature: [0; 64] }],
            };
            let changes = if store_state { state.changes().clone() } else { Default::default() };
            store.commit_with_state(&[(block, receipts)], &crate::storage::Finality::Certificate(cert.clone()), &[root], &changes).unwrap();
            state.settle();
            parent = header;
        }
        (store, g)
    }

    #[test]
    fn replay_checks_every_recorded_root() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), false, false);
        let replayed = replay(&store, &g).unwrap();
        assert_eq!(replayed.head.height, 3);
        assert_eq!(replayed.checked_roots, 3);
        assert_eq!(Some(replayed.state.root()), store.block_and_root(3).unwrap().unwrap().1);
    }

    #[test]
    fn a_replay_that_differs_from_a_root_a_header_names_stops_naming_the_height() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain_with(dir.path(), false, true, false);
        match replay(&store, &g) {
            Err(StoreError::StateDiverged { height: 2, stored, .. }) => assert_eq!(stored, Hash::digest(b"a root nobody computed")),
            other => panic!("expected a divergence at 2, got {:?}", other.map(|r| r.head.height)),
        }
    }

    #[test]
    fn a_replay_that_differs_from_the_recorded_root_stops_naming_the_height() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), true, false);
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

    /// A store that holds its state opens at its head without applying a
    /// block, with the state a replay from genesis gives, entry for entry.
    #[test]
    fn a_stored_state_opens_without_replay_and_equals_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), false, true);
        let opened = open_state(&store, &g).unwrap();
        assert_eq!((opened.head.height, opened.applied_blocks), (3, 0));
        let replayed = replay(&store, &g).unwrap();
        assert_eq!(opened.state.root(), replayed.state.root());
        assert_eq!(opened.state.digest(), replayed.state.digest());
        assert_eq!(opened.state.applied_count(), 12);
    }

    /// A store from a release that kept no state: its blocks are applied
    /// once, at the first start, and the state written; the next start
    /// applies none.
    #[test]
    fn a_store_without_state_is_caught_up_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, g) = chain(dir.path(), false, false);
        let first = open_state(&store, &g).unwrap();
        assert_eq!((first.applied_blocks, first.checked_roots), (3, 3));
        drop(first);
        let second = open_state(&store, &g).unwrap();
        assert_eq!((second.head.height, second.applied_blocks), (3, 0));
        assert_eq!(second.state.digest(), replay(&store, &g).unwrap().state.digest());
    }
}
