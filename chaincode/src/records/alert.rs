//! `alert` (seed 000 §二.8): a bureau reports that goods named by a code
//! tested positive. The alert is the start of a trace: its affected set is
//! every holder of the lot, in every province (see `state::trace`).
//! An alert stops its lot (no movement of it is recorded again, as for a
//! positive result in a record: `clearance`) and warns the bureaus holding
//! associated lots (`state::warning`).
//!
//! `alert_disposal` moves a province through sealed → recalled → destroyed
//! → closed, never backwards, each step with the weight it dealt with; each
//! bureau records its own province's disposal. Only the raising bureau
//! closes the alert, and only once every province the goods reached has
//! recorded a disposal, or with an `override` that says why
//! (`state::disposal`, the closed loop).

use super::product_batch::known_code;
use super::{Cx, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::disposal::without_disposal;
use crate::state::ledger::{ALERTS, Alert, AlertState, Counter, Disposal, EntId, LOT_IDS, Ledger, LotId, STOPS, Stop};
use crate::state::warning;
use crate::transaction::TxId;
use chrono::NaiveDate;

/// What an alert's validation found: the raising bureau and what the code names.
#[derive(Clone, Debug)]
pub struct Found {
    /// The raising bureau's province.
    pub province: String,
    pub scheme: String,
    /// The code the alert names: the one given, or the lot's first.
    pub code: String,
    pub lot: LotId,
    /// The code's issuer.
    pub holder: Option<EntId>,
}

#[derive(Clone, Debug)]
pub struct AlertRecord {
    pub scheme: Option<(String, String)>,
    /// The code named, or else the lot's certificate number and batch
    /// (what a positive-test notice names).
    pub code: Option<(String, String)>,
    pub certificate: Option<((String, String), (String, String))>,
    pub reason: String,
    pub tested_at: (NaiveDate, String),
    pub lab: String,
}

impl AlertRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let scheme = f.opt_str_at("scheme", &["traceCodeScheme"], 32)?;
        let code = f.opt_str_at("code", &["traceCode"], 128)?;
        let number = f.opt_str_at("quarantineNumber", &[], 21)?;
        let batch = f.opt_str_at("batch", &["productionBatch"], 64)?;
        let certificate = match (number, batch, &code) {
            (Some(n), Some(b), None) => Some((n, b)),
            (None, None, Some(_)) => None,
            (Some(_), Some(_), Some((_, path))) => {
                return Err(RecordError::new(path, "name the goods by code, or by quarantineNumber and batch, not both"));
            }
            (Some(_), None, _) => {
                return Err(RecordError::new(f.at("batch"), "is required with quarantineNumber: the certificate's production batch"));
            }
            (None, Some(_), _) => return Err(RecordError::new(f.at("quarantineNumber"), "is required with batch")),
            (None, None, None) => {
                return Err(RecordError::new(f.at("code"), "is required: the goods' trace code, or else quarantineNumber and batch"));
            }
        };
        let r = AlertRecord {
            scheme,
            code,
            certificate,
            reason: f.req_str("reason", 500)?,
            tested_at: f.req_date("testedAt", &[])?,
            lab: f.req_str("lab", 200)?,
        };
        f.finish("scheme, code, quarantineNumber, batch, reason, testedAt, lab")?;
        Ok(r)
    }

    /// The raising bureau's province; the scheme, lot and holder the code names.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<Found> {
        let province = cx.require_bureau("alert")?;
        not_future(self.tested_at.0, &self.tested_at.1, cx)?;
        if let Some(((number, number_path), (batch, _))) = &self.certificate {
            let lot = l.get(&LOT_IDS, &(number.clone(), batch.clone())).ok_or_else(|| {
                RecordError::new(
                    number_path,
                    format!("certificate {number} batch {batch} is not on chain; GET /v1/search?certificate={number} lists its batches"),
                )
            })?;
            let (scheme, code) = l.lot_codes_iter(lot).next().unwrap_or_default();
            let holder = l.code(&scheme, &code).and_then(|e| e.issuer);
            return Ok(Found { province: province.to_string(), scheme, code, lot, holder });
        }
        let Some((code, code_path)) = &self.code else {
            return Err(RecordError::new("record.code", "is required: the goods' trace code, or else quarantineNumber and batch"));
        };
        let found = match &self.scheme {
            Some((s, path)) => {
                if !l.schemes().contains_key(s) {
                    return Err(RecordError::new(path, format!("no code scheme \"{s}\" is registered")));
                }
                l.code(s, code).map(|e| (s.clone(), e.lot, e.issuer))
            }
            None => known_code(l, code).map(|(s, e)| (s.to_string(), e.lot, e.issuer)),
        };
        let (scheme, lot, holder) = found.ok_or_else(|| {
            RecordError::new(
                code_path,
                format!("code {code} is not known on chain; an alert starts from a registered code, or from quarantineNumber and batch"),
            )
        })?;
        Ok(Found { province: province.to_string(), scheme, code: code.clone(), lot, holder })
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: Found, l: &mut Ledger, cx: &Cx) {
        let Found { province, scheme, code, lot, holder } = plan;
        l.next_id(Counter::Alerts);
        let lot_ref = l.lot_at(lot);
        let key = (lot_ref.quarantine_number, lot_ref.certificate_batch);
        if !l.contains(&STOPS, &key) {
            let stop = Stop { result: self.reason.clone(), record: "alert".into(), province: province.clone(), tx: cx.tx, height: cx.block.height };
            l.put(&STOPS, &key, &stop);
        }
        let alert =
            Alert::open(province, (scheme, code), lot, holder, self.reason, self.tested_at.0, self.lab, (cx.tx, cx.block.height, cx.block.time_ms));
        l.put(&ALERTS, &cx.tx, &alert);
        warning::raise(l, &alert);
    }
}

#[derive(Clone, Debug)]
pub struct AlertDisposal {
    pub alert: (TxId, String),
    pub state: (AlertState, String),
    pub note: Option<String>,
    /// The weight this step sealed, recalled or destroyed, in grams.
    pub weight: Option<(u64, String)>,
    pub pieces: Option<(u64, String)>,
    /// On `closed`: why the alert closes before every province recorded a disposal.
    pub override_reason: Option<(String, String)>,
}

impl AlertDisposal {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (id, id_path) = f.req_str_at("alertId", &[], 64)?;
        let alert = id.parse().map_err(|_| RecordError::new(&id_path, "is the alert's transaction id, 64 hexadecimal characters"))?;
        let (s, s_path) = f.req_str_at("state", &[], 12)?;
        let state = AlertState::parse(&s)
            .ok_or_else(|| RecordError::new(&s_path, format!("\"{s}\" is not a disposal state: sealed, recalled, destroyed or closed")))?;
        let note = f.opt_str("note", 1000)?;
        let weight = f.opt_weight("weightKg", &["weight"])?;
        let pieces = f.opt_count("pieces", &[])?;
        let override_reason = f.opt_str_at("override", &[], 1000)?;
        match (state, &weight, &pieces, &override_reason) {
            (AlertState::Closed, Some((_, path)), _, _) | (AlertState::Closed, None, Some((_, path)), _) => {
                return Err(RecordError::new(
                    path,
                    "is not given on \"closed\": closing disposes of nothing; each province's steps carry the quantities",
                ));
            }
            (AlertState::Closed, None, None, _) => {}
            (_, None, _, _) => {
                return Err(RecordError::new(
                    f.at("weightKg"),
                    format!("is required on \"{s}\": the weight of the lot's goods this step {s} in the province, in kg (0 if none was found)"),
                ));
            }
            (_, Some(_), _, Some((_, path))) => {
                return Err(RecordError::new(path, "is given only on \"closed\": why the alert closes before every province recorded a disposal"));
            }
            _ => {}
        }
        f.finish("alertId, state, weightKg, pieces, note, override")?;
        Ok(AlertDisposal { alert: (alert, id_path), state: (state, s_path), note, weight, pieces, override_reason })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("alert_disposal")?;
        let alert = l.get(&ALERTS, &self.alert.0).ok_or_else(|| RecordError::new(&self.alert.1, format!("no alert {} is on chain", self.alert.0)))?;
        if alert.state == AlertState::Closed {
            return Err(RecordError::new(&self.state.1, "the alert is closed"));
        }
        let mine = alert.disposals.iter().filter(|d| d.province == province).map(|d| d.state).max().unwrap_or(AlertState::Open);
        if self.state.0 < mine {
            return Err(RecordError::new(
                &self.state.1,
                format!(
                    "province {province} has already reached \"{}\"; states only move forward: sealed, recalled, destroyed, closed (a state may be recorded again to add quantities)",
                    mine.as_str()
                ),
            ));
        }
        if self.state.0 == AlertState::Closed {
            if alert.province != province {
                return Err(RecordError::new(&self.state.1, format!("only the raising bureau ({}) closes the alert", alert.province)));
            }
            let missing = without_disposal(l, &alert);
            if !missing.is_empty() && self.override_reason.is_none() {
                return Err(RecordError::new(
                    &self.state.1,
                    format!(
                        "may not close yet: province(s) {} received goods of the lot and recorded no disposal (sealed, recalled or destroyed); wait for their bureaus, or close with \"override\" saying why (it is kept on the alert)",
                        missing.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let Some(mut alert) = l.get(&ALERTS, &self.alert.0) else { return };
        let without_disposal = match (self.state.0, &self.override_reason) {
            (AlertState::Closed, Some(_)) => without_disposal(l, &alert),
            _ => Vec::new(),
        };
        alert.disposals.push(Disposal {
            province,
            state: self.state.0,
            note: self.note,
            height: cx.block.height,
            tx: cx.tx,
            grams: self.weight.map(|w| w.0),
            pieces: self.pieces.map(|p| p.0),
            override_reason: self.override_reason.map(|o| o.0),
            without_disposal,
        });
        alert.state = alert.state.max(self.state.0);
        l.put(&ALERTS, &self.alert.0, &alert);
    }
}
