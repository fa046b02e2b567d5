//! Problems with their place in the file, rendered as people read them:
//! file, line, column, the line itself and what to do.

use super::*;

/// One problem found in a config file, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// A problem placed in the file: 1-based line and column, and the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Located {
    pub(super) at: Option<(usize, usize, String)>,
    pub(super) message: String,
}

/// Every problem found in one file, rendered with file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConfigErrors {
    pub(super) file: PathBuf,
    pub(super) problems: Vec<Located>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {} problem{}; nothing in it was applied:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for Located { at, message } in &self.problems {
            match at {
                Some((l, c, _)) => write!(f, "\n  {}:{l}:{c}: {message}", self.file.display())?,
                None => write!(f, "\n  {}: {message}", self.file.display())?,
            }
            if let Some((l, c, text)) = at {
                let gutter = l.to_string().len();
                write!(f, "\n   {l} | {text}\n   {:gutter$} | {:>col$}", "", "^", col = c)?;
            }
        }
        Ok(())
    }
}

pub(super) fn locate(src: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..offset].chars().count() + 1;
    let text = src[line_start..].lines().next().unwrap_or("").to_string();
    (line, col, text)
}

pub(super) fn render(file: &Path, src: &str, problems: Vec<Problem>) -> Error {
    let problems = problems
        .into_iter()
        .map(|p| Located {
            at: p.span.map(|s| locate(src, s.start)),
            message: p.message,
        })
        .collect();
    Error::Config(
        ConfigErrors {
            file: file.to_path_buf(),
            problems,
        }
        .to_string(),
    )
}
