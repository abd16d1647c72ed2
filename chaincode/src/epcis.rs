//! EPCIS 2.0 (GS1, JSON-LD): a trace as an `EPCISDocument`, and an
//! `EPCISDocument` captured as the movement records it expresses (issue 20).
//!
//! Export ([`document`]): each step of a [`Trace`] is an `ObjectEvent` (the
//! lot's entry `ADD`/`commissioning`, a shipment `shipping`, its receipt
//! `receiving`, a stock-in `storing`, a stock-out `departing`), each
//! `code_link` of the lot a `TransformationEvent` (`commissioning`: the
//! incoming code in, the linked code out). The goods are a class: the
//! product's GTIN and label batch as a GS1 Digital Link
//! (`https://id.gs1.org/01/…/10/…`), with two quantities, the pieces (a
//! count, no unit) and the weight (`KGM`); codes of a GS1 scheme are Digital
//! Links too, other codes `urn:coldchain:code:{scheme}:{code}`. Enterprises
//! are `readPoint`s (`urn:coldchain:enterprise:{USCC}`), cold storages
//! `bizLocation`s (`urn:coldchain:storage:{USCC}:{name}`), the parties of a
//! movement `sourceList`/`destinationList` entries by USCC
//! (`urn:coldchain:party:{USCC}`), its document a `bizTransactionList` entry
//! (`urn:coldchain:document:{USCC}:{kind}:{number}`). What EPCIS has no
//! member for (the counterpart's name and contact, the vehicles, the lot's
//! certificate) is in extension members of the `coldchain:` namespace
//! ([`NAMESPACE`]). Events are in the order the chain recorded them.
//!
//! Capture ([`capture`]): each event of a document becomes the record the
//! seeds define for it (docs/RECORDS.md, "EPCIS 2.0"), recorded by the
//! capturing enterprise; an event that is not one of those movements, or
//! names another enterprise as its actor, is refused naming the event, the
//! member and the rule. The records then go through the chaincode's rules
//! like any other ([`crate::State::check_sequence`]).

use crate::gs1::{DigitalLink, parse_digital_link, parse_element_string, percent_decode, percent_encode};
use crate::state::ledger::{CodeOrigin, Ledger, MovementKind, SEEN};
use crate::state::trace::{Step, Trace};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use serde_json::{Map, Number, Value, json};
use std::collections::BTreeMap;

/// The EPCIS 2.0 JSON-LD context.
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The namespace of this project's extension members (prefix `coldchain:`).
pub const NAMESPACE: &str = "urn:coldchain:epcis:";
/// The media type of an EPCIS 2.0 JSON-LD document.
pub const MEDIA_TYPE: &str = "application/ld+json";
/// Where GS1 Digital Links of goods and codes are rooted.
pub const DIGITAL_LINK_ROOT: &str = "https://id.gs1.org";
/// The most events one captured document may hold.
pub const MAX_EVENTS: usize = 1000;

/// A document refused: the member at fault (`epcisBody.eventList[3].bizStep`) and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct EpcisError {
    pub field: String,
    pub rule: String,
}

fn err(field: impl Into<String>, rule: impl Into<String>) -> EpcisError {
    EpcisError { field: field.into(), rule: rule.into() }
}

fn enc(s: &str) -> String {
    percent_encode(s, "")
}

fn party(uscc: &str) -> String {
    format!("urn:coldchain:party:{}", enc(uscc))
}

fn enterprise_location(uscc: &str) -> String {
    format!("urn:coldchain:enterprise:{}", enc(uscc))
}

fn storage_location(uscc: &str, storage: &str) -> String {
    format!("urn:coldchain:storage:{}:{}", enc(uscc), enc(storage))
}

fn document_uri(uscc: &str, kind: &str, number: &str) -> String {
    format!("urn:coldchain:document:{}:{kind}:{}", enc(uscc), enc(number))
}

/// The class of the goods: GTIN and batch as a Digital Link when the product
/// id is a 14-digit GTIN and the batch a valid AI (10), else a URN.
pub fn class_uri(product_id: &str, batch: &str) -> String {
    if product_id.len() == 14
        && let Ok(es) = parse_element_string(&format!("(01){product_id}(10){}", batch.replace('(', "\\(")))
        && es.lot() == Some(batch)
        && let Ok(link) = DigitalLink::from_element_string(&es)
    {
        return link.to_uri(DIGITAL_LINK_ROOT);
    }
    format!("urn:coldchain:class:{}:{}", enc(product_id), enc(batch))
}

/// A code of a scheme: a Digital Link when the scheme's codes are GS1
/// element strings, else `urn:coldchain:code:{scheme}:{code}`.
pub fn code_uri(l: &Ledger, scheme: &str, code: &str) -> String {
    if l.schemes().get(scheme).is_some_and(|s| s.gs1)
        && let Ok(es) = parse_element_string(code)
        && let Ok(link) = DigitalLink::from_element_string(&es)
    {
        return link.to_uri(DIGITAL_LINK_ROOT);
    }
    format!("urn:coldchain:code:{}:{}", enc(scheme), enc(code))
}

/// `YYYY-MM-DDThh:mm:ss.000+08:00`: a date (and time of day) of China
/// Standard Time; a date without a time is its midnight.
fn event_time(date: NaiveDate, time: Option<NaiveTime>) -> String {
    format!("{date}T{}.000+08:00", time.unwrap_or_default().format("%H:%M:%S"))
}

fn ms_time(ms: i64, offset_hours: i32) -> Option<String> {
    let offset = FixedOffset::east_opt(offset_hours * 3600)?;
    let t = DateTime::from_timestamp_millis(ms)?.with_timezone(&offset);
    Some(if offset_hours == 0 { t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string() } else { t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string() })
}

fn kg_number(kg: &str) -> Value {
    serde_json::from_str::<Number>(kg).map(Value::Number).unwrap_or_else(|_| Value::String(kg.to_string()))
}

fn quantities(class: &str, pieces: u64, kg: &str) -> Value {
    json!([{"epcClass": class, "quantity": pieces}, {"epcClass": class, "quantity": kg_number(kg), "uom": "KGM"}])
}

fn counterpart(step: &Step) -> Option<Value> {
    let p = &step.counterpart;
    let mut m = Map::new();
    for (k, v) in [("name", &p.name), ("contact", &p.contact), ("contactPhone", &p.contact_phone), ("address", &p.address)] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// The trace as an EPCIS 2.0 document. `block_time` gives a block's time
/// (milliseconds since the epoch) by height: the `recordTime` of each event,
/// and the `eventTime` of a code link (the record gives no other);
/// `created_ms` is the document's `creationDate`.
pub fn document(trace: &Trace, l: &Ledger, block_time: impl Fn(u64) -> Option<i64>, created_ms: i64) -> Result<Value, EpcisError> {
    let lot = &trace.lot;
    let class = class_uri(&lot.product_id, &lot.label_batch);
    let lot_ext = json!({"quarantineNumber": lot.quarantine_number, "certificateBatch": lot.certificate_batch, "productName": lot.product_name});
    let outside: BTreeMap<&str, &str> = trace.enterprises.iter().filter(|e| e.outside).map(|e| (e.uscc.as_str(), e.province.as_str())).collect();
    let place = |tx| l.get(&SEEN, tx).map(|s| (s.0, s.1)).ok_or_else(|| err("(trace)", format!("transaction {tx} is not on chain")));
    let record_time = |height: u64| block_time(height).and_then(|ms| ms_time(ms, 0));
    let mut events: Vec<((u64, u32, u8), Value)> = Vec::new();
    for step in &trace.steps {
        let at = place(&step.tx)?;
        let from = step.from.as_deref();
        let actor = match step.kind {
            MovementKind::Entry | MovementKind::StockIn => step.to.as_str(),
            _ => from.unwrap_or(&step.to),
        };
        let here = match &step.cold_storage {
            Some(s) => storage_location(actor, s),
            None => enterprise_location(actor),
        };
        let mut e = json!({
            "type": "ObjectEvent",
            "eventID": format!("urn:coldchain:event:{}", step.tx),
            "eventTime": event_time(step.date, step.time),
            "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE",
            "quantityList": quantities(&class, step.pieces, &step.weight_kg),
            "readPoint": {"id": here},
            "coldchain:lot": lot_ext,
        });
        if let Some(t) = record_time(at.0) {
            e["recordTime"] = json!(t);
        }
        let sender = from.unwrap_or(&step.to);
        match step.kind {
            MovementKind::Entry => {
                e["action"] = json!("ADD");
                e["bizStep"] = json!("commissioning");
                e["disposition"] = json!("active");
                e["bizLocation"] = json!({"id": here});
                e["bizTransactionList"] = json!([{"type": "cert", "bizTransaction": format!("urn:coldchain:certificate:{}:{}", enc(&lot.quarantine_number), enc(&lot.certificate_batch))}]);
                e["destinationList"] = json!([{"type": "owning_party", "destination": party(&step.to)}]);
                e["ilmd"] = json!({"cbvmda:lotNumber": lot.label_batch, "coldchain:productionDate": lot.production_date, "coldchain:portOfEntry": lot.port_of_entry});
            }
            MovementKind::Shipment => {
                e["bizStep"] = json!("shipping");
                e["disposition"] = json!("in_transit");
                e["bizTransactionList"] = json!([{"type": "desadv", "bizTransaction": document_uri(sender, "shipment", &step.document)}]);
                e["sourceList"] = json!([{"type": "owning_party", "source": party(sender)}]);
                e["destinationList"] = json!([{"type": "owning_party", "destination": party(&step.to)}]);
                if let Some(p) = outside.get(step.to.as_str()) {
                    e["coldchain:receiverProvince"] = json!(p);
                }
            }
            MovementKind::StockIn => {
                e["bizStep"] = json!("storing");
                e["disposition"] = json!("sellable_not_accessible");
                e["bizLocation"] = json!({"id": here});
                e["bizTransactionList"] = json!([{"bizTransaction": document_uri(&step.to, "stock_in", &step.document)}]);
                e["sourceList"] = json!([{"type": "owning_party", "source": party(sender)}]);
                e["destinationList"] = json!([{"type": "possessing_party", "destination": party(&step.to)}]);
            }
            MovementKind::StockOut => {
                e["bizStep"] = json!("departing");
                e["disposition"] = json!("in_transit");
                e["bizTransactionList"] = json!([{"bizTransaction": document_uri(sender, "stock_out", &step.document)}]);
                e["sourceList"] = json!([{"type": "owning_party", "source": party(sender)}]);
                e["destinationList"] = json!([{"type": "owning_party", "destination": party(&step.to)}]);
            }
        }
        if let Some(c) = counterpart(step) {
            e["coldchain:counterpart"] = c;
        }
        if !step.vehicles.is_empty() {
            e["coldchain:vehicles"] = step
                .vehicles
                .iter()
                .map(|v| {
                    let mut m = json!({"licensePlate": v.plate, "driverName": v.driver_name});
                    if let Some(p) = &v.driver_phone {
                        m["driverPhone"] = json!(p);
                    }
                    m
                })
                .collect();
        }
        events.push(((at.0, at.1, 0), e));
        // A receipt; goods leaving the enrolled enterprises are delivered by the shipment itself.
        if let (MovementKind::Shipment, Some(r)) = (step.kind, &step.received)
            && r.tx != step.tx
        {
            let rat = place(&r.tx)?;
            let mut e = json!({
                "type": "ObjectEvent",
                "eventID": format!("urn:coldchain:event:{}", r.tx),
                "eventTime": event_time(r.date, r.time),
                "eventTimeZoneOffset": "+08:00",
                "action": "OBSERVE",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "quantityList": quantities(&class, r.pieces, &r.weight_kg),
                "readPoint": {"id": enterprise_location(&step.to)},
                "bizTransactionList": [
                    {"type": "desadv", "bizTransaction": document_uri(sender, "shipment", &step.document)},
                    {"type": "recadv", "bizTransaction": document_uri(&step.to, "receipt", &r.document)},
                ],
                "sourceList": [{"type": "owning_party", "source": party(sender)}],
                "destinationList": [{"type": "owning_party", "destination": party(&step.to)}],
                "coldchain:lot": lot_ext,
            });
            if let Some(t) = record_time(rat.0) {
                e["recordTime"] = json!(t);
            }
            events.push(((rat.0, rat.1, 1), e));
        }
    }
    for c in &trace.codes {
        let CodeOrigin::Link { from_scheme, from_code } = &c.origin else { continue };
        let at = place(&c.tx)?;
        let ms = block_time(at.0).ok_or_else(|| err("(trace)", format!("the time of block {} is not known to this node", at.0)))?;
        let issuer = c.issuer_uscc.as_deref().unwrap_or(&lot.origin_uscc);
        let mut e = json!({
            "type": "TransformationEvent",
            "eventID": format!("urn:coldchain:event:{}", c.tx),
            "eventTime": ms_time(ms, 8),
            "recordTime": ms_time(ms, 0),
            "eventTimeZoneOffset": "+08:00",
            "inputEPCList": [code_uri(l, from_scheme, from_code)],
            "outputEPCList": [code_uri(l, &c.scheme, &c.code)],
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": enterprise_location(issuer)},
            "coldchain:lot": lot_ext,
        });
        if let Some(kg) = &c.weight_kg {
            e["outputQuantityList"] = json!([{"epcClass": class, "quantity": kg_number(kg), "uom": "KGM"}]);
        }
        events.push(((at.0, at.1, 0), e));
    }
    events.sort_by_key(|(k, _)| *k);
    Ok(json!({
        "@context": [CONTEXT, {"coldchain": NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": ms_time(created_ms, 0),
        "epcisBody": {"eventList": events.into_iter().map(|(_, e)| e).collect::<Vec<_>>()},
    }))
}

/// One record a captured event maps to (a shipping event with vehicles maps
/// to the shipment and a `vehicle` record for each).
#[derive(Clone, Debug, PartialEq)]
pub struct Captured {
    /// The event's index in `epcisBody.eventList`.
    pub event: usize,
    pub record: Value,
}

/// What a record's member is, in the event it was mapped from: for errors
/// the chaincode finds in a captured record.
pub fn event_member(record_field: &str) -> &'static str {
    let f = record_field.to_ascii_lowercase().replace('_', "");
    let has = |s: &str| f.contains(s);
    if has("productlist") || has("weight") {
        "quantityList"
    } else if has("time") || has("date") {
        "eventTime"
    } else if has("sendnumber") || has("receivernumber") || has("instockcode") || has("outstockcode") {
        "bizTransactionList"
    } else if has("receiveruscc") {
        "destinationList"
    } else if has("senderuscc") {
        "sourceList"
    } else if has("storage") {
        "bizLocation"
    } else if has("province") {
        "coldchain:receiverProvince"
    } else if has("licenseplate") || has("driver") {
        "coldchain:vehicles"
    } else if has("entname") || has("contact") || has("address") {
        "coldchain:counterpart"
    } else if has(".from") {
        "inputEPCList"
    } else if has(".to") {
        "outputEPCList"
    } else {
        "(event)"
    }
}

/// A captured record the chaincode refused (`index` into `captured`), as
/// the capture's error: the event it came from, the member of the event the
/// record's field was mapped from, and the record's field and rule.
pub fn refusal(captured: &[Captured], index: usize, e: &crate::RecordError) -> EpcisError {
    let Some(c) = captured.get(index) else { return err("epcisBody.eventList", format!("{}: {}", e.field, e.rule)) };
    let kind = c.record.get("type").and_then(Value::as_str).unwrap_or("record");
    err(format!("epcisBody.eventList[{}].{}", c.event, event_member(&e.field)), format!("as {kind}: {}: {}", e.field, e.rule))
}

/// The bizStep's name: bare (`shipping`) or as a CBV URI.
fn vocabulary(v: &str, kind: &str) -> String {
    for prefix in [
        format!("https://ref.gs1.org/cbv/{kind}-"),
        format!("https://gs1.org/voc/{kind}-"),
        format!("urn:epcglobal:cbv:{}:", kind.to_ascii_lowercase()),
    ] {
        if let Some(rest) = v.strip_prefix(&prefix) {
            return rest.to_string();
        }
    }
    v.to_string()
}

/// A URN `urn:coldchain:{kind}:{part}:{part}…`, its parts decoded.
fn urn_parts(uri: &str, kind: &str, n: usize) -> Option<Vec<String>> {
    let rest = uri.strip_prefix(&format!("urn:coldchain:{kind}:"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() != n {
        return None;
    }
    parts.into_iter().map(|p| percent_decode(p).ok().filter(|s| !s.is_empty())).collect()
}

/// One event, with the path of its members for errors.
struct Event<'a> {
    at: String,
    e: &'a Map<String, Value>,
}

impl<'a> Event<'a> {
    fn field(&self, member: &str) -> String {
        format!("{}.{member}", self.at)
    }

    fn get(&self, member: &str) -> Option<&'a Value> {
        self.e.get(member).or_else(|| member.strip_prefix("coldchain:").and_then(|m| self.e.get(&format!("{NAMESPACE}{m}"))))
    }

    fn str(&self, member: &str) -> Result<Option<&'a str>, EpcisError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(err(self.field(member), "must be a string")),
        }
    }

    fn req_str(&self, member: &str, what: &str) -> Result<&'a str, EpcisError> {
        self.str(member)?.ok_or_else(|| err(self.field(member), format!("is required: {what}")))
    }

    fn array(&self, member: &str) -> Result<&'a [Value], EpcisError> {
        match self.get(member) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(err(self.field(member), "must be an array")),
        }
    }

    /// The date (and time of day) of China Standard Time the event happened:
    /// `YYYY-MM-DD` when it is midnight there, else `YYYY-MM-DDThh:mm:ss+08:00`.
    fn moment(&self) -> Result<String, EpcisError> {
        let t = self.req_str("eventTime", "when the movement happened")?;
        let t = DateTime::parse_from_rfc3339(t).map_err(|e| err(self.field("eventTime"), format!("is not an RFC 3339 date-time: {e}")))?;
        self.req_str("eventTimeZoneOffset", "the offset of eventTime's local time, e.g. +08:00")?;
        let cst = t.with_timezone(&FixedOffset::east_opt(8 * 3600).ok_or_else(|| err(self.field("eventTime"), "China Standard Time is UTC+8"))?);
        Ok(if cst.time() == NaiveTime::MIN { cst.date_naive().to_string() } else { cst.format("%Y-%m-%dT%H:%M:%S+08:00").to_string() })
    }

    /// The USCC of the one `sourceList`/`destinationList` entry of `kind`.
    fn party(&self, list: &str, key: &str, kinds: &[&str]) -> Result<Option<String>, EpcisError> {
        let mut found = None;
        for (i, s) in self.array(list)?.iter().enumerate() {
            let at = format!("{list}[{i}]");
            let kind = s.get("type").and_then(Value::as_str).map(|t| vocabulary(t, "SDT")).unwrap_or_default();
            if !kinds.contains(&kind.as_str()) {
                continue;
            }
            let uri = s.get(key).and_then(Value::as_str).ok_or_else(|| err(self.field(&format!("{at}.{key}")), "must be a URI"))?;
            let uscc = urn_parts(uri, "party", 1)
                .map(|mut p| p.remove(0))
                .ok_or_else(|| err(self.field(&format!("{at}.{key}")), format!("\"{uri}\" is not a party by USCC: urn:coldchain:party:{{USCC}}")))?;
            if found.as_ref().is_some_and(|f| f != &uscc) {
                return Err(err(self.field(&at), format!("names a second {} party; a movement has one", kinds.join(" or "))));
            }
            found = Some(uscc);
        }
        Ok(found)
    }

    /// The document of `kind` in `bizTransactionList`: its enterprise's USCC and number.
    fn document(&self, kind: &str) -> Result<Option<(String, String)>, EpcisError> {
        for (i, t) in self.array("bizTransactionList")?.iter().enumerate() {
            let uri = t
                .get("bizTransaction")
                .and_then(Value::as_str)
                .ok_or_else(|| err(self.field(&format!("bizTransactionList[{i}].bizTransaction")), "must be a URI"))?;
            if let Some(rest) = uri.strip_prefix("urn:coldchain:document:") {
                let parts: Vec<&str> = rest.split(':').collect();
                if parts.len() == 3 && parts[1] == kind {
                    let decode = |p: &str| percent_decode(p).ok().filter(|s| !s.is_empty());
                    return match (decode(parts[0]), decode(parts[2])) {
                        (Some(u), Some(n)) => Ok(Some((u, n))),
                        _ => Err(err(self.field(&format!("bizTransactionList[{i}].bizTransaction")), "names no enterprise or number")),
                    };
                }
            }
        }
        Ok(None)
    }

    fn req_document(&self, kind: &str, what: &str) -> Result<(String, String), EpcisError> {
        self.document(kind)?
            .ok_or_else(|| err(self.field("bizTransactionList"), format!("needs the {what}: urn:coldchain:document:{{USCC}}:{kind}:{{number}}")))
    }

    /// The USCC a location names (`readPoint` or `bizLocation`), and the cold storage if it is one.
    fn location(&self, member: &str) -> Result<Option<(String, Option<String>)>, EpcisError> {
        let Some(v) = self.get(member) else { return Ok(None) };
        let id = v.get("id").and_then(Value::as_str).ok_or_else(|| err(self.field(&format!("{member}.id")), "must be a URI"))?;
        if let Some(p) = urn_parts(id, "enterprise", 1) {
            return Ok(Some((p[0].clone(), None)));
        }
        if let Some(p) = urn_parts(id, "storage", 2) {
            return Ok(Some((p[0].clone(), Some(p[1].clone()))));
        }
        Err(err(
            self.field(&format!("{member}.id")),
            format!("\"{id}\" is not an enterprise (urn:coldchain:enterprise:{{USCC}}) or a cold storage (urn:coldchain:storage:{{USCC}}:{{name}})"),
        ))
    }

    /// The capturing enterprise must be the one the event names as its actor.
    fn own(&self, member: &str, named: Option<&str>, me: &str, role: &str) -> Result<(), EpcisError> {
        match named {
            Some(u) if u == me => Ok(()),
            Some(u) => Err(err(
                self.field(member),
                format!("names {u} as the {role}, but the capture is by {me}: an enterprise captures the events it records itself"),
            )),
            None => Err(err(self.field(member), format!("is required: the {role} (the capturing enterprise, {me})"))),
        }
    }

    /// `productList`: one line per class, its pieces (a count) and weight (`KGM`).
    fn lines(&self, list: &str) -> Result<Vec<Value>, EpcisError> {
        let quarantine = self.get("coldchain:lot").and_then(|l| l.get("quarantineNumber")).and_then(Value::as_str);
        let mut by_class: Vec<(String, Option<Value>, Option<Value>, usize)> = Vec::new();
        for (i, q) in self.array(list)?.iter().enumerate() {
            let at = format!("{list}[{i}]");
            let class = q.get("epcClass").and_then(Value::as_str).ok_or_else(|| err(self.field(&format!("{at}.epcClass")), "must be a URI"))?;
            let quantity = q.get("quantity").filter(|v| v.as_f64().is_some_and(|n| n > 0.0)).ok_or_else(|| {
                err(self.field(&format!("{at}.quantity")), "is required: a positive number (pieces without uom, kilograms with uom KGM)")
            })?;
            let slot = match by_class.iter().position(|c| c.0 == class) {
                Some(p) => p,
                None => {
                    by_class.push((class.to_string(), None, None, i));
                    by_class.len() - 1
                }
            };
            let entry = &mut by_class[slot];
            let (target, what) = match q.get("uom").and_then(Value::as_str) {
                None => (&mut entry.1, "pieces"),
                Some("KGM") => (&mut entry.2, "weight"),
                Some(u) => {
                    return Err(err(self.field(&format!("{at}.uom")), format!("\"{u}\" is not mapped: pieces have no uom, the weight is KGM")));
                }
            };
            if target.is_some() {
                return Err(err(self.field(&at), format!("gives the {what} of {class} twice")));
            }
            *target = Some(quantity.clone());
        }
        if by_class.is_empty() {
            return Err(err(self.field(list), "is required: the goods, by class (GTIN and batch), their pieces and their weight in KGM"));
        }
        by_class
            .into_iter()
            .map(|(class, pieces, weight, i)| {
                let at = self.field(&format!("{list}[{i}]"));
                let (product, batch) = parse_class(&class).map_err(|rule| err(format!("{at}.epcClass"), rule))?;
                let pieces = pieces
                    .filter(|p| p.as_u64().is_some())
                    .ok_or_else(|| err(&at, format!("{class} needs its pieces: a whole number without uom")))?;
                let weight = weight.ok_or_else(|| err(&at, format!("{class} needs its weight: a quantity with uom KGM")))?;
                let mut line = json!({"productLibraryId": product, "batch": batch, "numberOfPieces": pieces, "weight": weight});
                if let Some(q) = quarantine {
                    line["quarantineNumber"] = json!(q);
                }
                Ok(line)
            })
            .collect()
    }

    /// `coldchain:counterpart` into the record's fields: `names` gives the
    /// field of `name`, `contact`, `contactPhone` and `address`, in that order
    /// (`None`: the record has no such field).
    fn counterpart(&self, record: &mut Value, names: [Option<&str>; 4]) -> Result<(), EpcisError> {
        let Some(c) = self.get("coldchain:counterpart") else { return Ok(()) };
        let c = c.as_object().ok_or_else(|| err(self.field("coldchain:counterpart"), "must be an object"))?;
        for (k, v) in c {
            let field = ["name", "contact", "contactPhone", "address"].iter().position(|m| m == k).and_then(|i| names[i]);
            let field = field.ok_or_else(|| {
                let known: Vec<&str> =
                    ["name", "contact", "contactPhone", "address"].iter().zip(names).filter(|(_, n)| n.is_some()).map(|(m, _)| *m).collect();
                err(self.field(&format!("coldchain:counterpart.{k}")), format!("is not mapped for this record: {}", known.join(", ")))
            })?;
            record[field] = v.clone();
        }
        Ok(())
    }
}

/// The product id and batch of a class URI.
fn parse_class(uri: &str) -> Result<(String, String), String> {
    if let Some(p) = urn_parts(uri, "class", 2) {
        return Ok((p[0].clone(), p[1].clone()));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let link = parse_digital_link(uri).map_err(|e| format!("\"{uri}\" is not a GS1 Digital Link: {e}"))?;
        let es = link.element_string();
        return match (es.gtin(), es.lot()) {
            (Some(g), Some(l)) => Ok((g.to_string(), l.to_string())),
            _ => Err(format!("\"{uri}\" names no GTIN (01) and batch (10): the goods of a movement are a product's batch")),
        };
    }
    Err(format!("\"{uri}\" is not a class of goods: a GS1 Digital Link /01/{{GTIN}}/10/{{batch}} or urn:coldchain:class:{{product}}:{{batch}}"))
}

/// The scheme and code of a code URI.
fn parse_code(l: &Ledger, uri: &str) -> Result<(String, String), String> {
    if let Some(p) = urn_parts(uri, "code", 2) {
        return Ok((p[0].clone(), p[1].clone()));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let link = parse_digital_link(uri).map_err(|e| format!("\"{uri}\" is not a GS1 Digital Link: {e}"))?;
        let es = link.element_string();
        let candidates = [es.to_plain(), es.to_bracketed()];
        let gs1 = || l.schemes().values().filter(|s| s.gs1);
        // A code on chain, or else the one GS1 scheme whose pattern it matches.
        if let Some(found) =
            gs1().find_map(|s| candidates.iter().find(|c| l.code(&s.scheme_id, c).is_some()).map(|c| (s.scheme_id.clone(), c.clone())))
        {
            return Ok(found);
        }
        let matching: Vec<(String, String)> =
            gs1().filter_map(|s| candidates.iter().find(|c| s.code_problem(c).is_none()).map(|c| (s.scheme_id.clone(), c.clone()))).collect();
        return match matching.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(format!("{} is a code of no GS1 code scheme on chain", es.to_bracketed())),
            _ => Err(format!("{} matches several GS1 code schemes; name it as urn:coldchain:code:{{scheme}}:{{code}}", es.to_bracketed())),
        };
    }
    Err(format!("\"{uri}\" is not a code: a GS1 Digital Link or urn:coldchain:code:{{scheme}}:{{code}}"))
}

/// The records an EPCIS 2.0 document captured by the enterprise `me` (its
/// USCC) maps to, in the document's order.
pub fn capture(doc: &Value, me: &str, l: &Ledger) -> Result<Vec<Captured>, EpcisError> {
    let root = doc.as_object().ok_or_else(|| err("(body)", "must be an EPCISDocument: a JSON object"))?;
    if root.get("type").and_then(Value::as_str) != Some("EPCISDocument") {
        return Err(err("type", "must be \"EPCISDocument\""));
    }
    if root.get("@context").is_none() {
        return Err(err("@context", format!("is required: the EPCIS 2.0 context, {CONTEXT}")));
    }
    if !root.get("schemaVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with('2')) {
        return Err(err("schemaVersion", "must be \"2.0\": this is EPCIS 2.0 capture"));
    }
    let events = root
        .get("epcisBody")
        .and_then(|b| b.get("eventList"))
        .and_then(Value::as_array)
        .ok_or_else(|| err("epcisBody.eventList", "is required: the events, an array"))?;
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(err("epcisBody.eventList", format!("must hold 1 to {MAX_EVENTS} events, got {}", events.len())));
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let at = format!("epcisBody.eventList[{i}]");
        let e = e.as_object().ok_or_else(|| err(&at, "must be an event: a JSON object"))?;
        let ev = Event { at, e };
        for record in capture_event(&ev, me, l)? {
            out.push(Captured { event: i, record });
        }
    }
    Ok(out)
}

fn capture_event(ev: &Event, me: &str, l: &Ledger) -> Result<Vec<Value>, EpcisError> {
    let kind = ev.req_str("type", "ObjectEvent or TransformationEvent")?;
    let step = vocabulary(ev.req_str("bizStep", "what the event did: shipping, receiving, storing, departing or commissioning")?, "BizStep");
    match kind {
        "ObjectEvent" => {}
        "TransformationEvent" if step == "commissioning" => return code_link(ev, me, l),
        "TransformationEvent" => {
            return Err(err(ev.field("bizStep"), format!("\"{step}\": a TransformationEvent is captured as a code_link, bizStep commissioning")));
        }
        other => {
            return Err(err(
                ev.field("type"),
                format!("{other} is not mapped to a record: ObjectEvent (movements) and TransformationEvent (code links) are"),
            ));
        }
    }
    match ev.req_str("action", "OBSERVE")? {
        "OBSERVE" => {}
        "ADD" if step == "commissioning" => {
            return Err(err(
                ev.field("action"),
                "ADD commissioning is a lot's entry: a product_batch record with its certificates (quarantine, customs, disinfection, nucleic acid), which EPCIS does not carry; submit it as a product_batch",
            ));
        }
        other => return Err(err(ev.field("action"), format!("{other} is not mapped: a movement is observed (OBSERVE)"))),
    }
    if !ev.array("epcList")?.is_empty() {
        return Err(err(ev.field("epcList"), "instance EPCs are not mapped: a movement's goods are classes with quantities (quantityList)"));
    }
    let when = ev.moment()?;
    let mut records = Vec::new();
    match step.as_str() {
        "shipping" => {
            let sender = ev.party("sourceList", "source", &["owning_party"])?;
            ev.own("sourceList", sender.as_deref(), me, "sender (owning_party)")?;
            let receiver = ev.party("destinationList", "destination", &["owning_party"])?;
            let receiver = receiver.ok_or_else(|| err(ev.field("destinationList"), "is required: the receiver, an owning_party by USCC"))?;
            let (doc_owner, number) = ev.req_document("shipment", "shipment's number")?;
            ev.own("bizTransactionList", Some(&doc_owner), me, "shipment's sender")?;
            let mut lines = ev.lines("quantityList")?;
            if let Some((uscc, storage)) = ev.location("readPoint")? {
                ev.own("readPoint", Some(&uscc), me, "place the goods left")?;
                if let Some(s) = storage {
                    lines.iter_mut().for_each(|line| line["storageName"] = json!(s));
                }
            }
            let mut r = json!({"type": "shipment", "sendNumber": number, "sendTime": when, "receiverUscc": receiver, "productList": lines});
            ev.counterpart(&mut r, [Some("receiverEntName"), Some("receiveContact"), Some("receiveContactPhone"), Some("receiveAddress")])?;
            if let Some(p) = ev.str("coldchain:receiverProvince")? {
                r["receiverProvince"] = json!(p);
            }
            records.push(r);
            records.extend(vehicles(ev, json!({"sendNumber": number}))?);
        }
        "receiving" => {
            let receiver = ev.party("destinationList", "destination", &["owning_party"])?;
            ev.own("destinationList", receiver.as_deref(), me, "receiver (owning_party)")?;
            let (sender, send_number) = ev.req_document("shipment", "shipment received (desadv)")?;
            if let Some(s) = ev.party("sourceList", "source", &["owning_party"])?
                && s != sender
            {
                return Err(err(ev.field("sourceList"), format!("names {s} as the sender, but the shipment is {sender}'s")));
            }
            let (owner, number) = ev.req_document("receipt", "receipt's own number (recadv)")?;
            ev.own("bizTransactionList", Some(&owner), me, "receipt's receiver")?;
            records.push(json!({
                "type": "receipt", "receiverNumber": number, "sendNumber": send_number, "senderUscc": sender, "receiveTime": when,
                "productList": ev.lines("quantityList")?,
            }));
        }
        "storing" | "stocking" => {
            let operator = ev.party("destinationList", "destination", &["possessing_party", "owning_party"])?;
            ev.own("destinationList", operator.as_deref(), me, "cold storage operator (possessing_party)")?;
            let (owner, code) = ev.req_document("stock_in", "stock-in's number")?;
            ev.own("bizTransactionList", Some(&owner), me, "stock-in's operator")?;
            let mut r = json!({"type": "stock_in", "inStockCode": code, "inStockDate": when, "productList": ev.lines("quantityList")?});
            if let Some(from) = ev.party("sourceList", "source", &["owning_party"])? {
                r["senderUscc"] = json!(from);
            }
            if let Some((uscc, Some(storage))) = ev.location("bizLocation")?.or(ev.location("readPoint")?) {
                ev.own("bizLocation", Some(&uscc), me, "cold storage's operator")?;
                r["storageName"] = json!(storage);
            }
            ev.counterpart(&mut r, [Some("sendEntName"), Some("sendContact"), Some("sendContactPhone"), None])?;
            records.push(r);
        }
        "departing" => {
            let operator = ev.party("sourceList", "source", &["owning_party", "possessing_party"])?;
            ev.own("sourceList", operator.as_deref(), me, "cold storage operator")?;
            let receiver = ev.party("destinationList", "destination", &["owning_party"])?;
            let receiver = receiver.ok_or_else(|| err(ev.field("destinationList"), "is required: the receiver, an owning_party by USCC"))?;
            let (owner, code) = ev.req_document("stock_out", "stock-out's number")?;
            ev.own("bizTransactionList", Some(&owner), me, "stock-out's operator")?;
            let mut r = json!({"type": "stock_out", "outstockCode": code, "outStockDate": when, "receiverUscc": receiver, "productList": ev.lines("quantityList")?});
            if let Some((uscc, Some(storage))) = ev.location("readPoint")? {
                ev.own("readPoint", Some(&uscc), me, "cold storage's operator")?;
                r["outStockStorageName"] = json!(storage);
            }
            ev.counterpart(&mut r, [Some("receiverEntName"), Some("receiveContact"), Some("receiveContactPhone"), None])?;
            records.push(r);
            records.extend(vehicles(ev, json!({"outstockCode": code}))?);
        }
        other => {
            return Err(err(
                ev.field("bizStep"),
                format!("\"{other}\" is not mapped to a record: shipping (shipment), receiving (receipt), storing (stock_in), departing (stock_out)"),
            ));
        }
    }
    Ok(records)
}

fn vehicles(ev: &Event, carried: Value) -> Result<Vec<Value>, EpcisError> {
    ev.array("coldchain:vehicles")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = ev.field(&format!("coldchain:vehicles[{i}]"));
            let s = |k: &str| v.get(k).and_then(Value::as_str);
            let (Some(plate), Some(driver)) = (s("licensePlate"), s("driverName")) else {
                return Err(err(at, "needs licensePlate and driverName (and driverPhone when known)"));
            };
            let mut r = json!({"type": "vehicle", "licenseplate": plate, "driverName": driver});
            if let Some(p) = s("driverPhone") {
                r["driverContactPhone"] = json!(p);
            }
            if let Some(o) = carried.as_object() {
                for (k, v) in o {
                    r[k] = v.clone();
                }
            }
            Ok(r)
        })
        .collect()
}

fn code_link(ev: &Event, me: &str, l: &Ledger) -> Result<Vec<Value>, EpcisError> {
    let one = |member: &str| -> Result<(String, String), EpcisError> {
        match ev.array(member)? {
            [Value::String(uri)] => parse_code(l, uri).map_err(|rule| err(ev.field(&format!("{member}[0]")), rule)),
            _ => Err(err(ev.field(member), "must hold one code: a code_link links one code to one")),
        }
    };
    let (from, to) = (one("inputEPCList")?, one("outputEPCList")?);
    if let Some((uscc, _)) = ev.location("readPoint")? {
        ev.own("readPoint", Some(&uscc), me, "enterprise issuing the linked code")?;
    }
    let mut r = json!({"type": "code_link", "from": {"scheme": from.0, "code": from.1}, "to": {"scheme": to.0, "code": to.1}});
    match ev.array("outputQuantityList")? {
        [] => {}
        [q] if q.get("uom").and_then(Value::as_str) == Some("KGM") && q.get("quantity").is_some() => r["weight"] = q["quantity"].clone(),
        _ => return Err(err(ev.field("outputQuantityList"), "holds at most the weight the linked code stands for, one quantity with uom KGM")),
    }
    Ok(vec![r])
}

#[cfg(test)]
mod tests;
