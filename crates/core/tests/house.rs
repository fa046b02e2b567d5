//! House rules a refactor must keep, checked on the source itself.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code before its `#[cfg(test)]` module: what ships.
fn shipped(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Wall-clock time comes from the injected clock, so tests can move it:
/// only `clock.rs` (the real clock) and the fuzzing entry points read it.
#[test]
fn only_the_clock_reads_the_wall_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "{files:?}");
    let mut offenders = Vec::new();
    for f in files {
        let name = f.strip_prefix(&src).unwrap().display().to_string();
        if name == "clock.rs" || name == "fuzzing.rs" {
            continue;
        }
        for (i, line) in shipped(&f).lines().enumerate() {
            if line.contains("SystemTime::now()") && !line.trim_start().starts_with("//") {
                offenders.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read the time from the scheduler's clock (RenewRequest::now, Source::beat's now) instead:\n{}",
        offenders.join("\n")
    );
}
