//! Tokenization keys: named secrets loaded from the environment or files.
//!
//! Key material never appears in `Debug` output, errors or logs.

use std::fmt;

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// A named HMAC key. `Debug` prints the id only.
#[derive(Clone)]
pub struct Key {
    id: String,
    ephemeral: bool,
    /// HMAC-SHA256 keyed once (inner and outer pads absorbed), so a token
    /// costs only the message's blocks and one outer block.
    pads: Pads,
}

/// Where a key's material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding the key.
    Env(String),
    /// A file holding the key (one trailing newline is ignored), of at
    /// most [`crate::files::MAX_SECRET_FILE_BYTES`] bytes.
    File(std::path::PathBuf),
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
                    crate::files::read_capped(path, crate::files::MAX_SECRET_FILE_BYTES)
                        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
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
        Key {
            id: id.to_string(),
            ephemeral,
            pads: Pads::new(&material),
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
        self.pads.mac(feed)
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

/// SHA-256's initial state.
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// HMAC-SHA256 (RFC 2104) with the key absorbed once: the SHA-256 states
/// after the key's inner and outer pad blocks. A MAC starts from a copy of
/// the inner state, compresses the message's blocks from a stack buffer,
/// and ends with one outer block: the same two compressions for a short
/// message as the `hmac` crate's precomputed form, without its buffering
/// layers, which cost about a third as much as the compressions on the
/// tokens of the telemetry corpus. The `hmac` crate stays as the tests'
/// reference.
#[derive(Clone)]
pub(crate) struct Pads {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// One SHA-256 compression of `block` into `state`.
#[inline]
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

impl Pads {
    pub(crate) fn new(material: &[u8]) -> Pads {
        // Keys longer than a block are hashed first; shorter ones are
        // padded with zeros (RFC 2104, section 2).
        let mut key = [0u8; 64];
        if material.len() > 64 {
            key[..32].copy_from_slice(&Sha256::digest(material));
        } else {
            key[..material.len()].copy_from_slice(material);
        }
        let absorbed = |pad: u8| {
            let mut block = key;
            for b in &mut block {
                *b ^= pad;
            }
            let mut state = SHA256_IV;
            compress(&mut state, &block);
            state
        };
        Pads {
            inner: absorbed(0x36),
            outer: absorbed(0x5c),
        }
    }

    /// The MAC of the concatenation of the pieces `feed` hands over.
    pub(crate) fn mac(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> [u8; 32] {
        let mut state = self.inner;
        let mut block = [0u8; 64];
        let mut filled = 0usize;
        // Bytes hashed, the inner pad block included.
        let mut total = 64u64;
        feed(&mut |mut piece: &[u8]| {
            total += piece.len() as u64;
            while !piece.is_empty() {
                let take = (64 - filled).min(piece.len());
                block[filled..filled + take].copy_from_slice(&piece[..take]);
                filled += take;
                piece = &piece[take..];
                if filled == 64 {
                    compress(&mut state, &block);
                    filled = 0;
                }
            }
        });
        // SHA-256 padding: 0x80, zeros, the length in bits (big-endian) in
        // the last eight bytes, in one more block when they do not fit.
        block[filled] = 0x80;
        block[filled + 1..].fill(0);
        if filled >= 56 {
            compress(&mut state, &block);
            block = [0u8; 64];
        }
        block[56..].copy_from_slice(&(total * 8).to_be_bytes());
        compress(&mut state, &block);
        // The outer hash: the outer pad block (absorbed), then the inner
        // digest, padded, in one block.
        let mut outer = [0u8; 64];
        outer[..32].copy_from_slice(&digest_bytes(&state));
        outer[32] = 0x80;
        outer[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        let mut state = self.outer;
        compress(&mut state, &outer);
        digest_bytes(&state)
    }
}

/// A SHA-256 state as the digest's 32 bytes (each word big-endian).
fn digest_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (bytes, w) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&w.to_be_bytes());
    }
    out
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
        let k = Key::load("a", &KeySource::File(dir.clone())).unwrap();
        // The trailing newline of the file is not part of the key.
        assert_eq!(
            k.hmac(b"m"),
            crate::actions::hmac(b"0123456789abcdef", b"m")
        );
        std::fs::write(&dir, b"short\n").unwrap();
        let e = Key::load("a", &KeySource::File(dir.clone())).unwrap_err();
        assert!(e.contains("at least 16") && !e.contains("short"));
        // Up to the cap a file is a key; one byte more is refused, and
        // the error shows none of it.
        let cap = crate::files::MAX_SECRET_FILE_BYTES as usize;
        std::fs::write(&dir, vec![b'x'; cap]).unwrap();
        assert!(Key::load("a", &KeySource::File(dir.clone())).is_ok());
        std::fs::write(&dir, vec![b'x'; cap + 1]).unwrap();
        let e = Key::load("a", &KeySource::File(dir.clone())).unwrap_err();
        assert!(
            e.ends_with(": larger than 65536 bytes") && !e.contains("xx"),
            "{e}"
        );
        std::fs::remove_file(&dir).unwrap();
        assert!(valid_id("k2024") && !valid_id("K1") && !valid_id("") && !valid_id("a_b"));
        assert_ne!(
            Key::ephemeral("e").hmac(b"m"),
            Key::ephemeral("e").hmac(b"m")
        );
    }

    #[test]
    fn mac_equals_the_hmac_crate() {
        use hmac::{Hmac, Mac};
        // Keys shorter than, equal to and longer than a block; messages of
        // every length around the padding edges (55, 56, 64 bytes and their
        // multiples), fed whole and in uneven pieces.
        let mut next = crate::test_texts::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut byte = move || next() as u8;
        let mut checked = 0;
        for key_len in [16, 32, 63, 64, 65, 100, 200] {
            let material: Vec<u8> = (0..key_len).map(|_| byte()).collect();
            let key = Key::from_bytes("k", &material);
            for msg_len in 0..300usize {
                let msg: Vec<u8> = (0..msg_len).map(|_| byte()).collect();
                let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&material).unwrap();
                reference.update(&msg);
                let want: [u8; 32] = reference.finalize().into_bytes().into();
                assert_eq!(key.hmac(&msg), want, "key {key_len} message {msg_len}");
                let step = 1 + msg_len % 13;
                let pieces = key.hmac_fed(|sink| msg.chunks(step).for_each(sink));
                assert_eq!(pieces, want, "key {key_len} message {msg_len} by {step}");
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 300);
        // RFC 4231, test case 2.
        let key = Key::from_bytes("k", b"Jefe");
        let mac = key.hmac(b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
