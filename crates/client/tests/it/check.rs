//! `check()` offline logic with an injected clock: fresh lease without network, revalidation due, offline grace
//! until exactly `exp`, clock rollback, tampered and foreign leases. The server here is a closed loopback port, so
//! every online attempt really fails to connect.

use crate::common;

use chrono::TimeDelta;
use tollgate_client::{AccessReason, ActivationStatus, ClientError};

use common::{Harness, TestKey, claims, closed_port_url, t0};

fn exp() -> chrono::DateTime<chrono::Utc> {
    t0() + TimeDelta::hours(72)
}

#[tokio::test]
async fn a_fresh_lease_allows_without_network() {
    let h = Harness::new(&closed_port_url());
    h.seed_active();
    let access = h.client.check().await.unwrap();
    assert_eq!(access.reason, AccessReason::LeaseFresh);
    assert_eq!(access.next_check_at, t0() + TimeDelta::hours(24));
    assert_eq!(access.license.plan.as_deref(), Some("plan_pro"));
    assert_eq!(access.license.key_last4, "7F3A");
    assert_eq!(access.license.offline_grace_left(t0()), TimeDelta::hours(72));
    // even with a key, nothing is sent while fresh: a closed port would turn it into Offline
    h.clock.set(t0() + TimeDelta::hours(24) - TimeDelta::seconds(1));
    assert_eq!(
        h.client.check_with_key("ABCD-7F3A").await.unwrap().reason,
        AccessReason::LeaseFresh
    );
}

#[tokio::test]
async fn offline_access_lasts_until_exactly_exp_then_grace_expires() {
    let h = Harness::new(&closed_port_url());
    h.seed_active();
    h.clock.set(t0() + TimeDelta::hours(24));
    let access = h.client.check_with_key("ABCD-7F3A").await.unwrap();
    assert_eq!(
        access.reason,
        AccessReason::Offline {
            cause: ClientError::ServerUnreachable {
                keep_working_until: Some(exp())
            }
        }
    );
    assert_eq!(
        access.next_check_at,
        t0() + TimeDelta::hours(24) + TimeDelta::minutes(15)
    );

    h.clock.set(exp());
    let access = h.client.check_with_key("ABCD-7F3A").await.unwrap();
    assert_eq!(access.next_check_at, exp(), "the next check is never after exp");
    assert_eq!(
        h.client.check().await.unwrap().reason,
        AccessReason::RevalidationNeedsKey
    );

    h.clock.set(exp() + TimeDelta::seconds(1));
    assert_eq!(
        h.client.check_with_key("ABCD-7F3A").await,
        Err(ClientError::OfflineGraceExpired { expired_at: exp() })
    );
    assert_eq!(
        h.client.check().await,
        Err(ClientError::OfflineGraceExpired { expired_at: exp() })
    );
}

#[tokio::test]
async fn a_clock_set_back_beyond_the_tolerance_is_refused() {
    let h = Harness::new(&closed_port_url());
    let mut state = h.seed_active();
    // the client saw the server at t0 + 1 h (a revalidation's Date header)
    state.last_server_time = t0() + TimeDelta::hours(1);
    h.state_file().save(&state).unwrap();

    h.clock.set(t0() + TimeDelta::hours(1) - TimeDelta::minutes(5));
    assert_eq!(
        h.client.check().await.unwrap().reason,
        AccessReason::LeaseFresh,
        "within the 5 min tolerance"
    );
    h.clock
        .set(t0() + TimeDelta::hours(1) - TimeDelta::minutes(5) - TimeDelta::seconds(1));
    assert_eq!(h.client.check().await, Err(ClientError::ClockRollback));
    // offline, even with a key, it stays refused
    assert_eq!(
        h.client.check_with_key("ABCD-7F3A").await,
        Err(ClientError::ClockRollback)
    );
    // before the lease's nbf too
    h.clock.set(t0() - TimeDelta::days(30));
    assert_eq!(h.client.check().await, Err(ClientError::ClockRollback));
}

#[tokio::test]
async fn a_tampered_lease_in_the_state_file_is_rejected() {
    let h = Harness::new(&closed_port_url());
    let mut state = h.seed_active();
    let token = state.lease.clone().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut longer = claims(t0());
    longer["exp"] = serde_json::json!((t0() + TimeDelta::days(3650)).timestamp());
    use base64::Engine as _;
    let payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&longer).unwrap());
    state.lease = Some(format!("{}.{}.{}", parts[0], payload, parts[2]));
    h.state_file().save(&state).unwrap();
    assert_eq!(h.client.check().await, Err(ClientError::StateCorrupt));
    // offline with a key: still refused (the server cannot vouch for it)
    h.clock.set(t0() + TimeDelta::hours(30));
    assert_eq!(
        h.client.check_with_key("ABCD-7F3A").await,
        Err(ClientError::StateCorrupt)
    );
}

#[tokio::test]
async fn a_lease_signed_by_a_foreign_key_is_rejected() {
    let h = Harness::new(&closed_port_url());
    let foreign = TestKey::generate("lease-1");
    h.seed(Some(foreign.sign(&claims(t0()))), ActivationStatus::Active);
    assert_eq!(h.client.check().await, Err(ClientError::StateCorrupt));
    h.seed(Some("not.a.lease".into()), ActivationStatus::Active);
    assert_eq!(h.client.check().await, Err(ClientError::StateCorrupt));
    h.seed(None, ActivationStatus::Active);
    assert_eq!(h.client.check().await, Err(ClientError::StateCorrupt));
}

#[tokio::test]
async fn a_state_file_from_another_machine_is_not_an_activation() {
    let h = Harness::new(&closed_port_url());
    let mut state = h.seed_active();
    state.device_hash = tollgate_client::DeviceHash::of(common::APP, "another-machine")
        .as_str()
        .to_owned();
    h.state_file().save(&state).unwrap();
    assert_eq!(h.client.check().await, Err(ClientError::NotActivated));
}

#[tokio::test]
async fn no_state_is_not_activated_and_a_denial_is_remembered_offline() {
    let h = Harness::new(&closed_port_url());
    assert_eq!(h.client.check().await, Err(ClientError::NotActivated));
    h.seed(None, ActivationStatus::LicenseInactive);
    assert_eq!(
        h.client.check().await,
        Err(ClientError::LicenseInactive {
            purchase_url: Some("https://shop.example/renew".into())
        })
    );
    h.seed(None, ActivationStatus::InUseOnAnotherDevice);
    assert_eq!(
        h.client.check_with_key("ABCD-7F3A").await,
        Err(ClientError::InUseOnAnotherDevice)
    );
}

#[tokio::test]
async fn activation_without_a_server_says_so_and_stores_nothing() {
    let h = Harness::new(&closed_port_url());
    assert_eq!(
        h.client.activate("ABCD-7F3A").await.unwrap_err(),
        ClientError::ServerUnreachable {
            keep_working_until: None
        }
    );
    assert!(!h.state_path().exists());
    assert_eq!(
        h.client.activate("   ").await.unwrap_err(),
        ClientError::InvalidLicense
    );
}

#[test]
fn the_blocking_client_gives_the_same_answers() {
    let h = Harness::new(&closed_port_url());
    h.seed_active();
    let blocking = tollgate_client::blocking::Client::from_async(h.client.clone()).unwrap();
    assert_eq!(blocking.check().unwrap().reason, AccessReason::LeaseFresh);
    h.clock.set(exp() + TimeDelta::seconds(1));
    assert_eq!(
        blocking.check(),
        Err(ClientError::OfflineGraceExpired { expired_at: exp() })
    );
    assert_eq!(
        blocking.deactivate("ABCD-7F3A"),
        Err(ClientError::ServerUnreachable {
            keep_working_until: None
        })
    );
    assert!(h.state_path().exists(), "a failed deactivation keeps the state");
}
