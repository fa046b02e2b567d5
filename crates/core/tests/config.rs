//! The config file as a user writes it: every kind's fields parsed with
//! their defaults, and every mistake named with its line and its fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use evergreen_core::config::*;
use evergreen_core::policy::RenewPolicy;
use evergreen_core::sources::certctl::CertctlSpec;
use evergreen_core::sources::nixfleet::{NixfleetKey, NixfleetSpec};
use evergreen_core::sources::vault_pki::{KeyType, PkiMode, VaultPkiSpec};
use evergreen_core::sources::vault_token::VaultTokenSpec;
use evergreen_core::sources::x509_file::X509FileSpec;

fn file() -> &'static Path {
    Path::new("/home/u/.config/evergreen/config.toml")
}

fn err(src: &str) -> String {
    match parse(src, file()) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = r#"
[engine]
jitter = 0.05
notify_before = ["1d", "7d"]

[[credential]]
name = "web"
kind = "x509_file"
path = "certs/web.pem"
renew_at_fraction = 0.25
renew_command = ["step", "ca", "renew", "--force", "certs/web.pem", "certs/web.key"]
reload_command = "systemctl --user reload nginx"
shell = true
command_timeout = "30s"

[[credential]]
name = "api"
kind = "x509_file"
path = "/etc/api/cert.pem"
renew_before = "72h"
enabled = false
"#;

#[test]
fn a_good_config_parses_completely() {
    let c = parse(GOOD, file()).unwrap();
    assert_eq!(c.engine.jitter, 0.05);
    assert_eq!(
        c.engine.notify_before,
        vec![Duration::from_secs(7 * 86_400), Duration::from_secs(86_400)]
    );
    assert_eq!(c.credentials.len(), 2);
    let web = &c.credentials[0];
    assert_eq!(web.policy, RenewPolicy::Fraction(0.25));
    let Some(s) = web.spec_as::<X509FileSpec>() else {
        panic!("web is an x509_file")
    };
    assert_eq!(s.path, PathBuf::from("/home/u/.config/evergreen/certs/web.pem"));
    assert_eq!(s.renew_command.as_ref().unwrap().argv()[0], "step");
    assert_eq!(s.reload_command.as_ref().unwrap().argv()[0], "/bin/sh");
    assert_eq!(s.command_timeout, Duration::from_secs(30));
    let api = &c.credentials[1];
    assert!(!api.enabled);
    assert_eq!(api.policy, RenewPolicy::Before(Duration::from_secs(72 * 3600)));
}

#[test]
fn a_nixfleet_key_is_the_host_key_or_a_rotated_one_each_with_its_own_path() {
    let home = Path::new("/home/u");
    let around = Surroundings::fixed(home, BTreeMap::new());
    let base = "[[credential]]\nname = \"fleet\"\nkind = \"nixfleet\"\nurl = \"https://cp.example\"\npath = \"~/fleet/client.pem\"\nmachine_id = \"ws-1\"\n";
    let key = |extra: &str| match parse_in(&format!("{base}{extra}"), file(), &around).map(|c| {
        c.credentials[0]
            .spec_as::<NixfleetSpec>()
            .expect("a nixfleet spec")
            .key
            .clone()
    }) {
        Ok(k) => Ok(k),
        Err(e) => Err(e.to_string()),
    };
    assert_eq!(
        key(""),
        Ok(NixfleetKey::SshHost("/etc/ssh/ssh_host_ed25519_key".into()))
    );
    assert_eq!(
        key("key = \"ssh_host\"\nssh_host_key = \"~/hk\"\n"),
        Ok(NixfleetKey::SshHost("/home/u/hk".into()))
    );
    assert_eq!(
        key("key = \"rotate\"\n"),
        Ok(NixfleetKey::Rotate("/home/u/fleet/client.key".into())),
        "the key beside the certificate"
    );
    assert_eq!(
        key("key = \"rotate\"\nkey_path = \"~/k/agent.key\"\n"),
        Ok(NixfleetKey::Rotate("/home/u/k/agent.key".into()))
    );
    let e = key("key = \"fresh\"\n").unwrap_err();
    assert!(e.contains("key = \"fresh\"") && e.contains("\"rotate\""), "{e}");
    let e = key("key = \"rotate\"\nssh_host_key = \"~/hk\"\n").unwrap_err();
    assert!(e.contains("ssh_host_key is for key = \"ssh_host\""), "{e}");
    let e = key("key_path = \"~/k\"\n").unwrap_err();
    assert!(e.contains("key_path is for key = \"rotate\""), "{e}");
    let e = key("key = \"rotate\"\nkey_path = \"~/fleet/client.pem\"\n").unwrap_err();
    assert!(e.contains("the same file"), "{e}");
}

#[test]
fn a_nixfleet_machine_is_named_by_its_certificate_or_else_its_hostname() {
    let home = Path::new("/home/u");
    let cert = home.join("client.pem");
    let cfg = "[[credential]]\nname = \"fleet\"\nkind = \"nixfleet\"\nurl = \"https://cp.example\"\npath = \"~/client.pem\"\n";
    let id = |c: &Config| {
        c.credentials[0]
            .spec_as::<NixfleetSpec>()
            .expect("a nixfleet spec")
            .machine_id
            .clone()
    };
    // not enrolled yet: the hostname, as nixfleet's agent defaults to
    let mut around = Surroundings::fixed(home, BTreeMap::new());
    around.hostname = Some("ws-host".into());
    assert_eq!(id(&parse_in(cfg, file(), &around).unwrap()), "ws-host");
    // enrolled under a name of its own: that name, from the certificate
    let ca = evergreen_core::pki::Ca::new("t", std::time::SystemTime::now(), Duration::from_secs(3600)).unwrap();
    let issued = ca
        .issue("ws-42", std::time::SystemTime::now(), Duration::from_secs(600))
        .unwrap();
    let mut around = Surroundings::fixed(home, BTreeMap::from([(cert, issued.cert_pem.into_bytes())]));
    around.hostname = Some("ws-host".into());
    assert_eq!(id(&parse_in(cfg, file(), &around).unwrap()), "ws-42");
    // and a name in the config wins
    let named = cfg.replace("path =", "machine_id = \"m-7\"\npath =");
    assert_eq!(id(&parse_in(&named, file(), &around).unwrap()), "m-7");
    // with none of them, the fix
    let e = parse_in(cfg, file(), &Surroundings::fixed(home, BTreeMap::new())).unwrap_err();
    assert!(e.to_string().contains("set machine_id"), "{e}");
}

#[test]
fn the_flap_window_is_a_bounded_duration() {
    let c = parse("[engine]\nnotify_flap_window = \"30m\"\n", file()).unwrap();
    assert_eq!(c.engine.flap_window, Duration::from_secs(1800));
    assert_eq!(parse("", file()).unwrap().engine.flap_window, Duration::from_secs(3600));
    let e = err("[engine]\nnotify_flap_window = \"soon\"\n");
    assert!(e.contains("notify_flap_window") && e.contains("not a duration"), "{e}");
}

/// Validation reads the Vault address, the CA bundle, `~` and the data
/// directory from what it is handed, not from the process.
#[test]
fn validation_takes_what_it_needs_from_its_surroundings() {
    let home = Path::new("/home/someone");
    let ca = evergreen_core::pki::Ca::new("t", std::time::SystemTime::now(), Duration::from_secs(3600)).unwrap();
    let bundle = home.join("ca.pem");
    let cfg = "[[credential]]\nname = \"t\"\nkind = \"vault_token\"\nca_bundle = \"~/ca.pem\"\n\n\
               [[credential]]\nname = \"c\"\nkind = \"certctl\"\nurl = \"https://cp.example\"\n\
               agent_id = \"a-1\"\napi_key_env = \"K\"\ntargets = [\"t-1=~/web.pem\"]\n";
    let mut around = Surroundings::fixed(home, BTreeMap::from([(bundle.clone(), ca.cert_pem().into_bytes())]));
    around.vault_addr = Some("https://bao.example:8200/".into());
    let c = parse_in(cfg, file(), &around).unwrap();
    let v = c.credentials[0]
        .spec_as::<VaultTokenSpec>()
        .expect("a vault_token spec");
    assert_eq!(v.conn.address, "https://bao.example:8200");
    assert_eq!(v.conn.ca_bundle.as_deref(), Some(bundle.as_path()));
    assert_eq!(v.conn.token, TokenSource::File(home.join(".vault-token")));
    let s = c.credentials[1].spec_as::<CertctlSpec>().expect("a certctl spec");
    assert_eq!(s.key_dir, home.join(".local/share/evergreen/certctl/c/keys"));
    // without the address or the bundle's file: the problems, each with its fix
    let e = parse_in(cfg, file(), &Surroundings::fixed(home, BTreeMap::new()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no Vault address") && e.contains("VAULT_ADDR"), "{e}");
    assert!(e.contains("ca_bundle") && e.contains("ca.pem"), "{e}");
}

#[test]
fn a_wrenn_host_needs_its_address() {
    let e = err("[[credential]]\nname = \"w\"\nkind = \"wrenn\"\nurl = \"https://cp.example\"\ncredentials_file = \"/w.json\"\n");
    assert!(
        e.contains("needs `host_address`") && e.contains("refuses a registration without one"),
        "{e}"
    );
}

#[test]
fn durations_are_bounded_with_their_line() {
    let base = "[[credential]]\nname = \"w\"\nkind = \"wrenn\"\nurl = \"https://cp.example\"\ncredentials_file = \"/w.json\"\nhost_address = \"10.0.0.1:5000\"\n";
    let e = err(&format!("{base}heartbeat_interval = \"300000000000y\"\n"));
    assert!(
        e.contains("heartbeat_interval") && e.contains("longer than 100 years"),
        "{e}"
    );
    assert!(e.contains(":7:"), "names the line: {e}");
    let e = err(&format!("{base}heartbeat_interval = \"10ms\"\n"));
    assert!(e.contains("too short") && e.contains("\"100ms\""), "{e}");
    let e =
        err("[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_before = \"200years\"\n");
    assert!(e.contains("renew_before") && e.contains("longer than 100 years"), "{e}");
    let e = err("[engine]\nretry_max = \"50ms\"\n");
    assert!(e.contains("retry_max") && e.contains("too short"), "{e}");
}

#[test]
fn metrics_stay_on_this_machine_unless_asked_for_beyond_it() {
    let listen = |v: &str| {
        parse(&format!("[metrics]\nlisten = \"{v}\"\n"), file()).map(|c| c.engine.metrics.unwrap().listen.to_string())
    };
    assert_eq!(listen("127.0.0.1:9419").unwrap(), "127.0.0.1:9419");
    assert_eq!(listen("[::1]:9500").unwrap(), "[::1]:9500");
    assert_eq!(listen("127.0.0.1").unwrap(), "127.0.0.1:9419");
    assert_eq!(listen("localhost:9500").unwrap(), "127.0.0.1:9500");
    assert_eq!(parse("", file()).unwrap().engine.metrics, None);

    let e = err("[metrics]\nlisten = \"0.0.0.0:9419\"\n");
    assert!(
        e.contains("reachable from other machines") && e.contains("allow_remote = true") && e.contains(":2:"),
        "{e}"
    );
    let open = parse("[metrics]\nlisten = \"0.0.0.0:9419\"\nallow_remote = true\n", file()).unwrap();
    assert_eq!(open.engine.metrics.unwrap().listen.to_string(), "0.0.0.0:9419");

    let e = err("[metrics]\nlisten = \"metrics.example:80\"\n");
    assert!(
        e.contains("not an address and port") && e.contains("127.0.0.1:9419"),
        "{e}"
    );
    let e = err("[metrics]\nallow_remote = true\n");
    assert!(e.contains("[metrics] needs `listen`"), "{e}");
    let e = err("[metrics]\nlisten = \"127.0.0.1:9419\"\nport = 1\n");
    assert!(e.contains("port"), "{e}");
}

#[test]
fn a_server_elsewhere_is_never_asked_more_often_than_every_5s() {
    let at = |url: &str, extra: &str| {
        format!("[[credential]]\nname = \"c\"\nkind = \"certctl\"\nurl = \"{url}\"\nagent_id = \"a-1\"\napi_key_env = \"K\"\nkey_dir = \"/k\"\ntargets = [\"t=/c.pem\"]\n{extra}")
    };
    for field in ["heartbeat_interval", "poll_interval", "discovery_interval"] {
        let e = err(&at("https://cp.example", &format!("{field} = \"1s\"\n")));
        assert!(
            e.contains(field) && e.contains("more often than every 5s") && e.contains(":9:"),
            "{e}"
        );
    }
    // A control plane on this machine (a dev server, the sandbox) may be asked often.
    let ok = parse(
        &at(
            "https://127.0.0.1:8443",
            "heartbeat_interval = \"300ms\"\npoll_interval = \"200ms\"\n",
        ),
        file(),
    );
    assert!(ok.is_ok(), "{ok:?}");
    assert!(parse(&at("https://cp.example", "poll_interval = \"5s\"\n"), file()).is_ok());
}

#[test]
fn an_empty_file_is_an_empty_config() {
    let c = parse("", file()).unwrap();
    assert!(c.credentials.is_empty());
    assert_eq!(c.engine, EngineSettings::default());
}

#[test]
fn fraction_out_of_range_names_value_line_and_column() {
    for bad in ["1.5", "0.0", "1.0", "-0.2"] {
        let e = err(&format!(
            "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_at_fraction = {bad}\n"
        ));
        assert!(
            e.contains(&format!("renew_at_fraction = {}", bad.parse::<f64>().unwrap())),
            "{e}"
        );
        assert!(e.contains("strictly between 0 and 1"), "{e}");
        assert!(e.contains("config.toml:5:21"), "{e}");
        assert!(e.contains("credential \"web\""), "{e}");
    }
}

#[test]
fn unknown_fields_are_rejected_with_their_location() {
    let e = err("[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_at_fracton = 0.3\n");
    assert!(e.contains("unknown field `renew_at_fracton`"), "{e}");
    assert!(e.contains(":5:1"), "{e}");
    assert!(e.contains("did you mean `renew_at_fraction`?"), "{e}");
    // A field of the wrong type is that problem alone, not also a missing one.
    let e = err("[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = 5\n");
    assert!(e.contains("invalid type") && !e.contains("needs `path`"), "{e}");
    let e = err("[engine]\njiter = 0.1\n");
    assert!(e.contains("unknown field `jiter`"), "{e}");
    let e = err("[enigne]\n");
    assert!(e.contains("unknown field `enigne`"), "{e}");
}

#[test]
fn each_kind_of_mistake_gets_its_own_message() {
    let cases: &[(&str, &str)] = &[
        ("[[credential]]\nkind = \"x509_file\"\npath = \"/c\"\n", "has no `name`"),
        ("[[credential]]\nname = \"a\"\npath = \"/c\"\n", "has no `kind`"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509\"\npath = \"/c\"\n", "did you mean \"x509_file\""),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\n", "needs `path`"),
        ("[[credential]]\nname = \"a b\"\nkind = \"x509_file\"\npath = \"/c\"\n", "is not allowed"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_before = \"soon\"\n", "is not a duration"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_before = \"1h\"\nrenew_at_fraction = 0.3\n", "not both"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = \"step ca renew\"\n", "add `shell = true`"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = []\n", "renew_command is empty"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = [1, 2]\n", "array of strings"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\n[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/d\"\n", "duplicate credential name"),
        ("[engine]\njitter = 0.9\n", "jitter = 0.9 is out of range"),
        ("[engine]\nnotify_before = [\"7 days-ish\"]\n", "is not a duration"),
        ("[engine]\nhistory_days = 0\n", "at least 1"),
        ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = 5\n", "invalid type"),
        ("[[credential]\nname = \"a\"\n", "config.toml:1:"),
        ("name = \"a\"\n", "unknown field `name`"),
        (
            "[[credential]]\nname = \"a\"\nkind = \"certctl\"\ntargets = { web = \"/w.pem\" }\n",
            "is a list, written [",
        ),
    ];
    for (src, want) in cases {
        let e = err(src);
        assert!(e.contains(want), "for {src:?}\nwanted {want:?} in:\n{e}");
        assert!(e.contains("config.toml"), "error must name the file: {e}");
    }
}

#[test]
fn several_problems_are_all_reported() {
    let e = err(
        "[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_at_fraction = 2.0\njitter = 0.7\n",
    );
    assert!(e.contains("2 problems"), "{e}");
    assert!(e.contains(":5:") && e.contains(":6:"), "{e}");
}

#[test]
fn missing_file_says_how_to_start() {
    let e = load(Path::new("/nonexistent/evergreen/config.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not exist") && e.contains("docs/configuration.md"),
        "{e}"
    );
}

const VAULT: &str = r#"
[[credential]]
name = "vault"
kind = "vault_token"
address = "https://vault.example.test:8200/"
namespace = "team/"
token_file = "~/tokens/vault"
increment = "1h"

[[credential]]
name = "ws"
kind = "vault_pki"
address = "http://127.0.0.1:8200"
token_env = "VAULT_TOKEN"
role = "workstation"
common_name = "ws.example.test"
alt_names = ["ws", "ws.local"]
ip_sans = ["127.0.0.1"]
ttl = "24h"
path = "certs/ws.pem"
reload_command = ["systemctl", "--user", "reload", "app"]
"#;

#[test]
fn vault_kinds_parse_with_their_defaults() {
    let c = parse(VAULT, file()).unwrap();
    let Some(t) = c.credentials[0].spec_as::<VaultTokenSpec>() else {
        panic!("vault is a vault_token")
    };
    assert_eq!(t.conn.address, "https://vault.example.test:8200");
    assert_eq!(t.conn.namespace.as_deref(), Some("team"));
    assert!(matches!(&t.conn.token, TokenSource::File(p) if p.ends_with("tokens/vault") && p.is_absolute()));
    assert_eq!(t.increment, Some(Duration::from_secs(3600)));
    // Tokens renew at half their TTL unless told otherwise.
    assert_eq!(c.credentials[0].policy, RenewPolicy::Fraction(0.5));
    let Some(p) = c.credentials[1].spec_as::<VaultPkiSpec>() else {
        panic!("ws is a vault_pki")
    };
    assert_eq!(p.mount, "pki");
    assert_eq!((p.mode, p.key_type), (PkiMode::Sign, KeyType::EcP256));
    assert_eq!(p.cert_path, PathBuf::from("/home/u/.config/evergreen/certs/ws.pem"));
    assert_eq!(p.key_path, PathBuf::from("/home/u/.config/evergreen/certs/ws.key"));
    assert_eq!(p.alt_names, vec!["ws", "ws.local"]);
    assert_eq!(p.conn.token, TokenSource::Env("VAULT_TOKEN".into()));
    assert_eq!(c.credentials[1].policy, RenewPolicy::default());
    // Plain HTTP is accepted for loopback only, with a warning.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("plain HTTP") && c.warnings[0].contains("\"ws\""));
    assert_eq!(
        c.credentials[1].spec.watched_paths(),
        vec![
            PathBuf::from("/home/u/.config/evergreen/certs/ws.pem"),
            PathBuf::from("/home/u/.config/evergreen/certs/ws.key")
        ]
    );
}

#[test]
fn vault_mistakes_are_named() {
    let head = "[[credential]]\nname = \"v\"\n";
    let cases: &[(&str, &str)] = &[
        ("kind = \"vault_token\"\naddress = \"http://vault.example.test\"\n", "clear text"),
        ("kind = \"vault_token\"\naddress = \"ftp://vault.example.test\"\n", "has scheme \"ftp\""),
        ("kind = \"vault_token\"\naddress = \"not a url\"\n", "is not a URL"),
        ("kind = \"vault_token\"\naddress = \"https://v\"\ntoken_file = \"/t\"\ntoken_env = \"T\"\n", "not both"),
        ("kind = \"vault_token\"\naddress = \"https://v\"\ntoken_env = \"MY TOKEN\"\n", "not an environment variable name"),
        ("kind = \"vault_token\"\naddress = \"https://v\"\nrole = \"r\"\n", "`role` does not apply to kind vault_token; it belongs to vault_pki"),
        ("kind = \"x509_file\"\npath = \"/c\"\naddress = \"https://v\"\n", "`address` does not apply to kind x509_file"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\ncommon_name = \"a\"\npath = \"/c\"\n", "needs `role`"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nkey_type = \"rsa-512\"\n", "key_type = \"rsa-512\" is not supported"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nmode = \"fetch\"\n", "mode = \"fetch\" is unknown"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nip_sans = [\"localhost\"]\n", "is not an IP address"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nkey_path = \"/c\"\n", "the same file"),
        ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nttl = \"a day\"\n", "is not a duration"),
    ];
    for (body, want) in cases {
        let src = format!("{head}{body}");
        let e = err(&src);
        assert!(e.contains(want), "for {src:?}\nwanted {want:?} in:\n{e}");
        assert!(e.contains("credential \"v\""), "{e}");
    }
}

fn at_home(src: &str) -> std::result::Result<Config, String> {
    parse_in(src, file(), &Surroundings::fixed(Path::new("/home/u"), BTreeMap::new())).map_err(|e| e.to_string())
}

#[test]
fn an_ssh_certificate_is_signed_with_a_borrowed_token_or_only_watched() {
    use evergreen_core::sources::ssh_cert::{AgentUse, CertType, Keeper, SshCertSpec};
    let c = at_home(
        r#"
[[credential]]
name = "login"
kind = "vault_token"
address = "https://bao.example:8200"
token_file = "~/tokens/bao"

[[credential]]
name = "ssh"
kind = "ssh_cert"
token_from = "login"
role = "dev"
principals = ["alice"]
extensions = ["permit-pty"]
ttl = "8h"

[[credential]]
name = "tsh"
kind = "ssh_cert"
path = "~/.tsh/keys/p/alice-ssh/prod-cert.pub"
"#,
    )
    .unwrap();
    let s = c.credentials[1].spec_as::<SshCertSpec>().expect("an ssh_cert spec");
    let Keeper::Vault(signer) = &s.keeper else {
        panic!("signed: {s:?}")
    };
    // The borrowed connection: the other credential's address and token file.
    assert_eq!(signer.conn.address, "https://bao.example:8200");
    assert_eq!(
        signer.conn.token,
        TokenSource::File(PathBuf::from("/home/u/tokens/bao"))
    );
    assert_eq!((signer.mount.as_str(), signer.role.as_str()), ("ssh", "dev"));
    assert_eq!(signer.cert_type, CertType::User);
    assert_eq!(signer.ttl, Some(Duration::from_secs(8 * 3600)));
    assert_eq!(s.key_path, PathBuf::from("/home/u/.ssh/id_ed25519"));
    assert_eq!(s.cert_path, PathBuf::from("/home/u/.ssh/id_ed25519-cert.pub"));
    assert_eq!(s.agent, AgentUse::FromEnv);
    let w = c.credentials[2].spec_as::<SshCertSpec>().unwrap();
    assert!(matches!(w.keeper, Keeper::Watch { renew_command: None }), "{w:?}");
    assert_eq!(w.key_path, PathBuf::from("/home/u/.tsh/keys/p/alice-ssh/prod"));
    assert!(!c.credentials[2].spec.build("tsh").can_renew());
}

#[test]
fn ssh_certificate_mistakes_are_named_with_their_fix() {
    let e = at_home("[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\n").unwrap_err();
    assert!(e.contains("needs path"), "{e}");
    let e = at_home("[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\naddress = \"https://b:8200\"\n").unwrap_err();
    assert!(e.contains("role is missing"), "{e}");
    let e =
        at_home("[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\npath = \"~/c-cert.pub\"\nprincipals = [\"a\"]\n")
            .unwrap_err();
    assert!(e.contains("principals is asked of a Vault/OpenBao SSH engine"), "{e}");
    let e = at_home("[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\nrole = \"r\"\ntoken_from = \"nobody\"\n")
        .unwrap_err();
    assert!(e.contains("token_from = \"nobody\" names no credential"), "{e}");
    let e = at_home(
        "[[credential]]\nname = \"w\"\nkind = \"x509_file\"\npath = \"/c.pem\"\n\n[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\nrole = \"r\"\ntoken_from = \"w\"\n",
    )
    .unwrap_err();
    assert!(e.contains("is not a Vault token credential"), "{e}");
    let e = at_home(
        "[[credential]]\nname = \"s\"\nkind = \"ssh_cert\"\nrole = \"r\"\naddress = \"https://b:8200\"\nextensions = [\"permit-pty=yes\"]\nrenew_command = [\"x\"]\n",
    )
    .unwrap_err();
    assert!(
        e.contains("is not an extension name") && e.contains("renew_command is for a certificate another tool writes"),
        "{e}"
    );
}

#[test]
fn a_vault_token_logs_in_again_with_approle_or_a_kept_certificate() {
    use evergreen_core::sources::vault_token::{Login, LoginIdentity};
    let c = at_home(
        r#"
[[credential]]
name = "a"
kind = "vault_token"
address = "https://bao.example:8200"
auth = "approle"
role_id_file = "~/ev/role_id"
secret_id_file = "~/ev/secret_id"

[[credential]]
name = "machine"
kind = "vault_pki"
address = "https://bao.example:8200"
role = "ws"
common_name = "ws"
path = "~/certs/ws.pem"

[[credential]]
name = "c"
kind = "vault_token"
address = "https://bao.example:8200"
auth = "cert"
login_cert = "machine"
auth_role = "workstations"
"#,
    )
    .unwrap();
    let a = c.credentials[0].spec_as::<VaultTokenSpec>().unwrap();
    assert_eq!(
        a.login,
        Some(Login::AppRole {
            mount: "approle".into(),
            role_id: "/home/u/ev/role_id".into(),
            secret_id: "/home/u/ev/secret_id".into(),
        })
    );
    let t = c.credentials[2].spec_as::<VaultTokenSpec>().unwrap();
    assert_eq!(
        t.login,
        Some(Login::Cert {
            mount: "cert".into(),
            role: Some("workstations".into()),
            identity: LoginIdentity::Files {
                cert: "/home/u/certs/ws.pem".into(),
                key: "/home/u/certs/ws.key".into(),
            },
        })
    );
    let e = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\nauth = \"approle\"\n",
    )
    .unwrap_err();
    assert!(
        e.contains("needs role_id_file") && e.contains("needs secret_id_file"),
        "{e}"
    );
    let e = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\nauth = \"kerberos\"\n",
    )
    .unwrap_err();
    assert!(e.contains("\"kerberos\" is not a method Evergreen knows"), "{e}");
    let e = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\nauth = \"userpass\"\nusername = \"alice\"\nsecret_id_file = \"/s\"\n",
    )
    .unwrap_err();
    assert!(
        e.contains("secret_id_file is for auth = \"approle\", not \"userpass\""),
        "{e}"
    );
    let c = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\nauth = \"ldap\"\nusername = \"alice\"\n",
    )
    .unwrap();
    assert_eq!(
        c.credentials[0].spec_as::<VaultTokenSpec>().unwrap().login,
        Some(Login::Password {
            method: evergreen_core::sources::vault_token::PasswordMethod::Ldap,
            mount: "ldap".into(),
            username: Some("alice".into()),
        })
    );
    let e = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\nsecret_id_file = \"/s\"\n",
    )
    .unwrap_err();
    assert!(
        e.contains("secret_id_file is for logging in again, and auth is not set"),
        "{e}"
    );
    let e = at_home(
        "[[credential]]\nname = \"a\"\nkind = \"vault_token\"\naddress = \"https://b:8200\"\ntoken_env = \"T\"\nauth = \"cert\"\nlogin_cert = \"nobody\"\n",
    )
    .unwrap_err();
    assert!(e.contains("needs a token file"), "{e}");
}

/// Every complete example in the README and docs/configuration.md is a
/// config Evergreen accepts (the CA bundles they name stand in as real ones).
#[test]
fn the_documented_examples_are_valid_configs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ca = {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.self_signed(&key).unwrap().pem().into_bytes()
    };
    let home = Path::new("/home/u");
    let mut checked = 0;
    for doc in ["README.md", "docs/configuration.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for block in text.split("```toml\n").skip(1) {
            let block = block.split("```").next().unwrap();
            if !block.contains("[[credential]]") {
                continue;
            }
            let mut files = BTreeMap::new();
            for line in block.lines() {
                if let Some(p) = line.trim().strip_prefix("ca_bundle = \"") {
                    let p = p.trim_end_matches('"');
                    files.insert(home.join(p.trim_start_matches("~/")), ca.clone());
                }
            }
            let mut around = Surroundings::fixed(home, files);
            around.hostname = Some("ws-42".into());
            if let Err(e) = parse_in(block, file(), &around) {
                panic!("an example in {doc} is not a valid config:\n{block}\n{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} examples found");
}
