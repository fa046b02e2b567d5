// Generated from the Rust types by `make bindings` (src-tauri/src/models.rs); do not edit.
// Timestamps are Unix milliseconds: well inside a JS number, so 64-bit integers are `number` here.

export type Kind = "x509_file" | "vault_token" | "vault_pki" | "nixfleet" | "wrenn" | "certctl";

export type Health = "healthy" | "attention" | "stopped" | "failing";

export type State = { "state": "healthy" } | { "state": "due" } | { "state": "renewing" } | { "state": "failing", streak: number, next_retry_at: number, } | { "state": "expired" } | { "state": "paused", reason: string, } | { "state": "retired", reason: string, } | { "state": "not_renewable" } | { "state": "final", expires_at: number, } | { "state": "capped", reason: string, next_try_at: number, } | { "state": "disabled" };

export type CertDetails = { subject: string, issuer: string, serial: string, sha256: string, sans: Array<string>, };

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
stderr_tail?: string, };

export type RenewalCounts = { success: number, failure: number, 
/**
 * Renewals (or start-up checks) that found the server would not renew it.
 */
not_renewable: number, };

export type Streak = { failures: number, 
/**
 * Unix milliseconds.
 */
since: number, };

export type NextAction = { at: number, what: string, };

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
problem: string | null, renewals: RenewalCounts, 
/**
 * When the control plane last accepted a heartbeat (fleet kinds).
 */
last_heartbeat?: number, 
/**
 * Paused by the user (Resume ends it), as opposed to by the server or the engine.
 */
user_paused: boolean, 
/**
 * The failures in a row now, if any.
 */
failure_streak?: Streak, updated_at: number, } & ({ "state": "healthy" } | { "state": "due" } | { "state": "renewing" } | { "state": "failing", streak: number, next_retry_at: number, } | { "state": "expired" } | { "state": "paused", reason: string, } | { "state": "retired", reason: string, } | { "state": "not_renewable" } | { "state": "final", expires_at: number, } | { "state": "capped", reason: string, next_try_at: number, } | { "state": "disabled" });

export type RenewOutcome = { credential: string, ok: boolean, message: string, not_after: number | null, duration_ms: number, };

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
config_problem: string | null, };

export type Navigate = { name: string | null, };

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

export type KindSchema = { kind: Kind, label: string, description: string, fields: Array<FieldSchema>, };

export type CredentialForm = { name: string, kind: Kind, values: { [key in string]?: string }, };

export type FormProblem = { field: string | null, message: string, };

export type SaveResult = { ok: boolean, problems: Array<FormProblem>, };

export type ErrorKind = "unknown_credential" | "config" | "refused" | "engine" | "engine_stopped" | "no_engine" | "invalid_input" | "internal";

export type AppError = { kind: ErrorKind, message: string, };

export type EventKind = { "event": "started", credentials: number, } | { "event": "observed", not_after: number, remaining_fraction: number, } | { "event": "read_failed", message: string, } | { "event": "state_changed", from: string, to: string, } | { "event": "renewal_started", manual: boolean, } | { "event": "renewal_succeeded", old_not_after: number | null, new_not_after: number, duration_ms: number, message: string, } | { "event": "renewal_failed", message: string, streak: number, since: number, next_retry_at: number | null, } | { "event": "recovered", after_failures: number, since: number, } | { "event": "expiry_approaching", threshold_secs: number, not_after: number, } | { "event": "expired", not_after: number, } | { "event": "retired", reason: string, } | { "event": "paused", reason: string, } | { "event": "not_renewable", reason: string, } | { "event": "final", expires_at: number, } | { "event": "capped", reason: string, not_after: number, next_try_at: number, since: number, } | { "event": "heartbeat_failed", message: string, streak: number, } | { "event": "rejected", reason: string, } | { "event": "credential_added" } | { "event": "credential_removed" } | { "event": "config_reloaded", added: number, removed: number, changed: number, } | { "event": "config_rejected", message: string, } | { "event": "notifications_paused", until: number | null, } | { "event": "resumed", slept_secs: number, source: string, } | { "event": "stopped" };

export type Event = { 
/**
 * Unix milliseconds (engine wall clock).
 */
at: number, 
/**
 * The credential it concerns; `None` for engine-wide events.
 */
credential?: string, } & ({ "event": "started", credentials: number, } | { "event": "observed", not_after: number, remaining_fraction: number, } | { "event": "read_failed", message: string, } | { "event": "state_changed", from: string, to: string, } | { "event": "renewal_started", manual: boolean, } | { "event": "renewal_succeeded", old_not_after: number | null, new_not_after: number, duration_ms: number, message: string, } | { "event": "renewal_failed", message: string, streak: number, since: number, next_retry_at: number | null, } | { "event": "recovered", after_failures: number, since: number, } | { "event": "expiry_approaching", threshold_secs: number, not_after: number, } | { "event": "expired", not_after: number, } | { "event": "retired", reason: string, } | { "event": "paused", reason: string, } | { "event": "not_renewable", reason: string, } | { "event": "final", expires_at: number, } | { "event": "capped", reason: string, not_after: number, next_try_at: number, since: number, } | { "event": "heartbeat_failed", message: string, streak: number, } | { "event": "rejected", reason: string, } | { "event": "credential_added" } | { "event": "credential_removed" } | { "event": "config_reloaded", added: number, removed: number, changed: number, } | { "event": "config_rejected", message: string, } | { "event": "notifications_paused", until: number | null, } | { "event": "resumed", slept_secs: number, source: string, } | { "event": "stopped" });
