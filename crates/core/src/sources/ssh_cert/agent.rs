//! Keeping ssh-agent in step with the certificate on disk.
//!
//! After each renewal the key goes into the agent with its new certificate,
//! limited to the certificate's remaining validity, and every other
//! certificate of the same key leaves it: `ssh-add -L` lists exactly the
//! current one. The agent's own lifetime limit runs on a clock that stops
//! while the machine sleeps, so a certificate that expired during a sleep is
//! removed by Evergreen when it next looks. The agent is the user's; talking
//! to it can fail (no agent, a locked one), and that never fails a renewal.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ssh_agent_lib::blocking::Client;
use ssh_agent_lib::proto::{
    AddIdentity, AddIdentityConstrained, KeyConstraint, PrivateCredential, PrivateKeyData, PublicCredential,
    RemoveIdentity,
};
use ssh_key::private::KeypairData;
use ssh_key::{Certificate, PrivateKey};

use super::cert::InAgent;
use super::def::AgentUse;

/// A reply from the agent takes no longer than this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The agent's socket for `agent`, if there is one to use.
pub(crate) fn socket(agent: &AgentUse) -> Option<PathBuf> {
    match agent {
        AgentUse::Off => None,
        AgentUse::Socket(p) => Some(p.clone()),
        AgentUse::FromEnv => std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    }
}

fn connect(sock: &Path) -> Result<Client<UnixStream>, String> {
    let s = UnixStream::connect(sock).map_err(|e| format!("could not reach ssh-agent at {}: {e}", sock.display()))?;
    let t = Some(TIMEOUT);
    s.set_read_timeout(t)
        .and_then(|_| s.set_write_timeout(t))
        .map_err(|e| format!("ssh-agent at {}: {e}", sock.display()))?;
    Ok(Client::new(s))
}

fn said(sock: &Path, e: impl std::fmt::Display) -> String {
    format!("ssh-agent at {} refused: {e}", sock.display())
}

/// The certificates of `cert`'s key the agent holds.
fn held(c: &mut Client<UnixStream>, sock: &Path, cert: &Certificate) -> Result<Vec<Certificate>, String> {
    let ids = c.request_identities().map_err(|e| said(sock, e))?;
    Ok(ids
        .into_iter()
        .filter_map(|id| match id.credential {
            PublicCredential::Cert(c) if c.public_key() == cert.public_key() => Some(*c),
            _ => None,
        })
        .collect())
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn remove(c: &mut Client<UnixStream>, sock: &Path, old: Certificate) -> Result<(), String> {
    c.remove_identity(RemoveIdentity {
        credential: PublicCredential::Cert(Box::new(old)),
    })
    .map_err(|e| said(sock, e))
}

fn until(cert: &Certificate) -> i64 {
    i64::try_from(cert.valid_before().saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Puts `key` with `cert` into the agent for the certificate's remaining
/// validity and removes every other certificate of the key.
pub(crate) fn install(sock: &Path, key: &PrivateKey, cert: &Certificate, now: SystemTime) -> InAgent {
    match try_install(sock, key, cert, now) {
        Ok(()) => InAgent::Until(until(cert)),
        Err(why) => InAgent::Missing(why),
    }
}

fn try_install(sock: &Path, key: &PrivateKey, cert: &Certificate, now: SystemTime) -> Result<(), String> {
    let privkey =
        match key.key_data() {
            _ if key.is_encrypted() => return Err(
                "the key is protected by a passphrase, which Evergreen does not hold; add it yourself with `ssh-add`"
                    .into(),
            ),
            KeypairData::Ed25519(k) => PrivateKeyData::Ed25519(k.clone()),
            _ => {
                return Err(format!(
                    "Evergreen adds only ed25519 keys to ssh-agent, and this one is {}; add it yourself with `ssh-add`",
                    key.algorithm()
                ))
            }
        };
    let left = cert.valid_before().saturating_sub(unix(now));
    if left == 0 {
        return Err("the certificate has expired".into());
    }
    let mut c = connect(sock)?;
    let credential = PrivateCredential::Cert {
        algorithm: cert.algorithm(),
        certificate: Box::new(cert.clone()),
        privkey,
        comment: cert.key_id().to_string(),
    };
    c.add_identity_constrained(AddIdentityConstrained {
        identity: AddIdentity { credential },
        constraints: vec![KeyConstraint::Lifetime(u32::try_from(left).unwrap_or(u32::MAX))],
    })
    .map_err(|e| said(sock, e))?;
    for old in held(&mut c, sock, cert)? {
        if old != *cert {
            remove(&mut c, sock, old)?;
        }
    }
    Ok(())
}

/// Looks at the agent: removes the key's certificates that have expired by
/// `now` (a sleep stops the agent's own clock) and says whether it holds
/// `cert`. With `key`, a valid certificate the agent lacks (it restarted)
/// goes back in.
pub(crate) fn tend(sock: &Path, key: Option<&PrivateKey>, cert: &Certificate, now: SystemTime) -> InAgent {
    let look = || -> Result<bool, String> {
        let mut c = connect(sock)?;
        let mut has = false;
        for old in held(&mut c, sock, cert)? {
            if old.valid_before() <= unix(now) {
                remove(&mut c, sock, old)?;
            } else if old == *cert {
                has = true;
            }
        }
        Ok(has)
    };
    match look() {
        Ok(true) => InAgent::Until(until(cert)),
        Ok(false) if cert.valid_before() <= unix(now) => InAgent::Missing("the certificate has expired".into()),
        Ok(false) => match key {
            Some(k) => install(sock, k, cert, now),
            None => InAgent::Missing("it is not there".into()),
        },
        Err(why) => InAgent::Missing(why),
    }
}
