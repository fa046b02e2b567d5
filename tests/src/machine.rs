//! A workstation's home prepared the way other tools leave it: a
//! kubeconfig (an inline certificate, a certificate file, a kubelogin
//! user), an AWS IAM Identity Center session and its token cache, an SSH
//! certificate written by ssh-keygen, an OpenVPN profile with its
//! certificate inline, Docker's client certificate, and (with real `gpg`) a
//! GPG key whose subkey expires. Every secret in it is a marked string, so
//! a test can look for any of them in what Evergreen prints.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use evergreen_core::pki::Ca;

/// Where each credential ends, as the tools that made it wrote it.
#[derive(Debug, Clone)]
pub struct Expect {
    pub kind: &'static str,
    /// A word of `place` or `what` that identifies it.
    pub mark: String,
    /// Unix seconds.
    pub expires: u64,
}

pub struct Machine {
    pub home: PathBuf,
    pub expect: Vec<Expect>,
    /// Strings that must never appear in anything Evergreen prints.
    pub secrets: Vec<String>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The inner body of a PEM private key: what would leak if a key leaked.
fn key_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("")[..40]
        .to_string()
}

/// A JWT whose body is `claims` (unsigned: only its dates are read).
pub fn jwt(claims: &serde_json::Value) -> String {
    let b = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b(br#"{"alg":"RS256"}"#),
        b(claims.to_string().as_bytes()),
        b(b"signature")
    )
}

impl Machine {
    /// Everything but GPG and Kerberos in `home`.
    pub fn prepare(home: &Path) -> Machine {
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let ca = Ca::new("Cluster CA", now - day, 3650 * day).unwrap();
        let mut m = Machine {
            home: home.to_path_buf(),
            expect: Vec::new(),
            secrets: Vec::new(),
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

        // kubeconfig: admin inline, dev from a file, sso through kubelogin.
        let admin = ca.issue("kubernetes-admin", now - 300 * day, 365 * day).unwrap();
        let dev = ca.issue("dev-user", now - day, 30 * day).unwrap();
        write(&home.join(".kube/dev.crt"), &dev.cert_pem);
        write(&home.join(".kube/dev.key"), &dev.key_pem);
        // minikube keeps its user's certificate in its profile, where the
        // certificate files are looked for too: listed once, as the user.
        let mini = ca.issue("minikube-user", now - day, 3 * 365 * day).unwrap();
        let mini_crt = home.join(".minikube/profiles/minikube/client.crt");
        write(&mini_crt, &mini.cert_pem);
        write(&home.join(".minikube/profiles/minikube/client.key"), &mini.key_pem);
        let exp = secs(now) + 3 * 3600;
        let id_token = jwt(&serde_json::json!({
            "iss": "https://idp.example", "aud": "kube", "sub": "alice", "email": "alice@example.org",
            "iat": secs(now) - 600, "exp": exp,
        }));
        write(
            &home.join(".kube/cache/oidc-login/0123abcd"),
            &serde_json::json!({"id_token": id_token, "refresh_token": "KUBE-REFRESH-SECRET"}).to_string(),
        );
        write(
            &home.join(".kube/config"),
            &format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {{server: \"https://k8s.example:6443\", certificate-authority-data: {ca}}}\ncontexts:\n- {{name: admin@prod, context: {{cluster: prod, user: admin}}}}\n- {{name: ops, context: {{cluster: prod, user: admin}}}}\n- {{name: dev@prod, context: {{cluster: prod, user: dev}}}}\n- {{name: sso@prod, context: {{cluster: prod, user: sso}}}}\ncurrent-context: admin@prod\nusers:\n- name: admin\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n- name: dev\n  user:\n    client-certificate: dev.crt\n    client-key: dev.key\n- name: sso\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubectl\n      args: [oidc-login, get-token, --oidc-issuer-url=https://idp.example, --oidc-client-id=kube]\n- name: static\n  user: {{token: KUBE-STATIC-TOKEN-SECRET}}\n- name: minikube\n  user:\n    client-certificate: {mini}\n",
                ca = b64(&ca.cert_pem()),
                cert = b64(&admin.cert_pem),
                key = b64(&admin.key_pem),
                mini = mini_crt.display(),
            ),
        );
        m.secrets.push(b64(&admin.key_pem)[..40].to_string());
        m.secrets.push(key_body(&admin.key_pem));
        m.secrets.push(key_body(&dev.key_pem));
        m.secrets.push(key_body(&mini.key_pem));
        m.expect.push(Expect {
            kind: "kubeconfig",
            mark: "user minikube".into(),
            expires: secs(now - day + 3 * 365 * day),
        });
        m.secrets
            .extend(["KUBE-REFRESH-SECRET".into(), "KUBE-STATIC-TOKEN-SECRET".into()]);
        m.expect.push(Expect {
            kind: "kubeconfig",
            mark: "user admin".into(),
            expires: secs(now - 300 * day + 365 * day),
        });
        m.expect.push(Expect {
            kind: "kubeconfig",
            mark: "user dev".into(),
            expires: secs(now - day + 30 * day),
        });
        m.expect.push(Expect {
            kind: "kubeconfig",
            mark: "user sso".into(),
            expires: exp,
        });

        // AWS IAM Identity Center: a session and the cache `aws sso login` left.
        write(
            &home.join(".aws/config"),
            "[profile dev]\nsso_session = work\nsso_account_id = 111122223333\nsso_role_name = Dev\nregion = eu-west-1\n\n[sso-session work]\nsso_start_url = https://work.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
        );
        let aws_exp = secs(now) + 3000;
        let cache = home.join(".aws/sso/cache").join(format!("{}.json", sha1_hex("work")));
        write(&cache, &aws_cache(aws_exp, "AWS-ACCESS-SECRET", "AWS-REFRESH-SECRET"));
        m.secrets.extend([
            "AWS-ACCESS-SECRET".into(),
            "AWS-REFRESH-SECRET".into(),
            "AWS-CLIENT-SECRET".into(),
        ]);
        m.expect.push(Expect {
            kind: "aws_sso",
            mark: "sso-session work".into(),
            expires: aws_exp,
        });

        // An SSH certificate, as ssh-keygen (or step ssh) writes it.
        let ssh = home.join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f"])
            .arg(home.join("ssh-ca")));
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(ssh.join("id_ed25519")));
        let valid_to = secs(now) + 7200;
        run(Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(home.join("ssh-ca"))
            .args(["-I", "alice@laptop", "-n", "alice", "-V"])
            .arg(format!("-1m:+{}s", 7200))
            .arg(ssh.join("id_ed25519.pub")));
        m.secrets
            .push(key_body(&std::fs::read_to_string(ssh.join("id_ed25519")).unwrap()));
        // Teleport's: tsh keeps its certificates under ~/.tsh/keys.
        let tsh = home.join(".tsh/keys/teleport.example.com/alice-ssh");
        std::fs::create_dir_all(&tsh).unwrap();
        std::fs::copy(ssh.join("id_ed25519.pub"), tsh.join("prod.pub")).unwrap();
        run(Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(home.join("ssh-ca"))
            .args(["-I", "alice@teleport", "-n", "alice", "-V", "-1m:+12h"])
            .arg(tsh.join("prod.pub")));
        m.expect.push(Expect {
            kind: "ssh_cert",
            mark: "alice@teleport".into(),
            expires: secs(now) + 12 * 3600,
        });
        m.expect.push(Expect {
            kind: "ssh_cert",
            mark: "alice@laptop".into(),
            expires: valid_to,
        });

        // An OpenVPN profile with everything inline.
        let vpn_ca = Ca::new("VPN CA", now - day, 3650 * day).unwrap();
        let vpn = vpn_ca.issue("alice-laptop", now - day, 90 * day).unwrap();
        write(
            &home.join(".config/openvpn/work.ovpn"),
            &format!(
                "client\ndev tun\nremote vpn.example.org 1194\n<ca>\n{}</ca>\n<cert>\n{}</cert>\n<key>\n{}</key>\n",
                vpn_ca.cert_pem(),
                vpn.cert_pem,
                vpn.key_pem
            ),
        );
        m.secrets.push(key_body(&vpn.key_pem));
        m.expect.push(Expect {
            kind: "x509_file",
            mark: "alice-laptop".into(),
            expires: secs(now - day + 90 * day),
        });

        // Docker's client certificate, its key beside it.
        let docker = ca.issue("docker-client", now - day, 60 * day).unwrap();
        write(&home.join(".docker/cert.pem"), &docker.cert_pem);
        write(&home.join(".docker/key.pem"), &docker.key_pem);
        m.secrets.push(key_body(&docker.key_pem));
        m.expect.push(Expect {
            kind: "x509_file",
            mark: "docker-client".into(),
            expires: secs(now - day + 60 * day),
        });
        m
    }

    /// A GPG key (no passphrase) whose encryption subkey expires in
    /// `subkey_life` (gpg's words: "2d", "seconds=120"), made by real gpg in
    /// `~/.gnupg`. Returns the primary's and the subkey's fingerprints.
    pub fn gpg(&mut self, subkey_life: &str) -> (String, String) {
        let home = gnupg_home(&self.home);
        let gpg = |args: &[&str]| {
            run(Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                .args(args))
        };
        gpg(&[
            "--quick-gen-key",
            "Alice Example <alice@example.org>",
            "ed25519",
            "sign,cert",
            "1y",
        ]);
        let fpr = |text: &str, n: usize| {
            text.lines()
                .filter(|l| l.starts_with("fpr:"))
                .nth(n)
                .and_then(|l| l.split(':').nth(9))
                .unwrap()
                .to_string()
        };
        let list = || gpg(&["--with-colons", "--with-subkey-fingerprint", "--list-secret-keys"]);
        let primary = fpr(&list(), 0);
        gpg(&["--quick-add-key", &primary, "cv25519", "encr", subkey_life]);
        let listing = list();
        let sub = fpr(&listing, 1);
        let expires: u64 = listing
            .lines()
            .find(|l| l.starts_with("ssb:"))
            .and_then(|l| l.split(':').nth(6))
            .and_then(|e| e.parse().ok())
            .expect("the subkey has an expiry");
        self.expect.push(Expect {
            kind: "gpg_key",
            mark: "encrypt subkey".into(),
            expires,
        });
        self.expect.push(Expect {
            kind: "gpg_key",
            mark: "primary key".into(),
            expires: listing
                .lines()
                .find(|l| l.starts_with("sec:"))
                .and_then(|l| l.split(':').nth(6))
                .and_then(|e| e.parse().ok())
                .unwrap(),
        });
        (primary, sub)
    }
}

/// `~/.gnupg`, made 0700 as gpg wants it.
pub fn gnupg_home(home: &Path) -> PathBuf {
    let g = home.join(".gnupg");
    std::fs::create_dir_all(&g).unwrap();
    std::fs::set_permissions(&g, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    g
}

/// Stops the gpg-agent a test's gpg started.
pub fn stop_gpg_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home.join(".gnupg"))
        .args(["--kill", "gpg-agent"])
        .output();
}

/// The cache file's name: sha1 of the session name, as botocore makes it.
pub fn sha1_hex(s: &str) -> String {
    let out = run(Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())",
        ])
        .arg(s));
    out.trim().to_string()
}

/// A token cache as `aws sso login` writes it.
pub fn aws_cache(expires: u64, access: &str, refresh: &str) -> String {
    let t = |s: u64| evergreen_core::clock::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
    serde_json::json!({
        "startUrl": "https://work.awsapps.com/start",
        "region": "eu-west-1",
        "accessToken": access,
        "expiresAt": t(expires),
        "clientId": "client-id-1",
        "clientSecret": "AWS-CLIENT-SECRET",
        "registrationExpiresAt": t(expires + 80 * 86_400),
        "refreshToken": refresh,
    })
    .to_string()
}
