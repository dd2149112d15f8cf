//! Retries at the cluster boundary: every request the client sends goes through [`Retry`].
//!
//! - What is retried: requests that are safe to send twice. Reads, server-side apply, merge
//!   patches, JSON patches guarded by a `test` op, PUT with a resourceVersion and DELETE are
//!   idempotent; they are retried after a 429, 500, 502, 503 or 504, a reset or refused
//!   connection, or no answer in time (twice without an answer ends it:
//!   [`MAX_UNANSWERED`]). A POST (create) is retried only when the server cannot
//!   have acted on it: a 429 (priority and fairness rejects before any processing) or a
//!   refused connection (nothing was sent).
//! - How long: capped exponential backoff with jitter ([`Backoff`]); a `Retry-After` header
//!   (seconds) is honoured when it fits the cap. A bounded number of attempts, so a permanent
//!   failure is reported within seconds, not retried until the deadline.
//! - Deadline: once the sync's `--timeout` is set ([`Deadline`]), no attempt waits past it and
//!   no retry starts after it, so a hung apiserver cannot hold a sync beyond its deadline.
//! - Watches and log follows are streams: they pass through untouched. Their consumer
//!   (`kube::runtime::watcher`) re-establishes them from the last resourceVersion with its own
//!   backoff, and relists on 410 Gone.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt};

/// Retries after the first attempt, at most.
pub const MAX_RETRIES: u32 = 8;
/// The first backoff; each retry doubles it, up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// The longest backoff between two attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured; a server asking for more gets its error reported.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// How long one (non-streaming) attempt may wait for its response headers.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts that got no answer within [`ATTEMPT_TIMEOUT`] before a request gives up: an
/// apiserver that accepts requests and never answers (its etcd gone) would otherwise hold one
/// request for 9 × 30 s.
pub const MAX_UNANSWERED: u32 = 2;
/// After the deadline, requests (clean-up: SyncFail hooks, the lease) still get this long each.
pub const AFTER_DEADLINE_TIMEOUT: Duration = Duration::from_secs(5);

/// A request extension: send it once, never again (a probe that is itself repeated, such as
/// [`crate::cluster::Cluster::readiness`], must report a failure at once).
#[derive(Debug, Clone, Copy)]
pub struct SingleAttempt;

/// The sync's deadline, shared with every request of a client.
#[derive(Clone, Default)]
pub struct Deadline(Arc<Mutex<Option<Instant>>>);

impl Deadline {
    pub fn set(&self, at: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Capped exponential backoff with "equal jitter": attempt n waits between half and all of
/// `min(cap, base * 2^n)`, so clients that failed together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The ceiling of the wait before retry `attempt` (0-based), before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `attempt`, `unit` in [0, 1) choosing within the jitter range.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A number in [0, 1), different on each call (jitter; not for anything secret).
pub fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What may be done again with a request after it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// A watch or a followed log: passed through, never retried or timed out here.
    Stream,
    /// Safe to send again whatever happened to the first one.
    Idempotent,
    /// A create: only when the server cannot have acted on it.
    OnlyIfNotProcessed,
}

/// How a request may be replayed, from its method and query.
pub fn replay_of(method: &Method, uri: &http::Uri) -> Replay {
    let query = uri.query().unwrap_or("");
    let streaming = query
        .split('&')
        .any(|pair| pair == "watch=true" || pair == "watch=1" || pair == "follow=true");
    if streaming {
        Replay::Stream
    } else if *method == Method::POST {
        Replay::OnlyIfNotProcessed
    } else {
        Replay::Idempotent
    }
}

/// Whether a response status is worth another attempt.
pub fn retryable_status(status: StatusCode, replay: Replay) -> bool {
    match replay {
        Replay::Stream => false,
        Replay::OnlyIfNotProcessed => status == StatusCode::TOO_MANY_REQUESTS,
        Replay::Idempotent => matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        ),
    }
}

/// Whether a transport error shows the request never reached the server.
fn connection_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// `Retry-After` in seconds (the apiserver never sends an HTTP date).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A request that did not get an answer within its attempt's time.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the apiserver within {0:?} ({1} {2})")]
pub struct NoAnswer(Duration, Method, String);

/// The layer that adds [`Retry`] to a client's service stack.
#[derive(Clone)]
pub struct RetryLayer {
    pub deadline: Deadline,
    pub retries: Arc<AtomicU64>,
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            deadline: self.deadline.clone(),
            retries: self.retries.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct Retry<S> {
    inner: S,
    deadline: Deadline,
    retries: Arc<AtomicU64>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Body>> for Retry<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each call drives its own clone of the inner service to readiness.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let deadline = self.deadline.get();
        let retries = self.retries.clone();
        Box::pin(send_with_retries(inner, request, deadline, retries))
    }
}

fn copy_request(request: &Request<Body>) -> Option<Request<Body>> {
    let body = request.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

async fn send_with_retries<S, B>(
    inner: S,
    request: Request<Body>,
    deadline: Option<Instant>,
    retries: Arc<AtomicU64>,
) -> Result<Response<B>, BoxError>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let replay = replay_of(request.method(), request.uri());
    if replay == Replay::Stream {
        return inner.oneshot(request).await;
    }
    let backoff = Backoff {
        base: BACKOFF_BASE,
        cap: BACKOFF_CAP,
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let max_retries = if request.extensions().get::<SingleAttempt>().is_some() {
        0
    } else {
        MAX_RETRIES
    };
    let mut request = request;
    let mut attempt = 0u32;
    let mut unanswered = 0u32;
    loop {
        let spare = if attempt < max_retries {
            copy_request(&request)
        } else {
            None
        };
        let now = Instant::now();
        let wait = match deadline {
            Some(d) if d > now => (d - now).clamp(AFTER_DEADLINE_TIMEOUT, ATTEMPT_TIMEOUT),
            Some(_) => AFTER_DEADLINE_TIMEOUT,
            None => ATTEMPT_TIMEOUT,
        };
        let result = match tokio::time::timeout(wait, inner.clone().oneshot(request)).await {
            Ok(result) => result,
            Err(_) => {
                unanswered += 1;
                Err(NoAnswer(wait, method.clone(), path.clone()).into())
            }
        };
        if unanswered >= MAX_UNANSWERED {
            return result;
        }
        let server_wait = match &result {
            Ok(response) if retryable_status(response.status(), replay) => {
                Some(retry_after(response.headers()))
            }
            Ok(_) => None,
            Err(e) => {
                let again = match replay {
                    Replay::Idempotent => true,
                    Replay::OnlyIfNotProcessed => connection_refused(e.as_ref()),
                    Replay::Stream => false,
                };
                again.then_some(None)
            }
        };
        let (Some(server_wait), Some(next)) = (server_wait, spare) else {
            return result;
        };
        let mut pause = backoff.delay(attempt, random_unit());
        if let Some(asked) = server_wait {
            if asked > RETRY_AFTER_CAP {
                return result;
            }
            pause = pause.max(asked);
        }
        if deadline.is_some_and(|d| Instant::now() + pause >= d) {
            return result;
        }
        drop(result);
        tokio::time::sleep(pause).await;
        retries.fetch_add(1, Ordering::Relaxed);
        attempt += 1;
        request = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(200));
        assert_eq!(b.ceiling(1), Duration::from_millis(400));
        assert_eq!(b.ceiling(4), Duration::from_millis(3200));
        assert_eq!(b.ceiling(5), Duration::from_secs(5));
        assert_eq!(b.ceiling(40), Duration::from_secs(5));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(400));
        let top = b.delay(2, 0.999_999);
        assert!(top > Duration::from_millis(799) && top < Duration::from_millis(800));
        for _ in 0..100 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn streams_pass_creates_replay_only_when_not_processed() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(
            replay_of(
                &Method::GET,
                &uri("/api/v1/pods?watch=true&resourceVersion=5")
            ),
            Replay::Stream
        );
        assert_eq!(
            replay_of(
                &Method::GET,
                &uri("/api/v1/namespaces/a/pods/p/log?follow=true")
            ),
            Replay::Stream
        );
        assert_eq!(
            replay_of(
                &Method::PATCH,
                &uri("/api/v1/namespaces/a/configmaps/x?fieldManager=m")
            ),
            Replay::Idempotent
        );
        assert_eq!(
            replay_of(&Method::POST, &uri("/api/v1/namespaces/a/configmaps")),
            Replay::OnlyIfNotProcessed
        );
        let idem = Replay::Idempotent;
        assert!(retryable_status(StatusCode::TOO_MANY_REQUESTS, idem));
        assert!(retryable_status(StatusCode::INTERNAL_SERVER_ERROR, idem));
        assert!(retryable_status(StatusCode::SERVICE_UNAVAILABLE, idem));
        assert!(!retryable_status(StatusCode::CONFLICT, idem));
        assert!(!retryable_status(StatusCode::UNPROCESSABLE_ENTITY, idem));
        let post = Replay::OnlyIfNotProcessed;
        assert!(retryable_status(StatusCode::TOO_MANY_REQUESTS, post));
        assert!(!retryable_status(StatusCode::SERVICE_UNAVAILABLE, post));
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_refused_connection_is_found_in_the_error_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error")]
        struct Outer(#[source] std::io::Error);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(connection_refused(&refused));
        let reset = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!connection_refused(&reset));
    }
}
