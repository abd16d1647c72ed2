//! Seed 000 §二.5 and 四无五不: imported goods move only with their nucleic-acid
//! test and disinfection on chain, and a positive result stops the lot and
//! raises an alert for the bureau of the province where it was recorded.

mod common;

use coldchain_chaincode::state::ledger::{self, AlertState, Counter, MovementKind};
use common::*;
use serde_json::{Value, json};

const QN: &str = "531620211160071009001";
const BATCH: &str = "B2026-01";
const CODE: &str = "HE00000001";

/// A product batch of (QN, BATCH) without the nucleic-acid test and the disinfection.
fn bare_batch(code: &str) -> Value {
    patch(batch_rec(code, QN, BATCH, 100, "2000"), json!({"nucleicInfo": null, "disinfectInfo": null}))
}

fn positive() -> Value {
    json!({"naResult": "阳性", "naDate": "2026-11-02", "naUnit": "天津海关技术中心"})
}

fn warehouse_rec(data_id: &str, owner: &str, result: &str) -> Value {
    json!({
        "type": "central_warehouse", "dataid": data_id, "containerNumber": "MNBU3167382", "productionBatch": BATCH,
        "quarantineNumber": QN, "unifSociCredCode": owner, "nucleicResult": result, "pieces": 100, "nucleicData": "2026-11-03",
        "coldName": "天津港集中监管仓",
    })
}

fn movements(w: &World) -> usize {
    rows(w.chain.state.ledger(), &ledger::MOVEMENTS, Counter::Movements).len()
}

fn alerts(w: &World) -> Vec<ledger::Alert> {
    w.chain.state.ledger().scan_all(&ledger::ALERTS).map(|(_, a)| a).collect()
}

#[test]
fn goods_without_a_nucleic_test_or_disinfection_do_not_move_until_the_importer_adds_them() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    ok(&w.submit(&k, bare_batch(CODE)));
    let storage = w.storage.uscc.clone();
    let ship = |n: &str| ship_rec(n, &storage, vec![line(BATCH, 30, "600")]);
    refuse(&mut w.chain, &k, ship("S1"), "record.productList[0]", "lacks a nucleic-acid test report (核酸检测报告, nucleicInfo) on chain");
    refuse(&mut w.chain, &k, ship("S1"), "record.productList[0]", "may not be transported, stored or sold (seed 000 四无五不)");
    // A stock-out is a movement too.
    refuse(&mut w.chain, &k, stock_out_rec("O1", &storage, vec![line(BATCH, 1, "20")]), "record.productList[0]", "nucleicInfo");

    // The importer submits its product batch again with the test: still no disinfection.
    let with_test = patch(bare_batch(CODE), json!({"nucleicInfo": {"naResult": "阴性", "naDate": "2026-11-02", "naUnit": "天津海关"}}));
    ok(&w.submit(&k, with_test.clone()));
    refuse(&mut w.chain, &k, ship("S1"), "record.productList[0]", "lacks a disinfection certificate (消毒证明, disinfectInfo)");
    // A disinfection that did not happen (disinfectState 0) is no certificate.
    let not_done = json!({"disinfectDate": "2026-11-02", "placeOfDisinfection": "CustomsPort", "disinfectNumber": "XD1", "disinfectState": 0});
    ok(&w.submit(&k, patch(bare_batch(CODE), json!({"disinfectInfo": not_done}))));
    refuse(&mut w.chain, &k, ship("S1"), "record.productList[0]", "disinfectState 0, not disinfected");
    let done = json!({"disinfectDate": "2026-11-02", "placeOfDisinfection": "CustomsPort", "disinfectNumber": "XD2", "disinfectState": 1});
    ok(&w.submit(&k, patch(bare_batch(CODE), json!({"disinfectInfo": done}))));
    let before = movements(&w);
    ok(&w.submit(&k, ship("S1")));
    assert_eq!(movements(&w), before + 1);
    // The updates entered nothing: the lot still has its 100 pieces, 30 of them shipped.
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_400_000));
    // Re-submitting without any document is still a second registration of the code.
    refuse(&mut w.chain, &k, patch(bare_batch(CODE), json!({})), "record.traceCode", "is already registered");
}

#[test]
fn a_positive_product_batch_stops_the_lot_and_alerts_its_province() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    ok(&w.submit(&k, batch_rec(CODE, QN, BATCH, 100, "2000")));
    let storage = w.storage.uscc.clone();
    ok(&w.submit(&k, ship_rec("S1", &storage, vec![line(BATCH, 30, "600")])));
    // A later test of the lot is positive.
    let r = w.submit(&k, patch(batch_rec(CODE, QN, BATCH, 100, "2000"), json!({"nucleicInfo": positive()})));
    ok(&r);
    let a = alerts(&w);
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].id, a[0].province.as_str(), a[0].code.as_str(), a[0].state), (r.tx_id, HE, CODE, AlertState::Open));
    assert!(a[0].reason.contains("nucleic-acid test positive (核酸检测阳性) by 天津海关技术中心"), "{}", a[0].reason);
    assert_eq!(a[0].lab, "天津海关技术中心");
    // No further movement of the lot: not by the importer ...
    let before = movements(&w);
    let field = "record.productList[0]";
    refuse(
        &mut w.chain,
        &k,
        ship_rec("S2", &storage, vec![line(BATCH, 10, "200")]),
        field,
        "certificate 531620211160071009001 batch B2026-01 is stopped",
    );
    refuse(&mut w.chain, &k, ship_rec("S2", &storage, vec![line(BATCH, 10, "200")]), field, &format!("transaction {}", r.tx_id));
    // ... and a later negative test does not lift the stop.
    ok(&w.submit(&k, batch_rec(CODE, QN, BATCH, 100, "2000")));
    refuse(&mut w.chain, &k, ship_rec("S2", &storage, vec![line(BATCH, 10, "200")]), field, "it may not move again");
    assert_eq!(alerts(&w).len(), 1, "one alert for the lot");
    // Goods in transit are still received, so the trace shows where they are.
    let importer = w.importer.uscc.clone();
    let tj = w.storage.key.clone();
    ok(&w.submit(&tj, receipt_rec("R1", "S1", &importer, vec![line(BATCH, 30, "600")])));
    // But the receiver cannot pass them on.
    let bj = w.wholesaler.uscc.clone();
    refuse(&mut w.chain, &tj, ship_rec("S3", &bj, vec![line(BATCH, 30, "600")]), field, "is stopped");
    assert_eq!(movements(&w), before);
}

#[test]
fn a_positive_central_warehouse_result_stops_a_lot_before_or_after_it_is_entered() {
    // After: the lot is on chain; the warehouse's bureau (Tianjin, where it
    // was recorded) gets the alert.
    let mut w = World::new();
    let k = w.importer.key.clone();
    ok(&w.submit(&k, batch_rec(CODE, QN, BATCH, 100, "2000")));
    let owner = w.importer.uscc.clone();
    let tj = w.storage.key.clone();
    ok(&w.submit(&tj, warehouse_rec("D-0", &owner, "阴性")));
    assert!(alerts(&w).is_empty(), "a negative result raises nothing");
    let r = w.submit(&tj, warehouse_rec("D-1", &owner, "阳性"));
    ok(&r);
    let a = alerts(&w);
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].id, a[0].province.as_str(), a[0].lab.as_str()), (r.tx_id, TJ, "天津港集中监管仓"));
    assert_eq!(a[0].tested_at.to_string(), "2026-11-03");
    let storage = w.storage.uscc.clone();
    refuse(&mut w.chain, &k, ship_rec("S1", &storage, vec![line(BATCH, 30, "600")]), "record.productList[0]", "at the central supervised warehouse");

    // Before: the result names a certificate and batch not yet on chain; the
    // product batch that enters it is accepted (the record is the trace),
    // the lot is stopped and the alert raised then.
    let mut w = World::new();
    let owner = w.importer.uscc.clone();
    let tj = w.storage.key.clone();
    ok(&w.submit(&tj, warehouse_rec("D-1", &owner, "阳性")));
    assert!(alerts(&w).is_empty(), "no lot, no alert yet");
    let k = w.importer.key.clone();
    let entry = w.submit(&k, batch_rec(CODE, QN, BATCH, 100, "2000"));
    ok(&entry);
    let a = alerts(&w);
    assert_eq!((a.len(), a[0].id, a[0].province.as_str()), (1, entry.tx_id, TJ));
    let lot = w.lot(QN, BATCH);
    let kinds: Vec<MovementKind> =
        w.chain.state.ledger().lot_movements(lot).into_iter().map(|m| w.chain.state.ledger().get(&ledger::MOVEMENTS, &m).unwrap().kind).collect();
    assert_eq!(kinds, vec![MovementKind::Entry]);
    refuse(&mut w.chain, &k, ship_rec("S1", &storage, vec![line(BATCH, 30, "600")]), "record.productList[0]", "is stopped");
}

#[test]
fn stops_replay_to_the_same_state() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let owner = w.importer.uscc.clone();
    let tj = w.storage.key.clone();
    ok(&w.submit(&tj, warehouse_rec("D-1", &owner, "阳性")));
    ok(&w.submit(&k, batch_rec(CODE, QN, BATCH, 100, "2000")));
    ok(&w.submit(&k, patch(batch_rec("HE00000002", QN, "B2", 5, "50"), json!({"nucleicInfo": positive()}))));
    let (replayed, _) = replay(&w.log);
    assert_eq!(ledger_bytes(&replayed), ledger_bytes(&w.chain.state));
    assert_eq!(replayed.root(), w.chain.state.root());
}
