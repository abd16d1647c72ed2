//! The consensus safety state on disk: written to a temporary file, fsynced,
//! renamed over the old one, and the directory fsynced, so a crash at any
//! moment leaves either the old state or the new one, never a torn file.

use crate::consensus::SafetyState;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct SafetyFile {
    path: PathBuf,
}

impl SafetyFile {
    pub fn new(dir: &Path) -> SafetyFile {
        SafetyFile { path: dir.join("safety.json") }
    }

    pub fn load(&self) -> std::io::Result<Option<SafetyState>> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn store(&self, state: &SafetyState) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(state).expect("plain data"))?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::Hash;

    #[test]
    fn stores_and_reloads_votes() {
        let dir = tempfile::tempdir().unwrap();
        let file = SafetyFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let mut s = SafetyState { view: 7, ..Default::default() };
        s.entry(7).notarized = Some(Hash::digest(b"b"));
        file.store(&s).unwrap();
        s.entry(7).nullified = true;
        file.store(&s).unwrap();
        assert_eq!(file.load().unwrap(), Some(s));
    }
}
