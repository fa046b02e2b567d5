// Pure formatting helpers: no DOM, no clock reads. Every function takes `now`
// (Unix ms, engine time) explicitly so it can be tested and re-rendered by the
// 1 s local timer.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A duration in words, rounded down: "45 s", "3 min 20 s", "3 h 12 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.floor(Math.abs(ms)));
  if (abs < MINUTE) {
    return `${Math.floor(abs / SECOND)} s`;
  }
  if (abs < 10 * MINUTE) {
    const m = Math.floor(abs / MINUTE);
    const s = Math.floor((abs % MINUTE) / SECOND);
    return s === 0 ? `${m} min` : `${m} min ${s} s`;
  }
  if (abs < HOUR) {
    return `${Math.floor(abs / MINUTE)} min`;
  }
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR);
    const m = Math.floor((abs % HOUR) / MINUTE);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(abs / DAY);
  if (d >= 30) {
    return `${d} d`;
  }
  const h = Math.floor((abs % DAY) / HOUR);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/** "in 3 h 12 min", "5 min ago", or "now" within a second. */
export function formatRelative(at: number, now: number): string {
  const diff = at - now;
  if (Math.abs(diff) < SECOND) {
    return "now";
  }
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(diff)} ago`;
}

/** "expires in 3 h 12 min", "expired 5 min ago", "expires now". */
export function formatExpiry(notAfter: number, now: number): string {
  const diff = notAfter - now;
  if (Math.abs(diff) < SECOND) {
    return diff > 0 ? "expires now" : "expired just now";
  }
  return diff > 0 ? `expires in ${formatDuration(diff)}` : `expired ${formatDuration(diff)} ago`;
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

/**
 * A wall-clock time in the local time zone, as short as is unambiguous next to `now`:
 * "14:05" today, "14:05:30" when within the hour (short demo lifetimes), "Wed 14:05"
 * within a week, "27 Nov 14:05" within the year, "27 Nov 2026 14:05" otherwise.
 */
export function formatClock(at: number, now: number): string {
  const d = new Date(at);
  const n = new Date(now);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (sameDay(d, n)) {
    return Math.abs(at - now) < HOUR ? `${hm}:${pad2(d.getSeconds())}` : hm;
  }
  if (Math.abs(at - now) < 6 * DAY) {
    return `${WEEKDAYS[d.getDay()]} ${hm}`;
  }
  if (d.getFullYear() === n.getFullYear()) {
    return `${d.getDate()} ${MONTHS[d.getMonth()]} ${hm}`;
  }
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${hm}`;
}

/** A full, unambiguous local timestamp: "2026-11-25 14:05:30". */
export function formatTimestamp(at: number): string {
  const d = new Date(at);
  return (
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
