//! `dictionary_amendment`: the dictionaries of genesis change only when a
//! quorum of bureaus (q = n − ⌊(n−1)/3⌋ of the bureaus with admin keys)
//! each sign the same amendment. Each signature is an approval; the
//! amendment applies with the approval that makes the quorum.

use super::Cx;
use crate::canonical;
use crate::dictionary::DICTIONARY_NAMES;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{Ledger, PendingAmendment};

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
pub struct DictionaryAmendment {
    pub dictionary: String,
    pub add: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl DictionaryAmendment {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (dictionary, d_path) = f.req_str_at("dictionary", &[], 40)?;
        if !DICTIONARY_NAMES.contains(&dictionary.as_str()) {
            return Err(RecordError::new(d_path, format!("\"{dictionary}\" is not a dictionary; one of {}", DICTIONARY_NAMES.join(", "))));
        }
        let mut add = BTreeMap::new();
        if let Some((path, v)) = f.opt_value("add") {
            let obj = v.as_object().ok_or_else(|| RecordError::new(&path, "is an object of code → name"))?;
            for (code, name) in obj {
                let name = name
                    .as_str()
                    .filter(|n| !n.is_empty() && n.chars().count() <= 100)
                    .ok_or_else(|| RecordError::new(format!("{path}.{code}"), "a name is a string of 1–100 characters"))?;
                if code.is_empty() || code.len() > 20 {
                    return Err(RecordError::new(format!("{path}.{code}"), "a code is 1–20 characters"));
                }
                add.insert(code.clone(), name.to_string());
            }
        }
        let mut remove = BTreeSet::new();
        if let Some((path, v)) = f.opt_value("remove") {
            let items = v.as_array().ok_or_else(|| RecordError::new(&path, "is an array of codes"))?;
            for (i, c) in items.iter().enumerate() {
                remove.insert(c.as_str().ok_or_else(|| RecordError::new(format!("{path}[{i}]"), "a code is a string"))?.to_string());
            }
        }
        if add.is_empty() && remove.is_empty() {
            return Err(RecordError::new(f.at("add"), "an amendment adds or removes at least one code"));
        }
        f.finish("dictionary, add, remove")?;
        Ok(DictionaryAmendment { dictionary, add, remove })
    }

    /// The amendment's identity: SHA-256 of its canonical content.
    pub fn digest(&self) -> Hash {
        let v = serde_json::json!({"dictionary": self.dictionary, "add": self.add, "remove": self.remove});
        Hash::digest(&canonical::to_bytes(&v).unwrap_or_default())
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("dictionary_amendment")?;
        if l.amendments().get(&self.digest()).is_some_and(|a| a.approvals.contains(province)) {
            return Err(RecordError::new("signer", format!("bureau {province} already approved this amendment")));
        }
        let dict = l.dictionaries().get(&self.dictionary);
        for (code, name) in &self.add {
            if let Some(other) = dict.and_then(|d| d.code_of(name)).filter(|c| *c != code && !self.remove.contains(*c)) {
                return Err(RecordError::new(format!("record.add.{code}"), format!("name \"{name}\" is already code {other}'s")));
            }
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let digest = self.digest();
        let quorum = l.quorum_of_bureaus();
        let mut pending = l.amendments().get(&digest).cloned().unwrap_or_else(|| PendingAmendment {
            dictionary: self.dictionary.clone(),
            add: self.add.clone(),
            remove: self.remove.clone(),
            approvals: BTreeSet::new(),
        });
        pending.approvals.insert(province);
        if pending.approvals.len() < quorum {
            l.put_amendment(digest, pending);
            return;
        }
        if l.amendments().contains_key(&digest) {
            l.remove_amendment(&digest);
        }
        let mut dictionaries = l.dictionaries().clone();
        let dict = dictionaries.0.entry(pending.dictionary).or_default();
        for code in &pending.remove {
            dict.remove(code);
        }
        for (code, name) in pending.add {
            dict.insert(code, name);
        }
        l.set_dictionaries(dictionaries);
    }
}
