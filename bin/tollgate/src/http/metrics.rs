//! Prometheus metrics (`prometheus-client`, OpenMetrics text): webhooks by provider and outcome, request latency by
//! route, and, sampled at scrape time, the inbox backlog and the database pool use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tollgate_policy::Provider;
use tollgate_service::query::InboxBacklog;
use tollgate_store::PoolUse;

/// The OpenMetrics text content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The methods a request's `method` label may name; any other is `other`. A client chooses the method, and every
/// distinct label value is a histogram series kept for the life of the process, so the set must be closed.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// The `method` label (and log field) of a request: one of [`KNOWN_METHODS`], or `other`.
pub fn method_label(method: &str) -> &'static str {
    KNOWN_METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// The server's metrics. Cheap to clone (shared counters).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    webhooks: Family<WebhookLabels, Counter>,
    latency: LatencyFamily,
    inbox_backlog: Family<StatusLabels, Gauge>,
    pool: Family<PoolLabels, Gauge>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tollgate");
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook deliveries by provider and outcome (applied, duplicate, ignored, failed, invalid_signature, \
             invalid_request, too_large, body_timeout, not_configured, storage_unavailable, error)",
            webhooks.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            latency.clone(),
        );
        let inbox_backlog = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "inbox_backlog",
            "Inbox events waiting: received (not yet settled) and failed (to replay), sampled at scrape",
            inbox_backlog.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections: in_use, idle, max, sampled at scrape",
            pool.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            webhooks,
            latency,
            inbox_backlog,
            pool,
        }
    }

    /// Count one webhook delivery.
    pub fn webhook(&self, provider: Provider, outcome: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                provider: provider.as_str(),
                outcome,
            })
            .inc();
    }

    /// Record one request's latency. `method` is a [`method_label`] and `route` a route template (or
    /// `unmatched`): both come from closed sets, never from the client's bytes.
    pub fn request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        self.latency
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Set the sampled gauges.
    pub fn sample(&self, backlog: Option<InboxBacklog>, pool: PoolUse) {
        if let Some(backlog) = backlog {
            for (status, count) in [("received", backlog.received), ("failed", backlog.failed)] {
                self.inbox_backlog
                    .get_or_create(&StatusLabels { status })
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
        let in_use = pool.connections.saturating_sub(pool.idle);
        for (state, value) in [("in_use", in_use), ("idle", pool.idle), ("max", pool.max)] {
            self.pool
                .get_or_create(&PoolLabels { state })
                .set(i64::from(value));
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_methods_become_labels() {
        for known in KNOWN_METHODS {
            assert_eq!(method_label(known), known);
        }
        for other in ["XYZ1", "get", "PROPFIND", "", &"A".repeat(120_000)] {
            assert_eq!(method_label(other), "other");
        }
    }
}
