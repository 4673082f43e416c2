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
    let mut next = xorshift(seed);
    (0..count)
        .map(|_| {
            // The length is drawn too: a text of no pieces still moves
            // the generator on.
            let n = min + next() % (max - min + 1);
            (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// A xorshift64 generator seeded with `seed` (non-zero): each call gives
/// the next word.
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
