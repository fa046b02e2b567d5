//! The few W3C WebDriver calls the end-to-end tests make, over plain HTTP to
//! `tauri-driver` on loopback.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key identifying an element in WebDriver replies.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    /// Opens a session that launches `application` (the app binary) with `args`.
    pub async fn start(driver: &str, application: &Path, args: &[&str]) -> Session {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application, "args": args}
        }}});
        let start = Instant::now();
        let reply: Value = loop {
            match http.post(format!("{driver}/session")).json(&caps).send().await {
                Ok(r) => break r.json().await.unwrap(),
                Err(e) if start.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("tauri-driver refused the session: {e}"),
            }
        };
        let id = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {reply}"))
            .to_string();
        Session {
            http,
            base: format!("{driver}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    /// The window's outer size in CSS pixels (W3C "Get Window Rect").
    pub async fn window_size(&self) -> (i64, i64) {
        let r = self.call(reqwest::Method::GET, "/window/rect", None).await;
        (r["width"].as_i64().unwrap_or(0), r["height"].as_i64().unwrap_or(0))
    }

    /// The window's position on the screen (W3C "Get Window Rect").
    pub async fn window_position(&self) -> (i64, i64) {
        let r = self.call(reqwest::Method::GET, "/window/rect", None).await;
        (r["x"].as_i64().unwrap_or(-1), r["y"].as_i64().unwrap_or(-1))
    }

    /// Resizes the window (W3C "Set Window Rect"), as a user dragging its edge.
    pub async fn set_window_size(&self, width: i64, height: i64) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Moves the window (W3C "Set Window Rect"), as a user dragging its title bar.
    pub async fn set_window_position(&self, x: i64, y: i64) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({ "x": x, "y": y })))
            .await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs a script that ends by calling its last argument with its value.
    pub async fn script_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    /// Waits for an element matching `css` and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if start.elapsed() >= timeout {
                let page = self
                    .script("return document.location.href + '\\n' + document.body.innerText")
                    .await;
                panic!("no element {css} within {timeout:?}; the page shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into an input, as a user would (input events fire).
    pub async fn send_keys(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn clear(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, element: &str) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(String::from)
    }

    /// A PNG of the window, saved to `path`.
    pub async fn screenshot(&self, path: &Path) {
        self.save_png("/screenshot", path).await;
    }

    /// A PNG of one element (scrolled into view), saved to `path`.
    pub async fn element_screenshot(&self, element: &str, path: &Path) {
        self.save_png(&format!("/element/{element}/screenshot"), path).await;
    }

    async fn save_png(&self, endpoint: &str, path: &Path) {
        // WebKitWebDriver never answers for a page without a scrollbar (a
        // short list): while it is taken, the page is a pixel taller than
        // the window (hiding the scrollbar again brings the hang back).
        self.script("document.documentElement.style.minHeight = 'calc(100vh + 1px)'")
            .await;
        let v = self.call(reqwest::Method::GET, endpoint, None).await;
        self.script("document.documentElement.style.minHeight = ''").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
