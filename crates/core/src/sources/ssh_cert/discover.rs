//! Where OpenSSH certificates other tools write usually are: `~/.ssh`
//! (`step ssh`, `vault ssh`, a CA's script) and Teleport's `~/.tsh/keys`.
//! Only the certificates are read; the keys beside them never are.

use std::path::{Path, PathBuf};

use crate::discover::{read_small, Found, Places};

/// Every `*-cert.pub` there, each watched as an ssh_cert.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let is_cert = |n: &str| n.ends_with("-cert.pub");
    let mut files: Vec<(PathBuf, &str)> = places
        .files_in(&places.home(".ssh"), is_cert)
        .into_iter()
        .map(|p| (p, "ssh"))
        .collect();
    // tsh keeps ~/.tsh/keys/PROXY/USER-ssh/CLUSTER-cert.pub.
    for proxy in places.dirs_in(&places.home(".tsh/keys")) {
        for user in places.dirs_in(&proxy) {
            files.extend(places.files_in(&user, is_cert).into_iter().map(|p| (p, "tsh")));
        }
    }
    files
        .into_iter()
        .filter_map(|(path, tool)| found(places, &path, tool))
        .collect()
}

fn found(places: &Places, path: &Path, tool: &str) -> Option<Found> {
    let cert = super::cert::parse(&read_small(path)?).ok()?;
    let stem = path.file_name()?.to_str()?.trim_end_matches("-cert.pub");
    let what = format!("{} for {}", cert.key_id(), cert.valid_principals().join(", "));
    let shown = places.show(path);
    let lifetime = super::cert::lifetime(&cert).ok()?;
    let mut f = Found::new(super::KIND, &format!("{tool}-{stem}"), shown.clone(), what)
        .with("path", shown)
        .expiring(lifetime.map(|l| l.not_after));
    if tool == "tsh" {
        f = f.noting("Teleport renews it at `tsh login`; Evergreen watches it (add renew_command to have it run one)");
    }
    Some(f)
}
