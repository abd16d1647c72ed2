//! The demo story (chaincode/src/scenario.rs) played on a test cluster
//! through its gateways, wave by wave, as `coldchain demo` plays it; and the
//! signing helpers it needs.

use super::{Cluster, enterprise_key, get, post};
use coldchain_chaincode::{Transaction, scenario};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// A nonce no other transaction of this process uses (as `coldchain` does:
/// milliseconds × 1000 plus a counter).
pub fn nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = chrono::Utc::now().timestamp_millis() as u64;
    ((ms % (1 << 42)) * 1000 + COUNTER.fetch_add(1, Ordering::Relaxed) % 1000) & coldchain_chaincode::transaction::MAX_NONCE
}

/// Signs like `coldchain`'s client (`cli/src/client.rs::sign_record`): Base64
/// images are replaced by `sha256:<hex>` in what is signed, while the request
/// still carries the images. Returns the request body and the transaction id.
pub fn sign_record(chain_id: &str, key: &SigningKey, record: Value) -> (Value, String) {
    let mut signed_form = record.clone();
    let images = coldchain_chaincode::images::extract(&mut signed_form).unwrap();
    let tx = Transaction::sign(chain_id, nonce(), signed_form, key);
    let id = tx.id().to_string();
    let mut value = serde_json::to_value(&tx).unwrap();
    if !images.is_empty() {
        value["record"] = record;
    }
    (value, id)
}

pub fn admin_key(c: &Cluster, bureau: &str) -> SigningKey {
    coldchain_node::crypto::read_key_file(&c.dir.path().join(bureau).join("admin.key")).unwrap()
}

/// Each story enterprise's key, from a fixed seed.
pub fn story_keys() -> BTreeMap<&'static str, SigningKey> {
    scenario::ENTERPRISES.iter().enumerate().map(|(i, e)| (e.0, enterprise_key(40 + i as u8))).collect()
}

/// "Today" as the chain's date rules see it (China Standard Time).
pub fn today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

pub struct StoryStep {
    pub note: &'static str,
    pub wave: u32,
    /// The node the step was submitted through.
    pub node: usize,
    pub kind: String,
    pub tx_id: String,
    pub height: u64,
}

pub struct Story {
    pub chain_id: String,
    pub keys: BTreeMap<&'static str, SigningKey>,
    pub steps: Vec<StoryStep>,
    pub alert_id: Option<String>,
}

/// Runs the story's waves `1..=last_wave` as `coldchain demo` does: each wave
/// one `POST /v1/records/batch?wait=finalized`, wave `w` through node
/// `w % 4`; every result finalized and every outcome applied. `u32::MAX`
/// runs the whole story.
pub fn run_story(c: &Cluster, last_wave: u32) -> Story {
    let chain_id = c.chain_id();
    let keys = story_keys();
    let admins: BTreeMap<&str, SigningKey> = ["beijing", "tianjin", "hebei"].into_iter().map(|b| (b, admin_key(c, b))).collect();
    let steps = scenario::steps(today(), |label| hex::encode(keys[label].verifying_key().to_bytes()));
    let mut done = Vec::new();
    let mut alert_id: Option<String> = None;
    let story_waves = steps.iter().map(|s| s.wave).max().unwrap();
    for wave in 1..=last_wave.min(story_waves) {
        let node = wave as usize % c.nodes.len();
        // A wave builds on the ones before: the node it goes through checks it
        // against its own state, so wait until that node has their blocks.
        if let Some(h) = done.iter().map(|s: &StoryStep| s.height).max() {
            c.wait_height(&[node], h, LONG);
        }
        let wave_steps: Vec<&scenario::Step> = steps.iter().filter(|s| s.wave == wave).collect();
        let mut bodies = Vec::new();
        let mut ids = Vec::new();
        for step in &wave_steps {
            let key = match step.signer {
                scenario::Signer::Admin(b) => &admins[b],
                scenario::Signer::Enterprise(l) => &keys[l],
            };
            let mut record = step.record.clone();
            if record.get("alertId").is_some() {
                record["alertId"] = json!(alert_id.clone().expect("the alert comes before its disposals"));
            }
            let (body, id) = sign_record(&chain_id, key, record);
            bodies.push(body);
            ids.push(id);
        }
        let (code, env) = post(&c.url(node, "/v1/records/batch?wait=finalized"), &Value::Array(bodies));
        assert_eq!(code, 200, "wave {wave}: {env}");
        let results = env["result"]["results"].as_array().unwrap();
        assert_eq!(results.len(), wave_steps.len(), "wave {wave}: {env}");
        for ((step, id), r) in wave_steps.iter().zip(ids).zip(results) {
            assert_eq!(r["state"], "finalized", "wave {wave}, step \"{}\": {r}", step.note);
            assert_eq!(r["tx_id"], id.as_str(), "step \"{}\"", step.note);
            let kind = step.record["type"].as_str().unwrap().to_string();
            if kind == "alert" {
                alert_id = Some(id.clone());
            }
            done.push(StoryStep { note: step.note, wave, node, kind, tx_id: id, height: r["height"].as_u64().unwrap() });
        }
    }
    // A record refused at finalization would show in its receipt.
    for s in &done {
        let (code, env) = get(&c.url(s.node, &format!("/v1/tx/{}", s.tx_id)));
        assert_eq!(code, 200, "{env}");
        let tx = &env["result"];
        assert_eq!(tx["outcome"]["status"], "applied", "step \"{}\" (wave {}): {}", s.note, s.wave, tx["outcome"]);
    }
    Story { chain_id, keys, steps: done, alert_id }
}
