//! The closed loop of an alert (seed 000 §二.8, 闭环管理): every province the
//! goods reached accounts for them with its disposals, and the raising
//! bureau closes the alert only once each has, or says on chain why not.
//!
//! A province's share of the lot is what came into it (the entry, or a
//! movement from another province) less what left it for another province:
//! what stayed there, on its enterprises' books or sold on to consumers.
//! Its disposals account for it: `sealed` and `recalled` goods are under
//! control, `destroyed` goods are gone; destroyed goods are usually ones
//! sealed or recalled before, so a province has accounted for
//! max(sealed + recalled, destroyed). What remains is unaccounted for.

use super::ledger::{Alert, AlertState, EntId, Ledger, LotId};
use crate::fields::kg;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One province's part in an alert's closed loop.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvinceAccount {
    pub province: String,
    /// What came into the province and did not leave it for another: what
    /// its bureau accounts for.
    pub stayed_kg: String,
    /// What its enterprises hold of the lot on the chain's books now.
    pub held_kg: String,
    pub sealed_kg: String,
    pub recalled_kg: String,
    pub destroyed_kg: String,
    /// `stayed_kg` less max(sealed + recalled, destroyed), never below zero.
    pub unaccounted_kg: String,
    /// The furthest disposal state the province recorded (`open`: none yet).
    pub state: AlertState,
}

/// The alert's accounts, one per province the goods reached, and the sum of
/// what is unaccounted for.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accounts {
    pub provinces: Vec<ProvinceAccount>,
    pub unaccounted_kg: String,
}

#[derive(Default)]
struct Tally {
    stayed: i128,
    held: u64,
    sealed: u64,
    recalled: u64,
    destroyed: u64,
    state: Option<AlertState>,
}

impl Tally {
    fn unaccounted(&self) -> u64 {
        let accounted = (self.sealed.saturating_add(self.recalled)).max(self.destroyed) as i128;
        (self.stayed - accounted).clamp(0, u64::MAX as i128) as u64
    }
}

/// The provinces the goods of `lot` reached, each with the grams that
/// stayed there and the grams its enterprises hold now.
fn shares(l: &Ledger, lot: LotId) -> BTreeMap<String, Tally> {
    let mut provinces: HashMap<EntId, String> = HashMap::new();
    let mut province = |l: &Ledger, e: EntId| provinces.entry(e).or_insert_with(|| l.enterprise_at(e).province).clone();
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    let mut holders: Vec<EntId> = Vec::new();
    for m in l.lot_movements(lot) {
        let m = l.movement_at(m);
        let qty = m.received.as_ref().map_or(m.qty, |r| r.qty);
        let to = province(l, m.to);
        let from = m.from.map(|f| province(l, f));
        if !holders.contains(&m.to) {
            holders.push(m.to);
        }
        if from.as_deref() == Some(to.as_str()) {
            out.entry(to).or_default();
            continue;
        }
        out.entry(to).or_default().stayed += qty.grams as i128;
        if let Some(from) = from {
            out.entry(from).or_default().stayed -= qty.grams as i128;
        }
    }
    for e in holders {
        let held = l.holding(e, lot).grams;
        out.entry(province(l, e)).or_default().held += held;
    }
    out
}

/// Each province's account of `alert`'s goods, from its lot's movements and
/// the disposals recorded.
pub fn accounts(l: &Ledger, alert: &Alert) -> Accounts {
    let mut tallies = shares(l, alert.lot);
    for d in &alert.disposals {
        if d.state == AlertState::Closed {
            continue;
        }
        let t = tallies.entry(d.province.clone()).or_default();
        let g = d.grams.unwrap_or(0);
        match d.state {
            AlertState::Sealed => t.sealed += g,
            AlertState::Recalled => t.recalled += g,
            AlertState::Destroyed => t.destroyed += g,
            AlertState::Open | AlertState::Closed => {}
        }
        t.state = t.state.max(Some(d.state));
    }
    let total: u64 = tallies.values().map(Tally::unaccounted).sum();
    Accounts {
        provinces: tallies
            .into_iter()
            .map(|(province, t)| ProvinceAccount {
                province,
                stayed_kg: kg(t.stayed.clamp(0, u64::MAX as i128) as u64),
                held_kg: kg(t.held),
                sealed_kg: kg(t.sealed),
                recalled_kg: kg(t.recalled),
                destroyed_kg: kg(t.destroyed),
                unaccounted_kg: kg(t.unaccounted()),
                state: t.state.unwrap_or(AlertState::Open),
            })
            .collect(),
        unaccounted_kg: kg(total),
    }
}

/// The provinces with a bureau on chain that the goods reached and that have
/// recorded no disposal of `alert` yet: closing it waits for them, or
/// overrides them on the record. (Goods that left for a province outside the
/// consortium show in its account as unaccounted for: its authorities are
/// told off chain.)
pub fn without_disposal(l: &Ledger, alert: &Alert) -> Vec<String> {
    shares(l, alert.lot)
        .into_keys()
        .filter(|p| l.bureaus().values().any(|b| &b.province == p))
        .filter(|p| !alert.disposals.iter().any(|d| &d.province == p && d.state != AlertState::Closed))
        .collect()
}
