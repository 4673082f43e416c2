//! Deterministic synthetic telemetry for tests, benchmarks and demos.
//!
//! Events follow the wire shapes of `shared/reference/telemetry-fields.md`
//! (Mixpanel, Segment, Amplitude, PostHog, OTLP/JSON): identities, emails,
//! IPs from the documentation ranges, user agents, URLs with personal data in
//! their query strings, free text with emails, IPs and phone numbers in it,
//! unicode, escapes (including escaped keys such as `"$em\u0061il"`),
//! stringified JSON and batches. The same seed always gives the same bytes.

use crate::json::{self, Value};

/// The wire formats [`Generator`] can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Mixpanel events and profile updates.
    Mixpanel,
    /// Segment messages and batches.
    Segment,
    /// Amplitude HTTP V2 envelopes.
    Amplitude,
    /// PostHog captures and batches.
    Posthog,
    /// Snowplow enriched events (as the Analytics SDKs write them in JSON)
    /// and trackers' `payload_data` envelopes.
    Snowplow,
    /// OTLP/JSON logs and traces.
    Otel,
    /// Structured application and access logs as log shippers carry them:
    /// the semantic conventions' names as nested keys (ECS) or dotted keys,
    /// and web servers' and proxies' JSON access log lines.
    Logs,
    /// Each line from a randomly chosen vendor format (not `Logs`).
    Mixed,
}

impl Format {
    /// Every format: the vendors' first (`Mixed` draws from the first
    /// five, Mixpanel to OpenTelemetry), then `Logs`, `Mixed` last.
    pub const ALL: [Format; 8] = [
        Format::Mixpanel,
        Format::Segment,
        Format::Amplitude,
        Format::Posthog,
        Format::Otel,
        Format::Snowplow,
        Format::Logs,
        Format::Mixed,
    ];

    /// The formats `Mixed` draws its lines from: the five vendors of the
    /// field reference. Snowplow, added later, is not among them, so that
    /// the benchmark corpus stays what earlier measurements ran on.
    const VENDORS: usize = 5;

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mixpanel => "mixpanel",
            Format::Segment => "segment",
            Format::Amplitude => "amplitude",
            Format::Posthog => "posthog",
            Format::Snowplow => "snowplow",
            Format::Otel => "otel",
            Format::Logs => "logs",
            Format::Mixed => "mixed",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(s: &str) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// SplitMix64: small, fast, and stable across platforms and versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    /// A random element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "José", "Zoë", "Mei", "Łukasz", "Ana", "Noah", "Priya", "Émile",
    "Søren", "Yuki", "Fatima", "Liam", "Olivia",
];
const LAST: &[&str] = &[
    "Example", "Sample", "Müller", "García", "O'Brien", "Nguyen", "Kowalski", "Ivanova", "Smith",
    "Dubois", "Rossi", "Tanaka",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "corp.example.co.uk",
];
const CITIES: &[&str] = &[
    "Springfield",
    "Amsterdam",
    "São Paulo",
    "München",
    "Kraków",
    "Osaka",
    "Lyon",
    "Austin",
];
const REGIONS: &[&str] = &[
    "Illinois",
    "North Holland",
    "São Paulo",
    "Bavaria",
    "Lesser Poland",
    "Osaka",
    "Rhône",
    "Texas",
];
const COUNTRIES: &[&str] = &["US", "NL", "BR", "DE", "PL", "JP", "FR", "GB"];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36",
];
const PAGES: &[&str] = &[
    "/settings",
    "/billing",
    "/dashboard",
    "/projects/42/members",
    "/onboarding/step-2",
    "/search",
    "/reset",
];
const EVENTS: &[&str] = &[
    "Signed In",
    "Page Viewed",
    "Button Clicked",
    "Project Created",
    "Invite Sent",
    "Checkout Completed",
    "Search Performed",
];

/// Generates events of one format.
#[derive(Debug, Clone)]
pub struct Generator {
    format: Format,
    rng: Rng,
}

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}
fn n(x: impl ToString) -> Value {
    Value::Number(x.to_string().into())
}
fn obj(members: Vec<(&str, Value)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// An `X-Forwarded-For` header: the person's address, then a proxy's.
fn forwarded_for(p: &Person) -> String {
    format!("{}, 198.51.100.10", p.ip4)
}

/// What [`Generator::logs`] draws for one request, whatever the record's
/// shape.
struct LogRequest {
    iso: String,
    url: String,
    page: String,
    method: &'static str,
    status: u32,
    level: &'static str,
    ua: String,
    login: String,
    port: u64,
    trace: String,
    span: String,
    message: String,
    duration: u64,
    service: &'static str,
}

struct Person {
    first: String,
    last: String,
    email: String,
    user_id: String,
    device: String,
    ip4: String,
    ip6: String,
    phone: String,
    city: usize,
    org: String,
}

/// What the events of one Snowplow visitor share ([`Generator::visit`]).
struct Visit {
    p: Person,
    secs: u64,
    iso: String,
    domain_userid: String,
    network_userid: String,
    session: String,
    ua: String,
    url: String,
    session_index: u64,
    fingerprint: String,
}

impl Generator {
    /// A generator of `format` from `seed`.
    pub fn new(format: Format, seed: u64) -> Generator {
        Generator {
            format,
            rng: Rng::new(seed),
        }
    }

    fn uuid(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn person(&mut self) -> Person {
        let first = self.rng.pick(FIRST).to_string();
        let last = self.rng.pick(LAST).to_string();
        let domain = self.rng.pick(DOMAINS);
        let local: String = format!("{}.{}", first, last)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let email = format!("{local}{}@{domain}", self.rng.below(100));
        let user_id = if self.rng.pct(30) {
            email.clone()
        } else {
            format!("u_{}", 10_000 + self.rng.below(90_000))
        };
        let ip4 = match self.rng.below(3) {
            0 => format!("203.0.113.{}", 1 + self.rng.below(254)),
            1 => format!("198.51.100.{}", 1 + self.rng.below(254)),
            _ => format!("192.0.2.{}", 1 + self.rng.below(254)),
        };
        let ip6 = format!(
            "2001:db8:{:x}:{:x}::{:x}",
            self.rng.below(0xffff),
            self.rng.below(0xffff),
            1 + self.rng.below(0xfff)
        );
        let phone = format!("+1555555{:04}", self.rng.below(10_000));
        let device = self.uuid();
        Person {
            first,
            last,
            email,
            user_id,
            device,
            ip4,
            ip6,
            phone,
            city: self.rng.below(CITIES.len() as u64) as usize,
            org: format!("org_{}", 1000 + self.rng.below(9000)),
        }
    }

    /// Keeps the first `always` members and each later one with probability
    /// `pct` percent, so events vary in shape and size like real ones.
    fn thin<T>(&mut self, members: &mut Vec<T>, always: usize, pct: u64) {
        let mut i = 0;
        members.retain(|_| {
            i += 1;
            i <= always || self.rng.pct(pct)
        });
    }

    fn pct_encode_email(e: &str) -> String {
        e.replace('@', "%40")
    }

    fn url(&mut self, p: &Person) -> String {
        let page = self.rng.pick(PAGES);
        match self.rng.below(4) {
            0 => format!(
                "https://app.example.com{page}?email={}&utm_source=newsletter#tab=billing",
                Self::pct_encode_email(&p.email)
            ),
            1 => format!(
                "https://app.example.com{page}?ref=nav&session={}",
                self.rng.below(1 << 40)
            ),
            2 => format!("https://app.example.com{page}"),
            _ => format!(
                "https://www.example.com{page}?q={}+{}&gclid=EXAMPLE-gclid-{:04}",
                p.first,
                p.last,
                self.rng.below(10_000)
            ),
        }
    }

    fn free_text(&mut self, p: &Person) -> String {
        match self.rng.below(6) {
            0 => format!("password reset requested for {} from {}", p.email, p.ip4),
            1 => format!(
                "User \"{} {}\" updated profile;\nnew phone {}",
                p.first, p.last, p.phone
            ),
            2 => format!(
                "request from {} failed: timeout after 30s\n\tat handler (app.js:42)",
                p.ip6
            ),
            3 => "Clicked \"Upgrade\" → ✓ confirmed 🎉".to_string(),
            4 => format!("payment card 4111 1111 1111 1111 declined for {}", p.org),
            _ => "plain note without identifiers, just a tab\tand a backslash \\ here".to_string(),
        }
    }

    fn ts(&mut self) -> (u64, String) {
        let secs = 1_732_000_000 + self.rng.below(10_000_000);
        let (d, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, dd) = crate::actions::civil_from_days(d as i64);
        let iso = format!(
            "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            self.rng.below(1000)
        );
        (secs, iso)
    }

    fn mixpanel(&mut self) -> Value {
        let p = self.person();
        let (secs, _) = self.ts();
        if self.rng.pct(25) {
            let mut set = vec![
                ("$email", s(&p.email)),
                ("$name", s(format!("{} {}", p.first, p.last))),
                ("$first_name", s(&p.first)),
                ("$last_name", s(&p.last)),
                ("$phone", s(&p.phone)),
                (
                    "$avatar",
                    s(format!(
                        "https://cdn.example.com/avatars/{}.png",
                        p.first.to_lowercase()
                    )),
                ),
                ("$created", s("2024-03-01T10:00:00")),
                ("$city", s(CITIES[p.city])),
                ("$os", s("Mac OS X")),
                ("$browser", s("Chrome")),
                ("$browser_version", n(131)),
            ];
            if self.rng.pct(30) {
                set.push(("company_id", Value::Array(vec![s(&p.org)])));
            }
            return Value::Array(vec![obj(vec![
                ("$token", s("YOUR_PROJECT_TOKEN")),
                ("$distinct_id", s(&p.user_id)),
                ("$device_id", s(&p.device)),
                ("$ip", s(&p.ip4)),
                ("$set", obj(set)),
                (
                    "$set_once",
                    obj(vec![
                        (
                            "$initial_referrer",
                            s("https://mail.example.net/inbox?thread=981"),
                        ),
                        ("initial_utm_content", s(&p.email)),
                    ]),
                ),
            ])]);
        }
        let count = if self.rng.pct(15) {
            2 + self.rng.below(6)
        } else {
            1
        };
        let mut events = Vec::new();
        for _ in 0..count {
            let url = self.url(&p);
            let mut props = vec![
                ("token", s("YOUR_PROJECT_TOKEN")),
                (
                    "distinct_id",
                    s(if self.rng.pct(20) {
                        format!("$device:{}", p.device)
                    } else {
                        p.user_id.clone()
                    }),
                ),
                ("$device_id", s(&p.device)),
                ("$user_id", s(&p.user_id)),
                ("$insert_id", s(format!("{:016x}", self.rng.next_u64()))),
                (
                    "time",
                    Value::Number(format!("{secs}.{:03}", self.rng.below(1000)).into()),
                ),
                ("$os", s("Mac OS X")),
                ("$browser", s("Chrome")),
                ("$browser_version", n(131)),
                ("$current_url", s(url)),
                ("$referrer", s("https://mail.example.net/inbox")),
                ("$referring_domain", s("mail.example.net")),
                ("$initial_referrer", s("$direct")),
                ("$screen_height", n(1117)),
                ("$screen_width", n(1728)),
                ("mp_lib", s("web")),
                ("$lib_version", s("2.82.1")),
                ("ip", s(&p.ip4)),
                ("$city", s(CITIES[p.city])),
                ("$region", s(REGIONS[p.city])),
                ("mp_country_code", s(COUNTRIES[p.city])),
                ("utm_source", s("newsletter")),
                (
                    "gclid",
                    s(format!("EXAMPLE-gclid-{:04}", self.rng.below(10_000))),
                ),
                ("company_id", Value::Array(vec![s(&p.org)])),
            ];
            self.thin(&mut props, 4, 55);
            if self.rng.pct(30) {
                props.push(("note", s(self.free_text(&p))));
            }
            if self.rng.pct(10) {
                props.push((
                    "payload",
                    s(json::to_string(&obj(vec![
                        ("email", s(&p.email)),
                        ("plan", s("pro")),
                    ]))),
                ));
            }
            events.push(obj(vec![
                ("event", s(*self.rng.pick(EVENTS))),
                ("properties", obj(props)),
            ]));
        }
        if count == 1 && self.rng.pct(50) {
            events.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(events)
        }
    }

    fn segment_message(&mut self, p: &Person) -> Value {
        let (_, iso) = self.ts();
        let anon = self.uuid();
        let mid = self.uuid();
        let ua = self.rng.pick(UAS).to_string();
        let url = self.url(p);
        let mut ctx = vec![
            ("ip", s(&p.ip4)),
            ("userAgent", s(ua)),
            ("locale", s("en-US")),
            ("timezone", s("America/Chicago")),
            (
                "page",
                obj(vec![
                    ("url", s(&url)),
                    ("path", s("/settings")),
                    (
                        "search",
                        s(format!("?email={}", Self::pct_encode_email(&p.email))),
                    ),
                    ("referrer", s("https://mail.example.net/inbox")),
                    ("title", s(format!("Settings - {} {}", p.first, p.last))),
                ]),
            ),
            (
                "campaign",
                obj(vec![
                    ("source", s("newsletter")),
                    ("medium", s("email")),
                    ("name", s("nov-launch")),
                    ("content", s(&p.email)),
                ]),
            ),
            (
                "library",
                obj(vec![
                    ("name", s("analytics.js")),
                    ("version", s("next-1.70.0")),
                ]),
            ),
            (
                "location",
                obj(vec![
                    ("city", s(CITIES[p.city])),
                    ("country", s(COUNTRIES[p.city])),
                    ("latitude", n(39.78)),
                    ("longitude", n(-89.65)),
                ]),
            ),
            ("traits", obj(vec![("email", s(&p.email))])),
        ];
        self.thin(&mut ctx, 2, 35);
        let context = obj(ctx);
        match self.rng.below(3) {
            0 => obj(vec![
                ("type", s("identify")),
                ("messageId", s(mid)),
                ("timestamp", s(iso)),
                ("userId", s(&p.user_id)),
                ("anonymousId", s(anon)),
                (
                    "traits",
                    obj(vec![
                        ("email", s(&p.email)),
                        ("first_name", s(&p.first)),
                        ("lastName", s(&p.last)),
                        ("phone", s(&p.phone)),
                        (
                            "address",
                            obj(vec![
                                ("street", s("1 Example Way")),
                                ("city", s(CITIES[p.city])),
                                ("postalCode", s("00000")),
                                ("country", s(COUNTRIES[p.city])),
                            ]),
                        ),
                        (
                            "company",
                            obj(vec![("id", s(&p.org)), ("name", s("Example Corp"))]),
                        ),
                    ]),
                ),
                ("context", context),
            ]),
            1 => obj(vec![
                ("type", s("page")),
                ("messageId", s(mid)),
                ("timestamp", s(iso)),
                ("userId", s(&p.user_id)),
                ("anonymousId", s(anon)),
                ("name", s("Settings")),
                (
                    "properties",
                    obj(vec![
                        ("url", s(&url)),
                        ("path", s("/settings")),
                        ("referrer", s("https://mail.example.net/inbox")),
                        ("title", s(format!("Settings - {} {}", p.first, p.last))),
                    ]),
                ),
                ("context", context),
            ]),
            _ => {
                let mut props = vec![
                    ("plan", s("pro")),
                    ("seats", n(1 + self.rng.below(50))),
                    (
                        "revenue",
                        Value::Number(
                            format!("{}.{:02}", self.rng.below(500), self.rng.below(100)).into(),
                        ),
                    ),
                ];
                if self.rng.pct(40) {
                    props.push(("comment", s(self.free_text(p))));
                }
                obj(vec![
                    ("type", s("track")),
                    ("event", s(*self.rng.pick(EVENTS))),
                    ("messageId", s(mid)),
                    ("timestamp", s(iso)),
                    ("userId", s(&p.user_id)),
                    ("anonymousId", s(anon)),
                    ("properties", obj(props)),
                    ("context", context),
                ])
            }
        }
    }

    fn segment(&mut self) -> Value {
        let p = self.person();
        if self.rng.pct(15) {
            let k = 2 + self.rng.below(5);
            let batch = (0..k).map(|_| self.segment_message(&p)).collect();
            obj(vec![
                ("writeKey", s("YOUR_WRITE_KEY")),
                ("context", obj(vec![("ip", s(&p.ip4))])),
                ("batch", Value::Array(batch)),
            ])
        } else {
            self.segment_message(&p)
        }
    }

    fn amplitude(&mut self) -> Value {
        let p = self.person();
        let k = if self.rng.pct(20) {
            2 + self.rng.below(4)
        } else {
            1
        };
        let mut events = Vec::new();
        for _ in 0..k {
            let (secs, _) = self.ts();
            let url = self.url(&p);
            let ua = self.rng.pick(UAS).to_string();
            let mut e = vec![
                ("user_id", s(&p.user_id)),
                ("device_id", s(&p.device)),
                ("event_type", s("[Amplitude] Page Viewed")),
                ("time", n(secs * 1000 + self.rng.below(1000))),
                ("session_id", n(secs * 1000 - 10_000)),
                ("insert_id", s(self.uuid())),
                (
                    "ip",
                    s(if self.rng.pct(50) {
                        "$remote".to_string()
                    } else {
                        p.ip4.clone()
                    }),
                ),
                ("platform", s("Web")),
                ("language", s("en-US")),
                ("user_agent", s(ua)),
                ("city", s(CITIES[p.city])),
                ("country", s(COUNTRIES[p.city])),
                ("location_lat", n(39.78)),
                ("location_lng", n(-89.65)),
                ("groups", obj(vec![("org_id", s(&p.org))])),
                (
                    "event_properties",
                    obj(vec![
                        ("[Amplitude] Page Location", s(&url)),
                        (
                            "[Amplitude] Page URL",
                            s(url.split('?').next().unwrap_or("")),
                        ),
                        (
                            "[Amplitude] Page Title",
                            s(format!("Settings - {} {}", p.first, p.last)),
                        ),
                    ]),
                ),
                (
                    "user_properties",
                    obj(vec![
                        (
                            "$set",
                            obj(vec![
                                ("email", s(&p.email)),
                                ("name", s(format!("{} {}", p.first, p.last))),
                                ("gclid", s("EXAMPLE-gclid-0001")),
                            ]),
                        ),
                        (
                            "$setOnce",
                            obj(vec![(
                                "initial_referrer",
                                s("https://mail.example.net/inbox?thread=17"),
                            )]),
                        ),
                    ]),
                ),
            ];
            self.thin(&mut e, 5, 55);
            if self.rng.pct(25) {
                e.push(("idfa", s(self.uuid())));
            }
            events.push(obj(e));
        }
        obj(vec![
            ("api_key", s("YOUR_API_KEY")),
            ("events", Value::Array(events)),
        ])
    }

    fn posthog_event(&mut self, p: &Person) -> Value {
        let (_, iso) = self.ts();
        let url = self.url(p);
        let ua = self.rng.pick(UAS).to_string();
        let mut props = vec![
            ("token", s("phc_EXAMPLEPROJECTKEY")),
            ("distinct_id", s(&p.user_id)),
            ("$device_id", s(&p.device)),
            ("$session_id", s(self.uuid())),
            ("$current_url", s(url)),
            ("$host", s("app.example.com")),
            ("$pathname", s("/settings")),
            ("$referrer", s("https://mail.example.net/inbox")),
            ("$referring_domain", s("mail.example.net")),
            ("$raw_user_agent", s(ua)),
            ("$browser", s("Chrome")),
            ("$os", s("Mac OS X")),
            ("$timezone", s("America/Chicago")),
            (
                "$ip",
                s(if self.rng.pct(30) {
                    p.ip6.clone()
                } else {
                    p.ip4.clone()
                }),
            ),
            ("$geoip_city_name", s(CITIES[p.city])),
            ("$geoip_country_code", s(COUNTRIES[p.city])),
            ("fbclid", s("EXAMPLE-fbclid-0001")),
            ("$groups", obj(vec![("company", s(&p.org))])),
        ];
        self.thin(&mut props, 3, 50);
        if self.rng.pct(30) {
            props.push(("$el_text", s(format!("Signed in as {}", p.email))));
        }
        if self.rng.pct(20) {
            props.push(("message", s(self.free_text(p))));
        }
        obj(vec![
            ("uuid", s(self.uuid())),
            (
                "event",
                s(if self.rng.pct(30) {
                    "$identify"
                } else {
                    "$pageview"
                }),
            ),
            ("properties", obj(props)),
            (
                "$set",
                obj(vec![
                    ("email", s(&p.email)),
                    ("name", s(format!("{} {}", p.first, p.last))),
                ]),
            ),
            (
                "$set_once",
                obj(vec![
                    ("$initial_referrer", s("https://mail.example.net/inbox")),
                    ("$initial_gclid", s("EXAMPLE-gclid-0002")),
                ]),
            ),
            ("timestamp", s(iso)),
        ])
    }

    fn posthog(&mut self) -> Value {
        let p = self.person();
        match self.rng.below(10) {
            0 => {
                let k = 2 + self.rng.below(5);
                let batch = (0..k).map(|_| self.posthog_event(&p)).collect();
                obj(vec![
                    ("api_key", s("phc_EXAMPLEPROJECTKEY")),
                    ("historical_migration", Value::Bool(false)),
                    ("batch", Value::Array(batch)),
                ])
            }
            1 | 2 => Value::Array(vec![self.posthog_event(&p)]),
            _ => self.posthog_event(&p),
        }
    }

    /// What the events of one Snowplow visitor share.
    fn visit(&mut self) -> Visit {
        let p = self.person();
        let (secs, iso) = self.ts();
        Visit {
            domain_userid: self.uuid(),
            network_userid: self.uuid(),
            session: self.uuid(),
            ua: self.rng.pick(UAS).to_string(),
            url: self.url(&p),
            session_index: 1 + self.rng.below(40),
            fingerprint: self.rng.below(1 << 31).to_string(),
            p,
            secs,
            iso,
        }
    }

    /// The client session entity of a visit.
    fn client_session(v: &Visit) -> Value {
        obj(vec![
            ("userId", s(&v.domain_userid)),
            ("sessionId", s(&v.session)),
            ("sessionIndex", n(v.session_index)),
            ("previousSessionId", Value::Null),
            ("storageMechanism", s("COOKIE_1")),
        ])
    }

    /// A Snowplow event: an enriched event in the Analytics SDKs' JSON
    /// ([`Generator::snowplow_enriched`]), or a tracker's `payload_data`
    /// envelope of one to three events ([`Generator::snowplow_tracked`]).
    fn snowplow(&mut self) -> Value {
        let v = self.visit();
        if self.rng.pct(30) {
            let k = 1 + self.rng.below(3);
            let events = (0..k).map(|i| self.snowplow_tracked(&v, i)).collect();
            return obj(vec![
                (
                    "schema",
                    s("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"),
                ),
                ("data", Value::Array(events)),
            ]);
        }
        self.snowplow_enriched(&v)
    }

    /// Event `i` of a tracker's envelope: short names, and the entities as
    /// JSON in `co` (the client session, and at times a custom one with
    /// the person's email).
    fn snowplow_tracked(&mut self, v: &Visit, i: u64) -> Value {
        let mut co = vec![obj(vec![
            (
                "schema",
                s("iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2"),
            ),
            ("data", Self::client_session(v)),
        ])];
        if self.rng.pct(40) {
            co.push(obj(vec![
                ("schema", s("iglu:com.example/customer/jsonschema/1-0-0")),
                (
                    "data",
                    obj(vec![("email", s(&v.p.email)), ("plan", s("team"))]),
                ),
            ]));
        }
        let co = json::to_string(&obj(vec![
            (
                "schema",
                s("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"),
            ),
            ("data", Value::Array(co)),
        ]));
        let mut e = vec![
            ("e", s(if i == 0 { "pv" } else { "se" })),
            ("url", s(&v.url)),
            ("page", s("Settings")),
            ("refr", s("https://mail.example.net/inbox")),
            ("tv", s("js-3.24.0")),
            ("tna", s("sp")),
            ("aid", s("app")),
            ("p", s("web")),
            ("tz", s("America/Chicago")),
            ("lang", s("en-US")),
            ("res", s("1920x1080")),
            ("eid", s(self.uuid())),
            ("dtm", s((v.secs * 1000).to_string())),
            ("vid", s(v.session_index.to_string())),
            ("sid", s(&v.session)),
            ("duid", s(&v.domain_userid)),
            ("uid", s(&v.p.user_id)),
            ("fp", s(&v.fingerprint)),
            ("ip", s(&v.p.ip4)),
            ("ua", s(&v.ua)),
            ("co", s(co)),
        ];
        if i > 0 {
            e.push(("se_ca", s("settings")));
            e.push(("se_ac", s("save")));
        }
        self.thin(&mut e, 4, 85);
        obj(e)
    }

    /// An enriched event in the Analytics SDKs' JSON: a web page view, or a
    /// mobile screen view with the mobile and geolocation entities.
    fn snowplow_enriched(&mut self, v: &Visit) -> Value {
        let mobile = self.rng.pct(25);
        let mut e = vec![
            ("app_id", s(if mobile { "app-ios" } else { "app" })),
            ("platform", s(if mobile { "mob" } else { "web" })),
            ("collector_tstamp", s(&v.iso)),
            ("dvce_created_tstamp", s(&v.iso)),
            ("event", s(if mobile { "unstruct" } else { "page_view" })),
            ("event_id", s(self.uuid())),
            ("name_tracker", s("sp")),
            ("v_tracker", s("js-3.24.0")),
            ("user_id", s(&v.p.user_id)),
            ("user_ipaddress", s(&v.p.ip4)),
            ("domain_userid", s(&v.domain_userid)),
            ("network_userid", s(&v.network_userid)),
            ("domain_sessionid", s(&v.session)),
            ("domain_sessionidx", n(v.session_index)),
            ("geo_country", s(COUNTRIES[v.p.city])),
            ("geo_city", s(CITIES[v.p.city])),
            ("geo_region_name", s(REGIONS[v.p.city])),
            ("geo_zipcode", s(format!("{:05}", self.rng.below(100_000)))),
            (
                "geo_latitude",
                n(format!("{}.{:04}", 30 + v.p.city, self.rng.below(10_000))),
            ),
            (
                "geo_longitude",
                n(format!("-{}.{:04}", 70 + v.p.city, self.rng.below(10_000))),
            ),
            ("ip_isp", s("Example Cable")),
            ("ip_organization", s(&v.p.org)),
            (
                "ip_domain",
                s(format!("{}.dyn.example.net", v.p.ip4.replace('.', "-"))),
            ),
            ("page_url", s(&v.url)),
            ("page_title", s("Settings")),
            ("page_urlhost", s("app.example.com")),
            ("page_urlpath", s("/settings")),
            (
                "page_urlquery",
                s(format!("email={}", Self::pct_encode_email(&v.p.email))),
            ),
            (
                "page_referrer",
                s(format!(
                    "https://www.example.com/search?q={}+{}",
                    v.p.first, v.p.last
                )),
            ),
            ("refr_urlhost", s("www.example.com")),
            ("refr_medium", s("search")),
            ("refr_term", s(format!("{} {}", v.p.first, v.p.last))),
            ("mkt_medium", s("cpc")),
            ("mkt_campaign", s("winter")),
            (
                "mkt_clickid",
                s(format!("EXAMPLE-gclid-{:04}", self.rng.below(10_000))),
            ),
            ("useragent", s(&v.ua)),
            ("br_name", s("Chrome")),
            ("os_name", s("Mac OS X")),
            ("os_timezone", s("America/Chicago")),
            ("dvce_type", s("Computer")),
            (
                "contexts_com_snowplowanalytics_snowplow_client_session_1",
                Value::Array(vec![Self::client_session(v)]),
            ),
        ];
        self.thin(&mut e, 12, 75);
        if mobile {
            e.push((
                "contexts_com_snowplowanalytics_snowplow_mobile_context_1",
                Value::Array(vec![obj(vec![
                    ("osType", s("ios")),
                    ("osVersion", s("17.1")),
                    ("deviceManufacturer", s("Apple Inc.")),
                    ("deviceModel", s("iPhone15,2")),
                    ("appleIdfa", s(self.uuid().to_uppercase())),
                    ("appleIdfv", s(self.uuid().to_uppercase())),
                    ("networkType", s("wifi")),
                ])]),
            ));
            e.push((
                "contexts_com_snowplowanalytics_snowplow_geolocation_context_1",
                Value::Array(vec![obj(vec![
                    (
                        "latitude",
                        n(format!("{}.{:04}", 30 + v.p.city, self.rng.below(10_000))),
                    ),
                    (
                        "longitude",
                        n(format!("{}.{:04}", 100 + v.p.city, self.rng.below(10_000))),
                    ),
                ])]),
            ));
        }
        if self.rng.pct(20) {
            e.push(("se_label", s(self.free_text(&v.p))));
        }
        obj(e)
    }

    fn attr(key: &str, v: Value) -> Value {
        obj(vec![("key", s(key)), ("value", v)])
    }

    fn sv(x: impl Into<String>) -> Value {
        obj(vec![("stringValue", s(x))])
    }

    fn otel(&mut self) -> Value {
        let p = self.person();
        let (secs, _) = self.ts();
        let resource = obj(vec![(
            "attributes",
            Value::Array(vec![
                Self::attr("service.name", Self::sv("checkout-api")),
                Self::attr("host.name", Self::sv("ip-10-0-1-23")),
            ]),
        )]);
        let k = if self.rng.pct(20) {
            2 + self.rng.below(4)
        } else {
            1
        };
        let mut records = Vec::new();
        for _ in 0..k {
            let url = self.url(&p);
            let ua = self.rng.pick(UAS).to_string();
            let mut attrs = vec![
                Self::attr("user.id", Self::sv(&p.user_id)),
                Self::attr("user.email", Self::sv(&p.email)),
                Self::attr("client.address", Self::sv(&p.ip4)),
                Self::attr(
                    "client.port",
                    obj(vec![(
                        "intValue",
                        s(format!("{}", 1024 + self.rng.below(60_000))),
                    )]),
                ),
                Self::attr("user_agent.original", Self::sv(ua)),
                Self::attr("url.full", Self::sv(url)),
                Self::attr("http.request.method", Self::sv("POST")),
                Self::attr(
                    "http.request.header.authorization",
                    obj(vec![(
                        "arrayValue",
                        obj(vec![(
                            "values",
                            Value::Array(vec![Self::sv(format!(
                                "Bearer tok{:016x}",
                                self.rng.next_u64()
                            ))]),
                        )]),
                    )]),
                ),
                Self::attr(
                    "http.request.header.x-forwarded-for",
                    obj(vec![(
                        "arrayValue",
                        obj(vec![(
                            "values",
                            Value::Array(vec![Self::sv(&p.ip4), Self::sv("198.51.100.10")]),
                        )]),
                    )]),
                ),
            ];
            self.thin(&mut attrs, 2, 35);
            if self.rng.pct(40) {
                attrs.push(Self::attr(
                    "app.context",
                    obj(vec![(
                        "kvlistValue",
                        obj(vec![(
                            "values",
                            Value::Array(vec![
                                Self::attr("user.email", Self::sv(&p.email)),
                                Self::attr("plan", Self::sv("pro")),
                            ]),
                        )]),
                    )]),
                ));
            }
            if self.rng.pct(15) {
                let trace: String = (0..8)
                    .map(|i| {
                        format!(
                            "\n\tat com.example.Handler.step{i}(Handler.java:{})",
                            40 + i
                        )
                    })
                    .collect();
                attrs.push(Self::attr(
                    "exception.stacktrace",
                    Self::sv(format!(
                        "java.lang.IllegalStateException: no account for {}{trace}",
                        p.email
                    )),
                ));
            }
            let body = self.free_text(&p);
            records.push(obj(vec![
                (
                    "timeUnixNano",
                    s(format!("{}{:09}", secs, self.rng.below(1_000_000_000))),
                ),
                ("severityNumber", n(9)),
                ("severityText", s("INFO")),
                (
                    "traceId",
                    s(format!(
                        "{:016x}{:016x}",
                        self.rng.next_u64(),
                        self.rng.next_u64()
                    )),
                ),
                ("spanId", s(format!("{:016x}", self.rng.next_u64()))),
                ("body", Self::sv(body)),
                ("attributes", Value::Array(attrs)),
            ]));
        }
        obj(vec![(
            "resourceLogs",
            Value::Array(vec![obj(vec![
                ("resource", resource),
                (
                    "scopeLogs",
                    Value::Array(vec![obj(vec![
                        ("scope", obj(vec![("name", s("app.http"))])),
                        ("logRecords", Value::Array(records)),
                    ])]),
                ),
            ])]),
        )])
    }

    /// An application or access log record: ECS-style nested objects (with
    /// ECS's own dotted `log.level` and `ecs.version`) half of the time, one
    /// flat object of dotted names as OTel-flattened and many JSON loggers
    /// write it a third of the time, otherwise a web server's or a proxy's
    /// access log line in JSON (nginx's variable names or Traefik's
    /// fields) or as a container runtime records it (the combined log
    /// format's line under `log`). A message is a request line, a
    /// `key=value` line naming the user by id, an SSH server's login line,
    /// a request's parameters as Rails or Node.js print them, or free
    /// text.
    fn logs(&mut self) -> Value {
        let p = self.person();
        let (_, iso) = self.ts();
        let url = self.url(&p);
        let page = self.rng.pick(PAGES).to_string();
        let method = *self.rng.pick(&["GET", "POST", "PUT", "DELETE"]);
        let status = *self
            .rng
            .pick(&[200u32, 200, 200, 201, 204, 302, 400, 401, 404, 500]);
        let ua = self.rng.pick(UAS).to_string();
        let port = 1024 + self.rng.below(60_000);
        let trace = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        let span = format!("{:016x}", self.rng.next_u64());
        let login = p.email.split('@').next().unwrap_or("").to_string();
        let message = match self.rng.below(8) {
            0..=2 => format!("{method} {page} {status}"),
            3 => format!(
                "level=info msg=\"session started\" user_id={} org_id={} took={}ms",
                p.user_id,
                p.org,
                self.rng.below(900)
            ),
            4 => format!(
                "Accepted publickey for {login} from {} port {port} ssh2",
                p.ip4
            ),
            5 if self.rng.pct(50) => format!(
                "Parameters: {{\"user\"=>{{\"first_name\"=>\"{}\", \"phone\"=>\"{}\", \
                 \"user_id\"=>\"{}\", \"plan\"=>\"pro\"}}}}",
                p.first, p.phone, p.user_id
            ),
            5 => format!(
                "signup {{ firstName: '{}', phone: '{}', userId: '{}', plan: 'pro' }}",
                p.first, p.phone, p.user_id
            ),
            _ => self.free_text(&p),
        };
        let duration = self.rng.below(2_000_000_000);
        let service = *self
            .rng
            .pick(&["checkout-api", "auth", "search", "billing-worker"]);
        let r = LogRequest {
            login,
            level: match status {
                500.. => "error",
                400.. => "warn",
                _ => "info",
            },
            iso,
            url,
            page,
            method,
            status,
            ua,
            port,
            trace,
            span,
            message,
            duration,
            service,
        };
        match self.rng.below(6) {
            5 => self.access_log(&p, r),
            3 | 4 => self.flat_log(&p, r),
            _ => self.ecs_log(&p, r),
        }
    }

    /// A web server's access log line in JSON, under nginx's names, or a
    /// proxy's, under Traefik's.
    fn access_log(&mut self, p: &Person, r: LogRequest) -> Value {
        let query = r
            .url
            .split_once('?')
            .map_or(String::new(), |(_, q)| format!("?{q}"));
        if self.rng.pct(40) {
            return self.proxy_log(p, r, &query);
        }
        if self.rng.pct(35) {
            return self.container_log(p, r, &query);
        }
        let mut members = vec![
            ("time_local", s(r.iso)),
            ("remote_addr", s(&p.ip4)),
            ("remote_user", s(r.login)),
            ("remote_port", s(r.port.to_string())),
            (
                "request",
                s(format!("{} {}{query} HTTP/1.1", r.method, r.page)),
            ),
            ("status", n(r.status)),
            ("body_bytes_sent", n(self.rng.below(100_000))),
            (
                "request_time",
                n(format!("{:.3}", self.rng.below(5_000) as f64 / 1000.0)),
            ),
            ("http_referer", s(self.url(p))),
            ("http_user_agent", s(r.ua)),
            ("http_x_forwarded_for", s(forwarded_for(p))),
            ("http_cookie", s(self.session_cookie())),
        ];
        self.thin(&mut members, 6, 60);
        obj(members)
    }

    /// A proxy's access log line, under Traefik's field names (request
    /// headers as `request_<Header>`).
    fn proxy_log(&mut self, p: &Person, r: LogRequest, query: &str) -> Value {
        let mut members = vec![
            ("time", s(r.iso)),
            ("ClientAddr", s(format!("{}:{}", p.ip4, r.port))),
            ("ClientHost", s(&p.ip4)),
            ("ClientPort", s(r.port.to_string())),
            ("ClientUsername", s(r.login)),
            ("DownstreamStatus", n(r.status)),
            ("RequestMethod", s(r.method)),
            ("RequestPath", s(format!("{}{query}", r.page))),
            ("RequestProtocol", s("HTTP/2.0")),
            ("Duration", n(r.duration)),
            ("request_User-Agent", s(r.ua)),
            ("request_Referer", s(self.url(p))),
            ("request_X-Forwarded-For", s(forwarded_for(p))),
            ("request_Cookie", s(self.session_cookie())),
        ];
        self.thin(&mut members, 10, 60);
        obj(members)
    }

    /// A web server's access log line in the combined log format, as a
    /// container runtime's `json-file` driver records the line written to
    /// standard output.
    fn container_log(&mut self, p: &Person, r: LogRequest, query: &str) -> Value {
        // `2026-01-02T03:04:05.678Z` as `02/Jan/2026:03:04:05 +0000`.
        let month = r.iso[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let time = format!(
            "{}/{}/{}:{} +0000",
            &r.iso[8..10],
            months[month - 1],
            &r.iso[..4],
            &r.iso[11..19]
        );
        let line = format!(
            "{} - {} [{time}] \"{} {}{query} HTTP/1.1\" {} {} \"{}\" \"{}\"\n",
            p.ip4,
            r.login,
            r.method,
            r.page,
            r.status,
            self.rng.below(100_000),
            self.url(p),
            r.ua
        );
        obj(vec![
            ("log", s(line)),
            ("stream", s("stdout")),
            ("time", s(r.iso)),
        ])
    }

    /// A `Cookie` header with a fresh session id, as access logs record it.
    fn session_cookie(&mut self) -> String {
        format!("sid={:016x}; theme=dark", self.rng.next_u64())
    }

    /// One flat object of dotted names.
    fn flat_log(&mut self, p: &Person, r: LogRequest) -> Value {
        let mut members = vec![
            ("time", s(r.iso)),
            ("level", s(r.level)),
            ("msg", s(r.message)),
            ("service.name", s(r.service)),
            ("trace_id", s(r.trace)),
            ("user.id", s(&p.user_id)),
            ("client.address", s(&p.ip4)),
            ("client.port", n(r.port)),
            ("http.request.method", s(r.method)),
            ("http.response.status_code", n(r.status)),
            ("url.full", s(r.url)),
            ("user_agent.original", s(r.ua)),
            ("user.name", s(r.login)),
            ("enduser.id", s(&p.email)),
            (
                "http.request.header.authorization",
                s(format!("Bearer tok{:016x}", self.rng.next_u64())),
            ),
            ("network.peer.address", s(&p.ip6)),
        ];
        self.thin(&mut members, 7, 50);
        if r.level == "error" {
            members.push((
                "error.stack",
                s(format!(
                    "Error: no account for {}\n    at handler (app.js:42)\n    at process (node:internal:1)",
                    p.email
                )),
            ));
        }
        obj(members)
    }

    /// ECS-style nested objects.
    fn ecs_log(&mut self, p: &Person, r: LogRequest) -> Value {
        let city = p.city;
        let mut client = vec![
            ("ip", s(&p.ip4)),
            ("port", n(r.port)),
            (
                "geo",
                obj(vec![
                    ("city_name", s(CITIES[city])),
                    ("region_name", s(REGIONS[city])),
                    ("country_iso_code", s(COUNTRIES[city])),
                    (
                        "location",
                        obj(vec![
                            (
                                "lat",
                                n(format!(
                                    "{:.4}",
                                    40.0 + self.rng.below(10_000) as f64 / 1000.0
                                )),
                            ),
                            (
                                "lon",
                                n(format!("{:.4}", self.rng.below(10_000) as f64 / 1000.0)),
                            ),
                        ]),
                    ),
                ]),
            ),
            (
                "address",
                s(format!(
                    "laptop-{}.corp.example.net",
                    p.first.to_lowercase()
                )),
            ),
        ];
        self.thin(&mut client, 2, 50);
        let mut user = vec![
            ("id", s(&p.user_id)),
            ("name", s(r.login)),
            ("email", s(&p.email)),
            ("full_name", s(format!("{} {}", p.first, p.last))),
            ("domain", s("corp")),
        ];
        self.thin(&mut user, 1, 50);
        let mut request = vec![("method", s(r.method))];
        if self.rng.pct(30) {
            request.push((
                "headers",
                obj(vec![
                    (
                        "cookie",
                        s(format!("sid={:016x}; theme=dark", self.rng.next_u64())),
                    ),
                    ("x-forwarded-for", s(format!("{}, 198.51.100.10", p.ip4))),
                ]),
            ));
        }
        let mut members = vec![
            ("@timestamp", s(r.iso)),
            ("log.level", s(r.level)),
            ("message", s(r.message)),
            ("ecs.version", s("8.11.0")),
            ("service", obj(vec![("name", s(r.service))])),
            (
                "event",
                obj(vec![
                    ("dataset", s(format!("{}.access", r.service))),
                    ("duration", n(r.duration)),
                ]),
            ),
            (
                "http",
                obj(vec![
                    ("request", obj(request)),
                    ("response", obj(vec![("status_code", n(r.status))])),
                ]),
            ),
            ("url", obj(vec![("full", s(r.url)), ("path", s(r.page))])),
            ("user", obj(user)),
            ("client", obj(client)),
            ("user_agent", obj(vec![("original", s(r.ua))])),
            ("trace", obj(vec![("id", s(r.trace))])),
            ("span", obj(vec![("id", s(r.span))])),
            ("host", obj(vec![("name", s("ip-10-0-1-23"))])),
        ];
        if r.level == "error" {
            members.push((
                "error",
                obj(vec![
                    ("type", s("IllegalStateException")),
                    (
                        "stack_trace",
                        s(format!(
                            "java.lang.IllegalStateException: no account for {}\n\tat com.example.Handler.step(Handler.java:40)",
                            p.email
                        )),
                    ),
                ]),
            ));
        }
        obj(members)
    }

    /// One event of this generator's format, as one JSON text (no newline).
    pub fn event(&mut self) -> Vec<u8> {
        let f = if self.format == Format::Mixed {
            *self.rng.pick(&Format::ALL[..Format::VENDORS])
        } else {
            self.format
        };
        let v = match f {
            Format::Mixpanel => self.mixpanel(),
            Format::Segment => self.segment(),
            Format::Amplitude => self.amplitude(),
            Format::Posthog => self.posthog(),
            Format::Snowplow => self.snowplow(),
            Format::Logs => self.logs(),
            _ => self.otel(),
        };
        let mut out = Vec::with_capacity(1024);
        json::write(&mut out, &v);
        // Some producers escape characters in keys; the redactor must match
        // keys after unescaping.
        if self.rng.pct(5) {
            out = replace_bytes(&out, b"\"$email\"", b"\"$em\\u0061il\"");
            out = replace_bytes(&out, b"\"email\"", b"\"\\u0065mail\"");
        }
        if self.rng.pct(3) {
            out = replace_bytes(&out, b"\"user_id\"", b"\"User_ID\"");
            out = replace_bytes(&out, b"\"https://", b"\"https:\\/\\/");
        }
        out
    }

    /// Writes `count` events as NDJSON.
    ///
    /// # Errors
    ///
    /// I/O errors of `w`.
    pub fn write_ndjson(&mut self, count: u64, w: &mut impl std::io::Write) -> std::io::Result<()> {
        for _ in 0..count {
            let mut e = self.event();
            e.push(b'\n');
            w.write_all(&e)?;
        }
        Ok(())
    }
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len() + 16);
    let mut last = 0;
    for i in memchr::memmem::find_iter(hay, from) {
        if i < last {
            continue;
        }
        out.extend_from_slice(&hay[last..i]);
        out.extend_from_slice(to);
        last = i + from.len();
    }
    out.extend_from_slice(&hay[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_realistic() {
        for f in Format::ALL {
            let mut a = Generator::new(f, 7);
            let mut b = Generator::new(f, 7);
            let mut sizes = Vec::new();
            for _ in 0..300 {
                let e = a.event();
                assert_eq!(e, b.event());
                assert!(
                    crate::json::parse(&e, 128).is_ok(),
                    "{}: {}",
                    f.name(),
                    String::from_utf8_lossy(&e)
                );
                assert!(!e.contains(&b'\n'));
                sizes.push(e.len());
            }
            sizes.sort_unstable();
            let median = sizes[sizes.len() / 2];
            assert!(
                (400..=2500).contains(&median),
                "{} median {median}",
                f.name()
            );
            if f == Format::Mixed {
                assert!((600..=850).contains(&median), "mixed median {median}");
                assert!(*sizes.last().unwrap_or(&0) > 3000, "some multi-KB events");
            }
        }
        assert_ne!(
            Generator::new(Format::Mixed, 1).event(),
            Generator::new(Format::Mixed, 2).event()
        );
    }
}
