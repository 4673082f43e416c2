//! The transition table of [`crate::selector::MatchCache`]: (state set,
//! object key) -> value, in one open-addressing table.
//!
//! It is on the path of every object member the fast engine visits, so it
//! hashes and compares keys a machine word at a time, inline, instead of
//! through a general byte hasher and a `memcmp` call. The hash is seeded
//! once per process from the standard library's random hasher state, so
//! which keys share a bucket is not the same from one process to the next.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use redactor_scan::bytes::{half, word};

/// One cached transition. A key's length and first words (see [`Probe`])
/// are kept inline, so that keys of up to 16 bytes are compared without
/// following a pointer.
#[derive(Debug)]
struct Entry {
    hash: u64,
    words: [u64; 2],
    from: u32,
    len: u32,
    value: u32,
    /// The whole key, for keys longer than 16 bytes.
    long: Option<Box<[u8]>>,
}

/// Maps (set id, key bytes) to a `u32`.
#[derive(Debug)]
pub(crate) struct KeyTable {
    seed: [u64; 2],
    table: hashbrown::HashTable<Entry>,
    /// Bytes of the keys held in full (those over 16 bytes).
    long_bytes: usize,
}

impl Default for KeyTable {
    fn default() -> Self {
        static SEED: OnceLock<[u64; 2]> = OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            let s = std::collections::hash_map::RandomState::new();
            [s.hash_one(0u64), s.hash_one(1u64)]
        });
        KeyTable {
            seed,
            table: hashbrown::HashTable::new(),
            long_bytes: 0,
        }
    }
}

/// A key ready to be looked up: its hash and the words it is compared by.
struct Probe<'k> {
    hash: u64,
    words: [u64; 2],
    from: u32,
    key: &'k [u8],
}

impl Probe<'_> {
    #[inline(always)]
    fn matches(&self, e: &Entry) -> bool {
        e.from == self.from
            && e.len as usize == self.key.len()
            && e.words == self.words
            && e.long.as_deref().is_none_or(|l| l == self.key)
    }
}

impl KeyTable {
    #[inline(always)]
    fn probe<'k>(&self, from: u32, key: &'k [u8]) -> Probe<'k> {
        let words = words(key);
        let meta = u64::from(from) << 32 | key.len() as u64;
        let mut hash = fold_mul(words[0] ^ self.seed[0] ^ meta, words[1] ^ self.seed[1]);
        // Longer keys: every further 16 bytes (the last 16 overlapping the
        // ones before) go through one more multiplication.
        let n = key.len();
        let mut at = 16;
        while at < n {
            let from_end = (at + 16).min(n) - 16;
            hash = fold_mul(
                word(key, from_end) ^ hash,
                word(key, from_end + 8) ^ self.seed[1],
            );
            at += 16;
        }
        Probe {
            hash,
            words,
            from,
            key,
        }
    }

    /// The value of (`from`, `key`), if present.
    #[inline]
    pub(crate) fn get(&self, from: u32, key: &[u8]) -> Option<u32> {
        let p = self.probe(from, key);
        self.table.find(p.hash, |e| p.matches(e)).map(|e| e.value)
    }

    /// The value of (`from`, `key`), to change in place, if present.
    pub(crate) fn get_mut(&mut self, from: u32, key: &[u8]) -> Option<&mut u32> {
        let p = self.probe(from, key);
        self.table
            .find_mut(p.hash, |e| p.matches(e))
            .map(|e| &mut e.value)
    }

    /// Bytes held for keys longer than 16 bytes.
    pub(crate) fn long_key_bytes(&self) -> usize {
        self.long_bytes
    }

    /// Sets the value of (`from`, `key`).
    pub(crate) fn insert(&mut self, from: u32, key: &[u8], value: u32) {
        let p = self.probe(from, key);
        match self.table.entry(p.hash, |e| p.matches(e), |e| e.hash) {
            hashbrown::hash_table::Entry::Occupied(mut o) => o.get_mut().value = value,
            hashbrown::hash_table::Entry::Vacant(v) => {
                if key.len() > 16 {
                    self.long_bytes += key.len();
                }
                v.insert(Entry {
                    hash: p.hash,
                    words: p.words,
                    from,
                    len: key.len() as u32,
                    value,
                    long: (key.len() > 16).then(|| key.into()),
                });
            }
        }
    }
}

/// Multiplies as 128 bits and XORs the two halves: a cheap mix whose low
/// bits also depend on the factors' high bits.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// Two words that, with the length, hold every byte of a key of up to 16
/// bytes (and the first 16 bytes of a longer one): the first and the last
/// eight bytes (overlapping below 16); below eight bytes, the first and
/// last four (overlapping below eight); below four, the first, middle and
/// last byte.
#[inline(always)]
fn words(k: &[u8]) -> [u64; 2] {
    let n = k.len();
    if n > 16 {
        [word(k, 0), word(k, 8)]
    } else if n >= 8 {
        [word(k, 0), word(k, n - 8)]
    } else if n >= 4 {
        [half(k, 0) | half(k, n - 4) << 32, 0]
    } else if n > 0 {
        [
            u64::from(k[0]) | u64::from(k[n / 2]) << 8 | u64::from(k[n - 1]) << 16,
            0,
        ]
    } else {
        [0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_texts::from_pieces;

    #[test]
    fn keys_differing_in_one_byte_or_in_length_are_apart() {
        // Every length around the word sizes, every byte position changed.
        let mut t = KeyTable::default();
        for n in 0..40usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            t.insert(1, &a, n as u32);
            assert_eq!(t.get(1, &a), Some(n as u32), "len {n}");
            assert_eq!(t.get(2, &a), None, "len {n}, other set");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert_eq!(t.get(1, &b), None, "len {n}, byte {at} differs");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert_eq!(t.get(1, &longer), None, "len {n} vs {}", n + 1);
        }
    }

    #[test]
    fn table_agrees_with_a_map_over_random_keys() {
        let keys = from_pieces(
            7,
            3000,
            (0, 6),
            &["a", "b", "_id", "user", "é", "$", "\\", "x"],
        );
        let mut t = KeyTable::default();
        let mut m = std::collections::HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            let from = (i % 3) as u32;
            let before = m.get(&(from, k.clone())).copied();
            assert_eq!(t.get(from, k.as_bytes()), before, "{k:?} from {from}");
            if i % 2 == 0 {
                t.insert(from, k.as_bytes(), i as u32);
                m.insert((from, k.clone()), i as u32);
            } else if let Some(v) = t.get_mut(from, k.as_bytes()) {
                *v |= 1 << 31;
                *m.get_mut(&(from, k.clone())).unwrap() |= 1 << 31;
            }
        }
        // Enough distinct keys to make the table grow several times.
        assert!(m.len() > 900, "{} distinct keys", m.len());
        for ((from, k), v) in &m {
            assert_eq!(t.get(*from, k.as_bytes()), Some(*v), "{k:?} from {from}");
        }
    }
}
