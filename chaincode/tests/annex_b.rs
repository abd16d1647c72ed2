//! Fields that were checked and then dropped (issue 18 item 7) are kept:
//! a lot reads back in the shape of seed 004's annex B with everything its
//! product batch records gave, and a movement keeps the counterpart's name
//! and contact its record named.

mod common;

use coldchain_chaincode::state::annex_b::annex_b;
use coldchain_chaincode::state::trace::Direction;
use common::*;
use serde_json::{Value, json};

const QN: &str = "531620211160071009001";
const CODE: &str = "HE00000001";

fn digest(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

#[test]
fn a_lot_reads_back_in_annex_b_shape_with_every_field_its_records_gave() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    let importer = w.importer.uscc.clone();
    ok(&w.submit(&he, cold_storage_rec(&importer, "HE-CS-07", "曹妃甸冷库", "自营自用")));
    let mut record = json!({
        "type": "product_batch",
        "productLibraryId": GTIN,
        "productName": "冻牛肉",
        "containerNumber": "MNBU3167382",
        "traceCode": CODE,
        "traceCodeScheme": HE_SCHEME,
        "batch": "B1",
        "numberOfPieces": 100,
        "weight": "2000",
        "inventoryPieces": 80,
        "inventoryWeight": "1600.5",
        "productionDate": "2026-09-01",
        "storageName": "曹妃甸冷库",
        "specification": "20",
        "specificationUnit": "kg",
        "quarantineInfo": {
            "batch": "B1",
            "consignee": "河北进口贸易有限公司",
            "consignor": "FRIGORIFICO SA",
            "dateOfEntry": "2026-11-01T08:30:00+08:00",
            "portOfEntry": "0202",
            "quarantineNumber": QN,
            "quarantineImg": digest(1),
        },
        "customsInfo": {"consumerEnterprises": "河北进口贸易有限公司", "customsNumber": "020220261000123456", "waybillNumber": "WB-77", "consumerImg": digest(2)},
        "disinfectInfo": {
            "disinfectDate": "2026-11-01",
            "placeOfDisinfection": "CustomsPort",
            "disinfectNumber": "XD20261101",
            "disinfectState": 1,
            "disinfectImg": digest(3),
        },
        "nucleicInfo": {"naResult": "阴性", "naDate": "2026-11-01", "naUnit": "天津海关技术中心", "verifyMode": "抽检", "naImg": digest(4)},
    });
    ok(&w.submit(&he, record.clone()));
    let lot = w.lot(QN, "B1");
    let got = annex_b(w.chain.state.ledger(), lot);
    let tx = got["tx"].as_str().expect("the entering record's tx").to_string();
    record.as_object_mut().unwrap().remove("type");
    record["enterprise"] = json!(importer);
    record["tx"] = json!(tx);
    assert_eq!(got, record, "the lot as annex B gives back every field of its record");
    assert!(w.chain.state.ledger().lot_at(lot).stock.storage.is_some(), "storageName names the importer's registered cold storage");

    // A later product batch record of the lot adds its release certificate.
    let release = patch(
        batch_rec("HE00000002", QN, "B1", 100, "2000"),
        json!({"releaseInfo": {"certificateNumber": "2026110300012", "certificateDate": "2026-11-03", "certificateImg": digest(5)}}),
    );
    ok(&w.submit(&he, release));
    let got = annex_b(w.chain.state.ledger(), lot);
    assert_eq!(got["releaseInfo"], json!({"certificateNumber": "2026110300012", "certificateDate": "2026-11-03", "certificateImg": digest(5)}));
    assert_eq!(got["traceCode"], CODE, "the entering record's code stays the lot's");
}

#[test]
fn a_movement_keeps_the_receivers_name_and_contact_its_record_gave() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    ok(&w.submit(&he, batch_rec(CODE, QN, "B1", 100, "2000")));
    let storage = w.storage.uscc.clone();
    let named = json!({
        "receiverEntName": "天津冷链物流有限公司",
        "receiveContact": "王五",
        "receiveContactPhone": "13812340588",
        "receiveAddress": "天津市滨海新区港城大道 1 号",
    });
    let from_storage = patch(line("B1", 60, "1200"), json!({"storageNumber": "HE-CS-07", "storageName": "曹妃甸冷库"}));
    ok(&w.submit(&he, patch(ship_rec("S1", &storage, vec![from_storage]), named)));
    let t = serde_json::to_value(w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap()).unwrap();
    let step: &Value = t["steps"].as_array().unwrap().iter().find(|s| s["document"] == "S1").expect("the shipment");
    assert_eq!(
        step["counterpart"],
        json!({"name": "天津冷链物流有限公司", "contact": "王五", "contact_phone": "13812340588", "address": "天津市滨海新区港城大道 1 号"}),
        "{step:#}"
    );
    assert_eq!(step["cold_storage"], "HE-CS-07", "the storage table 14 names on the line: {step:#}");
}

#[test]
fn a_central_warehouse_record_keeps_every_field_and_shows_with_its_lot() {
    let mut w = World::new();
    let he = w.importer.key.clone();
    let owner = w.importer.uscc.clone();
    ok(&w.submit(&he, patch(batch_rec(CODE, QN, "B1", 100, "2000"), json!({"containerNumber": "MNBU3167382"}))));
    let warehouse = json!({
        "type": "central_warehouse",
        "dataid": "D-1",
        "containerNumber": "MNBU3167382",
        "productionBatch": "B1",
        "quarantineNumber": QN,
        "unifSociCredCode": owner,
        "nucleicResult": "阴性",
        "nucleicNumber": "HS-2026-0042",
        "nucleicItem": "外包装",
        "nucleicData": "2026-11-02",
        "disinfectData": "2026-11-02",
        "disinfectResult": "已消毒",
        "specification": "20",
        "specificationUnit": "kg",
        "pieces": 100,
        "grossWeight": "2100",
        "coldName": "天津港集中监管仓",
        "customsImg": "https://customs.example/declarations/0202.jpg",
        "certificateNumber": "2026110300012",
        "certificateDate": "2026-11-03",
        "certificateImg": digest(6),
    });
    ok(&w.submit(&w.storage.key.clone(), warehouse.clone()));
    // Another container's record is not the lot's.
    ok(&w.submit(&w.storage.key.clone(), patch(warehouse.clone(), json!({"dataid": "D-2", "containerNumber": "TGHU1234566"}))));
    let got = annex_b(w.chain.state.ledger(), w.lot(QN, "B1"));
    let records = got["warehouseRecords"].as_array().unwrap_or_else(|| panic!("no warehouse records: {got:#}"));
    assert_eq!(records.len(), 1, "{got:#}");
    let mut expected = warehouse;
    expected.as_object_mut().unwrap().remove("type");
    expected["tx"] = records[0]["tx"].clone();
    assert_eq!(records[0], expected, "every table 12 field the record gave");
}
