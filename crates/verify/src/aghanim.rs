//! Aghanim webhooks: `X-Aghanim-Signature` (64 lowercase hex digits) over
//! `<X-Aghanim-Signature-Timestamp>.<body>`, keyed with the UTF-8 bytes of the webhook secret.

use crate::error::{Header, VerifyError};
use crate::headers::HeaderLookup;
use crate::keys::KeySet;
use crate::standard::required;
use crate::tolerance::{Tolerance, parse_timestamp};
use crate::verified::{Scheme, Verified};
use crate::whop::decode_lower_hex;

/// Verifies Aghanim deliveries against one or more webhook secrets.
///
/// Aghanim documents no timestamp window, and its timestamp may be the event time rather than the send time (a
/// retry would then carry an old one), so the caller picks the tolerance; [`Tolerance::Unlimited`] is allowed.
pub struct AghanimVerifier {
    keys: KeySet,
    tolerance: Tolerance,
}

impl AghanimVerifier {
    /// Builds a verifier from one or more Aghanim webhook secrets, used as opaque UTF-8 strings.
    ///
    /// # Errors
    /// [`VerifyError::BadSecret`] for an empty list or an empty secret.
    pub fn new<I, S>(secrets: I, tolerance: Tolerance) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            keys: KeySet::from_utf8_secrets(secrets)?,
            tolerance,
        })
    }

    /// The tolerance in force.
    #[must_use]
    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// Verifies `body` against `X-Aghanim-Signature` and `X-Aghanim-Signature-Timestamp` at time `now` (Unix s).
    ///
    /// # Errors
    /// A missing header; [`VerifyError::MalformedHeader`] for a timestamp that is not an integer or a signature that
    /// is not 64 lowercase hex digits; a timestamp outside the tolerance; [`VerifyError::NoMatchingSignature`].
    pub fn verify<'h, H>(&self, headers: &'h H, body: &[u8], now: i64) -> Result<Verified<'h>, VerifyError>
    where
        H: HeaderLookup + ?Sized,
    {
        let signature = required(headers, Header::AghanimSignature)?;
        let raw_timestamp = required(headers, Header::AghanimTimestamp)?;
        let signature =
            decode_lower_hex(signature).ok_or(VerifyError::MalformedHeader(Header::AghanimSignature))?;
        let timestamp =
            parse_timestamp(raw_timestamp).ok_or(VerifyError::MalformedHeader(Header::AghanimTimestamp))?;
        self.tolerance.check(timestamp, now)?;

        let parts: [&[u8]; 3] = [raw_timestamp, b".", body];
        let secret_index = self
            .keys
            .find_match(&parts, std::iter::once(signature))
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified {
            scheme: Scheme::Aghanim,
            webhook_id: None,
            timestamp,
            secret_index,
        })
    }
}

impl std::fmt::Debug for AghanimVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AghanimVerifier")
            .field("secrets", &self.keys.len())
            .field("keys", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}
