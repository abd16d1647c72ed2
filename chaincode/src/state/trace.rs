//! Reading the ledger: a code in any scheme resolved to its lot and every
//! linked code; the custody graph of a lot from any code, forward, backward
//! or both; an alert's affected set by province; associated lots.
//!
//! A trace walks only the movements of one lot (each lot lists them), so
//! its cost is linear in the steps it returns, whatever the ledger's size.

use super::State;
use super::ledger::{
    ALERTS, Alert, AlertState, COLD_STORAGES, CodeOrigin, EntId, Enterprise, Ledger, Lot, LotId, MovId, Movement, MovementKind, Party, SHIPMENTS,
    STOCK_OUT_VEHICLES, StorageId,
};
use crate::fields::{Qty, kg};
use crate::transaction::TxId;
use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Forward,
    Backward,
    Both,
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "forward" => Ok(Direction::Forward),
            "backward" => Ok(Direction::Backward),
            "both" => Ok(Direction::Both),
            other => Err(format!("\"{other}\" is not a direction: forward, backward or both")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("no code scheme \"{0}\" is registered")]
    UnknownScheme(String),
    #[error("code {code} of scheme {scheme} is not known on chain")]
    UnknownCode { scheme: String, code: String },
    #[error("no alert {0} is on chain")]
    UnknownAlert(TxId),
}

/// A lot (entry certificate number and batch) as the chain knows it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotView {
    pub quarantine_number: String,
    pub certificate_batch: String,
    pub product_id: String,
    pub product_name: String,
    pub label_batch: String,
    pub container: Option<String>,
    pub production_date: NaiveDate,
    pub entry_date: NaiveDate,
    /// The time of day (China Standard Time, hh:mm:ss), when the record gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false, example = "10:05:30"))]
    pub entry_time: Option<NaiveTime>,
    pub port_of_entry: String,
    pub consignor: String,
    pub consignee: String,
    pub origin_uscc: String,
    pub entered_pieces: u64,
    /// Kilograms, decimal text.
    pub entered_kg: String,
    pub nucleic_acid: Option<String>,
    /// Why the lot may not move, if it may not: a positive test stopped it,
    /// or its nucleic-acid test or disinfection is not on chain (seed 000
    /// §二.5, 四无五不; docs/RECORDS.md, "Goods that may not move").
    pub stopped: Option<String>,
    /// The product batch record that entered the lot.
    pub tx: TxId,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// A code of the lot in some province's scheme, and how it came to the lot
/// (`via`: `product_batch`, `parent_code`, `movement_line`, `link` with
/// `from_scheme` and `from_code`, or `matching_key`).
pub struct LinkedCode {
    pub scheme: String,
    pub code: String,
    pub province: String,
    pub resolver_url: String,
    pub issuer_uscc: Option<String>,
    #[serde(flatten)]
    pub origin: CodeOrigin,
    pub tx: TxId,
    /// Kilograms the code stands for (一件一码), decimal text, where its `code_link` gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub weight_kg: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// A code resolved to its lot and every code of the lot.
pub struct Resolution {
    pub scheme: String,
    pub code: String,
    pub lot: LotView,
    /// The codes of the lot, in every scheme, this one first: at most
    /// [`MAX_CODES_PER_SCHEME`] of each scheme.
    pub codes: Vec<LinkedCode>,
    /// Codes of the lot not listed in `codes` (a scheme with a code per
    /// piece may have thousands); absent when every code is listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub codes_omitted: u64,
}

/// Most codes of one scheme listed with a lot (a resolution, a trace, a
/// GS1 linkset): every province's scheme is still listed, and an answer
/// stays small when a scheme has a code per piece.
pub const MAX_CODES_PER_SCHEME: usize = 256;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// An enterprise on a trace, and what it holds of the lot now.
pub struct EnterpriseView {
    pub uscc: String,
    pub name: String,
    pub enterprise_type: String,
    pub enterprise_type_name: String,
    pub province: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    /// What it has of the lot now; left out of an answer for a caller who
    /// may not see it (the gateway's least privilege).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds_pieces: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds_kg: Option<String>,
    /// Not enrolled: a receiver outside the consortium (or not yet enrolled)
    /// that a shipment named; the trace ends here.
    pub outside: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// A vehicle that carried a shipment or a stock-out.
pub struct VehicleView {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// The receipt of a shipment.
pub struct ReceivedView {
    pub pieces: u64,
    pub weight_kg: String,
    pub date: NaiveDate,
    /// The time of day (China Standard Time, hh:mm:ss), when the record gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false, example = "10:05:30"))]
    pub time: Option<NaiveTime>,
    pub tx: TxId,
    pub document: String,
    /// Shipped but not received.
    pub short_pieces: u64,
    pub short_kg: String,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// One custody step.
pub struct Step {
    pub kind: MovementKind,
    pub from: Option<String>,
    pub to: String,
    pub pieces: u64,
    pub weight_kg: String,
    pub date: NaiveDate,
    /// The time of day (China Standard Time, hh:mm:ss), when the record gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false, example = "10:05:30"))]
    pub time: Option<NaiveTime>,
    pub document: String,
    pub cold_storage: Option<String>,
    /// Where the cold storage is (decimal degrees, WGS 84), when it was registered with its location.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub cold_storage_latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub cold_storage_longitude: Option<f64>,
    pub tx: TxId,
    pub height: u64,
    /// The vehicles that carried a shipment or a stock-out.
    pub vehicles: Vec<VehicleView>,
    /// For a shipment: the receipt, or none while in transit.
    pub received: Option<ReceivedView>,
    /// The other side's name and contact as the record gave them (a
    /// shipment's or stock-out's receiver, a stock-in's sender); absent when
    /// it gave none. Contacts are masked for callers who may not see them.
    #[serde(skip_serializing_if = "Party::is_empty")]
    pub counterpart: Party,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// The custody graph of a lot.
pub struct Trace {
    pub scheme: String,
    pub code: String,
    pub direction: Direction,
    /// Where the trace starts: the enterprise that issued the code.
    pub start_uscc: String,
    pub lot: LotView,
    /// At most [`MAX_CODES_PER_SCHEME`] codes of each scheme.
    pub codes: Vec<LinkedCode>,
    /// Codes of the lot not listed in `codes`; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub codes_omitted: u64,
    pub enterprises: Vec<EnterpriseView>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// A holder of an alert's lot: what it holds, received and when.
pub struct AffectedEnterprise {
    pub uscc: String,
    pub name: String,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub holds_pieces: u64,
    pub holds_kg: String,
    pub received_pieces: u64,
    pub received_kg: String,
    /// Dates it received or sold (shipped, stocked out) goods of the lot.
    pub received_on: Vec<NaiveDate>,
    pub sold_on: Vec<NaiveDate>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// A lot associated with an alert's lot.
pub struct Association {
    pub lot: LotView,
    /// `same_certificate`, `same_container`, `same_cold_storage` or `same_vehicle`.
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// An alert and its disposal state.
pub struct AlertView {
    /// The alert's transaction id.
    pub id: TxId,
    pub province: String,
    pub scheme: String,
    pub code: String,
    pub reason: String,
    pub tested_at: NaiveDate,
    pub lab: String,
    pub height: u64,
    pub time_ms: i64,
    pub state: AlertState,
    pub disposals: Vec<super::ledger::Disposal>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// One alert: the affected enterprises by province, the trace and associated lots.
pub struct AlertAnswer {
    pub alert: AlertView,
    /// Every holder of the lot, by province.
    pub affected: BTreeMap<String, Vec<AffectedEnterprise>>,
    pub trace: Trace,
    pub associated: Vec<Association>,
    /// The closed loop: each affected province's share of the goods, what
    /// its disposals accounted for, and what remains unaccounted for.
    pub accounts: super::disposal::Accounts,
}

impl State {
    pub fn resolve_code(&self, scheme: &str, code: &str) -> Result<Resolution, TraceError> {
        let l = self.ledger();
        if !l.schemes().contains_key(scheme) {
            return Err(TraceError::UnknownScheme(scheme.to_string()));
        }
        let entry = l.code(scheme, code).ok_or_else(|| TraceError::UnknownCode { scheme: scheme.into(), code: code.into() })?;
        let mut r = Reader::new(l);
        let (mut codes, codes_omitted) = linked_codes(&mut r, entry.lot, Some((scheme, code)));
        if let Some(i) = codes.iter().position(|c| c.scheme == scheme && c.code == code) {
            let me = codes.remove(i);
            codes.insert(0, me);
        }
        let lot = lot_view_of(&mut r, &l.lot_at(entry.lot));
        Ok(Resolution { scheme: scheme.into(), code: code.into(), lot, codes, codes_omitted })
    }

    /// The custody graph of the lot a code names, from the code's issuer.
    /// `forward`: everywhere the goods went from there; `backward`: where
    /// they came from, back to the entry; `both`: back to the entry and then
    /// forward to every holder (what a positive test calls for).
    pub fn trace(&self, scheme: &str, code: &str, direction: Direction) -> Result<Trace, TraceError> {
        let l = self.ledger();
        if !l.schemes().contains_key(scheme) {
            return Err(TraceError::UnknownScheme(scheme.to_string()));
        }
        let entry = l.code(scheme, code).ok_or_else(|| TraceError::UnknownCode { scheme: scheme.into(), code: code.into() })?;
        let lot = LotData::read(l, entry.lot);
        let start = entry.issuer.unwrap_or(lot.lot.origin);
        Ok(trace_lot(&mut Reader::new(l), &lot, start, scheme, code, direction).0)
    }

    /// A lot's whole history: the custody graph from its entry, every
    /// movement of it (the trace both ways from its importer), named by the
    /// first of its codes (none: empty scheme and code).
    pub fn lot_history(&self, lot: LotId) -> Trace {
        let l = self.ledger();
        let data = LotData::read(l, lot);
        let (scheme, code) = l.lot_codes_iter(lot).next().unwrap_or_default();
        trace_lot(&mut Reader::new(l), &data, data.lot.origin, &scheme, &code, Direction::Both).0
    }

    pub fn alert(&self, id: &TxId) -> Result<AlertAnswer, TraceError> {
        let l = self.ledger();
        let a = l.get(&ALERTS, id).ok_or(TraceError::UnknownAlert(*id))?;
        let lot = LotData::read(l, a.lot);
        let start = a.holder.unwrap_or(lot.lot.origin);
        let mut r = Reader::new(l);
        let (trace, nodes) = trace_lot(&mut r, &lot, start, &a.scheme, &a.code, Direction::Both);
        let affected = affected(&trace, &nodes, &lot.movements);
        let associated = associated(&mut r, &lot);
        let accounts = super::disposal::accounts(l, &a);
        Ok(AlertAnswer { alert: AlertView::from(a), affected, associated, accounts, trace })
    }

    pub fn alerts(&self) -> Vec<AlertView> {
        self.ledger().scan_all(&ALERTS).map(|(_, a)| AlertView::from(a)).collect()
    }

    /// Risk warning for associated products (seed 003): lots sharing the
    /// certificate, the container, a cold storage or a vehicle within a day.
    pub fn associated(&self, lot: LotId) -> Vec<Association> {
        let l = self.ledger();
        associated(&mut Reader::new(l), &LotData::read(l, lot))
    }
}

/// What a query reads more than once, read once: enterprises and cold
/// storages (name, latitude, longitude) by id.
struct Reader<'a> {
    l: &'a Ledger,
    enterprises: HashMap<EntId, Enterprise>,
    storages: HashMap<StorageId, (String, Option<f64>, Option<f64>)>,
}

impl<'a> Reader<'a> {
    fn new(l: &'a Ledger) -> Self {
        Reader { l, enterprises: HashMap::new(), storages: HashMap::new() }
    }

    fn enterprise(&mut self, id: EntId) -> &Enterprise {
        let l = self.l;
        self.enterprises.entry(id).or_insert_with(|| l.enterprise_at(id))
    }

    fn uscc(&mut self, id: EntId) -> String {
        self.enterprise(id).uscc.clone()
    }

    /// A cold storage's name, latitude and longitude.
    fn storage(&mut self, id: StorageId) -> (String, Option<f64>, Option<f64>) {
        let l = self.l;
        self.storages
            .entry(id)
            .or_insert_with(|| {
                let s = l.get(&COLD_STORAGES, &id).unwrap_or_else(|| panic!("state: cold storage {id} is missing"));
                (s.name, s.latitude, s.longitude)
            })
            .clone()
    }
}

/// A lot and its movements, each read once, in the order recorded.
struct LotData {
    id: LotId,
    lot: Lot,
    /// By movement id, ascending (the lot's key order).
    movements: Vec<(MovId, Movement)>,
}

impl LotData {
    fn read(l: &Ledger, id: LotId) -> LotData {
        let lot = l.lot_at(id);
        let movements = l.lot_movements(id).into_iter().map(|m| (m, l.movement_at(m))).collect();
        LotData { id, lot, movements }
    }
}

fn associated(r: &mut Reader, me: &LotData) -> Vec<Association> {
    super::warning::associated_lots(r.l, me.id)
        .into_iter()
        .map(|(other, (reason, detail))| Association { lot: lot_view_of(r, &r.l.lot_at(other)), reason, detail })
        .collect()
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> AlertView {
        AlertView {
            id: a.id,
            province: a.province,
            scheme: a.scheme,
            code: a.code,
            reason: a.reason,
            tested_at: a.tested_at,
            lab: a.lab,
            height: a.height,
            time_ms: a.time_ms,
            state: a.state,
            disposals: a.disposals,
        }
    }
}

pub fn lot_view(l: &Ledger, lot: LotId) -> LotView {
    lot_view_of(&mut Reader::new(l), &l.lot_at(lot))
}

fn lot_view_of(r: &mut Reader, lot: &Lot) -> LotView {
    LotView {
        quarantine_number: lot.quarantine_number.clone(),
        certificate_batch: lot.certificate_batch.clone(),
        product_id: lot.product_id.clone(),
        product_name: lot.product_name.clone(),
        label_batch: lot.label_batch.clone(),
        container: lot.container.clone(),
        production_date: lot.production_date,
        entry_date: lot.entry_date,
        entry_time: lot.entry_time,
        port_of_entry: lot.port_of_entry.clone(),
        consignor: lot.consignor.clone(),
        consignee: lot.consignee.clone(),
        origin_uscc: r.uscc(lot.origin),
        entered_pieces: lot.entered.pieces,
        entered_kg: kg(lot.entered.grams),
        nucleic_acid: lot.documents.nucleic_acid.as_ref().map(|n| n.0.clone()),
        stopped: crate::records::clearance::why_not_movable(r.l, lot),
        tx: lot.tx,
    }
}

/// The lot's codes, at most [`MAX_CODES_PER_SCHEME`] of each scheme,
/// `always` among them, and how many were left out.
fn linked_codes(r: &mut Reader, lot: LotId, always: Option<(&str, &str)>) -> (Vec<LinkedCode>, u64) {
    let l = r.l;
    let mut per_scheme: HashMap<String, usize> = HashMap::new();
    let mut omitted = 0u64;
    let codes = l
        .lot_codes_iter(lot)
        .filter(|(s, c)| {
            if always == Some((s.as_str(), c.as_str())) {
                return true;
            }
            // `always` takes one of its scheme's places.
            let places = if always.is_some_and(|(a, _)| a == s) { MAX_CODES_PER_SCHEME - 1 } else { MAX_CODES_PER_SCHEME };
            let listed = per_scheme.entry(s.clone()).or_default();
            if *listed < places {
                *listed += 1;
                true
            } else {
                omitted += 1;
                false
            }
        })
        .filter_map(|(s, c)| {
            let e = l.code(&s, &c)?;
            let scheme = l.schemes().get(&s)?;
            Some(LinkedCode {
                province: scheme.province.clone(),
                resolver_url: scheme.resolver_url.replace("{code}", &c),
                issuer_uscc: e.issuer.map(|i| r.uscc(i)),
                origin: e.origin,
                tx: e.tx,
                weight_kg: e.grams.map(kg),
                scheme: s,
                code: c,
            })
        })
        .collect();
    (codes, omitted)
}

fn enterprise_view(r: &mut Reader, id: EntId, lot: LotId) -> EnterpriseView {
    let l = r.l;
    let held = l.holding(id, lot);
    let e = r.enterprise(id);
    EnterpriseView {
        uscc: e.uscc.clone(),
        name: e.name.clone(),
        enterprise_type: e.enterprise_type.clone(),
        enterprise_type_name: l.dictionaries().get("enterprise_type").and_then(|d| d.name_of(&e.enterprise_type)).unwrap_or("").to_string(),
        province: e.province.clone(),
        address: e.address.clone(),
        latitude: e.latitude,
        longitude: e.longitude,
        contact: e.contact.clone(),
        contact_phone: e.contact_phone.clone(),
        holds_pieces: Some(held.pieces),
        holds_kg: Some(kg(held.grams)),
        outside: e.outside,
    }
}

fn step(r: &mut Reader, mov: &Movement) -> Step {
    let l = r.l;
    // A shipment is recorded under its sender, a stock-out under its
    // operator; a movement without one names neither. A shipment's line may
    // name the cold storage the goods left (table 14), registered or not.
    let (vehicles, named_storage) = match (mov.kind, mov.from) {
        (MovementKind::Shipment, Some(sender)) => match l.get(&SHIPMENTS, &(sender, mov.document.clone())) {
            Some(s) => {
                let named = s.lines.into_iter().filter(|line| line.lot == mov.lot).find_map(|line| line.storage);
                (Some(s.vehicles), named)
            }
            None => (None, None),
        },
        (MovementKind::StockOut, Some(operator)) => (l.get(&STOCK_OUT_VEHICLES, &(operator, mov.document.clone())).map(|s| s.vehicles), None),
        _ => (None, None),
    };
    let vehicles = vehicles
        .unwrap_or_default()
        .into_iter()
        .map(|v| VehicleView { plate: v.plate, driver_name: v.driver_name, driver_phone: v.driver_phone, tx: v.tx })
        .collect();
    let storage = mov.storage.map(|s| r.storage(s));
    Step {
        kind: mov.kind,
        from: mov.from.map(|e| r.uscc(e)),
        to: r.uscc(mov.to),
        pieces: mov.qty.pieces,
        weight_kg: kg(mov.qty.grams),
        date: mov.date,
        time: mov.time,
        document: mov.document.clone(),
        cold_storage_latitude: storage.as_ref().and_then(|s| s.1),
        cold_storage_longitude: storage.as_ref().and_then(|s| s.2),
        cold_storage: storage.map(|s| s.0).or(named_storage),
        tx: mov.tx,
        height: mov.height,
        vehicles,
        counterpart: mov.counterpart.clone(),
        received: mov.received.as_ref().map(|rc| {
            let short = mov.qty.minus(&rc.qty);
            ReceivedView {
                pieces: rc.qty.pieces,
                weight_kg: kg(rc.qty.grams),
                date: rc.date,
                time: rc.time,
                tx: rc.tx,
                document: rc.document.clone(),
                short_pieces: short.pieces,
                short_kg: kg(short.grams),
            }
        }),
    }
}

/// The trace, and the ids of its enterprises (in the order of `enterprises`).
fn trace_lot(r: &mut Reader, me: &LotData, start: EntId, scheme: &str, code: &str, direction: Direction) -> (Trace, Vec<EntId>) {
    // Edges are indices into `me.movements`, whose order is the movements' ids.
    let movements = &me.movements;
    let mut outgoing: HashMap<EntId, Vec<usize>> = HashMap::new();
    let mut incoming: HashMap<EntId, Vec<usize>> = HashMap::new();
    for (i, (_, mov)) in movements.iter().enumerate() {
        if let Some(from) = mov.from {
            outgoing.entry(from).or_default().push(i);
        }
        incoming.entry(mov.to).or_default().push(i);
    }
    let mut steps: BTreeSet<usize> = BTreeSet::new();
    let mut nodes: BTreeSet<EntId> = BTreeSet::from([start]);
    let walk = |seeds: Vec<EntId>, edges: &HashMap<EntId, Vec<usize>>, forward: bool, steps: &mut BTreeSet<usize>, nodes: &mut BTreeSet<EntId>| {
        let mut seen: BTreeSet<EntId> = seeds.iter().copied().collect();
        let mut queue: VecDeque<EntId> = seeds.into();
        while let Some(n) = queue.pop_front() {
            for i in edges.get(&n).into_iter().flatten() {
                steps.insert(*i);
                let mov = &movements[*i].1;
                let next = if forward { Some(mov.to) } else { mov.from };
                if let Some(next) = next {
                    nodes.insert(next);
                    if seen.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
        }
        seen
    };
    match direction {
        Direction::Forward => {
            walk(vec![start], &outgoing, true, &mut steps, &mut nodes);
        }
        Direction::Backward => {
            walk(vec![start], &incoming, false, &mut steps, &mut nodes);
        }
        Direction::Both => {
            let upstream = walk(vec![start], &incoming, false, &mut steps, &mut nodes);
            walk(upstream.into_iter().collect(), &outgoing, true, &mut steps, &mut nodes);
        }
    }
    let nodes: Vec<EntId> = nodes.into_iter().collect();
    let (codes, codes_omitted) = linked_codes(r, me.id, Some((scheme, code)));
    let trace = Trace {
        scheme: scheme.into(),
        code: code.into(),
        direction,
        start_uscc: r.uscc(start),
        lot: lot_view_of(r, &me.lot),
        codes,
        codes_omitted,
        enterprises: nodes.iter().map(|e| enterprise_view(r, *e, me.id)).collect(),
        steps: steps.into_iter().map(|i| step(r, &movements[i].1)).collect(),
    };
    (trace, nodes)
}

/// Each traced enterprise's holding, receipts and sales of the lot, by
/// province; `nodes` are the ids of `trace.enterprises`, in order.
fn affected(trace: &Trace, nodes: &[EntId], movements: &[(MovId, Movement)]) -> BTreeMap<String, Vec<AffectedEnterprise>> {
    // (received, received on, sold on) of each traced enterprise, in one pass.
    let mut flows: HashMap<EntId, (Qty, Vec<NaiveDate>, Vec<NaiveDate>)> = nodes.iter().map(|n| (*n, Default::default())).collect();
    for (_, mov) in movements {
        if mov.from == Some(mov.to) {
            continue;
        }
        if let Some((received, received_on, _)) = flows.get_mut(&mov.to) {
            let q = match (&mov.kind, &mov.received) {
                (MovementKind::Shipment, Some(r)) => r.qty,
                (MovementKind::Shipment, None) => mov.qty,
                _ => mov.qty,
            };
            *received = received.plus(&q);
            received_on.push(mov.received.as_ref().map(|r| r.date).unwrap_or(mov.date));
        }
        if let Some((_, _, sold_on)) = mov.from.and_then(|from| flows.get_mut(&from)) {
            sold_on.push(mov.date);
        }
    }
    let mut out: BTreeMap<String, Vec<AffectedEnterprise>> = BTreeMap::new();
    for (e, id) in trace.enterprises.iter().zip(nodes) {
        let (received, mut received_on, mut sold_on) = flows.remove(id).unwrap_or_default();
        received_on.sort();
        received_on.dedup();
        sold_on.sort();
        sold_on.dedup();
        out.entry(e.province.clone()).or_default().push(AffectedEnterprise {
            uscc: e.uscc.clone(),
            name: e.name.clone(),
            contact: e.contact.clone(),
            contact_phone: e.contact_phone.clone(),
            holds_pieces: e.holds_pieces.unwrap_or_default(),
            holds_kg: e.holds_kg.clone().unwrap_or_default(),
            received_pieces: received.pieces,
            received_kg: kg(received.grams),
            received_on,
            sold_on,
        });
    }
    out
}
