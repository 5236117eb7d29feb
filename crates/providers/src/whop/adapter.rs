//! Whop's adapter: its verifier (current Standard Webhooks format and legacy `X-Whop-Signature`) and parser.

use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{HeaderLookup, Tolerance, Verified, VerifyError, WhopVerifier};

use crate::adapter::{ProviderAdapter, SignatureVerifier};
use crate::error::ParseError;
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// Whop as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhopAdapter;

impl SignatureVerifier for WhopVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        WhopVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for WhopAdapter {
    fn provider(&self) -> Provider {
        Provider::Whop
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(WhopVerifier::new(secrets)?.with_tolerance(tolerance)))
    }

    fn parse(&self, meta: &DeliveryMeta, value: &Value, body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(meta, value, body)
    }
}
