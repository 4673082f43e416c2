//! A minimal HTTP/1.1 endpoint: `/metrics` (Prometheus text), `/health`,
//! `/health/live` and `/health/ready`. One request per connection, bounded
//! request size and time; nothing else is served.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

const MAX_REQUEST: usize = 8 * 1024;

/// Serves until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &metrics)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
            )
            .await;
        }
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n",
        )
        .await;
    }
    let path = target.split('?').next().unwrap_or("");
    let live = metrics.live.load(Relaxed);
    let ready = live && metrics.ready.load(Relaxed);
    let status = |ok: bool| {
        if ok {
            "200 OK"
        } else {
            "503 Service Unavailable"
        }
    };
    match path {
        "/metrics" => {
            respond(
                &mut stream,
                "200 OK",
                "text/plain; version=0.0.4",
                &metrics.render(),
            )
            .await
        }
        "/health" => {
            let body = format!("{{\"live\":{live},\"ready\":{ready}}}\n");
            respond(&mut stream, status(live), "application/json", &body).await
        }
        "/health/live" => {
            respond(
                &mut stream,
                status(live),
                "text/plain",
                if live { "live\n" } else { "stopped\n" },
            )
            .await
        }
        "/health/ready" => {
            respond(
                &mut stream,
                status(ready),
                "text/plain",
                if ready { "ready\n" } else { "not ready\n" },
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "not found; try /metrics or /health\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_and_health() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new(&redactor_core::Policy::builtin().unwrap()));
        let server = tokio::spawn(serve(listener, metrics.clone()));
        metrics.records_in.fetch_add(7, Relaxed);
        let m = get(addr, "/metrics").await;
        assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
        assert!(m.contains("redactor_records_in_total 7\n"));
        assert!(get(addr, "/health/ready").await.starts_with("HTTP/1.1 503"));
        metrics.ready.store(true, Relaxed);
        assert!(get(addr, "/health/ready").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/health")
            .await
            .ends_with("{\"live\":true,\"ready\":true}\n"));
        metrics.live.store(false, Relaxed);
        assert!(get(addr, "/health/live").await.starts_with("HTTP/1.1 503"));
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        server.abort();
    }
}
