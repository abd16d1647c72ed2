//! The gateway's request limits, one middleware on every route and the
//! fallback, by the route's declared [`Limit`] (`super::routes`):
//!
//! - **rate** per caller: a caller is the client's IP address as the
//!   connection shows it (an IPv6 client by its /64), so more connections do
//!   not buy more requests. A keyed GCRA limiter (`governor`) allows
//!   `gateway.rate_burst` requests at once and `gateway.rate_per_second`
//!   sustained; beyond it the answer is 429 `rate_limited` with `Retry-After`.
//!   The operators' probes ([`Limit::Probe`]: `/healthz`, `/readyz`,
//!   `/metrics`) are exempt.
//!   Callers whose allowance is full again are forgotten every
//!   [`SWEEP_INTERVAL`], which bounds the limiter's memory.
//! - **body size**: a declared Content-Length over `gateway.max_body_bytes`
//!   gets 413 `body_too_large` before a byte of the body is read; a chunked
//!   body is cut at the same size by `DefaultBodyLimit` when read (413 from
//!   [`super::handlers::parse_body`]).
//! - **time**: `gateway.request_timeout_ms` from routing to the response
//!   head, reading the body included; beyond it 503 `timeout`. The streams
//!   ([`Limit::Stream`]: `/v1/alerts/stream`, `/v1/export`) are exempt.
//!
//! [`super::serve`] puts the [`Limits`] in every request's extensions; a
//! router without them (unit tests) runs unlimited.

use super::envelope::{ApiError, ErrorCode};
use super::routes::Limit;
use crate::config::GatewayConfig;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How often callers with a full allowance again are forgotten.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

pub struct Limits {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    rate_per_second: u32,
    rate_burst: u32,
    request_timeout: Duration,
    max_body_bytes: usize,
}

impl Limits {
    pub fn new(cfg: &GatewayConfig) -> Limits {
        let limiter = NonZeroU32::new(cfg.rate_per_second).map(|rate| {
            let burst = NonZeroU32::new(cfg.rate_burst).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Limits {
            limiter,
            rate_per_second: cfg.rate_per_second,
            rate_burst: cfg.rate_burst,
            request_timeout: Duration::from_millis(cfg.request_timeout_ms),
            max_body_bytes: cfg.max_body_bytes,
        }
    }

    /// Forgets callers whose allowance is full again; answers how many are
    /// still tracked.
    pub fn sweep(&self) -> usize {
        let Some(limiter) = &self.limiter else { return 0 };
        limiter.retain_recent();
        limiter.shrink_to_fit();
        limiter.len()
    }

    /// `Err(seconds to wait)` when `caller` is over its rate.
    fn check(&self, caller: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&rate_key(caller)).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            wait.as_millis().div_ceil(1000).max(1) as u64
        })
    }
}

/// The client's IP address, from the connection.
pub fn caller_ip(request: &Request) -> Option<IpAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The rate limiter's key: an IPv4 address (IPv4-mapped IPv6 included) as
/// is, an IPv6 address by its /64, the smallest block a host is given.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// The middleware, with the route's declared [`Limit`]: rate, declared body
/// size, then the timeout.
pub async fn enforce(State(limit): State<Limit>, request: Request, next: Next) -> Response {
    let Some(limits) = request.extensions().get::<Arc<Limits>>().cloned() else { return next.run(request).await };
    if limit.rate_limited()
        && let Some(ip) = caller_ip(&request)
        && let Err(retry_after) = limits.check(ip)
    {
        let message = format!(
            "more than {} requests per second (burst {}) from {ip}: `gateway.rate_per_second`; retry after {retry_after} s",
            limits.rate_per_second, limits.rate_burst
        );
        let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, message).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return response;
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        let message = format!("the request body exceeds the limit of {} bytes", limits.max_body_bytes);
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge, message).into_response();
    }
    if !limit.timed() {
        return next.run(request).await;
    }
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let ms = limits.request_timeout.as_millis();
            // Seed 004 annex A: 504, the gateway got no answer in time.
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::Timeout,
                format!("no answer within {ms} ms (`gateway.request_timeout_ms`); retry later"),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_are_keyed_by_address_and_ipv6_by_its_64() {
        let k = |s: &str| rate_key(s.parse().unwrap()).to_string();
        assert_eq!(k("10.1.2.3"), "10.1.2.3");
        assert_eq!(k("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(k("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
    }

    #[test]
    fn a_burst_then_the_rate_and_retry_after_in_whole_seconds() {
        let cfg: GatewayConfig = toml::from_str("listen = \"127.0.0.1:1\"\nrate_per_second = 1\nrate_burst = 3").unwrap();
        let limits = Limits::new(&cfg);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.check(a), Ok(()));
        }
        assert_eq!(limits.check(a), Err(1));
        assert_eq!(limits.check(b), Ok(()), "another caller has its own allowance");
        assert_eq!(limits.sweep(), 2, "neither is full again yet");
        let off: GatewayConfig = toml::from_str("listen = \"127.0.0.1:1\"\nrate_per_second = 0").unwrap();
        let unlimited = Limits::new(&off);
        assert!((0..10_000).all(|_| unlimited.check(a).is_ok()));
    }

    async fn call(app: &axum::Router, method: &str, path: &str, content_length: Option<u64>) -> (StatusCode, Option<String>, serde_json::Value) {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(n) = content_length {
            request = request.header(header::CONTENT_LENGTH, n);
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo::<SocketAddr>("10.9.8.7:4000".parse().unwrap()));
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, retry_after, serde_json::from_slice(&body).unwrap_or_default())
    }

    #[tokio::test]
    async fn the_middleware_answers_429_413_and_503_as_envelopes_and_spares_probes_and_streams() {
        use axum::routing::{get, post};
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            "slow"
        };
        let cfg: GatewayConfig = toml::from_str("listen = \"127.0.0.1:1\"\nrate_per_second = 1\nrate_burst = 2\nmax_body_bytes = 100").unwrap();
        let limits = Limits { request_timeout: Duration::from_millis(50), ..Limits::new(&cfg) };
        let limited = |limit: Limit| axum::middleware::from_fn_with_state(limit, enforce);
        let app = axum::Router::new()
            .route("/slow", get(slow).layer(limited(Limit::Request)))
            .route("/upload", post(|| async { "stored" }).layer(limited(Limit::Request)))
            .route("/healthz", get(|| async { "alive" }).layer(limited(Limit::Probe)))
            .layer(axum::Extension(Arc::new(limits)));

        let (status, _, env) = call(&app, "GET", "/slow", None).await;
        assert_eq!((status, env["result"]["error"].as_str()), (StatusCode::GATEWAY_TIMEOUT, Some("timeout")), "{env}");
        let (status, _, env) = call(&app, "POST", "/upload", Some(101)).await;
        assert_eq!(
            (status, env["code"].as_u64(), env["result"]["error"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some(413), Some("body_too_large"))
        );
        // The burst of 2 is spent: the next gets 429 with Retry-After; probes still answer.
        let (status, retry_after, env) = call(&app, "POST", "/upload", Some(10)).await;
        assert_eq!(
            (status, retry_after.as_deref(), env["result"]["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("1"), Some("rate_limited"))
        );
        assert!(env["message"].as_str().unwrap().contains("10.9.8.7"), "{env}");
        for _ in 0..20 {
            assert_eq!(call(&app, "GET", "/healthz", None).await.0, StatusCode::OK);
        }
        // A stream is not cut by the request timeout (and is rate limited like any route).
        let unlimited: GatewayConfig = toml::from_str("listen = \"127.0.0.1:1\"\nrate_per_second = 0").unwrap();
        let limits = Limits { request_timeout: Duration::from_millis(50), ..Limits::new(&unlimited) };
        let app = axum::Router::new().route("/v1/alerts/stream", get(slow).layer(limited(Limit::Stream))).layer(axum::Extension(Arc::new(limits)));
        assert_eq!(call(&app, "GET", "/v1/alerts/stream", None).await.0, StatusCode::OK);
    }
}
