//! GS1 element strings and GS1 Digital Link URIs: one parser for the codes
//! printed on imported cold-chain food (issue 20).
//!
//! An element string is a sequence of Application Identifiers (AIs) and their
//! data. People read it bracketed, `(01)09506000134352(10)ABC123`; a scanner
//! delivers it concatenated, where an AI that is not of predefined length ends
//! at the group separator GS (U+001D) or at the end of the data. A Digital
//! Link URI carries the same data as a web address:
//! `https://id.example.org/01/09506000134352/10/ABC123?17=261231`.
//!
//! Rules enforced, as the GS1 General Specifications state them: the AI
//! formats of [`AIS`] (§3), GS after every AI outside the predefined-length
//! table (§7.8.5), the mod-10 check digit (§7.9), dates YYMMDD with day 00 for
//! "no day" (§7.12); and the path of the GS1 Digital Link URI syntax (primary
//! key, then its key qualifiers in order). Not enforced: the pairing rules
//! (which AI requires or excludes which) and whether AI 422 is an assigned
//! ISO 3166 code. Pure: no I/O, no clock.

use crate::identifiers::gs1_check_digit;

/// The group separator (FNC1 as a scanner transmits it).
const GS: char = '\u{1d}';

/// GS1 AI encodable character set 82 (General Specifications figure 7.11-1).
const CSET82: &str = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// AIs whose first two digits are in this table have a predefined length and
/// need no GS after them (General Specifications figure 7.8.5-2). Every other
/// AI does, even one of fixed length such as 422 or 7003, unless it is last.
const PREDEFINED_LENGTH: [&str; 22] =
    ["00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "31", "32", "33", "34", "35", "36", "41"];

/// GS1 Digital Link primary keys this parser knows and their key qualifiers,
/// in the only order the path may give them.
const DL_KEYS: [(&str, &[&str]); 3] = [("01", &["22", "10", "21"]), ("00", &[]), ("414", &["254"])];

#[derive(Clone, Copy, Debug)]
enum Len {
    Fixed(usize),
    Max(usize),
}

#[derive(Clone, Copy, Debug)]
enum Charset {
    /// GS1 "N": digits.
    N,
    /// GS1 "X": character set 82.
    X,
}

#[derive(Clone, Copy, Debug)]
enum Rule {
    None,
    CheckDigit,
    /// YYMMDD, day 00 allowed.
    Date,
    /// YYMMDDHHMM, day 00 not allowed (AI 7003).
    DateTime,
}

/// One AI, or a range of AIs differing in the last digit, and its format.
#[derive(Debug)]
pub struct AiFormat {
    ais: &'static str,
    len: Len,
    charset: Charset,
    rule: Rule,
}

const fn ai(ais: &'static str, len: Len, charset: Charset, rule: Rule) -> AiFormat {
    AiFormat { ais, len, charset, rule }
}

/// The AIs a food trace code carries (General Specifications §3.2 table; the
/// ranges are written as in the GS1 Syntax Dictionary).
pub const AIS: &[AiFormat] = &[
    ai("00", Len::Fixed(18), Charset::N, Rule::CheckDigit),      // SSCC
    ai("01", Len::Fixed(14), Charset::N, Rule::CheckDigit),      // GTIN
    ai("02", Len::Fixed(14), Charset::N, Rule::CheckDigit),      // GTIN of contained items
    ai("10", Len::Max(20), Charset::X, Rule::None),              // batch or lot
    ai("11", Len::Fixed(6), Charset::N, Rule::Date),             // production date
    ai("13", Len::Fixed(6), Charset::N, Rule::Date),             // packaging date
    ai("15", Len::Fixed(6), Charset::N, Rule::Date),             // best before
    ai("16", Len::Fixed(6), Charset::N, Rule::Date),             // sell by
    ai("17", Len::Fixed(6), Charset::N, Rule::Date),             // expiry
    ai("21", Len::Max(20), Charset::X, Rule::None),              // serial
    ai("22", Len::Max(20), Charset::X, Rule::None),              // consumer product variant
    ai("254", Len::Max(20), Charset::X, Rule::None),             // GLN extension
    ai("30", Len::Max(8), Charset::N, Rule::None),               // variable count
    ai("3100-3105", Len::Fixed(6), Charset::N, Rule::None),      // net weight in kg, last digit = decimals
    ai("37", Len::Max(8), Charset::N, Rule::None),               // count of trade items
    ai("400", Len::Max(30), Charset::X, Rule::None),             // customer's order number
    ai("410-417", Len::Fixed(13), Charset::N, Rule::CheckDigit), // GLNs: ship to, bill to, … location, party
    ai("422", Len::Fixed(3), Charset::N, Rule::None),            // country of origin, ISO 3166 numeric
    ai("7003", Len::Fixed(10), Charset::N, Rule::DateTime),      // expiry date and time
];

/// The format of `ai`. Ranges share all but the last digit, so comparing
/// equal-length strings is comparing numbers.
fn format_of(ai: &str) -> Option<&'static AiFormat> {
    AIS.iter().find(|f| {
        let (first, last) = f.ais.split_once('-').unwrap_or((f.ais, f.ais));
        ai.len() == first.len() && first <= ai && ai <= last
    })
}

/// Why a GS1 code is not valid: which AI and which rule, or where the syntax broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    #[error("AI ({ai}): {rule}")]
    Ai { ai: String, rule: String },
    #[error("unknown AI at position {position}: {text}…")]
    UnknownAi { position: usize, text: String },
    #[error("at position {position}: {rule}")]
    Syntax { position: usize, rule: String },
    #[error("Digital Link: {0}")]
    DigitalLink(String),
}

fn ai_error(ai: &str, rule: String) -> Gs1Error {
    Gs1Error::Ai { ai: ai.to_string(), rule }
}

/// AIs and their data, in the order given; each AI at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElementString {
    pairs: Vec<(String, String)>,
}

impl ElementString {
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn get(&self, ai: &str) -> Option<&str> {
        self.pairs.iter().find(|(a, _)| a == ai).map(|(_, v)| v.as_str())
    }

    pub fn gtin(&self) -> Option<&str> {
        self.get("01")
    }

    pub fn lot(&self) -> Option<&str> {
        self.get("10")
    }

    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }

    /// `(01)…(10)…`; a `(` in the data is written `\(` so the AIs stay findable.
    pub fn to_bracketed(&self) -> String {
        self.pairs.iter().map(|(ai, v)| format!("({ai}){}", v.replace('(', "\\("))).collect()
    }

    /// The concatenated form a barcode carries: GS after each AI outside the
    /// predefined-length table, except the last.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for (i, (ai, v)) in self.pairs.iter().enumerate() {
            out.push_str(ai);
            out.push_str(v);
            if i + 1 < self.pairs.len() && !PREDEFINED_LENGTH.contains(&&ai[..2]) {
                out.push(GS);
            }
        }
        out
    }

    /// Checks `value` against the AI's format and appends it. The same AI
    /// twice is allowed only with the same data.
    fn push(&mut self, ai: &str, format: &AiFormat, value: String) -> Result<(), Gs1Error> {
        value_problem(format, &value).map_or(Ok(()), |rule| Err(ai_error(ai, rule)))?;
        match self.get(ai) {
            Some(old) if old == value => Ok(()),
            Some(old) => Err(ai_error(ai, format!("given twice, as {old:?} and {value:?}"))),
            None => {
                self.pairs.push((ai.to_string(), value));
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for ElementString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_bracketed())
    }
}

fn value_problem(format: &AiFormat, v: &str) -> Option<String> {
    let n = v.chars().count();
    match format.len {
        Len::Max(_) if n == 0 => return Some("no data".into()),
        Len::Max(max) if n > max => return Some(format!("{n} characters, at most {max}")),
        Len::Fixed(len) if n != len => return Some(format!("{n} characters, exactly {len}")),
        _ => {}
    }
    for (i, c) in v.chars().enumerate() {
        match format.charset {
            Charset::N if !c.is_ascii_digit() => return Some(format!("character {} ({c:?}) is not a digit", i + 1)),
            Charset::X if !CSET82.contains(c) => return Some(format!("character {} ({c:?}) is not in GS1 character set 82", i + 1)),
            _ => {}
        }
    }
    match format.rule {
        Rule::None => None,
        Rule::CheckDigit => check_digit_problem(v.as_bytes()),
        Rule::Date => date_problem(v.as_bytes(), 0),
        Rule::DateTime => date_problem(v.as_bytes(), 1).or_else(|| time_problem(&v.as_bytes()[6..])),
    }
}

fn check_digit_problem(digits: &[u8]) -> Option<String> {
    let (body, last) = digits.split_at(digits.len().saturating_sub(1));
    let want = gs1_check_digit(body);
    let got = last.first().map_or(0, |d| d - b'0');
    (got != want).then(|| format!("check digit is {got} but the mod-10 rule gives {want}"))
}

fn two_digits(d: &[u8], at: usize) -> u32 {
    (d[at] - b'0') as u32 * 10 + (d[at + 1] - b'0') as u32
}

/// YYMMDD. The century is unknown without a clock; YY divisible by 4 is a
/// leap year for 1901–2099, which holds the §7.12 window until 2049.
fn date_problem(d: &[u8], first_day: u32) -> Option<String> {
    let (yy, mm, dd) = (two_digits(d, 0), two_digits(d, 2), two_digits(d, 4));
    if !(1..=12).contains(&mm) {
        return Some(format!("month {mm:02} is not 01–12"));
    }
    let last = match mm {
        2 if yy % 4 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (dd < first_day || dd > last).then(|| format!("day {dd:02} is not {first_day:02}–{last} in month {mm:02}"))
}

fn time_problem(d: &[u8]) -> Option<String> {
    let (hh, mi) = (two_digits(d, 0), two_digits(d, 2));
    if hh > 23 {
        return Some(format!("hour {hh:02} is not 00–23"));
    }
    (mi > 59).then(|| format!("minute {mi:02} is not 00–59"))
}

/// Parses an element string, bracketed `(01)…(10)…` or concatenated as a
/// scanner delivers it (a leading symbology identifier is dropped).
/// Positions in errors count characters from 0 in `s` as given.
pub fn parse_element_string(s: &str) -> Result<ElementString, Gs1Error> {
    let (skipped, data) = match ["]C1", "]e0", "]d2", "]Q3", "]J1"].iter().find(|id| s.starts_with(**id)) {
        Some(id) => (id.len(), &s[id.len()..]),
        None => (0, s),
    };
    let chars: Vec<char> = data.chars().collect();
    if chars.is_empty() {
        return Err(Gs1Error::Syntax { position: 0, rule: "no AI".into() });
    }
    if chars[0] == '(' { parse_bracketed(&chars, skipped) } else { parse_plain(&chars, skipped) }
}

fn parse_bracketed(chars: &[char], offset: usize) -> Result<ElementString, Gs1Error> {
    let mut es = ElementString::default();
    let mut i = 0;
    // Every turn starts at a '(': the value loop below stops only there or at the end.
    while i < chars.len() {
        let close = chars[i..].iter().position(|&c| c == ')').map(|p| i + p);
        let close = close.ok_or_else(|| Gs1Error::Syntax { position: offset + i, rule: "'(' without ')'".into() })?;
        let ai: String = chars[i + 1..close].iter().collect();
        let format = format_of(&ai).ok_or_else(|| Gs1Error::UnknownAi { position: offset + i, text: ai.chars().take(4).collect() })?;
        let mut value = String::new();
        i = close + 1;
        while i < chars.len() && chars[i] != '(' {
            if chars[i] == '\\' && chars.get(i + 1) == Some(&'(') {
                i += 1;
            }
            value.push(chars[i]);
            i += 1;
        }
        es.push(&ai, format, value)?;
    }
    Ok(es)
}

fn parse_plain(chars: &[char], offset: usize) -> Result<ElementString, Gs1Error> {
    let mut es = ElementString::default();
    let mut i = 0;
    while i < chars.len() {
        // AIs are prefix-free: at most one of the 2-, 3- and 4-digit readings is an AI.
        let found = (2..=4).filter(|n| i + n <= chars.len()).find_map(|n| {
            let ai: String = chars[i..i + n].iter().collect();
            format_of(&ai).map(|format| (ai, format))
        });
        let text = || chars[i..].iter().take(4).map(|&c| if c == GS { "<GS>".into() } else { c.to_string() }).collect();
        let (ai, format) = found.ok_or_else(|| Gs1Error::UnknownAi { position: offset + i, text: text() })?;
        i += ai.len();
        let limit = match format.len {
            Len::Fixed(n) => chars.len().min(i + n),
            Len::Max(_) => chars.len(),
        };
        let end = chars[i..limit].iter().position(|&c| c == GS).map_or(limit, |p| i + p);
        es.push(&ai, format, chars[i..end].iter().collect())?;
        i = end + usize::from(chars.get(end) == Some(&GS));
    }
    Ok(es)
}

/// A GTIN-8, -12, -13 or -14 as the 14 digits of AI (01), check digit verified.
pub fn gtin14(s: &str) -> Result<String, Gs1Error> {
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(ai_error("01", format!("character {} ({c:?}) is not a digit", i + 1)));
    }
    if !matches!(s.len(), 8 | 12 | 13 | 14) {
        return Err(ai_error("01", format!("{} digits, a GTIN has 8, 12, 13 or 14", s.len())));
    }
    let padded = format!("{s:0>14}");
    check_digit_problem(padded.as_bytes()).map_or(Ok(padded), |rule| Err(ai_error("01", rule)))
}

/// A GS1 Digital Link: its element string (primary key and key qualifiers
/// first, in path order, then the data attributes of the query string), the
/// `linkType` asked for, and the query parameters that are not AIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigitalLink {
    element_string: ElementString,
    /// How many leading pairs of `element_string` belong in the path.
    path_len: usize,
    link_type: Option<String>,
    params: Vec<(String, String)>,
}

/// Parses a Digital Link URI, with or without scheme and host; path segments
/// before the primary key (a resolver's own prefix) are skipped.
pub fn parse_digital_link(uri: &str) -> Result<DigitalLink, Gs1Error> {
    let (uri, _fragment) = uri.split_once('#').unwrap_or((uri, ""));
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let start = (0..segments.len()).find(|&i| (segments.len() - i).is_multiple_of(2) && DL_KEYS.iter().any(|(k, _)| *k == segments[i]));
    let no_key = || Gs1Error::DigitalLink(format!("no primary key (01, 00 or 414) and AI/value pairs after it in {path:?}"));
    let start = start.ok_or_else(no_key)?;
    let (key, qualifiers) = DL_KEYS.iter().find(|(k, _)| *k == segments[start]).ok_or_else(no_key)?;
    let mut es = ElementString::default();
    let mut last_qualifier = None;
    for (n, pair) in segments[start..].chunks(2).enumerate() {
        let (ai, value) = (pair[0], percent_decode(pair[1])?);
        if n > 0 {
            let q = qualifiers.iter().position(|q| *q == ai).filter(|&q| last_qualifier.is_none_or(|last| q > last));
            let allowed = if qualifiers.is_empty() { "no qualifiers".into() } else { format!("qualifiers {} in that order", qualifiers.join(", ")) };
            let prev = es.pairs.last().map_or("", |(a, _)| a.as_str());
            let rule = format!("/{ai}/ cannot follow /{prev}/: AI ({key}) takes {allowed}");
            last_qualifier = Some(q.ok_or(Gs1Error::DigitalLink(rule))?);
        }
        let value = if ai == "01" { gtin14(&value)? } else { value };
        let format = format_of(ai).ok_or_else(|| Gs1Error::DigitalLink(format!("AI ({ai}) is not known")))?;
        es.push(ai, format, value)?;
    }
    let path_len = es.pairs.len();
    let (mut link_type, mut params) = (None, Vec::new());
    let mut at = uri.len() - query.len();
    for param in query.split('&') {
        let position = uri[..at].chars().count();
        at += param.len() + 1;
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let value = percent_decode(value)?;
        if name.is_empty() {
            continue;
        } else if name.bytes().all(|b| b.is_ascii_digit()) {
            let format = format_of(name).ok_or_else(|| Gs1Error::UnknownAi { position, text: name.chars().take(4).collect() })?;
            if name == *key || qualifiers.contains(&name) {
                return Err(Gs1Error::DigitalLink(format!("AI ({name}) is a key or key qualifier and belongs in the path")));
            }
            es.push(name, format, value)?;
        } else if name == "linkType" {
            link_type = Some(value);
        } else {
            params.push((name.to_string(), value));
        }
    }
    Ok(DigitalLink { element_string: es, path_len, link_type, params })
}

impl DigitalLink {
    /// The Digital Link of an element string: its first primary key, the
    /// key's qualifiers in path order, the other AIs as query attributes.
    pub fn from_element_string(es: &ElementString) -> Result<DigitalLink, Gs1Error> {
        let (key, qualifiers) = es
            .pairs
            .iter()
            .find_map(|(ai, _)| DL_KEYS.iter().find(|(k, _)| k == ai))
            .ok_or_else(|| Gs1Error::DigitalLink(format!("the element string {es} has no primary key (01, 00 or 414)")))?;
        let in_path = |ai: &str| ai == *key || qualifiers.contains(&ai);
        let mut pairs: Vec<(String, String)> =
            std::iter::once(key).chain(qualifiers.iter()).filter_map(|ai| es.get(ai).map(|v| (ai.to_string(), v.to_string()))).collect();
        let path_len = pairs.len();
        pairs.extend(es.pairs.iter().filter(|(ai, _)| !in_path(ai)).cloned());
        Ok(DigitalLink { element_string: ElementString { pairs }, path_len, link_type: None, params: Vec::new() })
    }

    pub fn with_link_type(mut self, link_type: &str) -> Self {
        self.link_type = Some(link_type.to_string());
        self
    }

    pub fn element_string(&self) -> &ElementString {
        &self.element_string
    }

    pub fn link_type(&self) -> Option<&str> {
        self.link_type.as_deref()
    }

    /// Query parameters other than AIs and `linkType`, in the order given.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The canonical URI under `base` (e.g. `https://id.gs1.org`, or `""`
    /// for the path alone): GTIN as 14 digits, qualifiers in order, data
    /// attributes, `linkType` and other parameters in the query.
    pub fn to_uri(&self, base: &str) -> String {
        let mut uri = base.trim_end_matches('/').to_string();
        let (path, attributes) = self.element_string.pairs.split_at(self.path_len);
        for (ai, v) in path {
            uri.push_str(&format!("/{ai}/{}", percent_encode(v, "")));
        }
        let mut query: Vec<String> = attributes.iter().map(|(ai, v)| format!("{ai}={}", percent_encode(v, ""))).collect();
        query.extend(self.link_type.iter().map(|t| format!("linkType={}", percent_encode(t, ":"))));
        query.extend(self.params.iter().map(|(k, v)| format!("{}={}", percent_encode(k, ""), percent_encode(v, ":"))));
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query.join("&"));
        }
        uri
    }
}

/// Decodes `%XX` escapes (UTF-8); the inverse of [`percent_encode`].
pub fn percent_decode(s: &str) -> Result<String, Gs1Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match (hex(i + 1), hex(i + 2)) {
            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
            _ => return Err(Gs1Error::DigitalLink(format!("{s:?} has a '%' not followed by two hex digits"))),
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| Gs1Error::DigitalLink(format!("{s:?} does not decode to UTF-8")))
}

/// Percent-encodes every byte except RFC 3986 unreserved characters and `keep`.
pub fn percent_encode(s: &str, keep: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b);
    s.bytes().map(|b| if plain(b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::gtin_with_check;

    fn err(s: &str) -> String {
        parse_element_string(s).unwrap_err().to_string()
    }

    #[test]
    fn gtin14_pads_gtin_8_12_13_and_checks() {
        // The examples' check digits, computed rather than remembered.
        let computed = [b"0950600013435".as_slice(), b"10614141234567890", b"950600013437", b"9506000", b"61414112345"].map(gs1_check_digit);
        assert_eq!(computed, [2, 8, 6, 2, 2], "GTIN 09506000134352, SSCC 106141412345678908, GLN 9506000134376, 95060002, 614141123452");
        assert_eq!(gtin14("09506000134352").unwrap(), "09506000134352");
        assert_eq!(gtin14("9506000134352").unwrap(), "09506000134352");
        assert_eq!(gtin14("614141123452").unwrap(), "00614141123452");
        assert_eq!(gtin14("95060002").unwrap(), "00000095060002");
        assert_eq!(gtin14("09506000134353").unwrap_err().to_string(), "AI (01): check digit is 3 but the mod-10 rule gives 2");
        assert_eq!(gtin14("950600013").unwrap_err().to_string(), "AI (01): 9 digits, a GTIN has 8, 12, 13 or 14");
        assert_eq!(gtin14("95060O02").unwrap_err().to_string(), "AI (01): character 6 ('O') is not a digit");
    }

    #[test]
    fn general_specifications_example() {
        let es = parse_element_string("(01)09506000134352(17)201225(10)ABC123").unwrap();
        assert_eq!((es.gtin(), es.get("17"), es.lot(), es.serial()), (Some("09506000134352"), Some("201225"), Some("ABC123"), None));
        assert_eq!(es.to_plain(), "01095060001343521720122510ABC123", "17 has a predefined length, 10 is last: no GS");
        assert_eq!(parse_element_string(&es.to_plain()).unwrap(), es);
        assert_eq!(es.to_bracketed(), "(01)09506000134352(17)201225(10)ABC123");
        assert_eq!(es.to_string(), es.to_bracketed());
    }

    #[test]
    fn scanner_data_with_symbology_identifiers_and_gs() {
        assert_eq!(parse_element_string("]C100106141412345678908").unwrap().get("00"), Some("106141412345678908"));
        let scanned = "]d2010950600013435210ABC123\u{1d}21456";
        let es = parse_element_string(scanned).unwrap();
        assert_eq!(es.to_bracketed(), "(01)09506000134352(10)ABC123(21)456");
        assert_eq!(es.to_plain(), &scanned[3..]);
        assert_eq!(parse_element_string("]Q30109506000134352211\u{1d}").unwrap().serial(), Some("1"), "a trailing GS is harmless");
        // 422 and 7003 are fixed-length but outside the predefined-length table: GS follows them.
        let es = parse_element_string("(01)09506000134352(422)156(7003)2607311430(3103)012500").unwrap();
        assert_eq!(es.to_plain(), "0109506000134352422156\u{1d}70032607311430\u{1d}3103012500");
        assert_eq!(parse_element_string(&es.to_plain()).unwrap(), es);
        assert_eq!(parse_element_string("0109506000134352422156700326073114303103012500").unwrap(), es, "GS after a fixed length is optional");
    }

    #[test]
    fn every_ai_of_the_table_round_trips() {
        let sample = |f: &AiFormat| match (f.len, f.charset, f.rule) {
            (Len::Fixed(n), _, Rule::CheckDigit) => gtin_with_check(&"1".repeat(n - 1)),
            (_, _, Rule::Date) => "260100".to_string(),
            (_, _, Rule::DateTime) => "2602281200".to_string(),
            (Len::Fixed(n), _, _) => "1".repeat(n),
            (Len::Max(_), Charset::N, _) => "12".to_string(),
            (Len::Max(_), Charset::X, _) => "a-(B)/1".to_string(),
        };
        let ranges = AIS.iter().map(|f| (f, f.ais.split_once('-').unwrap_or((f.ais, f.ais))));
        let mut ais: Vec<(&AiFormat, &str)> = ranges.flat_map(|(f, (first, last))| [(f, first), (f, last)]).collect();
        ais.dedup_by_key(|(_, ai)| *ai);
        let bracketed: String = ais.iter().map(|(f, ai)| format!("({ai}){}", sample(f).replace('(', "\\("))).collect();
        let es = parse_element_string(&bracketed).unwrap();
        assert_eq!(es.pairs().len(), AIS.len() + 2, "3100 and 3105, 410 and 417");
        assert_eq!(es.to_bracketed(), bracketed);
        assert_eq!(parse_element_string(&es.to_plain()).unwrap(), es);
        // 10, 21, 22, 254, 30, 37, 400, 422 and 7003 need GS; 7003 is last.
        assert_eq!(es.to_plain().matches(GS).count(), 8);
    }

    #[test]
    fn the_hebei_demo_code_is_a_gtin_and_a_lot() {
        use crate::scenario::HEBEI_CODE;
        let pattern = regex::Regex::new(r"^01\d{14}10[0-9A-Z]{1,20}$").unwrap();
        assert!(pattern.is_match(HEBEI_CODE));
        // GTIN then lot, the lot last, no GS.
        let es = parse_element_string(HEBEI_CODE).unwrap();
        assert_eq!((es.gtin(), es.lot()), (Some("06901234001235"), Some("1BY9066")));
        assert_eq!(es.to_plain(), HEBEI_CODE);
        // The demo's code had the check digit 8 until this parser read it.
        let wrong = HEBEI_CODE.replacen("06901234001235", "06901234001238", 1);
        assert!(pattern.is_match(&wrong), "the scheme's pattern alone lets it pass");
        assert_eq!(err(&wrong), "AI (01): check digit is 8 but the mod-10 rule gives 5");
        assert_eq!(DigitalLink::from_element_string(&es).unwrap().to_uri(""), "/01/06901234001235/10/1BY9066");
    }

    #[test]
    fn element_string_errors_name_the_ai_and_the_rule() {
        let cases = [
            ("(01)09506000134353", "AI (01): check digit is 3 but the mod-10 rule gives 2"),
            ("00106141412345678907", "AI (00): check digit is 7 but the mod-10 rule gives 8"),
            ("(414)9506000134377", "AI (414): check digit is 7 but the mod-10 rule gives 6"),
            ("(10)ABCDEFGHIJKLMNOPQRSTU", "AI (10): 21 characters, at most 20"),
            ("(10)", "AI (10): no data"),
            ("(01)9506000134352", "AI (01): 13 characters, exactly 14"),
            ("01950600013435\u{1d}10A", "AI (01): 12 characters, exactly 14"),
            ("(01)0950600013435A", "AI (01): character 14 ('A') is not a digit"),
            ("(21)AB C", "AI (21): character 3 (' ') is not in GS1 character set 82"),
            ("(30)123456789", "AI (30): 9 characters, at most 8"),
            ("(17)261301", "AI (17): month 13 is not 01–12"),
            ("(15)270229", "AI (15): day 29 is not 00–28 in month 02"),
            ("(11)260431", "AI (11): day 31 is not 00–30 in month 04"),
            ("(7003)2601000000", "AI (7003): day 00 is not 01–31 in month 01"),
            ("(7003)2601012400", "AI (7003): hour 24 is not 00–23"),
            ("(7003)2601012360", "AI (7003): minute 60 is not 00–59"),
            ("(10)A(10)B", "AI (10): given twice, as \"A\" and \"B\""),
            ("(01)09506000134352(99)X", "unknown AI at position 18: 99…"),
            ("]d2010950600013435299X", "unknown AI at position 19: 99X…"),
            ("(3106)001250", "unknown AI at position 0: 3106…"),
            ("10A\u{1d}\u{1d}21B", "unknown AI at position 4: <GS>21B…"),
            ("(01", "at position 0: '(' without ')'"),
            ("", "at position 0: no AI"),
        ];
        for (input, message) in cases {
            assert_eq!(err(input), message, "{input:?}");
        }
        assert!(parse_element_string("(17)240229").is_ok(), "2024 is a leap year");
        assert!(parse_element_string("(17)261200").is_ok(), "day 00: no day given");
        assert_eq!(parse_element_string("(10)A(10)A").unwrap().pairs().len(), 1, "a repeat with the same data is kept once");
    }

    #[test]
    fn digital_link_standard_example() {
        let uri = "https://id.gs1.org/01/09506000134352/10/ABC123/21/456";
        let dl = parse_digital_link(uri).unwrap();
        assert_eq!(dl.element_string(), &parse_element_string("(01)09506000134352(10)ABC123(21)456").unwrap());
        assert_eq!((dl.link_type(), dl.params()), (None, &[][..]));
        assert_eq!(dl.to_uri("https://id.gs1.org/"), uri);
        assert_eq!(parse_digital_link("/01/09506000134352/10/ABC123").unwrap().to_uri(""), "/01/09506000134352/10/ABC123");
    }

    #[test]
    fn digital_link_prefix_padding_query_and_percent_encoding() {
        let dl =
            parse_digital_link("https://example.com/trace/v1/01/9506000134352/22/2A/10/AB%2f12?17=261231&linkType=gs1:traceability&lang=zh-CN#top")
                .unwrap();
        assert_eq!(dl.element_string().to_bracketed(), "(01)09506000134352(22)2A(10)AB/12(17)261231");
        assert_eq!(dl.link_type(), Some("gs1:traceability"));
        assert_eq!(dl.params(), &[("lang".to_string(), "zh-CN".to_string())]);
        let canonical = "https://id.gs1.org/01/09506000134352/22/2A/10/AB%2F12?17=261231&linkType=gs1:traceability&lang=zh-CN";
        assert_eq!(dl.to_uri("https://id.gs1.org"), canonical);
        assert_eq!(parse_digital_link(canonical).unwrap(), dl);
        let sscc = parse_digital_link("id.example.org/00/106141412345678908?02=09506000134352&37=24").unwrap();
        assert_eq!(sscc.element_string().to_bracketed(), "(00)106141412345678908(02)09506000134352(37)24");
        let gln = parse_digital_link("/414/9506000134376/254/32a%2Fb").unwrap();
        assert_eq!(gln.element_string().get("254"), Some("32a/b"));
    }

    #[test]
    fn round_trips_bracketed_plain_digital_link() {
        for bracketed in [
            "(01)09506000134352(10)ABC123(21)456",
            "(01)09506000134352(17)201225(10)ABC123",
            "(00)106141412345678908(02)09506000134352(37)24(400)PO-2026/77",
            "(01)09506000134352(10)A\\(1)(3103)001250(422)156",
        ] {
            let es = parse_element_string(bracketed).unwrap();
            assert_eq!(es.to_bracketed(), bracketed);
            assert_eq!(parse_element_string(&es.to_plain()).unwrap(), es);
            let uri = DigitalLink::from_element_string(&es).unwrap().with_link_type("gs1:traceability").to_uri("https://id.gs1.org");
            let back = parse_digital_link(&uri).unwrap();
            assert_eq!((back.link_type(), back.to_uri("https://id.gs1.org")), (Some("gs1:traceability"), uri.clone()));
            let (mut sent, mut got) = (es.pairs().to_vec(), back.element_string().pairs().to_vec());
            sent.sort();
            got.sort();
            assert_eq!(sent, got, "the same AIs; the link puts the key and its qualifiers first");
        }
        let es = parse_element_string("(01)09506000134352(17)201225(10)ABC123").unwrap();
        assert_eq!(
            DigitalLink::from_element_string(&es).unwrap().to_uri("https://id.gs1.org"),
            "https://id.gs1.org/01/09506000134352/10/ABC123?17=201225"
        );
        let no_key = parse_element_string("(10)ABC123").unwrap();
        assert_eq!(
            DigitalLink::from_element_string(&no_key).unwrap_err().to_string(),
            "Digital Link: the element string (10)ABC123 has no primary key (01, 00 or 414)"
        );
    }

    #[test]
    fn digital_link_errors() {
        let cases = [
            (
                "https://id.gs1.org/01/09506000134352/21/456/10/A",
                "Digital Link: /10/ cannot follow /21/: AI (01) takes qualifiers 22, 10, 21 in that order",
            ),
            ("/00/106141412345678908/10/A", "Digital Link: /10/ cannot follow /00/: AI (00) takes no qualifiers"),
            (
                "https://id.gs1.org/gtin/09506000134352",
                "Digital Link: no primary key (01, 00 or 414) and AI/value pairs after it in \"/gtin/09506000134352\"",
            ),
            ("/01/09506000134352/10", "Digital Link: no primary key (01, 00 or 414) and AI/value pairs after it in \"/01/09506000134352/10\""),
            ("/01/09506000134353", "AI (01): check digit is 3 but the mod-10 rule gives 2"),
            ("/01/950600013", "AI (01): 9 digits, a GTIN has 8, 12, 13 or 14"),
            ("/01/09506000134352/10/AB%2", "Digital Link: \"AB%2\" has a '%' not followed by two hex digits"),
            ("/01/09506000134352/10/%FF", "Digital Link: \"%FF\" does not decode to UTF-8"),
            ("/01/09506000134352/10/%C3%A9", "AI (10): character 1 ('é') is not in GS1 character set 82"),
            ("/01/09506000134352?17=261331", "AI (17): month 13 is not 01–12"),
            ("/01/09506000134352?10=ABC", "Digital Link: AI (10) is a key or key qualifier and belongs in the path"),
            ("/01/09506000134352?99=X", "unknown AI at position 19: 99…"),
        ];
        for (input, message) in cases {
            assert_eq!(parse_digital_link(input).unwrap_err().to_string(), message, "{input:?}");
        }
    }
}
