//! Value detectors: find personal data and credentials inside decoded text.
//!
//! Each detector finds candidate substrings with a cheap scan or a regular
//! expression and validates them exactly (octet ranges, `Ipv6Addr` parsing,
//! Luhn plus card-brand prefixes, digit counts). Only the matched substring is
//! rewritten. Emails are also found percent-encoded (`alice%40example.com`,
//! `%2540`), as they appear in URL query strings, and with their `@` written
//! as an HTML character reference (`alice&#64;example.com`, `&#x40;`,
//! `&commat;`), as in HTML-escaped text.

use std::sync::OnceLock;

use redactor_scan::bytes::{digit_mask, eq_mask, mask_bits, word};
use redactor_scan::census;
use redactor_scan::pairs::PairSet;
use regex::Regex;

use crate::actions::Action;
use crate::json::Value;

mod bindings;
mod commands;
mod display_names;
mod echoes;
mod multipart;
mod options;
mod sql;
mod xml;

/// The kinds of detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetectorKind {
    /// API keys, tokens, private keys, bearer tokens and basic
    /// credentials, URL credentials, values of credential-named parameters
    /// (also as SQL's columns and XML's elements in text), database users'
    /// passwords in SQL.
    Secret,
    /// Email addresses, also with an encoded `@` (`%40`, `&#64;`).
    Email,
    /// Payment card numbers: 13-19 digits, Luhn-valid, known brand prefix
    /// (not inside a UUID, alone or within text).
    CreditCard,
    /// IPv6 addresses.
    Ipv6,
    /// IPv4 addresses, dotted, with dashes inside hostnames, or reversed in
    /// reverse DNS names.
    Ipv4,
    /// Phone numbers: international (`+` and 8-15 digits, not a UTC offset
    /// and a year after a clock time), and North
    /// American ones in their national form (`415-555-0132`,
    /// `(415) 555-0132`).
    Phone,
    /// MAC addresses (a device's hardware address).
    Mac,
    /// US social security numbers in their dashed form (`123-45-6789`).
    Ssn,
    /// International bank account numbers (IBAN): a country's length,
    /// valid check digits, written whole or in groups of four.
    Iban,
    /// The values of parameters named like personal data in `name=value`
    /// text: URL queries and fragments, `key=value` logs
    /// (`?first_name=Ann&phone=4155550132`); also as SQL's columns and
    /// XML's elements in text; the values database servers and ORMs log
    /// bound to a statement (`parameters: $1 = 'Ann'`); and the display
    /// names beside email addresses (`Author: Ann Lee <ann@example.com>`).
    PersonalParam,
    /// The values of parameters named like the identifier of a person, a
    /// device or an account in `name=value` text (`user_id=u-42`,
    /// `?distinct_id=...`; also as SQL's columns and XML's elements, SAML's
    /// `NameID` among them), as the vendor presets' identity fields hold
    /// them; and the login names in text that access logs (the combined
    /// log format's user), home directory paths (`/Users/ann/...`) and
    /// SSH, PAM and sudo messages hold: by default tokenized with the same
    /// key, so that an id in a log message gets the token its field gets.
    IdParam,
    /// The query (and fragment) of the target of an HTTP request line in
    /// text (`GET /search?q=ann HTTP/1.1`, as access logs write nginx's
    /// `$request`): what a person asked for, whatever its parameters are
    /// named. First in order, so that the whole query goes.
    RequestQuery,
    /// The User-Agent of an access-log line in the combined log format of
    /// Apache and nginx (`"GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 ..."`),
    /// and the quoted value of a User-Agent parameter in `name=value` text
    /// (`ua="Mozilla/5.0 ..."`, `user_agent='...'`): by default reduced as the
    /// presets reduce User-Agent fields.
    UserAgent,
}

impl DetectorKind {
    /// Every kind, in matching priority order.
    pub const ALL: [DetectorKind; 13] = [
        DetectorKind::RequestQuery,
        DetectorKind::UserAgent,
        DetectorKind::Secret,
        DetectorKind::Email,
        DetectorKind::Iban,
        DetectorKind::CreditCard,
        DetectorKind::Ipv6,
        DetectorKind::Ipv4,
        DetectorKind::Phone,
        DetectorKind::Mac,
        DetectorKind::Ssn,
        DetectorKind::PersonalParam,
        DetectorKind::IdParam,
    ];

    /// Policy-file name.
    pub fn name(self) -> &'static str {
        match self {
            DetectorKind::Secret => "secret",
            DetectorKind::Email => "email",
            DetectorKind::CreditCard => "credit_card",
            DetectorKind::Ipv6 => "ipv6",
            DetectorKind::Ipv4 => "ipv4",
            DetectorKind::Phone => "phone",
            DetectorKind::Mac => "mac",
            DetectorKind::Ssn => "ssn",
            DetectorKind::Iban => "iban",
            DetectorKind::PersonalParam => "personal_param",
            DetectorKind::IdParam => "id_param",
            DetectorKind::RequestQuery => "request_query",
            DetectorKind::UserAgent => "user_agent",
        }
    }

    /// Parses a policy-file name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A configured detector.
#[derive(Debug, Clone)]
pub struct Detector {
    /// What it finds.
    pub kind: DetectorKind,
    /// What it does to each match.
    pub action: Action,
}

/// One match in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Byte range start.
    pub start: usize,
    /// Byte range end.
    pub end: usize,
    /// Index of the detector in [`Detectors::list`].
    pub detector: usize,
}

/// The enabled detectors, in priority order.
#[derive(Debug, Clone, Default)]
pub struct Detectors {
    /// Enabled detectors; earlier ones win overlaps.
    pub list: Vec<Detector>,
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("built-in detector pattern compiles"))
}

/// Literal prefixes of every credential shape in [`secret_re`]: the regex
/// runs only on text that contains one of them.
const SECRET_PREFIXES: &[&str] = &[
    "sk-",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "A3T",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xox",
    "xapp-",
    "hooks.slack.com",
    "sk_",
    "rk_",
    "AIza",
    "npm_",
    "hf_",
    "SG.",
    "SK",
    "eyJ",
    "-----BEGIN",
];

#[cfg(test)]
fn secret_prefilter() -> &'static aho_corasick::AhoCorasick {
    static R: OnceLock<aho_corasick::AhoCorasick> = OnceLock::new();
    R.get_or_init(|| {
        // Leftmost-first enables the SIMD (Teddy) search; whether any
        // prefix occurs is the same under every match kind. `bearer` and
        // `basic`, in any case, have their own check ([`has_scheme`]).
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(SECRET_PREFIXES)
            .expect("built-in prefixes compile")
    })
}

/// Whether `b` holds `bearer` or `basic` in any letter case, as
/// `(?i:bearer)` and `(?i:basic)` in [`secret_re`] match them (none of
/// their letters has a non-ASCII case variant).
#[cfg(test)]
fn has_scheme(b: &[u8]) -> bool {
    let at = |w: &[u8]| b.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
    at(b"bearer") || at(b"basic")
}

/// The HTTP authentication schemes whose credentials [`secret_re`]
/// finds after them (and whitespace), in any letter case.
const AUTH_SCHEMES: [&[u8]; 2] = [b"bearer", b"basic"];

/// The shortest text [`secret_re`] matches: `basic `, and eight
/// characters of base64.
const SECRET_MIN_LEN: usize = 14;

/// The first two bytes of every [`SECRET_PREFIXES`] entry and of `bearer`
/// and `basic` in every letter case: where an exact comparison is worth
/// making. Most strings long enough for a secret (URLs, messages) hold
/// none, or a few.
static SECRET_PAIRS: PairSet = {
    const N: usize = SECRET_PREFIXES.len() + 4 * AUTH_SCHEMES.len();
    const LIST: [[u8; 2]; N] = {
        let mut t = [[0u8; 2]; N];
        let mut i = 0;
        while i < SECRET_PREFIXES.len() {
            let p = SECRET_PREFIXES[i].as_bytes();
            t[i] = [p[0], p[1]];
            i += 1;
        }
        let mut k = 0;
        while k < AUTH_SCHEMES.len() {
            let (a, b) = (AUTH_SCHEMES[k][0], AUTH_SCHEMES[k][1]);
            let (ua, ub) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
            let at = SECRET_PREFIXES.len() + 4 * k;
            t[at] = [a, b];
            t[at + 1] = [a, ub];
            t[at + 2] = [ua, b];
            t[at + 3] = [ua, ub];
            k += 1;
        }
        t
    };
    PairSet::new(&LIST)
};

/// Whether one of [`SECRET_PREFIXES`], or one of [`AUTH_SCHEMES`] in any
/// letter case, starts at byte `i` of `b`.
#[inline]
fn secret_prefix_at(b: &[u8], i: usize) -> bool {
    let rest = &b[i..];
    SECRET_PREFIXES
        .iter()
        .any(|p| rest.starts_with(p.as_bytes()))
        || AUTH_SCHEMES
            .iter()
            .any(|s| starts_with_ignore_case(rest, s))
}

/// Whether `b` starts with `prefix`, ASCII letters in either case.
fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(prefix))
}

/// Whether one of [`SECRET_PREFIXES`] or [`AUTH_SCHEMES`] (in any letter
/// case) occurs in `b`: the exact test at each of [`SECRET_PAIRS`] (the
/// scanner crate's SIMD search finds them). The pairs are rare enough (a
/// few per text that has one at all) that a comparison per prefix there
/// costs less than starting a multi-pattern search ([`secret_prefilter`]
/// and [`has_scheme`], the reference it is tested against, took about 700
/// instructions per call on texts this short). The byte-pair table that
/// the search replaced, read at every byte, took about two thirds of this
/// detector's instructions.
fn has_secret_prefix(b: &[u8]) -> bool {
    SECRET_PAIRS.any(b, |i| secret_prefix_at(b, i))
}

/// Whether [`secret_re`] can match `text` at all: one of its literal
/// prefixes occurs (the userinfo form is searched separately).
fn may_hold_secret(text: &str) -> bool {
    text.len() >= SECRET_MIN_LEN && has_secret_prefix(text.as_bytes())
}

/// Credential shapes. Their word characters are ASCII (`(?-u:\w)`), as
/// the vendors define them (and as `\w` means in the RE2 syntax the shapes
/// are commonly published in): a Unicode `\w` repeated 82 times makes the
/// pattern too large for the lazy DFA, and every search then fell back to
/// a backtracker some 15 times slower.
fn secret_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        concat!(
            r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{58,74}T3BlbkFJ[A-Za-z0-9_-]{58,74}",
            r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
            r"|sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA",
            r"|(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
            r"|(?-u:\b)gh[pousr]_[A-Za-z0-9]{36}(?-u:\b)",
            r"|(?-u:\b)github_pat_(?-u:\w){82}",
            r"|(?-u:\b)glpat-(?-u:[\w-]){20}",
            r"|(?-u:\b)xox[baprseo]-[A-Za-z0-9-]{10,}",
            r"|(?-u:\b)xapp-\d-[A-Za-z0-9-]{10,}",
            r"|hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
            r"|(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}(?-u:\b)",
            r"|(?-u:\b)AIza(?-u:[\w-]){35}",
            r"|(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)",
            r"|(?-u:\b)hf_[A-Za-z]{34}(?-u:\b)",
            r"|(?-u:\b)SG\.[A-Za-z0-9=_.-]{66}",
            r"|(?-u:\b)SK[0-9a-fA-F]{32}(?-u:\b)",
            r"|(?-u:\b)eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
            r"|-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
            r"|(?i:bearer)\s+(?P<bearer>[A-Za-z0-9\-._~+/]{8,}=*)",
            // HTTP basic credentials: `user:password` in base64 (RFC 7617).
            r"|(?i:basic)\s+(?P<basic>[A-Za-z0-9+/]{8,}={0,2})",
        ),
    )
}

/// The secret pattern's matches in `text`: the whole match, or for the
/// two authentication schemes the credential's own span, when it is one:
/// a bearer token that holds a digit ("Bearer" is an English word too),
/// base64 after `basic` that decodes to a `:` somewhere (`user:password`;
/// "Basic" is a word too).
///
/// Matches are found without captures, by the pattern's lazy DFA: asking
/// for the `bearer` group would run a backtracker whose visited set (the
/// pattern's thousands of states times the text's length) is cleared for
/// every search. The group is found from the match instead: only the
/// scheme alternatives start with "bearer" or "basic" and whitespace, and
/// their group is what follows that whitespace, to the match's end.
fn find_secrets(text: &str, out: &mut Vec<(usize, usize)>) {
    let re = secret_re();
    let mut at = 0;
    while let Some(m) = re.find_at(text, at) {
        match scheme_credential(&text[m.range()]) {
            Some((scheme, offset)) => {
                let (s, e) = (m.start() + offset, m.end());
                if is_credential(scheme, &text.as_bytes()[s..e]) {
                    out.push((s, e));
                }
            }
            None => out.push((m.start(), m.end())),
        }
        // No alternative matches the empty string; step past one anyway
        // rather than loop.
        at = if m.end() > m.start() {
            m.end()
        } else {
            match text[m.end()..].chars().next() {
                Some(c) => m.end() + c.len_utf8(),
                None => break,
            }
        };
    }
}

/// For a match of one of the secret pattern's scheme alternatives (the
/// scheme's name, whitespace, the credential): the scheme's index in
/// [`AUTH_SCHEMES`] and where the credential starts. `None` for a match of
/// any other alternative (none starts with a `b` or a `B`).
fn scheme_credential(matched: &str) -> Option<(usize, usize)> {
    let scheme = AUTH_SCHEMES
        .iter()
        .position(|s| starts_with_ignore_case(matched.as_bytes(), s))?;
    let rest = &matched[AUTH_SCHEMES[scheme].len()..];
    let token = rest.trim_start_matches(char::is_whitespace);
    (token.len() < rest.len()).then(|| (scheme, matched.len() - token.len()))
}

/// Whether `token`, after the scheme [`AUTH_SCHEMES`]`[scheme]`, is a
/// credential rather than a word: a bearer token holds a digit; basic
/// credentials are base64 that decodes to text with a `:`.
fn is_credential(scheme: usize, token: &[u8]) -> bool {
    if scheme == 0 {
        token.iter().any(u8::is_ascii_digit)
    } else {
        base64_holds_colon(token)
    }
}

/// The value of a standard base64 character, `None` for any other byte.
fn base64_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Whether `b`, but for the `=`s it ends with (padding, whether of the
/// right length or not), is standard base64 whose decoded bytes hold a
/// `:`. Decoded four characters at a time on the stack: nothing is
/// allocated.
fn base64_holds_colon(b: &[u8]) -> bool {
    let data = &b[..b.len() - b.iter().rev().take_while(|&&c| c == b'=').count()];
    if data.len() % 4 == 1 {
        return false;
    }
    let mut colon = false;
    for chunk in data.chunks(4) {
        let mut word = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            let Some(v) = base64_value(c) else {
                return false;
            };
            word |= v << (18 - 6 * k);
        }
        // A chunk of n characters holds n - 1 whole bytes.
        let bytes = word.to_be_bytes();
        colon |= bytes[1..chunk.len()].contains(&b':');
    }
    colon
}

/// [`find_secrets`] by the pattern's captures iterator: the reference it
/// is tested against.
#[cfg(test)]
fn find_secrets_by_iter(text: &str, out: &mut Vec<(usize, usize)>) {
    use base64::Engine as _;
    let basic = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    for c in secret_re().captures_iter(text) {
        if let Some(b) = c.name("bearer") {
            if b.as_str().bytes().any(|x| x.is_ascii_digit()) {
                out.push((b.start(), b.end()));
            }
        } else if let Some(b) = c.name("basic") {
            let data = b.as_str().trim_end_matches('=');
            if basic.decode(data).is_ok_and(|d| d.contains(&b':')) {
                out.push((b.start(), b.end()));
            }
        } else if let Some(m) = c.get(0) {
            out.push((m.start(), m.end()));
        }
    }
}

/// `user:password` in `scheme://user:password@host`, after each `://`.
fn find_userinfo(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for at in crate::actions::scheme_separators(b) {
        let start = at + 3;
        let end = b[start..]
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#') || c.is_ascii_whitespace())
            .map_or(b.len(), |i| start + i);
        let auth = &text[start..end];
        let Some(atpos) = auth.rfind('@') else {
            continue;
        };
        let info = &auth[..atpos];
        if let Some(colon) = info.find(':') {
            if colon > 0 && !info.is_empty() {
                out.push((start, start + atpos));
            }
        }
    }
}

/// The names whose values are credentials, in lowercase with `_` for `-`.
/// A parameter's name is one of them when it equals one, or ends with `_`
/// or `-` and one (`access_token`, `client_secret`, `X-Amz-Signature`,
/// `x-api-key`, `db_password`), or with one in camel case
/// (`keyStorePassword`, `clientSecret`). A password's hash is one too
/// (`password_hash`, Rails' `password_digest`): a weak password is found
/// from it. So are a SAML response and artifact (`SAMLResponse`,
/// `SAMLart`), posted or redirected to a service provider: a signed
/// statement of who a person is, good for a session until it expires.
/// So are the names of passwords that tools read from the environment or
/// take as options without a separator in them: PostgreSQL's clients'
/// `PGPASSWORD`, sshpass' `SSHPASS`, Java's `keytool -storepass`,
/// `-keypass` and their `src` and `dest` forms. So are a payment card's
/// security codes (`cvv`, `cvc`, `card_cvc`, `securityCode`, the names
/// the credentials preset's card-codes rule selects in fields), which
/// PCI DSS forbids keeping after a payment is authorized.
const CREDENTIAL_NAMES: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"passphrase",
    b"password_hash",
    b"passwordhash",
    b"password_digest",
    b"passworddigest",
    b"secret",
    b"token",
    b"api_key",
    b"apikey",
    b"access_key",
    b"accesskey",
    b"secret_key",
    b"secretkey",
    b"private_key",
    b"privatekey",
    b"signature",
    b"sig",
    b"credential",
    b"auth",
    b"authorization",
    b"sessionid",
    b"jsessionid",
    b"phpsessid",
    b"cookie",
    b"samlresponse",
    b"samlart",
    b"sshpass",
    b"pgpassword",
    b"storepass",
    b"keypass",
    b"srcstorepass",
    b"deststorepass",
    b"srckeypass",
    b"destkeypass",
    b"cvv",
    b"cvv2",
    b"cvc",
    b"cvc2",
    b"cardcvv",
    b"cardcvc",
    b"securitycode",
    b"security_code",
];

/// The bytes of a parameter's name.
fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Where the name that ends at `end` of `b` starts: the run of
/// [`is_name_byte`]s before it.
fn start_of_name(b: &[u8], end: usize) -> usize {
    b[..end]
        .iter()
        .rposition(|&c| !is_name_byte(c))
        .map_or(0, |i| i + 1)
}

/// Whether `name` ends with `word` (lowercase, `_` for `-`) in any letter
/// case, with `-` read as `_`.
fn ends_with_name(name: &[u8], word: &[u8]) -> bool {
    name.len() >= word.len()
        && name[name.len() - word.len()..]
            .iter()
            .zip(word)
            .all(|(&x, &y)| {
                let x = if x == b'-' {
                    b'_'
                } else {
                    x.to_ascii_lowercase()
                };
                x == y
            })
}

/// Where a name that starts at `start` and ends at `end` of `b` starts
/// past a `%XX` escape glued before it (`%26token` in an encoded query
/// holds `token`).
fn after_escape(b: &[u8], start: usize, end: usize) -> usize {
    let escaped = start > 0
        && b[start - 1] == b'%'
        && end - start >= 2
        && b[start..start + 2].iter().all(u8::is_ascii_hexdigit);
    start + if escaped { 2 } else { 0 }
}

/// The most bracketed parts of a nested form parameter's name that are
/// read (`user[address][city]` has two).
const NESTED_MAX: usize = 8;

/// The name of a nested form parameter that ends at `end` of `b`, as
/// Rails, PHP and Stripe's API name them (`user[password]`,
/// `card[cvc]`, `user[address][city]`; percent-encoded `user%5Bpassword%5D`):
/// where the parameter starts (its first name, one or more bytes, past a
/// `%XX` escape glued before it), and where the name in its last brackets
/// starts and ends. `None` when `b[..end]` does not end with such a name.
fn nested_name(b: &[u8], end: usize) -> Option<(usize, usize, usize)> {
    // Where the brackets that close at `e` open, and what they hold.
    let group = |e: usize| -> Option<(usize, usize, usize)> {
        let (inner_end, encoded) = if e >= 1 && b[e - 1] == b']' {
            (e - 1, false)
        } else if e >= 3 && escape_at(&b[e - 3..], b"5d") {
            (e - 3, true)
        } else {
            return None;
        };
        let start = start_of_name(b, inner_end);
        if !encoded {
            return (start >= 1 && b[start - 1] == b'[').then_some((start - 1, start, inner_end));
        }
        // `%5Bname`: the name's run of bytes takes in the escape's `5B`.
        let opened = start >= 1 && inner_end - start >= 2 && escape_at(&b[start - 1..], b"5b");
        opened.then_some((start - 1, start + 2, inner_end))
    };
    let (mut open, inner_start, inner_end) = group(end)?;
    for _ in 1..NESTED_MAX {
        match group(open) {
            Some((o, _, _)) => open = o,
            None => break,
        }
    }
    let outer = after_escape(b, start_of_name(b, open), open);
    (outer < open).then_some((outer, inner_start, inner_end))
}

/// Credential names that count only as the end of a longer name, after a
/// `_` or `-` or in camel case (`DB_PASS`, `smtp-pass`, `mailPass`, as
/// `.env` files and containers' environments name them): alone, `pass`
/// is as often a count or a verdict (`pass=12`), and `bypass` is none.
const CREDENTIAL_ENDINGS: &[&[u8]] = &[b"pass"];

/// Whether `name` is a credential's name (see [`CREDENTIAL_NAMES`]): one
/// of them, or one after a `_` or `-` or in camel case, at a capital letter
/// after a lowercase one (`keyStorePassword`, `clientSecret`,
/// `awsSecretKey`); or one of [`CREDENTIAL_ENDINGS`] so.
fn is_credential_name(name: &[u8]) -> bool {
    const LAST: LastPairs = LastPairs::of(&[CREDENTIAL_NAMES, CREDENTIAL_ENDINGS]);
    if name.len() < 2 || !LAST.has(name[name.len() - 2], name[name.len() - 1]) {
        return false;
    }
    let ends = |n: &[u8], alone: bool| {
        ends_with_name(name, n) && {
            let cut = name.len() - n.len();
            (alone && cut == 0)
                || (cut > 0
                    && (matches!(name[cut - 1], b'_' | b'-')
                        || (name[cut].is_ascii_uppercase() && name[cut - 1].is_ascii_lowercase())))
        }
    };
    CREDENTIAL_NAMES.iter().any(|n| ends(n, true))
        || CREDENTIAL_ENDINGS.iter().any(|n| ends(n, false))
}

/// The names whose values are personal data, in lowercase without
/// separators: contact data, a person's names, dates of birth, identity,
/// postal and bank data, the city, coordinates, a device's hardware and
/// advertising ids and a vehicle's plate, as the personal preset names
/// them in fields. A parameter's name is one of them as
/// [`is_personal_name`] reads it.
const PERSONAL_NAMES: &[&[u8]] = &[
    b"email",
    b"emailaddress",
    b"phone",
    b"phonenumber",
    b"tel",
    b"telephone",
    b"mobilenumber",
    b"cellphone",
    b"firstname",
    b"lastname",
    b"fullname",
    b"middlename",
    b"displayname",
    b"surname",
    b"givenname",
    b"familyname",
    b"username",
    b"dob",
    b"dateofbirth",
    b"birthdate",
    b"birthday",
    b"ssn",
    b"nationalid",
    b"passport",
    b"passportnumber",
    b"address",
    b"address1",
    b"address2",
    b"street",
    b"streetaddress",
    b"zip",
    b"zipcode",
    b"postcode",
    b"postalcode",
    b"iban",
    b"cardnumber",
    b"accountnumber",
    b"bankaccount",
    b"routingnumber",
    b"nickname",
    b"maidenname",
    b"legalname",
    b"preferredname",
    b"taxid",
    b"driverslicense",
    b"driverlicense",
    b"city",
    b"town",
    b"imei",
    b"idfa",
    b"advertisingid",
    b"licenseplate",
    b"lat",
    b"lng",
    b"lon",
    b"latitude",
    b"longitude",
];

/// The names whose values identify a person, a device or an account, in
/// lowercase without separators: those of the identity and group-id fields
/// that the vendor presets tokenize (`user_id`, `distinct_id`,
/// `anonymousId`, `device_id`, `org_id`, `account_id`, ...) and the
/// personal preset's customer ids (`customer_id`, `member_id`, ...), so
/// that an id in text is handled as its field is; and a log line's `user`
/// (PostgreSQL's `user=ann db=app`, PAM's `ruser= rhost=... user=ann`,
/// a `db_user` or `remote_user`), PAM's `logname` and the source and
/// destination user names of a CEF event (`suser=ann duser=bob`, as
/// ArcSight's Common Event Format writes its extensions), which the
/// personal preset's person-fields rule tokenizes as a field's value, and
/// SAML's `NameID` (the subject of a single sign-on assertion). A
/// parameter's name is one of them as [`is_id_name`] reads it. Not
/// `group_id`, which logs write as often for a consumer group, nor `id`,
/// `uid` (a Unix user's number) or `client_id` (an OAuth application's).
const ID_NAMES: &[&[u8]] = &[
    b"userid",
    b"distinctid",
    b"anonymousid",
    b"anonid",
    b"identifiedid",
    b"previousid",
    b"deviceid",
    b"accountid",
    b"companyid",
    b"orgid",
    b"organizationid",
    b"teamid",
    b"workspaceid",
    b"customerid",
    b"memberid",
    b"subscriberid",
    b"contactid",
    b"patientid",
    b"employeeid",
    b"visitorid",
    b"user",
    b"logname",
    b"suser",
    b"duser",
    b"nameid",
];

/// The names of the ids that analytics collection URLs carry in their
/// query, which are ids only there (after a `?` or `&`, plain or
/// percent-encoded): a user id (`uid`, also Google Analytics' and
/// Matomo's), a client id (`cid`, Google Analytics' cookie id and Matomo's
/// visitor id) and Matomo's visitor id `_id`. Elsewhere `uid` is a Unix
/// user's number (`uid=1000` in an audit log) and `cid` anything.
const QUERY_ID_NAMES: &[&[u8]] = &[b"uid", b"cid", b"_id"];

/// Whether `name` is one of [`QUERY_ID_NAMES`], in any letter case.
fn is_query_id_name(name: &[u8]) -> bool {
    QUERY_ID_NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// The superuser's login, which is no one's name: `id_param` leaves it in
/// text (`USER=root`, `session opened for user root`).
const ROOT: &[u8] = b"root";

/// Whether `name` is a personal-data name (see [`PERSONAL_NAMES`]), read
/// as [`ends_with_word`] says.
fn is_personal_name(name: &[u8]) -> bool {
    const LIST: WordList<{ PERSONAL_NAMES.len() }> = WordList::of(PERSONAL_NAMES);
    LIST.has_word(name)
}

/// Whether `name` is an identifier's name (see [`ID_NAMES`]), read as
/// [`ends_with_word`] says: `user_id`, `actorUserId`, `X-User-Id`.
fn is_id_name(name: &[u8]) -> bool {
    const LIST: WordList<{ ID_NAMES.len() }> = WordList::of(ID_NAMES);
    LIST.has_word(name)
}

/// The names of a User-Agent parameter in `name=value` text, lowercase
/// without separators (`ua="Mozilla/5.0 ..."`, `user_agent=...`,
/// `http_user_agent="..."`), read as [`ends_with_word`] says.
const USER_AGENT_NAMES: &[&[u8]] = &[b"ua", b"useragent"];

/// Whether `name` is a User-Agent parameter's name (see
/// [`USER_AGENT_NAMES`]).
fn is_user_agent_name(name: &[u8]) -> bool {
    const LIST: WordList<{ USER_AGENT_NAMES.len() }> = WordList::of(USER_AGENT_NAMES);
    LIST.has_word(name)
}

/// Which pairs of bytes end one of a list's names, as [`pair_class`]
/// classes them (1 024 bits): a name that does not end with one of them is
/// none of the list's and is turned away before it is read (most words of
/// a log's `name: value` and `name=value` text).
struct LastPairs([u64; 16]);

/// A byte's class in [`LastPairs`]: each letter, in either case, its own;
/// the digits one; `_` and `-` one; every other byte one.
const fn pair_class(c: u8) -> usize {
    let c = c.to_ascii_lowercase();
    if c.is_ascii_lowercase() {
        (c - b'a' + 1) as usize
    } else if c.is_ascii_digit() {
        27
    } else if c == b'_' || c == b'-' {
        28
    } else {
        0
    }
}

impl LastPairs {
    /// The pairs that end the names of `lists` (each name two bytes or
    /// more).
    const fn of(lists: &[&[&[u8]]]) -> LastPairs {
        let mut bits = [0u64; 16];
        let mut l = 0;
        while l < lists.len() {
            let mut i = 0;
            while i < lists[l].len() {
                let name = lists[l][i];
                assert!(name.len() >= 2, "a name of one byte");
                let k = pair_class(name[name.len() - 2]) * 32 + pair_class(name[name.len() - 1]);
                bits[k / 64] |= 1 << (k % 64);
                i += 1;
            }
            l += 1;
        }
        LastPairs(bits)
    }

    /// Whether a name whose last two bytes are `a` and `b` may be one of
    /// the lists'.
    #[inline(always)]
    fn has(&self, a: u8, b: u8) -> bool {
        let k = pair_class(a) * 32 + pair_class(b);
        self.0[k / 64] >> (k % 64) & 1 != 0
    }
}

/// A list of names, in lowercase without separators, that a parameter's
/// name is read against as [`ends_with_word`] says: the names sorted, and
/// the pairs of letters that end them.
struct WordList<const N: usize> {
    sorted: [&'static [u8]; N],
    last: LastPairs,
}

impl<const N: usize> WordList<N> {
    /// The list of `names` (`N` of them).
    const fn of(names: &[&'static [u8]]) -> Self {
        WordList {
            sorted: sorted(names),
            last: LastPairs::of(&[names]),
        }
    }

    /// Whether `name` is one of the list's, as [`ends_with_word`] reads it.
    fn has_word(&self, name: &[u8]) -> bool {
        ends_with_word(name, &self.sorted, &self.last)
    }
}

/// `names` in byte order: the table [`ends_with_word`] searches.
const fn sorted<const N: usize>(names: &[&'static [u8]]) -> [&'static [u8]; N] {
    const fn less(a: &[u8], b: &[u8]) -> bool {
        let mut i = 0;
        while i < a.len() && i < b.len() {
            if a[i] != b[i] {
                return a[i] < b[i];
            }
            i += 1;
        }
        a.len() < b.len()
    }
    let mut out: [&[u8]; N] = [&[]; N];
    let mut i = 0;
    while i < N {
        out[i] = names[i];
        i += 1;
    }
    // Insertion sort, at compile time: the lists are short.
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && less(out[j], out[j - 1]) {
            let t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    out
}

/// Whether `name`, with its `_` and `-` removed, equals one of `names` or
/// ends with one that started a word in it: after a `_` or `-`
/// (`billing_address`, `contact-phone`) or at a capital letter after a
/// lowercase one (`billingAddress`, `userEmail`). Letter case aside:
/// `First_Name` and `FIRSTNAME` are `firstname`. `names` is sorted
/// ([`sorted`]): each of the name's word starts is looked up once. `last`
/// holds the pairs of letters that end one of `names`: a name that ends
/// with none of them, its `_` and `-` aside, is turned away before it is
/// read.
fn ends_with_word(name: &[u8], names: &[&[u8]], last: &LastPairs) -> bool {
    let letter = |c: &u8| *c != b'_' && *c != b'-';
    let Some(end) = name.iter().rposition(letter) else {
        return false;
    };
    let Some(before) = name[..end].iter().rposition(letter) else {
        return false;
    };
    if !last.has(name[before], name[end]) {
        return false;
    }
    // The name without separators, lowercased, and where each of its
    // bytes starts a word; names are short (a query parameter's).
    let mut flat = [0u8; 64];
    let mut starts = 0u64;
    let mut n = 0;
    for (i, &c) in name.iter().enumerate() {
        if c == b'_' || c == b'-' {
            starts |= 1 << n.min(63);
            continue;
        }
        if n == flat.len() {
            return false;
        }
        let camel = c.is_ascii_uppercase() && i > 0 && name[i - 1].is_ascii_lowercase();
        if camel {
            starts |= 1 << n;
        }
        flat[n] = c.to_ascii_lowercase();
        n += 1;
    }
    let flat = &flat[..n];
    let listed = |cut: u32| names.binary_search(&&flat[cut as usize..]).is_ok();
    // The word starts inside the name, after its first byte.
    let mut cuts = starts & !1;
    if n < 64 {
        cuts &= (1 << n) - 1;
    }
    if listed(0) {
        return true;
    }
    while cuts != 0 {
        if listed(cuts.trailing_zeros()) {
            return true;
        }
        cuts &= cuts - 1;
    }
    false
}

/// Where the run of spaces, tabs and line breaks before `end` of `b`
/// starts.
fn trim_back(b: &[u8], end: usize) -> usize {
    b[..end]
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1)
}

/// Where the run of spaces, tabs and line breaks at `start` of `b` ends.
fn trim_forward(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(b.len(), |i| start + i)
}

/// A space or a tab, around the `:` of a credential written `name: value`.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Whether `b` starts with `%` and the two hex digits `hex` (either case).
fn escape_at(b: &[u8], hex: &[u8; 2]) -> bool {
    b.len() >= 3 && b[0] == b'%' && b[1..3].eq_ignore_ascii_case(hex)
}

/// The values of credential-named parameters ([`CREDENTIAL_NAMES`]) in
/// `name=value` text: URL queries and fragments
/// (`?access_token=…&x=1`, `#id_token=…`), path parameters
/// (`;jsessionid=…`), `key=value` logs (`password=hunter2`), connection
/// strings (`User Id=bob;Password=…;`), URLs nested percent-encoded in
/// another's query (`%3Ftoken%3D…%26…`), and Ruby's `password=>hunter2`
/// and `:password => "hunter2"` (a `=>` is read as an `=`).
///
/// The name is the run of letters, digits, `_` and `-` before the `=` (or
/// `%3D`); after a `%XX` escape (`%3F`, `%26`) it starts past the escape.
/// Spaces and tabs around a plain `=` are skipped (`password = hunter2`,
/// as configuration dumps and logs write it).
/// The value runs to whitespace, `&`, `#`, `;`, `,`, a quote, `<`, `>`,
/// `)`, `]` or `}` (and after a `%3D`, to an encoded `&`, `#` or space:
/// `%26`, `%23`, `%20`), or is what a pair of quotes right after the `=`
/// enclose (`password="two words"`); a value that starts with a bracket
/// goes on past its closing one (`{SSHA}c2VjcmV0`). In a record as
/// Kotlin's data classes, Lombok, Java's records and maps print it (the
/// name after a `(`, `[`, `{` or `,`, inside a `(`, `[` or `{` on its
/// line: `User(id=42, fullName=Ann Lee)`), the value may hold spaces and
/// apostrophes ([`spaced_value_len`] to [`ends_record_value`]); a value
/// that is a record ([`opens_record`]) is not one, its members are read in
/// turn. An empty value is not a match. An `=` inside a value found is
/// part of it: every byte is looked at a bounded number of times, whatever
/// the text. In a URL's query only (after a `?` or `&`, or `%3F` or
/// `%26`), also OAuth's authorization code ([`QUERY_CREDENTIAL_NAMES`]:
/// `/callback?code=...&state=...`).
fn find_named_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    find_named_values_or_query(text, is_credential_name, is_query_credential_name, out);
}

/// The names of the credentials that are credentials only in a URL's
/// query: OAuth's authorization `code`, which the authorization server's
/// redirect carries to the client (RFC 6749, section 4.1.2) and which
/// access logs, referrers and page URLs keep. Elsewhere `code` is an
/// error's, a country's or a status's.
const QUERY_CREDENTIAL_NAMES: &[&[u8]] = &[b"code"];

/// Whether `name` is one of [`QUERY_CREDENTIAL_NAMES`], in any letter
/// case.
fn is_query_credential_name(name: &[u8]) -> bool {
    QUERY_CREDENTIAL_NAMES
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// The values of the parameters whose names `is_name` accepts, read as
/// [`find_named_credentials`] describes.
fn find_named_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    find_named_values_or_query(text, is_name, |_| false, out);
}

/// [`find_named_values`], and also the values of the parameters of a URL
/// query (a name right after a `?` or `&`, or after `%3F` or `%26`) whose
/// names `is_query_name` accepts.
fn find_named_values_or_query(
    text: &str,
    is_name: fn(&[u8]) -> bool,
    is_query_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) {
    let b = text.as_bytes();
    let mut done = 0;
    // Names come in order, and so each byte is read once for brackets.
    let mut record = InBracket::new(b"{[(", b"}])");
    for at in memchr::memchr2_iter(b'=', b'%', b) {
        if at < done {
            continue;
        }
        let (encoded, arrow, name_end, mut value_start) = if b[at] == b'=' {
            let mut name_end = at;
            while name_end > 0 && is_blank(b[name_end - 1]) {
                name_end -= 1;
            }
            // Ruby's `=>`: `password=>hunter2`, `:password => "hunter2"`.
            let arrow = b.get(at + 1) == Some(&b'>');
            (false, arrow, name_end, at + 1 + usize::from(arrow))
        } else if escape_at(&b[at..], b"3d") {
            (true, false, at, at + 3)
        } else {
            continue;
        };
        // A nested form parameter's name is what its last brackets hold;
        // the parameter starts where its first name does.
        let nested = if arrow {
            None
        } else {
            nested_name(b, name_end)
        };
        let (name_start, name_end) = match nested {
            Some((_, start, end)) => (start, end),
            None => (
                after_escape(b, start_of_name(b, name_end), name_end),
                name_end,
            ),
        };
        let name = &b[name_start..name_end];
        let name_start = nested.map_or(name_start, |(outer, _, _)| outer);
        let in_query = || match name_start {
            0 => false,
            _ if matches!(b[name_start - 1], b'?' | b'&') => true,
            _ => {
                name_start >= 3
                    && (escape_at(&b[name_start - 3..], b"3f")
                        || escape_at(&b[name_start - 3..], b"26"))
            }
        };
        if !(is_name(name) || (is_query_name(name) && in_query())) {
            continue;
        }
        if !encoded {
            while value_start < b.len() && is_blank(b[value_start]) {
                value_start += 1;
            }
        }
        let rest = &b[value_start..];
        // A member of a printed record (`User(id=42, name=Ann Lee)`) may
        // hold spaces.
        let in_record = !encoded && !arrow && {
            let before = b[..name_start].iter().rposition(|&c| !is_blank(c));
            before.is_some_and(|i| matches!(b[i], b'(' | b'[' | b'{' | b','))
                && record.at(b, name_start)
        };
        let (start, len) = match rest.first() {
            Some(b'"' | b'\'') => (value_start + 1, quoted_len(rest)),
            // A value that is a record (`user={name=Ann Lee, ...}`): its
            // members are read in turn.
            Some(b'(' | b'[' | b'{') if !encoded && opens_record(rest) => continue,
            _ if in_record => (value_start, spaced_value_len(rest, ends_record_value, b'=')),
            _ => {
                // A value that starts with a bracket goes on past the
                // closing one (`{SSHA}c2VjcmV0`, an LDAP hash).
                let bracketed = matches!(rest.first(), Some(b'(' | b'[' | b'{'));
                let len = rest
                    .iter()
                    .enumerate()
                    .position(|(i, &c)| {
                        c.is_ascii_whitespace()
                            || matches!(c, b'&' | b'#' | b';' | b',' | b'"' | b'\'' | b'<' | b'>')
                            || (!bracketed && matches!(c, b')' | b']' | b'}'))
                            || (encoded
                                && [b"26", b"23", b"20"]
                                    .iter()
                                    .any(|h| escape_at(&rest[i..], h)))
                    })
                    .unwrap_or(rest.len());
                (value_start, len)
            }
        };
        if len > 0 {
            out.push((start, start + len));
            done = start + len;
        }
    }
}

/// The length of what the quote that starts `rest` encloses: to the same
/// quote again, or to the end when it does not close. A quote doubled
/// inside a value that does not start with it is part of it, as SQL and
/// CSV write one (`last_name = 'O''Brien'`).
fn quoted_len(rest: &[u8]) -> usize {
    let (quote, inner) = (rest[0], &rest[1..]);
    let mut from = 0;
    while let Some(k) = memchr::memchr(quote, &inner[from..]) {
        let k = from + k;
        if k == 0 || inner.get(k + 1) != Some(&quote) {
            return k;
        }
        from = k + 2;
    }
    inner.len()
}

/// Whether `rest` starts a printed record's members: a `(`, `[` or `{`,
/// then a member's name and its `=` ([`starts_with_member`];
/// `{name=Ann Lee, ...}`, spaces and tabs before the name allowed), not a
/// value that starts with a bracket (`{SSHA}...`).
fn opens_record(rest: &[u8]) -> bool {
    let inner = &rest[1..];
    let start = inner.iter().take_while(|&&c| is_blank(c)).count();
    starts_with_member(&inner[start..], b'=')
}

/// The values of credential-named members ([`CREDENTIAL_NAMES`]) of JSON
/// written into text: a fragment that is not one JSON text, and so is not
/// redacted as nested JSON (`body={"user":"bob","password":"hunter2"}`,
/// a body cut short, a prefix before it), also with its quotes escaped as
/// a JSON string holding it writes them (`{\"password\":\"hunter2\"}`);
/// and of the dicts, hashes, objects, structs and maps that Python, Ruby,
/// Node.js and Go print: `{'password': 'hunter2'}`,
/// `{"password"=>"hunter2"}` (Rails' parameters), `{:password=>"hunter2"}`,
/// `{ password: 'hunter2' }`, `&{Password:hunter2}`. A
/// name in quotes, then a `:` or `=>` (spaces or tabs around it allowed);
/// or a symbol (`:name`) before a `=>`; or a bare name right before a `:`
/// that opens an object or follows a `,` (after whitespace: `{`, `, `); or
/// Go's `%+v` of a struct and `%v` of a map (`&{ID:42
/// Password:hunter2}`, `map[password:hunter2]`): a bare name after a `{`,
/// a `[` or whitespace, right before a `:` with the value right after it
/// (inside a `{` or `[`, a value with spaces, [`go_value_len`]).
/// Then a string (what its quotes enclose: escaped quotes after an escaped
/// name, otherwise `"` or `'`) or another value (to whitespace, `,`, `}`,
/// `]`, a double quote or a backslash; not an object or an array, whose
/// members are searched in turn). As in [`find_named_credentials`], a `:`
/// inside a value found is part of it.
fn find_quoted_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    find_quoted_values(text, is_credential_name, out);
}

/// The values of the members of JSON, a dict, a hash or an object written
/// into text whose names `is_name` accepts, read as
/// [`find_quoted_credentials`] describes.
fn find_quoted_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    // Names come in order, and so each byte is read once for brackets.
    let mut bracket = InBracket::new(b"{[", b"}]");
    for at in memchr::memchr2_iter(b':', b'>', b) {
        if at < done {
            continue;
        }
        // The separator starts at `sep`: a `:`, or Ruby's `=>`.
        let arrow = b[at] == b'>';
        let sep = if arrow {
            if at == 0 || b[at - 1] != b'=' {
                continue;
            }
            at - 1
        } else {
            at
        };
        let mut j = sep;
        while j > 0 && is_blank(b[j - 1]) {
            j -= 1;
        }
        if j == 0 {
            continue;
        }
        let (name_start, name_end, escaped, go_value) = match b[j - 1] {
            q @ (b'"' | b'\'') => {
                let escaped = q == b'"' && j >= 2 && b[j - 2] == b'\\';
                let quote: &[u8] = match (q, escaped) {
                    (b'\'', _) => b"'",
                    (_, true) => b"\\\"",
                    _ => b"\"",
                };
                let name_end = j - quote.len();
                let name_start = start_of_name(b, name_end);
                if !b[..name_start].ends_with(quote) {
                    continue;
                }
                (name_start, name_end, escaped, false)
            }
            c if is_name_byte(c) => {
                let name_start = start_of_name(b, j);
                let mut go_value = false;
                let named = if arrow {
                    // A Ruby symbol: `:password => "hunter2"`.
                    name_start > 0 && b[name_start - 1] == b':'
                } else if j != sep {
                    false
                } else {
                    // An object literal's name: `{ password: 'hunter2' }`.
                    let literal = b[..name_start]
                        .iter()
                        .rfind(|c| !c.is_ascii_whitespace())
                        .is_some_and(|&c| c == b'{' || c == b',');
                    // Go's `%+v` of a struct and `%v` of a map, the value
                    // right after the `:`: `&{ID:42 Password:hunter2}`,
                    // `map[password:hunter2]`.
                    let go = name_start > 0
                        && matches!(
                            b[name_start - 1],
                            b'{' | b'[' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'
                        )
                        && b.get(at + 1).is_some_and(|&c| !is_blank(c));
                    // Inside a struct's `{` or a map's `[`, Go's value
                    // may hold spaces ([`go_value_len`]).
                    if go {
                        go_value = bracket.at(b, name_start);
                    }
                    literal || go
                };
                if !named {
                    continue;
                }
                (name_start, j, false, go_value)
            }
            _ => continue,
        };
        if !is_name(&b[name_start..name_end]) {
            continue;
        }
        let mut k = at + 1;
        while k < b.len() && is_blank(b[k]) {
            k += 1;
        }
        let rest = &b[k..];
        let quote: Option<&[u8]> = match rest.first() {
            Some(b'\\') if escaped && rest.starts_with(b"\\\"") => Some(b"\\\""),
            Some(b'"' | b'\'') if !escaped => Some(&rest[..1]),
            _ => None,
        };
        let (start, len) = match quote {
            Some(q) => {
                let inner = &rest[q.len()..];
                let end = if escaped {
                    memchr::memmem::find(inner, q)
                } else {
                    memchr::memchr(q[0], inner)
                };
                (k + q.len(), end.unwrap_or(inner.len()))
            }
            // An object or an array: its members are searched in turn.
            None if matches!(rest.first(), Some(b'{' | b'[')) => continue,
            None if go_value => (k, go_value_len(rest)),
            None => (
                k,
                rest.iter()
                    .position(|&c| ends_bare_value(c))
                    .unwrap_or(rest.len()),
            ),
        };
        if len > 0 {
            out.push((start, start + len));
            done = start + len;
        }
    }
}

/// Where the line that `b[at]` is on ends: at a `\n`, a `\r` or the end
/// of `b`.
fn line_end(b: &[u8], at: usize) -> usize {
    memchr::memchr2(b'\n', b'\r', &b[at..]).map_or(b.len(), |i| at + i)
}

/// Where the line that ends at `end` of `b` starts, after its `\n` or
/// `\r`, but not before `from`.
fn line_start(b: &[u8], from: usize, end: usize) -> usize {
    memchr::memrchr2(b'\n', b'\r', &b[from..end]).map_or(from, |i| from + i + 1)
}

/// Where the value that runs from `start` of `b` to the end of its line
/// ends without its trailing spaces and tabs, and where the line ends (at
/// a `\n`, a `\r` or the end of `b`).
fn rest_of_line(b: &[u8], start: usize) -> (usize, usize) {
    let line_end = line_end(b, start);
    let end = b[start..line_end]
        .iter()
        .rposition(|&c| !is_blank(c))
        .map_or(start, |i| start + i + 1);
    (end, line_end)
}

/// The values of the array elements whose names `is_name` accepts in
/// PHP's dumps of an array, as error logs carry `print_r($_POST, true)` and
/// `var_dump($_POST)`: print_r's `[password] => hunter2` (the name in
/// brackets, spaces or tabs, `=>`, spaces or tabs, and the value to the
/// line's end without its trailing blanks; a nested `Array` is not a
/// value, its elements are read in turn) and var_dump's
/// `["password"]=>` followed, after blanks and one line end, by
/// `string(7) "hunter2"` (the value is the number of bytes it gives, after
/// the quote; a value of another type is not read).
fn find_php_dumped_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    static ARROW: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let arrows = ARROW.get_or_init(|| memchr::memmem::Finder::new(b"=>"));
    for arrow in arrows.find_iter(b) {
        if arrow < done {
            continue;
        }
        let close = b[..arrow].iter().rposition(|&c| !is_blank(c));
        let Some(close) = close.filter(|&i| b[i] == b']') else {
            continue;
        };
        let quoted = close > 0 && b[close - 1] == b'"';
        let name_end = close - usize::from(quoted);
        let name_start = start_of_name(b, name_end);
        let opens = match name_start.checked_sub(1 + usize::from(quoted)) {
            Some(open) => b[open] == b'[' && (!quoted || b[name_start - 1] == b'"'),
            None => false,
        };
        if !opens || name_start == name_end || !is_name(&b[name_start..name_end]) {
            continue;
        }
        let mut k = arrow + 2;
        k += b[k..].iter().take_while(|&&c| is_blank(c)).count();
        let (start, end) = if quoted {
            // var_dump: the value on the next line, `string(7) "hunter2"`.
            if b[k..].starts_with(b"\r\n") {
                k += 2;
            } else if b.get(k) == Some(&b'\n') {
                k += 1;
            }
            k += b[k..].iter().take_while(|&&c| is_blank(c)).count();
            let Some(rest) = b[k..].strip_prefix(b"string(") else {
                continue;
            };
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 9 || !rest[digits..].starts_with(b") \"") {
                continue;
            }
            // Nine digits at most: no overflow.
            let len = rest[..digits]
                .iter()
                .fold(0, |n, &d| n * 10 + usize::from(d - b'0'));
            let start = k + "string(".len() + digits + 3;
            (start, b.len().min(start + len))
        } else {
            // print_r: the rest of the line.
            let (end, _) = rest_of_line(b, k);
            if &b[k..end] == b"Array" {
                continue;
            }
            (k, end)
        };
        if end > start {
            out.push((start, end));
            done = end;
        }
    }
}

/// Whether `c` ends an unquoted member value that [`find_quoted_values`]
/// reads: whitespace, `,`, `}`, `]`, a double quote or a backslash.
fn ends_bare_value(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b',' | b'}' | b']' | b'"' | b'\\')
}

/// The length of the value that Go prints as it is (`%v`, `%+v`) at the
/// start of `rest`, spaces included (`&{Name:Ann Lee Phone:...}`,
/// `map[last_name:van der Berg plan:team]`): [`spaced_value_len`] with
/// Go's `:`.
fn go_value_len(rest: &[u8]) -> usize {
    spaced_value_len(rest, ends_bare_value, b':')
}

/// Whether `c` ends an unquoted value of a record printed as
/// `Name(a=1, b=two words)` ([`find_named_values`]): what
/// [`ends_bare_value`] says, or a `)`.
fn ends_record_value(c: u8) -> bool {
    ends_bare_value(c) || c == b')'
}

/// The length of an unquoted value at the start of `rest` that may hold
/// spaces: to a byte that `stop` accepts, but over a space followed by a
/// word that is not the next member's name ([`starts_with_member`]).
fn spaced_value_len(rest: &[u8], stop: fn(u8) -> bool, sep: u8) -> usize {
    let mut end = 0;
    loop {
        end += rest[end..]
            .iter()
            .position(|&c| stop(c))
            .unwrap_or(rest.len() - end);
        if rest.get(end) != Some(&b' ') {
            return end;
        }
        let word = &rest[end + 1..];
        if word.first().is_none_or(|&c| stop(c)) || starts_with_member(word, sep) {
            return end;
        }
        end += 1;
    }
}

/// Whether `b` starts with a member's name (a run of [`is_name_byte`]s)
/// and `sep` right after it: `Phone:` of a Go struct, `name=` of a
/// record or of a log line's next field.
fn starts_with_member(b: &[u8], sep: u8) -> bool {
    let name = b.iter().take_while(|&&c| is_name_byte(c)).count();
    name > 0 && b.get(name) == Some(&sep)
}

/// Whether positions of a text, asked for in increasing order, are inside
/// a bracket: the last of `opens`, `closes` and line ends before them is
/// one of `opens`. Each byte is read once.
struct InBracket {
    opens: &'static [u8],
    closes: &'static [u8],
    /// How far the text was read, and whether a bracket was open there.
    read: usize,
    inside: bool,
}

impl InBracket {
    fn new(opens: &'static [u8], closes: &'static [u8]) -> InBracket {
        InBracket {
            opens,
            closes,
            read: 0,
            inside: false,
        }
    }

    /// Whether `b[at]` is inside a bracket; `at` never below an earlier
    /// call's.
    fn at(&mut self, b: &[u8], at: usize) -> bool {
        for &c in &b[self.read.min(at)..at] {
            if self.opens.contains(&c) {
                self.inside = true;
            } else if c == b'\n' || self.closes.contains(&c) {
                self.inside = false;
            }
        }
        self.read = at;
        self.inside
    }
}

/// Whether `b[i..i + n]` holds `n` ASCII digits.
fn digits_at(b: &[u8], i: usize, n: usize) -> bool {
    b.get(i..i + n)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// Whether the number at `s..e` of `b` stands alone: no letter, digit or
/// `_` glued on either side, nor a `-` or `.` and a digit (a longer
/// chain: `2024-415-555-0132`, `415-555-0132-7`, `1.415.555.0132.5`).
fn stands_alone(b: &[u8], s: usize, e: usize) -> bool {
    let glued = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let chain = |c: u8| matches!(c, b'-' | b'.');
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let before = s == 0 || {
        let c = b[s - 1];
        !(glued(c) || (chain(c) && s >= 2 && digit(s - 2)))
    };
    let after = b
        .get(e)
        .is_none_or(|&c| !(glued(c) || (chain(c) && digit(e + 1))));
    before && after
}

/// The shortest national number looked for: `06-12345678` (a trunk
/// prefix, [`find_trunk_phones`]); a North American one is at least
/// `415 555-0132`.
const NATIONAL_PHONE_LEN: usize = 11;

/// Whether a text of `len` bytes with profile `p` may hold a number for
/// [`find_national_phones`]: ten digits, and a `-`, a `.` or another byte
/// that is not a lowercase hex digit (the census has no class for the
/// space, which may be the only separator; ids in lowercase hex are left
/// out).
#[inline(always)]
fn may_hold_national_phone(len: usize, p: Profile) -> bool {
    len >= NATIONAL_PHONE_LEN && p.digits >= 10 && p.has(C_DASH | C_DOT | C_NOT_HEX)
}

/// North American phone numbers in their national form: an area code and
/// an exchange (three digits each, the first 2-9) and four digits, as
/// `415-555-0132`, `415.555.0132`, `415 555-0132`, `(415) 555-0132` or
/// `(415)555-0132` (the last separator a `-` or a `.`), or with spaces
/// only, `415 555 0132` and `(415) 555 0132`; with the country code `1`
/// and a `-`, `.` or space before it taken too (`1-415-555-0132`),
/// standing alone ([`stands_alone`]; with spaces only, not in a chain of
/// groups of digits and spaces either: `100 415 555 0132`,
/// `415 555 0132 7`). Each `-`, `.` or space proposes itself as the last
/// separator; the rest is read backwards from there.
fn find_national_phones(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let code = |i: usize| digits_at(b, i, 3) && b[i] >= b'2';
    let alone = |s: usize, e: usize, spaced: bool| {
        stands_alone(b, s, e) && !(spaced && in_spaced_chain(b, s, e))
    };
    let mut next = 0;
    for i in memchr::memchr3_iter(b'-', b'.', b' ', b) {
        if i < 4 || i < next || !digits_at(b, i + 1, 4) || !code(i - 3) {
            continue;
        }
        let (exchange, e) = (i - 3, i + 5);
        let sep = b[exchange - 1];
        let area = if (sep == b[i] || sep == b' ') && exchange >= 4 && code(exchange - 4) {
            exchange - 4
        } else if sep == b')' && exchange >= 5 && b[exchange - 5] == b'(' && code(exchange - 4) {
            exchange - 5
        } else if sep == b' '
            && exchange >= 6
            && b[exchange - 2] == b')'
            && b[exchange - 6] == b'('
            && code(exchange - 5)
        {
            exchange - 6
        } else {
            continue;
        };
        let spaced = b[i] == b' ';
        let country = area >= 2 && b[area - 2] == b'1' && matches!(b[area - 1], b'-' | b'.' | b' ');
        let start = if country && alone(area - 2, e, spaced) {
            area - 2
        } else if alone(area, e, spaced) {
            area
        } else {
            continue;
        };
        out.push((start, e));
        next = e;
    }
}

/// Phone numbers in the national form of the countries that dial a trunk
/// prefix `0` (most of Europe, the UK, Australia and others): a `0`, a
/// digit other than `0` (`00` opens an international number), 10 to 12
/// digits in all, written in groups of at least two digits joined by
/// single spaces or by single dashes, the same throughout, the first group
/// of two to five digits: `06 12 34 56 78`, `07700 900123`,
/// `020 7946 0958`, `06-12345678`, `0151 12345678`. Standing alone
/// ([`stands_alone`]) and not one of a longer chain of digit groups
/// ([`in_spaced_chain`]: `DE89 3704 0044 0532 0130 00`, `1 0612 3456 78`;
/// with dashes, `stands_alone` already turns such chains away). Written
/// without a separator (`0612345678`), a number is not told from an id
/// padded with a zero, and is not looked for.
fn find_trunk_phones(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let digit = |i: usize| digits_at(b, i, 1);
    let mut next = 0;
    for s in memchr::memchr_iter(b'0', b) {
        if s < next || !b.get(s + 1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            continue;
        }
        // The first group, then groups after one separator each.
        let mut e = s;
        while digit(e) {
            e += 1;
        }
        if e - s > 5 {
            continue;
        }
        let Some(&sep) = b.get(e).filter(|&&c| c == b' ' || c == b'-') else {
            continue;
        };
        let (mut digits, mut groups) = (e - s, 1);
        while b.get(e) == Some(&sep) && digit(e + 1) && digit(e + 2) {
            let mut g = e + 1;
            while digit(g) {
                g += 1;
            }
            digits += g - e - 1;
            groups += 1;
            e = g;
        }
        if groups < 2
            || !(10..=12).contains(&digits)
            || !stands_alone(b, s, e)
            || in_spaced_chain(b, s, e)
        {
            continue;
        }
        out.push((s, e));
        next = e;
    }
}

/// Whether the number at `s..e` of `b` is one of a chain of groups of
/// digits joined by spaces: a digit and a space right before it, or a
/// space and a digit right after it (`100 415 555 0132`).
fn in_spaced_chain(b: &[u8], s: usize, e: usize) -> bool {
    (s >= 2 && b[s - 1] == b' ' && digits_at(b, s - 2, 1))
        || (b.get(e) == Some(&b' ') && digits_at(b, e + 1, 1))
}

/// The length of a social security number, `123-45-6789`.
const SSN_LEN: usize = 11;

/// US social security numbers in their dashed form, `AAA-GG-SSSS`, as the
/// Social Security Administration issues them (the area neither `000`,
/// `666` nor `9xx`, the group not `00`, the serial not `0000`), standing
/// alone ([`stands_alone`]). Each `-` proposes itself as the second.
fn find_ssns(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut next = 0;
    for i in memchr::memchr_iter(b'-', b) {
        if i < 6
            || i - 6 < next
            || b[i - 3] != b'-'
            || !digits_at(b, i - 2, 2)
            || !digits_at(b, i - 6, 3)
            || !digits_at(b, i + 1, 4)
        {
            continue;
        }
        let (s, e) = (i - 6, i + 5);
        let area = &b[s..s + 3];
        if area == b"000"
            || area == b"666"
            || area[0] == b'9'
            || &b[i - 2..i] == b"00"
            || &b[i + 1..e] == b"0000"
            || !stands_alone(b, s, e)
        {
            continue;
        }
        out.push((s, e));
        next = e;
    }
}

/// The length of the shortest IBAN (Norway's).
const IBAN_MIN_LEN: usize = 15;

/// The fewest digits of an IBAN written with hex digits and dashes only
/// (the census's `NOT_HEX` class unseen): a lowercase country code of
/// letters `a`-`f` (`ad`, `ae`, `ba`, `be`, `de`) and digits alone after
/// it, since [`iban_at`] takes a hex digit string with a letter past the
/// check digits for a hex id. Belgium's, 16 characters, has 14. Such a
/// text also has letters: fewer digits than bytes (which leaves out
/// strings of digits alone, as OpenTelemetry's nanosecond times). Without
/// a dash, nothing but letters and digits is around such an IBAN, so it is
/// the whole text (no letter or digit may be glued to it): exactly two
/// letters, its country code (which leaves out hex ids, as
/// OpenTelemetry's trace and span ids).
const IBAN_HEX_DIGITS: usize = 14;

/// The length of a country's IBANs, by its ISO 3166 code, as the IBAN
/// registry (ISO 13616) gives it; `None` for a country without IBANs.
fn iban_length(country: [u8; 2]) -> Option<usize> {
    let n = match &country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HN" | b"HU" | b"LB" | b"NI" | b"PL"
        | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(n)
}

/// Whether `chars` (an IBAN's characters, no separators: letters and
/// digits) pass the ISO 7064 MOD 97-10 check: the first four moved to the
/// end, each letter read as two digits (`A` or `a` = 10 ... `Z` or `z` =
/// 35), the number is 1 modulo 97.
fn iban_checks(chars: impl Iterator<Item = u8> + Clone) -> bool {
    let rotated = chars.clone().skip(4).chain(chars.take(4));
    let rest = rotated.fold(0u32, |r, c| match c {
        b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
        _ => (r * 100 + u32::from(c.to_ascii_uppercase() - b'A') + 10) % 97,
    });
    rest == 1
}

/// The end of the IBAN starting at `s` of `b`, where a country code (two
/// letters of one case) and two digits stand: exactly the country's
/// length of letters (of the country code's case) and digits, written
/// whole (`DE89370400440532013000`, `nl91abna0417164300`) or in groups of
/// four joined by single spaces or single dashes, the same throughout
/// (`DE89 3704 0044 0532 0130 00`, `NL91-ABNA-0417-1643-00`, the last group
/// shorter), with valid check digits and no letter, digit or `_` glued on
/// after it (nor, with dashes, a dash and one). In lowercase, a candidate
/// made of hex digits only with a letter past its check digits is taken
/// for what it looks like, a hex id (`be12a4f0c9d37e15`), not an IBAN.
fn iban_at(b: &[u8], s: usize) -> Option<usize> {
    let lower = b[s].is_ascii_lowercase();
    let len = iban_length([b[s].to_ascii_uppercase(), b[s + 1].to_ascii_uppercase()])?;
    let sep = b.get(s + 4).copied().filter(|&c| c == b' ' || c == b'-');
    // In the grouped form, character k (k > 0, a multiple of 4) follows a
    // separator: it sits at s + k + k / 4 - 1 + 1.
    let at = |k: usize| if sep.is_some() { s + k + k / 4 } else { s + k };
    let e = at(len - 1) + 1;
    if e > b.len() {
        return None;
    }
    let letter = |c: u8| {
        if lower {
            c.is_ascii_lowercase()
        } else {
            c.is_ascii_uppercase()
        }
    };
    let well_formed = (4..len).all(|k| {
        let c = b[at(k)];
        (letter(c) || c.is_ascii_digit()) && (k % 4 != 0 || sep.is_none_or(|d| b[at(k) - 1] == d))
    });
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let glued = b.get(e).is_some_and(|&c| {
        word(c) || (sep == Some(b'-') && c == b'-' && b.get(e + 1).is_some_and(|&d| word(d)))
    });
    let hex_id = lower
        && (0..len).all(|k| matches!(b[at(k)], b'0'..=b'9' | b'a'..=b'f'))
        && (4..len).any(|k| b[at(k)].is_ascii_alphabetic());
    (well_formed && !glued && !hex_id && iban_checks((0..len).map(|k| b[at(k)]))).then_some(e)
}

/// International bank account numbers ([`iban_at`]) not glued to a letter,
/// digit or `_` before them. Candidates are found by their check digits: a
/// digit pair after two letters. The fourth byte from a start decides how
/// far to move on: a start there needs a digit, and the next two starts
/// need it to be a letter and the sixth byte to be a digit.
fn find_ibans(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut s = 0;
    while s + IBAN_MIN_LEN <= b.len() {
        let fourth = b[s + 3];
        if !fourth.is_ascii_digit() {
            // Not `s`, nor `s + 1` (their check digits); `s + 2` and
            // `s + 3` only when it is a country code's letter and a check
            // digit follows where theirs would be.
            s += if fourth.is_ascii_alphabetic() && b[s + 5].is_ascii_digit() {
                2
            } else {
                4
            };
            continue;
        }
        let (c0, c1) = (b[s], b[s + 1]);
        if b[s + 2].is_ascii_digit()
            && ((c0.is_ascii_uppercase() && c1.is_ascii_uppercase())
                || (c0.is_ascii_lowercase() && c1.is_ascii_lowercase()))
            && (s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_'))
        {
            if let Some(e) = iban_at(b, s) {
                out.push((s, e));
                s = e;
                continue;
            }
        }
        s += 1;
    }
}

/// The length of a MAC address in [`mac_at`]'s form.
const MAC_LEN: usize = 17;

/// Whether a MAC address starts at `s` of `b`: six pairs of hex digits
/// joined by `:` or by `-` (the same throughout).
fn mac_at(b: &[u8], s: usize) -> bool {
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let Some(&sep) = b.get(s + 2) else {
        return false;
    };
    matches!(sep, b':' | b'-')
        && (0..6).all(|g| hex(s + 3 * g) && hex(s + 3 * g + 1))
        && (1..6).all(|g| b[s + 3 * g - 1] == sep)
}

/// MAC addresses (a device's hardware address), in the form [`mac_at`]
/// reads, not part of a longer run: no hex digit glued on either side, nor
/// the separator and another hex digit (`00:11:22:33:44:55:66`, a longer
/// IPv6-like chain). Each separator proposes one start; a match is skipped
/// whole. (The form with dots, `001a.2b3c.4d5e`, is not looked for: every
/// dot of every URL and hostname would be a candidate, for a form that
/// network equipment's logs use, not telemetry's.)
fn find_macs(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let mut next = 0;
    for at in memchr::memchr2_iter(b':', b'-', b) {
        let Some(s) = at.checked_sub(2) else {
            continue;
        };
        // Most separators have a longer run of hex digits before them (a
        // UUID's groups), or none (a URL's): turned away in a load or two.
        if s < next || !hex(at - 1) || (s > 0 && hex(s - 1)) {
            continue;
        }
        if !mac_at(b, s) {
            continue;
        }
        let sep = b[at];
        let e = s + MAC_LEN;
        let before = s > 0 && (hex(s - 1) || (b[s - 1] == sep && s > 1 && hex(s - 2)));
        let after = hex(e) || (b.get(e) == Some(&sep) && hex(e + 1));
        if !before && !after {
            out.push((s, e));
            next = e;
        }
    }
}

/// The values of credentials written `name: value`, as HTTP header lines
/// (`Authorization: Token …`, `Cookie: sid=…; theme=dark`) and logs
/// (`password: hunter2`, `password : hunter2`) write them: a name of
/// [`CREDENTIAL_NAMES`] (or `cookie`) before the `:`, with nothing or
/// spaces and tabs between, then at least one space or tab. The
/// value of an authorization or cookie header is the rest of the line (its
/// scheme and every cookie in it); a value in quotes is what they enclose
/// (`password: "two words"`, to the end when the quote does not close);
/// any other runs to whitespace, `,`, `;`, `&`, a quote, `<`, `>`, `)`, `]`
/// or `}`. As in [`find_named_credentials`], a `:` inside a value found is
/// part of it.
fn find_header_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    find_header_values(text, is_credential_name, false, out);
}

/// The values written `name: value` whose names `is_name` accepts, read as
/// [`find_header_credentials`] describes; with `spaced`, a value not in
/// quotes runs over spaces as a printed record's does
/// ([`spaced_value_len`] to [`ends_record_value`], up to the next
/// `name:`): `full_name: Ann Lee, city: Leeds`.
fn find_header_values(
    text: &str,
    is_name: fn(&[u8]) -> bool,
    spaced: bool,
    out: &mut Vec<(usize, usize)>,
) {
    let b = text.as_bytes();
    let mut done = 0;
    for at in memchr::memchr_iter(b':', b) {
        if at < done || !b.get(at + 1).copied().is_some_and(is_blank) {
            continue;
        }
        let mut end = at;
        while end > 0 && is_blank(b[end - 1]) {
            end -= 1;
        }
        let name = &b[start_of_name(b, end)..end];
        if !is_name(name) {
            continue;
        }
        let mut start = at + 1;
        while start < b.len() && is_blank(b[start]) {
            start += 1;
        }
        let rest = &b[start..];
        let line = ends_with_name(name, b"authorization") || ends_with_name(name, b"cookie");
        let (start, len) = match rest.first() {
            Some(b'"' | b'\'') => (start + 1, quoted_len(rest)),
            _ if line => (
                start,
                memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len()),
            ),
            _ if spaced => (start, spaced_value_len(rest, ends_record_value, b':')),
            _ => (
                start,
                rest.iter()
                    .position(|&c| {
                        c.is_ascii_whitespace()
                            || matches!(
                                c,
                                b',' | b';'
                                    | b'&'
                                    | b'"'
                                    | b'\''
                                    | b'<'
                                    | b'>'
                                    | b')'
                                    | b']'
                                    | b'}'
                            )
                    })
                    .unwrap_or(rest.len()),
            ),
        };
        if len > 0 {
            out.push((start, start + len));
            done = start + len;
        }
    }
}

/// Sorts `spans` and merges those that overlap into their union.
fn merge_overlaps(spans: &mut Vec<(usize, usize)>) {
    if spans.len() < 2 {
        return;
    }
    spans.sort_unstable();
    let mut kept = 0;
    for i in 1..spans.len() {
        let (start, end) = spans[i];
        if start < spans[kept].1 {
            spans[kept].1 = spans[kept].1.max(end);
        } else {
            kept += 1;
            spans[kept] = (start, end);
        }
    }
    spans.truncate(kept + 1);
}

/// Keeps, of the spans from index `from` on, those `keep` accepts (as
/// `start, end`), in order; the spans before `from` stay.
fn retain_from(spans: &mut Vec<(usize, usize)>, from: usize, keep: impl Fn(usize, usize) -> bool) {
    let mut kept = from;
    for r in from..spans.len() {
        let (s, e) = spans[r];
        if keep(s, e) {
            spans[kept] = (s, e);
            kept += 1;
        }
    }
    spans.truncate(kept);
}

/// Addresses with internationalized parts too (RFC 6531): letters, marks
/// and digits of any script in the local part and the domain's labels, and
/// a top-level domain of letters (ASCII ones preferred). An
/// ASCII-only local part missed `josé@example.com` and cut
/// `jo.sé.martin@example.com` to `.martin@example.com`, leaving the rest;
/// in text without spaces (Chinese, Japanese), the letters glued before an
/// address are taken with it: redacting too much, not too little.
fn email_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        concat!(
            // The `@`, or one encoded (see `encoded_at_len`).
            r"[\p{L}\p{M}\p{N}._%+-]+(?:@|%40|%2540|&#0*64;|&#[xX]0*40;|&commat;)",
            r"[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?",
            r"(?:\.[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?)*",
            // ASCII first: after `com`, letters of another script glued
            // on are not taken into the address.
            r"\.(?:[a-zA-Z]{2,}|\p{L}[\p{L}\p{M}]+)",
        ),
    )
}

/// The card candidates' pattern, as a regex: the reference that
/// [`card_candidates`] is tested against.
#[cfg(test)]
fn card_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"(?-u:\d)(?:[ -]?(?-u:\d)){12,18}")
}

/// [`card_at`] without its shortcut on the first digit: every prefix of
/// the candidate that ends at a digit group, longest first, checked for a
/// brand and the Luhn sum. The reference of the tests.
#[cfg(test)]
fn card_at_reference(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    if before_is(text, start, |b| b.is_ascii_digit()) || after_is(text, end, |b| b.is_ascii_digit())
    {
        return;
    }
    let s = &text.as_bytes()[start..end];
    for e in (0..s.len()).rev() {
        if !s[e].is_ascii_digit() || s.get(e + 1).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let digits: Vec<u8> = s[..=e].iter().copied().filter(u8::is_ascii_digit).collect();
        if (13..=19).contains(&digits.len()) && card_brand(&digits) && luhn(&digits) {
            out.push((start, start + e + 1));
            return;
        }
    }
}

fn phone_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"\+\d[\d ().-]{6,22}\d")
}

fn ipv4_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // ASCII digits only: a Unicode `\d` let a digit of another script
    // start a candidate that then failed to parse, hiding the address
    // right after it.
    re(&R, r"(?-u:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})")
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether `digits` starts with a known card-brand prefix and has a length
/// that brand issues.
fn card_brand(digits: &[u8]) -> bool {
    let n = digits.len();
    let p = |k: usize| -> u32 {
        digits[..k]
            .iter()
            .fold(0, |a, &d| a * 10 + u32::from(d - b'0'))
    };
    match digits[0] {
        b'4' => matches!(n, 13 | 16 | 19),                // Visa
        b'5' => (51..=55).contains(&p(2)) && n == 16,     // Mastercard
        b'2' => (2221..=2720).contains(&p(4)) && n == 16, // Mastercard 2-series
        b'3' => {
            (matches!(p(2), 34 | 37) && n == 15)                                      // Amex
            || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&n))                  // JCB
            || (((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39)) && (14..=19).contains(&n))
        } // Diners
        b'6' => {
            (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3)) || p(2) == 62)
                && (16..=19).contains(&n)
        } // Discover, UnionPay
        _ => false,
    }
}

fn before_is(text: &str, start: usize, f: impl Fn(u8) -> bool) -> bool {
    start > 0 && f(text.as_bytes()[start - 1])
}

fn after_is(text: &str, end: usize, f: impl Fn(u8) -> bool) -> bool {
    text.as_bytes().get(end).is_some_and(|&b| f(b))
}

/// Whether `b` may hold 13 or more digits in a row, consecutive digits
/// separated by at most one space or hyphen: what [`card_candidates`]
/// needs to find anything. False only when it holds none.
///
/// Eight bytes at a time: bit masks of the digits and separators of each
/// 64-byte window say whether it holds 13 bytes in a row that are digits
/// or separators between two digits, which every such run has (most
/// texts with 13 digits, UUIDs and timestamps, have no such stretch). The
/// windows overlap by 16 bytes, so every stretch of 13 lies inside one,
/// away from its edges (where a separator's neighbour may be outside).
fn may_hold_card_run(b: &[u8]) -> bool {
    let mut start = 0;
    while start < b.len() {
        if has_chain_of_13(&b[start..b.len().min(start + 64)]) {
            return true;
        }
        if start + 64 >= b.len() {
            break;
        }
        start += 48;
    }
    false
}

/// Whether the first 64 bytes of `w` hold 13 in a row that are each a
/// digit, or a space or hyphen between two digits.
#[inline(always)]
fn has_chain_of_13(w: &[u8]) -> bool {
    let (digit, sep) = digit_and_separator_bits(w);
    let chain = digit | (sep & (digit << 1) & (digit >> 1));
    // Bit i of `run` stays set when bits i..i+13 of `chain` are.
    let mut run = chain & (chain >> 1);
    run &= run >> 2;
    run &= run >> 4;
    run &= run >> 5;
    run != 0
}

/// Bit masks of the ASCII digits and of the spaces and hyphens among the
/// first 64 bytes of `w` (bit i for byte i).
#[inline(always)]
fn digit_and_separator_bits(w: &[u8]) -> (u64, u64) {
    let (mut digit, mut sep) = (0u64, 0u64);
    let mut put = |at: usize, x: u64| {
        digit |= u64::from(mask_bits(digit_mask(x))) << at;
        sep |= u64::from(mask_bits(eq_mask(x, b' ') | eq_mask(x, b'-'))) << at;
    };
    let full = w.len().min(64) / 8;
    for k in 0..full {
        put(8 * k, word(w, 8 * k));
    }
    let rest = w.len().min(64) % 8;
    if rest != 0 {
        // The last eight bytes, shifted so that the tail's bytes come
        // first and zero bytes (neither class) fill the rest; or the
        // tail alone when the text is shorter than a word.
        let tail = if w.len() >= 8 {
            word(w, w.len().min(64) - 8) >> (8 * (8 - rest))
        } else {
            let mut t = [0u8; 8];
            t[..rest].copy_from_slice(w);
            u64::from_le_bytes(t)
        };
        put(8 * full, tail);
    }
    (digit, sep)
}

/// Whether `b` holds 13 or more digits in a row, consecutive digits
/// separated by at most one space or hyphen, one byte at a time: the
/// reference that [`may_hold_card_run`] is tested against.
#[cfg(test)]
fn has_card_run(b: &[u8]) -> bool {
    let (mut run, mut after_sep) = (0u32, false);
    for &c in b {
        let digit = c.is_ascii_digit();
        // A digit extends the run; one separator after a digit keeps it;
        // anything else ends it. (A separator with no run before it
        // "keeps" a run of zero, which is the same as ending it.)
        let keep = digit | ((c == b' ' || c == b'-') & !after_sep);
        run = (run + u32::from(digit)) * u32::from(keep);
        after_sep = keep & !digit;
        if run >= 13 {
            return true;
        }
    }
    false
}

/// The card candidates in `b`, in order, as `find_iter` of the pattern
/// `\d(?:[ -]?\d){12,18}` (ASCII digits) gives them: from each leftmost
/// digit, greedily, digits each after at most one space or hyphen, 13 to
/// 19 of them. The pattern has one way to go at every byte (a digit, or a
/// separator before a digit), so the greedy walk is its only match; a walk
/// that stops short of 13 digits leaves no match inside it either (every
/// later start in it reaches less far), and the search goes on after it.
fn card_candidates(b: &[u8], mut each: impl FnMut(usize, usize)) {
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (end, digits) = card_walk(b, i);
        if digits >= 13 {
            each(i, end);
        }
        i = end;
    }
}

/// From the digit at `start`, greedily: digits each after at most one
/// space or hyphen, up to 19 of them; the end and the count.
fn card_walk(b: &[u8], start: usize) -> (usize, usize) {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let (mut end, mut digits) = (start + 1, 1);
    while digits < 19 {
        if digit(end) {
            end += 1;
        } else if matches!(b.get(end), Some(b' ' | b'-')) && digit(end + 1) {
            end += 2;
        } else {
            break;
        }
        digits += 1;
    }
    (end, digits)
}

fn find_cards(text: &str, out: &mut Vec<(usize, usize)>) {
    if !may_hold_card_run(text.as_bytes()) {
        return;
    }
    let b = text.as_bytes();
    card_candidates(b, |start, end| {
        let before = out.len();
        card_at(text, start, end, out);
        if out.len() > before {
            return;
        }
        // Other numbers may come first in the same run (`qty 1 4111 1111
        // …`, `12 34 56 4111-1111-…`, which also takes the walk past 19
        // digits): try again from each later group of exactly four digits,
        // as every brand's printed form begins, and keep the first card.
        let four = |p: usize| {
            matches!(b[p - 1], b' ' | b'-')
                && b[p..].len() >= 4
                && b[p..p + 4].iter().all(u8::is_ascii_digit)
                && !b.get(p + 4).is_some_and(u8::is_ascii_digit)
        };
        for p in (start + 1..end).filter(|&p| four(p)) {
            let (walk_end, digits) = card_walk(b, p);
            if digits >= 13 {
                card_at(text, p, walk_end, out);
                if out.len() > before {
                    return;
                }
            }
        }
    });
}

/// Checks one card candidate `start..end` (see [`card_candidates`]): not
/// glued to more digits, and a prefix of it ending at a digit group is a
/// Luhn-valid number of a known brand and length (the longest wins).
fn card_at(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    // Every brand's numbers start with 2 to 6 (see `card_brand`), and
    // every prefix tried below starts at `start`: epoch timestamps and
    // other ids starting with 1, 7, 8, 9 or 0 (OpenTelemetry's
    // `timeUnixNano`, 19 digits as a string) stop here.
    if !matches!(text.as_bytes()[start], b'2'..=b'6')
        || before_is(text, start, |b| b.is_ascii_digit())
        || after_is(text, end, |b| b.is_ascii_digit())
    {
        return;
    }
    // Try the longest candidate first, then shorter ones ending at a
    // digit that is followed by a separator.
    let s = &text.as_bytes()[start..end];
    let ends = (0..s.len())
        .rev()
        .filter(|&i| s[i].is_ascii_digit() && (i + 1 == s.len() || !s[i + 1].is_ascii_digit()));
    for e in ends {
        // A candidate has at most 19 digits.
        let mut digits = [0u8; 19];
        let mut n = 0;
        for &c in s[..=e].iter().filter(|c| c.is_ascii_digit()) {
            digits[n] = c;
            n += 1;
        }
        let digits = &digits[..n];
        if (13..=19).contains(&n) && card_brand(digits) && luhn(digits) {
            out.push((start, start + e + 1));
            return;
        }
    }
}

/// Whether `b` holds three dots in a chain `d.d.d.d` with one to three
/// digits between them: what [`ipv4_re`] needs to match at all.
fn has_ipv4_chain(b: &[u8]) -> bool {
    has_quad_chain(b, b'.')
}

/// Whether `b` holds three `sep`s in a chain `d{sep}d{sep}d{sep}d` with one
/// to three digits between them.
fn has_quad_chain(b: &[u8], sep: u8) -> bool {
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let (mut chain, mut prev) = (0u32, usize::MAX);
    for p in memchr::memchr_iter(sep, b) {
        if p == 0 || !digit_at(p - 1) || !digit_at(p + 1) {
            chain = 0;
            continue;
        }
        let linked =
            prev != usize::MAX && (2..=4).contains(&(p - prev)) && (prev + 1..p).all(digit_at);
        chain = if linked { chain + 1 } else { 1 };
        if chain >= 3 {
            return true;
        }
        prev = p;
    }
    false
}

fn find_ipv4(text: &str, p: Profile, out: &mut Vec<(usize, usize)>) {
    if p.has(C_DOT) {
        find_dotted_ipv4(text, out);
    }
    if p.has(C_DASH) && has_quad_chain(text.as_bytes(), b'-') {
        find_dashed_ipv4(text.as_bytes(), out);
    }
}

/// Whether `b` is a byte of a hostname label's letters and digits, for
/// [`find_dashed_ipv4`] (bytes beyond ASCII count as letters).
fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// IPv4 addresses written with dashes, as hostnames carry them:
/// `c-73-22-1-5.hsd1.example.net` (an ISP's name for a subscriber's
/// address), `ec2-203-0-113-7.compute-1.amazonaws.com`,
/// `ip-10-0-1-23.ec2.internal`. Text splits into tokens (runs of
/// [`is_label_byte`]s) joined by a single `.` or `-`; a match is a run of
/// exactly four tokens of digits, joined by `-`, each an octet as the
/// dotted form writes it (at most 255, no leading zero). A token of digits
/// joined on either side makes it a longer number (`1-800-555-0143-2`,
/// `2026-12-03-10-20`), not an address; a token with letters does not
/// (`ec2-`, `.compute-1`), nor a letter glued to a digit (`a1-2-3-4` has
/// no run of four). A `+` right before makes it a phone number
/// (`+44-20-7-123`), left to the phone detector.
fn find_dashed_ipv4(b: &[u8], out: &mut Vec<(usize, usize)>) {
    // Whether a token of digits is an octet: at most 255, no leading zero
    // (asked of other tokens too, where the answer is not used).
    fn octet(t: &[u8]) -> bool {
        matches!(
            t,
            [_] | [b'1'..=b'9', _]
                | [b'1', _, _]
                | [b'2', b'0'..=b'4', _]
                | [b'2', b'5', b'0'..=b'5']
        )
    }
    // The run of digit tokens in the current chain: where it starts, how
    // many tokens, and whether they are octets joined by `-` so far.
    let (mut start, mut count, mut fits) = (0usize, 0usize, true);
    // Where the token before ended (its run continues only through one
    // joining byte), and whether it was all digits.
    let (mut prev_end, mut prev_digits) = (usize::MAX, false);
    let mut i = 0;
    while i < b.len() {
        if !is_label_byte(b[i]) {
            i += 1;
            continue;
        }
        let t_start = i;
        while i < b.len() && is_label_byte(b[i]) {
            i += 1;
        }
        let token = &b[t_start..i];
        let digits = token.iter().all(u8::is_ascii_digit);
        let joined =
            prev_end != usize::MAX && t_start == prev_end + 1 && matches!(b[prev_end], b'-' | b'.');
        if digits && joined && prev_digits {
            count += 1;
            fits &= b[prev_end] == b'-' && octet(token);
        } else {
            if count == 4 && fits {
                out.push((start, prev_end));
            }
            let phone = t_start > 0 && b[t_start - 1] == b'+';
            (start, count, fits) = (t_start, usize::from(digits), octet(token) && !phone);
        }
        (prev_end, prev_digits) = (i, digits);
    }
    if count == 4 && fits {
        out.push((start, prev_end));
    }
}

/// The suffix of reverse DNS names under which an IPv4 address is written
/// with its octets reversed (RFC 1035, 3.5).
const REVERSE_DNS: &[u8] = b".in-addr.arpa";

/// Whether `b` starts with [`REVERSE_DNS`], in any letter case.
fn is_reverse_dns_suffix(b: &[u8]) -> bool {
    starts_with_ignore_case(b, REVERSE_DNS)
}

/// Dotted-decimal IPv4 addresses (see [`ipv4_re`]), not part of a longer
/// dotted number: a digit glued on either side, or a `.` and a digit,
/// makes one (`v1.2.3.4.5`); a `.` after a label's letters does not
/// (`mail.203.0.113.7.example.com`). A reverse DNS name
/// (`7.113.0.203.in-addr.arpa`, the octets reversed) is matched with its
/// suffix, so that the action sees the address in its own order
/// ([`rewrite_match`]).
fn find_dotted_ipv4(text: &str, out: &mut Vec<(usize, usize)>) {
    if !has_ipv4_chain(text.as_bytes()) {
        return;
    }
    let b = text.as_bytes();
    for m in ipv4_re().find_iter(text) {
        let digit = |b: u8| b.is_ascii_digit();
        if before_is(text, m.start(), digit)
            || (before_is(text, m.start(), |b| b == b'.') && before_is(text, m.start() - 1, digit))
        {
            continue;
        }
        if after_is(text, m.end(), digit)
            || (after_is(text, m.end(), |b| b == b'.') && after_is(text, m.end() + 1, digit))
        {
            continue;
        }
        // An object identifier of four arcs (`urn:oid:2.5.4.4`, a SAML
        // attribute's name; `OID.2.5.4.97`) is not an address.
        if m.start() >= 4
            && [b"oid:", b"oid."]
                .iter()
                .any(|p| b[m.start() - 4..m.start()].eq_ignore_ascii_case(*p))
        {
            continue;
        }
        // Octets padded with zeros (`198.051.100.007`) are octets too.
        if crate::actions::padded_quad(m.as_str().as_bytes()).is_some() {
            let end = if is_reverse_dns_suffix(&b[m.end()..]) {
                m.end() + REVERSE_DNS.len()
            } else {
                m.end()
            };
            out.push((m.start(), end));
        }
    }
}

/// The longest sub-span of `run` (trimming hex digits glued onto its first
/// and last group) that parses as an IPv6 address, as (offset, len).
fn ipv6_in_run(run: &str) -> Option<(usize, usize)> {
    let first_colon = run.find(':')?;
    let last_colon = run.rfind(':')?;
    let mut best: Option<(usize, usize)> = None;
    // Candidate starts: within the first group, at most 4 hex digits before its colon.
    for s in first_colon.saturating_sub(4)..=first_colon {
        // Candidate ends: the whole tail, or up to 4 hex digits after the last colon.
        let tail_max = run.len();
        for e in (last_colon + 1..=tail_max).rev() {
            if best.is_some_and(|(_, l)| l >= e - s) {
                break;
            }
            let cand = &run[s..e];
            if cand.parse::<std::net::Ipv6Addr>().is_ok() {
                best = Some((s, e - s));
                break;
            }
        }
    }
    best
}

fn find_ipv6(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let is_c = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut i = 0;
    while let Some(off) = memchr::memchr(b':', &b[i..]) {
        let colon = i + off;
        let mut start = colon;
        while start > 0 && is_c(b[start - 1]) {
            start -= 1;
        }
        let mut end = colon;
        while end < b.len() && is_c(b[end]) {
            end += 1;
        }
        i = end.max(colon + 1);
        let mut run = &text[start..end];
        while run.ends_with('.') {
            run = &run[..run.len() - 1];
        }
        // An address has `::`, or at least 6 colons (8 groups, or 6 groups
        // and an embedded IPv4 address); a run without either (a time of
        // day, `host:port`) holds none, and is not parsed.
        let colons = run.bytes().filter(|&c| c == b':').count();
        if colons < 2
            || (colons < 6 && !run.contains("::"))
            || !run.bytes().any(|c| c.is_ascii_hexdigit())
        {
            continue;
        }
        let Some((off, len)) = ipv6_in_run(run) else {
            continue;
        };
        let (s, e) = (start + off, start + off + len);
        let cand = &text[s..e];
        // Short forms such as `e::f` also occur in code (`core::fmt`): accept
        // them only with a non-alphanumeric boundary on both sides.
        let groups = cand.split(':').filter(|g| !g.is_empty()).count();
        let glued = (s > 0 && b[s - 1].is_ascii_alphanumeric())
            || b.get(e).is_some_and(u8::is_ascii_alphanumeric);
        if groups < 3 && glued {
            continue;
        }
        out.push((s, e));
    }
}

/// International phone numbers: `+`, a country code (which never starts
/// with 0) and 8-15 digits in all, with spaces, dots, dashes or
/// parentheses; not a UTC offset after a clock time ([`is_utc_offset`]).
fn find_phones(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for m in phone_re().find_iter(text) {
        // A match holds no other `+`: skipping one hides no other number.
        if before_is(text, m.start(), |b| b.is_ascii_alphanumeric())
            || after_is(text, m.end(), |b| b.is_ascii_digit())
            || b[m.start() + 1] == b'0'
            || is_utc_offset(b, m.start(), m.end())
        {
            continue;
        }
        let n = m.as_str().bytes().filter(u8::is_ascii_digit).count();
        if (8..=15).contains(&n) {
            out.push((m.start(), m.end()));
        }
    }
}

/// Whether `plus..end` of `b` is a UTC offset and a year after a clock
/// time rather than a phone number, as in `Sun Aug 31 00:29:15 +1000 2014`
/// (the timestamps of many APIs and logs, whose offset and year read as a
/// number of eight digits): a time (`HH:MM`, then `:SS` and a fraction if
/// any) and at most one space before the `+`, then four digits that are an
/// offset (hours to 14, minutes 00, 15, 30 or 45), a space and four digits,
/// and nothing more. No phone number is lost: one of eight digits that
/// starts with 1 (`+1` and seven) is too short for the North American plan,
/// the only one whose country code starts with 1, and a number that goes on
/// (`10:30 +1415 555 0132`) is not an offset and a year.
fn is_utc_offset(b: &[u8], plus: usize, end: usize) -> bool {
    if end - plus != 10
        || !digits_at(b, plus + 1, 4)
        || b[plus + 5] != b' '
        || !digits_at(b, plus + 6, 4)
    {
        return false;
    }
    let mut e = plus;
    if e > 0 && b[e - 1] == b' ' {
        e -= 1;
    }
    // A fraction of a second.
    let digits_before = b[..e]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits_before > 0 && digits_before < e && b[e - digits_before - 1] == b'.' {
        e -= digits_before + 1;
    }
    let clock = e >= 5 && digits_at(b, e - 5, 2) && b[e - 3] == b':' && digits_at(b, e - 2, 2);
    if !clock {
        return false;
    }
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    two(plus + 1) <= 14 && matches!(two(plus + 3), 0 | 15 | 30 | 45)
}

/// Bytes that can be part of an email match: the ASCII bytes of
/// [`email_re`]'s classes and encoded `@`s, and every non-ASCII byte
/// (letters of any script), so that a run of them always starts and ends
/// on a character boundary.
static EMAIL_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || b >= 0x80
            || matches!(
                b,
                b'.' | b'_' | b'%' | b'+' | b'-' | b'@' | b'&' | b'#' | b';'
            );
        c += 1;
    }
    t
};

/// The spans of [`email_re`] in `text`, as its `find_iter` gives them, with
/// the regex run only over the runs of [`EMAIL_BYTE`]s that hold an `@`
/// or an encoded one ([`encoded_at_len`]). The pattern has no anchors or
/// look-around, so each match lies inside one such run and the run alone
/// decides it; a long text (a stack trace naming one user) is not scanned
/// by the regex end to end.
fn find_emails(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr3(b'@', b'%', b'&', &b[from..]) {
        let at = from + i;
        let rest = &b[at..];
        if !(rest[0] == b'@' || encoded_at_len(rest).is_some()) {
            from = at + 1;
            continue;
        }
        let start = b[..at]
            .iter()
            .rposition(|&c| !EMAIL_BYTE[usize::from(c)])
            .map_or(0, |p| p + 1);
        let end = b[at..]
            .iter()
            .position(|&c| !EMAIL_BYTE[usize::from(c)])
            .map_or(b.len(), |p| at + p);
        out.extend(email_re().find_iter(&text[start..end]).filter_map(|m| {
            let (s, e) = (start + m.start(), start + m.end());
            Some((local_part_start(b, s, e)?, e))
        }));
        from = end;
    }
}

/// Where the local part of the address that [`email_re`] matched at
/// `s..e` of `b` starts, past the last percent-escape in it of a byte no
/// address holds: an ASCII byte other than a letter, a digit, `.`, `_`,
/// `+` or `-` (`%3D`, `%2F`, also encoded again: `%253D`). A URL nested
/// percent-encoded in another's query (`?u=https%3A%2F%2Fx.test%2Fa%3Femail%3Dann%40example.com`)
/// holds one address, `ann%40example.com`, not the URL before it, which
/// stays. `None` when nothing of the local part is left.
fn local_part_start(b: &[u8], s: usize, e: usize) -> Option<usize> {
    // The `@` (or the encoded one) is the last `@`, `%` or `&` of the
    // match: the domain holds none.
    let at = s + b[s..e]
        .iter()
        .rposition(|&c| matches!(c, b'@' | b'%' | b'&'))?;
    let hex = |i: usize| -> Option<u8> {
        let d = |c: u8| (c as char).to_digit(16);
        Some((d(*b.get(i)?)? * 16 + d(*b.get(i + 1)?)?) as u8)
    };
    let mut local = s;
    let mut i = s;
    while let Some(p) = memchr::memchr(b'%', &b[i..at]) {
        let p = i + p;
        i = p + 1;
        let Some(mut byte) = hex(p + 1).filter(|_| p + 3 <= at) else {
            continue;
        };
        let mut len = 3;
        if byte == b'%' {
            if let Some(again) = hex(p + 3).filter(|_| p + 5 <= at) {
                (byte, len) = (again, 5);
            }
        }
        if byte.is_ascii() && !byte.is_ascii_alphanumeric() && !b"._+-".contains(&byte) {
            local = p + len;
            i = local;
        }
    }
    (local < at).then_some(local)
}

/// The length of the encoded `@` that `b` starts with, if it starts with
/// one: percent-encoded (`%40`, or `%2540`, an encoded `%40`), as in URL
/// query strings, or an HTML character reference (`&#64;` or `&#x40;`,
/// with any number of leading zeros, or `&commat;`), as in HTML-escaped
/// text. The same forms as [`email_re`]'s. A reference without its `;`
/// (which browsers also read) is not taken: `&#64` followed by a digit
/// would be another character.
fn encoded_at_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'%' if b.starts_with(b"%40") => Some(3),
        b'%' if b.starts_with(b"%2540") => Some(5),
        b'&' if b.starts_with(b"&commat;") => Some(8),
        b'&' => {
            let rest = b.strip_prefix(b"&#")?;
            let (digits, at): (&[u8], &[u8]) = match rest.first() {
                Some(b'x' | b'X') => (&rest[1..], b"40;"),
                _ => (rest, b"64;"),
            };
            let zeros = digits.iter().take_while(|&&c| c == b'0').count();
            let tail = &digits[zeros..];
            tail.starts_with(at)
                .then(|| b.len() - tail.len() + at.len())
        }
        _ => None,
    }
}

/// Whether `b` holds an encoded `@`, without building a substring
/// searcher per call.
fn has_encoded_at(b: &[u8]) -> bool {
    memchr::memchr2_iter(b'%', b'&', b).any(|i| encoded_at_len(&b[i..]).is_some())
}

/// Byte classes every detector's prefilter needs, found in one pass: the
/// scanner crate's byte census, 32 bytes at a time on AVX2.
type Profile = census::Census;

const C_COLON_OR_EQUALS: u8 = census::COLON_OR_EQUALS;
const C_AT: u8 = census::AT;
const C_PERCENT_OR_AMPERSAND: u8 = census::PERCENT_OR_AMPERSAND;
const C_DOT: u8 = census::DOT;
const C_PLUS: u8 = census::PLUS;
const C_DASH: u8 = census::DASH;
/// Any byte but a digit, a lowercase hex letter or `-`: every credential
/// shape of [`secret_re`] holds one, so hex ids and UUIDs skip its
/// prefilters.
const C_NOT_HEX: u8 = census::NOT_HEX;

/// Whether byte `b` is outside the alphabet of lowercase hex and `-`.
const fn is_not_hex(b: u8) -> bool {
    !matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-')
}

/// Whether `text` has a byte that is not a lowercase hex digit or `-`
/// (which every [`SECRET_PREFIXES`] entry and [`AUTH_SCHEMES`] entry have).
const fn has_not_hex(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        if is_not_hex(text[i]) {
            return true;
        }
        i += 1;
    }
    false
}

const _: () = {
    let mut i = 0;
    while i < SECRET_PREFIXES.len() {
        assert!(has_not_hex(SECRET_PREFIXES[i].as_bytes()));
        i += 1;
    }
    // Every spelling of `bearer` has an `r` or an `R`, and every one of
    // `basic` an `s` or an `S`.
    assert!(has_not_hex(b"r") && has_not_hex(b"R"));
    assert!(has_not_hex(b"s") && has_not_hex(b"S"));
};

/// The [`Profile`] of `text`.
#[inline]
fn profile(text: &str) -> Profile {
    census::census(text.as_bytes())
}

/// [`profile`] a byte at a time: what the census must find.
#[cfg(test)]
fn profile_by_bytes(text: &str) -> Profile {
    let mut p = Profile::default();
    for &b in text.as_bytes() {
        for (byte, class) in [
            (b':', C_COLON_OR_EQUALS),
            (b'=', C_COLON_OR_EQUALS),
            (b'@', C_AT),
            (b'%', C_PERCENT_OR_AMPERSAND),
            (b'&', C_PERCENT_OR_AMPERSAND),
            (b'.', C_DOT),
            (b'+', C_PLUS),
            (b'-', C_DASH),
        ] {
            if b == byte {
                p.classes |= class;
            }
        }
        if is_not_hex(b) {
            p.classes |= C_NOT_HEX;
        }
        if b >= 0x80 {
            p.classes |= census::NON_ASCII;
        }
        if b == b'/' || b == b'\\' {
            p.marks |= census::SLASH;
        }
        if b == b' ' {
            p.marks |= census::SPACE;
        }
        if matches!(b, b'"' | b'\'' | b'{' | b'[') {
            p.marks |= census::QUOTE_OR_BRACKET;
        }
        if b == b'<' {
            p.marks |= census::LESS_THAN;
        }
        if matches!(b, b';' | b'|' | b'\n') {
            p.marks |= census::SEPARATOR;
        }
        p.digits += usize::from(b.is_ascii_digit());
    }
    p
}

/// Whether `kind` can match a text of `len` bytes with profile `p`: the
/// gate in front of every [`find_profiled`] call.
#[inline(always)]
fn may_match(kind: DetectorKind, len: usize, p: Profile) -> bool {
    may_match_all(len, p) >> (kind as u32) & 1 != 0
}

/// Whether `b` is an RFC 3339 date-time and nothing else:
/// `YYYY-MM-DDTHH:MM:SS`, then an optional fraction of one to nine digits,
/// then an optional `Z` or `+HH:MM` / `-HH:MM`. Such texts are among the
/// commonest string values of telemetry, and the census lets them through
/// to four detectors (digits, a dot and colons), none of which can match
/// one: it holds no `@`, no letter but `T` and `Z`, one dot, at most three
/// colons and no `::`, and no run of 13 digits joined by single spaces or
/// hyphens (the longest is a nine-digit fraction, a hyphen and two digits).
/// A test runs every detector over such texts to hold this true.
#[inline(always)]
fn is_timestamp(b: &[u8]) -> bool {
    if !(19..=35).contains(&b.len()) {
        return false;
    }
    // Every byte of the date and time looked up, with no branch and no
    // early exit (as in `is_uuid`).
    let mut wrong = 0u8;
    for (&c, &want) in b.iter().zip(&TIMESTAMP_LAYOUT) {
        wrong |= TIMESTAMP_CLASS[usize::from(c)] ^ want;
    }
    if wrong != 0 {
        return false;
    }
    let mut rest = &b[19..];
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        rest = &tail[n..];
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Per byte value: 1 for an ASCII digit, 2 for `-`, 3 for `T`, 4 for
/// `:`, 0 otherwise.
static TIMESTAMP_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = 1;
        c += 1;
    }
    t[b'-' as usize] = 2;
    t[b'T' as usize] = 3;
    t[b':' as usize] = 4;
    t
};

/// The class ([`TIMESTAMP_CLASS`]) each place of `YYYY-MM-DDTHH:MM:SS`
/// wants.
const TIMESTAMP_LAYOUT: [u8; 19] = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1, 3, 1, 1, 4, 1, 1, 4, 1, 1];

/// Whether `s..e` of `b` lies inside a UUID ([`is_uuid`]) with no letter
/// or digit glued to it (`/orders/c2640d33-7e41-1111-1111-…/items`): the
/// digits that run across its hyphens are an identifier's, as in a string
/// that is a UUID and nothing else.
fn in_uuid(b: &[u8], s: usize, e: usize) -> bool {
    let word = |c: &u8| c.is_ascii_alphanumeric();
    (e.saturating_sub(UUID_LEN)..=s).any(|p| {
        p + UUID_LEN <= b.len()
            && is_uuid(&b[p..p + UUID_LEN])
            && (p == 0 || !word(&b[p - 1]))
            && !b.get(p + UUID_LEN).is_some_and(word)
    })
}

/// Whether `b` is a UUID in its canonical form and nothing else: 32 hex
/// digits (either case) in groups of 8, 4, 4, 4 and 12 joined by hyphens.
/// Telemetry is full of them (anonymous, device, message and session ids),
/// and the census lets them through to six detectors (hyphens, often 13
/// digits or more). No detector looks inside one: five of them cannot
/// match one (an IPv4 address inside a hostname needs groups of one to
/// three digits, a North American phone number a group of three, a social
/// security number groups of three and two, a MAC address groups of two,
/// an IBAN a run of 15 or a space), and the digits of a UUID that run
/// across its hyphens (`c2640d33-7e41-1111-1111-…`) are an identifier's,
/// not a payment card's printed groups: read as a card, one UUID in about
/// 6 000 was cut in two (also inside a text, see [`in_uuid`]). A test runs
/// the five over such texts to hold this true.
///
/// Every byte is looked up and compared with what its place wants, with no
/// branch and no early exit: most texts of this length are UUIDs, and the
/// loop of a test per byte that this replaced cost about 2% of the engine.
#[inline]
fn is_uuid(b: &[u8]) -> bool {
    let Ok(b) = <&[u8; UUID_LEN]>::try_from(b) else {
        return false;
    };
    let mut wrong = 0u8;
    for (&c, &want) in b.iter().zip(&UUID_LAYOUT) {
        wrong |= UUID_CLASS[usize::from(c)] ^ want;
    }
    wrong == 0
}

/// Per byte value: 1 for a hex digit (either case), 2 for `-`, 0 otherwise.
static UUID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_hexdigit() {
            1
        } else if b == b'-' {
            2
        } else {
            0
        };
        c += 1;
    }
    t
};

/// The class ([`UUID_CLASS`]) each place of a UUID wants.
const UUID_LAYOUT: [u8; UUID_LEN] = {
    let mut t = [1u8; UUID_LEN];
    t[8] = 2;
    t[13] = 2;
    t[18] = 2;
    t[23] = 2;
    t
};

/// The length of a UUID's canonical form.
const UUID_LEN: usize = 36;

/// The detectors that the census may let through to a UUID ([`is_uuid`])
/// and that do not look inside one, as bits of [`may_match_all`].
const NOT_IN_UUIDS: u32 = 1 << DetectorKind::CreditCard as u32
    | 1 << DetectorKind::Ipv4 as u32
    | 1 << DetectorKind::Phone as u32
    | 1 << DetectorKind::Mac as u32
    | 1 << DetectorKind::Ssn as u32
    | 1 << DetectorKind::Iban as u32;

/// [`may_match`] of every kind at once, as a bit set indexed by
/// `DetectorKind as u32`: straight-line code, no branch per detector.
#[inline(always)]
fn may_match_all(len: usize, p: Profile) -> u32 {
    let colon = p.has(C_COLON_OR_EQUALS);
    // In `DetectorKind` order.
    let bits = [
        colon
            || p.has(C_PERCENT_OR_AMPERSAND)
            || (len >= SECRET_MIN_LEN && p.has(C_NOT_HEX))
            || xml::may_hold_xml(len, p), // Secret
        p.has(C_AT | C_PERCENT_OR_AMPERSAND), // Email
        p.digits >= 13,                       // CreditCard
        colon,                                // Ipv6
        len >= 7 && p.has(C_DOT | C_DASH) && p.digits >= 4, // Ipv4
        p.has(C_PLUS) || may_hold_national_phone(len, p), // Phone
        len >= MAC_LEN && p.has(C_COLON_OR_EQUALS | C_DASH), // Mac
        len >= SSN_LEN && p.has(C_DASH) && p.digits >= 9, // Ssn
        len >= IBAN_MIN_LEN
            && p.digits >= 2
            && (p.has(C_NOT_HEX)
                || (p.digits >= IBAN_HEX_DIGITS
                    && p.digits < len
                    && (p.has(C_DASH) || p.digits + 2 == len))), // Iban
        colon
            || p.has(C_PERCENT_OR_AMPERSAND)
            || sql::may_hold_sql(len, p)
            || xml::may_hold_xml(len, p), // PersonalParam
        colon
            || p.has(C_PERCENT_OR_AMPERSAND)
            || may_hold_home_path(len, p)
            || may_hold_auth_line(len, p)
            || sql::may_hold_sql(len, p)
            || xml::may_hold_xml(len, p), // IdParam
        len >= REQUEST_LINE_MIN_LEN
            && p.digits > 0
            && p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND | C_DOT), // RequestQuery
        len >= COMBINED_LINE_MIN_LEN
            && p.digits >= 4
            && p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND | C_DOT), // UserAgent
    ];
    const _: () = assert!(
        DetectorKind::Secret as u32 == 0
            && DetectorKind::Email as u32 == 1
            && DetectorKind::CreditCard as u32 == 2
            && DetectorKind::Ipv6 as u32 == 3
            && DetectorKind::Ipv4 as u32 == 4
            && DetectorKind::Phone as u32 == 5
            && DetectorKind::Mac as u32 == 6
            && DetectorKind::Ssn as u32 == 7
            && DetectorKind::Iban as u32 == 8
            && DetectorKind::PersonalParam as u32 == 9
            && DetectorKind::IdParam as u32 == 10
            && DetectorKind::RequestQuery as u32 == 11
            && DetectorKind::UserAgent as u32 == 12
    );
    let mut m = 0;
    for (i, b) in bits.into_iter().enumerate() {
        m |= u32::from(b) << i;
    }
    m
}

/// The shortest request line with a query: `GET /?a HTTP/1`.
const REQUEST_LINE_MIN_LEN: usize = 14;

/// The shortest access-log line with a user: `a - u [t] "GET / HTTP/1"`.
const LOG_USER_LINE_MIN_LEN: usize = 26;

/// The fewest digits of an access-log line with a user: its time alone,
/// `10/Oct/2026:13:55:36`, has twelve.
const LOG_USER_LINE_MIN_DIGITS: usize = 12;

/// The shortest request line in the combined log format with a
/// User-Agent: `GET / HTTP/1" 200 - "" "a"` (the status and the version:
/// four digits).
const COMBINED_LINE_MIN_LEN: usize = 27;

/// The query and fragment of the target of each HTTP request line in
/// `text`: a method (3 to 7 capital letters, not glued to a letter or
/// digit before it), a space, the target (no spaces), a space and `HTTP/`
/// with a digit (`GET /search?q=ann HTTP/1.1`, `POST /a?b HTTP/2.0`). The
/// span runs from the target's first `?` or `#` to its end; a target
/// without either holds none. Where the line goes on as the combined log
/// format of Apache and nginx does (`"GET / HTTP/1.1" 200 512
/// "https://ref.test/?q=ann" "Mozilla/5.0 ..."`), the referrer's query and
/// fragment are a span too, and so are those of the referrer with which
/// Apache's error log ends a message (`..., referer:
/// https://ref.test/?q=ann`, up to whitespace). Searched only in texts
/// with a digit and an `=`, `:`, `%`, `&` or `.` (a query's, or the
/// version's `1.1`), as the census tells, and a `?` or `#`. And the
/// queries of the URLs written percent-encoded ([`find_encoded_url_queries`]).
fn find_request_queries(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    find_encoded_url_queries(b, out);
    if memchr::memchr2(b'?', b'#', b).is_none() {
        return;
    }
    let query_of = |start: usize, end: usize| {
        memchr::memchr2(b'?', b'#', &b[start..end]).map(|q| (start + q, end))
    };
    for line in request_lines(b) {
        out.extend(query_of(line.target, line.version));
        if let Some((start, end)) = combined_referrer(b, line.version) {
            out.extend(query_of(start, end));
        }
    }
    static REFERER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let referer = REFERER.get_or_init(|| memchr::memmem::Finder::new(b", referer: "));
    for at in referer.find_iter(b) {
        let start = at + 11;
        let len = b[start..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(b.len() - start);
        out.extend(query_of(start, start + len));
    }
    // Each finder's spans are in order, but not the three lists (one
    // span or none returns at once).
    merge_overlaps(out);
}

/// The query and fragment of each URL written percent-encoded in `b`, as a
/// referrer or redirect parameter holds one
/// (`urlref=https%3A%2F%2Fref.test%2Fsearch%3Fq%3DAnn%2BLee&x=1`), also
/// encoded twice (`%253A%252F%252F`): a scheme's letter, the encoded
/// `://`, a host's byte, then from the first encoded `?` or `#` (`%3F`,
/// `%23`; `%253F`, `%2523`) to the end of the encoded URL, the first byte
/// that a URL percent-encoded in a query does not hold as it is
/// (whitespace, `&`, `#`, a quote, `<`, `>`, `\`, `)`, `]` or `}`). The
/// search term of a referrer has no telling name, as a request line's
/// has none.
fn find_encoded_url_queries(b: &[u8], out: &mut Vec<(usize, usize)>) {
    let mut done = 0;
    for at in memchr::memchr_iter(b'%', b) {
        if at < done || at == 0 || !b[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &b[at..];
        let twice = if starts_with_ignore_case(rest, b"%3A%2F%2F") {
            false
        } else if starts_with_ignore_case(rest, b"%253A%252F%252F") {
            true
        } else {
            continue;
        };
        let host = at + if twice { 15 } else { 9 };
        let end = b[host..]
            .iter()
            .position(|&c| {
                c.is_ascii_whitespace()
                    || matches!(
                        c,
                        b'&' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b')' | b']' | b'}'
                    )
            })
            .map_or(b.len(), |p| host + p);
        done = end;
        if end == host {
            continue;
        }
        let marks: [&[u8]; 2] = if twice {
            [b"%253F", b"%2523"]
        } else {
            [b"%3F", b"%23"]
        };
        let query = memchr::memchr_iter(b'%', &b[host + 1..end])
            .map(|p| host + 1 + p)
            .find(|&p| marks.iter().any(|m| starts_with_ignore_case(&b[p..end], m)));
        if let Some(q) = query {
            out.push((q, end));
        }
    }
}

/// An HTTP request line found in a text by [`request_lines`]: offsets of
/// its method, its target and the space before its `HTTP/` version.
struct RequestLine {
    method: usize,
    target: usize,
    version: usize,
}

/// The HTTP request lines of `b`, in order, as [`find_request_queries`]
/// describes them.
fn request_lines(b: &[u8]) -> impl Iterator<Item = RequestLine> + '_ {
    // Built once: a searcher's set-up costs more than a short text's search.
    static VERSION: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let version = VERSION.get_or_init(|| memchr::memmem::Finder::new(b" HTTP/"));
    version.find_iter(b).filter_map(move |at| {
        if !b.get(at + 6).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let space = memchr::memrchr(b' ', &b[..at])?;
        let method = b[..space]
            .iter()
            .rposition(|c| !c.is_ascii_uppercase())
            .map_or(0, |i| i + 1);
        let glued = method > 0 && b[method - 1].is_ascii_alphanumeric();
        (!glued && (3..=7).contains(&(space - method))).then_some(RequestLine {
            method,
            target: space + 1,
            version: at,
        })
    })
}

/// Where the HTTP version whose ` HTTP/` starts at `version` ends: after
/// its digits and dots (`HTTP/1.1`, `HTTP/2`).
fn version_end(b: &[u8], version: usize) -> usize {
    let mut i = version + 6;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        i += 1;
    }
    i
}

/// The span of the referrer's URL, between its quotes, when the request
/// line whose version starts at `version` (the space before `HTTP/`) is
/// followed as in the combined log format: `HTTP/1.1" 200 512 "url"` (the
/// status, the size or `-`, then the quoted referrer).
fn combined_referrer(b: &[u8], version: usize) -> Option<(usize, usize)> {
    let i = version_end(b, version);
    let rest = b.get(i..)?;
    let status = rest.get(..6)?;
    if !(status.starts_with(b"\" ")
        && status[2..5].iter().all(u8::is_ascii_digit)
        && status[5] == b' ')
    {
        return None;
    }
    let size = &rest[6..];
    let n = size.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = if n == 0 && size.first() == Some(&b'-') {
        1
    } else {
        n
    };
    if n == 0 || size.get(n..n + 2) != Some(b" \"") {
        return None;
    }
    let start = i + 6 + n + 2;
    let len = memchr::memchr(b'"', &b[start..])?;
    Some((start, start + len))
}

/// Whether a text with profile `p` may hold a quoted member
/// ([`find_quoted_values`]): it has a `:` (or `=`) and a quote or a
/// bracket.
#[inline(always)]
fn may_hold_quoted_member(p: Profile) -> bool {
    p.has(C_COLON_OR_EQUALS) && p.marks & census::QUOTE_OR_BRACKET != 0
}

/// The shortest system-log message with a login name: `Invalid user a
/// from`.
const AUTH_LINE_MIN_LEN: usize = 16;

/// Whether a text of `len` bytes with profile `p` may hold a system-log
/// message with a login name ([`find_auth_users`]): it has words.
#[inline(always)]
fn may_hold_auth_line(len: usize, p: Profile) -> bool {
    len >= AUTH_LINE_MIN_LEN && p.marks & census::SPACE != 0
}

/// The shortest home directory path with a user: `/home/a`.
const HOME_PATH_MIN_LEN: usize = 7;

/// Whether a text of `len` bytes with profile `p` may hold a home
/// directory path ([`find_home_users`]): it has a separator.
#[inline(always)]
fn may_hold_home_path(len: usize, p: Profile) -> bool {
    len >= HOME_PATH_MIN_LEN && p.marks & census::SLASH != 0
}

/// Folders under `/Users` or `C:\Users` that belong to no one user.
const SHARED_HOMES: &[&[u8]] = &[
    b"Shared",
    b"Public",
    b"Default",
    b"Default User",
    b"All Users",
];

/// The user's name in each home directory path in `text`, as stack traces,
/// crash reports and command lines carry them: `/home/ann/...` (Linux;
/// `/var/home/ann/...` on Fedora's image-based editions), `/Users/ann/...`
/// (macOS), `C:\Users\Ann Lee\...` or `C:/Users/...`
/// (Windows), letters of any script included. A Unix path counts where
/// it starts a word (after the start, whitespace, a quote, a bracket, `=`,
/// `:`, `,`, `;` or `file://`), so that a URL's route
/// (`https://app.test/home/feed`, `/api/Users/42`) is not one; a Windows
/// one needs its drive letter. The name runs to the next
/// separator; on Windows it may hold spaces when a separator follows
/// within 64 bytes on the same line. `Shared`, `Public`, `Default`,
/// `Default User` and `All Users` are no one's.
fn find_home_users(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut next = 0;
    for i in memchr::memchr2_iter(b'/', b'\\', b) {
        if i < next {
            continue;
        }
        let sep = b[i];
        let rest = &b[i + 1..];
        let (start, windows) = if rest.starts_with(b"Users") && rest.get(5) == Some(&sep) {
            let drive = i >= 2 && b[i - 1] == b':' && b[i - 2].is_ascii_alphabetic();
            if drive && (i == 2 || !b[i - 3].is_ascii_alphanumeric()) {
                (i + 7, true)
            } else if sep == b'/' && starts_word(b, i) {
                (i + 7, false)
            } else {
                continue;
            }
        } else if sep == b'/' && rest.starts_with(b"home/") && starts_word(b, i) {
            (i + 6, false)
        } else if sep == b'/' && rest.starts_with(b"var/home/") && starts_word(b, i) {
            (i + 10, false)
        } else {
            continue;
        };
        let mut end = start + login_len(&b[start..]);
        if windows {
            // `C:\Users\Ann Lee\AppData`: on to the next separator when
            // it comes soon, on the same line and without quotes.
            let window = &b[start..b.len().min(start + 64)];
            if let Some(n) = window
                .iter()
                .position(|&c| c == sep || matches!(c, b'"' | b'\'' | b'\n' | b'\r' | b'\t' | b':'))
            {
                if window[n] == sep && n > 0 {
                    end = start + n;
                }
            }
        }
        // The name ends at a separator, the end, or a byte that cannot be
        // in a name (`:`, a quote, a space).
        let user = &b[start..end];
        if !user.is_empty() && !SHARED_HOMES.contains(&user) {
            out.push((start, end));
            next = end;
        }
    }
}

/// Whether `c` may be part of a login name: ASCII letters and digits, `.`,
/// `_`, `-`, `@`, `$`, and any byte of a non-ASCII character.
fn is_login_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80 || matches!(c, b'.' | b'_' | b'-' | b'@' | b'$')
}

/// The length of the login name that starts `b` (see [`is_login_byte`]).
fn login_len(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| is_login_byte(c)).count()
}

/// The longest user name in quotes that [`find_auth_users`] takes after
/// `for user `.
const QUOTED_USER_MAX_LEN: usize = 256;

/// The methods OpenSSH names before `for <user> from` (`Accepted
/// publickey for ann from ...`, `Failed password for ...`), and the words
/// of its other messages in that place (`... attempts exceeded for ann
/// from`, `PAM: Authentication failure for ann from`).
const SSH_FOR_WORDS: &[&[u8]] = &[
    b"password",
    b"publickey",
    b"keyboard-interactive/pam",
    b"keyboard-interactive",
    b"hostbased",
    b"gssapi-with-mic",
    b"none",
    b"exceeded",
    b"failure",
];

/// The login names in the messages of OpenSSH, PAM, systemd-logind and
/// sudo as system logs carry them:
/// - `Accepted publickey for ann from 203.0.113.7 port 51234 ssh2` (and
///   `Failed`, `Postponed`, `... attempts exceeded for`, `Authentication
///   failure for`): the name between `<method> for ` and ` from `;
/// - `Failed password for invalid user ann from`, `Invalid user ann from`,
///   `Connection closed by authenticating user ann 203.0.113.7 port 22`,
///   `Disconnected from user ann 203.0.113.7`: after `invalid`, `illegal`,
///   `authenticating` or `from` and `user `, before ` from ` or an
///   address;
/// - `session opened for user ann(uid=1000) by (uid=0)`, `session closed
///   for user ann`: after `for user `, before `(uid=`, ` by ` or the end;
///   `... by ann(uid=1000)`: after `by `, before `(uid=`;
/// - `password authentication failed for user "ann"` (PostgreSQL), `Login
///   failed for user 'CORP\ann'.` (SQL Server), `Access denied for user
///   'ann'@'203.0.113.7'` (MySQL): after `for user ` in quotes, what they
///   enclose (on one line, at most [`QUOTED_USER_MAX_LEN`] bytes);
/// - `New session 7 of user ann.`: after `session <number> of user `,
///   before a final `.` or the end;
/// - `ann : TTY=pts/0 ; PWD=/home/ann ; USER=bob ; COMMAND=/bin/ls`
///   (sudo): the word before ` : ` (`find_named_values` takes `USER=`'s).
///
/// [`ROOT`] is no one's name and stays.
///
/// Searched only in texts of 16 bytes or more with a space
/// ([`may_hold_auth_line`]); every form is found at a space, followed by
/// `user `, `User `, `for `, `by ` or `; COMMAND=`.
fn find_auth_users(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // The name at `start` when what follows it satisfies `after`.
    let take = |out: &mut Vec<(usize, usize)>, start: usize, after: &dyn Fn(&[u8]) -> bool| {
        let mut end = start + login_len(&b[start..]);
        if end > start && b[end - 1] == b'.' && end == b.len() {
            end -= 1;
        }
        if end > start && &b[start..end] != ROOT && after(&b[end..]) {
            out.push((start, end));
        }
    };
    let address_next = |rest: &[u8]| {
        let word = rest.strip_prefix(b" ").unwrap_or_default();
        let word = &word[..word.iter().position(|&c| c == b' ').unwrap_or(word.len())];
        word.iter().any(u8::is_ascii_digit) && word.iter().any(|&c| c == b'.' || c == b':')
    };
    let from_or_address = |rest: &[u8]| rest.starts_with(b" from ") || address_next(rest);
    // Every form starts at a space: one pass over the spaces.
    for sp in memchr::memchr_iter(b' ', b) {
        let rest = &b[sp + 1..];
        let word_before = || {
            let start = b[..sp]
                .iter()
                .rposition(|&c| c == b' ')
                .map_or(0, |i| i + 1);
            (start, &b[start..sp])
        };
        if rest.starts_with(b"user ") || rest.starts_with(b"User ") {
            let start = sp + 6;
            let (word_start, word) = word_before();
            match word {
                // A database's or an application's `... failed for user
                // "ann"`, `... for user 'CORP\ann'`.
                b"for" if matches!(b.get(start), Some(b'"' | b'\'')) => {
                    let inner = &b[start + 1..b.len().min(start + 1 + QUOTED_USER_MAX_LEN)];
                    let len = inner.iter().position(|&c| c == b[start] || c == b'\n');
                    if let Some(len) = len.filter(|&n| n > 0 && inner[n] == b[start]) {
                        if &inner[..len] != ROOT {
                            out.push((start + 1, start + 1 + len));
                        }
                    }
                }
                b"for" => take(out, start, &|rest: &[u8]| {
                    rest.is_empty() || rest.starts_with(b"(uid=") || rest.starts_with(b" by ")
                }),
                b"invalid" | b"Invalid" | b"illegal" | b"Illegal" | b"authenticating" | b"from" => {
                    take(out, start, &from_or_address)
                }
                b"of" => {
                    // `session 42 of user ann.`
                    let before = &b[..word_start.saturating_sub(1)];
                    let digits = before
                        .iter()
                        .rev()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let number = &before[..before.len() - digits];
                    if digits > 0 && number.ends_with(b"ession ") {
                        take(out, start, &|rest: &[u8]| rest.is_empty() || rest == b".");
                    }
                }
                _ => {}
            }
        } else if rest.starts_with(b"for ") {
            let start = sp + 5;
            if SSH_FOR_WORDS.contains(&word_before().1)
                && !b[start..].starts_with(b"invalid user ")
                && !b[start..].starts_with(b"illegal user ")
            {
                take(out, start, &|rest: &[u8]| rest.starts_with(b" from "));
            }
        } else if rest.starts_with(b"by ") {
            take(out, sp + 4, &|rest: &[u8]| rest.starts_with(b"(uid="));
        } else if rest.starts_with(b"; COMMAND=") {
            // sudo: `ann : TTY=...` or `ann : 3 incorrect password attempts
            // ; TTY=...` (its `USER=bob` is a named value).
            if let Some(colon) = memchr::memmem::find(&b[..sp], b" : ") {
                let start = b[..colon]
                    .iter()
                    .rposition(|&c| !is_login_byte(c))
                    .map_or(0, |i| i + 1);
                take(out, start, &|rest: &[u8]| rest.starts_with(b" : "));
            }
            break;
        }
    }
}

/// Whether the `/` at `i` starts a path: at the start of `b`, after
/// whitespace, a quote, a bracket, `=`, `:` (not of a URL's `://`), `,`
/// or `;`, or as the third `/` of `file:///`.
fn starts_word(b: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    match b[i - 1] {
        b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'(' | b'[' | b'{' | b'<' | b'=' | b','
        | b';' | b'`' | b':' => true,
        b'/' => b[..i].ends_with(b"file://"),
        _ => false,
    }
}

/// The User-Agent of each access-log line in `text`, unless it is empty or
/// `-`: in the combined log format, the quoted field after the referrer
/// that [`combined_referrer`] finds (`"https://ref.test/" "Mozilla/5.0
/// ..."`); in AWS load balancers' logs, the quoted field right after the
/// request line (`"GET https://... HTTP/1.1" "Mozilla/5.0 ..."`).
fn find_log_user_agents(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for line in request_lines(b) {
        let quoted_after = match combined_referrer(b, line.version) {
            Some((_, referrer_end)) => referrer_end,
            None => version_end(b, line.version),
        };
        let start = quoted_after + 3;
        if b.get(quoted_after..start) != Some(b"\" \"") {
            continue;
        }
        let Some(len) = memchr::memchr(b'"', &b[start..]) else {
            continue;
        };
        if len > 0 && &b[start..start + len] != b"-" {
            out.push((start, start + len));
        }
    }
}

/// The authenticated user of each access-log line in `text` written in the
/// common or combined log format of Apache and nginx (`203.0.113.7 -
/// ann [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" ...`): the third
/// field, between the client's address and ident and the bracketed time,
/// before a request line that [`request_lines`] finds. `-` (no user) is not
/// a span. Searched only in texts with twelve digits or more (the time
/// alone has twelve), and only where the text has a request line.
fn find_log_users(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    for line in request_lines(b) {
        // `... user [time] "METHOD`
        let Some(before) = line.method.checked_sub(3) else {
            continue;
        };
        if &b[before..line.method] != b"] \"" {
            continue;
        }
        let Some(open) = memchr::memrchr(b'[', &b[..before]) else {
            continue;
        };
        if open < 2 || b[open - 1] != b' ' || before - open > 40 {
            continue;
        }
        let user_end = open - 1;
        let user_start = memchr::memrchr(b' ', &b[..user_end]).map_or(0, |s| s + 1);
        // The ident field before the user, and something before it.
        let ident_ok = user_start >= 3 && {
            let ident_end = user_start - 1;
            let ident_start = memchr::memrchr(b' ', &b[..ident_end]).map_or(0, |s| s + 1);
            ident_start > 0 && ident_start < ident_end
        };
        let user = &b[user_start..user_end];
        if ident_ok && !user.is_empty() && user != b"-" && !user.contains(&b'[') {
            out.push((user_start, user_end));
        }
    }
}

/// The shortest text that may hold a person's value in a distinguished
/// name or filter: `(cn=a)`.
const DN_MIN_LEN: usize = 6;

/// The attributes of an LDAP distinguished name (RFC 4514) and search
/// filter (RFC 4515) whose value names a person: the common name, the
/// user id, the surname and the given name. A group's or a service's
/// common name (`cn=admins`) is taken too: the fail-closed side.
const DN_PERSON_ATTRS: &[&[u8]] = &[b"cn", b"uid", b"sn", b"givenname"];

/// The attributes that tell a distinguished name ([`find_dn_values`]):
/// RFC 4514's table (`CN`, `L`, `ST`, `O`, `OU`, `C`, `STREET`, `DC`,
/// `UID`) and the person attributes.
const DN_ATTRS: &[&[u8]] = &[
    b"cn",
    b"l",
    b"st",
    b"o",
    b"ou",
    b"c",
    b"street",
    b"dc",
    b"uid",
    b"sn",
    b"givenname",
];

/// The length of the attribute name `attr=` that starts `b`, `=` included,
/// when it is one of `attrs` (any letter case); else 0.
fn dn_attr_len(b: &[u8], attrs: &[&[u8]]) -> usize {
    let name = b.iter().take_while(|&&c| c.is_ascii_alphabetic()).count();
    let known = attrs.iter().any(|a| b[..name].eq_ignore_ascii_case(a));
    if name > 0 && known && b.get(name) == Some(&b'=') {
        name + 1
    } else {
        0
    }
}

/// The values that name a person ([`DN_PERSON_ATTRS`]) in LDAP
/// distinguished names and search filters written into text, as
/// directory, VPN, single sign-on and mutual-TLS logs carry them:
/// `cn=Ann Lee,ou=People,dc=corp,dc=example`,
/// `CN=Lee\, Ann,OU=Staff,DC=corp` (Active Directory),
/// `subject=CN=Ann Lee,O=Example` (a client certificate),
/// `(&(objectClass=person)(uid=ann))`. The attribute's name starts a word
/// (no letter, digit, `_` or `-` before it) and is followed by `=`; the
/// value runs to a `,`, `+`, `)`, `"`, `;`, line end, a space before the
/// log line's next `name=` field ([`starts_with_member`]) or the end, a
/// `\` escaping the byte after it (`\,`), without its trailing spaces. It
/// is taken in a distinguished name (the attribute after a `,` or a `+`
/// and spaces, or the value followed by a `,` or a `+`, spaces and one of
/// [`DN_ATTRS`] with its `=`) or a filter (the attribute right after a
/// `(`, the value right before a `)`, not of digits alone: PAM's
/// `(uid=1000)` is a Unix user's number); `cn=Ann` alone is not one.
fn find_dn_values(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    // The end of the value read last, and whether a distinguished name's
    // next attribute follows it: a value that starts inside it ends there
    // too (its start is past an `=`, which no `\` escapes), so that each
    // byte is read a bounded number of times, whatever the text.
    let (mut stop, mut stop_next_rdn) = (0, false);
    for eq in memchr::memchr_iter(b'=', b) {
        // The person attributes end with `n`, `d` or `e`.
        if eq < done || eq == 0 || !matches!(b[eq - 1] | 0x20, b'n' | b'd' | b'e') {
            continue;
        }
        let attr = b[..eq]
            .iter()
            .rposition(|&c| !c.is_ascii_alphabetic())
            .map_or(0, |i| i + 1);
        if (attr > 0 && is_name_byte(b[attr - 1])) || dn_attr_len(&b[attr..], DN_PERSON_ATTRS) == 0
        {
            continue;
        }
        let start = eq + 1;
        if start >= stop {
            stop = start;
            while stop < b.len() {
                match b[stop] {
                    b',' | b'+' | b')' | b'"' | b';' | b'\n' | b'\r' => break,
                    b' ' if starts_with_member(&b[stop + 1..], b'=') => break,
                    b'\\' => stop = (stop + 2).min(b.len()),
                    _ => stop += 1,
                }
            }
            let rest = &b[stop..];
            stop_next_rdn = matches!(rest.first(), Some(b',' | b'+')) && {
                let spaces = rest[1..].iter().take_while(|&&c| c == b' ').count();
                dn_attr_len(&rest[1 + spaces..], DN_ATTRS) > 0
            };
        }
        let (end, next_rdn) = (stop, stop_next_rdn);
        let after_comma = b[..attr]
            .iter()
            .rposition(|&c| c != b' ')
            .is_some_and(|i| matches!(b[i], b',' | b'+'));
        // Not PAM's `(uid=1000)`, a Unix user's number.
        let filter = attr > 0
            && b[attr - 1] == b'('
            && b.get(end) == Some(&b')')
            && !b[start..end].iter().all(u8::is_ascii_digit);
        let trimmed = start
            + b[start..end]
                .iter()
                .rposition(|&c| c != b' ')
                .map_or(0, |i| i + 1);
        if trimmed > start && (after_comma || next_rdn || filter) {
            out.push((start, trimmed));
            done = end;
        }
    }
}

/// The labels of a Windows security event's text whose value names an
/// account or the computer it signed in from, as Windows renders the
/// event's message (which Windows Event Forwarding and log shippers send
/// as it is): `Account Name`, `Security ID`, `Logon Account` (event
/// 4776), `Workstation Name` (4624, 4625), `Source Workstation` (4776),
/// `Caller Computer Name` (4740). Names as in Microsoft's security event
/// reference; a Windows installed in another language renders other ones.
const WINDOWS_EVENT_LABELS: &[&[u8]] = &[
    b"Account Name",
    b"Security ID",
    b"Logon Account",
    b"Workstation Name",
    b"Source Workstation",
    b"Caller Computer Name",
];

/// The shortest text that may hold a labelled value of a Windows security
/// event: `Security ID:\tS-1-0-0`.
const WINDOWS_EVENT_MIN_LEN: usize = 13;

/// The values of the accounts and computers in a Windows security event's
/// text ([`WINDOWS_EVENT_LABELS`]): a line (after its leading tabs and
/// spaces) that is one of the labels, in any letter case, then a `:`, a
/// tab and perhaps more tabs and spaces, then the value, to the line's end
/// without its trailing tabs and spaces (`\tAccount Name:\t\tann.lee`,
/// a name with spaces too). `-`, which Windows writes for none, stays.
fn find_windows_event_values(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // Past a label's line: no other label starts it. Each byte is read a
    // bounded number of times, whatever the text.
    let mut done = 0;
    static COLON_TAB: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let colons = COLON_TAB.get_or_init(|| memchr::memmem::Finder::new(b":\t"));
    for colon in colons.find_iter(b) {
        if colon < done {
            continue;
        }
        let Some(label) = WINDOWS_EVENT_LABELS
            .iter()
            .find(|l| colon >= l.len() && b[colon - l.len()..colon].eq_ignore_ascii_case(l))
        else {
            continue;
        };
        let label_start = colon - label.len();
        let before = b[..label_start].iter().rposition(|&c| !is_blank(c));
        if before.is_some_and(|i| b[i] != b'\n') {
            continue;
        }
        let start = colon + 1 + b[colon + 1..].iter().take_while(|&&c| is_blank(c)).count();
        let (end, line_end) = rest_of_line(b, start);
        if end > start && &b[start..end] != b"-" {
            out.push((start, end));
        }
        done = line_end;
    }
}

/// Whether a text of ASCII digits alone may hold any detector's match.
/// Only a card number can be found in digits alone (the other detectors
/// need a separator, a sign, a letter or an `=`), and it is then the whole
/// text (no digit may be glued to one): 13 to 19 digits starting with 2 to
/// 6 (see `card_at`), which leaves out epoch times in milliseconds and
/// nanoseconds (OpenTelemetry's `timeUnixNano` as a string). The engines
/// search a whole number only when this holds
/// ([`crate::engine::scans_number`]); a test checks it on digit runs.
#[inline(always)]
pub(crate) fn digits_may_match(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && matches!(digits.first(), Some(b'2'..=b'6'))
}

/// The spans of `kind` in `text`, in order, possibly overlapping others'.
pub fn find_kind(kind: DetectorKind, text: &str, out: &mut Vec<(usize, usize)>) {
    let p = profile(text);
    if may_match(kind, text.len(), p) {
        find_profiled(kind, text, p, out, &mut Shared::default());
    }
}

/// A reading of one text that two detectors share: a text's commands give
/// the `secret` detector its passwords and `id_param` its users, and are
/// read once for both when both search the text.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Whether the other of the two detectors searches the text too (set
    /// by the caller for each detector it runs).
    both: bool,
    /// Whether the commands were read, and `commands` holds the other
    /// detector's spans.
    read: bool,
    commands: Vec<(usize, usize)>,
}

impl Shared {
    /// Ready for a new text.
    fn clear(&mut self) {
        self.both = false;
        self.read = false;
    }

    /// The spans the commands of `text` give `kind` (`secret` or
    /// `id_param`), appended to `out`; with [`Shared::both`], the other's
    /// kept for it, and taken by it from here.
    fn commands(
        &mut self,
        kind: DetectorKind,
        text: &str,
        p: Profile,
        out: &mut Vec<(usize, usize)>,
    ) {
        if self.read {
            out.extend_from_slice(&self.commands);
            self.read = false;
            return;
        }
        let secret = kind == DetectorKind::Secret;
        if !self.both {
            if secret {
                commands::find_passwords(text, p, out);
            } else {
                commands::find_users(text, p, out);
            }
            return;
        }
        let other = &mut self.commands;
        other.clear();
        if secret {
            commands::find(text, p, Some(out), Some(other));
        } else {
            commands::find(text, p, Some(other), Some(out));
        }
        self.read = true;
    }
}

/// [`find_kind`] with the byte profile of `text` computed once for all
/// detectors. Callers check [`may_match`] first; the finer tests that need
/// more than the profile are here.
fn find_profiled(
    kind: DetectorKind,
    text: &str,
    p: Profile,
    out: &mut Vec<(usize, usize)>,
    shared: &mut Shared,
) {
    match kind {
        DetectorKind::Secret => {
            let before = out.len();
            if p.has(C_COLON_OR_EQUALS) {
                find_userinfo(text, out);
            }
            if p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND) {
                find_named_credentials(text, out);
            }
            if may_hold_quoted_member(p) {
                find_quoted_credentials(text, out);
                find_php_dumped_values(text, is_credential_name, out);
            }
            if p.has(C_COLON_OR_EQUALS) {
                find_header_credentials(text, out);
            }
            if sql::may_hold_sql(text.len(), p) {
                sql::find_values(text, is_credential_name, out);
                sql::find_passwords(text, out);
            }
            if xml::may_hold_xml(text.len(), p) {
                xml::find_values(text, is_credential_name, out);
            }
            if multipart::may_hold_multipart(text.len(), p) {
                multipart::find_values(text, is_credential_name, out);
            }
            if options::may_hold_options(text.len(), p) {
                options::find_credentials(text, out);
            }
            if commands::may_hold_commands(text.len(), p) {
                shared.commands(kind, text, p, out);
            }
            if may_hold_secret(text) {
                find_secrets(text, out);
            }
            echoes::find_echoes(text, before, out);
            // The finders' spans may overlap (a token in a credential's
            // value, a credential in a URL's userinfo): one action rewrites
            // them all, so each overlapping group is rewritten as one span,
            // leaving no part of either.
            merge_overlaps(out);
        }
        DetectorKind::Email => {
            if p.has(C_AT) || (p.has(C_PERCENT_OR_AMPERSAND) && has_encoded_at(text.as_bytes())) {
                find_emails(text, out);
            }
        }
        DetectorKind::CreditCard => {
            if p.digits == text.len() && !digits_may_match(text.as_bytes()) {
                return;
            }
            let before = out.len();
            find_cards(text, out);
            // Not the digits of a UUID inside the text (a URL's path).
            let b = text.as_bytes();
            retain_from(out, before, |s, e| !in_uuid(b, s, e));
        }
        DetectorKind::Ipv6 => find_ipv6(text, out),
        DetectorKind::Ipv4 => find_ipv4(text, p, out),
        DetectorKind::Phone => {
            if p.has(C_PLUS) {
                find_phones(text, out);
            }
            if may_hold_national_phone(text.len(), p) {
                find_national_phones(text, out);
                find_trunk_phones(text, out);
                // `+1 415-555-0132` is found by two finders, and each
                // finder's spans are in order but not the three lists.
                merge_overlaps(out);
            }
        }
        DetectorKind::Mac => find_macs(text, out),
        DetectorKind::Ssn => find_ssns(text, out),
        DetectorKind::Iban => find_ibans(text, out),
        DetectorKind::PersonalParam => {
            let before = out.len();
            if p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND) {
                find_named_values(text, is_personal_name, out);
            }
            if p.has(C_COLON_OR_EQUALS) {
                find_header_values(text, is_personal_name, true, out);
            }
            if may_hold_quoted_member(p) {
                find_quoted_values(text, is_personal_name, out);
                find_php_dumped_values(text, is_personal_name, out);
            }
            if sql::may_hold_sql(text.len(), p) {
                sql::find_values(text, is_personal_name, out);
            }
            if xml::may_hold_xml(text.len(), p) {
                xml::find_values(text, is_personal_name, out);
                if p.has(C_AT) {
                    display_names::find_display_names(text, out);
                }
            }
            if multipart::may_hold_multipart(text.len(), p) {
                multipart::find_values(text, is_personal_name, out);
            }
            if bindings::may_hold_bindings(text.len(), p) {
                bindings::find_values(text, out);
            }
            echoes::find_echoes(text, before, out);
            // Each finder's spans are in order, but not the ten lists.
            merge_overlaps(out);
        }
        DetectorKind::IdParam => {
            // The values of id names, in their several forms.
            let before = out.len();
            if p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND) {
                find_named_values_or_query(text, is_id_name, is_query_id_name, out);
                if p.has(C_COLON_OR_EQUALS) {
                    // `X-Forwarded-User: ann`, `user: ann`.
                    find_header_values(text, is_id_name, false, out);
                }
                if may_hold_quoted_member(p) {
                    find_quoted_values(text, is_id_name, out);
                    find_php_dumped_values(text, is_id_name, out);
                }
            }
            if sql::may_hold_sql(text.len(), p) {
                sql::find_values(text, is_id_name, out);
            }
            if xml::may_hold_xml(text.len(), p) {
                xml::find_values(text, is_id_name, out);
            }
            if multipart::may_hold_multipart(text.len(), p) {
                multipart::find_values(text, is_id_name, out);
            }
            if options::may_hold_options(text.len(), p) {
                options::find_ids(text, out);
            }
            if commands::may_hold_commands(text.len(), p) {
                shared.commands(kind, text, p, out);
            }
            // sudo's `USER=root`, a database's `user=root`, `mysql -u root`.
            let b = text.as_bytes();
            retain_from(out, before, |s, e| &b[s..e] != ROOT);
            if p.digits >= LOG_USER_LINE_MIN_DIGITS && text.len() >= LOG_USER_LINE_MIN_LEN {
                find_log_users(text, out);
            }
            if may_hold_home_path(text.len(), p) {
                find_home_users(text, out);
            }
            if may_hold_auth_line(text.len(), p) {
                find_auth_users(text, out);
            }
            if p.has(C_COLON_OR_EQUALS) && text.len() >= WINDOWS_EVENT_MIN_LEN {
                find_windows_event_values(text, out);
            }
            if p.has(C_COLON_OR_EQUALS) && text.len() >= DN_MIN_LEN {
                find_dn_values(text, out);
            }
            echoes::find_echoes(text, before, out);
            // Each finder's spans are in order, but not the ten lists.
            merge_overlaps(out);
        }
        DetectorKind::RequestQuery => find_request_queries(text, out),
        DetectorKind::UserAgent => {
            find_log_user_agents(text, out);
            if p.has(C_COLON_OR_EQUALS | C_PERCENT_OR_AMPERSAND) {
                // Quoted values only: a User-Agent has spaces, and so has
                // its reduced form, which would split an unquoted value.
                let before = out.len();
                find_named_values(text, is_user_agent_name, out);
                let b = text.as_bytes();
                retain_from(out, before, |s, e| {
                    s > 0 && matches!(b[s - 1], b'"' | b'\'') && &b[s..e] != b"-"
                });
                merge_overlaps(out);
            }
        }
    }
}

impl Detectors {
    /// Finds non-overlapping matches of every detector in `text`, earlier
    /// detectors winning overlaps; sorted by position.
    pub fn find(&self, text: &str, out: &mut Vec<Found>) {
        self.find_with::<false>(text, None, out, &mut Vec::new(), &mut Shared::default());
    }

    /// [`Detectors::find`] with a reusable buffer for each detector's spans
    /// and for the readings detectors share ([`Shared`]), and, with
    /// `GIVEN`, the spans `argument` gives the `secret` and `id_param`
    /// detectors besides their own (without, the loop over the detectors
    /// has no branch for them). Returns whether `text` is ASCII (from the
    /// census it takes anyway).
    fn find_with<const GIVEN: bool>(
        &self,
        text: &str,
        argument: Option<&ArgumentSpans>,
        out: &mut Vec<Found>,
        spans: &mut Vec<(usize, usize)>,
        shared: &mut Shared,
    ) -> bool {
        out.clear();
        shared.clear();
        let profile = profile(text);
        let ascii = !profile.has(census::NON_ASCII);
        // Most texts need no detector at all: decide that for all of them
        // at once, without a branch per detector.
        let mut gates = may_match_all(text.len(), profile);
        if gates == 0 || is_timestamp(text.as_bytes()) {
            gates = 0;
        } else if gates & NOT_IN_UUIDS != 0 && is_uuid(text.as_bytes()) {
            gates &= !NOT_IN_UUIDS;
        }
        if gates == 0 && !GIVEN {
            return ascii;
        }
        for (di, d) in self.list.iter().enumerate() {
            let given: &[(usize, usize)] = match (argument, d.kind) {
                (Some(a), DetectorKind::Secret) if GIVEN => &a.secret,
                (Some(a), DetectorKind::IdParam) if GIVEN => &a.ids,
                _ => &[],
            };
            let gated = gates >> (d.kind as u32) & 1 != 0;
            if !gated && given.is_empty() {
                continue;
            }
            spans.clear();
            if gated {
                // Whether the other of `secret` and `id_param` searches the
                // text too (a detector that is not listed gets the bit as
                // well: only a reading is spent on it).
                let other = match d.kind {
                    DetectorKind::Secret => DetectorKind::IdParam,
                    _ => DetectorKind::Secret,
                };
                shared.both = gates >> (other as u32) & 1 != 0;
                find_profiled(d.kind, text, profile, spans, shared);
            }
            if !given.is_empty() {
                spans.extend_from_slice(given);
                merge_overlaps(spans);
            }
            let found = spans.iter().map(|&(start, end)| Found {
                start,
                end,
                detector: di,
            });
            add_disjoint(out, found, |f| (f.start, f.end));
        }
        ascii
    }

    /// Rewrites every match in `text`; `None` when nothing matched.
    /// `on_match` is called once per match with the detector index.
    pub fn rewrite(&self, text: &str, on_match: impl FnMut(usize)) -> Option<String> {
        let mut out = String::new();
        self.rewrite_into(text, &mut Scratch::default(), &mut out, on_match)
            .then_some(out)
    }

    /// [`Detectors::rewrite`], appended to `out`; false (and `out`
    /// unchanged) when nothing matched. Once `scratch` and `out` have
    /// grown, nothing is allocated (but for a detector whose action
    /// replaces matches with a constant that is not a string, and for a
    /// text with characters in other forms).
    ///
    /// A text with characters in other forms (full-width forms
    /// as typed with an East Asian input method, `０９０－１２３４`,
    /// `ｔａｒｏ＠…`; digits of other scripts) is searched again with each
    /// form folded to ASCII on its own. A match of a folded text that
    /// overlaps none found before is rewritten too, its action applied to
    /// the folded form (so that both spellings give one token). Searching
    /// the text as it is first keeps what folding would hide: a full-width
    /// digit glued to an address makes the folded digits a longer number,
    /// not an address. (ASCII texts, which the census finds out anyway, are
    /// not looked at again.)
    pub fn rewrite_into(
        &self,
        text: &str,
        scratch: &mut Scratch,
        out: &mut String,
        on_match: impl FnMut(usize),
    ) -> bool {
        self.rewrite_with(text, None, scratch, out, on_match)
    }

    /// [`Detectors::rewrite_into`] of `text`, an element of an argument
    /// list, with the credentials and ids that the options before it give
    /// it ([`ArgumentSpans::read`]) found besides the detectors' own.
    pub(crate) fn rewrite_argument_into(
        &self,
        text: &str,
        argument: &ArgumentSpans,
        scratch: &mut Scratch,
        out: &mut String,
        on_match: impl FnMut(usize),
    ) -> bool {
        self.rewrite_with(text, Some(argument), scratch, out, on_match)
    }

    /// [`Detectors::rewrite_into`], with [`Detectors::find_with`]'s
    /// `argument`.
    fn rewrite_with(
        &self,
        text: &str,
        argument: Option<&ArgumentSpans>,
        scratch: &mut Scratch,
        out: &mut String,
        mut on_match: impl FnMut(usize),
    ) -> bool {
        let mut found = std::mem::take(&mut scratch.found);
        let ascii = if argument.is_some() {
            self.find_with::<true>(
                text,
                argument,
                &mut found,
                &mut scratch.spans,
                &mut scratch.shared,
            )
        } else {
            self.find_with::<false>(
                text,
                None,
                &mut found,
                &mut scratch.spans,
                &mut scratch.shared,
            )
        };
        if !ascii {
            forms_in(text, &mut scratch.forms);
            if !scratch.forms.is_empty() {
                return self.rewrite_folded(text, found, scratch, out, on_match);
            }
        }
        let matches = found.iter().map(|f| (*f, &text[f.start..f.end]));
        let matched = self.splice(text, matches, scratch, out, &mut on_match);
        scratch.found = found;
        matched
    }

    /// Appends `text` to `out` with each match (in order, not overlapping)
    /// replaced by what its detector's action makes of the text given with
    /// it; false (and nothing appended) when there is none.
    fn splice<'t>(
        &self,
        text: &str,
        matches: impl ExactSizeIterator<Item = (Found, &'t str)>,
        scratch: &mut Scratch,
        out: &mut String,
        on_match: &mut impl FnMut(usize),
    ) -> bool {
        if matches.len() == 0 {
            return false;
        }
        out.reserve(text.len());
        let mut last = 0;
        for (f, matched) in matches {
            out.push_str(&text[last..f.start]);
            rewrite_match(&self.list[f.detector], matched, scratch, out);
            on_match(f.detector);
            last = f.end;
        }
        out.push_str(&text[last..]);
        true
    }

    /// Rewrites the matches of `text`, whose own matches are `found`, and
    /// of `text` with each [`Form`] of `scratch.forms` folded to ASCII:
    /// adds the matches of each folded text that overlap none found before
    /// (the text's own first). Each form is folded alone, so that a
    /// character of one form glued to an address in another is not read as
    /// part of it (nor, see [`fold_form`], a digit of one script glued to
    /// an address in another's).
    fn rewrite_folded(
        &self,
        text: &str,
        mut found: Vec<Found>,
        scratch: &mut Scratch,
        out: &mut String,
        mut on_match: impl FnMut(usize),
    ) -> bool {
        let forms = std::mem::take(&mut scratch.forms);
        let mut folded = std::mem::take(&mut scratch.folded);
        let mut map = std::mem::take(&mut scratch.map);
        if folded.len() < forms.len() {
            folded.resize_with(forms.len(), String::new);
            map.resize_with(forms.len(), Vec::new);
        }
        for (i, &form) in forms.iter().enumerate() {
            fold_form(text, form, &mut folded[i], &mut map[i]);
        }
        let mut view_found = std::mem::take(&mut scratch.view_found);
        // Each match with the range its action applies to: in the text, or
        // in a folded text.
        let mut all: Vec<(Found, &str)> =
            found.iter().map(|f| (*f, &text[f.start..f.end])).collect();
        for (view, map) in folded.iter().zip(&map).take(forms.len()) {
            self.find_with::<false>(
                view,
                None,
                &mut view_found,
                &mut scratch.spans,
                &mut scratch.shared,
            );
            let mapped = view_found.iter().map(|f| {
                let at = Found {
                    start: map[f.start],
                    end: map[f.end],
                    detector: f.detector,
                };
                (at, &view[f.start..f.end])
            });
            add_disjoint(&mut all, mapped, |(f, _)| (f.start, f.end));
        }
        let matched = self.splice(text, all.into_iter(), scratch, out, &mut on_match);
        found.clear();
        scratch.found = found;
        scratch.view_found = view_found;
        scratch.forms = forms;
        scratch.map = map;
        scratch.folded = folded;
        matched
    }
}

/// The credentials and ids that the options of an argument list (a JSON
/// array of strings: OpenTelemetry's `process.command_args`, the Elastic
/// Common Schema's `process.args`) give one of its elements, as the
/// `secret` and `id_param` detectors read them in a command line:
/// `["mysql", "-u", "ann", "--password", "hunter2"]` is read as `mysql -u
/// ann --password hunter2` is.
#[derive(Debug, Default)]
pub(crate) struct ArgumentSpans {
    secret: Vec<(usize, usize)>,
    ids: Vec<(usize, usize)>,
}

impl ArgumentSpans {
    /// How many of a list's first elements are asked whether they name a
    /// command (`named` of [`ArgumentSpans::read`]): the command comes
    /// first (`mysql`, `docker login`, `sshpass -p ... ssh`), and a long
    /// list is not searched again for each of its options.
    pub(crate) const COMMAND_ELEMENTS: usize = 8;

    /// Whether an element `value` after the element `prev` may be an
    /// option's value: one of them starts with `-` or `/`.
    #[inline(always)]
    pub(crate) fn may_apply(prev: Option<&str>, value: &str) -> bool {
        let option = |e: &str| e.starts_with(['-', '/']);
        option(value) || prev.is_some_and(option)
    }

    /// Reads the element `value` after the element `prev` (`None` for the
    /// first, or after an element that is not a string), adding what its
    /// options give it; `named(text)` tells whether `text` names one of the
    /// commands whose short and `/` options are read, and `in_list(named)`
    /// whether one of the list's first [`ArgumentSpans::COMMAND_ELEMENTS`]
    /// elements does (a command line's reading asks it of the whole line).
    /// Returns whether anything was found here or before.
    pub(crate) fn read(
        &mut self,
        prev: Option<&str>,
        value: &str,
        in_list: impl Fn(&dyn Fn(&str) -> bool) -> bool,
    ) -> bool {
        let named = |words: &[&[u8]]| in_list(&|e: &str| options::mentions(e.as_bytes(), words));
        options::find_in_argument(
            prev.map(str::as_bytes),
            value.as_bytes(),
            named,
            &mut self.secret,
            &mut self.ids,
        );
        !self.secret.is_empty() || !self.ids.is_empty()
    }

    /// Forgets what was read.
    pub(crate) fn clear(&mut self) {
        self.secret.clear();
        self.ids.clear();
    }

    /// Adds what `plain` gives the list's element number `index`.
    /// Returns whether anything was found here or before.
    pub(crate) fn add_plain(&mut self, plain: &PlainSpans, index: usize) -> bool {
        if let Some(element) = plain.elements.get(index) {
            // The spans in this element, from its start.
            let within = |v: &[(usize, usize)], out: &mut Vec<(usize, usize)>| {
                let before = out.len();
                out.extend(v.iter().filter_map(|&(s, e)| {
                    let (s, e) = (s.max(element.start), e.min(element.end));
                    (s < e).then(|| (s - element.start, e - element.start))
                }));
                if out.len() > before {
                    merge_overlaps(out);
                }
            };
            within(&plain.secret, &mut self.secret);
            within(&plain.ids, &mut self.ids);
        }
        !self.secret.is_empty() || !self.ids.is_empty()
    }
}

/// What the plain arguments of an argument list's command give its first
/// elements (`["net", "user", "ann", "..."]`): the list's first
/// [`PlainSpans::ELEMENTS`] strings joined into the command line they
/// stand for, read once for the list as the `secret` and `id_param`
/// detectors read a command's plain arguments, and the spans it finds.
#[derive(Debug, Default)]
pub(crate) struct PlainSpans {
    line: String,
    /// Where each element's text is in `line`.
    elements: Vec<std::ops::Range<usize>>,
    secret: Vec<(usize, usize)>,
    ids: Vec<(usize, usize)>,
}

impl PlainSpans {
    /// How many of a list's first elements are joined into its command
    /// line: as many as a command's words that are read.
    pub(crate) const ELEMENTS: usize = commands::WORDS_MAX;

    /// Whether a list whose first element is `first` may hold a command's
    /// plain arguments: `first` names a command whose arguments are read,
    /// not one of SQL's statements (a list of `["create", "update"]` is no
    /// command line).
    #[inline]
    pub(crate) fn names_command(first: &str) -> bool {
        commands::names_listed_command(first.as_bytes())
    }

    /// Starts the line of another list.
    pub(crate) fn clear(&mut self) {
        self.line.clear();
        self.elements.clear();
        self.secret.clear();
        self.ids.clear();
    }

    /// Appends `element`, the list's next string, to the line as one
    /// word: quoted when it holds whitespace, a quote or a separator
    /// (`"pw 2"` is one argument), with a quote it does not hold (as it is
    /// when it holds both).
    pub(crate) fn push(&mut self, element: &str) {
        let line = &mut self.line;
        if !line.is_empty() {
            line.push(' ');
        }
        let plain = !element
            .bytes()
            .any(|c| c.is_ascii_whitespace() || matches!(c, b'\'' | b'"' | b';' | b'|' | b'&'));
        let quote = [b'\'', b'"']
            .into_iter()
            .find(|&q| !element.as_bytes().contains(&q))
            .filter(|_| !plain)
            .map(char::from);
        line.extend(quote);
        let start = line.len();
        line.push_str(element);
        self.elements.push(start..line.len());
        line.extend(quote);
    }

    /// Reads the line, once its elements are pushed; returns how many
    /// elements it holds (those [`ArgumentSpans::add_plain`] may give
    /// something).
    pub(crate) fn read(&mut self) -> usize {
        let p = profile(&self.line);
        commands::find(&self.line, p, Some(&mut self.secret), Some(&mut self.ids));
        self.elements.len()
    }
}

/// Adds to `out`, whose items' ranges (`range`) are sorted and disjoint,
/// each of `items` in turn whose range is not empty and overlaps none
/// already there, and sorts `out` again: of two overlapping items, the
/// first wins. A finder gives its matches in ascending runs, so each item
/// is checked against the last one added and, by binary search, against
/// those before the run: no cost per pair of matches, which a long text
/// with many matches would pay.
fn add_disjoint<T>(
    out: &mut Vec<T>,
    items: impl Iterator<Item = T>,
    range: impl Fn(&T) -> (usize, usize),
) {
    // `out[..base]` is sorted; `last` is the range added last after it.
    let mut base = out.len();
    let mut last: Option<(usize, usize)> = None;
    for item in items {
        let (start, end) = range(&item);
        if start >= end {
            continue;
        }
        match last {
            Some((last_start, _)) if start < last_start => {
                // A new run (a finder's second pass): make all of `out`
                // the sorted part.
                out.sort_unstable_by_key(|x| range(x).0);
                base = out.len();
                last = None;
            }
            Some((_, last_end)) if start < last_end => continue,
            _ => {}
        }
        // The items before the run that start before `end`: the last of
        // them ends last (they are disjoint), so it alone can overlap.
        let before = out[..base].partition_point(|x| range(x).0 < end);
        if before > 0 && range(&out[before - 1]).1 > start {
            continue;
        }
        out.push(item);
        last = Some((start, end));
    }
    if base > 0 && out.len() > base && range(&out[base]).0 < range(&out[base - 1]).0 {
        out.sort_unstable_by_key(|x| range(x).0);
    }
}

/// Other forms of ASCII characters that detectors read as those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The full-width forms U+FF01 to U+FF5E and the ideographic space
    /// U+3000, as East Asian input methods type them.
    Wide,
    /// The decimal digits of every other script (see [`DIGIT_ZEROS`]).
    Digits,
}

/// The zero of every run of ten decimal digits (Unicode's `Nd`, whose
/// digits come in such runs, 0 to 9 in order) but ASCII's and the
/// full-width forms' (see [`Form::Wide`]): Arabic, Persian, N'Ko,
/// Devanagari, Bengali and the other Indic scripts, Thai, Lao, Tibetan,
/// Myanmar, Khmer, Mongolian, ..., the mathematical digits. Sorted. Unicode
/// 16, as `regex`'s `\d` has it (a test checks every code point against it).
const DIGIT_ZEROS: [u32; 74] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0x104A0, 0x10D30, 0x10D40, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
    0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0, 0x11950, 0x11BF0, 0x11C50, 0x11D50,
    0x11DA0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0, 0x1D7CE, 0x1D7D8,
    0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
];

/// The zero of the digits `c` is one of, if it is a decimal digit of a
/// script other than ASCII's and the full-width forms'.
#[inline]
fn digit_zero(c: char) -> Option<u32> {
    let n = u32::from(c);
    // Latin, Greek and Cyrillic letters; CJK, Hangul and the full-width
    // forms: no digit of [`DIGIT_ZEROS`] lies in these ranges.
    if n < DIGIT_ZEROS[0] || (0x1C5A..0xA620).contains(&n) || (0xABFA..0x104A0).contains(&n) {
        return None;
    }
    let zero = DIGIT_ZEROS[DIGIT_ZEROS.partition_point(|&z| z <= n) - 1];
    (n - zero < 10).then_some(zero)
}

/// The ASCII character `c` stands for in `form`, if it is of that form.
#[inline]
fn ascii_form(c: char, form: Form) -> Option<char> {
    let n = u32::from(c);
    match form {
        Form::Wide => match n {
            0xFF01..=0xFF5E => char::from_u32(n - 0xFEE0),
            0x3000 => Some(' '),
            _ => None,
        },
        Form::Digits => digit_zero(c).map(|zero| char::from(b'0' + (n - zero) as u8)),
    }
}

/// Collects into `forms` each [`Form`] that characters of `text` (not
/// ASCII) are of, in the order of their first characters.
fn forms_in(text: &str, forms: &mut Vec<Form>) {
    forms.clear();
    for c in text.chars().filter(|c| !c.is_ascii()) {
        let Some(form) = [Form::Wide, Form::Digits]
            .into_iter()
            .find(|&f| ascii_form(c, f).is_some())
        else {
            continue;
        };
        if !forms.contains(&form) {
            forms.push(form);
            if forms.len() == 2 {
                return;
            }
        }
    }
}

/// What [`fold_form`] puts after a digit followed by one of another script:
/// no detector takes it into a match, so that neither run of digits is
/// read as part of the other.
const SCRIPT_BREAK: char = '\u{1}';

/// Characters that detectors take between the digits of one number
/// (phones, cards, IPv4 addresses).
fn joins_digits(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '(' | ')')
}

/// `folded` becomes `text` with each character of `form` replaced by its
/// [`ascii_form`], and `map[i]` the offset in `text` of byte `i` of
/// `folded` (one more entry: `text.len()`), so that a range of `folded` on
/// character boundaries maps to one of `text`.
///
/// [`Form::Digits`] puts a [`SCRIPT_BREAK`] after a digit when the next
/// digit, with nothing but [`joins_digits`] characters between them, is of
/// another script: one view serves every script, so a text costs three
/// searches at most whatever it holds, yet a digit of one script glued to
/// an address written in another (`๓१९२.०.२.१५`, `၁ ४१११ ११११ …`) does
/// not make it a longer number.
fn fold_form(text: &str, form: Form, folded: &mut String, map: &mut Vec<usize>) {
    folded.clear();
    map.clear();
    for (at, c) in text.char_indices() {
        let Some(a) = ascii_form(c, form) else {
            folded.push(c);
            map.extend(at..at + c.len_utf8());
            continue;
        };
        folded.push(a);
        map.push(at);
        if form == Form::Digits {
            let next = at + c.len_utf8();
            let other = text[next..]
                .chars()
                .find(|&n| !joins_digits(n))
                .and_then(digit_zero)
                .is_some_and(|zero| Some(zero) != digit_zero(c));
            if other {
                folded.push(SCRIPT_BREAK);
                map.push(next);
            }
        }
    }
    map.push(text.len());
}

/// Buffers that [`Detectors::rewrite_into`] reuses from call to call.
#[derive(Debug, Default)]
pub struct Scratch {
    found: Vec<Found>,
    spans: Vec<(usize, usize)>,
    /// The [`Form`]s of a text's characters; per form, the text with it
    /// folded to ASCII and the offset in the text of each byte of that (see
    /// [`fold_form`]); and the matches of a folded text.
    forms: Vec<Form>,
    folded: Vec<String>,
    map: Vec<Vec<usize>>,
    view_found: Vec<Found>,
    /// An email match whose `@` is encoded, or an IPv4 match written with
    /// dashes, in its plain form.
    canon: String,
    /// Its replacement, before it is written as the match was.
    piece: String,
    /// For callers: the detectors that matched in a text, in order.
    pub(crate) matched: Vec<usize>,
    /// What detectors share of their readings of a text.
    shared: Shared,
}

/// Appends the replacement for one detected substring to `out`.
fn rewrite_match(d: &Detector, matched: &str, scratch: &mut Scratch, out: &mut String) {
    if d.kind == DetectorKind::Ipv4 && is_reverse_dns(matched) {
        return rewrite_reverse_dns(d, matched, scratch, out);
    }
    let Scratch { canon, piece, .. } = scratch;
    canon.clear();
    // A match written in another form is acted on in its plain form
    // (`canon`), and each `plain` character of the replacement written as
    // the match wrote it, so that the text around it reads as before:
    // - an IPv4 address written with dashes (in a hostname) is dotted, and
    //   the replacement's dots become dashes (`c-73-22-1-0.hsd1.…`);
    // - an email whose `@` is encoded is decoded, and the replacement's
    //   `@`s encoded the same way. The local part holds no `@` and the
    //   domain no `%` or `&`: a match without an `@` has its encoded one
    //   at its last `%` or `&`.
    let written = if d.kind == DetectorKind::Ipv4 && matched.contains('-') {
        canon.extend(matched.chars().map(|c| if c == '-' { '.' } else { c }));
        Some(('.', "-"))
    } else if d.kind == DetectorKind::Email && !matched.contains('@') {
        let b = matched.as_bytes();
        b.iter()
            .rposition(|&c| c == b'%' || c == b'&')
            .and_then(|i| encoded_at_len(&b[i..]).map(|n| (i, &matched[i..i + n])))
            .map(|(i, sep)| {
                canon.push_str(&matched[..i]);
                canon.push('@');
                canon.push_str(&matched[i + sep.len()..]);
                ('@', sep)
            })
    } else {
        None
    };
    let Some((plain, as_written)) = written else {
        return replacement(&d.action, matched, out);
    };
    piece.clear();
    replacement(&d.action, canon, piece);
    let mut rest = piece.as_str();
    while let Some(at) = rest.find(plain) {
        out.push_str(&rest[..at]);
        out.push_str(as_written);
        rest = &rest[at + plain.len_utf8()..];
    }
    out.push_str(rest);
}

/// Whether an IPv4 match is a reverse DNS name (its octets reversed, then
/// [`REVERSE_DNS`]).
fn is_reverse_dns(matched: &str) -> bool {
    matched.len() > REVERSE_DNS.len()
        && is_reverse_dns_suffix(&matched.as_bytes()[matched.len() - REVERSE_DNS.len()..])
}

/// Rewrites a reverse DNS name (`7.113.0.203.in-addr.arpa`): the action
/// sees the address in its own order (`203.0.113.7`), so that generalizing
/// zeroes its last octets, not its first; a replacement that is an
/// address is written reversed again (`0.113.0.203.in-addr.arpa`), any
/// other (a token, a mask) as it is; the suffix follows as written.
fn rewrite_reverse_dns(d: &Detector, matched: &str, scratch: &mut Scratch, out: &mut String) {
    let Scratch { canon, piece, .. } = scratch;
    let (quad, suffix) = matched.split_at(matched.len() - REVERSE_DNS.len());
    canon.clear();
    reverse_octets(quad, canon);
    piece.clear();
    replacement(&d.action, canon, piece);
    if crate::actions::padded_quad(piece.as_bytes()).is_some() {
        reverse_octets(piece, out);
    } else {
        out.push_str(piece);
    }
    out.push_str(suffix);
}

/// Appends the dot-separated parts of `text` to `out` in reverse order.
fn reverse_octets(text: &str, out: &mut String) {
    for (i, part) in text.rsplit('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(part);
    }
}

/// Appends what `action` makes of a detected (decoded) substring to `out`.
fn replacement(action: &Action, matched: &str, out: &mut String) {
    match action {
        Action::Drop => {}
        Action::Keep => out.push_str(matched),
        Action::Replace(Value::String(s)) => out.push_str(s),
        Action::Replace(v) => out.push_str(&crate::json::to_string(v)),
        Action::Tokenize(t) => t.token_into(matched, out),
        Action::Mask(m) => m.apply_into(matched, out),
        Action::Generalize(g) => {
            if !g.apply_into(matched, false, out) {
                out.push_str("[REDACTED]");
            }
        }
    }
}

/// The texts of `kind`'s matches in `text`, for the finders' tests.
#[cfg(test)]
fn spans(kind: DetectorKind, text: &str) -> Vec<&str> {
    let mut v = Vec::new();
    find_kind(kind, text, &mut v);
    v.into_iter().map(|(s, e)| &text[s..e]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random short strings (up to 39 bytes) over the bytes the
    /// prefilters look at.
    fn strings(alphabet: &[u8], count: usize) -> Vec<String> {
        let pieces: Vec<String> = alphabet
            .iter()
            .map(|&b| char::from(b).to_string())
            .collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        crate::test_texts::from_pieces(0x9e37_79b9_7f4a_7c15, count, (0, 39), &pieces)
    }

    #[test]
    fn no_detector_matches_inside_a_timestamp() {
        // Every shape `is_timestamp` admits, with random digits (among them
        // long runs of one digit and Luhn-valid fractions), run through
        // every detector on its own: none may find anything, which is what
        // lets `find_with` skip them.
        let mut next = crate::test_texts::xorshift(0x2545_f491_4f6c_dd1d);
        let mut checked = 0;
        for round in 0..4_000u64 {
            let r = next();
            let d = |k: u64| char::from(b'0' + ((r >> (k % 60)) % 10) as u8);
            let digit = |k: u64| {
                if round % 7 == 0 {
                    '4'
                } else {
                    d(k * 3 + round)
                }
            };
            let mut t: String = "0000-00-00T00:00:00"
                .chars()
                .enumerate()
                .map(|(i, c)| if c == '0' { digit(i as u64) } else { c })
                .collect();
            let fraction = (r >> 8) % 11;
            if fraction > 0 && fraction <= 9 {
                t.push('.');
                t.extend((0..fraction).map(|k| digit(k + 20)));
            }
            match (r >> 16) % 4 {
                0 => {}
                1 => t.push('Z'),
                2 => t.push_str(&format!(
                    "+{}{}:{}{}",
                    digit(1),
                    digit(2),
                    digit(3),
                    digit(4)
                )),
                _ => t.push_str(&format!(
                    "-{}{}:{}{}",
                    digit(5),
                    digit(6),
                    digit(7),
                    digit(8)
                )),
            }
            assert!(is_timestamp(t.as_bytes()), "{t:?}");
            for kind in DetectorKind::ALL {
                let mut v = Vec::new();
                find_kind(kind, &t, &mut v);
                assert!(v.is_empty(), "{kind:?} in {t:?}: {v:?}");
            }
            checked += 1;
        }
        assert_eq!(checked, 4_000);
    }

    #[test]
    fn uuids_are_not_looked_inside() {
        // Random UUIDs, some of digits only (the shapes closest to a phone
        // number or a hostname's address), some upper case: nothing is
        // found in them, and the five detectors that cannot match one find
        // nothing when asked.
        let ds = Detectors {
            list: DetectorKind::ALL
                .into_iter()
                .map(|kind| Detector {
                    kind,
                    action: Action::Drop,
                })
                .collect(),
        };
        let mut found = Vec::new();
        let mut next = crate::test_texts::xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..4_000u64 {
            let r = next();
            let hex = b"0123456789abcdef";
            let t: String = (0..UUID_LEN)
                .map(|i| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        return '-';
                    }
                    let x = (r.rotate_left(i as u32 * 7) ^ round.wrapping_mul(i as u64)) as usize;
                    let c = match round % 4 {
                        0 => hex[x % 10],
                        1 => hex[x % 16].to_ascii_uppercase(),
                        _ => hex[x % 16],
                    };
                    char::from(c)
                })
                .collect();
            assert!(is_uuid(t.as_bytes()), "{t:?}");
            // Nor is anything found in one.
            ds.find(&t, &mut found);
            assert_eq!(found, [], "{t:?}");
            for kind in DetectorKind::ALL {
                if NOT_IN_UUIDS >> (kind as u32) & 1 == 0 || kind == DetectorKind::CreditCard {
                    continue;
                }
                let mut v = Vec::new();
                find_kind(kind, &t, &mut v);
                assert!(v.is_empty(), "{kind:?} in {t:?}: {v:?}");
            }
        }
        // The card finder alone would cut this UUID in two; the detector
        // is not asked.
        let uuid = "aaaa4111-1111-1111-1111-aaaaaaaaaaaa";
        let mut alone = Vec::new();
        find_cards(uuid, &mut alone);
        assert_eq!(alone, [(4, 23)]);
        ds.find(uuid, &mut found);
        assert_eq!(found, [], "{uuid}");
        // Inside a text, set off by anything but a letter or a digit, it
        // is not searched either; glued to one, the text is text like any
        // other. A card beside a UUID is a card.
        for (text, card) in [
            (format!("https://app.example.com/orders/{uuid}/items"), None),
            (format!("order {uuid}, id_{uuid}-{uuid}"), None),
            (format!("{uuid}a"), Some("4111-1111-1111-1111")),
            (format!("x{uuid}"), Some("4111-1111-1111-1111")),
            (
                format!("{uuid} paid with 4111 1111 1111 1111"),
                Some("4111 1111 1111 1111"),
            ),
        ] {
            ds.find(&text, &mut found);
            let got: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
            assert_eq!(got, Vec::from_iter(card), "{text}");
        }
    }

    /// The digits of a UUID inside a text: never read as a card, whatever
    /// the UUID holds; the same digits outside one are.
    #[test]
    fn cards_are_not_read_inside_uuids_within_text() {
        let mut next = crate::test_texts::xorshift(0x00c4_7d00_0015);
        let (mut cut, mut v) = (0, Vec::new());
        for round in 0..20_000u64 {
            // Digit-heavy UUIDs, most with a test card's groups planted
            // across their hyphens.
            let mut u: Vec<u8> = (0..UUID_LEN)
                .map(|i| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        b'-'
                    } else if next().is_multiple_of(5) {
                        b"abcdef"[(next() % 6) as usize]
                    } else {
                        b'0' + (next() % 10) as u8
                    }
                })
                .collect();
            if round % 4 != 0 {
                // After letters: digits glued before would make its first
                // group longer than a card's.
                u[3] = b"abcdef"[(next() % 6) as usize];
                u[4..23].copy_from_slice(b"4111-1111-1111-1111");
            }
            let u = String::from_utf8(u).unwrap();
            let text = format!("GET /v1/orders/{u}/items?ref={u}");
            v.clear();
            find_kind(DetectorKind::CreditCard, &text, &mut v);
            assert!(v.is_empty(), "{text}: {v:?}");
            // What the finder would have taken without the UUID check.
            v.clear();
            find_cards(&text, &mut v);
            cut += usize::from(!v.is_empty());
        }
        assert!(cut > 5_000, "{cut} texts the card finder alone would cut");
    }

    #[test]
    fn is_uuid_is_the_layout_regex() {
        let re = Regex::new(
            r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        )
        .unwrap();
        let base = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
        let mut texts = vec![base.to_string(), base.to_uppercase(), String::new()];
        // Every byte replaced by a few others, removed, or doubled.
        for i in 0..base.len() {
            for c in ['0', 'f', 'F', 'g', '-', ' ', 'é'] {
                let mut t = base.to_string();
                t.replace_range(i..=i, &c.to_string());
                texts.push(t);
            }
            let mut t = base.to_string();
            t.remove(i);
            texts.push(t.clone());
            t.insert_str(i, &base[i..=i]);
            t.insert_str(i, &base[i..=i]);
            texts.push(t);
        }
        for t in &texts {
            assert_eq!(is_uuid(t.as_bytes()), re.is_match(t), "{t:?}");
        }
    }

    #[test]
    fn is_timestamp_is_the_layout_regex() {
        // Timestamps and texts one edit away from one, against the
        // layout written as a regular expression.
        let re = Regex::new(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?$",
        )
        .unwrap();
        let bases = [
            "2025-01-15T11:12:06",
            "2025-01-15T11:12:06Z",
            "2025-01-15T11:12:06.236Z",
            "2025-01-15T11:12:06.123456789-05:00",
            "2025-01-15T11:12:06.123456789Z",
            "2025-01-15T11:12:06.1+01:30",
        ];
        let edits = ["", "0", "9", "Z", "T", ".", ":", "-", "+", " ", "a", "é"];
        let mut texts = Vec::new();
        for base in bases {
            for at in 0..=base.len() {
                for e in edits {
                    // Insert, replace and delete at every position.
                    texts.push(format!("{}{e}{}", &base[..at], &base[at..]));
                    if at < base.len() {
                        texts.push(format!("{}{e}{}", &base[..at], &base[at + 1..]));
                    }
                }
            }
        }
        let (mut yes, mut no) = (0, 0);
        for t in &texts {
            let want = re.is_match(t);
            assert_eq!(is_timestamp(t.as_bytes()), want, "{t:?}");
            if want {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 100 && no > 1_000, "{yes} accepted, {no} rejected");
    }

    #[test]
    fn profile_from_the_census_equals_the_byte_loop() {
        // Pieces over every class, non-ASCII text, and long runs, so that
        // the census's 32-byte steps and its tail both count.
        let pieces = [
            ":",
            "@",
            "%",
            ".",
            "+",
            "-",
            "0",
            "9",
            "a",
            "f",
            "g",
            "A",
            "é",
            "€",
            " ",
            "\\",
            "\"",
            "'",
            "{",
            "[",
            "0123456789abcdef0123456789abcdef",
            "https://mail.example.net/inbox?x=1",
        ];
        let texts = crate::test_texts::from_pieces(0x51ed_2705_0000_0001, 20_000, (0, 24), &pieces);
        for t in &texts {
            assert_eq!(profile(t), profile_by_bytes(t), "{t:?}");
        }
    }

    #[test]
    fn secret_prefilter_and_search_agree_with_the_regex() {
        // Texts built from pieces of the secrets and of `bearer` in
        // mixed case: whenever the regex matches, the prefilter must have
        // let the text through, and the search without captures must find
        // what the captures iterator finds (bearer tokens included).
        let pieces = [
            "bEaReR ",
            "BEARER\t",
            "Basic ",
            "bASIC\t",
            // `user:password` in base64, and base64 of text without a `:`.
            "dXNlcjpwYXNzd29yZA==",
            "YWxhZGRpbjpvcGVuc2VzYW1l",
            "cGxhaW4gdGV4dA",
            "=",
            "bearer ",
            // Whitespace beyond ASCII, which `\s` matches too.
            "bearer\u{2003}",
            "\u{a0}",
            "Be",
            "arer ",
            "tok3n.value-9",
            "sk_live_",
            "AKIA",
            "ABCDEFGHIJKLMNOP",
            "ghp_",
            "A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2",
            "x",
            " ",
            "eyJ",
            "abcdefghij.",
            "-----BEGIN",
            " PRIVATE KEY-----",
            "-----END",
            "xoxb-",
            "1234567890",
        ];
        let mut matched = 0;
        let mut texts = vec![
            "xoxb-1234567890".to_string(),
            "Bearer abcdefg1".to_string(),
            "Basic dXM6cGFz".to_string(),
        ];
        texts.extend(crate::test_texts::from_pieces(
            0x1234_5678_9abc_def1,
            50_000,
            (1, 6),
            &pieces,
        ));
        let (mut found, mut want, mut several) = (Vec::new(), Vec::new(), 0);
        for t in texts {
            if secret_re().is_match(&t) {
                matched += 1;
                let gate = may_match(DetectorKind::Secret, t.len(), profile(&t));
                assert!(gate && may_hold_secret(&t), "{t:?}");
            }
            found.clear();
            want.clear();
            find_secrets(&t, &mut found);
            find_secrets_by_iter(&t, &mut want);
            assert_eq!(found, want, "{t:?}");
            several += usize::from(want.len() > 1);
        }
        assert!(matched > 1_000, "{matched}");
        assert!(several > 20, "{several} texts with several matches");
    }

    #[test]
    fn secret_prefixes_are_found_as_the_multi_pattern_search_finds_them() {
        // Random texts over the letters of the prefixes, of every length
        // the SIMD search treats apart (below 33 bytes, and longer).
        let alphabet = b"skAKISBC3ghilxaorpnfGey-_.bBeErR EAascSiC";
        let mut exact = 0;
        for t in strings(alphabet, 200_000) {
            let b = t.as_bytes();
            let reference = secret_prefilter().is_match(&t) || has_scheme(b);
            assert_eq!(has_secret_prefix(b), reference, "{t:?}");
            exact += usize::from(reference);
        }
        assert!(exact > 2_000, "{exact}");
        let filler = "Clicked upgrade, then the settings page. ";
        for p in SECRET_PREFIXES.iter().chain(&["bearer", "BASIC", "bAsIc"]) {
            // At the start, the end, and cut short by one byte, in texts
            // short and long.
            for pad in ["", filler, &filler.repeat(3)] {
                assert!(has_secret_prefix(format!("{pad}{p}").as_bytes()), "{p}");
                assert!(has_secret_prefix(format!("{p}{pad}").as_bytes()), "{p}");
                let cut = &p[..p.len() - 1];
                assert!(!has_secret_prefix(format!("{pad}{cut}").as_bytes()), "{p}");
            }
        }
        assert!(!has_secret_prefix(b"934caa3a-279a-4011-ac45-35c786292caa"));
    }

    #[test]
    fn chains_of_13_are_found_exactly() {
        let pieces = ["1", "9", " ", "-", "a", "é", "12345", "1-1", "1 1 "];
        for t in crate::test_texts::from_pieces(0x3c4a_1a5e_0000_0002, 50_000, (1, 40), &pieces) {
            let w = &t.as_bytes()[..t.len().min(64)];
            let digit = |i: usize| w.get(i).is_some_and(u8::is_ascii_digit);
            let mut longest = 0;
            let mut run = 0;
            for (i, &c) in w.iter().enumerate() {
                let sep_between = matches!(c, b' ' | b'-') && i > 0 && digit(i - 1) && digit(i + 1);
                run = if digit(i) || sep_between { run + 1 } else { 0 };
                longest = longest.max(run);
            }
            assert_eq!(has_chain_of_13(w), longest >= 13, "{t:?}");
        }
    }

    #[test]
    fn card_run_masks_miss_no_run() {
        // Long texts cross the 64-byte windows and their overlaps.
        let pieces = [
            "1", "2", "9", "0", " ", "-", "  ", "a", "é", ":", "4111", "1111 ", "11-", "123456",
            "\u{7f}", "/", "\u{100}", "x", "±", "¹",
        ];
        let mut texts =
            crate::test_texts::from_pieces(0x0ca4_d000_0000_0001, 100_000, (1, 60), &pieces);
        // A run of 13 at every offset of a 200-byte text, with one byte
        // short of it too.
        for len in [12, 13] {
            for at in 0..=200 - len {
                let mut t = "a".repeat(200);
                t.replace_range(at..at + len, &"7".repeat(len));
                texts.push(t);
                // The same run with separators in it.
                let spaced: String = "7-".repeat(len - 1) + "7";
                if at + spaced.len() <= 200 {
                    let mut t = "a".repeat(200);
                    t.replace_range(at..at + spaced.len(), &spaced);
                    texts.push(t);
                }
            }
        }
        let (mut runs, mut exact) = (0, 0);
        for t in &texts {
            let (may, run) = (may_hold_card_run(t.as_bytes()), has_card_run(t.as_bytes()));
            assert!(may || !run, "{t:?}");
            runs += usize::from(run);
            // Without a stretch of 13 (most texts here), nothing is missed.
            exact += usize::from(may == run);
        }
        assert!(runs > 5_000, "{runs} texts hold a run");
        assert!(exact > texts.len() / 2, "{exact} of {} exact", texts.len());
    }

    #[test]
    fn prefilters_accept_exactly_what_their_regex_can_match() {
        for s in strings(b"0123456789012345678901234 --.a", 100_000) {
            assert_eq!(has_card_run(s.as_bytes()), card_re().is_match(&s), "{s:?}");
        }
        for s in strings(b"0123456789.....a", 100_000) {
            assert_eq!(
                has_ipv4_chain(s.as_bytes()),
                ipv4_re().is_match(&s),
                "{s:?}"
            );
        }
        let dashed = Regex::new(r"(?-u:\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})").unwrap();
        for s in strings(b"0123456789-----a", 100_000) {
            assert_eq!(
                has_quad_chain(s.as_bytes(), b'-'),
                dashed.is_match(&s),
                "{s:?}"
            );
        }
    }

    /// The dashed quads of `text` by another formulation than
    /// [`find_dashed_ipv4`]'s: at every position, four groups of one to
    /// three digits joined by `-`, each an octet, with no letter or digit
    /// glued on either side and no token of digits joined by `.` or `-`.
    fn dashed_by_windows(text: &str) -> Vec<(usize, usize)> {
        let quad = Regex::new(r"^(?-u:(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3}))").unwrap();
        let b = text.as_bytes();
        let label = |i: usize| b[i].is_ascii_alphanumeric() || b[i] >= 0x80;
        let digits_token_ending_at = |end: usize| {
            let start = (0..end).rev().take_while(|&i| label(i)).last();
            start.is_some_and(|s| b[s..end].iter().all(u8::is_ascii_digit))
        };
        let digits_token_starting_at = |start: usize| {
            let n = (start..b.len()).take_while(|&i| label(i)).count();
            n > 0 && b[start..start + n].iter().all(u8::is_ascii_digit)
        };
        let mut out = Vec::new();
        for p in 0..b.len() {
            let Some(c) = text.get(p..).and_then(|t| quad.captures(t)) else {
                continue;
            };
            let end = p + c[0].len();
            let octets = (1..=4).all(|g| {
                let t = &c[g];
                t.parse::<u8>().is_ok() && (t.len() == 1 || !t.starts_with('0'))
            });
            let glued_before = p > 0
                && (label(p - 1)
                    || b[p - 1] == b'+'
                    || (matches!(b[p - 1], b'-' | b'.') && digits_token_ending_at(p - 1)));
            let glued_after = end < b.len()
                && (label(end)
                    || (matches!(b[end], b'-' | b'.') && digits_token_starting_at(end + 1)));
            if octets && !glued_before && !glued_after {
                out.push((p, end));
            }
        }
        out
    }

    #[test]
    fn dashed_quads_are_found_as_the_window_rule_finds_them() {
        let pieces = [
            "1-", "2-", "25-", "255-", "0-", "10-", "1", "7", "255", "256", "01", "0", "-", ".",
            "a", "x1", "é", " ", "_", "ip-", ".net", "+",
        ];
        let texts =
            crate::test_texts::from_pieces(0xd45e_d1b4_0000_0001, 100_000, (3, 24), &pieces);
        let mut found = 0;
        for t in &texts {
            let mut got = Vec::new();
            find_dashed_ipv4(t.as_bytes(), &mut got);
            let want = dashed_by_windows(t);
            assert_eq!(got, want, "{t:?}");
            found += want.len();
        }
        assert!(found > 2_000, "{found} quads found");
    }

    #[test]
    fn emails() {
        assert_eq!(
            spans(DetectorKind::Email, "mail alice.b+x@example.co.uk now"),
            ["alice.b+x@example.co.uk"]
        );
        assert_eq!(
            spans(DetectorKind::Email, "/s?email=alice%40example.com&x=1"),
            ["alice%40example.com"]
        );
        assert_eq!(
            spans(DetectorKind::Email, "q=alice%2540example.com"),
            ["alice%2540example.com"]
        );
        // In a URL nested percent-encoded in another's query, the address
        // only: its local part starts past an escaped `=`, `/`, `:` or `?`
        // (also encoded twice); an escaped `+` or a letter's UTF-8 bytes
        // belong to it.
        for (text, address) in [
            (
                "u=https%3A%2F%2Fx.test%2Fa%3Femail%3Dann%40example.com&x=1",
                "ann%40example.com",
            ),
            (
                "u=https%253A%252F%252Fx.test%252Fa%253Femail%253Dann%2540example.com",
                "ann%2540example.com",
            ),
            (
                "r=%2Fsignup%3Fann.lee%2Btag%40example.com",
                "ann.lee%2Btag%40example.com",
            ),
            ("to=jos%C3%A9%40example.com", "jos%C3%A9%40example.com"),
        ] {
            assert_eq!(spans(DetectorKind::Email, text), [address], "{text}");
        }
        assert!(spans(DetectorKind::Email, "q=x%3D%40example.com").is_empty());
        assert!(spans(DetectorKind::Email, "no at sign here, @handle, a@b").is_empty());
        // The `@` as an HTML character reference, as in HTML-escaped text.
        for at in ["&#64;", "&#064;", "&#x40;", "&#X0040;", "&commat;"] {
            let addr = format!("alice.b{at}example.com");
            assert_eq!(
                spans(DetectorKind::Email, &format!("<p>Mail {addr}</p>")),
                [addr.as_str()],
                "{at}"
            );
        }
        // Not without its `;` (`&#645` is another character), nor another
        // character's reference.
        for not_at in [
            "&#64", "&#645;", "&#x4;", "&#x41;", "&amp;", "&Commat;", "&#;",
        ] {
            assert!(
                spans(DetectorKind::Email, &format!("alice{not_at}example.com")).is_empty(),
                "{not_at}"
            );
        }
        // Internationalized addresses, whole.
        for addr in [
            "josé@example.com",
            "jo.sé.martin@exämple.de",
            "用户@例子.广告",
            "e\u{301}mile@example.fr",
            "Δοκιμή@παράδειγμα.δοκιμή",
            "x@exämple.côm",
        ] {
            assert_eq!(
                spans(DetectorKind::Email, &format!("to {addr}, thanks")),
                [addr]
            );
        }
        // An ASCII top-level domain ends before letters of another script.
        assert_eq!(
            spans(DetectorKind::Email, "请联系alice@example.com谢谢"),
            ["请联系alice@example.com"]
        );
        assert!(spans(DetectorKind::Email, "Müller@Work, café@home").is_empty());
    }

    #[test]
    fn other_forms_fold_to_ascii_and_map_back() {
        // Thai ๓, Khmer ៩ and mathematical bold 𝟑 beside the digits of
        // Arabic, Persian, Devanagari and Bengali; ٪ and ߵ are not digits.
        let pieces = [
            "a", "１", "＠", "．", "　", "é", "用", "\u{ff5e}", "\u{ff5f}", "\u{ff00}", "-",
            "\u{3001}", "٣", "۹", "३", "৩", "\u{65f}", "\u{66a}", "๓", "៩", "𝟑", "\u{7f5}", "7",
            " ", ".",
        ];
        let texts = crate::test_texts::from_pieces(0x5eed_f01d, 3_000, (0, 8), &pieces);
        let (mut folded, mut map, mut forms) = (String::new(), Vec::new(), Vec::new());
        let mut seen = [0; 2];
        let mut breaks = 0;
        // Each character's form, the ASCII character it stands for, and
        // for digits the script (by its zero).
        let of = |c: char| match c {
            '\u{ff01}'..='\u{ff5e}' => Some((
                Form::Wide,
                char::from_u32(u32::from(c) - 0xFEE0).unwrap(),
                0,
            )),
            '\u{3000}' => Some((Form::Wide, ' ', 0)),
            '٣' => Some((Form::Digits, '3', 0x660)),
            '۹' => Some((Form::Digits, '9', 0x6f0)),
            '३' => Some((Form::Digits, '3', 0x966)),
            '৩' => Some((Form::Digits, '3', 0x9e6)),
            '๓' => Some((Form::Digits, '3', 0xe50)),
            '៩' => Some((Form::Digits, '9', 0x17e0)),
            '𝟑' => Some((Form::Digits, '3', 0x1d7ce)),
            _ => None,
        };
        for t in texts {
            forms_in(&t, &mut forms);
            let mut want_forms: Vec<Form> = Vec::new();
            for (form, _, _) in t.chars().filter_map(of) {
                if !want_forms.contains(&form) {
                    want_forms.push(form);
                }
            }
            assert_eq!(forms, want_forms, "{t:?}");
            for &form in &forms {
                // Each form alone: the others' characters stay as they
                // are. Of two digits with only joining characters between
                // them, the first gets a break after it if their scripts
                // differ.
                let chars: Vec<(usize, char)> = t.char_indices().collect();
                let digit = |k: usize| of(chars[k].1).filter(|d| d.0 == Form::Digits);
                let broken: Vec<bool> = (0..chars.len())
                    .map(|k| {
                        let Some((_, _, zero)) = digit(k) else {
                            return false;
                        };
                        let mut j = k + 1;
                        while j < chars.len() && " .-()".contains(chars[j].1) {
                            j += 1;
                        }
                        form == Form::Digits
                            && j < chars.len()
                            && digit(j).is_some_and(|d| d.2 != zero)
                    })
                    .collect();
                let (mut want, mut starts) = (String::new(), Vec::new());
                for (k, &(at, c)) in chars.iter().enumerate() {
                    match of(c) {
                        Some((f, a, _)) if f == form => want.push(a),
                        _ => want.push(c),
                    }
                    starts.push(at);
                    if broken[k] {
                        want.push(SCRIPT_BREAK);
                        starts.push(at + c.len_utf8());
                        breaks += 1;
                    }
                }
                fold_form(&t, form, &mut folded, &mut map);
                seen[form as usize] += 1;
                assert_eq!(folded, want, "{t:?}");
                assert_eq!(map.len(), folded.len() + 1);
                // Each character of the folded text maps to its own in `t`
                // (a break to the character after its digit).
                let mapped: Vec<usize> = folded.char_indices().map(|(i, _)| map[i]).collect();
                assert_eq!(mapped, starts, "{t:?}");
                assert_eq!(map[folded.len()], t.len());
            }
        }
        assert!(seen.iter().all(|&n| n > 1_000), "{seen:?}");
        assert!(breaks > 300, "{breaks}");
    }

    #[test]
    fn add_disjoint_is_first_wins_over_every_pair() {
        // Random spans, in ascending runs as finders give them and in any
        // order, added in batches (one per detector) to what is there.
        let mut next = crate::test_texts::xorshift(0x0d15_7015);
        for case in 0..2_000 {
            let mut fast: Vec<(usize, usize)> = Vec::new();
            let mut slow: Vec<(usize, usize)> = Vec::new();
            for _ in 0..1 + next() % 4 {
                let n = (next() % 12) as usize;
                let mut batch: Vec<(usize, usize)> = (0..n)
                    .map(|_| {
                        let start = (next() % 60) as usize;
                        (start, start + (next() % 8) as usize)
                    })
                    .collect();
                if case % 3 != 0 {
                    // Ascending runs: sort each half.
                    let mid = batch.len() / 2;
                    batch[..mid].sort();
                    batch[mid..].sort();
                }
                for &(start, end) in &batch {
                    if start < end && !slow.iter().any(|&(s, e)| start < e && s < end) {
                        slow.push((start, end));
                    }
                }
                slow.sort();
                add_disjoint(&mut fast, batch.into_iter(), |&r| r);
                assert_eq!(fast, slow, "case {case}");
            }
        }
    }

    #[test]
    fn digit_zeros_are_unicode_decimal_digits() {
        // `regex`'s Unicode `\d` is `\p{Nd}`: every code point is a digit
        // exactly when it is an ASCII digit, a full-width one or a digit of
        // `DIGIT_ZEROS`, and that table's runs are in order and apart.
        let nd = regex::Regex::new(r"^\d$").unwrap();
        assert!(DIGIT_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]));
        let mut buf = [0u8; 4];
        let mut digits = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let theirs = nd.is_match(c.encode_utf8(&mut buf));
            let wide = ('\u{ff10}'..='\u{ff19}').contains(&c);
            let ours = c.is_ascii_digit() || wide || digit_zero(c).is_some();
            assert_eq!(ours, theirs, "U+{:04X}", u32::from(c));
            if let Some(zero) = digit_zero(c) {
                let d = ascii_form(c, Form::Digits).unwrap();
                assert_eq!(u32::from(d) - u32::from('0'), u32::from(c) - zero);
                digits += 1;
            }
        }
        assert_eq!(digits, 740);
        // Other numeric characters are not digits: ½, Ⅻ, ², ①, 〇, 十.
        for c in ['½', 'Ⅻ', '²', '①', '〇', '十'] {
            assert_eq!(digit_zero(c), None, "{c}");
        }
    }

    #[test]
    fn ips() {
        assert_eq!(
            spans(DetectorKind::Ipv4, "from 203.0.113.7, via 10.0.0.1."),
            ["203.0.113.7", "10.0.0.1"]
        );
        assert!(spans(DetectorKind::Ipv4, "v1.2.3.4.5 999.1.1.1 1.2.3 9.1.2.3.4").is_empty());
        // An object identifier of four arcs.
        assert_eq!(
            spans(
                DetectorKind::Ipv4,
                "urn:oid:2.5.4.4 OID.2.5.4.97 Oid:1.2.3.4 void 10.0.0.1 id:10.0.0.2"
            ),
            ["10.0.0.1", "10.0.0.2"]
        );
        // After a label's dot, an address is one (the dot is no decimal
        // point), and a reverse DNS name is taken with its suffix.
        assert_eq!(
            spans(
                DetectorKind::Ipv4,
                "mail.203.0.113.7.example.com 7.113.0.203.In-Addr.Arpa 4.3.2.1.in-addr.arpaz"
            ),
            [
                "203.0.113.7",
                "7.113.0.203.In-Addr.Arpa",
                "4.3.2.1.in-addr.arpa"
            ]
        );
        // The shortest address is the whole text: the gates let it through.
        assert_eq!(spans(DetectorKind::Ipv4, "1.2.3.4"), ["1.2.3.4"]);
        // A digit of another script is not part of an address, and does not
        // hide the one that follows it.
        assert_eq!(spans(DetectorKind::Ipv4, "\u{663}1.2.3.4"), ["1.2.3.4"]);
        assert_eq!(spans(DetectorKind::Ipv4, "10.0.0.1\u{663}"), ["10.0.0.1"]);
        // Octets padded with zeros, as some logs write them.
        assert_eq!(
            spans(
                DetectorKind::Ipv4,
                "src=010.001.002.003 dst=198.051.100.007:443"
            ),
            ["010.001.002.003", "198.051.100.007"]
        );
        assert!(spans(DetectorKind::Ipv4, "256.001.002.003 1.2.3.0999").is_empty());
        // Written with dashes in hostnames, whatever labels come around.
        assert_eq!(
            spans(
                DetectorKind::Ipv4,
                "c-73-22-1-5.hsd1.ca.example.net ec2-203-0-113-7.compute-1.amazonaws.com \
                 ip-10-0-1-23.ec2.internal 198-51-100-0 host=255-255-255-255."
            ),
            [
                "73-22-1-5",
                "203-0-113-7",
                "10-0-1-23",
                "198-51-100-0",
                "255-255-255-255"
            ]
        );
        // Not longer numbers, other formats, letters glued to a digit,
        // octets over 255 or padded, or dots among the dashes.
        assert!(spans(
            DetectorKind::Ipv4,
            "1-800-555-0143-2 2026-12-03-10-20 v1-2-3-4 a1-2-3-4 1-2-3-4x \
             8-916-123-45-67 1-2-3-4-5 5-1-2-3-4.6 256-1-1-1 01-2-3-4 1-2-3.4 1-2--3-4 +44-20-7-123 \
             123e4567-e89b-12d3-a456-426614174000"
        )
        .is_empty());
        assert_eq!(spans(DetectorKind::Ipv6, "::1"), ["::1"]);
        assert_eq!(spans(DetectorKind::Email, "a@b.co"), ["a@b.co"]);
        assert_eq!(spans(DetectorKind::Phone, "+1234567"), Vec::<&str>::new());
        assert_eq!(spans(DetectorKind::Phone, "+12345678"), ["+12345678"]);
        assert_eq!(
            spans(
                DetectorKind::Ipv6,
                "peer 2001:db8::1 at 10:00:05 mac aa:bb:cc:dd:ee:ff"
            ),
            ["2001:db8::1"]
        );
        assert_eq!(
            spans(DetectorKind::Ipv6, "[::ffff:203.0.113.7]:80"),
            ["::ffff:203.0.113.7"]
        );
        // Regression (found by the planted-PII property test): an address
        // glued to letters must still be found.
        assert_eq!(
            spans(DetectorKind::Ipv6, "k2001:db8:1:1:1:2:3:1k"),
            ["2001:db8:1:1:1:2:3:1"]
        );
        assert_eq!(
            spans(DetectorKind::Ipv6, "beef2001:db8::1"),
            ["2001:db8::1"]
        );
        assert_eq!(
            spans(DetectorKind::Ipv6, "fe80::1 and ::1"),
            ["fe80::1", "::1"]
        );
        assert!(spans(DetectorKind::Ipv6, "use core::fmt; std::io").is_empty());
    }

    #[test]
    fn cards() {
        assert_eq!(
            spans(DetectorKind::CreditCard, "card 4111 1111 1111 1111 ok"),
            ["4111 1111 1111 1111"]
        );
        assert_eq!(
            spans(DetectorKind::CreditCard, "amex 3782-822463-10005"),
            ["3782-822463-10005"]
        );
        assert!(
            spans(DetectorKind::CreditCard, "4111111111111112").is_empty(),
            "Luhn"
        );
        assert!(
            spans(DetectorKind::CreditCard, "ts 1732700000123000000").is_empty(),
            "no brand"
        );
        assert!(
            spans(DetectorKind::CreditCard, "41111111111111111111111").is_empty(),
            "too long"
        );
        // Other numbers before a card in the same run of digits.
        for (text, card) in [
            ("qty 1 4111 1111 1111 1111", "4111 1111 1111 1111"),
            ("12 4111-1111-1111-1111 ok", "4111-1111-1111-1111"),
            ("12 34 56 4111 1111 1111 1111", "4111 1111 1111 1111"),
            ("7 3782 822463 10005", "3782 822463 10005"),
        ] {
            assert_eq!(spans(DetectorKind::CreditCard, text), [card], "{text}");
        }
        // Runs of small numbers are no card however they are cut.
        for text in [
            "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
            "2024 11 27 10 00 00 123 456 789",
        ] {
            assert!(spans(DetectorKind::CreditCard, text).is_empty(), "{text}");
        }
    }

    #[test]
    fn card_candidates_are_the_patterns_matches() {
        let pieces = [
            "4",
            "1",
            "0",
            "9",
            "3",
            "5",
            " ",
            "-",
            "  ",
            "--",
            " -",
            "a",
            "x",
            "é",
            "\u{661}",
            ",",
            "4111",
            "1111",
            "3782",
            "6011",
            "2221",
            "5555",
            "822463",
            "411111111111",
            "1732700000123000000",
        ];
        let mut texts = vec![
            "card 4111 1111 1111 1111 ok".to_string(),
            "41111111111111111111111 4111-1111-1111-1111".to_string(),
            "\u{661}4111111111111111 4111111111111111\u{661}".to_string(),
        ];
        texts.extend(crate::test_texts::from_pieces(
            0xca4d_5eed_0000_0013,
            100_000,
            (1, 16),
            &pieces,
        ));
        let (mut candidates, mut found) = (0, 0);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for t in &texts {
            got.clear();
            card_candidates(t.as_bytes(), |s, e| got.push((s, e)));
            want.clear();
            want.extend(card_re().find_iter(t).map(|m| (m.start(), m.end())));
            assert_eq!(got, want, "{t:?}");
            candidates += usize::from(!want.is_empty());
            // The whole detector, against the regex's candidates checked
            // by the byte-at-a-time reference, without the run prefilter
            // or the first digit's shortcut.
            got.clear();
            find_cards(t, &mut got);
            let mut reference = Vec::new();
            for &(s, e) in &want {
                let before = reference.len();
                card_at_reference(t, s, e, &mut reference);
                // No card from the candidate's start: the pattern's match
                // from each later four-digit group, the first card wins.
                let b = t.as_bytes();
                for p in s + 1..e {
                    if reference.len() > before {
                        break;
                    }
                    let four = matches!(b[p - 1], b' ' | b'-')
                        && t[p..].bytes().take_while(u8::is_ascii_digit).count() == 4;
                    if let Some(m) = card_re().find_at(t, p).filter(|m| four && m.start() == p) {
                        card_at_reference(t, p, m.end(), &mut reference);
                    }
                }
            }
            assert_eq!(got, reference, "{t:?}");
            found += usize::from(!reference.is_empty());
        }
        // The generator must reach candidates, and valid cards among them.
        assert!(
            candidates > 10_000 && found > 100,
            "{candidates} texts hold a candidate, {found} a card"
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            spans(DetectorKind::Phone, "call +1 (555) 555-0123 now"),
            ["+1 (555) 555-0123"]
        );
        assert_eq!(spans(DetectorKind::Phone, "+15555550123"), ["+15555550123"]);
        assert!(spans(DetectorKind::Phone, "555-0123, +12, v+1234567").is_empty());
        // No country code starts with 0; a UTC offset after a clock time
        // and the year after it are not a number.
        assert!(spans(
            DetectorKind::Phone,
            "+0000 2014, +0044 20 7946 0958, Sun Aug 31 00:29:15 +0000 2014, \
             00:29:15 +1000 2014, 10:30+1345 2024, 00:29:15.123 +1400 2014"
        )
        .is_empty());
        // Other numbers after a clock time are numbers.
        assert_eq!(
            spans(
                DetectorKind::Phone,
                "at 10:30 +14155550123, 10:30 +1000 555 0123, 10:30 +1415 555 0132, \
                 10:30 +1000 2014 5678, 10:30 +1500 2014, 10:30 +1010 2014, 10 30 +1000 2014"
            ),
            [
                "+14155550123",
                "+1000 555 0123",
                "+1415 555 0132",
                "+1000 2014 5678",
                "+1500 2014",
                "+1010 2014",
                "+1000 2014"
            ]
        );
    }

    #[test]
    fn national_phones() {
        assert_eq!(
            spans(
                DetectorKind::Phone,
                "call 415-555-0132, 415.555.0132 or (415) 555-0132; fax (415)555.0132, \
                 cell 415 555-0132, toll 1-800-555-0199, 1 (212) 555-0100."
            ),
            [
                "415-555-0132",
                "415.555.0132",
                "(415) 555-0132",
                "(415)555.0132",
                "415 555-0132",
                "1-800-555-0199",
                "1 (212) 555-0100"
            ]
        );
        // Spaces only, standing alone.
        assert_eq!(
            spans(
                DetectorKind::Phone,
                "call 415 555 0132, (415) 555 0132 or 1 800 555 0199 (ext. 12)"
            ),
            ["415 555 0132", "(415) 555 0132", "1 800 555 0199"]
        );
        // Spaces only, in a chain of groups of digits: not a number alone.
        assert!(spans(
            DetectorKind::Phone,
            "100 415 555 0132; 415 555 0132 7; 2 1 415 555 0132; 415 555 01325"
        )
        .is_empty());
        // Both finders, one span.
        assert_eq!(
            spans(DetectorKind::Phone, "+1 415-555-0132"),
            ["+1 415-555-0132"]
        );
        // Codes that start with 0 or 1, mixed separators, longer chains,
        // glued letters, other shapes.
        assert!(spans(
            DetectorKind::Phone,
            "015-555-0132 415-155-0132 415-555.0132 415.555-0132 2024-415-555-0132 \
             415-555-0132-7 x415-555-0132 415-555-01325 415-555 0132 41-555-0132 \
             2026-12-04 10.20.30.40 v4.15.555.0132 123e4567-e89b-12d3"
        )
        .is_empty());
    }

    #[test]
    fn trunk_phones() {
        assert_eq!(
            spans(
                DetectorKind::Phone,
                "call 06 12 34 56 78, 07700 900123 or 020 7946 0958; (06-12345678) \
                 0151 12345678."
            ),
            [
                "06 12 34 56 78",
                "07700 900123",
                "020 7946 0958",
                "06-12345678",
                "0151 12345678"
            ]
        );
        // No separator, too few or too many digits, `00`, mixed or doubled
        // separators, a group of one digit, a longer first group, glued
        // on, chains of groups (an IBAN's, a list, a date).
        assert!(spans(
            DetectorKind::Phone,
            "0612345678 030 901820 0151 1234 5678 90 0044 20 7946 0958 06 12-34 56 78 \
             06  12 34 56 78 06 1 234 567 89 061234 56789 x06 12 34 56 78 06 12 34 56 78x \
             DE89 3704 0044 0532 0130 00 7 06 12 34 56 78 06 12 34 56 78 9 05-12-2024"
        )
        .is_empty());
    }

    #[test]
    fn trunk_phones_are_what_a_regex_finds_at_each_start() {
        // The shape anchored at each start (greedy: every group that
        // follows), its digits counted and its boundaries checked by hand.
        let shape = Regex::new(r"^0[1-9]\d{0,3}(?:(?: \d{2,})+|(?:-\d{2,})+)").unwrap();
        let pieces = [
            "0",
            "06",
            "07700",
            "1",
            "12",
            "34",
            "900123",
            " ",
            "-",
            "  ",
            "x",
            "_",
            "é",
            "+",
            "06 12 34 56 78",
            "020 7946 0958",
            "06-12345678",
            "(",
            ".",
        ];
        let texts = crate::test_texts::from_pieces(0x7e0a_11e5, 150_000, (1, 12), &pieces);
        let (mut found, mut any) = (Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_trunk_phones(t, &mut found);
            let b = t.as_bytes();
            let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
            let want = from_each_start(t, |s| {
                let m = t.get(s..).and_then(|rest| shape.find(rest))?;
                let e = s + m.end();
                let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
                let before = s > 0
                    && (digit(s - 1) || (matches!(b[s - 1], b' ' | b'-') && s > 1 && digit(s - 2)));
                let after = matches!(b.get(e), Some(b' ' | b'-')) && digit(e + 1);
                ((10..=12).contains(&digits) && !before && !after && alone_by_hand(b, s, e))
                    .then_some(e)
            });
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 3_000, "{any} texts with numbers");
    }

    /// The spans a reference finds in `t` taking each start in turn:
    /// `end_at(start)` gives the end of its match there, if any; a match is
    /// taken and the next start is its end, as a finder takes its matches
    /// left to right without overlaps.
    fn from_each_start(
        t: &str,
        mut end_at: impl FnMut(usize) -> Option<usize>,
    ) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut s = 0;
        while s < t.len() {
            match end_at(s) {
                Some(e) => {
                    assert!(e > s, "an empty match at {s} of {t:?}");
                    spans.push((s, e));
                    s = e;
                }
                None => s += 1,
            }
        }
        spans
    }

    /// [`stands_alone`], by hand: no letter, digit or `_` glued on either
    /// side of `s..e`, nor a `-` or `.` and a digit.
    fn alone_by_hand(b: &[u8], s: usize, e: usize) -> bool {
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let glued_before = s > 0
            && (b[s - 1].is_ascii_alphanumeric()
                || b[s - 1] == b'_'
                || (matches!(b[s - 1], b'-' | b'.') && s > 1 && digit(s - 2)));
        let glued_after = b.get(e).is_some_and(|&c| {
            c.is_ascii_alphanumeric() || c == b'_' || (matches!(c, b'-' | b'.') && digit(e + 1))
        });
        !glued_before && !glued_after
    }

    #[test]
    fn national_phones_are_what_a_regex_finds_at_each_start() {
        // At each position in turn, the pattern anchored there and the
        // boundaries checked by hand; matches taken left to right.
        let shape = Regex::new(concat!(
            r"^(?:1[-. ])?(?:[2-9]\d\d-[2-9]\d\d-|[2-9]\d\d\.[2-9]\d\d\.",
            r"|(?:[2-9]\d\d |\([2-9]\d\d\) ?)[2-9]\d\d[-. ])\d{4}"
        ))
        .unwrap();
        let pieces = [
            "1",
            "0",
            "2",
            "5",
            "9",
            "-",
            ".",
            " ",
            "(",
            ")",
            "_",
            "a",
            "+",
            "415",
            "555",
            "0132",
            "415-",
            "555-",
            "415.",
            "555.",
            "(415) ",
            "(415)",
            "1-",
            "1 ",
            "é",
            "415-555-0132",
            "415.555.0132",
            "(415) 555-0132",
            "415 555-0132",
            "1-415-555-0132",
            "155-",
            "415 555 0132",
            "(415) 555 0132",
            "555 ",
        ];
        let texts =
            crate::test_texts::from_pieces(0x9e1e_7a1c_0ddb_a115, 200_000, (1, 14), &pieces);
        let (mut found, mut any) = (Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_national_phones(t, &mut found);
            let want = from_each_start(t, |s| {
                let e = s + t.get(s..).and_then(|rest| shape.find(rest))?.end();
                let b = t.as_bytes();
                // With a space before the last four digits, the separators
                // are all spaces: no group of digits may join on either side.
                let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
                let chained = b[e - 5] == b' '
                    && ((s > 1 && b[s - 1] == b' ' && digit(s - 2))
                        || (b.get(e) == Some(&b' ') && digit(e + 1)));
                (alone_by_hand(b, s, e) && !chained).then_some(e)
            });
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with numbers");
    }

    /// The IBAN of country `cc` and account `bban`, its check digits
    /// computed as ISO 13616 describes them: 98 minus the number
    /// `bban + cc + "00"` (letters as two digits) modulo 97, in chunks.
    fn iban_of(cc: &str, bban: &str) -> String {
        let rest = mod97_of(&format!("{bban}{cc}00"));
        format!("{cc}{:02}{bban}", 98 - rest)
    }

    /// `text` (digits and uppercase letters) read as one number, letters
    /// as two digits each, modulo 97: nine digits at a time.
    fn mod97_of(text: &str) -> u64 {
        let digits: String = text
            .chars()
            .map(|c| c.to_digit(36).unwrap().to_string())
            .collect();
        digits.as_bytes().chunks(9).fold(0, |r, chunk| {
            let n: u64 = format!("{r}{}", std::str::from_utf8(chunk).unwrap())
                .parse()
                .unwrap();
            n % 97
        })
    }

    /// `iban` in groups of four joined by spaces.
    fn grouped(iban: &str) -> String {
        grouped_by(iban, " ")
    }

    /// `iban` in groups of four joined by `sep`.
    fn grouped_by(iban: &str, sep: &str) -> String {
        let groups: Vec<&str> = iban
            .as_bytes()
            .chunks(4)
            .map(|g| std::str::from_utf8(g).unwrap())
            .collect();
        groups.join(sep)
    }

    #[test]
    fn ibans() {
        let text = "pay DE89 3704 0044 0532 0130 00 or GB29NWBK60161331926819; \
                    (NO9386011117947), BE68 5390 0754 7034.";
        assert_eq!(
            spans(DetectorKind::Iban, text),
            [
                "DE89 3704 0044 0532 0130 00",
                "GB29NWBK60161331926819",
                "NO9386011117947",
                "BE68 5390 0754 7034"
            ]
        );
        // The default action replaces it, whatever the other detectors see
        // in its digits.
        let ds = crate::policy::Policy::builtin().unwrap().detectors;
        assert_eq!(
            ds.rewrite("iban: DE89 3704 0044 0532 0130 00", |_| {})
                .as_deref(),
            Some("iban: [REDACTED-IBAN]")
        );
        // In lowercase, with dashes.
        assert_eq!(
            spans(
                DetectorKind::Iban,
                "iban nl91abna0417164300, de89370400440532013000 or \
                 NL91-ABNA-0417-1643-00; gb29-nwbk-6016-1331-9268-19."
            ),
            [
                "nl91abna0417164300",
                "de89370400440532013000",
                "NL91-ABNA-0417-1643-00",
                "gb29-nwbk-6016-1331-9268-19"
            ]
        );
        // A wrong check, a wrong length, glued on, cases mixed, groups
        // other than of four or joined by both separators, a longer chain
        // of dashed groups, a country without IBANs, and a hex id that
        // passes the check (`be` and sixteen characters, as Belgium's).
        let hex_id = (0u64..)
            .map(|n| format!("be{:014x}", 0x1a2b_3c4d_5e6f + n * 7919))
            .find(|t| t.as_bytes()[2..4].iter().all(u8::is_ascii_digit) && iban_checks(t.bytes()))
            .unwrap();
        let text = format!(
            "DE88 3704 0044 0532 0130 00 DE89 3704 0044 0532 0130 0 \
             xDE89370400440532013000 DE89370400440532013000x DE89370400440532013000_ \
             De89370400440532013000 NL91abna0417164300 nl91ABNA0417164300 \
             DE89 37040044 0532 0130 00 DE89  3704 0044 0532 0130 00 \
             DE89 3704-0044 0532 0130 00 NL91-ABNA-0417-1643-00-12 \
             DE89 3704.0044.0532.0130.00 US64 SVBK US6S 3300 9673 86 {hex_id}"
        );
        assert!(spans(DetectorKind::Iban, &text).is_empty(), "{text}");
        // The same id in uppercase is an IBAN's shape (letters may stand
        // anywhere past the check digits).
        let upper = hex_id.to_ascii_uppercase();
        assert_eq!(spans(DetectorKind::Iban, &upper), [upper.as_str()]);
    }

    /// Every country of the registry, an account of its length in both
    /// forms, found whole; the same with its last digit changed, not found.
    #[test]
    fn ibans_of_every_registry_country() {
        let mut next = crate::test_texts::xorshift(0x1ba0_5eed);
        let mut countries = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let Some(len) = iban_length([a, b]) else {
                    continue;
                };
                countries += 1;
                let cc = String::from_utf8(vec![a, b]).unwrap();
                let bban: String = (4..len)
                    .map(|i| {
                        // Letters where a few countries put a bank code.
                        if i < 8 && next().is_multiple_of(3) {
                            (b'A' + (next() % 26) as u8) as char
                        } else {
                            (b'0' + (next() % 10) as u8) as char
                        }
                    })
                    .collect();
                let iban = iban_of(&cc, &bban);
                assert_eq!(iban.len(), len);
                let lower = iban.to_ascii_lowercase();
                let forms = [
                    iban.clone(),
                    grouped(&iban),
                    grouped_by(&iban, "-"),
                    lower.clone(),
                    grouped_by(&lower, "-"),
                ];
                for form in forms {
                    let text = format!("to {form}, thanks");
                    assert_eq!(spans(DetectorKind::Iban, &text), [form.as_str()], "{text}");
                    let last = form.as_bytes()[form.len() - 1];
                    let changed = if last == b'9' {
                        '0'
                    } else {
                        (last + 1) as char
                    };
                    let wrong = format!("to {}{changed}, thanks", &form[..form.len() - 1]);
                    if !last.is_ascii_digit() {
                        continue;
                    }
                    assert!(spans(DetectorKind::Iban, &wrong).is_empty(), "{wrong}");
                }
            }
        }
        assert!(countries >= 80, "{countries} countries");
    }

    /// The gates of texts of hex digits alone (trace and span ids, lowercase
    /// IBANs) and of digits alone (epoch times, card numbers) turn away
    /// nothing their finders find there: the finders run behind the gates
    /// and before them.
    #[test]
    fn hex_and_digit_texts_turned_away_hold_no_iban_or_card() {
        let mut pieces: Vec<String> = ["0", "7", "1", "a", "f", "-", "de", "be", "4111", "5500"]
            .map(String::from)
            .to_vec();
        for iban in [
            iban_of("DE", "370400440532013000"),
            iban_of("BE", "539007547034"),
            iban_of("AD", "00012030200359100100"),
            iban_of("BE", "ABCDEF012345"),
        ] {
            let lower = iban.to_ascii_lowercase();
            pieces.push(grouped_by(&lower, "-"));
            pieces.push(lower);
        }
        for card in [
            "4111111111111111",
            "5500005555555559",
            "378282246310005",
            "6011000990139424",
        ] {
            pieces.push(card.to_string());
        }
        // Whole card numbers of each first digit, 13 to 19 digits long:
        // each brand head, then digits, then the Luhn check digit.
        for head in ["4", "2221", "51", "34", "3528", "6011"] {
            for len in 13..=19 {
                let mut t: Vec<u8> = head.bytes().collect();
                t.extend((t.len()..len - 1).map(|k| b'0' + (k * 3 % 10) as u8));
                let check = (b'0'..=b'9')
                    .find(|&d| luhn(&[&t[..], &[d]].concat()))
                    .unwrap();
                t.push(check);
                pieces.push(String::from_utf8(t).unwrap());
            }
        }
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let mut texts = crate::test_texts::from_pieces(0x4e5a_0001, 200_000, (1, 6), &pieces);
        // Whole numbers of every length, starting with every digit.
        for len in 1..=40 {
            for first in b'0'..=b'9' {
                let mut t = vec![first];
                t.extend((1..len).map(|k| b'0' + (k * 7 % 10) as u8));
                texts.push(String::from_utf8(t).unwrap());
            }
        }
        let (mut ibans, mut cards) = (0, 0);
        for t in texts.iter().map(String::as_str) {
            let p = profile(t);
            let hex = !p.has(C_NOT_HEX);
            for (kind, seen) in [
                (DetectorKind::Iban, &mut ibans),
                (DetectorKind::CreditCard, &mut cards),
            ] {
                let mut bare = Vec::new();
                match kind {
                    DetectorKind::Iban => find_ibans(t, &mut bare),
                    _ => find_cards(t, &mut bare),
                }
                if bare.is_empty() {
                    continue;
                }
                *seen += usize::from(hex);
                let mut gated = Vec::new();
                find_kind(kind, t, &mut gated);
                if kind == DetectorKind::Iban {
                    assert_eq!(gated, bare, "{kind:?} in {t:?}");
                } else {
                    // Cards in UUID-like texts are dropped after the finder.
                    assert!(!gated.is_empty() || t.contains('-'), "{kind:?} in {t:?}");
                }
            }
        }
        assert!(
            ibans > 500 && cards > 500,
            "{ibans} IBANs, {cards} cards in hex texts"
        );
    }

    #[test]
    fn ibans_are_what_a_regex_finds_at_each_start() {
        let valid = [
            iban_of("DE", "370400440532013000"),
            iban_of("NO", "86011117947"),
            iban_of("GB", "NWBK60161331926819"),
            iban_of("MT", "MALT011000012345MTLCAST001S"),
            // Hex digits only, with letters past the check digits.
            iban_of("BE", "ABCDEF012345"),
        ];
        let mut pieces: Vec<String> = [
            "0", "1", " ", "A", "a", "_", "-", "é", "DE", "89", "3704", "de", "be",
        ]
        .map(String::from)
        .to_vec();
        for v in &valid {
            let lower = v.to_ascii_lowercase();
            pieces.push(v.clone());
            pieces.push(grouped(v));
            pieces.push(grouped_by(v, "-"));
            pieces.push(lower.clone());
            pieces.push(grouped_by(&lower, "-"));
            // Its check digits off by one, and its head alone.
            let mut off = v.clone().into_bytes();
            off[3] = if off[3] == b'9' { b'0' } else { off[3] + 1 };
            pieces.push(String::from_utf8(off).unwrap());
            pieces.push(grouped(&v[..12]));
            pieces.push(grouped_by(&lower[..12], "-"));
        }
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let texts = crate::test_texts::from_pieces(0x1ba0_0f5e_ed00, 100_000, (1, 8), &pieces);
        // By length: the whole form and the forms in groups, in each case.
        let mut shapes: std::collections::HashMap<usize, Vec<Regex>> = Default::default();
        let (mut found, mut any, mut lower_or_dashed) = (Vec::new(), 0, 0);
        for t in &texts {
            found.clear();
            find_ibans(t, &mut found);
            let b = t.as_bytes();
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            let want = from_each_start(t, |s| {
                let len = b
                    .get(s..s + 2)
                    .map(|cc| cc.to_ascii_uppercase())
                    .and_then(|cc| iban_length([cc[0], cc[1]]))?;
                let rest = t.get(s..).filter(|_| s == 0 || !word(b[s - 1]))?;
                let forms = shapes.entry(len).or_insert_with(|| {
                    let (q, r) = ((len - 4) / 4, (len - 4) % 4);
                    let mut forms = Vec::new();
                    for (letter, chars) in [("A-Z", "A-Z0-9"), ("a-z", "a-z0-9")] {
                        let whole = format!("^[{letter}]{{2}}[0-9]{{2}}[{chars}]{{{}}}", len - 4);
                        forms.push(Regex::new(&whole).unwrap());
                        for sep in [" ", "-"] {
                            let last = if r > 0 {
                                format!("({sep}[{chars}]{{{r}}})")
                            } else {
                                String::new()
                            };
                            let groups = format!(
                                "^[{letter}]{{2}}[0-9]{{2}}({sep}[{chars}]{{4}}){{{q}}}{last}"
                            );
                            forms.push(Regex::new(&groups).unwrap());
                        }
                    }
                    forms
                });
                let m = forms.iter().find_map(|f| f.find(rest))?;
                let e = s + m.end();
                let chars: String = m.as_str().replace([' ', '-'], "").to_ascii_uppercase();
                let checked = mod97_of(&format!("{}{}", &chars[4..], &chars[..4])) == 1;
                let dashed = m.as_str().as_bytes()[4] == b'-';
                let glued = b.get(e).is_some_and(|&c| word(c))
                    || (dashed
                        && b.get(e) == Some(&b'-')
                        && b.get(e + 1).is_some_and(|&c| word(c)));
                let lower = m.as_str().as_bytes()[0].is_ascii_lowercase();
                let hex_id = lower
                    && chars.bytes().all(|c| c.is_ascii_hexdigit())
                    && chars[4..].bytes().any(|c| c.is_ascii_alphabetic());
                (checked && !glued && !hex_id).then_some(e)
            });
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
            lower_or_dashed += usize::from(
                want.iter()
                    .any(|&(s, e)| t[s..e].contains('-') || t.as_bytes()[s].is_ascii_lowercase()),
            );
        }
        assert!(any > 2_000, "{any} texts with IBANs");
        assert!(
            lower_or_dashed > 500,
            "{lower_or_dashed} in lowercase or with dashes"
        );
    }

    #[test]
    fn ssns() {
        assert_eq!(
            spans(
                DetectorKind::Ssn,
                "ssn 123-45-6789, (078-05-1120); id:899-99-9999."
            ),
            ["123-45-6789", "078-05-1120", "899-99-9999"]
        );
        // Numbers never issued, longer chains, glued letters, other shapes.
        assert!(spans(
            DetectorKind::Ssn,
            "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000 1123-45-6789 \
             123-45-67890 123-45-6789-1 a123-45-6789 123 45 6789 123.45.6789 12-345-6789 \
             2026-12-04 123e4567-e89b-12d3-a456-426614174000"
        )
        .is_empty());
    }

    #[test]
    fn ssns_are_what_a_regex_finds_at_each_start() {
        let shape = Regex::new(r"^(\d{3})-(\d{2})-(\d{4})").unwrap();
        let pieces = [
            "0",
            "1",
            "6",
            "9",
            "-",
            ".",
            " ",
            "_",
            "a",
            "123",
            "45",
            "6789",
            "123-",
            "45-",
            "00",
            "666",
            "000",
            "é",
            "123-45-6789",
            "-45-6789",
            "123-45-",
            "666-",
            "900-",
            "-00-",
            "-0000",
        ];
        let texts =
            crate::test_texts::from_pieces(0x55a0_1234_5678_9abd, 200_000, (1, 14), &pieces);
        let (mut found, mut any) = (Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_ssns(t, &mut found);
            let want = from_each_start(t, |s| {
                let c = t.get(s..).and_then(|rest| shape.captures(rest))?;
                let e = s + c.get(0).unwrap().end();
                let area: u32 = c[1].parse().unwrap();
                let issued =
                    area != 0 && area != 666 && area < 900 && &c[2] != "00" && &c[3] != "0000";
                (issued && alone_by_hand(t.as_bytes(), s, e)).then_some(e)
            });
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with numbers");
    }

    #[test]
    fn secrets() {
        let oai = format!("sk-{}T3BlbkFJ{}", "a".repeat(20), "b".repeat(20));
        assert_eq!(
            spans(DetectorKind::Secret, &format!("key={oai} end")),
            [oai.as_str()]
        );
        assert_eq!(
            spans(DetectorKind::Secret, "id AKIAIOSFODNN7EXAMPLE."),
            ["AKIAIOSFODNN7EXAMPLE"]
        );
        let gh = format!("ghp_{}", "A1b2".repeat(9));
        assert_eq!(spans(DetectorKind::Secret, &gh), [gh.as_str()]);
        // Word characters of tokens are ASCII.
        for (prefix, n) in [("github_pat_", 82), ("glpat-", 20), ("AIza", 35)] {
            let ascii = format!("{prefix}{}", "a_9".repeat(n).get(..n).unwrap());
            assert_eq!(spans(DetectorKind::Secret, &ascii), [ascii.as_str()]);
            let letters = format!("{prefix}{}", "é".repeat(n));
            assert!(spans(DetectorKind::Secret, &letters).is_empty(), "{prefix}");
        }
        assert_eq!(
            spans(DetectorKind::Secret, "sent with Bearer abc.DEF-123_x="),
            ["abc.DEF-123_x="]
        );
        // As a header line, the whole value goes, its scheme too.
        assert_eq!(
            spans(DetectorKind::Secret, "Authorization: Bearer abc.DEF-123_x="),
            ["Bearer abc.DEF-123_x="]
        );
        assert_eq!(
            spans(DetectorKind::Secret, "https://bob:hunter2@db.example.com/x"),
            ["bob:hunter2"]
        );
        let stripe = format!("sk_live_{}", "9".repeat(24));
        assert_eq!(spans(DetectorKind::Secret, &stripe), [stripe.as_str()]);
        assert_eq!(
            spans(DetectorKind::Secret, "xoxb-1234567890-1234567890-abcdef"),
            ["xoxb-1234567890-1234567890-abcdef"]
        );
        // `bearer` matches in any case; the literal prefilter must let
        // every spelling through.
        for auth in ["BeArEr", "bEARER", "BEARer", "bearer"] {
            assert_eq!(
                spans(DetectorKind::Secret, &format!("{auth} tok3n.value-9")),
                ["tok3n.value-9"],
                "{auth}"
            );
        }
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(spans(DetectorKind::Secret, jwt), [jwt]);
        assert!(spans(
            DetectorKind::Secret,
            "skeleton key, ghp_short, the bearer of news, bearer information"
        )
        .is_empty());
    }

    #[test]
    fn basic_credentials_are_base64_with_a_colon() {
        // `user:password` in base64, padded or not, in any letter case of
        // the scheme, after any whitespace.
        for (text, cred) in [
            ("sent Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
            (
                "basic\tYWxhZGRpbjpvcGVuc2VzYW1l,",
                "YWxhZGRpbjpvcGVuc2VzYW1l",
            ),
            ("BASIC  dXNlcjpwYXNz x", "dXNlcjpwYXNz"),
            ("proxy: bAsIc dXM6cGFzcw", "dXM6cGFzcw"),
        ] {
            assert_eq!(spans(DetectorKind::Secret, text), [cred], "{text}");
        }
        // Words after "basic", base64 of text without a `:`, and text
        // that is not base64 at all.
        for text in [
            "upgrade from the Basic plan today",
            "The basic settings were changed",
            "basic cGxhaW4gdGV4dA== is plain text",
            "Basic abcdefghi",
            "Basic ABCDEFGH=X",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text}");
        }
    }

    #[test]
    fn base64_colon_check_decodes_like_the_base64_crate() {
        use base64::Engine as _;
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        // `Og` is `:` alone; `6` and `o` begin the bits of a `:` at the
        // other positions of a group.
        let pieces = [
            "O", "g", "6", "o", "A", "Q", "z", "/", "+", "=", "==", "dXNl", "cjpw", "-", " ",
        ];
        let texts =
            crate::test_texts::from_pieces(0xba51_c0de_0000_0001, 100_000, (0, 12), &pieces);
        let mut colons = 0;
        for t in &texts {
            let want = engine
                .decode(t.trim_end_matches('='))
                .is_ok_and(|d| d.contains(&b':'));
            assert_eq!(base64_holds_colon(t.as_bytes()), want, "{t:?}");
            colons += usize::from(want);
        }
        assert!(colons > 1_000, "{colons}");
    }

    #[test]
    fn personal_params() {
        let text = "https://x.test/a?first_name=Ann&lastName=Lee&Phone=4155550132&q=shoes\
                    &billing-address=1+Main+St&DOB=1990-01-02#zip=94107 \
                    log: userEmail=bob tel = 020-7946 lat=52.37 %3Fssn%3D078-05-1120%26x \
                    passport=\"X 123\"";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            [
                "Ann",
                "Lee",
                "4155550132",
                "1+Main+St",
                "1990-01-02",
                "94107",
                "bob",
                "020-7946",
                "52.37",
                "078-05-1120",
                "X 123"
            ]
        );
        // Other names, names that only contain or start with one, words
        // that end like one without starting a word there, empty values.
        assert!(spans(
            DetectorKind::PersonalParam,
            "?name=checkout&q=ann&email_verified=true&emails=2&hotel=x&telescope=y\
             &nozip=1&Updatedob=2&zipcode_hint=3&phone=&ssn=#"
        )
        .is_empty());
        // Written `name: value`, as YAML and prose logs do: over spaces
        // to the next `name:`, a `,` or the line's end; in quotes, what
        // they enclose.
        assert_eq!(
            spans(
                DetectorKind::PersonalParam,
                "signup full_name: Ann O'Neil, Address: 1 Main St zip: 94107\nlast_name: 'Lee' ok"
            ),
            ["Ann O'Neil", "1 Main St", "94107", "Lee"]
        );
        // The names the personal preset drops as fields: a city, a
        // device's ids, a plate, bank and tax numbers, other names.
        assert_eq!(
            spans(
                DetectorKind::PersonalParam,
                "geo city=Leeds user_nickname=annie imei=356938035643809 idfa=6D92078A \
                 license_plate=AB12CDE account_number=31926819 tax_id=X1 velocity=3 ethnicity_code=2"
            ),
            ["Leeds", "annie", "356938035643809", "6D92078A", "AB12CDE", "31926819", "X1"]
        );
        // The default action replaces the value and keeps the name; an
        // email value is the email detector's (tokenized, as everywhere).
        let ds = crate::policy::Policy::builtin().unwrap().detectors;
        let out = ds
            .rewrite("/signup?first_name=Ann&email=ann%40example.com", |_| {})
            .unwrap();
        assert!(
            out.starts_with("/signup?first_name=[REDACTED]&email="),
            "{out}"
        );
        assert!(
            !out.contains("ann%40example.com") && !out.contains("[REDACTED]&email=[REDACTED]"),
            "{out}"
        );
        // Members of JSON written into text after a prefix, with its quotes
        // escaped, or as Python writes a dict; ids too.
        let text = "INFO body: {\"user\":{\"first_name\":\"Ann\",\"phone\": 4155550132}} \
                    {\\\"last_name\\\":\\\"Lee\\\"} {'zip': '94107', 'full_name': \"Ann O'Neil\", \
                    'user_id': 42, \"customerId\":\"c-9\"}";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Ann", "4155550132", "Lee", "94107", "Ann O'Neil"]
        );
        assert_eq!(spans(DetectorKind::IdParam, text), ["42", "c-9"]);
        // Rails' parameters and Node.js's printed objects.
        let text = "Parameters: {\"user\"=>{\"first_name\"=>\"Ann\", \"zip\"=>\"94107\"}} \
                    { firstName: 'Bob', userId: 'u-7', plan: 'team' } {:phone=>\"4155550132\"}";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Ann", "94107", "Bob", "4155550132"]
        );
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-7"]);
        // Go's structs and maps, whose values may hold spaces: to the next
        // member's name or the closing bracket.
        let text = "saved &{ID:42 FullName:Ann Lee Phone:4155550132 UserID:u-9} \
                    map[last_name:van der Berg user_id:u-8 plan:team]";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Ann Lee", "4155550132", "van der Berg"]
        );
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-9", "u-8"]);
        // Outside a bracket, one word: a log's prose goes on.
        assert_eq!(
            spans(
                DetectorKind::PersonalParam,
                "[info] created FirstName:Ann Lee ok"
            ),
            ["Ann"]
        );
        // Records as Kotlin's data classes, Lombok, Java's records and
        // maps print them: values with spaces and apostrophes, to the next
        // member or the closing bracket; a record inside a record's value.
        let text = "saved Customer(id=7, fullName=Ann O'Neil, street=1 Main St, zip=94107) \
                    User[userId=u-1, lastName=van der Berg] {phone=415 555 0132} \
                    login user={name=Ann Lee, email_address=ann at example}";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            [
                "Ann O'Neil",
                "1 Main St",
                "94107",
                "van der Berg",
                "415 555 0132",
                "ann at example"
            ]
        );
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-1"]);
        // Outside a record, or after a `?`, one word; a value that
        // starts with a bracket without a member in it is a value. (The
        // first `Lee` is the second's other place.)
        assert_eq!(
            spans(
                DetectorKind::PersonalParam,
                "first_name=Ann Lee (see /u?last_name=Lee now) street={x} y"
            ),
            ["Ann", "Lee", "Lee", "{x}"]
        );
        // A name of another thing.
        assert!(spans(
            DetectorKind::PersonalParam,
            "{\"name\":\"checkout\"} 'q': 'x' \"email_verified\": true"
        )
        .is_empty());
    }

    /// The engines search a whole number only when [`digits_may_match`]
    /// holds (`engine::scans_number`): in a text of digits alone no
    /// detector but the card detector finds anything, and it nothing else.
    #[test]
    fn digits_alone_hold_only_card_numbers() {
        let kinds: Vec<DetectorKind> = DetectorKind::ALL.to_vec();
        let mut texts: Vec<String> = (1..=25)
            .flat_map(|n| {
                (0..10u8).map(move |d| std::iter::repeat_n(char::from(b'0' + d), n).collect())
            })
            .collect();
        // Card numbers of every length and brand prefix, with valid check
        // digits, and random digit runs.
        for len in 12..=20 {
            for prefix in ["2", "34", "37", "4", "51", "55", "6011", "65", "3528"] {
                let mut d: Vec<u8> = prefix.bytes().collect();
                d.resize(len, b'7');
                // The check digit that makes it valid.
                for check in b'0'..=b'9' {
                    d[len - 1] = check;
                    if luhn(&d) {
                        break;
                    }
                }
                texts.push(String::from_utf8(d).unwrap());
            }
        }
        texts.extend(crate::test_texts::from_pieces(
            0x5eed_d161,
            20_000,
            (1, 8),
            &[
                "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "41", "4111", "5555", "0000",
            ],
        ));
        let mut cards = 0;
        for t in &texts {
            for &k in &kinds {
                let found = spans(k, t);
                if k == DetectorKind::CreditCard {
                    assert!(found.is_empty() || digits_may_match(t.as_bytes()), "{t}");
                    cards += usize::from(!found.is_empty());
                } else {
                    assert!(found.is_empty(), "{} found {found:?} in {t}", k.name());
                }
            }
        }
        assert!(cards > 30, "{cards} card numbers found");
    }

    #[test]
    fn request_queries() {
        let text = "GET /search?q=Ann+Lee&page=2 HTTP/1.1 | POST /a#frag HTTP/2.0 \
                    \"DELETE /u?x HTTP/1.0\" GET /plain HTTP/1.1 OPTIONS * HTTP/1.1";
        assert_eq!(
            spans(DetectorKind::RequestQuery, text),
            ["?q=Ann+Lee&page=2", "#frag", "?x"]
        );
        // Not a request line: no method, a method glued to a word or too
        // long, a lowercase one, no version digit, a space in the target.
        for text in [
            "/search?q=1 HTTP/1.1",
            "xGET /a?b HTTP/1.1",
            "PROPPATCHX /a?b HTTP/1.1",
            "get /a?b HTTP/1.1",
            "GET /a?b HTTP/x",
            "GET /a?b c HTTP/1.1",
            "see https://x.test/?q=1 and HTTP/1.1",
        ] {
            assert!(spans(DetectorKind::RequestQuery, text).is_empty(), "{text}");
        }
        // By default the query goes, whatever its parameters hold, and
        // the rest of the line stays.
        let ds = crate::policy::Policy::builtin().unwrap().detectors;
        assert_eq!(
            ds.rewrite("GET /search?q=Ann+Lee&token=abc HTTP/1.1", |_| {})
                .unwrap(),
            "GET /search HTTP/1.1"
        );
    }

    /// The token the fast engine gives `value` as the field `name` under
    /// policy `p`: what a detector's id in text must equal.
    fn field_token(p: &std::sync::Arc<crate::policy::Policy>, name: &str, value: &str) -> String {
        let mut field = Vec::new();
        crate::Redactor::redact(
            &crate::Fast::new(p.clone()),
            format!("{{\"{name}\":\"{value}\"}}").as_bytes(),
            &mut field,
            &mut crate::Stats::new(p),
        )
        .unwrap();
        let field = String::from_utf8(field).unwrap();
        let token = field
            .strip_prefix(&format!("{{\"{name}\":\""))
            .and_then(|t| t.strip_suffix("\"}"))
            .unwrap();
        assert!(token.starts_with("tok_"), "{field}");
        token.to_string()
    }

    /// Asserts that the built-in policy's detectors rewrite `text` into
    /// `text` with, for each `(field, value)` in turn, the value (its first
    /// place past the one before) replaced by the token the field gets for
    /// it, and nothing else changed.
    fn assert_field_tokens(text: &str, replaced: &[(&str, &str)]) {
        let p = std::sync::Arc::new(crate::policy::Policy::builtin().unwrap());
        let out = p.detectors.rewrite(text, |_| {}).unwrap();
        let (mut want, mut rest) = (String::new(), text);
        for (field, value) in replaced {
            let at = rest.find(value).unwrap();
            want.push_str(&rest[..at]);
            want.push_str(&field_token(&p, field, value));
            rest = &rest[at + value.len()..];
        }
        want.push_str(rest);
        assert_eq!(out, want, "{text:?}");
    }

    /// URLs percent-encoded in text (a referrer or a redirect in another's
    /// query) lose their query and fragment, also encoded twice.
    #[test]
    fn encoded_url_queries() {
        for (text, want) in [
            (
                "?idsite=1&urlref=https%3A%2F%2Fwww.google.com%2Fsearch%3Fq%3Dann%2Blee&ua=x",
                &["%3Fq%3Dann%2Blee"][..],
            ),
            (
                "next=HTTPS%3a%2f%2fapp.test%2fcb%23state%3D1 then r=http%253A%252F%252Fx.test%252Fa%253Fu%253D4 done",
                &["%23state%3D1", "%253Fu%253D4"],
            ),
            // No query; no scheme before the `://`; no host.
            ("next=https%3A%2F%2Fapp.test%2Fcb&x=%3F", &[]),
            ("u=%3A%2F%2Fx%3Fq", &[]),
            ("u=a%3A%2F%2F&q=%3Fq", &[]),
        ] {
            assert_eq!(spans(DetectorKind::RequestQuery, text), want, "{text}");
        }
    }

    #[test]
    fn encoded_url_queries_are_what_a_regex_finds() {
        // Each encoded URL in turn: a scheme's letter or digit, the encoded
        // `://`, then the URL's bytes; its query from the first encoded `?`
        // or `#` after the host's first byte.
        let url =
            Regex::new(r#"(?i)[a-z0-9](%3A%2F%2F|%253A%252F%252F)([^\t\n\x0C\r &#"'<>\\)\]}]+)"#)
                .unwrap();
        let once = Regex::new("(?i)%3F|%23").unwrap();
        let twice = Regex::new("(?i)%253F|%2523").unwrap();
        let pieces = [
            "https",
            "a",
            "%3A%2F%2F",
            "%3a%2f%2f",
            "%253A%252F%252F",
            "%3A",
            "%2F",
            "x.test",
            "%3F",
            "%3f",
            "%23",
            "%253F",
            "%2523",
            "q",
            "%3D",
            "&",
            "#",
            " ",
            "\"",
            ")",
            "%",
            "3F",
            "%25",
        ];
        let texts =
            crate::test_texts::from_pieces(0x0e2c_0de0_a7a7_0001, 100_000, (1, 10), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_encoded_url_queries(t.as_bytes(), &mut found);
            want.clear();
            for c in url.captures_iter(t) {
                let body = c.get(2).unwrap();
                let marks = if c[1].len() == 9 { &once } else { &twice };
                if let Some(m) = marks.find(&t[body.start() + 1..body.end()]) {
                    want.push((body.start() + 1 + m.start(), body.end()));
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 3_000, "{any} texts with a query");
    }

    /// Access-log lines in the combined log format of Apache and nginx:
    /// the referrer loses its query and fragment, the authenticated user
    /// is an id, and nothing else of the line is touched.
    #[test]
    fn combined_log_lines() {
        let line =
            "203.0.113.7 - ann [10/Oct/2026:13:55:36 -0700] \"GET /a?q=Ann HTTP/1.1\" 200 2326 \
                    \"https://ref.test/p?q=Ann+Lee#top\" \"Mozilla/5.0 (X11; Linux x86_64)\"";
        assert_eq!(
            spans(DetectorKind::RequestQuery, line),
            ["?q=Ann", "?q=Ann+Lee#top"]
        );
        assert_eq!(spans(DetectorKind::IdParam, line), ["ann"]);
        assert_eq!(
            spans(DetectorKind::UserAgent, line),
            ["Mozilla/5.0 (X11; Linux x86_64)"]
        );
        // The common log format (no referrer), a size of `-`, HTTP/2 and an
        // IPv6 client, two lines in one text, a user that is also named
        // as a parameter.
        let text = "2001:db8::1 - bob [10/Oct/2026:13:55:36 +0000] \"POST /login HTTP/2\" 302 - \
                    \"https://ref.test/#x\" \"-\"\n10.0.0.1 - - [10/Oct/2026:13:55:37 +0000] \
                    \"GET / HTTP/1.0\" 200 5 | user_id=u-1 1.2.3.4 - carol [t] \"GET / HTTP/1.1\" 200 5";
        assert_eq!(spans(DetectorKind::RequestQuery, text), ["#x"]);
        // `-` is no User-Agent, and the common format has none.
        assert!(spans(DetectorKind::UserAgent, text).is_empty());
        assert_eq!(spans(DetectorKind::IdParam, text), ["bob", "u-1", "carol"]);
        // Not the combined format: no status, a status of two digits, no
        // size, a referrer without its quote; not the common format: no
        // time before the request, no ident before the user, no user.
        for text in [
            "GET / HTTP/1.1\" \"https://r.test/?q=1\"",
            "GET / HTTP/1.1\" 20 5 \"https://r.test/?q=1\"",
            "GET / HTTP/1.1\" 200 \"https://r.test/?q=1\"",
            "GET / HTTP/1.1\" 200 5 https://r.test/?q=1",
        ] {
            assert!(spans(DetectorKind::RequestQuery, text).is_empty(), "{text}");
            // The first is a load balancer's line, below.
            if !text.contains("1\" \"") {
                let with_agent = format!("{text} \"curl/8.5\"");
                assert!(
                    spans(DetectorKind::UserAgent, &with_agent).is_empty(),
                    "{text}"
                );
            }
        }
        // AWS load balancers write the User-Agent right after the request
        // line, with no status or referrer between.
        let alb = "https 2026-12-07T06:00:00Z app/lb/1 203.0.113.9:51234 10.0.0.1:80 0.001 0.002 \
                   0.000 200 200 34 366 \"GET https://www.example.com:443/a?q=1 HTTP/1.1\" \
                   \"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)\" ECDHE-RSA-AES128-GCM-SHA256 \
                   TLSv1.2";
        assert_eq!(
            spans(DetectorKind::UserAgent, alb),
            ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"]
        );
        assert_eq!(spans(DetectorKind::RequestQuery, alb), ["?q=1"]);
        // Apache's error log ends a message with the referrer; a referrer
        // without a query keeps all, and the words alone are nothing.
        let error = "[Mon Dec 07 06:00:00.000 2026] [authz_core:error] [pid 1] [client \
                     203.0.113.9:51234] AH01630: client denied by server configuration: \
                     /var/www/x, referer: https://ref.test/p?q=Ann+Lee#top\n[...] AH00128: \
                     File does not exist: /var/www/y, referer: https://ref.test/a?b=1 \
                     , referer: https://ref.test/ (referer: https://ref.test/?c)";
        assert_eq!(
            spans(DetectorKind::RequestQuery, error),
            ["?q=Ann+Lee#top", "?b=1"]
        );
        // Found after the request lines, listed in order.
        assert_eq!(
            spans(
                DetectorKind::RequestQuery,
                "e, referer: https://r.test/?x\nGET /a?b HTTP/1.1"
            ),
            ["?x", "?b"]
        );
        for text in [
            "x - ann \"GET / HTTP/1.1\" 200 5",
            "ann [10/Oct/2026:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5",
            "x - - [10/Oct/2026:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5",
            "x - ann [10/Oct/2026:13:55:36 -0700] GET / HTTP/1.1 200 5",
        ] {
            assert!(spans(DetectorKind::IdParam, text).is_empty(), "{text}");
        }
        // By default the user gets the token an access log's remote_user
        // field gets, the referrer keeps its page, and the User-Agent is
        // reduced as a user_agent field is.
        let p = std::sync::Arc::new(crate::policy::Policy::builtin().unwrap());
        let out = p.detectors.rewrite(line, |_| {}).unwrap();
        let token = field_token(&p, "remote_user", "ann");
        assert_eq!(
            out,
            format!(
                "203.0.113.0 - {token} [10/Oct/2026:13:55:36 -0700] \"GET /a HTTP/1.1\" 200 2326 \
                 \"https://ref.test/p\" \"Other / Linux\""
            )
        );
    }

    /// A user's name in a home directory path is an id, in Unix and
    /// Windows paths, not in a URL's route.
    #[test]
    fn home_directory_users() {
        let text = "Error: boom\n    at Object.<anonymous> (/Users/annlee/dev/app/index.js:1:7) \
                    /home/ann.lee/main.py C:\\Users\\Ann Lee\\AppData\\app.exe C:/Users/bob/x.txt \
                    file:///home/carol/doc.pdf PATH=/usr/bin:/home/dave/bin \"/home/erin\" \
                    D:\\Users\\frank /var/home/gus/.config";
        assert_eq!(
            spans(DetectorKind::IdParam, text),
            ["annlee", "ann.lee", "Ann Lee", "bob", "carol", "dave", "erin", "frank", "gus"]
        );
        // A URL's route, a path that does not start a word, no name, no
        // one's folder, no drive letter, a name glued to more of a word.
        for text in [
            "https://app.example.com/home/feed?x=1",
            "/api/Users/42",
            "/srv/home/erin/x",
            "/var/home/",
            "/home/",
            "/Users/Shared/x and C:\\Users\\Public\\y",
            "\\Users\\ann\\x",
            "xC:\\Users\\ann\\x",
            "//home/ann",
        ] {
            assert!(spans(DetectorKind::IdParam, text).is_empty(), "{text}");
        }
        // Letters of any script are a name's.
        assert_eq!(
            spans(DetectorKind::IdParam, "/home/ann\u{e9}/x"),
            ["ann\u{e9}"]
        );
        // A Windows name with a space ends at the space when no separator
        // follows on its line.
        assert_eq!(spans(DetectorKind::IdParam, "C:\\Users\\Ann Lee"), ["Ann"]);
        // By default the name gets the token a username field gets.
        assert_field_tokens("at /Users/annlee/app.js:1", &[("username", "annlee")]);
    }

    /// The quoted value of a User-Agent parameter in `name=value` text is
    /// a User-Agent; an unquoted one, `-`, and other names are not.
    #[test]
    fn user_agent_params() {
        let text = "GET /x 200 ua=\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\" \
                    user_agent=curl/8.5.0 http_user_agent=\"-\" ua_version=\"3 1\" aqua=\"1 2\" \
                    userAgent='Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0'";
        assert_eq!(
            spans(DetectorKind::UserAgent, text),
            [
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
            ]
        );
        let ds = crate::policy::Policy::builtin().unwrap().detectors;
        assert_eq!(
            ds.rewrite("ok ua=\"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\" 12ms", |_| {})
                .unwrap(),
            "ok ua=\"Firefox 120 / Linux\" 12ms"
        );
    }

    /// Login names in the messages of OpenSSH, PAM, systemd-logind and
    /// sudo are ids; the same words in other text are not.
    #[test]
    fn system_log_users() {
        let lines = [
            (
                "Accepted publickey for ann from 203.0.113.7 port 51234 ssh2: RSA SHA256:x",
                "ann",
            ),
            (
                "Failed password for invalid user admin from 203.0.113.8 port 22 ssh2",
                "admin",
            ),
            (
                "Failed keyboard-interactive/pam for bob from 203.0.113.8 port 22 ssh2",
                "bob",
            ),
            ("Invalid user carol from 203.0.113.9 port 4242", "carol"),
            (
                "Connection closed by authenticating user dave 203.0.113.10 port 22 [preauth]",
                "dave",
            ),
            ("Disconnected from user erin 2001:db8::1 port 22", "erin"),
            (
                "pam_unix(sshd:session): session opened for user frank(uid=1000) by (uid=0)",
                "frank",
            ),
            (
                "pam_unix(sshd:session): session closed for user hank",
                "hank",
            ),
            ("New session 42 of user ivan.smith.", "ivan.smith"),
            ("Started Session 42 of User judy.", "judy"),
            (
                "FATAL:  password authentication failed for user \"kate.lee\"",
                "kate.lee",
            ),
            (
                "Login failed for user 'CORP\\lars'. Reason: Password did not match. [CLIENT: <local machine>]",
                "CORP\\lars",
            ),
            (
                "Access denied for user 'max'@'localhost' (using password: YES)",
                "max",
            ),
            (
                "maximum authentication attempts exceeded for ned from 203.0.113.11 port 22",
                "ned",
            ),
            (
                "error: PAM: Authentication failure for oscar from 203.0.113.12",
                "oscar",
            ),
        ];
        for (line, user) in lines {
            assert_eq!(spans(DetectorKind::IdParam, line), [user], "{line}");
        }
        // Two in one message; sudo's invoking and target users; `root`
        // is no one's.
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "pam_unix(sudo:session): session opened for user root(uid=0) by gina(uid=1000)"
            ),
            ["gina"]
        );
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "    kim : TTY=pts/0 ; PWD=/tmp ; USER=leo ; COMMAND=/usr/bin/ls"
            ),
            ["kim", "leo"]
        );
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "mia : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh"
            ),
            ["mia"]
        );
        // The same words elsewhere: no address or `from` after the name,
        // no method before `for`, prose.
        for text in [
            "waiting for user input from the terminal",
            "for user details see the docs",
            "Invalid user input",
            "invalid user name given",
            "looking for bob from accounting",
            "a list of user accounts",
            "session opened for user",
            "sudo: unable to resolve host ; COMMAND=x",
            // A quote that does not close on its line, an empty one.
            "failed for user \"x\nwhich\"",
            "failed for user ''",
            "Login failed for user 'root'.",
        ] {
            assert!(spans(DetectorKind::IdParam, text).is_empty(), "{text}");
        }
        // By default a name gets the token a username field gets.
        let p = std::sync::Arc::new(crate::policy::Policy::builtin().unwrap());
        let out = p
            .detectors
            .rewrite("Invalid user annlee from 203.0.113.9 port 4242", |_| {})
            .unwrap();
        let token = field_token(&p, "username", "annlee");
        assert_eq!(
            out,
            format!("Invalid user {token} from 203.0.113.0 port 4242")
        );
    }

    #[test]
    fn id_params() {
        let text = "level=info msg=\"login\" user_id=u-42 actorUserId=u-7 X-Device-Id=d-1 \
                    https://x.test/e?distinct_id=%24device%3A9f&org_id=acme&q=1 \
                    account_id = 123456789012 anonymousId=\"a 1\" customer_id=c-9 memberId=m-1 \
                    connection authorized: user=olaf,db_user=pg-1 logname=olaf2";
        assert_eq!(
            spans(DetectorKind::IdParam, text),
            [
                "u-42",
                "u-7",
                "d-1",
                "%24device%3A9f",
                "acme",
                "123456789012",
                "a 1",
                "c-9",
                "m-1",
                "olaf",
                "pg-1",
                "olaf2"
            ]
        );
        // Collection URLs' user, client and visitor ids, in a query only
        // (plain, or percent-encoded in another URL).
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "GET /g/collect?v=2&cid=1029384756.17&UID=ann.lee&tid=G-1 \
                 /matomo.php?idsite=1&_id=0123abcd&rec=1 \
                 u=%2Fmatomo.php%3Fidsite%3D1%26uid%3Dbo.k%26x%3D1 \
                 r=%3Fcid%3D42"
            ),
            ["1029384756.17", "ann.lee", "0123abcd", "bo.k", "42"]
        );
        assert!(spans(
            DetectorKind::IdParam,
            "type=SYSCALL uid=0 auid=1000 cid=3 x_id=4 /a/uid=5 %2Fuid%3D6 ?ruid=7 &id=8"
        )
        .is_empty());
        // Ids of other things, names that only contain or start with one,
        // empty values.
        assert!(spans(
            DetectorKind::IdParam,
            "uid=1000 id=7 client_id=app group_id=redactor request_id=r1 trace_id=t \
             user_identity=x userids=2 user_id_hint=3 user_id=&device_id=# users=4 user_agent=ua \
             ruser= superuser_x=5"
        )
        .is_empty());
        // By default, an id in text gets the token its field gets from a
        // vendor preset's identity rule or the personal preset's
        // person-ids rule.
        let p = std::sync::Arc::new(crate::policy::Policy::builtin().unwrap());
        for name in ["user_id", "customer_id", "user"] {
            let out = p
                .detectors
                .rewrite(&format!("login {name}=u-42 ok"), |_| {})
                .unwrap();
            let token = field_token(&p, name, "u-42");
            assert_eq!(out, format!("login {name}={token} ok"));
        }
        // Header lines and `name: value` logs: an authenticating proxy's
        // user headers; `root` stays.
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "GET / HTTP/1.1\r\nX-Forwarded-User: ann\r\nX-Auth-Request-User: 'bo b'\r\n\
                 X-User-Id: u-7\r\nRemote-User: root\r\nHost: x"
            ),
            ["ann", "bo b", "u-7"]
        );
        // A CEF event's source and destination users get the token of a
        // Windows logon event's TargetUserName.
        assert_field_tokens(
            "CEF:0|V|P|1|100|x|5|spt=1 suser=ann.lee duser=bob",
            &[("TargetUserName", "ann.lee"), ("SubjectUserName", "bob")],
        );
    }

    #[test]
    fn dn_values() {
        let text = "LDAP bind failed for cn=Ann Lee,ou=People,dc=corp,dc=example \
                    subject=CN=Lee\\, Bo,OU=Staff,DC=corp; search (&(objectClass=person)(uid=cy)) \
                    dn: uid=dee ,ou=people issuer=O=Example,CN=Example CA sn=Eve+givenName=Fay,o=x";
        assert_eq!(
            spans(DetectorKind::IdParam, text),
            [
                "Ann Lee",
                "Lee\\, Bo",
                "cy",
                "dee",
                "Example CA",
                "Eve",
                "Fay"
            ]
        );
        // Not in a distinguished name or a filter; not an attribute's
        // whole name; empty; a number in parentheses.
        assert!(spans(
            DetectorKind::IdParam,
            "cn=Ann uid=bo,x=1 acn=x,ou=y my_cn=z,ou=y (cn=q cn=,ou=x (sn= ) (uid=0)"
        )
        .is_empty());
        // A user id gets the token of a `user` field.
        assert_field_tokens("uid=ann,ou=people", &[("user", "ann")]);
    }

    #[test]
    fn dn_values_are_what_a_regex_finds() {
        let person = Regex::new("(?i)(?:^|[^A-Za-z0-9_-])(?:cn|uid|sn|givenname)$").unwrap();
        // The shortest run of units (an escaped byte, a byte that is not
        // special, a space) before a terminator or the end.
        let value = Regex::new(
            r#"^((?:\\(?s:.)|\\$|[^,+)";\n\r\\ ]| )*?)(?:$|[,+)";\n\r]| [A-Za-z0-9_-]+=)"#,
        )
        .unwrap();
        let next_rdn =
            Regex::new("^[,+] *(?i:cn|l|st|o|ou|c|street|dc|uid|sn|givenname)=").unwrap();
        let after_comma = Regex::new("[,+] *$").unwrap();
        let pieces = [
            "cn=",
            "CN=",
            "uid=",
            "sn=",
            "givenName=",
            "ou=",
            "dc=",
            "o=",
            "oux=",
            ",",
            ", ",
            " ",
            "(",
            ")",
            "\\",
            "\\,",
            "Ann",
            "Lee",
            "+",
            ";",
            "\"",
            "\n",
            "x_",
            "1",
            "é",
            "=",
            "acn=",
            "(uid=",
            ",cn=",
            "  ",
            " x=",
            " a_b=",
        ];
        let texts =
            crate::test_texts::from_pieces(0xd15a_11ed_0a4e_4514, 100_000, (1, 10), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_dn_values(t, &mut found);
            want.clear();
            let mut done = 0;
            for (eq, _) in t.match_indices('=') {
                if eq < done {
                    continue;
                }
                let Some(m) = person.find(&t[..eq]) else {
                    continue;
                };
                // The attribute's name: the match without the byte before.
                let attr = eq
                    - t[m.start()..eq]
                        .trim_start_matches(|c: char| !c.is_ascii_alphabetic())
                        .len();
                let start = eq + 1;
                let end = start + value.captures(&t[start..]).unwrap()[1].len();
                let dn = after_comma.is_match(&t[..attr]) || next_rdn.is_match(&t[end..]);
                let filter = t[..attr].ends_with('(')
                    && t[end..].starts_with(')')
                    && !t[start..end].bytes().all(|c| c.is_ascii_digit());
                let trimmed = t[start..end].trim_end_matches(' ').len();
                if trimmed > 0 && (dn || filter) {
                    want.push((start, start + trimmed));
                    done = end;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 10_000, "{any} texts with values");
    }

    #[test]
    fn php_dumped_values() {
        let text = "Array\n(\n    [user] => Array\n        (\n            [first_name] => Ann Lee \n\
                    [password] => two words\r\n    [pwd]=>x\n        )\n)\n\
                    array(2) {\n  [\"password\"]=>\n  string(8) \"a \"q\" b!\"\n  [\"token\"]=>\n  int(5)\n}";
        assert_eq!(
            spans(DetectorKind::Secret, text),
            ["two words", "x", "a \"q\" b!"]
        );
        assert_eq!(spans(DetectorKind::PersonalParam, text), ["Ann Lee"]);
        // Not a dump: no brackets, another name, a bare name after a
        // quote, a length past the end.
        for text in [
            "password => x",
            "[passwords] => x",
            "[\"password] => x",
            "[\"password\"]=> string(99) \"ab",
        ] {
            let mut found = Vec::new();
            find_php_dumped_values(text, is_credential_name, &mut found);
            assert!(
                found.len() <= usize::from(text.contains("99")),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn php_dumped_values_are_what_a_regex_finds() {
        let name = Regex::new(r#"\[(?:"([A-Za-z0-9_-]+)"|([A-Za-z0-9_-]+))\][ \t]*$"#).unwrap();
        let print_r = Regex::new(r"^[ \t]*([^\r\n]*)").unwrap();
        let var_dump = Regex::new(r#"^[ \t]*(?:\r\n|\n)?[ \t]*string\(([0-9]{1,9})\) ""#).unwrap();
        let pieces = [
            "[",
            "]",
            "\"",
            "=>",
            " ",
            "\t",
            "\n",
            "\r\n",
            "password",
            "pwd",
            "x",
            "Array",
            "string(",
            "3",
            "12",
            ") \"",
            "int(5)",
            "[password] => ",
            "[\"token\"]=>\n  ",
            "é",
            "_",
        ];
        let texts = crate::test_texts::from_pieces(0x9d9_d0e5_0a11_0001, 100_000, (1, 10), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_php_dumped_values(t, is_credential_name, &mut found);
            want.clear();
            let mut done = 0;
            for (arrow, _) in t.match_indices("=>") {
                if arrow < done {
                    continue;
                }
                let Some(c) = name.captures(&t[..arrow]) else {
                    continue;
                };
                let (n, quoted) = match (c.get(1), c.get(2)) {
                    (Some(n), _) => (n.as_str(), true),
                    (_, Some(n)) => (n.as_str(), false),
                    _ => unreachable!(),
                };
                if !is_credential_name(n.as_bytes()) {
                    continue;
                }
                let rest = &t[arrow + 2..];
                let span = if quoted {
                    let Some(v) = var_dump.captures(rest) else {
                        continue;
                    };
                    let start = arrow + 2 + v.get(0).unwrap().end();
                    let len: usize = v[1].parse().unwrap();
                    (start, t.len().min(start + len))
                } else {
                    let v = print_r.captures(rest).unwrap().get(1).unwrap();
                    let value = v.as_str().trim_end_matches([' ', '\t']);
                    if value == "Array" {
                        continue;
                    }
                    let start = arrow + 2 + v.start();
                    (start, start + value.len())
                };
                if span.1 > span.0 {
                    want.push(span);
                    done = span.1;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with values");
    }

    #[test]
    fn windows_event_values() {
        let text = "An account was successfully logged on.\r\n\r\nSubject:\r\n\
                    \tSecurity ID:\t\tS-1-5-18\r\n\tAccount Name:\t\tWS01$\r\n\
                    \tAccount Domain:\t\tCORP\r\n\nNew Logon:\n\tSecurity ID:\t\tCORP\\ann.lee\n\
                    \tAccount Name:\t\tAnn Lee \t\n\tLogon ID:\t\t0x8C3A1\n\
                    \tWorkstation Name:\tANN-LAPTOP\n  logon account:\tbob\n\
                    \tSource Workstation:\t-\n\tCaller Computer Name:\tWS02";
        assert_eq!(
            spans(DetectorKind::IdParam, text),
            [
                "S-1-5-18",
                "WS01$",
                "CORP\\ann.lee",
                "Ann Lee",
                "ANN-LAPTOP",
                "bob",
                "WS02"
            ]
        );
        // Another label, a label not at its line's start, no tab after
        // the `:`, an empty value.
        assert!(spans(
            DetectorKind::IdParam,
            "\tAccount Domain:\tCORP\nNew Account Name:\tx\nAccount Name: y\nSecurity ID:\t\t\n"
        )
        .is_empty());
        // An account's name gets the token of a Windows logon event's
        // TargetUserName field.
        assert_field_tokens(
            "New Logon:\n\tAccount Name:\t\tann.lee\n",
            &[("TargetUserName", "ann.lee")],
        );
    }

    #[test]
    fn windows_event_values_are_what_a_regex_finds() {
        // At each line's start, a label, `:`, a tab, blanks, and the rest
        // of the line without its trailing blanks.
        let labelled = Regex::new(
            "(?im)^[ \t]*(?:account name|security id|logon account|workstation name|\
             source workstation|caller computer name):\t[ \t]*([^\r\n]*)",
        )
        .unwrap();
        let pieces = [
            "Account Name",
            "account NAME",
            "Security ID",
            "Logon Account",
            "Workstation Name",
            "Source Workstation",
            "Caller Computer Name",
            "Account Domain",
            "Name",
            ":",
            ":\t",
            "\t",
            " ",
            "\n",
            "\r\n",
            "\r",
            "-",
            "ann.lee",
            "S-1-5-21-1",
            "WS01$",
            "Ann Lee",
            "é",
            "\n\tAccount Name:\t\t",
            "\nSecurity ID:\t",
            "\r\n  Workstation Name:\t",
            "Logon Account:\t",
        ];
        let texts =
            crate::test_texts::from_pieces(0x3a1d_0e5e_77a7_4624, 100_000, (1, 10), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_windows_event_values(t, &mut found);
            want.clear();
            for c in labelled.captures_iter(t) {
                let v = c.get(1).unwrap();
                let trimmed = v.as_str().trim_end_matches([' ', '\t']);
                if !trimmed.is_empty() && trimmed != "-" {
                    want.push((v.start(), v.start() + trimmed.len()));
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with values");
    }

    /// [`is_personal_name`] and [`is_id_name`] by their definition: the
    /// name split into words (at `_` and `-`, and before a capital letter
    /// that follows a lowercase one), and some run of its last words,
    /// joined and lowercased, is a name of the list.
    #[test]
    fn parameter_names_are_read_word_by_word() {
        fn by_words(name: &str, list: &[&[u8]]) -> bool {
            let mut words: Vec<String> = Vec::new();
            let mut prev_lower = false;
            for c in name.chars() {
                if c == '_' || c == '-' {
                    words.push(String::new());
                    prev_lower = false;
                    continue;
                }
                if words.is_empty() || (c.is_ascii_uppercase() && prev_lower) {
                    words.push(String::new());
                }
                words.last_mut().unwrap().push(c.to_ascii_lowercase());
                prev_lower = c.is_ascii_lowercase();
            }
            (0..words.len()).any(|k| {
                let tail: String = words[k..].concat();
                !tail.is_empty() && list.contains(&tail.as_bytes())
            })
        }
        let pieces = [
            "first", "First", "name", "Name", "_", "-", "e", "mail", "Mail", "user", "address",
            "x", "A", "zip", "code", "Code", "tel", "ho", "DOB", "dob", "lat", "p", "id", "Id",
            "ID", "User", "device", "org", "Org",
        ];
        let names = crate::test_texts::from_pieces(0x9e75_0a1e, 50_000, (1, 5), &pieces);
        let (mut personal, mut ids) = (0, 0);
        for name in &names {
            let want = by_words(name, PERSONAL_NAMES);
            assert_eq!(is_personal_name(name.as_bytes()), want, "{name:?}");
            personal += usize::from(want);
            let want = by_words(name, ID_NAMES);
            assert_eq!(is_id_name(name.as_bytes()), want, "{name:?}");
            ids += usize::from(want);
        }
        assert!(personal > 2_000, "{personal} personal names hit");
        assert!(ids > 300, "{ids} id names hit");
    }

    #[test]
    fn named_credentials() {
        for (text, values) in [
            (
                "https://x.io/cb?access_token=ya29.a0Af&token_type=Bearer#id_token=eyJx",
                &["ya29.a0Af", "eyJx"][..],
            ),
            ("login failed user=bob password=hunter2 ip=x", &["hunter2"]),
            // Nested form parameters, as Rails, PHP and Stripe name them.
            (
                "user[email]=a&user[password]=hunter2&card[cvc]=123 x[a][token]=t ids[]=1",
                &["hunter2", "123", "t"],
            ),
            (
                "user%5Bpassword%5D=hunter2&x%5Ba%5D%5Bsecret%5D%3Dtop [password]=no",
                &["hunter2", "top"],
            ),
            // A card's security code.
            (
                "charge failed exp=12/27 cvv=123 card_cvc=456 securityCode=789 cvc2: 321",
                &["123", "456", "789", "321"],
            ),
            // Camel case; not a word's end, not after a capital.
            (
                "-Djavax.net.ssl.keyStorePassword=changeit awsSecretKey=k OAuth=o maxTokens=5 \
                 ABCToken=t PASSWORD=p",
                &["changeit", "k", "p"],
            ),
            (
                "password=\"two words\" next=1 pwd='a b",
                &["two words", "a b"],
            ),
            ("Server=db;User Id=bob;Password=s3cr3t;", &["s3cr3t"]),
            (
                "?X-Amz-Algorithm=AWS4&X-Amz-Signature=abc0&X-Amz-Security-Token=FQo%2B",
                &["abc0", "FQo%2B"],
            ),
            ("/app;JSESSIONID=ABC123?x=1", &["ABC123?x=1"]),
            ("spring.datasource.password=changeme", &["changeme"]),
            ("{x-api-key=k1, db_PASSWORD=p2}", &["k1", "p2"]),
            // Nested in another URL's query, percent-encoded: the value
            // ends at the nested query's next `&`.
            (
                "?next=https%3A%2F%2Fa.io%2Fcb%3Ftoken%3Dabc%26x%3D1",
                &["abc"],
            ),
            ("?r=%2Fcb%3fAUTH%3dz%2523", &["z%2523"]),
            // An `=` inside a value found is part of it.
            ("token=a=b&secret=c", &["a=b", "c"]),
            // Blanks around a plain `=`, as configuration dumps write it.
            ("password = hunter2\nuser = bob", &["hunter2"]),
            ("api_key= x", &["x"]),
            ("DB_PASSWORD\t=\t's3 cr3t'", &["s3 cr3t"]),
            // A printed record's value may hold spaces.
            (
                "DataSource(url=jdbc:pg://db/app, user=app, password=correct horse, pool=4)",
                &["correct horse"],
            ),
            // An LDAP hash starts with a bracket: a value, not a record.
            ("user_password={SSHA}c2VjcmV0 uid=1", &["{SSHA}c2VjcmV0"]),
            // `pass` as a longer name's end only (in camel case too:
            // `ByPass`); the clients' environment variables.
            (
                "DB_PASS=a1 smtp-pass=a2 mailPass=a3 pass=12 bypass=1 ByPass=a4 SSHPASS=a5 \
                 MYSQL_PWD=a6 REDISCLI_AUTH=a7",
                &["a1", "a2", "a3", "a4", "a5", "a6", "a7"],
            ),
        ] {
            assert_eq!(spans(DetectorKind::Secret, text), values, "{text}");
        }
        for text in [
            "utm_source=newsletter&utm_campaign=winter",
            "tokens=5 passwords=3 mysecret=1 signatures=2",
            "a == b",
            "password = \n",
            "token%3D x",
            "%3D%3D",
            "token",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text}");
        }
    }

    /// [`is_credential_name`] as a regex: the reference the finders of
    /// credential-named values are tested with.
    fn credential_name_re() -> Regex {
        let alternatives = |list: &[&[u8]]| {
            let names = list
                .iter()
                .map(|n| std::str::from_utf8(n).unwrap().replace('_', "[_-]"))
                .collect::<Vec<_>>();
            // In camel case: the name's first letter a capital after a
            // lowercase one, the rest in any case.
            let camel = names
                .iter()
                .map(|n| format!("{}(?i:{})", n[..1].to_ascii_uppercase(), &n[1..]))
                .collect::<Vec<_>>()
                .join("|");
            (names.join("|"), camel)
        };
        let (names, camel) = alternatives(CREDENTIAL_NAMES);
        let (endings, camel_endings) = alternatives(CREDENTIAL_ENDINGS);
        Regex::new(&format!(
            "^(?:(?i:[a-z0-9_-]*[_-])?(?i:{names})|(?i:[a-z0-9_-]*[_-])(?i:{endings})\
             |[A-Za-z0-9_-]*[a-z](?:{camel}|{camel_endings}))$"
        ))
        .unwrap()
    }

    #[test]
    fn named_credentials_find_what_a_regex_finds() {
        // The finder against a formulation with regexes: at each `=` or
        // `%3D` outside a value already found, the name before it (after
        // any `%XX` escape) and the value after it. Also with the query
        // names of `id_param`, taken after a `?`, `&`, `%3F` or `%26` only.
        let name =
            Regex::new(r"(?P<pre>%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9_%-]|^)([A-Za-z0-9_-]*)$").unwrap();
        let credential = credential_name_re();
        let query_name = Regex::new("(?i)^code$").unwrap();
        let query_pre = Regex::new("(?i)^(?:[?&]|%3F|%26)$").unwrap();
        let separator = Regex::new("=>|=|%3[dD]").unwrap();
        // Spaces and tabs around a plain `=` are skipped.
        let blanks_before = Regex::new("[ \t]*$").unwrap();
        let blanks_after = Regex::new("^[ \t]*").unwrap();
        // ASCII whitespace ends a value (`u8::is_ascii_whitespace`: no
        // vertical tab), other whitespace does not.
        let plain = Regex::new(
            r#"^(?:"((?:[^"]+(?:""[^"]*)*)?)"?|'((?:[^']+(?:''[^']*)*)?)'?|([(\[{][^\t\n\x0C\r &#;,"'<>]*|[^\t\n\x0C\r &#;,"'<>)\]}]*))"#,
        )
        .unwrap();
        let encoded_end = Regex::new("%(?:2[63]|20)").unwrap();
        // A printed record's member (after a `(`, `[`, `{` or `,`, with a
        // `(`, `[` or `{` the last bracket before it on its line): its
        // unquoted value goes on over a space and a word that is not a
        // member's name. A value that opens a record is none.
        let record_pre = Regex::new(r"[(\[{,][ \t]*$").unwrap();
        let in_record = Regex::new(r"[(\[{][^(){}\[\]\n]*$").unwrap();
        let record_value = Regex::new(r#"^[^\t\n\x0C\r ,)}\]"\\]*"#).unwrap();
        let record_word = Regex::new(r#"^ ([^\t\n\x0C\r ,)}\]"\\]+)"#).unwrap();
        let member = Regex::new("^[A-Za-z0-9_-]+=").unwrap();
        let opens_record = Regex::new(r"^[(\[{][ \t]*[A-Za-z0-9_-]+=").unwrap();
        // A nested form parameter's name: up to eight bracketed parts,
        // plain or percent-encoded, after a name; its last part's.
        let chain = Regex::new(r"(?:\[[A-Za-z0-9_-]*\]|%5[bB][A-Za-z0-9_-]*%5[dD]){1,8}$").unwrap();
        let last_part =
            Regex::new(r"(?:\[([A-Za-z0-9_-]*)\]|%5[bB]([A-Za-z0-9_-]*)%5[dD])$").unwrap();
        let pieces = [
            "token",
            "Token",
            "pwd",
            "pass",
            "Pass",
            "x",
            "_",
            "-",
            "access",
            "db.",
            "=",
            "%3D",
            "%3d",
            "%3F",
            "%26",
            "%2",
            "%",
            "&",
            "#",
            ";",
            " ",
            "\"",
            "'",
            ",",
            "3F",
            "ab",
            "1",
            "?",
            "]",
            "X-Amz-",
            "signature",
            "é",
            "%20",
            "%23",
            "&token=",
            "?pwd=",
            "%26sig%3D",
            "code",
            "Code",
            "CODE",
            "&code=",
            " auth=",
            " = ",
            "=>",
            ":pwd=>",
            ">",
            "\t",
            "\u{2003}",
            "\x0b",
            "\n",
            "(",
            "{",
            "[",
            ")",
            "}",
            "User(",
            ", ",
            "{x=",
            "(pwd=",
            "[token=a b",
            ", secret=",
            " b",
            "O'N",
            "user[",
            "][",
            "[pwd]",
            "%5B",
            "%5D",
            "%5Btoken%5D",
            "%5b",
            "x%5D",
            "user[token]",
            "x[pwd]=",
            "card%5Bsig%5D",
            "a%5Dpwd%5D",
        ];
        let texts = crate::test_texts::from_pieces(0x7a3e_d0c5_1dea_5e17, 100_000, (1, 9), &pieces);
        let (mut found, mut want, mut any, mut several) = (Vec::new(), Vec::new(), 0, 0);
        let (mut by_query_name, mut records, mut spaced, mut nested_names) = (0, 0, 0, 0);
        for (t, query) in texts.iter().flat_map(|t| [(t, false), (t, true)]) {
            found.clear();
            if query {
                find_named_credentials(t, &mut found);
            } else {
                find_named_values(t, is_credential_name, &mut found);
            }
            want.clear();
            let mut done = 0;
            for sep in separator.find_iter(t) {
                if sep.start() < done {
                    continue;
                }
                let plain_sep = matches!(sep.as_str(), "=" | "=>");
                let mut before = &t[..sep.start()];
                if plain_sep {
                    before = &before[..blanks_before.find(before).unwrap().start()];
                }
                let nested = chain
                    .find(before)
                    .filter(|_| sep.as_str() != "=>")
                    .and_then(|ch| {
                        let c = name.captures(&before[..ch.start()])?;
                        let base = c.get(2).unwrap();
                        let last = last_part.captures(before).unwrap();
                        let inner = last.get(1).or(last.get(2)).unwrap();
                        (!base.is_empty()).then(|| (inner.as_str(), base.start(), c.name("pre")))
                    });
                let (n, name_start, pre) = match nested {
                    Some((n, start, pre)) => (n, start, pre.unwrap().as_str()),
                    None => {
                        let Some(c) = name.captures(before) else {
                            continue;
                        };
                        let n = c.get(2).unwrap();
                        (n.as_str(), n.start(), c.name("pre").unwrap().as_str())
                    }
                };
                nested_names += usize::from(nested.is_some() && credential.is_match(n));
                let by_query = query && query_name.is_match(n) && query_pre.is_match(pre);
                if !credential.is_match(n) && !by_query {
                    continue;
                }
                by_query_name += usize::from(by_query && !credential.is_match(n));
                let mut value_at = sep.end();
                if plain_sep {
                    value_at += blanks_after.find(&t[value_at..]).unwrap().end();
                }
                let rest = &t[value_at..];
                if sep.len() < 3 && opens_record.is_match(rest) {
                    continue;
                }
                let c = plain.captures(rest).unwrap();
                let mut v = c.get(1).or(c.get(2)).or(c.get(3)).unwrap();
                let record = sep.as_str() == "="
                    && c.get(3).is_some()
                    && record_pre.is_match(&before[..name_start])
                    && in_record.is_match(&before[..name_start]);
                if record {
                    v = record_value.find(rest).unwrap();
                    records += 1;
                }
                let mut end = v.end();
                if record {
                    while let Some(w) = record_word.captures(&rest[end..]) {
                        if member.is_match(&w[1]) {
                            break;
                        }
                        end += w.get(0).unwrap().len();
                        spaced += 1;
                    }
                }
                if sep.len() == 3 && c.get(3).is_some() {
                    if let Some(e) = encoded_end.find(v.as_str()) {
                        end = v.start() + e.start();
                    }
                }
                if end > v.start() {
                    let start = value_at + v.start();
                    want.push((start, value_at + end));
                    done = value_at + end;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
            several += usize::from(want.len() > 1);
        }
        assert!(any > 40_000, "{any} texts with values");
        assert!(several > 4_000, "{several} texts with several values");
        assert!(by_query_name > 2_000, "{by_query_name} query names");
        assert!(records > 2_000, "{records} records' members");
        assert!(spaced > 500, "{spaced} records' values over a space");
        assert!(nested_names > 2_000, "{nested_names} nested names");
    }

    #[test]
    fn quoted_credentials() {
        for (text, values) in [
            (
                r#"body={"user":"bob","password":"hunter2","x":1"#,
                &["hunter2"][..],
            ),
            (r#"{"Client-Secret" : "cs 1", "pin_code": 1234}"#, &["cs 1"]),
            (r#"{"db_password":12345,"token":null}"#, &["12345", "null"]),
            (
                r#"payload {\"user\":\"bob\",\"passwd\":\"p\\w\"}"#,
                &[r"p\\w"],
            ),
            (r#"{\"api_key\": 42}"#, &["42"]),
            (r#"cut short {"access_token":"ya29.a0"#, &["ya29.a0"]),
            // Python's dicts, Rails' parameters, Ruby's symbols, Node.js's
            // objects (one per line, too).
            (
                r#"{'password': "it's", 'api_key': 'k-1'}"#,
                &["it's", "k-1"],
            ),
            (
                r#"Parameters: {"authenticity_token"=>"a1b2", "user"=>{"password"=>"hunter2"}}"#,
                &["a1b2", "hunter2"],
            ),
            (
                r#"{:password=>"hunter2", :token => "t-1"}"#,
                &["hunter2", "t-1"],
            ),
            (
                "{ user: 'bob', password: 'hunter2',\n  apiKey: 'k-2' }",
                &["hunter2", "k-2"],
            ),
            // Go's structs and maps.
            (
                "created &{ID:42 Password:hunter2 APIKey:k-3} map[token:t-2 x:1]",
                &["hunter2", "k-3", "t-2"],
            ),
            // Of a member that holds an object, only the members inside.
            (r#"{"password":{"new":"n","old":"o"}}"#, &[]),
        ] {
            assert_eq!(spans(DetectorKind::Secret, text), values, "{text}");
        }
        for text in [
            r#"{"user":"bob","tokens":"3"}"#,
            r#"password: hunter2"#,
            r#""password":"""#,
            r#"{"password\":"x"}"#,
            // A bare name needs an object's `{` or a `,` before it, and no
            // space before its `:`; a `=>` needs a quoted name or a symbol.
            "Error: password: invalid",
            "{ password : 'x' }",
            "password => 'x'",
            // Go's form needs the value right after the `:`.
            "&{ID:42 Password: x}",
        ] {
            let mut found = Vec::new();
            find_quoted_credentials(text, &mut found);
            assert!(found.is_empty(), "{text}");
        }
    }

    #[test]
    fn quoted_credentials_find_what_a_regex_finds() {
        // At each `:` or `=>` outside a value already found: the name
        // before it in one of its forms, then the value after it.
        let credential = credential_name_re();
        let separator = Regex::new("=>|:").unwrap();
        let escaped_name = Regex::new(r#"\\"([A-Za-z0-9_-]*)\\"[ \t]*$"#).unwrap();
        let plain_name = Regex::new(r#""([A-Za-z0-9_-]*)"[ \t]*$"#).unwrap();
        let single_name = Regex::new(r#"'([A-Za-z0-9_-]*)'[ \t]*$"#).unwrap();
        // Before a `=>` only; before a `:` only, right before it.
        let symbol_name = Regex::new(r#":([A-Za-z0-9_-]+)[ \t]*$"#).unwrap();
        let bare_name = Regex::new(r#"[{,][\t\n\x0C\r ]*([A-Za-z0-9_-]+)$"#).unwrap();
        // Go's: after a `{`, a `[` or whitespace, the value right after
        // the `:`.
        let go_name = Regex::new(r#"[{\[\t\n\x0C\r ]([A-Za-z0-9_-]+)$"#).unwrap();
        // Inside a `{` or `[`, its unquoted value goes on over a space
        // and a word that is not a member's name.
        let in_bracket = Regex::new(r"[{\[][^{}\[\]\n]*$").unwrap();
        let go_word = Regex::new(r#"^ ([^\t\n\x0C\r ,}\]"\\]+)"#).unwrap();
        let member = Regex::new("^[A-Za-z0-9_-]+:").unwrap();
        let escaped_value =
            Regex::new(r#"^[ \t]*(?:\\"((?s:.*?))(?:\\"|$)|([^\t\n\x0C\r ,}\]"\\]*))"#).unwrap();
        let value = Regex::new(r#"^[ \t]*(?:'([^']*)|"([^"]*)|([^\t\n\x0C\r ,}\]"\\]*))"#).unwrap();
        let pieces = [
            "\"",
            "\\\"",
            "\\",
            ":",
            " ",
            "\t",
            "password",
            "Token",
            "x",
            "_",
            "-",
            "db",
            ",",
            "}",
            "]",
            "1",
            "ab",
            "\"pwd\":",
            "\\\"secret\\\":",
            "\"sig\" : \"",
            "é",
            "\n",
            "{",
            "'",
            "'pwd':",
            "'Ann O'",
            "=>",
            "=",
            ">",
            ":pwd",
            ":password =>",
            "{ pwd:",
            ", token:",
            "\"pwd\"=>",
            "&{",
            "map[",
            " Pwd:",
            "[token:",
            "[token:a b",
            " b",
        ];
        let texts = crate::test_texts::from_pieces(0x0c0d_e5ec_2e75_0001, 150_000, (1, 9), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        // The six forms, and Go's values that go on over a space.
        let mut forms = [0usize; 7];
        for t in &texts {
            found.clear();
            find_quoted_credentials(t, &mut found);
            want.clear();
            let mut done = 0;
            for sep in separator.find_iter(t) {
                if sep.start() < done {
                    continue;
                }
                let before = &t[..sep.start()];
                let arrow = sep.as_str() == "=>";
                let right_after = t[sep.end()..].starts_with(|c| c != ' ' && c != '\t');
                let named = [
                    (&escaped_name, &escaped_value, true),
                    (&plain_name, &value, true),
                    (&single_name, &value, true),
                    (&symbol_name, &value, arrow),
                    (&go_name, &value, !arrow && right_after),
                    (&bare_name, &value, !arrow),
                ]
                .into_iter()
                .enumerate()
                .find_map(|(form, (name_re, value_re, applies))| {
                    let c = name_re.captures(before).filter(|_| applies)?;
                    Some((form, c.get(1).unwrap(), value_re))
                });
                let Some((form, name, value_re)) = named else {
                    continue;
                };
                if !credential.is_match(name.as_str()) {
                    continue;
                }
                let c = value_re.captures(&t[sep.end()..]).unwrap();
                let (group, v) = (1..=3).find_map(|i| c.get(i).map(|m| (i, m))).unwrap();
                // The last group is an unquoted value: not an object or
                // an array.
                let bare = group == value_re.captures_len() - 1;
                if bare && (v.as_str().starts_with('{') || v.as_str().starts_with('[')) {
                    continue;
                }
                let mut end = sep.end() + v.end();
                if form == 4 && bare && in_bracket.is_match(&t[..name.start()]) {
                    while let Some(w) = go_word.captures(&t[end..]) {
                        if member.is_match(&w[1]) {
                            break;
                        }
                        end += w.get(0).unwrap().len();
                        forms[6] += 1;
                    }
                }
                if !v.is_empty() {
                    want.push((sep.end() + v.start(), end));
                    done = end;
                    forms[form] += 1;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 10_000, "{any} texts with values");
        assert!(forms.iter().all(|&n| n > 500), "values by form: {forms:?}");
    }

    #[test]
    fn macs() {
        assert_eq!(
            spans(
                DetectorKind::Mac,
                "eth0 00:1A:2b:3C:4d:5E up; win 00-1a-2b-3c-4d-5e, x00:1a:2b:3c:4d:5e."
            ),
            [
                "00:1A:2b:3C:4d:5E",
                "00-1a-2b-3c-4d-5e",
                "00:1a:2b:3c:4d:5e"
            ]
        );
        assert_eq!(
            spans(DetectorKind::Mac, "mac=aa:bb:cc:dd:ee:ff"),
            ["aa:bb:cc:dd:ee:ff"]
        );
        // Longer runs, mixed separators, other shapes.
        assert!(spans(
            DetectorKind::Mac,
            "00:11:22:33:44:55:66 0:11:22:33:44:55 000:11:22:33:44:55 00:11-22:33:44:55 \
             00:11:22:33:44:5g at 10:20:30 fe80::1ff:fe23:4567:890a 123e4567-e89b-12d3-a456-426614174000 \
             1.2.3.4 001a.2b3c.4d5e"
        )
        .is_empty());
    }

    #[test]
    fn macs_are_what_a_regex_finds_at_each_start() {
        // At each position in turn, the pattern anchored there and the
        // boundaries checked by hand; matches taken left to right.
        let shape = Regex::new(
            r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})",
        )
        .unwrap();
        let pieces = [
            "0",
            "a",
            "F",
            "9",
            ":",
            "-",
            ".",
            " ",
            "g",
            "é",
            "00:",
            "1a-",
            "2b3c.",
            "0a:1b:2c:",
            "3d:4e:5f",
            "0a-1b-2c-",
            "3d-4e-5f",
            "0a1b.2c3d.",
            "4e5f",
        ];
        let texts =
            crate::test_texts::from_pieces(0x3ac0_ad0d_e5e5_0001, 200_000, (1, 14), &pieces);
        let (mut found, mut any) = (Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_macs(t, &mut found);
            let b = t.as_bytes();
            let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
            let want = from_each_start(t, |s| {
                let e = s + t.get(s..).and_then(|rest| shape.find(rest))?.end();
                let sep = b[s + 2];
                let glued_before =
                    s > 0 && (hex(s - 1) || (b[s - 1] == sep && s > 1 && hex(s - 2)));
                let glued_after = hex(e) || (b.get(e) == Some(&sep) && hex(e + 1));
                (!glued_before && !glued_after).then_some(e)
            });
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with a MAC address");
    }

    #[test]
    fn header_credentials() {
        for (text, values) in [
            (
                "GET /x\r\nAuthorization: Token 9944b09199c62bcf\r\nAccept: */*",
                &["Token 9944b09199c62bcf"][..],
            ),
            (
                "Cookie: sid=abc123; theme=dark\nHost: a",
                &["sid=abc123; theme=dark"],
            ),
            ("set-cookie:\tsid=zz; Path=/", &["sid=zz; Path=/"]),
            ("login failed, password: hunter2 (user: bob)", &["hunter2"]),
            ("X-Api-Key: k-123, next", &["k-123"]),
            ("password : hunter2", &["hunter2"]),
            ("api_key\t:\tk-9 ok", &["k-9"]),
            // In quotes, what they enclose.
            (
                "login failed password: \"hunter2\" token: 'abc def'",
                &["hunter2", "abc def"],
            ),
        ] {
            assert_eq!(spans(DetectorKind::Secret, text), values, "{text}");
        }
        for text in [
            "https://a.io",
            "auth:8080",
            "tokens: 5",
            "Password:",
            "host: x",
            "password\n: x",
            "tokens : 5",
        ] {
            let mut found = Vec::new();
            find_header_credentials(text, &mut found);
            assert!(found.is_empty(), "{text}");
        }
    }

    #[test]
    fn header_credentials_find_what_a_regex_finds() {
        let credential = credential_name_re();
        let line_name = Regex::new("(?i)(?:authorization|cookie)$").unwrap();
        let name = Regex::new("([A-Za-z0-9_-]*)[ \t]*$").unwrap();
        let line_value = Regex::new(r"^[ \t]+([^\r\n]*)").unwrap();
        let word_value = Regex::new(r#"^[ \t]+([^\t\n\x0C\r ,;&"'<>)\]}]*)"#).unwrap();
        let quoted_value =
            Regex::new(r#"^[ \t]+(?:"((?:[^"]+(?:""[^"]*)*)?)|'((?:[^']+(?:''[^']*)*)?))"#)
                .unwrap();
        // The shortest run of units (a byte that ends no value, a space)
        // before a byte that ends one, a space before such a byte, the
        // end or the next `name:`.
        let spaced_value = Regex::new(
            r#"^[ \t]+((?:[^\t\n\x0C\r ,)\]}"\\]| )*?)(?:$|[\t\n\x0C\r,)\]}"\\]| [\t\n\x0C\r ,)\]}"\\]| $| [A-Za-z0-9_-]+:)"#,
        )
        .unwrap();
        let pieces = [
            ":",
            " ",
            "\t",
            "\n",
            "\r",
            "password",
            "Cookie",
            "set-",
            "authorization",
            "x",
            "_",
            "-",
            ";",
            ",",
            "sid=1",
            "é",
            ": ",
            "token: ",
            "Authorization: Basic ",
            "secret :",
            "\"",
            "'",
            "\"a b\"",
            "full_name: ",
            "city",
            "Ann Lee",
            " x:",
            ")",
        ];
        let texts = crate::test_texts::from_pieces(0x4ead_e5c0_0c1e_0001, 100_000, (1, 9), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for (t, personal) in texts.iter().flat_map(|t| [(t, false), (t, true)]) {
            found.clear();
            if personal {
                find_header_values(t, is_personal_name, true, &mut found);
            } else {
                find_header_credentials(t, &mut found);
            }
            want.clear();
            let mut done = 0;
            for (at, _) in t.match_indices(':') {
                if at < done {
                    continue;
                }
                let n = name.captures(&t[..at]).unwrap().get(1).unwrap().as_str();
                let named = if personal {
                    is_personal_name(n.as_bytes())
                } else {
                    credential.is_match(n)
                };
                if !named {
                    continue;
                }
                let value = if quoted_value.is_match(&t[at + 1..]) {
                    &quoted_value
                } else if line_name.is_match(n) {
                    &line_value
                } else if personal {
                    &spaced_value
                } else {
                    &word_value
                };
                let Some(c) = value.captures(&t[at + 1..]) else {
                    continue;
                };
                let v = c.get(1).or(c.get(2)).unwrap();
                if !v.is_empty() {
                    want.push((at + 1 + v.start(), at + 1 + v.end()));
                    done = at + 1 + v.end();
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 10_000, "{any} texts with values");
    }

    #[test]
    fn merged_overlaps_are_unions() {
        let mut next = crate::test_texts::xorshift(0x3e76_e5a1_0000_0001);
        for _ in 0..5_000 {
            let n = (next() % 6) as usize;
            let mut spans: Vec<(usize, usize)> = (0..n)
                .map(|_| {
                    let s = (next() % 40) as usize;
                    (s, s + 1 + (next() % 10) as usize)
                })
                .collect();
            let covered = |v: &[(usize, usize)]| {
                (0..60)
                    .map(|i| v.iter().any(|&(s, e)| s <= i && i < e))
                    .collect::<Vec<_>>()
            };
            let before = covered(&spans);
            merge_overlaps(&mut spans);
            assert_eq!(covered(&spans), before);
            assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
        }
    }

    #[test]
    fn encoded_ats_are_the_patterns_forms() {
        let form = Regex::new(r"^(?:%40|%2540|&#0*64;|&#[xX]0*40;|&commat;)").unwrap();
        let pieces = [
            "%", "&", "#", "x", "X", "0", "4", "6", "2", "5", ";", "@", "a", "commat", "&#", "&#x",
            "40", "64", "%40", "&#64;", "00",
        ];
        let texts = crate::test_texts::from_pieces(0x0e4c_0de5_a7a7_0001, 50_000, (1, 8), &pieces);
        let mut seen = 0;
        for t in &texts {
            let want = form.find(t).map(|m| m.end());
            assert_eq!(encoded_at_len(t.as_bytes()), want, "{t:?}");
            seen += usize::from(want.is_some());
        }
        assert!(seen > 1_000, "{seen} texts start with an encoded @");
    }

    /// [`local_part_start`] by regexes, relative to the `address` matched:
    /// past the last escape (once or twice encoded) of an ASCII byte other
    /// than a letter, a digit, `.`, `_`, `+` or `-` before the `@`.
    fn local_part_start_by_regex(address: &str) -> Option<usize> {
        static RES: OnceLock<[Regex; 3]> = OnceLock::new();
        let [at, escape, delimiter] = RES.get_or_init(|| {
            [
                Regex::new("(?:@|%40|%2540|&#0*64;|&#[xX]0*40;|&commat;)[^@%&]*$").unwrap(),
                Regex::new("%(?:25([0-9A-Fa-f]{2})|([0-9A-Fa-f]{2}))").unwrap(),
                Regex::new(r"^[\x00-\x2A\x2C\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F]$").unwrap(),
            ]
        });
        let at = at.find(address)?.start();
        let mut start = 0;
        for c in escape.captures_iter(&address[..at]) {
            let hex = c.get(1).or(c.get(2)).unwrap().as_str();
            let byte = u8::from_str_radix(hex, 16).unwrap();
            if delimiter.is_match(&(byte as char).to_string()) {
                start = c.get(0).unwrap().end();
            }
        }
        (start < at).then_some(start)
    }

    #[test]
    fn email_runs_find_what_the_regex_finds_over_the_whole_text() {
        let pieces = [
            "a",
            "Z",
            "k",
            "\u{212a}",
            "\u{17f}",
            "é",
            "7",
            ".",
            "-",
            "_",
            "+",
            "%",
            "%40",
            "%2540",
            "%25",
            "@",
            "@@",
            " ",
            ",",
            "(",
            "co",
            "uk",
            ".com",
            "x1",
            "\t",
            "<",
            "user",
            "@ex.com",
            "@mail.",
            "%40b.io",
            "&",
            "#",
            ";",
            "&#64;",
            "&#x40;",
            "&commat;",
            "&#64;b.io",
            "&amp;",
            "%3D",
            "%2f",
            "%253A",
            "%2B",
            "%C3%A9",
            "%25%",
        ];
        let mut texts = vec![
            "java.lang.IllegalStateException: no account for bob.k75@corp.example.co.uk \tat x"
                .to_string(),
            "a@b.comx9 a@b.co-uk a%40b.com a%2540b.cc.dd-ee@f.gh".to_string(),
            "x@a.com&#64;b.com x@a&#64;b.com a&#64;b&#64;c.com x%40y.co&#x40;z.com".to_string(),
            "\u{212a}elvin@\u{17f}ite.org".to_string(),
        ];
        texts.extend(crate::test_texts::from_pieces(
            0x5eed_e4a1_1c0d_e001,
            100_000,
            (1, 14),
            &pieces,
        ));
        let (mut found, mut matched, mut several, mut trimmed) = (Vec::new(), 0, 0, 0);
        for t in &texts {
            found.clear();
            find_emails(t, &mut found);
            trimmed += usize::from(
                email_re()
                    .find_iter(t)
                    .any(|m| local_part_start_by_regex(m.as_str()) != Some(0)),
            );
            let want: Vec<(usize, usize)> = email_re()
                .find_iter(t)
                .filter_map(|m| Some((local_part_start_by_regex(m.as_str())? + m.start(), m.end())))
                .collect();
            assert_eq!(found, want, "{t:?}");
            matched += usize::from(!want.is_empty());
            several += usize::from(want.len() > 1);
        }
        // The generator must reach matches, and texts with several.
        assert!(
            matched > 10_000 && several > 500 && trimmed > 1_000,
            "{matched} texts hold an email, {several} several, {trimmed} one cut at an escape"
        );
    }
}
