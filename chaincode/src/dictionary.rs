//! The code dictionaries records are checked against (seed 004 annexes C,
//! D, E; seed 000 §3.2: user roles, provinces, HS codes, product big
//! classes, entry ports, countries, customs districts, import source types;
//! and the cities and districts under the provinces). They are part of the
//! genesis state (`genesis/dictionaries.json`) and change only by a bureau
//! quorum's `dictionary_amendment`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every dictionary a record may refer to.
pub const DICTIONARY_NAMES: &[&str] = &[
    "china_customs",
    "city",
    "common_role",
    "country",
    "enterprise_type",
    "entry_port",
    "hs",
    "licence_type",
    "product_big_class",
    "product_category",
    "province",
    "source_type",
];

/// The dictionaries every genesis holds. Those added later (`china_customs`,
/// `city`, `common_role`, `source_type`) may be missing from a genesis
/// written before them, so that its chain still starts; there a record
/// naming one is refused, until a quorum's `dictionary_amendment` adds it.
pub const REQUIRED_DICTIONARIES: &[&str] =
    &["country", "enterprise_type", "entry_port", "hs", "licence_type", "product_big_class", "product_category", "province"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct Dictionary {
    by_code: BTreeMap<String, String>,
    by_name: BTreeMap<String, String>,
}

impl From<BTreeMap<String, String>> for Dictionary {
    fn from(by_code: BTreeMap<String, String>) -> Self {
        let by_name = by_code.iter().map(|(c, n)| (n.clone(), c.clone())).collect();
        Dictionary { by_code, by_name }
    }
}

impl From<Dictionary> for BTreeMap<String, String> {
    fn from(d: Dictionary) -> Self {
        d.by_code
    }
}

impl Dictionary {
    /// The code for `value`, given as a code or as its exact name.
    pub fn code_of(&self, value: &str) -> Option<&str> {
        if let Some((code, _)) = self.by_code.get_key_value(value) {
            return Some(code);
        }
        self.by_name.get(value).map(String::as_str)
    }

    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.by_code.get(code).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Every (code, name), in code order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_code.iter().map(|(c, n)| (c.as_str(), n.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    pub fn insert(&mut self, code: String, name: String) {
        if let Some(old) = self.by_code.insert(code.clone(), name.clone()) {
            self.by_name.remove(&old);
        }
        self.by_name.insert(name, code);
    }

    pub fn remove(&mut self, code: &str) {
        if let Some(name) = self.by_code.remove(code) {
            self.by_name.remove(&name);
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dictionaries(pub BTreeMap<String, Dictionary>);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DictionaryError {
    #[error("dictionaries: `{0}` is missing")]
    Missing(&'static str),
    #[error("dictionaries: `{0}` is not a known dictionary; known: {known}", known = DICTIONARY_NAMES.join(", "))]
    Unknown(String),
    #[error("dictionaries: `{dictionary}` names \"{name}\" twice; names must be unique")]
    DuplicateName { dictionary: String, name: String },
}

/// `genesis/dictionaries.json` as built into the binary: what `coldchain
/// testnet` writes into a new genesis.
pub const BUILTIN_JSON: &str = include_str!("../../genesis/dictionaries.json");

impl Dictionaries {
    #[allow(
        clippy::expect_used,
        reason = "BUILTIN_JSON is embedded at compile time; the test the_builtin_dictionaries_are_complete parses and validates it"
    )]
    pub fn builtin() -> Dictionaries {
        serde_json::from_str(BUILTIN_JSON).expect("genesis/dictionaries.json parses")
    }

    pub fn get(&self, name: &str) -> Option<&Dictionary> {
        self.0.get(name)
    }

    /// The code for `value` in dictionary `name`, or a rule to report.
    pub fn lookup(&self, name: &str, value: &str) -> Result<String, String> {
        let dict = self.0.get(name).ok_or_else(|| format!("dictionary `{name}` is not in this chain's genesis"))?;
        dict.code_of(value).map(str::to_string).ok_or_else(|| {
            let sample: Vec<String> = dict.by_code.iter().take(4).map(|(c, n)| format!("{c} ({n})")).collect();
            format!("\"{value}\" is neither a code nor a name in dictionary `{name}` ({} entries, e.g. {})", dict.len(), sample.join(", "))
        })
    }

    /// Every required dictionary present, no unknown one, names unique within each.
    pub fn validate(&self) -> Result<(), DictionaryError> {
        for name in REQUIRED_DICTIONARIES {
            if !self.0.contains_key(*name) {
                return Err(DictionaryError::Missing(name));
            }
        }
        for (name, dict) in &self.0 {
            if !DICTIONARY_NAMES.contains(&name.as_str()) {
                return Err(DictionaryError::Unknown(name.clone()));
            }
            if dict.by_name.len() != dict.by_code.len() {
                let mut seen = std::collections::BTreeSet::new();
                let dup = dict.by_code.values().find(|n| !seen.insert(*n)).cloned().unwrap_or_default();
                return Err(DictionaryError::DuplicateName { dictionary: name.clone(), name: dup });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_by_code_or_by_name() {
        let d: Dictionary = BTreeMap::from([("BR".to_string(), "巴西".to_string())]).into();
        assert_eq!(d.code_of("BR"), Some("BR"));
        assert_eq!(d.code_of("巴西"), Some("BR"));
        assert_eq!(d.code_of("Brazil"), None);
        let all = Dictionaries(BTreeMap::from([("country".to_string(), d)]));
        assert!(all.lookup("country", "Brazil").unwrap_err().contains("BR (巴西)"));
        assert!(matches!(all.validate(), Err(DictionaryError::Missing(_))));
    }

    #[test]
    fn the_builtin_dictionaries_are_complete() {
        let d = Dictionaries::builtin();
        d.validate().unwrap();
        assert_eq!(d.get("enterprise_type").unwrap().len(), 8, "seed 004 annex C");
        assert_eq!(d.get("licence_type").unwrap().len(), 7, "annex D");
        assert_eq!(d.get("product_category").unwrap().len(), 62, "annex E");
        assert_eq!(d.lookup("entry_port", "盐田").unwrap(), "5316");
        assert_eq!(d.lookup("product_big_class", "冷链禽肉").unwrap(), "3");
        // Seed 000 §3.2's dictionaries are all there, and the cities under the provinces.
        for name in DICTIONARY_NAMES {
            assert!(d.get(name).is_some_and(|x| !x.is_empty()), "{name} is missing or empty");
        }
        assert_eq!(d.lookup("source_type", "一般贸易").unwrap(), "1");
        assert_eq!(d.lookup("china_customs", "深圳关区").unwrap(), "5300");
        assert_eq!(d.get("china_customs").unwrap().name_of("0100"), Some("北京关区"));
        assert_eq!(d.lookup("common_role", "省级监管部门").unwrap(), "bureau");
        let city = d.get("city").unwrap();
        assert_eq!(city.name_of("110105"), Some("朝阳区"));
        assert_eq!(city.name_of("120116"), Some("滨海新区"));
        assert_eq!(city.name_of("130200"), Some("唐山市"));
        let under = |p: &str| city.entries().filter(|(c, _)| c.starts_with(p)).count();
        assert_eq!((under("11"), under("12"), under("13")), (16, 16, 11), "Beijing's and Tianjin's districts, Hebei's cities");
        // Every customs district code is that of some entry ports' district.
        let ports = d.get("entry_port").unwrap();
        for (code, _) in ports.entries() {
            let district = format!("{}00", &code[..2]);
            assert!(d.get("china_customs").unwrap().name_of(&district).is_some(), "port {code}'s district {district}");
        }
    }

    #[test]
    fn a_genesis_written_before_the_later_dictionaries_is_still_valid() {
        let mut d = Dictionaries::builtin();
        for name in ["china_customs", "city", "common_role", "source_type"] {
            d.0.remove(name);
        }
        d.validate().unwrap();
        assert!(d.lookup("source_type", "1").unwrap_err().contains("not in this chain's genesis"));
        d.0.remove("hs");
        assert_eq!(d.validate(), Err(DictionaryError::Missing("hs")));
    }
}
