//! The async client: activate, check (on launch and on a timer), deactivate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{DATE, RETRY_AFTER};
use serde::Serialize;

use crate::access::{Access, AccessReason, Activation, Deactivation, License};
use crate::clock::{Clock, SystemClock};
use crate::device::{DeviceHash, DeviceSource};
use crate::error::ClientError;
use crate::keys::Keys;
use crate::lease::{Lease, LeaseError};
use crate::state::{ActivationStatus, StateFile, StoredState};
use crate::wire::{self, ActivateBody, EntitlementInfo, ErrorBody, GrantBody, KeyBody, MapContext};

/// The longest license key sent (anything longer is not a key).
const MAX_KEY_LEN: usize = 512;

/// Options for [`Client`]; start with [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    server_url: String,
    app_id: String,
    keys: Keys,
    purchase_url: Option<String>,
    state_file: Option<StateFile>,
    clock: Arc<dyn Clock>,
    device: DeviceSource,
    audience: Option<String>,
    device_name: Option<String>,
    timeout: Duration,
    rollback_tolerance: TimeDelta,
    offline_retry: TimeDelta,
}

impl ClientBuilder {
    /// Where a customer renews (shown with `LicenseInactive` and `PaymentIssue`).
    pub fn purchase_url(mut self, url: impl Into<String>) -> Self {
        self.purchase_url = Some(url.into());
        self
    }

    /// The state file path (default: `tollgate-license.json` in the platform config dir for the app id).
    pub fn state_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(StateFile::new(path));
        self
    }

    /// The clock (default: the system clock). Tests inject a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the machine id comes from (default: `machine-uid`).
    pub fn device(mut self, device: DeviceSource) -> Self {
        self.device = device;
        self
    }

    /// The product id leases must carry in `aud`; leases for another product are refused.
    pub fn audience(mut self, product: impl Into<String>) -> Self {
        self.audience = Some(product.into());
        self
    }

    /// A name for this device, sent on activation (for the customer's device list).
    pub fn device_name(mut self, name: impl Into<String>) -> Self {
        self.device_name = Some(name.into());
        self
    }

    /// The HTTP timeout per request (default 15 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How far the clock may be behind the last server time seen before offline access is refused (default 5 min).
    pub fn rollback_tolerance(mut self, tolerance: TimeDelta) -> Self {
        self.rollback_tolerance = tolerance;
        self
    }

    /// While offline, how soon `Access::next_check_at` asks for another try (default 15 min, capped at `exp`).
    pub fn offline_retry(mut self, every: TimeDelta) -> Self {
        self.offline_retry = every;
        self
    }

    pub fn build(self) -> Result<Client, ClientError> {
        let url = reqwest::Url::parse(&self.server_url).map_err(|err| {
            log::error!(error:display = err; "license server URL is not a URL");
            ClientError::Misconfigured
        })?;
        if !matches!(url.scheme(), "http" | "https") || self.app_id.trim().is_empty() || self.keys.is_empty()
        {
            log::error!("license client needs an http(s) server URL, an app id and at least one public key");
            return Err(ClientError::Misconfigured);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(wire::POOL_IDLE_TIMEOUT)
            .user_agent(concat!("tollgate-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                log::error!(error:display = err; "cannot build the HTTP client");
                ClientError::Misconfigured
            })?;
        let state = match self.state_file {
            Some(state) => state,
            None => StateFile::in_config_dir(&self.app_id)?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                server_url: self.server_url.trim_end_matches('/').to_owned(),
                app_id: self.app_id,
                keys: self.keys,
                purchase_url: self.purchase_url,
                state,
                clock: self.clock,
                device: self.device,
                audience: self.audience,
                device_name: self.device_name,
                http,
                rollback_tolerance: self.rollback_tolerance,
                offline_retry: self.offline_retry,
                lock: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

/// The app-side license client (async; see [`crate::blocking::Client`] for the blocking one). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    server_url: String,
    app_id: String,
    keys: Keys,
    purchase_url: Option<String>,
    state: StateFile,
    clock: Arc<dyn Clock>,
    device: DeviceSource,
    audience: Option<String>,
    device_name: Option<String>,
    http: reqwest::Client,
    rollback_tolerance: TimeDelta,
    offline_retry: TimeDelta,
    /// One operation at a time per client, so a timer's check and a user's deactivate do not interleave writes.
    lock: tokio::sync::Mutex<()>,
}

/// A verified 200 from activate or validate.
struct Grant {
    lease: Lease,
    entitlement: EntitlementInfo,
    device_id: Option<String>,
    server_time: DateTime<Utc>,
}

fn key_last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    // never the whole key, even a very short one
    let keep = 4.min(chars.len() / 2);
    chars
        .get(chars.len() - keep..)
        .unwrap_or_default()
        .iter()
        .collect()
}

fn normalized_key(key: &str) -> Result<&str, ClientError> {
    let key = key.trim();
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(ClientError::InvalidLicense);
    }
    Ok(key)
}

impl Client {
    /// A client with the defaults: system clock, `machine-uid`, state in the platform config dir.
    pub fn new(server_url: &str, app_id: &str, keys: Keys) -> Result<Client, ClientError> {
        Client::builder(server_url, app_id, keys).build()
    }

    pub fn builder(server_url: &str, app_id: &str, keys: Keys) -> ClientBuilder {
        ClientBuilder {
            server_url: server_url.to_owned(),
            app_id: app_id.to_owned(),
            keys,
            purchase_url: None,
            state_file: None,
            clock: Arc::new(SystemClock),
            device: DeviceSource::Machine,
            audience: None,
            device_name: None,
            timeout: Duration::from_secs(15),
            rollback_tolerance: TimeDelta::minutes(5),
            offline_retry: TimeDelta::minutes(15),
        }
    }

    pub fn state_path(&self) -> &Path {
        self.inner.state.path()
    }

    /// The saved state as it is on disk (for a status screen); no verification, no network.
    pub fn stored_state(&self) -> Result<Option<StoredState>, ClientError> {
        self.inner.state.load()
    }

    /// Activates this device with a license key and stores the verified lease.
    pub async fn activate(&self, license_key: &str) -> Result<Activation, ClientError> {
        let key = normalized_key(license_key)?;
        let _guard = self.inner.lock.lock().await;
        let device = self.device_hash()?;
        let now = self.inner.clock.now();
        let body = ActivateBody {
            license_key: key,
            hwid: device.as_str(),
            device_name: self.inner.device_name.as_deref(),
        };
        let (bytes, date) = self.post("/api/license/activate", &body, None).await?;
        let grant = self.accept_grant(&bytes, date, &device)?;
        let last4 = key_last4(key);
        let state = StoredState {
            version: StoredState::VERSION,
            status: ActivationStatus::Active,
            device_hash: device.as_str().to_owned(),
            key_last4: last4.clone(),
            activated_at: now,
            last_online_at: now,
            last_server_time: grant.server_time,
            lease: Some(grant.lease.token().to_owned()),
        };
        self.inner.state.save(&state)?;
        log::info!(sub = grant.lease.claims().sub.as_str(); "license activated");
        Ok(Activation {
            license: License::from_lease(&grant.lease, &last4),
            entitlement: grant.entitlement,
            device_id: grant.device_id,
        })
    }

    /// Checks access without the license key: a fresh lease allows without network; once `refresh_after` has
    /// passed, the lease still allows until its `exp` (`AccessReason::RevalidationNeedsKey`), then
    /// `OfflineGraceExpired`. Call on launch and at `Access::next_check_at`.
    pub async fn check(&self) -> Result<Access, ClientError> {
        self.check_inner(None).await
    }

    /// Like [`Client::check`], and once `refresh_after` has passed (or the clock went back, or the saved lease is
    /// unusable) revalidates online with the key the app keeps in its own secure storage.
    pub async fn check_with_key(&self, license_key: &str) -> Result<Access, ClientError> {
        let key = normalized_key(license_key)?;
        self.check_inner(Some(key)).await
    }

    /// Frees this device on the server (for moving to another computer) and clears the local state.
    pub async fn deactivate(&self, license_key: &str) -> Result<Deactivation, ClientError> {
        let key = normalized_key(license_key)?;
        let _guard = self.inner.lock.lock().await;
        let device = self.device_hash()?;
        let body = KeyBody {
            license_key: key,
            hwid: device.as_str(),
        };
        let remaining_devices = match self.post("/api/license/deactivate", &body, None).await {
            Ok((bytes, _)) => remaining_devices(&bytes),
            // the server already does not know this device: nothing left to free
            Err(ClientError::NotActivated) => None,
            Err(err) => return Err(err),
        };
        self.inner.state.clear()?;
        log::info!("license deactivated on this device");
        Ok(Deactivation { remaining_devices })
    }

    async fn check_inner(&self, key: Option<&str>) -> Result<Access, ClientError> {
        let _guard = self.inner.lock.lock().await;
        let now = self.inner.clock.now();
        let device = self.device_hash()?;
        let Some(state) = self.inner.state.load()? else {
            return Err(ClientError::NotActivated);
        };
        if state.device_hash != device.as_str() {
            log::warn!("license state file was made on another device or for another app id");
            return Err(ClientError::NotActivated);
        }
        // What offline access is based on, or why there is none.
        let offline_basis: Result<Lease, ClientError> = match state.status {
            ActivationStatus::Active => self.stored_lease(&state, &device),
            denied => Err(self.denial_error(denied)),
        };
        let rollback = now + self.inner.rollback_tolerance < state.last_server_time;
        if let Ok(lease) = &offline_basis
            && !rollback
            && !lease.refresh_due(now)
            && lease.check_time(now).is_ok()
        {
            return Ok(Access {
                license: License::from_lease(lease, &state.key_last4),
                reason: AccessReason::LeaseFresh,
                next_check_at: lease.refresh_after(),
            });
        }
        let reason = match key {
            Some(key) => {
                let keep_working_until = offline_basis.as_ref().ok().map(Lease::expires_at);
                match self
                    .revalidate(key, &device, &state, keep_working_until, now)
                    .await
                {
                    Ok(access) => return Ok(access),
                    Err(err) if err.is_connectivity() => AccessReason::Offline { cause: err },
                    Err(err) => return Err(err),
                }
            }
            None => AccessReason::RevalidationNeedsKey,
        };
        let lease = offline_basis?;
        if rollback || now + self.inner.rollback_tolerance < lease.not_before() {
            log::warn!("system clock is behind the last server time seen: offline access refused");
            return Err(ClientError::ClockRollback);
        }
        if lease.check_time(now) == Err(LeaseError::Expired) {
            return Err(ClientError::OfflineGraceExpired {
                expired_at: lease.expires_at(),
            });
        }
        Ok(Access {
            license: License::from_lease(&lease, &state.key_last4),
            reason,
            next_check_at: (now + self.inner.offline_retry).min(lease.expires_at()),
        })
    }

    async fn revalidate(
        &self,
        key: &str,
        device: &DeviceHash,
        state: &StoredState,
        keep_working_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Access, ClientError> {
        let body = KeyBody {
            license_key: key,
            hwid: device.as_str(),
        };
        let result = match self
            .post("/api/license/validate", &body, keep_working_until)
            .await
        {
            Ok((bytes, date)) => self.accept_grant(&bytes, date, device),
            Err(err) => Err(err),
        };
        let grant = match result {
            Ok(grant) => grant,
            Err(err) => {
                if let Some(status) = denial_status(&err) {
                    if key_last4(key) == state.key_last4 {
                        let denied = StoredState {
                            status,
                            lease: None,
                            last_online_at: now,
                            ..state.clone()
                        };
                        self.inner.state.save(&denied)?;
                    } else {
                        log::warn!("the key supplied for revalidation is not the activated one; state kept");
                    }
                }
                return Err(err);
            }
        };
        let renewed = StoredState {
            status: ActivationStatus::Active,
            key_last4: key_last4(key),
            last_online_at: now,
            last_server_time: grant.server_time.max(state.last_server_time),
            lease: Some(grant.lease.token().to_owned()),
            ..state.clone()
        };
        self.inner.state.save(&renewed)?;
        Ok(Access {
            license: License::from_lease(&grant.lease, &renewed.key_last4),
            reason: AccessReason::Revalidated,
            next_check_at: grant.lease.refresh_after(),
        })
    }

    /// The saved lease, if its signature verifies against the pinned keys, it is for the expected product and its
    /// device claim is this machine's. A lease made for another machine is `NotActivated` (like a state file made
    /// there); any other failure is `StateCorrupt`.
    fn stored_lease(&self, state: &StoredState, device: &DeviceHash) -> Result<Lease, ClientError> {
        let Some(token) = state.lease.as_deref() else {
            return Err(ClientError::StateCorrupt);
        };
        self.verified(token, device).map_err(|err| {
            log::warn!(error:display = err; "the saved lease does not verify");
            match err {
                LeaseError::WrongDevice => ClientError::NotActivated,
                _ => ClientError::StateCorrupt,
            }
        })
    }

    fn verified(&self, token: &str, device: &DeviceHash) -> Result<Lease, LeaseError> {
        let lease = Lease::parse(token)?;
        lease.verify_signature(&self.inner.keys)?;
        if let Some(aud) = &self.inner.audience
            && !lease.claims().aud.contains(aud)
        {
            return Err(LeaseError::WrongAudience);
        }
        lease.check_device(device)?;
        Ok(lease)
    }

    fn accept_grant(
        &self,
        bytes: &[u8],
        date: Option<DateTime<Utc>>,
        device: &DeviceHash,
    ) -> Result<Grant, ClientError> {
        let body: GrantBody = serde_json::from_slice(bytes).map_err(|err| {
            log::warn!(error:display = err; "license server 200 body is not the contract's");
            ClientError::UnexpectedResponse
        })?;
        let lease = self.verified(&body.lease.token, device).map_err(|err| {
            log::warn!(error:display = err; "lease from the license server does not verify");
            ClientError::UnexpectedResponse
        })?;
        // Judge a fresh lease by the server's clock, so a wrong local clock cannot reject a genuine answer.
        let server_time = date.map_or(lease.issued_at(), |d| d.max(lease.issued_at()));
        lease.check_time(server_time).map_err(|err| {
            log::warn!(error:display = err; "lease from the license server is not valid at the server's time");
            ClientError::UnexpectedResponse
        })?;
        let device_id = body.device.get("id").and_then(|id| {
            id.as_str()
                .map(str::to_owned)
                .or_else(|| id.as_i64().map(|n| n.to_string()))
        });
        Ok(Grant {
            entitlement: EntitlementInfo::from_value(&body.entitlement),
            device_id,
            lease,
            server_time,
        })
    }

    fn denial_error(&self, status: ActivationStatus) -> ClientError {
        let purchase_url = self.inner.purchase_url.clone();
        match status {
            ActivationStatus::InvalidLicense => ClientError::InvalidLicense,
            ActivationStatus::InUseOnAnotherDevice => ClientError::InUseOnAnotherDevice,
            ActivationStatus::LicenseInactive => ClientError::LicenseInactive { purchase_url },
            ActivationStatus::PaymentIssue => ClientError::PaymentIssue { purchase_url },
            ActivationStatus::DeviceNotActivated | ActivationStatus::Active => ClientError::NotActivated,
        }
    }

    fn device_hash(&self) -> Result<DeviceHash, ClientError> {
        self.inner.device.hash(&self.inner.app_id)
    }

    /// One POST; a 2xx gives the body and the server's `Date`, anything else a user-safe state (the cause logged).
    async fn post(
        &self,
        path: &str,
        body: &impl Serialize,
        keep_working_until: Option<DateTime<Utc>>,
    ) -> Result<(Vec<u8>, Option<DateTime<Utc>>), ClientError> {
        let url = format!("{}{path}", self.inner.server_url);
        let send = || self.inner.http.post(&url).json(body).send();
        let response = match send().await {
            // A kept-alive connection the server had closed: the request was not processed, so send it again once.
            Err(err) if wire::is_idempotent(path) && wire::closed_by_peer(&err) => {
                log::debug!(path = path, error:display = err; "connection closed by the server; sending again");
                send().await
            }
            other => other,
        };
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                log::warn!(path = path, error:display = err; "license server unreachable");
                return Err(ClientError::ServerUnreachable { keep_working_until });
            }
        };
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
        };
        let date = header(DATE)
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc));
        let retry_after_secs = header(RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes.to_vec(),
            Err(err) => {
                log::warn!(path = path, error:display = err; "license server answer cut off");
                return Err(ClientError::ServerUnreachable { keep_working_until });
            }
        };
        if status.is_success() {
            return Ok((bytes, date));
        }
        let code = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.code);
        log::info!(path = path, status = status.as_u16(), code = code.as_deref().unwrap_or("-"); "license server refused");
        let ctx = MapContext {
            purchase_url: self.inner.purchase_url.clone(),
            retry_after_secs,
            keep_working_until,
        };
        Err(wire::map_error(status.as_u16(), code.as_deref(), &ctx))
    }
}

/// The server's verdicts that end access until the next successful online check.
fn denial_status(err: &ClientError) -> Option<ActivationStatus> {
    match err {
        ClientError::InvalidLicense => Some(ActivationStatus::InvalidLicense),
        ClientError::InUseOnAnotherDevice | ClientError::DeviceLimitReached => {
            Some(ActivationStatus::InUseOnAnotherDevice)
        }
        ClientError::LicenseInactive { .. } => Some(ActivationStatus::LicenseInactive),
        ClientError::PaymentIssue { .. } => Some(ActivationStatus::PaymentIssue),
        ClientError::NotActivated => Some(ActivationStatus::DeviceNotActivated),
        _ => None,
    }
}

/// `remaining_devices` (a number) or `devices` (a list) from a deactivation answer, when present.
fn remaining_devices(bytes: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    match (value.get("remaining_devices"), value.get("devices")) {
        (Some(n), _) if n.is_u64() => n.as_u64(),
        (Some(serde_json::Value::Array(list)), _) | (_, Some(serde_json::Value::Array(list))) => {
            Some(list.len() as u64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last4_never_reveals_a_whole_key() {
        assert_eq!(key_last4("ABCD-EFGH-1234-7F3A"), "7F3A");
        assert_eq!(key_last4("abcdef"), "def");
        assert_eq!(key_last4("ab"), "b");
        assert_eq!(key_last4(""), "");
        assert_eq!(key_last4("ключ-лицензии-Ж9"), "и-Ж9");
    }

    #[test]
    fn keys_are_trimmed_and_bounded() {
        assert_eq!(normalized_key("  K-1 \n"), Ok("K-1"));
        assert_eq!(normalized_key("   "), Err(ClientError::InvalidLicense));
        assert_eq!(normalized_key("a\u{7}b"), Err(ClientError::InvalidLicense));
        assert_eq!(
            normalized_key(&"k".repeat(MAX_KEY_LEN + 1)),
            Err(ClientError::InvalidLicense)
        );
    }

    #[test]
    fn remaining_devices_is_read_loosely() {
        assert_eq!(remaining_devices(br#"{"remaining_devices": 2}"#), Some(2));
        assert_eq!(remaining_devices(br#"{"devices": [{}, {}, {}]}"#), Some(3));
        assert_eq!(remaining_devices(br#"{"remaining_devices": [{}]}"#), Some(1));
        assert_eq!(remaining_devices(b"not json"), None);
    }
}
