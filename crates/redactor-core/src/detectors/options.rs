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
pub(super) fn mentions(b: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| memchr::memmem::find(b, w).is_some())
}

/// The commands whose `-p` is a password: MySQL's and MariaDB's clients
/// (`mysql`, `mysqldump`, `mysqladmin`), sshpass, and the registries' and
/// clusters' `login` (`docker login`, `podman login`, `oc login`).
const PASSWORD_P: &[&[u8]] = &[b"mysql", b"mariadb", b"sshpass", b"login"];

/// The commands whose `-u` is a user: those of [`PASSWORD_P`] but sshpass.
const USER_U: &[&[u8]] = &[b"mysql", b"mariadb", b"login"];

/// Whether the option named `name` (a letter when `short`) takes
/// `user:password`.
fn takes_user_password(name: &[u8], short: bool) -> bool {
    if short {
        USER_SHORT_OPTIONS.contains(&name[0])
    } else {
        USER_OPTIONS.iter().any(|n| name.eq_ignore_ascii_case(n))
    }
}

/// The credential in `value`, the value of the option named `name` (a
/// letter when `short`), as a range of it: the password of a
/// `user:password` value of an option that takes one (`-u ann:hunter2`,
/// `--user`, `--proxy-user`), the value of a long option named as a
/// credential (`--password`, `--api-key`, `--client-secret`), or of `-p`
/// where `named` says a command of [`PASSWORD_P`] is named (`mysql -u ann
/// -phunter2`, `sshpass -p ...`, `docker login -p ...`).
fn credential_in(
    name: &[u8],
    short: bool,
    value: &[u8],
    named: &mut dyn FnMut(&[&[u8]]) -> bool,
) -> Option<(usize, usize)> {
    if takes_user_password(name, short) {
        if let Some(colon) = memchr::memchr(b':', value) {
            return (colon + 1 < value.len()).then_some((colon + 1, value.len()));
        }
    }
    let password = if short {
        name == b"p" && named(PASSWORD_P)
    } else {
        super::is_credential_name(name)
    };
    password.then_some((0, value.len()))
}

/// The id in `value`, the value of the option named `name` (a letter when
/// `short`), as a range of it: the value of a long option named as an id
/// (`--user-id`, `--user`), the user of a `user:password` value (`-u
/// ann:hunter2`, `--user bob:...`), and `-u`'s value where `named` says a
/// command of [`USER_U`] is named (`mysql -u ann`, `docker login -u ann`).
fn id_in(
    name: &[u8],
    short: bool,
    value: &[u8],
    named: &mut dyn FnMut(&[&[u8]]) -> bool,
) -> Option<(usize, usize)> {
    let user_password = takes_user_password(name, short);
    let colon = memchr::memchr(b':', value);
    let id = if short {
        (name == b"u" && named(USER_U)) || (user_password && colon.is_some())
    } else {
        super::is_id_name(name)
    };
    let end = match colon {
        Some(colon) if user_password => colon,
        _ => value.len(),
    };
    (id && end > 0).then_some((0, end))
}

/// A reading of an option's value ([`credential_in`], [`id_in`]): given
/// the option's name, whether it is short, its value and whether a command
/// is named, the range of the value it finds.
type Reading = fn(&[u8], bool, &[u8], &mut dyn FnMut(&[&[u8]]) -> bool) -> Option<(usize, usize)>;

/// The spans of `text` that `read` finds in the values of its options
/// ([`credential_in`], [`id_in`]); a command is named when `text` names it.
fn find_in_options(text: &str, read: Reading, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // Each reading asks about one list of commands: the answer is kept.
    let mut clients = None;
    let mut named = |words: &[&[u8]]| *clients.get_or_insert_with(|| mentions(b, words));
    for o in options(b) {
        let (s, e) = o.value;
        if let Some((from, to)) = read(&b[o.name.0..o.name.1], o.short, &b[s..e], &mut named) {
            out.push((s + from, s + to));
        }
    }
}

/// The credentials among the options of `text` ([`credential_in`]).
pub(super) fn find_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    find_in_options(text, credential_in, out);
}

/// The ids among the options of `text` ([`id_in`]).
pub(super) fn find_ids(text: &str, out: &mut Vec<(usize, usize)>) {
    find_in_options(text, id_in, out);
}

/// The credentials and ids of `value`, an element of an argument list (a
/// JSON array of strings, as OpenTelemetry's `process.command_args` and
/// the Elastic Common Schema's `process.args` hold one) that comes after
/// the element `prev`, read as [`find_credentials`] and [`find_ids`] read
/// a command line: all of `value` after an option alone that takes one
/// (`"--password", "hunter2"`; not a value that starts with `-`), or a
/// short option's value glued to it (`"-phunter2"`). `named(words)` tells
/// whether an element of the list names one of `words`.
pub(super) fn find_in_argument(
    prev: Option<&[u8]>,
    value: &[u8],
    mut named: impl FnMut(&[&[u8]]) -> bool,
    secret: &mut Vec<(usize, usize)>,
    ids: &mut Vec<(usize, usize)>,
) {
    // `-phunter2`: the option and its value in one element.
    let (name, short, at) = if value.len() > 2
        && value[0] == b'-'
        && value[1].is_ascii_alphabetic()
        && is_name_byte(value[2])
    {
        (&value[1..2], true, 2)
    } else {
        let Some(prev) = prev else { return };
        if value.is_empty() || value[0] == b'-' {
            return;
        }
        match prev {
            [b'-', b'-', name @ ..]
                if !name.is_empty() && name.iter().all(|&c| is_name_byte(c)) =>
            {
                (name, false, 0)
            }
            // Only `-p`, `-u` and `-U` are read: no other byte matters.
            [b'-', _] => (&prev[1..], true, 0),
            _ => return,
        }
    };
    let v = &value[at..];
    if let Some((s, e)) = credential_in(name, short, v, &mut named) {
        secret.push((at + s, at + e));
    }
    if let Some((s, e)) = id_in(name, short, v, &mut named) {
        ids.push((at + s, at + e));
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

    /// Reading each element of an argument list after the one before it
    /// finds what reading the list as one command line finds (elements
    /// joined by spaces: each a word, none empty or with whitespace or
    /// quotes), element by element.
    #[test]
    fn argument_lists_read_as_their_command_lines() {
        use super::{find_credentials, find_ids, find_in_argument, mentions};
        let pieces = [
            "--password",
            "--user-id",
            "--user",
            "--proxy-user",
            "--api-key",
            "--x",
            "-p",
            "-u",
            "-U",
            "-v",
            "-phunter",
            "-uann",
            "-p:",
            "mysql",
            "sshpass",
            "login",
            "ann",
            "a:b",
            ":pw",
            "x",
            "-",
            "--",
            "-1",
            "é",
            "a-b",
            "--password!",
            "--user:x",
            "--é_token",
        ];
        let mut next = crate::test_texts::xorshift(0xa59_0001);
        let mut any = 0;
        for _ in 0..20_000 {
            let n = 1 + next() % 6;
            let list: Vec<&str> = (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let line = list.join(" ");
            // Each element's start in the line.
            let starts: Vec<usize> = list
                .iter()
                .scan(0, |at, e| {
                    let s = *at;
                    *at += e.len() + 1;
                    Some(s)
                })
                .collect();
            let by_element = |spans: Vec<(usize, usize)>| -> Vec<(usize, usize, usize)> {
                spans
                    .into_iter()
                    .map(|(s, e)| {
                        let i = starts.iter().rposition(|&at| at <= s).unwrap();
                        (i, s - starts[i], e - starts[i])
                    })
                    .collect()
            };
            let (mut secret, mut ids) = (Vec::new(), Vec::new());
            find_credentials(&line, &mut secret);
            find_ids(&line, &mut ids);
            let (want_secret, want_ids) = (by_element(secret), by_element(ids));
            let (mut got_secret, mut got_ids) = (Vec::new(), Vec::new());
            for (i, value) in list.iter().enumerate() {
                let prev = i.checked_sub(1).map(|p| list[p].as_bytes());
                let named = |words: &[&[u8]]| list.iter().any(|e| mentions(e.as_bytes(), words));
                let (mut s, mut d) = (Vec::new(), Vec::new());
                find_in_argument(prev, value.as_bytes(), named, &mut s, &mut d);
                got_secret.extend(s.into_iter().map(|(a, b)| (i, a, b)));
                got_ids.extend(d.into_iter().map(|(a, b)| (i, a, b)));
            }
            assert_eq!(got_secret, want_secret, "{list:?}");
            assert_eq!(got_ids, want_ids, "{list:?}");
            any += usize::from(!want_secret.is_empty() || !want_ids.is_empty());
        }
        assert!(any > 4_000, "{any}");
    }
}
