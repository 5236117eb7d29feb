#![doc = include_str!("../README.md")]

mod dev;
mod server;
mod signing;

pub use dev::{DemoKey, DemoProduct, DemoSubject, DevDemo, DevFake, DevSeed};
pub use server::{FakeServer, Fault, Handler, HttpRequest, HttpResponse, RecordedRequest, lock};
pub use signing::{SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix};

/// What every fake offers a test: its base URL, fault injection and the requests it received.
pub trait FakeProvider {
    fn server(&self) -> &FakeServer;

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
