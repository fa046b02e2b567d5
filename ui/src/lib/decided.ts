// For made-up statuses only (the browser preview, the tests): what the engine
// would decide for them (its words and offers), looked up in the engine's own
// samples (STATUS_SAMPLES, KIND_SCHEMAS in the generated bindings) rather
// than restated. The window itself never needs this: a real status comes
// with its decisions.

import { KIND_SCHEMAS, STATUS_SAMPLES, type CredentialStatus } from "../bindings";

export type Decided = Pick<CredentialStatus, "kind_label" | "state_label" | "has_heartbeats" | "offers">;

/**
 * What the engine decided for a status like `s` (its words and offers), read
 * from the engine's own samples: the sample in the same state (paused by the
 * user or not, offline or not, the same streak where there is one), and the
 * kind's label and facts from the generated kind table.
 */
export function decided(s: CredentialStatus): Decided {
  const offline = (x: CredentialStatus) => (x.state === "failing" ? Boolean(x.offline) : false);
  const streak = (x: CredentialStatus) => (x.state === "failing" ? x.streak : 0);
  const like = (x: CredentialStatus) =>
    x.state === s.state && Boolean(x.user_paused) === Boolean(s.user_paused) && offline(x) === offline(s);
  // A watched-only sample where there is one; else the renewable one, its renewal taken away below.
  const same = (x: CredentialStatus) =>
    like(x) && (x.can_renew === s.can_renew || !STATUS_SAMPLES.some((y) => like(y) && y.can_renew === s.can_renew));
  const sample =
    STATUS_SAMPLES.find((x) => same(x) && streak(x) === streak(s)) ??
    STATUS_SAMPLES.find((x) => same(x) && (streak(x) > 1) === (streak(s) > 1)) ??
    STATUS_SAMPLES.find(same);
  if (!sample) throw new Error(`no engine sample in state ${s.state}`);
  const kind = KIND_SCHEMAS.find((k) => k.kind === s.kind);
  const offers = { ...sample.offers };
  if (!s.can_renew && offers.renew) {
    offers.renew = false;
    offers.renew_helps = false;
  }
  offers.reregister = sample.offers.reregister !== null ? (kind?.enrolment_token ?? null) : null;
  return {
    kind_label: kind?.label ?? s.kind,
    state_label: sample.state_label,
    has_heartbeats: kind?.has_heartbeats ?? false,
    offers,
  };
}

