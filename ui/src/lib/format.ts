// Pure formatting helpers: no DOM, no clock reads. Every function takes `now`
// (Unix ms, engine time) explicitly so it can be tested and re-rendered by the
// local timer (see `nextChange` for how often that needs to be).
//
// Sentences are English; dates, times and numbers follow the user's locale
// (navigator.language, repaired under LANG=C by locale.ts), the way LC_TIME
// works beside LC_MESSAGES. Relative phrases ("in 3 hours") are words, so they
// are English, in the user's region where that is an English one (en-GB).
// Should Intl refuse anyway, fixed English formats take over: a format can
// never leave the window blank.

import { usableLanguage } from "./locale";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// usableLanguage builds Intl objects to test a tag; every formatted string
// asks for the locale, so it is worked out once per navigator.language.
let known: { language: string | undefined; locale: string } | null = null;

/** The user's locale as Intl takes it. */
export function userLocale(): string {
  const language = typeof navigator === "undefined" ? undefined : navigator.language;
  if (known === null || known.language !== language) {
    known = { language, locale: usableLanguage(language) };
  }
  return known.locale;
}

/** The locale of relative phrases: the user's if it is an English one, else "en". */
function wordsLocale(locale: string): string {
  return /^en\b/i.test(locale) ? locale : "en";
}

// Building an Intl formatter costs far more than using one: keep them.
const cache = new Map<string, unknown>();
function cached<T>(key: string, make: () => T): T | null {
  if (!cache.has(key)) {
    try {
      cache.set(key, make());
    } catch {
      cache.set(key, null);
    }
  }
  return cache.get(key) as T | null;
}

function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat | null {
  return cached(`d ${locale} ${JSON.stringify(options)}`, () => new Intl.DateTimeFormat(locale, options));
}

function relativeFormat(locale: string): Intl.RelativeTimeFormat | null {
  const words = wordsLocale(locale);
  return cached(`r ${words}`, () => new Intl.RelativeTimeFormat(words, { numeric: "auto" }));
}

/** What `use` makes of formatter `f`, or null when Intl refused (no formatter, or it threw). */
function attempt<F>(f: F | null, use: (f: F) => string): string | null {
  if (!f) return null;
  try {
    return use(f);
  } catch {
    return null;
  }
}

type Unit = "second" | "minute" | "hour" | "day";
const UNITS: ReadonlyArray<[Unit, number]> = [
  ["day", DAY],
  ["hour", HOUR],
  ["minute", MINUTE],
  ["second", SECOND],
];

/** The one unit a distance in time is told in: seconds only under a minute. */
function unitOf(ms: number): [Unit, number] {
  const abs = Math.abs(ms);
  return UNITS.find(([, size]) => abs >= size) ?? ["second", SECOND];
}

function fixedUnit(unit: Unit, n: number): string {
  const short: Record<Unit, string> = { second: "s", minute: "min", hour: "h", day: "d" };
  return `${n} ${short[unit]}`;
}

/**
 * "in 3 hours", "5 minutes ago", "now", in one unit. A countdown under a
 * minute is told in seconds; a past time under a minute is "just now", so
 * nothing in the past makes the window re-render every second.
 */
export function formatRelative(at: number, now: number, locale = userLocale()): string {
  const diff = at - now;
  if (Math.abs(diff) < SECOND) {
    return "now";
  }
  if (diff < 0 && -diff < MINUTE) {
    return "just now";
  }
  const [unit, size] = unitOf(diff);
  const n = Math.trunc(diff / size);
  return attempt(relativeFormat(locale), (f) => f.format(n, unit)) ?? (n > 0 ? `in ${fixedUnit(unit, n)}` : `${fixedUnit(unit, -n)} ago`);
}

/** "expires in 3 hours", "expired 5 minutes ago", "expires now". */
export function formatExpiry(notAfter: number, now: number, locale = userLocale()): string {
  const diff = notAfter - now;
  if (Math.abs(diff) < SECOND) {
    return diff > 0 ? "expires now" : "expired just now";
  }
  return `${diff > 0 ? "expires" : "expired"} ${formatRelative(notAfter, now, locale)}`;
}

/** "63 %" for 0.63; clamped to 0..100; "—" when unknown. */
export function formatFraction(fraction: number | null | undefined): string {
  const pct = fractionPercent(fraction);
  return pct === null ? "—" : `${pct} %`;
}

/** Whole percent (0..100) for a fraction, or null when unknown. */
export function fractionPercent(fraction: number | null | undefined): number | null {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) {
    return null;
  }
  return Math.round(Math.min(1, Math.max(0, fraction)) * 100);
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

type ClockShape = "seconds" | "time" | "weekday" | "date" | "year";

/** How much of a wall-clock time is needed next to `now`. */
function clockShape(d: Date, n: Date, at: number, now: number): ClockShape {
  if (sameDay(d, n)) {
    return Math.abs(at - now) < HOUR ? "seconds" : "time";
  }
  if (Math.abs(at - now) < 6 * DAY) {
    return "weekday";
  }
  return d.getFullYear() === n.getFullYear() ? "date" : "year";
}

// Hours as the locale writes them: "08:07" where the day has 24 hours,
// "8:07 AM" where it has two halves.
function clockOptions(shape: ClockShape, locale: string): Intl.DateTimeFormatOptions {
  const cycle = cached(`h ${locale}`, () => dateFormat(locale, { hour: "numeric" })?.resolvedOptions().hourCycle);
  const hour = cycle === "h23" || cycle === "h24" ? "2-digit" : "numeric";
  const time: Intl.DateTimeFormatOptions = { hour, minute: "2-digit" };
  switch (shape) {
    case "seconds":
      return { ...time, second: "2-digit" };
    case "time":
      return time;
    case "weekday":
      return { weekday: "short", ...time };
    case "date":
      return { day: "numeric", month: "short", ...time };
    case "year":
      return { day: "numeric", month: "short", year: "numeric", ...time };
  }
}

/**
 * A wall-clock time in the local time zone and the user's locale, as short as
 * is unambiguous next to `now`: "14:05" (or "2:05 PM") today, with seconds
 * within the hour (short demo lifetimes), a weekday within a week, a date
 * within the year, and the year otherwise.
 */
export function formatClock(at: number, now: number, locale = userLocale()): string {
  const d = new Date(at);
  const shape = clockShape(d, new Date(now), at, now);
  return attempt(dateFormat(locale, clockOptions(shape, locale)), (f) => f.format(d)) ?? fixedClock(d, shape);
}

function fixedClock(d: Date, shape: ClockShape): string {
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  switch (shape) {
    case "seconds":
      return `${hm}:${pad2(d.getSeconds())}`;
    case "time":
      return hm;
    case "weekday":
      return `${WEEKDAYS[d.getDay()]} ${hm}`;
    case "date":
      return `${d.getDate()} ${MONTHS[d.getMonth()]} ${hm}`;
    case "year":
      return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${hm}`;
  }
}

/** One time-axis label, of a shape the caller chose for all of them. */
export function axisLabel(at: number, shape: "seconds" | "time" | "weekday" | "date", locale = userLocale()): string {
  const d = new Date(at);
  const options: Intl.DateTimeFormatOptions =
    shape === "date" ? { day: "numeric", month: "short" } : clockOptions(shape, locale);
  return (
    attempt(dateFormat(locale, options), (f) => f.format(d)) ??
    (shape === "date" ? `${d.getDate()} ${MONTHS[d.getMonth()]}` : fixedClock(d, shape))
  );
}

/** A full, unambiguous local timestamp with its zone: "25 Nov 2026, 14:05:30 UTC". */
export function formatTimestamp(at: number, locale = userLocale()): string {
  const d = new Date(at);
  const f = dateFormat(locale, { dateStyle: "medium", timeStyle: "long" });
  return (
    attempt(f, (fmt) => fmt.format(d)) ??
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
      `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** "1.2 s", "350 ms". */
export function formatMillis(ms: number): string {
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * How long until `formatRelative(at, now)` (and so every phrase built on it)
 * reads differently: the window's clock waits that long, not a fixed second.
 */
export function relativeChangesIn(at: number, now: number): number {
  const diff = at - now;
  if (diff > 0) {
    // A countdown: "in 3 minutes" becomes "in 2 minutes" once diff drops below 3 minutes.
    const [, size] = unitOf(diff);
    return (diff % size) + 1;
  }
  const ago = -diff;
  if (ago < MINUTE) {
    return MINUTE - ago;
  }
  const [, size] = unitOf(ago);
  return size - (ago % size);
}

/**
 * How long until a remaining-validity percentage, which falls linearly from
 * `notBefore` to `notAfter`, shows another whole percent.
 */
export function percentChangesIn(notBefore: number, notAfter: number, now: number): number {
  const life = notAfter - notBefore;
  if (!(life > 0) || now >= notAfter) {
    return Infinity;
  }
  const pct = fractionPercent(Math.min(1, (notAfter - now) / life)) as number;
  // round() moves to pct-1 once the fraction is below (pct - 0.5) %.
  const at = notAfter - ((pct - 0.5) / 100) * life;
  return Math.max(1, at - now);
}

/**
 * The delay until the next re-render: the soonest change among the times
 * shown, but at least a second and at most a minute (wall-clock formats such
 * as "today" roll over on their own).
 */
export function nextChange(times: Iterable<number>, percents: Iterable<[number, number]>, now: number): number {
  let soonest = MINUTE;
  for (const t of times) {
    soonest = Math.min(soonest, relativeChangesIn(t, now));
  }
  for (const [nb, na] of percents) {
    soonest = Math.min(soonest, percentChangesIn(nb, na, now));
  }
  return Math.max(SECOND, Math.ceil(soonest));
}
