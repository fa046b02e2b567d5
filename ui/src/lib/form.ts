// Pure helpers for the Add/Edit form: initial values, what is sent, where each
// problem is shown.

import type { CredentialForm, FieldSchema, FormProblem, Kind, KindSchema } from "../bindings";

/** Keys that are not kind fields but are shown as form inputs too. */
export const FIXED_KEYS = ["name", "kind"] as const;

/**
 * Initial value of a field when it has none: a checkbox starts as its stated
 * default (unchecked when the engine states none); other inputs start empty,
 * which means "not set".
 */
export function initialValue(field: FieldSchema): string {
  if (field.field_type === "bool") {
    return field.default === "true" ? "true" : "false";
  }
  return "";
}

/** Values for a kind: the given ones, plus initial values for missing fields. */
export function valuesFor(
  schema: KindSchema | undefined,
  given: { [key: string]: string | undefined },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) {
    if (v !== undefined) out[k] = v;
  }
  for (const f of schema?.fields ?? []) {
    if (out[f.key] === undefined) {
      out[f.key] = initialValue(f);
    }
  }
  return out;
}

/** Normalises a "list" textarea: one trimmed item per line, no blank lines. */
export function normaliseList(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join("\n");
}

/**
 * The CredentialForm sent to save_credential: only the selected kind's fields;
 * empty optional text left out (the engine's default applies); lists normalised.
 */
export function buildForm(name: string, kind: Kind, schema: KindSchema | undefined, values: Record<string, string>): CredentialForm {
  const out: Record<string, string> = {};
  for (const f of schema?.fields ?? []) {
    // A number input bound with bind:value holds a number (or null when empty), not text.
    const raw: unknown = values[f.key];
    let v = raw === undefined || raw === null ? "" : String(raw);
    if (f.field_type === "bool") {
      v = v === "true" ? "true" : "false";
    } else if (f.field_type === "list") {
      v = normaliseList(v);
    } else {
      v = v.trim();
    }
    if (v !== "" || f.required) {
      out[f.key] = v;
    }
  }
  return { name: name.trim(), kind, values: out };
}

/** Problems split into those shown under a known input and those shown at the top. */
export function splitProblems(
  problems: readonly FormProblem[],
  fieldKeys: readonly string[],
): { byField: Record<string, string[]>; general: string[] } {
  const known = new Set<string>([...FIXED_KEYS, ...fieldKeys]);
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const p of problems) {
    if (p.field !== null && known.has(p.field)) {
      (byField[p.field] ??= []).push(p.message);
    } else if (p.field !== null) {
      general.push(`${p.field}: ${p.message}`);
    } else {
      general.push(p.message);
    }
  }
  return { byField, general };
}

/**
 * The files a credential's config names, for the detail view: every path
 * field that is set, and the paths of list fields written as `ID=path`
 * (certctl's targets). Summaries stay short because the paths live here.
 */
export function filesOf(schema: KindSchema | undefined, form: CredentialForm): Array<{ label: string; path: string }> {
  if (!schema) return [];
  const out: Array<{ label: string; path: string }> = [];
  for (const f of schema.fields) {
    const v = form.values[f.key]?.trim();
    if (!v) continue;
    if (f.field_type === "path") {
      out.push({ label: f.label, path: v });
    } else if (f.field_type === "list") {
      for (const line of v.split("\n")) {
        const m = /^\s*([^=\s]+)\s*=\s*([~/].*?)\s*$/.exec(line);
        if (m) out.push({ label: `${f.label}: ${m[1]}`, path: m[2] });
      }
    }
  }
  return out;
}
