//! `report_client` (seed 000 §3.6): a bureau registers (or revokes) a client
//! of the national report interfaces. The chain keeps SHA-256 of
//! `clientId:secret`, never the secret; a node checks HTTP Basic
//! credentials against it.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{Ledger, REPORT_CLIENTS, ReportClient};

#[derive(Clone, Debug)]
pub struct ReportClientRecord {
    pub client_id: (String, String),
    pub credential: Hash,
    pub revoked: bool,
}

impl ReportClientRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let client_id = f.req_str_at("clientId", &[], 64)?;
        if client_id.0.is_empty() || client_id.0.contains(':') {
            return Err(RecordError::new(&client_id.1, "a client id is 1–64 characters without ':'"));
        }
        let (c, c_path) = f.req_str_at("credentialSha256", &[], 64)?;
        let credential = c.parse().map_err(|_| RecordError::new(c_path, "is SHA-256 of \"clientId:secret\", 64 hexadecimal characters"))?;
        let revoked = f.opt_bool("revoked")?.unwrap_or(false);
        f.finish("clientId, credentialSha256, revoked")?;
        Ok(ReportClientRecord { client_id, credential, revoked })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("report_client")?;
        if province == "000000" {
            return Err(RecordError::new("signer", "the national platform receives reports; a province's bureau registers its report clients"));
        }
        if let Some(c) = l.get(&REPORT_CLIENTS, &self.client_id.0)
            && c.province != province
        {
            return Err(RecordError::new(&self.client_id.1, format!("client {} belongs to province {}", self.client_id.0, c.province)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let c = ReportClient { client_id: self.client_id.0, province, credential_sha256: self.credential, revoked: self.revoked, tx: cx.tx };
        l.put(&REPORT_CLIENTS, &c.client_id, &c);
    }
}
