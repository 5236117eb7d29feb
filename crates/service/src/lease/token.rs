//! The compact JWS form: `base64url(header).base64url(claims).base64url(signature)`, without padding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::keyring::{ALGORITHM, LoadedKey};
use super::{LeaseClaims, LeaseError};

/// The longest token [`super::LeaseSigner::verify`] reads; anything longer is malformed without decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

#[derive(Deserialize)]
struct HeaderIn {
    alg: String,
    kid: Option<String>,
}

pub(crate) fn encode(key: &LoadedKey, claims: &LeaseClaims) -> Result<String, LeaseError> {
    let header = serde_json::to_vec(&HeaderOut {
        alg: ALGORITHM,
        typ: "JWT",
        kid: &key.kid,
    })
    .map_err(|_| LeaseError::Malformed("header does not serialize"))?;
    let payload = serde_json::to_vec(claims).map_err(|_| LeaseError::Malformed("claims do not serialize"))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.pair.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
    Ok(token)
}

/// Parse and check the signature; `key_for` finds the published key for a kid. Times and issuer are the
/// caller's to check.
pub(crate) fn decode<'k>(
    token: &str,
    key_for: impl FnOnce(&str) -> Option<&'k LoadedKey>,
) -> Result<LeaseClaims, LeaseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LeaseError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LeaseError::Malformed("not three dot-separated parts"));
    };
    let header: HeaderIn = serde_json::from_slice(&b64(header)?)
        .map_err(|_| LeaseError::Malformed("header is not a JSON object with `alg`"))?;
    if header.alg != ALGORITHM {
        return Err(LeaseError::UnsupportedAlgorithm);
    }
    let kid = header.kid.ok_or(LeaseError::Malformed("header has no `kid`"))?;
    let key = key_for(&kid).ok_or(LeaseError::UnknownKey)?;
    let signature = b64(signature)?;
    let signed_len = token.len() - signature_part_len(token);
    let signed = token
        .get(..signed_len)
        .ok_or(LeaseError::Malformed("bad part boundaries"))?;
    UnparsedPublicKey::new(&ED25519, &key.public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| LeaseError::BadSignature)?;
    serde_json::from_slice(&b64(payload)?)
        .map_err(|_| LeaseError::Malformed("claims are not the lease claims"))
}

/// The length of `.signature` at the end of the token.
fn signature_part_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

fn b64(part: &str) -> Result<Vec<u8>, LeaseError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| LeaseError::Malformed("a part is not base64url without padding"))
}
