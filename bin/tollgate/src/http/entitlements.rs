//! `GET /api/entitlements?provider=&subject=` (service token): a subject's entitlements with their access
//! decisions. This is how a game server checks an Aghanim player.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tollgate_policy::Provider;
use tollgate_service::view::EntitlementView;

use crate::app::AppState;
use crate::http::auth::ServiceAuth;
use crate::http::error::ApiError;
use crate::http::openapi::{Api, storage};

pub fn routes(api: &mut Api) {
    api.add(__path_list, list).service().errors(|| {
        vec![
            ApiError::invalid_request("`provider` is required: one of whop, dodo, aghanim"),
            storage(),
        ]
    });
}

/// `provider` and `subject`, both required.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubjectQuery {
    /// `whop`, `dodo` or `aghanim` (required).
    #[param(value_type = String, example = "aghanim")]
    pub provider: Option<String>,
    /// The Whop user id, Dodo customer id or Aghanim `player_id` (required, at most 256 characters).
    #[param(value_type = String, example = "2D2R-OP3C")]
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

/// A subject's entitlements, oldest first, each with its access decision now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntitlementsBody {
    entitlements: Vec<EntitlementView>,
}

/// A subject's entitlements at one provider with their access decisions: how a backend or game server checks a
/// customer or an Aghanim player.
#[utoipa::path(
    get,
    path = "/api/entitlements",
    tag = "service",
    operation_id = "list_entitlements",
    summary = "A subject's entitlements and access",
    params(SubjectQuery),
    responses((status = 200, description = "The subject's entitlements (an empty list when there are none)", body = EntitlementsBody,
        example = json!({"entitlements": [{"id": "ent_1f0c9a", "provider": "aghanim", "external_id": "sub_kMnoPqRsTuV",
            "subject": "2D2R-OP3C", "product": "battle_pass", "status": "active", "current_period_end": "2026-12-22T16:40:31Z",
            "cancel_at_period_end": false, "access": {"allowed": true, "code": "VALID", "until": "2026-11-25T16:40:31Z"},
            "features": ["exclusive_skin_001"]}]})))
)]
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
