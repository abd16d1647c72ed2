//! What the chain knows after applying its records: enrolled enterprises,
//! lots of goods and who holds how much, every movement, code schemes and
//! codes, reports, alerts and notices. Every collection is ordered, so the
//! ledger's bytes (and its digest) are the same on every validator.
//!
//! The trace indexes are small: each lot lists the ids of its movements
//! (4 bytes a movement) and its codes; holdings are keyed by enterprise.

use super::chunked::Chunked;
use crate::dictionary::Dictionaries;
use crate::fields::Qty;
use crate::hash::Hash;
use crate::transaction::TxId;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub type EntId = u32;
pub type LotId = u32;
pub type MovId = u32;
pub type StorageId = u32;

/// A bureau of the consortium, from genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bureau {
    pub name: String,
    pub province: String,
    pub validator_key: [u8; 32],
    pub admin_key: Option<[u8; 32]>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Licence {
    pub licence_type: String,
    pub number: Option<String>,
    pub image: Option<Hash>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enterprise {
    pub uscc: String,
    pub name: String,
    pub province: String,
    pub enterprise_type: String,
    pub address: String,
    pub district: String,
    pub latitude: f64,
    pub longitude: f64,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub legal_person: Option<String>,
    pub licences: Vec<Licence>,
    pub public_key: [u8; 32],
    pub suspended: bool,
    /// The enrolment and every later change.
    pub history: Vec<TxId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub category: String,
    pub country: String,
    pub shelf_life: Option<(u64, String)>,
    pub specification: Option<(String, String)>,
    pub registration_number: Option<String>,
    pub manufacturer: Option<String>,
    pub label_image: Option<Hash>,
    pub image: Option<Hash>,
    pub tx: TxId,
}

/// The documents that came with a lot (seed 004 tables 6–10).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LotDocuments {
    pub quarantine_image: Option<Hash>,
    pub customs_number: Option<String>,
    pub waybill_number: Option<String>,
    pub consumer_enterprises: Option<String>,
    pub disinfection: Option<(String, NaiveDate, bool)>,
    pub nucleic_acid: Option<(String, NaiveDate, String)>,
    pub release_certificate: Option<(String, NaiveDate)>,
}

/// A lot: the goods of one entry quarantine certificate and production
/// batch, the matching key seed 000 uses between provinces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lot {
    pub quarantine_number: String,
    pub certificate_batch: String,
    pub product_id: String,
    pub product_name: String,
    pub label_batch: String,
    pub container: Option<String>,
    pub production_date: NaiveDate,
    pub entry_date: NaiveDate,
    pub port_of_entry: String,
    pub consignor: String,
    pub consignee: String,
    pub origin: EntId,
    pub entered: Qty,
    pub documents: LotDocuments,
    pub tx: TxId,
    pub movements: Vec<MovId>,
    pub codes: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// The lot's first stock-in by its importer (product batch record).
    Entry,
    Shipment,
    StockIn,
    StockOut,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reception {
    pub qty: Qty,
    pub date: NaiveDate,
    pub tx: TxId,
    pub document: String,
}

/// One step of custody of a lot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub lot: LotId,
    pub from: Option<EntId>,
    pub to: EntId,
    pub qty: Qty,
    pub date: NaiveDate,
    pub tx: TxId,
    pub height: u64,
    pub document: String,
    pub storage: Option<StorageId>,
    /// For a shipment: what the receiver confirmed, once it has.
    pub received: Option<Reception>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Vehicle {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShipmentLine {
    pub lot: LotId,
    pub product_id: String,
    pub label_batch: String,
    pub qty: Qty,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shipment {
    pub sender: EntId,
    pub receiver: EntId,
    pub number: String,
    pub date: NaiveDate,
    pub lines: Vec<ShipmentLine>,
    /// One movement per lot shipped.
    pub movements: Vec<MovId>,
    pub vehicles: Vec<Vehicle>,
    pub receipt: Option<TxId>,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColdStorage {
    pub operator: EntId,
    pub code: Option<String>,
    pub name: String,
    pub address: String,
    pub district: String,
    pub usable_area_m2: Option<String>,
    pub storage_variety: Option<String>,
    pub inventory_tonnes: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub storage_type: String,
    pub tx: TxId,
}

/// A central supervision warehouse's record of a container (seed 004 table 12).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WarehouseRecord {
    pub data_id: String,
    pub operator: EntId,
    pub container: String,
    pub production_batch: String,
    pub quarantine_number: Option<String>,
    pub nucleic_result: String,
    pub certificate_number: Option<String>,
    pub certificate_date: Option<NaiveDate>,
    pub pieces: u64,
    pub gross_grams: Option<u64>,
    pub tx: TxId,
    pub fields: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CodeScheme {
    pub scheme_id: String,
    pub province: String,
    pub name: String,
    pub pattern: String,
    pub resolver_url: String,
    pub rule_doc_sha256: Hash,
    pub issued_count: u64,
    pub updated_at: u64,
    pub tx: TxId,
    #[serde(skip)]
    pub regex: Option<regex::Regex>,
}

impl CodeScheme {
    pub fn matches(&self, code: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(code))
    }
}

/// How a code came to belong to its lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum CodeOrigin {
    /// Issued on a product batch record (its `traceCode`).
    ProductBatch,
    /// The parent code a product batch record named.
    ParentCode,
    /// Named on a line of a shipment, receipt or stock movement.
    MovementLine,
    /// An explicit `code_link` from another code.
    Link { from_scheme: String, from_code: String },
    /// Named on a `code_link` (as `from`) by its certificate number and batch.
    MatchingKey,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodeEntry {
    pub lot: LotId,
    /// The enterprise that issued or linked the code: where a trace from it starts.
    pub issuer: Option<EntId>,
    pub origin: CodeOrigin,
    pub tx: TxId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowDirection {
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CertificateReport {
    pub province: String,
    pub quarantine_number: String,
    pub production_batch: Option<String>,
    pub port_of_entry: String,
    pub date_of_entry: NaiveDate,
    pub country: String,
    pub declared_grams: u64,
    pub consignor: String,
    pub consignee: String,
    pub specification: Option<String>,
    pub product_big_class: String,
    pub hs_code: String,
    pub reported_on: NaiveDate,
    pub client_id: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowReport {
    pub province: String,
    pub production_batch: String,
    pub quarantine_number: String,
    pub product_name: String,
    pub actual_grams: u64,
    pub direction: FlowDirection,
    pub counterpart_kind: String,
    pub counterpart: String,
    pub reported_on: NaiveDate,
    pub client_id: Option<String>,
    pub tx: TxId,
}

/// Disposal states of an alert, in the only order they may be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Sealed,
    Recalled,
    Destroyed,
    Closed,
}

impl AlertState {
    pub fn parse(s: &str) -> Option<AlertState> {
        Some(match s {
            "sealed" => AlertState::Sealed,
            "recalled" => AlertState::Recalled,
            "destroyed" => AlertState::Destroyed,
            "closed" => AlertState::Closed,
            _ => return None,
        })
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Sealed => "sealed",
            AlertState::Recalled => "recalled",
            AlertState::Destroyed => "destroyed",
            AlertState::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disposal {
    pub province: String,
    pub state: AlertState,
    pub note: Option<String>,
    pub height: u64,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub id: TxId,
    pub province: String,
    pub scheme: String,
    pub code: String,
    pub lot: LotId,
    pub holder: Option<EntId>,
    pub reason: String,
    pub tested_at: NaiveDate,
    pub lab: String,
    pub height: u64,
    pub time_ms: i64,
    pub state: AlertState,
    pub disposals: Vec<Disposal>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    pub id: TxId,
    pub province: String,
    pub title: String,
    pub content: String,
    pub alert: Option<TxId>,
    pub height: u64,
    pub time_ms: i64,
}

/// A client of the national report interfaces (seed 000 §2: HTTP Basic).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportClient {
    pub client_id: String,
    pub province: String,
    /// SHA-256 of `clientId:secret`; the secret itself is never on chain.
    pub credential_sha256: Hash,
    pub revoked: bool,
    pub tx: TxId,
}

/// An app id issued to an enterprise (`app_credential`): the credential of
/// seed 004's signed requests, served by the issuing bureau's validator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppCredential {
    pub appid: String,
    pub uscc: String,
    pub province: String,
    /// The validator whose node holds (derives) the secret.
    pub validator_key: [u8; 32],
    pub revoked: bool,
    /// The issuing transaction; the secret is derived from it.
    pub tx: TxId,
}

/// An auditor's key, registered by a bureau (`auditor`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Auditor {
    pub name: String,
    pub province: String,
    pub revoked: bool,
    pub tx: TxId,
}

/// A bureau's read of other provinces' unmasked data inside an alert's
/// trace (`access_log`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessLog {
    pub tx: TxId,
    /// The reading bureau's province.
    pub reader: String,
    pub alert: TxId,
    /// The provinces whose data was read.
    pub provinces: Vec<String>,
    pub what: String,
    /// The province of the validator whose gateway served the read.
    pub served_by: String,
    pub height: u64,
    pub time_ms: i64,
}

/// A dictionary amendment waiting for a bureau quorum.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingAmendment {
    pub dictionary: String,
    pub add: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
    pub approvals: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notarisation {
    pub signer: [u8; 32],
    pub height: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Receipt,
    StockIn,
    StockOut,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Ledger {
    pub bureaus: BTreeMap<String, Bureau>,
    pub dictionaries: Dictionaries,
    pub amendments: BTreeMap<Hash, PendingAmendment>,
    pub enterprises: Vec<Enterprise>,
    pub enterprise_ids: BTreeMap<String, EntId>,
    pub enterprise_keys: BTreeMap<[u8; 32], EntId>,
    pub products: BTreeMap<(EntId, String), Product>,
    pub lots: Vec<Lot>,
    pub lot_ids: BTreeMap<(String, String), LotId>,
    pub holdings: BTreeMap<(EntId, LotId), Qty>,
    pub movements: Chunked<Movement>,
    pub shipments: BTreeMap<(EntId, String), Shipment>,
    pub documents: BTreeSet<(EntId, DocumentKind, String)>,
    pub cold_storages: Vec<ColdStorage>,
    pub storage_ids: BTreeMap<(EntId, String), StorageId>,
    pub warehouse_records: BTreeMap<String, WarehouseRecord>,
    pub schemes: BTreeMap<String, CodeScheme>,
    pub codes: BTreeMap<(String, String), CodeEntry>,
    pub certificate_reports: Vec<CertificateReport>,
    pub report_days: BTreeSet<(String, String, NaiveDate)>,
    /// (certificate number, production batch) pairs certificate reports named.
    pub reported_batches: BTreeSet<(String, String)>,
    pub flow_reports: Vec<FlowReport>,
    pub flow_keys: BTreeSet<(String, String, String, FlowDirection, u64)>,
    pub alerts: BTreeMap<TxId, Alert>,
    pub notices: Vec<Notice>,
    pub report_clients: BTreeMap<String, ReportClient>,
    pub app_credentials: BTreeMap<String, AppCredential>,
    pub auditors: BTreeMap<[u8; 32], Auditor>,
    pub access_logs: Vec<AccessLog>,
    pub notarisations: BTreeMap<TxId, Notarisation>,
    /// Lots by container number (for associated-product warnings).
    pub containers: BTreeMap<String, BTreeSet<LotId>>,
    /// Stock-ins by cold storage (for associated-product warnings).
    pub storage_visits: BTreeMap<StorageId, Vec<MovId>>,
}

impl Ledger {
    pub fn enterprise(&self, uscc: &str) -> Option<(EntId, &Enterprise)> {
        self.enterprise_ids.get(uscc).map(|id| (*id, &self.enterprises[*id as usize]))
    }

    pub fn bureau_of_admin(&self, key: &[u8; 32]) -> Option<&Bureau> {
        self.bureaus.values().find(|b| b.admin_key.as_ref() == Some(key))
    }

    pub fn bureau_of_validator(&self, key: &[u8; 32]) -> Option<&Bureau> {
        self.bureaus.values().find(|b| &b.validator_key == key)
    }

    /// Records a step of custody in the ledger and in its lot's list.
    pub fn add_movement(&mut self, m: Movement) -> MovId {
        let id = self.movements.len() as MovId;
        self.lots[m.lot as usize].movements.push(id);
        if let (MovementKind::StockIn, Some(storage)) = (m.kind, m.storage) {
            self.storage_visits.entry(storage).or_default().push(id);
        }
        self.movements.push(m);
        id
    }

    /// Takes a validated quantity out of an enterprise's holding.
    pub fn take(&mut self, ent: EntId, lot: LotId, qty: &Qty) {
        let held = self.holdings.get_mut(&(ent, lot)).expect("a validated holding");
        *held = held.minus(qty);
    }

    /// Adds a quantity to an enterprise's holding.
    pub fn give(&mut self, ent: EntId, lot: LotId, qty: &Qty) {
        let held = self.holdings.entry((ent, lot)).or_default();
        *held = held.plus(qty);
    }

    pub fn holding(&self, ent: EntId, lot: LotId) -> Qty {
        self.holdings.get(&(ent, lot)).copied().unwrap_or_default()
    }

    /// Lots `ent` holds or has held.
    pub fn lots_of(&self, ent: EntId) -> impl Iterator<Item = (LotId, Qty)> + '_ {
        self.holdings.range((ent, 0)..=(ent, LotId::MAX)).map(|((_, lot), q)| (*lot, *q))
    }

    /// The code scheme a code belongs to: the one named, or else the one
    /// scheme of `province` whose pattern it matches.
    pub fn scheme_for(&self, code: &str, named: Option<&str>, province: &str) -> Result<&CodeScheme, String> {
        if let Some(id) = named {
            let s = self.schemes.get(id).ok_or_else(|| format!("no code scheme \"{id}\" is registered"))?;
            if !s.matches(code) {
                return Err(format!("\"{code}\" does not match scheme {id}'s pattern {}", s.pattern));
            }
            return Ok(s);
        }
        let mut found = self.schemes.values().filter(|s| s.province == province && s.matches(code));
        match (found.next(), found.next()) {
            (Some(s), None) => Ok(s),
            (Some(a), Some(b)) => Err(format!(
                "\"{code}\" matches more than one of province {province}'s schemes ({}, {}); name it in traceCodeScheme",
                a.scheme_id, b.scheme_id
            )),
            (None, _) => Err(format!("\"{code}\" matches no code scheme of province {province}; register one or name it in traceCodeScheme")),
        }
    }

    pub fn code(&self, scheme: &str, code: &str) -> Option<&CodeEntry> {
        self.codes.get(&(scheme.to_string(), code.to_string()))
    }

    pub fn quorum_of_bureaus(&self) -> usize {
        let n = self.bureaus.values().filter(|b| b.admin_key.is_some()).count();
        n - n.saturating_sub(1) / 3
    }
}
