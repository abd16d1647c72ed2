//! A Hebei → Tianjin → Beijing chain of custody under three provinces' code
//! schemes, traced forward, backward and both ways from codes of each; an
//! alert's affected set by province; associated lots; and replay determinism.

mod common;

use coldchain_chaincode::state::ledger::{self, CodeOrigin, Ledger, MovementKind};
use coldchain_chaincode::state::trace::{Direction, Trace, TraceError};
use coldchain_chaincode::testkit::admin_key;
use coldchain_chaincode::{BlockContext, Hash, Outcome, Transaction};
use common::*;
use serde_json::json;
use std::collections::BTreeSet;

const QN: &str = "531620211160071009001";
const BATCH: &str = "B2026-01";
const HE_CODE: &str = "HE00000001";
const TJ_CODE: &str = "TJ00000001";
const BJ_CODE: &str = "BJ00000001";
const RETAIL_CODE: &str = "BJ10000001";
const CONTAINER: &str = "MNBU3167382";

/// The story: the Hebei importer enters 100 pieces / 2000 kg through 天津新港
/// under HE00000001; ships 60 to the Tianjin cold storage, which receives 58,
/// places them in its storage and links TJ00000001; stocks 50 out to the
/// Beijing wholesaler, which links BJ00000001 and ships 20 and 25 to two
/// Beijing retailers; retailer 1 links its retail code BJ10000001.
/// Alongside: lot 2 (another certificate, same container), lot 3 (same
/// certificate, another batch) and lot 4 (the storage's own, stocked into
/// the same cold storage the same day).
fn story() -> World {
    let mut w = World::new();
    let (he, tj, bj, r1, r2) =
        (w.importer.key.clone(), w.storage.key.clone(), w.wholesaler.key.clone(), w.retail1.key.clone(), w.retail2.key.clone());
    let (he_u, tj_u, bj_u, r1_u, r2_u) =
        (w.importer.uscc.clone(), w.storage.uscc.clone(), w.wholesaler.uscc.clone(), w.retail1.uscc.clone(), w.retail2.uscc.clone());
    let steps = vec![
        (he.clone(), patch(batch_rec(HE_CODE, QN, BATCH, 100, "2000"), json!({"containerNumber": CONTAINER}))),
        (he.clone(), ship_rec("HB-S1", &tj_u, vec![code_line(HE_CODE, BATCH, 60, "1200")])),
        (he.clone(), json!({"type": "vehicle", "licenseplate": "冀B12345", "driverName": "赵师傅", "sendNumber": "HB-S1"})),
        (tj.clone(), receipt_rec("TJ-R1", "HB-S1", &he_u, vec![line(BATCH, 58, "1160")])),
        (tj.clone(), cold_storage_rec(&tj_u, "TJ-CS-01", "津冷一号", "第三方")),
        (
            tj.clone(),
            json!({"type": "stock_in", "inStockCode": "IN-1", "inStockDate": "2026-11-22", "storageNumber": "TJ-CS-01", "productList": [line(BATCH, 58, "1160")]}),
        ),
        (tj.clone(), link_rec(HE_SCHEME, HE_CODE, TJ_SCHEME, TJ_CODE)),
        (tj.clone(), stock_out_rec("TJ-O1", &bj_u, vec![code_line(TJ_CODE, BATCH, 50, "1000")])),
        (bj.clone(), link_rec(TJ_SCHEME, TJ_CODE, BJ_SCHEME, BJ_CODE)),
        (bj.clone(), patch(ship_rec("BJ-S1", &r1_u, vec![code_line(BJ_CODE, BATCH, 20, "400")]), json!({"sendTime": "2026-11-23"}))),
        (bj.clone(), patch(ship_rec("BJ-S2", &r2_u, vec![code_line(BJ_CODE, BATCH, 25, "500")]), json!({"sendTime": "2026-11-23"}))),
        (r1.clone(), patch(receipt_rec("R1-1", "BJ-S1", &bj_u, vec![line(BATCH, 20, "400")]), json!({"receiveTime": "2026-11-24"}))),
        (r2.clone(), patch(receipt_rec("R2-1", "BJ-S2", &bj_u, vec![line(BATCH, 25, "500")]), json!({"receiveTime": "2026-11-24"}))),
        (r1.clone(), link_rec(BJ_SCHEME, BJ_CODE, BJ_SCHEME, RETAIL_CODE)),
        // Lot 2: another certificate in the same container.
        (he.clone(), patch(batch_rec("HE00000002", "531620211160071009002", "B2026-02", 10, "200"), json!({"containerNumber": CONTAINER}))),
        // Lot 3: the same certificate, another production batch.
        (he.clone(), batch_rec("HE00000003", QN, "B2026-03", 10, "200")),
        // Lot 4: the storage's own goods, in the same cold storage the same day.
        (tj.clone(), batch_rec("TJ20000001", "531620211160071009004", "B4", 5, "100")),
        (
            tj.clone(),
            json!({"type": "stock_in", "inStockCode": "IN-2", "inStockDate": "2026-11-22", "storageNumber": "TJ-CS-01", "productList": [line("B4", 5, "100")]}),
        ),
    ];
    for (key, record) in steps {
        let note = record.to_string();
        let r = w.submit(&key, record);
        assert_eq!(r.outcome, Outcome::Applied, "story step {note}");
    }
    w
}

fn usccs(t: &Trace) -> BTreeSet<String> {
    t.enterprises.iter().map(|e| e.uscc.clone()).collect()
}

fn documents(t: &Trace) -> BTreeSet<String> {
    t.steps.iter().map(|s| s.document.clone()).collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_story_leaves_each_holder_its_share() {
    let w = story();
    assert_eq!(w.held(&w.importer, QN, BATCH), (40, 800_000));
    assert_eq!(w.held(&w.storage, QN, BATCH), (8, 160_000), "58 received, 50 stocked out");
    assert_eq!(w.held(&w.wholesaler, QN, BATCH), (5, 100_000));
    assert_eq!(w.held(&w.retail1, QN, BATCH), (20, 400_000));
    assert_eq!(w.held(&w.retail2, QN, BATCH), (25, 500_000));
    assert_eq!(w.chain.state.rejected_count(), 0);
}

#[test]
fn backward_from_a_beijing_retail_code_reaches_the_hebei_entry() {
    let w = story();
    let t = w.chain.state.trace(BJ_SCHEME, RETAIL_CODE, Direction::Backward).unwrap();
    assert_eq!(t.start_uscc, w.retail1.uscc, "a trace starts where the code was issued");
    assert_eq!(usccs(&t), set([&w.importer.uscc, &w.storage.uscc, &w.wholesaler.uscc, &w.retail1.uscc]));
    assert!(!usccs(&t).contains(&w.retail2.uscc), "the other retailer is not upstream");
    assert_eq!(documents(&t), set([QN, "HB-S1", "IN-1", "TJ-O1", "BJ-S1"]));
    let entry = t.steps.iter().find(|s| s.kind == MovementKind::Entry).expect("back to the entry");
    assert_eq!((entry.from.as_deref(), entry.to.as_str(), entry.pieces), (None, w.importer.uscc.as_str(), 100));
    assert_eq!(entry.date.to_string(), "2026-11-01");
    assert_eq!(t.lot.origin_uscc, w.importer.uscc);
    assert_eq!((t.lot.quarantine_number.as_str(), t.lot.certificate_batch.as_str(), t.lot.port_of_entry.as_str()), (QN, BATCH, "0202"));
    let provinces: BTreeSet<&str> = t.enterprises.iter().map(|e| e.province.as_str()).collect();
    assert_eq!(provinces, BTreeSet::from([BJ, TJ, HE]));
    // The storage in the chain shows where the goods were kept and by what vehicle they came.
    let stock_in = t.steps.iter().find(|s| s.kind == MovementKind::StockIn).unwrap();
    assert_eq!(stock_in.cold_storage.as_deref(), Some("津冷一号"));
    let hb = t.steps.iter().find(|s| s.document == "HB-S1").unwrap();
    assert_eq!(hb.vehicles.iter().map(|v| v.plate.as_str()).collect::<Vec<_>>(), ["冀B12345"]);
    assert_eq!(hb.received.as_ref().map(|r| (r.pieces, r.short_pieces)), Some((58, 2)));
}

#[test]
fn backward_from_the_tianjin_code_stops_at_tianjin() {
    let w = story();
    let t = w.chain.state.trace(TJ_SCHEME, TJ_CODE, Direction::Backward).unwrap();
    assert_eq!(t.start_uscc, w.storage.uscc);
    assert_eq!(usccs(&t), set([&w.importer.uscc, &w.storage.uscc]));
    assert_eq!(documents(&t), set([QN, "HB-S1", "IN-1"]));
}

#[test]
fn forward_from_the_hebei_code_reaches_every_holder() {
    let w = story();
    let t = w.chain.state.trace(HE_SCHEME, HE_CODE, Direction::Forward).unwrap();
    assert_eq!(t.start_uscc, w.importer.uscc);
    let all = set([&w.importer.uscc, &w.storage.uscc, &w.wholesaler.uscc, &w.retail1.uscc, &w.retail2.uscc]);
    assert_eq!(usccs(&t), all);
    assert_eq!(documents(&t), set(["HB-S1", "IN-1", "TJ-O1", "BJ-S1", "BJ-S2"]));
    let holds: Vec<(String, u64)> = t.enterprises.iter().map(|e| (e.uscc.clone(), e.holds_pieces.unwrap_or_default())).collect();
    for (e, pieces) in [(&w.importer, 40), (&w.storage, 8), (&w.wholesaler, 5), (&w.retail1, 20), (&w.retail2, 25)] {
        assert!(holds.contains(&(e.uscc.clone(), pieces)), "{} holds {pieces}: {holds:?}", e.label);
    }
    // Forward from the wholesaler's code: only the Beijing part.
    let t = w.chain.state.trace(BJ_SCHEME, BJ_CODE, Direction::Forward).unwrap();
    assert_eq!(usccs(&t), set([&w.wholesaler.uscc, &w.retail1.uscc, &w.retail2.uscc]));
    assert_eq!(documents(&t), set(["BJ-S1", "BJ-S2"]));
}

#[test]
fn both_ways_from_the_retail_code_reaches_every_holder_in_all_three_provinces() {
    let w = story();
    let t = w.chain.state.trace(BJ_SCHEME, RETAIL_CODE, Direction::Both).unwrap();
    assert_eq!(t.direction, Direction::Both);
    assert_eq!(usccs(&t), set([&w.importer.uscc, &w.storage.uscc, &w.wholesaler.uscc, &w.retail1.uscc, &w.retail2.uscc]));
    assert_eq!(documents(&t), set([QN, "HB-S1", "IN-1", "TJ-O1", "BJ-S1", "BJ-S2"]));
    let provinces: BTreeSet<&str> = t.enterprises.iter().map(|e| e.province.as_str()).collect();
    assert_eq!(provinces, BTreeSet::from([BJ, TJ, HE]));
    // Other lots never leak into a lot's trace.
    assert!(!documents(&t).contains("IN-2"));
    assert_eq!(t.steps.len(), 6);
}

#[test]
fn resolve_code_lists_the_codes_of_all_three_schemes() {
    let w = story();
    let r = w.chain.state.resolve_code(BJ_SCHEME, RETAIL_CODE).unwrap();
    assert_eq!((r.codes[0].scheme.as_str(), r.codes[0].code.as_str()), (BJ_SCHEME, RETAIL_CODE), "the code asked for first");
    let codes: BTreeSet<(String, String)> = r.codes.iter().map(|c| (c.scheme.clone(), c.code.clone())).collect();
    let want: BTreeSet<(String, String)> = [(HE_SCHEME, HE_CODE), (TJ_SCHEME, TJ_CODE), (BJ_SCHEME, BJ_CODE), (BJ_SCHEME, RETAIL_CODE)]
        .iter()
        .map(|(s, c)| (s.to_string(), c.to_string()))
        .collect();
    assert_eq!(codes, want);
    let provinces: BTreeSet<&str> = r.codes.iter().map(|c| c.province.as_str()).collect();
    assert_eq!(provinces, BTreeSet::from([BJ, TJ, HE]));
    assert_eq!(r.codes[0].resolver_url, format!("https://trace.{BJ_SCHEME}.gov.cn/c/{RETAIL_CODE}"));
    assert_eq!(r.codes[0].issuer_uscc.as_deref(), Some(w.retail1.uscc.as_str()));
    let tj = r.codes.iter().find(|c| c.code == TJ_CODE).unwrap();
    assert_eq!(tj.origin, CodeOrigin::Link { from_scheme: HE_SCHEME.into(), from_code: HE_CODE.into() });
    assert_eq!(tj.issuer_uscc.as_deref(), Some(w.storage.uscc.as_str()));
    assert_eq!((r.lot.origin_uscc.as_str(), r.lot.entered_pieces, r.lot.entered_kg.as_str()), (w.importer.uscc.as_str(), 100, "2000"));
    // From the Hebei code: the same codes, that one first.
    let h = w.chain.state.resolve_code(HE_SCHEME, HE_CODE).unwrap();
    assert_eq!(h.codes[0].code, HE_CODE);
    assert_eq!(h.codes.iter().map(|c| (c.scheme.clone(), c.code.clone())).collect::<BTreeSet<_>>(), want);
}

#[test]
fn unknown_schemes_codes_and_alerts_are_errors() {
    let w = story();
    let s = &w.chain.state;
    assert_eq!(s.trace("nope", HE_CODE, Direction::Both).unwrap_err(), TraceError::UnknownScheme("nope".into()));
    assert!(
        matches!(s.trace(BJ_SCHEME, HE_CODE, Direction::Both).unwrap_err(), TraceError::UnknownCode { .. }),
        "a code is known in its own scheme only"
    );
    assert!(matches!(s.resolve_code(BJ_SCHEME, "BJ99999999").unwrap_err(), TraceError::UnknownCode { .. }));
    assert!(matches!(s.resolve_code("nope", "x").unwrap_err(), TraceError::UnknownScheme(_)));
    let id = Hash::digest(b"no alert");
    assert_eq!(s.alert(&id).unwrap_err(), TraceError::UnknownAlert(id));
}

#[test]
fn an_alert_on_the_retail_code_groups_the_affected_by_province() {
    let mut w = story();
    let r = w.submit(&admin_key("beijing"), alert_rec(BJ_SCHEME, RETAIL_CODE));
    assert_eq!(r.outcome, Outcome::Applied);
    let a = w.chain.state.alert(&r.tx_id).unwrap();
    assert_eq!((a.alert.province.as_str(), a.alert.code.as_str()), (BJ, RETAIL_CODE));
    assert_eq!(a.affected.keys().map(String::as_str).collect::<Vec<_>>(), [BJ, TJ, HE]);
    let of = |p: &str| a.affected[p].iter().map(|e| e.uscc.clone()).collect::<BTreeSet<_>>();
    assert_eq!(of(BJ), set([&w.wholesaler.uscc, &w.retail1.uscc, &w.retail2.uscc]));
    assert_eq!(of(TJ), set([&w.storage.uscc]));
    assert_eq!(of(HE), set([&w.importer.uscc]));
    let find = |p: &str, uscc: &str| a.affected[p].iter().find(|e| e.uscc == uscc).unwrap().clone();
    let storage = find(TJ, &w.storage.uscc);
    assert_eq!((storage.received_pieces, storage.holds_pieces), (58, 8), "what it received, not what was shipped to it");
    assert_eq!(storage.received_on.iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["2026-11-21"]);
    assert_eq!(storage.sold_on.iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["2026-11-22"]);
    let importer = find(HE, &w.importer.uscc);
    assert_eq!((importer.received_pieces, importer.holds_pieces), (100, 40));
    assert_eq!(importer.sold_on.iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["2026-11-20"]);
    let r2 = find(BJ, &w.retail2.uscc);
    assert_eq!((r2.received_pieces, r2.holds_pieces, r2.holds_kg.as_str()), (25, 25, "500"));
    assert_eq!(a.trace.start_uscc, w.retail1.uscc);
    assert_eq!(a.trace.direction, Direction::Both);
    // The lot sharing the container is flagged.
    let lot2 = a.associated.iter().find(|x| x.reason == "same_container").expect("same container");
    assert_eq!(lot2.lot.quarantine_number, "531620211160071009002");
    assert_eq!(w.chain.state.alerts().len(), 1);
}

#[test]
fn associated_lots_share_a_certificate_a_container_or_a_cold_storage() {
    let w = story();
    let assoc = w.chain.state.associated(w.lot(QN, BATCH));
    let got: BTreeSet<(String, String, String)> =
        assoc.iter().map(|a| (a.reason.clone(), a.lot.quarantine_number.clone(), a.lot.certificate_batch.clone())).collect();
    let want: BTreeSet<(String, String, String)> = [
        ("same_container", "531620211160071009002", "B2026-02"),
        ("same_certificate", QN, "B2026-03"),
        ("same_cold_storage", "531620211160071009004", "B4"),
    ]
    .iter()
    .map(|(r, q, b)| (r.to_string(), q.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    let container = assoc.iter().find(|a| a.reason == "same_container").unwrap();
    assert!(container.detail.contains(CONTAINER));
    // Lot 2 sees lot 1 by the container; lot 3 by the certificate.
    let of2 = w.chain.state.associated(w.lot("531620211160071009002", "B2026-02"));
    assert_eq!(of2.iter().map(|a| (a.reason.as_str(), a.lot.certificate_batch.as_str())).collect::<Vec<_>>(), [("same_container", BATCH)]);
    let of3 = w.chain.state.associated(w.lot(QN, "B2026-03"));
    assert_eq!(of3.iter().map(|a| (a.reason.as_str(), a.lot.certificate_batch.as_str())).collect::<Vec<_>>(), [("same_certificate", BATCH)]);
}

// ───────────────────────────── replay ─────────────────────────────

#[test]
fn replaying_the_same_blocks_reproduces_root_and_digest() {
    let mut w = story();
    ok(&w.submit(&admin_key("beijing"), alert_rec(BJ_SCHEME, RETAIL_CODE)));
    // A rejection is part of the history too.
    let k = w.importer.key.clone();
    let to = w.storage.uscc.clone();
    let bad = w.submit(&k, ship_rec("HB-S1", &to, vec![line(BATCH, 1, "1")]));
    assert!(matches!(bad.outcome, Outcome::Rejected { .. }));
    let (a, outcomes_a) = replay(&w.log);
    let (b, outcomes_b) = replay(&w.log);
    assert_eq!((a.root(), a.digest()), (w.chain.state.root(), w.chain.state.digest()), "a fresh state replaying the blocks agrees with the chain");
    assert_eq!((a.root(), a.digest()), (b.root(), b.digest()));
    assert_eq!(outcomes_a, outcomes_b);
    assert_eq!(ledger_bytes(&a), ledger_bytes(&w.chain.state));
    assert_eq!((a.applied_count(), a.rejected_count()), (w.chain.state.applied_count(), w.chain.state.rejected_count()));
    // The replayed state answers the same queries.
    let t1 = serde_json::to_value(a.trace(BJ_SCHEME, RETAIL_CODE, Direction::Both).unwrap()).unwrap();
    let t2 = serde_json::to_value(w.chain.state.trace(BJ_SCHEME, RETAIL_CODE, Direction::Both).unwrap()).unwrap();
    assert_eq!(t1, t2);
    // The same transactions in other blocks (heights) are another history.
    let shifted: Vec<(BlockContext, Transaction)> = w.log.iter().map(|(c, t)| (BlockContext { height: c.height + 1, ..*c }, t.clone())).collect();
    let (c, outcomes_c) = replay(&shifted);
    assert_eq!(outcomes_c, outcomes_a);
    assert_ne!(c.root(), a.root());
}

#[test]
fn conflicting_shipments_in_another_order_give_another_outcome_each_reproducible() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    ok(&w.submit(&k, batch_rec(HE_CODE, QN, BATCH, 100, "2000")));
    let x = w.chain.sign(&k, ship_rec("X", &w.storage.uscc.clone(), vec![line(BATCH, 70, "1400")]));
    let y = w.chain.sign(&k, ship_rec("Y", &w.wholesaler.uscc.clone(), vec![line(BATCH, 60, "1200")]));
    let last = w.log.last().unwrap().0;
    let ctx = BlockContext { height: last.height + 1, time_ms: last.time_ms };
    let with_block = |first: &Transaction, second: &Transaction| {
        let mut log = w.log.clone();
        log.push((ctx, first.clone()));
        log.push((ctx, second.clone()));
        log
    };
    let (xy, yx) = (with_block(&x, &y), with_block(&y, &x));
    let (s1, o1) = replay(&xy);
    let (s2, o2) = replay(&xy);
    let (s3, o3) = replay(&yx);
    let (s4, o4) = replay(&yx);
    assert_eq!((s1.root(), s1.digest(), &o1), (s2.root(), s2.digest(), &o2), "each order replays the same");
    assert_eq!((s3.root(), s3.digest(), &o3), (s4.root(), s4.digest(), &o4), "each order replays the same");
    assert_ne!(s1.root(), s3.root());
    assert_ne!(s1.digest(), s3.digest());
    let n = xy.len();
    assert_eq!(o1[n - 2], Outcome::Applied, "X first: X applies");
    rejected(&coldchain_chaincode::Receipt { tx_id: y.id(), outcome: o1[n - 1].clone() }, "record.productList[0].numberOfPieces", "takes 60 pieces");
    assert_eq!(o3[n - 2], Outcome::Applied, "Y first: Y applies");
    rejected(&coldchain_chaincode::Receipt { tx_id: x.id(), outcome: o3[n - 1].clone() }, "record.productList[0].numberOfPieces", "takes 70 pieces");
    let importer = s1.ledger().enterprise(&w.importer.uscc).unwrap().0;
    let lot = s1.ledger().get(&ledger::LOT_IDS, &(QN.to_string(), BATCH.to_string())).expect("the lot");
    assert_eq!(s1.ledger().holding(importer, lot).pieces, 30);
    assert_eq!(s3.ledger().holding(importer, lot).pieces, 40);
    let shipped = |l: &Ledger, number: &str| l.scan_all(&ledger::SHIPMENTS).any(|((_, n), _)| n == number);
    assert!(shipped(s1.ledger(), "X") && !shipped(s1.ledger(), "Y"));
    assert!(shipped(s3.ledger(), "Y") && !shipped(s3.ledger(), "X"));
    // The test chain's own block path gives the same result as the replay.
    let mut chain = coldchain_chaincode::testkit::Chain::new();
    let mut outcomes = Vec::new();
    let mut i = 0;
    while i < xy.len() {
        let ctx = xy[i].0;
        let block: Vec<Transaction> = xy[i..].iter().take_while(|(c, _)| *c == ctx).map(|(_, t)| t.clone()).collect();
        i += block.len();
        chain.height = ctx.height - 1;
        chain.time_ms = ctx.time_ms;
        outcomes.extend(chain.block(&block).into_iter().map(|r| r.outcome));
    }
    assert_eq!(outcomes, o1);
    assert_eq!((chain.state.root(), chain.state.digest()), (s1.root(), s1.digest()));
}
