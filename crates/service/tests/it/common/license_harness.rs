//! The lease and license tests' harness: a real store on a fresh SQLite file and on a fresh PostgreSQL schema (the
//! shared `tollgate_store::test_support`), a `ManualClock`, and provider clients aimed at the testkit's
//! fakes on loopback.
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); when it
//! is unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`.

#![expect(
    clippy::unwrap_used,
    dead_code,
    reason = "the test harness fails the test on any setup error; each test binary uses part of it"
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::backends;
use backends::{MAX_CONNECTIONS, fake_client_config};
use chrono::{DateTime, SubsecRound as _, Utc};
use tollgate_policy::{PolicySet, Provider};
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::whop::fake::FakeWhop;
use tollgate_providers::whop::{WhopClient, WhopOptions};
use tollgate_providers::{CallContext, ClientConfig, ProviderApi, ProviderApis};
use tollgate_service::clock::ManualClock;
use tollgate_service::lease::{LeaseSigner, longest_lease};
use tollgate_service::license::{
    ActivateRequest, DeactivateRequest, Deactivated, LicenseError, LicenseGrant, Licensing, LicensingOptions,
    ValidateRequest,
};
use tollgate_store::Store;
pub use tollgate_store::test_support::TestDb;
use tollgate_testkit::FakeProvider as _;

/// The client request timeout in these tests: a `Fault::Slow` longer than this is a timeout.
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

pub fn sqlite_db() -> TestDb {
    TestDb::sqlite(MAX_CONNECTIONS)
}

/// A fresh schema on the test PostgreSQL, or `None` (with a note) when it is unreachable and not required.
pub fn postgres_db() -> Option<TestDb> {
    TestDb::postgres(MAX_CONNECTIONS)
}

/// Run the async `body` on SQLite, then on PostgreSQL, each on its own multi-threaded runtime.
pub fn both<F: Fn(TestDb) -> Fut, Fut: Future<Output = ()>>(body: F) {
    backends::both(body);
}

/// Run `body` on SQLite, then on PostgreSQL.
pub fn both_sync(body: impl Fn(TestDb)) {
    tollgate_store::test_support::for_each_backend(MAX_CONNECTIONS, body);
}

/// The wall clock's current second: the fakes stamp their memberships with the wall clock.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

pub fn clock_at(at: DateTime<Utc>) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at))
}

/// A client configuration for a fake: its bearer key, a short timeout and no retries (a failure shows at once).
pub fn client_config(base_url: String, api_key: &str) -> ClientConfig {
    fake_client_config(base_url, api_key, CLIENT_TIMEOUT)
}

pub fn policies(toml_text: &str) -> Arc<PolicySet> {
    let policies: PolicySet = toml::from_str(toml_text).unwrap();
    policies.validate().unwrap();
    Arc::new(policies)
}

/// Everything a license test needs: the store, the clock, the fakes and the use cases wired to them.
pub struct Env {
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub whop: FakeWhop,
    pub dodo: FakeDodo,
    pub policies: Arc<PolicySet>,
    pub licensing: Licensing,
}

impl Env {
    /// Both fakes configured, `policy_toml` as the policy set, the clock at the wall clock's second.
    pub fn new(db: TestDb, policy_toml: &str) -> Env {
        Env::with_options(db, policy_toml, LicensingOptions::default())
    }

    pub fn with_options(db: TestDb, policy_toml: &str, options: LicensingOptions) -> Env {
        let whop = FakeWhop::start();
        let dodo = FakeDodo::start();
        let clock = clock_at(now());
        let policies = policies(policy_toml);
        let providers = ProviderApis::new()
            .with(
                Provider::Whop,
                ProviderApi::Memberships(Arc::new(
                    WhopClient::new(
                        &client_config(whop.base_url(), FakeWhop::API_KEY),
                        WhopOptions::default(),
                    )
                    .unwrap(),
                )),
            )
            .with(
                Provider::Dodo,
                ProviderApi::LicenseKeys(Arc::new(
                    DodoClient::new(&client_config(dodo.base_url(), FakeDodo::API_KEY)).unwrap(),
                )),
            );
        let leases =
            LeaseSigner::load_or_create(&db.store, "tollgate", longest_lease(&policies), clock.clone())
                .unwrap();
        let licensing = Licensing::new(
            db.store.clone(),
            policies.clone(),
            providers,
            leases,
            clock.clone(),
            options,
        );
        Env {
            db,
            clock,
            whop,
            dodo,
            policies,
            licensing,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    /// `Licensing::activate` for this key and hwid, as an app sends it.
    pub async fn activate(
        &self,
        license_key: &str,
        hwid: &str,
        device_name: Option<&str>,
    ) -> Result<LicenseGrant, LicenseError> {
        let req = ActivateRequest {
            license_key: license_key.to_owned(),
            hwid: hwid.to_owned(),
            device_name: device_name.map(str::to_owned),
        };
        self.licensing.activate(&CallContext::default(), &req).await
    }

    /// `Licensing::deactivate` for this key and hwid, as an app sends it.
    pub async fn deactivate(&self, license_key: &str, hwid: &str) -> Result<Deactivated, LicenseError> {
        let req = DeactivateRequest {
            license_key: license_key.to_owned(),
            hwid: hwid.to_owned(),
        };
        self.licensing.deactivate(&CallContext::default(), &req).await
    }

    /// `Licensing::validate` for this key and hwid, as an app sends it.
    pub async fn validate(&self, license_key: &str, hwid: &str) -> Result<Arc<LicenseGrant>, LicenseError> {
        let req = ValidateRequest {
            license_key: license_key.to_owned(),
            hwid: hwid.to_owned(),
        };
        self.licensing.validate(&CallContext::default(), &req).await
    }
}
