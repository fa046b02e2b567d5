//! A real OpenSSH server and a real ssh-agent for the tests, each its own
//! process in a temporary directory, killed on drop.
//!
//! `sshd` is Debian's `openssh-server` (`make test` installs it) on a free
//! loopback port, trusting one user CA (`TrustedUserCAKeys`) and nothing
//! else: no passwords, no authorized keys. It logs in the user running the
//! tests (as root in CI; a non-root sshd can only log in its own user).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The user the tests run as: the principal a certificate needs.
pub fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sshd_bin() -> PathBuf {
    ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("sshd was not found; `make test` installs it (Debian's openssh-server)")
}

pub struct Sshd {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd trusting `ca_pub` (an OpenSSH public key line) for user
    /// certificates, and waits until it listens.
    pub fn trusting(ca_pub: &str) -> Sshd {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        // Privilege separation needs its directory when sshd runs as root.
        if is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let host_key = d.join("host_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .output()
            .expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(d.join("ca.pub"), format!("{}\n", ca_pub.trim())).expect("write the CA key");
        for _ in 0..5 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
                l.local_addr().expect("its address").port()
            };
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nTrustedUserCAKeys {}\nAuthorizedKeysFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile none\nLogLevel VERBOSE\n",
                    host_key.display(),
                    d.join("ca.pub").display()
                ),
            )
            .expect("write sshd_config");
            let mut child = Command::new(sshd_bin())
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sshd starts");
            // sshd says so on stderr when it listens, or why it cannot.
            let err = child.stderr.take().expect("piped stderr");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut lines = BufReader::new(err).lines();
                let mut said = Vec::new();
                for l in lines.by_ref().map_while(Result::ok) {
                    let ready = l.contains("Server listening on");
                    said.push(l);
                    if ready || said.len() > 50 {
                        let _ = tx.send((ready, said.join("\n")));
                        // Keep reading, so sshd never blocks on a full pipe.
                        for _ in lines.by_ref() {}
                        return;
                    }
                }
                let _ = tx.send((false, said.join("\n")));
            });
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((true, _)) => return Sshd { child, port, _dir: dir },
                Ok((false, said)) if said.contains("Address already in use") => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                other => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("sshd did not start: {other:?}");
                }
            }
        }
        panic!("no free port for sshd after five tries")
    }

    /// `ssh` to this server as `user` running `true`, with exactly the
    /// identity given: a key (whose `KEY-cert.pub` ssh loads beside it) or
    /// an agent. Returns whether the login worked, and what ssh said.
    pub fn login(&self, user: &str, with: Identity<'_>) -> (bool, String) {
        let mut c = Command::new("ssh");
        c.args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "LogLevel=ERROR",
            "-p",
        ])
        .arg(self.port.to_string());
        match with {
            Identity::Key(key) => {
                c.args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i"])
                    .arg(key);
            }
            Identity::Agent(sock) => {
                c.arg("-o")
                    .arg(format!("IdentityAgent={}", sock.display()))
                    .args(["-o", "IdentityFile=none"]);
            }
        }
        c.arg(format!("{user}@127.0.0.1")).arg("true");
        let out = c.stdin(Stdio::null()).output().expect("ssh runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `ssh` logs in with.
pub enum Identity<'a> {
    Key(&'a Path),
    Agent(&'a Path),
}

fn is_root() -> bool {
    user() == "root"
}

/// A real `ssh-agent` on a socket of its own.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts `ssh-agent -D -a SOCKET` and waits until it says where it
    /// listens (its first line).
    pub fn start() -> Agent {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("agent.sock");
        let mut child = Command::new("ssh-agent")
            .args(["-D", "-s", "-a"])
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let line = crate::first_line(&mut child, Duration::from_secs(20)).expect("ssh-agent says where it listens");
        assert!(line.contains("SSH_AUTH_SOCK"), "ssh-agent said {line:?}");
        Agent {
            child,
            socket,
            _dir: dir,
        }
    }

    /// `ssh-add -L`: the public keys and certificates it holds, each as its
    /// type and blob (without the comment).
    pub fn list(&self) -> Vec<String> {
        let out = Command::new("ssh-add")
            .arg("-L")
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("ssh-add runs");
        // Exit status 1 with "The agent has no identities." is an empty list.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
