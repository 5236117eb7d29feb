//! `GET /api/entitlements?provider=&subject=` (service token): a subject's entitlements with their access
//! decisions. This is how a game server checks an Aghanim player.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tollgate_policy::Provider;
use tollgate_service::view::EntitlementView;

use crate::app::AppState;
use crate::http::auth::ServiceAuth;
use crate::http::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/entitlements", web::get().to(list));
}

/// `provider` and `subject`, both required.
#[derive(Debug, Deserialize)]
pub struct SubjectQuery {
    pub provider: Option<String>,
    pub subject: Option<String>,
}

impl SubjectQuery {
    /// The provider and subject, or `400 INVALID_REQUEST` saying which is missing or unknown.
    pub fn parse(&self) -> Result<(Provider, String), ApiError> {
        let provider = match self.provider.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(ApiError::invalid_request(
                    "`provider` is required: one of whop, dodo, aghanim",
                ));
            }
            Some(name) => name.parse::<Provider>().map_err(|_| {
                ApiError::invalid_request("unknown `provider`: expected one of whop, dodo, aghanim")
            })?,
        };
        let subject = match self.subject.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(ApiError::invalid_request(
                    "`subject` is required: the Whop user id, Dodo customer id or Aghanim player_id",
                ));
            }
            Some(s) if s.len() > 256 => return Err(ApiError::invalid_request("`subject` is too long")),
            Some(s) => s.to_owned(),
        };
        Ok((provider, subject))
    }
}

#[derive(Debug, Serialize)]
struct EntitlementsBody {
    entitlements: Vec<EntitlementView>,
}

async fn list(
    _: ServiceAuth,
    state: web::Data<AppState>,
    query: web::Query<SubjectQuery>,
) -> Result<HttpResponse, ApiError> {
    let (provider, subject) = query.parse()?;
    let lookup = state.query().clone();
    let entitlements = web::block(move || lookup.entitlements_of(provider, &subject)).await??;
    Ok(HttpResponse::Ok().json(EntitlementsBody { entitlements }))
}
