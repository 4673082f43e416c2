//! The byte census ([`crate::census`]) on AVX2: 32 bytes per step, each
//! byte classified by two `vpshufb` nibble-table lookups.

use core::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_castsi256_si128,
    _mm256_cmpeq_epi8, _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi8, _mm256_set_epi64x, _mm256_set_m128i, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_srli_epi16, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_or_si128,
    _mm_srli_si128,
};

use crate::bytes::{half, word};
use crate::census::{nibbles, Census};

/// The census of `text`.
///
/// # Safety
///
/// AVX2 and POPCNT must be available (every backend that calls this checks
/// both).
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn census(text: &[u8]) -> Census {
    // SAFETY: the nibble tables are 16 bytes each; AVX2 is enabled here.
    let (low, high) = unsafe {
        (
            _mm256_broadcastsi128_si256(_mm_loadu_si128(nibbles::LOW.as_ptr().cast())),
            _mm256_broadcastsi128_si256(_mm_loadu_si128(nibbles::HIGH.as_ptr().cast())),
        )
    };
    let nibble = _mm256_set1_epi8(0x0f);
    let hex = _mm256_set1_epi8((nibbles::DIGIT | nibbles::HEX_LETTER | nibbles::DASH) as i8);
    // The classes of the 32 bytes at `v`, and (as bit masks) the digits and
    // the bytes outside the hex alphabet.
    let classify = |v: __m256i| -> (__m256i, u32, u32) {
        let lo = _mm256_and_si256(v, nibble);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble);
        let c = _mm256_and_si256(_mm256_shuffle_epi8(low, lo), _mm256_shuffle_epi8(high, hi));
        let digits = _mm256_movemask_epi8(c) as u32;
        let not_hex = _mm256_movemask_epi8(_mm256_cmpeq_epi8(
            _mm256_and_si256(c, hex),
            _mm256_setzero_si256(),
        )) as u32;
        (c, digits, not_hex)
    };
    let (slash, backslash, space) = (
        _mm256_set1_epi8(b'/' as i8),
        _mm256_set1_epi8(b'\\' as i8),
        _mm256_set1_epi8(b' ' as i8),
    );
    let (semicolon, pipe, line_feed) = (
        _mm256_set1_epi8(b';' as i8),
        _mm256_set1_epi8(b'|' as i8),
        _mm256_set1_epi8(b'\n' as i8),
    );
    let (double_quote, single_quote, brace, bracket, less_than) = (
        _mm256_set1_epi8(b'"' as i8),
        _mm256_set1_epi8(b'\'' as i8),
        _mm256_set1_epi8(b'{' as i8),
        _mm256_set1_epi8(b'[' as i8),
        _mm256_set1_epi8(b'<' as i8),
    );
    let mut any = _mm256_setzero_si256();
    // Lanes that repeat a byte hold a byte of the text, and padding lanes
    // are zero: neither adds a mark the text does not have.
    let mut slashes = 0u32;
    let mut spaces = 0u32;
    let mut quotes_or_brackets = 0u32;
    let mut less_thans = 0u32;
    let mut separators = 0u32;
    let mut digits = 0usize;
    let mut not_hex = 0u32;
    let mut non_ascii = 0u32;
    // One vector: its classes join `any`; of its digit, outside-hex and
    // outside-ASCII masks, only the lanes in `valid` count (the others
    // repeat a byte already counted, or are zero padding).
    let mut add = |v: __m256i, valid: u32| {
        let (c, d, n) = classify(v);
        any = _mm256_or_si256(any, c);
        slashes |= _mm256_movemask_epi8(_mm256_or_si256(
            _mm256_cmpeq_epi8(v, slash),
            _mm256_cmpeq_epi8(v, backslash),
        )) as u32;
        spaces |= _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, space)) as u32;
        quotes_or_brackets |= _mm256_movemask_epi8(_mm256_or_si256(
            _mm256_or_si256(
                _mm256_cmpeq_epi8(v, double_quote),
                _mm256_cmpeq_epi8(v, single_quote),
            ),
            _mm256_or_si256(_mm256_cmpeq_epi8(v, brace), _mm256_cmpeq_epi8(v, bracket)),
        )) as u32;
        less_thans |= _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, less_than)) as u32;
        separators |= _mm256_movemask_epi8(_mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v, semicolon), _mm256_cmpeq_epi8(v, pipe)),
            _mm256_cmpeq_epi8(v, line_feed),
        )) as u32;
        digits += (d & valid).count_ones() as usize;
        not_hex |= n & valid;
        non_ascii |= _mm256_movemask_epi8(v) as u32 & valid;
    };
    let n = text.len();
    if n >= 32 {
        let mut chunks = text.chunks_exact(32);
        for chunk in &mut chunks {
            // SAFETY: `chunk` holds 32 bytes; unaligned loads are allowed.
            add(
                unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) },
                u32::MAX,
            );
        }
        let r = chunks.remainder().len();
        if r > 0 {
            // The last 32 bytes, of which the first `32 - r` were counted.
            // SAFETY: `n >= 32`, so `n - 32..n` is in bounds.
            let v = unsafe { _mm256_loadu_si256(text.as_ptr().add(n - 32).cast()) };
            add(v, u32::MAX << (32 - r));
        }
    } else if n >= 16 {
        // The first and the last 16 bytes (overlapping below 32): lane
        // `16 + j` holds byte `n - 16 + j`, counted already when below 16.
        // SAFETY: `16 <= n`, so both 16-byte ranges are in bounds.
        let v = unsafe {
            _mm256_set_m128i(
                _mm_loadu_si128(text.as_ptr().add(n - 16).cast()),
                _mm_loadu_si128(text.as_ptr().cast()),
            )
        };
        add(v, 0xffff | (0xffff_u32 << (32 - n)) << 16 & 0xffff_0000);
    } else if n > 0 {
        // Built in registers (a vector loaded from a buffer just written
        // a byte or word at a time would wait for the stores): the first
        // and the last 8 bytes below 16, 4 below 8, and the first, middle
        // and last byte below 4; lanes past the pieces are zero.
        let (lo, hi, valid) = if n >= 8 {
            (
                word(text, 0),
                word(text, n - 8),
                0xff | ((0xff_u32 << (16 - n)) & 0xff) << 8,
            )
        } else if n >= 4 {
            (
                half(text, 0) | half(text, n - 4) << 32,
                0,
                0xf | ((0xf_u32 << (8 - n)) & 0xf) << 4,
            )
        } else {
            let b = |i: usize| u64::from(text[i]);
            (
                b(0) | b(n / 2) << 8 | b(n - 1) << 16,
                0,
                [0b1, 0b101, 0b111][n - 1],
            )
        };
        add(_mm256_set_epi64x(0, 0, hi as i64, lo as i64), valid);
    }
    // OR the 32 class bytes into one.
    let x = _mm_or_si128(
        _mm256_castsi256_si128(any),
        _mm256_extracti128_si256::<1>(any),
    );
    let x = _mm_or_si128(x, _mm_srli_si128::<8>(x));
    let w = _mm_cvtsi128_si64(x) as u64;
    let w = w | w >> 32;
    let w = w | w >> 16;
    let w = w | w >> 8;
    Census {
        classes: nibbles::to_classes(w as u8, not_hex != 0, non_ascii != 0),
        marks: if slashes != 0 {
            crate::census::SLASH
        } else {
            0
        } | if spaces != 0 { crate::census::SPACE } else { 0 }
            | if quotes_or_brackets != 0 {
                crate::census::QUOTE_OR_BRACKET
            } else {
                0
            }
            | if less_thans != 0 {
                crate::census::LESS_THAN
            } else {
                0
            }
            | if separators != 0 {
                crate::census::SEPARATOR
            } else {
                0
            },
        digits,
    }
}
