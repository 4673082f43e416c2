//! Little-endian word loads from byte slices, for word-at-a-time code here
//! (the AVX2 census's short texts, the search for backslashes in escaped
//! strings) and in the crates that use the scanner (key hashing and digit
//! runs in the rewrite engine).

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

/// The offset of the first `needle` in `hay`, eight bytes at a time.
///
/// For short haystacks with several hits, such as the escaped strings of
/// telemetry (about 100 bytes and four backslashes each): inline, where a
/// call to `memchr` per hit cost more than its search (+3.5% in `hot
/// scan`). Long haystacks are `memchr`'s.
#[inline(always)]
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let needles = u64::from_ne_bytes([needle; 8]);
    let mut i = 0;
    while i + 8 <= hay.len() {
        // A zero byte where the word holds `needle`. The lowest flagged
        // byte is exact: a borrow only flags bytes above a zero byte.
        let x = word(hay, i) ^ needles;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
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
