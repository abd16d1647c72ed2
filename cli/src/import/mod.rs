//! `coldchain import-records FILE`: an enterprise's records in bulk, from
//! JSON Lines, CSV or `.xlsx` ([`read`]), signed with its key or sent with
//! its app id, submitted in batches through a gateway, with a per-row report
//! ([`report`]). docs/OPERATIONS.md "Bulk import" is the user's manual.
//!
//! **Re-running never submits a row twice.** With a key, each row's
//! transaction is deterministic: its nonce derives from the SHA-256 of the
//! row's record (its canonical signed form) and which occurrence of that
//! record in the file it is, so the same row always signs to the same
//! transaction id, wherever it stands in the file and whatever else was
//! edited. The node keeps a transaction once: a resubmitted one is answered
//! `finalized` (or `pending`) under the same id, never stored again (node
//! `runtime/driver/intake.rs`); the chain checks no transaction nonce for
//! replay, only ids. With an app id the node signs (seed 004), deriving
//! record `i`'s nonce from the request's nonce and `i` (gateway `apps.rs`):
//! the importer sends the rows of a sheet in fixed windows of `--batch-size`
//! rows under a nonce derived from the window's records, so a window sent
//! again is the same transactions. The gateway refuses a request nonce seen
//! in the last 10 minutes (its replay window): such a window's rows are
//! reported `unknown` (sent, outcome unknown, never stored twice) and a
//! re-run after the window resolves them. Rows the report already shows on
//! chain, for the same record, are not sent again.

pub mod read;
pub mod report;

use crate::client::Gateway;
use anyhow::{Context, Result, anyhow, bail};
use coldchain_chaincode::records::Record;
use coldchain_chaincode::transaction::MAX_NONCE;
use coldchain_chaincode::{Hash, Transaction};
use read::{Input, Refusal};
use report::{Line, Status};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who the records are submitted as.
pub enum Auth {
    /// Signed by the enterprise's key (`coldchain keygen`'s file).
    Key(ed25519_dalek::SigningKey),
    /// Sent with seed 004's signed-request headers; the issuing bureau's node signs.
    App { appid: String, secret: String },
}

pub struct Options {
    pub file: PathBuf,
    pub gateway: String,
    pub auth: Auth,
    /// The type of a CSV's or JSON Lines file's records that do not say it.
    pub record_type: Option<String>,
    pub batch_size: usize,
    /// Batches in flight at once (with a key; an app id's go one at a time).
    pub parallel: usize,
    pub report: PathBuf,
    /// How long to wait for an accepted row to be final before reporting it `pending`.
    pub wait_ms: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub rows: usize,
    pub finalized: usize,
    /// Of the finalized, those the report already showed on chain (not sent again).
    pub already: usize,
    pub rejected: usize,
    pub refused: usize,
    pub pending: usize,
    pub unknown: usize,
}

impl Summary {
    fn count(&mut self, s: Status) {
        match s {
            Status::Finalized => self.finalized += 1,
            Status::Rejected => self.rejected += 1,
            Status::Refused => self.refused += 1,
            Status::Pending => self.pending += 1,
            Status::Unknown => self.unknown += 1,
        }
    }

    pub fn all_finalized(&self) -> bool {
        self.finalized == self.rows
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows: {} finalized ({} already on chain before this run), {} rejected, {} refused, {} pending, {} unknown",
            self.rows, self.finalized, self.already, self.rejected, self.refused, self.pending, self.unknown
        )
    }
}

/// One row to submit: its index in the input, the request item (a signed
/// transaction, or with an app id the bare record), the transaction id when
/// known beforehand, and the SHA-256 of its record.
struct Item {
    row: usize,
    /// As JSON text (what a batch is made of).
    body: String,
    tx_id: Option<Hash>,
    digest: String,
}

/// A request's rows; with an app id, the request nonce.
struct Batch {
    items: Vec<Item>,
    nonce: Option<String>,
}

/// A row's line, without the sheet and row it is the line of.
struct Outcome {
    status: Status,
    tx_id: String,
    height: Option<u64>,
    field: String,
    rule: String,
}

impl Outcome {
    fn refused(field: impl Into<String>, rule: impl Into<String>) -> Outcome {
        Outcome { status: Status::Refused, tx_id: String::new(), height: None, field: field.into(), rule: rule.into() }
    }
}

/// The nonce of a row's transaction: from its record's SHA-256 and which
/// occurrence of that record in the file it is.
fn row_nonce(digest: &str, occurrence: usize) -> u64 {
    let h = Hash::digest(format!("coldchain/import-row/v1\n{digest}\n{occurrence}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.0[..8]);
    u64::from_be_bytes(first) & MAX_NONCE
}

/// The request nonce of an app id's window: from the app id, the sheet, the
/// window and its records (10–64 of `A–Z a–z 0–9 - _`).
fn window_nonce(appid: &str, sheet: &str, window: usize, batch_size: usize, digests: &[&str]) -> String {
    let h = Hash::digest(format!("coldchain/import-window/v1\n{appid}\n{sheet}\n{window}\n{batch_size}\n{}", digests.join("\n")).as_bytes());
    format!("imp-{}", &h.to_hex()[..40])
}

pub fn run(opts: &Options) -> Result<Summary> {
    let bytes = std::fs::read(&opts.file).with_context(|| format!("reading {}", opts.file.display()))?;
    let input = read::read(&opts.file, &bytes, opts.record_type.as_deref()).with_context(|| format!("{}", opts.file.display()))?;
    anyhow::ensure!(opts.batch_size >= 1 && opts.batch_size <= 10_000, "--batch-size is 1 to 10000");
    let gw = Gateway::new(&opts.gateway);
    let chain_id = match &opts.auth {
        Auth::Key(_) => Some(gw.chain_id()?),
        Auth::App { .. } => None,
    };
    let prior = report::load(&opts.report)?;

    // Each row: refused here, already on chain by the report, or to submit.
    let mut lines: BTreeMap<usize, Line> = BTreeMap::new();
    let mut todo: Vec<Item> = Vec::new();
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    let mut summary = Summary { rows: input.rows.len(), ..Summary::default() };
    for (i, row) in input.rows.iter().enumerate() {
        let line = |o: Outcome, digest: &str| line_of(&input, i, o, digest);
        let record = match &row.record {
            Ok(r) => r,
            Err(Refusal { column, field, rule }) => {
                let mut l = line(Outcome::refused(field.clone(), rule.clone()), "");
                l.column = column.clone();
                lines.insert(i, l);
                continue;
            }
        };
        // What is signed: Base64 images replaced by their digest (the request still carries them).
        let mut signed_form = record.clone();
        let images = match coldchain_chaincode::images::extract(&mut signed_form) {
            Ok(images) => images,
            Err(e) => {
                lines.insert(i, line(Outcome::refused(e.field, e.rule), ""));
                continue;
            }
        };
        if let Err(e) = Record::parse(&signed_form) {
            lines.insert(i, line(Outcome::refused(e.field, e.rule), ""));
            continue;
        }
        let canonical = coldchain_chaincode::canonical::value_bytes(&signed_form).map_err(|e| anyhow!("row {}: {e}", row.number))?;
        let digest = Hash::digest(&canonical).to_hex();
        let occurrence = occurrences.entry(digest.clone()).or_default();
        let (body, tx_id) = match (&opts.auth, &chain_id) {
            (Auth::Key(key), Some(chain_id)) => {
                let tx = Transaction::sign(chain_id, row_nonce(&digest, *occurrence), signed_form, key);
                let id = tx.id();
                let body = if images.is_empty() {
                    serde_json::to_string(&tx)?
                } else {
                    let mut body = serde_json::to_value(&tx)?;
                    body["record"] = record.clone();
                    body.to_string()
                };
                (body, Some(id))
            }
            _ => (record.to_string(), None),
        };
        *occurrence += 1;
        let sheet = &input.sheets[row.sheet].name;
        if let Some(before) = prior.get(&(sheet.clone(), row.number))
            && before.status.is_final()
            && before.record_sha256 == digest
            && tx_id.is_none_or(|id| id.to_hex() == before.tx_id)
        {
            summary.already += usize::from(before.status == Status::Finalized);
            lines.insert(i, before.clone());
            continue;
        }
        todo.push(Item { row: i, body, tx_id, digest });
    }

    let batches = match &opts.auth {
        Auth::Key(_) => {
            let mut out = Vec::new();
            let mut rest = todo.into_iter().peekable();
            while rest.peek().is_some() {
                out.push(Batch { items: rest.by_ref().take(opts.batch_size).collect(), nonce: None });
            }
            out
        }
        Auth::App { appid, .. } => app_windows(&input, todo, appid, opts.batch_size),
    };

    // Rows refused here and rows carried over go to the report first.
    let mut appender = report::Appender::open(&opts.report)?;
    let early: Vec<Line> = lines.values().filter(|l| l.status == Status::Refused).cloned().collect();
    appender.append(&early)?;

    let bar = progress_bar(input.rows.len() as u64);
    bar.inc(lines.len() as u64);
    let parallel = match opts.auth {
        Auth::Key(_) => opts.parallel.max(1),
        Auth::App { .. } => 1,
    };
    let queue = Arc::new(Mutex::new(batches.into_iter().collect::<VecDeque<_>>()));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Result<Vec<(usize, Outcome, String)>>>();
    let submitter = Arc::new(Submitter { gw, auth: &opts.auth, wait_ms: opts.wait_ms });
    let mut failure = None;
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            let (queue, stop, tx, submitter) = (queue.clone(), stop.clone(), tx.clone(), submitter.clone());
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(batch) = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front() else { break };
                    let result = submitter.submit(batch);
                    let failed = result.is_err();
                    if tx.send(result).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            match result {
                Ok(outcomes) => {
                    let new: Vec<Line> = outcomes
                        .into_iter()
                        .map(|(i, o, digest)| (i, line_of(&input, i, o, &digest)))
                        .map(|(i, l)| {
                            lines.insert(i, l.clone());
                            l
                        })
                        .collect();
                    if let Err(e) = appender.append(&new) {
                        failure.get_or_insert(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                    bar.inc(new.len() as u64);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    });
    bar.finish_and_clear();

    // The whole report in row order: this run's lines, and the ones before
    // of rows this run did not reach.
    let mut all: Vec<Line> = lines.values().cloned().collect();
    let reached: std::collections::HashSet<(String, u64)> = all.iter().map(|l| (l.sheet.clone(), l.row)).collect();
    let rows: std::collections::HashSet<(String, u64)> = input.rows.iter().map(|r| (input.sheets[r.sheet].name.clone(), r.number)).collect();
    all.extend(prior.into_iter().filter(|(key, _)| rows.contains(key) && !reached.contains(key)).map(|(_, l)| l));
    let order: HashMap<&str, usize> = input.sheets.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    all.sort_by_key(|l| (order.get(l.sheet.as_str()).copied().unwrap_or(usize::MAX), l.sheet.clone(), l.row));
    report::rewrite(&opts.report, &all)?;
    if let Some(e) = failure {
        return Err(e.context(format!(
            "import stopped; the report {} has the rows done so far, and running the command again goes on",
            opts.report.display()
        )));
    }
    for l in lines.values() {
        summary.count(l.status);
    }
    Ok(summary)
}

/// An app id's requests: each sheet's rows in windows of `batch_size` by
/// their place in the sheet, so that a window holds the same rows on every
/// run that sends it (rows already on chain left out the same way).
fn app_windows(input: &Input, todo: Vec<Item>, appid: &str, batch_size: usize) -> Vec<Batch> {
    let mut place = vec![0usize; input.rows.len()];
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (i, row) in input.rows.iter().enumerate() {
        let n = seen.entry(row.sheet).or_default();
        place[i] = *n;
        *n += 1;
    }
    let mut windows: BTreeMap<(usize, usize), Vec<Item>> = BTreeMap::new();
    for item in todo {
        let sheet = input.rows[item.row].sheet;
        windows.entry((sheet, place[item.row] / batch_size)).or_default().push(item);
    }
    windows
        .into_iter()
        .map(|((sheet, window), items)| {
            let digests: Vec<&str> = items.iter().map(|i| i.digest.as_str()).collect();
            let nonce = window_nonce(appid, &input.sheets[sheet].name, window, batch_size, &digests);
            Batch { items, nonce: Some(nonce) }
        })
        .collect()
}

fn line_of(input: &Input, i: usize, o: Outcome, digest: &str) -> Line {
    let row = &input.rows[i];
    let record_type = match &row.record {
        Ok(r) => r["type"].as_str().unwrap_or_default().to_string(),
        Err(_) => String::new(),
    };
    Line {
        sheet: input.sheets[row.sheet].name.clone(),
        row: row.number,
        record_type,
        status: o.status,
        tx_id: o.tx_id,
        height: o.height,
        column: input.column_of(row.sheet, &o.field),
        field: o.field,
        rule: o.rule,
        record_sha256: digest.to_string(),
    }
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}") {
        bar.set_style(style);
    }
    bar
}

/// Sends batches and finds out what became of each row.
struct Submitter<'a> {
    gw: Gateway,
    auth: &'a Auth,
    wait_ms: u64,
}

/// Outcome reads (`GET /v1/tx/{id}`) in flight at once per batch.
const READERS: usize = 4;

/// How long a gateway may stay unreachable, overloaded or rate-limiting before the import stops.
const PATIENCE: Duration = Duration::from_secs(300);

impl Submitter<'_> {
    fn submit(&self, batch: Batch) -> Result<Vec<(usize, Outcome, String)>> {
        let wait = self.wait_ms.min(30_000);
        let path = format!("/v1/records/batch?wait=finalized&timeout_ms={wait}");
        let bodies: Vec<&str> = batch.items.iter().map(|i| i.body.as_str()).collect();
        let body = format!("[{}]", bodies.join(",")).into_bytes();
        let signed = match (self.auth, &batch.nonce) {
            (Auth::App { appid, secret }, Some(nonce)) => Some((appid.as_str(), secret.as_str(), nonce.as_str())),
            _ => None,
        };
        let (status, envelope) = self.send("POST", &path, Some(&body), signed)?;
        let results = envelope["result"]["results"].as_array();
        let mut out: Vec<(usize, Outcome, String)> = Vec::with_capacity(batch.items.len());
        let Some(results) = results.filter(|r| r.len() == batch.items.len()) else {
            // The request as a whole was refused.
            let error = envelope["result"]["error"].as_str().unwrap_or_default();
            if status == 401 && error == "replayed_nonce" {
                let rule = format!(
                    "this window of rows was sent before under request nonce {} and the gateway refuses a nonce again for 10 minutes: its records may be on chain; run the import again after that to learn their transaction ids (nothing is submitted twice)",
                    batch.nonce.as_deref().unwrap_or_default()
                );
                return Ok(batch
                    .items
                    .into_iter()
                    .map(|i| {
                        (
                            i.row,
                            Outcome { status: Status::Unknown, tx_id: String::new(), height: None, field: "nonce".into(), rule: rule.clone() },
                            i.digest,
                        )
                    })
                    .collect());
            }
            if (400..500).contains(&status) && status != 400 {
                bail!("the gateway refused the request: {} {}", status, crate::client::describe_error(&envelope));
            }
            let field = envelope["result"]["field"].as_str().unwrap_or("(batch)").to_string();
            let rule = envelope["result"]["rule"].as_str().or(envelope["message"].as_str()).unwrap_or("refused").to_string();
            return Ok(batch.items.into_iter().map(|i| (i.row, Outcome::refused(field.clone(), rule.clone()), i.digest)).collect());
        };
        let mut open: Vec<(usize, Hash, String)> = Vec::new();
        for (item, r) in batch.items.into_iter().zip(results) {
            let id = r["tx_id"].as_str().and_then(|s| s.parse::<Hash>().ok()).or(item.tx_id);
            match (r["state"].as_str().unwrap_or_default(), id) {
                ("refused", _) | (_, None) => {
                    let field = r["field"].as_str().unwrap_or("record").to_string();
                    let rule = r["rule"].as_str().or(r["error"].as_str()).unwrap_or("refused").to_string();
                    out.push((item.row, Outcome::refused(field, rule), item.digest));
                }
                (_, Some(id)) => open.push((item.row, id, item.digest)),
            }
        }
        // Finalized or pending: the chain's outcome of each, from its receipt.
        let deadline = Instant::now() + Duration::from_millis(self.wait_ms);
        while !open.is_empty() {
            // A GET per row, several at once: each is quick for the node,
            // and one after the other they would hold the batch up.
            let per = open.len().div_ceil(READERS);
            let found: Vec<Result<Vec<Option<Outcome>>>> = std::thread::scope(|scope| {
                let readers: Vec<_> =
                    open.chunks(per).map(|chunk| scope.spawn(move || chunk.iter().map(|(_, id, _)| self.outcome(id)).collect())).collect();
                readers.into_iter().map(|r| r.join().unwrap_or_else(|_| Err(anyhow!("an outcome reader panicked")))).collect()
            });
            let mut still = Vec::new();
            for ((row, id, digest), o) in open.into_iter().zip(found.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten()) {
                match o {
                    Some(o) => out.push((row, o, digest)),
                    None => still.push((row, id, digest)),
                }
            }
            open = still;
            if open.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for (row, id, digest) in open.drain(..) {
                    let rule = format!("accepted, not final within {} ms; run the import again to learn its outcome", self.wait_ms);
                    out.push((row, Outcome { status: Status::Pending, tx_id: id.to_hex(), height: None, field: String::new(), rule }, digest));
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(out)
    }

    /// A transaction's outcome once final (`None` while pending).
    fn outcome(&self, id: &Hash) -> Result<Option<Outcome>> {
        let (status, env) = self.send("GET", &format!("/v1/tx/{}", id.to_hex()), None, None)?;
        let r = &env["result"];
        if status == 404 || r["state"] != "finalized" {
            return Ok(None);
        }
        let height = r["height"].as_u64();
        let tx_id = id.to_hex();
        Ok(Some(match r["outcome"]["status"].as_str() {
            Some("applied") => Outcome { status: Status::Finalized, tx_id, height, field: String::new(), rule: String::new() },
            _ => Outcome {
                status: Status::Rejected,
                tx_id,
                height,
                field: r["outcome"]["field"].as_str().unwrap_or_default().to_string(),
                rule: r["outcome"]["rule"].as_str().unwrap_or("refused when finalized").to_string(),
            },
        }))
    }

    /// One request, retried while the gateway is unreachable, rate-limits
    /// (429, after its Retry-After), is overloaded (503) or fails (5xx), for
    /// up to [`PATIENCE`]. Retrying is safe: the same rows are the same
    /// transactions. A signed request gets a fresh timestamp each time.
    fn send(&self, method: &str, path: &str, body: Option<&[u8]>, signed: Option<(&str, &str, &str)>) -> Result<(u16, Value)> {
        let started = Instant::now();
        let url = format!("{}{path}", self.gw.base);
        loop {
            let result = match (method, body) {
                ("POST", Some(body)) => {
                    let mut req = self.gw.agent.post(&url).header("content-type", "application/json");
                    if let Some((appid, secret, nonce)) = signed {
                        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
                        let signature = coldchain_node::gateway::apps::sign_request(secret, appid, &timestamp, nonce, "POST", path, body);
                        req = req.header("appid", appid).header("timestamp", &timestamp).header("nonce", nonce).header("signature", &signature);
                    }
                    req.send(body)
                }
                _ => self.gw.agent.get(&url).call(),
            };
            let wait = match result {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
                    if !matches!(status, 429 | 500 | 502 | 503 | 504) {
                        let text = resp.body_mut().with_config().limit(512 << 20).read_to_string()?;
                        let envelope: Value =
                            serde_json::from_str(&text).with_context(|| format!("{method} {url} answered {status} with non-JSON: {text:.200}"))?;
                        return Ok((status, envelope));
                    }
                    Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 5))
                }
                Err(e) if started.elapsed() < PATIENCE => {
                    tracing::debug!("{method} {url}: {e}; retrying");
                    Duration::from_secs(1)
                }
                Err(e) => return Err(anyhow!("{method} {url}: {e}")),
            };
            if started.elapsed() >= PATIENCE {
                bail!("{method} {url}: the gateway was unavailable, overloaded or rate-limiting for {} s", PATIENCE.as_secs());
            }
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_signs_to_the_same_transaction_every_time_and_identical_rows_to_different_ones() {
        let d = Hash::digest(b"record").to_hex();
        assert_eq!(row_nonce(&d, 0), row_nonce(&d, 0));
        assert_ne!(row_nonce(&d, 0), row_nonce(&d, 1));
        assert!(row_nonce(&d, 0) <= MAX_NONCE);
        let n = window_nonce("bj-erp", "product_batch", 3, 500, &[&d]);
        assert_eq!(n, window_nonce("bj-erp", "product_batch", 3, 500, &[&d]));
        assert!(n.len() >= 10 && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{n}");
    }
}
