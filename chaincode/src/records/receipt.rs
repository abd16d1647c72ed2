//! `receipt` (seed 004 table 15): the receiver confirms a shipment, naming
//! it by `senderUscc` and `sendNumber`. What it received enters its holding;
//! what was shipped but not received stays recorded on the shipment as a
//! difference, never hidden. It cannot receive more than was shipped.

use super::lines::{Line, Offer, Taken, check_new_codes, parse_lines, register_new_codes, resolve_lines};
use super::{Cx, not_future};
use crate::fields::{Fields, Moment, Qty, Result};
use crate::record::RecordError;
use crate::state::ledger::{DOCUMENTS, DocumentKind, EntId, Ledger, LotId, MOVEMENTS, Reception, SHIPMENTS, Shipment};
use chrono::{NaiveDate, NaiveTime};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct ReceiptRecord {
    pub number: (String, String),
    pub send_number: (String, String),
    pub sender: (String, String),
    pub send_time: Option<(NaiveDate, String)>,
    pub receive_time: (NaiveDate, String),
    /// The time of day received (China Standard Time), when given.
    pub receive_clock: Option<NaiveTime>,
    pub sender_name: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub lines: Vec<Line>,
}

const FIELDS: &str = "receiverNumber, sendNumber, senderUscc, sendTime, receiveTime, sendEntName, sendContact, sendContactPhone, productList";

impl ReceiptRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let number = f.req_str_at("receiverNumber", &["receiveNumber"], 64)?;
        let send_number = f.req_str_at("sendNumber", &[], 64)?;
        let sender = f.req_str_at("senderUscc", &[], 18)?;
        let send_time = f.opt_date("sendTime", &[])?;
        let (at, received_path) = f.req_moment("receiveTime", &[])?;
        let r = ReceiptRecord {
            number,
            send_number,
            sender,
            send_time,
            receive_time: (at.date, received_path),
            receive_clock: at.time,
            sender_name: f.opt_str("sendEntName", 200)?,
            contact: f.opt_str("sendContact", 50)?,
            contact_phone: f.opt_phone("sendContactPhone", &[])?,
            lines: parse_lines(f)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    /// The sender, the receiver, the shipment received and the lots taken from it.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<(EntId, EntId, Box<Shipment>, Taken)> {
        let receiver = cx.require_enterprise("receipt")?;
        not_future(self.receive_time.0, &self.receive_time.1, cx)?;
        // Enrolled, but not necessarily active: a shipment on chain was sent
        // while its sender was active, and its receiver confirms it even if
        // the sender's bureau has suspended the sender since.
        super::uscc(&self.sender.0, &self.sender.1)?;
        let sender = l.enterprise(&self.sender.0).map(|(id, _)| id).ok_or_else(|| {
            RecordError::new(&self.sender.1, format!("{} is not an enrolled enterprise; its province's bureau enrols it first", self.sender.0))
        })?;
        let shipment = l.get(&SHIPMENTS, &(sender, self.send_number.0.clone())).ok_or_else(|| {
            RecordError::new(
                &self.send_number.1,
                format!("{} recorded no shipment {}; a receipt must reference a shipment", self.sender.0, self.send_number.0),
            )
        })?;
        if shipment.receiver != receiver {
            return Err(RecordError::new(
                &self.send_number.1,
                format!("shipment {} goes to {}, not to the signer", self.send_number.0, l.enterprise_at(shipment.receiver).uscc),
            ));
        }
        if let Some(tx) = shipment.receipt {
            return Err(RecordError::new(&self.send_number.1, format!("shipment {} was already received (transaction {tx})", self.send_number.0)));
        }
        let sent = Moment { date: shipment.date, time: shipment.time };
        let received = Moment { date: self.receive_time.0, time: self.receive_clock };
        let before = match (sent.time, received.time) {
            (Some(s), Some(r)) if sent.date == received.date => r < s,
            _ => received.date < sent.date,
        };
        if before {
            return Err(RecordError::new(&self.receive_time.1, format!("received {received} before it was sent on {sent}")));
        }
        if l.contains(&DOCUMENTS, &(receiver, DocumentKind::Receipt, self.number.0.clone())) {
            return Err(RecordError::new(&self.number.1, format!("receipt {} was already recorded", self.number.0)));
        }
        let offer: BTreeMap<LotId, Qty> = shipment
            .movements
            .iter()
            .map(|m| {
                let mov = l.movement_at(*m);
                (mov.lot, mov.qty)
            })
            .collect();
        let taken = resolve_lines(l, &self.lines, &Offer::Lots(&offer), &format!("shipment {}", self.send_number.0))?;
        check_new_codes(l, &self.lines, &l.enterprise_at(receiver).province)?;
        Ok((sender, receiver, Box::new(shipment), taken))
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: (EntId, EntId, Box<Shipment>, Taken), l: &mut Ledger, cx: &Cx) {
        let (sender, receiver, mut shipment, taken) = plan;
        let Taken { lots: taken, per_line } = taken;
        register_new_codes(l, &self.lines, &per_line, receiver, cx);
        let received: BTreeMap<LotId, Qty> = taken.into_iter().collect();
        let key = (sender, self.send_number.0.clone());
        shipment.receipt = Some(cx.tx);
        for &m in &shipment.movements {
            let mut mov = l.movement_at(m);
            let qty = received.get(&mov.lot).copied().unwrap_or_default();
            mov.received = Some(Reception { qty, date: self.receive_time.0, time: self.receive_clock, tx: cx.tx, document: self.number.0.clone() });
            l.put(&MOVEMENTS, &m, &mov);
            if !qty.is_zero() {
                l.give(receiver, mov.lot, &qty);
            }
        }
        l.put(&SHIPMENTS, &key, &shipment);
        l.put(&DOCUMENTS, &(receiver, DocumentKind::Receipt, self.number.0), &());
    }
}
