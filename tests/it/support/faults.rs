//! A fault-injecting HTTP proxy between `kubectl-waves` and the real apiserver of `testenv/`.
//!
//! It listens on 127.0.0.1 (plain HTTP/1.1) and forwards every request through an admin
//! `kube::Client` of the test cluster, so the apiserver behind it is the real one; a script of
//! [`Rule`]s decides which requests meet a fault instead: an error status (with `Retry-After`),
//! a reset connection, a lost response (the apiserver acted, the client never hears), a delay,
//! a watch cut mid-stream, or a watch answered with 410 Gone. [`Proxy::kubeconfig`] points a
//! client at it. Every request is logged ([`Proxy::log`]) so a test can assert that its faults
//! happened, and when.
//!
//! The proxy runs on plain threads (one per connection); the forwarding runs on the test's
//! tokio runtime through its handle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;

/// Which requests a rule applies to.
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// `GET`, `PATCH`, … (`None`: any).
    pub method: Option<&'static str>,
    /// Watches only (`Some(true)`), never watches (`Some(false)`), or either.
    pub watch: Option<bool>,
    /// Substrings the request target (path and query) must all contain.
    pub contains: Vec<&'static str>,
    /// Substrings it must not contain.
    pub excludes: Vec<&'static str>,
}

impl Match {
    pub fn method(method: &'static str) -> Match {
        Match {
            method: Some(method),
            ..Match::default()
        }
    }

    pub fn watches() -> Match {
        Match {
            watch: Some(true),
            ..Match::default()
        }
    }

    pub fn any() -> Match {
        Match::default()
    }

    pub fn containing(mut self, text: &'static str) -> Match {
        self.contains.push(text);
        self
    }

    pub fn excluding(mut self, text: &'static str) -> Match {
        self.excludes.push(text);
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        let is_watch = target.contains("watch=true") || target.contains("watch=1");
        self.method.is_none_or(|m| m == method)
            && self.watch.is_none_or(|w| w == is_watch)
            && self.contains.iter().all(|c| target.contains(c))
            && !self.excludes.iter().any(|c| target.contains(c))
    }
}

/// What happens to a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a Kubernetes `Status` body; not forwarded.
    Status { code: u16, retry_after: Option<u64> },
    /// Close the connection without an answer; not forwarded.
    Reset,
    /// Forward it (the apiserver acts on it), then close the connection without an answer.
    DropResponse,
    /// Forward it after this long.
    Delay(Duration),
    /// Forward a watch and close its stream after this long.
    CutWatch(Duration),
    /// Answer a watch with an `ERROR` event carrying 410 Gone (resourceVersion too old), as
    /// the apiserver does after compaction; not forwarded.
    WatchGone,
    /// Never answer (until the client gives up); not forwarded.
    Hang,
}

/// One line of the script: `fault` for matching requests `skip`+1 … `skip`+`times`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub when: Match,
    pub fault: Fault,
    /// Matching requests let through before the fault starts.
    pub skip: usize,
    /// How many matching requests get the fault (`usize::MAX`: all of them).
    pub times: usize,
}

impl Rule {
    pub fn new(when: Match, fault: Fault, times: usize) -> Rule {
        Rule {
            when,
            fault,
            skip: 0,
            times,
        }
    }

    pub fn after(mut self, skip: usize) -> Rule {
        self.skip = skip;
        self
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub target: String,
    /// Index of the rule that injected a fault into it.
    pub fault: Option<usize>,
}

struct State {
    rules: Vec<Rule>,
    matched: Vec<usize>,
    log: Vec<Seen>,
}

/// A running proxy; dropping it stops accepting and cuts its streams.
pub struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
    dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts a proxy in front of the cluster `upstream` talks to. Call from a multi-thread
    /// tokio test: forwarding runs on the current runtime.
    pub fn start(upstream: kube::Client, rules: Vec<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State {
            matched: vec![0; rules.len()],
            rules,
            log: Vec::new(),
        }));
        let stopped = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Handle::current();
        {
            let state = state.clone();
            let stopped = stopped.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    let stopped = stopped.clone();
                    let upstream = upstream.clone();
                    let runtime = runtime.clone();
                    std::thread::spawn(move || {
                        let _ = serve(stream, &upstream, &runtime, &state, &stopped);
                    });
                }
            });
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("kubeconfig"),
            format!(
                "apiVersion: v1
kind: Config
clusters:
- name: faults
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: faults
  user: {{}}
contexts:
- name: faults
  context:
    cluster: faults
    user: faults
current-context: faults
"
            ),
        )
        .expect("write the proxy's kubeconfig");
        Proxy {
            port,
            state,
            stopped,
            dir,
        }
    }

    /// A kubeconfig whose cluster is this proxy.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests rule `index` injected its fault into.
    pub fn fired(&self, index: usize) -> usize {
        self.log().iter().filter(|s| s.fault == Some(index)).count()
    }

    /// Replaces the script (e.g. to end an outage).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut state = self.state.lock().unwrap();
        state.matched = vec![0; rules.len()];
        state.rules = rules;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The fault for a request, if a rule has one left for it; the request is logged.
fn decide(state: &Mutex<State>, method: &str, target: &str) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    let mut chosen = None;
    for i in 0..state.rules.len() {
        if !state.rules[i].when.matches(method, target) {
            continue;
        }
        state.matched[i] += 1;
        let n = state.matched[i];
        let rule = &state.rules[i];
        if chosen.is_none() && n > rule.skip && n - rule.skip <= rule.times {
            chosen = Some(i);
        }
    }
    let fault = chosen.map(|i| state.rules[i].fault.clone());
    state.log.push(Seen {
        at: Instant::now(),
        method: method.to_string(),
        target: target.to_string(),
        fault: chosen,
    });
    fault
}

struct Incoming {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request; `None` at the end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Incoming>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
            headers.push((name, value));
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Incoming {
        method,
        target,
        headers,
        body,
    }))
}

fn status_body(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    })
    .to_string()
}

fn write_chunk(out: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

fn serve(
    stream: TcpStream,
    upstream: &kube::Client,
    runtime: &tokio::runtime::Handle,
    state: &Mutex<State>,
    stopped: &AtomicBool,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        if stopped.load(Ordering::Relaxed) {
            break;
        }
        let fault = decide(state, &request.method, &request.target);
        let mut cut_after = None;
        let mut drop_response = false;
        match fault {
            Some(Fault::Status { code, retry_after }) => {
                let reason = match code {
                    429 => "TooManyRequests",
                    500 => "InternalError",
                    503 => "ServiceUnavailable",
                    _ => "Unknown",
                };
                let body = status_body(code, reason, "injected by the test's fault proxy");
                write!(
                    out,
                    "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\n"
                )?;
                if let Some(seconds) = retry_after {
                    write!(out, "retry-after: {seconds}\r\n")?;
                }
                write!(out, "content-length: {}\r\n\r\n{body}", body.len())?;
                out.flush()?;
                continue;
            }
            Some(Fault::Reset) => {
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Hang) => {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    // The client gave up when its end is closed.
                    let mut probe = [0u8; 1];
                    out.set_nonblocking(true)?;
                    let closed = matches!(reader.get_ref().peek(&mut probe), Ok(0));
                    out.set_nonblocking(false)?;
                    if closed {
                        break;
                    }
                }
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::WatchGone) => {
                let event = serde_json::json!({
                    "type": "ERROR",
                    "object": serde_json::from_str::<serde_json::Value>(&status_body(
                        410, "Expired", "too old resource version (injected by the test's fault proxy)"
                    )).unwrap(),
                })
                .to_string();
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                )?;
                write_chunk(&mut out, format!("{event}\n").as_bytes())?;
                write_chunk(&mut out, b"")?;
                continue;
            }
            Some(Fault::Delay(d)) => std::thread::sleep(d),
            Some(Fault::CutWatch(d)) => cut_after = Some(Instant::now() + d),
            Some(Fault::DropResponse) => drop_response = true,
            None => {}
        }

        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(request.target.as_str());
        for (name, value) in &request.headers {
            if !matches!(
                name.as_str(),
                "host" | "connection" | "content-length" | "transfer-encoding" | "authorization"
            ) {
                builder = builder.header(name, value);
            }
        }
        let forwarded = builder
            .body(kube::client::Body::from(request.body))
            .expect("a request the client sent is a valid request");
        let response = match runtime.block_on(upstream.send(forwarded)) {
            Ok(r) => r,
            Err(e) => {
                let body = status_body(502, "BadGateway", &format!("fault proxy: {e}"));
                write!(
                    out,
                    "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                out.flush()?;
                continue;
            }
        };
        if drop_response {
            // The apiserver has acted; the client never learns it.
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
        let (parts, mut body) = response.into_parts();
        write!(
            out,
            "HTTP/1.1 {} {}\r\n",
            parts.status.as_u16(),
            parts.status.canonical_reason().unwrap_or("")
        )?;
        for (name, value) in &parts.headers {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                out.write_all(name.as_str().as_bytes())?;
                out.write_all(b": ")?;
                out.write_all(value.as_bytes())?;
                out.write_all(b"\r\n")?;
            }
        }
        out.write_all(b"transfer-encoding: chunked\r\n\r\n")?;
        out.flush()?;
        loop {
            // Wait in short slices, to notice the cut time and the proxy stopping.
            let next = loop {
                if stopped.load(Ordering::Relaxed)
                    || cut_after.is_some_and(|at| Instant::now() >= at)
                {
                    // Mid-stream: the chunked body never ends properly.
                    let _ = out.shutdown(Shutdown::Both);
                    return Ok(());
                }
                let slice = Duration::from_millis(200);
                if let Ok(frame) =
                    runtime.block_on(async { tokio::time::timeout(slice, body.frame()).await })
                {
                    break frame;
                }
            };
            match next {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        write_chunk(&mut out, &data)?;
                    }
                }
                Some(Err(_)) => {
                    let _ = out.shutdown(Shutdown::Both);
                    return Ok(());
                }
                None => break,
            }
        }
        write_chunk(&mut out, b"")?;
    }
    Ok(())
}
