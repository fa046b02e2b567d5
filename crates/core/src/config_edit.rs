//! Editing the config file from a form: the fields each kind has, reading one
//! credential into a form, and writing it back.
//!
//! The settings form of the tray app is generated from [`kinds`], so the UI
//! knows nothing about credential kinds by itself. Writes keep the user's
//! comments and layout (`toml_edit`), are validated by the very same
//! [`config::validate`] the engine uses before anything is written, and go
//! through the one atomic-write helper: a form with a mistake never changes
//! the file, and a save never drops another credential.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

pub use crate::config::fields::FieldType;
use crate::config::fields::{self, Field};
use crate::config::{self, Problem};
use crate::error::{Error, Result};
use crate::fsutil::atomic_write;
use crate::model::Kind;

/// One field of a credential kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldSchema {
    pub key: String,
    pub label: String,
    pub help: String,
    pub field_type: FieldType,
    pub required: bool,
    pub choices: Vec<String>,
    pub placeholder: String,
    /// What an unset field means, where that is a value (a checkbox's state).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The field names a program Evergreen runs (or how it runs it): the
    /// window shows it but cannot set or change it; the config file can.
    pub runs_program: bool,
}

/// A credential kind and the fields its form shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KindSchema {
    pub kind: Kind,
    pub label: String,
    pub description: String,
    /// Its registration lives on heartbeats.
    pub has_heartbeats: bool,
    /// What the one-time token it joins its fleet with is called, if it enrols.
    pub enrolment_token: Option<String>,
    pub fields: Vec<FieldSchema>,
}

/// A credential as the form edits it: each field as text (lists one item per
/// line, booleans "true"/"false"); an empty or missing value means "not set".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CredentialForm {
    pub name: String,
    pub kind: Kind,
    pub values: BTreeMap<String, String>,
}

/// One problem with a form; `field` is the key it belongs to, `None` for the
/// credential (or the file) as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FormProblem {
    pub field: Option<String>,
    pub message: String,
}

/// The result of a save: written, or every problem and nothing written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SaveResult {
    pub ok: bool,
    pub problems: Vec<FormProblem>,
}

/// A field's help, with the kind's own default where the policy decides it.
fn help_of(kind: Kind, f: &Field) -> String {
    match (f.key, crate::policy::RenewPolicy::default_for(kind)) {
        ("renew_at_fraction", crate::policy::RenewPolicy::Fraction(d)) => {
            format!("{} Default for this kind: {}.", f.help, (d * 100.0).round() / 100.0)
        }
        _ => f.help.to_string(),
    }
}

/// Every credential kind with its form fields, in the order the form shows them.
pub fn kinds() -> Vec<KindSchema> {
    Kind::all()
        .map(|kind| {
            let def = kind.def();
            KindSchema {
                kind,
                label: def.label.into(),
                description: def.about.into(),
                has_heartbeats: def.facts.heartbeats,
                enrolment_token: def.facts.enrolment.map(|e| e.token.to_string()),
                fields: fields::of(kind)
                    .into_iter()
                    .map(|f| FieldSchema {
                        key: f.key.into(),
                        label: f.label.into(),
                        help: help_of(kind, &f),
                        field_type: f.ty,
                        required: f.required,
                        choices: f.choices.iter().map(|c| c.to_string()).collect(),
                        placeholder: f.placeholder.into(),
                        default: f.default.map(str::to_string),
                        runs_program: f.runs_program,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn read_doc(path: &Path) -> Result<DocumentMut> {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read config", path, e)),
    };
    let doc: DocumentMut = src.parse().map_err(|e: toml_edit::TomlError| {
        Error::Config(format!(
            "{} is not valid TOML ({}); fix it by hand first (`evergreen config check` shows where)",
            path.display(),
            e.message()
        ))
    })?;
    Ok(doc)
}

fn credentials(doc: &DocumentMut) -> Option<&toml_edit::ArrayOfTables> {
    doc.get("credential").and_then(Item::as_array_of_tables)
}

fn name_of(t: &Table) -> Option<&str> {
    t.get("name").and_then(Item::as_str)
}

/// The credential `name` of the config file at `path`, as a form.
pub fn read_form(path: &Path, name: &str) -> Result<CredentialForm> {
    let doc = read_doc(path)?;
    let t = credentials(&doc)
        .and_then(|a| a.iter().find(|t| name_of(t) == Some(name)))
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    let kind_str = t.get("kind").and_then(Item::as_str).unwrap_or_default();
    let kind = Kind::named(kind_str).ok_or_else(|| {
        Error::Config(format!(
            "credential {name:?} in {} has kind {kind_str:?}, which the form cannot edit; edit the file by hand",
            path.display()
        ))
    })?;
    let mut values = BTreeMap::new();
    for (key, item) in t.iter() {
        if key == "name" || key == "kind" {
            continue;
        }
        if let Some(text) = item_text(item) {
            values.insert(key.to_string(), text);
        }
    }
    Ok(CredentialForm {
        name: name.into(),
        kind,
        values,
    })
}

/// A config value as the form shows it.
fn item_text(item: &Item) -> Option<String> {
    Some(match item.as_value()? {
        Value::String(s) => s.value().clone(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join("\n"),
        _ => return None,
    })
}

/// The TOML value a form field's text stands for; `None` removes the key.
fn to_value(field: &Field, text: &str, shell: bool) -> std::result::Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(match field.ty {
        FieldType::Bool => match text {
            "true" => Value::from(true),
            "false" => Value::from(false),
            other => return Err(format!("{other:?} is not true or false")),
        },
        FieldType::Number => match text.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::from(f),
                _ => return Err(format!("{text:?} is not a number")),
            },
        },
        FieldType::List if shell && field.key.ends_with("_command") => Value::from(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        FieldType::List => {
            let mut a = Array::new();
            for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                a.push(l);
            }
            Value::Array(a)
        }
        _ => Value::from(text),
    }))
}

/// A list field's text without the blank lines and spaces a form adds.
fn normalized(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// Validates the form against the whole config and, only if everything is
/// right, writes the file (atomically, comments kept). `original` is the
/// name being edited; `None` adds a credential.
pub fn save(path: &Path, original: Option<&str>, form: &CredentialForm) -> Result<SaveResult> {
    let refused = |problems| Ok(SaveResult { ok: false, problems });
    let mut doc = read_doc(path)?;
    let (existing, mut problems) = check_names(&doc, path, original, form);
    let before = existing.and_then(|i| credentials(&doc).and_then(|a| a.get(i)));
    let table = form_table(path, form, before, &mut problems);
    if !problems.is_empty() {
        return refused(problems);
    }
    if doc.get("credential").is_none() {
        doc.insert("credential", Item::ArrayOfTables(Default::default()));
    }
    let Some(arr) = doc.get_mut("credential").and_then(Item::as_array_of_tables_mut) else {
        return refused(vec![FormProblem {
            field: None,
            message: format!(
                "`credential` in {} is not a list of [[credential]] tables; fix it by hand",
                path.display()
            ),
        }]);
    };
    match existing.and_then(|i| arr.get_mut(i)) {
        Some(t) => {
            // Keep the table's comments and its position in the file.
            let decor = t.decor().clone();
            *t = table;
            *t.decor_mut() = decor;
        }
        None => arr.push(table),
    }
    let text = doc.to_string();
    if let Err(problems) = config::validate(&text, path) {
        return refused(place(&text, &form.name, problems));
    }
    atomic_write(path, text.as_bytes(), 0o600)?;
    Ok(SaveResult {
        ok: true,
        problems: Vec::new(),
    })
}

/// Where the edited credential sits in the file (`None`: a new one), and
/// what is wrong with the form's name and fields before any value is read.
fn check_names(
    doc: &DocumentMut,
    path: &Path,
    original: Option<&str>,
    form: &CredentialForm,
) -> (Option<usize>, Vec<FormProblem>) {
    let fields = fields::of(form.kind);
    let mut problems = Vec::new();
    for (key, value) in &form.values {
        if !value.trim().is_empty() && !fields.iter().any(|f| f.key == key) {
            problems.push(FormProblem {
                field: Some(key.clone()),
                message: format!("{key} is not a field of a {} credential", form.kind),
            });
        }
    }
    let tables = credentials(doc);
    let existing = tables.and_then(|a| a.iter().position(|t| name_of(t) == original));
    let clash = tables.is_some_and(|a| a.iter().any(|t| name_of(t) == Some(form.name.as_str())));
    if original != Some(form.name.as_str()) && clash {
        problems.push(FormProblem {
            field: Some("name".into()),
            message: format!("there is already a credential named {:?}; pick another name", form.name),
        });
    }
    if let (Some(o), None) = (original, existing) {
        problems.push(FormProblem {
            field: None,
            message: format!(
                "{o:?} is no longer in {}; it was changed elsewhere, reopen the form",
                path.display()
            ),
        });
    }
    (existing, problems)
}

/// The `[[credential]]` table the form asks for. A field that runs a
/// program is kept exactly as the file (`before`) has it; a change to one
/// is refused by name, with where to make it instead.
fn form_table(path: &Path, form: &CredentialForm, before: Option<&Table>, problems: &mut Vec<FormProblem>) -> Table {
    let shell = form.values.get("shell").is_some_and(|v| v.trim() == "true");
    let mut table = Table::new();
    table.insert("name", toml_edit::value(form.name.as_str()));
    table.insert("kind", toml_edit::value(form.kind.as_str()));
    for f in fields::of(form.kind) {
        let asked = form.values.get(f.key).map(String::as_str).unwrap_or("");
        if f.runs_program {
            let old = before.and_then(|t| t.get(f.key));
            let was = old.and_then(item_text).unwrap_or_default();
            let same = match f.ty {
                FieldType::Bool => (asked.trim() == "true") == (was.trim() == "true"),
                _ => normalized(asked) == normalized(&was),
            };
            if !same {
                problems.push(FormProblem {
                    field: Some(f.key.into()),
                    message: format!(
                        "{} runs a program, so the window cannot set or change it: edit `{}` in {} (Evergreen applies the file as soon as it is saved)",
                        f.label,
                        f.key,
                        path.display()
                    ),
                });
            } else if let Some(item) = old {
                table.insert(f.key, item.clone());
            }
            continue;
        }
        match to_value(&f, asked, shell) {
            Ok(Some(v)) => {
                table.insert(f.key, Item::Value(v));
            }
            Ok(None) => {}
            Err(message) => problems.push(FormProblem {
                field: Some(f.key.into()),
                message: format!("{}: {message}", f.label),
            }),
        }
    }
    table
}

/// Removes the credential `name` from the config file.
pub fn delete(path: &Path, name: &str) -> Result<()> {
    let mut doc = read_doc(path)?;
    let arr = doc
        .get_mut("credential")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    let i = arr
        .iter()
        .position(|t| name_of(t) == Some(name))
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    arr.remove(i);
    let text = doc.to_string();
    config::validate(&text, path).map_err(|p| {
        Error::Config(format!(
            "removing {name:?} would leave {} invalid ({}); fix the file by hand",
            path.display(),
            p.first().map(|p| p.message.as_str()).unwrap_or("")
        ))
    })?;
    atomic_write(path, text.as_bytes(), 0o600)
}

/// Attaches each problem to the field of credential `name` whose text it points into.
fn place(text: &str, name: &str, problems: Vec<Problem>) -> Vec<FormProblem> {
    let spans = config::field_spans(text, name);
    problems
        .into_iter()
        .map(|p| {
            let field = p.span.as_ref().and_then(|s| {
                spans
                    .iter()
                    .find(|(_, r)| r.start <= s.start && s.start < r.end.max(r.start + 1))
                    .map(|(k, _)| k.to_string())
            });
            FormProblem {
                field,
                message: p.message,
            }
        })
        .collect()
}

/// The files a credential's config names, labelled by field: every path field
/// that is set, and the paths of list items written as `ID=path` (certctl's
/// targets). What the detail view's "Files" panel and `evergreen show` list.
pub fn files_of(form: &CredentialForm) -> Vec<(String, String)> {
    let Some(schema) = kinds().into_iter().find(|k| k.kind == form.kind) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &schema.fields {
        let Some(v) = form.values.get(&f.key).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            continue;
        };
        match f.field_type {
            FieldType::Path => out.push((f.label.clone(), v.to_string())),
            FieldType::List => {
                for line in v.lines() {
                    if let Some((id, path)) = line.split_once('=') {
                        let (id, path) = (id.trim(), path.trim());
                        if !id.is_empty()
                            && !id.contains(char::is_whitespace)
                            && (path.starts_with('/') || path.starts_with('~'))
                        {
                            out.push((format!("{}: {id}", f.label), path.to_string()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fields::FieldType;

    #[test]
    fn a_problem_inside_a_value_over_several_lines_is_placed_on_its_field() {
        // A kind with a list field and a text field; which one does not matter.
        let (kind, list, text) = Kind::all()
            .find_map(|k| {
                let fields = fields::of(k);
                let list = fields.iter().find(|f| f.ty == FieldType::List && !f.runs_program)?.key;
                let text = fields.iter().find(|f| f.ty == FieldType::Text)?.key;
                Some((k, list, text))
            })
            .expect("a kind with a list and a text field");
        let other = Kind::all().next().unwrap();
        let src = format!(
            "[[credential]]\nname = \"web\"\nkind = \"{other}\"\npath = \"/w.pem\"\n\n[[credential]]\nname = \"edge\"\nkind = \"{kind}\"\n{list} = [\n  \"t-1=/a.pem\",\n  \"bad\",\n]\n{text} = \"a\"\n"
        );
        let at = |needle: &str| {
            let i = src.find(needle).unwrap();
            Problem {
                span: Some(i..i + needle.len()),
                message: "m".into(),
            }
        };
        let placed = place(&src, "edge", vec![at("\"bad\""), at("\"a\"\n"), at("/w.pem")]);
        let fields: Vec<Option<&str>> = placed.iter().map(|p| p.field.as_deref()).collect();
        assert_eq!(
            fields,
            [Some(list), Some(text), None],
            "the second line of an array is still the array; another credential's line is none of this one's"
        );
    }
}
