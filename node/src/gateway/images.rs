//! The images a node keeps for the records it received (seed 004: licences,
//! labels, certificates as Base64; the chain holds their SHA-256).
//!
//! An image is **staged** when its transaction is accepted
//! (`DATA/images/staged/<tx id>/<sha256>`), and **kept**
//! (`DATA/images/<sha256>`, with the id of the transaction that brought it
//! in the index) only once that transaction is finalized and applied. A
//! transaction refused by the chaincode, or neither final nor pending
//! [`STAGED_GRACE`] after it was staged, takes its staged images with it.
//! Only kept images are served, and only to a caller who may see the record
//! that carried the image in full (`access::judge`).
//!
//! Each signing key may stage at most `gateway.image_quota_bytes_per_day`
//! bytes of new images per UTC day (images already kept or staged cost
//! nothing again); beyond it the request is 429 naming the quota. The
//! counters are in the node's store, so a restart does not reset them.

use coldchain_chaincode::images::Image;
use coldchain_chaincode::{Hash, TxId};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a staged image waits for its transaction to be finalized or
/// pending before it is dropped.
pub const STAGED_GRACE: Duration = Duration::from_secs(30 * 60);
const DAY_MS: i64 = 86_400_000;
/// Index keys: `t` + image digest → the transaction that carried it.
const TX_OF: u8 = b't';
/// Index keys: `q` + signer key + UTC day (big-endian) → bytes staged that day.
const QUOTA: u8 = b'q';

#[derive(Debug, thiserror::Error)]
pub enum ImageStoreError {
    #[error("key {signer} has staged {used} bytes of images today; {more} more would pass gateway.image_quota_bytes_per_day ({quota})")]
    OverQuota { signer: String, used: u64, more: u64, quota: u64 },
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
    #[error("image index: {0}")]
    Index(#[from] sled::Error),
}

/// What became of a staged transaction's images at [`ImageStore::settle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Finalized and applied: keep them.
    Applied,
    /// Finalized and refused by the chaincode: drop them.
    Refused,
    /// In the mempool: wait.
    Pending,
    /// Unknown here: wait out [`STAGED_GRACE`], then drop them.
    Unknown,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub kept: usize,
    pub dropped: usize,
}

pub struct ImageStore {
    dir: PathBuf,
    index: sled::Tree,
    quota_per_day: u64,
}

impl ImageStore {
    pub fn open(dir: &Path, index: sled::Tree, quota_per_day: u64) -> Result<ImageStore, ImageStoreError> {
        std::fs::create_dir_all(dir.join("staged"))?;
        Ok(ImageStore { dir: dir.to_path_buf(), index, quota_per_day })
    }

    fn staged_dir(&self, tx: &TxId) -> PathBuf {
        self.dir.join("staged").join(tx.to_hex())
    }

    /// The file of a kept image.
    fn kept(&self, sha: &Hash) -> PathBuf {
        self.dir.join(sha.to_hex())
    }

    /// Stages the images of accepted transaction `tx`, signed by `signer`,
    /// counting their new bytes against the signer's quota for the day of
    /// `now_ms`; nothing is written when the quota would be passed.
    pub fn stage(&self, tx: &TxId, signer: &[u8; 32], images: &[Image], now_ms: i64) -> Result<(), ImageStoreError> {
        let dir = self.staged_dir(tx);
        let fresh: Vec<&Image> = images.iter().filter(|i| !self.kept(&i.sha256).exists() && !dir.join(i.sha256.to_hex()).exists()).collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let more: u64 = fresh.iter().map(|i| i.bytes.len() as u64).sum();
        let key = [&[QUOTA][..], signer, &(now_ms.div_euclid(DAY_MS)).to_be_bytes()].concat();
        let used = self.index.get(&key)?.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok()).map(u64::from_be_bytes).unwrap_or(0);
        if used.saturating_add(more) > self.quota_per_day {
            return Err(ImageStoreError::OverQuota { signer: hex::encode(signer), used, more, quota: self.quota_per_day });
        }
        std::fs::create_dir_all(&dir)?;
        for image in fresh {
            write_durably(&dir.join(image.sha256.to_hex()), &image.bytes)?;
        }
        self.index.insert(key, &(used + more).to_be_bytes())?;
        self.index.flush()?;
        Ok(())
    }

    /// Keeps the images of applied transactions, drops those of refused or
    /// long-unknown ones; `fate` says what became of a transaction.
    pub fn settle(&self, fate: impl Fn(&TxId) -> Fate, now_ms: i64) -> Result<Settled, ImageStoreError> {
        let mut settled = Settled::default();
        for entry in std::fs::read_dir(self.dir.join("staged"))? {
            let entry = entry?;
            let Some(tx) = entry.file_name().to_str().and_then(|n| n.parse::<TxId>().ok()) else {
                // Not a staging directory of ours (a partial write's leftover): remove it.
                remove_any(&entry.path())?;
                continue;
            };
            let old = entry.metadata()?.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).is_some_and(|age| age > STAGED_GRACE);
            match fate(&tx) {
                Fate::Applied => {
                    for image in std::fs::read_dir(entry.path())? {
                        let image = image?;
                        let Some(sha) = image.file_name().to_str().and_then(|n| n.parse::<Hash>().ok()) else { continue };
                        let kept = self.kept(&sha);
                        if !kept.exists() {
                            std::fs::rename(image.path(), &kept)?;
                            self.index.insert([&[TX_OF][..], &sha.0].concat(), &tx.0)?;
                            settled.kept += 1;
                        }
                    }
                    self.index.flush()?;
                    std::fs::remove_dir_all(entry.path())?;
                }
                Fate::Refused => {
                    settled.dropped += count(&entry.path());
                    std::fs::remove_dir_all(entry.path())?;
                }
                Fate::Unknown if old => {
                    settled.dropped += count(&entry.path());
                    std::fs::remove_dir_all(entry.path())?;
                }
                Fate::Pending | Fate::Unknown => {}
            }
        }
        // Quota days before yesterday are of no use any more.
        let today = now_ms.div_euclid(DAY_MS);
        for item in self.index.scan_prefix([QUOTA]) {
            let (key, _) = item?;
            let day = key.get(33..41).and_then(|d| <[u8; 8]>::try_from(d).ok()).map(i64::from_be_bytes).unwrap_or(0);
            if day < today - 1 {
                self.index.remove(key)?;
            }
        }
        Ok(settled)
    }

    /// A kept image: the transaction that carried it, and its bytes.
    pub fn read(&self, sha: &Hash) -> Result<Option<(TxId, Vec<u8>)>, ImageStoreError> {
        let Some(tx) = self.index.get([&[TX_OF][..], &sha.0].concat())? else { return Ok(None) };
        let Ok(tx) = <[u8; 32]>::try_from(tx.as_ref()) else { return Ok(None) };
        match std::fs::read(self.kept(sha)) {
            Ok(bytes) => Ok(Some((Hash(tx), bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) }
}

/// Writes `bytes` to `path` through a temporary file and a rename, synced.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(bytes: &[u8]) -> Image {
        Image { sha256: Hash::digest(bytes), media_type: "image/png".into(), bytes: bytes.to_vec() }
    }

    fn store(quota: u64) -> (tempfile::TempDir, ImageStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let s = ImageStore::open(&dir.path().join("images"), db.open_tree("images").unwrap(), quota).unwrap();
        (dir, s)
    }

    const NOW: i64 = 1_780_000_000_000;

    #[test]
    fn images_are_served_only_once_their_transaction_is_applied() {
        let (_d, s) = store(1 << 20);
        let (applied, refused, pending) = ((Hash::digest(b"a")), (Hash::digest(b"r")), (Hash::digest(b"p")));
        let (a, r, p) = (image(b"applied image"), image(b"refused image"), image(b"pending image"));
        s.stage(&applied, &[1; 32], std::slice::from_ref(&a), NOW).unwrap();
        s.stage(&refused, &[1; 32], std::slice::from_ref(&r), NOW).unwrap();
        s.stage(&pending, &[1; 32], std::slice::from_ref(&p), NOW).unwrap();
        // Staged, not served.
        assert!(s.read(&a.sha256).unwrap().is_none());
        let fate = |tx: &TxId| {
            if *tx == applied {
                Fate::Applied
            } else if *tx == refused {
                Fate::Refused
            } else {
                Fate::Pending
            }
        };
        assert_eq!(s.settle(fate, NOW).unwrap(), Settled { kept: 1, dropped: 1 });
        assert_eq!(s.read(&a.sha256).unwrap(), Some((applied, a.bytes.clone())));
        assert!(s.read(&r.sha256).unwrap().is_none(), "a refused transaction's image is not kept");
        assert!(!s.staged_dir(&refused).exists(), "and its staged file is gone");
        assert!(s.read(&p.sha256).unwrap().is_none() && s.staged_dir(&pending).exists(), "a pending one waits");
        // Unknown but young: waits; the grace period is what drops it.
        assert_eq!(s.settle(|_| Fate::Unknown, NOW).unwrap(), Settled::default());
        assert!(s.staged_dir(&pending).exists());
    }

    #[test]
    fn a_key_over_its_daily_quota_stages_nothing_and_repeats_cost_nothing() {
        let (_d, s) = store(100);
        let key = [7; 32];
        let first = image(&[1; 60]);
        s.stage(&(Hash::digest(b"1")), &key, std::slice::from_ref(&first), NOW).unwrap();
        // Kept, the same image again (another record carrying it) costs nothing.
        s.settle(|_| Fate::Applied, NOW).unwrap();
        s.stage(&(Hash::digest(b"2")), &key, std::slice::from_ref(&first), NOW).expect("a kept image is not counted again");
        let over = s.stage(&(Hash::digest(b"3")), &key, &[image(&[2; 50])], NOW).unwrap_err();
        assert!(matches!(over, ImageStoreError::OverQuota { used: 60, more: 50, quota: 100, .. }), "{over}");
        assert!(!s.staged_dir(&(Hash::digest(b"3"))).exists(), "nothing written over the quota");
        // Another key, or the next day, has its own allowance.
        s.stage(&(Hash::digest(b"4")), &[8; 32], &[image(&[2; 50])], NOW).unwrap();
        s.stage(&(Hash::digest(b"5")), &key, &[image(&[3; 50])], NOW + DAY_MS).unwrap();
    }
}
