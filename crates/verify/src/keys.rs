//! HMAC keys built once at construction, secret decoding, and the constant-time match of presented signatures.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::hmac;

use crate::error::{SecretProblem, VerifyError};

/// The `whsec_` prefix of Standard Webhooks secrets.
const WHSEC_PREFIX: &str = "whsec_";

/// Length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// Standard alphabet, padding optional, non-zero trailing bits ignored: what Python's
/// `base64.b64decode(secret + "==")` accepts, minus its silent skipping of non-alphabet characters.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes a Standard Webhooks secret (`whsec_<base64>` or bare base64, padding optional) to its key bytes.
pub(crate) fn decode_standard_secret(secret: &str, index: usize) -> Result<Vec<u8>, VerifyError> {
    let encoded = secret.strip_prefix(WHSEC_PREFIX).unwrap_or(secret);
    if encoded.is_empty() {
        return Err(VerifyError::BadSecret(SecretProblem::Empty { index }));
    }
    let key = LENIENT_BASE64
        .decode(encoded)
        .map_err(|_| VerifyError::BadSecret(SecretProblem::NotBase64 { index }))?;
    if key.is_empty() {
        return Err(VerifyError::BadSecret(SecretProblem::Empty { index }));
    }
    Ok(key)
}

/// One or more HMAC-SHA256 keys (rotation), plus a blinding key for the constant-time tag comparison.
pub(crate) struct KeySet {
    keys: Vec<hmac::Key>,
    blind: hmac::Key,
}

impl KeySet {
    /// Builds keys from raw key bytes. Refuses an empty list and empty keys.
    pub(crate) fn from_raw<I, B>(raw_keys: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut keys = Vec::new();
        for (index, raw) in raw_keys.into_iter().enumerate() {
            let raw = raw.as_ref();
            if raw.is_empty() {
                return Err(VerifyError::BadSecret(SecretProblem::Empty { index }));
            }
            keys.push(hmac::Key::new(hmac::HMAC_SHA256, raw));
        }
        let Some(first) = keys.first() else {
            return Err(VerifyError::BadSecret(SecretProblem::NoSecrets));
        };
        // Any key works for ring's constant-time compare; one derived from the secret keeps the compared values
        // unpredictable to an attacker as well.
        let blind = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(first, b"tollgate-verify/compare").as_ref(),
        );
        Ok(Self { keys, blind })
    }

    /// Builds keys from Standard Webhooks secrets (`whsec_<base64>` or bare base64).
    pub(crate) fn from_standard_secrets<I, S>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let decoded = secrets
            .into_iter()
            .enumerate()
            .map(|(index, secret)| decode_standard_secret(secret.as_ref(), index))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_raw(decoded)
    }

    /// Builds keys from the UTF-8 bytes of each secret string (Whop, hex HMAC).
    pub(crate) fn from_utf8_secrets<I, S>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::from_raw(
            secrets
                .into_iter()
                .map(|secret| secret.as_ref().as_bytes().to_vec()),
        )
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The HMAC of the concatenation of `parts` under key number `index`, without copying the parts.
    pub(crate) fn tag(&self, index: usize, parts: &[&[u8]]) -> Option<hmac::Tag> {
        let key = self.keys.get(index)?;
        let mut context = hmac::Context::with_key(key);
        for part in parts {
            context.update(part);
        }
        Some(context.sign())
    }

    /// The index of the first key whose HMAC over `parts` equals one of `candidates`.
    ///
    /// Each key's tag is computed once (streamed over `parts`); each candidate is compared with it in constant time
    /// through `ring::hmac::verify` under the blinding key (equal tags give equal HMACs). Nothing is allocated.
    pub(crate) fn find_match<C>(&self, parts: &[&[u8]], candidates: C) -> Option<usize>
    where
        C: Iterator<Item = [u8; TAG_LEN]> + Clone,
    {
        // No well-formed candidate: skip the HMACs entirely.
        candidates.clone().next()?;
        (0..self.keys.len()).find(|&index| {
            let Some(tag) = self.tag(index, parts) else {
                return false;
            };
            let blinded = hmac::sign(&self.blind, tag.as_ref());
            candidates
                .clone()
                .any(|candidate| hmac::verify(&self.blind, &candidate, blinded.as_ref()).is_ok())
        })
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys.len())
            .field("material", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_secret_accepts_prefix_bare_and_missing_padding() {
        let full = decode_standard_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0).unwrap();
        assert_eq!(full.len(), 24);
        assert_eq!(
            decode_standard_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0).unwrap(),
            full
        );
        // One `=` missing: 23 bytes, the same prefix (the last character's spare bits are dropped).
        assert_eq!(
            decode_standard_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", 0).unwrap(),
            full[..23]
        );
        // Two `=` missing: 25 bytes.
        let longer = decode_standard_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", 0).unwrap();
        assert_eq!(longer.len(), 25);
        assert_eq!(longer[..24], full[..]);
        assert_eq!(
            decode_standard_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==", 0).unwrap(),
            longer
        );
    }

    #[test]
    fn standard_secret_refusals_name_the_secret() {
        assert_eq!(
            decode_standard_secret("whsec_", 2),
            Err(VerifyError::BadSecret(SecretProblem::Empty { index: 2 }))
        );
        assert_eq!(
            decode_standard_secret("", 0),
            Err(VerifyError::BadSecret(SecretProblem::Empty { index: 0 }))
        );
        assert_eq!(
            decode_standard_secret("whsec_not base64!", 1),
            Err(VerifyError::BadSecret(SecretProblem::NotBase64 { index: 1 }))
        );
        assert_eq!(
            decode_standard_secret("whsec_a", 0),
            Err(VerifyError::BadSecret(SecretProblem::NotBase64 { index: 0 }))
        );
        assert_eq!(
            KeySet::from_raw(Vec::<Vec<u8>>::new()).map(|_| ()),
            Err(VerifyError::BadSecret(SecretProblem::NoSecrets))
        );
    }
}
