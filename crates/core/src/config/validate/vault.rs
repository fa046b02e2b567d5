//! The Vault and OpenBao kinds: the connection, the token, the PKI role.

use super::*;

impl Validator<'_> {
    pub(super) fn vault_conn(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> VaultConn {
        let (address, at) = match (&raw.address, &self.around.vault_addr) {
            (Some(a), _) => (a.get_ref().trim().to_string(), Some(a.span())),
            (None, Some(a)) => (a.trim().to_string(), None),
            (None, None) => {
                self.err(
                    Some(span),
                    format!("{who}: no Vault address; set address = \"https://vault.example.com:8200\", or export VAULT_ADDR (or BAO_ADDR) before starting Evergreen"),
                );
                (String::new(), None)
            }
        };
        let address = address.trim_end_matches('/').to_string();
        if !address.is_empty() {
            let whence = if at.is_some() {
                "address"
            } else {
                "the address from VAULT_ADDR/BAO_ADDR"
            };
            match reqwest::Url::parse(&address) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && crate::http::is_loopback(&u) => {
                    self.warnings.push(format!(
                        "{who}: {whence} {address} is plain HTTP; that is only accepted because it is a loopback address (a dev server). Use https for anything else"
                    ));
                }
                Ok(u) if u.scheme() == "http" => self.err(
                    at,
                    format!("{who}: {whence} {address} is plain HTTP to another host, which would send the token in clear text; use https://"),
                ),
                Ok(u) => self.err(
                    at,
                    format!("{who}: {whence} {address} has scheme {:?}; use https://HOST:PORT", u.scheme()),
                ),
                Err(e) => self.err(
                    at,
                    format!("{who}: {whence} {address:?} is not a URL ({e}); write it like \"https://vault.example.com:8200\""),
                ),
            }
        }
        let namespace = raw
            .namespace
            .as_ref()
            .map(|n| n.get_ref().trim().trim_matches('/').to_string())
            .filter(|n| !n.is_empty());
        let ca_bundle = self.ca_bundle(who, &raw.ca_bundle);
        let token = self
            .secret_source(
                who,
                ("token_file", &raw.token_file),
                ("token_env", &raw.token_env),
                "VAULT_TOKEN",
            )
            .unwrap_or_else(|| TokenSource::File(self.path("~/.vault-token")));
        VaultConn {
            address,
            namespace,
            ca_bundle,
            token,
        }
    }

    /// A secret read from a file or an environment variable (`*_file` or
    /// `*_env`, not both); `None` when neither is set.
    pub(super) fn secret_source(
        &mut self,
        who: &str,
        (file_key, file): (&str, &Option<Spanned<String>>),
        (env_key, env): (&str, &Option<Spanned<String>>),
        example_env: &str,
    ) -> Option<TokenSource> {
        match (file, env) {
            (Some(_), Some(e)) => {
                self.err(
                    Some(e.span()),
                    format!("{who}: set either {file_key} or {env_key}, not both"),
                );
                Some(TokenSource::Env(String::new()))
            }
            (Some(f), None) => Some(TokenSource::File(self.path(f.get_ref()))),
            (None, Some(e)) => {
                let v = e.get_ref().trim();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.err(
                        Some(e.span()),
                        format!("{who}: {env_key} = {v:?} is not an environment variable name; write e.g. {env_key} = \"{example_env}\""),
                    );
                }
                Some(TokenSource::Env(v.to_string()))
            }
            (None, None) => None,
        }
    }

    /// The CA bundle field, checked now so a bad one is a startup error.
    pub(super) fn ca_bundle(&mut self, who: &str, raw: &Option<Spanned<String>>) -> Option<PathBuf> {
        let c = raw.as_ref()?;
        let path = self.path(c.get_ref());
        let read = (self.around.read)(&path).map_err(|e| Error::io("read CA bundle", &path, e));
        match read.and_then(|pem| crate::http::parse_ca_bundle(&pem, &path)) {
            Ok(_) => Some(path),
            Err(e) => {
                self.err(Some(c.span()), format!("{who}: ca_bundle: {e}"));
                None
            }
        }
    }

    pub(super) fn vault_pki(
        &mut self,
        who: &str,
        raw: &RawCredential,
        span: Range<usize>,
        conn: VaultConn,
    ) -> VaultPkiSpec {
        let k = "vault_pki";
        let role = self.required(
            who,
            k,
            "role",
            "the PKI role to issue from (pki/roles/NAME)",
            &raw.role,
            &span,
        );
        let common_name = self.required(
            who,
            k,
            "common_name",
            "the certificate's common name",
            &raw.common_name,
            &span,
        );
        let cert = self.required(who, k, "path", "where the certificate is written", &raw.path, &span);
        let cert_path = self.path(&cert);
        let key_path = self.key_path(who, raw, &cert, &cert_path);
        let mount = raw
            .mount
            .as_ref()
            .map(|m| m.get_ref().trim().trim_matches('/').to_string())
            .unwrap_or_else(|| "pki".into());
        if mount.is_empty() {
            self.err(
                raw.mount.as_ref().map(|m| m.span()),
                format!("{who}: mount is empty; the default is \"pki\""),
            );
        }
        let ttl = raw.ttl.as_ref().and_then(|t| self.duration(&format!("{who}: ttl"), t));
        let ip_sans = list(&raw.ip_sans);
        for ip in &ip_sans {
            if ip.parse::<std::net::IpAddr>().is_err() {
                self.err(
                    raw.ip_sans.as_ref().map(|l| l.span()),
                    format!("{who}: ip_sans entry {ip:?} is not an IP address"),
                );
            }
        }
        VaultPkiSpec {
            conn,
            mount,
            role,
            common_name,
            alt_names: list(&raw.alt_names),
            ip_sans,
            ttl,
            key_type: self.key_type(who, &raw.key_type),
            mode: self.pki_mode(who, &raw.mode),
            cert_path,
            key_path,
            reload_command: None,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// `key_path`, else the certificate's path with `.key`; never the certificate itself.
    pub(super) fn key_path(&mut self, who: &str, raw: &RawCredential, cert: &str, cert_path: &Path) -> PathBuf {
        let key_path = match &raw.key_path {
            Some(p) if !p.get_ref().trim().is_empty() => self.path(p.get_ref()),
            Some(p) => {
                self.err(
                    Some(p.span()),
                    format!("{who}: key_path is empty; give where the private key is kept"),
                );
                PathBuf::new()
            }
            None => cert_path.with_extension("key"),
        };
        if !cert.is_empty() && key_path == cert_path {
            self.err(
                raw.key_path.as_ref().map(|p| p.span()),
                format!("{who}: key_path and path are the same file; the key needs its own file"),
            );
        }
        key_path
    }

    fn key_type(&mut self, who: &str, raw: &Option<Spanned<String>>) -> KeyType {
        let Some(t) = raw else { return KeyType::EcP256 };
        match t.get_ref().as_str() {
            "ec-p256" => KeyType::EcP256,
            "ec-p384" => KeyType::EcP384,
            "ed25519" => KeyType::Ed25519,
            other => {
                self.err(
                    Some(t.span()),
                    format!(
                        "{who}: key_type = {other:?} is not supported; use one of: {}",
                        KeyType::NAMES.join(", ")
                    ),
                );
                KeyType::EcP256
            }
        }
    }

    fn pki_mode(&mut self, who: &str, raw: &Option<Spanned<String>>) -> PkiMode {
        let Some(m) = raw else { return PkiMode::Sign };
        match m.get_ref().as_str() {
            "sign" => PkiMode::Sign,
            "issue" => PkiMode::Issue,
            other => {
                self.err(
                    Some(m.span()),
                    format!("{who}: mode = {other:?} is unknown; use \"sign\" (key made here, CSR sent; the default) or \"issue\" (the server makes the key)"),
                );
                PkiMode::Sign
            }
        }
    }
}

/// A list field's entries, trimmed, the empty ones dropped.
fn list(v: &Option<Spanned<Vec<String>>>) -> Vec<String> {
    v.as_ref()
        .map(|l| {
            l.get_ref()
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}
