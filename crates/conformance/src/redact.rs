//! Redaction of the credentials a server echoes back: every answer is redacted as it is read,
//! before anything judges, logs or reports it, and the finished report once more.

use std::borrow::Cow;

use bytes::Bytes;
use cfstream_types::Credentials;
use http::{HeaderMap, HeaderValue};

use crate::record::Rec;
use crate::report::Report;

/// What a credential is replaced with (as `cfstream_types::Secret` prints).
pub(crate) const REDACTED: &str = "[redacted]";
/// The shortest start of a credential that is replaced where a value was cut.
const CUT_MIN: usize = 8;

/// The credentials of a run, as the strings to find: the token, or the key and the email,
/// each also in its JSON-escaped form.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("needles", &self.needles.len()).finish()
    }
}

impl Redactor {
    /// A redactor of `credentials` (nothing to redact without them).
    pub(crate) fn new(credentials: Option<&Credentials>) -> Self {
        let mut values: Vec<String> = vec![];
        if let Some(c) = credentials {
            values.push(c.secret().expose().to_owned());
            if let Credentials::Key { email, .. } = c {
                values.push(email.clone());
            }
        }
        Self::of(values)
    }

    /// A redactor of these raw values (empty ones are ignored).
    pub(crate) fn of(values: impl IntoIterator<Item = String>) -> Self {
        let mut needles: Vec<String> = vec![];
        for v in values.into_iter().filter(|v| !v.is_empty()) {
            // A server that puts the value in a JSON string may escape it (`/` as `\/`, ...).
            if let Ok(quoted) = serde_json::to_string(&v) {
                let escaped = quoted[1..quoted.len() - 1].to_owned();
                let slashes = escaped.replace('/', "\\/");
                for form in [escaped, slashes] {
                    if form != v {
                        needles.push(form);
                    }
                }
            }
            needles.push(v);
        }
        // Longest first, so that a value containing another is replaced whole.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Self { needles }
    }

    /// Adds `value` (a signed URL token the run was given) to what is replaced from now on.
    pub(crate) fn add(&mut self, value: &str) {
        self.needles.extend(Self::of([value.to_owned()]).needles);
        self.needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.needles.dedup();
    }

    /// Every text of `rec`'s violations and its skip reason, with every credential replaced
    /// (before the result is streamed to a reporter).
    pub(crate) fn rec(&self, rec: &mut Rec) {
        if self.needles.is_empty() {
            return;
        }
        if let Some(r) = &mut rec.skip {
            self.in_place(r);
        }
        rec.violations.for_each_mut(|v| {
            self.in_place(&mut v.pointer);
            self.in_place(&mut v.rule);
            self.in_place(&mut v.value);
        });
    }

    /// `text` with every credential replaced.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = Cow::Owned(out.replace(n.as_str(), REDACTED));
            }
        }
        out
    }

    fn in_place(&self, s: &mut String) {
        if let Cow::Owned(r) = self.text(s) {
            *s = r;
        }
        self.cut(s);
    }

    /// A value cut at a report's limit ends in `…`: a credential cut there is no longer whole,
    /// so its start (at least [`CUT_MIN`] characters of it) right before the mark is replaced.
    fn cut(&self, s: &mut String) {
        let Some(kept) = s.strip_suffix('…') else { return };
        for n in &self.needles {
            let mut starts =
                (CUT_MIN.min(n.len())..n.len()).rev().filter(|&at| n.is_char_boundary(at));
            if let Some(at) = starts.find(|&at| kept.ends_with(&n[..at])) {
                *s = format!("{}{REDACTED}…", &kept[..kept.len() - at]);
                return;
            }
        }
    }

    /// `body` with every credential replaced (bytes that are not UTF-8 are searched as they
    /// are).
    pub(crate) fn body(&self, body: Bytes) -> Bytes {
        let mut out: Option<Vec<u8>> = None;
        for n in &self.needles {
            let hay = out.as_deref().unwrap_or(&body);
            if find(hay, n.as_bytes()).is_some() {
                out = Some(replace_bytes(hay, n.as_bytes(), REDACTED.as_bytes()));
            }
        }
        out.map_or(body, Bytes::from)
    }

    /// Every header value with a credential in it, replaced.
    pub(crate) fn headers(&self, headers: &mut HeaderMap) {
        for value in headers.values_mut() {
            let Ok(text) = value.to_str() else { continue };
            if let Cow::Owned(r) = self.text(text)
                && let Ok(v) = HeaderValue::from_str(&r)
            {
                *value = v;
            }
        }
    }

    /// Every text of `report` with every credential replaced.
    pub(crate) fn report(&self, report: &mut Report) {
        if self.needles.is_empty() {
            return;
        }
        self.in_place(&mut report.target);
        for c in &mut report.checks {
            if let Some(r) = &mut c.reason {
                self.in_place(r);
            }
            for v in &mut c.violations {
                self.in_place(&mut v.pointer);
                self.in_place(&mut v.rule);
                self.in_place(&mut v.value);
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // memchr's substring search: a body can be 8 MiB, searched once per credential.
    memchr::memmem::find(hay, needle)
}

fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut rest = hay;
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_raw_and_json_escaped() {
        let r = Redactor::new(Some(&Credentials::key("me@example.com", "k3y/with/slashes")));
        assert_eq!(
            r.text("key k3y/with/slashes for me@example.com"),
            "key [redacted] for [redacted]"
        );
        let body = Bytes::from_static(br#"{"m":"k3y\/with\/slashes","n":"k3y/with/slashes"}"#);
        assert_eq!(&r.body(body)[..], br#"{"m":"[redacted]","n":"[redacted]"}"#);
        let mut h = HeaderMap::new();
        h.insert("x-echo", HeaderValue::from_static("hi me@example.com"));
        r.headers(&mut h);
        assert_eq!(h["x-echo"], "hi [redacted]");
        assert_eq!(Redactor::new(None).text("anything"), "anything");
    }

    #[test]
    fn a_credential_cut_with_the_value_is_replaced_by_its_start() {
        let mut r = Redactor::default();
        r.add("eyJhbGciOi.eyJzdWIi.c2ln");
        let mut s = "403 for http://h/files/eyJhbGciOi.ey…".to_owned();
        r.in_place(&mut s);
        assert_eq!(s, "403 for http://h/files/[redacted]…");
        // Whole, anywhere: replaced as always; a start shorter than 8 characters is not.
        let mut s = "a eyJhbGciOi.eyJzdWIi.c2ln b eyJhbGc…".to_owned();
        r.in_place(&mut s);
        assert_eq!(s, "a [redacted] b eyJhbGc…");
        let mut s = "not cut eyJhbGciOi.ey".to_owned();
        r.in_place(&mut s);
        assert_eq!(s, "not cut eyJhbGciOi.ey");
    }
}
