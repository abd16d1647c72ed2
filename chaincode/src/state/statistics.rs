//! Statistics for bureaus (issue 18 item 5): what seed 000 asks a province
//! to know and to show, kept as counters the records update as they apply,
//! so that every figure is read from a few keys, never from the chain.
//!
//! - 摸清底数 (§二.4), §3.3 省/市基础数据: enterprises enrolled, by province
//!   and type ([`ENTERPRISE_COUNTS`]); records, batches and weight by province
//!   and day, and batches and weight by product category, country of origin
//!   and port of entry ([`STATISTICS`]).
//! - 每日一报: which enterprises of a province recorded nothing on a day
//!   ([`PROVINCE_ENTERPRISES`], [`ENTERPRISE_DAYS`]).
//! - §3.8 查看本省/市上报数据: the certificate and flow reports each province
//!   sent ([`PROVINCE_REPORTS`]).
//!
//! **The day** of a figure is the day its record was applied: the block's
//! date in China Standard Time (UTC+8), the same "today" the chaincode's
//! date rules use, never a date inside the record (a batch that entered the
//! country last month counts on the day it was recorded). A replay counts
//! the same.
//!
//! **The province** of a record is its submitter's ([`Cx::province`]): an
//! enterprise's, or the bureau's or node's that signed it; a notarisation by
//! an unenrolled key counts under the empty province. A report counts under
//! the province it reports for (a node's report client's province).
//!
//! A query for a date range reads only that range's keys of one dimension:
//! the tables are keyed (dimension, day, …).

use super::ledger::{
    CERTIFICATE_REPORTS, CertificateReport, ENTERPRISE_COUNTS, ENTERPRISE_DAYS, ENTERPRISES, EntId, Enterprise, FLOW_REPORTS, FlowDirection,
    FlowReport, Ledger, PRODUCTS, PROVINCE_ENTERPRISES, PROVINCE_REPORTS, STATISTICS,
};
use crate::fields::{Qty, kg};
use crate::records::{Actor, Cx};
use crate::transaction::TxId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a key of [`STATISTICS`] groups by (its first part; part of the stored format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Dimension {
    /// Every figure, by day and province (the value is empty).
    All = 0,
    /// Batches, pieces and weight by the product's category code (seed 004 annex E).
    Category = 1,
    /// … by the product's country of origin code.
    Origin = 2,
    /// … by the port of entry code.
    Port = 3,
    /// Records by type.
    RecordType = 4,
}

/// The counters of one key of [`STATISTICS`]. Stored without its zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Records applied.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records: u64,
    /// Lots entered (a lot's first `product_batch`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub batches: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pieces: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grams: u64,
    /// Enterprises enrolled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub enrolled: u64,
    /// Enterprises that recorded anything (each once a day).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reporting: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub certificate_reports: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flow_reports: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.records += o.records;
        self.batches += o.batches;
        self.pieces += o.pieces;
        self.grams += o.grams;
        self.enrolled += o.enrolled;
        self.reporting += o.reporting;
        self.certificate_reports += o.certificate_reports;
        self.flow_reports += o.flow_reports;
    }
}

/// Enterprises of a province and type ([`ENTERPRISE_COUNTS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseCount {
    /// Enrolled, suspended ones included.
    pub enrolled: u64,
    pub suspended: u64,
}

/// An enterprise's place in its province's list ([`PROVINCE_ENTERPRISES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The day it was enrolled.
    pub enrolled_on: NaiveDate,
    /// The last day it recorded anything.
    pub last_record: Option<NaiveDate>,
}

/// The kind of a report in [`PROVINCE_REPORTS`] (part of the stored format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReportKind {
    Certificate = 0,
    Flow = 1,
}

// ----- updates, from the records' apply ------------------------------------

fn bump(l: &mut Ledger, key: (u8, NaiveDate, String, String), f: impl FnOnce(&mut Figures)) {
    let mut figures = l.get(&STATISTICS, &key).unwrap_or_default();
    f(&mut figures);
    l.put(&STATISTICS, &key, &figures);
}

/// Counts a record as it applies, under its submitter's province and the
/// block's day; an enterprise's record marks the enterprise as reporting that day.
pub fn record_applied(l: &mut Ledger, cx: &Cx, record_type: &str) {
    let (day, province) = (cx.today, cx.province(l));
    bump(l, (Dimension::All as u8, day, province.clone(), String::new()), |f| f.records += 1);
    bump(l, (Dimension::RecordType as u8, day, province.clone(), record_type.to_string()), |f| f.records += 1);
    let Actor::Enterprise(ent) = cx.actor else { return };
    let key = (day, province.clone(), ent);
    let today = l.get(&ENTERPRISE_DAYS, &key).unwrap_or(0);
    l.put(&ENTERPRISE_DAYS, &key, &(today + 1));
    if today == 0 {
        bump(l, (Dimension::All as u8, day, province.clone(), String::new()), |f| f.reporting += 1);
        let at = (province, ent);
        // An enterprise enrolled before these tables existed has no entry: it gets one.
        let mut activity = l.get(&PROVINCE_ENTERPRISES, &at).unwrap_or(Activity { enrolled_on: day, last_record: None });
        activity.last_record = Some(day);
        l.put(&PROVINCE_ENTERPRISES, &at, &activity);
    }
}

/// An `enterprise` record applied: `old` is the enterprise before it (none: a new enrolment).
pub fn enterprise_changed(l: &mut Ledger, cx: &Cx, id: EntId, old: Option<&Enterprise>, new: &Enterprise) {
    let count = |l: &mut Ledger, e: &Enterprise, by: i64| {
        let key = (e.province.clone(), e.enterprise_type.clone());
        let mut c: EnterpriseCount = l.get(&ENTERPRISE_COUNTS, &key).unwrap_or_default();
        c.enrolled = c.enrolled.saturating_add_signed(by);
        if e.suspended {
            c.suspended = c.suspended.saturating_add_signed(by);
        }
        if c == EnterpriseCount::default() {
            l.delete(&ENTERPRISE_COUNTS, &key);
        } else {
            l.put(&ENTERPRISE_COUNTS, &key, &c);
        }
    };
    match old {
        Some(old) if (old.enterprise_type.as_str(), old.suspended) == (new.enterprise_type.as_str(), new.suspended) => {}
        Some(old) => {
            count(l, old, -1);
            count(l, new, 1);
        }
        None => {
            count(l, new, 1);
            bump(l, (Dimension::All as u8, cx.today, new.province.clone(), String::new()), |f| f.enrolled += 1);
            l.put(&PROVINCE_ENTERPRISES, &(new.province.clone(), id), &Activity { enrolled_on: cx.today, last_record: None });
        }
    }
}

/// A lot entered by `ent` of `province` (a lot's first `product_batch`): its
/// product's category and country (from the enterprise's `product` record,
/// empty without one) and its port of entry (a code).
pub fn batch_entered(l: &mut Ledger, cx: &Cx, (ent, province): (EntId, &str), product_id: &str, port: &str, qty: Qty) {
    let (category, country) = l.get(&PRODUCTS, &(ent, product_id.to_string())).map(|p| (p.category, p.country)).unwrap_or_default();
    let add = |f: &mut Figures| {
        f.batches += 1;
        f.pieces += qty.pieces;
        f.grams += qty.grams;
    };
    for (dimension, value) in
        [(Dimension::All, String::new()), (Dimension::Category, category), (Dimension::Origin, country), (Dimension::Port, port.to_string())]
    {
        bump(l, (dimension as u8, cx.today, province.to_string(), value), add);
    }
}

/// A certificate or flow report `seq` sent for `province`.
pub fn report_sent(l: &mut Ledger, cx: &Cx, province: &str, kind: ReportKind, seq: u64) {
    l.put(&PROVINCE_REPORTS, &(province.to_string(), cx.today, kind as u8, seq), &());
    bump(l, (Dimension::All as u8, cx.today, province.to_string(), String::new()), |f| match kind {
        ReportKind::Certificate => f.certificate_reports += 1,
        ReportKind::Flow => f.flow_reports += 1,
    });
}

// ----- queries --------------------------------------------------------------

/// What a statistics query groups its rows by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Province,
    Day,
    Category,
    Origin,
    Port,
    RecordType,
}

impl By {
    /// The names a query spells them with.
    pub const NAMES: [&str; 6] = ["province", "day", "category", "origin", "port", "type"];

    pub fn parse(s: &str) -> Option<By> {
        Some(match s {
            "province" => By::Province,
            "day" => By::Day,
            "category" => By::Category,
            "origin" => By::Origin,
            "port" => By::Port,
            "type" => By::RecordType,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn dimension(self) -> Dimension {
        match self {
            By::Province | By::Day => Dimension::All,
            By::Category => Dimension::Category,
            By::Origin => Dimension::Origin,
            By::Port => Dimension::Port,
            By::RecordType => Dimension::RecordType,
        }
    }
}

/// One row of figures. A figure the grouping does not count is absent:
/// product categories, countries and ports count batches, pieces and
/// weight; record types count records; provinces and days count everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatisticsRow {
    /// The group: a province code (GB/T 2260), a day (YYYY-MM-DD), a product
    /// category, country or port code, a record type; `total` for the sum.
    /// Empty: goods of a product with no `product` record (category, origin),
    /// or notarisations by unenrolled keys (province).
    pub key: String,
    /// The group's name (from the dictionaries), where it has one.
    pub name: String,
    /// Records applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub records: Option<u64>,
    /// Lots entered (a lot's first `product_batch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub batches: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub pieces: Option<u64>,
    /// The lots' weight, kilograms as a decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub weight_kg: Option<String>,
    /// Enterprises enrolled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub enrolled: Option<u64>,
    /// Enterprises that recorded anything, each counted once a day (over several days: enterprise-days).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub reporting: Option<u64>,
    /// Certificate reports sent to the national platform (`certificate_report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub certificate_reports: Option<u64>,
    /// Interprovincial flow reports sent (`flow_report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub flow_reports: Option<u64>,
}

impl StatisticsRow {
    fn of(by: By, key: String, name: String, f: &Figures) -> StatisticsRow {
        let all = matches!(by, By::Province | By::Day);
        let goods = !matches!(by, By::RecordType);
        let when = |yes: bool, n: u64| yes.then_some(n);
        StatisticsRow {
            key,
            name,
            records: when(all || by == By::RecordType, f.records),
            batches: when(goods, f.batches),
            pieces: when(goods, f.pieces),
            weight_kg: goods.then(|| kg(f.grams)),
            enrolled: when(all, f.enrolled),
            reporting: when(all, f.reporting),
            certificate_reports: when(all, f.certificate_reports),
            flow_reports: when(all, f.flow_reports),
        }
    }

    /// The column names of [`Self::cells`].
    pub const COLUMNS: [&str; 10] =
        ["key", "name", "records", "batches", "pieces", "weight_kg", "enrolled", "reporting", "certificate_reports", "flow_reports"];

    /// The row as text cells (a figure not counted is empty).
    pub fn cells(&self) -> Vec<String> {
        let n = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        vec![
            self.key.clone(),
            self.name.clone(),
            n(self.records),
            n(self.batches),
            n(self.pieces),
            self.weight_kg.clone().unwrap_or_default(),
            n(self.enrolled),
            n(self.reporting),
            n(self.certificate_reports),
            n(self.flow_reports),
        ]
    }
}

/// Enterprises enrolled now, of one province and type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnterpriseCountView {
    pub province: String,
    pub province_name: String,
    /// The enterprise type code (seed 004 annex C).
    pub enterprise_type: String,
    pub enterprise_type_name: String,
    /// Enrolled, suspended ones included.
    pub enrolled: u64,
    pub suspended: u64,
}

/// A statistics query's answer.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statistics {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `province`, `day`, `category`, `origin`, `port` or `type`.
    pub by: String,
    /// The province the figures are of; absent: every province.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub province: Option<String>,
    /// One row per group, in key order.
    pub rows: Vec<StatisticsRow>,
    /// The sum of the rows (key `total`).
    pub total: StatisticsRow,
    /// Enterprises enrolled now (not limited to the range), by province and type (摸清底数).
    pub enterprises: Vec<EnterpriseCountView>,
}

/// The name of `code` in dictionary `dict`, or else a bureau's name for a province.
fn name_of(l: &Ledger, dict: &str, code: &str) -> String {
    if let Some(name) = l.dictionaries().get(dict).and_then(|d| d.name_of(code)) {
        return name.to_string();
    }
    match (dict, code) {
        ("province", "") => "(unenrolled keys)".into(),
        ("province", p) => l.bureaus().get(p).map(|b| b.name.clone()).unwrap_or_default(),
        ("product_category" | "country", "") => "(no product record)".into(),
        _ => String::new(),
    }
}

/// The entries of one dimension of [`STATISTICS`] from day `from` to day `to`, both included.
fn range(l: &Ledger, dimension: Dimension, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = ((u8, NaiveDate, String, String), Figures)> + '_ {
    let (start, _) = STATISTICS.range_of(&(dimension as u8, from));
    let (_, end) = STATISTICS.range_of(&(dimension as u8, to));
    l.kv().scan_raw(&start, &end).map(|(k, v)| (STATISTICS.decode_key(&k), STATISTICS.decode(&v)))
}

/// The figures from day `from` to `to` (both included, `from <= to`), grouped
/// `by`, of `province` only when given; and the enterprises enrolled now.
pub fn statistics(l: &Ledger, from: NaiveDate, to: NaiveDate, by: By, province: Option<&str>) -> Statistics {
    let mut groups: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    for ((_, day, p, value), f) in range(l, by.dimension(), from, to) {
        if province.is_some_and(|want| want != p) {
            continue;
        }
        let group = match by {
            By::Province => p,
            By::Day => day.to_string(),
            _ => value,
        };
        groups.entry(group).or_default().add(&f);
        total.add(&f);
    }
    let dict = match by {
        By::Province => "province",
        By::Category => "product_category",
        By::Origin => "country",
        By::Port => "entry_port",
        By::Day | By::RecordType => "",
    };
    let rows = groups.into_iter().map(|(key, f)| StatisticsRow::of(by, key.clone(), name_of(l, dict, &key), &f)).collect();
    let enterprises = l
        .scan_all(&ENTERPRISE_COUNTS)
        .filter(|((p, _), _)| province.is_none_or(|want| want == p))
        .map(|((p, t), c)| EnterpriseCountView {
            province_name: name_of(l, "province", &p),
            enterprise_type_name: name_of(l, "enterprise_type", &t),
            province: p,
            enterprise_type: t,
            enrolled: c.enrolled,
            suspended: c.suspended,
        })
        .collect();
    Statistics {
        from,
        to,
        by: by.as_str().to_string(),
        province: province.map(str::to_string),
        rows,
        total: StatisticsRow::of(by, "total".into(), String::new(), &total),
        enterprises,
    }
}

/// One report a province sent (a `certificate_report` or `flow_report`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentReport {
    /// `certificate` (`certification.register`) or `flow` (`statistical.info.register`).
    pub kind: String,
    /// The day it was recorded (China Standard Time).
    pub reported_on: NaiveDate,
    /// 检验检疫证明编号.
    pub quarantine_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub production_batch: Option<String>,
    /// The certificate's declared weight, or the flow's actual weight.
    pub weight_kg: String,
    /// A certificate's product big class code; a flow's product name.
    pub product: String,
    /// A certificate's port of entry code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub port_of_entry: Option<String>,
    /// A certificate's country of origin code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub country: Option<String>,
    /// A certificate's import source type code (dictionary `source_type`), when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub source_type: Option<String>,
    /// A flow's direction: `in` or `out`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub direction: Option<String>,
    /// A flow's counterpart (a province code or an enterprise's USCC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub counterpart: Option<String>,
    /// The report client it came by (the national interface), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub client_id: Option<String>,
    pub tx: TxId,
}

impl SentReport {
    pub const COLUMNS: [&str; 13] = [
        "kind",
        "reported_on",
        "quarantine_number",
        "production_batch",
        "weight_kg",
        "product",
        "port_of_entry",
        "country",
        "source_type",
        "direction",
        "counterpart",
        "client_id",
        "tx",
    ];

    pub fn cells(&self) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            self.kind.clone(),
            self.reported_on.to_string(),
            self.quarantine_number.clone(),
            o(&self.production_batch),
            self.weight_kg.clone(),
            self.product.clone(),
            o(&self.port_of_entry),
            o(&self.country),
            o(&self.source_type),
            o(&self.direction),
            o(&self.counterpart),
            o(&self.client_id),
            self.tx.to_string(),
        ]
    }

    fn certificate(r: CertificateReport) -> SentReport {
        SentReport {
            kind: "certificate".into(),
            reported_on: r.reported_on,
            quarantine_number: r.quarantine_number,
            production_batch: r.production_batch,
            weight_kg: kg(r.declared_grams),
            product: r.product_big_class,
            port_of_entry: Some(r.port_of_entry),
            country: Some(r.country),
            source_type: r.source_type,
            direction: None,
            counterpart: None,
            client_id: r.client_id,
            tx: r.tx,
        }
    }

    fn flow(r: FlowReport) -> SentReport {
        SentReport {
            kind: "flow".into(),
            reported_on: r.reported_on,
            quarantine_number: r.quarantine_number,
            production_batch: Some(r.production_batch),
            weight_kg: kg(r.actual_grams),
            product: r.product_name,
            port_of_entry: None,
            country: None,
            source_type: None,
            direction: Some(match r.direction {
                FlowDirection::In => "in".into(),
                FlowDirection::Out => "out".into(),
            }),
            counterpart: Some(r.counterpart),
            client_id: r.client_id,
            tx: r.tx,
        }
    }
}

/// A province's reports of one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportDay {
    pub day: NaiveDate,
    pub certificate_reports: u64,
    pub flow_reports: u64,
}

/// The reports a province sent (§3.8 查看本省/市上报数据).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvinceReports {
    pub province: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Each day of the range with a report, and how many of each kind.
    pub days: Vec<ReportDay>,
    /// The reports, by day, kind, then order on chain; at most the limit.
    pub reports: Vec<SentReport>,
    /// More reports were sent in the range than are listed: narrow it.
    pub truncated: bool,
}

/// The reports `province` sent from day `from` to `to` (both included), at most `limit` listed.
pub fn reports(l: &Ledger, province: &str, from: NaiveDate, to: NaiveDate, limit: usize) -> ProvinceReports {
    let days = range(l, Dimension::All, from, to)
        .filter(|((_, _, p, _), f)| p == province && f.certificate_reports + f.flow_reports > 0)
        .map(|((_, day, _, _), f)| ReportDay { day, certificate_reports: f.certificate_reports, flow_reports: f.flow_reports })
        .collect();
    let (start, _) = PROVINCE_REPORTS.range_of(&(province.to_string(), from));
    let (_, end) = PROVINCE_REPORTS.range_of(&(province.to_string(), to));
    let mut reports = Vec::new();
    let mut truncated = false;
    for (key, _) in l.kv().scan_raw(&start, &end) {
        if reports.len() == limit {
            truncated = true;
            break;
        }
        let (_, _, kind, seq) = PROVINCE_REPORTS.decode_key(&key);
        let report = if kind == ReportKind::Certificate as u8 {
            l.get(&CERTIFICATE_REPORTS, &seq).map(SentReport::certificate)
        } else {
            l.get(&FLOW_REPORTS, &seq).map(SentReport::flow)
        };
        reports.extend(report);
    }
    ProvinceReports { province: province.to_string(), from, to, days, reports, truncated }
}

/// An enrolled enterprise that recorded nothing on the day asked.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnreportedEnterprise {
    pub uscc: String,
    pub name: String,
    pub enterprise_type: String,
    pub enterprise_type_name: String,
    pub district: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub contact_phone: Option<String>,
    pub enrolled_on: NaiveDate,
    /// The last day it recorded anything (possibly after the day asked); absent: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub last_record: Option<NaiveDate>,
}

impl UnreportedEnterprise {
    pub const COLUMNS: [&str; 9] =
        ["uscc", "name", "enterprise_type", "enterprise_type_name", "district", "contact", "contact_phone", "enrolled_on", "last_record"];

    pub fn cells(&self) -> Vec<String> {
        vec![
            self.uscc.clone(),
            self.name.clone(),
            self.enterprise_type.clone(),
            self.enterprise_type_name.clone(),
            self.district.clone(),
            self.contact.clone().unwrap_or_default(),
            self.contact_phone.clone().unwrap_or_default(),
            self.enrolled_on.to_string(),
            self.last_record.map(|d| d.to_string()).unwrap_or_default(),
        ]
    }
}

/// Who of a province recorded nothing on a day (每日一报).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unreported {
    pub province: String,
    pub day: NaiveDate,
    /// Enterprises enrolled on or before the day and not suspended now.
    pub enrolled: u64,
    /// Of them, those that recorded something that day.
    pub reported: u64,
    /// The others, in enrolment order; at most the limit.
    pub enterprises: Vec<UnreportedEnterprise>,
    /// More did not report than are listed.
    pub truncated: bool,
}

/// The enterprises of `province`, enrolled on or before `day` and not
/// suspended, that recorded nothing on `day`; at most `limit` listed.
/// Reads the province's enterprise list and that day's reporters, never
/// the records.
pub fn unreported(l: &Ledger, province: &str, day: NaiveDate, limit: usize) -> Unreported {
    let reported: BTreeSet<EntId> = l.scan(&ENTERPRISE_DAYS, &(day, province.to_string())).map(|((_, _, e), _)| e).collect();
    let mut out = Unreported { province: province.to_string(), day, enrolled: 0, reported: 0, enterprises: Vec::new(), truncated: false };
    for ((_, id), activity) in l.scan(&PROVINCE_ENTERPRISES, &province.to_string()) {
        if activity.enrolled_on > day {
            continue;
        }
        let Some(e) = l.get(&ENTERPRISES, &id) else { continue };
        if e.suspended {
            continue;
        }
        out.enrolled += 1;
        if reported.contains(&id) {
            out.reported += 1;
            continue;
        }
        if out.enterprises.len() == limit {
            out.truncated = true;
            continue;
        }
        out.enterprises.push(UnreportedEnterprise {
            enterprise_type_name: name_of(l, "enterprise_type", &e.enterprise_type),
            uscc: e.uscc,
            name: e.name,
            enterprise_type: e.enterprise_type,
            district: e.district,
            contact: e.contact,
            contact_phone: e.contact_phone,
            enrolled_on: activity.enrolled_on,
            last_record: activity.last_record,
        });
    }
    out
}
