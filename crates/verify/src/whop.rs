//! Whop webhooks: the current Standard Webhooks format keyed with the raw `ws_…` secret, and the legacy
//! `X-Whop-Signature: t=<ts>,v1=<hex>` format keyed the same way. One endpoint can receive both.

use crate::error::{Header, VerifyError};
use crate::headers::HeaderLookup;
use crate::keys::{KeySet, TAG_LEN};
use crate::standard::{required, verify_standard};
use crate::tolerance::{Tolerance, parse_timestamp};
use crate::verified::{Scheme, Verified};

/// Verifies Whop deliveries in either wire format against one or more Whop webhook secrets.
///
/// The HMAC key is the UTF-8 bytes of the whole secret string as Whop shows it (`ws_…`): Whop's docs tell users
/// to pass `btoa(secret)` to a Standard Webhooks library, which base64-decodes it straight back. The legacy format
/// uses the same key bytes. The tolerance (default ±300 s) applies to both formats.
pub struct WhopVerifier {
    keys: KeySet,
    tolerance: Tolerance,
}

impl WhopVerifier {
    /// Builds a verifier from one or more Whop secrets (several during a rotation).
    ///
    /// # Errors
    /// [`VerifyError::BadSecret`] for an empty list or an empty secret.
    pub fn new<I, S>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            keys: KeySet::from_utf8_secrets(secrets)?,
            tolerance: Tolerance::DEFAULT,
        })
    }

    /// Replaces the timestamp tolerance (both formats).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance in force.
    #[must_use]
    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// Verifies either format: the current one when `webhook-signature` is present, else the legacy
    /// `X-Whop-Signature`. With neither, reports [`Header::WebhookSignature`] missing.
    ///
    /// # Errors
    /// As [`WhopVerifier::verify_current`] or [`WhopVerifier::verify_legacy`].
    pub fn verify<'h, H>(&self, headers: &'h H, body: &[u8], now: i64) -> Result<Verified<'h>, VerifyError>
    where
        H: HeaderLookup + ?Sized,
    {
        if headers.header(Header::WebhookSignature.name()).is_some() {
            self.verify_current(headers, body, now)
        } else if headers.header(Header::WhopSignature.name()).is_some() {
            self.verify_legacy(headers, body, now)
        } else {
            Err(VerifyError::MissingHeader(Header::WebhookSignature))
        }
    }

    /// Verifies the current format (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    ///
    /// # Errors
    /// A missing or malformed header, a timestamp outside the tolerance, or [`VerifyError::NoMatchingSignature`].
    pub fn verify_current<'h, H>(
        &self,
        headers: &'h H,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError>
    where
        H: HeaderLookup + ?Sized,
    {
        verify_standard(
            &self.keys,
            self.tolerance,
            Scheme::WhopCurrent,
            headers,
            body,
            now,
        )
    }

    /// Verifies the legacy format: `X-Whop-Signature: t=<unix seconds>,v1=<64 lowercase hex>` over `t.body`.
    ///
    /// # Errors
    /// [`VerifyError::MissingHeader`]; [`VerifyError::MalformedHeader`] when the value is not exactly
    /// `t=<integer>,<version>=<signature>` or a `v1` signature is not 64 lowercase hex digits; a timestamp outside
    /// the tolerance; [`VerifyError::NoMatchingSignature`] for a version other than `v1` or a wrong signature.
    pub fn verify_legacy<'h, H>(
        &self,
        headers: &'h H,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError>
    where
        H: HeaderLookup + ?Sized,
    {
        let value = required(headers, Header::WhopSignature)?;
        let malformed = VerifyError::MalformedHeader(Header::WhopSignature);
        let mut fields = value.split(|&byte| byte == b',').map(<[u8]>::trim_ascii);
        let (Some(time_field), Some(signature_field), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed);
        };
        let raw_timestamp = time_field.strip_prefix(b"t=").ok_or(malformed)?;
        let timestamp = parse_timestamp(raw_timestamp).ok_or(malformed)?;
        let (version, signature) = split_once(signature_field, b'=').ok_or(malformed)?;
        let signature = if version == b"v1" {
            Some(decode_lower_hex(signature).ok_or(malformed)?)
        } else {
            None
        };
        self.tolerance.check(timestamp, now)?;

        let signature = signature.ok_or(VerifyError::NoMatchingSignature)?;
        let parts: [&[u8]; 3] = [raw_timestamp, b".", body];
        let secret_index = self
            .keys
            .find_match(&parts, std::iter::once(signature))
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified {
            scheme: Scheme::WhopLegacy,
            webhook_id: None,
            timestamp,
            secret_index,
        })
    }
}

impl std::fmt::Debug for WhopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhopVerifier")
            .field("secrets", &self.keys.len())
            .field("keys", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&byte| byte == separator)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// Decodes exactly 64 lowercase hex digits (what every reference implementation emits and compares against).
pub(crate) fn decode_lower_hex(encoded: &[u8]) -> Option<[u8; TAG_LEN]> {
    if !encoded
        .iter()
        .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut tag = [0_u8; TAG_LEN];
    hex::decode_to_slice(encoded, &mut tag).ok()?;
    Some(tag)
}
