// Pure mapping from the engine's status to what the UI shows: plain words,
// colours, sentences. What a credential's kind is called, what its state is
// called and what the user can do with it are the engine's to decide (its
// `kind_label`, `state_label`, `offers`): nothing here restates a rule about
// a kind or a state's actions.

import type { CredentialStatus, Health, Next, Snapshot, State } from "../bindings";
import { formatClock, formatExpiry, formatRelative, nextChange } from "./format";

export type StateName = State["state"];

/** Colour family of a state; each maps to a CSS custom property. */
export type Tone = "good" | "warn" | "bad" | "grey" | "muted";

const TONES: Record<StateName, Tone> = {
  healthy: "good",
  due: "warn",
  renewing: "warn",
  final: "warn",
  capped: "warn",
  not_renewable: "warn",
  failing: "bad",
  expired: "bad",
  paused: "grey",
  retired: "grey",
  disabled: "muted",
};

export function stateTone(state: StateName): Tone {
  return TONES[state] ?? "muted";
}

/** The CSS colour (a custom property defined in app.css for light and dark). */
export function toneColor(tone: Tone): string {
  return `var(--tone-${tone})`;
}

export function stateColor(state: StateName): string {
  return toneColor(stateTone(state));
}

/** The state as the window shows it: the engine's words, with a capital. */
export function stateLabel(s: Pick<CredentialStatus, "state_label">): string {
  return s.state_label.charAt(0).toUpperCase() + s.state_label.slice(1);
}

/** An engine-written reason, ready to be followed by a full stop. */
function clause(reason: string): string {
  return reason.trim().replace(/[.\s]+$/, "") || "no reason given";
}

/**
 * One sentence: why the credential is in this state and what the user can do.
 * Null when there is nothing to say (healthy).
 */
export function stateHint(s: CredentialStatus, now: number): string | null {
  switch (s.state) {
    case "healthy":
      return null;
    case "due":
      return s.can_renew
        ? "Past its renewal point; Evergreen renews it shortly."
        : "Past its renewal point, and Evergreen only watches it: renew it yourself, or add a renew command (Edit).";
    case "renewing":
      return "A renewal is running.";
    case "failing":
      if (s.offline) {
        return "This machine has no network. Evergreen tries again the moment it is back, without notifying you meanwhile.";
      }
      if (!s.can_renew) {
        return `Evergreen could not read it${s.streak > 1 ? ` (${s.streak} times in a row)` : ""}; it tries again on its own.`;
      }
      return `The last ${s.streak > 1 ? `${s.streak} renewals` : "renewal"} failed. Evergreen retries on its own; you can also renew now.`;
    case "expired":
      return s.can_renew
        ? "It has expired. Try Renew now; if that fails, get a new one."
        : "It has expired, and Evergreen only watches it: renew it yourself, or add a renew command (Edit).";
    case "paused":
      if (s.user_paused) {
        return s.paused_until
          ? `Paused by you until ${formatClock(s.paused_until, now)}: Evergreen renews it again then, or when you resume it.`
          : "Paused by you: Evergreen does not renew it until you resume it.";
      }
      if (s.offers.reregister !== null) {
        // Paused after failed heartbeats, the engine goes on beating (there is
        // a next action); paused for a problem of its own, it waits for the user.
        return s.has_heartbeats && s.next_action
          ? `Paused: ${clause(s.reason)}. Evergreen keeps sending heartbeats; if the server no longer knows this host, re-register it with a new one-time token.`
          : `Paused: ${clause(s.reason)}. Re-register it with a new one-time token to carry on.`;
      }
      return `Paused: ${clause(s.reason)}. Once that is fixed, Evergreen looks again when its files or its settings change.`;
    case "retired":
      return `The server retired this identity${s.reason ? ` (${s.reason})` : ""}; it will not be renewed — register it again.`;
    case "not_renewable":
      return "It cannot be renewed; only a new login helps.";
    case "final":
      return `It has reached its maximum lifetime and ends ${formatRelative(s.expires_at, now)}; only a new login helps.`;
    case "capped":
      // The engine does not renew it again before next_try_at, so a CA that
      // caps every certificate is not asked over and over.
      return `Renewed, but capped: ${clause(s.reason)}. Evergreen tries again ${formatRelative(s.next_try_at, now)} at the earliest; Renew now tries at once.`;
    case "disabled":
      return "Disabled in the configuration; Evergreen does not renew it.";
  }
}

/** Health of the whole set, for the header. */
export function healthLabel(h: Health): string {
  switch (h) {
    case "healthy":
      return "All healthy";
    case "attention":
      return "Needs attention";
    case "stopped":
      return "Some stopped";
    case "failing":
      return "Failing";
  }
}

export function healthTone(h: Health): Tone {
  switch (h) {
    case "healthy":
      return "good";
    case "attention":
      return "warn";
    case "stopped":
      return "warn";
    case "failing":
      return "bad";
  }
}

/**
 * Remaining fraction at `now` (engine time), recomputed from not_before/not_after
 * so the bar moves between snapshots; falls back to the snapshot's value.
 */
export function liveFraction(
  s: Pick<CredentialStatus, "not_before" | "not_after" | "remaining_fraction">,
  now: number,
): number | null {
  if (s.not_before !== null && s.not_after !== null && s.not_after > s.not_before) {
    return Math.min(1, Math.max(0, (s.not_after - now) / (s.not_after - s.not_before)));
  }
  if (s.not_after !== null && s.not_after <= now) {
    return 0;
  }
  return s.remaining_fraction;
}

/** "expires in 3 h 12 min" / "expired 5 min ago" plus the clock time, or null. */
export function expiryText(s: Pick<CredentialStatus, "not_after">, now: number): string | null {
  if (s.not_after === null) {
    return null;
  }
  return `${formatExpiry(s.not_after, now)} (${formatClock(s.not_after, now)})`;
}

// What the engine does next, in the window's words: a verb before the time,
// or what happens at it and the advice after it.
const NEXT_WORDS: Record<Next, { verb: string } | { happens: string; advice: string }> = {
  renewing_now: { verb: "renewing now" },
  renew: { verb: "renews" },
  retry_renewal: { verb: "retry" },
  read_again: { verb: "reads again" },
  heartbeat: { verb: "next heartbeat" },
  renew_again: { happens: "renew again", advice: "capped" },
  expires_unless_renewed_by_hand: { happens: "expires", advice: "renew by hand" },
  expires_for_good: { happens: "expires for good", advice: "log in again" },
  expires_not_renewable: { happens: "expires", advice: "cannot be renewed" },
};

function at(clockAt: number, now: number): string {
  return `at ${formatClock(clockAt, now)} (${formatRelative(clockAt, now)})`;
}

/**
 * "renews at 14:05 (in 3 h)", "retry at 14:05:30 (in 40 s)", "expires at 14:05
 * (in 2 h) — renew by hand", or null when nothing is planned.
 */
export function nextActionText(s: CredentialStatus, now: number): string | null {
  const next = s.next_action;
  if (next) {
    if (next.what === "renewing_now" || s.state === "renewing") {
      return "renewing now";
    }
    const words = NEXT_WORDS[next.what];
    if (!words) {
      return `${next.what.replace(/_/g, " ")} ${at(next.at, now)}`;
    }
    if ("verb" in words) {
      return `${words.verb} ${at(next.at, now)}`;
    }
    if (words.happens.startsWith("expires") && next.at === s.not_after) {
      // The expiry is shown already: keep only the advice.
      return words.advice;
    }
    return `${words.happens} ${at(next.at, now)} — ${words.advice}`;
  }
  if (s.state === "renewing") {
    return "renewing now";
  }
  if (s.state === "failing") {
    return `retry ${at(s.next_retry_at, now)}`;
  }
  if (s.renew_at !== null && s.offers.renew) {
    return `renews ${at(s.renew_at, now)}`;
  }
  return null;
}

/**
 * "last heartbeat 5 minutes ago" when the engine reported one; "no heartbeat
 * yet" for kinds that live on heartbeats; null otherwise.
 */
export function heartbeatText(s: Pick<CredentialStatus, "has_heartbeats" | "last_heartbeat">, now: number): string | null {
  if (s.last_heartbeat === undefined || s.last_heartbeat === null) {
    return s.has_heartbeats ? "no heartbeat yet" : null;
  }
  const rel = formatRelative(s.last_heartbeat, now);
  return `last heartbeat ${rel === "now" ? "just now" : rel}`;
}

/**
 * Whether the last-result line would only repeat the hint: a watched file
 * never renewed, whose hint (past its renewal point, expired) already says
 * Evergreen only watches it.
 */
export function lastResultRepeatsHint(s: Pick<CredentialStatus, "last_result" | "can_renew" | "state">): boolean {
  return !s.can_renew && !s.last_result && (s.state === "due" || s.state === "expired");
}

/**
 * The last renewal result as one sentence: "Renewed 5 minutes ago",
 * "Renewed 5 minutes ago; the reload command failed: …", "Failed 2 minutes
 * ago: <what went wrong>". The engine's own words for a success (its
 * `message`, written for the log) are not repeated; only its note is.
 */
export function lastResultText(s: Pick<CredentialStatus, "last_result" | "can_renew" | "state">, now: number): string {
  const r = s.last_result;
  if (!r) {
    return s.can_renew ? "Not renewed yet" : "Never renewed: Evergreen only watches it";
  }
  const rel = formatRelative(r.at, now);
  const when = rel === "now" ? "just now" : rel;
  if (r.ok) {
    const capped = s.state === "capped" ? ", but capped by its issuer" : "";
    const note = r.note?.trim() ? `; ${clause(r.note)}` : "";
    return `Renewed ${when}${capped}${note}`;
  }
  return `Failed ${when}: ${clause(r.message || "no message")}`;
}

/**
 * The credential's problem, unless it says what the last result already says
 * (a failed renewal's message is its problem too): one place per error.
 */
export function problemText(s: Pick<CredentialStatus, "problem" | "last_result">): string | null {
  const p = s.problem?.trim();
  if (!p) return null;
  const r = s.last_result;
  if (r && !r.ok && clause(r.message) === clause(p)) return null;
  return p;
}

/**
 * Every instant the window phrases relative to now for this credential, and
 * its lifetime (for the bar): what the clock must follow to stay true.
 */
export function shownTimes(s: CredentialStatus): { times: number[]; lifetime: [number, number] | null } {
  const times: number[] = [];
  const push = (t: number | null | undefined) => {
    if (t !== null && t !== undefined && Number.isFinite(t)) times.push(t);
  };
  push(s.not_after);
  push(s.renew_at);
  push(s.next_action?.at);
  push(s.last_result?.at);
  push(s.last_heartbeat);
  if (s.state === "failing") push(s.next_retry_at);
  if (s.state === "capped") push(s.next_try_at);
  if (s.state === "final") push(s.expires_at);
  const lifetime: [number, number] | null =
    s.not_before !== null && s.not_after !== null && s.not_after > s.not_before ? [s.not_before, s.not_after] : null;
  return { times, lifetime };
}

// Most urgent first: what needs the user (or a renewal) now, then what
// Evergreen is handling, then what is fine, then what is stopped.
const URGENCY: Record<StateName, number> = {
  failing: 0,
  expired: 1,
  due: 2,
  renewing: 3,
  capped: 4,
  final: 5,
  not_renewable: 6,
  healthy: 7,
  paused: 8,
  retired: 9,
  disabled: 10,
};

/** The rank of a credential in the urgency order (an offline failure waits, like a due one). */
export function urgency(s: State): number {
  if (s.state === "failing" && s.offline) return URGENCY.due;
  return URGENCY[s.state] ?? URGENCY.disabled;
}

export type SortOrder = "urgency" | "name";

/** Credentials in the order asked: by urgency (then soonest expiry, then name), or by name. */
export function sortCredentials<T extends State & Pick<CredentialStatus, "name" | "not_after">>(
  list: readonly T[],
  order: SortOrder,
): T[] {
  const byName = (a: T, b: T) => a.name.localeCompare(b.name);
  if (order === "name") return [...list].sort(byName);
  const expiry = (s: T) => s.not_after ?? Number.POSITIVE_INFINITY;
  return [...list].sort((a, b) => urgency(a) - urgency(b) || expiry(a) - expiry(b) || byName(a, b));
}

/** Whether a credential matches what was typed in the filter box: every word in its name, kind or state. */
export function matchesFilter(s: CredentialStatus, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = `${s.name} ${s.kind} ${s.kind_label} ${s.state} ${s.state_label}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

/**
 * How long the window's clock may wait before something it shows reads
 * differently (a relative time, a bar's percent): seconds only while a
 * countdown under a minute is on screen, otherwise up to a minute.
 */
export function clockDelay(snapshot: Snapshot, now: number): number {
  const times: number[] = [];
  const lifetimes: Array<[number, number]> = [];
  for (const c of snapshot.credentials) {
    const shown = shownTimes(c);
    times.push(...shown.times);
    if (shown.lifetime) lifetimes.push(shown.lifetime);
  }
  if (snapshot.notifications_paused_until !== null) times.push(snapshot.notifications_paused_until);
  return nextChange(times, lifetimes, now);
}
