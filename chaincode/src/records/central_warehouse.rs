//! `central_warehouse` (seed 004 table 12): a central supervision warehouse
//! (集中监管仓) records a container it checked, sampled, disinfected and
//! released. Signed by the warehouse's operator or a bureau.

use super::{Actor, Cx, clearance, dict, not_future, uscc};
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{CONTAINERS, Ledger, WAREHOUSE_CONTAINERS, WAREHOUSE_RECORDS, WarehouseRecord};
use chrono::NaiveDate;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct CentralWarehouse {
    pub data_id: (String, String),
    pub container: String,
    pub production_batch: String,
    pub quarantine_number: Option<String>,
    pub owner: (String, String),
    pub nucleic_result: String,
    pub pieces: u64,
    pub gross_grams: Option<u64>,
    pub certificate_number: Option<String>,
    pub dates: Vec<(NaiveDate, String)>,
    pub certificate_date: Option<NaiveDate>,
    pub nucleic_date: Option<NaiveDate>,
    pub origin: Option<(String, String)>,
    pub fields: BTreeMap<String, String>,
    pub specification: Option<(String, String)>,
    pub disinfect_date: Option<NaiveDate>,
    pub customs_image: Option<String>,
    pub certificate_image: Option<Hash>,
}

const FIELDS: &str = "dataid, containerNumber, customsImg, customsNumber, nucleicResult, specification, specificationUnit, pieces, nucleicNumber, coldName, productionBatch, unifSociCredCode, brand, nucleicItem, certificateDate, disinfectData, placeorigin, instockno, disinfectResult, shipperName, productNumber, certificateNumber, grossWeight, nucleicData, goodsFlow, certificateImg, quarantineNumber";

impl CentralWarehouse {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let data_id = f.req_str_at("dataid", &["dataId"], 64)?;
        let container = super::product_batch::container(f)?.ok_or_else(|| RecordError::new(f.at("containerNumber"), "is required"))?;
        let production_batch = f.req_str("productionBatch", 64)?;
        let quarantine_number = match f.opt_str_at("quarantineNumber", &[], 21)? {
            Some((n, path)) => {
                if let Some(rule) = crate::identifiers::quarantine_number_problem(&n) {
                    return Err(RecordError::new(path, rule));
                }
                Some(n)
            }
            None => None,
        };
        let owner = f.req_str_at("unifSociCredCode", &["uscc"], 18)?;
        uscc(&owner.0, &owner.1)?;
        let (result, result_path) = f.req_str_at("nucleicResult", &[], 10)?;
        let nucleic_result = match result.as_str() {
            "阴性" | "negative" => "negative",
            "阳性" | "positive" => "positive",
            other => {
                return Err(RecordError::new(result_path, format!("\"{other}\" is not a nucleic-acid result: 阴性 (negative) or 阳性 (positive)")));
            }
        }
        .to_string();
        let (pieces, _) = f.req_pieces("pieces", &[])?;
        let gross_grams = f.opt_weight("grossWeight", &[])?.map(|g| g.0);
        let certificate_number = match f.opt_str_at("certificateNumber", &[], 32)? {
            Some((n, path)) => {
                if let Some(rule) = crate::identifiers::digits_problem(&n, "a release certificate number") {
                    return Err(RecordError::new(path, rule));
                }
                Some(n)
            }
            None => None,
        };
        let certificate_date = f.opt_date("certificateDate", &[])?;
        let mut dates: Vec<(NaiveDate, String)> = certificate_date.iter().cloned().collect();
        // Seed 004 spells these two dates "…_data".
        let disinfect_date = f.opt_date("disinfectData", &["disinfectDate"])?;
        dates.extend(disinfect_date.clone());
        let nucleic_date = f.opt_date("nucleicData", &["nucleicDate"])?;
        dates.extend(nucleic_date.clone());
        let origin = f.opt_str_at("placeorigin", &["placeOrigin"], 60)?;
        let specification = super::product::specification(f)?;
        let customs_image = f.opt_str("customsImg", 500)?;
        let certificate_image = f.opt_image("certificateImg", &[])?;
        let mut fields = BTreeMap::new();
        for name in [
            "customsNumber",
            "nucleicNumber",
            "coldName",
            "brand",
            "nucleicItem",
            "instockno",
            "disinfectResult",
            "shipperName",
            "productNumber",
            "goodsFlow",
        ] {
            if let Some(v) = f.opt_str(name, 200)? {
                fields.insert(name.to_string(), v);
            }
        }
        f.finish(FIELDS)?;
        Ok(CentralWarehouse {
            data_id,
            container,
            production_batch,
            quarantine_number,
            owner,
            nucleic_result,
            pieces,
            gross_grams,
            certificate_number,
            certificate_date: certificate_date.map(|d| d.0),
            nucleic_date: nucleic_date.map(|d| d.0),
            dates,
            origin,
            fields,
            specification,
            disinfect_date: disinfect_date.map(|d| d.0),
            customs_image,
            certificate_image,
        })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        if !matches!(cx.actor, Actor::Enterprise(_) | Actor::Bureau { .. }) {
            return Err(RecordError::new("signer", "a central warehouse record is signed by the warehouse's operator or a bureau"));
        }
        for (d, path) in &self.dates {
            not_future(*d, path, cx)?;
        }
        if let Some((c, path)) = &self.origin {
            dict(l, "country", c, path)?;
        }
        if l.contains(&WAREHOUSE_RECORDS, &self.data_id.0) {
            return Err(RecordError::new(&self.data_id.1, format!("data id {} was already pushed", self.data_id.0)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let operator = cx.enterprise().unwrap_or(u32::MAX);
        if self.nucleic_result == "positive" {
            let lab = self.fields.get("coldName").cloned().unwrap_or_else(|| "集中监管仓".to_string());
            let tested_at = self.nucleic_date.unwrap_or(cx.today);
            // The lot by certificate and batch; without a certificate number,
            // the lots of that batch in the container.
            let keys: Vec<(String, String)> = match &self.quarantine_number {
                Some(qn) => vec![(qn.clone(), self.production_batch.clone())],
                None => l
                    .scan(&CONTAINERS, &self.container)
                    .map(|((_, lot), ())| l.lot_at(lot))
                    .filter(|lot| lot.certificate_batch == self.production_batch || lot.label_batch == self.production_batch)
                    .map(|lot| (lot.quarantine_number, lot.certificate_batch))
                    .collect(),
            };
            for key in keys {
                let positive = clearance::Positive {
                    result: format!(
                        "nucleic-acid test positive (核酸检测阳性) at the central supervised warehouse (集中监管仓) {lab}, container {}",
                        self.container
                    ),
                    record: "central_warehouse",
                    tested_at,
                    lab: lab.clone(),
                    holder: cx.enterprise(),
                };
                clearance::stop(l, key, positive, cx);
            }
        }
        let mut fields = self.fields;
        fields.insert("unifSociCredCode".into(), self.owner.0);
        if let Some((c, _)) = self.origin {
            fields.insert("placeorigin".into(), l.dictionaries().lookup("country", &c).unwrap_or(c));
        }
        let record = WarehouseRecord {
            data_id: self.data_id.0,
            operator,
            container: self.container,
            production_batch: self.production_batch,
            quarantine_number: self.quarantine_number,
            nucleic_result: self.nucleic_result,
            certificate_number: self.certificate_number,
            certificate_date: self.certificate_date,
            pieces: self.pieces,
            gross_grams: self.gross_grams,
            tx: cx.tx,
            fields,
            specification: self.specification,
            disinfect_date: self.disinfect_date,
            nucleic_date: self.nucleic_date,
            customs_image: self.customs_image,
            certificate_image: self.certificate_image,
        };
        l.put(&WAREHOUSE_CONTAINERS, &(record.container.clone(), record.data_id.clone()), &());
        l.put(&WAREHOUSE_RECORDS, &record.data_id, &record);
    }
}
