//! A fault-injecting HTTP/1.1 proxy for the end-to-end tests: it sits between `duxue certify`
//! and a reference platform on loopback, passes requests through, and spoils the answers its
//! [`Plan`] picks (one operation, or a fraction of all requests) with one fault each: a
//! connection reset, a stall, a body dripped a byte a second, bursts of 500/502/503, 429 with
//! `Retry-After`, malformed JSON, a truncated body, an oversized body (streamed, any length),
//! a wrong content type, a redirect loop or a redirect to another host. It counts what it did,
//! so a test can hold the harness's evidence against it.
//!
//! Bounded: every stall, drip and stream stops when the client goes away or after its cap.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way to spoil an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Close the connection with a TCP reset after reading the request, before forwarding it.
    Reset,
    /// Read the request and never answer (until the client gives up, at most `cap`).
    Stall { cap: Duration },
    /// Forward, then send the real answer's body one byte a second (at most `cap`).
    Drip { cap: Duration },
    /// Answer with this server-error status and an HTML page, without forwarding.
    ServerError(u16),
    /// Answer 429 with `Retry-After`, without forwarding.
    TooMany { retry_after_seconds: u32 },
    /// Forward, then replace a success body with JSON cut off in the middle.
    MalformedJson,
    /// Forward, then declare the real length and close half way through the body.
    Truncated,
    /// Forward, then answer 200 with a JSON body of `bytes` bytes, streamed chunk by chunk;
    /// with `declared`, announced in `Content-Length`, else sent chunked.
    Oversized { bytes: u64, declared: bool },
    /// Forward, and answer the real status and body as `text/html`.
    WrongContentType,
    /// Answer 302 to the same URL, without forwarding.
    RedirectLoop,
    /// Answer 307 to the same path on another host (`http://addr`), without forwarding.
    RedirectElsewhere(SocketAddr),
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Stall { .. } => "stall",
            Fault::Drip { .. } => "drip",
            Fault::ServerError(_) => "server-error",
            Fault::TooMany { .. } => "too-many",
            Fault::MalformedJson => "malformed-json",
            Fault::Truncated => "truncated",
            Fault::Oversized { .. } => "oversized",
            Fault::WrongContentType => "wrong-content-type",
            Fault::RedirectLoop => "redirect-loop",
            Fault::RedirectElsewhere(_) => "redirect-elsewhere",
        }
    }
}

/// Which requests get which fault.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Pass everything through.
    Clean,
    /// Every `every`-th request whose path contains `path` (its 1st, `every`+1-th, …); an
    /// empty `path` matches every request except `GET /profile/v1/meta` (so that the harness
    /// can connect).
    Every {
        path: &'static str,
        every: u64,
        faults: Vec<Fault>,
    },
    /// Bursts: of every `period` requests (`GET /meta` excepted) the last `faults.len()` get
    /// these faults in order.
    Burst { period: u64, faults: Vec<Fault> },
}

/// One exchange as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path below `/profile/v1`.
    pub path: String,
    /// The status sent back (`None` for a reset or a stall).
    pub status: Option<u16>,
    pub fault: Option<&'static str>,
    /// When the proxy finished sending the answer (or gave up on it).
    pub done: Instant,
}

#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub faults: AtomicU64,
    /// Bytes of oversized bodies written to clients.
    pub oversized_bytes_sent: AtomicU64,
    pub seen: Mutex<Vec<Seen>>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const BASE: &str = "/profile/v1";

impl FaultProxy {
    /// Listens on 127.0.0.1 and forwards to `upstream` (`http://127.0.0.1:port`).
    pub async fn start(upstream: String, plan: Plan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let stats = Arc::new(Stats::default());
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let shared = Arc::new(Shared {
            upstream,
            plan,
            stats: stats.clone(),
            http,
            matched: AtomicU64::new(0),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
            }
        });
        FaultProxy { addr, stats, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.stats.seen.lock().expect("lock").clone()
    }
}

struct Shared {
    upstream: String,
    plan: Plan,
    stats: Arc<Stats>,
    http: reqwest::Client,
    matched: AtomicU64,
}

impl Shared {
    fn pick(&self, method: &str, path: &str) -> Option<Fault> {
        let meta = method == "GET" && path == format!("{BASE}/meta");
        match &self.plan {
            Plan::Clean => None,
            Plan::Every {
                path: part,
                every,
                faults,
            } => {
                let matches = if part.is_empty() {
                    !meta
                } else {
                    path.contains(part)
                };
                if !matches {
                    return None;
                }
                let n = self.matched.fetch_add(1, Ordering::Relaxed);
                n.is_multiple_of(*every)
                    .then(|| faults[((n / every) as usize) % faults.len()].clone())
            }
            Plan::Burst { period, faults } => {
                if meta {
                    return None;
                }
                let n = self.matched.fetch_add(1, Ordering::Relaxed) % period;
                let first = period - faults.len() as u64;
                (n >= first).then(|| faults[(n - first) as usize].clone())
            }
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one request; `None` when the client closed the connection.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

async fn forward(shared: &Shared, request: &Request) -> Answer {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut builder = shared
        .http
        .request(method, format!("{}{}", shared.upstream, request.path))
        .body(request.body.clone());
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding" | "keep-alive"
        ) {
            builder = builder.header(name, value);
        }
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            Answer {
                status,
                content_type,
                body,
            }
        }
        Err(_) => Answer {
            status: 502,
            content_type: Some("text/plain".into()),
            body: b"upstream failed".to_vec(),
        },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        307 => "Temporary Redirect",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head(status: u16, headers: &[(&str, String)]) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.into_bytes()
}

async fn send_whole(stream: &mut TcpStream, answer: &Answer) -> std::io::Result<()> {
    let mut headers = vec![("Content-Length", answer.body.len().to_string())];
    if let Some(ct) = &answer.content_type {
        headers.push(("Content-Type", ct.clone()));
    }
    stream.write_all(&head(answer.status, &headers)).await?;
    stream.write_all(&answer.body).await
}

/// Waits until the client closes the connection, at most `cap`.
async fn until_client_leaves(stream: &mut TcpStream, cap: Duration) {
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(cap, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut fault = shared.pick(&request.method, &request.path);
        let (status, keep_going, spoiled) =
            answer(&mut stream, &shared, &request, fault.as_ref()).await;
        if !spoiled {
            fault = None;
        }
        shared.stats.seen.lock().expect("lock").push(Seen {
            method: request.method.clone(),
            path: request
                .path
                .strip_prefix(BASE)
                .unwrap_or(&request.path)
                .to_owned(),
            status,
            fault: fault.as_ref().map(Fault::name),
            done: Instant::now(),
        });
        if !keep_going {
            break;
        }
    }
    Ok(())
}

/// Answers one request; returns the status sent, whether the connection can go on, and
/// whether the answer was spoiled (a fault that found nothing to spoil does not count).
async fn answer(
    stream: &mut TcpStream,
    shared: &Shared,
    request: &Request,
    fault: Option<&Fault>,
) -> (Option<u16>, bool, bool) {
    let Some(fault) = fault else {
        let answer = forward(shared, request).await;
        let ok = send_whole(stream, &answer).await.is_ok();
        return (Some(answer.status), ok, false);
    };
    // Counted as the answer is spoiled, before any stall or drip: a run may end while the
    // proxy is still dripping.
    let count = || {
        shared.stats.faults.fetch_add(1, Ordering::Relaxed);
    };
    match fault {
        Fault::Reset => {
            count();
            // A zero linger makes the close a TCP reset; it does not block (the deprecation
            // is about non-zero lingers).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            (None, false, true)
        }
        Fault::Stall { cap } => {
            count();
            until_client_leaves(stream, *cap).await;
            (None, false, true)
        }
        Fault::ServerError(status) => {
            count();
            let answer = Answer {
                status: *status,
                content_type: Some("text/html".into()),
                body: format!(
                    "<html><body><h1>{status} {}</h1></body></html>",
                    reason(*status)
                )
                .into_bytes(),
            };
            let ok = send_whole(stream, &answer).await.is_ok();
            (Some(*status), ok, true)
        }
        Fault::TooMany {
            retry_after_seconds,
        } => {
            count();
            let body = br#"{"code":"internal","message":"slow down"}"#;
            let headers = [
                ("Content-Length", body.len().to_string()),
                ("Content-Type", "application/json".to_owned()),
                ("Retry-After", retry_after_seconds.to_string()),
            ];
            let ok = stream.write_all(&head(429, &headers)).await.is_ok()
                && stream.write_all(body).await.is_ok();
            (Some(429), ok, true)
        }
        Fault::RedirectLoop => {
            count();
            let headers = [
                ("Content-Length", "0".to_owned()),
                ("Location", request.path.clone()),
            ];
            let ok = stream.write_all(&head(302, &headers)).await.is_ok();
            (Some(302), ok, true)
        }
        Fault::RedirectElsewhere(other) => {
            count();
            let headers = [
                ("Content-Length", "0".to_owned()),
                ("Location", format!("http://{other}{}", request.path)),
            ];
            let ok = stream.write_all(&head(307, &headers)).await.is_ok();
            (Some(307), ok, true)
        }
        Fault::Drip { cap } => {
            let answer = forward(shared, request).await;
            let mut headers = vec![("Content-Length", answer.body.len().to_string())];
            if let Some(ct) = &answer.content_type {
                headers.push(("Content-Type", ct.clone()));
            }
            let spoiled = answer.body.len() > 1;
            if spoiled {
                count();
            }
            if stream
                .write_all(&head(answer.status, &headers))
                .await
                .is_err()
            {
                return (Some(answer.status), false, spoiled);
            }
            let started = Instant::now();
            for byte in &answer.body {
                if started.elapsed() > *cap || stream.write_all(&[*byte]).await.is_err() {
                    return (Some(answer.status), false, spoiled);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            (Some(answer.status), true, spoiled)
        }
        Fault::MalformedJson => {
            let mut answer = forward(shared, request).await;
            let spoiled = answer.status < 300 && !answer.body.is_empty();
            if spoiled {
                count();
                answer.body = br#"{"credited_seconds": 12.5, "state": "play"#.to_vec();
            }
            let ok = send_whole(stream, &answer).await.is_ok();
            (Some(answer.status), ok, spoiled)
        }
        Fault::Truncated => {
            let answer = forward(shared, request).await;
            if !answer.body.is_empty() {
                count();
            }
            let mut headers = vec![("Content-Length", answer.body.len().to_string())];
            if let Some(ct) = &answer.content_type {
                headers.push(("Content-Type", ct.clone()));
            }
            let _ = stream.write_all(&head(answer.status, &headers)).await;
            let _ = stream
                .write_all(&answer.body[..answer.body.len() / 2])
                .await;
            let _ = stream.flush().await;
            (Some(answer.status), false, !answer.body.is_empty())
        }
        Fault::WrongContentType => {
            let mut answer = forward(shared, request).await;
            answer.content_type = Some("text/html; charset=utf-8".into());
            if !answer.body.is_empty() {
                count();
            }
            let ok = send_whole(stream, &answer).await.is_ok();
            (Some(answer.status), ok, !answer.body.is_empty())
        }
        Fault::Oversized { bytes, declared } => {
            let _ = forward(shared, request).await;
            count();
            let mut headers = vec![("Content-Type", "application/json".to_owned())];
            if *declared {
                headers.push(("Content-Length", bytes.to_string()));
            } else {
                headers.push(("Transfer-Encoding", "chunked".to_owned()));
            }
            if stream.write_all(&head(200, &headers)).await.is_err() {
                return (Some(200), false, true);
            }
            // A JSON array that never seems to end: `[0,0,0,…`.
            let chunk = {
                let mut c = b"[".to_vec();
                c.extend(std::iter::repeat_n(*b"0,", 32 * 1024).flatten());
                c.truncate(64 * 1024);
                c
            };
            let mut sent = 0u64;
            while sent < *bytes {
                let n = chunk.len().min((*bytes - sent) as usize);
                let piece = &chunk[..n];
                let written = if *declared {
                    stream.write_all(piece).await
                } else {
                    let mut framed = format!("{n:x}\r\n").into_bytes();
                    framed.extend_from_slice(piece);
                    framed.extend_from_slice(b"\r\n");
                    stream.write_all(&framed).await
                };
                if written.is_err() {
                    break;
                }
                sent += n as u64;
                shared
                    .stats
                    .oversized_bytes_sent
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
            (Some(200), false, true)
        }
    }
}

/// A listener that counts the connections it gets and answers none (the "other host" of a
/// redirect).
pub struct Elsewhere {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Elsewhere {
    pub async fn start(ip: &str) -> Elsewhere {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicU64::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                drop(stream);
            }
        });
        Elsewhere {
            addr,
            connections,
            task,
        }
    }
}
