//! `stock_out` (seed 004 tables 18, 19): goods leave a cold storage for a
//! receiver named by USCC (`receiverUscc`). They leave the operator's
//! custody and are the receiver's from that moment.

use super::lines::{Line, Offer, Taken, check_new_codes, parse_lines, register_new_codes, resolve_lines};
use super::stock_in::storage_of;
use super::{Cx, clearance, counterpart, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{DOCUMENTS, DocumentKind, EntId, Ledger, Movement, MovementKind, Party, StorageId};
use chrono::{NaiveDate, NaiveTime};

#[derive(Clone, Debug)]
pub struct StockOut {
    pub code: (String, String),
    pub date: (NaiveDate, String),
    pub time: Option<NaiveTime>,
    pub owner_name: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub receiver: (String, String),
    pub receiver_name: Option<String>,
    pub receive_contact: Option<String>,
    pub receive_contact_phone: Option<String>,
    pub storage: Option<(String, String)>,
    pub lines: Vec<Line>,
}

const FIELDS: &str = "outstockCode, outStockDate, sendEntName, sendContact, sendContactPhone, receiverUscc, receiverEntName, receiveContact, receiveContactPhone, outStockStorageNumber, outStockStorageName, productList";

impl StockOut {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let code = f.req_str_at("outstockCode", &["outStockCode"], 64)?;
        let (at, at_path) = f.req_moment("outStockDate", &[])?;
        let number = f.opt_str_at("outStockStorageNumber", &[], 64)?;
        let name = f.opt_str_at("outStockStorageName", &[], 200)?;
        let r = StockOut {
            code,
            date: (at.date, at_path),
            time: at.time,
            owner_name: f.opt_str("sendEntName", 200)?,
            contact: f.opt_str("sendContact", 50)?,
            contact_phone: f.opt_phone("sendContactPhone", &[])?,
            receiver: f.req_str_at("receiverUscc", &[], 18)?,
            receiver_name: f.opt_str("receiverEntName", 200)?,
            receive_contact: f.opt_str("receiveContact", 50)?,
            receive_contact_phone: f.opt_phone("receiveContactPhone", &[])?,
            storage: number.or(name),
            lines: parse_lines(f)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<(EntId, EntId, Option<StorageId>, Taken)> {
        let operator = cx.require_enterprise("stock_out")?;
        not_future(self.date.0, &self.date.1, cx)?;
        if l.contains(&DOCUMENTS, &(operator, DocumentKind::StockOut, self.code.0.clone())) {
            return Err(RecordError::new(&self.code.1, format!("stock-out {} was already recorded", self.code.0)));
        }
        let receiver = counterpart(l, &self.receiver.0, &self.receiver.1)?;
        if receiver == operator {
            return Err(RecordError::new(&self.receiver.1, "goods stocked out go to another enterprise"));
        }
        let storage = storage_of(l, operator, self.storage.as_ref())?;
        let e = l.enterprise_at(operator);
        let taken = resolve_lines(l, &self.lines, &Offer::Holdings(operator), &e.uscc)?;
        clearance::check_movable(l, &self.lines, &taken.per_line)?;
        check_new_codes(l, &self.lines, &e.province)?;
        Ok((operator, receiver, storage, taken))
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: (EntId, EntId, Option<StorageId>, Taken), l: &mut Ledger, cx: &Cx) {
        let (operator, receiver, storage, taken) = plan;
        let Taken { lots: taken, per_line } = taken;
        register_new_codes(l, &self.lines, &per_line, operator, cx);
        for (lot, qty) in taken {
            l.take(operator, lot, &qty);
            l.give(receiver, lot, &qty);
            l.add_movement(Movement {
                kind: MovementKind::StockOut,
                lot,
                from: Some(operator),
                to: receiver,
                qty,
                date: self.date.0,
                time: self.time,
                counterpart: Party {
                    name: self.receiver_name.clone(),
                    contact: self.receive_contact.clone(),
                    contact_phone: self.receive_contact_phone.clone(),
                    address: None,
                },
                tx: cx.tx,
                height: cx.block.height,
                document: self.code.0.clone(),
                storage,
                received: None,
            });
        }
        l.put(&DOCUMENTS, &(operator, DocumentKind::StockOut, self.code.0), &());
    }
}
