//! The one error type of this crate.

use std::fmt;

/// A header that a scheme reads, named by its role in the scheme. [`Header::name`] gives the lower-case wire name:
/// fixed by the scheme, or chosen by the provider for the hex HMAC scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Header {
    /// `webhook-id` (Standard Webhooks, Whop current).
    WebhookId,
    /// `webhook-timestamp` (Standard Webhooks, Whop current).
    WebhookTimestamp,
    /// `webhook-signature` (Standard Webhooks, Whop current).
    WebhookSignature,
    /// `x-whop-signature` (Whop legacy).
    WhopSignature,
    /// The signature header of the hex HMAC scheme, under the name its provider gives it (see
    /// [`HexHmacHeaders`](crate::HexHmacHeaders)).
    HexHmacSignature(&'static str),
    /// The timestamp header of the hex HMAC scheme, under the name its provider gives it.
    HexHmacTimestamp(&'static str),
}

impl Header {
    /// The lower-case header name as it is looked up (lookups ignore letter case).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::WebhookId => "webhook-id",
            Self::WebhookTimestamp => "webhook-timestamp",
            Self::WebhookSignature => "webhook-signature",
            Self::WhopSignature => "x-whop-signature",
            Self::HexHmacSignature(name) | Self::HexHmacTimestamp(name) => name,
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a secret was refused when a verifier or signature was built. Never carries the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretProblem {
    /// No secret at all was given.
    NoSecrets,
    /// The secret at this position (0-based) is empty, or is only the `whsec_` prefix.
    Empty {
        /// Position of the secret in the list given to the constructor.
        index: usize,
    },
    /// The secret at this position is not standard base64 (after the optional `whsec_` prefix).
    NotBase64 {
        /// Position of the secret in the list given to the constructor.
        index: usize,
    },
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSecrets => f.write_str("no secret was given"),
            Self::Empty { index } => write!(f, "secret #{index} is empty"),
            Self::NotBase64 { index } => write!(f, "secret #{index} is not valid standard base64"),
        }
    }
}

/// Every way building a verifier or verifying a delivery can fail.
///
/// Tests and callers can match exact variants; none of them carries secret material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    MissingHeader(Header),
    /// A header is present but cannot be read: a timestamp that is not an integer that fits in `i64`, a
    /// `webhook-id` that is empty or not UTF-8, or a single-signature header that is not shaped as its scheme says.
    MalformedHeader(Header),
    /// A secret given at construction was refused.
    BadSecret(SecretProblem),
    /// The timestamp is older than `now - tolerance`.
    StaleTimestamp,
    /// The timestamp is newer than `now + tolerance`.
    FutureTimestamp,
    /// No presented signature matches any configured secret.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(header) => write!(f, "missing header `{header}`"),
            Self::MalformedHeader(header) => write!(f, "malformed header `{header}`"),
            Self::BadSecret(problem) => write!(f, "bad webhook secret: {problem}"),
            Self::StaleTimestamp => f.write_str("webhook timestamp is too old"),
            Self::FutureTimestamp => f.write_str("webhook timestamp is too far in the future"),
            Self::NoMatchingSignature => f.write_str("no matching webhook signature"),
        }
    }
}

impl std::error::Error for VerifyError {}
