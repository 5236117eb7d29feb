//! Where each value lives in a provider's dashboard, and which webhook events to enable: the facts `doctor`,
//! `verify-webhook` and `simulate` print so an operator need not look them up. Each provider's adapter holds its own
//! ([`tollgate_providers::ProviderAdapter::guide`]).

use tollgate_policy::Provider;
use tollgate_providers::{Registry, SetupGuide};

/// `provider`'s setup facts, from its adapter in the registry.
pub fn guide(provider: Provider) -> SetupGuide {
    Registry::shared()
        .get(provider)
        .map_or_else(|| SetupGuide::unknown(provider), |adapter| adapter.guide())
}
