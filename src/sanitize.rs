//! Making text safe to print: credentials a server echoes back are redacted, signed tokens in
//! URL paths are redacted from logs, and control characters are escaped.
//!
//! Everything the binary prints that may hold text it did not write (a server's messages,
//! statuses, field values, an input line) goes through here: error, cause and hint lines,
//! table cells, JSON Lines and log lines. The credentials of the run are registered once,
//! when they are read ([`register`]); a server may echo them in an error message, a field or a
//! header value, and they must not reach a terminal, a CI log or a bug report from there.
//!
//! Escaping: C0 control characters but tab (so ANSI CSI and OSC sequences, which start with
//! ESC, and CR, which lets a line overwrite itself), DEL and C1 characters print as Rust
//! escapes (`\u{1b}`, `\r`, `\n`, `\0`). A terminal then shows what the server sent instead
//! of obeying it.

use std::borrow::Cow;
use std::sync::OnceLock;

use cfstream_types::Credentials;
use serde_json::Value;

/// What a redacted value prints as.
pub(crate) const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not redacted: replacing every `t` of the output would make
/// it unreadable and hide nothing (a one-letter secret is no secret).
const MIN_SECRET_LEN: usize = 4;

/// The credentials of this run (the token, or the email and the key).
static SECRETS: OnceLock<Vec<String>> = OnceLock::new();

/// Registers the values to redact from everything printed after this call: the token, or
/// the email and the key. Only the first call counts (a process reads credentials once).
pub(crate) fn register(credentials: &Credentials) {
    let _ = SECRETS.set(secrets_of(credentials));
}

fn secrets_of(credentials: &Credentials) -> Vec<String> {
    let mut out = vec![credentials.secret().expose().to_owned()];
    if let Credentials::Key { email, .. } = credentials {
        out.push(email.clone());
    }
    out.retain(|s| s.len() >= MIN_SECRET_LEN);
    // Longest first, so a secret holding another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn registered() -> &'static [String] {
    SECRETS.get().map_or(&[], Vec::as_slice)
}

/// `text` with the registered credentials redacted and control characters escaped: for one
/// line of human output (a table cell, an error, a cause, a hint).
pub(crate) fn text(text: &str) -> String {
    escape_controls(&redact_with(text, registered()), false).into_owned()
}

/// A JSON value with the registered credentials redacted from every string (keys too).
/// serde_json escapes C0 characters itself; DEL and C1 are escaped by [`json_line`].
pub(crate) fn json(value: &Value) -> Value {
    json_with(value, registered())
}

fn json_with(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::String(s) => Value::String(redact_with(s, secrets).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(|v| json_with(v, secrets)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (redact_with(k, secrets).into_owned(), json_with(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Escapes DEL and C1 characters in serialized JSON as `\u00XX`, which serde_json leaves raw
/// (they are legal in JSON strings, but some terminals obey C1 controls). They can only occur
/// inside strings, so the JSON keeps its value.
pub(crate) fn json_line(serialized: &str) -> Cow<'_, str> {
    if !serialized.chars().any(is_high_control) {
        return Cow::Borrowed(serialized);
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if is_high_control(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One formatted log event (which ends with a newline): credentials and signed tokens in URL
/// paths redacted, control characters escaped (the final newline kept).
pub(crate) fn log_line(line: &str) -> String {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (line, ""),
    };
    let redacted = redact_with(body, registered());
    let redacted = cfstream_types::signed::redact_token_segments(&redacted);
    let mut out = escape_controls(&redacted, false).into_owned();
    out.push_str(newline);
    out
}

fn redact_with<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for s in secrets {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

/// Whether `c` is escaped: C0 but tab, DEL and C1.
fn is_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || is_high_control(c)
}

fn is_high_control(c: char) -> bool {
    c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c)
}

/// `text` with control characters escaped (newlines too, unless `keep_newlines`).
pub(crate) fn escape_controls(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let escaped = |c: char| is_control(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<String> {
        secrets_of(&Credentials::key("me@example.com", "k3y-s3cr3t"))
    }

    #[test]
    fn credentials_are_redacted_wherever_they_appear() {
        let s = secrets();
        assert_eq!(
            redact_with("bad key k3y-s3cr3t for me@example.com", &s),
            "bad key [redacted] for [redacted]"
        );
        let v = serde_json::json!({"k3y-s3cr3t": ["x me@example.com", 1, null]});
        assert_eq!(
            serde_json::to_string(&json_with(&v, &s)).unwrap(),
            r#"{"[redacted]":["x [redacted]",1,null]}"#
        );
        // Too short to redact: one letter would blank out half the output.
        assert_eq!(secrets_of(&Credentials::token("t")), Vec::<String>::new());
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\u{1b}[31mred\u{1b}]0;title\u{7}\r\n\tb\u{0}\u{7f}\u{9b}é", false),
            "a\\u{1b}[31mred\\u{1b}]0;title\\u{7}\\r\\n\tb\\0\\u{7f}\\u{9b}é"
        );
        assert_eq!(escape_controls("a\nb\r", true), "a\nb\\r");
        assert!(matches!(escape_controls("plain\ttext", false), Cow::Borrowed(_)));
        assert_eq!(json_line("{\"a\":\"\u{9b}x\u{7f}\"}"), r#"{"a":"\u009bx\u007f"}"#);
    }

    #[test]
    fn jwt_path_segments_are_redacted_from_logs() {
        let url = "GET https://h.example/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_/downloads/default.mp4?x=1 done\u{1b}[2J\n";
        assert_eq!(
            log_line(url),
            "GET https://h.example/[redacted]/downloads/default.mp4?x=1 done\\u{1b}[2J\n"
        );
    }
}
