//! Stage 1's structural offsets, and reading the text at them without a
//! bounds check per read.

/// Stage 1's structural offsets, with the length of the text they were
/// found in. Only stage 1 writes them ([`super::Backend::stage1`]), and it
/// only records offsets of bytes of its input: every offset is below
/// `text_len`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Structurals {
    /// Ascending offsets, each below `text_len`.
    pub(super) offsets: Vec<u32>,
    /// The length of the text stage 1 last ran on.
    pub(super) text_len: usize,
    /// Scratch for stage 1: each block's structural bits, between its
    /// classification pass and the pass that turns them into offsets.
    pub(super) blocks: Vec<u64>,
    /// Each 64-byte block's mask of the closing quotes of strings that
    /// hold a backslash (see `generic::escaped_string_ends`).
    pub(super) escaped_ends: Vec<u64>,
}

impl Structurals {
    /// The offsets.
    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.offsets
    }

    /// Each block's mask of the closing quotes of strings that hold a
    /// backslash: bit `i % 64` of entry `i / 64` for the byte at `i`.
    pub(crate) fn escaped_ends(&self) -> &[u64] {
        &self.escaped_ends
    }

    /// A cursor over the offsets into `text`, or `None` unless `text` has
    /// the length of the text stage 1 ran on (then every offset is inside
    /// it). The last offset, the largest, is checked as well: one
    /// comparison that would catch a stage 1 that broke its contract.
    pub(crate) fn cursor<'a>(&'a self, text: &'a [u8]) -> Option<Cursor<'a>> {
        if text.len() != self.text_len
            || self
                .offsets
                .last()
                .is_some_and(|&p| p as usize >= text.len())
        {
            return None;
        }
        Some(Cursor {
            text,
            rest: self.offsets.iter(),
        })
    }
}

/// A cursor over stage 1's offsets into a text: yields each offset with
/// the byte there, read without a bounds check of its own.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a [u8],
    /// The offsets not read yet; each is below `text.len()`.
    rest: std::slice::Iter<'a, u32>,
}

impl Cursor<'_> {
    /// The byte at `p`, an offset taken from `rest`.
    #[inline(always)]
    fn at(&self, p: u32) -> u8 {
        debug_assert!((p as usize) < self.text.len());
        // SAFETY: `p` is one of the offsets of a `Structurals` whose
        // `text_len` is `text.len()` (checked in `Structurals::cursor`),
        // and stage 1 records only offsets below the length of its text.
        unsafe { *self.text.get_unchecked(p as usize) }
    }

    /// The next offset and the byte there.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Option<(usize, u8)> {
        let p = *self.rest.next()?;
        Some((p as usize, self.at(p)))
    }

    /// The next offset alone.
    #[inline(always)]
    pub(crate) fn next_offset(&mut self) -> Option<usize> {
        self.rest.next().map(|&p| p as usize)
    }

    /// The next offset and the byte there, without moving past it.
    #[inline(always)]
    pub(crate) fn peek(&self) -> Option<(usize, u8)> {
        let p = *self.rest.as_slice().first()?;
        Some((p as usize, self.at(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::Structurals;
    use crate::arch::Backend;

    #[test]
    fn cursor_reads_each_offset_of_its_own_text_only() {
        let text = b"{\"a\":1}";
        let mut found = Structurals::default();
        for backend in Backend::available() {
            let _ = backend.stage1(text, &mut found);
            assert_eq!(found.as_slice(), [0, 1, 3, 4, 5, 6], "{backend:?}");
            let mut c = found.cursor(text).expect("the text stage 1 ran on");
            assert_eq!(c.peek(), Some((0, b'{')));
            assert_eq!(c.next(), Some((0, b'{')));
            assert_eq!(c.next_offset(), Some(1));
            let rest: Vec<_> = std::iter::from_fn(|| c.next()).collect();
            assert_eq!(rest, [(3, b'"'), (4, b':'), (5, b'1'), (6, b'}')]);
            assert_eq!((c.peek(), c.next(), c.next_offset()), (None, None, None));
            assert!(found.cursor(&text[..6]).is_none(), "a shorter text");
            assert!(found.cursor(b"{\"a\":1} ").is_none(), "a longer text");
        }
        // Offsets that break the contract are refused, not read.
        let broken = Structurals {
            offsets: vec![0, 7],
            text_len: 7,
            ..Structurals::default()
        };
        assert!(broken.cursor(text).is_none());
        assert!(Structurals::default().cursor(b"").is_some());
    }
}
