//! Body-log compaction: the bodies of proposals that never became final
//! are reclaimed, so the log holds little more than the finalized chain.
//!
//! Every frame nothing points at is listed in `body_garbage` (segment ‖
//! frame offset → frame bytes) when a commit drops the proposal it held,
//! or when a start reads a frame of a final height that is not the block
//! there. A sealed segment wholly before the bodies not yet final, at least
//! half of it garbage, is compacted in three steps, each durable before the
//! next:
//!
//! 1. *Copying* (marker `bodies_compacting` = 1 ‖ segment ‖ where the log
//!    ended, flushed first): every body in it that `block_bodies` points at
//!    is appended to the tail, then the tail is fsynced.
//! 2. One sled transaction points `block_bodies` at the copies, drops the
//!    segment's garbage entries and sets the marker to *retiring* (2 ‖
//!    segment); flushed.
//! 3. The segment file is deleted, then the marker.
//!
//! A crash in step 1 leaves copies nothing points at: the next start reads
//! the log from where the copies began and counts them as garbage. A crash
//! after step 2 leaves a file nothing points at: the next start deletes it.
//! Finalized heights' entries in `block_bodies` are written once by their
//! commit and changed only here (one compaction at a time), and nothing
//! before `bodies_from` is appended to or above the head, so a compaction
//! needs no lock against commits; a read that found a body's old place a
//! moment before step 2 still reads it (the file's handle is kept open
//! until the next compaction).

use super::body_log::{BodyLog, BodyPos};
use super::chain::{ChainStore, StoreError, bodies_from, corrupt, parse_header};
use sled::Transactional;
use std::collections::BTreeMap;

const COMPACTING: &[u8] = b"bodies_compacting";

/// A compaction under way, as recorded in `meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// Bodies of `segment` are being copied to the log from `copies_from`.
    Copying { segment: u64, copies_from: (u64, u64) },
    /// Nothing points into `segment` any more; it is being deleted.
    Retiring { segment: u64 },
}

impl Marker {
    fn encode(&self) -> Vec<u8> {
        match *self {
            Marker::Copying { segment, copies_from: (s, o) } => [&[1u8][..], &segment.to_be_bytes(), &s.to_be_bytes(), &o.to_be_bytes()].concat(),
            Marker::Retiring { segment } => [&[2u8][..], &segment.to_be_bytes()].concat(),
        }
    }

    pub(super) fn read(meta: &sled::Tree) -> Result<Option<Marker>, StoreError> {
        let Some(v) = meta.get(COMPACTING)? else { return Ok(None) };
        let u = |i: usize| v.get(i..i + 8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
        let marker = match (v.first(), v.len()) {
            (Some(1), 25) => u(1).zip(u(9)).zip(u(17)).map(|((segment, s), o)| Marker::Copying { segment, copies_from: (s, o) }),
            (Some(2), 9) => u(1).map(|segment| Marker::Retiring { segment }),
            _ => None,
        };
        marker.map(Some).ok_or_else(|| corrupt("meta", format!("bodies_compacting of {} bytes", v.len())))
    }

    fn write(&self, meta: &sled::Tree) -> Result<(), StoreError> {
        meta.insert(COMPACTING, self.encode())?;
        Ok(())
    }

    /// Where copies nothing may point at yet begin.
    pub(super) fn copies_from(&self) -> Option<(u64, u64)> {
        match self {
            Marker::Copying { copies_from, .. } => Some(*copies_from),
            Marker::Retiring { .. } => None,
        }
    }
}

/// The `body_garbage` entry of the frame whose payload is at `pos`.
pub(super) fn garbage_entry(pos: BodyPos) -> ([u8; 16], [u8; 8]) {
    let (segment, offset) = BodyLog::frame_start(pos);
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&segment.to_be_bytes());
    key[8..].copy_from_slice(&offset.to_be_bytes());
    (key, BodyLog::frame_len(pos).to_be_bytes())
}

/// What one compaction reclaimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    pub segment: u64,
    /// The deleted segment's size.
    pub segment_bytes: u64,
    /// Bodies of final blocks copied out of it, and their bytes.
    pub moved_bodies: usize,
    pub moved_bytes: u64,
}

/// Where a test stops a compaction, as a crash would.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Never,
    #[cfg(test)]
    AfterCopy,
    #[cfg(test)]
    AfterUpdate,
}

impl ChainStore {
    /// Garbage bytes per body-log segment.
    fn dead_bytes(&self) -> Result<BTreeMap<u64, u64>, StoreError> {
        let mut dead = BTreeMap::new();
        for item in self.body_garbage.iter() {
            let (k, v) = item?;
            let (Some(segment), Ok(bytes)) = (k.get(..8), <[u8; 8]>::try_from(v.as_ref())) else {
                return Err(corrupt("body_garbage", format!("entry of {} and {} bytes", k.len(), v.len())));
            };
            *dead.entry(u64::from_be_bytes(segment.try_into().expect("8 bytes"))).or_default() += u64::from_be_bytes(bytes);
        }
        Ok(dead)
    }

    /// Body-log bytes now garbage, and bytes in the log's files.
    pub fn body_log_usage(&self) -> Result<(u64, u64), StoreError> {
        let dead = self.dead_bytes()?.values().sum();
        let (tail, tail_len) = self.bodies.end()?;
        let sealed: u64 = self.bodies.sealed_segments()?.iter().filter(|(s, _)| *s != tail).map(|(_, b)| b).sum();
        Ok((dead, sealed + tail_len))
    }

    /// Compacts one sealed segment of the body log if at least half of it
    /// is garbage; `None` when none is.
    pub fn compact_bodies(&self) -> Result<Option<Compaction>, StoreError> {
        self.compact_until(Stop::Never)
    }

    fn compact_until(&self, stop: Stop) -> Result<Option<Compaction>, StoreError> {
        #[cfg(not(test))]
        let Stop::Never = stop;
        let _one = self.compaction.lock().map_err(|e| corrupt("bodies", e))?;
        let Some((first_unfinal, _)) = bodies_from(&self.meta)? else { return Ok(None) };
        let head = self.head()?;
        let dead = self.dead_bytes()?;
        let candidate = self
            .bodies
            .sealed_segments()?
            .into_iter()
            .find(|(segment, size)| *segment < first_unfinal && dead.get(segment).is_some_and(|d| 2 * d >= *size));
        let Some((segment, segment_bytes)) = candidate else { return Ok(None) };

        // 1. Copy what is pointed at.
        Marker::Copying { segment, copies_from: self.bodies.end()? }.write(&self.meta)?;
        self.db.flush()?;
        let mut moved: Vec<(u64, BodyPos)> = Vec::new();
        let copied = self
            .bodies
            .read_segment(segment, |pos, payload| {
                let (header, _) = parse_header(payload)?;
                if header.height > head {
                    return Err(corrupt("bodies", format!("a body above the head (height {}) before the bodies not yet final", header.height)));
                }
                if self.place_of(header.height)?.is_some_and(|p| p.pos == pos) {
                    moved.push((header.height, self.bodies.append(payload)?));
                }
                Ok(())
            })
            .and_then(|()| self.bodies.sync());
        if let Err(e) = copied {
            // The copies made are garbage; the segment stays as it was.
            for (_, pos) in &moved {
                let (key, value) = garbage_entry(*pos);
                self.body_garbage.insert(key, &value)?;
            }
            self.meta.remove(COMPACTING)?;
            return Err(e);
        }
        #[cfg(test)]
        if stop == Stop::AfterCopy {
            return Ok(None);
        }

        // 2. Point at the copies, in one transaction with the marker.
        let mut places = Vec::with_capacity(moved.len());
        for (height, pos) in &moved {
            let mut place = self.place_of(*height)?.ok_or_else(|| corrupt("block_bodies", format!("height {height} lost its body")))?;
            place.pos = *pos;
            places.push((height.to_be_bytes(), place.encode()));
        }
        let garbage: Vec<sled::IVec> = self.body_garbage.scan_prefix(segment.to_be_bytes()).keys().collect::<Result<_, _>>()?;
        let retiring = Marker::Retiring { segment }.encode();
        (&self.block_bodies, &self.body_garbage, &self.meta)
            .transaction(|(block_bodies, body_garbage, meta)| {
                for (height, place) in &places {
                    block_bodies.insert(&height[..], place.as_slice())?;
                }
                for key in &garbage {
                    body_garbage.remove(key)?;
                }
                meta.insert(COMPACTING, retiring.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => corrupt("block_bodies", "compaction aborted"),
            })?;
        self.db.flush()?;
        #[cfg(test)]
        if stop == Stop::AfterUpdate {
            return Ok(None);
        }

        // 3. Delete the segment.
        self.finish_compaction(Marker::Retiring { segment })?;
        let moved_bytes = moved.iter().map(|(_, p)| BodyLog::frame_len(*p)).sum();
        Ok(Some(Compaction { segment, segment_bytes, moved_bodies: moved.len(), moved_bytes }))
    }

    /// Ends a compaction a crash interrupted (found at open), or step 3.
    pub(super) fn finish_compaction(&self, marker: Marker) -> Result<(), StoreError> {
        if let Marker::Retiring { segment } = marker {
            self.bodies.retire(segment)?;
        }
        // Copies of a compaction cut short in step 1 were counted as garbage
        // by the start's pass over the log.
        self.meta.remove(COMPACTING)?;
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::chain::body_payload;
    use super::super::chain::test_support::*;
    use super::*;
    use crate::block::Block;
    use coldchain_chaincode::{Hash, State};
    use std::path::Path;
    use std::sync::Arc;

    const SEGMENT: u64 = 16 << 10;

    fn open(dir: &Path) -> (ChainStore, State) {
        let store = ChainStore::open_with(dir, 8 << 20, SEGMENT).unwrap();
        let state = State::open_store(Arc::new(store.state_tree()), Default::default());
        (store, state)
    }

    /// Commits `n` blocks from height `from`, each after this node voted for
    /// a proposal at its height that lost (a larger body, as a leader that
    /// timed out would have proposed).
    fn chain_with_losers(store: &ChainStore, state: &mut State, from: u64, n: u64, parent: &mut Hash) -> Vec<Block> {
        let mut blocks = Vec::new();
        for height in from..from + n {
            store.put_proposal(&block(height, *parent, 30)).unwrap();
            let b = block(height, *parent, 10);
            store.put_proposal(&b).unwrap();
            commit(store, state, &b);
            *parent = b.header.hash();
            blocks.push(b);
        }
        blocks
    }

    fn body_bytes(blocks: &[Block]) -> u64 {
        blocks.iter().map(|b| super::super::body_log::FRAME_HEADER + body_payload(b).0.len() as u64).sum()
    }

    fn compact_all(store: &ChainStore) -> usize {
        std::iter::from_fn(|| store.compact_bodies().unwrap()).count()
    }

    fn assert_reads(store: &ChainStore, blocks: &[Block]) {
        for b in blocks {
            assert_eq!(store.block(b.header.height).unwrap().unwrap().block, *b, "height {}", b.header.height);
            assert_eq!(store.tx_at(b.header.height, 7).unwrap().as_ref(), b.txs.get(7));
        }
    }

    /// Before compaction the log kept every losing proposal's body for ever
    /// (here three quarters of its bytes); after it, the log is the final
    /// blocks' bodies plus at most the two newest segments, every block
    /// reads back the same, also after a restart.
    #[test]
    fn bodies_of_proposals_that_never_became_final_are_reclaimed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut state) = open(dir.path());
        let mut parent = Hash::ZERO;
        let blocks = chain_with_losers(&store, &mut state, 1, 60, &mut parent);
        let live = body_bytes(&blocks);
        let (dead, total) = store.body_log_usage().unwrap();
        assert!(dead * 2 > total, "{dead} of {total} bytes garbage");
        let compacted = compact_all(&store);
        assert!(compacted >= 4, "{compacted} segments compacted");
        let (dead_after, total_after) = store.body_log_usage().unwrap();
        assert!(total_after <= live + 2 * SEGMENT, "{total_after} bytes in the log for {live} bytes of final bodies (was {total})");
        assert!(dead_after < SEGMENT, "{dead_after} bytes of garbage left");
        assert_reads(&store, &blocks);
        drop((store, state));
        let (store, _state) = open(dir.path());
        assert_reads(&store, &blocks);
        assert_eq!(store.compact_bodies().unwrap(), None);
    }

    /// A crash in each step of a compaction: the restart finishes or undoes
    /// it, every block reads back, and the garbage (the copies nothing
    /// points at, or the old segment) is reclaimed.
    #[test]
    fn a_compaction_cut_short_by_a_crash_loses_nothing() {
        for stop in [Stop::AfterCopy, Stop::AfterUpdate] {
            let dir = tempfile::tempdir().unwrap();
            let (store, mut state) = open(dir.path());
            let mut parent = Hash::ZERO;
            let mut blocks = chain_with_losers(&store, &mut state, 1, 40, &mut parent);
            assert_eq!(store.compact_until(stop).unwrap(), None);
            assert!(Marker::read(&store.meta).unwrap().is_some(), "a compaction was under way");
            let segments_before: Vec<u64> = store.bodies.sealed_segments().unwrap().iter().map(|(s, _)| *s).collect();
            drop((store, state));
            let (store, mut state) = open(dir.path());
            assert_eq!(Marker::read(&store.meta).unwrap(), None);
            if stop == Stop::AfterUpdate {
                let segments: Vec<u64> = store.bodies.sealed_segments().unwrap().iter().map(|(s, _)| *s).collect();
                assert_eq!(segments.len() + 1, segments_before.len(), "the restart deletes the segment nothing points into");
            }
            assert_reads(&store, &blocks);
            // The chain goes on, and everything dead is reclaimed.
            blocks.extend(chain_with_losers(&store, &mut state, 41, 20, &mut parent));
            compact_all(&store);
            let (dead, total) = store.body_log_usage().unwrap();
            assert!(total <= body_bytes(&blocks) + 2 * SEGMENT, "{total} bytes, {dead} garbage");
            assert_reads(&store, &blocks);
        }
    }

    /// A body not yet final is never moved or dropped, however much garbage
    /// is around it: a segment is compacted only wholly before the bodies
    /// above the head.
    #[test]
    fn bodies_not_yet_final_stay_where_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut state) = open(dir.path());
        let mut parent = Hash::ZERO;
        let blocks = chain_with_losers(&store, &mut state, 1, 5, &mut parent);
        let waiting = block(6, parent, 10);
        store.put_proposal(&waiting).unwrap();
        // Losing proposals pile up above it (views that time out).
        for height in 6..60 {
            store.put_proposal(&block(height, Hash([height as u8; 32]), 30)).unwrap();
        }
        compact_all(&store);
        drop((store, state));
        let (store, mut state) = open(dir.path());
        let proposals = store.proposals().unwrap();
        assert_eq!(proposals.len(), 55);
        assert!(proposals.contains(&waiting));
        commit(&store, &mut state, &waiting);
        assert_reads(&store, &blocks);
        assert_eq!(store.block(6).unwrap().unwrap().block, waiting);
    }
}
