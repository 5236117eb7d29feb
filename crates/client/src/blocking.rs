//! The blocking client: the async [`Client`](crate::Client) driven by its own current-thread Tokio runtime. For apps
//! without an async runtime. Do not call it from inside an async runtime (Tokio refuses to block there); use the
//! async client instead.

use crate::access::{Access, Activation, Deactivation};
use crate::error::ClientError;
use crate::keys::Keys;

/// Blocking twin of [`crate::Client`], same methods.
#[derive(Debug)]
pub struct Client {
    inner: crate::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(server_url: &str, app_id: &str, keys: Keys) -> Result<Client, ClientError> {
        Client::from_async(crate::Client::new(server_url, app_id, keys)?)
    }

    /// Wraps an async client built with [`crate::Client::builder`].
    pub fn from_async(inner: crate::Client) -> Result<Client, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| {
                log::error!(error:display = err; "cannot start the client's runtime");
                ClientError::Misconfigured
            })?;
        Ok(Client { inner, runtime })
    }

    /// The async client inside (shares state and settings).
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    pub fn activate(&self, license_key: &str) -> Result<Activation, ClientError> {
        self.runtime.block_on(self.inner.activate(license_key))
    }

    pub fn check(&self) -> Result<Access, ClientError> {
        self.runtime.block_on(self.inner.check())
    }

    pub fn check_with_key(&self, license_key: &str) -> Result<Access, ClientError> {
        self.runtime.block_on(self.inner.check_with_key(license_key))
    }

    pub fn deactivate(&self, license_key: &str) -> Result<Deactivation, ClientError> {
        self.runtime.block_on(self.inner.deactivate(license_key))
    }
}
