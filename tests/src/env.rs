//! A user's machine in a directory: `evergreen` with its own config, data and
//! runtime directories, run as a background engine and as one-shot commands.
//!
//! Waiting here is polling a real process for a bounded time, never a fixed
//! sleep standing in for a result.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use evergreen_core::pki::Ca;
use serde_json::Value;

use crate::{evergreen_bin, Run};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let now = SystemTime::now();
        let ca = Ca::new("Test CA", now - Duration::from_secs(3600), Duration::from_secs(86_400)).unwrap();
        ca.save(&env.certs().join("demo-ca.pem"), &env.certs().join("demo-ca.key"))
            .ok();
        env
    }

    pub fn certs(&self) -> PathBuf {
        let p = self.dir.path().join("certs");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// A certificate `aged` into a `lifetime`, issued by the test CA.
    pub fn cert(&self, name: &str, aged: Duration, lifetime: Duration) -> PathBuf {
        let ca = Ca::load(&self.certs().join("demo-ca.pem"), &self.certs().join("demo-ca.key")).unwrap();
        let issued = ca.issue(name, SystemTime::now() - aged, lifetime).unwrap();
        let p = self.certs().join(format!("{name}.pem"));
        std::fs::write(&p, issued.cert_pem).unwrap();
        p
    }

    /// A config block for an x509 file renewed by `evergreen demo-renew`.
    pub fn renewing(&self, name: &str, lifetime: &str, extra: &str) -> String {
        format!(
            "[[credential]]\nname = \"{name}\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"{}\", \"demo-renew\", \"--dir\", \"{}\", \"--name\", \"{name}\", \"--lifetime\", \"{lifetime}\"]\n{extra}\n",
            self.certs().join(format!("{name}.pem")).display(),
            evergreen_bin().display(),
            self.certs().display()
        )
    }

    pub fn write_config(&self, text: &str) {
        // Replace by rename, as editors do.
        // 0600 whatever the umask: Evergreen refuses a config others can change.
        let tmp = self.dir.path().join(".config.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        std::fs::rename(tmp, self.config()).unwrap();
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(evergreen_bin());
        c.env("EVERGREEN_CONFIG", self.config())
            .env("EVERGREEN_DATA_DIR", self.dir.path().join("data"))
            .env("EVERGREEN_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("EVERGREEN_LOG")
            // Output in a UTF-8 locale, whatever the machine's: marks and bars
            // are ✓ and █ (the ASCII ones have a test of their own).
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", "C.UTF-8");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.cmd().args(args).output().unwrap();
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        r
    }

    /// `evergreen run` with these `args`, started without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Daemon {
        self.spawn_with(args, &[])
    }

    /// [`Env::spawn`] with these environment variables set.
    pub fn spawn_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        self.spawn_in(&[], args, vars)
    }

    /// [`Env::spawn_with`] run through `wrapper` (e.g. `ip netns exec NAME`),
    /// which is handed the `evergreen` binary and `args`.
    pub fn spawn_in(&self, wrapper: &[&str], args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let n = rand_suffix();
        let log = self.dir.path().join(format!("run-{n}.log"));
        let err = self.dir.path().join(format!("run-{n}.err"));
        let mut cmd = self.cmd();
        if let Some((program, rest)) = wrapper.split_first() {
            let inner = cmd;
            cmd = Command::new(program);
            cmd.args(rest).arg(inner.get_program());
            for (k, v) in inner.get_envs() {
                match v {
                    Some(v) => cmd.env(k, v),
                    None => cmd.env_remove(k),
                };
            }
        }
        let child = cmd
            .args(args)
            .envs(vars.iter().copied())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log, err }
    }

    /// `evergreen run`, once it answers on its socket.
    pub fn start(&self) -> Daemon {
        self.start_with(&[])
    }

    /// [`Env::start`] with these environment variables set.
    pub fn start_with(&self, vars: &[(&str, &str)]) -> Daemon {
        let d = self.spawn_with(&["run", "--json"], vars);
        wait_for("the engine to answer on its socket", Duration::from_secs(20), || {
            // 3 is "no engine"; 0 or 1 is an answer.
            self.run(&["status", "--json"]).code < 2
        });
        d
    }

    pub fn status(&self) -> Vec<Value> {
        let r = self.run(&["status", "--json"]);
        serde_json::from_str::<Value>(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {r:?}"))
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn status_of(&self, name: &str) -> Value {
        self.status()
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in status"))
    }
}

pub fn rand_suffix() -> u32 {
    std::process::id()
        ^ SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
}

pub struct Daemon {
    pub child: Child,
    /// Its stdout: events, one JSON object per line (`run --json`).
    pub log: PathBuf,
    /// Its stderr: the engine's log.
    pub err: PathBuf,
}

impl Daemon {
    /// What the engine has logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn has_event(&self, pred: impl Fn(&Value) -> bool) -> bool {
        self.events().iter().any(pred)
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn stop(mut self) -> i32 {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "engine did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
