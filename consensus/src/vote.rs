//! Votes signed and checked. The bytes a vote covers are [`vote_message`]
//! (defined in the chaincode, which checks them again in evidence records).

use coldchain_chaincode::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

pub use coldchain_chaincode::vote::{VoteKind, namespace, vote_message};

/// Signs a vote.
pub fn sign_vote(key: &SigningKey, kind: VoteKind, chain_id: &str, view: u64, hash: &Hash) -> [u8; 64] {
    key.sign(&vote_message(kind, chain_id, view, hash)).to_bytes()
}

/// `verify_strict`: rejects small-order keys and non-canonical signatures.
pub fn verify_vote(key: &VerifyingKey, kind: VoteKind, chain_id: &str, view: u64, hash: &Hash, sig: &[u8; 64]) -> bool {
    key.verify_strict(&vote_message(kind, chain_id, view, hash), &Signature::from_bytes(sig)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_are_bound_to_kind_chain_view_and_hash() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let pk = key.verifying_key();
        let h = Hash::digest(b"block");
        let sig = sign_vote(&key, VoteKind::Notarize, "chain-a", 5, &h);
        assert!(verify_vote(&pk, VoteKind::Notarize, "chain-a", 5, &h, &sig));
        assert!(!verify_vote(&pk, VoteKind::Finalize, "chain-a", 5, &h, &sig));
        assert!(!verify_vote(&pk, VoteKind::Notarize, "chain-b", 5, &h, &sig));
        assert!(!verify_vote(&pk, VoteKind::Notarize, "chain-a", 6, &h, &sig));
        assert!(!verify_vote(&pk, VoteKind::Notarize, "chain-a", 5, &Hash::ZERO, &sig));
    }
}
