//! State snapshots on disk (`DATA/snapshots/`), taken every few blocks and
//! served to nodes that join with an empty store (docs/PROTOCOL.md,
//! "Snapshots").
//!
//! A snapshot is a directory `<height>/` holding its chunks, one file each
//! (`<index>.chunk`, the bytes a peer is sent), and `snapshot.json`
//! ([`SnapshotInfo`]), written last: a directory without it is a snapshot
//! cut short by a crash, and is removed. Only the newest few are kept.

use coldchain_chaincode::Hash;
use coldchain_chaincode::state::snapshot::Chunk;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a snapshot holds, beside its chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The state is the state after this block.
    pub height: u64,
    pub root: Hash,
    pub tree_version: u64,
    /// Transactions applied and refused up to `height`.
    pub applied: u64,
    pub refused: u64,
    pub entries: u64,
    pub chunks: u32,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct SnapshotFiles {
    dir: PathBuf,
}

const INFO: &str = "snapshot.json";

impl SnapshotFiles {
    /// The snapshots in `dir`, with any left half-written removed.
    pub fn open(dir: &Path) -> std::io::Result<SnapshotFiles> {
        std::fs::create_dir_all(dir)?;
        let files = SnapshotFiles { dir: dir.to_path_buf() };
        for (height, path) in files.dirs()? {
            if !path.join(INFO).exists() {
                tracing::warn!(height, "removing a snapshot a crash left unfinished");
                std::fs::remove_dir_all(path)?;
            }
        }
        Ok(files)
    }

    fn dirs(&self) -> std::io::Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Some(height) = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) {
                out.push((height, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Complete snapshots, newest first.
    pub fn list(&self) -> Vec<SnapshotInfo> {
        let mut out: Vec<SnapshotInfo> = self
            .dirs()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, path)| serde_json::from_slice(&std::fs::read(path.join(INFO)).ok()?).ok())
            .collect();
        out.sort_by_key(|i: &SnapshotInfo| std::cmp::Reverse(i.height));
        out
    }

    /// Writes a snapshot: `fill` is handed a directory of its own for
    /// scratch files (inside the snapshot's, so a crash leaves nothing
    /// behind once the unfinished snapshot is removed) and a sink for its
    /// chunks, in order, and returns what the snapshot holds; then only
    /// the newest `keep` snapshots are kept.
    pub fn write(
        &self,
        height: u64,
        keep: usize,
        fill: impl FnOnce(&Path, &mut dyn FnMut(Chunk) -> std::io::Result<()>) -> std::io::Result<SnapshotInfo>,
    ) -> std::io::Result<SnapshotInfo> {
        let dir = self.dir.join(height.to_string());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mut index = 0u32;
        let mut bytes = 0u64;
        let mut sink = |chunk: Chunk| {
            let encoded = chunk.to_bytes();
            bytes += encoded.len() as u64;
            std::fs::write(dir.join(format!("{index}.chunk")), encoded)?;
            index += 1;
            Ok(())
        };
        let scratch = dir.join("scratch");
        let mut info = fill(&scratch, &mut sink)?;
        info.bytes = bytes;
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)?;
        }
        let tmp = dir.join("snapshot.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&info).unwrap_or_default())?;
        std::fs::rename(&tmp, dir.join(INFO))?;
        for (old, path) in self.dirs()?.into_iter().rev().skip(keep.max(1)) {
            tracing::info!(height = old, "removing an old snapshot");
            std::fs::remove_dir_all(path)?;
        }
        Ok(info)
    }

    /// One chunk's bytes as stored (none: no such snapshot or chunk).
    pub fn chunk(&self, height: u64, index: u32) -> Option<Vec<u8>> {
        let dir = self.dir.join(height.to_string());
        if !dir.join(INFO).exists() {
            return None;
        }
        std::fs::read(dir.join(format!("{index}.chunk"))).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(height: u64, chunks: u32) -> SnapshotInfo {
        SnapshotInfo { height, root: Hash([1; 32]), tree_version: 3, applied: 10, refused: 1, entries: 0, chunks, bytes: 0 }
    }

    #[test]
    fn keeps_the_newest_and_drops_what_a_crash_left_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        for h in [10, 20, 30] {
            files.write(h, 2, |_, _| Ok(info(h, 0))).unwrap();
        }
        assert_eq!(files.list().iter().map(|i| i.height).collect::<Vec<_>>(), vec![30, 20]);
        // A snapshot whose writing stopped before its description.
        std::fs::create_dir_all(dir.path().join("40")).unwrap();
        std::fs::write(dir.path().join("40/0.chunk"), b"part").unwrap();
        assert_eq!(files.chunk(40, 0), None, "an unfinished snapshot is not served");
        let files = SnapshotFiles::open(dir.path()).unwrap();
        assert!(!dir.path().join("40").exists());
        assert_eq!(files.list().len(), 2);
    }
}
