//! The import report: one CSV line per row of the input, saying what became
//! of it. Lines are appended as each batch's outcome is known (so an
//! interrupted import leaves what it had learnt), and the file is rewritten
//! in row order at the end. A re-run reads it back: a row whose line says it
//! is on chain, for the same record, is not submitted again.
//!
//! ```text
//! sheet,row,type,status,tx_id,height,column,field,rule,record_sha256
//! product_batch,2,product_batch,finalized,9f2c…,41,,,,5be1…
//! product_batch,7,product_batch,refused,,,quarantineNumber (F),record.quarantineInfo.quarantineNumber,"is 15, 18 or 21 digits",0c4d…
//! ```
//!
//! `status`: `finalized` (applied on chain), `rejected` (on chain, refused
//! by the chaincode when finalized: its receipt names field and rule),
//! `refused` (never reached the chain: a cell, the record's rules or the
//! gateway refused it; nothing of it is stored), `pending` (accepted, not
//! yet final when the import ended), `unknown` (sent, answer not known; a
//! re-run finds out without submitting it twice).

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const HEADER: [&str; 10] = ["sheet", "row", "type", "status", "tx_id", "height", "column", "field", "rule", "record_sha256"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Finalized,
    Rejected,
    Refused,
    Pending,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finalized => "finalized",
            Status::Rejected => "rejected",
            Status::Refused => "refused",
            Status::Pending => "pending",
            Status::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "finalized" => Status::Finalized,
            "rejected" => Status::Rejected,
            "refused" => Status::Refused,
            "pending" => Status::Pending,
            "unknown" => Status::Unknown,
            _ => return None,
        })
    }

    /// On chain, with an outcome that a re-run would only read again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Finalized | Status::Rejected)
    }
}

/// One row's line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub sheet: String,
    pub row: u64,
    pub record_type: String,
    pub status: Status,
    pub tx_id: String,
    pub height: Option<u64>,
    pub column: String,
    pub field: String,
    pub rule: String,
    pub record_sha256: String,
}

impl Line {
    fn fields(&self) -> [String; 10] {
        [
            self.sheet.clone(),
            self.row.to_string(),
            self.record_type.clone(),
            self.status.as_str().to_string(),
            self.tx_id.clone(),
            self.height.map(|h| h.to_string()).unwrap_or_default(),
            self.column.clone(),
            self.field.clone(),
            self.rule.clone(),
            self.record_sha256.clone(),
        ]
    }
}

/// Where the report of `input` goes unless `--report` says: beside it, `NAME.report.csv`.
pub fn default_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.report.csv"))
}

/// The report's lines by (sheet, row), the last line of each row winning;
/// lines that do not parse (one cut short by a kill) are skipped.
pub fn load(path: &Path) -> Result<BTreeMap<(String, u64), Line>> {
    let mut out = BTreeMap::new();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading the report {}", path.display())),
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes.as_slice());
    for rec in reader.records().flatten() {
        if rec.len() != HEADER.len() {
            continue;
        }
        let (Ok(row), Some(status)) = (rec[1].parse(), Status::parse(&rec[3])) else { continue };
        let line = Line {
            sheet: rec[0].to_string(),
            row,
            record_type: rec[2].to_string(),
            status,
            tx_id: rec[4].to_string(),
            height: rec[5].parse().ok(),
            column: rec[6].to_string(),
            field: rec[7].to_string(),
            rule: rec[8].to_string(),
            record_sha256: rec[9].to_string(),
        };
        out.insert((line.sheet.clone(), line.row), line);
    }
    Ok(out)
}

/// Appends lines as outcomes come in, each batch flushed to disk.
pub struct Appender {
    writer: csv::Writer<std::fs::File>,
}

impl Appender {
    pub fn open(path: &Path) -> Result<Appender> {
        let file =
            std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening the report {}", path.display()))?;
        let empty = file.metadata()?.len() == 0;
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(file);
        if empty {
            writer.write_record(HEADER)?;
        }
        Ok(Appender { writer })
    }

    pub fn append(&mut self, lines: &[Line]) -> Result<()> {
        for l in lines {
            self.writer.write_record(l.fields())?;
        }
        self.writer.flush()?;
        self.writer.get_ref().sync_data()?;
        Ok(())
    }
}

/// Writes the whole report, one line per row in the given order (through a
/// temporary file renamed over it, so a kill leaves the old or the new one).
pub fn rewrite(path: &Path, lines: &[Line]) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut w = csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        w.write_record(HEADER)?;
        for l in lines {
            w.write_record(l.fields())?;
        }
        w.flush()?;
        w.get_ref().sync_data()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing the report {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(row: u64, status: Status) -> Line {
        Line {
            sheet: "product_batch".into(),
            row,
            record_type: "product_batch".into(),
            status,
            tx_id: format!("{row:064x}"),
            height: Some(3),
            column: "traceCode (C)".into(),
            field: "record.traceCode".into(),
            rule: "is longer than 128 characters, \"quoted\"".into(),
            record_sha256: "ab".into(),
        }
    }

    #[test]
    fn appended_lines_load_back_the_last_one_per_row_winning_and_a_cut_line_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut a = Appender::open(&path).unwrap();
        a.append(&[line(2, Status::Pending), line(3, Status::Refused)]).unwrap();
        drop(a);
        let mut a = Appender::open(&path).unwrap();
        a.append(&[line(2, Status::Finalized)]).unwrap();
        drop(a);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"product_batch,4,product_b").unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[&("product_batch".to_string(), 2)], line(2, Status::Finalized));
        assert_eq!(loaded[&("product_batch".to_string(), 3)].rule, "is longer than 128 characters, \"quoted\"");
        rewrite(&path, &[line(3, Status::Refused)]).unwrap();
        assert_eq!(load(&path).unwrap().len(), 1);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("sheet,row,type,status,tx_id"));
        assert_eq!(default_path(Path::new("/x/book.xlsx")), Path::new("/x/book.report.csv"));
    }
}
