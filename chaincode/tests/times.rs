//! Times, not just dates (issue 18 item 8): entry, sending, receiving
//! (purchase) and stock-in/out times keep their time of day (seed 004's
//! 日期时间型), in China Standard Time; a date alone stays accepted.

mod common;

use coldchain_chaincode::state::trace::Direction;
use common::*;
use serde_json::json;

const QN: &str = "531620211160071009001";
const CODE: &str = "HE00000001";

#[test]
fn movement_times_keep_their_time_of_day_in_china_standard_time() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    let tj = w.storage.key.clone();
    let batch = patch_in(batch_rec(CODE, QN, "B1", 100, "2000"), "quarantineInfo", json!({"dateOfEntry": "2026-11-01 08:30:00"}));
    ok(&w.submit(&he, batch));
    let storage = w.storage.uscc.clone();
    let importer = w.importer.uscc.clone();
    ok(&w.submit(&he, patch(ship_rec("S1", &storage, vec![line("B1", 60, "1200")]), json!({"sendTime": "2026-11-20T09:15:00+08:00"}))));

    // Received before it was sent, by the clock of the same day: refused, naming both times.
    let receipt = |time: &str| patch(receipt_rec("R1", "S1", &importer, vec![line("B1", 60, "1200")]), json!({"receiveTime": time}));
    refuse(
        &mut w.chain,
        &tj,
        receipt("2026-11-20 08:00"),
        "record.receiveTime",
        "received 2026-11-20T08:00:00+08:00 before it was sent on 2026-11-20T09:15:00+08:00",
    );
    refuse(&mut w.chain, &tj, receipt("2026-11-20 25:00"), "record.receiveTime", "is not a GB/T 7408 date or date-time");
    // 06:30 UTC is 14:30 in Beijing.
    ok(&w.submit(&tj, receipt("2026-11-20T06:30:00Z")));
    let wholesaler = w.wholesaler.uscc.clone();
    ok(&w.submit(&tj, patch(stock_out_rec("O1", &wholesaler, vec![line("B1", 20, "400")]), json!({"outStockDate": "2026-11-22 16:45:10"}))));
    // A date alone is still a date: no time of day is invented.
    ok(&w.submit(&tj, stock_out_rec("O2", &wholesaler, vec![line("B1", 10, "200")])));

    let t = serde_json::to_value(w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap()).unwrap();
    assert_eq!((&t["lot"]["entry_date"], &t["lot"]["entry_time"]), (&json!("2026-11-01"), &json!("08:30:00")), "{t:#}");
    let steps = t["steps"].as_array().unwrap();
    let by_doc = |doc: &str| steps.iter().find(|s| s["document"] == doc).unwrap_or_else(|| panic!("no step {doc}: {t:#}"));
    let shipped = by_doc("S1");
    assert_eq!((&shipped["date"], &shipped["time"]), (&json!("2026-11-20"), &json!("09:15:00")));
    assert_eq!((&shipped["received"]["date"], &shipped["received"]["time"]), (&json!("2026-11-20"), &json!("14:30:00")));
    assert_eq!((&by_doc("O1")["date"], &by_doc("O1")["time"]), (&json!("2026-11-22"), &json!("16:45:10")));
    assert_eq!(by_doc("O2")["date"], "2026-11-22");
    assert!(by_doc("O2").get("time").is_none(), "a date-only record has no time of day: {}", by_doc("O2"));
}
