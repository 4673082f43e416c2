//! NDJSON framing: split a byte stream into lines with a size cap, using
//! memchr over a reusable buffer that survives read-chunk boundaries.
//!
//! Lines end at `\n`; one `\r` before it is removed; the last line may lack
//! a newline. A line longer than the cap is not buffered: the caller streams
//! it with [`LineReader::drain_long`]. [`LineReader::ready`] tells whether
//! the next line is already buffered, so that a caller batching lines from a
//! slow source (a pipe fed by `tail -F`) can hand on what it holds before a
//! read waits for more.

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

/// A line splitter over a reader, with a reusable buffer.
#[derive(Debug)]
pub struct LineReader<R> {
    r: R,
    buf: Vec<u8>,
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
            start: 0,
            end: 0,
            scanned: 0,
            max,
            eof: false,
            bytes_read: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
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
    /// # Errors
    ///
    /// Read errors.
    pub fn next_line(&mut self) -> io::Result<Next<'_>> {
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
                Next::Line(&self.buf[start..end])
            }
            Found::TooLong => Next::TooLong,
            Found::Eof => Next::Eof,
        })
    }

    /// Streams the current over-long line (without its newline) to `sink` in
    /// pieces, and returns its length. Memory stays bounded by the buffer.
    ///
    /// # Errors
    ///
    /// Read errors, and errors returned by `sink`.
    pub fn drain_long(&mut self, mut sink: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64> {
        let mut total = 0u64;
        // Hold back one byte so that a '\r' right before '\n' is not emitted.
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
                return Ok(total);
            }
            if self.end - self.start > 1 {
                let e = self.end - 1;
                sink(&self.buf[self.start..e])?;
                total += (e - self.start) as u64;
                self.start = e;
            }
            self.scanned = self.start;
            self.fill()?;
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

    /// The lines of `input` read `step` bytes at a time, each line asked
    /// for twice: once after [`LineReader::ready`], once without (both ways
    /// must agree).
    fn split(input: &[u8], max: usize, step: usize) -> Vec<Result<Vec<u8>, u64>> {
        let plain = split_asking(input, max, step, false);
        assert_eq!(split_asking(input, max, step, true), plain, "step {step}");
        plain
    }

    fn split_asking(
        input: &[u8],
        max: usize,
        step: usize,
        ask_ready: bool,
    ) -> Vec<Result<Vec<u8>, u64>> {
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
                    out.push(Err(n));
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
