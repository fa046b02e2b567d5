//! Kerberos tickets against a real MIT KDC (`evergreen_tests::kdc`): renewed
//! with kinit until their renew-till, then final (or a new ticket from a
//! keytab), a stopped KDC a failure with MIT's words, and a login with the
//! password through `evergreen login`. The engine runs in-process on the
//! real clock; every wait is for an event.

use std::path::Path;
use std::time::Duration;

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::kdc::{Kdc, PASSWORD, USER};
use evergreen_tests::rig::{is, Rig};

fn cred(kdc: &Kdc, cache: &Path, extra: &str) -> String {
    format!(
        "[[credential]]\nname = \"tgt\"\nkind = \"kerberos\"\ncache = \"FILE:{}\"\nkrb5_config = \"{}\"\nprincipal = \"{USER}\"\n{extra}\n",
        cache.display(),
        kdc.krb5_conf().display()
    )
}

fn renewed(e: &evergreen_core::events::Event) -> bool {
    e.kind.name() == "renewal_succeeded"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_renewed_until_its_renew_till_then_final_and_a_login_brings_a_new_one() {
    let kdc = Kdc::start("15s", "50s");
    let keys = tempfile::tempdir().unwrap();
    let cache = keys.path().join("cc");
    kdc.kinit(&cache, "15s", "50s");
    let first_klist = kdc.klist(&cache);
    let mut rig = Rig::start(|_| cred(&kdc, &cache, "")).await;
    rig.wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    let st = rig.status("tgt");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    let d = st.details.clone().expect("details");
    assert_eq!((d.subject.as_str(), d.labels.subject.as_str()), (USER, "Principal"));
    assert!(d.issuer.starts_with("krbtgt/EVERGREEN.TEST"), "{d:?}");
    let end = st.hard_end.clone().expect("renew-till shown from the start");
    assert!(end.needs_you && end.then.contains("`evergreen login tgt`"), "{end:?}");
    assert!(
        rig.seen.iter().any(|e| e.kind.name() == "hard_end_ahead"),
        "{}",
        rig.log()
    );
    for i in 1..=2 {
        rig.wait(&format!("renewal {i}"), Duration::from_secs(20), renewed)
            .await;
    }
    assert_ne!(kdc.klist(&cache), first_klist, "MIT's klist sees the renewed ticket");
    // Renewed by hand twice within a second: both work, though the times
    // may not move.
    for _ in 0..2 {
        let out = rig.engine().handle().renew("tgt").await.unwrap();
        assert!(out.ok, "{out:?}");
    }
    let fin = rig.wait("the renew-till", Duration::from_secs(60), is("final")).await;
    let EventKind::Final { expires_at } = fin.kind else {
        unreachable!()
    };
    assert!(
        (expires_at - end.at).abs() <= 1_000,
        "final at the renew-till: {expires_at} vs {}",
        end.at
    );

    // The user logs in: a new ticket, renewable again.
    let config = rig.path("config.toml");
    let out = evergreen_tests::evergreen_with_input(
        [
            "--config".as_ref(),
            config.as_os_str(),
            "login".as_ref(),
            "tgt".as_ref(),
            "--password-stdin".as_ref(),
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains(&format!("logged in as {USER}")), "{out:?}");
    rig.wait("the new ticket", Duration::from_secs(20), |e| {
        e.kind.name() == "observed" && e.credential.as_deref() == Some("tgt")
    })
    .await;
    let st = rig.status("tgt");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    assert!(st.hard_end.is_some_and(|e| e.at > end.at));
    rig.assert_never_shows(PASSWORD);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_keytab_a_new_ticket_comes_when_renewals_end_and_a_stopped_kdc_is_failing_then_recovers() {
    let mut kdc = Kdc::start("10s", "25s");
    let keys = tempfile::tempdir().unwrap();
    let cache = keys.path().join("cc");
    let extra = format!(
        "keytab = \"{}\"\nlifetime = \"10s\"\nrenewable_life = \"25s\"\n",
        kdc.keytab().display()
    );
    // No ticket at all: the keytab gets the first one.
    let mut rig = Rig::start(|_| cred(&kdc, &cache, &extra)).await;
    rig.wait("the first ticket", Duration::from_secs(20), renewed).await;
    let st = rig.status("tgt");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    let end = st.hard_end.clone().expect("renew-till");
    assert!(!end.needs_you && end.then.contains("keytab"), "{end:?}");
    // Past the renew-till: a new ticket from the keytab, never final.
    rig.wait("a ticket from the keytab again", Duration::from_secs(60), |e| {
        matches!(&e.kind, EventKind::RenewalSucceeded { message, .. } if message.contains("keytab"))
            && rig_time_past(e.at, end.at)
    })
    .await;
    assert_eq!(rig.count(|k| matches!(k, EventKind::Final { .. })), 0, "{}", rig.log());

    // The KDC stops: the next renewal fails with MIT's words, then recovers.
    kdc.stop();
    let failed = rig
        .wait("a failure", Duration::from_secs(30), is("renewal_failed"))
        .await;
    let EventKind::RenewalFailed { message, .. } = &failed.kind else {
        unreachable!()
    };
    assert!(
        message.starts_with("kinit failed") && message.contains("KDC"),
        "{message}"
    );
    assert!(matches!(rig.status("tgt").state, State::Failing { .. }));
    kdc.run();
    rig.wait("recovery", Duration::from_secs(30), is("recovered")).await;
    rig.stop().await;
}

fn rig_time_past(at: i64, end: i64) -> bool {
    at >= end
}
