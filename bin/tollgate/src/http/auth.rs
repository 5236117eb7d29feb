//! Bearer tokens for the service and admin APIs, compared in constant time.
//!
//! At start each configured token is MACed under a random per-process HMAC-SHA256 key; a presented token is checked
//! with `ring::hmac::verify`, which MACs it and compares the two tags in constant time. The comparison therefore
//! never depends on where the bytes differ nor on the configured token's length (both sides are 32-byte tags).

use std::fmt;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use ring::hmac;
use ring::rand::SystemRandom;

use crate::app::AppState;
use crate::http::error::ApiError;

/// One API's token check. `None` tag: the API is disabled (no token configured).
pub struct TokenCheck {
    key: hmac::Key,
    tag: Option<hmac::Tag>,
    api: &'static str,
    setting: &'static str,
    env: &'static str,
}

impl fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCheck")
            .field("api", &self.api)
            .field("enabled", &self.tag.is_some())
            .finish()
    }
}

impl TokenCheck {
    /// `token` empty or blank: the API is disabled and answers `503 API_DISABLED` naming `setting`.
    pub fn new(
        token: &str,
        api: &'static str,
        setting: &'static str,
        env: &'static str,
    ) -> Result<TokenCheck, ring::error::Unspecified> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())?;
        let token = token.trim();
        let tag = (!token.is_empty()).then(|| hmac::sign(&key, token.as_bytes()));
        Ok(TokenCheck {
            key,
            tag,
            api,
            setting,
            env,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.tag.is_some()
    }

    /// Check the request's `Authorization: Bearer <token>`.
    pub fn authorize(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(tag) = &self.tag else {
            return Err(ApiError::api_disabled(self.api, self.setting, self.env));
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or_else(ApiError::unauthorized)?;
        hmac::verify(&self.key, presented.as_bytes(), tag.as_ref()).map_err(|_| ApiError::unauthorized())
    }
}

impl TokenCheck {
    /// Whether a token presented another way (the console's sign-in form) is the configured one, compared as
    /// [`TokenCheck::authorize`] compares a bearer token. Always false while the API is disabled.
    pub fn verify(&self, presented: &str) -> bool {
        let presented = presented.trim();
        self.tag.as_ref().is_some_and(|tag| {
            !presented.is_empty() && hmac::verify(&self.key, presented.as_bytes(), tag.as_ref()).is_ok()
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal().with_cause("AppState is not registered"))
}

/// Extractor: the request carries the admin token.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| s.admin_token().authorize(req))
                .map(|()| AdminAuth),
        )
    }
}

/// Extractor: the request carries the service token.
#[derive(Debug, Clone, Copy)]
pub struct ServiceAuth;

impl FromRequest for ServiceAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| s.service_token().authorize(req))
                .map(|()| ServiceAuth),
        )
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        let check = TokenCheck::new("service-token-0123456789", "service", "service.token", "X").unwrap();
        let with = |value: &str| {
            TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request()
        };
        assert!(check.authorize(&with("Bearer service-token-0123456789")).is_ok());
        assert!(
            check
                .authorize(&with("bearer  service-token-0123456789 "))
                .is_ok()
        );
        for wrong in [
            "Bearer service-token-012345678",
            "Bearer service-token-01234567890",
            "Basic service-token-0123456789",
            "Bearer",
            "service-token-0123456789",
        ] {
            assert_eq!(
                check.authorize(&with(wrong)).unwrap_err().code(),
                "UNAUTHORIZED",
                "{wrong}"
            );
        }
        let none = TestRequest::default().to_http_request();
        assert_eq!(check.authorize(&none).unwrap_err().code(), "UNAUTHORIZED");
    }

    #[test]
    fn a_blank_token_disables_the_api() {
        let check = TokenCheck::new("  ", "admin", "admin.token", "TOLLGATE_ADMIN__TOKEN").unwrap();
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer x"))
            .to_http_request();
        let err = check.authorize(&req).unwrap_err();
        assert_eq!(err.code(), "API_DISABLED");
        assert!(err.message().contains("TOLLGATE_ADMIN__TOKEN"));
    }
}
