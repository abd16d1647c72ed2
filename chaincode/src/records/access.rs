//! Who may read what (seed 000 §三.(三): necessity, need-time, minimum):
//! - `auditor`: a bureau registers (or revokes) an auditor's key; auditors
//!   read proofs and hashes;
//! - `access_log`: a validator's node records that a bureau read another
//!   province's unmasked data inside an open alert's trace, so the owning
//!   province can audit it (`GET /v1/access-log`).

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{ACCESS_LOGS, ALERTS, AUDITORS, AccessLog, Auditor, Counter, ENTERPRISE_KEYS, Ledger};
use crate::transaction::TxId;

#[derive(Clone, Debug)]
pub struct AuditorRecord {
    pub name: String,
    pub key: ([u8; 32], String),
    pub revoked: bool,
}

impl AuditorRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let name = f.req_str("name", 200)?;
        if name.is_empty() {
            return Err(RecordError::new(f.at("name"), "must not be empty"));
        }
        let key = super::public_key(f, "publicKey")?;
        let revoked = f.opt_bool("revoked")?.unwrap_or(false);
        f.finish("name, publicKey, revoked")?;
        Ok(AuditorRecord { name, key, revoked })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("auditor")?;
        if l.province_of_admin_key(&self.key.0).is_some()
            || l.province_of_validator_key(&self.key.0).is_some()
            || l.contains(&ENTERPRISE_KEYS, &self.key.0)
        {
            return Err(RecordError::new(&self.key.1, "is already a bureau's, a validator's or an enterprise's key; an auditor has its own"));
        }
        match l.get(&AUDITORS, &self.key.0) {
            Some(a) if a.province != province => Err(RecordError::new(&self.key.1, format!("this auditor is registered by province {}", a.province))),
            None if self.revoked => Err(RecordError::new(&self.key.1, "no auditor has this key")),
            _ => Ok(()),
        }
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        l.put(&AUDITORS, &self.key.0, &Auditor { name: self.name, province, revoked: self.revoked, tx: cx.tx });
    }
}

#[derive(Clone, Debug)]
pub struct AccessLogRecord {
    /// The province of the bureau that read.
    pub reader: (String, String),
    /// The alert whose trace the read was in.
    pub alert: (TxId, String),
    /// The provinces whose data was read unmasked.
    pub provinces: Vec<String>,
    /// What was read: a route and its subject, e.g. `trace BJ-ZS BJ1101…`.
    pub what: String,
}

impl AccessLogRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let reader = f.req_str_at("readerProvince", &[], 6)?;
        let (alert, path) = f.req_str_at("alertId", &[], 64)?;
        let alert = (alert.parse().map_err(|_| RecordError::new(&path, "is an alert's transaction id, 64 hexadecimal characters"))?, path);
        let provinces = f.req_str("provinces", 200)?.split(',').map(str::to_string).collect();
        let what = f.req_str("what", 500)?;
        f.finish("readerProvince, alertId, provinces, what")?;
        Ok(AccessLogRecord { reader, alert, provinces, what })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        if !matches!(cx.actor, super::Actor::Node { .. }) {
            return Err(RecordError::new("signer", "an access_log is signed by the validator whose gateway served the read"));
        }
        if !l.bureaus().values().any(|b| b.province == self.reader.0) {
            return Err(RecordError::new(&self.reader.1, "is not the province of a bureau of the consortium"));
        }
        if !l.contains(&ALERTS, &self.alert.0) {
            return Err(RecordError::new(&self.alert.1, format!("no alert {} is on chain", self.alert.0)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let reader = self.reader.0;
        let served_by = cx.province(l);
        let log = AccessLog {
            tx: cx.tx,
            reader,
            alert: self.alert.0,
            provinces: self.provinces,
            what: self.what,
            served_by,
            height: cx.block.height,
            time_ms: cx.block.time_ms,
        };
        let i = l.next_id(Counter::AccessLogs);
        l.put(&ACCESS_LOGS, &i, &log);
    }
}
