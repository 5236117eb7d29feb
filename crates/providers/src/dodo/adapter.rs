//! Dodo's adapter: its verifier (Standard Webhooks) and parser.

use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{HeaderLookup, StandardWebhooksVerifier, Tolerance, Verified, VerifyError};

use crate::adapter::{ProviderAdapter, SignatureVerifier};
use crate::error::ParseError;
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// Dodo Payments as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DodoAdapter;

impl SignatureVerifier for StandardWebhooksVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        StandardWebhooksVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for DodoAdapter {
    fn provider(&self) -> Provider {
        Provider::Dodo
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(
            StandardWebhooksVerifier::new(secrets)?.with_tolerance(tolerance),
        ))
    }

    fn parse(&self, meta: &DeliveryMeta, value: &Value, _body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(meta, value)
    }
}
