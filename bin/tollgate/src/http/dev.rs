//! The routes only `tollgate dev` serves (cargo feature `dev`): `POST /dev/providers/{provider}/outage` turns a fake
//! provider's outage on or off, so an app or SDK can be tried against "the store is down". Admin token. They are
//! not part of the OpenAPI document: no real server has them.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tollgate_policy::Provider;

use crate::http::auth::AdminAuth;
use crate::http::error::ApiError;
use crate::http::request::request_id;

/// The fake providers' outage switch (the dev world implements it).
pub trait ProviderOutages: Send + Sync + 'static {
    /// `down`: the fake answers `503` to every request until it is switched back.
    fn set_down(&self, provider: Provider, down: bool);
}

/// `{"down": true}` or `{"down": false}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageBody {
    down: bool,
}

/// Register the dev routes over `fakes`.
pub fn routes(cfg: &mut web::ServiceConfig, fakes: Arc<dyn ProviderOutages>) {
    cfg.app_data(web::Data::from(fakes))
        .route("/dev/providers/{provider}/outage", web::post().to(outage));
}

async fn outage(
    _: AdminAuth,
    fakes: web::Data<dyn ProviderOutages>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<OutageBody>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let provider: Provider = name.parse().map_err(|_| {
        ApiError::not_found(format!(
            "no fake provider `{}`: use {}",
            name.chars().take(32).collect::<String>(),
            Provider::names_list()
        ))
    })?;
    let down = body.down;
    fakes.set_down(provider, down);
    log::warn!(
        request_id = request_id(&req).as_str(),
        provider = provider.as_str(),
        down = down;
        "DEV: the fake {provider} is {}",
        if down { "down: it answers 503 to every request" } else { "up again" }
    );
    Ok(HttpResponse::NoContent().finish())
}
