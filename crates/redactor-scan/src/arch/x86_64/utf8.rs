//! UTF-8 validation of stage 1's whole blocks with AVX2 ([`validate`], two
//! 32-byte halves per block) or AVX-512BW ([`validate512`], one vector per
//! block: +2.5% in `hot scan` against the AVX2 check on the AVX-512
//! backend), for texts that are not all ASCII: a block holding only ASCII
//! bytes costs a test, and the others (about one in eighteen in the
//! telemetry corpus) the full check.
//! Stage 1 has classified every block by then, so that texts that are all
//! ASCII are not passed at all, and the bytes after the last whole block
//! are validated only when they are not ASCII.
//!
//! The check is the table-lookup method of Keiser and Lemire ("Validating
//! UTF-8 In Less Than One Instruction Per Byte", 2021): every error of
//! a byte against the byte before it shows in three lookups (the high and
//! low nibbles of the byte before, the high nibble of the byte), each
//! giving a set of error bits that the pair may have; the pair is wrong
//! when all three share one. The third and fourth bytes of a character,
//! the only continuation bytes that may follow a continuation byte, are
//! told from the bytes two and three places back.

use core::arch::x86_64::{
    __m256i, __m512i, _mm256_alignr_epi8, _mm256_and_si256, _mm256_broadcastsi128_si256,
    _mm256_loadu_si256, _mm256_or_si256, _mm256_permute2x128_si256, _mm256_set1_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_subs_epu8,
    _mm256_testz_si256, _mm256_xor_si256, _mm512_alignr_epi64, _mm512_alignr_epi8,
    _mm512_and_si512, _mm512_broadcast_i32x4, _mm512_loadu_si512, _mm512_movepi8_mask,
    _mm512_or_si512, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_shuffle_epi8,
    _mm512_srli_epi16, _mm512_subs_epu8, _mm512_test_epi8_mask, _mm512_xor_si512, _mm_loadu_si128,
};

use crate::arch::generic::Utf8Blocks;

// The error bits of a pair of bytes (the byte before, the byte).
/// A lead byte not followed by a continuation byte.
const TOO_SHORT: u8 = 1 << 0;
/// A continuation byte after an ASCII byte.
const TOO_LONG: u8 = 1 << 1;
/// `E0` followed by `80..=9F`: a three-byte form of a two-byte character.
const OVERLONG_3: u8 = 1 << 2;
/// `F4` followed by `90..=BF`, or a lead above `F4`: past U+10FFFF.
const TOO_LARGE: u8 = 1 << 3;
/// `ED` followed by `A0..=BF`: a UTF-16 surrogate.
const SURROGATE: u8 = 1 << 4;
/// `C0` or `C1`: a two-byte form of an ASCII character.
const OVERLONG_2: u8 = 1 << 5;
/// A lead above `F4` followed by `80..=8F` (which `TOO_LARGE` misses).
const TOO_LARGE_1000: u8 = 1 << 6;
/// `F0` followed by `80..=8F`: a four-byte form of a shorter character
/// (shares its bit with `TOO_LARGE_1000`: the low-nibble table tells them
/// apart).
const OVERLONG_4: u8 = 1 << 6;
/// A continuation byte after a continuation byte: an error unless it is a
/// character's third or fourth byte, which the check knows otherwise.
const TWO_CONTS: u8 = 1 << 7;
/// The bits that the high nibbles alone decide.
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

/// By the high nibble of the byte before.
const BEFORE_HIGH: [u8; 16] = [
    // 0x00..=0x7F: ASCII.
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    // 0x80..=0xBF: continuation bytes.
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    // 0xC0..=0xCF, 0xD0..=0xDF: two-byte leads.
    TOO_SHORT | OVERLONG_2,
    TOO_SHORT,
    // 0xE0..=0xEF: three-byte leads.
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    // 0xF0..=0xFF: four-byte leads and bytes that never occur.
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
];

/// By the low nibble of the byte before.
const BEFORE_LOW: [u8; 16] = [
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
    CARRY | OVERLONG_2,
    CARRY,
    CARRY,
    CARRY | TOO_LARGE,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
];

/// By the high nibble of the byte.
const THIS_HIGH: [u8; 16] = [
    // 0x00..=0x7F: ASCII.
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    // 0x80..=0x8F, 0x90..=0x9F, 0xA0..=0xBF: continuation bytes.
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    // 0xC0..=0xFF: leads.
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
];

/// Per byte of an `N`-byte vector, the highest value that leaves no
/// character unfinished at its end: a lead in the last byte, a three- or
/// four-byte lead in the second last, a four-byte lead in the third last.
const fn complete_below<const N: usize>() -> [u8; N] {
    let mut t = [0xFF; N];
    t[N - 3] = 0xF0 - 1;
    t[N - 2] = 0xE0 - 1;
    t[N - 1] = 0xC0 - 1;
    t
}

/// [`complete_below`] for a 32-byte vector.
const COMPLETE_BELOW: [u8; 32] = complete_below();

/// The 16 bytes of `table` in both lanes.
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn lanes(table: &[u8; 16]) -> __m256i {
    // SAFETY: the caller guarantees AVX2; the table is 16 readable bytes,
    // loaded unaligned.
    unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(table.as_ptr().cast())) }
}

/// The error bits of the 32 bytes of `v`, each against the bytes before it
/// (the last of them in `prev`); all zeros when every byte is where it may
/// be.
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn errors(v: __m256i, prev: __m256i) -> __m256i {
    // SAFETY: the caller guarantees AVX2.
    unsafe {
        // `vpalignr` shifts within each 128-bit lane: the lane before
        // each of `v`'s lanes is `prev`'s high lane, then `v`'s low lane.
        let before = _mm256_permute2x128_si256::<0x21>(prev, v);
        let prev1 = _mm256_alignr_epi8::<15>(v, before);
        let prev2 = _mm256_alignr_epi8::<14>(v, before);
        let prev3 = _mm256_alignr_epi8::<13>(v, before);
        let nibble = _mm256_set1_epi8(0x0F);
        // No closure for the high nibbles: it would lose the caller's
        // target features.
        let special = _mm256_and_si256(
            _mm256_and_si256(
                _mm256_shuffle_epi8(
                    lanes(&BEFORE_HIGH),
                    _mm256_and_si256(_mm256_srli_epi16::<4>(prev1), nibble),
                ),
                _mm256_shuffle_epi8(lanes(&BEFORE_LOW), _mm256_and_si256(prev1, nibble)),
            ),
            _mm256_shuffle_epi8(
                lanes(&THIS_HIGH),
                _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble),
            ),
        );
        // The high bit of each byte two places after a lead of three or
        // four bytes, or three places after one of four: a continuation
        // byte must be there, after one (`TWO_CONTS` is the high bit).
        let third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((0xE0u8 - 0x80) as i8));
        let fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((0xF0u8 - 0x80) as i8));
        let must_continue = _mm256_and_si256(
            _mm256_or_si256(third, fourth),
            _mm256_set1_epi8(TWO_CONTS as i8),
        );
        _mm256_xor_si256(must_continue, special)
    }
}

/// The UTF-8 verdict on `blocks`, the first bytes of a text.
///
/// # Safety
///
/// AVX2 must be available.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn validate(blocks: &[[u8; 64]]) -> Utf8Blocks {
    // SAFETY: the table has 32 readable bytes, loaded unaligned.
    let complete_below = unsafe { _mm256_loadu_si256(COMPLETE_BELOW.as_ptr().cast::<__m256i>()) };
    let high_bits = _mm256_set1_epi8(0x80u8 as i8);
    // The last 32 bytes of the block before, its unfinished character
    // (non-zero bytes) and the OR of the errors found.
    let (mut prev, mut unfinished, mut error) = (
        _mm256_setzero_si256(),
        _mm256_setzero_si256(),
        _mm256_setzero_si256(),
    );
    for block in blocks {
        // SAFETY: `block` has 64 readable bytes: both unaligned 32-byte
        // loads are in bounds.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
            )
        };
        if _mm256_testz_si256(_mm256_or_si256(lo, hi), high_bits) != 0 {
            // All ASCII: no character may be left unfinished before it.
            error = _mm256_or_si256(error, unfinished);
            unfinished = _mm256_setzero_si256();
        } else {
            // SAFETY: this function's target features include AVX2.
            let found = unsafe { _mm256_or_si256(errors(lo, prev), errors(hi, lo)) };
            error = _mm256_or_si256(error, found);
            // A character left unfinished at the end of `lo` shows up in
            // `hi`'s check; one at the end of `hi`, in the next block's.
            unfinished = _mm256_subs_epu8(hi, complete_below);
        }
        prev = hi;
    }
    Utf8Blocks {
        invalid: _mm256_testz_si256(error, error) == 0,
        unfinished: _mm256_testz_si256(unfinished, unfinished) == 0,
    }
}

/// [`complete_below`] for a 64-byte vector.
const COMPLETE_BELOW_64: [u8; 64] = complete_below();

/// The 16 bytes of `table` in all four lanes.
///
/// # Safety
///
/// AVX-512F must be available.
#[inline(always)]
unsafe fn lanes512(table: &[u8; 16]) -> __m512i {
    // SAFETY: the caller guarantees AVX-512F; the table is 16 readable
    // bytes, loaded unaligned.
    unsafe { _mm512_broadcast_i32x4(_mm_loadu_si128(table.as_ptr().cast())) }
}

/// [`errors`] for a whole 64-byte block `v`, whose bytes before are the
/// last of `prev`.
///
/// # Safety
///
/// AVX-512F and AVX-512BW must be available.
#[inline(always)]
unsafe fn errors512(v: __m512i, prev: __m512i) -> __m512i {
    // SAFETY: the caller guarantees AVX-512F and BW.
    unsafe {
        // `vpalignr` shifts within each 128-bit lane: the lane before each
        // of `v`'s lanes is `prev`'s last lane, then `v`'s first three.
        let before = _mm512_alignr_epi64::<6>(v, prev);
        let prev1 = _mm512_alignr_epi8::<15>(v, before);
        let prev2 = _mm512_alignr_epi8::<14>(v, before);
        let prev3 = _mm512_alignr_epi8::<13>(v, before);
        let nibble = _mm512_set1_epi8(0x0F);
        let special = _mm512_and_si512(
            _mm512_and_si512(
                _mm512_shuffle_epi8(
                    lanes512(&BEFORE_HIGH),
                    _mm512_and_si512(_mm512_srli_epi16::<4>(prev1), nibble),
                ),
                _mm512_shuffle_epi8(lanes512(&BEFORE_LOW), _mm512_and_si512(prev1, nibble)),
            ),
            _mm512_shuffle_epi8(
                lanes512(&THIS_HIGH),
                _mm512_and_si512(_mm512_srli_epi16::<4>(v), nibble),
            ),
        );
        let third = _mm512_subs_epu8(prev2, _mm512_set1_epi8((0xE0u8 - 0x80) as i8));
        let fourth = _mm512_subs_epu8(prev3, _mm512_set1_epi8((0xF0u8 - 0x80) as i8));
        let must_continue = _mm512_and_si512(
            _mm512_or_si512(third, fourth),
            _mm512_set1_epi8(TWO_CONTS as i8),
        );
        _mm512_xor_si512(must_continue, special)
    }
}

/// [`validate`] with AVX-512BW: one 64-byte vector per block.
///
/// # Safety
///
/// AVX-512F and AVX-512BW must be available.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn validate512(blocks: &[[u8; 64]]) -> Utf8Blocks {
    // SAFETY: the table has 64 readable bytes, loaded unaligned.
    let complete_below = unsafe { _mm512_loadu_si512(COMPLETE_BELOW_64.as_ptr().cast()) };
    let (mut prev, mut unfinished, mut error) = (
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
    );
    for block in blocks {
        // SAFETY: `block` has 64 readable bytes.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        if _mm512_movepi8_mask(v) == 0 {
            // All ASCII: no character may be left unfinished before it.
            error = _mm512_or_si512(error, unfinished);
            unfinished = _mm512_setzero_si512();
        } else {
            // SAFETY: this function's target features are those needed.
            error = _mm512_or_si512(error, unsafe { errors512(v, prev) });
            unfinished = _mm512_subs_epu8(v, complete_below);
        }
        prev = v;
    }
    Utf8Blocks {
        invalid: _mm512_test_epi8_mask(error, error) != 0,
        unfinished: _mm512_test_epi8_mask(unfinished, unfinished) != 0,
    }
}
