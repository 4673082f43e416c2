//! Compressed inputs. Log rotation compresses old files
//! (`app.ndjson.1.gz`), and a run over `app.ndjson*` meets them beside the
//! plain ones. A file is told by its first bytes, never its name: gzip is
//! read through a decoder, so that its lines are redacted like any others;
//! the other common formats are refused before anything is written, with
//! the command that decompresses them. (None of these first bytes can
//! start a JSON text, so no NDJSON file is mistaken for one.) Stdin is read
//! as it comes; a compressed stream there gets a hint instead (see
//! [`compressed_hint`]).

use std::fs::File;
use std::io::{self, Read, Seek};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Magic bytes, the format's name and its decompressing command.
const MAGIC: &[(&[u8], &str, &str)] = &[
    (b"\x1f\x8b", "gzip", "zcat"),
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd -dc"),
    (b"\xfd7zXZ\x00", "xz", "xz -dc"),
    (b"BZh", "bzip2", "bzip2 -dc"),
    (b"\x04\x22\x4d\x18", "lz4", "lz4 -dc"),
];

/// The format whose magic bytes `head` starts with, and its command.
fn detect(head: &[u8]) -> Option<(&'static str, &'static str)> {
    MAGIC
        .iter()
        .find(|(magic, ..)| head.starts_with(magic))
        .map(|&(_, name, command)| (name, command))
}

/// A regular file opened for reading, as it is read.
pub(crate) enum Opened {
    /// Not compressed: the file itself.
    Plain(File),
    /// Gzip (every member of it): its decompressed text, and the counter of
    /// the compressed bytes read so far, which the progress bar measures
    /// against the file's size.
    Gzip(Box<dyn Read>, Arc<AtomicU64>),
}

/// The regular file `file`, named `input` in errors, as it is read: told by
/// its first bytes, decompressed when it is gzip; an error for a format
/// that is not read (or a first read that fails).
pub(crate) fn open(mut file: File, input: &str) -> anyhow::Result<Opened> {
    use anyhow::Context as _;
    let mut head = [0u8; 6];
    let n =
        read_head(&mut file, &mut head).with_context(|| format!("cannot read input {input}"))?;
    Ok(match detect(&head[..n]) {
        None => Opened::Plain(file),
        Some(("gzip", _)) => {
            let count = Arc::new(AtomicU64::new(0));
            let counted = Counted {
                inner: file,
                count: count.clone(),
            };
            let reader =
                flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(64 * 1024, counted));
            Opened::Gzip(Box::new(reader), count)
        }
        Some((name, command)) => {
            return Err(anyhow::anyhow!(
                "cannot read input {input}: it is {name}-compressed, which redactor does not \
                 read (it reads gzip); decompress it into a pipe: {command} {input} | redactor ..."
            ))
        }
    })
}

/// Reads the first bytes of `file` into `head` (fewer when it is shorter)
/// and puts its position back at the start; how many were read.
fn read_head(file: &mut File, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.rewind()?;
    Ok(n)
}

/// A reader that counts the bytes read through it into a shared counter.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A hint for a first line that starts with a compression format's magic
/// bytes: compressed data on stdin (or in a pipe), which is not decoded.
pub(crate) fn compressed_hint(source: &str, line: &[u8]) -> Option<String> {
    detect(line).map(|(name, command)| {
        format!(
            "redactor: hint: {source} starts like {name}-compressed data; redactor reads \
             gzip files named as inputs, but a stream as it comes: decompress it first \
             ({command} FILE | redactor ...)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_their_format() {
        assert_eq!(detect(b"\x1f\x8b\x08\x00"), Some(("gzip", "zcat")));
        assert_eq!(detect(b"\x28\xb5\x2f\xfd\x00"), Some(("zstd", "zstd -dc")));
        assert_eq!(detect(b"\xfd7zXZ\x00\x00"), Some(("xz", "xz -dc")));
        assert_eq!(detect(b"BZh91AY"), Some(("bzip2", "bzip2 -dc")));
        assert_eq!(detect(b"\x04\x22\x4d\x18"), Some(("lz4", "lz4 -dc")));
        // A JSON text never starts like one; short heads are no format.
        for plain in [
            &b"{\"a\":1}"[..],
            b"[1]",
            b" {}",
            b"\x1f",
            b"BZ",
            b"",
            b"\xef\xbb\xbf{}",
        ] {
            assert_eq!(detect(plain), None, "{plain:?}");
        }
    }
}
