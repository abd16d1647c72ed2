//! `alert` (seed 000 §二.8): a bureau reports that goods named by a code
//! tested positive. The alert is the start of a trace: its affected set is
//! every holder of the lot, in every province (see `state::trace`).
//! `alert_disposal` moves it through sealed → recalled → destroyed → closed,
//! never backwards; each bureau records its own province's disposal, and
//! only the raising bureau closes the alert.

use super::product_batch::known_code;
use super::{Cx, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{ALERTS, Alert, AlertState, Counter, Disposal, EntId, Ledger, LotId};
use crate::transaction::TxId;
use chrono::NaiveDate;

/// What an alert's validation found: the raising bureau and what the code names.
#[derive(Clone, Debug)]
pub struct Found {
    /// The raising bureau's province.
    pub province: String,
    pub scheme: String,
    pub lot: LotId,
    /// The code's issuer.
    pub holder: Option<EntId>,
}

#[derive(Clone, Debug)]
pub struct AlertRecord {
    pub scheme: Option<(String, String)>,
    pub code: (String, String),
    pub reason: String,
    pub tested_at: (NaiveDate, String),
    pub lab: String,
}

impl AlertRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let r = AlertRecord {
            scheme: f.opt_str_at("scheme", &["traceCodeScheme"], 32)?,
            code: f.req_str_at("code", &["traceCode"], 128)?,
            reason: f.req_str("reason", 500)?,
            tested_at: f.req_date("testedAt", &[])?,
            lab: f.req_str("lab", 200)?,
        };
        f.finish("scheme, code, reason, testedAt, lab")?;
        Ok(r)
    }

    /// The raising bureau's province; the scheme, lot and holder the code names.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<Found> {
        let province = cx.require_bureau("alert")?;
        not_future(self.tested_at.0, &self.tested_at.1, cx)?;
        let found = match &self.scheme {
            Some((s, path)) => {
                if !l.schemes().contains_key(s) {
                    return Err(RecordError::new(path, format!("no code scheme \"{s}\" is registered")));
                }
                l.code(s, &self.code.0).map(|e| (s.clone(), e.lot, e.issuer))
            }
            None => known_code(l, &self.code.0).map(|(s, e)| (s.to_string(), e.lot, e.issuer)),
        };
        let (scheme, lot, holder) = found.ok_or_else(|| {
            RecordError::new(&self.code.1, format!("code {} is not known on chain; an alert starts from a registered code", self.code.0))
        })?;
        Ok(Found { province: province.to_string(), scheme, lot, holder })
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: Found, l: &mut Ledger, cx: &Cx) {
        let Found { province, scheme, lot, holder } = plan;
        l.next_id(Counter::Alerts);
        l.put(
            &ALERTS,
            &cx.tx,
            &Alert {
                id: cx.tx,
                province,
                scheme,
                code: self.code.0,
                lot,
                holder,
                reason: self.reason,
                tested_at: self.tested_at.0,
                lab: self.lab,
                height: cx.block.height,
                time_ms: cx.block.time_ms,
                state: AlertState::Open,
                disposals: Vec::new(),
            },
        );
    }
}

#[derive(Clone, Debug)]
pub struct AlertDisposal {
    pub alert: (TxId, String),
    pub state: (AlertState, String),
    pub note: Option<String>,
}

impl AlertDisposal {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (id, id_path) = f.req_str_at("alertId", &[], 64)?;
        let alert = id.parse().map_err(|_| RecordError::new(&id_path, "is the alert's transaction id, 64 hexadecimal characters"))?;
        let (s, s_path) = f.req_str_at("state", &[], 12)?;
        let state = AlertState::parse(&s)
            .ok_or_else(|| RecordError::new(&s_path, format!("\"{s}\" is not a disposal state: sealed, recalled, destroyed or closed")))?;
        let note = f.opt_str("note", 1000)?;
        f.finish("alertId, state, note")?;
        Ok(AlertDisposal { alert: (alert, id_path), state: (state, s_path), note })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("alert_disposal")?;
        let alert = l.get(&ALERTS, &self.alert.0).ok_or_else(|| RecordError::new(&self.alert.1, format!("no alert {} is on chain", self.alert.0)))?;
        if alert.state == AlertState::Closed {
            return Err(RecordError::new(&self.state.1, "the alert is closed"));
        }
        let mine = alert.disposals.iter().filter(|d| d.province == province).map(|d| d.state).max().unwrap_or(AlertState::Open);
        if self.state.0 <= mine {
            return Err(RecordError::new(
                &self.state.1,
                format!(
                    "province {province} has already reached \"{}\"; states only move forward: sealed, recalled, destroyed, closed",
                    mine.as_str()
                ),
            ));
        }
        if self.state.0 == AlertState::Closed && alert.province != province {
            return Err(RecordError::new(&self.state.1, format!("only the raising bureau ({}) closes the alert", alert.province)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let Some(mut alert) = l.get(&ALERTS, &self.alert.0) else { return };
        alert.disposals.push(Disposal { province, state: self.state.0, note: self.note, height: cx.block.height, tx: cx.tx });
        alert.state = alert.state.max(self.state.0);
        l.put(&ALERTS, &self.alert.0, &alert);
    }
}
