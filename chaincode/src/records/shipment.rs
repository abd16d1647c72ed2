//! `shipment` (seed 004 tables 13, 14): an enterprise sends goods to another
//! enterprise, named by USCC (`receiverUscc`). The pieces and weight leave
//! the sender's holding at once and are in transit until the receiver's
//! `receipt`; a trace shows the receiver as soon as the goods are sent.
//!
//! A receiver that is not enrolled (a buyer in a province outside the
//! consortium, or one its bureau has not enrolled) is recorded from the
//! shipment's `receiverEntName` and `receiverProvince` as an enterprise
//! *outside*: the goods are delivered to it at once, and a forward trace
//! ends there, naming it.

use super::lines::{Line, Offer, Taken, check_new_codes, parse_lines, register_new_codes, resolve_lines};
use super::{Cx, clearance, counterpart, not_future};
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{
    ENTERPRISE_IDS, ENTERPRISES, EntId, Enterprise, Ledger, Movement, MovementKind, Party, Reception, SHIPMENTS, Shipment, ShipmentLine,
};
use chrono::{NaiveDate, NaiveTime};

#[derive(Clone, Debug)]
pub struct ShipmentRecord {
    pub number: (String, String),
    pub date: (NaiveDate, String),
    pub time: Option<NaiveTime>,
    pub receiver: (String, String),
    pub receiver_name: Option<String>,
    pub contact: Option<String>,
    pub contact_phone: Option<String>,
    pub address: Option<String>,
    /// For a receiver that is not enrolled: its province (GB/T 2260).
    pub receiver_province: Option<(String, String)>,
    pub lines: Vec<Line>,
}

/// Who receives a shipment: an enrolled enterprise, or one outside (already
/// recorded by an earlier shipment, or new).
#[derive(Clone, Copy, Debug)]
pub enum Receiver {
    Enrolled(EntId),
    Outside(Option<EntId>),
}

const FIELDS: &str =
    "sendNumber, sendTime, receiverUscc, receiverEntName, receiverProvince, receiveContact, receiveContactPhone, receiveAddress, productList";

impl ShipmentRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let number = f.req_str_at("sendNumber", &[], 64)?;
        let (at, at_path) = f.req_moment("sendTime", &["sendDate"])?;
        let r = ShipmentRecord {
            number,
            date: (at.date, at_path),
            time: at.time,
            receiver: f.req_str_at("receiverUscc", &[], 18)?,
            receiver_name: f.opt_str("receiverEntName", 200)?,
            contact: f.opt_str("receiveContact", 50)?,
            contact_phone: f.opt_phone("receiveContactPhone", &[])?,
            address: f.opt_str("receiveAddress", 300)?,
            receiver_province: f.opt_str_at("receiverProvince", &["receiveProvince"], 6)?,
            lines: parse_lines(f)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    /// The sender, the receiver, and what is taken of each lot.
    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<(EntId, Receiver, Taken)> {
        let sender = cx.require_enterprise("shipment")?;
        not_future(self.date.0, &self.date.1, cx)?;
        let receiver = self.receiver(l)?;
        if matches!(receiver, Receiver::Enrolled(r) if r == sender) {
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

    fn receiver(&self, l: &Ledger) -> Result<Receiver> {
        let (uscc, path) = &self.receiver;
        super::uscc(uscc, path)?;
        match (l.enterprise_or_outside(uscc), &self.receiver_province) {
            (Some((_, e)), Some((p, p_path))) if !e.outside && &e.province != p => Err(RecordError::new(
                p_path,
                format!("{uscc} is enrolled in province {}, not {p}; leave receiverProvince out for an enrolled receiver", e.province),
            )),
            (Some((id, e)), _) if !e.outside => counterpart(l, uscc, path).map(|_| Receiver::Enrolled(id)),
            (Some((id, _)), _) => Ok(Receiver::Outside(Some(id))),
            (None, Some((p, p_path))) => {
                if l.dictionaries().get("province").is_none_or(|d| d.name_of(p).is_none()) || !p.ends_with("0000") {
                    return Err(RecordError::new(p_path, format!("\"{p}\" is not a province code (GB/T 2260, e.g. 370000)")));
                }
                if self.receiver_name.is_none() {
                    return Err(RecordError::new(
                        path.replace("receiverUscc", "receiverEntName"),
                        format!("is required for a receiver that is not enrolled ({uscc}): the forward trace ends at it, by name"),
                    ));
                }
                Ok(Receiver::Outside(None))
            }
            (None, None) => Err(RecordError::new(
                path,
                format!(
                    "{uscc} is not an enrolled enterprise; its province's bureau enrols it first, or, for goods leaving the enrolled enterprises (a buyer outside Beijing, Tianjin and Hebei, or not enrolled), give receiverEntName and receiverProvince"
                ),
            )),
        }
    }

    /// Applies what [`Self::validate`] planned against this same ledger.
    pub fn apply(self, plan: (EntId, Receiver, Taken), l: &mut Ledger, cx: &Cx) {
        let (sender, receiver, taken) = plan;
        let Taken { lots: taken, per_line } = taken;
        register_new_codes(l, &self.lines, &per_line, sender, cx);
        let (receiver, outside) = match receiver {
            Receiver::Enrolled(id) => (id, false),
            Receiver::Outside(Some(id)) => (id, true),
            Receiver::Outside(None) => (self.record_outside(l, cx), true),
        };
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
                time: self.time,
                tx: cx.tx,
                height: cx.block.height,
                document: self.number.0.clone(),
                storage: None,
                counterpart: Party {
                    name: self.receiver_name.clone(),
                    contact: self.contact.clone(),
                    contact_phone: self.contact_phone.clone(),
                    address: self.address.clone(),
                },
                // Goods leaving the enrolled enterprises are delivered at once: nobody will sign a receipt.
                received: outside.then(|| Reception { qty: *qty, date: self.date.0, time: self.time, tx: cx.tx, document: self.number.0.clone() }),
            });
            if outside {
                l.give(receiver, *lot, qty);
            }
            movements.push(id);
        }
        let lines = self
            .lines
            .iter()
            .zip(&per_line)
            .map(|(line, lot)| ShipmentLine {
                lot: *lot,
                product_id: line.product_id.clone(),
                label_batch: line.batch.clone(),
                qty: line.qty,
                storage: line.storage.clone(),
            })
            .collect();
        l.put(
            &SHIPMENTS,
            &(sender, self.number.0.clone()),
            &Shipment {
                sender,
                receiver,
                number: self.number.0,
                date: self.date.0,
                time: self.time,
                lines,
                movements,
                vehicles: Vec::new(),
                receipt: outside.then_some(cx.tx),
                tx: cx.tx,
            },
        );
    }

    /// Records the not-enrolled receiver this shipment names; its id.
    fn record_outside(&self, l: &mut Ledger, cx: &Cx) -> EntId {
        let id = l.next_id(crate::state::ledger::Counter::Enterprises) as EntId;
        let e = Enterprise {
            uscc: self.receiver.0.clone(),
            name: self.receiver_name.clone().unwrap_or_default(),
            province: self.receiver_province.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
            enterprise_type: "29".into(),
            address: self.address.clone().unwrap_or_default(),
            district: String::new(),
            latitude: 0.0,
            longitude: 0.0,
            contact: self.contact.clone(),
            contact_phone: self.contact_phone.clone(),
            legal_person: None,
            licences: Vec::new(),
            public_key: [0; 32],
            suspended: false,
            history: vec![cx.tx],
            outside: true,
        };
        l.put(&ENTERPRISES, &id, &e);
        l.put(&ENTERPRISE_IDS, &e.uscc, &id);
        id
    }
}
