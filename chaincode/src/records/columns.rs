//! The columns of each record type an enterprise imports from a spreadsheet
//! (`coldchain import-records`, the templates of `GET /v1/templates/{type}`):
//! every field the type's parser takes, by its path in the record.
//!
//! A column's path names a nested field with dots and a list's item with
//! its index: `quarantineInfo.quarantineNumber`, `productList[0].weight`.
//! Each segment may be spelled either way the parser accepts
//! ([`crate::fields`]): `quarantineNumber` or [`seed_spelling`]'s
//! `Quarantine_number`. The [`Kind`] says how a cell becomes a JSON value.
//! The list is the parsers' own, in their order; the test below checks that
//! each column, in both spellings, is a field its type's parser takes, and
//! that every field docs/RECORDS.md's tables and examples name is listed.

/// How a cell's text or value becomes the field's JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Kept as text (an identifier such as `020220261102000458001` is never a number).
    Text,
    /// A decimal: weights (kg), counts, areas, coordinates.
    Number,
    /// GB/T 7408 `YYYY-MM-DD` (a spreadsheet's date cell is written so).
    Date,
    /// `true`/`false` (also `1`/`0`, `是`/`否`).
    Bool,
    /// `sha256:<64 hex>` or Base64 (the gateway keeps the bytes, the chain the digest).
    Image,
    /// A JSON value written in the cell (notarise's `document`).
    Json,
}

/// One column: a field's path, how its cells are read, and whether every
/// record must give it (within an optional object: whenever the object is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub path: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn c(path: &'static str, kind: Kind, required: bool) -> Column {
    Column { path, kind, required }
}

use Kind::*;
const R: bool = true;
const O: bool = false;

const ENTERPRISE: &[Column] = &[
    c("entName", Text, R),
    c("unifSociCredCode", Text, R),
    c("contact", Text, O),
    c("contactPhone", Text, O),
    c("legalPerson", Text, O),
    c("officeAddress", Text, R),
    c("addrDistricts", Text, R),
    c("entTypeCode", Text, R),
    c("entImg", Image, O),
    c("licences[0].type", Text, O),
    c("licences[0].number", Text, O),
    c("licences[0].licenceImg", Image, O),
    c("publicKey", Text, R),
    c("latitude", Number, R),
    c("longitude", Number, R),
    c("suspended", Bool, O),
];

const PRODUCT: &[Column] = &[
    c("productLibraryId", Text, R),
    c("productName", Text, R),
    c("productCategory", Text, R),
    c("country", Text, R),
    c("lifeNumber", Number, O),
    c("lifeUnit", Text, O),
    c("specification", Number, O),
    c("specificationUnit", Text, O),
    c("registrationNumber", Text, O),
    c("manufacturer", Text, O),
    c("productLabel", Image, O),
    c("productImg", Image, O),
];

const PRODUCT_BATCH: &[Column] = &[
    c("productLibraryId", Text, R),
    c("productName", Text, R),
    c("containerNumber", Text, O),
    c("traceCode", Text, R),
    c("traceCodeScheme", Text, O),
    c("parentTraceCode", Text, O),
    c("batch", Text, R),
    c("numberOfPieces", Number, R),
    c("weight", Number, R),
    c("inventoryPieces", Number, O),
    c("inventoryWeight", Number, O),
    c("productionDate", Date, R),
    c("storageName", Text, O),
    c("specification", Number, O),
    c("specificationUnit", Text, O),
    c("quarantineInfo.batch", Text, R),
    c("quarantineInfo.consignee", Text, R),
    c("quarantineInfo.consignor", Text, R),
    c("quarantineInfo.dateOfEntry", Date, R),
    c("quarantineInfo.portOfEntry", Text, R),
    c("quarantineInfo.quarantineNumber", Text, R),
    c("quarantineInfo.quarantineImg", Image, O),
    c("customsInfo.consumerEnterprises", Text, O),
    c("customsInfo.customsNumber", Text, O),
    c("customsInfo.waybillNumber", Text, O),
    c("customsInfo.consumerImg", Image, O),
    c("disinfectInfo.disinfectDate", Date, R),
    c("disinfectInfo.placeOfDisinfection", Text, R),
    c("disinfectInfo.disinfectNumber", Text, R),
    c("disinfectInfo.disinfectState", Number, R),
    c("disinfectInfo.disinfectImg", Image, O),
    c("nucleicInfo.naResult", Text, R),
    c("nucleicInfo.naDate", Date, R),
    c("nucleicInfo.naUnit", Text, R),
    c("nucleicInfo.verifyMode", Text, O),
    c("nucleicInfo.naImg", Image, O),
    c("releaseInfo.certificateNumber", Text, R),
    c("releaseInfo.certificateDate", Date, R),
    c("releaseInfo.certificateImg", Image, O),
];

const COLD_STORAGE: &[Column] = &[
    c("unifSociCredCode", Text, R),
    c("code", Text, O),
    c("name", Text, R),
    c("address", Text, R),
    c("addrDistricts", Text, R),
    c("usablearea", Number, O),
    c("storageVariety", Text, O),
    c("inventory", Number, O),
    c("contact", Text, O),
    c("contactPhone", Text, O),
    c("storageType", Text, R),
    c("longitude", Number, O),
    c("latitude", Number, O),
];

const CENTRAL_WAREHOUSE: &[Column] = &[
    c("dataid", Text, R),
    c("containerNumber", Text, R),
    c("productionBatch", Text, R),
    c("quarantineNumber", Text, O),
    c("unifSociCredCode", Text, R),
    c("nucleicResult", Text, R),
    c("pieces", Number, R),
    c("grossWeight", Number, O),
    c("certificateNumber", Text, O),
    c("certificateDate", Date, O),
    c("disinfectData", Date, O),
    c("nucleicData", Date, O),
    c("placeorigin", Text, O),
    c("specification", Number, O),
    c("specificationUnit", Text, O),
    c("customsImg", Text, O),
    c("certificateImg", Image, O),
    c("customsNumber", Text, O),
    c("nucleicNumber", Text, O),
    c("coldName", Text, O),
    c("brand", Text, O),
    c("nucleicItem", Text, O),
    c("instockno", Text, O),
    c("disinfectResult", Text, O),
    c("shipperName", Text, O),
    c("productNumber", Text, O),
    c("goodsFlow", Text, O),
];

/// A movement's first line (`lines::parse_lines`); more lines are
/// `productList[1].…` and so on.
macro_rules! line {
    () => {
        [
            c("productList[0].storageNumber", Text, O),
            c("productList[0].storageName", Text, O),
            c("productList[0].productLibraryId", Text, R),
            c("productList[0].productName", Text, O),
            c("productList[0].batch", Text, R),
            c("productList[0].productionDate", Date, O),
            c("productList[0].numberOfPieces", Number, R),
            c("productList[0].specification", Number, O),
            c("productList[0].specificationUnit", Text, O),
            c("productList[0].weight", Number, R),
            c("productList[0].containerNumber", Text, O),
            c("productList[0].traceCode", Text, O),
            c("productList[0].traceCodeScheme", Text, O),
            c("productList[0].quarantineNumber", Text, O),
        ]
    };
}

const fn concat<const A: usize, const B: usize, const N: usize>(a: [Column; A], b: [Column; B]) -> [Column; N] {
    let mut out = [c("", Text, O); N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

const SHIPMENT: &[Column] = &concat::<8, 14, 22>(
    [
        c("sendNumber", Text, R),
        c("sendTime", Date, R),
        c("receiverUscc", Text, R),
        c("receiverEntName", Text, O),
        c("receiveContact", Text, O),
        c("receiveContactPhone", Text, O),
        c("receiveAddress", Text, O),
        c("receiverProvince", Text, O),
    ],
    line!(),
);

const RECEIPT: &[Column] = &concat::<8, 14, 22>(
    [
        c("receiverNumber", Text, R),
        c("sendNumber", Text, R),
        c("senderUscc", Text, R),
        c("sendTime", Date, O),
        c("receiveTime", Date, R),
        c("sendEntName", Text, O),
        c("sendContact", Text, O),
        c("sendContactPhone", Text, O),
    ],
    line!(),
);

const STOCK_IN: &[Column] = &concat::<8, 14, 22>(
    [
        c("inStockCode", Text, R),
        c("inStockDate", Date, R),
        c("senderUscc", Text, O),
        c("sendEntName", Text, O),
        c("sendContact", Text, O),
        c("sendContactPhone", Text, O),
        c("storageNumber", Text, O),
        c("storageName", Text, O),
    ],
    line!(),
);

const STOCK_OUT: &[Column] = &concat::<11, 14, 25>(
    [
        c("outstockCode", Text, R),
        c("outStockDate", Date, R),
        c("sendEntName", Text, O),
        c("sendContact", Text, O),
        c("sendContactPhone", Text, O),
        c("receiverUscc", Text, R),
        c("receiverEntName", Text, O),
        c("receiveContact", Text, O),
        c("receiveContactPhone", Text, O),
        c("outStockStorageNumber", Text, O),
        c("outStockStorageName", Text, O),
    ],
    line!(),
);

/// `sendNumber` or `outstockCode`: one of the two is given.
const VEHICLE: &[Column] = &[
    c("licenseplate", Text, R),
    c("driverName", Text, R),
    c("driverContactPhone", Text, O),
    c("sendNumber", Text, O),
    c("senderUscc", Text, O),
    c("outstockCode", Text, O),
    c("operatorUscc", Text, O),
];

const CODE_LINK: &[Column] = &[
    c("from.scheme", Text, R),
    c("from.code", Text, R),
    c("to.scheme", Text, R),
    c("to.code", Text, R),
    c("quarantineNumber", Text, O),
    c("batch", Text, O),
    c("weight", Number, O),
];

const CERTIFICATE_REPORT: &[Column] = &[
    c("quarantineNumber", Text, R),
    c("productionBatch", Text, O),
    c("portOfEntry", Text, R),
    c("dateOfEntry", Date, R),
    c("country", Text, R),
    c("declaredWeight", Number, R),
    c("consignor", Text, R),
    c("consignee", Text, R),
    c("specification", Text, O),
    c("productBigClass", Text, R),
    c("hsCode", Text, R),
    c("clientId", Text, O),
    c("sourceType", Text, O),
];

const FLOW_REPORT: &[Column] = &[
    c("productionBatch", Text, R),
    c("quarantineNumber", Text, R),
    c("productName", Text, R),
    c("actualWeight", Number, R),
    c("direction", Text, R),
    c("counterpartType", Text, R),
    c("counterpart", Text, R),
    c("clientId", Text, O),
];

const NOTARISE: &[Column] = &[c("document", Json, R)];

/// The record types with spreadsheet columns (the others, a bureau's own
/// records, are submitted as JSON).
pub const IMPORTED_TYPES: &[&str] = &[
    "product_batch",
    "product",
    "shipment",
    "vehicle",
    "receipt",
    "stock_in",
    "stock_out",
    "code_link",
    "cold_storage",
    "central_warehouse",
    "enterprise",
    "certificate_report",
    "flow_report",
    "notarise",
];

/// The columns of `record_type`, in its parser's order; `None` for a type
/// not imported from spreadsheets.
pub fn columns(record_type: &str) -> Option<&'static [Column]> {
    Some(match record_type {
        "enterprise" => ENTERPRISE,
        "product" => PRODUCT,
        "product_batch" => PRODUCT_BATCH,
        "cold_storage" => COLD_STORAGE,
        "central_warehouse" => CENTRAL_WAREHOUSE,
        "shipment" => SHIPMENT,
        "receipt" => RECEIPT,
        "stock_in" => STOCK_IN,
        "stock_out" => STOCK_OUT,
        "vehicle" => VEHICLE,
        "code_link" => CODE_LINK,
        "certificate_report" => CERTIFICATE_REPORT,
        "flow_report" => FLOW_REPORT,
        "notarise" => NOTARISE,
        _ => return None,
    })
}

/// A path in seed 004's tables' spelling, segment by segment:
/// `quarantineInfo.dateOfEntry` → `Quarantine_info.Date_of_entry` (the
/// parser matches names with `_` removed and case ignored, so this is the
/// same field as the camelCase one and as the seed's own `Date_ofentry`).
pub fn seed_spelling(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut start = true;
    for ch in path.chars() {
        match ch {
            '.' | '[' | ']' => {
                out.push(ch);
                start = ch != ']';
            }
            c if c.is_ascii_uppercase() && !start => {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            }
            c if start => {
                out.push(c.to_ascii_uppercase());
                start = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The column a header names, whatever its spelling: each segment compared
/// with `_` and `-` removed and case ignored, list indices as written.
pub fn find(record_type: &str, header: &str) -> Option<&'static Column> {
    let key = normalize_path(header);
    let index_free = strip_indices(&key);
    columns(record_type)?.iter().find(|col| {
        let p = normalize_path(col.path);
        p == key || strip_indices(&p) == index_free
    })
}

/// A path with each segment's `_`/`-` removed and letters lower-cased.
pub fn normalize_path(path: &str) -> String {
    path.trim().chars().filter(|c| *c != '_' && *c != '-' && !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

fn strip_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for ch in path.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Record;
    use serde_json::{Map, Value, json};

    /// Each ```json block of docs/RECORDS.md, with its `type`.
    fn examples() -> Vec<Value> {
        let doc = include_str!("../../../docs/RECORDS.md");
        let mut out = Vec::new();
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "```json" {
                let text: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
                out.push(serde_json::from_str(&text.join("\n")).expect("a JSON example"));
            }
        }
        out
    }

    /// The first example of `kind` without `via` (which the node, not the record's parser, takes).
    fn example(kind: &str) -> Value {
        examples()
            .into_iter()
            .find(|e| e["type"] == kind && e.get("via").is_none())
            .unwrap_or_else(|| panic!("docs/RECORDS.md has an example of {kind}"))
    }

    /// Sets `path` (dots and `[i]`) in `record` to `value`, creating objects and list items.
    fn set(record: &mut Value, path: &str, value: Value) {
        let mut at = record;
        let segments: Vec<&str> = path.split('.').collect();
        for (i, seg) in segments.iter().enumerate() {
            let (name, index) = match seg.split_once('[') {
                Some((n, rest)) => (n, Some(rest.trim_end_matches(']').parse::<usize>().unwrap())),
                None => (*seg, None),
            };
            let last = i + 1 == segments.len();
            let obj = at.as_object_mut().unwrap();
            // One spelling of a member only (the parser refuses a field given
            // twice): the example's own spelling makes way for this one.
            let existing = obj.keys().find(|k| normalize_path(k) == normalize_path(name)).cloned();
            let kept = existing.and_then(|k| obj.remove(&k));
            let fresh = || if index.is_some() { json!([]) } else { json!({}) };
            let slot = obj.entry(name.to_string()).or_insert_with(|| kept.unwrap_or_else(fresh));
            at = match index {
                Some(n) => {
                    let items = slot.as_array_mut().unwrap();
                    while items.len() <= n {
                        items.push(json!({}));
                    }
                    &mut items[n]
                }
                None => slot,
            };
            if last {
                *at = value.clone();
                return;
            }
        }
    }

    fn sample(kind: Kind) -> Value {
        match kind {
            Text => json!("X1"),
            Number => json!("1"),
            Date => json!("2020-01-01"),
            Bool => json!(false),
            Image => json!(format!("sha256:{}", "0".repeat(64))),
            Json => json!({"note": "x"}),
        }
    }

    /// Each column, camelCase and seed spelling, set on a valid example:
    /// the parser may refuse the value, but never as an unknown field.
    #[test]
    fn every_column_in_both_spellings_is_a_field_its_parser_takes() {
        for kind in IMPORTED_TYPES {
            let base = example(kind);
            Record::parse(&base).unwrap_or_else(|e| panic!("{kind}: the docs example parses: {e:?}"));
            for col in columns(kind).unwrap() {
                for spelling in [col.path.to_string(), seed_spelling(col.path)] {
                    let mut record = base.clone();
                    // Leave out what the example spells by an alias, so the column is the only spelling.
                    strip_aliases(&mut record, &spelling);
                    set(&mut record, &spelling, sample(col.kind));
                    if let Err(e) = Record::parse(&record) {
                        assert!(
                            !e.rule.starts_with("unknown field"),
                            "{kind}: column {spelling} is not a field of the parser: {} {}",
                            e.field,
                            e.rule
                        );
                    }
                }
            }
        }
    }

    /// Aliases the docs' examples use for a listed column's field.
    const ALIASES: &[(&str, &str)] =
        &[("containerNo", "containerNumber"), ("customsNo", "customsNumber"), ("inventory", "inventoryPieces"), ("Type", "storageType")];

    fn strip_aliases(record: &mut Value, path: &str) {
        let last = path.rsplit('.').next().unwrap_or(path);
        let parent = &path[..path.len() - last.len()].trim_end_matches('.');
        for (alias, field) in ALIASES {
            if normalize_path(field) == normalize_path(last) {
                let target = if parent.is_empty() { Some(&mut *record) } else { record.pointer_mut(&format!("/{}", parent.replace('.', "/"))) };
                if let Some(Value::Object(o)) = target {
                    o.remove(*alias);
                }
            }
        }
    }

    /// Every field of every example (nested, lists at `[0]`) is a listed column.
    #[test]
    fn every_field_of_the_docs_examples_is_a_column() {
        fn walk(prefix: &str, obj: &Map<String, Value>, out: &mut Vec<String>) {
            for (k, v) in obj {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match v {
                    Value::Object(o) if k != "document" => walk(&path, o, out),
                    Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            walk(&format!("{path}[{i}]"), item.as_object().unwrap(), out)
                        }
                    }
                    _ => out.push(path),
                }
            }
        }
        for e in examples() {
            let kind = e["type"].as_str().unwrap();
            if columns(kind).is_none() {
                continue;
            }
            let mut fields = Vec::new();
            walk("", e.as_object().unwrap(), &mut fields);
            // `via` is set by the node that took an app id's request.
            for f in fields.iter().filter(|f| *f != "type" && !f.starts_with("via.")) {
                let last = f.rsplit('.').next().unwrap();
                let aliased = ALIASES.iter().any(|(a, _)| normalize_path(a) == normalize_path(last));
                assert!(aliased || find(kind, f).is_some(), "{kind}: the docs example's field {f} has no column");
            }
        }
    }

    /// Every field docs/RECORDS.md's tables list for an imported type is a
    /// column (objects and lists by their members; a movement's line table
    /// as `productList[0].…`).
    #[test]
    fn every_field_of_the_docs_tables_is_a_column() {
        let doc = include_str!("../../../docs/RECORDS.md");
        let mut kind = "";
        let mut missing = Vec::new();
        for line in doc.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                kind = h.trim();
                continue;
            }
            if columns(kind).is_none() || !line.starts_with("| `") {
                continue;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (names, shape) = (cells[1], cells.get(4).copied().unwrap_or_default());
            if shape.contains("object") || shape.contains("lines") || shape.contains("array") || shape.starts_with("`{") {
                continue;
            }
            for name in names.split(',').map(|n| n.trim().trim_matches('`')) {
                let aliased = ALIASES.iter().any(|(a, _)| *a == name);
                let found = find(kind, name).is_some() || find(kind, &format!("productList[0].{name}")).is_some();
                if !aliased && !found {
                    missing.push(format!("{kind}: {name}"));
                }
            }
        }
        assert!(missing.is_empty(), "fields of docs/RECORDS.md without a column: {missing:?}");
    }

    #[test]
    fn seed_spelling_capitalises_each_segment_and_splits_words() {
        assert_eq!(seed_spelling("productLibraryId"), "Product_library_id");
        assert_eq!(seed_spelling("quarantineInfo.dateOfEntry"), "Quarantine_info.Date_of_entry");
        assert_eq!(seed_spelling("productList[0].numberOfPieces"), "Product_list[0].Number_of_pieces");
        assert_eq!(find("product_batch", "Quarantine_info.Date_ofentry").map(|c| c.path), Some("quarantineInfo.dateOfEntry"));
        assert_eq!(find("shipment", "productList[3].Weight").map(|c| c.kind), Some(Number));
        assert!(find("product_batch", "colour").is_none());
    }

    #[test]
    fn every_imported_type_is_a_record_type() {
        for kind in IMPORTED_TYPES {
            assert!(crate::records::RECORD_TYPES.contains(kind), "{kind}");
            assert!(columns(kind).is_some_and(|c| !c.is_empty()), "{kind}");
        }
    }
}
