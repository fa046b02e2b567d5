//! `ui/src/bindings.ts` is generated from the Rust types the UI sees; this
//! fails when the checked-in file no longer matches them. `make bindings`
//! (UPDATE_BINDINGS=1) rewrites it.

#[test]
fn typescript_bindings_match_the_rust_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let want = evergreen_app::models::typescript_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/bindings.ts is stale: the Rust types changed. Run `make bindings` and commit the result."
    );
}
