//! A slot to test transitions on: no runtime, no store, no clock but the
//! instants passed in.

use super::*;
use crate::model::Kind;
use crate::sources::x509_file::X509FileSpec;
use async_trait::async_trait;

#[derive(Debug)]
pub(super) struct Renews;

#[async_trait]
impl Source for Renews {
    fn kind(&self) -> Kind {
        crate::sources::x509_file::KIND
    }
    fn can_renew(&self) -> bool {
        true
    }
    async fn observe(&self) -> std::result::Result<Observation, Failure> {
        unreachable!("a transition runs no job")
    }
    async fn renew(&self, _: RenewRequest) -> std::result::Result<Renewed, Failure> {
        unreachable!("a transition runs no job")
    }
}

pub(super) fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000 + secs)
}

pub(super) fn slot() -> Slot {
    let cfg = CredentialConfig {
        name: "web".into(),
        enabled: true,
        policy: crate::policy::RenewPolicy::default(),
        jitter: Some(0.0),
        kind: crate::sources::x509_file::KIND,
        spec: Arc::new(X509FileSpec {
            path: "/web.pem".into(),
            renew_command: None,
            reload_command: None,
            command_timeout: Duration::from_secs(1),
        }),
    };
    Slot {
        status: CredentialStatus::new("web", crate::sources::x509_file::KIND, at(0)),
        cfg,
        source: Arc::new(Renews),
        gen: 1,
        lifetime: Some(Lifetime {
            not_before: at(0),
            not_after: at(900),
        }),
        observed_at: Some(at(0)),
        deadline: Some(at(600)),
        retry: Retry::default(),
        run: Run::Idle,
        waiters: Vec::new(),
        asked: Asked::Nothing,
        announced: Announced::default(),
        stop: None,
        beat: Beats {
            next: None,
            retry: Retry::default(),
            last: None,
            counts: Default::default(),
        },
        capped: None,
        tidied: true,
    }
}
