//! What the Vault and OpenBao kinds share: the connection and its token,
//! and the checks of secrets, CA bundles and key files other kinds use too.

use super::*;

impl Validator<'_> {
    pub(crate) fn vault_conn(&mut self, raw: &RawCredential) -> VaultConn {
        let (who, span) = (raw.who.as_str(), raw.span.clone());
        let address_field = raw.text("address");
        let (address, at) = match (&address_field, &self.around.vault_addr) {
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
            .text("namespace")
            .as_ref()
            .map(|n| n.get_ref().trim().trim_matches('/').to_string())
            .filter(|n| !n.is_empty());
        let ca_bundle = self.ca_bundle(who, &raw.text("ca_bundle"));
        let token = self
            .secret_source(
                who,
                ("token_file", &raw.text("token_file")),
                ("token_env", &raw.text("token_env")),
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
    pub(crate) fn secret_source(
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
    pub(crate) fn ca_bundle(&mut self, who: &str, raw: &Option<Spanned<String>>) -> Option<PathBuf> {
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

    /// `key_path`, else the certificate's path with `.key`; never the certificate itself.
    pub(crate) fn key_path(&mut self, raw: &RawCredential, cert: &str, cert_path: &Path) -> PathBuf {
        let who = raw.who.as_str();
        let field = raw.text("key_path");
        let key_path = match &field {
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
                field.as_ref().map(|p| p.span()),
                format!("{who}: key_path and path are the same file; the key needs its own file"),
            );
        }
        key_path
    }
}
