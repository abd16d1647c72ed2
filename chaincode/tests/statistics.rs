//! Statistics for bureaus (issue 18 item 5): the figures the records keep as
//! they apply, read back by province, day, product category, country of
//! origin, port and record type; the reports each province sent; the
//! enterprises that recorded nothing on a day; the same after a replay.

mod common;

use chrono::NaiveDate;
use coldchain_chaincode::state::ledger;
use coldchain_chaincode::state::statistics::{By, StatisticsRow, reports, statistics, unreported};
use coldchain_chaincode::testkit::admin_key;
use common::*;
use serde_json::json;

const QN: &str = "531620211160071009001";
const QN2: &str = "531620211160071009002";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn product_rec() -> serde_json::Value {
    json!({"type": "product", "productLibraryId": GTIN, "productName": "冻牛肉", "productCategory": "4401", "country": "BR"})
}

/// Rows as (key, records, batches, weight_kg).
fn brief(rows: &[StatisticsRow]) -> Vec<(String, Option<u64>, Option<u64>, Option<String>)> {
    rows.iter().map(|r| (r.key.clone(), r.records, r.batches, r.weight_kg.clone())).collect()
}

fn row(key: &str, records: Option<u64>, batches: Option<u64>, kg: Option<&str>) -> (String, Option<u64>, Option<u64>, Option<String>) {
    (key.to_string(), records, batches, kg.map(str::to_string))
}

/// Day 24 (the World's enrolments, a product, two batches, a certificate and
/// a flow report); day 25 (the Tianjin storage's record, a suspension).
fn world() -> World {
    let mut w = World::new();
    let k = w.importer.key.clone();
    ok(&w.submit(&k, product_rec()));
    ok(&w.submit(&k, batch_rec("HE00000001", QN, "B1", 100, "2000")));
    // A product without a `product` record: no category or origin.
    ok(&w.submit(&k, patch(batch_rec("HE00000002", QN2, "B2", 10, "250.5"), json!({"productLibraryId": GTIN2}))));
    ok(&w.submit(&admin_key("hebei"), cert_rec(QN, "B1")));
    ok(&w.submit(&admin_key("beijing"), flow_rec(QN, "B1", "in", "1000")));
    w.chain.advance_days(1);
    let storage = w.storage.key.clone();
    ok(&w.submit(&storage, json!({"type": "notarise", "document": {"stock": "daily"}})));
    ok(&w.submit(&storage, json!({"type": "notarise", "document": {"stock": "again"}})));
    // Beijing suspends a retailer.
    let retail2 = w.retail2.key.clone();
    let mut suspend = enterprise_rec(&w.retail2.uscc, &retail2, district_of("beijing"), "11");
    suspend["suspended"] = json!(true);
    ok(&w.submit(&admin_key("beijing"), suspend));
    w
}

#[test]
fn figures_by_province_day_category_origin_port_and_type() {
    let w = world();
    let l = w.chain.state.ledger();
    // Day 24: each bureau its scheme and enrolments; Hebei's importer its
    // product and batches, Hebei's bureau a certificate, Beijing's a flow.
    let s = statistics(l, day(24), day(24), By::Province, None);
    assert_eq!(
        brief(&s.rows),
        vec![row(BJ, Some(5), Some(0), Some("0")), row(TJ, Some(2), Some(0), Some("0")), row(HE, Some(6), Some(2), Some("2250.5"))],
        "{s:#?}"
    );
    let he = &s.rows[2];
    assert_eq!((he.pieces, he.enrolled, he.reporting, he.certificate_reports, he.flow_reports), (Some(110), Some(1), Some(1), Some(1), Some(0)));
    let bj = &s.rows[0];
    assert_eq!((bj.enrolled, bj.reporting, bj.flow_reports), (Some(3), Some(0), Some(1)));
    assert_eq!((s.total.key.as_str(), s.total.records, s.total.batches), ("total", Some(13), Some(2)));
    assert_eq!(s.rows[0].name, "北京市");

    // Over both days, by day.
    let by_day = statistics(l, day(24), day(25), By::Day, None);
    assert_eq!(brief(&by_day.rows), vec![row("2026-11-24", Some(13), Some(2), Some("2250.5")), row("2026-11-25", Some(3), Some(0), Some("0"))]);
    assert_eq!(by_day.rows[1].reporting, Some(1), "the storage reported once on the 25th, whatever its records");
    // One province's days.
    let tj = statistics(l, day(20), day(30), By::Day, Some(TJ));
    assert_eq!(brief(&tj.rows), vec![row("2026-11-24", Some(2), Some(0), Some("0")), row("2026-11-25", Some(2), Some(0), Some("0"))]);
    // A range with nothing in it.
    assert!(statistics(l, day(1), day(23), By::Province, None).rows.is_empty());

    // Goods by category, origin and port count batches and weight, not records.
    let cat = statistics(l, day(24), day(25), By::Category, None);
    assert_eq!(brief(&cat.rows), vec![row("", None, Some(1), Some("250.5")), row("4401", None, Some(1), Some("2000"))]);
    assert_eq!((cat.rows[0].name.as_str(), cat.rows[1].name.as_str()), ("(no product record)", "禽肉及其副产品/鸡肉"));
    assert_eq!(cat.rows[1].enrolled, None);
    let origin = statistics(l, day(24), day(25), By::Origin, Some(HE));
    assert_eq!(brief(&origin.rows), vec![row("", None, Some(1), Some("250.5")), row("BR", None, Some(1), Some("2000"))]);
    let port = statistics(l, day(24), day(25), By::Port, None);
    assert_eq!(brief(&port.rows), vec![row("0202", None, Some(2), Some("2250.5"))]);
    assert_eq!(port.rows[0].name, "天津新港");
    assert!(statistics(l, day(24), day(25), By::Port, Some(BJ)).rows.is_empty());

    // Records by type.
    let types = statistics(l, day(24), day(25), By::RecordType, Some(HE));
    assert_eq!(
        brief(&types.rows),
        vec![
            row("certificate_report", Some(1), None, None),
            row("code_scheme", Some(1), None, None),
            row("enterprise", Some(1), None, None),
            row("product", Some(1), None, None),
            row("product_batch", Some(2), None, None),
        ]
    );

    // Enterprises enrolled now, by province and type; the suspended one counted as such.
    let counts: Vec<(String, String, u64, u64)> =
        s.enterprises.iter().map(|c| (c.province.clone(), c.enterprise_type.clone(), c.enrolled, c.suspended)).collect();
    assert_eq!(
        counts,
        vec![(BJ.into(), "06".into(), 1, 0), (BJ.into(), "11".into(), 2, 1), (TJ.into(), "19".into(), 1, 0), (HE.into(), "07".into(), 1, 0),]
    );
    assert_eq!(statistics(l, day(24), day(24), By::Province, Some(TJ)).enterprises.len(), 1);
}

#[test]
fn the_reports_a_province_sent_and_who_recorded_nothing() {
    let w = world();
    let l = w.chain.state.ledger();
    let he = reports(l, HE, day(1), day(30), 100);
    assert_eq!(he.days.len(), 1);
    assert_eq!((he.days[0].day, he.days[0].certificate_reports, he.days[0].flow_reports), (day(24), 1, 0));
    assert_eq!(he.reports.len(), 1);
    let r = &he.reports[0];
    assert_eq!((r.kind.as_str(), r.quarantine_number.as_str(), r.weight_kg.as_str(), r.country.as_deref()), ("certificate", QN, "13500", Some("BR")));
    let bj = reports(l, BJ, day(24), day(24), 100);
    assert_eq!(
        (bj.reports[0].kind.as_str(), bj.reports[0].direction.as_deref(), bj.reports[0].counterpart.as_deref()),
        ("flow", Some("in"), Some(TJ))
    );
    assert!(reports(l, TJ, day(1), day(30), 100).reports.is_empty());
    assert!(reports(l, HE, day(25), day(30), 100).reports.is_empty(), "the range is by day");
    let cut = reports(l, HE, day(1), day(30), 0);
    assert!(cut.reports.is_empty() && cut.truncated);

    // 24th: Beijing's three enterprises recorded nothing; Hebei's importer did.
    let bj24 = unreported(l, BJ, day(24), 100);
    assert_eq!((bj24.enrolled, bj24.reported), (2, 0), "the suspended retailer is left out");
    let names: Vec<&str> = bj24.enterprises.iter().map(|e| e.uscc.as_str()).collect();
    assert_eq!(names, [w.wholesaler.uscc.as_str(), w.retail1.uscc.as_str()]);
    assert_eq!(bj24.enterprises[0].contact_phone.as_deref(), Some("13812340588"));
    assert_eq!(bj24.enterprises[0].last_record, None);
    let he24 = unreported(l, HE, day(24), 100);
    assert_eq!((he24.enrolled, he24.reported, he24.enterprises.len()), (1, 1, 0));
    // 25th: the importer did not, and its last record was on the 24th; the storage did.
    let he25 = unreported(l, HE, day(25), 100);
    assert_eq!((he25.reported, he25.enterprises.len()), (0, 1));
    assert_eq!(he25.enterprises[0].last_record, Some(day(24)));
    let tj25 = unreported(l, TJ, day(25), 100);
    assert_eq!((tj25.enrolled, tj25.reported, tj25.enterprises.len()), (1, 1, 0));
    // Before they were enrolled, no enterprise is expected to report.
    assert_eq!(unreported(l, BJ, day(23), 100).enrolled, 0);
    let cut = unreported(l, BJ, day(24), 1);
    assert_eq!((cut.enterprises.len(), cut.truncated), (1, true));
}

#[test]
fn a_replay_counts_the_same_and_a_refused_record_counts_nothing() {
    let mut w = world();
    let (replayed, outcomes) = replay(&w.log);
    assert!(outcomes.iter().all(|o| *o == coldchain_chaincode::Outcome::Applied));
    assert_eq!(replayed.root(), w.chain.state.root());
    assert_eq!(replayed.digest(), w.chain.state.digest());
    let l = w.chain.state.ledger();
    assert_eq!(
        brief(&statistics(replayed.ledger(), day(1), day(30), By::Day, None).rows),
        brief(&statistics(l, day(1), day(30), By::Day, None).rows)
    );
    // The tables are in the state, named for readers of raw entries.
    let key = ledger::STATISTICS.key(&(0u8, day(24), HE.to_string(), String::new()));
    assert_eq!(ledger::describe_entry(&key, None).0, "statistics");
    // A refused record changes no figure (`refuse` checks the whole ledger).
    w.chain.advance_days(-1);
    refuse(&mut w.chain, &admin_key("hebei"), cert_rec(QN, "B1"), "record.quarantineNumber", "one report a day");
}
