//! `docs/RECORDS.md` is the reference for every record type. Its ```json
//! blocks are one story, and this test applies them in page order to one
//! testkit chain: every block must apply.
//!
//! The HTML comment before each block names the key that signs it:
//! `<!-- signer: admin:hebei -->` (`testkit::admin_key`), `validator:beijing`
//! (`testkit::validator_key`), `enterprise:hebei-importer` (`testkit::key`).
//! Several signers, comma-separated, apply the same block once per signer (a
//! dictionary amendment's approvals). The string `"<alert>"` in a block stands
//! for the transaction id of the most recent applied `alert`.

use coldchain_chaincode::records::RECORD_TYPES;
use coldchain_chaincode::testkit::{self, Chain};
use coldchain_chaincode::{Outcome, TxId};
use ed25519_dalek::SigningKey;
use serde_json::Value;
use std::collections::BTreeSet;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/RECORDS.md");

struct Example {
    /// 1-based line of the opening fence.
    line: usize,
    signers: Vec<String>,
    text: String,
}

/// Every ```json block in order, with the signers of the comment before it.
fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut pending: Option<Vec<String>> = None;
    let mut lines = doc.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("<!--").and_then(|r| r.strip_suffix("-->")) {
            if let Some(list) = rest.trim().strip_prefix("signer:") {
                pending = Some(list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
            }
            continue;
        }
        if t == "```json" {
            let signers =
                pending.take().unwrap_or_else(|| panic!("{PATH}:{}: a ```json block needs a <!-- signer: … --> comment right before it", i + 1));
            let mut text = String::new();
            loop {
                let (_, l) = lines.next().unwrap_or_else(|| panic!("{PATH}:{}: unterminated ```json block", i + 1));
                if l.trim() == "```" {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            out.push(Example { line: i + 1, signers, text });
        } else if !t.is_empty() && pending.is_some() {
            panic!("{PATH}:{}: a signer comment must come right before its ```json block", i + 1);
        }
    }
    out
}

fn signing_key(signer: &str, line: usize) -> SigningKey {
    match signer.split_once(':') {
        Some(("admin", bureau)) => testkit::admin_key(bureau),
        Some(("validator", bureau)) => testkit::validator_key(bureau),
        Some(("enterprise", label)) => testkit::key(label),
        _ => panic!("{PATH}:{line}: signer \"{signer}\" is not admin:BUREAU, validator:BUREAU or enterprise:LABEL"),
    }
}

#[test]
fn every_example_in_records_md_applies_in_order() {
    let doc = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("reading {PATH}: {e}"));
    let examples = examples(&doc);
    assert!(!examples.is_empty(), "{PATH} has no ```json blocks");
    let mut chain = Chain::new();
    let mut last_alert: Option<TxId> = None;
    let mut types = BTreeSet::new();
    for ex in &examples {
        let text = match (ex.text.contains("\"<alert>\""), last_alert) {
            (false, _) => ex.text.clone(),
            (true, Some(id)) => ex.text.replace("\"<alert>\"", &format!("\"{id}\"")),
            (true, None) => panic!("{PATH}:{}: \"<alert>\" is used before any alert applied", ex.line),
        };
        let record: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PATH}:{}: the block is not JSON: {e}", ex.line));
        let kind = record["type"].as_str().unwrap_or_else(|| panic!("{PATH}:{}: the record has no string \"type\"", ex.line)).to_string();
        types.insert(kind.clone());
        for signer in &ex.signers {
            let key = signing_key(signer, ex.line);
            let receipt = chain.submit(&key, record.clone());
            match receipt.outcome {
                Outcome::Applied => {}
                Outcome::Rejected { field, rule } => {
                    panic!("{PATH}:{}: the {kind} example signed by {signer} was rejected: field `{field}`: {rule}", ex.line)
                }
            }
            if kind == "alert" {
                last_alert = Some(receipt.tx_id);
            }
        }
    }
    let missing: Vec<&str> = RECORD_TYPES.iter().copied().filter(|t| !types.contains(*t)).collect();
    assert!(missing.is_empty(), "{PATH} has no example of: {}", missing.join(", "));
}
