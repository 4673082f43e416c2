//! Property tests: planted personal data never survives the default policy;
//! the parser's verdict equals serde_json's on valid and mutated JSON; an
//! empty policy round-trips every valid text to the same value.

mod common;

use proptest::prelude::*;
use redactor_core::{Fast, Redactor, Reference, Stats};

/// A JSON value written as text, with random escapes and whitespace.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn write_str(out: &mut String, s: &str, escape_mask: u64) {
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        let esc = escape_mask >> (i % 64) & 1 == 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if esc => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if esc => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl J {
    fn write(&self, out: &mut String, mask: u64, ws: bool) {
        let sp = if ws { " \n\t" } else { "" };
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => write_str(out, s, mask),
            J::Arr(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(sp);
                    x.write(out, mask.rotate_left(7), ws);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, x)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k, mask.rotate_left(3));
                    out.push_str(sp);
                    out.push(':');
                    x.write(out, mask.rotate_left(11), ws);
                }
                out.push('}');
            }
        }
    }
}

const KEYS: &[&str] = &[
    "a",
    "email",
    "Email",
    "$email",
    "user_id",
    "ip",
    "$ip",
    "properties",
    "context",
    "traits",
    "note",
    "x.y",
    "é",
    "key",
    "value",
    "$set",
    "batch",
];

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (any::<i16>(), -400i32..400).prop_map(|(a, e)| format!("{a}e{e}")),
        Just("-0.0E+0".to_string()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.-]{0,12}",
        "\\PC{0,8}",
        Just("line\nbreak\t\"quoted\" \\ back".to_string()),
        Just("emoji 😀 and é".to_string()),
    ]
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        text().prop_map(J::Str),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            prop::collection::vec(
                (
                    prop_oneof![prop::sample::select(KEYS).prop_map(String::from), text()],
                    inner
                ),
                0..6
            )
            .prop_map(J::Obj),
        ]
    })
}

/// Plants `secret` into `j` at the position chosen by `path` (recursive;
/// generated values are at most a few levels deep).
fn plant(j: &mut J, secret: &str, path: u64, as_key: bool) {
    match j {
        J::Arr(items) if !items.is_empty() && !path.is_multiple_of(3) => {
            let n = items.len();
            plant(
                &mut items[(path as usize / 3) % n],
                secret,
                path / 7,
                as_key,
            );
        }
        J::Obj(members) if !members.is_empty() && !path.is_multiple_of(3) => {
            let n = members.len();
            let m = &mut members[(path as usize / 3) % n];
            if as_key && path % 5 == 1 {
                m.0 = format!("k{secret}k");
            } else {
                plant(&mut m.1, secret, path / 7, as_key);
            }
        }
        J::Arr(items) => items.push(J::Str(format!("see {secret} here"))),
        J::Obj(members) => members.push(("note".into(), J::Str(format!("contact: {secret}")))),
        other => *other = J::Str(secret.to_string()),
    }
}

/// The zero of the full-width forms' digits, in [`in_form`].
const WIDE: u32 = 0xFF10;

/// `s` as typed in another form, given by the code point of its zero:
/// with its printable ASCII characters in their full-width forms
/// ([`WIDE`]), or with its digits in another script's.
fn in_form(s: &str, zero: Option<u32>) -> String {
    s.chars()
        .map(|c| match (zero, c) {
            (Some(WIDE), '!'..='~') => char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c),
            (Some(zero), '0'..='9') => char::from_u32(zero + u32::from(c) - 0x30).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// `j` written as text (escapes by `mask`, whitespace when `ws`), and every
/// string (values and keys) of its redaction by the default policy, then
/// every path that each engine's explanation of it prints: what no string
/// of the output may hold, no path may either.
fn redacted_strings(j: &J, mask: u64, ws: bool) -> (String, Vec<String>) {
    let mut text = String::new();
    j.write(&mut text, mask, ws);
    let p = common::default_policy();
    let mut out = Vec::new();
    Reference::new(p.clone())
        .redact(text.as_bytes(), &mut out, &mut Stats::new(&p))
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut all = Vec::new();
    strings(&v, &mut all);
    let engines: [Box<dyn Redactor>; 2] = [
        Box::new(Reference::new(p.clone())),
        Box::new(Fast::new(p.clone())),
    ];
    for e in engines {
        let mut events = Vec::new();
        e.process_append(
            text.as_bytes(),
            &mut Vec::new(),
            &mut Stats::new(&p),
            Some(&mut events),
        )
        .unwrap();
        all.extend(events.into_iter().map(|x| x.path));
    }
    (text, all)
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.push(s.clone());
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s) {
                strings(&inner, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// The German IBAN of the 18-digit `account` (check digits by ISO 7064
/// MOD 97-10) as people write it (`written`): whole, in groups of four
/// joined by spaces or by dashes, and each in lowercase too.
fn iban_de(account: u64, written: u8) -> String {
    let bban = format!("{account:018}");
    // `bban`, then D = 13, E = 14 and 00, modulo 97.
    let rest = format!("{bban}131400")
        .bytes()
        .fold(0u64, |r, d| (r * 10 + u64::from(d - b'0')) % 97);
    let iban = format!("DE{:02}{bban}", 98 - rest);
    let groups: Vec<&str> = iban
        .as_bytes()
        .chunks(4)
        .map(|g| std::str::from_utf8(g).unwrap())
        .collect();
    let form = match written % 3 {
        0 => iban.clone(),
        1 => groups.join(" "),
        _ => groups.join("-"),
    };
    if written >= 3 {
        form.to_ascii_lowercase()
    } else {
        form
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn planted_emails_and_ips_never_survive_the_default_policy(
        j in json(),
        user in "[a-z]{1,8}",
        host in "[a-z]{2,8}",
        o3 in 1u8..=254, o4 in 1u8..=254,
        v6 in 1u16..=0xfffe,
        // A device's hardware address, in either form.
        mac in any::<[u8; 6]>(), dashes in any::<bool>(),
        // A German account number (an IBAN), whole or in groups of four,
        // in either case.
        account in 0u64..1_000_000_000_000_000_000, iban_written in 0u8..6,
        // A phone number in a national form: North American, or with a
        // trunk prefix (European style).
        area in 200u16..1000, exchange in 200u16..1000, line in 0u16..10_000, dial in 0u8..7,
        path in any::<u64>(), mask in any::<u64>(), ws in any::<bool>(), wrap in any::<bool>(),
        // Octets padded with zeros, as some logs write them.
        pad in any::<bool>(),
        // Dotted; written with dashes, in a hostname (an ISP's reverse
        // DNS, cloud names); or reversed in a reverse DNS name.
        written in 0u8..3,
        // Glued to the address: digits of other scripts are not digits of
        // it, nor is a label before a dot.
        glue in prop::sample::select(
            vec!["", "\u{663}", "\u{ff11}", "\u{967}", "\u{e53}", "é", "x", "/", "host."],
        ),
        // The local part may end in a letter beyond ASCII (RFC 6531).
        ending in prop::sample::select(vec!["ed", "é", "ü", "e\u{301}", "ед"]),
        // The `@`, percent-encoded (URL queries) or as an HTML character
        // reference (HTML-escaped text).
        at in prop::sample::select(
            vec!["@", "@", "%40", "%2540", "&#64;", "&#x40;", "&#X0040;", "&commat;"],
        ),
        // Typed with an East Asian input method (full-width forms), or
        // with the digits of Thai, Devanagari, Khmer, Myanmar or the
        // mathematical bold ones.
        form in prop::sample::select(
            vec![None, Some(WIDE), Some(0x0E50), Some(0x0966), Some(0x17E0), Some(0x1040), Some(0x1D7CE)],
        ),
    ) {
        let w = |s: String| in_form(&s, form);
        // A digit of the address's own form is a digit of it: glued on, it
        // makes a longer number, as an ASCII digit would.
        let own = |c: char| form.is_some_and(|z| (z..z + 10).contains(&u32::from(c)));
        let glue = if glue.chars().any(own) { "" } else { glue };
        let local = format!("{user}.plant{ending}");
        let email = w(format!("{local}{at}{host}.example.com"));
        let dashed = written == 1;
        let ip4 = w(if dashed {
            format!("198-51-{o3}-{o4}")
        } else if written == 2 {
            // The host's octet comes first: what survives of the name must
            // not keep it.
            format!("{o4}.{o3}.51.198.in-addr.arpa")
        } else if pad {
            format!("198.051.{o3:03}.{o4:03}")
        } else {
            format!("198.51.{o3}.{o4}")
        });
        // A letter glued to a dashed address makes it part of a hostname
        // label (`v1-2-3-4` is a version): it sits between labels instead.
        let glued_ip4 = if dashed {
            w(format!("{glue} ip-{ip4}.example.net{glue}"))
        } else {
            format!("{glue}{ip4}{glue}")
        };
        let ip6 = format!("2001:db8:{v6:x}:{v6:x}:1:2:3:{v6:x}");
        let [m0, m1, m2, m3, m4, m5] = mac;
        let mac = if dashes {
            format!("{m0:02X}-{m1:02X}-{m2:02X}-{m3:02X}-{m4:02X}-{m5:02X}")
        } else {
            format!("{m0:02x}:{m1:02x}:{m2:02x}:{m3:02x}:{m4:02x}:{m5:02x}")
        };
        let iban = w(iban_de(account, iban_written));
        let phone = w(match dial {
            0 => format!("{area}-{exchange}-{line:04}"),
            1 => format!("{area}.{exchange}.{line:04}"),
            2 => format!("({area}) {exchange}-{line:04}"),
            3 => format!("{area} {exchange} {line:04}"),
            4 => format!("({area}) {exchange} {line:04}"),
            5 => format!("0{area} {exchange} {line:04}"),
            _ => format!("0{area}-{exchange}{line:04}"),
        });
        let mut j = if wrap { J::Obj(vec![("wrap".into(), j)]) } else { j };
        plant(&mut j, &format!("{glue}{email}{glue}"), path, true);
        plant(&mut j, &glued_ip4, path.rotate_left(17), false);
        plant(&mut j, &format!("{glue}{ip6}{glue}"), path.rotate_left(31), true);
        plant(&mut j, &format!("{glue}{mac}{glue}"), path.rotate_left(43), true);
        // Set off by punctuation: a letter or digit glued on makes it
        // another word.
        plant(&mut j, &format!("({iban})"), path.rotate_left(53), false);
        plant(&mut j, &format!("call {phone}."), path.rotate_left(59), false);
        let (text, all) = redacted_strings(&j, mask, ws);
        for s in &all {
            prop_assert!(!s.contains(&email), "email survived in {s:?}\ninput {text}");
            // Not even most of its local part.
            prop_assert!(
                !s.contains(&w(format!("{user}.plant"))),
                "local part survived in {s:?}\ninput {text}"
            );
            prop_assert!(!s.contains(&ip4), "ipv4 survived in {s:?}\ninput {text}");
            if written == 2 {
                let host = w(format!("{o4}.{o3}.51."));
                prop_assert!(!s.contains(&host), "host octet survived in {s:?}\ninput {text}");
            }
            prop_assert!(!s.contains(&ip6), "ipv6 survived in {s:?}\ninput {text}");
            prop_assert!(!s.contains(&mac), "mac survived in {s:?}\ninput {text}");
            prop_assert!(!s.contains(&iban), "iban survived in {s:?}\ninput {text}");
            prop_assert!(!s.contains(&phone), "phone survived in {s:?}\ninput {text}");
        }
    }

    #[test]
    fn planted_credentials_never_survive_the_default_policy(
        j in json(),
        user in "[a-z]{1,8}",
        // The credential: letters, digits and the punctuation of tokens.
        body in "[A-Za-z0-9._~+/-]{4,16}",
        path in any::<u64>(), mask in any::<u64>(), ws in any::<bool>(),
        form in 0u8..13,
        name in prop::sample::select(vec![
            "password", "PWD", "access_token", "id_token", "client_secret", "X-Amz-Signature",
            "x-api-key", "db_password", "jsessionid", "sig", "auth",
        ]),
    ) {
        use base64::Engine as _;
        let secret = format!("Zq9{body}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        let planted = match form {
            0 => format!("https://app.example.com/cb?x=1&{name}={secret}&y=2"),
            1 => format!("https://app.example.com/cb#{name}={secret}"),
            2 => format!("login failed user={user} {name}={secret} attempt=3"),
            3 => format!("Server=db;User Id={user};{name}={secret};"),
            4 => format!("?next=https%3A%2F%2Fa.io%2Fcb%3F{name}%3D{secret}%26z%3D1"),
            5 => format!("{name}=\"{secret} {secret}\""),
            // Configuration dumps, blanks around the `=`.
            6 => format!("[db]\nhost = db1\n{name} = {secret}\nport\t=\t5432"),
            // JSON in text (not one JSON text), and escaped as a string
            // holding it writes it.
            7 => format!(r#"body={{"user":"{user}", "{name}" : "{secret}", "n":1"#),
            8 => format!(r#"payload {{\"{name}\":\"{secret}\"}} end"#),
            // Header lines and `name: value` logs.
            9 => format!("login failed ({name}: {secret}, user: {user})"),
            10 => format!("GET / HTTP/1.1\r\nCookie: theme=dark; sid={secret}\r\nAccept: */*"),
            11 => format!("Authorization: Token {secret}"),
            _ => format!("Authorization: Basic {b64}"),
        };
        let mut j = J::Obj(vec![("wrap".into(), j)]);
        // Not as a key: `k…k` glued around it would rename the parameter.
        plant(&mut j, &planted, path, false);
        let (text, all) = redacted_strings(&j, mask, ws);
        for s in &all {
            prop_assert!(!s.contains(&secret), "credential survived in {s:?}\ninput {text}");
            prop_assert!(!s.contains(&b64), "basic credential survived in {s:?}\ninput {text}");
        }
    }

    #[test]
    fn empty_policy_round_trips(j in json(), mask in any::<u64>(), ws in any::<bool>()) {
        let mut text = String::new();
        j.write(&mut text, mask, ws);
        let p = common::policy("detectors = \"off\"\nnested_json = false\n");
        let out = common::redact(&p, &text);
        let a: serde_json::Value = serde_json::from_str(&text).unwrap();
        let b: serde_json::Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn verdict_equals_serde_json_on_mutations(
        j in json(), mask in any::<u64>(), ws in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..6, any::<u8>()), 1..4),
    ) {
        let mut text = String::new();
        j.write(&mut text, mask, ws);
        let mut bytes = text.into_bytes();
        for (at, kind, b) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = b,
                1 => { bytes.truncate(i); }
                2 => bytes.insert(i, b'"'),
                3 => bytes.insert(i, b'\\'),
                4 => { bytes.remove(i); }
                _ => bytes.insert(i, b),
            }
        }
        let p = common::policy("detectors = \"off\"\n");
        let ours = Reference::new(p.clone()).redact(&bytes, &mut Vec::new(), &mut Stats::new(&p)).is_ok();
        let theirs = serde_json::from_slice::<serde_json::Value>(&bytes).is_ok();
        prop_assert_eq!(ours, theirs, "input {:?}", String::from_utf8_lossy(&bytes));
    }
}
