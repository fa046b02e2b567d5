// Remaining validity over time, derived from the renewal history: a sawtooth.
// Each certificate (or token) falls linearly from 1 at issue to 0 at not_after;
// a renewal replaces it, so the curve jumps up at the renewal's time.

import type { CredentialStatus, HistoryEntry } from "../bindings";
import { axisLabel, userLocale } from "./format";

export type ValidityPoint = { t: number; fraction: number };

type Span = {
  /** When this credential's lifetime started (issue time, maybe estimated). */
  issued: number;
  notAfter: number;
  /** When it appears on the chart (the renewal that brought it in). */
  from: number;
};

function fractionAt(span: Span, t: number): number {
  const lifetime = span.notAfter - span.issued;
  if (lifetime <= 0) {
    return 0;
  }
  return Math.min(1, Math.max(0, (span.notAfter - t) / lifetime));
}

/**
 * Points (t in Unix ms, fraction 0..1) of remaining validity, oldest first.
 *
 * - history: entries in any order (the backend sends newest first); only the
 *   ones that set a new not_after (successful renewals) change the curve.
 * - status: the credential now; its not_before/not_after describe the current one.
 * - now: engine time; the curve ends there.
 *
 * A renewal at time t yields two points with the same t: the old credential's
 * fraction just before and the new one's just after.
 */
export function deriveValidity(
  history: readonly HistoryEntry[],
  status: Pick<CredentialStatus, "not_before" | "not_after">,
  now: number,
): ValidityPoint[] {
  const renewals = history
    .filter((e) => e.new_not_after !== null && e.at <= now)
    .slice()
    .sort((a, b) => a.at - b.at || a.id - b.id);

  const spans: Span[] = [];
  for (const r of renewals) {
    const notAfter = r.new_not_after as number;
    spans.push({ issued: r.at, notAfter, from: r.at });
  }

  // The one that the first renewal replaced: its lifetime is unknown, so assume
  // it was as long as its successor's (lifetimes of one credential are alike).
  const first = renewals[0];
  if (first && first.old_not_after !== null && spans.length > 0) {
    const lifetime = spans[0].notAfter - spans[0].issued;
    if (lifetime > 0) {
      const issued = Math.min(first.old_not_after - lifetime, first.at);
      spans.unshift({ issued, notAfter: first.old_not_after, from: issued });
    }
  }

  // The current one: exact lifetime from not_before when we know it.
  if (status.not_after !== null) {
    const last = spans[spans.length - 1];
    if (last && last.notAfter === status.not_after) {
      if (status.not_before !== null && status.not_before < status.not_after) {
        last.issued = status.not_before;
      }
    } else if (status.not_before !== null && status.not_before < status.not_after) {
      const from = last ? Math.max(last.from, status.not_before) : status.not_before;
      spans.push({ issued: status.not_before, notAfter: status.not_after, from });
    }
  }

  const points: ValidityPoint[] = [];
  spans.forEach((span, i) => {
    const next = spans[i + 1];
    const from = Math.min(span.from, now);
    const to = Math.max(from, next ? Math.min(next.from, now) : now);
    points.push({ t: from, fraction: fractionAt(span, from) });
    if (span.notAfter > from && span.notAfter < to) {
      points.push({ t: span.notAfter, fraction: 0 });
    }
    if (to > from) {
      points.push({ t: to, fraction: fractionAt(span, to) });
    }
  });
  return points;
}

/**
 * uPlot wants [xs, ys] with xs ascending in seconds; vertical jumps (equal t)
 * are nudged apart by a millisecond. ys are percent.
 */
export function toPlotData(points: readonly ValidityPoint[]): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  let prev = -Infinity;
  for (const p of points) {
    let x = p.t / 1000;
    if (x <= prev) {
      x = prev + 0.001;
    }
    xs.push(x);
    ys.push(Math.round(p.fraction * 1000) / 10);
    prev = x;
  }
  return [xs, ys];
}

/**
 * Labels for the time axis (ticks in seconds, local time, the user's locale),
 * as fine as the ticks are apart: seconds when they are less than a minute
 * apart, a weekday once the span passes two days, a date once they are a day
 * apart. A label equal to the one before it is left blank, so no label repeats.
 */
export function timeAxisLabels(ticks: readonly number[], spanSeconds: number, locale = userLocale()): string[] {
  // The ticks' spacing, or for a lone tick a fraction of the span.
  let step = ticks.length > 1 ? Infinity : spanSeconds / 4;
  for (let i = 1; i < ticks.length; i++) step = Math.min(step, ticks[i] - ticks[i - 1]);
  const shape = step < 60 ? "seconds" : step >= 86400 ? "date" : spanSeconds > 2 * 86400 ? "weekday" : "time";
  let prev: string | null = null;
  return ticks.map((sec) => {
    const label = axisLabel(sec * 1000, shape, locale);
    const shown = label === prev ? "" : label;
    prev = label;
    return shown;
  });
}
