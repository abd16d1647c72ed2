//! Finding lots from what a positive-test notice names, and raising an
//! alert on a certificate and batch (issue 18 item 1).

mod common;

use coldchain_chaincode::state::ledger;
use coldchain_chaincode::state::search::{Query, search};
use coldchain_chaincode::testkit::admin_key;
use common::*;
use serde_json::json;

const QN: &str = "531620211160071009001";
const BATCH: &str = "B2026-01";

/// Two lots of one certificate (batches B2026-01 and B2) in one container;
/// 30 pieces of the first shipped to the Tianjin storage in 冀B12345 by 赵师傅.
fn world() -> World {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let container = json!({"containerNumber": "MNBU3167382"});
    ok(&w.submit(&k, patch(batch_rec("HE00000001", QN, BATCH, 100, "2000"), container.clone())));
    ok(&w.submit(&k, patch(batch_rec("HE00000002", QN, "B2", 10, "200"), container)));
    ok(&w.submit(&k, batch_rec("HE00000003", "531620211160071009002", "B3", 5, "50")));
    let storage = w.storage.uscc.clone();
    ok(&w.submit(&k, ship_rec("S1", &storage, vec![line(BATCH, 30, "600")])));
    ok(&w.submit(&k, json!({"type": "vehicle", "licenseplate": "冀B12345", "driverName": "赵师傅", "sendNumber": "S1"})));
    w
}

fn found(w: &World, q: Query) -> Vec<(String, String)> {
    let (hits, more) = search(w.chain.state.ledger(), &q, 100);
    assert!(!more);
    hits.into_iter().map(|h| (h.lot.quarantine_number, h.lot.certificate_batch)).collect()
}

fn lot(qn: &str, batch: &str) -> (String, String) {
    (qn.to_string(), batch.to_string())
}

#[test]
fn an_officer_finds_lots_by_certificate_container_enterprise_vehicle_and_driver() {
    let w = world();
    let both = vec![lot(QN, "B2"), lot(QN, BATCH)];
    let mut by_cert = found(&w, Query::Certificate { number: QN.into(), batch: None });
    by_cert.sort();
    assert_eq!(by_cert, both);
    assert_eq!(found(&w, Query::Certificate { number: QN.into(), batch: Some(BATCH.into()) }), vec![lot(QN, BATCH)]);
    assert_eq!(found(&w, Query::Certificate { number: QN.into(), batch: Some("nope".into()) }), vec![]);
    let mut by_container = found(&w, Query::Container("MNBU3167382".into()));
    by_container.sort();
    assert_eq!(by_container, both);
    // The Tianjin storage holds the shipped goods (in transit counts as its own from shipping).
    assert_eq!(found(&w, Query::Enterprise(w.importer.uscc.clone())).len(), 3);
    let by_name = found(&w, Query::EnterpriseName(w.chain.state.ledger().enterprise(&w.importer.uscc).unwrap().1.name));
    assert_eq!(by_name.len(), 3);
    assert_eq!(found(&w, Query::Plate("冀B12345".into())), vec![lot(QN, BATCH)]);
    assert_eq!(found(&w, Query::Driver("赵师傅".into())), vec![lot(QN, BATCH)]);
    assert_eq!(found(&w, Query::Plate("京A00000".into())), vec![]);
    // A hit says why it matched and gives the codes to trace from.
    let (hits, _) = search(w.chain.state.ledger(), &Query::Plate("冀B12345".into()), 100);
    assert_eq!(hits[0].matched, vec!["shipment S1 carried by vehicle 冀B12345".to_string()]);
    assert_eq!(hits[0].codes, vec![(HE_SCHEME.to_string(), "HE00000001".to_string())]);
    // At most `limit`, saying there were more.
    let (hits, more) = search(w.chain.state.ledger(), &Query::Enterprise(w.importer.uscc.clone()), 2);
    assert_eq!((hits.len(), more), (2, true));
}

#[test]
fn an_alert_is_raised_on_a_certificate_and_batch() {
    let mut w = world();
    let bj = admin_key("beijing");
    let alert =
        |cert: serde_json::Value| patch(json!({"type": "alert", "reason": "外包装核酸阳性", "testedAt": "2026-11-23", "lab": "北京疾控"}), cert);
    refuse(&mut w.chain, &bj, alert(json!({})), "record.code", "or else quarantineNumber and batch");
    refuse(&mut w.chain, &bj, alert(json!({"quarantineNumber": QN})), "record.batch", "is required with quarantineNumber");
    refuse(
        &mut w.chain,
        &bj,
        alert(json!({"quarantineNumber": QN, "batch": "B9"})),
        "record.quarantineNumber",
        "certificate 531620211160071009001 batch B9 is not on chain",
    );
    refuse(&mut w.chain, &bj, alert(json!({"quarantineNumber": QN, "batch": BATCH, "code": "HE00000001"})), "record.code", "not both");
    let r = w.submit(&bj, alert(json!({"quarantineNumber": QN, "batch": BATCH})));
    ok(&r);
    let a = w.chain.state.ledger().get(&ledger::ALERTS, &r.tx_id).expect("the alert");
    assert_eq!((a.province.as_str(), a.scheme.as_str(), a.code.as_str()), (BJ, HE_SCHEME, "HE00000001"));
    assert_eq!(a.lot, w.lot(QN, BATCH));
}
