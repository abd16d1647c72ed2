//! A small blocking client for the gateway's JSON envelope.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::time::Duration;

pub struct Gateway {
    pub(crate) base: String,
    pub(crate) agent: ureq::Agent,
    /// Signs reads (`x-coldchain-key`/`-timestamp`/`-signature`) as a
    /// bureau, enterprise or auditor, so the node shows what that role may see.
    reader: Option<ed25519_dalek::SigningKey>,
    /// The validator key of the node behind `base`, which signed reads name
    /// (asked once, from `/v1/status`).
    node_key: std::sync::OnceLock<String>,
}

/// An envelope as the gateway sends it.
pub struct Answer {
    pub status: u16,
    pub envelope: Value,
}

impl Answer {
    /// The result of a successful answer, or an error quoting the envelope.
    pub fn into_result(self) -> Result<Value> {
        if self.envelope["success"] == Value::Bool(true) {
            Ok(self.envelope["result"].clone())
        } else {
            bail!("gateway answered {}: {}", self.status, describe_error(&self.envelope))
        }
    }
}

pub fn describe_error(envelope: &Value) -> String {
    let msg = envelope["message"].as_str().unwrap_or("(no message)");
    if let (Some(field), Some(rule)) = (envelope["result"]["field"].as_str(), envelope["result"]["rule"].as_str())
        && !msg.contains(field)
    {
        return format!("{msg}: field `{field}`: {rule}");
    }
    match envelope["result"]["error"].as_str() {
        Some(code) => format!("{msg} [{code}]"),
        None => msg.to_string(),
    }
}

impl Gateway {
    pub fn new(base: &str) -> Gateway {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into();
        Gateway { base: base.trim_end_matches('/').to_string(), agent, reader: None, node_key: std::sync::OnceLock::new() }
    }

    /// Reads signed with `key` (docs/FORMATS.md, "Signed reads").
    pub fn reading_as(mut self, key: Option<ed25519_dalek::SigningKey>) -> Gateway {
        self.reader = key;
        self
    }

    /// The public key of the validator this gateway belongs to.
    fn node_key(&self) -> Result<&str> {
        if let Some(key) = self.node_key.get() {
            return Ok(key);
        }
        let url = format!("{}/v1/status", self.base);
        let status = read(self.agent.get(&url).call().with_context(|| format!("GET {url}"))?)?.into_result()?;
        let key = status["validator"]["public_key"].as_str().context("/v1/status names no validator.public_key")?.to_string();
        Ok(self.node_key.get_or_init(|| key))
    }

    /// A GET, signed as the reader if there is one (docs/FORMATS.md,
    /// "Signed reads"): bound to a fresh nonce and to this node.
    pub(crate) fn get_request(&self, path: &str) -> Result<ureq::RequestBuilder<ureq::typestate::WithoutBody>> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(key) = &self.reader {
            use ed25519_dalek::Signer;
            let timestamp = chrono::Utc::now().timestamp_millis().to_string();
            let nonce = hex::encode(rand::random::<[u8; 16]>());
            let message = coldchain_node::gateway::access::read_message("GET", path, &timestamp, &nonce, self.node_key()?);
            request = request
                .header("x-coldchain-key", hex::encode(key.verifying_key().to_bytes()))
                .header("x-coldchain-timestamp", &timestamp)
                .header("x-coldchain-nonce", &nonce)
                .header("x-coldchain-signature", hex::encode(key.sign(message.as_bytes()).to_bytes()));
        }
        Ok(request)
    }

    pub fn get(&self, path: &str) -> Result<Answer> {
        let resp = self.get_request(path)?.call().with_context(|| format!("GET {}{path}", self.base))?;
        read(resp)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Answer> {
        let resp = self.agent.post(format!("{}{path}", self.base)).send_json(body).with_context(|| format!("POST {}{path}", self.base))?;
        read(resp)
    }

    /// POSTs `body` as a seed-004 signed request: headers appid, timestamp
    /// (ms), a fresh nonce, and the HMAC-SHA256 signature with `secret`.
    pub fn post_signed(&self, path: &str, appid: &str, secret: &str, body: &[u8]) -> Result<Answer> {
        use coldchain_node::gateway::apps::sign_request;
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let signature = sign_request(secret, appid, &timestamp, &nonce, "POST", path, body);
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("appid", appid)
            .header("timestamp", &timestamp)
            .header("nonce", &nonce)
            .header("signature", &signature)
            .send(body)
            .with_context(|| format!("POST {}{path}", self.base))?;
        read(resp)
    }

    /// Prints a server-sent event stream line by line (keep-alive comments
    /// left out) until the node closes it; the envelope's error if it refuses.
    pub fn follow(&self, path: &str) -> Result<()> {
        use std::io::{BufRead, Write};
        let resp = self.get_request(path)?.config().timeout_global(None).build().call().with_context(|| format!("GET {}{path}", self.base))?;
        if resp.status().as_u16() != 200 {
            return read(resp)?.into_result().map(|_| ());
        }
        let mut out = std::io::stdout().lock();
        for line in std::io::BufReader::new(resp.into_body().into_reader()).lines() {
            let line = line.with_context(|| format!("reading {}{path}", self.base))?;
            if !line.starts_with(':') {
                writeln!(out, "{line}")?;
                out.flush()?;
            }
        }
        Ok(())
    }

    /// A non-envelope answer (CSV, DOT, SVG), or the envelope's error.
    pub fn get_text(&self, path: &str) -> Result<String> {
        let mut resp = self.get_request(path)?.call().with_context(|| format!("GET {}{path}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(512 * 1024 * 1024).read_to_string()?;
        if status != 200 {
            let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            bail!("gateway answered {status}: {}", describe_error(&envelope));
        }
        Ok(text)
    }

    pub fn chain_id(&self) -> Result<String> {
        let status = self.get("/v1/status")?.into_result()?;
        status["chain_id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("status has no chain_id"))
    }
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> Result<Answer> {
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(512 * 1024 * 1024).read_to_string()?;
    let envelope: Value = serde_json::from_str(&text).with_context(|| format!("gateway answered {status} with non-JSON: {text:.200}"))?;
    Ok(Answer { status, envelope })
}

/// Signs a record for submission. Base64 images are replaced by their
/// `sha256:<hex>` in what is signed (the gateway does the same before it
/// checks the signature), while the request still carries the images so the
/// receiving node keeps them.
pub fn sign_record(chain_id: &str, key: &ed25519_dalek::SigningKey, record: Value) -> Result<Value> {
    let mut signed_form = record.clone();
    let images = coldchain_chaincode::images::extract(&mut signed_form).map_err(|e| anyhow!("{e}"))?;
    let tx = coldchain_chaincode::Transaction::sign(chain_id, coldchain_node::crypto::fresh_nonce(), signed_form, key);
    let mut value = serde_json::to_value(&tx)?;
    if !images.is_empty() {
        value["record"] = record;
    }
    Ok(value)
}

/// Percent-encodes a query value.
pub fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A search's lots as text: each lot, why it matched, whether it may move,
/// and its codes (`coldchain trace --scheme S CODE` starts from any).
pub fn search_table(r: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { "-".into() } else { v.to_string() });
    let hits = r["hits"].as_array().map(Vec::as_slice).unwrap_or_default();
    if hits.is_empty() {
        out.push_str("no lot found\n");
    }
    for h in hits {
        let lot = &h["lot"];
        let _ = writeln!(
            out,
            "certificate {} batch {}: {} ({}), label batch {}, entered {} at {}, origin {}",
            s(&lot["quarantine_number"]),
            s(&lot["certificate_batch"]),
            s(&lot["product_name"]),
            s(&lot["product_id"]),
            s(&lot["label_batch"]),
            s(&lot["entry_date"]),
            s(&lot["port_of_entry"]),
            s(&lot["origin_uscc"])
        );
        for m in h["matched"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  matched: {}", s(m));
        }
        if !lot["stopped"].is_null() {
            let _ = writeln!(out, "  MAY NOT MOVE: {}", s(&lot["stopped"]));
        }
        for c in h["codes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  code: --scheme {} {}", s(&c[0]), s(&c[1]));
        }
    }
    if r["truncated"] == true {
        out.push_str("(more lots matched than are listed; narrow the search)\n");
    }
    out
}

/// A trace as text tables: the lot, its codes, the enterprises, the steps.
pub fn trace_table(t: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { "-".into() } else { v.to_string() });
    if t["view"] == "consumer" {
        let (p, c) = (&t["product"], &t["certificate"]);
        let _ = writeln!(
            out,
            "{} {}: {} ({}), batch {}, produced {}",
            s(&t["scheme"]),
            s(&t["code"]),
            s(&p["product_name"]),
            s(&p["product_id"]),
            s(&p["label_batch"]),
            s(&p["production_date"])
        );
        let _ = writeln!(
            out,
            "certificate {} batch {}, entered {} at {}, nucleic acid test: {}",
            s(&c["quarantine_number"]),
            s(&c["certificate_batch"]),
            s(&c["entry_date"]),
            s(&c["port_of_entry"]),
            s(&c["nucleic_acid"])
        );
        let provinces: Vec<String> = t["provinces"].as_array().into_iter().flatten().map(|p| s(p)).collect();
        let _ = writeln!(out, "provinces passed: {}", provinces.join(" -> "));
        let _ = writeln!(out, "alert: {}", if t["alert_open"] == true { "OPEN: a bureau has raised an alert on this lot" } else { "none open" });
        let _ = writeln!(out, "\ncodes:");
        for c in t["codes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {:<8} {:<32} province {}  {}", s(&c["scheme"]), s(&c["code"]), s(&c["province"]), s(&c["resolver_url"]));
        }
        let _ = writeln!(out, "\n(the consumer view: the custody chain is for enterprises on it and bureaus; pass --key)");
        return out;
    }
    if t["withheld_steps"].as_u64().unwrap_or(0) + t["withheld_enterprises"].as_u64().unwrap_or(0) > 0 {
        let _ =
            writeln!(out, "({} steps and {} enterprises of this lot are not shown to you)", s(&t["withheld_steps"]), s(&t["withheld_enterprises"]));
    }
    let lot = &t["lot"];
    let _ = writeln!(
        out,
        "lot: {} ({}), certificate {} batch {}, entered {} via {} on {}: {} pieces, {} kg",
        s(&lot["product_name"]),
        s(&lot["product_id"]),
        s(&lot["quarantine_number"]),
        s(&lot["certificate_batch"]),
        s(&lot["origin_uscc"]),
        s(&lot["port_of_entry"]),
        s(&lot["entry_date"]),
        s(&lot["entered_pieces"]),
        s(&lot["entered_kg"])
    );
    let _ = writeln!(out, "trace {} from {} {} (starts at {})", s(&t["direction"]), s(&t["scheme"]), s(&t["code"]), s(&t["start_uscc"]));
    let _ = writeln!(out, "\ncodes:");
    for c in t["codes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {:<8} {:<32} province {}  {}", s(&c["scheme"]), s(&c["code"]), s(&c["province"]), s(&c["resolver_url"]));
    }
    let _ = writeln!(out, "\nenterprises:");
    for e in t["enterprises"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {} {} {:<4} {}  {}  ({}, {})  {}",
            s(&e["province"]),
            s(&e["uscc"]),
            s(&e["enterprise_type"]),
            s(&e["name"]),
            if e["holds_pieces"].is_null() {
                "holdings not shown to you".to_string()
            } else {
                format!("holds {} pieces / {} kg", s(&e["holds_pieces"]), s(&e["holds_kg"]))
            },
            s(&e["latitude"]),
            s(&e["longitude"]),
            s(&e["contact_phone"])
        );
    }
    let _ = writeln!(out, "\nsteps:");
    for st in t["steps"].as_array().into_iter().flatten() {
        let received = match st["received"].as_object() {
            Some(r) if r["short_pieces"].as_u64().unwrap_or(0) > 0 => {
                format!(" received {} (short {} pieces / {} kg)", s(&r["pieces"]), s(&r["short_pieces"]), s(&r["short_kg"]))
            }
            Some(r) => format!(" received {}", s(&r["date"])),
            None if st["kind"] == "shipment" => " in transit".into(),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} {:<9} {} -> {}  {} pieces / {} kg  {}{}  tx {}",
            s(&st["date"]),
            s(&st["kind"]),
            s(&st["from"]),
            s(&st["to"]),
            s(&st["pieces"]),
            s(&st["weight_kg"]),
            s(&st["document"]),
            received,
            s(&st["tx"])
        );
    }
    out
}
