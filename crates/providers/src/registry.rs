//! The one registry of providers, keyed by [`Provider`]: the binary builds it, the service asks it for a provider's
//! verifier and parser. Adding a provider is a folder implementing [`ProviderAdapter`] and one line in
//! [`Registry::builtin`] (in the crate root, beside the folders' `mod` lines).

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{Tolerance, VerifyError};

use crate::adapter::{ProviderAdapter, ProviderVerifier};
use crate::error::ParseError;
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// The providers Tollgate knows, in registration order (the order runs, reports and listings visit them).
#[derive(Clone, Default)]
pub struct Registry {
    adapters: Vec<Arc<dyn ProviderAdapter>>,
}

/// The built-in registry, shared by [`crate::parse_webhook`].
static BUILTIN: LazyLock<Registry> = LazyLock::new(Registry::builtin);

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The built-in registry, built once per process.
    pub fn shared() -> &'static Registry {
        &BUILTIN
    }

    /// This registry with `adapter` added; an adapter for a provider already registered replaces it in place.
    #[must_use]
    pub fn with(mut self, adapter: impl ProviderAdapter + 'static) -> Registry {
        self.register(Arc::new(adapter));
        self
    }

    /// Adds `adapter`; an adapter for a provider already registered replaces it in place.
    pub fn register(&mut self, adapter: Arc<dyn ProviderAdapter>) {
        let provider = adapter.provider();
        match self.adapters.iter_mut().find(|a| a.provider() == provider) {
            Some(slot) => *slot = adapter,
            None => self.adapters.push(adapter),
        }
    }

    /// The adapter registered for `provider`, if any.
    pub fn get(&self, provider: Provider) -> Option<&dyn ProviderAdapter> {
        self.adapters
            .iter()
            .find(|a| a.provider() == provider)
            .map(|a| a.as_ref())
    }

    /// Whether `provider` is registered.
    pub fn contains(&self, provider: Provider) -> bool {
        self.get(provider).is_some()
    }

    /// The registered providers, in registration order.
    pub fn providers(&self) -> impl Iterator<Item = Provider> + '_ {
        self.adapters.iter().map(|a| a.provider())
    }

    /// The registered adapters, in registration order.
    pub fn adapters(&self) -> impl Iterator<Item = &dyn ProviderAdapter> + '_ {
        self.adapters.iter().map(|a| a.as_ref())
    }

    /// `provider`'s verifier over `secrets`; `None` when the provider is not registered.
    ///
    /// # Errors
    /// A secret the provider's scheme refuses.
    pub fn verifier<S: AsRef<str>>(
        &self,
        provider: Provider,
        secrets: &[S],
        tolerance: Tolerance,
    ) -> Option<Result<ProviderVerifier, VerifyError>> {
        self.get(provider)
            .map(|adapter| ProviderVerifier::new(adapter, secrets, tolerance))
    }

    /// Turns an authentic webhook body of `provider` into a [`ParsedWebhook`] (see [`crate::parse_webhook`]).
    ///
    /// # Errors
    /// [`ParseError::NotJson`] for a body that is not JSON, [`ParseError::UnknownProvider`] for a provider that is
    /// not registered, else the provider's [`ParseError`].
    pub fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson {
            reason: e.to_string(),
        })?;
        let adapter = self.get(provider).ok_or_else(|| ParseError::UnknownProvider {
            provider: provider.as_str().to_owned(),
        })?;
        adapter.parse(meta, &value, body)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.providers()).finish()
    }
}
