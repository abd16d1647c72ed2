//! Checks answers against the gateway's OpenAPI document: a small JSON
//! Schema check, enough for the schemas the gateway derives from its types.

use super::Cluster;
use serde_json::Value;
use std::collections::BTreeSet;

pub fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..16 {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix('#')).and_then(|p| doc.pointer(p)) {
            Some(target) => v = target,
            None => break,
        }
    }
    v
}

/// A small JSON Schema check, enough for the gateway's schemas: `$ref`,
/// `oneOf`, `allOf` (serde's `flatten`), `type`, `properties` (an
/// undocumented member is an error), `required` (an optional member may be
/// null), `items`, `additionalProperties`, `enum`.
pub fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    check(doc, schema, value, at, false)
}

/// `open`: members documented by another part of an `allOf` are allowed here.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, open: bool) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            check(doc, part, value, at, true)?;
        }
        if let Some(obj) = value.as_object() {
            let mut documented = BTreeSet::new();
            for part in parts {
                member_names(doc, part, &mut documented);
            }
            if let Some(k) = obj.keys().find(|k| !documented.contains(k.as_str())) {
                return Err(format!("{at}: member {k} is not documented"));
            }
        }
        return Ok(());
    }
    if let Some(alternatives) = schema["oneOf"].as_array() {
        let errors: Vec<String> = alternatives.iter().filter_map(|s| check(doc, s, value, at, open).err()).collect();
        return if errors.len() < alternatives.len() { Ok(()) } else { Err(format!("{at}: matches no alternative: {}", errors.join("; "))) };
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let fits = types.iter().any(|t| match *t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    });
    if !fits {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    if let Some(items) = schema.get("items")
        && let Some(a) = value.as_array()
    {
        for (i, v) in a.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(obj) = value.as_object() {
        let properties = schema["properties"].as_object();
        let required: BTreeSet<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for name in &required {
            if !obj.contains_key(*name) {
                return Err(format!("{at}: required member {name} is missing"));
            }
        }
        for (k, v) in obj {
            match properties.and_then(|p| p.get(k)) {
                Some(_) if v.is_null() && !required.contains(k.as_str()) => {}
                Some(s) => conforms(doc, s, v, &format!("{at}.{k}"))?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => return Err(format!("{at}: member {k} is not allowed")),
                    Value::Bool(true) => {}
                    Value::Object(_) => conforms(doc, &schema["additionalProperties"], v, &format!("{at}.{k}"))?,
                    _ if properties.is_some() && !open => return Err(format!("{at}: member {k} is not documented")),
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

/// The member names a schema documents, through `$ref`, `allOf` and `oneOf`.
fn member_names(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    let schema = resolve(doc, schema);
    out.extend(schema["properties"].as_object().into_iter().flat_map(|p| p.keys().cloned()));
    for part in schema["allOf"].as_array().into_iter().chain(schema["oneOf"].as_array()).flatten() {
        member_names(doc, part, out);
    }
}

/// Whether `path` is an instance of the route template `template`.
pub fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

/// GETs each `(path, reader, who)` at node `node` (a signed read as
/// `reader`, or as the public) and checks the 200 answer against the
/// schema that node's `/openapi.json` documents for the route.
pub fn assert_answers_conform(c: &Cluster, node: usize, reads: &[(String, Option<&ed25519_dalek::SigningKey>, &str)]) {
    let (status, doc) = super::get(&c.url(node, "/openapi.json"));
    assert_eq!(status, 200, "GET /openapi.json");
    let templates: Vec<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    for (path, reader, who) in reads {
        let (status, env) = c.read_as(node, path, *reader);
        assert_eq!(status, 200, "GET {path} as {who}: {env}");
        let bare = path.split('?').next().unwrap_or_default();
        let template = templates.iter().find(|t| matches_template(t, bare)).unwrap_or_else(|| panic!("no documented route for {path}"));
        let schema = &resolve(&doc, &doc["paths"][*template]["get"]["responses"]["200"])["content"]["application/json"]["schema"];
        if let Err(e) = conforms(&doc, schema, &env, "") {
            panic!("GET {path} as {who}: the answer does not conform to the documented schema: {e}\n{env:#}");
        }
    }
}
