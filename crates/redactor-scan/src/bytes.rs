//! Little-endian word loads from byte slices, for word-at-a-time code here
//! (the AVX2 census's short texts) and in the crates that use the scanner
//! (key hashing and digit runs in the rewrite engine).

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
}
