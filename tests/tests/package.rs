//! The Debian package of the build under test (`make test` packs its debug
//! build with `scripts/deb.sh debug`; `make deb` packs the release build),
//! unpacked into a temporary root with `dpkg-deb -x`: every file a user
//! expects where Debian puts it, a desktop entry that `desktop-file-validate`
//! accepts, a unit that `systemd-analyze verify` accepts, dependencies
//! computed from the binaries, and an `evergreen` that runs from there.
//! Beside it, `make install` and `make uninstall` into a scratch PREFIX.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The package of the build these tests belong to: `make test` packs its
/// debug build into target/debian-debug, `make deb` the release build into
/// target/debian.
fn the_deb() -> PathBuf {
    let profile = evergreen_tests::evergreen_bin();
    let debug = profile
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "debug");
    let dir = root().join(if debug { "target/debian-debug" } else { "target/debian" });
    let debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    debs.into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("evergreen_{version}-")))
        })
        .unwrap_or_else(|| {
            panic!(
                "no evergreen_{version}-*.deb in {}; run `scripts/deb.sh debug` (`make test` does) or `make deb`",
                dir.display()
            )
        })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_deb_holds_what_a_user_expects_and_runs_unpacked() {
    let deb = the_deb();
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(r));

    for f in [
        "usr/bin/evergreen",
        "usr/bin/evergreen-app",
        "usr/share/applications/evergreen.desktop",
        "usr/lib/systemd/user/evergreen.service",
        "usr/share/man/man1/evergreen.1",
        "usr/share/man/man1/evergreen-run.1",
        "usr/share/man/man1/evergreen-metrics.1",
        "usr/share/bash-completion/completions/evergreen",
        "usr/share/zsh/vendor-completions/_evergreen",
        "usr/share/fish/vendor_completions.d/evergreen.fish",
        "usr/share/icons/hicolor/scalable/apps/evergreen.svg",
        "usr/share/icons/hicolor/symbolic/apps/evergreen-symbolic.svg",
        "usr/share/doc/evergreen/examples/config.toml",
        "usr/share/doc/evergreen/copyright",
    ] {
        assert!(r.join(f).is_file(), "{f} is not in the package");
    }
    for size in [16, 22, 24, 32, 48, 64, 128, 256] {
        let f = format!("usr/share/icons/hicolor/{size}x{size}/apps/evergreen.png");
        assert!(r.join(&f).is_file(), "{f} is not in the package");
    }
    for state in ["healthy", "attention", "failing", "stopped"] {
        let f = format!("usr/share/icons/hicolor/symbolic/apps/evergreen-{state}-symbolic.svg");
        assert!(r.join(&f).is_file(), "{f} is not in the package");
    }
    let license = std::fs::read_to_string(r.join("usr/share/doc/evergreen/copyright")).unwrap();
    assert!(license.contains("Apache License"), "the license Cargo.toml declares");

    // The launcher entry, as a distribution checks it.
    let desktop = r.join("usr/share/applications/evergreen.desktop");
    validate_desktop(&desktop);
    let entry = std::fs::read_to_string(&desktop).unwrap();
    assert!(
        entry.contains("Exec=/usr/bin/evergreen-app") && entry.contains("Icon=evergreen"),
        "{entry}"
    );

    // The unit, with its ExecStart pointed into the unpacked root.
    let unit = std::fs::read_to_string(r.join("usr/lib/systemd/user/evergreen.service")).unwrap();
    assert!(
        unit.contains("Type=notify") && unit.contains("ExecStart=/usr/bin/evergreen run"),
        "{unit}"
    );
    let local = r.join("evergreen.service");
    std::fs::write(&local, unit.replace("/usr/bin/", &format!("{}/usr/bin/", r.display()))).unwrap();
    verify_unit(&local);

    // Dependencies computed from what the binaries link.
    let control = run(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Depends"));
    for lib in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libc6",
        "libayatana-appindicator3-1",
    ] {
        assert!(control.contains(lib), "Depends lacks {lib}: {control}");
    }

    // The unpacked binary runs, and knows its version.
    let version = run(Command::new(r.join("usr/bin/evergreen")).arg("--version"));
    assert_eq!(version.trim(), format!("evergreen {}", env!("CARGO_PKG_VERSION")));
    let man = std::fs::read_to_string(r.join("usr/share/man/man1/evergreen.1")).unwrap();
    assert!(man.contains("Exit status"), "the man page lists the exit statuses");
}

#[test]
fn make_install_puts_the_same_files_under_prefix_and_uninstall_takes_them_away() {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path().join("local");
    let from = evergreen_tests::evergreen_bin().parent().unwrap().to_path_buf();
    if !from.join("evergreen-app").is_file() {
        panic!(
            "{} is not built; `make test` builds it (cargo build --workspace)",
            from.join("evergreen-app").display()
        );
    }
    let script = root().join("scripts/install.sh");
    let out = run(Command::new(&script).arg("install").arg(&p).arg(&from));
    assert!(out.contains("systemctl --user enable --now evergreen"), "{out}");
    for f in [
        "bin/evergreen",
        "bin/evergreen-app",
        "share/applications/evergreen.desktop",
        "share/systemd/user/evergreen.service",
        "share/man/man1/evergreen.1",
        "share/bash-completion/completions/evergreen",
        "share/icons/hicolor/48x48/apps/evergreen.png",
        "share/doc/evergreen/examples/config.toml",
    ] {
        assert!(p.join(f).is_file(), "{f} was not installed");
    }
    // Pointed at this PREFIX, not at /usr.
    let unit = std::fs::read_to_string(p.join("share/systemd/user/evergreen.service")).unwrap();
    assert!(
        unit.contains(&format!("ExecStart={}/bin/evergreen run", p.display())),
        "{unit}"
    );
    validate_desktop(&p.join("share/applications/evergreen.desktop"));
    verify_unit(&p.join("share/systemd/user/evergreen.service"));
    let version = run(Command::new(p.join("bin/evergreen")).arg("--version"));
    assert!(version.starts_with("evergreen "), "{version}");

    // Something of the user's own beside it stays.
    std::fs::write(p.join("share/applications/mine.desktop"), "[Desktop Entry]\n").unwrap();
    run(Command::new(&script).arg("uninstall").arg(&p).arg(&from));
    let left: Vec<PathBuf> = walk(&p);
    assert_eq!(
        left,
        vec![p.join("share/applications/mine.desktop")],
        "uninstall left or took more"
    );
    let again = Command::new(&script).arg("uninstall").arg(&p).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to uninstall"));
}

/// `systemd-analyze verify` exits 0 even for a line it ignores: anything it says counts.
fn verify_unit(unit: &Path) {
    let said = run(Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(unit));
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify {}:\n{said}",
        unit.display()
    );
}

/// Clean means no errors, and no hints either.
fn validate_desktop(entry: &Path) {
    let said = run(Command::new("desktop-file-validate").arg(entry));
    assert!(
        said.trim().is_empty(),
        "desktop-file-validate {}:\n{said}",
        entry.display()
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
