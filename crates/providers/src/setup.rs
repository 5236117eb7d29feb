//! What an operator needs to set a provider up, and how its deliveries are signed: the facts `tollgate doctor`,
//! `tollgate verify-webhook` and `tollgate simulate` print or use, so that they need no per-provider code.

use tollgate_policy::Provider;

/// One provider's setup facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupGuide {
    /// The provider's name as people write it (`Dodo Payments`).
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
    /// The production API base (the default `api_base`).
    pub default_api_base: &'static str,
    /// A secret of the provider's shape, for a local try.
    pub example_secret: &'static str,
    /// What the provider's id for an entitlement names (`membership`, `grant`, `subscription`).
    pub id_noun: &'static str,
    /// The entitlement id and the subject a simulated delivery names unless told otherwise.
    pub example_external_id: &'static str,
    pub example_subject: &'static str,
}

impl SetupGuide {
    /// The facts of a provider that has no guide: its wire name and neutral words.
    pub fn unknown(provider: Provider) -> SetupGuide {
        SetupGuide {
            title: provider.as_str(),
            secret_where: "the provider's dashboard",
            secret_prefix: None,
            api_key_where: "the provider's dashboard",
            api_key_use: "reconciliation",
            events: "the events its adapter parses",
            headers: "its signature headers",
            default_api_base: "",
            example_secret: "",
            id_noun: "entitlement",
            example_external_id: "",
            example_subject: "",
        }
    }
}
