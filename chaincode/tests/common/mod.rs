//! Fixtures shared by the behavioural tests: enrolled enterprises with valid
//! USCCs, one code scheme per province, record builders, and assertions that
//! a rejection names its field and rule and stores nothing.

#![allow(dead_code)]

use coldchain_chaincode::identifiers::uscc_with_check;
use coldchain_chaincode::state::ledger::{self, Counter, Ledger, LotId};
use coldchain_chaincode::state::store::{Key, Table};
use coldchain_chaincode::testkit::{self, Chain};
use coldchain_chaincode::{BlockContext, Hash, Outcome, Receipt, State, Transaction};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

/// Seed 004 annex B's product code with its GS1 check digit corrected.
pub const GTIN: &str = "17896448006465";
/// A second valid product code (EAN-13).
pub const GTIN2: &str = "6901234567892";

pub const BJ: &str = "110000";
pub const TJ: &str = "120000";
pub const HE: &str = "130000";

/// The schemes every [`World`] registers, one per province.
pub const BJ_SCHEME: &str = "bj-trace";
pub const TJ_SCHEME: &str = "tj-trace";
pub const HE_SCHEME: &str = "he-trace";

/// An enrolled enterprise: its key, USCC and province code.
pub struct Ent {
    pub label: String,
    pub key: SigningKey,
    pub uscc: String,
    pub province: &'static str,
}

/// A district (GB/T 2260) of each bureau's province.
pub fn district_of(bureau: &str) -> &'static str {
    match bureau {
        "beijing" => "110105",
        "tianjin" => "120101",
        "hebei" => "130102",
        other => panic!("no district for bureau {other}"),
    }
}

pub fn province_of(bureau: &str) -> &'static str {
    match bureau {
        "beijing" => BJ,
        "tianjin" => TJ,
        "hebei" => HE,
        "national" => "000000",
        other => panic!("no province for bureau {other}"),
    }
}

/// A valid USCC for a label: `91` + the district + 9 digits from the label, + check character.
pub fn uscc_for(district: &str, label: &str) -> String {
    let h = Hash::digest(label.as_bytes());
    let n = u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]]) % 1_000_000_000;
    uscc_with_check(&format!("91{district}{n:09}"))
}

pub fn key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// An `enterprise` record for `uscc` with `key`, in `district`, of `ent_type`.
pub fn enterprise_rec(uscc: &str, key: &SigningKey, district: &str, ent_type: &str) -> Value {
    json!({
        "type": "enterprise",
        "entName": format!("企业 {uscc}"),
        "unifSociCredCode": uscc,
        "contact": "张三",
        "contactPhone": "13812340588",
        "officeAddress": "某路 1 号",
        "addrDistricts": district,
        "entTypeCode": ent_type,
        "publicKey": key_hex(key),
        "latitude": 39.9,
        "longitude": 116.4,
    })
}

/// Enrols an enterprise of `bureau`'s province, keyed by `testkit::key(label)`.
pub fn enrol(chain: &mut Chain, bureau: &str, label: &str, ent_type: &str) -> Ent {
    let key = testkit::key(label);
    let uscc = uscc_for(district_of(bureau), label);
    let r = chain.submit(&testkit::admin_key(bureau), enterprise_rec(&uscc, &key, district_of(bureau), ent_type));
    ok(&r);
    Ent { label: label.to_string(), key, uscc, province: province_of(bureau) }
}

pub fn scheme_rec(id: &str, province: &str, pattern: &str) -> Value {
    json!({
        "type": "code_scheme",
        "schemeId": id,
        "province": province,
        "name": format!("scheme {id}"),
        "pattern": pattern,
        "resolverUrl": format!("https://trace.{id}.gov.cn/c/{{code}}"),
        "ruleDocSha256": "ab".repeat(32),
    })
}

/// A `product_batch` record entering `pieces` / `weight_kg` of certificate `qn`, batch `batch`.
pub fn batch_rec(code: &str, qn: &str, batch: &str, pieces: u64, weight_kg: &str) -> Value {
    json!({
        "type": "product_batch",
        "productLibraryId": GTIN,
        "productName": "冻牛肉",
        "traceCode": code,
        "batch": batch,
        "numberOfPieces": pieces,
        "weight": weight_kg,
        "productionDate": "2026-09-01",
        "quarantineInfo": {
            "batch": batch,
            "consignee": "河北进口贸易有限公司",
            "consignor": "FRIGORIFICO SA",
            "dateOfEntry": "2026-11-01",
            "portOfEntry": "天津新港",
            "quarantineNumber": qn,
        },
        "disinfectInfo": {"disinfectDate": "2026-11-01", "placeOfDisinfection": "CustomsPort", "disinfectNumber": "XD20261101", "disinfectState": 1},
        "nucleicInfo": {"naResult": "阴性", "naDate": "2026-11-01", "naUnit": "天津海关技术中心"},
    })
}

/// A product line naming its lot by product and batch.
pub fn line(batch: &str, pieces: u64, weight_kg: &str) -> Value {
    json!({"productLibraryId": GTIN, "batch": batch, "numberOfPieces": pieces, "weight": weight_kg})
}

/// A product line naming its lot by a trace code.
pub fn code_line(code: &str, batch: &str, pieces: u64, weight_kg: &str) -> Value {
    json!({"productLibraryId": GTIN, "batch": batch, "numberOfPieces": pieces, "weight": weight_kg, "traceCode": code})
}

pub fn ship_rec(number: &str, receiver: &str, lines: Vec<Value>) -> Value {
    json!({"type": "shipment", "sendNumber": number, "sendTime": "2026-11-20", "receiverUscc": receiver, "productList": lines})
}

pub fn receipt_rec(number: &str, send_number: &str, sender: &str, lines: Vec<Value>) -> Value {
    json!({
        "type": "receipt",
        "receiverNumber": number,
        "sendNumber": send_number,
        "senderUscc": sender,
        "receiveTime": "2026-11-21",
        "productList": lines,
    })
}

pub fn stock_out_rec(code: &str, receiver: &str, lines: Vec<Value>) -> Value {
    json!({"type": "stock_out", "outstockCode": code, "outStockDate": "2026-11-22", "receiverUscc": receiver, "productList": lines})
}

pub fn cold_storage_rec(operator: &str, code: &str, name: &str, storage_type: &str) -> Value {
    json!({
        "type": "cold_storage",
        "unifSociCredCode": operator,
        "code": code,
        "name": name,
        "address": "冷库路 8 号",
        "addrDistricts": "120101",
        "storageType": storage_type,
    })
}

pub fn link_rec(from_scheme: &str, from_code: &str, to_scheme: &str, to_code: &str) -> Value {
    json!({"type": "code_link", "from": {"scheme": from_scheme, "code": from_code}, "to": {"scheme": to_scheme, "code": to_code}})
}

pub fn cert_rec(qn: &str, batch: &str) -> Value {
    json!({
        "type": "certificate_report",
        "quarantineNumber": qn,
        "productionBatch": batch,
        "portOfEntry": "天津新港",
        "dateOfEntry": "2026-11-01",
        "country": "BR",
        "declaredWeight": "13500",
        "consignor": "FRIGORIFICO SA",
        "consignee": "河北进口贸易有限公司",
        "productBigClass": "2",
        "hsCode": "0202",
    })
}

pub fn flow_rec(qn: &str, batch: &str, direction: &str, weight_kg: &str) -> Value {
    json!({
        "type": "flow_report",
        "productionBatch": batch,
        "quarantineNumber": qn,
        "productName": "冻牛肉",
        "actualWeight": weight_kg,
        "direction": direction,
        "counterpartType": "province",
        "counterpart": "120000",
    })
}

pub fn alert_rec(scheme: &str, code: &str) -> Value {
    json!({"type": "alert", "scheme": scheme, "code": code, "reason": "核酸阳性", "testedAt": "2026-11-23", "lab": "北京疾控"})
}

/// A disposal step; every state but `closed` says the weight it dealt with (10 kg).
pub fn disposal_rec(alert: &Hash, state: &str) -> Value {
    match state {
        "closed" => json!({"type": "alert_disposal", "alertId": alert.to_hex(), "state": state}),
        _ => json!({"type": "alert_disposal", "alertId": alert.to_hex(), "state": state, "weightKg": "10"}),
    }
}

/// Returns `v` with top-level members of `changes` set (a `null` removes the member).
pub fn patch(mut v: Value, changes: Value) -> Value {
    let obj = v.as_object_mut().expect("an object");
    for (k, c) in changes.as_object().expect("an object of changes") {
        if c.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), c.clone());
        }
    }
    v
}

/// Returns `v` with members of its object member `member` changed as [`patch`] does.
pub fn patch_in(mut v: Value, member: &str, changes: Value) -> Value {
    let inner = v[member].take();
    v[member] = patch(inner, changes);
    v
}

/// The whole ledger in its fixed binary form: equal bytes, equal ledgers.
/// That is the small tables kept in memory and every entry of the store
/// but the state's own figures (height, counts of outcomes, root) and the
/// transactions seen, which are not the ledger's.
pub fn ledger_bytes(state: &State) -> Vec<u8> {
    let l = state.ledger();
    let in_memory = (l.bureaus(), l.dictionaries(), l.amendments(), l.schemes());
    let mut out = cbor4ii::serde::to_vec(Vec::new(), &in_memory).expect("the ledger serializes");
    // The state's own figures, the transactions' outcomes and the state
    // tree over them (which a rejection changes through `seen`).
    let not_ledger = [ledger::META.prefix(), ledger::STATE_ROOT.prefix(), ledger::SEEN.prefix(), coldchain_chaincode::state::merkle::NODE_PREFIX];
    for (k, v) in l.kv().scan_raw(&[], &[0xFF; 2]) {
        if not_ledger.contains(&k[0]) {
            continue;
        }
        for part in [&k, &v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// Every row of a counted table in id order, as the list it used to be:
/// its ids are dense from 0 and as many as its counter says.
#[track_caller]
pub fn rows<K, V>(l: &Ledger, t: &Table<K, V>, c: Counter) -> Vec<V>
where
    K: Key + Copy + Into<u64>,
    V: serde::Serialize + serde::de::DeserializeOwned,
{
    let rows: Vec<(K, V)> = l.scan_all(t).collect();
    for (i, (k, _)) in rows.iter().enumerate() {
        assert_eq!((*k).into(), i as u64, "table `{}`: ids are dense from 0", t.name());
    }
    assert_eq!(l.count(c), rows.len() as u64, "table `{}`: its counter is its length", t.name());
    rows.into_iter().map(|(_, v)| v).collect()
}

/// How many entries a table has.
pub fn len<K: Key, V: serde::Serialize + serde::de::DeserializeOwned>(l: &Ledger, t: &Table<K, V>) -> usize {
    l.scan_all(t).count()
}

#[track_caller]
pub fn ok(r: &Receipt) {
    assert_eq!(r.outcome, Outcome::Applied, "expected the record to apply");
}

#[track_caller]
pub fn rejected(r: &Receipt, field: &str, phrase: &str) {
    match &r.outcome {
        Outcome::Rejected { field: f, rule } => {
            assert_eq!(f, field, "rejected on another field (rule: {rule})");
            assert!(rule.contains(phrase), "rule {rule:?} does not say {phrase:?}");
        }
        Outcome::Applied => panic!("expected a rejection on {field} ({phrase}), but the record applied"),
    }
}

/// Submits `record`, asserts it is rejected on `field` with a rule saying
/// `phrase`, and that nothing of it was stored: the ledger is byte for byte
/// what it was, only the root and the rejected count moved.
#[track_caller]
pub fn refuse(chain: &mut Chain, key: &SigningKey, record: Value, field: &str, phrase: &str) {
    let before = ledger_bytes(&chain.state);
    let (root, applied, rejected_n) = (chain.state.root(), chain.state.applied_count(), chain.state.rejected_count());
    let r = chain.submit(key, record);
    rejected(&r, field, phrase);
    assert!(ledger_bytes(&chain.state) == before, "a rejected record changed the ledger");
    assert_eq!(chain.state.applied_count(), applied);
    assert_eq!(chain.state.rejected_count(), rejected_n + 1);
    assert_ne!(chain.state.root(), root, "the root commits to the rejection");
    assert!(chain.state.contains(&r.tx_id));
}

/// A chain with one code scheme per province and a cast of enterprises:
/// a Hebei importer, a Tianjin cold storage, a Beijing wholesaler and two
/// Beijing retailers. Every transaction it submits is logged with its block,
/// so that it can be replayed on a fresh state.
pub struct World {
    pub chain: Chain,
    pub log: Vec<(BlockContext, Transaction)>,
    pub importer: Ent,
    pub storage: Ent,
    pub wholesaler: Ent,
    pub retail1: Ent,
    pub retail2: Ent,
}

fn submit_logged(chain: &mut Chain, log: &mut Vec<(BlockContext, Transaction)>, key: &SigningKey, record: Value) -> Receipt {
    let tx = chain.sign(key, record);
    let receipts = chain.block(std::slice::from_ref(&tx));
    log.push((chain.ctx(), tx));
    receipts.into_iter().next().expect("one receipt")
}

fn enrol_logged(chain: &mut Chain, log: &mut Vec<(BlockContext, Transaction)>, bureau: &str, label: &str, ent_type: &str) -> Ent {
    let key = testkit::key(label);
    let uscc = uscc_for(district_of(bureau), label);
    ok(&submit_logged(chain, log, &testkit::admin_key(bureau), enterprise_rec(&uscc, &key, district_of(bureau), ent_type)));
    Ent { label: label.to_string(), key, uscc, province: province_of(bureau) }
}

impl World {
    pub fn new() -> World {
        let mut chain = Chain::new();
        let mut log = Vec::new();
        let c = &mut chain;
        let l = &mut log;
        ok(&submit_logged(c, l, &testkit::admin_key("beijing"), scheme_rec(BJ_SCHEME, BJ, "BJ[0-9]{8}")));
        ok(&submit_logged(c, l, &testkit::admin_key("tianjin"), scheme_rec(TJ_SCHEME, TJ, "TJ[0-9]{8}")));
        ok(&submit_logged(c, l, &testkit::admin_key("hebei"), scheme_rec(HE_SCHEME, HE, "HE[0-9]{8}")));
        let importer = enrol_logged(c, l, "hebei", "he-importer", "07");
        let storage = enrol_logged(c, l, "tianjin", "tj-storage", "19");
        let wholesaler = enrol_logged(c, l, "beijing", "bj-wholesaler", "06");
        let retail1 = enrol_logged(c, l, "beijing", "bj-retail-1", "11");
        let retail2 = enrol_logged(c, l, "beijing", "bj-retail-2", "11");
        World { chain, log, importer, storage, wholesaler, retail1, retail2 }
    }

    /// Submits a record in a block of its own, logged for replay.
    pub fn submit(&mut self, key: &SigningKey, record: Value) -> Receipt {
        submit_logged(&mut self.chain, &mut self.log, key, record)
    }

    /// Enrols another enterprise, logged for replay.
    pub fn enrol(&mut self, bureau: &str, label: &str, ent_type: &str) -> Ent {
        enrol_logged(&mut self.chain, &mut self.log, bureau, label, ent_type)
    }

    pub fn lot(&self, qn: &str, batch: &str) -> LotId {
        self.chain.state.ledger().get(&ledger::LOT_IDS, &(qn.to_string(), batch.to_string())).expect("a lot of that certificate and batch")
    }

    pub fn ent_id(&self, e: &Ent) -> u32 {
        self.chain.state.ledger().enterprise(&e.uscc).expect("enrolled").0
    }

    /// What `e` holds of the lot: (pieces, grams).
    pub fn held(&self, e: &Ent, qn: &str, batch: &str) -> (u64, u64) {
        let q = self.chain.state.ledger().holding(self.ent_id(e), self.lot(qn, batch));
        (q.pieces, q.grams)
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// Applies logged transactions, in their blocks, to a fresh genesis state.
pub fn replay(log: &[(BlockContext, Transaction)]) -> (State, Vec<Outcome>) {
    let mut s = State::with_genesis(testkit::genesis());
    // A new height seals the block before it; the last one is sealed here.
    let outcomes = log.iter().map(|(ctx, tx)| s.apply(*ctx, tx.id(), tx).outcome).collect();
    s.seal_block();
    (s, outcomes)
}
