//! `GET /v1/templates/{record_type}`: a blank spreadsheet to fill with one
//! record type's records and import in bulk (`coldchain import-records`,
//! docs/OPERATIONS.md "Bulk import"), public like the dictionaries.
//!
//! Its header row is the type's columns (chaincode `records::columns`):
//! camelCase, or seed 004's tables' spelling with `?spelling=seed`; nested
//! fields by path (`quarantineInfo.quarantineNumber`), a movement's lines by
//! index (`productList[0].weight`; add `productList[1].…` columns for more).
//! The `.xlsx` has one sheet named by the record type (text columns formatted
//! as text, so that certificate numbers keep their digits; dates as
//! `yyyy-mm-dd`), a note on each header cell, and a sheet `fields` listing
//! every column in both spellings with whether it is required.

use super::envelope::{ApiError, ErrorCode};
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use coldchain_chaincode::records::columns::{self, Column, IMPORTED_TYPES, Kind};
use rust_xlsxwriter::{Format, FormatAlign, Note, Workbook, XlsxError};
use serde::Deserialize;
use utoipa::IntoParams;

/// The sheet of a template's `.xlsx` that lists its columns; the importer skips it.
pub const FIELDS_SHEET: &str = "fields";

/// How the header row spells the columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `quarantineInfo.quarantineNumber` (seed 004 annex B).
    Camel,
    /// `Quarantine_info.Quarantine_number` (seed 004's tables).
    Seed,
}

impl Spelling {
    fn of(c: &Column, spelling: Spelling) -> String {
        match spelling {
            Spelling::Camel => c.path.to_string(),
            Spelling::Seed => columns::seed_spelling(c.path),
        }
    }
}

fn kind_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "text",
        Kind::Number => "number (a weight in kg, up to 3 decimals)",
        Kind::Date => "date YYYY-MM-DD",
        Kind::Bool => "true or false",
        Kind::Image => "image: sha256:<64 hex>, or Base64",
        Kind::Json => "JSON",
    }
}

/// The columns of `record_type`, or the 404 that lists the types that have a template.
fn columns_of(record_type: &str) -> Result<&'static [Column], ApiError> {
    columns::columns(record_type).ok_or_else(|| {
        ApiError::not_found(format!(
            "no template for \"{record_type}\"; templates exist for: {} (other records are submitted as JSON)",
            IMPORTED_TYPES.join(", ")
        ))
    })
}

/// The CSV template: UTF-8 with a byte-order mark (for Excel), the header row only.
pub fn csv(cols: &[Column], spelling: Spelling) -> String {
    let mut out = String::from('\u{feff}');
    let names: Vec<String> = cols.iter().map(|c| Spelling::of(c, spelling)).collect();
    out.push_str(&names.join(","));
    out.push_str("\r\n");
    out
}

/// The `.xlsx` template of `record_type`.
pub fn xlsx(record_type: &str, cols: &[Column], spelling: Spelling) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let head = Format::new().set_bold().set_align(FormatAlign::Center).set_background_color("#DDEBF7");
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    sheet.set_name(record_type)?;
    for (i, c) in cols.iter().enumerate() {
        let col = u16::try_from(i).map_err(|_| XlsxError::ParameterError("too many columns".into()))?;
        let name = Spelling::of(c, spelling);
        sheet.write_string_with_format(0, col, &name, &head)?;
        let other = match spelling {
            Spelling::Camel => columns::seed_spelling(c.path),
            Spelling::Seed => c.path.to_string(),
        };
        let note = format!("{}{}\nalso spelled {other}", if c.required { "required; " } else { "" }, kind_text(c.kind));
        sheet.insert_note(0, col, &Note::new(note).set_author("coldchain"))?;
        sheet.set_column_width(col, (name.chars().count() as f64 + 2.0).clamp(12.0, 40.0))?;
        match c.kind {
            Kind::Date => sheet.set_column_format(col, &date)?,
            Kind::Number | Kind::Bool => sheet,
            _ => sheet.set_column_format(col, &text)?,
        };
    }
    sheet.set_freeze_panes(1, 0)?;

    let fields = book.add_worksheet();
    fields.set_name(FIELDS_SHEET)?;
    for (col, title) in ["column", "seed 004 spelling", "required", "cell"].into_iter().enumerate() {
        fields.write_string_with_format(0, col as u16, title, &head)?;
    }
    for (i, c) in cols.iter().enumerate() {
        let row = i as u32 + 1;
        fields.write_string(row, 0, c.path)?;
        fields.write_string(row, 1, columns::seed_spelling(c.path))?;
        fields.write_string(row, 2, if c.required { "yes" } else { "no" })?;
        fields.write_string(row, 3, kind_text(c.kind))?;
    }
    fields.set_column_width(0, 36)?;
    fields.set_column_width(1, 40)?;
    fields.set_column_width(3, 36)?;
    book.save_to_buffer()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// `csv` (the default: the header row, UTF-8 with a byte-order mark) or `xlsx`.
    format: Option<String>,
    /// `camel` (the default: `quarantineInfo.quarantineNumber`) or `seed` (`Quarantine_info.Quarantine_number`).
    spelling: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/templates/{record_type}",
    tags = ["enterprises"],
    summary = "A bulk-import template of one record type",
    description = "A blank spreadsheet for `coldchain import-records` (docs/OPERATIONS.md, \"Bulk import\"): the header row names every field of the record type by its path (`quarantineInfo.quarantineNumber`, `productList[0].weight`), in camelCase or, with `?spelling=seed`, seed 004's tables' spelling; the parser takes either. `?format=xlsx` gives a workbook with one sheet named by the record type and a sheet `fields` listing each column in both spellings and whether it is required.",
    params(("record_type" = String, Path, description = "The record type, e.g. `product_batch`, `shipment`, `stock_in`."), TemplateQuery),
    responses(
        (status = 200, description = "The template, as a file.", content(
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn template(Path(record_type): Path<String>, Query(q): Query<TemplateQuery>) -> Result<Response, ApiError> {
    let cols = columns_of(&record_type)?;
    let spelling = match q.spelling.as_deref().unwrap_or("camel") {
        "camel" => Spelling::Camel,
        "seed" => Spelling::Seed,
        other => return Err(ApiError::field(ErrorCode::BadQuery, "spelling", format!("\"{other}\" is not a spelling: camel or seed"))),
    };
    // `record_type` is one of IMPORTED_TYPES here: plain ASCII for the file name.
    match q.format.as_deref().unwrap_or("csv") {
        "csv" => {
            let file = format!("attachment; filename=\"{record_type}.csv\"");
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file)], csv(cols, spelling))
                .into_response())
        }
        "xlsx" => {
            let bytes = xlsx(&record_type, cols, spelling).map_err(ApiError::internal)?;
            let file = format!("attachment; filename=\"{record_type}.xlsx\"");
            let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string();
            Ok(([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, file)], bytes).into_response())
        }
        other => Err(ApiError::field(ErrorCode::BadQuery, "format", format!("\"{other}\" is not a format: csv or xlsx"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_imported_type_has_a_csv_and_an_xlsx_template() {
        for kind in IMPORTED_TYPES {
            let cols = columns_of(kind).unwrap();
            let text = csv(cols, Spelling::Camel);
            assert!(text.starts_with('\u{feff}'));
            assert_eq!(text.trim_start_matches('\u{feff}').trim_end().split(',').count(), cols.len(), "{kind}");
            let book = xlsx(kind, cols, Spelling::Seed).unwrap();
            assert_eq!(&book[..2], b"PK", "{kind}: an xlsx is a zip");
        }
        let pb = csv(columns_of("product_batch").unwrap(), Spelling::Seed);
        assert!(pb.contains("Quarantine_info.Quarantine_number"), "{pb}");
        assert_eq!(columns_of("alert").unwrap_err().status, axum::http::StatusCode::NOT_FOUND);
    }
}
