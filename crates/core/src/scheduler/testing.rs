//! A slot to test transitions on: no runtime, no store, no clock but the
//! instants passed in.

use super::*;
use crate::model::Kind;
use async_trait::async_trait;

/// Settings that build nothing: the transitions never ask for a source.
#[derive(Debug, PartialEq)]
struct Nothing;

impl crate::kind::Spec for Nothing {
    fn build(&self, _: &str) -> Arc<dyn Source> {
        Arc::new(Renews)
    }

    fn watched_paths(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

#[derive(Debug)]
pub(super) struct Renews;

#[async_trait]
impl Source for Renews {
    fn kind(&self) -> Kind {
        crate::kind::roles::plain()
    }
    fn can_renew(&self) -> bool {
        true
    }
    async fn observe(&self, _now: std::time::SystemTime) -> std::result::Result<Observation, Failure> {
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
        kind: crate::kind::roles::plain(),
        spec: Arc::new(Nothing),
    };
    Slot {
        status: CredentialStatus::new("web", crate::kind::roles::plain(), at(0)),
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
        told_at: None,
    }
}
