//! Images in records (seed 004: licences, labels, certificates as Base64).
//!
//! Image bytes never go on chain. A record is signed, and goes on chain,
//! with each image replaced by `"sha256:<hex>"` of its decoded bytes; the
//! gateway that receives the Base64 form stores the bytes under that digest
//! and performs the same replacement before checking the signature. So the
//! chain notarises the image, and any copy of it can be checked against the
//! digest. [`extract`] is that replacement; clients call it before signing.

use crate::hash::Hash;
use base64::Engine;
use serde_json::Value;

/// Decoded image bytes above this size are refused.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// The image fields of seed 004's tables (keys compared without `_`, lower-case).
pub const IMAGE_FIELDS: &[&str] =
    &["entimg", "productlabel", "productimg", "quarantineimg", "consumerimg", "disinfectimg", "naimg", "certificateimg", "licenceimg"];

pub fn is_image_field(key: &str) -> bool {
    let k: String = key.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect();
    IMAGE_FIELDS.contains(&k.as_str())
}

/// The digest in an on-chain image reference `sha256:<64 hex>`.
pub fn reference(s: &str) -> Option<Hash> {
    s.strip_prefix("sha256:").and_then(|h| h.parse().ok())
}

/// An image taken out of a record: its digest, media type and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub sha256: Hash,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {rule}")]
pub struct ImageError {
    pub field: String,
    pub rule: String,
}

/// The record types whose seed tables carry image fields; an image in any
/// other record (a `notarise`, an alert…) is refused.
pub const IMAGE_RECORD_TYPES: &[&str] = &["enterprise", "product", "product_batch", "central_warehouse"];
/// Most images in one record.
pub const MAX_IMAGES_PER_RECORD: usize = 8;

/// Replaces every Base64 image in `record` (at any depth) by its
/// `sha256:<hex>` reference and returns the images. References already in
/// that form are left as they are. Images are taken only in the image
/// fields of [`IMAGE_RECORD_TYPES`], at most [`MAX_IMAGES_PER_RECORD`].
pub fn extract(record: &mut Value) -> Result<Vec<Image>, ImageError> {
    let mut out = Vec::new();
    walk(record, "record", &mut out)?;
    if out.is_empty() {
        return Ok(out);
    }
    let kind = record.get("type").and_then(Value::as_str).unwrap_or("");
    if !IMAGE_RECORD_TYPES.contains(&kind) {
        return Err(ImageError {
            field: "record.type".into(),
            rule: format!(
                "a {kind} record carries no images; images go only in the seeds' image fields of {} records",
                IMAGE_RECORD_TYPES.join(", ")
            ),
        });
    }
    if out.len() > MAX_IMAGES_PER_RECORD {
        return Err(ImageError { field: "record".into(), rule: format!("holds {} images; the limit is {MAX_IMAGES_PER_RECORD}", out.len()) });
    }
    Ok(out)
}

fn walk(v: &mut Value, path: &str, out: &mut Vec<Image>) -> Result<(), ImageError> {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let p = format!("{path}.{k}");
                if is_image_field(k) {
                    if let Value::String(s) = child
                        && reference(s).is_none()
                        && !s.is_empty()
                    {
                        let image = decode(s).map_err(|rule| ImageError { field: p.clone(), rule })?;
                        *child = Value::String(format!("sha256:{}", image.sha256));
                        out.push(image);
                    }
                } else {
                    walk(child, &p, out)?;
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `data:image/jpeg;base64,…` or bare Base64 (RFC 3548/4648 standard alphabet).
fn decode(s: &str) -> Result<Image, String> {
    let (media_type, body) = match s.strip_prefix("data:") {
        Some(rest) => {
            let (head, body) = rest.split_once(',').ok_or("a data URI needs a ',' before the Base64 text")?;
            let media = head.split(';').next().unwrap_or("").to_ascii_lowercase();
            if !head.to_ascii_lowercase().ends_with(";base64") {
                return Err("a data URI image must be ;base64 encoded".into());
            }
            (if media.is_empty() { "application/octet-stream".to_string() } else { media }, body)
        }
        None => ("application/octet-stream".to_string(), s),
    };
    let clean: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if clean.len() / 4 * 3 > MAX_IMAGE_BYTES + 3 {
        return Err(format!("image is larger than the limit of {MAX_IMAGE_BYTES} bytes"));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()).map_err(|e| format!("is not valid Base64 (RFC 3548): {e}"))?;
    if bytes.is_empty() {
        return Err("image is empty".into());
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(format!("image is {} bytes; the limit is {MAX_IMAGE_BYTES}", bytes.len()));
    }
    Ok(Image { sha256: Hash::digest(&bytes), media_type, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_images_become_digests_at_any_depth() {
        let mut r = json!({"type": "product_batch", "quarantineInfo": {"Quarantine_img": "data:image/jpg;base64,aGVsbG8="}, "Product_img": "aGk="});
        let mut notarised = json!({"type": "notarise", "document": {"Product_img": "aGk="}});
        let e = extract(&mut notarised).unwrap_err();
        assert_eq!(e.field, "record.type", "{e}");
        let many: serde_json::Map<String, Value> = (0..=MAX_IMAGES_PER_RECORD).map(|i| (format!("x{i}"), json!({"Product_img": "aGk="}))).collect();
        let mut many = json!({"type": "product", "parts": many});
        assert!(extract(&mut many).unwrap_err().rule.contains("limit"));
        let images = extract(&mut r).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(r["quarantineInfo"]["Quarantine_img"], json!(format!("sha256:{}", Hash::digest(b"hello"))));
        assert_eq!(images.iter().find(|i| i.bytes == b"hello").unwrap().media_type, "image/jpg");
        let again = r.clone();
        assert!(extract(&mut r).unwrap().is_empty(), "references are left alone");
        assert_eq!(r, again);
    }

    #[test]
    fn bad_images_name_their_field() {
        let mut r = json!({"type": "product_batch", "quarantineInfo": {"quarantineImg": "data:image/png;base64,@@@"}});
        assert_eq!(extract(&mut r).unwrap_err().field, "record.quarantineInfo.quarantineImg");
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_IMAGE_BYTES + 1]);
        let mut r = json!({"type": "enterprise", "Ent_img": big});
        assert!(extract(&mut r).unwrap_err().rule.contains("limit"));
    }
}
