//! What both service harnesses share: running an async test body on each backend, and provider clients aimed at a
//! fake without retries.

#![expect(
    clippy::expect_used,
    reason = "the test harness fails the test on any setup error"
)]

use std::future::Future;
use std::time::Duration;

use tollgate_providers::{ApiKey, ClientConfig, RetryPolicy};
use tollgate_store::test_support::{TestDb, for_each_backend};

/// The pool size of each test database.
pub const MAX_CONNECTIONS: u32 = 8;

/// Run the async `body` on SQLite, then on PostgreSQL, each on its own multi-threaded runtime.
pub fn both<F, Fut>(body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for_each_backend(MAX_CONNECTIONS, |db| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a test runtime")
            .block_on(body(db));
    });
}

/// A client configuration for a fake: its bearer key, a 2 s connect timeout, `request_timeout` and no retries (a
/// failure shows at once).
pub fn fake_client_config(base_url: String, api_key: &str, request_timeout: Duration) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Some(ApiKey::new(api_key)));
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = request_timeout;
    config.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    config
}
