//! Backends and their selection. The only module with `unsafe` code.
//!
//! The CPU is detected once; `REDACTOR_SIMD=scalar|avx2|avx512|neon|auto` (read
//! at that moment) forces a backend, so tests and benches can run each one
//! and CI can run the whole suite on the scalar fallback.

use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
pub(crate) mod cursor;
pub(crate) mod fill;
pub(crate) mod generic;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

pub(crate) use cursor::Structurals;
pub(crate) use generic::Stage1;

/// A stage-1 implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable, byte at a time.
    Scalar,
    /// x86-64 AVX2 with PCLMULQDQ.
    Avx2,
    /// x86-64 AVX-512BW and AVX-512VBMI2 with PCLMULQDQ.
    Avx512,
    /// aarch64 NEON.
    Neon,
}

/// The backend [`Backend::detect`] chose (see `Backend::choose` for the
/// codes), or 0 before it chose.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

impl Backend {
    /// Every backend (each CPU runs the scalar one and those of its
    /// architecture).
    pub const ALL: [Backend; 4] = [
        Backend::Scalar,
        Backend::Avx2,
        Backend::Avx512,
        Backend::Neon,
    ];

    /// Its name (as accepted by `REDACTOR_SIMD`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Neon => "neon",
        }
    }

    /// Whether this CPU can run it.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => x86_64::avx2::Avx2::is_available(),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => x86_64::avx512::Avx512::is_available(),
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => aarch64::neon::Neon::is_available(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The backends this CPU can run.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    /// The backend in use: chosen once, from `REDACTOR_SIMD` or the CPU.
    ///
    /// AVX-512 (BW and VBMI2) is preferred when present: it measured faster
    /// than AVX2 on the telemetry corpus (+4% before its offsets were
    /// written with VBMI2's byte compress, +13% after, on a Xeon) and on
    /// `citm_catalog.json` (+12%), and within noise on twitter statuses
    /// (see `docs/benchmarks.md`).
    ///
    /// Inline, with the choice itself out of line: the detectors' byte
    /// census and pair search ask for the backend on every string they
    /// scan, and the call was 0.4% of the engine's time.
    #[inline]
    pub fn detect() -> Backend {
        match CHOSEN.load(Ordering::Relaxed) {
            1 => Backend::Scalar,
            2 => Backend::Avx2,
            3 => Backend::Avx512,
            4 => Backend::Neon,
            _ => Backend::choose(),
        }
    }

    /// Chooses the backend, once ([`Backend::detect`]).
    #[cold]
    #[inline(never)]
    fn choose() -> Backend {
        let wanted = std::env::var("REDACTOR_SIMD").unwrap_or_default();
        let b = match wanted.as_str() {
            "scalar" => Backend::Scalar,
            "avx2" if Backend::Avx2.is_available() => Backend::Avx2,
            "avx512" if Backend::Avx512.is_available() => Backend::Avx512,
            "neon" if Backend::Neon.is_available() => Backend::Neon,
            _ if Backend::Avx512.is_available() => Backend::Avx512,
            _ if Backend::Avx2.is_available() => Backend::Avx2,
            _ if Backend::Neon.is_available() => Backend::Neon,
            _ => Backend::Scalar,
        };
        let code = match b {
            Backend::Scalar => 1,
            Backend::Avx2 => 2,
            Backend::Avx512 => 3,
            Backend::Neon => 4,
        };
        CHOSEN.store(code, Ordering::Relaxed);
        b
    }

    /// Runs stage 1, and returns `input` as text when it is valid UTF-8, or
    /// else the offset of its first invalid byte. The backend must be
    /// available (checked by the caller when it was chosen).
    pub(crate) fn stage1<'i>(
        self,
        input: &'i [u8],
        out: &mut Structurals,
    ) -> (Stage1, Result<&'i str, usize>) {
        // Every backend appends, for each 64-byte block in order, the
        // offsets of the block's structural bytes, lowest first; past the
        // end of the text, the last block holds spaces (a padded copy, or
        // whitespace bits shifted in), which are never structural. So every
        // offset is below `input.len()`, as `Structurals` promises.
        let found = self.stage1_of(
            input,
            &mut out.offsets,
            &mut out.blocks,
            &mut out.escaped_ends,
        );
        out.text_len = input.len();
        (found, utf8(input, &found))
    }

    /// Runs stage 2, compiled for this backend's CPUs. The backend must be
    /// available (as for [`Backend::stage1`]).
    pub(crate) fn stage2(self, walk: crate::tape::Walk<'_>) -> Result<(), crate::ScanError> {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Scanner` only holds a backend whose `is_available()`
            // was true, and both of these check the bit instructions.
            Backend::Avx2 | Backend::Avx512 => unsafe { x86_64::stage2(walk) },
            _ => walk.run(),
        }
    }

    /// Stage 1 on this backend. The three vectors go in apart rather than
    /// as one `&mut Structurals`: as separate arguments each is known not
    /// to alias the others, and passing the struct measured 0.98-0.985 in
    /// `hot scan` (138 M instructions against 139 M, but slower).
    fn stage1_of(
        self,
        input: &[u8],
        out: &mut Vec<u32>,
        blocks: &mut Vec<u64>,
        masks: &mut Vec<u64>,
    ) -> Stage1 {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Scanner` only holds a backend whose `is_available()`
            // was true.
            Backend::Avx2 => unsafe { x86_64::avx2::stage1(input, out, blocks, masks) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Backend::Avx512 => unsafe { x86_64::avx512::stage1(input, out, blocks, masks) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: as above.
            Backend::Neon => unsafe { aarch64::neon::stage1(input, out, blocks, masks) },
            _ => scalar::stage1(input, out, blocks, masks),
        }
    }
}

/// `input` as text when it is valid UTF-8, from stage 1's findings, or
/// else the offset of its first invalid byte.
fn utf8<'i>(input: &'i [u8], found: &Stage1) -> Result<&'i str, usize> {
    if found.ascii {
        debug_assert!(input.is_ascii());
        // SAFETY: stage 1 classified every byte of `input` and none had
        // its high bit set (`Masks::high`, the same on every backend,
        // tested against `<[u8]>::is_ascii`): ASCII text is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(input) });
    }
    if !found.utf8_invalid {
        let (checked, rest) = input.split_at(found.utf8_valid.min(input.len()));
        if rest.is_empty() || simdutf8::basic::from_utf8(rest).is_ok() {
            debug_assert!(std::str::from_utf8(checked).is_ok());
            // SAFETY: stage 1 validated `checked` (tested against
            // `std::str::from_utf8` on every backend), which ends at a
            // character boundary, and simdutf8 validated the rest.
            return Ok(unsafe { std::str::from_utf8_unchecked(input) });
        }
    }
    // The slower standard check locates the error, and has the last word.
    std::str::from_utf8(input).map_err(|e| e.valid_up_to())
}

/// Asks the CPU to bring the cache line holding `p` into its caches. Any
/// address will do: a prefetch reads nothing the program sees and never
/// faults, so `p` may lie past the end of the text (it is computed with
/// `wrapping_add`, never dereferenced). A no-op where no hint is wired up.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE, which the instruction needs, is part of every x86-64
    // CPU; the hint neither reads into the program nor faults.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The byte census of `text` on the backend in use.
#[inline]
pub(crate) fn census(text: &[u8]) -> crate::census::Census {
    census_with(Backend::detect(), text)
}

/// The byte census of `text` on `backend`, which must be available.
#[inline]
pub(crate) fn census_with(backend: Backend, text: &[u8]) -> crate::census::Census {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `backend` is available, and both of these check AVX2 and
        // POPCNT.
        Backend::Avx2 | Backend::Avx512 => unsafe { x86_64::census::census(text) },
        _ => crate::census::census_portable(text),
    }
}

/// [`crate::pairs::PairSet::any`] on `backend`, which must be available.
#[inline]
pub(crate) fn pairs_any(
    backend: Backend,
    set: &crate::pairs::PairSet,
    text: &[u8],
    accept: impl FnMut(usize) -> bool,
) -> bool {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => {
            let mut accept = accept;
            // SAFETY: `backend` is available, and both of these check AVX2
            // and BMI1.
            unsafe { x86_64::pairs::any(set, text, &mut accept) }
        }
        // NEON too, as for the census.
        _ => set.any_portable(text, accept),
    }
}

#[cfg(test)]
mod tests {
    use super::Backend;

    /// Every backend's offset writer, against the portable one: empty, full
    /// and single-bit masks, every byte value in every byte lane, random
    /// masks, appended after offsets already written.
    #[test]
    fn every_backend_flattens_like_the_portable_writer() {
        use super::generic::Block64;
        fn flatten(backend: Backend, out: &mut Vec<u32>, base: u32, bits: u64) {
            out.reserve(64);
            let len = out.len();
            // SAFETY: only called with backends this CPU runs, with 64 slots
            // of spare room (reserved above); the writer writes the offsets
            // of the mask's set bits first, which the length then covers.
            unsafe {
                let p = out.as_mut_ptr().add(len);
                match backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => super::x86_64::avx2::Avx2::flatten(p, base, bits),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => super::x86_64::avx512::Avx512::flatten(p, base, bits),
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => super::aarch64::neon::Neon::flatten(p, base, bits),
                    _ => super::generic::flatten(p, base, bits),
                }
                out.set_len(len + bits.count_ones() as usize);
            }
        }
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut masks = vec![0, u64::MAX, 1, 1 << 63];
        masks.extend((0..64).map(|i| 1u64 << i));
        for b in 0..=255u64 {
            masks.extend((0..8).map(|lane| b << (8 * lane)));
        }
        for _ in 0..5000 {
            let x = next();
            masks.push(x);
            masks.push(x & x.rotate_left(17));
        }
        for backend in Backend::available() {
            for (n, &bits) in masks.iter().enumerate() {
                let base = (n as u32).wrapping_mul(64);
                let prefix: Vec<u32> = (0..(n % 5) as u32).collect();
                let (mut want, mut got) = (prefix.clone(), prefix);
                flatten(Backend::Scalar, &mut want, base, bits);
                flatten(backend, &mut got, base, bits);
                assert_eq!(got, want, "{backend:?}, mask {bits:#018x}");
            }
        }
    }

    /// Every backend's block classification, against the scalar one: every
    /// byte value in every lane (amid other values), and random blocks.
    #[test]
    fn every_backend_classifies_every_byte_like_the_scalar_one() {
        use super::generic::{Block64, Masks};
        fn classify(backend: Backend, block: &[u8; 64]) -> Masks {
            // SAFETY: only called with backends this CPU runs.
            unsafe {
                match backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => super::x86_64::avx2::Avx2::classify(block),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => super::x86_64::avx512::Avx512::classify(block),
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => super::aarch64::neon::Neon::classify(block),
                    _ => super::scalar::Scalar::classify(block),
                }
            }
        }
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1du64);
        let mut blocks = Vec::new();
        for b in 0..=255u8 {
            for lane in 0..64 {
                let mut block = [0u8; 64];
                for (i, slot) in block.iter_mut().enumerate() {
                    *slot = (b as usize + 7 * i) as u8;
                }
                block[lane] = b;
                blocks.push(block);
            }
        }
        for _ in 0..2000 {
            blocks.push(std::array::from_fn(|_| next() as u8));
        }
        for backend in Backend::available() {
            for block in &blocks {
                let want = classify(Backend::Scalar, block);
                let got = classify(backend, block);
                let what = format!("{backend:?} on {block:?}");
                assert_eq!(got.quote, want.quote, "quote: {what}");
                assert_eq!(got.backslash, want.backslash, "backslash: {what}");
                assert_eq!(got.op, want.op, "op: {what}");
                assert_eq!(got.ws, want.ws, "ws: {what}");
                assert_eq!(got.control, want.control, "control: {what}");
                assert_eq!(got.high != 0, want.high != 0, "high: {what}");
            }
        }
    }

    /// The closing quotes of strings holding a backslash, byte at a time:
    /// a backslash escapes the next byte, inside strings or not (as in
    /// stage 1), and an unescaped quote opens or closes a string.
    fn naive_escaped_string_ends(bytes: &[u8]) -> Vec<usize> {
        let (mut ends, mut in_string, mut escape, mut seen) = (Vec::new(), false, false, false);
        for (i, &b) in bytes.iter().enumerate() {
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
                seen |= in_string;
            } else if b == b'"' {
                if in_string && seen {
                    ends.push(i);
                }
                in_string = !in_string;
                seen = false;
            }
        }
        ends
    }

    /// Every backend's masks of escaped strings' closing quotes, against the
    /// byte-at-a-time model: strings of every length around block edges,
    /// backslashes at their first and last content byte and in the byte
    /// before a block edge, escaped quotes and backslashes, strings
    /// spanning several blocks, and random texts.
    #[test]
    fn escaped_string_masks_match_the_bytes_on_every_backend() {
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for start in 50..70 {
            for len in [0usize, 1, 2, 13, 14, 15, 64, 70, 130, 200] {
                for at in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                    let mut t = vec![b' '; start];
                    t.push(b'"');
                    let mut content = vec![b'a'; len];
                    if let (Some(at), true) = (at, len > 0) {
                        // An escaped backslash, or a backslash escaping the
                        // next byte: both mark the string.
                        content[at] = b'\\';
                        if at + 1 < len {
                            content[at + 1] = if len % 2 == 0 { b'\\' } else { b'"' };
                        } else {
                            content.push(b'n');
                        }
                    }
                    t.extend_from_slice(&content);
                    t.extend_from_slice(b"\" , \"x\" ");
                    texts.push(t);
                }
            }
        }
        // A backslash outside strings at a block's end, escaping the quote
        // that opens the next block, which holds no backslash: the blocks
        // after must still see that quote as escaped.
        for at in [62usize, 63, 64] {
            let mut t = vec![b' '; at];
            t.extend_from_slice(b"\\\"");
            t.extend_from_slice(&[b'a'; 70]);
            t.extend_from_slice(b" \"b\\n\" \"c\" ");
            texts.push(t);
        }
        for _ in 0..3000 {
            let len = (next() % 400) as usize;
            texts.push(
                (0..len)
                    .map(|_| b"aaa\"\"\\ :,{"[next() as usize % 10])
                    .collect(),
            );
        }
        let mut out = super::Structurals::default();
        for backend in Backend::available() {
            for text in &texts {
                let _ = backend.stage1(text, &mut out);
                let masks = out.escaped_ends();
                let got: Vec<usize> = (0..text.len())
                    .filter(|&i| masks.get(i / 64).is_some_and(|m| m >> (i % 64) & 1 == 1))
                    .collect();
                assert_eq!(
                    got,
                    naive_escaped_string_ends(text),
                    "{backend:?} on {:?}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    /// A text whose length is not a multiple of 64 ends in a block read
    /// from its last 64 bytes with the bits of the bytes already classified
    /// shifted out (or, under 64 bytes, from a padded copy). Every backend
    /// must find what it finds in the same text padded with spaces to whole
    /// blocks, which only takes the whole-block path: the same offsets,
    /// escaped-string masks and flags. Every length from 0 to 200, texts
    /// ending inside strings, after escapes, numbers and control bytes.
    #[test]
    fn last_partial_block_reads_like_a_padded_copy_on_every_backend() {
        let mut next = crate::xorshift(0x51_7cc1_b727_220a);
        let alphabet = b"aa\"\"\\ :,{}[]1-\t\x01\xc3\xa9";
        let (mut a, mut b) = (super::Structurals::default(), super::Structurals::default());
        for backend in Backend::available() {
            for len in 0..=200usize {
                for _ in 0..12 {
                    let text: Vec<u8> = (0..len)
                        .map(|_| alphabet[next() as usize % alphabet.len()])
                        .collect();
                    let mut padded = text.clone();
                    padded.resize(len.div_ceil(64) * 64, b' ');
                    let (fa, ta) = backend.stage1(&text, &mut a);
                    let (fb, _) = backend.stage1(&padded, &mut b);
                    let what = format!("{backend:?} on {:?}", String::from_utf8_lossy(&text));
                    assert_eq!(a.as_slice(), b.as_slice(), "offsets: {what}");
                    assert_eq!(
                        a.escaped_ends(),
                        b.escaped_ends(),
                        "escaped-string masks: {what}"
                    );
                    // The UTF-8 check covers whole blocks only, which the
                    // two texts split differently.
                    let flags = |f: super::Stage1| super::Stage1 {
                        utf8_valid: 0,
                        utf8_invalid: false,
                        ..f
                    };
                    assert_eq!(flags(fa), flags(fb), "flags: {what}");
                    assert_eq!(
                        ta.map(|_| ()),
                        std::str::from_utf8(&text)
                            .map(|_| ())
                            .map_err(|e| e.valid_up_to()),
                        "UTF-8: {what}"
                    );
                }
            }
        }
    }

    #[test]
    fn ascii_and_backslash_flags_match_the_bytes_on_every_backend() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1du64);
        let mut out = super::Structurals::default();
        for backend in Backend::available() {
            for len in (0..300).chain([4095, 4096, 4097]) {
                let mut input: Vec<u8> = (0..len)
                    .map(|_| b"ab\"{} ,:"[next() as usize % 8])
                    .collect();
                // One odd byte (or none) anywhere, the last block included.
                let odd = [None, Some(0x80u8), Some(0xff), Some(b'\\'), Some(0x7f)];
                let pick = odd[next() as usize % odd.len()];
                if let (Some(b), false) = (pick, input.is_empty()) {
                    let at = next() as usize % input.len();
                    input[at] = b;
                }
                let (found, text) = backend.stage1(&input, &mut out);
                // The contract `Structurals` rests on: ascending offsets,
                // all inside the text.
                let offsets = out.as_slice();
                assert!(
                    offsets.windows(2).all(|w| w[0] < w[1])
                        && offsets.iter().all(|&p| (p as usize) < input.len()),
                    "{backend:?} len {len}: {offsets:?}"
                );
                assert_eq!(found.ascii, input.is_ascii(), "{backend:?} len {len}");
                assert_eq!(text.is_ok(), input.is_ascii(), "{backend:?} len {len}");
                assert_eq!(
                    found.backslash,
                    input.contains(&b'\\'),
                    "{backend:?} len {len}"
                );
            }
        }
    }

    /// Every backend's UTF-8 verdict, against the standard library's: the
    /// whole text's, and stage 1's own on its whole blocks (the AVX2 check
    /// and its AVX-512 form), which must flag every invalid
    /// sequence inside them and prove the rest valid. Every kind of error
    /// (truncated, overlong, surrogate, past U+10FFFF, stray continuation
    /// and byte that never occurs) and valid characters of every length,
    /// at every offset around the first block edges, after ASCII blocks,
    /// and in random texts with bytes flipped, inserted and cut.
    #[test]
    fn utf8_verdicts_match_the_standard_library_on_every_backend() {
        let pieces: [&[u8]; 30] = [
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\xed\x9f\xbf",
            b"\xf4\x8f\xbf\xbf",
            b"\xee\x80\x80",
            b"\xc3",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xc0\x80",
            b"\xc1\xbf",
            b"\xe0\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xf0\x80\x80\x80",
            b"\xf0\x8f\xbf\xbf",
            b"\xed\xa0\x80",
            b"\xed\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\xff",
            b"\x80",
            b"\xbf",
            b"\xc3\xa9\xa9",
            b"\xe2\x82\xac\xac",
            b"\xc3\x28",
            b"\xe2\x28\xa1",
            b"\xf0\x28\x8c\xbc",
            b"\xf0\x90\x28\xbc",
            b"\xf0\x90\x8c\x28",
        ];
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for piece in pieces {
            for len in [64usize, 100, 128, 131, 200, 256] {
                for at in (0..8).chain(52..76).chain(120..136).chain(190..200) {
                    if at + piece.len() <= len {
                        let mut t = vec![b'a'; len];
                        t[at..at + piece.len()].copy_from_slice(piece);
                        texts.push(t);
                    }
                }
            }
            // At the end of a block, then only ASCII blocks, or an ASCII
            // block and one with a valid character (an unfinished one must
            // be flagged either way).
            let mut t = vec![b'a'; 320];
            t[64 - piece.len()..64].copy_from_slice(piece);
            texts.push(t.clone());
            t[200..202].copy_from_slice("é".as_bytes());
            texts.push(t);
        }
        let mut next = crate::xorshift(0x6a09_e667_f3bc_c908);
        for _ in 0..4000 {
            let len = (next() % 400) as usize;
            let mut t: Vec<u8> = Vec::with_capacity(len + 4);
            while t.len() < len {
                match next() % 8 {
                    0 => t.extend_from_slice(pieces[(next() % 6) as usize]),
                    _ => t.push(b"ab \"{}:,"[next() as usize % 8]),
                }
            }
            if !t.is_empty() {
                match next() % 4 {
                    0 => {
                        let at = next() as usize % t.len();
                        t[at] = next() as u8;
                    }
                    1 => {
                        let at = next() as usize % t.len();
                        t.insert(at, 0x80 | next() as u8);
                    }
                    2 => t.truncate(next() as usize % t.len()),
                    _ => {}
                }
            }
            texts.push(t);
        }
        let mut out = super::Structurals::default();
        for backend in Backend::available() {
            let fused = matches!(backend, Backend::Avx2 | Backend::Avx512);
            for text in &texts {
                let (found, got) = backend.stage1(text, &mut out);
                let want = std::str::from_utf8(text);
                let what = format!("{backend:?} on {text:?}");
                assert_eq!(
                    got.map(|_| ()),
                    want.map(|_| ()).map_err(|e| e.valid_up_to()),
                    "{what}"
                );
                let whole = text.len() / 64 * 64;
                if found.utf8_invalid {
                    assert!(want.is_err(), "a valid text flagged: {what}");
                    assert_eq!(found.utf8_valid, 0, "{what}");
                } else {
                    assert!(
                        std::str::from_utf8(&text[..found.utf8_valid]).is_ok(),
                        "an invalid prefix passed: {what}"
                    );
                }
                if !fused || found.ascii {
                    assert!(!found.utf8_invalid, "{what}");
                    continue;
                }
                match want {
                    // An error whose bytes lie in the whole blocks is found.
                    Err(e) if e.valid_up_to() + 4 <= whole => {
                        assert!(found.utf8_invalid, "an error missed: {what}");
                    }
                    _ if !found.utf8_invalid => assert!(
                        found.utf8_valid + 3 >= whole,
                        "only {} bytes checked: {what}",
                        found.utf8_valid
                    ),
                    _ => {}
                }
                // A valid text whose last 64 bytes are ASCII: nothing is
                // left to validate after stage 1.
                if whole > 0 && want.is_ok() && text[text.len() - 64..].is_ascii() {
                    assert_eq!(found.utf8_valid, text.len(), "{what}");
                }
            }
        }
    }
}
