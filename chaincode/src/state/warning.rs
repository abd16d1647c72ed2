//! Risk warnings for associated products (seed 003, 关联产品风险预警). When an
//! alert is raised, the chain finds every other lot that shared something
//! with the alert's lot: its entry certificate, its container, a cold
//! storage within a day, or a vehicle within a day. Each such lot gets a
//! warning addressed to the bureaus of the provinces where it is held (or,
//! when nobody holds any of it any more, where it was held), so that they
//! check it before it reaches consumers.

use super::State;
use super::ledger::{
    Alert, COLD_STORAGES, CONTAINERS, EntId, LOT_IDS, Ledger, LotId, MovementKind, PLATES, SHIPMENTS, STOCK_OUT_PLATES, STOCK_OUT_VEHICLES,
    STORAGE_VISITS, StorageId, WARNED, WARNINGS, Warning,
};
use super::trace::{LotView, lot_view};
use crate::fields::kg;
use crate::transaction::TxId;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why another lot is associated with a lot: `same_certificate`,
/// `same_container`, `same_cold_storage` or `same_vehicle`, and the detail
/// (which certificate, container, storage or plate, and when).
pub type Why = (String, String);

/// A shipment (`false`) or a stock-out (`true`), by the enterprise that
/// recorded it and its number.
type Carriage = (bool, EntId, String);

/// The lots associated with `lot`, each with the first reason found.
pub fn associated_lots(l: &Ledger, lot: LotId) -> BTreeMap<LotId, Why> {
    let me = l.lot_at(lot);
    let movements: Vec<_> = l.lot_movements(lot).into_iter().map(|m| (m, l.movement_at(m))).collect();
    let mut out: BTreeMap<LotId, Why> = BTreeMap::new();
    let number = &me.quarantine_number;
    for ((_, batch), other) in l.scan(&LOT_IDS, number) {
        if other != lot {
            out.entry(other).or_insert_with(|| ("same_certificate".into(), format!("certificate {number} (batch {batch})")));
        }
    }
    if let Some(c) = &me.container {
        for ((_, other), ()) in l.scan(&CONTAINERS, c) {
            if other != lot {
                out.entry(other).or_insert_with(|| ("same_container".into(), format!("container {c}")));
            }
        }
    }
    // Other lots' stock-ins (lot, date) by cold storage, each storage's read once.
    let mut stored: HashMap<StorageId, Vec<(LotId, NaiveDate)>> = HashMap::new();
    for (_, m) in movements.iter().filter(|(_, m)| m.kind == MovementKind::StockIn) {
        let Some(storage) = m.storage else { continue };
        let others = stored.entry(storage).or_insert_with(|| {
            l.scan(&STORAGE_VISITS, &storage)
                .filter(|((_, id), ())| movements.binary_search_by_key(id, |(mine, _)| *mine).is_err())
                .map(|((_, id), ())| {
                    let m = l.movement_at(id);
                    (m.lot, m.date)
                })
                .collect()
        });
        for (other, date) in others.iter() {
            if *other != lot && (*date - m.date).num_days().abs() <= 1 {
                out.entry(*other).or_insert_with(|| {
                    let name = l.get(&COLD_STORAGES, &storage).map(|s| s.name).unwrap_or_default();
                    ("same_cold_storage".into(), format!("cold storage {name} around {}", m.date))
                });
            }
        }
    }
    // Other shipments and stock-outs carried by a vehicle that carried this
    // lot (on a shipment or a stock-out), within a day of it.
    let mut carried: Vec<(Carriage, NaiveDate, Vec<String>)> = Vec::new();
    for (_, m) in &movements {
        let Some(from) = m.from else { continue };
        let (carriage, date, vehicles) = match m.kind {
            MovementKind::Shipment => match l.get(&SHIPMENTS, &(from, m.document.clone())) {
                Some(s) => ((false, from, m.document.clone()), s.date, s.vehicles),
                None => continue,
            },
            MovementKind::StockOut => match l.get(&STOCK_OUT_VEHICLES, &(from, m.document.clone())) {
                Some(s) => ((true, from, m.document.clone()), s.date, s.vehicles),
                None => continue,
            },
            MovementKind::Entry | MovementKind::StockIn => continue,
        };
        if !carried.iter().any(|(c, _, _)| *c == carriage) {
            carried.push((carriage, date, vehicles.into_iter().map(|v| v.plate).collect()));
        }
    }
    for (mine, date, plates) in &carried {
        for plate in plates {
            let near = |other: NaiveDate| (other - *date).num_days().abs() <= 1;
            let mut others: Vec<LotId> = Vec::new();
            for ((_, sender, number), ()) in l.scan(&PLATES, plate) {
                if *mine == (false, sender, number.clone()) {
                    continue;
                }
                if let Some(other) = l.get(&SHIPMENTS, &(sender, number)).filter(|s| near(s.date)) {
                    others.extend(other.lines.iter().map(|line| line.lot));
                }
            }
            for ((_, operator, code), ()) in l.scan(&STOCK_OUT_PLATES, plate) {
                if *mine == (true, operator, code.clone()) {
                    continue;
                }
                if let Some(other) = l.get(&STOCK_OUT_VEHICLES, &(operator, code)).filter(|s| near(s.date)) {
                    others.extend(other.lots);
                }
            }
            for other in others.into_iter().filter(|other| *other != lot) {
                out.entry(other).or_insert_with(|| ("same_vehicle".into(), format!("vehicle {plate} around {date}")));
            }
        }
    }
    out
}

/// The enterprises that hold some of `lot` now, or, if none does, every
/// enterprise that ever held it; in the order they first received it.
fn custodians(l: &Ledger, lot: LotId) -> Vec<(EntId, u64)> {
    let mut all: Vec<EntId> = Vec::new();
    for m in l.lot_movements(lot) {
        let to = l.movement_at(m).to;
        if !all.contains(&to) {
            all.push(to);
        }
    }
    let held: Vec<(EntId, u64)> = all.iter().map(|e| (*e, l.holding(*e, lot).grams)).collect();
    if held.iter().any(|(_, g)| *g > 0) { held.into_iter().filter(|(_, g)| *g > 0).collect() } else { held }
}

/// Addresses a warning to the holders' bureaus for each lot associated with
/// `alert`'s lot (called when the alert is stored).
pub fn raise(l: &mut Ledger, alert: &Alert) {
    for (lot, (reason, detail)) in associated_lots(l, alert.lot) {
        let provinces: BTreeSet<String> = custodians(l, lot).into_iter().map(|(e, _)| l.enterprise_at(e).province).collect();
        let provinces: Vec<String> = provinces.into_iter().collect();
        for p in &provinces {
            l.put(&WARNED, &(p.clone(), alert.id, lot), &());
        }
        let warning = Warning { alert: alert.id, lot, reason, detail, provinces, height: alert.height, time_ms: alert.time_ms };
        l.put(&WARNINGS, &(alert.id, lot), &warning);
    }
}

/// An enterprise that holds (or held) goods of a warned lot.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WarnedHolder {
    pub uscc: String,
    pub name: String,
    pub province: String,
    pub contact_phone: Option<String>,
    pub holds_kg: String,
}

/// A risk warning: a lot associated with an alert's lot, the reason, and
/// who holds it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WarningView {
    /// The alert that raised it (its transaction id) and its bureau.
    pub alert: TxId,
    pub alert_province: String,
    /// `same_certificate`, `same_container`, `same_cold_storage` or `same_vehicle`.
    pub reason: String,
    pub detail: String,
    /// The bureaus it is addressed to.
    pub provinces: Vec<String>,
    pub lot: LotView,
    pub holders: Vec<WarnedHolder>,
    pub height: u64,
    pub time_ms: i64,
}

/// The view of `w`; `provinces` caches each alert's raising province, read once.
fn view(l: &Ledger, w: Warning, provinces: &mut HashMap<TxId, String>) -> WarningView {
    let alert_province =
        provinces.entry(w.alert).or_insert_with(|| l.get(&super::ledger::ALERTS, &w.alert).map(|a| a.province).unwrap_or_default()).clone();
    let holders = custodians(l, w.lot)
        .into_iter()
        .map(|(e, grams)| {
            let e = l.enterprise_at(e);
            WarnedHolder { uscc: e.uscc, name: e.name, province: e.province, contact_phone: e.contact_phone, holds_kg: kg(grams) }
        })
        .collect();
    WarningView {
        alert: w.alert,
        alert_province,
        reason: w.reason,
        detail: w.detail,
        provinces: w.provinces,
        lot: lot_view(l, w.lot),
        holders,
        height: w.height,
        time_ms: w.time_ms,
    }
}

impl State {
    /// The warnings addressed to `province`'s bureau (every warning when
    /// `None`), newest alert first.
    pub fn warnings(&self, province: Option<&str>) -> Vec<WarningView> {
        let l = self.ledger();
        let mut list: Vec<Warning> = match province {
            Some(p) => l.scan(&WARNED, &p.to_string()).filter_map(|((_, alert, lot), ())| l.get(&WARNINGS, &(alert, lot))).collect(),
            None => l.scan_all(&WARNINGS).map(|(_, w)| w).collect(),
        };
        list.sort_by(|a, b| b.height.cmp(&a.height).then(a.lot.cmp(&b.lot)));
        let mut provinces = HashMap::new();
        list.into_iter().map(|w| view(l, w, &mut provinces)).collect()
    }

    /// The warnings one alert raised.
    pub fn warnings_of(&self, alert: &TxId) -> Vec<WarningView> {
        let l = self.ledger();
        let mut provinces = HashMap::new();
        l.scan(&WARNINGS, alert).map(|(_, w)| view(l, w, &mut provinces)).collect()
    }
}
