import type { CredentialStatus, HistoryEntry, Snapshot } from "../bindings";
import { decided } from "../lib/decided";

export const NOW = Date.UTC(2026, 10, 25, 12, 0, 0); // 2026-11-25 12:00:00 UTC
export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** A status: a healthy watched certificate, changed by `extra`; the engine's decisions follow unless `extra` gives them. */
export function status(extra: Partial<CredentialStatus> & Record<string, unknown> = {}): CredentialStatus {
  const s = {
    name: "web",
    kind: "x509_file",
    state: "healthy",
    not_before: NOW - 37 * MIN,
    not_after: NOW + 63 * MIN,
    remaining_fraction: 0.63,
    renew_at: NOW + 30 * MIN,
    next_action: { at: NOW + 30 * MIN, what: "renew" },
    last_result: { at: NOW - 37 * MIN, ok: true, message: "renewed", duration_ms: 400 },
    details: null,
    can_renew: true,
    problem: null,
    renewals: { success: 3, failure: 0, not_renewable: 0, capped: 0 },
    heartbeats: { success: 0, failure: 0 },
    last_heartbeat: undefined,
    user_paused: false,
    updated_at: NOW - 1000,
    ...extra,
  } as CredentialStatus;
  return { ...s, ...decided(s), ...extra } as CredentialStatus;
}

let nextId = 1;
export function entry(extra: Partial<HistoryEntry>): HistoryEntry {
  return {
    id: nextId++,
    at: NOW,
    credential: "web",
    action: "renew",
    outcome: "success",
    message: "",
    duration_ms: 100,
    old_not_after: null,
    new_not_after: null,
    ...extra,
  };
}

export function snapshot(extra: Partial<Snapshot> = {}): Snapshot {
  return {
    credentials: [status()],
    now: NOW,
    worst: "healthy",
    notifications_paused_until: null,
    demo: false,
    config_path: "/home/me/.config/evergreen/config.toml",
    config_problem: null,
    store_problem: null,
    ...extra,
  };
}
