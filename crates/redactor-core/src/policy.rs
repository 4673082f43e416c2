//! Policy files (TOML): schema, validation and compilation into a [`Policy`].
//!
//! Validation collects every problem it can find, each with its line and
//! field, before giving up; see `docs/configuration.md` for the reference.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::actions::{
    Action, Generalize, GeneralizeKind, Mask, Normalize, OnInvalid, Shape, TimeUnit, Tokenize,
};
use crate::detectors::{Detector, DetectorKind, Detectors};
use crate::error::{PolicyError, Problem};
use crate::json::Value;
use crate::keys::{valid_id, Key, KeySource};
use crate::presets;
use crate::selector::{MatchMode, Matcher, Selector};
use crate::toml_fields::{self, FieldType, Fields};

/// Denylist or allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Unmatched fields pass (detectors still scan them).
    Denylist,
    /// Fields no rule matches are dropped, at any depth.
    Allowlist,
}

/// Input limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of a line (default 128).
    pub max_depth: usize,
    /// Maximum bytes in a line, excluding the newline (default 8 MiB).
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_line_bytes: 8 << 20,
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name (unique within its origin).
    pub name: String,
    /// Where it came from: `policy` or `preset:<name>`.
    pub origin: String,
    /// What it is for (may be empty).
    pub description: String,
    /// Selector texts, as written.
    pub selectors: Vec<String>,
    /// How keys compare.
    pub mode: MatchMode,
    /// What it does.
    pub action: Action,
    /// Leave `true`, `false` and `null` as they are (`keep_literals`):
    /// they hold no secret, and a flag such as `has_password` stays a
    /// boolean.
    pub keep_literals: bool,
    /// Handle a field only when its value is not an object or an array
    /// (`scalars_only`): under a name that holds an id or a login as a
    /// string in one payload (GitHub's `"actor": "ann"`) and an object in
    /// another (Okta's `"actor": {...}`), the object is left to the rules
    /// and detectors below it.
    pub scalars_only: bool,
}

impl Rule {
    /// `origin/name`, the rule's unique label in stats and explanations.
    pub fn label(&self) -> String {
        if self.origin == "policy" {
            self.name.clone()
        } else {
            format!(
                "{}/{}",
                self.origin.trim_start_matches("preset:"),
                self.name
            )
        }
    }
}

/// An immutable, compiled policy: build it once, share it between threads.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Denylist or allowlist.
    pub mode: Mode,
    /// Rules in priority order: the policy's own, then each preset's.
    pub rules: Vec<Rule>,
    /// Every selector of every rule.
    pub matcher: Matcher,
    /// Enabled value detectors.
    pub detectors: Detectors,
    /// Input limits.
    pub limits: Limits,
    /// Whether strings holding a JSON object or array are redacted inside.
    pub nested_json: bool,
    /// Loaded keys (ids only are ever shown).
    pub keys: Vec<Arc<Key>>,
    /// The key new tokens are made with, when one is configured or implied
    /// (the built-in default policy always has one).
    pub current_key: Option<Arc<Key>>,
    /// Presets included, in order.
    pub presets: Vec<String>,
    /// Warnings to print once (never containing secrets).
    pub warnings: Vec<String>,
    /// The files the policy was read from: its own file (when loaded by
    /// [`load_file`]) and each key file it names. A run must not write
    /// over them.
    pub files: Vec<std::path::PathBuf>,
}

/// The environment variable the built-in default policy reads its key from.
pub const DEFAULT_KEY_ENV: &str = "REDACTOR_TOKEN_KEY";

/// The built-in default policy's source.
pub const DEFAULT_POLICY: &str = r#"# Built-in default policy: every preset, every detector.
version = 1
mode = "denylist"
presets = [
    "mixpanel", "segment", "amplitude", "posthog", "snowplow", "ga4", "otel", "credentials",
    "personal",
]
"#;

/// A policy file's top-level fields, each spanning where it is.
struct FileSpec {
    version: Option<Spanned<toml::Value>>,
    mode: Option<Spanned<toml::Value>>,
    presets: Option<Spanned<toml::Value>>,
    nested_json: Option<Spanned<toml::Value>>,
    limits: Option<Spanned<toml::Value>>,
    detectors: Option<Spanned<toml::Value>>,
    keys: Option<Vec<Spanned<toml::Value>>>,
    rules: Option<Vec<Spanned<toml::Value>>>,
}

/// The top-level fields of a policy; their values are checked one by one.
const TOP_FIELDS: &Fields = &[
    ("version", FieldType::Any),
    ("mode", FieldType::Any),
    ("presets", FieldType::Any),
    ("nested_json", FieldType::Any),
    ("limits", FieldType::Any),
    ("detectors", FieldType::Any),
    ("keys", FieldType::Any),
    ("rules", FieldType::Any),
];

impl FileSpec {
    /// Reads the fields of `doc`; every unknown field, and `keys` or `rules`
    /// that is not a list, goes to `ctx`.
    fn read(doc: &toml_fields::Located<'_>, ctx: &mut Ctx<'_>) -> FileSpec {
        for key in doc.table.keys() {
            if !TOP_FIELDS.iter().any(|(n, _)| n == key) {
                ctx.at(
                    doc.span(key),
                    "",
                    format!(
                        "unknown field `{key}` (a policy's top level: {})",
                        toml_fields::names(TOP_FIELDS)
                    ),
                );
            }
        }
        let mut list = |key: &str| {
            let v = doc.table.get(key)?;
            let items = doc.items(key);
            if items.is_none() {
                ctx.at(
                    doc.span(key),
                    key,
                    format!(
                        "must be a list of tables, as [[{key}]] makes (got {})",
                        toml_fields::type_name(v)
                    ),
                );
            }
            items
        };
        let (keys, rules) = (list("keys"), list("rules"));
        FileSpec {
            version: doc.field("version"),
            mode: doc.field("mode"),
            presets: doc.field("presets"),
            nested_json: doc.field("nested_json"),
            limits: doc.field("limits"),
            detectors: doc.field("detectors"),
            keys,
            rules,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    max_depth: Option<i64>,
    max_line_bytes: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpec {
    id: String,
    env: Option<String>,
    file: Option<String>,
    #[serde(default)]
    current: bool,
}

/// Parameters shared by rules and detectors.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionSpec {
    action: String,
    key: Option<String>,
    normalize: Option<String>,
    shape: Option<String>,
    bytes: Option<i64>,
    keep_prefixes: Option<Vec<String>>,
    value: Option<toml::Value>,
    keep_domain: Option<bool>,
    keep_last: Option<i64>,
    kind: Option<String>,
    ipv4_prefix: Option<i64>,
    ipv6_prefix: Option<i64>,
    query_allow: Option<Vec<String>>,
    unit: Option<String>,
    on_invalid: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleHead {
    name: String,
    #[serde(default)]
    description: Option<String>,
    select: Vec<String>,
    #[serde(rename = "match")]
    match_mode: Option<String>,
    #[serde(default)]
    keep_literals: bool,
    #[serde(default)]
    scalars_only: bool,
}

struct RuleSpec {
    name: String,
    description: Option<String>,
    select: Vec<String>,
    match_mode: Option<String>,
    keep_literals: bool,
    scalars_only: bool,
    action: ActionSpec,
}

/// A rule's own fields, beside its action's.
const HEAD_FIELDS: &Fields = &[
    ("name", FieldType::Text),
    ("description", FieldType::Text),
    ("select", FieldType::Texts),
    ("match", FieldType::Text),
    ("keep_literals", FieldType::Boolean),
    ("scalars_only", FieldType::Boolean),
];

/// The fields of [`ActionSpec`], in its order.
const ACTION_FIELDS: &Fields = &[
    ("action", FieldType::Text),
    ("key", FieldType::Text),
    ("normalize", FieldType::Text),
    ("shape", FieldType::Text),
    ("bytes", FieldType::Integer),
    ("keep_prefixes", FieldType::Texts),
    ("value", FieldType::Any),
    ("keep_domain", FieldType::Boolean),
    ("keep_last", FieldType::Integer),
    ("kind", FieldType::Text),
    ("ipv4_prefix", FieldType::Integer),
    ("ipv6_prefix", FieldType::Integer),
    ("query_allow", FieldType::Texts),
    ("unit", FieldType::Text),
    ("on_invalid", FieldType::Text),
];

/// The fields of [`KeySpec`].
const KEY_FIELDS: &Fields = &[
    ("id", FieldType::Text),
    ("env", FieldType::Text),
    ("file", FieldType::Text),
    ("current", FieldType::Boolean),
];

/// The fields of [`LimitsSpec`].
const LIMIT_FIELDS: &Fields = &[
    ("max_depth", FieldType::Integer),
    ("max_line_bytes", FieldType::Integer),
];

/// Deserialises a table of `fields` (`listed` names them in an unknown
/// field's problem) once [`toml_fields::problems`] finds nothing wrong with it;
/// otherwise gives every problem found.
fn table_spec<T: serde::de::DeserializeOwned>(
    v: &toml::Value,
    required: &[&str],
    fields: &Fields,
    listed: &str,
) -> Result<T, Vec<String>> {
    let Some(t) = v.as_table() else {
        return Err(vec![format!(
            "must be a table (got {})",
            toml_fields::type_name(v)
        )]);
    };
    let problems = toml_fields::problems(t, required, &[fields], || {
        format!("{listed}: {}", toml_fields::names(fields))
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    v.clone()
        .try_into()
        .map_err(|e: toml::de::Error| vec![e.message().to_string()])
}

/// Splits a rule table into its head (name, selectors, match) and its action
/// parameters, each deserialised with `deny_unknown_fields`. On failure it
/// gives every problem found: each missing required field, each unknown
/// field and each field of the wrong type.
fn rule_spec(v: &toml::Value) -> Result<RuleSpec, Vec<String>> {
    let toml::Value::Table(t) = v else {
        return Err(vec!["a rule must be a table".into()]);
    };
    let problems = toml_fields::problems(
        t,
        &["name", "select", "action"],
        &[HEAD_FIELDS, ACTION_FIELDS],
        || {
            format!(
                "a rule's fields: {}, and its action's parameters: {}",
                toml_fields::names(HEAD_FIELDS),
                toml_fields::names(ACTION_FIELDS)
            )
        },
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let (mut head, mut rest) = (toml::Table::new(), toml::Table::new());
    for (k, v) in t {
        if HEAD_FIELDS.iter().any(|(n, _)| n == k) {
            head.insert(k.clone(), v.clone());
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    let message = |e: toml::de::Error| vec![e.message().to_string()];
    let head: RuleHead = toml::Value::Table(head).try_into().map_err(message)?;
    let action: ActionSpec = toml::Value::Table(rest).try_into().map_err(message)?;
    Ok(RuleSpec {
        name: head.name,
        description: head.description,
        select: head.select,
        match_mode: head.match_mode,
        keep_literals: head.keep_literals,
        scalars_only: head.scalars_only,
        action,
    })
}

struct Ctx<'a> {
    origin: &'a str,
    src: &'a str,
    /// Each problem with its line (0 for the file as a whole), by which
    /// they are listed in the end.
    problems: Vec<(usize, Problem)>,
}

impl Ctx<'_> {
    fn at(&mut self, span: Option<std::ops::Range<usize>>, what: &str, message: impl Into<String>) {
        let line = span.map_or(0, |s| toml_fields::line_of(self.src, s.start));
        let mut location = match line {
            0 => self.origin.to_string(),
            line => format!("{}:{line}", self.origin),
        };
        if !what.is_empty() {
            location = format!("{location}: {what}");
        }
        self.problems.push((
            line,
            Problem {
                location,
                message: message.into(),
            },
        ));
    }
}

fn toml_to_json(v: &toml::Value) -> Option<Value> {
    Some(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::Number(i.to_string().into()),
        toml::Value::Float(f) if f.is_finite() => Value::Number(format!("{f:?}").into()),
        toml::Value::Boolean(b) => Value::Bool(*b),
        _ => return None,
    })
}

/// Compiles an action spec; problems go to `ctx` under `what`.
fn compile_action(
    spec: &ActionSpec,
    what: &str,
    span: Option<std::ops::Range<usize>>,
    detector: Option<DetectorKind>,
    keys: &KeyTable,
    ctx: &mut Ctx<'_>,
) -> Option<Action> {
    let given: [(&str, bool); 14] = [
        ("key", spec.key.is_some()),
        ("normalize", spec.normalize.is_some()),
        ("shape", spec.shape.is_some()),
        ("bytes", spec.bytes.is_some()),
        ("keep_prefixes", spec.keep_prefixes.is_some()),
        ("value", spec.value.is_some()),
        ("keep_domain", spec.keep_domain.is_some()),
        ("keep_last", spec.keep_last.is_some()),
        ("kind", spec.kind.is_some()),
        ("ipv4_prefix", spec.ipv4_prefix.is_some()),
        ("ipv6_prefix", spec.ipv6_prefix.is_some()),
        ("query_allow", spec.query_allow.is_some()),
        ("unit", spec.unit.is_some()),
        ("on_invalid", spec.on_invalid.is_some()),
    ];
    let allowed: &[&str] = match spec.action.as_str() {
        "drop" | "keep" => &[],
        "replace" => &["value"],
        "tokenize" => &["key", "normalize", "shape", "bytes", "keep_prefixes"],
        "mask" => &["keep_domain", "keep_last"],
        "generalize" => &[
            "kind",
            "ipv4_prefix",
            "ipv6_prefix",
            "query_allow",
            "unit",
            "on_invalid",
        ],
        other => {
            ctx.at(span, what, format!("unknown action {other:?} (expected drop, replace, tokenize, mask, generalize or keep)"));
            return None;
        }
    };
    let before = ctx.problems.len();
    for (name, set) in given {
        if set && !allowed.contains(&name) {
            let list = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            ctx.at(
                span.clone(),
                what,
                format!(
                    "`{name}` is not a parameter of action `{}` (its parameters: {list})",
                    spec.action
                ),
            );
        }
    }
    let action = match spec.action.as_str() {
        "drop" => Action::Drop,
        "keep" => Action::Keep,
        "replace" => match &spec.value {
            None => Action::Replace(Value::Null),
            Some(v) => match toml_to_json(v) {
                Some(j) => {
                    if detector.is_some() && !matches!(j, Value::String(_)) {
                        ctx.at(span.clone(), what, "a detector's `value` must be a string (it replaces text inside a string)");
                    }
                    Action::Replace(j)
                }
                None => {
                    ctx.at(span.clone(), what, "`value` must be a string, integer, finite float or boolean (omit it for null)");
                    Action::Drop
                }
            },
        },
        "tokenize" => {
            let normalize = match spec
                .normalize
                .as_deref()
                .map(|n| (n, Normalize::from_name(n)))
            {
                None => Normalize::None,
                Some((_, Some(n))) => n,
                Some((n, None)) => {
                    ctx.at(span.clone(), what, format!("unknown normalize {n:?} (expected none, email, phone, lowercase or trim)"));
                    Normalize::None
                }
            };
            let shape = match spec.shape.as_deref().map(|n| (n, Shape::from_name(n))) {
                None => Shape::Opaque,
                Some((_, Some(s))) => s,
                Some((s, None)) => {
                    ctx.at(
                        span.clone(),
                        what,
                        format!("unknown shape {s:?} (expected opaque, email or uuid)"),
                    );
                    Shape::Opaque
                }
            };
            let bytes = spec.bytes.unwrap_or(16);
            if !(16..=32).contains(&bytes) {
                ctx.at(
                    span.clone(),
                    what,
                    format!("`bytes` must be between 16 and 32 (got {bytes})"),
                );
            }
            let key = match keys.resolve(spec.key.as_deref()) {
                Ok(k) => Some(k),
                Err(e) => {
                    if let Some(e) = e {
                        ctx.at(span.clone(), what, e);
                    }
                    None
                }
            };
            let keep_prefixes = spec.keep_prefixes.clone().unwrap_or_default();
            if keep_prefixes.iter().any(String::is_empty) {
                ctx.at(
                    span.clone(),
                    what,
                    "`keep_prefixes` entries must not be empty",
                );
            }
            match key {
                Some(key) => Action::Tokenize(Tokenize {
                    key,
                    normalize,
                    shape,
                    bytes: bytes.clamp(16, 32) as usize,
                    keep_prefixes,
                }),
                None => Action::Drop,
            }
        }
        "mask" => {
            let keep_last = spec.keep_last.unwrap_or(0);
            if !(0..=64).contains(&keep_last) {
                ctx.at(
                    span.clone(),
                    what,
                    format!("`keep_last` must be between 0 and 64 (got {keep_last})"),
                );
            }
            Action::Mask(Mask {
                keep_domain: spec.keep_domain.unwrap_or(false),
                keep_last: keep_last.clamp(0, 64) as usize,
            })
        }
        "generalize" => {
            let implied = match detector {
                Some(DetectorKind::Ipv4 | DetectorKind::Ipv6) => Some("ip"),
                Some(DetectorKind::UserAgent) => Some("user_agent"),
                Some(other) => {
                    ctx.at(
                        span.clone(),
                        what,
                        format!(
                            "detector `{}` cannot use `generalize` (only ipv4, ipv6 and user_agent can)",
                            other.name()
                        ),
                    );
                    return None;
                }
                None => None,
            };
            // A detector's matches are of one kind: generalising an address
            // as a URL would leave it as it is.
            if let (Some(implied), Some(given)) = (implied, spec.kind.as_deref()) {
                if given != implied {
                    ctx.at(
                        span.clone(),
                        what,
                        format!("detector `{}` can only generalize as kind = \"{implied}\" (got {given:?})",
                            detector.map_or("", DetectorKind::name)),
                    );
                    return None;
                }
            }
            let kind_name = spec.kind.as_deref().or(implied);
            let on_invalid = match spec.on_invalid.as_deref() {
                None | Some("drop") => OnInvalid::Drop,
                Some("null") => OnInvalid::Null,
                Some(o) => {
                    ctx.at(
                        span.clone(),
                        what,
                        format!("unknown on_invalid {o:?} (expected drop or null)"),
                    );
                    OnInvalid::Drop
                }
            };
            // Each kind-specific parameter and the kinds it applies to.
            let params: [(&str, bool, &[&str]); 5] = [
                ("ipv4_prefix", spec.ipv4_prefix.is_some(), &["ip"]),
                ("ipv6_prefix", spec.ipv6_prefix.is_some(), &["ip"]),
                ("query_allow", spec.query_allow.is_some(), &["url"]),
                ("unit", spec.unit.is_some(), &["timestamp"]),
                (
                    "on_invalid",
                    spec.on_invalid.is_some(),
                    &["ip", "timestamp"],
                ),
            ];
            if let Some(k) =
                kind_name.filter(|k| ["ip", "url", "user_agent", "timestamp"].contains(k))
            {
                for (name, set, kinds) in params {
                    if set && !kinds.contains(&k) {
                        ctx.at(
                            span.clone(),
                            what,
                            format!("`{name}` applies only to kind {}", kinds.join(" and ")),
                        );
                    }
                }
            }
            let kind = match kind_name {
                Some("ip") => {
                    let v4 = spec.ipv4_prefix.unwrap_or(24);
                    let v6 = spec.ipv6_prefix.unwrap_or(48);
                    if !(0..=32).contains(&v4) {
                        ctx.at(
                            span.clone(),
                            what,
                            format!("`ipv4_prefix` must be between 0 and 32 (got {v4})"),
                        );
                    }
                    if !(0..=128).contains(&v6) {
                        ctx.at(
                            span.clone(),
                            what,
                            format!("`ipv6_prefix` must be between 0 and 128 (got {v6})"),
                        );
                    }
                    GeneralizeKind::Ip {
                        v4_prefix: v4.clamp(0, 32) as u8,
                        v6_prefix: v6.clamp(0, 128) as u8,
                    }
                }
                Some("url") => GeneralizeKind::Url {
                    query_allow: spec.query_allow.clone().unwrap_or_default(),
                },
                Some("user_agent") => GeneralizeKind::UserAgent,
                Some("timestamp") => {
                    let unit = match spec.unit.as_deref().map(|u| (u, TimeUnit::from_name(u))) {
                        None => TimeUnit::Hour,
                        Some((_, Some(u))) => u,
                        Some((u, None)) => {
                            ctx.at(span.clone(), what, format!("unknown unit {u:?} (expected second, minute, hour, day or month)"));
                            TimeUnit::Hour
                        }
                    };
                    GeneralizeKind::Timestamp { unit }
                }
                Some(k) => {
                    ctx.at(span.clone(), what, format!("unknown generalize kind {k:?} (expected ip, url, user_agent or timestamp)"));
                    return None;
                }
                None => {
                    ctx.at(
                        span.clone(),
                        what,
                        "`generalize` needs `kind` (ip, url, user_agent or timestamp)",
                    );
                    return None;
                }
            };
            Action::Generalize(Generalize { kind, on_invalid })
        }
        _ => return None,
    };
    (ctx.problems.len() == before).then_some(action)
}

/// The keys of a policy and how rules name them.
struct KeyTable {
    keys: Vec<Arc<Key>>,
    current: Option<Arc<Key>>,
    /// The key files read.
    files: Vec<std::path::PathBuf>,
    /// Configured keys that could not be loaded (already reported), by id
    /// when the entry named a valid one. A rule that needs one of them, or
    /// needs the current key while one is missing, adds no problem of its
    /// own: the key's problem is the cause, and anything said about the rule
    /// ("none is marked current", "unknown key") would be wrong.
    failed: Vec<Option<String>>,
}

impl KeyTable {
    /// The key a rule names, or the current key. `Err(None)` when the key
    /// is missing because a configured key could not be loaded.
    fn resolve(&self, id: Option<&str>) -> Result<Arc<Key>, Option<String>> {
        match id {
            None => self.current.clone().ok_or_else(|| {
                self.failed.is_empty().then(|| {
                    "several keys are configured and none is marked `current = true`".to_string()
                })
            }),
            Some(id) => self
                .keys
                .iter()
                .find(|k| k.id() == id)
                .cloned()
                .ok_or_else(|| {
                    let unloaded = self
                        .failed
                        .iter()
                        .any(|f| f.as_deref().is_none_or(|f| f == id));
                    let ids: Vec<&str> = self.keys.iter().map(|k| k.id()).collect();
                    (!unloaded).then(|| {
                        format!(
                            "unknown key {id:?} (configured keys: {})",
                            if ids.is_empty() {
                                "none".into()
                            } else {
                                ids.join(", ")
                            }
                        )
                    })
                }),
        }
    }
}

fn detector_defaults(kind: DetectorKind, keys: &KeyTable) -> Action {
    let replace = |text: &str| Action::Replace(Value::String(text.into()));
    // A token with the current key (as the presets' identity rules make
    // it), or `fallback` when the policy has no key.
    let tokenize = |normalize, shape, fallback| match keys.current.clone() {
        Some(key) => Action::Tokenize(Tokenize {
            key,
            normalize,
            shape,
            bytes: 16,
            keep_prefixes: Vec::new(),
        }),
        None => replace(fallback),
    };
    match kind {
        DetectorKind::Email => tokenize(Normalize::Email, Shape::Email, "[REDACTED-EMAIL]"),
        DetectorKind::Ipv4 | DetectorKind::Ipv6 => Action::Generalize(Generalize {
            kind: GeneralizeKind::Ip {
                v4_prefix: 24,
                v6_prefix: 48,
            },
            on_invalid: OnInvalid::Drop,
        }),
        DetectorKind::CreditCard => replace("[REDACTED-CARD]"),
        DetectorKind::Phone => replace("[REDACTED-PHONE]"),
        DetectorKind::Mac => replace("[REDACTED-MAC]"),
        DetectorKind::Ssn => replace("[REDACTED-SSN]"),
        DetectorKind::Iban => replace("[REDACTED-IBAN]"),
        DetectorKind::PersonalParam => replace("[REDACTED]"),
        // The token a vendor preset's identity rule gives the same id.
        DetectorKind::IdParam => tokenize(Normalize::None, Shape::Opaque, "[REDACTED-ID]"),
        DetectorKind::Secret => replace("[REDACTED-SECRET]"),
        DetectorKind::RequestQuery => Action::Drop,
        DetectorKind::UserAgent => Action::Generalize(Generalize {
            kind: GeneralizeKind::UserAgent,
            on_invalid: OnInvalid::Drop,
        }),
    }
}

/// Reads a policy file (at most [`crate::files::MAX_CONFIG_FILE_BYTES`]
/// bytes) and compiles it. A key file named by a relative path is in the
/// policy file's folder.
///
/// # Errors
///
/// [`PolicyError::Io`] or [`PolicyError::Invalid`] with every problem found.
pub fn load_file(path: &std::path::Path) -> Result<Policy, PolicyError> {
    let src = crate::files::read_capped_to_string(path, crate::files::MAX_CONFIG_FILE_BYTES)
        .map_err(|source| PolicyError::Io {
            path: path.display().to_string(),
            source,
        })?;
    let base = path.parent().unwrap_or(std::path::Path::new(""));
    let mut policy = Policy::compile(&src, &path.display().to_string(), false, Some(base))?;
    policy.files.insert(0, path.to_path_buf());
    Ok(policy)
}

impl Policy {
    /// The built-in default policy: every preset and every detector. Tokens
    /// use the key in `REDACTOR_TOKEN_KEY`, or an ephemeral key with a warning.
    ///
    /// # Errors
    ///
    /// When `REDACTOR_TOKEN_KEY` is set but shorter than 16 bytes.
    pub fn builtin() -> Result<Policy, PolicyError> {
        Policy::compile(DEFAULT_POLICY, "built-in default policy", true, None)
    }

    /// Compiles policy source text; `origin` names it in errors. A key file
    /// named by a relative path is relative to the working directory (see
    /// [`load_file`]).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] listing every problem found.
    pub fn from_toml(src: &str, origin: &str) -> Result<Policy, PolicyError> {
        Policy::compile(src, origin, false, None)
    }

    /// `base` is the folder relative key files are in (the policy file's);
    /// without it they are relative to the working directory.
    fn compile(
        src: &str,
        origin: &str,
        builtin: bool,
        base: Option<&std::path::Path>,
    ) -> Result<Policy, PolicyError> {
        let mut ctx = Ctx {
            origin,
            src,
            problems: Vec::new(),
        };
        let doc = match toml_fields::Located::parse(src) {
            Ok(doc) => doc,
            Err(e) => {
                let location = match e.span {
                    Some(span) => format!("{origin}:{}", toml_fields::line_of(src, span.start)),
                    None => origin.to_string(),
                };
                return Err(PolicyError::Invalid(vec![Problem {
                    location,
                    message: e.message,
                }]));
            }
        };
        let file = FileSpec::read(&doc, &mut ctx);
        let mut warnings = Vec::new();

        if let Some(v) = &file.version {
            if v.get_ref().as_integer() != Some(1) {
                ctx.at(Some(v.span()), "version", "`version` must be 1");
            }
        }
        let mode = match &file.mode {
            None => Mode::Denylist,
            Some(v) => match v.get_ref().as_str() {
                Some("denylist") => Mode::Denylist,
                Some("allowlist") => Mode::Allowlist,
                _ => {
                    ctx.at(
                        Some(v.span()),
                        "mode",
                        "`mode` must be \"denylist\" or \"allowlist\"",
                    );
                    Mode::Denylist
                }
            },
        };
        let nested_json = match &file.nested_json {
            None => true,
            Some(v) => v.get_ref().as_bool().unwrap_or_else(|| {
                ctx.at(
                    Some(v.span()),
                    "nested_json",
                    "`nested_json` must be true or false",
                );
                true
            }),
        };
        let mut limits = Limits::default();
        if let Some(v) = &file.limits {
            let l = match table_spec::<LimitsSpec>(v.get_ref(), &[], LIMIT_FIELDS, "its fields") {
                Ok(l) => l,
                Err(problems) => {
                    for p in problems {
                        ctx.at(Some(v.span()), "limits", p);
                    }
                    // The entries of the right type are checked all the same.
                    let int = |name| v.get_ref().get(name).and_then(toml::Value::as_integer);
                    LimitsSpec {
                        max_depth: int("max_depth"),
                        max_line_bytes: int("max_line_bytes"),
                    }
                }
            };
            if let Some(d) = l.max_depth {
                if !(1..=1000).contains(&d) {
                    ctx.at(
                        Some(toml_fields::entry_span(src, v.span(), "max_depth")),
                        "limits.max_depth",
                        format!("must be between 1 and 1000 (got {d})"),
                    );
                }
                limits.max_depth = d.clamp(1, 1000) as usize;
            }
            if let Some(b) = l.max_line_bytes {
                if !(1024..=(1 << 30)).contains(&b) {
                    ctx.at(
                        Some(toml_fields::entry_span(src, v.span(), "max_line_bytes")),
                        "limits.max_line_bytes",
                        format!("must be between 1024 and 1073741824 (got {b})"),
                    );
                }
                limits.max_line_bytes = b.clamp(1024, 1 << 30) as usize;
            }
        }
        let preset_names: Vec<String> = match &file.presets {
            None => Vec::new(),
            Some(v) => match v.get_ref() {
                toml::Value::String(s) if s == "all" => {
                    presets::NAMES.iter().map(|s| s.to_string()).collect()
                }
                toml::Value::Array(items) => {
                    let mut names = Vec::new();
                    for item in items {
                        match item.as_str() {
                            Some(n) if presets::NAMES.contains(&n) => {
                                if names.iter().any(|x| x == n) {
                                    ctx.at(
                                        Some(v.span()),
                                        "presets",
                                        format!("preset {n:?} is listed twice"),
                                    );
                                }
                                names.push(n.to_string());
                            }
                            _ => ctx.at(
                                Some(v.span()),
                                "presets",
                                format!(
                                    "unknown preset {} (available: {})",
                                    item,
                                    presets::NAMES.join(", ")
                                ),
                            ),
                        }
                    }
                    names
                }
                _ => {
                    ctx.at(
                        Some(v.span()),
                        "presets",
                        "`presets` must be a list of preset names or \"all\"",
                    );
                    Vec::new()
                }
            },
        };

        // Keys.
        let mut table = KeyTable {
            keys: Vec::new(),
            current: None,
            files: Vec::new(),
            failed: Vec::new(),
        };
        let mut current_count = 0;
        for (i, k) in file.keys.iter().flatten().enumerate() {
            let what = format!("keys[{i}]");
            match table_spec::<KeySpec>(k.get_ref(), &["id"], KEY_FIELDS, "a key's fields") {
                Ok(spec) => {
                    if !valid_id(&spec.id) {
                        ctx.at(
                            Some(k.span()),
                            &what,
                            format!(
                                "key id {:?} must be 1 to 16 characters of a-z and 0-9",
                                spec.id
                            ),
                        );
                        table.failed.push(None);
                        continue;
                    }
                    if table.keys.iter().any(|x| x.id() == spec.id) {
                        ctx.at(
                            Some(k.span()),
                            &what,
                            format!("key id {:?} is defined twice", spec.id),
                        );
                        continue;
                    }
                    let source = match (spec.env, spec.file) {
                        (Some(e), None) => KeySource::Env(e),
                        (None, Some(f)) => KeySource::File(match base {
                            Some(base) => base.join(f),
                            None => f.into(),
                        }),
                        _ => {
                            ctx.at(Some(k.span()), &what, "give exactly one of `env` or `file` (key material never goes in the policy)");
                            table.failed.push(Some(spec.id));
                            continue;
                        }
                    };
                    match Key::load(&spec.id, &source) {
                        Ok(key) => {
                            if let KeySource::File(f) = &source {
                                table.files.push(f.clone());
                            }
                            let key = Arc::new(key);
                            if spec.current {
                                current_count += 1;
                                table.current = Some(key.clone());
                            }
                            table.keys.push(key);
                        }
                        Err(e) => {
                            ctx.at(Some(k.span()), &what, format!("key {:?}: {e}", spec.id));
                            table.failed.push(Some(spec.id));
                        }
                    }
                }
                Err(problems) => {
                    for p in problems {
                        ctx.at(Some(k.span()), &what, p);
                    }
                    table.failed.push(None);
                }
            }
        }
        if current_count > 1 {
            ctx.at(None, "keys", "more than one key is marked `current = true`");
        }
        if table.current.is_none() && table.keys.len() == 1 {
            table.current = Some(table.keys[0].clone());
        }
        let no_keys_configured = file.keys.as_ref().is_none_or(|k| k.is_empty());
        if no_keys_configured {
            if builtin && std::env::var_os(DEFAULT_KEY_ENV).is_some() {
                match Key::load("default", &KeySource::Env(DEFAULT_KEY_ENV.into())) {
                    Ok(k) => {
                        let k = Arc::new(k);
                        table.keys.push(k.clone());
                        table.current = Some(k);
                    }
                    Err(e) => {
                        ctx.at(None, DEFAULT_KEY_ENV, e);
                        table.failed.push(Some("default".into()));
                    }
                }
            } else {
                let k = Arc::new(Key::ephemeral("eph"));
                table.keys.push(k.clone());
                table.current = Some(k);
            }
        }

        // Rules: the policy's own first, then presets in order.
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen_names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, r) in file.rules.iter().flatten().enumerate() {
            let span = Some(r.span());
            let spec = match rule_spec(r.get_ref()) {
                Ok(s) => s,
                Err(problems) => {
                    let what = match r.get_ref().get("name").and_then(|n| n.as_str()) {
                        Some(name) => format!("rules[{i}] {name:?}"),
                        None => format!("rules[{i}]"),
                    };
                    for p in problems {
                        ctx.at(span.clone(), &what, p);
                    }
                    continue;
                }
            };
            let what = format!("rules[{i}] {:?}", spec.name);
            // Checked whether or not the rule compiles, so that every
            // problem is reported at once.
            if spec.name.is_empty() {
                ctx.at(span.clone(), &what, "`name` must not be empty");
            } else if let Some(prev) = seen_names.insert(spec.name.clone(), i) {
                ctx.at(
                    span.clone(),
                    &what,
                    format!("rule name {:?} is already used by rules[{prev}]", spec.name),
                );
            }
            if let Some(rule) = compile_rule(&spec, &what, span, "policy", &table, &mut ctx) {
                rules.push(rule);
            }
        }
        for name in &preset_names {
            let src = presets::source(name).unwrap_or("");
            let porigin = format!("preset:{name}");
            let mut pctx = Ctx {
                origin: &porigin,
                src,
                problems: Vec::new(),
            };
            let Ok(pdoc) = toml_fields::Located::parse(src) else {
                ctx.at(None, &porigin, "built-in preset does not parse");
                continue;
            };
            let pfile = FileSpec::read(&pdoc, &mut pctx);
            for (i, r) in pfile.rules.iter().flatten().enumerate() {
                match rule_spec(r.get_ref()) {
                    Ok(spec) => {
                        let what = format!("rules[{i}] {:?}", spec.name);
                        if let Some(rule) =
                            compile_rule(&spec, &what, Some(r.span()), &porigin, &table, &mut pctx)
                        {
                            rules.push(rule);
                        }
                    }
                    Err(problems) => {
                        for p in problems {
                            pctx.at(Some(r.span()), &format!("rules[{i}]"), p);
                        }
                    }
                }
            }
            // After the file's own: a preset's lines are its own.
            ctx.problems
                .extend(pctx.problems.into_iter().map(|(_, p)| (usize::MAX, p)));
        }

        // Detectors.
        let mut configured: BTreeMap<DetectorKind, Option<Action>> = BTreeMap::new();
        let mut all_off = false;
        if let Some(v) = &file.detectors {
            match v.get_ref() {
                toml::Value::String(s) if s == "off" => all_off = true,
                toml::Value::Table(t) => {
                    for (name, entry) in t {
                        let what = format!("detectors.{name}");
                        let at = Some(toml_fields::entry_span(src, v.span(), name));
                        let Some(kind) = DetectorKind::from_name(name) else {
                            let names: Vec<&str> =
                                DetectorKind::ALL.iter().map(|k| k.name()).collect();
                            ctx.at(
                                at.clone(),
                                &what,
                                format!(
                                    "unknown detector {name:?} (available: {})",
                                    names.join(", ")
                                ),
                            );
                            continue;
                        };
                        let spec = match entry {
                            toml::Value::String(s) if s == "off" => {
                                configured.insert(kind, None);
                                continue;
                            }
                            toml::Value::String(s) => Ok(ActionSpec {
                                action: s.clone(),
                                ..ActionSpec::default()
                            }),
                            table @ toml::Value::Table(_) => table_spec::<ActionSpec>(
                                table,
                                &["action"],
                                ACTION_FIELDS,
                                "a detector's fields",
                            ),
                            _ => Err(vec![
                                "must be \"off\", an action name or a table with `action`".into(),
                            ]),
                        };
                        match spec {
                            Ok(spec) if spec.action == "keep" => {
                                ctx.at(at.clone(), &what, "use \"off\" to disable a detector");
                            }
                            Ok(spec) => {
                                if let Some(a) = compile_action(
                                    &spec,
                                    &what,
                                    at.clone(),
                                    Some(kind),
                                    &table,
                                    &mut ctx,
                                ) {
                                    configured.insert(kind, Some(a));
                                }
                            }
                            Err(problems) => {
                                for p in problems {
                                    ctx.at(at.clone(), &what, p);
                                }
                            }
                        }
                    }
                }
                _ => ctx.at(
                    Some(v.span()),
                    "detectors",
                    "`detectors` must be a table or \"off\"",
                ),
            }
        }
        let mut detectors = Detectors::default();
        if !all_off {
            for kind in DetectorKind::ALL {
                let action = match configured.get(&kind) {
                    Some(None) => continue,
                    Some(Some(a)) => a.clone(),
                    None => detector_defaults(kind, &table),
                };
                detectors.list.push(Detector { kind, action });
            }
        }

        if !ctx.problems.is_empty() {
            // In the file's order; those of one line as they were found.
            ctx.problems.sort_by_key(|(line, _)| *line);
            let problems = ctx.problems.into_iter().map(|(_, p)| p).collect();
            return Err(PolicyError::Invalid(problems));
        }
        let uses_tokens = rules
            .iter()
            .any(|r| matches!(r.action, Action::Tokenize(_)))
            || detectors
                .list
                .iter()
                .any(|d| matches!(d.action, Action::Tokenize(_)));
        if uses_tokens && table.keys.iter().any(|k| k.is_ephemeral()) {
            let what_to_do = if builtin {
                format!("set {DEFAULT_KEY_ENV} (at least 16 bytes) or configure [[keys]] in a policy file")
            } else if std::env::var_os(DEFAULT_KEY_ENV).is_some() {
                // Set, but it is the built-in policy's key: say so, or the
                // operator believes the tokens stable.
                format!("{DEFAULT_KEY_ENV} is set but is the key of the built-in default policy only: add [[keys]] with env = \"{DEFAULT_KEY_ENV}\" to the policy to use it")
            } else {
                "add [[keys]] to the policy".to_string()
            };
            warnings.push(format!("no tokenization key is configured: tokens use an ephemeral random key and are not stable across runs or instances; {what_to_do}"));
        }
        let mut matcher = Matcher::default();
        for (ri, rule) in rules.iter().enumerate() {
            for s in &rule.selectors {
                // Already validated in compile_rule.
                if let Ok(mut sel) = Selector::parse(s, rule.mode) {
                    // A `keep` takes whole names only: allowlist mode
                    // forwards no name it does not list.
                    sel.tails &= !matches!(rule.action, Action::Keep);
                    matcher.push(ri, sel);
                }
            }
        }
        Ok(Policy {
            mode,
            rules,
            matcher,
            detectors,
            limits,
            nested_json,
            current_key: table.current,
            keys: table.keys,
            presets: preset_names,
            warnings,
            files: table.files,
        })
    }

    /// Rule labels, in rule order (for counters).
    pub fn rule_labels(&self) -> Vec<String> {
        self.rules.iter().map(Rule::label).collect()
    }
}

fn compile_rule(
    spec: &RuleSpec,
    what: &str,
    span: Option<std::ops::Range<usize>>,
    origin: &str,
    keys: &KeyTable,
    ctx: &mut Ctx<'_>,
) -> Option<Rule> {
    let before = ctx.problems.len();
    let mode = match spec.match_mode.as_deref() {
        None => MatchMode::Exact,
        Some(m) => MatchMode::from_name(m).unwrap_or_else(|| {
            ctx.at(
                span.clone(),
                what,
                format!("unknown match {m:?} (expected exact, ignore-case or loose)"),
            );
            MatchMode::Exact
        }),
    };
    if spec.select.is_empty() {
        ctx.at(
            span.clone(),
            what,
            "`select` must list at least one selector",
        );
    }
    for (j, s) in spec.select.iter().enumerate() {
        if let Err(e) = Selector::parse(s, mode) {
            ctx.at(
                span.clone(),
                &format!("{what}.select[{j}]"),
                format!("selector {s:?}: {e}"),
            );
        }
    }
    let action = compile_action(&spec.action, what, span, None, keys, ctx);
    if ctx.problems.len() != before {
        return None;
    }
    Some(Rule {
        name: spec.name.clone(),
        origin: origin.to_string(),
        description: spec.description.clone().unwrap_or_default(),
        selectors: spec.select.clone(),
        mode,
        action: action?,
        keep_literals: spec.keep_literals,
        scalars_only: spec.scalars_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> Vec<String> {
        match Policy::from_toml(src, "p.toml") {
            Err(PolicyError::Invalid(p)) => p.into_iter().map(|p| p.to_string()).collect(),
            Err(e) => vec![e.to_string()],
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn builtin_compiles_with_every_preset_and_detector() {
        let p = Policy::builtin().unwrap();
        assert_eq!(p.presets.len(), presets::NAMES.len());
        assert_eq!(p.detectors.list.len(), DetectorKind::ALL.len());
        assert!(p.rules.len() >= 40, "{}", p.rules.len());
    }

    #[test]
    fn reports_every_problem_with_location() {
        let src = r#"
version = 1
mode = "denylist"

[[rules]]
name = "a"
select = ["**.email", "bad..sel"]
action = "drop"
keep_last = 3

[[rules]]
name = "b"
select = ["ip"]
action = "generalize"
kind = "ip"
ipv4_prefix = 40

[[rules]]
name = "c"
select = ["x"]
action = "explode"

[[rules]]
name = "a"
select = ["y"]
action = "tokenize"
key = "nope"
colour = "red"
"#;
        let p = problems(src);
        let joined = p.join("\n");
        assert!(
            joined.contains("p.toml:5: rules[0] \"a\".select[1]"),
            "{joined}"
        );
        assert!(
            joined.contains("`keep_last` is not a parameter of action `drop`"),
            "{joined}"
        );
        assert!(
            joined.contains(
                "p.toml:11: rules[1] \"b\": `ipv4_prefix` must be between 0 and 32 (got 40)"
            ),
            "{joined}"
        );
        assert!(joined.contains("unknown action \"explode\""), "{joined}");
        assert!(
            joined.contains("rules[3]") && joined.contains("colour"),
            "{joined}"
        );
        assert_eq!(p.len(), 5, "{joined}");
    }

    #[test]
    fn a_duplicate_name_is_reported_beside_the_rules_other_problems() {
        let src = "[[rules]]\nname = \"x\"\nselect = [\"a\"]\naction = \"tokenise\"\n\
                   [[rules]]\nname = \"x\"\nselect = [\"b\"]\naction = \"drop\"\n";
        let p = problems(src);
        let joined = p.join("\n");
        assert!(joined.contains("unknown action \"tokenise\""), "{joined}");
        assert!(
            joined
                .contains("p.toml:5: rules[1] \"x\": rule name \"x\" is already used by rules[0]"),
            "{joined}"
        );
        assert_eq!(p.len(), 2, "{joined}");
    }

    #[test]
    fn keep_literals_is_a_boolean_of_the_rule_head() {
        let rule = |extra: &str| {
            format!("[[rules]]\nname = \"pw\"\nselect = [\"pw\"]\n{extra}action = \"drop\"\n")
        };
        let p = Policy::from_toml(&rule("keep_literals = true\n"), "p.toml").unwrap();
        assert!(p.rules[0].keep_literals);
        let p = Policy::from_toml(&rule(""), "p.toml").unwrap();
        assert!(!p.rules[0].keep_literals, "off unless asked for");
        let wrong = problems(&rule("keep_literals = \"yes\"\n")).join("\n");
        assert!(
            wrong.contains("rules[0]")
                && wrong.contains("`keep_literals` must be true or false (got a string)"),
            "{wrong}"
        );
    }

    #[test]
    fn unknown_top_level_field_and_syntax_errors() {
        let misplaced = problems("[[rules]]\nname = \"u\"\nselect = [\"u\"]\naction = \"generalize\"\nkind = \"url\"\nunit = \"day\"\non_invalid = \"null\"\n").join("\n");
        assert!(
            misplaced.contains("`unit` applies only to kind timestamp"),
            "{misplaced}"
        );
        assert!(
            misplaced.contains("`on_invalid` applies only to kind ip and timestamp"),
            "{misplaced}"
        );
        assert!(problems("colour = 1\n")[0].contains("unknown field `colour`"));
        // Every unknown top-level field, each on its line, and lists that
        // are not, in the file's order.
        assert_eq!(
            problems("colour = 1\nrules = 3\n[shade]\nkeys = { a = 1 }\n"),
            [
                "p.toml:1: unknown field `colour` (a policy's top level: version, mode, presets, nested_json, limits, detectors, keys, rules)",
                "p.toml:2: rules: must be a list of tables, as [[rules]] makes (got an integer)",
                "p.toml:3: unknown field `shade` (a policy's top level: version, mode, presets, nested_json, limits, detectors, keys, rules)",
            ]
        );
        // Problems of different tables, which are checked table by table,
        // are listed by line too.
        let p = problems(
            "[detectors]\nemail = \"bogus\"\n[[rules]]\nname = \"a\"\nselect = [\"x\"]\naction = \"frob\"\n\
             [limits]\nmax_depth = 0\n",
        );
        let lines: Vec<&str> = p.iter().map(|p| p.split(':').nth(1).unwrap()).collect();
        assert_eq!(lines, ["2", "3", "8"], "{p:?}");
        // A syntax error's message takes one line.
        assert_eq!(
            problems("x = [\n"),
            ["p.toml:2: invalid array: expected `]`"]
        );
        assert!(problems("[[rules]\n")[0].starts_with("p.toml:1"));
        assert!(problems("presets = [\"mixpanle\"]\n")[0].contains("unknown preset"));
        assert!(
            problems("[[keys]]\nid = \"k1\"\nenv = \"X\"\nfile = \"y\"\n")[0]
                .contains("exactly one of `env` or `file`")
        );
        assert!(problems("[detectors]\nemail = \"generalize\"\n")[0]
            .contains("cannot use `generalize`"));
        // A detector generalises its matches as their own kind: an address
        // generalised as a URL would pass unchanged.
        assert_eq!(
            problems(
                "[detectors]\nipv4 = { action = \"generalize\", kind = \"url\" }\n\
                 user_agent = { action = \"generalize\", kind = \"ip\" }\n\
                 ipv6 = { action = \"generalize\", kind = \"ip\", ipv6_prefix = 32 }\n"
            ),
            [
                "p.toml:2: detectors.ipv4: detector `ipv4` can only generalize as kind = \"ip\" (got \"url\")",
                "p.toml:3: detectors.user_agent: detector `user_agent` can only generalize as kind = \"user_agent\" (got \"ip\")",
            ]
        );
        // Each entry of `[detectors]` and `[limits]`, in a table or inline,
        // is named by its own line.
        assert_eq!(
            problems(
                "[limits]\nmax_line_bytes = 10\n\n[detectors]\nemail = \"mask\"\n\"ipv4\" = { action = \"mask\", keep_last = 99 }\n"
            ),
            [
                "p.toml:2: limits.max_line_bytes: must be between 1024 and 1073741824 (got 10)",
                "p.toml:6: detectors.ipv4: `keep_last` must be between 0 and 64 (got 99)",
            ]
        );
        assert_eq!(
            problems("presets = []\ndetectors = { email = \"mask\", phone = \"keep\" }\n"),
            ["p.toml:2: detectors.phone: use \"off\" to disable a detector"]
        );
    }

    #[test]
    fn every_problem_of_a_rule_or_detector_table_is_reported() {
        // Each missing field and each unknown one, named, in one run.
        let p = problems("[[rules]]\npath = \"a.b\"\n");
        assert_eq!(p.len(), 4, "{p:?}");
        for field in ["name", "select", "action"] {
            assert!(
                p.iter()
                    .any(|x| x.contains(&format!("missing field `{field}`"))),
                "{field}: {p:?}"
            );
        }
        assert!(
            p[3].starts_with("p.toml:1: rules[0]: unknown field `path` (a rule's fields: name,"),
            "{p:?}"
        );
        // Wrong types name their field; the rule is named once it has a name.
        let p = problems(
            "[[rules]]\nname = \"x\"\nselect = [\"a\", 1]\naction = 3\nkeep_last = \"2\"\n",
        );
        assert_eq!(
            p,
            [
                "p.toml:1: rules[0] \"x\": `action` must be a string (got an integer)",
                "p.toml:1: rules[0] \"x\": `keep_last` must be an integer (got a string)",
                "p.toml:1: rules[0] \"x\": `select` must be a list of strings (got a list holding an integer)",
            ]
        );
        assert!(
            problems("[[rules]]\nname = \"x\"\nselect = \"a\"\naction = \"drop\"\n")[0]
                .ends_with("`select` must be a list of strings (got a string)")
        );
        // A detector's table, and a setting that is neither a string nor a table.
        let p = problems(
            "[detectors]\nemail = { action = \"mask\", keep_last = \"3\", colour = 1 }\nmac = 3\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].contains("detectors.email: unknown field `colour` (a detector's fields: action,"),
            "{p:?}"
        );
        assert!(
            p[1].ends_with("detectors.email: `keep_last` must be an integer (got a string)"),
            "{p:?}"
        );
        assert!(
            p[2].ends_with(
                "detectors.mac: must be \"off\", an action name or a table with `action`"
            ),
            "{p:?}"
        );
        assert!(problems("[detectors]\nemail = { keep_last = 3 }\n")[0]
            .ends_with("detectors.email: missing field `action`"));
        // Keys and limits.
        let p = problems("[[keys]]\nsecret = \"x\"\ncurrent = \"yes\"\n");
        assert_eq!(
            p,
            [
                "p.toml:1: keys[0]: missing field `id`",
                "p.toml:1: keys[0]: `current` must be true or false (got a string)",
                "p.toml:1: keys[0]: unknown field `secret` (a key's fields: id, env, file, current)",
            ]
        );
        let p = problems("[limits]\nmax_depth = \"9\"\nmax_bytes = 1\nmax_line_bytes = -1\n");
        assert_eq!(
            p,
            [
                "p.toml:1: limits: unknown field `max_bytes` (its fields: max_depth, max_line_bytes)",
                "p.toml:1: limits: `max_depth` must be an integer (got a string)",
                "p.toml:4: limits.max_line_bytes: must be between 1024 and 1073741824 (got -1)",
            ]
        );
        assert_eq!(
            problems("limits = 3\n"),
            ["p.toml:1: limits: must be a table (got an integer)"]
        );
        // The field lists name exactly what the rules accept.
        let names: Vec<&str> = ACTION_FIELDS.iter().map(|(n, _)| *n).collect();
        for name in names {
            let value = match name {
                "action" => continue,
                "bytes" | "keep_last" | "ipv4_prefix" | "ipv6_prefix" => "1".to_string(),
                "keep_domain" => "true".to_string(),
                "keep_prefixes" | "query_allow" => "[\"a\"]".to_string(),
                _ => "\"a\"".to_string(),
            };
            let p = problems(&format!(
                "[[rules]]\nname = \"x\"\nselect = [\"a\"]\naction = \"drop\"\n{name} = {value}\n"
            ));
            assert!(
                p.len() == 1
                    && p[0].contains(&format!("`{name}` is not a parameter of action `drop`")),
                "{name}: {p:?}"
            );
        }
    }

    /// Tables that dotted keys and dotted headers make are read as any
    /// other (serde's `Spanned` refused them), and problems in them keep
    /// their lines.
    #[test]
    fn dotted_keys_and_headers_make_tables_as_headers_do() {
        let p = Policy::from_toml(
            "limits.max_depth = 9\ndetectors.email = \"off\"\n[detectors.ipv4]\naction = \"drop\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.limits.max_depth, 9);
        let headed = Policy::from_toml(
            "[limits]\nmax_depth = 9\n[detectors]\nemail = \"off\"\nipv4 = \"drop\"\n",
            "p.toml",
        )
        .unwrap();
        let detectors = |p: &Policy| -> Vec<(DetectorKind, std::mem::Discriminant<Action>)> {
            p.detectors
                .list
                .iter()
                .map(|d| (d.kind, std::mem::discriminant(&d.action)))
                .collect()
        };
        assert_eq!(detectors(&p), detectors(&headed));
        assert!(!detectors(&p).iter().any(|(k, _)| *k == DetectorKind::Email));
        assert!(
            detectors(&p).contains(&(DetectorKind::Ipv4, std::mem::discriminant(&Action::Drop)))
        );
        assert_eq!(
            problems("version = 1\n\n[detectors.email]\naction = \"mask\"\nkeep_last = \"2\"\n"),
            ["p.toml:3: detectors.email: `keep_last` must be an integer (got a string)"]
        );
        assert_eq!(
            problems("limits.max_dept = 9\n"),
            ["p.toml:1: limits: unknown field `max_dept` (its fields: max_depth, max_line_bytes)"]
        );
        // Inline lists of rules get each rule's own line.
        assert_eq!(
            problems("rules = [\n  { name = \"a\", select = [\"a\"], action = \"drop\" },\n  { name = \"b\", select = [\"b\"], action = \"x\" },\n]\n"),
            ["p.toml:3: rules[1] \"b\": unknown action \"x\" (expected drop, replace, tokenize, mask, generalize or keep)"]
        );
    }

    #[test]
    fn keys_and_current() {
        std::env::set_var("REDACTOR_TEST_POLICY_KEY_A", "aaaaaaaaaaaaaaaaaaaa");
        std::env::set_var("REDACTOR_TEST_POLICY_KEY_B", "bbbbbbbbbbbbbbbbbbbb");
        let src = r#"
[[keys]]
id = "old"
env = "REDACTOR_TEST_POLICY_KEY_A"
[[keys]]
id = "new"
env = "REDACTOR_TEST_POLICY_KEY_B"
current = true
[[rules]]
name = "uid"
select = ["user_id"]
action = "tokenize"
[[rules]]
name = "legacy"
select = ["legacy_id"]
action = "tokenize"
key = "old"
"#;
        let p = Policy::from_toml(src, "p").unwrap();
        assert!(p.warnings.is_empty());
        match (&p.rules[0].action, &p.rules[1].action) {
            (Action::Tokenize(a), Action::Tokenize(b)) => {
                assert_eq!(a.key.id(), "new");
                assert_eq!(b.key.id(), "old");
            }
            _ => panic!("tokenize expected"),
        }
        let no_current = src.replace("current = true\n", "");
        assert!(problems(&no_current)
            .join("\n")
            .contains("none is marked `current = true`"));
        let p = Policy::from_toml(
            "[[rules]]\nname=\"u\"\nselect=[\"u\"]\naction=\"tokenize\"\n",
            "p",
        )
        .unwrap();
        assert!(p.warnings[0].contains("ephemeral"));
    }

    #[test]
    fn a_key_that_cannot_be_loaded_is_the_only_problem_reported() {
        let env = "REDACTOR_TEST_KEY_THAT_IS_NEVER_SET";
        assert!(std::env::var_os(env).is_none());
        let rule = "[[rules]]\nname=\"u\"\nselect=[\"u\"]\naction=\"tokenize\"\n";
        // The only key is missing: the rule needing the current key says nothing.
        let one = format!("[[keys]]\nid=\"a\"\nenv=\"{env}\"\n{rule}");
        let p = problems(&one);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("keys[0]") && p[0].contains(env), "{p:?}");
        // A rule naming the missing key, or an entry that does not parse.
        let named = format!("{one}key=\"a\"\n");
        assert_eq!(problems(&named).len(), 1, "{:?}", problems(&named));
        let unparsed = format!("[[keys]]\nid=\"a\"\nsecret=\"x\"\n{rule}key=\"a\"\n");
        let p = problems(&unparsed);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("unknown field"), "{p:?}");
        // With every key loaded, the rule's own problems are still reported.
        let typo = "[[keys]]\nid=\"a\"\nenv=\"PATH\"\n[[keys]]\nid=\"b\"\nenv=\"PATH\"\n";
        let p = problems(&format!("{typo}{rule}"));
        assert!(p.len() == 1 && p[0].contains("none is marked"), "{p:?}");
        let p = problems(&format!("{typo}{rule}key=\"c\"\n"));
        assert!(p.len() == 1 && p[0].contains("unknown key \"c\""), "{p:?}");
    }

    #[test]
    fn files_lists_the_policy_file_and_its_key_files() {
        let dir =
            std::env::temp_dir().join(format!("redactor-policy-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k.key");
        std::fs::write(&key, "files-test-key-material-0123456789\n").unwrap();
        let path = dir.join("p.toml");
        let src = format!(
            "version = 1\n[[keys]]\nid = \"b\"\nfile = {:?}\n",
            key.display().to_string()
        );
        std::fs::write(&path, src).unwrap();
        let p = load_file(&path).unwrap();
        assert_eq!(p.files, vec![path.clone(), key.clone()]);
        // A relative key file is in the policy file's folder, wherever the
        // process runs (the tests run in the crate's folder).
        assert!(!std::path::Path::new("k.key").exists());
        std::fs::write(&path, "[[keys]]\nid = \"b\"\nfile = \"k.key\"\n").unwrap();
        let p = load_file(&path).unwrap();
        assert_eq!(p.files, vec![path.clone(), dir.join("k.key")]);
        assert_eq!(p.current_key.unwrap().id(), "b");
        // Text compiled without a file reads it from the working directory.
        let e = Policy::from_toml("[[keys]]\nid = \"b\"\nfile = \"k.key\"\n", "p.toml");
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("cannot read key file k.key"),
            "relative to the working directory"
        );
        assert!(Policy::from_toml("version = 1\n", "p.toml")
            .unwrap()
            .files
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
