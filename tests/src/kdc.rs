//! A real MIT Kerberos KDC for the tests (Debian's `krb5-kdc`,
//! `krb5-admin-server` and `krb5-user`, which `make test` installs): its own
//! realm, database and configuration in a temporary directory, on a free
//! loopback port, no root or systemd needed; killed on drop. One user,
//! `alice`, with a password and a keytab.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const REALM: &str = "EVERGREEN.TEST";
pub const USER: &str = "alice@EVERGREEN.TEST";
pub const PASSWORD: &str = "kerberos-test-password";

fn sbin(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} was not found; `make test` installs it (Debian's krb5-kdc, krb5-admin-server, krb5-user)")
        })
}

pub struct Kdc {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Kdc {
    /// A realm whose tickets live at most `max_life` and are renewable for
    /// at most `max_renew` (krbtgt and alice alike), started and listening.
    pub fn start(max_life: &str, max_renew: &str) -> Kdc {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let d = dir.path();
        std::fs::write(
            d.join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n\n[realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
            ),
        )
        .expect("write krb5.conf");
        std::fs::write(
            d.join("kdc.conf"),
            format!(
                "[realms]\n {REALM} = {{\n  database_name = {db}\n  key_stash_file = {stash}\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n  max_life = {max_life}\n  max_renewable_life = {max_renew}\n  supported_enctypes = aes256-cts-hmac-sha1-96:normal\n }}\n\n[logging]\n kdc = FILE:{log}\n default = FILE:{log}\n",
                db = d.join("principal").display(),
                stash = d.join("stash").display(),
                log = d.join("kdc.log").display(),
            ),
        )
        .expect("write kdc.conf");
        let kdc = Kdc { child: None, dir, port };
        kdc.admin(
            &sbin("kdb5_util"),
            &["create", "-s", "-P", "master-password", "-r", REALM],
        );
        let kadmin = sbin("kadmin.local");
        kdc.admin(
            &kadmin,
            &[
                "-r",
                REALM,
                "-q",
                &format!("addprinc -pw {PASSWORD} -maxlife {max_life} -maxrenewlife {max_renew} {USER}"),
            ],
        );
        kdc.admin(
            &kadmin,
            &[
                "-r",
                REALM,
                "-q",
                &format!("modprinc -maxlife {max_life} -maxrenewlife {max_renew} krbtgt/{REALM}@{REALM}"),
            ],
        );
        let keytab = kdc.keytab();
        kdc.admin(
            &kadmin,
            &[
                "-r",
                REALM,
                "-q",
                &format!("ktadd -k {} -norandkey {USER}", keytab.display()),
            ],
        );
        let mut kdc = kdc;
        kdc.run();
        kdc
    }

    fn env(&self, c: &mut Command) {
        c.env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf"))
            .env("LC_ALL", "C");
    }

    fn admin(&self, program: &Path, args: &[&str]) {
        let mut c = Command::new(program);
        self.env(&mut c);
        let out = c.args(args).stdin(Stdio::null()).output().expect("the admin tool runs");
        assert!(
            out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("rror"),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The krb5.conf that points at this KDC.
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// alice's keytab (0600).
    pub fn keytab(&self) -> PathBuf {
        self.dir.path().join("alice.keytab")
    }

    /// Starts the KDC (again) and waits until it says it is serving.
    pub fn run(&mut self) {
        let mut c = Command::new(sbin("krb5kdc"));
        self.env(&mut c);
        let mut child = c
            .args(["-n", "-r", REALM, "-P"])
            .arg(self.dir.path().join("kdc.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("krb5kdc starts");
        // With -n it says "krb5kdc: starting..." on stderr once it listens.
        let err = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut said = String::new();
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                said.push_str(&l);
                said.push('\n');
                if l.contains("starting...") {
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(said));
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => self.child = Some(child),
            other => {
                let _ = child.kill();
                panic!(
                    "krb5kdc did not start: {other:?}\n{}",
                    std::fs::read_to_string(self.dir.path().join("kdc.log")).unwrap_or_default()
                );
            }
        }
    }

    /// Stops the KDC (its database stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `kinit` as alice with her password into `cache`, asking for a ticket
    /// of `life`, renewable for `renew`.
    pub fn kinit(&self, cache: &Path, life: &str, renew: &str) {
        use std::io::Write;
        let mut c = Command::new("kinit");
        self.env(&mut c);
        let mut child = c
            .args(["-l", life, "-r", renew, "-c"])
            .arg(format!("FILE:{}", cache.display()))
            .arg(USER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit runs");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .expect("write the password");
        let out = child.wait_with_output().expect("kinit ends");
        assert!(out.status.success(), "kinit: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `klist -c CACHE` in the C locale: what MIT's own tool says is in it.
    pub fn klist(&self, cache: &Path) -> String {
        let mut c = Command::new("klist");
        self.env(&mut c);
        let out = c
            .arg("-c")
            .arg(format!("FILE:{}", cache.display()))
            .output()
            .expect("klist runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        self.stop();
    }
}
