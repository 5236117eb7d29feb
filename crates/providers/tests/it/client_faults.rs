//! Retries, timeouts and dropped connections: "could not reach the provider" never looks like "invalid".

use std::time::{Duration, Instant};

use tollgate_providers::dodo::fake::{FakeDodo, FakeLicenseKey};
use tollgate_providers::dodo::{DodoApi, DodoClient};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_providers::whop::{MembershipRef, WhopApi, WhopClient, WhopMembership, WhopOptions};
use tollgate_providers::{ApiError, ApiKey, CallContext, ClientConfig, RetryPolicy, UnreachableCause};
use tollgate_testkit::{FakeProvider, Fault};

fn fast_config(base_url: String, key: &str) -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(100),
        },
        ..ClientConfig::new(base_url, Some(ApiKey::new(key)))
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a client that cannot be built fails the test"
)]
fn whop() -> (FakeWhop, WhopClient) {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-1"));
    let api = WhopClient::new(
        &fast_config(whop.base_url(), FakeWhop::API_KEY),
        WhopOptions::default(),
    )
    .unwrap();
    (whop, api)
}

const PATH: &str = "/api/v1/memberships/KEY-1";

async fn validate(api: &WhopClient) -> Result<Option<WhopMembership>, ApiError> {
    api.retrieve_membership(&CallContext::default(), MembershipRef::LicenseKey("KEY-1"))
        .await
}

#[tokio::test]
async fn a_503_is_retried_and_then_succeeds() {
    let (whop, api) = whop();
    whop.fail_next(Fault::Status(503), 1);
    assert!(validate(&api).await.unwrap().is_some());
    assert_eq!(whop.count("GET", PATH), 2);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_capped_then_succeeds() {
    let (whop, api) = whop();
    whop.fail_next(Fault::TooManyRequests { retry_after_secs: 30 }, 1);
    let started = Instant::now();
    assert!(validate(&api).await.unwrap().is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited the capped Retry-After"
    );
    assert_eq!(whop.count("GET", PATH), 2);
}

#[tokio::test]
async fn persistent_5xx_is_unreachable_after_bounded_retries() {
    let (whop, api) = whop();
    whop.fail_always(Fault::Status(500));
    let error = validate(&api).await.unwrap_err();
    assert_eq!(
        error,
        ApiError::Unreachable(UnreachableCause::ServerError { status: 500 })
    );
    assert!(error.is_unavailable());
    assert_eq!(whop.count("GET", PATH), 3);
}

#[tokio::test]
async fn persistent_429_is_rate_limited_not_rejected() {
    let (whop, api) = whop();
    whop.fail_always(Fault::TooManyRequests { retry_after_secs: 1 });
    assert_eq!(
        validate(&api).await.unwrap_err(),
        ApiError::RateLimited {
            retry_after_secs: Some(1)
        }
    );
    assert_eq!(whop.count("GET", PATH), 3);
}

#[tokio::test]
async fn a_timeout_is_unreachable_and_not_retried() {
    let (whop, api) = whop();
    whop.fail_always(Fault::Slow(Duration::from_secs(2)));
    assert_eq!(
        validate(&api).await.unwrap_err(),
        ApiError::Unreachable(UnreachableCause::Timeout)
    );
    assert_eq!(whop.count("GET", PATH), 1);
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_fine() {
    let (whop, api) = whop();
    whop.fail_next(Fault::Slow(Duration::from_millis(20)), 1);
    assert!(validate(&api).await.unwrap().is_some());
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    let (whop, api) = whop();
    whop.fail_always(Fault::Drop);
    assert_eq!(
        validate(&api).await.unwrap_err(),
        ApiError::Unreachable(UnreachableCause::Transport)
    );
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let api = DodoClient::new(&fast_config(format!("http://127.0.0.1:{port}"), "k")).unwrap();
    assert_eq!(
        api.validate_license(&CallContext::default(), "K", None)
            .await
            .unwrap_err(),
        ApiError::Unreachable(UnreachableCause::Connect)
    );
}

#[tokio::test]
async fn dodo_activation_retries_a_502_then_reports_the_limit() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "K1", Some(0)));
    let api = DodoClient::new(&fast_config(dodo.base_url(), FakeDodo::API_KEY)).unwrap();
    dodo.fail_next(Fault::Status(502), 1);
    assert!(matches!(
        api.activate_license(&CallContext::default(), "K1", "pc")
            .await
            .unwrap(),
        tollgate_providers::dodo::DodoActivation::LimitReached { .. }
    ));
    assert_eq!(dodo.count("POST", "/licenses/activate"), 2);
}
