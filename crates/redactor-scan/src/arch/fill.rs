//! Appending to a vector through its spare capacity.

/// Appends values to a cleared vector through its spare capacity: one
/// bounds check against a length held in a register per value, instead of
/// `Vec::push`'s capacity check and length update through memory. The
/// vector's length is set once, by [`Fill::finish`]; values of a fill that
/// is dropped unfinished are forgotten (the vector stays empty), so `T`
/// is `Copy` (nothing to drop).
pub(crate) struct Fill<'v, T: Copy> {
    vec: &'v mut Vec<T>,
    /// The vector's buffer, with `room` slots.
    ptr: *mut T,
    room: usize,
    /// Slots written so far: exactly `0..len`.
    len: usize,
}

impl<'v, T: Copy> Fill<'v, T> {
    /// Clears `vec` and makes room for at least `room` values.
    pub(crate) fn new(vec: &'v mut Vec<T>, room: usize) -> Self {
        vec.clear();
        vec.reserve(room);
        Fill {
            ptr: vec.as_mut_ptr(),
            room: vec.capacity(),
            vec,
            len: 0,
        }
    }

    /// Values written so far.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`. Panics when the room is used up.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: T) {
        assert!(self.len < self.room, "fill past its room");
        // SAFETY: `len < room`, the vector's capacity: the slot is inside
        // its buffer, which nothing else uses while `self` borrows it.
        unsafe { self.ptr.add(self.len).write(value) };
        self.len += 1;
    }

    /// Appends `a`, then `b`, with one check of the room. Panics when there
    /// is no room for both.
    #[inline(always)]
    pub(crate) fn push2(&mut self, a: T, b: T) {
        assert!(self.room - self.len >= 2, "fill past its room");
        // SAFETY: `len + 2 <= room`, the vector's capacity (`len <= room`
        // always, so the subtraction does not wrap): both slots are inside
        // its buffer, which nothing else uses while `self` borrows it.
        unsafe {
            self.ptr.add(self.len).write(a);
            self.ptr.add(self.len + 1).write(b);
        }
        self.len += 2;
    }

    /// The value written at `i`. Panics unless `i < len()`.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "fill read past its values");
        // SAFETY: slots below `len` are inside the buffer and were written
        // by `push`; the borrow of `self` keeps the reference unique.
        unsafe { &mut *self.ptr.add(i) }
    }

    /// Sets the vector's length to the values written.
    pub(crate) fn finish(self) {
        // SAFETY: exactly the slots `0..len` were written (`push`), and
        // `len <= room`, the capacity.
        unsafe { self.vec.set_len(self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::Fill;

    #[test]
    fn finished_fill_holds_the_pushed_values_and_unfinished_is_empty() {
        let mut v = vec![7u32; 3];
        let mut f = Fill::new(&mut v, 5);
        for i in 0..5 {
            f.push(i);
        }
        *f.get_mut(1) = 10;
        assert_eq!(f.len(), 5);
        f.finish();
        assert_eq!(v, [0, 10, 2, 3, 4]);

        {
            let mut f = Fill::new(&mut v, 2);
            f.push(1);
        }
        assert!(v.is_empty(), "an unfinished fill leaves the vector empty");
    }

    #[test]
    fn pairs_land_in_order_up_to_the_room() {
        let mut v: Vec<u32> = Vec::new();
        let mut f = Fill::new(&mut v, 4);
        let room = f.room;
        f.push(1);
        let mut want = vec![1];
        while room - want.len() >= 2 {
            let n = want.len() as u32;
            f.push2(n * 10, n * 10 + 1);
            want.extend([n * 10, n * 10 + 1]);
        }
        assert_eq!(f.len(), want.len());
        f.finish();
        assert_eq!(v, want);
        assert!(v.len() >= 3 && v.len() + 1 >= room);
    }

    #[test]
    #[should_panic(expected = "fill past its room")]
    fn a_pair_needs_room_for_both() {
        let mut v: Vec<u8> = Vec::new();
        let mut f = Fill::new(&mut v, 1);
        let room = f.room;
        for _ in 1..room {
            f.push(0);
        }
        f.push2(1, 2);
    }

    #[test]
    #[should_panic(expected = "fill past its room")]
    fn fill_stops_at_its_room() {
        let mut v: Vec<u8> = Vec::new();
        let mut f = Fill::new(&mut v, 1);
        let room = f.room;
        for i in 0..=room {
            f.push(i as u8);
        }
    }
}
