//! The machine's own faults, on real filesystems: a small tmpfs that fills
//! up, and one remounted read-only, under credentials that write there (a
//! Vault PKI pair in issue and in sign mode against a real OpenBao, an
//! x509 file written by its renew command) and under the history store. A
//! full disk or a read-only filesystem is a failure that is retried, never a
//! pause that waits for a person: each credential shows `failing` with what
//! to do, keeps its old pair whole and matching, leaves nothing half-written,
//! and renews by itself once the fault clears; the history written meanwhile
//! is not lost.
//!
//! Mounting needs root (CI runs as root); without it each test says so and
//! skips.

use std::path::Path;
use std::time::Duration;

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::bao::Bao;
use evergreen_tests::evergreen_bin;
use evergreen_tests::rig::{is, Rig};
use evergreen_tests::tmpfs::Tmpfs;

/// The demo CA `evergreen demo-renew --dir DIR` signs with.
fn demo_ca(dir: &Path) {
    let now = std::time::SystemTime::now();
    let ca =
        evergreen_core::pki::Ca::new("Test CA", now - Duration::from_secs(3600), Duration::from_secs(86_400)).unwrap();
    ca.save(&dir.join("demo-ca.pem"), &dir.join("demo-ca.key")).unwrap();
}

/// `web`, an x509 file in `dir` renewed by the demo CA's command there.
fn demo_renewed(dir: &Path) -> String {
    demo_ca(dir);
    format!(
        "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"{}\", \"demo-renew\", \"--dir\", \"{}\", \"--name\", \"web\", \"--lifetime\", \"1h\"]\n",
        dir.join("web.pem").display(),
        evergreen_bin().display(),
        dir.display()
    )
}

/// Mounts a tmpfs at `dir`, or says why the test skips.
fn tmpfs(dir: &Path, kib: u32) -> Option<Tmpfs> {
    match Tmpfs::mount(dir, kib) {
        Ok(t) => Some(t),
        Err(why) => {
            eprintln!("skipped: this test mounts a tmpfs, which needs root ({why})");
            None
        }
    }
}

fn pki_config(bao: &Bao, d: &Path, mode: &str) -> String {
    format!(
        "[[credential]]\nname = \"ws\"\nkind = \"vault_pki\"\naddress = \"{}\"\ntoken_file = \"{}\"\nrole = \"ws\"\ncommon_name = \"ws.example.test\"\nttl = \"1h\"\nmode = \"{mode}\"\npath = \"{}\"\nkey_path = \"{}\"\n",
        bao.addr,
        d.join("token").display(),
        d.join("disk/ws.pem").display(),
        d.join("disk/keys/ws.key").display(),
    )
}

fn openssl_pubkey(args: &[&str]) -> String {
    let out = std::process::Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pair_matches(cert: &Path, key: &Path) -> bool {
    openssl_pubkey(&["x509", "-in", &cert.display().to_string(), "-noout", "-pubkey"])
        == openssl_pubkey(&["pkey", "-in", &key.display().to_string(), "-pubout"])
}

/// The credential failed on the machine's fault: `failing`, not paused, and
/// the last result says what happened and what to do.
fn failing_with(rig: &Rig, name: &str, words: &str) {
    let st = rig.status(name);
    assert!(
        matches!(st.state, State::Failing { .. }),
        "{name} is {:?}, not failing (a machine's fault is retried)",
        st.state
    );
    let last = st.last_result.expect("a last result");
    assert!(!last.ok && last.message.contains(words), "{}", last.message);
}

/// A Vault PKI pair through a full disk and a read-only filesystem, in
/// `mode`: failing with what to do, the old pair whole, nothing left
/// behind, and renewed by itself when the fault clears.
async fn pki_pair_outlives_the_machines_faults(mode: &str) {
    let bao = Bao::dev();
    bao.pki("24h");
    let mut disk = None;
    let mut rig = Rig::start(|d| {
        bao.pki_token_file(&d.join("token"), "24h");
        disk = tmpfs(&d.join("disk"), 256);
        pki_config(&bao, d, mode)
    })
    .await;
    let Some(disk) = disk else {
        rig.stop().await;
        return;
    };
    let (cert, key) = (rig.path("disk/ws.pem"), rig.path("disk/keys/ws.key"));
    rig.wait("the first pair", Duration::from_secs(20), is("renewal_succeeded"))
        .await;
    assert!(pair_matches(&cert, &key));
    let mut files = disk.files();

    for (fault, words) in [
        ("full", "is full: free some space"),
        ("read-only", "read-only filesystem"),
    ] {
        let before = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        if fault == "full" {
            disk.fill();
        } else {
            disk.read_only(true);
        }
        let out = rig.engine().handle().renew("ws").await.unwrap();
        assert!(!out.ok, "{fault}: a renewal wrote on a {fault} disk");
        assert!(out.message.contains(words), "{fault}: {}", out.message);
        failing_with(&rig, "ws", words);
        assert_eq!(
            (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()),
            before,
            "{fault}: the old pair changed"
        );
        assert!(pair_matches(&cert, &key), "{fault}: the old pair does not match");
        assert_eq!(disk.files(), files, "{fault}: a failed write left something behind");
        // Certificate times have one-second resolution: a renewal in the
        // second of the last one would end at the same instant (capped).
        // OpenBao backdates not_before; the issue time is not_after less
        // the one-hour ttl.
        let issued = evergreen_core::x509::read_file(&cert)
            .unwrap()
            .leaf()
            .lifetime
            .not_after
            - Duration::from_secs(3600);
        evergreen_tests::env::wait_for("the next second", Duration::from_secs(5), || {
            std::time::SystemTime::now() >= issued + Duration::from_secs(1)
        });
        // The fault clears; nobody touches the credential.
        if fault == "full" {
            disk.free();
        } else {
            disk.read_only(false);
        }
        rig.wait(
            &format!("a renewal by itself once the disk is no longer {fault}"),
            Duration::from_secs(30),
            is("renewal_succeeded"),
        )
        .await;
        assert_ne!(std::fs::read(&cert).unwrap(), before.0, "{fault}: not renewed");
        assert!(pair_matches(&cert, &key), "{fault}: the new pair does not match");
        assert_eq!(rig.status("ws").state, State::Healthy);
        // A renewal keeps the pair it replaced (a generation, or `.bak`);
        // nothing else may be new: no temporary file, no generation past
        // the live one.
        let now = disk.files();
        assert!(!now.iter().any(|f| f.contains(".tmp-")), "{fault}: {now:?}");
        let live = std::fs::read_link(disk.dir.join(".ws.pem.pair/live")).unwrap();
        let newest = now
            .iter()
            .filter_map(|f| f.strip_prefix(".ws.pem.pair/g"))
            .filter(|n| !n.contains('/'))
            .max()
            .map(|n| format!("g{n}"));
        assert_eq!(
            newest.as_deref(),
            live.to_str(),
            "{fault}: a generation past the live one: {now:?}"
        );
        files = now;
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pki_pair_in_issue_mode_outlives_a_full_disk_and_a_read_only_filesystem() {
    pki_pair_outlives_the_machines_faults("issue").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pki_certificate_in_sign_mode_outlives_a_full_disk_and_a_read_only_filesystem() {
    pki_pair_outlives_the_machines_faults("sign").await;
}

/// An x509 file whose renew command writes onto a full disk: the command
/// fails, the credential retries, and renews by itself once there is space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renew_command_writing_to_a_full_disk_is_retried_until_there_is_space() {
    let mut disk = None;
    let mut rig = Rig::start(|d| {
        disk = tmpfs(&d.join("disk"), 256);
        let certs = d.join("disk");
        std::fs::create_dir_all(&certs).unwrap();
        demo_renewed(&certs)
    })
    .await;
    let Some(disk) = disk else {
        rig.stop().await;
        return;
    };
    // Not there yet: the command makes it.
    rig.wait(
        "the first certificate",
        Duration::from_secs(20),
        is("renewal_succeeded"),
    )
    .await;
    let cert = rig.path("disk/web.pem");
    let before = std::fs::read(&cert).unwrap();
    let files = disk.files();
    disk.fill();
    let out = rig.engine().handle().renew("web").await.unwrap();
    assert!(!out.ok, "{out:?}");
    assert!(matches!(rig.status("web").state, State::Failing { .. }));
    assert_eq!(std::fs::read(&cert).unwrap(), before);
    assert_eq!(disk.files(), files, "the failed command left something behind");
    disk.free();
    rig.wait("a renewal by itself", Duration::from_secs(30), is("renewal_succeeded"))
        .await;
    assert_ne!(std::fs::read(&cert).unwrap(), before);
    rig.stop().await;
}

/// The history store's disk fills up: renewals go on, the status says the
/// history is not being saved, and once there is space every renewal that
/// happened meanwhile is in the history, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_history_disk_loses_nothing_and_says_so_meanwhile() {
    let mut disk = None;
    let mut rig = Rig::start(|d| {
        disk = tmpfs(&d.join("data"), 1024);
        std::fs::create_dir_all(d.join("certs")).unwrap();
        demo_renewed(&d.join("certs"))
    })
    .await;
    let Some(disk) = disk else {
        rig.stop().await;
        return;
    };
    rig.wait(
        "the first certificate",
        Duration::from_secs(20),
        is("renewal_succeeded"),
    )
    .await;
    let control = rig.engine().control().clone();
    let store = rig.engine().store().clone();
    let renewals = || {
        store
            .history(Some("web"), 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.outcome.as_str() == "success")
            .count()
    };
    let saved_before = renewals();
    disk.fill();
    for i in 0..3 {
        let out = rig.engine().handle().renew("web").await.unwrap();
        assert!(out.ok, "renewal {i} while the history's disk is full: {out:?}");
    }
    let problem = control
        .snapshot()
        .store_problem
        .expect("the snapshot says the history is not saved");
    assert!(
        problem.contains("history is not being saved") && problem.contains("full"),
        "{problem}"
    );
    assert_eq!(renewals(), saved_before, "written on a full disk?");
    disk.free();
    // The next pass of the scheduler writes what waited.
    rig.engine().handle().reevaluate(None);
    evergreen_tests::env::wait_for("the history written", Duration::from_secs(20), || {
        store.problem().is_none()
    });
    assert_eq!(renewals(), saved_before + 3, "the renewals made meanwhile");
    let at: Vec<i64> = store
        .history(Some("web"), 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.at)
        .collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first, in order: {at:?}");
    assert!(control.snapshot().store_problem.is_none());
    assert!(!rig
        .seen
        .iter()
        .any(|e| matches!(e.kind, EventKind::StateChanged { ref to, .. } if to == "paused")));
    rig.stop().await;
}

/// wrenn's host credentials, refreshed onto a full disk: the control plane
/// rotated the refresh token, so the new credentials are the only copy. They
/// are kept in memory and used (heartbeats go on with the new token), the
/// old file stays whole, and they are written once there is space; never a
/// pause that asks for a new registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrenn_credentials_refreshed_onto_a_full_disk_are_kept_and_written_later() {
    use evergreen_sandbox::{Options, Sandbox};
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let mut disk = None;
    let mut rig = Rig::start(|d| {
        disk = tmpfs(&d.join("disk"), 256);
        std::fs::write(d.join("ca.pem"), sb.ca_pem()).unwrap();
        let t = sb.state.lock().wrenn.new_token();
        let _ = std::fs::create_dir_all(d.join("disk"));
        evergreen_tests::bao::write_secret(&d.join("disk/host.json.token"), &t);
        format!(
            "[[credential]]\nname = \"host\"\nkind = \"wrenn\"\nurl = \"{}\"\ncredentials_file = \"{}\"\nca_bundle = \"{}\"\nheartbeat_interval = \"1s\"\nhost_address = \"10.0.0.5:9000\"\n",
            sb.url,
            d.join("disk/host.json").display(),
            d.join("ca.pem").display()
        )
    })
    .await;
    let Some(disk) = disk else {
        rig.stop().await;
        return;
    };
    rig.wait("registration", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let file = rig.path("disk/host.json");
    let old = std::fs::read(&file).unwrap();
    let id = serde_json::from_slice::<serde_json::Value>(&old).unwrap()["host_id"]
        .as_str()
        .unwrap()
        .to_string();
    disk.fill();
    // The control plane refuses the host token: the next heartbeat refreshes.
    let hb = |sb: &Sandbox| sb.state.lock().wrenn.hosts[&id].heartbeats;
    sb.state.lock().wrenn.hosts.get_mut(&id).unwrap().jwt = "invalidated".into();
    let refreshed = sb.state.lock().wrenn.hosts[&id].refresh_token.clone();
    evergreen_tests::env::wait_for("the refresh", Duration::from_secs(10), || {
        sb.state.lock().wrenn.hosts[&id].refresh_token != refreshed
    });
    assert_eq!(std::fs::read(&file).unwrap(), old, "the file changed on a full disk");
    // Heartbeats go on with the new token, kept in memory.
    let before = hb(&sb);
    evergreen_tests::env::wait_for("a heartbeat with the new token", Duration::from_secs(10), || {
        hb(&sb) > before
    });
    assert!(
        !matches!(rig.status("host").state, State::Paused { .. }),
        "{:?}",
        rig.status("host").state
    );
    disk.free();
    evergreen_tests::env::wait_for("the new credentials written", Duration::from_secs(10), || {
        std::fs::read(&file).is_ok_and(|now| now != old)
    });
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        written["refresh_token"].as_str(),
        Some(sb.state.lock().wrenn.hosts[&id].refresh_token.as_str()),
        "the rotated refresh token reached the file"
    );
    rig.stop().await;
}
