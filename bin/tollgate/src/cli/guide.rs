//! Where each value lives in a provider's dashboard, and which webhook events to enable: the facts `doctor`,
//! `verify-webhook` and `simulate` print so an operator need not look them up.

use tollgate_policy::Provider;

/// One provider's setup facts.
#[derive(Debug, Clone, Copy)]
pub struct ProviderGuide {
    pub title: &'static str,
    /// Where to copy the webhook signing secret from.
    pub secret_where: &'static str,
    /// The prefix the provider's webhook secrets carry, if any.
    pub secret_prefix: Option<&'static str>,
    /// Where to create the API key, and with which permissions.
    pub api_key_where: &'static str,
    /// What Tollgate uses the API key for.
    pub api_key_use: &'static str,
    /// The webhook events to enable.
    pub events: &'static str,
    /// The headers a delivery carries.
    pub headers: &'static str,
}

pub fn guide(provider: Provider) -> ProviderGuide {
    match provider {
        Provider::Whop => ProviderGuide {
            title: "Whop",
            secret_where: "Whop dashboard → Developer → Webhooks → your webhook (API version v1) → secret",
            secret_prefix: Some("ws_"),
            api_key_where: "Whop dashboard → Developer → API keys: a company key with Membership: Validate License \
                            and Membership: Retrieve Membership",
            api_key_use: "license activation and reconciliation",
            events: "membership.activated, membership.deactivated, membership.cancel_at_period_end_changed",
            headers: "webhook-id, webhook-timestamp and webhook-signature (or the legacy X-Whop-Signature)",
        },
        Provider::Dodo => ProviderGuide {
            title: "Dodo Payments",
            secret_where: "Dodo dashboard → Developers → Webhooks → your endpoint → Signing secret",
            secret_prefix: Some("whsec_"),
            api_key_where: "Dodo dashboard → Developers → API Keys",
            api_key_use: "reconciliation (license activation uses Dodo's public license endpoints)",
            events: "entitlement_grant.* (created, delivered, failed, revoked) and subscription.*",
            headers: "webhook-id, webhook-timestamp and webhook-signature",
        },
        Provider::Aghanim => ProviderGuide {
            title: "Aghanim",
            secret_where: "Aghanim dashboard → Game → Webhooks → your webhook → reveal the webhook secret (not the \
                           S2S key)",
            secret_prefix: None,
            api_key_where: "Aghanim dashboard → Game → API keys: the S2S key",
            api_key_use: "reconciliation",
            events: "subscription.* (activated, updated, renewed, deactivated), and item.add and item.remove only \
                     for the SKUs in providers.aghanim.item_skus; never player.verify, player.lookup or store.get; \
                     batch mode off",
            headers: "X-Aghanim-Signature and X-Aghanim-Signature-Timestamp",
        },
        other => ProviderGuide {
            title: other.as_str(),
            secret_where: "the provider's dashboard",
            secret_prefix: None,
            api_key_where: "the provider's dashboard",
            api_key_use: "reconciliation",
            events: "the events its adapter parses",
            headers: "its signature headers",
        },
    }
}
