//! `code_link` ("异构识别"): a receiving enterprise links the incoming code
//! of one scheme (`from`) to the code it issues in its own province's scheme
//! (`to`). `from` must be a known code, or be identified by the lot's
//! certificate number and production batch (`quarantineNumber`, `batch`),
//! the matching key seed 000 uses; then `from` is registered too.

use super::Cx;
use super::product_batch::register_code;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{CODES, CodeOrigin, HOLDINGS, LOT_IDS, Ledger, LotId};

#[derive(Clone, Debug)]
pub struct CodeRef {
    pub scheme: String,
    pub code: String,
    pub path: String,
}

#[derive(Clone, Debug)]
pub struct CodeLinkRecord {
    pub from: CodeRef,
    pub to: CodeRef,
    pub quarantine_number: Option<String>,
    pub batch: Option<String>,
    pub grams: Option<u64>,
}

fn code_ref(f: &mut Fields, name: &str) -> Result<CodeRef> {
    let mut o = f.req_object(name, &[])?;
    let r = CodeRef { scheme: o.req_str("scheme", 32)?, code: o.req_str("code", 128)?, path: o.path().to_string() };
    o.finish("scheme, code")?;
    Ok(r)
}

impl CodeLinkRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let r = CodeLinkRecord {
            from: code_ref(f, "from")?,
            to: code_ref(f, "to")?,
            quarantine_number: f.opt_str("quarantineNumber", 21)?,
            batch: f.opt_str("batch", 64)?,
            grams: f.opt_weight("weight", &[])?.map(|w| w.0),
        };
        f.finish("from, to, quarantineNumber, batch, weight")?;
        Ok(r)
    }

    /// The lot both codes belong to, and whether `from` is new.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<(LotId, bool)> {
        let ent = cx.require_enterprise("code_link")?;
        let province = l.enterprise_at(ent).province;
        let to_scheme = l
            .schemes()
            .get(&self.to.scheme)
            .ok_or_else(|| RecordError::new(format!("{}.scheme", self.to.path), format!("no code scheme \"{}\" is registered", self.to.scheme)))?;
        if to_scheme.province != province {
            return Err(RecordError::new(
                format!("{}.scheme", self.to.path),
                format!(
                    "scheme {} is province {}'s; an enterprise of {province} links to codes of its own province's schemes",
                    to_scheme.scheme_id, to_scheme.province
                ),
            ));
        }
        if let Some(rule) = to_scheme.code_problem(&self.to.code) {
            return Err(RecordError::new(format!("{}.code", self.to.path), rule));
        }
        let from_scheme = l.schemes().get(&self.from.scheme).ok_or_else(|| {
            RecordError::new(format!("{}.scheme", self.from.path), format!("no code scheme \"{}\" is registered", self.from.scheme))
        })?;
        let (lot, from_is_new) = match l.code(&self.from.scheme, &self.from.code) {
            Some(e) => (e.lot, false),
            None => {
                if let Some(rule) = from_scheme.code_problem(&self.from.code) {
                    return Err(RecordError::new(format!("{}.code", self.from.path), rule));
                }
                let (Some(n), Some(b)) = (&self.quarantine_number, &self.batch) else {
                    return Err(RecordError::new(
                        format!("{}.code", self.from.path),
                        format!(
                            "code {} of scheme {} is not known; give quarantineNumber and batch to link it by the lot's matching key",
                            self.from.code, self.from.scheme
                        ),
                    ));
                };
                let lot = l.get(&LOT_IDS, &(n.clone(), b.clone())).ok_or_else(|| {
                    RecordError::new("record.quarantineNumber", format!("no lot with certificate {n} and production batch {b} is on chain"))
                })?;
                (lot, true)
            }
        };
        if let (Some(n), Some(b)) = (&self.quarantine_number, &self.batch) {
            let lot_ref = l.lot_at(lot);
            if lot_ref.quarantine_number != *n || lot_ref.certificate_batch != *b {
                return Err(RecordError::new(
                    "record.quarantineNumber",
                    format!(
                        "code {} belongs to certificate {} batch {}, not {n} {b}",
                        self.from.code, lot_ref.quarantine_number, lot_ref.certificate_batch
                    ),
                ));
            }
        }
        if let Some(existing) = l.code(&self.to.scheme, &self.to.code) {
            return Err(RecordError::new(
                format!("{}.code", self.to.path),
                format!("code {} of scheme {} is already registered (transaction {})", self.to.code, self.to.scheme, existing.tx),
            ));
        }
        if !l.contains(&HOLDINGS, &(ent, lot)) && !l.lot_movements(lot).into_iter().any(|m| l.movement_at(m).to == ent) {
            return Err(RecordError::new(
                format!("{}.code", self.from.path),
                "the signer has never received these goods; it links codes of goods it has received",
            ));
        }
        Ok((lot, from_is_new))
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: (LotId, bool), l: &mut Ledger, cx: &Cx) {
        let (lot, from_is_new) = plan;
        let ent = cx.enterprise();
        if from_is_new {
            register_code(l, lot, self.from.scheme.clone(), self.from.code.clone(), None, CodeOrigin::MatchingKey, cx);
        }
        let key = (self.to.scheme.clone(), self.to.code.clone());
        register_code(l, lot, self.to.scheme, self.to.code, ent, CodeOrigin::Link { from_scheme: self.from.scheme, from_code: self.from.code }, cx);
        if let Some(grams) = self.grams
            && let Some(mut entry) = l.code(&key.0, &key.1)
        {
            entry.grams = Some(grams);
            l.put(&CODES, &key, &entry);
        }
    }
}
