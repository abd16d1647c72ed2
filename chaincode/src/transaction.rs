//! The signed transaction envelope.
//!
//! ```json
//! {"chain_id":"coldchain-local","nonce":1,
//!  "record":{"type":"notarise","document":{"note":"hello"}},
//!  "signer":{"algorithm":"ed25519","public_key":"<64 hex>"},
//!  "signature":"<128 hex>"}
//! ```
//! - signed bytes: `b"coldchain-tx-v1\0"` followed by the RFC 8785 bytes of the
//!   object without its `signature` member;
//! - transaction id: SHA-256 of the RFC 8785 bytes of the whole object.
//!
//! Every check names the field it failed on and the rule it broke.

use crate::canonical::CanonicalJson;
use crate::hash::{Hash, serde_bytes_compat as fixed};
use crate::signature;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, Mutex, OnceLock};

/// Domain tag prefixed to a transaction's signed bytes, so a transaction
/// signature can never be mistaken for a consensus vote or anything else.
pub const TX_DOMAIN: &[u8] = b"coldchain-tx-v1\0";
/// Largest transaction accepted, in canonical bytes.
pub const MAX_TX_BYTES: usize = 256 * 1024;
/// Nonces stay within the integers an IEEE double holds exactly (RFC 8785 numbers).
pub const MAX_NONCE: u64 = (1 << 53) - 1;

pub type TxId = Hash;

/// Hashing for sets and maps keyed by transaction id. Ids are SHA-256
/// digests, so foldhash (seeded per process) does; std's SipHash was a
/// measurable share of a node's CPU at several lookups per transaction.
pub type IdHasher = foldhash::fast::RandomState;
pub type IdSet = std::collections::HashSet<TxId, IdHasher>;
pub type IdMap<V> = std::collections::HashMap<TxId, V, IdHasher>;

/// The signer of a transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signer {
    /// `ed25519`.
    #[cfg_attr(feature = "openapi", schema(example = "ed25519"))]
    pub algorithm: String,
    /// The Ed25519 public key: 64 hexadecimal characters.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    #[serde(serialize_with = "fixed::serialize_32", deserialize_with = "fixed::deserialize_32")]
    pub public_key: [u8; 32],
}

/// A signed transaction (docs/FORMATS.md): the record and the Ed25519
/// signature over its canonical (RFC 8785) form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transaction {
    /// The consortium's chain id (genesis).
    #[cfg_attr(feature = "openapi", schema(example = "coldchain-jjj-example"))]
    pub chain_id: String,
    /// 0 … 2^53−1 (9007199254740991); makes two otherwise equal submissions distinct.
    pub nonce: u64,
    /// The record, held as its RFC 8785 text.
    pub record: CanonicalJson,
    pub signer: Signer,
    /// Ed25519 over the transaction's signed bytes: 128 hexadecimal characters.
    #[serde(serialize_with = "fixed::serialize_64", deserialize_with = "fixed::deserialize_64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{128}$"))]
    pub signature: [u8; 64],
    #[serde(skip)]
    id: IdCache,
}

/// A transaction's id once computed: a node needs it at every step (relay,
/// proposal, verification, apply), and each computation writes the canonical
/// bytes and hashes them. Not part of the transaction: never serialized,
/// always equal. The public fields must not change after [`Transaction::id`]
/// was read (only tests change them, before).
#[derive(Clone, Default)]
struct IdCache(OnceLock<(TxId, usize)>);

impl PartialEq for IdCache {
    fn eq(&self, _: &IdCache) -> bool {
        true
    }
}

impl fmt::Debug for IdCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")
    }
}

/// A transaction that broke a rule: which field, which rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("field `{field}`: {rule}")]
pub struct TxError {
    pub field: String,
    pub rule: String,
}

impl TxError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        TxError { field: field.into(), rule: rule.into() }
    }
}

impl Transaction {
    /// Builds and signs a transaction with `key`.
    #[allow(
        clippy::expect_used,
        reason = "canonical JSON refuses only non-finite numbers, which a serde_json Value cannot hold (no arbitrary_precision; test every_json_value_canonicalizes)"
    )]
    pub fn sign(chain_id: &str, nonce: u64, record: Value, key: &SigningKey) -> Transaction {
        let signer = Signer { algorithm: "ed25519".into(), public_key: key.verifying_key().to_bytes() };
        let record = CanonicalJson::from_value(&record).expect("a JSON value is always canonicalizable");
        let mut tx = Transaction { chain_id: chain_id.into(), nonce, record, signer, signature: [0; 64], id: IdCache::default() };
        tx.signature = key.sign(&tx.signing_bytes()).to_bytes();
        tx
    }

    /// Writes the canonical JSON of the transaction, with or without its
    /// signature. Members in RFC 8785 order: chain_id, nonce, record,
    /// signature, signer; strings escaped as serde_json (= RFC 8785) does.
    fn write_canonical(&self, out: &mut Vec<u8>, with_signature: bool) {
        use crate::canonical::write_string as text;
        let hex_of = |out: &mut Vec<u8>, bytes: &[u8]| {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.reserve(2 * bytes.len());
            for &b in bytes {
                out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0F)]]);
            }
        };
        out.extend_from_slice(b"{\"chain_id\":");
        text(&self.chain_id, out);
        out.extend_from_slice(b",\"nonce\":");
        out.extend_from_slice(self.nonce.to_string().as_bytes());
        out.extend_from_slice(b",\"record\":");
        out.extend_from_slice(self.record.as_str().as_bytes());
        if with_signature {
            out.extend_from_slice(b",\"signature\":\"");
            hex_of(out, &self.signature);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"signer\":{\"algorithm\":");
        text(&self.signer.algorithm, out);
        out.extend_from_slice(b",\"public_key\":\"");
        hex_of(out, &self.signer.public_key);
        out.extend_from_slice(b"\"}}");
    }

    /// The bytes the signer signs: the domain tag, then the canonical JSON of
    /// every member but `signature`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TX_DOMAIN.len() + self.record.len() + 200);
        out.extend_from_slice(TX_DOMAIN);
        self.write_canonical(&mut out, false);
        out
    }

    /// The RFC 8785 bytes of the whole transaction.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.record.len() + 330);
        self.write_canonical(&mut out, true);
        out
    }

    /// Appends the RFC 8785 bytes of the whole transaction to `out`.
    pub fn write_canonical_bytes(&self, out: &mut Vec<u8>) {
        self.write_canonical(out, true);
    }

    /// SHA-256 of the canonical bytes.
    pub fn id(&self) -> TxId {
        self.id_and_len().0
    }

    /// The length of the canonical bytes: a transaction's size wherever a
    /// limit counts it (the genesis `max_tx_bytes` and `max_block_bytes`).
    /// Computed with the id, once.
    pub fn byte_len(&self) -> usize {
        self.id_and_len().1
    }

    fn id_and_len(&self) -> (TxId, usize) {
        *self.id.0.get_or_init(|| {
            let bytes = self.canonical_bytes();
            (Hash::digest(&bytes), bytes.len())
        })
    }

    /// Reads back bytes written by [`Transaction::canonical_bytes`] without
    /// canonicalizing the record again. Only for this node's own store.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Transaction, String> {
        #[derive(Deserialize)]
        struct Stored<'a> {
            chain_id: String,
            nonce: u64,
            #[serde(borrow)]
            record: &'a serde_json::value::RawValue,
            signer: Signer,
            #[serde(deserialize_with = "fixed::deserialize_64")]
            signature: [u8; 64],
        }
        let s: Stored = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(Transaction {
            chain_id: s.chain_id,
            nonce: s.nonce,
            record: CanonicalJson::trusted(s.record.get()),
            signer: s.signer,
            signature: s.signature,
            id: IdCache::default(),
        })
    }

    /// Whether the record text is canonical: required of any transaction
    /// received in binary form before it is trusted.
    pub fn record_is_canonical(&self) -> bool {
        self.record.is_canonical()
    }

    /// The signer's key, refusing what [`crate::signature::check_key`]
    /// refuses: a non-canonical encoding or a point of small order (which
    /// would let one signature verify for many messages).
    pub fn verifying_key(&self) -> Result<VerifyingKey, TxError> {
        let bytes = &self.signer.public_key;
        if let Some(key) = KEYS.lock().ok().and_then(|keys| keys.get(bytes).copied()) {
            return Ok(key);
        }
        signature::check_key(bytes).map_err(refusal)?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| TxError::new("signer.public_key", "is not a valid ed25519 point"))?;
        if let Ok(mut keys) = KEYS.lock() {
            if keys.len() >= KEY_CACHE {
                keys.clear();
            }
            keys.insert(*bytes, key);
        }
        Ok(key)
    }

    /// Checks the signature alone, by the chain's one rule
    /// ([`crate::signature`]): the same verdict as in any batch.
    pub fn verify_signature(&self) -> Result<(), TxError> {
        self.verifying_key()?;
        signature::verify(&self.signer.public_key, &self.signing_bytes(), &self.signature).map_err(refusal)
    }

    /// Parses a transaction from JSON, naming the first field that breaks a
    /// rule. Checks shape only; the signature is checked by [`verify_batch`].
    pub fn from_json(value: &Value, chain_id: &str) -> Result<Transaction, TxError> {
        let obj = value.as_object().ok_or_else(|| TxError::new("(body)", "must be a JSON object"))?;
        reject_unknown(obj, "", &["chain_id", "nonce", "record", "signer", "signature"])?;
        let got_chain = str_field(obj, "chain_id", "chain_id")?;
        if got_chain != chain_id {
            return Err(TxError::new("chain_id", format!("must be \"{chain_id}\" (this chain), got \"{got_chain}\"")));
        }
        let nonce = obj
            .get("nonce")
            .ok_or_else(|| TxError::new("nonce", "is required"))?
            .as_u64()
            .filter(|n| *n <= MAX_NONCE)
            .ok_or_else(|| TxError::new("nonce", format!("must be an integer from 0 to {MAX_NONCE}")))?;
        let record = obj.get("record").ok_or_else(|| TxError::new("record", "is required"))?;
        let record_type = record.as_object().ok_or_else(|| TxError::new("record", "must be a JSON object"))?.get("type").and_then(Value::as_str);
        if record_type.is_none_or(str::is_empty) {
            return Err(TxError::new("record.type", "is required and must be a non-empty string"));
        }
        let signer = obj
            .get("signer")
            .and_then(Value::as_object)
            .ok_or_else(|| TxError::new("signer", "is required and must be an object {\"algorithm\", \"public_key\"}"))?;
        reject_unknown(signer, "signer.", &["algorithm", "public_key"])?;
        let algorithm = str_field(signer, "algorithm", "signer.algorithm")?;
        if algorithm != "ed25519" {
            return Err(TxError::new("signer.algorithm", format!("unsupported key type \"{algorithm}\"; only \"ed25519\" is accepted")));
        }
        let public_key = hex_field::<32>(signer, "public_key", "signer.public_key")?;
        let signature = hex_field::<64>(obj, "signature", "signature")?;
        let record = CanonicalJson::from_value(record).map_err(|e| TxError::new("record", e.to_string()))?;
        let tx = Transaction {
            chain_id: chain_id.to_string(),
            nonce,
            record,
            signer: Signer { algorithm: algorithm.to_string(), public_key },
            signature,
            id: IdCache::default(),
        };
        let bytes = tx.canonical_bytes();
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxError::new("(body)", format!("transaction is {} bytes; the limit is {MAX_TX_BYTES}", bytes.len())));
        }
        let _ = tx.id.0.set((Hash::digest(&bytes), bytes.len()));
        Ok(tx)
    }

    /// The rules every transaction meets on every path, whether it came
    /// through a gateway ([`Transaction::from_json`] checks them there) or
    /// from a peer, in a relay or a proposal: this chain, a nonce an IEEE
    /// double holds, an Ed25519 signer and at most `max_tx_bytes` canonical
    /// bytes. Cheap once the id is known. The record's canonical form and
    /// the signature are checked apart, once per transaction, where it is
    /// first seen (signatures in batches).
    pub fn check_envelope(&self, chain_id: &str, max_tx_bytes: usize) -> Result<(), TxError> {
        if self.chain_id != chain_id {
            return Err(TxError::new("chain_id", format!("must be \"{chain_id}\" (this chain), got \"{}\"", self.chain_id)));
        }
        if self.nonce > MAX_NONCE {
            return Err(TxError::new("nonce", format!("must be an integer from 0 to {MAX_NONCE}")));
        }
        if self.signer.algorithm != "ed25519" {
            return Err(TxError::new(
                "signer.algorithm",
                format!("unsupported key type \"{}\"; only \"ed25519\" is accepted", self.signer.algorithm),
            ));
        }
        if self.byte_len() > max_tx_bytes {
            return Err(TxError::new("(body)", format!("transaction is {} bytes; the limit is {max_tx_bytes}", self.byte_len())));
        }
        Ok(())
    }

    /// The record's `type` (parses the record).
    pub fn record_type(&self) -> String {
        self.record.to_value().get("type").and_then(Value::as_str).unwrap_or("").to_string()
    }
}

fn bad_signature() -> TxError {
    TxError::new("signature", "does not verify under signer.public_key over the transaction's signed bytes")
}

fn reject_unknown(obj: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), TxError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(TxError::new(format!("{prefix}{k}"), format!("unknown member; allowed: {}", known.join(", ")))),
        None => Ok(()),
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str, field: &str) -> Result<&'a str, TxError> {
    obj.get(key).ok_or_else(|| TxError::new(field, "is required"))?.as_str().ok_or_else(|| TxError::new(field, "must be a string"))
}

fn hex_field<const N: usize>(obj: &Map<String, Value>, key: &str, field: &str) -> Result<[u8; N], TxError> {
    let s = str_field(obj, key, field)?;
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| TxError::new(field, format!("must be {} hexadecimal characters", 2 * N)))?;
    Ok(out)
}

/// Signer keys already decompressed and checked, by their bytes: an
/// enterprise signs many records with one key, and decompressing a point
/// costs about a third of a signature check (profiled: 6% of a node's CPU at
/// full load). Holds only keys that passed [`Transaction::verifying_key`]'s
/// checks; cleared when full (about 1 MB).
static KEYS: LazyLock<Mutex<HashMap<[u8; 32], VerifyingKey>>> = LazyLock::new(Default::default);
const KEY_CACHE: usize = 4096;

/// Verifies many transactions' signatures at once by the chain's one rule
/// ([`crate::signature::verify_all`]: one cofactored batch, then each alone
/// if the batch fails, to say which). One result per transaction, each the
/// same as [`Transaction::verify_signature`] gives it.
pub fn verify_batch(txs: &[&Transaction]) -> Vec<Result<(), TxError>> {
    let mut results: Vec<Result<(), TxError>> = Vec::with_capacity(txs.len());
    let mut messages = Vec::with_capacity(txs.len());
    let mut candidates = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        match tx.verifying_key() {
            Ok(_) => {
                messages.push(tx.signing_bytes());
                candidates.push(i);
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> =
        candidates.iter().zip(&messages).map(|(&i, m)| (&txs[i].signer.public_key, m.as_slice(), &txs[i].signature)).collect();
    for (verdict, &i) in signature::verify_all(&items).into_iter().zip(&candidates) {
        results[i] = verdict.map_err(refusal);
    }
    results
}

fn refusal(r: signature::Refusal) -> TxError {
    match r {
        signature::Refusal::Key(rule) => TxError::new("signer.public_key", rule),
        signature::Refusal::Encoding(rule) => TxError::new("signature", rule),
        signature::Refusal::Equation => bad_signature(),
    }
}

impl fmt::Display for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tx from {}", self.record_type(), hex::encode(&self.signer.public_key[..6]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sample() -> Transaction {
        Transaction::sign("test-chain", 7, json!({"type": "notarise", "document": {"n": 1}}), &key(1))
    }

    /// `Transaction::sign` signs any record a caller builds: a serde_json
    /// value holds no non-finite number (it would with serde_json's
    /// arbitrary_precision feature, and then this fails).
    #[test]
    fn every_json_value_canonicalizes() {
        assert!(serde_json::from_str::<Value>("1e400").is_err());
        assert_eq!(json!(f64::NAN), Value::Null);
        assert_eq!(json!(f64::INFINITY), Value::Null);
        assert!(CanonicalJson::from_value(&json!({"max": f64::MAX, "min": f64::MIN_POSITIVE, "u": u64::MAX, "i": i64::MIN})).is_ok());
    }

    #[test]
    fn signed_transaction_verifies_and_round_trips_through_json() {
        let tx = sample();
        tx.verify_signature().unwrap();
        let json = serde_json::to_value(&tx).unwrap();
        let parsed = Transaction::from_json(&json, "test-chain").unwrap();
        assert_eq!(parsed, tx);
        assert_eq!(parsed.id(), tx.id());
    }

    #[test]
    fn id_is_sha256_of_canonical_bytes() {
        let tx = sample();
        let text = String::from_utf8(tx.canonical_bytes()).unwrap();
        assert!(text.starts_with(r#"{"chain_id":"test-chain","nonce":7,"record":{"document":{"n":1},"type":"notarise"},"signature":""#));
        assert_eq!(tx.id(), Hash::digest(text.as_bytes()));
    }

    #[test]
    fn canonical_bytes_read_back_to_the_same_transaction() {
        let tx = sample();
        let back = Transaction::from_canonical_bytes(&tx.canonical_bytes()).unwrap();
        assert_eq!(back, tx);
        assert_eq!(back.id(), tx.id());
    }

    #[test]
    fn hand_written_canonical_bytes_equal_a_jcs_library() {
        let mut tx = sample();
        tx.chain_id = "chain \"quoted\"\u{1}é".into();
        let via_library = crate::canonical::to_bytes(&serde_json::to_value(&tx).unwrap()).unwrap();
        assert_eq!(String::from_utf8(tx.canonical_bytes()).unwrap(), String::from_utf8(via_library).unwrap());
        let mut unsigned = serde_json::to_value(&tx).unwrap();
        unsigned.as_object_mut().unwrap().remove("signature");
        let mut expected = TX_DOMAIN.to_vec();
        expected.extend(crate::canonical::to_bytes(&unsigned).unwrap());
        assert_eq!(tx.signing_bytes(), expected);
    }

    #[test]
    fn every_changed_byte_breaks_the_signature() {
        let mut tx = sample();
        tx.nonce += 1;
        assert_eq!(tx.verify_signature().unwrap_err().field, "signature");
        let mut tx = sample();
        tx.record = CanonicalJson::from_value(&json!({"type": "notarise", "document": {"n": 2}})).unwrap();
        assert!(tx.verify_signature().is_err());
    }

    #[test]
    fn shape_errors_name_the_field() {
        let good = serde_json::to_value(sample()).unwrap();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|v| v["signer"]["algorithm"] = json!("secp256k1")), "signer.algorithm"),
            (Box::new(|v| v["signer"]["public_key"] = json!("zz")), "signer.public_key"),
            (Box::new(|v| v["signature"] = json!("00")), "signature"),
            (Box::new(|v| v["chain_id"] = json!("other")), "chain_id"),
            (Box::new(|v| v["nonce"] = json!(-1)), "nonce"),
            (Box::new(|v| v["record"] = json!({"document": 1})), "record.type"),
            (Box::new(|v| v["extra"] = json!(1)), "extra"),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("signer");
                }),
                "signer",
            ),
        ];
        for (mutate, field) in cases {
            let mut v = good.clone();
            mutate(&mut v);
            assert_eq!(Transaction::from_json(&v, "test-chain").unwrap_err().field, field);
        }
    }

    /// A peer's transaction never passed through `from_json`: the same
    /// rules hold for it (issue 17: relays skipped them).
    #[test]
    fn a_peers_transaction_meets_the_gateways_rules() {
        assert_eq!(sample().check_envelope("test-chain", MAX_TX_BYTES), Ok(()));
        type Mutation = Box<dyn Fn(&mut Transaction)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|t| t.chain_id = "other".into()), "chain_id"),
            (Box::new(|t| t.nonce = MAX_NONCE + 1), "nonce"),
            (Box::new(|t| t.signer.algorithm = "secp256k1".into()), "signer.algorithm"),
            (Box::new(|t| t.record = CanonicalJson::trusted(&format!("{{\"type\":\"notarise\",\"x\":\"{}\"}}", "y".repeat(MAX_TX_BYTES)))), "(body)"),
        ];
        for (mutate, field) in cases {
            let mut tx = sample();
            mutate(&mut tx);
            assert_eq!(tx.check_envelope("test-chain", MAX_TX_BYTES).unwrap_err().field, field);
        }
        let small = sample();
        assert_eq!(small.check_envelope("test-chain", small.byte_len() - 1).unwrap_err().field, "(body)");
        assert_eq!(small.byte_len(), small.canonical_bytes().len());
    }

    #[test]
    fn oversized_transaction_is_refused() {
        let big = "x".repeat(MAX_TX_BYTES);
        let tx = Transaction::sign("test-chain", 1, json!({"type": "notarise", "document": {"blob": big}}), &key(1));
        let err = Transaction::from_json(&serde_json::to_value(&tx).unwrap(), "test-chain").unwrap_err();
        assert!(err.rule.contains("limit"), "{err}");
    }

    #[test]
    fn batch_names_exactly_the_bad_signatures() {
        let mut txs: Vec<Transaction> =
            (0..10).map(|i| Transaction::sign("c", i, json!({"type": "notarise", "document": {}}), &key(i as u8 + 1))).collect();
        txs[3].signature[0] ^= 1;
        txs[7].nonce = 99;
        let refs: Vec<&Transaction> = txs.iter().collect();
        let results = verify_batch(&refs);
        let bad: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
        assert_eq!(bad, vec![3, 7]);
        let good: Vec<&Transaction> = txs.iter().enumerate().filter(|(i, _)| ![3, 7].contains(i)).map(|(_, t)| t).collect();
        assert!(verify_batch(&good).iter().all(Result::is_ok));
    }
}
