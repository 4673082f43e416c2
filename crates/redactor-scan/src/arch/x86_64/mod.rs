//! x86-64 backends.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod census;
pub(crate) mod pairs;
pub(crate) mod utf8;

/// POPCNT, BMI1, BMI2 and LZCNT: the bit instructions that the stage-1 block
/// loop and stage 2 are compiled with on the SIMD backends (every CPU with
/// AVX2 that is known to have them, but each is checked).
pub(crate) fn has_bit_instructions() -> bool {
    std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("lzcnt")
}

/// Stage 2 compiled with the bit instructions above (single-instruction
/// `trailing_zeros` and `count_ones`), for both SIMD backends.
///
/// # Safety
///
/// [`has_bit_instructions`] must be true (both backends' `is_available`
/// check it).
#[target_feature(enable = "popcnt,bmi1,bmi2,lzcnt")]
pub(crate) unsafe fn stage2(walk: crate::tape::Walk<'_>) -> Result<(), crate::ScanError> {
    walk.run()
}
