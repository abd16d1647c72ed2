//! Reading a record's fields as the seeds spell them.
//!
//! Seed 004 spells a field one way in its tables (`Product_library_id`) and
//! another in its annex B example (`productLibraryId`). A [`Fields`] reader
//! matches a key with its underscores removed and letters lower-cased, so
//! both spellings (and `product_library_id`) name the same field; a few
//! annex-B names that differ outright (`containerNo`) are listed as aliases.
//! Every error names the field as the submitter spelled it, with its path
//! (`record.quarantineInfo.quarantineNumber`, `record.productList[2].weight`).

use crate::hash::Hash;
use crate::record::RecordError;
use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Result<T> = std::result::Result<T, RecordError>;

/// A quantity of goods: whole pieces and a weight in grams (seed 004 gives
/// weights in kilograms with up to two decimals; grams keep them exact).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Qty {
    pub pieces: u64,
    pub grams: u64,
}

impl Qty {
    pub fn covers(&self, other: &Qty) -> bool {
        self.pieces >= other.pieces && self.grams >= other.grams
    }
    pub fn minus(&self, other: &Qty) -> Qty {
        Qty { pieces: self.pieces.saturating_sub(other.pieces), grams: self.grams.saturating_sub(other.grams) }
    }
    pub fn plus(&self, other: &Qty) -> Qty {
        Qty { pieces: self.pieces.saturating_add(other.pieces), grams: self.grams.saturating_add(other.grams) }
    }
    pub fn is_zero(&self) -> bool {
        self.pieces == 0 && self.grams == 0
    }
}

/// Kilograms as a decimal string with up to three decimals: 13500, 7515.5, 0.25.
pub fn kg(grams: u64) -> String {
    let (whole, frac) = (grams / 1000, grams % 1000);
    if frac == 0 { whole.to_string() } else { format!("{whole}.{frac:03}").trim_end_matches('0').to_string() }
}

const RECORD_TYPE_KEY: &str = "\u{0}type";

fn normalize(key: &str) -> String {
    if key.is_ascii() {
        let mut out = String::with_capacity(key.len());
        out.extend(key.bytes().filter(|b| *b != b'_' && *b != b'-').map(|b| b.to_ascii_lowercase() as char));
        return out;
    }
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// One JSON object's members, consumed field by field; [`Fields::finish`]
/// rejects whatever is left.
#[derive(Debug)]
pub struct Fields<'a> {
    path: String,
    members: BTreeMap<String, (&'a str, &'a Value)>,
}

impl<'a> Fields<'a> {
    /// `path` is how errors name this object: `record`, `record.quarantineInfo`.
    pub fn of(path: impl Into<String>, value: &'a Value) -> Result<Fields<'a>> {
        let path = path.into();
        let obj: &'a Map<String, Value> = value.as_object().ok_or_else(|| RecordError::new(&path, "must be a JSON object"))?;
        let mut members = BTreeMap::new();
        for (k, v) in obj {
            // The record's own `type` (exactly so spelled) is not a field: seed
            // 004 table 11 has a field `Type` (the cold storage's type).
            let norm = if k == "type" && path == "record" { RECORD_TYPE_KEY.to_string() } else { normalize(k) };
            if let Some((first, _)) = members.insert(norm, (k.as_str(), v)) {
                return Err(RecordError::new(format!("{path}.{k}"), format!("given twice, also as `{first}`; use one spelling")));
            }
        }
        Ok(Fields { path, members })
    }

    /// The record's `"type"` member (only at the top level of a record).
    pub fn record_type(&mut self) -> Option<(String, &'a Value)> {
        self.members.remove(RECORD_TYPE_KEY).map(|(k, v)| (format!("{}.{}", self.path, k), v))
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of a field: as spelled by the submitter when present.
    pub fn at(&self, name: &str) -> String {
        format!("{}.{}", self.path, name)
    }

    fn take(&mut self, name: &str, aliases: &[&str]) -> Option<(String, &'a Value)> {
        for n in std::iter::once(&name).chain(aliases) {
            if let Some((k, v)) = self.members.remove(&normalize(n)) {
                if v.is_null() {
                    return None;
                }
                return Some((format!("{}.{}", self.path, k), v));
            }
        }
        None
    }

    fn required(&mut self, name: &str, aliases: &[&str]) -> Result<(String, &'a Value)> {
        self.take(name, aliases).ok_or_else(|| RecordError::new(self.at(name), "is required"))
    }

    pub fn req_str(&mut self, name: &str, max_chars: usize) -> Result<String> {
        self.req_str_alias(name, &[], max_chars)
    }

    pub fn req_str_alias(&mut self, name: &str, aliases: &[&str], max_chars: usize) -> Result<String> {
        let (path, v) = self.required(name, aliases)?;
        text(&path, v, max_chars)
    }

    pub fn opt_str(&mut self, name: &str, max_chars: usize) -> Result<Option<String>> {
        self.opt_str_alias(name, &[], max_chars)
    }

    pub fn opt_str_alias(&mut self, name: &str, aliases: &[&str], max_chars: usize) -> Result<Option<String>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => {
                let s = text(&path, v, max_chars)?;
                Ok(if s.is_empty() { None } else { Some(s) })
            }
        }
    }

    /// A required field with the path it was found at, for rules checked later.
    pub fn req_str_at(&mut self, name: &str, aliases: &[&str], max_chars: usize) -> Result<(String, String)> {
        let (path, v) = self.required(name, aliases)?;
        Ok((text(&path, v, max_chars)?, path))
    }

    pub fn opt_str_at(&mut self, name: &str, aliases: &[&str], max_chars: usize) -> Result<Option<(String, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => {
                let s = text(&path, v, max_chars)?;
                Ok(if s.is_empty() { None } else { Some((s, path)) })
            }
        }
    }

    /// A phone number (mobile or fixed line).
    pub fn opt_phone(&mut self, name: &str, aliases: &[&str]) -> Result<Option<String>> {
        match self.opt_str_at(name, aliases, 40)? {
            None => Ok(None),
            Some((p, path)) => match crate::identifiers::phone_problem(&p) {
                Some(rule) => Err(RecordError::new(path, rule)),
                None => Ok(Some(p)),
            },
        }
    }

    /// GB/T 7408 (ISO 8601) date: `YYYY-MM-DD`, or a date-time whose date part is taken.
    pub fn req_date(&mut self, name: &str, aliases: &[&str]) -> Result<(NaiveDate, String)> {
        let (path, v) = self.required(name, aliases)?;
        Ok((date(&path, v)?, path))
    }

    pub fn opt_date(&mut self, name: &str, aliases: &[&str]) -> Result<Option<(NaiveDate, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => Ok(Some((date(&path, v)?, path))),
        }
    }

    /// Seed 004's 日期时间型: a date, or a date and time of day, in China
    /// Standard Time (UTC+8); see [`parse_moment`].
    pub fn req_moment(&mut self, name: &str, aliases: &[&str]) -> Result<(Moment, String)> {
        let (path, v) = self.required(name, aliases)?;
        Ok((moment(&path, v)?, path))
    }

    pub fn opt_moment(&mut self, name: &str, aliases: &[&str]) -> Result<Option<(Moment, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => Ok(Some((moment(&path, v)?, path))),
        }
    }

    /// A positive weight in kilograms (number or decimal string, ≤ 3 decimals), in grams.
    pub fn req_weight(&mut self, name: &str, aliases: &[&str]) -> Result<(u64, String)> {
        let (path, v) = self.required(name, aliases)?;
        let g = grams(&path, v)?;
        if g == 0 {
            return Err(RecordError::new(path, "must be a positive weight in kilograms"));
        }
        Ok((g, path))
    }

    /// A weight that may be zero (an inventory), in grams.
    pub fn opt_weight(&mut self, name: &str, aliases: &[&str]) -> Result<Option<(u64, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => Ok(Some((grams(&path, v)?, path))),
        }
    }

    /// A positive whole number of pieces.
    pub fn req_pieces(&mut self, name: &str, aliases: &[&str]) -> Result<(u64, String)> {
        let (path, v) = self.required(name, aliases)?;
        let n = count(&path, v)?;
        if n == 0 {
            return Err(RecordError::new(path, "must be a positive whole number of pieces"));
        }
        Ok((n, path))
    }

    pub fn opt_count(&mut self, name: &str, aliases: &[&str]) -> Result<Option<(u64, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => Ok(Some((count(&path, v)?, path))),
        }
    }

    /// A positive decimal (specification, area), kept as its decimal text.
    pub fn opt_positive(&mut self, name: &str, aliases: &[&str]) -> Result<Option<String>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => {
                let s = decimal_text(&path, v)?;
                if s.chars().all(|c| c == '0' || c == '.') {
                    return Err(RecordError::new(path, "must be a positive number"));
                }
                Ok(Some(s))
            }
        }
    }

    pub fn opt_f64(&mut self, name: &str, aliases: &[&str]) -> Result<Option<(f64, String)>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if n.is_finite() => Ok(Some((n, path))),
                    _ => Err(RecordError::new(path, "must be a number")),
                }
            }
        }
    }

    pub fn opt_bool(&mut self, name: &str) -> Result<Option<bool>> {
        match self.take(name, &[]) {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(*b)),
            Some((path, _)) => Err(RecordError::new(path, "must be true or false")),
        }
    }

    /// An image as it goes on chain: `sha256:<64 hex>` (the gateway stores
    /// the Base64 bytes off-chain and puts their digest here).
    pub fn opt_image(&mut self, name: &str, aliases: &[&str]) -> Result<Option<Hash>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => {
                let s = v.as_str().ok_or_else(|| RecordError::new(&path, "must be a Base64 image or sha256:<hex>"))?;
                crate::images::reference(s).map(Some).ok_or_else(|| {
                    RecordError::new(path, "an image goes on chain as \"sha256:<64 hex>\"; submit the Base64 image through a gateway, which stores it and signs over its digest")
                })
            }
        }
    }

    pub fn req_object(&mut self, name: &str, aliases: &[&str]) -> Result<Fields<'a>> {
        let (path, v) = self.required(name, aliases)?;
        Fields::of(path, v)
    }

    pub fn opt_object(&mut self, name: &str, aliases: &[&str]) -> Result<Option<Fields<'a>>> {
        match self.take(name, aliases) {
            None => Ok(None),
            Some((path, v)) => Fields::of(path, v).map(Some),
        }
    }

    /// A non-empty array of objects, each as a [`Fields`] named `path[i]`.
    pub fn req_objects(&mut self, name: &str, aliases: &[&str], max: usize) -> Result<Vec<Fields<'a>>> {
        let (path, v) = self.required(name, aliases)?;
        let items = v.as_array().ok_or_else(|| RecordError::new(&path, "must be an array"))?;
        if items.is_empty() || items.len() > max {
            return Err(RecordError::new(&path, format!("must list 1 to {max} items")));
        }
        items.iter().enumerate().map(|(i, item)| Fields::of(format!("{path}[{i}]"), item)).collect()
    }

    pub fn opt_objects(&mut self, name: &str, aliases: &[&str], max: usize) -> Result<Vec<Fields<'a>>> {
        if self.members.contains_key(&normalize(name)) || aliases.iter().any(|a| self.members.contains_key(&normalize(a))) {
            self.req_objects(name, aliases, max)
        } else {
            Ok(Vec::new())
        }
    }

    /// A raw value (for members whose shape the record checks itself).
    pub fn opt_value(&mut self, name: &str) -> Option<(String, &'a Value)> {
        self.take(name, &[])
    }

    /// A raw value under its name or an alias.
    pub fn opt_value_alias(&mut self, name: &str, aliases: &[&str]) -> Option<(String, &'a Value)> {
        self.take(name, aliases)
    }

    /// Rejects members no rule consumed.
    pub fn finish(&self, allowed: &str) -> Result<()> {
        match self.members.values().next() {
            Some((k, _)) => Err(RecordError::new(format!("{}.{}", self.path, k), format!("unknown field; this object takes: {allowed}"))),
            None => Ok(()),
        }
    }
}

fn text(path: &str, v: &Value, max_chars: usize) -> Result<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err(RecordError::new(path, "must be a string")),
    };
    if s.chars().count() > max_chars {
        return Err(RecordError::new(path, format!("is longer than {max_chars} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(RecordError::new(path, "must not contain control characters"));
    }
    Ok(s)
}

fn date(path: &str, v: &Value) -> Result<NaiveDate> {
    let s = v.as_str().ok_or_else(|| RecordError::new(path, "must be a date string YYYY-MM-DD (GB/T 7408)"))?;
    parse_date(s).ok_or_else(|| RecordError::new(path, format!("\"{s}\" is not a GB/T 7408 date (YYYY-MM-DD or an ISO 8601 date-time)")))
}

/// `YYYY-MM-DD`, or an ISO 8601 date-time (`YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`,
/// also with a space) whose calendar date is taken as written.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    if s.len() > 10 && matches!(s.as_bytes()[10], b'T' | b' ') {
        let d = NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").ok()?;
        let time = s[11..].replace(' ', "T");
        let candidate = format!("{}T{}", &s[..10], time);
        let ok = chrono::DateTime::parse_from_rfc3339(&candidate).is_ok()
            || chrono::NaiveDateTime::parse_from_str(&candidate, "%Y-%m-%dT%H:%M:%S").is_ok()
            || chrono::NaiveDateTime::parse_from_str(&candidate, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || chrono::NaiveDateTime::parse_from_str(&candidate, "%Y-%m-%dT%H:%M").is_ok();
        return ok.then_some(d);
    }
    None
}

/// A date, with the time of day when the record gave one, in China
/// Standard Time (UTC+8): seed 004's 日期时间型 for entry, stock-in,
/// stock-out, sending and receiving (purchase) times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Moment {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
}

impl Moment {
    pub fn day(date: NaiveDate) -> Moment {
        Moment { date, time: None }
    }

    /// GB/T 7408 text: `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm:ss+08:00`.
    pub fn text(&self) -> String {
        match self.time {
            None => self.date.to_string(),
            Some(t) => format!("{}T{}+08:00", self.date, t.format("%H:%M:%S")),
        }
    }
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

fn moment(path: &str, v: &Value) -> Result<Moment> {
    let s = v.as_str().ok_or_else(|| RecordError::new(path, "must be a date string YYYY-MM-DD or a date-time YYYY-MM-DD hh:mm:ss (GB/T 7408)"))?;
    parse_moment(s).ok_or_else(|| {
        RecordError::new(
            path,
            format!("\"{s}\" is not a GB/T 7408 date or date-time (YYYY-MM-DD; YYYY-MM-DD hh:mm[:ss] in China Standard Time; or ISO 8601 with Z or an offset)"),
        )
    })
}

/// `YYYY-MM-DD` (a date, no time of day); `YYYY-MM-DD hh:mm[:ss[.f]]` (also
/// with `T`) without an offset, read as China Standard Time; or with `Z` or
/// `±hh:mm`, converted to China Standard Time (its date may change). The
/// time is kept to the second.
pub fn parse_moment(s: &str) -> Option<Moment> {
    let s = s.trim();
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Moment::day);
    }
    if s.len() <= 10 || !s.is_char_boundary(10) || !matches!(s.as_bytes()[10], b'T' | b' ') {
        return None;
    }
    let candidate = format!("{}T{}", &s[..10], &s[11..]);
    let local = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&candidate) {
        let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
        t.with_timezone(&cst).naive_local()
    } else {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(&candidate, f).ok())?
    };
    Some(Moment { date: local.date(), time: local.time().with_nanosecond(0) })
}

fn decimal_text(path: &str, v: &Value) -> Result<String> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(RecordError::new(path, "must be a number")),
    };
    let valid = !s.is_empty()
        && s.split_once('.').map_or(s.chars().all(|c| c.is_ascii_digit()), |(w, f)| {
            !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()) && f.chars().all(|c| c.is_ascii_digit())
        });
    if !valid {
        return Err(RecordError::new(path, format!("\"{s}\" is not a non-negative decimal number")));
    }
    Ok(s)
}

fn grams(path: &str, v: &Value) -> Result<u64> {
    let s = decimal_text(path, v)?;
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 3 {
        return Err(RecordError::new(path, "a weight in kilograms has at most 3 decimals (grams)"));
    }
    let whole: u64 = whole.parse().map_err(|_| RecordError::new(path, "weight is too large"))?;
    // Three ASCII digits (`decimal_text` allows only digits; more than 3 are refused above).
    let frac: u64 = format!("{frac:0<3}").parse().map_err(|_| RecordError::new(path, format!("\"{s}\" is not a non-negative decimal number")))?;
    whole
        .checked_mul(1000)
        .and_then(|g| g.checked_add(frac))
        .filter(|g| *g <= 1_000_000_000_000)
        .ok_or_else(|| RecordError::new(path, "weight is larger than 10⁹ kg"))
}

fn count(path: &str, v: &Value) -> Result<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9e15).map(|f| f as u64)),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.filter(|n| *n <= 1_000_000_000).ok_or_else(|| RecordError::new(path, "must be a whole number from 0 to 10⁹"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_of_a_field_are_one_field() {
        for v in [json!({"Product_library_id": "x"}), json!({"productLibraryId": "x"}), json!({"product_library_id": "x"})] {
            let mut f = Fields::of("record", &v).unwrap();
            assert_eq!(f.req_str("productLibraryId", 32).unwrap(), "x");
            f.finish("").unwrap();
        }
        let both = json!({"Product_library_id": "x", "productLibraryId": "y"});
        assert!(Fields::of("record", &both).unwrap_err().rule.contains("given twice"));
    }

    #[test]
    fn errors_name_the_field_as_spelled() {
        let v = json!({"Weight": "-3", "Number_of_pieces": 0, "extra": 1});
        let mut f = Fields::of("record", &v).unwrap();
        assert_eq!(f.req_weight("weight", &[]).unwrap_err().field, "record.Weight");
        assert_eq!(f.req_pieces("numberOfPieces", &[]).unwrap_err().field, "record.Number_of_pieces");
        assert_eq!(f.req_str("batch", 10).unwrap_err().field, "record.batch");
        assert_eq!(f.finish("weight").unwrap_err().field, "record.extra");
    }

    #[test]
    fn weights_are_exact_grams() {
        let g = |v: Value| grams("w", &v);
        assert_eq!(g(json!(13500.00)).unwrap(), 13_500_000);
        assert_eq!(g(json!("7515.50")).unwrap(), 7_515_500);
        assert_eq!(g(json!("0.001")).unwrap(), 1);
        assert!(g(json!("0.0001")).is_err());
        assert!(g(json!("1e3")).is_err());
        assert!(g(json!(-1)).is_err());
        assert_eq!(kg(7_515_500), "7515.5");
        assert_eq!(kg(13_500_000), "13500");
    }

    #[test]
    fn date_times_keep_the_time_of_day_in_china_standard_time() {
        let at = |d: (i32, u32, u32), t: Option<(u32, u32, u32)>| Moment {
            date: NaiveDate::from_ymd_opt(d.0, d.1, d.2).unwrap(),
            time: t.map(|(h, m, s)| NaiveTime::from_hms_opt(h, m, s).unwrap()),
        };
        assert_eq!(parse_moment("2021-02-08"), Some(at((2021, 2, 8), None)));
        assert_eq!(parse_moment("2021-02-08 10:05:30"), Some(at((2021, 2, 8), Some((10, 5, 30)))));
        assert_eq!(parse_moment("2021-02-08T10:05"), Some(at((2021, 2, 8), Some((10, 5, 0)))));
        assert_eq!(parse_moment("2021-02-08T10:05:30.250"), Some(at((2021, 2, 8), Some((10, 5, 30)))));
        assert_eq!(parse_moment("2021-02-08T10:05:30+08:00"), Some(at((2021, 2, 8), Some((10, 5, 30)))));
        // UTC evening is the next morning in Beijing.
        assert_eq!(parse_moment("2021-02-08T20:00:00Z"), Some(at((2021, 2, 9), Some((4, 0, 0)))));
        assert_eq!(parse_moment("2021-02-08T25:00:00"), None);
        assert_eq!(parse_moment("2021-02-30 10:00"), None);
        assert_eq!(parse_moment("2021-02-08 noon"), None);
        assert_eq!(at((2021, 2, 9), Some((4, 0, 0))).text(), "2021-02-09T04:00:00+08:00");
        assert_eq!(at((2021, 2, 9), None).text(), "2021-02-09");
    }

    #[test]
    fn dates_are_iso_8601() {
        assert_eq!(parse_date("2021-02-08"), NaiveDate::from_ymd_opt(2021, 2, 8));
        assert_eq!(parse_date("2021-02-08T10:00:00+08:00"), NaiveDate::from_ymd_opt(2021, 2, 8));
        assert_eq!(parse_date("2021-02-08 10:00:00"), NaiveDate::from_ymd_opt(2021, 2, 8));
        assert_eq!(parse_date("2021-02-30"), None);
        assert_eq!(parse_date("08/02/2021"), None);
        assert_eq!(parse_date("2021-02-08Tnonsense"), None);
    }
}
