//! What each caller sees of a lot's trace (seed 000 §三(三): necessity and
//! minimum access; docs/SECURITY.md, "Who sees what"). The trace routes
//! (JSON, CSV, DOT, SVG) and so the explorer and `coldchain trace` get their
//! answer from [`scope`], and nowhere else.
//!
//! | caller | sees |
//! |---|---|
//! | public, or an enterprise not on the trace | the consumer view: the product, the lot's certificate and nucleic-acid result, the provinces it passed, its codes in every scheme, whether an alert on it is open |
//! | enterprise on the trace | the steps it is a party to, itself in full, its direct counterparties (name, province, address; contacts masked, holdings withheld) |
//! | bureau | the steps with an end in its province, its province's enterprises in full, the other ends (contacts masked, holdings withheld); inside an open alert every step and enterprise, other provinces' in full (each such read on chain) |
//! | auditor | as the bureau of the province that registered it, contacts masked |

use super::access::{Caller, Visibility, mask_trace};
use coldchain_chaincode::state::trace::{LinkedCode, LotView, Resolution, Trace};
use serde::Serialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// A trace as one caller may see it (docs/SECURITY.md, "Who sees what").
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum Scoped {
    Consumer(ConsumerTrace),
    /// The custody graph, cut to what the caller may see.
    Custody(CustodyTrace),
}

/// The custody graph of a lot, as far as the caller may see it (JSON form
/// of `GET /v1/trace` for enterprises on the trace, bureaus and auditors).
#[derive(Serialize, ToSchema)]
pub struct CustodyTrace {
    /// `enterprise` (its own steps and direct counterparties), `bureau` (steps with an end in its province), `auditor` (as its registering bureau, masked) or `alert` (a bureau inside an open alert: every step).
    #[schema(value_type = String)]
    pub view: &'static str,
    /// A bureau has raised an alert on the lot that is not closed.
    pub alert_open: bool,
    /// Steps and enterprises of the lot left out of this answer.
    pub withheld_steps: usize,
    pub withheld_enterprises: usize,
    #[serde(flatten)]
    pub trace: Trace,
}

/// The consumer view: what anyone scanning a pack sees (the public, an
/// enterprise not on the trace).
#[derive(Serialize, ToSchema)]
pub struct ConsumerTrace {
    /// `consumer`.
    #[schema(value_type = String)]
    pub view: &'static str,
    pub scheme: String,
    pub code: String,
    pub product: ConsumerProduct,
    pub certificate: ConsumerCertificate,
    /// GB/T 2260 codes of the provinces the lot passed, in the order it reached them.
    pub provinces: Vec<String>,
    /// The lot's codes in every province's scheme: `{scheme, code, province, resolver_url}`.
    pub codes: Vec<ConsumerCode>,
    /// A bureau has raised an alert on the lot that is not closed.
    pub alert_open: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConsumerProduct {
    pub product_id: String,
    pub product_name: String,
    pub label_batch: String,
    pub production_date: chrono::NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct ConsumerCertificate {
    /// 检验检疫证明编号 and its batch.
    pub quarantine_number: String,
    pub certificate_batch: String,
    pub entry_date: chrono::NaiveDate,
    pub port_of_entry: String,
    /// The nucleic-acid result recorded at entry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub nucleic_acid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsumerCode {
    pub scheme: String,
    pub code: String,
    pub province: String,
    pub resolver_url: String,
}

impl From<LinkedCode> for ConsumerCode {
    fn from(c: LinkedCode) -> ConsumerCode {
        ConsumerCode { scheme: c.scheme, code: c.code, province: c.province, resolver_url: c.resolver_url }
    }
}

impl Scoped {
    pub fn summary(&self) -> String {
        match self {
            Scoped::Consumer(c) => {
                format!("consumer view: {} provinces passed{}", c.provinces.len(), if c.alert_open { "; an alert is open" } else { "" })
            }
            Scoped::Custody(c) => format!(
                "{} steps, {} enterprises{}",
                c.trace.steps.len(),
                c.trace.enterprises.len(),
                if c.withheld_steps + c.withheld_enterprises > 0 {
                    format!(" ({} steps, {} enterprises not shown to you)", c.withheld_steps, c.withheld_enterprises)
                } else {
                    String::new()
                }
            ),
        }
    }
}

/// Cuts `trace` to what `caller` may see and masks what it may not read in
/// full; `vis` knows the open alert the lot is inside, if any (and records
/// which other provinces a bureau read in full).
pub fn scope(mut trace: Trace, caller: &Caller, vis: &mut Visibility, alert_open: bool) -> Scoped {
    let on_trace = trace.enterprises.iter().any(|e| matches!(caller, Caller::Enterprise { uscc } if *uscc == e.uscc));
    // The enterprises that are the caller's own (itself, or its province's), found once; `all` inside an alert.
    let own = |province: &str| -> BTreeSet<String> { trace.enterprises.iter().filter(|e| e.province == province).map(|e| e.uscc.clone()).collect() };
    let (view, all, mine_set): (&'static str, bool, BTreeSet<String>) = match caller {
        Caller::Enterprise { uscc } if on_trace => ("enterprise", false, BTreeSet::from([uscc.clone()])),
        Caller::Public | Caller::Enterprise { .. } => return Scoped::Consumer(consumer(trace, alert_open)),
        Caller::Bureau { .. } if vis.alert().is_some() => ("alert", true, trace.enterprises.iter().map(|e| e.uscc.clone()).collect()),
        Caller::Bureau { province } => ("bureau", false, own(province)),
        Caller::Auditor { province, .. } => ("auditor", false, own(province)),
    };
    let mine = |u: &str| all || mine_set.contains(u);
    let (steps_before, enterprises_before) = (trace.steps.len(), trace.enterprises.len());
    let kept_steps: Vec<_> = trace.steps.iter().filter(|s| mine(&s.to) || s.from.as_deref().is_some_and(mine)).cloned().collect();
    let ends: BTreeSet<String> = kept_steps.iter().flat_map(|s| s.from.iter().cloned().chain([s.to.clone()])).collect();
    trace.steps = kept_steps;
    trace.enterprises.retain(|e| mine_set.contains(&e.uscc) || ends.contains(&e.uscc));
    for e in &mut trace.enterprises {
        if !mine_set.contains(&e.uscc) {
            e.holds_pieces = None;
            e.holds_kg = None;
        }
    }
    mask_trace(&mut trace, vis);
    Scoped::Custody(CustodyTrace {
        view,
        alert_open,
        withheld_steps: steps_before - trace.steps.len(),
        withheld_enterprises: enterprises_before - trace.enterprises.len(),
        trace,
    })
}

fn consumer(trace: Trace, alert_open: bool) -> ConsumerTrace {
    // Provinces in the order the lot reached them: the entry first, then by step date.
    let mut steps = trace.steps.clone();
    steps.sort_by_key(|s| (s.date, s.height));
    let mut provinces: Vec<String> = Vec::new();
    for s in &steps {
        if let Some(p) = trace.enterprises.iter().find(|e| e.uscc == s.to).map(|e| e.province.clone())
            && !provinces.contains(&p)
        {
            provinces.push(p);
        }
    }
    let lot = trace.lot;
    ConsumerTrace {
        view: "consumer",
        scheme: trace.scheme,
        code: trace.code,
        product: ConsumerProduct {
            product_id: lot.product_id,
            product_name: lot.product_name,
            label_batch: lot.label_batch,
            production_date: lot.production_date,
        },
        certificate: ConsumerCertificate {
            quarantine_number: lot.quarantine_number,
            certificate_batch: lot.certificate_batch,
            entry_date: lot.entry_date,
            port_of_entry: lot.port_of_entry,
            nucleic_acid: lot.nucleic_acid,
        },
        provinces,
        codes: trace.codes.into_iter().map(ConsumerCode::from).collect(),
        alert_open,
    }
}

/// A code's resolution (`GET /v1/codes/...`) as one caller may see it.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ScopedResolution {
    /// A signed caller: the resolution whole (it names no holdings or contacts).
    Full(Resolution),
    /// The public: the lot's product and certificate and each code's
    /// scheme, province and resolver, not who issued the codes or imported
    /// the lot.
    Public(PublicResolution),
}

#[derive(Serialize, ToSchema)]
pub struct PublicResolution {
    pub scheme: String,
    pub code: String,
    pub lot: PublicLot,
    /// The codes of the lot, in every scheme, this one first: at most 256
    /// of each scheme.
    pub codes: Vec<ConsumerCode>,
    /// Codes of the lot not listed in `codes`; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub codes_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A lot as the public sees it: no consignor, consignee, importer, container or quantities.
#[derive(Serialize, ToSchema)]
pub struct PublicLot {
    pub quarantine_number: String,
    pub certificate_batch: String,
    pub product_id: String,
    pub product_name: String,
    pub label_batch: String,
    pub production_date: chrono::NaiveDate,
    pub entry_date: chrono::NaiveDate,
    pub port_of_entry: String,
    pub nucleic_acid: Option<String>,
    pub tx: coldchain_chaincode::TxId,
}

impl From<LotView> for PublicLot {
    fn from(l: LotView) -> PublicLot {
        PublicLot {
            quarantine_number: l.quarantine_number,
            certificate_batch: l.certificate_batch,
            product_id: l.product_id,
            product_name: l.product_name,
            label_batch: l.label_batch,
            production_date: l.production_date,
            entry_date: l.entry_date,
            port_of_entry: l.port_of_entry,
            nucleic_acid: l.nucleic_acid,
            tx: l.tx,
        }
    }
}

/// `res` as `caller` may see it.
pub fn resolution(res: Resolution, caller: &Caller) -> ScopedResolution {
    if !matches!(caller, Caller::Public) {
        return ScopedResolution::Full(res);
    }
    ScopedResolution::Public(PublicResolution {
        scheme: res.scheme,
        code: res.code,
        lot: res.lot.into(),
        codes: res.codes.into_iter().map(ConsumerCode::from).collect(),
        codes_omitted: res.codes_omitted,
    })
}
