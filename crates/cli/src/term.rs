//! What the terminal can show: the bar and marks in UTF-8, or plain ASCII
//! where the locale says the terminal is not UTF-8 (LANG=C on a console).

/// The characters a command draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    pub ok: &'static str,
    pub failed: &'static str,
    pub full: &'static str,
    pub empty: &'static str,
    pub ellipsis: &'static str,
}

pub const UTF8: Marks = Marks {
    ok: "✓",
    failed: "✗",
    full: "█",
    empty: "░",
    ellipsis: "…",
};

pub const ASCII: Marks = Marks {
    ok: "ok",
    failed: "FAILED",
    full: "#",
    empty: ".",
    ellipsis: "...",
};

/// Whether the locale's character set is UTF-8: the first of LC_ALL,
/// LC_CTYPE and LANG that is set decides, as for any C program.
pub fn utf8_locale(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = ["LC_ALL", "LC_CTYPE", "LANG"]
        .into_iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()));
    match set {
        Some(v) => {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        }
        // Nothing set is the C locale.
        None => false,
    }
}

/// The marks for this process's locale.
pub fn marks() -> Marks {
    if utf8_locale(|k| std::env::var(k).ok()) {
        UTF8
    } else {
        ASCII
    }
}

/// A ten-cell bar for the remaining fraction, with its percentage.
pub fn bar(fraction: Option<f64>, m: Marks) -> String {
    match fraction.filter(|f| f.is_finite()) {
        Some(f) => {
            let f = f.clamp(0.0, 1.0);
            let filled = ((f * 10.0).round() as usize).min(10);
            format!(
                "{}{} {:>3.0}%",
                m.full.repeat(filled),
                m.empty.repeat(10 - filled),
                f * 100.0
            )
        }
        None => format!("{:<10} {:>4}", "?", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_first_locale_variable_set_decides_and_none_is_ascii() {
        assert!(utf8_locale(env(&[("LANG", "en_GB.UTF-8")])));
        assert!(utf8_locale(env(&[("LC_CTYPE", "de_DE.utf8"), ("LANG", "C")])));
        assert!(!utf8_locale(env(&[("LC_ALL", "C"), ("LANG", "en_GB.UTF-8")])));
        assert!(!utf8_locale(env(&[("LANG", "")])));
        assert!(!utf8_locale(env(&[])));
    }

    #[test]
    fn the_bar_is_plain_ascii_outside_utf8_and_never_overflows() {
        assert_eq!(bar(Some(0.63), ASCII), "######....  63%");
        assert_eq!(bar(Some(0.63), UTF8), "██████░░░░  63%");
        assert!(bar(Some(0.5), ASCII).is_ascii());
        assert_eq!(bar(Some(7.0), ASCII), "########## 100%");
        assert_eq!(bar(Some(f64::NAN), ASCII).trim(), "?");
    }
}
