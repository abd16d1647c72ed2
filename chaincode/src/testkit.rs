//! A chain without a network, for tests, benchmarks and worked examples:
//! the four bureaus of the local consortium with fixed keys, the genesis
//! dictionaries, and a clock the caller moves. Every record goes through
//! the same `State::apply` a validator runs.

use crate::dictionary::Dictionaries;
use crate::state::ledger::Bureau;
use crate::{BlockContext, GenesisState, Receipt, State, Transaction};
use ed25519_dalek::SigningKey;
use serde_json::Value;

pub fn dictionaries() -> Dictionaries {
    Dictionaries::builtin()
}

/// The bureaus: name, province code.
pub const BUREAUS: [(&str, &str); 4] = [("beijing", "110000"), ("tianjin", "120000"), ("hebei", "130000"), ("national", "000000")];

/// A fixed key from a label (tests only: anyone can derive it).
pub fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&crate::Hash::digest(label.as_bytes()).0)
}

pub fn admin_key(bureau: &str) -> SigningKey {
    key(&format!("admin:{bureau}"))
}

pub fn validator_key(bureau: &str) -> SigningKey {
    key(&format!("validator:{bureau}"))
}

pub fn genesis() -> GenesisState {
    GenesisState {
        bureaus: BUREAUS
            .iter()
            .map(|(name, province)| Bureau {
                name: name.to_string(),
                province: province.to_string(),
                validator_key: validator_key(name).verifying_key().to_bytes(),
                admin_key: Some(admin_key(name).verifying_key().to_bytes()),
                added_height: None,
                retired_height: None,
            })
            .collect(),
        dictionaries: dictionaries(),
    }
}

pub const CHAIN_ID: &str = "coldchain-test";

/// One chain: a state, a height and a block time (default 2026-11-24 10:00 CST).
pub struct Chain {
    pub state: State,
    pub height: u64,
    pub time_ms: i64,
    nonce: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    pub fn new() -> Chain {
        Chain { state: State::with_genesis(genesis()), height: 0, time_ms: 1_795_485_600_000, nonce: 0 }
    }

    pub fn ctx(&self) -> BlockContext {
        BlockContext { height: self.height.max(1), time_ms: self.time_ms }
    }

    /// Signs `record` with `key` as a transaction of the test chain.
    pub fn sign(&mut self, key: &SigningKey, record: Value) -> Transaction {
        self.nonce += 1;
        Transaction::sign(CHAIN_ID, self.nonce, record, key)
    }

    /// Applies one record in a block of its own.
    pub fn submit(&mut self, key: &SigningKey, record: Value) -> Receipt {
        let tx = self.sign(key, record);
        self.height += 1;
        let ctx = self.ctx();
        self.state.apply_block(ctx, [&tx]).remove(0)
    }

    /// Applies records as one block.
    pub fn block(&mut self, txs: &[Transaction]) -> Vec<Receipt> {
        self.height += 1;
        let ctx = self.ctx();
        self.state.apply_block(ctx, txs)
    }

    /// Moves the clock by whole days.
    pub fn advance_days(&mut self, days: i64) {
        self.time_ms += days * 86_400_000;
    }
}
