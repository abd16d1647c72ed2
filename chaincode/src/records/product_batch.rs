//! `product_batch` (seed 004 table 5, with tables 6–10 as `quarantineInfo`,
//! `customsInfo`, `disinfectInfo`, `nucleicInfo`, `releaseInfo`): an
//! enterprise stocks a batch of imported goods and issues its trace code.
//!
//! The entry quarantine certificate number and its production batch are the
//! lot's identity, the matching key seed 000 uses between provinces. The
//! first product batch record of a lot enters its pieces and weight into the
//! submitter's holding; a later one, by an enterprise that holds or held the
//! lot, only gives the lot that enterprise's own trace code.

use super::product::{product_id, specification};
use super::{Cx, clearance, dict, not_future};
use crate::fields::{Fields, Qty, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{
    CODES, CONTAINERS, CodeEntry, CodeOrigin, Counter, EntId, HOLDINGS, LOT_IDS, LOTS, Ledger, Lot, LotDocuments, LotId, Movement, MovementKind,
    STORAGE_IDS, Stock,
};
use chrono::{NaiveDate, NaiveTime};

#[derive(Clone, Debug)]
pub struct Quarantine {
    pub batch: String,
    pub consignee: String,
    pub consignor: String,
    pub date_of_entry: (NaiveDate, String),
    pub entry_time: Option<NaiveTime>,
    pub port_of_entry: (String, String),
    pub number: String,
    pub image: Option<Hash>,
}

#[derive(Clone, Debug)]
pub struct ProductBatch {
    pub product_id: String,
    pub product_name: String,
    pub container: Option<String>,
    pub trace_code: (String, String),
    pub trace_code_scheme: Option<String>,
    pub parent_trace_code: Option<(String, String)>,
    pub label_batch: String,
    pub qty: Qty,
    pub inventory_pieces: Option<u64>,
    pub inventory_grams: Option<u64>,
    pub production_date: (NaiveDate, String),
    pub storage_name: Option<String>,
    pub specification: Option<(String, String)>,
    pub quarantine: Quarantine,
    pub documents: LotDocuments,
    pub document_dates: Vec<(NaiveDate, String)>,
}

const FIELDS: &str = "productLibraryId, productName, containerNumber, traceCode, traceCodeScheme, parentTraceCode, batch, numberOfPieces, weight, inventoryPieces, inventoryWeight, productionDate, storageName, specification, specificationUnit, quarantineInfo, customsInfo, disinfectInfo, nucleicInfo, releaseInfo";

/// A container number: 4 letters and 7 digits (ISO 6346), e.g. MNBU3167382.
pub fn container(f: &mut Fields) -> Result<Option<String>> {
    match f.opt_str_at("containerNumber", &["containerNo"], 20)? {
        None => Ok(None),
        Some((c, path)) => {
            let c = c.to_ascii_uppercase();
            let b = c.as_bytes();
            if b.len() != 11 || !b[..4].iter().all(u8::is_ascii_uppercase) || !b[4..].iter().all(u8::is_ascii_digit) {
                return Err(RecordError::new(path, format!("\"{c}\" is not a container number (ISO 6346: 4 letters, 7 digits)")));
            }
            Ok(Some(c))
        }
    }
}

impl ProductBatch {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let product_id = product_id(f)?;
        let product_name = f.req_str("productName", 200)?;
        let container = container(f)?;
        let trace_code = f.req_str_at("traceCode", &[], 128)?;
        let trace_code_scheme = f.opt_str("traceCodeScheme", 32)?;
        let parent_trace_code = f.opt_str_at("parentTraceCode", &[], 128)?;
        let label_batch = f.req_str("batch", 64)?;
        let (pieces, pieces_path) = f.req_pieces("numberOfPieces", &[])?;
        let (grams, grams_path) = f.req_weight("weight", &[])?;
        let inventory_pieces = f.opt_count("inventoryPieces", &["inventory"])?;
        if let Some((n, path)) = &inventory_pieces
            && *n > pieces
        {
            return Err(RecordError::new(path, format!("inventory of {n} pieces is more than the {pieces} stocked ({pieces_path})")));
        }
        let inventory_grams = f.opt_weight("inventoryWeight", &[])?;
        if let Some((g, path)) = &inventory_grams
            && *g > grams
        {
            return Err(RecordError::new(path, format!("inventory weight is more than the weight stocked ({grams_path})")));
        }
        let production_date = f.req_date("productionDate", &[])?;
        let storage_name = f.opt_str("storageName", 200)?;
        let specification = specification(f)?;

        let mut q = f.req_object("quarantineInfo", &[])?;
        let batch = q.req_str("batch", 64)?;
        let consignee = q.req_str("consignee", 200)?;
        let consignor = q.req_str("consignor", 200)?;
        let (entry, entry_path) = q.req_moment("dateOfEntry", &[])?;
        let quarantine = Quarantine {
            batch,
            consignee,
            consignor,
            date_of_entry: (entry.date, entry_path),
            entry_time: entry.time,
            port_of_entry: q.req_str_at("portOfEntry", &[], 60)?,
            number: {
                let (n, path) = q.req_str_at("quarantineNumber", &[], 21)?;
                if let Some(rule) = crate::identifiers::quarantine_number_problem(&n) {
                    return Err(RecordError::new(path, rule));
                }
                n
            },
            image: q.opt_image("quarantineImg", &[])?,
        };
        q.finish("batch, consignee, consignor, dateOfEntry, portOfEntry, quarantineNumber, quarantineImg")?;

        let mut documents = LotDocuments { quarantine_image: quarantine.image, ..Default::default() };
        let mut document_dates = Vec::new();
        if let Some(mut c) = f.opt_object("customsInfo", &[])? {
            documents.consumer_enterprises = c.opt_str("consumerEnterprises", 200)?;
            if let Some((n, path)) = c.opt_str_at("customsNumber", &["customsNo"], 32)? {
                if let Some(rule) = crate::identifiers::digits_problem(&n, "a customs number") {
                    return Err(RecordError::new(path, rule));
                }
                documents.customs_number = Some(n);
            }
            documents.waybill_number = c.opt_str("waybillNumber", 64)?;
            documents.customs_image = c.opt_image("consumerImg", &[])?;
            c.finish("consumerEnterprises, customsNumber, waybillNumber, consumerImg")?;
        }
        if let Some(mut d) = f.opt_object("disinfectInfo", &[])? {
            let date = d.req_date("disinfectDate", &[])?;
            let (place, place_path) = d.req_str_at("placeOfDisinfection", &[], 20)?;
            let place = match place.as_str() {
                "市场" | "Market" => "market",
                "冷库" | "ColdStorage" => "cold_storage",
                "海关口岸" | "CustomsPort" => "customs_port",
                "其他" | "Other" => "other",
                other => {
                    return Err(RecordError::new(
                        place_path,
                        format!("\"{other}\" is not a place of disinfection: Market, ColdStorage, CustomsPort or Other (市场, 冷库, 海关口岸, 其他)"),
                    ));
                }
            };
            let number = d.req_str("disinfectNumber", 64)?;
            let (state, state_path) =
                d.opt_count("disinfectState", &[])?.ok_or_else(|| RecordError::new(d.at("disinfectState"), "is required: 1 disinfected, 0 not"))?;
            if state > 1 {
                return Err(RecordError::new(state_path, "is 1 (disinfected) or 0 (not disinfected)"));
            }
            documents.disinfect_image = d.opt_image("disinfectImg", &[])?;
            d.finish("disinfectDate, placeOfDisinfection, disinfectNumber, disinfectState, disinfectImg")?;
            documents.disinfection = Some((format!("{number} ({place})"), date.0, state == 1));
            document_dates.push(date);
        }
        if let Some(mut n) = f.opt_object("nucleicInfo", &[])? {
            let (result, result_path) = n.req_str_at("naResult", &[], 10)?;
            let result = match result.as_str() {
                "阴性" | "negative" | "Negative" => "negative",
                "阳性" | "positive" | "Positive" => "positive",
                other => {
                    return Err(RecordError::new(
                        result_path,
                        format!("\"{other}\" is not a nucleic-acid result: 阴性 (negative) or 阳性 (positive)"),
                    ));
                }
            };
            let date = n.req_date("naDate", &[])?;
            let unit = n.req_str("naUnit", 200)?;
            documents.verify_mode = n.opt_str("verifyMode", 50)?;
            // Seed 004 annex B names the image `Disinfectimg` here; both are accepted.
            documents.nucleic_image = n.opt_image("naImg", &["disinfectImg"])?;
            n.finish("naResult, naDate, naUnit, verifyMode, naImg")?;
            documents.nucleic_acid = Some((result.to_string(), date.0, unit));
            document_dates.push(date);
        }
        if let Some(mut r) = f.opt_object("releaseInfo", &["certificateInfo", "warehouseReleaseInfo"])? {
            let (n, path) = r.req_str_at("certificateNumber", &[], 32)?;
            if let Some(rule) = crate::identifiers::digits_problem(&n, "a release certificate number") {
                return Err(RecordError::new(path, rule));
            }
            let date = r.req_date("certificateDate", &[])?;
            documents.release_image = r.opt_image("certificateImg", &[])?;
            r.finish("certificateNumber, certificateDate, certificateImg")?;
            documents.release_certificate = Some((n, date.0));
            document_dates.push(date);
        }
        f.finish(FIELDS)?;
        Ok(ProductBatch {
            product_id,
            product_name,
            container,
            trace_code,
            trace_code_scheme,
            parent_trace_code,
            label_batch,
            qty: Qty { pieces, grams },
            inventory_pieces: inventory_pieces.map(|p| p.0),
            inventory_grams: inventory_grams.map(|g| g.0),
            production_date,
            storage_name,
            specification,
            quarantine,
            documents,
            document_dates,
        })
    }

    fn lot_key(&self) -> (String, String) {
        (self.quarantine.number.clone(), self.quarantine.batch.clone())
    }

    /// The submitting enterprise.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<EntId> {
        let ent = cx.require_enterprise("product_batch")?;
        let province = l.enterprise_at(ent).province;
        let entry = &self.quarantine.date_of_entry;
        if self.production_date.0 > entry.0 {
            return Err(RecordError::new(
                &self.production_date.1,
                format!("production date {} is after the date of entry {} ({})", self.production_date.0, entry.0, entry.1),
            ));
        }
        not_future(entry.0, &entry.1, cx)?;
        for (d, path) in &self.document_dates {
            not_future(*d, path, cx)?;
        }
        dict(l, "entry_port", &self.quarantine.port_of_entry.0, &self.quarantine.port_of_entry.1)?;
        let existing = l.get(&LOT_IDS, &self.lot_key());
        if let Some(lot) = existing
            && !l.contains(&HOLDINGS, &(ent, lot))
        {
            let origin = l.enterprise_at(l.lot_at(lot).origin).uscc;
            return Err(RecordError::new(
                "record.quarantineInfo.quarantineNumber",
                format!(
                    "certificate {} batch {} was entered by {origin}; another enterprise gives it a code only once it has received some of it",
                    self.quarantine.number, self.quarantine.batch
                ),
            ));
        }
        let scheme = l
            .scheme_for(&self.trace_code.0, self.trace_code_scheme.as_deref(), &province)
            .map_err(|rule| RecordError::new(&self.trace_code.1, rule))?;
        if let Some(known) = l.code(&scheme.scheme_id, &self.trace_code.0)
            && !(Some(known.lot) == existing && known.issuer == Some(ent) && self.documents.any())
        {
            return Err(RecordError::new(
                &self.trace_code.1,
                format!("code {} of scheme {} is already registered (transaction {})", self.trace_code.0, scheme.scheme_id, known.tx),
            ));
        }
        if let Some((parent, path)) = &self.parent_trace_code {
            match known_code(l, parent) {
                Some((_, entry)) if Some(entry.lot) != existing => {
                    return Err(RecordError::new(
                        path,
                        format!("code {parent} belongs to another lot (certificate {})", l.lot_at(entry.lot).quarantine_number),
                    ));
                }
                Some(_) => {}
                None => {
                    l.scheme_for(parent, None, &province).map_err(|rule| RecordError::new(path, rule))?;
                }
            }
        }
        Ok(ent)
    }

    /// Applies the record for `ent`, the enterprise [`Self::validate`] found.
    pub fn apply(self, ent: EntId, l: &mut Ledger, cx: &Cx) {
        let province = l.enterprise_at(ent).province;
        let port = l.dictionaries().lookup("entry_port", &self.quarantine.port_of_entry.0).unwrap_or_default();
        let scheme = l.scheme_for(&self.trace_code.0, self.trace_code_scheme.as_deref(), &province).map(|s| s.scheme_id.clone()).unwrap_or_default();
        let key = self.lot_key();
        let mut entered = false;
        let lot: LotId = match l.get(&LOT_IDS, &key) {
            Some(lot) => {
                // The documents it carries complete or update the lot's.
                if self.documents.any() {
                    let mut lot_ref = l.lot_at(lot);
                    lot_ref.documents.update(&self.documents);
                    l.put(&LOTS, &lot, &lot_ref);
                }
                lot
            }
            None => {
                entered = true;
                let lot = l.next_id(Counter::Lots) as LotId;
                l.add_movement(Movement {
                    kind: MovementKind::Entry,
                    lot,
                    from: None,
                    to: ent,
                    qty: self.qty,
                    date: self.quarantine.date_of_entry.0,
                    time: self.quarantine.entry_time,
                    counterpart: Default::default(),
                    tx: cx.tx,
                    height: cx.block.height,
                    document: self.quarantine.number.clone(),
                    storage: None,
                    received: None,
                });
                l.put(&crate::state::ledger::LOT_BATCHES, &(self.product_id.clone(), self.label_batch.clone(), lot), &());
                l.put(&crate::state::ledger::LOT_BATCHES, &(self.product_id.clone(), key.1.clone(), lot), &());
                l.put(
                    &LOTS,
                    &lot,
                    &Lot {
                        quarantine_number: key.0.clone(),
                        certificate_batch: key.1.clone(),
                        product_id: self.product_id.clone(),
                        product_name: self.product_name.clone(),
                        label_batch: self.label_batch.clone(),
                        container: self.container.clone(),
                        production_date: self.production_date.0,
                        entry_date: self.quarantine.date_of_entry.0,
                        entry_time: self.quarantine.entry_time,
                        port_of_entry: port.clone(),
                        consignor: self.quarantine.consignor.clone(),
                        consignee: self.quarantine.consignee.clone(),
                        origin: ent,
                        entered: self.qty,
                        documents: self.documents.clone(),
                        tx: cx.tx,
                        stock: Stock {
                            inventory_pieces: self.inventory_pieces,
                            inventory_grams: self.inventory_grams,
                            storage: self.storage_name.as_ref().and_then(|n| l.get(&STORAGE_IDS, &(ent, n.clone()))),
                            storage_name: self.storage_name.clone(),
                            specification: self.specification.clone(),
                        },
                    },
                );
                l.put(&LOT_IDS, &key, &lot);
                l.put(&HOLDINGS, &(ent, lot), &self.qty);
                crate::state::statistics::batch_entered(l, cx, (ent, &province), &self.product_id, &port, self.qty);
                if let Some(c) = &self.container {
                    l.put(&CONTAINERS, &(c.clone(), lot), &());
                }
                lot
            }
        };
        // A documents update names its own code again: add_code keeps the first registration.
        register_code(l, lot, scheme, self.trace_code.0, Some(ent), CodeOrigin::ProductBatch, cx);
        if let Some((parent, _)) = self.parent_trace_code
            && known_code(l, &parent).is_none()
            && let Ok(s) = l.scheme_for(&parent, None, &province).map(|s| s.scheme_id.clone())
        {
            register_code(l, lot, s, parent, Some(ent), CodeOrigin::ParentCode, cx);
        }
        if let Some((result, date, lab)) = &self.documents.nucleic_acid
            && result == "positive"
        {
            let positive = clearance::Positive {
                result: format!("nucleic-acid test positive (核酸检测阳性) by {lab} on {date}"),
                record: "product_batch",
                tested_at: *date,
                lab: lab.clone(),
                holder: Some(ent),
            };
            clearance::stop(l, key, positive, cx);
        }
        if entered {
            clearance::alert_on_entry(l, lot, ent, cx);
        }
    }
}

/// A code known in any scheme.
pub fn known_code(l: &Ledger, code: &str) -> Option<(String, CodeEntry)> {
    let mut key = (String::new(), code.to_string());
    l.schemes().keys().find_map(|s| {
        s.clone_into(&mut key.0);
        l.get(&CODES, &key).map(|e| (s.clone(), e))
    })
}

/// Registers a code of `scheme` as belonging to `lot`.
pub fn register_code(l: &mut Ledger, lot: LotId, scheme: String, code: String, issuer: Option<u32>, origin: CodeOrigin, cx: &Cx) {
    l.add_code(scheme, code, CodeEntry { lot, issuer, origin, tx: cx.tx, grams: None });
}
