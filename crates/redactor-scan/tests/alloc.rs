//! Once its buffers are warm, the scanner allocates nothing per text.
//!
//! A counting global allocator needs `unsafe impl GlobalAlloc`; this test
//! file is the one place outside `src/arch/` that may use `unsafe`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use redactor_scan::{Backend, Limits, Scanner};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts: the test harness's own threads
    /// allocate at times of their own.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the same arguments; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_per_text_once_warm() {
    let mut g = redactor_core_free_corpus();
    for backend in Backend::available() {
        let mut s = Scanner::with_backend(backend, Limits::default()).unwrap();
        // Warm up on the largest text so every buffer has its final size.
        let largest = g.iter().max_by_key(|l| l.len()).unwrap().clone();
        s.scan(&largest).unwrap();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        let (mut nodes, mut errors) = (0, 0);
        for line in &g {
            match s.scan(line) {
                Ok(t) => nodes += t.len(),
                Err(_) => errors += 1,
            }
        }
        COUNTING.with(|c| c.set(false));
        assert_eq!(errors, 0);
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        assert!(nodes > 1000);
        assert_eq!(
            after - before,
            0,
            "{} allocated while scanning",
            backend.name()
        );
    }
    g.clear();
}

/// Varied JSON texts built without the scanner (allocation happens here,
/// before counting starts).
fn redactor_core_free_corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..300 {
        let v = serde_json::json!({
            "event": format!("e{i}"),
            "properties": {"email\u{e9}": "a\"b\\c", "n": i, "f": 1.5e3, "list": [1, 2, {"deep": [true, false, null]}]},
            "pad": "x".repeat(i * 3),
        });
        out.push(serde_json::to_vec(&v).unwrap());
    }
    out
}
