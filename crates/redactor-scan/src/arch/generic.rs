//! The stage-1 block loop and the quote/backslash bit algebra, written once
//! and instantiated per backend. A backend supplies only [`Block64`]: the
//! classification of 64 bytes into bit masks and a prefix XOR, and
//! optionally its own offset writer and a UTF-8 check of whole blocks.

/// Bit masks of one 64-byte block; bit `i` describes byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    /// `"`
    pub quote: u64,
    /// `\`
    pub backslash: u64,
    /// `{ } [ ] : ,`
    pub op: u64,
    /// space, tab, newline, carriage return
    pub ws: u64,
    /// bytes below 0x20
    pub control: u64,
    /// Non-zero exactly when some byte is at or above 0x80 (not ASCII):
    /// stage 1 only asks whether any is, so a backend may fold positions
    /// together (AVX2 folds its two halves).
    pub high: u64,
}

impl Masks {
    /// The masks of the last `64 - by` bytes of the block, as if followed
    /// by `by` spaces (`0 < by < 64`): every mask shifted down by `by`,
    /// whitespace bits shifted in. `high` stays as it is: backends may fold
    /// positions into it, and every byte it covers is a byte of the text.
    #[inline(always)]
    pub(crate) fn shifted(self, by: usize) -> Masks {
        debug_assert!(0 < by && by < 64);
        Masks {
            quote: self.quote >> by,
            backslash: self.backslash >> by,
            op: self.op >> by,
            ws: (self.ws >> by) | !(u64::MAX >> by),
            control: self.control >> by,
            high: self.high,
        }
    }
}

/// The primitives of one backend.
pub(crate) trait Block64 {
    /// Classifies 64 bytes.
    ///
    /// # Safety
    ///
    /// The CPU must support the backend's target features.
    unsafe fn classify(block: &[u8; 64]) -> Masks;

    /// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
    ///
    /// # Safety
    ///
    /// The CPU must support the backend's target features.
    unsafe fn prefix_xor(x: u64) -> u64;

    /// Writes `base + i` for every set bit `i` of `bits`, lowest first, to
    /// `out[..n]`, where `n` is the number of set bits. May write anything
    /// to `out[n..64]`.
    ///
    /// # Safety
    ///
    /// The CPU must support the backend's target features, and `out` must
    /// be valid for writes of 64 values.
    #[inline(always)]
    unsafe fn flatten(out: *mut u32, base: u32, bits: u64) {
        // SAFETY: forwarded from this function's contract.
        unsafe { flatten(out, base, bits) }
    }

    /// Validates the UTF-8 of `blocks`, the first bytes of a text, or
    /// returns `None` when the backend does not (the default).
    ///
    /// # Safety
    ///
    /// The CPU must support the backend's target features.
    #[inline(always)]
    unsafe fn utf8(blocks: &[[u8; 64]]) -> Option<Utf8Blocks> {
        let _ = blocks;
        None
    }
}

/// A backend's UTF-8 verdict on a text's whole blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utf8Blocks {
    /// An invalid sequence lies inside them.
    pub invalid: bool,
    /// The last of them ends inside a character (its lead byte is one of
    /// their last three bytes; the bytes after must finish it).
    pub unfinished: bool,
}

/// Whitespace by table lookup on a byte's low nibble (`vpshufb` on AVX2,
/// `tbl` on NEON): the entry at `b & 0x0f` equals `b` exactly for the four
/// JSON whitespace bytes. 0 fills the other slots: a zero byte indexes
/// slot 0, which holds a space, and a byte at or above 0x80 equals no entry
/// (`vpshufb` even gives 0 for it).
pub(crate) const WS_TABLE: [u8; 16] = [
    b' ', 0, 0, 0, 0, 0, 0, 0, 0, b'\t', b'\n', 0, 0, b'\r', 0, 0,
];

/// Operators by table lookup on a byte's low nibble: the entry at
/// `b & 0x0f` equals `b | 0x20` for `:` `,` `[` `]` `{` `}` (`[` and `]`
/// become `{` and `}`), and for two control bytes, 0x0c and 0x1a, which
/// the backends remove with the control mask. 0 fills the other slots
/// (`b | 0x20` is never 0).
pub(crate) const OP_TABLE: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b':', b'{', b',', b'}', 0, 0];

/// The prefix XOR without a carry-less multiply: six shifts and XORs (the
/// scalar and NEON backends' [`Block64::prefix_xor`]).
#[inline(always)]
pub(crate) fn prefix_xor_by_shifts(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// How far ahead of the block being classified stage 1 asks for input
/// (see [`super::prefetch`]). In `hot scan` over the telemetry corpus,
/// 1 KiB measured best of 512 B, 1 KiB and 2 KiB (+5% against none, on an
/// AVX-512 Xeon). The hardware prefetchers do not follow a stream past
/// its 4 KiB page.
const PREFETCH_AHEAD: usize = 1024;

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// State carried from one block to the next.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Carry {
    /// 1 when the previous block ended with an odd run of backslashes.
    pub prev_escaped: u64,
    /// All ones when the previous block ended inside a string.
    pub prev_in_string: u64,
    /// 1 when the previous block ended with a scalar (number/literal) byte.
    pub prev_scalar: u64,
    /// 1 when the previous block ended inside a string that holds a
    /// backslash (the carry out of [`escaped_string_ends`]).
    pub prev_backslash_in_string: u64,
}

/// The bytes escaped by a backslash (the byte after an odd-length run).
#[inline(always)]
pub(crate) fn escaped(backslash: u64, prev_escaped: &mut u64) -> u64 {
    // A backslash that is itself escaped does not escape.
    let backslash = backslash & !*prev_escaped;
    let follows_escape = (backslash << 1) | *prev_escaped;
    // Runs starting on odd bits: adding the run to its start carries past
    // its end; runs starting on even bits are handled by the inversion.
    let odd_sequence_starts = backslash & !EVEN_BITS & !follows_escape;
    let (sequences_starting_on_even_bits, overflow) =
        odd_sequence_starts.overflowing_add(backslash);
    *prev_escaped = u64::from(overflow);
    let invert_mask = sequences_starting_on_even_bits << 1;
    (EVEN_BITS ^ invert_mask) & follows_escape
}

/// The closing quotes of strings whose content holds a backslash.
///
/// `in_string` has the bits of each string's opening quote and content,
/// and not its closing quote; its runs of ones are the strings. Adding the
/// backslashes inside strings to it sets no bit outside a run except the
/// one just past a run holding a backslash: the carry out of the lowest
/// such backslash runs through the rest of the run (every bit of which is
/// one) and stops at the closing quote (a zero, where nothing is added).
/// Strings without one add nothing and carry nothing. A run that reaches
/// past the block carries into the next one through `prev`.
#[inline(always)]
pub(crate) fn escaped_string_ends(in_string: u64, backslash: u64, prev: &mut u64) -> u64 {
    let (sum, first) = in_string.overflowing_add(backslash & in_string);
    // `sum` is at most 2^64 - 2 when `first` carried, so at most one of
    // the two additions carries out.
    let (sum, second) = sum.overflowing_add(*prev);
    *prev = u64::from(first | second);
    sum & !in_string
}

/// What stage 1 found besides the structural indices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stage1 {
    /// Offset of the first control character inside a string.
    pub control_in_string: Option<usize>,
    /// The text ends inside a string.
    pub unterminated: bool,
    /// Every byte is ASCII (so the text is valid UTF-8).
    pub ascii: bool,
    /// The text holds a backslash somewhere.
    pub backslash: bool,
    /// The text's first `utf8_valid` bytes are valid UTF-8 and end at a
    /// character boundary: only the rest needs validating. 0 when the text
    /// is all ASCII (see `ascii`), is under 64 bytes, or the backend does
    /// not validate UTF-8; the backends that do cover the whole blocks,
    /// and the bytes after them when those are ASCII.
    pub utf8_valid: usize,
    /// Stage 1 found an invalid UTF-8 sequence (then `utf8_valid` is 0).
    pub utf8_invalid: bool,
}

/// Appends the offsets of every structural byte of `input` to `out`:
/// `{ } [ ] : ,` outside strings, every unescaped quote (opening and
/// closing: nothing between them is structural, so a string's end is the
/// structural after its start), and the first byte of every number or
/// literal. `masks` gets every block's mask of the closing quotes of
/// strings that hold a backslash (see [`escaped_string_ends`]), so stage 2
/// knows which strings have escapes without scanning them again. `blocks`
/// is scratch: each block's structural bits, between the pass that
/// classifies the blocks and the one that writes the offsets.
///
/// # Safety
///
/// The CPU must support `B`'s target features.
#[inline(always)]
pub(crate) unsafe fn stage1<B: Block64>(
    input: &[u8],
    out: &mut Vec<u32>,
    blocks: &mut Vec<u64>,
    masks: &mut Vec<u64>,
) -> Stage1 {
    let count = input.len().div_ceil(64);
    blocks.clear();
    blocks.reserve(count);
    masks.clear();
    masks.reserve(count);
    let mut walk = Blocks::default();
    // Whole blocks straight from the input, and the last partial one (if
    // any) after the loop: no copy call in the loop, whose vector
    // constants then stay in registers. Each block's two masks go to the
    // slot of its index in the vectors' spare room, all of which is
    // written: no length and no bounds check per block, which the loop
    // had no registers left to keep.
    let (whole, rest) = input.as_chunks::<64>();
    let bits_out = &mut blocks.spare_capacity_mut()[..count];
    let ends_out = &mut masks.spare_capacity_mut()[..count];
    for (i, ((block, bits), ends)) in whole
        .iter()
        .zip(bits_out.iter_mut())
        .zip(ends_out.iter_mut())
        .enumerate()
    {
        // Lines come one after another in memory (a read buffer, a
        // corpus): the block this far ahead, often in the next line, is
        // on its way when its turn comes.
        super::prefetch(block.as_ptr().wrapping_add(PREFETCH_AHEAD));
        // SAFETY: forwarded from this function's contract.
        let (b, e) = unsafe { walk.masks::<B>(B::classify(block), i * 64) };
        bits.write(b);
        ends.write(e);
    }
    // Whether the bytes after the whole blocks are all ASCII.
    let mut ascii_after = rest.is_empty();
    if !rest.is_empty() {
        let m = if let Some(last) = input.last_chunk::<64>() {
            // The last 64 bytes of the text, whose first ones were
            // classified with the block before: their bits are shifted
            // out, and the bits shifted in stand for spaces, as in a padded
            // copy. No copy of a length that changes from one text to the
            // next (its calls were mispredicted): +3.8% in `hot scan`.
            // SAFETY: forwarded from this function's contract.
            let m = unsafe { B::classify(last) }.shifted(64 - rest.len());
            ascii_after = m.high == 0;
            m
        } else {
            // Shorter texts are copied.
            let mut tail = [b' '; 64];
            tail[..rest.len()].copy_from_slice(rest);
            // SAFETY: as above.
            unsafe { B::classify(&tail) }
        };
        // SAFETY: as above.
        let (b, e) = unsafe { walk.masks::<B>(m, whole.len() * 64) };
        // `count` is `whole.len() + 1` here: this is the last slot.
        bits_out[whole.len()].write(b);
        ends_out[whole.len()].write(e);
    }
    // SAFETY: the loop wrote the first `whole.len()` slots of both
    // vectors' spare room, and the last partial block, if any, the one
    // after: `count` slots, within the capacity reserved above.
    unsafe {
        blocks.set_len(count);
        masks.set_len(count);
    }
    // The second pass: the offsets of the structural bits. Apart, each
    // loop keeps its own values in registers; together they spilled the
    // carries between blocks to the stack (+5.5% in `hot scan`).
    // The offsets go straight to the vector's spare room: one reservation
    // for the text rather than a check per block, and its length set once.
    out.clear();
    out.reserve(input.len() + 64);
    let start = out.as_mut_ptr();
    let mut written = 0;
    for (base, &bits) in (0..).step_by(64).zip(blocks.iter()) {
        // SAFETY: forwarded from this function's contract. A block adds
        // the number of its set bits, at most 64, so the `k`th block (from
        // 0) starts at `written <= 64 * k`, and its writes stay below
        // `64 * (k + 1) <= 64 * count`, which is below `input.len() + 64`:
        // inside the capacity reserved above.
        unsafe { B::flatten(start.add(written), base, bits) };
        // From the mask, not from the writer's running count: the next
        // block's writes wait on this sum alone.
        written += bits.count_ones() as usize;
    }
    // One structural per byte at most: the bits past the text's end stand
    // for spaces, never structural.
    debug_assert!(written <= input.len());
    // SAFETY: `flatten` wrote the first `written` slots (each block its
    // set bits' offsets), within the capacity.
    unsafe { out.set_len(written) };
    let mut result = walk.result;
    result.unterminated = walk.carry.prev_in_string != 0;
    result.ascii = walk.high == 0;
    result.backslash = walk.backslash != 0;
    if !result.ascii {
        // A pass of its own over the blocks, for the texts that need it
        // (about half the lines of the telemetry corpus, and few of their
        // blocks), rather than a branch on every block of the loop above,
        // which measured slower.
        // SAFETY: forwarded from this function's contract.
        if let Some(found) = unsafe { B::utf8(whole) } {
            let end = whole.len() * 64;
            result.utf8_invalid = found.invalid;
            result.utf8_valid = if found.invalid {
                0
            } else if found.unfinished {
                // The check found no error, so the character's lead byte
                // is there; the caller validates from it.
                (end.saturating_sub(3)..end)
                    .rev()
                    .find(|&i| input[i] >= 0xC0)
                    .unwrap_or(0)
            } else if ascii_after {
                // After a character left unfinished would come a
                // continuation byte: the whole text is valid.
                input.len()
            } else {
                end
            };
        }
    }
    result
}

/// The state of stage 1 from one block to the next.
#[derive(Debug, Default)]
struct Blocks {
    carry: Carry,
    /// The OR of every block's non-ASCII and backslash masks.
    high: u64,
    backslash: u64,
    result: Stage1,
}

impl Blocks {
    /// The structural bits of the block at offset `at`, and its mask of
    /// the closing quotes of strings holding a backslash, from its
    /// classification.
    ///
    /// # Safety
    ///
    /// The CPU must support `B`'s target features.
    #[inline(always)]
    unsafe fn masks<B: Block64>(&mut self, m: Masks, at: usize) -> (u64, u64) {
        let carry = &mut self.carry;
        self.high |= m.high;
        // No backslash in the block, and none whose effect reaches into it
        // (about 95% of the telemetry corpus's blocks): nothing is escaped
        // and no string here holds one.
        let backslashes = (m.backslash | carry.prev_escaped | carry.prev_backslash_in_string) != 0;
        let esc = if backslashes {
            // Here rather than beside `high`, whose OR it was vectorized
            // with, through memory.
            self.backslash |= m.backslash;
            escaped(m.backslash, &mut carry.prev_escaped)
        } else {
            0
        };
        let quote = m.quote & !esc;
        // SAFETY: forwarded from this function's contract.
        let in_string = unsafe { B::prefix_xor(quote) } ^ carry.prev_in_string;
        carry.prev_in_string = ((in_string as i64) >> 63) as u64;
        let ends = if backslashes {
            escaped_string_ends(in_string, m.backslash, &mut carry.prev_backslash_in_string)
        } else {
            0
        };
        let bad = m.control & in_string;
        if bad != 0 {
            // Never taken in valid JSON: a branch that always predicts,
            // instead of the selects that would keep the first offset in
            // registers on every block.
            self.result.control_in_string = first_control(self.result.control_in_string, at, bad);
        }
        let outside = !in_string & !quote;
        let op = m.op & outside;
        let scalar = outside & !(m.op | m.ws);
        let follows_scalar = (scalar << 1) | carry.prev_scalar;
        carry.prev_scalar = scalar >> 63;
        (op | quote | (scalar & !follows_scalar), ends)
    }
}

/// The first control character inside a string: `found`, from an earlier
/// block, or else bit `bad.trailing_zeros()` of the block at `base`. Takes
/// and returns values, so that no reference to stage 1's state escapes
/// into a call and the state stays in registers.
#[cold]
#[inline(never)]
fn first_control(found: Option<usize>, base: usize, bad: u64) -> Option<usize> {
    found.or(Some(base + bad.trailing_zeros() as usize))
}

/// [`Block64::flatten`] without SIMD: eight offsets at a time, each from
/// the lowest bit left.
///
/// # Safety
///
/// `out` must be valid for writes of 64 values.
#[inline(always)]
pub(crate) unsafe fn flatten(out: *mut u32, base: u32, mut bits: u64) {
    let count = bits.count_ones() as usize;
    let mut k = 0;
    while k < count {
        for j in 0..8 {
            // SAFETY: `k + j < 64` (`k` is a multiple of 8 below `count`,
            // at most 64): inside the 64 slots the caller guarantees.
            // Slots past `count` get garbage, which the contract allows.
            unsafe {
                out.add(k + j)
                    .write(base.wrapping_add(bits.trailing_zeros()))
            };
            bits &= bits.wrapping_sub(1);
        }
        k += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaped bytes, one byte at a time.
    fn naive_escaped(bytes: &[u8]) -> Vec<bool> {
        let mut out = vec![false; bytes.len()];
        let mut pending = false;
        for (i, &b) in bytes.iter().enumerate() {
            if pending {
                out[i] = true;
                pending = false;
            } else if b == b'\\' {
                pending = true;
            }
        }
        out
    }

    #[test]
    fn escape_algebra_matches_naive_across_blocks() {
        // Every pattern of backslashes in the 12 bytes around a block edge.
        for pattern in 0u32..(1 << 12) {
            let mut bytes = vec![b'a'; 128];
            for k in 0..12 {
                if pattern >> k & 1 == 1 {
                    bytes[58 + k] = b'\\';
                }
            }
            let want = naive_escaped(&bytes);
            let mut prev = 0;
            for (blk, chunk) in bytes.chunks(64).enumerate() {
                let bs = chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, &b)| m | (u64::from(b == b'\\') << i));
                let got = escaped(bs, &mut prev);
                for i in 0..64 {
                    assert_eq!(
                        got >> i & 1 == 1,
                        want[blk * 64 + i],
                        "pattern {pattern:012b} byte {}",
                        blk * 64 + i
                    );
                }
            }
        }
    }
}
