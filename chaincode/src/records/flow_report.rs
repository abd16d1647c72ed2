//! `flow_report` (seed 000 §1, `statistical.info.register`): goods of a
//! certificate and production batch flowed into or out of a province. The
//! pair must be known (a product batch on chain, or a certificate report
//! that named the batch); the same province, certificate, batch, direction
//! and weight twice is a duplicate.

use super::certificate_report::{quarantine_number, reporter};
use super::{Cx, dict};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{Counter, FLOW_KEYS, FLOW_REPORTS, FlowDirection, FlowReport, LOT_IDS, Ledger, REPORTED_BATCHES};

#[derive(Clone, Debug)]
pub struct FlowReportRecord {
    pub production_batch: (String, String),
    pub quarantine_number: (String, String),
    pub product_name: String,
    pub actual_grams: (u64, String),
    pub direction: FlowDirection,
    pub counterpart_kind: String,
    pub counterpart: (String, String),
    pub client_id: Option<(String, String)>,
}

const FIELDS: &str = "productionBatch, quarantineNumber, productName, actualWeight, direction, counterpartType, counterpart, clientId";

impl FlowReportRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let production_batch = f.req_str_at("productionBatch", &["batch"], 64)?;
        let quarantine_number = quarantine_number(f)?;
        let product_name = f.req_str("productName", 200)?;
        let actual_grams = f.req_weight("actualWeight", &["weight"])?;
        let (d, d_path) = f.req_str_at("direction", &[], 10)?;
        let direction = match d.as_str() {
            "in" | "流入" => FlowDirection::In,
            "out" | "流出" => FlowDirection::Out,
            other => return Err(RecordError::new(d_path, format!("\"{other}\" is not a direction: in (流入) or out (流出)"))),
        };
        let (k, k_path) = f.req_str_at("counterpartType", &[], 10)?;
        let counterpart_kind = match k.as_str() {
            "port" | "口岸" => "port",
            "province" | "省份" => "province",
            other => return Err(RecordError::new(k_path, format!("\"{other}\" is not a counterpart type: port (口岸) or province (省份)"))),
        }
        .to_string();
        let counterpart = f.req_str_at("counterpart", &[], 60)?;
        let client_id = f.opt_str_at("clientId", &[], 64)?;
        f.finish(FIELDS)?;
        Ok(FlowReportRecord { production_batch, quarantine_number, product_name, actual_grams, direction, counterpart_kind, counterpart, client_id })
    }

    fn counterpart_code(&self, l: &Ledger) -> Result<String> {
        let d = if self.counterpart_kind == "port" { "entry_port" } else { "province" };
        dict(l, d, &self.counterpart.0, &self.counterpart.1)
    }

    fn key(&self, province: String) -> (String, String, String, FlowDirection, u64) {
        (province, self.quarantine_number.0.clone(), self.production_batch.0.clone(), self.direction, self.actual_grams.0)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let (province, _) = reporter(l, cx, self.client_id.as_ref())?;
        let counterpart = self.counterpart_code(l)?;
        if counterpart == province {
            return Err(RecordError::new(&self.counterpart.1, "an interprovincial flow's counterpart is another province or a port"));
        }
        let pair = (self.quarantine_number.0.clone(), self.production_batch.0.clone());
        if !l.contains(&LOT_IDS, &pair) && !l.contains(&REPORTED_BATCHES, &pair) {
            return Err(RecordError::new(
                &self.production_batch.1,
                format!(
                    "no certificate {} with production batch {} is known; a flow must match a reported certificate number and production batch",
                    pair.0, pair.1
                ),
            ));
        }
        if l.contains(&FLOW_KEYS, &self.key(province.clone())) {
            return Err(RecordError::new(
                &self.actual_grams.1,
                format!("province {province} already reported this flow (same certificate, batch, direction and weight); a duplicate is refused"),
            ));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let Ok((province, client_id)) = reporter(l, cx, self.client_id.as_ref()) else { return };
        let counterpart = self.counterpart_code(l).unwrap_or_default();
        l.put(&FLOW_KEYS, &self.key(province.clone()), &());
        let id = l.next_id(Counter::FlowReports);
        crate::state::statistics::report_sent(l, cx, &province, crate::state::statistics::ReportKind::Flow, id);
        l.put(
            &FLOW_REPORTS,
            &id,
            &FlowReport {
                province,
                production_batch: self.production_batch.0,
                quarantine_number: self.quarantine_number.0,
                product_name: self.product_name,
                actual_grams: self.actual_grams.0,
                direction: self.direction,
                counterpart_kind: self.counterpart_kind,
                counterpart,
                reported_on: cx.today,
                client_id,
                tx: cx.tx,
            },
        );
    }
}
