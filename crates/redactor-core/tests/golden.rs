//! Golden files: for each preset, `golden/<preset>.input.ndjson` redacted by
//! a policy of that preset alone (detectors on, fixed key), by both engines,
//! must equal `golden/<preset>.expected.ndjson`. Set `REDACTOR_BLESS=1` to rewrite the
//! expected files after reviewing a deliberate change.

mod common;

use std::path::PathBuf;

use redactor_core::Redactor as _;

/// Checks the golden files of `preset`; the redacted output.
fn golden(preset: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let input = std::fs::read_to_string(dir.join(format!("{preset}.input.ndjson"))).unwrap();
    let p = common::policy(&format!("presets = [\"{preset}\"]\n"));
    let mut got = String::new();
    for line in input.lines() {
        let slow = common::redact(&p, line);
        // The fast engine's output is the same value (its text may keep
        // a key's escapes that the reference writes decoded).
        let mut fast = Vec::new();
        redactor_core::Fast::new(p.clone())
            .redact(
                line.as_bytes(),
                &mut fast,
                &mut redactor_core::Stats::new(&p),
            )
            .unwrap();
        let value = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(
            value(&fast),
            value(slow.as_bytes()),
            "the engines differ on {line}"
        );
        got.push_str(&slow);
        got.push('\n');
    }
    let expected_path = dir.join(format!("{preset}.expected.ndjson"));
    if std::env::var_os("REDACTOR_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "{preset} line {}", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count());
    // Whatever the preset, no email or IPv4 from the input survives.
    for needle in [
        "alice@example.com",
        "alice%40example.com",
        "203.0.113.7",
        "bob@example.com",
    ] {
        assert!(!got.contains(needle), "{preset}: {needle} survived");
    }
    got
}

#[test]
fn mixpanel() {
    let got = golden("mixpanel");
    // Autocapture: every `$el_attr__<name>` attribute, by a wildcard name.
    gone_and_kept(
        &got,
        &["Alice", "alice-example", "$el_attr__"],
        &["\"$el_tag_name\":\"a\""],
    );
}
#[test]
fn segment() {
    let got = golden("segment");
    // RudderStack's events follow the spec; its own id goes too.
    gone_and_kept(
        &got,
        &["u-8001", "a-8002", "r-8003"],
        &["\"channel\":\"web\"", "\"sessionId\":1764237600"],
    );
}
#[test]
fn amplitude() {
    golden("amplitude");
}
#[test]
fn posthog() {
    golden("posthog");
}
#[test]
fn snowplow() {
    let got = golden("snowplow");
    // Enriched events (atomic fields, entity lists) and trackers' payloads
    // (short names in the `payload_data` envelope, entities as JSON in `co`)
    // lose the same person: ids, address, its lookups, location, queries,
    // search terms and advertising ids; base64 entities go whole; the
    // coarse fields stay.
    gone_and_kept(
        &got,
        &[
            "1923084411",
            "d-4801",
            "n-4802",
            "Oakland",
            "94607",
            "37.8044",
            "California",
            "Alice Example Consulting",
            "c-203-0-113",
            "alice+example",
            "alice example",
            "ad-4803",
            "gclid-4804",
            "x-4805",
            "d-4806",
            "u-4807",
            "n-4808",
            "6D92078A",
            "A9F1C2D3",
            "35.6895",
            "51.5072",
            "d-4809",
            "u-4810",
            "2147483647",
            "n-4811",
            "rv:133.0",
            "#orders",
            "10_15_7",
            // Entities and an event sent base64-encoded, which cannot be
            // read as they are.
            "\"cx\":",
            "\"ue_px\":",
            "eyJzY2hlbWEi",
        ],
        &[
            "\"geo_country\":\"US\"",
            "\"ip_isp\":\"Example Cable\"",
            "\"page_urlpath\":\"/account\"",
            "\"mkt_campaign\":\"winter\"",
            "\"domain_sessionidx\":3",
            "\"page_url\":\"https://shop.example.com/account\"",
            "\"url\":\"https://shop.example.com/account\"",
            "\"deviceModel\":\"iPhone15,2\"",
            "\"se_ca\":\"checkout\"",
            "\\\"plan\\\":\\\"team\\\"",
        ],
    );
}
#[test]
fn ga4() {
    let got = golden("ga4");
    // Measurement Protocol bodies (web and app streams) and BigQuery export
    // rows lose their ids, address detail, user-provided data, precise
    // location, device ids, URL queries, search terms and click ids; the
    // coarse fields and the event's own parameters stay. (User properties
    // are the customer's own: `personal` drops a `first_name` one.)
    gone_and_kept(
        &got,
        &[
            "1029384756",
            "rv:133.0",
            "Oakland",
            "US-CA",
            "a3f1e0b7",
            "c1d2e3f4",
            "e1f2a3b4",
            "94607",
            "#orders",
            "alice+example",
            "alice example",
            "cbd7e0a1",
            "u-4901",
            "u-4903",
            "bob sample",
            "u-4904",
            "1122334455",
            "6D92078A",
            "A9F1C2D3",
            "California",
            "San Francisco",
            "ad-4905",
            "gclid-4906",
        ],
        &[
            "\"country_id\":\"US\"",
            "\"page_location\":\"https://shop.example.com/account\"",
            "\"string_value\":\"https://shop.example.com/account\"",
            "\"transaction_id\":\"T-4902\"",
            "\"country\":\"United States\"",
            "\"mobile_model_name\":\"iPhone\"",
            "{\"key\":\"plan\",\"value\":{\"string_value\":\"team\"}}",
            "\"manual_campaign_name\":\"winter\"",
            "\"ad_user_data\":\"GRANTED\"",
        ],
    );
}
#[test]
fn otel() {
    let got = golden("otel");
    // Plain JSON log records with the conventions' names as nested (ECS)
    // or dotted keys lose the same fields as OTLP attributes do.
    gone_and_kept(
        &got,
        &[
            "u-4711",
            // The user that owns a process.
            "erin.k",
            "carol.jones",
            "Carol Jones",
            "e-4712",
            "p-4713",
            "laptop-carol",
            "51234",
            "48.137",
            "80331",
            "dev-4714",
            "SAVE10",
            "#pay",
            "zz-4715",
            "u-4721",
            "dave.w",
            "h-4722",
            "inst-4723",
            "40000",
            "token-4724",
            "00-1B-63",
            "?b=c",
            // Values in SQL statements, by their columns' names.
            "Grace",
            "Leeds",
            "c-4731",
            "Hara",
            "Hallo",
            "Rome",
            "Oslo",
            // Options' values in argument lists (OTLP's arrayValue, ECS's
            // process.args) and in a command line.
            "ivo.k",
            "pw-4741",
            "jo.b",
            "pw-4742",
            "pw-4743",
            // A database client's user and a query's bound values.
            "kai.m",
            "Varga",
            "Pecs",
        ],
        &[
            "\"country_iso_code\":\"DE\"",
            "\"path\":\"/cart\"",
            "\"domain\":\"corp\"",
            "\"service\":{\"name\":\"auth\"}",
            "\"status\":200",
        ],
    );
}
#[test]
fn credentials() {
    let got = golden("credentials");
    // Nothing of a credential survives, in a field or in text; fields that
    // only look alike, and the vendors' own client credentials, stay.
    gone_and_kept(
        &got,
        &[
            "hunter2",
            "Hunter2",
            "n3w",
            // Environments' passwords: `_pass` endings, the clients' own
            // variables.
            "pw-475",
            "sesame",
            "abcdefgh",
            "dXNlcjpwYXNz",
            "abc123",
            "sid=zz",
            "ya29",
            "1//0g",
            "eyJ",
            "cs_",
            "wJalr",
            "\"d\"",
            "\"tok\"",
            "\"tok2\"",
            "0A1B",
            "f00",
            "\"123\"",
            "456",
            "789",
            "escaped key",
            "in nested json",
            "otel-pw-1",
            "otel-cs-1",
            "har-tok-1",
            "har-sid-1",
            // Compound names, by their endings.
            "cmp-",
            "tk-flag-1",
            // One-time codes, security answers, numbered passwords, keys.
            "493027",
            "fluffy-cat",
            "p4ss-two",
            "sk-sign-9",
            "hdr.payload",
            "rc-7788",
            // In SQL: database users' passwords, credential columns' values.
            "pw-4741",
            "pw-4742",
            "pw4743",
            "tk-4744",
            // In XML: WS-Security's password, an element's CDATA.
            "pw-4751",
            "ak-4752",
            // OAuth's authorization code in a URL; SAML responses.
            "oc-4761",
            "4762",
            "4763",
            // A form's part in a multipart body.
            "pw-4771",
            // Command lines.
            "pw-4781",
            "pw 4782",
            "tk-4783",
            "pw-4784",
            "pw-4785",
            "deploy:",
        ],
        &[
            "\"state\":\"af0ifjsldkj\"",
            "\"api_key\":\"YOUR_API_KEY\"",
            "\"token\":\"keep me\"",
            "\"session_id\":1738811382000",
            "\"secret_santa\":\"yes\"",
            "\"token\":\"keep me too\"",
            "\"PATH\":\"/usr/bin\"",
            "\"prompt_tokens\":12",
            "\"token_count\":3",
            "\"password_length\":8",
            "\"value\":\"r-1\"",
            "\"key\":\"app.password_policy\"",
            "\"passwords_changed\":2",
            "\"amount\":1999",
            "\"http.route\"",
            "\"Accept\"",
            // Flags under credential names stay booleans (`keep_literals`).
            "\"has_password\":true",
            "\"remember_password\":false",
            "\"password\":null",
            "\"session_cookie\":true",
            "\"mfa_enabled\":true",
            "\"service.name\"",
            "VALUES ($1, $2)",
            "<Amount>10</Amount>",
            "state=st-1",
            "code=E42",
            "pro-plan",
            "--verbose -p 8080",
            "ALTER ROLE app_rw WITH LOGIN PASSWORD '",
        ],
    );
}

/// Asserts that no text of `gone` is in `got`, and every one of `kept`.
fn gone_and_kept(got: &str, gone: &[&str], kept: &[&str]) {
    for needle in gone {
        assert!(!got.contains(needle), "{needle} survived");
    }
    for needle in kept {
        assert!(got.contains(needle), "{needle} was redacted");
    }
}

#[test]
fn personal() {
    let got = golden("personal");
    // What does not identify a person stays, and so do the ambiguous
    // `address` (an IP, a server, a wallet; Segment keeps its country) and
    // the country, while the city goes.
    gone_and_kept(
        &got,
        &[
            "annlee",
            "zz-7",
            "#inbox",
            "AnnLee",
            "123-45-6789",
            "1990-01-02",
            "19900102",
            "1 Main St",
            "Apt 4",
            "94107",
            "\"Main\"",
            "37.7",
            "122.4",
            "490154203237518",
            "00:1A:2B",
            "38400000",
            "6D92078A",
            "GB82WEST",
            "12345678",
            "021000021",
            "X1234567",
            "12-3456789",
            "otel-user-1",
            "987-65-4321",
            "48.8566",
            "Ann Lee",
            "annie",
            "\"Ann\"",
            "Leeward",
            "LEEWARD",
            "Springfield",
            "Shelbyville",
            "\"SF\"",
            // Phone and social security numbers in free text.
            "555-0132",
            "555-0199",
            "555 0143",
            "06 12 34",
            "7946 0958",
            "078-05-1120",
            // Bank account numbers in free text.
            "NL91",
            "0417 1643",
            "DE89370400440532013000",
            "gb29",
            "be68",
            // Fields under the names of contact data, documents, cards,
            // request logs and photos.
            "020 7946",
            "06-1234",
            "X7654321",
            "QQ123456C",
            "4111 11",
            "198.51.100.23",
            "2001:db8:1:2::7",
            "pic-42",
            "AB-123-C",
            "Downing",
            "ann.scr.99",
            "203.0.113.9",
            // Personal data in name=value text (URL queries, logs).
            "Noor",
            "Haddad",
            "10115",
            "030-901820",
            "52.52",
            // Access logs of proxies (Traefik, Caddy) and Node servers:
            // logins, client ports, raw User-Agents, request paths'
            // queries, and an X-Forwarded-For list with a non-address in it.
            "ann.lee.7",
            "51234",
            "40112",
            "40113",
            "Gecko/",
            "iPhone OS",
            "10.0.0.1",
            "unknown",
            "x-real-ip",
            // Error reports (Sentry): a device's user-assigned name; its
            // host name (Bugsnag).
            "Ann's Pixel",
            "anns-macbook",
            // Payments and orders (Stripe, Shopify): address lines, the
            // names of billing details, a card, a shipping address, and
            // customers' and members' ids.
            "742 Evergreen",
            "207119551",
            "cust-8841",
            "m-5521",
            // Identity claims (Azure, OpenID Connect) and CloudTrail's
            // caller, whose ARN and principal id hold a session's name.
            "4f9c2b1e",
            "248289761001",
            "AROAEXAMPLEID",
            "assumed-role",
            // Error reports (Rollbar): the person's id, the parsed query
            // and form, a raw User-Agent; engagement vendors' user ids
            // (Braze, Customer.io).
            "p-8812",
            "KHTML",
            "ext-8812",
            "cio-8812",
            "a1b2c3",
            // GitHub events and tickets: logins, commit authors, a
            // requester; a visitor's and GA4's pseudonymous ids.
            "annlee-gh",
            "v-8812",
            "1234567.89",
            // Logins, ids and names as strings under a person's field
            // name (GitHub's audit log, Stripe's customer id).
            "bob-gh",
            "cus_AnnLee42",
            "00u1ab",
            "77120",
            "77121",
            // ECS's related.user list, a Kubernetes audit event's user
            // uid, an Entra ID sign-in's display names, LaunchDarkly's and
            // OpenFeature's user keys and context name, Matomo's
            // referrer, and the user of a PostgreSQL log line.
            "nora.quist",
            "olaf.ries",
            "8c1f7e2a",
            "Nora Quist",
            "NORA-LAPTOP",
            "ld-ctx-5531",
            "Olaf Ries",
            "ld-user-5531",
            "of-5531",
            "olaf+ries",
            "olaf_r",
            // AppsFlyer's user and install ids, Twilio's cities and zips,
            // Mailchimp's merge fields, an email's sender and recipients,
            // an AWS load balancer's User-Agent.
            "cu-7712",
            "1600000000000-7712",
            "SAN FRANCISCO",
            "94107",
            "OAKLAND",
            "94612",
            "Pia",
            "Vogt",
            "9 Elm",
            "Quinn Sato",
            "rv:120",
            // API Gateway's caller (IAM user ARN, Cognito identity and
            // user name, picture claim); Firebase's sign-in identities.
            "7d3c-5531",
            "rosa",
            "10769150350006150715113",
            "5555550100",
            // Members of JSON and of a Python dict written into a log
            // message.
            "Sven",
            "4155550177",
            "Berg",
            "u-3141",
            // Rails' parameters and a Node.js object in a log message.
            "Tove",
            "10117",
            "c-2718",
            "Ulla",
            "9018",
            // Go's printed struct and map.
            "Vera",
            "4155550188",
            "u-1618",
            "Wolf",
            // Go's values with spaces.
            "Quill",
            "4155550199",
            "Dyke",
            // Heap's identities.
            "user-7081",
            "7082",
            // The query of a URL percent-encoded in another's.
            "tab%3Dbilling",
            "ann.lee",
            // Datadog RUM's view: its page's query, the user's id and name.
            "7071",
            "#orders",
            "u-7072",
            "Xena",
            // XML: a SAML assertion's subject and attributes, a SOAP body.
            "yara.k",
            "Yara",
            "Kowalczyk",
            "c-7091",
            "Zeller",
            "Graz",
            // Names beside email addresses.
            "Yusra",
            "Tamm",
            "Okafor",
        ],
        &[
            "\"plan\":\"pro\"",
            "\"country\":\"US\"",
            // `name` alone is ambiguous (an event's, a product's).
            "\"name\":\"Checkout\"",
            "<saml:AttributeValue>engineering</saml:AttributeValue>",
            "<Plan>gold</Plan>",
            "Mail sent to <",
            "Fix checkout",
            "{\"name\":\"plan\",\"value\":\"team\"}",
            // Numbers of other shapes.
            "T-2026-0412-7781",
            "415.555.01325",
            // Groups of digits and spaces in a longer chain.
            "100 200 300 4000 5000",
            // An IBAN's shape with wrong check digits.
            "DE12 3456 7890 1234 5678 90",
            // Segment's user-agent hint of that name is a boolean; IP
            // addresses keep their network.
            "\"mobile\":true",
            "\"appDisplayName\":\"Outlook\"",
            "\"operatingSystem\":\"Windows10\"",
            "\"hosts\":[\"web-1\"]",
            "\"urlref\":\"https://search.example.com/\"",
            "db=app,app=psql",
            "\"device_model\":\"Pixel 8\"",
            "\"FromState\":\"CA\"",
            "\"list_id\":\"a6b5da1054\"",
            "\"subject\":\"Your receipt\"",
            "\"sign_in_provider\":\"google.com\"",
            "\"httpMethod\":\"GET\"",
            "'plan': 'team'",
            "\\\"commit\\\"=>\\\"Save\\\"",
            "plan: 'team'",
            "&{ID:42 FirstName:",
            "Plan:team}",
            "\\\"Firefox 120 / Linux\\\" ECDHE",
            "first_name=[REDACTED]&last_name=[REDACTED]&zip_code=[REDACTED]&plan=team",
            "source=ads",
            "\"ip_address\":\"198.51.100.0\"",
            "\"value\":\"203.0.113.0\"",
            "{\"name\":\"Accept\",\"value\":\"*/*\"}",
            // A hex id is not taken for a lowercase IBAN (its check digits pass).
            "be76a4f0c9d37e15",
            "\"accuracy\":10",
            "\"model\":\"Pixel 8\"",
            "\"currency\":\"EUR\"",
            "\"service.version\"",
            // Each address of an X-Forwarded-For list keeps its network,
            // and the list its separators.
            "\"x-forwarded-for\":\"198.51.100.0,2001:db8:1::\"",
            "\"request_X-Forwarded-For\":\"198.51.100.0, 10.0.0.0\"",
            "\"http_user_agent\":\"curl 8 / Other\"",
            "\"request_User-Agent\":\"Firefox 120 / Linux\"",
            "{\"name\":\"User-Agent\",\"value\":\"Safari 17 / iOS\"}",
            "\"DownstreamStatus\":200",
            // Request URLs of GCP, pino and Kong records lose only their
            // query; parsed query parameters go.
            "\"requestUrl\":\"https://app.example.com/inbox\"",
            "\"req\":{\"method\":\"GET\",\"url\":\"/reset\"}",
            "\"url\":\"http://kong:8000/api\"",
            "{\"device\":{\"model\":\"Pixel 8\"}}",
            // Datadog's standard user id is tokenized, not dropped.
            "\"usr\":{\"id\":\"tok_",
            // An access log's request line loses its query, whatever it
            // holds.
            "\"request\":\"GET /search HTTP/1.1\"",
            // Cloudflare's Logpush fields.
            "\"ClientRequestURI\":\"/reset\",\"ClientRequestReferer\":\"https://mail.example.com/\",\"ClientRequestUserAgent\":\"Firefox 120 / Linux\",\"ClientCountry\":\"de\"",
            // A card's brand and last four digits, an order's counts, an
            // application's id and a claim's flag stay; a customer's id
            // is tokenized, and a GCP caller's User-Agent reduced.
            "\"card\":{\"brand\":\"visa\",\"last4\":\"4242\"}",
            "\"customer\":{\"id\":\"tok_",
            "\"orders_count\":3",
            "\"appid\":\"c44b4083-3bb0-49c1-b47d-974e53cbdf3c\"",
            "\"email_verified\":true",
            "\"callerSuppliedUserAgent\":\"Safari 17 / iOS\"",
            "\"browser\":\"Safari 17 / Mac OS X\"",
            // A stack frame keeps its file, a web route its path.
            "\"filename\":\"index.js\"",
            "/dev/app/index.js\"",
            "\"route\":\"https://app.example.com/home/feed\"",
            "\"repository\":{\"name\":\"app\"",
            "\"message\":\"fix\"",
            "\"status\":\"open\"",
            // Where such a name holds an object (GitHub's owner, Okta's
            // actor), its own fields' rules apply; a literal stays.
            "\"owner\":{\"login\":\"tok_",
            "\"type\":\"User\"}",
            "{\"actor\":{\"id\":\"tok_",
            "\"type\":\"User\"},\"eventType\"",
            "\"author\":null",
            "\"sender\":\"tok_",
            // Flattened names: a dotted name's service and route stay.
            "\"service.name\":\"web\"",
            "\"model\":\"MacBookPro18,3\"",
            "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/inbox\"}}",
            "\"request\":{\"url\":\"https://app.example.com/account\"}",
            "{\"external_id\":\"tok_",
            // The tokenized user name stays an OTLP AnyValue.
            "{\"key\":\"username\",\"value\":{\"stringValue\":\"tok_",
        ],
    );
}

/// In loose mode a dotted name is also each of its tails (`user.first_name`
/// is a `first_name`) for a redacting rule, in both engines; a `keep` rule
/// takes whole names only, so allowlist mode forwards no more than it
/// lists.
#[test]
fn loose_rules_take_dotted_names_and_keep_rules_whole_names() {
    let line = r#"{"user.first_name":"Ann","first_name":"Ann","event":"e","x.event":"s3","attributes":[{"key":"app.user.first_name","value":"Ann"}]}"#;
    let deny = common::policy(
        "detectors = \"off\"\n[[rules]]\nname = \"names\"\nselect = [\"**.first_name\", \"**[key=first_name]\"]\n\
         match = \"loose\"\naction = \"drop\"\n",
    );
    assert_eq!(
        common::redact_both(&deny, line),
        r#"{"event":"e","x.event":"s3","attributes":[]}"#
    );
    let allow = common::policy(
        "mode = \"allowlist\"\ndetectors = \"off\"\n[[rules]]\nname = \"ok\"\nselect = [\"**.event\"]\n\
         match = \"loose\"\naction = \"keep\"\n",
    );
    assert_eq!(common::redact_both(&allow, line), r#"{"event":"e"}"#);
}

/// A rule with `scalars_only` handles a string, a number or a literal, and
/// leaves an object or an array to the rules below it (and to a later rule
/// that selects it), in both engines, warm caches included (each name
/// occurs several times in one line), and in allowlist mode.
#[test]
fn scalars_only_rules_leave_containers_to_the_rules_below() {
    let line = r#"[{"actor":"ann"},{"actor":{"name":"Ann","id":1}},{"actor":"bob"},{"actor":{"name":"Bob","id":2}},{"actor":[3]},{"actor":7},{"actor":true}]"#;
    let rules = "[[rules]]\nname = \"login\"\nselect = [\"**.actor\"]\nscalars_only = true\n\
                 action = \"replace\"\nvalue = \"[A]\"\n\
                 [[rules]]\nname = \"name\"\nselect = [\"**.actor.name\"]\naction = \"drop\"\n";
    let deny = common::policy(&format!("detectors = \"off\"\n{rules}"));
    assert_eq!(
        common::redact_both(&deny, line),
        r#"[{"actor":"[A]"},{"actor":{"id":1}},{"actor":"[A]"},{"actor":{"id":2}},{"actor":[3]},{"actor":"[A]"},{"actor":"[A]"}]"#
    );
    // A later rule that selects the container decides it.
    let later = common::policy(&format!(
        "detectors = \"off\"\n{rules}[[rules]]\nname = \"whole\"\nselect = [\"**.actor\"]\naction = \"drop\"\n"
    ));
    assert_eq!(
        common::redact_both(&later, line),
        r#"[{"actor":"[A]"},{},{"actor":"[A]"},{},{},{"actor":"[A]"},{"actor":"[A]"}]"#
    );
    // In allowlist mode a `keep` with `scalars_only` keeps no container
    // (and an element left empty goes).
    let allow = common::policy(
        "mode = \"allowlist\"\ndetectors = \"off\"\n[[rules]]\nname = \"ok\"\nselect = [\"**.actor\"]\n\
         scalars_only = true\naction = \"keep\"\n",
    );
    assert_eq!(
        common::redact_both(&allow, line),
        r#"[{"actor":"ann"},{"actor":"bob"},{"actor":7},{"actor":true}]"#
    );
}

/// A rule with `keep_literals` leaves `true`, `false` and `null` alone,
/// whatever its action, in both engines and in allowlist mode, and rewrites
/// strings, numbers and containers as before; without it, they are
/// rewritten too.
#[test]
fn keep_literals_leaves_true_false_and_null() {
    let line = r#"{"a":true,"b":false,"c":null,"d":"s3cret","e":42,"f":{"x":true},"g":[null]}"#;
    for (action, literals_kept, rewritten) in [
        (
            "action = \"replace\"\nvalue = \"[R]\"",
            r#"{"a":true,"b":false,"c":null,"d":"[R]","e":"[R]","f":"[R]","g":"[R]"}"#,
            r#"{"a":"[R]","b":"[R]","c":"[R]","d":"[R]","e":"[R]","f":"[R]","g":"[R]"}"#,
        ),
        (
            "action = \"drop\"",
            r#"{"a":true,"b":false,"c":null}"#,
            "{}",
        ),
        (
            "action = \"mask\"",
            r#"{"a":true,"b":false,"c":null,"d":"******","e":"**","f":{"x":true},"g":[null]}"#,
            r#"{"a":true,"b":false,"c":null,"d":"******","e":"**","f":{"x":true},"g":[null]}"#,
        ),
    ] {
        for (keep, want) in [("keep_literals = true\n", literals_kept), ("", rewritten)] {
            for mode in ["denylist", "allowlist"] {
                let src = format!(
                    "mode = \"{mode}\"\ndetectors = \"off\"\n[[rules]]\nname = \"all\"\n\
                     select = [\"*\"]\n{keep}{action}\n"
                );
                let p = std::sync::Arc::new(
                    redactor_core::policy::Policy::from_toml(&src, "p.toml").unwrap(),
                );
                assert_eq!(common::redact_both(&p, line), want, "{src}");
            }
        }
    }
}

/// The default policy (every preset) redacts credentials under their usual
/// names, and leaves each vendor's own client credential for the vendor.
#[test]
fn default_policy_replaces_credentials_and_keeps_vendor_keys() {
    let p = common::default_policy();
    let amplitude = r#"{"api_key":"YOUR_API_KEY","events":[{"user_id":"u","event_properties":{"password":"hunter2","accessToken":"t0k"}}]}"#;
    let out = common::redact_both(&p, amplitude);
    assert!(out.contains(r#""api_key":"YOUR_API_KEY""#), "{out}");
    assert!(!out.contains("hunter2") && !out.contains("t0k"), "{out}");
    let mixpanel = r#"{"event":"x","properties":{"token":"YOUR_PROJECT_TOKEN","distinct_id":"u","client_secret":"cs_1"}}"#;
    let out = common::redact_both(&p, mixpanel);
    assert!(out.contains(r#""token":"YOUR_PROJECT_TOKEN""#), "{out}");
    assert!(!out.contains("cs_1"), "{out}");
    let segment = r#"{"writeKey":"WK","batch":[{"type":"track","userId":"u","properties":{"Cookie":"sid=1"}}]}"#;
    let out = common::redact_both(&p, segment);
    assert!(out.contains(r#""writeKey":"WK""#), "{out}");
    assert!(!out.contains("sid=1"), "{out}");
}

/// `gen --format logs` under the default policy: no identifier of a log
/// record survives, nested (ECS), under a dotted name, in an access log
/// line (nginx's or Traefik's) or as `user_id=` or an SSH login in a
/// message; a referrer loses its query, a raw User-Agent is reduced, and
/// what describes the request rather than the person stays.
#[test]
fn default_policy_leaves_no_identifier_in_generated_logs() {
    use redactor_core::gen::{Format, Generator};
    let p = common::default_policy();
    let mut g = Generator::new(Format::Logs, 5);
    let (mut nested, mut dotted, mut access, mut proxy, mut combined, mut ids) = (0, 0, 0, 0, 0, 0);
    let mut bodies = 0;
    for _ in 0..400 {
        let line = String::from_utf8(g.event()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        // An id, login, email or credential must not survive anywhere; an
        // address not whole (its network part stays); a name, a place or a
        // number not under its field's name (the free text of a message may
        // name the person: no detector finds names in text).
        let mut needles: Vec<String> = Vec::new();
        let mut take = |name: &str, x: Option<&serde_json::Value>| match x {
            Some(serde_json::Value::String(s)) if s.parse::<std::net::IpAddr>().is_ok() => {
                needles.push(format!("\"{s}\""))
            }
            Some(serde_json::Value::String(s)) if !name.ends_with("_name") => {
                needles.push(s.clone())
            }
            Some(x) => needles.push(format!("\"{name}\":{x}")),
            None => {}
        };
        if v.get("user").is_some() {
            nested += 1;
            for path in [
                "/user/id",
                "/user/name",
                "/user/email",
                "/user/full_name",
                "/client/ip",
                "/client/address",
                "/client/port",
                "/client/geo/city_name",
                "/client/geo/region_name",
                "/client/geo/location/lat",
                "/http/request/headers/cookie",
            ] {
                take(path.rsplit('/').next().unwrap(), v.pointer(path));
            }
        } else if v.get("remote_addr").is_some() {
            access += 1;
            for name in ["remote_addr", "remote_user", "remote_port", "http_cookie"] {
                take(name, v.get(name));
            }
        } else if let Some(log) = v.get("log").and_then(|l| l.as_str()) {
            // The combined log format: client, ident, user, [time], ...
            combined += 1;
            let fields: Vec<&str> = log.split(' ').collect();
            needles.push(format!("{} ", fields[0]));
            needles.push(format!(" {} [", fields[2]));
        } else if v.get("ClientAddr").is_some() {
            proxy += 1;
            for name in [
                "ClientAddr",
                "ClientHost",
                "ClientPort",
                "ClientUsername",
                "request_Cookie",
            ] {
                take(name, v.get(name));
            }
        } else {
            dotted += 1;
            for name in [
                "user.id",
                "user.name",
                "enduser.id",
                "client.address",
                "client.port",
                "network.peer.address",
                "http.request.header.authorization",
            ] {
                take(name, v.get(name));
            }
        }
        // A user's and an organisation's id in a message's `key=value`
        // text, a login in an SSH server's line.
        for name in ["user_id=", "org_id=", "publickey for "] {
            if let Some((_, rest)) = line.split_once(name) {
                ids += 1;
                needles.push(format!("{name}{}", rest.split(' ').next().unwrap()));
            }
        }
        // A request's parameters as Rails and Node.js print them.
        for (name, end) in [
            ("first_name\\\"=>\\\"", "\\\""),
            ("phone\\\"=>\\\"", "\\\""),
            ("user_id\\\"=>\\\"", "\\\""),
            ("firstName: '", "'"),
            ("phone: '", "'"),
            ("userId: '", "'"),
        ] {
            if let Some((_, rest)) = line.split_once(name) {
                bodies += 1;
                needles.push(format!("{name}{}", rest.split(end).next().unwrap()));
            }
        }
        let out = common::redact_both(&p, &line);
        assert!(
            !out.contains("Mozilla/"),
            "a raw User-Agent survived in {out}"
        );
        for needle in &needles {
            assert!(
                !out.contains(needle.as_str()),
                "{needle} survived in {out}\ninput {line}"
            );
        }
        let redacted: serde_json::Value = serde_json::from_str(&out).unwrap();
        for name in [
            "http_referer",
            "request_Referer",
            "RequestPath",
            "request",
            "log",
        ] {
            if let Some(url) = redacted.get(name).and_then(|r| r.as_str()) {
                assert!(!url.contains(['?', '#']), "{name} kept its query: {out}");
            }
        }
        // What describes the request stays: an access log's status, the
        // other records' trace id.
        let kept = if v.get("remote_addr").is_some() {
            "\"status\":"
        } else if v.get("log").is_some() {
            " +0000] \\\""
        } else if v.get("ClientAddr").is_some() {
            "\"DownstreamStatus\":"
        } else {
            "\"trace"
        };
        assert!(out.contains(kept), "{kept} was redacted: {out}");
    }
    assert!(
        nested > 150
            && dotted > 100
            && access > 15
            && proxy > 15
            && combined > 8
            && ids > 30
            && bodies > 60,
        "{nested} nested, {dotted} dotted, {access} nginx, {proxy} proxy and {combined} \
         combined-format access log lines, {ids} ids in messages, {bodies} parameters in \
         printed requests"
    );
}

/// Generated Snowplow events under the default policy: in enriched events
/// and in trackers' envelopes (and the contexts JSON of their `co`), no id,
/// full address, User-Agent, query, search term or click id survives, and
/// the location, organisation and advertising id fields are gone; what
/// describes the event stays.
#[test]
fn default_policy_leaves_no_identifier_in_generated_snowplow_events() {
    use redactor_core::gen::{Format, Generator};
    use serde_json::Value;
    let p = common::default_policy();
    let mut g = Generator::new(Format::Snowplow, 11);
    let (mut enriched, mut mobile, mut envelopes, mut contexts) = (0, 0, 0, 0);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    for _ in 0..400 {
        let line = String::from_utf8(g.event()).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        // Values that must not survive anywhere, and keys that must be gone.
        let (mut values, mut keys) = (Vec::new(), Vec::new());
        if let Some(events) = v.get("data").and_then(Value::as_array) {
            envelopes += 1;
            for e in events {
                for name in ["duid", "uid", "fp"] {
                    values.extend(text(e.get(name)));
                }
                values.extend(text(e.get("ip")).map(|ip| format!("\"{ip}\"")));
                if let Some(co) = text(e.get("co")) {
                    contexts += 1;
                    let co: Value = serde_json::from_str(&co).unwrap();
                    for entity in co["data"].as_array().unwrap() {
                        values.extend(text(entity["data"].get("userId")));
                        values.extend(text(entity["data"].get("email")));
                    }
                }
            }
        } else {
            enriched += 1;
            for name in ["user_id", "domain_userid", "network_userid", "mkt_clickid"] {
                values.extend(text(v.get(name)));
            }
            values.extend(text(v.get("user_ipaddress")).map(|ip| format!("\"{ip}\"")));
            if let Some(session) = v.get("contexts_com_snowplowanalytics_snowplow_client_session_1")
            {
                values.extend(text(session[0].get("userId")));
            }
            if v.get("contexts_com_snowplowanalytics_snowplow_mobile_context_1")
                .is_some()
            {
                mobile += 1;
            }
            keys.extend([
                "geo_city",
                "geo_zipcode",
                "geo_region_name",
                "geo_latitude",
                "geo_longitude",
                "ip_organization",
                "ip_domain",
                "page_urlquery",
                "refr_term",
                "appleIdfa",
                "appleIdfv",
                "contexts_com_snowplowanalytics_snowplow_geolocation_context_1",
            ]);
        }
        let out = common::redact_both(&p, &line);
        assert!(
            !out.contains("Mozilla/"),
            "a raw User-Agent survived in {out}"
        );
        assert!(!out.contains(['?', '#']), "a query survived in {out}");
        for value in &values {
            assert!(!out.contains(value.as_str()), "{value} survived in {out}");
        }
        for key in keys {
            assert!(
                !out.contains(&format!("\"{key}\":")),
                "{key} survived in {out}"
            );
        }
        for kept in [
            "\"app_id\":\"app",
            "\"schema\":\"iglu:com.snowplowanalytics.snowplow/payload_data/",
        ] {
            if line.contains(kept) {
                assert!(out.contains(kept), "{kept} was redacted: {out}");
            }
        }
    }
    assert!(
        enriched > 200 && mobile > 40 && envelopes > 80 && contexts > 80,
        "{enriched} enriched events ({mobile} mobile), {envelopes} envelopes, {contexts} contexts"
    );
}

/// A payment card number written as a JSON number is found as one written
/// as a string: in a member, an element, a line of its own, below a `keep`
/// and in nested JSON, by both engines, and it becomes a string. Epoch
/// times in milliseconds, longer numbers, negative numbers and fractions
/// stay numbers.
#[test]
fn card_numbers_written_as_numbers_are_found() {
    let line = r#"{"pan":4111111111111111,"cards":[5555555555554444,{"n":378282246310005}],"time":1732000000000,"ns":1732000000000000000,"big":12345678901234567890,"neg":-4111111111111111,"f":4111111111111111.0,"short":411111111111,"nested":"{\"pan\":4111111111111111}"}"#;
    let p = common::default_policy();
    let out = common::redact_both(&p, line);
    assert_eq!(
        out,
        r#"{"pan":"[REDACTED-CARD]","cards":["[REDACTED-CARD]",{"n":"[REDACTED-CARD]"}],"time":1732000000000,"ns":1732000000000000000,"big":12345678901234567890,"neg":-4111111111111111,"f":4111111111111111.0,"short":411111111111,"nested":"{\"pan\":\"[REDACTED-CARD]\"}"}"#
    );
    assert_eq!(
        common::redact_both(&p, "4111111111111111"),
        "\"[REDACTED-CARD]\""
    );
    // The detector's own action, and below a `keep` (which detectors still
    // scan), in allowlist mode too.
    for mode in ["denylist", "allowlist"] {
        let p = common::policy(&format!(
            "mode = \"{mode}\"\n[[rules]]\nname = \"k\"\nselect = [\"order\"]\naction = \"keep\"\n\
             [detectors]\ncredit_card = {{ action = \"mask\", keep_last = 4 }}\n"
        ));
        let out = common::redact_both(&p, r#"{"order":{"pan":4111111111111111,"qty":2}}"#);
        assert_eq!(
            out, r#"{"order":{"pan":"************1111","qty":2}}"#,
            "{mode}"
        );
    }
    // Without detectors a number is never touched.
    let p = common::policy("detectors = \"off\"\n");
    assert_eq!(
        common::redact_both(&p, r#"{"pan":4111111111111111}"#),
        r#"{"pan":4111111111111111}"#
    );
}

/// Nested JSON that a rule or detector rewrote is written back compact
/// inside, with the blanks around it kept: a Docker `json-file` log line's
/// `log` string keeps its closing newline.
#[test]
fn nested_json_keeps_the_blanks_around_it() {
    let p = common::default_policy();
    let docker = r#"{"log":"{\"email\":\"a@b.example\",\"msg\":\"signed in\"}\n","stream":"stdout","time":"2026-12-07T01:00:00.000000001Z"}"#;
    assert_eq!(
        common::redact_both(&p, docker),
        r#"{"log":"{\"msg\":\"signed in\"}\n","stream":"stdout","time":"2026-12-07T01:00:00.000000001Z"}"#
    );
    let spaced = r#"{"body":" \t[ {\"password\": \"x\"} ] \r\n"}"#;
    assert_eq!(
        common::redact_both(&p, spaced),
        r#"{"body":" \t[{\"password\":\"[REDACTED-SECRET]\"}] \r\n"}"#
    );
    // Nested JSON that nothing rewrote stays exactly as it was.
    let clean = r#"{"log":"{ \"msg\": \"ok\" }\n"}"#;
    assert_eq!(common::redact_both(&p, clean), clean);
}

/// An argument list's element that an option takes is read with it even
/// when the same string was found clean before (the fast engine's cache
/// notes strings, and walks the members it knows quietly).
#[test]
fn argument_lists_are_read_after_their_values_were_found_clean() {
    let p = common::default_policy();
    let fast = redactor_core::Fast::new(p.clone());
    let mut stats = redactor_core::Stats::new(&p);
    let lines = [
        r#"{"a":{"stringValue":"pw-1"},"b":"pw-2","c":["pw-3"]}"#,
        r#"{"a":{"stringValue":"pw-1"},"b":"pw-2","c":["pw-3"]}"#,
        r#"{"args":[{"stringValue":"--password"},{"stringValue":"pw-1"}],"more":["--token","pw-2","-p"],"c":["mysql","-ppw-3"]}"#,
    ];
    let mut got = String::new();
    for line in lines {
        let mut out = Vec::new();
        fast.redact(line.as_bytes(), &mut out, &mut stats).unwrap();
        got = String::from_utf8(out).unwrap();
        assert_eq!(
            got,
            common::redact(&p, line),
            "the engines differ on {line}"
        );
    }
    assert_eq!(
        got,
        r#"{"args":[{"stringValue":"--password"},{"stringValue":"[REDACTED-SECRET]"}],"more":["--token","[REDACTED-SECRET]","-p"],"c":["mysql","-p[REDACTED-SECRET]"]}"#
    );
}

/// `-p` is a password where one of the list's first eight elements names
/// the command (as `mysql`), and a port elsewhere.
#[test]
fn argument_lists_name_their_command_first() {
    let p = common::default_policy();
    let eighth = r#"{"args":["a","b","c","d","e","f","g","mysql","-p","pw"]}"#;
    assert_eq!(
        common::redact_both(&p, eighth),
        r#"{"args":["a","b","c","d","e","f","g","mysql","-p","[REDACTED-SECRET]"]}"#
    );
    let ninth = r#"{"args":["a","b","c","d","e","f","g","h","mysql","-p","pw"]}"#;
    assert_eq!(common::redact_both(&p, ninth), ninth);
    let port = r#"{"args":["ssh","-p","2222","host"]}"#;
    assert_eq!(common::redact_both(&p, port), port);
}

/// A list whose first element names a command is read as its command line
/// for the command's plain arguments too: the password and the user
/// where they stand, whatever the elements around them; not a list of SQL
/// words.
#[test]
fn argument_lists_give_plain_arguments() {
    let p = common::default_policy();
    let cases = [
        (
            r#"{"args":["net","user","ann","pw-1","/add"]}"#,
            r#"{"args":["net","user","tok_test_","[REDACTED-SECRET]","/add"]}"#,
        ),
        (
            r#"{"args":[{"stringValue":"htpasswd"},{"stringValue":"-nb"},{"stringValue":"ann"},{"stringValue":"pw 2"}]}"#,
            r#"{"args":[{"stringValue":"htpasswd"},{"stringValue":"-nb"},{"stringValue":"tok_test_"},{"stringValue":"[REDACTED-SECRET]"}]}"#,
        ),
        (
            r#"{"args":["sudo","-u","www","rabbitmqctl","add_user","ann","pw-3"]}"#,
            r#"{"args":["sudo","-u","www","rabbitmqctl","add_user","tok_test_","[REDACTED-SECRET]"]}"#,
        ),
        (
            r#"{"actions":["create","user","identified","by","x"]}"#,
            r#"{"actions":["create","user","identified","by","x"]}"#,
        ),
        (
            r#"{"args":["net",1,"user","ann","pw-4"]}"#,
            r#"{"args":["net",1,"user","ann","pw-4"]}"#,
        ),
    ];
    // Tokens cut to their prefix: the key is the test's own.
    let cut = regex::Regex::new("tok_test_[A-Za-z0-9_-]+").unwrap();
    for (line, want) in cases {
        let got = common::redact_both(&p, line);
        assert_eq!(cut.replace_all(&got, "tok_test_"), want, "{line}");
    }
}
