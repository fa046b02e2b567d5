//! The Prometheus face: each credential's validity, state and renewal counts
//! as series in the text exposition format, served on `[metrics] listen` and
//! printed once by `evergreen metrics` (for node-exporter's textfile
//! collector). The series come from the statuses every other face shows, and
//! the certificate files the config names, read at each scrape under the
//! names certificate monitoring already alerts on (`x509_cert_*`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio::sync::watch;

use crate::clock::unix_millis;
use crate::config::{Config, MetricsSettings};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::model::{CredentialStatus, State};

/// The content type of the classic text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One certificate file of a credential, as read at a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFileSeries {
    pub credential: String,
    pub path: PathBuf,
    /// The leaf's facts, or why the file could not be read.
    pub read: std::result::Result<crate::x509::CertInfo, String>,
}

/// The certificate files of every credential in `config`, read now.
pub fn read_certificates(config: &Config) -> Vec<CertFileSeries> {
    let mut out = Vec::new();
    for c in config.credentials.iter().filter(|c| c.enabled) {
        for path in c.spec.certificate_files() {
            let read = crate::x509::read_file(&path)
                .map(|f| f.leaf().clone())
                .map_err(|e| e.to_string());
            out.push(CertFileSeries {
                credential: c.name.clone(),
                path,
                read,
            });
        }
    }
    out
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Every series, in the text exposition format.
pub fn render(statuses: &[CredentialStatus], certs: &[CertFileSeries], now: SystemTime) -> Result<String> {
    let r = Registry::new();
    let failed = |e: prometheus::Error| Error::Refused(format!("the metrics could not be put together: {e}"));
    let gauge = |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec> {
        let g = GaugeVec::new(Opts::new(name, help), labels).map_err(failed)?;
        r.register(Box::new(g.clone())).map_err(failed)?;
        Ok(g)
    };
    let int_gauge = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec> {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).map_err(failed)?;
        r.register(Box::new(g.clone())).map_err(failed)?;
        Ok(g)
    };
    let counter = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec> {
        let c = IntCounterVec::new(Opts::new(name, help), labels).map_err(failed)?;
        r.register(Box::new(c.clone())).map_err(failed)?;
        Ok(c)
    };
    let ck = &["credential", "kind"];
    let not_after = gauge(
        "evergreen_credential_not_after_seconds",
        "When the credential expires (Unix seconds).",
        ck,
    )?;
    let not_before = gauge(
        "evergreen_credential_not_before_seconds",
        "When the credential's current lifetime began (Unix seconds).",
        ck,
    )?;
    let remaining = gauge(
        "evergreen_credential_remaining_ratio",
        "The fraction of the credential's lifetime still ahead (0 to 1).",
        ck,
    )?;
    let state = int_gauge(
        "evergreen_credential_state",
        "1 for the credential's state, 0 for every other state.",
        &["credential", "kind", "state"],
    )?;
    let last_success = gauge(
        "evergreen_credential_last_renewal_success_timestamp_seconds",
        "When a renewal of the credential last succeeded (Unix seconds).",
        ck,
    )?;
    let streak = int_gauge(
        "evergreen_credential_consecutive_failures",
        "Failed renewals or reads of the credential in a row (0 when the last one worked).",
        ck,
    )?;
    let renewals = counter(
        "evergreen_renewals_total",
        "Renewals by result: success, failure, not_renewable (the server will not extend it), capped (renewed, but shorter than the policy accepts).",
        &["credential", "kind", "result"],
    )?;
    let heartbeats = counter(
        "evergreen_heartbeats_total",
        "Heartbeats to the control plane by result (success, failure), since the engine started.",
        &["credential", "result"],
    )?;
    let now_ms = unix_millis(now);
    for s in statuses {
        let l = [s.name.as_str(), s.kind.as_str()];
        if let (Some(nb), Some(na)) = (s.not_before, s.not_after) {
            not_before.with_label_values(&l).set(secs(nb));
            not_after.with_label_values(&l).set(secs(na));
            let whole = (na - nb).max(1) as f64;
            remaining
                .with_label_values(&l)
                .set(((na - now_ms) as f64 / whole).clamp(0.0, 1.0));
        } else if let Some(na) = s.not_after {
            not_after.with_label_values(&l).set(secs(na));
        }
        for name in State::NAMES {
            let on = i64::from(s.state.name() == name);
            state.with_label_values(&[&s.name, s.kind.as_str(), name]).set(on);
        }
        if let Some(at) = s.last_renewed_at {
            last_success.with_label_values(&l).set(secs(at));
        }
        streak
            .with_label_values(&l)
            .set(s.failure_streak.as_ref().map_or(0, |f| i64::from(f.failures)));
        let n = &s.renewals;
        for (result, count) in [
            ("success", n.success),
            ("failure", n.failure),
            ("not_renewable", n.not_renewable),
            ("capped", n.capped),
        ] {
            renewals
                .with_label_values(&[&s.name, s.kind.as_str(), result])
                .inc_by(count);
        }
        if s.kind.facts().heartbeats {
            for (result, count) in [("success", s.heartbeats.success), ("failure", s.heartbeats.failure)] {
                heartbeats.with_label_values(&[&s.name, result]).inc_by(count);
            }
        }
    }

    let x509 = &[
        "credential",
        "filepath",
        "filename",
        "subject_CN",
        "issuer_CN",
        "serial_number",
    ];
    let cert_after = gauge(
        "x509_cert_not_after",
        "When the certificate in the file expires (Unix seconds).",
        x509,
    )?;
    let cert_before = gauge(
        "x509_cert_not_before",
        "When the certificate in the file became valid (Unix seconds).",
        x509,
    )?;
    let cert_expired = int_gauge(
        "x509_cert_expired",
        "1 if the certificate in the file has expired, else 0.",
        x509,
    )?;
    let read_errors = prometheus::IntGauge::new(
        "x509_read_errors",
        "Certificate files that could not be read or parsed at this scrape.",
    )
    .map_err(failed)?;
    r.register(Box::new(read_errors.clone())).map_err(failed)?;
    let mut unreadable = 0;
    for c in certs {
        let info = match &c.read {
            Ok(info) => info,
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        let path = c.path.display().to_string();
        let file = c
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let l = [
            c.credential.as_str(),
            path.as_str(),
            file.as_str(),
            info.subject_cn.as_deref().unwrap_or(""),
            info.issuer_cn.as_deref().unwrap_or(""),
            info.serial_number.as_str(),
        ];
        let lt = info.lifetime;
        cert_after.with_label_values(&l).set(secs(unix_millis(lt.not_after)));
        cert_before.with_label_values(&l).set(secs(unix_millis(lt.not_before)));
        cert_expired.with_label_values(&l).set(i64::from(lt.not_after <= now));
    }
    read_errors.set(unreadable);

    let info = int_gauge(
        "evergreen_build_info",
        "The running Evergreen's version (always 1).",
        &["version"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);

    TextEncoder::new().encode_to_string(&r.gather()).map_err(failed)
}

impl Control {
    /// The metrics as they stand now (certificate files read afresh).
    pub fn metrics(&self) -> Result<String> {
        let certs = read_certificates(&self.config.borrow());
        render(&self.handle.statuses(), &certs, self.clock.now())
    }
}

/// Serves `/metrics` wherever the config says, following config edits:
/// started, moved or stopped as `[metrics]` changes. A port that cannot be
/// bound is logged and tried again at the next config change; renewals go on
/// regardless.
pub(crate) async fn follow(control: Control, mut config: watch::Receiver<std::sync::Arc<Config>>) {
    let mut serving: Option<Serving> = None;
    loop {
        let want = config.borrow_and_update().engine.metrics;
        if serving.as_ref().map(|s| s.settings) != want {
            serving = None;
            if let Some(settings) = want {
                match tokio::net::TcpListener::bind(settings.listen).await {
                    Ok(listener) => {
                        let addr = listener.local_addr().unwrap_or(settings.listen);
                        tracing::info!("metrics at http://{addr}/metrics");
                        serving = Some(Serving {
                            settings,
                            task: tokio::spawn(serve(listener, control.clone())),
                        });
                    }
                    Err(e) => tracing::error!("{}", bind_error(settings.listen, &e)),
                }
            }
        }
        if config.changed().await.is_err() {
            // No more edits (the config file is not watched): serve on
            // until the engine stops this task.
            std::future::pending::<()>().await;
        }
    }
}

/// The server of one `[metrics]` setting; stopped when dropped (a new
/// setting, or the engine stopping).
struct Serving {
    settings: MetricsSettings,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bind_error(addr: SocketAddr, e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => "another program holds that port; pick another port for [metrics] listen",
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges; pick a port above 1024",
        std::io::ErrorKind::AddrNotAvailable => "this machine has no such address; use 127.0.0.1",
        _ => "check [metrics] listen",
    };
    format!("metrics: cannot listen on {addr}: {e}; {hint} (renewals go on without metrics)")
}

async fn serve(listener: tokio::net::TcpListener, control: Control) {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let control = control.clone();
                async move {
                    match tokio::task::spawn_blocking(move || control.metrics()).await {
                        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
                        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
                        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
                    }
                }
            }),
        )
        .route(
            "/",
            axum::routing::get(|| async { "Evergreen: the metrics are at /metrics\n" }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("metrics: the server stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HeartbeatCounts, RenewalCounts, Streak};
    use std::time::Duration;

    const T0: i64 = 1_800_000_000_000;

    fn at(ms: i64) -> SystemTime {
        crate::clock::from_unix_millis(ms)
    }

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(series))
    }

    fn value(text: &str, series: &str) -> f64 {
        let l = line(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        l.rsplit(' ').next().unwrap().parse().unwrap()
    }

    fn web() -> CredentialStatus {
        let mut s = CredentialStatus::new("web", crate::kind::roles::plain(), at(T0));
        s.not_before = Some(T0 - 30_000);
        s.not_after = Some(T0 + 70_000);
        s.state = State::Failing {
            streak: 3,
            next_retry_at: T0 + 60_000,
            offline: false,
        };
        s.failure_streak = Some(Streak { failures: 3, since: T0 });
        s.last_renewed_at = Some(T0 - 20_000);
        s.renewals = RenewalCounts {
            success: 4,
            failure: 3,
            not_renewable: 0,
            capped: 1,
        };
        s
    }

    #[test]
    fn each_credential_is_told_by_value_and_state() {
        let mut host = CredentialStatus::new("host", crate::kind::roles::beats_and_enrols(), at(T0));
        host.state = State::Healthy;
        host.heartbeats = HeartbeatCounts { success: 9, failure: 2 };
        let text = render(&[web(), host], &[], at(T0 + 20_000)).unwrap();

        let l = format!("{{credential=\"web\",kind=\"{}\"}}", crate::kind::roles::plain());
        assert_eq!(
            value(&text, &format!("evergreen_credential_not_after_seconds{l}")),
            1_800_000_070.0
        );
        assert_eq!(
            value(&text, &format!("evergreen_credential_not_before_seconds{l}")),
            1_799_999_970.0
        );
        // 50 of 100 seconds left, at the scrape (not at the last status update).
        assert_eq!(value(&text, &format!("evergreen_credential_remaining_ratio{l}")), 0.5);
        assert_eq!(
            value(&text, &format!("evergreen_credential_consecutive_failures{l}")),
            3.0
        );
        assert_eq!(
            value(
                &text,
                &format!("evergreen_credential_last_renewal_success_timestamp_seconds{l}")
            ),
            1_799_999_980.0
        );
        // One-hot: exactly one state is 1, and every state is listed.
        let states: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("evergreen_credential_state{credential=\"web\""))
            .collect();
        assert_eq!(states.len(), State::NAMES.len());
        let on: Vec<&&str> = states.iter().filter(|l| l.ends_with(" 1")).collect();
        assert_eq!(on.len(), 1);
        assert!(on[0].contains("state=\"failing\""), "{on:?}");
        for (result, n) in [
            ("success", 4.0),
            ("failure", 3.0),
            ("not_renewable", 0.0),
            ("capped", 1.0),
        ] {
            let series = format!(
                "evergreen_renewals_total{{credential=\"web\",kind=\"{}\",result=\"{result}\"}}",
                crate::kind::roles::plain()
            );
            assert_eq!(value(&text, &series), n, "{series}");
        }
        assert_eq!(
            value(
                &text,
                "evergreen_heartbeats_total{credential=\"host\",result=\"success\"}"
            ),
            9.0
        );
        assert_eq!(
            value(
                &text,
                "evergreen_heartbeats_total{credential=\"host\",result=\"failure\"}"
            ),
            2.0
        );
        // A file does not beat; a registration has no lifetime to show.
        assert!(line(&text, "evergreen_heartbeats_total{credential=\"web\"").is_none());
        assert!(line(&text, "evergreen_credential_not_after_seconds{credential=\"host\"").is_none());
        // Classic text format: counters named with _total in TYPE, no OpenMetrics EOF.
        assert!(text.contains("# TYPE evergreen_renewals_total counter"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn a_credential_past_its_end_is_at_zero_and_one_not_yet_begun_at_one() {
        let text = render(&[web()], &[], at(T0 + 500_000)).unwrap();
        assert_eq!(
            value(
                &text,
                &format!(
                    "evergreen_credential_remaining_ratio{{credential=\"web\",kind=\"{}\"}}",
                    crate::kind::roles::plain()
                )
            ),
            0.0
        );
        let text = render(&[web()], &[], at(T0 - 500_000)).unwrap();
        assert_eq!(
            value(
                &text,
                &format!(
                    "evergreen_credential_remaining_ratio{{credential=\"web\",kind=\"{}\"}}",
                    crate::kind::roles::plain()
                )
            ),
            1.0
        );
    }

    #[test]
    fn certificate_files_use_the_names_certificate_monitoring_alerts_on() {
        let day = Duration::from_secs(86_400);
        let now = at(T0);
        let ca = crate::pki::Ca::new("Example CA", now - 30 * day, 365 * day).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.pem");
        let old = dir.path().join("old.pem");
        std::fs::write(
            &fresh,
            ca.issue("fresh.example.org", now - day, 10 * day).unwrap().cert_pem,
        )
        .unwrap();
        std::fs::write(
            &old,
            ca.issue("old.example.org", now - 20 * day, 10 * day).unwrap().cert_pem,
        )
        .unwrap();
        let read = |p: &std::path::Path| {
            crate::x509::read_file(p)
                .map(|f| f.leaf().clone())
                .map_err(|e| e.to_string())
        };
        let certs = vec![
            CertFileSeries {
                credential: "fresh".into(),
                path: fresh.clone(),
                read: read(&fresh),
            },
            CertFileSeries {
                credential: "old".into(),
                path: old.clone(),
                read: read(&old),
            },
            CertFileSeries {
                credential: "gone".into(),
                path: dir.path().join("gone.pem"),
                read: read(&dir.path().join("gone.pem")),
            },
        ];
        let text = render(&[], &certs, now).unwrap();
        let fresh_line = line(&text, "x509_cert_not_after{credential=\"fresh\"").unwrap();
        for label in [
            format!("filepath=\"{}\"", fresh.display()),
            "filename=\"fresh.pem\"".into(),
            "subject_CN=\"fresh.example.org\"".into(),
            "issuer_CN=\"Example CA\"".into(),
            format!("serial_number=\"{}\"", certs[0].read.as_ref().unwrap().serial_number),
        ] {
            assert!(fresh_line.contains(&label), "{label} in {fresh_line}");
        }
        let in_nine_days = secs(unix_millis(now + 9 * day));
        assert_eq!(value(&text, "x509_cert_not_after{credential=\"fresh\""), in_nine_days);
        assert_eq!(value(&text, "x509_cert_expired{credential=\"fresh\""), 0.0);
        assert_eq!(value(&text, "x509_cert_expired{credential=\"old\""), 1.0);
        assert_eq!(value(&text, "x509_read_errors"), 1.0);
        assert!(line(&text, "x509_cert_not_after{credential=\"gone\"").is_none());
        assert!(certs[0]
            .read
            .as_ref()
            .unwrap()
            .serial_number
            .chars()
            .all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn a_port_that_cannot_be_bound_says_what_to_do() {
        let e = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let text = bind_error("127.0.0.1:9419".parse().unwrap(), &e);
        assert!(
            text.contains("127.0.0.1:9419") && text.contains("pick another port"),
            "{text}"
        );
        assert!(text.contains("renewals go on"), "{text}");
    }
}
