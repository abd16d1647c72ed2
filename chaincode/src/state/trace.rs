//! Reading the ledger: a code in any scheme resolved to its lot and every
//! linked code; the custody graph of a lot from any code, forward, backward
//! or both; an alert's affected set by province; associated lots.
//!
//! A trace walks only the movements of one lot (each lot lists them), so
//! its cost is linear in the steps it returns, whatever the ledger's size.

use super::State;
use super::ledger::{Alert, AlertState, CodeOrigin, EntId, Ledger, LotId, MovId, MovementKind};
use crate::fields::kg;
use crate::transaction::TxId;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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

#[derive(Clone, Debug, Serialize)]
pub struct LotView {
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
    pub origin_uscc: String,
    pub entered_pieces: u64,
    pub entered_kg: String,
    pub nucleic_acid: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkedCode {
    pub scheme: String,
    pub code: String,
    pub province: String,
    pub resolver_url: String,
    pub issuer_uscc: Option<String>,
    #[serde(flatten)]
    pub origin: CodeOrigin,
    pub tx: TxId,
}

#[derive(Clone, Debug, Serialize)]
pub struct Resolution {
    pub scheme: String,
    pub code: String,
    pub lot: LotView,
    /// Every code of the lot, in every scheme, this one first.
    pub codes: Vec<LinkedCode>,
}

#[derive(Clone, Debug, Serialize)]
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
    /// What it has of the lot now.
    pub holds_pieces: u64,
    pub holds_kg: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct VehicleView {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub tx: TxId,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReceivedView {
    pub pieces: u64,
    pub weight_kg: String,
    pub date: NaiveDate,
    pub tx: TxId,
    pub document: String,
    /// Shipped but not received.
    pub short_pieces: u64,
    pub short_kg: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub kind: MovementKind,
    pub from: Option<String>,
    pub to: String,
    pub pieces: u64,
    pub weight_kg: String,
    pub date: NaiveDate,
    pub document: String,
    pub cold_storage: Option<String>,
    pub tx: TxId,
    pub height: u64,
    pub vehicles: Vec<VehicleView>,
    /// For a shipment: the receipt, or none while in transit.
    pub received: Option<ReceivedView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub scheme: String,
    pub code: String,
    pub direction: Direction,
    /// Where the trace starts: the enterprise that issued the code.
    pub start_uscc: String,
    pub lot: LotView,
    pub codes: Vec<LinkedCode>,
    pub enterprises: Vec<EnterpriseView>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Serialize)]
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
pub struct Association {
    pub lot: LotView,
    /// `same_certificate`, `same_container` or `same_cold_storage`.
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertView {
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
pub struct AlertAnswer {
    pub alert: AlertView,
    /// Every holder of the lot, by province.
    pub affected: BTreeMap<String, Vec<AffectedEnterprise>>,
    pub trace: Trace,
    pub associated: Vec<Association>,
}

impl State {
    pub fn resolve_code(&self, scheme: &str, code: &str) -> Result<Resolution, TraceError> {
        let l = self.ledger();
        if !l.schemes.contains_key(scheme) {
            return Err(TraceError::UnknownScheme(scheme.to_string()));
        }
        let entry = l.code(scheme, code).ok_or_else(|| TraceError::UnknownCode { scheme: scheme.into(), code: code.into() })?;
        let mut codes = linked_codes(l, entry.lot);
        if let Some(i) = codes.iter().position(|c| c.scheme == scheme && c.code == code) {
            let me = codes.remove(i);
            codes.insert(0, me);
        }
        Ok(Resolution { scheme: scheme.into(), code: code.into(), lot: lot_view(l, entry.lot), codes })
    }

    /// The custody graph of the lot a code names, from the code's issuer.
    /// `forward`: everywhere the goods went from there; `backward`: where
    /// they came from, back to the entry; `both`: back to the entry and then
    /// forward to every holder (what a positive test calls for).
    pub fn trace(&self, scheme: &str, code: &str, direction: Direction) -> Result<Trace, TraceError> {
        let l = self.ledger();
        if !l.schemes.contains_key(scheme) {
            return Err(TraceError::UnknownScheme(scheme.to_string()));
        }
        let entry = l.code(scheme, code).ok_or_else(|| TraceError::UnknownCode { scheme: scheme.into(), code: code.into() })?;
        let start = entry.issuer.unwrap_or(l.lots[entry.lot as usize].origin);
        Ok(trace_lot(l, entry.lot, start, scheme, code, direction))
    }

    pub fn alert(&self, id: &TxId) -> Result<AlertAnswer, TraceError> {
        let l = self.ledger();
        let a = l.alerts.get(id).ok_or(TraceError::UnknownAlert(*id))?;
        let start = a.holder.unwrap_or(l.lots[a.lot as usize].origin);
        let trace = trace_lot(l, a.lot, start, &a.scheme, &a.code, Direction::Both);
        let affected = affected(l, &trace, a.lot);
        Ok(AlertAnswer { alert: alert_view(a), affected, associated: self.associated(a.lot), trace })
    }

    pub fn alerts(&self) -> Vec<AlertView> {
        self.ledger().alerts.values().map(alert_view).collect()
    }

    /// Risk warning for associated products (seed 003): lots sharing the
    /// certificate, the container, or a cold storage within a day.
    pub fn associated(&self, lot: LotId) -> Vec<Association> {
        let l = self.ledger();
        let me = &l.lots[lot as usize];
        let mut out: BTreeMap<LotId, (String, String)> = BTreeMap::new();
        for ((_, batch), other) in
            l.lot_ids.range((me.quarantine_number.clone(), String::new())..).take_while(|((n, _), _)| *n == me.quarantine_number)
        {
            if *other != lot {
                out.entry(*other).or_insert(("same_certificate".into(), format!("certificate {} (batch {batch})", me.quarantine_number)));
            }
        }
        if let Some(c) = &me.container {
            for other in l.containers.get(c).into_iter().flatten() {
                if *other != lot {
                    out.entry(*other).or_insert(("same_container".into(), format!("container {c}")));
                }
            }
        }
        let visits: Vec<(u32, NaiveDate)> = me
            .movements
            .iter()
            .map(|m| &l.movements[*m as usize])
            .filter(|m| m.kind == MovementKind::StockIn)
            .filter_map(|m| m.storage.map(|s| (s, m.date)))
            .collect();
        for (storage, day) in &visits {
            for m in l.storage_visits.get(storage).into_iter().flatten().map(|m| &l.movements[*m as usize]) {
                if m.lot != lot && (m.date - *day).num_days().abs() <= 1 {
                    let name = &l.cold_storages[*storage as usize].name;
                    out.entry(m.lot).or_insert(("same_cold_storage".into(), format!("cold storage {name} around {day}")));
                }
            }
        }
        out.into_iter().map(|(lot, (reason, detail))| Association { lot: lot_view(l, lot), reason, detail }).collect()
    }
}

fn alert_view(a: &Alert) -> AlertView {
    AlertView {
        id: a.id,
        province: a.province.clone(),
        scheme: a.scheme.clone(),
        code: a.code.clone(),
        reason: a.reason.clone(),
        tested_at: a.tested_at,
        lab: a.lab.clone(),
        height: a.height,
        time_ms: a.time_ms,
        state: a.state,
        disposals: a.disposals.clone(),
    }
}

pub fn lot_view(l: &Ledger, lot: LotId) -> LotView {
    let r = &l.lots[lot as usize];
    LotView {
        quarantine_number: r.quarantine_number.clone(),
        certificate_batch: r.certificate_batch.clone(),
        product_id: r.product_id.clone(),
        product_name: r.product_name.clone(),
        label_batch: r.label_batch.clone(),
        container: r.container.clone(),
        production_date: r.production_date,
        entry_date: r.entry_date,
        port_of_entry: r.port_of_entry.clone(),
        consignor: r.consignor.clone(),
        consignee: r.consignee.clone(),
        origin_uscc: l.enterprises[r.origin as usize].uscc.clone(),
        entered_pieces: r.entered.pieces,
        entered_kg: kg(r.entered.grams),
        nucleic_acid: r.documents.nucleic_acid.as_ref().map(|n| n.0.clone()),
        tx: r.tx,
    }
}

fn linked_codes(l: &Ledger, lot: LotId) -> Vec<LinkedCode> {
    l.lots[lot as usize]
        .codes
        .iter()
        .filter_map(|(s, c)| {
            let e = l.code(s, c)?;
            let scheme = l.schemes.get(s)?;
            Some(LinkedCode {
                scheme: s.clone(),
                code: c.clone(),
                province: scheme.province.clone(),
                resolver_url: scheme.resolver_url.replace("{code}", c),
                issuer_uscc: e.issuer.map(|i| l.enterprises[i as usize].uscc.clone()),
                origin: e.origin.clone(),
                tx: e.tx,
            })
        })
        .collect()
}

fn enterprise_view(l: &Ledger, e: EntId, lot: LotId) -> EnterpriseView {
    let r = &l.enterprises[e as usize];
    let held = l.holding(e, lot);
    EnterpriseView {
        uscc: r.uscc.clone(),
        name: r.name.clone(),
        enterprise_type: r.enterprise_type.clone(),
        enterprise_type_name: l.dictionaries.get("enterprise_type").and_then(|d| d.name_of(&r.enterprise_type)).unwrap_or("").to_string(),
        province: r.province.clone(),
        address: r.address.clone(),
        latitude: r.latitude,
        longitude: r.longitude,
        contact: r.contact.clone(),
        contact_phone: r.contact_phone.clone(),
        holds_pieces: held.pieces,
        holds_kg: kg(held.grams),
    }
}

fn step(l: &Ledger, m: MovId) -> Step {
    let mov = &l.movements[m as usize];
    let uscc = |e: EntId| l.enterprises[e as usize].uscc.clone();
    let vehicles = if mov.kind == MovementKind::Shipment {
        let sender = mov.from.expect("a shipment has a sender");
        l.shipments
            .get(&(sender, mov.document.clone()))
            .map(|s| {
                s.vehicles
                    .iter()
                    .map(|v| VehicleView {
                        plate: v.plate.clone(),
                        driver_name: v.driver_name.clone(),
                        driver_phone: v.driver_phone.clone(),
                        tx: v.tx,
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Step {
        kind: mov.kind,
        from: mov.from.map(uscc),
        to: uscc(mov.to),
        pieces: mov.qty.pieces,
        weight_kg: kg(mov.qty.grams),
        date: mov.date,
        document: mov.document.clone(),
        cold_storage: mov.storage.map(|s| l.cold_storages[s as usize].name.clone()),
        tx: mov.tx,
        height: mov.height,
        vehicles,
        received: mov.received.as_ref().map(|r| {
            let short = mov.qty.minus(&r.qty);
            ReceivedView {
                pieces: r.qty.pieces,
                weight_kg: kg(r.qty.grams),
                date: r.date,
                tx: r.tx,
                document: r.document.clone(),
                short_pieces: short.pieces,
                short_kg: kg(short.grams),
            }
        }),
    }
}

fn trace_lot(l: &Ledger, lot: LotId, start: EntId, scheme: &str, code: &str, direction: Direction) -> Trace {
    let movements = &l.lots[lot as usize].movements;
    let mut outgoing: HashMap<EntId, Vec<MovId>> = HashMap::new();
    let mut incoming: HashMap<EntId, Vec<MovId>> = HashMap::new();
    for m in movements {
        let mov = &l.movements[*m as usize];
        if let Some(from) = mov.from {
            outgoing.entry(from).or_default().push(*m);
        }
        incoming.entry(mov.to).or_default().push(*m);
    }
    let mut steps: BTreeSet<MovId> = BTreeSet::new();
    let mut nodes: BTreeSet<EntId> = BTreeSet::from([start]);
    let walk = |seeds: Vec<EntId>, edges: &HashMap<EntId, Vec<MovId>>, forward: bool, steps: &mut BTreeSet<MovId>, nodes: &mut BTreeSet<EntId>| {
        let mut seen: BTreeSet<EntId> = seeds.iter().copied().collect();
        let mut queue: VecDeque<EntId> = seeds.into();
        while let Some(n) = queue.pop_front() {
            for m in edges.get(&n).into_iter().flatten() {
                steps.insert(*m);
                let mov = &l.movements[*m as usize];
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
    Trace {
        scheme: scheme.into(),
        code: code.into(),
        direction,
        start_uscc: l.enterprises[start as usize].uscc.clone(),
        lot: lot_view(l, lot),
        codes: linked_codes(l, lot),
        enterprises: nodes.into_iter().map(|e| enterprise_view(l, e, lot)).collect(),
        steps: steps.into_iter().map(|m| step(l, m)).collect(),
    }
}

fn affected(l: &Ledger, trace: &Trace, lot: LotId) -> BTreeMap<String, Vec<AffectedEnterprise>> {
    let mut out: BTreeMap<String, Vec<AffectedEnterprise>> = BTreeMap::new();
    for e in &trace.enterprises {
        let (id, _) = l.enterprise(&e.uscc).expect("traced enterprises are enrolled");
        let mut received = crate::fields::Qty::default();
        let (mut received_on, mut sold_on) = (Vec::new(), Vec::new());
        for m in &l.lots[lot as usize].movements {
            let mov = &l.movements[*m as usize];
            if mov.from == Some(mov.to) {
                continue;
            }
            if mov.to == id {
                let q = match (&mov.kind, &mov.received) {
                    (MovementKind::Shipment, Some(r)) => r.qty,
                    (MovementKind::Shipment, None) => mov.qty,
                    _ => mov.qty,
                };
                received = received.plus(&q);
                received_on.push(mov.received.as_ref().map(|r| r.date).unwrap_or(mov.date));
            }
            if mov.from == Some(id) {
                sold_on.push(mov.date);
            }
        }
        received_on.sort();
        received_on.dedup();
        sold_on.sort();
        sold_on.dedup();
        out.entry(e.province.clone()).or_default().push(AffectedEnterprise {
            uscc: e.uscc.clone(),
            name: e.name.clone(),
            contact: e.contact.clone(),
            contact_phone: e.contact_phone.clone(),
            holds_pieces: e.holds_pieces,
            holds_kg: e.holds_kg.clone(),
            received_pieces: received.pieces,
            received_kg: kg(received.grams),
            received_on,
            sold_on,
        });
    }
    out
}
