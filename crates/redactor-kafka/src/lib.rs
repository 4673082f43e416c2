//! The Kafka pipeline stage of redactor: records of input topics are
//! redacted with a policy and produced to an output topic; records that
//! cannot be redacted go, unchanged and with headers naming the reason, to a
//! dead-letter topic. Offsets are committed only for records the broker
//! acknowledged (at-least-once), or inside producer transactions
//! (exactly-once).
//!
//! See `docs/kafka.md` for the configuration reference and the delivery
//! semantics.

pub mod bench;
pub mod config;
pub mod http;
pub mod metrics;
pub mod record;
pub mod stage;
pub mod tools;

/// The Kafka client library the stage is built on, for callers of [`tools`].
pub use rdkafka;

pub use config::{Delivery, LogFormat, StageConfig};
pub use stage::{Stage, Summary};

use std::sync::Arc;

use anyhow::Context as _;
use redactor_core::Redactor;

/// Installs the `tracing` subscriber: log lines on stderr, filtered by
/// `REDACTOR_LOG` (e.g. `info`, `debug`, `redactor_kafka=debug`; default
/// `info`). Does nothing when one is already installed.
pub fn init_logging(format: LogFormat) {
    // Unset or empty is the default, `info`; a value that does not parse
    // is said, and the default used.
    let set = std::env::var("REDACTOR_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (filter, bad) = match set.map(tracing_subscriber::EnvFilter::try_new) {
        None => (tracing_subscriber::EnvFilter::new("info"), None),
        Some(Ok(f)) => (f, None),
        Some(Err(e)) => (
            tracing_subscriber::EnvFilter::new("info"),
            Some(e.to_string()),
        ),
    };
    // Colours only on a terminal (a log collector stores the escapes as
    // text), and not when `NO_COLOR` is set, which `with_ansi(true)` would
    // override.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Some(why) = bad {
        tracing::warn!(
            error = why,
            "REDACTOR_LOG is not a valid filter; logging at level info"
        );
    }
}

/// Logs warnings found before the stage started (the policy's ephemeral
/// key, an unknown `REDACTOR_SIMD`, ...), once logging is set up by
/// [`init_logging`], so that they reach the stage's log collector in its
/// format.
pub fn log_warnings<'a>(warnings: impl IntoIterator<Item = &'a String>) {
    for w in warnings {
        tracing::warn!(target: "redactor_kafka", "{w}");
    }
}

/// Logs the error that stopped the stage (`error` holds it and its causes).
pub fn log_fatal(error: &str) {
    tracing::error!(target: "redactor_kafka", error, "the stage stopped on an error");
}

/// Runs the stage until SIGTERM or SIGINT (then drains and commits), with
/// the metrics endpoint when configured. Blocks the calling thread.
///
/// # Errors
///
/// As [`Stage::run`], and when the metrics address cannot be bound.
pub fn run_until_signal(config: StageConfig, engine: Arc<dyn Redactor>) -> anyhow::Result<Summary> {
    let threads = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.metrics_listen.clone();
        let stage = Stage::new(config, engine)?;
        let server = match listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
                tracing::info!(address = %addr, "metrics and health endpoint listening");
                Some(tokio::spawn(http::serve(listener, stage.metrics())))
            }
            None => None,
        };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let grace = stage.drain_timeout() * 2 + std::time::Duration::from_secs(10);
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => tracing::info!("SIGTERM received"),
            }
            let _ = tx.send(true);
            // Draining is bounded; a broker that is gone must not keep the
            // process alive. Uncommitted records are read again on restart.
            std::thread::spawn(move || {
                std::thread::sleep(grace);
                tracing::error!(
                    seconds = grace.as_secs(),
                    "shutdown did not finish in time; exiting without committing the rest (those records will be read again)"
                );
                std::process::exit(1);
            });
        });
        let result = stage.run(rx).await;
        if let Some(s) = server {
            s.abort();
        }
        result
    })
}
