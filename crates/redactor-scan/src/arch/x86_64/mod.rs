//! x86-64 backends.

pub(crate) mod avx2;
pub(crate) mod avx512;
