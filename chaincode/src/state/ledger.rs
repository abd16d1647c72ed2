//! What the chain knows after applying its records: enrolled enterprises,
//! lots of goods and who holds how much, every movement, code schemes and
//! codes, reports, alerts and notices. Every collection is ordered, so the
//! ledger's bytes (and its digest) are the same on every validator.
//!
//! Everything but the few small tables (bureaus, dictionaries, code schemes,
//! pending amendments, kept decoded in memory and written through) lives in
//! the state store, one [`Table`] each (see [`super::store`]). Each lot's
//! movements and codes are key ranges (`lot ‖ movement id`), so a trace
//! reads only the lot it follows and a movement never rewrites its lot.

use super::store::{Key, Kv, Table};
use crate::dictionary::Dictionaries;
use crate::fields::Qty;
use crate::hash::Hash;
use crate::transaction::TxId;
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub type EntId = u32;
pub type LotId = u32;
pub type MovId = u32;
pub type StorageId = u32;

/// A bureau of the consortium: from genesis, or added by a `governance`
/// change (`add_validator`). A bureau that left (`remove_validator`) keeps
/// its entry, so what it signed stays attributed, but is no validator and
/// its admin key signs nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bureau {
    pub name: String,
    pub province: String,
    pub validator_key: [u8; 32],
    pub admin_key: Option<[u8; 32]>,
    /// The height the change that added it took effect at (none: genesis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_height: Option<u64>,
    /// The height the change that removed it took effect at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_height: Option<u64>,
}

impl Bureau {
    pub fn retired(&self) -> bool {
        self.retired_height.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Licence {
    pub licence_type: String,
    pub number: Option<String>,
    pub image: Option<Hash>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Not enrolled: a receiver a shipment named, outside the consortium or
    /// not yet enrolled by its bureau (issue 18 item 6). It has no key, signs
    /// nothing and is no counterpart of any record; goods shipped to it are
    /// delivered at once and a forward trace ends there. Its bureau's
    /// enrolment of the same USCC replaces it and keeps its history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LotDocuments {
    pub quarantine_image: Option<Hash>,
    pub customs_number: Option<String>,
    pub waybill_number: Option<String>,
    pub consumer_enterprises: Option<String>,
    pub disinfection: Option<(String, NaiveDate, bool)>,
    pub nucleic_acid: Option<(String, NaiveDate, String)>,
    pub release_certificate: Option<(String, NaiveDate)>,
    /// Digests of the documents' images (tables 7–10): the 报关单 (`consumerImg`),
    /// the disinfection certificate, the nucleic-acid report, the release certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_image: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disinfect_image: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nucleic_image: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_image: Option<Hash>,
    /// How the nucleic-acid sample was verified (`verifyMode`, table 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_mode: Option<String>,
}

impl LotDocuments {
    /// Whether a product batch record carries any document beyond its certificate.
    pub fn any(&self) -> bool {
        self.customs_number.is_some()
            || self.waybill_number.is_some()
            || self.consumer_enterprises.is_some()
            || self.disinfection.is_some()
            || self.nucleic_acid.is_some()
            || self.release_certificate.is_some()
    }

    /// Takes each document `newer` carries in place of this one's.
    pub fn update(&mut self, newer: &LotDocuments) {
        fn take<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
        take(&mut self.quarantine_image, &newer.quarantine_image);
        take(&mut self.customs_number, &newer.customs_number);
        take(&mut self.waybill_number, &newer.waybill_number);
        take(&mut self.consumer_enterprises, &newer.consumer_enterprises);
        take(&mut self.disinfection, &newer.disinfection);
        take(&mut self.nucleic_acid, &newer.nucleic_acid);
        take(&mut self.release_certificate, &newer.release_certificate);
        take(&mut self.customs_image, &newer.customs_image);
        take(&mut self.disinfect_image, &newer.disinfect_image);
        take(&mut self.nucleic_image, &newer.nucleic_image);
        take(&mut self.release_image, &newer.release_image);
        take(&mut self.verify_mode, &newer.verify_mode);
    }
}

/// A lot: the goods of one entry quarantine certificate and production
/// batch, the matching key seed 000 uses between provinces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    pub quarantine_number: String,
    pub certificate_batch: String,
    pub product_id: String,
    pub product_name: String,
    pub label_batch: String,
    pub container: Option<String>,
    pub production_date: NaiveDate,
    pub entry_date: NaiveDate,
    /// The time of day of entry (China Standard Time), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_time: Option<NaiveTime>,
    pub port_of_entry: String,
    pub consignor: String,
    pub consignee: String,
    pub origin: EntId,
    pub entered: Qty,
    pub documents: LotDocuments,
    pub tx: TxId,
    /// What the entering record said of the stock (table 5): the inventory
    /// left (`inventoryPieces`, `inventoryWeight`), the cold storage it is
    /// kept in (`storageName`, and the storage it names, when the importer
    /// registered one by that name or number), its specification.
    #[serde(default, skip_serializing_if = "Stock::is_empty")]
    pub stock: Stock,
}

/// A product batch record's stock fields (seed 004 table 5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_pieces: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_grams: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageId>,
    /// Specification and unit, e.g. `("25", "kg")`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<(String, String)>,
}

impl Stock {
    pub fn is_empty(&self) -> bool {
        *self == Stock::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// The lot's first stock-in by its importer (product batch record).
    Entry,
    Shipment,
    StockIn,
    StockOut,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reception {
    pub qty: Qty,
    pub date: NaiveDate,
    /// The time of day (China Standard Time), when the receipt gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<NaiveTime>,
    pub tx: TxId,
    pub document: String,
}

/// One step of custody of a lot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub lot: LotId,
    pub from: Option<EntId>,
    pub to: EntId,
    pub qty: Qty,
    pub date: NaiveDate,
    /// The time of day (China Standard Time), when the record gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<NaiveTime>,
    pub tx: TxId,
    pub height: u64,
    pub document: String,
    pub storage: Option<StorageId>,
    /// For a shipment: what the receiver confirmed, once it has.
    pub received: Option<Reception>,
    /// The other side as the record named it: a shipment's or stock-out's
    /// receiver (`receiverEntName`, `receiveContact`, `receiveContactPhone`,
    /// `receiveAddress`), a stock-in's sender (`sendEntName`, `sendContact`,
    /// `sendContactPhone`).
    #[serde(default, skip_serializing_if = "Party::is_empty")]
    pub counterpart: Party,
}

/// A counterpart's name and contact as a movement record gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Party {
    pub fn is_empty(&self) -> bool {
        *self == Party::default()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub lot: LotId,
    pub product_id: String,
    pub label_batch: String,
    pub qty: Qty,
    /// The cold storage the line names (table 14's `storage_number` or
    /// `storage_name`), as written: a storage outside the provinces need
    /// not be registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub sender: EntId,
    pub receiver: EntId,
    pub number: String,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<NaiveTime>,
    pub lines: Vec<ShipmentLine>,
    /// One movement per lot shipped.
    pub movements: Vec<MovId>,
    pub vehicles: Vec<Vehicle>,
    pub receipt: Option<TxId>,
    pub tx: TxId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Decimal degrees, WGS 84 (seed 003 §七); both or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

/// The vehicles that carried a stock-out (seed 004 tables 18, 20), kept
/// under (operator, outstock code) from the first vehicle recorded on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockOutVehicles {
    pub receiver: EntId,
    pub date: NaiveDate,
    /// The lots the stock-out handed over.
    pub lots: Vec<LotId>,
    pub vehicles: Vec<Vehicle>,
}

/// A central supervision warehouse's record of a container (seed 004 table 12).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Specification and unit (`specification`, `specificationUnit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<(String, String)>,
    /// Disinfection date (`disinfectData`) and nucleic-acid test date (`nucleicData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disinfect_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nucleic_date: Option<NaiveDate>,
    /// The customs declaration image's address (`customsImg`, a URL in the seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_image: Option<String>,
    /// The release certificate image's digest (`certificateImg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_image: Option<Hash>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// The codes are GS1 element strings (`codeSyntax: "gs1"`): besides the
    /// pattern, each is checked by the GS1 rules (check digits, AI lengths
    /// and characters). Absent from the bytes when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gs1: bool,
    #[serde(skip)]
    pub regex: Option<regex::Regex>,
}

impl CodeScheme {
    pub fn matches(&self, code: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(code))
    }

    /// Why `code` is not a code of this scheme: it does not match the
    /// pattern, or (a GS1 scheme) it breaks a GS1 rule; `None` when it is.
    pub fn code_problem(&self, code: &str) -> Option<String> {
        if !self.matches(code) {
            return Some(format!("\"{code}\" does not match scheme {}'s pattern {}", self.scheme_id, self.pattern));
        }
        if self.gs1
            && let Err(e) = crate::gs1::parse_element_string(code)
        {
            return Some(format!("\"{code}\" is not a GS1 element string, as scheme {}'s codes are: {e}", self.scheme_id));
        }
        None
    }
}

/// How a code came to belong to its lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodeEntry {
    pub lot: LotId,
    /// The enterprise that issued or linked the code: where a trace from it starts.
    pub issuer: Option<EntId>,
    pub origin: CodeOrigin,
    pub tx: TxId,
    /// The weight the code stands for, in grams, where a `code_link` gave
    /// it (一件一码: one code per piece). Absent from the entry's bytes when
    /// not given, so entries without it are as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grams: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowDirection {
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// 进口来源类型, a code of dictionary `source_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// A province's disposal step on an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disposal {
    pub province: String,
    pub state: AlertState,
    pub note: Option<String>,
    pub height: u64,
    pub tx: TxId,
    /// The goods this step sealed, recalled or destroyed in the province, in
    /// grams (and pieces, where counted); absent on `closed`, and on steps
    /// recorded before disposals carried quantities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grams: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<u64>,
    /// A `closed` step taken before every affected province had recorded a
    /// disposal: why, and which provinces had not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_disposal: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

impl Alert {
    /// A new open alert of `province`'s bureau, identified by the transaction that raised it.
    #[allow(clippy::too_many_arguments, reason = "an alert's fields, each given once by its one raiser")]
    pub fn open(
        province: String,
        (scheme, code): (String, String),
        lot: LotId,
        holder: Option<EntId>,
        reason: String,
        tested_at: NaiveDate,
        lab: String,
        (tx, height, time_ms): (TxId, u64, i64),
    ) -> Alert {
        Alert { id: tx, province, scheme, code, lot, holder, reason, tested_at, lab, height, time_ms, state: AlertState::Open, disposals: Vec::new() }
    }
}

/// A risk warning for a lot associated with an alert's lot (seed 003):
/// why, and the provinces whose bureaus it is addressed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub alert: TxId,
    pub lot: LotId,
    pub reason: String,
    pub detail: String,
    pub provinces: Vec<String>,
    pub height: u64,
    pub time_ms: i64,
}

/// Why a lot may not move: a positive nucleic-acid test (seed 000 §二.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stop {
    /// What was found, e.g. "nucleic-acid test positive (核酸检测阳性) by 天津海关技术中心".
    pub result: String,
    /// The record type that reported it (`product_batch`, `central_warehouse`).
    pub record: String,
    /// The province where it was recorded: its bureau holds the alert.
    pub province: String,
    pub tx: TxId,
    pub height: u64,
}

/// A published notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    pub id: TxId,
    pub province: String,
    pub title: String,
    pub content: String,
    pub alert: Option<TxId>,
    pub height: u64,
    pub time_ms: i64,
}

/// A validator's offence, proven by two votes it signed (`evidence` record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// The evidence transaction.
    pub id: TxId,
    /// The offending validator's province code.
    pub offender: String,
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub offence: String,
    pub view: u64,
    /// The epoch the votes were signed in (none: epoch 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The two votes, as signed: anyone can check them against genesis.
    pub votes: Vec<EvidenceVote>,
    /// The province of the validator whose node submitted it.
    pub reporter: String,
    pub height: u64,
    pub time_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceVote {
    pub kind: crate::vote::VoteKind,
    pub hash: Hash,
    /// The ed25519 signature, hex.
    pub signature: String,
}

/// A client of the national report interfaces (seed 000 §2: HTTP Basic).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Auditor {
    pub name: String,
    pub province: String,
    pub revoked: bool,
    pub tx: TxId,
}

/// A bureau's read of other provinces' unmasked data inside an alert's
/// trace (`access_log`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingAmendment {
    pub dictionary: String,
    pub add: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
    pub approvals: BTreeSet<String>,
}

/// A change to the consortium (`governance` record): its approvals, and
/// the height it took effect at once a quorum approved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceChange {
    /// `rotate_admin_key`, `add_validator`, `remove_validator` or `rotate_validator_key`.
    pub change: String,
    /// The bureau the change is about.
    pub province: String,
    /// Its new admin key (`rotate_admin_key`, `add_validator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<[u8; 32]>,
    /// Approvals it needed: the bureau quorum when it was proposed.
    pub quorum: usize,
    /// In order; the first is the proposal.
    pub approvals: Vec<GovernanceApproval>,
    pub activated_height: Option<u64>,
    /// The key it replaced, once in effect: the old admin key
    /// (`rotate_admin_key`), the old validator key (`rotate_validator_key`),
    /// the admin key of the bureau that left (`remove_validator`).
    pub previous_key: Option<[u8; 32]>,
    /// The new bureau's name (`add_validator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new validator key (`add_validator`, `rotate_validator_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_key: Option<[u8; 32]>,
    /// The epoch it started, once in effect (validator and consensus changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The consensus limits it sets (`set_consensus_params`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusLimits>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceApproval {
    pub province: String,
    pub tx: TxId,
    pub height: u64,
}

/// An admin key a `governance` change retired: it signs nothing any more,
/// and what it signed before stays its bureau's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormerAdminKey {
    pub province: String,
    /// The height of the change that retired it: it signed nothing after.
    pub until_height: u64,
    pub change: Hash,
}

/// A validator key a `governance` change retired (`rotate_validator_key`,
/// `remove_validator`): never a validator's key again; votes it signed in
/// the epochs before stay checkable (`evidence`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormerValidatorKey {
    pub province: String,
    /// The height of the change that retired it.
    pub until_height: u64,
    /// The epoch that change started: the key was its bureau's in the epochs before.
    pub until_epoch: u64,
    pub change: Hash,
}

/// A validator of an [`Epoch`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochValidator {
    pub name: String,
    pub province: String,
    pub public_key: [u8; 32],
}

/// A validator set on chain (issue 19): every validator change that takes
/// effect starts the next epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// 1, 2, … (epoch 0 is genesis's validator list, never stored).
    pub number: u64,
    /// The last block of the previous epoch: the block whose approval started this epoch.
    pub after_height: u64,
    /// The validators of this epoch, sorted by province code.
    pub validators: Vec<EpochValidator>,
    /// The governance change (its digest) that started it.
    pub change: Hash,
    /// The consensus limits of this epoch, once a `set_consensus_params`
    /// change set them (carried into every later epoch); none: genesis's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusLimits>,
}

/// Consensus limits a `set_consensus_params` change sets, from the next
/// epoch (docs/PROTOCOL.md, "Limits"). The transport's message limit
/// (`max_message_bytes`) is genesis's for the chain's life; a node builds
/// no block above half of it whatever `max_block_bytes` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusLimits {
    pub max_tx_bytes: u64,
    pub max_block_txs: u32,
    pub max_block_bytes: u64,
    pub max_clock_drift_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notarisation {
    pub signer: [u8; 32],
    pub height: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Receipt,
    StockIn,
    StockOut,
}

impl Key for DocumentKind {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        Some(match u8::take(input)? {
            0 => DocumentKind::Receipt,
            1 => DocumentKind::StockIn,
            2 => DocumentKind::StockOut,
            _ => return None,
        })
    }
}

impl Key for FlowDirection {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        Some(match u8::take(input)? {
            0 => FlowDirection::In,
            1 => FlowDirection::Out,
            _ => return None,
        })
    }
}

/// Where a transaction took effect: its block, its place in the block, and
/// whether it was applied (a rejected one's reason is in its receipt).
/// A transaction repeated in a later block keeps its first place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen(pub u64, pub u32, pub bool);

impl Seen {
    pub fn height(&self) -> u64 {
        self.0
    }
    pub fn index(&self) -> u32 {
        self.1
    }
    pub fn applied(&self) -> bool {
        self.2
    }
}

// The tables. Prefix bytes are part of the stored format: never reuse one.
/// The state's own figures ([`super::State`]: height, counts, root).
pub const META: Table<u8, u64> = Table::new(0x01, "meta");
pub const STATE_ROOT: Table<(), Hash> = Table::new(0x02, "state_root");
/// Every transaction on chain (applied or rejected): where it took effect.
pub const SEEN: Table<TxId, Seen> = Table::new(0x03, "seen");
pub const COUNTS: Table<u8, u64> = Table::new(0x04, "counts");
pub const BUREAUS: Table<String, Bureau> = Table::new(0x10, "bureaus");
pub const DICTIONARIES: Table<(), Dictionaries> = Table::new(0x11, "dictionaries");
pub const AMENDMENTS: Table<Hash, PendingAmendment> = Table::new(0x12, "amendments");
pub const SCHEMES: Table<String, CodeScheme> = Table::new(0x13, "schemes");
/// Changes to the consortium by their digest (`governance` records).
pub const GOVERNANCE: Table<Hash, GovernanceChange> = Table::new(0x14, "governance");
/// Admin keys retired by a `governance` change.
pub const FORMER_ADMIN_KEYS: Table<[u8; 32], FormerAdminKey> = Table::new(0x15, "former_admin_keys");
/// The validator sets after genesis's, by number (issue 19).
pub const EPOCHS: Table<u64, Epoch> = Table::new(0x16, "epochs");
/// Validator keys a governance change retired: never used again.
pub const FORMER_VALIDATOR_KEYS: Table<[u8; 32], FormerValidatorKey> = Table::new(0x17, "former_validator_keys");
pub const ENTERPRISES: Table<EntId, Enterprise> = Table::new(0x20, "enterprises");
pub const ENTERPRISE_IDS: Table<String, EntId> = Table::new(0x21, "enterprise_ids");
pub const ENTERPRISE_KEYS: Table<[u8; 32], EntId> = Table::new(0x22, "enterprise_keys");
pub const PRODUCTS: Table<(EntId, String), Product> = Table::new(0x23, "products");
pub const LOTS: Table<LotId, Lot> = Table::new(0x30, "lots");
/// (certificate number, production batch) → lot.
pub const LOT_IDS: Table<(String, String), LotId> = Table::new(0x31, "lot_ids");
/// Each lot's movements, in order.
pub const LOT_MOVEMENTS: Table<(LotId, MovId), ()> = Table::new(0x32, "lot_movements");
/// Each lot's codes, in the order they were registered: lot ‖ code sequence → (scheme, code).
pub const LOT_CODES: Table<(LotId, u64), (String, String)> = Table::new(0x33, "lot_codes");
pub const HOLDINGS: Table<(EntId, LotId), Qty> = Table::new(0x34, "holdings");
/// Lots by (product id, batch), under both the label batch and the
/// certificate's batch: a line that names no code is matched among these.
pub const LOT_BATCHES: Table<(String, String, LotId), ()> = Table::new(0x39, "lot_batches");
pub const MOVEMENTS: Table<MovId, Movement> = Table::new(0x35, "movements");
pub const SHIPMENTS: Table<(EntId, String), Shipment> = Table::new(0x36, "shipments");
pub const DOCUMENTS: Table<(EntId, DocumentKind, String), ()> = Table::new(0x37, "documents");
/// Lots by container number (for associated-product warnings).
pub const CONTAINERS: Table<(String, LotId), ()> = Table::new(0x38, "containers");
/// Lots stopped by a positive test, by (certificate, batch): a test recorded
/// before the lot's product batch stops it too.
pub const STOPS: Table<(String, String), Stop> = Table::new(0x3A, "stops");
/// Shipments by the plate of a vehicle that carried them: (plate, sender, shipment number).
pub const PLATES: Table<(String, EntId, String), ()> = Table::new(0x3B, "plates");
/// Shipments by the name of a driver who carried them: (driver, sender, shipment number).
pub const DRIVERS: Table<(String, EntId, String), ()> = Table::new(0x3C, "drivers");
/// Stock-outs that vehicles carried: (operator, outstock code) → the vehicles.
pub const STOCK_OUT_VEHICLES: Table<(EntId, String), StockOutVehicles> = Table::new(0x3D, "stock_out_vehicles");
/// Stock-outs by the plate of a vehicle that carried them: (plate, operator, outstock code).
pub const STOCK_OUT_PLATES: Table<(String, EntId, String), ()> = Table::new(0x3E, "stock_out_plates");
/// Stock-outs by the name of a driver who carried them: (driver, operator, outstock code).
pub const STOCK_OUT_DRIVERS: Table<(String, EntId, String), ()> = Table::new(0x3F, "stock_out_drivers");
pub const COLD_STORAGES: Table<StorageId, ColdStorage> = Table::new(0x40, "cold_storages");
pub const STORAGE_IDS: Table<(EntId, String), StorageId> = Table::new(0x41, "storage_ids");
/// Stock-ins by cold storage (for associated-product warnings).
pub const STORAGE_VISITS: Table<(StorageId, MovId), ()> = Table::new(0x42, "storage_visits");
pub const WAREHOUSE_RECORDS: Table<String, WarehouseRecord> = Table::new(0x43, "warehouse_records");
/// Central warehouse records by container: (container, data id).
pub const WAREHOUSE_CONTAINERS: Table<(String, String), ()> = Table::new(0x44, "warehouse_containers");
pub const CODES: Table<(String, String), CodeEntry> = Table::new(0x50, "codes");
pub const CERTIFICATE_REPORTS: Table<u64, CertificateReport> = Table::new(0x60, "certificate_reports");
pub const REPORT_DAYS: Table<(String, String, NaiveDate), ()> = Table::new(0x61, "report_days");
/// (certificate number, production batch) pairs certificate reports named.
pub const REPORTED_BATCHES: Table<(String, String), ()> = Table::new(0x62, "reported_batches");
pub const FLOW_REPORTS: Table<u64, FlowReport> = Table::new(0x63, "flow_reports");
pub const FLOW_KEYS: Table<(String, String, String, FlowDirection, u64), ()> = Table::new(0x64, "flow_keys");
pub const ALERTS: Table<TxId, Alert> = Table::new(0x70, "alerts");
pub const NOTICES: Table<u64, Notice> = Table::new(0x71, "notices");
/// A notice's place in [`NOTICES`] by its transaction id.
pub const NOTICE_IDS: Table<TxId, u64> = Table::new(0x72, "notice_ids");
/// Risk warnings an alert raised, by (alert, associated lot).
pub const WARNINGS: Table<(TxId, LotId), Warning> = Table::new(0x73, "warnings");
/// The same warnings by the province whose bureau they are addressed to.
pub const WARNED: Table<(String, TxId, LotId), ()> = Table::new(0x74, "warned");
pub const REPORT_CLIENTS: Table<String, ReportClient> = Table::new(0x80, "report_clients");
pub const APP_CREDENTIALS: Table<String, AppCredential> = Table::new(0x81, "app_credentials");
pub const AUDITORS: Table<[u8; 32], Auditor> = Table::new(0x82, "auditors");
pub const ACCESS_LOGS: Table<u64, AccessLog> = Table::new(0x83, "access_logs");
pub const NOTARISATIONS: Table<TxId, Notarisation> = Table::new(0x90, "notarisations");
/// (offender's province, view, offence) → the evidence.
pub const EVIDENCE: Table<(String, u64, u8), Evidence> = Table::new(0x91, "evidence");
/// Offences of epochs ≥ 1, by (epoch, offender, view, offence); epoch 0's are in [`EVIDENCE`].
pub const EPOCH_EVIDENCE: Table<(u64, String, u64, u8), Evidence> = Table::new(0x92, "epoch_evidence");
/// Statistics for bureaus ([`super::statistics`]): figures by (dimension, day, province, value).
pub const STATISTICS: Table<(u8, NaiveDate, String, String), super::statistics::Figures> = Table::new(0xA0, "statistics");
/// Enterprises enrolled now by (province, enterprise type).
pub const ENTERPRISE_COUNTS: Table<(String, String), super::statistics::EnterpriseCount> = Table::new(0xA1, "enterprise_counts");
/// Each province's enterprises: (province, enterprise) → enrolment day and last day it recorded anything.
pub const PROVINCE_ENTERPRISES: Table<(String, EntId), super::statistics::Activity> = Table::new(0xA2, "province_enterprises");
/// Records by an enterprise on a day: (day, province, enterprise) → count.
pub const ENTERPRISE_DAYS: Table<(NaiveDate, String, EntId), u64> = Table::new(0xA3, "enterprise_days");
/// Reports each province sent: (province, day, kind u8: 0 certificate, 1 flow, seq) → ().
pub const PROVINCE_REPORTS: Table<(String, NaiveDate, u8, u64), ()> = Table::new(0xA4, "province_reports");

/// The counted tables (keys of [`COUNTS`]): the next id of each is its count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Counter {
    Enterprises = 0,
    Lots = 1,
    Movements = 2,
    ColdStorages = 3,
    Codes = 4,
    CertificateReports = 5,
    FlowReports = 6,
    Notices = 7,
    AccessLogs = 8,
    Alerts = 9,
}

#[derive(Clone, Debug, Default)]
pub struct Ledger {
    kv: Kv,
    bureaus: BTreeMap<String, Bureau>,
    dictionaries: Dictionaries,
    amendments: BTreeMap<Hash, PendingAmendment>,
    schemes: BTreeMap<String, CodeScheme>,
}

impl Ledger {
    /// A ledger over `kv`, loading the small tables it keeps in memory.
    pub fn open(kv: Kv) -> Ledger {
        let bureaus = kv.scan_all(&BUREAUS).collect();
        let dictionaries = kv.get(&DICTIONARIES, &()).unwrap_or_default();
        let amendments = kv.scan_all(&AMENDMENTS).collect();
        let schemes = kv
            .scan_all(&SCHEMES)
            .map(|(id, mut s): (String, CodeScheme)| {
                s.regex = crate::records::code_scheme::compile(&s.pattern).ok();
                (id, s)
            })
            .collect();
        Ledger { kv, bureaus, dictionaries, amendments, schemes }
    }

    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    pub fn kv_mut(&mut self) -> &mut Kv {
        &mut self.kv
    }

    // ----- generic table access ---------------------------------------

    pub fn get<K: Key, V: Serialize + serde::de::DeserializeOwned>(&self, t: &Table<K, V>, k: &K) -> Option<V> {
        self.kv.get(t, k)
    }

    pub fn contains<K: Key, V: Serialize + serde::de::DeserializeOwned>(&self, t: &Table<K, V>, k: &K) -> bool {
        self.kv.contains(t, k)
    }

    pub fn put<K: Key, V: Serialize + serde::de::DeserializeOwned>(&mut self, t: &Table<K, V>, k: &K, v: &V) {
        self.kv.put(t, k, v)
    }

    pub fn delete<K: Key, V: Serialize + serde::de::DeserializeOwned>(&mut self, t: &Table<K, V>, k: &K) {
        self.kv.delete(t, k)
    }

    /// Entries whose key starts with `prefix`'s parts (a tuple's leading parts), in key order.
    pub fn scan<'a, K: Key, V: Serialize + serde::de::DeserializeOwned, P: Key>(
        &'a self,
        t: &'a Table<K, V>,
        prefix: &P,
    ) -> impl Iterator<Item = (K, V)> + use<'a, K, V, P> {
        self.kv.scan(t, prefix)
    }

    pub fn scan_all<'a, K: Key, V: Serialize + serde::de::DeserializeOwned>(
        &'a self,
        t: &'a Table<K, V>,
    ) -> impl Iterator<Item = (K, V)> + use<'a, K, V> {
        self.kv.scan_all(t)
    }

    /// How many entries a counted table has.
    pub fn count(&self, c: Counter) -> u64 {
        self.kv.get(&COUNTS, &(c as u8)).unwrap_or(0)
    }

    /// The next id of a counted table, counted as used.
    pub fn next_id(&mut self, c: Counter) -> u64 {
        let n = self.count(c);
        self.kv.put(&COUNTS, &(c as u8), &(n + 1));
        n
    }

    // ----- the small tables, in memory --------------------------------

    pub fn bureaus(&self) -> &BTreeMap<String, Bureau> {
        &self.bureaus
    }

    pub fn put_bureau(&mut self, b: Bureau) {
        self.kv.put(&BUREAUS, &b.province, &b);
        self.bureaus.insert(b.province.clone(), b);
    }

    pub fn dictionaries(&self) -> &Dictionaries {
        &self.dictionaries
    }

    pub fn set_dictionaries(&mut self, d: Dictionaries) {
        self.kv.put(&DICTIONARIES, &(), &d);
        self.dictionaries = d;
    }

    pub fn amendments(&self) -> &BTreeMap<Hash, PendingAmendment> {
        &self.amendments
    }

    pub fn put_amendment(&mut self, digest: Hash, a: PendingAmendment) {
        self.kv.put(&AMENDMENTS, &digest, &a);
        self.amendments.insert(digest, a);
    }

    pub fn remove_amendment(&mut self, digest: &Hash) -> Option<PendingAmendment> {
        self.kv.delete(&AMENDMENTS, digest);
        self.amendments.remove(digest)
    }

    pub fn schemes(&self) -> &BTreeMap<String, CodeScheme> {
        &self.schemes
    }

    pub fn put_scheme(&mut self, s: CodeScheme) {
        self.kv.put(&SCHEMES, &s.scheme_id, &s);
        self.schemes.insert(s.scheme_id.clone(), s);
    }

    // ----- enterprises -------------------------------------------------

    /// The enrolled enterprise of `uscc` (not a receiver recorded outside).
    pub fn enterprise(&self, uscc: &str) -> Option<(EntId, Enterprise)> {
        self.enterprise_or_outside(uscc).filter(|(_, e)| !e.outside)
    }

    /// The enterprise of `uscc`, enrolled or recorded as a receiver outside.
    pub fn enterprise_or_outside(&self, uscc: &str) -> Option<(EntId, Enterprise)> {
        let id = self.kv.get(&ENTERPRISE_IDS, &uscc.to_string())?;
        Some((id, self.enterprise_at(id)))
    }

    /// An enterprise by id; ids come from the ledger, so it exists.
    pub fn enterprise_at(&self, id: EntId) -> Enterprise {
        self.kv.get(&ENTERPRISES, &id).unwrap_or_else(|| panic!("state: enterprise {id} is missing"))
    }

    pub fn enterprise_of_key(&self, key: &[u8; 32]) -> Option<EntId> {
        self.kv.get(&ENTERPRISE_KEYS, key)
    }

    pub fn bureau_of_admin(&self, key: &[u8; 32]) -> Option<&Bureau> {
        self.bureaus.values().find(|b| b.admin_key.as_ref() == Some(key))
    }

    /// The province whose admin key `key` is or was: what an old key signed
    /// before a rotation stays its bureau's.
    pub fn province_of_admin_key(&self, key: &[u8; 32]) -> Option<String> {
        self.bureau_of_admin(key).map(|b| b.province.clone()).or_else(|| self.former_admin_key(key).map(|f| f.province))
    }

    pub fn former_admin_key(&self, key: &[u8; 32]) -> Option<FormerAdminKey> {
        self.kv.get(&FORMER_ADMIN_KEYS, key)
    }

    pub fn put_former_admin_key(&mut self, key: [u8; 32], former: FormerAdminKey) {
        self.kv.put(&FORMER_ADMIN_KEYS, &key, &former);
    }

    pub fn governance(&self, digest: &Hash) -> Option<GovernanceChange> {
        self.kv.get(&GOVERNANCE, digest)
    }

    pub fn put_governance(&mut self, digest: Hash, change: &GovernanceChange) {
        self.kv.put(&GOVERNANCE, &digest, change);
    }

    /// Every change, pending or in effect, by digest.
    pub fn governance_changes(&self) -> Vec<(Hash, GovernanceChange)> {
        self.kv.scan_all(&GOVERNANCE).collect()
    }

    /// The bureau whose validator key `key` is now (not a bureau that left,
    /// not a rotated key).
    pub fn bureau_of_validator(&self, key: &[u8; 32]) -> Option<&Bureau> {
        self.bureaus.values().find(|b| &b.validator_key == key && !b.retired())
    }

    /// The province whose validator key `key` is or was (a rotated key, a
    /// bureau that left): such a key is never anyone else's.
    pub fn province_of_validator_key(&self, key: &[u8; 32]) -> Option<String> {
        let now = self.bureaus.values().find(|b| &b.validator_key == key).map(|b| b.province.clone());
        now.or_else(|| self.former_validator_key(key).map(|f| f.province))
    }

    pub fn former_validator_key(&self, key: &[u8; 32]) -> Option<FormerValidatorKey> {
        self.kv.get(&FORMER_VALIDATOR_KEYS, key)
    }

    pub fn put_former_validator_key(&mut self, key: [u8; 32], former: FormerValidatorKey) {
        self.kv.put(&FORMER_VALIDATOR_KEYS, &key, &former);
    }

    /// The current epoch's number: 0 until a validator change took effect.
    pub fn epoch_number(&self) -> u64 {
        self.current_epoch().map_or(0, |e| e.number)
    }

    /// The current epoch; none in epoch 0 (genesis's validators).
    pub fn current_epoch(&self) -> Option<Epoch> {
        self.kv.scan_all(&EPOCHS).last().map(|(_, e)| e)
    }

    /// Every stored epoch (1, 2, …), ascending.
    pub fn epochs(&self) -> Vec<Epoch> {
        self.kv.scan_all(&EPOCHS).map(|(_, e)| e).collect()
    }

    pub fn epoch(&self, number: u64) -> Option<Epoch> {
        self.kv.get(&EPOCHS, &number)
    }

    /// The consensus limits governance set for the current epoch; `None`:
    /// genesis's.
    pub fn consensus_limits(&self) -> Option<ConsensusLimits> {
        self.current_epoch().and_then(|e| e.consensus)
    }

    pub fn put_epoch(&mut self, e: &Epoch) {
        self.kv.put(&EPOCHS, &e.number, e);
    }

    /// The validators now: every bureau that has not left, by province code.
    pub fn validators(&self) -> Vec<EpochValidator> {
        self.bureaus
            .values()
            .filter(|b| !b.retired())
            .map(|b| EpochValidator { name: b.name.clone(), province: b.province.clone(), public_key: b.validator_key })
            .collect()
    }

    /// The validator key of `province`'s bureau in `epoch`, if it was a
    /// validator then. Epoch 0 is genesis: a bureau not added later, with
    /// its first key (the retired key of the lowest epoch, else its key now).
    pub fn validator_key_in_epoch(&self, province: &str, epoch: u64) -> Option<[u8; 32]> {
        if epoch > 0 {
            return self.epoch(epoch)?.validators.into_iter().find(|v| v.province == province).map(|v| v.public_key);
        }
        let bureau = self.bureaus.get(province).filter(|b| b.added_height.is_none())?;
        let first_retired =
            self.kv.scan_all(&FORMER_VALIDATOR_KEYS).filter(|(_, f)| f.province == province).min_by_key(|(_, f)| f.until_epoch).map(|(k, _)| k);
        Some(first_retired.unwrap_or(bureau.validator_key))
    }

    // ----- lots, movements, holdings -----------------------------------

    /// A lot by id; ids come from the ledger, so it exists.
    pub fn lot_at(&self, id: LotId) -> Lot {
        self.kv.get(&LOTS, &id).unwrap_or_else(|| panic!("state: lot {id} is missing"))
    }

    pub fn movement_at(&self, id: MovId) -> Movement {
        self.kv.get(&MOVEMENTS, &id).unwrap_or_else(|| panic!("state: movement {id} is missing"))
    }

    /// A lot's movements, in the order they were recorded.
    pub fn lot_movements(&self, lot: LotId) -> Vec<MovId> {
        self.kv.scan(&LOT_MOVEMENTS, &lot).map(|((_, m), ())| m).collect()
    }

    /// A lot's codes (scheme, code), in the order they were registered.
    pub fn lot_codes(&self, lot: LotId) -> Vec<(String, String)> {
        self.lot_codes_iter(lot).collect()
    }

    /// The lot's (scheme, code) pairs, read as they are taken.
    pub fn lot_codes_iter(&self, lot: LotId) -> impl Iterator<Item = (String, String)> + '_ {
        self.kv.scan(&LOT_CODES, &lot).map(|(_, c)| c)
    }

    /// Records a step of custody in the ledger and in its lot's list.
    pub fn add_movement(&mut self, m: Movement) -> MovId {
        let id = self.next_id(Counter::Movements) as MovId;
        self.kv.put(&LOT_MOVEMENTS, &(m.lot, id), &());
        if let (MovementKind::StockIn, Some(storage)) = (m.kind, m.storage) {
            self.kv.put(&STORAGE_VISITS, &(storage, id), &());
        }
        self.kv.put(&MOVEMENTS, &id, &m);
        id
    }

    /// Takes a validated quantity out of an enterprise's holding.
    pub fn take(&mut self, ent: EntId, lot: LotId, qty: &Qty) {
        let held = self.holding(ent, lot);
        self.kv.put(&HOLDINGS, &(ent, lot), &held.minus(qty));
    }

    /// Adds a quantity to an enterprise's holding.
    pub fn give(&mut self, ent: EntId, lot: LotId, qty: &Qty) {
        let held = self.holding(ent, lot);
        self.kv.put(&HOLDINGS, &(ent, lot), &held.plus(qty));
    }

    pub fn holding(&self, ent: EntId, lot: LotId) -> Qty {
        self.kv.get(&HOLDINGS, &(ent, lot)).unwrap_or_default()
    }

    /// Lots `ent` holds or has held.
    pub fn lots_of(&self, ent: EntId) -> impl Iterator<Item = (LotId, Qty)> + use<'_> {
        self.kv.scan(&HOLDINGS, &ent).map(|((_, lot), q)| (lot, q))
    }

    // ----- codes -----------------------------------------------------------

    /// The code scheme a code belongs to: the one named, or else the one
    /// scheme of `province` whose pattern it matches.
    pub fn scheme_for(&self, code: &str, named: Option<&str>, province: &str) -> Result<&CodeScheme, String> {
        if let Some(id) = named {
            let s = self.schemes.get(id).ok_or_else(|| format!("no code scheme \"{id}\" is registered"))?;
            return s.code_problem(code).map_or(Ok(s), Err);
        }
        let mut found = self.schemes.values().filter(|s| s.province == province && s.matches(code));
        match (found.next(), found.next()) {
            (Some(s), None) => s.code_problem(code).map_or(Ok(s), Err),
            (Some(a), Some(b)) => Err(format!(
                "\"{code}\" matches more than one of province {province}'s schemes ({}, {}); name it in traceCodeScheme",
                a.scheme_id, b.scheme_id
            )),
            (None, _) => Err(format!("\"{code}\" matches no code scheme of province {province}; register one or name it in traceCodeScheme")),
        }
    }

    pub fn code(&self, scheme: &str, code: &str) -> Option<CodeEntry> {
        self.kv.get(&CODES, &(scheme.to_string(), code.to_string()))
    }

    /// Registers a code as belonging to `entry.lot`, unless it is known already.
    pub fn add_code(&mut self, scheme: String, code: String, entry: CodeEntry) {
        let key = (scheme, code);
        if self.kv.contains(&CODES, &key) {
            return;
        }
        let seq = self.next_id(Counter::Codes);
        self.kv.put(&LOT_CODES, &(entry.lot, seq), &key);
        self.kv.put(&CODES, &key, &entry);
    }

    pub fn quorum_of_bureaus(&self) -> usize {
        let n = self.bureaus.values().filter(|b| b.admin_key.is_some() && !b.retired()).count();
        n - n.saturating_sub(1) / 3
    }
}

/// Every table of the state, by prefix (for readers of raw entries: proofs).
fn table_names() -> [(u8, &'static str); 61] {
    macro_rules! named {
        ($($t:ident),* $(,)?) => { [$(($t.prefix(), $t.name())),*, (super::merkle::NODE_PREFIX, "state_tree")] };
    }
    named!(
        META,
        STATE_ROOT,
        SEEN,
        COUNTS,
        BUREAUS,
        DICTIONARIES,
        AMENDMENTS,
        SCHEMES,
        GOVERNANCE,
        FORMER_ADMIN_KEYS,
        EPOCHS,
        FORMER_VALIDATOR_KEYS,
        ENTERPRISES,
        ENTERPRISE_IDS,
        ENTERPRISE_KEYS,
        PRODUCTS,
        LOTS,
        LOT_IDS,
        LOT_MOVEMENTS,
        LOT_CODES,
        HOLDINGS,
        LOT_BATCHES,
        MOVEMENTS,
        SHIPMENTS,
        DOCUMENTS,
        CONTAINERS,
        STOPS,
        PLATES,
        DRIVERS,
        STOCK_OUT_VEHICLES,
        STOCK_OUT_PLATES,
        STOCK_OUT_DRIVERS,
        COLD_STORAGES,
        STORAGE_IDS,
        STORAGE_VISITS,
        WAREHOUSE_RECORDS,
        WAREHOUSE_CONTAINERS,
        CODES,
        CERTIFICATE_REPORTS,
        REPORT_DAYS,
        REPORTED_BATCHES,
        FLOW_REPORTS,
        FLOW_KEYS,
        ALERTS,
        NOTICES,
        NOTICE_IDS,
        WARNINGS,
        WARNED,
        REPORT_CLIENTS,
        APP_CREDENTIALS,
        AUDITORS,
        ACCESS_LOGS,
        NOTARISATIONS,
        EVIDENCE,
        EPOCH_EVIDENCE,
        STATISTICS,
        ENTERPRISE_COUNTS,
        PROVINCE_ENTERPRISES,
        ENTERPRISE_DAYS,
        PROVINCE_REPORTS,
    )
}

/// A stored entry as a reader sees it: its table, its key's parts, and its
/// value as JSON (CBOR read generically). Read from the bytes alone, so a
/// verifier shows what it verified, not what a node said.
pub fn describe_entry(key: &[u8], value: Option<&[u8]>) -> (String, String, Option<serde_json::Value>) {
    let table = key.first().and_then(|p| table_names().into_iter().find(|(q, _)| q == p)).map_or("unknown", |(_, n)| n);
    let mut rest = key.get(1..).unwrap_or_default();
    let parts = match key.first() {
        Some(0x50) => <(String, String)>::take(&mut rest).map(|(s, c)| format!("scheme {s}, code {c}")),
        Some(0x21) => String::take(&mut rest).map(|u| format!("uscc {u}")),
        Some(0x20) => EntId::take(&mut rest).map(|e| format!("enterprise #{e}")),
        Some(0x30) => LotId::take(&mut rest).map(|l| format!("lot #{l}")),
        Some(0x34) => <(EntId, LotId)>::take(&mut rest).map(|(e, l)| format!("enterprise #{e}, lot #{l}")),
        _ => None,
    };
    let parts = parts.filter(|_| rest.is_empty()).unwrap_or_else(|| hex::encode(key.get(1..).unwrap_or_default()));
    let value = value.map(|v| cbor4ii::serde::from_slice::<serde_json::Value>(v).unwrap_or_else(|_| serde_json::Value::String(hex::encode(v))));
    (table.to_string(), parts, value)
}
