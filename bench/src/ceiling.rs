//! `serve-ceiling`: the same actix-web stack as `tollgate serve` (same default worker count: one per core),
//! answering every request, whatever its path, with the same constant JSON body after reading the request body.
//! This is the ceiling every target ratio is computed against.

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, HttpServer, web};

/// The constant answer (what a webhook endpoint answers on success).
pub const CONSTANT_BODY: &str = r#"{"status":"ok"}"#;

/// Serves until SIGTERM or SIGINT.
pub fn serve_ceiling(listen: SocketAddr, workers: Option<usize>) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let mut server = HttpServer::new(|| {
            App::new()
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .default_service(web::to(constant))
        });
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        server.bind(listen)?.run().await
    })
}

async fn constant(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(CONSTANT_BODY)
}
