//! `cold_storage` (seed 004 table 11): an enterprise registers a cold
//! storage it operates (or its province's bureau registers it for it).
//! Re-submitting the same number (or name) replaces the entry. Its
//! location (`longitude`, `latitude`, decimal degrees, WGS 84) is optional,
//! both or neither (seed 003 §七: 建议站点信息中增加经纬度).

use super::{Actor, Cx, uscc};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{COLD_STORAGES, ColdStorage, Counter, EntId, Ledger, STORAGE_IDS, StorageId};

#[derive(Clone, Debug)]
pub struct ColdStorageRecord {
    pub operator: (String, String),
    pub code: Option<String>,
    pub name: String,
    pub address: String,
    pub district: String,
    pub usable_area: Option<String>,
    pub variety: Option<String>,
    pub inventory: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub storage_type: String,
    /// (latitude, longitude), decimal degrees.
    pub location: Option<(f64, f64)>,
}

const FIELDS: &str = "unifSociCredCode, code, name, address, addrDistricts, usablearea, storageVariety, inventory, contact, contactPhone, Type (or storageType), longitude, latitude";

/// A coordinate in decimal degrees within ±`bound`, with at most 6 decimals
/// (about 0.1 m): the number and its path, or the rule it breaks.
fn coordinate(f: &mut Fields, name: &str, aliases: &[&str], bound: f64, what: &str) -> Result<Option<(f64, String)>> {
    let Some((path, v)) = f.opt_value_alias(name, aliases) else { return Ok(None) };
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return Err(RecordError::new(path, format!("must be a {what} in decimal degrees (WGS 84)"))),
    };
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let decimal = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    let n = match text.parse::<f64>() {
        Ok(n) if decimal && n.is_finite() => n,
        _ => return Err(RecordError::new(path, format!("\"{text}\" is not a {what} in decimal degrees (WGS 84)"))),
    };
    if frac.len() > 6 {
        return Err(RecordError::new(path, format!("{text}: a {what} has at most 6 decimals")));
    }
    if !(-bound..=bound).contains(&n) {
        return Err(RecordError::new(path, format!("{text} is not a {what}: it lies from -{bound} to {bound} degrees")));
    }
    Ok(Some((n, path)))
}

impl ColdStorageRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let operator = f.req_str_at("unifSociCredCode", &["uscc"], 18)?;
        uscc(&operator.0, &operator.1)?;
        let code = f.opt_str("code", 64)?;
        let name = f.req_str("name", 200)?;
        let address = f.req_str("address", 300)?;
        let district = f.req_str_alias("addrDistricts", &["addrDistrict"], 200)?;
        let usable_area = f.opt_positive("usablearea", &["usableArea"])?;
        let variety = f.opt_str("storageVariety", 200)?;
        let inventory = f.opt_weight("inventory", &[])?.map(|(g, _)| crate::fields::kg(g));
        let contact = f.opt_str("contact", 50)?;
        let contact_phone = f.opt_phone("contactPhone", &[])?;
        let (t, t_path) = f.req_str_at("storageType", &["Type"], 20)?;
        let storage_type = match t.as_str() {
            "自营自用" | "own" | "self" => "own",
            "第三方" | "third_party" => "third_party",
            "集中仓" | "central" => "central",
            other => {
                return Err(RecordError::new(
                    t_path,
                    format!("\"{other}\" is not a cold storage type: 自营自用 (own), 第三方 (third_party) or 集中仓 (central)"),
                ));
            }
        }
        .to_string();
        let longitude = coordinate(f, "longitude", &["lng", "lon"], 180.0, "longitude")?;
        let latitude = coordinate(f, "latitude", &["lat"], 90.0, "latitude")?;
        let location = match (latitude, longitude) {
            (Some((lat, _)), Some((lon, _))) => Some((lat, lon)),
            (None, None) => None,
            (Some((_, path)), None) => {
                return Err(RecordError::new(f.at("longitude"), format!("is required with {path}: a location is a latitude and a longitude")));
            }
            (None, Some((_, path))) => {
                return Err(RecordError::new(f.at("latitude"), format!("is required with {path}: a location is a latitude and a longitude")));
            }
        };
        f.finish(FIELDS)?;
        Ok(ColdStorageRecord {
            operator,
            code,
            name,
            address,
            district,
            usable_area,
            variety,
            inventory,
            contact,
            contact_phone,
            storage_type,
            location,
        })
    }

    fn operator(&self, l: &Ledger, cx: &Cx) -> Result<EntId> {
        let (id, e) = l
            .enterprise(&self.operator.0)
            .ok_or_else(|| RecordError::new(&self.operator.1, format!("{} is not an enrolled enterprise", self.operator.0)))?;
        match &cx.actor {
            Actor::Enterprise(me) if *me == id => Ok(id),
            Actor::Bureau { province } if *province == e.province => Ok(id),
            _ => Err(RecordError::new(&self.operator.1, "a cold storage is registered by its operator, or by the operator's province's bureau")),
        }
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let operator = self.operator(l, cx)?;
        if let Some(code) = &self.code {
            let province = l.enterprise_at(operator).province;
            if let Some(other) = l
                .scan_all(&COLD_STORAGES)
                .map(|(_, s)| s)
                .find(|s| s.code.as_ref() == Some(code) && s.operator != operator && l.enterprise_at(s.operator).province == province)
            {
                return Err(RecordError::new(
                    "record.code",
                    format!("cold storage number {code} is already filed in province {province} by {}", l.enterprise_at(other.operator).uscc),
                ));
            }
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let Ok(operator) = self.operator(l, cx) else { return };
        let existing = self.code.iter().chain([&self.name]).find_map(|k| l.get(&STORAGE_IDS, &(operator, k.clone())));
        let storage = ColdStorage {
            operator,
            code: self.code.clone(),
            name: self.name.clone(),
            address: self.address,
            district: self.district,
            usable_area_m2: self.usable_area,
            storage_variety: self.variety,
            inventory_tonnes: self.inventory,
            contact: self.contact,
            contact_phone: self.contact_phone,
            storage_type: self.storage_type,
            tx: cx.tx,
            latitude: self.location.map(|(lat, _)| lat),
            longitude: self.location.map(|(_, lon)| lon),
        };
        let id = match existing {
            Some(id) => id,
            None => l.next_id(Counter::ColdStorages) as StorageId,
        };
        l.put(&COLD_STORAGES, &id, &storage);
        l.put(&STORAGE_IDS, &(operator, self.name), &id);
        if let Some(code) = self.code {
            l.put(&STORAGE_IDS, &(operator, code), &id);
        }
    }
}
