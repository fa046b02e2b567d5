//! An OpenSSH certificate for a key that never leaves the machine.
//!
//! Signed: the public key goes to a Vault/OpenBao SSH engine
//! (`<mount>/sign/<role>`), and the reply is checked before anything is
//! written: it parses, certifies our key, carries the principals asked for,
//! is signed by the CA key the engine publishes (`<mount>/public_key`) and
//! ends later than now. The key is made here (ed25519, 0600) when there is
//! none, and written together with its first certificate, so no crash leaves
//! a new key beside an old certificate; after that only the certificate
//! changes, atomically. Then ssh-agent gets the key with its new certificate
//! (see [`agent`]).
//!
//! Watched: a certificate another tool writes (`step ssh`, Teleport's `tsh`)
//! is read for its expiry; a `renew_command`, if given, renews it, and the
//! renewal counts only if the file changed.

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value};
use ssh_key::{Algorithm, Certificate, LineEnding, PrivateKey, PublicKey};

use super::vault::{field, VaultClient};
use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::command;
use crate::fsutil::{self, PUBLIC_FILE_MODE};
use crate::kind::Kind;
use crate::pair::Pair;

mod agent;
mod cert;
mod def;
mod discover;

use cert::InAgent;
pub use def::{cert_path_of, AgentUse, CertType, Keeper, Signer, SshCertSpec, KIND};

#[derive(Debug)]
pub struct SshCert {
    name: String,
    spec: SshCertSpec,
    client: Option<VaultClient>,
}

/// The key a certificate is for: its private half when Evergreen can read
/// it, and a new one's text when it was made just now.
struct Key {
    private: PrivateKey,
    /// A key made for this request, not on disk yet.
    new_text: Option<zeroize::Zeroizing<String>>,
}

impl SshCert {
    pub fn new(name: &str, spec: SshCertSpec) -> Self {
        let client = match &spec.keeper {
            Keeper::Vault(s) => Some(VaultClient::new(s.conn.clone())),
            Keeper::Watch { .. } => None,
        };
        SshCert {
            name: name.to_string(),
            spec,
            client,
        }
    }

    fn path(&self) -> &Path {
        &self.spec.cert_path
    }

    fn read_cert(&self) -> Result<Certificate, Failure> {
        let path = self.path();
        let text = match read_bounded(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(match (&self.spec.keeper, &self.client) {
                    (Keeper::Vault(s), Some(c)) => Failure::absent(format!(
                        "{} does not exist yet; Evergreen has it signed at {}/{}/sign/{} now",
                        path.display(),
                        c.address(),
                        s.mount,
                        s.role
                    )),
                    _ => Failure::transient(format!(
                        "{} does not exist; log in with the tool that writes it (`step ssh login`, `tsh login`) and Evergreen reads it at once",
                        path.display()
                    )),
                })
            }
            Err(e) => return Err(Failure::transient(format!("could not read {}: {e}", path.display()))),
        };
        cert::parse(&text).map_err(|e| Failure::transient(format!("{}: {e}", path.display())))
    }

    /// The private key, read when it is there (and can be read), else made
    /// when Evergreen signs.
    fn key(&self, make: bool) -> Result<Option<Key>, Failure> {
        let path = &self.spec.key_path;
        match std::fs::metadata(path) {
            Ok(meta) => {
                if let Some(problem) = fsutil::exposed_secret(&meta, "private key", path) {
                    return Err(Failure::paused(problem));
                }
                let text = read_bounded(path)
                    .map_err(|e| Failure::paused(format!("could not read the private key {}: {e}", path.display())))?;
                let private = PrivateKey::from_openssh(text.as_bytes()).map_err(|e| {
                    Failure::paused(format!(
                        "{} is not an OpenSSH private key Evergreen can read ({e}); point key_path at one, or move it away and Evergreen makes a new ed25519 key",
                        path.display()
                    ))
                })?;
                Ok(Some(Key {
                    private,
                    new_text: None,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && make => {
                let private = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
                    .map_err(|e| Failure::transient(format!("could not make an ed25519 key: {e}")))?;
                let text = private
                    .to_openssh(LineEnding::LF)
                    .map_err(|e| Failure::transient(format!("could not encode the new key: {e}")))?;
                tracing::info!("{}: made a new ed25519 key for {}", self.name, path.display());
                Ok(Some(Key {
                    private,
                    new_text: Some(text),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::paused(format!(
                "could not read the private key {}: {e}",
                path.display()
            ))),
        }
    }

    fn agent_socket(&self) -> Option<std::path::PathBuf> {
        match self.spec.keeper {
            Keeper::Vault(_) => agent::socket(&self.spec.agent),
            Keeper::Watch { .. } => None,
        }
    }

    /// The agent, looked at (and tidied) in the background of the runtime.
    async fn tend_agent(&self, key: Option<PrivateKey>, cert: &Certificate, now: SystemTime) -> InAgent {
        let Some(sock) = self.agent_socket() else {
            return InAgent::NotAsked;
        };
        let cert = cert.clone();
        tokio::task::spawn_blocking(move || agent::tend(&sock, key.as_ref(), &cert, now))
            .await
            .unwrap_or_else(|_| InAgent::Missing("talking to ssh-agent failed".into()))
    }

    async fn install_in_agent(&self, key: PrivateKey, cert: &Certificate, now: SystemTime) -> InAgent {
        let Some(sock) = self.agent_socket() else {
            return InAgent::NotAsked;
        };
        let cert = cert.clone();
        tokio::task::spawn_blocking(move || agent::install(&sock, &key, &cert, now))
            .await
            .unwrap_or_else(|_| InAgent::Missing("talking to ssh-agent failed".into()))
    }

    fn observation(&self, c: &Certificate, agent: &InAgent) -> Result<Observation, Failure> {
        cert::observation(c, agent).map_err(|e| Failure {
            class: FailureClass::NotRenewable,
            message: format!("{}: {e}", self.path().display()),
            stderr_tail: None,
        })
    }

    async fn look(&self, now: SystemTime) -> Result<Observation, Failure> {
        let c = self.read_cert()?;
        if let Keeper::Vault(_) = self.spec.keeper {
            if let Some(key) = self.key(false)? {
                if c.public_key() != key.private.public_key().key_data() {
                    // What another tool (or an old key) left: the pair is not
                    // usable, and a renewal signs the key that is there.
                    return Err(Failure::absent(format!(
                        "{} is not a certificate of the key {}; Evergreen has the key signed now",
                        self.path().display(),
                        self.spec.key_path.display()
                    )));
                }
                let agent = self.tend_agent(Some(key.private), &c, now).await;
                return self.observation(&c, &agent);
            }
        }
        self.observation(&c, &InAgent::NotAsked)
    }

    async fn sign(&self, signer: &Signer, client: &VaultClient, req: &RenewRequest) -> Result<Renewed, Failure> {
        let key = self.key(true)?.expect("a key is made when there is none");
        let public = key.private.public_key();
        let ca_path = format!("{}/public_key", signer.mount);
        let ca_text = client
            .get_text(&ca_path)
            .await
            .map_err(|e| client.failure(&format!("reading the SSH CA key at {ca_path}"), e))?;
        let ca = cert::parse_public(&ca_text).map_err(|e| {
            Failure::transient(format!(
                "{}/v1/{ca_path}: {e}; is an SSH engine mounted at {}?",
                client.address(),
                signer.mount
            ))
        })?;
        let path = format!("{}/sign/{}", signer.mount, signer.role);
        let reply = client
            .call(Method::POST, &path, Some(&request_body(signer, public)?))
            .await
            .map_err(|e| client.failure(&format!("signing request to {path}"), e))?;
        let what = format!("{}/v1/{path}", client.address());
        let signed = field(&reply, "/data/signed_key", &what)?
            .as_str()
            .ok_or_else(|| Failure::transient(format!("{what}: data.signed_key is not a string")))?;
        let c = cert::check_signed(signed, public.key_data(), &ca, &signer.principals, req.now).map_err(|e| {
            Failure::transient(format!(
                "{what} sent a certificate Evergreen did not keep: {e}; the current files are unchanged"
            ))
        })?;
        let text = c
            .to_openssh()
            .map_err(|e| Failure::transient(format!("could not encode the certificate: {e}")))?;
        self.write(&key, &format!("{text}\n"))?;
        let agent = self.install_in_agent(key.private, &c, req.now).await;
        Ok(Renewed {
            observation: self.observation(&c, &agent)?,
            note: self.reload(req).await,
        })
    }

    /// The reload command after a renewal, if any: the note it leaves.
    async fn reload(&self, req: &RenewRequest) -> String {
        command::reload(
            self.spec.reload_command.as_ref(),
            &self.name,
            self.path(),
            self.spec.command_timeout,
            &req.withheld,
        )
        .await
    }

    /// Writes the certificate; a key made for it goes with it, as one pair.
    fn write(&self, key: &Key, cert_text: &str) -> Result<(), Failure> {
        let failed = |e: crate::error::Error| Failure::transient(e.to_string());
        if let Some(dir) = self
            .spec
            .key_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            fsutil::ensure_private_dir(dir).map_err(failed)?;
        }
        if let Some(key_text) = &key.new_text {
            Pair::new(self.path(), &self.spec.key_path)
                .commit(cert_text.as_bytes(), key_text.as_bytes())
                .map_err(failed)?;
            // The public half, where ssh-keygen and ssh-copy-id look for it.
            if let Ok(pub_text) = key.private.public_key().to_openssh() {
                let mut pub_path = self.spec.key_path.clone().into_os_string();
                pub_path.push(".pub");
                fsutil::atomic_write(
                    Path::new(&pub_path),
                    format!("{pub_text}\n").as_bytes(),
                    PUBLIC_FILE_MODE,
                )
                .map_err(failed)?;
            }
            return Ok(());
        }
        if let Some(dir) = self.path().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::transient(format!("could not create the directory {}: {e}", dir.display())))?;
        }
        fsutil::backup(self.path(), PUBLIC_FILE_MODE).map_err(failed)?;
        fsutil::atomic_write(self.path(), cert_text.as_bytes(), PUBLIC_FILE_MODE).map_err(failed)
    }

    async fn run_command(&self, cmd: &crate::config::CommandSpec, req: &RenewRequest) -> Result<Renewed, Failure> {
        let out = command::renew_file(cmd, &self.name, self.path(), self.spec.command_timeout, &req.withheld).await?;
        let c = self.read_cert().map_err(|f| Failure {
            message: format!("renew command exited 0 but {}", f.message),
            stderr_tail: out.stderr_tail.clone(),
            ..f
        })?;
        if !out.changed {
            return Err(Failure {
                class: FailureClass::Transient,
                message: format!(
                    "renew command exited 0 but the certificate did not change; check that the command writes {}",
                    self.path().display()
                ),
                stderr_tail: out.stderr_tail,
            });
        }
        Ok(Renewed {
            observation: self.observation(&c, &InAgent::NotAsked)?,
            note: self.reload(req).await,
        })
    }
}

/// What `<mount>/sign/<role>` is asked.
fn request_body(signer: &Signer, public: &PublicKey) -> Result<Value, Failure> {
    let key = public
        .to_openssh()
        .map_err(|e| Failure::transient(format!("could not encode the public key: {e}")))?;
    let mut body = json!({
        "public_key": key,
        "cert_type": signer.cert_type.name(),
    });
    if !signer.principals.is_empty() {
        body["valid_principals"] = json!(signer.principals.join(","));
    }
    if let Some(ttl) = signer.ttl {
        body["ttl"] = json!(format!("{}s", ttl.as_secs()));
    }
    if !signer.extensions.is_empty() {
        // A map: the engine refuses the key=value list form.
        let map: Map<String, Value> = signer.extensions.iter().map(|e| (e.clone(), json!(""))).collect();
        body["extensions"] = Value::Object(map);
    }
    Ok(body)
}

/// A key or certificate file, refused when it is larger than any is.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(cert::MAX_TEXT as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > cert::MAX_TEXT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} KiB, more than any key or certificate",
                cert::MAX_TEXT / 1024
            ),
        ));
    }
    Ok(text)
}

#[async_trait]
impl Source for SshCert {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        match &self.spec.keeper {
            Keeper::Vault(_) => true,
            Keeper::Watch { renew_command } => renew_command.is_some(),
        }
    }

    fn tidy(&self) -> Vec<std::path::PathBuf> {
        match self.spec.keeper {
            Keeper::Vault(_) => Pair::new(self.path(), &self.spec.key_path).tidy(),
            Keeper::Watch { .. } => Vec::new(),
        }
    }

    async fn observe(&self, now: SystemTime) -> Result<Observation, Failure> {
        self.look(now).await
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        match (&self.spec.keeper, &self.client) {
            (Keeper::Vault(signer), Some(client)) => self.sign(signer, client, &req).await,
            (Keeper::Watch { renew_command: Some(cmd) }, _) => self.run_command(cmd, &req).await,
            _ => Err(Failure::transient(format!(
                "{} is written by another tool and has no renew_command, so Evergreen cannot renew it; renew it with that tool (`step ssh renew`, `tsh login`), or add renew_command",
                self.path().display()
            ))),
        }
    }
}

/// Bytes as a certificate file, as a signer's reply and as a public key.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = cert::parse(text) {
        let _ = cert::observation(&c, &InAgent::NotAsked);
    }
    if let Ok(ca) = cert::parse_public(text) {
        let _ = cert::check_signed(text, ca.key_data(), &ca, &["alice".into()], SystemTime::UNIX_EPOCH);
    }
}
