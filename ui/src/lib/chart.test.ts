import { describe, expect, it } from "vitest";
import { deriveValidity, timeAxisLabels, toPlotData } from "./chart";
import { entry, HOUR, NOW } from "../test/fixtures";

// One-hour credentials renewed when 1/3 is left (every 40 min): a sawtooth.
const L = HOUR;
const R = (2 / 3) * HOUR;

function pts(points: { t: number; fraction: number }[]) {
  return points.map((p) => [p.t - NOW, Math.round(p.fraction * 1000) / 1000]);
}

describe("deriveValidity", () => {
  it("is a straight line for a credential without history", () => {
    const status = { not_before: NOW - 15 * 60_000, not_after: NOW + 45 * 60_000 };
    expect(pts(deriveValidity([], status, NOW))).toEqual([
      [-15 * 60_000, 1],
      [0, 0.75],
    ]);
  });

  it("is empty when nothing is known", () => {
    expect(deriveValidity([], { not_before: null, not_after: null }, NOW)).toEqual([]);
  });

  it("draws a sawtooth: each renewal jumps back up", () => {
    const t1 = NOW - 2 * R;
    const t2 = NOW - R;
    // newest first, as the backend sends them; a failure and a heartbeat in between
    const history = [
      entry({ at: t2, old_not_after: t1 + L, new_not_after: t2 + L }),
      entry({ at: t2 - 60_000, outcome: "failure", old_not_after: t1 + L, new_not_after: null }),
      entry({ at: t1 + 1000, action: "heartbeat", new_not_after: null }),
      entry({ at: t1, old_not_after: t1 + L / 3, new_not_after: t1 + L }),
    ];
    const status = { not_before: t2, not_after: t2 + L };
    const p = pts(deriveValidity(history, status, NOW));
    expect(p).toEqual([
      // the one before the first renewal (lifetime assumed equal to its successor's)
      [t1 + L / 3 - L - NOW, 1],
      [t1 - NOW, 0.333],
      // first renewal: jump to full
      [t1 - NOW, 1],
      [t2 - NOW, 0.333],
      // second renewal
      [t2 - NOW, 1],
      [0, 0.333],
    ]);
    // a sawtooth: falls within a span, jumps up only at renewals
    const raw = deriveValidity(history, status, NOW);
    for (let i = 1; i < raw.length; i++) {
      expect(raw[i].t).toBeGreaterThanOrEqual(raw[i - 1].t);
      if (raw[i].t > raw[i - 1].t) expect(raw[i].fraction).toBeLessThanOrEqual(raw[i - 1].fraction);
    }
  });

  it("drops to zero and stays there while expired", () => {
    const t1 = NOW - 2 * HOUR;
    const history = [entry({ at: t1, old_not_after: t1, new_not_after: t1 + L })];
    const status = { not_before: t1, not_after: t1 + L };
    const p = pts(deriveValidity(history, status, NOW));
    expect(p.slice(-3)).toEqual([
      [t1 - NOW, 1],
      [t1 + L - NOW, 0],
      [0, 0],
    ]);
  });

  it("uses the credential's real not_before for the current lifetime", () => {
    const t1 = NOW - 30 * 60_000;
    // issued 10 min before the renewal finished recording it
    const history = [entry({ at: t1, old_not_after: null, new_not_after: t1 + 50 * 60_000 })];
    const status = { not_before: t1 - 10 * 60_000, not_after: t1 + 50 * 60_000 };
    expect(pts(deriveValidity(history, status, NOW))).toEqual([
      [t1 - NOW, 50 / 60],
      [0, 20 / 60],
    ].map(([t, f]) => [t, Math.round(f * 1000) / 1000]));
  });

  it("adds the current credential when it changed outside the history", () => {
    const t1 = NOW - HOUR;
    const history = [entry({ at: t1, old_not_after: null, new_not_after: t1 + L })];
    const status = { not_before: NOW - 10 * 60_000, not_after: NOW + 50 * 60_000 };
    const p = pts(deriveValidity(history, status, NOW));
    expect(p).toEqual([
      [t1 - NOW, 1],
      [-10 * 60_000, 0.167],
      [-10 * 60_000, 1],
      [0, 0.833],
    ]);
  });

  it("ignores entries from the future", () => {
    const status = { not_before: NOW - 10 * 60_000, not_after: NOW + 50 * 60_000 };
    const history = [entry({ at: NOW + 5000, old_not_after: NOW + 50 * 60_000, new_not_after: NOW + 2 * HOUR })];
    expect(pts(deriveValidity(history, status, NOW))).toEqual([
      [-10 * 60_000, 1],
      [0, 0.833],
    ]);
  });
});

describe("toPlotData", () => {
  it("converts to seconds and percent, nudging vertical jumps apart", () => {
    const [xs, ys] = toPlotData([
      { t: 10_000, fraction: 1 },
      { t: 20_000, fraction: 0.5 },
      { t: 20_000, fraction: 1 },
      { t: 30_000, fraction: 0.755 },
    ]);
    expect(xs).toEqual([10, 20, 20.001, 30]);
    expect(ys).toEqual([100, 50, 100, 75.5]);
  });
});

describe("timeAxisLabels", () => {
  it("is as fine as the ticks are apart (local time, the user's locale)", () => {
    const t = NOW / 1000 + 2 * 3600 + 5 * 60 + 30; // 14:05:30 UTC, a Wednesday
    expect(timeAxisLabels([t], 30)).toEqual(["14:05:30"]);
    expect(timeAxisLabels([t], 3 * 3600)).toEqual(["14:05"]);
    expect(timeAxisLabels([t], 3 * 86400)).toEqual(["Wed 14:05"]);
    expect(timeAxisLabels([t, t + 86400], 30 * 86400)).toEqual(["25 Nov", "26 Nov"]);
    expect(timeAxisLabels([t], 3 * 3600, "en-US")).toEqual(["2:05 PM"]);
  });

  it("never repeats a label", () => {
    // Ticks 30 s apart over 11 minutes: minutes alone would say each one twice.
    const start = NOW / 1000;
    const ticks = Array.from({ length: 22 }, (_, i) => start + i * 30);
    const labels = timeAxisLabels(ticks, 11 * 60);
    expect(labels[1]).toBe("12:00:30");
    const shown = labels.filter(Boolean);
    expect(new Set(shown).size).toBe(shown.length);
    // Hourly ticks over a day whose labels are dates: each date once.
    const days = timeAxisLabels(Array.from({ length: 48 }, (_, i) => start + i * 3600), 86400 * 2, "en-GB");
    expect(days.filter(Boolean).length).toBe(days.length);
  });
});
