//! Scan errors: every one carries the byte offset where the input went wrong.

use std::fmt;

/// Why a text is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not valid UTF-8.
    InvalidUtf8,
    /// A grammar violation; the text says which.
    Syntax(&'static str),
    /// Nesting deeper than the limit (the limit is attached).
    TooDeep(usize),
    /// Longer than the limit (the limit is attached).
    TooLarge(usize),
}

/// A rejected text: what was wrong and at which byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset of the first offending byte (the length for truncation).
    pub offset: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl ScanError {
    #[cold]
    #[inline(never)]
    pub(crate) fn syntax(offset: usize, what: &'static str) -> ScanError {
        ScanError {
            offset,
            kind: ErrorKind::Syntax(what),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn utf8(offset: usize) -> ScanError {
        ScanError {
            offset,
            kind: ErrorKind::InvalidUtf8,
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn too_deep(offset: usize, limit: usize) -> ScanError {
        ScanError {
            offset,
            kind: ErrorKind::TooDeep(limit),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn too_large(len: usize, limit: usize) -> ScanError {
        ScanError {
            offset: len,
            kind: ErrorKind::TooLarge(limit),
        }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::InvalidUtf8 => write!(f, "invalid UTF-8 at byte {}", self.offset),
            ErrorKind::Syntax(what) => write!(f, "invalid JSON at byte {}: {what}", self.offset),
            ErrorKind::TooDeep(limit) => {
                write!(f, "nesting deeper than {limit} at byte {}", self.offset)
            }
            ErrorKind::TooLarge(limit) => write!(
                f,
                "text of {} bytes exceeds the limit of {limit} bytes",
                self.offset
            ),
        }
    }
}

impl std::error::Error for ScanError {}
