//! The fleet kinds (nixfleet, wrenn, certctl): control plane URLs, tokens
//! and intervals.

use super::*;

impl Validator<'_> {
    /// A control plane URL: https, or plain http on loopback (with a warning)
    /// when `loopback_http` allows it.
    pub(super) fn control_plane_url(
        &mut self,
        who: &str,
        raw: &Option<Spanned<String>>,
        loopback_http: bool,
    ) -> String {
        let url = raw
            .as_ref()
            .map(|u| u.get_ref().trim().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let at = raw.as_ref().map(|u| u.span());
        if url.is_empty() {
            return url;
        }
        match reqwest::Url::parse(&url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(u) if loopback_http && u.scheme() == "http" && crate::http::is_loopback(&u) => {
                self.warnings.push(format!(
                    "{who}: url {url} is plain HTTP; accepted only because it is a loopback address. Use https for anything else"
                ));
            }
            Ok(u) => self.err(
                at,
                format!(
                    "{who}: url {url} uses {:?}; it must be https:// (credentials travel over it)",
                    u.scheme()
                ),
            ),
            Err(e) => self.err(at, format!("{who}: url {url:?} is not a URL ({e})")),
        }
        url
    }

    pub(super) fn wrenn(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> WrennSpec {
        let k = "wrenn";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        let url = self.control_plane_url(who, &raw.url, true);
        let creds = self.required(
            who,
            k,
            "credentials_file",
            "where the host credentials (JSON, 0600) are kept",
            &raw.credentials_file,
            &span,
        );
        let credentials_file = self.path(&creds);
        let registration_token_file = self.token_file(&raw.registration_token_file, &credentials_file);
        let heartbeat_interval = self.interval(
            who,
            "heartbeat_interval",
            &raw.heartbeat_interval,
            Duration::from_secs(30),
            &url,
        );
        WrennSpec {
            url,
            credentials_file,
            registration_token_file,
            heartbeat_interval,
            host_address: self.required(
                who,
                k,
                "host_address",
                "this host's ip:port as the control plane reaches it (wrenn refuses a registration without one, and may call back there)",
                &raw.host_address,
                &span,
            ),
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
        }
    }

    /// Where a fleet credential's one-time token waits: the field, or the
    /// file it is for with `.token` appended.
    pub(super) fn token_file(&self, raw: &Option<Spanned<String>>, beside: &Path) -> PathBuf {
        match raw {
            Some(p) => self.path(p.get_ref()),
            None => {
                let mut p = beside.as_os_str().to_owned();
                p.push(".token");
                PathBuf::from(p)
            }
        }
    }

    pub(super) fn certctl(&mut self, name: &str, who: &str, raw: &RawCredential, span: Range<usize>) -> CertctlSpec {
        let k = "certctl";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        let url = self.certctl_url(who, raw);
        let agent_id = self.required(
            who,
            k,
            "agent_id",
            "the agent's id at the control plane",
            &raw.agent_id,
            &span,
        );
        if !agent_id.is_empty() && !agent_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            self.err(
                raw.agent_id.as_ref().map(|a| a.span()),
                format!("{who}: agent_id {agent_id:?} may only hold letters, digits, '-', '_' and '.'"),
            );
        }
        let api_key = self.api_key(who, raw, &span);
        let key_dir = self.key_dir(name, who, raw, &span);
        let targets = self.targets(who, raw, &span);
        let discovery_dirs = raw
            .discovery_dirs
            .as_ref()
            .map(|d| {
                d.get_ref()
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(|s| self.path(s))
                    .collect()
            })
            .unwrap_or_default();
        let heartbeat_interval = self.interval(
            who,
            "heartbeat_interval",
            &raw.heartbeat_interval,
            Duration::from_secs(60),
            &url,
        );
        let poll_interval = self.interval(who, "poll_interval", &raw.poll_interval, Duration::from_secs(30), &url);
        let discovery_interval = self.interval(
            who,
            "discovery_interval",
            &raw.discovery_interval,
            Duration::from_secs(6 * 3600),
            &url,
        );
        CertctlSpec {
            url,
            agent_id,
            api_key,
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
            key_dir,
            targets,
            discovery_dirs,
            heartbeat_interval,
            poll_interval,
            discovery_interval,
        }
    }

    /// certctl's agent's pre-flight check: plain http is refused before any network call.
    fn certctl_url(&mut self, who: &str, raw: &RawCredential) -> String {
        let plain = raw
            .url
            .as_ref()
            .filter(|u| reqwest::Url::parse(u.get_ref().trim()).is_ok_and(|p| p.scheme() == "http"));
        let Some(u) = plain else {
            return self.control_plane_url(who, &raw.url, false);
        };
        self.err(
            Some(u.span()),
            format!(
                "{who}: url {} uses plain http://; the certctl control plane is HTTPS-only (the API key and the certificates travel over it). Use https://HOST:PORT",
                u.get_ref().trim()
            ),
        );
        String::new()
    }

    /// The agent's API key: from a file or an environment variable, one of them.
    fn api_key(&mut self, who: &str, raw: &RawCredential, span: &Range<usize>) -> TokenSource {
        let source = self.secret_source(
            who,
            ("api_key_file", &raw.api_key_file),
            ("api_key_env", &raw.api_key_env),
            "CERTCTL_API_KEY",
        );
        source.unwrap_or_else(|| {
            self.err(
                Some(span.clone()),
                format!("{who}: kind certctl needs the agent's API key: api_key_file = \"…\" (a file holding only the key, mode 0600) or api_key_env = \"CERTCTL_API_KEY\""),
            );
            TokenSource::Env(String::new())
        })
    }

    /// Where the keys made for CSR jobs live: `key_dir`, else under the data directory.
    fn key_dir(&mut self, name: &str, who: &str, raw: &RawCredential, span: &Range<usize>) -> PathBuf {
        match &raw.key_dir {
            Some(d) if !d.get_ref().trim().is_empty() => self.path(d.get_ref().trim()),
            Some(d) => {
                self.err(
                    Some(d.span()),
                    format!("{who}: key_dir is empty; give a directory for the private keys"),
                );
                PathBuf::new()
            }
            None => match &self.around.data_dir {
                Some(d) => d.join("certctl").join(name).join("keys"),
                None => {
                    self.err(
                        Some(span.clone()),
                        format!("{who}: no data directory to keep the keys in; set key_dir = \"…\""),
                    );
                    PathBuf::new()
                }
            },
        }
    }

    /// `targets = ["ID=CERT_PATH", …]`: each id once, each file once, the key beside it.
    fn targets(&mut self, who: &str, raw: &RawCredential, span: &Range<usize>) -> BTreeMap<String, CertctlTarget> {
        let mut targets = BTreeMap::new();
        match &raw.targets {
        None => self.err(
            Some(span.clone()),
            format!("{who}: kind certctl needs `targets`, the target ids the control plane deploys to and where each certificate goes, e.g. targets = [\"t-web=~/certs/web.pem\"] (its key goes next to it, .key)"),
        ),
        Some(t) if t.get_ref().is_empty() => self.err(
            Some(t.span()),
            format!("{who}: targets is empty; name at least one target id and its certificate file"),
        ),
        Some(t) => {
            for entry in t.get_ref() {
                let (id, path) = entry.split_once('=').map(|(i, p)| (i.trim(), p.trim())).unwrap_or(("", ""));
                if id.is_empty() || path.is_empty() {
                    self.err(
                        Some(t.span()),
                        format!("{who}: target {entry:?} is not TARGET_ID=CERTIFICATE_PATH, e.g. \"t-web=~/certs/web.pem\""),
                    );
                    continue;
                }
                if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                    self.err(
                        Some(t.span()),
                        format!("{who}: target id {id:?} may only hold letters, digits, '-', '_' and '.'"),
                    );
                }
                if targets.contains_key(id) {
                    self.err(Some(t.span()), format!("{who}: target {id:?} is listed twice"));
                }
                let cert_path = self.path(path.trim());
                let key_path = cert_path.with_extension("key");
                if key_path == cert_path {
                    self.err(
                        Some(t.span()),
                        format!("{who}: target {id:?}: {path} ends in .key; give the certificate's path (the key goes next to it)"),
                    );
                }
                if targets.values().any(|o: &CertctlTarget| o.cert_path == cert_path) {
                    self.err(
                        Some(t.span()),
                        format!("{who}: two targets write {path}; each target needs its own file"),
                    );
                }
                targets.insert(id.to_string(), CertctlTarget { cert_path, key_path });
            }
        }
    }
        targets
    }

    pub(super) fn nixfleet(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> NixfleetSpec {
        // The common name of the certificate at `path`, if it has one.
        let enrolled_name = |path: &std::path::Path| -> Option<String> {
            let f = crate::x509::parse(&(self.around.read)(path).ok()?).ok()?;
            let subject = f.leaf().details.subject.clone();
            subject
                .split(", ")
                .find_map(|rdn| rdn.strip_prefix("CN="))
                .map(str::to_string)
                .filter(|cn| !cn.is_empty())
        };
        let k = "nixfleet";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        let url = self.control_plane_url(who, &raw.url, false);
        let cert = self.required(who, k, "path", "the client certificate file", &raw.path, &span);
        let machine_id = match &raw.machine_id {
            Some(m) if !m.get_ref().trim().is_empty() => m.get_ref().trim().to_string(),
            Some(m) => {
                self.err(Some(m.span()), format!("{who}: machine_id is empty"));
                String::new()
            }
            // nixfleet names a machine by its hostname; a machine enrolled
            // under another name keeps it (its certificate's common name).
            None => match enrolled_name(&self.path(&cert)).or_else(|| self.around.hostname.clone()) {
                Some(id) => id,
                None => {
                    self.err(
                        Some(span),
                        format!("{who}: no machine_id, no certificate to take it from and no hostname; set machine_id = \"…\""),
                    );
                    String::new()
                }
            },
        };
        let cert_path = self.path(&cert);
        let enrollment_token_file = self.token_file(&raw.enrollment_token_file, &cert_path);
        let key = self.nixfleet_key(who, raw, &cert, &cert_path);
        NixfleetSpec {
            url,
            cert_path,
            key,
            machine_id,
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
            enrollment_token_file,
        }
    }

    /// `key`: the SSH host key (the default) or a fresh key per
    /// certificate; each takes only its own path field.
    fn nixfleet_key(&mut self, who: &str, raw: &RawCredential, cert: &str, cert_path: &std::path::Path) -> NixfleetKey {
        let mode = raw.key.as_ref().map(|k| (k.get_ref().as_str(), k.span()));
        match mode {
            None | Some(("ssh_host", _)) => {
                if let Some(p) = &raw.key_path {
                    self.err(
                        Some(p.span()),
                        format!("{who}: key_path is for key = \"rotate\"; with the SSH host key set ssh_host_key instead, or remove key_path"),
                    );
                }
                NixfleetKey::SshHost(match &raw.ssh_host_key {
                    Some(p) => self.path(p.get_ref()),
                    None => PathBuf::from("/etc/ssh/ssh_host_ed25519_key"),
                })
            }
            Some(("rotate", _)) => {
                if let Some(p) = &raw.ssh_host_key {
                    self.err(
                        Some(p.span()),
                        format!("{who}: ssh_host_key is for key = \"ssh_host\"; with key = \"rotate\" Evergreen makes its own keys (key_path says where), so remove ssh_host_key"),
                    );
                }
                NixfleetKey::Rotate(self.key_path(who, raw, cert, cert_path))
            }
            Some((other, span)) => {
                self.err(
                    Some(span),
                    format!("{who}: key = {other:?} is not a way to hold the key; use \"ssh_host\" (every CSR signed by the SSH host key) or \"rotate\" (a fresh key for every certificate)"),
                );
                NixfleetKey::SshHost(PathBuf::new())
            }
        }
    }
}
