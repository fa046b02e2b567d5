//! The variables a config reads secrets from are withheld from the commands
//! its renewals run, per engine: two engines in one process (as tests, or a
//! face embedding one, run them) each keep their own list. A list kept for
//! the whole process let the second engine's replace the first's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use evergreen_core::clock::{ClockHandle, SystemClock};
use evergreen_core::config::CredentialConfig;
use evergreen_core::events::EventBus;
use evergreen_core::model::{Kind, Lifetime};
use evergreen_core::pki::Ca;
use evergreen_core::scheduler::{self, SchedulerDeps};
use evergreen_core::sources::{self, Failure, Observation, RenewRequest, Renewed, Source};
use evergreen_core::store::Store;

/// Stands in for the token whose variable is withheld: never asked for anything.
#[derive(Debug)]
struct Idle(Kind);

#[async_trait]
impl Source for Idle {
    fn kind(&self) -> Kind {
        self.0
    }
    fn can_renew(&self) -> bool {
        false
    }
    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        let now = SystemTime::now();
        Ok(Observation::of(Lifetime {
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(86_400),
        }))
    }
    async fn renew(&self, _: RenewRequest) -> Result<Renewed, Failure> {
        Err(Failure::transient("not renewed here"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_in_one_process_each_withhold_their_own_secret_variables() {
    // Set once, before anything runs, for this test binary alone.
    std::env::set_var("EG_WITHHELD_A", "secret-a");
    std::env::set_var("EG_WITHHELD_B", "secret-b");
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let ca = Ca::new("Test CA", now - 30 * day, 365 * day).unwrap();
    let mut handles = Vec::new();
    for (me, other) in [("A", "B"), ("B", "A")] {
        let web = dir.path().join(format!("web-{me}.pem"));
        let fresh = dir.path().join(format!("fresh-{me}.pem"));
        std::fs::write(&web, ca.issue("web", now - day, 30 * day).unwrap().cert_pem).unwrap();
        std::fs::write(&fresh, ca.issue("web", now, 30 * day).unwrap().cert_pem).unwrap();
        // Renews only when its own engine's variable is withheld and the
        // other engine's is not.
        let check = format!(
            "test -z \"$EG_WITHHELD_{me}\" && test -n \"$EG_WITHHELD_{other}\" && cp {} {}",
            fresh.display(),
            web.display()
        );
        let text = format!(
            "[[credential]]\nname = \"token\"\nkind = \"vault_token\"\naddress = \"https://127.0.0.1:1\"\ntoken_env = \"EG_WITHHELD_{me}\"\n\n\
             [[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"/bin/sh\", \"-c\", {check:?}]\n",
            web.display()
        );
        let config = evergreen_core::config::parse(&text, &dir.path().join(format!("{me}.toml"))).unwrap();
        assert_eq!(config.secret_env(), [format!("EG_WITHHELD_{me}")]);
        let clock: ClockHandle = Arc::new(SystemClock);
        let mut deps = SchedulerDeps::new(clock, Arc::new(Store::open_in_memory().unwrap()), EventBus::default());
        deps.sources = Arc::new(|c: &CredentialConfig| {
            if c.spec.secret_env().is_empty() {
                sources::build(c)
            } else {
                Arc::new(Idle(c.kind)) as Arc<dyn Source>
            }
        });
        handles.push(scheduler::spawn(config, deps).0);
    }
    // Both engines run before either renews.
    for (h, me) in handles.iter().zip(["A", "B"]) {
        let out = h.renew("web").await.unwrap();
        assert!(out.ok, "engine {me}'s command saw the wrong variables: {out:?}");
    }
}
