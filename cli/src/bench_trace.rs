//! `coldchain bench --trace`: the chaincode alone, on one thread, holding a
//! large ledger. Figures, not assertions (except the replay check).
//!
//! - builds a state of `movements` movement records (product_batch entries,
//!   shipments, receipts, stock-ins, stock-outs) across Beijing, Tianjin and
//!   Hebei through the real `State::apply`: 900 enterprises enrolled by their
//!   bureaus, one code scheme per province, lots entered with trace codes and
//!   moved through tree-shaped custody graphs (most lots 5–50 movements, a
//!   few up to ~1,000), receivers issuing their own codes on the way;
//! - times each block of 1,000 records (p50, p99, max);
//! - times `State::trace` forward, backward and both from random codes of
//!   random lots, with the steps each touches;
//! - compares the canonical bytes of the records with the resident memory
//!   the state costs and the size of its (in-memory) store, times
//!   `State::digest`, and replays the same records into a fresh state: the
//!   digests must be identical.
//!
//! Records are generated from a fixed seed on a second thread (signed with
//! `testkit` keys) and streamed to the applying thread in blocks, so the
//! transactions are never all in memory and the replay regenerates them.

use anyhow::{Result, bail};
use coldchain_chaincode::identifiers::{gtin_with_check, uscc_with_check};
use coldchain_chaincode::state::ledger::{Counter, LOT_MOVEMENTS, Ledger, LotId};
use coldchain_chaincode::state::merkle;
use coldchain_chaincode::state::trace::Direction;
use coldchain_chaincode::testkit::{self, CHAIN_ID};
use coldchain_chaincode::{BlockContext, Hash, Outcome, State, Transaction, TxId};
use coldchain_node::storage::StateTree;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

pub struct TraceBenchOptions {
    /// One JSON object instead of text.
    pub json: bool,
    /// Movement records to apply (default 1,000,000).
    pub movements: usize,
    /// Random traces of each direction (default 1,000).
    pub traces: usize,
}

/// The generator's seed: the same records on every run.
const SEED: u64 = 0x00C0_1DC4_A1B3_2026;
const TRACE_SEED: u64 = 0x7ACE_0000_0000_0001;
const BLOCK: usize = 1_000;
const PER_PROVINCE: usize = 300;
/// Block time: 2026-11-24 10:00 China Standard Time (every record date is before it).
const TIME_MS: i64 = 1_795_485_600_000;
const PROGRESS_EVERY: usize = 100_000;
const APPLY_TARGET_MS: f64 = 50.0;
const TRACE_TARGET_MS: f64 = 20.0;

/// Province code, bureau, scheme id, the districts its enterprises are in, latitude, longitude.
type Province = (&'static str, &'static str, &'static str, [&'static str; 3], f64, f64);
const PROVINCES: [Province; 3] = [
    ("110000", "beijing", "BJ-ZS", ["110105", "110106", "110108"], 39.9, 116.4),
    ("120000", "tianjin", "TJ-ZS", ["120101", "120116", "120110"], 39.1, 117.2),
    ("130000", "hebei", "HE-GS1", ["130209", "130102", "130902"], 39.6, 118.2),
];
const ENTERPRISE_TYPES: [&str; 8] = ["01", "06", "07", "09", "11", "14", "19", "29"];
const PORTS: [&str; 7] = ["曹妃甸", "天津新港", "天津东疆", "京唐港", "黄骅港", "首都机场", "大兴机场"];
const PRODUCTS: [&str; 6] = ["冷冻鸡两节翅", "冷冻带骨猪肉", "冷冻牛腩", "冷冻三文鱼", "冷冻虾仁", "冷冻羊排"];

/// SplitMix64: a small, fixed, seeded generator (the cli crate has no `rand`).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

// ---------------------------------------------------------------------------
// The records.

struct Ent {
    key: SigningKey,
    uscc: String,
    province: usize,
}

fn enterprises() -> Vec<Ent> {
    (0..PROVINCES.len() * PER_PROVINCE)
        .map(|i| {
            let province = i / PER_PROVINCE;
            let district = PROVINCES[province].3[i % 3];
            Ent { key: testkit::key(&format!("bench-trace:{i}")), uscc: uscc_with_check(&format!("91{district}MA{i:07}")), province }
        })
        .collect()
}

fn enterprise_record(i: usize, e: &Ent) -> Value {
    let (_, _, _, districts, lat, lon) = PROVINCES[e.province];
    json!({
        "type": "enterprise", "entName": format!("京津冀冷链企业{i:04}有限公司"), "unifSociCredCode": e.uscc,
        "entTypeCode": ENTERPRISE_TYPES[i % ENTERPRISE_TYPES.len()], "officeAddress": format!("冷链物流园{}号", i % 97 + 1),
        "addrDistricts": districts[i % 3], "contact": "张经理", "contactPhone": "13812340588",
        "latitude": lat + (i % 50) as f64 * 0.004, "longitude": lon + (i % 40) as f64 * 0.005,
        "publicKey": hex::encode(e.key.verifying_key().to_bytes()),
    })
}

fn scheme_record(p: usize) -> Value {
    let (province, bureau, id, _, _, _) = PROVINCES[p];
    let pattern = match id {
        "HE-GS1" => r"01\d{14}10[0-9A-Z]{1,20}",
        "TJ-ZS" => r"TJ\d{16}",
        _ => r"BJ\d{15}[0-9A-Z]{2}",
    };
    json!({
        "type": "code_scheme", "schemeId": id, "province": province, "name": format!("{bureau} cold-chain trace code"), "pattern": pattern,
        "resolverUrl": format!("https://trace.{bureau}.example.gov.cn/code/{{code}}"),
        "ruleDocSha256": Hash::digest(format!("{id} coding rule v1").as_bytes()).to_hex(), "issuedCount": 0
    })
}

/// One step of a lot's plan, in custody order.
#[derive(Clone, Copy)]
enum Act {
    /// The importer's product_batch: the lot enters with its code.
    Entry,
    /// Shipment from the node's parent to the node.
    Ship(u32),
    /// The node receives that shipment, naming its own new code.
    Receive(u32),
    /// Stock-out from the node's parent to the node.
    StockOut(u32),
    /// The node gives the lot its own code (a later product_batch).
    ReEntry(u32),
    /// The node places its goods in its cold storage (no change of custody).
    StockIn(u32),
}

struct Node {
    ent: u32,
    parent: u32,
    depth: u32,
    /// Pieces this node receives: 10 per node of its subtree.
    pieces: u64,
    /// A code of the lot this node names on its lines (its own once issued).
    known: String,
    /// The number of the shipment that brought it the goods.
    shipment: String,
}

struct LotPlan {
    index: u64,
    product: usize,
    port: usize,
    base_day: u64,
    nodes: Vec<Node>,
    acts: Vec<Act>,
    next: usize,
}

impl LotPlan {
    fn quarantine_number(&self) -> String {
        format!("1303002260{:011}", self.index)
    }
    fn gtin(&self) -> String {
        gtin_with_check(&format!("069012340{:03}", self.product))
    }
    fn date(&self, depth: u32) -> String {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
        (start + chrono::Days::new(self.base_day + depth.min(60) as u64)).to_string()
    }
}

/// What the generator made, by record type.
#[derive(Clone, Debug, Default, PartialEq)]
struct GenStats {
    lots: u64,
    product_batch: u64,
    shipment: u64,
    receipt: u64,
    stock_in: u64,
    stock_out: u64,
    setup: u64,
    canonical_bytes: u64,
}

struct Block {
    setup: bool,
    txs: Vec<(TxId, Transaction)>,
}

struct Generator {
    rng: Rng,
    ents: Vec<Ent>,
    perm: Vec<u32>,
    nonce: u64,
    next_lot: u64,
    codes_issued: [u64; 3],
    docs: u64,
    stats: GenStats,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let ents = enterprises();
        let perm = (0..ents.len() as u32).collect();
        Generator { rng: Rng(seed), ents, perm, nonce: 0, next_lot: 0, codes_issued: [0; 3], docs: 0, stats: GenStats::default() }
    }

    fn sign(&mut self, key: &SigningKey, record: Value) -> (TxId, Transaction) {
        self.nonce += 1;
        let tx = Transaction::sign(CHAIN_ID, self.nonce, record, key);
        let bytes = tx.canonical_bytes();
        self.stats.canonical_bytes += bytes.len() as u64;
        (Hash::digest(&bytes), tx)
    }

    fn setup(&mut self) -> Vec<(TxId, Transaction)> {
        let mut out = Vec::new();
        for (p, province) in PROVINCES.iter().enumerate() {
            out.push(self.sign(&testkit::admin_key(province.1), scheme_record(p)));
        }
        for i in 0..self.ents.len() {
            let record = enterprise_record(i, &self.ents[i]);
            let admin = testkit::admin_key(PROVINCES[self.ents[i].province].1);
            out.push(self.sign(&admin, record));
        }
        self.stats.setup = out.len() as u64;
        out
    }

    /// A new code in the scheme of enterprise `ent`'s province.
    fn new_code(&mut self, ent: u32, gtin: &str) -> String {
        let p = self.ents[ent as usize].province;
        self.codes_issued[p] += 1;
        let n = self.codes_issued[p];
        match PROVINCES[p].2 {
            "HE-GS1" => format!("010{gtin}10C{n:09}"),
            "TJ-ZS" => format!("TJ{n:016}"),
            _ => format!("BJ{n:015}00"),
        }
    }

    /// Plans a lot: a custody tree of distinct enterprises whose movements
    /// (entry, one per edge, stock-ins) come to about a target: 5–50 for
    /// most lots, 100–1,000 for 3 % of them.
    fn plan_lot(&mut self) -> LotPlan {
        let rng = &mut self.rng;
        let target = if rng.chance(0.03) { 100.0 * 10f64.powf(rng.unit()) } else { 5.0 * 10f64.powf(rng.unit()) }.round() as usize;
        let n_ents = self.perm.len();
        // A fresh sample of distinct enterprises (partial Fisher–Yates).
        let take = |k: usize, rng: &mut Rng, perm: &mut Vec<u32>| {
            let j = k + rng.below((n_ents - k) as u64) as usize;
            perm.swap(k, j);
            perm[k]
        };
        let root = take(0, rng, &mut self.perm);
        let mut nodes = vec![Node { ent: root, parent: 0, depth: 0, pieces: 0, known: String::new(), shipment: String::new() }];
        let mut acts = vec![Act::Entry];
        let mut movements = 1;
        while movements < target && nodes.len() < n_ents {
            // Half the time the newest holder passes the goods on, else any earlier holder:
            // bushy trees a few levels deep with some longer chains.
            let parent = if rng.chance(0.5) { nodes.len() - 1 } else { rng.below(nodes.len() as u64) as usize };
            let child = nodes.len() as u32;
            let ent = take(nodes.len(), rng, &mut self.perm);
            nodes.push(Node { ent, parent: parent as u32, depth: nodes[parent].depth + 1, pieces: 0, known: String::new(), shipment: String::new() });
            movements += 1;
            if rng.chance(0.55) {
                acts.push(Act::Ship(child));
                acts.push(Act::Receive(child));
            } else {
                acts.push(Act::StockOut(child));
                if rng.chance(0.5) {
                    acts.push(Act::ReEntry(child));
                }
            }
            if rng.chance(0.2) {
                acts.push(Act::StockIn(child));
                movements += 1;
            }
        }
        if rng.chance(0.2) {
            acts.insert(1, Act::StockIn(0));
        }
        // Pieces: 10 per node of the subtree (children come after parents).
        let mut subtree = vec![1u64; nodes.len()];
        for i in (1..nodes.len()).rev() {
            let p = nodes[i].parent as usize;
            subtree[p] += subtree[i];
        }
        for (n, s) in nodes.iter_mut().zip(&subtree) {
            n.pieces = 10 * s;
        }
        let index = self.next_lot;
        self.next_lot += 1;
        self.stats.lots += 1;
        LotPlan {
            index,
            product: rng.below(PRODUCTS.len() as u64) as usize,
            port: rng.below(PORTS.len() as u64) as usize,
            base_day: rng.below(200),
            nodes,
            acts,
            next: 0,
        }
    }

    fn product_batch(&self, lot: &LotPlan, node: usize, code: &str) -> Value {
        let n = &lot.nodes[node];
        json!({
            "type": "product_batch", "productLibraryId": lot.gtin(), "productName": PRODUCTS[lot.product],
            "containerNumber": format!("MSKU{:07}", lot.index % 10_000_000), "traceCode": code, "batch": format!("L{}", lot.index),
            "numberOfPieces": n.pieces, "weight": n.pieces * 20, "productionDate": lot.date(0).replace("2026-", "2025-"),
            "quarantineInfo": {"batch": format!("B{}", lot.index), "consignee": "京津冀冷链贸易有限公司", "consignor": "COOPAVEL COOPERATIVA AGROINDUSTRIAL",
                               "dateOfEntry": lot.date(0), "portOfEntry": PORTS[lot.port], "quarantineNumber": lot.quarantine_number()},
            "disinfectInfo": {"disinfectDate": lot.date(0), "placeOfDisinfection": "CustomsPort", "disinfectNumber": format!("XD{}", lot.index), "disinfectState": 1},
            "nucleicInfo": {"naResult": "阴性", "naDate": lot.date(0), "naUnit": "天津海关技术中心"}
        })
    }

    fn line(lot: &LotPlan, pieces: u64, code: &str, quarantine: bool) -> Value {
        let mut line = json!({"productLibraryId": lot.gtin(), "productName": PRODUCTS[lot.product], "batch": format!("L{}", lot.index),
                              "numberOfPieces": pieces, "weight": pieces * 20, "traceCode": code});
        if quarantine {
            line["quarantineNumber"] = json!(lot.quarantine_number());
        }
        line
    }

    /// The next record of `lot`, signed.
    fn emit(&mut self, lot: &mut LotPlan) -> (TxId, Transaction) {
        let act = lot.acts[lot.next];
        lot.next += 1;
        let (signer, record) = match act {
            Act::Entry => {
                let code = self.new_code(lot.nodes[0].ent, &lot.gtin());
                lot.nodes[0].known = code.clone();
                self.stats.product_batch += 1;
                (lot.nodes[0].ent, self.product_batch(lot, 0, &code))
            }
            Act::Ship(c) | Act::StockOut(c) => {
                let c = c as usize;
                let p = lot.nodes[c].parent as usize;
                self.docs += 1;
                let number = format!("{}{:09}", if matches!(act, Act::Ship(_)) { "SO" } else { "OUT" }, self.docs);
                lot.nodes[c].known = lot.nodes[p].known.clone();
                let line = Self::line(lot, lot.nodes[c].pieces, &lot.nodes[p].known, false);
                let (to, date) = (&self.ents[lot.nodes[c].ent as usize].uscc, lot.date(lot.nodes[c].depth));
                let record = if matches!(act, Act::Ship(_)) {
                    self.stats.shipment += 1;
                    lot.nodes[c].shipment = number.clone();
                    json!({"type": "shipment", "sendNumber": number, "sendTime": date, "receiverUscc": to, "productList": [line]})
                } else {
                    self.stats.stock_out += 1;
                    json!({"type": "stock_out", "outstockCode": number, "outStockDate": date, "receiverUscc": to, "productList": [line]})
                };
                (lot.nodes[p].ent, record)
            }
            Act::Receive(c) => {
                let c = c as usize;
                let p = lot.nodes[c].parent as usize;
                let code = self.new_code(lot.nodes[c].ent, &lot.gtin());
                self.docs += 1;
                let line = Self::line(lot, lot.nodes[c].pieces, &code, true);
                let record = json!({"type": "receipt", "receiverNumber": format!("RN{:09}", self.docs), "sendNumber": lot.nodes[c].shipment,
                                    "senderUscc": self.ents[lot.nodes[p].ent as usize].uscc, "receiveTime": lot.date(lot.nodes[c].depth), "productList": [line]});
                lot.nodes[c].known = code;
                self.stats.receipt += 1;
                (lot.nodes[c].ent, record)
            }
            Act::ReEntry(c) => {
                let c = c as usize;
                let code = self.new_code(lot.nodes[c].ent, &lot.gtin());
                let record = self.product_batch(lot, c, &code);
                lot.nodes[c].known = code;
                self.stats.product_batch += 1;
                (lot.nodes[c].ent, record)
            }
            Act::StockIn(c) => {
                let c = c as usize;
                self.docs += 1;
                let line = Self::line(lot, 10, &lot.nodes[c].known, false);
                self.stats.stock_in += 1;
                (
                    lot.nodes[c].ent,
                    json!({"type": "stock_in", "inStockCode": format!("IN{:09}", self.docs), "inStockDate": lot.date(lot.nodes[c].depth), "productList": [line]}),
                )
            }
        };
        let key = self.ents[signer as usize].key.clone();
        self.sign(&key, record)
    }

    /// Sends the setup block, then `movements` records in blocks of
    /// `BLOCK`, interleaving 32 lots in flight.
    fn run(mut self, movements: usize, out: SyncSender<Block>) -> GenStats {
        let setup = self.setup();
        if out.send(Block { setup: true, txs: setup }).is_err() {
            return self.stats;
        }
        let mut active: Vec<LotPlan> = (0..32).map(|_| self.plan_lot()).collect();
        let mut emitted = 0;
        while emitted < movements {
            let n = BLOCK.min(movements - emitted);
            let mut txs = Vec::with_capacity(n);
            for _ in 0..n {
                let i = self.rng.below(active.len() as u64) as usize;
                let mut lot =
                    std::mem::replace(&mut active[i], LotPlan { index: 0, product: 0, port: 0, base_day: 0, nodes: vec![], acts: vec![], next: 0 });
                txs.push(self.emit(&mut lot));
                active[i] = if lot.next == lot.acts.len() { self.plan_lot() } else { lot };
            }
            emitted += n;
            if out.send(Block { setup: false, txs }).is_err() {
                break;
            }
        }
        self.stats
    }
}

fn spawn_generator(movements: usize) -> (Receiver<Block>, std::thread::JoinHandle<GenStats>) {
    let (tx, rx) = sync_channel(8);
    let handle = std::thread::Builder::new()
        .name("bench-trace-gen".into())
        .spawn(move || Generator::new(SEED).run(movements, tx))
        .expect("spawn the generator");
    (rx, handle)
}

// ---------------------------------------------------------------------------
// Applying.

struct Built {
    state: State,
    stats: GenStats,
    /// Milliseconds to apply each block of movement records.
    block_ms: Vec<f64>,
    /// Where the blocks' time went, summed over them.
    phases: Phases,
    wall_s: f64,
}

/// The parts of applying a block, summed over the movement blocks: the
/// records' checks and effects, the state tree's update, the store's write
/// (with its flush); and the entries each block wrote.
#[derive(Default)]
struct Phases {
    records_ms: f64,
    tree_ms: f64,
    write_ms: f64,
    state_entries: u64,
    tree_entries: u64,
}

impl Phases {
    fn json(&self, blocks: usize) -> Value {
        let per = |x: f64| round3(x / blocks.max(1) as f64);
        json!({"records_ms_per_block": per(self.records_ms), "tree_ms_per_block": per(self.tree_ms), "write_ms_per_block": per(self.write_ms),
               "state_entries_per_block": per(self.state_entries as f64), "tree_entries_per_block": per(self.tree_entries as f64)})
    }
}

/// Applies the generated records to a state in `store` (as a node's), or in
/// memory.
fn build(movements: usize, label: &str, store: Option<&StateTree>) -> Result<Built> {
    let mut state = match store {
        Some(store) => State::open_store(Arc::new(store.clone()), testkit::genesis()),
        None => State::with_genesis(testkit::genesis()),
    };
    let (rx, handle) = spawn_generator(movements);
    let start = Instant::now();
    let mut block_ms = Vec::with_capacity(movements / BLOCK + 1);
    let (mut height, mut applied, mut next_progress) = (0u64, 0usize, PROGRESS_EVERY);
    let mut rejections: Vec<String> = Vec::new();
    let mut rejected = 0usize;
    let mut phases = Phases::default();
    for block in rx {
        height += 1;
        let ctx = BlockContext { height, time_ms: TIME_MS };
        let t = Instant::now();
        for (id, tx) in &block.txs {
            let receipt = state.apply(ctx, *id, tx);
            if let Outcome::Rejected { field, rule } = receipt.outcome {
                rejected += 1;
                if rejections.len() < 5 {
                    rejections.push(format!("{} ({}): {field}: {rule}", tx.record_type(), tx.record.as_str().chars().take(160).collect::<String>()));
                }
            }
        }
        let records_ms = t.elapsed().as_secs_f64() * 1e3;
        // The block's changed keys go into the state tree, and its changes
        // to the store, as a node commits them with the block (one atomic
        // batch, flushed).
        state.seal_block();
        let tree_ms = t.elapsed().as_secs_f64() * 1e3 - records_ms;
        if let Some(store) = store {
            store.write(state.changes())?;
            store.flush()?;
        }
        let tree_entries = state.changes().keys().filter(|k| k.first() == Some(&merkle::NODE_PREFIX)).count() as u64;
        let state_entries = state.changes().len() as u64 - tree_entries;
        state.settle();
        let elapsed_ms = t.elapsed().as_secs_f64() * 1e3;
        if !block.setup {
            phases.records_ms += records_ms;
            phases.tree_ms += tree_ms;
            phases.write_ms += elapsed_ms - records_ms - tree_ms;
            phases.state_entries += state_entries;
            phases.tree_entries += tree_entries;
            block_ms.push(elapsed_ms);
            applied += block.txs.len();
            if applied >= next_progress || applied == movements {
                let mut recent = block_ms[block_ms.len().saturating_sub(PROGRESS_EVERY / BLOCK)..].to_vec();
                recent.sort_by(f64::total_cmp);
                eprintln!(
                    "{label}: {} / {} records applied ({:.1} s; blocks since the last line: p50 {} ms, max {} ms)",
                    thousands(applied as u64),
                    thousands(movements as u64),
                    start.elapsed().as_secs_f64(),
                    ms(percentile(&recent, 0.5)),
                    ms(percentile(&recent, 1.0))
                );
                next_progress += PROGRESS_EVERY;
            }
        }
        drop(block);
    }
    let stats = handle.join().map_err(|_| anyhow::anyhow!("the record generator panicked"))?;
    if rejected > 0 {
        bail!("{label}: {rejected} generated records were rejected (a bug of the benchmark's generator), e.g.:\n  {}", rejections.join("\n  "));
    }
    Ok(Built { state, stats, block_ms, phases, wall_s: start.elapsed().as_secs_f64() })
}

// ---------------------------------------------------------------------------
// Figures.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn round3(x: f64) -> f64 {
    if x.is_finite() { (x * 1000.0).round() / 1000.0 } else { x }
}

fn mb(bytes: f64) -> f64 {
    bytes / 1_048_576.0
}

/// Resident memory of this process in bytes (VmRSS).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

struct TraceFigures {
    direction: &'static str,
    ms: Vec<f64>,
    steps: Vec<f64>,
    /// Latencies of traces touching at most 1,000 steps.
    ms_upto_1000: Vec<f64>,
}

impl TraceFigures {
    fn json(&self) -> Value {
        json!({
            "traces": self.ms.len(),
            "p50_ms": round3(percentile(&self.ms, 0.5)), "p99_ms": round3(percentile(&self.ms, 0.99)), "max_ms": round3(percentile(&self.ms, 1.0)),
            "steps_p50": percentile(&self.steps, 0.5) as u64, "steps_p99": percentile(&self.steps, 0.99) as u64, "steps_max": percentile(&self.steps, 1.0) as u64,
            "traces_upto_1000_steps": self.ms_upto_1000.len(), "p99_ms_upto_1000_steps": round3(percentile(&self.ms_upto_1000, 0.99)),
        })
    }
}

/// State proofs of code entries (`codes` table) under the state's root.
struct ProofFigures {
    count: usize,
    generated_per_s: f64,
    verified_per_s: f64,
    siblings: f64,
    json_bytes: f64,
}

impl ProofFigures {
    fn json(&self) -> Value {
        json!({"proofs": self.count, "generated_per_s": self.generated_per_s.round(), "verified_per_s": self.verified_per_s.round(),
               "siblings_avg": round3(self.siblings), "json_bytes_avg": self.json_bytes.round()})
    }
}

/// A state snapshot of the built state, and a fresh store restored from
/// it chunk by chunk (each checked against the root), as a joining node
/// does, without the network between.
struct SnapshotFigures {
    take_ms: f64,
    restore_ms: f64,
    entries: u64,
    chunks: u32,
    bytes: u64,
}

fn run_snapshot(state: &State) -> Result<SnapshotFigures> {
    use coldchain_chaincode::state::snapshot::{Chunk, Restore};
    let dir = BenchDir::new("snapshot");
    let files = coldchain_node::storage::SnapshotFiles::open(&dir.0.join("snapshots"))?;
    let t = Instant::now();
    let info = coldchain_node::snapshot::take(&files, 1, state)?;
    let take_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let store = open_store(&dir.0.join("restored"))?;
    let mut restore = Restore::new(info.root, info.tree_version);
    for index in 0..info.chunks {
        let bytes = files.chunk(info.height, index).ok_or_else(|| anyhow::anyhow!("snapshot chunk {index} missing"))?;
        store.write(&restore.add(Chunk::from_bytes(&bytes)?)?)?;
    }
    let (last, _) = restore.finish(info.height, (info.applied, info.refused))?;
    store.write(&last)?;
    store.flush()?;
    let restore_ms = t.elapsed().as_secs_f64() * 1e3;
    let restored = State::open_store(Arc::new(store), testkit::genesis());
    if restored.digest() != state.digest() || restored.root() != state.root() {
        bail!("the state restored from the snapshot differs from the state");
    }
    Ok(SnapshotFigures { take_ms, restore_ms, entries: info.entries, chunks: info.chunks, bytes: info.bytes })
}

fn run_state_proofs(state: &State, count: usize) -> Result<ProofFigures> {
    let l = state.ledger();
    let lots = l.count(Counter::Lots);
    let mut rng = Rng(TRACE_SEED ^ 0x5eed);
    let keys: Vec<Vec<u8>> = (0..count)
        .filter_map(|_| (lots > 0).then(|| l.lot_codes(rng.below(lots) as LotId)).and_then(|c| c.into_iter().next()))
        .map(|code| coldchain_chaincode::state::ledger::CODES.key(&code))
        .collect();
    let t = Instant::now();
    let proofs: Vec<_> = keys.iter().map(|k| state.prove(k)).collect();
    let generated_s = t.elapsed().as_secs_f64();
    let root = state.root();
    let t = Instant::now();
    for (k, (value, proof)) in keys.iter().zip(&proofs) {
        proof.verify(&root, k, value.as_deref()).map_err(|e| anyhow::anyhow!("a state proof does not verify: {e}"))?;
    }
    let verified_s = t.elapsed().as_secs_f64();
    let n = proofs.len().max(1) as f64;
    Ok(ProofFigures {
        count: proofs.len(),
        generated_per_s: n / generated_s.max(1e-9),
        verified_per_s: n / verified_s.max(1e-9),
        siblings: proofs.iter().map(|(_, p)| p.siblings.len() as f64).sum::<f64>() / n,
        json_bytes: proofs.iter().map(|(v, p)| serde_json::to_vec(&(v.as_ref().map(hex::encode), p)).map_or(0, |b| b.len()) as f64).sum::<f64>() / n,
    })
}

fn run_traces(state: &State, traces: usize) -> Result<Vec<TraceFigures>> {
    let l = state.ledger();
    let lots = l.count(Counter::Lots);
    let mut rng = Rng(TRACE_SEED);
    let mut starts: Vec<(String, String)> = Vec::with_capacity(traces);
    for _ in 0..traces {
        if lots == 0 {
            break;
        }
        let mut codes = l.lot_codes(rng.below(lots) as LotId);
        if codes.is_empty() {
            continue;
        }
        starts.push(codes.swap_remove(rng.below(codes.len() as u64) as usize));
    }
    let mut out = Vec::new();
    for (direction, name) in [(Direction::Forward, "forward"), (Direction::Backward, "backward"), (Direction::Both, "both")] {
        let mut f = TraceFigures { direction: name, ms: Vec::new(), steps: Vec::new(), ms_upto_1000: Vec::new() };
        for (scheme, code) in &starts {
            let t = Instant::now();
            let trace = state.trace(scheme, code, direction)?;
            let elapsed = t.elapsed().as_secs_f64() * 1e3;
            let steps = trace.steps.len();
            drop(trace);
            f.ms.push(elapsed);
            f.steps.push(steps as f64);
            if steps <= 1000 {
                f.ms_upto_1000.push(elapsed);
            }
        }
        for v in [&mut f.ms, &mut f.steps, &mut f.ms_upto_1000] {
            v.sort_by(f64::total_cmp);
        }
        out.push(f);
    }
    Ok(out)
}

/// The biggest trace there is: each direction from the entry code of the
/// lot with the most movements, `REPEAT` times.
struct Longest {
    movements: usize,
    /// Direction, steps touched, sorted latencies.
    runs: Vec<(&'static str, usize, Vec<f64>)>,
}

const REPEAT: usize = 20;

fn trace_longest(state: &State, movements: &[usize]) -> Result<Option<Longest>> {
    let Some((lot, n)) = movements.iter().enumerate().max_by_key(|(_, n)| **n) else { return Ok(None) };
    let codes = state.ledger().lot_codes(lot as LotId);
    let Some((scheme, code)) = codes.first() else { return Ok(None) };
    let mut runs = Vec::new();
    for (direction, name) in [(Direction::Forward, "forward"), (Direction::Backward, "backward"), (Direction::Both, "both")] {
        let (mut times, mut steps) = (Vec::with_capacity(REPEAT), 0);
        for _ in 0..REPEAT {
            let t = Instant::now();
            let trace = state.trace(scheme, code, direction)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            steps = trace.steps.len();
        }
        times.sort_by(f64::total_cmp);
        runs.push((name, steps, times));
    }
    Ok(Some(Longest { movements: *n, runs }))
}

/// How many movements each lot has, by lot id, in one pass over the lots' lists.
fn movements_by_lot(l: &Ledger) -> Vec<usize> {
    let mut counts = vec![0; l.count(Counter::Lots) as usize];
    for ((lot, _), ()) in l.scan_all(&LOT_MOVEMENTS) {
        counts[lot as usize] += 1;
    }
    counts
}

/// The store's page cache, as a node's default `[storage] cache_mb`.
const CACHE_BYTES: u64 = 64 << 20;

/// A store directory that is removed when the benchmark ends.
struct BenchDir(PathBuf);

impl BenchDir {
    fn new(label: &str) -> BenchDir {
        let dir = std::env::temp_dir().join(format!("coldchain-bench-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        BenchDir(dir)
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens the store, waiting while a dropped handle still holds sled's file
/// lock (its background threads release it a little after the drop).
fn open_store(dir: &Path) -> Result<StateTree> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match StateTree::open(dir, CACHE_BYTES) {
            Ok(store) => return Ok(store),
            Err(e) if e.to_string().contains("could not acquire lock") && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => bail!("opening the benchmark's store in {}: {e}", dir.display()),
        }
    }
}

pub fn run(opts: &TraceBenchOptions) -> Result<()> {
    let dir = BenchDir::new("trace");
    let rss_before = rss_bytes();
    let built = build(opts.movements, "bench trace", Some(&open_store(&dir.0)?))?;
    let rss_after = rss_bytes();
    let Built { state, stats, mut block_ms, phases, wall_s } = built;
    // The slowest blocks, by the records applied before them: growth of the
    // ledger's tables shows here.
    let mut slowest: Vec<(usize, f64)> = block_ms.iter().copied().enumerate().map(|(i, t)| (i * BLOCK, t)).collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    slowest.truncate(5);
    block_ms.sort_by(f64::total_cmp);
    let t = Instant::now();
    let digest = state.digest();
    let digest_s = t.elapsed().as_secs_f64();
    drop(state);
    let disk_bytes = crate::bench::tree_bytes(&dir.0);

    // A restart: the store reopened, the state read where it is, then the
    // first answer (a trace) from it.
    let t = Instant::now();
    let store = open_store(&dir.0)?;
    let state = State::open_store(Arc::new(store.clone()), testkit::genesis());
    let reopen_ms = t.elapsed().as_secs_f64() * 1e3;
    let first_answer = run_traces(&state, 1)?;
    let first_answer_ms = reopen_ms + first_answer.first().and_then(|f| f.ms.first()).copied().unwrap_or(f64::NAN);

    let movements_of = movements_by_lot(state.ledger());
    let traces = run_traces(&state, opts.traces)?;
    let proofs = run_state_proofs(&state, opts.traces)?;
    let longest_trace = trace_longest(&state, &movements_of)?;
    let rss_reopened = rss_bytes();
    let snapshot = run_snapshot(&state)?;

    let l = state.ledger();
    let (lots, enterprises, movements, codes) =
        (l.count(Counter::Lots), l.count(Counter::Enterprises), l.count(Counter::Movements), l.count(Counter::Codes));
    let longest = movements_of.iter().copied().max().unwrap_or(0);
    let (store_entries, store_bytes) = store.size();
    drop((state, store));

    let replay_dir = BenchDir::new("trace-replay");
    let replay = build(opts.movements, "replay", Some(&open_store(&replay_dir.0)?))?;
    let replay_digest = replay.state.digest();
    if replay_digest != digest || replay.stats != stats {
        bail!("replay: digest differs: first run {digest}, replay {replay_digest} (the same records from the same seed must give the same state)");
    }
    let replay_s = replay.wall_s;
    drop(replay);

    let growth = rss_after.saturating_sub(rss_before);
    let records = stats.product_batch + stats.shipment + stats.receipt + stats.stock_in + stats.stock_out;
    let report = json!({
        "records": records,
        "setup_records": stats.setup,
        "by_type": {"product_batch": stats.product_batch, "shipment": stats.shipment, "receipt": stats.receipt, "stock_in": stats.stock_in, "stock_out": stats.stock_out},
        "lots": lots, "enterprises": enterprises, "movements": movements, "codes": codes, "longest_lot_movements": longest,
        "generate_and_apply_s": round3(wall_s),
        "apply_block": {"records": BLOCK, "blocks": block_ms.len(), "p50_ms": round3(percentile(&block_ms, 0.5)), "p99_ms": round3(percentile(&block_ms, 0.99)),
                        "max_ms": round3(percentile(&block_ms, 1.0)), "target_ms": APPLY_TARGET_MS, "phases": phases.json(block_ms.len()),
                        "slowest": slowest.iter().map(|(at, t)| json!({"after_records": at, "ms": round3(*t)})).collect::<Vec<_>>()},
        "trace": traces.iter().map(|f| (f.direction.to_string(), f.json())).collect::<serde_json::Map<_, _>>(),
        "trace_target_ms": TRACE_TARGET_MS,
        "trace_longest_lot": longest_trace.as_ref().map(|l| json!({
            "movements": l.movements, "repeat": REPEAT,
            "entry_code": l.runs.iter().map(|(d, steps, t)| (d.to_string(), json!({"steps": steps, "p50_ms": round3(percentile(t, 0.5)), "max_ms": round3(percentile(t, 1.0))})))
                .collect::<serde_json::Map<_, _>>(),
        })),
        "memory": {
            "canonical_bytes": stats.canonical_bytes,
            "rss_before_bytes": rss_before, "rss_after_bytes": rss_after, "rss_growth_bytes": growth,
            "rss_growth_per_canonical_byte": round3(growth as f64 / stats.canonical_bytes.max(1) as f64),
            "rss_after_restart_and_traces_bytes": rss_reopened,
            "cache_bytes": CACHE_BYTES,
        },
        "disk": {
            "bytes": disk_bytes, "per_canonical_byte": round3(disk_bytes as f64 / stats.canonical_bytes.max(1) as f64),
            "state_entries": store_entries, "state_key_value_bytes": store_bytes,
            "state_bytes_per_movement": round3(store_bytes as f64 / movements.max(1) as f64),
        },
        "restart": {"open_ms": round3(reopen_ms), "first_trace_answered_ms": round3(first_answer_ms)},
        "state_proofs": proofs.json(),
        "digest_s": round3(digest_s), "digest": digest.to_hex(),
        "replay": {"identical_digest": true, "s": round3(replay_s)},
        "snapshot": {"take_ms": round3(snapshot.take_ms), "restore_ms": round3(snapshot.restore_ms), "entries": snapshot.entries, "chunks": snapshot.chunks,
                     "bytes": snapshot.bytes, "per_canonical_byte": round3(snapshot.bytes as f64 / stats.canonical_bytes.max(1) as f64),
                     "identical_digest": true, "replay_over_restore": round3(replay_s * 1e3 / snapshot.restore_ms.max(1e-9))},
    });
    if opts.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "trace bench: {} movement records ({} product_batch, {} shipment, {} receipt, {} stock_in, {} stock_out) after {} setup records",
        thousands(records),
        thousands(stats.product_batch),
        thousands(stats.shipment),
        thousands(stats.receipt),
        thousands(stats.stock_in),
        thousands(stats.stock_out),
        thousands(stats.setup)
    );
    println!(
        "  {} lots ({} movements, the longest {}), {} codes, {} enterprises in 3 provinces; generated (2nd thread) and applied in {:.1} s",
        thousands(lots),
        thousands(movements),
        thousands(longest as u64),
        thousands(codes),
        thousands(enterprises),
        wall_s
    );
    println!(
        "apply, blocks of {} records on one thread: p50 {} ms, p99 {} ms, max {} ms ({} blocks; target ≤ {APPLY_TARGET_MS:.0} ms)",
        thousands(BLOCK as u64),
        ms(percentile(&block_ms, 0.5)),
        ms(percentile(&block_ms, 0.99)),
        ms(percentile(&block_ms, 1.0)),
        thousands(block_ms.len() as u64)
    );
    let per = |x: f64| x / block_ms.len().max(1) as f64;
    println!(
        "  per block: records {} ms, state tree {} ms, store write and flush {} ms; {:.0} state entries and {:.0} tree nodes written or deleted",
        ms(per(phases.records_ms)),
        ms(per(phases.tree_ms)),
        ms(per(phases.write_ms)),
        per(phases.state_entries as f64),
        per(phases.tree_entries as f64)
    );
    println!(
        "  slowest blocks: {}",
        slowest.iter().map(|(at, t)| format!("{} ms after {} records", ms(*t), thousands(*at as u64))).collect::<Vec<_>>().join(", ")
    );
    for f in &traces {
        println!(
            "trace {}: p50 {} ms, p99 {} ms, max {} ms (steps p99 {}, max {}; {} traces)",
            f.direction,
            ms(percentile(&f.ms, 0.5)),
            ms(percentile(&f.ms, 0.99)),
            ms(percentile(&f.ms, 1.0)),
            thousands(percentile(&f.steps, 0.99) as u64),
            thousands(percentile(&f.steps, 1.0) as u64),
            thousands(f.ms.len() as u64)
        );
    }
    println!(
        "  traces touching ≤ 1,000 steps: p99 {} (target ≤ {TRACE_TARGET_MS:.0} ms)",
        traces.iter().map(|f| format!("{} {} ms", f.direction, ms(percentile(&f.ms_upto_1000, 0.99)))).collect::<Vec<_>>().join(", ")
    );
    if let Some(l) = &longest_trace {
        println!(
            "  the longest lot ({} movements), from its entry code, {REPEAT} times: {}",
            thousands(l.movements as u64),
            l.runs
                .iter()
                .map(|(d, steps, t)| format!(
                    "{d} p50 {} ms, max {} ms ({} steps)",
                    ms(percentile(t, 0.5)),
                    ms(percentile(t, 1.0)),
                    thousands(*steps as u64)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!(
        "memory: records {:.1} MB canonical; resident {:.1} MB after applying them ({:.1} MB before), {:.1} MB after a restart and the traces; page cache {:.0} MB",
        mb(stats.canonical_bytes as f64),
        mb(rss_after as f64),
        mb(rss_before as f64),
        mb(rss_reopened as f64),
        mb(CACHE_BYTES as f64)
    );
    println!(
        "disk: {:.1} MB ({:.2} × the records); state {} entries, {:.1} MB of keys and values ({:.0} B/movement)",
        mb(disk_bytes as f64),
        disk_bytes as f64 / stats.canonical_bytes.max(1) as f64,
        thousands(store_entries),
        mb(store_bytes as f64),
        store_bytes as f64 / movements.max(1) as f64
    );
    println!("restart: store and state opened in {} ms; first trace answered {} ms after the open began", ms(reopen_ms), ms(first_answer_ms));
    println!(
        "state proofs of code entries (from the reopened store): {} generated/s, {} verified/s; {:.1} sibling hashes and {} bytes of JSON each on average ({} proofs)",
        thousands(proofs.generated_per_s as u64),
        thousands(proofs.verified_per_s as u64),
        proofs.siblings,
        proofs.json_bytes as u64,
        proofs.count
    );
    println!("digest: {digest_s:.2} s ({digest})");
    println!("replay: identical digest ({replay_s:.1} s to regenerate and re-apply into a second store)");
    println!(
        "snapshot: {} entries in {} chunks, {:.1} MB ({:.2} per canonical record byte), taken in {} ms; restored into a fresh store, every chunk checked, in {} ms ({:.1}x faster than the replay), identical digest",
        thousands(snapshot.entries),
        snapshot.chunks,
        mb(snapshot.bytes as f64),
        snapshot.bytes as f64 / stats.canonical_bytes.max(1) as f64,
        ms(snapshot.take_ms),
        ms(snapshot.restore_ms),
        replay_s * 1e3 / snapshot.restore_ms.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, default: usize) -> usize {
        std::env::var(name).ok().and_then(|v| v.replace(['_', ','], "").parse().ok()).unwrap_or(default)
    }

    /// A small run (override with COLDCHAIN_BENCH_TRACE_MOVEMENTS / _TRACES / _JSON=1 for a full one).
    #[test]
    fn bench_trace_small_run() {
        let opts = TraceBenchOptions {
            json: std::env::var("COLDCHAIN_BENCH_TRACE_JSON").is_ok_and(|v| v == "1"),
            movements: env("COLDCHAIN_BENCH_TRACE_MOVEMENTS", 20_000),
            traces: env("COLDCHAIN_BENCH_TRACE_TRACES", 200),
        };
        run(&opts).unwrap();
    }

    /// Every generated record applies, the same seed gives the same records,
    /// and a state in memory and one in a node's store hold the same entries.
    #[test]
    fn bench_trace_generator_is_valid_and_reproducible() {
        let dir = BenchDir::new("generator-test");
        let a = build(3_000, "a", None).unwrap();
        let b = build(3_000, "b", Some(&open_store(&dir.0).unwrap())).unwrap();
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.state.digest(), b.state.digest());
        assert_eq!(a.state.rejected_count(), 0);
        let s = &a.stats;
        assert_eq!(s.product_batch + s.shipment + s.receipt + s.stock_in + s.stock_out, 3_000);
        assert!(s.shipment > 0 && s.receipt > 0 && s.stock_in > 0 && s.stock_out > 0 && s.product_batch > s.lots / 2);
        let l = a.state.ledger();
        let senders: std::collections::BTreeSet<_> = l.scan_all(&coldchain_chaincode::state::ledger::MOVEMENTS).filter_map(|(_, m)| m.from).collect();
        let provinces: std::collections::BTreeSet<_> = senders.into_iter().map(|e| l.enterprise_at(e).province).collect();
        assert_eq!(provinces.len(), 3);
    }
}
