//! Runs the vectors against the Rust client: device hashes, lease verification, and scenarios (a state file, then
//! steps of `check` / `check_with_key` / `activate` / `deactivate` at a fixed clock, each against the canned server,
//! a closed port, or no server at all).

use std::sync::Arc;

use serde_json::{Value, json};
use tollgate_client::{
    Access, AccessReason, Activation, Client, ClientError, Deactivation, DeviceHash, DeviceSource, Keys,
    Lease, LeaseError, License, ManualClock,
};

use crate::conformance::canned::Canned;
use crate::conformance::fixtures::at;

#[derive(Debug, Default)]
pub struct Counts {
    pub device_hashes: usize,
    pub leases: usize,
    pub scenarios: usize,
    pub steps: usize,
}

pub async fn all(vectors: &Value) -> Counts {
    let mut counts = Counts::default();
    let client = &vectors["client"];
    let app_id = client["app_id"].as_str().unwrap();
    let keys = Keys::from_jwks_json(&client["jwks"].to_string()).unwrap();
    assert_eq!(
        keys.kids().collect::<Vec<_>>(),
        vec!["lease-1"],
        "the RSA key is skipped"
    );

    for case in vectors["device_hashes"].as_array().unwrap() {
        let hash = DeviceHash::of(
            case["app_id"].as_str().unwrap(),
            case["machine_id"].as_str().unwrap(),
        );
        assert_eq!(hash.as_str(), case["hash"].as_str().unwrap(), "{case}");
        counts.device_hashes += 1;
    }
    for case in vectors["leases"].as_array().unwrap() {
        let device = DeviceHash::of(app_id, case["machine_id"].as_str().unwrap());
        let outcome = verify_lease(case, &keys, &device);
        assert_eq!(
            outcome,
            case["expect"].as_str().unwrap(),
            "lease vector {:?}",
            case["name"]
        );
        counts.leases += 1;
    }
    let server = Canned::start();
    for scenario in vectors["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .chain(vectors["server_errors"].as_array().unwrap())
    {
        counts.steps += run_scenario(scenario, client, &keys, &server).await;
        counts.scenarios += 1;
    }
    counts
}

fn verify_lease(case: &Value, keys: &Keys, device: &DeviceHash) -> &'static str {
    let checked = (|| {
        let lease = Lease::parse(case["token"].as_str().unwrap())?;
        lease.verify_signature(keys)?;
        if let Some(aud) = case["audience"].as_str()
            && !lease.claims().aud.contains(aud)
        {
            return Err(LeaseError::WrongAudience);
        }
        lease.check_device(device)?;
        lease.check_time(at(case["now"].as_i64().unwrap()))
    })();
    match checked {
        Ok(()) => "valid",
        Err(LeaseError::Malformed(_) | LeaseError::MissingKid) => "malformed",
        Err(LeaseError::UnsupportedAlgorithm(_)) => "unsupported_algorithm",
        Err(LeaseError::UnknownKid(_)) => "unknown_kid",
        Err(LeaseError::BadSignature) => "bad_signature",
        Err(LeaseError::NotYetValid) => "not_yet_valid",
        Err(LeaseError::Expired) => "expired",
        Err(LeaseError::WrongAudience) => "wrong_audience",
        Err(LeaseError::WrongDevice) => "wrong_device",
        Err(other) => panic!("unexpected lease error {other:?}"),
    }
}

async fn run_scenario(scenario: &Value, client: &Value, keys: &Keys, server: &Canned) -> usize {
    let name = scenario["name"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state").join("license.json");
    std::fs::create_dir_all(state_path.parent().unwrap()).unwrap();
    if let Some(text) = scenario["state_text"].as_str() {
        std::fs::write(&state_path, text).unwrap();
    } else if !scenario["state"].is_null() {
        std::fs::write(&state_path, serde_json::to_vec(&scenario["state"]).unwrap()).unwrap();
    }
    let steps = scenario["steps"].as_array().unwrap();
    for (i, step) in steps.iter().enumerate() {
        let context = format!("scenario {name:?}, step {i}");
        let response = &step["response"];
        let closed = crate::conformance::fixtures::closed_port_url();
        let url = if response == "unreachable" {
            server.script(None);
            closed.as_str()
        } else {
            server.script(response.as_object().map(|_| response.clone()));
            server.url.as_str()
        };
        let client = Client::builder(url, client["app_id"].as_str().unwrap(), keys.clone())
            .state_path(&state_path)
            .clock(Arc::new(ManualClock::new(at(step["now"].as_i64().unwrap()))))
            .device(DeviceSource::Fixed(
                scenario["machine_id"].as_str().unwrap().to_owned(),
            ))
            .purchase_url(client["purchase_url"].as_str().unwrap())
            .build()
            .unwrap();
        let key = step["key"].as_str().unwrap_or_default();
        let actual = match step["call"].as_str().unwrap() {
            "check" => outcome(client.check().await, access),
            "check_with_key" => outcome(client.check_with_key(key).await, access),
            "activate" => outcome(client.activate(key).await, activation),
            "deactivate" => outcome(client.deactivate(key).await, deactivation),
            other => panic!("{context}: unknown call {other}"),
        };
        let mut expect = step["expect"].clone();
        if let Some(object) = expect.as_object_mut() {
            object.remove("note");
        }
        assert_eq!(actual, expect, "{context}");

        let requests = server.requests();
        match step.get("request") {
            Some(want) => assert_eq!(requests, vec![want.clone()], "{context}: the request sent"),
            None if response.is_object() => assert_eq!(requests.len(), 1, "{context}: one request"),
            None => assert_eq!(requests, Vec::<Value>::new(), "{context}: no request expected"),
        }
        if let Some(want) = step.get("state_after") {
            check_state(&state_path, want, &context);
        }
    }
    steps.len()
}

fn check_state(path: &std::path::Path, want: &Value, context: &str) {
    if want.is_null() {
        assert!(!path.exists(), "{context}: the state file is gone");
        return;
    }
    let stored: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for (field, value) in want.as_object().unwrap() {
        let got = match field.as_str() {
            "last_server_time" => json!(
                chrono::DateTime::parse_from_rfc3339(stored[field].as_str().unwrap())
                    .unwrap()
                    .timestamp()
            ),
            _ => stored[field].clone(),
        };
        assert_eq!(&got, value, "{context}: state field {field}");
    }
}

fn outcome<T>(result: Result<T, ClientError>, ok: impl Fn(T) -> Value) -> Value {
    match result {
        Ok(value) => ok(value),
        Err(err) => json!({"error": error(&err)}),
    }
}

fn error(err: &ClientError) -> Value {
    let action = err.action();
    json!({"code": err.code(), "message": err.message(), "action": {"kind": action.kind(), "label": action.label()}})
}

fn license(license: &License) -> Value {
    json!({
        "entitlement_id": license.entitlement_id, "product": license.product, "plan": license.plan,
        "status": license.status, "features": license.features, "key_last4": license.key_last4,
        "lease_issued_at": license.lease_issued_at.timestamp(),
        "lease_expires_at": license.lease_expires_at.timestamp(),
        "refresh_after": license.refresh_after.timestamp(),
    })
}

fn access(access: Access) -> Value {
    let (reason, cause) = match &access.reason {
        AccessReason::LeaseFresh => ("LEASE_FRESH", None),
        AccessReason::RevalidationNeedsKey => ("REVALIDATION_NEEDS_KEY", None),
        AccessReason::Revalidated => ("REVALIDATED", None),
        AccessReason::Offline { cause } => ("OFFLINE", Some(error(cause))),
        other => panic!("unknown reason {other:?}"),
    };
    let mut value = json!({"access": {
        "reason": reason, "next_check_at": access.next_check_at.timestamp(), "license": license(&access.license),
    }});
    if let Some(cause) = cause {
        value["access"]["cause"] = cause;
    }
    value
}

fn activation(activation: Activation) -> Value {
    let e = &activation.entitlement;
    json!({"activation": {
        "license": license(&activation.license),
        "device_id": activation.device_id,
        "entitlement": {
            "id": e.id, "provider": e.provider, "product": e.product, "status": e.status,
            "current_period_end": e.current_period_end.map(|t| t.timestamp()),
            "cancel_at_period_end": e.cancel_at_period_end, "oauth_url": e.oauth_url,
        },
    }})
}

fn deactivation(done: Deactivation) -> Value {
    json!({"deactivation": {"remaining_devices": done.remaining_devices}})
}
