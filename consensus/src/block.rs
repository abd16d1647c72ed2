//! Blocks: header, canonical header bytes and hash, and the Merkle tree of a
//! block's transactions.
//!
//! Header bytes (all integers big-endian):
//! `"coldchain-header-v2" ‖ 0x00 ‖ u16 len(chain_id) ‖ chain_id ‖ u64 height ‖
//! u64 view ‖ parent[32] ‖ tx_root[32] ‖ i64 time_ms ‖ u16 proposer ‖ u32 tx_count ‖
//! u64 state_height ‖ state_root[32]`; the block hash is SHA-256 of those bytes.
//!
//! `state_root` is the root of the chaincode state's tree after block
//! `state_height` (the proposer's last applied block, below this one and
//! not below the parent's): a finalized header certifies that state.
//!
//! Merkle tree (rs_merkle, with domain separation): leaf = SHA-256(0x00 ‖
//! tx id); inner = SHA-256(0x01 ‖ left ‖ right); a node without a right
//! sibling moves up unchanged; an empty block's root is 32 zero bytes.

use coldchain_chaincode::{Hash, Transaction, TxId};
use rs_merkle::{MerkleProof, MerkleTree};
use serde::{Deserialize, Serialize};

/// A block header (docs/FORMATS.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BlockHeader))]
pub struct Header {
    pub chain_id: String,
    pub height: u64,
    pub view: u64,
    /// The parent header's hash.
    pub parent: Hash,
    /// Merkle root of the block's transaction ids.
    pub tx_root: Hash,
    pub time_ms: i64,
    /// Index of the proposing validator.
    pub proposer: u16,
    pub tx_count: u32,
    /// The block after which [`Header::state_root`] is the state's root.
    pub state_height: u64,
    pub state_root: Hash,
}

const HEADER_DOMAIN: &[u8] = b"coldchain-header-v2\0";

impl Header {
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_DOMAIN.len() + 2 + self.chain_id.len() + 8 + 8 + 64 + 8 + 2 + 4 + 8 + 32);
        out.extend_from_slice(HEADER_DOMAIN);
        out.extend_from_slice(&(self.chain_id.len() as u16).to_be_bytes());
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.view.to_be_bytes());
        out.extend_from_slice(&self.parent.0);
        out.extend_from_slice(&self.tx_root.0);
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.extend_from_slice(&self.proposer.to_be_bytes());
        out.extend_from_slice(&self.tx_count.to_be_bytes());
        out.extend_from_slice(&self.state_height.to_be_bytes());
        out.extend_from_slice(&self.state_root.0);
        out
    }

    pub fn hash(&self) -> Hash {
        Hash::digest(&self.canonical_bytes())
    }
}

/// A block. Its transactions are shared, not copied, between the driver,
/// the network and storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub header: Header,
    pub txs: std::sync::Arc<Vec<Transaction>>,
}

/// rs_merkle hasher with leaf/inner domain separation.
#[derive(Clone)]
pub struct DomainSha256;

impl rs_merkle::Hasher for DomainSha256 {
    type Hash = [u8; 32];

    /// Used by rs_merkle only through `concat_and_hash`; leaves are hashed by
    /// [`leaf_hash`] before they enter the tree.
    fn hash(data: &[u8]) -> [u8; 32] {
        Hash::digest(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => Hash::digest_parts(&[&[0x01], left, right]).0,
            None => *left,
        }
    }
}

pub fn leaf_hash(tx_id: &TxId) -> [u8; 32] {
    Hash::digest_parts(&[&[0x00], &tx_id.0]).0
}

pub fn merkle_root(tx_ids: &[TxId]) -> Hash {
    if tx_ids.is_empty() {
        return Hash::ZERO;
    }
    let leaves: Vec<[u8; 32]> = tx_ids.iter().map(leaf_hash).collect();
    Hash(MerkleTree::<DomainSha256>::from_leaves(&leaves).root().expect("non-empty tree"))
}

/// The sibling hashes from the leaf at `index` up to the root, bottom-up,
/// skipping levels where the node moved up without a sibling.
pub fn merkle_path(tx_ids: &[TxId], index: usize) -> Vec<Hash> {
    let leaves: Vec<[u8; 32]> = tx_ids.iter().map(leaf_hash).collect();
    let tree = MerkleTree::<DomainSha256>::from_leaves(&leaves);
    tree.proof(&[index]).proof_hashes().iter().map(|h| Hash(*h)).collect()
}

/// Checks that `tx_id` is leaf `index` of `leaf_count` under `root`.
pub fn verify_merkle_path(root: &Hash, tx_id: &TxId, index: usize, leaf_count: usize, path: &[Hash]) -> bool {
    if index >= leaf_count || path.len() != path_len(index, leaf_count) {
        return false;
    }
    let proof = MerkleProof::<DomainSha256>::new(path.iter().map(|h| h.0).collect());
    proof.verify(root.0, &[index], &[leaf_hash(tx_id)], leaf_count)
}

/// How many sibling hashes the path of leaf `index` of `width` leaves has:
/// one per level where the node has a sibling (docs/PROOFS.md). A path with
/// more or fewer is refused, not read up to what it needs.
fn path_len(mut index: usize, mut width: usize) -> usize {
    let mut n = 0;
    while width > 1 {
        if index % 2 == 1 || index + 1 < width {
            n += 1;
        }
        index /= 2;
        width = width.div_ceil(2);
    }
    n
}

impl Block {
    pub fn tx_ids(&self) -> Vec<TxId> {
        self.txs.iter().map(Transaction::id).collect()
    }

    /// Whether the body matches the header (root and count).
    pub fn body_matches_header(&self, ids: &[TxId]) -> bool {
        self.header.tx_count as usize == self.txs.len() && merkle_root(ids) == self.header.tx_root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<TxId> {
        (0..n).map(|i| Hash::digest(&(i as u64).to_be_bytes())).collect()
    }

    /// The verification algorithm as docs/PROOFS.md states it, written out
    /// independently of rs_merkle so the document and the code cannot drift.
    fn documented_verify(root: &Hash, tx_id: &TxId, mut index: usize, mut width: usize, path: &[Hash]) -> bool {
        let mut node = leaf_hash(tx_id);
        let mut path = path.iter();
        while width > 1 {
            if index % 2 == 1 {
                let Some(s) = path.next() else { return false };
                node = Hash::digest_parts(&[&[1], &s.0, &node]).0;
            } else if index + 1 < width {
                let Some(s) = path.next() else { return false };
                node = Hash::digest_parts(&[&[1], &node, &s.0]).0;
            }
            index /= 2;
            width = width.div_ceil(2);
        }
        path.next().is_none() && node == root.0
    }

    #[test]
    fn every_leaf_proves_for_many_sizes_and_matches_the_documented_algorithm() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 33, 100] {
            let ids = ids(n);
            let root = merkle_root(&ids);
            for i in 0..n {
                let path = merkle_path(&ids, i);
                assert!(verify_merkle_path(&root, &ids[i], i, n, &path), "n={n} i={i}");
                assert!(documented_verify(&root, &ids[i], i, n, &path), "doc n={n} i={i}");
                assert!(!verify_merkle_path(&root, &ids[(i + 1) % n], i, n, &path) || n == 1);
            }
        }
    }

    #[test]
    fn a_path_with_surplus_or_missing_entries_is_refused() {
        for n in [1usize, 2, 3, 5, 8, 33] {
            let ids = ids(n);
            let root = merkle_root(&ids);
            for i in 0..n {
                let path = merkle_path(&ids, i);
                let mut longer = path.clone();
                longer.push(Hash::digest(b"surplus"));
                assert!(!verify_merkle_path(&root, &ids[i], i, n, &longer), "n={n} i={i}: a surplus entry");
                assert!(!documented_verify(&root, &ids[i], i, n, &longer));
                if let Some((_, shorter)) = path.split_last() {
                    assert!(!verify_merkle_path(&root, &ids[i], i, n, shorter), "n={n} i={i}: a missing entry");
                }
            }
        }
    }

    #[test]
    fn a_leaf_cannot_pose_as_an_inner_node() {
        let ids = ids(4);
        let root = merkle_root(&ids);
        let inner = DomainSha256::concat_and_hash_pub(&leaf_hash(&ids[0]), &leaf_hash(&ids[1]));
        // Presenting the inner node as a "transaction id" of a 2-leaf tree fails.
        assert!(!verify_merkle_path(&root, &Hash(inner), 0, 2, &[Hash(DomainSha256::concat_and_hash_pub(&leaf_hash(&ids[2]), &leaf_hash(&ids[3])))]));
    }

    impl DomainSha256 {
        fn concat_and_hash_pub(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
            <DomainSha256 as rs_merkle::Hasher>::concat_and_hash(l, Some(r))
        }
    }

    #[test]
    fn header_hash_covers_every_field() {
        let h = Header {
            chain_id: "c".into(),
            height: 1,
            view: 2,
            parent: Hash::ZERO,
            tx_root: Hash::ZERO,
            time_ms: 3,
            proposer: 0,
            tx_count: 0,
            state_height: 0,
            state_root: Hash::ZERO,
        };
        let base = h.hash();
        let variants = [
            Header { chain_id: "d".into(), ..h.clone() },
            Header { height: 9, ..h.clone() },
            Header { view: 9, ..h.clone() },
            Header { parent: Hash([1; 32]), ..h.clone() },
            Header { tx_root: Hash([1; 32]), ..h.clone() },
            Header { time_ms: 9, ..h.clone() },
            Header { proposer: 1, ..h.clone() },
            Header { tx_count: 1, ..h.clone() },
            Header { state_height: 1, ..h.clone() },
            Header { state_root: Hash([1; 32]), ..h.clone() },
        ];
        for v in variants {
            assert_ne!(v.hash(), base);
        }
    }
}
