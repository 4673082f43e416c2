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

/// One cached transition, in 32 bytes (two to a cache line). A key's
/// length and first words (see [`words`]) are kept inline, so that keys of
/// up to 16 bytes are compared without following a pointer; longer keys
/// are also held whole in the table's arena.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Slot {
    words: [u64; 2],
    /// The set, or [`EMPTY`] in a free slot.
    from: u32,
    len: u32,
    value: u32,
    /// Where a key longer than 16 bytes starts in the arena.
    at: u32,
}

/// `from` of a free slot (no set has this id: the cache starts afresh
/// long before).
const EMPTY: u32 = u32::MAX;

const FREE: Slot = Slot {
    words: [0, 0],
    from: EMPTY,
    len: 0,
    value: 0,
    at: 0,
};

/// Maps (set id, key bytes) to a `u32`: open addressing with linear
/// probing, at most half full, so that a lookup nearly always reads one
/// slot, found from the hash alone.
#[derive(Debug)]
pub(crate) struct KeyTable {
    seed: [u64; 2],
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: a hash's top bits pick its first slot.
    shift: u32,
    used: usize,
    /// The keys longer than 16 bytes, end to end.
    long: Vec<u8>,
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
            slots: Vec::new(),
            shift: 64,
            used: 0,
            long: Vec::new(),
        }
    }
}

impl KeyTable {
    /// The hash of (`from`, a key of `len` bytes whose [`words`] are
    /// `words`). `key` is the whole key when it is longer than 16 bytes,
    /// and is not read otherwise: up to 16 bytes, the words and the length
    /// are the key.
    #[inline(always)]
    fn hash(&self, from: u32, len: usize, words: [u64; 2], key: &[u8]) -> u64 {
        let meta = u64::from(from) << 32 | len as u64;
        let mut hash = fold_mul(words[0] ^ self.seed[0] ^ meta, words[1] ^ self.seed[1]);
        // Longer keys: every further 16 bytes (the last 16 overlapping the
        // ones before) go through one more multiplication.
        let mut at = 16;
        while at < len {
            let from_end = (at + 16).min(len) - 16;
            hash = fold_mul(
                word(key, from_end) ^ hash,
                word(key, from_end + 8) ^ self.seed[1],
            );
            at += 16;
        }
        hash
    }

    /// The slot that holds (`from`, `key`), or the free slot where it
    /// would go. The table must have a free slot.
    #[inline(always)]
    fn find(&self, from: u32, key: &[u8]) -> usize {
        let words = words(key);
        let mask = self.slots.len() - 1;
        let mut i = (self.hash(from, key.len(), words, key) >> self.shift) as usize;
        loop {
            let s = &self.slots[i];
            if s.from == EMPTY
                || (s.from == from
                    && s.len as usize == key.len()
                    && s.words == words
                    && (key.len() <= 16 || self.long_key(s) == key))
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn long_key(&self, s: &Slot) -> &[u8] {
        &self.long[s.at as usize..s.at as usize + s.len as usize]
    }

    /// The value of (`from`, `key`), if present.
    #[inline(always)]
    pub(crate) fn get(&self, from: u32, key: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let s = &self.slots[self.find(from, key)];
        (s.from != EMPTY).then_some(s.value)
    }

    /// The value of (`from`, `key`), to change in place, if present.
    pub(crate) fn get_mut(&mut self, from: u32, key: &[u8]) -> Option<&mut u32> {
        if self.slots.is_empty() {
            return None;
        }
        let i = self.find(from, key);
        let s = &mut self.slots[i];
        (s.from != EMPTY).then_some(&mut s.value)
    }

    /// Removes every entry, keeping the slots' allocation.
    pub(crate) fn clear(&mut self) {
        self.slots.fill(FREE);
        self.used = 0;
        self.long.clear();
    }

    /// The bytes allocated for the slots and the arena.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>() + self.long.capacity()
    }

    /// Bytes held for keys longer than 16 bytes.
    pub(crate) fn long_key_bytes(&self) -> usize {
        self.long.len()
    }

    /// Sets the value of (`from`, `key`). `from` is a set id, never
    /// `u32::MAX`. A key the slot's 32-bit length and arena offset cannot
    /// hold (texts are at most `u32::MAX` bytes, but one event's keys could
    /// push the arena past that before the cache starts afresh) is not
    /// cached: its lookups miss.
    pub(crate) fn insert(&mut self, from: u32, key: &[u8], value: u32) {
        assert!(from != EMPTY, "set id out of range");
        if key.len() > 16 && self.long.len() + key.len() > u32::MAX as usize {
            return;
        }
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let i = self.find(from, key);
        if self.slots[i].from != EMPTY {
            self.slots[i].value = value;
            return;
        }
        let at = if key.len() > 16 {
            let at = self.long.len();
            self.long.extend_from_slice(key);
            at as u32
        } else {
            0
        };
        self.slots[i] = Slot {
            words: words(key),
            from,
            len: key.len() as u32,
            value,
            at,
        };
        self.used += 1;
    }

    /// Doubles the slots (64 to start with) and places every entry again.
    #[cold]
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![FREE; n]);
        self.shift = 64 - n.trailing_zeros();
        let mask = n - 1;
        for s in old.into_iter().filter(|s| s.from != EMPTY) {
            let key = if s.len > 16 { self.long_key(&s) } else { &[] };
            let hash = self.hash(s.from, s.len as usize, s.words, key);
            // Its own probe loop: a probe shared with `find` through a
            // closure measured 0.984 in `hot fast` (1 041 -> 1 046 M
            // instructions per pass).
            let mut i = (hash >> self.shift) as usize;
            while self.slots[i].from != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
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
    fn slots_are_half_a_cache_line_and_at_most_half_used() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        let mut t = KeyTable::default();
        for n in 0..1000u32 {
            let key = format!("key-{n}-of-a-longer-name");
            t.insert(n % 7, key.as_bytes(), n);
            assert!(
                t.used * 2 <= t.slots.len(),
                "{} of {}",
                t.used,
                t.slots.len()
            );
            assert!(t.slots.len().is_power_of_two());
        }
        let bytes: usize = (0..1000)
            .map(|n| format!("key-{n}-of-a-longer-name").len())
            .sum();
        assert_eq!(t.long_key_bytes(), bytes);
        // Setting a value again adds nothing.
        t.insert(0, b"key-0-of-a-longer-name", 5);
        assert_eq!(t.get(0, b"key-0-of-a-longer-name"), Some(5));
        assert_eq!((t.used, t.long_key_bytes()), (1000, bytes));
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
