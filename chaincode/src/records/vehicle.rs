//! `vehicle` (seed 004 table 20): the vehicle and driver that carried a
//! shipment, named by `sendNumber` (and `senderUscc` when the signer is the
//! receiver). Signed by the shipment's sender or receiver.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{DRIVERS, EntId, Ledger, PLATES, SHIPMENTS, Shipment, Vehicle};

#[derive(Clone, Debug)]
pub struct VehicleRecord {
    pub plate: String,
    pub driver_name: String,
    pub driver_phone: Option<String>,
    pub send_number: (String, String),
    pub sender: Option<(String, String)>,
}

const FIELDS: &str = "licenseplate, driverName, driverContactPhone, sendNumber, senderUscc";

impl VehicleRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let (plate, plate_path) = f.req_str_at("licenseplate", &["licensePlate"], 12)?;
        if let Some(rule) = crate::identifiers::plate_problem(&plate) {
            return Err(RecordError::new(plate_path, rule));
        }
        let r = VehicleRecord {
            plate,
            driver_name: f.req_str("driverName", 50)?,
            driver_phone: f.opt_phone("driverContactPhone", &[])?,
            send_number: f.req_str_at("sendNumber", &[], 64)?,
            sender: f.opt_str_at("senderUscc", &[], 18)?,
        };
        f.finish(FIELDS)?;
        Ok(r)
    }

    fn shipment_key(&self, l: &Ledger, cx: &Cx) -> Result<((EntId, String), Shipment)> {
        let me = cx.require_enterprise("vehicle")?;
        let sender = match &self.sender {
            // The shipment is on chain: its sender may have been suspended since.
            Some((uscc, path)) => {
                super::uscc(uscc, path)?;
                l.enterprise(uscc).map(|(id, _)| id).ok_or_else(|| RecordError::new(path, format!("{uscc} is not an enrolled enterprise")))?
            }
            None => me,
        };
        let key = (sender, self.send_number.0.clone());
        let shipment = l.get(&SHIPMENTS, &key).ok_or_else(|| {
            RecordError::new(&self.send_number.1, format!("{} recorded no shipment {}", l.enterprise_at(sender).uscc, self.send_number.0))
        })?;
        if shipment.sender != me && shipment.receiver != me {
            return Err(RecordError::new(&self.send_number.1, "only the shipment's sender or receiver records the vehicle that carried it"));
        }
        Ok((key, shipment))
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let (_, shipment) = self.shipment_key(l, cx)?;
        if shipment.vehicles.iter().any(|v| v.plate == self.plate && v.driver_name == self.driver_name) {
            return Err(RecordError::new(
                "record.licenseplate",
                format!("vehicle {} with driver {} is already recorded on this shipment", self.plate, self.driver_name),
            ));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let Ok((key, mut shipment)) = self.shipment_key(l, cx) else { return };
        l.put(&PLATES, &(self.plate.clone(), key.0, key.1.clone()), &());
        l.put(&DRIVERS, &(self.driver_name.clone(), key.0, key.1.clone()), &());
        shipment.vehicles.push(Vehicle { plate: self.plate, driver_name: self.driver_name, driver_phone: self.driver_phone, tx: cx.tx });
        l.put(&SHIPMENTS, &key, &shipment);
    }
}
