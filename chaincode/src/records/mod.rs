//! The record types a transaction carries, one module each, parsed from the
//! transaction's `record` by its `"type"`.
//!
//! Every record goes through three steps: `parse` (its fields and their
//! rules, no state), `validate` (the rules against the ledger: who may
//! submit it, codes, quantities, duplicates) and `apply` (the change). Only
//! a record that passes both checks is applied, so nothing of a rejected
//! record is stored.

pub mod access;
pub mod alert;
pub mod app_credential;
pub mod central_warehouse;
pub mod certificate_report;
pub mod clearance;
pub mod code_link;
pub mod code_scheme;
pub mod cold_storage;
pub mod columns;
pub mod dictionary_amendment;
pub mod enterprise;
pub mod evidence;
pub mod flow_report;
pub mod governance;
pub mod lines;
pub mod notarise;
pub mod notice;
pub mod product;
pub mod product_batch;
pub mod receipt;
pub mod report_client;
pub mod shipment;
pub mod stock_in;
pub mod stock_out;
pub mod vehicle;

use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::BlockContext;
use crate::state::ledger::{EntId, Ledger};
use crate::transaction::TxId;
use chrono::NaiveDate;
use serde_json::Value;

/// Who signed a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A bureau's admin key (genesis): its province code, or "000000" for the national platform.
    Bureau { province: String },
    /// A validator's own key: submissions the node makes on a caller's behalf
    /// (the national report interfaces' HTTP Basic clients).
    Node { province: String },
    /// An enrolled, active enterprise.
    Enterprise(EntId),
    /// Any other key: may only notarise.
    Anyone,
}

/// What a record may know while it is checked and applied.
#[derive(Clone, Debug)]
pub struct Cx {
    pub block: BlockContext,
    pub tx: TxId,
    pub signer: [u8; 32],
    pub actor: Actor,
    /// The block's date in China Standard Time (UTC+8): "today" for date rules.
    pub today: NaiveDate,
    /// The transaction's chain (the node admits only its own): what the
    /// votes in an evidence record were signed for.
    pub chain_id: String,
}

impl Cx {
    pub fn enterprise(&self) -> Option<EntId> {
        match self.actor {
            Actor::Enterprise(e) => Some(e),
            _ => None,
        }
    }

    /// The submitting enterprise, or the rule that says only enterprises may submit this.
    pub fn require_enterprise(&self, kind: &str) -> Result<EntId> {
        self.enterprise().ok_or_else(|| RecordError::new("signer", format!("a {kind} record is signed by an enrolled enterprise's key")))
    }

    /// The submitting bureau's province, or the rule that says only bureaus may.
    pub fn require_bureau(&self, kind: &str) -> Result<&str> {
        match &self.actor {
            Actor::Bureau { province } => Ok(province),
            _ => Err(RecordError::new("signer", format!("a {kind} record is signed by a bureau's admin key"))),
        }
    }

    /// The province a submission counts for.
    pub fn province(&self, ledger: &Ledger) -> String {
        match &self.actor {
            Actor::Bureau { province } | Actor::Node { province } => province.clone(),
            Actor::Enterprise(e) => ledger.enterprise_at(*e).province,
            Actor::Anyone => String::new(),
        }
    }
}

pub const RECORD_TYPES: &[&str] = &[
    "enterprise",
    "product",
    "product_batch",
    "cold_storage",
    "central_warehouse",
    "shipment",
    "receipt",
    "stock_in",
    "stock_out",
    "vehicle",
    "certificate_report",
    "flow_report",
    "code_scheme",
    "code_link",
    "alert",
    "alert_disposal",
    "notice",
    "report_client",
    "app_credential",
    "auditor",
    "access_log",
    "dictionary_amendment",
    "governance",
    "evidence",
    "notarise",
];

/// What a record's validation worked out, so applying it does not work it
/// out again (nor assume it): the submitting enterprise, the lots a movement
/// takes, the shipment a receipt confirms, the lot a code or alert names.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Nothing to carry over.
    Ready,
    Product(EntId),
    ProductBatch(EntId),
    Shipment((EntId, shipment::Receiver, lines::Taken)),
    Receipt((EntId, EntId, Box<crate::state::ledger::Shipment>, lines::Taken)),
    StockIn(stock_in::Placement),
    StockOut((EntId, EntId, Option<crate::state::ledger::StorageId>, lines::Taken)),
    CodeLink((crate::state::ledger::LotId, bool)),
    Alert(alert::Found),
}

#[derive(Clone, Debug)]
pub enum Record {
    Enterprise(enterprise::EnterpriseRecord),
    Product(product::ProductRecord),
    ProductBatch(Box<product_batch::ProductBatch>),
    ColdStorage(cold_storage::ColdStorageRecord),
    CentralWarehouse(Box<central_warehouse::CentralWarehouse>),
    Shipment(shipment::ShipmentRecord),
    Receipt(receipt::ReceiptRecord),
    StockIn(stock_in::StockIn),
    StockOut(stock_out::StockOut),
    Vehicle(vehicle::VehicleRecord),
    CertificateReport(certificate_report::CertificateReportRecord),
    FlowReport(flow_report::FlowReportRecord),
    CodeScheme(code_scheme::CodeSchemeRecord),
    CodeLink(code_link::CodeLinkRecord),
    Alert(alert::AlertRecord),
    AlertDisposal(alert::AlertDisposal),
    Notice(notice::NoticeRecord),
    ReportClient(report_client::ReportClientRecord),
    AppCredential(app_credential::AppCredentialRecord),
    Auditor(access::AuditorRecord),
    AccessLog(access::AccessLogRecord),
    DictionaryAmendment(dictionary_amendment::DictionaryAmendment),
    Governance(governance::GovernanceRecord),
    Evidence(evidence::EvidenceRecord),
    Notarise,
}

impl Record {
    /// Parses `record` (the transaction's `record` member); field paths start at `record`.
    pub fn parse(record: &Value) -> Result<Record> {
        let mut f = Fields::of("record", record)?;
        let kind = match f.record_type() {
            Some((_, Value::String(s))) => s.clone(),
            Some((path, _)) => return Err(RecordError::new(path, "must be a string naming the record type")),
            None => return Err(RecordError::new("record.type", format!("is required; one of: {}", RECORD_TYPES.join(", ")))),
        };
        let record = match kind.as_str() {
            "enterprise" => Record::Enterprise(enterprise::EnterpriseRecord::parse(&mut f)?),
            "product" => Record::Product(product::ProductRecord::parse(&mut f)?),
            "product_batch" => Record::ProductBatch(Box::new(product_batch::ProductBatch::parse(&mut f)?)),
            "cold_storage" => Record::ColdStorage(cold_storage::ColdStorageRecord::parse(&mut f)?),
            "central_warehouse" => Record::CentralWarehouse(Box::new(central_warehouse::CentralWarehouse::parse(&mut f)?)),
            "shipment" => Record::Shipment(shipment::ShipmentRecord::parse(&mut f)?),
            "receipt" => Record::Receipt(receipt::ReceiptRecord::parse(&mut f)?),
            "stock_in" => Record::StockIn(stock_in::StockIn::parse(&mut f)?),
            "stock_out" => Record::StockOut(stock_out::StockOut::parse(&mut f)?),
            "vehicle" => Record::Vehicle(vehicle::VehicleRecord::parse(&mut f)?),
            "certificate_report" => Record::CertificateReport(certificate_report::CertificateReportRecord::parse(&mut f)?),
            "flow_report" => Record::FlowReport(flow_report::FlowReportRecord::parse(&mut f)?),
            "code_scheme" => Record::CodeScheme(code_scheme::CodeSchemeRecord::parse(&mut f)?),
            "code_link" => Record::CodeLink(code_link::CodeLinkRecord::parse(&mut f)?),
            "alert" => Record::Alert(alert::AlertRecord::parse(&mut f)?),
            "alert_disposal" => Record::AlertDisposal(alert::AlertDisposal::parse(&mut f)?),
            "notice" => Record::Notice(notice::NoticeRecord::parse(&mut f)?),
            "report_client" => Record::ReportClient(report_client::ReportClientRecord::parse(&mut f)?),
            "app_credential" => Record::AppCredential(app_credential::AppCredentialRecord::parse(&mut f)?),
            "auditor" => Record::Auditor(access::AuditorRecord::parse(&mut f)?),
            "access_log" => Record::AccessLog(access::AccessLogRecord::parse(&mut f)?),
            "dictionary_amendment" => Record::DictionaryAmendment(dictionary_amendment::DictionaryAmendment::parse(&mut f)?),
            "governance" => Record::Governance(governance::GovernanceRecord::parse(&mut f)?),
            "evidence" => Record::Evidence(evidence::EvidenceRecord::parse(&mut f)?),
            "notarise" => {
                notarise::parse(&mut f)?;
                Record::Notarise
            }
            other => return Err(RecordError::new("record.type", format!("unknown record type \"{other}\"; known: {}", RECORD_TYPES.join(", ")))),
        };
        Ok(record)
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<Plan> {
        Ok(match self {
            Record::Enterprise(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Product(r) => Plan::Product(r.validate(l, cx)?),
            Record::ProductBatch(r) => Plan::ProductBatch(r.validate(l, cx)?),
            Record::ColdStorage(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::CentralWarehouse(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Shipment(r) => Plan::Shipment(r.validate(l, cx)?),
            Record::Receipt(r) => Plan::Receipt(r.validate(l, cx)?),
            Record::StockIn(r) => Plan::StockIn(r.validate(l, cx)?),
            Record::StockOut(r) => Plan::StockOut(r.validate(l, cx)?),
            Record::Vehicle(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::CertificateReport(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::FlowReport(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::CodeScheme(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::CodeLink(r) => Plan::CodeLink(r.validate(l, cx)?),
            Record::Alert(r) => Plan::Alert(r.validate(l, cx)?),
            Record::AlertDisposal(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Notice(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::ReportClient(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::AppCredential(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Auditor(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::AccessLog(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::DictionaryAmendment(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Governance(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Evidence(r) => {
                r.validate(l, cx)?;
                Plan::Ready
            }
            Record::Notarise => Plan::Ready,
        })
    }

    /// Applies a record with the plan [`Record::validate`] made against this same ledger.
    pub fn apply(self, plan: Plan, l: &mut Ledger, cx: &Cx) {
        crate::state::statistics::record_applied(l, cx, self.type_name());
        match (self, plan) {
            (Record::Enterprise(r), _) => r.apply(l, cx),
            (Record::Product(r), Plan::Product(ent)) => r.apply(ent, l, cx),
            (Record::ProductBatch(r), Plan::ProductBatch(ent)) => r.apply(ent, l, cx),
            (Record::ColdStorage(r), _) => r.apply(l, cx),
            (Record::CentralWarehouse(r), _) => r.apply(l, cx),
            (Record::Shipment(r), Plan::Shipment(p)) => r.apply(p, l, cx),
            (Record::Receipt(r), Plan::Receipt(p)) => r.apply(p, l, cx),
            (Record::StockIn(r), Plan::StockIn(p)) => r.apply(p, l, cx),
            (Record::StockOut(r), Plan::StockOut(p)) => r.apply(p, l, cx),
            (Record::Vehicle(r), _) => r.apply(l, cx),
            (Record::CertificateReport(r), _) => r.apply(l, cx),
            (Record::FlowReport(r), _) => r.apply(l, cx),
            (Record::CodeScheme(r), _) => r.apply(l, cx),
            (Record::CodeLink(r), Plan::CodeLink(p)) => r.apply(p, l, cx),
            (Record::Alert(r), Plan::Alert(p)) => r.apply(p, l, cx),
            (Record::AlertDisposal(r), _) => r.apply(l, cx),
            (Record::Notice(r), _) => r.apply(l, cx),
            (Record::ReportClient(r), _) => r.apply(l, cx),
            (Record::AppCredential(r), _) => r.apply(l, cx),
            (Record::Auditor(r), _) => r.apply(l, cx),
            (Record::AccessLog(r), _) => r.apply(l, cx),
            (Record::DictionaryAmendment(r), _) => r.apply(l, cx),
            (Record::Governance(r), _) => r.apply(l, cx),
            (Record::Evidence(r), _) => r.apply(l, cx),
            (Record::Notarise, _) => notarise::apply(l, cx),
            (record, plan) => unreachable!("{} validated into {plan:?}", record.type_name()),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Record::Enterprise(_) => "enterprise",
            Record::Product(_) => "product",
            Record::ProductBatch(_) => "product_batch",
            Record::ColdStorage(_) => "cold_storage",
            Record::CentralWarehouse(_) => "central_warehouse",
            Record::Shipment(_) => "shipment",
            Record::Receipt(_) => "receipt",
            Record::StockIn(_) => "stock_in",
            Record::StockOut(_) => "stock_out",
            Record::Vehicle(_) => "vehicle",
            Record::CertificateReport(_) => "certificate_report",
            Record::FlowReport(_) => "flow_report",
            Record::CodeScheme(_) => "code_scheme",
            Record::CodeLink(_) => "code_link",
            Record::Alert(_) => "alert",
            Record::AlertDisposal(_) => "alert_disposal",
            Record::Notice(_) => "notice",
            Record::ReportClient(_) => "report_client",
            Record::AppCredential(_) => "app_credential",
            Record::Auditor(_) => "auditor",
            Record::AccessLog(_) => "access_log",
            Record::DictionaryAmendment(_) => "dictionary_amendment",
            Record::Governance(_) => "governance",
            Record::Evidence(_) => "evidence",
            Record::Notarise => "notarise",
        }
    }
}

/// An ed25519 public key field: 64 hex characters, a valid point.
pub fn public_key(f: &mut Fields, name: &str) -> Result<([u8; 32], String)> {
    let (hex_key, path) = f.req_str_at(name, &[], 64)?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(&hex_key, &mut key)
        .map_err(|_| RecordError::new(&path, "must be an ed25519 public key of 64 hexadecimal characters (as `coldchain keygen` prints it)"))?;
    if ed25519_dalek::VerifyingKey::from_bytes(&key).is_err() {
        return Err(RecordError::new(&path, "is not a valid ed25519 public key"));
    }
    Ok((key, path))
}

/// A date rule: `date` not after `today`.
pub fn not_future(date: NaiveDate, path: &str, cx: &Cx) -> Result<()> {
    if date > cx.today {
        return Err(RecordError::new(path, format!("{date} is after today ({}, China Standard Time)", cx.today)));
    }
    Ok(())
}

/// A dictionary rule: the code for `value` in `dict`.
pub fn dict(l: &Ledger, dict: &str, value: &str, path: &str) -> Result<String> {
    l.dictionaries().lookup(dict, value).map_err(|rule| RecordError::new(path, rule))
}

/// A unified social credit code rule.
pub fn uscc(value: &str, path: &str) -> Result<()> {
    match crate::identifiers::uscc_problem(value) {
        Some(rule) => Err(RecordError::new(path, rule)),
        None => Ok(()),
    }
}

/// An enrolled, active enterprise named by USCC.
pub fn counterpart(l: &Ledger, value: &str, path: &str) -> Result<EntId> {
    uscc(value, path)?;
    match l.enterprise(value) {
        None => Err(RecordError::new(path, format!("{value} is not an enrolled enterprise; its province's bureau enrols it first"))),
        Some((_, e)) if e.suspended => Err(RecordError::new(path, format!("enterprise {value} is suspended"))),
        Some((id, _)) => Ok(id),
    }
}
