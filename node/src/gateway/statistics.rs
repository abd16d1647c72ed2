//! `GET /v1/statistics[/reports|/unreported]`: statistics for bureaus
//! (issue 18 item 5; seed 000 §二.4 摸清底数, §3.3, §3.8 查看本省/市上报数据,
//! 每日一报), read from the indexes the chaincode keeps as records apply
//! (chaincode `state::statistics`), never from the chain.
//!
//! Who sees what (docs/SECURITY.md): every bureau sees every province's
//! aggregate figures (joint supervision; counts name no enterprise); a
//! provincial bureau sees the reports and the enterprises-not-reported list
//! of its own province only, the national platform's bureau of any
//! province it names, with contacts masked.
//!
//! "Today", the default day, is the date in China Standard Time (UTC+8) by
//! this node's clock: the day the chaincode counts a record under is its
//! block's date in the same zone.

use super::Gateway;
use super::access::{Caller, mask_name, mask_phone};
use super::envelope::{ApiError, ErrorCode, ok};
use super::render;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use coldchain_chaincode::state::statistics::{self, By, SentReport, StatisticsRow, UnreportedEnterprise};
use serde::Deserialize;
use utoipa::IntoParams;

/// The longest range one query covers, in days.
pub const MAX_DAYS: i64 = 366;
/// The most reports one answer lists.
pub const MAX_REPORTS: usize = 1000;
/// The most enterprises one unreported list names.
pub const MAX_UNREPORTED: usize = 5000;
/// The national platform's province code: its bureau sees every province.
const NATIONAL: &str = "000000";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// The first day (YYYY-MM-DD, China Standard Time); default: `to`.
    from: Option<String>,
    /// The last day, included; default: today. At most 366 days after `from`.
    to: Option<String>,
    /// `province` (the default), `day`, `category` (product category), `origin` (country of origin), `port` (port of entry) or `type` (record type).
    by: Option<String>,
    /// Only this province's figures (GB/T 2260 code, e.g. 130000); default: every province.
    province: Option<String>,
    /// `json` (the default) or `csv` (a file, UTF-8 with a byte-order mark for Excel).
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// The first day (YYYY-MM-DD, China Standard Time); default: `to`.
    from: Option<String>,
    /// The last day, included; default: today. At most 366 days after `from`.
    to: Option<String>,
    /// The reporting province; default: the caller's. A provincial bureau may name only its own; the national platform names one.
    province: Option<String>,
    /// `json` (the default) or `csv` (the reports, a file).
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnreportedQuery {
    /// The day (YYYY-MM-DD, China Standard Time); default: today.
    day: Option<String>,
    /// The province; default: the caller's. A provincial bureau may name only its own; the national platform names one.
    province: Option<String>,
    /// `json` (the default) or `csv` (the enterprises, a file).
    format: Option<String>,
}

fn bad(field: &str, rule: impl Into<String>) -> ApiError {
    ApiError::field(ErrorCode::BadQuery, field, rule)
}

/// Today in China Standard Time, by this node's clock.
fn today(gw: &Gateway) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(gw.services.clock.now_ms() + 8 * 3_600_000).map(|t| t.date_naive()).unwrap_or_default()
}

fn date(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d").map(Some).map_err(|_| bad(field, format!("\"{v}\" is not a date: YYYY-MM-DD"))),
    }
}

/// `from` and `to`: `to` defaults to today, `from` to `to`; `from <= to`, at most [`MAX_DAYS`] days.
fn range(gw: &Gateway, from: Option<&str>, to: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = date("to", to)?.unwrap_or_else(|| today(gw));
    let from = date("from", from)?.unwrap_or(to);
    if from > to {
        return Err(bad("from", format!("{from} is after to ({to})")));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(bad("to", format!("a range covers at most {MAX_DAYS} days; {from} to {to} is {} days", (to - from).num_days() + 1)));
    }
    Ok((from, to))
}

fn province_code(value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(p) if p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(p.to_string())),
        Some(p) => Err(bad("province", format!("\"{p}\" is not a province code: 6 digits (GB/T 2260), e.g. 110000"))),
    }
}

/// The province whose reports or reporters `caller` may see: its own, or
/// (the national platform) the one it names.
fn own_province(caller: &Caller, named: Option<&str>, what: &str) -> Result<String, ApiError> {
    let named = province_code(named)?;
    let Caller::Bureau { province: mine } = caller else {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            ..ApiError::field(ErrorCode::Forbidden, "x-coldchain-key", "is a bureau's admin key")
        });
    };
    match named {
        None if mine == NATIONAL => Err(bad("province", format!("the national platform names the province whose {what} it reads"))),
        None => Ok(mine.clone()),
        Some(p) if *mine == p || mine == NATIONAL => Ok(p),
        Some(p) => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            ..ApiError::field(
                ErrorCode::Forbidden,
                "province",
                format!(
                    "bureau {mine} reads its own province's {what}, not {p}'s (seed 000 §3.8: 查看本省/市上报数据); every province's figures are at /v1/statistics"
                ),
            )
        }),
    }
}

enum Format {
    Json,
    Csv,
}

fn format(value: Option<&str>) -> Result<Format, ApiError> {
    match value.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        other => Err(bad("format", format!("\"{other}\" is not a format: json or csv"))),
    }
}

fn csv_file(name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

#[utoipa::path(
    get,
    path = "/v1/statistics",
    tags = ["bureaus"],
    summary = "Records, batches, weight and enterprises by province, day, category, origin or port",
    description = "For bureaus (a signed read with a bureau's admin key), every province's figures (joint supervision: they name no enterprise). From `from` to `to` (days in China Standard Time, both included; default: today; at most 366 days), grouped `by` province (default), day, product category, country of origin, port of entry or record type, of one `province` when named: records applied, lots entered (batches, pieces, weight), enterprises enrolled and reporting, certificate and flow reports sent. Product categories, countries and ports count the goods only; record types count records. A record counts on the day its block was made, under its submitter's province. Also the enterprises enrolled now by province and type (摸清底数). `?format=csv` downloads the rows and the total as a file. Read from indexes the chaincode keeps (docs/RECORDS.md, \"Statistics\"), not from the chain.",
    params(StatisticsQuery),
    responses(
        (status = 200, description = "The figures: JSON in the envelope, or a CSV file.", content(
            (super::openapi::StatisticsEnvelope = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn statistics(State(gw): State<Gateway>, Query(q): Query<StatisticsQuery>) -> Result<Response, ApiError> {
    let (from, to) = range(&gw, q.from.as_deref(), q.to.as_deref())?;
    let by_name = q.by.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or("province");
    let by = By::parse(by_name).ok_or_else(|| bad("by", format!("\"{by_name}\" is not a grouping: one of {}", By::NAMES.join(", "))))?;
    let province = province_code(q.province.as_deref())?;
    let format = format(q.format.as_deref())?;
    let answer = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        statistics::statistics(state.ledger(), from, to, by, province.as_deref())
    };
    match format {
        Format::Json => Ok(ok(StatusCode::OK, format!("{} rows by {} from {from} to {to}", answer.rows.len(), answer.by), answer)),
        Format::Csv => {
            let rows = answer.rows.iter().chain([&answer.total]).map(StatisticsRow::cells);
            Ok(csv_file(&format!("statistics-by-{}-{from}-{to}", answer.by), render::table_csv(&StatisticsRow::COLUMNS, rows)))
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/statistics/reports",
    tags = ["bureaus"],
    summary = "The certificate and flow reports a province sent",
    description = "Seed 000 §3.8 (查看本省/市上报数据): the entry certificate reports (`certification.register`, `certificate_report`) and interprovincial flow reports (`statistical.info.register`, `flow_report`) the caller's province sent from `from` to `to` (days in China Standard Time, both included; default: today; at most 366 days): how many of each per day, and each report (at most 1000; `truncated` says more were sent). A provincial bureau reads its own province's (another: 403); the national platform's bureau names the `province`. `?format=csv` downloads the reports.",
    params(ReportsQuery),
    responses(
        (status = 200, description = "The reports: JSON in the envelope, or a CSV file.", content(
            (super::openapi::ProvinceReportsEnvelope = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn reports(State(gw): State<Gateway>, caller: Caller, Query(q): Query<ReportsQuery>) -> Result<Response, ApiError> {
    let (from, to) = range(&gw, q.from.as_deref(), q.to.as_deref())?;
    let province = own_province(&caller, q.province.as_deref(), "reports")?;
    let format = format(q.format.as_deref())?;
    let answer = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        statistics::reports(state.ledger(), &province, from, to, MAX_REPORTS)
    };
    match format {
        Format::Json => {
            let message = format!(
                "{} reports of {province} from {from} to {to}{}",
                answer.reports.len(),
                if answer.truncated { " (more were sent)" } else { "" }
            );
            Ok(ok(StatusCode::OK, message, answer))
        }
        Format::Csv => Ok(csv_file(
            &format!("reports-{province}-{from}-{to}"),
            render::table_csv(&SentReport::COLUMNS, answer.reports.iter().map(SentReport::cells)),
        )),
    }
}

#[utoipa::path(
    get,
    path = "/v1/statistics/unreported",
    tags = ["bureaus"],
    summary = "The enterprises of a province that recorded nothing on a day",
    description = "每日一报: the enterprises enrolled in the province on or before `day` (China Standard Time; default: today by this node's clock) and not suspended that recorded nothing that day (at most 5000), with when they last did, and how many did. A provincial bureau reads its own province's, contacts in full (another province: 403); the national platform's bureau names the `province` and sees contacts masked. `?format=csv` downloads the list.",
    params(UnreportedQuery),
    responses(
        (status = 200, description = "The enterprises: JSON in the envelope, or a CSV file.", content(
            (super::openapi::UnreportedEnvelope = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn unreported(State(gw): State<Gateway>, caller: Caller, Query(q): Query<UnreportedQuery>) -> Result<Response, ApiError> {
    let day = date("day", q.day.as_deref())?.unwrap_or_else(|| today(&gw));
    let province = own_province(&caller, q.province.as_deref(), "reporting enterprises")?;
    let format = format(q.format.as_deref())?;
    let mut answer = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        statistics::unreported(state.ledger(), &province, day, MAX_UNREPORTED)
    };
    // Contacts in full only to the province's own bureau.
    if !matches!(&caller, Caller::Bureau { province: mine } if *mine == province) {
        for e in &mut answer.enterprises {
            e.contact = e.contact.as_deref().map(mask_name);
            e.contact_phone = e.contact_phone.as_deref().map(mask_phone);
        }
    }
    match format {
        Format::Json => {
            let message = format!("{} of {} enterprises of {province} recorded nothing on {day}", answer.enrolled - answer.reported, answer.enrolled);
            Ok(ok(StatusCode::OK, message, answer))
        }
        Format::Csv => Ok(csv_file(
            &format!("unreported-{province}-{day}"),
            render::table_csv(&UnreportedEnterprise::COLUMNS, answer.enterprises.iter().map(UnreportedEnterprise::cells)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provincial_bureau_reads_its_own_province_and_the_national_one_names_one() {
        let bj = Caller::Bureau { province: "110000".into() };
        let national = Caller::Bureau { province: NATIONAL.into() };
        assert_eq!(own_province(&bj, None, "reports").unwrap(), "110000");
        assert_eq!(own_province(&bj, Some("110000"), "reports").unwrap(), "110000");
        let other = own_province(&bj, Some("120000"), "reports").unwrap_err();
        assert_eq!((other.status, other.field.as_deref()), (StatusCode::FORBIDDEN, Some("province")));
        assert_eq!(own_province(&national, Some("120000"), "reports").unwrap(), "120000");
        let unnamed = own_province(&national, None, "reports").unwrap_err();
        assert_eq!((unnamed.status, unnamed.field.as_deref()), (StatusCode::BAD_REQUEST, Some("province")));
        let malformed = own_province(&bj, Some("11"), "reports").unwrap_err();
        assert_eq!((malformed.status, malformed.field.as_deref()), (StatusCode::BAD_REQUEST, Some("province")));
    }

    #[test]
    fn dates_are_iso_days() {
        assert_eq!(date("day", Some("2026-11-24")).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 24));
        assert_eq!(date("day", None).unwrap(), None);
        let e = date("from", Some("24/11/2026")).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (StatusCode::BAD_REQUEST, Some("from")));
        assert!(e.rule.unwrap().contains("YYYY-MM-DD"));
    }
}
