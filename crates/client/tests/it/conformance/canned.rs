//! A loopback HTTP server that answers every request with the response a vector step names, and records what it
//! was asked: the client's real HTTP stack talks to it, so headers (`Date`, `Retry-After`) and bodies are read
//! exactly as from Tollgate.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

#[derive(Default)]
struct Script {
    response: Option<Value>,
    requests: Vec<Value>,
}

pub struct Canned {
    pub url: String,
    script: Arc<Mutex<Script>>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

fn lock(script: &Mutex<Script>) -> std::sync::MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn answer(req: HttpRequest, body: web::Bytes, script: web::Data<Arc<Mutex<Script>>>) -> HttpResponse {
    let mut script = lock(&script);
    let body =
        serde_json::from_slice::<Value>(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    script
        .requests
        .push(json!({"method": req.method().as_str(), "path": req.path(), "body": body}));
    let Some(response) = script.response.clone() else {
        return HttpResponse::InternalServerError().body("this step expects no request");
    };
    let status = response["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(500);
    let mut out = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default());
    if let Some(headers) = response["headers"].as_object() {
        for (name, value) in headers {
            out.insert_header((name.as_str(), value.as_str().unwrap_or_default()));
        }
    }
    out.body(response["body"].as_str().unwrap_or_default().to_owned())
}

impl Canned {
    pub fn start() -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = web::Data::new(script.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(shared.clone())
                        .default_service(web::to(answer))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = rx.recv().unwrap();
        Canned {
            url,
            script,
            handle,
            thread: Some(thread),
        }
    }

    /// Answer the next requests with `response` (`None`: any request is a failure of the step), forgetting the
    /// requests recorded so far.
    pub fn script(&self, response: Option<Value>) {
        let mut script = lock(&self.script);
        script.response = response;
        script.requests.clear();
    }

    pub fn requests(&self) -> Vec<Value> {
        lock(&self.script).requests.clone()
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
