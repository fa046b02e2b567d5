//! The tray icon as a tray host sees it: the StatusNotifierItem the app
//! registered with the desktop's watcher, the pixels of its icon, and its
//! menu over `com.canonical.dbusmenu`, whose items can be clicked as a panel
//! clicks them.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedValue, Value};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const ITEM: &str = "org.kde.StatusNotifierItem";
const MENU: &str = "com.canonical.dbusmenu";
/// Where appindicator (which Tauri's tray uses on Linux) puts its items.
const AYATANA: &str = "/org/ayatana/NotificationItem";

/// One entry of the tray menu.
#[derive(Debug, Clone)]
pub struct MenuItem {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub children: Vec<MenuItem>,
}

impl MenuItem {
    /// This item and everything below it, depth first.
    pub fn all(&self) -> Vec<&MenuItem> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.all());
        }
        out
    }

    /// The first item below this one whose label starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Option<&MenuItem> {
        self.all().into_iter().skip(1).find(|i| i.label.starts_with(prefix))
    }

    /// Every label below this one.
    pub fn labels(&self) -> Vec<String> {
        self.all().into_iter().skip(1).map(|i| i.label.clone()).collect()
    }
}

/// dbusmenu's `(ia{sv}av)`: an item's id, its properties and its children.
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

pub struct Tray {
    conn: zbus::Connection,
    dest: String,
    path: String,
}

/// Plain GTK mnemonics ("_Open") are shown without the underscore.
fn unmnemonic(s: &str) -> String {
    s.replace("__", "\u{0}").replace('_', "").replace('\u{0}', "_")
}

fn unwrap_variant<'a>(v: &'a Value<'a>) -> &'a Value<'a> {
    match v {
        Value::Value(inner) => unwrap_variant(inner),
        other => other,
    }
}

fn item(id: i32, props: HashMap<String, &Value<'_>>, children: &[Value<'_>]) -> MenuItem {
    let label = match props.get("label").map(|v| unwrap_variant(v)) {
        Some(Value::Str(s)) => unmnemonic(s.as_str()),
        _ => String::new(),
    };
    let enabled = !matches!(
        props.get("enabled").map(|v| unwrap_variant(v)),
        Some(Value::Bool(false))
    );
    let children = children
        .iter()
        .filter_map(|c| match unwrap_variant(c) {
            Value::Structure(s) => {
                let f = s.fields();
                let (Value::I32(id), Value::Dict(d), Value::Array(a)) = (&f[0], &f[1], &f[2]) else {
                    return None;
                };
                let props = d
                    .iter()
                    .filter_map(|(k, v)| match k {
                        Value::Str(k) => Some((k.to_string(), v)),
                        _ => None,
                    })
                    .collect();
                Some(item(*id, props, a.inner()))
            }
            _ => None,
        })
        .collect();
    MenuItem {
        id,
        label,
        enabled,
        children,
    }
}

impl Tray {
    /// Waits until a tray icon has registered with the watcher on `bus`.
    pub async fn find(bus: &str, timeout: Duration) -> Tray {
        let conn = zbus::connection::Builder::address(bus)
            .unwrap()
            .build()
            .await
            .expect("the test bus accepts connections");
        let start = Instant::now();
        loop {
            let reply = conn
                .call_method(
                    Some(WATCHER),
                    "/StatusNotifierWatcher",
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &(WATCHER, "RegisteredStatusNotifierItems"),
                )
                .await;
            let items: Vec<String> = reply
                .ok()
                .and_then(|m| m.body().deserialize::<OwnedValue>().ok())
                .and_then(|v| Vec::<String>::try_from(v).ok())
                .unwrap_or_default();
            if let Some(first) = items.first() {
                // "BUS-NAME" or "BUS-NAME/PATH", as the item registered itself.
                let (dest, path) = match first.find('/') {
                    Some(i) => (first[..i].to_string(), first[i..].to_string()),
                    None => (first.clone(), String::new()),
                };
                let mut tray = Tray {
                    conn: conn.clone(),
                    dest,
                    path,
                };
                if tray.path.is_empty() {
                    tray.path = tray.item_path().await;
                }
                return tray;
            }
            assert!(start.elapsed() < timeout, "no tray icon registered within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The item's object path when it registered only its bus name.
    async fn item_path(&self) -> String {
        let xml: String = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                AYATANA,
                Some("org.freedesktop.DBus.Introspectable"),
                "Introspect",
                &(),
            )
            .await
            .ok()
            .and_then(|m| m.body().deserialize().ok())
            .unwrap_or_default();
        match xml.split("<node name=\"").nth(1).and_then(|r| r.split('"').next()) {
            Some(node) => format!("{AYATANA}/{node}"),
            None => "/StatusNotifierItem".into(),
        }
    }

    async fn property(&self, path: &str, interface: &str, name: &str) -> OwnedValue {
        self.conn
            .call_method(
                Some(self.dest.as_str()),
                path,
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(interface, name),
            )
            .await
            .unwrap_or_else(|e| panic!("{interface}.{name}: {e}"))
            .body()
            .deserialize()
            .unwrap()
    }

    /// The icon's pixels (width, height, RGBA), read from the file the item names.
    pub async fn icon(&self) -> (u32, u32, Vec<u8>) {
        let name = String::try_from(self.property(&self.path, ITEM, "IconName").await).unwrap();
        let theme = String::try_from(self.property(&self.path, ITEM, "IconThemePath").await).unwrap_or_default();
        let file = if name.starts_with('/') {
            name.into()
        } else {
            Path::new(&theme).join(format!("{name}.png"))
        };
        rgba(&file)
    }

    async fn menu_path(&self) -> String {
        let v = self.property(&self.path, ITEM, "Menu").await;
        zbus::zvariant::OwnedObjectPath::try_from(v).unwrap().to_string()
    }

    /// The whole menu, as a panel would show it now.
    pub async fn menu(&self) -> MenuItem {
        let path = self.menu_path().await;
        let reply = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                path.as_str(),
                Some(MENU),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .expect("the tray menu answers GetLayout");
        let body = reply.body();
        let (_revision, (id, props, children)): (u32, Layout) = body.deserialize().unwrap();
        let props = props.iter().map(|(k, v)| (k.clone(), &**v)).collect();
        let children: Vec<Value<'_>> = children.iter().map(|c| (**c).try_clone().unwrap()).collect();
        item(id, props, &children)
    }

    /// Clicks the menu item whose label starts with `prefix` (below `under`,
    /// if given), waiting for it to be there and enabled: the app rebuilds
    /// its menu when what it shows changes.
    pub async fn click(&self, under: Option<&str>, prefix: &str) {
        let start = Instant::now();
        let id = loop {
            let menu = self.menu().await;
            let parent = match under {
                Some(u) => menu.find(u),
                None => Some(&menu),
            };
            if let Some(target) = parent.and_then(|p| p.find(prefix)).filter(|t| t.enabled) {
                break target.id;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no enabled menu item {prefix:?} under {under:?} in {menu:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let path = self.menu_path().await;
        self.conn
            .call_method(
                Some(self.dest.as_str()),
                path.as_str(),
                Some(MENU),
                "Event",
                &(id, "clicked", Value::I32(0), 0u32),
            )
            .await
            .unwrap_or_else(|e| panic!("clicking {prefix:?}: {e}"));
    }

    /// Waits until the menu satisfies `ok`, and returns it.
    pub async fn wait_menu(&self, what: &str, timeout: Duration, ok: impl Fn(&MenuItem) -> bool) -> MenuItem {
        let start = Instant::now();
        loop {
            let m = self.menu().await;
            if ok(&m) {
                return m;
            }
            assert!(
                start.elapsed() < timeout,
                "the tray menu never showed {what}: {:?}",
                m.labels()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the icon shows the picture in `png`.
    pub async fn wait_icon(&self, png: &Path, timeout: Duration) {
        let want = rgba(png);
        let start = Instant::now();
        loop {
            if self.icon().await == want {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "the tray icon never became {}",
                png.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A PNG file's pixels as 8-bit RGBA.
pub fn rgba(file: &Path) -> (u32, u32, Vec<u8>) {
    let f = std::fs::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut d = png::Decoder::new(std::io::BufReader::new(f));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}
