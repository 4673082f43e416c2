//! End-to-end tests of the `redactor` binary.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

mod common;
use common::TempPath;

const BIN: &str = env!("CARGO_BIN_EXE_redactor");
const KEY: &str = "cli-test-key-0123456789abcdef";

fn tmp(name: &str) -> TempPath {
    let p = std::env::temp_dir().join(format!("redactor-cli-{}-{name}", std::process::id()));
    TempPath(p)
}

/// `redactor ARGS` with the test key and piped stdin, stdout and stderr,
/// for a test to set more on before it starts it.
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("REDACTOR_TOKEN_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts [`command`]`(args)`.
fn spawn(args: &[&str]) -> std::process::Child {
    command(args).spawn().unwrap()
}

fn redactor(args: &[&str], stdin: &[u8]) -> Output {
    fed(command(args), stdin)
}

/// Runs `cmd` (from [`command`]) with `stdin` as its input, to its end.
fn fed(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn gen(format: &str, n: u64, seed: u64) -> Vec<u8> {
    let out = redactor(
        &[
            "gen",
            "--format",
            format,
            "--count",
            &n.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        b"",
    );
    assert!(out.status.success());
    out.stdout
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a run ended with status `code` and that its stderr says
/// `says`.
fn assert_status_says(out: &Output, code: i32, says: impl AsRef<str>) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        err.contains(says.as_ref()),
        "{:?} missing from: {err}",
        says.as_ref()
    );
}

/// The records of a quarantine file, each parsed as JSON.
fn quarantine_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_policy(name: &str, body: &str) -> TempPath {
    let p = tmp(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// Every command that takes a policy takes it as `-p`/`--policy`, as `bench`
/// and `kafka` do; `-c`/`--config` is the same option for `filter`,
/// `explain` and `check`.
#[test]
fn the_policy_option_has_one_name_across_commands() {
    let policy = write_policy(
        "spellings.toml",
        "version = 1\ndetectors = \"off\"\n[[rules]]\nname = \"drop-city\"\nselect = [\"city\"]\naction = \"drop\"\n",
    );
    let p = policy.to_str().unwrap();
    let event = b"{\"city\":\"Lyon\",\"n\":1}\n";
    for (cmd, extra) in [
        ("filter", None),
        ("explain", None),
        ("check", Some("--print")),
    ] {
        let outputs: Vec<Vec<u8>> = ["-p", "--policy", "-c", "--config"]
            .iter()
            .map(|flag| {
                let mut args = vec![cmd, flag, p];
                args.extend(extra);
                let out = redactor(&args, event);
                assert!(out.status.success(), "{cmd} {flag}: {}", stderr(&out));
                out.stdout
            })
            .collect();
        assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{cmd}");
        let text = String::from_utf8_lossy(&outputs[0]);
        match cmd {
            "filter" => assert_eq!(text, "{\"n\":1}\n"),
            _ => assert!(text.contains("drop-city"), "{cmd}: {text}"),
        }
    }
}

#[test]
fn default_policy_redacts_generated_telemetry() {
    let input = gen("mixed", 2000, 7);
    let out = redactor(&["filter", "--threads", "2"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 2000);
    let ip = regex::Regex::new(r"(203\.0\.113|198\.51\.100|192\.0\.2)\.[1-9]").unwrap();
    // Generated IPv6 addresses are 2001:db8:X:Y::Z; /48 keeps 2001:db8:X only.
    let ip6 = regex::Regex::new(r"2001:db8:[0-9a-f]+:[0-9a-f]+").unwrap();
    for (i, line) in text.lines().enumerate() {
        assert!(
            !line.contains("@example.")
                && !line.contains("%40example.")
                && !line.contains("%2540example."),
            "line {}: {line}",
            i + 1
        );
        assert!(!ip.is_match(line), "line {}: {line}", i + 1);
        assert!(!ip6.is_match(line), "line {}: {line}", i + 1);
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    // A configured key: no warning, and tokens are stable across runs.
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let again = redactor(&["filter", "--threads", "1"], &input);
    assert_eq!(text.as_bytes(), &again.stdout[..]);
}

#[test]
fn ephemeral_key_warns_once_and_tokens_change() {
    let line = b"{\"userId\":\"u_1\"}\n{\"userId\":\"u_1\"}\n";
    let run = || {
        let mut cmd = command(&["filter"]);
        cmd.env_remove("REDACTOR_TOKEN_KEY");
        fed(cmd, line)
    };
    let (a, b) = (run(), run());
    assert!(a.status.success());
    assert_eq!(stderr(&a).matches("warning").count(), 1, "{}", stderr(&a));
    let la: Vec<&str> = std::str::from_utf8(&a.stdout).unwrap().lines().collect();
    assert_eq!(la[0], la[1], "same value, same token within a run");
    assert_ne!(a.stdout, b.stdout, "ephemeral keys differ between runs");
}

/// `REDACTOR_TOKEN_KEY` is the built-in policy's key. A policy file without
/// `[[keys]]` tokenizes with an ephemeral key even when it is set, and the
/// warning says so, with the line that would use it.
#[test]
fn a_policy_without_keys_says_that_the_default_key_is_not_its_own() {
    let policy = write_policy(
        "no-keys.toml",
        "version = 1\ndetectors = \"off\"\n[[rules]]\nname = \"ids\"\nselect = [\"userId\"]\naction = \"tokenize\"\n",
    );
    let line = b"{\"userId\":\"u_1\"}\n";
    let with_env = redactor(&["filter", "-p", policy.to_str().unwrap()], line);
    assert!(with_env.status.success());
    assert!(
        stderr(&with_env).contains(
            "REDACTOR_TOKEN_KEY is set but is the key of the built-in default policy only: add [[keys]] with env = \"REDACTOR_TOKEN_KEY\""
        ),
        "{}",
        stderr(&with_env)
    );
    let mut cmd = command(&["filter", "-p", policy.to_str().unwrap()]);
    cmd.env_remove("REDACTOR_TOKEN_KEY");
    let without = fed(cmd, line);
    assert!(without.status.success());
    let err = stderr(&without);
    assert!(err.contains("add [[keys]] to the policy"), "{err}");
    assert!(!err.contains("REDACTOR_TOKEN_KEY"), "{err}");
    // With the line the warning gives, the tokens are the default policy's
    // key's: stable, and no warning.
    let keyed = write_policy(
        "env-key.toml",
        "version = 1\ndetectors = \"off\"\n[[keys]]\nid = \"k1\"\nenv = \"REDACTOR_TOKEN_KEY\"\n[[rules]]\nname = \"ids\"\nselect = [\"userId\"]\naction = \"tokenize\"\n",
    );
    let a = redactor(&["filter", "-p", keyed.to_str().unwrap()], line);
    let b = redactor(&["filter", "-p", keyed.to_str().unwrap()], line);
    assert!(
        a.status.success() && !stderr(&a).contains("warning"),
        "{}",
        stderr(&a)
    );
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn output_keeps_input_order_with_many_threads() {
    let mut input = Vec::new();
    for i in 0..60_000 {
        writeln!(input, "{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 97)).unwrap();
    }
    let policy = write_policy("order.toml", "detectors = \"off\"\n");
    let out = redactor(
        &["filter", "-p", policy.to_str().unwrap(), "--threads", "4"],
        &input,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, input);
    // From a file, batches are whole reads of the reader's buffer: the
    // same lines in the same order.
    let file = tmp("order.ndjson");
    std::fs::write(&file, &input).unwrap();
    let out = redactor(
        &[
            "filter",
            "--policy",
            policy.to_str().unwrap(),
            "--threads",
            "3",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, input);
    // Lines so short that a batch is cut by its line count, not by a read.
    let tiny: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("[{}]\n", i % 10).into_bytes())
        .collect();
    std::fs::write(&file, &tiny).unwrap();
    let out = redactor(
        &[
            "filter",
            "-p",
            policy.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, tiny);
}

/// Runs `filter` on `input` without a quarantine: status 3, `kept` on
/// stdout, and each of `reasons` on stderr; returns stderr.
fn filter_rejecting(input: &[u8], kept: &[u8], reasons: &[&str]) -> String {
    let out = redactor(&["filter"], input);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, kept);
    let err = stderr(&out);
    for reason in reasons {
        assert!(err.contains(reason), "{reason} not in {err}");
    }
    err
}

#[test]
fn bad_lines_exit_3_without_quarantine_and_never_print_content() {
    let err = filter_rejecting(
        b"{\"a\":1}\n{\"secret\":\"hunter2\",}\n\xff\xfe\n[1]\n",
        b"{\"a\":1}\n[1]\n",
        &[
            "<stdin>:2: rejected: invalid JSON at byte 20",
            "<stdin>:3: rejected: invalid UTF-8 at byte 0",
        ],
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_byte_order_mark_is_named_in_the_reason() {
    // As a file saved by some Windows editors begins.
    filter_rejecting(
        b"\xEF\xBB\xBF{\"a\":1}\r\n{\"b\":2}\n",
        b"{\"b\":2}\n",
        &["<stdin>:1: rejected: invalid JSON at byte 0: byte order mark (U+FEFF)"],
    );
}

#[test]
fn json_over_several_lines_gets_a_hint() {
    let pretty = b"[\n  {\n    \"event\": \"a\"\n  },\n  {\"event\": \"b\"}\n]\n";
    const HINT: &str =
        "hint: <stdin>:1 ends inside a JSON text; redactor reads one JSON text per line";
    for engine in ["fast", "reference"] {
        let out = redactor(&["filter", "--engine", engine], pretty);
        assert_eq!(out.status.code(), Some(3));
        let err = stderr(&out);
        assert_eq!(err.matches(HINT).count(), 1, "{engine}: {err}");
        assert!(err.contains("jq -c '.[]'"), "{err}");
        // After line 1's reject, and every line is still named.
        let at = |s: &str| err.find(s).unwrap_or_else(|| panic!("{s} not in {err}"));
        assert!(at("<stdin>:1: rejected") < at(HINT), "{err}");
        assert!(err.contains("<stdin>:6: rejected"), "{err}");
    }
    // With a quarantine, where the rejects are not on stderr.
    let q = tmp("q-pretty.ndjson");
    let out = redactor(&["filter", "-q", q.to_str().unwrap()], pretty);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out).matches(HINT).count(), 1, "{}", stderr(&out));
    assert_eq!(quarantine_records(&q).len(), 5, "line 5 is a whole event");
    // explain: the hint on stderr, the rejects on stdout.
    let out = redactor(&["explain"], pretty);
    assert_eq!(stderr(&out).matches(HINT).count(), 1, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<stdin>:1: rejected"));
    // Not for a first line that is whole, nor for a later line cut short.
    let err = filter_rejecting(
        b"{\"a\":1}\n{\"b\":\n",
        b"{\"a\":1}\n",
        &["<stdin>:2: rejected"],
    );
    assert!(!err.contains("hint"), "{err}");
    let err = filter_rejecting(b"{\"a\":1,}\n", b"", &["<stdin>:1: rejected"]);
    assert!(!err.contains("hint"), "{err}");
}

#[test]
fn quarantine_keeps_every_rejected_line_and_exits_0() {
    let q = tmp("q.ndjson");
    let input: &[u8] = b"{\"a\":1}\r\n\r\n{\"a\":1,}\n   \n\xff\n[[[]]]\n{\"b\":2}";
    let out = redactor(
        &["filter", "--quarantine", q.to_str().unwrap(), "--stats"],
        input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"{\"a\":1}\n[[[]]]\n{\"b\":2}\n");
    let recs = quarantine_records(&q);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0]["line"].as_u64(), recs[0]["reason"].as_str()),
        (Some(3), Some("invalid_json"))
    );
    assert_eq!(
        (recs[1]["line"].as_u64(), recs[1]["reason"].as_str()),
        (Some(5), Some("invalid_utf8"))
    );
    assert_eq!(recs[0]["source"], "<stdin>");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(recs[0]["raw_base64"].as_str().unwrap()).unwrap(),
        b"{\"a\":1,}"
    );
    assert_eq!(
        b64.decode(recs[1]["raw_base64"].as_str().unwrap()).unwrap(),
        b"\xff"
    );
    // It holds the original lines: only its owner may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&q).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "quarantine mode {mode:o}");
    }
    let err = stderr(&out);
    assert!(
        err.contains("lines redacted")
            && err.contains("invalid_json")
            && err.contains("blank lines"),
        "{err}"
    );
}

#[test]
fn the_quarantine_keeps_the_records_of_earlier_runs() {
    let q = tmp("q-append.ndjson");
    let args = ["filter", "-q", q.to_str().unwrap()];
    let run = |input: &[u8]| {
        let out = redactor(&args, input);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    run(b"{\"a\":1}\nnot json\n");
    run(b"{\"a\":1,}\n");
    let lines = |recs: &[serde_json::Value]| -> Vec<u64> {
        recs.iter().map(|r| r["line"].as_u64().unwrap()).collect()
    };
    assert_eq!(lines(&quarantine_records(&q)), [2, 1]);
    // A record cut short by a run that was killed stays on a line of its
    // own; the next run's records start on the next line.
    let mut f = std::fs::OpenOptions::new().append(true).open(&q).unwrap();
    f.write_all(b"{\"source\":\"<stdin>\",\"li").unwrap();
    drop(f);
    run(b"[\n");
    let text = std::fs::read_to_string(&q).unwrap();
    let last: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(last[1], "{\"source\":\"<stdin>\",\"li");
    let rec: serde_json::Value = serde_json::from_str(last[0]).unwrap();
    assert_eq!(
        (rec["line"].as_u64(), rec["reason"].as_str()),
        (Some(1), Some("invalid_json"))
    );
    assert!(text.ends_with('\n'));
    // While a run appends to it, a second run is refused before it writes
    // anything; once the first has ended, the file is free again.
    let (mut first, mut stdin, rx) = piped(&args);
    stdin.write_all(b"{\"a\":1}\n").unwrap();
    assert_eq!(next_line(&mut first, &rx), "{\"a\":1}");
    let second = redactor(&args, b"not json\n");
    assert_status_says(
        &second,
        1,
        format!(
            "cannot open quarantine {}: another run is writing it",
            q.display()
        ),
    );
    // Refused, it leaves an existing output as it was; so does a
    // quarantine that is the output itself.
    let output = tmp("q-append-output.ndjson");
    std::fs::write(&output, "earlier output\n").unwrap();
    let (o, qs) = (output.to_str().unwrap(), q.to_str().unwrap());
    for args in [["filter", "-o", o, "-q", qs], ["filter", "-o", o, "-q", o]] {
        let refused = redactor(&args, b"{}\n");
        assert_ne!(refused.status.code(), Some(0), "{args:?}");
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "earlier output\n",
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    drop(stdin);
    assert!(wait_ended(first).status.success());
    let records = || std::fs::read_to_string(&q).unwrap().lines().count();
    let before = records();
    run(b"not json\n");
    assert_eq!(records(), before + 1);
}

#[test]
fn append_keeps_the_output_of_earlier_runs() {
    let o = tmp("append-output.ndjson");
    let args = ["filter", "-o", o.to_str().unwrap(), "--append"];
    let run = |args: &[&str], input: &[u8]| {
        let out = redactor(args, input);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    run(&args, b"{\"userId\":\"u_app_1\"}\n");
    run(&args, b"{\"a\":2}\n");
    let text = std::fs::read_to_string(&o).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("{\"userId\":\"tok_") && text.ends_with("\n{\"a\":2}\n"));
    // A line a killed run cut short stays on a line of its own.
    let mut f = std::fs::OpenOptions::new().append(true).open(&o).unwrap();
    f.write_all(b"{\"cut\":").unwrap();
    drop(f);
    run(&["filter", "-o", o.to_str().unwrap(), "-a"], b"{\"a\":3}\n");
    let text = std::fs::read_to_string(&o).unwrap();
    assert!(
        text.ends_with("\n{\"a\":2}\n{\"cut\":\n{\"a\":3}\n"),
        "{text}"
    );
    // While a run appends, a second one is refused before it writes.
    let (mut first, mut stdin, _) = piped(&args);
    stdin.write_all(b"{\"a\":4}\n").unwrap();
    stdin.flush().unwrap();
    wait_for_tail(&o, &mut first, "{\"a\":3}\n{\"a\":4}\n");
    let second = redactor(&args, b"{\"a\":5}\n");
    assert_status_says(
        &second,
        1,
        format!(
            "cannot open output {}: another run is writing it",
            o.display()
        ),
    );
    drop(stdin);
    assert!(wait_ended(first).status.success());
    let text = std::fs::read_to_string(&o).unwrap();
    assert!(text.ends_with("{\"a\":3}\n{\"a\":4}\n"), "{text}");
    assert!(!text.contains("{\"a\":5}"), "{text}");
    // Without --append the output is replaced; --append needs one.
    run(&["filter", "-o", o.to_str().unwrap()], b"{\"a\":6}\n");
    assert_eq!(std::fs::read_to_string(&o).unwrap(), "{\"a\":6}\n");
    let out = redactor(&["filter", "--append"], b"{}\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
}

/// Waits (up to 30 s) until the file `path`, which the running `child`
/// writes, ends with `tail`.
fn wait_for_tail(path: &Path, child: &mut std::process::Child, tail: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(path).is_ok_and(|t| t.ends_with(tail)) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        assert!(
            std::time::Instant::now() < deadline,
            "{tail} not written in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_dash_names_stdin_or_stdout() {
    // Run in an empty directory, where a file named `-` would show.
    let dir = tmp("dash-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str], stdin: &[u8]| -> Output {
        let mut cmd = command(args);
        cmd.current_dir(&dir);
        fed(cmd, stdin)
    };
    std::fs::write(dir.join("a.ndjson"), "{\"n\":1}\n").unwrap();
    // Inputs in turn, stdin among them; `-o -` is stdout.
    let out = run(
        &["filter", "a.ndjson", "-", "a.ndjson", "-o", "-"],
        b"{\"n\":2}\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"{\"n\":1}\n{\"n\":2}\n{\"n\":1}\n");
    let out = run(&["filter", "-", "a.ndjson"], b"not json\n");
    assert_status_says(&out, 3, "<stdin>:1: rejected");
    let out = run(&["explain", "-"], b"{\"email\":\"x@example.com\"}\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<stdin>:1: 1 rewrite"));
    let out = run(&["gen", "-n", "3", "-o", "-"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 3);
    let out = run(
        &["bench", "-i", "-", "--rounds", "1", "-j", "1"],
        &gen("segment", 30, 2),
    );
    assert_status_says(&out, 0, "corpus <stdin>: 30 events");
    // The quarantine must be a file.
    let out = run(&["filter", "-q", "-", "a.ndjson"], b"");
    assert_status_says(&out, 2, "--quarantine -: ");
    assert!(!dir.join("-").exists());
    // `./-` is a file of that name.
    std::fs::write(dir.join("-"), "{\"n\":3}\n").unwrap();
    let out = run(&["filter", "./-"], b"{\"n\":4}\n");
    assert_eq!(out.stdout, b"{\"n\":3}\n");
}

#[test]
fn a_simd_backend_that_is_not_used_is_warned_about() {
    let unavailable = if cfg!(target_arch = "x86_64") {
        "neon"
    } else {
        "avx2"
    };
    for (value, warning) in [
        ("avx-2", Some("REDACTOR_SIMD=\"avx-2\" names no backend")),
        (unavailable, Some("this CPU cannot run that backend")),
        ("scalar", None),
        ("auto", None),
    ] {
        let mut cmd = command(&["filter"]);
        cmd.env("REDACTOR_SIMD", value);
        let out = fed(cmd, b"[1]\n");
        assert_eq!(out.status.code(), Some(0), "{value}: {}", stderr(&out));
        assert_eq!(out.stdout, b"[1]\n");
        match warning {
            Some(w) => assert!(stderr(&out).contains(w), "{value}: {}", stderr(&out)),
            None => assert!(!stderr(&out).contains("REDACTOR_SIMD"), "{}", stderr(&out)),
        }
    }
}

/// On a terminal, a run over files shows a progress bar and ends with one
/// line saying what it did; without a terminal, or with `--stats`, that
/// line is not printed. `script` (util-linux) gives the run a terminal.
#[cfg(unix)]
#[test]
fn a_run_on_a_terminal_ends_with_a_summary() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: no util-linux `script` to give the run a terminal");
        return;
    }
    let input = tmp("summary-input.ndjson");
    let mut text = gen("mixed", 300, 5);
    text.extend_from_slice(b"not json\n");
    std::fs::write(&input, text).unwrap();
    let output = tmp("summary-output.ndjson");
    let on_tty = |extra: &str| -> String {
        let cmd = format!(
            "{BIN} filter {} -o {} {extra}",
            input.display(),
            output.display()
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("REDACTOR_TOKEN_KEY", KEY)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{cmd}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tty = on_tty("");
    assert!(
        tty.contains("redactor: 300 lines redacted, 1 rejected, "),
        "{tty}"
    );
    assert!(tty.contains(":301: rejected: invalid JSON"), "{tty}");
    // `gen` into a file ends with a summary too, and writes the same bytes.
    let cmd = format!("{BIN} gen -n 2500 -s 5 -o {}", output.display());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("redactor: 2500 lines, "), "{tty}");
    assert_eq!(std::fs::read(&output).unwrap(), gen("mixed", 2500, 5));
    // Stdin on a terminal gets a hint instead of a silent wait.
    let mut child = Command::new("script")
        .args(["-qec", &format!("{BIN} filter"), "/dev/null"])
        .env("REDACTOR_TOKEN_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"[1]\n").unwrap();
    let out = wait_ended(child);
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("reading NDJSON from the terminal; Ctrl-D ends the input"),
        "{tty}"
    );
    let tty = on_tty("--stats");
    assert!(
        tty.contains("lines redacted") && !tty.contains("300 lines redacted, "),
        "{tty}"
    );
    let out = redactor(
        &[
            "filter",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!stderr(&out).contains("lines redacted"), "{}", stderr(&out));
}

#[test]
fn too_long_lines_are_streamed_to_quarantine() {
    let policy = write_policy(
        "small.toml",
        "detectors = \"off\"\n[limits]\nmax_line_bytes = 1024\n",
    );
    let q = tmp("q-long.ndjson");
    let long = format!("[\"{}\"]", "y".repeat(600_000));
    let input = format!("[1]\n{long}\r\n[2]\n{long}");
    let out = redactor(
        &[
            "filter",
            "--policy",
            policy.to_str().unwrap(),
            "-q",
            q.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"[1]\n[2]\n");
    let recs = quarantine_records(&q);
    assert_eq!(recs.len(), 2);
    for (r, line) in recs.iter().zip([2, 4]) {
        assert_eq!(r["line"].as_u64(), Some(line));
        assert_eq!(r["reason"], "too_large");
        assert_eq!(r["bytes"].as_u64(), Some(long.len() as u64));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(r["raw_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(raw, long.as_bytes());
    }
}

#[test]
fn stats_count_the_bytes_of_rejected_lines_too() {
    let policy = write_policy(
        "small-stats.toml",
        "detectors = \"off\"\n[limits]\nmax_line_bytes = 1024\n",
    );
    let long = format!("[\"{}\"]", "y".repeat(300_000));
    let mut input = format!("[1]\r\n{long}\nnope\n\n").into_bytes();
    input.extend_from_slice(b"\"\xff\"\n[22]");
    let lines = 3 + long.len() + 4 + 3 + 4;
    for engine in ["fast", "reference"] {
        let q = tmp(&format!("q-stats-{engine}.ndjson"));
        let out = redactor(
            &[
                "filter",
                "--stats",
                "--engine",
                engine,
                "--policy",
                policy.to_str().unwrap(),
                "-q",
                q.to_str().unwrap(),
            ],
            &input,
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(out.stdout, b"[1]\n[22]\n");
        assert_eq!(quarantine_records(&q).len(), 3);
        let count = |name: &str| -> usize {
            let line = err
                .lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {err}"));
            line[line.find(name).unwrap() + name.len()..]
                .trim()
                .parse()
                .unwrap()
        };
        assert_eq!(count("lines redacted"), 2, "{err}");
        assert_eq!(count("lines rejected"), 3, "{err}");
        assert_eq!(count("blank lines"), 1, "{err}");
        assert_eq!(count("bytes in"), lines, "{engine}: {err}");
        assert_eq!(count("bytes out"), 3 + 4, "{err}");
    }
}

#[test]
fn files_in_file_out_and_crlf() {
    let a = tmp("a.ndjson");
    let b = tmp("b.ndjson");
    std::fs::write(&a, b"{\"email\":\"x@example.com\"}\r\n").unwrap();
    std::fs::write(&b, b"{\"context\":{\"ip\":\"203.0.113.9\"}}").unwrap();
    let o = tmp("out.ndjson");
    let out = redactor(
        &[
            "filter",
            "-o",
            o.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&o).unwrap(),
        "{}\n{\"context\":{\"ip\":\"203.0.113.0\"}}\n"
    );
    // A missing input or a directory anywhere in the list ends the run
    // before any output (before, the inputs ahead of it were written).
    let fresh = tmp("never-created.ndjson");
    let dir = std::env::temp_dir();
    for (bad, says) in [
        (
            Path::new("/nonexistent/input.ndjson"),
            "cannot open input /nonexistent/input.ndjson: ",
        ),
        (
            dir.as_path(),
            &*format!("cannot read input {}: it is a directory", dir.display()),
        ),
    ] {
        let args = [
            a.to_str().unwrap(),
            bad.to_str().unwrap(),
            b.to_str().unwrap(),
        ];
        for out in [
            &["filter", args[0], args[1], args[2]][..],
            &[
                "filter",
                "-o",
                fresh.to_str().unwrap(),
                args[0],
                args[1],
                args[2],
            ],
        ] {
            let run = redactor(out, b"");
            assert_eq!(run.status.code(), Some(1), "{out:?}");
            assert!(stderr(&run).contains(says), "{}", stderr(&run));
            assert!(run.stdout.is_empty(), "{out:?}");
            assert!(!fresh.exists(), "{out:?}");
        }
    }
}

/// `data` compressed as one gzip member.
fn gzipped(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_inputs_are_read_and_other_compressions_refused() {
    let text = gen("mixed", 300, 11);
    let (plain, gz) = (tmp("plain.ndjson"), tmp("rotated.ndjson.1.gz"));
    std::fs::write(&plain, &text).unwrap();
    // Two members, as `gzip -c a >> b` or a block-wise compressor writes,
    // cut inside a line: the lines join across them.
    let cut = text.len() / 2 + 7;
    let mut two = gzipped(&text[..cut]);
    two.extend(gzipped(&text[cut..]));
    std::fs::write(&gz, &two).unwrap();
    let expected = redactor(&["filter", plain.to_str().unwrap()], b"");
    assert!(expected.status.success(), "{}", stderr(&expected));
    assert_eq!(expected.stdout.iter().filter(|&&b| b == b'\n').count(), 300);
    // Told by its bytes, not its name; beside a plain file in one run.
    let named_plain = tmp("no-suffix");
    std::fs::write(&named_plain, &two).unwrap();
    for input in [&gz, &named_plain] {
        let out = redactor(&["filter", input.to_str().unwrap()], b"");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, expected.stdout);
    }
    let out = redactor(
        &["filter", gz.to_str().unwrap(), plain.to_str().unwrap()],
        b"",
    );
    assert_eq!(
        out.stdout,
        [&expected.stdout[..], &expected.stdout].concat()
    );
    // explain reads it too.
    let out = redactor(&["explain", gz.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let explained = String::from_utf8_lossy(&out.stdout);
    assert!(
        explained.contains(&format!("{}:300: ", gz.display())),
        "{explained}"
    );

    // A gzip file cut short: the lines before the cut are written, and the
    // run ends with status 1 naming the input and the line after which the
    // cut came.
    let whole = gzipped(&text);
    std::fs::write(&gz, &whole[..whole.len() / 2]).unwrap();
    let out = redactor(&["filter", gz.to_str().unwrap()], b"");
    let says = format!("cannot read {} after line ", gz.display());
    assert_status_says(&out, 1, &says);
    let err = stderr(&out);
    let after: usize = err[err.find(&says).unwrap() + says.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > 0 && after < 300, "{err}");
    let written = out.stdout.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(written, after, "{err}");
    assert!(expected.stdout.starts_with(&out.stdout));

    // Other formats are refused before anything is written, with the
    // command that decompresses them.
    let fresh = tmp("never-created-z.ndjson");
    for (magic, format, command) in [
        (&b"\x28\xb5\x2f\xfd\x04\x00"[..], "zstd", "zstd -dc"),
        (b"\xfd7zXZ\x00\x00\x04", "xz", "xz -dc"),
        (b"BZh91AY&SY", "bzip2", "bzip2 -dc"),
        (b"\x04\x22\x4d\x18\x64\x40", "lz4", "lz4 -dc"),
    ] {
        let z = tmp(&format!("input.{format}"));
        std::fs::write(&z, magic).unwrap();
        let z = z.to_str().unwrap();
        let says = format!(
            "cannot read input {z}: it is {format}-compressed, which redactor does not read \
             (it reads gzip); decompress it into a pipe: {command} {z} | redactor"
        );
        let out = redactor(
            &[
                "filter",
                "-o",
                fresh.to_str().unwrap(),
                plain.to_str().unwrap(),
                z,
            ],
            b"",
        );
        assert_status_says(&out, 1, &says);
        assert!(!fresh.exists());
        assert_status_says(&redactor(&["explain", z], b""), 1, &says);
    }

    // Compressed data on stdin is not decoded: its first line's reject
    // comes with a hint, once.
    const HINT: &str = "hint: <stdin> starts like gzip-compressed data";
    let out = redactor(&["filter"], &two);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr(&out).matches(HINT).count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(zcat FILE | redactor"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let out = redactor(&["explain"], &two);
    assert_eq!(stderr(&out).matches(HINT).count(), 1, "{}", stderr(&out));
    // bench --input reads a gzip file too (checked by its error on an
    // empty corpus being the same as the plain file's).
    let empty_gz = tmp("empty.ndjson.gz");
    std::fs::write(&empty_gz, gzipped(b"")).unwrap();
    let empty = tmp("empty.ndjson");
    std::fs::write(&empty, b"").unwrap();
    let a = redactor(&["bench", "--input", empty_gz.to_str().unwrap()], b"");
    let b = redactor(&["bench", "--input", empty.to_str().unwrap()], b"");
    assert_eq!(a.status.code(), b.status.code());
    assert_eq!(
        stderr(&a).replace(empty_gz.to_str().unwrap(), "X"),
        stderr(&b).replace(empty.to_str().unwrap(), "X")
    );
}

/// Runs `redactor ARGS` with the test key, stdin and stdout as given, and
/// stderr captured.
fn redactor_with(args: &[&str], stdin: Stdio, stdout: Stdio) -> Output {
    Command::new(BIN)
        .args(args)
        .env("REDACTOR_TOKEN_KEY", KEY)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn a_run_never_writes_over_what_it_reads() {
    let events = gen("mixed", 50, 9);
    let input = tmp("own-input.ndjson");
    let other = tmp("own-other.ndjson");
    let link = tmp("own-link.ndjson");
    let fresh = tmp("own-fresh.ndjson");
    std::fs::write(&input, &events).unwrap();
    std::fs::write(&other, &events).unwrap();
    std::os::unix::fs::symlink(&input.0, &link.0).unwrap();
    let (i, o, l, f) = (
        input.to_str().unwrap(),
        other.to_str().unwrap(),
        link.to_str().unwrap(),
        fresh.to_str().unwrap(),
    );
    let open = |p: &Path| std::fs::File::open(p).unwrap();
    let append = |p: &Path| std::fs::OpenOptions::new().append(true).open(p).unwrap();
    let refused = |args: &[&str], stdin: Stdio, stdout: Stdio, says: &str| {
        let out = redactor_with(args, stdin, stdout);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        // Before the check the first truncated the input and the
        // appending ones doubled it (or, on inputs longer than the output
        // buffer, re-read their own output without end).
        assert_eq!(std::fs::read(&input.0).unwrap(), events, "{args:?}");
        assert_eq!(std::fs::read(&other.0).unwrap(), events, "{args:?}");
    };
    let same = "is the same file as";
    refused(
        &["filter", "-o", i, i],
        Stdio::null(),
        Stdio::null(),
        &format!("--output {i} {same} input {i}"),
    );
    refused(
        &["filter", "-o", l, i],
        Stdio::null(),
        Stdio::null(),
        &format!("--output {l} {same} input {i}"),
    );
    refused(
        &["filter", "-o", f, "-q", o, i, o],
        Stdio::null(),
        Stdio::null(),
        &format!("--quarantine {o} {same} input {o}"),
    );
    refused(
        &["filter", "-o", i],
        open(&input).into(),
        Stdio::null(),
        &format!("--output {i} {same} standard input"),
    );
    refused(
        &["filter", i],
        Stdio::null(),
        append(&input).into(),
        &format!("standard output {same} input {i}: writing it would destroy it or read it back without end; nothing was written by redactor (a shell's `>` empties the file before redactor starts)"),
    );
    refused(
        &["filter"],
        open(&input).into(),
        append(&input).into(),
        &format!("standard output {same} standard input"),
    );
    refused(
        &["explain", l],
        Stdio::null(),
        append(&input).into(),
        &format!("standard output {same} input {l}"),
    );
    refused(
        &["bench", "--input", i, "--json", l],
        Stdio::null(),
        Stdio::null(),
        &format!("--json {l} {same} --input {i}"),
    );
    // The policy file and its key files are read too: overwriting a key
    // file would lose the key, and with it every token's meaning.
    let key = tmp("own-key");
    std::fs::write(&key, b"own-key-material-0123456789abcdef\n").unwrap();
    let policy = write_policy(
        "own-policy.toml",
        &format!(
            "version = 1\n[[keys]]\nid = \"k\"\nfile = {:?}\n",
            key.to_str().unwrap()
        ),
    );
    let (k, p) = (key.to_str().unwrap(), policy.to_str().unwrap());
    let kept = [
        std::fs::read(&key.0).unwrap(),
        std::fs::read(&policy.0).unwrap(),
    ];
    let owner = "the policy's file";
    for (args, says) in [
        (
            &["filter", "-p", p, "-o", p, o][..],
            format!("--output {p} {same} {owner} {p}"),
        ),
        (
            &["filter", "-p", p, "-o", f, "-q", k, o],
            format!("--quarantine {k} {same} {owner} {k}"),
        ),
        (
            &["bench", "-p", p, "--json", k],
            format!("--json {k} {same} {owner} {k}"),
        ),
    ] {
        refused(args, Stdio::null(), Stdio::null(), &says);
    }
    refused(
        &["explain", "--policy", p, o],
        Stdio::null(),
        append(&policy).into(),
        &format!("standard output {same} {owner} {p}"),
    );
    assert_eq!(
        [
            std::fs::read(&key.0).unwrap(),
            std::fs::read(&policy.0).unwrap()
        ],
        kept
    );
    assert!(!fresh.exists(), "nothing is created before the check");
    // Two outputs in one file are refused once they are open.
    refused(
        &["filter", "-o", f, "-q", f, o],
        Stdio::null(),
        Stdio::null(),
        &format!("--output {f} and --quarantine {f} are the same file"),
    );
    refused(
        &["filter", "-q", f, o],
        Stdio::null(),
        append(&fresh).into(),
        &format!("standard output and --quarantine {f} are the same file"),
    );
    // Devices are read and written in one run without harm.
    if Path::new("/dev/null").exists() {
        let out = redactor_with(
            &["filter", "-o", "/dev/null", "/dev/null"],
            Stdio::null(),
            Stdio::null(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // A file that is only written is still written.
    let out = redactor_with(&["filter", "-o", f, o], Stdio::null(), Stdio::null());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&fresh.0)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        50
    );
}

#[test]
fn closed_stdout_pipe_ends_quietly() {
    let input = gen("mixed", 30_000, 3);
    let mut child = spawn(&["filter", "--threads", "2"]);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_full_output_is_named_and_ends_with_status_1() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: this system has no /dev/full");
        return;
    }
    let input = tmp("full-input.ndjson");
    std::fs::write(&input, gen("mixed", 200, 7)).unwrap();
    let input = input.to_str().unwrap();
    let to_stdout: [&[&str]; 7] = [
        &["filter", input],
        &["explain", input],
        &["bench", "--input", input, "--rounds", "1", "-j", "1"],
        &["check"],
        &["check", "--print"],
        &["check", "--print", "--format", "markdown"],
        &["gen", "-n", "200"],
    ];
    for args in to_stdout {
        let out = redactor_with(
            args,
            Stdio::null(),
            std::fs::OpenOptions::new()
                .write(true)
                .open(full)
                .unwrap()
                .into(),
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("redactor: cannot write stdout: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    for args in [
        &["filter", "-o", "/dev/full", input][..],
        &["gen", "-n", "200", "-o", "/dev/full"],
    ] {
        let out = redactor_with(args, Stdio::null(), Stdio::null());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write output /dev/full: ")
                || stderr(&out).contains("cannot write /dev/full: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A quarantine that cannot be written is named too: for a rejected
    // line, and for one too long to hold, which is streamed to it.
    let bad = tmp("full-bad.ndjson");
    std::fs::write(&bad, "{\"a\":1}\nnot json\n").unwrap();
    let long = tmp("full-long.ndjson");
    let mut text = format!("{{\"a\":\"{}\"}}\n", "x".repeat(9 << 20));
    text.push_str("{\"a\":1}\n");
    std::fs::write(&long, text).unwrap();
    for input in [&bad, &long] {
        let args = ["filter", "-q", "/dev/full", input.to_str().unwrap()];
        let out = redactor_with(&args, Stdio::null(), Stdio::null());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("redactor: cannot write quarantine /dev/full: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Starts `redactor ARGS` with piped stdin and stdout; its output lines
/// arrive on the receiver as they are written.
fn piped(
    args: &[&str],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = spawn(args);
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, rx)
}

/// The next output line of a [`piped`] child, which must come while its
/// input stays open; the child is stopped when it does not.
fn next_line(child: &mut std::process::Child, rx: &std::sync::mpsc::Receiver<String>) -> String {
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no output line while the input stays open ({e})");
        }
    }
}

#[test]
fn lines_from_a_pipe_come_out_before_the_input_ends() {
    // Beside `tail -F`, input trickles in and never ends: each line must be
    // redacted and written when it arrives, not when a batch fills.
    let q = tmp("pipe-quarantine.ndjson");
    let (mut child, mut stdin, rx) =
        piped(&["filter", "--threads", "2", "-q", q.to_str().unwrap()]);
    stdin.write_all(b"{\"userId\":\"u_pipe_1\"}\n").unwrap();
    stdin.flush().unwrap();
    let first = next_line(&mut child, &rx);
    assert!(
        first.contains("tok_") && !first.contains("u_pipe_1"),
        "{first}"
    );
    // A rejected line, then a good one: once the good one is out, the
    // reject is in the quarantine file (flushed first).
    stdin
        .write_all(b"{\"userId\":\n{\"userId\":\"u_pipe_2\"}\n")
        .unwrap();
    stdin.flush().unwrap();
    let second = next_line(&mut child, &rx);
    assert!(
        second.contains("tok_") && !second.contains("u_pipe_2"),
        "{second}"
    );
    let records = quarantine_records(&q);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["line"], 2);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (mut child, mut stdin, rx) = piped(&["explain"]);
    stdin.write_all(b"{\"userId\":\"u_pipe_3\"}\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(next_line(&mut child, &rx), "<stdin>:1: 1 rewrite");
    let detail = next_line(&mut child, &rx);
    assert!(
        detail.contains("userId") && detail.contains("tokenize"),
        "{detail}"
    );
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Waits up to 30 s for a child to end; stops it and fails when it does not.
fn wait_ended(mut child: std::process::Child) -> Output {
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the child did not end");
}

/// Sends SIG`signal` (`TERM`, `INT`) to `child` and waits for its end.
#[cfg(unix)]
fn signalled(child: std::process::Child, signal: &str) -> Output {
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_ended(child)
}

/// Sends SIG`signal` to a [`piped`] child whose input stays open, and checks
/// that it ends with the status of that signal, saying that it stopped
/// after line `line` of its stdin.
#[cfg(unix)]
fn stopped_by(
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    signal: &str,
    line: u64,
) {
    let out = signalled(child, signal);
    drop(stdin);
    let code = match signal {
        "INT" => 130,
        "HUP" => 129,
        _ => 143,
    };
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "stopped by SIG{signal}: <stdin> was read up to line {line}"
        )),
        "{}",
        stderr(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_signal_stops_reading_and_everything_read_is_handled() {
    // SIGTERM while the input pipe stays open and holds a line cut short:
    // the whole lines are written, the cut one is quarantined (its bytes
    // were taken from the pipe), and the status says which signal.
    let q = tmp("signal-quarantine.ndjson");
    let (mut child, mut stdin, rx) = piped(&["filter", "-q", q.to_str().unwrap()]);
    stdin
        .write_all(b"{\"userId\":\"u_sig_1\"}\n{\"userId\":\"u_sig_2\"}\n{\"userId\":")
        .unwrap();
    stdin.flush().unwrap();
    for _ in 0..2 {
        let line = next_line(&mut child, &rx);
        assert!(line.contains("tok_") && !line.contains("u_sig"), "{line}");
    }
    stopped_by(child, stdin, "TERM", 3);
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(30)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
        "no third output line"
    );
    let records = quarantine_records(&q);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["line"], 3);
    assert_eq!(records[0]["reason"], "invalid_json");

    // `explain` stops the same way: the line read is explained, the cut
    // one is reported as rejected, and the status names the signal.
    let (mut child, mut stdin, rx) = piped(&["explain"]);
    stdin
        .write_all(b"{\"userId\":\"u_sig_3\"}\n{\"userId\":")
        .unwrap();
    stdin.flush().unwrap();
    assert_eq!(next_line(&mut child, &rx), "<stdin>:1: 1 rewrite");
    stopped_by(child, stdin, "INT", 2);
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(
        rest[0].contains("userId") && !rest[0].contains("u_sig"),
        "{rest:?}"
    );
    assert!(rest[1].starts_with("<stdin>:2: rejected: "), "{rest:?}");

    // SIGHUP, as a closed terminal sends it to a pipeline, stops the
    // filter the same way instead of ending it with the lines in flight.
    let (mut child, mut stdin, rx) = piped(&["filter"]);
    stdin.write_all(b"{\"userId\":\"u_sig_4\"}\n").unwrap();
    stdin.flush().unwrap();
    let line = next_line(&mut child, &rx);
    assert!(line.contains("tok_") && !line.contains("u_sig"), "{line}");
    stopped_by(child, stdin, "HUP", 1);
}

#[test]
fn usage_and_policy_errors_exit_2_listing_every_problem() {
    let bad = write_policy("bad.toml", "mode = \"strict\"\n[[rules]]\nname = \"r\"\nselect = [\"a..b\"]\naction = \"mask\"\nkeep_last = 99\n");
    for cmd in ["check", "filter", "explain"] {
        let out = redactor(&[cmd, "-c", bad.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(err.contains("3 problems"), "{err}");
        assert!(
            err.contains("bad.toml:1: mode")
                && err.contains("bad.toml:2: rules[0] \"r\".select[0]")
                && err.contains("keep_last"),
            "{err}"
        );
    }
    assert_eq!(redactor(&["filter", "--bogus"], b"").status.code(), Some(2));
    // Counts out of range are refused as the arguments are parsed: thread
    // counts from 1 to 1024 (above, starting the threads exhausted the
    // process's memory or thread limit and panicked), and at least one
    // round, event and partition in the benches.
    for (args, says) in [
        (
            &["filter", "--threads", "0"][..],
            "'0' for '--threads <N>': 0 is not in 1..=1024",
        ),
        (
            &["filter", "-j", "1025"],
            "'1025' for '--threads <N>': 1025 is not in 1..=1024",
        ),
        (&["bench", "-j", "100000"], "'100000' for '--threads <N>'"),
        (&["bench", "--rounds", "0"], "'0' for '--rounds <ROUNDS>'"),
        (&["bench", "-n", "0"], "'0' for '--events <EVENTS>'"),
        (
            &[
                "bench",
                "kafka",
                "--brokers",
                "127.0.0.1:9",
                "--workers",
                "1025",
            ],
            "'1025' for '--workers <WORKERS>': 1025 is not in 0..=1024",
        ),
        (
            &[
                "bench",
                "kafka",
                "--brokers",
                "127.0.0.1:9",
                "--partitions",
                "0",
            ],
            "'0' for '--partitions <PARTITIONS>'",
        ),
    ] {
        let out = redactor(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: invalid value {says}")),
            "{args:?}: {err}"
        );
    }
    // An option that only means something with another one.
    let alone = redactor(&["check", "--format", "markdown"], b"");
    assert_status_says(
        &alone,
        2,
        "required arguments were not provided:\n  --print",
    );
    let missing = redactor(&["check", "--policy", "/nonexistent/policy.toml"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read policy /nonexistent/policy.toml"));
    // A policy or key file that never ends (a device named by mistake) is
    // refused at its cap, not read without end.
    if Path::new("/dev/zero").exists() {
        let endless = redactor(&["check", "-c", "/dev/zero"], b"");
        assert_eq!(endless.status.code(), Some(2));
        let err = stderr(&endless);
        assert!(
            err.contains("cannot read policy /dev/zero: larger than 16777216 bytes"),
            "{err}"
        );
        let p = write_policy(
            "endless-key.toml",
            "[[keys]]\nid = \"k\"\nfile = \"/dev/zero\"\n",
        );
        let endless_key = redactor(&["check", "-c", p.0.to_str().unwrap()], b"");
        assert_eq!(endless_key.status.code(), Some(2));
        let err = stderr(&endless_key);
        assert!(
            err.contains("cannot read key file /dev/zero: larger than 65536 bytes"),
            "{err}"
        );
    } else {
        println!("no /dev/zero here: the endless-file cases are skipped");
    }
}

#[test]
fn check_prints_presets_expanded() {
    let out = redactor(&["check", "--print"], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "policy OK: built-in default policy",
        "mixpanel/identity",
        "otel/identity",
        "**[key=user.id].value",
        "segment/traits",
        "detectors",
        "keys        default",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains(KEY));
}

#[test]
fn docs_presets_md_matches_the_code() {
    let out = redactor(&["check", "--print", "--format", "markdown"], b"");
    let generated = String::from_utf8(out.stdout).unwrap();
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/presets.md"))
            .unwrap();
    assert!(
        doc.contains(generated.trim()),
        "docs/presets.md is stale: regenerate it with `redactor check --print --format markdown`"
    );
}

#[test]
fn docs_name_the_default_limits_the_code_has() {
    let out = redactor(&["check"], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    let limits = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("limits"))
        .unwrap_or_else(|| panic!("no limits line in\n{text}"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    for part in limits.split(',') {
        let (name, value) = part.trim().split_once(' ').unwrap();
        // The reference table's row: | `limits.NAME` | range | default | ...
        let row = config
            .lines()
            .find(|l| l.starts_with(&format!("| `limits.{name}` |")))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for limits.{name}"));
        let default = row.split('|').nth(3).unwrap().trim();
        assert!(
            default.split(' ').next() == Some(value),
            "docs/configuration.md gives limits.{name} the default {default:?}; the code has {value}"
        );
    }
}

/// Whether `explain`'s listing `text` shows the field at `path` with
/// `action`: on one line, or, for a path longer than the column, on the
/// path's own line and the next.
fn explained_as(text: &str, path: &str, action: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let Some(rest) = line.strip_prefix("  ").and_then(|l| l.strip_prefix(path)) else {
            return false;
        };
        if rest.is_empty() {
            let next = lines.get(i + 1).map_or("", |l| l.trim_start());
            lines.get(i + 1).is_some_and(|l| l.starts_with(' ')) && next.starts_with(action)
        } else {
            rest.starts_with("  ") && rest.trim_start().starts_with(action)
        }
    })
}
#[test]
fn explain_shows_paths_and_causes_never_values() {
    let input = b"{\"batch\":[{\"traits\":{\"email\":\"alice@example.com\"},\"note\":\"from 203.0.113.7\"}]}\n{bad\n";
    let out = redactor(&["explain"], input);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<stdin>:1: 2 rewrites"), "{text}");
    assert!(
        text.contains("batch[0].traits.email") && text.contains("rule mixpanel/contact"),
        "{text}"
    );
    assert!(
        text.contains("batch[0].note") && text.contains("detector ipv4"),
        "{text}"
    );
    assert!(text.contains("<stdin>:2: rejected: invalid JSON"), "{text}");
    assert!(
        !text.contains("alice") && !text.contains("203.0.113.7"),
        "{text}"
    );
    // Fields a `keep` rule leaves as they are are listed, and the heading
    // counts them apart from the rewrites.
    let out = redactor(
        &["explain"],
        b"{\"event\":\"signup\",\"properties\":{\"distinct_id\":\"u1\",\"time\":1}}\n{\"n\":1}\n",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("<stdin>:1: 1 rewrite, 2 fields kept by rule\n"),
        "{text}"
    );
    assert!(text.contains("  event  "), "{text}");
    assert!(text.ends_with("<stdin>:2: 0 rewrites\n"), "{text}");
    // A path longer than the column has a line of its own, and the
    // actions of all the fields stay in one column.
    let long = format!(
        "{{\"email\":\"a@b.example\",\"{}\":\"c@d.example\",\"p\":{{\"phone\":\"x\"}}}}\n",
        "k".repeat(70)
    );
    let out = redactor(&["explain"], long.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[2], format!("  {}", "k".repeat(70)), "{text}");
    let column = |l: &str| l.find("drop").or_else(|| l.find("tokenize"));
    let columns: Vec<Option<usize>> = [1, 3, 4].iter().map(|&i| column(lines[i])).collect();
    assert!(
        columns[0].is_some() && columns.iter().all(|c| *c == columns[0]),
        "{text}"
    );
    // Keys with control or formatting characters (a terminal escape, a
    // newline that would start a false line, a right-to-left override) are
    // written with `\u{HEX}`, by either engine.
    let hidden = b"{\"u\":{\"e\\u001b[2J\\nX\":\"a@b.example\",\"r\\u202eq\":\"c@d.example\"}}\n";
    for engine in ["fast", "reference"] {
        let out = redactor(&["explain", "--engine", engine], hidden);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("u.\"e\\u{1b}[2J\\u{a}X\""),
            "{engine}: {text}"
        );
        assert!(text.contains("u.\"r\\u{202e}q\""), "{engine}: {text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
    }
    // Data used as keys: the paths name those keys as the output writes
    // them, also in the paths below them (before, they printed the email
    // and the address as the input had them).
    let keyed = b"{\"users\":{\"alice@example.com\":{\"plan\":\"pro\",\"email\":\"a@b.example\"},\"203.0.113.7\":1}}\n";
    for engine in ["fast", "reference"] {
        let out = redactor(&["explain", "--engine", engine], keyed);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let filtered = redactor(&["filter", "--engine", engine], keyed);
        let v: serde_json::Value = serde_json::from_slice(&filtered.stdout).unwrap();
        let keys: Vec<&String> = v["users"].as_object().unwrap().keys().collect();
        let token = keys.iter().find(|k| k.ends_with("@default.token.invalid"));
        let (Some(token), true) = (token, keys.contains(&&"203.0.113.0".to_string())) else {
            panic!("{engine}: {keys:?}");
        };
        let ip = "203.0.113.0";
        for (path, action) in [
            (format!("users.\"{token}\".email"), "drop"),
            (format!("users.\"{token}\" (key)"), "tokenize"),
            (format!("users.\"{ip}\" (key)"), "generalize"),
        ] {
            assert!(
                explained_as(&text, &path, action),
                "{engine}: {path:?} {action} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("alice") && !text.contains("203.0.113.7"),
            "{engine}: {text}"
        );
    }
    // Several inputs are explained in turn, each line named by its input;
    // a missing one anywhere in the list ends the run before any output.
    let (a, b) = (tmp("explain-a.ndjson"), tmp("explain-b.ndjson"));
    std::fs::write(&a, b"{\"userId\":\"u_1\"}\n").unwrap();
    std::fs::write(&b, b"{\"password\":\"hunter2\"}\nnot json\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = redactor(&["explain", a, "-", b], b"{\"email\":\"x@example.com\"}\n");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let headings: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        headings,
        [
            format!("{a}:1: 1 rewrite"),
            "<stdin>:1: 1 rewrite".to_string(),
            format!("{b}:1: 1 rewrite"),
            format!("{b}:2: rejected: invalid JSON at byte 0: invalid literal"),
        ],
        "{text}"
    );
    let out = redactor(&["explain", a, "/nonexistent/explain.ndjson"], b"");
    assert_status_says(&out, 1, "cannot open input /nonexistent/explain.ndjson");
    assert!(out.stdout.is_empty());
}

#[test]
fn gen_is_deterministic_per_seed() {
    for f in [
        "mixpanel",
        "segment",
        "amplitude",
        "posthog",
        "otel",
        "logs",
        "mixed",
    ] {
        let a = gen(f, 50, 11);
        assert_eq!(a, gen(f, 50, 11), "{f}");
        assert_ne!(a, gen(f, 50, 12), "{f}");
        assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 50);
    }
}

#[test]
fn docs_examples_load_and_redact() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    let key_file = tmp("k2025.key");
    std::fs::write(&key_file, "old-key-material-0123456789\n").unwrap();
    let input_file = tmp("examples-input.ndjson");
    std::fs::write(&input_file, gen("mixed", 300, 5)).unwrap();
    let leftover = regex::Regex::new(r"[a-z0-9](@|%40|%2540)example\.").unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        let src = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/run/secrets/redactor-k2025", key_file.to_str().unwrap());
        let policy = write_policy(path.file_name().unwrap().to_str().unwrap(), &src);
        let run = |args: &[&str]| {
            let child = Command::new(BIN)
                .args(args)
                .env("REDACTOR_KEY_2026", "new-key-material-0123456789")
                .env("REDACTOR_LOGS_KEY", "logs-key-material-0123456789")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            child
        };
        let check = run(&["check", "-c", policy.to_str().unwrap()]);
        assert!(
            check.status.success(),
            "{}: {}",
            path.display(),
            stderr(&check)
        );
        let out = run(&[
            "filter",
            "-c",
            policy.to_str().unwrap(),
            input_file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 300, "{}", path.display());
        assert!(
            !leftover.is_match(&text),
            "{}: an email survived",
            path.display()
        );
    }
    assert_eq!(seen, 2);
}

#[test]
fn both_engines_give_the_same_redaction() {
    let input = gen("mixed", 1500, 21);
    let fast = redactor(&["filter", "--engine", "fast", "-j", "2"], &input);
    let reference = redactor(&["filter", "--engine", "reference", "-j", "2"], &input);
    assert!(fast.status.success() && reference.status.success());
    let (a, b) = (
        String::from_utf8(fast.stdout).unwrap(),
        String::from_utf8(reference.stdout).unwrap(),
    );
    assert_eq!(a.lines().count(), 1500);
    for (x, y) in a.lines().zip(b.lines()) {
        let vx: serde_json::Value = serde_json::from_str(x).unwrap();
        let vy: serde_json::Value = serde_json::from_str(y).unwrap();
        assert_eq!(vx, vy);
    }
}

/// Runs the Kafka stage, with `extra` arguments and `env` set (`None`:
/// removed), where no broker listens, with its log on a pipe, until its
/// log has lines holding each of `wanted` (or 30 s passed), then stops it
/// with SIGTERM; returns the log after checking that the stage started and
/// stopped cleanly.
#[cfg(unix)]
fn stage_log_without_broker(
    name: &str,
    extra: &[&str],
    env: &[(&str, Option<&str>)],
    wanted: &[&str],
) -> String {
    use std::io::BufRead as _;
    let stage = tmp(name);
    std::fs::write(
        &stage,
        "[kafka]\nbrokers = \"127.0.0.1:1\"\n[topics]\ninput = [\"raw\"]\noutput = \"out\"\n\
         dead_letter = \"dlq\"\n[metrics]\nlisten = \"\"\n",
    )
    .unwrap();
    let mut cmd = command(&["kafka", "--config", stage.to_str().unwrap()]);
    cmd.args(extra).env_remove("NO_COLOR");
    for (var, value) in env {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(err).lines() {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut missing: Vec<&str> = wanted.to_vec();
    while !missing.is_empty() && std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            missing.retain(|w| !l.contains(w));
        }
    }
    let out = signalled(child, "TERM");
    let log = reader.join().unwrap();
    assert!(missing.is_empty(), "no line with {missing:?} in\n{log}");
    assert!(out.status.success(), "{log}");
    assert!(log.contains("stage stopped"), "{log}");
    log
}

/// The stage's log, read by a collector from a pipe, holds no terminal
/// colour escapes. No broker listens: the stage starts, logs that it cannot
/// connect, and stops on SIGTERM.
#[cfg(unix)]
#[test]
fn kafka_logs_to_a_pipe_without_colour_escapes() {
    let log = stage_log_without_broker("stage-log.toml", &[], &[], &["stage started"]);
    assert!(!log.contains('\u{1b}'), "{log}");
}

/// With a JSON log, every line the stage writes on stderr is JSON: the
/// warnings found before it started too (here the ephemeral key's and an
/// unknown `REDACTOR_SIMD`'s), which a plain line would have hidden from a
/// log collector that parses each line.
#[cfg(unix)]
#[test]
fn kafka_logs_the_policy_warnings_in_its_log_format() {
    let log = stage_log_without_broker(
        "stage-json.toml",
        &["--log-format", "json"],
        &[
            ("REDACTOR_TOKEN_KEY", None),
            ("REDACTOR_SIMD", Some("avx9")),
        ],
        &["stage started"],
    );
    let lines = json_log(&log);
    let warned = |says: &str| {
        lines.iter().any(|v| {
            v["level"] == "WARN"
                && v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(says))
        })
    };
    assert!(warned("ephemeral random key"), "{log}");
    assert!(warned("REDACTOR_SIMD=\"avx9\" names no backend"), "{log}");
}

/// Each line of a JSON log, parsed (a line that is not JSON fails the
/// test).
fn json_log(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A `REDACTOR_LOG` that does not parse is said in the log, which goes on
/// at level info rather than silently; an empty one is the default.
#[cfg(unix)]
#[test]
fn kafka_says_when_its_log_filter_does_not_parse() {
    let log = stage_log_without_broker(
        "stage-bad-filter.toml",
        &[],
        &[("REDACTOR_LOG", Some("info,librdkafka=verbose"))],
        &["stage started"],
    );
    assert!(
        log.contains("REDACTOR_LOG is not a valid filter; logging at level info"),
        "{log}"
    );
    let log = stage_log_without_broker(
        "stage-empty-filter.toml",
        &[],
        &[("REDACTOR_LOG", Some(""))],
        &["stage started"],
    );
    assert!(!log.contains("REDACTOR_LOG"), "{log}");
}

/// The error that stops the stage is a line of its log too: with a JSON
/// log, a JSON line naming the cause (here the metrics address, taken).
#[test]
fn kafka_logs_the_error_that_stops_it_in_its_log_format() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let stage = tmp("stage-taken.toml");
    std::fs::write(
        &stage,
        format!(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\n[topics]\ninput = [\"raw\"]\noutput = \"out\"\n\
             dead_letter = \"dlq\"\n[metrics]\nlisten = \"{addr}\"\nlog_format = \"json\"\n"
        ),
    )
    .unwrap();
    let out = redactor(&["kafka", "--config", stage.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = stderr(&out);
    let lines = json_log(&log);
    let last = lines.last().expect("a log line");
    assert_eq!(last["level"], "ERROR", "{log}");
    assert!(
        last["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(&format!("cannot listen on {addr} for /metrics: "))),
        "{log}"
    );
    drop(taken);
}

/// A broker that cannot be reached is reported once per client and
/// attempt, by an error line that names the client; librdkafka's error
/// events of the same failure, which repeat its text, are not logged again.
#[cfg(unix)]
#[test]
fn kafka_logs_each_connection_failure_once_naming_the_client() {
    let log = stage_log_without_broker(
        "stage-failures.toml",
        &[],
        &[],
        &[
            "stage started",
            "client=\"consumer\" facility=\"FAIL\"",
            "client=\"producer\" facility=\"FAIL\"",
        ],
    );
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Connection refused"))
        .collect();
    assert!(failures.len() >= 2, "{log}");
    for line in failures {
        // Under the target `REDACTOR_LOG` filters librdkafka's lines by.
        assert!(line.contains(" ERROR librdkafka: "), "{line}");
        assert!(line.contains("facility=\"FAIL\""), "{line}");
    }
    assert!(!log.contains("kafka client error"), "{log}");
    assert!(!log.contains("consumer error"), "{log}");
}

/// A signal stops `bench` at its next measurement: nothing is reported,
/// its temporary files are gone, and the status is the signal's.
#[cfg(unix)]
#[test]
fn a_signal_stops_the_bench_and_its_temporary_files_go() {
    let scratch = tmp("bench-stop-tmpdir");
    std::fs::create_dir_all(&scratch).unwrap();
    let child = Command::new(BIN)
        .args(["bench", "--rounds", "1000", "-n", "2000", "-j", "1"])
        .env("REDACTOR_TOKEN_KEY", KEY)
        .env("TMPDIR", &scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The end-to-end rows' files exist once the measuring has begun.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&scratch).unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "no temporary files");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = signalled(child, "TERM");
    assert_status_says(
        &out,
        143,
        "redactor: stopped by SIGTERM before the measuring ended",
    );
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}

#[test]
fn kafka_check_validates_the_stage_and_never_prints_secrets() {
    let policy = write_policy("kafka-policy.toml", "presets = [\"segment\"]\n");
    let stage = tmp("stage.toml");
    std::fs::write(
        &stage,
        format!(
            "policy = {:?}\n[kafka]\nbrokers = \"127.0.0.1:1\"\n[kafka.properties]\n\"sasl.password\" = {{ env = \"REDACTOR_CLI_KAFKA_PW\" }}\n\
             [topics]\ninput = [\"raw\"]\noutput = \"out\"\ndead_letter = \"dlq\"\n[record]\nkey = \"tokenize\"\n",
            policy.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["kafka", "--check", "--config"])
        .arg(&stage)
        .env("REDACTOR_CLI_KAFKA_PW", "pw-must-not-show")
        .env("REDACTOR_TOKEN_KEY", KEY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("stage OK"), "{text}");
    assert!(
        text.contains("sasl.password (both clients); values not shown"),
        "{text}"
    );
    assert!(
        text.contains("delivery    at-least-once, output partitions by key"),
        "{text}"
    );
    assert!(text.contains("(one per core)"), "{text}");
    assert!(
        text.contains(
            "1000 records or 1048576 bytes, linger 5 ms; at most 67108864 bytes in flight"
        ),
        "{text}"
    );
    assert!(
        text.contains("metrics     127.0.0.1:9464, log text"),
        "{text}"
    );
    assert!(text.contains("presets: segment"), "{text}");
    assert!(!text.contains("pw-must-not-show") && !stderr(&out).contains("pw-must-not-show"));

    // A broken configuration exits 2 and names every problem.
    std::fs::write(
        &stage,
        "[kafka]\nbrokers = \"\"\n[topics]\ninput = [\"raw\"]\noutput = \"raw\"\ndead_letter = \"d\"\n",
    )
    .unwrap();
    let out = redactor(
        &["kafka", "--check", "--config", stage.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("kafka.brokers: is empty"), "{err}");
    assert!(err.contains("also an input topic"), "{err}");
    // A missing file is a usage error naming the file.
    let out = redactor(&["kafka", "--config", "/nonexistent/stage.toml"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/stage.toml"));
}

/// The Docker quick start cannot run here (no Docker engine): check that
/// its files use the flags and configuration the binary accepts.
#[test]
fn docker_files_match_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = redactor(
        &[
            "kafka",
            "--check",
            "--config",
            root.join("docker/stage.toml").to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "docker/stage.toml: {}", stderr(&out));
    let compose = std::fs::read_to_string(root.join("docker/compose.yaml")).unwrap();
    let mut commands = 0;
    for cmd in compose.split("command: [").skip(1) {
        let list = &cmd[..cmd.find(']').unwrap()];
        let args: Vec<String> = list
            .split(',')
            .map(|a| a.trim().trim_matches('"').to_string())
            .collect();
        let mut args: Vec<String> = args
            .into_iter()
            .map(|a| {
                if a == "/etc/redactor/stage.toml" {
                    root.join("docker/stage.toml").display().to_string()
                } else {
                    a
                }
            })
            .collect();
        // Validate the flags without connecting anywhere.
        args.push(
            if args[0] == "kafka" {
                "--check"
            } else {
                "--help"
            }
            .into(),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = redactor(&refs, b"");
        assert!(
            out.status.success(),
            "compose command {args:?}: {}",
            stderr(&out)
        );
        commands += 1;
    }
    assert_eq!(commands, 2, "the generator and the stage");
    let dockerfile = std::fs::read_to_string(root.join("docker/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("USER 10001"),
        "the runtime image is non-root"
    );
}

#[test]
fn gen_to_kafka_needs_both_flags() {
    let out = redactor(&["gen", "--kafka-brokers", "127.0.0.1:1"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--kafka-topic"));
    // A topic the broker would refuse is refused before any broker is
    // asked.
    let out = redactor(
        &[
            "gen",
            "--kafka-brokers",
            "127.0.0.1:1",
            "--kafka-topic",
            "a b",
        ],
        b"",
    );
    assert_status_says(&out, 2, "--kafka-topic: topic name \"a b\" holds ' '");
}

/// `gen` and `bench kafka` ask the broker first: where none answers, they
/// end with status 1 after the probe's 10 s, naming the brokers, rather
/// than after the 120 s a record may wait or the admin requests' minutes.
#[test]
fn kafka_clients_say_at_once_that_no_broker_answers() {
    let children: Vec<std::process::Child> = [
        &[
            "gen",
            "--kafka-brokers",
            "127.0.0.1:1",
            "--kafka-topic",
            "t",
        ][..],
        &["bench", "kafka", "--brokers", "127.0.0.1:1"][..],
    ]
    .iter()
    .map(|args| {
        command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    })
    .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_status_says(
            &out,
            1,
            "redactor: no Kafka broker at 127.0.0.1:1 answered within 10 s: ",
        );
        assert!(out.stdout.is_empty());
    }
}

/// `-` is not a report file of `bench` or `bench kafka`: stdout carries
/// the table. The refusal comes before any policy is loaded or broker
/// asked, and no file called `-` is left behind.
#[test]
fn bench_reports_refuse_dash() {
    let dir = tmp("bench-dash");
    std::fs::create_dir_all(&dir).unwrap();
    for args in [
        &["bench", "--json", "-"][..],
        &["bench", "--plot", "-"][..],
        &["bench", "kafka", "--brokers", "127.0.0.1:1", "--json", "-"][..],
    ] {
        let out = fed(
            {
                let mut c = command(args);
                c.current_dir(&dir);
                c
            },
            b"",
        );
        let flag = args[args.len() - 2];
        assert_status_says(
            &out,
            2,
            format!(
                "redactor: {flag} -: the report must be a file, since stdout carries the table"
            ),
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn bench_smoke_run_writes_table_json_and_plot() {
    let json = tmp("bench.json");
    let plot = tmp("bench.svg");
    let out = redactor(
        &[
            "bench",
            "--events",
            "60",
            "--rounds",
            "1",
            "--threads",
            "2",
            "--json",
            json.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // 60 events are far too few for steady figures, and the run says so.
    assert!(
        stderr(&out).contains("warning: a round passes over the corpus once, and under 10 MB"),
        "{}",
        stderr(&out)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for row in [
        "copy (floor)",
        "line split",
        "scanner (validate + structural walk)",
        "serde_json IgnoredAny (validate)",
        "simd-json tape (copy + parse)",
        "scanner: ",
        "reference engine (DOM)",
        "simd-json parse, mutate, serialize",
        "simd-json parse, serialize (no policy)",
        "fast engine, default policy",
        "fast, preset otel alone",
        "fast, detectors only",
        "fast, allowlist mode",
        "fast engine, 2 thread(s)",
        "filter end to end, 1 thread(s)",
        "filter end to end, 2 thread(s)",
        "fast engine, default policy: ",
        "filter end to end, 1 thread: ",
        "filter end to end, 2 threads: ",
    ] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    // Each target ratio of the summary comes with its lowest and highest
    // round, which hold the median between them.
    let mut summary = 0;
    for line in table.lines().filter(|l| {
        [
            "scanner: ",
            "fast engine, default policy: ",
            "filter end to end, ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
            && !l.contains("thread(s)")
    }) {
        let ratios: Vec<(f64, f64, f64)> = line
            .split(" [")
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| {
                let number = |t: &str| t.trim_end_matches(['x', '%']).parse::<f64>().unwrap();
                let median = number(w[0].rsplit(' ').next().unwrap());
                let (lo, hi) = w[1].split_once(']').unwrap().0.split_once("..").unwrap();
                (number(lo), median, number(hi))
            })
            .collect();
        assert!(!ratios.is_empty(), "{line}");
        for (lo, median, hi) in ratios {
            assert!(0.0 < lo && lo <= median && median <= hi, "{line}");
        }
        summary += 1;
    }
    assert_eq!(summary, 4, "{table}");
    // The two-thread filter line names the in-memory engine's own ratio
    // on two threads, from the same round.
    let line = table
        .lines()
        .find(|l| l.starts_with("filter end to end, 2 threads: "))
        .unwrap();
    let in_memory = line
        .split("(the in-memory engine: ")
        .nth(1)
        .and_then(|r| r.strip_suffix("x)"))
        .and_then(|x| x.parse::<f64>().ok());
    assert!(in_memory.is_some_and(|x| x > 0.0), "{line}");
    assert!(stderr(&out).contains("outputs checked against the reference engine"));
    assert!(stderr(&out).contains("filter output checked against the engine's"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.len() >= 15);
    assert!(rows.iter().all(|r| r["mb_per_sec"].as_f64().unwrap() > 0.0));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("thread scaling"));

    // A user's policy and input: only the rows that apply.
    let input = tmp("bench-input.ndjson");
    std::fs::write(&input, gen("segment", 50, 4)).unwrap();
    let policy = write_policy("bench-policy.toml", "presets = [\"segment\"]\n");
    // One round, one thread, on `input`.
    let quick = [
        "bench",
        "--rounds",
        "1",
        "-j",
        "1",
        "--input",
        input.to_str().unwrap(),
    ];
    let out = redactor(
        &[&quick[..], &["--policy", policy.to_str().unwrap()]].concat(),
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("fast engine, your policy"), "{table}");
    assert!(table.contains("filter end to end, 1 thread: "), "{table}");
    assert!(!table.contains("preset otel alone"));
    // The end-to-end rows leave nothing behind in the temporary directory.
    let scratch = tmp("bench-tmpdir");
    std::fs::create_dir_all(&scratch).unwrap();
    let out = Command::new(BIN)
        .args(quick)
        .env("REDACTOR_TOKEN_KEY", KEY)
        .env("TMPDIR", &scratch)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("filter output checked against the engine's"));
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    // An input with a line every engine rejects: no end-to-end rows.
    let mut bad = gen("segment", 20, 4);
    bad.extend_from_slice(b"{not json\n");
    std::fs::write(&input, bad).unwrap();
    let out = redactor(&quick, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("`filter end to end` is not measured"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("filter end to end, 1"));
    assert!(stderr(&out).contains("the scanner rows are not measured"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("scanner: "));
    // An empty input is an error naming it.
    let empty = tmp("bench-empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let out = redactor(&["bench", "--input", empty.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no lines"));
    // An input larger than the bench holds in memory is refused before it
    // is read (a sparse file: no disk is used).
    let huge = tmp("bench-huge.ndjson");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    let out = redactor(&["bench", "--input", huge.to_str().unwrap()], b"");
    assert_status_says(
        &out,
        1,
        format!("cannot read {}: larger than 1024 MiB", huge.display()),
    );
    // A report file that cannot be created ends the run before the
    // measuring, naming it.
    let missing = tmp("bench-no-such-dir");
    for flag in ["--json", "--plot"] {
        let path = missing.join("report");
        let out = redactor(&[&quick[..], &[flag, path.to_str().unwrap()]].concat(), b"");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("cannot create {}: ", path.display())),
            "{err}"
        );
        assert!(!err.contains("round 1/1 done"), "{err}");
    }
    // The same for `bench kafka`, before any broker is asked.
    let path = missing.join("kafka-report");
    let out = redactor(
        &[
            "bench",
            "kafka",
            "--brokers",
            "127.0.0.1:1",
            "--json",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_status_says(&out, 1, format!("cannot create {}: ", path.display()));
}
