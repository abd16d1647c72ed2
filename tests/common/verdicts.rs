//! The verdicts of `coldchain verify` and of the independent verifiers
//! (`verifiers/`), by file name, for tests that compare them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `coldchain verify`'s verdict on each file: `VALID`, or the failed check
/// (0–7, S; the version and a state proof's entries have no number in its
/// words: docs/PROOFS.md calls them 0 and S).
pub fn rust_verdicts(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("VALID") || l.starts_with("INVALID")) {
        let (open, close) = (line.find('(').unwrap(), line.find(')').unwrap());
        let file = Path::new(&line[open + 1..close]).file_name().unwrap().to_str().unwrap().to_string();
        let verdict = if line.starts_with("VALID") {
            "VALID".to_string()
        } else {
            let reason = &line[close..];
            match reason.split("check ").nth(1).and_then(|s| s.split_whitespace().next()) {
                Some(check) => check.to_string(),
                None if reason.contains("version") => "0".to_string(),
                None => "S".to_string(),
            }
        };
        out.insert(file, verdict);
    }
    out
}

/// An independent verifier's: `<file> VALID`, `<file> INVALID check N: …`, `<file> ERROR: …`.
pub fn independent_verdicts(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let (path, verdict) = if let Some(p) = line.strip_suffix(" VALID") {
            (p, "VALID".to_string())
        } else if let Some(i) = line.find(" INVALID check ") {
            (&line[..i], line[i + 15..].split(':').next().unwrap().to_string())
        } else if let Some(i) = line.find(" ERROR: ") {
            (&line[..i], format!("ERROR {}", &line[i + 8..]))
        } else {
            panic!("unexpected line from an independent verifier: {line}")
        };
        out.insert(Path::new(path).file_name().unwrap().to_str().unwrap().to_string(), verdict);
    }
    out
}

/// Runs one verifier over `files`: (exit code, verdicts by file name), its output printed.
pub fn run_verifier(name: &str, cmd: &mut Command, files: &[PathBuf], rust: bool) -> (i32, BTreeMap<String, String>) {
    let out = cmd.args(files).output().unwrap_or_else(|e| panic!("cannot run the {name} verifier: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("--- {name} ---\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let verdicts = if rust { rust_verdicts(&stdout) } else { independent_verdicts(&stdout) };
    assert_eq!(verdicts.len(), files.len(), "{name} gave {} verdicts for {} files:\n{stdout}", verdicts.len(), files.len());
    (out.status.code().unwrap_or(-1), verdicts)
}
