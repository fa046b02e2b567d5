// Every call to the Rust backend goes through here. The UI holds no renewal
// logic: it displays snapshots and forwards user actions.
//
// Outside Tauri (a plain browser) nothing works, except in a development build
// opened with `?preview`, which runs against an in-memory fake (./preview.ts).

import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";
import type {
  AppError,
  CredentialForm,
  Found,
  HistoryEntry,
  KindSchema,
  LogLine,
  LoginShown,
  RenewOutcome,
  SaveResult,
  Snapshot,
} from "../bindings";

export const SNAPSHOT_EVENT = "evergreen://snapshot";
export const NAVIGATE_EVENT = "evergreen://navigate";
export const LOGIN_EVENT = "evergreen://login";

export type Unlisten = () => void;
export type NavigatePayload = { name: string | null };

/** What api.ts needs from a backend: Tauri's invoke and listen, or the preview fake. */
export interface Backend {
  invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten>;
}

const tauriBackend: Backend = {
  invoke: (cmd, args) => tauriInvoke(cmd, args),
  listen: (event, handler) => tauriListen(event, (e) => handler(e.payload as never)),
};

export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** True only in a development build, outside Tauri, with `?preview` in the URL. */
export function previewRequested(): boolean {
  return (
    import.meta.env.DEV &&
    !inTauri() &&
    typeof location !== "undefined" &&
    new URLSearchParams(location.search).has("preview")
  );
}

export const NOT_IN_TAURI: AppError = {
  kind: "no_engine",
  message: "This page is the Evergreen window; it only works inside the Evergreen app.",
};

let backend: Promise<Backend> | null = null;

function getBackend(): Promise<Backend> {
  if (!backend) {
    if (inTauri()) {
      backend = Promise.resolve(tauriBackend);
    } else if (import.meta.env.DEV && previewRequested()) {
      backend = import("./preview").then((m) => m.createPreviewBackend());
    } else {
      backend = Promise.reject(NOT_IN_TAURI);
    }
  }
  return backend;
}

/** For tests only: forget the chosen backend. */
export function resetBackendForTests(): void {
  backend = null;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  const b = await getBackend();
  try {
    return await b.invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  }
}

/** Any rejection as an AppError {kind, message}. */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === "object" && "message" in e && typeof (e as AppError).message === "string") {
    const kind = "kind" in e && typeof (e as AppError).kind === "string" ? (e as AppError).kind : "internal";
    return { kind, message: (e as AppError).message };
  }
  if (typeof e === "string") {
    return { kind: "internal", message: e };
  }
  return { kind: "internal", message: "Unknown error" };
}

export const snapshot = (): Promise<Snapshot> => call("snapshot");
export const renew = (name: string): Promise<RenewOutcome> => call("renew", { name });
export const renewAllDue = (): Promise<string[]> => call("renew_all_due");
export const history = (name: string, limit = 200): Promise<HistoryEntry[]> => call("history", { name, limit });
export const logLines = (name: string): Promise<LogLine[]> => call("log_lines", { name });
export const setPaused = (name: string, paused: boolean): Promise<void> => call("set_paused", { name, paused });
export const pauseNotifications = (minutes: number): Promise<void> => call("pause_notifications", { minutes });
export const resumeNotifications = (): Promise<void> => call("resume_notifications");
export const kinds = (): Promise<KindSchema[]> => call("kinds");
export const credentialForm = (name: string): Promise<CredentialForm> => call("credential_form", { name });
export const saveCredential = (original: string | null, form: CredentialForm): Promise<SaveResult> =>
  call("save_credential", { original, form });
export const deleteCredential = (name: string): Promise<void> => call("delete_credential", { name });
/** The token is a secret: it is passed through and never kept or logged here. */
export const register = (name: string, token: string): Promise<void> => call("register", { name, token });
/** Logs `name` in: with a password, or (none) in the browser. Resolves to what happened, in words. */
export const login = (name: string, username: string | null, password: string | null): Promise<string> =>
  call("login", { name, username, password });

/** What expires on this machine, found read-only in the usual places. */
export const discover = (): Promise<Found[]> => call("discover");
/** Adds findings (by name) to the config; nothing is added unless asked. */
export const addFound = (names: string[]): Promise<SaveResult[]> => call("add_found", { names });

export async function onSnapshot(handler: (s: Snapshot) => void): Promise<Unlisten> {
  const b = await getBackend();
  return b.listen<Snapshot>(SNAPSHOT_EVENT, handler);
}

/** Where a browser login waits for the user, and a device login's code. */
export async function onLogin(handler: (p: LoginShown) => void): Promise<Unlisten> {
  const b = await getBackend();
  return b.listen<LoginShown>(LOGIN_EVENT, handler);
}

export async function onNavigate(handler: (p: NavigatePayload) => void): Promise<Unlisten> {
  const b = await getBackend();
  return b.listen<NavigatePayload>(NAVIGATE_EVENT, handler);
}
