//! `governance` (issue 19): a change to the consortium itself, decided by a
//! quorum of the bureaus (q = n − ⌊(n−1)/3⌋ of the bureaus with admin keys),
//! as a `dictionary_amendment` is. The first bureau to sign a change
//! proposes it; each other bureau that signs the same change approves it;
//! the change takes effect with the approval that makes the quorum, for
//! every transaction after that one. Every change, its approvals (by
//! transaction and height) and its activation stay on chain
//! (`GET /v1/governance`).
//!
//! The change this chaincode carries out itself: `rotate_admin_key`, a
//! bureau's admin key replaced (staff change, a lost or compromised key:
//! the other bureaus can rotate a bureau's key without it). The old key
//! signs nothing afterwards, and what it signed before stays attributed to
//! its bureau (`Ledger::province_of_admin_key`). Changes of the validator
//! set need consensus epochs and are not accepted yet.

use super::Cx;
use crate::canonical;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{FormerAdminKey, GovernanceApproval, GovernanceChange, Ledger};

/// The changes a `governance` record may carry.
pub const CHANGES: &[&str] = &["rotate_admin_key"];

#[derive(Clone, Debug)]
pub struct GovernanceRecord {
    pub change: String,
    /// The bureau the change is about.
    pub province: (String, String),
    /// Its new admin key.
    pub admin_key: ([u8; 32], String),
}

impl GovernanceRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (change, c_path) = f.req_str_at("change", &[], 40)?;
        if !CHANGES.contains(&change.as_str()) {
            return Err(RecordError::new(
                c_path,
                format!(
                    "\"{change}\" is not a change this chain carries out; one of {} (validator changes need consensus epochs, not yet supported)",
                    CHANGES.join(", ")
                ),
            ));
        }
        let province = f.req_str_at("province", &[], 6)?;
        let admin_key = super::public_key(f, "adminKey")?;
        f.finish("change, province, adminKey")?;
        Ok(GovernanceRecord { change, province, admin_key })
    }

    /// The change's identity: SHA-256 of its canonical content. Every
    /// bureau signs the same content; each signature is an approval.
    pub fn digest(&self) -> Hash {
        let v = serde_json::json!({"change": self.change, "province": self.province.0, "adminKey": hex::encode(self.admin_key.0)});
        Hash::digest(&canonical::to_bytes(&v).unwrap_or_default())
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
        let Some(bureau) = l.bureaus().get(province) else {
            let known: Vec<&str> = l.bureaus().keys().map(String::as_str).collect();
            return Err(RecordError::new(p_path, format!("{province} is not a bureau of this chain; one of {}", known.join(", "))));
        };
        let key = &self.admin_key.0;
        if bureau.admin_key.as_ref() == Some(key) {
            return Err(RecordError::new(&self.admin_key.1, format!("this is bureau {province}'s admin key already")));
        }
        if l.bureau_of_admin(key).is_some() || l.bureau_of_validator(key).is_some() {
            return Err(RecordError::new(&self.admin_key.1, "this key is another bureau's or a validator's key"));
        }
        if let Some(former) = l.former_admin_key(key) {
            return Err(RecordError::new(
                &self.admin_key.1,
                format!(
                    "this key was bureau {}'s admin key until height {}; a retired key is never used again",
                    former.province, former.until_height
                ),
            ));
        }
        if let Some(owner) = l.enterprise_of_key(key).map(|id| l.enterprise_at(id).uscc) {
            return Err(RecordError::new(&self.admin_key.1, format!("this key belongs to enterprise {owner}")));
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
            admin_key: self.admin_key.0,
            quorum,
            approvals: Vec::new(),
            activated_height: None,
            previous_key: None,
        });
        change.approvals.push(GovernanceApproval { province: signer, tx: cx.tx, height: cx.block.height });
        if change.approvals.len() >= quorum
            && let Some(mut bureau) = l.bureaus().get(&change.province).cloned()
        {
            change.previous_key = bureau.admin_key;
            change.activated_height = Some(cx.block.height);
            if let Some(old) = bureau.admin_key {
                l.put_former_admin_key(old, FormerAdminKey { province: bureau.province.clone(), until_height: cx.block.height, change: digest });
            }
            bureau.admin_key = Some(change.admin_key);
            l.put_bureau(bureau);
        }
        l.put_governance(digest, &change);
    }
}

#[cfg(test)]
mod tests {
    use crate::Outcome;
    use crate::testkit::{Chain, admin_key, key};
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
            (json!({"type": "governance", "change": "add_validator", "province": "370000", "adminKey": "00"}), "record.change", "not a change"),
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
}
