//! Bulk import (`coldchain import-records`, issue 18 item 12) against four
//! real nodes: a 10,000-row product-batch workbook, the import killed
//! part-way and run again, exactly 10,000 records on chain and none twice;
//! and bad rows, sent with an app id, reported by sheet, row, column, field
//! and rule with nothing of them stored.

mod common;

use coldchain_chaincode::identifiers::gtin_with_check;
use coldchain_chaincode::scenario;
use common::story::{run_story, today};
use common::{BIN, Cluster, get, path_str, run_cli, wait_for};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: usize = 10_000;
const LONG: Duration = Duration::from_secs(120);

/// The report's lines as (row, status, tx_id, column, field, rule).
fn report(path: &std::path::Path) -> Vec<[String; 6]> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).map(|r| [1, 3, 4, 6, 7, 8].map(|i| r[i].to_string())).collect()
}

/// Lines saying a row is finalized, in a report being appended to (a line may be cut short).
fn finalized_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter(|l| l.contains(",finalized,")).count()
}

fn day(n: u64) -> chrono::NaiveDate {
    today().checked_sub_days(chrono::Days::new(n)).unwrap()
}

/// The Hebei importer's stock ledger: one product batch per row, each a lot
/// of its own (certificate number and batch) with its own Hebei GS1 code;
/// headers in both of seed 004's spellings, dates as date cells, the
/// certificate number as text.
fn workbook(path: &std::path::Path, rows: usize) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let gtin = gtin_with_check(scenario::GTIN_BODY);
    let headers = [
        "Product_library_id",
        "productName",
        "traceCode",
        "batch",
        "Number_of_pieces",
        "weight",
        "productionDate",
        "quarantineInfo.batch",
        "quarantineInfo.consignee",
        "quarantineInfo.consignor",
        "Quarantine_info.Date_ofentry",
        "quarantineInfo.portOfEntry",
        "quarantineInfo.quarantineNumber",
        "disinfectInfo.disinfectDate",
        "disinfectInfo.placeOfDisinfection",
        "disinfectInfo.disinfectNumber",
        "disinfectInfo.disinfectState",
        "Nucleic_info.Na_result",
        "nucleicInfo.naDate",
        "nucleicInfo.naUnit",
    ];
    let excel = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).unwrap()
    };
    let (produced, entered, tested) = (excel(day(60)), excel(day(20)), excel(day(19)));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("product_batch").unwrap();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 0..rows {
        let row = r as u32 + 1;
        let text = [
            (0, gtin.clone()),
            (1, "冷冻鸡两节翅".to_string()),
            (2, format!("01{gtin}10IMP{r:06}")),
            (3, format!("L{r}")),
            (7, format!("IMP{r:06}")),
            (8, "唐山曹妃甸冷链贸易有限公司".into()),
            (9, "COOPAVEL COOPERATIVA AGROINDUSTRIAL".into()),
            (11, "曹妃甸".into()),
            (12, format!("1303002260{r:011}")),
            (14, "CustomsPort".into()),
            (15, format!("HL{r:08}")),
            (17, "阴性".into()),
            (19, "唐山市海关技术中心".into()),
        ];
        for (c, v) in text {
            sheet.write_string(row, c, v).unwrap();
        }
        sheet.write_number(row, 4, 100).unwrap();
        sheet.write_number(row, 5, 2000.5).unwrap();
        sheet.write_number(row, 16, 1).unwrap();
        for (c, d) in [(6, &produced), (10, &entered), (13, &tested), (18, &tested)] {
            sheet.write_datetime_with_format(row, c, d, &date).unwrap();
        }
    }
    book.save(path).unwrap();
}

/// Transactions in every finalized block of node `i`.
fn transactions_on_chain(c: &Cluster, i: usize) -> usize {
    let height = c.height(i).unwrap();
    (1..=height)
        .map(|h| {
            let (code, env) = get(&c.url(i, &format!("/v1/blocks/{h}")));
            assert_eq!(code, 200, "{env}");
            env["result"]["tx_ids"].as_array().unwrap().len()
        })
        .sum()
}

#[test]
fn ten_thousand_rows_imported_killed_part_way_and_run_again_are_on_chain_exactly_once() {
    let started = Instant::now();
    let c = Cluster::start(4);
    let story = run_story(&c, 2); // schemes, enterprises, the importer's product
    let dir = c.dir.path();
    let key = dir.join("hebei-importer.key");
    coldchain_node::crypto::write_key_file(&key, &story.keys["hebei-importer"]).unwrap();
    let book = dir.join("stock.xlsx");
    workbook(&book, ROWS);
    let report_path = dir.join("stock.report.csv");
    eprintln!("cluster, story and a {ROWS}-row workbook in {:?}", started.elapsed());

    // The first run, killed (SIGKILL) once some rows are final.
    let import = |gateway: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["import-records", path_str(&book), "--gateway", gateway, "--key", path_str(&key), "--batch-size", "500"]);
        cmd
    };
    let t = Instant::now();
    let mut child = import(&c.nodes[0].gateway).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let done_before_kill = wait_for("rows finalized in the report", LONG, || {
        let n = finalized_lines(&report_path);
        (n >= 1_000 || child.try_wait().unwrap().is_some()).then_some(n)
    });
    if let Some(status) = child.try_wait().unwrap() {
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let head: Vec<String> = std::fs::read_to_string(&report_path).unwrap_or_default().lines().take(3).map(str::to_string).collect();
        panic!("the import ended ({status}) before it could be interrupted, {done_before_kill} rows final: {err}\n{}", head.join("\n"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = finalized_lines(&report_path);
    assert!(at_kill < ROWS, "{at_kill} rows were final when the import was killed");
    eprintln!("first run killed after {:?} with {at_kill} rows final in the report", t.elapsed());

    // Run again, through another node: it goes on, and submits no row twice.
    let t = Instant::now();
    let out = import(&c.nodes[1].gateway).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("{ROWS} rows: {ROWS} finalized")), "{stdout}");
    eprintln!("second run in {:?}: {}", t.elapsed(), stdout.trim());

    let lines = report(&report_path);
    assert_eq!(lines.len(), ROWS, "one report line per row");
    let rows: Vec<u64> = lines.iter().map(|l| l[0].parse().unwrap()).collect();
    assert_eq!(rows, (2..=ROWS as u64 + 1).collect::<Vec<_>>(), "in row order, the header being row 1");
    assert!(lines.iter().all(|l| l[1] == "finalized"), "{:?}", lines.iter().find(|l| l[1] != "finalized"));
    let ids: BTreeSet<&str> = lines.iter().map(|l| l[2].as_str()).collect();
    assert_eq!(ids.len(), ROWS, "a transaction per row");

    // On chain: the story's records and exactly one transaction per row.
    c.wait_height(&[0, 2, 3], c.height(1).unwrap(), LONG);
    assert_eq!(transactions_on_chain(&c, 0), story.steps.len() + ROWS, "no row was submitted twice");
    for l in lines.iter().step_by(ROWS / 20) {
        let (code, env) = get(&c.url(2, &format!("/v1/tx/{}", l[2])));
        assert_eq!((code, env["result"]["outcome"]["status"].as_str()), (200, Some("applied")), "row {}: {env}", l[0]);
    }
    let gtin = gtin_with_check(scenario::GTIN_BODY);
    let (code, env) = get(&c.url(3, &format!("/v1/codes/HE-GS1/01{gtin}10IMP{:06}", ROWS - 1)));
    assert_eq!(code, 200, "the last row's code resolves: {env}");
    eprintln!("import test done in {:?}", started.elapsed());
}

#[test]
fn bad_rows_sent_with_an_app_id_are_reported_with_column_field_and_rule_and_nothing_of_them_is_stored() {
    let c = Cluster::start(4);
    let story = run_story(&c, 2);
    let dir = c.dir.path();
    // Hebei's bureau issues the importer an app id at its own node (index 2).
    let uscc = scenario::uscc("hebei-importer");
    let admin = dir.join("hebei").join("admin.key");
    let out = run_cli(&["app", "issue", "--gateway", &c.nodes[2].gateway, "--key", path_str(&admin), "--appid", "hb-import-erp", "--uscc", &uscc]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let secret = text.lines().find_map(|l| l.strip_prefix("secret:")).unwrap().split_whitespace().next().unwrap().to_string();
    c.wait_height(&[2], story.steps.iter().map(|s| s.height).max().unwrap() + 1, LONG);

    // A CSV named after its type; row 3 has a certificate number of 5
    // digits (a cell the record's rules refuse), row 4 a port no dictionary
    // knows (refused by the chain's state, at the gateway).
    let gtin = gtin_with_check(scenario::GTIN_BODY);
    let row = |n: u32, cert: &str, port: &str| {
        format!(
            "{gtin},冷冻鸡两节翅,01{gtin}10BAD{n:03},L{n},10,150,{},B{n},唐山曹妃甸冷链贸易有限公司,COOPAVEL,{},{port},{cert}\n",
            day(60),
            day(20)
        )
    };
    let csv = dir.join("product_batch.csv");
    let header = "productLibraryId,productName,traceCode,batch,numberOfPieces,weight,productionDate,quarantineInfo.batch,quarantineInfo.consignee,quarantineInfo.consignor,quarantineInfo.dateOfEntry,quarantineInfo.portOfEntry,quarantineInfo.quarantineNumber\n";
    let body = [header.to_string(), row(1, "130300226000000000901", "曹妃甸"), row(2, "12345", "曹妃甸"), row(3, "130300226000000000903", "火星港")]
        .concat();
    std::fs::write(&csv, body).unwrap();
    let import = || {
        Command::new(BIN)
            .args(["import-records", path_str(&csv), "--gateway", &c.nodes[2].gateway, "--appid", "hb-import-erp"])
            .env("COLDCHAIN_APP_SECRET", &secret)
            .output()
            .unwrap()
    };
    let out = import();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 rows: 1 finalized (0 already on chain before this run), 0 rejected, 2 refused"), "{stdout}");

    let lines = report(&dir.join("product_batch.report.csv"));
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0][..2], ["2".to_string(), "finalized".into()], "{:?}", lines[0]);
    let (code, env) = get(&c.url(0, &format!("/v1/tx/{}", lines[0][2])));
    assert_eq!(env["result"]["transaction"]["record"]["via"]["appid"], "hb-import-erp", "{code} {env}");
    let bad = &lines[1];
    assert_eq!(
        (bad[0].as_str(), bad[1].as_str(), bad[3].as_str(), bad[4].as_str()),
        ("3", "refused", "quarantineInfo.quarantineNumber (13)", "record.quarantineInfo.quarantineNumber"),
        "{bad:?}"
    );
    assert!(bad[5].contains("digits"), "the rule: {bad:?}");
    let port = &lines[2];
    assert_eq!(
        (port[0].as_str(), port[1].as_str(), port[3].as_str(), port[4].as_str()),
        ("4", "refused", "quarantineInfo.portOfEntry (12)", "record.quarantineInfo.portOfEntry"),
        "{port:?}"
    );
    assert!(port[5].contains("火星港"), "the rule names the value: {port:?}");
    assert!(port[2].is_empty(), "a refused row has no transaction: {port:?}");

    // Nothing of the refused rows is stored; the good row's code resolves.
    for (n, expected) in [(1, 200), (2, 404), (3, 404)] {
        let (code, env) = get(&c.url(0, &format!("/v1/codes/HE-GS1/01{gtin}10BAD{n:03}")));
        assert_eq!(code, expected, "row code {n}: {env}");
    }

    // Run again at once: the finalized row is not sent again; the bad ones are refused again.
    let out = import();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 rows: 1 finalized (1 already on chain before this run), 0 rejected, 2 refused"), "{stdout}");
}
