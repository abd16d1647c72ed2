//! Statistics for bureaus (issue 18 item 5) on four real `coldchain node`
//! processes: the demo story up to the flows into Beijing (wave 8), then the
//! figures by province, category, origin, port and record type as every
//! bureau reads them, a CSV download, the reports each province sent (its own
//! only), the enterprises of Beijing that recorded nothing today before and
//! after one of them does, and a 400 naming a bad parameter.

mod common;

use coldchain_chaincode::scenario;
use common::story::*;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// (status, content type, body) of a signed read.
fn read_file(c: &Cluster, node: usize, path: &str, key: &ed25519_dalek::SigningKey) -> (u16, String, String) {
    let mut req = agent().get(c.url(node, path));
    for (name, value) in c.signed_read(node, path, key) {
        req = req.header(name, value);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (resp.status().as_u16(), media, resp.body_mut().read_to_string().unwrap())
}

fn read_ok(c: &Cluster, node: usize, path: &str, key: &ed25519_dalek::SigningKey) -> Value {
    let (code, env) = c.read_as(node, path, Some(key));
    assert_eq!(code, 200, "GET {path}: {env}");
    env["result"].clone()
}

/// The row of `rows` whose key is `key`.
fn row<'a>(rows: &'a Value, key: &str) -> &'a Value {
    rows["rows"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("no row {key}: {rows:#}"))
}

fn usccs(list: &Value) -> Vec<String> {
    list["enterprises"].as_array().unwrap().iter().map(|e| e["uscc"].as_str().unwrap().to_string()).collect()
}

#[test]
fn bureaus_read_figures_reports_and_who_has_not_reported_today() {
    let c = Cluster::start(4);
    let first = today();
    let story = run_story(&c, 8);
    let top = story.steps.iter().map(|s| s.height).max().unwrap();
    c.wait_height(&[0, 1, 2, 3], top, LONG);
    let range = format!("from={first}&to={}", today());
    let (beijing, tianjin, hebei, national) = (admin_key(&c, "beijing"), admin_key(&c, "tianjin"), admin_key(&c, "hebei"), admin_key(&c, "national"));

    // Every province's figures, for any bureau (Tianjin's, at its node).
    let s = read_ok(&c, 1, &format!("/v1/statistics?{range}"), &tianjin);
    let he = row(&s, "130000");
    // Hebei: its scheme and importer, the product, the batch, the shipment, the truck, the certificate report.
    assert_eq!((he["records"].as_u64(), he["batches"].as_u64(), he["pieces"].as_u64()), (Some(7), Some(1), Some(1000)), "{s:#}");
    assert_eq!((he["weight_kg"].as_str(), he["certificate_reports"].as_u64(), he["enrolled"].as_u64()), (Some("20000"), Some(1), Some(1)), "{s:#}");
    let tj = row(&s, "120000");
    assert_eq!((tj["records"].as_u64(), tj["flow_reports"].as_u64(), tj["batches"].as_u64()), (Some(8), Some(1), Some(0)), "{s:#}");
    let bj = row(&s, "110000");
    assert_eq!((bj["records"].as_u64(), bj["enrolled"].as_u64(), bj["flow_reports"].as_u64()), (Some(6), Some(3), Some(1)), "{s:#}");
    assert_eq!(bj["name"], "北京市");
    assert_eq!((s["total"]["key"].as_str(), s["total"]["records"].as_u64()), (Some("total"), Some(21)), "{s:#}");
    let enrolled: u64 = s["enterprises"].as_array().unwrap().iter().map(|e| e["enrolled"].as_u64().unwrap()).sum();
    assert_eq!(enrolled, scenario::ENTERPRISES.len() as u64, "{s:#}");
    // The goods by category, origin and port (from the product record and the batch).
    let category = read_ok(&c, 2, &format!("/v1/statistics?{range}&by=category"), &hebei);
    assert_eq!((row(&category, "4401")["batches"].as_u64(), row(&category, "4401")["records"].as_u64()), (Some(1), None), "{category:#}");
    let origin = read_ok(&c, 2, &format!("/v1/statistics?{range}&by=origin&province=130000"), &hebei);
    assert_eq!(row(&origin, "BR")["weight_kg"], "20000", "{origin:#}");
    let port = read_ok(&c, 0, &format!("/v1/statistics?{range}&by=port"), &beijing);
    assert_eq!((row(&port, "0410")["name"].as_str(), row(&port, "0410")["pieces"].as_u64()), (Some("曹妃甸"), Some(1000)), "{port:#}");
    let types = read_ok(&c, 0, &format!("/v1/statistics?{range}&by=type&province=120000"), &beijing);
    assert_eq!(row(&types, "receipt")["records"].as_u64(), Some(1), "{types:#}");
    // The same as a file.
    let (code, media, csv) = read_file(&c, 0, &format!("/v1/statistics?{range}&by=port&format=csv"), &beijing);
    assert_eq!((code, media.as_str()), (200, "text/csv; charset=utf-8"), "{csv}");
    assert!(csv.starts_with("\u{feff}key,name,records,batches,pieces,weight_kg,enrolled,reporting,certificate_reports,flow_reports\r\n"), "{csv}");
    assert!(csv.contains("\r\n0410,曹妃甸,,1,1000,20000,,,,\r\ntotal,,,1,1000,20000,,,,\r\n"), "{csv}");

    // The reports a province sent: its own bureau's (§3.8).
    let reports = read_ok(&c, 2, &format!("/v1/statistics/reports?{range}"), &hebei);
    assert_eq!(reports["reports"].as_array().unwrap().len(), 1, "{reports:#}");
    assert_eq!(
        (reports["reports"][0]["kind"].as_str(), reports["reports"][0]["quarantine_number"].as_str()),
        (Some("certificate"), Some(scenario::QUARANTINE_NUMBER))
    );
    assert_eq!(reports["days"][0]["certificate_reports"], 1, "{reports:#}");
    let flows = read_ok(&c, 1, &format!("/v1/statistics/reports?{range}"), &tianjin);
    assert_eq!((flows["reports"][0]["kind"].as_str(), flows["reports"][0]["direction"].as_str()), (Some("flow"), Some("out")), "{flows:#}");
    let (code, media, csv) = read_file(&c, 1, &format!("/v1/statistics/reports?{range}&format=csv"), &tianjin);
    assert_eq!((code, media.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.contains(&format!(",{},{},10000,", scenario::QUARANTINE_NUMBER, scenario::CERT_BATCH)), "{csv}");
    let (code, env) = c.read_as(0, &format!("/v1/statistics/reports?{range}&province=130000"), Some(&beijing));
    assert_eq!((code, env["result"]["field"].as_str()), (403, Some("province")), "another province's reports: {env}");
    let (code, env) = c.read_as(3, &format!("/v1/statistics/reports?{range}&province=130000"), Some(&national));
    assert_eq!((code, env["result"]["reports"].as_array().map(Vec::len)), (200, Some(1)), "the national platform names a province: {env}");

    // 每日一报: Beijing's retailers have recorded nothing today, its wholesaler has.
    let retailers = [scenario::uscc("beijing-retailer-a"), scenario::uscc("beijing-retailer-b")];
    let list = read_ok(&c, 0, "/v1/statistics/unreported", &beijing);
    assert_eq!((list["enrolled"].as_u64(), list["reported"].as_u64()), (Some(3), Some(1)), "{list:#}");
    assert_eq!(usccs(&list), retailers, "{list:#}");
    assert_eq!(list["enterprises"][0]["contact_phone"], "13812340588", "its own bureau sees contacts in full");
    // The national platform names the province, and sees contacts masked.
    let masked = read_ok(&c, 3, "/v1/statistics/unreported?province=110000", &national);
    assert_eq!(masked["enterprises"][0]["contact_phone"], "138****0588", "{masked:#}");
    let (code, env) = c.read_as(3, "/v1/statistics/unreported", Some(&national));
    assert_eq!((code, env["result"]["field"].as_str()), (400, Some("province")), "{env}");
    // One retailer records something: it leaves the list.
    let (body, id) = sign_record(&story.chain_id, &story.keys["beijing-retailer-a"], json!({"type": "notarise", "document": {"daily": "stock"}}));
    let (code, env) = post(&c.url(0, "/v1/records?wait=finalized"), &body);
    assert_eq!((code, env["result"]["tx_id"].as_str()), (200, Some(id.as_str())), "{env}");
    let list = read_ok(&c, 0, "/v1/statistics/unreported", &beijing);
    assert_eq!(usccs(&list), retailers[1..], "{list:#}");
    let (code, _, csv) = read_file(&c, 0, "/v1/statistics/unreported?format=csv", &beijing);
    assert_eq!(code, 200);
    assert!(csv.contains(&retailers[1]) && !csv.contains(&retailers[0]), "{csv}");

    // Bad parameters are named; bureaus only.
    for (path, field) in [
        ("/v1/statistics?by=colour", "by"),
        ("/v1/statistics?from=2026-13-01", "from"),
        ("/v1/statistics?from=2026-12-02&to=2026-12-01", "from"),
        ("/v1/statistics?from=2025-01-01&to=2026-12-01", "to"),
        ("/v1/statistics?province=beijing", "province"),
        ("/v1/statistics?format=xml", "format"),
        ("/v1/statistics/unreported?day=today", "day"),
    ] {
        let (code, env) = c.read_as(0, path, Some(&beijing));
        assert_eq!((code, env["result"]["error"].as_str(), env["result"]["field"].as_str()), (400, Some("bad_query"), Some(field)), "{path}: {env}");
    }
    let retailer = story.keys["beijing-retailer-b"].clone();
    for path in ["/v1/statistics", "/v1/statistics/reports", "/v1/statistics/unreported"] {
        assert_eq!(c.read_as(0, path, None).0, 401, "{path} as the public");
        assert_eq!(c.read_as(0, path, Some(&retailer)).0, 403, "{path} as an enterprise");
    }
    // The answers are what the OpenAPI document says.
    let reads = [
        (format!("/v1/statistics?{range}&by=day"), Some(&beijing), "bureau"),
        (format!("/v1/statistics/reports?{range}"), Some(&hebei), "bureau"),
        ("/v1/statistics/unreported".to_string(), Some(&beijing), "bureau"),
    ];
    common::schema::assert_answers_conform(&c, 0, &reads[..1]);
    common::schema::assert_answers_conform(&c, 2, &reads[1..2]);
    common::schema::assert_answers_conform(&c, 0, &reads[2..]);
}
