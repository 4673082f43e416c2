//! The portable backend: always compiled, always available.

use super::generic::{Block64, Masks};

/// Byte-at-a-time classification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scalar;

impl Block64 for Scalar {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match b {
                b'"' => m.quote |= bit,
                b'\\' => m.backslash |= bit,
                b'{' | b'}' | b'[' | b']' | b':' | b',' => m.op |= bit,
                b' ' | b'\t' | b'\n' | b'\r' => m.ws |= bit,
                _ => {}
            }
            if b < 0x20 {
                m.control |= bit;
            }
            if b >= 0x80 {
                m.high |= bit;
            }
        }
        m
    }

    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        crate::arch::generic::prefix_xor_by_shifts(x)
    }
}

/// Stage 1 with the scalar backend.
pub(crate) fn stage1(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> super::generic::Stage1 {
    // SAFETY: the scalar backend uses no target features.
    unsafe { super::generic::stage1::<Scalar>(input, out, blocks, masks) }
}
