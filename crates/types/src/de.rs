//! Deserializing structs that keep the fields they do not model, in one pass.
//!
//! `#[serde(flatten)]` would keep them too, but it makes serde buffer the whole object (and,
//! for the envelope, the whole `result`) into an intermediate tree before reading it again;
//! on the client's hot path that was most of the decode cost. Here each field is read once,
//! straight from the input, and only the names a struct does not know are allocated.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// A struct read from a JSON object in one pass.
pub(crate) trait FromMap<'de>: Sized {
    /// What an error says was expected instead, as in "expected a download object".
    const EXPECTING: &'static str;

    /// Reads the struct from the object's entries (with [`visit_fields`]).
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Deserializes a [`FromMap`] struct: the body of its `Deserialize::deserialize`.
pub(crate) fn from_map<'de, T: FromMap<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: FromMap<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_map(map)
        }
    }
    d.deserialize_map(V(PhantomData))
}

/// A key of a struct's JSON object: one of its `fields` (by index), or any other name.
pub(crate) enum Key {
    Field(usize),
    Other(String),
}

/// Reads one key, matching it against `fields` without allocating for a known name.
#[derive(Clone, Copy)]
pub(crate) struct KeySeed(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|f| *f == s) {
            Some(i) => Key::Field(i),
            None => Key::Other(s.to_owned()),
        })
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Key, E> {
        Ok(match self.0.iter().position(|f| *f == s) {
            Some(i) => Key::Field(i),
            None => Key::Other(s),
        })
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Key, E> {
        match std::str::from_utf8(b) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(b), &self)),
        }
    }
}

/// Reads every entry of `map`: a known field's value is read by `field(index, map)` (once: a
/// repeated field is an error, as with serde's derive), any other entry goes into `extra`
/// (a repeated unknown name keeps its last value, as a JSON object map does).
pub(crate) fn visit_fields<'de, A: MapAccess<'de>>(
    mut map: A,
    fields: &'static [&'static str],
    extra: &mut Map<String, Value>,
    mut field: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    debug_assert!(fields.len() <= 32, "the seen-mask holds 32 fields");
    let mut seen = 0u32;
    while let Some(key) = map.next_key_seed(KeySeed(fields))? {
        match key {
            Key::Field(i) => {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::duplicate_field(fields[i]));
                }
                seen |= 1 << i;
                field(i, &mut map)?;
            }
            Key::Other(name) => {
                let value = map.next_value()?;
                extra.insert(name, value);
            }
        }
    }
    Ok(())
}

/// `value`, or the "missing field" error naming `name`.
pub(crate) fn required<T, E: de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A two-field struct read through [`visit_fields`], to test the helper on its own.
    #[derive(Debug, PartialEq)]
    struct Pair {
        a: u8,
        b: Option<String>,
        extra: Map<String, Value>,
    }

    impl<'de> Deserialize<'de> for Pair {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            from_map(d)
        }
    }

    impl<'de> FromMap<'de> for Pair {
        const EXPECTING: &'static str = "a pair";
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Pair, A::Error> {
            let (mut a, mut b, mut extra) = (None, None, Map::new());
            visit_fields(map, &["a", "b"], &mut extra, |i, map| {
                match i {
                    0 => a = Some(map.next_value()?),
                    _ => b = map.next_value()?,
                }
                Ok(())
            })?;
            Ok(Pair { a: required(a, "a")?, b, extra })
        }
    }

    #[test]
    fn known_fields_are_read_and_the_rest_kept_in_order() {
        let p: Pair = serde_json::from_str(r#"{"z":1,"a":7,"y":[true],"b":"x"}"#).unwrap();
        assert_eq!((p.a, p.b.as_deref()), (7, Some("x")));
        assert_eq!(p.extra.keys().collect::<Vec<_>>(), ["z", "y"]);
        assert_eq!(p.extra["y"], serde_json::json!([true]));
        // The same through serde_json::Value (keys arrive as owned strings).
        let v = serde_json::json!({"a": 1, "q": null});
        let p = Pair::deserialize(v).unwrap();
        assert_eq!((p.a, p.b, p.extra.len()), (1, None, 1));
    }

    #[test]
    fn missing_and_repeated_fields_are_named() {
        let e = serde_json::from_str::<Pair>(r#"{"b":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `a`"), "{e}");
        let e = serde_json::from_str::<Pair>(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `a`"), "{e}");
        // A field past the first bit of the seen-mask, repeated at once or after another.
        let e = serde_json::from_str::<Pair>(r#"{"a":1,"b":"x","b":"y"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `b`"), "{e}");
        let e = serde_json::from_str::<Pair>(r#"{"b":"x","a":1,"b":"y"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `b`"), "{e}");
        // A key that is not a string is refused with what was expected.
        let e = Pair::deserialize(
            serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
                [(1u8, 1u8)].into_iter(),
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("a field name"), "{e}");
        let e = serde_json::from_str::<Pair>(r#"{"a":"one"}"#).unwrap_err();
        assert!(e.to_string().contains("expected u8"), "{e}");
        let e = serde_json::from_str::<Pair>("[1]").unwrap_err();
        assert!(e.to_string().contains("expected a pair"), "{e}");
        // A repeated unknown name keeps its last value.
        let p: Pair = serde_json::from_str(r#"{"a":1,"q":1,"q":2}"#).unwrap();
        assert_eq!(p.extra["q"], 2);
    }
}
