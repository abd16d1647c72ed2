//! `governance` (issue 19): a change to the consortium itself, decided by a
//! quorum of the bureaus (q = n − ⌊(n−1)/3⌋ of the bureaus with admin keys
//! that have not left), as a `dictionary_amendment` is. The first bureau to
//! sign a change proposes it; each other bureau that signs the same change
//! approves it; the change takes effect with the approval that makes the
//! quorum, for every transaction after that one. Every change, its
//! approvals (by transaction and height) and its activation stay on chain
//! (`GET /v1/governance`).
//!
//! The changes:
//! - `rotate_admin_key`: a bureau's admin key replaced (staff change, a lost
//!   or compromised key: the other bureaus can rotate a bureau's key
//!   without it). The old key signs nothing afterwards, and what it signed
//!   before stays attributed to its bureau (`Ledger::province_of_admin_key`).
//! - `add_validator`: a province's bureau joins, with its validator and
//!   admin keys.
//! - `remove_validator`: a bureau leaves; its entry stays (what it signed
//!   stays its own) but its keys sign nothing after.
//! - `rotate_validator_key`: a bureau's consensus key replaced.
//! - `set_consensus_params`: the consensus limits (largest transaction,
//!   transactions and bytes a block, clock drift) every validator enforces.
//!
//! A validator or consensus change that takes effect at height h starts the
//! next epoch (`Ledger::epochs`): the validator set and limits from block
//! h + 1, which the node's consensus switches to. A key once used, by a bureau or an enterprise, is
//! never used again by another or after it was retired.

use super::Cx;
use crate::canonical;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{Bureau, ConsensusLimits, Epoch, FormerAdminKey, FormerValidatorKey, GovernanceApproval, GovernanceChange, Ledger};

/// The changes a `governance` record may carry.
pub const CHANGES: &[&str] = &["rotate_admin_key", "add_validator", "remove_validator", "rotate_validator_key", "set_consensus_params"];

/// The longest clock drift a consortium may allow: an hour.
const MAX_CLOCK_DRIFT_MS: u64 = 3_600_000;

/// A public key of the record and its field path.
type KeyField = ([u8; 32], String);

#[derive(Clone, Debug)]
pub struct GovernanceRecord {
    pub change: String,
    /// The bureau the change is about.
    pub province: (String, String),
    /// Its new admin key (`rotate_admin_key`, `add_validator`).
    pub admin_key: Option<KeyField>,
    /// Its new validator key (`add_validator`, `rotate_validator_key`).
    pub validator_key: Option<KeyField>,
    /// The new bureau's name (`add_validator`).
    pub name: Option<(String, String)>,
    /// The new limits (`set_consensus_params`).
    pub consensus: Option<ConsensusLimits>,
}

impl GovernanceRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (change, c_path) = f.req_str_at("change", &[], 40)?;
        if !CHANGES.contains(&change.as_str()) {
            return Err(RecordError::new(c_path, format!("\"{change}\" is not a change this chain carries out; one of {}", CHANGES.join(", "))));
        }
        if change == "set_consensus_params" {
            let consensus = parse_limits(f.req_object("params", &[])?)?;
            f.finish("change, params")?;
            let province = (String::new(), f.at("province"));
            return Ok(GovernanceRecord { change, province, admin_key: None, validator_key: None, name: None, consensus: Some(consensus) });
        }
        let province = f.req_str_at("province", &[], 6)?;
        let mut r = GovernanceRecord { change, province, admin_key: None, validator_key: None, name: None, consensus: None };
        match r.change.as_str() {
            "rotate_admin_key" => {
                r.admin_key = Some(super::public_key(f, "adminKey")?);
                f.finish("change, province, adminKey")?;
            }
            "add_validator" => {
                let (name, n_path) = f.req_str_at("name", &[], 32)?;
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                    return Err(RecordError::new(n_path, "is the bureau's name: 1 to 32 of a-z, 0-9 and -"));
                }
                r.name = Some((name, n_path));
                r.validator_key = Some(super::public_key(f, "validatorKey")?);
                r.admin_key = Some(super::public_key(f, "adminKey")?);
                f.finish("change, province, name, validatorKey, adminKey")?;
            }
            "remove_validator" => f.finish("change, province")?,
            _ => {
                r.validator_key = Some(super::public_key(f, "validatorKey")?);
                f.finish("change, province, validatorKey")?;
            }
        }
        Ok(r)
    }

    /// The change's identity: SHA-256 of its canonical content. Every
    /// bureau signs the same content; each signature is an approval.
    pub fn digest(&self) -> Hash {
        let mut v = serde_json::json!({"change": self.change, "province": self.province.0});
        if let Some((name, _)) = &self.name {
            v["name"] = name.clone().into();
        }
        if let Some((key, _)) = &self.validator_key {
            v["validatorKey"] = hex::encode(key).into();
        }
        if let Some((key, _)) = &self.admin_key {
            v["adminKey"] = hex::encode(key).into();
        }
        if let Some(c) = &self.consensus {
            v["params"] = serde_json::json!({
                "maxTxBytes": c.max_tx_bytes, "maxBlockTxs": c.max_block_txs,
                "maxBlockBytes": c.max_block_bytes, "maxClockDriftMs": c.max_clock_drift_ms,
            });
        }
        Hash::digest(&canonical::to_bytes(&v).unwrap_or_default())
    }

    /// Whether the change alters the validator set or the consensus limits
    /// (and so starts an epoch).
    pub fn starts_epoch(&self) -> bool {
        self.change != "rotate_admin_key"
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let signer = cx.require_bureau("governance")?;
        let digest = self.digest();
        if let Some(existing) = l.governance(&digest) {
            if let Some(height) = existing.activated_height {
                return Err(RecordError::new("record", format!("this change took effect at height {height}; it is decided")));
            }
            if existing.approvals.iter().any(|a| a.province == signer) {
                return Err(RecordError::new("signer", format!("bureau {signer} already approved this change")));
            }
        }
        let (province, p_path) = (&self.province.0, &self.province.1);
        let bureau = l.bureaus().get(province);
        if self.change == "set_consensus_params" {
            // About no bureau: the limits were checked when parsed.
        } else if self.change == "add_validator" {
            if province.len() != 6 || !province.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RecordError::new(p_path, format!("\"{province}\" is not a GB/T 2260 code of six digits (e.g. 370000)")));
            }
            match bureau {
                Some(b) if b.retired() => {
                    return Err(RecordError::new(
                        p_path,
                        format!(
                            "bureau {province} left the consortium at height {}; a province's bureau joins once",
                            b.retired_height.unwrap_or_default()
                        ),
                    ));
                }
                Some(_) => return Err(RecordError::new(p_path, format!("{province} is a bureau of this chain already"))),
                None => {}
            }
        } else {
            let Some(bureau) = bureau.filter(|b| !b.retired()) else {
                if let Some(height) = bureau.and_then(|b| b.retired_height) {
                    return Err(RecordError::new(
                        p_path,
                        format!("bureau {province} left the consortium at height {height}; it is no bureau of this chain any more"),
                    ));
                }
                let known: Vec<&str> = l.bureaus().values().filter(|b| !b.retired()).map(|b| b.province.as_str()).collect();
                return Err(RecordError::new(p_path, format!("{province} is not a bureau of this chain; one of {}", known.join(", "))));
            };
            if self.change == "remove_validator" && l.validators().len() <= 1 {
                return Err(RecordError::new(p_path, format!("bureau {province} is the last validator; a chain needs one")));
            }
            if let Some((key, path)) = &self.admin_key
                && bureau.admin_key.as_ref() == Some(key)
            {
                return Err(RecordError::new(path, format!("this is bureau {province}'s admin key already")));
            }
            if let Some((key, path)) = &self.validator_key
                && &bureau.validator_key == key
            {
                return Err(RecordError::new(path, format!("this is bureau {province}'s validator key already")));
            }
        }
        for (key, path) in self.validator_key.iter().chain(&self.admin_key) {
            never_used(l, key, path)?;
        }
        if let (Some((v, _)), Some((a, a_path))) = (&self.validator_key, &self.admin_key)
            && v == a
        {
            return Err(RecordError::new(a_path, "is the same key as validatorKey; a bureau's admin and validator keys differ"));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let signer = cx.province(l);
        let digest = self.digest();
        let quorum = l.quorum_of_bureaus();
        let mut change = l.governance(&digest).unwrap_or_else(|| GovernanceChange {
            change: self.change.clone(),
            province: self.province.0.clone(),
            admin_key: self.admin_key.as_ref().map(|k| k.0),
            quorum,
            approvals: Vec::new(),
            activated_height: None,
            previous_key: None,
            name: self.name.as_ref().map(|n| n.0.clone()),
            validator_key: self.validator_key.as_ref().map(|k| k.0),
            epoch: None,
            consensus: self.consensus.clone(),
        });
        change.approvals.push(GovernanceApproval { province: signer, tx: cx.tx, height: cx.block.height });
        // Approvals of bureaus that left since count no more.
        let approvals = change.approvals.iter().filter(|a| l.bureaus().get(&a.province).is_some_and(|b| !b.retired())).count();
        if approvals >= quorum {
            self.take_effect(l, cx, digest, &mut change);
        }
        l.put_governance(digest, &change);
    }

    fn take_effect(&self, l: &mut Ledger, cx: &Cx, digest: Hash, change: &mut GovernanceChange) {
        let height = cx.block.height;
        let epoch = l.epoch_number() + 1;
        change.activated_height = Some(height);
        let existing = l.bureaus().get(&change.province).cloned();
        match (self.change.as_str(), existing) {
            ("add_validator", None) => l.put_bureau(Bureau {
                name: change.name.clone().unwrap_or_default(),
                province: change.province.clone(),
                validator_key: change.validator_key.unwrap_or_default(),
                admin_key: change.admin_key,
                added_height: Some(height),
                retired_height: None,
            }),
            ("rotate_admin_key", Some(mut bureau)) => {
                change.previous_key = bureau.admin_key;
                if let Some(old) = bureau.admin_key {
                    l.put_former_admin_key(old, FormerAdminKey { province: bureau.province.clone(), until_height: height, change: digest });
                }
                bureau.admin_key = change.admin_key;
                l.put_bureau(bureau);
            }
            ("remove_validator", Some(mut bureau)) => {
                change.previous_key = bureau.admin_key;
                if let Some(old) = bureau.admin_key.take() {
                    l.put_former_admin_key(old, FormerAdminKey { province: bureau.province.clone(), until_height: height, change: digest });
                }
                let former = FormerValidatorKey { province: bureau.province.clone(), until_height: height, until_epoch: epoch, change: digest };
                l.put_former_validator_key(bureau.validator_key, former);
                bureau.retired_height = Some(height);
                l.put_bureau(bureau);
            }
            ("rotate_validator_key", Some(mut bureau)) => {
                change.previous_key = Some(bureau.validator_key);
                let former = FormerValidatorKey { province: bureau.province.clone(), until_height: height, until_epoch: epoch, change: digest };
                l.put_former_validator_key(bureau.validator_key, former);
                bureau.validator_key = change.validator_key.unwrap_or(bureau.validator_key);
                l.put_bureau(bureau);
            }
            ("set_consensus_params", _) => {}
            // `validate` proved the bureau exists (or, to add one, does not).
            _ => return,
        }
        if self.starts_epoch() {
            change.epoch = Some(epoch);
            let consensus = self.consensus.clone().or_else(|| l.consensus_limits());
            l.put_epoch(&Epoch { number: epoch, after_height: height, validators: l.validators(), change: digest, consensus });
        }
    }
}

/// `params` of `set_consensus_params`: all four limits, each within what a
/// node can carry out.
fn parse_limits(mut p: Fields) -> Result<ConsensusLimits> {
    let mut number = |name: &str, min: u64, max: u64, rule: &str| -> Result<u64> {
        let path = p.at(name);
        let (n, path) = p.opt_count(name, &[])?.ok_or_else(|| RecordError::new(&path, "is required"))?;
        if n < min || n > max {
            return Err(RecordError::new(path, format!("must be {min} to {max}: {rule}")));
        }
        Ok(n)
    };
    let max_tx_bytes = number("maxTxBytes", 1, crate::transaction::MAX_TX_BYTES as u64, "the largest transaction, in canonical bytes")?;
    let max_block_txs = number("maxBlockTxs", 1, u32::MAX as u64, "transactions in one block")? as u32;
    let max_block_bytes = number("maxBlockBytes", max_tx_bytes, u64::MAX >> 1, "canonical transaction bytes in one block, at least maxTxBytes")?;
    let max_clock_drift_ms = number("maxClockDriftMs", 1, MAX_CLOCK_DRIFT_MS, "how far ahead of a validator's clock a block's time may be")?;
    p.finish("maxTxBytes, maxBlockTxs, maxBlockBytes, maxClockDriftMs")?;
    Ok(ConsensusLimits { max_tx_bytes, max_block_txs, max_block_bytes, max_clock_drift_ms })
}

/// A key for a bureau must be no key in use or ever used: no bureau's admin
/// or validator key (one that left included), no retired key, no enterprise's.
fn never_used(l: &Ledger, key: &[u8; 32], path: &str) -> Result<()> {
    if l.bureau_of_admin(key).is_some() || l.bureaus().values().any(|b| &b.validator_key == key) {
        return Err(RecordError::new(path, "this key is another bureau's or a validator's key"));
    }
    if let Some(former) = l.former_admin_key(key) {
        return Err(RecordError::new(
            path,
            format!("this key was bureau {}'s admin key until height {}; a retired key is never used again", former.province, former.until_height),
        ));
    }
    if let Some(former) = l.former_validator_key(key) {
        return Err(RecordError::new(
            path,
            format!(
                "this key was bureau {}'s validator key until height {}; a retired key is never used again",
                former.province, former.until_height
            ),
        ));
    }
    if let Some(owner) = l.enterprise_of_key(key).map(|id| l.enterprise_at(id).uscc) {
        return Err(RecordError::new(path, format!("this key belongs to enterprise {owner}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Outcome;
    use crate::testkit::{Chain, admin_key, key, validator_key};
    use serde_json::json;

    fn rotate(province: &str, new_key: &ed25519_dalek::SigningKey) -> serde_json::Value {
        json!({"type": "governance", "change": "rotate_admin_key", "province": province, "adminKey": hex::encode(new_key.verifying_key().to_bytes())})
    }

    fn rejected(r: &crate::Receipt) -> (String, String) {
        match &r.outcome {
            Outcome::Rejected { field, rule } => (field.clone(), rule.clone()),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    /// Issue 19: a bureau's admin key is rotated by a quorum of bureaus
    /// (three of the four), not before; the old key signs nothing after,
    /// and what it signed before stays its bureau's.
    #[test]
    fn a_quorum_of_bureaus_rotates_an_admin_key_and_the_old_key_signs_nothing_after() {
        let mut chain = Chain::new();
        let new_key = key("beijing-admin-2027");
        let old = admin_key("beijing").verifying_key().to_bytes();
        let change = rotate("110000", &new_key);
        // Proposed by Hebei, approved by Tianjin: two of four, not yet.
        for bureau in ["hebei", "tianjin"] {
            assert_eq!(chain.submit(&admin_key(bureau), change.clone()).outcome, Outcome::Applied, "{bureau}");
        }
        assert_eq!(chain.state.ledger().bureaus()["110000"].admin_key, Some(old), "two approvals change nothing");
        let (field, rule) = rejected(&chain.submit(&admin_key("tianjin"), change.clone()));
        assert_eq!((field.as_str(), rule.as_str()), ("signer", "bureau 120000 already approved this change"));
        // The national platform's approval makes the quorum: in effect at once.
        let third = chain.submit(&admin_key("national"), change.clone());
        assert_eq!(third.outcome, Outcome::Applied);
        let l = chain.state.ledger();
        assert_eq!(l.bureaus()["110000"].admin_key, Some(new_key.verifying_key().to_bytes()));
        let former = l.former_admin_key(&old).expect("the old key is kept as Beijing's former key");
        assert_eq!((former.province.as_str(), former.until_height), ("110000", chain.ctx().height));
        assert_eq!(l.province_of_admin_key(&old).as_deref(), Some("110000"), "what the old key signed stays Beijing's");
        let decided = l.governance_changes();
        assert_eq!(decided.len(), 1);
        assert_eq!(decided[0].1.approvals.iter().map(|a| a.province.as_str()).collect::<Vec<_>>(), ["130000", "120000", "000000"]);
        assert_eq!(decided[0].1.activated_height, Some(chain.ctx().height));
        // The old key is no bureau's any more: a bureau's record is refused.
        let amendment = json!({"type": "dictionary_amendment", "dictionary": "entry_port", "add": {"9999": "测试口岸"}});
        let (field, rule) = rejected(&chain.submit(&admin_key("beijing"), amendment.clone()));
        assert_eq!(field, "signer.public_key");
        assert!(rule.starts_with("was bureau 110000's admin key until height"), "{rule}");
        let (field, _) = rejected(&chain.submit(&admin_key("beijing"), json!({"type": "notarise", "document": {"note": "after rotation"}})));
        assert_eq!(field, "signer.public_key", "not even what any key may sign");
        assert_eq!(chain.submit(&new_key, amendment).outcome, Outcome::Applied, "the new key signs as Beijing");
        // Decided: approving it again is refused; the retired key can never come back.
        let (field, rule) = rejected(&chain.submit(&admin_key("hebei"), change));
        assert_eq!(field, "record");
        assert!(rule.contains("took effect at height"), "{rule}");
        let back = json!({"type": "governance", "change": "rotate_admin_key", "province": "110000", "adminKey": hex::encode(old)});
        let (field, rule) = rejected(&chain.submit(&admin_key("hebei"), back));
        assert_eq!(field, "record.adminKey");
        assert!(rule.contains("retired key is never used again"), "{rule}");
    }

    #[test]
    fn a_change_names_its_broken_field_and_rule() {
        let mut chain = Chain::new();
        let cases = [
            (json!({"type": "governance", "change": "rename_bureau", "province": "370000", "adminKey": "00"}), "record.change", "not a change"),
            (rotate("370000", &key("shandong")), "record.province", "not a bureau of this chain"),
            (rotate("110000", &admin_key("beijing")), "record.adminKey", "admin key already"),
            (rotate("110000", &admin_key("tianjin")), "record.adminKey", "another bureau's"),
            (
                rotate("110000", &key("shandong")).as_object().unwrap().clone().into_iter().filter(|(k, _)| k != "adminKey").collect(),
                "record.adminKey",
                "is required",
            ),
        ];
        for (record, field, rule) in cases {
            let (f, r) = rejected(&chain.submit(&admin_key("hebei"), record.clone()));
            assert_eq!(f, field, "{record}");
            assert!(r.contains(rule), "{record}: {r}");
        }
        let (f, r) = rejected(&chain.submit(&key("anyone"), rotate("110000", &key("shandong"))));
        assert_eq!(f, "signer.public_key", "{r}");
        assert!(chain.state.ledger().governance_changes().is_empty(), "nothing of a refused change is stored");
    }

    fn hex_key(k: &ed25519_dalek::SigningKey) -> String {
        hex::encode(k.verifying_key().to_bytes())
    }

    fn add_shandong() -> serde_json::Value {
        json!({"type": "governance", "change": "add_validator", "province": "370000", "name": "shandong",
               "validatorKey": hex_key(&validator_key("shandong")), "adminKey": hex_key(&admin_key("shandong"))})
    }

    fn remove(province: &str) -> serde_json::Value {
        json!({"type": "governance", "change": "remove_validator", "province": province})
    }

    fn rotate_validator(province: &str, new_key: &ed25519_dalek::SigningKey) -> serde_json::Value {
        json!({"type": "governance", "change": "rotate_validator_key", "province": province, "validatorKey": hex_key(new_key)})
    }

    /// Each listed bureau signs `record` (the first proposes); all applied.
    fn approve(chain: &mut Chain, record: &serde_json::Value, bureaus: &[&str]) {
        for bureau in bureaus {
            assert_eq!(chain.submit(&admin_key(bureau), record.clone()).outcome, Outcome::Applied, "{bureau}: {record}");
        }
    }

    fn provinces(e: &crate::state::ledger::Epoch) -> Vec<&str> {
        e.validators.iter().map(|v| v.province.as_str()).collect()
    }

    /// Issue 19: Shandong joins by three of the four bureaus, which starts
    /// epoch 1 with five validators and a quorum of four; Hebei then leaves
    /// by four of the five (three do nothing), which starts epoch 2, and
    /// Hebei's admin key signs nothing after.
    #[test]
    fn a_bureau_joins_and_another_leaves_each_by_a_quorum_starting_an_epoch() {
        let mut chain = Chain::new();
        let add = add_shandong();
        approve(&mut chain, &add, &["beijing", "tianjin"]);
        assert!(!chain.state.ledger().bureaus().contains_key("370000"), "two approvals change nothing");
        assert_eq!(chain.state.ledger().epoch_number(), 0);
        approve(&mut chain, &add, &["national"]);
        let joined_at = chain.ctx().height;
        let l = chain.state.ledger();
        let epoch = l.current_epoch().expect("the third approval starts epoch 1");
        assert_eq!((epoch.number, epoch.after_height), (1, joined_at));
        assert_eq!(provinces(&epoch), ["000000", "110000", "120000", "130000", "370000"]);
        let shandong = &epoch.validators[4];
        assert_eq!((shandong.name.as_str(), shandong.public_key), ("shandong", validator_key("shandong").verifying_key().to_bytes()));
        assert_eq!(l.quorum_of_bureaus(), 4);
        assert_eq!(l.governance_changes()[0].1.epoch, Some(1));
        assert_eq!(l.bureau_of_validator(&validator_key("shandong").verifying_key().to_bytes()).map(|b| b.province.as_str()), Some("370000"));

        // Shandong's admin key signs as a bureau at once; Hebei's removal
        // needs four approvals now.
        let leave = remove("130000");
        approve(&mut chain, &leave, &["shandong", "beijing", "tianjin"]);
        let l = chain.state.ledger();
        assert!(!l.bureaus()["130000"].retired() && l.epoch_number() == 1, "three of five change nothing");
        approve(&mut chain, &leave, &["national"]);
        let left_at = chain.ctx().height;
        let l = chain.state.ledger();
        let epoch = l.current_epoch().expect("epoch 2");
        assert_eq!((epoch.number, epoch.after_height), (2, left_at));
        assert_eq!(provinces(&epoch), ["000000", "110000", "120000", "370000"]);
        assert_eq!(l.epochs().iter().map(|e| e.number).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(l.quorum_of_bureaus(), 3);
        let hebei = &l.bureaus()["130000"];
        assert_eq!((hebei.name.as_str(), hebei.retired_height), ("hebei", Some(left_at)), "Hebei's entry stays, retired");
        assert!(l.bureau_of_validator(&validator_key("hebei").verifying_key().to_bytes()).is_none());
        assert_eq!(l.province_of_admin_key(&admin_key("hebei").verifying_key().to_bytes()).as_deref(), Some("130000"));
        // Hebei's keys sign nothing after.
        let (field, rule) = rejected(&chain.submit(&admin_key("hebei"), rotate("110000", &key("beijing-2028"))));
        assert_eq!(field, "signer.public_key");
        assert!(rule.starts_with(&format!("was bureau 130000's admin key until height {left_at}")) && rule.contains("removed the bureau"), "{rule}");
        let (field, _) = rejected(&chain.submit(&validator_key("hebei"), json!({"type": "notarise", "document": {"note": "after leaving"}})));
        assert_eq!(field, "signer.public_key");
        // Leaving twice is refused; so is rotating a key of the bureau that left.
        let (field, rule) = rejected(&chain.submit(&admin_key("beijing"), remove("130000")));
        assert_eq!(field, "record");
        assert!(rule.contains("took effect"), "{rule}");
        let (field, rule) = rejected(&chain.submit(&admin_key("beijing"), rotate_validator("130000", &key("hebei-2"))));
        assert_eq!(field, "record.province");
        assert!(rule.contains("left the consortium at height"), "{rule}");
    }

    /// A bureau's validator key is rotated by a quorum: epoch 1 lists the
    /// new key, the old one is kept as retired and never used again.
    #[test]
    fn rotating_a_validator_key_starts_an_epoch_and_retires_the_old_key() {
        let mut chain = Chain::new();
        let old = validator_key("beijing").verifying_key().to_bytes();
        let new_key = key("beijing-validator-2027");
        approve(&mut chain, &rotate_validator("110000", &new_key), &["hebei", "tianjin", "national"]);
        let at = chain.ctx().height;
        let l = chain.state.ledger();
        let epoch = l.current_epoch().expect("epoch 1");
        assert_eq!((epoch.number, epoch.after_height), (1, at));
        assert_eq!(epoch.validators[1].public_key, new_key.verifying_key().to_bytes());
        assert_eq!(l.quorum_of_bureaus(), 3, "the bureaus are the same");
        let former = l.former_validator_key(&old).expect("the old key is kept");
        assert_eq!((former.province.as_str(), former.until_height, former.until_epoch), ("110000", at, 1));
        assert!(l.bureau_of_validator(&old).is_none());
        assert_eq!(l.bureau_of_validator(&new_key.verifying_key().to_bytes()).map(|b| b.province.as_str()), Some("110000"));
        assert_eq!(l.governance_changes()[0].1.previous_key, Some(old));
        // The old key can come back neither as a validator nor as an admin key.
        let (field, rule) = rejected(&chain.submit(&admin_key("hebei"), rotate_validator("110000", &validator_key("beijing"))));
        assert_eq!(field, "record.validatorKey");
        assert_eq!(rule, format!("this key was bureau 110000's validator key until height {at}; a retired key is never used again"));
        let (field, rule) = rejected(&chain.submit(&admin_key("hebei"), rotate("120000", &validator_key("beijing"))));
        assert_eq!(field, "record.adminKey");
        assert!(rule.contains("retired key is never used again"), "{rule}");
        let (field, _) = rejected(&chain.submit(&validator_key("beijing"), json!({"type": "notarise", "document": {"note": "old key"}})));
        assert_eq!(field, "signer.public_key", "the old validator key signs nothing");
    }

    #[test]
    fn each_validator_change_names_its_broken_field_and_rule() {
        let mut chain = Chain::new();
        let without = |r: serde_json::Value, field: &str| -> serde_json::Value {
            r.as_object().unwrap().clone().into_iter().filter(|(k, _)| k != field).collect()
        };
        let with = |mut r: serde_json::Value, field: &str, v: serde_json::Value| {
            r[field] = v;
            r
        };
        let cases = [
            (without(add_shandong(), "validatorKey"), "record.validatorKey", "is required"),
            (with(add_shandong(), "validatorKey", json!("zz")), "record.validatorKey", "64 hexadecimal"),
            (without(add_shandong(), "name"), "record.name", "is required"),
            (with(add_shandong(), "name", json!("Shan Dong")), "record.name", "a-z, 0-9 and -"),
            (with(add_shandong(), "province", json!("37000")), "record.province", "six digits"),
            (with(add_shandong(), "province", json!("130000")), "record.province", "a bureau of this chain already"),
            (with(add_shandong(), "validatorKey", json!(hex_key(&validator_key("hebei")))), "record.validatorKey", "another bureau's"),
            (with(add_shandong(), "adminKey", json!(hex_key(&validator_key("shandong")))), "record.adminKey", "same key as validatorKey"),
            (with(add_shandong(), "extra", json!(1)), "record.extra", "unknown field"),
            (remove("370000"), "record.province", "not a bureau of this chain"),
            (with(remove("130000"), "validatorKey", json!(hex_key(&key("x")))), "record.validatorKey", "unknown field"),
            (rotate_validator("370000", &key("x")), "record.province", "not a bureau of this chain"),
            (rotate_validator("110000", &validator_key("beijing")), "record.validatorKey", "validator key already"),
            (rotate_validator("110000", &admin_key("hebei")), "record.validatorKey", "another bureau's"),
            (without(rotate_validator("110000", &key("x")), "validatorKey"), "record.validatorKey", "is required"),
        ];
        for (record, field, rule) in cases {
            let (f, r) = rejected(&chain.submit(&admin_key("hebei"), record.clone()));
            assert_eq!(f, field, "{record}: {r}");
            assert!(r.contains(rule), "{record}: {r}");
        }
        assert!(chain.state.ledger().governance_changes().is_empty(), "nothing of a refused change is stored");
        // A bureau that left cannot be removed again; the last validator cannot leave.
        approve(&mut chain, &remove("130000"), &["beijing", "tianjin", "national"]);
        approve(&mut chain, &remove("120000"), &["beijing", "tianjin", "national"]);
        assert_eq!(chain.state.ledger().quorum_of_bureaus(), 2);
        approve(&mut chain, &remove("000000"), &["beijing", "national"]);
        assert_eq!((chain.state.ledger().epoch_number(), chain.state.ledger().quorum_of_bureaus()), (3, 1));
        let (f, r) = rejected(&chain.submit(&admin_key("beijing"), remove("110000")));
        assert_eq!((f.as_str(), r.as_str()), ("record.province", "bureau 110000 is the last validator; a chain needs one"));
        // Removing a bureau that left is the change decided already; any
        // other change about it names the province.
        let (f, r) = rejected(&chain.submit(&admin_key("beijing"), remove("120000")));
        assert_eq!(f, "record");
        assert!(r.contains("took effect at height"), "{r}");
        let (f, r) = rejected(&chain.submit(&admin_key("beijing"), rotate("120000", &key("tianjin-admin-2"))));
        assert_eq!(f, "record.province");
        assert!(r.starts_with("bureau 120000 left the consortium at height"), "{r}");
        assert_eq!(chain.state.ledger().epochs().len(), 3, "nothing of a refused change is stored");
    }

    /// Issue 19: votes are checked under their epoch's namespace against
    /// the offender's key of that epoch, before and after a rotation.
    #[test]
    fn evidence_is_checked_against_the_offenders_key_in_its_epoch() {
        use crate::vote::{VoteKind, namespace, vote_message};
        use ed25519_dalek::Signer;
        let mut chain = Chain::new();
        let tianjin_2 = key("tianjin-validator-2");
        approve(&mut chain, &rotate_validator("120000", &tianjin_2), &["beijing", "hebei", "national"]);
        let vote = |signer: &ed25519_dalek::SigningKey, epoch: u64, view: u64, block: &[u8]| {
            let hash = crate::Hash::digest(block);
            let signature = signer.sign(&vote_message(VoteKind::Notarize, &namespace(crate::testkit::CHAIN_ID, epoch), view, &hash));
            json!({"kind": "notarize", "hash": hash.to_string(), "signature": hex::encode(signature.to_bytes())})
        };
        let evidence = |epoch: Option<u64>, votes: [serde_json::Value; 2]| {
            let mut r = json!({"type": "evidence", "offender": "120000", "view": 3, "votes": votes});
            if let Some(e) = epoch {
                r["epoch"] = e.into();
            }
            r
        };
        let in_epoch_1 = [vote(&tianjin_2, 1, 3, b"a"), vote(&tianjin_2, 1, 3, b"b")];
        // Claimed as epoch 0: not the genesis key, not epoch 0's namespace.
        let (f, r) = rejected(&chain.submit(&validator_key("hebei"), evidence(None, in_epoch_1.clone())));
        assert_eq!(f, "record.votes[0].signature", "{r}");
        let (f, r) = rejected(&chain.submit(&validator_key("hebei"), evidence(Some(2), in_epoch_1.clone())));
        assert_eq!((f.as_str(), r.as_str()), ("record.epoch", "epoch 2 has not begun; the chain is in epoch 1"));
        assert_eq!(chain.submit(&validator_key("hebei"), evidence(Some(1), in_epoch_1)).outcome, Outcome::Applied);
        // Epoch 0's votes, by the key retired since, are still an offence of epoch 0.
        let in_epoch_0 = [vote(&validator_key("tianjin"), 0, 3, b"a"), vote(&validator_key("tianjin"), 0, 3, b"b")];
        let (f, _) = rejected(&chain.submit(&validator_key("hebei"), evidence(Some(1), in_epoch_0.clone())));
        assert_eq!(f, "record.votes[0].signature", "epoch 0's votes are no votes of epoch 1");
        assert_eq!(chain.submit(&validator_key("hebei"), evidence(Some(0), in_epoch_0)).outcome, Outcome::Applied);
        let on_chain = chain.state.evidence();
        assert_eq!(on_chain.iter().map(|e| (e.view, e.epoch)).collect::<Vec<_>>(), [(3, None), (3, Some(1))]);
        // The same offence of epoch 1 again: already on chain.
        let again = [vote(&tianjin_2, 1, 3, b"b"), vote(&tianjin_2, 1, 3, b"c")];
        let (f, r) = rejected(&chain.submit(&validator_key("beijing"), evidence(Some(1), again)));
        assert_eq!(f, "record");
        assert!(r.contains("of epoch 1) is already on chain"), "{r}");
    }

    /// Issue 19: the consensus limits change by a quorum of bureaus and start
    /// an epoch with the same validators; later epochs keep them; a limit a
    /// node cannot carry out is refused by its field.
    #[test]
    fn consensus_limits_change_by_quorum_and_start_an_epoch() {
        let mut chain = Chain::new();
        let params = |tx: u64, block_bytes: u64| {
            json!({"type": "governance", "change": "set_consensus_params",
                   "params": {"maxTxBytes": tx, "maxBlockTxs": 500, "maxBlockBytes": block_bytes, "maxClockDriftMs": 2000}})
        };
        for (record, field, rule) in [
            (params(0, 1_000), "record.params.maxTxBytes", "must be 1 to "),
            (params(2_000, 1_000), "record.params.maxBlockBytes", "must be 2000 to "),
            (
                json!({"type": "governance", "change": "set_consensus_params", "params": {"maxTxBytes": 10}}),
                "record.params.maxBlockTxs",
                "is required",
            ),
            (
                json!({"type": "governance", "change": "set_consensus_params", "province": "110000", "params": {}}),
                "record.params.maxTxBytes",
                "is required",
            ),
        ] {
            let (f, r) = rejected(&chain.submit(&admin_key("beijing"), record));
            assert_eq!(f, field, "{r}");
            assert!(r.starts_with(rule), "{f}: {r}");
        }
        let change = params(4_096, 1 << 20);
        approve(&mut chain, &change, &["beijing", "tianjin"]);
        assert_eq!(chain.state.ledger().consensus_limits(), None, "two of four change nothing");
        approve(&mut chain, &change, &["hebei"]);
        let l = chain.state.ledger();
        let epoch = l.current_epoch().expect("the change started epoch 1");
        assert_eq!((epoch.number, epoch.after_height, provinces(&epoch).len()), (1, chain.ctx().height, 4), "same four validators");
        let limits = l.consensus_limits().expect("in force");
        assert_eq!((limits.max_tx_bytes, limits.max_block_txs, limits.max_block_bytes, limits.max_clock_drift_ms), (4_096, 500, 1 << 20, 2_000));
        assert_eq!(l.governance_changes()[0].1.epoch, Some(1));
        // A validator change later keeps the limits.
        approve(&mut chain, &rotate_validator("120000", &key("tianjin-validator-2")), &["beijing", "hebei", "national"]);
        let l = chain.state.ledger();
        assert_eq!(l.epoch_number(), 2);
        assert_eq!(l.consensus_limits(), Some(limits));
    }

    /// Existing chains keep their state: a `rotate_admin_key` change and a
    /// genesis bureau are stored in the very bytes they were before epochs.
    #[test]
    fn an_admin_key_rotation_and_a_bureau_keep_their_stored_bytes() {
        use crate::state::ledger::{Bureau, GovernanceApproval, GovernanceChange};
        #[derive(serde::Serialize)]
        struct Before {
            change: String,
            province: String,
            admin_key: [u8; 32],
            quorum: usize,
            approvals: Vec<GovernanceApproval>,
            activated_height: Option<u64>,
            previous_key: Option<[u8; 32]>,
        }
        #[derive(serde::Serialize)]
        struct BureauBefore {
            name: String,
            province: String,
            validator_key: [u8; 32],
            admin_key: Option<[u8; 32]>,
        }
        let approvals = vec![GovernanceApproval { province: "130000".into(), tx: crate::Hash::digest(b"tx"), height: 4 }];
        let now = GovernanceChange {
            change: "rotate_admin_key".into(),
            province: "110000".into(),
            admin_key: Some([7; 32]),
            quorum: 3,
            approvals: approvals.clone(),
            activated_height: Some(5),
            previous_key: Some([9; 32]),
            name: None,
            validator_key: None,
            epoch: None,
            consensus: None,
        };
        let before = Before {
            change: "rotate_admin_key".into(),
            province: "110000".into(),
            admin_key: [7; 32],
            quorum: 3,
            approvals,
            activated_height: Some(5),
            previous_key: Some([9; 32]),
        };
        let cbor = |v: &dyn erased::Cbor| v.bytes();
        assert_eq!(cbor(&now), cbor(&before));
        let bureau = Bureau {
            name: "beijing".into(),
            province: "110000".into(),
            validator_key: [1; 32],
            admin_key: None,
            added_height: None,
            retired_height: None,
        };
        let bureau_before = BureauBefore { name: "beijing".into(), province: "110000".into(), validator_key: [1; 32], admin_key: None };
        assert_eq!(cbor(&bureau), cbor(&bureau_before));
    }

    mod erased {
        pub trait Cbor {
            fn bytes(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Cbor for T {
            fn bytes(&self) -> Vec<u8> {
                cbor4ii::serde::to_vec(Vec::new(), self).unwrap()
            }
        }
    }
}
