//! A borrowed JSON tree for the fast path of [`Validator::check_response`]: one parse of the
//! body, judged by the schemas, the envelope rules and the typed decode without a
//! `serde_json::Value` (whose `preserve_order` objects cost a `String` per key and an
//! `IndexMap` per object).
//!
//! Hand-written: no crate offers a borrowed JSON tree that is both a jsonschema custom
//! representation (`jsonschema::json::Json`, in [`super::tree_schema`]) and a serde
//! `Deserializer` (in [`super::tree_de`]).
//!
//! The tree accepts exactly what `serde_json::from_slice::<Value>` accepts (the same
//! deserializer drives both), except objects with a repeated key: `Value` keeps the last
//! value, the tree refuses the body, and the caller falls back to the `Value` path.
//!
//! [`Validator::check_response`]: super::Validator::check_response

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// One JSON value, its strings borrowed from the body where they hold no escape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tree<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Tree<'a>>),
    /// An object's members in document order; no key twice.
    Object(Vec<(Cow<'a, str>, Tree<'a>)>),
}

/// Past this many members an object's keys are checked for repeats by sorting them rather than
/// by comparing every pair.
const PAIRWISE_MAX: usize = 16;

impl<'a> Tree<'a> {
    /// The tree of `body`, or `None` if `body` is not one JSON value (as
    /// `serde_json::from_slice` says) or an object in it repeats a key.
    ///
    /// A body `serde_json::from_slice` reads is UTF-8 throughout (outside strings only ASCII
    /// is JSON), so checking it whole first loses nothing and spares checking each string.
    pub(crate) fn parse(body: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let tree = Tree::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(tree)
    }

    /// The member `key` of an object; `None` for a missing key or a value that is not an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Tree<'a>> {
        match self {
            Tree::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The same value as a `serde_json::Value` (for cold paths: schema error details).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Number(n) => Value::Number(n.clone()),
            Tree::String(s) => Value::String(s.as_ref().to_owned()),
            Tree::Array(items) => Value::Array(items.iter().map(Tree::to_value).collect()),
            Tree::Object(members) => Value::Object(
                members.iter().map(|(k, v)| (k.as_ref().to_owned(), v.to_value())).collect(),
            ),
        }
    }
}

/// Whether some key appears twice among `members`.
fn repeats_a_key(members: &[(Cow<'_, str>, Tree<'_>)]) -> bool {
    if members.len() <= PAIRWISE_MAX {
        return members
            .iter()
            .enumerate()
            .any(|(i, (k, _))| members[i + 1..].iter().any(|(other, _)| other == k));
    }
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Tree<'de>, E> {
        Ok(Tree::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Tree<'de>, E> {
        Ok(Tree::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Tree<'de>, E> {
        Ok(Tree::Number(v.into()))
    }

    /// As `Value` does: a float JSON cannot hold is `null`.
    fn visit_f64<E>(self, v: f64) -> Result<Tree<'de>, E> {
        Ok(Number::from_f64(v).map_or(Tree::Null, Tree::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        if repeats_a_key(&members) {
            return Err(de::Error::custom("an object repeats a key"));
        }
        Ok(Tree::Object(members))
    }
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

/// An object key, borrowed when it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Written as `Value` writes the same value (`show` in violations quotes it).
impl Serialize for Tree<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tree::Null => s.serialize_unit(),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::Number(n) => n.serialize(s),
            Tree::String(v) => s.serialize_str(v),
            Tree::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Tree::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_value(body: &str) {
        let tree = Tree::parse(body.as_bytes()).unwrap();
        let value: Value = serde_json::from_str(body).unwrap();
        assert_eq!(tree.to_value(), value, "{body}");
        assert_eq!(serde_json::to_string(&tree).unwrap(), value.to_string(), "{body}");
    }

    #[test]
    fn the_tree_reads_what_value_reads() {
        for body in [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "-0.0",
            "1.5e3",
            "18446744073709551615",
            "-9223372036854775808",
            "18446744073709551616",
            "1e308",
            r#""a\"b\u00e9\ud83e\udd80""#,
            r#"{"a\nb":[1,{"c":null}],"d":{}}"#,
            " [ ] ",
        ] {
            same_as_value(body);
        }
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let tree = Tree::parse(br#"{"plain":"x","esc\u0061ped":"y\n"}"#).unwrap();
        let Tree::Object(members) = &tree else { panic!("{tree:?}") };
        assert!(matches!(&members[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&members[0].1, Tree::String(Cow::Borrowed("x"))));
        assert!(matches!(&members[1].0, Cow::Owned(k) if k == "escaped"));
        assert!(matches!(&members[1].1, Tree::String(Cow::Owned(v)) if v == "y\n"));
        assert_eq!(tree.get("escaped"), Some(&Tree::String(Cow::Borrowed("y\n"))));
        assert_eq!(tree.get("missing"), None);
        assert_eq!(Tree::Null.get("plain"), None);
    }

    #[test]
    fn what_value_refuses_or_reads_otherwise_is_refused() {
        for body in [
            &b""[..],
            b"{",
            b"1e400",
            b"[1] x",
            b"\xff",
            b"\"\xff\"",
            br#"{"a":1,"a":2}"#,
            br#"{"a":1,"\u0061":2}"#,
            br#"[{"x":{"a":1,"b":2,"a":3}}]"#,
        ] {
            assert_eq!(Tree::parse(body), None, "{}", String::from_utf8_lossy(body));
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(Tree::parse(deep.as_bytes()), None);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
    }

    #[test]
    fn what_serde_json_never_hands_over_is_read_too() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{BytesDeserializer, Error};
        let owned: serde::de::value::StringDeserializer<Error> = "s".to_owned().into_deserializer();
        assert_eq!(Tree::deserialize(owned), Ok(Tree::String(Cow::Borrowed("s"))));
        let bytes = Tree::deserialize(BytesDeserializer::<Error>::new(b"x")).unwrap_err();
        assert_eq!(bytes.to_string(), "invalid type: byte array, expected any valid JSON value");
        let key = serde_json::from_str::<Tree<'_>>("{1:2}").unwrap_err();
        assert_eq!(key.to_string(), "key must be a string at line 1 column 2");
        let key = Key::deserialize(1u8.into_deserializer()).map(|k| k.0);
        assert_eq!(
            key.map_err(|e: Error| e.to_string()),
            Err("invalid type: integer `1`, expected an object key".to_owned())
        );
    }

    #[test]
    fn repeated_keys_are_found_in_small_and_large_objects() {
        let keys = |n: usize| (0..n).map(|i| (Cow::Owned(format!("k{i}")), Tree::Null)).collect();
        for n in [0, 1, 2, PAIRWISE_MAX, PAIRWISE_MAX + 1, 40] {
            let mut members: Vec<(Cow<'_, str>, Tree<'_>)> = keys(n);
            assert!(!repeats_a_key(&members), "{n}");
            if n > 0 {
                members.push((Cow::Owned(format!("k{}", n - 1)), Tree::Null));
                assert!(repeats_a_key(&members), "{n}");
                members.insert(0, (Cow::Borrowed("k0"), Tree::Null));
                members.pop();
                assert!(repeats_a_key(&members), "{n}");
            }
        }
    }
}
