//! NEON classification (four 16-byte quarters; operators and whitespace by
//! `tbl` table lookup) with a shift-and-XOR prefix XOR.
//!
//! The carry-less multiply that the x86-64 backends use for the prefix XOR
//! (`pmull`) belongs to the optional crypto extension on aarch64 (absent on
//! some cores, the Raspberry Pi 4's among them), so this backend computes
//! it with six shifts and XORs, which every aarch64 CPU runs.

use core::arch::aarch64::{
    uint8x16_t, vandq_u8, vceqq_u8, vcgeq_u8, vcleq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8,
    vorrq_u8, vpaddq_u8, vqtbl1q_u8, vreinterpretq_u64_u8,
};

use crate::arch::generic::{Block64, Masks, OP_TABLE, WS_TABLE};

/// The NEON backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Neon;

impl Neon {
    /// Whether this CPU can run the backend.
    pub(crate) fn is_available() -> bool {
        std::arch::is_aarch64_feature_detected!("neon")
    }
}

/// Bit `i % 8` in lane `i`: ANDed with a lane mask, then summed in pairs,
/// it packs 64 lanes into one 64-bit mask.
const LANE_BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];

/// One 64-bit mask from four 16-byte lane masks (0xff or 0 per lane), bit
/// `i` for lane `i` of the 64.
///
/// # Safety
///
/// NEON must be available.
#[inline(always)]
unsafe fn join(q: [uint8x16_t; 4]) -> u64 {
    // SAFETY: the caller guarantees NEON; `LANE_BITS` has 16 readable bytes.
    unsafe {
        let bits = vld1q_u8(LANE_BITS.as_ptr());
        let a = vpaddq_u8(vandq_u8(q[0], bits), vandq_u8(q[1], bits));
        let b = vpaddq_u8(vandq_u8(q[2], bits), vandq_u8(q[3], bits));
        let ab = vpaddq_u8(a, b);
        vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(ab, ab)))
    }
}

impl Block64 for Neon {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Masks {
        // SAFETY: the caller guarantees NEON; `block` has 64 readable bytes,
        // so the four 16-byte loads are in bounds, and each table has 16.
        unsafe {
            let p = block.as_ptr();
            let v = [
                vld1q_u8(p),
                vld1q_u8(p.add(16)),
                vld1q_u8(p.add(32)),
                vld1q_u8(p.add(48)),
            ];
            let ws_table = vld1q_u8(WS_TABLE.as_ptr());
            let op_table = vld1q_u8(OP_TABLE.as_ptr());
            let low_nibble = vdupq_n_u8(0x0f);
            let quote = vdupq_n_u8(b'"');
            let backslash = vdupq_n_u8(b'\\');
            let lower = vdupq_n_u8(0x20);
            let last_control = vdupq_n_u8(0x1f);
            let first_high = vdupq_n_u8(0x80);
            // The four quarters' lane masks of one class.
            macro_rules! each {
                (|$x:ident| $e:expr) => {{
                    let f = |$x: uint8x16_t| $e;
                    join([f(v[0]), f(v[1]), f(v[2]), f(v[3])])
                }};
            }
            let control = each!(|x| vcleq_u8(x, last_control));
            Masks {
                quote: each!(|x| vceqq_u8(x, quote)),
                backslash: each!(|x| vceqq_u8(x, backslash)),
                op: each!(|x| vceqq_u8(
                    vorrq_u8(x, lower),
                    vqtbl1q_u8(op_table, vandq_u8(x, low_nibble))
                )) & !control,
                ws: each!(|x| vceqq_u8(x, vqtbl1q_u8(ws_table, vandq_u8(x, low_nibble)))),
                control,
                high: each!(|x| vcgeq_u8(x, first_high)),
            }
        }
    }

    #[inline(always)]
    unsafe fn prefix_xor(x: u64) -> u64 {
        crate::arch::generic::prefix_xor_by_shifts(x)
    }
}

/// Stage 1 with NEON.
///
/// # Safety
///
/// [`Neon::is_available`] must be true.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn stage1(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> crate::arch::generic::Stage1 {
    // SAFETY: this function's target features are those the backend needs.
    unsafe { crate::arch::generic::stage1::<Neon>(input, out, blocks, masks) }
}
