//! Whether goods may move (seed 000 §二.5, "四无五不"): imported cold-chain
//! food without an entry quarantine certificate (检验检疫证明), a
//! nucleic-acid test report (核酸检测报告), a disinfection certificate (消毒证明)
//! or trace data is not bought, used, transported, stored or sold.
//!
//! - A lot moves out of a holding (`shipment`, `stock_in`, `stock_out`) only
//!   once its product batch records carry a nucleic-acid test (`nucleicInfo`)
//!   and a disinfection (`disinfectInfo` with `disinfectState` 1). The
//!   certificate and the trace data are the product batch itself.
//! - A positive nucleic-acid result, in a product batch's `nucleicInfo` or in
//!   a central supervised warehouse's (集中监管仓) record, stops the lot for
//!   good: no movement of it is recorded again, and an alert is raised for
//!   the bureau of the province where the result was recorded. Goods already
//!   in transit may still be received (`receipt`), so that the trace shows
//!   where they are.

use super::Cx;
use super::lines::Line;
use crate::fields::Result;
use crate::record::RecordError;
use crate::state::ledger::{ALERTS, Alert, Counter, EntId, LOT_IDS, Ledger, Lot, LotId, STOPS, Stop};
use chrono::NaiveDate;

/// Refuses the first line whose lot may not move, naming the lot and why.
pub fn check_movable(l: &Ledger, lines: &[Line], per_line: &[LotId]) -> Result<()> {
    let mut checked = Vec::new();
    for (line, &lot) in lines.iter().zip(per_line) {
        if checked.contains(&lot) {
            continue;
        }
        checked.push(lot);
        if let Some(rule) = why_not_movable(l, &l.lot_at(lot)) {
            return Err(RecordError::new(&line.path, rule));
        }
    }
    Ok(())
}

/// Why `lot` may not move, or `None` if it may.
pub fn why_not_movable(l: &Ledger, lot: &Lot) -> Option<String> {
    let name = format!("certificate {} batch {}", lot.quarantine_number, lot.certificate_batch);
    if let Some(stop) = l.get(&STOPS, &(lot.quarantine_number.clone(), lot.certificate_batch.clone())) {
        return Some(format!(
            "{name} is stopped: {} (the {} record of transaction {}, height {}); it may not move again, its disposal is recorded on the alert of bureau {} (seed 000 §二.5)",
            stop.result, stop.record, stop.tx, stop.height, stop.province
        ));
    }
    let missing = match (&lot.documents.nucleic_acid, &lot.documents.disinfection) {
        (None, _) => "a nucleic-acid test report (核酸检测报告, nucleicInfo)",
        (_, None) => "a disinfection certificate (消毒证明, disinfectInfo)",
        (_, Some((_, _, false))) => "a disinfection certificate (消毒证明): its disinfectInfo says disinfectState 0, not disinfected",
        _ => return None,
    };
    Some(format!(
        "{name} lacks {missing} on chain; imported cold-chain food without one may not be transported, stored or sold (seed 000 四无五不); its importer adds it by submitting its product_batch again with the document"
    ))
}

/// A positive result: where it was found and by whom.
pub struct Positive {
    pub result: String,
    pub record: &'static str,
    pub tested_at: NaiveDate,
    pub lab: String,
    pub holder: Option<EntId>,
}

/// Stops the lot of (certificate, batch) and, if the lot is on chain, raises
/// its alert for the bureau of the province where the result was recorded.
/// A lot stopped before it is on chain gets its alert when its product
/// batch enters it ([`alert_on_entry`]).
pub fn stop(l: &mut Ledger, key: (String, String), positive: Positive, cx: &Cx) {
    if l.contains(&STOPS, &key) {
        return; // stopped already; the first result and its alert stand
    }
    let province = cx.province(l);
    let stop = Stop { result: positive.result.clone(), record: positive.record.to_string(), province, tx: cx.tx, height: cx.block.height };
    l.put(&STOPS, &key, &stop);
    if let Some(lot) = l.get(&LOT_IDS, &key) {
        raise(l, lot, &stop, positive.tested_at, positive.lab, positive.holder, cx);
    }
}

/// A new lot that a result stopped before it was on chain gets its alert now.
pub fn alert_on_entry(l: &mut Ledger, lot: LotId, holder: EntId, cx: &Cx) {
    let lot_ref = l.lot_at(lot);
    if let Some(stop) = l.get(&STOPS, &(lot_ref.quarantine_number.clone(), lot_ref.certificate_batch.clone())) {
        raise(l, lot, &stop, cx.today, format!("the {} record of transaction {}", stop.record, stop.tx), Some(holder), cx);
    }
}

fn raise(l: &mut Ledger, lot: LotId, stop: &Stop, tested_at: NaiveDate, lab: String, holder: Option<EntId>, cx: &Cx) {
    let Some((scheme, code)) = l.lot_codes_iter(lot).next() else { return };
    if l.contains(&ALERTS, &cx.tx) {
        return;
    }
    l.next_id(Counter::Alerts);
    let reason = format!("{}; raised by the chain from the {} record", stop.result, stop.record);
    let alert = Alert::open(stop.province.clone(), (scheme, code), lot, holder, reason, tested_at, lab, (cx.tx, cx.block.height, cx.block.time_ms));
    l.put(&ALERTS, &cx.tx, &alert);
    crate::state::warning::raise(l, &alert);
}
