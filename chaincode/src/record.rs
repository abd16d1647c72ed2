//! The records a transaction carries, parsed from `record` by its `type`.
//!
//! The consortium-chain layer needs one generic type, `notarise`: any JSON
//! document, notarised on chain by its signer. The trace record types of the
//! seeds join this enum as modules of their own.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// `{"type":"notarise","document":{…}}`: a JSON object notarised as-is.
    Notarise,
}

/// A record that broke a rule: which field, which rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {rule}")]
pub struct RecordError {
    pub field: String,
    pub rule: String,
}

impl RecordError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        RecordError { field: field.into(), rule: rule.into() }
    }
}

pub const RECORD_TYPES: &[&str] = &["notarise"];

impl Record {
    /// Parses `record` (the transaction's `record` member), naming fields
    /// relative to the transaction (`record.document`).
    pub fn parse(record: &Value) -> Result<Record, RecordError> {
        let obj = record.as_object().ok_or_else(|| RecordError::new("record", "must be a JSON object"))?;
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "notarise" => {
                if let Some(k) = obj.keys().find(|k| !["type", "document"].contains(&k.as_str())) {
                    return Err(RecordError::new(format!("record.{k}"), "unknown member of a notarise record; allowed: type, document"));
                }
                let document = obj.get("document").ok_or_else(|| RecordError::new("record.document", "is required"))?;
                if !document.is_object() {
                    return Err(RecordError::new("record.document", "must be a JSON object"));
                }
                Ok(Record::Notarise)
            }
            other => Err(RecordError::new("record.type", format!("unknown record type \"{other}\"; known: {}", RECORD_TYPES.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notarise_needs_an_object_document() {
        assert!(Record::parse(&json!({"type": "notarise", "document": {"a": 1}})).is_ok());
        assert_eq!(Record::parse(&json!({"type": "notarise"})).unwrap_err().field, "record.document");
        assert_eq!(Record::parse(&json!({"type": "notarise", "document": 3})).unwrap_err().field, "record.document");
        assert_eq!(Record::parse(&json!({"type": "notarise", "document": {}, "x": 1})).unwrap_err().field, "record.x");
        assert_eq!(Record::parse(&json!({"type": "nope"})).unwrap_err().field, "record.type");
    }
}
