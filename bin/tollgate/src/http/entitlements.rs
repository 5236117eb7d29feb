//! `GET /api/entitlements?provider=&subject=` (service token): a subject's entitlements with their access
//! decisions. This is how a game server checks a player.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_policy::Provider;
use tollgate_service::view::EntitlementView;

use crate::app::AppState;
use crate::http::auth::ServiceAuth;
use crate::http::error::ApiError;
use crate::http::openapi::{Api, Op, storage};
use crate::http::provider_names::{
    subject_example, subject_ids, subject_ids_markdown, wire_names, wire_names_markdown,
};

pub fn routes(api: &mut Api) {
    let list = api
        .add(__path_list, list)
        .service()
        .errors(|| vec![SubjectQuery::provider_required(), storage()])
        .response_example(200, entitlements_example);
    SubjectQuery::describe(list);
}

/// `provider` and `subject`, both required. Their descriptions and examples name the providers:
/// [`SubjectQuery::describe`] sets them from the registry.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubjectQuery {
    #[param(value_type = String)]
    pub provider: Option<String>,
    #[param(value_type = String)]
    pub subject: Option<String>,
}

impl SubjectQuery {
    /// Describes the two parameters on a route that takes them: the providers' wire names and subject ids, and
    /// an example subject lookup.
    pub fn describe(op: Op<'_>) -> Op<'_> {
        let example = subject_example();
        op.param("provider", |p| {
            p.description(Some(format!("{} (required).", wire_names_markdown())))
                .example(example.map(|a| a.provider().as_str().into()))
        })
        .param("subject", |p| {
            p.description(Some(format!(
                "The {} (required, at most 256 characters).",
                subject_ids_markdown()
            )))
            .example(example.map(|a| a.guide().example_subject.into()))
        })
    }

    /// `400 INVALID_REQUEST` for a missing `provider`.
    pub fn provider_required() -> ApiError {
        ApiError::invalid_request(format!("`provider` is required: one of {}", wire_names()))
    }

    /// `400 INVALID_REQUEST` for a missing `subject`.
    pub fn subject_required() -> ApiError {
        ApiError::invalid_request(format!("`subject` is required: the {}", subject_ids()))
    }

    /// The provider and subject, or `400 INVALID_REQUEST` saying which is missing or unknown.
    pub fn parse(&self) -> Result<(Provider, String), ApiError> {
        let provider = match self.provider.as_deref().map(str::trim) {
            None | Some("") => return Err(SubjectQuery::provider_required()),
            Some(name) => name.parse::<Provider>().map_err(|_| {
                ApiError::invalid_request(format!("unknown `provider`: expected one of {}", wire_names()))
            })?,
        };
        let subject = match self.subject.as_deref().map(str::trim) {
            None | Some("") => return Err(SubjectQuery::subject_required()),
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
/// customer or a player.
#[utoipa::path(
    get,
    path = "/api/entitlements",
    tag = "service",
    operation_id = "list_entitlements",
    summary = "A subject's entitlements and access",
    params(SubjectQuery),
    responses((status = 200, description = "The subject's entitlements (an empty list when there are none)", body = EntitlementsBody))
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

/// The `200` example: the example subject lookup's provider, with its guide's example ids.
fn entitlements_example() -> serde_json::Value {
    let (provider, external_id, subject) = subject_example().map_or(("", "", ""), |a| {
        let guide = a.guide();
        (
            a.provider().as_str(),
            guide.example_external_id,
            guide.example_subject,
        )
    });
    json!({"entitlements": [{"id": "ent_1f0c9a", "provider": provider, "external_id": external_id,
        "subject": subject, "product": "battle_pass", "status": "active", "current_period_end": "2026-12-22T16:40:31Z",
        "cancel_at_period_end": false, "access": {"allowed": true, "code": "VALID", "until": "2026-11-25T16:40:31Z"},
        "features": ["exclusive_skin_001"]}]})
}
