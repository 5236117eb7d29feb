//! Webhook ingest: one authentic delivery verified, parsed and stored with its effect in one transaction, exactly
//! once; and the replay of stored deliveries after a fix.
//!
//! [`Ingest::prepare`] (verify and parse) is CPU only. Storing blocks: the server hands prepared deliveries to the
//! [`Committer`], whose writer threads store concurrent ones in one transaction (group commit); the CLI and tests
//! call the blocking [`Ingest::ingest`].

mod commit;
mod effect;
mod error;
mod outcome;
mod parser;
mod prepared;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use ring::digest;
use tollgate_policy::Provider;
pub use tollgate_providers::ProviderVerifier;
use tollgate_providers::{DeliveryMeta, Outcome, ParseError, ParsedWebhook, ProviderAdapter, Registry};
use tollgate_store::{InboxEffect, InboxEvent, InboxFilter, InboxId, InboxStatus, NewInboxEvent, Store};
use tollgate_verify::{HeaderLookup, Tolerance};

pub use commit::{CommitSettings, Committer};
pub use error::IngestError;
pub use outcome::IngestOutcome;
pub use parser::{WebhookParser, store_change};
pub use prepared::Prepared;
use prepared::log_outcome;

use crate::clock::Clock;
use crate::entitlement_change;

/// The signing secrets of one provider: the current one first, then older ones still accepted during a rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSecrets {
    pub secrets: Vec<String>,
    pub tolerance: Tolerance,
}

impl fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSecrets")
            .field("secrets", &format_args!("[{} redacted]", self.secrets.len()))
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Every provider's webhook secrets; a provider without an entry has its endpoint disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    by_provider: BTreeMap<Provider, ProviderSecrets>,
}

impl WebhookSecrets {
    /// These secrets with `provider`'s set (replacing any set before).
    #[must_use]
    pub fn with(mut self, provider: Provider, secrets: ProviderSecrets) -> WebhookSecrets {
        self.set(provider, secrets);
        self
    }

    /// Sets `provider`'s secrets (replacing any set before).
    pub fn set(&mut self, provider: Provider, secrets: ProviderSecrets) {
        self.by_provider.insert(provider, secrets);
    }

    pub fn get(&self, provider: Provider) -> Option<&ProviderSecrets> {
        self.by_provider.get(&provider)
    }
}

/// The verifiers built once from the configured secrets, one per enabled provider.
#[derive(Debug, Default)]
struct Verifiers {
    by_provider: BTreeMap<Provider, ProviderVerifier>,
}

impl Verifiers {
    fn build(registry: &Registry, secrets: &WebhookSecrets) -> Result<Verifiers, IngestError> {
        let mut by_provider = BTreeMap::new();
        for adapter in registry.adapters() {
            let provider = adapter.provider();
            let Some(configured) = secrets.get(provider) else {
                continue;
            };
            let usable: Vec<&str> = configured
                .secrets
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .collect();
            if usable.is_empty() {
                continue;
            }
            let verifier = ProviderVerifier::new(adapter, &usable, configured.tolerance)
                .map_err(|error| IngestError::InvalidSecret { provider, error })?;
            by_provider.insert(provider, verifier);
        }
        Ok(Verifiers { by_provider })
    }

    fn get(&self, provider: Provider) -> Option<&ProviderVerifier> {
        self.by_provider.get(&provider)
    }

    fn is_enabled(&self, provider: Provider) -> bool {
        self.get(provider).is_some()
    }

    fn verify<H: HeaderLookup>(
        &self,
        provider: Provider,
        headers: &H,
        body: &[u8],
        now: i64,
    ) -> Result<DeliveryMeta, IngestError> {
        let verified = self
            .get(provider)
            .ok_or(IngestError::NotConfigured(provider))?
            .verify(headers, body, now)
            .map_err(IngestError::InvalidSignature)?;
        Ok(DeliveryMeta::from_verified(
            verified.webhook_id,
            verified.timestamp,
        ))
    }
}

/// Each replayed event's id and what became of it.
pub type ReplayResults = Vec<(InboxId, Result<IngestOutcome, IngestError>)>;

/// The webhook use case. Cheap to clone; every method blocks.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    verifiers: Arc<Verifiers>,
    /// A test's stand-in for another release's parser; `None`: the registry's adapters parse.
    parser: Option<Arc<dyn WebhookParser>>,
    clock: Arc<dyn Clock>,
    /// The adapters that parse deliveries and, with the operator's choices, turn them into their effects.
    registry: Arc<Registry>,
}

impl fmt::Debug for Ingest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest")
            .field("enabled", &self.verifiers.by_provider.keys().collect::<Vec<_>>())
            .field("registry", &self.registry)
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Build the verifiers once. A provider with no (non-blank) secret is disabled; a secret the verifier refuses
    /// (e.g. a Dodo secret that is not `whsec_<base64>`) is [`IngestError::InvalidSecret`].
    /// Every provider of the built-in [`Registry`] is known ([`Ingest::with_registry`] takes another).
    pub fn new(store: Store, secrets: &WebhookSecrets, clock: Arc<dyn Clock>) -> Result<Ingest, IngestError> {
        Ingest::with_registry(store, Registry::shared(), secrets, clock)
    }

    /// [`Ingest::new`] over `registry`'s providers: their verifiers and their parsers.
    pub fn with_registry(
        store: Store,
        registry: &Registry,
        secrets: &WebhookSecrets,
        clock: Arc<dyn Clock>,
    ) -> Result<Ingest, IngestError> {
        Ok(Ingest {
            store,
            verifiers: Arc::new(Verifiers::build(registry, secrets)?),
            parser: None,
            clock,
            registry: Arc::new(registry.clone()),
        })
    }

    /// The same ingest with `adapter` in place of its provider's adapter when deliveries become effects: an adapter
    /// built with the operator's choices for that provider (which items it grants, whether sandbox events count).
    /// A replay uses it too. Verifiers stay as built; payloads parse as any adapter of that provider parses them.
    pub fn with_adapter(mut self, adapter: impl ProviderAdapter + 'static) -> Ingest {
        Arc::make_mut(&mut self.registry).register(Arc::new(adapter));
        self
    }

    /// The same ingest with another payload parser (tests use it to stand in for an older release's parser).
    pub fn with_parser(mut self, parser: Arc<dyn WebhookParser>) -> Ingest {
        self.parser = Some(parser);
        self
    }

    /// An authentic body as [`ParsedWebhook`]: by the test's stand-in parser, else by the provider's adapter.
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError> {
        match &self.parser {
            Some(parser) => parser.parse(provider, meta, body),
            None => self.registry.parse(provider, meta, body),
        }
    }

    /// Whether this provider has a webhook secret.
    pub fn is_enabled(&self, provider: Provider) -> bool {
        self.verifiers.is_enabled(provider)
    }

    /// The store this ingest writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One delivery: verify with every configured secret, parse, then store it and its effect in one transaction
    /// ([`Ingest::prepare`] then [`Ingest::record`]).
    ///
    /// - no secret: [`IngestError::NotConfigured`]; bad, missing or stale signature: [`IngestError::InvalidSignature`]
    ///   (nothing stored);
    /// - authentic but not JSON: [`IngestError::NotJson`] (nothing stored);
    /// - authentic JSON Tollgate cannot parse: stored `failed` with the error ([`IngestOutcome::Failed`]), to be
    ///   replayed after a fix;
    /// - a type Tollgate does not act on: stored `ignored`; a redelivery: [`IngestOutcome::Duplicate`];
    /// - a delivery a 2xx would misrepresent (an item it does not grant, a request/response type, a
    ///   sandbox item while sandbox events are off): [`IngestError::Refused`], nothing stored;
    /// - the database unavailable: [`IngestError::Storage`], nothing written.
    pub fn ingest(
        &self,
        provider: Provider,
        headers: &impl HeaderLookup,
        body: &[u8],
    ) -> Result<IngestOutcome, IngestError> {
        let prepared = self.prepare(provider, headers, body)?;
        self.record(prepared)
    }

    /// The CPU half of [`Ingest::ingest`], with no database access (fine on an async worker): verify the
    /// signature and parse the body into the inbox row and its effect. The errors are those of `ingest` that
    /// store nothing; a body that is authentic JSON but cannot be parsed is prepared as a `failed` row.
    pub fn prepare(
        &self,
        provider: Provider,
        headers: &impl HeaderLookup,
        body: &[u8],
    ) -> Result<Prepared, IngestError> {
        let started = Instant::now();
        let now = self.clock.now();
        let meta = self.verifiers.verify(provider, headers, body, now.timestamp())?;
        let mut refresh = None;
        let (dedupe_key, semantic_key, event_type, effect) = match self.parse(provider, &meta, body) {
            Ok(parsed) => {
                let effect = match effect::effect_of(&self.registry, provider, &parsed) {
                    Ok(effect) => effect,
                    Err(refusal) => {
                        log::warn!(
                            provider = provider.as_str(),
                            event_type = parsed.event_type.as_str(),
                            status = refusal.code.as_str();
                            "webhook refused, nothing stored: {}", refusal.message
                        );
                        return Err(IngestError::Refused(refusal));
                    }
                };
                if let Outcome::Refresh { external_id, .. } = &parsed.outcome {
                    refresh = Some(external_id.clone());
                }
                (parsed.dedupe_key, parsed.semantic_key, parsed.event_type, effect)
            }
            Err(e) if e.is_not_json() => return Err(IngestError::NotJson(e.to_string())),
            Err(e) => (
                fallback_dedupe_key(meta.webhook_id.as_deref(), body),
                None,
                best_effort_event_type(body),
                InboxEffect::Fail(e.to_string()),
            ),
        };
        let event = NewInboxEvent {
            provider,
            dedupe_key,
            semantic_key,
            event_type,
            body: body.to_vec(),
            received_at: now,
            webhook_id: meta.webhook_id,
            signed_at: meta.signed_at,
        };
        Ok(Prepared {
            event,
            effect,
            refresh,
            started,
        })
    }

    /// The storage half of [`Ingest::ingest`], blocking: store a prepared delivery and its effect in its own
    /// transaction. ([`Committer`] stores many in one.)
    pub fn record(&self, prepared: Prepared) -> Result<IngestOutcome, IngestError> {
        let (item, receipt) = prepared.split();
        let recorded = entitlement_change::record_webhook(&self.store, &item.0, item.1);
        receipt.settle(recorded)
    }

    /// Re-parse one stored delivery with this release's parser and act on it: apply (the row becomes `processed`),
    /// ignore (`ignored`) or record the parse error again (`failed`, [`IngestOutcome::Failed`]). Applying is
    /// idempotent, so replaying a processed event changes nothing but its attempt count and the audit trail.
    pub fn replay(&self, inbox_id: InboxId) -> Result<IngestOutcome, IngestError> {
        let started = Instant::now();
        let event = self
            .store
            .find_inbox_event(inbox_id)
            .map_err(IngestError::Storage)?
            .ok_or(IngestError::NotFound(inbox_id))?;
        let outcome = self.replay_event(&event)?;
        log_outcome(event.provider, &outcome, started);
        Ok(outcome)
    }

    /// Replay every `failed` event (of one provider, or all), oldest first. Each gets its own result; the outer
    /// error is only for the listing itself.
    pub fn replay_failed(&self, provider: Option<Provider>) -> Result<ReplayResults, IngestError> {
        let mut results = Vec::new();
        let mut after_id = None;
        loop {
            let page = self
                .store
                .list_inbox(&InboxFilter {
                    provider,
                    status: Some(InboxStatus::Failed),
                    after_id,
                    limit: 100,
                })
                .map_err(IngestError::Storage)?;
            let Some(last) = page.last() else {
                break;
            };
            after_id = Some(last.id);
            for event in &page {
                let started = Instant::now();
                let result = self.replay_event(event);
                if let Ok(outcome) = &result {
                    log_outcome(event.provider, outcome, started);
                }
                results.push((event.id, result));
            }
        }
        Ok(results)
    }

    fn replay_event(&self, event: &InboxEvent) -> Result<IngestOutcome, IngestError> {
        let meta = DeliveryMeta {
            webhook_id: event.webhook_id.clone(),
            // Rows stored before the signature time was kept fall back to when they arrived (within the tolerance).
            signed_at: event.signed_at.or(Some(event.received_at)),
        };
        let storage = IngestError::Storage;
        match self.parse(event.provider, &meta, &event.body) {
            // A refusal leaves the row as it is: what it already did stays done.
            Ok(parsed) => match effect::effect_of(&self.registry, event.provider, &parsed)
                .map_err(IngestError::Refused)?
            {
                effect @ (InboxEffect::Apply(_) | InboxEffect::ApplyAll(_))
                    if !effect.changes().is_empty() =>
                {
                    let entitlements =
                        entitlement_change::apply_inbox_changes(&self.store, event.id, effect.changes())
                            .map_err(storage)?;
                    let first = entitlements
                        .into_iter()
                        .next()
                        .ok_or_else(|| IngestError::NotFound(event.id))?;
                    Ok(IngestOutcome::Applied {
                        inbox_id: event.id,
                        event_type: parsed.event_type,
                        entitlement_id: first.id,
                        external_id: first.state.external_id,
                    })
                }
                effect => {
                    match &effect {
                        InboxEffect::IgnoreNoted(note) => {
                            self.store.mark_inbox_ignored_noted(event.id, note.as_str())
                        }
                        _ => self.store.mark_inbox_ignored(event.id),
                    }
                    .map_err(storage)?;
                    Ok(IngestOutcome::Ignored {
                        inbox_id: event.id,
                        event_type: parsed.event_type,
                    })
                }
            },
            Err(e) => {
                let error = e.to_string();
                self.store.mark_inbox_failed(event.id, &error).map_err(storage)?;
                Ok(IngestOutcome::Failed {
                    inbox_id: event.id,
                    event_type: event.event_type.clone(),
                    error,
                })
            }
        }
    }
}

/// The inbox key of a delivery that could not be parsed: its `webhook-id` when the scheme has one (the same key a
/// successful parse uses), else a SHA-256 of the body, so an identical redelivery is still a duplicate.
fn fallback_dedupe_key(webhook_id: Option<&str>, body: &[u8]) -> String {
    match webhook_id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!(
            "unparsed:{}",
            hex_lower(digest::digest(&digest::SHA256, body).as_ref())
        ),
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The event name of an unparseable JSON body, for the inbox listing: the first of `type`, `event_type` and
/// `action` (the providers' event-name fields) that is a short string; else `unknown`.
fn best_effort_event_type(body: &[u8]) -> String {
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return "unknown".to_owned();
    };
    ["type", "event_type", "action"]
        .iter()
        .find_map(|key| root.get(*key).and_then(|v| v.as_str()))
        .filter(|name| !name.is_empty() && name.len() <= 100)
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use tollgate_providers::ParseError;

    use super::*;

    #[test]
    fn fallback_key_is_the_webhook_id_or_a_body_hash() {
        assert_eq!(fallback_dedupe_key(Some("msg_1"), b"{}"), "msg_1");
        assert_eq!(
            fallback_dedupe_key(None, b"abc"),
            "unparsed:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            fallback_dedupe_key(Some(""), b"abc"),
            fallback_dedupe_key(None, b"abc")
        );
    }

    #[test]
    fn event_type_is_read_best_effort() {
        assert_eq!(
            best_effort_event_type(br#"{"type":"membership.activated"}"#),
            "membership.activated"
        );
        assert_eq!(
            best_effort_event_type(br#"{"event_type":"item.add"}"#),
            "item.add"
        );
        assert_eq!(
            best_effort_event_type(br#"{"action":"membership.went_valid"}"#),
            "membership.went_valid"
        );
        assert_eq!(best_effort_event_type(br#"{"type":3}"#), "unknown");
        assert_eq!(best_effort_event_type(b"[1]"), "unknown");
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(101));
        assert_eq!(best_effort_event_type(long.as_bytes()), "unknown");
    }

    #[test]
    fn parse_errors_name_fields_not_values() {
        let e = ParseError::WrongType {
            field: "data.cancel_at_period_end".into(),
            expected: "boolean",
        };
        assert!(!e.to_string().contains("true"));
    }
}
