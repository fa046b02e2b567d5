//! Generates the Tauri context and one permission per app command, so the
//! capability file can allow exactly Evergreen's own commands.

const COMMANDS: &[&str] = &[
    "snapshot",
    "renew",
    "renew_all_due",
    "history",
    "log_lines",
    "set_paused",
    "pause_notifications",
    "resume_notifications",
    "kinds",
    "credential_form",
    "save_credential",
    "delete_credential",
    "register",
    "login",
    "discover",
    "add_found",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}
