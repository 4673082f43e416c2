//! Tokenization keys: named secrets loaded from the environment or files.
//!
//! Key material never appears in `Debug` output, errors or logs.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A named HMAC key. `Debug` prints the id only.
#[derive(Clone)]
pub struct Key {
    id: String,
    ephemeral: bool,
    /// HMAC-SHA256 keyed once (inner and outer pads absorbed); cloned per
    /// message, so a token costs only the message's blocks.
    mac: Hmac<Sha256>,
}

/// Where a key's material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding the key.
    Env(String),
    /// A file holding the key (one trailing newline is ignored).
    File(String),
}

/// The shortest key material accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

impl Key {
    /// Loads a key; errors name the source, never the material.
    ///
    /// # Errors
    ///
    /// A message when the source is missing, unreadable or too short.
    pub fn load(id: &str, source: &KeySource) -> Result<Key, String> {
        let material = match source {
            KeySource::Env(var) => match std::env::var_os(var) {
                Some(v) => v.into_encoded_bytes(),
                None => return Err(format!("environment variable {var} is not set")),
            },
            KeySource::File(path) => {
                let mut bytes =
                    std::fs::read(path).map_err(|e| format!("cannot read key file {path}: {e}"))?;
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                }
                bytes
            }
        };
        if material.len() < MIN_KEY_BYTES {
            return Err(format!(
                "key material must be at least {MIN_KEY_BYTES} bytes (got {})",
                material.len()
            ));
        }
        Ok(Key::with(id, material, false))
    }

    /// A fresh random key for this process only.
    pub fn ephemeral(id: &str) -> Key {
        let mut material = vec![0u8; 32];
        if getrandom::getrandom(&mut material).is_err() {
            // Fall back to time and address entropy; still unpredictable
            // enough for an ephemeral, per-process key, and never stable.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let a = &material as *const _ as usize as u128;
            material = crate::actions::hmac(&(t ^ (a << 64)).to_le_bytes(), b"redactor-ephemeral")
                .to_vec();
        }
        Key::with(id, material, true)
    }

    /// A key from raw bytes (tests and embedding applications).
    pub fn from_bytes(id: &str, material: &[u8]) -> Key {
        Key::with(id, material.to_vec(), false)
    }

    fn with(id: &str, material: Vec<u8>, ephemeral: bool) -> Key {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&material)
            .expect("HMAC accepts keys of any length");
        Key {
            id: id.to_string(),
            ephemeral,
            mac,
        }
    }

    /// HMAC-SHA256 of `msg` under this key.
    #[cfg(test)]
    pub(crate) fn hmac(&self, msg: &[u8]) -> [u8; 32] {
        self.hmac_fed(|sink| sink(msg))
    }

    /// HMAC-SHA256, under this key, of the message that `feed` hands to
    /// its sink in pieces (the MAC of their concatenation), so callers can
    /// normalise a text on the fly instead of building a normalised copy.
    pub(crate) fn hmac_fed(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> [u8; 32] {
        let mut m = self.mac.clone();
        feed(&mut |piece| m.update(piece));
        m.finalize().into_bytes().into()
    }

    /// The key id embedded in tokens.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this key was generated for this process only.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

/// Whether `id` is a valid key id: 1 to 16 of `[a-z0-9]`.
pub fn valid_id(id: &str) -> bool {
    (1..=16).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_material() {
        let k = Key::from_bytes("k1", b"super-secret-material-123");
        let d = format!("{k:?}");
        assert!(d.contains("k1") && !d.contains("super-secret"));
    }

    #[test]
    fn load_rules() {
        assert!(Key::load(
            "a",
            &KeySource::Env("REDACTOR_TEST_SURELY_UNSET_VAR".into())
        )
        .unwrap_err()
        .contains("not set"));
        let dir = std::env::temp_dir().join(format!("redactor-key-test-{}", std::process::id()));
        std::fs::write(&dir, b"0123456789abcdef\n").unwrap();
        let k = Key::load("a", &KeySource::File(dir.display().to_string())).unwrap();
        // The trailing newline of the file is not part of the key.
        assert_eq!(
            k.hmac(b"m"),
            crate::actions::hmac(b"0123456789abcdef", b"m")
        );
        std::fs::write(&dir, b"short\n").unwrap();
        let e = Key::load("a", &KeySource::File(dir.display().to_string())).unwrap_err();
        assert!(e.contains("at least 16") && !e.contains("short"));
        std::fs::remove_file(&dir).unwrap();
        assert!(valid_id("k2024") && !valid_id("K1") && !valid_id("") && !valid_id("a_b"));
        assert_ne!(
            Key::ephemeral("e").hmac(b"m"),
            Key::ephemeral("e").hmac(b"m")
        );
    }
}
