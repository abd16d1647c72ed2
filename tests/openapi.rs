//! The gateway's OpenAPI document (`GET /openapi.json`), fetched from a
//! running single-validator node:
//!
//! - it is OpenAPI 3.1: it parses with the `oas3` crate, and passes our
//!   own structural rules (every `$ref` resolves, every operation has
//!   responses with descriptions, every path template parameter is declared
//!   as a required path parameter and no other, operation ids are unique);
//! - it covers every route: its operations are exactly the routes declared
//!   in `coldchain_node::gateway::routes::declared`, from which the router
//!   is built, and each says who may call it (`x-coldchain-who`);
//! - every documented route is served (no answer is the router's fallback),
//!   with a status the document lists for it, and each enveloped answer
//!   conforms to the documented schema of that status;
//!   (tests/trace.rs checks real answers, after the demo story, the same way);
//! - the examples of `POST /v1/records` are seed 004 annex B's, with a GTIN
//!   whose GS1 check digit holds.

mod common;

use coldchain_node::gateway::routes;
use common::schema::{conforms, resolve};
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

#[test]
fn the_openapi_document_is_valid_and_covers_every_route() {
    let c = Cluster::start(1);
    let mut resp = agent().get(&c.url(0, "/openapi.json")).call().expect("GET /openapi.json");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let text = resp.body_mut().with_config().limit(16 << 20).read_to_string().unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert!(doc.get("success").is_none(), "the document is not wrapped in the envelope");

    // OpenAPI 3.1, as a parser of the specification reads it.
    let parsed = oas3::from_json(&text).unwrap_or_else(|e| panic!("not an OpenAPI 3.1 document: {e}"));
    assert!(parsed.openapi.starts_with("3.1"), "openapi {}", parsed.openapi);
    assert_eq!(parsed.info.version, env!("CARGO_PKG_VERSION"));
    assert!(!parsed.info.title.is_empty() && parsed.info.description.as_deref().is_some_and(|d| d.contains("envelope")));
    let tags: BTreeSet<&str> = parsed.tags.iter().map(|t| t.name.as_str()).collect();
    for audience in ["enterprises", "bureaus", "auditors", "operators", "national interface"] {
        assert!(tags.contains(audience), "no tag {audience}: {tags:?}");
    }

    // Our structural rules.
    let problems = structural_problems(&doc);
    assert!(problems.is_empty(), "the document breaks structural rules:\n{}", problems.join("\n"));

    // Every route, and nothing else.
    let declared = routes::declared();
    let routes: BTreeSet<(String, String)> = declared.iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    let documented: BTreeSet<(String, String)> = parsed
        .paths
        .iter()
        .flatten()
        .flat_map(|(path, item)| item.methods().into_iter().map(move |(method, _)| (method.to_string(), path.clone())))
        .collect();
    assert_eq!(documented, routes, "documented operations (left) and the gateway's routes (right) differ");

    // Every route is served, answers a documented status, and its envelope conforms.
    for route in &declared {
        let (method, path) = (route.method.as_str(), route.path.as_str());
        assert_eq!(doc["paths"][path][method.to_lowercase()]["x-coldchain-who"], route.who.label(), "{method} {path}");
        let url = c.url(0, &concrete(path));
        let agent = agent();
        let mut resp = match method {
            "GET" => agent.get(&url).call(),
            "POST" => agent.post(&url).header("content-type", "application/json").send("{}"),
            other => panic!("no request for method {other}"),
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let here = format!("{method} {path} answered {status} ({content_type})");
        let streaming = route.limit == routes::Limit::Stream;
        let body: Value =
            if streaming || !content_type.starts_with("application/json") { Value::Null } else { resp.body_mut().read_json().unwrap_or(Value::Null) };
        assert_ne!(status, 405, "{here}: the router does not serve this method");
        let fallback = status == 404 && body["message"].as_str().is_some_and(|m| m.starts_with("no route"));
        assert!(!fallback, "{here}: the router has no such route: {body}");
        let op = &doc["paths"][path][method.to_lowercase()];
        let response = resolve(&doc, &op["responses"][status.to_string()]);
        assert!(response.is_object(), "{here}: status {status} is not documented for this operation");
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let documented_media = response["content"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert!(
            documented_media.iter().any(|m| m.split(';').next().unwrap_or_default().trim() == media),
            "{here}: media type {media} is not documented for this status ({documented_media:?})"
        );
        if media == "application/json" && !body.is_null() && path != "/openapi.json" {
            let schema = &response["content"]["application/json"]["schema"];
            if let Err(e) = conforms(&doc, schema, &body, "") {
                panic!("{here}: the answer does not conform to the documented schema: {e}\n{body:#}");
            }
        }
    }

    // Seed 004 annex B's example, with a GTIN that passes the GS1 check.
    let examples = &doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]["examples"];
    let annex_b = &examples["annex_b_product_batch"];
    assert!(annex_b["description"].as_str().is_some_and(|d| d.contains("17896448006462")), "the change to the annex's GTIN is said");
    let gtin = annex_b["value"]["record"]["productLibraryId"].as_str().expect("annex B's productLibraryId");
    assert_eq!(gtin, coldchain_chaincode::identifiers::gtin_with_check(&gtin[..13]), "the example's GTIN check digit holds");
    assert_eq!(annex_b["value"]["record"]["quarantineInfo"]["quarantineNumber"], "531620211160071009001");
    assert_eq!(examples["annex_b_signed_request"]["value"]["type"], "product_batch");
}

/// A path template with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", &"0".repeat(64))
        .replace("{sha256}", &"0".repeat(64))
        .replace("{height}", "999999")
        .replace("{scheme}", "NO-SUCH-SCHEME")
        .replace("{code}", "NO-SUCH-CODE")
}

/// Every `$ref` resolves; every operation has responses, each with a
/// description; every path template parameter is declared (in the path
/// item or the operation) as a required path parameter, and no other path
/// parameter is; operation ids are unique; operations' tags are declared.
fn structural_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut refs = Vec::new();
    collect_refs(doc, "", &mut refs);
    for (at, r) in &refs {
        if r.strip_prefix('#').is_none_or(|p| doc.pointer(p).is_none()) {
            problems.push(format!("{at}: $ref {r} does not resolve"));
        }
    }
    assert!(!refs.is_empty(), "the document uses references (components)");
    let tags: BTreeSet<&str> = doc["tags"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    let mut ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        assert!(path.starts_with('/'), "path {path}");
        let template: BTreeSet<String> = path.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(name, _)| name.to_string())).collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let here = format!("{} {path}", method.to_uppercase());
            match op["responses"].as_object() {
                Some(responses) if !responses.is_empty() => {
                    for (status, r) in responses {
                        if !resolve(doc, r)["description"].is_string() {
                            problems.push(format!("{here}: response {status} has no description"));
                        }
                        if status != "default" && !status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)) {
                            problems.push(format!("{here}: response key {status} is not a status code"));
                        }
                    }
                }
                _ => problems.push(format!("{here}: no responses")),
            }
            match op["operationId"].as_str() {
                Some(id) if !ids.insert(id.to_string()) => problems.push(format!("{here}: operationId {id} used twice")),
                _ => {}
            }
            for tag in op["tags"].as_array().into_iter().flatten() {
                if !tags.contains(tag.as_str().unwrap_or_default()) {
                    problems.push(format!("{here}: tag {tag} is not declared"));
                }
            }
            if op["tags"].as_array().is_none_or(|t| t.is_empty()) {
                problems.push(format!("{here}: no tag"));
            }
            let params: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(op["parameters"].as_array().into_iter().flatten())
                .map(|p| resolve(doc, p))
                .collect();
            let mut declared = BTreeSet::new();
            for p in params.iter().filter(|p| p["in"] == "path") {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                if p["required"] != true {
                    problems.push(format!("{here}: path parameter {name} is not required"));
                }
                declared.insert(name);
            }
            if declared != template {
                problems.push(format!("{here}: path parameters declared {declared:?}, in the template {template:?}"));
            }
            for p in &params {
                if !["path", "query", "header", "cookie"].contains(&p["in"].as_str().unwrap_or_default()) || !p["name"].is_string() {
                    problems.push(format!("{here}: parameter {p} has no valid `in` and `name`"));
                }
            }
        }
    }
    problems
}

fn collect_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref"
                    && let Some(r) = v.as_str()
                {
                    out.push((at.to_string(), r.to_string()));
                }
                collect_refs(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                collect_refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}
