import { describe, expect, it } from "vitest";
import type { State } from "../bindings";
import {
  expiryText,
  healthLabel,
  healthTone,
  heartbeatText,
  isTerminal,
  kindLabel,
  lastResultText,
  liveFraction,
  nextActionText,
  renewOffered,
  reregisterOffered,
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
    [{ state: "failing", streak: 3, next_retry_at: NOW }, "Failing (3 in a row)"],
    [{ state: "failing", streak: 1, next_retry_at: NOW }, "Failing"],
    [{ state: "expired" }, "Expired"],
    [{ state: "paused", reason: "x" }, "Paused"],
    [{ state: "retired", reason: "x" }, "Retired"],
    [{ state: "not_renewable" }, "Not renewable"],
    [{ state: "final", expires_at: NOW }, "Final — cannot be extended"],
    [{ state: "disabled" }, "Disabled"],
  ])("%o -> %s", (s, label) => {
    expect(stateLabel(s)).toBe(label);
  });

  it("tells the user what they can do", () => {
    expect(stateHint(status(), NOW)).toBeNull();
    expect(stateHint(status({ state: "retired", reason: "host deleted" }), NOW)).toBe(
      "The server retired this identity (host deleted); it will not be renewed — register it again.",
    );
    expect(stateHint(status({ state: "not_renewable" }), NOW)).toContain("only a new login helps");
    expect(stateHint(status({ state: "final", expires_at: NOW + HOUR }), NOW)).toContain("only a new login helps");
    expect(stateHint(status({ state: "paused", reason: "paused by you" }), NOW)).toBe(
      "Paused: paused by you. Resume it to renew again.",
    );
    expect(stateHint(status({ kind: "wrenn", state: "paused", reason: "token needed" }), NOW)).toContain(
      "re-register it with a new one-time token",
    );
    expect(stateHint(status({ state: "failing", streak: 2, next_retry_at: NOW + 4 * MIN }), NOW)).toContain(
      "The last 2 renewals failed. Evergreen retries on its own; you can also renew now.",
    );
    expect(stateHint(status({ state: "disabled" }), NOW)).toContain("Disabled");
  });

  it("labels kinds plainly", () => {
    expect(kindLabel("x509_file")).toBe("X.509 file");
    expect(kindLabel("vault_token")).toBe("Vault token");
    expect(kindLabel("vault_pki")).toBe("Vault PKI certificate");
    expect(kindLabel("nixfleet")).toBe("nixfleet agent");
    expect(kindLabel("wrenn")).toBe("wrenn host");
    expect(kindLabel("certctl")).toBe("certctl agent");
    expect(kindLabel("something_new")).toBe("something_new");
  });

  it("labels the overall health", () => {
    expect(healthLabel("healthy")).toBe("All healthy");
    expect(healthTone("failing")).toBe("bad");
    expect(healthTone("attention")).toBe("warn");
  });
});

describe("what can be done", () => {
  it("offers Renew now only when renewable and not terminal", () => {
    expect(renewOffered(status())).toBe(true);
    expect(renewOffered(status({ can_renew: false }))).toBe(false);
    for (const s of ["retired", "disabled", "not_renewable", "final"] as const) {
      expect(isTerminal(s)).toBe(true);
      expect(renewOffered(status({ state: s, reason: "r", expires_at: NOW }))).toBe(false);
    }
    expect(renewOffered(status({ state: "failing", streak: 1, next_retry_at: NOW }))).toBe(true);
    expect(renewOffered(status({ state: "expired" }))).toBe(true);
  });

  it("offers re-registration for paused or retired wrenn hosts only", () => {
    expect(reregisterOffered({ kind: "wrenn", state: "retired" })).toBe(true);
    expect(reregisterOffered({ kind: "wrenn", state: "paused" })).toBe(true);
    expect(reregisterOffered({ kind: "wrenn", state: "healthy" })).toBe(false);
    expect(reregisterOffered({ kind: "nixfleet", state: "retired" })).toBe(false);
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
    expect(expiryText(status({ not_after: NOW + 3 * HOUR + 12 * MIN }), NOW)).toBe("expires in 3 h 12 min (15:12)");
    expect(expiryText(status({ not_after: null }), NOW)).toBeNull();
  });

  it("phrases the next action", () => {
    expect(nextActionText(status({ next_action: { at: NOW + 2 * HOUR + 5 * MIN, what: "renew" } }), NOW)).toBe(
      "renews at 14:05 (in 2 h 5 min)",
    );
    expect(
      nextActionText(
        status({ state: "failing", streak: 2, next_retry_at: NOW + 40_000, next_action: { at: NOW + 40_000, what: "retry renewal" } }),
        NOW,
      ),
    ).toBe("retry at 12:00:40 (in 40 s)");
    expect(
      nextActionText(status({ state: "failing", streak: 2, next_retry_at: NOW + 40_000, next_action: null }), NOW),
    ).toBe("retry at 12:00:40 (in 40 s)");
    expect(
      nextActionText(status({ state: "final", expires_at: NOW + 3 * HOUR, next_action: { at: NOW + 3 * HOUR, what: "expires for good (log in again)" } }), NOW),
    ).toBe("expires for good at 15:00 (in 3 h) — log in again");
    expect(
      nextActionText(
        status({ can_renew: false, not_after: NOW + HOUR, next_action: { at: NOW + HOUR, what: "expires (renew by hand)" } }),
        NOW,
      ),
    ).toBe("renew by hand");
    expect(nextActionText(status({ state: "renewing", next_action: { at: NOW, what: "renewing now" } }), NOW)).toBe(
      "renewing now",
    );
    expect(nextActionText(status({ state: "retired", reason: "x", next_action: null }), NOW)).toBeNull();
  });

  it("phrases heartbeats", () => {
    expect(heartbeatText({ kind: "wrenn", last_heartbeat: NOW - 20_000 }, NOW)).toBe("last heartbeat 20 s ago");
    expect(heartbeatText({ kind: "wrenn", last_heartbeat: undefined }, NOW)).toBe("no heartbeat yet");
    expect(heartbeatText({ kind: "x509_file", last_heartbeat: undefined }, NOW)).toBeNull();
  });

  it("phrases the last result", () => {
    expect(lastResultText(status({ last_result: null }), NOW)).toBe("not renewed yet");
    expect(lastResultText(status(), NOW)).toBe("renewed 37 min ago");
    expect(
      lastResultText(
        status({ last_result: { at: NOW - 5 * MIN, ok: true, message: "valid for 24 h", duration_ms: 1 } }),
        NOW,
      ),
    ).toBe("renewed 5 min ago: valid for 24 h");
    expect(
      lastResultText(
        status({ last_result: { at: NOW - 2 * MIN, ok: false, message: "403 denied", duration_ms: 1 } }),
        NOW,
      ),
    ).toBe("renewal failed 2 min ago: 403 denied");
  });
});
