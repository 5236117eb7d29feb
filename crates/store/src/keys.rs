//! The store's two secrets: the pepper for keyed hashes and the data key for encryption at rest.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Result, StoreError};
use crate::store::Store;

const KEY_LEN: usize = 32;
const KEY_FILE_HEADER: &str = "# Tollgate store keys. Back this file up together with the database: without it the \
stored license-key and hwid hashes can never match again and encrypted webhook bodies, extras and signing keys \
cannot be read. See docs/storage.md.\n";

/// The keyed hash of a license key (HMAC-SHA256 with the pepper, lower-case hex). Lookups go by this value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenseKeyHash(String);

/// The keyed hash of a device fingerprint (HMAC-SHA256 with the pepper, lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HwidHash(String);

impl LicenseKeyHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_stored(hex: String) -> Self {
        LicenseKeyHash(hex)
    }
}

impl HwidHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_stored(hex: String) -> Self {
        HwidHash(hex)
    }
}

impl fmt::Display for HwidHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pepper (HMAC key for license keys and hwids) and the data key (AES-256-GCM for bodies, extras and signing
/// keys). `Debug` never prints them.
pub struct StoreKeys {
    pepper: hmac::Key,
    data_key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKeys { pepper: [redacted], data_key: [redacted] }")
    }
}

impl StoreKeys {
    fn from_bytes(pepper: &[u8; KEY_LEN], data_key: &[u8; KEY_LEN]) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, data_key).map_err(|_| StoreError::InvalidKey {
            reason: "data key rejected by AES-256-GCM".to_owned(),
        })?;
        Ok(StoreKeys {
            pepper: hmac::Key::new(hmac::HMAC_SHA256, pepper),
            data_key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Keys from configuration (for PostgreSQL, where several instances must share them): each is standard base64
    /// of exactly 32 bytes.
    pub fn from_base64(pepper: &str, data_key: &str) -> Result<Self> {
        let pepper = decode_key("pepper", pepper).map_err(|reason| StoreError::InvalidKey { reason })?;
        let data_key =
            decode_key("data_key", data_key).map_err(|reason| StoreError::InvalidKey { reason })?;
        Self::from_bytes(&pepper, &data_key)
    }

    /// Fresh random keys. Use [`StoreKeys::load_or_create`] or [`StoreKeys::from_base64`] for anything that must
    /// outlive the process.
    pub fn generate() -> Result<Self> {
        let (pepper, data_key) = random_pair()?;
        Self::from_bytes(&pepper, &data_key)
    }

    /// Load the key file at `path`, or create it (mode 0600 on Unix, written atomically) if it does not exist.
    ///
    /// An unreadable or malformed file is an error, never a reason to generate new keys: new keys would orphan
    /// every stored hash and encrypted value.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match fs::read_to_string(path) {
            Ok(text) => return Self::parse_file(path, &text),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(key_file_error(path, format!("cannot read it: {e}"))),
        }
        let (pepper, data_key) = random_pair()?;
        let text = format!(
            "{KEY_FILE_HEADER}pepper = {}\ndata_key = {}\n",
            BASE64.encode(pepper),
            BASE64.encode(data_key)
        );
        match write_new_file(path, text.as_bytes()) {
            Ok(()) => {
                log::info!(path:display = path.display(); "created a new store key file; back it up with the database");
                Self::from_bytes(&pepper, &data_key)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(path)
                    .map_err(|e| key_file_error(path, format!("cannot read it: {e}")))?;
                Self::parse_file(path, &text)
            }
            Err(e) => Err(key_file_error(path, format!("cannot create it: {e}"))),
        }
    }

    fn parse_file(path: &Path, text: &str) -> Result<Self> {
        let mut pepper = None;
        let mut data_key = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(key_file_error(
                    path,
                    "malformed line: expected `name = base64`".to_owned(),
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            let slot = match name {
                "pepper" => &mut pepper,
                "data_key" => &mut data_key,
                _ => return Err(key_file_error(path, format!("unknown entry `{name}`"))),
            };
            if slot.is_some() {
                return Err(key_file_error(path, format!("`{name}` is given twice")));
            }
            *slot = Some(decode_key(name, value).map_err(|reason| key_file_error(path, reason))?);
        }
        let pepper = pepper.ok_or_else(|| key_file_error(path, "`pepper` is missing".to_owned()))?;
        let data_key = data_key.ok_or_else(|| key_file_error(path, "`data_key` is missing".to_owned()))?;
        Self::from_bytes(&pepper, &data_key)
    }

    /// The keyed hash under which a license key is stored and looked up.
    pub fn hash_license_key(&self, license_key: &str) -> LicenseKeyHash {
        LicenseKeyHash(self.keyed_hash(b"license_key", license_key))
    }

    /// The keyed hash under which a device fingerprint is stored and looked up.
    pub fn hash_hwid(&self, hwid: &str) -> HwidHash {
        HwidHash(self.keyed_hash(b"hwid", hwid))
    }

    fn keyed_hash(&self, domain: &[u8], value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.pepper);
        ctx.update(domain);
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        hex::encode(ctx.sign().as_ref())
    }

    /// Encrypt `plaintext` as nonce‖ciphertext‖tag, bound by `aad` to where it is stored.
    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::unavailable("the system random generator failed", None))?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(NONCE_LEN);
        self.data_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut body,
            )
            .map_err(|_| StoreError::InvalidKey {
                reason: "AES-256-GCM refused to seal".to_owned(),
            })?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypt what [`StoreKeys::seal`] produced with the same `aad`.
    pub(crate) fn open(&self, what: &'static str, aad: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(StoreError::Decrypt { what });
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Decrypt { what })?;
        let mut body = body.to_vec();
        let plain = self
            .data_key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body)
            .map_err(|_| StoreError::Decrypt { what })?;
        let len = plain.len();
        body.truncate(len);
        Ok(body)
    }

    /// A random identifier: `prefix` followed by 24 lower-case hex characters (96 random bits).
    pub(crate) fn random_id(&self, prefix: &str) -> Result<String> {
        let mut bytes = [0u8; 12];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| StoreError::unavailable("the system random generator failed", None))?;
        Ok(format!("{prefix}{}", hex::encode(bytes)))
    }
}

/// How much stored data depends on the store keys: what a new key file would orphan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredData {
    /// Lease signing keys (their private keys are sealed with the data key).
    pub signing_keys: u64,
    /// Stored webhook deliveries (their bodies are sealed with the data key).
    pub webhooks: u64,
    /// Entitlements (found by the keyed hash of their license key).
    pub entitlements: u64,
    /// Activated devices (found by the keyed hash of their hwid).
    pub devices: u64,
}

impl StoredData {
    pub fn is_empty(&self) -> bool {
        *self == StoredData::default()
    }
}

impl fmt::Display for StoredData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lease signing key(s), {} stored webhook(s), {} entitlement(s), {} device(s)",
            self.signing_keys, self.webhooks, self.entitlements, self.devices
        )
    }
}

impl Store {
    /// Count what the stored data holds that only these keys open; nothing when no migration was ever applied (a
    /// new database).
    pub fn stored_data(&self) -> Result<StoredData> {
        use diesel::prelude::*;
        use diesel_migrations::MigrationHarness as _;

        use crate::connection::DbConnection;
        use crate::schema::{devices, entitlements, signing_keys, webhook_inbox};
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.applied_migrations(),
            DbConnection::Postgres(c) => c.applied_migrations(),
        }
        .map_err(|e| StoreError::Migration {
            reason: e.to_string(),
        })?;
        if applied.is_empty() {
            return Ok(StoredData::default());
        }
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(StoredData {
            signing_keys: count(signing_keys::table.count().get_result(&mut *conn)?),
            webhooks: count(webhook_inbox::table.count().get_result(&mut *conn)?),
            entitlements: count(entitlements::table.count().get_result(&mut *conn)?),
            devices: count(devices::table.count().get_result(&mut *conn)?),
        })
    }

    /// Check that these keys open the stored data: every lease signing key, and the oldest stored webhook body,
    /// decrypt with the data key. [`StoreError::Decrypt`] names what did not open: the keys are not the ones the data
    /// was written with. (The pepper cannot be checked this way: a keyed hash only ever matches or not.)
    pub fn check_keys(&self) -> Result<()> {
        self.list_signing_keys()?;
        self.list_inbox(&crate::InboxFilter {
            limit: 1,
            ..crate::InboxFilter::default()
        })?;
        Ok(())
    }
}

fn random_pair() -> Result<([u8; KEY_LEN], [u8; KEY_LEN])> {
    let rng = SystemRandom::new();
    let mut pepper = [0u8; KEY_LEN];
    let mut data_key = [0u8; KEY_LEN];
    rng.fill(&mut pepper)
        .and_then(|()| rng.fill(&mut data_key))
        .map_err(|_| StoreError::unavailable("the system random generator failed", None))?;
    Ok((pepper, data_key))
}

fn decode_key(name: &str, value: &str) -> std::result::Result<[u8; KEY_LEN], String> {
    let bytes = BASE64
        .decode(value.trim())
        .map_err(|_| format!("`{name}` is not valid base64"))?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| format!("`{name}` must be {KEY_LEN} bytes, found {}", bytes.len()))
}

fn key_file_error(path: &Path, reason: String) -> StoreError {
    StoreError::KeyFile {
        path: path.to_path_buf(),
        reason,
    }
}

/// Write `contents` to a new file at `path` atomically: write and fsync a private temporary file in the same
/// directory, then hard-link it into place, which fails with `AlreadyExists` instead of replacing a file.
fn write_new_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)?;
        #[cfg(unix)]
        fs::File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    // The temporary name is ours alone; failing to remove it leaves a harmless file.
    let _ = fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> StoreKeys {
        StoreKeys::from_base64(&BASE64.encode([7u8; 32]), &BASE64.encode([9u8; 32])).unwrap()
    }

    #[test]
    fn hashes_are_keyed_and_domain_separated() {
        let keys = fixed();
        let other = StoreKeys::from_base64(&BASE64.encode([8u8; 32]), &BASE64.encode([9u8; 32])).unwrap();
        let a = keys.hash_license_key("ABCD-1234");
        assert_eq!(a, keys.hash_license_key("ABCD-1234"));
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a, other.hash_license_key("ABCD-1234"));
        assert_ne!(a.as_str(), keys.hash_hwid("ABCD-1234").as_str());
    }

    #[test]
    fn sealed_values_open_only_with_the_same_aad_and_key() {
        let keys = fixed();
        let sealed = keys.seal("t.c:1", b"secret body").unwrap();
        assert_eq!(sealed.len(), 12 + 11 + 16);
        assert!(!sealed.windows(11).any(|w| w == b"secret body"));
        assert_eq!(keys.open("body", "t.c:1", &sealed).unwrap(), b"secret body");
        assert_eq!(
            keys.open("body", "t.c:2", &sealed),
            Err(StoreError::Decrypt { what: "body" })
        );
        let mut tampered = sealed.clone();
        tampered[14] ^= 1;
        assert_eq!(
            keys.open("body", "t.c:1", &tampered),
            Err(StoreError::Decrypt { what: "body" })
        );
        assert_eq!(
            keys.open("body", "t.c:1", &sealed[..20]),
            Err(StoreError::Decrypt { what: "body" })
        );
        let other = StoreKeys::generate().unwrap();
        assert_eq!(
            other.open("body", "t.c:1", &sealed),
            Err(StoreError::Decrypt { what: "body" })
        );
        assert_ne!(
            keys.seal("t.c:1", b"x").unwrap(),
            keys.seal("t.c:1", b"x").unwrap()
        );
    }

    #[test]
    fn from_base64_checks_length_and_encoding() {
        assert_eq!(
            StoreKeys::from_base64(&BASE64.encode([1u8; 31]), &BASE64.encode([1u8; 32])).unwrap_err(),
            StoreError::InvalidKey {
                reason: "`pepper` must be 32 bytes, found 31".to_owned()
            }
        );
        assert_eq!(
            StoreKeys::from_base64(&BASE64.encode([1u8; 32]), "not base64!").unwrap_err(),
            StoreError::InvalidKey {
                reason: "`data_key` is not valid base64".to_owned()
            }
        );
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", fixed()),
            "StoreKeys { pepper: [redacted], data_key: [redacted] }"
        );
    }

    #[test]
    fn key_file_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db.keys");
        let first = StoreKeys::load_or_create(&path).unwrap();
        let second = StoreKeys::load_or_create(&path).unwrap();
        assert_eq!(first.hash_hwid("h"), second.hash_hwid("h"));
        let sealed = first.seal("a", b"v").unwrap();
        assert_eq!(second.open("v", "a", &sealed).unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn malformed_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db.keys");
        fs::write(&path, "pepper = AAAA\n").unwrap();
        let err = StoreKeys::load_or_create(&path).unwrap_err();
        assert_eq!(
            err,
            StoreError::KeyFile {
                path: path.clone(),
                reason: "`pepper` must be 32 bytes, found 3".to_owned()
            }
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "pepper = AAAA\n");
        fs::write(&path, format!("pepper = {}\n", BASE64.encode([1u8; 32]))).unwrap();
        assert_eq!(
            StoreKeys::load_or_create(&path).unwrap_err(),
            StoreError::KeyFile {
                path: path.clone(),
                reason: "`data_key` is missing".to_owned()
            }
        );
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_key_file_is_refused() {
        // A directory where the file should be cannot be read as a file, even as root.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db.keys");
        fs::create_dir(&path).unwrap();
        assert!(matches!(
            StoreKeys::load_or_create(&path),
            Err(StoreError::KeyFile { reason, .. }) if reason.starts_with("cannot read it")
        ));
    }
}
