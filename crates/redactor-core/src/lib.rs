//! Policy model, actions, presets, value detectors and the reference
//! redaction engine of `redactor`.
//!
//! The main types:
//!
//! - [`Policy`]: a TOML policy compiled once into an immutable, `Send + Sync`
//!   value ([`Policy::from_toml`], [`Policy::builtin`], [`policy::load_file`]).
//! - [`Redactor`]: one line (a JSON text) in, its redacted text out, into a
//!   reusable buffer; a [`Reject`] says why a line cannot be processed.
//! - [`Reference`]: the DOM-based engine, kept as the oracle of faster ones.
//! - [`Stats`]: per-rule, per-detector and per-reject-reason counters.
//!
//! ```
//! use std::sync::Arc;
//! use redactor_core::{Policy, Redactor, Reference, Stats};
//!
//! let policy = Policy::from_toml(r#"
//!     detectors = "off"
//!     [[rules]]
//!     name = "email"
//!     select = ["**.email"]
//!     action = "mask"
//!     keep_domain = true
//! "#, "example").unwrap();
//! let engine = Reference::new(Arc::new(policy));
//! let (mut out, mut stats) = (Vec::new(), Stats::default());
//! engine.redact(br#"{"user":{"em\u0061il":"alice@example.com"},"n":1.50}"#, &mut out, &mut stats).unwrap();
//! assert_eq!(out, br#"{"user":{"email":"***@example.com"},"n":1.50}"#);
//! assert!(engine.redact(b"{\"a\":1,}", &mut out, &mut stats).is_err());
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod actions;
pub mod baseline;
pub mod detectors;
pub mod engine;
pub mod error;
pub mod fast;
pub mod files;
pub mod gen;
pub mod json;
pub mod keys;
mod keytable;
pub mod policy;
pub mod presets;
pub mod selector;
#[cfg(test)]
mod test_texts;
pub mod toml_fields;

pub use engine::{Cause, Explained, Redactor, Reference, Stats, LONG_LINE};
pub use error::{PolicyError, Problem, Reject};
pub use fast::Fast;
pub use policy::{Limits, Mode, Policy};

/// The most redaction threads a front end starts (`redactor filter
/// --threads`, the Kafka stage's `workers`): more than a machine has cores,
/// and few enough that each thread's stack and buffers stay in memory. A
/// larger count is a usage error, and a default of one per core is capped
/// here ([`default_threads`]).
pub const MAX_THREADS: usize = 1024;

/// The redaction threads a front end starts when none is asked for: one
/// per core, at most [`MAX_THREADS`].
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS)
}
