//! One verifier per provider, built from the configured secrets: what `verify-webhook` and `doctor` check with.

use tollgate_policy::Provider;
use tollgate_verify::{
    AghanimVerifier, HeaderLookup, StandardWebhooksVerifier, Tolerance, Verified, VerifyError, WhopVerifier,
};

use crate::settings::ProviderSettings;

/// The provider's verifier: Whop (both formats), Standard Webhooks (Dodo) or Aghanim.
#[derive(Debug)]
pub enum ProviderVerifier {
    Whop(WhopVerifier),
    Dodo(StandardWebhooksVerifier),
    Aghanim(AghanimVerifier),
}

impl ProviderVerifier {
    pub fn new(provider: Provider, secrets: &[&str], tolerance: Tolerance) -> Result<Self, VerifyError> {
        Ok(match provider {
            Provider::Whop => ProviderVerifier::Whop(WhopVerifier::new(secrets)?.with_tolerance(tolerance)),
            Provider::Dodo => {
                ProviderVerifier::Dodo(StandardWebhooksVerifier::new(secrets)?.with_tolerance(tolerance))
            }
            Provider::Aghanim => ProviderVerifier::Aghanim(AghanimVerifier::new(secrets, tolerance)?),
        })
    }

    pub fn verify<'h, H: HeaderLookup>(
        &self,
        headers: &'h H,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        match self {
            ProviderVerifier::Whop(v) => v.verify(headers, body, now),
            ProviderVerifier::Dodo(v) => v.verify(headers, body, now),
            ProviderVerifier::Aghanim(v) => v.verify(headers, body, now),
        }
    }
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
