//! Keys: generated, written to and read from key files; and, from the
//! consensus crate, votes signed and checked.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use ed25519_dalek::{SigningKey as SecretKey, VerifyingKey as PublicKey};

pub use coldchain_consensus::vote::{VoteKind, sign_vote, verify_vote, vote_message};

/// A key file as `coldchain keygen` writes it (mode 0600).
#[derive(Serialize, Deserialize)]
pub struct KeyFile {
    pub algorithm: String,
    pub public_key: String,
    pub secret_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("key file {path}: {rule}")]
    Invalid { path: String, rule: String },
}

pub fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand_core::OsRng.try_fill_bytes(&mut seed).expect("the OS random number generator is available");
    SigningKey::from_bytes(&seed)
}
use rand_core::TryRngCore as _;

/// Writes a key file readable by its owner only; refuses to overwrite.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    use std::io::Write;
    let file =
        KeyFile { algorithm: "ed25519".into(), public_key: hex::encode(key.verifying_key().to_bytes()), secret_key: hex::encode(key.to_bytes()) };
    let err = |source| KeyError::Write { path: path.display().to_string(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(err)?;
    f.write_all(serde_json::to_string_pretty(&file).expect("plain struct").as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)
}

/// Reads a key file, refusing one that others than its owner may read or
/// write (a secret key another account could copy).
pub fn read_key_file(path: &Path) -> Result<SigningKey, KeyError> {
    let invalid = |rule: &str| KeyError::Invalid { path: path.display().to_string(), rule: rule.into() };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(invalid(&format!(
                "its mode is {:o}: group and others may read or write it; a secret key is for its owner only (chmod 600 {})",
                mode & 0o777,
                path.display()
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(&format!("not a key file ({e})")))?;
    if file.algorithm != "ed25519" {
        return Err(invalid("`algorithm` must be \"ed25519\""));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(&file.secret_key, &mut seed).map_err(|_| invalid("`secret_key` must be 64 hex characters"))?;
    let key = SigningKey::from_bytes(&seed);
    if hex::encode(key.verifying_key().to_bytes()) != file.public_key {
        return Err(invalid("`public_key` does not match `secret_key`"));
    }
    Ok(key)
}

pub fn parse_public_key(hex_str: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut bytes).ok()?;
    let key = VerifyingKey::from_bytes(&bytes).ok()?;
    (!key.is_weak()).then_some(key)
}

/// A nonce for a transaction signed now: milliseconds since the epoch
/// (modulo 2^42) × 1000 plus a process-local counter, so one key's
/// submissions do not repeat one in practice; always ≤ 2^53 − 1.
pub fn fresh_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    ((ms % (1 << 42)) * 1000 + COUNTER.fetch_add(1, Ordering::Relaxed) % 1000) & coldchain_chaincode::transaction::MAX_NONCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = generate_key();
        write_key_file(&path, &key).unwrap();
        assert_eq!(read_key_file(&path).unwrap().to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(write_key_file(&path, &key).is_err(), "never overwrites a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_key_file(&path).unwrap_err().to_string();
            assert!(e.contains("644") && e.contains("chmod 600"), "{e}");
        }
    }
}
