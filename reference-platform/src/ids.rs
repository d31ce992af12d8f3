//! Opaque identifiers and credentials: ids are 12 random bytes (hex) behind a short type
//! prefix, never sequential; tokens are 32 random bytes (base64url) of which only a SHA-256 is
//! stored; passwords are stored as salted SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random id such as `lrn_5f0c…`.
pub fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}_{}", hex::encode(b))
}

/// A new bearer token.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random password for a supervisor account.
pub fn new_password() -> String {
    let mut b = [0u8; 18];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// `(salt, hash)` of a password.
pub fn hash_password(password: &str) -> (String, String) {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = hex::encode(salt);
    let hash = salted(&salt, password);
    (salt, hash)
}

/// Whether `password` matches the stored salt and hash (constant-time comparison).
pub fn password_matches(salt: &str, hash: &str, password: &str) -> bool {
    constant_time_eq(salted(salt, password).as_bytes(), hash.as_bytes())
}

fn salted(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
