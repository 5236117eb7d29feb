//! Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), as used by Dodo Payments and, with a
//! raw-bytes key, by Whop's current webhooks.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Header, VerifyError};
use crate::headers::HeaderLookup;
use crate::keys::{KeySet, TAG_LEN};
use crate::tolerance::{Tolerance, parse_timestamp};
use crate::verified::{Scheme, Verified};

/// Length of a padded standard-base64 HMAC-SHA256 tag.
const BASE64_TAG_LEN: usize = 44;

/// Verifies Standard Webhooks deliveries (Dodo Payments) against one or more `whsec_` secrets.
///
/// Secrets are `whsec_<base64>` or bare base64; missing `=` padding is tolerated (as the Python reference library
/// does) and empty secrets are refused. Keys are built once here; [`StandardWebhooksVerifier::verify`] allocates nothing.
pub struct StandardWebhooksVerifier {
    keys: KeySet,
    tolerance: Tolerance,
}

impl StandardWebhooksVerifier {
    /// Builds a verifier from one or more secrets (several during a rotation), with the default ±300 s tolerance.
    ///
    /// # Errors
    /// [`VerifyError::BadSecret`] for an empty list, an empty secret or a secret that is not base64.
    pub fn new<I, S>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            keys: KeySet::from_standard_secrets(secrets)?,
            tolerance: Tolerance::DEFAULT,
        })
    }

    /// Replaces the timestamp tolerance.
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

    /// Verifies `body` (the exact bytes received) against the three `webhook-*` headers, at time `now` (Unix s).
    ///
    /// # Errors
    /// A missing or malformed header, a timestamp outside the tolerance, or [`VerifyError::NoMatchingSignature`].
    pub fn verify<'h, H>(&self, headers: &'h H, body: &[u8], now: i64) -> Result<Verified<'h>, VerifyError>
    where
        H: HeaderLookup + ?Sized,
    {
        verify_standard(
            &self.keys,
            self.tolerance,
            Scheme::StandardWebhooks,
            headers,
            body,
            now,
        )
    }
}

impl std::fmt::Debug for StandardWebhooksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardWebhooksVerifier")
            .field("secrets", &self.keys.len())
            .field("keys", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// The Standard Webhooks wire format under any key derivation.
pub(crate) fn verify_standard<'h, H>(
    keys: &KeySet,
    tolerance: Tolerance,
    scheme: Scheme,
    headers: &'h H,
    body: &[u8],
    now: i64,
) -> Result<Verified<'h>, VerifyError>
where
    H: HeaderLookup + ?Sized,
{
    let id = required(headers, Header::WebhookId)?;
    let raw_timestamp = required(headers, Header::WebhookTimestamp)?;
    let signatures = required(headers, Header::WebhookSignature)?;

    let webhook_id = std::str::from_utf8(id)
        .ok()
        .filter(|id| !id.is_empty())
        .ok_or(VerifyError::MalformedHeader(Header::WebhookId))?;
    let timestamp =
        parse_timestamp(raw_timestamp).ok_or(VerifyError::MalformedHeader(Header::WebhookTimestamp))?;
    tolerance.check(timestamp, now)?;

    let parts: [&[u8]; 5] = [id, b".", raw_timestamp, b".", body];
    let secret_index = keys
        .find_match(&parts, v1_signatures(signatures))
        .ok_or(VerifyError::NoMatchingSignature)?;
    Ok(Verified {
        scheme,
        webhook_id: Some(webhook_id),
        timestamp,
        secret_index,
    })
}

pub(crate) fn required<H>(headers: &H, header: Header) -> Result<&[u8], VerifyError>
where
    H: HeaderLookup + ?Sized,
{
    headers
        .header(header.name())
        .ok_or(VerifyError::MissingHeader(header))
}

/// The decoded `v1` signatures of a `webhook-signature` value: space-separated `version,base64` entries, split on
/// the first comma. Other versions (`v1a`, …) and entries that are not a padded base64 32-byte tag are skipped.
fn v1_signatures(header: &[u8]) -> impl Iterator<Item = [u8; TAG_LEN]> + Clone + '_ {
    header.split(|&byte| byte == b' ').filter_map(decode_v1_entry)
}

fn decode_v1_entry(entry: &[u8]) -> Option<[u8; TAG_LEN]> {
    let encoded = entry.strip_prefix(b"v1,")?;
    if encoded.len() != BASE64_TAG_LEN {
        return None;
    }
    // The decoder's size estimate for 44 characters is 33 bytes, so the buffer has one spare byte.
    let mut buffer = [0_u8; TAG_LEN + 1];
    let written = STANDARD.decode_slice(encoded, &mut buffer).ok()?;
    if written != TAG_LEN {
        return None;
    }
    buffer[..TAG_LEN].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_entries_are_filtered_by_version_and_shape() {
        let valid = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let header = format!(
            "v1a,{valid} v1,{valid}  v2,{valid} v1, v1,g0hM9 v1,{}",
            &valid[..43]
        );
        let decoded: Vec<_> = v1_signatures(header.as_bytes()).collect();
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0][..4], [0x83, 0x48, 0x4c, 0xf5]);
        assert_eq!(v1_signatures(b"").count(), 0);
        assert_eq!(
            v1_signatures(b"v1,!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!").count(),
            0
        );
    }
}
