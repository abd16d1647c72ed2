//! The authenticated state root: a Jellyfish Merkle tree (the `jmt` crate,
//! SHA-256) over every entry of the state, as Diem and Penumbra use it.
//!
//! Each committed entry (every table but the state's own figures, see
//! [`committed`]) is a leaf: key hash = SHA-256(key bytes), value hash =
//! SHA-256(value bytes), the key and value bytes being exactly those stored
//! (docs/FORMATS.md). The tree is updated once per block, with the keys
//! the block changed; its nodes are entries of the same store (prefix
//! [`NODE_PREFIX`]), so they are written in the same atomic batch as the
//! block and its state, and a replay builds the same nodes. Only the
//! newest version is kept: a node replaced by a block is deleted with it.
//!
//! A proof ([`StateProof`]) is the leaf found on the key's path (or none)
//! and the sibling hashes from there up to the root; docs/PROOFS.md gives
//! the verification, which [`StateProof::verify`] implements without the
//! crate (a test checks that the two agree).

use super::store::Kv;
use crate::hash::Hash;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The tree's nodes: `F0 ‖ borsh(NodeKey)` → `borsh(Node)`.
pub const NODE_PREFIX: u8 = 0xF0;
/// The state's own figures: height, counts, root (`META`, `STATE_ROOT`).
const UNCOMMITTED: [u8; 3] = [0x01, 0x02, NODE_PREFIX];

/// The root of an empty tree (jmt's placeholder).
pub const EMPTY_ROOT: Hash = Hash(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");
const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";

/// Whether an entry is a leaf of the tree.
pub fn committed(key: &[u8]) -> bool {
    key.first().is_some_and(|p| !UNCOMMITTED.contains(p))
}

/// `F0 ‖ nibble count (u8) ‖ nibble bytes`: a node is stored by its
/// place in the tree alone. Only the newest version of the tree is kept,
/// so a place holds one node, and a block's new node overwrites the one
/// it replaces there (one write, no deletion); the nodes near the root
/// sort beside each other, so a block's tree writes touch few pages.
pub(super) fn node_key_bytes(key: &NodeKey) -> Vec<u8> {
    let path = key.nibble_path();
    let n = path.num_nibbles();
    let mut out = Vec::with_capacity(2 + n.div_ceil(2));
    out.push(NODE_PREFIX);
    out.push(n as u8);
    for i in (0..n).step_by(2) {
        let hi = u8::from(path.get_nibble(i));
        let lo = if i + 1 < n { u8::from(path.get_nibble(i + 1)) } else { 0 };
        out.push(hi << 4 | lo);
    }
    out
}

/// Reads the tree's nodes from the state (its changes first); answers the
/// value of one key, the one being proven.
struct Reader<'a> {
    kv: &'a Kv,
    proving: Option<(KeyHash, &'a [u8])>,
}

impl TreeReader for Reader<'_> {
    /// The node at the key's place, whatever version it names: jmt asks
    /// only for nodes of the newest tree (the one being updated or proven),
    /// and that is the one kept.
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.kv.get_raw(&node_key_bytes(node_key)) {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(&self, _max_version: Version, key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(match self.proving {
            Some((hash, key)) if hash == key_hash => self.kv.get_raw(key),
            _ => None,
        })
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only a tree restore asks for it; this tree is never restored in place.
        Ok(None)
    }
}

pub(super) fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(Hash::digest(key).0)
}

/// Puts the current values of `touched` (a block's changed keys) into the
/// tree as `version` (the previous version plus one, or 0 for the first),
/// writes its new nodes and deletes the replaced ones, and returns the
/// new root and the version reached. The store must hold `version - 1`.
///
/// Keys written go in with jmt's batch insert, which builds each new node
/// once; deletions (rare: a rotated key, a decided amendment) need its
/// per-key path and take the next version.
pub fn update(kv: &mut Kv, version: Version, touched: BTreeSet<Vec<u8>>) -> (Hash, Version) {
    debug_assert!(!touched.is_empty(), "the tree is updated with changes only");
    let mut written = Vec::with_capacity(touched.len());
    let mut deleted = Vec::new();
    for k in &touched {
        match kv.get_raw(k) {
            Some(v) => written.push((key_hash(k), v)),
            None => deleted.push((key_hash(k), None)),
        }
    }
    let mut version = version;
    let mut root = None;
    if !written.is_empty() {
        root = Some(write_version(kv, |tree| tree.batch_put_value_sets(vec![written], None, version)));
        version += 1;
    }
    if !deleted.is_empty() {
        root = Some(write_version(kv, |tree| tree.put_value_sets(vec![deleted], version)));
        version += 1;
    }
    // `touched` is never empty (the caller updates a tree with changes),
    // so one of the two wrote the version reached.
    (root.unwrap_or(EMPTY_ROOT), version.saturating_sub(1))
}

fn write_version(
    kv: &mut Kv,
    put: impl FnOnce(&Sha256Jmt<'_, Reader<'_>>) -> anyhow::Result<(Vec<jmt::RootHash>, jmt::storage::TreeUpdateBatch)>,
) -> Hash {
    let reader = Reader { kv, proving: None };
    let (roots, batch) = match put(&Sha256Jmt::new(&reader)) {
        Ok(done) => done,
        // A node the store wrote and cannot read back: the store is beyond
        // repair (see StateStore), and a node stops rather than diverge.
        Err(e) => panic!("the state tree in the store is damaged: {e}"),
    };
    // A replaced node's place is deleted, then the new nodes written: a
    // place that holds a new node keeps it; one that does not (a subtree
    // that shrank to one leaf) is emptied.
    for stale in &batch.stale_node_index_batch {
        kv.delete_raw(node_key_bytes(&stale.node_key));
    }
    for (key, node) in batch.node_batch.nodes() {
        kv.put_raw(node_key_bytes(key), borsh::to_vec(node).unwrap_or_default());
    }
    roots.last().map_or(EMPTY_ROOT, |r| Hash(r.0))
}

/// A proof that the leaves up to one key (in key-hash order) are those of
/// the tree under a root: the hashes of the subtrees to the right of that
/// key's path (a snapshot chunk's proof, [`super::snapshot`]).
pub type RangeProof = jmt::proof::SparseMerkleRangeProof<jmt_sha2::Sha256>;

/// The range proof of `rightmost` (a key the tree's `version` holds).
pub fn range_proof(kv: &Kv, version: Version, rightmost: &[u8]) -> RangeProof {
    let reader = Reader { kv, proving: Some((key_hash(rightmost), rightmost)) };
    match Sha256Jmt::new(&reader).get_range_proof(key_hash(rightmost), version) {
        Ok(proof) => proof,
        Err(e) => panic!("the state tree in the store is damaged: {e}"),
    }
}

/// The hash of a stored tree node (the root's, for a restored tree).
pub(super) fn node_hash(bytes: &[u8]) -> Option<Hash> {
    Some(match borsh::from_slice(bytes).ok()? {
        Node::Null => EMPTY_ROOT,
        Node::Internal(n) => Hash(n.hash::<jmt_sha2::Sha256>()),
        Node::Leaf(n) => Hash(n.hash::<jmt_sha2::Sha256>()),
    })
}

/// A proof that a key has a value, or none, in the state under a root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateProof {
    /// The leaf on the key's path: the key's own (membership), another
    /// key's alone in the subtree where the key would be, or none (the
    /// key's place is empty).
    pub leaf: Option<ProofLeaf>,
    /// Sibling hashes from the leaf's level up to the root (bottom first).
    pub siblings: Vec<Hash>,
}

/// A leaf of the state tree: the hashes of a key and of its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofLeaf {
    pub key_hash: Hash,
    pub value_hash: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof has {0} sibling hashes; a path has at most 256")]
    TooLong(usize),
    #[error("the proof's leaf is for key hash {found}, not this key's {expected}")]
    OtherKey { expected: Hash, found: Hash },
    #[error("the value's hash {computed} is not the proof leaf's {proven}")]
    OtherValue { computed: Hash, proven: Hash },
    #[error("the proof shows the key absent, but a value was given")]
    Absent,
    #[error("the proof shows the key present, but absence was claimed")]
    Present,
    #[error("the leaf {found} is not alone on the key's path: it does not prove absence")]
    NotOnPath { found: Hash },
    #[error("the proof leads to root {computed}, not {expected}")]
    Root { computed: Hash, expected: Hash },
}

impl ProofLeaf {
    fn hash(&self) -> Hash {
        Hash::digest_parts(&[LEAF_DOMAIN, &self.key_hash.0, &self.value_hash.0])
    }
}

fn bit(hash: &Hash, i: usize) -> bool {
    hash.0[i / 8] & (0x80 >> (i % 8)) != 0
}

fn common_prefix_bits(a: &Hash, b: &Hash) -> usize {
    (0..256).find(|&i| bit(a, i) != bit(b, i)).unwrap_or(256)
}

impl StateProof {
    /// Checks that under `root`, `key` holds `value` (or, `None`, holds
    /// nothing). The algorithm of docs/PROOFS.md ("State proofs").
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        let n = self.siblings.len();
        if n > 256 {
            return Err(ProofError::TooLong(n));
        }
        let kh = Hash::digest(key);
        match (value, &self.leaf) {
            (Some(value), Some(leaf)) => {
                if leaf.key_hash != kh {
                    return Err(ProofError::OtherKey { expected: kh, found: leaf.key_hash });
                }
                let computed = Hash::digest(value);
                if computed != leaf.value_hash {
                    return Err(ProofError::OtherValue { computed, proven: leaf.value_hash });
                }
            }
            (Some(_), None) => return Err(ProofError::Absent),
            (None, Some(leaf)) => {
                if leaf.key_hash == kh {
                    return Err(ProofError::Present);
                }
                if common_prefix_bits(&kh, &leaf.key_hash) < n {
                    return Err(ProofError::NotOnPath { found: leaf.key_hash });
                }
            }
            (None, None) => {}
        }
        let mut node = self.leaf.as_ref().map_or(EMPTY_ROOT, ProofLeaf::hash);
        // Sibling i (bottom first) is at depth n − 1 − i: the key's bit
        // there says on which side the path runs.
        for (i, sibling) in self.siblings.iter().enumerate() {
            let right = bit(&kh, n - 1 - i);
            node = if right {
                Hash::digest_parts(&[INTERNAL_DOMAIN, &sibling.0, &node.0])
            } else {
                Hash::digest_parts(&[INTERNAL_DOMAIN, &node.0, &sibling.0])
            };
        }
        if node != *root {
            return Err(ProofError::Root { computed: node, expected: *root });
        }
        Ok(())
    }
}

/// The proof of `key` in the tree's `version` (none: the empty tree).
pub fn prove(kv: &Kv, version: Option<Version>, key: &[u8]) -> StateProof {
    let Some(version) = version else { return StateProof { leaf: None, siblings: Vec::new() } };
    let reader = Reader { kv, proving: Some((key_hash(key), key)) };
    let proof = match Sha256Jmt::new(&reader).get_with_proof(key_hash(key), version) {
        Ok((_, proof)) => proof,
        Err(e) => panic!("the state tree in the store is damaged: {e}"),
    };
    from_jmt(&proof)
}

/// The crate keeps its proof's parts private; its serde form shows them.
fn from_jmt<H: jmt::SimpleHasher>(proof: &jmt::proof::SparseMerkleProof<H>) -> StateProof {
    #[derive(Deserialize)]
    struct Leaf {
        key_hash: KeyHash,
        value_hash: jmt::ValueHash,
    }
    #[derive(Deserialize)]
    struct Internal {
        left_child: [u8; 32],
        right_child: [u8; 32],
    }
    #[derive(Deserialize)]
    enum Sibling {
        Null,
        Internal(Internal),
        Leaf(Leaf),
    }
    #[derive(Deserialize)]
    struct Proof {
        leaf: Option<Leaf>,
        siblings: Vec<Sibling>,
    }
    let leaf = |l: &Leaf| ProofLeaf { key_hash: Hash(l.key_hash.0), value_hash: Hash(l.value_hash.0) };
    let parsed: Proof = match serde_json::to_value(proof).and_then(serde_json::from_value) {
        Ok(p) => p,
        Err(e) => panic!("jmt's proof has changed form: {e}"),
    };
    StateProof {
        leaf: parsed.leaf.as_ref().map(leaf),
        siblings: parsed
            .siblings
            .iter()
            .map(|s| match s {
                Sibling::Null => EMPTY_ROOT,
                Sibling::Internal(i) => Hash::digest_parts(&[INTERNAL_DOMAIN, &i.left_child, &i.right_child]),
                Sibling::Leaf(l) => leaf(l).hash(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv_with(n: u32) -> (Kv, Hash) {
        let mut kv = Kv::in_memory();
        let mut touched = BTreeSet::new();
        for i in 0..n {
            let k = [&[0x30u8][..], &i.to_be_bytes()].concat();
            kv.put_raw(k.clone(), format!("value {i}").into_bytes());
            touched.insert(k);
        }
        let (root, _) = update(&mut kv, 0, touched);
        kv.settle();
        (kv, root)
    }

    fn key(i: u32) -> Vec<u8> {
        [&[0x30u8][..], &i.to_be_bytes()].concat()
    }

    #[test]
    fn membership_and_absence_verify_and_agree_with_the_crate() {
        let (kv, root) = kv_with(500);
        for i in [0u32, 7, 499] {
            let p = prove(&kv, Some(0), &key(i));
            let v = format!("value {i}").into_bytes();
            assert_eq!(p.verify(&root, &key(i), Some(&v)), Ok(()));
            assert!(p.verify(&root, &key(i), Some(b"another")).is_err());
            assert_eq!(p.verify(&root, &key(i), None), Err(ProofError::Present));
        }
        for i in [500u32, 10_000] {
            let p = prove(&kv, Some(0), &key(i));
            assert_eq!(p.verify(&root, &key(i), None), Ok(()));
            assert!(p.verify(&root, &key(i), Some(b"value")).is_err());
        }
        // The crate's own check of its proof, on the same tree.
        let reader = Reader { kv: &kv, proving: Some((key_hash(&key(3)), &key(3))) };
        let (_, jp) = Sha256Jmt::new(&reader).get_with_proof(key_hash(&key(3)), 0).unwrap();
        jp.verify(jmt::RootHash(root.0), key_hash(&key(3)), Some(b"value 3".to_vec())).unwrap();
    }

    #[test]
    fn deleting_a_key_the_tree_never_held_keeps_the_root() {
        let (mut kv, root) = kv_with(10);
        kv.put_raw(key(50), b"short-lived".to_vec());
        kv.delete_raw(key(50));
        let (after, v) = update(&mut kv, 1, [key(50)].into_iter().collect());
        kv.settle();
        assert_eq!((after, v), (root, 1));
        // The next version builds on it.
        kv.put_raw(key(51), b"next".to_vec());
        let (next, _) = update(&mut kv, 2, [key(51)].into_iter().collect());
        assert_ne!(next, root);
    }

    #[test]
    fn a_changed_sibling_or_root_fails() {
        let (kv, root) = kv_with(64);
        let mut p = prove(&kv, Some(0), &key(5));
        assert!(!p.siblings.is_empty());
        p.siblings[0].0[0] ^= 1;
        assert!(matches!(p.verify(&root, &key(5), Some(b"value 5")), Err(ProofError::Root { .. })));
        let p = prove(&kv, Some(0), &key(5));
        assert!(matches!(p.verify(&Hash::digest(b"x"), &key(5), Some(b"value 5")), Err(ProofError::Root { .. })));
    }

    #[test]
    fn updates_replace_nodes_and_the_root_depends_only_on_the_entries() {
        let (mut kv, _) = kv_with(100);
        let nodes_before = kv.scan_raw(&[NODE_PREFIX], &[NODE_PREFIX + 1]).count();
        kv.put_raw(key(3), b"changed".to_vec());
        kv.delete_raw(key(4));
        let (root, v) = update(&mut kv, 1, [key(3), key(4)].into_iter().collect());
        assert_eq!(v, 2, "the write, then the deletion");
        kv.settle();
        let nodes_after = kv.scan_raw(&[NODE_PREFIX], &[NODE_PREFIX + 1]).count();
        assert!(nodes_after <= nodes_before, "replaced nodes are deleted ({nodes_before} → {nodes_after})");
        // The same entries inserted at once give the same root.
        let mut fresh = Kv::in_memory();
        let mut touched = BTreeSet::new();
        for i in (0..100u32).filter(|&i| i != 4) {
            let v = if i == 3 { b"changed".to_vec() } else { format!("value {i}").into_bytes() };
            fresh.put_raw(key(i), v);
            touched.insert(key(i));
        }
        assert_eq!(update(&mut fresh, 0, touched).0, root);
        fresh.settle();
        assert_eq!(prove(&kv, Some(v), &key(4)).verify(&root, &key(4), None), Ok(()));
        // What is stored is the tree of those entries and nothing else: no
        // replaced node is left at a place the tree no longer uses. (The
        // nodes' bytes differ: a child names the version that wrote it.)
        let nodes = |kv: &Kv| kv.scan_raw(&[NODE_PREFIX], &[NODE_PREFIX + 1]).map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(nodes(&kv), nodes(&fresh));
    }

    #[test]
    fn many_versions_of_writes_and_deletions_leave_exactly_the_tree_of_the_entries() {
        let mut kv = Kv::in_memory();
        let mut version = 0;
        let mut root = EMPTY_ROOT;
        // Blocks that add keys, change some and delete others, so that
        // subtrees grow, shrink to one leaf and vanish.
        for block in 0..40u32 {
            let mut touched = BTreeSet::new();
            for i in 0..30u32 {
                let k = key((block * 7 + i * 13) % 200);
                if (block + i) % 3 == 0 {
                    kv.delete_raw(k.clone());
                } else {
                    kv.put_raw(k.clone(), format!("{block}/{i}").into_bytes());
                }
                touched.insert(k);
            }
            let (r, reached) = update(&mut kv, version, touched);
            kv.settle();
            (root, version) = (r, reached + 1);
        }
        let mut fresh = Kv::in_memory();
        let entries: Vec<_> = kv.scan_raw(&[0x30], &[0x31]).collect();
        for (k, v) in &entries {
            fresh.put_raw(k.clone(), v.clone());
        }
        assert_eq!(update(&mut fresh, 0, entries.iter().map(|(k, _)| k.clone()).collect()).0, root);
        fresh.settle();
        let nodes = |kv: &Kv| kv.scan_raw(&[NODE_PREFIX], &[NODE_PREFIX + 1]).map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(nodes(&kv), nodes(&fresh), "the stored nodes are the entries' tree, nothing more");
        for (k, v) in entries.iter().take(20) {
            assert_eq!(prove(&kv, Some(version - 1), k).verify(&root, k, Some(v)), Ok(()));
        }
    }
}
