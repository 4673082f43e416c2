//! A byte census of a text: which of a few bytes it holds, how many ASCII
//! digits, whether it holds a byte that is not a lowercase hex digit or
//! `-`, and whether one that is not ASCII. One pass, 32 bytes at a time on
//! AVX2.
//!
//! It is what the prefilters in front of content detectors ask of every
//! string value (an `@` for emails, digits for card numbers and addresses,
//! a `:` for IPv6 addresses and credentials in URLs, an `=` for credentials
//! in URL queries and `name=value` text, a `%` or an `&` for
//! an encoded `@`, a `.` or a `-` between the octets of an IPv4 address),
//! answered for all of them at once; the scanner itself does not use it.

/// A `:` or an `=` was seen (see [`Census::classes`]). One class: the
/// detectors that look for one of them (IPv6 addresses, credentials in
/// URLs and in `name=value` text) are cheap to run on a text that holds
/// only the other, and the eight bits are taken.
pub const COLON_OR_EQUALS: u8 = 1;
/// An `@` was seen.
pub const AT: u8 = 2;
/// A `%` or an `&` was seen: either may open an encoded `@`
/// (`%40`, `&#64;`).
pub const PERCENT_OR_AMPERSAND: u8 = 4;
/// A `.` was seen.
pub const DOT: u8 = 8;
/// A `+` was seen.
pub const PLUS: u8 = 16;
/// A byte at or above 0x80 was seen (the text is not ASCII).
pub const NON_ASCII: u8 = 32;
/// A byte that is none of `0-9`, `a-f` and `-` was seen (any byte at or
/// above 0x80 among them).
pub const NOT_HEX: u8 = 64;
/// A `-` was seen.
pub const DASH: u8 = 128;

/// A `/` or a `\\` was seen (see [`Census::marks`]): a path's separator.
pub const SLASH: u8 = 1;
/// A space was seen: the text has words.
pub const SPACE: u8 = 2;
/// A `"`, a `'`, a `{` or a `[` was seen: the text may hold a member of
/// JSON, a dict, an object, a struct or a map written into it.
pub const QUOTE_OR_BRACKET: u8 = 4;
/// A `<` was seen: the text may hold markup (XML, a SOAP body, a SAML
/// assertion).
pub const LESS_THAN: u8 = 8;
/// A `;`, a `|` or a line feed was seen: the text may hold more than one
/// command (`cd /srv; htpasswd ...`, `echo ... | sudo -S ...`, a script).
pub const SEPARATOR: u8 = 16;

/// What [`census`] found in a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// The union of [`COLON_OR_EQUALS`], [`AT`], [`PERCENT_OR_AMPERSAND`], [`DOT`],
    /// [`PLUS`], [`NON_ASCII`], [`NOT_HEX`] and [`DASH`] over every byte.
    pub classes: u8,
    /// The union of [`SLASH`], [`SPACE`], [`QUOTE_OR_BRACKET`], [`LESS_THAN`] and [`SEPARATOR`] over every byte
    /// (the eight bits of `classes` are taken).
    pub marks: u8,
    /// How many bytes are ASCII digits.
    pub digits: usize,
}

impl Census {
    /// Whether some byte was in one of `classes` (a union of the class
    /// constants).
    #[inline]
    pub fn has(self, classes: u8) -> bool {
        self.classes & classes != 0
    }
}

/// The census of `text`, on the backend in use ([`crate::Backend::detect`]):
/// AVX2 when it is chosen or AVX-512 is, the portable loop otherwise. Every
/// backend gives the same answer.
#[inline]
pub fn census(text: &[u8]) -> Census {
    crate::arch::census(text)
}

/// The census of `text` on `backend` (the portable loop when this CPU
/// cannot run it), for tests and benchmarks that compare backends.
pub fn census_on(backend: crate::Backend, text: &[u8]) -> Census {
    if backend.is_available() {
        crate::arch::census_with(backend, text)
    } else {
        census_portable(text)
    }
}

/// The portable census, a table lookup per byte (the reference the SIMD
/// versions are tested against).
pub(crate) fn census_portable(text: &[u8]) -> Census {
    let (mut classes, mut marks, mut digits) = (0u8, 0u8, 0usize);
    for &b in text {
        classes |= CLASS[b as usize];
        marks |= MARK[b as usize];
        digits += usize::from(b.is_ascii_digit());
    }
    Census {
        classes,
        marks,
        digits,
    }
}

static MARK: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'/' as usize] = SLASH;
    t[b'\\' as usize] = SLASH;
    t[b' ' as usize] = SPACE;
    t[b'"' as usize] = QUOTE_OR_BRACKET;
    t[b'\'' as usize] = QUOTE_OR_BRACKET;
    t[b'{' as usize] = QUOTE_OR_BRACKET;
    t[b'[' as usize] = QUOTE_OR_BRACKET;
    t[b'<' as usize] = LESS_THAN;
    t[b';' as usize] = SEPARATOR;
    t[b'|' as usize] = SEPARATOR;
    t[b'\n' as usize] = SEPARATOR;
    t
};

static CLASS: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut b = 0x80;
    while b < 256 {
        t[b] |= NON_ASCII;
        b += 1;
    }
    t[b':' as usize] |= COLON_OR_EQUALS;
    t[b'=' as usize] |= COLON_OR_EQUALS;
    t[b'@' as usize] |= AT;
    t[b'%' as usize] |= PERCENT_OR_AMPERSAND;
    t[b'&' as usize] |= PERCENT_OR_AMPERSAND;
    t[b'.' as usize] |= DOT;
    t[b'+' as usize] |= PLUS;
    t[b'-' as usize] = DASH;
    let mut d = b'a';
    while d <= b'f' {
        t[d as usize] = 0;
        d += 1;
    }
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 0;
        d += 1;
    }
    t
};

/// The classes of the nibble-table lookup: each is one high nibble with a
/// set of low nibbles, so that a byte is in a class exactly when both of
/// its nibbles' table entries have the class's bit. Five of them are the
/// census's own classes (`%` and `&`, 0x25 and 0x26, share one, as do
/// `:` and `=`, 0x3A and 0x3D). (Only
/// the x86-64 census uses them; its tests check them on every target.)
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod nibbles {
    pub use super::{AT, COLON_OR_EQUALS, DOT, PERCENT_OR_AMPERSAND, PLUS};
    /// `-` (0x2D).
    pub const DASH: u8 = 32;
    /// `a` to `f` (0x61 to 0x66).
    pub const HEX_LETTER: u8 = 64;
    /// `0` to `9` (0x30 to 0x39): the top bit, so that a byte mask of the
    /// vector finds the digits.
    pub const DIGIT: u8 = 128;

    /// By low nibble.
    pub const LOW: [u8; 16] = {
        let mut t = [0u8; 16];
        t[0xA] |= COLON_OR_EQUALS;
        t[0xD] |= COLON_OR_EQUALS;
        t[0x0] |= AT;
        t[0x5] |= PERCENT_OR_AMPERSAND;
        t[0x6] |= PERCENT_OR_AMPERSAND;
        t[0xE] |= DOT;
        t[0xB] |= PLUS;
        t[0xD] |= DASH;
        let mut n = 1;
        while n <= 6 {
            t[n] |= HEX_LETTER;
            n += 1;
        }
        let mut n = 0;
        while n <= 9 {
            t[n] |= DIGIT;
            n += 1;
        }
        t
    };

    /// By high nibble.
    pub const HIGH: [u8; 16] = {
        let mut t = [0u8; 16];
        t[0x3] = COLON_OR_EQUALS | DIGIT;
        t[0x4] = AT;
        t[0x2] = PERCENT_OR_AMPERSAND | DOT | PLUS | DASH;
        t[0x6] = HEX_LETTER;
        t
    };

    /// The census classes of an OR of nibble classes, and whether some byte
    /// was outside the hex alphabet and some byte outside ASCII (both found
    /// separately).
    #[inline(always)]
    pub fn to_classes(any: u8, not_hex: bool, non_ascii: bool) -> u8 {
        (any & (COLON_OR_EQUALS | AT | PERCENT_OR_AMPERSAND | DOT | PLUS))
            | if any & DASH != 0 { super::DASH } else { 0 }
            | if not_hex { super::NOT_HEX } else { 0 }
            | if non_ascii { super::NON_ASCII } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibble_tables_classify_every_byte_like_the_byte_table() {
        for b in 0..=255u8 {
            let c = nibbles::LOW[usize::from(b & 15)] & nibbles::HIGH[usize::from(b >> 4)];
            let hex = nibbles::DIGIT | nibbles::HEX_LETTER | nibbles::DASH;
            let got = Census {
                classes: nibbles::to_classes(c, c & hex == 0, b >= 0x80),
                marks: census_portable(&[b]).marks,
                digits: usize::from(c & nibbles::DIGIT != 0),
            };
            assert_eq!(got, census_portable(&[b]), "byte {b:#04x}");
            let mark = match b {
                b'/' | b'\\' => SLASH,
                b' ' => SPACE,
                b'"' | b'\'' | b'{' | b'[' => QUOTE_OR_BRACKET,
                b'<' => LESS_THAN,
                b';' | b'|' | b'\n' => SEPARATOR,
                _ => 0,
            };
            assert_eq!(census_portable(&[b]).marks, mark, "byte {b:#04x}");
        }
    }

    #[test]
    fn portable_census_counts_and_classifies() {
        assert_eq!(census_portable(b""), Census::default());
        assert_eq!(
            census_portable(b"3f2a-00"),
            Census {
                classes: DASH,
                marks: 0,
                digits: 4
            }
        );
        assert_eq!(
            census_portable(b"a@b.c:1%+"),
            Census {
                classes: COLON_OR_EQUALS | AT | PERCENT_OR_AMPERSAND | DOT | PLUS | NOT_HEX,
                marks: 0,
                digits: 1
            }
        );
        assert_eq!(census_portable(b"/home/a b").marks, SLASH | SPACE);
        assert_eq!(census_portable(b"C:\\x").marks, SLASH);
        assert_eq!(
            census_portable(b"{'a': \"b\"}").marks,
            QUOTE_OR_BRACKET | SPACE
        );
        assert_eq!(census_portable(b"map[a:1]").marks, QUOTE_OR_BRACKET);
        assert_eq!(census_portable(b"<a>1</a>").marks, LESS_THAN | SLASH);
        assert_eq!(census_portable("é".as_bytes()).classes, NOT_HEX | NON_ASCII);
        assert_eq!(census_portable(b"=").classes, COLON_OR_EQUALS | NOT_HEX);
        assert_eq!(census_portable(b"ABC").classes, NOT_HEX, "uppercase");
    }

    /// Every backend against the portable census: every byte value at
    /// every position of texts of every length up to 100, and random texts
    /// of random lengths, at every alignment.
    #[test]
    fn every_backend_counts_like_the_portable_census() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1du64);
        let alphabet = b"0123456789abcdefABCDEF:=@%&.+-xyz \"\\/\x00\x7f\x80\xff";
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..100usize {
            let base: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            texts.push(base.clone());
            if len > 0 {
                for b in 0..=255u8 {
                    let mut t = vec![b'0'; len];
                    t[(b as usize * 7) % len] = b;
                    texts.push(t);
                }
            }
        }
        for _ in 0..2000 {
            let len = (next() % 300) as usize;
            texts.push((0..len).map(|_| next() as u8).collect());
        }
        for backend in crate::Backend::available() {
            for t in &texts {
                // At every offset into a larger buffer, so that loads start
                // at every alignment.
                for shift in [0usize, 1, 7, 31] {
                    let mut buf = vec![b'x'; shift];
                    buf.extend_from_slice(t);
                    let text = &buf[shift..];
                    assert_eq!(
                        crate::arch::census_with(backend, text),
                        census_portable(text),
                        "{} on {text:?}",
                        backend.name()
                    );
                }
            }
        }
    }
}
