//! NDJSON framing: split a byte stream into lines with a size cap, using
//! memchr over a reusable buffer that survives read-chunk boundaries.
//!
//! Lines end at `\n`; one `\r` before it is removed; the last line may lack
//! a newline. A line longer than the cap is not buffered: the caller streams
//! it with [`LineReader::drain_long`].

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

    /// The next line.
    ///
    /// # Errors
    ///
    /// Read errors.
    pub fn next_line(&mut self) -> io::Result<Next<'_>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let nl = self.scanned + i;
                let mut line_end = nl;
                if line_end > self.start && self.buf[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                if line_end - self.start > self.max {
                    return Ok(Next::TooLong);
                }
                let s = self.start;
                self.start = nl + 1;
                self.scanned = self.start;
                return Ok(Next::Line(&self.buf[s..line_end]));
            }
            self.scanned = self.end;
            // A '\r' may still precede the newline, so allow max + 1 bytes.
            if self.end - self.start > self.max + 1 {
                return Ok(Next::TooLong);
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(Next::Eof);
                }
                let (s, mut e) = (self.start, self.end);
                if self.buf[e - 1] == b'\r' {
                    e -= 1;
                }
                if e - s > self.max {
                    return Ok(Next::TooLong);
                }
                self.start = self.end;
                self.scanned = self.end;
                return Ok(Next::Line(&self.buf[s..e]));
            }
            self.fill()?;
        }
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

    fn split(input: &[u8], max: usize, step: usize) -> Vec<Result<Vec<u8>, u64>> {
        let mut r = LineReader::new(Trickle(input, step), max);
        let mut out = Vec::new();
        loop {
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
