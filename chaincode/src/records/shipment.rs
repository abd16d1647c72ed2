//! `shipment` (seed 004 tables 13, 14): an enterprise sends goods to another
//! enterprise, named by USCC (`receiverUscc`). The pieces and weight leave
//! the sender's holding at once and are in transit until the receiver's
//! `receipt`; a trace shows the receiver as soon as the goods are sent.

use super::lines::{Line, Offer, Taken, check_new_codes, parse_lines, register_new_codes, resolve_lines};
use super::{Cx, clearance, counterpart, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{EntId, Ledger, Movement, MovementKind, SHIPMENTS, Shipment, ShipmentLine};
use chrono::NaiveDate;

#[derive(Clone, Debug)]
pub struct ShipmentRecord {
    pub number: (String, String),
    pub date: (NaiveDate, String),
    pub receiver: (String, String),
    pub receiver_name: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub address: Option<String>,
    pub lines: Vec<Line>,
}

const FIELDS: &str = "sendNumber, sendTime, receiverUscc, receiverEntName, receiveContact, receiveContactPhone, receiveAddress, productList";

impl ShipmentRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let r = ShipmentRecord {
            number: f.req_str_at("sendNumber", &[], 64)?,
            date: f.req_date("sendTime", &["sendDate"])?,
            receiver: f.req_str_at("receiverUscc", &[], 18)?,
            receiver_name: f.opt_str("receiverEntName", 200)?,
            contact: f.opt_str("receiveContact", 50)?,
            contact_phone: f.opt_phone("receiveContactPhone", &[])?,
            address: f.opt_str("receiveAddress", 300)?,
            lines: parse_lines(f)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    /// The sender, the receiver, and what is taken of each lot.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<(EntId, EntId, Taken)> {
        let sender = cx.require_enterprise("shipment")?;
        not_future(self.date.0, &self.date.1, cx)?;
        let receiver = counterpart(l, &self.receiver.0, &self.receiver.1)?;
        if receiver == sender {
            return Err(RecordError::new(&self.receiver.1, "a shipment goes to another enterprise; use stock_in / stock_out within one"));
        }
        if let Some(s) = l.get(&SHIPMENTS, &(sender, self.number.0.clone())) {
            return Err(RecordError::new(&self.number.1, format!("shipment {} was already recorded (transaction {})", self.number.0, s.tx)));
        }
        let e = l.enterprise_at(sender);
        let taken = resolve_lines(l, &self.lines, &Offer::Holdings(sender), &e.uscc)?;
        clearance::check_movable(l, &self.lines, &taken.per_line)?;
        check_new_codes(l, &self.lines, &e.province)?;
        Ok((sender, receiver, taken))
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: (EntId, EntId, Taken), l: &mut Ledger, cx: &Cx) {
        let (sender, receiver, taken) = plan;
        let Taken { lots: taken, per_line } = taken;
        register_new_codes(l, &self.lines, &per_line, sender, cx);
        let mut movements = Vec::with_capacity(taken.len());
        for (lot, qty) in &taken {
            l.take(sender, *lot, qty);
            let id = l.add_movement(Movement {
                kind: MovementKind::Shipment,
                lot: *lot,
                from: Some(sender),
                to: receiver,
                qty: *qty,
                date: self.date.0,
                tx: cx.tx,
                height: cx.block.height,
                document: self.number.0.clone(),
                storage: None,
                received: None,
            });
            movements.push(id);
        }
        let lines = self
            .lines
            .iter()
            .zip(&per_line)
            .map(|(line, lot)| ShipmentLine { lot: *lot, product_id: line.product_id.clone(), label_batch: line.batch.clone(), qty: line.qty })
            .collect();
        l.put(
            &SHIPMENTS,
            &(sender, self.number.0.clone()),
            &Shipment {
                sender,
                receiver,
                number: self.number.0,
                date: self.date.0,
                lines,
                movements,
                vehicles: Vec::new(),
                receipt: None,
                tx: cx.tx,
            },
        );
    }
}
