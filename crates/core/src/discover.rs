//! Finding the credentials already on this machine: `evergreen discover` and
//! the window's first run.
//!
//! Each kind says where its credentials usually live (its `KindDef::discover`);
//! this gathers what they find, gives each a free name, marks the ones the
//! config already has, and adds the ones the user picks through the settings
//! form's own validator and writer. Discovery reads only what tells an expiry
//! and an identity: no private key, token or secret is kept, shown or logged,
//! and nothing is added unless the user says so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config_edit::{self, CredentialForm, SaveResult};
use crate::error::{Error, Result};
use crate::model::Kind;

/// Where to look: the user's home and environment (tests hand in their own).
#[derive(Debug, Clone)]
pub struct Places {
    pub home: PathBuf,
    pub uid: u32,
    env: BTreeMap<String, String>,
}

impl Places {
    /// This process's user: `$HOME`, its uid and its environment.
    pub fn of_this_user() -> Places {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("/"));
        Places {
            home,
            uid: rustix::process::getuid().as_raw(),
            env,
        }
    }

    /// Places with the given home, uid and variables, nothing else.
    pub fn new(home: PathBuf, uid: u32, env: BTreeMap<String, String>) -> Places {
        Places { home, uid, env }
    }

    /// A variable, when set and not empty.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A path under the home directory.
    pub fn home(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// How a path is written in the config and shown: `~/…` under the home.
    pub fn show(&self, p: &Path) -> String {
        match p.strip_prefix(&self.home) {
            Ok(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
            _ => p.display().to_string(),
        }
    }

    /// The files in `dir` whose names pass `keep`, sorted; none when it is unreadable.
    pub fn files_in(&self, dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
            .filter(|e| e.file_name().to_str().is_some_and(&keep))
            .map(|e| e.path())
            .take(MAX_PER_DIR)
            .collect();
        out.sort();
        out
    }

    /// The subdirectories of `dir`, sorted.
    pub fn dirs_in(&self, dir: &Path) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .take(MAX_PER_DIR)
            .collect();
        out.sort();
        out
    }
}

/// A directory with thousands of entries is not a credential store: looking
/// stops at this many.
const MAX_PER_DIR: usize = 500;

/// The largest file discovery reads (a kubeconfig, a cache file, a `.ovpn`).
pub const MAX_FILE: u64 = 1024 * 1024;

/// Reads a small file as text; `None` when it is missing, unreadable or too big.
pub fn read_small(path: &Path) -> Option<String> {
    String::from_utf8(crate::fsutil::read_bounded(path, MAX_FILE).ok()?).ok()
}

/// How long a program discovery asks (`gpg`) may take.
const PROGRAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs a program that lists what it keeps (`gpg --list-secret-keys`)
/// with nothing of ours in its environment but `PATH`, the home and
/// `env`, and returns the head of what it printed when it exits 0 within
/// [`PROGRAM_TIMEOUT`] (else, killed, `None`).
pub fn run_quietly(argv: &[String], env: &[(&str, &std::ffi::OsStr)], places: &Places) -> Option<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let (program, args) = argv.split_first()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("HOME", &places.home)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(path) = places.var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().ok()?;
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if waited.recv_timeout(PROGRAM_TIMEOUT).is_err() {
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    });
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(crate::command::STDOUT_MAX as u64).read_to_end(&mut out);
    }
    let status = child.wait();
    let _ = done.send(());
    let _ = watchdog.join();
    status.ok().filter(|s| s.success())?;
    String::from_utf8(out).ok()
}

/// One credential found on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Found {
    /// A free credential name for it (what `--add NAME` takes).
    pub name: String,
    pub kind: Kind,
    /// Where it is: a file (`~/…`), a cache, a keyring.
    pub place: String,
    /// What it is: a subject, a principal, a profile, a key's user id.
    pub what: String,
    /// When it expires (unix ms), where that is written on this machine.
    pub expires_at: Option<i64>,
    /// Evergreen could renew it as found; otherwise it only watches it
    /// (a renew command can be added later).
    pub renews: bool,
    /// Anything the user should know about it.
    pub note: Option<String>,
    /// The config entry that adds it: field → text, as the settings form has it.
    pub values: BTreeMap<String, String>,
    /// The config already has it, under this name.
    pub configured_as: Option<String>,
    /// Files it reads that another kind could find on their own (shown as
    /// `place`), so they are not listed twice.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub covers: Vec<String>,
}

impl Found {
    /// A finding of `kind` named after `name` (made safe and free later).
    pub fn new(kind: Kind, name: &str, place: String, what: String) -> Found {
        Found {
            name: name.to_string(),
            kind,
            place,
            what,
            expires_at: None,
            renews: false,
            note: None,
            values: BTreeMap::new(),
            configured_as: None,
            covers: Vec::new(),
        }
    }

    /// Sets a config field.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Found {
        self.values.insert(key.to_string(), value.into());
        self
    }

    /// Sets its expiry.
    pub fn expiring(mut self, at: Option<std::time::SystemTime>) -> Found {
        self.expires_at = at.map(crate::clock::unix_millis);
        self
    }

    /// Marks it as something Evergreen renews as found.
    pub fn renewing(mut self) -> Found {
        self.renews = true;
        self
    }

    /// Sets the note.
    pub fn noting(mut self, note: impl Into<String>) -> Found {
        self.note = Some(note.into());
        self
    }

    fn form(&self) -> CredentialForm {
        CredentialForm {
            name: self.name.clone(),
            kind: self.kind,
            values: self.values.clone(),
        }
    }
}

/// How a kind finds its credentials.
pub type Discoverer = fn(&Places) -> Vec<Found>;

/// Everything every kind finds, named uniquely, with the config's own
/// credentials marked (`config_file` may be absent).
pub fn discover(places: &Places, config_file: &Path) -> Vec<Found> {
    let mut found: Vec<Found> = Kind::all()
        .filter_map(|k| k.def().discover.map(|d| d(places)))
        .flatten()
        .collect();
    // A certificate file a richer finding reads (a kubeconfig user's
    // client-certificate) is listed once, as that finding.
    let covered: BTreeSet<String> = found.iter().flat_map(|f| f.covers.iter().cloned()).collect();
    found.retain(|f| !f.covers.is_empty() || !covered.contains(&f.place));
    let existing = existing_forms(config_file);
    let mut taken: BTreeSet<String> = existing.iter().map(|f| f.name.clone()).collect();
    for f in &mut found {
        f.configured_as = existing
            .iter()
            .find(|e| {
                e.kind == f.kind
                    && f.values
                        .iter()
                        .all(|(k, v)| e.values.get(k).map(|x| x.trim()) == Some(v.trim()))
            })
            .map(|e| e.name.clone());
        if let Some(n) = &f.configured_as {
            f.name = n.clone();
            continue;
        }
        f.name = free_name(&f.name, &taken);
        taken.insert(f.name.clone());
    }
    found
}

/// The config's credentials as forms; none when there is no config yet.
fn existing_forms(config_file: &Path) -> Vec<CredentialForm> {
    let Some(text) = read_small(config_file) else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let names: Vec<String> = doc
        .get("credential")
        .and_then(toml_edit::Item::as_array_of_tables)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names
        .iter()
        .filter_map(|n| config_edit::read_form(config_file, n).ok())
        .collect()
}

/// `base` made a valid credential name, with `-2`, `-3`… until it is free.
fn free_name(base: &str, taken: &BTreeSet<String>) -> String {
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean = clean.trim_matches(|c| c == '-' || c == '.').chars().take(56).collect();
    if clean.is_empty() {
        clean = "found".into();
    }
    if !taken.contains(&clean) {
        return clean;
    }
    (2..)
        .map(|i| format!("{clean}-{i}"))
        .find(|n| !taken.contains(n))
        .unwrap_or(clean)
}

/// Adds the findings called `names` to the config file, one by one, through
/// the settings form's validator. A name discovery did not find, or one
/// already configured, is refused by name before anything is written.
pub fn add(config_file: &Path, found: &[Found], names: &[String]) -> Result<Vec<(String, SaveResult)>> {
    let mut picked = Vec::new();
    for n in names {
        let Some(f) = found.iter().find(|f| &f.name == n) else {
            let known: Vec<&str> = found
                .iter()
                .filter(|f| f.configured_as.is_none())
                .map(|f| f.name.as_str())
                .collect();
            return Err(Error::Refused(format!(
                "nothing called {n:?} was found on this machine; `evergreen discover` lists what was ({})",
                if known.is_empty() {
                    "nothing new".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        if let Some(c) = &f.configured_as {
            return Err(Error::Refused(format!(
                "{n:?} is already in the config as {c:?}; nothing to add"
            )));
        }
        picked.push(f);
    }
    if let Some(dir) = config_file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create the config directory", dir, e))?;
    }
    picked
        .into_iter()
        .map(|f| Ok((f.name.clone(), config_edit::save(config_file, None, &f.form())?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid_and_free() {
        let taken: BTreeSet<String> = ["kube-admin".to_string(), "kube-admin-2".to_string()].into();
        assert_eq!(free_name("kube-admin", &taken), "kube-admin-3");
        assert_eq!(free_name("ssh/alice@host", &taken), "ssh-alice-host");
        assert_eq!(free_name("", &taken), "found");
        assert!(crate::config::valid_name(&free_name(&"é".repeat(100), &taken)));
    }

    #[test]
    fn paths_under_home_are_shown_with_a_tilde() {
        let p = Places::new("/home/a".into(), 1000, BTreeMap::new());
        assert_eq!(p.show(Path::new("/home/a/.ssh/x")), "~/.ssh/x");
        assert_eq!(p.show(Path::new("/tmp/krb5cc_1000")), "/tmp/krb5cc_1000");
    }
}
