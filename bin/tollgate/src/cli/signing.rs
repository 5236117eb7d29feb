//! The configured secrets as `verify-webhook` and `doctor` name them; they verify with the service's
//! [`ProviderVerifier`], built from the provider registry like the one ingest uses.

use tollgate_policy::Provider;
pub use tollgate_providers::ProviderVerifier;
use tollgate_providers::Registry;
use tollgate_verify::{Tolerance, VerifyError};

use crate::settings::ProviderSettings;

/// `provider`'s verifier over `secrets`, from the built-in registry (every configurable provider is registered).
///
/// # Errors
/// A secret the provider's scheme refuses, or [`VerifyError::BadSecret`] for a provider that is not registered.
pub fn provider_verifier(
    provider: Provider,
    secrets: &[&str],
    tolerance: Tolerance,
) -> Result<ProviderVerifier, VerifyError> {
    Registry::shared()
        .verifier(provider, secrets, tolerance)
        .unwrap_or(Err(VerifyError::BadSecret(
            tollgate_verify::SecretProblem::NoSecrets,
        )))
}

/// The configured secrets in the order the verifier numbers them, each with the key it comes from.
pub fn labelled_secrets(provider: Provider, settings: &ProviderSettings) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if settings.webhook_secret.is_set() {
        out.push((
            format!("providers.{provider}.webhook_secret"),
            settings.webhook_secret.expose().trim(),
        ));
    }
    for (i, secret) in settings.previous_webhook_secrets.iter().enumerate() {
        out.push((
            format!("providers.{provider}.previous_webhook_secrets[{i}]"),
            secret.expose().trim(),
        ));
    }
    out
}

/// Which configured secret a verifier error's index names.
pub fn secret_problem(err: VerifyError, labels: &[(String, &str)]) -> String {
    let label = |index: usize| {
        labels
            .get(index)
            .map_or_else(|| format!("secret #{index}"), |(label, _)| label.clone())
    };
    match err {
        VerifyError::BadSecret(tollgate_verify::SecretProblem::NotBase64 { index }) => {
            format!("{} is not valid base64 after its whsec_ prefix", label(index))
        }
        VerifyError::BadSecret(tollgate_verify::SecretProblem::Empty { index }) => {
            format!("{} is empty after its prefix", label(index))
        }
        VerifyError::BadSecret(tollgate_verify::SecretProblem::NoSecrets) => {
            "no secret is configured".to_owned()
        }
        other => other.to_string(),
    }
}
