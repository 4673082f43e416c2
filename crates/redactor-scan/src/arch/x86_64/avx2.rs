//! AVX2 classification (two 32-byte halves) and PCLMULQDQ prefix XOR.

use core::arch::x86_64::{
    __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi8, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x,
};

use crate::arch::generic::{Block64, Masks};

/// The AVX2 + PCLMULQDQ backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2;

impl Avx2 {
    /// Whether this CPU can run the backend.
    pub(crate) fn is_available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
}

/// Masks of 32 bytes at `p`.
///
/// # Safety
///
/// AVX2 must be available and `p` must point to 32 readable bytes.
#[inline(always)]
unsafe fn half(p: *const u8) -> (u32, u32, u32, u32, u32) {
    // SAFETY: the caller guarantees AVX2 and 32 readable bytes; the load is
    // unaligned.
    unsafe {
        let v = _mm256_loadu_si256(p.cast::<__m256i>());
        let eq = |c: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8));
        let mask = |x: __m256i| _mm256_movemask_epi8(x) as u32;
        // '[' | 0x20 == '{' and ']' | 0x20 == '}'.
        let lower = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let brace = _mm256_or_si256(
            _mm256_cmpeq_epi8(lower, _mm256_set1_epi8(b'{' as i8)),
            _mm256_cmpeq_epi8(lower, _mm256_set1_epi8(b'}' as i8)),
        );
        let op = _mm256_or_si256(brace, _mm256_or_si256(eq(b':'), eq(b',')));
        let ws = _mm256_or_si256(
            _mm256_or_si256(eq(b' '), eq(b'\t')),
            _mm256_or_si256(eq(b'\n'), eq(b'\r')),
        );
        // x <= 0x1f  <=>  max(x, 0x1f) == 0x1f (unsigned).
        let low = _mm256_set1_epi8(0x1f);
        let control = _mm256_cmpeq_epi8(_mm256_max_epu8(v, low), low);
        (
            mask(eq(b'"')),
            mask(eq(b'\\')),
            mask(op),
            mask(ws),
            mask(control),
        )
    }
}

impl Block64 for Avx2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Masks {
        // SAFETY: the caller guarantees AVX2; `block` has 64 readable bytes,
        // so both halves are in bounds.
        let (lo, hi) = unsafe { (half(block.as_ptr()), half(block.as_ptr().add(32))) };
        let join = |a: u32, b: u32| u64::from(a) | (u64::from(b) << 32);
        Masks {
            quote: join(lo.0, hi.0),
            backslash: join(lo.1, hi.1),
            op: join(lo.2, hi.2),
            ws: join(lo.3, hi.3),
            control: join(lo.4, hi.4),
        }
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
#[target_feature(enable = "avx2,pclmulqdq")]
pub(crate) unsafe fn stage1(input: &[u8], out: &mut Vec<u32>) -> crate::arch::generic::Stage1 {
    // SAFETY: this function's target features are those the backend needs.
    unsafe { crate::arch::generic::stage1::<Avx2>(input, out) }
}
