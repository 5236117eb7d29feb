//! The configuration loader (`Settings::load_from(ConfigFile::Explicit(..), no environment)`) on arbitrary file
//! contents, written to a temp file as an operator's `tollgate.toml` would be.
//!
//! Oracles, besides "never panics": an error names a configuration key (its first segment is one of the top-level
//! sections; or, for a top-level key that does not exist, the message quotes it: "unknown field `x`, expected one
//! of ...") or the file (a TOML syntax error: "... in <path relative to the working directory>"); settings that load
//! pass `validate()` again and give a listen address.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::settings::{ConfigFile, Settings};

/// The top-level sections of `tollgate.toml` (as `settings.rs` lists them).
const SECTIONS: [&str; 10] = [
    "listen",
    "database",
    "admin",
    "service",
    "webhooks",
    "providers",
    "rate_limit",
    "reconcile",
    "policy",
    "lease",
];

/// One file per fuzzing process, rewritten for each input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("tollgate-fuzz-config-{}.toml", std::process::id()))
    })
}

fn names_a_key(key: &str) -> bool {
    let first = key.split(['.', '[']).next().unwrap_or_default();
    SECTIONS.contains(&first)
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).unwrap();
    match Settings::load_from(ConfigFile::Explicit(path), std::iter::empty()) {
        Ok(settings) => {
            assert_eq!(settings.validate(), Ok(()));
            assert!(settings.listen_addr().is_ok());
        }
        Err(e) => {
            let file = path.file_name().unwrap().to_string_lossy();
            let names_the_file = e.key.contains(&*file) || e.message.contains(&*file);
            let names_an_unknown_key = e.message.starts_with("unknown field `");
            assert!(
                names_a_key(&e.key) || names_the_file || names_an_unknown_key,
                "the error names neither a key nor the file: key {:?}, message {:?}",
                e.key,
                e.message
            );
            let _ = e.to_string();
        }
    }
});
