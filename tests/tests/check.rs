//! `evergreen check`: the real binary against real and broken certificate files.
//!
//! Needs `cargo build -p evergreen-cli` first (see `evergreen_tests::evergreen_bin`),
//! and `openssl` on PATH plus Debian's ca-certificates for the cross-check.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use evergreen_core::clock;
use evergreen_core::pki::Ca;
use evergreen_tests::{evergreen, Run};
use serde_json::Value;

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

fn test_ca() -> Ca {
    Ca::new("Check Test CA", SystemTime::now() - 400 * DAY, 3650 * DAY).unwrap()
}

/// Writes a leaf for `cn` valid from `not_before` for `lifetime`; returns its not_after.
fn write_leaf(ca: &Ca, path: &Path, cn: &str, not_before: SystemTime, lifetime: Duration) -> SystemTime {
    let issued = ca.issue(cn, not_before, lifetime).unwrap();
    fs::write(path, issued.cert_pem).unwrap();
    not_before + lifetime
}

/// RFC 3339 as the JSON output writes it; the test certificates are all after 1970.
fn rfc3339(t: SystemTime) -> String {
    clock::rfc3339(t)
}

fn json(run: &Run) -> Vec<Value> {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("--json printed something that is not JSON ({e}):\n{}", run.stdout))
}

/// `--json` entries keyed by file name.
fn by_name(entries: &[Value]) -> HashMap<String, &Value> {
    entries
        .iter()
        .map(|e| {
            let path = Path::new(e["path"].as_str().unwrap());
            (path.file_name().unwrap().to_string_lossy().into_owned(), e)
        })
        .collect()
}

/// `notAfter=Jun  4 11:04:38 2035 GMT` → `2035-06-04T11:04:38Z`.
fn openssl_date_to_rfc3339(line: &str) -> String {
    let date = line
        .trim()
        .strip_prefix("notAfter=")
        .unwrap_or_else(|| panic!("unexpected openssl output {line:?}"));
    let parts: Vec<&str> = date.split_whitespace().collect();
    let [month, day, hms, year, "GMT"] = parts[..] else {
        panic!("unexpected openssl date {date:?}")
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .iter()
        .position(|m| *m == month)
        .unwrap_or_else(|| panic!("bad month in {date:?}"))
        + 1;
    let day: u32 = day.parse().unwrap();
    format!("{year}-{month:02}-{day:02}T{hms}Z")
}

fn openssl_not_after(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-in"])
        .arg(path)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    openssl_date_to_rfc3339(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn openssl_date_format_converts() {
    assert_eq!(
        openssl_date_to_rfc3339("notAfter=Jun  4 11:04:38 2035 GMT\n"),
        "2035-06-04T11:04:38Z"
    );
    assert_eq!(
        openssl_date_to_rfc3339("notAfter=Dec 31 23:59:59 9999 GMT"),
        "9999-12-31T23:59:59Z"
    );
}

#[test]
fn system_ca_certificates_agree_with_openssl() {
    let dir = Path::new("/etc/ssl/certs");
    assert!(
        dir.is_dir(),
        "{} is missing; install Debian's ca-certificates package",
        dir.display()
    );
    let run = evergreen(["check".as_ref(), "--json".as_ref(), dir.as_os_str()]);
    assert!([0, 1, 2].contains(&run.code), "{run:?}");
    let entries = json(&run);
    // The directory is mostly symlinks (NAME.pem and its hash links); the command
    // reports each file once, so match by the file a path resolves to.
    let reported: HashMap<PathBuf, &Value> = entries
        .iter()
        .map(|e| (fs::canonicalize(e["path"].as_str().unwrap()).unwrap(), e))
        .collect();

    let mut compared = 0;
    for item in fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.extension().is_none_or(|e| e != "pem") {
            continue;
        }
        let entry = reported
            .get(&fs::canonicalize(&path).unwrap())
            .unwrap_or_else(|| panic!("{} was not reported", path.display()));
        assert_eq!(entry["ok"], true, "{} failed: {}", path.display(), entry["error"]);
        assert_eq!(
            entry["not_after"].as_str().unwrap(),
            openssl_not_after(&path),
            "not_after of {} disagrees with openssl",
            path.display()
        );
        compared += 1;
    }
    assert!(
        compared >= 100,
        "only {compared} certificates in {} were compared",
        dir.display()
    );
}

#[test]
fn bad_files_are_reported_and_the_rest_still_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = test_ca();
    let now = SystemTime::now();

    let valid_not_after = write_leaf(&ca, &dir.join("valid.pem"), "valid.test", now - HOUR, 90 * DAY);
    let good = ca.issue("good.test", now - HOUR, 60 * DAY).unwrap();
    let der = evergreen_core::x509::parse(good.cert_pem.as_bytes()).unwrap().der_leaf;
    fs::write(dir.join("leaf.der"), der).unwrap();
    let other_root = Ca::new("Other Root", now - DAY, 365 * DAY).unwrap();
    let chain = format!("{}{}{}", good.cert_pem, ca.cert_pem(), other_root.cert_pem());
    fs::write(dir.join("chain.pem"), chain).unwrap();

    let pem = ca.issue("cut.test", now, DAY).unwrap().cert_pem;
    fs::write(dir.join("truncated.pem"), &pem[..pem.len() / 2]).unwrap();
    // Deterministic noise that is neither PEM nor DER.
    let garbage: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(dir.join("garbage.crt"), garbage).unwrap();
    fs::write(dir.join("empty.pem"), "").unwrap();
    fs::write(dir.join("server.crt"), &good.key_pem).unwrap();
    fs::write(dir.join("inverted.pem"), inverted_cert_pem()).unwrap();
    // Not certificates and not claiming to be: skipped without a word.
    fs::write(dir.join("privkey.pem"), &good.key_pem).unwrap();
    fs::write(dir.join("README"), "the certificates for the test bench\n").unwrap();

    let run = evergreen(["check".as_ref(), "--json".as_ref(), dir.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    let entries = json(&run);
    let files = by_name(&entries);
    let mut names: Vec<&str> = files.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "chain.pem",
            "empty.pem",
            "garbage.crt",
            "inverted.pem",
            "leaf.der",
            "server.crt",
            "truncated.pem",
            "valid.pem"
        ]
    );
    let paths: Vec<&str> = entries.iter().map(|e| e["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "entries are sorted by path");

    let expect_error = |name: &str, words: &[&str]| {
        let e = files[name];
        assert_eq!(e["ok"], false, "{name}: {e}");
        assert_eq!(e["state"], "error", "{name}: {e}");
        let msg = e["error"].as_str().unwrap();
        assert!(
            words.iter().any(|w| msg.contains(w)),
            "{name}: {msg:?} says none of {words:?}"
        );
    };
    expect_error("empty.pem", &["empty"]);
    expect_error("truncated.pem", &["truncated", "base64"]);
    expect_error("garbage.crt", &["not a PEM or DER certificate"]);
    expect_error("server.crt", &["PRIVATE KEY"]);
    expect_error("inverted.pem", &["inverted"]);

    let valid = files["valid.pem"];
    assert_eq!(valid["ok"], true);
    assert!(valid.get("error").is_none(), "no error key on success: {valid}");
    assert_eq!(valid["state"], "ok");
    assert_eq!(valid["not_after"], rfc3339(valid_not_after));
    assert_eq!(valid["subject"], "CN=valid.test");
    assert_eq!(valid["sans"], serde_json::json!(["DNS:valid.test"]));
    assert_eq!(valid["chain_len"], 1);
    let fraction = valid["remaining_fraction"].as_f64().unwrap();
    assert!(fraction > 0.99 && fraction <= 1.0, "{fraction}");
    let left = valid["seconds_left"].as_i64().unwrap();
    assert!((left - (90 * DAY - HOUR).as_secs() as i64).abs() < 120, "{left}");
    for key in ["issuer", "serial", "sha256", "not_before"] {
        assert!(
            valid[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} missing: {valid}"
        );
    }

    let chain = files["chain.pem"];
    assert_eq!(chain["chain_len"], 3);
    assert_eq!(chain["subject"], "CN=good.test", "the leaf is the first certificate");
    let der = files["leaf.der"];
    assert_eq!(der["ok"], true, "{der}");
    assert_eq!(der["not_after"], chain["not_after"]);
    assert_eq!(der["sha256"], chain["sha256"], "same leaf, PEM or DER");

    // The table says the same, one `error: PATH: reason` line per bad file.
    let run = evergreen(["check".as_ref(), dir.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    for (name, word) in [
        ("empty.pem", "empty"),
        ("garbage.crt", "not a PEM or DER"),
        ("server.crt", "PRIVATE KEY"),
        ("inverted.pem", "inverted"),
        ("truncated.pem", "truncated"),
    ] {
        let prefix = format!("error: {}: ", dir.join(name).display());
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no error line for {name}:\n{}", run.stdout));
        assert!(line.contains(word), "{line}");
    }
    assert!(run.stdout.contains("valid.test"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("3 certificates: 3 ok; 5 files unreadable (2 other files skipped: not certificates)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("hint: fix or replace the files marked error above"),
        "{}",
        run.stdout
    );
}

/// A self-signed certificate whose not_before is after its not_after.
fn inverted_cert_pem() -> String {
    let mut params = rcgen::CertificateParams::new(vec!["inverted.test".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2030, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn a_key_named_as_the_certificate_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.pem");
    fs::write(&key, test_ca().issue("k.test", SystemTime::now(), DAY).unwrap().key_pem).unwrap();
    let run = evergreen(["check".as_ref(), key.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("error: {}: ", key.display())),
        "{}",
        run.stdout
    );
    assert!(line.contains("PRIVATE KEY") && line.contains("not the key"), "{line}");
}

#[test]
fn a_missing_path_is_an_error_and_the_others_are_still_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.pem");
    write_leaf(&test_ca(), &good, "good.test", SystemTime::now(), 30 * DAY);
    let missing = tmp.path().join("nope.pem");
    let run = evergreen([
        "check".as_ref(),
        "--json".as_ref(),
        missing.as_os_str(),
        good.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    let entries = json(&run);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["path"], good.to_str().unwrap());
    assert_eq!(entries[0]["state"], "ok");
    assert_eq!(entries[1]["path"], missing.to_str().unwrap());
    assert!(
        entries[1]["error"].as_str().unwrap().contains("does not exist"),
        "{}",
        entries[1]
    );
}

fn check_one(args: &[&str], path: &Path) -> (i32, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["check".as_ref(), "--json".as_ref()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.push(path.as_os_str());
    let run = evergreen(all);
    let entries = json(&run);
    assert_eq!(entries.len(), 1, "{run:?}");
    (run.code, entries[0]["state"].as_str().unwrap().to_string())
}

#[test]
fn exit_codes_follow_the_worst_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = test_ca();
    let now = SystemTime::now();
    let cert = |name: &str, not_before: SystemTime, lifetime: Duration| {
        let path = tmp.path().join(name);
        write_leaf(&ca, &path, name, not_before, lifetime);
        path
    };
    let fresh = cert("fresh.pem", now - HOUR, 90 * DAY);
    let tenth_left = cert("tenth.pem", now - 90 * DAY, 100 * DAY);
    // 10 days left out of 12: far from the renewal point, but within a 30-day warning.
    let ten_days = cert("ten-days.pem", now - 2 * DAY, 12 * DAY);
    let expired = cert("expired.pem", now - 10 * DAY, DAY);

    assert_eq!(check_one(&[], &fresh), (0, "ok".into()));
    assert_eq!(check_one(&[], &tenth_left), (1, "due".into()));
    assert_eq!(check_one(&[], &ten_days), (0, "ok".into()));
    assert_eq!(check_one(&["--warn", "30d"], &ten_days), (1, "warn".into()));
    assert_eq!(check_one(&["--warn", "5d"], &ten_days), (0, "ok".into()));
    assert_eq!(check_one(&[], &expired), (2, "expired".into()));

    // Expired (2) wins over due (1) in one run; the table is sorted and summarised.
    let run = evergreen([
        "check".as_ref(),
        "--warn".as_ref(),
        "30d".as_ref(),
        tenth_left.as_os_str(),
        expired.as_os_str(),
        ten_days.as_os_str(),
        fresh.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("PATH") && lines[0].ends_with("STATE"),
        "{}",
        run.stdout
    );
    let order: Vec<&str> = lines[1..5]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let expected: Vec<String> = ["expired.pem", "fresh.pem", "ten-days.pem", "tenth.pem"]
        .iter()
        .map(|n| tmp.path().join(n).display().to_string())
        .collect();
    assert_eq!(order, expected);
    assert!(
        lines[1].contains("expired 9d ago") && lines[1].ends_with("expired"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].contains("10%") && lines[4].contains("in 9d 23h") && lines[4].ends_with("due"),
        "{}",
        lines[4]
    );
    assert!(
        run.stdout
            .contains("4 certificates: 1 ok, 1 due for renewal, 1 within 30d, 1 expired\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("hint: renew them, or let Evergreen do it"),
        "{}",
        run.stdout
    );
}

#[test]
fn symlinks_are_followed_to_files_but_not_into_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_leaf(
        &test_ca(),
        &dir.join("real.pem"),
        "real.test",
        SystemTime::now(),
        30 * DAY,
    );
    std::os::unix::fs::symlink("real.pem", dir.join("alias.pem")).unwrap();
    std::os::unix::fs::symlink("real.pem", dir.join("1a2b3c4d.0")).unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("real.pem"), dir.join("sub/far.crt")).unwrap();

    let run = evergreen(["check".as_ref(), "--json".as_ref(), dir.as_os_str()]);
    assert_eq!(run.code, 0, "{run:?}");
    let entries = json(&run);
    assert_eq!(entries.len(), 1, "one file, however many names: {}", run.stdout);
    assert_eq!(entries[0]["path"], dir.join("real.pem").to_str().unwrap());

    // Named on the command line, the name given is the one reported.
    let alias = dir.join("alias.pem");
    let run = evergreen(["check".as_ref(), "--json".as_ref(), dir.as_os_str(), alias.as_os_str()]);
    let entries = json(&run);
    assert_eq!(entries.len(), 1, "{}", run.stdout);
    assert_eq!(entries[0]["path"], alias.to_str().unwrap());
}

#[test]
fn certificates_from_before_1970_do_not_crash_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["old.test".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(1960, 1, 1);
    params.not_after = rcgen::date_time_ymd(1965, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let path = tmp.path().join("old.pem");
    fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();

    let run = evergreen(["check".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    let entries = json(&run);
    assert_eq!(entries[0]["state"], "expired");
    assert_eq!(entries[0]["not_before"], "1960-01-01T00:00:00Z");
    assert_eq!(entries[0]["not_after"], "1965-01-01T00:00:00Z");
    let run = evergreen(["check".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("1965-01-01T00:00:00Z"), "{}", run.stdout);
}
