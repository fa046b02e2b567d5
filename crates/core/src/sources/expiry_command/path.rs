//! A small JSON path (`.Self.KeyExpiry`, `.items[0].expires`): where a
//! command's JSON output keeps the expiry.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed path: keys after dots, indexes in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// Reads `.a.b[0]."key with dots"`; the error says what a path looks like.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| {
            Err(format!(
                "{text:?} {why}; write it like .Self.KeyExpiry or .items[0].expires"
            ))
        };
        let t = text.trim();
        if !t.starts_with('.') && !t.starts_with('[') {
            return bad("does not start with '.'");
        }
        let mut steps = Vec::new();
        let mut rest = t;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else {
                    return bad("has a '[' with no ']'");
                };
                let Ok(i) = r[..end].trim().parse::<usize>() else {
                    return bad("has an index that is not a number");
                };
                steps.push(Step::Index(i));
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix(".\"") {
                let Some(end) = r.find('"') else {
                    return bad("has an unclosed quote");
                };
                steps.push(Step::Key(r[..end].to_string()));
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    if r.is_empty() && steps.is_empty() {
                        break;
                    }
                    return bad("has an empty key");
                }
                let key = &r[..end];
                if key.contains([']', '"']) || key.contains(char::is_whitespace) {
                    return bad("has a key with ']', '\"' or a space; quote it: .\"my key\"");
                }
                steps.push(Step::Key(key.to_string()));
                rest = &r[end..];
            } else {
                return bad("has text that is neither .key nor [index]");
            }
            if steps.len() > 32 {
                return bad("is too deep");
            }
        }
        Ok(JsonPath(steps))
    }

    /// The value at the path, if there is one.
    pub fn find<'a>(&self, mut v: &'a Value) -> Option<&'a Value> {
        for s in &self.0 {
            v = match s {
                Step::Key(k) => v.get(k)?,
                Step::Index(i) => v.get(*i)?,
            };
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_indexes_and_quoted_keys() {
        let v: Value = serde_json::json!({"Self": {"KeyExpiry": "x"}, "items": [{"a.b": 1}]});
        assert_eq!(
            JsonPath::parse(".Self.KeyExpiry").unwrap().find(&v),
            Some(&Value::from("x"))
        );
        assert_eq!(
            JsonPath::parse(".items[0].\"a.b\"").unwrap().find(&v),
            Some(&Value::from(1))
        );
        assert_eq!(JsonPath::parse(".missing").unwrap().find(&v), None);
        for bad in ["Self", ".a..b", ".a[", ".a[x]", ".\"open", ".a]"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
