//! The error every record rule reports: which field, which rule.

/// A record that broke a rule: the field (as the submitter spelled it, with
/// its path from `record`) and the rule, in words.
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
