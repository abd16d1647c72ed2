//! `product` (seed 004 table 4): a product category an enterprise deals in.
//! Re-submitting the same `productLibraryId` replaces the enterprise's entry.

use super::{Cx, dict};
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{EntId, Ledger, PRODUCTS, Product};

#[derive(Clone, Debug)]
pub struct ProductRecord {
    pub product_id: String,
    pub name: String,
    pub category: (String, String),
    pub country: (String, String),
    pub shelf_life: Option<(u64, String)>,
    pub specification: Option<(String, String)>,
    pub registration_number: Option<String>,
    pub manufacturer: Option<String>,
    pub label_image: Option<Hash>,
    pub image: Option<Hash>,
}

const FIELDS: &str = "productLibraryId, productName, productCategory, country, lifeNumber, lifeUnit, specification, specificationUnit, registrationNumber, manufacturer, productLabel, productImg";

/// Shelf-life units: years, months, days (seed 004: 年、月、日).
pub fn life_unit(s: &str) -> Option<&'static str> {
    Some(match s {
        "年" | "year" | "years" | "y" => "year",
        "月" | "month" | "months" | "m" => "month",
        "日" | "天" | "day" | "days" | "d" => "day",
        _ => return None,
    })
}

/// Specification units: kilograms or grams (seed 004: 千克（kg）、克（g）).
pub fn spec_unit(s: &str) -> Option<&'static str> {
    Some(match s {
        "kg" | "KG" | "Kg" | "千克" | "公斤" => "kg",
        "g" | "G" | "克" => "g",
        _ => return None,
    })
}

/// `productLibraryId` and its rule (GS1 check digit or a system product code).
pub fn product_id(f: &mut Fields) -> Result<String> {
    let (id, path) = f.req_str_at("productLibraryId", &[], 40)?;
    if let Some(rule) = crate::identifiers::product_id_problem(&id) {
        return Err(RecordError::new(path, rule));
    }
    Ok(id)
}

/// `specification` with its unit, when given.
pub fn specification(f: &mut Fields) -> Result<Option<(String, String)>> {
    let spec = f.opt_positive("specification", &[])?;
    let unit = f.opt_str_at("specificationUnit", &[], 10)?;
    match (spec, unit) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(RecordError::new(f.at("specificationUnit"), "is required with specification: kg or g")),
        (None, Some((_, path))) => Err(RecordError::new(path, "given without specification")),
        (Some(s), Some((u, path))) => match spec_unit(&u) {
            Some(u) => Ok(Some((s, u.to_string()))),
            None => Err(RecordError::new(path, format!("\"{u}\" is not a specification unit; use kg or g (千克, 克)"))),
        },
    }
}

impl ProductRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let product_id = product_id(f)?;
        let name = f.req_str("productName", 200)?;
        let category = f.req_str_at("productCategory", &[], 100)?;
        let country = f.req_str_at("country", &[], 60)?;
        let life = f.opt_count("lifeNumber", &[])?;
        let unit = f.opt_str_at("lifeUnit", &[], 10)?;
        let shelf_life = match (life, unit) {
            (None, None) => None,
            (Some((n, _)), Some((u, path))) => {
                Some((n, life_unit(&u).ok_or_else(|| RecordError::new(path, format!("\"{u}\" is not year, month or day (年, 月, 日)")))?.to_string()))
            }
            (Some(_), None) => return Err(RecordError::new(f.at("lifeUnit"), "is required with lifeNumber: year, month or day")),
            (None, Some((_, path))) => return Err(RecordError::new(path, "given without lifeNumber")),
        };
        let specification = specification(f)?;
        let registration_number = f.opt_str("registrationNumber", 64)?;
        let manufacturer = f.opt_str("manufacturer", 200)?;
        let label_image = f.opt_image("productLabel", &[])?;
        let image = f.opt_image("productImg", &[])?;
        f.finish(FIELDS)?;
        Ok(ProductRecord { product_id, name, category, country, shelf_life, specification, registration_number, manufacturer, label_image, image })
    }

    /// The submitting enterprise.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<EntId> {
        let ent = cx.require_enterprise("product")?;
        dict(l, "product_category", &self.category.0, &self.category.1)?;
        dict(l, "country", &self.country.0, &self.country.1)?;
        Ok(ent)
    }

    /// Applies the record for `ent`, the enterprise [`Self::validate`] found.
    pub fn apply(self, ent: EntId, l: &mut Ledger, cx: &Cx) {
        let category = l.dictionaries().lookup("product_category", &self.category.0).unwrap_or(self.category.0);
        let country = l.dictionaries().lookup("country", &self.country.0).unwrap_or(self.country.0);
        let p = Product {
            product_id: self.product_id.clone(),
            name: self.name,
            category,
            country,
            shelf_life: self.shelf_life,
            specification: self.specification,
            registration_number: self.registration_number,
            manufacturer: self.manufacturer,
            label_image: self.label_image,
            image: self.image,
            tx: cx.tx,
        };
        l.put(&PRODUCTS, &(ent, self.product_id), &p);
    }
}
