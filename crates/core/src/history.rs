//! What a history row says happened: the action and its outcome, as enums
//! every face shares (the store keeps their names as text).

use serde::{Deserialize, Serialize};

use crate::model::State;

macro_rules! named {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $v,)+
            /// A name this version does not know (a newer one wrote it).
            #[serde(other)]
            Other,
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)+
                    $name::Other => "other",
                }
            }

            /// The value named `s` as the store keeps it.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($s => $name::$v,)+
                    _ => $name::Other,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

named!(
    /// What was done.
    Action {
        /// A renewal (by the schedule, the user or the control plane).
        Renew => "renew",
        /// A look at the credential (its file, the server's answer).
        Observe => "observe",
        /// A fleet token refreshed after the control plane refused the old one.
        Refresh => "refresh",
        /// A heartbeat to the control plane.
        Heartbeat => "heartbeat",
        /// The user paused or resumed it.
        State => "state",
        /// The engine's store itself (recovered from damage).
        Store => "store",
    }
);

named!(
    /// How it ended.
    Outcome {
        Success => "success",
        Failure => "failure",
        /// Renewed, but the issuer capped the new lifetime.
        Capped => "capped",
        /// Its lifetime changed outside Evergreen.
        Changed => "changed",
        Paused => "paused",
        Resumed => "resumed",
        Retired => "retired",
        NotRenewable => "not_renewable",
        Final => "final",
        Expired => "expired",
        Recovered => "recovered",
    }
);

impl Outcome {
    /// The outcome that a verdict (the state it stops a credential in) is.
    pub fn of_verdict(state: &State) -> Outcome {
        Outcome::parse(state.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_one_is_other() {
        for a in [
            Action::Renew,
            Action::Observe,
            Action::Refresh,
            Action::Heartbeat,
            Action::State,
            Action::Store,
        ] {
            assert_eq!(Action::parse(a.as_str()), a);
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(Action::parse("teleport"), Action::Other);
        assert_eq!(
            serde_json::from_str::<Outcome>("\"teleported\"").unwrap(),
            Outcome::Other
        );
        for s in [
            State::Retired { reason: "x".into() },
            State::Paused { reason: "x".into() },
            State::NotRenewable,
            State::Final { expires_at: 1 },
            State::Expired,
        ] {
            assert_ne!(Outcome::of_verdict(&s), Outcome::Other, "{s:?}");
            assert_eq!(Outcome::of_verdict(&s).as_str(), s.name());
        }
    }
}
