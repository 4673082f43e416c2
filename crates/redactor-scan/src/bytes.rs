//! Word-at-a-time helpers: little-endian word loads from byte slices, and
//! the per-byte tests on a word (equal to a byte, below a bound, a digit),
//! for the code here (the AVX2 census's short texts, the search for
//! backslashes in escaped strings) and in the crates that use the scanner
//! (key hashing, the check for bytes that need an escape, and digit runs
//! in the rewrite engine). One copy of each bit trick, tested here against
//! a byte loop.

/// `0x7f` in every byte.
const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
/// `0x80` in every byte: the high bit of each byte, where the masks below
/// flag a byte.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Eight bytes of `b` from `at`, read as a little-endian word.
///
/// # Panics
///
/// When `b` holds fewer than eight bytes from `at`.
#[inline(always)]
pub fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Four bytes of `b` from `at`, read as a little-endian word (widened).
///
/// # Panics
///
/// When `b` holds fewer than four bytes from `at`.
#[inline(always)]
pub fn half(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// `b` in every byte of a word.
#[inline(always)]
pub const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The high bit of each byte of `w` that equals `c`; exact in every byte.
#[inline(always)]
pub fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ splat(c);
    // A byte of `x` is zero exactly when neither its low seven bits carry
    // into the high bit nor its high bit is set. No byte carries into the
    // next: the high bits are cleared before the addition.
    !(((x & LOW7) + LOW7) | x) & HIGHS
}

/// The high bit of each byte of `w` below `n` (`n <= 0x80`), as a
/// subtraction's borrows find them: zero exactly when no byte is below
/// `n`, and the lowest flagged byte is exact, but a borrow may also flag
/// bytes above one that is below `n`. One operation fewer than
/// [`eq_mask`]; for "is there one" and "where is the first".
#[inline(always)]
pub fn below_mask(w: u64, n: u8) -> u64 {
    w.wrapping_sub(splat(n)) & !w & HIGHS
}

/// The high bit of each byte of `w` that is an ASCII digit; exact in every
/// byte.
#[inline(always)]
pub fn digit_mask(w: u64) -> u64 {
    // With the high bits cleared no byte carries into the next: the sums
    // set a byte's high bit when it is at least '0' (0x80 - 0x30 = 0x50)
    // or past '9' (0x80 - 0x3a = 0x46).
    let low = w & LOW7;
    let at_least_0 = low + splat(0x50);
    let past_9 = low + splat(0x46);
    at_least_0 & !past_9 & !w & HIGHS
}

/// One bit per byte from the high bits of a mask above: bit i for byte i.
#[inline(always)]
pub fn mask_bits(mask: u64) -> u8 {
    // Bit 8i moves to bit 56 + i; no two partial products overlap.
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// The offset of the first `needle` in `hay`, eight bytes at a time.
///
/// For short haystacks with several hits, such as the escaped strings of
/// telemetry (about 100 bytes and four backslashes each): inline, where a
/// call to `memchr` per hit cost more than its search (+3.5% in `hot
/// scan`). Long haystacks are `memchr`'s.
#[inline(always)]
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let needles = splat(needle);
    let mut i = 0;
    while i + 8 <= hay.len() {
        // A zero byte where the word holds `needle`; the lowest flagged
        // byte is the first.
        let zero = below_mask(word(hay, i) ^ needles, 1);
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == needle).map(|k| i + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_little_endian_at_any_offset() {
        let b: Vec<u8> = (1..=12).collect();
        assert_eq!(word(&b, 0), 0x0807_0605_0403_0201);
        assert_eq!(word(&b, 4), 0x0c0b_0a09_0807_0605);
        assert_eq!(half(&b, 0), 0x0403_0201);
        assert_eq!(half(&b, 8), 0x0c0b_0a09);
    }

    #[test]
    fn byte_masks_agree_with_a_byte_loop_in_every_lane() {
        // Bits set where `f` holds, for each byte of `bytes`.
        let want = |bytes: &[u8; 8], f: &dyn Fn(u8) -> bool| {
            bytes
                .iter()
                .enumerate()
                .fold(0u8, |m, (i, &b)| m | (u8::from(f(b)) << i))
        };
        for c in 0..=255u8 {
            for lane in 0..8 {
                // The byte among neighbours of several classes, so that
                // carries and borrows from a neighbour would show.
                for fill in [
                    b'0', b' ', b'-', b'x', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xb5, 0x00, 0xff,
                ] {
                    let mut bytes = [fill; 8];
                    bytes[lane] = c;
                    let w = u64::from_le_bytes(bytes);
                    assert_eq!(
                        mask_bits(digit_mask(w)),
                        want(&bytes, &|b| b.is_ascii_digit()),
                        "{bytes:?}"
                    );
                    for e in [b'-', b' ', b'"', b'\\', 0x00, 0x80, 0xff, c] {
                        assert_eq!(
                            mask_bits(eq_mask(w, e)),
                            want(&bytes, &|b| b == e),
                            "{bytes:?} {e}"
                        );
                    }
                    for n in [1, 0x20, 0x30, 0x80] {
                        let below = want(&bytes, &|b| b < n);
                        let got = mask_bits(below_mask(w, n));
                        // Exact in whether there is one and in the first.
                        assert_eq!(got == 0, below == 0, "{bytes:?} {n}");
                        assert_eq!(
                            got.trailing_zeros(),
                            below.trailing_zeros(),
                            "{bytes:?} {n}"
                        );
                    }
                }
            }
        }
        assert_eq!(splat(0xab), 0xabab_abab_abab_abab);
    }

    #[test]
    fn find_gives_the_first_hit_as_a_byte_loop_does() {
        let mut next = crate::xorshift(0x5eed_f1d0);
        for round in 0..20_000 {
            let len = (next() % 40) as usize;
            // Few distinct bytes, so that hits, bytes one above the
            // needle (a borrow's neighbour) and high bytes are common.
            let needle = [b'\\', 0, 0x80, 0xff][round % 4];
            let pool = [needle, needle.wrapping_add(1), needle ^ 0x80, b'a', 0x01];
            let hay: Vec<u8> = (0..len).map(|_| pool[(next() % 5) as usize]).collect();
            let want = hay.iter().position(|&b| b == needle);
            assert_eq!(find(&hay, needle), want, "{hay:?} {needle}");
        }
        assert_eq!(find(b"", b'x'), None);
        assert_eq!(find(b"abcdefgh\\", b'\\'), Some(8));
    }
}
