//! `app_credential` (seed 004 §8.1, table 1): a bureau issues (or revokes)
//! an app id for an enterprise of its province, so that the enterprise's
//! system can submit records with the `appid`, `timestamp`, `nonce` and
//! `signature` headers instead of an ed25519 key.
//!
//! The app id is served by the issuing bureau's own validator: its node
//! derives the app secret from its key and the issuing transaction (the
//! secret is never on chain or on disk), checks each request's HMAC, and
//! submits the record signed by its validator key with
//! `"via": {"path": "appid", "appid": …}`. The chaincode then takes the
//! record as the enterprise's ([`crate::state::State::check`]), as long as
//! the app id is issued by that validator's bureau and not revoked.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{APP_CREDENTIALS, AppCredential, Ledger};

#[derive(Clone, Debug)]
pub struct AppCredentialRecord {
    pub appid: (String, String),
    pub uscc: (String, String),
    pub revoked: bool,
}

/// The characters of an app id: letters, digits, `-` and `_`, 6 to 64.
pub fn appid_problem(appid: &str) -> Option<&'static str> {
    let ok = (6..=64).contains(&appid.len()) && appid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then_some("an app id is 6–64 letters, digits, '-' or '_'")
}

impl AppCredentialRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let appid = f.req_str_at("appid", &["appId"], 64)?;
        if let Some(rule) = appid_problem(&appid.0) {
            return Err(RecordError::new(&appid.1, rule));
        }
        let uscc = f.req_str_at("unifSociCredCode", &["uscc"], 18)?;
        if let Some(rule) = crate::identifiers::uscc_problem(&uscc.0) {
            return Err(RecordError::new(&uscc.1, rule));
        }
        let revoked = f.opt_bool("revoked")?.unwrap_or(false);
        f.finish("appid, unifSociCredCode, revoked")?;
        Ok(AppCredentialRecord { appid, uscc, revoked })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("app_credential")?;
        let (_, enterprise) =
            l.enterprise(&self.uscc.0).ok_or_else(|| RecordError::new(&self.uscc.1, format!("no enrolled enterprise has USCC {}", self.uscc.0)))?;
        if enterprise.province != province {
            return Err(RecordError::new(
                &self.uscc.1,
                format!("enterprise {} is enrolled in province {}; its own bureau issues its app ids", self.uscc.0, enterprise.province),
            ));
        }
        match l.get(&APP_CREDENTIALS, &self.appid.0) {
            Some(c) if c.uscc != self.uscc.0 => {
                Err(RecordError::new(&self.appid.1, format!("app id {} belongs to enterprise {}", self.appid.0, c.uscc)))
            }
            Some(c) if !c.revoked && !self.revoked => {
                Err(RecordError::new(&self.appid.1, format!("app id {} is already issued; revoke it before issuing it again", self.appid.0)))
            }
            Some(c) if c.revoked && self.revoked => Err(RecordError::new("revoked", format!("app id {} is already revoked", self.appid.0))),
            None if self.revoked => Err(RecordError::new(&self.appid.1, format!("app id {} was never issued", self.appid.0))),
            _ => Ok(()),
        }
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let validator_key = l.bureaus().values().find(|b| b.province == province).map(|b| b.validator_key).unwrap_or_default();
        let c = AppCredential { appid: self.appid.0, uscc: self.uscc.0, province, validator_key, revoked: self.revoked, tx: cx.tx };
        l.put(&APP_CREDENTIALS, &c.appid, &c);
    }
}
