//! The public keys leases are verified against: pinned in the app (a JWKS document shipped with it, or raw Ed25519
//! keys by `kid`), never fetched and trusted at run time by default.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::lease::LeaseError;

/// Ed25519 public keys by `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    by_kid: BTreeMap<String, [u8; 32]>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
}

impl Keys {
    /// Raw Ed25519 public keys (32 bytes each) by `kid`.
    pub fn pinned<K: Into<String>>(keys: impl IntoIterator<Item = (K, [u8; 32])>) -> Keys {
        Keys {
            by_kid: keys.into_iter().map(|(kid, key)| (kid.into(), key)).collect(),
        }
    }

    /// A JWKS document, as served by Tollgate at `/.well-known/jwks.json` (ship a copy with the app). Keys that are
    /// not Ed25519 signing keys (`kty: OKP`, `crv: Ed25519`, `use` absent or `sig`, `alg` absent or `EdDSA`) are
    /// skipped; a document with none left is an error.
    pub fn from_jwks_json(document: &str) -> Result<Keys, LeaseError> {
        let parsed: JwksDocument =
            serde_json::from_str(document).map_err(|_| LeaseError::InvalidKeys("not a JWKS document"))?;
        let mut by_kid = BTreeMap::new();
        for jwk in parsed.keys {
            let is_ed25519 = jwk.kty.as_deref() == Some("OKP") && jwk.crv.as_deref() == Some("Ed25519");
            let for_signing = jwk.use_.as_deref().is_none_or(|u| u == "sig");
            let eddsa = jwk.alg.as_deref().is_none_or(|a| a == "EdDSA");
            if !(is_ed25519 && for_signing && eddsa) {
                continue;
            }
            let (Some(kid), Some(x)) = (jwk.kid, jwk.x) else {
                return Err(LeaseError::InvalidKeys("an Ed25519 key without kid or x"));
            };
            let bytes = URL_SAFE_NO_PAD
                .decode(x.as_bytes())
                .map_err(|_| LeaseError::InvalidKeys("x is not base64url"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| LeaseError::InvalidKeys("x is not a 32-byte Ed25519 key"))?;
            by_kid.insert(kid, key);
        }
        if by_kid.is_empty() {
            return Err(LeaseError::InvalidKeys("no Ed25519 signing key"));
        }
        Ok(Keys { by_kid })
    }

    /// The key with this `kid`, if pinned.
    pub fn get(&self, kid: &str) -> Option<&[u8; 32]> {
        self.by_kid.get(kid)
    }

    /// The pinned `kid`s, sorted.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_only_ed25519_signing_keys() {
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let doc = format!(
            r#"{{"keys":[
                {{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"k1","alg":"EdDSA","use":"sig"}},
                {{"kty":"OKP","crv":"X25519","x":"{x}","kid":"k2"}},
                {{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k3"}},
                {{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"k4","use":"enc"}}
            ]}}"#
        );
        let keys = Keys::from_jwks_json(&doc).unwrap();
        assert_eq!(keys.kids().collect::<Vec<_>>(), vec!["k1"]);
        assert_eq!(keys.get("k1"), Some(&[7u8; 32]));
    }

    #[test]
    fn jwks_errors() {
        assert_eq!(
            Keys::from_jwks_json("[]"),
            Err(LeaseError::InvalidKeys("not a JWKS document"))
        );
        assert_eq!(
            Keys::from_jwks_json(r#"{"keys":[]}"#),
            Err(LeaseError::InvalidKeys("no Ed25519 signing key"))
        );
        assert_eq!(
            Keys::from_jwks_json(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k"}]}"#),
            Err(LeaseError::InvalidKeys("x is not a 32-byte Ed25519 key"))
        );
        assert_eq!(
            Keys::from_jwks_json(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#),
            Err(LeaseError::InvalidKeys("an Ed25519 key without kid or x"))
        );
    }
}
