//! What the fleet kinds share: control plane URLs and one-time token files.

use super::*;

impl Validator<'_> {
    /// A control plane URL: https, or plain http on loopback (with a warning)
    /// when `loopback_http` allows it.
    pub(crate) fn control_plane_url(
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

    /// Where a fleet credential's one-time token waits: the field, or the
    /// file it is for with `.token` appended.
    pub(crate) fn token_file(&self, raw: &Option<Spanned<String>>, beside: &Path) -> PathBuf {
        match raw {
            Some(p) => self.path(p.get_ref()),
            None => {
                let mut p = beside.as_os_str().to_owned();
                p.push(".token");
                PathBuf::from(p)
            }
        }
    }
}
