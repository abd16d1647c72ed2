//! RFC 8785 (JSON Canonicalization Scheme) bytes: the form of a transaction
//! that is signed and hashed. Object members sorted by UTF-16 code units, no
//! insignificant whitespace, numbers in ECMAScript shortest form, strings with
//! minimal escaping; any JCS library in another language reproduces them.
//!
//! [`CanonicalJson`] holds a JSON value as its canonical text, computed once,
//! so hashing and signing never serialize it again.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("value cannot be canonicalized as RFC 8785 JSON: {0}")]
pub struct CanonicalError(String);

/// The RFC 8785 canonical bytes of `value`.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_jcs::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
}

/// A JSON value held as its RFC 8785 text. Cheap to clone.
///
/// In JSON it reads and writes as the value itself; in binary formats (CBOR
/// between validators) as the text, which a receiver must check with
/// [`CanonicalJson::is_canonical`] before trusting anything it did not
/// already know by hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CanonicalJson(Arc<str>);

impl CanonicalJson {
    pub fn from_value(value: &Value) -> Result<CanonicalJson, CanonicalError> {
        let bytes = to_bytes(value)?;
        Ok(CanonicalJson(String::from_utf8(bytes).map_err(|e| CanonicalError(e.to_string()))?.into()))
    }

    /// Wraps text already known to be canonical (read back from this node's
    /// own store, where only canonical text is written).
    pub fn trusted(text: &str) -> CanonicalJson {
        CanonicalJson(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses the text (a fresh [`Value`] each time).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// Whether the text is exactly the canonical form of what it denotes.
    pub fn is_canonical(&self) -> bool {
        serde_json::from_str::<Value>(&self.0).ok().and_then(|v| to_bytes(&v).ok()).is_some_and(|b| b == self.0.as_bytes())
    }
}

impl std::fmt::Debug for CanonicalJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CanonicalJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let raw = serde_json::value::RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
            raw.serialize(s)
        } else {
            s.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for CanonicalJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let value = Value::deserialize(d)?;
            CanonicalJson::from_value(&value).map_err(serde::de::Error::custom)
        } else {
            Ok(CanonicalJson(String::deserialize(d)?.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_members_and_strips_whitespace() {
        let v = json!({"b": 1, "a": {"d": [1, 2.5, "x"], "c": null}, "é": true});
        let s = String::from_utf8(to_bytes(&v).unwrap()).unwrap();
        assert_eq!(s, r#"{"a":{"c":null,"d":[1,2.5,"x"]},"b":1,"é":true}"#);
    }

    #[test]
    fn numbers_in_ecmascript_form() {
        let v = json!([1.0, 13500.00, 1e21, 0.000001]);
        let s = String::from_utf8(to_bytes(&v).unwrap()).unwrap();
        assert_eq!(s, "[1,13500,1e+21,0.000001]");
    }

    #[test]
    fn canonical_text_round_trips_through_json_and_detects_non_canonical_text() {
        let c = CanonicalJson::from_value(&json!({"z": 1, "a": [true]})).unwrap();
        assert_eq!(c.as_str(), r#"{"a":[true],"z":1}"#);
        assert!(c.is_canonical());
        let json = serde_json::to_string(&json!({"wrapped": c})).unwrap();
        assert_eq!(json, r#"{"wrapped":{"a":[true],"z":1}}"#);
        let back: CanonicalJson = serde_json::from_str(r#"{ "z" : 1.0, "a": [ true ] }"#).unwrap();
        assert_eq!(back, c, "JSON input is canonicalized");
        assert!(!CanonicalJson(r#"{"z":1,"a":[true]}"#.into()).is_canonical());
    }
}
