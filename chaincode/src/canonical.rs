//! RFC 8785 (JSON Canonicalization Scheme) bytes: the form of a transaction
//! that is signed and hashed. Object members sorted by UTF-16 code units, no
//! insignificant whitespace, numbers in ECMAScript shortest form, strings with
//! minimal escaping; any JCS library in another language reproduces them.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("value cannot be canonicalized as RFC 8785 JSON: {0}")]
pub struct CanonicalError(String);

/// The RFC 8785 canonical bytes of `value`.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_jcs::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
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
}
