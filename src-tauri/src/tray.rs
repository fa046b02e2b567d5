//! The tray icon: its picture follows the worst state, its tooltip is a
//! one-line summary, its menu offers what a user does without the window.

use std::sync::Mutex;

use evergreen_core::model::{summary, CredentialStatus, Health, PauseOffer};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_autostart::ManagerExt;

use crate::models::Snapshot;
use crate::state::AppExt;

const TRAY_ID: &str = "evergreen";

/// What the icon and the menu were last built from.
#[derive(Default)]
struct Built(Mutex<Shown>);

#[derive(Default)]
struct Shown {
    health: Option<Health>,
    menu: Option<String>,
    /// The menu's summary line, retitled in place as time passes (a rebuilt
    /// menu would close under a user who has it open).
    summary: Option<(MenuItem<Wry>, String)>,
}

fn icon(health: Health) -> Image<'static> {
    let bytes: &'static [u8] = match health {
        Health::Healthy => include_bytes!("../../icons/tray-healthy.png"),
        Health::Attention => include_bytes!("../../icons/tray-attention.png"),
        Health::Failing => include_bytes!("../../icons/tray-failing.png"),
        Health::Stopped => include_bytes!("../../icons/tray-stopped.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNG files built into the binary")
}

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let snap = app.snapshot();
    let (menu, summary) = menu(app, &snap)?;
    app.manage(Built(Mutex::new(Shown {
        health: Some(snap.worst),
        menu: Some(signature(app, &snap)),
        summary: Some((summary, summary_of(&snap))),
    })));
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(snap.worst))
        .tooltip(tooltip(&snap))
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Brings the tray up to date with the engine.
pub fn refresh(app: &AppHandle) {
    update(app, &app.snapshot());
}

/// Brings the tray up to date with a snapshot; the icon and the menu are
/// only rebuilt when what they show changed (snapshots follow every event).
pub fn update(app: &AppHandle, snap: &Snapshot) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let built = app.state::<Built>();
    let mut last = built.0.lock().unwrap_or_else(|p| p.into_inner());
    if last.health != Some(snap.worst) {
        let _ = tray.set_icon(Some(icon(snap.worst)));
        last.health = Some(snap.worst);
    }
    let _ = tray.set_tooltip(Some(tooltip(snap)));
    let key = signature(app, snap);
    let line = summary_of(snap);
    if last.menu.as_deref() != Some(key.as_str()) {
        match menu(app, snap) {
            Ok((m, summary)) => {
                let _ = tray.set_menu(Some(m));
                last.menu = Some(key);
                last.summary = Some((summary, line));
            }
            Err(e) => tracing::warn!("could not rebuild the tray menu: {e}"),
        }
    } else if let Some((item, shown)) = last.summary.as_mut().filter(|(_, shown)| *shown != line) {
        let _ = item.set_text(&line);
        *shown = line;
    }
}

/// "Evergreen: 4 credentials, next renewal in 3h".
fn tooltip(snap: &Snapshot) -> String {
    format!("Evergreen: {}", summary_of(snap))
}

fn summary_of(snap: &Snapshot) -> String {
    match &snap.config_problem {
        Some(_) => "the config has a problem; open Evergreen to see it".into(),
        None => summary(&snap.credentials, std::time::SystemTime::now()),
    }
}

fn signature(app: &AppHandle, snap: &Snapshot) -> String {
    let mut s = format!(
        "{}|{}|{}|",
        snap.config_problem.is_some(),
        snap.notifications_paused_until.is_some(),
        app.autolaunch().is_enabled().unwrap_or(false)
    );
    for c in &snap.credentials {
        s.push_str(&format!("{}:{}:{:?};", c.name, c.state_label, c.offers));
    }
    s
}

/// The menu, and its summary line to retitle later.
fn menu(app: &AppHandle, snap: &Snapshot) -> tauri::Result<(Menu<Wry>, MenuItem<Wry>)> {
    let menu = Menu::new(app)?;
    // Linux tray hosts show no tooltips (StatusNotifierItem via appindicator
    // has none), so the summary is also the menu's first, inert line.
    let summary = item(app, "summary", &summary_of(snap), false)?;
    menu.append(&summary)?;
    menu.append(&item(app, "open", "Open Evergreen", true)?)?;
    if snap.demo {
        menu.append(&item(app, "demo", "Demo mode: nothing real is touched", false)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    for c in &snap.credentials {
        menu.append(&credential_menu(app, c)?)?;
    }
    if !snap.credentials.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
    }
    menu.append(&item(app, "renew_all", "Renew all due", true)?)?;
    menu.append(&match snap.notifications_paused_until {
        Some(_) => item(app, "resume_notes", "Resume notifications", true)?,
        None => item(app, "pause_notes", "Pause notifications for 1 hour", true)?,
    })?;
    let at_login = app.autolaunch().is_enabled().unwrap_or(false);
    menu.append(&CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        at_login,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&item(app, "quit", "Quit Evergreen", true)?)?;
    Ok((menu, summary))
}

/// One credential's submenu: renew, pause or resume, details.
fn credential_menu(app: &AppHandle, c: &CredentialStatus) -> tauri::Result<Submenu<Wry>> {
    let name = &c.name;
    let sub = Submenu::with_id(app, format!("c:{name}"), format!("{name} — {}", c.state_label), true)?;
    sub.append(&item(app, &format!("renew:{name}"), "Renew now", c.offers.renew)?)?;
    sub.append(&match c.offers.pause {
        Some(PauseOffer::Resume) => item(app, &format!("resume:{name}"), "Resume", true)?,
        Some(PauseOffer::Pause) => item(app, &format!("pause:{name}"), "Pause", true)?,
        None => item(app, &format!("pause:{name}"), "Pause", false)?,
    })?;
    sub.append(&item(app, &format!("show:{name}"), "Details…", true)?)?;
    Ok(sub)
}

fn item(app: &AppHandle, id: &str, label: &str, enabled: bool) -> tauri::Result<MenuItem<Wry>> {
    MenuItem::with_id(app, id, label, enabled, None::<&str>)
}

fn on_menu(app: &AppHandle, id: &str) {
    let Some(steer) = app.steer() else {
        match id {
            "open" => crate::launch::open(app, None),
            "quit" => app.exit(0),
            _ => {}
        }
        return;
    };
    let (verb, name) = id.split_once(':').unwrap_or((id, ""));
    let name = name.to_string();
    // The engine announces what each did; every face redraws on its event.
    let spawn = |f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>| {
        tauri::async_runtime::spawn(async move {
            if let Err(e) = f.await {
                tracing::warn!("{e}");
            }
        });
    };
    match verb {
        "open" => crate::launch::open(app, None),
        "show" => crate::launch::open(app, Some(name)),
        // A failed renewal is the engine's to tell (its state, a notification).
        "renew" => {
            tauri::async_runtime::spawn(async move {
                let _ = steer.renew(&name).await;
            });
        }
        "pause" | "resume" => {
            let pause = verb == "pause";
            spawn(Box::pin(async move { steer.set_paused(&name, pause).await }));
        }
        "renew_all" => spawn(Box::pin(async move { steer.renew_all_due().await })),
        "pause_notes" => spawn(Box::pin(async move { steer.pause_notifications(60).await })),
        "resume_notes" => spawn(Box::pin(async move { steer.resume_notifications().await })),
        "autostart" => {
            let a = app.autolaunch();
            let r = if a.is_enabled().unwrap_or(false) {
                a.disable()
            } else {
                a.enable()
            };
            if let Err(e) = r {
                tracing::warn!("could not change start at login: {e}");
            }
            refresh(app);
        }
        "quit" => app.exit(0),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The icon at 16 px as a shape alone: each pixel lighter or darker than
    /// the icon's own mean (so its colour and brightness do not count).
    fn shape_at_16(health: Health) -> Vec<bool> {
        let img = icon(health);
        let (w, h) = (img.width() as usize, img.height() as usize);
        let rgba = img.rgba();
        let luma = |x: usize, y: usize| {
            let p = &rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
            let a = f64::from(p[3]) / 255.0;
            let l = 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]);
            l * a + 255.0 * (1.0 - a)
        };
        let (bw, bh) = (w / 16, h / 16);
        let cells: Vec<f64> = (0..256)
            .map(|i| {
                let (cx, cy) = (i % 16, i / 16);
                let mut sum = 0.0;
                for y in cy * bh..(cy + 1) * bh {
                    for x in cx * bw..(cx + 1) * bw {
                        sum += luma(x, y);
                    }
                }
                sum / (bw * bh) as f64
            })
            .collect();
        let mean = cells.iter().sum::<f64>() / cells.len() as f64;
        cells.iter().map(|c| *c > mean).collect()
    }

    #[test]
    fn each_tray_icon_has_a_shape_of_its_own_at_16_px() {
        let all = [Health::Healthy, Health::Attention, Health::Failing, Health::Stopped];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let differ = shape_at_16(*a)
                    .iter()
                    .zip(shape_at_16(*b))
                    .filter(|(x, y)| **x != *y)
                    .count();
                assert!(
                    differ >= 8,
                    "{a:?} and {b:?} differ in {differ} of 256 pixels once colour is gone: tell them apart by shape"
                );
            }
        }
    }
}
