//! The real server, built by `tollgate::app::configure` as `main` builds it, on an `HttpServer` bound to
//! `127.0.0.1:0` in a thread of its own, over a fresh SQLite file, with a Whop webhook secret.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use tollgate::app::{build_state, configure};
use tollgate::settings::{ConfigFile, Settings};
use tollgate_service::clock::SystemClock;

pub const WHOP_SECRET: &str = "ws_malformed_http_whop_secret_0123";
pub const SERVICE_TOKEN: &str = "service-token-malformed-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-malformed-0123456789ab";
/// The webhook body limit of this server (the default is 1 MiB; smaller keeps the oversize cases quick).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A running server; dropping it stops the server and removes its database.
pub struct RunningServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn settings(dir: &Path) -> Settings {
    let empty = dir.join("tollgate.toml");
    std::fs::write(&empty, "").unwrap();
    let db = format!("sqlite://{}", dir.join("tollgate.db").display());
    let max_body = MAX_BODY_BYTES.to_string();
    let env = [
        ("TOLLGATE_DATABASE__URL", db.as_str()),
        ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", WHOP_SECRET),
        ("TOLLGATE_SERVICE__TOKEN", SERVICE_TOKEN),
        ("TOLLGATE_ADMIN__TOKEN", ADMIN_TOKEN),
        ("TOLLGATE_WEBHOOKS__MAX_BODY_BYTES", max_body.as_str()),
    ];
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Settings::load_from(ConfigFile::Explicit(&empty), env).unwrap()
}

impl RunningServer {
    /// One worker, so a stalled connection that blocked the worker would show at once in the other cases. Every
    /// other server setting is actix's default, as in `tollgate::app::serve` (the request head must arrive within
    /// 5 s: `client_request_timeout`).
    pub fn start() -> RunningServer {
        let dir = tempfile::tempdir().unwrap();
        let settings = Arc::new(settings(dir.path()));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let state = build_state(settings, Arc::new(SystemClock)).unwrap();
                let server = HttpServer::new(move || {
                    let state = state.clone();
                    App::new().configure(move |cfg| configure(cfg, state))
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, handle) = rx.recv().unwrap();
        RunningServer {
            addr,
            handle,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
