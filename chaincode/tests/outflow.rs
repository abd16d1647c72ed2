//! Goods leaving the enrolled enterprises (issue 18 item 6): a shipment to a
//! buyer outside Beijing, Tianjin and Hebei, or to one its bureau has not
//! enrolled, is recorded with the receiver's name, USCC and province; the
//! goods are delivered at once and a forward trace ends there, naming it.

mod common;

use coldchain_chaincode::state::trace::Direction;
use coldchain_chaincode::testkit::admin_key;
use common::*;
use serde_json::json;

const QN: &str = "531620211160071009001";
const CODE: &str = "HE00000001";

#[test]
fn a_shipment_to_a_buyer_outside_the_consortium_ends_the_forward_trace_there() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    ok(&w.submit(&he, batch_rec(CODE, QN, "B1", 100, "2000")));
    let shandong = uscc_for("370102", "sd-buyer");
    let out = |n: &str| ship_rec(n, &shandong, vec![line("B1", 30, "600")]);

    // Not enrolled, and nothing says where it went: refused, naming both ways on.
    refuse(&mut w.chain, &he, out("S1"), "record.receiverUscc", "is not an enrolled enterprise; its province's bureau enrols it first, or");
    refuse(&mut w.chain, &he, out("S1"), "record.receiverUscc", "give receiverEntName and receiverProvince");
    refuse(&mut w.chain, &he, patch(out("S1"), json!({"receiverProvince": "370102"})), "record.receiverProvince", "is not a province code");
    refuse(
        &mut w.chain,
        &he,
        patch(out("S1"), json!({"receiverProvince": "370000"})),
        "record.receiverEntName",
        "is required for a receiver that is not enrolled",
    );
    // A mistyped USCC is still refused by its check character.
    let typo = format!("{}0", &shandong[..17]);
    let typo = if typo == shandong { format!("{}1", &shandong[..17]) } else { typo };
    refuse(
        &mut w.chain,
        &he,
        patch(ship_rec("S1", &typo, vec![line("B1", 30, "600")]), json!({"receiverProvince": "370000", "receiverEntName": "x"})),
        "record.receiverUscc",
        "",
    );
    // An enrolled receiver's province is its own.
    let storage = w.storage.uscc.clone();
    refuse(
        &mut w.chain,
        &he,
        patch(ship_rec("S1", &storage, vec![line("B1", 1, "20")]), json!({"receiverProvince": "370000"})),
        "record.receiverProvince",
        "is enrolled in province 120000, not 370000",
    );

    let named = json!({"receiverProvince": "370000", "receiverEntName": "济南历城冷链食品有限公司", "receiveContactPhone": "13912345678"});
    ok(&w.submit(&he, patch(out("S1"), named.clone())));
    // Delivered at once: it holds the goods, the importer no longer does.
    assert_eq!(w.held(&w.importer, QN, "B1"), (70, 1_400_000));
    let l = w.chain.state.ledger();
    let (buyer, e) = l.enterprise_or_outside(&shandong).expect("recorded");
    assert!(e.outside && l.enterprise(&shandong).is_none(), "recorded outside, not enrolled");
    assert_eq!(l.holding(buyer, w.lot(QN, "B1")).grams, 600_000);

    let t = w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap();
    let last = t.enterprises.last().expect("the trace's enterprises");
    assert_eq!(
        (last.uscc.as_str(), last.name.as_str(), last.province.as_str(), last.outside),
        (shandong.as_str(), "济南历城冷链食品有限公司", "370000", true)
    );
    assert_eq!(t.steps.last().map(|s| s.to.as_str()), Some(shandong.as_str()));

    // A second shipment to the same buyer uses the same entry.
    let before =
        rows(w.chain.state.ledger(), &coldchain_chaincode::state::ledger::ENTERPRISES, coldchain_chaincode::state::ledger::Counter::Enterprises)
            .len();
    ok(&w.submit(&he, patch(ship_rec("S2", &shandong, vec![line("B1", 10, "200")]), json!({"receiverProvince": "370000"}))));
    let after =
        rows(w.chain.state.ledger(), &coldchain_chaincode::state::ledger::ENTERPRISES, coldchain_chaincode::state::ledger::Counter::Enterprises)
            .len();
    assert_eq!(after, before);
    // It is no counterpart of other records: a stock-out to it is refused.
    refuse(&mut w.chain, &he, stock_out_rec("O1", &shandong, vec![line("B1", 1, "20")]), "record.receiverUscc", "is not an enrolled enterprise");

    // An alert on the lot: Shandong has no bureau on chain, so closing does
    // not wait for it, and its 800 kg show as unaccounted for.
    let r = w.submit(&admin_key("hebei"), alert_rec(HE_SCHEME, CODE));
    ok(&r);
    ok(&w.submit(&admin_key("hebei"), json!({"type": "alert_disposal", "alertId": r.tx_id.to_hex(), "state": "sealed", "weightKg": 1200})));
    let answer = w.chain.state.alert(&r.tx_id).unwrap();
    let sd = answer.accounts.provinces.iter().find(|a| a.province == "370000").expect("Shandong's share");
    assert_eq!((sd.stayed_kg.as_str(), sd.unaccounted_kg.as_str()), ("800", "800"));
    ok(&w.submit(&admin_key("hebei"), disposal_rec(&r.tx_id, "closed")));
}

#[test]
fn a_buyer_recorded_outside_keeps_its_goods_and_history_when_its_bureau_enrols_it() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    ok(&w.submit(&he, batch_rec(CODE, QN, "B1", 100, "2000")));
    // A Hebei buyer its bureau has not enrolled yet.
    let label = "he-unenrolled-buyer";
    let uscc = uscc_for(district_of("hebei"), label);
    let r = w.submit(
        &he,
        patch(ship_rec("S1", &uscc, vec![line("B1", 30, "600")]), json!({"receiverProvince": "130000", "receiverEntName": "石家庄某超市"})),
    );
    ok(&r);
    let (id, _) = w.chain.state.ledger().enterprise_or_outside(&uscc).unwrap();
    // Now enrolled: the same entry, enrolled, with the shipment first in its history.
    let key = coldchain_chaincode::testkit::key(label);
    ok(&w.submit(&admin_key("hebei"), enterprise_rec(&uscc, &key, district_of("hebei"), "11")));
    let (id2, e) = w.chain.state.ledger().enterprise(&uscc).expect("enrolled");
    assert_eq!((id2, e.outside, e.history.first()), (id, false, Some(&r.tx_id)));
    // It holds what it bought and ships it on like any enterprise.
    let storage = w.storage.uscc.clone();
    ok(&w.submit(&key, ship_rec("S9", &storage, vec![line("B1", 10, "200")])));
    let (replayed, _) = replay(&w.log);
    assert_eq!(replayed.root(), w.chain.state.root());
}
