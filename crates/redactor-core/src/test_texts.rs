//! Deterministic random texts for the unit tests that hold a fast path to
//! its reference.

/// `count` texts, each of `min..=max` pieces drawn from `pieces` by a
/// xorshift generator seeded with `seed` (non-zero).
pub(crate) fn from_pieces(
    seed: u64,
    count: usize,
    (min, max): (u64, u64),
    pieces: &[&str],
) -> Vec<String> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            let mut t = String::new();
            for _ in 0..min + x % (max - min + 1) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t.push_str(pieces[(x % pieces.len() as u64) as usize]);
            }
            t
        })
        .collect()
}
