//! The chain's one rule for transaction signatures, used on every path that
//! checks one (gateway, relay intake, a proposal's body, sync, replay), alone
//! or in a batch of any size, so that no two validators can judge one
//! signature differently:
//!
//! 1. the key `A` and the signature's `R` are canonical encodings
//!    (`y < p`, no negative zero) of curve points that are **not of small
//!    order**;
//! 2. `s` is canonical (`s < ℓ`);
//! 3. `[8]([s]B − R − [k]A)` is the identity, `k = SHA-512(R ‖ A ‖ M) mod ℓ`
//!    (the cofactored equation of RFC 8032 §5.1.7 and ZIP 215).
//!
//! Why the cofactored equation: ed25519-dalek's batch equation is
//! cofactorless with random coefficients, so a signature whose `R` carries a
//! torsion component passes or fails depending on the other signatures in
//! its batch (a node's gateway, its relays and its block checks batch
//! differently). The cofactored equation gives the same verdict alone and in
//! every batch (ed25519-zebra implements both). A signature honestly made by
//! any RFC 8032 signer passes; only one crafted with torsion by its own
//! signer can pass here and fail a cofactorless check, and rule 1 refuses the
//! crafted points of small order outright.

use curve25519_dalek::Scalar;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_zebra::batch;
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes};
use rand_batch::SeedableRng;
use sha2::{Digest, Sha256};

/// Why a signature or key breaks the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The key is not a point, not canonically encoded, or of small order.
    Key(&'static str),
    /// The signature's `R` or `s` is not canonical, or `R` is of small order.
    Encoding(&'static str),
    /// The equation does not hold.
    Equation,
}

/// Rule 1 for a key: a canonically encoded point not of small order.
pub fn check_key(key: &[u8; 32]) -> Result<(), Refusal> {
    check_point(key).map_err(Refusal::Key)
}

fn check_point(bytes: &[u8; 32]) -> Result<(), &'static str> {
    let point = CompressedEdwardsY(*bytes).decompress().ok_or("is not the encoding of an ed25519 point")?;
    if point.compress().0 != *bytes {
        return Err("is not the canonical encoding of its point");
    }
    if point.is_small_order() {
        return Err("is a point of small order");
    }
    Ok(())
}

/// The y coordinates (sign bit clear) of the 8 points of small order.
static TORSION_Y: std::sync::LazyLock<[[u8; 32]; 8]> = std::sync::LazyLock::new(|| {
    curve25519_dalek::constants::EIGHT_TORSION.map(|t| {
        let mut y = t.compress().0;
        y[31] &= 0x7f;
        y
    })
});

/// Rule 1 for `R` from its bytes alone, without decompressing the point
/// (which the verification does once): `y < p`, and `y` is not the `y` of a
/// point of small order. The second also refuses the only non-canonical
/// encodings with `y < p` (negative zero: `x = 0` holds only for `y = ±1`,
/// both of small order). Bytes that are no point at all fail the equation.
fn check_r(r: &[u8; 32]) -> Result<(), Refusal> {
    let mut y = *r;
    y[31] &= 0x7f;
    // y ≥ p = 2^255 − 19 only for 0x7fff…ff with a low byte ≥ 0xed.
    if y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed {
        return Err(Refusal::Encoding("R is not the canonical encoding of its point"));
    }
    if TORSION_Y.contains(&y) {
        return Err(Refusal::Encoding("R is a point of small order"));
    }
    Ok(())
}

/// Rules 1 and 2 for a signature: `R` canonical and not of small order, `s < ℓ`.
pub fn check_encoding(signature: &[u8; 64]) -> Result<(), Refusal> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    check_r(&r)?;
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    if Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).is_none() {
        return Err(Refusal::Encoding("s is not below the group order ℓ"));
    }
    Ok(())
}

/// The whole rule for one signature, the key's checks included (callers
/// that verify many keep [`check_key`]'s verdict per key and call
/// [`verify_all`], which does not repeat it).
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), Refusal> {
    check_key(key)?;
    check_encoding(signature)?;
    if CompressedEdwardsY(signature[..32].try_into().unwrap_or([0; 32])).decompress().is_none() {
        return Err(Refusal::Encoding("R is not the encoding of an ed25519 point"));
    }
    let vk = VerificationKey::try_from(*key).map_err(|_| Refusal::Key("is not the encoding of an ed25519 point"))?;
    vk.verify(&Signature::from_bytes(signature), message).map_err(|_| Refusal::Equation)
}

/// The rule for many signatures at once: one verdict per item, the same as
/// [`verify`] gives each alone. Items whose encodings pass are verified in
/// one cofactored batch; if the batch fails, each is verified alone to say
/// which. Keys must have passed [`check_key`] (callers cache that).
pub fn verify_all(items: &[(&[u8; 32], &[u8], &[u8; 64])]) -> Vec<Result<(), Refusal>> {
    let mut verdicts: Vec<Result<(), Refusal>> = items.iter().map(|(_, _, sig)| check_encoding(sig)).collect();
    let candidates: Vec<usize> = (0..items.len()).filter(|&i| verdicts[i].is_ok()).collect();
    if candidates.is_empty() {
        return verdicts;
    }
    if candidates.len() == 1 {
        let (key, message, sig) = items[candidates[0]];
        verdicts[candidates[0]] = verify(key, message, sig);
        return verdicts;
    }
    // The coefficients come from a stream seeded by the batch itself (as
    // ed25519-dalek's transcript does), so no randomness enters the
    // chaincode; a signer cannot know them before signing.
    let mut seed = Sha256::new();
    let mut verifier = batch::Verifier::new();
    for &i in &candidates {
        let (key, message, sig) = items[i];
        seed.update(key);
        seed.update(sig);
        seed.update(Sha256::digest(message));
        verifier.queue((VerificationKeyBytes::from(*key), Signature::from_bytes(sig), message));
    }
    let rng = rand_batch::rngs::StdRng::from_seed(seed.finalize().into());
    if verifier.verify(rng).is_err() {
        for &i in &candidates {
            let (key, message, sig) = items[i];
            verdicts[i] = verify(key, message, sig);
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::edwards::EdwardsPoint;
    use sha2::Sha512;

    fn k(r: &[u8; 32], a: &[u8; 32], m: &[u8]) -> Scalar {
        let mut h = Sha512::new();
        h.update(r);
        h.update(a);
        h.update(m);
        Scalar::from_bytes_mod_order_wide(&h.finalize().into())
    }

    /// A signature by secret scalar `a` whose nonce point is `[r]B + T` for a
    /// torsion point `T`: what a signer crafts to split batch verdicts.
    fn crafted(a: Scalar, r: Scalar, torsion: EdwardsPoint, m: &[u8]) -> ([u8; 32], [u8; 64]) {
        let key = (a * B).compress().0;
        let big_r = (r * B + torsion).compress().0;
        let s = r + k(&big_r, &key, m) * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        sig[32..].copy_from_slice(s.as_bytes());
        (key, sig)
    }

    fn honest(seed: u8, m: &[u8]) -> ([u8; 32], [u8; 64]) {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        (key.verifying_key().to_bytes(), key.sign(m).to_bytes())
    }

    #[test]
    fn every_small_order_point_is_refused_as_a_key_and_as_r() {
        let m = b"record";
        for (i, t) in EIGHT_TORSION.iter().enumerate() {
            let enc = t.compress().0;
            assert!(matches!(check_key(&enc), Err(Refusal::Key(_))), "torsion point {i} as a key");
            // R = T with s = k·a: the equation [s]B = R + [k]A holds up to torsion.
            let a = Scalar::from(7u64);
            let key = (a * B).compress().0;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&enc);
            sig[32..].copy_from_slice((k(&enc, &key, m) * a).as_bytes());
            assert_eq!(verify(&key, m, &sig), Err(Refusal::Encoding("R is a point of small order")), "torsion point {i} as R");
            let (hk, hs) = honest(1, m);
            let verdicts = verify_all(&[(&key, m, &sig), (&hk, m, &hs)]);
            assert_eq!(verdicts[0], Err(Refusal::Encoding("R is a point of small order")), "torsion point {i} as R in a batch");
            assert_eq!(verdicts[1], Ok(()));
        }
    }

    #[test]
    fn the_fast_check_of_r_agrees_with_decompressing_it() {
        // Every small-order point, its negation's encoding, y = p and above,
        // negative zero, and points and non-points around them.
        let mut cases: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|t| t.compress().0).collect();
        cases.extend(EIGHT_TORSION.iter().map(|t| {
            let mut e = t.compress().0;
            e[31] ^= 0x80;
            e
        }));
        for low in [0xeb, 0xec, 0xed, 0xee, 0xff] {
            for sign in [0, 0x80] {
                let mut e = [0xffu8; 32];
                e[0] = low;
                e[31] = 0x7f | sign;
                cases.push(e);
            }
        }
        for i in 0..200u64 {
            cases.push((Scalar::from(i + 1) * B).compress().0);
            let mut e = cases[cases.len() - 1];
            e[0] ^= 1;
            cases.push(e);
        }
        for r in cases {
            let decompressed = CompressedEdwardsY(r).decompress();
            let slow = match decompressed {
                None => None,
                Some(p) => Some(p.compress().0 == r && !p.is_small_order()),
            };
            match slow {
                // Not a point: the equation refuses it; the fast check may pass it.
                None => {}
                Some(ok) => assert_eq!(check_r(&r).is_ok(), ok, "{}", hex::encode(r)),
            }
        }
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        // y = p (≡ 0 mod p) is the non-canonical encoding of the point with y = 0.
        let mut y_is_p = [0xffu8; 32];
        y_is_p[0] = 0xed;
        y_is_p[31] = 0x7f;
        assert!(check_key(&y_is_p).is_err());
        let (key, mut sig) = honest(2, b"m");
        sig[32..].copy_from_slice(&[0xff; 32]);
        assert_eq!(verify(&key, b"m", &sig), Err(Refusal::Encoding("s is not below the group order ℓ")));
    }

    #[test]
    fn a_signature_gets_the_same_verdict_alone_and_in_every_batch() {
        // Torsion of order 2, 4 and 8 in R: one verdict however batched.
        let m = b"forged?";
        for t in [EIGHT_TORSION[4], EIGHT_TORSION[2], EIGHT_TORSION[1]] {
            let (key, sig) = crafted(Scalar::from(11u64), Scalar::from(13u64), t, m);
            let alone = verify(&key, m, &sig);
            for n in 0..12u8 {
                let others: Vec<([u8; 32], [u8; 64])> = (0..n).map(|j| honest(j + 1, m)).collect();
                let mut items: Vec<(&[u8; 32], &[u8], &[u8; 64])> = others.iter().map(|(k, s)| (k, &m[..], s)).collect();
                items.insert(usize::from(n) / 2, (&key, m, &sig));
                let verdicts = verify_all(&items);
                assert_eq!(verdicts[usize::from(n) / 2], alone, "batch of {}", n + 1);
                assert!(verdicts.iter().enumerate().all(|(i, v)| i == usize::from(n) / 2 || v.is_ok()));
            }
        }
    }

    #[test]
    fn a_wrong_signature_is_named_in_its_batch() {
        let m = b"m";
        let sigs: Vec<([u8; 32], [u8; 64])> = (1..=6).map(|i| honest(i, m)).collect();
        let mut bad = sigs.clone();
        bad[3].1[40] ^= 1;
        let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> = bad.iter().map(|(k, s)| (k, &m[..], s)).collect();
        let verdicts = verify_all(&items);
        let refused: Vec<usize> = (0..6).filter(|&i| verdicts[i].is_err()).collect();
        assert_eq!(refused, vec![3]);
    }
}
