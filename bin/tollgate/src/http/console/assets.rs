//! The stylesheet and the script, embedded in the binary (`assets/console/`). No CDN, no build step.

use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective};

const STYLESHEET: &str = include_str!("../../../assets/console/console.css");
const SCRIPT: &str = include_str!("../../../assets/console/console.js");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        // Revalidated on each page load: an upgraded binary's assets are picked up at once.
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(body)
}

pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
