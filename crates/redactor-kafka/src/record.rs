//! One Kafka record through the policy: payload, key and headers.

use std::collections::HashMap;
use std::sync::Arc;

use redactor_core::actions::{Normalize, Shape, Tokenize};
use redactor_core::{Redactor, Stats};

use crate::config::{FieldAction, StageConfig};

/// A consumed record, owned (the consumer's buffer is released at once).
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Source topic.
    pub topic: Arc<str>,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Timestamp in milliseconds since the epoch, when the record has one.
    pub timestamp: Option<i64>,
}

impl Incoming {
    /// Bytes this record holds (for in-flight accounting).
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
    }
}

/// Why a record went to the dead-letter topic (a stable code, in the
/// `redactor.reason` header and the metrics).
pub const DEAD_LETTER_REASONS: [&str; 7] = [
    "invalid_utf8",
    "invalid_json",
    "too_deep",
    "too_large",
    "key_not_utf8",
    "header_not_utf8",
    "no_output_topic",
];

/// What becomes of a record.
#[derive(Debug, Clone)]
pub enum Fate {
    /// Forward the redacted record.
    Output {
        /// Output topic.
        topic: Arc<str>,
        /// Output key.
        key: Option<Vec<u8>>,
        /// Redacted payload; `None` for a tombstone.
        payload: Option<Vec<u8>>,
        /// Output headers.
        headers: Vec<(String, Option<Vec<u8>>)>,
    },
    /// Send the original record to the dead-letter topic.
    DeadLetter {
        /// Index into [`DEAD_LETTER_REASONS`].
        reason: usize,
        /// Positions and limits only, never content.
        detail: String,
    },
}

/// A record and its fate.
#[derive(Debug)]
pub struct Processed {
    /// The input record.
    pub input: Incoming,
    /// What to produce.
    pub fate: Fate,
}

/// Applies the policy and the record rules (key, headers) to records.
pub struct RecordRules {
    engine: Arc<dyn Redactor>,
    key: FieldAction,
    headers_default: FieldAction,
    headers: HashMap<String, FieldAction>,
    token: Option<Tokenize>,
    outputs: crate::config::Outputs,
    topics: std::sync::Mutex<HashMap<String, Arc<str>>>,
    redact_payload: bool,
}

impl std::fmt::Debug for RecordRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordRules")
            .field("key", &self.key)
            .field("headers_default", &self.headers_default)
            .field("headers", &self.headers)
            .field("redact_payload", &self.redact_payload)
            .finish_non_exhaustive()
    }
}

impl RecordRules {
    /// Rules for `config` over `engine`'s policy. `redact_payload = false` is
    /// the pass-through baseline of the benchmarks (records forwarded as is).
    ///
    /// # Errors
    ///
    /// When a key or header is to be tokenized and the policy has no key.
    pub fn new(
        config: &StageConfig,
        engine: Arc<dyn Redactor>,
        redact_payload: bool,
    ) -> Result<RecordRules, String> {
        let headers: HashMap<String, FieldAction> = config
            .header_rules
            .iter()
            .map(|r| (r.name.to_ascii_lowercase(), r.action))
            .collect();
        let wants_token = config.key == FieldAction::Tokenize
            || headers.values().any(|a| *a == FieldAction::Tokenize);
        let token =
            match (&engine.policy().current_key, wants_token) {
                (Some(key), _) => Some(Tokenize {
                    key: key.clone(),
                    normalize: Normalize::None,
                    shape: Shape::Opaque,
                    bytes: 16,
                    keep_prefixes: Vec::new(),
                }),
                (None, true) => return Err(
                    "record.key or a record.header tokenizes, but the policy has no current key"
                        .to_string(),
                ),
                (None, false) => None,
            };
        Ok(RecordRules {
            engine,
            key: config.key,
            headers_default: config.headers_default,
            headers,
            token,
            outputs: config.outputs.clone(),
            topics: std::sync::Mutex::new(HashMap::new()),
            redact_payload,
        })
    }

    /// The engine's policy.
    pub fn engine(&self) -> &Arc<dyn Redactor> {
        &self.engine
    }

    fn output_topic(&self, input: &str) -> Option<Arc<str>> {
        let name = self.outputs.for_input(input)?;
        let mut cache = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            cache
                .entry(name.to_string())
                .or_insert_with(|| Arc::from(name))
                .clone(),
        )
    }

    fn field(&self, action: FieldAction, value: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, ()> {
        match (action, value) {
            (_, None) => Ok(None),
            (FieldAction::Keep, v) => Ok(v),
            (FieldAction::Drop, _) => Ok(None),
            (FieldAction::Tokenize, Some(v)) => {
                let text = std::str::from_utf8(&v).map_err(|_| ())?;
                let token = self.token.as_ref().ok_or(())?;
                Ok(Some(token.token(text).into_bytes()))
            }
        }
    }

    /// Decides the fate of `input`; `out` is a scratch buffer.
    pub fn process(&self, input: Incoming, out: &mut Vec<u8>, stats: &mut Stats) -> Processed {
        let fate = self.fate(&input, out, stats);
        Processed { input, fate }
    }

    fn fate(&self, input: &Incoming, out: &mut Vec<u8>, stats: &mut Stats) -> Fate {
        let dead = |reason: &str, detail: String| Fate::DeadLetter {
            reason: DEAD_LETTER_REASONS
                .iter()
                .position(|r| *r == reason)
                .unwrap_or(0),
            detail,
        };
        let Some(topic) = self.output_topic(&input.topic) else {
            return dead(
                "no_output_topic",
                "the input topic has no entry in topics.output_map".into(),
            );
        };
        let payload = match &input.payload {
            None => None,
            Some(p) if !self.redact_payload => Some(p.clone()),
            Some(p) => {
                let redacted = self.engine.redact(p, out, stats).map(|()| out.clone());
                if out.capacity() > redactor_core::LONG_LINE {
                    // Not kept at the size of a long record.
                    *out = Vec::new();
                }
                match redacted {
                    Ok(v) => Some(v),
                    Err(r) => return dead(r.code(), r.to_string()),
                }
            }
        };
        let Ok(key) = self.field(self.key, input.key.clone()) else {
            return dead(
                "key_not_utf8",
                "record.key is tokenized and the key is not UTF-8".into(),
            );
        };
        let mut headers = Vec::with_capacity(input.headers.len());
        for (name, value) in &input.headers {
            let action = self
                .headers
                .get(&name.to_ascii_lowercase())
                .copied()
                .unwrap_or(self.headers_default);
            if action == FieldAction::Drop {
                continue;
            }
            match self.field(action, value.clone()) {
                Ok(v) => headers.push((name.clone(), v)),
                Err(()) => {
                    return dead(
                        "header_not_utf8",
                        format!("header rule tokenizes {name:?} and its value is not UTF-8"),
                    )
                }
            }
        }
        Fate::Output {
            topic,
            key,
            payload,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HeaderRule, StageConfig};

    fn rules(key: FieldAction, headers: Vec<HeaderRule>, default: FieldAction) -> RecordRules {
        let mut c = StageConfig::simple("b", "g", "raw", "out", "dlq");
        c.key = key;
        c.header_rules = headers;
        c.headers_default = default;
        let policy = redactor_core::Policy::builtin().expect("built-in policy");
        let engine: Arc<dyn Redactor> = Arc::new(redactor_core::Fast::new(Arc::new(policy)));
        RecordRules::new(&c, engine, true).unwrap()
    }

    fn incoming(payload: &[u8]) -> Incoming {
        Incoming {
            topic: Arc::from("raw"),
            partition: 3,
            offset: 42,
            key: Some(b"user-42".to_vec()),
            payload: Some(payload.to_vec()),
            headers: vec![
                ("X-User-Id".into(), Some(b"user-42".to_vec())),
                ("traceparent".into(), Some(b"00-abc-01".to_vec())),
                ("cookie".into(), Some(b"sid=1".to_vec())),
            ],
            timestamp: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn payload_is_redacted_and_headers_follow_their_rules() {
        let r = rules(
            FieldAction::Tokenize,
            vec![
                HeaderRule {
                    name: "x-user-id".into(),
                    action: FieldAction::Tokenize,
                },
                HeaderRule {
                    name: "Cookie".into(),
                    action: FieldAction::Drop,
                },
            ],
            FieldAction::Keep,
        );
        let mut out = Vec::new();
        let mut stats = Stats::default();
        let p = r.process(
            incoming(br#"{"event":"e","properties":{"$email":"ann@example.com"}}"#),
            &mut out,
            &mut stats,
        );
        let Fate::Output {
            topic,
            key,
            payload,
            headers,
        } = p.fate
        else {
            panic!("expected output, got {:?}", p.fate);
        };
        assert_eq!(&*topic, "out");
        let payload = String::from_utf8(payload.unwrap()).unwrap();
        assert!(!payload.contains("ann@example.com"), "{payload}");
        let key = key.unwrap();
        assert!(key.starts_with(b"tok_"));
        // The same identity gets the same token in the key and the header.
        assert_eq!(headers[0], ("X-User-Id".to_string(), Some(key.clone())));
        assert_eq!(headers[1].0, "traceparent");
        assert_eq!(headers.len(), 2, "cookie is dropped");
        assert_eq!(stats.lines_ok, 1);
    }

    #[test]
    fn the_scratch_buffer_is_not_kept_at_a_long_records_size() {
        let r = rules(FieldAction::Keep, Vec::new(), FieldAction::Keep);
        let (mut out, mut stats) = (Vec::new(), Stats::default());
        let long = format!("[{}0]", "0,".repeat(redactor_core::LONG_LINE));
        for payload in [long.as_bytes(), &long.as_bytes()[1..]] {
            r.process(incoming(payload), &mut out, &mut stats);
            assert!(
                out.capacity() <= redactor_core::LONG_LINE,
                "{}",
                out.capacity()
            );
        }
        match r
            .process(incoming(long.as_bytes()), &mut out, &mut stats)
            .fate
        {
            Fate::Output { payload, .. } => assert_eq!(payload.as_deref(), Some(long.as_bytes())),
            f => panic!("expected output, got {f:?}"),
        }
        assert_eq!(stats.lines_ok, 2);
        assert_eq!(stats.rejects.iter().sum::<u64>(), 1);
    }

    #[test]
    fn bad_payloads_and_untokenizable_keys_go_to_the_dead_letter_topic() {
        let r = rules(FieldAction::Tokenize, Vec::new(), FieldAction::Drop);
        let mut out = Vec::new();
        let mut stats = Stats::default();
        for (payload, reason) in [
            (&b"{\"a\":"[..], "invalid_json"),
            (&b"\xff"[..], "invalid_utf8"),
            (&b""[..], "invalid_json"),
        ] {
            let p = r.process(incoming(payload), &mut out, &mut stats);
            match p.fate {
                Fate::DeadLetter { reason: i, .. } => assert_eq!(DEAD_LETTER_REASONS[i], reason),
                f => panic!("{payload:?}: expected dead letter, got {f:?}"),
            }
        }
        let mut bad_key = incoming(b"{}");
        bad_key.key = Some(vec![0xff, 0xfe]);
        match r.process(bad_key, &mut out, &mut stats).fate {
            Fate::DeadLetter { reason, .. } => {
                assert_eq!(DEAD_LETTER_REASONS[reason], "key_not_utf8")
            }
            f => panic!("expected dead letter, got {f:?}"),
        }
        // Unlisted headers are dropped by default here; tombstones pass.
        let mut tomb = incoming(b"");
        tomb.payload = None;
        match r.process(tomb, &mut out, &mut stats).fate {
            Fate::Output {
                payload, headers, ..
            } => {
                assert!(payload.is_none());
                assert!(headers.is_empty());
            }
            f => panic!("expected a tombstone, got {f:?}"),
        }
    }
}
