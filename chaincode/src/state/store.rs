//! The chaincode state as ordered key-value entries.
//!
//! The ledger keeps no large collection in memory: every table is a key
//! range in a [`StateStore`] (sled in a node, a `BTreeMap` in tests and
//! benchmarks), read through. What a block changes is held in an overlay
//! ([`Kv`]) until the node has written it, in one atomic batch, with the
//! block; only then is the overlay dropped ([`Kv::settle`]). Reads see the
//! overlay first, so `check` and `apply` of later transactions of a block
//! see the earlier ones.
//!
//! Keys are a table's prefix byte, then the key's parts in an order-
//! preserving encoding ([`Key`]): integers big-endian, strings with `00`
//! escaped as `00 FF` and ended by `00`, fixed-size byte arrays as they
//! are. A tuple's encoding is its parts' concatenation, so a prefix of a
//! tuple selects a range (all the holdings of one enterprise). Values are
//! CBOR (serde).

use crate::hash::Hash;
use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

/// Where the committed state lives. Reads never fail: a store that cannot
/// read what it wrote is beyond repair, and an adapter stops the node.
pub trait StateStore: Send + Sync + fmt::Debug {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Entries with `from <= key < to`, in key order.
    fn scan<'a>(&'a self, from: &[u8], to: &[u8]) -> Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a>;
}

/// A block's (or several blocks') changes: key → new value, or `None` for
/// a deletion, in key order.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A store in memory, for tests, simulators and benchmarks.
#[derive(Debug, Default)]
pub struct MemStore(RwLock<BTreeMap<Vec<u8>, Vec<u8>>>);

impl MemStore {
    pub fn write(&self, changes: &Changes) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        for (k, v) in changes {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
    }

    /// Entries and their key and value bytes.
    pub fn size(&self) -> (usize, usize) {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        (map.len(), map.iter().map(|(k, v)| k.len() + v.len()).sum())
    }
}

impl StateStore for MemStore {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }
    fn scan<'a>(&'a self, from: &[u8], to: &[u8]) -> Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let entries: Vec<_> = map.range::<[u8], _>((Bound::Included(from), Bound::Excluded(to))).map(|(k, v)| (k.clone(), v.clone())).collect();
        Box::new(entries.into_iter())
    }
}

/// The committed store and the changes not yet written to it.
#[derive(Clone)]
pub struct Kv {
    base: Arc<dyn StateStore>,
    /// Set when `base` is a [`MemStore`] this state owns: `settle` writes
    /// the changes there itself.
    mem: Option<Arc<MemStore>>,
    changes: Changes,
    /// The committed keys changed since the state tree was last updated
    /// (the block being applied): [`super::merkle`].
    touched: BTreeSet<Vec<u8>>,
}

impl fmt::Debug for Kv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kv({:?}, {} changes)", self.base, self.changes.len())
    }
}

impl Default for Kv {
    fn default() -> Self {
        Kv::in_memory()
    }
}

impl Kv {
    pub fn in_memory() -> Kv {
        let mem = Arc::new(MemStore::default());
        Kv { base: mem.clone(), mem: Some(mem), changes: Changes::new(), touched: BTreeSet::new() }
    }

    pub fn over(base: Arc<dyn StateStore>) -> Kv {
        Kv { base, mem: None, changes: Changes::new(), touched: BTreeSet::new() }
    }

    /// The in-memory store, when this state keeps its own.
    pub fn mem_store(&self) -> Option<&MemStore> {
        self.mem.as_deref()
    }

    pub fn get_raw(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.changes.get(key) {
            Some(v) => v.clone(),
            None => self.base.get(key),
        }
    }

    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.touch(&key);
        self.changes.insert(key, Some(value));
    }

    pub fn delete_raw(&mut self, key: Vec<u8>) {
        self.touch(&key);
        self.changes.insert(key, None);
    }

    fn touch(&mut self, key: &[u8]) {
        if super::merkle::committed(key) && !self.touched.contains(key) {
            self.touched.insert(key.to_vec());
        }
    }

    /// The committed keys changed since the last call.
    pub fn take_touched(&mut self) -> BTreeSet<Vec<u8>> {
        std::mem::take(&mut self.touched)
    }

    /// Entries with `from <= key < to`: the store's, overlaid by the changes.
    pub fn scan_raw<'a>(&'a self, from: &[u8], to: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + use<'a> {
        let over = self.changes.range::<[u8], _>((Bound::Included(from), Bound::Excluded(to))).peekable();
        Merge { base: self.base.scan(from, to).peekable(), over }
    }

    /// The changes not yet written to the store.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The changes are in the store now (the node wrote them with their
    /// block; an in-memory state writes them here): reads go there.
    pub fn settle(&mut self) {
        if let Some(mem) = &self.mem {
            mem.write(&self.changes);
        }
        self.changes.clear();
    }
}

struct Merge<'a, B: Iterator<Item = (Vec<u8>, Vec<u8>)>> {
    base: std::iter::Peekable<B>,
    over: std::iter::Peekable<std::collections::btree_map::Range<'a, Vec<u8>, Option<Vec<u8>>>>,
}

impl<B: Iterator<Item = (Vec<u8>, Vec<u8>)>> Iterator for Merge<'_, B> {
    type Item = (Vec<u8>, Vec<u8>);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.base.peek(), self.over.peek()) {
                (None, None) => return None,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((b, _)), Some((o, _))) => b.cmp(o),
            };
            match order {
                std::cmp::Ordering::Less => return self.base.next(),
                std::cmp::Ordering::Equal => {
                    self.base.next();
                }
                std::cmp::Ordering::Greater => {}
            }
            if let Some((k, Some(v))) = self.over.next() {
                return Some((k.clone(), v.clone()));
            }
        }
    }
}

/// A part of a table key, encoded so that byte order is the value's order.
pub trait Key: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(input: &mut &[u8]) -> Option<Self>;
}

/// The next `N` bytes, or `None` when fewer are left.
fn take_array<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = input.split_first_chunk::<N>()?;
    *input = rest;
    Some(*head)
}

impl Key for () {
    fn put(&self, _: &mut Vec<u8>) {}
    fn take(_: &mut &[u8]) -> Option<Self> {
        Some(())
    }
}

impl Key for u8 {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        take_array(input).map(|[b]| b)
    }
}

impl Key for u32 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        take_array(input).map(u32::from_be_bytes)
    }
}

impl Key for u64 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        take_array(input).map(u64::from_be_bytes)
    }
}

impl Key for [u8; 32] {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        take_array(input)
    }
}

impl Key for Hash {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out)
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        <[u8; 32]>::take(input).map(Hash)
    }
}

impl Key for String {
    fn put(&self, out: &mut Vec<u8>) {
        for &b in self.as_bytes() {
            out.push(b);
            if b == 0 {
                out.push(0xFF);
            }
        }
        out.push(0);
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        let mut bytes = Vec::new();
        let mut i = 0;
        loop {
            match (input.get(i)?, input.get(i + 1)) {
                (0, Some(0xFF)) => {
                    bytes.push(0);
                    i += 2;
                }
                (0, _) => break,
                (b, _) => {
                    bytes.push(*b);
                    i += 1;
                }
            }
        }
        *input = &input[i + 1..];
        String::from_utf8(bytes).ok()
    }
}

impl Key for NaiveDate {
    fn put(&self, out: &mut Vec<u8>) {
        // Days from the Common Era, sign bit flipped: negative years sort first.
        ((chrono::Datelike::num_days_from_ce(self) as u32) ^ 0x8000_0000).put(out)
    }
    fn take(input: &mut &[u8]) -> Option<Self> {
        u32::take(input).and_then(|d| NaiveDate::from_num_days_from_ce_opt((d ^ 0x8000_0000) as i32))
    }
}

macro_rules! tuple_key {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Key),+> Key for ($($t,)+) {
            fn put(&self, out: &mut Vec<u8>) {
                $(self.$i.put(out);)+
            }
            fn take(input: &mut &[u8]) -> Option<Self> {
                Some(($($t::take(input)?,)+))
            }
        }
    };
}
tuple_key!(A 0, B 1);
tuple_key!(A 0, B 1, C 2);
tuple_key!(A 0, B 1, C 2, D 3);
tuple_key!(A 0, B 1, C 2, D 3, E 4);

/// A value that does not decode as its table's type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state table `{table}`: a stored value does not decode: {reason}")]
pub struct DecodeError {
    pub table: &'static str,
    pub reason: String,
}

/// A typed table: keys `K` under one prefix byte, values `V`.
pub struct Table<K, V> {
    prefix: u8,
    name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Table<K, V> {
    pub const fn new(prefix: u8, name: &'static str) -> Self {
        Table { prefix, name, _types: PhantomData }
    }
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    pub fn key(&self, k: &K) -> Vec<u8> {
        let mut out = vec![self.prefix];
        k.put(&mut out);
        out
    }

    /// The key range of every entry whose key starts with `prefix`'s parts.
    pub fn range_of<P: Key>(&self, prefix: &P) -> (Vec<u8>, Vec<u8>) {
        let mut from = vec![self.prefix];
        prefix.put(&mut from);
        let to = successor(&from);
        (from, to)
    }

    #[allow(
        clippy::expect_used,
        reason = "ledger values are serde derives over types whose binary serialization cannot fail (cbor4ii is not human-readable: hashes are bytes, canonical JSON its text); cbor4ii's Vec writer fails only when memory runs out"
    )]
    pub fn encode(&self, v: &V) -> Vec<u8> {
        cbor4ii::serde::to_vec(Vec::new(), v).expect("ledger values serialize")
    }

    /// Decodes a value that did not come from this node's own store (a
    /// snapshot chunk from a peer): one that does not decode is an error.
    pub fn try_decode(&self, bytes: &[u8]) -> Result<V, DecodeError> {
        cbor4ii::serde::from_slice(bytes).map_err(|e| DecodeError { table: self.name, reason: e.to_string() })
    }

    /// Decodes a stored value; one this release cannot read is a store
    /// beyond repair.
    pub fn decode(&self, bytes: &[u8]) -> V {
        self.try_decode(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn decode_key(&self, key: &[u8]) -> K {
        let mut rest = &key[1..];
        K::take(&mut rest).unwrap_or_else(|| panic!("state table `{}`: a stored key does not decode", self.name))
    }
}

/// The smallest byte string greater than every string starting with `prefix`.
fn successor(prefix: &[u8]) -> Vec<u8> {
    let mut to = prefix.to_vec();
    while let Some(last) = to.pop() {
        if last < 0xFF {
            to.push(last + 1);
            return to;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

impl Kv {
    pub fn get<K: Key, V: Serialize + DeserializeOwned>(&self, t: &Table<K, V>, k: &K) -> Option<V> {
        self.get_raw(&t.key(k)).map(|b| t.decode(&b))
    }

    pub fn contains<K: Key, V: Serialize + DeserializeOwned>(&self, t: &Table<K, V>, k: &K) -> bool {
        self.get_raw(&t.key(k)).is_some()
    }

    pub fn put<K: Key, V: Serialize + DeserializeOwned>(&mut self, t: &Table<K, V>, k: &K, v: &V) {
        let value = t.encode(v);
        self.put_raw(t.key(k), value);
    }

    pub fn delete<K: Key, V: Serialize + DeserializeOwned>(&mut self, t: &Table<K, V>, k: &K) {
        self.delete_raw(t.key(k));
    }

    /// Entries whose key starts with `prefix`'s parts, in key order.
    pub fn scan<'a, K: Key, V: Serialize + DeserializeOwned, P: Key>(
        &'a self,
        t: &'a Table<K, V>,
        prefix: &P,
    ) -> impl Iterator<Item = (K, V)> + use<'a, K, V, P> {
        let (from, to) = t.range_of(prefix);
        self.scan_raw(&from, &to).map(move |(k, v)| (t.decode_key(&k), t.decode(&v)))
    }

    /// Every entry of a table, in key order.
    pub fn scan_all<'a, K: Key, V: Serialize + DeserializeOwned>(&'a self, t: &'a Table<K, V>) -> impl Iterator<Item = (K, V)> + use<'a, K, V> {
        self.scan(t, &())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table<(String, u32), String> = Table::new(1, "t");

    #[test]
    fn keys_sort_as_their_values_and_round_trip() {
        let keys = [("", 0u32), ("a", 7), ("a\0", 1), ("a\0b", 0), ("ab", 0), ("b", 2)];
        let enc: Vec<Vec<u8>> = keys.iter().map(|(s, n)| T.key(&(s.to_string(), *n))).collect();
        let mut sorted = enc.clone();
        sorted.sort();
        assert_eq!(enc, sorted);
        for (k, e) in keys.iter().zip(&enc) {
            assert_eq!(T.decode_key(e), (k.0.to_string(), k.1));
        }
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let mut b = Vec::new();
        d.put(&mut b);
        assert_eq!(NaiveDate::take(&mut b.as_slice()), Some(d));
    }

    #[test]
    fn scans_see_the_overlay_over_the_store_and_deletions() {
        let mut kv = Kv::in_memory();
        for (s, n) in [("a", 1), ("a", 2), ("a", 3), ("b", 1)] {
            kv.put(&T, &(s.to_string(), n), &format!("{s}{n}"));
        }
        kv.settle();
        kv.put(&T, &("a".into(), 0), &"new".into());
        kv.put(&T, &("a".into(), 2), &"changed".into());
        kv.delete(&T, &("a".into(), 3));
        let a: Vec<String> = kv.scan(&T, &"a".to_string()).map(|(_, v)| v).collect();
        assert_eq!(a, ["new", "a1", "changed"]);
        assert_eq!(kv.scan_all(&T).count(), 4);
        kv.settle();
        assert_eq!(kv.get(&T, &("a".into(), 2)).as_deref(), Some("changed"));
        assert!(!kv.contains(&T, &("a".into(), 3)));
    }
}
