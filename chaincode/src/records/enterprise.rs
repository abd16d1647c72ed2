//! `enterprise` (seed 004 table 3): a bureau enrols an enterprise of its
//! province, with the ed25519 key the enterprise signs its records with.
//! Re-submitting the same USCC changes it (or suspends it: `"suspended": true`).

use super::{Cx, dict};
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{Counter, ENTERPRISE_IDS, ENTERPRISE_KEYS, ENTERPRISES, EntId, Enterprise, Ledger, Licence};

#[derive(Clone, Debug)]
pub struct EnterpriseRecord {
    pub name: String,
    pub uscc: (String, String),
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub legal_person: Option<String>,
    pub address: String,
    pub district: (String, String),
    pub enterprise_type: (String, String),
    pub licence_image: Option<Hash>,
    pub licences: Vec<(String, String, Option<String>, Option<Hash>)>,
    pub public_key: ([u8; 32], String),
    pub latitude: f64,
    pub longitude: f64,
    pub suspended: bool,
}

const FIELDS: &str = "entName, unifSociCredCode, contact, contactPhone, legalPerson, officeAddress, addrDistricts, entTypeCode, entImg, licences, publicKey, latitude, longitude, suspended";

impl EnterpriseRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let name = f.req_str_alias("entName", &["name"], 200)?;
        let uscc = f.req_str_at("unifSociCredCode", &["uscc"], 18)?;
        let contact = f.opt_str("contact", 50)?;
        let contact_phone = f.opt_phone("contactPhone", &[])?;
        let legal_person = f.opt_str("legalPerson", 50)?;
        let address = f.req_str_alias("officeAddress", &["address"], 300)?;
        let district = f.req_str_at("addrDistricts", &["addrDistrict", "district"], 200)?;
        let enterprise_type = f.req_str_at("entTypeCode", &["entType", "enterpriseType"], 20)?;
        let licence_image = f.opt_image("entImg", &[])?;
        let mut licences = Vec::new();
        for mut l in f.opt_objects("licences", &["licenses"], 20)? {
            let (t, tp) = l.req_str_at("type", &["licenceType"], 100)?;
            let number = l.opt_str("number", 64)?;
            let image = l.opt_image("licenceImg", &["image"])?;
            l.finish("type, number, licenceImg")?;
            licences.push((t, tp, number, image));
        }
        let public_key = super::public_key(f, "publicKey")?;
        let (latitude, lat_path) = f.opt_f64("latitude", &["lat"])?.ok_or_else(|| RecordError::new(f.at("latitude"), "is required"))?;
        let (longitude, lon_path) = f.opt_f64("longitude", &["lng", "lon"])?.ok_or_else(|| RecordError::new(f.at("longitude"), "is required"))?;
        if !(3.0..=54.0).contains(&latitude) {
            return Err(RecordError::new(lat_path, format!("{latitude} is not a latitude in China (3° to 54° N, WGS 84)")));
        }
        if !(73.0..=136.0).contains(&longitude) {
            return Err(RecordError::new(lon_path, format!("{longitude} is not a longitude in China (73° to 136° E, WGS 84)")));
        }
        let suspended = f.opt_bool("suspended")?.unwrap_or(false);
        let r = EnterpriseRecord {
            name,
            uscc,
            contact,
            contact_phone,
            legal_person,
            address,
            district,
            enterprise_type,
            licence_image,
            licences,
            public_key,
            latitude,
            longitude,
            suspended,
        };
        super::uscc(&r.uscc.0, &r.uscc.1)?;
        f.finish(FIELDS)?;
        Ok(r)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let province = cx.require_bureau("enterprise")?;
        if l.dictionaries().get("province").is_none_or(|d| d.name_of(province).is_none()) {
            return Err(RecordError::new("signer", format!("bureau {province} is not a province's bureau; only provinces enrol enterprises")));
        }
        if let Some(p) = crate::identifiers::division_province(&self.district.0)
            && p != province
        {
            return Err(RecordError::new(
                &self.district.1,
                format!("district {} lies in province {p}, not the enrolling bureau's {province}", self.district.0),
            ));
        }
        dict(l, "enterprise_type", &self.enterprise_type.0, &self.enterprise_type.1)?;
        for (t, path, _, _) in &self.licences {
            dict(l, "licence_type", t, path)?;
        }
        if let Some((_, existing)) = l.enterprise(&self.uscc.0)
            && existing.province != province
        {
            return Err(RecordError::new(
                &self.uscc.1,
                format!("{} is enrolled by province {}; only that province's bureau may change it", self.uscc.0, existing.province),
            ));
        }
        let key = &self.public_key.0;
        if let Some(owner) = l.enterprise_of_key(key).map(|id| l.enterprise_at(id).uscc)
            && owner != self.uscc.0
        {
            return Err(RecordError::new(&self.public_key.1, format!("this key already belongs to enterprise {owner}")));
        }
        if l.province_of_admin_key(key).is_some() || l.province_of_validator_key(key).is_some() {
            return Err(RecordError::new(&self.public_key.1, "this key is (or was) a bureau's or validator's key"));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let enterprise_type = l.dictionaries().lookup("enterprise_type", &self.enterprise_type.0).unwrap_or(self.enterprise_type.0);
        let licences = self
            .licences
            .into_iter()
            .map(|(t, _, number, image)| Licence { licence_type: l.dictionaries().lookup("licence_type", &t).unwrap_or(t), number, image })
            .chain(self.licence_image.map(|image| Licence { licence_type: "01".into(), number: None, image: Some(image) }))
            .collect();
        let mut e = Enterprise {
            uscc: self.uscc.0.clone(),
            name: self.name,
            province,
            enterprise_type,
            address: self.address,
            district: self.district.0,
            latitude: self.latitude,
            longitude: self.longitude,
            contact: self.contact,
            contact_phone: self.contact_phone,
            legal_person: self.legal_person,
            licences,
            public_key: self.public_key.0,
            suspended: self.suspended,
            history: vec![cx.tx],
            outside: false,
        };
        match l.enterprise_or_outside(&self.uscc.0) {
            Some((id, old)) => {
                // A receiver recorded outside becomes enrolled: counted from now.
                crate::state::statistics::enterprise_changed(l, cx, id, Some(&old).filter(|o| !o.outside), &e);
                l.delete(&ENTERPRISE_KEYS, &old.public_key);
                let mut history = old.history;
                history.push(cx.tx);
                e.history = history;
                l.put(&ENTERPRISES, &id, &e);
                l.put(&ENTERPRISE_KEYS, &self.public_key.0, &id);
            }
            None => {
                let id = l.next_id(Counter::Enterprises) as EntId;
                crate::state::statistics::enterprise_changed(l, cx, id, None, &e);
                l.put(&ENTERPRISES, &id, &e);
                l.put(&ENTERPRISE_IDS, &self.uscc.0, &id);
                l.put(&ENTERPRISE_KEYS, &self.public_key.0, &id);
            }
        }
    }
}
