//! The byte-pair search ([`crate::pairs`]) on AVX2: the candidates of 32
//! offsets at a time from four `vpshufb` nibble-table lookups, then the
//! exact table at each candidate.

use core::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
    _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_srli_epi16, _mm_loadu_si128,
};

use crate::pairs::PairSet;

/// [`PairSet::any`] on AVX2.
///
/// # Safety
///
/// AVX2 and BMI1 must be available (every backend that calls this checks
/// both).
#[target_feature(enable = "avx2,bmi1")]
pub(crate) unsafe fn any(
    set: &PairSet,
    text: &[u8],
    accept: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let n = text.len();
    if n < 2 {
        return false;
    }
    // SAFETY: each nibble table is 16 bytes; AVX2 is enabled here.
    let [first_lo, first_hi, second_lo, second_hi] = set
        .nibbles
        .map(|t| unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast())) });
    let nibble = _mm256_set1_epi8(0x0f);
    // Bit j: the offset of lane j may start a pair (`first` holds the 32
    // bytes from that offset, `second` the 32 from the next).
    let candidates = |first: __m256i, second: __m256i| -> u32 {
        let buckets = |v: __m256i, lo: __m256i, hi: __m256i| {
            let l = _mm256_and_si256(v, nibble);
            let h = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble);
            _mm256_and_si256(_mm256_shuffle_epi8(lo, l), _mm256_shuffle_epi8(hi, h))
        };
        let both = _mm256_and_si256(
            buckets(first, first_lo, first_hi),
            buckets(second, second_lo, second_hi),
        );
        !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(both, _mm256_setzero_si256())) as u32)
    };
    // The offsets of `bits` from `base`, checked in the exact table.
    let mut each = |base: usize, mut bits: u32| -> bool {
        while bits != 0 {
            let i = base + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if set.contains(text[i], text[i + 1]) && accept(i) {
                return true;
            }
        }
        false
    };
    // Offsets 0..n - 1 start a pair; 32 of them need 33 bytes.
    let last = n - 1;
    if n >= 33 {
        let mut at = 0;
        while at + 32 <= last {
            // SAFETY: `at + 33 <= n`: both 32-byte loads are in bounds.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(text.as_ptr().add(at).cast()),
                    _mm256_loadu_si256(text.as_ptr().add(at + 1).cast()),
                )
            };
            if each(at, candidates(a, b)) {
                return true;
            }
            at += 32;
        }
        if at < last {
            // The last 32 offsets, of which those below `at` were searched.
            let from = last - 32;
            // SAFETY: `from + 33 == n`: both loads are in bounds.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(text.as_ptr().add(from).cast()),
                    _mm256_loadu_si256(text.as_ptr().add(from + 1).cast()),
                )
            };
            let fresh = u32::MAX << (at - from);
            return each(from, candidates(a, b) & fresh);
        }
        false
    } else {
        // Shorter texts from a copy padded with zero bytes, which start no
        // candidate (no pair holds a byte below 0x10); only the offsets
        // below `last` count.
        let mut buf = [0u8; 64];
        buf[..n].copy_from_slice(text);
        // SAFETY: `buf` holds 64 bytes: both loads are in bounds.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(buf.as_ptr().cast()),
                _mm256_loadu_si256(buf.as_ptr().add(1).cast()),
            )
        };
        each(0, candidates(a, b) & (u32::MAX >> (32 - last)))
    }
}
