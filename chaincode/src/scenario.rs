//! The demo story, shared by `coldchain demo`, the four-node scenario test
//! and the benchmarks: a batch of frozen chicken enters through a Hebei port
//! under Hebei's code scheme, is stored by a Tianjin cold storage under
//! Tianjin's scheme, then sold to a Beijing wholesaler and two Beijing
//! retailers under Beijing's scheme; a retail pack tests positive.
//!
//! Steps come in waves: the records of one wave do not depend on each other
//! and may be submitted together; each wave needs the ones before it
//! finalized. Dates are counted back from `today` so the story is always in
//! the past.

use crate::identifiers::{gtin_with_check, uscc_with_check};
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

/// Who signs a step: a bureau's admin key (by bureau name) or an
/// enterprise's own key (by the label in [`ENTERPRISES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    Admin(&'static str),
    Enterprise(&'static str),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub wave: u32,
    pub signer: Signer,
    pub note: &'static str,
    pub record: Value,
}

/// The enterprises of the story: label, enrolling bureau, name, type, district, lat, long.
pub const ENTERPRISES: [(&str, &str, &str, &str, &str, f64, f64); 5] = [
    ("hebei-importer", "hebei", "唐山曹妃甸冷链贸易有限公司", "07", "130209", 39.27, 118.46),
    ("tianjin-storage", "tianjin", "天津东疆港冷链物流有限公司", "19", "120116", 38.99, 117.78),
    ("beijing-wholesaler", "beijing", "北京新发地农产品批发市场有限公司", "06", "110106", 39.82, 116.37),
    ("beijing-retailer-a", "beijing", "北京朝阳区鲜生超市有限公司", "11", "110105", 39.92, 116.46),
    ("beijing-retailer-b", "beijing", "北京海淀区万家超市有限公司", "11", "110108", 39.96, 116.30),
];

/// A valid USCC for each enterprise of the story.
#[allow(clippy::expect_used, reason = "demo data: callers name an enterprise of ENTERPRISES, a fixed table; no request or block reaches this")]
pub fn uscc(label: &str) -> String {
    let i = ENTERPRISES.iter().position(|e| e.0 == label).expect("an enterprise of the story");
    let (_, _, _, _, district, _, _) = ENTERPRISES[i];
    uscc_with_check(&format!("91{district}MA0{i}DEMX{i}"))
}

pub const GTIN_BODY: &str = "0690123400123";
pub const QUARANTINE_NUMBER: &str = "130300226000123456001";
pub const CERT_BATCH: &str = "BY9066";
pub const CONTAINER: &str = "MSKU1234565";
pub const HEBEI_CODE: &str = "0106901234001235101BY9066";
pub const TIANJIN_CODE: &str = "TJ2026112000000001";
pub const BEIJING_WHOLESALE_CODE: &str = "BJ110106000000000A1";
pub const BEIJING_RETAIL_CODE: &str = "BJ110105000000000B7";
/// Where an officer starts: the retail pack that tested positive.
pub const RETAIL: (&str, &str) = ("BJ-ZS", BEIJING_RETAIL_CODE);

/// Every step of the story. `public_key` gives each enterprise's key (hex).
/// An `alert_disposal` or `notice` about the alert says `"alertId": "<alert>"`:
/// the caller puts in the alert's transaction id.
pub fn steps(today: NaiveDate, public_key: impl Fn(&str) -> String) -> Vec<Step> {
    let day = |n: u64| today.checked_sub_days(Days::new(n)).unwrap_or(today).to_string();
    let gtin = gtin_with_check(GTIN_BODY);
    let line = |pieces: u64, kg: u64| {
        json!({"productLibraryId": gtin, "productName": "冷冻鸡两节翅", "batch": "L1", "productionDate": day(60),
               "numberOfPieces": pieces, "specification": 20, "specificationUnit": "kg", "weight": kg, "containerNumber": CONTAINER})
    };
    let mut s = Vec::new();
    let mut step = |wave: u32, signer: Signer, note: &'static str, record: Value| s.push(Step { wave, signer, note, record });
    // 1. Each province's bureau registers its code scheme and enrols its enterprises.
    for (bureau, province, id, name, pattern, gs1) in [
        ("hebei", "130000", "HE-GS1", "河北冷链追溯码（GS1 元素串）", r"01\d{14}10[0-9A-Z]{1,20}", true),
        ("tianjin", "120000", "TJ-ZS", "天津冷链食品追溯码", r"TJ\d{16}", false),
        ("beijing", "110000", "BJ-ZS", "北京冷链食品追溯码", r"BJ\d{15}[0-9A-Z]{2}", false),
    ] {
        let mut record = json!({
            "type": "code_scheme", "schemeId": id, "province": province, "name": name, "pattern": pattern,
            "resolverUrl": format!("https://trace.{bureau}.example.gov.cn/code/{{code}}"),
            "ruleDocSha256": crate::Hash::digest(format!("{id} coding rule v1").as_bytes()).to_hex(), "issuedCount": 120000
        });
        if gs1 {
            // Hebei's codes are GS1 element strings: GTIN (01) and lot (10).
            record["codeSyntax"] = json!("gs1");
        }
        step(1, Signer::Admin(bureau), "register the province's code scheme", record);
    }
    for (label, bureau, name, kind, district, lat, lon) in ENTERPRISES {
        step(
            1,
            Signer::Admin(bureau),
            "enrol an enterprise",
            json!({
                "type": "enterprise", "Ent_name": name, "Unif_soci_cred_code": uscc(label), "Ent_type_code": kind,
                "Office_address": format!("{name}经营地址"), "Addr_districts": district, "Contact": "张经理", "Contact_phone": "13812340588",
                "Legal_person": "王某", "latitude": lat, "longitude": lon, "publicKey": public_key(label),
                "licences": [{"type": "01", "number": format!("{}-BL", uscc(label))}, {"type": "20", "number": format!("JY1{district}0001")}]
            }),
        );
    }
    // 2. The importer's product, the Tianjin cold storage.
    step(
        2,
        Signer::Enterprise("hebei-importer"),
        "product category",
        json!({
            "type": "product", "Product_library_id": gtin, "Product_name": "冷冻鸡两节翅", "Product_category": "4401", "Country": "BR",
            "Life_number": 24, "Life_unit": "月", "Specification": 20, "Specification_unit": "kg", "Manufacturer": "COOPAVEL COOPERATIVA AGROINDUSTRIAL",
            "Registration_number": "SIF 601"
        }),
    );
    step(
        2,
        Signer::Enterprise("tianjin-storage"),
        "register the cold storage",
        json!({
            "type": "cold_storage", "Unif_soci_cred_code": uscc("tianjin-storage"), "Code": "TJLK-0087", "Name": "东疆港1号冷库",
            "Address": "天津市滨海新区东疆港区冷链物流园1号", "Addr_districts": "120116", "Usablearea": 12000, "Storage_variety": "冻禽肉、冻水产品",
            "Inventory": 3500, "Contact": "李主管", "Contact_phone": "022-25601234", "Type": "第三方"
        }),
    );
    // 3. The batch enters at Caofeidian with its certificates.
    step(
        3,
        Signer::Enterprise("hebei-importer"),
        "stock the imported batch (Hebei code)",
        json!({
            "type": "product_batch", "productLibraryId": gtin, "productName": "冷冻鸡两节翅", "containerNo": CONTAINER,
            "traceCode": HEBEI_CODE, "batch": "L1", "Number_of_pieces": 1000, "weight": 20000.00, "inventory": 1000, "inventoryWeight": 20000,
            "productionDate": day(60), "StorageName": "曹妃甸港口冷库",
            "quarantineInfo": {"batch": CERT_BATCH, "consignee": "唐山曹妃甸冷链贸易有限公司", "consignor": "COOPAVEL COOPERATIVA AGROINDUSTRIAL",
                               "dateOfentry": day(20), "portOfEntry": "曹妃甸", "quarantineNumber": QUARANTINE_NUMBER},
            "customsInfo": {"consumerEnterprises": "唐山曹妃甸冷链贸易有限公司", "customsNo": "040820261000123456", "waybillNumber": "608370090"},
            "disinfectInfo": {"disinfectDate": day(19), "placeOfDisinfection": "CustomsPort", "disinfectNumber": "HL20261105CF1", "disinfectState": 1},
            "nucleicInfo": {"naResult": "阴性", "naDate": day(19), "naUnit": "唐山市海关技术中心", "verifyMode": "SelfCheck"}
        }),
    );
    // 4. Reported to the national platform; shipped to Tianjin.
    step(
        4,
        Signer::Admin("hebei"),
        "report the entry certificate (national)",
        json!({
            "type": "certificate_report", "quarantineNumber": QUARANTINE_NUMBER, "productionBatch": CERT_BATCH, "portOfEntry": "曹妃甸",
            "dateOfEntry": day(20), "country": "BR", "declaredWeight": 20000, "consignor": "COOPAVEL COOPERATIVA AGROINDUSTRIAL",
            "consignee": "唐山曹妃甸冷链贸易有限公司", "specification": "20kg/箱", "productBigClass": "3", "hsCode": "020714"
        }),
    );
    step(
        4,
        Signer::Enterprise("hebei-importer"),
        "ship 800 cartons to the Tianjin cold storage",
        json!({
            "type": "shipment", "Send_number": "HE-SO-0001", "Send_time": day(15), "receiverUscc": uscc("tianjin-storage"),
            "Receiver_ent_name": "天津东疆港冷链物流有限公司", "Receive_contact": "李主管", "Receive_contact_phone": "022-25601234",
            "Receive_address": "天津市滨海新区东疆港区冷链物流园1号", "Product_list": [line(800, 16000)]
        }),
    );
    step(
        5,
        Signer::Enterprise("hebei-importer"),
        "the truck and driver",
        json!({
            "type": "vehicle", "Licenseplate": "冀B12345", "Driver_name": "赵师傅", "Driver_contact_phone": "13900001111", "sendNumber": "HE-SO-0001"
        }),
    );
    step(
        5,
        Signer::Enterprise("tianjin-storage"),
        "receive 798 (2 cartons damaged in transit)",
        json!({
            "type": "receipt", "Receiver_number": "TJ-RN-0001", "sendNumber": "HE-SO-0001", "senderUscc": uscc("hebei-importer"),
            "Send_time": day(15), "Receive_time": day(14), "Send_ent_name": "唐山曹妃甸冷链贸易有限公司", "Product_list": [line(798, 15960)]
        }),
    );
    step(
        6,
        Signer::Enterprise("tianjin-storage"),
        "stock in at cold storage 1",
        json!({
            "type": "stock_in", "In_stock_code": "TJ-IN-0001", "In_stock_date": day(14), "senderUscc": uscc("tianjin-storage"),
            "storageNumber": "TJLK-0087", "Send_ent_name": "天津东疆港冷链物流有限公司", "Product_list": [line(798, 15960)]
        }),
    );
    step(
        6,
        Signer::Enterprise("tianjin-storage"),
        "link the Hebei code to the Tianjin code",
        json!({
            "type": "code_link", "from": {"scheme": "HE-GS1", "code": HEBEI_CODE}, "to": {"scheme": "TJ-ZS", "code": TIANJIN_CODE}
        }),
    );
    step(
        7,
        Signer::Enterprise("tianjin-storage"),
        "stock out 500 cartons to the Beijing wholesaler",
        json!({
            "type": "stock_out", "Outstock_code": "TJ-OUT-0001", "Out_stock_date": day(10), "Send_ent_name": "天津东疆港冷链物流有限公司",
            "receiverUscc": uscc("beijing-wholesaler"), "Receiver_ent_name": "北京新发地农产品批发市场有限公司", "Receive_contact": "刘经理",
            "Receive_contact_phone": "13700002222", "Out_stock_storage_number": "TJLK-0087", "Product_list": [line(500, 10000)]
        }),
    );
    step(
        7,
        Signer::Admin("tianjin"),
        "report the flow out of Tianjin (national)",
        json!({
            "type": "flow_report", "productionBatch": CERT_BATCH, "quarantineNumber": QUARANTINE_NUMBER, "productName": "冷冻鸡两节翅",
            "actualWeight": 10000, "direction": "out", "counterpartType": "province", "counterpart": "110000"
        }),
    );
    step(
        8,
        Signer::Enterprise("beijing-wholesaler"),
        "link the Tianjin code to the Beijing code",
        json!({
            "type": "code_link", "from": {"scheme": "TJ-ZS", "code": TIANJIN_CODE}, "to": {"scheme": "BJ-ZS", "code": BEIJING_WHOLESALE_CODE}
        }),
    );
    step(
        8,
        Signer::Admin("beijing"),
        "report the flow into Beijing (national)",
        json!({
            "type": "flow_report", "productionBatch": CERT_BATCH, "quarantineNumber": QUARANTINE_NUMBER, "productName": "冷冻鸡翅",
            "actualWeight": 10000, "direction": "in", "counterpartType": "province", "counterpart": "天津市"
        }),
    );
    for (n, (retailer, pieces)) in [("beijing-retailer-a", 100u64), ("beijing-retailer-b", 150)].into_iter().enumerate() {
        let number = format!("BJ-SO-000{}", n + 1);
        step(
            9,
            Signer::Enterprise("beijing-wholesaler"),
            "sell to a retailer",
            json!({
                "type": "shipment", "sendNumber": number, "sendTime": day(7), "receiverUscc": uscc(retailer), "Product_list": [line(pieces, pieces * 20)]
            }),
        );
        step(
            10,
            Signer::Enterprise(retailer),
            "the retailer receives",
            json!({
                "type": "receipt", "receiverNumber": format!("R-{number}"), "sendNumber": number, "senderUscc": uscc("beijing-wholesaler"),
                "receiveTime": day(6), "Product_list": [line(pieces, pieces * 20)]
            }),
        );
    }
    step(
        11,
        Signer::Enterprise("beijing-retailer-a"),
        "the retailer's own pack code",
        json!({
            "type": "code_link", "from": {"scheme": "BJ-ZS", "code": BEIJING_WHOLESALE_CODE}, "to": {"scheme": "BJ-ZS", "code": BEIJING_RETAIL_CODE}
        }),
    );
    // 12. A retail pack tests positive; the bureaus act.
    step(
        12,
        Signer::Admin("beijing"),
        "a retail pack tests positive: alert",
        json!({
            "type": "alert", "scheme": RETAIL.0, "code": RETAIL.1, "reason": "外包装新冠病毒核酸检测阳性 (packaging positive for SARS-CoV-2 RNA)",
            "testedAt": day(1), "lab": "北京市疾病预防控制中心"
        }),
    );
    step(
        13,
        Signer::Admin("beijing"),
        "Beijing seals its stock",
        json!({
            "type": "alert_disposal", "alertId": "<alert>", "state": "sealed", "weightKg": 9800, "pieces": 490,
            "note": "朝阳、海淀两家超市及新发地库存已封存（10箱已售出，正在召回）"
        }),
    );
    step(
        13,
        Signer::Admin("tianjin"),
        "Tianjin seals its stock",
        json!({"type": "alert_disposal", "alertId": "<alert>", "state": "sealed", "weightKg": 5960, "pieces": 298, "note": "东疆港1号冷库剩余298箱已封存"}),
    );
    step(
        13,
        Signer::Admin("beijing"),
        "a public notice",
        json!({
            "type": "notice", "title": "关于一批进口冷冻鸡翅外包装核酸检测阳性的通告", "alertId": "<alert>",
            "content": format!("检疫证明编号 {QUARANTINE_NUMBER}、生产批号 {CERT_BATCH} 的冷冻鸡两节翅外包装核酸检测阳性。购买者请联系属地市场监管部门。")
        }),
    );
    s
}

/// Applies the story to a bare test chain ([`crate::testkit::Chain`]), one
/// record a block, each signed by its [`Signer`]'s test key; returns each
/// step's note with its receipt.
pub fn play(chain: &mut crate::testkit::Chain) -> Vec<(&'static str, crate::Receipt)> {
    use crate::testkit::{admin_key, key};
    let today = chain.ctx().date();
    let mut alert: Option<crate::TxId> = None;
    let mut receipts = Vec::new();
    for step in steps(today, |l| hex::encode(key(l).verifying_key().to_bytes())) {
        let signer = match step.signer {
            Signer::Admin(b) => admin_key(b),
            Signer::Enterprise(l) => key(l),
        };
        let mut record = step.record;
        if let Some(alert) = alert.filter(|_| record.get("alertId").is_some()) {
            record["alertId"] = json!(alert.to_string());
        }
        let r = chain.submit(&signer, record);
        if step.note.contains("alert") && alert.is_none() {
            alert = Some(r.tx_id);
        }
        receipts.push((step.note, r));
    }
    receipts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;
    use crate::state::trace::Direction;
    use crate::testkit::Chain;

    /// The whole story applies on a bare chain, and the alert reaches every
    /// holder in all three provinces.
    #[test]
    fn the_story_applies_and_traces_across_three_provinces() {
        let mut chain = Chain::new();
        let mut alert: Option<crate::TxId> = None;
        for (note, r) in play(&mut chain) {
            assert_eq!(r.outcome, Outcome::Applied, "{note}");
            if note.contains("alert") && alert.is_none() {
                alert = Some(r.tx_id);
            }
        }
        let trace = chain.state.trace(RETAIL.0, RETAIL.1, Direction::Both).unwrap();
        let provinces: std::collections::BTreeSet<_> = trace.enterprises.iter().map(|e| e.province.as_str()).collect();
        assert_eq!(provinces.into_iter().collect::<Vec<_>>(), ["110000", "120000", "130000"]);
        assert_eq!(trace.enterprises.len(), 5);
        let back = chain.state.trace(RETAIL.0, RETAIL.1, Direction::Backward).unwrap();
        assert!(back.enterprises.iter().any(|e| e.uscc == uscc("hebei-importer")), "back to the Hebei entry");
        assert!(!back.enterprises.iter().any(|e| e.uscc == uscc("beijing-retailer-b")), "not sideways");
        let answer = chain.state.alert(&alert.unwrap()).unwrap();
        assert_eq!(answer.affected.len(), 3);
        let short = trace.steps.iter().find_map(|s| s.received.as_ref().filter(|r| r.short_pieces > 0)).unwrap();
        assert_eq!((short.short_pieces, short.short_kg.as_str()), (2, "40"));
        let codes = chain.state.resolve_code("HE-GS1", HEBEI_CODE).unwrap().codes;
        assert_eq!(codes.len(), 4, "Hebei, Tianjin, Beijing wholesale and retail codes");
    }

    /// A lot with a code per piece: its resolution and trace list at most
    /// 256 codes of each scheme, say how many they leave out, and still
    /// list every province's scheme and the code asked for.
    #[test]
    fn a_lot_with_thousands_of_codes_lists_at_most_256_of_each_scheme() {
        let mut chain = Chain::new();
        play(&mut chain);
        // With its four codes the lot lists them all, and says nothing of omissions.
        let before = serde_json::to_value(chain.state.resolve_code("TJ-ZS", TIANJIN_CODE).unwrap()).unwrap();
        assert_eq!((before["codes"].as_array().unwrap().len(), before.get("codes_omitted")), (4, None));
        let retailer = crate::testkit::key("beijing-retailer-a");
        let pieces: Vec<crate::Transaction> = (0..300u64)
            .map(|n| {
                let record = json!({"type": "code_link", "from": {"scheme": "BJ-ZS", "code": BEIJING_WHOLESALE_CODE}, "to": {"scheme": "BJ-ZS", "code": format!("BJ{n:015}PC")}});
                chain.sign(&retailer, record)
            })
            .collect();
        for r in chain.block(&pieces) {
            assert_eq!(r.outcome, Outcome::Applied);
        }
        let last = "BJ000000000000299PC";
        let r = chain.state.resolve_code("BJ-ZS", last).unwrap();
        assert_eq!((r.codes[0].scheme.as_str(), r.codes[0].code.as_str()), ("BJ-ZS", last), "the code asked for comes first");
        let per = |codes: &[crate::state::trace::LinkedCode], scheme: &str| codes.iter().filter(|c| c.scheme == scheme).count();
        assert_eq!((per(&r.codes, "BJ-ZS"), per(&r.codes, "TJ-ZS"), per(&r.codes, "HE-GS1")), (256, 1, 1));
        // 302 Beijing codes (wholesale, retail, 300 pieces), 256 listed.
        assert_eq!(r.codes_omitted, 46);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["codes_omitted"], 46);
        let trace = chain.state.trace("HE-GS1", HEBEI_CODE, Direction::Both).unwrap();
        assert_eq!((per(&trace.codes, "BJ-ZS"), trace.codes_omitted), (256, 46));
        assert_eq!(trace.codes.iter().filter(|c| c.code == HEBEI_CODE).count(), 1);
    }
}
