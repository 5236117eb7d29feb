//! The state transitions: fresh, revalidation due, offline, grace expired; revalidation and refusals; clock
//! rollback; activation and deactivation; what the state file may hold.

use serde_json::{Value, json};
use tollgate_client::{ActivationStatus, ClientError};

use crate::conformance::fixtures::*;
use crate::conformance::generate::*;

pub(crate) fn scenarios(s: &Signer) -> Value {
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
