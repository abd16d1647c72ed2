//! Product lines of movements (seed 004 tables 14, 17, 19) and how each line
//! is matched to a lot: by a trace code it names, or else by product and
//! batch (and certificate number, when given) among the lots on offer.

use super::product::specification;
use super::product_batch::{container, known_code};
use crate::fields::{Fields, Qty, Result};
use crate::record::RecordError;
use crate::state::ledger::{EntId, HOLDINGS, LOT_BATCHES, Ledger, LotId};
use chrono::NaiveDate;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Line {
    pub path: String,
    pub product_id: String,
    pub product_name: Option<String>,
    pub batch: String,
    pub production_date: Option<NaiveDate>,
    pub qty: Qty,
    pub container: Option<String>,
    pub trace_code: Option<(String, Option<String>)>,
    pub quarantine_number: Option<String>,
    pub storage: Option<String>,
}

pub const LINE_FIELDS: &str = "storageNumber, storageName, productLibraryId, productName, batch, productionDate, numberOfPieces, specification, specificationUnit, weight, containerNumber, traceCode, traceCodeScheme, quarantineNumber";

/// The most lines one movement may carry.
pub const MAX_LINES: usize = 500;

pub fn parse_lines(f: &mut Fields) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for mut item in f.req_objects("productList", &[], MAX_LINES)? {
        let storage_number = item.opt_str("storageNumber", 64)?;
        let storage_name = item.opt_str("storageName", 200)?;
        let product_id = super::product::product_id(&mut item)?;
        let product_name = item.opt_str("productName", 200)?;
        let batch = item.req_str("batch", 64)?;
        let production_date = item.opt_date("productionDate", &[])?.map(|d| d.0);
        let (pieces, _) = item.req_pieces("numberOfPieces", &[])?;
        specification(&mut item)?;
        let (grams, _) = item.req_weight("weight", &[])?;
        let container = container(&mut item)?;
        let trace_code = item.opt_str("traceCode", 128)?;
        let scheme = item.opt_str("traceCodeScheme", 32)?;
        let quarantine_number = item.opt_str("quarantineNumber", 21)?;
        item.finish(LINE_FIELDS)?;
        out.push(Line {
            path: item.path().to_string(),
            product_id,
            product_name,
            batch,
            production_date,
            qty: Qty { pieces, grams },
            container,
            trace_code: trace_code.map(|c| (c, scheme)),
            quarantine_number,
            storage: storage_number.or(storage_name),
        });
    }
    Ok(out)
}

/// Matches every line to one lot among `offer` (lot → quantity available)
/// and checks the lines of each lot together do not take more than is on
/// offer. `holder` names who holds the offer, for the error.
pub fn resolve(l: &Ledger, lines: &[Line], offer: &Offer, holder: &str) -> Result<Vec<(LotId, Qty)>> {
    resolve_lines(l, lines, offer, holder).map(|t| t.lots)
}

/// What a movement takes: the quantity of each lot, and each line's lot.
#[derive(Clone, Debug, Default)]
pub struct Taken {
    pub lots: Vec<(LotId, Qty)>,
    pub per_line: Vec<LotId>,
}

/// [`resolve`], also giving each line's lot.
pub fn resolve_lines(l: &Ledger, lines: &[Line], offer: &Offer, holder: &str) -> Result<Taken> {
    let mut taken: BTreeMap<LotId, Qty> = BTreeMap::new();
    let mut last_path: BTreeMap<LotId, &str> = BTreeMap::new();
    let mut per_line = Vec::with_capacity(lines.len());
    for line in lines {
        let lot = match_line(l, line, offer, holder)?;
        per_line.push(lot);
        let total = taken.entry(lot).or_default();
        *total = total.plus(&line.qty);
        last_path.insert(lot, &line.path);
    }
    for (lot, want) in &taken {
        let have = offer.get(l, *lot);
        if !have.covers(want) {
            let lot_ref = l.lot_at(*lot);
            let field = if want.pieces > have.pieces { "numberOfPieces" } else { "weight" };
            return Err(RecordError::new(
                format!("{}.{field}", last_path[lot]),
                format!(
                    "takes {} pieces / {} kg of certificate {} batch {}, but {holder} has {} pieces / {} kg of it",
                    want.pieces,
                    crate::fields::kg(want.grams),
                    lot_ref.quarantine_number,
                    lot_ref.certificate_batch,
                    have.pieces,
                    crate::fields::kg(have.grams)
                ),
            ));
        }
    }
    Ok(Taken { lots: taken.into_iter().collect(), per_line })
}

/// A trace code named on a line that the chain does not know yet must
/// belong to a scheme (named, or of the signer's province); it is then
/// registered for the line's lot, issued by the signer.
pub fn check_new_codes(l: &Ledger, lines: &[Line], province: &str) -> Result<()> {
    for line in lines {
        if let Some((code, scheme)) = &line.trace_code
            && is_new(l, code, scheme.as_deref())
        {
            l.scheme_for(code, scheme.as_deref(), province).map_err(|rule| RecordError::new(format!("{}.traceCode", line.path), rule))?;
        }
    }
    Ok(())
}

fn is_new(l: &Ledger, code: &str, scheme: Option<&str>) -> bool {
    match scheme {
        Some(s) => l.code(s, code).is_none(),
        None => known_code(l, code).is_none(),
    }
}

/// Registers the new codes [`check_new_codes`] allowed.
pub fn register_new_codes(l: &mut Ledger, lines: &[Line], per_line: &[LotId], issuer: EntId, cx: &super::Cx) {
    let province = l.enterprise_at(issuer).province;
    for (line, lot) in lines.iter().zip(per_line) {
        if let Some((code, scheme)) = &line.trace_code
            && is_new(l, code, scheme.as_deref())
            && let Ok(s) = l.scheme_for(code, scheme.as_deref(), &province).map(|s| s.scheme_id.clone())
        {
            super::product_batch::register_code(l, *lot, s, code.clone(), Some(issuer), crate::state::ledger::CodeOrigin::MovementLine, cx);
        }
    }
}

fn match_line(l: &Ledger, line: &Line, offer: &Offer, holder: &str) -> Result<LotId> {
    if let Some((code, scheme)) = &line.trace_code {
        let entry = match scheme {
            Some(s) => l.code(s, code),
            None => known_code(l, code).map(|(_, e)| e),
        };
        if let Some(entry) = entry {
            if !offer.has(l, entry.lot) {
                return Err(RecordError::new(format!("{}.traceCode", line.path), format!("code {code} names goods {holder} does not have")));
            }
            return Ok(entry.lot);
        }
    }
    let candidates: Vec<LotId> = offer
        .with_batch(l, &line.product_id, &line.batch)
        .into_iter()
        .filter(|lot| {
            let lot_ref = l.lot_at(*lot);
            lot_ref.product_id == line.product_id
                && (lot_ref.label_batch == line.batch || lot_ref.certificate_batch == line.batch)
                && line.quarantine_number.as_ref().is_none_or(|n| *n == lot_ref.quarantine_number)
        })
        .collect();
    match candidates.as_slice() {
        [lot] => Ok(*lot),
        [] => Err(RecordError::new(
            format!("{}.batch", line.path),
            format!(
                "{holder} has no goods of product {} batch {}{}",
                line.product_id,
                line.batch,
                line.quarantine_number.as_ref().map(|n| format!(" under certificate {n}")).unwrap_or_default()
            ),
        )),
        _ => Err(RecordError::new(
            format!("{}.batch", line.path),
            format!(
                "product {} batch {} matches {} lots {holder} has; name the lot by quarantineNumber or traceCode",
                line.product_id,
                line.batch,
                candidates.len()
            ),
        )),
    }
}

/// What lines may take from.
pub enum Offer<'a> {
    /// What an enterprise holds, read lot by lot as lines name them (an
    /// importer may hold or have held many thousands).
    Holdings(EntId),
    /// A fixed list: the lots of a shipment and their quantities.
    Lots(&'a BTreeMap<LotId, Qty>),
}

impl Offer<'_> {
    /// How much of `lot` is on offer.
    fn get(&self, l: &Ledger, lot: LotId) -> Qty {
        match self {
            Offer::Holdings(ent) => l.holding(*ent, lot),
            Offer::Lots(m) => m.get(&lot).copied().unwrap_or_default(),
        }
    }

    /// Whether `lot` is (or was) on offer at all.
    fn has(&self, l: &Ledger, lot: LotId) -> bool {
        match self {
            Offer::Holdings(ent) => l.contains(&HOLDINGS, &(*ent, lot)),
            Offer::Lots(m) => m.contains_key(&lot),
        }
    }

    /// The lots on offer, not used up, that a product id and batch may name,
    /// in lot order.
    fn with_batch(&self, l: &Ledger, product_id: &str, batch: &str) -> Vec<LotId> {
        match self {
            Offer::Holdings(_) => {
                let mut lots: Vec<LotId> = l.scan(&LOT_BATCHES, &(product_id.to_string(), batch.to_string())).map(|((_, _, lot), ())| lot).collect();
                lots.sort_unstable();
                lots.dedup();
                lots.retain(|lot| !self.get(l, *lot).is_zero());
                lots
            }
            Offer::Lots(m) => m.iter().filter(|(_, q)| !q.is_zero()).map(|(lot, _)| *lot).collect(),
        }
    }
}
