//! House rules a refactor must keep, checked on the source itself.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code before its `#[cfg(test)]` module: what ships.
fn shipped(p: &Path) -> String {
    without_test_items(&std::fs::read_to_string(p).unwrap())
}

/// `text` without its `#[cfg(test)]` items (a `mod tests { … }`, a `mod
/// testing;`, a test-only `fn` or `impl`), each replaced by as many empty
/// lines, so the rest keeps its line numbers. Only the items go: a file
/// whose test module sits near its top keeps everything after it.
fn without_test_items(text: &str) -> String {
    const ATTR: &str = "#[cfg(test)]";
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = text[at..].find(ATTR) {
        let start = at + found;
        out.push_str(&text[at..start]);
        let end = item_end(b, start + ATTR.len());
        out.extend(text[start..end].chars().filter(|c| *c == '\n'));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where the item starting at `i` ends: after its `;`, or after the `}`
/// that closes its first `{`, skipping strings, characters and comments.
fn item_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                // A raw string's hashes are before the quote: r#"…"#.
                let mut hashes = 0;
                while i > hashes && b[i - hashes - 1] == b'#' {
                    hashes += 1;
                }
                let raw = i > hashes && b[i - hashes - 1] == b'r';
                i += 1;
                while i < b.len() {
                    if !raw && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'"'
                        && (!raw || b[i + 1..].iter().take(hashes).filter(|c| **c == b'#').count() == hashes)
                    {
                        i += 1 + if raw { hashes } else { 0 };
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => {
                i += 3;
                continue;
            }
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                while i + 1 < b.len() && b[i + 1] != b'\'' {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b';' if depth == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

#[test]
fn only_test_items_are_left_out_of_the_house_rules() {
    let text = "use a;\n#[cfg(test)]\nmod testing;\nfn run() {}\n#[cfg(test)]\nmod tests {\n    fn f() -> &'static str { \"}\" }\n    fn g() -> char { '{' }\n    // }\n    fn h() -> &'static str { r#\"}\"# }\n}\nfn after() {}\n";
    let kept = without_test_items(text);
    assert!(kept.contains("fn run() {}") && kept.contains("fn after() {}"), "{kept}");
    assert!(!kept.contains("testing") && !kept.contains("fn f"), "{kept}");
    assert_eq!(kept.lines().count(), text.lines().count(), "line numbers are kept");
    assert_eq!(
        kept.lines().position(|l| l == "fn after() {}"),
        text.lines().position(|l| l == "fn after() {}")
    );
}

/// Wall-clock time comes from the injected clock, so tests can move it:
/// only `clock/` (the real clock and its alarm) and the fuzzing entry points read it.
#[test]
fn only_the_clock_reads_the_wall_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "{files:?}");
    let mut offenders = Vec::new();
    for f in files {
        let name = f.strip_prefix(&src).unwrap().display().to_string();
        if name.starts_with("clock/") || name == "fuzzing.rs" {
            continue;
        }
        for (i, line) in shipped(&f).lines().enumerate() {
            if line.contains("SystemTime::now()") && !line.trim_start().starts_with("//") {
                offenders.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read the time from the scheduler's clock (RenewRequest::now, Source::beat's now) instead:\n{}",
        offenders.join("\n")
    );
}

/// Checking a config is a pure function of its text and the
/// `Surroundings` handed in: the validator's rooms read no environment
/// variable, no file and no machine fact themselves.
#[test]
fn validation_reads_nothing_from_outside() {
    // config/mod.rs (`load`) and surroundings.rs are the edge that reads.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let mut files: Vec<PathBuf> = ["raw.rs", "diagnostics.rs", "fields.rs"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    sources(&dir.join("validate"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("validate/vault.rs")), "{files:?}");
    // Each kind's own checks, in its definition (`sources/<kind>/def.rs`).
    let kinds = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sources");
    for e in std::fs::read_dir(&kinds).unwrap() {
        let def = e.unwrap().path().join("def.rs");
        if def.exists() {
            files.push(def);
        }
    }
    assert_eq!(
        files.iter().filter(|f| f.ends_with("def.rs")).count(),
        evergreen_core::model::Kind::all().count(),
        "every kind's definition is checked: {files:?}"
    );
    let reaches = [
        "std::env",
        "std::fs",
        "fs::read",
        "crate::host",
        "Paths::from_env",
        "read_ca_bundle",
        "read_file",
    ];
    let mut offenders = Vec::new();
    for f in &files {
        for (i, line) in shipped(f).lines().enumerate() {
            if let Some(r) = reaches.iter().find(|r| line.contains(*r)) {
                if !line.trim_start().starts_with("//") {
                    offenders.push(format!("{}:{}: {r}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "take it from the validator's `around` (config::Surroundings) instead:\n{}",
        offenders.join("\n")
    );
}

/// docs/configuration.md documents each kind's fields: exactly the fields
/// of its table (in its own section, the shared Vault section or the section
/// every kind has), and "yes" in the required column exactly where the table
/// requires the field.
#[test]
fn the_configuration_docs_list_each_kinds_fields_as_the_table_does() {
    use evergreen_core::config::fields;
    use evergreen_core::model::Kind;
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")).unwrap();
    // Section title → rows of (keys, required column).
    type Row = (Vec<String>, String);
    let mut sections: Vec<(String, Vec<Row>)> = Vec::new();
    for line in doc.lines() {
        if let Some(title) = line.strip_prefix("## ").or_else(|| line.strip_prefix("### ")) {
            sections.push((title.to_string(), Vec::new()));
        } else if line.starts_with("| `") {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let keys = cells[1]
                .split(',')
                .map(|k| k.trim().trim_matches('`').to_string())
                .collect();
            if let Some((_, rows)) = sections.last_mut() {
                rows.push((keys, cells[2].to_string()));
            }
        }
    }
    let rows_of = |title: &str| -> Vec<Row> {
        sections
            .iter()
            .filter(|(t, _)| t.starts_with(title))
            .flat_map(|(_, r)| r.clone())
            .collect()
    };
    let mut wrong = Vec::new();
    for kind in Kind::all() {
        let mut rows = rows_of(&format!("`kind = \"{}\"`", kind.as_str()));
        rows.extend(rows_of("`[[credential]]`: fields every kind has"));
        // The kinds that share the Vault connection's fields.
        if fields::of(kind).iter().any(|f| f.key == "namespace") {
            rows.extend(rows_of("Vault and OpenBao: fields the Vault kinds share"));
        }
        let documented: Vec<(String, String)> = rows
            .iter()
            .flat_map(|(keys, req)| keys.iter().map(move |k| (k.clone(), req.clone())))
            .filter(|(k, _)| k != "name" && k != "kind")
            .collect();
        let table = fields::of(kind);
        for f in &table {
            match documented.iter().find(|(k, _)| k == f.key) {
                None => wrong.push(format!("{}: `{}` is not documented", kind.as_str(), f.key)),
                Some((_, req)) if (req == "yes") != f.required => wrong.push(format!(
                    "{}: `{}` is {} in the table but \"{req}\" in the docs",
                    kind.as_str(),
                    f.key,
                    if f.required { "required" } else { "optional" }
                )),
                Some(_) => {}
            }
        }
        for (k, _) in &documented {
            if !table.iter().any(|f| f.key == k) {
                wrong.push(format!(
                    "{}: the docs list `{k}`, which it does not have",
                    kind.as_str()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md and the field table disagree:\n{}",
        wrong.join("\n")
    );
}

/// Shipped files: the core, the CLI, the tray app and the window's code
/// (not tests, not the generated bindings, not the browser preview and the
/// helpers only it and the tests use, not the fuzzing entry points), each
/// with its comments left out.
fn shipped_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in ["crates/core/src", "crates/cli/src", "src-tauri/src"] {
        let mut files = Vec::new();
        sources(&root.join(dir), &mut files);
        for f in files {
            let name = f.strip_prefix(&root).unwrap().display().to_string();
            if name.ends_with("/fuzzing.rs") || name.ends_with("/testing.rs") {
                continue;
            }
            out.push((name, without_comments(&shipped(&f), &['"'])));
        }
    }
    let mut ui = Vec::new();
    ui_sources(&root.join("ui/src"), &mut ui);
    for f in ui {
        let name = f.strip_prefix(&root).unwrap().display().to_string();
        let skip = name.ends_with(".test.ts")
            || name.contains("/test/")
            || ["bindings.ts", "preview.ts", "decided.ts"]
                .iter()
                .any(|n| name.ends_with(n));
        if !skip {
            out.push((
                name,
                without_comments(&std::fs::read_to_string(&f).unwrap(), &['"', '\'', '`']),
            ));
        }
    }
    out
}

fn ui_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            ui_sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "ts" || x == "svelte") {
            out.push(p);
        }
    }
}

/// `text` without its `//`, `/* */` and `<!-- -->` comments; strings are
/// kept whole (a kind named in a string is named, and `https://` in one is
/// no comment). `quotes`: the characters that open a string (Rust's `'` is
/// also a lifetime, so only TypeScript counts it).
fn without_comments(text: &str, quotes: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let rest = &text[i..];
        let skip_to = |end: &str, from: usize| rest[from..].find(end).map_or(text.len(), |e| i + from + e + end.len());
        let until = if rest.starts_with("//") {
            Some(rest.find('\n').map_or(text.len(), |e| i + e))
        } else if rest.starts_with("/*") {
            Some(skip_to("*/", 2))
        } else if rest.starts_with("<!--") {
            Some(skip_to("-->", 4))
        } else {
            None
        };
        if let Some(end) = until {
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
            continue;
        }
        out.push(c);
        if quotes.contains(&c) {
            while let Some((_, s)) = chars.next() {
                out.push(s);
                if s == '\\' {
                    if let Some((_, e)) = chars.next() {
                        out.push(e);
                    }
                } else if s == c {
                    break;
                }
            }
        }
    }
    out
}

/// A kind is its module plus its lines in the registry: no other shipped
/// file names it (its name, or its CamelCase in a type), except at most one
/// that must (listed with its reason). A fact about a kind
/// written elsewhere (a `match` on kinds, `kind === "wrenn"` in the window,
/// a label kept in the tray) names it, and fails here.
#[test]
fn a_kind_is_named_only_by_its_module_and_the_registry() {
    // The one more file a kind may need, and why: the demo writes the
    // certificate files it watches and renews.
    const MUST: &[(&str, &str)] = &[("x509_file", "crates/core/src/demo.rs")];
    let files = shipped_files();
    assert!(files.len() > 60, "{}", files.len());
    let mut wrong = Vec::new();
    for kind in evergreen_core::model::Kind::all() {
        let name = kind.as_str();
        let camel: String = name
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect();
        let own = format!("crates/core/src/sources/{name}/");
        let naming: Vec<&String> = files
            .iter()
            .filter(|(f, _)| !f.starts_with(&own))
            .filter(|(_, text)| text.contains(name) || text.contains(&camel))
            .map(|(f, _)| f)
            .collect();
        let beyond: Vec<&&String> = naming
            .iter()
            .filter(|f| f.as_str() != "crates/core/src/sources/mod.rs")
            .filter(|f| !MUST.contains(&(name, f.as_str())))
            .collect();
        if !naming.iter().any(|f| f.as_str() == "crates/core/src/sources/mod.rs") {
            wrong.push(format!(
                "{name}: the registry (crates/core/src/sources/mod.rs) does not list it"
            ));
        }
        if !beyond.is_empty() {
            wrong.push(format!(
                "{name} is named in {beyond:?}: its facts belong in {own}def.rs"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn comments_are_left_out_and_code_is_kept() {
    let text = "let a = \"https://x\"; // wrenn\n/* certctl */ let b = 1; <!-- nixfleet -->\nlet c = 'x//y';";
    let kept = without_comments(text, &['"', '\'']);
    assert!(kept.contains("'x//y'"), "{kept}");
    assert!(
        kept.contains("https://x") && kept.contains("let b") && kept.contains("let c"),
        "{kept}"
    );
    assert!(
        !kept.contains("wrenn") && !kept.contains("certctl") && !kept.contains("nixfleet"),
        "{kept}"
    );
}

/// The promise checklist names tests as `path::name`; each must still be
/// there, so a move or a rename cannot leave a promise held by nothing.
#[test]
fn every_test_the_docs_name_exists_where_they_say() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for cell in doc.split('`') {
        let Some((file, name)) = cell.split_once("::") else {
            continue;
        };
        if !file.ends_with(".rs") || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        seen += 1;
        match std::fs::read_to_string(root.join(file)) {
            Err(_) => missing.push(format!("{file} (no such file)")),
            Ok(text) if !text.contains(&format!("fn {name}(")) => missing.push(format!("{file}::{name}")),
            Ok(_) => {}
        }
    }
    assert!(seen > 50, "only {seen} test names found in the checklist");
    assert!(
        missing.is_empty(),
        "docs/architecture.md names tests that are not there:\n{}",
        missing.join("\n")
    );
}

/// The tray app's modules lean on each other one way only: a module that
/// needs the tray process's state reaches it through `state::AppExt`, not
/// through the module that started it.
#[test]
fn the_tray_apps_modules_have_no_cycles() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src-tauri/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let module = |p: &Path| p.file_stem().unwrap().to_string_lossy().to_string();
    let names: BTreeSet<String> = files.iter().map(|f| module(f)).collect();
    assert!(names.contains("tray") && names.contains("state"), "{names:?}");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let me = module(f);
        if me == "lib" || me == "main" {
            continue;
        }
        let text = shipped(f);
        let deps = uses.entry(me.clone()).or_default();
        for other in &names {
            let named = [format!("crate::{other}::"), format!("crate::{other};")];
            let grouped = text
                .lines()
                .filter(|l| l.trim_start().starts_with("use crate::{"))
                .any(|l| l.split(['{', '}', ',', ' ']).any(|w| w == other));
            if other != &me && (named.iter().any(|n| text.contains(n)) || grouped) {
                deps.insert(other.clone());
            }
        }
    }
    // Depth-first: a module met again on the current path is a cycle.
    fn visit(
        m: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if !done.insert(m.to_string()) {
            return None;
        }
        path.push(m.to_string());
        for d in uses.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, uses, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in uses.keys() {
        if let Some(cycle) = visit(m, &uses, &mut Vec::new(), &mut done) {
            panic!("src-tauri modules form a cycle: {}", cycle.join(" → "));
        }
    }
    assert!(
        uses["host"].contains("tray") && uses["tray"].contains("state"),
        "{uses:?}"
    );
}
