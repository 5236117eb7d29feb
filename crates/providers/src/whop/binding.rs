//! Tollgate's device binding, mirrored into a Whop membership's `metadata`, and what older bindings there mean.
//!
//! Tollgate's database is the authority on devices; the metadata is a mirror, written after Tollgate admits a
//! device, so the vendor's Whop dashboard shows the key as in use and Whop's own "Reset Key" button (which clears the
//! metadata) means something. The mirror holds no hwid: under [`BINDING_KEY`] it keeps one short tag per device,
//! `SHA-256("tollgate/whop-binding/v1" ‖ membership id ‖ the device's keyed hash)`, first 16 hex digits: a keyed
//! hash (the keyed hash needs the server's pepper), salted per membership so tags cannot be linked across keys.
//!
//! Whop's limits (docs: 50 keys, keys up to 100 characters, string values up to 500) hold: the value keeps the
//! newest tags that fit, and a metadata object already holding 50 other keys is left alone (the write is refused
//! here, logged by the caller, and nothing is lost: the database still holds the devices).

use ring::digest::{SHA256, digest};
use serde_json::{Map, Value};

/// The metadata key of Tollgate's binding.
pub const BINDING_KEY: &str = "tollgate_devices";
/// The metadata key Tollgate's v2-era releases bound under (`{"hwid": <keyed hash>}`).
const V2_KEY: &str = "hwid";
/// Whop's documented metadata limits.
pub const MAX_KEYS: usize = 50;
pub const MAX_VALUE_LEN: usize = 500;
/// The length of one device tag (hex digits).
const TAG_LEN: usize = 16;

/// The tag of one device in one membership's binding.
pub fn device_tag(membership_id: &str, hwid_hash: &str) -> String {
    let mut input = Vec::with_capacity(64 + membership_id.len() + hwid_hash.len());
    for part in [
        b"tollgate/whop-binding/v1".as_slice(),
        membership_id.as_bytes(),
        hwid_hash.as_bytes(),
    ] {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part);
    }
    let mut tag = hex_of(digest(&SHA256, &input).as_ref());
    tag.truncate(TAG_LEN);
    tag
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What Tollgate knows when it reads a membership's metadata.
#[derive(Debug, Clone, Copy)]
pub struct BindingCheck<'a> {
    pub membership_id: &'a str,
    /// The keyed hashes of the devices Tollgate holds for this license, and of the device asking now.
    pub known_hashes: &'a [&'a str],
    /// The raw hwid the app sent (compared with an older integration's raw binding, never stored).
    pub hwid: &'a str,
    /// The metadata keys older integrations bound a raw hwid under (`HWID`, `hwid`).
    pub legacy_keys: &'a [String],
}

/// What a membership's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// Tollgate's own binding: the current key (its tags), or a v2-era `{"hwid": <keyed hash>}` of a device Tollgate
    /// knows.
    Tollgate { tags: Vec<String> },
    /// No binding at all.
    Unbound,
    /// A raw hwid bound by an older integration, under `key`: this device's (`same_device`) or another's.
    Legacy { key: String, same_device: bool },
}

impl Binding {
    /// Read `metadata` (see the module docs for the order).
    pub fn read(metadata: &Map<String, Value>, check: &BindingCheck<'_>) -> Binding {
        if let Some(value) = metadata.get(BINDING_KEY) {
            let tags = value.as_str().map(parse_tags).unwrap_or_default();
            return Binding::Tollgate { tags };
        }
        if is_own_v2(metadata, check.known_hashes) {
            return Binding::Tollgate { tags: Vec::new() };
        }
        for key in check.legacy_keys {
            let Some(raw) = metadata.get(key.as_str()).and_then(Value::as_str) else {
                continue;
            };
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            return Binding::Legacy {
                key: key.clone(),
                same_device: raw == check.hwid.trim(),
            };
        }
        Binding::Unbound
    }

    /// Whether Tollgate's binding is there.
    pub fn is_tollgate(&self) -> bool {
        matches!(self, Binding::Tollgate { .. })
    }
}

/// A v2-era Tollgate binding: `hwid` holding the keyed hash of a device Tollgate knows.
fn is_own_v2(metadata: &Map<String, Value>, known_hashes: &[&str]) -> bool {
    metadata
        .get(V2_KEY)
        .and_then(Value::as_str)
        .is_some_and(|value| known_hashes.contains(&value))
}

fn parse_tags(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Why the binding cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorRefused {
    /// The metadata already holds Whop's maximum number of keys, none of them Tollgate's.
    TooManyKeys,
}

/// The metadata to send so the membership ends with exactly these devices bound (tags of `device_hashes`, oldest
/// first), keeping every other key: a v2-era Tollgate `hwid` of a known device is blanked (`""`: it would otherwise
/// outlive a device reset under merge semantics). Older integrations' keys are left as they are.
pub fn desired_metadata(
    existing: &Map<String, Value>,
    membership_id: &str,
    device_hashes: &[&str],
    known_hashes: &[&str],
) -> Result<Map<String, Value>, MirrorRefused> {
    let mut metadata = existing.clone();
    if !metadata.contains_key(BINDING_KEY) && metadata.len() >= MAX_KEYS {
        return Err(MirrorRefused::TooManyKeys);
    }
    if is_own_v2(existing, known_hashes) {
        metadata.insert(V2_KEY.to_owned(), Value::String(String::new()));
    }
    let tags: Vec<String> = device_hashes
        .iter()
        .map(|hash| device_tag(membership_id, hash))
        .collect();
    metadata.insert(BINDING_KEY.to_owned(), Value::String(newest_that_fit(&tags)));
    Ok(metadata)
}

/// The tags joined by commas, dropping the oldest until the value fits Whop's limit.
fn newest_that_fit(tags: &[String]) -> String {
    let mut start = 0;
    loop {
        let joined = tags[start..].join(",");
        if joined.len() <= MAX_VALUE_LEN || start + 1 >= tags.len() {
            return joined;
        }
        start += 1;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    const HASH_A: &str = "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11";
    const HASH_B: &str = "bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22";

    fn check<'a>(known: &'a [&'a str], hwid: &'a str, legacy: &'a [String]) -> BindingCheck<'a> {
        BindingCheck {
            membership_id: "mem_1",
            known_hashes: known,
            hwid,
            legacy_keys: legacy,
        }
    }

    #[test]
    fn tags_are_short_salted_per_membership_and_reveal_no_hash() {
        let tag = device_tag("mem_1", HASH_A);
        assert_eq!(tag.len(), 16);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(tag, device_tag("mem_1", HASH_A));
        assert_ne!(tag, device_tag("mem_2", HASH_A));
        assert_ne!(tag, device_tag("mem_1", HASH_B));
        assert!(!HASH_A.contains(&tag));
    }

    #[test]
    fn reads_each_kind_of_binding() {
        let legacy = vec!["HWID".to_owned(), "hwid".to_owned()];
        let known = [HASH_A];
        let read = |m: Value, hwid: &str| Binding::read(&map(m), &check(&known, hwid, &legacy));
        assert_eq!(
            read(
                json!({"tollgate_devices": "0123456789abcdef,fedcba9876543210", "note": "x"}),
                "raw"
            ),
            Binding::Tollgate {
                tags: vec!["0123456789abcdef".to_owned(), "fedcba9876543210".to_owned()]
            }
        );
        assert_eq!(
            read(json!({"tollgate_devices": ""}), "raw"),
            Binding::Tollgate { tags: vec![] }
        );
        assert_eq!(
            read(json!({"hwid": HASH_A}), "raw"),
            Binding::Tollgate { tags: vec![] }
        );
        assert_eq!(read(json!({}), "raw"), Binding::Unbound);
        assert_eq!(read(json!({"HWID": ""}), "raw"), Binding::Unbound);
        assert_eq!(
            read(json!({"HWID": "MACHINE-1"}), "MACHINE-1"),
            Binding::Legacy {
                key: "HWID".to_owned(),
                same_device: true
            }
        );
        assert_eq!(
            read(json!({"hwid": "MACHINE-2"}), "MACHINE-1"),
            Binding::Legacy {
                key: "hwid".to_owned(),
                same_device: false
            }
        );
        // A 64-hex `hwid` that is no device Tollgate knows is an older integration's raw id.
        assert_eq!(
            read(json!({"hwid": HASH_B}), "raw"),
            Binding::Legacy {
                key: "hwid".to_owned(),
                same_device: false
            }
        );
        // Legacy key names are configurable: with none, a raw binding is ignored.
        assert_eq!(
            Binding::read(&map(json!({"HWID": "M"})), &check(&known, "X", &[])),
            Binding::Unbound
        );
    }

    #[test]
    fn desired_metadata_keeps_other_keys_and_blanks_the_v2_binding() {
        let existing = map(json!({"note": "vip", "HWID": "RAW", "hwid": HASH_A}));
        let desired = desired_metadata(&existing, "mem_1", &[HASH_A, HASH_B], &[HASH_A]).unwrap();
        assert_eq!(desired["note"], json!("vip"));
        assert_eq!(desired["HWID"], json!("RAW"));
        assert_eq!(desired["hwid"], json!(""));
        assert_eq!(
            desired[BINDING_KEY],
            json!(format!(
                "{},{}",
                device_tag("mem_1", HASH_A),
                device_tag("mem_1", HASH_B)
            ))
        );
        let none = desired_metadata(&map(json!({"tollgate_devices": "x"})), "mem_1", &[], &[]).unwrap();
        assert_eq!(none[BINDING_KEY], json!(""));
    }

    #[test]
    fn the_limits_hold() {
        let full: Map<String, Value> = (0..MAX_KEYS).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            desired_metadata(&full, "mem_1", &[HASH_A], &[]),
            Err(MirrorRefused::TooManyKeys)
        );
        let mut ours = full.clone();
        ours.remove("k0");
        ours.insert(BINDING_KEY.to_owned(), json!(""));
        assert!(desired_metadata(&ours, "mem_1", &[HASH_A], &[]).is_ok());
        let hashes: Vec<String> = (0..40).map(|i| format!("{i:064x}")).collect();
        let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let desired = desired_metadata(&Map::new(), "mem_1", &refs, &[]).unwrap();
        let value = desired[BINDING_KEY].as_str().unwrap();
        assert!(value.len() <= MAX_VALUE_LEN);
        assert!(
            value.ends_with(&device_tag("mem_1", refs[39])),
            "the newest is kept"
        );
        assert!(
            !value.contains(&device_tag("mem_1", refs[0])),
            "the oldest is dropped"
        );
    }
}
