//! Random policies against both engines. An input's first 64 bytes choose
//! a policy out of the policy language's parts (mode, presets, detectors,
//! nested JSON, depth limit; rules with selectors of every form, match
//! modes, literals kept, every action with its parameters); the rest is the
//! line. Compiling never panics, and for a policy that compiles the two
//! engines give the same verdict, valid JSON outputs that parse to the same
//! value, and the same counters.
#![no_main]

use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use redactor_core::{Fast, Policy, Reference};

mod compare;

/// The input's bytes, taken one choice at a time (0 once they run out).
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                usize::from(b) % n
            }
            None => 0,
        }
    }

    /// One of `items`.
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }
}

const STEPS: &[&str] = &[
    "**",
    "*",
    "a",
    "b",
    "id",
    "ip",
    "email",
    "$email",
    "user",
    "name",
    "value",
    "*_id",
    "e*l",
    "\"a.b\"",
    "properties",
    "context",
];
const BRACKETS: &[&str] = &["", "", "", "[*]", "[name=x]", "[key=*.id]", "[k=\"*\"]"];

/// A selector of one to three groups, never ending with `**`.
fn selector(c: &mut Choices<'_>) -> String {
    let groups = 1 + c.below(3);
    let mut parts = Vec::new();
    for g in 0..groups {
        let step = c.pick(STEPS);
        let bracket = c.pick(BRACKETS);
        parts.push(format!("{step}{bracket}"));
        if g + 1 == groups && step == "**" && bracket.is_empty() {
            parts.push("a".to_string());
        }
    }
    parts.join(".")
}

/// One rule's action and its parameters, as TOML lines.
fn action(c: &mut Choices<'_>) -> String {
    match c.below(6) {
        0 => "action = \"drop\"\n".to_string(),
        1 => format!(
            "action = \"replace\"\n{}",
            c.pick(&["value = \"X\"\n", "value = 7\n", "value = true\n", ""])
        ),
        2 => format!(
            "action = \"tokenize\"\n{}",
            c.pick(&[
                "",
                "bytes = 32\n",
                "shape = \"email\"\n",
                "normalize = \"email\"\n"
            ])
        ),
        3 => c
            .pick(&[
                "action = \"mask\"\n",
                "action = \"mask\"\nkeep_last = 4\n",
                "action = \"mask\"\nkeep_domain = true\n",
            ])
            .to_string(),
        4 => format!(
            "action = \"generalize\"\n{}",
            c.pick(&[
                "kind = \"ip\"\n",
                "kind = \"ip\"\non_invalid = \"null\"\nipv4_prefix = 16\n",
                "kind = \"url\"\nquery_allow = [\"utm_source\"]\n",
                "kind = \"user_agent\"\n",
                "kind = \"timestamp\"\nunit = \"day\"\n",
                "kind = \"timestamp\"\non_invalid = \"null\"\n",
            ])
        ),
        _ => "action = \"keep\"\n".to_string(),
    }
}

/// A policy's TOML source.
fn policy(c: &mut Choices<'_>) -> String {
    let mut src = String::new();
    if c.below(4) == 0 {
        src.push_str("mode = \"allowlist\"\n");
    }
    let presets = c.below(256);
    let names: Vec<String> = redactor_core::presets::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| presets >> i & 1 == 1)
        .map(|(_, n)| format!("\"{n}\""))
        .collect();
    src.push_str(&format!("presets = [{}]\n", names.join(", ")));
    if c.below(3) == 0 {
        src.push_str("detectors = \"off\"\n");
    }
    if c.below(4) == 0 {
        src.push_str("nested_json = false\n");
    }
    if c.below(4) == 0 {
        src.push_str(&format!("[limits]\nmax_depth = {}\n", 1 + c.below(8)));
    }
    for i in 0..c.below(5) {
        let selects: Vec<String> = (0..1 + c.below(2))
            .map(|_| {
                format!(
                    "\"{}\"",
                    selector(c).replace('\\', "\\\\").replace('"', "\\\"")
                )
            })
            .collect();
        src.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nselect = [{}]\n",
            selects.join(", ")
        ));
        src.push_str(c.pick(&["", "", "match = \"ignore-case\"\n", "match = \"loose\"\n"]));
        if c.below(3) == 0 {
            src.push_str("keep_literals = true\n");
        }
        src.push_str(&action(c));
    }
    src
}

/// Both engines on the policy compiled from `src`, or `None` when it does
/// not compile. Compiled policies are kept (the last 64), since the
/// fuzzer's mutations of the line leave the policy as it was.
fn engines(src: &str) -> Option<(Fast, Reference)> {
    static CACHE: Mutex<Vec<(String, Option<Arc<Policy>>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let p = match cache.iter().find(|(s, _)| s == src) {
        Some((_, p)) => p.clone(),
        None => {
            let p = Policy::from_toml(src, "fuzz").ok().map(Arc::new);
            if cache.len() == 64 {
                cache.remove(0);
            }
            cache.push((src.to_string(), p.clone()));
            p
        }
    };
    p.map(|p| (Fast::new(p.clone()), Reference::new(p)))
}

fuzz_target!(|data: &[u8]| {
    // The first 64 bytes choose the policy (not all are used); the rest
    // is the line.
    let (head, line) = data.split_at(data.len().min(64));
    let src = policy(&mut Choices(head));
    let Some((fast, reference)) = engines(&src) else {
        return;
    };
    compare::redactions(&src, &fast, &reference, line);
});
