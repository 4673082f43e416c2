//! The values of command-line options in text, as process telemetry
//! (OpenTelemetry's `process.command_line`, audit logs' `execve` records),
//! CI logs and shell histories carry them: `--password hunter2`, `--token
//! "..."`, an argument list printed by Python (`['--password',
//! 'hunter2']`), curl's `-u ann:hunter2` and `--user`, MySQL's
//! `-phunter2` and `-u ann`, sshpass's `-p hunter2`, `docker login -u ann
//! -p ...`. (`--password=hunter2`
//! is a `name=value` parameter, read as those are.)
//!
//! An option starts a word (after the start, whitespace, a quote, `[`,
//! `(` or `,`): `--` and a name, or `-` and a letter. Its value follows
//! after spaces or tabs (not one that starts with `-`, which is the next
//! option), or after the closing quote, a `,` and the opening quote of a
//! printed list; it is what quotes enclose, or runs to whitespace or a
//! quote. A short option's value may be glued to it (`-phunter2`). Every
//! byte of a text is looked at a bounded number of times, whatever the
//! text.

use super::{is_blank, is_name_byte, quoted_len, Profile, C_DASH};
use redactor_scan::census;

/// The shortest option with a value: `-p x` in `mysql -p x`.
const OPTIONS_MIN_LEN: usize = 8;

/// Whether a text of `len` bytes with profile `p` may hold an option with
/// a value: a `-` and a space.
#[inline(always)]
pub(super) fn may_hold_options(len: usize, p: Profile) -> bool {
    len >= OPTIONS_MIN_LEN && p.has(C_DASH) && p.marks & census::SPACE != 0
}

/// An option and its value.
struct Opt {
    /// The name, without its dashes.
    name: (usize, usize),
    /// Whether it is a short option (one dash, one letter).
    short: bool,
    /// The value.
    value: (usize, usize),
}

/// The options with values of `b`, in order.
fn options(b: &[u8]) -> impl Iterator<Item = Opt> + '_ {
    let mut done = 0;
    memchr::memchr_iter(b'-', b).filter_map(move |at| {
        if at < done
            || (at > 0
                && !matches!(b[at - 1], b'\'' | b'"' | b'[' | b'(' | b',')
                && !b[at - 1].is_ascii_whitespace())
        {
            return None;
        }
        let long = b.get(at + 1) == Some(&b'-');
        let name_start = at + 1 + usize::from(long);
        let name_len = if long {
            b[name_start..]
                .iter()
                .take_while(|&&c| is_name_byte(c))
                .count()
        } else {
            usize::from(b.get(name_start).is_some_and(u8::is_ascii_alphabetic))
        };
        if name_len == 0 {
            return None;
        }
        let name_end = name_start + name_len;
        let rest = &b[name_end..];
        let (start, len) = match rest.first() {
            // Glued to a short option: `-phunter2`.
            Some(&c) if !long && is_name_byte(c) => (name_end, word_len(rest)),
            Some(&c) if is_blank(c) => {
                let s = name_end + rest.iter().take_while(|&&c| is_blank(c)).count();
                match b.get(s) {
                    Some(b'-') | None => return None,
                    Some(b'"' | b'\'') => (s + 1, quoted_len(&b[s..])),
                    Some(_) => (s, word_len(&b[s..])),
                }
            }
            // A printed list: `'--password', 'hunter2'`.
            Some(&q @ (b'\'' | b'"')) if at > 0 && b[at - 1] == q => {
                let comma = name_end + 1;
                if b.get(comma) != Some(&b',') {
                    return None;
                }
                let s = comma + 1 + b[comma + 1..].iter().take_while(|&&c| is_blank(c)).count();
                if b.get(s) != Some(&q) {
                    return None;
                }
                (s + 1, quoted_len(&b[s..]))
            }
            _ => return None,
        };
        if len == 0 {
            return None;
        }
        done = start + len;
        Some(Opt {
            name: (name_start, name_end),
            short: !long,
            value: (start, start + len),
        })
    })
}

/// The length of the unquoted value at the start of `rest`: to whitespace
/// or a quote.
fn word_len(rest: &[u8]) -> usize {
    rest.iter()
        .position(|&c| c.is_ascii_whitespace() || c == b'"' || c == b'\'')
        .unwrap_or(rest.len())
}

/// The long options whose value is `user:password` (curl's, wget's), and
/// curl's short forms of them.
const USER_OPTIONS: &[&[u8]] = &[b"user", b"proxy-user"];
const USER_SHORT_OPTIONS: &[u8] = b"uU";

/// Whether `b` holds one of `words` (lowercase; the clients whose short
/// options these finders read: `-p` is a port elsewhere).
fn mentions(b: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| memchr::memmem::find(b, w).is_some())
}

/// The commands whose `-p` is a password: MySQL's and MariaDB's clients
/// (`mysql`, `mysqldump`, `mysqladmin`), sshpass, and the registries' and
/// clusters' `login` (`docker login`, `podman login`, `oc login`).
const PASSWORD_P: &[&[u8]] = &[b"mysql", b"mariadb", b"sshpass", b"login"];

/// The commands whose `-u` is a user: those of [`PASSWORD_P`] but sshpass.
const USER_U: &[&[u8]] = &[b"mysql", b"mariadb", b"login"];

/// Whether the option `o` of `b` takes `user:password`.
fn takes_user_password(b: &[u8], o: &Opt) -> bool {
    let name = &b[o.name.0..o.name.1];
    if o.short {
        USER_SHORT_OPTIONS.contains(&name[0])
    } else {
        USER_OPTIONS.iter().any(|n| name.eq_ignore_ascii_case(n))
    }
}

/// The credentials among the options of `text`: the values of long options
/// named as credentials (`--password`, `--api-key`, `--client-secret`), the
/// password of a `user:password` value (`-u ann:hunter2`, `--user`,
/// `--proxy-user`), and `-p` where a command of [`PASSWORD_P`] is named
/// (`mysql -u ann -phunter2`, `sshpass -p ...`, `docker login -p ...`).
pub(super) fn find_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut clients = None;
    for o in options(b) {
        let name = &b[o.name.0..o.name.1];
        let (s, e) = o.value;
        if takes_user_password(b, &o) {
            if let Some(colon) = memchr::memchr(b':', &b[s..e]) {
                if s + colon + 1 < e {
                    out.push((s + colon + 1, e));
                }
                continue;
            }
        }
        let password = if o.short {
            name == b"p" && *clients.get_or_insert_with(|| mentions(b, PASSWORD_P))
        } else {
            super::is_credential_name(name)
        };
        if password {
            out.push((s, e));
        }
    }
}

/// The ids among the options of `text`: the values of long options named
/// as ids (`--user-id`, `--user`), the user of a `user:password` value
/// (`-u ann:hunter2`, `--user bob:...`), and `-u` where a command of
/// [`USER_U`] is named (`mysql -u ann`, `docker login -u ann`).
pub(super) fn find_ids(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut clients = None;
    for o in options(b) {
        let name = &b[o.name.0..o.name.1];
        let (s, e) = o.value;
        let user_password = takes_user_password(b, &o);
        let colon = memchr::memchr(b':', &b[s..e]).map(|i| s + i);
        let id = if o.short {
            (name == b"u" && *clients.get_or_insert_with(|| mentions(b, USER_U)))
                || (user_password && colon.is_some())
        } else {
            super::is_id_name(name)
        };
        let e = match colon {
            Some(colon) if user_password => colon,
            _ => e,
        };
        if id && e > s {
            out.push((s, e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};

    #[test]
    fn option_values() {
        let text = "/usr/bin/python3 sync.py --password hunter2 --user-id u-42 --api-key 'a b' \
                    --client-secret=cs --verbose -v --token --next";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "a b", "cs"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-42"]);
        let text = "argv=['sync.py', '--password', 'hunter2', \"--token\", \"t1\"]";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "t1"]);
        let text = "curl -u ann:hunter2 https://api.test/x --user bob:s2 --proxy-user cy:s3 -U dee";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "s2", "s3"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["ann", "bob", "cy"]);
        let text = "mysqldump -u ann -phunter2 -h db app; sshpass -p 'pw 2' ssh x";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "pw 2"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["ann"]);
        let text = "docker login -u bo -p pw3 registry.test";
        assert_eq!(spans(DetectorKind::Secret, text), ["pw3"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["bo"]);
        // `-p` is a port, `-u` a uid elsewhere; not an option's start.
        for text in [
            "ssh -p 2222 host; docker run -u 1000 -p 8080:80 img",
            "x--password hunter2 a-p b",
            "--password -x --password",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text:?}");
        }
    }

    /// [`options`] against a formulation with regexes: at each `-` that
    /// starts a word and no earlier value, the option's name, then its
    /// value in one of the three forms.
    #[test]
    fn options_are_what_a_regex_finds() {
        use super::options;
        use regex::Regex;
        let starts = Regex::new(r#"(?:^|[\t\n\x0C\r '"\[(,])$"#).unwrap();
        let option = Regex::new("^(?:--([A-Za-z0-9_-]+)|-([A-Za-z]))").unwrap();
        let word = r#"[^\t\n\x0C\r "']*"#;
        let glued = Regex::new(&format!("^[A-Za-z0-9_-]{word}")).unwrap();
        // A quoted value as `quoted_len` reads it: a doubled quote inside.
        let quoted = r#"(?:"((?:[^"]+(?:""[^"]*)*)?)|'((?:[^']+(?:''[^']*)*)?))"#;
        let spaced = Regex::new(&format!(
            "^[ \t]+(?:{quoted}|([^-{}]{word}))",
            r#"\t\n\x0C\r "'"#
        ))
        .unwrap();
        // The same quote closes the option and opens the value.
        let listed = |q: char| {
            Regex::new(&format!("^{q},[ \t]*{q}((?:[^{q}]+(?:{q}{q}[^{q}]*)*)?)")).unwrap()
        };
        let listed = [listed('\''), listed('"')];
        let pieces = [
            "--",
            "-",
            "password",
            "p",
            "u",
            " ",
            "  ",
            "\t",
            "'",
            "\"",
            ",",
            "[",
            "x",
            "a b",
            "-x",
            "''",
            "é",
            "=",
            "\n",
            ":",
            "'--token', '",
            "\"--pwd\",\"",
            "ab",
        ];
        let texts =
            crate::test_texts::from_pieces(0x0b71_0a5e_0000_0001, 100_000, (1, 12), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            let b = t.as_bytes();
            found.clear();
            found.extend(options(b).map(|o| (o.name, o.short, o.value)));
            want.clear();
            let mut done = 0;
            for (at, _) in t.match_indices('-') {
                if at < done || !starts.is_match(&t[..at]) {
                    continue;
                }
                let Some(c) = option.captures(&t[at..]) else {
                    continue;
                };
                let short = c.get(2).is_some();
                let n = c.get(1).or(c.get(2)).unwrap();
                let name = (at + n.start(), at + n.end());
                let rest = &t[name.1..];
                let value = if short && glued.is_match(rest) {
                    Some(glued.find(rest).unwrap().range())
                } else if let Some(c) = spaced.captures(rest) {
                    (1..=3).find_map(|i| c.get(i)).map(|m| m.range())
                } else if at > 0
                    && rest.starts_with(&t[at - 1..at])
                    && matches!(&t[at - 1..at], "'" | "\"")
                {
                    let q = &t[at - 1..at];
                    listed[usize::from(q == "\"")]
                        .captures(rest)
                        .map(|c| c.get(1).unwrap().range())
                } else {
                    None
                };
                let Some(v) = value.filter(|v| !v.is_empty()) else {
                    continue;
                };
                want.push((name, short, (name.1 + v.start, name.1 + v.end)));
                done = name.1 + v.end;
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with options");
    }
}
