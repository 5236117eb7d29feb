//! Aghanim's adapter: its verifier (`X-Aghanim-Signature`) and parser.

use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{AghanimVerifier, HeaderLookup, Tolerance, Verified, VerifyError};

use crate::adapter::{ProviderAdapter, SignatureVerifier};
use crate::error::ParseError;
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// Aghanim as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AghanimAdapter;

impl SignatureVerifier for AghanimVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        AghanimVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for AghanimAdapter {
    fn provider(&self) -> Provider {
        Provider::Aghanim
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(AghanimVerifier::new(secrets, tolerance)?))
    }

    fn parse(&self, _meta: &DeliveryMeta, value: &Value, _body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(value)
    }
}
