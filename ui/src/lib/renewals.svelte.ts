// "Renew now" as the UI tracks it: one in-flight call per credential, shared by
// the dashboard card and the detail view so it can never double-fire, and the
// last result to show inline. The renewal itself is the engine's business.

import * as api from "./api";
import { announce } from "./live.svelte";

export type RenewUi = {
  inFlight: boolean;
  /**
   * What the last click came to. `recordedAt`: when the engine recorded it as
   * the credential's last result (whose line then says it, not this one
   * twice); null when it was refused before it ran or the call failed.
   */
  result: { ok: boolean; message: string; recordedAt: number | null } | null;
};

export const renewals: Record<string, RenewUi> = $state({});

export function renewUi(name: string): RenewUi {
  return renewals[name] ?? { inFlight: false, result: null };
}

/** ": message", unless the message says no more than the outcome does. */
export function detail(message: string): string {
  const m = message.trim();
  return m === "" || m.toLowerCase() === "renewed" ? "" : `: ${m}`;
}

/** Starts a renewal unless one from this UI is already in flight for `name`. */
export async function renewNow(name: string): Promise<void> {
  if (renewals[name]?.inFlight) {
    return;
  }
  renewals[name] = { inFlight: true, result: null };
  announce(`Renewing ${name}…`);
  try {
    const out = await api.renew(name);
    renewals[name] = {
      inFlight: false,
      result: { ok: out.ok, message: out.message, recordedAt: out.recorded_at ?? null },
    };
    announce(out.ok ? `${name} renewed${detail(out.message)}` : `${name}: renewal failed${detail(out.message)}`);
  } catch (e) {
    const err = api.toAppError(e);
    renewals[name] = { inFlight: false, result: { ok: false, message: err.message, recordedAt: null } };
    announce(`${name}: renewal failed: ${err.message}`);
  }
}

/**
 * The words beside the button after a click: a short mark when the engine
 * recorded the result (the last-result line has its words), the reason when
 * it did not; null once a later result has come (nothing stale stays).
 */
export function inlineResult(ui: RenewUi, lastResultAt: number | null): string | null {
  const r = ui.result;
  if (!r || ui.inFlight) return null;
  if (r.recordedAt === null) return `✗ Not renewed: ${r.message}`;
  if (lastResultAt !== null && lastResultAt > r.recordedAt) return null;
  return r.ok ? "✓ Renewed" : "✗ Failed";
}

/** For tests. */
export function resetRenewals(): void {
  for (const k of Object.keys(renewals)) {
    delete renewals[k];
  }
}
