//! The values of command-line options in text, as process telemetry
//! (OpenTelemetry's `process.command_line`, audit logs' `execve` records,
//! Windows' process creation events), CI logs and shell histories carry
//! them: `--password hunter2`, `--token "..."`, an argument list printed
//! by Python (`['--password', 'hunter2']`), curl's `-u ann:hunter2` and
//! `--user`, Java's and Go's single-dash names (`keytool -storepass ...`,
//! `-password ...`), OpenSSL's `-passout pass:...`, Windows' `/p:...`,
//! `/password:...` and `/P ...`, and the short options that some commands
//! give a password or a user (MySQL's `-phunter2` and `-u ann`, sshpass'
//! `-p`, `docker login -u ann -p ...`, `ldapsearch -w`, `redis-cli -a`,
//! `sqlcmd -U sa -P ...`, `smbclient -U ann%...`; [`PASSWORD_LETTERS`],
//! [`USER_LETTERS`]). (`--password=hunter2` is a `name=value` parameter,
//! read as those are.)
//!
//! An option starts a word (after the start, whitespace, a quote, `[`,
//! `(` or `,`): `--` and a name, `-` and a letter, or `/` and letters.
//! Its value follows after spaces or tabs (not one that starts with `-`,
//! which is the next option), or after the closing quote, a `,` and the
//! opening quote of a printed list; it is what quotes enclose, or runs to
//! whitespace or a quote. A `-` option's letter may have more glued to it
//! (`-phunter2`, or a name: `-storepass`), and a `/` option's value may
//! follow a `:` (`/p:hunter2`). Every byte of a text is looked at a
//! bounded number of times, whatever the text.

use super::{is_blank, is_name_byte, quoted_len, Profile, C_DASH};
use redactor_scan::census;

/// The shortest option with a value: `-p x` in `mysql -p x`.
const OPTIONS_MIN_LEN: usize = 8;

/// Whether a text of `len` bytes with profile `p` may hold an option with
/// a value: a `-` or `/`, and a space.
#[inline(always)]
pub(super) fn may_hold_options(len: usize, p: Profile) -> bool {
    len >= OPTIONS_MIN_LEN
        && p.marks & census::SPACE != 0
        && (p.has(C_DASH) || p.marks & census::SLASH != 0)
}

/// How an option is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `--name`.
    Long,
    /// `-` and a letter, with what is glued to it: the letter's value
    /// (`-phunter2`), or a longer name (`-storepass`).
    Dash,
    /// `/` and letters, Windows' (`/p:hunter2`, `/P hunter2`).
    Slash,
}

/// An option and its value.
#[derive(Debug, PartialEq, Eq)]
struct Opt {
    form: Form,
    /// The name, without its dashes or slash; for [`Form::Dash`], the
    /// letter and all that is glued to it.
    name: (usize, usize),
    /// The value after the name, if any.
    value: Option<(usize, usize)>,
}

/// The options of `b` with a value (after them, or glued to a `-`
/// option's letter), in order.
fn options(b: &[u8]) -> impl Iterator<Item = Opt> + '_ {
    let mut done = 0;
    memchr::memchr2_iter(b'-', b'/', b).filter_map(move |at| {
        if at < done
            || (at > 0
                && !matches!(b[at - 1], b'\'' | b'"' | b'[' | b'(' | b',')
                && !b[at - 1].is_ascii_whitespace())
        {
            return None;
        }
        let (form, name_start, name_end) = option_name(b, at)?;
        let value = value_after(b, at, name_end, form);
        if value.is_none() && !(form == Form::Dash && name_end - name_start > 1) {
            return None;
        }
        done = value.map_or(name_end, |(_, e)| e);
        Some(Opt {
            form,
            name: (name_start, name_end),
            value,
        })
    })
}

/// The form and name of the option that starts at `at` of `b` (a `-` or
/// `/`), if one does: `--` and name bytes, `-` and a letter with the
/// word glued to it (only when a name byte follows the letter), `/` and
/// ASCII letters.
fn option_name(b: &[u8], at: usize) -> Option<(Form, usize, usize)> {
    let (form, start) = match (b[at], b.get(at + 1)) {
        (b'-', Some(b'-')) => (Form::Long, at + 2),
        (b'-', _) => (Form::Dash, at + 1),
        _ => (Form::Slash, at + 1),
    };
    let name = &b[start..];
    let len = match form {
        Form::Long => name.iter().take_while(|&&c| is_name_byte(c)).count(),
        Form::Dash if name.first().is_some_and(u8::is_ascii_alphabetic) => {
            1 + if name.get(1).is_some_and(|&c| is_name_byte(c)) {
                word_len(&name[1..])
            } else {
                0
            }
        }
        Form::Dash => 0,
        Form::Slash => name.iter().take_while(|c| c.is_ascii_alphabetic()).count(),
    };
    (len > 0).then_some((form, start, start + len))
}

/// The value of the option that starts at `at` of `b` and whose name ends
/// at `name_end`: after spaces or tabs (quoted, or a word not starting
/// with `-`), after a `:` for a `/` option, the next item of a printed
/// list (`'--password', 'hunter2'`), or quoted right after a `-` option's
/// letter (`-p'hunter 2'`). Not an empty one, nor one that starts with
/// `-` or `/` after a space (an option).
fn value_after(b: &[u8], at: usize, name_end: usize, form: Form) -> Option<(usize, usize)> {
    let rest = &b[name_end..];
    let (start, len) = match rest.first() {
        Some(&c) if is_blank(c) => {
            let s = name_end + rest.iter().take_while(|&&c| is_blank(c)).count();
            match b.get(s) {
                Some(b'-' | b'/') | None => return None,
                Some(b'"' | b'\'') => (s + 1, quoted_len(&b[s..])),
                Some(_) => (s, word_len(&b[s..])),
            }
        }
        Some(b':') if form == Form::Slash => match b.get(name_end + 1) {
            Some(b'"' | b'\'') => (name_end + 2, quoted_len(&b[name_end + 1..])),
            _ => (name_end + 1, word_len(&rest[1..])),
        },
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
        // Quoted and glued to a letter: `-p'hunter 2'`.
        Some(b'\'' | b'"') if form == Form::Dash && name_end == at + 2 => {
            (name_end + 1, quoted_len(rest))
        }
        _ => return None,
    };
    (len > 0).then_some((start, start + len))
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

/// Whether `b` holds one of `words` (the clients whose short options
/// these finders read: `-p` is a port elsewhere).
pub(super) fn mentions(b: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| memchr::memmem::find(b, w).is_some())
}

/// The short options that are a password where one of the commands
/// beside them is named (a `-p` is a port elsewhere, a `-w` a width):
/// MySQL's and MariaDB's clients (`mysql`, `mysqldump`, `mysqladmin`),
/// sshpass, the registries' and clusters' `login` (`docker login`, `oc
/// login`), PsExec and PAExec, `useradd`/`usermod` (a password's hash),
/// 7-Zip, MongoDB's tools, smbmap and rdesktop for `-p`; SQL Server's
/// `sqlcmd`, `bcp` and `osql`, zip and unzip for `-P`; the OpenLDAP
/// clients' `-w` (and `ldappasswd`'s old and new passwords, `-a` and
/// `-s`); `redis-cli -a`; and the SNMP tools' community (`-c`) and v3
/// pass phrases (`-A`, `-X`).
const PASSWORD_LETTERS: &[(u8, &[&[u8]])] = &[
    (
        b'p',
        &[
            b"mysql",
            b"mariadb",
            b"sshpass",
            b"login",
            b"psexec",
            b"PsExec",
            b"paexec",
            b"useradd",
            b"usermod",
            b"7z",
            b"mongo",
            b"smbmap",
            b"rdesktop",
        ],
    ),
    (
        b'P',
        &[b"sqlcmd", b"SQLCMD", b"bcp", b"osql", b"zip", b"ipmitool"],
    ),
    (b'w', &[b"ldap"]),
    (b'a', &[b"redis-cli", b"ldappasswd"]),
    (b's', &[b"ldappasswd"]),
    (b'c', &[b"snmp"]),
    (b'A', &[b"snmp"]),
    (b'X', &[b"snmp"]),
];

/// The short options that are a user where one of the commands beside
/// them is named: `-u` of those of [`PASSWORD_LETTERS`]' `-p` that take
/// one, `-U` of SQL Server's tools and of Samba's clients (`smbclient -U
/// ann%hunter2`: user and password).
const USER_LETTERS: &[(u8, &[&[u8]])] = &[
    (
        b'u',
        &[
            b"mysql",
            b"mariadb",
            b"login",
            b"psexec",
            b"PsExec",
            b"paexec",
            b"mongo",
            b"smbmap",
            b"rdesktop",
        ],
    ),
    (
        b'U',
        &[
            b"sqlcmd",
            b"SQLCMD",
            b"bcp",
            b"osql",
            b"smb",
            b"rpcclient",
            b"ipmitool",
        ],
    ),
];

/// Samba's clients, whose `-U` takes `user%password`.
const SAMBA: &[&[u8]] = &[b"smb", b"rpcclient"];

/// The commands whose `/p:` is a password and `/u:` a user: FreeRDP's
/// clients (`xfreerdp`, `wfreerdp`, `sdl-freerdp`). Elsewhere `/p:` is a
/// property (MSBuild's `/p:Configuration=Release`).
const FREERDP: &[&[u8]] = &[b"freerdp"];

/// The Windows tools whose `/P` (and `/RP`, the run-as password of
/// `schtasks`) is a password and `/U` (and `/RU`) a user, written with a
/// space before the value: `schtasks /create /ru ann /rp ...`, `tasklist
/// /s host /u ann /p ...`, in either letter case.
const WINDOWS_TOOLS: &[&[u8]] = &[
    b"schtasks",
    b"SCHTASKS",
    b"tasklist",
    b"TASKLIST",
    b"taskkill",
    b"TASKKILL",
    b"systeminfo",
    b"SYSTEMINFO",
    b"getmac",
    b"gpresult",
    b"openfiles",
    b"eventcreate",
    b"driverquery",
];

/// Whether the `-` option `letter` is one of `table`'s where `named` says
/// a command of its row is named.
fn letter_in(
    table: &[(u8, &'static [&'static [u8]])],
    letter: u8,
    named: &mut dyn FnMut(&'static [&'static [u8]]) -> bool,
) -> bool {
    table.iter().any(|&(l, words)| l == letter && named(words))
}

/// Where a value names the place a password is read from instead of
/// holding it (OpenSSL's `env:VAR`, `file:path`, `fd:3`, `stdin`), or
/// holds it after a prefix (`pass:hunter2`): the range of `value` that is
/// the password.
fn password_in(value: &[u8]) -> Option<(usize, usize)> {
    const ELSEWHERE: [&[u8]; 4] = [b"env:", b"file:", b"fd:", b"stdin"];
    if ELSEWHERE.iter().any(|p| value.starts_with(p)) {
        return None;
    }
    let from = if value.starts_with(b"pass:") { 5 } else { 0 };
    (from < value.len()).then_some((from, value.len()))
}

/// Whether the long or single-dash option `name` is a credential's:
/// [`super::is_credential_name`], or OpenSSL's `pass`, `passin` and
/// `passout`, or PuTTY's `pw` (`plink -pw ...`; `pass` alone is not a
/// parameter's, but is an option's: `redis-cli --pass`).
fn is_password_option(name: &[u8]) -> bool {
    super::is_credential_name(name)
        || [&b"pass"[..], b"passin", b"passout", b"pw"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
}

/// An option as a reading sees it: its form, its name (for
/// [`Form::Dash`], the letter and what is glued to it), the value after
/// it, and whether that value follows a `:` (`/p:...`, not `/P ...`).
#[derive(Clone, Copy)]
struct Parts<'a> {
    form: Form,
    name: &'a [u8],
    value: Option<&'a [u8]>,
    colon: bool,
}

impl<'a> Parts<'a> {
    /// The parts of `o`, an option of `b`.
    fn of(b: &'a [u8], o: &Opt) -> Parts<'a> {
        Parts {
            form: o.form,
            name: &b[o.name.0..o.name.1],
            value: o.value.map(|(s, e)| &b[s..e]),
            colon: o.form == Form::Slash && b.get(o.name.1) == Some(&b':'),
        }
    }
}

/// Where a reading found something: a range of the option's value, or of
/// its name (a value glued to a `-` option's letter: `-phunter2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Value(usize, usize),
    Name(usize, usize),
}

impl Place {
    /// The range of the text that this place of option `o` (an option
    /// of that text) is.
    fn in_text(self, o: &Opt) -> (usize, usize) {
        let (at, s, e) = match self {
            Place::Value(s, e) => (o.value.map_or(0, |v| v.0), s, e),
            Place::Name(s, e) => (o.name.0, s, e),
        };
        (at + s, at + e)
    }
}

/// Where a range of a value is in an option ([`Place`]).
type At = fn(usize, usize) -> Place;

/// The value of a [`Form::Dash`] option's letter: the one after it when
/// nothing is glued to the letter (`-p hunter2`), else the glued one
/// (`-phunter2`), and where a range of it is.
fn letter_value<'a>(o: Parts<'a>) -> (&'a [u8], At) {
    match o.value {
        Some(v) if o.name.len() == 1 => (v, Place::Value),
        _ => (&o.name[1..], |s, e| Place::Name(s + 1, e + 1)),
    }
}

/// The range of `v` before (`user`) or after its first `sep`, if `sep` is
/// there and that side is not empty.
fn side_of(v: &[u8], sep: u8, user: bool) -> Option<(usize, usize)> {
    let at = memchr::memchr(sep, v)?;
    let r = if user { (0, at) } else { (at + 1, v.len()) };
    (r.0 < r.1).then_some(r)
}

/// The user (with `user`) or the password of `v`, the value of the
/// option `name` written as `form` (a short one: its letter first), when
/// it is `user:password` (`--user`, `--proxy-user`, `-u`, `-U`: curl's
/// and wget's) or Samba's `user%password` (`-U` where [`SAMBA`] is
/// named).
fn user_password(
    form: Form,
    name: &[u8],
    v: &[u8],
    user: bool,
    named: &mut dyn FnMut(&'static [&'static [u8]]) -> bool,
) -> Option<(usize, usize)> {
    let letter = match form {
        Form::Long if USER_OPTIONS.iter().any(|n| name.eq_ignore_ascii_case(n)) => {
            return side_of(v, b':', user);
        }
        Form::Dash if USER_SHORT_OPTIONS.contains(&name[0]) => name[0],
        _ => return None,
    };
    side_of(v, b':', user).or_else(|| {
        (letter == b'U')
            .then(|| side_of(v, b'%', user))
            .flatten()
            .filter(|_| named(SAMBA))
    })
}

/// The credential the option `o` holds, if any: the password of a
/// `user:password` value of an option that takes one (`-u ann:hunter2`,
/// `--user`, `--proxy-user`) or of Samba's `-U ann%hunter2`; the value of
/// a long or single-dash option named as a credential (`--password`,
/// `--api-key`, `-storepass`, `-passout pass:...`; [`password_in`]); of a
/// letter of [`PASSWORD_LETTERS`] where its command is named, after it or
/// glued to it (`mysql -phunter2`); of `/password:`, `/pass:`, `/pwd:`,
/// and of `/p:` for FreeRDP, `/P` and `/RP` (with a space) for
/// [`WINDOWS_TOOLS`].
fn credential_in(
    o: Parts<'_>,
    named: &mut dyn FnMut(&'static [&'static [u8]]) -> bool,
) -> Option<Place> {
    let value = |r: Option<(usize, usize)>| r.map(|(s, e)| Place::Value(s, e));
    match o.form {
        Form::Long => {
            let v = o.value?;
            let r = user_password(o.form, o.name, v, false, named);
            value(r.or_else(|| password_in(v).filter(|_| is_password_option(o.name))))
        }
        Form::Dash => {
            let letter = o.name[0];
            let glued = &o.name[1..];
            // A name (`-storepass`): its value, not a letter's glued one.
            if !glued.is_empty() && is_password_option(o.name) {
                return value(o.value.and_then(password_in));
            }
            let (v, place) = letter_value(o);
            if let Some((s, e)) = user_password(o.form, o.name, v, false, named) {
                return Some(place(s, e));
            }
            (!v.is_empty() && letter_in(PASSWORD_LETTERS, letter, named)).then(|| place(0, v.len()))
        }
        Form::Slash => {
            let v = o.value?;
            let n = o.name;
            // A name with a space after it is a route in a request line
            // elsewhere (`POST /password HTTP/1.1`).
            let password = if o.colon {
                n.eq_ignore_ascii_case(b"password")
                    || n.eq_ignore_ascii_case(b"pass")
                    || n.eq_ignore_ascii_case(b"pwd")
                    || (n == b"p" && named(FREERDP))
            } else {
                (n.eq_ignore_ascii_case(b"p") || n.eq_ignore_ascii_case(b"rp"))
                    && named(WINDOWS_TOOLS)
            };
            password.then_some(Place::Value(0, v.len()))
        }
    }
}

/// The id the option `o` holds, if any: the value of a long or
/// single-dash option named as an id (`--user-id`, `--user`, `-user`), the
/// user of a `user:password` value (`-u ann:hunter2`, `--user bob:...`)
/// or of Samba's `-U ann%...`; the value of a letter of [`USER_LETTERS`]
/// where its command is named, after it or glued to it (`mysql -u ann`,
/// `-uann`); of `/user:`, and of `/u:` for FreeRDP, `/U` and `/RU` (with
/// a space) for [`WINDOWS_TOOLS`].
fn id_in(o: Parts<'_>, named: &mut dyn FnMut(&'static [&'static [u8]]) -> bool) -> Option<Place> {
    match o.form {
        Form::Long => {
            let v = o.value?;
            let r = user_password(o.form, o.name, v, true, named)
                .or_else(|| super::is_id_name(o.name).then_some((0, v.len())));
            r.map(|(s, e)| Place::Value(s, e))
        }
        Form::Dash => {
            let letter = o.name[0];
            let glued = &o.name[1..];
            // A name (`-user`): its value, not a letter's glued one.
            if !glued.is_empty() && super::is_id_name(o.name) {
                return o.value.map(|v| Place::Value(0, v.len()));
            }
            let (v, place) = letter_value(o);
            if v.is_empty() {
                return None;
            }
            let user = user_password(o.form, o.name, v, true, named);
            let (s, e) = if letter_in(USER_LETTERS, letter, named) {
                user.unwrap_or((0, v.len()))
            } else {
                user?
            };
            Some(place(s, e))
        }
        Form::Slash => {
            let v = o.value?;
            let n = o.name;
            let user = if o.colon {
                n.eq_ignore_ascii_case(b"user") || (n == b"u" && named(FREERDP))
            } else {
                (n.eq_ignore_ascii_case(b"u") || n.eq_ignore_ascii_case(b"ru"))
                    && named(WINDOWS_TOOLS)
            };
            user.then_some(Place::Value(0, v.len()))
        }
    }
}

/// A reading of an option ([`credential_in`], [`id_in`]): given the
/// option and whether one of a list of commands is named, where in it is
/// what it finds.
type Reading = fn(Parts<'_>, &mut dyn FnMut(&'static [&'static [u8]]) -> bool) -> Option<Place>;

/// How many lists of commands [`Named`] keeps the answers of: more than
/// the readings ask about (the rows of [`PASSWORD_LETTERS`] and
/// [`USER_LETTERS`], [`SAMBA`], [`FREERDP`], [`WINDOWS_TOOLS`]).
const NAMED_KEPT: usize = 16;

/// Whether `text` names one of a list of commands, each list searched for
/// at most once: a reading asks about a few lists, and a text of many
/// options would otherwise be searched again for each.
struct Named<'a> {
    text: &'a [u8],
    /// The lists asked about so far, by address, and their answers.
    known: [(usize, bool); NAMED_KEPT],
    len: usize,
}

impl<'a> Named<'a> {
    fn new(text: &'a [u8]) -> Named<'a> {
        Named {
            text,
            known: [(0, false); NAMED_KEPT],
            len: 0,
        }
    }

    fn ask(&mut self, words: &'static [&'static [u8]]) -> bool {
        let key = words.as_ptr() as usize;
        if let Some(&(_, answer)) = self.known[..self.len].iter().find(|&&(k, _)| k == key) {
            return answer;
        }
        let answer = mentions(self.text, words);
        if self.len < NAMED_KEPT {
            self.known[self.len] = (key, answer);
            self.len += 1;
        }
        answer
    }
}

/// The spans of `text` that `read` finds in its options ([`credential_in`],
/// [`id_in`]); a command is named when `text` names it.
fn find_in_options(text: &str, read: Reading, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // Made when a reading first asks (most options' readings do not).
    let mut named: Option<Named> = None;
    for o in options(b) {
        let mut ask = |words| named.get_or_insert_with(|| Named::new(b)).ask(words);
        if let Some(place) = read(Parts::of(b, &o), &mut ask) {
            out.push(place.in_text(&o));
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
/// a command line: an element that starts with an option is read alone
/// (`"-phunter2"`, `"/p:hunter2"`); any other is the value of an option
/// that is all of `prev` (`"--password", "hunter2"`, `"/P", "hunter2"`).
/// `named(words)` tells whether an element of the list names one of
/// `words`.
pub(super) fn find_in_argument(
    prev: Option<&[u8]>,
    value: &[u8],
    mut named: impl FnMut(&'static [&'static [u8]]) -> bool,
    secret: &mut Vec<(usize, usize)>,
    ids: &mut Vec<(usize, usize)>,
) {
    let readings: [(Reading, &mut Vec<(usize, usize)>); 2] =
        [(credential_in, secret), (id_in, ids)];
    if matches!(value.first(), Some(b'-' | b'/')) {
        // Not a value: an option, read alone, if it starts one.
        let starts = |o: &Opt| o.name.0 == if o.form == Form::Long { 2 } else { 1 };
        let Some(o) = options(value).next().filter(starts) else {
            return;
        };
        let parts = Parts::of(value, &o);
        for (read, out) in readings {
            if let Some(place) = read(parts, &mut named) {
                out.push(place.in_text(&o));
            }
        }
        return;
    }
    let Some(prev) = prev.filter(|_| !value.is_empty()) else {
        return;
    };
    let Some((form, s, e)) = matches!(prev.first(), Some(b'-' | b'/'))
        .then(|| option_name(prev, 0))
        .flatten()
        .filter(|&(_, _, e)| e == prev.len())
    else {
        return;
    };
    let parts = Parts {
        form,
        name: &prev[s..e],
        value: Some(value),
        colon: false,
    };
    for (read, out) in readings {
        // A value glued to `prev`'s letter is `prev`'s own.
        if let Some(Place::Value(s, e)) = read(parts, &mut named) {
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
        // The commands' own letters, after or glued to them.
        for (text, secret, ids) in [
            ("ldapsearch -x -D cn=admin -w pw1 -b dc=x", "pw1", None),
            ("redis-cli -h db -a pw1 ping", "pw1", None),
            ("sqlcmd -S srv -U sa -P pw1 -Q q", "pw1", Some("sa")),
            ("psexec \\\\host -u ann -p pw1 cmd", "pw1", Some("ann")),
            ("7z a -ppw1 a.7z b", "pw1", None),
            ("unzip -P pw1 a.zip", "pw1", None),
            ("smbclient //srv/s -U ann%pw1", "pw1", Some("ann")),
            ("snmpwalk -v2c -c pw1 10.0.0.1", "pw1", None),
            ("useradd -m -p pw1 ann", "pw1", None),
            ("mongosh -u ann -p pw1", "pw1", Some("ann")),
            ("mysql -uann -p'pw1' app", "pw1", Some("ann")),
            (
                "ipmitool -I lanplus -H h -U ann -P pw1 chassis status",
                "pw1",
                Some("ann"),
            ),
            // Single-dash names, OpenSSL's places of a password.
            ("keytool -list -storepass pw1 -keystore k.jks", "pw1", None),
            ("keytool -importkeystore -srcstorepass pw1", "pw1", None),
            (
                "openssl pkcs12 -export -passout pass:pw1 -out a.p12",
                "pw1",
                None,
            ),
            ("plink -ssh host -l ann -pw pw1", "pw1", None),
            ("redis-cli --pass pw1", "pw1", None),
            ("app -password pw1 -user ann", "pw1", Some("ann")),
            // Windows' `/` options.
            ("xfreerdp /v:host /u:ann /p:pw1", "pw1", Some("ann")),
            (
                "wmic /node:h /user:ann /password:pw1 process list",
                "pw1",
                Some("ann"),
            ),
            ("cmdkey /add:srv /user:ann /pass:pw1", "pw1", Some("ann")),
            (
                "schtasks /create /tn t /ru ann /rp pw1 /tr x",
                "pw1",
                Some("ann"),
            ),
            ("TASKLIST /S host /U ann /P pw1", "pw1", Some("ann")),
        ] {
            assert_eq!(spans(DetectorKind::Secret, text), [secret], "{text:?}");
            let want: Vec<&str> = ids.into_iter().collect();
            assert_eq!(spans(DetectorKind::IdParam, text), want, "{text:?}");
        }
        // Not where the command is another's, nor a place of a password.
        for text in [
            "msbuild app.sln /p:Configuration=Release",
            "xcopy /p src dst",
            "scp -P 2222 f host:",
            "openssl enc -pass env:KEY -in f",
            "openssl enc -pass file:/run/k -in f",
            "gzip -c -w 3 file",
            // Routes in request lines.
            "POST /password HTTP/1.1 200",
            "GET /pass HTTP/1.1",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text:?}");
        }
        for text in ["GET /user HTTP/1.1", "GET /U x", "schtasks /u:ann"] {
            assert!(spans(DetectorKind::IdParam, text).is_empty(), "{text:?}");
        }
        // `-p` is a port, `-u` a uid elsewhere; not an option's start.
        for text in [
            "ssh -p 2222 host; docker run -u 1000 -p 8080:80 img",
            "x--password hunter2 a-p b",
            "--password -x --password",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text:?}");
        }
    }

    /// [`options`] against a formulation with regexes: at each `-` or `/`
    /// that starts a word and no earlier value, the option's name in one of
    /// its three forms, then its value in one of the four.
    #[test]
    fn options_are_what_a_regex_finds() {
        use super::{options, Form};
        use regex::Regex;
        let starts = Regex::new(r#"(?:^|[\t\n\x0C\r '"\[(,])$"#).unwrap();
        let word = r#"[^\t\n\x0C\r "']*"#;
        let option = Regex::new(&format!(
            "^(?:--([A-Za-z0-9_-]+)|-([A-Za-z](?:[A-Za-z0-9_-]{word})?)|/([A-Za-z]+))"
        ))
        .unwrap();
        // A quoted value as `quoted_len` reads it: a doubled quote inside.
        let quoted = r#"(?:"((?:[^"]+(?:""[^"]*)*)?)|'((?:[^']+(?:''[^']*)*)?))"#;
        let spaced = Regex::new(&format!(
            "^[ \t]+(?:{quoted}|([^-/{}]{word}))",
            r#"\t\n\x0C\r "'"#
        ))
        .unwrap();
        let colon = Regex::new(&format!("^:(?:{quoted}|({word}))")).unwrap();
        let glued_quoted = Regex::new(&format!("^(?:{quoted})")).unwrap();
        // The same quote closes the option and opens the value.
        let listed = |q: char| {
            Regex::new(&format!("^{q},[ \t]*{q}((?:[^{q}]+(?:{q}{q}[^{q}]*)*)?)")).unwrap()
        };
        let listed = [listed('\''), listed('"')];
        let pieces = [
            "--",
            "-",
            "/",
            "password",
            "p",
            "u",
            "P",
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
            "/p:",
            " /",
        ];
        let texts =
            crate::test_texts::from_pieces(0x0b71_0a5e_0000_0001, 100_000, (1, 12), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        let mut forms = [0; 3];
        for t in &texts {
            let b = t.as_bytes();
            found.clear();
            found.extend(options(b).map(|o| (o.form, o.name, o.value)));
            want.clear();
            let mut done = 0;
            for (at, _) in t.match_indices(['-', '/']) {
                if at < done || !starts.is_match(&t[..at]) {
                    continue;
                }
                let Some(c) = option.captures(&t[at..]) else {
                    continue;
                };
                let (form, n) = [Form::Long, Form::Dash, Form::Slash]
                    .into_iter()
                    .zip(1..)
                    .find_map(|(f, i)| c.get(i).map(|m| (f, m)))
                    .unwrap();
                let name = (at + n.start(), at + n.end());
                let rest = &t[name.1..];
                let inner = |c: regex::Captures| (1..=3).find_map(|i| c.get(i)).map(|m| m.range());
                let value = if let Some(c) = spaced.captures(rest) {
                    inner(c)
                } else if form == Form::Slash && rest.starts_with(':') {
                    colon.captures(rest).and_then(inner)
                } else if at > 0
                    && rest.starts_with(&t[at - 1..at])
                    && matches!(&t[at - 1..at], "'" | "\"")
                {
                    let q = &t[at - 1..at];
                    listed[usize::from(q == "\"")]
                        .captures(rest)
                        .map(|c| c.get(1).unwrap().range())
                } else if form == Form::Dash && n.len() == 1 {
                    glued_quoted.captures(rest).and_then(inner)
                } else {
                    None
                };
                let value = value
                    .filter(|v| !v.is_empty())
                    .map(|v| (name.1 + v.start, name.1 + v.end));
                if value.is_none() && !(form == Form::Dash && name.1 - name.0 > 1) {
                    continue;
                }
                want.push((form, name, value));
                done = value.map_or(name.1, |v| v.1);
                forms[form as usize] += 1;
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with options");
        assert!(forms.iter().all(|&n| n > 1_000), "{forms:?}");
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
            "-storepass",
            "-pw",
            "-user",
            "-w",
            "-a",
            "ldapsearch",
            "ann%pw",
            "smbclient",
            "-P",
            "sqlcmd",
            "pass:x",
            "env:X",
            "/p:x",
            "/P",
            "/u:ann",
            "/user:ann",
            "/rp",
            "/",
            "/x",
            "xfreerdp",
            "schtasks",
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
