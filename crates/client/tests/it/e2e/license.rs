//! activate → offline grace until exactly `exp` → `OfflineGraceExpired`; revocation; tampered and foreign leases;
//! clock rollback; the state file holds no full key; moving to another computer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use tollgate_client::{AccessReason, ClientError};
use tollgate_providers::whop::fake::FakeMembership;

use crate::common::TestKey;
use crate::e2e::server::{PURCHASE_URL, Tollgate, real_now};

const KEY: &str = "E2E-ACTIVE-KEY-7F3A";

fn active() -> FakeMembership {
    FakeMembership::new("mem_e2e_1", KEY)
}

#[tokio::test]
async fn activate_then_offline_until_exactly_exp_then_grace_expired() {
    let t = real_now();
    let mut server = Tollgate::start(t, vec![active()]);
    let app = server.client("machine-a", t).await;

    let activation = app.client.activate(KEY).await.unwrap();
    let license = &activation.license;
    assert_eq!(license.plan.as_deref(), Some("plan_fake"));
    assert_eq!(license.key_last4, "7F3A");
    assert_eq!(
        license.refresh_after,
        t + TimeDelta::hours(24),
        "policy default revalidate_every"
    );
    assert_eq!(
        license.lease_expires_at,
        t + TimeDelta::hours(72),
        "policy default offline_grace"
    );
    assert_eq!(activation.entitlement.product.as_deref(), Some("prod_fake"));
    let exp = license.lease_expires_at;

    // the state file holds no full license key, and not the raw machine id
    let bytes = app.state_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains("E2E-ACTIVE"), "{text}");
    assert!(!text.contains("machine-a"), "{text}");
    assert!(text.contains("\"key_last4\": \"7F3A\""), "{text}");

    // fresh: no network needed
    assert_eq!(app.client.check().await.unwrap().reason, AccessReason::LeaseFresh);

    // the server goes away; the lease carries the app until exactly exp
    server.stop();
    app.clock.set(t + TimeDelta::hours(24));
    assert_eq!(
        app.client.check_with_key(KEY).await.unwrap().reason,
        AccessReason::Offline {
            cause: ClientError::ServerUnreachable {
                keep_working_until: Some(exp)
            }
        }
    );
    app.clock.set(exp);
    assert!(matches!(
        app.client.check_with_key(KEY).await.unwrap().reason,
        AccessReason::Offline { .. }
    ));
    assert_eq!(
        app.client.check().await.unwrap().reason,
        AccessReason::RevalidationNeedsKey
    );
    app.clock.set(exp + TimeDelta::seconds(1));
    assert_eq!(
        app.client.check_with_key(KEY).await,
        Err(ClientError::OfflineGraceExpired { expired_at: exp })
    );
    assert_eq!(
        app.client.check().await,
        Err(ClientError::OfflineGraceExpired { expired_at: exp })
    );
}

#[tokio::test]
async fn a_revoked_license_denies_on_the_next_online_check() {
    let t = real_now();
    let server = Tollgate::start(t, vec![active()]);
    let app = server.client("machine-a", t).await;
    app.client.activate(KEY).await.unwrap();

    // a fresh lease still allows without asking (the revocation is not known offline)...
    server.whop.set_status("mem_e2e_1", "canceled");
    server.whop_webhook("mem_e2e_1", "membership.deactivated").await;
    assert_eq!(app.client.check().await.unwrap().reason, AccessReason::LeaseFresh);

    // ...and the next online check denies, and remembers it offline
    app.clock.set(t + TimeDelta::hours(24));
    let inactive = ClientError::LicenseInactive {
        purchase_url: Some(PURCHASE_URL.into()),
    };
    assert_eq!(app.client.check_with_key(KEY).await, Err(inactive.clone()));
    assert_eq!(app.client.check().await, Err(inactive.clone()));
    assert_eq!(
        inactive.message(),
        format!("Your license is no longer active. Renew at {PURCHASE_URL}.")
    );
    let state = app.client.stored_state().unwrap().unwrap();
    assert_eq!(state.lease, None);
}

#[tokio::test]
async fn a_tampered_or_foreign_key_lease_in_the_state_file_is_rejected() {
    let t = real_now();
    let server = Tollgate::start(t, vec![active()]);
    let app = server.client("machine-a", t).await;
    app.client.activate(KEY).await.unwrap();
    let genuine = app.client.stored_state().unwrap().unwrap();
    let token = genuine.lease.clone().unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // a longer exp in the payload, signature kept
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = serde_json::json!((t + TimeDelta::days(3650)).timestamp());
    let mut tampered = genuine.clone();
    tampered.lease = Some(format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    ));
    tollgate_client::StateFile::new(app.client.state_path())
        .save(&tampered)
        .unwrap();
    assert_eq!(app.client.check().await, Err(ClientError::StateCorrupt));

    // the same claims signed by another key with the server's kid
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let foreign = TestKey::generate(header["kid"].as_str().unwrap());
    let mut forged = genuine.clone();
    forged.lease = Some(foreign.sign(&claims));
    tollgate_client::StateFile::new(app.client.state_path())
        .save(&forged)
        .unwrap();
    assert_eq!(app.client.check().await, Err(ClientError::StateCorrupt));

    // the genuine one still works
    tollgate_client::StateFile::new(app.client.state_path())
        .save(&genuine)
        .unwrap();
    assert_eq!(app.client.check().await.unwrap().reason, AccessReason::LeaseFresh);
}

#[tokio::test]
async fn a_clock_rollback_denies_offline_until_an_online_revalidation() {
    let t = real_now();
    let server = Tollgate::start(t, vec![active()]);
    let app = server.client("machine-a", t).await;
    app.client.activate(KEY).await.unwrap();

    app.clock.set(t - TimeDelta::hours(2));
    assert_eq!(app.client.check().await, Err(ClientError::ClockRollback));
    // online, the server vouches for the license again (judged by the server's time, not the rolled-back clock)
    assert_eq!(
        app.client.check_with_key(KEY).await.unwrap().reason,
        AccessReason::Revalidated
    );
    // offline access stays refused while the clock is still behind
    assert_eq!(app.client.check().await, Err(ClientError::ClockRollback));
    app.clock.set(t + TimeDelta::minutes(1));
    assert_eq!(app.client.check().await.unwrap().reason, AccessReason::LeaseFresh);
}

#[tokio::test]
async fn activation_errors_are_user_safe_states() {
    let t = real_now();
    let mut expired = FakeMembership::new("mem_e2e_2", "E2E-EXPIRED-KEY-0002");
    expired.status = "expired".into();
    let server = Tollgate::start(t, vec![active(), expired]);
    let app = server.client("machine-a", t).await;
    assert_eq!(
        app.client.activate("E2E-NO-SUCH-KEY").await.unwrap_err(),
        ClientError::InvalidLicense
    );
    assert_eq!(
        app.client.activate("E2E-EXPIRED-KEY-0002").await.unwrap_err(),
        ClientError::LicenseInactive {
            purchase_url: Some(PURCHASE_URL.into())
        }
    );
    assert!(
        !app.client.state_path().exists(),
        "a refused activation stores nothing"
    );
}

#[tokio::test]
async fn deactivate_moves_the_license_to_another_computer() {
    let t = real_now();
    let server = Tollgate::start(t, vec![active()]);
    let first = server.client("machine-a", t).await;
    let second = server.client("machine-b", t).await;
    first.client.activate(KEY).await.unwrap();
    // node-locked by default (max_devices = 1)
    assert_eq!(
        second.client.activate(KEY).await.unwrap_err(),
        ClientError::InUseOnAnotherDevice
    );

    let done = first.client.deactivate(KEY).await.unwrap();
    assert_eq!(done.remaining_devices, Some(0));
    assert!(!first.client.state_path().exists());
    assert_eq!(first.client.check().await, Err(ClientError::NotActivated));

    second.client.activate(KEY).await.unwrap();
    assert_eq!(
        second.client.check().await.unwrap().reason,
        AccessReason::LeaseFresh
    );
}

/// A server reusing a lease (`lease.reuse_for`) may answer the same lease twice, or one issued before a server time
/// the app has already seen: both are accepted, and the clock-rollback floor never goes back.
#[tokio::test]
async fn the_same_lease_twice_and_one_older_than_the_last_server_time_are_accepted() {
    let t = real_now();
    let server = Tollgate::start(t, vec![active()]);
    let app = server.client("machine-a", t).await;
    app.client.activate(KEY).await.unwrap();

    // A day later on the app's clock: due, revalidated (the server's clock stays at t, well within reuse_for).
    app.clock.set(t + TimeDelta::hours(24));
    let first = app.client.check_with_key(KEY).await.unwrap();
    assert_eq!(first.reason, AccessReason::Revalidated);
    let state = app.client.stored_state().unwrap().unwrap();
    let token = state.lease.clone().unwrap();

    // The app has since seen a later server time (another instance's newer lease, an HTTP Date).
    let floor = t + TimeDelta::minutes(4);
    let seen_later = tollgate_client::StoredState {
        last_server_time: floor,
        ..state
    };
    tollgate_client::StateFile::new(app.client.state_path())
        .save(&seen_later)
        .unwrap();

    app.clock.set(t + TimeDelta::hours(48));
    let second = app.client.check_with_key(KEY).await.unwrap();
    assert_eq!(second.reason, AccessReason::Revalidated);
    assert_eq!(second.license.lease_expires_at, first.license.lease_expires_at);
    let state = app.client.stored_state().unwrap().unwrap();
    assert_eq!(
        state.lease.as_deref(),
        Some(token.as_str()),
        "the same lease again"
    );
    assert_eq!(state.last_server_time, floor, "the rollback floor is not lowered");
    assert_eq!(state.status, tollgate_client::ActivationStatus::Active);
}
