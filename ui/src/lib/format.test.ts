import { describe, expect, it, vi } from "vitest";
import {
  formatClock,
  formatDuration,
  formatExpiry,
  formatFraction,
  formatMillis,
  formatRelative,
  formatTimestamp,
  fractionPercent,
} from "./format";

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0); // a Wednesday; tests run in UTC

describe("formatDuration", () => {
  it.each([
    [0, "0 s"],
    [999, "0 s"],
    [45 * S, "45 s"],
    [59 * S + 999, "59 s"],
    [MIN, "1 min"],
    [3 * MIN + 20 * S, "3 min 20 s"],
    [12 * MIN + 40 * S, "12 min"],
    [H, "1 h"],
    [3 * H + 12 * MIN + 59 * S, "3 h 12 min"],
    [D, "1 d"],
    [2 * D + 3 * H + 5 * MIN, "2 d 3 h"],
    [45 * D + 3 * H, "45 d"],
  ])("%i ms -> %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(formatDuration(-ms)).toBe(text);
  });
});

describe("relative times", () => {
  it("says in / ago / now", () => {
    expect(formatRelative(NOW + 3 * H + 12 * MIN, NOW)).toBe("in 3 h 12 min");
    expect(formatRelative(NOW - 5 * MIN, NOW)).toBe("5 min ago");
    expect(formatRelative(NOW + 400, NOW)).toBe("now");
  });

  it("phrases expiry", () => {
    expect(formatExpiry(NOW + 3 * H + 12 * MIN, NOW)).toBe("expires in 3 h 12 min");
    expect(formatExpiry(NOW - 5 * MIN, NOW)).toBe("expired 5 min ago");
    expect(formatExpiry(NOW + 500, NOW)).toBe("expires now");
    expect(formatExpiry(NOW - 500, NOW)).toBe("expired just now");
  });
});

describe("formatFraction", () => {
  it("rounds to whole percent with a space", () => {
    expect(formatFraction(0.63)).toBe("63 %");
    expect(formatFraction(0.6349)).toBe("63 %");
    expect(formatFraction(0.635)).toBe("64 %");
    expect(formatFraction(1)).toBe("100 %");
    expect(formatFraction(0)).toBe("0 %");
  });

  it("clamps and handles unknown", () => {
    expect(formatFraction(1.7)).toBe("100 %");
    expect(formatFraction(-0.2)).toBe("0 %");
    expect(formatFraction(null)).toBe("—");
    expect(formatFraction(Number.NaN)).toBe("—");
    expect(fractionPercent(undefined)).toBeNull();
  });
});

describe("clock times", () => {
  it("is as short as is unambiguous", () => {
    expect(formatClock(NOW + 2 * H + 5 * MIN, NOW)).toBe("14:05");
    expect(formatClock(NOW + 5 * MIN + 30 * S, NOW)).toBe("12:05:30");
    expect(formatClock(NOW + D + 2 * H, NOW)).toBe("Thu 14:00");
    expect(formatClock(NOW + 10 * D, NOW)).toBe("5 Dec 12:00");
    expect(formatClock(Date.UTC(2027, 0, 30, 8, 7), NOW)).toBe("30 Jan 2027 08:07");
  });

  it("formats full timestamps and durations of calls", () => {
    expect(formatTimestamp(NOW + 5 * S)).toBe("2026-11-25 12:00:05");
    expect(formatMillis(350)).toBe("350 ms");
    expect(formatMillis(1234)).toBe("1.2 s");
  });
});

describe("under an unusable locale (LANG=C in WebKit)", () => {
  it("formats without Intl, so nothing can throw on a bad navigator.language", async () => {
    const { timeAxisLabels } = await import("./chart");
    const { expiryText, nextActionText, lastResultText } = await import("./state");
    const { status } = await import("../test/fixtures");
    const boom = () => {
      throw new RangeError("Incorrect locale information provided");
    };
    vi.spyOn(Intl, "NumberFormat").mockImplementation(boom);
    vi.spyOn(Intl, "DateTimeFormat").mockImplementation(boom);
    vi.spyOn(Number.prototype, "toLocaleString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleTimeString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleDateString").mockImplementation(boom);
    expect(formatClock(NOW + 2 * H + 5 * MIN, NOW)).toBe("14:05");
    expect(formatTimestamp(NOW)).toBe("2026-11-25 12:00:00");
    expect(formatMillis(1234)).toBe("1.2 s");
    expect(formatFraction(0.634)).toBe("63 %");
    expect(timeAxisLabels([NOW / 1000], 3600)).toEqual(["12:00"]);
    const s = status();
    expect(expiryText(s, NOW)).toBe("expires in 1 h 3 min (13:03)");
    expect(nextActionText(s, NOW)).toBe("renews at 12:30:00 (in 30 min)");
    expect(lastResultText(s, NOW)).toBe("renewed 37 min ago");
  });
});
