//! The fixtures copied from `shared/fixtures/` are the same bytes as the shared originals, when those are
//! present beside the repo (`../shared` from the repo root). The tests read the copies, so they run without it.

use crate::common;

use std::path::PathBuf;

#[test]
fn copies_match_the_shared_fixtures() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    if !shared.is_dir() {
        eprintln!("{} is absent: nothing to compare", shared.display());
        return;
    }
    let mut compared = 0;
    for provider in ["whop", "dodo", "aghanim"] {
        for entry in std::fs::read_dir(shared.join(provider)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{provider}/{}", path.file_name().unwrap().to_string_lossy());
            assert_eq!(std::fs::read(&path).unwrap(), common::fixture(&name), "{name}");
            compared += 1;
        }
    }
    assert_eq!(compared, 11);
}
