//! Builds `clients/conformance/vectors.json`: the inputs by hand, the tokens from the real signer, and the expected
//! codes, reasons and times by hand from the protocol (docs/clients.md). Expected messages and action labels are
//! the Rust client's texts for the expected error, so every client shows a person the same sentence.

use serde_json::{Value, json};
use tollgate_client::{ActivationStatus, ClientError, StoredState};

use crate::conformance::fixtures::*;

pub(crate) fn error(e: &ClientError) -> Value {
    json!({"code": e.code(), "message": e.message(), "action": {"kind": e.action().kind(), "label": e.action().label()}})
}

pub(crate) fn fails(e: &ClientError) -> Value {
    json!({"error": error(e)})
}

pub(crate) fn license(iat: i64) -> Value {
    json!({
        "entitlement_id": ENTITLEMENT, "product": PRODUCT, "plan": "plan_pro", "status": "active",
        "features": ["export", "sync"], "key_last4": "K9XD",
        "lease_issued_at": iat, "lease_expires_at": iat + GRACE, "refresh_after": iat + REFRESH,
    })
}

pub(crate) fn access(reason: &str, next_check_at: i64, iat: i64, cause: Option<&ClientError>) -> Value {
    let mut value =
        json!({"access": {"reason": reason, "next_check_at": next_check_at, "license": license(iat)}});
    if let Some(cause) = cause {
        value["access"]["cause"] = error(cause);
    }
    value
}

pub(crate) fn keep_until(secs: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(at(secs))
}

pub(crate) fn respond(status: u16, headers: Value, body: &str) -> Value {
    json!({"status": status, "headers": headers, "body": body})
}

pub(crate) fn refuse(status: u16, code: &str) -> Value {
    let body = json!({"code": code, "message": "The server's own sentence (clients show theirs)."});
    respond(
        status,
        json!({"Content-Type": "application/json"}),
        &body.to_string(),
    )
}

pub(crate) fn grant(token: &str, iat: i64, server_time: i64) -> Value {
    let body = json!({
        "code": "VALID",
        "entitlement": {
            "id": ENTITLEMENT, "provider": "whop", "external_id": "mem_conformance_1", "subject": "user_conf",
            "product": PRODUCT, "status": "active", "current_period_end": "2026-06-27T20:26:40Z",
            "cancel_at_period_end": false, "plan": "plan_pro",
            "access": {"allowed": true, "code": "VALID", "until": "2026-06-27T20:26:40Z"},
        },
        "device": {"id": "dev_conformance_a", "activated_at": at(iat).to_rfc3339()},
        "lease": {"token": token, "expires_at": at(iat + GRACE).to_rfc3339(), "refresh_after": at(iat + REFRESH).to_rfc3339()},
    });
    respond(
        200,
        json!({"Content-Type": "application/json", "Date": http_date(server_time)}),
        &body.to_string(),
    )
}

pub(crate) fn request(path: &str, key: &str, machine: &str) -> Value {
    json!({"method": "POST", "path": path, "body": {"license_key": key, "hwid": device(machine).as_str()}})
}

pub(crate) fn state(
    lease: Option<&str>,
    status: ActivationStatus,
    machine: &str,
    last_server_time: i64,
) -> Value {
    let stored = StoredState {
        version: StoredState::VERSION,
        status,
        device_hash: device(machine).as_str().to_owned(),
        key_last4: "K9XD".to_owned(),
        activated_at: at(T0),
        last_online_at: at(T0),
        last_server_time: at(last_server_time),
        lease: lease.map(str::to_owned),
    };
    serde_json::to_value(stored).unwrap_or(Value::Null)
}

pub(crate) fn step(call: &str, now: i64, expect: Value) -> Value {
    json!({"call": call, "now": now, "expect": expect})
}

pub(crate) fn with(mut step: Value, field: &str, value: Value) -> Value {
    step[field] = value;
    step
}

pub(crate) fn keyed(call: &str, key: &str, now: i64, expect: Value) -> Value {
    with(step(call, now, expect), "key", json!(key))
}

pub fn vectors() -> Value {
    let signer = Signer::new();
    json!({
        "format": 1,
        "about": "Tollgate client conformance vectors: every client (Rust, JavaScript, Python) runs them. Made by \
                  the real lease signer with a fixed key; regenerate with \
                  `TOLLGATE_WRITE_VECTORS=1 cargo test -p tollgate-client --test it conformance::`. The format is \
                  described in clients/conformance/README.md.",
        "client": {
            "app_id": APP_ID, "purchase_url": PURCHASE_URL, "jwks": signer.jwks(),
            "rollback_tolerance_secs": ROLLBACK_TOLERANCE, "offline_retry_secs": OFFLINE_RETRY,
        },
        "device_hashes": device_hashes(),
        "leases": leases(&signer),
        "scenarios": crate::conformance::scenarios::scenarios(&signer),
        "server_errors": crate::conformance::server_errors::server_errors(&signer),
    })
}

fn device_hashes() -> Value {
    let cases = [
        (APP_ID, MACHINE_A),
        (APP_ID, MACHINE_B),
        ("com.example.other", MACHINE_A),
        ("ab", "c"),
        ("a", "bc"),
        ("com.example.ünïcode", "機械-ид-🖥"),
        ("com.example.app", ""),
    ];
    cases
        .iter()
        .map(|(app, machine)| {
            json!({"app_id": app, "machine_id": machine, "hash": tollgate_client::DeviceHash::of(app, machine).as_str()})
        })
        .collect()
}

fn lease_case(name: &str, token: &str, now: i64, expect: &str) -> Value {
    json!({"name": name, "token": token, "now": now, "machine_id": MACHINE_A, "audience": null, "expect": expect})
}

fn leases(s: &Signer) -> Value {
    let good = s.lease(T0, Some(MACHINE_A), 1);
    let exp = T0 + GRACE;
    let header = decode_json(segment(&good, 0));
    let payload = decode_json(segment(&good, 1));
    let sig = segment(&good, 2);

    let mut longer = payload.clone();
    longer["exp"] = json!(T0 + 3650 * 24 * HOUR);
    let tampered = format!("{}.{}.{sig}", segment(&good, 0), b64_json(&longer));
    let mut other_device = payload.clone();
    other_device["dev"] = serde_json::to_value(claims(T0, Some(MACHINE_B), 1).dev).unwrap_or_default();
    let swapped_claim = format!("{}.{}.{sig}", segment(&good, 0), b64_json(&other_device));
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap_or_default();
    let alg_none = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "typ": "JWT", "kid": "lease-1"})),
        segment(&good, 1)
    );
    let mut crit = header.clone();
    crit["crit"] = json!(["exp"]);
    let mut no_kid = header.clone();
    if let Some(h) = no_kid.as_object_mut() {
        h.remove("kid");
    }
    let x = s.jwks()["keys"][0]["x"].as_str().unwrap_or_default().to_owned();
    let right_aud = {
        let mut c = claims(T0, Some(MACHINE_A), 2);
        c.aud = PRODUCT.to_owned();
        s.sign_with(&c)
    };
    let wrong_aud = {
        let mut c = claims(T0, Some(MACHINE_A), 3);
        c.aud = "prod_another".to_owned();
        s.sign_with(&c)
    };

    let mut cases = vec![
        lease_case("valid", &good, T0, "valid"),
        lease_case("valid at exactly exp", &good, exp, "valid"),
        lease_case("expired one second after exp", &good, exp + 1, "expired"),
        lease_case(
            "not yet valid one second before nbf",
            &good,
            T0 - 1,
            "not_yet_valid",
        ),
        lease_case(
            "valid without a device claim (signed before it existed)",
            &s.lease(T0, None, 0),
            T0,
            "valid",
        ),
        lease_case("tampered payload, signature kept", &tampered, T0, "bad_signature"),
        lease_case(
            "device claim swapped for another device's, signature kept",
            &swapped_claim,
            T0,
            "bad_signature",
        ),
        lease_case("one signature character changed", &flipped, T0, "bad_signature"),
        lease_case(
            "signed by another key under the real kid",
            &s.foreign_signed(&header, &good),
            T0,
            "bad_signature",
        ),
        lease_case(
            "unknown kid",
            &s.foreign_signed(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "lease-9"}), &good),
            T0,
            "unknown_kid",
        ),
        lease_case("alg none", &alg_none, T0, "unsupported_algorithm"),
        lease_case(
            "HS256 keyed with the public key bytes",
            &s.hs256_with(&s.public, &good),
            T0,
            "unsupported_algorithm",
        ),
        lease_case(
            "HS256 keyed with the JWK x text",
            &s.hs256_with(x.as_bytes(), &good),
            T0,
            "unsupported_algorithm",
        ),
        lease_case(
            "wrong device",
            &s.lease(T0, Some(MACHINE_B), 4),
            T0,
            "wrong_device",
        ),
        lease_case(
            "crit header",
            &format!("{}.{}.{sig}", b64_json(&crit), segment(&good, 1)),
            T0,
            "malformed",
        ),
        lease_case(
            "no kid",
            &format!("{}.{}.{sig}", b64_json(&no_kid), segment(&good, 1)),
            T0,
            "malformed",
        ),
        lease_case(
            "two segments",
            &format!("{}.{}", segment(&good, 0), segment(&good, 1)),
            T0,
            "malformed",
        ),
        lease_case("four segments", &format!("{good}.{sig}"), T0, "malformed"),
        lease_case(
            "not base64url",
            &format!("{}.{}!.{sig}", segment(&good, 0), segment(&good, 1)),
            T0,
            "malformed",
        ),
        lease_case(
            "short signature",
            &format!("{}.{}.AAAA", segment(&good, 0), segment(&good, 1)),
            T0,
            "malformed",
        ),
        lease_case("empty", "", T0, "malformed"),
    ];
    let mut wrong = lease_case("wrong audience", &wrong_aud, T0, "wrong_audience");
    wrong["audience"] = json!(PRODUCT);
    cases.push(wrong);
    let mut right = lease_case("the expected audience", &right_aud, T0, "valid");
    right["audience"] = json!(PRODUCT);
    cases.push(right);
    Value::Array(cases)
}

pub(crate) fn scenario(name: &str, initial: Value, steps: Vec<Value>) -> Value {
    json!({"name": name, "machine_id": MACHINE_A, "state": initial, "steps": steps})
}
