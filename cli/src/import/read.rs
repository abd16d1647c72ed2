//! An import file as rows of records: JSON Lines (one record object per
//! line, as `POST /v1/records` takes it), CSV (a header row of field paths,
//! one record per row, one record type per file) or `.xlsx` (one sheet per
//! record type, named by it; the header row as in CSV).
//!
//! A header names a field by its path, each segment in either spelling the
//! chaincode's parser takes: `quarantineInfo.quarantineNumber`,
//! `Quarantine_info.Quarantine_number`, `productList[0].weight`. An empty
//! cell is an absent field, and a nested object or list item none of whose
//! cells is filled is absent too. A cell becomes a JSON value by its
//! column's kind (chaincode `records::columns`): text stays text (a
//! certificate number keeps its leading zeros), a spreadsheet's date cell is
//! written `YYYY-MM-DD`. A cell that cannot be read refuses its row, naming
//! the sheet, the row, the column and the rule; the file's other rows go on.

use anyhow::{Context, Result, anyhow, bail};
use coldchain_chaincode::records::RECORD_TYPES;
use coldchain_chaincode::records::columns::{self, Kind};
use serde_json::{Map, Value};
use std::path::Path;

/// The sheet of a template's `.xlsx` that lists its columns: not records.
pub use coldchain_node::gateway::templates::FIELDS_SHEET;

/// What the rows of one sheet (or of a CSV or JSON Lines file) came from.
#[derive(Debug)]
pub struct Sheet {
    /// The `.xlsx` sheet's name; empty for CSV and JSON Lines.
    pub name: String,
    pub headers: Vec<Header>,
}

/// One column of a sheet: its header as written, where it is, and the field path it names.
#[derive(Debug)]
pub struct Header {
    pub text: String,
    /// `C` in a workbook, `3` in a CSV file.
    pub at: String,
    path: Vec<Segment>,
}

impl Header {
    /// How a report names the column: `traceCode (C)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.text, self.at)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Item(usize),
}

/// One row of the file: its sheet (index into [`Input::sheets`]), its
/// number as the file shows it (1-based, the header row counted), its
/// record type and its record, or the reason it has none.
#[derive(Debug)]
pub struct Row {
    pub sheet: usize,
    pub number: u64,
    pub record: std::result::Result<Value, Refusal>,
}

/// Why a row is refused: the column (if one is at fault), the field path
/// and the rule, as the chain names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub column: String,
    pub field: String,
    pub rule: String,
}

#[derive(Debug)]
pub struct Input {
    pub sheets: Vec<Sheet>,
    pub rows: Vec<Row>,
}

impl Input {
    /// The column whose header names `field` (`record.quarantineInfo.quarantineNumber`) in `sheet`.
    pub fn column_of(&self, sheet: usize, field: &str) -> String {
        let Some(path) = field.strip_prefix("record.") else { return String::new() };
        let key = columns::normalize_path(path);
        self.sheets[sheet].headers.iter().find(|h| columns::normalize_path(&h.text) == key).map(Header::label).unwrap_or_default()
    }
}

/// A cell as a spreadsheet or CSV file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A date cell (its time of day, if any, dropped).
    Date(chrono::NaiveDate),
    /// A spreadsheet error value (`#N/A`).
    Error(String),
}

/// Reads `path` by its extension: `.jsonl`/`.ndjson`, `.csv`, `.xlsx`.
/// `record_type` (`--type`) names the type of a CSV file's or a JSON Lines
/// file's records that do not say it themselves.
pub fn read(path: &Path, bytes: &[u8], record_type: Option<&str>) -> Result<Input> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => jsonl(bytes, record_type),
        "csv" => {
            let kind = match record_type {
                Some(t) => Some(t.to_string()),
                None => type_from_file_name(path),
            };
            csv(bytes, kind.as_deref())
        }
        "xlsx" | "xlsm" => xlsx(bytes),
        other => bail!("{}: .{other} is not a format to import: .jsonl (JSON Lines), .csv or .xlsx", path.display()),
    }
}

/// `product_batch-2026-11.csv` → `product_batch` (the longest record type the
/// file name starts with, followed by nothing or a non-letter).
fn type_from_file_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    RECORD_TYPES
        .iter()
        .filter(|t| stem.strip_prefix(**t).is_some_and(|rest| rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')))
        .max_by_key(|t| t.len())
        .map(|t| t.to_string())
}

fn check_type(kind: &str) -> Result<()> {
    if !RECORD_TYPES.contains(&kind) {
        bail!("\"{kind}\" is not a record type; the record types are: {}", RECORD_TYPES.join(", "));
    }
    Ok(())
}

pub fn jsonl(bytes: &[u8], record_type: Option<&str>) -> Result<Input> {
    if let Some(t) = record_type {
        check_type(t)?;
    }
    let text = std::str::from_utf8(bytes).context("a JSON Lines file is UTF-8")?;
    let mut rows = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let refuse = |rule: String| Refusal { column: String::new(), field: "record".into(), rule };
        let record = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut o)) => match (o.get("type"), record_type) {
                (None, Some(t)) => {
                    o.insert("type".into(), Value::String(t.into()));
                    Ok(Value::Object(o))
                }
                (Some(Value::String(t)), Some(given)) if t != given => Err(refuse(format!("is a {t} record; --type says {given}"))),
                _ => Ok(Value::Object(o)),
            },
            Ok(_) => Err(refuse("must be a JSON object with a \"type\" (one record per line)".into())),
            Err(e) => Err(refuse(format!("is not JSON: {e}"))),
        };
        rows.push(Row { sheet: 0, number: i as u64 + 1, record });
    }
    Ok(Input { sheets: vec![Sheet { name: String::new(), headers: Vec::new() }], rows })
}

pub fn csv(bytes: &[u8], record_type: Option<&str>) -> Result<Input> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = reader.records();
    let head = records.next().ok_or_else(|| anyhow!("the CSV file is empty: it needs a header row of field names"))??;
    let cells: Vec<String> = head.iter().map(str::to_string).collect();
    let headers = headers(&cells, |i| (i + 1).to_string())?;
    let type_column = headers.iter().position(|h| h.text.trim().eq_ignore_ascii_case("type"));
    if let Some(t) = record_type {
        check_type(t)?;
    } else if type_column.is_none() {
        bail!("the CSV file does not say its record type: give --type, a `type` column, or name the file after the type (product_batch.csv)");
    }
    let sheet = Sheet { name: String::new(), headers };
    let mut rows = Vec::new();
    for (i, rec) in records.enumerate() {
        let number = i as u64 + 2;
        let rec = rec.with_context(|| format!("CSV row {number}"))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells: Vec<Cell> = rec.iter().map(|c| if c.trim().is_empty() { Cell::Empty } else { Cell::Text(c.to_string()) }).collect();
        let kind = match (type_column.and_then(|c| rec.get(c)).map(str::trim).filter(|t| !t.is_empty()), record_type) {
            (Some(t), Some(given)) if t != given => {
                let column = sheet.headers[type_column.unwrap_or(0)].label();
                rows.push(Row {
                    sheet: 0,
                    number,
                    record: Err(Refusal { column, field: "record.type".into(), rule: format!("is {t}; --type says {given}") }),
                });
                continue;
            }
            (Some(t), _) => t.to_string(),
            (None, Some(given)) => given.to_string(),
            (None, None) => {
                let column = sheet.headers[type_column.unwrap_or(0)].label();
                rows.push(Row { sheet: 0, number, record: Err(Refusal { column, field: "record.type".into(), rule: "is required".into() }) });
                continue;
            }
        };
        rows.push(Row { sheet: 0, number, record: record(&kind, &sheet.headers, type_column, &cells) });
    }
    Ok(Input { sheets: vec![sheet], rows })
}

pub fn xlsx(bytes: &[u8]) -> Result<Input> {
    use calamine::{Data, Reader};
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).context("reading the .xlsx workbook")?;
    let mut input = Input { sheets: Vec::new(), rows: Vec::new() };
    let names = book.sheet_names();
    for name in names {
        if name == FIELDS_SHEET {
            continue; // a template's list of its columns
        }
        if !RECORD_TYPES.contains(&name.as_str()) {
            bail!(
                "sheet \"{name}\" is not named by a record type: name each sheet by the type of its records ({}), or remove it",
                columns::IMPORTED_TYPES.join(", ")
            );
        }
        let range = book.worksheet_range(&name).with_context(|| format!("reading sheet {name}"))?;
        let Some((first_row, first_col)) = range.start() else { continue };
        let mut rows = range.rows();
        let Some(head) = rows.next() else { continue };
        let texts: Vec<String> = head.iter().map(|c| if let Data::String(s) = c { s.clone() } else { c.to_string() }).collect();
        let headers = headers(&texts, |i| column_letter(first_col as usize + i)).with_context(|| format!("sheet {name}"))?;
        let type_column = headers.iter().position(|h| h.text.trim().eq_ignore_ascii_case("type"));
        let sheet = input.sheets.len();
        for (i, cells) in rows.enumerate() {
            let number = u64::from(first_row) + i as u64 + 2;
            let cells: Vec<Cell> = cells.iter().map(cell).collect();
            if cells.iter().all(|c| *c == Cell::Empty) {
                continue;
            }
            let record = match type_column.map(|c| cells.get(c).cloned().unwrap_or(Cell::Empty)) {
                Some(Cell::Text(t)) if t.trim() != name => Err(Refusal {
                    column: headers[type_column.unwrap_or(0)].label(),
                    field: "record.type".into(),
                    rule: format!("is {t}; the sheet is {name}"),
                }),
                _ => record(&name, &headers, type_column, &cells),
            };
            input.rows.push(Row { sheet, number, record });
        }
        input.sheets.push(Sheet { name, headers });
    }
    if input.sheets.is_empty() {
        bail!("the workbook has no sheet named by a record type ({})", columns::IMPORTED_TYPES.join(", "));
    }
    Ok(input)
}

fn cell(c: &calamine::Data) -> Cell {
    use calamine::Data;
    match c {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Int(n) => Cell::Number(*n as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(d) => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            match chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day)) {
                Some(date) if d.is_datetime() => Cell::Date(date),
                _ => Cell::Number(d.as_f64()),
            }
        }
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
pub fn column_letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The header row: each non-empty cell a field path (or `type`); no field named twice.
fn headers(cells: &[String], at: impl Fn(usize) -> String) -> Result<Vec<Header>> {
    let mut out: Vec<Header> = Vec::new();
    for (i, text) in cells.iter().enumerate() {
        let text = text.trim().to_string();
        let path = if text.is_empty() || text.eq_ignore_ascii_case("type") {
            Vec::new()
        } else {
            parse_path(&text).map_err(|rule| anyhow!("column {} header \"{text}\": {rule}", at(i)))?
        };
        if !text.is_empty()
            && let Some(other) = out.iter().find(|h| columns::normalize_path(&h.text) == columns::normalize_path(&text))
        {
            bail!("columns {} and {} both name the field {text}", other.at, at(i));
        }
        out.push(Header { text, at: at(i), path });
    }
    Ok(out)
}

/// `quarantineInfo.quarantineNumber`, `productList[0].weight`.
fn parse_path(text: &str) -> std::result::Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return Err(
                "is not a field path (names joined by dots, a list item as [0]: quarantineInfo.quarantineNumber, productList[0].weight)".into()
            );
        }
        out.push(Segment::Field(name.to_string()));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']').ok_or("has a [ without its ]")?;
            out.push(Segment::Item(index.parse().map_err(|_| format!("[{index}] is not a list index (0, 1, 2 …)"))?));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return Err("has text after a ]".into());
            }
        }
    }
    Ok(out)
}

/// A row's record of type `kind`: every non-empty cell put at its column's path.
fn record(kind: &str, headers: &[Header], type_column: Option<usize>, cells: &[Cell]) -> std::result::Result<Value, Refusal> {
    let mut root = Value::Object(Map::new());
    for (i, h) in headers.iter().enumerate() {
        if Some(i) == type_column || h.path.is_empty() {
            continue;
        }
        let c = cells.get(i).cloned().unwrap_or(Cell::Empty);
        let field = format!("record.{}", h.text);
        let kind_of = columns::find(kind, &h.text).map(|c| c.kind);
        match value(c, kind_of) {
            Ok(None) => {}
            Ok(Some(v)) => put(&mut root, &h.path, v),
            Err(rule) => return Err(Refusal { column: h.label(), field, rule }),
        }
    }
    compact(&mut root);
    if let Value::Object(o) = &mut root {
        o.insert("type".into(), Value::String(kind.to_string()));
    }
    Ok(root)
}

fn put(at: &mut Value, path: &[Segment], v: Value) {
    let Some((first, rest)) = path.split_first() else {
        *at = v;
        return;
    };
    let next = match first {
        Segment::Field(name) => {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            let Value::Object(o) = at else { return };
            // One member per field, however each column spells it
            // (`quarantineInfo.batch` and `Quarantine_info.Date_ofentry`).
            let key = o.keys().find(|k| columns::normalize_path(k) == columns::normalize_path(name)).cloned().unwrap_or_else(|| name.clone());
            o.entry(key).or_insert(Value::Null)
        }
        Segment::Item(i) => {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let Value::Array(items) = at else { return };
            if items.len() <= *i {
                items.resize(*i + 1, Value::Null);
            }
            &mut items[*i]
        }
    };
    put(next, rest, v);
}

/// Drops the list items no cell filled (`productList[1]` left empty between filled ones).
fn compact(v: &mut Value) {
    match v {
        Value::Array(items) => {
            items.retain(|i| !i.is_null());
            items.iter_mut().for_each(compact);
        }
        Value::Object(o) => o.values_mut().for_each(compact),
        _ => {}
    }
}

/// The largest whole number a spreadsheet's number (an IEEE double) holds exactly.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// A cell as the JSON value of a column of `kind` (`None`: not a listed
/// column; the chain then names what it makes of it).
pub fn value(c: Cell, kind: Option<Kind>) -> std::result::Result<Option<Value>, String> {
    let number_text = |f: f64| -> std::result::Result<String, String> {
        if f.fract() == 0.0 && f.abs() < EXACT {
            Ok(format!("{}", f as i64))
        } else if f.fract() == 0.0 {
            Err(format!("is the number {f:e}: a spreadsheet keeps only 15 digits of a number; format the column as text and type it again"))
        } else {
            Ok(f.to_string())
        }
    };
    Ok(Some(match (c, kind) {
        (Cell::Empty, _) => return Ok(None),
        (Cell::Error(e), _) => return Err(format!("holds the spreadsheet error {e}")),
        (Cell::Text(s), _) if s.trim().is_empty() => return Ok(None),
        (Cell::Text(s), Some(Kind::Json)) => serde_json::from_str(&s).map_err(|e| format!("is not JSON: {e}"))?,
        (Cell::Text(s), Some(Kind::Bool)) => match s.trim().to_lowercase().as_str() {
            "true" | "1" | "yes" | "是" => Value::Bool(true),
            "false" | "0" | "no" | "否" => Value::Bool(false),
            other => return Err(format!("\"{other}\" is not true or false")),
        },
        (Cell::Text(s), _) => Value::String(s),
        (Cell::Number(f), Some(Kind::Number)) => {
            if f.fract() == 0.0 && f.abs() < EXACT {
                Value::from(f as i64)
            } else {
                Value::String(number_text(f)?)
            }
        }
        (Cell::Number(f), Some(Kind::Bool)) if f == 0.0 || f == 1.0 => Value::Bool(f == 1.0),
        (Cell::Number(_), Some(Kind::Date)) => {
            return Err("is a number; this column takes a date YYYY-MM-DD (format the cells as dates or as text)".into());
        }
        (Cell::Number(f), _) => Value::String(number_text(f)?),
        (Cell::Bool(b), Some(Kind::Bool | Kind::Json)) => Value::Bool(b),
        (Cell::Bool(b), _) => Value::String(b.to_string()),
        (Cell::Date(d), Some(Kind::Number)) => return Err(format!("is the date {d}; this column takes a number")),
        (Cell::Date(d), _) => Value::String(d.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lines_one_record_per_line_and_a_bad_line_refuses_only_itself() {
        let text = "{\"type\":\"notarise\",\"document\":{\"n\":1}}\n\n{\"document\":{\"n\":2}}\nnot json\n[1]\n";
        let input = jsonl(text.as_bytes(), Some("notarise")).unwrap();
        let numbers: Vec<u64> = input.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 3, 4, 5]);
        assert_eq!(input.rows[0].record.as_ref().unwrap(), &json!({"type": "notarise", "document": {"n": 1}}));
        assert_eq!(input.rows[1].record.as_ref().unwrap()["type"], "notarise", "--type fills in a missing type");
        assert!(input.rows[2].record.as_ref().unwrap_err().rule.starts_with("is not JSON"));
        assert!(input.rows[3].record.as_ref().unwrap_err().rule.contains("JSON object"));
        let other = jsonl(b"{\"type\":\"product\"}", Some("notarise")).unwrap();
        assert!(other.rows[0].record.as_ref().unwrap_err().rule.contains("--type says notarise"));
    }

    #[test]
    fn csv_headers_in_either_spelling_build_nested_records_and_a_bad_cell_names_its_column() {
        let text = "\u{feff}productLibraryId,Quarantine_info.Quarantine_number,quarantineInfo.dateOfEntry,numberOfPieces,productList[0].weight,productList[1].weight,nucleicInfo.naResult\n\
                    06901234001238,020220261102000458001,2026-11-02,900,7515.5,,\n\
                    ,,,,,,\n\
                    X,1,2026-11-02,12,1,2,阴性\n";
        let input = csv(text.as_bytes(), Some("product_batch")).unwrap();
        assert_eq!(input.rows.len(), 2, "the empty row is skipped");
        let r = input.rows[0].record.as_ref().unwrap();
        assert_eq!(input.rows[0].number, 2);
        assert_eq!(r["type"], "product_batch");
        assert_eq!(r["Quarantine_info"]["Quarantine_number"], "020220261102000458001", "text keeps its leading zero");
        assert_eq!(r["Quarantine_info"]["dateOfEntry"], "2026-11-02", "one object however its columns spell it");
        assert_eq!(r["numberOfPieces"], "900");
        assert_eq!(r["productList"], json!([{"weight": "7515.5"}]), "an item with no filled cell is absent");
        assert!(r.get("nucleicInfo").is_none(), "an object with no filled cell is absent");
        assert_eq!(input.rows[1].record.as_ref().unwrap()["productList"], json!([{"weight": "1"}, {"weight": "2"}]));
        assert_eq!(input.column_of(0, "record.quarantineInfo.quarantineNumber"), "Quarantine_info.Quarantine_number (2)");

        let no_type = csv(b"productName\nx\n", None).unwrap_err().to_string();
        assert!(no_type.contains("--type"), "{no_type}");
        let typed = csv(b"type,document\nnotarise,\"{\"\"n\"\": 1}\"\nnotarise,{oops\n", None).unwrap();
        assert_eq!(typed.rows[0].record.as_ref().unwrap(), &json!({"type": "notarise", "document": {"n": 1}}));
        let bad = typed.rows[1].record.as_ref().unwrap_err();
        assert_eq!((bad.column.as_str(), bad.field.as_str()), ("document (2)", "record.document"));
        assert!(bad.rule.starts_with("is not JSON"), "{bad:?}");
        assert!(csv(b"a,A\n1,2\n", Some("notarise")).unwrap_err().to_string().contains("both name"));
        assert!(csv(b"productList[x].weight\n1\n", Some("shipment")).unwrap_err().to_string().contains("list index"));
        assert_eq!(type_from_file_name(Path::new("/tmp/product_batch-2026-11.csv")).as_deref(), Some("product_batch"));
        assert_eq!(type_from_file_name(Path::new("product.csv")).as_deref(), Some("product"));
        assert_eq!(type_from_file_name(Path::new("products.csv")), None);
    }

    #[test]
    fn xlsx_sheets_by_record_type_with_dates_numbers_and_text_and_a_bad_cell_names_sheet_row_and_column() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("product_batch").unwrap();
        for (i, h) in ["traceCode", "Number_of_pieces", "weight", "productionDate", "quarantineInfo.quarantineNumber"].iter().enumerate() {
            sheet.write_string(0, i as u16, *h).unwrap();
        }
        let date = Format::new().set_num_format("yyyy-mm-dd");
        sheet.write_number(1, 0, 106901234001238.0).unwrap();
        sheet.write_number(1, 1, 900).unwrap();
        sheet.write_number(1, 2, 13500.25).unwrap();
        sheet.write_datetime_with_format(1, 3, &ExcelDateTime::from_ymd(2026, 8, 8).unwrap(), &date).unwrap();
        sheet.write_string(1, 4, "020220261102000458001").unwrap();
        sheet.write_string(2, 0, "C2").unwrap();
        sheet.write_number(2, 3, 46000).unwrap();
        sheet.write_number(2, 4, 20220261102000458001.0).unwrap();
        let notes = book.add_worksheet();
        notes.set_name(FIELDS_SHEET).unwrap();
        notes.write_string(0, 0, "column").unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let input = xlsx(&bytes).unwrap();
        assert_eq!(input.sheets.len(), 1, "the template's fields sheet is not records");
        assert_eq!(input.sheets[0].name, "product_batch");
        let r = input.rows[0].record.as_ref().unwrap();
        assert_eq!(
            r,
            &json!({"type": "product_batch", "traceCode": "106901234001238", "Number_of_pieces": 900, "weight": "13500.25",
                    "productionDate": "2026-08-08", "quarantineInfo": {"quarantineNumber": "020220261102000458001"}})
        );
        let bad = input.rows[1].record.as_ref().unwrap_err();
        assert_eq!(input.rows[1].number, 3);
        assert_eq!((bad.column.as_str(), bad.field.as_str()), ("productionDate (D)", "record.productionDate"));
        assert!(bad.rule.contains("takes a date"), "{bad:?}");

        let mut other = Workbook::new();
        other.add_worksheet().set_name("Sheet1").unwrap();
        let err = xlsx(&other.save_to_buffer().unwrap()).unwrap_err().to_string();
        assert!(err.contains("\"Sheet1\" is not named by a record type"), "{err}");
    }

    #[test]
    fn every_template_reads_back_as_its_columns_and_no_rows() {
        use coldchain_node::gateway::templates::{self, Spelling};
        for kind in columns::IMPORTED_TYPES {
            let cols = columns::columns(kind).unwrap();
            let book = xlsx(&templates::xlsx(kind, cols, Spelling::Seed).unwrap()).unwrap();
            assert_eq!((book.sheets.len(), book.rows.len()), (1, 0), "{kind}");
            assert_eq!(book.sheets[0].name, *kind);
            assert!(book.sheets[0].headers.iter().all(|h| columns::find(kind, &h.text).is_some()), "{kind}: every header is a column");
            let file = csv(templates::csv(cols, Spelling::Camel).as_bytes(), Some(kind)).unwrap();
            assert_eq!((file.sheets[0].headers.len(), file.rows.len()), (cols.len(), 0), "{kind}");
        }
    }

    #[test]
    fn a_long_number_in_a_text_column_is_refused_rather_than_rounded() {
        let rule = value(Cell::Number(20220261102000458001.0), Some(Kind::Text)).unwrap_err();
        assert!(rule.contains("15 digits"), "{rule}");
        assert_eq!(value(Cell::Number(900.0), Some(Kind::Text)).unwrap(), Some(json!("900")));
        assert_eq!(value(Cell::Text("是".into()), Some(Kind::Bool)).unwrap(), Some(json!(true)));
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(27), "AB");
    }
}
