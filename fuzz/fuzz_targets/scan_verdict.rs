//! The scanner accepts exactly what serde_json accepts, on every backend of
//! this CPU, with identical tapes; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactor_scan::{Backend, Limits, Scanner};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 128,
        max_bytes: 1 << 20,
    };
    let expected = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    let mut first = None;
    for backend in Backend::available() {
        let Some(mut s) = Scanner::with_backend(backend, limits) else {
            continue;
        };
        let got = s.scan(data).map(<[_]>::to_vec);
        // serde_json stops at depth 128 as well; beyond it both reject.
        assert_eq!(
            got.is_ok(),
            expected,
            "{} disagrees with serde_json",
            backend.name()
        );
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, &got, "{} disagrees with another backend", backend.name()),
        }
    }
});
