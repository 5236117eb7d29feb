//! `validate`: M Whop licenses (webhooks carrying their keys, then one activation each, as set-up), then
//! keep-alive revalidations cycling over them, against the ceiling and the server.

use std::sync::Arc;

use serde_json::json;
use tollgate_providers::whop::fake::FakeMembership;

use crate::bodies::{EventBody, whop_membership_event};
use crate::error::BenchError;
use crate::load::{Limit, Prepared, Source};
use crate::plan::{Delivery, Provider};
use crate::report::Report;
use crate::run::Env;
use crate::scenario::ingest::IngestSource;
use crate::server::ServerProcess;

/// A fixed list of requests, optionally cycled.
#[derive(Debug)]
pub struct ListSource {
    requests: Vec<Prepared>,
    cycle: bool,
}

impl ListSource {
    pub fn new(requests: Vec<Prepared>, cycle: bool) -> ListSource {
        ListSource { requests, cycle }
    }
}

impl Source for ListSource {
    fn get(&self, index: u64) -> Option<Prepared> {
        let len = self.requests.len() as u64;
        if len == 0 {
            return None;
        }
        let index = if self.cycle { index % len } else { index };
        self.requests.get(usize::try_from(index).ok()?).cloned()
    }
}

/// The hwid the bench gives license `i`.
pub fn hwid(i: usize) -> String {
    format!("bench-device-{i:07}-5f0c7d0e9a1b")
}

/// `POST /api/license/{action}` with `{"license_key", "hwid"}` (and a device name for activation).
pub fn license_request(action: &str, key: &str, hwid: &str) -> Prepared {
    let body = if action == "activate" {
        json!({"license_key": key, "hwid": hwid, "device_name": "bench machine"})
    } else {
        json!({"license_key": key, "hwid": hwid})
    };
    Prepared::post_json(&format!("/api/license/{action}"), body.to_string().into_bytes())
}

/// Fails the set-up unless every request of `name` got a 2xx, naming the errors (e.g. 404 while the license
/// endpoints have not landed).
fn require_all(env: &Env, name: &str, expected: usize, scenario: &'static str) -> Result<(), BenchError> {
    let Some(phase) = env.phases.iter().find(|p| p.name == name) else {
        return Err(BenchError::setup(scenario, format!("{name} did not run")));
    };
    if phase.ok as usize == expected {
        return Ok(());
    }
    let errors: Vec<String> = phase
        .errors
        .iter()
        .map(|e| {
            format!(
                "{} {} × {}",
                e.status.map_or("no answer".to_owned(), |s| s.to_string()),
                e.code,
                e.count
            )
        })
        .collect();
    Err(BenchError::setup(
        scenario,
        format!(
            "{name}: {} of {expected} got a 2xx ({})",
            phase.ok,
            errors.join(", ")
        ),
    ))
}

/// Set-up: a Whop `membership.activated` webhook per license (the fake Whop's memberships `0..m`), carrying its
/// key, so each license is known locally; every one must get a 2xx.
pub async fn send_key_webhooks(
    env: &mut Env,
    server: &ServerProcess,
    m: usize,
    scenario: &'static str,
) -> Result<(), BenchError> {
    let ids = env.ids.clone();
    let hooks: Vec<EventBody> = (0..m)
        .map(|i| {
            let n = i as u32;
            let webhook_id = format!("msg_{}v{i}", ids.nonce);
            let body = whop_membership_event(
                &webhook_id,
                "membership.activated",
                "active",
                &ids.whop_membership(n),
                &ids.whop_key(n),
                ids.base_unix,
                ids.base_unix,
            );
            EventBody {
                provider: Provider::Whop,
                webhook_id,
                body: body.to_string(),
            }
        })
        .collect();
    let deliveries = (0..m)
        .map(|event| Delivery {
            event,
            duplicate: false,
        })
        .collect();
    let source = IngestSource::new(Arc::new(hooks), Arc::new(deliveries), env.secrets.clone(), false);
    env.phase(
        "setup-webhooks",
        server,
        Arc::new(source),
        Limit::Requests(m as u64),
    )
    .await;
    require_all(env, "setup-webhooks", m, scenario)
}

pub async fn run(mut env: Env) -> Result<Report, BenchError> {
    let m = env.args.licenses;
    if m == 0 {
        return Err(BenchError::usage("--licenses", "must be at least 1"));
    }
    let ids = env.ids.clone();
    let mut server = env.start_tollgate().await?;
    env.settle_initial_reconcile().await;
    for i in 0..m {
        let n = i as u32;
        env.fakes
            .whop
            .add_membership(FakeMembership::new(ids.whop_membership(n), ids.whop_key(n)));
    }

    send_key_webhooks(&mut env, &server, m, "validate").await?;

    // Set-up 2: one activation per license (each binds its device).
    let activations: Vec<Prepared> = (0..m)
        .map(|i| license_request("activate", &ids.whop_key(i as u32), &hwid(i)))
        .collect();
    env.phase(
        "setup-activate",
        &server,
        Arc::new(ListSource::new(activations, false)),
        Limit::Requests(m as u64),
    )
    .await;
    require_all(&env, "setup-activate", m, "validate")?;

    // Timed: the ceiling, then the server, with the same validate requests.
    let validations: Vec<Prepared> = (0..m)
        .map(|i| license_request("validate", &ids.whop_key(i as u32), &hwid(i)))
        .collect();
    let limit = env.limit;
    if !env.args.no_baseline {
        let mut ceiling = env.start_ceiling().await?;
        env.phase(
            "ceiling",
            &ceiling,
            Arc::new(ListSource::new(validations.clone(), true)),
            limit,
        )
        .await;
        ceiling.stop();
    }
    env.phase(
        "validate",
        &server,
        Arc::new(ListSource::new(validations, true)),
        limit,
    )
    .await;
    server.stop();

    if !env.args.no_baseline {
        env.ratio("validate", "ceiling", Some(0.7));
    }
    let p99 = env
        .phases
        .iter()
        .find(|p| p.name == "validate")
        .map(|p| p.latency.p99_ms);
    env.comparisons.push(crate::report::Comparison {
        name: "validate p99 latency".to_owned(),
        value: p99,
        unit: " ms",
        target: Some("< 5 ms".to_owned()),
        met: p99.map(|v| v < 5.0),
    });
    env.rss_target("validate");
    Ok(env.into_report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_source_cycles_or_ends() {
        let requests = vec![
            license_request("validate", "K1", "h1"),
            license_request("validate", "K2", "h2"),
        ];
        let once = ListSource::new(requests.clone(), false);
        assert_eq!(once.get(1).unwrap().body, br#"{"hwid":"h2","license_key":"K2"}"#);
        assert!(once.get(2).is_none());
        let cycling = ListSource::new(requests, true);
        assert_eq!(
            cycling.get(2).unwrap().body,
            br#"{"hwid":"h1","license_key":"K1"}"#
        );
        let activate = license_request("activate", "K", "h");
        assert_eq!(activate.path, "/api/license/activate");
        assert_eq!(
            activate.body,
            br#"{"device_name":"bench machine","hwid":"h","license_key":"K"}"#
        );
    }
}
