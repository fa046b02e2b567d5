//! From the raw file to a [`Config`]: every field checked, every problem
//! kept with its span. The kind families have rooms of their own.

use super::*;

mod fleet;
mod vault;

pub(crate) struct Validator<'a> {
    pub(crate) problems: Vec<Problem>,
    pub(crate) warnings: Vec<String>,
    pub(crate) base: PathBuf,
    /// Everything read from outside the text, handed in.
    pub(crate) around: &'a Surroundings,
}

impl Validator<'_> {
    pub(crate) fn err(&mut self, span: Option<Range<usize>>, message: String) {
        self.problems.push(Problem { span, message });
    }

    pub(super) fn config(&mut self, raw: RawConfig) -> Config {
        let mut engine = match raw.engine {
            Some(e) => self.engine(e.into_inner()),
            None => EngineSettings::default(),
        };
        if let Some(m) = raw.metrics {
            let span = m.span();
            engine.metrics = self.metrics(m.into_inner(), span);
        }
        let mut credentials = Vec::new();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for c in raw.credential {
            let span = c.span();
            if let Some(cfg) = self.credential(c.into_inner(), span.clone()) {
                if seen.contains_key(&cfg.name) {
                    self.err(
                        Some(span),
                        format!(
                            "duplicate credential name {:?}; every credential needs its own name",
                            cfg.name
                        ),
                    );
                    continue;
                }
                seen.insert(cfg.name.clone(), span);
                credentials.push(cfg);
            }
        }
        self.resolve(&mut credentials, &seen);
        Config {
            engine,
            credentials,
            warnings: std::mem::take(&mut self.warnings),
        }
    }

    /// Settles what credentials say about each other by name (a token
    /// borrowed, a certificate logged in with).
    fn resolve(&mut self, credentials: &mut [CredentialConfig], spans: &BTreeMap<String, Range<usize>>) {
        let specs: BTreeMap<String, Arc<dyn crate::kind::Spec>> =
            credentials.iter().map(|c| (c.name.clone(), c.spec.clone())).collect();
        for c in credentials.iter_mut() {
            let find = |name: &str| (name != c.name).then(|| specs.get(name).cloned()).flatten();
            match c.spec.resolve(&find) {
                Ok(Some(settled)) => c.spec = settled,
                Ok(None) => {}
                Err(why) => self.err(spans.get(&c.name).cloned(), format!("credential {:?}: {why}", c.name)),
            }
        }
    }

    pub(super) fn engine(&mut self, raw: RawEngine) -> EngineSettings {
        let mut e = EngineSettings::default();
        if let Some(j) = raw.jitter {
            e.jitter = self.jitter("[engine] jitter", j);
        }
        if let Some(list) = raw.notify_before {
            let mut out = Vec::new();
            for item in list.into_inner() {
                if let Some(d) = self.duration("[engine] notify_before", &item) {
                    out.push(d);
                }
            }
            out.sort_by(|a, b| b.cmp(a));
            out.dedup();
            e.notify_before = out;
        }
        if let Some(days) = raw.history_days {
            if *days.get_ref() < 1 {
                self.err(
                    Some(days.span()),
                    format!("[engine] history_days = {} must be at least 1", days.get_ref()),
                );
            } else {
                e.history_max_age = Duration::from_secs(*days.get_ref() as u64 * 86_400);
            }
        }
        if let Some(n) = raw.history_per_credential {
            if *n.get_ref() < 10 {
                self.err(
                    Some(n.span()),
                    format!("[engine] history_per_credential = {} must be at least 10", n.get_ref()),
                );
            } else {
                e.history_per_credential = *n.get_ref() as usize;
            }
        }
        if let Some(b) = raw.retry_base {
            if let Some(d) = self.duration("[engine] retry_base", &b) {
                e.backoff.base = d.max(Duration::from_secs(1));
            }
        }
        if let Some(m) = raw.retry_max {
            if let Some(d) = self.duration("[engine] retry_max", &m) {
                e.backoff.cap = d;
            }
        }
        if let Some(w) = raw.notify_flap_window {
            if let Some(d) = self.duration("[engine] notify_flap_window", &w) {
                e.flap_window = d;
            }
        }
        if let Some(w) = raw.notify_offline_after {
            if let Some(d) = self.duration("[engine] notify_offline_after", &w) {
                e.offline_notice = d;
            }
        }
        if e.backoff.cap < e.backoff.base {
            self.err(None, "[engine] retry_max must not be shorter than retry_base".into());
        }
        e
    }

    /// `[metrics]`: an address and port to serve `/metrics` on, loopback
    /// unless `allow_remote` says otherwise (the series name every
    /// credential and when it expires, which is nobody else's business).
    pub(super) fn metrics(&mut self, raw: RawMetrics, table: Range<usize>) -> Option<MetricsSettings> {
        let Some(listen) = raw.listen else {
            self.err(
                Some(table),
                format!(
                    "[metrics] needs `listen`, the address to serve /metrics on, e.g. listen = \"127.0.0.1:{METRICS_PORT}\""
                ),
            );
            return None;
        };
        let text = listen.get_ref().trim();
        let addr = text
            .parse::<std::net::SocketAddr>()
            .ok()
            .or_else(|| {
                text.parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| (ip, METRICS_PORT).into())
            })
            .or_else(|| match text.strip_prefix("localhost") {
                Some("") => Some(([127, 0, 0, 1], METRICS_PORT).into()),
                Some(port) => port
                    .strip_prefix(':')
                    .and_then(|p| p.parse::<u16>().ok())
                    .map(|p| ([127, 0, 0, 1], p).into()),
                None => None,
            });
        let Some(addr) = addr else {
            self.err(
                Some(listen.span()),
                format!(
                    "[metrics] listen = {:?} is not an address and port; write e.g. \"127.0.0.1:{METRICS_PORT}\" or \"[::1]:{METRICS_PORT}\"",
                    listen.get_ref()
                ),
            );
            return None;
        };
        let remote = raw.allow_remote.as_ref().is_some_and(|a| *a.get_ref());
        if !addr.ip().is_loopback() && !remote {
            self.err(
                Some(listen.span()),
                format!(
                    "[metrics] listen = {:?} is reachable from other machines, and the metrics name every credential and when it expires; \
                     listen on 127.0.0.1 (a local Prometheus or node-exporter reads it there), or add allow_remote = true to [metrics] to serve it beyond this machine on purpose",
                    listen.get_ref()
                ),
            );
            return None;
        }
        Some(MetricsSettings { listen: addr })
    }

    pub(crate) fn jitter(&mut self, what: &str, j: Spanned<f64>) -> f64 {
        let v = *j.get_ref();
        if !(0.0..=0.5).contains(&v) || v.is_nan() {
            self.err(
                Some(j.span()),
                format!("{what} = {v} is out of range; use a fraction from 0 to 0.5 (0.1 means ±10 %)"),
            );
            0.1
        } else {
            v
        }
    }

    /// A duration from [`MIN_DURATION`] to [`MAX_DURATION`]: the engine adds
    /// durations to instants, so an absurd one is refused here, with its line.
    pub(crate) fn duration(&mut self, what: &str, s: &Spanned<String>) -> Option<Duration> {
        let min = MIN_DURATION;
        match humantime::parse_duration(s.get_ref().trim()) {
            Ok(d) if d.is_zero() => {
                self.err(
                    Some(s.span()),
                    format!("{what} = {:?} must be longer than zero", s.get_ref()),
                );
                None
            }
            Ok(d) if d < min => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is too short; use at least \"{}\"",
                        s.get_ref(),
                        humantime::format_duration(min)
                    ),
                );
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is longer than 100 years; write a real duration like \"72h\", \"30m\" or \"7d\"",
                        s.get_ref()
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is not a duration ({e}); write it like \"72h\", \"30m\" or \"7d\"",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
        let expanded = match p.strip_prefix("~/") {
            Some(rest) => match &self.around.home {
                Some(home) => home.join(rest),
                None => PathBuf::from(p),
            },
            None => PathBuf::from(p),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base.join(expanded)
        }
    }

    pub(crate) fn command(
        &mut self,
        who: &str,
        field: &str,
        raw: Option<Spanned<RawCommand>>,
        shell: bool,
    ) -> Option<CommandSpec> {
        let raw = raw?;
        let span = raw.span();
        match raw.into_inner() {
            RawCommand::Argv(v) if v.is_empty() || v[0].trim().is_empty() => {
                self.err(Some(span), format!("{who}: {field} is empty; give the program and its arguments, e.g. [\"step\", \"ca\", \"renew\", …]"));
                None
            }
            RawCommand::Argv(v) => Some(CommandSpec::Argv(v)),
            RawCommand::Shell(s) if shell => Some(CommandSpec::Shell(s)),
            RawCommand::Shell(s) => {
                let hint: Vec<String> = s.split_whitespace().map(|w| format!("{w:?}")).collect();
                self.err(
                    Some(span),
                    format!(
                        "{who}: {field} is a string, but commands run without a shell; write it as an array, e.g. [{}], or add `shell = true` to run it through /bin/sh",
                        hint.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// How often a control plane at `url` is asked: at least
    /// [`MIN_SERVER_INTERVAL`] unless it is on this machine.
    pub(crate) fn interval(
        &mut self,
        who: &str,
        field: &str,
        raw: &Option<Spanned<String>>,
        default: Duration,
        url: &str,
    ) -> Duration {
        let Some(v) = raw else { return default };
        let Some(d) = self.duration(&format!("{who}: {field}"), v) else {
            return default;
        };
        let on_this_machine = url::Url::parse(url).is_ok_and(|u| crate::http::is_loopback(&u));
        if d < MIN_SERVER_INTERVAL && !on_this_machine {
            self.err(
                Some(v.span()),
                format!(
                    "{who}: {field} = {:?} would ask {url} more often than every {}; Evergreen never asks a server that often (intervals that short are for a control plane on this machine). Use at least \"{}\"",
                    v.get_ref(),
                    humantime::format_duration(MIN_SERVER_INTERVAL),
                    humantime::format_duration(MIN_SERVER_INTERVAL)
                ),
            );
            return default;
        }
        d
    }

    /// The renewal policy: a fraction or a lead time (not both), else the kind's default.
    fn policy(
        &mut self,
        who: &str,
        fraction: Option<Spanned<f64>>,
        before: Option<Spanned<String>>,
        kind: Option<Kind>,
    ) -> RenewPolicy {
        let default = kind.map_or_else(RenewPolicy::default, RenewPolicy::default_for);
        match (fraction, before) {
            (Some(_), Some(b)) => {
                self.err(
                    Some(b.span()),
                    format!("{who}: set either renew_at_fraction or renew_before, not both"),
                );
                default
            }
            (Some(f), None) => {
                let v = *f.get_ref();
                if v > 0.0 && v < 1.0 {
                    RenewPolicy::Fraction(v)
                } else {
                    self.err(
                        Some(f.span()),
                        format!("{who}: renew_at_fraction = {v} is out of range; it must be strictly between 0 and 1 (0.33 renews when a third of the lifetime is left)"),
                    );
                    default
                }
            }
            (None, Some(b)) => match self.duration(&format!("{who}: renew_before"), &b) {
                Some(d) => RenewPolicy::Before(d),
                None => default,
            },
            (None, None) => default,
        }
    }

    /// `command_timeout`, else the default.
    pub(crate) fn command_timeout(&mut self, raw: &RawCredential) -> Duration {
        match raw.text("command_timeout") {
            Some(t) => self
                .duration(&format!("{}: command_timeout", raw.who), &t)
                .unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            None => DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// A command field, checked (`shell = true` lets it be one string).
    /// A URL field secrets travel to: https, or http to this machine only.
    /// Returns it without a trailing '/'.
    pub(crate) fn secure_url(&mut self, raw: &RawCredential, key: &str) -> Option<String> {
        let who = raw.who.as_str();
        let t = raw.text(key)?;
        let u = t.get_ref().trim().trim_end_matches('/').to_string();
        match reqwest::Url::parse(&u) {
            Ok(p) if p.scheme() == "https" || (p.scheme() == "http" && crate::http::is_loopback(&p)) => Some(u),
            Ok(_) => {
                self.err(
                    Some(t.span()),
                    format!("{who}: {key} {u} is not https://; tokens travel there, so only https (or http to this machine) is accepted"),
                );
                None
            }
            Err(e) => {
                self.err(Some(t.span()), format!("{who}: {key} {u:?} is not a URL ({e})"));
                None
            }
        }
    }

    pub(crate) fn command_field(&mut self, raw: &RawCredential, field: &str) -> Option<CommandSpec> {
        let shell = raw.flag("shell").unwrap_or(false);
        self.command(&raw.who, field, raw.command(field), shell)
    }

    /// A text field's value, when its type is right.
    fn text_value(&mut self, who: &str, key: &str, v: &Spanned<toml::Value>) -> Option<Spanned<String>> {
        match v.get_ref().as_str() {
            Some(s) => Some(Spanned::new(v.span(), s.to_string())),
            None => {
                self.err(
                    Some(v.span()),
                    format!("{who}invalid type: `{key}` is a string, written \"…\""),
                );
                None
            }
        }
    }

    pub(super) fn credential(&mut self, table: RawTable, span: Range<usize>) -> Option<CredentialConfig> {
        let before = self.problems.len();
        let mut table: Vec<(Spanned<String>, Spanned<toml::Value>)> = table.into_iter().collect();
        let mut take = |key: &str| {
            let i = table.iter().position(|(k, _)| k.get_ref() == key)?;
            Some(table.remove(i).1)
        };
        let (name, kind) = (take("name"), take("kind"));
        let Some(name) = name.and_then(|n| self.text_value("", "name", &n)) else {
            self.err(
                Some(span),
                "a [[credential]] has no `name`; add e.g. name = \"web\"".into(),
            );
            return None;
        };
        if !valid_name(name.get_ref()) {
            self.err(
                Some(name.span()),
                format!(
                    "name {:?} is not allowed; use 1–64 letters, digits, '-', '_' or '.' (it is typed on the command line)",
                    name.get_ref()
                ),
            );
        }
        let who = format!("credential {:?}", name.get_ref());
        let Some(kind) = kind.and_then(|k| self.text_value(&format!("{who}: "), "kind", &k)) else {
            self.err(
                Some(span),
                format!("{who} has no `kind`; use one of: {}", Kind::names().join(", ")),
            );
            return None;
        };
        let known = Kind::named(kind.get_ref());
        let mut values = BTreeMap::new();
        // Keys given at all, of the right type or not (a wrong type is its
        // own problem, not also a missing field).
        let mut given = Vec::new();
        let (mut enabled, mut fraction, mut renew_before, mut jitter) = (None, None, None, None);
        for (key, value) in table {
            let field = fields::common(key.get_ref()).or_else(|| {
                let kind = known?;
                fields::own(kind).find(|f| f.key == key.get_ref())
            });
            let Some(field) = field else {
                if let Some(kind) = known {
                    self.stray(&who, kind, &key);
                }
                continue;
            };
            given.push(field.key);
            if let Some(problem) = type_problem(field, value.get_ref()) {
                self.err(Some(value.span()), format!("{who}: {problem}"));
                continue;
            }
            let at = value.span();
            match (field.key, value.into_inner()) {
                ("enabled", v) => enabled = v.as_bool(),
                ("renew_at_fraction", v) => {
                    fraction = v
                        .as_float()
                        .or(v.as_integer().map(|i| i as f64))
                        .map(|f| Spanned::new(at, f))
                }
                ("renew_before", v) => renew_before = v.as_str().map(|s| Spanned::new(at, s.to_string())),
                ("jitter", v) => {
                    jitter = v
                        .as_float()
                        .or(v.as_integer().map(|i| i as f64))
                        .map(|f| Spanned::new(at, f))
                }
                (key, v) => {
                    values.insert(key, Spanned::new(at, v));
                }
            }
        }
        let policy = self.policy(&who, fraction, renew_before, known);
        let jitter = jitter.map(|j| self.jitter(&format!("{who}: jitter"), j));
        let Some(kind) = known else {
            self.unknown_kind(&who, &kind);
            return None;
        };
        for f in fields::own(kind).filter(|f| f.required) {
            match values.get(f.key) {
                None if given.contains(&f.key) => {}
                None => self.err(
                    Some(span.clone()),
                    format!("{who}: kind {kind} needs `{}`, {}", f.key, f.why),
                ),
                Some(v) if v.get_ref().as_str().is_some_and(|s| s.trim().is_empty()) => {
                    self.err(Some(v.span()), format!("{who}: {} is empty; give {}", f.key, f.why))
                }
                Some(_) => {}
            }
        }
        let raw = RawCredential {
            name: name.get_ref().clone(),
            who,
            span,
            values,
        };
        let spec = (kind.def().validate)(self, &raw);
        if self.problems.len() > before {
            return None;
        }
        Some(CredentialConfig {
            name: name.into_inner(),
            enabled: enabled.unwrap_or(true),
            policy,
            jitter,
            kind,
            spec,
        })
    }

    /// A field `kind` does not take: one of another kind's (named with the
    /// kinds it belongs to), or one no kind has.
    fn stray(&mut self, who: &str, kind: Kind, key: &Spanned<String>) {
        let field = key.get_ref();
        let owners: Vec<&str> = Kind::all()
            .filter(|k| fields::own(*k).any(|f| f.key == field))
            .map(Kind::as_str)
            .collect();
        if owners.is_empty() {
            let keys: Vec<&str> = fields::of(kind).iter().map(|f| f.key).collect();
            let near = keys
                .iter()
                .map(|k| (edits(k, field), *k))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, k)| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            self.err(
                Some(key.span()),
                format!(
                    "{who}: unknown field `{field}`; {near}check the spelling (kind {kind} takes {}; docs/configuration.md lists every field)",
                    keys.join(", ")
                ),
            );
        } else {
            self.err(
                Some(key.span()),
                format!(
                    "{who}: `{field}` does not apply to kind {kind}; it belongs to {}. Remove it, or change `kind`",
                    owners.join(" and ")
                ),
            );
        }
    }

    /// A kind Evergreen does not know, with the nearest one it does.
    fn unknown_kind(&mut self, who: &str, kind: &Spanned<String>) {
        let other = kind.get_ref().as_str();
        let names = Kind::names();
        let hint = names
            .iter()
            .find(|k| k.contains(other) || other.contains(*k))
            .map(|k| format!(" (did you mean {k:?}?)"))
            .unwrap_or_default();
        self.err(
            Some(kind.span()),
            format!("{who}: unknown kind {other:?}{hint}; use one of: {}", names.join(", ")),
        );
    }
}

/// How many single-character edits turn `a` into `b` (for "did you mean").
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}
