//! `activate`: the fake Whop's own latency measured by calling it directly, then activations through the server
//! (each one calls the same fake), in the same run; Tollgate's overhead is the difference.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tollgate_providers::whop::DEFAULT_API_VERSION;
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::{FakeProvider as _, Fault};

use crate::error::BenchError;
use crate::load::{Limit, Prepared};
use crate::report::{Comparison, Report};
use crate::run::{Env, clear_fakes, fake_base, parse_duration};
use crate::scenario::validate::{ListSource, hwid, license_request, send_key_webhooks};
use crate::server::ServerProcess;

/// The two calls Tollgate's Whop client makes for a new activation, as it sends them: `GET
/// /api/v1/memberships/{key}`, then `PATCH /api/v1/memberships/{mem_id}` with the binding.
fn direct_requests(key: &str, membership_id: &str, tag: &str) -> [Prepared; 2] {
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {}", FakeWhop::API_KEY)),
        ("api-version-date", DEFAULT_API_VERSION.to_owned()),
    ];
    [
        Prepared {
            method: Method::GET,
            path: format!("/api/v1/memberships/{key}"),
            headers: headers.clone(),
            body: Vec::new(),
        },
        Prepared {
            method: Method::PATCH,
            path: format!("/api/v1/memberships/{membership_id}"),
            headers,
            body: json!({"metadata": {"tollgate_devices": tag}})
                .to_string()
                .into_bytes(),
        },
    ]
}

/// `GET /api/v1/memberships/{id}`: the path with its key or membership id replaced.
fn call_kind(method: &str, path: &str) -> String {
    let template: Vec<&str> = path
        .split('/')
        .enumerate()
        .map(|(i, segment)| if i == 4 { "{id}" } else { segment })
        .collect();
    format!("{method} {}", template.join("/"))
}

pub async fn run(mut env: Env) -> Result<Report, BenchError> {
    let count = match env.limit {
        Limit::Requests(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Limit::Duration(_) => env.args.licenses,
    };
    if count == 0 || count > 1_000_000 {
        return Err(BenchError::usage("--licenses", "activations must be 1..=1000000"));
    }
    let latency = parse_duration(&env.args.provider_latency)?;
    let ids = env.ids.clone();
    let direct_key = |i: usize| format!("TGB-{}-D{i:07}", ids.nonce.to_ascii_uppercase());
    let mut server = env.start_tollgate().await?;
    env.settle_initial_reconcile().await;
    for i in 0..count {
        let n = i as u32;
        env.fakes
            .whop
            .add_membership(FakeMembership::new(ids.whop_membership(n), ids.whop_key(n)));
        env.fakes.whop.add_membership(FakeMembership::new(
            format!("mem_{}d{i}", ids.nonce),
            direct_key(i),
        ));
    }
    if env.args.known_keys {
        // The purchase webhook arrived before the first activation: the key is known locally.
        send_key_webhooks(&mut env, &server, count, "activate").await?;
    }
    if !latency.is_zero() {
        env.fakes.whop.fail_always(Fault::Slow(latency));
    }
    let limit = env.limit;

    let fake = ServerProcess::external("fake whop", fake_base(&env.fakes.whop.base_url())?, None);
    let direct: Vec<Prepared> = (0..count)
        .flat_map(|i| {
            direct_requests(
                &direct_key(i),
                &format!("mem_{}d{i}", ids.nonce),
                &format!("{i:016x}"),
            )
        })
        .collect();
    env.phase(
        "provider-direct",
        &fake,
        Arc::new(ListSource::new(direct, false)),
        limit,
    )
    .await;

    let before = env.fakes.whop.request_count();
    let activations: Vec<Prepared> = (0..count)
        .map(|i| license_request("activate", &ids.whop_key(i as u32), &hwid(i)))
        .collect();
    let outcome = env
        .phase(
            "activate",
            &server,
            Arc::new(ListSource::new(activations, false)),
            limit,
        )
        .await;
    let calls = env.fakes.whop.request_count().saturating_sub(before);
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for request in env.fakes.whop.requests().iter().skip(before) {
        *kinds
            .entry(call_kind(&request.method, &request.path))
            .or_default() += 1;
    }
    server.stop();
    clear_fakes(&env.fakes);
    env.notes.push(format!(
        "fake Whop added latency {} ms; {calls} provider calls for {} activations ({:.2} per activation: {})",
        latency.as_secs_f64() * 1000.0,
        outcome.sent,
        calls as f64 / outcome.sent.max(1) as f64,
        kinds
            .iter()
            .map(|(kind, n)| format!("{n} × {kind}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // Tollgate's overhead: the activation minus the provider calls it made, each at the direct call's latency.
    let per_activation = calls as f64 / outcome.sent.max(1) as f64;
    let find = |name: &str| env.phases.iter().find(|p| p.name == name).map(|p| p.latency);
    if let (Some(activate), Some(direct)) = (find("activate"), find("provider-direct")) {
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        let overheads = [
            ("p50", activate.p50_ms - per_activation * direct.p50_ms, Some(1.0)),
            ("p90", activate.p90_ms - per_activation * direct.p90_ms, None),
            ("p99", activate.p99_ms - per_activation * direct.p99_ms, None),
        ];
        for (name, value, max) in overheads {
            env.comparisons.push(Comparison {
                name: format!("activation overhead at {name}"),
                value: Some(round(value)),
                unit: " ms",
                target: max.map(|m| format!("< {m} ms")),
                met: max.map(|m| value < m),
            });
        }
    }
    env.rss_target("activate");
    Ok(env.into_report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_calls_are_grouped_by_route() {
        assert_eq!(
            call_kind("GET", "/api/v1/memberships/TGB-1"),
            "GET /api/v1/memberships/{id}"
        );
        assert_eq!(
            call_kind("PATCH", "/api/v1/memberships/mem_1"),
            "PATCH /api/v1/memberships/{id}"
        );
        assert_eq!(call_kind("GET", "/api/v1/memberships"), "GET /api/v1/memberships");
    }
}
