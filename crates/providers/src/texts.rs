//! How the HTTP API and the CLI name a provider and document its webhook route: the facts each adapter owns
//! ([`ProviderAdapter::webhook_doc`](crate::ProviderAdapter::webhook_doc),
//! [`ProviderAdapter::naming`](crate::ProviderAdapter::naming)), so that the route table, the OpenAPI document,
//! the error messages and the help texts list every registered provider without naming one.

use serde_json::Value;
use tollgate_policy::Provider;

/// How a provider's webhook route, `POST /api/webhooks/<wire name>`, is documented in the OpenAPI document.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDoc {
    /// The operation's summary (`Receive a Whop webhook`).
    pub summary: &'static str,
    /// The signature headers a delivery carries, in the order the document lists them. The server hands these
    /// headers (of every registered provider) to the verifier, and no others.
    pub headers: &'static [HeaderDoc],
    /// The request body's description.
    pub body_description: &'static str,
    /// An example delivery body.
    pub example: Value,
}

/// One signature header of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderDoc {
    /// The header's name, lower case (`webhook-signature`).
    pub name: &'static str,
    /// Whether every delivery carries it (`false` when the provider sends one of several formats).
    pub required: bool,
    /// What the header holds.
    pub description: &'static str,
}

impl WebhookDoc {
    /// The documentation of a provider that has none: a neutral summary and body, no headers and an empty example.
    pub fn unknown() -> WebhookDoc {
        WebhookDoc {
            summary: "Receive a provider's webhook",
            headers: &[],
            body_description: "The provider's payload, byte for byte as signed",
            example: Value::Object(serde_json::Map::new()),
        }
    }
}

/// How texts name a provider, its entitlement ids and its subjects (the customer or player an entitlement belongs
/// to), e.g. "the Whop user id, Dodo customer id or ... player_id".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    /// The provider's name in running text (`Dodo`, where the guide's title is `Dodo Payments`).
    pub short_name: &'static str,
    /// The prefixes of the provider's entitlement ids, the usual one first (`entg_`, then `lic_`).
    pub id_prefixes: &'static [&'static str],
    /// What the provider calls a subject (`user`, `customer`, `player`).
    pub subject_noun: &'static str,
    /// The payload field holding the subject id, when texts name that field rather than "<noun> id"
    /// (`player_id`).
    pub subject_field: Option<&'static str>,
    /// Whether the subjects are game players, whom a game server checks by id (`GET /api/entitlements`): the
    /// examples of subject lookups show such a provider.
    pub game_players: bool,
}

impl Naming {
    /// The naming of a provider that has none: its wire name and neutral words.
    pub fn unknown(provider: Provider) -> Naming {
        Naming {
            short_name: provider.as_str(),
            id_prefixes: &[],
            subject_noun: "customer",
            subject_field: None,
            game_players: false,
        }
    }

    /// The subject id as a message names it: `user id`, or the payload field (`player_id`).
    pub fn subject_id(&self) -> String {
        match self.subject_field {
            Some(field) => field.to_owned(),
            None => format!("{} id", self.subject_noun),
        }
    }

    /// The subject id as markdown names it: `user id`, or the payload field in code (`` `player_id` ``).
    pub fn subject_id_markdown(&self) -> String {
        match self.subject_field {
            Some(field) => format!("`{field}`"),
            None => format!("{} id", self.subject_noun),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Registry;

    #[test]
    fn each_provider_documents_the_headers_it_signs_with() {
        for adapter in Registry::builtin().adapters() {
            let doc = adapter.webhook_doc();
            let guide = adapter.guide();
            let signed = adapter
                .sign(guide.example_secret, "msg_1", 1_763_829_631, b"{}")
                .unwrap();
            for (name, _) in signed {
                assert!(
                    doc.headers.iter().any(|h| h.name == name),
                    "{}: `{name}` is signed but not documented",
                    adapter.provider()
                );
            }
        }
    }

    #[test]
    fn each_provider_names_its_ids_and_subjects() {
        for adapter in Registry::builtin().adapters() {
            let naming = adapter.naming();
            assert!(!naming.short_name.is_empty());
            assert!(!naming.id_prefixes.is_empty(), "{}", adapter.provider());
            assert!(
                naming
                    .id_prefixes
                    .iter()
                    .any(|p| adapter.guide().example_external_id.starts_with(p)),
                "{}: the example id has none of the prefixes",
                adapter.provider()
            );
        }
    }
}
