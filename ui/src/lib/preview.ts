// Development-only fake backend for looking at the UI in a plain browser
// (`npm run dev`, then open /?preview). Loaded by api.ts only when not inside
// Tauri, in a dev build, and with `?preview` in the URL. Nothing real happens.
//
// URL knobs: `&nodemo` hides the demo banner, `&problem` shows a config
// problem, `&empty` starts with no credentials, `&muted` pauses notifications.

import type {
  CredentialForm,
  CredentialStatus,
  HistoryEntry,
  KindSchema,
  LogLine,
  RenewOutcome,
  SaveResult,
  Snapshot,
} from "../bindings";
import { KIND_SCHEMAS } from "../bindings";
import { decided } from "./decided";
import type { Backend, Unlisten } from "./api";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

type Fake = {
  status: CredentialStatus;
  lifetime: number;
  form: CredentialForm;
  history: HistoryEntry[];
  logs: LogLine[];
  failEveryOther: boolean;
  attempts: number;
};

const KINDS: KindSchema[] = KIND_SCHEMAS;

function fake(
  name: string,
  kind: CredentialStatus["kind"],
  lifetime: number,
  age: number,
  extra: Partial<CredentialStatus> = {},
): Fake {
  const now = Date.now();
  const nb = now - age;
  const na = nb + lifetime;
  const history: HistoryEntry[] = [];
  let id = 1000 + Math.floor(Math.random() * 1000);
  let t = nb;
  for (let i = 0; i < 6; i++) {
    const prev = t;
    t -= lifetime * 0.66;
    history.push({
      id: id--,
      at: prev,
      credential: name,
      action: "renew",
      outcome: "success",
      message: "renewed",
      duration_ms: 300 + i * 40,
      old_not_after: t + lifetime,
      new_not_after: prev + lifetime,
    });
    if (i === 2) {
      history.push({
        id: id--,
        at: prev - lifetime * 0.05,
        credential: name,
        action: "renew",
        outcome: "failure",
        message: "connection refused (demo CA down)",
        duration_ms: 2000,
        old_not_after: t + lifetime,
        new_not_after: null,
      });
    }
  }
  history.sort((a, b) => b.at - a.at);
  const status: CredentialStatus = {
    name,
    kind,
    state: "healthy",
    not_before: nb,
    not_after: na,
    remaining_fraction: (na - now) / lifetime,
    renew_at: nb + lifetime * 0.66,
    next_action: { at: nb + lifetime * 0.66, what: "renew" },
    last_result: { at: nb, ok: true, message: "renewed", duration_ms: 412 },
    details:
      kind === "x509_file" || kind === "vault_pki" || kind === "nixfleet" || kind === "certctl"
        ? {
            subject: `CN=${name}.demo.evergreen.invalid`,
            issuer: "CN=Evergreen Demo CA",
            serial: "5f:3a:91:0c:77:e2:14:ab:90:02",
            sha256: "9C:1B:44:E0:7A:3F:21:88:D4:6B:0E:51:93:AC:2F:7D:60:19:B8:E3:45:CA:0F:72:1D:9E:84:3B:56:AF:10:C2",
            sans: [`${name}.demo.evergreen.invalid`, "localhost", "127.0.0.1"],
            labels: {
              title: "Certificate",
              subject: "Subject",
              names: "Alternative names",
              issuer: "Issuer",
              serial: "Serial",
              fingerprint: "SHA-256",
              hex: true,
            },
            more: [],
          }
        : null,
    can_renew: true,
    problem: null,
    renewals: { success: 6, failure: 1, not_renewable: 0, capped: 0 },
    heartbeats: { success: 0, failure: 0 },
    last_heartbeat: undefined,
    user_paused: false,
    updated_at: now,
    ...extra,
  } as CredentialStatus;
  return {
    status,
    lifetime,
    form: { name, kind, values: { path: `~/certs/${name}.pem`, enabled: "true" } },
    history,
    logs: [
      { at: now - 5 * MIN, level: "info", message: `${name}: checked, ${Math.round(status.remaining_fraction! * 100)} % left` },
      { at: now - 2 * MIN, level: "debug", message: `${name}: next check scheduled` },
    ],
    failEveryOther: false,
    attempts: 0,
  };
}

function initial(params: URLSearchParams): Fake[] {
  if (params.has("empty")) {
    return [];
  }
  const now = Date.now();
  const list: Fake[] = [
    fake("demo-web", "x509_file", 2 * MIN, 40_000),
    fake("demo-api", "x509_file", 90_000, 70_000, { state: "due", next_action: { at: now + 2000, what: "renew" } }),
    fake("workstation", "vault_pki", DAY, 20 * HOUR, {
      state: "failing",
      streak: 3,
      next_retry_at: now + 4 * MIN,
      next_action: { at: now + 4 * MIN, what: "retry_renewal" },
      last_result: {
        at: now - 60_000,
        ok: false,
        message: "vault: permission denied on pki/issue/workstation (403)",
        duration_ms: 812,
        
      },
    } as Partial<CredentialStatus>),
    fake("vault-login", "vault_token", 8 * HOUR, 3 * HOUR, {
      details: null,
      hard_end: {
        at: now + 20 * HOUR,
        what: "Renewable until",
        then: "then Evergreen logs in again (approle) and writes the new token to its file",
        needs_you: false,
      },
    }),
    fake("ssh", "ssh_cert", 8 * HOUR, 2 * HOUR, {
      details: {
        subject: "alice@ws-42",
        issuer: "SHA256:Qm5yZWVuLWRlbW8tY2Eta2V5LWZpbmdlcnByaW50AA",
        serial: "8142",
        sha256: "SHA256:ZGVtby1rZXktZmluZ2VycHJpbnQtb2YtYWxpY2UAAA",
        sans: ["alice"],
        labels: {
          title: "SSH certificate",
          subject: "Key ID",
          names: "Principals",
          issuer: "CA",
          serial: "Serial",
          fingerprint: "Key fingerprint",
          hex: false,
        },
        more: [
          { label: "Type", value: "user certificate" },
          { label: "Extensions", value: "permit-port-forwarding, permit-pty" },
          { label: "ssh-agent", value: "holds it until", at: now + 6 * HOUR },
        ],
      },
    }),
    fake("fleet-agent", "nixfleet", 7 * DAY, 2 * DAY, { last_heartbeat: now - 20_000 }),
    fake("build-host", "wrenn", 30 * MIN, 45 * MIN, {
      state: "retired",
      reason: "host was deleted on the server",
      can_renew: false,
      last_heartbeat: now - 50 * MIN,
      next_action: null,
    } as Partial<CredentialStatus>),
    fake("lab-host", "wrenn", HOUR, 10 * MIN, {
      state: "paused",
      reason: "control plane unreachable (3 heartbeats failed in a row)",
      last_heartbeat: now - 12 * MIN,
      next_action: { at: now + 30_000, what: "heartbeat" },
    } as Partial<CredentialStatus>),
    fake("ca-agent", "certctl", 3 * DAY, DAY, { last_heartbeat: now - 40_000, next_action: { at: now + 20_000, what: "heartbeat" } }),
    fake("kiosk", "x509_file", 7 * DAY, 6 * DAY, {
      state: "due",
      can_renew: false,
      renew_at: null,
      last_result: null,
      renewals: { success: 0, failure: 0, not_renewable: 0, capped: 0 },
      heartbeats: { success: 0, failure: 0 },
      next_action: { at: now + DAY, what: "expires_unless_renewed_by_hand" },
    }),
    fake("side-project", "vault_token", 8 * HOUR, 2 * HOUR, {
      state: "paused",
      reason: "paused by you; resume it to renew it again",
      user_paused: true,
      details: null,
      next_action: null,
    } as Partial<CredentialStatus>),
    fake("sso-session", "vault_token", 12 * HOUR, 11 * HOUR, {
      state: "final",
      expires_at: now + HOUR,
      can_renew: false,
      details: null,
      next_action: { at: now + HOUR, what: "expires_for_good" },
    } as Partial<CredentialStatus>),
    fake("old-cert", "nixfleet", DAY, 2 * DAY, { state: "expired", last_heartbeat: now - 3 * HOUR, next_action: { at: now + 10 * MIN, what: "renew" } }),
    fake("legacy", "x509_file", 30 * DAY, 3 * DAY, { state: "disabled", can_renew: false, next_action: null }),
  ];
  // The engine's "expires_unless_renewed_by_hand" is due exactly at not_after.
  for (const c of list) {
    if (c.status.next_action?.what === "expires_unless_renewed_by_hand" && c.status.not_after !== null) {
      c.status.next_action.at = c.status.not_after;
    }
  }
  list[0].failEveryOther = false;
  list[2].failEveryOther = true;
  return list;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export function createPreviewBackend(): Backend {
  const params = new URLSearchParams(location.search);
  let creds = initial(params);
  let mutedUntil: number | null = params.has("muted") ? Date.now() + HOUR : null;
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  let nextId = 5000;

  const snap = (): Snapshot => {
    const now = Date.now();
    const states = creds.map((c) => c.status.state);
    const worst = states.some((s) => s === "failing" || s === "expired")
      ? "failing"
      : states.some((s) => s === "retired" || s === "paused")
        ? "stopped"
        : states.some((s) => s !== "healthy" && s !== "disabled")
          ? "attention"
          : "healthy";
    return {
      // A made-up status has no engine to decide for it: its words and offers come from the engine's samples.
      credentials: creds.map((c) => clone({ ...c.status, ...decided(c.status) })),
      now,
      worst,
      notifications_paused_until: mutedUntil,
      demo: !params.has("nodemo"),
      config_path: "/home/me/.config/evergreen/config.toml",
      config_problem: params.has("problem")
        ? "line 12, field `renew_command`: expected a list of strings, found a string. Write it as [\"step\", \"ca\", …]."
        : null,
      store_problem: params.has("diskfull")
        ? "history is not being saved (3 changes wait in memory): history store /home/me/.local/share/evergreen/evergreen.db: could not record history: database or disk is full; the disk holding it is full: free some space, and Evergreen writes it then"
        : null,
    };
  };

  const emit = (event: string, payload: unknown) => {
    for (const h of listeners.get(event) ?? []) {
      h(payload);
    }
  };
  const changed = () => emit("evergreen://snapshot", snap());

  const find = (name: unknown): Fake => {
    const c = creds.find((x) => x.status.name === name);
    if (!c) {
      throw { kind: "not_found", message: `no credential named ${String(name)}` };
    }
    return c;
  };

  const doRenew = async (c: Fake): Promise<RenewOutcome> => {
    const before = clone(c.status);
    c.status = { ...c.status, state: "renewing", updated_at: Date.now() } as CredentialStatus;
    changed();
    await new Promise((r) => setTimeout(r, 1500));
    const now = Date.now();
    c.attempts++;
    const fail = c.failEveryOther && c.attempts % 2 === 1;
    if (fail) {
      const message = "vault: permission denied on pki/issue/workstation (403)";
      const streak = before.state === "failing" ? before.streak + 1 : 1;
      c.status = {
        ...before,
        state: "failing",
        streak,
        next_retry_at: now + 2 * MIN,
        next_action: { at: now + 2 * MIN, what: "retry_renewal" },
        last_result: { at: now, ok: false, message, duration_ms: 1500, stderr_tail: "Error making API request.\nCode: 403. Errors:\n* permission denied" },
        updated_at: now,
      } as CredentialStatus;
      c.history.unshift({ id: nextId++, at: now, credential: c.status.name, action: "renew", outcome: "failure", message, duration_ms: 1500, old_not_after: before.not_after, new_not_after: null });
      c.logs.push({ at: now, level: "warn", message: `${c.status.name}: renewal failed: ${message}` });
      changed();
      return { credential: c.status.name, ok: false, message, not_after: before.not_after, duration_ms: 1500, recorded_at: now };
    }
    const na = now + c.lifetime;
    c.status = {
      ...before,
      state: "healthy",
      not_before: now,
      not_after: na,
      remaining_fraction: 1,
      renew_at: now + c.lifetime * 0.66,
      next_action: { at: now + c.lifetime * 0.66, what: "renew" },
      last_result: { at: now, ok: true, message: "renewed", duration_ms: 1500 },
      updated_at: now,
    } as CredentialStatus;
    delete (c.status as { streak?: number }).streak;
    c.history.unshift({ id: nextId++, at: now, credential: c.status.name, action: "renew", outcome: "success", message: "renewed", duration_ms: 1500, old_not_after: before.not_after, new_not_after: na });
    c.logs.push({ at: now, level: "info", message: `${c.status.name}: renewed, valid until ${new Date(na).toISOString()}` });
    changed();
    return { credential: c.status.name, ok: true, message: "renewed", not_after: na, duration_ms: 1500, recorded_at: now };
  };

  const commands: Record<string, (a: Record<string, unknown>) => unknown> = {
    snapshot: () => snap(),
    renew: (a) => doRenew(find(a.name)),
    renew_all_due: () => {
      const due = creds.filter((c) => c.status.state === "due" || c.status.state === "failing");
      due.forEach((c) => void doRenew(c));
      return due.map((c) => c.status.name);
    },
    history: (a) => clone(find(a.name).history.slice(0, Number(a.limit) || 200)),
    log_lines: (a) => clone(find(a.name).logs),
    set_paused: (a) => {
      const c = find(a.name);
      const now = Date.now();
      if (Boolean(a.paused) === c.status.user_paused) return;
      if (a.paused && ["retired", "not_renewable", "disabled", "final"].includes(c.status.state)) {
        throw { kind: "refused", message: `${c.status.name} is ${c.status.state}; there is nothing to pause` };
      }
      c.status = a.paused
        ? ({ ...c.status, state: "paused", reason: "paused by you; resume it to renew it again", user_paused: true, next_action: null, updated_at: now } as CredentialStatus)
        : ({ ...c.status, state: "healthy", user_paused: false, next_action: c.status.renew_at !== null ? { at: c.status.renew_at, what: "renew" } : null, updated_at: now } as CredentialStatus);
      changed();
    },
    pause_notifications: (a) => {
      mutedUntil = Date.now() + Number(a.minutes) * MIN;
      changed();
    },
    resume_notifications: () => {
      mutedUntil = null;
      changed();
    },
    kinds: () => clone(KINDS),
    credential_form: (a) => clone(find(a.name).form),
    save_credential: (a) => {
      const form = a.form as CredentialForm;
      const original = a.original as string | null;
      const problems: SaveResult["problems"] = [];
      if (!form.name.trim()) {
        problems.push({ field: "name", message: "A name is required." });
      } else if (creds.some((c) => c.status.name === form.name) && form.name !== original) {
        problems.push({ field: "name", message: `There is already a credential named “${form.name}”.` });
      }
      const schema = KINDS.find((k) => k.kind === form.kind);
      for (const f of schema?.fields ?? []) {
        if (f.required && !(form.values[f.key] ?? "").trim()) {
          problems.push({ field: f.key, message: `${f.label} is required.` });
        }
      }
      if (form.values.path && !form.values.path.startsWith("/") && !form.values.path.startsWith("~")) {
        problems.push({ field: "path", message: "Use an absolute path or one starting with ~/." });
      }
      if (problems.length === 0 && form.name === "conflict") {
        problems.push({ field: null, message: "The config file changed on disk since it was loaded; reload and try again." });
      }
      if (problems.length > 0) {
        return { ok: false, problems };
      }
      if (original) {
        const c = find(original);
        c.form = clone(form);
        c.status = { ...c.status, name: form.name, updated_at: Date.now() };
      } else {
        const c = fake(form.name, form.kind, DAY, 0);
        c.form = clone(form);
        creds.push(c);
      }
      changed();
      return { ok: true, problems: [] };
    },
    discover: () => [
      {
        name: "kube-admin",
        kind: "x509_file",
        place: "~/.kube/config",
        what: "user kubernetes-admin (contexts admin@prod): CN=kubernetes-admin",
        expires_at: Date.now() + 21 * DAY,
        renews: false,
        note: "add a renew_command for Evergreen to renew it",
        values: { path: "~/.kube/admin.crt" },
        configured_as: null,
      },
      {
        name: "vault-token",
        kind: "vault_token",
        place: "~/.vault-token",
        what: "a token for https://vault.example.org",
        expires_at: null,
        renews: true,
        note: null,
        values: { address: "https://vault.example.org", token_file: "~/.vault-token" },
        configured_as: null,
      },
    ],
    add_found: (a) => (a.names as string[]).map(() => ({ ok: true, problems: [] })),
    delete_credential: (a) => {
      find(a.name);
      creds = creds.filter((c) => c.status.name !== a.name);
      changed();
    },
    register: (a) => {
      const c = find(a.name);
      if (String(a.token).length < 8) {
        throw { kind: "register", message: "The server refused the token: it is too short or already used." };
      }
      const now = Date.now();
      c.status = { ...c.status, state: "healthy", can_renew: true, last_heartbeat: now, updated_at: now } as CredentialStatus;
      changed();
    },
  };

  return {
    async invoke<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
      const f = commands[cmd];
      if (!f) {
        throw { kind: "unknown_command", message: `preview: no command ${cmd}` };
      }
      await new Promise((r) => setTimeout(r, 30));
      return (await f(args)) as T;
    },
    async listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const h = handler as (p: unknown) => void;
      set.add(h);
      return () => set.delete(h);
    },
  };
}
