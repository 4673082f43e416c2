//! Backends and their selection. The only module with `unsafe` code.
//!
//! The CPU is detected once; `REDACTOR_SIMD=scalar|avx2|avx512|auto` (read
//! at that moment) forces a backend, so tests and benches can run each one
//! and CI can run the whole suite on the scalar fallback.

use std::sync::atomic::{AtomicU8, Ordering};

pub(crate) mod generic;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

pub(crate) use generic::Stage1;

/// A stage-1 implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable, byte at a time.
    Scalar,
    /// x86-64 AVX2 with PCLMULQDQ.
    Avx2,
    /// x86-64 AVX-512BW with PCLMULQDQ.
    Avx512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 3] = [Backend::Scalar, Backend::Avx2, Backend::Avx512];

    /// Its name (as accepted by `REDACTOR_SIMD`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
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
            #[cfg(not(target_arch = "x86_64"))]
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
    /// AVX-512BW is preferred when present: it measured faster than AVX2 on
    /// the telemetry corpus (+4%) and on `citm_catalog.json` (+12%) and
    /// within noise on twitter statuses (see `docs/benchmarks.md`).
    pub fn detect() -> Backend {
        static CHOSEN: AtomicU8 = AtomicU8::new(0);
        match CHOSEN.load(Ordering::Relaxed) {
            1 => return Backend::Scalar,
            2 => return Backend::Avx2,
            3 => return Backend::Avx512,
            _ => {}
        }
        let wanted = std::env::var("REDACTOR_SIMD").unwrap_or_default();
        let b = match wanted.as_str() {
            "scalar" => Backend::Scalar,
            "avx2" if Backend::Avx2.is_available() => Backend::Avx2,
            "avx512" if Backend::Avx512.is_available() => Backend::Avx512,
            _ if Backend::Avx512.is_available() => Backend::Avx512,
            _ if Backend::Avx2.is_available() => Backend::Avx2,
            _ => Backend::Scalar,
        };
        let code = match b {
            Backend::Scalar => 1,
            Backend::Avx2 => 2,
            Backend::Avx512 => 3,
        };
        CHOSEN.store(code, Ordering::Relaxed);
        b
    }

    /// Runs stage 1. The backend must be available (checked by the caller
    /// when it was chosen).
    pub(crate) fn stage1(self, input: &[u8], out: &mut Vec<u32>, masks: &mut Vec<u64>) -> Stage1 {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Scanner` only holds a backend whose `is_available()`
            // was true.
            Backend::Avx2 => unsafe { x86_64::avx2::stage1(input, out, masks) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Backend::Avx512 => unsafe { x86_64::avx512::stage1(input, out, masks) },
            _ => scalar::stage1(input, out, masks),
        }
    }
}
