//! Issue 18 item 11: libpq (and the OpenSSL it uses) are built from source into the binary, so a machine without
//! `libpq-dev` or `libssl-dev` builds and runs it. The test binary Cargo built links the same way as
//! `target/release/tollgate` (`ldd target/release/tollgate` is the same check by hand).

use std::process::Command;

#[test]
fn the_binary_needs_no_system_libpq_or_libssl() {
    let binary = env!("CARGO_BIN_EXE_tollgate");
    let out = Command::new("ldd").arg(binary).output().unwrap();
    let libraries = String::from_utf8_lossy(&out.stdout);
    eprintln!("hardening: ldd {binary}:\n{libraries}");
    assert!(
        out.status.success(),
        "ldd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for system_library in ["libpq", "libssl", "libcrypto"] {
        assert!(
            !libraries.contains(system_library),
            "links {system_library}:\n{libraries}"
        );
    }
}
