// What the user chose for the dashboard (view, order), kept in the webview's
// local storage so the next window opens the same way. Nothing secret here,
// and a storage that refuses (private mode, full) only means no memory.

import type { SortOrder } from "./state";

export type View = "cards" | "list";

export type Prefs = { view: View | null; sort: SortOrder };

const KEY = "evergreen.dashboard";

export function loadPrefs(storage: Storage | undefined = globalThis.localStorage): Prefs {
  const fallback: Prefs = { view: null, sort: "urgency" };
  try {
    const raw = JSON.parse(storage?.getItem(KEY) ?? "null") as Partial<Prefs> | null;
    return {
      view: raw?.view === "cards" || raw?.view === "list" ? raw.view : null,
      sort: raw?.sort === "name" ? "name" : "urgency",
    };
  } catch {
    return fallback;
  }
}

export function savePrefs(p: Prefs, storage: Storage | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, JSON.stringify(p));
  } catch {
    // no memory this time; the choice still holds for this window
  }
}

/** The view when the user has not chosen one: cards for a few, the list for many. */
export function defaultView(count: number): View {
  return count > 8 ? "list" : "cards";
}

/** A filter box helps once the credentials no longer fit at a glance. */
export const FILTER_FROM = 10;
