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
    /// `token` empty or blank: the API is disabled and answers `503 API_DISABLED` naming `setting`. Any other
    /// value is compared exactly as given, so it must first pass [`token_problem`] (configuration does that).
    pub fn new(
        token: &str,
        api: &'static str,
        setting: &'static str,
        env: &'static str,
    ) -> Result<TokenCheck, ring::error::Unspecified> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())?;
        let tag = (!token.trim().is_empty()).then(|| hmac::sign(&key, token.as_bytes()));
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

/// The fewest characters a configured token may have.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a configured token could never be presented as it is compared, or is too short; `None` when it is usable.
///
/// A presented token is what follows `Bearer ` with the spaces around it trimmed, in a header value that carries
/// only printable ASCII. The configured token is compared byte for byte, so it must be printable ASCII without any
/// whitespace (none at either end, where the header's would be trimmed, and none inside), and it is counted the way
/// it is compared.
pub fn token_problem(token: &str) -> Option<String> {
    const GENERATE: &str = "generate one with `openssl rand -hex 32`";
    if let Some(c) = token.chars().find(|c| c.is_whitespace()) {
        let place = if token.trim_start().len() != token.len() {
            "at the start"
        } else if token.trim_end().len() != token.len() {
            "at the end"
        } else {
            "inside it"
        };
        return Some(format!(
            "contains whitespace ({place}, {c:?}): a bearer token is compared exactly, and an Authorization header \
             cannot carry it; remove it, or {GENERATE}"
        ));
    }
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Some(format!(
            "contains {c:?}, which is not printable ASCII: an Authorization header can carry only printable ASCII, \
             so no client could ever present this token; {GENERATE}"
        ));
    }
    (token.len() < MIN_TOKEN_LEN).then(|| format!("is shorter than {MIN_TOKEN_LEN} characters; {GENERATE}"))
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
    fn the_token_rules_are_the_comparison_rules() {
        assert_eq!(token_problem("service-token-0123456789"), None);
        assert_eq!(token_problem("!#$%&'*+-.^_`|~0123456789"), None);
        for (token, says) in [
            (format!("a{}", " ".repeat(15)), "whitespace (at the end"),
            (format!("{}a", " ".repeat(15)), "whitespace (at the start"),
            ("admin token 0123456789".to_owned(), "whitespace (inside it"),
            (
                "admin-token-0123456789\t".to_owned(),
                "whitespace (at the end, '\\t')",
            ),
            ("éééééééé".to_owned(), "'é', which is not printable ASCII"),
            ("admin-token-0123456789\u{7f}".to_owned(), "not printable ASCII"),
            ("admin-token-012".to_owned(), "shorter than 16 characters"),
        ] {
            let problem = token_problem(&token).unwrap_or_default();
            assert!(problem.contains(says), "{token:?}: {problem}");
        }
    }

    #[test]
    fn a_configured_token_is_compared_exactly_as_configured() {
        // Validation refuses such a token; were one let through, it would not match its trimmed form.
        let check = TokenCheck::new(" padded-token-0123456789 ", "admin", "admin.token", "X").unwrap();
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer padded-token-0123456789"))
            .to_http_request();
        assert_eq!(check.authorize(&req).unwrap_err().code(), "UNAUTHORIZED");
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
