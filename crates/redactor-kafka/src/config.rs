//! The stage's configuration file (TOML).
//!
//! ```toml
//! policy = "policy.toml"            # optional; the built-in default policy when omitted
//!
//! [kafka]
//! brokers = "127.0.0.1:9092"
//! group = "redactor"
//! [kafka.properties]                # any librdkafka property, passed through
//! "security.protocol" = "SASL_SSL"
//! "sasl.password" = { env = "KAFKA_PASSWORD" }   # or { file = "/run/secrets/pw" }
//!
//! [topics]
//! input = ["events.raw"]            # or input_pattern = "^events\\..*\\.raw$"
//! output = "events.redacted"        # or [topics.output_map] "events.raw" = "events.redacted"
//! dead_letter = "events.dead-letter"
//!
//! [stage]
//! delivery = "at-least-once"        # or "exactly-once"
//!
//! [record]
//! key = "keep"                      # keep | tokenize | drop
//! headers = "keep"                  # what unlisted headers get: keep | drop
//! [[record.header]]
//! name = "x-user-id"
//! action = "tokenize"
//!
//! [metrics]
//! listen = "127.0.0.1:9464"         # "" turns the endpoint off
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// How records are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Offsets are stored only after the broker acknowledged the output.
    AtLeastOnce,
    /// Output and input offsets are committed in one transaction.
    ExactlyOnce,
}

impl Delivery {
    /// Configuration-file name.
    pub fn name(self) -> &'static str {
        match self {
            Delivery::AtLeastOnce => "at-least-once",
            Delivery::ExactlyOnce => "exactly-once",
        }
    }
}

/// Which output partition a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioning {
    /// By the output key (the client's default partitioner), so records of
    /// one key stay in one partition, in order.
    Key,
    /// The input record's partition number (the output topic needs at least
    /// as many partitions).
    Input,
}

/// What happens to a record key or a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldAction {
    /// Forwarded as is.
    Keep,
    /// Replaced by its keyed token (the policy's current key).
    Tokenize,
    /// Removed (a dropped key becomes a null key).
    Drop,
}

impl FieldAction {
    /// Configuration-file name.
    pub fn name(self) -> &'static str {
        match self {
            FieldAction::Keep => "keep",
            FieldAction::Tokenize => "tokenize",
            FieldAction::Drop => "drop",
        }
    }
}

/// A property value: literal, or a secret read from the environment or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PropertyValue {
    Literal(toml::Value),
    Secret(SecretSource),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretSource {
    env: Option<String>,
    file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    policy: Option<PathBuf>,
    kafka: KafkaSection,
    topics: TopicsSection,
    #[serde(default)]
    stage: StageSection,
    #[serde(default)]
    record: RecordSection,
    #[serde(default)]
    metrics: MetricsSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KafkaSection {
    brokers: String,
    #[serde(default = "default_group")]
    group: String,
    #[serde(default)]
    properties: BTreeMap<String, PropertyValue>,
    #[serde(default)]
    consumer: BTreeMap<String, PropertyValue>,
    #[serde(default)]
    producer: BTreeMap<String, PropertyValue>,
}

fn default_group() -> String {
    "redactor".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsSection {
    #[serde(default)]
    input: Vec<String>,
    input_pattern: Option<String>,
    output: Option<String>,
    #[serde(default)]
    output_map: BTreeMap<String, String>,
    dead_letter: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSection {
    #[serde(default = "default_delivery")]
    delivery: Delivery,
    #[serde(default = "default_partitioning")]
    partitioning: Partitioning,
    transactional_id: Option<String>,
    #[serde(default)]
    workers: usize,
    #[serde(default = "default_batch_records")]
    batch_records: usize,
    #[serde(default = "default_batch_bytes")]
    batch_bytes: usize,
    #[serde(default = "default_linger_ms")]
    linger_ms: u64,
    #[serde(default = "default_in_flight_bytes")]
    max_in_flight_bytes: usize,
    #[serde(default = "default_delivery_timeout_ms")]
    delivery_timeout_ms: u64,
    #[serde(default = "default_drain_timeout_ms")]
    drain_timeout_ms: u64,
}

impl Default for StageSection {
    fn default() -> Self {
        StageSection {
            delivery: default_delivery(),
            partitioning: default_partitioning(),
            transactional_id: None,
            workers: 0,
            batch_records: default_batch_records(),
            batch_bytes: default_batch_bytes(),
            linger_ms: default_linger_ms(),
            max_in_flight_bytes: default_in_flight_bytes(),
            delivery_timeout_ms: default_delivery_timeout_ms(),
            drain_timeout_ms: default_drain_timeout_ms(),
        }
    }
}

fn default_delivery() -> Delivery {
    Delivery::AtLeastOnce
}
fn default_partitioning() -> Partitioning {
    Partitioning::Key
}
fn default_batch_records() -> usize {
    1000
}
fn default_batch_bytes() -> usize {
    1 << 20
}
fn default_linger_ms() -> u64 {
    5
}
fn default_in_flight_bytes() -> usize {
    64 << 20
}
fn default_delivery_timeout_ms() -> u64 {
    120_000
}
fn default_drain_timeout_ms() -> u64 {
    30_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordSection {
    #[serde(default = "keep")]
    key: FieldAction,
    #[serde(default = "keep")]
    headers: FieldAction,
    #[serde(default)]
    header: Vec<HeaderRule>,
}

impl Default for RecordSection {
    fn default() -> Self {
        RecordSection {
            key: FieldAction::Keep,
            headers: FieldAction::Keep,
            header: Vec::new(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:9464".to_string()
}

fn keep() -> FieldAction {
    FieldAction::Keep
}

/// What happens to the headers of one name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// Header name, compared ASCII-case-insensitively.
    pub name: String,
    /// What its values get.
    pub action: FieldAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    log_format: LogFormat,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            listen: default_listen(),
            log_format: LogFormat::Text,
        }
    }
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Configuration-file name.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Where input records come from.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// These topics.
    Topics(Vec<String>),
    /// Every topic whose name matches (librdkafka's `^` subscription).
    Pattern(String),
}

/// Where redacted records go.
#[derive(Debug, Clone)]
pub enum Outputs {
    /// One topic for all input.
    Fixed(String),
    /// Per input topic.
    Map(BTreeMap<String, String>),
}

impl Outputs {
    /// The output topic for records of `input`, when there is one.
    pub fn for_input(&self, input: &str) -> Option<&str> {
        match self {
            Outputs::Fixed(t) => Some(t),
            Outputs::Map(m) => m.get(input).map(String::as_str),
        }
    }
}

/// A validated stage configuration.
#[derive(Clone)]
pub struct StageConfig {
    /// The policy file, resolved against the configuration file's folder.
    pub policy: Option<PathBuf>,
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Consumer group id.
    pub group: String,
    /// Pass-through librdkafka properties for both clients, secrets
    /// resolved (never printed).
    pub properties: Vec<(String, String)>,
    /// Properties for the consumer only.
    pub consumer_properties: Vec<(String, String)>,
    /// Properties for the producer only.
    pub producer_properties: Vec<(String, String)>,
    /// Input topics.
    pub inputs: Inputs,
    /// Output topics.
    pub outputs: Outputs,
    /// Dead-letter topic.
    pub dead_letter: String,
    /// Delivery semantics.
    pub delivery: Delivery,
    /// Output partitioning.
    pub partitioning: Partitioning,
    /// `transactional.id` for exactly-once.
    pub transactional_id: String,
    /// Redaction threads (0: one per core).
    pub workers: usize,
    /// Records per batch handed to a worker.
    pub batch_records: usize,
    /// Payload bytes per batch.
    pub batch_bytes: usize,
    /// How long a partial batch waits for more records.
    pub linger: Duration,
    /// Payload bytes consumed but not yet acknowledged before consumption pauses.
    pub max_in_flight_bytes: usize,
    /// How long the producer retries a record before the stage stops.
    pub delivery_timeout: Duration,
    /// How long shutdown and partition revocation wait for in-flight records.
    pub drain_timeout: Duration,
    /// What record keys get.
    pub key: FieldAction,
    /// What unlisted headers get.
    pub headers_default: FieldAction,
    /// Per-name header rules.
    pub header_rules: Vec<HeaderRule>,
    /// Address of the metrics and health endpoint, if any.
    pub metrics_listen: Option<String>,
    /// Log line format.
    pub log_format: LogFormat,
}

impl fmt::Debug for StageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Property values may be secrets: only their names are shown.
        let names: Vec<&str> = self.properties.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("StageConfig")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("properties", &names)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("dead_letter", &self.dead_letter)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

/// The configuration's problems, one per line, each naming the file and the
/// field.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    /// One problem as it is; several under a heading that counts them, as
    /// a policy's are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lines().count();
        if n <= 1 {
            return f.write_str(&self.0);
        }
        write!(f, "invalid stage configuration ({n} problems):")?;
        for line in self.0.lines() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Properties the stage sets itself; overriding them would break its guarantees.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "transactional.id",
    "enable.idempotence",
];

/// The file's fields, section by section, checked before serde reads them
/// (see [`redactor_core::toml_fields`]).
mod fields {
    use redactor_core::toml_fields::{FieldType::*, Fields};

    pub const TOP: &Fields = &[
        ("policy", Text),
        ("kafka", Table),
        ("topics", Table),
        ("stage", Table),
        ("record", Table),
        ("metrics", Table),
    ];
    const ACTIONS: &[&str] = &["keep", "tokenize", "drop"];
    pub const SECTIONS: [(&str, &[&str], &Fields); 5] = [
        (
            "kafka",
            &["brokers"],
            &[
                ("brokers", Text),
                ("group", Text),
                ("properties", Table),
                ("consumer", Table),
                ("producer", Table),
            ],
        ),
        (
            "topics",
            &["dead_letter"],
            &[
                ("input", Texts),
                ("input_pattern", Text),
                ("output", Text),
                ("output_map", TextTable),
                ("dead_letter", Text),
            ],
        ),
        (
            "stage",
            &[],
            &[
                ("delivery", OneOf(&["at-least-once", "exactly-once"])),
                ("partitioning", OneOf(&["key", "input"])),
                ("transactional_id", Text),
                ("workers", Count),
                ("batch_records", Count),
                ("batch_bytes", Count),
                ("linger_ms", Count),
                ("max_in_flight_bytes", Count),
                ("delivery_timeout_ms", Count),
                ("drain_timeout_ms", Count),
            ],
        ),
        (
            "record",
            &[],
            &[
                ("key", OneOf(ACTIONS)),
                ("headers", OneOf(ACTIONS)),
                ("header", Tables),
            ],
        ),
        (
            "metrics",
            &[],
            &[("listen", Text), ("log_format", OneOf(&["text", "json"]))],
        ),
    ];
    pub const HEADER: &Fields = &[("name", Text), ("action", OneOf(ACTIONS))];
}

/// The file's fields, once none is missing, unknown or mistyped; otherwise
/// every such problem, each naming its section and the section's line.
/// Syntax errors stop at the first.
///
/// With the fields comes `origin:line` of each top-level field (`origin`
/// alone where the line is unknown), for the problems found later.
fn read_fields(
    text: &str,
    origin: &str,
) -> Result<(toml::Table, BTreeMap<String, String>), ConfigError> {
    use redactor_core::toml_fields::{line_of, names, problems, Located};
    let doc = Located::parse(text).map_err(|e| {
        ConfigError(match e.span {
            Some(span) => format!("{origin}:{}: {}", line_of(text, span.start), e.message),
            None => format!("{origin}: {}", e.message),
        })
    })?;
    let top = &doc.table;
    let mut found: Vec<String> = problems(top, &["kafka", "topics"], &[fields::TOP], || {
        format!("the file's top level: {}", names(fields::TOP))
    })
    .into_iter()
    .map(|p| format!("{origin}: {p}"))
    .collect();
    for (section, required, section_fields) in fields::SECTIONS {
        let Some(t) = top.get(section).and_then(toml::Value::as_table) else {
            continue; // absent, or reported above
        };
        let at = match doc.span(section) {
            Some(span) => format!("{origin}:{}: {section}", line_of(text, span.start)),
            None => format!("{origin}: {section}"),
        };
        let listed = || format!("its fields: {}", names(section_fields));
        for p in problems(t, required, &[section_fields], listed) {
            found.push(format!("{at}: {p}"));
        }
        if section != "record" {
            continue;
        }
        let headers = t.get("header").and_then(toml::Value::as_array);
        for (i, h) in headers.into_iter().flatten().enumerate() {
            let Some(h) = h.as_table() else { continue };
            let listed = || format!("its fields: {}", names(fields::HEADER));
            for p in problems(h, &["name", "action"], &[fields::HEADER], listed) {
                found.push(format!("{at}.header[{i}]: {p}"));
            }
        }
    }
    if !found.is_empty() {
        return Err(ConfigError(found.join("\n")));
    }
    let at = doc
        .table
        .keys()
        .map(|k| {
            let at = match doc.span(k) {
                Some(span) => format!("{origin}:{}", line_of(text, span.start)),
                None => origin.to_string(),
            };
            (k.clone(), at)
        })
        .collect();
    Ok((doc.table, at))
}

impl StageConfig {
    /// Reads and validates a configuration file.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming the file and the field.
    pub fn load(path: &Path) -> Result<StageConfig, ConfigError> {
        let text = redactor_core::files::read_capped_to_string(
            path,
            redactor_core::files::MAX_CONFIG_FILE_BYTES,
        )
        .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        StageConfig::parse(&text, &path.display().to_string(), base)
    }

    /// Parses configuration text; `origin` names it in errors and relative
    /// paths are resolved against `base`.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming `origin` and the field.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<StageConfig, ConfigError> {
        let (table, section_at) = read_fields(text, origin)?;
        let file: File = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {}", e.message())))?;
        let mut problems = Vec::new();
        // Each problem names the line of its field's section.
        let mut problem = |field: &str, why: String| {
            let section = field.split(['.', '[']).next().unwrap_or(field);
            let at = section_at.get(section).map_or(origin, String::as_str);
            problems.push(format!("{at}: {field}: {why}"));
        };

        if file.kafka.brokers.trim().is_empty() {
            problem("kafka.brokers", "is empty".into());
        }
        if file.kafka.group.trim().is_empty() {
            problem("kafka.group", "is empty".into());
        }
        let mut resolved = [Vec::new(), Vec::new(), Vec::new()];
        for (i, (section, map)) in [
            ("properties", &file.kafka.properties),
            ("consumer", &file.kafka.consumer),
            ("producer", &file.kafka.producer),
        ]
        .into_iter()
        .enumerate()
        {
            for (name, value) in map {
                let field = format!("kafka.{section}.{name:?}");
                if RESERVED.contains(&name.as_str()) {
                    problem(
                        &field,
                        "is set by the stage itself (see docs/kafka.md) and cannot be overridden"
                            .into(),
                    );
                    continue;
                }
                match resolve_property(value, base) {
                    Ok(v) => resolved[i].push((name.clone(), v)),
                    Err(why) => problem(&field, why),
                }
            }
        }
        let [properties, consumer_properties, producer_properties] = resolved;
        let inputs = match (&file.topics.input[..], &file.topics.input_pattern) {
            ([], None) => {
                problem(
                    "topics.input",
                    "no input: set `input` or `input_pattern`".into(),
                );
                Inputs::Topics(Vec::new())
            }
            ([], Some(p)) => {
                if let Err(e) = regex::Regex::new(p) {
                    problem(
                        "topics.input_pattern",
                        format!("not a regular expression: {e}"),
                    );
                }
                Inputs::Pattern(p.clone())
            }
            (list, None) => {
                for t in list {
                    if let Some(why) = bad_topic_name(t) {
                        problem("topics.input", why);
                    }
                }
                Inputs::Topics(list.to_vec())
            }
            (_, Some(_)) => {
                problem(
                    "topics",
                    "set either `input` or `input_pattern`, not both".into(),
                );
                Inputs::Topics(Vec::new())
            }
        };
        let outputs = match (&file.topics.output, file.topics.output_map.is_empty()) {
            (Some(t), true) => Outputs::Fixed(t.clone()),
            (None, false) => {
                if let Inputs::Topics(list) = &inputs {
                    for t in list {
                        if !file.topics.output_map.contains_key(t) {
                            problem(
                                "topics.output_map",
                                format!("has no output topic for input topic {t:?}"),
                            );
                        }
                    }
                }
                Outputs::Map(file.topics.output_map.clone())
            }
            (None, true) => {
                problem(
                    "topics.output",
                    "no output: set `output` or `output_map`".into(),
                );
                Outputs::Fixed(String::new())
            }
            (Some(_), false) => {
                problem(
                    "topics",
                    "set either `output` or `output_map`, not both".into(),
                );
                Outputs::Fixed(String::new())
            }
        };
        let all_outputs: Vec<&String> = match &outputs {
            Outputs::Fixed(t) => vec![t],
            Outputs::Map(m) => m.values().collect(),
        };
        if let Some(why) = file.topics.output.as_deref().and_then(bad_topic_name) {
            problem("topics.output", why);
        }
        let map = &file.topics.output_map;
        for why in map
            .keys()
            .chain(map.values())
            .filter_map(|t| bad_topic_name(t))
        {
            problem("topics.output_map", why);
        }
        let is_input = |t: &str| match &inputs {
            Inputs::Topics(list) => list.iter().any(|i| i == t),
            Inputs::Pattern(p) => regex::Regex::new(p).is_ok_and(|r| r.is_match(t)),
        };
        for t in &all_outputs {
            // An empty name is reported above.
            if !t.is_empty() && is_input(t) {
                problem(
                    "topics.output",
                    format!("output topic {t:?} is also an input topic (the stage would read its own output)"),
                );
            }
        }
        if let Some(why) = bad_topic_name(&file.topics.dead_letter) {
            problem("topics.dead_letter", why);
        } else if is_input(&file.topics.dead_letter)
            || all_outputs.iter().any(|t| **t == file.topics.dead_letter)
        {
            problem(
                "topics.dead_letter",
                "must differ from every input and output topic (it holds unredacted records)"
                    .into(),
            );
        }
        let s = &file.stage;
        for (field, v) in [
            ("stage.batch_records", s.batch_records),
            ("stage.batch_bytes", s.batch_bytes),
            ("stage.max_in_flight_bytes", s.max_in_flight_bytes),
        ] {
            if v == 0 {
                problem(field, "must be at least 1".into());
            }
        }
        if s.workers > redactor_core::MAX_THREADS {
            problem(
                "stage.workers",
                format!("must be at most {}", redactor_core::MAX_THREADS),
            );
        }
        if s.delivery_timeout_ms == 0 {
            problem("stage.delivery_timeout_ms", "must be at least 1".into());
        }
        if s.transactional_id.is_some() && s.delivery != Delivery::ExactlyOnce {
            problem(
                "stage.transactional_id",
                "is only used with delivery = \"exactly-once\"".into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, h) in file.record.header.iter().enumerate() {
            if h.name.is_empty() {
                problem(&format!("record.header[{i}].name"), "is empty".into());
            }
            if !seen.insert(h.name.to_ascii_lowercase()) {
                problem(
                    &format!("record.header[{i}].name"),
                    format!("{:?} is listed twice", h.name),
                );
            }
        }
        if file.record.headers == FieldAction::Tokenize {
            problem(
                "record.headers",
                "the default for unlisted headers is keep or drop; tokenize headers by name".into(),
            );
        }
        let l = &file.metrics.listen;
        if !l.is_empty() && l.parse::<std::net::SocketAddr>().is_err() {
            problem(
                "metrics.listen",
                format!(
                    "{l:?} is not an address like 127.0.0.1:9464 (\"\" turns the endpoint off)"
                ),
            );
        }
        if !problems.is_empty() {
            return Err(ConfigError(problems.join("\n")));
        }
        let transactional_id = s
            .transactional_id
            .clone()
            .unwrap_or_else(|| format!("redactor-{}", file.kafka.group));
        Ok(StageConfig {
            policy: file.policy.map(|p| base.join(p)),
            brokers: file.kafka.brokers,
            group: file.kafka.group,
            properties,
            consumer_properties,
            producer_properties,
            inputs,
            outputs,
            dead_letter: file.topics.dead_letter,
            delivery: s.delivery,
            partitioning: s.partitioning,
            transactional_id,
            workers: s.workers,
            batch_records: s.batch_records,
            batch_bytes: s.batch_bytes,
            linger: Duration::from_millis(s.linger_ms),
            max_in_flight_bytes: s.max_in_flight_bytes,
            delivery_timeout: Duration::from_millis(s.delivery_timeout_ms),
            drain_timeout: Duration::from_millis(s.drain_timeout_ms),
            key: file.record.key,
            headers_default: file.record.headers,
            header_rules: file.record.header,
            metrics_listen: Some(file.metrics.listen).filter(|l| !l.is_empty()),
            log_format: file.metrics.log_format,
        })
    }

    /// A configuration for tests and benchmarks: one input topic, one output
    /// topic, a dead-letter topic, defaults elsewhere, no metrics endpoint.
    pub fn simple(
        brokers: &str,
        group: &str,
        input: &str,
        output: &str,
        dead_letter: &str,
    ) -> Self {
        let text = format!(
            "[kafka]\nbrokers = {brokers:?}\ngroup = {group:?}\n\
             [topics]\ninput = [{input:?}]\noutput = {output:?}\ndead_letter = {dead_letter:?}\n\
             [metrics]\nlisten = \"\"\n"
        );
        StageConfig::parse(&text, "simple", Path::new("."))
            .expect("a simple configuration is valid")
    }
}

fn resolve_property(value: &PropertyValue, base: &Path) -> Result<String, String> {
    match value {
        PropertyValue::Literal(toml::Value::String(s)) => Ok(s.clone()),
        PropertyValue::Literal(toml::Value::Integer(i)) => Ok(i.to_string()),
        PropertyValue::Literal(toml::Value::Boolean(b)) => Ok(b.to_string()),
        PropertyValue::Literal(toml::Value::Float(f)) => Ok(f.to_string()),
        PropertyValue::Literal(toml::Value::Table(_)) | PropertyValue::Secret(_) => {
            let src = match value {
                PropertyValue::Secret(s) => s.clone(),
                PropertyValue::Literal(v) => {
                    v.clone().try_into::<SecretSource>().map_err(|_| {
                        "a table must be { env = \"NAME\" } or { file = \"PATH\" }".to_string()
                    })?
                }
            };
            match (src.env, src.file) {
                (Some(var), None) => std::env::var(&var)
                    .map_err(|_| format!("environment variable {var} is not set")),
                (None, Some(file)) => {
                    let path = base.join(file);
                    redactor_core::files::read_capped_to_string(
                        &path,
                        redactor_core::files::MAX_SECRET_FILE_BYTES,
                    )
                    .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
                }
                _ => Err("a secret names exactly one of `env` or `file`".into()),
            }
        }
        PropertyValue::Literal(_) => Err("must be a string, number or boolean".into()),
    }
}

/// Why `t` cannot name a Kafka topic, if it cannot: the broker accepts 1 to
/// 249 ASCII letters, digits, `.`, `_` and `-`, except `.` and `..`. A name
/// it would refuse fails every produce or subscription at run time, so it
/// is refused here, where `--check` sees it.
pub fn bad_topic_name(t: &str) -> Option<String> {
    if t.is_empty() {
        return Some("a topic name is empty".into());
    }
    if t.len() > 249 {
        return Some(format!(
            "topic name {t:?} is {} bytes long; Kafka allows at most 249",
            t.len()
        ));
    }
    if t == "." || t == ".." {
        return Some(format!("topic name {t:?} is not allowed by Kafka"));
    }
    t.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .map(|c| {
            format!(
                "topic name {t:?} holds {c:?}; Kafka allows only ASCII letters, digits, '.', '_' and '-'"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[kafka]\nbrokers = \"b:9092\"\n[topics]\ninput = [\"raw\"]\noutput = \"out\"\ndead_letter = \"dlq\"\n";

    fn parse(text: &str) -> Result<StageConfig, ConfigError> {
        StageConfig::parse(text, "stage.toml", Path::new("/etc/redactor"))
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.group, "redactor");
        assert_eq!(c.delivery, Delivery::AtLeastOnce);
        assert_eq!(c.partitioning, Partitioning::Key);
        assert_eq!(c.outputs.for_input("raw"), Some("out"));
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
        assert_eq!(c.transactional_id, "redactor-redactor");
        assert!(c.policy.is_none());
    }

    #[test]
    fn policy_path_is_relative_to_the_file() {
        let c = parse(&format!("policy = \"p.toml\"\n{BASE}")).unwrap();
        assert_eq!(c.policy.unwrap(), Path::new("/etc/redactor/p.toml"));
    }

    #[test]
    fn secrets_come_from_env_and_never_show_in_debug() {
        std::env::set_var("REDACTOR_TEST_KAFKA_SECRET", "hunter2-secret");
        let c = parse(&format!(
            "{BASE}[kafka.properties]\n\"sasl.password\" = {{ env = \"REDACTOR_TEST_KAFKA_SECRET\" }}\n\"linger.ms\" = 7\n"
        ))
        .unwrap();
        assert!(c
            .properties
            .contains(&("sasl.password".to_string(), "hunter2-secret".to_string())));
        assert!(c
            .properties
            .contains(&("linger.ms".to_string(), "7".to_string())));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn secret_files_are_read_up_to_their_cap() {
        let dir = std::env::temp_dir();
        let name = format!("redactor-kafka-secret-{}", std::process::id());
        let path = dir.join(&name);
        let with_file = |file: &str| {
            StageConfig::parse(
                &format!("{BASE}[kafka.properties]\n\"sasl.password\" = {{ file = \"{file}\" }}\n"),
                "stage.toml",
                &dir,
            )
        };
        // Trailing newlines (CR or LF) are not part of the secret.
        std::fs::write(&path, "hunter2-secret\r\n").unwrap();
        let c = with_file(&name).unwrap();
        assert!(c
            .properties
            .contains(&("sasl.password".to_string(), "hunter2-secret".to_string())));
        // A file larger than a secret can be (a device named by mistake)
        // is refused at the cap, and the error shows none of it.
        std::fs::write(&path, vec![b'x'; 64 * 1024 + 1]).unwrap();
        let e = with_file(&name).unwrap_err().to_string();
        assert!(
            e.contains("larger than 65536 bytes") && !e.contains("xx"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let text = "[kafka]\nbrokers = \"\"\n[kafka.properties]\n\"group.id\" = \"x\"\n\"sasl.password\" = { env = \"REDACTOR_TEST_UNSET_VAR\" }\n\
                    [topics]\ninput = [\"raw\"]\noutput = \"raw\"\ndead_letter = \"raw\"\n\
                    [stage]\nbatch_records = 0\ntransactional_id = \"t\"\nworkers = 1025\n\
                    [[record.header]]\nname = \"A\"\naction = \"drop\"\n[[record.header]]\nname = \"a\"\naction = \"keep\"\n\
                    [metrics]\nlisten = \"nowhere\"\n";
        let e = parse(text).unwrap_err().0;
        for needle in [
            "kafka.brokers: is empty",
            "\"group.id\"",
            "REDACTOR_TEST_UNSET_VAR is not set",
            "also an input topic",
            "topics.dead_letter",
            "stage.batch_records",
            "stage.workers: must be at most 1024",
            "stage.transactional_id",
            "listed twice",
            "metrics.listen",
        ] {
            assert!(e.contains(needle), "{needle:?} missing from:\n{e}");
        }
        // Each names the line of its field's section.
        for (field, line) in [
            ("kafka.brokers", 1),
            ("kafka.properties", 1),
            ("topics.dead_letter", 6),
            ("stage.workers", 10),
            ("record.header[1].name", 14),
            ("metrics.listen", 20),
        ] {
            assert!(
                e.contains(&format!("stage.toml:{line}: {field}")),
                "{field} at line {line}:\n{e}"
            );
        }
    }

    #[test]
    fn topic_names_the_broker_would_refuse_are_problems() {
        let long = "t".repeat(250);
        let text = format!(
            "[kafka]\nbrokers = \"b:9092\"\n[topics]\ninput = [\"raw events\", \"\", \"ok.raw_1-x\"]\n\
             dead_letter = \"..\"\n[topics.output_map]\n\"raw events\" = \"a/b\"\n\"\" = \"{long}\"\n\
             \"ok.raw_1-x\" = \"ok.out\"\n"
        );
        let e = parse(&text).unwrap_err().0;
        let lines: Vec<&str> = e.lines().collect();
        for needle in [
            "stage.toml:3: topics.input: topic name \"raw events\" holds ' '",
            "stage.toml:3: topics.input: a topic name is empty",
            "stage.toml:3: topics.output_map: topic name \"raw events\" holds ' '",
            "stage.toml:3: topics.output_map: topic name \"a/b\" holds '/'",
            "stage.toml:3: topics.output_map: a topic name is empty",
            "is 250 bytes long; Kafka allows at most 249",
            "stage.toml:3: topics.dead_letter: topic name \"..\" is not allowed",
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(needle) || l.contains(needle)),
                "{needle:?} missing from:\n{e}"
            );
        }
        // Nothing about the legal name, and no second problem for the
        // empty one.
        assert!(!e.contains("ok.raw_1-x") && !e.contains("ok.out"), "{e}");
        assert!(!e.contains("also an input topic"), "{e}");
        assert_eq!(lines.len(), 7, "{e}");
        // A name of exactly 249 legal characters is fine.
        let ok = BASE.replace("\"out\"", &format!("\"{}\"", "o".repeat(249)));
        assert!(parse(&ok).is_ok());
        assert!(parse(&BASE.replace("\"out\"", "\".\"")).is_err());
        assert!(parse(&BASE.replace("\"out\"", "\"\"")).is_err());
    }

    #[test]
    fn unknown_fields_name_their_section_and_its_line() {
        let e = parse(&format!("{BASE}[stage]\nbatchsize = 3\n"))
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("stage.toml:7: stage: unknown field `batchsize` (its fields: delivery,"),
            "{e}"
        );
        let e = parse(&format!("polcy = \"p.toml\"\n{BASE}")).unwrap_err().0;
        assert_eq!(
            e,
            "stage.toml: unknown field `polcy` (the file's top level: policy, kafka, topics, stage, record, metrics)"
        );
    }

    #[test]
    fn every_missing_unknown_or_mistyped_field_is_reported_at_once() {
        let text = "[kafka]\nbroker = \"b\"\n[topics]\ninput = \"raw\"\noutput = \"out\"\n\
                    [stage]\ndelivery = \"sometimes\"\nworkers = \"2\"\nlinger_ms = -1\n\
                    [record]\nkey = \"hash\"\n[[record.header]]\nname = \"x\"\n\
                    [[record.header]]\nname = 1\naction = \"drop\"\n\
                    [metrics]\nlog_format = \"xml\"\n[topics.output_map]\na = 1\n";
        let e = parse(text).unwrap_err();
        let want = [
            "stage.toml:1: kafka: missing field `brokers`",
            "stage.toml:1: kafka: unknown field `broker` (its fields: brokers, group, properties, consumer, producer)",
            "stage.toml:3: topics: missing field `dead_letter`",
            "stage.toml:3: topics: `input` must be a list of strings (got a string)",
            "stage.toml:3: topics: `output_map` must be a table of strings (got a table holding an integer)",
            "stage.toml:6: stage: `delivery` must be one of \"at-least-once\", \"exactly-once\" (got \"sometimes\")",
            "stage.toml:6: stage: `linger_ms` must be an integer of at least 0 (got a negative integer)",
            "stage.toml:6: stage: `workers` must be an integer of at least 0 (got a string)",
            "stage.toml:10: record: `key` must be one of \"keep\", \"tokenize\", \"drop\" (got \"hash\")",
            "stage.toml:10: record.header[0]: missing field `action`",
            "stage.toml:10: record.header[1]: `name` must be a string (got an integer)",
            "stage.toml:17: metrics: `log_format` must be one of \"text\", \"json\" (got \"xml\")",
        ];
        assert_eq!(e.0.lines().collect::<Vec<_>>(), want);
        let shown = e.to_string();
        assert!(
            shown.starts_with("invalid stage configuration (12 problems):\n  stage.toml:1: kafka:"),
            "{shown}"
        );
        // One problem is shown as it is.
        let one = parse(&format!("{BASE}[stage]\nworkers = -2\n")).unwrap_err();
        assert_eq!(
            one.to_string(),
            "stage.toml:7: stage: `workers` must be an integer of at least 0 (got a negative integer)"
        );
    }

    /// The lists the fields are checked against name just what serde reads:
    /// a file setting every listed field, each with a value of its type,
    /// deserialises.
    #[test]
    fn the_field_lists_match_the_file_structs() {
        use redactor_core::toml_fields::FieldType;
        fn value(ty: FieldType) -> String {
            match ty {
                FieldType::Text | FieldType::Any => "\"x\"".into(),
                FieldType::Integer | FieldType::Count => "1".into(),
                FieldType::Boolean => "true".into(),
                FieldType::Texts => "[\"x\"]".into(),
                FieldType::OneOf(names) => format!("{:?}", names[0]),
                FieldType::TextTable => "{ a = \"b\" }".into(),
                FieldType::Table => "{}".into(),
                FieldType::Tables => "[{ name = \"x\", action = \"keep\" }]".into(),
            }
        }
        let mut text = String::from("policy = \"p.toml\"\n");
        for (section, _, section_fields) in fields::SECTIONS {
            text.push_str(&format!("[{section}]\n"));
            for (name, ty) in section_fields {
                text.push_str(&format!("{name} = {}\n", value(*ty)));
            }
        }
        let file: Result<File, _> =
            toml::Value::Table(read_fields(&text, "f").unwrap().0).try_into();
        assert!(file.is_ok(), "{text}\n{:?}", file.err());
    }

    #[test]
    fn output_map_must_cover_inputs() {
        let text = "[kafka]\nbrokers = \"b\"\n[topics]\ninput = [\"a\", \"b\"]\ndead_letter = \"d\"\n[topics.output_map]\na = \"a.out\"\n";
        let e = parse(text).unwrap_err().0;
        assert!(e.contains("no output topic for input topic \"b\""), "{e}");
        let ok = parse(&format!("{text}b = \"b.out\"\n")).unwrap();
        assert_eq!(ok.outputs.for_input("b"), Some("b.out"));
        assert_eq!(ok.outputs.for_input("c"), None);
    }

    #[test]
    fn patterns_are_checked() {
        let text = "[kafka]\nbrokers = \"b\"\n[topics]\ninput_pattern = \"^raw\\\\..*\"\noutput = \"raw.out\"\ndead_letter = \"d\"\n";
        let e = parse(text).unwrap_err().0;
        assert!(e.contains("also an input topic"), "{e}");
        let bad = "[kafka]\nbrokers = \"b\"\n[topics]\ninput_pattern = \"(\"\noutput = \"o\"\ndead_letter = \"d\"\n";
        assert!(parse(bad)
            .unwrap_err()
            .0
            .contains("not a regular expression"));
    }
}
