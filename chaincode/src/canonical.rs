//! RFC 8785 (JSON Canonicalization Scheme) bytes: the form of a transaction
//! that is signed and hashed. Object members sorted by UTF-16 code units, no
//! insignificant whitespace, numbers in ECMAScript shortest form, strings with
//! minimal escaping; any JCS library in another language reproduces them.
//!
//! [`CanonicalJson`] holds a JSON value as its canonical text, computed once,
//! so hashing and signing never serialize it again.
//!
//! The writer is ours, over [`serde_json::Value`]: serde_jcs produces the same
//! bytes (a property test checks it against serde_jcs on random values) but
//! buffers every string and re-parses every object key, which made it half of
//! all allocations of a validator under load. Numbers are formatted by
//! ryu-js (ECMAScript's Number::toString), strings escaped by serde_json
//! (the same minimal escapes JCS prescribes).

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("value cannot be canonicalized as RFC 8785 JSON: {0}")]
pub struct CanonicalError(String);

/// The RFC 8785 canonical bytes of `value`.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError(e.to_string()))?;
    value_bytes(&value)
}

/// The RFC 8785 canonical bytes of a JSON value.
pub fn value_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // RFC 8785 numbers are IEEE doubles, integers included.
            let f = n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| CanonicalError(format!("number {n} is not a finite double")))?;
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            // By UTF-16 code units (differs from UTF-8 byte order only for
            // characters above U+FFFF against U+E000..U+FFFF).
            sorted.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Writes `s` as a JSON string, escaped as serde_json (= RFC 8785) does.
#[allow(clippy::expect_used, reason = "serializing a str cannot fail, and neither can writing to a Vec")]
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing a string to a Vec cannot fail");
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
        let bytes = value_bytes(value)?;
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
    ///
    /// Checked while parsing, without building a [`Value`]: the text is
    /// re-written canonically as it is read (members must already come in
    /// order, since canonical text has them sorted) and compared at the end.
    pub fn is_canonical(&self) -> bool {
        let mut out = Vec::with_capacity(self.0.len());
        let mut de = serde_json::Deserializer::from_str(&self.0);
        Rewrite { out: &mut out }.deserialize(&mut de).is_ok() && de.end().is_ok() && out == self.0.as_bytes()
    }
}

/// Writes what it parses in canonical form; fails on members out of
/// canonical order (such text is not canonical whatever it denotes).
struct Rewrite<'a> {
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Rewrite<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Rewrite<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out.extend_from_slice(if b { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.visit_f64(n as f64)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.visit_f64(n as f64)
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<(), E> {
        if !f.is_finite() {
            return Err(E::custom("not a finite double"));
        }
        self.out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_string(s, self.out);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(Rewrite { out: self.out })?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut previous: Option<Cow<'de, str>> = None;
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some(p) = &previous {
                if p.encode_utf16().cmp(key.encode_utf16()) != std::cmp::Ordering::Less {
                    return Err(de::Error::custom("members out of canonical order"));
                }
                self.out.push(b',');
            }
            write_string(&key, self.out);
            self.out.push(b':');
            map.next_value_seed(Rewrite { out: self.out })?;
            previous = Some(key);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
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
    use proptest::prelude::*;
    use serde_json::json;

    /// JSON values with the awkward parts: keys and strings with control
    /// characters, quotes, backslashes, non-ASCII and astral characters
    /// (where UTF-16 and UTF-8 order differ), integers and doubles of every
    /// magnitude.
    fn any_value() -> impl Strategy<Value = Value> {
        let text = prop::collection::vec(
            prop_oneof![
                Just('a'),
                Just('Z'),
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\u{1}'),
                Just('\u{7f}'),
                Just('/'),
                Just('é'),
                Just('冷'),
                Just('\u{e000}'),
                Just('\u{ffff}'),
                Just('😀'),
                Just('\u{10000}'),
                any::<char>(),
            ],
            0..6,
        )
        .prop_map(|c| c.into_iter().collect::<String>());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text.clone(), inner), 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_writer_produces_exactly_what_serde_jcs_produces(v in any_value()) {
            let ours = value_bytes(&v).unwrap();
            prop_assert_eq!(String::from_utf8(ours.clone()).unwrap(), String::from_utf8(serde_jcs::to_vec(&v).unwrap()).unwrap());
            let text = CanonicalJson(String::from_utf8(ours).unwrap().into());
            prop_assert!(text.is_canonical());
        }

        /// The streaming check agrees with the definition: text is canonical
        /// exactly when it equals the canonical bytes of what it parses to.
        #[test]
        fn is_canonical_agrees_with_rewriting_the_parsed_value(v in any_value(), pretty in any::<bool>(), swap in any::<bool>()) {
            let mut text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { String::from_utf8(value_bytes(&v).unwrap()).unwrap() };
            if swap {
                // Serialized as parsed (UTF-8 key order, serde_json numbers):
                // canonical only when that happens to coincide.
                text = serde_json::to_string(&v).unwrap();
            }
            let by_definition = serde_json::from_str::<Value>(&text).ok().and_then(|p| value_bytes(&p).ok()).is_some_and(|b| b == text.as_bytes());
            prop_assert_eq!(CanonicalJson(text.clone().into()).is_canonical(), by_definition, "{}", text);
        }
    }

    #[test]
    fn astral_keys_sort_by_utf16_code_units() {
        // U+10000 is D800 DC00 in UTF-16, below U+E000; in UTF-8 it is above.
        let v = json!({"\u{e000}": 1, "\u{10000}": 2});
        assert_eq!(String::from_utf8(value_bytes(&v).unwrap()).unwrap(), "{\"\u{10000}\":2,\"\u{e000}\":1}");
    }

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

    /// Every double's shortest form parses back to the same double, so the
    /// canonical bytes a node derives from a signer's canonical record are
    /// the signer's (200,000 doubles: random bits, decimals of every
    /// magnitude, and the integers up to 1e21 that ECMAScript writes without
    /// an exponent).
    #[test]
    fn shortest_doubles_parse_back_exactly() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            let d = match i % 3 {
                0 => f64::from_bits(x),
                1 => unit * 10f64.powi((i % 40) as i32 - 20),
                // Up to 1e21 ECMAScript writes a double as an integer: past
                // u64, serde_json parses those as floats.
                _ => 1e15 + unit * 1e21,
            };
            if !d.is_finite() {
                continue;
            }
            let text = String::from_utf8(to_bytes(&json!([d])).unwrap()).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back[0].as_f64().map(f64::to_bits), Some(d.to_bits()), "{text}");
        }
        for text in ["[1.3333333333333333]", "[0.30000000000000004]", "[2.2250738585072014e-308]", "[100000000000000030000]"] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(String::from_utf8(to_bytes(&v).unwrap()).unwrap(), text);
        }
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
        for not_canonical in
            [r#"{"a":1,"a":1}"#, r#"{"a":1.0}"#, r#"[1,2] "#, r#"["\u0041"]"#, r#"{"a":1}{}"#, "[1e400]", "", r#"[1,]"#, r#"{"a":"\/"}"#]
        {
            assert!(!CanonicalJson(not_canonical.into()).is_canonical(), "{not_canonical}");
        }
        for canonical in [r#"{"a":[],"b":{},"c":"\n\u001f"}"#, "[]", "null", "-0.5", r#"[1e+21,"é"]"#] {
            assert!(CanonicalJson(canonical.into()).is_canonical(), "{canonical}");
        }
    }
}
