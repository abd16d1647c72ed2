//! What validators send each other over the network.

use crate::block::Block;
use crate::consensus::epoch::{EpochCertificate, EpochChange};
use crate::consensus::{ConsensusMessage, Proposal, SignerSignature};
use crate::snapshot::SnapshotOffer;
use crate::storage::StoredBlock;
use coldchain_chaincode::{Hash, Transaction, TxId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The wire version this validator reads and sends: 1, full proposals
/// only ([`WireMessage::Proposal`]); 2, also proposals by transaction ids
/// ([`WireMessage::ProposalIds`]) and [`WireMessage::Hello`].
pub const WIRE_VERSION: u32 = 2;

/// The first wire version that reads [`WireMessage::ProposalIds`].
pub const PROPOSAL_IDS_VERSION: u32 = 2;

/// One-way messages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum WireMessage {
    /// Votes and certificates.
    Consensus(ConsensusMessage),
    /// A leader's proposal with the block's transactions: what validators
    /// sent before [`WireMessage::ProposalIds`]; still read from them.
    Proposal { proposal: Proposal, txs: Arc<Vec<Transaction>> },
    /// Transactions accepted by a gateway, relayed so any leader can include them.
    Txs(Arc<Vec<Transaction>>),
    /// A leader's proposal naming the block's transactions by id, in block
    /// order: every validator already holds them, relayed by the gateway that
    /// accepted them. A validator missing some waits briefly for their relay,
    /// then fetches the whole block from the proposer (`SyncRequest::Block`).
    ProposalIds { proposal: Proposal, ids: Vec<TxId> },
    /// Sent to a peer when a connection to it is established: the wire
    /// version this validator reads. A peer that has not sent it (a
    /// validator of version 1 cannot: to it this message does not decode
    /// and is dropped) is sent full proposals, so validators can be upgraded
    /// one at a time.
    Hello { version: u32 },
    /// A validator of the ending epoch signs the change it committed: the
    /// next epoch, the last block, the new validators (issue 19). Sent again
    /// every second until the epoch certificate is formed.
    EpochVote { change: EpochChange, signature: SignerSignature },
    /// A formed epoch certificate: sent to a peer still voting for an epoch
    /// this validator has entered.
    Epoch(EpochCertificate),
}

/// Block-sync requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncRequest {
    /// The peer's finalized head.
    Status,
    /// A block by hash, finalized or only proposed.
    Block(Hash),
    /// Finalized blocks from `from`, at most `max`, extended to the next block
    /// that carries its own finalization certificate.
    Blocks { from: u64, max: u32 },
    /// The peer's newest state snapshot that a finalized header certifies.
    Snapshot,
    /// One chunk of the snapshot after block `height`.
    SnapshotChunk { height: u64, index: u32 },
    /// The epoch certificates from epoch `from` on.
    Epochs { from: u64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncResponse {
    /// `epoch`: the peer's newest epoch (absent from peers before epochs).
    Status {
        height: u64,
        hash: Hash,
        #[serde(default)]
        epoch: u64,
    },
    Block(Option<Block>),
    Blocks(Vec<StoredBlock>),
    Snapshot(Option<SnapshotOffer>),
    SnapshotChunk(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    Epochs(Vec<EpochCertificate>),
}

/// A network handle for these message types.
pub type Network = crate::network::NetworkHandle<WireMessage, SyncRequest, SyncResponse>;
pub type NetEvent = crate::network::NetEvent<WireMessage, SyncRequest, SyncResponse>;
