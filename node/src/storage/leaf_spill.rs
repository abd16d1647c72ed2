//! A snapshot's leaves put in key-hash order on disk: each leaf is appended
//! to one of 256 files by the first byte of its key's hash, then the files
//! are read back one at a time, each sorted in memory. Taking a snapshot
//! thus reads the state in one sequential pass and holds 1/256 of it in
//! memory at once, instead of looking each leaf up again in hash order and
//! holding every key (docs/BENCHMARKS.md, "Taking a snapshot in one pass").
//!
//! A file holds records `hash (32) ‖ key length (u32 LE) ‖ value length
//! (u32 LE) ‖ key ‖ value`. The directory is the spiller's own: it is
//! removed when the spiller is dropped, and a crash leaves it inside the
//! unfinished snapshot's directory, which the next start removes.

use coldchain_chaincode::state::snapshot::{Leaf, LeafOrder};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const BUCKETS: usize = 256;

pub struct LeafSpill {
    dir: PathBuf,
    files: Vec<Option<BufWriter<File>>>,
    next: usize,
}

impl LeafSpill {
    /// A spiller writing into `dir`, which it creates (emptied if it exists).
    pub fn create(dir: &Path) -> io::Result<LeafSpill> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        Ok(LeafSpill { dir: dir.to_path_buf(), files: (0..BUCKETS).map(|_| None).collect(), next: 0 })
    }

    fn path(&self, bucket: usize) -> PathBuf {
        self.dir.join(format!("{bucket:02x}.leaves"))
    }
}

fn invalid(bucket: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: a spilled leaf is cut short", bucket.display()))
}

/// The leaves of one spill file, in the order written.
fn parse(bytes: &[u8], path: &Path) -> io::Result<Vec<Leaf>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at_checked(40).ok_or_else(|| invalid(path))?;
        let hash: [u8; 32] = head[..32].try_into().map_err(|_| invalid(path))?;
        let key_len = u32::from_le_bytes(head[32..36].try_into().map_err(|_| invalid(path))?) as usize;
        let value_len = u32::from_le_bytes(head[36..40].try_into().map_err(|_| invalid(path))?) as usize;
        let (key, tail) = tail.split_at_checked(key_len).ok_or_else(|| invalid(path))?;
        let (value, tail) = tail.split_at_checked(value_len).ok_or_else(|| invalid(path))?;
        out.push((hash, key.to_vec(), value.to_vec()));
        rest = tail;
    }
    Ok(out)
}

impl LeafOrder for LeafSpill {
    fn push(&mut self, hash: [u8; 32], key: Vec<u8>, value: Vec<u8>) -> io::Result<()> {
        let bucket = usize::from(hash[0]);
        if self.files[bucket].is_none() {
            self.files[bucket] = Some(BufWriter::with_capacity(64 << 10, File::create(self.path(bucket))?));
        }
        let Some(file) = self.files[bucket].as_mut() else { unreachable!("opened above") };
        let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "a state entry longer than 4 GiB");
        file.write_all(&hash)?;
        file.write_all(&u32::try_from(key.len()).map_err(|_| too_long())?.to_le_bytes())?;
        file.write_all(&u32::try_from(value.len()).map_err(|_| too_long())?.to_le_bytes())?;
        file.write_all(&key)?;
        file.write_all(&value)
    }

    fn next_run(&mut self) -> io::Result<Option<Vec<Leaf>>> {
        while self.next < BUCKETS {
            let bucket = self.next;
            self.next += 1;
            let Some(file) = self.files[bucket].take() else { continue };
            drop(file.into_inner().map_err(|e| e.into_error())?);
            let path = self.path(bucket);
            let mut run = parse(&std::fs::read(&path)?, &path)?;
            std::fs::remove_file(&path)?;
            run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            return Ok(Some(run));
        }
        Ok(None)
    }
}

impl Drop for LeafSpill {
    fn drop(&mut self) {
        self.files.clear();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove a snapshot's spill files");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::state::snapshot::InMemory;

    fn leaf(i: u32) -> Leaf {
        let hash = coldchain_chaincode::Hash::digest(&i.to_be_bytes()).0;
        (hash, format!("key {i}").into_bytes(), vec![i as u8; (i % 7) as usize])
    }

    fn drain(order: &mut dyn LeafOrder) -> Vec<Leaf> {
        let mut out = Vec::new();
        while let Some(run) = order.next_run().unwrap() {
            out.extend(run);
        }
        out
    }

    #[test]
    fn leaves_come_back_in_hash_order_as_kept_in_memory_and_the_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let spill_dir = dir.path().join("spill");
        let mut spill = LeafSpill::create(&spill_dir).unwrap();
        let mut memory = InMemory::default();
        for i in 0..5_000 {
            let (h, k, v) = leaf(i);
            spill.push(h, k.clone(), v.clone()).unwrap();
            memory.push(h, k, v).unwrap();
        }
        let spilled = drain(&mut spill);
        assert_eq!(spilled.len(), 5_000);
        assert!(spilled.windows(2).all(|w| w[0].0 < w[1].0), "runs in hash order");
        assert_eq!(spilled, drain(&mut memory));
        assert_eq!(std::fs::read_dir(&spill_dir).unwrap().count(), 0, "each file is removed once read");
        drop(spill);
        assert!(!spill_dir.exists());
    }

    #[test]
    fn a_cut_short_spill_file_is_an_error_not_a_panic() {
        let path = Path::new("00.leaves");
        let (h, k, v) = leaf(1);
        let mut bytes = h.to_vec();
        bytes.extend((k.len() as u32).to_le_bytes());
        bytes.extend((v.len() as u32 + 5).to_le_bytes());
        bytes.extend(&k);
        bytes.extend(&v);
        assert_eq!(parse(&bytes, path).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(parse(&bytes[..20], path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
