//! Replays every fuzz seed and every input a fuzzer once crashed on through
//! the same entry points the fuzz targets use (`crates/fuzz`), so a fixed
//! crash stays fixed without a fuzzer in the loop.

use std::path::Path;

use evergreen_core::fuzzing::TARGETS;

#[test]
fn every_seed_and_every_crash_found_is_handled_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        let mut seeds = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(dir) = std::fs::read_dir(root.join(kind).join(name)) else {
                continue;
            };
            for entry in dir.flatten() {
                let bytes = std::fs::read(entry.path()).unwrap();
                if kind == "seeds" {
                    seeds += 1;
                }
                if std::panic::catch_unwind(|| target(&bytes)).is_err() {
                    failed.push(entry.path().display().to_string());
                }
            }
        }
        assert!(seeds > 0, "the {name} target has no seeds in crates/fuzz/seeds/{name}");
    }
    assert!(failed.is_empty(), "panicked on: {failed:#?}");
}
