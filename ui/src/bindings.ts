// Generated from the Rust types by `make bindings` (src-tauri/src/models.rs); do not edit.
// Timestamps are Unix milliseconds: well inside a JS number, so 64-bit integers are `number` here.

export type Kind = string;

export type Health = "healthy" | "attention" | "stopped" | "failing";

export type State = { "state": "healthy" } | { "state": "due" } | { "state": "renewing" } | { "state": "failing", streak: number, next_retry_at: number, offline: boolean, } | { "state": "expired" } | { "state": "paused", reason: string, } | { "state": "retired", reason: string, } | { "state": "not_renewable" } | { "state": "final", expires_at: number, } | { "state": "capped", reason: string, next_try_at: number, } | { "state": "disabled" };

export type DetailLabels = { 
/**
 * The panel's heading: "Certificate".
 */
title: string, subject: string, names: string, issuer: string, serial: string, fingerprint: string, 
/**
 * Serial and fingerprint are hexadecimal (shown grouped, copyable).
 */
hex: boolean, };

export type DetailRow = { label: string, value: string, at?: number, };

export type CertDetails = { subject: string, issuer: string, serial: string, sha256: string, sans: Array<string>, 
/**
 * What the faces call the places above, in the kind's own words.
 */
labels: DetailLabels, 
/**
 * More facts, in the order shown (an SSH certificate's type, its
 * extensions, whether ssh-agent holds it).
 */
more: Array<DetailRow>, };

export type HardEnd = { 
/**
 * Unix ms.
 */
at: number, what: string, then: string, 
/**
 * Only the user can move it (a new CA certificate, a login Evergreen
 * cannot make): worth a notification ahead.
 */
needs_you: boolean, };

export type LoginPrompt = { 
/**
 * "userpass", "ldap", "oidc".
 */
method: string, 
/**
 * The user name from the config; asked for when there is none.
 */
username: string | null, 
/**
 * The login happens in a browser (no password is typed here).
 */
browser: boolean, 
/**
 * The login is a program the user runs in a terminal (`aws sso login
 * --sso-session work`): its argv. `evergreen login` runs it in the
 * foreground; the window opens a terminal for it.
 */
command?: Array<string>, };

export type LastResult = { 
/**
 * When the attempt finished (Unix ms).
 */
at: number, ok: boolean, 
/**
 * What happened, in words; for a failure, what went wrong and what to do.
 */
message: string, duration_ms: number, 
/**
 * The tail of a renew command's stderr, when there was one.
 */
stderr_tail?: string, 
/**
 * What the source said beside "renewed" (a reload that failed, a capped
 * TTL, a deployment), without the engine's own words: the window writes
 * its own sentence around it.
 */
note?: string, };

export type RenewalCounts = { 
/**
 * Renewed in full.
 */
success: number, failure: number, 
/**
 * Renewals (or start-up checks) that found the server would not renew it.
 */
not_renewable: number, 
/**
 * Renewed, but the server gave back too short a lifetime (capped).
 */
capped: number, };

export type HeartbeatCounts = { success: number, failure: number, };

export type Streak = { failures: number, 
/**
 * Unix milliseconds.
 */
since: number, };

export type Next = "renewing_now" | "retry_renewal" | "read_again" | "renew" | "renew_again" | "expires_unless_renewed_by_hand" | "expires_for_good" | "expires_not_renewable" | "heartbeat";

export type NextAction = { at: number, what: Next, };

export type PauseOffer = "pause" | "resume";

export type Offers = { 
/**
 * Renew now: Evergreen can renew it and its state lets a renewal run
 * (not paused, retired, final, not renewable or disabled).
 */
renew: boolean, 
/**
 * A renewal helps now (due, expired, or failing while online): the
 * button stands out.
 */
renew_helps: boolean, 
/**
 * Pause (it runs) or Resume (the user paused it); neither when it is
 * stopped for another reason.
 */
pause: PauseOffer | null, 
/**
 * Re-register with a new one-time token of this name ("registration
 * token"): a kind that enrols, retired or paused by its server.
 */
reregister: string | null, 
/**
 * Why Renew now is not offered, when it is not: what the engine
 * answers a renewal asked for anyway.
 */
renew_refused: string | null, };

export type CredentialStatus = { name: string, kind: Kind, not_before: number | null, not_after: number | null, 
/**
 * Remaining validity in [0, 1] at `updated_at`.
 */
remaining_fraction: number | null, 
/**
 * The (jittered) instant the next renewal is planned for.
 */
renew_at: number | null, next_action: NextAction | null, last_result: LastResult | null, details: CertDetails | null, 
/**
 * Whether Evergreen can renew it (an x509 file without a renew command cannot).
 */
can_renew: boolean, 
/**
 * Why the credential could not be read, when it could not.
 */
problem: string | null, renewals: RenewalCounts, heartbeats: HeartbeatCounts, 
/**
 * The kind in words: "Vault token".
 */
kind_label: string, 
/**
 * The state in words, as every face shows it: "failing (3 in a row)".
 */
state_label: string, 
/**
 * Whether its registration lives on heartbeats (so "no heartbeat yet" means something).
 */
has_heartbeats: boolean, 
/**
 * What the user can do with it now.
 */
offers: Offers, 
/**
 * When the control plane last accepted a heartbeat (fleet kinds).
 */
last_heartbeat?: number, 
/**
 * Paused by the user (Resume ends it), as opposed to by the server or the engine.
 */
user_paused: boolean, 
/**
 * When the user's pause ends on its own (Unix ms); none for a pause until resumed.
 */
paused_until?: number, 
/**
 * When a renewal last succeeded (Unix ms), capped or not.
 */
last_renewed_at?: number, 
/**
 * The failures in a row now, if any.
 */
failure_streak?: Streak, 
/**
 * An end renewals cannot pass, when one is known ahead: a token's
 * maximum TTL, the issuing CA's own expiry.
 */
hard_end?: HardEnd, 
/**
 * How the user logs it in, when it asks them to.
 */
login?: LoginPrompt, updated_at: number, } & ({ "state": "healthy" } | { "state": "due" } | { "state": "renewing" } | { "state": "failing", streak: number, next_retry_at: number, offline: boolean, } | { "state": "expired" } | { "state": "paused", reason: string, } | { "state": "retired", reason: string, } | { "state": "not_renewable" } | { "state": "final", expires_at: number, } | { "state": "capped", reason: string, next_try_at: number, } | { "state": "disabled" });

export type RenewOutcome = { credential: string, ok: boolean, message: string, not_after: number | null, duration_ms: number, 
/**
 * When the result was recorded as the credential's last result (Unix
 * ms); none for a renewal refused before it started (paused, busy).
 */
recorded_at: number | null, };

export type Action = "renew" | "observe" | "refresh" | "heartbeat" | "state" | "store" | "other";

export type Outcome = "success" | "failure" | "capped" | "changed" | "paused" | "resumed" | "retired" | "not_renewable" | "final" | "expired" | "recovered" | "other";

export type HistoryEntry = { 
/**
 * Assigned by the store; ignored by [`Store::append_history`].
 */
id: number, 
/**
 * Unix milliseconds.
 */
at: number, credential: string, action: Action, outcome: Outcome, message: string, duration_ms: number | null, 
/**
 * Unix ms.
 */
old_not_after: number | null, 
/**
 * Unix ms.
 */
new_not_after: number | null, };

export type LogLine = { 
/**
 * Unix milliseconds.
 */
at: number, 
/**
 * "info", "warn" or "error".
 */
level: string, message: string, };

export type Snapshot = { credentials: Array<CredentialStatus>, 
/**
 * Engine wall clock when the snapshot was taken (Unix ms).
 */
now: number, worst: Health, notifications_paused_until: number | null, demo: boolean, config_path: string, 
/**
 * Why no engine runs the config, when none does (shown as a banner).
 */
config_problem: string | null, 
/**
 * Why the history is not being saved, when it is not (a full disk):
 * renewals go on, and what happens waits in memory meanwhile.
 */
store_problem: string | null, };

export type Navigate = { name: string | null, };

export type LoginShown = { name: string, url: string, code?: string, };

export type FieldType = "text" | "path" | "url" | "duration" | "list" | "bool" | "number" | "choice";

export type FieldSchema = { key: string, label: string, help: string, field_type: FieldType, required: boolean, choices: Array<string>, placeholder: string, 
/**
 * What an unset field means, where that is a value (a checkbox's state).
 */
default?: string, 
/**
 * The field names a program Evergreen runs (or how it runs it): the
 * window shows it but cannot set or change it; the config file can.
 */
runs_program: boolean, };

export type KindSchema = { kind: Kind, label: string, description: string, 
/**
 * Its registration lives on heartbeats.
 */
has_heartbeats: boolean, 
/**
 * What the one-time token it joins its fleet with is called, if it enrols.
 */
enrolment_token: string | null, fields: Array<FieldSchema>, };

export type CredentialForm = { name: string, kind: Kind, values: { [key in string]?: string }, };

export type FormProblem = { field: string | null, message: string, };

export type SaveResult = { ok: boolean, problems: Array<FormProblem>, };

export type Found = { 
/**
 * A free credential name for it (what `--add NAME` takes).
 */
name: string, kind: Kind, 
/**
 * Where it is: a file (`~/…`), a cache, a keyring.
 */
place: string, 
/**
 * What it is: a subject, a principal, a profile, a key's user id.
 */
what: string, 
/**
 * When it expires (unix ms), where that is written on this machine.
 */
expires_at: number | null, 
/**
 * Evergreen could renew it as found; otherwise it only watches it
 * (a renew command can be added later).
 */
renews: boolean, 
/**
 * Anything the user should know about it.
 */
note: string | null, 
/**
 * The config entry that adds it: field → text, as the settings form has it.
 */
values: { [key in string]?: string }, 
/**
 * The config already has it, under this name.
 */
configured_as: string | null, };

export type ErrorKind = "unknown_credential" | "config" | "refused" | "engine" | "engine_stopped" | "no_engine" | "invalid_input" | "internal";

export type AppError = { kind: ErrorKind, message: string, };

export type EventKind = { "event": "started", credentials: number, } | { "event": "observed", not_after: number, remaining_fraction: number, } | { "event": "read_failed", message: string, } | { "event": "state_changed", from: string, to: string, } | { "event": "renewal_started", manual: boolean, } | { "event": "renewal_succeeded", old_not_after: number | null, new_not_after: number, duration_ms: number, message: string, } | { "event": "renewal_failed", message: string, streak: number, since: number, next_retry_at: number | null, offline: boolean, } | { "event": "recovered", after_failures: number, since: number, } | { "event": "still_waits_for_you", reason: string, since: number, } | { "event": "hard_end_ahead", at: number, what: string, then: string, } | { "event": "expiry_approaching", threshold_secs: number, not_after: number, 
/**
 * What extends it, when only its user can and the kind knows how
 * (a GPG key's `gpg --quick-set-expire …`).
 */
advice?: string, 
/**
 * Logging in gets a new one (its kind asks its user): the notice
 * offers Log in.
 */
login: boolean, } | { "event": "expired", not_after: number, } | { "event": "retired", reason: string, } | { "event": "paused", reason: string, } | { "event": "not_renewable", reason: string, } | { "event": "final", expires_at: number, } | { "event": "capped", reason: string, not_after: number, next_try_at: number, since: number, } | { "event": "heartbeat_failed", message: string, streak: number, } | { "event": "rejected", reason: string, } | { "event": "credential_added" } | { "event": "credential_removed" } | { "event": "config_reloaded", added: number, removed: number, changed: number, } | { "event": "config_rejected", message: string, } | { "event": "notifications_paused", until: number | null, } | { "event": "resumed", slept_secs: number, source: string, } | { "event": "network", online: boolean, } | { "event": "still_offline", since: number, waiting: number, } | { "event": "stopped" };

export type Event = { 
/**
 * Unix milliseconds (engine wall clock).
 */
at: number, 
/**
 * The credential it concerns; `None` for engine-wide events.
 */
credential?: string, } & ({ "event": "started", credentials: number, } | { "event": "observed", not_after: number, remaining_fraction: number, } | { "event": "read_failed", message: string, } | { "event": "state_changed", from: string, to: string, } | { "event": "renewal_started", manual: boolean, } | { "event": "renewal_succeeded", old_not_after: number | null, new_not_after: number, duration_ms: number, message: string, } | { "event": "renewal_failed", message: string, streak: number, since: number, next_retry_at: number | null, offline: boolean, } | { "event": "recovered", after_failures: number, since: number, } | { "event": "still_waits_for_you", reason: string, since: number, } | { "event": "hard_end_ahead", at: number, what: string, then: string, } | { "event": "expiry_approaching", threshold_secs: number, not_after: number, 
/**
 * What extends it, when only its user can and the kind knows how
 * (a GPG key's `gpg --quick-set-expire …`).
 */
advice?: string, 
/**
 * Logging in gets a new one (its kind asks its user): the notice
 * offers Log in.
 */
login: boolean, } | { "event": "expired", not_after: number, } | { "event": "retired", reason: string, } | { "event": "paused", reason: string, } | { "event": "not_renewable", reason: string, } | { "event": "final", expires_at: number, } | { "event": "capped", reason: string, not_after: number, next_try_at: number, since: number, } | { "event": "heartbeat_failed", message: string, streak: number, } | { "event": "rejected", reason: string, } | { "event": "credential_added" } | { "event": "credential_removed" } | { "event": "config_reloaded", added: number, removed: number, changed: number, } | { "event": "config_rejected", message: string, } | { "event": "notifications_paused", until: number | null, } | { "event": "resumed", slept_secs: number, source: string, } | { "event": "network", online: boolean, } | { "event": "still_offline", since: number, waiting: number, } | { "event": "stopped" });

/** Every kind's form schema, as the `kinds` command returns it. */
export const KIND_SCHEMAS: KindSchema[] = [
  {
    "kind": "x509_file",
    "label": "X.509 file",
    "description": "A certificate file, renewed by a command you give (step, certbot, a script) or only watched.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "path",
        "label": "Certificate file",
        "help": "The certificate Evergreen watches.",
        "field_type": "path",
        "required": true,
        "choices": [],
        "placeholder": "~/certs/web.pem",
        "runs_program": false
      },
      {
        "key": "renew_command",
        "label": "Renew command",
        "help": "The program that renews it, one argument per line. Without it Evergreen only watches.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "step\nca\nrenew\n--force\ncert.pem\nkey.pem",
        "runs_program": true
      },
      {
        "key": "reload_command",
        "label": "Reload command",
        "help": "Run after each renewal; one argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "systemctl\n--user\nreload\nnginx",
        "runs_program": true
      },
      {
        "key": "command_timeout",
        "label": "Command timeout",
        "help": "A command still running after this is killed. Default 2m.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "2m",
        "runs_program": false
      },
      {
        "key": "shell",
        "label": "Commands are shell strings",
        "help": "Run each command as one line with /bin/sh -c.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "false",
        "default": "false",
        "runs_program": true
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "vault_token",
    "label": "Vault token",
    "description": "A Vault/OpenBao login token kept alive with renew-self.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "increment",
        "label": "Renewal increment",
        "help": "The TTL asked for at each renewal; default the token's own.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "1h",
        "runs_program": false
      },
      {
        "key": "auth",
        "label": "Log in again with",
        "help": "approle and cert: Evergreen logs in again on its own when the token cannot go on. userpass, ldap and oidc: it asks you (`evergreen login NAME`, or Log in in the window). The new token goes to the token file.",
        "field_type": "choice",
        "required": false,
        "choices": [
          "approle",
          "cert",
          "userpass",
          "ldap",
          "oidc"
        ],
        "placeholder": "approle",
        "runs_program": false
      },
      {
        "key": "auth_mount",
        "label": "Auth mount",
        "help": "Where the auth method is mounted; default its name (approle, cert, userpass, ldap, oidc).",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "approle",
        "runs_program": false
      },
      {
        "key": "role_id_file",
        "label": "AppRole role_id file",
        "help": "approle: a file holding only the role_id, mode 0600.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.config/evergreen/role_id",
        "runs_program": false
      },
      {
        "key": "secret_id_file",
        "label": "AppRole secret_id file",
        "help": "approle: a file holding only the secret_id, mode 0600.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.config/evergreen/secret_id",
        "runs_program": false
      },
      {
        "key": "login_cert",
        "label": "Log in with the certificate of",
        "help": "cert: the name of a credential Evergreen keeps (a Vault PKI certificate) whose certificate and key log in.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "login_cert_file",
        "label": "Or client certificate file",
        "help": "cert: the client certificate (PEM), with login_key_file.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "login_key_file",
        "label": "Client key file",
        "help": "cert: the client certificate's key (PEM, 0600).",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "auth_role",
        "label": "Login role",
        "help": "cert: the role under auth/cert/certs/ (default the one the certificate matches); oidc: the role (default the mount's).",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "username",
        "label": "User name",
        "help": "userpass and ldap: who logs in; asked for when not set. The password is always asked, never kept.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "alice",
        "runs_program": false
      },
      {
        "key": "address",
        "label": "Server address",
        "help": "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "https://vault.example.com:8200",
        "runs_program": false
      },
      {
        "key": "token_file",
        "label": "Token file",
        "help": "A file holding only the token, mode 0600; default ~/.vault-token.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.vault-token",
        "runs_program": false
      },
      {
        "key": "token_env",
        "label": "Or token environment variable",
        "help": "Instead of a file: a variable of the engine's process.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "VAULT_TOKEN",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "namespace",
        "label": "Namespace",
        "help": "Sent as X-Vault-Namespace.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "vault_pki",
    "label": "Vault PKI certificate",
    "description": "A certificate from a Vault/OpenBao PKI role; the key stays on this machine.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "role",
        "label": "PKI role",
        "help": "The role under <mount>/roles/.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "workstation",
        "runs_program": false
      },
      {
        "key": "common_name",
        "label": "Common name",
        "help": "The certificate's CN, also sent as a DNS SAN.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "ws-42.corp.example.com",
        "runs_program": false
      },
      {
        "key": "path",
        "label": "Certificate file",
        "help": "Where the certificate (leaf, then chain) is written.",
        "field_type": "path",
        "required": true,
        "choices": [],
        "placeholder": "~/.local/share/certs/ws.pem",
        "runs_program": false
      },
      {
        "key": "key_path",
        "label": "Key file",
        "help": "Default: the certificate path with .key.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "mount",
        "label": "Mount",
        "help": "Where the PKI engine is mounted; default pki.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "pki",
        "runs_program": false
      },
      {
        "key": "alt_names",
        "label": "More DNS names",
        "help": "One per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "ip_sans",
        "label": "IP addresses",
        "help": "One per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "ttl",
        "label": "TTL",
        "help": "Asked of the server; default the role's.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "24h",
        "runs_program": false
      },
      {
        "key": "key_type",
        "label": "Key type",
        "help": "Used when a key is generated.",
        "field_type": "choice",
        "required": false,
        "choices": [
          "ec-p256",
          "ec-p384",
          "ed25519"
        ],
        "placeholder": "ec-p256",
        "runs_program": false
      },
      {
        "key": "mode",
        "label": "Mode",
        "help": "sign: the key is made here (recommended); issue: the server makes it.",
        "field_type": "choice",
        "required": false,
        "choices": [
          "sign",
          "issue"
        ],
        "placeholder": "sign",
        "runs_program": false
      },
      {
        "key": "address",
        "label": "Server address",
        "help": "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "https://vault.example.com:8200",
        "runs_program": false
      },
      {
        "key": "token_file",
        "label": "Token file",
        "help": "A file holding only the token, mode 0600; default ~/.vault-token.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.vault-token",
        "runs_program": false
      },
      {
        "key": "token_env",
        "label": "Or token environment variable",
        "help": "Instead of a file: a variable of the engine's process.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "VAULT_TOKEN",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "namespace",
        "label": "Namespace",
        "help": "Sent as X-Vault-Namespace.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "reload_command",
        "label": "Reload command",
        "help": "Run after each renewal; one argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "systemctl\n--user\nreload\nnginx",
        "runs_program": true
      },
      {
        "key": "command_timeout",
        "label": "Command timeout",
        "help": "A command still running after this is killed. Default 2m.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "2m",
        "runs_program": false
      },
      {
        "key": "shell",
        "label": "Commands are shell strings",
        "help": "Run each command as one line with /bin/sh -c.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "false",
        "default": "false",
        "runs_program": true
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "ssh_cert",
    "label": "SSH certificate",
    "description": "An OpenSSH certificate: signed by a Vault/OpenBao SSH engine for a key that stays here (and put into ssh-agent), or written by another tool (step ssh, tsh) and watched.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "role",
        "label": "SSH role",
        "help": "The SSH engine's role (<mount>/sign/ROLE). Without role and address Evergreen only watches the certificate file.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "workstation",
        "runs_program": false
      },
      {
        "key": "key_path",
        "label": "Key file",
        "help": "The private key the certificate is for; made (ed25519, 0600) if absent. Default ~/.ssh/id_ed25519.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.ssh/id_ed25519",
        "runs_program": false
      },
      {
        "key": "path",
        "label": "Certificate file",
        "help": "Default: the key's path with -cert.pub, where ssh looks for it.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.ssh/id_ed25519-cert.pub",
        "runs_program": false
      },
      {
        "key": "mount",
        "label": "Mount",
        "help": "Where the SSH engine is mounted; default ssh.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "ssh",
        "runs_program": false
      },
      {
        "key": "principals",
        "label": "Principals",
        "help": "The user (or host) names asked for, one per line; default the role's.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "alice",
        "runs_program": false
      },
      {
        "key": "ttl",
        "label": "TTL",
        "help": "Asked of the server; default the role's.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "8h",
        "runs_program": false
      },
      {
        "key": "cert_type",
        "label": "Certificate type",
        "help": "user (logging in to servers) or host (a server's own key).",
        "field_type": "choice",
        "required": false,
        "choices": [
          "user",
          "host"
        ],
        "placeholder": "user",
        "runs_program": false
      },
      {
        "key": "extensions",
        "label": "Extensions",
        "help": "Asked for, one per line; default the role's.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "permit-pty\npermit-port-forwarding",
        "runs_program": false
      },
      {
        "key": "token_from",
        "label": "Borrow the token of",
        "help": "The name of a Vault token credential: its address and token (and its new logins) serve this one too.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "add_to_agent",
        "label": "Put into ssh-agent",
        "help": "After each renewal, the key with its new certificate, for as long as the certificate is valid.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "agent_socket",
        "label": "ssh-agent socket",
        "help": "Default $SSH_AUTH_SOCK of the engine.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "renew_command",
        "label": "Renew command",
        "help": "For a certificate another tool writes: the program that renews it, one argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "step\nssh\nrenew\n--force\n/home/alice/.ssh/id_ecdsa-cert.pub\n/home/alice/.ssh/id_ecdsa",
        "runs_program": true
      },
      {
        "key": "address",
        "label": "Server address",
        "help": "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "https://vault.example.com:8200",
        "runs_program": false
      },
      {
        "key": "token_file",
        "label": "Token file",
        "help": "A file holding only the token, mode 0600; default ~/.vault-token.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.vault-token",
        "runs_program": false
      },
      {
        "key": "token_env",
        "label": "Or token environment variable",
        "help": "Instead of a file: a variable of the engine's process.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "VAULT_TOKEN",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "namespace",
        "label": "Namespace",
        "help": "Sent as X-Vault-Namespace.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "reload_command",
        "label": "Reload command",
        "help": "Run after each renewal; one argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "systemctl\n--user\nreload\nnginx",
        "runs_program": true
      },
      {
        "key": "command_timeout",
        "label": "Command timeout",
        "help": "A command still running after this is killed. Default 2m.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "2m",
        "runs_program": false
      },
      {
        "key": "shell",
        "label": "Commands are shell strings",
        "help": "Run each command as one line with /bin/sh -c.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "false",
        "default": "false",
        "runs_program": true
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "kerberos",
    "label": "Kerberos ticket",
    "description": "A Kerberos ticket-granting ticket, renewed with MIT's kinit until its renew-till; from a keytab after that, or by asking you.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "cache",
        "label": "Credential cache",
        "help": "FILE:/path or DIR:/path. Default $KRB5CCNAME, else FILE:/tmp/krb5cc_UID.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "FILE:/tmp/krb5cc_1000",
        "runs_program": false
      },
      {
        "key": "principal",
        "label": "Principal",
        "help": "Who logs in (with the keytab, or when you log in again); default the cache's own.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "alice@EXAMPLE.COM",
        "runs_program": false
      },
      {
        "key": "keytab",
        "label": "Keytab",
        "help": "A keytab (0600) to get a fresh ticket from when renewals end, as k5start does. Needs principal.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.config/evergreen/alice.keytab",
        "runs_program": false
      },
      {
        "key": "lifetime",
        "label": "Ticket lifetime",
        "help": "Asked for when a new ticket is got (keytab or login); default the KDC's.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "10h",
        "runs_program": false
      },
      {
        "key": "renewable_life",
        "label": "Renewable for",
        "help": "Asked for when a new ticket is got; default 7d.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "7d",
        "runs_program": false
      },
      {
        "key": "krb5_config",
        "label": "krb5.conf",
        "help": "A Kerberos configuration other than the system's, for kinit (KRB5_CONFIG).",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "oauth",
    "label": "OAuth token",
    "description": "An OAuth 2.0 / OpenID Connect access token, refreshed before it expires; `evergreen token NAME` hands it to scripts and tools.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "client_id",
        "label": "Client ID",
        "help": "The client registered with the provider.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "evergreen-cli",
        "runs_program": false
      },
      {
        "key": "issuer",
        "label": "Issuer",
        "help": "The provider; its endpoints are read from /.well-known/openid-configuration.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "https://login.example.com",
        "runs_program": false
      },
      {
        "key": "token_url",
        "label": "Token endpoint",
        "help": "Instead of (or over) the issuer's.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "device_url",
        "label": "Device authorization endpoint",
        "help": "Instead of (or over) the issuer's.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "auth_url",
        "label": "Authorization endpoint",
        "help": "Instead of (or over) the issuer's.",
        "field_type": "url",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "client_secret_file",
        "label": "Client secret file",
        "help": "A confidential client's secret, alone in a 0600 file.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "scopes",
        "label": "Scopes",
        "help": "Asked for at login, one per line; offline_access brings a refresh token from OpenID providers.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "openid\noffline_access",
        "runs_program": false
      },
      {
        "key": "flow",
        "label": "First login",
        "help": "device: a code to enter at the provider's page (default when it has one); browser: a login in this machine's browser.",
        "field_type": "choice",
        "required": false,
        "choices": [
          "device",
          "browser"
        ],
        "placeholder": "device",
        "runs_program": false
      },
      {
        "key": "keyring",
        "label": "Keep tokens in the keyring",
        "help": "In the desktop keyring (Secret Service) when one runs; else, or with false, in a 0600 file.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "token_file",
        "label": "Token file",
        "help": "Where the tokens are kept without a keyring; default in Evergreen's data directory.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "notify_every",
        "label": "Remind every",
        "help": "While a new login is needed, a notification says so again this often; default 1h.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "1h",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "kubeconfig",
    "label": "Kubernetes user",
    "description": "A kubeconfig user's client certificate (inline or a file) or OIDC id token, watched; renewed by a command you give (kubeadm, a Vault PKI role, a script).",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "user",
        "label": "User",
        "help": "The name of the users: entry (kubectl config view shows them).",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "kubernetes-admin",
        "runs_program": false
      },
      {
        "key": "path",
        "label": "Kubeconfig",
        "help": "The kubeconfig file; default ~/.kube/config.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.kube/config",
        "runs_program": false
      },
      {
        "key": "oidc_cache",
        "label": "kubelogin cache",
        "help": "Where kubelogin caches id tokens, for exec users; default ~/.kube/cache/oidc-login.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.kube/cache/oidc-login",
        "runs_program": false
      },
      {
        "key": "renew_command",
        "label": "Renew command",
        "help": "The program that writes a new certificate for this user, one argument per line. Without it Evergreen only watches.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "kubeadm\nkubeconfig\nuser\n--client-name=alice",
        "runs_program": true
      },
      {
        "key": "reload_command",
        "label": "Reload command",
        "help": "Run after each renewal; one argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "systemctl\n--user\nreload\nnginx",
        "runs_program": true
      },
      {
        "key": "command_timeout",
        "label": "Command timeout",
        "help": "A command still running after this is killed. Default 2m.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "2m",
        "runs_program": false
      },
      {
        "key": "shell",
        "label": "Commands are shell strings",
        "help": "Run each command as one line with /bin/sh -c.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "false",
        "default": "false",
        "runs_program": true
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "aws_sso",
    "label": "AWS SSO session",
    "description": "An AWS IAM Identity Center session: its access token refreshed the way the AWS CLI does it, in the cache every AWS tool reads; a new `aws sso login` when the session ends.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "session",
        "label": "SSO session",
        "help": "The name of its [sso-session NAME] section in the AWS config.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "work",
        "runs_program": false
      },
      {
        "key": "config_file",
        "label": "AWS config",
        "help": "Default ~/.aws/config.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.aws/config",
        "runs_program": false
      },
      {
        "key": "cache_dir",
        "label": "Token cache",
        "help": "Where the AWS CLI caches SSO tokens; default ~/.aws/sso/cache.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.aws/sso/cache",
        "runs_program": false
      },
      {
        "key": "endpoint_url",
        "label": "SSO-OIDC endpoint",
        "help": "Default https://oidc.REGION.amazonaws.com, REGION being the session's sso_region.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "gpg_key",
    "label": "GPG key",
    "description": "A GnuPG key or subkey with an expiry date, watched; its notices say the gpg command that extends it.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "fingerprint",
        "label": "Fingerprint",
        "help": "The key's or subkey's full fingerprint (gpg --list-secret-keys --with-subkey-fingerprints).",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "0123456789ABCDEF0123456789ABCDEF01234567",
        "runs_program": false
      },
      {
        "key": "gnupg_home",
        "label": "GnuPG home",
        "help": "Where the keyring is; default $GNUPGHOME, else ~/.gnupg.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.gnupg",
        "runs_program": false
      },
      {
        "key": "extend_by",
        "label": "Extend by",
        "help": "The new expiry the suggested command sets (gpg's words: 1y, 6m, 2026-12-31); default 1y.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "1y",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "expiry_command",
    "label": "Expiry command",
    "description": "Anything else that expires: a command prints its expiry (a date, or a JSON field), Evergreen runs it on a schedule and warns ahead; a login command can be offered.",
    "has_heartbeats": false,
    "enrolment_token": null,
    "fields": [
      {
        "key": "command",
        "label": "Command",
        "help": "Prints the expiry: a line with an RFC 3339 time (or \"2026-12-31 10:00:00 UTC\", or Unix seconds), or JSON with json_path. One argument per line.",
        "field_type": "list",
        "required": true,
        "choices": [],
        "placeholder": "tailscale\nstatus\n--json",
        "runs_program": true
      },
      {
        "key": "json_path",
        "label": "JSON path",
        "help": "Where the expiry is in the command's JSON output: .Self.KeyExpiry, .items[0].expires.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": ".Self.KeyExpiry",
        "runs_program": false
      },
      {
        "key": "every",
        "label": "Look every",
        "help": "How often the command runs; default 1h.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "1h",
        "runs_program": false
      },
      {
        "key": "lifetime",
        "label": "Full lifetime",
        "help": "How long one lasts when new (Tailscale: 180d), to show how much is left; default: from when Evergreen first saw this expiry.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "180d",
        "runs_program": false
      },
      {
        "key": "login_command",
        "label": "Login command",
        "help": "What gets a new one, offered as Log in (run in a terminal). One argument per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "tailscale\nup\n--force-reauth",
        "runs_program": true
      },
      {
        "key": "command_timeout",
        "label": "Command timeout",
        "help": "How long the command may run before it is stopped; default 2m.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "30s",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "nixfleet",
    "label": "nixfleet agent",
    "description": "A nixfleet agent's mTLS client certificate, renewed with a CSR signed by the SSH host key.",
    "has_heartbeats": false,
    "enrolment_token": "enrolment token",
    "fields": [
      {
        "key": "url",
        "label": "Control plane",
        "help": "https://… (mutual TLS).",
        "field_type": "url",
        "required": true,
        "choices": [],
        "placeholder": "https://fleet.example.com",
        "runs_program": false
      },
      {
        "key": "path",
        "label": "Client certificate",
        "help": "Rewritten in place at each renewal.",
        "field_type": "path",
        "required": true,
        "choices": [],
        "placeholder": "/var/lib/nixfleet/agent.pem",
        "runs_program": false
      },
      {
        "key": "key",
        "label": "Key",
        "help": "ssh_host (default): every CSR is signed by the SSH host key; rotate: a fresh key for every certificate.",
        "field_type": "choice",
        "required": false,
        "choices": [
          "ssh_host",
          "rotate"
        ],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "ssh_host_key",
        "label": "SSH host key",
        "help": "With key = \"ssh_host\": the OpenSSH ed25519 private key; default /etc/ssh/ssh_host_ed25519_key.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "key_path",
        "label": "Key file",
        "help": "With key = \"rotate\": where the current key is kept (0600); default the certificate's path with .key.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "machine_id",
        "label": "Machine id",
        "help": "Default: the certificate's common name, else the hostname.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enrollment_token_file",
        "label": "Enrolment token file",
        "help": "Where an enrolment token waits; default <certificate>.token.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "The control plane's CA (PEM).",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "wrenn",
    "label": "wrenn host",
    "description": "A wrenn host registration kept alive with heartbeats.",
    "has_heartbeats": true,
    "enrolment_token": "registration token",
    "fields": [
      {
        "key": "url",
        "label": "Control plane",
        "help": "https://…",
        "field_type": "url",
        "required": true,
        "choices": [],
        "placeholder": "https://wrenn.example.com",
        "runs_program": false
      },
      {
        "key": "credentials_file",
        "label": "Credentials file",
        "help": "The host credentials (JSON, 0600), written at registration.",
        "field_type": "path",
        "required": true,
        "choices": [],
        "placeholder": "~/.local/share/wrenn/host.json",
        "runs_program": false
      },
      {
        "key": "registration_token_file",
        "label": "Registration token file",
        "help": "Where a one-time token waits; default <credentials file>.token.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "heartbeat_interval",
        "label": "Heartbeat interval",
        "help": "Default 30s.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "30s",
        "runs_program": false
      },
      {
        "key": "host_address",
        "label": "Host address",
        "help": "This host's ip:port as the control plane reaches it; wrenn refuses a registration without one.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "10.0.0.5:9000",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "The control plane's CA (PEM).",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  },
  {
    "kind": "certctl",
    "label": "certctl agent",
    "description": "A certctl agent: heartbeats, work polls, and the certificates it deploys (keys made here).",
    "has_heartbeats": true,
    "enrolment_token": null,
    "fields": [
      {
        "key": "url",
        "label": "Control plane",
        "help": "https://… only (TLS 1.3).",
        "field_type": "url",
        "required": true,
        "choices": [],
        "placeholder": "https://certctl.example.com:8443",
        "runs_program": false
      },
      {
        "key": "agent_id",
        "label": "Agent id",
        "help": "The agent's id at the control plane.",
        "field_type": "text",
        "required": true,
        "choices": [],
        "placeholder": "agent-ws42",
        "runs_program": false
      },
      {
        "key": "api_key_file",
        "label": "API key file",
        "help": "A file holding only the agent's API key, mode 0600.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "~/.config/evergreen/certctl.key",
        "runs_program": false
      },
      {
        "key": "api_key_env",
        "label": "Or API key variable",
        "help": "Instead of a file: a variable of the engine's process.",
        "field_type": "text",
        "required": false,
        "choices": [],
        "placeholder": "CERTCTL_API_KEY",
        "runs_program": false
      },
      {
        "key": "targets",
        "label": "Targets",
        "help": "One per line: TARGET_ID=certificate path; the key goes next to it (.key).",
        "field_type": "list",
        "required": true,
        "choices": [],
        "placeholder": "t-web=~/certs/web.pem",
        "runs_program": false
      },
      {
        "key": "key_dir",
        "label": "Key directory",
        "help": "Where keys made for CSRs live (0700). Default: Evergreen's data directory.",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "discovery_dirs",
        "label": "Discovery directories",
        "help": "Scanned for certificates every 6 h; one per line.",
        "field_type": "list",
        "required": false,
        "choices": [],
        "placeholder": "/etc/ssl/certs",
        "runs_program": false
      },
      {
        "key": "heartbeat_interval",
        "label": "Heartbeat interval",
        "help": "Default 60s.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "60s",
        "runs_program": false
      },
      {
        "key": "poll_interval",
        "label": "Poll interval",
        "help": "Default 30s.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "30s",
        "runs_program": false
      },
      {
        "key": "discovery_interval",
        "label": "Discovery interval",
        "help": "Default 6h.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "6h",
        "runs_program": false
      },
      {
        "key": "ca_bundle",
        "label": "CA bundle",
        "help": "The control plane's CA (PEM).",
        "field_type": "path",
        "required": false,
        "choices": [],
        "placeholder": "",
        "runs_program": false
      },
      {
        "key": "enabled",
        "label": "Enabled",
        "help": "Off keeps it listed as disabled and never touches it.",
        "field_type": "bool",
        "required": false,
        "choices": [],
        "placeholder": "true",
        "default": "true",
        "runs_program": false
      },
      {
        "key": "renew_at_fraction",
        "label": "Renew when this fraction is left",
        "help": "Strictly between 0 and 1. Default for this kind: 0.33.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.33",
        "runs_program": false
      },
      {
        "key": "renew_before",
        "label": "Or renew this long before expiry",
        "help": "Instead of a fraction, e.g. 72h. Not both.",
        "field_type": "duration",
        "required": false,
        "choices": [],
        "placeholder": "72h",
        "runs_program": false
      },
      {
        "key": "jitter",
        "label": "Jitter",
        "help": "Random shift of each deadline, a fraction from 0 to 0.5.",
        "field_type": "number",
        "required": false,
        "choices": [],
        "placeholder": "0.1",
        "runs_program": false
      }
    ]
  }
];

/** A status in each state, as the engine publishes it (words and offers decided). */
export const STATUS_SAMPLES: CredentialStatus[] = [
  {
    "name": "sample-0",
    "kind": "x509_file",
    "state": "healthy",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "healthy",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-1",
    "kind": "x509_file",
    "state": "due",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "due for renewal",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": true,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-2",
    "kind": "x509_file",
    "state": "renewing",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "renewing",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-3",
    "kind": "x509_file",
    "state": "failing",
    "streak": 1,
    "next_retry_at": 1800000060000,
    "offline": false,
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "failing",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": true,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-4",
    "kind": "x509_file",
    "state": "failing",
    "streak": 3,
    "next_retry_at": 1800000060000,
    "offline": false,
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "failing (3 in a row)",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": true,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-5",
    "kind": "x509_file",
    "state": "failing",
    "streak": 2,
    "next_retry_at": 1800000060000,
    "offline": true,
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "offline — waiting for the network",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-6",
    "kind": "x509_file",
    "state": "expired",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "expired",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": true,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-7",
    "kind": "wrenn",
    "state": "paused",
    "reason": "the server said so",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "wrenn host",
    "state_label": "paused",
    "has_heartbeats": true,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": null,
      "reregister": "registration token",
      "renew_refused": "it is paused"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-8",
    "kind": "x509_file",
    "state": "paused",
    "reason": "the server said so",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "paused",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": "resume",
      "reregister": null,
      "renew_refused": "it is paused"
    },
    "user_paused": true,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-9",
    "kind": "wrenn",
    "state": "retired",
    "reason": "the server said so",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "wrenn host",
    "state_label": "retired",
    "has_heartbeats": true,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": null,
      "reregister": "registration token",
      "renew_refused": "it is retired"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-10",
    "kind": "x509_file",
    "state": "not_renewable",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "not renewable",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": null,
      "reregister": null,
      "renew_refused": "it is not renewable"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-11",
    "kind": "x509_file",
    "state": "final",
    "expires_at": 1800003600000,
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "final — cannot be extended",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": null,
      "reregister": null,
      "renew_refused": "it is final — cannot be extended"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-12",
    "kind": "x509_file",
    "state": "capped",
    "reason": "the server said so",
    "next_try_at": 1800003600000,
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "capped by its issuer",
    "has_heartbeats": false,
    "offers": {
      "renew": true,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": null
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-13",
    "kind": "x509_file",
    "state": "disabled",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": true,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "disabled",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": null,
      "reregister": null,
      "renew_refused": "it is disabled"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-14",
    "kind": "x509_file",
    "state": "healthy",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": false,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "healthy",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": "Evergreen only watches it: nothing in its settings renews it"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-15",
    "kind": "x509_file",
    "state": "due",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": false,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "due for renewal",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": "Evergreen only watches it: nothing in its settings renews it"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  },
  {
    "name": "sample-16",
    "kind": "x509_file",
    "state": "expired",
    "not_before": null,
    "not_after": null,
    "remaining_fraction": null,
    "renew_at": null,
    "next_action": null,
    "last_result": null,
    "details": null,
    "can_renew": false,
    "problem": null,
    "renewals": {
      "success": 0,
      "failure": 0,
      "not_renewable": 0,
      "capped": 0
    },
    "heartbeats": {
      "success": 0,
      "failure": 0
    },
    "kind_label": "X.509 file",
    "state_label": "expired",
    "has_heartbeats": false,
    "offers": {
      "renew": false,
      "renew_helps": false,
      "pause": "pause",
      "reregister": null,
      "renew_refused": "Evergreen only watches it: nothing in its settings renews it"
    },
    "user_paused": false,
    "updated_at": 1800000000000
  }
];
