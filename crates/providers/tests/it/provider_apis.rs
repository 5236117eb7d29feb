//! The one registry of provider APIs: which providers an unknown license key is asked of, in which order, and which
//! APIs reconciliation lists with.

#![expect(clippy::unwrap_used, reason = "test: a failed step fails the test")]

use std::sync::Arc;

use tollgate_policy::Provider;
use tollgate_providers::aghanim::{AghanimClient, AghanimListing};
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::whop::{WhopClient, WhopOptions};
use tollgate_providers::{ClientConfig, ProviderApi, ProviderApis};

/// Clients of every shape over a closed loopback port: nothing here calls them.
fn all_three() -> ProviderApis {
    let config = ClientConfig::new("http://127.0.0.1:9", None);
    let whop = WhopClient::new(&config, WhopOptions::default()).unwrap();
    let dodo = DodoClient::new(&config).unwrap();
    let aghanim = AghanimClient::new(&config).unwrap();
    ProviderApis::new()
        .with(
            Provider::Aghanim,
            ProviderApi::Subjects(Arc::new(AghanimListing::new(Arc::new(aghanim)))),
        )
        .with(Provider::Dodo, ProviderApi::LicenseKeys(Arc::new(dodo)))
        .with(Provider::Whop, ProviderApi::Memberships(Arc::new(whop)))
}

#[test]
fn a_key_in_a_providers_own_shape_asks_that_provider_first() {
    let apis = all_three();
    assert_eq!(
        apis.license_order("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b"),
        vec![Provider::Dodo, Provider::Whop]
    );
    assert_eq!(
        apis.license_order("KLINE-8FFK3-SD83K-3K3K3-3K3K3"),
        vec![Provider::Whop, Provider::Dodo]
    );
}

#[test]
fn only_apis_with_license_endpoints_are_asked_and_only_keyed_ones_listed() {
    let mut apis = all_three();
    assert_eq!(apis.providers().collect::<Vec<_>>(), Provider::ALL.to_vec());
    assert!(apis.license_api(Provider::Aghanim).is_none());
    assert!(apis.license_api(Provider::Dodo).is_some());
    let config = ClientConfig::new("http://127.0.0.1:9", None);
    let dodo = DodoClient::new(&config).unwrap();
    apis.insert(Provider::Dodo, ProviderApi::LicenseKeys(Arc::new(dodo)), false);
    assert_eq!(
        apis.authenticated().providers().collect::<Vec<_>>(),
        vec![Provider::Whop, Provider::Aghanim]
    );
    assert_eq!(apis.license_order("any"), vec![Provider::Whop, Provider::Dodo]);
}
