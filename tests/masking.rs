//! Least privilege on four real nodes, with the demo story's data: the same
//! record read as the public, as its enterprise, as its bureau, as another
//! province's bureau without and then with an open alert shows exactly what
//! each may see; the cross-province read inside the alert is itself a
//! transaction the owning province can audit; proofs carry the record only
//! for those who may see it in full, and prove the transaction id to others.

mod common;

use common::story::*;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// GET as `reader` (a signed read), or as the public.
fn read(c: &Cluster, node: usize, path: &str, reader: Option<&SigningKey>) -> (u16, Value) {
    let mut req = agent().get(c.url(node, path));
    if let Some(key) = reader {
        for (name, value) in signed_read(c, node, path, key) {
            req = req.header(name, value);
        }
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

/// The four headers of a signed read of `path` at `node` by `key`, with a fresh nonce.
fn signed_read(c: &Cluster, node: usize, path: &str, key: &SigningKey) -> Vec<(&'static str, String)> {
    c.signed_read(node, path, key)
}

/// GET with exactly these headers: (status, envelope).
fn read_with(c: &Cluster, node: usize, path: &str, headers: &[(&'static str, String)]) -> (u16, Value) {
    let mut req = agent().get(c.url(node, path));
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

/// The enrolment record of the Hebei importer as `reader` sees it.
fn enrolment(c: &Cluster, id: &str, reader: Option<&SigningKey>) -> Value {
    let (code, env) = read(c, 1, &format!("/v1/tx/{id}"), reader);
    assert_eq!(code, 200, "{env}");
    env["result"]["transaction"]["record"].clone()
}

fn contact(record: &Value) -> (String, String) {
    (record["Contact"].as_str().unwrap().to_string(), record["Contact_phone"].as_str().unwrap().to_string())
}

#[test]
fn each_role_sees_exactly_what_it_may_and_cross_province_reads_are_on_chain() {
    let c = Cluster::start(4);
    c.advance(0, 1);
    c.wait_height(&[0, 1, 2, 3], 1, LONG);
    // The story up to the retail sale (wave 11), before any alert.
    let story = run_story(&c, 11);
    let importer_uscc = coldchain_chaincode::scenario::uscc("hebei-importer");
    let importer_enrolment = story
        .steps
        .iter()
        .filter(|s| s.kind == "enterprise")
        .find(|s| {
            let (_, env) = get(&c.url(0, &format!("/v1/tx/{}", s.tx_id)));
            env["result"]["transaction"]["record"]["Unif_soci_cred_code"] == importer_uscc.as_str()
        })
        .expect("the importer's enrolment");
    let id = importer_enrolment.tx_id.clone();
    let (hebei, beijing) = (admin_key(&c, "hebei"), admin_key(&c, "beijing"));
    let importer = story.keys["hebei-importer"].clone();
    let retailer = story.keys["beijing-retailer-a"].clone();

    let full = ("张经理".to_string(), "13812340588".to_string());
    let masked = ("张**".to_string(), "138****0588".to_string());
    assert_eq!(contact(&enrolment(&c, &id, None)), masked, "the public");
    assert_eq!(contact(&enrolment(&c, &id, Some(&retailer))), masked, "another province's enterprise");
    assert_eq!(contact(&enrolment(&c, &id, Some(&importer))), full, "the enterprise itself");
    assert_eq!(contact(&enrolment(&c, &id, Some(&hebei))), full, "its own bureau");
    assert_eq!(contact(&enrolment(&c, &id, Some(&beijing))), masked, "another bureau, no alert");
    let public = enrolment(&c, &id, None);
    assert_eq!(public["Ent_name"], "唐山曹妃甸冷链贸易有限公司", "names and codes stay readable");

    // The trace of the Beijing retail pack, role by role (least privilege,
    // docs/SECURITY.md "Who sees what").
    use coldchain_chaincode::scenario::uscc;
    let trace_path = format!("/v1/trace?scheme=BJ-ZS&code={}", coldchain_chaincode::scenario::BEIJING_RETAIL_CODE);
    let usccs = |env: &Value| -> Vec<String> {
        env["result"]["enterprises"].as_array().unwrap().iter().map(|e| e["uscc"].as_str().unwrap().to_string()).collect()
    };
    let enterprise = |env: &Value, u: &str| env["result"]["enterprises"].as_array().unwrap().iter().find(|e| e["uscc"] == u).cloned().unwrap();
    let provinces_of_steps = |env: &Value| -> Vec<(String, String)> {
        let province = |u: &Value| {
            env["result"]["enterprises"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["uscc"] == *u)
                .map(|e| e["province"].as_str().unwrap().to_string())
                .unwrap_or_default()
        };
        env["result"]["steps"].as_array().unwrap().iter().map(|s| (province(&s["from"]), province(&s["to"]))).collect()
    };
    // The public: the consumer view, no enterprise, no step, no graph.
    let (code, public_trace) = read(&c, 0, &trace_path, None);
    assert_eq!(code, 200, "{public_trace}");
    let r = &public_trace["result"];
    assert_eq!(r["view"], "consumer", "{r:#}");
    assert!(r.get("enterprises").is_none() && r.get("steps").is_none() && r.get("lot").is_none(), "{r:#}");
    assert_eq!(r["provinces"], json!(["130000", "120000", "110000"]), "{r:#}");
    assert_eq!(
        (r["alert_open"].as_bool(), r["product"]["product_name"].is_string(), r["certificate"]["quarantine_number"].is_string()),
        (Some(false), true, true)
    );
    assert!(!public_trace.to_string().contains(&uscc("tianjin-storage")), "no trading partner named to the public");
    let (code, env) = read(&c, 0, &format!("{trace_path}&format=csv"), None);
    assert_eq!((code, env["result"]["error"].as_str()), (403, Some("forbidden")), "the public gets no custody file: {env}");
    let (_, codes) = read(&c, 0, &format!("/v1/codes/BJ-ZS/{}", coldchain_chaincode::scenario::BEIJING_RETAIL_CODE), None);
    assert!(codes["result"]["lot"].get("consignee").is_none() && codes["result"]["codes"][0].get("issuer_uscc").is_none(), "{codes:#}");
    // Beijing's bureau, no alert: the steps with an end in Beijing, its own
    // enterprises in full, the Tianjin store it bought from masked and
    // without holdings; Hebei's importer not at all.
    let (_, env) = read(&c, 0, &trace_path, Some(&beijing));
    assert_eq!(env["result"]["view"], "bureau", "{env}");
    assert!(provinces_of_steps(&env).iter().all(|(from, to)| from == "110000" || to == "110000"), "{:?}", provinces_of_steps(&env));
    assert!(env["result"]["withheld_steps"].as_u64().unwrap() >= 2, "{env}");
    assert!(!usccs(&env).contains(&importer_uscc), "{env}");
    let store = enterprise(&env, &uscc("tianjin-storage"));
    assert_eq!((store["contact_phone"].as_str(), store.get("holds_pieces")), (Some("138****0588"), None), "{store}");
    let wholesaler = enterprise(&env, &uscc("beijing-wholesaler"));
    assert_eq!((wholesaler["contact_phone"].as_str(), wholesaler["holds_pieces"].is_u64()), (Some("13812340588"), true), "{wholesaler}");
    // The retailer on the trace: its own steps, itself and the wholesaler it bought from.
    let (_, env) = read(&c, 0, &trace_path, Some(&retailer));
    assert_eq!(env["result"]["view"], "enterprise", "{env}");
    let mut seen = usccs(&env);
    seen.sort();
    let mut expected = vec![uscc("beijing-retailer-a"), uscc("beijing-wholesaler")];
    expected.sort();
    assert_eq!(seen, expected, "{env}");
    assert!(enterprise(&env, &uscc("beijing-wholesaler")).get("holds_pieces").is_none(), "{env}");
    // An enterprise not on the (backward) trace gets the consumer view.
    let (_, env) = read(&c, 0, &format!("{trace_path}&direction=backward"), Some(&story.keys["beijing-retailer-b"]));
    assert_eq!(env["result"]["view"], "consumer", "{env}");
    let (code, _) = read(&c, 0, "/v1/access-log", Some(&hebei));
    assert_eq!(code, 200);

    // Proofs: the record for its enterprise; only the transaction id for the public.
    let (_, env) = read(&c, 2, &format!("/v1/proofs/{id}"), None);
    assert!(env["result"]["transaction"].is_null() && env["result"]["tx_id"] == id.as_str(), "{env}");
    let (_, env) = read(&c, 2, &format!("/v1/proofs/{id}"), Some(&hebei));
    assert_eq!(env["result"]["transaction"]["record"]["Contact_phone"], "13812340588");

    // An auditor registered by Hebei's bureau gets the proof with the record, and masked data elsewhere.
    let auditor = enterprise_key(99);
    let record = json!({"type": "auditor", "name": "河北省审计厅", "publicKey": hex::encode(auditor.verifying_key().to_bytes())});
    let (body, _) = sign_record(&story.chain_id, &hebei, record);
    let (code, env) = post(&c.url(2, "/v1/records?wait=finalized"), &body);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    c.wait_height(&[1, 2], env["result"]["height"].as_u64().unwrap(), LONG);
    let (_, env) = read(&c, 2, &format!("/v1/proofs/{id}"), Some(&auditor));
    assert_eq!(env["result"]["transaction"]["record"]["Contact_phone"], "13812340588", "{env}");
    assert_eq!(contact(&enrolment(&c, &id, Some(&auditor))), masked, "an auditor's data view is masked");
    // Its trace: as the bureau that registered it (Hebei's steps), masked.
    let (_, env) = read(&c, 2, &trace_path, Some(&auditor));
    assert_eq!(env["result"]["view"], "auditor", "{env}");
    assert!(provinces_of_steps(&env).iter().all(|(from, to)| from == "130000" || to == "130000") && !provinces_of_steps(&env).is_empty(), "{env}");
    assert_eq!(enterprise(&env, &importer_uscc)["contact_phone"], "138****0588", "{env}");
    // A captured signed read is worth nothing a second time, at any node:
    // its nonce is spent here and the signature names this node.
    let path = format!("/v1/tx/{id}");
    let captured = signed_read(&c, 1, &path, &hebei);
    assert_eq!(read_with(&c, 1, &path, &captured).0, 200);
    let (code, env) = read_with(&c, 1, &path, &captured);
    assert_eq!((code, env["result"]["error"].as_str()), (401, Some("replayed_nonce")), "{env}");
    for node in [0, 2, 3] {
        let (code, env) = read_with(&c, node, &path, &captured);
        assert_eq!((code, env["result"]["field"].as_str()), (401, Some("x-coldchain-signature")), "node {node}: {env}");
    }
    let stranger = enterprise_key(98);
    assert_eq!(read(&c, 1, &format!("/v1/tx/{id}"), Some(&stranger)).0, 401, "an unknown key is refused, not read as the public");

    // Beijing raises an alert on the retail pack (wave 12): inside its trace,
    // Beijing's bureau now sees Hebei's importer in full, and that read is a
    // transaction Hebei's bureau can see.
    let before: usize = {
        let (_, env) = read(&c, 0, "/v1/access-log", Some(&hebei));
        env["result"].as_array().unwrap().len()
    };
    let steps = coldchain_chaincode::scenario::steps(today(), |label| hex::encode(story.keys[label].verifying_key().to_bytes()));
    let alert_step = steps.iter().find(|s| s.wave == 12).expect("the story's alert");
    let (body, alert) = sign_record(&story.chain_id, &beijing, alert_step.record.clone());
    let (code, env) = post(&c.url(0, "/v1/records?wait=finalized"), &body);
    assert_eq!((code, env["result"]["state"].as_str()), (200, Some("finalized")), "{env}");
    assert_eq!(contact(&enrolment(&c, &id, Some(&beijing))), full, "another bureau inside an open alert's trace");
    assert_eq!(contact(&enrolment(&c, &id, None)), masked, "the public, still");
    let log = wait_for("the cross-province read on chain", LONG, || {
        let (_, env) = read(&c, 3, "/v1/access-log", Some(&hebei));
        let entries = env["result"].as_array().cloned().unwrap_or_default();
        (entries.len() > before).then(|| entries.last().cloned().unwrap())
    });
    assert_eq!(log["reader"], "110000", "{log}");
    assert_eq!(log["alert"], alert.as_str(), "{log}");
    assert!(log["provinces"].as_array().unwrap().contains(&json!("130000")), "{log}");
    assert!(log["what"].as_str().unwrap().contains(&id), "{log}");
    // Inside the open alert Beijing's bureau sees every step and enterprise;
    // the public learns that an alert is open, nothing more.
    let (_, env) = read(&c, 0, &trace_path, Some(&beijing));
    assert_eq!((env["result"]["view"].as_str(), env["result"]["withheld_steps"].as_u64()), (Some("alert"), Some(0)), "{env}");
    assert!(usccs(&env).contains(&importer_uscc) && enterprise(&env, &importer_uscc)["contact_phone"] == "13812340588", "{env}");
    let (_, env) = read(&c, 0, &trace_path, None);
    assert_eq!((env["result"]["view"].as_str(), env["result"]["alert_open"].as_bool()), (Some("consumer"), Some(true)), "{env}");
    // The public may not read the access log: it is asked to sign (401); an enterprise is refused (403).
    assert_eq!(read(&c, 0, "/v1/access-log", None).0, 401);
    assert_eq!(read(&c, 0, "/v1/access-log", Some(&importer)).0, 403);
}
