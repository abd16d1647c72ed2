//! Block sync: checking a segment of finalized blocks fetched from a peer
//! before anything of it is stored. Pure; the driver does the fetching.
//!
//! A segment is accepted up to its last block that carries its own
//! finalization certificate, verified against the validators of its epoch
//! (genesis's, or those of an epoch certificate checked against genesis),
//! or that ends an epoch; every block before it must link to it by parent
//! hashes, and the first must extend our head.

use crate::block::Header;
use crate::consensus::CertificateError;
use crate::consensus::epoch::Epochs;
use crate::crypto::VoteKind;
use crate::storage::{Finality, StoredBlock};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SyncError {
    #[error("the peer sent no block with its own finalization certificate")]
    NoCertificate,
    #[error("block at height {0} does not extend the block before it")]
    Link(u64),
    #[error("block at height {0}: its transactions do not match its header's Merkle root")]
    Body(u64),
    #[error("block at height {height}: {error}")]
    Certificate { height: u64, error: CertificateError },
    #[error("block at height {0}: the certificate is for another block")]
    CertifiedHash(u64),
    #[error("block at height {height}: epoch {epoch} starts after another block there")]
    EpochBoundary { height: u64, epoch: u64 },
}

/// Returns how many leading blocks of `segment` may be stored and how the
/// last of them is final: its finalization certificate, checked against
/// the validators of its epoch, or the certificate of the epoch it ends
/// (`epochs` holds every epoch certificate this node has checked). Where an
/// epoch starts inside the segment, the block before it must be the one its
/// certificate names.
pub fn verify_segment(epochs: &Epochs, head: &Header, segment: &[StoredBlock]) -> Result<(usize, Finality), SyncError> {
    let ends_epoch = |b: &StoredBlock, n: u64| epochs.get(n).is_some_and(|set| set.after_hash == b.block.header.hash());
    let (last, finality) = segment
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, b)| match &b.finality {
            Finality::Certificate(_) => Some((i, b.finality.clone())),
            Finality::EndOfEpoch(n) if ends_epoch(b, *n) => Some((i, b.finality.clone())),
            _ => None,
        })
        .ok_or(SyncError::NoCertificate)?;
    let chain_id = epochs.chain_id();
    let mut prev_hash = head.hash();
    let mut prev_height = head.height;
    for stored in &segment[..=last] {
        let h = &stored.block.header;
        if h.parent != prev_hash || h.height != prev_height + 1 || h.chain_id != chain_id {
            return Err(SyncError::Link(h.height));
        }
        if !stored.block.body_matches_header(&stored.block.tx_ids()) {
            return Err(SyncError::Body(h.height));
        }
        prev_hash = h.hash();
        prev_height = h.height;
        if let Some(next) = epochs.starting_after(h.height)
            && next.after_hash != prev_hash
        {
            return Err(SyncError::EpochBoundary { height: h.height, epoch: next.number });
        }
    }
    let tip = &segment[last].block.header;
    if let Finality::Certificate(cert) = &finality {
        if cert.hash != prev_hash || cert.view != tip.view {
            return Err(SyncError::CertifiedHash(tip.height));
        }
        let set = epochs.at_height(tip.height);
        cert.verify(VoteKind::Finalize, &set.namespace(chain_id), &set.keys, set.quorum)
            .map_err(|error| SyncError::Certificate { height: tip.height, error })?;
    }
    Ok((last + 1, finality))
}
