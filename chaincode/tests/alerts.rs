//! An alert's closed loop (seed 000 §二.8): the alert stops its lot, every
//! province the goods reached records its disposal with quantities, the
//! alert shows what remains unaccounted for, and the raising bureau closes
//! it only when every such province has acted or with a logged override.
//! Associated lots (same certificate, container, cold storage or vehicle
//! within a day) are warned to their holders' bureaus (seed 003).

mod common;

use coldchain_chaincode::state::ledger::{self, AlertState};
use coldchain_chaincode::testkit::admin_key;
use common::*;
use serde_json::{Value, json};

const QN: &str = "531620211160071009001";
const CODE: &str = "HE00000001";

fn disposal(alert: &coldchain_chaincode::hash::Hash, state: &str, kg: &str) -> Value {
    json!({"type": "alert_disposal", "alertId": alert.to_hex(), "state": state, "weightKg": kg})
}

fn close(alert: &coldchain_chaincode::hash::Hash) -> Value {
    json!({"type": "alert_disposal", "alertId": alert.to_hex(), "state": "closed"})
}

/// 100 pieces / 2000 kg enter in Hebei; 600 kg go to the Tianjin storage,
/// 200 kg of them on to the Beijing wholesaler; Beijing raises the alert.
fn spread_and_alert() -> (World, coldchain_chaincode::hash::Hash) {
    let mut w = World::new();
    let (he, tj, bj) = (w.importer.key.clone(), w.storage.key.clone(), w.wholesaler.key.clone());
    let (he_uscc, tj_uscc, bj_uscc) = (w.importer.uscc.clone(), w.storage.uscc.clone(), w.wholesaler.uscc.clone());
    ok(&w.submit(&he, batch_rec(CODE, QN, "B1", 100, "2000")));
    ok(&w.submit(&he, ship_rec("S1", &tj_uscc, vec![line("B1", 30, "600")])));
    ok(&w.submit(&tj, receipt_rec("R1", "S1", &he_uscc, vec![line("B1", 30, "600")])));
    ok(&w.submit(&tj, ship_rec("S2", &bj_uscc, vec![line("B1", 10, "200")])));
    ok(&w.submit(&bj, receipt_rec("R2", "S2", &tj_uscc, vec![line("B1", 10, "200")])));
    let r = w.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, CODE));
    ok(&r);
    (w, r.tx_id)
}

#[test]
fn an_alert_closes_only_when_every_province_has_accounted_for_its_goods() {
    let (mut w, id) = spread_and_alert();
    let (bj, tj, he) = (admin_key("beijing"), admin_key("tianjin"), admin_key("hebei"));

    // The alert stops the lot: the Tianjin storage cannot ship its 400 kg on.
    let bj_uscc = w.wholesaler.uscc.clone();
    let storage = w.storage.key.clone();
    refuse(&mut w.chain, &storage, ship_rec("S3", &bj_uscc, vec![line("B1", 5, "100")]), "record.productList[0]", "is stopped");

    // A disposal step says how much it dealt with; closing carries no quantity.
    refuse(&mut w.chain, &bj, disposal_without_weight(&id), "record.weightKg", "is required on \"sealed\"");
    refuse(&mut w.chain, &bj, patch(close(&id), json!({"weightKg": "1"})), "record.weightKg", "is not given on \"closed\"");
    refuse(&mut w.chain, &bj, patch(disposal(&id, "sealed", "1"), json!({"override": "x"})), "record.override", "only on \"closed\"");
    refuse(&mut w.chain, &bj, disposal(&id, "sealed", "-1"), "record.weightKg", "");

    ok(&w.submit(&bj, disposal(&id, "sealed", "200")));
    // Beijing cannot close while Tianjin and Hebei, which received goods, have not acted.
    refuse(&mut w.chain, &bj, close(&id), "record.state", "province(s) 120000, 130000 received goods of the lot and recorded no disposal");
    // Tianjin seals in two steps: the same state again adds to it.
    ok(&w.submit(&tj, disposal(&id, "sealed", "300")));
    ok(&w.submit(&tj, disposal(&id, "sealed", "100")));
    ok(&w.submit(&he, disposal(&id, "sealed", "1000")));
    ok(&w.submit(&he, disposal(&id, "destroyed", "1200")));
    refuse(&mut w.chain, &he, disposal(&id, "sealed", "1"), "record.state", "already reached \"destroyed\"");

    let answer = w.chain.state.alert(&id).expect("the alert");
    let shown: Vec<(&str, &str, &str, &str, &str, &str, AlertState)> = answer
        .accounts
        .provinces
        .iter()
        .map(|a| {
            (
                a.province.as_str(),
                a.stayed_kg.as_str(),
                a.sealed_kg.as_str(),
                a.recalled_kg.as_str(),
                a.destroyed_kg.as_str(),
                a.unaccounted_kg.as_str(),
                a.state,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (BJ, "200", "200", "0", "0", "0", AlertState::Sealed),
            (TJ, "400", "400", "0", "0", "0", AlertState::Sealed),
            // 1400 kg stayed in Hebei; 1200 destroyed (of the 1000 sealed and more) leaves 200 unaccounted for.
            (HE, "1400", "1000", "0", "1200", "200", AlertState::Destroyed),
        ]
    );
    let held: Vec<&str> = answer.accounts.provinces.iter().map(|a| a.held_kg.as_str()).collect();
    assert_eq!(held, ["200", "400", "1400"]);
    assert_eq!(answer.accounts.unaccounted_kg, "200");

    // Every province has acted: only the raising bureau closes.
    refuse(&mut w.chain, &tj, close(&id), "record.state", "only the raising bureau (110000) closes the alert");
    ok(&w.submit(&bj, close(&id)));
    let a = w.chain.state.ledger().get(&ledger::ALERTS, &id).expect("the alert");
    assert_eq!(a.state, AlertState::Closed);
    let last = a.disposals.last().expect("the closing step");
    assert_eq!((last.override_reason.as_deref(), last.without_disposal.len(), last.grams), (None, 0, None));
}

fn disposal_without_weight(alert: &coldchain_chaincode::hash::Hash) -> Value {
    json!({"type": "alert_disposal", "alertId": alert.to_hex(), "state": "sealed"})
}

#[test]
fn the_raising_bureau_may_close_early_only_with_a_logged_override() {
    let (mut w, id) = spread_and_alert();
    let bj = admin_key("beijing");
    ok(&w.submit(&bj, disposal(&id, "sealed", "200")));
    let why = "天津、河北两地封存情况已电话确认，书面处置记录后补";
    ok(&w.submit(&bj, patch(close(&id), json!({"override": why}))));
    let a = w.chain.state.ledger().get(&ledger::ALERTS, &id).expect("the alert");
    assert_eq!(a.state, AlertState::Closed);
    let last = a.disposals.last().expect("the closing step");
    assert_eq!(last.override_reason.as_deref(), Some(why));
    assert_eq!(last.without_disposal, [TJ, HE], "the override names who had not acted");
    // The alert view still shows what is unaccounted for: all of Tianjin's and Hebei's share.
    let answer = w.chain.state.alert(&id).expect("the alert");
    assert_eq!(answer.accounts.unaccounted_kg, "1800");
}

#[test]
fn associated_lots_are_warned_to_the_bureaus_that_hold_them() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    let (tj_uscc, he_uscc) = (w.storage.uscc.clone(), w.importer.uscc.clone());
    let container = json!({"containerNumber": "MNBU3167382"});
    // A: the lot the alert will name, in container MNBU3167382.
    ok(&w.submit(&he, patch(batch_rec(CODE, QN, "A1", 100, "2000"), container.clone())));
    // B: another certificate in the same container, partly shipped to Tianjin.
    ok(&w.submit(&he, patch(batch_rec("HE00000002", "531620211160071009002", "B1", 50, "1000"), container)));
    ok(&w.submit(&he, ship_rec("S-B", &tj_uscc, vec![line("B1", 10, "200")])));
    ok(&w.submit(&w.storage.key.clone(), receipt_rec("R-B", "S-B", &he_uscc, vec![line("B1", 10, "200")])));
    // C: the same certificate, another batch, still all at the Hebei importer.
    ok(&w.submit(&he, batch_rec("HE00000003", QN, "C1", 10, "100")));
    // D: unrelated goods that rode the same truck as A, the same day.
    ok(&w.submit(&he, batch_rec("HE00000004", "531620211160071009004", "D1", 10, "100")));
    ok(&w.submit(&he, ship_rec("S-A", &tj_uscc, vec![line("A1", 10, "200")])));
    ok(&w.submit(&he, ship_rec("S-D", &tj_uscc, vec![line("D1", 10, "100")])));
    for n in ["S-A", "S-D"] {
        ok(&w.submit(&he, json!({"type": "vehicle", "licenseplate": "冀A12345", "driverName": "李四", "sendNumber": n})));
    }
    // E: nothing in common.
    ok(&w.submit(&he, batch_rec("HE00000005", "531620211160071009005", "E1", 10, "100")));

    let r = w.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, CODE));
    ok(&r);
    let reasons = |list: Vec<coldchain_chaincode::state::warning::WarningView>| -> Vec<(String, String, Vec<String>)> {
        list.into_iter().map(|v| (v.lot.certificate_batch, v.reason, v.provinces)).collect()
    };
    let all = reasons(w.chain.state.warnings_of(&r.tx_id));
    let s = |x: &str| x.to_string();
    assert_eq!(
        all,
        [
            (s("B1"), s("same_container"), vec![s(TJ), s(HE)]),
            (s("C1"), s("same_certificate"), vec![s(HE)]),
            (s("D1"), s("same_vehicle"), vec![s(TJ), s(HE)]),
        ],
        "E is not associated; B is held in both provinces; D is in transit, held by nobody, so both its custodians' bureaus are warned"
    );
    let tianjin = w.chain.state.warnings(Some(TJ));
    let batches: Vec<&str> = tianjin.iter().map(|v| v.lot.certificate_batch.as_str()).collect();
    assert_eq!(batches, ["B1", "D1"]);
    assert_eq!((tianjin[0].lot.certificate_batch.as_str(), tianjin[0].alert, tianjin[0].alert_province.as_str()), ("B1", r.tx_id, BJ));
    let holders: Vec<(&str, &str)> = tianjin[0].holders.iter().map(|h| (h.province.as_str(), h.holds_kg.as_str())).collect();
    assert_eq!(holders, [(HE, "800"), (TJ, "200")]);
    assert!(tianjin[0].detail.contains("container MNBU3167382"), "{}", tianjin[0].detail);
    assert_eq!(w.chain.state.warnings(Some(HE)).len(), 3);
    assert!(w.chain.state.warnings(Some(BJ)).is_empty());

    let (replayed, _) = replay(&w.log);
    assert_eq!(replayed.root(), w.chain.state.root(), "replay derives the same warnings");
}

#[test]
fn a_truck_that_carried_a_stock_out_links_its_lots_to_the_truck_s_shipments() {
    let mut w = World::new();
    let (he, tj) = (w.importer.key.clone(), w.storage.key.clone());
    let (tj_uscc, he_uscc, bj_uscc) = (w.storage.uscc.clone(), w.importer.uscc.clone(), w.wholesaler.uscc.clone());
    ok(&w.submit(&he, batch_rec(CODE, QN, "A1", 100, "2000")));
    ok(&w.submit(&he, batch_rec("HE00000006", "531620211160071009006", "F1", 10, "100")));
    // A rides 冀A12345 to Tianjin on 11-20.
    ok(&w.submit(&he, ship_rec("S-A", &tj_uscc, vec![line("A1", 10, "200")])));
    ok(&w.submit(&he, json!({"type": "vehicle", "licenseplate": "冀A12345", "driverName": "李四", "sendNumber": "S-A"})));
    // F reaches the Tianjin storage and leaves it for Beijing on 11-21 in the same truck.
    ok(&w.submit(&he, ship_rec("S-F", &tj_uscc, vec![line("F1", 10, "100")])));
    ok(&w.submit(&tj, receipt_rec("R-F", "S-F", &he_uscc, vec![line("F1", 10, "100")])));
    ok(&w.submit(&tj, patch(stock_out_rec("O-F", &bj_uscc, vec![line("F1", 10, "100")]), json!({"outStockDate": "2026-11-21"}))));
    ok(&w.submit(&tj, json!({"type": "vehicle", "licenseplate": "冀A12345", "driverName": "李四", "outstockCode": "O-F"})));

    let on_a = w.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, CODE));
    ok(&on_a);
    let warned: Vec<(String, String)> = w.chain.state.warnings_of(&on_a.tx_id).into_iter().map(|v| (v.lot.certificate_batch, v.reason)).collect();
    assert_eq!(warned, [("F1".to_string(), "same_vehicle".to_string())], "F's stock-out rode A's truck the next day");
    let on_f = w.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, "HE00000006"));
    ok(&on_f);
    let warned: Vec<(String, String)> = w.chain.state.warnings_of(&on_f.tx_id).into_iter().map(|v| (v.lot.certificate_batch, v.reason)).collect();
    assert_eq!(warned, [("A1".to_string(), "same_vehicle".to_string())], "and the other way round");
}
