//! Behavioural tests of every record type's rules, through `State::apply`
//! on a network-free test chain. Every rejection is checked for the field
//! it names, a key phrase of its rule, and that nothing of it was stored.

mod common;

use coldchain_chaincode::state::ledger::{self, AlertState, CodeOrigin, Counter, FlowDirection, Ledger, Movement, MovementKind};
use coldchain_chaincode::state::search::{Query, search};
use coldchain_chaincode::state::trace::Direction;
use coldchain_chaincode::testkit::{self, Chain, admin_key, validator_key};
use coldchain_chaincode::{BlockContext, Hash, Outcome};
use common::*;
use serde_json::{Value, json};

const QN: &str = "531620211160071009001";
const BATCH: &str = "B2026-01";
const CODE: &str = "HE00000001";

/// A world where the Hebei importer entered 100 pieces / 2000 kg of lot (QN, BATCH) as HE00000001.
fn with_lot() -> World {
    let mut w = World::new();
    ok(&w.chain.submit(&w.importer.key, batch_rec(CODE, QN, BATCH, 100, "2000")));
    w
}

/// `with_lot`, then 30 pieces / 600 kg shipped to the Tianjin storage as S1.
fn with_shipment() -> World {
    let mut w = with_lot();
    let r = ship_rec("S1", &w.storage.uscc, vec![line(BATCH, 30, "600")]);
    ok(&w.chain.submit(&w.importer.key, r));
    w
}

/// `with_shipment`, received in full as R1.
fn with_receipt() -> World {
    let mut w = with_shipment();
    let r = receipt_rec("R1", "S1", &w.importer.uscc, vec![line(BATCH, 30, "600")]);
    ok(&w.chain.submit(&w.storage.key, r));
    w
}

fn product_rec(id: &str) -> Value {
    json!({"type": "product", "productLibraryId": id, "productName": "冻牛肉", "productCategory": "4501", "country": "BR"})
}

fn other_char(c: char) -> char {
    if c == '0' { '1' } else { '0' }
}

/// The movement recorded last.
fn last_movement(l: &Ledger) -> Movement {
    rows(l, &ledger::MOVEMENTS, Counter::Movements).pop().expect("a movement")
}

// ───────────────────────────── enterprise ─────────────────────────────

#[test]
fn enterprise_is_enrolled_only_by_a_province_bureaus_admin_key() {
    let mut c = Chain::new();
    let key = testkit::key("new-ent");
    let uscc = uscc_for("110105", "new-ent");
    let rec = enterprise_rec(&uscc, &key, "110105", "07");
    refuse(&mut c, &admin_key("national"), rec.clone(), "signer", "not a province's bureau");
    refuse(&mut c, &validator_key("beijing"), rec.clone(), "signer", "signed by a bureau's admin key");
    refuse(&mut c, &testkit::key("stranger"), rec.clone(), "signer.public_key", "not the key of an enrolled enterprise");
    let other = enrol(&mut c, "beijing", "already-enrolled", "07");
    refuse(&mut c, &other.key, rec.clone(), "signer", "signed by a bureau's admin key");
    ok(&c.submit(&admin_key("beijing"), rec));
    let (_, e) = c.state.ledger().enterprise(&uscc).expect("enrolled");
    assert_eq!(e.province, BJ);
    assert_eq!(e.enterprise_type, "07");
    assert_eq!(e.public_key, key.verifying_key().to_bytes());
    assert!(!e.suspended);
    assert_eq!(e.history.len(), 1);
}

#[test]
fn enterprise_district_must_lie_in_the_bureaus_province() {
    let mut c = Chain::new();
    let key = testkit::key("e");
    let uscc = uscc_for("120101", "e");
    refuse(&mut c, &admin_key("beijing"), enterprise_rec(&uscc, &key, "120101", "07"), "record.addrDistricts", "lies in province 120000");
    ok(&c.submit(&admin_key("tianjin"), enterprise_rec(&uscc, &key, "120101", "07")));
    assert_eq!(c.state.ledger().enterprise(&uscc).unwrap().1.province, TJ);
}

#[test]
fn enterprise_uscc_check_character_is_enforced() {
    let mut c = Chain::new();
    let key = testkit::key("e");
    let good = uscc_for("110105", "e");
    let last = good.chars().last().unwrap();
    let bad = format!("{}{}", &good[..17], other_char(last));
    let admin = admin_key("beijing");
    refuse(&mut c, &admin, enterprise_rec(&bad, &key, "110105", "07"), "record.unifSociCredCode", "check character");
    refuse(&mut c, &admin, enterprise_rec(&good[..17], &key, "110105", "07"), "record.unifSociCredCode", "18 characters");
    let with_i = format!("{}I{}", &good[..16], &good[17..]);
    refuse(&mut c, &admin, enterprise_rec(&with_i, &key, "110105", "07"), "record.unifSociCredCode", "alphabet");
    ok(&c.submit(&admin, enterprise_rec(&good, &key, "110105", "07")));
    // The seed README's example.
    ok(&c.submit(&admin, enterprise_rec("91350100M000100Y43", &testkit::key("readme"), "朝阳区", "07")));
}

#[test]
fn enterprise_and_licence_types_come_from_their_dictionaries() {
    let mut c = Chain::new();
    let admin = admin_key("beijing");
    let key = testkit::key("e");
    let uscc = uscc_for("110105", "e");
    refuse(
        &mut c,
        &admin,
        enterprise_rec(&uscc, &key, "110105", "99"),
        "record.entTypeCode",
        "neither a code nor a name in dictionary `enterprise_type`",
    );
    let bad_licence = patch(enterprise_rec(&uscc, &key, "110105", "19"), json!({"licences": [{"type": "88", "number": "X1"}]}));
    refuse(&mut c, &admin, bad_licence, "record.licences[0].type", "dictionary `licence_type`");
    // By exact name: 冷库 is 19, 食品经营许可证 is 20.
    let good = patch(enterprise_rec(&uscc, &key, "110105", "冷库"), json!({"licences": [{"type": "食品经营许可证", "number": "JY11101050000001"}]}));
    ok(&c.submit(&admin, good));
    let e = c.state.ledger().enterprise(&uscc).unwrap().1;
    assert_eq!(e.enterprise_type, "19");
    assert_eq!(e.licences[0].licence_type, "20");
    assert_eq!(e.licences[0].number.as_deref(), Some("JY11101050000001"));
}

#[test]
fn another_provinces_bureau_cannot_change_an_enterprise() {
    let mut c = Chain::new();
    let e = enrol(&mut c, "beijing", "bj-ent", "07");
    // Tianjin's bureau, claiming the Beijing enterprise for its own district.
    let forged = enterprise_rec(&e.uscc, &testkit::key("forged"), "120101", "07");
    refuse(&mut c, &admin_key("tianjin"), forged, "record.unifSociCredCode", "only that province's bureau may change it");
    // … or with the enterprise's own (Beijing) district and key.
    refuse(
        &mut c,
        &admin_key("tianjin"),
        enterprise_rec(&e.uscc, &e.key, "110105", "07"),
        "record.addrDistricts",
        "not the enrolling bureau's 120000",
    );
    // …or suspending it.
    let suspend = patch(enterprise_rec(&e.uscc, &e.key, "和平区", "07"), json!({"suspended": true}));
    refuse(&mut c, &admin_key("tianjin"), suspend, "record.unifSociCredCode", "only that province's bureau");
    // Its own bureau changes it.
    ok(&c.submit(&admin_key("beijing"), patch(enterprise_rec(&e.uscc, &e.key, "110105", "07"), json!({"entName": "新名字"}))));
    let (_, got) = c.state.ledger().enterprise(&e.uscc).unwrap();
    assert_eq!(got.name, "新名字");
    assert_eq!(got.history.len(), 2);
    assert_eq!(rows(c.state.ledger(), &ledger::ENTERPRISES, Counter::Enterprises).len(), 1);
}

#[test]
fn an_enterprise_key_cannot_be_reused() {
    let mut c = Chain::new();
    let a = enrol(&mut c, "beijing", "a", "07");
    let admin = admin_key("beijing");
    let b_uscc = uscc_for("110105", "b");
    refuse(&mut c, &admin, enterprise_rec(&b_uscc, &a.key, "110105", "07"), "record.publicKey", &format!("already belongs to enterprise {}", a.uscc));
    // Another province's enterprise cannot take it either.
    let t_uscc = uscc_for("120101", "t");
    refuse(&mut c, &admin_key("tianjin"), enterprise_rec(&t_uscc, &a.key, "120101", "07"), "record.publicKey", "already belongs");
    refuse(&mut c, &admin, enterprise_rec(&b_uscc, &admin_key("hebei"), "110105", "07"), "record.publicKey", "bureau's or validator's key");
    refuse(&mut c, &admin, enterprise_rec(&b_uscc, &validator_key("beijing"), "110105", "07"), "record.publicKey", "bureau's or validator's key");
    refuse(&mut c, &admin, patch(enterprise_rec(&b_uscc, &a.key, "110105", "07"), json!({"publicKey": "zz"})), "record.publicKey", "64 hexadecimal");
}

#[test]
fn a_bureau_rotates_an_enterprise_key() {
    let mut c = Chain::new();
    let a = enrol(&mut c, "beijing", "a", "07");
    let new_key = testkit::key("a-rotated");
    ok(&c.submit(&admin_key("beijing"), enterprise_rec(&a.uscc, &new_key, "110105", "07")));
    refuse(&mut c, &a.key, product_rec(GTIN), "signer.public_key", "not the key of an enrolled enterprise");
    ok(&c.submit(&new_key, product_rec(GTIN)));
    // The old key is free again, for another enterprise.
    let b_uscc = uscc_for("110105", "b");
    ok(&c.submit(&admin_key("beijing"), enterprise_rec(&b_uscc, &a.key, "110105", "07")));
}

#[test]
fn a_suspended_enterprises_records_are_rejected_on_signer() {
    let mut w = with_receipt();
    let admin = admin_key("hebei");
    let rec = |suspended: bool| patch(enterprise_rec(&w.importer.uscc, &w.importer.key, district_of("hebei"), "07"), json!({"suspended": suspended}));
    let (suspend, unsuspend) = (rec(true), rec(false));
    ok(&w.chain.submit(&admin, suspend));
    assert!(w.chain.state.ledger().enterprise(&w.importer.uscc).unwrap().1.suspended);
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, product_rec(GTIN), "signer", "suspended");
    refuse(&mut w.chain, &k, ship_rec("S2", &w.storage.uscc.clone(), vec![line(BATCH, 1, "1")]), "signer", "suspended");
    refuse(&mut w.chain, &k, batch_rec("HE00000002", "531620211160071009002", "B2", 1, "1"), "signer", "suspended");
    refuse(&mut w.chain, &k, json!({"type": "notarise", "document": {"while": "suspended"}}), "signer", "suspended");
    // Nobody sends goods to a suspended enterprise.
    let tj = w.storage.key.clone();
    let importer = w.importer.uscc.clone();
    refuse(&mut w.chain, &tj, ship_rec("T1", &importer, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "is suspended");
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &importer, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "is suspended");
    ok(&w.chain.submit(&admin, unsuspend));
    ok(&w.chain.submit(&k, product_rec(GTIN)));
    ok(&w.chain.submit(&tj, ship_rec("T1", &importer, vec![line(BATCH, 1, "1")])));
}

#[test]
fn enterprise_latitude_and_longitude_lie_in_china() {
    let mut c = Chain::new();
    let admin = admin_key("beijing");
    let key = testkit::key("e");
    let uscc = uscc_for("110105", "e");
    let base = enterprise_rec(&uscc, &key, "110105", "07");
    refuse(&mut c, &admin, patch(base.clone(), json!({"latitude": 60.5})), "record.latitude", "not a latitude in China");
    refuse(&mut c, &admin, patch(base.clone(), json!({"latitude": 2.9})), "record.latitude", "not a latitude in China");
    refuse(&mut c, &admin, patch(base.clone(), json!({"longitude": 20})), "record.longitude", "not a longitude in China");
    refuse(&mut c, &admin, patch(base.clone(), json!({"longitude": 136.5})), "record.longitude", "not a longitude in China");
    refuse(&mut c, &admin, patch(base.clone(), json!({"latitude": "north"})), "record.latitude", "must be a number");
    refuse(&mut c, &admin, patch(base.clone(), json!({"latitude": null})), "record.latitude", "is required");
    // Bounds are inclusive; `lat`/`lng` are accepted spellings.
    ok(&c.submit(&admin, patch(base, json!({"latitude": null, "longitude": null, "lat": 54.0, "lng": 73.0}))));
    let e = c.state.ledger().enterprise(&uscc).unwrap().1;
    assert_eq!((e.latitude, e.longitude), (54.0, 73.0));
}

// ───────────────────────────── spellings ─────────────────────────────

#[test]
fn both_spellings_of_a_field_are_accepted() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let snake = json!({"type": "product", "Product_library_id": GTIN, "Product_name": "冻牛肉", "Product_category": "4501", "country": "BR"});
    ok(&w.chain.submit(&k, snake));
    ok(&w.chain.submit(&k, product_rec(GTIN2)));
    let id = w.ent_id(&w.importer);
    let product = |gtin: &str| w.chain.state.ledger().get(&ledger::PRODUCTS, &(id, gtin.to_string())).expect("the product");
    assert_eq!(product(GTIN).category, "4501");
    assert_eq!(product(GTIN2).name, "冻牛肉");

    // `Quarantine_number` inside `quarantineInfo`, and the table spellings at the top.
    let mut rec = batch_rec(CODE, QN, BATCH, 10, "200");
    rec = patch_in(
        rec,
        "quarantineInfo",
        json!({"quarantineNumber": null, "Quarantine_number": QN, "dateOfEntry": null, "Date_of_entry": "2026-11-01"}),
    );
    rec = patch(rec, json!({"productLibraryId": null, "Product_library_id": GTIN, "numberOfPieces": null, "Number_of_pieces": 10}));
    ok(&w.chain.submit(&k, rec));
    let lot = w.chain.state.ledger().lot_at(w.lot(QN, BATCH));
    assert_eq!(lot.quarantine_number, QN);
    assert_eq!(lot.entered.pieces, 10);
}

#[test]
fn the_same_field_given_twice_is_refused() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let both = patch(product_rec(GTIN), json!({"Product_library_id": GTIN}));
    refuse(&mut w.chain, &k, both, "record.productLibraryId", "given twice, also as `Product_library_id`");
    let both_inner = patch_in(batch_rec(CODE, QN, BATCH, 10, "200"), "quarantineInfo", json!({"Quarantine_number": QN}));
    refuse(&mut w.chain, &k, both_inner, "record.quarantineInfo.quarantineNumber", "given twice");
    let snake_and_lower = patch(product_rec(GTIN), json!({"product_name": "x"}));
    refuse(&mut w.chain, &k, snake_and_lower, "record.product_name", "given twice");
}

#[test]
fn unknown_fields_and_record_types_are_refused() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"colour": "red"})), "record.colour", "unknown field");
    refuse(&mut w.chain, &k, json!({"type": "teleport"}), "record.type", "unknown record type");
    refuse(&mut w.chain, &k, json!({"productName": "x"}), "record.type", "is required");
    refuse(
        &mut w.chain,
        &k,
        patch_in(batch_rec(CODE, QN, BATCH, 1, "1"), "quarantineInfo", json!({"colour": 1})),
        "record.quarantineInfo.colour",
        "unknown field",
    );
}

#[test]
fn a_transaction_applies_once() {
    let mut w = World::new();
    let tx = w.chain.sign(&w.importer.key.clone(), product_rec(GTIN));
    let receipts = w.chain.block(&[tx.clone(), tx.clone()]);
    ok(&receipts[0]);
    rejected(&receipts[1], "(transaction)", "duplicate");
}

#[test]
fn anyone_may_notarise_but_nothing_else() {
    let mut c = Chain::new();
    let stranger = testkit::key("stranger");
    let r = c.submit(&stranger, json!({"type": "notarise", "document": {"hello": "world"}}));
    ok(&r);
    assert_eq!(c.state.notarisation(&r.tx_id).unwrap().signer, stranger.verifying_key().to_bytes());
    refuse(&mut c, &stranger, json!({"type": "notarise", "document": [1, 2]}), "record.document", "JSON object");
    refuse(&mut c, &stranger, product_rec(GTIN), "signer.public_key", "not the key of an enrolled enterprise");
}

// ───────────────────────────── product ─────────────────────────────

#[test]
fn product_id_gs1_check_digit() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, product_rec("17896448006462"), "record.productLibraryId", "mod-10 rule gives 5");
    refuse(&mut w.chain, &k, product_rec("6901234567890"), "record.productLibraryId", "GS1 check digit");
    refuse(&mut w.chain, &k, product_rec("bad id!"), "record.productLibraryId", "GS1 product code or a system product code");
    ok(&w.chain.submit(&k, product_rec("17896448006465")));
    ok(&w.chain.submit(&k, product_rec("SZ-PC-000123")));
    assert_eq!(len(w.chain.state.ledger(), &ledger::PRODUCTS), 2);
}

#[test]
fn product_category_and_country_by_code_or_exact_name() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"productCategory": "9999"})), "record.productCategory", "dictionary `product_category`");
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"productCategory": "牛肉"})), "record.productCategory", "neither a code nor a name");
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"country": "Brazil"})), "record.country", "dictionary `country`");
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"country": "br"})), "record.country", "neither a code nor a name");
    ok(&w.chain.submit(&k, patch(product_rec(GTIN), json!({"productCategory": "其他畜肉及其副产品/牛肉", "country": "巴西"}))));
    let id = w.ent_id(&w.importer);
    let p = w.chain.state.ledger().get(&ledger::PRODUCTS, &(id, GTIN.to_string())).expect("the product");
    assert_eq!((p.category.as_str(), p.country.as_str()), ("4501", "BR"));
}

#[test]
fn product_is_an_enterprises_record() {
    let mut w = World::new();
    refuse(&mut w.chain, &admin_key("hebei"), product_rec(GTIN), "signer", "signed by an enrolled enterprise's key");
    refuse(&mut w.chain, &validator_key("hebei"), product_rec(GTIN), "signer", "enrolled enterprise");
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, patch(product_rec(GTIN), json!({"lifeNumber": 12})), "record.lifeUnit", "is required with lifeNumber");
    refuse(
        &mut w.chain,
        &k,
        patch(product_rec(GTIN), json!({"specification": 20, "specificationUnit": "lb"})),
        "record.specificationUnit",
        "not a specification unit",
    );
    ok(&w
        .chain
        .submit(&k, patch(product_rec(GTIN), json!({"lifeNumber": 12, "lifeUnit": "月", "specification": "20", "specificationUnit": "千克"}))));
    let id = w.ent_id(&w.importer);
    let p = w.chain.state.ledger().get(&ledger::PRODUCTS, &(id, GTIN.to_string())).expect("the product");
    assert_eq!(p.shelf_life, Some((12, "month".to_string())));
    assert_eq!(p.specification, Some(("20".to_string(), "kg".to_string())));
}

// ───────────────────────────── product_batch ─────────────────────────────

#[test]
fn quarantine_numbers_are_15_18_or_21_digits() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    for (i, n) in ["531620211160071", "531620211160071009", "531620211160071009001"].iter().enumerate() {
        ok(&w.chain.submit(&k, batch_rec(&format!("HE0000001{i}"), n, BATCH, 1, "1")));
    }
    assert_eq!(rows(w.chain.state.ledger(), &ledger::LOTS, Counter::Lots).len(), 3);
    let field = "record.quarantineInfo.quarantineNumber";
    for bad in ["5316202111600710", "53162021116007", "53162021116007100A", "5316202111600710090"] {
        refuse(&mut w.chain, &k, batch_rec("HE00000099", bad, BATCH, 1, "1"), field, "15, 18 or 21 digits");
    }
}

#[test]
fn production_date_is_not_after_entry_date_which_is_not_after_today() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let late_production = patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"productionDate": "2026-11-02"}));
    refuse(&mut w.chain, &k, late_production, "record.productionDate", "is after the date of entry 2026-11-01");
    let future_entry = patch_in(batch_rec(CODE, QN, BATCH, 1, "1"), "quarantineInfo", json!({"dateOfEntry": "2026-11-25"}));
    refuse(&mut w.chain, &k, future_entry, "record.quarantineInfo.dateOfEntry", "is after today (2026-11-24");
    let both_future = patch_in(
        patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"productionDate": "2026-12-01"})),
        "quarantineInfo",
        json!({"dateOfEntry": "2026-12-01"}),
    );
    refuse(&mut w.chain, &k, both_future, "record.quarantineInfo.dateOfEntry", "after today");
    let future_nucleic =
        patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"nucleicInfo": {"naResult": "阴性", "naDate": "2026-11-30", "naUnit": "海关"}}));
    refuse(&mut w.chain, &k, future_nucleic, "record.nucleicInfo.naDate", "after today");
    refuse(
        &mut w.chain,
        &k,
        patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"productionDate": "2026-02-30"})),
        "record.productionDate",
        "not a GB/T 7408 date",
    );
    // Production on the entry date, entry today: both bounds inclusive.
    let edge = patch_in(
        patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"productionDate": "2026-11-24"})),
        "quarantineInfo",
        json!({"dateOfEntry": "2026-11-24"}),
    );
    ok(&w.chain.submit(&k, edge));
    // A day later, that day's successor is allowed.
    w.chain.advance_days(1);
    let next = patch_in(batch_rec("HE00000002", QN, "B2", 1, "1"), "quarantineInfo", json!({"dateOfEntry": "2026-11-25"}));
    ok(&w.chain.submit(&k, next));
}

#[test]
fn pieces_and_weight_are_positive() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, batch_rec(CODE, QN, BATCH, 0, "1"), "record.numberOfPieces", "positive whole number of pieces");
    refuse(&mut w.chain, &k, batch_rec(CODE, QN, BATCH, 1, "0"), "record.weight", "positive weight");
    refuse(&mut w.chain, &k, batch_rec(CODE, QN, BATCH, 1, "-3"), "record.weight", "not a non-negative decimal");
    refuse(&mut w.chain, &k, batch_rec(CODE, QN, BATCH, 1, "0.0001"), "record.weight", "at most 3 decimals");
    refuse(&mut w.chain, &k, patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"numberOfPieces": 1.5})), "record.numberOfPieces", "whole number");
    refuse(
        &mut w.chain,
        &k,
        patch(batch_rec(CODE, QN, BATCH, 5, "1"), json!({"inventoryPieces": 6})),
        "record.inventoryPieces",
        "more than the 5 stocked",
    );
    ok(&w.chain.submit(&k, batch_rec(CODE, QN, BATCH, 1, "0.001")));
    assert_eq!(w.held(&w.importer, QN, BATCH), (1, 1));
}

#[test]
fn port_of_entry_comes_from_the_dictionary() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let atlantis = patch_in(batch_rec(CODE, QN, BATCH, 1, "1"), "quarantineInfo", json!({"portOfEntry": "Atlantis"}));
    refuse(&mut w.chain, &k, atlantis, "record.quarantineInfo.portOfEntry", "dictionary `entry_port`");
    ok(&w.chain.submit(&k, patch_in(batch_rec(CODE, QN, BATCH, 1, "1"), "quarantineInfo", json!({"portOfEntry": "0202"}))));
    ok(&w.chain.submit(&k, patch_in(batch_rec("HE00000002", QN, "B2", 1, "1"), "quarantineInfo", json!({"portOfEntry": "盐田"}))));
    let l = w.chain.state.ledger();
    assert_eq!(l.lot_at(0).port_of_entry, "0202");
    assert_eq!(l.lot_at(1).port_of_entry, "5316");
}

#[test]
fn trace_code_matches_a_scheme_of_the_submitters_province_or_the_named_one() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, batch_rec("BJ00000001", QN, BATCH, 1, "1"), "record.traceCode", "matches no code scheme of province 130000");
    refuse(&mut w.chain, &k, batch_rec("XX", QN, BATCH, 1, "1"), "record.traceCode", "matches no code scheme");
    refuse(
        &mut w.chain,
        &k,
        patch(batch_rec("HE00000001", QN, BATCH, 1, "1"), json!({"traceCodeScheme": "nope"})),
        "record.traceCode",
        "no code scheme \"nope\"",
    );
    refuse(
        &mut w.chain,
        &k,
        patch(batch_rec("HE00000001", QN, BATCH, 1, "1"), json!({"traceCodeScheme": TJ_SCHEME})),
        "record.traceCode",
        "does not match scheme tj-trace's pattern",
    );
    // Named explicitly, a code of another scheme is accepted.
    ok(&w.chain.submit(&k, patch(batch_rec("BJ00000001", QN, BATCH, 1, "1"), json!({"traceCodeScheme": BJ_SCHEME}))));
    let e = w.chain.state.ledger().code(BJ_SCHEME, "BJ00000001").expect("registered");
    assert_eq!(e.origin, CodeOrigin::ProductBatch);
    assert_eq!(e.issuer, Some(w.ent_id(&w.importer)));
    // Two of the province's schemes match: the code must name one.
    ok(&w.chain.submit(&admin_key("hebei"), scheme_rec("he-alt", HE, "HE[0-9]+")));
    refuse(&mut w.chain, &k, batch_rec("HE00000001", QN, "B2", 1, "1"), "record.traceCode", "matches more than one of province 130000's schemes");
    ok(&w.chain.submit(&k, patch(batch_rec("HE00000001", QN, "B2", 1, "1"), json!({"traceCodeScheme": "he-alt"}))));
    assert!(w.chain.state.ledger().code("he-alt", "HE00000001").is_some());
}

#[test]
fn a_trace_code_is_registered_once() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, batch_rec(CODE, "531620211160071009002", "B2", 1, "1"), "record.traceCode", "is already registered");
    // Nor re-registered for the same lot (with documents, that is an update: tests/clearance.rs).
    let again = patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"nucleicInfo": null, "disinfectInfo": null}));
    refuse(&mut w.chain, &k, again, "record.traceCode", "is already registered");
}

#[test]
fn a_second_product_batch_of_a_lot_is_for_its_holders_and_adds_only_a_code() {
    let mut w = with_shipment();
    let tj = w.storage.key.clone();
    let second = || batch_rec("TJ00000001", QN, BATCH, 30, "600");
    // In transit, not yet received: the storage is not a holder.
    refuse(&mut w.chain, &tj, second(), "record.quarantineInfo.quarantineNumber", "only once it has received some of it");
    // Never received at all.
    let bj = w.wholesaler.key.clone();
    let origin = w.importer.uscc.clone();
    refuse(
        &mut w.chain,
        &bj,
        batch_rec("BJ00000001", QN, BATCH, 5, "5"),
        "record.quarantineInfo.quarantineNumber",
        &format!("was entered by {origin}"),
    );
    ok(&w.chain.submit(&tj, receipt_rec("R1", "S1", &origin, vec![line(BATCH, 30, "600")])));
    let counts = |l: &Ledger| (rows(l, &ledger::MOVEMENTS, Counter::Movements).len(), rows(l, &ledger::LOTS, Counter::Lots).len());
    let (movements, lots) = counts(w.chain.state.ledger());
    ok(&w.chain.submit(&tj, second()));
    let l = w.chain.state.ledger();
    let lot = w.lot(QN, BATCH);
    assert_eq!(counts(l).1, lots);
    assert_eq!(counts(l).0, movements, "no new entry movement");
    assert_eq!(l.lot_at(lot).entered.pieces, 100, "nothing entered twice");
    assert_eq!(w.held(&w.storage, QN, BATCH), (30, 600_000), "the storage's holding is what it received");
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_400_000));
    assert_eq!(l.lot_codes(lot).len(), 2);
    let e = l.code(TJ_SCHEME, "TJ00000001").expect("registered");
    assert_eq!((e.lot, e.issuer), (lot, Some(w.ent_id(&w.storage))));
    // The importer itself may give its lot another code, again without quantity.
    let k = w.importer.key.clone();
    ok(&w.chain.submit(&k, batch_rec("HE00000002", QN, BATCH, 100, "2000")));
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_400_000));
    assert_eq!(w.chain.state.ledger().lot_codes(lot).len(), 3);
}

#[test]
fn product_batch_documents_are_checked() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let bad_container = patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"containerNumber": "MNBU316738"}));
    refuse(&mut w.chain, &k, bad_container, "record.containerNumber", "ISO 6346");
    let bad_customs = patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"customsInfo": {"customsNumber": "A123"}}));
    refuse(&mut w.chain, &k, bad_customs, "record.customsInfo.customsNumber", "1 to 32 digits");
    let bad_na = patch(batch_rec(CODE, QN, BATCH, 1, "1"), json!({"nucleicInfo": {"naResult": "maybe", "naDate": "2026-11-02", "naUnit": "海关"}}));
    refuse(&mut w.chain, &k, bad_na, "record.nucleicInfo.naResult", "not a nucleic-acid result");
    let bad_place = patch(
        batch_rec(CODE, QN, BATCH, 1, "1"),
        json!({"disinfectInfo": {"disinfectDate": "2026-11-02", "placeOfDisinfection": "Moon", "disinfectNumber": "D1", "disinfectState": 1}}),
    );
    refuse(&mut w.chain, &k, bad_place, "record.disinfectInfo.placeOfDisinfection", "not a place of disinfection");
    let good = patch(
        batch_rec(CODE, QN, BATCH, 1, "1"),
        json!({
            "containerNumber": "mnbu3167382",
            "nucleicInfo": {"naResult": "阴性", "naDate": "2026-11-02", "naUnit": "天津海关"},
            "releaseInfo": {"certificateNumber": "1202611020001", "certificateDate": "2026-11-03"},
        }),
    );
    ok(&w.chain.submit(&k, good));
    let l = w.chain.state.ledger();
    assert_eq!(l.lot_at(0).container.as_deref(), Some("MNBU3167382"));
    assert_eq!(l.lot_at(0).documents.nucleic_acid.as_ref().map(|n| n.0.as_str()), Some("negative"));
    assert!(l.contains(&ledger::CONTAINERS, &("MNBU3167382".to_string(), 0)));
}

// ───────────────────────────── shipment ─────────────────────────────

#[test]
fn a_shipment_cannot_take_more_than_the_sender_holds() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    let to = w.storage.uscc.clone();
    let field = "record.productList[0].numberOfPieces";
    refuse(&mut w.chain, &k, ship_rec("S1", &to, vec![line(BATCH, 101, "10")]), field, "takes 101 pieces / 10 kg");
    refuse(&mut w.chain, &k, ship_rec("S1", &to, vec![line(BATCH, 1, "2000.001")]), "record.productList[0].weight", "has 100 pieces / 2000 kg");
    // Two lines of one lot count together.
    refuse(
        &mut w.chain,
        &k,
        ship_rec("S1", &to, vec![line(BATCH, 60, "10"), line(BATCH, 50, "10")]),
        "record.productList[1].numberOfPieces",
        "takes 110 pieces",
    );
    refuse(&mut w.chain, &k, ship_rec("S1", &to, vec![line("NOPE", 1, "1")]), "record.productList[0].batch", "has no goods of product");
    refuse(&mut w.chain, &k, ship_rec("S1", &to, vec![code_line("TJ99999999", "NOPE", 1, "1")]), "record.productList[0].batch", "has no goods");
    // Exactly what it holds is fine; then it holds nothing.
    ok(&w.chain.submit(&k, ship_rec("S1", &to, vec![line(BATCH, 100, "2000")])));
    assert_eq!(w.held(&w.importer, QN, BATCH), (0, 0));
    refuse(&mut w.chain, &k, ship_rec("S2", &to, vec![line(BATCH, 1, "1")]), "record.productList[0].batch", "has no goods");
}

#[test]
fn a_shipment_lowers_the_senders_holding_and_records_a_movement() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    let r = w.chain.submit(&k, ship_rec("S1", &w.storage.uscc.clone(), vec![code_line(CODE, BATCH, 30, "600.5")]));
    ok(&r);
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_399_500));
    let l = w.chain.state.ledger();
    let lot = w.lot(QN, BATCH);
    assert!(!l.contains(&ledger::HOLDINGS, &(w.ent_id(&w.storage), lot)), "in transit until received");
    let s = l.get(&ledger::SHIPMENTS, &(w.ent_id(&w.importer), "S1".to_string())).expect("the shipment");
    assert_eq!(s.receiver, w.ent_id(&w.storage));
    assert_eq!(s.receipt, None);
    let m = l.movement_at(s.movements[0]);
    assert_eq!(
        (m.kind, m.from, m.to, m.qty.pieces, m.qty.grams),
        (MovementKind::Shipment, Some(w.ent_id(&w.importer)), w.ent_id(&w.storage), 30, 600_500)
    );
    assert_eq!(m.tx, r.tx_id);
}

#[test]
fn a_shipments_receiver_must_be_another_enrolled_enterprise() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    let stranger = uscc_for("120101", "never-enrolled");
    refuse(&mut w.chain, &k, ship_rec("S1", &stranger, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "is not an enrolled enterprise");
    let bad = format!("{}{}", &stranger[..17], other_char(stranger.chars().last().unwrap()));
    refuse(&mut w.chain, &k, ship_rec("S1", &bad, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "check character");
    let me = w.importer.uscc.clone();
    refuse(&mut w.chain, &k, ship_rec("S1", &me, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "goes to another enterprise");
    let to = w.storage.uscc.clone();
    refuse(&mut w.chain, &admin_key("hebei"), ship_rec("S1", &to, vec![line(BATCH, 1, "1")]), "signer", "enrolled enterprise's key");
    let future = patch(ship_rec("S1", &to, vec![line(BATCH, 1, "1")]), json!({"sendTime": "2026-11-25"}));
    refuse(&mut w.chain, &k, future, "record.sendTime", "after today");
}

#[test]
fn a_send_number_is_used_once_per_sender() {
    let mut w = with_shipment();
    let k = w.importer.key.clone();
    let to = w.wholesaler.uscc.clone();
    refuse(&mut w.chain, &k, ship_rec("S1", &to, vec![line(BATCH, 1, "1")]), "record.sendNumber", "shipment S1 was already recorded");
    // Another sender may use the same number.
    let tj = w.storage.key.clone();
    ok(&w.chain.submit(&tj, receipt_rec("R1", "S1", &w.importer.uscc.clone(), vec![line(BATCH, 30, "600")])));
    ok(&w.chain.submit(&tj, ship_rec("S1", &to, vec![line(BATCH, 1, "1")])));
}

// ───────────────────────────── receipt ─────────────────────────────

#[test]
fn a_receipt_must_reference_a_shipment_to_the_signer() {
    let mut w = with_shipment();
    let tj = w.storage.key.clone();
    let from = w.importer.uscc.clone();
    refuse(&mut w.chain, &tj, receipt_rec("R1", "S9", &from, vec![line(BATCH, 1, "1")]), "record.sendNumber", "a receipt must reference a shipment");
    let wholesaler = w.wholesaler.uscc.clone();
    refuse(&mut w.chain, &tj, receipt_rec("R1", "S1", &wholesaler, vec![line(BATCH, 1, "1")]), "record.sendNumber", "recorded no shipment S1");
    let bj = w.wholesaler.key.clone();
    refuse(&mut w.chain, &bj, receipt_rec("R1", "S1", &from, vec![line(BATCH, 1, "1")]), "record.sendNumber", "not to the signer");
    let stranger = uscc_for("130102", "never-enrolled");
    refuse(&mut w.chain, &tj, receipt_rec("R1", "S1", &stranger, vec![line(BATCH, 1, "1")]), "record.senderUscc", "not an enrolled enterprise");
    refuse(&mut w.chain, &admin_key("tianjin"), receipt_rec("R1", "S1", &from, vec![line(BATCH, 1, "1")]), "signer", "enrolled enterprise");
}

#[test]
fn a_receipt_cannot_take_more_than_was_shipped() {
    let mut w = with_shipment();
    let tj = w.storage.key.clone();
    let from = w.importer.uscc.clone();
    let field = "record.productList[0].numberOfPieces";
    refuse(&mut w.chain, &tj, receipt_rec("R1", "S1", &from, vec![line(BATCH, 31, "600")]), field, "shipment S1 has 30 pieces / 600 kg");
    refuse(
        &mut w.chain,
        &tj,
        receipt_rec("R1", "S1", &from, vec![line(BATCH, 30, "600.001")]),
        "record.productList[0].weight",
        "takes 30 pieces / 600.001 kg",
    );
    // The importer still holds 70 pieces; a receipt draws only on the shipment.
    refuse(
        &mut w.chain,
        &tj,
        receipt_rec("R1", "S1", &from, vec![line(BATCH, 15, "300"), line(BATCH, 16, "300")]),
        "record.productList[1].numberOfPieces",
        "takes 31 pieces",
    );
}

#[test]
fn a_short_receipt_records_the_difference() {
    let mut w = with_shipment();
    let r = w.chain.submit(&w.storage.key.clone(), receipt_rec("R1", "S1", &w.importer.uscc.clone(), vec![line(BATCH, 28, "560")]));
    ok(&r);
    assert_eq!(w.held(&w.storage, QN, BATCH), (28, 560_000));
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_400_000), "what was short is not returned to the sender");
    let l = w.chain.state.ledger();
    let s = l.get(&ledger::SHIPMENTS, &(w.ent_id(&w.importer), "S1".to_string())).expect("the shipment");
    assert_eq!(s.receipt, Some(r.tx_id));
    let m = l.movement_at(s.movements[0]);
    let rec = m.received.as_ref().expect("received");
    assert_eq!((rec.qty.pieces, rec.qty.grams, rec.document.as_str()), (28, 560_000, "R1"));
    let t = w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap();
    let step = t.steps.iter().find(|s| s.kind == MovementKind::Shipment).expect("the shipment step");
    let received = step.received.as_ref().expect("received view");
    assert_eq!((step.pieces, received.pieces, received.short_pieces), (30, 28, 2));
    assert_eq!((received.weight_kg.as_str(), received.short_kg.as_str()), ("560", "40"));
    assert_eq!(received.date.to_string(), "2026-11-21");
}

#[test]
fn a_shipment_is_received_once_and_not_before_it_was_sent() {
    let mut w = with_shipment();
    let tj = w.storage.key.clone();
    let from = w.importer.uscc.clone();
    let early = patch(receipt_rec("R1", "S1", &from, vec![line(BATCH, 30, "600")]), json!({"receiveTime": "2026-11-19"}));
    refuse(&mut w.chain, &tj, early, "record.receiveTime", "before it was sent on 2026-11-20");
    let future = patch(receipt_rec("R1", "S1", &from, vec![line(BATCH, 30, "600")]), json!({"receiveTime": "2026-11-25"}));
    refuse(&mut w.chain, &tj, future, "record.receiveTime", "after today");
    let same_day = patch(receipt_rec("R1", "S1", &from, vec![line(BATCH, 30, "600")]), json!({"receiveTime": "2026-11-20T18:00:00+08:00"}));
    ok(&w.chain.submit(&tj, same_day));
    refuse(&mut w.chain, &tj, receipt_rec("R2", "S1", &from, vec![line(BATCH, 1, "1")]), "record.sendNumber", "was already received");
    // A receipt number is used once per receiver.
    let k = w.importer.key.clone();
    ok(&w.chain.submit(&k, ship_rec("S2", &w.storage.uscc.clone(), vec![line(BATCH, 5, "100")])));
    refuse(
        &mut w.chain,
        &tj,
        receipt_rec("R1", "S2", &from, vec![line(BATCH, 5, "100")]),
        "record.receiverNumber",
        "receipt R1 was already recorded",
    );
    ok(&w.chain.submit(&tj, receipt_rec("R2", "S2", &from, vec![line(BATCH, 5, "100")])));
    assert_eq!(w.held(&w.storage, QN, BATCH), (35, 700_000));
}

// ───────────────────────────── stock_in / stock_out ─────────────────────────────

fn stock_in_rec(code: &str, owner: Option<&str>, storage: Option<&str>, lines: Vec<Value>) -> Value {
    let mut v = json!({"type": "stock_in", "inStockCode": code, "inStockDate": "2026-11-22", "productList": lines});
    if let Some(o) = owner {
        v["senderUscc"] = json!(o);
    }
    if let Some(s) = storage {
        v["storageNumber"] = json!(s);
    }
    v
}

/// `with_lot`, and the Tianjin storage registers its cold storage TJ-CS-01 (津冷一号).
fn with_cold_storage() -> World {
    let mut w = with_lot();
    let r = cold_storage_rec(&w.storage.uscc, "TJ-CS-01", "津冷一号", "第三方");
    ok(&w.chain.submit(&w.storage.key.clone(), r));
    w
}

#[test]
fn stock_in_from_an_owner_moves_custody_to_the_operator() {
    let mut w = with_cold_storage();
    let tj = w.storage.key.clone();
    let owner = w.importer.uscc.clone();
    refuse(
        &mut w.chain,
        &tj,
        stock_in_rec("IN-1", Some(&owner), Some("TJ-CS-99"), vec![line(BATCH, 20, "400")]),
        "record.storageNumber",
        "registered no cold storage",
    );
    refuse(
        &mut w.chain,
        &tj,
        stock_in_rec("IN-1", Some(&owner), Some("TJ-CS-01"), vec![line(BATCH, 101, "400")]),
        "record.productList[0].batch",
        "has no goods",
    );
    refuse(
        &mut w.chain,
        &tj,
        stock_in_rec("IN-1", Some(&uscc_for("130102", "nobody")), None, vec![line(BATCH, 1, "1")]),
        "record.senderUscc",
        "not an enrolled enterprise",
    );
    ok(&w.chain.submit(&tj, stock_in_rec("IN-1", Some(&owner), Some("TJ-CS-01"), vec![line(BATCH, 20, "400")])));
    assert_eq!(w.held(&w.importer, QN, BATCH), (80, 1_600_000));
    assert_eq!(w.held(&w.storage, QN, BATCH), (20, 400_000));
    let l = w.chain.state.ledger();
    let m = last_movement(l);
    assert_eq!((m.kind, m.from, m.to, m.storage), (MovementKind::StockIn, Some(w.ent_id(&w.importer)), w.ent_id(&w.storage), Some(0)));
    refuse(
        &mut w.chain,
        &tj,
        stock_in_rec("IN-1", Some(&owner), None, vec![line(BATCH, 1, "1")]),
        "record.inStockCode",
        "stock-in IN-1 was already recorded",
    );
    refuse(&mut w.chain, &admin_key("tianjin"), stock_in_rec("IN-2", Some(&owner), None, vec![line(BATCH, 1, "1")]), "signer", "enrolled enterprise");
}

#[test]
fn only_a_registered_cold_storage_takes_another_enterprises_goods_into_custody() {
    // The Tianjin storage has registered no cold storage yet.
    let mut w = with_lot();
    let tj = w.storage.key.clone();
    let owner = w.importer.uscc.clone();
    refuse(
        &mut w.chain,
        &tj,
        stock_in_rec("IN-1", Some(&owner), None, vec![line(BATCH, 20, "400")]),
        "record.storageNumber",
        "registered cold storages",
    );
    assert_eq!(w.held(&w.importer, QN, BATCH), (100, 2_000_000));
}

#[test]
fn stock_in_of_goods_the_operator_holds_places_them_without_moving_them() {
    let mut w = with_receipt();
    let tj = w.storage.key.clone();
    ok(&w.chain.submit(&tj, cold_storage_rec(&w.storage.uscc.clone(), "TJ-CS-01", "津冷一号", "第三方")));
    let field = "record.productList[0].numberOfPieces";
    refuse(&mut w.chain, &tj, stock_in_rec("IN-1", None, None, vec![line(BATCH, 31, "600")]), field, "has 30 pieces / 600 kg");
    // Named by its name; its only storage anyway.
    let by_name = patch(stock_in_rec("IN-1", None, None, vec![line(BATCH, 30, "600")]), json!({"storageName": "津冷一号"}));
    ok(&w.chain.submit(&tj, by_name));
    assert_eq!(w.held(&w.storage, QN, BATCH), (30, 600_000));
    assert_eq!(w.held(&w.importer, QN, BATCH), (70, 1_400_000));
    let m = last_movement(w.chain.state.ledger());
    assert_eq!((m.kind, m.from, m.to, m.storage), (MovementKind::StockIn, Some(w.ent_id(&w.storage)), w.ent_id(&w.storage), Some(0)));
    // Naming as owner an enterprise that has too few: the operator's own goods are placed.
    let importer = w.importer.uscc.clone();
    let k = w.importer.key.clone();
    ok(&w.chain.submit(&k, ship_rec("S2", &w.storage.uscc.clone(), vec![line(BATCH, 65, "1300")])));
    ok(&w.chain.submit(&tj, receipt_rec("R2", "S2", &importer, vec![line(BATCH, 65, "1300")])));
    assert_eq!(w.held(&w.importer, QN, BATCH), (5, 100_000));
    ok(&w.chain.submit(&tj, stock_in_rec("IN-2", Some(&importer), None, vec![line(BATCH, 20, "400")])));
    assert_eq!(w.held(&w.importer, QN, BATCH), (5, 100_000));
    assert_eq!(w.held(&w.storage, QN, BATCH), (95, 1_900_000));
    let m = last_movement(w.chain.state.ledger());
    assert_eq!((m.from, m.to), (Some(w.ent_id(&w.storage)), w.ent_id(&w.storage)));
}

#[test]
fn stock_out_hands_goods_to_the_receiver_within_the_holding() {
    let mut w = with_receipt();
    let tj = w.storage.key.clone();
    ok(&w.chain.submit(&tj, cold_storage_rec(&w.storage.uscc.clone(), "TJ-CS-01", "津冷一号", "第三方")));
    let to = w.wholesaler.uscc.clone();
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &to, vec![line(BATCH, 31, "10")]), "record.productList[0].numberOfPieces", "has 30 pieces");
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &to, vec![line(BATCH, 1, "600.5")]), "record.productList[0].weight", "600 kg");
    let me = w.storage.uscc.clone();
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &me, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "another enterprise");
    let stranger = uscc_for("110105", "never-enrolled");
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &stranger, vec![line(BATCH, 1, "1")]), "record.receiverUscc", "not an enrolled enterprise");
    refuse(
        &mut w.chain,
        &tj,
        patch(stock_out_rec("O1", &to, vec![line(BATCH, 1, "1")]), json!({"outStockStorageNumber": "X"})),
        "record.outStockStorageNumber",
        "registered no cold storage",
    );
    // The importer cannot stock out what it already shipped.
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, stock_out_rec("O1", &to, vec![line(BATCH, 71, "10")]), "record.productList[0].numberOfPieces", "has 70 pieces");
    ok(&w.chain.submit(&tj, stock_out_rec("O1", &to, vec![line(BATCH, 25, "500")])));
    assert_eq!(w.held(&w.storage, QN, BATCH), (5, 100_000));
    assert_eq!(w.held(&w.wholesaler, QN, BATCH), (25, 500_000), "the receiver's from that moment");
    let m = last_movement(w.chain.state.ledger());
    assert_eq!((m.kind, m.from, m.to, m.storage), (MovementKind::StockOut, Some(w.ent_id(&w.storage)), w.ent_id(&w.wholesaler), Some(0)));
    refuse(&mut w.chain, &tj, stock_out_rec("O1", &to, vec![line(BATCH, 1, "1")]), "record.outstockCode", "stock-out O1 was already recorded");
    refuse(&mut w.chain, &tj, stock_out_rec("O2", &to, vec![line(BATCH, 6, "1")]), "record.productList[0].numberOfPieces", "has 5 pieces");
    ok(&w.chain.submit(&tj, patch(stock_out_rec("O2", &to, vec![line(BATCH, 5, "100")]), json!({"outstockCode": null, "outStockCode": "O2"}))));
    assert_eq!(w.held(&w.storage, QN, BATCH), (0, 0));
}

// ───────────────────────────── cold_storage ─────────────────────────────

#[test]
fn cold_storage_types() {
    let mut w = World::new();
    let tj = w.storage.key.clone();
    let me = w.storage.uscc.clone();
    refuse(&mut w.chain, &tj, cold_storage_rec(&me, "C0", "warm", "warm"), "record.storageType", "not a cold storage type");
    let missing = patch(cold_storage_rec(&me, "C0", "库", "own"), json!({"storageType": null}));
    refuse(&mut w.chain, &tj, missing, "record.storageType", "is required");
    for (i, (t, want)) in [
        ("自营自用", "own"),
        ("第三方", "third_party"),
        ("集中仓", "central"),
        ("own", "own"),
        ("third_party", "third_party"),
        ("central", "central"),
    ]
    .iter()
    .enumerate()
    {
        ok(&w.chain.submit(&tj, cold_storage_rec(&me, &format!("C{i}"), &format!("库{i}"), t)));
        assert_eq!(rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages)[i].storage_type, *want);
    }
    // Seed 004 table 11 spells it `Type`: a member apart from the record's own `type`.
    let table_spelling = patch(cold_storage_rec(&me, "C9", "库9", "own"), json!({"storageType": null, "Type": "集中仓"}));
    ok(&w.chain.submit(&tj, table_spelling));
    assert_eq!(rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages).last().unwrap().storage_type, "central");
    refuse(&mut w.chain, &tj, patch(cold_storage_rec(&me, "C9", "库9", "own"), json!({"Type": "own"})), "record.Type", "unknown field");
}

#[test]
fn a_cold_storage_is_registered_by_its_operator_or_the_operators_bureau() {
    let mut w = World::new();
    let op = w.storage.uscc.clone();
    let bj = w.wholesaler.key.clone();
    refuse(
        &mut w.chain,
        &bj,
        cold_storage_rec(&op, "C1", "津冷一号", "own"),
        "record.unifSociCredCode",
        "registered by its operator, or by the operator's province's bureau",
    );
    refuse(
        &mut w.chain,
        &admin_key("beijing"),
        cold_storage_rec(&op, "C1", "津冷一号", "own"),
        "record.unifSociCredCode",
        "registered by its operator",
    );
    refuse(
        &mut w.chain,
        &admin_key("national"),
        cold_storage_rec(&op, "C1", "津冷一号", "own"),
        "record.unifSociCredCode",
        "registered by its operator",
    );
    let stranger = uscc_for("120101", "never-enrolled");
    refuse(
        &mut w.chain,
        &admin_key("tianjin"),
        cold_storage_rec(&stranger, "C1", "津冷一号", "own"),
        "record.unifSociCredCode",
        "not an enrolled enterprise",
    );
    ok(&w.chain.submit(&admin_key("tianjin"), cold_storage_rec(&op, "C1", "津冷一号", "own")));
    let tj = w.storage.key.clone();
    ok(&w.chain.submit(&tj, cold_storage_rec(&op, "C2", "津冷二号", "own")));
    // Re-submitting the same number replaces the entry.
    ok(&w.chain.submit(&tj, cold_storage_rec(&op, "C1", "津冷一号", "third_party")));
    let cold_storages = rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages);
    assert_eq!(cold_storages.len(), 2);
    assert_eq!(cold_storages[0].storage_type, "third_party");
    assert!(cold_storages.iter().all(|s| s.operator == w.ent_id(&w.storage)));
}

#[test]
fn a_cold_storage_number_is_filed_once_per_province() {
    let mut w = World::new();
    let tj = w.storage.key.clone();
    ok(&w.chain.submit(&tj, cold_storage_rec(&w.storage.uscc.clone(), "C1", "津冷一号", "own")));
    let other = w.enrol("tianjin", "tj-storage-2", "19");
    refuse(&mut w.chain, &other.key, cold_storage_rec(&other.uscc, "C1", "另一个库", "own"), "record.code", "already filed in province 120000");
    // Another province may use the number.
    let bj = w.wholesaler.key.clone();
    ok(&w.chain.submit(&bj, cold_storage_rec(&w.wholesaler.uscc.clone(), "C1", "京冷一号", "own")));
}

#[test]
fn a_cold_storage_carries_its_latitude_and_longitude() {
    let mut w = with_lot();
    let tj = w.storage.key.clone();
    let me = w.storage.uscc.clone();
    let at = |lat: Value, lon: Value| patch(cold_storage_rec(&me, "TJ-CS-01", "津冷一号", "own"), json!({"latitude": lat, "longitude": lon}));
    refuse(&mut w.chain, &tj, at(json!(91), json!(117.2)), "record.latitude", "not a latitude: it lies from -90 to 90 degrees");
    refuse(&mut w.chain, &tj, at(json!(39.1), json!(-180.5)), "record.longitude", "not a longitude: it lies from -180 to 180 degrees");
    refuse(&mut w.chain, &tj, at(json!(39.0841581), json!(117.2)), "record.latitude", "at most 6 decimals");
    refuse(&mut w.chain, &tj, at(json!("北纬39度"), json!(117.2)), "record.latitude", "not a latitude in decimal degrees");
    refuse(&mut w.chain, &tj, at(json!(39.1), Value::Null), "record.longitude", "is required with record.latitude");
    refuse(&mut w.chain, &tj, at(Value::Null, json!(117.2)), "record.latitude", "is required with record.longitude");
    ok(&w.chain.submit(&tj, at(json!(39.084158), json!("117.200983"))));
    let s = &rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages)[0];
    assert_eq!((s.latitude, s.longitude), (Some(39.084158), Some(117.200983)));
    // A trace shows where the storage is on the step at it.
    let owner = w.importer.uscc.clone();
    let stock_in = json!({"type": "stock_in", "inStockCode": "IN-1", "inStockDate": "2026-11-22", "senderUscc": owner, "storageNumber": "TJ-CS-01", "productList": [line(BATCH, 20, "400")]});
    ok(&w.chain.submit(&tj, stock_in));
    let t = w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap();
    let step = t.steps.iter().find(|s| s.kind == MovementKind::StockIn).unwrap();
    assert_eq!(
        (step.cold_storage.as_deref(), step.cold_storage_latitude, step.cold_storage_longitude),
        (Some("津冷一号"), Some(39.084158), Some(117.200983))
    );
    // Re-registered without a location, it has none.
    ok(&w.chain.submit(&tj, cold_storage_rec(&me, "TJ-CS-01", "津冷一号", "own")));
    let s = &rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages)[0];
    assert_eq!((s.latitude, s.longitude), (None, None));
}

// ───────────────────────────── vehicle ─────────────────────────────

fn vehicle_rec(plate: &str, send_number: &str, sender: Option<&str>) -> Value {
    let mut v =
        json!({"type": "vehicle", "licenseplate": plate, "driverName": "李四", "driverContactPhone": "13812340588", "sendNumber": send_number});
    if let Some(s) = sender {
        v["senderUscc"] = json!(s);
    }
    v
}

#[test]
fn a_vehicle_is_recorded_by_the_shipments_sender_or_receiver() {
    let mut w = with_shipment();
    let he = w.importer.key.clone();
    let sender = w.importer.uscc.clone();
    refuse(&mut w.chain, &he, vehicle_rec("A12345", "S1", None), "record.licenseplate", "not a Chinese licence plate");
    refuse(&mut w.chain, &he, vehicle_rec("京A1234", "S1", None), "record.licenseplate", "not a Chinese licence plate");
    refuse(&mut w.chain, &he, vehicle_rec("冀A12345", "S9", None), "record.sendNumber", "recorded no shipment S9");
    let bj = w.wholesaler.key.clone();
    refuse(&mut w.chain, &bj, vehicle_rec("冀A12345", "S1", Some(&sender)), "record.sendNumber", "only the shipment's sender or receiver");
    refuse(&mut w.chain, &bj, vehicle_rec("冀A12345", "S1", None), "record.sendNumber", "recorded no shipment S1");
    refuse(&mut w.chain, &admin_key("hebei"), vehicle_rec("冀A12345", "S1", Some(&sender)), "signer", "enrolled enterprise");
    ok(&w.chain.submit(&he, vehicle_rec("冀A12345", "S1", None)));
    refuse(&mut w.chain, &he, vehicle_rec("冀A12345", "S1", None), "record.licenseplate", "already recorded on this shipment");
    ok(&w.chain.submit(&w.storage.key.clone(), vehicle_rec("津AD12345", "S1", Some(&sender))));
    let t = w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap();
    let step = t.steps.iter().find(|s| s.kind == MovementKind::Shipment).unwrap();
    let plates: Vec<&str> = step.vehicles.iter().map(|v| v.plate.as_str()).collect();
    assert_eq!(plates, ["冀A12345", "津AD12345"]);
}

fn stock_out_vehicle_rec(plate: &str, driver: &str, code: &str, operator: Option<&str>) -> Value {
    let mut v = json!({"type": "vehicle", "licenseplate": plate, "driverName": driver, "outstockCode": code});
    if let Some(o) = operator {
        v["operatorUscc"] = json!(o);
    }
    v
}

#[test]
fn a_vehicle_names_one_shipment_or_one_stock_out() {
    let mut w = with_shipment();
    let he = w.importer.key.clone();
    let neither = json!({"type": "vehicle", "licenseplate": "冀A12345", "driverName": "李四"});
    refuse(&mut w.chain, &he, neither, "record.sendNumber", "is required, or outstockCode instead");
    let both = patch(vehicle_rec("冀A12345", "S1", None), json!({"outstockCode": "O1"}));
    refuse(&mut w.chain, &he, both, "record.outstockCode", "one shipment (sendNumber) or one stock-out (outstockCode), not both");
    let crossed = patch(stock_out_vehicle_rec("冀A12345", "李四", "O1", None), json!({"senderUscc": w.importer.uscc.clone()}));
    refuse(&mut w.chain, &he, crossed, "record.senderUscc", "a stock-out's operator is operatorUscc");
    let crossed = patch(vehicle_rec("冀A12345", "S1", None), json!({"operatorUscc": w.importer.uscc.clone()}));
    refuse(&mut w.chain, &he, crossed, "record.operatorUscc", "a shipment's sender is senderUscc");
}

#[test]
fn a_vehicle_on_a_stock_out_is_stored_searched_and_traced() {
    let mut w = with_receipt();
    let tj = w.storage.key.clone();
    let operator = w.storage.uscc.clone();
    ok(&w.chain.submit(&tj, cold_storage_rec(&operator, "TJ-CS-01", "津冷一号", "第三方")));
    let to = w.wholesaler.uscc.clone();
    ok(&w.chain.submit(&tj, stock_out_rec("O1", &to, vec![line(BATCH, 25, "500")])));
    refuse(&mut w.chain, &tj, stock_out_vehicle_rec("津AD12345", "刘洋", "O9", None), "record.outstockCode", "recorded no stock-out O9");
    // The importer is no party to the stock-out; the receiver names the operator.
    let he = w.importer.key.clone();
    refuse(
        &mut w.chain,
        &he,
        stock_out_vehicle_rec("津AD12345", "刘洋", "O1", Some(&operator)),
        "record.outstockCode",
        "only the stock-out's operator or receiver",
    );
    let bj = w.wholesaler.key.clone();
    refuse(&mut w.chain, &bj, stock_out_vehicle_rec("京A12345", "王五", "O1", None), "record.outstockCode", "recorded no stock-out O1");
    ok(&w.chain.submit(&tj, stock_out_vehicle_rec("津AD12345", "刘洋", "O1", None)));
    refuse(&mut w.chain, &tj, stock_out_vehicle_rec("津AD12345", "刘洋", "O1", None), "record.licenseplate", "already recorded on this stock-out");
    ok(&w.chain.submit(&bj, stock_out_vehicle_rec("京A12345", "王五", "O1", Some(&operator))));

    // Stored on the stock-out, under (operator, outstock code).
    let l = w.chain.state.ledger();
    let stored = l.get(&ledger::STOCK_OUT_VEHICLES, &(w.ent_id(&w.storage), "O1".to_string())).expect("the stock-out's vehicles");
    assert_eq!((stored.receiver, stored.lots.clone()), (w.ent_id(&w.wholesaler), vec![w.lot(QN, BATCH)]));
    assert_eq!(
        stored.vehicles.iter().map(|v| (v.plate.as_str(), v.driver_name.as_str())).collect::<Vec<_>>(),
        [("津AD12345", "刘洋"), ("京A12345", "王五")]
    );

    // Found by plate and by driver, as shipments' vehicles are.
    for q in [Query::Plate("京A12345".into()), Query::Driver("刘洋".into())] {
        let (hits, _) = search(l, &q, 10);
        assert_eq!(hits.len(), 1, "{q:?}");
        assert_eq!(hits[0].lot.certificate_batch, BATCH);
        assert!(hits[0].matched[0].starts_with("stock-out O1 carried by"), "{:?}", hits[0].matched);
    }

    // The trace shows them on the stock-out's step, not on the shipment's.
    let t = w.chain.state.trace(HE_SCHEME, CODE, Direction::Forward).unwrap();
    let out = t.steps.iter().find(|s| s.kind == MovementKind::StockOut).unwrap();
    assert_eq!(out.vehicles.iter().map(|v| v.plate.as_str()).collect::<Vec<_>>(), ["津AD12345", "京A12345"]);
    let shipped = t.steps.iter().find(|s| s.kind == MovementKind::Shipment).unwrap();
    assert!(shipped.vehicles.is_empty());
}

// ───────────────────────────── central_warehouse ─────────────────────────────

fn warehouse_rec(data_id: &str, owner: &str) -> Value {
    json!({
        "type": "central_warehouse",
        "dataid": data_id,
        "containerNumber": "MNBU3167382",
        "productionBatch": BATCH,
        "quarantineNumber": QN,
        "unifSociCredCode": owner,
        "nucleicResult": "阴性",
        "pieces": 100,
        "grossWeight": "2100",
        "placeorigin": "巴西",
        "certificateDate": "2026-11-03",
    })
}

#[test]
fn central_warehouse_data_ids_are_unique() {
    let mut w = World::new();
    let owner = w.importer.uscc.clone();
    let tj = w.storage.key.clone();
    refuse(&mut w.chain, &validator_key("tianjin"), warehouse_rec("D-1", &owner), "signer", "warehouse's operator or a bureau");
    refuse(&mut w.chain, &tj, patch(warehouse_rec("D-1", &owner), json!({"placeorigin": "Atlantis"})), "record.placeorigin", "dictionary `country`");
    refuse(
        &mut w.chain,
        &tj,
        patch(warehouse_rec("D-1", &owner), json!({"nucleicResult": "?"})),
        "record.nucleicResult",
        "not a nucleic-acid result",
    );
    refuse(&mut w.chain, &tj, patch(warehouse_rec("D-1", &owner), json!({"certificateDate": "2026-11-25"})), "record.certificateDate", "after today");
    refuse(
        &mut w.chain,
        &tj,
        patch(warehouse_rec("D-1", &owner), json!({"quarantineNumber": "1234"})),
        "record.quarantineNumber",
        "15, 18 or 21 digits",
    );
    ok(&w.chain.submit(&tj, warehouse_rec("D-1", &owner)));
    refuse(&mut w.chain, &tj, warehouse_rec("D-1", &owner), "record.dataid", "data id D-1 was already pushed");
    refuse(
        &mut w.chain,
        &admin_key("tianjin"),
        patch(warehouse_rec("D-1", &owner), json!({"dataid": null, "dataId": "D-1"})),
        "record.dataId",
        "already pushed",
    );
    ok(&w.chain.submit(&admin_key("tianjin"), warehouse_rec("D-2", &owner)));
    let l = w.chain.state.ledger();
    assert_eq!(len(l, &ledger::WAREHOUSE_RECORDS), 2);
    let d1 = l.get(&ledger::WAREHOUSE_RECORDS, &"D-1".to_string()).expect("D-1");
    assert_eq!(d1.fields["placeorigin"], "BR");
    assert_eq!(d1.gross_grams, Some(2_100_000));
}

// ───────────────────────────── certificate_report ─────────────────────────────

#[test]
fn a_certificate_is_reported_once_a_day_per_province() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    ok(&w.chain.submit(&bj, cert_rec(QN, BATCH)));
    refuse(&mut w.chain, &bj, cert_rec(QN, "B-other"), "record.quarantineNumber", "already reported by province 110000 today (2026-11-24)");
    // An enterprise of the province reports for the province.
    let k = w.wholesaler.key.clone();
    refuse(&mut w.chain, &k, cert_rec(QN, BATCH), "record.quarantineNumber", "one report a day");
    // Another province, the same day.
    ok(&w.chain.submit(&admin_key("tianjin"), cert_rec(QN, BATCH)));
    let he = w.importer.key.clone();
    ok(&w.chain.submit(&he, cert_rec(QN, BATCH)));
    refuse(&mut w.chain, &admin_key("hebei"), cert_rec(QN, BATCH), "record.quarantineNumber", "province 130000");
    // Another certificate, the same day.
    ok(&w.chain.submit(&bj, cert_rec("531620211160071009002", BATCH)));
    // The next day.
    w.chain.advance_days(1);
    ok(&w.chain.submit(&bj, cert_rec(QN, BATCH)));
    let reports = rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports);
    assert_eq!(reports.len(), 5);
    let last = reports.last().unwrap();
    assert_eq!((last.province.as_str(), last.reported_on.to_string()), (BJ, "2026-11-25".to_string()));
    assert_eq!(reports[2].province, HE);
}

#[test]
fn certificate_report_values_come_from_the_dictionaries() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"portOfEntry": "Atlantis"})), "record.portOfEntry", "dictionary `entry_port`");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"country": "Atlantis"})), "record.country", "dictionary `country`");
    refuse(
        &mut w.chain,
        &bj,
        patch(cert_rec(QN, BATCH), json!({"productBigClass": "9"})),
        "record.productBigClass",
        "dictionary `product_big_class`",
    );
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"hsCode": "9999"})), "record.hsCode", "dictionary `hs`");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"quarantineNumber": "12345"})), "record.quarantineNumber", "15, 18 or 21 digits");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"dateOfEntry": "2026-11-25"})), "record.dateOfEntry", "after today");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"declaredWeight": 0})), "record.declaredWeight", "positive weight");
    refuse(&mut w.chain, &admin_key("national"), cert_rec(QN, BATCH), "signer", "provinces make them");
    refuse(&mut w.chain, &testkit::key("stranger"), cert_rec(QN, BATCH), "signer.public_key", "not the key");
    // By name: 天津新港, 巴西, 冷链畜肉, 冻牛肉.
    let by_name =
        patch(cert_rec(QN, BATCH), json!({"portOfEntry": "天津新港", "country": "巴西", "productBigClass": "冷链畜肉", "hsCode": "冻牛肉"}));
    ok(&w.chain.submit(&bj, by_name));
    let r = &rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports)[0];
    assert_eq!((r.port_of_entry.as_str(), r.country.as_str(), r.product_big_class.as_str(), r.hs_code.as_str()), ("0202", "BR", "2", "0202"));
    assert_eq!(r.declared_grams, 13_500_000);
    assert!(w.chain.state.ledger().contains(&ledger::REPORTED_BATCHES, &(QN.to_string(), BATCH.to_string())));
    assert_eq!(r.source_type, None, "not given");
}

#[test]
fn a_certificate_reports_source_type_is_a_source_type_code() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"sourceType": "99x"})), "record.sourceType", "dictionary `source_type`");
    ok(&w.chain.submit(&bj, patch(cert_rec(QN, BATCH), json!({"sourceType": "一般贸易"}))));
    let r = &rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports)[0];
    assert_eq!(r.source_type.as_deref(), Some("1"));
    // The province's list of what it reported shows it.
    let day = r.reported_on;
    let list = coldchain_chaincode::state::statistics::reports(w.chain.state.ledger(), "110000", day, day, 10);
    assert_eq!(list.reports[0].source_type.as_deref(), Some("1"));
    let columns = coldchain_chaincode::state::statistics::SentReport::COLUMNS;
    let at = columns.iter().position(|c| *c == "source_type").unwrap();
    assert_eq!(list.reports[0].cells()[at], "1");
}

// ───────────────────────────── flow_report ─────────────────────────────

#[test]
fn a_flow_must_match_a_known_certificate_and_production_batch() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    refuse(
        &mut w.chain,
        &bj,
        flow_rec(QN, BATCH, "in", "1000"),
        "record.productionBatch",
        "must match a reported certificate number and production batch",
    );
    ok(&w.chain.submit(&admin_key("tianjin"), cert_rec(QN, BATCH)));
    // The certificate is known, but not with this batch.
    refuse(&mut w.chain, &bj, flow_rec(QN, "B-other", "in", "1000"), "record.productionBatch", "no certificate");
    ok(&w.chain.submit(&bj, flow_rec(QN, BATCH, "in", "1000")));
    // A lot on chain is known too, without a certificate report.
    let qn2 = "531620211160071009002";
    refuse(&mut w.chain, &bj, flow_rec(qn2, "B2", "in", "1000"), "record.productionBatch", "no certificate");
    ok(&w.chain.submit(&w.importer.key.clone(), batch_rec(CODE, qn2, "B2", 10, "100")));
    ok(&w.chain.submit(&bj, flow_rec(qn2, "B2", "流入", "1000")));
    let f = rows(w.chain.state.ledger(), &ledger::FLOW_REPORTS, Counter::FlowReports).pop().unwrap();
    assert_eq!((f.province.as_str(), f.direction, f.counterpart.as_str()), (BJ, FlowDirection::In, TJ));
}

#[test]
fn a_duplicate_flow_is_refused_and_a_different_weight_is_not() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    ok(&w.chain.submit(&bj, cert_rec(QN, BATCH)));
    ok(&w.chain.submit(&bj, flow_rec(QN, BATCH, "in", "1000")));
    refuse(&mut w.chain, &bj, flow_rec(QN, BATCH, "in", "1000.000"), "record.actualWeight", "duplicate is refused");
    // An enterprise of the same province reports the same flow: still a duplicate.
    let k = w.wholesaler.key.clone();
    refuse(&mut w.chain, &k, flow_rec(QN, BATCH, "流入", "1000"), "record.actualWeight", "already reported this flow");
    // Even on another day.
    w.chain.advance_days(1);
    refuse(&mut w.chain, &bj, flow_rec(QN, BATCH, "in", "1000"), "record.actualWeight", "duplicate");
    ok(&w.chain.submit(&bj, flow_rec(QN, BATCH, "in", "1000.5")));
    ok(&w.chain.submit(&bj, flow_rec(QN, BATCH, "out", "1000")));
    ok(&w.chain.submit(&admin_key("hebei"), flow_rec(QN, BATCH, "in", "1000")));
    assert_eq!(rows(w.chain.state.ledger(), &ledger::FLOW_REPORTS, Counter::FlowReports).len(), 4);
}

#[test]
fn flow_report_counterpart_and_direction() {
    let mut w = World::new();
    let tj = admin_key("tianjin");
    ok(&w.chain.submit(&tj, cert_rec(QN, BATCH)));
    refuse(&mut w.chain, &tj, flow_rec(QN, BATCH, "in", "1"), "record.counterpart", "another province or a port");
    refuse(
        &mut w.chain,
        &tj,
        patch(flow_rec(QN, BATCH, "in", "1"), json!({"counterpart": "天津市"})),
        "record.counterpart",
        "another province or a port",
    );
    refuse(&mut w.chain, &tj, patch(flow_rec(QN, BATCH, "in", "1"), json!({"counterpart": "990000"})), "record.counterpart", "dictionary `province`");
    refuse(&mut w.chain, &tj, flow_rec(QN, BATCH, "sideways", "1"), "record.direction", "not a direction");
    refuse(
        &mut w.chain,
        &tj,
        patch(flow_rec(QN, BATCH, "in", "1"), json!({"counterpartType": "planet"})),
        "record.counterpartType",
        "not a counterpart type",
    );
    ok(&w.chain.submit(&tj, patch(flow_rec(QN, BATCH, "in", "1"), json!({"counterpartType": "口岸", "counterpart": "天津新港"}))));
    ok(&w.chain.submit(&tj, patch(flow_rec(QN, BATCH, "out", "1"), json!({"counterpart": "北京市"}))));
    let flows = rows(w.chain.state.ledger(), &ledger::FLOW_REPORTS, Counter::FlowReports);
    assert_eq!((flows[0].counterpart_kind.as_str(), flows[0].counterpart.as_str()), ("port", "0202"));
    assert_eq!(flows[1].counterpart, BJ);
}

// ───────────────────────────── code_scheme ─────────────────────────────

#[test]
fn only_a_provinces_bureau_registers_its_schemes() {
    let mut w = World::new();
    refuse(
        &mut w.chain,
        &admin_key("tianjin"),
        scheme_rec("bj-2", BJ, "BJ2[0-9]+"),
        "record.province",
        "bureau 120000 registers schemes of its own province only, not 110000",
    );
    refuse(
        &mut w.chain,
        &admin_key("tianjin"),
        scheme_rec(BJ_SCHEME, TJ, "TJ[0-9]+"),
        "record.schemeId",
        "scheme bj-trace belongs to province 110000",
    );
    let k = w.wholesaler.key.clone();
    refuse(&mut w.chain, &k, scheme_rec("bj-2", BJ, "BJ2[0-9]+"), "signer", "bureau's admin key");
    refuse(&mut w.chain, &validator_key("beijing"), scheme_rec("bj-2", BJ, "BJ2[0-9]+"), "signer", "bureau's admin key");
    ok(&w.chain.submit(&admin_key("beijing"), scheme_rec("bj-2", BJ, "BJ2[0-9]+")));
    assert_eq!(w.chain.state.ledger().schemes()["bj-2"].province, BJ);
}

#[test]
fn a_scheme_needs_a_valid_pattern_and_a_resolver_template() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    refuse(&mut w.chain, &bj, scheme_rec("bj-2", BJ, "BJ[0-9"), "record.pattern", "not a valid regular expression");
    refuse(
        &mut w.chain,
        &bj,
        patch(scheme_rec("bj-2", BJ, "BJ2"), json!({"resolverUrl": "https://trace.example.gov.cn/c/"})),
        "record.resolverUrl",
        "containing {code}",
    );
    refuse(
        &mut w.chain,
        &bj,
        patch(scheme_rec("bj-2", BJ, "BJ2"), json!({"resolverUrl": "ftp://trace.example.gov.cn/{code}"})),
        "record.resolverUrl",
        "http(s) URL template",
    );
    refuse(&mut w.chain, &bj, patch(scheme_rec("bj-2", BJ, "BJ2"), json!({"ruleDocSha256": "not-hex"})), "record.ruleDocSha256", "64 hexadecimal");
    refuse(&mut w.chain, &bj, scheme_rec("bj 2", BJ, "BJ2"), "record.schemeId", "letters, digits");
}

#[test]
fn a_scheme_pattern_matches_whole_codes() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    // HE[0-9]{8} must not match a code with a prefix or a suffix.
    refuse(&mut w.chain, &k, batch_rec("XHE00000001", QN, BATCH, 1, "1"), "record.traceCode", "matches no code scheme");
    refuse(&mut w.chain, &k, batch_rec("HE000000012", QN, BATCH, 1, "1"), "record.traceCode", "matches no code scheme");
    ok(&w.chain.submit(&k, batch_rec("HE00000001", QN, BATCH, 1, "1")));
}

/// Issue 20: a scheme whose codes are GS1 element strings checks each code
/// by the GS1 rules as well as by its pattern, naming the AI and the rule.
#[test]
fn a_gs1_schemes_codes_are_checked_by_the_gs1_rules() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    let gs1_scheme = patch(scheme_rec("bj-gs1", BJ, r"01\d{14}10[0-9A-Z]{1,20}"), json!({"codeSyntax": "gs1"}));
    refuse(&mut w.chain, &bj, patch(gs1_scheme.clone(), json!({"codeSyntax": "gs2"})), "record.codeSyntax", "is \"gs1\"");
    ok(&w.chain.submit(&bj, gs1_scheme));
    assert!(w.chain.state.ledger().schemes()["bj-gs1"].gs1);
    let k = w.wholesaler.key.clone();
    let batch = |code: &str| patch(batch_rec(code, QN, BATCH, 1, "1"), json!({"traceCodeScheme": "bj-gs1"}));
    // The pattern alone lets a wrong check digit through; the GS1 rules do not.
    refuse(&mut w.chain, &k, batch("010950600013435310LOT7"), "record.traceCode", "AI (01): check digit is 3 but the mod-10 rule gives 2");
    refuse(&mut w.chain, &k, batch("0109506000134352101234567890ABCDEFGHIJK"), "record.traceCode", "does not match");
    ok(&w.chain.submit(&k, batch("010950600013435210LOT7")));
    // Unnamed, the code finds its scheme by the pattern and is then checked.
    refuse(&mut w.chain, &k, batch_rec("010950600013435310LOT8", QN, BATCH, 1, "1"), "record.traceCode", "AI (01): check digit is 3");
    // A link into the scheme is checked the same way.
    refuse(&mut w.chain, &k, link_rec("bj-gs1", "010950600013435210LOT7", "bj-gs1", "0195060001343531"), "record.to.code", "does not match");
    refuse(&mut w.chain, &k, link_rec("bj-gs1", "010950600013435210LOT7", "bj-gs1", "0109506000134353109"), "record.to.code", "AI (01)");
    // A scheme without codeSyntax keeps its pattern alone.
    ok(&w.chain.submit(&bj, scheme_rec("bj-plain", BJ, r"02\d{14}10[0-9A-Z]{1,20}")));
    assert!(!w.chain.state.ledger().schemes()["bj-plain"].gs1);
}

#[test]
fn a_scheme_pattern_means_ascii_by_backslash_d_w_s() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    // A GS1 element string as a bureau writes it: with Unicode classes this
    // compiled past the size limit ("Compiled regex exceeds size limit").
    ok(&w.chain.submit(&bj, scheme_rec("bj-gs1", BJ, r"01\d{14}10\w{1,20}")));
    let k = w.wholesaler.key.clone();
    let gs1 = |code: &str| patch(batch_rec(code, QN, BATCH, 1, "1"), json!({"traceCodeScheme": "bj-gs1"}));
    // Fullwidth digits are Unicode \d but not ASCII: refused.
    refuse(&mut w.chain, &k, gs1("01１７８９６４４８００６４６５10LOT7"), "record.traceCode", "does not match");
    // A non-ASCII letter in the lot part is Unicode \w but not ASCII: refused.
    refuse(&mut w.chain, &k, gs1("011789644800646510批LOT"), "record.traceCode", "does not match");
    ok(&w.chain.submit(&k, gs1("011789644800646510LOT_7")));
    // Negated and bracketed classes are ASCII too: [\d-] and \S.
    ok(&w.chain.submit(&bj, scheme_rec("bj-dash", BJ, r"BJD[\d-]{4}\S")));
    // A pattern that is too large names the repetition that makes it so.
    refuse(
        &mut w.chain,
        &bj,
        scheme_rec("bj-big", BJ, r"BJ(?:[a-z]{1,100}\d){1,500}"),
        "record.pattern",
        r"the repetition `(?:[a-z]{1,100}\d){1,500}` is the largest",
    );
    // A syntax error says where.
    refuse(&mut w.chain, &bj, scheme_rec("bj-bad", BJ, "BJ(?:[0-9]"), "record.pattern", "unclosed group at characters 2–3 (`(`)");
}

#[test]
fn the_owner_updates_its_scheme() {
    let mut w = World::new();
    let before = w.chain.state.ledger().schemes()[BJ_SCHEME].updated_at;
    let update = patch(scheme_rec(BJ_SCHEME, BJ, "BJ[0-9]{8}"), json!({"issuedCount": 1200, "name": "北京追溯码"}));
    let r = w.chain.submit(&admin_key("beijing"), update);
    ok(&r);
    let s = &w.chain.state.ledger().schemes()[BJ_SCHEME];
    assert_eq!((s.issued_count, s.name.as_str(), s.tx), (1200, "北京追溯码", r.tx_id));
    assert!(s.updated_at > before);
    assert_eq!(w.chain.state.ledger().schemes().len(), 3);
    // The updated scheme still resolves codes.
    ok(&w.chain.submit(&w.wholesaler.key.clone(), batch_rec("BJ00000001", QN, BATCH, 1, "1")));
}

// ───────────────────────────── code_link ─────────────────────────────

#[test]
fn a_code_link_goes_to_a_scheme_of_the_signers_province() {
    let mut w = with_receipt();
    let tj = w.storage.key.clone();
    refuse(&mut w.chain, &tj, link_rec(HE_SCHEME, CODE, BJ_SCHEME, "BJ00000001"), "record.to.scheme", "scheme bj-trace is province 110000's");
    refuse(&mut w.chain, &tj, link_rec(HE_SCHEME, CODE, "nope", "TJ00000001"), "record.to.scheme", "no code scheme \"nope\"");
    refuse(&mut w.chain, &tj, link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ1"), "record.to.code", "does not match scheme tj-trace's pattern");
    refuse(&mut w.chain, &tj, link_rec("nope", CODE, TJ_SCHEME, "TJ00000001"), "record.from.scheme", "no code scheme");
    refuse(&mut w.chain, &admin_key("tianjin"), link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ00000001"), "signer", "enrolled enterprise");
    let r = w.chain.submit(&tj, link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ00000001"));
    ok(&r);
    let l = w.chain.state.ledger();
    let e = l.code(TJ_SCHEME, "TJ00000001").expect("linked");
    assert_eq!(e.lot, w.lot(QN, BATCH));
    assert_eq!(e.issuer, Some(w.ent_id(&w.storage)));
    assert_eq!(e.origin, CodeOrigin::Link { from_scheme: HE_SCHEME.into(), from_code: CODE.into() });
    assert_eq!((e.tx, e.grams), (r.tx_id, None));
    refuse(&mut w.chain, &tj, link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ00000001"), "record.to.code", "is already registered");
    // One code per piece (一件一码): the link's weight is kept with the code
    // and shown with the lot's codes.
    ok(&w.chain.submit(&tj, patch(link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ00000002"), json!({"weight": "20.5"}))));
    assert_eq!(w.chain.state.ledger().code(TJ_SCHEME, "TJ00000002").unwrap().grams, Some(20_500));
    let resolved = w.chain.state.resolve_code(TJ_SCHEME, "TJ00000002").unwrap();
    let weights: Vec<(String, Option<String>)> = resolved.codes.into_iter().map(|c| (c.code, c.weight_kg)).collect();
    assert!(weights.contains(&("TJ00000002".into(), Some("20.5".into()))), "{weights:?}");
    assert!(weights.contains(&("TJ00000001".into(), None)), "{weights:?}");
}

#[test]
fn an_unknown_from_code_is_linked_by_the_lots_matching_key() {
    let mut w = with_receipt();
    let tj = w.storage.key.clone();
    refuse(&mut w.chain, &tj, link_rec(HE_SCHEME, "HE99999999", TJ_SCHEME, "TJ00000001"), "record.from.code", "give quarantineNumber and batch");
    let only_number = patch(link_rec(HE_SCHEME, "HE99999999", TJ_SCHEME, "TJ00000001"), json!({"quarantineNumber": QN}));
    refuse(&mut w.chain, &tj, only_number, "record.from.code", "give quarantineNumber and batch");
    let with_key =
        |qn: &str, batch: &str| patch(link_rec(HE_SCHEME, "HE99999999", TJ_SCHEME, "TJ00000001"), json!({"quarantineNumber": qn, "batch": batch}));
    refuse(&mut w.chain, &tj, with_key(QN, "B-other"), "record.quarantineNumber", "no lot with certificate");
    refuse(
        &mut w.chain,
        &tj,
        patch(link_rec(HE_SCHEME, "HEX", TJ_SCHEME, "TJ00000001"), json!({"quarantineNumber": QN, "batch": BATCH})),
        "record.from.code",
        "does not match scheme he-trace's pattern",
    );
    ok(&w.chain.submit(&tj, with_key(QN, BATCH)));
    let l = w.chain.state.ledger();
    let lot = w.lot(QN, BATCH);
    let from = l.code(HE_SCHEME, "HE99999999").expect("registered by the matching key");
    assert_eq!((from.lot, from.issuer, &from.origin), (lot, None, &CodeOrigin::MatchingKey));
    assert_eq!(l.code(TJ_SCHEME, "TJ00000001").unwrap().lot, lot);
    // A known from with the wrong matching key is refused.
    let wrong = patch(link_rec(HE_SCHEME, CODE, TJ_SCHEME, "TJ00000002"), json!({"quarantineNumber": "531620211160071009002", "batch": BATCH}));
    refuse(&mut w.chain, &tj, wrong, "record.quarantineNumber", &format!("belongs to certificate {QN} batch {BATCH}"));
}

#[test]
fn only_an_enterprise_that_received_the_goods_links_their_code() {
    let mut w = with_receipt();
    let bj = w.wholesaler.key.clone();
    refuse(&mut w.chain, &bj, link_rec(HE_SCHEME, CODE, BJ_SCHEME, "BJ00000001"), "record.from.code", "never received these goods");
    let by_key = patch(link_rec(HE_SCHEME, "HE99999999", BJ_SCHEME, "BJ00000001"), json!({"quarantineNumber": QN, "batch": BATCH}));
    refuse(&mut w.chain, &bj, by_key, "record.from.code", "never received");
    // Once the goods are stocked out to it, it may.
    let to = w.wholesaler.uscc.clone();
    ok(&w.chain.submit(&w.storage.key.clone(), stock_out_rec("O1", &to, vec![line(BATCH, 10, "200")])));
    ok(&w.chain.submit(&bj, link_rec(HE_SCHEME, CODE, BJ_SCHEME, "BJ00000001")));
}

// ───────────────────────────── alert, alert_disposal, notice ─────────────────────────────

fn raise(w: &mut World) -> Hash {
    let r = w.chain.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, CODE));
    ok(&r);
    r.tx_id
}

#[test]
fn only_bureaus_raise_alerts_from_known_codes() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, alert_rec(HE_SCHEME, CODE), "signer", "bureau's admin key");
    refuse(&mut w.chain, &validator_key("beijing"), alert_rec(HE_SCHEME, CODE), "signer", "bureau's admin key");
    refuse(&mut w.chain, &admin_key("beijing"), alert_rec(HE_SCHEME, "HE99999999"), "record.code", "not known on chain");
    refuse(&mut w.chain, &admin_key("beijing"), alert_rec("nope", CODE), "record.scheme", "no code scheme \"nope\"");
    refuse(
        &mut w.chain,
        &admin_key("beijing"),
        patch(alert_rec(HE_SCHEME, CODE), json!({"testedAt": "2026-11-25"})),
        "record.testedAt",
        "after today",
    );
    // Without a scheme, the code is looked up in every scheme.
    let r = w.chain.submit(&admin_key("national"), patch(alert_rec(HE_SCHEME, CODE), json!({"scheme": null})));
    ok(&r);
    let a = w.chain.state.ledger().get(&ledger::ALERTS, &r.tx_id).expect("the alert");
    assert_eq!((a.province.as_str(), a.scheme.as_str(), a.state, a.lot), ("000000", HE_SCHEME, AlertState::Open, w.lot(QN, BATCH)));
    assert_eq!(a.holder, Some(w.ent_id(&w.importer)));
}

#[test]
fn alert_states_only_move_forward_and_only_the_raiser_closes() {
    let mut w = with_lot();
    let id = raise(&mut w);
    let (bj, tj) = (admin_key("beijing"), admin_key("tianjin"));
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, disposal_rec(&id, "sealed"), "signer", "bureau's admin key");
    refuse(&mut w.chain, &bj, disposal_rec(&Hash::digest(b"no such alert"), "sealed"), "record.alertId", "no alert");
    refuse(&mut w.chain, &bj, disposal_rec(&id, "lost"), "record.state", "not a disposal state");
    refuse(&mut w.chain, &bj, disposal_rec(&id, "open"), "record.state", "not a disposal state");
    ok(&w.chain.submit(&bj, disposal_rec(&id, "sealed")));
    // The same state again adds to the quantities; an earlier one is refused.
    ok(&w.chain.submit(&bj, disposal_rec(&id, "sealed")));
    ok(&w.chain.submit(&bj, disposal_rec(&id, "recalled")));
    refuse(&mut w.chain, &bj, disposal_rec(&id, "sealed"), "record.state", "already reached \"recalled\"");
    // Each bureau records its own province's disposal.
    ok(&w.chain.submit(&tj, disposal_rec(&id, "sealed")));
    ok(&w.chain.submit(&tj, disposal_rec(&id, "destroyed")));
    refuse(&mut w.chain, &tj, disposal_rec(&id, "closed"), "record.state", "only the raising bureau (110000) closes the alert");
    assert_eq!(w.chain.state.ledger().get(&ledger::ALERTS, &id).expect("the alert").state, AlertState::Destroyed);
    // Hebei, where the goods are, has recorded nothing yet.
    refuse(&mut w.chain, &bj, disposal_rec(&id, "closed"), "record.state", "province(s) 130000 received goods of the lot");
    ok(&w.chain.submit(&admin_key("hebei"), disposal_rec(&id, "sealed")));
    ok(&w.chain.submit(&bj, disposal_rec(&id, "closed")));
    refuse(&mut w.chain, &tj, disposal_rec(&id, "destroyed"), "record.state", "the alert is closed");
    refuse(&mut w.chain, &admin_key("hebei"), disposal_rec(&id, "destroyed"), "record.state", "the alert is closed");
    let a = w.chain.state.ledger().get(&ledger::ALERTS, &id).expect("the alert");
    assert_eq!(a.state, AlertState::Closed);
    let steps: Vec<(&str, AlertState)> = a.disposals.iter().map(|d| (d.province.as_str(), d.state)).collect();
    assert_eq!(
        steps,
        [
            (BJ, AlertState::Sealed),
            (BJ, AlertState::Sealed),
            (BJ, AlertState::Recalled),
            (TJ, AlertState::Sealed),
            (TJ, AlertState::Destroyed),
            (HE, AlertState::Sealed),
            (BJ, AlertState::Closed)
        ]
    );
}

#[test]
fn only_bureaus_publish_notices() {
    let mut w = with_lot();
    let notice = json!({"type": "notice", "title": "关于某批次冻牛肉的风险提示", "content": "请相关企业立即封存。"});
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, notice.clone(), "signer", "bureau's admin key");
    refuse(&mut w.chain, &testkit::key("stranger"), notice.clone(), "signer.public_key", "not the key");
    refuse(&mut w.chain, &admin_key("beijing"), patch(notice.clone(), json!({"alertId": Hash::digest(b"x").to_hex()})), "record.alertId", "no alert");
    refuse(&mut w.chain, &admin_key("beijing"), patch(notice.clone(), json!({"alertId": "xyz"})), "record.alertId", "64 hexadecimal");
    refuse(&mut w.chain, &admin_key("beijing"), patch(notice.clone(), json!({"title": ""})), "record.title", "must not be empty");
    ok(&w.chain.submit(&admin_key("hebei"), notice.clone()));
    let id = raise(&mut w);
    ok(&w.chain.submit(&admin_key("beijing"), patch(notice, json!({"alertId": id.to_hex()}))));
    let n = rows(w.chain.state.ledger(), &ledger::NOTICES, Counter::Notices);
    assert_eq!(n.len(), 2);
    assert_eq!((n[0].province.as_str(), n[0].alert), (HE, None));
    assert_eq!((n[1].province.as_str(), n[1].alert), (BJ, Some(id)));
}

// ───────────────────────────── dictionary_amendment ─────────────────────────────

#[test]
fn a_dictionary_amendment_takes_effect_at_a_quorum_of_bureaus() {
    let mut w = World::new();
    assert_eq!(w.chain.state.ledger().quorum_of_bureaus(), 3);
    let amend = json!({"type": "dictionary_amendment", "dictionary": "entry_port", "add": {"0499": "雄安港"}});
    let with_port = |p: &str| patch(cert_rec(QN, BATCH), json!({"portOfEntry": p}));
    let hebei = admin_key("hebei");
    refuse(&mut w.chain, &hebei, with_port("0499"), "record.portOfEntry", "dictionary `entry_port`");
    let k = w.importer.key.clone();
    refuse(&mut w.chain, &k, amend.clone(), "signer", "bureau's admin key");
    ok(&w.chain.submit(&admin_key("beijing"), amend.clone()));
    refuse(&mut w.chain, &admin_key("beijing"), amend.clone(), "signer", "bureau 110000 already approved this amendment");
    refuse(&mut w.chain, &hebei, with_port("0499"), "record.portOfEntry", "dictionary `entry_port`");
    ok(&w.chain.submit(&admin_key("tianjin"), amend.clone()));
    refuse(&mut w.chain, &hebei, with_port("0499"), "record.portOfEntry", "dictionary `entry_port`");
    assert_eq!(w.chain.state.ledger().amendments().values().next().unwrap().approvals.len(), 2);
    // A different amendment does not count towards this one.
    ok(&w.chain.submit(&admin_key("national"), json!({"type": "dictionary_amendment", "dictionary": "entry_port", "add": {"0499": "雄安新港"}})));
    refuse(&mut w.chain, &hebei, with_port("0499"), "record.portOfEntry", "dictionary `entry_port`");
    ok(&w.chain.submit(&admin_key("national"), amend.clone()));
    assert_eq!(w.chain.state.ledger().amendments().len(), 1, "only the other amendment is pending");
    ok(&w.chain.submit(&hebei, with_port("0499")));
    ok(&w.chain.submit(&admin_key("beijing"), with_port("雄安港")));
    let reports = rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.port_of_entry == "0499"));
}

#[test]
fn a_dictionary_amendment_removes_codes_and_is_checked() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    refuse(
        &mut w.chain,
        &bj,
        json!({"type": "dictionary_amendment", "dictionary": "colours", "add": {"R": "red"}}),
        "record.dictionary",
        "not a dictionary",
    );
    refuse(&mut w.chain, &bj, json!({"type": "dictionary_amendment", "dictionary": "entry_port"}), "record.add", "adds or removes at least one code");
    refuse(
        &mut w.chain,
        &bj,
        json!({"type": "dictionary_amendment", "dictionary": "entry_port", "add": {"0498": "盐田"}}),
        "record.add.0498",
        "already code 5316's",
    );
    let remove = json!({"type": "dictionary_amendment", "dictionary": "entry_port", "remove": ["5316"]});
    for b in ["beijing", "tianjin", "hebei"] {
        ok(&w.chain.submit(&admin_key(b), remove.clone()));
    }
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"portOfEntry": "盐田"})), "record.portOfEntry", "dictionary `entry_port`");
    refuse(&mut w.chain, &bj, patch(cert_rec(QN, BATCH), json!({"portOfEntry": "5316"})), "record.portOfEntry", "dictionary `entry_port`");
}

// ───────────────────────────── report_client ─────────────────────────────

fn client_rec(id: &str, revoked: bool) -> Value {
    json!({"type": "report_client", "clientId": id, "credentialSha256": Hash::digest(format!("{id}:secret").as_bytes()).to_hex(), "revoked": revoked})
}

#[test]
fn a_node_reports_for_a_registered_client() {
    let mut w = World::new();
    let node = validator_key("beijing");
    let for_client = |id: &str| patch(cert_rec(QN, BATCH), json!({"clientId": id}));
    let ent = w.wholesaler.key.clone();
    refuse(&mut w.chain, &node, for_client("bj-client"), "record.clientId", "report client bj-client is not registered by any bureau");
    refuse(&mut w.chain, &ent, client_rec("bj-client", false), "signer", "bureau's admin key");
    refuse(&mut w.chain, &admin_key("beijing"), client_rec("bj:client", false), "record.clientId", "without ':'");
    ok(&w.chain.submit(&admin_key("beijing"), client_rec("bj-client", false)));
    let client = w.chain.state.ledger().get(&ledger::REPORT_CLIENTS, &"bj-client".to_string()).expect("the client");
    assert_eq!(client.credential_sha256, Hash::digest(b"bj-client:secret"));
    refuse(&mut w.chain, &node, cert_rec(QN, BATCH), "record.clientId", "on behalf of a registered report client");
    refuse(&mut w.chain, &ent, for_client("bj-client"), "record.clientId", "only a node reporting for a client");
    refuse(&mut w.chain, &admin_key("beijing"), for_client("bj-client"), "record.clientId", "only a node");
    refuse(&mut w.chain, &node, for_client("ghost"), "record.clientId", "not registered");
    ok(&w.chain.submit(&node, for_client("bj-client")));
    let r = rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports).pop().unwrap();
    assert_eq!((r.province.as_str(), r.client_id.as_deref()), (BJ, Some("bj-client")));
    // The report counts for the client's province: the bureau's own report the same day is a repeat.
    refuse(&mut w.chain, &admin_key("beijing"), cert_rec(QN, BATCH), "record.quarantineNumber", "one report a day");
    ok(&w.chain.submit(&node, patch(flow_rec(QN, BATCH, "in", "10"), json!({"clientId": "bj-client"}))));
    assert_eq!(rows(w.chain.state.ledger(), &ledger::FLOW_REPORTS, Counter::FlowReports)[0].client_id.as_deref(), Some("bj-client"));
    // Another province's bureau cannot revoke it; its own can.
    refuse(&mut w.chain, &admin_key("tianjin"), client_rec("bj-client", true), "record.clientId", "belongs to province 110000");
    ok(&w.chain.submit(&admin_key("beijing"), client_rec("bj-client", true)));
    w.chain.advance_days(1);
    refuse(&mut w.chain, &node, for_client("bj-client"), "record.clientId", "report client bj-client is revoked");
    refuse(&mut w.chain, &node, patch(flow_rec(QN, BATCH, "in", "11"), json!({"clientId": "bj-client"})), "record.clientId", "revoked");
}

// ───────────────────────────── app_credential ─────────────────────────────

fn app_rec(appid: &str, uscc: &str, revoked: bool) -> Value {
    json!({"type": "app_credential", "appid": appid, "unifSociCredCode": uscc, "revoked": revoked})
}

fn via(record: Value, appid: &str) -> Value {
    patch(record, json!({"via": {"path": "appid", "appid": appid}}))
}

#[test]
fn a_validator_submits_for_an_enterprise_by_the_app_id_its_bureau_issued() {
    let mut w = World::new();
    let tj_storage = w.storage.uscc.clone();
    let (tj_node, bj_node) = (validator_key("tianjin"), validator_key("beijing"));
    let record = || cold_storage_rec(&tj_storage, "TJ-CS-01", "津冷一号", "第三方");
    refuse(&mut w.chain, &tj_node, via(record(), "tj-storage-01"), "via.appid", "never issued");
    // Only the enterprise's own bureau issues its app ids.
    refuse(&mut w.chain, &w.storage.key.clone(), app_rec("tj-storage-01", &tj_storage, false), "signer", "bureau's admin key");
    refuse(&mut w.chain, &admin_key("beijing"), app_rec("tj-storage-01", &tj_storage, false), "record.unifSociCredCode", "its own bureau");
    refuse(&mut w.chain, &admin_key("tianjin"), app_rec("tj st", &tj_storage, false), "record.appid", "6–64 letters");
    refuse(&mut w.chain, &admin_key("tianjin"), app_rec("tj-storage-01", &tj_storage, true), "record.appid", "never issued");
    ok(&w.chain.submit(&admin_key("tianjin"), app_rec("tj-storage-01", &tj_storage, false)));
    refuse(&mut w.chain, &admin_key("tianjin"), app_rec("tj-storage-01", &tj_storage, false), "record.appid", "already issued");
    let c = w.chain.state.ledger().get(&ledger::APP_CREDENTIALS, &"tj-storage-01".to_string()).expect("issued");
    assert_eq!(
        (c.uscc.as_str(), c.province.as_str(), c.validator_key),
        (tj_storage.as_str(), TJ, validator_key("tianjin").verifying_key().to_bytes())
    );

    // Served by Tianjin's validator only; the record then counts as the enterprise's own.
    refuse(&mut w.chain, &bj_node, via(record(), "tj-storage-01"), "via.appid", "served by the node of province 120000");
    refuse(&mut w.chain, &admin_key("tianjin"), via(record(), "tj-storage-01"), "via", "only a validator's node");
    refuse(&mut w.chain, &validator_key("tianjin"), patch(record(), json!({"via": {"path": "key"}})), "record.via", "set by the node");
    ok(&w.chain.submit(&validator_key("tianjin"), via(record(), "tj-storage-01")));
    let cold_storages = rows(w.chain.state.ledger(), &ledger::COLD_STORAGES, Counter::ColdStorages);
    let storage = cold_storages.iter().find(|s| s.code.as_deref() == Some("TJ-CS-01")).expect("registered");
    assert_eq!(rows(w.chain.state.ledger(), &ledger::ENTERPRISES, Counter::Enterprises)[storage.operator as usize].uscc, tj_storage);

    // Revoked by its bureau: the node can no longer submit with it.
    ok(&w.chain.submit(&admin_key("tianjin"), app_rec("tj-storage-01", &tj_storage, true)));
    refuse(
        &mut w.chain,
        &validator_key("tianjin"),
        via(cold_storage_rec(&tj_storage, "TJ-CS-02", "津冷二号", "第三方"), "tj-storage-01"),
        "via.appid",
        "revoked",
    );
}

// ───────────────────────────── auditor, access_log ─────────────────────────────

#[test]
fn bureaus_register_auditors_and_nodes_log_cross_province_reads() {
    let mut w = with_lot();
    let auditor = testkit::key("auditor").verifying_key().to_bytes();
    let rec = |key: &[u8; 32], revoked: bool| json!({"type": "auditor", "name": "审计组", "publicKey": hex::encode(key), "revoked": revoked});
    refuse(&mut w.chain, &w.importer.key.clone(), rec(&auditor, false), "signer", "bureau's admin key");
    let ent_key = w.importer.key.verifying_key().to_bytes();
    refuse(&mut w.chain, &admin_key("beijing"), rec(&ent_key, false), "record.publicKey", "an auditor has its own");
    refuse(&mut w.chain, &admin_key("beijing"), rec(&auditor, true), "record.publicKey", "no auditor has this key");
    ok(&w.chain.submit(&admin_key("beijing"), rec(&auditor, false)));
    refuse(&mut w.chain, &admin_key("tianjin"), rec(&auditor, true), "record.publicKey", "registered by province 110000");
    ok(&w.chain.submit(&admin_key("beijing"), rec(&auditor, true)));
    assert!(w.chain.state.ledger().get(&ledger::AUDITORS, &auditor).expect("registered").revoked);

    let alert = w.chain.submit(&admin_key("beijing"), alert_rec(HE_SCHEME, CODE));
    ok(&alert);
    let log = |alert: &str| json!({"type": "access_log", "readerProvince": "120000", "alertId": alert, "provinces": "130000", "what": "trace"});
    refuse(&mut w.chain, &admin_key("tianjin"), log(&alert.tx_id.to_hex()), "signer", "signed by the validator");
    refuse(&mut w.chain, &validator_key("beijing"), log(&"0".repeat(64)), "record.alertId", "no alert");
    ok(&w.chain.submit(&validator_key("beijing"), log(&alert.tx_id.to_hex())));
    let entry = rows(w.chain.state.ledger(), &ledger::ACCESS_LOGS, Counter::AccessLogs).pop().unwrap();
    assert_eq!((entry.reader.as_str(), entry.served_by.as_str(), entry.provinces.clone()), ("120000", BJ, vec!["130000".to_string()]));
}

// ───────────────────────────── rejections store nothing ─────────────────────────────

#[test]
fn a_rejected_record_leaves_the_ledger_as_a_chain_that_never_saw_it() {
    let mut a = with_lot();
    let mut b = with_lot();
    let (ka, kb) = (a.importer.key.clone(), b.importer.key.clone());
    let to = a.storage.uscc.clone();
    // Chain b also sees a shipment that is rejected (too many pieces) …
    let bad = b.chain.submit(&kb, ship_rec("S1", &to, vec![line(BATCH, 999, "1")]));
    assert!(matches!(bad.outcome, Outcome::Rejected { .. }));
    // … then both apply the same valid shipment.
    ok(&a.chain.submit(&ka, ship_rec("S1", &to, vec![line(BATCH, 10, "1")])));
    ok(&b.chain.submit(&kb, ship_rec("S1", &to, vec![line(BATCH, 10, "1")])));
    let (la, lb) = (a.chain.state.ledger(), b.chain.state.ledger());
    assert_eq!(rows(la, &ledger::LOTS, Counter::Lots).len(), rows(lb, &ledger::LOTS, Counter::Lots).len());
    assert_eq!(la.scan_all(&ledger::HOLDINGS).collect::<Vec<_>>(), lb.scan_all(&ledger::HOLDINGS).collect::<Vec<_>>());
    assert_eq!(rows(la, &ledger::MOVEMENTS, Counter::Movements).len(), rows(lb, &ledger::MOVEMENTS, Counter::Movements).len());
    let shipments = |l: &Ledger| l.scan_all(&ledger::SHIPMENTS).map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(shipments(la), shipments(lb));
    assert_eq!(b.chain.state.rejected_count(), a.chain.state.rejected_count() + 1);
    assert_eq!(b.chain.state.applied_count(), a.chain.state.applied_count());
    assert_ne!(a.chain.state.root(), b.chain.state.root(), "the root commits to the rejection");
}

// ───────────────────────────── found while testing ─────────────────────────────

#[test]
fn dictionary_names_of_any_length_are_accepted_where_a_code_or_name_is() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    // 16 characters: 其他畜肉及其副产品/其他畜副产品 (4507).
    ok(&w.chain.submit(&k, patch(product_rec(GTIN), json!({"productCategory": "其他畜肉及其副产品/其他畜副产品"}))));
    assert_eq!(w.chain.state.ledger().scan_all(&ledger::PRODUCTS).next().unwrap().1.category, "4507");
    // 16 characters: 中华人民共和国民办学校办学许可证 (03).
    let uscc = uscc_for("130102", "school");
    let rec =
        patch(enterprise_rec(&uscc, &testkit::key("school"), "130102", "29"), json!({"licences": [{"type": "中华人民共和国民办学校办学许可证"}]}));
    ok(&w.chain.submit(&admin_key("hebei"), rec));
    assert_eq!(w.chain.state.ledger().enterprise(&uscc).unwrap().1.licences[0].licence_type, "03");
    // An HS name longer than 12 characters.
    let hs = testkit::dictionaries().get("hs").unwrap().name_of("020312").unwrap().to_string();
    assert!(hs.chars().count() > 12, "{hs}");
    ok(&w.chain.submit(&admin_key("hebei"), patch(cert_rec(QN, BATCH), json!({"hsCode": hs}))));
    assert_eq!(rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports)[0].hs_code, "020312");
}

#[test]
fn today_is_the_date_in_china_standard_time() {
    let mut w = World::new();
    let bj = admin_key("beijing");
    // 2026-11-24 23:30 CST (15:30 UTC).
    w.chain.time_ms += 13 * 3_600_000 + 1_800_000;
    ok(&w.chain.submit(&bj, cert_rec(QN, BATCH)));
    let k = w.importer.key.clone();
    let tomorrow = patch_in(batch_rec(CODE, QN, BATCH, 1, "1"), "quarantineInfo", json!({"dateOfEntry": "2026-11-25"}));
    refuse(&mut w.chain, &k, tomorrow.clone(), "record.quarantineInfo.dateOfEntry", "after today (2026-11-24");
    // An hour later it is 00:30 on the 25th in Beijing, still the 24th in UTC.
    w.chain.time_ms += 3_600_000;
    ok(&w.chain.submit(&bj, cert_rec(QN, BATCH)));
    ok(&w.chain.submit(&k, tomorrow));
    assert_eq!(rows(w.chain.state.ledger(), &ledger::CERTIFICATE_REPORTS, Counter::CertificateReports)[1].reported_on.to_string(), "2026-11-25");
}

#[test]
fn a_receipt_confirms_a_shipment_whose_sender_was_suspended_since() {
    let mut w = with_shipment();
    let suspend = patch(enterprise_rec(&w.importer.uscc, &w.importer.key, district_of("hebei"), "07"), json!({"suspended": true}));
    ok(&w.chain.submit(&admin_key("hebei"), suspend));
    // The goods were sent while the sender was active; their receiver still confirms them.
    let tj = w.storage.key.clone();
    let from = w.importer.uscc.clone();
    ok(&w.chain.submit(&tj, receipt_rec("R1", "S1", &from, vec![line(BATCH, 30, "600")])));
    assert_eq!(w.held(&w.storage, QN, BATCH), (30, 600_000));
    // Unknown senders are still refused.
    let stranger = uscc_for("130102", "never-enrolled");
    refuse(&mut w.chain, &tj, receipt_rec("R2", "S1", &stranger, vec![line(BATCH, 1, "1")]), "record.senderUscc", "not an enrolled enterprise");
}

#[test]
fn the_national_platform_neither_reports_nor_registers_report_clients() {
    let mut w = World::new();
    // The national platform receives reports; it does not make them, directly or through a client.
    refuse(&mut w.chain, &admin_key("national"), cert_rec(QN, BATCH), "signer", "provinces make them");
    refuse(&mut w.chain, &admin_key("national"), client_rec("national-client", false), "signer", "a province's bureau registers its report clients");
    refuse(
        &mut w.chain,
        &validator_key("national"),
        patch(cert_rec(QN, BATCH), json!({"clientId": "national-client"})),
        "record.clientId",
        "not registered",
    );
}

#[test]
fn a_parent_trace_code_is_registered_with_its_lot() {
    let mut w = World::new();
    let k = w.importer.key.clone();
    let with_parent =
        |code: &str, qn: &str, batch: &str, parent: &str| patch(batch_rec(code, qn, batch, 10, "100"), json!({"parentTraceCode": parent}));
    refuse(&mut w.chain, &k, with_parent(CODE, QN, BATCH, "ZZ1"), "record.parentTraceCode", "matches no code scheme of province 130000");
    ok(&w.chain.submit(&k, with_parent(CODE, QN, BATCH, "HE90000001")));
    let l = w.chain.state.ledger();
    let parent = l.code(HE_SCHEME, "HE90000001").expect("the parent code is registered");
    assert_eq!((parent.lot, &parent.origin), (w.lot(QN, BATCH), &CodeOrigin::ParentCode));
    // A parent code of another lot is refused.
    refuse(
        &mut w.chain,
        &k,
        with_parent("HE00000002", "531620211160071009002", "B2", "HE90000001"),
        "record.parentTraceCode",
        &format!("belongs to another lot (certificate {QN})"),
    );
    // Of the same lot, it is fine (a holder's second code).
    ok(&w.chain.submit(&k, with_parent("HE00000003", QN, BATCH, "HE90000001")));
    assert_eq!(w.chain.state.ledger().lot_codes(0).len(), 3);
}

#[test]
fn the_gateway_check_and_the_finalized_apply_agree() {
    let mut w = with_lot();
    let k = w.importer.key.clone();
    let bad = w.chain.sign(&k, ship_rec("S1", &w.storage.uscc.clone(), vec![line(BATCH, 101, "1")]));
    let good = w.chain.sign(&k, ship_rec("S2", &w.storage.uscc.clone(), vec![line(BATCH, 1, "1")]));
    let ctx = BlockContext { height: w.chain.height + 1, time_ms: w.chain.time_ms };
    let err = w.chain.state.check(ctx, &bad.id(), &bad).unwrap_err();
    assert!(w.chain.state.check(ctx, &good.id(), &good).is_ok());
    let receipts = w.chain.block(&[bad, good]);
    rejected(&receipts[0], &err.field, &err.rule);
    ok(&receipts[1]);
}

#[test]
fn enterprise_phone_numbers_and_required_fields() {
    let mut c = Chain::new();
    let admin = admin_key("beijing");
    let uscc = uscc_for("110105", "e");
    let base = enterprise_rec(&uscc, &testkit::key("e"), "110105", "07");
    refuse(&mut c, &admin, patch(base.clone(), json!({"contactPhone": "call me"})), "record.contactPhone", "not a phone number");
    refuse(&mut c, &admin, patch(base.clone(), json!({"entName": null})), "record.entName", "is required");
    refuse(&mut c, &admin, patch(base.clone(), json!({"officeAddress": null})), "record.officeAddress", "is required");
    refuse(&mut c, &admin, patch(base.clone(), json!({"suspended": "yes"})), "record.suspended", "true or false");
    ok(&c.submit(&admin, patch(base, json!({"entName": null, "Ent_name": "北京某企业"}))));
    assert_eq!(rows(c.state.ledger(), &ledger::ENTERPRISES, Counter::Enterprises)[0].name, "北京某企业");
}
