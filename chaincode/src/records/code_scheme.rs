//! `code_scheme` (seed 000 §3.5, "异构识别"): a province's bureau registers
//! one of its trace-code schemes: the coding rule (a regular expression every
//! code must match, and the SHA-256 of the rule document), the resolution
//! URL template and the issued-code count. Only the owning province's bureau
//! may register or change a scheme; re-submitting updates it.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{CodeScheme, Ledger};

#[derive(Clone, Debug)]
pub struct CodeSchemeRecord {
    pub scheme_id: (String, String),
    pub province: (String, String),
    pub name: String,
    pub pattern: String,
    pub resolver_url: String,
    pub rule_doc_sha256: Hash,
    pub issued_count: u64,
}

const FIELDS: &str = "schemeId, province, name, pattern, resolverUrl, ruleDocSha256, issuedCount";

/// Compiles a scheme's pattern, anchored so that it must match a whole code.
pub fn compile(pattern: &str) -> std::result::Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 20).build().map_err(|e| format!("is not a valid regular expression: {e}"))
}

impl CodeSchemeRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let scheme_id = f.req_str_at("schemeId", &[], 32)?;
        if !scheme_id.0.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) || scheme_id.0.is_empty() {
            return Err(RecordError::new(&scheme_id.1, "a scheme id is 1–32 letters, digits, '-', '_' or '.'"));
        }
        let province = f.req_str_at("province", &[], 6)?;
        let name = f.req_str("name", 100)?;
        let (pattern, pattern_path) = f.req_str_at("pattern", &[], 500)?;
        compile(&pattern).map_err(|rule| RecordError::new(&pattern_path, rule))?;
        let (resolver_url, url_path) = f.req_str_at("resolverUrl", &[], 500)?;
        if !(resolver_url.starts_with("https://") || resolver_url.starts_with("http://")) || !resolver_url.contains("{code}") {
            return Err(RecordError::new(url_path, "is an http(s) URL template containing {code}, e.g. https://trace.example.gov.cn/c/{code}"));
        }
        let (doc, doc_path) = f.req_str_at("ruleDocSha256", &[], 64)?;
        let rule_doc_sha256 =
            doc.parse().map_err(|_| RecordError::new(doc_path, "is the SHA-256 of the coding rule document, 64 hexadecimal characters"))?;
        let (issued_count, _) = f.opt_count("issuedCount", &[])?.unwrap_or((0, String::new()));
        f.finish(FIELDS)?;
        Ok(CodeSchemeRecord { scheme_id, province, name, pattern, resolver_url, rule_doc_sha256, issued_count })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let bureau = cx.require_bureau("code_scheme")?;
        if self.province.0 != bureau {
            return Err(RecordError::new(
                &self.province.1,
                format!("bureau {bureau} registers schemes of its own province only, not {}", self.province.0),
            ));
        }
        if let Some(existing) = l.schemes().get(&self.scheme_id.0)
            && existing.province != bureau
        {
            return Err(RecordError::new(&self.scheme_id.1, format!("scheme {} belongs to province {}", self.scheme_id.0, existing.province)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let regex = compile(&self.pattern).ok();
        l.put_scheme(CodeScheme {
            scheme_id: self.scheme_id.0,
            province: self.province.0,
            name: self.name,
            pattern: self.pattern,
            resolver_url: self.resolver_url,
            rule_doc_sha256: self.rule_doc_sha256,
            issued_count: self.issued_count,
            updated_at: cx.block.height,
            tx: cx.tx,
            regex,
        });
    }
}
