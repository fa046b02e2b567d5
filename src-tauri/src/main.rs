//! `evergreen-app`: the tray app. `--hidden` starts it in the tray only (as
//! start-at-login does). `--window [--show NAME]` is the window alone, a
//! process of its own that reaches the running tray's engine (the tray starts
//! it as `--window --attached`). `demo-renew …` is the demo's renew command,
//! so the demo needs nothing but this binary.

use std::time::{Duration, SystemTime};

fn demo_renew(args: &[String]) -> i32 {
    let mut dir = None;
    let mut name = None;
    let mut lifetime = None;
    let mut flaky = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = it.next().cloned(),
            "--name" => name = it.next().cloned(),
            "--lifetime" => lifetime = it.next().and_then(|v| v.trim_end_matches('s').parse::<u64>().ok()),
            "--flaky" => flaky = true,
            other => {
                eprintln!("demo-renew: unexpected argument {other:?}");
                return 2;
            }
        }
    }
    let (Some(dir), Some(name), Some(secs)) = (dir, name, lifetime) else {
        eprintln!("demo-renew needs --dir DIR --name NAME --lifetime SECONDSs");
        return 2;
    };
    match evergreen_core::demo::reissue(dir.as_ref(), &name, Duration::from_secs(secs), flaky, SystemTime::now()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

const USAGE: &str = "run it without arguments, with --hidden to start in the tray only, or with --window [--show NAME] to open the window of a running Evergreen";

fn window_options(args: &[String]) -> Result<evergreen_app::WindowOptions, String> {
    let mut o = evergreen_app::WindowOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--attached" => o.attached = true,
            "--show" => match it.next() {
                Some(name) if evergreen_core::config::valid_name(name) => o.show = Some(name.clone()),
                Some(name) => {
                    return Err(format!(
                        "{name:?} is not a credential name; `evergreen status` lists them"
                    ))
                }
                None => return Err("--show needs a credential name; `evergreen status` lists them".into()),
            },
            other => return Err(format!("unexpected argument {other:?} after --window")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo-renew") => std::process::exit(demo_renew(&args[1..])),
        Some("--version") => println!("evergreen-app {}", env!("CARGO_PKG_VERSION")),
        Some("--hidden") if args.len() == 1 => evergreen_app::run_tray(true),
        None => evergreen_app::run_tray(false),
        Some("--window") => match window_options(&args[1..]) {
            Ok(o) => evergreen_app::run_window(o),
            Err(e) => {
                eprintln!("evergreen-app: {e}; {USAGE}");
                std::process::exit(2);
            }
        },
        Some(other) => {
            eprintln!("evergreen-app: unexpected argument {other:?}; {USAGE}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::window_options;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn window_arguments_are_checked() {
        let o = window_options(&args(&["--attached", "--show", "web"])).unwrap();
        assert!(o.attached);
        assert_eq!(o.show.as_deref(), Some("web"));
        let e = window_options(&args(&["--show"])).unwrap_err();
        assert!(e.contains("needs a credential name"), "{e}");
        let e = window_options(&args(&["--show", "../etc"])).unwrap_err();
        assert!(e.contains("is not a credential name"), "{e}");
        let e = window_options(&args(&["--bogus"])).unwrap_err();
        assert!(e.contains("\"--bogus\""), "{e}");
    }
}
