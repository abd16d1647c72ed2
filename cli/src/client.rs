//! A small blocking client for the gateway's JSON envelope.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::time::Duration;

pub struct Gateway {
    base: String,
    agent: ureq::Agent,
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
    match envelope["result"]["error"].as_str() {
        Some(code) => format!("{msg} [{code}]"),
        None => msg.to_string(),
    }
}

impl Gateway {
    pub fn new(base: &str) -> Gateway {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into();
        Gateway { base: base.trim_end_matches('/').to_string(), agent }
    }

    pub fn get(&self, path: &str) -> Result<Answer> {
        let resp = self.agent.get(format!("{}{path}", self.base)).call().with_context(|| format!("GET {}{path}", self.base))?;
        read(resp)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Answer> {
        let resp = self.agent.post(format!("{}{path}", self.base)).send_json(body).with_context(|| format!("POST {}{path}", self.base))?;
        read(resp)
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
