//! `stock_in` (seed 004 tables 16, 17): goods enter a cold storage. The
//! submitter operates the storage; `senderUscc` names the goods' owner
//! (货主; the submitter itself when omitted). When the owner is another
//! enterprise that still has the goods, they pass into the operator's
//! custody (only into a cold storage the operator registered); when the operator already has them (received by a shipment, or
//! its own goods), the record places them in the storage without moving them.

use super::lines::{Line, Offer, parse_lines, resolve_lines};
use super::{Cx, clearance, counterpart, not_future};
use crate::fields::{Fields, Qty, Result};
use crate::record::RecordError;
use crate::state::ledger::{DOCUMENTS, DocumentKind, EntId, Ledger, LotId, Movement, MovementKind, Party, STORAGE_IDS, StorageId};
use chrono::{NaiveDate, NaiveTime};

#[derive(Clone, Debug)]
pub struct StockIn {
    pub code: (String, String),
    pub date: (NaiveDate, String),
    pub time: Option<NaiveTime>,
    pub owner: Option<(String, String)>,
    pub owner_name: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub storage: Option<(String, String)>,
    pub lines: Vec<Line>,
}

const FIELDS: &str = "inStockCode, inStockDate, senderUscc, sendEntName, sendContact, sendContactPhone, storageNumber, storageName, productList";

/// The operator's cold storage named by its number or name; its only one when none is named.
pub fn storage_of(l: &Ledger, operator: EntId, named: Option<&(String, String)>) -> Result<Option<StorageId>> {
    match named {
        Some((name, path)) => l
            .get(&STORAGE_IDS, &(operator, name.clone()))
            .map(Some)
            .ok_or_else(|| RecordError::new(path, format!("the signer registered no cold storage numbered or named \"{name}\""))),
        None => {
            let mut own = l.scan(&STORAGE_IDS, &operator).map(|(_, s)| s);
            let first = own.next();
            Ok(if own.all(|s| Some(s) == first) { first } else { None })
        }
    }
}

/// What a stock-in does: the operator, the owner the goods come from (when
/// they change custody), the storage, and what is taken of each lot.
#[derive(Clone, Debug)]
pub struct Placement {
    pub operator: EntId,
    pub owner: Option<EntId>,
    pub storage: Option<StorageId>,
    pub taken: Vec<(LotId, Qty)>,
}

impl StockIn {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let number = f.opt_str_at("storageNumber", &[], 64)?;
        let name = f.opt_str_at("storageName", &[], 200)?;
        let code = f.req_str_at("inStockCode", &[], 64)?;
        let (at, at_path) = f.req_moment("inStockDate", &[])?;
        let r = StockIn {
            code,
            date: (at.date, at_path),
            time: at.time,
            owner: f.opt_str_at("senderUscc", &[], 18)?,
            owner_name: f.opt_str("sendEntName", 200)?,
            contact: f.opt_str("sendContact", 50)?,
            contact_phone: f.opt_phone("sendContactPhone", &[])?,
            storage: number.or(name),
            lines: parse_lines(f)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<Placement> {
        let operator = cx.require_enterprise("stock_in")?;
        not_future(self.date.0, &self.date.1, cx)?;
        if l.contains(&DOCUMENTS, &(operator, DocumentKind::StockIn, self.code.0.clone())) {
            return Err(RecordError::new(&self.code.1, format!("stock-in {} was already recorded", self.code.0)));
        }
        let storage = storage_of(l, operator, self.storage.as_ref())?;
        let owner = match &self.owner {
            Some((uscc, path)) => counterpart(l, uscc, path)?,
            None => operator,
        };
        if owner != operator {
            if storage.is_none() {
                return Err(RecordError::new(
                    self.storage.as_ref().map_or("record.storageNumber", |(_, p)| p.as_str()),
                    "taking another enterprise's goods into custody needs one of the signer's registered cold storages (cold_storage); name it by storageNumber or storageName",
                ));
            }
            let from_owner = resolve_lines(l, &self.lines, &Offer::Holdings(owner), &l.enterprise_at(owner).uscc);
            if let Ok(taken) = from_owner {
                clearance::check_movable(l, &self.lines, &taken.per_line)?;
                return Ok(Placement { operator, owner: Some(owner), storage, taken: taken.lots });
            }
        }
        let taken = resolve_lines(l, &self.lines, &Offer::Holdings(operator), &l.enterprise_at(operator).uscc)?;
        clearance::check_movable(l, &self.lines, &taken.per_line)?;
        Ok(Placement { operator, owner: None, storage, taken: taken.lots })
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: Placement, l: &mut Ledger, cx: &Cx) {
        let Placement { operator, owner, storage, taken } = plan;
        for (lot, qty) in taken {
            if let Some(owner) = owner {
                l.take(owner, lot, &qty);
                l.give(operator, lot, &qty);
            }
            l.add_movement(Movement {
                kind: MovementKind::StockIn,
                lot,
                from: Some(owner.unwrap_or(operator)),
                to: operator,
                qty,
                date: self.date.0,
                time: self.time,
                counterpart: Party {
                    name: self.owner_name.clone(),
                    contact: self.contact.clone(),
                    contact_phone: self.contact_phone.clone(),
                    address: None,
                },
                tx: cx.tx,
                height: cx.block.height,
                document: self.code.0.clone(),
                storage,
                received: None,
            });
        }
        l.put(&DOCUMENTS, &(operator, DocumentKind::StockIn, self.code.0), &());
    }
}
