//! `certificate_report` (seed 000 §1, `certification.register`): a
//! province reports an entry quarantine certificate to the national
//! platform. The same certificate number may be reported by one province
//! once a day (the block's date, China Standard Time).
//!
//! Who reports: a bureau, an enterprise (for its province), or a node on
//! behalf of a registered report client (`clientId`, HTTP Basic).

use super::{Actor, Cx, dict, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{CERTIFICATE_REPORTS, CertificateReport, Counter, Ledger, REPORT_CLIENTS, REPORT_DAYS, REPORTED_BATCHES};
use chrono::NaiveDate;

#[derive(Clone, Debug)]
pub struct CertificateReportRecord {
    pub quarantine_number: (String, String),
    pub production_batch: Option<String>,
    pub port_of_entry: (String, String),
    pub date_of_entry: (NaiveDate, String),
    pub country: (String, String),
    pub declared_grams: u64,
    pub consignor: String,
    pub consignee: String,
    pub specification: Option<String>,
    pub product_big_class: (String, String),
    pub hs_code: (String, String),
    pub client_id: Option<(String, String)>,
    /// 进口来源类型 (seed 000 §3.2), a code or name of dictionary `source_type`.
    pub source_type: Option<(String, String)>,
}

const FIELDS: &str = "quarantineNumber, productionBatch, portOfEntry, dateOfEntry, country, declaredWeight, consignor, consignee, specification, productBigClass, hsCode, clientId, sourceType";

/// The quarantine certificate number rule, shared by the national reports.
pub fn quarantine_number(f: &mut Fields) -> Result<(String, String)> {
    let (n, path) = f.req_str_at("quarantineNumber", &["certificateNumber", "certNo"], 21)?;
    if let Some(rule) = crate::identifiers::quarantine_number_problem(&n) {
        return Err(RecordError::new(path, rule));
    }
    Ok((n, path))
}

/// The province a national report counts for, and the client it came by.
pub fn reporter(l: &Ledger, cx: &Cx, client: Option<&(String, String)>) -> Result<(String, Option<String>)> {
    match (&cx.actor, client) {
        (Actor::Node { .. }, Some((id, path))) => match l.get(&REPORT_CLIENTS, id) {
            Some(c) if !c.revoked => Ok((c.province, Some(id.clone()))),
            Some(_) => Err(RecordError::new(path, format!("report client {id} is revoked"))),
            None => Err(RecordError::new(path, format!("report client {id} is not registered by any bureau"))),
        },
        (Actor::Node { .. }, None) => Err(RecordError::new("record.clientId", "a node reports on behalf of a registered report client; name it")),
        (_, Some((_, path))) => Err(RecordError::new(path, "only a node reporting for a client names a clientId")),
        (Actor::Bureau { province }, None) if province == "000000" => {
            Err(RecordError::new("signer", "the national platform receives reports; provinces make them"))
        }
        (actor, None) => Ok((
            match actor {
                Actor::Bureau { province } => province.clone(),
                Actor::Enterprise(e) => l.enterprise_at(*e).province,
                Actor::Node { .. } | Actor::Anyone => {
                    return Err(RecordError::new("signer", "reports are signed by a bureau, an enterprise or a node"));
                }
            },
            None,
        )),
    }
}

impl CertificateReportRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let r = CertificateReportRecord {
            quarantine_number: quarantine_number(f)?,
            production_batch: f.opt_str("productionBatch", 64)?,
            port_of_entry: f.req_str_at("portOfEntry", &["entryPort"], 60)?,
            date_of_entry: f.req_date("dateOfEntry", &["entryDate"])?,
            country: f.req_str_at("country", &["originCountry"], 60)?,
            declared_grams: f.req_weight("declaredWeight", &[])?.0,
            consignor: f.req_str("consignor", 200)?,
            consignee: f.req_str("consignee", 200)?,
            specification: f.opt_str("specification", 100)?,
            product_big_class: f.req_str_at("productBigClass", &["productType"], 20)?,
            hs_code: f.req_str_at("hsCode", &["hs"], 100)?,
            client_id: f.opt_str_at("clientId", &[], 64)?,
            source_type: f.opt_str_at("sourceType", &[], 20)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let (province, _) = reporter(l, cx, self.client_id.as_ref())?;
        not_future(self.date_of_entry.0, &self.date_of_entry.1, cx)?;
        dict(l, "entry_port", &self.port_of_entry.0, &self.port_of_entry.1)?;
        dict(l, "country", &self.country.0, &self.country.1)?;
        dict(l, "product_big_class", &self.product_big_class.0, &self.product_big_class.1)?;
        dict(l, "hs", &self.hs_code.0, &self.hs_code.1)?;
        if let Some((value, path)) = &self.source_type {
            dict(l, "source_type", value, path)?;
        }
        if l.contains(&REPORT_DAYS, &(province.clone(), self.quarantine_number.0.clone(), cx.today)) {
            return Err(RecordError::new(
                &self.quarantine_number.1,
                format!(
                    "certificate {} was already reported by province {province} today ({}); one report a day",
                    self.quarantine_number.0, cx.today
                ),
            ));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let Ok((province, client_id)) = reporter(l, cx, self.client_id.as_ref()) else { return };
        let lookup = |d: &str, v: String| l.dictionaries().lookup(d, &v).unwrap_or(v);
        let report = CertificateReport {
            province: province.clone(),
            quarantine_number: self.quarantine_number.0.clone(),
            production_batch: self.production_batch.clone(),
            port_of_entry: lookup("entry_port", self.port_of_entry.0),
            date_of_entry: self.date_of_entry.0,
            country: lookup("country", self.country.0),
            declared_grams: self.declared_grams,
            consignor: self.consignor,
            consignee: self.consignee,
            specification: self.specification,
            product_big_class: lookup("product_big_class", self.product_big_class.0),
            hs_code: lookup("hs", self.hs_code.0),
            reported_on: cx.today,
            client_id,
            tx: cx.tx,
            source_type: self.source_type.map(|(v, _)| lookup("source_type", v)),
        };
        l.put(&REPORT_DAYS, &(province, self.quarantine_number.0.clone(), cx.today), &());
        if let Some(b) = self.production_batch {
            l.put(&REPORTED_BATCHES, &(self.quarantine_number.0, b), &());
        }
        let id = l.next_id(Counter::CertificateReports);
        crate::state::statistics::report_sent(l, cx, &report.province, crate::state::statistics::ReportKind::Certificate, id);
        l.put(&CERTIFICATE_REPORTS, &id, &report);
    }
}
