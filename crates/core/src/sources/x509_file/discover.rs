//! Where certificate files other tools leave behind usually are: step's
//! certificates, Docker's client certificates, minikube's profiles and
//! OpenVPN profiles with an inline certificate. Key files are never opened.

use std::path::PathBuf;

use crate::discover::{Found, Places};

/// The certificate files found, each watched as an x509_file.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let cert = |n: &str| (n.ends_with(".crt") || n.ends_with(".pem")) && !n.contains("key");
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut add = |paths: Vec<PathBuf>, prefix: &str| {
        for p in paths {
            files.push((p, prefix.to_string()));
        }
    };
    add(places.files_in(&places.home(".step/certs"), cert), "step");
    add(places.files_in(&places.home(".docker"), cert), "docker");
    for profile in places.dirs_in(&places.home(".minikube/profiles")) {
        add(
            places.files_in(&profile, |n| n == "client.crt"),
            &format!(
                "minikube-{}",
                profile.file_name().and_then(|n| n.to_str()).unwrap_or("profile")
            ),
        );
    }
    add(
        places.files_in(&places.home(".config/openvpn"), |n| n.ends_with(".ovpn")),
        "vpn",
    );
    files
        .into_iter()
        .filter_map(|(path, prefix)| {
            let file = crate::x509::read_file(&path).ok()?;
            let leaf = file.leaf();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("cert");
            let name = if prefix.starts_with("minikube") {
                prefix.clone()
            } else {
                format!("{prefix}-{stem}")
            };
            let shown = places.show(&path);
            Some(
                Found::new(super::KIND, &name, shown.clone(), leaf.details.subject.clone())
                    .with("path", shown)
                    .expiring(Some(leaf.lifetime.not_after)),
            )
        })
        .collect()
}
