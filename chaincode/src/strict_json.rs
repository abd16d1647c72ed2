//! JSON as requests must be: an object never names a key twice. serde_json
//! keeps the last of two equal keys, so a body with two `chain_id`, `nonce`
//! or `record.type` members meant one thing to the client that signed it
//! and another to the node. Every request body is parsed here instead, and
//! a repeated key is refused with its path (`record.type`,
//! `items[2].uscc`).

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses `bytes` as JSON, refusing an object that repeats a key.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { path: String::new() }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// As [`from_slice`], for text.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// The prefix of a duplicate-key error's message; the path follows.
pub const DUPLICATE: &str = "duplicate key ";

/// The path named by a duplicate-key error, if `e` is one.
pub fn duplicate_path(e: &serde_json::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.strip_prefix(DUPLICATE)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

struct Strict {
    path: String,
}

impl Strict {
    fn child(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict { path: format!("{}[{}]", self.path, items.len()) })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key);
            if obj.contains_key(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE}`{path}`: an object names each key once")));
            }
            let value = map.next_value_seed(Strict { path })?;
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_with_its_path() {
        for (text, path) in [
            (r#"{"chain_id":"a","nonce":1,"chain_id":"b"}"#, "chain_id"),
            (r#"{"record":{"type":"notarise","type":"alert"}}"#, "record.type"),
            (r#"[{"a":1},{"b":{"c":[{"d":1,"d":2}]}}]"#, "[1].b.c[0].d"),
        ] {
            let e = from_str(text).unwrap_err();
            assert_eq!(duplicate_path(&e).as_deref(), Some(path), "{text}: {e}");
        }
    }

    #[test]
    fn parses_as_serde_json_does_otherwise() {
        let text = r#"{"a":[1,-2,3.5,1e300,true,null,"x\u00e9"],"b":{"c":{}},"d":18446744073709551615}"#;
        assert_eq!(from_str(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert!(from_str("{\"a\":1} x").is_err(), "trailing text");
        assert!(from_str(&("[".repeat(200) + &"]".repeat(200))).is_err(), "nesting is bounded");
        assert!(duplicate_path(&from_str("{").unwrap_err()).is_none());
    }
}
