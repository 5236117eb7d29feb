//! What one provider brings to Tollgate, behind one trait: the signature scheme its webhooks are signed with
//! (built from its secrets), the parser of its webhook bodies, and its setup facts. Each provider's folder implements
//! [`ProviderAdapter`]; the [`Registry`](crate::Registry) holds them, keyed by [`Provider`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{Header, HeaderLookup, Scheme, Tolerance, Verified, VerifyError};

use crate::apis::{ApiSettings, ProviderApi};
use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig};
use crate::setup::SetupGuide;
use crate::texts::{Naming, WebhookDoc};
use crate::webhook::{DeliveryMeta, Outcome, ParsedWebhook, Refusal, WebhookEffect};

/// A signature scheme with its secrets, ready to verify deliveries.
pub trait SignatureVerifier: Send + Sync + fmt::Debug {
    /// Verifies one delivery's signature headers against its raw body at Unix time `now`.
    ///
    /// # Errors
    /// The scheme's [`VerifyError`]: a missing or malformed header, a stale timestamp, no matching signature.
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError>;
}

/// One payment provider as Tollgate speaks to it. Implementations are stateless: configuration (secrets, API
/// clients) is passed in.
pub trait ProviderAdapter: Send + Sync + fmt::Debug {
    /// The key this adapter is registered under (its wire name is used in URLs, configuration and storage).
    fn provider(&self) -> Provider;

    /// The provider's signature verifier over these secrets (current first, then older ones still accepted).
    ///
    /// # Errors
    /// A secret the scheme refuses ([`VerifyError::BadSecret`]).
    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError>;

    /// Turns an authentic body, already decoded as JSON (`value`; `body` is the raw bytes), into a
    /// [`ParsedWebhook`]. It never panics.
    ///
    /// # Errors
    /// A body the provider's payload format cannot be read from ([`ParseError`]).
    fn parse(&self, meta: &DeliveryMeta, value: &Value, body: &[u8]) -> Result<ParsedWebhook, ParseError>;

    /// What ingest stores for a parsed outcome under the operator's choices for this provider (which item SKUs it
    /// grants, whether sandbox events count). The default makes no choice: [`WebhookEffect::without_choices`].
    ///
    /// # Errors
    /// The [`Refusal`] to answer with: 4xx, nothing stored.
    fn effect(&self, outcome: &Outcome) -> Result<WebhookEffect, Refusal> {
        WebhookEffect::without_choices(outcome)
    }

    /// The facts an operator needs to set this provider up.
    fn guide(&self) -> SetupGuide;

    /// The signature headers this provider sends with `body`, signed with `secret` at Unix time `timestamp`
    /// (`id` is the delivery id, for schemes that send one): what `tollgate simulate` posts.
    ///
    /// # Errors
    /// A secret the scheme refuses ([`VerifyError::BadSecret`]).
    fn sign(
        &self,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, VerifyError>;

    /// The provider's API, built from its section's `settings`, for the license flows and reconciliation
    /// ([`ProviderApis`](crate::ProviderApis)). `None` (the default): Tollgate calls no API of this provider, or
    /// none under these settings (an API that needs a key it was not given).
    ///
    /// # Errors
    /// The client cannot be built ([`ApiError::Config`]).
    fn api(&self, settings: &ApiSettings) -> Option<Result<ProviderApi, ApiError>> {
        let _ = settings;
        None
    }

    /// Whether `license_key` has the shape of this provider's license keys, so that an activation of a key Tollgate
    /// has never seen asks this provider first ([`ProviderApis::license_order`](crate::ProviderApis::license_order)).
    /// `false` (the default): its keys have no shape of their own.
    fn claims_license_key(&self, license_key: &str) -> bool {
        let _ = license_key;
        false
    }

    /// One harmless authenticated read for `tollgate doctor --online`, over an API client built from `config`; a
    /// good answer is the summary to print. `None` (the default): the provider has no such probe.
    fn probe<'a>(
        &'a self,
        ctx: &'a CallContext,
        config: &'a ClientConfig,
    ) -> Option<ApiFuture<'a, &'static str>> {
        let _ = (ctx, config);
        None
    }

    /// The event types `tollgate simulate` can build for this provider (none, by default).
    fn simulated_events(&self) -> &'static [&'static str] {
        &[]
    }

    /// The body of a simulated `event` at `now` about `external_id` and `subject`, its delivery ids made new by
    /// `unique`; `None` when there is no template for it (the default).
    fn simulated_body(
        &self,
        event: &str,
        now: DateTime<Utc>,
        external_id: &str,
        subject: &str,
        unique: &str,
    ) -> Option<Value> {
        let _ = (event, now, external_id, subject, unique);
        None
    }

    // -- signature schemes --

    /// Whether `headers` are unmistakably this provider's: they carry a signature header that no other provider's
    /// scheme sends. `false` (the default) for a scheme whose headers others share. `tollgate verify-webhook` uses
    /// it to say which provider a delivery checked as another one's comes from.
    fn recognizes(&self, headers: &dyn HeaderLookup) -> bool {
        let _ = headers;
        false
    }

    /// The signed Unix time in `headers`, read leniently from where this provider's scheme carries it, for
    /// messages: `None` when that header is absent (the default), [`VerifyError::MalformedHeader`] when its value
    /// does not read as a time.
    fn signed_timestamp(&self, headers: &dyn HeaderLookup) -> Option<Result<i64, VerifyError>> {
        let _ = headers;
        None
    }

    /// How `tollgate verify-webhook` names `scheme`, the scheme this provider's verifier authenticated a delivery
    /// with: the provider's title ([`SetupGuide::title`]) by default.
    fn scheme_label(&self, scheme: Scheme) -> &'static str {
        let _ = scheme;
        self.guide().title
    }

    // -- tollgate dev fakes --

    /// This provider's fake for `tollgate dev` (cargo feature `fake`): started on loopback with `seed`'s API key
    /// and a webhook secret made of its bytes in the provider's own shape, not yet seeded. `None` (the default):
    /// the provider has no dev fake.
    #[cfg(feature = "fake")]
    fn dev_fake(&self, seed: &tollgate_testkit::DevSeed) -> Option<Box<dyn tollgate_testkit::DevFake>> {
        let _ = seed;
        None
    }

    // -- webhook routes and texts --

    /// How the provider's webhook route, `POST /api/webhooks/<wire name>`, is documented, and the signature headers
    /// its deliveries carry. By default: [`WebhookDoc::unknown`] (no headers are handed to its verifier).
    fn webhook_doc(&self) -> WebhookDoc {
        WebhookDoc::unknown()
    }

    /// How messages, help texts and the OpenAPI document name the provider, its ids and its subjects. By default:
    /// [`Naming::unknown`].
    fn naming(&self) -> Naming {
        Naming::unknown(self.provider())
    }
}

/// One provider's verifier, built from its adapter and its secrets. Ingest, `tollgate doctor` and
/// `tollgate verify-webhook` all verify with it.
#[derive(Debug)]
pub struct ProviderVerifier {
    provider: Provider,
    scheme: Box<dyn SignatureVerifier>,
}

impl ProviderVerifier {
    /// The verifier of `adapter`'s provider over `secrets`.
    ///
    /// # Errors
    /// A secret the provider's scheme refuses.
    pub fn new<S: AsRef<str>>(
        adapter: &dyn ProviderAdapter,
        secrets: &[S],
        tolerance: Tolerance,
    ) -> Result<Self, VerifyError> {
        let secrets: Vec<&str> = secrets.iter().map(AsRef::as_ref).collect();
        Ok(ProviderVerifier {
            provider: adapter.provider(),
            scheme: adapter.verifier(&secrets, tolerance)?,
        })
    }

    /// The provider this verifier belongs to.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Verifies one delivery (see [`SignatureVerifier::verify`]).
    ///
    /// # Errors
    /// The scheme's [`VerifyError`].
    pub fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        self.scheme.verify(headers, body, now)
    }
}

// -- signature schemes --

/// The Unix time in `header`, as [`ProviderAdapter::signed_timestamp`] reads it: a decimal integer, surrounding
/// whitespace ignored; `None` when the header is absent.
pub(crate) fn header_timestamp(
    headers: &dyn HeaderLookup,
    header: Header,
) -> Option<Result<i64, VerifyError>> {
    let value = headers.header(header.name())?;
    Some(
        std::str::from_utf8(value)
            .ok()
            .and_then(|value| value.trim().parse().ok())
            .ok_or(VerifyError::MalformedHeader(header)),
    )
}
