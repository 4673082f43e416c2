//! NDJSON framing: split a byte stream into lines with a size cap, using
//! memchr over a reusable buffer that survives read-chunk boundaries.
//!
//! Lines end at `\n`; one `\r` before it is removed; the last line may lack
//! a newline. A line longer than the cap is not buffered: the caller streams
//! it with [`LineReader::drain_long`]. [`LineReader::ready`] tells whether
//! the next line is already buffered, so that a caller batching lines from a
//! slow source (a pipe fed by `tail -F`) can hand on what it holds before a
//! read waits for more.
//!
//! A caller that hands lines to other threads in batches need not copy them:
//! [`LineReader::next_span`] lends each line where it lies in the buffer, and
//! [`LineReader::swap_buffer`] gives the buffer away with every line lent
//! since the last swap, continuing in a buffer the caller hands back.

use std::io::{self, Read};

/// What [`LineReader::next_line`] found.
#[derive(Debug)]
pub enum Next<'a> {
    /// A complete line, without its terminator.
    Line(&'a [u8]),
    /// The current line is longer than the cap; call
    /// [`LineReader::drain_long`] before asking for the next line.
    TooLong,
    /// End of input.
    Eof,
}

/// What [`LineReader::next_span`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// A complete line, without its terminator, at this position of
    /// [`LineReader::buffer`].
    Line(std::ops::Range<usize>),
    /// As [`Next::TooLong`].
    TooLong,
    /// End of input.
    Eof,
}

/// A line splitter over a reader, with a reusable buffer.
#[derive(Debug)]
pub struct LineReader<R> {
    r: R,
    buf: Vec<u8>,
    /// The first byte of the lines lent by [`LineReader::next_span`] since
    /// the last swap; equal to `start` when none are.
    lent: usize,
    start: usize,
    end: usize,
    scanned: usize,
    max: usize,
    eof: bool,
    /// Total bytes read from `r`.
    pub bytes_read: u64,
}

/// What [`LineReader::find`] found, as positions in the buffer.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// The line from `start` to `end`; the one after it starts at `next`.
    Line {
        end: usize,
        next: usize,
    },
    TooLong,
    Eof,
}

const CHUNK: usize = 256 * 1024;

impl<R: Read> LineReader<R> {
    /// A reader splitting `r` into lines of at most `max` bytes.
    pub fn new(r: R, max: usize) -> Self {
        LineReader {
            r,
            buf: vec![0; CHUNK],
            lent: 0,
            start: 0,
            end: 0,
            scanned: 0,
            max,
            eof: false,
            bytes_read: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        // Lent lines stay where they are: then the buffer grows instead.
        if self.start > 0 && self.lent == self.start {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
            self.lent = 0;
        }
        if self.buf.len() - self.end < CHUNK / 2 {
            let want = (self.buf.len() * 2)
                .min(self.max + 2 + CHUNK)
                .max(self.end + CHUNK);
            self.buf.resize(want, 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes_read += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// What comes next, if the buffer tells without reading. Consumes
    /// nothing: [`LineReader::next_line`] does. A newline found is
    /// remembered (`scanned` stops on it), so asking again costs no search.
    fn find(&mut self) -> Option<Found> {
        if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
            let nl = self.scanned + i;
            self.scanned = nl;
            let mut end = nl;
            if end > self.start && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
            if end - self.start > self.max {
                return Some(Found::TooLong);
            }
            return Some(Found::Line { end, next: nl + 1 });
        }
        self.scanned = self.end;
        // A '\r' may still precede the newline, so allow max + 1 bytes.
        if self.end - self.start > self.max + 1 {
            return Some(Found::TooLong);
        }
        if !self.eof {
            return None;
        }
        if self.start == self.end {
            return Some(Found::Eof);
        }
        let mut end = self.end;
        if self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        if end - self.start > self.max {
            return Some(Found::TooLong);
        }
        Some(Found::Line {
            end,
            next: self.end,
        })
    }

    /// Whether [`LineReader::next_line`] can answer from what is already
    /// buffered, without reading (and so without waiting for input that
    /// has not arrived yet). A caller that holds results back for
    /// efficiency hands them on when this is false.
    pub fn ready(&mut self) -> bool {
        self.find().is_some()
    }

    /// The next line.
    ///
    /// Ends a lending: lines lent by [`LineReader::next_span`] before are
    /// no longer where it said (swap the buffer first to keep them).
    ///
    /// # Errors
    ///
    /// Read errors.
    pub fn next_line(&mut self) -> io::Result<Next<'_>> {
        Ok(match self.next_span()? {
            Span::Line(line) => {
                self.lent = self.start;
                Next::Line(&self.buf[line])
            }
            Span::TooLong => Next::TooLong,
            Span::Eof => Next::Eof,
        })
    }

    /// The next line, lent: it stays at the position given in
    /// [`LineReader::buffer`] (and so do the lines lent after it) until
    /// [`LineReader::swap_buffer`] gives the buffer away, or
    /// [`LineReader::next_line`] ends the lending. Until then the buffer
    /// grows rather than moving them: swap it when
    /// [`LineReader::needs_swap`] says so.
    ///
    /// # Errors
    ///
    /// Read errors.
    pub fn next_span(&mut self) -> io::Result<Span> {
        let found = loop {
            if let Some(found) = self.find() {
                break found;
            }
            self.fill()?;
        };
        Ok(match found {
            Found::Line { end, next } => {
                let start = self.start;
                self.start = next;
                self.scanned = next;
                Span::Line(start..end)
            }
            Found::TooLong => Span::TooLong,
            Found::Eof => Span::Eof,
        })
    }

    /// The buffer the positions of [`Span::Line`] refer to.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Whether lines are lent and the next read would have to grow the
    /// buffer to keep them in place (a read that [`LineReader::ready`]
    /// says the next line needs): swapping the buffer first avoids that.
    pub fn needs_swap(&self) -> bool {
        self.lent < self.start && self.buf.len() - self.end < CHUNK / 2
    }

    /// Gives the buffer away, with every line lent since the last swap at
    /// the position [`LineReader::next_span`] gave, and goes on in `fresh`
    /// (whatever it holds), into which the bytes read but not yet lent are
    /// moved: only those are copied.
    pub fn swap_buffer(&mut self, mut fresh: Vec<u8>) -> Vec<u8> {
        let rest = self.end - self.start;
        let len = fresh.len().max(rest + CHUNK).max(CHUNK);
        if fresh.len() < len {
            fresh.resize(len, 0);
        }
        fresh[..rest].copy_from_slice(&self.buf[self.start..self.end]);
        self.scanned -= self.start;
        (self.lent, self.start, self.end) = (0, 0, rest);
        std::mem::replace(&mut self.buf, fresh)
    }

    /// Streams the current over-long line (without its newline) to `sink` in
    /// pieces, and returns its length. Memory stays bounded by the buffer:
    /// the line is read in pieces into the room after the lines lent before
    /// it, which stay where they are.
    ///
    /// # Errors
    ///
    /// Read errors, and errors returned by `sink`.
    pub fn drain_long(&mut self, mut sink: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64> {
        let mut total = 0u64;
        // Where the line starts: what is streamed is read into the buffer
        // from here again, after the lines lent before it (kept in place).
        let mut base = self.start;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let nl = self.start + i;
                let e = if nl > self.start && self.buf[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                sink(&self.buf[self.start..e])?;
                total += (e - self.start) as u64;
                self.start = nl + 1;
                self.scanned = self.start;
                if self.lent == base {
                    self.lent = self.start;
                }
                return Ok(total);
            }
            if self.eof {
                let mut e = self.end;
                if e > self.start && self.buf[e - 1] == b'\r' {
                    e -= 1;
                }
                sink(&self.buf[self.start..e])?;
                total += (e - self.start) as u64;
                self.start = self.end;
                self.scanned = self.end;
                if self.lent == base {
                    self.lent = self.start;
                }
                return Ok(total);
            }
            // Hold back one byte so that a '\r' right before '\n' is not
            // emitted; it moves back to `base`, and the next read follows it.
            if self.end - self.start > 1 {
                let e = self.end - 1;
                sink(&self.buf[self.start..e])?;
                total += (e - self.start) as u64;
                self.start = e;
            }
            if self.start > base {
                self.buf[base] = self.buf[self.start];
                self.end = base + self.end - self.start;
                self.start = base;
            }
            self.scanned = self.start;
            self.fill()?;
            // Where the held byte is now (the buffer moves when nothing is lent).
            base = self.start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `n` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let k = self.1.min(buf.len()).min(self.0.len());
            buf[..k].copy_from_slice(&self.0[..k]);
            self.0 = &self.0[k..];
            Ok(k)
        }
    }

    /// The lines of `input` read `step` bytes at a time, each over-long
    /// one as `Err` with its length, asked for in every way: with and
    /// without [`LineReader::ready`] first, and lent (all must agree).
    fn split(input: &[u8], max: usize, step: usize) -> Vec<Result<Vec<u8>, u64>> {
        let plain = split_asking(input, max, step, false);
        assert_eq!(split_asking(input, max, step, true), plain, "step {step}");
        let counted = long_lengths(plain);
        for every in [None, Some(1), Some(3)] {
            assert_eq!(
                split_lending(input, max, step, every),
                counted,
                "step {step}, lending, swap every {every:?} lines"
            );
        }
        counted
    }

    /// `lines` with each over-long line's content replaced by its length.
    fn long_lengths(lines: Vec<Result<Vec<u8>, Vec<u8>>>) -> Vec<Result<Vec<u8>, u64>> {
        lines
            .into_iter()
            .map(|l| l.map_err(|long| long.len() as u64))
            .collect()
    }

    /// [`split_asking`] through lent lines: the buffer is swapped after
    /// every `every` lines, or (`None`) when the next line needs a read that
    /// would grow it, and before an over-long line; each line is read from
    /// the buffer it was lent in, after the swap that gave it away.
    fn split_lending(
        input: &[u8],
        max: usize,
        step: usize,
        every: Option<usize>,
    ) -> Vec<Result<Vec<u8>, u64>> {
        let mut r = LineReader::new(Trickle(input, step), max);
        // Lines of the current buffer; lines or long-line lengths done.
        let mut lent: Vec<std::ops::Range<usize>> = Vec::new();
        let mut out: Vec<Result<Vec<u8>, u64>> = Vec::new();
        // Buffers handed back to the reader: every other one is used again.
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let mut swap = |r: &mut LineReader<Trickle>,
                        lent: &mut Vec<std::ops::Range<usize>>,
                        out: &mut Vec<Result<Vec<u8>, u64>>| {
            let fresh = spare.pop().unwrap_or_default();
            let buf = r.swap_buffer(fresh);
            for l in lent.drain(..) {
                out.push(if l.end == usize::MAX {
                    Err((l.end - l.start) as u64)
                } else {
                    Ok(buf[l].to_vec())
                });
            }
            spare.push(buf);
        };
        loop {
            let due = match every {
                Some(n) => lent.len() >= n,
                None => !r.ready() && r.needs_swap(),
            };
            if due {
                swap(&mut r, &mut lent, &mut out);
            }
            match r.next_span().unwrap() {
                Span::Line(l) => lent.push(l),
                Span::TooLong => {
                    // Lines lent before stay where they are, unless the
                    // buffer is swapped first.
                    if every.is_some() {
                        swap(&mut r, &mut lent, &mut out);
                    }
                    let n = r.drain_long(|_| Ok(())).unwrap();
                    // Its place in the order: after the lines lent before.
                    lent.push(usize::MAX - n as usize..usize::MAX);
                }
                Span::Eof => {
                    swap(&mut r, &mut lent, &mut out);
                    return out;
                }
            }
            if every.is_none() {
                assert!(
                    r.buffer().len() <= 2 * (max + 2 + CHUNK),
                    "the buffer grew to {} bytes",
                    r.buffer().len()
                );
            }
        }
    }

    /// The lines of `input` read `step` bytes at a time (after
    /// [`LineReader::ready`] when `ask_ready`), each over-long one as `Err`
    /// with what [`LineReader::drain_long`] streamed of it.
    fn split_asking(
        input: &[u8],
        max: usize,
        step: usize,
        ask_ready: bool,
    ) -> Vec<Result<Vec<u8>, Vec<u8>>> {
        let mut r = LineReader::new(Trickle(input, step), max);
        let mut out = Vec::new();
        loop {
            if ask_ready {
                r.ready();
            }
            match r.next_line().unwrap() {
                Next::Line(l) => out.push(Ok(l.to_vec())),
                Next::TooLong => {
                    let mut got = Vec::new();
                    let n = r
                        .drain_long(|b| {
                            got.extend_from_slice(b);
                            Ok(())
                        })
                        .unwrap();
                    assert_eq!(n as usize, got.len());
                    out.push(Err(got));
                }
                Next::Eof => return out,
            }
        }
    }

    /// A reader that hands out one scripted chunk per read (then the end)
    /// and counts its reads.
    struct Chunks(Vec<&'static [u8]>, usize);
    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            if self.0.is_empty() {
                return Ok(0);
            }
            let c = self.0.remove(0);
            buf[..c.len()].copy_from_slice(c);
            Ok(c.len())
        }
    }

    #[test]
    fn lent_lines_are_read_once_and_only_the_rest_moves() {
        // Lines of 100 bytes: a read of a whole chunk, then a swap when the
        // next line needs a read.
        let mut input = Vec::new();
        for i in 0..10_000u32 {
            input.extend_from_slice(format!("{i:099}\n").as_bytes());
        }
        let mut r = LineReader::new(&input[..], 1000);
        let mut swaps = 0;
        let mut buf_len = r.buffer().len();
        let mut seen = 0u32;
        loop {
            if !r.ready() && r.needs_swap() {
                let (before_start, before_end) = (r.start, r.end);
                let old = r.swap_buffer(vec![0; 10]);
                // Only the part of a line after the last one lent moved.
                assert_eq!(r.end, before_end - before_start);
                assert!(r.end < 100);
                assert_eq!(&r.buf[..r.end], &old[before_start..before_end]);
                swaps += 1;
                buf_len = r.buffer().len();
            }
            match r.next_span().unwrap() {
                Span::Line(l) => {
                    assert_eq!(r.buffer()[l].len(), 99);
                    seen += 1;
                }
                Span::Eof => break,
                Span::TooLong => unreachable!(),
            }
            assert_eq!(r.buffer().len(), buf_len, "no growth while lending");
        }
        assert_eq!(seen, 10_000);
        // 1 MB in reads of a 256 KiB buffer.
        assert!((4..=6).contains(&swaps), "{swaps} swaps");
    }

    #[test]
    fn ready_says_whether_the_next_line_needs_a_read() {
        let chunks = vec![&b"[1]\n[2]\r\n[3"[..], b"]\n", b"[4]"];
        let mut r = LineReader::new(Chunks(chunks, 0), 100);
        let line = |r: &mut LineReader<Chunks>| match r.next_line().unwrap() {
            Next::Line(l) => String::from_utf8(l.to_vec()).unwrap(),
            other => format!("{other:?}"),
        };
        assert!(!r.ready(), "nothing is buffered before the first read");
        assert_eq!(line(&mut r), "[1]");
        assert_eq!(r.r.1, 1);
        // Asking twice changes nothing, and the line then comes unread.
        assert!(r.ready() && r.ready());
        assert_eq!(line(&mut r), "[2]");
        assert_eq!(r.r.1, 1);
        // "[3" is incomplete: its end is still to be read.
        assert!(!r.ready());
        assert_eq!(line(&mut r), "[3]");
        assert_eq!(r.r.1, 2);
        // "[4]" ends at the end of input, which takes two more reads.
        assert!(!r.ready());
        assert_eq!(line(&mut r), "[4]");
        assert_eq!(r.r.1, 4);
        assert!(r.ready(), "the end is known");
        assert_eq!(line(&mut r), "Eof");
        assert_eq!(r.r.1, 4);
    }

    /// The lines of `input` by the definition in this module's docs,
    /// byte by byte: each over-long line as `Err` with its content.
    fn naive_lines(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, Vec<u8>>> {
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        // No line after the last newline, and none in an empty input.
        if input.is_empty() || input.ends_with(b"\n") {
            lines.pop();
        }
        lines
            .into_iter()
            .map(|l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l).to_vec();
                if l.len() > max {
                    Err(l)
                } else {
                    Ok(l)
                }
            })
            .collect()
    }

    #[test]
    fn random_streams_split_as_the_byte_by_byte_definition_says() {
        // Bytes drawn mostly from newlines and carriage returns, so that
        // CRLF pairs, lone CRs, blank lines and lines at or just over the
        // cap all occur, read in pieces of every size around them.
        let mut next = crate::xorshift(0x6c69_6e65_7321);
        for case in 0..3_000 {
            let len = (next() % 160) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 10 {
                    0..=4 => b'a',
                    5 | 6 => b'\n',
                    7 | 8 => b'\r',
                    _ => b' ',
                })
                .collect();
            let max = (next() % 12) as usize;
            let step = 1 + (next() % 70) as usize;
            let want = naive_lines(&input, max);
            let what = || format!("case {case}: max {max}, step {step}, input {input:?}");
            // Over-long lines with what `drain_long` streamed of them.
            assert_eq!(split_asking(&input, max, step, false), want, "{}", what());
            // Every other way of asking gives the same lines.
            assert_eq!(split(&input, max, step), long_lengths(want), "{}", what());
        }
    }

    #[test]
    fn lines_crlf_blank_and_last_line() {
        let input = b"{\"a\":1}\r\n\n  \n[2]\n{\"b\":3}";
        for step in [1, 63, 64, 65, 4096] {
            let got = split(input, 100, step);
            let want: Vec<Result<Vec<u8>, u64>> = vec![
                Ok(b"{\"a\":1}".to_vec()),
                Ok(vec![]),
                Ok(b"  ".to_vec()),
                Ok(b"[2]".to_vec()),
                Ok(b"{\"b\":3}".to_vec()),
            ];
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn too_long_lines_are_streamed_not_buffered() {
        let long = vec![b'x'; 1_000_000];
        let mut input = b"[1]\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\r\n[2]\n");
        input.extend_from_slice(&long);
        for step in [1000, 65_536, 10_000_000] {
            let got = split(&input, 4096, step);
            assert_eq!(
                got,
                vec![
                    Ok(b"[1]".to_vec()),
                    Err(1_000_000),
                    Ok(b"[2]".to_vec()),
                    Err(1_000_000)
                ],
                "step {step}"
            );
        }
        // Exactly at the cap is fine, one more is not.
        let got = split(b"12345\n123456\n12345\r\n", 5, 2);
        assert_eq!(
            got,
            vec![Ok(b"12345".to_vec()), Err(6), Ok(b"12345".to_vec())]
        );
    }
}
