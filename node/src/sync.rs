//! Block sync: checking a segment of finalized blocks fetched from a peer
//! before anything of it is stored. Pure; the driver does the fetching.
//!
//! A segment is accepted up to its last block that carries its own
//! finalization certificate, verified against genesis; every block before it
//! must link to it by parent hashes, and the first must extend our head.

use crate::block::Header;
use crate::consensus::{Certificate, CertificateError};
use crate::crypto::VoteKind;
use crate::storage::{Finality, StoredBlock};
use ed25519_dalek::VerifyingKey;

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
}

/// Returns how many leading blocks of `segment` may be stored and the
/// certificate that finalizes the last of them.
pub fn verify_segment(
    chain_id: &str,
    validators: &[VerifyingKey],
    quorum: usize,
    head: &Header,
    segment: &[StoredBlock],
) -> Result<(usize, Certificate), SyncError> {
    let (last, cert) = segment
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, b)| match &b.finality {
            Finality::Certificate(c) => Some((i, c.clone())),
            Finality::CoveredBy(_) => None,
        })
        .ok_or(SyncError::NoCertificate)?;
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
    }
    let tip = &segment[last].block.header;
    if cert.hash != prev_hash || cert.view != tip.view {
        return Err(SyncError::CertifiedHash(tip.height));
    }
    cert.verify(VoteKind::Finalize, chain_id, validators, quorum).map_err(|error| SyncError::Certificate { height: tip.height, error })?;
    Ok((last + 1, cert))
}
