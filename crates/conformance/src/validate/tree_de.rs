//! The [`Tree`] as a serde `Deserializer`: the typed model decodes from the parsed tree without
//! reading the body again, accepting what it accepts from a `serde_json::Value` (the same
//! dispatch as serde_json's `impl Deserializer for &Value`; strings are handed over borrowed).
//!
//! One difference: an enum is read from a string (a unit variant) only, not from a one-member
//! object; no type of the downloads envelopes is such an enum.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde::de::{Unexpected, Visitor};
use serde_json::Error;

use super::tree::Tree;

impl<'de> Tree<'de> {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Tree::Null => Unexpected::Unit,
            Tree::Bool(b) => Unexpected::Bool(*b),
            Tree::Number(_) => Unexpected::Other("number"),
            Tree::String(s) => Unexpected::Str(s),
            Tree::Array(_) => Unexpected::Seq,
            Tree::Object(_) => Unexpected::Map,
        }
    }
}

impl<'de> Deserializer<'de> for &'de Tree<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Tree::Null => visitor.visit_unit(),
            Tree::Bool(b) => visitor.visit_bool(*b),
            Tree::Number(n) => n.deserialize_any(visitor),
            Tree::String(s) => visitor.visit_borrowed_str(s),
            Tree::Array(items) => {
                let mut seq = Items(items.iter());
                let out = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(out),
                    _ => Err(de::Error::invalid_length(items.len(), &"fewer elements in array")),
                }
            }
            Tree::Object(members) => {
                let mut map = Members { iter: members.iter(), value: None };
                let out = visitor.visit_map(&mut map)?;
                match map.iter.len() {
                    0 => Ok(out),
                    _ => Err(de::Error::invalid_length(members.len(), &"fewer elements in map")),
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Tree::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Tree::String(s) => visitor.visit_borrowed_str(s),
            other => Err(de::Error::invalid_type(other.unexpected(), &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Tree::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            other => Err(de::Error::invalid_type(other.unexpected(), &"a string")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct
    }
}

/// An array's items, one at a time.
struct Items<'de>(std::slice::Iter<'de, Tree<'de>>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }
}

/// An object's members: each key, then its value.
struct Members<'de> {
    iter: std::slice::Iter<'de, (std::borrow::Cow<'de, str>, Tree<'de>)>,
    value: Option<&'de Tree<'de>>,
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("value is missing")),
        }
    }
}

#[cfg(test)]
mod tests {
    use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, ResponseKind, decode};
    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;
    use crate::generate::bench_corpus;

    /// The typed decode from the tree and from the bytes (`cfstream_types::decode`) agree on
    /// `body`: both fail, or both give the same value.
    fn agrees<T: DeserializeOwned + PartialEq + std::fmt::Debug>(body: &[u8]) -> bool {
        let from_bytes = decode::<T>(body).ok();
        let Some(tree) = Tree::parse(body) else { return true };
        let from_tree = T::deserialize(&tree).ok();
        assert_eq!(from_tree, from_bytes, "{}", String::from_utf8_lossy(body));
        from_tree.is_some()
    }

    #[test]
    fn the_typed_decode_from_the_tree_agrees_with_the_decode_from_bytes() {
        let (mut ok, mut total) = (0, 0);
        for s in bench_corpus(3000) {
            total += 1;
            let decoded = match s.operation.response() {
                ResponseKind::Deleted if s.status == 200 => agrees::<DeletedEnvelope>(&s.body),
                _ => agrees::<DownloadsEnvelope>(&s.body),
            };
            ok += usize::from(decoded);
            // Both envelopes, whatever the operation.
            agrees::<DeletedEnvelope>(&s.body);
            agrees::<DownloadsEnvelope>(&s.body);
        }
        // Most of the corpus decodes; some of it does not.
        assert!(ok > total / 2 && ok < total, "{ok} of {total}");
    }

    #[test]
    fn the_typed_decode_from_the_tree_agrees_on_odd_bodies() {
        for body in [
            r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100.0,"url":"https://x.example/\u0061.mp4","extra":[1,{"a":null}]}}}"#,
            r#"{"success":true,"errors":[],"messages":[{"code":1e3,"message":"m"}],"result":{}}"#,
            r#"{"success":true,"errors":[],"messages":[{"code":1000,"message":"m","source":{"pointer":"/x"},"documentation_url":"d"}],"result":{"status":"ready","percentComplete":5}}"#,
            r#"{"success":true,"result":{"status":7,"percentComplete":5}}"#,
            r#"{"success":true,"result":{"default":{"status":"ready","percentComplete":101}}}"#,
            r#"{"success":true,"result":{"default":null}}"#,
            r#"{"success":true,"result":null}"#,
            r#"{"success":true,"result":"ok","x":-0}"#,
            r#"{"success":"true"}"#,
            r#"{"success":true,"errors":[{"code":1000}]}"#,
            r#"[true,[],[]]"#,
            "null",
        ] {
            agrees::<DownloadsEnvelope>(body.as_bytes());
            agrees::<DeletedEnvelope>(body.as_bytes());
        }
    }

    #[test]
    fn the_deserializer_reads_as_a_value_does() {
        let tree = Tree::parse(br#"{"a":[1,"x",null],"b":"s","n":null,"e":"V"}"#).unwrap();
        #[derive(Debug, PartialEq, serde::Deserialize)]
        enum E {
            V,
        }
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct S<'a> {
            a: (u8, String, Option<u8>),
            #[serde(borrow)]
            b: &'a str,
            n: Option<u8>,
            e: E,
        }
        let s = S::deserialize(&tree).unwrap();
        assert_eq!(s, S { a: (1, "x".to_owned(), None), b: "s", n: None, e: E::V });
        // Enums from strings only; strings only where a string is asked for.
        assert!(E::deserialize(&Tree::Null).is_err());
        assert!(String::deserialize(&Tree::Bool(true)).is_err());
        assert_eq!(Value::deserialize(&tree).unwrap(), tree.to_value());
        // Fewer items or members read than there are is an error, as with a `Value`.
        let pair = Tree::parse(b"[1,2,3]").unwrap();
        assert!(<(u8, u8)>::deserialize(&pair).is_err());
        assert!(<(u8, u8)>::deserialize(&Value::deserialize(&pair).unwrap()).is_err());
        // Ignored values are skipped.
        assert_eq!(serde::de::IgnoredAny::deserialize(&pair).unwrap(), serde::de::IgnoredAny);
    }
}
