//! The users of the user's kubeconfigs (`$KUBECONFIG`, else
//! `~/.kube/config`) whose credential expires: a client certificate, or an
//! OIDC id token kubelogin cached.

use std::path::PathBuf;

use super::file::{self, Held};
use crate::discover::{Found, Places};

/// Each such user, a kubeconfig credential to watch.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let files: Vec<PathBuf> = match places.var("KUBECONFIG") {
        Some(list) => list.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect(),
        None => vec![places.home(".kube/config")],
    };
    let cache = places.home(".kube/cache/oidc-login");
    let mut out = Vec::new();
    for path in files {
        let Ok(k) = file::read(&path) else { continue };
        let shown = places.show(&path);
        for u in &k.users {
            let held = u.user.held(&path, &cache);
            let Ok(obs) = super::observation(&held, &path, &u.name) else {
                continue;
            };
            let contexts = k.contexts_of(&u.name);
            let subject = obs.details.as_ref().map(|d| d.subject.clone()).unwrap_or_default();
            let used_by = if contexts.is_empty() {
                String::new()
            } else {
                format!(" (contexts {})", contexts.join(", "))
            };
            let (what, note) = match &held {
                Held::IdToken { .. } => (
                    format!("user {}{used_by}: id token for {subject}", u.name),
                    "kubelogin refreshes it when kubectl runs; Evergreen shows when it ends",
                ),
                _ => (
                    format!("user {}{used_by}: {subject}", u.name),
                    "add a renew_command (kubeadm kubeconfig user …, a Vault PKI role) for Evergreen to renew it",
                ),
            };
            let mut f = Found::new(super::KIND, &format!("kube-{}", u.name), shown.clone(), what)
                .with("path", shown.clone())
                .with("user", u.name.clone())
                .expiring(Some(obs.lifetime.not_after))
                .noting(note);
            if let Held::File(p) = &held {
                f.covers.push(places.show(p));
            }
            out.push(f);
        }
    }
    out
}
