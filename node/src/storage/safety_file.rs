//! The consensus safety state on disk, in two slot files written in turn:
//! `safety.0` and `safety.1`. Each holds the SHA-256 of its body, a newline
//! and the body, `{"seq":N,"state":{...}}`. A store overwrites the older slot
//! in place and fdatasyncs it, so a crash at any moment leaves the newer slot
//! whole: a torn slot fails its hash and the other one is read. No file is
//! created or renamed per vote (that cost an inode allocation and two fsyncs
//! each time, 10% of a node's CPU under load).
//!
//! A data directory from before the slots holds `safety.json`; it is read
//! when neither slot is whole and removed after the first slot is stored.

use crate::consensus::SafetyState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct SafetyFile {
    dir: PathBuf,
    /// Sequence number of the newest whole slot (0: none yet).
    seq: u64,
    files: [Option<File>; 2],
}

#[derive(Serialize, Deserialize)]
struct Slot {
    seq: u64,
    state: SafetyState,
}

const LEGACY: &str = "safety.json";

fn invalid(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
}

impl SafetyFile {
    pub fn new(dir: &Path) -> SafetyFile {
        SafetyFile { dir: dir.to_path_buf(), seq: 0, files: [None, None] }
    }

    fn slot_path(&self, slot: usize) -> PathBuf {
        self.dir.join(format!("safety.{slot}"))
    }

    /// One slot's contents: `None` when absent, empty or torn (its hash does
    /// not match); an error when whole but unreadable.
    fn read_slot(&self, slot: usize) -> io::Result<Option<Slot>> {
        let path = self.slot_path(slot);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some((digest, body)) = bytes.split_first_chunk::<65>() else { return Ok(None) };
        if digest[64] != b'\n' || hex::encode(Sha256::digest(body)).as_bytes() != &digest[..64] {
            return Ok(None);
        }
        serde_json::from_slice(body).map(Some).map_err(|e| invalid(&path, e))
    }

    /// The newest whole state: the slot with the higher sequence number, else
    /// a legacy `safety.json`, else `None` (this validator never voted).
    pub fn load(&mut self) -> io::Result<Option<SafetyState>> {
        let newest = [self.read_slot(0)?, self.read_slot(1)?].into_iter().flatten().max_by_key(|s| s.seq);
        if let Some(slot) = newest {
            self.seq = slot.seq;
            return Ok(Some(slot.state));
        }
        let legacy = self.dir.join(LEGACY);
        match fs::read(&legacy) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| invalid(&legacy, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Durably stores `state` over the older slot. Call [`load`](Self::load)
    /// first: it finds which slot is the newer.
    pub fn store(&mut self, state: &SafetyState) -> io::Result<()> {
        let seq = self.seq + 1;
        let slot = (seq % 2) as usize;
        let body = serde_json::to_vec(&Slot { seq, state: state.clone() }).expect("plain data");
        let mut bytes = Vec::with_capacity(65 + body.len());
        bytes.extend_from_slice(hex::encode(Sha256::digest(&body)).as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        let created = self.files[slot].is_none() && !self.slot_path(slot).exists();
        if self.files[slot].is_none() {
            self.files[slot] = Some(OpenOptions::new().create(true).truncate(false).write(true).open(self.slot_path(slot))?);
        }
        let file = self.files[slot].as_mut().expect("opened above");
        let write = (|| {
            use std::io::Seek;
            file.seek(io::SeekFrom::Start(0))?;
            file.write_all(&bytes)?;
            file.set_len(bytes.len() as u64)?;
            file.sync_data()
        })();
        if let Err(e) = write {
            // The handle's state is unknown: reopen on the next store.
            self.files[slot] = None;
            return Err(e);
        }
        if created {
            File::open(&self.dir)?.sync_all()?;
        }
        self.seq = seq;
        if seq == 1 {
            match fs::remove_file(self.dir.join(LEGACY)) {
                Ok(()) => File::open(&self.dir)?.sync_all()?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::Hash;

    fn state(view: u64) -> SafetyState {
        let mut s = SafetyState { view, ..Default::default() };
        s.entry(view).notarized = Some(Hash::digest(&view.to_be_bytes()));
        s
    }

    #[test]
    fn stores_and_reloads_votes() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SafetyFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let mut s = state(7);
        file.store(&s).unwrap();
        s.entry(7).nullified = true;
        file.store(&s).unwrap();
        assert_eq!(SafetyFile::new(dir.path()).load().unwrap(), Some(s.clone()));
        // A reopened file goes on from the newest slot.
        let mut again = SafetyFile::new(dir.path());
        again.load().unwrap();
        for v in 8..12 {
            again.store(&state(v)).unwrap();
        }
        assert_eq!(SafetyFile::new(dir.path()).load().unwrap(), Some(state(11)));
    }

    /// A crash while writing the newest slot, cut at every byte: the state
    /// read back is the one stored before it, never a torn or older one.
    #[test]
    fn a_torn_store_reads_back_the_previous_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = SafetyFile::new(dir.path());
        file.load().unwrap();
        for v in 1..=5 {
            file.store(&state(v)).unwrap();
        }
        // seq 5 went to slot 1; seq 6 will overwrite slot 0 (holding seq 4).
        let whole = fs::read(dir.path().join("safety.1")).unwrap();
        let older = fs::read(dir.path().join("safety.0")).unwrap();
        let mut next = SafetyFile::new(dir.path());
        next.load().unwrap();
        next.store(&state(6)).unwrap();
        let newest = fs::read(dir.path().join("safety.0")).unwrap();
        for cut in 0..newest.len() {
            // The slot as the disk may hold it: a prefix of the new bytes over
            // the old ones.
            let mut torn = newest[..cut].to_vec();
            if cut < older.len() {
                torn.extend_from_slice(&older[cut..]);
            }
            fs::write(dir.path().join("safety.0"), &torn).unwrap();
            fs::write(dir.path().join("safety.1"), &whole).unwrap();
            let loaded = SafetyFile::new(dir.path()).load().unwrap();
            assert!(loaded == Some(state(5)) || (torn == newest && loaded == Some(state(6))), "cut at byte {cut}: {loaded:?}");
        }
    }

    #[test]
    fn a_legacy_safety_json_is_read_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LEGACY), serde_json::to_vec(&state(9)).unwrap()).unwrap();
        let mut file = SafetyFile::new(dir.path());
        assert_eq!(file.load().unwrap(), Some(state(9)));
        file.store(&state(10)).unwrap();
        assert!(!dir.path().join(LEGACY).exists());
        assert_eq!(SafetyFile::new(dir.path()).load().unwrap(), Some(state(10)));
    }

    #[test]
    fn a_whole_slot_that_does_not_parse_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let body = br#"{"seq":1,"state":{"view":"x"}}"#;
        let mut bytes = hex::encode(Sha256::digest(body)).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(body);
        fs::write(dir.path().join("safety.1"), bytes).unwrap();
        let err = SafetyFile::new(dir.path()).load().unwrap_err();
        assert!(err.to_string().contains("safety.1"), "{err}");
    }
}
