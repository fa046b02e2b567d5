//! `evergreen discover` on a machine prepared the way other tools leave it
//! (`evergreen_tests::machine`, with a real `gpg` key and a ticket from a
//! real MIT KDC): each credential found with the expiry its tool wrote, no
//! secret in anything printed, `--add-all` a config `evergreen config check`
//! accepts, and the engine watching all of it.

use std::process::Command;
use std::time::{Duration, SystemTime};

use evergreen_tests::env::{wait_for, Env};
use evergreen_tests::kdc::{Kdc, USER};
use evergreen_tests::machine::{stop_gpg_agent, Machine};
use serde_json::Value;

/// Variables that would point discovery at the test machine's own files.
const THEIRS: &[&str] = &[
    "GNUPGHOME",
    "KUBECONFIG",
    "AWS_CONFIG_FILE",
    "VAULT_ADDR",
    "BAO_ADDR",
    "KRB5CCNAME",
];

fn cmd(env: &Env, home: &std::path::Path, cache: &str) -> Command {
    let mut c = env.cmd();
    for v in THEIRS {
        c.env_remove(v);
    }
    c.env("HOME", home).env("KRB5CCNAME", cache);
    c
}

fn run(mut c: Command, args: &[&str]) -> (i32, String, String) {
    let out = c.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn everything_on_a_prepared_machine_is_found_with_its_expiry_and_no_secret_then_added_and_watched() {
    let env = Env::new();
    let home = env.dir.path().join("home");
    let mut m = Machine::prepare(&home);
    let (_primary, sub) = m.gpg("2d");
    let kdc = Kdc::start("10h", "7d");
    let ccache = home.join("krb5cc");
    let kinit_at = now_secs();
    kdc.kinit(&ccache, "10h", "7d");
    let cache = format!("FILE:{}", ccache.display());

    let (code, out, err) = run(cmd(&env, &home, &cache), &["discover", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let found: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let listed = || {
        found
            .iter()
            .map(|f| format!("{} {} {} | {}", f["name"], f["kind"], f["place"], f["what"]))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for e in &m.expect {
        let hit = found
            .iter()
            .find(|f| {
                f["kind"] == e.kind
                    && (f["what"].as_str().unwrap().contains(&e.mark) || f["place"].as_str().unwrap().contains(&e.mark))
            })
            .unwrap_or_else(|| panic!("{} {:?} not found in:\n{}", e.kind, e.mark, listed()));
        let at = hit["expires_at"].as_i64().expect("an expiry") / 1000;
        assert!(
            (at - e.expires as i64).abs() <= 2,
            "{} {:?}: found {at}, the tool wrote {}",
            e.kind,
            e.mark,
            e.expires
        );
        assert!(hit["configured_as"].is_null());
    }
    // The ticket MIT's kinit got: ten hours from the kinit.
    let tgt = found
        .iter()
        .find(|f| f["kind"] == "kerberos")
        .unwrap_or_else(|| panic!("no ticket in:\n{}", listed()));
    assert_eq!(tgt["what"], USER);
    let end = tgt["expires_at"].as_i64().unwrap() as u64 / 1000;
    assert!(
        end >= kinit_at + 10 * 3600 - 5 && end <= now_secs() + 10 * 3600,
        "{tgt}"
    );
    assert_eq!(tgt["renews"], true);
    // Only what expires: the static-token user and Docker's key are not there,
    // and the subkey is named by its fingerprint.
    let names = listed();
    assert!(!names.contains("static") && !names.contains("key.pem"), "{names}");
    assert!(
        found.iter().any(|f| f["values"]["fingerprint"] == sub.as_str()),
        "{names}"
    );
    assert!(
        found.iter().any(|f| f["kind"] == "aws_sso" && f["renews"] == true),
        "{names}"
    );
    assert_eq!(
        found.iter().filter(|f| f["kind"] == "kubeconfig").count(),
        4,
        "admin, dev, sso and minikube, not the static-token user: {names}"
    );
    assert!(
        !found
            .iter()
            .any(|f| f["kind"] == "x509_file" && f["place"].as_str().unwrap().contains(".minikube")),
        "minikube's certificate is listed once, as its kubeconfig user: {names}"
    );
    assert!(
        found
            .iter()
            .any(|f| f["place"].as_str().unwrap().starts_with("~/.tsh/keys/")
                && f["note"].as_str().unwrap_or_default().contains("tsh login")),
        "{names}"
    );

    let (code, table, err) = run(cmd(&env, &home, &cache), &["discover"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("--add-all"), "{table}");
    for secret in &m.secrets {
        for (what, text) in [("discover --json", &out), ("discover", &table), ("stderr", &err)] {
            assert!(
                !text.contains(secret.as_str()),
                "{what} shows a secret ({secret}):\n{text}"
            );
        }
    }

    // Added, the config is valid and the engine watches all of it.
    let (code, added, err) = run(cmd(&env, &home, &cache), &["discover", "--add-all"]);
    assert_eq!(code, 0, "{added}{err}");
    assert_eq!(added.matches("Added ").count(), found.len(), "{added}");
    let (code, checked, err) = run(cmd(&env, &home, &cache), &["config", "check"]);
    assert_eq!(code, 0, "{checked}{err}");
    let (_, again, _) = run(cmd(&env, &home, &cache), &["discover", "--json"]);
    let again: Vec<Value> = serde_json::from_str(&again).unwrap();
    assert!(
        again.iter().all(|f| f["configured_as"] == f["name"]),
        "everything is in the config now: {again:?}"
    );
    let (code, _, err) = run(cmd(&env, &home, &cache), &["discover", "--add", "kube-admin"]);
    assert_ne!(code, 0, "adding it twice is refused");
    assert!(err.contains("already in the config"), "{err}");

    let vars: Vec<(&str, &str)> = vec![("HOME", home.to_str().unwrap()), ("KRB5CCNAME", &cache)];
    let daemon = env.start_with(&vars);
    wait_for("every credential read", Duration::from_secs(30), || {
        let st = env.status();
        st.len() == found.len() && st.iter().all(|c| !c["not_after"].is_null())
    });
    let status = env.run(&["status", "--json"]).stdout;
    let shown = env.run(&["show", "kube-admin"]).stdout;
    assert!(
        shown.contains("admin@prod") && shown.contains("ops"),
        "contexts shown: {shown}"
    );
    for secret in &m.secrets {
        assert!(!status.contains(secret.as_str()), "status shows a secret ({secret})");
        assert!(!shown.contains(secret.as_str()), "show shows a secret ({secret})");
    }
    assert_eq!(daemon.stop(), 0);
    stop_gpg_agent(&home);
}
