//! Passwords and users that commands take as plain arguments, not as an
//! option's value, as process telemetry (Windows' process creation
//! events, OpenTelemetry's `process.command_line`), sudo's log lines
//! (`COMMAND=...`) and shell histories carry them:
//!
//! - `net user ann hunter2 /add` (also `net1`, `net.exe`, in either
//!   letter case): the user, then the password (not `*`, which asks for
//!   it); `net use Z: \\host\share hunter2 /user:ann`: the argument after
//!   the share;
//! - `htpasswd -b [-c] file ann hunter2`, `htpasswd -nb ann hunter2`: with
//!   `b` among its flags, the user and the password after the file (none
//!   with `n`);
//! - `rabbitmqctl add_user ann hunter2` (`change_password`,
//!   `authenticate_user`): the user, then the password;
//! - `mysqladmin ... password hunter2`: the new password;
//! - SQL's `ALTER USER scott IDENTIFIED BY tiger` (`CREATE USER`,
//!   `GRANT`; Oracle's password need not be quoted): the password;
//! - `aws configure set aws_secret_access_key ...`, `git config
//!   user.password ...`, `npm config set //registry/:_authToken ...`: the
//!   value after a name that is a credential's;
//! - `echo hunter2 | sudo -S ...` (`sudo --stdin`, `passwd --stdin ann`,
//!   `docker login --password-stdin`, `htpasswd -i`), `echo 'ann:hunter2'
//!   | chpasswd`: what `echo` writes into a command that reads a password
//!   from it.
//!
//! A text is read only where a command starts: at its start or after a
//! `;`, `|`, `&` or line break, past `NAME=value` assignments (`sudo`'s
//! `COMMAND=/usr/bin/htpasswd ...` too), and past a command that runs
//! another (`sudo`, `doas`, `env`, `nohup`, `cmd /c`, `bash -c '...'`,
//! `powershell -Command "..."`), its options and, for the shells, into the
//! quoted command it runs. The command's name is the last part of a path
//! (`/usr/bin/htpasswd`, `C:\Windows\system32\net.exe`), without `.exe`.

use super::{is_blank, Profile, C_PERCENT_OR_AMPERSAND};
use redactor_scan::census;

/// The shortest text read: `net user a b`.
const COMMAND_MIN_LEN: usize = 12;

/// The most words of a command that are read: a command's arguments come
/// first, and a long text is not read word by word to its end for each.
pub(super) const WORDS_MAX: usize = 24;

/// How deep commands that run a quoted command are followed (`sudo bash
/// -c "net user ..."`).
const DEPTH_MAX: u32 = 3;

/// Whether a text of `len` bytes with profile `p` may hold a command these
/// finders read: words.
#[inline(always)]
pub(super) fn may_hold_commands(len: usize, p: Profile) -> bool {
    len >= COMMAND_MIN_LEN && p.marks & census::SPACE != 0
}

/// What a reading found: passwords and users, as ranges of the text.
struct Found<'a> {
    secret: Option<&'a mut Vec<(usize, usize)>>,
    ids: Option<&'a mut Vec<(usize, usize)>>,
    /// Whether the text may hold a `;`, `|` or line feed, and whether a
    /// `&` (its census says so): only then is it searched for one between
    /// commands.
    separators: bool,
    ampersands: bool,
}

impl Found<'_> {
    fn secret(&mut self, r: (usize, usize)) {
        if let Some(out) = self.secret.as_deref_mut() {
            if r.0 < r.1 {
                out.push(r);
            }
        }
    }

    /// Each of `words` as a password: a command's input when it reads a
    /// password from it.
    fn secrets(&mut self, words: &[Word]) {
        for w in words {
            self.secret((w.start, w.end));
        }
    }

    fn id(&mut self, r: (usize, usize)) {
        if let Some(out) = self.ids.as_deref_mut() {
            if r.0 < r.1 {
                out.push(r);
            }
        }
    }
}

/// The passwords that the commands of `text` (with profile `p`) take as
/// arguments.
pub(super) fn find_passwords(text: &str, p: Profile, out: &mut Vec<(usize, usize)>) {
    find(text, p, Some(out), None);
}

/// The users that the commands of `text` (with profile `p`) take as
/// arguments.
pub(super) fn find_users(text: &str, p: Profile, out: &mut Vec<(usize, usize)>) {
    find(text, p, None, Some(out));
}

/// Reads the commands of `text` (with profile `p`) for passwords into
/// `secret` and users into `ids`, in one pass.
pub(super) fn find(
    text: &str,
    p: Profile,
    secret: Option<&mut Vec<(usize, usize)>>,
    ids: Option<&mut Vec<(usize, usize)>>,
) {
    let mut found = Found {
        secret,
        ids,
        separators: p.marks & census::SEPARATOR != 0,
        ampersands: p.has(C_PERCENT_OR_AMPERSAND),
    };
    read_commands(text.as_bytes(), 0, text.len(), 0, &mut found);
}

/// A word of a command: its range in the text, without the quotes around
/// it (a word is one quoted string, or runs to whitespace or a separator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word {
    start: usize,
    end: usize,
}

/// Whether byte `i` of `b` ends a command (what follows is another): a
/// `;`, `|` or `\n`, or a `&` that is not inside a word (`&&`, `cmd
/// & next`; not a query's `a=1&b=2`).
fn is_separator(b: &[u8], i: usize) -> bool {
    match b[i] {
        b';' | b'|' | b'\n' => true,
        b'&' => {
            let around = |c: Option<&u8>| c.is_none_or(|&c| c == b'&' || is_blank(c));
            around(b.get(i + 1)) || around(i.checked_sub(1).map(|k| &b[k]))
        }
        _ => false,
    }
}

/// Up to [`WORDS_MAX`] words, held in place: nothing is allocated for a
/// text.
#[derive(Clone, Copy)]
struct Words {
    items: [Word; WORDS_MAX],
    len: usize,
}

impl Words {
    const EMPTY: Words = Words {
        items: [Word { start: 0, end: 0 }; WORDS_MAX],
        len: 0,
    };

    fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, w: Word) {
        self.items[self.len] = w;
        self.len += 1;
    }

    /// Takes words `range` out.
    fn remove(&mut self, range: std::ops::Range<usize>) {
        self.items.copy_within(range.end..self.len, range.start);
        self.len -= range.len();
    }
}

impl std::ops::Deref for Words {
    type Target = [Word];

    fn deref(&self) -> &[Word] {
        &self.items[..self.len]
    }
}

/// The words of the command that starts at `from` of `b[..to]`, at most
/// [`WORDS_MAX`], into `words`; returns where the command ends (at a
/// separator or `to`).
fn words_of(b: &[u8], from: usize, to: usize, words: &mut Words) -> usize {
    words.clear();
    let mut at = from;
    loop {
        while at < to && (is_blank(b[at]) || b[at] == b'\x0C') {
            at += 1;
        }
        if at >= to || is_separator(b, at) {
            return at;
        }
        let word = if matches!(b[at], b'"' | b'\'') {
            let close = memchr::memchr(b[at], &b[at + 1..to]).map_or(to, |k| at + 1 + k);
            let w = Word {
                start: at + 1,
                end: close,
            };
            at = (close + 1).min(to);
            w
        } else {
            let start = at;
            while at < to && !b[at].is_ascii_whitespace() && !is_separator(b, at) {
                at += 1;
            }
            Word { start, end: at }
        };
        if words.len() == WORDS_MAX {
            // Past what is read: on to the command's end.
            while at < to && !is_separator(b, at) {
                at += 1;
            }
            return at;
        }
        words.push(word);
    }
}

/// The command name in a word: the last part of a path, without `.exe`,
/// after a `NAME=` (`COMMAND=/usr/bin/htpasswd`).
fn command_name(w: &[u8]) -> &[u8] {
    let from = w
        .iter()
        .rposition(|&c| matches!(c, b'/' | b'\\' | b'='))
        .map_or(0, |i| i + 1);
    let w = &w[from..];
    match w.len().checked_sub(4) {
        Some(cut) if w[cut..].eq_ignore_ascii_case(b".exe") => &w[..cut],
        _ => w,
    }
}

/// Whether a word is an environment assignment before a command
/// (`PGPASSWORD=... psql`, `LANG=C`): a name, `=`, not a path's.
fn is_assignment(w: &[u8]) -> bool {
    memchr::memchr(b'=', w).is_some_and(|eq| {
        eq > 0
            && w[..eq]
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
            && !w[..eq].eq_ignore_ascii_case(b"command")
    })
}

/// Reads every command of `b[from..to]` (each starts at `from` or after a
/// separator) whose name [`is_command`]; `depth` counts the
/// quoted commands entered.
fn read_commands(b: &[u8], from: usize, to: usize, depth: u32, found: &mut Found<'_>) {
    if depth == 0 && found.separators && starts_with_product(b) {
        // A User-Agent (`Mozilla/5.0 (X11; Linux x86_64) ...`), whose `;`s
        // separate no commands: telemetry is full of them.
        return;
    }
    // A command's words and, after an `echo` or `printf` before a `|`,
    // the words it writes, should the next command read a password from
    // them: made when a command is named (most texts name none).
    let mut bufs: Option<(Words, Words)> = None;
    let mut at = from;
    while at < to {
        let end = if names_command(b, at, to) {
            let (words, echoed) = bufs.get_or_insert((Words::EMPTY, Words::EMPTY));
            let end = words_of(b, at, to, words);
            let piped = end < to && b[end] == b'|' && b.get(end + 1) != Some(&b'|');
            // A here-string is the command's input, in place of what is
            // piped into it.
            let here = take_here_string(b, to, words);
            let input: &[Word] = match &here {
                Some(w) => std::slice::from_ref(w),
                None => echoed,
            };
            let echo = read_command(b, words, depth, input, found);
            echoed.clear();
            if let Some(written) = echo.filter(|_| piped) {
                for &w in &words[written] {
                    echoed.push(w);
                }
            }
            end
        } else {
            if let Some(bufs) = bufs.as_mut() {
                bufs.1.clear();
            }
            next_separator(&b[..to], at, found)
        };
        at = end + 1;
        // `&&`, `||`: one separator.
        while at < to && is_separator(b, at) {
            at += 1;
        }
    }
}

/// Takes a here-string out of `words` (a command's, in `b[..to]`) and
/// returns the word it gives the command as its input: `<<< pw`, `<<<pw`,
/// `<<<"two words"`, `<<< 'two words'` (bash's, zsh's and ksh's form of
/// an `echo` piped into the command).
fn take_here_string(b: &[u8], to: usize, words: &mut Words) -> Option<Word> {
    let i = words.iter().position(|w| {
        b[w.start..w.end].starts_with(b"<<<")
            && (w.start == 0 || !matches!(b[w.start - 1], b'"' | b'\''))
    })?;
    let w = words[i];
    let (input, taken) = if w.end - w.start == 3 {
        match words.get(i + 1) {
            Some(&next) => (Some(next), 2),
            None => (None, 1),
        }
    } else if matches!(b[w.start + 3], b'"' | b'\'') {
        // Glued to a quote: to the closing one, over the words that
        // split the quoted text.
        let open = w.start + 3;
        let close = memchr::memchr(b[open], &b[open + 1..to]).map_or(to, |k| open + 1 + k);
        let inside = words[i + 1..]
            .iter()
            .take_while(|x| x.start < close)
            .count();
        let input = Word {
            start: open + 1,
            end: close,
        };
        (Some(input), 1 + inside)
    } else {
        let input = Word {
            start: w.start + 3,
            end: w.end,
        };
        (Some(input), 1)
    };
    words.remove(i..i + taken);
    input
}

/// Where the first separator of `b` at or after `from` is
/// ([`is_separator`]), or the end of `b`; each kind is looked for only
/// where `found` says the text may hold one.
fn next_separator(b: &[u8], from: usize, found: &Found<'_>) -> usize {
    let end = if found.separators {
        memchr::memchr3(b';', b'|', b'\n', &b[from..]).map_or(b.len(), |k| from + k)
    } else {
        b.len()
    };
    if !found.ampersands {
        return end;
    }
    memchr::memchr_iter(b'&', &b[from..end])
        .map(|k| from + k)
        .find(|&i| is_separator(b, i))
        .unwrap_or(end)
}

/// Whether the first element of an argument list, `first`, is a command
/// that is read ([`is_command`], a path's last part too), not one of SQL's
/// statements. (Asked of every array's first string: a command's name and
/// `.exe` are in the last 16 bytes, and only those are read.)
pub(super) fn names_listed_command(first: &[u8]) -> bool {
    let name = command_name(&first[first.len().saturating_sub(16)..]);
    is_command(name) && !is_sql(name)
}

/// Whether `name` is one of the SQL statements read (`ALTER`, `CREATE`,
/// `GRANT`), in any letter case.
fn is_sql(name: &[u8]) -> bool {
    [&b"alter"[..], b"create", b"grant"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

/// Whether `b` starts with a product token: a name, `/` and a digit
/// (`Mozilla/5.0`, `okhttp/4.12.0`).
fn starts_with_product(b: &[u8]) -> bool {
    let name = b
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        .count();
    name > 0 && b.get(name) == Some(&b'/') && b.get(name + 1).is_some_and(u8::is_ascii_digit)
}

/// The most assignments before a command's name that are looked past.
const ASSIGNMENTS_MAX: usize = 4;

/// Whether the command at `from` of `b[..to]` [`is_command`],
/// after at most [`ASSIGNMENTS_MAX`] assignments: the test made at each
/// command before its words are read.
fn names_command(b: &[u8], from: usize, to: usize) -> bool {
    let mut at = from;
    for _ in 0..=ASSIGNMENTS_MAX {
        while at < to && is_blank(b[at]) {
            at += 1;
        }
        let start = at;
        while at < to && !b[at].is_ascii_whitespace() && !is_separator(b, at) {
            at += 1;
        }
        let word = &b[start..at];
        if word.is_empty() {
            return false;
        }
        if !is_assignment(word) {
            return is_command(command_name(word));
        }
    }
    false
}

/// Whether `name` is a command that is read, in any letter case: one of
/// [`RUNNERS`] and [`SHELLS`], or one whose arguments [`read_command`]
/// reads. (Matched on the lowercased name: most texts' first word is
/// turned away by its length or first bytes.)
#[inline(always)]
fn is_command(name: &[u8]) -> bool {
    let mut lower = [0u8; 11];
    if name.len() < 2 || name.len() > lower.len() {
        return false;
    }
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    matches!(
        &*lower,
        b"sudo"
            | b"doas"
            | b"env"
            | b"nohup"
            | b"time"
            | b"exec"
            | b"nice"
            | b"runuser"
            | b"sh"
            | b"bash"
            | b"zsh"
            | b"dash"
            | b"ksh"
            | b"cmd"
            | b"powershell"
            | b"pwsh"
            | b"net"
            | b"net1"
            | b"htpasswd"
            | b"rabbitmqctl"
            | b"mysqladmin"
            | b"aws"
            | b"git"
            | b"npm"
            | b"yarn"
            | b"pnpm"
            | b"gcloud"
            | b"echo"
            | b"printf"
            | b"passwd"
            | b"docker"
            | b"podman"
            | b"smbpasswd"
            | b"chpasswd"
            | b"cryptsetup"
            | b"openssl"
            | b"alter"
            | b"create"
            | b"grant"
    )
}

/// The commands that run the command after their options: whose
/// arguments are read as a command's.
const RUNNERS: &[&[u8]] = &[
    b"sudo", b"doas", b"env", b"nohup", b"time", b"exec", b"nice", b"runuser",
];

/// The shells, whose `-c` (`/c`, `-Command`) takes a command as one quoted
/// argument.
const SHELLS: &[&[u8]] = &[
    b"sh",
    b"bash",
    b"zsh",
    b"dash",
    b"ksh",
    b"cmd",
    b"powershell",
    b"pwsh",
];

/// Reads the command `words` (of `b`); `echoed` holds the words of an
/// `echo` piped into it (none when there is no such `echo`). Returns
/// which of `words` `echo` (or `printf`) writes when it is one.
fn read_command(
    b: &[u8],
    words: &[Word],
    depth: u32,
    echoed: &[Word],
    found: &mut Found<'_>,
) -> Option<std::ops::Range<usize>> {
    let text = |w: &Word| &b[w.start..w.end];
    // Past assignments and commands that run another.
    let mut k = 0;
    let name = loop {
        let w = words.get(k)?;
        let word = text(w);
        if is_assignment(word) {
            k += 1;
            continue;
        }
        let name = command_name(word);
        if RUNNERS.contains(&name) {
            k += 1;
            // Its options, and the values of those that take one (`sudo
            // -u ann`, `nice -n 10`).
            while let Some(w) = words.get(k) {
                let o = text(w);
                if !o.starts_with(b"-") {
                    break;
                }
                k += 1 + usize::from(matches!(o, b"-u" | b"-g" | b"-C" | b"-h" | b"-p" | b"-n"));
            }
            // An option's value past the last word.
            k = k.min(words.len());
            // `sudo -S`: reads the password that is piped into it.
            if name == b"sudo"
                && words[..k]
                    .iter()
                    .any(|w| matches!(text(w), b"-S" | b"--stdin"))
            {
                found.secrets(echoed);
            }
            continue;
        }
        break name;
    };
    let args = &words[k + 1..];
    if SHELLS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
        // `bash -c 'net user ...'`, `cmd /c net user ...`.
        let c = args.iter().position(|w| {
            let o = text(w);
            o.eq_ignore_ascii_case(b"-c")
                || o.eq_ignore_ascii_case(b"/c")
                || o.eq_ignore_ascii_case(b"/k")
                || o.eq_ignore_ascii_case(b"-command")
        })?;
        let rest = args.get(c + 1)?;
        if depth < DEPTH_MAX {
            // A quoted command, or the rest of the words.
            let end = if rest.end < b.len() && matches!(b[rest.end], b'"' | b'\'') {
                rest.end
            } else {
                args.last().map_or(rest.end, |w| w.end)
            };
            read_commands(b, rest.start, end, depth + 1, found);
        }
        return None;
    }
    let lower = |w: &Word, s: &[u8]| text(w).eq_ignore_ascii_case(s);
    // The arguments that are not options.
    let plain = || args.iter().filter(|w| !text(w).starts_with(b"-"));
    if name.eq_ignore_ascii_case(b"net") || name.eq_ignore_ascii_case(b"net1") {
        let sub = args.first()?;
        // Its arguments that are not `/` options.
        let mut plain = args[1..].iter().filter(|w| !text(w).starts_with(b"/"));
        if lower(sub, b"user") {
            if let Some(user) = plain.next() {
                found.id((user.start, user.end));
            }
            if let Some(pw) = plain.next().filter(|w| text(w) != b"*") {
                found.secret((pw.start, pw.end));
            }
        } else if lower(sub, b"use") {
            plain.find(|w| text(w).starts_with(b"\\\\"))?;
            if let Some(pw) = plain.next().filter(|w| text(w) != b"*") {
                found.secret((pw.start, pw.end));
            }
        }
        return None;
    }
    if is_sql(name) {
        // SQL: `IDENTIFIED BY tiger` (Oracle's, unquoted), `IDENTIFIED
        // WITH plugin BY ...`, `IDENTIFIED BY VALUES '...'` (a hash).
        let at = args.iter().position(|w| lower(w, b"identified"))?;
        let by = args[at + 1..]
            .iter()
            .take(3)
            .position(|w| lower(w, b"by"))?;
        let mut pw = args.get(at + 2 + by)?;
        if lower(pw, b"values") {
            pw = args.get(at + 3 + by)?;
        }
        found.secret((pw.start, pw.end));
        return None;
    }
    match name {
        b"htpasswd" => {
            // Whether one of its short options is `flag` (`-b`, `-nb`).
            let has = |flag: u8| {
                args.iter()
                    .map(text)
                    .any(|t| t.len() > 1 && t[0] == b'-' && t[1] != b'-' && t[1..].contains(&flag))
            };
            // The file, then the user; no file with `-n`.
            let mut plain = plain().skip(usize::from(!has(b'n')));
            if let Some(user) = plain.next() {
                found.id((user.start, user.end));
            }
            if has(b'b') {
                if let Some(pw) = plain.next() {
                    found.secret((pw.start, pw.end));
                }
            } else if has(b'i') {
                // Reads the password that is piped into it.
                found.secrets(echoed);
            }
        }
        b"rabbitmqctl" => {
            let mut plain = plain();
            let sub = plain.next()?;
            if [&b"add_user"[..], b"change_password", b"authenticate_user"]
                .iter()
                .any(|s| text(sub) == *s)
            {
                if let Some(user) = plain.next() {
                    found.id((user.start, user.end));
                }
                if let Some(pw) = plain.next() {
                    found.secret((pw.start, pw.end));
                }
            }
        }
        b"mysqladmin" => {
            let mut plain = plain();
            if plain.any(|w| text(w) == b"password") {
                if let Some(pw) = plain.next() {
                    found.secret((pw.start, pw.end));
                }
            }
        }
        b"aws" | b"git" | b"npm" | b"yarn" | b"pnpm" | b"gcloud" => {
            // `configure set NAME VALUE`, `config [set] NAME VALUE`.
            let mut plain = plain().skip_while(|w| !matches!(text(w), b"config" | b"configure"));
            plain.next()?;
            let mut name = plain.next()?;
            if matches!(text(name), b"set") {
                name = plain.next()?;
            }
            let n = text(name);
            // The name's last part: `user.password`, `//registry/:_authToken`.
            let last = n
                .iter()
                .rposition(|&c| matches!(c, b'.' | b':' | b'/'))
                .map_or(n, |i| &n[i + 1..]);
            if super::is_credential_name(last) {
                if let Some(value) = plain.next() {
                    found.secret((value.start, value.end));
                }
            }
        }
        b"echo" | b"printf" => {
            let flags = args
                .iter()
                .take_while(|w| matches!(text(w), b"-n" | b"-e" | b"-ne" | b"-en"))
                .count();
            let from = k + 1 + flags;
            return (from < words.len()).then_some(from..words.len());
        }
        b"passwd" | b"docker" | b"podman" | b"smbpasswd" | b"cryptsetup" | b"openssl" => {
            // Whether the command reads a password from its input.
            let stdin = match name {
                // When its input is not a terminal.
                b"cryptsetup" => true,
                // `-passin stdin`, `-passout stdin`, `-pass stdin`.
                b"openssl" => args.windows(2).any(|p| {
                    matches!(text(&p[0]), b"-passin" | b"-passout" | b"-pass")
                        && text(&p[1]) == b"stdin"
                }),
                _ => args
                    .iter()
                    .any(|w| matches!(text(w), b"--stdin" | b"--password-stdin" | b"-s")),
            };
            if stdin {
                found.secrets(echoed);
            }
        }
        b"chpasswd" => {
            // `user:password` lines.
            for w in echoed {
                let t = text(w);
                if let Some(colon) = memchr::memchr(b':', t) {
                    found.id((w.start, w.start + colon));
                    found.secret((w.start + colon + 1, w.end));
                }
            }
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};

    #[test]
    fn arguments_of_commands() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("net user ann hunter2 /add", &["hunter2"], &["ann"]),
            ("C:\\Windows\\system32\\NET.EXE USER ann hunter2 /ADD /domain", &["hunter2"], &["ann"]),
            ("net1 user ann * /add", &[], &["ann"]),
            ("net user ann /delete", &[], &["ann"]),
            // `/user:` is an option's (`options`).
            ("net use Z: \\\\srv\\share hunter2 /user:corp\\ann", &["hunter2"], &[]),
            ("cmd.exe /c net user ann hunter2 /add", &["hunter2"], &["ann"]),
            ("htpasswd -b /etc/nginx/.htpasswd ann hunter2", &["hunter2"], &["ann"]),
            ("htpasswd -nb ann hunter2", &["hunter2"], &["ann"]),
            ("htpasswd -c /etc/htpasswd ann", &[], &["ann"]),
            ("rabbitmqctl add_user ann 'pw two'", &["pw two"], &["ann"]),
            ("rabbitmqctl list_users", &[], &[]),
            ("mysqladmin -u root password hunter2", &["hunter2"], &[]),
            ("aws configure set aws_secret_access_key wJalrXUtnFEMI", &["wJalrXUtnFEMI"], &[]),
            ("git config --global user.password hunter2", &["hunter2"], &[]),
            ("git config --global user.name ann", &[], &[]),
            // A `&` inside a word ends no command.
            ("htpasswd -b f ann p&w=1&x", &["p&w=1&x"], &["ann"]),
            ("echo hunter2 | sudo -S apt-get update", &["hunter2"], &[]),
            ("echo -n 'hunter2' | docker login -u ann --password-stdin", &["hunter2"], &[]),
            ("echo 'ann:hunter2' | chpasswd", &["hunter2"], &["ann"]),
            ("echo hunter2 | grep x", &[], &[]),
            // Here-strings.
            ("sudo -S apt-get update <<< \"hunter 2\"", &["hunter 2"], &[]),
            ("sudo -S <<<hunter2 apt-get update", &["hunter2"], &[]),
            ("sudo -S ls <<<'hunter 2' && ls", &["hunter 2"], &[]),
            ("sudo -S ls <<<\"a;b\"", &["a;b"], &[]),
            ("passwd --stdin ann <<< hunter2", &["hunter2"], &[]),
            ("chpasswd <<< 'ann:hunter2'", &["hunter2"], &["ann"]),
            ("echo no | sudo -S ls <<< hunter2", &["hunter2"], &[]),
            ("cat <<< hunter2; grep x <<< \"$V\"", &[], &[]),
            ("sudo -S ls <<<", &[], &[]),
            ("sudo -S grep \"<<< x\" f", &[], &[]),
            ("cryptsetup luksOpen /dev/sdb1 vault <<< hunter2", &["hunter2"], &[]),
            ("echo -n hunter2 | cryptsetup open /dev/sdb1 vault", &["hunter2"], &[]),
            ("echo hunter2 | openssl rsa -in k.pem -passin stdin", &["hunter2"], &[]),
            ("echo hunter2 | openssl rsa -in k.pem -passin env:PW", &[], &[]),
            ("echo data | openssl enc -aes256 -in stdin -pass env:PW", &[], &[]),
            ("echo hunter2 || sudo -S ls", &[], &[]),
            (
                "ann : TTY=pts/0 ; PWD=/home/ann ; USER=root ; COMMAND=/usr/bin/htpasswd -b f bo hunter2",
                &["hunter2"],
                &["bo"],
            ),
            ("sudo -u www-data htpasswd -b f ann hunter2", &["hunter2"], &["ann"]),
            ("bash -c 'net user ann hunter2 /add'", &["hunter2"], &["ann"]),
            ("PGPASSWORD=x LANG=C net user ann hunter2", &["hunter2"], &["ann"]),
            ("the network user ann said hunter2", &[], &[]),
            ("deploy; net user ann hunter2 && echo ok", &["hunter2"], &["ann"]),
            // A User-Agent's `;`s separate no commands.
            ("Mozilla/5.0 (X11; net user ann hunter2)", &[], &[]),
            ("ALTER USER scott IDENTIFIED BY tiger", &["tiger"], &[]),
            ("create user app identified by \"Pw 1\" default tablespace users", &["Pw 1"], &[]),
            ("ALTER USER x IDENTIFIED WITH caching_sha2_password BY s3", &["s3"], &[]),
            ("ALTER USER x IDENTIFIED BY VALUES 'S:ABCDEF'", &["S:ABCDEF"], &[]),
            ("ALTER USER x IDENTIFIED EXTERNALLY", &[], &[]),
        ];
        for &(text, secret, ids) in cases {
            let (mut s, mut d) = (Vec::new(), Vec::new());
            let p = super::super::profile(text);
            super::find_passwords(text, p, &mut s);
            super::find_users(text, p, &mut d);
            let s: Vec<&str> = s.iter().map(|&(a, b)| &text[a..b]).collect();
            let d: Vec<&str> = d.iter().map(|&(a, b)| &text[a..b]).collect();
            assert_eq!(s, secret, "{text:?}");
            assert_eq!(d, ids, "{text:?}");
        }
        // Through the detectors.
        let text = "net user ann hunter2 /add";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2"]);
    }

    /// The runners and shells are spelled again in `is_command`'s match
    /// (one compare by length and bytes): none may be missing there.
    #[test]
    fn runners_and_shells_are_commands() {
        for name in super::RUNNERS.iter().chain(super::SHELLS) {
            assert!(super::is_command(name), "{}", String::from_utf8_lossy(name));
            assert!(super::is_command(&name.to_ascii_uppercase()));
        }
    }

    /// A command is read alike alone and among others joined by `;`,
    /// `&&`, `&` or line feeds (no `|`, whose `echo` gives the next command
    /// its words), after a runner or not, with blanks around it or not.
    #[test]
    fn commands_read_alike_alone_and_joined() {
        let commands = [
            "net user ann pw1 /add",
            "NET1 USER bo pw2",
            "net use Z: \\\\h\\s pw3",
            "htpasswd -b f cy pw4",
            "htpasswd -nb dee pw5",
            "rabbitmqctl add_user eve pw6",
            "mysqladmin -u root password pw7",
            "git config user.password pw8",
            "ALTER USER x IDENTIFIED BY pw9",
            "ls -l /tmp",
            "user=ann pw=x",
            "echo pw10",
            "sudo -u www htpasswd -b f fay pw11",
            "LANG=C net user gus pw12",
            "bash -c 'net user hal pw13'",
            "net user",
            "htpasswd",
            "sudo -S ls <<< pw14",
            "chpasswd <<<'ivy:pw15'",
            "cryptsetup open d v <<<pw16",
        ];
        let separators = ["; ", ";", " && ", "&&", " & ", "\n", "\n\n"];
        let mut next = crate::test_texts::xorshift(0xc03d_0001);
        let read = |t: &str| {
            let p = super::super::profile(t);
            let (mut s, mut d) = (Vec::new(), Vec::new());
            super::find_passwords(t, p, &mut s);
            super::find_users(t, p, &mut d);
            (s, d)
        };
        let mut any = 0;
        for _ in 0..5_000 {
            let n = 1 + (next() % 5) as usize;
            let (mut text, mut want) = (String::new(), (Vec::new(), Vec::new()));
            for i in 0..n {
                if i > 0 {
                    text.push_str(separators[(next() % separators.len() as u64) as usize]);
                }
                let c = commands[(next() % commands.len() as u64) as usize];
                let at = text.len();
                text.push_str(c);
                let (s, d) = read(c);
                let shift =
                    |v: Vec<(usize, usize)>| v.into_iter().map(move |(a, b)| (a + at, b + at));
                want.0.extend(shift(s));
                want.1.extend(shift(d));
            }
            assert_eq!(read(&text), want, "{text:?}");
            any += usize::from(!want.0.is_empty());
        }
        assert!(any > 3_000, "{any}");
    }

    /// Random texts of the words these readings look for: no panic, and
    /// every span a part of the text on character boundaries.
    #[test]
    fn random_texts_give_spans_of_the_text() {
        let pieces = [
            "net",
            "user",
            "use",
            "htpasswd",
            "-b",
            "-nb",
            "-i",
            "rabbitmqctl",
            "add_user",
            "echo",
            "sudo",
            "-S",
            "-u",
            "chpasswd",
            "passwd",
            "--stdin",
            "bash",
            "-c",
            "cmd",
            "/c",
            "git",
            "config",
            "password",
            "ALTER",
            "IDENTIFIED",
            "BY",
            "VALUES",
            "a:b",
            "x=y",
            "COMMAND=/usr/bin/htpasswd",
            "\\\\h\\s",
            "*",
            " ",
            " ",
            " ",
            "\t",
            ";",
            "|",
            "||",
            "&",
            "&&",
            "\n",
            "'",
            "\"",
            "é",
            "mysqladmin",
            "<<<",
            "<<<'",
            "<<<\"a",
            "cryptsetup",
            "openssl",
            "-passin",
            "stdin",
        ];
        let starts = [
            "net user ",
            "htpasswd -b ",
            "echo x | sudo -S ",
            "rabbitmqctl add_user ",
            "ALTER USER x IDENTIFIED BY ",
            "sudo ",
            "bash -c '",
            "a=b ",
            "",
        ];
        let texts = crate::test_texts::from_pieces(0xc03d_0002, 50_000, (1, 12), &pieces);
        let mut any = 0;
        for (i, t) in texts.iter().enumerate() {
            let t = &format!("{}{t}", starts[i % starts.len()]);
            let p = super::super::profile(t);
            let (mut s, mut d) = (Vec::new(), Vec::new());
            super::find_passwords(t, p, &mut s);
            super::find_users(t, p, &mut d);
            for &(a, b) in s.iter().chain(&d) {
                assert!(a < b && b <= t.len(), "{t:?}: {a}..{b}");
                assert!(t.is_char_boundary(a) && t.is_char_boundary(b), "{t:?}");
            }
            // One reading for both detectors gives what each reading alone
            // gives (the detectors share it).
            let (mut both_s, mut both_d) = (Vec::new(), Vec::new());
            super::find(t, p, Some(&mut both_s), Some(&mut both_d));
            assert_eq!((&both_s, &both_d), (&s, &d), "{t:?}");
            any += usize::from(!s.is_empty());
        }
        assert!(any > 1_000, "{any}");
    }

    /// Texts made of pieces of commands, quotes and separators are read in
    /// time linear in their length (each byte a bounded number of times):
    /// a long one of many commands, nested runners and shells, unclosed
    /// quotes.
    #[test]
    fn long_texts_are_read_in_bounded_time() {
        for piece in [
            "net user a b; ",
            "bash -c 'bash -c \"sudo ",
            "echo x | ",
            "a=1 b=2 c=3 d=4 e=5 ",
            "htpasswd -b '",
            "sudo -u ",
            "& ",
        ] {
            let text = piece.repeat(200_000 / piece.len());
            let p = super::super::profile(&text);
            let (mut s, mut d) = (Vec::new(), Vec::new());
            super::find_passwords(&text, p, &mut s);
            super::find_users(&text, p, &mut d);
            assert!(s.len() <= text.len() && d.len() <= text.len());
        }
    }
}
