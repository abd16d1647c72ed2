//! Finding lots from what a positive-test notice names (issue 18 item 1):
//! an entry quarantine certificate number (检验检疫证明编号) and its batch, a
//! container, an enterprise (USCC or name), a vehicle plate or a driver.
//! Each query reads the indexes the records keep (lot ids, containers,
//! holdings, plates, drivers), never the chain; an enterprise's name is
//! matched against the enterprises table, which is small (thousands).

use super::ledger::{
    CONTAINERS, DRIVERS, ENTERPRISES, HOLDINGS, LOT_IDS, Ledger, LotId, PLATES, SHIPMENTS, STOCK_OUT_DRIVERS, STOCK_OUT_PLATES, STOCK_OUT_VEHICLES,
};
use super::trace::{LotView, lot_view};
use serde::Serialize;
use std::collections::BTreeMap;

/// What an officer searches by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// A certificate number, and the certificate's production batch if known.
    Certificate {
        number: String,
        batch: Option<String>,
    },
    Container(String),
    /// An enterprise by its unified social credit code: the lots it holds or held.
    Enterprise(String),
    /// Enterprises whose name contains this text: the lots they hold or held.
    EnterpriseName(String),
    /// A vehicle plate: the lots of the shipments and stock-outs it carried.
    Plate(String),
    /// A driver's name: the lots of the shipments and stock-outs they drove.
    Driver(String),
}

/// One lot found, why, and its codes in every province's scheme.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub lot: LotView,
    /// What matched, e.g. `container MNBU3167382`, `shipment HE-SO-0001 carried by 冀B12345`.
    pub matched: Vec<String>,
    /// The lot's codes as (scheme, code): start a trace from any of them.
    pub codes: Vec<(String, String)>,
}

/// The lots `query` finds, at most `limit`, in lot order (and whether more matched: then
/// those listed are among the first found, not the lowest ids).
pub fn search(l: &Ledger, query: &Query, limit: usize) -> (Vec<SearchHit>, bool) {
    let mut found: BTreeMap<LotId, Vec<String>> = BTreeMap::new();
    // At most `limit + 1` lots are kept (the one more says there are more),
    // whatever a query matches.
    let mut add = |lot: LotId, why: String| {
        if found.len() > limit && !found.contains_key(&lot) {
            return;
        }
        let reasons = found.entry(lot).or_default();
        if !reasons.contains(&why) {
            reasons.push(why);
        }
    };
    match query {
        Query::Certificate { number, batch: Some(batch) } => {
            if let Some(lot) = l.get(&LOT_IDS, &(number.clone(), batch.clone())) {
                add(lot, format!("certificate {number} batch {batch}"));
            }
        }
        Query::Certificate { number, batch: None } => {
            for ((_, batch), lot) in l.scan(&LOT_IDS, number) {
                add(lot, format!("certificate {number} batch {batch}"));
            }
        }
        Query::Container(container) => {
            for ((_, lot), ()) in l.scan(&CONTAINERS, container) {
                add(lot, format!("container {container}"));
            }
        }
        Query::Enterprise(uscc) => {
            if let Some((ent, e)) = l.enterprise(uscc) {
                for ((_, lot), _) in l.scan(&HOLDINGS, &ent) {
                    add(lot, format!("held by {uscc} {}", e.name));
                }
            }
        }
        Query::EnterpriseName(text) => {
            for (ent, e) in l.scan_all(&ENTERPRISES).filter(|(_, e)| e.name.contains(text.as_str())) {
                for ((_, lot), _) in l.scan(&HOLDINGS, &ent) {
                    add(lot, format!("held by {} {}", e.uscc, e.name));
                }
            }
        }
        Query::Plate(key) | Query::Driver(key) => {
            let (table, what) = if matches!(query, Query::Plate(_)) { (&PLATES, "vehicle") } else { (&DRIVERS, "driver") };
            for ((_, sender, number), ()) in l.scan(table, key) {
                if let Some(shipment) = l.get(&SHIPMENTS, &(sender, number.clone())) {
                    for line in &shipment.lines {
                        add(line.lot, format!("shipment {number} carried by {what} {key}"));
                    }
                }
            }
            let table = if matches!(query, Query::Plate(_)) { &STOCK_OUT_PLATES } else { &STOCK_OUT_DRIVERS };
            for ((_, operator, code), ()) in l.scan(table, key) {
                if let Some(stock_out) = l.get(&STOCK_OUT_VEHICLES, &(operator, code.clone())) {
                    for lot in stock_out.lots {
                        add(lot, format!("stock-out {code} carried by {what} {key}"));
                    }
                }
            }
        }
    }
    let more = found.len() > limit;
    let hits = found.into_iter().take(limit).map(|(lot, matched)| SearchHit { lot: lot_view(l, lot), matched, codes: l.lot_codes(lot) }).collect();
    (hits, more)
}
