//! The payment provider is down: a new activation says the service is temporarily unavailable (never "invalid"),
//! an activated app keeps revalidating from Tollgate's local state, and once the provider is back the activation
//! works.

use chrono::TimeDelta;
use tollgate_client::{AccessReason, ClientError};
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_testkit::{FakeProvider as _, Fault};

use crate::e2e::server::{Tollgate, real_now};

const KEY: &str = "E2E-DOWN-KEY-0001";
const NEW_KEY: &str = "E2E-DOWN-KEY-0002";

#[tokio::test]
async fn provider_down_activation_is_unavailable_and_revalidation_still_answers() {
    let t = real_now();
    let server = Tollgate::start(
        t,
        vec![
            FakeMembership::new("mem_down_1", KEY),
            FakeMembership::new("mem_down_2", NEW_KEY),
        ],
    );
    let first = server.client("machine-a", t).await;
    let second = server.client("machine-b", t).await;
    first.client.activate(KEY).await.unwrap();

    server.whop.fail_always(Fault::Status(503));
    let refused = second.client.activate(NEW_KEY).await.unwrap_err();
    assert_eq!(
        refused,
        ClientError::ServiceUnavailable {
            keep_working_until: None
        }
    );
    assert!(
        refused.message().contains("temporarily unavailable"),
        "{}",
        refused.message()
    );
    assert!(!second.client.state_path().exists(), "nothing stored");

    // the activated app's revalidation is answered from Tollgate's local state
    first.clock.set(t + TimeDelta::hours(24));
    assert_eq!(
        first.client.check_with_key(KEY).await.unwrap().reason,
        AccessReason::Revalidated
    );

    server.whop.clear_faults();
    second.client.activate(NEW_KEY).await.unwrap();
    assert_eq!(
        second.client.check().await.unwrap().reason,
        AccessReason::LeaseFresh
    );
}
