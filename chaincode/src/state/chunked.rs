//! A growable list stored in fixed-size chunks: pushing never copies what
//! is already there. The ledger's movement table grows to millions of
//! entries; a `Vec` would copy all of them each time it doubles, stalling
//! the block being applied for hundreds of milliseconds.

use serde::{Serialize, Serializer};
use std::ops::{Index, IndexMut};

/// Entries per chunk.
const CHUNK: usize = 1 << 14;

#[derive(Clone, Debug)]
pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries the allocated chunks hold.
    pub fn capacity(&self) -> usize {
        self.chunks.len() * CHUNK
    }

    pub fn push(&mut self, value: T) {
        if self.len == self.capacity() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(value);
        self.len += 1;
    }

    pub fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len))?;
        for item in self.iter() {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_like_a_vec_and_serializes_the_same() {
        let mut c = Chunked::default();
        let v: Vec<u32> = (0..(CHUNK as u32 * 2 + 5)).collect();
        for x in &v {
            c.push(*x);
        }
        assert_eq!(c.len(), v.len());
        assert_eq!(c[CHUNK + 3], v[CHUNK + 3]);
        assert_eq!(c.last(), v.last());
        assert_eq!(c.get(v.len()), None);
        c[7] = 70;
        assert_eq!(c.iter().filter(|x| **x == 70).count(), 2);
        let mut w = v.clone();
        w[7] = 70;
        assert_eq!(serde_json::to_string(&c).unwrap(), serde_json::to_string(&w).unwrap());
    }
}
