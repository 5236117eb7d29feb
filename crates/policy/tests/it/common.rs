//! Helpers shared by the integration tests.

use chrono::{DateTime, TimeZone, Utc};
use tollgate_policy::{EntitlementState, EventKind, Provider, ProviderEvent};

/// A fixed base time (2027-01-15T08:00:00Z) plus `secs`.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

pub fn event(provider: Provider, external_id: &str, at: DateTime<Utc>, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider,
        external_id: external_id.to_owned(),
        occurred_at: at,
        subject: Some("user_1".to_owned()),
        product: Some("prod_1".to_owned()),
        kind,
    }
}

pub fn whop(at: DateTime<Utc>, kind: EventKind) -> ProviderEvent {
    event(Provider::Whop, "mem_1", at, kind)
}

pub fn fold(state: EntitlementState, events: &[ProviderEvent]) -> EntitlementState {
    events.iter().fold(state, |s, e| tollgate_policy::apply(&s, e))
}

pub fn activated(status: &str, paid_through: Option<DateTime<Utc>>) -> EventKind {
    EventKind::Activated {
        status: Some(status.to_owned()),
        paid_through,
        cancel_at_period_end: Some(false),
        features: Vec::new(),
    }
}

pub fn updated(status: &str) -> EventKind {
    EventKind::Updated {
        status: status.to_owned(),
        paid_through: None,
        cancel_at_period_end: None,
    }
}
