//! `vehicle` (seed 004 table 20): the vehicle and driver that carried a
//! shipment or a stock-out. A shipment is named by `sendNumber` (and
//! `senderUscc` when the signer is the receiver), a stock-out by
//! `outstockCode` (and `operatorUscc`, the cold storage operator that
//! recorded it, when the signer is the receiver); exactly one of the two.
//! Signed by the shipment's sender or receiver, or the stock-out's operator
//! or receiver.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{
    DOCUMENTS, DRIVERS, DocumentKind, EntId, Ledger, MovementKind, PLATES, SHIPMENTS, STOCK_OUT_DRIVERS, STOCK_OUT_PLATES, STOCK_OUT_VEHICLES,
    Shipment, StockOutVehicles, Vehicle,
};

/// What the vehicle carried: a document number and its path, and the USCC
/// (and path) of the enterprise that recorded the document, when named.
#[derive(Clone, Debug)]
pub enum Carried {
    Shipment { send_number: (String, String), sender: Option<(String, String)> },
    StockOut { outstock_code: (String, String), operator: Option<(String, String)> },
}

#[derive(Clone, Debug)]
pub struct VehicleRecord {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub carried: Carried,
}

const FIELDS: &str = "licenseplate, driverName, driverContactPhone, sendNumber, senderUscc, outstockCode, operatorUscc";

impl VehicleRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (plate, plate_path) = f.req_str_at("licenseplate", &["licensePlate"], 12)?;
        if let Some(rule) = crate::identifiers::plate_problem(&plate) {
            return Err(RecordError::new(plate_path, rule));
        }
        let driver_name = f.req_str("driverName", 50)?;
        let driver_phone = f.opt_phone("driverContactPhone", &[])?;
        let send_number = f.opt_str_at("sendNumber", &[], 64)?;
        let sender = f.opt_str_at("senderUscc", &[], 18)?;
        let outstock_code = f.opt_str_at("outstockCode", &["outStockCode"], 64)?;
        let operator = f.opt_str_at("operatorUscc", &[], 18)?;
        let carried = match (send_number, outstock_code) {
            (Some(_), Some((_, path))) => {
                return Err(RecordError::new(path, "a vehicle record names one shipment (sendNumber) or one stock-out (outstockCode), not both"));
            }
            (None, None) => {
                return Err(RecordError::new(
                    f.at("sendNumber"),
                    "is required, or outstockCode instead: a vehicle record names the shipment or the stock-out the vehicle carried",
                ));
            }
            (Some(send_number), None) => {
                if let Some((_, path)) = operator {
                    return Err(RecordError::new(path, "names a stock-out's operator; a shipment's sender is senderUscc"));
                }
                Carried::Shipment { send_number, sender }
            }
            (None, Some(outstock_code)) => {
                if let Some((_, path)) = sender {
                    return Err(RecordError::new(path, "names a shipment's sender; a stock-out's operator is operatorUscc"));
                }
                Carried::StockOut { outstock_code, operator }
            }
        };
        f.finish(FIELDS)?;
        Ok(VehicleRecord { plate, driver_name, driver_phone, carried })
    }

    /// The enterprise a shipment or stock-out is recorded under: the one
    /// named, else the signer.
    fn recorder(l: &Ledger, me: EntId, named: Option<&(String, String)>) -> Result<EntId> {
        match named {
            // The document is on chain: its recorder may have been suspended since.
            Some((uscc, path)) => {
                super::uscc(uscc, path)?;
                l.enterprise(uscc).map(|(id, _)| id).ok_or_else(|| RecordError::new(path, format!("{uscc} is not an enrolled enterprise")))
            }
            None => Ok(me),
        }
    }

    fn shipment_key(l: &Ledger, cx: &Cx, send_number: &(String, String), sender: Option<&(String, String)>) -> Result<((EntId, String), Shipment)> {
        let me = cx.require_enterprise("vehicle")?;
        let sender = Self::recorder(l, me, sender)?;
        let key = (sender, send_number.0.clone());
        let shipment = l
            .get(&SHIPMENTS, &key)
            .ok_or_else(|| RecordError::new(&send_number.1, format!("{} recorded no shipment {}", l.enterprise_at(sender).uscc, send_number.0)))?;
        if shipment.sender != me && shipment.receiver != me {
            return Err(RecordError::new(&send_number.1, "only the shipment's sender or receiver records the vehicle that carried it"));
        }
        Ok((key, shipment))
    }

    fn stock_out_key(
        l: &Ledger,
        cx: &Cx,
        code: &(String, String),
        operator: Option<&(String, String)>,
    ) -> Result<((EntId, String), StockOutVehicles)> {
        let me = cx.require_enterprise("vehicle")?;
        let operator = Self::recorder(l, me, operator)?;
        let key = (operator, code.0.clone());
        let stock_out = match l.get(&STOCK_OUT_VEHICLES, &key) {
            Some(s) => s,
            None if l.contains(&DOCUMENTS, &(operator, DocumentKind::StockOut, code.0.clone())) => first_vehicle(l, operator, &code.0),
            None => {
                return Err(RecordError::new(&code.1, format!("{} recorded no stock-out {}", l.enterprise_at(operator).uscc, code.0)));
            }
        };
        if operator != me && stock_out.receiver != me {
            return Err(RecordError::new(&code.1, "only the stock-out's operator or receiver records the vehicle that carried it"));
        }
        Ok((key, stock_out))
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let (vehicles, what) = match &self.carried {
            Carried::Shipment { send_number, sender } => (Self::shipment_key(l, cx, send_number, sender.as_ref())?.1.vehicles, "shipment"),
            Carried::StockOut { outstock_code, operator } => (Self::stock_out_key(l, cx, outstock_code, operator.as_ref())?.1.vehicles, "stock-out"),
        };
        if vehicles.iter().any(|v| v.plate == self.plate && v.driver_name == self.driver_name) {
            return Err(RecordError::new(
                "record.licenseplate",
                format!("vehicle {} with driver {} is already recorded on this {what}", self.plate, self.driver_name),
            ));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let vehicle =
            Vehicle { plate: self.plate.clone(), driver_name: self.driver_name.clone(), driver_phone: self.driver_phone.clone(), tx: cx.tx };
        match &self.carried {
            Carried::Shipment { send_number, sender } => {
                let Ok((key, mut shipment)) = Self::shipment_key(l, cx, send_number, sender.as_ref()) else { return };
                l.put(&PLATES, &(self.plate, key.0, key.1.clone()), &());
                l.put(&DRIVERS, &(self.driver_name, key.0, key.1.clone()), &());
                shipment.vehicles.push(vehicle);
                l.put(&SHIPMENTS, &key, &shipment);
            }
            Carried::StockOut { outstock_code, operator } => {
                let Ok((key, mut stock_out)) = Self::stock_out_key(l, cx, outstock_code, operator.as_ref()) else { return };
                l.put(&STOCK_OUT_PLATES, &(self.plate, key.0, key.1.clone()), &());
                l.put(&STOCK_OUT_DRIVERS, &(self.driver_name, key.0, key.1.clone()), &());
                stock_out.vehicles.push(vehicle);
                l.put(&STOCK_OUT_VEHICLES, &key, &stock_out);
            }
        }
    }
}

/// A recorded stock-out with no vehicle yet: its receiver, date and lots,
/// read from the movements it made (the operator's lots, each lot's steps).
fn first_vehicle(l: &Ledger, operator: EntId, code: &str) -> StockOutVehicles {
    let mut found = StockOutVehicles { receiver: operator, date: chrono::NaiveDate::MIN, lots: Vec::new(), vehicles: Vec::new() };
    for (lot, _) in l.lots_of(operator) {
        for m in l.lot_movements(lot) {
            let m = l.movement_at(m);
            if m.kind == MovementKind::StockOut && m.from == Some(operator) && m.document == code {
                found.receiver = m.to;
                found.date = m.date;
                if !found.lots.contains(&lot) {
                    found.lots.push(lot);
                }
            }
        }
    }
    found
}
