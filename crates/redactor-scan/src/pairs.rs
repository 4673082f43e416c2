//! Where a text holds one of a fixed set of byte pairs: the first two bytes
//! of the literal prefixes a content detector looks for (`sk_`, `ghp_`,
//! `Bearer`), found before the exact comparison at each.
//!
//! A [`PairSet`] is built once, in a `const`. [`PairSet::any`] hands its
//! caller every offset where a pair of the set starts, in order, until the
//! caller accepts one. On AVX2 it first finds the offsets that may start
//! one, 32 at a time, from four 16-byte tables indexed by the nibbles of
//! each pair's two bytes: each pair is put in one of eight buckets (one bit
//! of the tables' bytes), and an offset is a candidate when some bucket
//! holds both nibbles of its byte and both nibbles of the next byte. Only
//! candidates are looked up in the exact table, a bit per pair of byte
//! values, which the portable loop reads at every offset.

/// A set of byte pairs: an exact table of all 65 536 pairs (8 KiB) and the
/// nibble tables of the SIMD search.
#[derive(Clone)]
pub struct PairSet {
    /// Bit `(second << 8 | first)` is set for each pair of the set.
    exact: [u64; 1024],
    /// Per nibble value: the buckets of the pairs whose first byte's low
    /// nibble, first byte's high nibble, second byte's low nibble and
    /// second byte's high nibble it is. (Only the x86-64 search reads
    /// them; other machines use the portable loop.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) nibbles: [[u8; 16]; 4],
}

/// Not the tables: only how many pairs there are.
impl std::fmt::Debug for PairSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: u32 = self.exact.iter().map(|w| w.count_ones()).sum();
        f.debug_struct("PairSet")
            .field("pairs", &pairs)
            .finish_non_exhaustive()
    }
}

impl PairSet {
    /// The set of `pairs`. The pairs of one first byte share a bucket, so
    /// that texts full of another first byte find few candidates. A pair
    /// may be listed more than once.
    ///
    /// # Panics
    ///
    /// When a pair holds a byte below 0x10 (the SIMD search reads the zero
    /// bytes past a short text's end, which must start no candidate).
    pub const fn new(pairs: &[[u8; 2]]) -> PairSet {
        let mut exact = [0u64; 1024];
        let mut nibbles = [[0u8; 16]; 4];
        // The first bytes seen so far, in order: the bucket of a first byte
        // is its place in this list, modulo 8.
        let mut firsts = [0u8; 256];
        let mut distinct = 0;
        let mut k = 0;
        while k < pairs.len() {
            let [a, b] = pairs[k];
            assert!(a >= 0x10 && b >= 0x10, "a pair holds a byte below 0x10");
            let i = (b as usize) << 8 | a as usize;
            exact[i / 64] |= 1 << (i % 64);
            let mut at = 0;
            while at < distinct && firsts[at] != a {
                at += 1;
            }
            if at == distinct {
                firsts[distinct] = a;
                distinct += 1;
            }
            let bucket = 1u8 << (at % 8);
            nibbles[0][(a & 15) as usize] |= bucket;
            nibbles[1][(a >> 4) as usize] |= bucket;
            nibbles[2][(b & 15) as usize] |= bucket;
            nibbles[3][(b >> 4) as usize] |= bucket;
            k += 1;
        }
        PairSet { exact, nibbles }
    }

    /// Whether `a` followed by `b` is a pair of the set.
    #[inline(always)]
    pub fn contains(&self, a: u8, b: u8) -> bool {
        let i = usize::from(b) << 8 | usize::from(a);
        self.exact[i / 64] >> (i % 64) & 1 != 0
    }

    /// Calls `accept` with each offset of `text` where a pair of the set
    /// starts, in increasing order, until it returns true; returns whether
    /// it did. Runs on the backend in use ([`crate::Backend::detect`]).
    #[inline]
    pub fn any(&self, text: &[u8], accept: impl FnMut(usize) -> bool) -> bool {
        crate::arch::pairs_any(crate::Backend::detect(), self, text, accept)
    }

    /// [`PairSet::any`] on `backend` (the portable loop when this CPU
    /// cannot run it), for tests and benchmarks that compare backends.
    pub fn any_on(
        &self,
        backend: crate::Backend,
        text: &[u8],
        accept: impl FnMut(usize) -> bool,
    ) -> bool {
        let backend = if backend.is_available() {
            backend
        } else {
            crate::Backend::Scalar
        };
        crate::arch::pairs_any(backend, self, text, accept)
    }

    /// The portable search: the exact table at every offset (the
    /// reference the SIMD search is tested against).
    #[inline]
    pub(crate) fn any_portable(&self, text: &[u8], mut accept: impl FnMut(usize) -> bool) -> bool {
        text.windows(2)
            .enumerate()
            .any(|(i, w)| self.contains(w[0], w[1]) && accept(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;

    const SET: PairSet = PairSet::new(&[
        *b"sk", *b"AK", *b"AS", *b"gh", *b"xo", *b"ey", *b"--", *b"be", *b"Be", *b"bE", *b"BE",
        *b"ho", *b"hf", *b"rk", *b"np", *b"SG", *b"SK", *b"A3", *b"sk",
    ]);

    fn offsets(backend: Backend, set: &PairSet, text: &[u8]) -> Vec<usize> {
        let mut seen = Vec::new();
        let accepted = set.any_on(backend, text, |i| {
            seen.push(i);
            false
        });
        assert!(!accepted, "nothing was accepted");
        seen
    }

    #[test]
    fn the_exact_table_holds_the_pairs_and_nothing_else() {
        let mut n = 0;
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let listed = [*b"sk", *b"AK", *b"be", *b"bE", *b"--"].contains(&[a, b]);
                if listed {
                    assert!(SET.contains(a, b), "{a} {b}");
                }
                n += usize::from(SET.contains(a, b));
            }
        }
        assert_eq!(n, 18, "one pair listed twice");
        assert_eq!(format!("{SET:?}"), "PairSet { pairs: 18, .. }");
    }

    /// Every backend finds exactly the offsets the exact table gives, in
    /// order: texts of every length up to 100 with pairs at every offset,
    /// random texts over the pairs' bytes and over all bytes, at every
    /// alignment; and stops at the offset accepted.
    #[test]
    fn every_backend_finds_the_offsets_of_the_exact_table() {
        let mut next = crate::xorshift(0x6a09_e667_f3bc_c909);
        let alphabet = b"skAKSghxoey-bBEhofrnpG3 _.:\x00\x10\xff";
        let mut texts: Vec<Vec<u8>> = vec![b"sk".to_vec(), b"s".to_vec(), Vec::new()];
        for len in 0..100usize {
            for at in 0..len.saturating_sub(1) {
                let mut t = vec![b'k'; len];
                t[at] = b's';
                texts.push(t.clone());
                t[at] = b'B';
                t[at + 1] = b'E';
                texts.push(t);
            }
            texts.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        for _ in 0..3000 {
            let len = (next() % 300) as usize;
            texts.push((0..len).map(|_| next() as u8).collect());
            texts.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        let mut found = 0;
        for t in &texts {
            let mut want = Vec::new();
            SET.any_portable(t, |i| {
                want.push(i);
                false
            });
            let exact: Vec<usize> = (0..t.len().saturating_sub(1))
                .filter(|&i| SET.contains(t[i], t[i + 1]))
                .collect();
            assert_eq!(want, exact, "portable on {t:?}");
            found += want.len();
            for backend in Backend::available() {
                for shift in [0usize, 1, 7, 31] {
                    let mut buf = vec![b's'; shift];
                    buf.extend_from_slice(t);
                    let text = &buf[shift..];
                    assert_eq!(
                        offsets(backend, &SET, text),
                        want,
                        "{} on {text:?}",
                        backend.name()
                    );
                    // Accepting the last offset (or the first) stops there.
                    for &stop in [want.first(), want.last()].iter().flatten() {
                        let mut seen = Vec::new();
                        assert!(SET.any_on(backend, text, |i| {
                            seen.push(i);
                            i == *stop
                        }));
                        assert_eq!(seen.last(), Some(stop), "{}", backend.name());
                    }
                }
            }
        }
        assert!(found > 10_000, "{found}");
    }

    #[test]
    #[should_panic(expected = "below 0x10")]
    fn pairs_of_low_bytes_are_refused() {
        let _ = PairSet::new(&[[b'a', 0]]);
    }
}
