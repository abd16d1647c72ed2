//! A lot in the shape of seed 004's annex B: the product batch record
//! (table 5) with its documents as `quarantineInfo`, `customsInfo`,
//! `disinfectInfo`, `nucleicInfo` and `releaseInfo` (tables 6–10), as the
//! chain holds it: what the entering record gave, with the documents later
//! product batch records of the lot added. Member names are those a record
//! is submitted with (docs/RECORDS.md, `product_batch`), so a province's
//! platform reads it as it writes one; images are their `sha256:` digests
//! (`GET /v1/images/{sha256}` serves the bytes).

use super::ledger::{CodeOrigin, Ledger, Lot, LotId, WAREHOUSE_CONTAINERS, WAREHOUSE_RECORDS};
use crate::fields::{Moment, kg};
use crate::hash::Hash;
use serde_json::{Map, Value, json};

fn image(h: &Option<Hash>) -> Value {
    h.map_or(Value::Null, |h| Value::String(format!("sha256:{}", h.to_hex())))
}

/// Drops the members that are null: absent, as in a submitted record.
fn object(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect::<Map<_, _>>()),
        other => other,
    }
}

/// The seed's spelling of a place of disinfection kept as `market`, ….
fn place_of_disinfection(place: &str) -> &str {
    match place {
        "market" => "Market",
        "cold_storage" => "ColdStorage",
        "customs_port" => "CustomsPort",
        "other" => "Other",
        other => other,
    }
}

/// The most warehouse records one lot's answer carries: a container is
/// checked a few times, and an operator pushing thousands for one container
/// does not make every read of the lot as large.
pub const MAX_WAREHOUSE_RECORDS: usize = 50;

/// The central supervision warehouse records (table 12) of the lot's
/// container that name its certificate, or, naming none, its batch, the
/// first [`MAX_WAREHOUSE_RECORDS`] by data id; in table 12's members, as
/// submitted. Null when there are none.
fn warehouse_records(l: &Ledger, lot: &Lot) -> Value {
    let Some(container) = &lot.container else { return Value::Null };
    let records: Vec<Value> = l
        .scan(&WAREHOUSE_CONTAINERS, container)
        .filter_map(|((_, id), ())| l.get(&WAREHOUSE_RECORDS, &id))
        .filter(|r| match &r.quarantine_number {
            Some(qn) => *qn == lot.quarantine_number && r.production_batch == lot.certificate_batch,
            None => r.production_batch == lot.certificate_batch || r.production_batch == lot.label_batch,
        })
        .take(MAX_WAREHOUSE_RECORDS)
        .map(|r| {
            let mut v = json!({
                "dataid": r.data_id,
                "containerNumber": r.container,
                "productionBatch": r.production_batch,
                "quarantineNumber": r.quarantine_number,
                "nucleicResult": if r.nucleic_result == "positive" { "阳性" } else { "阴性" },
                "pieces": r.pieces,
                "grossWeight": r.gross_grams.map(kg),
                "certificateNumber": r.certificate_number,
                "certificateDate": r.certificate_date.map(|d| d.to_string()),
                "disinfectData": r.disinfect_date.map(|d| d.to_string()),
                "nucleicData": r.nucleic_date.map(|d| d.to_string()),
                "specification": r.specification.as_ref().map(|s| &s.0),
                "specificationUnit": r.specification.as_ref().map(|s| &s.1),
                "customsImg": r.customs_image,
                "certificateImg": image(&r.certificate_image),
                "tx": r.tx.to_hex(),
            });
            for (k, text) in &r.fields {
                v[k.as_str()] = Value::String(text.clone());
            }
            object(v)
        })
        .collect();
    if records.is_empty() { Value::Null } else { Value::Array(records) }
}

/// The lot `lot` in annex B's shape, with `enterprise` (the importer's
/// USCC) and `tx` (the entering record) beside the seed's members.
pub fn annex_b(l: &Ledger, lot: LotId) -> Value {
    let it = l.lot_at(lot);
    let d = &it.documents;
    let code = l.lot_codes_iter(lot).find(|(s, c)| l.code(s, c).is_some_and(|e| e.tx == it.tx && e.origin == CodeOrigin::ProductBatch));
    let disinfect = d.disinfection.as_ref().map(|(text, date, done)| {
        // Kept as "NUMBER (place)".
        let (number, place) = text.rsplit_once(" (").map_or((text.as_str(), ""), |(n, p)| (n, p.trim_end_matches(')')));
        object(json!({
            "disinfectDate": date.to_string(),
            "placeOfDisinfection": place_of_disinfection(place),
            "disinfectNumber": number,
            "disinfectState": u8::from(*done),
            "disinfectImg": image(&d.disinfect_image),
        }))
    });
    let nucleic = d.nucleic_acid.as_ref().map(|(result, date, unit)| {
        object(json!({
            "naResult": if result == "positive" { "阳性" } else { "阴性" },
            "naDate": date.to_string(),
            "naUnit": unit,
            "verifyMode": d.verify_mode,
            "naImg": image(&d.nucleic_image),
        }))
    });
    let customs =
        (d.customs_number.is_some() || d.waybill_number.is_some() || d.consumer_enterprises.is_some() || d.customs_image.is_some()).then(|| {
            object(json!({
                "consumerEnterprises": d.consumer_enterprises,
                "customsNumber": d.customs_number,
                "waybillNumber": d.waybill_number,
                "consumerImg": image(&d.customs_image),
            }))
        });
    let release = d.release_certificate.as_ref().map(|(number, date)| {
        object(json!({"certificateNumber": number, "certificateDate": date.to_string(), "certificateImg": image(&d.release_image)}))
    });
    let quarantine = object(json!({
        "batch": it.certificate_batch,
        "consignee": it.consignee,
        "consignor": it.consignor,
        "dateOfEntry": Moment { date: it.entry_date, time: it.entry_time }.text(),
        "portOfEntry": it.port_of_entry,
        "quarantineNumber": it.quarantine_number,
        "quarantineImg": image(&d.quarantine_image),
    }));
    object(json!({
        "productLibraryId": it.product_id,
        "productName": it.product_name,
        "containerNumber": it.container,
        "traceCode": code.as_ref().map(|c| &c.1),
        "traceCodeScheme": code.as_ref().map(|c| &c.0),
        "batch": it.label_batch,
        "numberOfPieces": it.entered.pieces,
        "weight": kg(it.entered.grams),
        "inventoryPieces": it.stock.inventory_pieces,
        "inventoryWeight": it.stock.inventory_grams.map(kg),
        "productionDate": it.production_date.to_string(),
        "storageName": it.stock.storage_name,
        "specification": it.stock.specification.as_ref().map(|s| &s.0),
        "specificationUnit": it.stock.specification.as_ref().map(|s| &s.1),
        "quarantineInfo": quarantine,
        "customsInfo": customs,
        "disinfectInfo": disinfect,
        "nucleicInfo": nucleic,
        "releaseInfo": release,
        "warehouseRecords": warehouse_records(l, &it),
        "enterprise": l.enterprise_at(it.origin).uscc,
        "tx": it.tx.to_hex(),
    }))
}
