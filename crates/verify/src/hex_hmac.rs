//! The hex HMAC scheme: a signature header of 64 lowercase hex digits (HMAC-SHA256) over
//! `<timestamp header>.<body>`, keyed with the UTF-8 bytes of the webhook secret. The scheme fixes no header names:
//! the provider that uses it names its two headers ([`HexHmacHeaders`]).

use crate::error::{Header, VerifyError};
use crate::headers::HeaderLookup;
use crate::keys::KeySet;
use crate::standard::required;
use crate::tolerance::{Tolerance, parse_timestamp};
use crate::verified::{Scheme, Verified};
use crate::whop::decode_lower_hex;

/// The wire names of the two headers a provider sends hex HMAC deliveries with, lower-case (lookups ignore letter
/// case). Errors name them as [`Header::HexHmacSignature`] and [`Header::HexHmacTimestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexHmacHeaders {
    /// The header carrying the signature (64 lowercase hex digits).
    pub signature: &'static str,
    /// The header carrying the signed Unix time (decimal seconds).
    pub timestamp: &'static str,
}

impl HexHmacHeaders {
    /// The signature header, as errors name it.
    #[must_use]
    pub const fn signature_header(self) -> Header {
        Header::HexHmacSignature(self.signature)
    }

    /// The timestamp header, as errors name it.
    #[must_use]
    pub const fn timestamp_header(self) -> Header {
        Header::HexHmacTimestamp(self.timestamp)
    }
}

/// Verifies hex HMAC deliveries against one or more webhook secrets.
///
/// The scheme defines no timestamp window, and its timestamp may be the event time rather than the send time (a
/// retry would then carry an old one), so the caller picks the tolerance; [`Tolerance::Unlimited`] is allowed.
pub struct HexHmacVerifier {
    headers: HexHmacHeaders,
    keys: KeySet,
    tolerance: Tolerance,
}

impl HexHmacVerifier {
    /// Builds a verifier reading the provider's `headers`, from one or more webhook secrets, used as opaque UTF-8
    /// strings.
    ///
    /// # Errors
    /// [`VerifyError::BadSecret`] for an empty list or an empty secret.
    pub fn new<I, S>(headers: HexHmacHeaders, secrets: I, tolerance: Tolerance) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            headers,
            keys: KeySet::from_utf8_secrets(secrets)?,
            tolerance,
        })
    }

    /// The headers this verifier reads.
    #[must_use]
    pub fn headers(&self) -> HexHmacHeaders {
        self.headers
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
        let signature_header = self.headers.signature_header();
        let timestamp_header = self.headers.timestamp_header();
        let signature = required(headers, signature_header)?;
        let raw_timestamp = required(headers, timestamp_header)?;
        let signature = decode_lower_hex(signature).ok_or(VerifyError::MalformedHeader(signature_header))?;
        let timestamp =
            parse_timestamp(raw_timestamp).ok_or(VerifyError::MalformedHeader(timestamp_header))?;
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
