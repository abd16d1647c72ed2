//! Block bodies, written once, in append-only segment files
//! `bodies/NNNNNNNNNN.log` beside the sled store.
//!
//! sled copies a tree node on every insert and rewrites it whole every few
//! inserts, so megabytes of transactions a block stored in sled were copied
//! about eight times over (at 18,000 opaque records/s: 280–400 MB/s written
//! for 58 MB/s of records, a third of the CPU). Here each body is one
//! sequential write; sled keeps only where it is.
//!
//! A frame is `len (u32 LE) ‖ crc32 of the payload (u32 LE) ‖ payload`; the
//! payload is the block header as JSON, a newline, then the canonical bytes
//! of its transactions, one per line. Bodies are appended when this node is
//! about to vote for a block and when it commits one it does not yet hold,
//! and fdatasynced before either goes on; a frame cut short by a crash can
//! only be the last one, and was never relied on, so opening truncates it.
//! Bodies of proposals that never became final are dead weight: a sealed
//! segment that is mostly dead is compacted (its live bodies copied to the
//! tail, then the file deleted; see `ChainStore::compact_bodies`).

use super::chain::StoreError;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// A segment grows to about this many bytes before the next one starts.
pub(super) const SEGMENT_BYTES: u64 = 128 << 20;
/// Bytes before a frame's payload: its length and CRC.
pub(super) const FRAME_HEADER: u64 = 8;

/// Where a body's payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPos {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

impl BodyPos {
    pub const ENCODED: usize = 20;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.segment.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Option<BodyPos> {
        Some(BodyPos {
            segment: u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            offset: u64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
            len: u32::from_be_bytes(b.get(16..20)?.try_into().ok()?),
        })
    }
}

struct Tail {
    segment: u64,
    file: File,
    len: u64,
    /// Appended since the last sync.
    dirty: bool,
    /// The segment was created since the last sync: its directory entry
    /// needs an fsync too.
    created: bool,
}

#[derive(Clone)]
pub struct BodyLog {
    dir: PathBuf,
    segment_bytes: u64,
    tail: Arc<Mutex<Tail>>,
    readers: Arc<RwLock<HashMap<u64, Arc<File>>>>,
    /// Segments deleted by the last compaction, whose open handles stay in
    /// `readers` until the next one: a reader that looked a body up just
    /// before it moved still reads it.
    retired: Arc<Mutex<Vec<u64>>>,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { tree: "bodies", detail: e.to_string() }
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:010}.log"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut segments: Vec<u64> =
        std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok()).collect();
    segments.sort_unstable();
    Ok(segments)
}

/// Reads the whole frames of one segment file from byte `start` (at most
/// its size), calling `each` for each; returns where the whole frames end
/// and the file's size (equal unless the rest is torn or damaged).
fn scan(path: &Path, start: u64, each: &mut impl FnMut(BodyPos, &[u8]) -> Result<(), StoreError>) -> Result<(u64, u64), StoreError> {
    let segment = path.file_stem().and_then(|s| s.to_str()?.parse().ok()).ok_or_else(|| io(format!("{}: not a segment", path.display())))?;
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut at = start.min(size);
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(at)).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut payload = Vec::new();
    loop {
        let mut head = [0u8; FRAME_HEADER as usize];
        if at == size || at + FRAME_HEADER > size || reader.read_exact(&mut head).is_err() {
            return Ok((at, size));
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        // A body always has its header line: a zero length is a region the
        // file system extended with zeros, not a frame.
        if len == 0 || at + FRAME_HEADER + len as u64 > size {
            return Ok((at, size));
        }
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload).map_err(io)?;
        if crc32fast::hash(&payload) != crc {
            return Ok((at, size));
        }
        each(BodyPos { segment, offset: at + FRAME_HEADER, len }, &payload)?;
        at += FRAME_HEADER + len as u64;
    }
}

impl BodyLog {
    /// Opens the log, with segments of about `segment_bytes`, calling
    /// `each(pos, payload)` for every whole frame in order from `from` (a
    /// segment and the start of a frame in it; the whole log without it),
    /// and truncating a torn last frame. Frames before `from` were synced
    /// before anything relied on them and are not read: a node's start
    /// does not read its whole history.
    pub fn open_with_segment_bytes(
        dir: &Path,
        from: Option<(u64, u64)>,
        segment_bytes: u64,
        mut each: impl FnMut(BodyPos, &[u8]) -> Result<(), StoreError>,
    ) -> Result<BodyLog, StoreError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let segments = list_segments(dir)?;
        let mut tail_len = 0;
        let (from_segment, from_offset) = from.unwrap_or((0, 0));
        for (i, &segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if segment < from_segment && !last {
                continue;
            }
            let path = segment_path(dir, segment);
            let start = if segment == from_segment { from_offset } else { 0 };
            let (at, size) = scan(&path, start, &mut each)?;
            if at < size {
                if !last {
                    return Err(io(format!("{}: a damaged frame at byte {at} before the last segment", path.display())));
                }
                tracing::warn!(file = %path.display(), at, size, "truncating a block body cut short by a crash");
                let f = OpenOptions::new().write(true).open(&path).map_err(io)?;
                f.set_len(at).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            if last {
                tail_len = at;
            }
        }
        let (segment, created) = match segments.last() {
            Some(&s) => (s, false),
            None => (1, true),
        };
        let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, segment)).map_err(io)?;
        Ok(BodyLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            tail: Arc::new(Mutex::new(Tail { segment, file, len: tail_len, dirty: false, created })),
            readers: Arc::default(),
            retired: Arc::default(),
        })
    }

    /// The segments no longer appended to, with their sizes in bytes.
    pub fn sealed_segments(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        let tail = self.tail.lock().map_err(io)?.segment;
        let mut out = Vec::new();
        for segment in list_segments(&self.dir)?.into_iter().filter(|s| *s < tail) {
            out.push((segment, std::fs::metadata(segment_path(&self.dir, segment)).map_err(io)?.len()));
        }
        Ok(out)
    }

    /// Calls `each(pos, payload)` for every frame of a sealed segment.
    pub fn read_segment(&self, segment: u64, mut each: impl FnMut(BodyPos, &[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        if segment >= self.tail.lock().map_err(io)?.segment {
            return Err(io(format!("segment {segment} is still appended to")));
        }
        let path = segment_path(&self.dir, segment);
        let (at, size) = scan(&path, 0, &mut each)?;
        if at < size {
            return Err(io(format!("{}: a damaged frame at byte {at} of a sealed segment", path.display())));
        }
        Ok(())
    }

    /// Deletes a sealed segment nothing points into any more. Its open
    /// handle is kept until the next call, for reads already under way.
    pub fn retire(&self, segment: u64) -> Result<(), StoreError> {
        if segment >= self.tail.lock().map_err(io)?.segment {
            return Err(io(format!("segment {segment} is still appended to")));
        }
        let mut retired = self.retired.lock().map_err(io)?;
        {
            let mut readers = self.readers.write().map_err(io)?;
            for old in retired.drain(..) {
                readers.remove(&old);
            }
        }
        // Open first, so a read that found the old place a moment ago
        // still has the file after its name is gone.
        let _ = self.reader(segment);
        std::fs::remove_file(segment_path(&self.dir, segment)).map_err(io)?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io)?;
        retired.push(segment);
        Ok(())
    }

    /// Where the next frame will start: (segment, offset).
    pub fn end(&self) -> Result<(u64, u64), StoreError> {
        let tail = self.tail.lock().map_err(io)?;
        Ok((tail.segment, tail.len))
    }

    /// Where the frame of the payload at `pos` starts.
    pub fn frame_start(pos: BodyPos) -> (u64, u64) {
        (pos.segment, pos.offset - FRAME_HEADER)
    }

    /// The bytes of the frame of the payload at `pos`.
    pub fn frame_len(pos: BodyPos) -> u64 {
        FRAME_HEADER + pos.len as u64
    }

    /// Appends one payload; durable after the next [`sync`](Self::sync).
    pub fn append(&self, payload: &[u8]) -> Result<BodyPos, StoreError> {
        let mut tail = self.tail.lock().map_err(io)?;
        if tail.len >= self.segment_bytes {
            // The full segment is synced before its successor exists, so a
            // torn frame can only ever be in the last segment.
            tail.file.sync_data().map_err(io)?;
            let segment = tail.segment + 1;
            let file = OpenOptions::new().create(true).append(true).open(segment_path(&self.dir, segment)).map_err(io)?;
            *tail = Tail { segment, file, len: 0, dirty: false, created: true };
        }
        let len = u32::try_from(payload.len()).map_err(|_| io("a block body over 4 GiB"))?;
        let mut frame = Vec::with_capacity(FRAME_HEADER as usize);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let pos = BodyPos { segment: tail.segment, offset: tail.len + FRAME_HEADER, len };
        let written = tail.file.write_all(&frame).and_then(|_| tail.file.write_all(payload));
        if let Err(e) = written {
            // Cut the partial frame off so the next append starts clean.
            let _ = tail.file.set_len(tail.len);
            return Err(io(e));
        }
        tail.len += FRAME_HEADER + len as u64;
        tail.dirty = true;
        Ok(pos)
    }

    /// Makes every append so far durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let mut tail = self.tail.lock().map_err(io)?;
        if tail.dirty {
            tail.file.sync_data().map_err(io)?;
            tail.dirty = false;
        }
        if tail.created {
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io)?;
            tail.created = false;
        }
        Ok(())
    }

    /// The payload at `pos`, or part of it: `range` within the payload.
    pub fn read(&self, pos: BodyPos, range: std::ops::Range<usize>) -> Result<Vec<u8>, StoreError> {
        if range.end > pos.len as usize || range.start > range.end {
            return Err(io(format!("range {range:?} outside a body of {} bytes", pos.len)));
        }
        let file = self.reader(pos.segment)?;
        let mut out = vec![0u8; range.len()];
        file.read_exact_at(&mut out, pos.offset + range.start as u64).map_err(io)?;
        Ok(out)
    }

    fn reader(&self, segment: u64) -> Result<Arc<File>, StoreError> {
        if let Some(f) = self.readers.read().map_err(io)?.get(&segment) {
            return Ok(f.clone());
        }
        let file = Arc::new(File::open(segment_path(&self.dir, segment)).map_err(io)?);
        self.readers.write().map_err(io)?.insert(segment, file.clone());
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(dir: &Path) -> (BodyLog, Vec<(BodyPos, Vec<u8>)>) {
        let mut seen = Vec::new();
        let log = BodyLog::open_with_segment_bytes(dir, None, SEGMENT_BYTES, |pos, payload| {
            seen.push((pos, payload.to_vec()));
            Ok(())
        })
        .unwrap();
        (log, seen)
    }

    #[test]
    fn appended_bodies_read_back_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (log, seen) = reopen(dir.path());
        assert!(seen.is_empty());
        let a = log.append(b"header a\nline 1\n").unwrap();
        let b = log.append(b"header b\n").unwrap();
        log.sync().unwrap();
        assert_eq!(log.read(a, 0..a.len as usize).unwrap(), b"header a\nline 1\n");
        assert_eq!(log.read(a, 9..15).unwrap(), b"line 1");
        assert!(log.read(b, 0..100).is_err());
        let (log, seen) = reopen(dir.path());
        assert_eq!(seen, vec![(a, b"header a\nline 1\n".to_vec()), (b, b"header b\n".to_vec())]);
        let c = log.append(b"header c\n").unwrap();
        assert_eq!(c.offset, b.offset + b.len as u64 + FRAME_HEADER);
    }

    /// A crash in the middle of an append, cut at every byte: reopening
    /// keeps every earlier body, drops the torn one, and appends after it.
    #[test]
    fn a_torn_last_frame_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = reopen(dir.path());
        log.append(b"kept\n").unwrap();
        log.sync().unwrap();
        let path = segment_path(dir.path(), 1);
        let good = std::fs::read(&path).unwrap();
        log.append(b"torn body\nwith lines\n").unwrap();
        log.sync().unwrap();
        let full = std::fs::read(&path).unwrap();
        for cut in good.len()..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (log, seen) = reopen(dir.path());
            assert_eq!(seen.len(), 1, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good.len() as u64);
            let next = log.append(b"next\n").unwrap();
            assert_eq!(log.read(next, 0..5).unwrap(), b"next\n");
        }
        // A flipped byte in a whole frame is found too, and so is a tail of
        // zeros (a file system that extended the file but lost the data).
        let mut bad = full.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(reopen(dir.path()).1.len(), 1);
        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 64]);
        std::fs::write(&path, &zeros).unwrap();
        assert_eq!(reopen(dir.path()).1.len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good.len() as u64);
    }
}
