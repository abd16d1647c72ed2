//! OpenAPI schemas (feature `openapi`) for the two types whose JSON is not
//! what their Rust fields say: a [`Hash`] is 64 hex characters, and a
//! [`CanonicalJson`] in a transaction is the record object itself. The
//! answer types (traces, lots, alerts, notices, …) derive their schemas
//! where they are declared, so the gateway's OpenAPI document describes
//! exactly what it serializes.

use crate::canonical::CanonicalJson;
use crate::hash::Hash;
use crate::records::RECORD_TYPES;
use std::borrow::Cow;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

impl PartialSchema for Hash {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-f]{64}$"))
            .description(Some("A SHA-256 digest (a transaction id, a block hash, a root): 64 lowercase hexadecimal characters."))
            .into()
    }
}

impl ToSchema for Hash {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Hash")
    }
}

impl PartialSchema for CanonicalJson {
    fn schema() -> RefOr<Schema> {
        let kind = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(RECORD_TYPES.iter().copied()))
            .description(Some("The record type (docs/RECORDS.md)."));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("type", kind)
            .required("type")
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .description(Some(
                "A record (docs/RECORDS.md): a JSON object with a `type` and the fields of that type, spelled as in seed 004 (camelCase or the tables' `Snake_case`). In a transaction it is signed in its RFC 8785 canonical form.",
            ))
            .into()
    }
}

impl ToSchema for CanonicalJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Record")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_schema_names_every_record_type() {
        let schema = serde_json::to_value(<CanonicalJson as PartialSchema>::schema()).unwrap();
        let kinds: Vec<&str> = schema["properties"]["type"]["enum"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(kinds, RECORD_TYPES);
        assert_eq!(schema["required"], serde_json::json!(["type"]));
    }

    #[test]
    fn a_hash_is_described_as_the_hex_it_serializes_to() {
        let schema = serde_json::to_value(<Hash as PartialSchema>::schema()).unwrap();
        let re = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        let json = serde_json::to_value(Hash::digest(b"x")).unwrap();
        assert!(re.is_match(json.as_str().unwrap()), "{json}");
    }
}
