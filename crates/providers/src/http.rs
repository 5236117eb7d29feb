//! The HTTP core every provider client shares: base URL, bearer auth, timeouts, bounded retries on 429/5xx that
//! honour `Retry-After`, error classification and structured logging, the provider's deprecation notices
//! (`notice.rs`) and what of an error body may be logged (`scrub.rs`).
//!
//! Every URL is built from path segments that are percent-encoded one by one, and a segment that is empty, `.` or
//! `..` is refused before anything is sent, so no input (a license key of `..`, say) can change which route is
//! called.

mod notice;
mod scrub;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tollgate_policy::Provider;

use crate::error::{ApiError, UnreachableCause};
use crate::webhook::last4;
use notice::NoticeLog;
pub use notice::ProviderNotice;
use scrub::scrub;

/// The future every API trait method returns: boxed so the traits stay object-safe (`Arc<dyn WhopApi>`).
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// A provider API key. `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Bounded retries on 429 and 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; each further retry doubles it, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client waits for. A longer one is capped to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0-based), given the server's `Retry-After`, if any.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => {
                let factor = 1_u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
                self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
            }
        }
    }
}

/// How to reach one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Scheme, host and port only (`https://api.whop.com`); the client appends the documented paths.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`. `None` sends no auth header.
    pub api_key: Option<ApiKey>,
    pub connect_timeout: Duration,
    /// The whole request, per attempt.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// Whether a base URL points at this machine (`localhost`, `127.0.0.0/8`, `::1`): the fakes of tests, `tollgate
/// dev` and `simulate`. `false` for anything that is not a URL.
pub fn is_loopback_base(base_url: &str) -> bool {
    let Ok(url) = Url::parse(base_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Per-call context carried into the logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The request id of the inbound request that caused this call, if any.
    pub request_id: Option<String>,
}

impl CallContext {
    pub fn with_request_id(request_id: impl Into<String>) -> Self {
        CallContext {
            request_id: Some(request_id.into()),
        }
    }
}

/// A provider's answer that the operation maps to its own outcome (any 2xx or 4xx except 429).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The `Deprecation`/`Sunset` notice the answer carried, if any (already logged).
    pub(crate) notice: Option<ProviderNotice>,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or `InvalidResponse`.
    pub(crate) fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::InvalidResponse {
            status: self.status,
            reason: e.to_string(),
        })
    }

    pub(crate) fn json_or_null(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request: the real path segments, a route template for logs (no keys in it), and the secret values to
/// scrub from any logged error body.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) segments: &'a [&'a str],
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) route: &'static str,
    pub(crate) body: Option<Value>,
    pub(crate) membership_id: Option<&'a str>,
    /// A license key in the path or body: logged as its last 4 characters, scrubbed from error bodies.
    pub(crate) secret: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, route: &'static str, segments: &'a [&'a str]) -> Self {
        Request {
            method,
            segments,
            query: Vec::new(),
            route,
            body: None,
            membership_id: None,
            secret: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HttpCore {
    client: reqwest::Client,
    base: Url,
    api_key: Option<ApiKey>,
    retry: RetryPolicy,
    provider: Provider,
    /// Sent on every request (Whop's `Api-Version-Date`).
    headers: HeaderMap,
    notices: Arc<NoticeLog>,
}

impl HttpCore {
    pub(crate) fn new(provider: Provider, config: &ClientConfig) -> Result<HttpCore, ApiError> {
        let base = Url::parse(&config.base_url)
            .map_err(|e| ApiError::Config(format!("{provider} base URL `{}`: {e}", config.base_url)))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "{provider} base URL `{}` is not an http(s) URL",
                config.base_url
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| ApiError::Config(format!("{provider} HTTP client: {e}")))?;
        Ok(HttpCore {
            client,
            base,
            api_key: config.api_key.clone(),
            retry: config.retry.clone(),
            provider,
            headers: HeaderMap::new(),
            notices: Arc::new(NoticeLog::default()),
        })
    }

    /// Send this header on every request.
    pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Result<HttpCore, ApiError> {
        let value = HeaderValue::from_str(value).map_err(|_| {
            ApiError::Config(format!(
                "{} header {name}: `{value}` is not a valid value",
                self.provider
            ))
        })?;
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(self)
    }

    /// The URL of a request: the base, then each segment percent-encoded on its own (a `/` inside a segment
    /// becomes `%2F`). An empty, `.` or `..` segment is refused: the URL library would drop or resolve it, and the
    /// call would reach another route.
    fn url(&self, request: &Request<'_>) -> Result<Url, ApiError> {
        if let Some(bad) = request
            .segments
            .iter()
            .find(|s| s.is_empty() || **s == "." || **s == "..")
        {
            return Err(ApiError::UnsafeInput(format!(
                "path segment `{bad}` in {} would change the route",
                request.route
            )));
        }
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(request.segments);
        }
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(request.query.iter());
        }
        Ok(url)
    }

    /// Sends with retries. Returns any 2xx/4xx (except 429) for the caller to map; 5xx and 429 are retried and
    /// become `Unreachable` / `RateLimited` once the retries run out.
    pub(crate) async fn send(&self, ctx: &CallContext, request: &Request<'_>) -> Result<Reply, ApiError> {
        let url = self.url(request)?;
        let mut retry = 0;
        loop {
            let started = Instant::now();
            let result = self.attempt(&url, request).await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (status, retry_after, body, notice) = match result {
                Ok(parts) => parts,
                Err(cause) => {
                    self.log_unreachable(ctx, request, cause, duration_ms);
                    return Err(ApiError::Unreachable(cause));
                }
            };
            if let Some(notice) = &notice {
                self.log_notice(request, notice);
            }
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            self.log_reply(ctx, request, status.as_u16(), duration_ms, &body, retryable);
            if !retryable {
                return Ok(Reply {
                    status: status.as_u16(),
                    body,
                    notice,
                });
            }
            if retry >= self.retry.max_retries {
                return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                    ApiError::RateLimited {
                        retry_after_secs: retry_after.map(|d| d.as_secs()),
                    }
                } else {
                    ApiError::Unreachable(UnreachableCause::ServerError {
                        status: status.as_u16(),
                    })
                });
            }
            tokio::time::sleep(self.retry.delay(retry, retry_after)).await;
            retry += 1;
        }
    }

    async fn attempt(
        &self,
        url: &Url,
        request: &Request<'_>,
    ) -> Result<(StatusCode, Option<Duration>, Vec<u8>, Option<ProviderNotice>), UnreachableCause> {
        let mut builder = self
            .client
            .request(request.method.clone(), url.clone())
            .headers(self.headers.clone());
        if let Some(key) = &self.api_key {
            builder = builder.header(AUTHORIZATION, format!("Bearer {}", key.expose()));
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(classify)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let notice = ProviderNotice::from_headers(response.headers());
        let body = response.bytes().await.map_err(classify)?;
        Ok((status, retry_after, body.to_vec(), notice))
    }

    /// A deprecation notice: WARN once per route per UTC day.
    fn log_notice(&self, request: &Request<'_>, notice: &ProviderNotice) {
        let day = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() / 86_400);
        let day = i64::try_from(day).unwrap_or(i64::MAX);
        if !self.notices.first_today(request.route, day) {
            return;
        }
        let described = notice.describe();
        log::warn!(
            provider = self.provider.as_str(), method = request.method.as_str(), route = request.route,
            notice = described.as_str();
            "the provider announced that this API route is deprecated or will stop working: plan the upgrade \
             (docs/providers.md); this warning repeats once a day"
        );
    }

    fn log_reply(
        &self,
        ctx: &CallContext,
        request: &Request<'_>,
        status: u16,
        duration_ms: u64,
        body: &[u8],
        retrying: bool,
    ) {
        let provider = self.provider.as_str();
        let request_id = ctx.request_id.as_deref();
        let key_last4 = request.secret.map(last4);
        let method = request.method.as_str();
        if (200..300).contains(&status) {
            log::debug!(
                provider = provider, request_id = request_id, membership_id = request.membership_id,
                key_last4 = key_last4, method = method, route = request.route, status = status,
                duration_ms = duration_ms;
                "provider call succeeded"
            );
        } else {
            let error_body = scrub(body, request.secret);
            log::warn!(
                provider = provider, request_id = request_id, membership_id = request.membership_id,
                key_last4 = key_last4, method = method, route = request.route, status = status,
                duration_ms = duration_ms, retrying = retrying, error_body = error_body.as_str();
                "provider call failed"
            );
        }
    }

    fn log_unreachable(
        &self,
        ctx: &CallContext,
        request: &Request<'_>,
        cause: UnreachableCause,
        duration_ms: u64,
    ) {
        let cause = cause.to_string();
        log::warn!(
            provider = self.provider.as_str(), request_id = ctx.request_id.as_deref(),
            membership_id = request.membership_id, key_last4 = request.secret.map(last4),
            method = request.method.as_str(), route = request.route, duration_ms = duration_ms,
            cause = cause.as_str();
            "provider unreachable"
        );
    }
}

fn classify(error: reqwest::Error) -> UnreachableCause {
    if error.is_timeout() {
        UnreachableCause::Timeout
    } else if error.is_connect() {
        UnreachableCause::Connect
    } else {
        UnreachableCause::Transport
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the backoff applies instead).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// The provider's own error message: `error.message`, then `message`, then `detail` (string form).
pub(crate) fn error_message(body: &Value) -> Option<String> {
    let nested = body.get("error").and_then(|e| e.get("message"));
    [nested, body.get("message"), body.get("detail")]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
}

/// `Rejected` from a 4xx reply, with the provider's `code` and message when the body has them.
pub(crate) fn rejected(reply: &Reply) -> ApiError {
    let body = reply.json_or_null();
    let code = body
        .get("code")
        .or_else(|| body.get("error").and_then(|e| e.get("status")))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    ApiError::Rejected {
        status: reply.status,
        code,
        message: error_message(&body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_and_retry_after_is_capped() {
        let policy = RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(3),
        };
        assert_eq!(policy.delay(0, None), Duration::from_millis(100));
        assert_eq!(policy.delay(1, None), Duration::from_millis(200));
        assert_eq!(policy.delay(2, None), Duration::from_millis(350));
        assert_eq!(policy.delay(40, None), Duration::from_millis(350));
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn error_message_prefers_nested_then_top_level_then_detail() {
        let both = serde_json::json!({"error": {"message": "inner"}, "message": "outer"});
        assert_eq!(error_message(&both).as_deref(), Some("inner"));
        assert_eq!(
            error_message(&serde_json::json!({"message": "outer"})).as_deref(),
            Some("outer")
        );
        assert_eq!(
            error_message(&serde_json::json!({"detail": "d"})).as_deref(),
            Some("d")
        );
        assert_eq!(
            error_message(&serde_json::json!({"detail": [{"msg": "x"}]})),
            None
        );
    }

    #[test]
    fn api_key_is_redacted() {
        let key = ApiKey::new("sk_live_secret");
        assert_eq!(format!("{key:?} {key}"), "[redacted] [redacted]");
    }
}
