import { describe, expect, it } from "vitest";
import type { State } from "../bindings";
import {
  expiryText,
  healthLabel,
  healthTone,
  heartbeatText,
  lastResultRepeatsHint,
  lastResultText,
  liveFraction,
  nextActionText,
  stateColor,
  stateHint,
  stateLabel,
  stateTone,
  type StateName,
} from "./state";
import { HOUR, MIN, NOW, status } from "../test/fixtures";

describe("state -> colour", () => {
  it.each<[StateName, string]>([
    ["healthy", "good"],
    ["due", "warn"],
    ["renewing", "warn"],
    ["final", "warn"],
    ["capped", "warn"],
    ["not_renewable", "warn"],
    ["failing", "bad"],
    ["expired", "bad"],
    ["paused", "grey"],
    ["retired", "grey"],
    ["disabled", "muted"],
  ])("%s is %s", (state, tone) => {
    expect(stateTone(state)).toBe(tone);
    expect(stateColor(state)).toBe(`var(--tone-${tone})`);
  });
});

describe("state -> words", () => {
  it.each<[State, string]>([
    [{ state: "healthy" }, "Healthy"],
    [{ state: "due" }, "Due for renewal"],
    [{ state: "renewing" }, "Renewing"],
    [{ state: "failing", streak: 3, next_retry_at: NOW, offline: false }, "Failing (3 in a row)"],
    [{ state: "failing", streak: 1, next_retry_at: NOW, offline: false }, "Failing"],
    [{ state: "failing", streak: 4, next_retry_at: NOW, offline: true }, "Offline — waiting for the network"],
    [{ state: "expired" }, "Expired"],
    [{ state: "paused", reason: "x" }, "Paused"],
    [{ state: "retired", reason: "x" }, "Retired"],
    [{ state: "not_renewable" }, "Not renewable"],
    [{ state: "final", expires_at: NOW }, "Final — cannot be extended"],
    [{ state: "capped", reason: "x", next_try_at: NOW }, "Capped by its issuer"],
    [{ state: "disabled" }, "Disabled"],
  ])("%o -> %s", (s, label) => {
    // The engine's words (its sample in this state), with a capital.
    expect(stateLabel(status(s))).toBe(label);
  });

  it("tells the user what they can do", () => {
    expect(stateHint(status(), NOW)).toBeNull();
    expect(stateHint(status({ state: "retired", reason: "host deleted" }), NOW)).toBe(
      "The server retired this identity (host deleted); it will not be renewed — register it again.",
    );
    expect(stateHint(status({ state: "not_renewable" }), NOW)).toContain("only a new login helps");
    expect(stateHint(status({ state: "final", expires_at: NOW + HOUR }), NOW)).toContain("only a new login helps");
    expect(stateHint(status({ state: "failing", streak: 2, next_retry_at: NOW + 4 * MIN, offline: false }), NOW)).toContain(
      "The last 2 renewals failed. Evergreen retries on its own; you can also renew now.",
    );
    expect(stateHint(status({ state: "failing", streak: 2, next_retry_at: NOW, offline: true }), NOW)).toContain(
      "no network",
    );
    expect(stateHint(status({ state: "disabled" }), NOW)).toContain("Disabled");
    const capped = status({
      state: "capped",
      reason: "the issuer gave a certificate valid only until 2026-12-02T10:00:00Z, already past its renewal point: the CA or its role caps the lifetime",
      next_try_at: NOW + 2 * HOUR,
      can_renew: true,
    });
    const hint = stateHint(capped, NOW) ?? "";
    expect(hint).toMatch(/^Renewed, but capped: the issuer gave a certificate valid only until/);
    expect(hint).toContain("caps the lifetime. Evergreen tries again in 2 h");
    expect(hint).toContain("Renew now tries at once.");
    // still the user's to renew or pause
    expect(capped.offers.renew).toBe(true);
    expect(capped.offers.pause).toBe("pause");
  });

  it("says who paused it, from user_paused and not from the reason's words", () => {
    // Paused by the user: whatever the engine wrote as the reason.
    for (const kind of ["x509_file", "wrenn"] as const) {
      expect(stateHint(status({ kind, state: "paused", reason: "anything at all", user_paused: true }), NOW)).toBe(
        "Paused by you: Evergreen does not renew it until you resume it.",
      );
    }
    // A pause for a while says when it ends.
    const until = stateHint(status({ state: "paused", reason: "x", user_paused: true, paused_until: NOW + 2 * 3600_000 }), NOW);
    expect(until).toMatch(/^Paused by you until .+: Evergreen renews it again then, or when you resume it\.$/);
    // Paused by the engine or the server, even when the reason sounds like the user's.
    expect(
      stateHint(status({ state: "paused", reason: "paused by you; resume it to renew it again", user_paused: false }), NOW),
    ).toBe(
      "Paused: paused by you; resume it to renew it again. Once that is fixed, Evergreen looks again when its files or its settings change.",
    );
    expect(stateHint(status({ kind: "vault_token", state: "paused", reason: "permission denied (403).", next_action: null }), NOW)).toBe(
      "Paused: permission denied (403). Once that is fixed, Evergreen looks again when its files or its settings change.",
    );
    expect(
      stateHint(status({ kind: "wrenn", state: "paused", reason: "token needed; re-registration needed", next_action: null }), NOW),
    ).toBe("Paused: token needed; re-registration needed. Re-register it with a new one-time token to carry on.");
    expect(
      stateHint(
        status({
          kind: "wrenn",
          state: "paused",
          reason: "control plane unreachable (3 heartbeats failed in a row)",
          next_action: { at: NOW + 30_000, what: "heartbeat" },
        }),
        NOW,
      ),
    ).toBe(
      "Paused: control plane unreachable (3 heartbeats failed in a row). Evergreen keeps sending heartbeats; if the server no longer knows this host, re-register it with a new one-time token.",
    );
  });

  it("never promises a renewal Evergreen cannot do (can_renew false)", () => {
    const watched = { can_renew: false, renew_at: null, next_action: { at: NOW + 63 * MIN, what: "expires_unless_renewed_by_hand" as const } };
    expect(stateHint(status({ ...watched, state: "due" }), NOW)).toBe(
      "Past its renewal point, and Evergreen only watches it: renew it yourself, or add a renew command (Edit).",
    );
    expect(stateHint(status({ state: "due" }), NOW)).toBe("Past its renewal point; Evergreen renews it shortly.");
    expect(stateHint(status({ ...watched, state: "failing", streak: 2, next_retry_at: NOW + MIN, offline: false }), NOW)).toBe(
      "Evergreen could not read it (2 times in a row); it tries again on its own.",
    );
    expect(stateHint(status({ ...watched, state: "expired" }), NOW)).toBe(
      "It has expired, and Evergreen only watches it: renew it yourself, or add a renew command (Edit).",
    );
    const all: State[] = [
      { state: "healthy" },
      { state: "due" },
      { state: "renewing" },
      { state: "failing", streak: 1, next_retry_at: NOW + MIN, offline: false },
      { state: "expired" },
      { state: "paused", reason: "r" },
      { state: "retired", reason: "r" },
      { state: "not_renewable" },
      { state: "final", expires_at: NOW + HOUR },
      { state: "disabled" },
    ];
    for (const st of all) {
      const s = status({ ...watched, ...st });
      for (const text of [stateHint(s, NOW), nextActionText(s, NOW), lastResultText({ ...s, last_result: null }, NOW)]) {
        expect(text ?? "", st.state).not.toMatch(/renews it|renew now|retries|not renewed yet/i);
      }
    }
    // A stale renew_at is not turned into "renews at …" for a watched file either.
    expect(nextActionText(status({ can_renew: false, renew_at: NOW + MIN, next_action: null }), NOW)).toBeNull();
    expect(lastResultText(status({ can_renew: false, last_result: null }), NOW)).toBe("Never renewed: Evergreen only watches it");
  });

  it("leaves out a last result that only repeats the hint", () => {
    const watched = { can_renew: false, last_result: null };
    for (const st of ["due", "expired"] as const) {
      const s = status({ ...watched, state: st });
      expect(stateHint(s, NOW)).toContain("only watches it");
      expect(lastResultRepeatsHint(s), st).toBe(true);
    }
    // A healthy watched file has no hint: its last result says it is watched.
    expect(stateHint(status({ ...watched, state: "healthy" }), NOW)).toBeNull();
    expect(lastResultRepeatsHint(status({ ...watched, state: "healthy" }))).toBe(false);
    // A renewable credential, or one with a result, keeps its line.
    expect(lastResultRepeatsHint(status({ state: "expired", last_result: null }))).toBe(false);
  });

  it("labels kinds plainly (the engine's labels, from the generated kind table)", () => {
    const kindLabel = (kind: string) => status({ kind }).kind_label;
    expect(kindLabel("x509_file")).toBe("X.509 file");
    expect(kindLabel("vault_token")).toBe("Vault token");
    expect(kindLabel("vault_pki")).toBe("Vault PKI certificate");
    expect(kindLabel("nixfleet")).toBe("nixfleet agent");
    expect(kindLabel("wrenn")).toBe("wrenn host");
    expect(kindLabel("certctl")).toBe("certctl agent");
  });

  it("labels the overall health", () => {
    expect(healthLabel("healthy")).toBe("All healthy");
    expect(healthTone("failing")).toBe("bad");
    expect(healthTone("attention")).toBe("warn");
  });
});

describe("what can be done: the engine's offers, as the window reads them", () => {
  // The rules themselves are the engine's (crates/core/src/model.rs, Offers::of,
  // with their own tests); these read its decisions from its samples.
  const renewOffered = (extra: Record<string, unknown>) => status(extra).offers.renew;
  const reregisterOffered = (extra: Record<string, unknown>) => status(extra).offers.reregister !== null;
  const pauseAction = (extra: Record<string, unknown>) => status(extra).offers.pause;

  it("offers Renew now only when renewable and not stopped", () => {
    expect(renewOffered({})).toBe(true);
    expect(renewOffered({ can_renew: false })).toBe(false);
    for (const s of ["retired", "disabled", "not_renewable", "final"] as const) {
      expect(renewOffered({ state: s, reason: "r", expires_at: NOW })).toBe(false);
    }
    expect(renewOffered({ state: "failing", streak: 1, next_retry_at: NOW, offline: false })).toBe(true);
    expect(renewOffered({ state: "expired" })).toBe(true);
    // The engine refuses to renew a paused credential, whoever paused it.
    expect(renewOffered({ state: "paused", reason: "r", user_paused: true })).toBe(false);
    expect(renewOffered({ state: "paused", reason: "r", user_paused: false })).toBe(false);
  });

  it("offers re-registration for kinds that enrol, retired, or paused by the engine or server", () => {
    expect(reregisterOffered({ kind: "wrenn", state: "retired", reason: "r" })).toBe(true);
    expect(reregisterOffered({ kind: "wrenn", state: "paused", reason: "r", user_paused: false })).toBe(true);
    expect(reregisterOffered({ kind: "wrenn", state: "paused", reason: "r", user_paused: true })).toBe(false);
    expect(reregisterOffered({ kind: "wrenn", state: "healthy" })).toBe(false);
    // nixfleet enrols with a token too (`evergreen register` takes one), so the window offers it now.
    expect(reregisterOffered({ kind: "nixfleet", state: "retired", reason: "r" })).toBe(true);
    expect(reregisterOffered({ kind: "certctl", state: "paused", reason: "r", user_paused: false })).toBe(false);
  });

  it("offers Resume only when the user paused it, Pause only when it runs", () => {
    expect(pauseAction({ state: "paused", reason: "r", user_paused: true })).toBe("resume");
    // Paused by the engine or the server: not the user's to resume.
    expect(pauseAction({ state: "paused", reason: "r", user_paused: false })).toBeNull();
    for (const state of ["healthy", "due", "renewing", "failing", "expired"] as const) {
      expect(pauseAction({ state, streak: 1, next_retry_at: NOW, offline: false }), state).toBe("pause");
    }
    for (const state of ["retired", "not_renewable", "disabled", "final"] as const) {
      expect(pauseAction({ state, reason: "r", expires_at: NOW }), state).toBeNull();
    }
  });
});

describe("derived texts", () => {
  it("computes the live fraction from the validity window", () => {
    const s = status({ not_before: NOW - 37 * MIN, not_after: NOW + 63 * MIN, remaining_fraction: 0.9 });
    expect(liveFraction(s, NOW)).toBeCloseTo(0.63, 5);
    expect(liveFraction(s, NOW + 63 * MIN)).toBe(0);
    expect(liveFraction(s, NOW + 2 * HOUR)).toBe(0);
    expect(liveFraction(status({ not_before: null, not_after: null, remaining_fraction: 0.4 }), NOW)).toBe(0.4);
    expect(liveFraction(status({ not_before: null, not_after: NOW - 1, remaining_fraction: 0.4 }), NOW)).toBe(0);
  });

  it("phrases expiry with the clock time", () => {
    expect(expiryText(status({ not_after: NOW + 3 * HOUR + 12 * MIN }), NOW)).toBe("expires in 3 hours (15:12)");
    expect(expiryText(status({ not_after: null }), NOW)).toBeNull();
  });

  it("phrases the next action", () => {
    expect(nextActionText(status({ next_action: { at: NOW + 2 * HOUR + 5 * MIN, what: "renew" } }), NOW)).toBe(
      "renews at 14:05 (in 2 hours)",
    );
    expect(
      nextActionText(
        status({ state: "failing", streak: 2, next_retry_at: NOW + 40_000, next_action: { at: NOW + 40_000, what: "retry_renewal" } }),
        NOW,
      ),
    ).toBe("retry at 12:00:40 (in 40 seconds)");
    expect(
      nextActionText(status({ state: "failing", streak: 2, next_retry_at: NOW + 40_000, next_action: null }), NOW),
    ).toBe("retry at 12:00:40 (in 40 seconds)");
    expect(
      nextActionText(status({ state: "final", expires_at: NOW + 3 * HOUR, next_action: { at: NOW + 3 * HOUR, what: "expires_for_good" } }), NOW),
    ).toBe("expires for good at 15:00 (in 3 hours) — log in again");
    expect(
      nextActionText(
        status({ can_renew: false, not_after: NOW + HOUR, next_action: { at: NOW + HOUR, what: "expires_unless_renewed_by_hand" } }),
        NOW,
      ),
    ).toBe("renew by hand");
    expect(nextActionText(status({ state: "renewing", next_action: { at: NOW, what: "renewing_now" } }), NOW)).toBe(
      "renewing now",
    );
    expect(nextActionText(status({ state: "retired", reason: "x", next_action: null }), NOW)).toBeNull();
  });

  it("phrases heartbeats", () => {
    expect(heartbeatText(status({ kind: "wrenn", last_heartbeat: NOW - 20_000 }), NOW)).toBe("last heartbeat just now");
    expect(heartbeatText(status({ kind: "wrenn", last_heartbeat: NOW - 3 * MIN }), NOW)).toBe("last heartbeat 3 minutes ago");
    expect(heartbeatText(status({ kind: "wrenn", last_heartbeat: undefined }), NOW)).toBe("no heartbeat yet");
    expect(heartbeatText(status({ kind: "x509_file", last_heartbeat: undefined }), NOW)).toBeNull();
    // certctl agents heartbeat like wrenn hosts.
    expect(heartbeatText(status({ kind: "certctl", last_heartbeat: NOW - 90_000 }), NOW)).toBe("last heartbeat 1 minute ago");
    expect(heartbeatText(status({ kind: "certctl", last_heartbeat: undefined }), NOW)).toBe("no heartbeat yet");
    expect(heartbeatText(status({ kind: "nixfleet", last_heartbeat: undefined }), NOW)).toBeNull();
  });

  it("phrases the last result", () => {
    expect(lastResultText(status({ last_result: null }), NOW)).toBe("Not renewed yet");
    expect(lastResultText(status(), NOW)).toBe("Renewed 37 minutes ago");
    expect(
      lastResultText(
        status({ last_result: { at: NOW - 5 * MIN, ok: true, message: "renewed; valid until 2026-11-26T12:00:00Z", duration_ms: 1 } }),
        NOW,
      ),
    ).toBe("Renewed 5 minutes ago");
    // The engine's note, not its log line: one sentence, nothing twice.
    expect(
      lastResultText(
        status({
          last_result: {
            at: NOW - 5 * MIN,
            ok: true,
            message: "renewed; valid until 2026-11-26T12:00:00Z, reload command failed: exit 1",
            note: "reload command failed: exit 1",
            duration_ms: 1,
          },
        }),
        NOW,
      ),
    ).toBe("Renewed 5 minutes ago; reload command failed: exit 1");
    expect(
      lastResultText(
        status({
          state: "capped",
          reason: "the CA caps it",
          next_try_at: NOW + HOUR,
          last_result: { at: NOW - MIN, ok: true, message: "renewed, but capped: …", duration_ms: 1 },
        }),
        NOW,
      ),
    ).toBe("Renewed 1 minute ago, but capped by its issuer");
    expect(
      lastResultText(
        status({ last_result: { at: NOW - 2 * MIN, ok: false, message: "403 denied", duration_ms: 1 } }),
        NOW,
      ),
    ).toBe("Failed 2 minutes ago: 403 denied");
  });
});

describe("one place per fact", () => {
  it("does not repeat a failed renewal's error as the card's problem", async () => {
    const { problemText } = await import("./state");
    const failed = { at: NOW, ok: false, message: "CA unreachable.", duration_ms: 1 };
    expect(problemText({ problem: "CA unreachable", last_result: failed })).toBeNull();
    expect(problemText({ problem: "the key file is unreadable", last_result: failed })).toBe("the key file is unreadable");
    expect(problemText({ problem: null, last_result: failed })).toBeNull();
  });

  it("lets the clock sleep while nothing shown changes", async () => {
    const { clockDelay } = await import("./state");
    const snap = (credentials: ReturnType<typeof status>[]) => ({
      credentials,
      now: NOW,
      worst: "healthy" as const,
      notifications_paused_until: null,
      demo: false,
      config_path: "",
      config_problem: null,
      store_problem: null,
    });
    // A 90-day certificate renewed yesterday: nothing on its card moves for a minute.
    const long = status({
      not_before: NOW - 24 * HOUR,
      not_after: NOW + 89 * 24 * HOUR + 5 * HOUR,
      renew_at: NOW + 59 * 24 * HOUR + 5 * HOUR,
      next_action: { at: NOW + 59 * 24 * HOUR + 5 * HOUR, what: "renew" },
      last_result: { at: NOW - 24 * HOUR - 30 * 1000, ok: true, message: "renewed", duration_ms: 1 },
    });
    expect(clockDelay(snap([long]), NOW)).toBe(60_000);
    // A retry 40 s away is a countdown in seconds.
    const soon = status({ name: "soon", state: "failing", streak: 1, next_retry_at: NOW + 40_500, offline: false });
    expect(clockDelay(snap([long, soon]), NOW)).toBe(1000);
  });
});
