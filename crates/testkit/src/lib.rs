#![doc = include_str!("../README.md")]

mod base;
mod dev;
mod server;
mod signing;

pub use base::{FakeBase, FakeHost};
pub use dev::{DemoKey, DemoProduct, DemoSubject, DevDemo, DevFake, DevSeed};
pub use server::{FakeServer, Fault, Handler, HttpRequest, HttpResponse, RecordedRequest, lock};
pub use signing::{SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix};

/// What every fake offers a test: its base URL, fault injection and the requests it received.
pub trait FakeProvider {
    /// The fake's server and the credentials it was started with.
    fn host(&self) -> &FakeHost;

    fn server(&self) -> &FakeServer {
        self.host().server()
    }

    /// The bearer key the fake accepts.
    fn api_key(&self) -> &str {
        self.host().api_key()
    }

    /// The secret the fake signs its webhooks with.
    fn webhook_secret(&self) -> &str {
        self.host().webhook_secret()
    }

    /// `http://127.0.0.1:<port>`, to use as the provider's `API_BASE`.
    fn base_url(&self) -> String {
        self.server().base_url()
    }

    /// Misbehave on the next `times` requests.
    fn fail_next(&self, fault: Fault, times: usize) {
        self.server().fail_next(fault, times);
    }

    /// Misbehave on every request until [`FakeProvider::clear_faults`].
    fn fail_always(&self, fault: Fault) {
        self.server().fail_always(fault);
    }

    fn clear_faults(&self) {
        self.server().clear_faults();
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.server().requests()
    }

    fn request_count(&self) -> usize {
        self.server().request_count()
    }

    /// Requests with exactly this method and path.
    fn count(&self, method: &str, path: &str) -> usize {
        self.server().count(method, path)
    }
}
