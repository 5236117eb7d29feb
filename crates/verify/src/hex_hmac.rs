//! The hex HMAC scheme: a signature header of 64 lowercase hex digits (HMAC-SHA256) over
//! `<timestamp header>.<body>`, keyed with the UTF-8 bytes of the webhook secret. Its wire headers are
//! [`Header::AghanimSignature`] and [`Header::AghanimTimestamp`].

use crate::error::{Header, VerifyError};
use crate::headers::HeaderLookup;
use crate::keys::KeySet;
use crate::standard::required;
use crate::tolerance::{Tolerance, parse_timestamp};
use crate::verified::{Scheme, Verified};
use crate::whop::decode_lower_hex;

/// Verifies hex HMAC deliveries against one or more webhook secrets.
///
/// The scheme defines no timestamp window, and its timestamp may be the event time rather than the send time (a
/// retry would then carry an old one), so the caller picks the tolerance; [`Tolerance::Unlimited`] is allowed.
pub struct HexHmacVerifier {
    keys: KeySet,
    tolerance: Tolerance,
}

impl HexHmacVerifier {
    /// Builds a verifier from one or more webhook secrets, used as opaque UTF-8 strings.
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

    /// Verifies `body` against the signature and timestamp headers at time `now` (Unix s).
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
            scheme: Scheme::HexHmac,
            webhook_id: None,
            timestamp,
            secret_index,
        })
    }
}

impl std::fmt::Debug for HexHmacVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HexHmacVerifier")
            .field("secrets", &self.keys.len())
            .field("keys", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}
