//! Signing: the exact header values each scheme's sender produces. For tests, the simulator and fake providers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

use crate::error::VerifyError;
use crate::keys::decode_standard_secret;

fn mac(key: &[u8], parts: &[&[u8]]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    context.sign()
}

fn v1_base64(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = mac(key, &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
    let mut header = String::from("v1,");
    STANDARD.encode_string(tag.as_ref(), &mut header);
    header
}

/// The `webhook-signature` value (`v1,<base64>`) for a Standard Webhooks (Dodo) delivery.
///
/// `secret` is `whsec_<base64>` or bare base64, decoded exactly as [`crate::StandardWebhooksVerifier`] does.
///
/// # Errors
/// [`VerifyError::BadSecret`] when the secret is empty or not base64.
pub fn sign_standard_webhooks(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, VerifyError> {
    let key = decode_standard_secret(secret, 0)?;
    Ok(v1_base64(&key, id, timestamp, body))
}

/// The `webhook-signature` value (`v1,<base64>`) for a current Whop delivery, keyed with the secret's UTF-8 bytes.
#[must_use]
pub fn sign_whop(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    v1_base64(secret.as_bytes(), id, timestamp, body)
}

/// The `X-Whop-Signature` value (`t=<timestamp>,v1=<lowercase hex>`) for a legacy Whop delivery.
#[must_use]
pub fn sign_whop_legacy(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = mac(secret.as_bytes(), &[timestamp.as_bytes(), b".", body]);
    format!("t={timestamp},v1={}", hex::encode(tag.as_ref()))
}

/// The hex HMAC scheme's signature header value (lowercase hex) for a delivery whose timestamp header is
/// `timestamp.to_string()`.
#[must_use]
pub fn sign_hex_hmac(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    hex::encode(mac(secret.as_bytes(), &[timestamp.as_bytes(), b".", body]).as_ref())
}
