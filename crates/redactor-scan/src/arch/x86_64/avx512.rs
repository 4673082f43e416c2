//! AVX-512BW classification (one 64-byte load; operators and whitespace by
//! `vpshufb` table lookup, compares straight to masks), PCLMULQDQ prefix
//! XOR, and offsets written with AVX-512VBMI2's byte compress.

use core::arch::x86_64::{
    __m128i, __m512i, _mm512_add_epi32, _mm512_broadcast_i32x4, _mm512_castsi512_si128,
    _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_cvtepu8_epi32,
    _mm512_extracti32x4_epi32, _mm512_loadu_si512, _mm512_maskz_compress_epi8, _mm512_movepi8_mask,
    _mm512_or_si512, _mm512_set1_epi32, _mm512_set1_epi8, _mm512_shuffle_epi8, _mm512_storeu_si512,
    _mm_loadu_si128,
};

use crate::arch::generic::{Block64, Masks, OP_TABLE, WS_TABLE};

/// The AVX-512BW + VBMI2 + PCLMULQDQ backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512;

impl Avx512 {
    /// Whether this CPU can run the backend.
    pub(crate) fn is_available() -> bool {
        // AVX2 too: the byte census ([`crate::census`]) uses it on this
        // backend (every CPU with AVX-512BW has it). VBMI2 (Ice Lake, Zen 4
        // and later) for `flatten`: on the AVX-512 CPUs without it
        // (Skylake-SP, Cascade Lake) the AVX2 backend runs.
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
            && super::has_bit_instructions()
    }
}

/// Bytes of `v` equal to `c`, as a bit mask.
///
/// # Safety
///
/// AVX-512BW must be available.
#[inline(always)]
unsafe fn eq(v: __m512i, c: u8) -> u64 {
    // SAFETY: the caller guarantees AVX-512BW.
    unsafe { _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8)) }
}

impl Block64 for Avx512 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Masks {
        // SAFETY: the caller guarantees AVX-512BW; `block` has 64 readable
        // bytes and the tables 16, all loaded unaligned (the tables repeated
        // in each 128-bit lane: `vpshufb` looks up within its lane). No
        // closures: they would lose this context's target features.
        unsafe {
            let v = _mm512_loadu_si512(block.as_ptr().cast::<__m512i>());
            let ws_table = _mm512_broadcast_i32x4(_mm_loadu_si128(WS_TABLE.as_ptr().cast()));
            let op_table = _mm512_broadcast_i32x4(_mm_loadu_si128(OP_TABLE.as_ptr().cast()));
            let lower = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
            let control = _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f));
            Masks {
                quote: eq(v, b'"'),
                backslash: eq(v, b'\\'),
                op: _mm512_cmpeq_epi8_mask(lower, _mm512_shuffle_epi8(op_table, v)) & !control,
                ws: _mm512_cmpeq_epi8_mask(v, _mm512_shuffle_epi8(ws_table, v)),
                control,
                high: _mm512_movepi8_mask(v),
            }
        }
    }

    #[inline(always)]
    unsafe fn utf8(blocks: &[[u8; 64]]) -> Option<crate::arch::generic::Utf8Blocks> {
        // SAFETY: the caller guarantees this backend's CPU features, which
        // include AVX-512F and BW.
        Some(unsafe { super::utf8::validate512(blocks) })
    }

    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // SAFETY: the caller guarantees PCLMULQDQ.
        unsafe { super::avx2::Avx2::prefix_xor(x) }
    }

    /// The positions of the set bits compressed as bytes into the low
    /// lanes of one vector (VBMI2 `vpcompressb`), then widened and stored
    /// sixteen offsets at a time: two stores, which hold the block's
    /// offsets unless it has more than 32 (rare: a branch that predicts),
    /// then two more. Against four 32-bit compresses and four stores for
    /// every block: +7-9% in `hot scan` on a Xeon with VBMI2; storing all
    /// four groups measured 3.5% slower than this, and a branch per group
    /// 3.2% slower again (it mispredicts). No branch on an empty mask, as
    /// on AVX2: its stores land in the spare room and count nothing
    /// (1.014 in `hot scan`, 1.006 in `hot fast`: within what code
    /// placement alone moves, and one branch less).
    #[inline(always)]
    unsafe fn flatten(out: *mut u32, base: u32, bits: u64) {
        // SAFETY: the caller guarantees AVX-512F/VBMI2 and 64 writable
        // slots at `out`: group `k` writes slots `16 * k..16 * (k + 1)`,
        // `k < 4`. The slots past the set bits' count get garbage, which
        // the contract allows. No closure: it would lose the target
        // features.
        unsafe {
            let positions =
                _mm512_maskz_compress_epi8(bits, _mm512_loadu_si512(IOTA.as_ptr().cast()));
            let base = _mm512_set1_epi32(base as i32);
            let count = bits.count_ones();
            macro_rules! group {
                ($k:literal, $bytes:expr) => {{
                    let v: __m128i = $bytes;
                    let offsets = _mm512_add_epi32(base, _mm512_cvtepu8_epi32(v));
                    _mm512_storeu_si512(out.add(16 * $k).cast::<__m512i>(), offsets);
                }};
            }
            group!(0, _mm512_castsi512_si128(positions));
            group!(1, _mm512_extracti32x4_epi32::<1>(positions));
            if count > 32 {
                group!(2, _mm512_extracti32x4_epi32::<2>(positions));
                group!(3, _mm512_extracti32x4_epi32::<3>(positions));
            }
        }
    }
}

/// The byte offsets of a block, for [`Avx512::flatten`].
static IOTA: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

/// Stage 1 with AVX-512BW and VBMI2.
///
/// # Safety
///
/// [`Avx512::is_available`] must be true.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,pclmulqdq,popcnt,bmi1,bmi2,lzcnt")]
pub(crate) unsafe fn stage1(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> crate::arch::generic::Stage1 {
    // SAFETY: this function's target features are those the backend needs.
    unsafe { crate::arch::generic::stage1::<Avx512>(input, out, blocks, masks) }
}
