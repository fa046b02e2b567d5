import { describe, expect, it, vi } from "vitest";
import {
  formatClock,
  formatExpiry,
  formatFraction,
  formatMillis,
  formatRelative,
  formatTimestamp,
  fractionPercent,
  nextChange,
  percentChangesIn,
  relativeChangesIn,
} from "./format";

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0); // a Wednesday; tests run in UTC

describe("relative times, in one unit", () => {
  it.each([
    [3 * H + 12 * MIN, "in 3 hours"],
    [59 * MIN + 59 * S, "in 59 minutes"],
    [45 * S, "in 45 seconds"],
    [400, "now"],
    [-20 * S, "just now"],
    [-5 * MIN, "5 minutes ago"],
    [-26 * H, "yesterday"],
    [30 * H, "tomorrow"],
    [3 * D + H, "in 3 days"],
  ])("%i ms from now -> %s", (diff, text) => {
    expect(formatRelative(NOW + diff, NOW, "en-US")).toBe(text);
  });

  it("phrases expiry", () => {
    expect(formatExpiry(NOW + 3 * H + 12 * MIN, NOW, "en-US")).toBe("expires in 3 hours");
    expect(formatExpiry(NOW - 5 * MIN, NOW, "en-US")).toBe("expired 5 minutes ago");
    expect(formatExpiry(NOW + 500, NOW, "en-US")).toBe("expires now");
    expect(formatExpiry(NOW - 500, NOW, "en-US")).toBe("expired just now");
  });

  it("keeps the words English under another language, so sentences do not mix", () => {
    expect(formatRelative(NOW + 2 * H, NOW, "de-DE")).toBe("in 2 hours");
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

describe("clock times in the user's locale", () => {
  it("is as short as is unambiguous (24-hour locale)", () => {
    expect(formatClock(NOW + 2 * H + 5 * MIN, NOW, "en-GB")).toBe("14:05");
    expect(formatClock(NOW + 5 * MIN + 30 * S, NOW, "en-GB")).toBe("12:05:30");
    expect(formatClock(NOW + D + 2 * H, NOW, "en-GB")).toBe("Thu 14:00");
    expect(formatClock(NOW + 10 * D, NOW, "en-GB")).toBe("5 Dec, 12:00");
    expect(formatClock(Date.UTC(2027, 0, 30, 8, 7), NOW, "en-GB")).toBe("30 Jan 2027, 08:07");
  });

  it("follows a 12-hour locale and another language's names", () => {
    expect(formatClock(NOW + 2 * H + 5 * MIN, NOW, "en-US")).toBe("2:05 PM");
    expect(formatClock(NOW + D + 2 * H, NOW, "de-DE")).toBe("Do., 14:00");
    expect(formatClock(NOW + 10 * D, NOW, "fr-FR")).toBe("5 déc., 12:00");
  });

  it("formats full timestamps with their zone, and durations of calls", () => {
    expect(formatTimestamp(NOW + 5 * S, "en-GB")).toBe("25 Nov 2026, 12:00:05 UTC");
    expect(formatMillis(350)).toBe("350 ms");
    expect(formatMillis(1234)).toBe("1.2 s");
  });
});

describe("when the window's clock must wake", () => {
  it("follows a countdown second by second only under a minute", () => {
    expect(relativeChangesIn(NOW + 45 * S + 300, NOW)).toBe(301);
    expect(relativeChangesIn(NOW + 3 * MIN + 10 * S, NOW)).toBe(10 * S + 1);
    expect(relativeChangesIn(NOW + 3 * H + 5 * MIN, NOW)).toBe(5 * MIN + 1);
  });

  it("lets a past time wait for its next minute, hour or day", () => {
    expect(relativeChangesIn(NOW - 20 * S, NOW)).toBe(40 * S);
    expect(relativeChangesIn(NOW - 5 * MIN - 10 * S, NOW)).toBe(50 * S);
    expect(relativeChangesIn(NOW - 59 * MIN - 30 * S, NOW)).toBe(30 * S);
    expect(relativeChangesIn(NOW - 3 * H - 20 * MIN, NOW)).toBe(40 * MIN);
  });

  it("agrees with the words it guards", () => {
    // Just before the computed instant the words are the same; at it they differ.
    for (const diff of [45 * S + 300, 3 * MIN + 10 * S, 3 * H + 5 * MIN, -20 * S, -5 * MIN - 10 * S, -3 * H - 20 * MIN]) {
      const at = NOW + diff;
      const wait = relativeChangesIn(at, NOW);
      expect(formatRelative(at, NOW + wait - 1, "en-US")).toBe(formatRelative(at, NOW, "en-US"));
      expect(formatRelative(at, NOW + wait, "en-US")).not.toBe(formatRelative(at, NOW, "en-US"));
    }
  });

  it("wakes when a bar shows another whole percent", () => {
    // 100 minutes of life, 63 % left: 62.5 % is 30 s away.
    const nb = NOW - 37 * MIN;
    const na = NOW + 63 * MIN;
    expect(percentChangesIn(nb, na, NOW)).toBe(30 * S);
    expect(fractionPercent((na - (NOW + 30 * S + 1)) / (na - nb))).toBe(62);
    expect(percentChangesIn(nb, na, na + S)).toBe(Infinity);
  });

  it("waits at least a second and at most a minute", () => {
    expect(nextChange([NOW + 45 * S + 300], [], NOW)).toBe(S);
    expect(nextChange([NOW + 5 * D + 3 * H], [], NOW)).toBe(MIN);
    expect(nextChange([NOW - 3 * H - 20 * MIN, NOW + 3 * MIN + 10 * S], [], NOW)).toBe(10 * S + 1);
  });
});

describe("under an unusable locale (LANG=C in WebKit)", () => {
  it("falls back to fixed formats when Intl refuses, so nothing can throw", async () => {
    const { timeAxisLabels } = await import("./chart");
    const { expiryText, nextActionText, lastResultText } = await import("./state");
    const { status } = await import("../test/fixtures");
    const boom = () => {
      throw new RangeError("Incorrect locale information provided");
    };
    vi.spyOn(Intl, "NumberFormat").mockImplementation(boom);
    vi.spyOn(Intl, "DateTimeFormat").mockImplementation(boom);
    vi.spyOn(Intl, "RelativeTimeFormat").mockImplementation(boom);
    vi.spyOn(Number.prototype, "toLocaleString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleTimeString").mockImplementation(boom);
    vi.spyOn(Date.prototype, "toLocaleDateString").mockImplementation(boom);
    // A locale no earlier test built formatters for: the cache cannot help.
    expect(formatClock(NOW + 2 * H + 5 * MIN, NOW, "en-x-fallback")).toBe("14:05");
    expect(formatTimestamp(NOW, "en-x-fallback")).toBe("2026-11-25 12:00:00");
    expect(formatRelative(NOW + 3 * H, NOW, "en-x-fallback")).toBe("in 3 h");
    expect(formatMillis(1234)).toBe("1.2 s");
    expect(formatFraction(0.634)).toBe("63 %");
    expect(timeAxisLabels([NOW / 1000], 3600, "en-x-fallback")).toEqual(["12:00"]);
    const s = status();
    expect(expiryText(s, NOW)).toMatch(/^expires in 1 (hour|h) \(/);
    expect(nextActionText(s, NOW)).toMatch(/^renews at .+ \(in 30 (minutes|min)\)$/);
    expect(lastResultText(s, NOW)).toMatch(/^Renewed 37 (minutes|min) ago$/);
  });
});
