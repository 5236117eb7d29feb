//! Realistic webhook bodies for the simulator, shaped like the shared fixtures (and the providers' documented
//! payloads), with fresh ids and times so each one is a new delivery that applies now. Each provider's adapter
//! builds them (`ProviderAdapter::simulated_body`) from its `sample` in `tollgate-providers`, shared with the load
//! bench.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_providers::Registry;

use crate::cli::guide::guide;

/// The events the simulator can build, per provider, in registry order.
pub fn events() -> Vec<(Provider, &'static str)> {
    Registry::shared()
        .adapters()
        .flat_map(|adapter| {
            let provider = adapter.provider();
            adapter
                .simulated_events()
                .iter()
                .map(move |event| (provider, *event))
        })
        .collect()
}

/// A built delivery body and whom it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    pub body: Value,
    pub external_id: String,
    pub subject: String,
}

/// The ids a template uses unless told otherwise.
pub fn default_ids(provider: Provider) -> (&'static str, &'static str) {
    let guide = guide(provider);
    (guide.example_external_id, guide.example_subject)
}

/// The event's body at `now`, or `None` when there is no template for it. `unique` makes the delivery's own ids
/// (envelope id, event id and idempotency key) new.
pub fn build(
    provider: Provider,
    event: &str,
    now: DateTime<Utc>,
    external_id: Option<&str>,
    subject: Option<&str>,
    unique: &str,
) -> Option<Simulated> {
    let (default_external, default_subject) = default_ids(provider);
    let external_id = external_id.unwrap_or(default_external).to_owned();
    let subject = subject.unwrap_or(default_subject).to_owned();
    let body =
        Registry::shared()
            .get(provider)?
            .simulated_body(event, now, &external_id, &subject, unique)?;
    Some(Simulated {
        body,
        external_id,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_listed_event_has_a_template_and_others_do_not() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(events().len(), 7);
        for (provider, event) in events() {
            let built = build(provider, event, now, None, None, "u1").unwrap();
            assert_eq!(built.external_id, default_ids(provider).0);
            let text = built.body.to_string();
            assert!(text.contains(event), "{provider} {event}");
        }
        assert_eq!(
            build(Provider::Whop, "payment.succeeded", now, None, None, "u1"),
            None
        );
        assert_eq!(
            build(Provider::Dodo, "membership.activated", now, None, None, "u1"),
            None
        );
    }

    #[test]
    fn ids_and_times_are_filled_in() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let built = build(
            Provider::Whop,
            "membership.activated",
            now,
            Some("mem_x"),
            Some("user_y"),
            "abc",
        )
        .unwrap();
        assert_eq!(built.body["id"], "msg_abc");
        assert_eq!(built.body["data"]["id"], "mem_x");
        assert_eq!(built.body["data"]["user"]["id"], "user_y");
        assert_eq!(built.body["timestamp"], "2026-11-22T12:00:00.000Z");
        assert_eq!(
            built.body["data"]["renewal_period_end"],
            "2026-12-22T12:00:00.000Z"
        );
    }
}
