//! `cold_storage` (seed 004 table 11): an enterprise registers a cold
//! storage it operates (or its province's bureau registers it for it).
//! Re-submitting the same number (or name) replaces the entry.

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
}

const FIELDS: &str =
    "unifSociCredCode, code, name, address, addrDistricts, usablearea, storageVariety, inventory, contact, contactPhone, Type (or storageType)";

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
        f.finish(FIELDS)?;
        Ok(ColdStorageRecord { operator, code, name, address, district, usable_area, variety, inventory, contact, contact_phone, storage_type })
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
