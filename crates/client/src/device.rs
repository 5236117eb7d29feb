//! The device id: this machine's id (`machine-uid`: `/etc/machine-id` on Linux, `IOPlatformUUID` on macOS,
//! `MachineGuid` on Windows), hashed with the app id before it leaves the machine, so two apps on one computer send
//! unrelated ids and the raw machine id is never sent or stored. The server hashes it again with its own pepper.

use std::fmt;

use ring::digest::{Context, SHA256};

use crate::error::ClientError;

/// Where the raw machine id comes from.
#[derive(Clone, Default)]
pub enum DeviceSource {
    /// This machine's id, via `machine-uid`.
    #[default]
    Machine,
    /// A fixed id: tests, and demos that pretend to be a second computer.
    Fixed(String),
}

impl fmt::Debug for DeviceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSource::Machine => f.write_str("Machine"),
            DeviceSource::Fixed(_) => f.write_str("Fixed([redacted])"),
        }
    }
}

impl DeviceSource {
    pub(crate) fn hash(&self, app_id: &str) -> Result<DeviceHash, ClientError> {
        match self {
            DeviceSource::Fixed(raw) => Ok(DeviceHash::of(app_id, raw)),
            DeviceSource::Machine => match machine_uid::get() {
                Ok(raw) if !raw.trim().is_empty() => Ok(DeviceHash::of(app_id, raw.trim())),
                Ok(_) => {
                    log::error!("machine id is empty");
                    Err(ClientError::DeviceIdUnavailable)
                }
                Err(err) => {
                    log::error!(error:display = err; "machine id unavailable");
                    Err(ClientError::DeviceIdUnavailable)
                }
            },
        }
    }
}

/// SHA-256 over a domain tag, the app id and the raw machine id (each length-prefixed), as lowercase hex.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceHash(String);

impl DeviceHash {
    pub fn of(app_id: &str, raw_machine_id: &str) -> DeviceHash {
        let mut ctx = Context::new(&SHA256);
        for part in [
            b"tollgate-client/device/v1".as_slice(),
            app_id.as_bytes(),
            raw_machine_id.as_bytes(),
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        DeviceHash(hex::encode(ctx.finish().as_ref()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceHash({}…)", self.0.get(..8).unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_app_and_machine_and_hides_the_raw_id() {
        let a = DeviceHash::of("app-a", "3d1219c7c4c5404aaa1f6d2a48adfda4");
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a, DeviceHash::of("app-a", "3d1219c7c4c5404aaa1f6d2a48adfda4"));
        assert_ne!(a, DeviceHash::of("app-b", "3d1219c7c4c5404aaa1f6d2a48adfda4"));
        assert_ne!(a, DeviceHash::of("app-a", "3d1219c7c4c5404aaa1f6d2a48adfda5"));
        // length prefixes: moving a byte between app id and machine id changes the hash
        assert_ne!(DeviceHash::of("ab", "c"), DeviceHash::of("a", "bc"));
        assert!(!a.as_str().contains("3d1219c7"));
    }

    #[test]
    fn this_machine_has_an_id() {
        let hash = DeviceSource::Machine.hash("app").unwrap();
        assert_eq!(hash, DeviceSource::Machine.hash("app").unwrap());
    }
}
