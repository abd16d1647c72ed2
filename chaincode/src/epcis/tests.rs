use super::*;
use crate::scenario::{self, ENTERPRISES, HEBEI_CODE, RETAIL, Signer};
use crate::state::trace::Direction;
use crate::testkit::{Chain, admin_key, key};
use crate::{Outcome, Transaction};

/// GS1's EPCIS 2.0 JSON schema, as shipped (docs/schemas/README.md).
const SCHEMA: &str = include_str!("../../../docs/schemas/epcis-2.0.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::draft7::options().should_validate_formats(true).build(&schema).unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// The movements and code links: what a capture expresses.
const CAPTURED: [&str; 6] = ["shipment", "receipt", "stock_in", "stock_out", "code_link", "vehicle"];
/// What the story does after the lot is sold: not part of the trace compared.
const AFTER: [&str; 3] = ["alert", "alert_disposal", "notice"];

/// The demo story on a bare chain, leaving out the records of `skip`.
fn story(skip: &[&str]) -> Chain {
    let mut chain = Chain::new();
    let today = chain.ctx().date();
    for step in scenario::steps(today, |l| hex::encode(key(l).verifying_key().to_bytes())) {
        let kind = step.record["type"].as_str().unwrap().to_string();
        if skip.contains(&kind.as_str()) {
            continue;
        }
        let signer = match step.signer {
            Signer::Admin(b) => admin_key(b),
            Signer::Enterprise(l) => key(l),
        };
        let r = chain.submit(&signer, step.record);
        assert_eq!(r.outcome, Outcome::Applied, "{}", step.note);
    }
    chain
}

fn export(chain: &Chain, scheme: &str, code: &str) -> Value {
    let trace = chain.state.trace(scheme, code, Direction::Both).unwrap();
    let t = chain.time_ms;
    document(&trace, chain.state.ledger(), |_| Some(t), t).unwrap()
}

/// The enterprise (label) that records an exported event.
fn actor(e: &Value) -> &'static str {
    let uri = match e["bizStep"].as_str().unwrap() {
        "shipping" | "departing" => e["sourceList"][0]["source"].as_str(),
        "receiving" | "storing" => e["destinationList"][0]["destination"].as_str(),
        _ => e["readPoint"]["id"].as_str(),
    }
    .unwrap();
    let uscc = uri.rsplit(':').next().unwrap();
    ENTERPRISES.iter().map(|e| e.0).find(|l| scenario::uscc(l) == uscc).unwrap_or_else(|| panic!("no enterprise {uscc}"))
}

fn envelope(events: Vec<Value>) -> Value {
    json!({"@context": [CONTEXT, {"coldchain": NAMESPACE}], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2026-11-24T02:00:00.000Z", "epcisBody": {"eventList": events}})
}

/// Captures `doc` for the enterprise `label` into `chain` as one block: the
/// mapped records signed by its key, checked in order, then applied.
fn capture_into(chain: &mut Chain, label: &str, doc: &Value) -> Result<(), EpcisError> {
    let captured = capture(doc, &scenario::uscc(label), chain.state.ledger())?;
    let txs: Vec<Transaction> = captured.iter().map(|c| chain.sign(&key(label), c.record.clone())).collect();
    let ids: Vec<(crate::TxId, &Transaction)> = txs.iter().map(|t| (t.id(), t)).collect();
    let ctx = crate::BlockContext { height: chain.height + 1, time_ms: chain.time_ms };
    chain.state.check_sequence(ctx, &ids).map_err(|(i, e)| refusal(&captured, i, &e))?;
    for r in chain.block(&txs) {
        assert_eq!(r.outcome, Outcome::Applied);
    }
    Ok(())
}

/// A trace as JSON without what differs between two chains by
/// construction: transaction ids and heights.
fn comparable(chain: &Chain, scheme: &str, code: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("tx");
                m.remove("height");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(chain.state.trace(scheme, code, Direction::Both).unwrap()).unwrap();
    strip(&mut v);
    v
}

#[test]
fn the_demo_trace_exports_as_an_epcis_document_that_gs1s_schema_accepts() {
    let mut chain = Chain::new();
    scenario::play(&mut chain);
    let doc = export(&chain, RETAIL.0, RETAIL.1);
    let v = validator();
    assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{doc:#}");
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    let steps: Vec<&str> = events.iter().map(|e| e["bizStep"].as_str().unwrap()).collect();
    // Entry; Hebei ships, Tianjin receives, stores, relabels, stocks out; Beijing relabels,
    // ships to each retailer, who receives; a retailer relabels.
    assert_eq!(
        steps,
        [
            "commissioning",
            "shipping",
            "receiving",
            "storing",
            "commissioning",
            "departing",
            "commissioning",
            "shipping",
            "receiving",
            "shipping",
            "receiving",
            "commissioning"
        ]
    );
    let receipt = &events[2];
    assert_eq!(receipt["quantityList"][0], json!({"epcClass": "https://id.gs1.org/01/06901234001235/10/L1", "quantity": 798}));
    assert_eq!(receipt["quantityList"][1], json!({"epcClass": "https://id.gs1.org/01/06901234001235/10/L1", "quantity": 15960, "uom": "KGM"}));
    assert_eq!(receipt["sourceList"][0]["source"], format!("urn:coldchain:party:{}", scenario::uscc("hebei-importer")));
    assert_eq!(events[3]["bizLocation"]["id"], format!("urn:coldchain:storage:{}:{}", scenario::uscc("tianjin-storage"), enc("东疆港1号冷库")));
    assert_eq!(events[1]["coldchain:vehicles"][0]["licensePlate"], "冀B12345");
    // Hebei's code is GS1: a Digital Link; Tianjin's is not.
    assert_eq!(events[4]["inputEPCList"][0], "https://id.gs1.org/01/06901234001235/10/1BY9066");
    assert_eq!(events[4]["outputEPCList"][0], "urn:coldchain:code:TJ-ZS:TJ2026112000000001");
    // The validator is live: documents that break the schema fail it.
    let mut no_time = doc.clone();
    no_time["epcisBody"]["eventList"][1].as_object_mut().unwrap().remove("eventTime");
    assert!(!errors(&v, &no_time).is_empty(), "an event without eventTime");
    let mut bad_action = doc.clone();
    bad_action["epcisBody"]["eventList"][2]["action"] = json!("MOVE");
    assert!(!errors(&v, &bad_action).is_empty(), "an unknown action");
    let mut bad_uom = doc.clone();
    bad_uom["epcisBody"]["eventList"][2]["quantityList"][1]["uom"] = json!("kilograms");
    assert!(!errors(&v, &bad_uom).is_empty(), "a uom that is no UN/CEFACT code");
}

#[test]
fn capturing_the_demos_movements_reproduces_the_demos_trace() {
    let demo = story(&AFTER);
    let doc = export(&demo, RETAIL.0, RETAIL.1);
    // A chain with the story's enterprises, schemes, products, cold storage,
    // lot and reports, and none of its movements or code links.
    let mut skip = CAPTURED.to_vec();
    skip.extend(AFTER);
    let mut fresh = story(&skip);
    assert!(fresh.state.trace(RETAIL.0, RETAIL.1, Direction::Both).is_err(), "no retail code before the capture");
    // Each enterprise captures its own events, in the order the demo recorded them.
    let events: Vec<Value> = doc["epcisBody"]["eventList"].as_array().unwrap().iter().filter(|e| e["action"] != "ADD").cloned().collect();
    let mut runs: Vec<(&str, Vec<Value>)> = Vec::new();
    for e in events {
        let who = actor(&e);
        match runs.last_mut() {
            Some((w, run)) if *w == who => run.push(e),
            _ => runs.push((who, vec![e])),
        }
    }
    assert!(runs.len() >= 5, "{} documents", runs.len());
    for (who, run) in runs {
        capture_into(&mut fresh, who, &envelope(run)).unwrap_or_else(|e| panic!("{who}: {e}"));
    }
    for (scheme, code) in [RETAIL, ("HE-GS1", HEBEI_CODE)] {
        assert_eq!(comparable(&fresh, scheme, code), comparable(&demo, scheme, code), "trace from {scheme} {code}");
    }
    let steps = fresh.state.trace(RETAIL.0, RETAIL.1, Direction::Both).unwrap().steps;
    assert_eq!(steps.len(), 6);
    // The lot's history is the same graph: every movement from its entry.
    let lot = fresh.state.ledger().code(RETAIL.0, RETAIL.1).unwrap().lot;
    let history = serde_json::to_value(fresh.state.lot_history(lot)).unwrap();
    let from_code = serde_json::to_value(fresh.state.trace(RETAIL.0, RETAIL.1, Direction::Both).unwrap()).unwrap();
    assert_eq!(history["steps"], from_code["steps"]);
    assert_eq!(history["codes"], from_code["codes"]);
    assert!(steps.iter().any(|s| s.received.as_ref().is_some_and(|r| r.short_pieces == 2)), "the two damaged cartons");
}

#[test]
fn a_capture_with_one_bad_event_is_refused_whole_naming_the_event_and_field() {
    let demo = story(&AFTER);
    let doc = export(&demo, RETAIL.0, RETAIL.1);
    let mut skip = CAPTURED.to_vec();
    skip.extend(AFTER);
    let mut fresh = story(&skip);
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    let (ship, receive) = (events[1].clone(), events[2].clone());
    fresh.submit(&key("hebei-importer"), json!({"type": "notarise", "document": {"n": 1}}));
    capture_into(&mut fresh, "hebei-importer", &envelope(vec![ship])).unwrap();
    let digest = fresh.state.digest();
    // Tianjin receives, then stores 900 of the 798 received.
    let stored = events[3].clone();
    let mut too_many = stored.clone();
    too_many["quantityList"][0]["quantity"] = json!(900);
    let e = capture_into(&mut fresh, "tianjin-storage", &envelope(vec![receive.clone(), too_many])).unwrap_err();
    assert_eq!(e.field, "epcisBody.eventList[1].quantityList");
    assert!(e.rule.starts_with("as stock_in: record.productList[0].numberOfPieces: takes 900 pieces"), "{}", e.rule);
    assert_eq!(fresh.state.digest(), digest, "nothing of the document is stored, not even its good receipt");
    // An event that maps to no record.
    let mut unknown = stored.clone();
    unknown["bizStep"] = json!("inspecting");
    let e = capture_into(&mut fresh, "tianjin-storage", &envelope(vec![receive.clone(), unknown])).unwrap_err();
    assert_eq!(e.field, "epcisBody.eventList[1].bizStep");
    assert!(e.rule.contains("\"inspecting\" is not mapped"), "{}", e.rule);
    // Another enterprise's event.
    let e = capture_into(&mut fresh, "beijing-wholesaler", &envelope(vec![receive.clone()])).unwrap_err();
    assert_eq!(e.field, "epcisBody.eventList[0].destinationList");
    // Without quantities' weight.
    let mut no_weight = receive.clone();
    no_weight["quantityList"].as_array_mut().unwrap().pop();
    let e = capture_into(&mut fresh, "tianjin-storage", &envelope(vec![no_weight])).unwrap_err();
    assert_eq!((e.field.as_str(), e.rule.contains("needs its weight")), ("epcisBody.eventList[0].quantityList[0]", true), "{e}");
    assert_eq!(fresh.state.digest(), digest);
    // The same two events, right: both stored.
    capture_into(&mut fresh, "tianjin-storage", &envelope(vec![receive, stored])).unwrap();
    assert_ne!(fresh.state.digest(), digest);
}

/// The fenced block of `lang` in docs/RECORDS.md's "EPCIS 2.0" section.
fn records_md_block(lang: &str) -> String {
    let doc = include_str!("../../../docs/RECORDS.md");
    let section = &doc[doc.find("\n## EPCIS 2.0").expect("an EPCIS 2.0 section")..];
    let start = section.find(&format!("```{lang}\n")).unwrap_or_else(|| panic!("a ```{lang} block")) + lang.len() + 4;
    section[start..start + section[start..].find("```").unwrap()].to_string()
}

#[test]
fn the_worked_example_of_records_md_is_valid_and_captures_as_shown() {
    let doc: Value = serde_json::from_str(&records_md_block("jsonld")).unwrap();
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    let shown: Vec<Value> = records_md_block("jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let chain = Chain::new();
    let captured = capture(&doc, &scenario::uscc("tianjin-storage"), chain.state.ledger()).unwrap();
    assert_eq!(captured.iter().map(|c| c.event).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(captured.into_iter().map(|c| c.record).collect::<Vec<_>>(), shown);
}
