//! The nonces of signed requests (seed 004's app-id requests and signed
//! reads), each accepted once per credential while its timestamp is inside
//! the window (±[`WINDOW_MS`]), and kept in the node's store so that a
//! restarted node refuses a replay as the running one did.
//!
//! A nonce is recorded only after the request's signature verified, so only
//! holders of a credential can add entries; entries expire two windows after
//! they were seen and are swept every [`super::limits::SWEEP_INTERVAL`]. A
//! full cache ([`MAX_NONCES`]) refuses new nonces until old ones expire
//! rather than forget any inside the window.

use super::envelope::{ApiError, ErrorCode};
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::Mutex;

/// How far a request's timestamp may be from the node's clock.
pub const WINDOW_MS: i64 = 300_000;
/// Nonces remembered at most.
pub const MAX_NONCES: usize = 1_000_000;

pub struct NonceCache {
    seen: Mutex<HashMap<String, i64>>,
    store: Option<sled::Tree>,
    /// When expired nonces were last dropped.
    swept_ms: std::sync::atomic::AtomicI64,
}

/// How often [`NonceCache::first_use`] drops expired nonces.
const SWEEP_MS: i64 = 10_000;

/// A nonce seen once, by (kind, credential, nonce): `app\0APPID\0NONCE`,
/// `read\0PUBLIC_KEY\0NONCE`.
fn key(scope: &str, credential: &str, nonce: &str) -> String {
    format!("{scope}\0{credential}\0{nonce}")
}

impl NonceCache {
    /// In memory only (unit tests, tools).
    pub fn in_memory() -> NonceCache {
        NonceCache { seen: Mutex::default(), store: None, swept_ms: Default::default() }
    }

    /// Backed by `tree`: loads the nonces that have not expired at `now_ms`
    /// and drops the rest.
    pub fn open(tree: sled::Tree, now_ms: i64) -> Result<NonceCache, sled::Error> {
        let mut seen = HashMap::new();
        for entry in tree.iter() {
            let (k, v) = entry?;
            let expires = v.as_ref().try_into().map(i64::from_be_bytes).unwrap_or(0);
            if expires > now_ms {
                seen.insert(String::from_utf8_lossy(&k).into_owned(), expires);
            } else {
                tree.remove(k)?;
            }
        }
        Ok(NonceCache { seen: Mutex::new(seen), store: Some(tree), swept_ms: now_ms.into() })
    }

    /// Records the nonce; false if it was used already inside the window.
    pub fn first_use(&self, scope: &str, credential: &str, nonce: &str, now_ms: i64) -> Result<bool, ApiError> {
        let mut seen = self.seen.lock().map_err(ApiError::internal)?;
        let swept = self.swept_ms.load(std::sync::atomic::Ordering::Relaxed);
        if now_ms - swept >= SWEEP_MS {
            self.swept_ms.store(now_ms, std::sync::atomic::Ordering::Relaxed);
            self.expire(&mut seen, now_ms)?;
        }
        if seen.len() >= MAX_NONCES {
            self.expire(&mut seen, now_ms)?;
            if seen.len() >= MAX_NONCES {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Overloaded,
                    "too many signed requests in the last 10 minutes; retry later",
                ));
            }
        }
        let k = key(scope, credential, nonce);
        if seen.contains_key(&k) {
            return Ok(false);
        }
        let expires = now_ms + 2 * WINDOW_MS;
        if let Some(tree) = &self.store {
            tree.insert(k.as_bytes(), &expires.to_be_bytes()).map_err(ApiError::internal)?;
        }
        seen.insert(k, expires);
        Ok(true)
    }

    /// Forgets the nonces that expired by `now_ms`; answers how many are left.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let Ok(mut seen) = self.seen.lock() else { return 0 };
        if let Err(e) = self.expire(&mut seen, now_ms) {
            tracing::warn!(error = %e.message, "cannot sweep expired request nonces");
        }
        seen.len()
    }

    fn expire(&self, seen: &mut HashMap<String, i64>, now_ms: i64) -> Result<(), ApiError> {
        let expired: Vec<String> = seen.iter().filter(|(_, e)| **e <= now_ms).map(|(k, _)| k.clone()).collect();
        for k in expired {
            if let Some(tree) = &self.store {
                tree.remove(k.as_bytes()).map_err(ApiError::internal)?;
            }
            seen.remove(&k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_nonce_is_refused_until_it_expires_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let cache = NonceCache::open(db.open_tree("n").unwrap(), 0).unwrap();
        assert!(cache.first_use("app", "app-1", "0123456789", 1_000).unwrap());
        assert!(!cache.first_use("app", "app-1", "0123456789", 2_000).unwrap());
        assert!(cache.first_use("app", "app-2", "0123456789", 2_000).unwrap(), "nonces are per credential");
        assert!(cache.first_use("read", "app-1", "0123456789", 2_000).unwrap(), "and per kind");
        drop(cache);
        // Reopened (a restart): still refused inside the window, forgotten after it.
        let cache = NonceCache::open(db.open_tree("n").unwrap(), 3_000).unwrap();
        assert!(!cache.first_use("app", "app-1", "0123456789", 3_000).unwrap());
        assert_eq!(cache.sweep(1_000 + 2 * WINDOW_MS), 2);
        assert!(cache.first_use("app", "app-1", "0123456789", 1_000 + 2 * WINDOW_MS).unwrap());
        drop(cache);
        let reopened = NonceCache::open(db.open_tree("n").unwrap(), 10 * WINDOW_MS).unwrap();
        assert_eq!(reopened.sweep(10 * WINDOW_MS), 0);
        assert_eq!(db.open_tree("n").unwrap().len(), 0, "expired nonces leave the store");
    }
}
