//! The genesis file: the chain id, the validators and their keys, and the
//! genesis state of the chaincode (the bureaus' admin keys, the code
//! dictionaries). It is all an auditor needs to check a proof, and every
//! node must hold the same one.
//!
//! ```json
//! {"chain_id":"coldchain-local","genesis_time":"2026-11-24T00:00:00Z",
//!  "validators":[{"name":"beijing","province":"110000","public_key":"…","admin_key":"…"}, …],
//!  "dictionaries":{"country":{"AU":"澳大利亚", …}, …}}
//! ```

use crate::block::Header;
use crate::consensus::epoch::{EpochMember, Epochs};
use crate::crypto::parse_public_key;
use coldchain_chaincode::dictionary::Dictionaries;
use coldchain_chaincode::state::ledger::Bureau;
use coldchain_chaincode::{GenesisState, Hash, canonical};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use coldchain_consensus::ValidatorIndex;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validator {
    /// Short name, e.g. "beijing".
    pub name: String,
    /// GB/T 2260 code of the bureau's province ("110000"), or the national
    /// platform's id ("000000").
    pub province: String,
    /// ed25519 public key, 64 hex characters. Also the libp2p identity.
    pub public_key: String,
    /// The bureau's administrative key (enrols enterprises, registers code
    /// schemes); optional for the consortium-chain layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// RFC 3339 UTC time; the genesis block's time.
    pub genesis_time: String,
    pub validators: Vec<Validator>,
    /// The code dictionaries records are checked against (genesis/dictionaries.json).
    pub dictionaries: Dictionaries,
    /// Limits every validator enforces alike; absent from the file when
    /// they are the defaults (so a file without them hashes as before).
    #[serde(default, skip_serializing_if = "ConsensusParams::is_default")]
    pub consensus: ConsensusParams,
}

/// Consensus parameters: the same for every validator, so a block one of
/// them accepts every honest one accepts (docs/PROTOCOL.md, "Limits").
/// Enforced on every path a transaction or a block takes: the gateway, a
/// peer's relay, a proposal, a leader's own block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusParams {
    /// Largest transaction, in canonical bytes (docs/FORMATS.md).
    pub max_tx_bytes: u64,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Most canonical transaction bytes in one block.
    pub max_block_bytes: u64,
    /// Largest message between validators; at least twice `max_block_bytes`.
    pub max_message_bytes: u64,
    /// How far a block's time may be ahead of a validator's clock for it to
    /// vote for the block: the bureaus' clocks (NTP) must agree this well.
    pub max_clock_drift_ms: u64,
}

impl Default for ConsensusParams {
    fn default() -> ConsensusParams {
        ConsensusParams {
            max_tx_bytes: coldchain_chaincode::transaction::MAX_TX_BYTES as u64,
            max_block_txs: 10_000,
            max_block_bytes: 16 << 20,
            max_message_bytes: 256 << 20,
            max_clock_drift_ms: 5_000,
        }
    }
}

impl ConsensusParams {
    pub fn is_default(&self) -> bool {
        *self == ConsensusParams::default()
    }

    fn validate(&self) -> Result<(), String> {
        let p = self;
        if p.max_tx_bytes == 0 || p.max_block_txs == 0 || p.max_clock_drift_ms == 0 {
            return Err("`consensus.max_tx_bytes`, `max_block_txs` and `max_clock_drift_ms` must be positive".into());
        }
        if p.max_tx_bytes > coldchain_chaincode::transaction::MAX_TX_BYTES as u64 {
            return Err(format!(
                "`consensus.max_tx_bytes` {} is over {}, the largest transaction a gateway reads",
                p.max_tx_bytes,
                coldchain_chaincode::transaction::MAX_TX_BYTES
            ));
        }
        if p.max_block_bytes < p.max_tx_bytes {
            return Err(format!("`consensus.max_block_bytes` {} must hold one largest transaction ({})", p.max_block_bytes, p.max_tx_bytes));
        }
        if p.max_message_bytes < 2 * p.max_block_bytes {
            return Err(format!(
                "`consensus.max_message_bytes` {} must be at least twice `max_block_bytes` {}: a proposal carries a whole block",
                p.max_message_bytes, p.max_block_bytes
            ));
        }
        Ok(())
    }

    pub fn max_tx_bytes(&self) -> usize {
        usize::try_from(self.max_tx_bytes).unwrap_or(usize::MAX)
    }

    pub fn max_block_bytes(&self) -> usize {
        usize::try_from(self.max_block_bytes).unwrap_or(usize::MAX)
    }

    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.max_message_bytes).unwrap_or(usize::MAX)
    }

    /// The transaction bytes one message may carry (a sync answer, a
    /// relay): half the message limit, the rest for the encoding.
    pub fn max_payload_bytes(&self) -> usize {
        self.max_message_bytes() / 2
    }

    /// The limits of an epoch whose state holds `limits` (what governance
    /// set; `None`: these, genesis's). The message limit is the transport's
    /// and stays genesis's, so no block is larger than half of it, whatever
    /// governance set: every validator caps alike, from the same genesis.
    pub fn in_epoch(&self, limits: Option<&coldchain_chaincode::state::ledger::ConsensusLimits>) -> ConsensusParams {
        let Some(l) = limits else { return self.clone() };
        ConsensusParams {
            max_tx_bytes: l.max_tx_bytes,
            max_block_txs: l.max_block_txs,
            max_block_bytes: l.max_block_bytes.min(self.max_message_bytes / 2),
            max_message_bytes: self.max_message_bytes,
            max_clock_drift_ms: l.max_clock_drift_ms,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("cannot read genesis file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("genesis: {0}")]
    Invalid(String),
}

/// Byzantine quorum: q = n − ⌊(n−1)/3⌋. With 4 validators q = 3 and one fault
/// is tolerated; with 3, q = 3 and none is.
pub fn quorum(n: usize) -> usize {
    crate::consensus::epoch::quorum(n)
}

impl Genesis {
    pub fn load(path: &Path) -> Result<Genesis, GenesisError> {
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Read { path: path.display().to_string(), source })?;
        let genesis: Genesis = serde_json::from_str(&text).map_err(|e| GenesisError::Invalid(format!("{e}")))?;
        genesis.validate()?;
        Ok(genesis)
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        let bad = |m: String| Err(GenesisError::Invalid(m));
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return bad("`chain_id` must be 1 to 64 characters".into());
        }
        if self.chain_id.contains('/') {
            return bad(format!("`chain_id` \"{}\" must not contain `/`: epochs sign votes under `chain_id/epoch-N`", self.chain_id));
        }
        if chrono::DateTime::parse_from_rfc3339(&self.genesis_time).is_err() {
            return bad(format!("`genesis_time` must be an RFC 3339 time, got \"{}\"", self.genesis_time));
        }
        if self.validators.is_empty() || self.validators.len() > 64 {
            return bad("`validators` must list 1 to 64 validators".into());
        }
        // Keys are compared as keys, and written one way only (lowercase
        // hex): one key in two letter cases cannot take two slots.
        let canonical = |text: &str| parse_public_key(text).filter(|k| hex::encode(k.to_bytes()) == text);
        let mut keys = Vec::new();
        for (i, v) in self.validators.iter().enumerate() {
            let Some(key) = canonical(&v.public_key) else {
                return bad(format!("`validators[{i}].public_key` must be a valid ed25519 key of 64 lowercase hex characters"));
            };
            if let Some(admin) = &v.admin_key
                && canonical(admin).is_none()
            {
                return bad(format!("`validators[{i}].admin_key` must be a valid ed25519 key of 64 lowercase hex characters"));
            }
            if keys.contains(&key.to_bytes()) || self.validators[..i].iter().any(|o| o.name == v.name) {
                return bad(format!("`validators[{i}]` repeats another validator's name or key"));
            }
            keys.push(key.to_bytes());
        }
        self.dictionaries.validate().map_err(|e| GenesisError::Invalid(e.to_string()))?;
        self.consensus.validate().map_err(GenesisError::Invalid)?;
        Ok(())
    }

    /// The chaincode's genesis state: bureaus (validator and admin keys by
    /// province) and dictionaries.
    pub fn chaincode_genesis(&self) -> GenesisState {
        GenesisState {
            bureaus: self
                .validators
                .iter()
                .map(|v| Bureau {
                    name: v.name.clone(),
                    province: v.province.clone(),
                    validator_key: parse_public_key(&v.public_key).expect("validated").to_bytes(),
                    admin_key: v.admin_key.as_deref().and_then(parse_public_key).map(|k| k.to_bytes()),
                    added_height: None,
                    retired_height: None,
                })
                .collect(),
            dictionaries: self.dictionaries.clone(),
        }
    }

    pub fn keys(&self) -> Vec<VerifyingKey> {
        self.validators.iter().map(|v| parse_public_key(&v.public_key).expect("validated")).collect()
    }

    pub fn quorum(&self) -> usize {
        quorum(self.validators.len())
    }

    /// Epoch 0: this file's validators, in its order; later epochs are
    /// pushed as their certificates arrive (issue 19).
    pub fn epochs(&self) -> Epochs {
        let members = self
            .validators
            .iter()
            .map(|v| EpochMember {
                name: v.name.clone(),
                province: v.province.clone(),
                public_key: parse_public_key(&v.public_key).expect("validated").to_bytes(),
            })
            .collect();
        Epochs::new(&self.chain_id, members).expect("validated: 1 to 64 distinct keys")
    }

    pub fn index_of(&self, key: &VerifyingKey) -> Option<ValidatorIndex> {
        let hex_key = hex::encode(key.to_bytes());
        self.validators.iter().position(|v| v.public_key == hex_key).map(|i| i as ValidatorIndex)
    }

    /// SHA-256 of the canonical JSON of this file's content.
    pub fn hash(&self) -> Hash {
        Hash::digest(&canonical::to_bytes(self).expect("plain JSON"))
    }

    pub fn time_ms(&self) -> i64 {
        chrono::DateTime::parse_from_rfc3339(&self.genesis_time).map(|t| t.timestamp_millis()).unwrap_or(0)
    }

    /// Height 0: its parent is the genesis file's hash, so the whole chain is
    /// anchored to this validator set.
    pub fn block_header(&self) -> Header {
        Header {
            chain_id: self.chain_id.clone(),
            height: 0,
            view: 0,
            parent: self.hash(),
            tx_root: Hash::ZERO,
            time_ms: self.time_ms(),
            proposer: 0,
            tx_count: 0,
            state_height: 0,
            state_root: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_tolerates_f_faults() {
        assert_eq!([1, 2, 3, 4, 5, 7, 10].map(quorum), [1, 2, 3, 3, 4, 5, 7]);
    }

    #[test]
    fn one_key_in_two_letter_cases_cannot_take_two_slots() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../genesis/example.json")).unwrap();
        let genesis: Genesis = serde_json::from_str(&text).unwrap();
        genesis.validate().unwrap();
        let mut twice = genesis.clone();
        twice.validators[1].public_key = twice.validators[0].public_key.to_uppercase();
        let e = twice.validate().unwrap_err().to_string();
        assert!(e.contains("validators[1].public_key") && e.contains("lowercase"), "{e}");
    }

    fn example() -> (String, Genesis) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../genesis/example.json")).unwrap();
        let genesis: Genesis = serde_json::from_str(&text).unwrap();
        (text, genesis)
    }

    /// A file without `consensus` has the defaults and keeps its hash (the
    /// chain it started is the same chain); one that sets them is another.
    #[test]
    fn consensus_parameters_default_and_a_file_without_them_keeps_its_hash() {
        let (text, genesis) = example();
        assert!(!text.contains("\"consensus\""));
        assert_eq!(genesis.consensus, ConsensusParams::default());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(genesis.hash(), Hash::digest(&canonical::to_bytes(&value).unwrap()), "the hash of the file's own content");
        let mut set = value.clone();
        set["consensus"] = serde_json::json!({"max_block_txs": 500});
        let tighter: Genesis = serde_json::from_value(set).unwrap();
        tighter.validate().unwrap();
        assert_eq!(tighter.consensus, ConsensusParams { max_block_txs: 500, ..ConsensusParams::default() });
        assert_ne!(tighter.hash(), genesis.hash());
    }

    #[test]
    fn consensus_parameters_that_cannot_work_are_refused_naming_the_parameter() {
        let (_, genesis) = example();
        let d = ConsensusParams::default();
        let cases = [
            (ConsensusParams { max_block_txs: 0, ..d.clone() }, "max_block_txs"),
            (ConsensusParams { max_tx_bytes: 1 << 30, ..d.clone() }, "max_tx_bytes"),
            (ConsensusParams { max_block_bytes: 1_000, max_tx_bytes: 2_000, ..d.clone() }, "max_block_bytes"),
            (ConsensusParams { max_message_bytes: d.max_block_bytes, ..d.clone() }, "max_message_bytes"),
        ];
        for (consensus, field) in cases {
            let e = Genesis { consensus, ..genesis.clone() }.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
        let mut value = serde_json::to_value(&genesis).unwrap();
        value["consensus"] = serde_json::json!({"max_blok_txs": 5});
        let e = serde_json::from_value::<Genesis>(value).unwrap_err().to_string();
        assert!(e.contains("max_blok_txs"), "a misspelt parameter is refused: {e}");
    }
}
