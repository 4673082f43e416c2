//! Error types: [`Reject`] for input lines, [`PolicyError`] for policies.

use std::fmt;

/// Why an input line was not redacted. A rejected line is quarantined by the
/// caller; it is never forwarded.
///
/// Rejects name positions and limits, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reject {
    /// The line is not valid UTF-8; `offset` is the first invalid byte.
    InvalidUtf8 {
        /// Byte offset in the line.
        offset: usize,
    },
    /// The line is not one valid JSON text.
    InvalidJson {
        /// Byte offset of the first offending byte (the end for truncation).
        offset: usize,
        /// What was wrong, in a few words.
        what: &'static str,
    },
    /// Nesting deeper than the limit.
    TooDeep {
        /// Byte offset of the bracket that went past the limit.
        offset: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The line is longer than the limit.
    TooLarge {
        /// Bytes seen (at least `limit + 1`).
        len: u64,
        /// The configured limit.
        limit: usize,
    },
}

impl Reject {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::InvalidUtf8 { .. } => "invalid_utf8",
            Reject::InvalidJson { .. } => "invalid_json",
            Reject::TooDeep { .. } => "too_deep",
            Reject::TooLarge { .. } => "too_large",
        }
    }

    /// Every reason code, in a fixed order (for counters).
    pub const CODES: [&'static str; 4] = ["invalid_utf8", "invalid_json", "too_deep", "too_large"];

    /// Index of [`Reject::code`] in [`Reject::CODES`].
    pub fn index(&self) -> usize {
        match self {
            Reject::InvalidUtf8 { .. } => 0,
            Reject::InvalidJson { .. } => 1,
            Reject::TooDeep { .. } => 2,
            Reject::TooLarge { .. } => 3,
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            Reject::InvalidJson { offset, what } => {
                write!(f, "invalid JSON at byte {offset}: {what}")
            }
            Reject::TooDeep { offset, limit } => {
                write!(f, "nesting deeper than {limit} at byte {offset}")
            }
            Reject::TooLarge { len, limit } => write!(
                f,
                "line of at least {len} bytes exceeds the limit of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for Reject {}

/// One problem found in a policy, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `line 12, rules[3] "user-email".select[0]` and the like.
    pub location: String,
    /// What is wrong, naming the field and the bound.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A policy that could not be loaded or compiled.
#[derive(Debug)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The policy is invalid; every problem found is listed.
    Invalid(Vec<Problem>),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Io { path, source } => write!(f, "cannot read policy {path}: {source}"),
            PolicyError::Invalid(problems) => {
                write!(
                    f,
                    "invalid policy ({} problem{}):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PolicyError::Io { source, .. } => Some(source),
            PolicyError::Invalid(_) => None,
        }
    }
}
