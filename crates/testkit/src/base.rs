//! What every provider's fake is made of: its server and the credentials it was started with ([`FakeHost`]), and
//! its state behind a lock ([`FakeBase`]). A fake keeps one [`FakeBase`] and answers
//! [`FakeProvider`](crate::FakeProvider) (and so [`DevFake`](crate::DevFake)) from its host.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::{FakeServer, HttpRequest, HttpResponse, lock};

/// A fake's server, and the API key and webhook secret it was started with.
#[derive(Debug)]
pub struct FakeHost {
    server: FakeServer,
    api_key: String,
    webhook_secret: String,
}

impl FakeHost {
    /// The running server.
    pub fn server(&self) -> &FakeServer {
        &self.server
    }

    /// The bearer key the fake accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret the fake signs its webhooks with.
    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }
}

/// A fake's host and its state `S`, which the server's routes and the test's calls share behind one lock.
pub struct FakeBase<S> {
    host: FakeHost,
    state: Arc<Mutex<S>>,
}

impl<S: Default + Send + 'static> FakeBase<S> {
    /// Starts a fake with empty state on `127.0.0.1:0`: every request goes to `route` with the state, the API key
    /// the fake accepts (`api_key`) and the request. `webhook_secret` is kept for the fake's signed webhooks.
    pub fn start(
        api_key: &str,
        webhook_secret: &str,
        route: fn(&Mutex<S>, &str, &HttpRequest) -> HttpResponse,
    ) -> FakeBase<S> {
        let state = Arc::new(Mutex::new(S::default()));
        let handler_state = Arc::clone(&state);
        let key = api_key.to_owned();
        let server = FakeServer::start(Arc::new(move |request| route(&handler_state, &key, request)));
        FakeBase {
            host: FakeHost {
                server,
                api_key: api_key.to_owned(),
                webhook_secret: webhook_secret.to_owned(),
            },
            state,
        }
    }
}

impl<S> FakeBase<S> {
    /// The fake's state, locked (and recovered if a panicking test poisoned the lock).
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    /// The fake's server and credentials.
    pub fn host(&self) -> &FakeHost {
        &self.host
    }
}

impl<S> fmt::Debug for FakeBase<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeBase")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}
