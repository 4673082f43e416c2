//! The zero-copy SIMD JSON scanner of `redactor`.
//!
//! [`Scanner::scan`] validates one JSON text exactly as strictly as
//! `serde_json` (same verdict on every input, including JSONTestSuite's 318
//! files) and returns a flat tape of [`Node`]s: object and array starts and
//! ends (each linked to its partner, so a caller skips a subtree in one
//! step), keys and strings as content spans with an escapes flag, numbers and
//! literals as spans. Nothing is copied and, once the scanner's buffers are
//! warm, nothing is allocated per text. It knows nothing about policies.
//!
//! Stage 1 classifies 64-byte blocks into bit masks (quotes, backslashes,
//! structural characters, whitespace, control bytes) with SIMD, resolves
//! escapes and string regions with carry-propagating bit algebra (a
//! carry-less multiply for the string mask on x86-64), and emits the
//! offsets of every structural byte (operators, quotes, starts of numbers
//! and literals).
//! Stage 2 walks those offsets with an explicit stack: no recursion per
//! nesting level, a depth limit and a size limit with their own errors.
//! Backends: AVX2 and AVX-512BW with VBMI2 (x86-64, with PCLMULQDQ), NEON (aarch64)
//! and a scalar fallback that is always compiled; see [`Backend`].
//!
//! ```
//! use redactor_scan::{Kind, Limits, Scanner};
//!
//! let mut scanner = Scanner::new(Limits::default());
//! let text = br#"{"em\u0061il":"a@b.c","n":[1,2.5]}"#;
//! let tape = scanner.scan(text).unwrap();
//! assert_eq!(tape[0].kind, Kind::ObjectStart);
//! assert_eq!(tape[tape[0].link as usize].kind, Kind::ObjectEnd);
//! let key = tape[1];
//! assert!(key.has_escapes());
//! let mut decoded = String::new();
//! redactor_scan::unescape(&text[key.span()], &mut decoded);
//! assert_eq!(decoded, "email");
//! assert!(scanner.scan(b"[1,]").is_err());
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod arch;
pub mod bytes;
pub mod census;
mod decode;
mod error;
pub mod lines;
pub mod pairs;
mod tape;

pub use arch::Backend;
pub use decode::{unescape, unescape_str};
pub use error::{ErrorKind, ScanError};
pub use tape::{Kind, Node, BOM_REASON, BYTE_ORDER_MARK};

/// Size and nesting limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth (default 128).
    pub max_depth: usize,
    /// Maximum text size in bytes (default 4 MiB; at most `u32::MAX`).
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_bytes: 4 << 20,
        }
    }
}

/// A reusable scanner: one per thread; its buffers are reused across texts.
#[derive(Debug, Clone)]
pub struct Scanner {
    backend: Backend,
    limits: Limits,
    structurals: arch::Structurals,
    tape: Vec<Node>,
    stack: Vec<u32>,
}

impl Scanner {
    /// A scanner with the detected backend ([`Backend::detect`]).
    pub fn new(limits: Limits) -> Scanner {
        Scanner {
            backend: Backend::detect(),
            limits,
            structurals: arch::Structurals::default(),
            tape: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// A scanner with a given backend, or `None` if this CPU cannot run it.
    pub fn with_backend(backend: Backend, limits: Limits) -> Option<Scanner> {
        backend.is_available().then(|| Scanner {
            backend,
            ..Scanner::new(limits)
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The limits in use.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits (the buffers are kept).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Validates `input` as one JSON text and returns its tape.
    ///
    /// # Errors
    ///
    /// A [`ScanError`] with the offset and reason; the verdict is the same as
    /// `serde_json`'s (parsing into a `serde_json::Value`) within the limits.
    pub fn scan(&mut self, input: &[u8]) -> Result<&[Node], ScanError> {
        self.scan_str(input).map(|(tape, _)| tape)
    }

    /// Like [`Scanner::scan`], also returning the input as the `&str` its
    /// UTF-8 validation proved it to be, so callers can slice string spans
    /// without validating them again.
    ///
    /// # Errors
    ///
    /// As [`Scanner::scan`].
    pub fn scan_str<'i>(&mut self, input: &'i [u8]) -> Result<(&[Node], &'i str), ScanError> {
        let max = self.limits.max_bytes.min(u32::MAX as usize - 64);
        if input.len() > max {
            return Err(ScanError::too_large(input.len(), max));
        }
        let (found, text) = self.backend.stage1(input, &mut self.structurals);
        // A UTF-8 error is reported before any other, whatever stage 1
        // found.
        let text = text.map_err(ScanError::utf8)?;
        if let Some(at) = found.control_in_string {
            return Err(ScanError::syntax(at, "control character in string"));
        }
        self.backend.stage2(tape::Walk {
            s: input,
            structurals: &self.structurals,
            max_depth: self.limits.max_depth,
            any_backslash: found.backslash,
            tape: &mut self.tape,
            stack: &mut self.stack,
        })?;
        if found.unterminated {
            return Err(ScanError::syntax(input.len(), "unterminated string"));
        }
        Ok((&self.tape, text))
    }

    /// The structural offsets of the last scanned text (for tests and tools).
    pub fn structurals(&self) -> &[u32] {
        self.structurals.as_slice()
    }
}

/// A xorshift generator from `seed` (non-zero), for the unit tests' random
/// inputs.
#[cfg(test)]
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
