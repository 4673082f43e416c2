//! AVX-512BW classification (one 64-byte load; operators and whitespace by
//! `vpshufb` table lookup, compares straight to masks) and PCLMULQDQ prefix
//! XOR.

use core::arch::x86_64::{
    __m512i, _mm512_add_epi32, _mm512_broadcast_i32x4, _mm512_cmpeq_epi8_mask,
    _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_maskz_compress_epi32, _mm512_movepi8_mask,
    _mm512_or_si512, _mm512_set1_epi32, _mm512_set1_epi8, _mm512_setr_epi32, _mm512_shuffle_epi8,
    _mm512_storeu_si512, _mm_loadu_si128,
};

use crate::arch::generic::{Block64, Masks, OP_TABLE, WS_TABLE};

/// The AVX-512BW + PCLMULQDQ backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512;

impl Avx512 {
    /// Whether this CPU can run the backend.
    pub(crate) fn is_available() -> bool {
        // AVX2 too: the byte census ([`crate::census`]) uses it on this
        // backend (every CPU with AVX-512BW has it).
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
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
        // include AVX2 (`Avx512::is_available` checks it).
        Some(unsafe { super::utf8::validate(blocks) })
    }

    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // SAFETY: the caller guarantees PCLMULQDQ.
        unsafe { super::avx2::Avx2::prefix_xor(x) }
    }

    /// Sixteen offsets at a time: each 16-bit quarter of `bits` compresses
    /// the offsets of its set bits into the low lanes of a vector (register
    /// form; the store form is slow on some CPUs), stored whole.
    #[inline(always)]
    unsafe fn flatten(out: *mut u32, base: u32, bits: u64) {
        if bits == 0 {
            return;
        }
        // SAFETY: the caller guarantees AVX-512F and 64 writable slots at
        // `out`: each store writes 16 slots from the running count, at
        // most 48 + 16 = 64.
        unsafe {
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let mut at = 0usize;
            for q in 0..4u32 {
                let m = (bits >> (16 * q)) as u16;
                let offsets =
                    _mm512_add_epi32(iota, _mm512_set1_epi32(base.wrapping_add(16 * q) as i32));
                let packed = _mm512_maskz_compress_epi32(m, offsets);
                _mm512_storeu_si512(out.add(at).cast::<__m512i>(), packed);
                at += m.count_ones() as usize;
            }
        }
    }
}

/// Stage 1 with AVX-512BW.
///
/// # Safety
///
/// [`Avx512::is_available`] must be true.
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,popcnt,bmi1,bmi2,lzcnt")]
pub(crate) unsafe fn stage1(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> crate::arch::generic::Stage1 {
    // SAFETY: this function's target features are those the backend needs.
    unsafe { crate::arch::generic::stage1::<Avx512>(input, out, blocks, masks) }
}
