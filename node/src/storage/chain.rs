//! The finalized chain in sled.
//!
//! Trees: `blocks` (height → block, its finality), `hashes` (block hash →
//! height), `txs` (tx id → height, index, outcome), `pending` (accepted, not
//! yet finalized transactions), `proposals` (bodies of blocks this node
//! voted for, needed if the whole consortium restarts), `evidence`, `meta`
//! (the head height). The head is written last and everything is flushed
//! before a commit returns, so what the node acknowledges is on disk;
//! index entries above the head (from an interrupted commit) are ignored.

use crate::block::{Block, Header};
use crate::consensus::{Certificate, Evidence};
use coldchain_chaincode::{Hash, Outcome, Receipt, Transaction, TxId};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in tree `{tree}`: {detail}")]
    Corrupt { tree: &'static str, detail: String },
}

/// How a stored block is known to be final.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finality {
    /// Its own finalization certificate.
    Certificate(Certificate),
    /// Final because the block at this height, which extends it, was finalized.
    CoveredBy(u64),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredBlock {
    pub block: Block,
    pub finality: Finality,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub struct ChainStore {
    db: sled::Db,
    blocks: sled::Tree,
    hashes: sled::Tree,
    txs: sled::Tree,
    pending: sled::Tree,
    proposals: sled::Tree,
    evidence: sled::Tree,
    meta: sled::Tree,
}

const HEAD: &[u8] = b"head";

fn corrupt(tree: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { tree, detail: e.to_string() }
}

impl ChainStore {
    pub fn open(dir: &Path) -> Result<ChainStore, StoreError> {
        let db = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).open()?;
        Ok(ChainStore {
            blocks: db.open_tree("blocks")?,
            hashes: db.open_tree("hashes")?,
            txs: db.open_tree("txs")?,
            pending: db.open_tree("pending")?,
            proposals: db.open_tree("proposals")?,
            evidence: db.open_tree("evidence")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Height of the last finalized block on disk (0: only genesis).
    pub fn head(&self) -> Result<u64, StoreError> {
        Ok(match self.meta.get(HEAD)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|e| corrupt("meta", e))?),
            None => 0,
        })
    }

    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        if height == 0 || height > self.head()? {
            return Ok(None);
        }
        match self.blocks.get(height.to_be_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| corrupt("blocks", e))?)),
            None => Ok(None),
        }
    }

    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        Ok(self.block(height)?.map(|b| b.block.header))
    }

    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        let Some(v) = self.hashes.get(hash.0)? else { return Ok(None) };
        let h = u64::from_be_bytes(v.as_ref().try_into().map_err(|e| corrupt("hashes", e))?);
        Ok((h <= self.head()?).then_some(h))
    }

    pub fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>, StoreError> {
        let Some(v) = self.txs.get(id.0)? else { return Ok(None) };
        let loc: TxLocation = serde_json::from_slice(&v).map_err(|e| corrupt("txs", e))?;
        Ok((loc.height <= self.head()?).then_some(loc))
    }

    /// Stores finalized blocks in height order with their receipts; the last
    /// one carries `finalization`, the others are covered by it. Flushes.
    pub fn commit(&self, blocks: &[(Block, Vec<Receipt>)], finalization: &Certificate) -> Result<(), StoreError> {
        let Some((last, _)) = blocks.last() else { return Ok(()) };
        let tip = last.header.height;
        let mut pending_done = sled::Batch::default();
        for (block, receipts) in blocks {
            let height = block.header.height;
            let mut tx_batch = sled::Batch::default();
            for (index, receipt) in receipts.iter().enumerate() {
                let loc = TxLocation { height, index: index as u32, outcome: receipt.outcome.clone() };
                tx_batch.insert(&receipt.tx_id.0, serde_json::to_vec(&loc).expect("plain data"));
                pending_done.remove(&receipt.tx_id.0);
            }
            self.txs.apply_batch(tx_batch)?;
            self.hashes.insert(block.header.hash().0, &height.to_be_bytes())?;
            let finality = if height == tip { Finality::Certificate(finalization.clone()) } else { Finality::CoveredBy(tip) };
            let stored = StoredBlock { block: block.clone(), finality };
            self.blocks.insert(height.to_be_bytes(), serde_json::to_vec(&stored).expect("plain data"))?;
        }
        self.meta.insert(HEAD, &tip.to_be_bytes())?;
        self.pending.apply_batch(pending_done)?;
        let mut done = sled::Batch::default();
        for key in self.proposals.iter().keys() {
            let key = key?;
            if key.len() >= 8 && u64::from_be_bytes(key[..8].try_into().expect("8 bytes")) <= tip {
                done.remove(key);
            }
        }
        self.proposals.apply_batch(done)?;
        self.db.flush()?;
        Ok(())
    }

    /// Stores accepted transactions; durable once [`ChainStore::flush`] returns.
    pub fn put_pending(&self, txs: &[(TxId, Transaction)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (id, tx) in txs {
            batch.insert(&id.0, serde_json::to_vec(tx).expect("plain data"));
        }
        self.pending.apply_batch(batch)?;
        Ok(())
    }

    pub fn is_pending(&self, id: &TxId) -> Result<bool, StoreError> {
        Ok(self.pending.contains_key(id.0)?)
    }

    pub fn pending_txs(&self) -> Result<Vec<(TxId, Transaction)>, StoreError> {
        let mut out = Vec::new();
        for item in self.pending.iter() {
            let (k, v) = item?;
            let id = Hash(k.as_ref().try_into().map_err(|e| corrupt("pending", e))?);
            out.push((id, serde_json::from_slice(&v).map_err(|e| corrupt("pending", e))?));
        }
        Ok(out)
    }

    /// Keeps the body of a block this node is about to vote for.
    pub fn put_proposal(&self, block: &Block) -> Result<(), StoreError> {
        let mut key = block.header.height.to_be_bytes().to_vec();
        key.extend_from_slice(&block.header.hash().0);
        self.proposals.insert(key, serde_json::to_vec(block).expect("plain data"))?;
        Ok(())
    }

    pub fn proposals(&self) -> Result<Vec<Block>, StoreError> {
        self.proposals.iter().values().map(|v| serde_json::from_slice(&v?).map_err(|e| corrupt("proposals", e))).collect()
    }

    pub fn put_evidence(&self, evidence: &Evidence) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        self.evidence.insert(id.to_be_bytes(), serde_json::to_vec(evidence).expect("plain data"))?;
        Ok(())
    }

    pub fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        self.evidence.iter().values().map(|v| serde_json::from_slice(&v?).map_err(|e| corrupt("evidence", e))).collect()
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The finalization certificate that covers `height`, and the headers
    /// from `height + 1` up to the certified block.
    pub fn finality_of(&self, height: u64) -> Result<Option<(Certificate, Vec<Header>)>, StoreError> {
        let Some(stored) = self.block(height)? else { return Ok(None) };
        match stored.finality {
            Finality::Certificate(c) => Ok(Some((c, Vec::new()))),
            Finality::CoveredBy(tip) => {
                let mut links = Vec::new();
                for h in height + 1..=tip {
                    links.push(self.header(h)?.ok_or_else(|| corrupt("blocks", format!("missing block {h}")))?);
                }
                match self.block(tip)?.map(|b| b.finality) {
                    Some(Finality::Certificate(c)) => Ok(Some((c, links))),
                    _ => Err(corrupt("blocks", format!("block {tip} has no certificate"))),
                }
            }
        }
    }
}
