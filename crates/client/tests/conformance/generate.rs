//! Builds `clients/conformance/vectors.json`: the inputs by hand, the tokens from the real signer, and the expected
//! codes, reasons and times by hand from the protocol (docs/clients.md). Expected messages and action labels are
//! the Rust client's texts for the expected error, so every client shows a person the same sentence.

use serde_json::{Value, json};
use tollgate_client::{ActivationStatus, ClientError, StoredState};

use crate::fixtures::*;

fn error(e: &ClientError) -> Value {
    json!({"code": e.code(), "message": e.message(), "action": {"kind": e.action().kind(), "label": e.action().label()}})
}

fn fails(e: &ClientError) -> Value {
    json!({"error": error(e)})
}

fn license(iat: i64) -> Value {
    json!({
        "entitlement_id": ENTITLEMENT, "product": PRODUCT, "plan": "plan_pro", "status": "active",
        "features": ["export", "sync"], "key_last4": "K9XD",
        "lease_issued_at": iat, "lease_expires_at": iat + GRACE, "refresh_after": iat + REFRESH,
    })
}

fn access(reason: &str, next_check_at: i64, iat: i64, cause: Option<&ClientError>) -> Value {
    let mut value =
        json!({"access": {"reason": reason, "next_check_at": next_check_at, "license": license(iat)}});
    if let Some(cause) = cause {
        value["access"]["cause"] = error(cause);
    }
    value
}

fn keep_until(secs: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(at(secs))
}

fn respond(status: u16, headers: Value, body: &str) -> Value {
    json!({"status": status, "headers": headers, "body": body})
}

fn refuse(status: u16, code: &str) -> Value {
    let body = json!({"code": code, "message": "The server's own sentence (clients show theirs)."});
    respond(
        status,
        json!({"Content-Type": "application/json"}),
        &body.to_string(),
    )
}

fn grant(token: &str, iat: i64, server_time: i64) -> Value {
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

fn request(path: &str, key: &str, machine: &str) -> Value {
    json!({"method": "POST", "path": path, "body": {"license_key": key, "hwid": device(machine).as_str()}})
}

fn state(lease: Option<&str>, status: ActivationStatus, machine: &str, last_server_time: i64) -> Value {
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

fn step(call: &str, now: i64, expect: Value) -> Value {
    json!({"call": call, "now": now, "expect": expect})
}

fn with(mut step: Value, field: &str, value: Value) -> Value {
    step[field] = value;
    step
}

fn keyed(call: &str, key: &str, now: i64, expect: Value) -> Value {
    with(step(call, now, expect), "key", json!(key))
}

pub fn vectors() -> Value {
    let signer = Signer::new();
    json!({
        "format": 1,
        "about": "Tollgate client conformance vectors: every client (Rust, JavaScript, Python) runs them. Made by \
                  the real lease signer with a fixed key; regenerate with \
                  `TOLLGATE_WRITE_VECTORS=1 cargo test -p tollgate-client --test conformance`. The format is \
                  described in clients/conformance/README.md.",
        "client": {
            "app_id": APP_ID, "purchase_url": PURCHASE_URL, "jwks": signer.jwks(),
            "rollback_tolerance_secs": ROLLBACK_TOLERANCE, "offline_retry_secs": OFFLINE_RETRY,
        },
        "device_hashes": device_hashes(),
        "leases": leases(&signer),
        "scenarios": scenarios(&signer),
        "server_errors": server_errors(&signer),
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

fn scenario(name: &str, initial: Value, steps: Vec<Value>) -> Value {
    json!({"name": name, "machine_id": MACHINE_A, "state": initial, "steps": steps})
}

fn scenarios(s: &Signer) -> Value {
    let l1 = s.lease(T0, Some(MACHINE_A), 1);
    let day = T0 + REFRESH;
    let l2 = s.lease(day, Some(MACHINE_A), 2);
    let exp = T0 + GRACE;
    let active = state(Some(&l1), ActivationStatus::Active, MACHINE_A, T0);
    let unreachable = json!("unreachable");
    let validate_a = request("/api/license/validate", KEY, MACHINE_A);
    let offline = |now: i64, cause: ClientError| {
        with(
            keyed(
                "check_with_key",
                KEY,
                now,
                access("OFFLINE", (now + OFFLINE_RETRY).min(exp), T0, Some(&cause)),
            ),
            "response",
            json!("unreachable"),
        )
    };
    let unreachable_until_exp = ClientError::ServerUnreachable {
        keep_working_until: keep_until(exp),
    };
    let grace_expired = ClientError::OfflineGraceExpired { expired_at: at(exp) };
    let inactive = ClientError::LicenseInactive {
        purchase_url: Some(PURCHASE_URL.to_owned()),
    };
    let denied_state = json!({"status": "license_inactive", "lease": null});

    let mut list = vec![scenario(
        "fresh -> needs revalidation -> offline -> grace expired",
        active.clone(),
        vec![
            step("check", T0, access("LEASE_FRESH", day, T0, None)),
            keyed(
                "check_with_key",
                KEY,
                day - 1,
                access("LEASE_FRESH", day, T0, None),
            ),
            step(
                "check",
                day,
                access("REVALIDATION_NEEDS_KEY", day + OFFLINE_RETRY, T0, None),
            ),
            offline(day, unreachable_until_exp.clone()),
            with(
                with(
                    keyed(
                        "check_with_key",
                        KEY,
                        day + 6 * HOUR,
                        access(
                            "OFFLINE",
                            day + 6 * HOUR + OFFLINE_RETRY,
                            T0,
                            Some(&ClientError::ServiceUnavailable {
                                keep_working_until: keep_until(exp),
                            }),
                        ),
                    ),
                    "response",
                    refuse(503, "PROVIDER_UNAVAILABLE"),
                ),
                "request",
                validate_a.clone(),
            ),
            step("check", exp - 60, access("REVALIDATION_NEEDS_KEY", exp, T0, None)),
            offline(exp, unreachable_until_exp.clone()),
            step("check", exp, access("REVALIDATION_NEEDS_KEY", exp, T0, None)),
            step("check", exp + 1, fails(&grace_expired)),
            with(
                keyed("check_with_key", KEY, exp + 1, fails(&grace_expired)),
                "response",
                unreachable.clone(),
            ),
        ],
    )];
    list.push(scenario(
        "revalidated online once due, then fresh again",
        active.clone(),
        vec![
            with(
                with(
                    with(
                        keyed(
                            "check_with_key",
                            &format!("  {KEY}\n"),
                            day,
                            access("REVALIDATED", day + REFRESH, day, None),
                        ),
                        "response",
                        grant(&l2, day, day + 2),
                    ),
                    "request",
                    validate_a.clone(),
                ),
                "state_after",
                json!({"status": "active", "lease": l2, "key_last4": "K9XD", "last_server_time": day + 2}),
            ),
            step("check", day + 1, access("LEASE_FRESH", day + REFRESH, day, None)),
        ],
    ));
    list.push(scenario(
        "a refusal online is remembered offline",
        active.clone(),
        vec![
            with(
                with(
                    with(
                        keyed("check_with_key", KEY, day, fails(&inactive)),
                        "response",
                        refuse(403, "LICENSE_INACTIVE"),
                    ),
                    "request",
                    validate_a.clone(),
                ),
                "state_after",
                denied_state.clone(),
            ),
            step("check", day, fails(&inactive)),
            step("check", T0 + HOUR, fails(&inactive)),
        ],
    ));
    list.push(scenario(
        "a refusal for a key that is not the activated one leaves the state",
        active.clone(),
        vec![
            with(
                with(
                    keyed("check_with_key", OTHER_KEY, day, fails(&inactive)),
                    "response",
                    refuse(403, "LICENSE_INACTIVE"),
                ),
                "state_after",
                json!({"status": "active", "lease": l1}),
            ),
            step(
                "check",
                day,
                access("REVALIDATION_NEEDS_KEY", day + OFFLINE_RETRY, T0, None),
            ),
        ],
    ));
    let seen = T0 + 10 * HOUR;
    list.push(scenario(
        "clock rollback: behind the last server time by more than the tolerance",
        state(Some(&l1), ActivationStatus::Active, MACHINE_A, seen),
        vec![
            step(
                "check",
                seen - ROLLBACK_TOLERANCE,
                access("LEASE_FRESH", day, T0, None),
            ),
            step(
                "check",
                seen - ROLLBACK_TOLERANCE - 1,
                fails(&ClientError::ClockRollback),
            ),
            with(
                keyed(
                    "check_with_key",
                    KEY,
                    T0 + HOUR,
                    fails(&ClientError::ClockRollback),
                ),
                "response",
                unreachable.clone(),
            ),
            step("check", seen + HOUR, access("LEASE_FRESH", day, T0, None)),
        ],
    ));
    let later = s.lease(T0 + HOUR, Some(MACHINE_A), 5);
    list.push(scenario(
        "clock rollback: before the lease's nbf by more than the tolerance",
        state(Some(&later), ActivationStatus::Active, MACHINE_A, T0),
        vec![
            step("check", T0, fails(&ClientError::ClockRollback)),
            step("check", T0 + HOUR - ROLLBACK_TOLERANCE, {
                let mut a = access(
                    "REVALIDATION_NEEDS_KEY",
                    T0 + HOUR - ROLLBACK_TOLERANCE + OFFLINE_RETRY,
                    T0 + HOUR,
                    None,
                );
                a["note"] = json!("within the tolerance but before nbf: allowed, revalidation due");
                a
            }),
            step(
                "check",
                T0 + HOUR,
                access("LEASE_FRESH", T0 + HOUR + REFRESH, T0 + HOUR, None),
            ),
        ],
    ));
    list.push(scenario(
        "activation, judged by the server's time, then rollback refused offline",
        Value::Null,
        vec![
            with(
                with(
                    with(
                        keyed("activate", KEY, T0 - 30 * 24 * HOUR, json!({"activation": {
                            "license": license(T0), "device_id": "dev_conformance_a",
                            "entitlement": {"id": ENTITLEMENT, "provider": "whop", "product": PRODUCT, "status": "active",
                                "current_period_end": 1_782_592_000_i64, "cancel_at_period_end": false, "oauth_url": null},
                        }})),
                        "response",
                        grant(&l1, T0, T0 + 1),
                    ),
                    "request",
                    request("/api/license/activate", KEY, MACHINE_A),
                ),
                "state_after",
                json!({"status": "active", "lease": l1, "key_last4": "K9XD", "last_server_time": T0 + 1,
                       "device_hash": device(MACHINE_A).as_str()}),
            ),
            step("check", T0 - 30 * 24 * HOUR, fails(&ClientError::ClockRollback)),
            step("check", T0 + 2, access("LEASE_FRESH", day, T0, None)),
        ],
    ));
    list.push(scenario(
        "deactivation clears the state",
        active.clone(),
        vec![
            with(
                with(
                    with(
                        keyed("deactivate", KEY, T0 + HOUR, json!({"deactivation": {"remaining_devices": 1}})),
                        "response",
                        respond(
                            200,
                            json!({"Content-Type": "application/json"}),
                            &json!({"code": "DEACTIVATED", "max_devices": 2, "devices": [
                                {"id": "dev_b", "name": "Other", "activated_at": "2026-05-20T10:00:00Z", "last_seen_at": "2026-05-28T10:00:00Z"}
                            ]})
                            .to_string(),
                        ),
                    ),
                    "request",
                    request("/api/license/deactivate", KEY, MACHINE_A),
                ),
                "state_after",
                Value::Null,
            ),
            step("check", T0 + HOUR, fails(&ClientError::NotActivated)),
        ],
    ));
    list.push(scenario(
        "deactivating a device the server no longer knows still clears the state",
        active.clone(),
        vec![with(
            with(
                keyed(
                    "deactivate",
                    KEY,
                    T0 + HOUR,
                    json!({"deactivation": {"remaining_devices": null}}),
                ),
                "response",
                refuse(403, "DEVICE_NOT_ACTIVATED"),
            ),
            "state_after",
            Value::Null,
        )],
    ));
    list.push(scenario(
        "a failed deactivation keeps the state",
        active.clone(),
        vec![with(
            with(
                keyed(
                    "deactivate",
                    KEY,
                    T0 + HOUR,
                    fails(&ClientError::ServerUnreachable {
                        keep_working_until: None,
                    }),
                ),
                "response",
                unreachable.clone(),
            ),
            "state_after",
            json!({"status": "active", "lease": l1}),
        )],
    ));
    list.extend(state_scenarios(s, &l1));
    Value::Array(list)
}

/// What the state file may hold: another machine's, a lease for another device, old leases, damage.
fn state_scenarios(s: &Signer, l1: &str) -> Vec<Value> {
    let not_activated = fails(&ClientError::NotActivated);
    let corrupt = fails(&ClientError::StateCorrupt);
    let b_lease = s.lease(T0, Some(MACHINE_B), 1);
    let legacy = s.lease(T0, None, 0);
    let mut tampered = state(Some(l1), ActivationStatus::Active, MACHINE_A, T0);
    let parts: Vec<&str> = l1.split('.').collect();
    let mut longer = decode_json(parts.get(1).copied().unwrap_or(""));
    longer["exp"] = json!(T0 + 3650 * 24 * HOUR);
    tampered["lease"] = json!(format!("{}.{}.{}", parts[0], b64_json(&longer), parts[2]));
    let mut unknown_field = state(Some(l1), ActivationStatus::Active, MACHINE_A, T0);
    unknown_field["license_key"] = json!(KEY);
    let mut version_2 = state(Some(l1), ActivationStatus::Active, MACHINE_A, T0);
    version_2["version"] = json!(2);
    let check_at_t0 = |expect: &Value| vec![step("check", T0, expect.clone())];
    vec![
        scenario(
            "a state file copied from another machine with its device_hash edited (the lease's device claim names that machine)",
            state(Some(&b_lease), ActivationStatus::Active, MACHINE_A, T0),
            check_at_t0(&not_activated),
        ),
        scenario(
            "a state file copied from another machine, unedited",
            state(Some(&b_lease), ActivationStatus::Active, MACHINE_B, T0),
            check_at_t0(&not_activated),
        ),
        scenario(
            "a lease without a device claim is accepted until it expires",
            state(Some(&legacy), ActivationStatus::Active, MACHINE_A, T0),
            vec![
                step("check", T0, access("LEASE_FRESH", T0 + REFRESH, T0, None)),
                step(
                    "check",
                    T0 + GRACE + 1,
                    fails(&ClientError::OfflineGraceExpired {
                        expired_at: at(T0 + GRACE),
                    }),
                ),
            ],
        ),
        scenario(
            "a lease for another device in an activation answer is refused and nothing is stored",
            Value::Null,
            vec![with(
                with(
                    keyed("activate", KEY, T0, fails(&ClientError::UnexpectedResponse)),
                    "response",
                    grant(&b_lease, T0, T0),
                ),
                "state_after",
                Value::Null,
            )],
        ),
        scenario("no state file", Value::Null, check_at_t0(&not_activated)),
        scenario(
            "a tampered lease in the state file",
            tampered,
            check_at_t0(&corrupt),
        ),
        scenario(
            "a state file with an unknown field",
            unknown_field,
            check_at_t0(&corrupt),
        ),
        scenario(
            "a state file of an unknown version",
            version_2,
            check_at_t0(&corrupt),
        ),
        scenario(
            "an active state without a lease",
            state(None, ActivationStatus::Active, MACHINE_A, T0),
            check_at_t0(&corrupt),
        ),
        json!({"name": "a state file that is not JSON", "machine_id": MACHINE_A, "state_text": "{\"version\": 1, \"sta",
               "steps": check_at_t0(&corrupt)}),
        scenario(
            "a remembered denial: in use on another device",
            state(None, ActivationStatus::InUseOnAnotherDevice, MACHINE_A, T0),
            check_at_t0(&fails(&ClientError::InUseOnAnotherDevice)),
        ),
        scenario(
            "a remembered denial: payment issue",
            state(None, ActivationStatus::PaymentIssue, MACHINE_A, T0),
            check_at_t0(&fails(&ClientError::PaymentIssue {
                purchase_url: Some(PURCHASE_URL.to_owned()),
            })),
        ),
        scenario(
            "a remembered denial: invalid license",
            state(None, ActivationStatus::InvalidLicense, MACHINE_A, T0),
            check_at_t0(&fails(&ClientError::InvalidLicense)),
        ),
        scenario(
            "a remembered denial: device not activated",
            state(None, ActivationStatus::DeviceNotActivated, MACHINE_A, T0),
            check_at_t0(&not_activated),
        ),
    ]
}

/// One activation (or deactivation) answered with each server refusal: the client's code, message and action.
fn server_errors(s: &Signer) -> Value {
    let url = Some(PURCHASE_URL.to_owned());
    let html = respond(
        502,
        json!({"Content-Type": "text/html"}),
        "<html><body>Bad Gateway</body></html>",
    );
    let retry = |status: u16, code: &str, after: &str| {
        let mut r = refuse(status, code);
        r["headers"]["Retry-After"] = json!(after);
        r
    };
    let foreign = s.foreign_signed(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": "lease-1"}),
        &s.lease(T0, Some(MACHINE_A), 1),
    );
    let cases: Vec<(&str, &str, Value, ClientError)> = vec![
        (
            "activate",
            "404 LICENSE_NOT_FOUND",
            refuse(404, "LICENSE_NOT_FOUND"),
            ClientError::InvalidLicense,
        ),
        (
            "activate",
            "400 INVALID_REQUEST",
            refuse(400, "INVALID_REQUEST"),
            ClientError::InvalidLicense,
        ),
        (
            "activate",
            "409 DEVICE_MISMATCH",
            refuse(409, "DEVICE_MISMATCH"),
            ClientError::InUseOnAnotherDevice,
        ),
        (
            "activate",
            "409 DEVICE_LIMIT_REACHED",
            refuse(409, "DEVICE_LIMIT_REACHED"),
            ClientError::DeviceLimitReached,
        ),
        (
            "activate",
            "403 LICENSE_INACTIVE",
            refuse(403, "LICENSE_INACTIVE"),
            ClientError::LicenseInactive {
                purchase_url: url.clone(),
            },
        ),
        (
            "activate",
            "403 PAYMENT_ISSUE",
            refuse(403, "PAYMENT_ISSUE"),
            ClientError::PaymentIssue {
                purchase_url: url.clone(),
            },
        ),
        (
            "activate",
            "403 DEVICE_NOT_ACTIVATED",
            refuse(403, "DEVICE_NOT_ACTIVATED"),
            ClientError::NotActivated,
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 120",
            retry(429, "RATE_LIMITED", "120"),
            ClientError::RateLimited {
                retry_after_secs: Some(120),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 1",
            retry(429, "RATE_LIMITED", "1"),
            ClientError::RateLimited {
                retry_after_secs: Some(1),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 7200",
            retry(429, "RATE_LIMITED", "7200"),
            ClientError::RateLimited {
                retry_after_secs: Some(7200),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED without Retry-After",
            refuse(429, "RATE_LIMITED"),
            ClientError::RateLimited {
                retry_after_secs: None,
            },
        ),
        (
            "deactivate",
            "403 TRANSFER_NOT_ALLOWED",
            refuse(403, "TRANSFER_NOT_ALLOWED"),
            ClientError::TransferNotAllowed,
        ),
        (
            "deactivate",
            "429 TRANSFER_COOLDOWN, Retry-After 3600",
            retry(429, "TRANSFER_COOLDOWN", "3600"),
            ClientError::TransferCooldown {
                retry_after_secs: Some(3600),
            },
        ),
        (
            "activate",
            "503 PROVIDER_UNAVAILABLE",
            refuse(503, "PROVIDER_UNAVAILABLE"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "503 STORAGE_UNAVAILABLE",
            refuse(503, "STORAGE_UNAVAILABLE"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "500 INTERNAL",
            refuse(500, "INTERNAL"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "502 from a proxy, HTML body",
            html,
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "404 with a body that is not the error body",
            respond(404, json!({"Content-Type": "text/plain"}), "Not Found"),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "418 with an unknown code",
            refuse(418, "SOMETHING_NEW"),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "429 with an unknown code",
            refuse(429, "SOMETHING_NEW"),
            ClientError::RateLimited {
                retry_after_secs: None,
            },
        ),
        (
            "activate",
            "200 that is not a grant",
            respond(
                200,
                json!({"Content-Type": "application/json"}),
                "{\"code\":\"VALID\"}",
            ),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "200 with a lease signed by another key",
            grant(&foreign, T0, T0),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "200 with an expired lease (by the server's Date)",
            grant(&s.lease(T0, Some(MACHINE_A), 1), T0, T0 + GRACE + 1),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "no answer (connection refused)",
            json!("unreachable"),
            ClientError::ServerUnreachable {
                keep_working_until: None,
            },
        ),
    ];
    let mut list: Vec<Value> = cases
        .into_iter()
        .map(|(call, name, response, expected)| {
            let initial = if call == "deactivate" {
                state(
                    Some(&s.lease(T0, Some(MACHINE_A), 1)),
                    ActivationStatus::Active,
                    MACHINE_A,
                    T0,
                )
            } else {
                Value::Null
            };
            let path = format!("/api/license/{call}");
            let mut one = with(
                keyed(call, KEY, T0, fails(&expected)),
                "response",
                response.clone(),
            );
            if response != json!("unreachable") {
                one["request"] = request(&path, KEY, MACHINE_A);
            }
            json!({"name": name, "machine_id": MACHINE_A, "state": initial, "steps": [one]})
        })
        .collect();
    // keys refused before any request
    let long = "K".repeat(513);
    for (name, key) in [
        ("an empty key", "   "),
        ("a key with a control character", "CONF-\u{7}-KEY"),
        ("a key longer than 512 bytes", long.as_str()),
    ] {
        list.push(json!({"name": name, "machine_id": MACHINE_A, "state": null,
            "steps": [keyed("activate", key, T0, fails(&ClientError::InvalidLicense))]}));
    }
    Value::Array(list)
}
