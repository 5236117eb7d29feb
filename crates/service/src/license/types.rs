//! Requests and answers of the license use cases, in product.md's wire shapes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tollgate_store::Device;

use super::error::LicenseError;
use crate::view::EntitlementView;

/// The longest license key accepted (Whop and Dodo keys are well under 64 characters).
pub const MAX_LICENSE_KEY_LEN: usize = 256;
/// The longest hwid accepted (a fingerprint or its hash).
pub const MAX_HWID_LEN: usize = 512;
/// The longest device name kept; a longer one is cut to this many characters.
pub const MAX_DEVICE_NAME_LEN: usize = 128;

/// `POST /api/license/activate`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ActivateRequest {
    pub license_key: String,
    pub hwid: String,
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/license/validate`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ValidateRequest {
    pub license_key: String,
    pub hwid: String,
}

/// `POST /api/license/deactivate`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct DeactivateRequest {
    pub license_key: String,
    pub hwid: String,
}

macro_rules! redacted_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("license_key", &"[redacted]")
                    .field("hwid", &"[redacted]")
                    .finish_non_exhaustive()
            }
        }
    )*};
}
redacted_debug!(ActivateRequest, ValidateRequest, DeactivateRequest);

/// Reject what no provider could ever accept, before any lookup.
pub(crate) fn check_input(license_key: &str, hwid: &str) -> Result<(), LicenseError> {
    if license_key.trim().is_empty() {
        return Err(LicenseError::InvalidRequest("license_key is empty"));
    }
    if license_key.len() > MAX_LICENSE_KEY_LEN {
        return Err(LicenseError::InvalidRequest("license_key is too long"));
    }
    if license_key
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(LicenseError::InvalidRequest(
            "license_key contains spaces, control characters or slashes",
        ));
    }
    // A dot segment would be resolved away in a provider URL and reach another route.
    if license_key == "." || license_key == ".." {
        return Err(LicenseError::InvalidRequest("license_key is not a license key"));
    }
    if hwid.trim().is_empty() {
        return Err(LicenseError::InvalidRequest("hwid is empty"));
    }
    if hwid.len() > MAX_HWID_LEN {
        return Err(LicenseError::InvalidRequest("hwid is too long"));
    }
    if hwid.chars().any(char::is_control) {
        return Err(LicenseError::InvalidRequest("hwid contains control characters"));
    }
    Ok(())
}

/// A device name as kept: control characters and Unicode format characters (general category Cf: bidi overrides
/// and isolates, zero-width characters, the BOM, ...) dropped, at most [`MAX_DEVICE_NAME_LEN`] characters, `None`
/// if blank. A name is shown to operators and in apps, where a bidi override could make it read as something else.
pub(crate) fn clean_device_name(name: Option<&str>) -> Option<String> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    let cleaned: String = name?
        .chars()
        .filter(|c| !c.is_control() && c.general_category() != GeneralCategory::Format)
        .take(MAX_DEVICE_NAME_LEN)
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The `200` answer of activate and validate:
/// `{"code":"VALID","entitlement":{..},"device":{"id","activated_at"},"lease":{"token","expires_at","refresh_after"}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenseGrant {
    /// Always `VALID`.
    pub code: &'static str,
    pub entitlement: EntitlementView,
    pub device: DeviceRef,
    pub lease: LeaseView,
    /// This answer as JSON, once [`LicenseGrant::to_json`] made it.
    #[serde(skip)]
    json: JsonMemo,
}

impl LicenseGrant {
    pub(crate) fn new(entitlement: EntitlementView, device: DeviceRef, lease: LeaseView) -> Self {
        LicenseGrant {
            code: tollgate_policy::VALID_CODE,
            entitlement,
            device,
            lease,
            json: JsonMemo::default(),
        }
    }

    /// This answer as JSON, serialized once: a reused lease (`license/cache.rs`) is the same `LicenseGrant` for every
    /// revalidation within `reuse_for`, and serializing it again each time (escaping the lease token byte by byte)
    /// was 11 % of the server's CPU in the validate benchmark.
    pub fn to_json(&self) -> Result<&str, serde_json::Error> {
        if let Some(json) = self.json.0.get() {
            return Ok(json);
        }
        let json = serde_json::to_string(self)?;
        Ok(self.json.0.get_or_init(|| json))
    }
}

/// A grant's JSON, made at most once. Not part of the answer's value: any two compare equal, and it prints nothing.
#[derive(Clone, Default)]
struct JsonMemo(std::sync::OnceLock<String>);

impl PartialEq for JsonMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for JsonMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

/// The device in a [`LicenseGrant`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRef {
    pub id: String,
    pub activated_at: DateTime<Utc>,
}

/// The lease in a [`LicenseGrant`]. `expires_at` is the token's `exp`, `refresh_after` its `refresh_after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseView {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_after: DateTime<Utc>,
}

/// The `200` answer of deactivate: `{"code":"DEACTIVATED","max_devices":N,"devices":[..]}` with the devices that
/// remain on the license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deactivated {
    /// Always `DEACTIVATED`.
    pub code: &'static str,
    pub max_devices: u32,
    pub devices: Vec<DeviceSummary>,
}

/// One remaining device (never its hwid or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    pub id: String,
    pub name: Option<String>,
    pub activated_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl From<&Device> for DeviceSummary {
    fn from(device: &Device) -> Self {
        DeviceSummary {
            id: device.id.to_string(),
            name: device.name.clone(),
            activated_at: device.activated_at,
            last_seen_at: device.last_seen_at,
        }
    }
}

/// What an admin reset did at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderRelease {
    /// Nothing to release there (local binding, or a provider without device state).
    NotNeeded,
    /// The Dodo instance was deactivated, or the Whop binding written without the device.
    Released,
    /// The Whop binding could not be written now (logged); the next look-up or reconciliation writes it. Tollgate
    /// has freed the device either way.
    Pending,
    /// A Dodo instance needs the license key to be deactivated, and the admin gave none: it stays active at Dodo
    /// (and counts against the key's `activations_limit`) until someone deactivates it there.
    SkippedNoLicenseKey,
}

/// The answer of an admin device reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReset {
    pub device: DeviceSummary,
    pub provider: ProviderRelease,
}
