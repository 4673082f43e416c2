//! AVX2 classification (two 32-byte halves; operators and whitespace by
//! `vpshufb` table lookup) and PCLMULQDQ prefix XOR.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8, _mm256_load_si256,
    _mm256_loadu_si256, _mm256_max_epu8, _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_set1_epi32, _mm256_set1_epi8, _mm256_shuffle_epi8, _mm256_storeu_si256,
    _mm256_testz_si256, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_set_epi64x,
};

use crate::arch::generic::{Block64, Masks, OP_TABLE, WS_TABLE};

/// The AVX2 + PCLMULQDQ backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2;

impl Avx2 {
    /// Whether this CPU can run the backend.
    pub(crate) fn is_available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
            && super::has_bit_instructions()
    }
}

/// Bytes of `v` equal to `c`, as a vector mask.
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn eq(v: __m256i, c: u8) -> __m256i {
    // SAFETY: the caller guarantees AVX2.
    unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8)) }
}

/// One 64-bit mask from the two 32-byte halves' vector masks.
///
/// When the classification compared bytes one class at a time, LLVM
/// rewrote `movemask(compare)` into a 64-lane boolean vector and extracted
/// the lanes one byte at a time (2x slower), and this join needed a
/// `black_box` barrier. With the table lookups it compiles to two
/// `vpmovmskb` per mask and the barrier only cost instructions (rustc 1.95:
/// 218.1 M -> 216.1 M per pass of the `hot scan` example); check the
/// assembly of `avx2::stage1` when changing the classification.
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn join(lo: __m256i, hi: __m256i) -> u64 {
    // SAFETY: the caller guarantees AVX2.
    unsafe {
        u64::from(_mm256_movemask_epi8(lo) as u32)
            | (u64::from(_mm256_movemask_epi8(hi) as u32) << 32)
    }
}

/// For every byte value, the positions of its set bits, lowest first (the
/// rest 0), as 32-bit lanes: one aligned 32-byte load per byte of a mask,
/// no widening.
#[repr(align(32))]
struct BitPositions([[u32; 8]; 256]);

static BIT_POSITIONS: BitPositions = {
    let mut table = [[0u32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut bit, mut n) = (0, 0);
        while bit < 8 {
            if b >> bit & 1 == 1 {
                table[b][n] = bit as u32;
                n += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    BitPositions(table)
};

/// The operator and whitespace vector masks of `v` (the operator mask
/// still holds 0x0c and 0x1a).
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn op_ws(v: __m256i) -> (__m256i, __m256i) {
    // SAFETY: the caller guarantees AVX2; the tables are 16 readable bytes,
    // loaded unaligned.
    unsafe {
        let ws_table = _mm256_broadcastsi128_si256(_mm_loadu_si128(WS_TABLE.as_ptr().cast()));
        let op_table = _mm256_broadcastsi128_si256(_mm_loadu_si128(OP_TABLE.as_ptr().cast()));
        let ws = _mm256_cmpeq_epi8(v, _mm256_shuffle_epi8(ws_table, v));
        let lower = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let op = _mm256_cmpeq_epi8(lower, _mm256_shuffle_epi8(op_table, v));
        (op, ws)
    }
}

/// The bytes of `v` below 0x20, as a vector mask.
///
/// # Safety
///
/// AVX2 must be available.
#[inline(always)]
unsafe fn below_0x20(v: __m256i) -> __m256i {
    // SAFETY: the caller guarantees AVX2.
    unsafe {
        // x <= 0x1f  <=>  max(x, 0x1f) == 0x1f (unsigned).
        let low = _mm256_set1_epi8(0x1f);
        _mm256_cmpeq_epi8(_mm256_max_epu8(v, low), low)
    }
}

impl Block64 for Avx2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Masks {
        // SAFETY: the caller guarantees AVX2; `block` has 64 readable bytes,
        // so both unaligned 32-byte loads are in bounds. No closures or
        // arrays of masks: LLVM turned those into byte shuffles.
        unsafe {
            let lo = _mm256_loadu_si256(block.as_ptr().cast::<__m256i>());
            let hi = _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>());
            let (op_lo, ws_lo) = op_ws(lo);
            let (op_hi, ws_hi) = op_ws(hi);
            let mut op = join(op_lo, op_hi);
            // Bytes below 0x20 are rare in compact JSON: one test for
            // both halves (their bytewise minimum) and the masks only
            // when there is one.
            let any_control = below_0x20(_mm256_min_epu8(lo, hi));
            let control = if _mm256_testz_si256(any_control, any_control) != 0 {
                0
            } else {
                let control = join(below_0x20(lo), below_0x20(hi));
                op &= !control;
                control
            };
            Masks {
                quote: join(eq(lo, b'"'), eq(hi, b'"')),
                backslash: join(eq(lo, b'\\'), eq(hi, b'\\')),
                op,
                ws: join(ws_lo, ws_hi),
                control,
                // The sign bit of each byte is set exactly for non-ASCII;
                // only whether any is matters, so the halves are folded.
                high: u64::from(_mm256_movemask_epi8(_mm256_or_si256(lo, hi)) as u32),
            }
        }
    }

    /// Eight offsets at a time from a table: each byte of `bits` selects
    /// the positions of its set bits (already 32 bits wide: loading them
    /// as bytes and widening cost 3% of `hot scan` on Zen 1 in its host's
    /// slow spells, 1% in its steady ones), offset and stored whole; no
    /// chain of bit clears from one offset to the next. No branch on an
    /// empty mask either (the blocks inside long strings): its stores land
    /// in the spare room and count nothing, and the branch they replace
    /// was mispredicted often enough to cost more (+1.5% in `hot scan`).
    #[inline(always)]
    unsafe fn flatten(out: *mut u32, base: u32, bits: u64) {
        // SAFETY: the caller guarantees AVX2 and POPCNT, and 64 writable
        // slots at `out`: each store writes 8 slots from the running
        // count, at most 56 + 8 = 64; each table load reads the 32 bytes
        // of a `[u32; 8]`, aligned to 32 by `BitPositions`.
        unsafe {
            let mut at = 0usize;
            // The offset of byte `j`'s first bit, in every lane: one
            // broadcast per block, then one addition per byte.
            let mut byte_base = _mm256_set1_epi32(base as i32);
            let eight = _mm256_set1_epi32(8);
            for j in 0..8u32 {
                let byte = (bits >> (8 * j)) as u8;
                let positions = BIT_POSITIONS.0[byte as usize].as_ptr();
                let offsets = _mm256_add_epi32(_mm256_load_si256(positions.cast()), byte_base);
                _mm256_storeu_si256(out.add(at).cast::<__m256i>(), offsets);
                at += byte.count_ones() as usize;
                byte_base = _mm256_add_epi32(byte_base, eight);
            }
        }
    }

    #[inline(always)]
    unsafe fn utf8(blocks: &[[u8; 64]]) -> Option<crate::arch::generic::Utf8Blocks> {
        // SAFETY: the caller guarantees AVX2.
        Some(unsafe { super::utf8::validate(blocks) })
    }

    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // SAFETY: the caller guarantees PCLMULQDQ. Carry-less multiplication
        // by all ones XORs every bit into all higher positions.
        unsafe {
            _mm_cvtsi128_si64(_mm_clmulepi64_si128(
                _mm_set_epi64x(0, x as i64),
                _mm_set_epi64x(0, -1),
                0,
            )) as u64
        }
    }
}

/// Stage 1 with AVX2.
///
/// # Safety
///
/// [`Avx2::is_available`] must be true.
#[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1,bmi2,lzcnt")]
pub(crate) unsafe fn stage1(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> crate::arch::generic::Stage1 {
    // SAFETY: this function's target features are those the backend needs.
    unsafe { crate::arch::generic::stage1::<Avx2>(input, out, blocks, masks) }
}
