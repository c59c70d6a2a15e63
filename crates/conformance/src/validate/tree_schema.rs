//! The [`Tree`] as a jsonschema custom representation: the compiled schemas judge it in place,
//! as `jsonschema::json::SerdeJson` judges a `serde_json::Value`.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use serde_json::{Number, Value};

use super::tree::Tree;

/// Arrays up to this long are checked for `uniqueItems` pair by pair (jsonschema's own
/// threshold between pairs and hashing).
const PAIRWISE_MAX: usize = 15;

/// Equality as JSON Schema defines it (`jsonschema::json::cmp::equal`): numbers by value,
/// objects whatever their members' order.
fn json_equal(a: &Tree<'_>, b: &Tree<'_>) -> bool {
    match (a, b) {
        (Tree::Null, Tree::Null) => true,
        (Tree::Bool(a), Tree::Bool(b)) => a == b,
        (Tree::String(a), Tree::String(b)) => a == b,
        (Tree::Number(a), Tree::Number(b)) => jsonschema::json::cmp::equal_numbers(a, b),
        (Tree::Array(a), Tree::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        // A tree's object has no key twice, so one inclusion of the same size is equality.
        (Tree::Object(members), Tree::Object(others)) => {
            members.len() == others.len()
                && members.iter().all(|(k, v)| b.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => false,
    }
}

/// The representation: instances are `&Tree`.
#[derive(Debug)]
pub(crate) struct TreeJson;

impl Json for TreeJson {
    type Node<'a> = &'a Tree<'a>;
    type PreparedKey = String;
    type StringBuffer = Option<Tree<'static>>;

    // A node never contains itself.
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Option<Tree<'static>>,
        string: &str,
        f: impl FnOnce(<Self as Json>::Node<'_>) -> T,
    ) -> T {
        f(buffer.insert(Tree::String(Cow::Owned(string.to_owned()))))
    }
}

/// An object's members.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Members<'a>(&'a [(Cow<'a, str>, Tree<'a>)]);

/// An array's items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Items<'a>(&'a [Tree<'a>]);

impl<'a> Node<'a, TreeJson> for &'a Tree<'a> {
    type Object = Members<'a>;
    type Array = Items<'a>;
    type Number = &'a Number;

    fn as_object(&self) -> Option<Members<'a>> {
        match self {
            Tree::Object(members) => Some(Members(members)),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Items<'a>> {
        match self {
            Tree::Array(items) => Some(Items(items)),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Tree::String(s) => Some(Cow::Borrowed(s.as_ref())),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a Number> {
        match self {
            Tree::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self {
            Tree::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Tree::Null)
    }

    fn json_type(&self) -> JsonType {
        match self {
            Tree::Null => JsonType::Null,
            Tree::Bool(_) => JsonType::Boolean,
            Tree::Number(_) => JsonType::Number,
            Tree::String(_) => JsonType::String,
            Tree::Array(_) => JsonType::Array,
            Tree::Object(_) => JsonType::Object,
        }
    }

    /// `enum` and `const`: scalars compare without building a `Value`.
    fn equals_value(&self, expected: &Value) -> bool {
        match (self, expected) {
            (Tree::Null, Value::Null) => true,
            (Tree::Bool(a), Value::Bool(b)) => a == b,
            (Tree::String(a), Value::String(b)) => a == b,
            (Tree::Number(a), Value::Number(b)) => jsonschema::json::cmp::equal_numbers(a, b),
            (Tree::Array(_) | Tree::Object(_), Value::Array(_) | Value::Object(_)) => {
                jsonschema::json::cmp::equal(&self.to_value(), expected)
            }
            _ => false,
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Tree::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Tree<'a>>(*self) as usize))
    }
}

/// The members of an object, names borrowed.
#[derive(Debug)]
pub(crate) struct MembersIter<'a>(std::slice::Iter<'a, (Cow<'a, str>, Tree<'a>)>);

impl<'a> Iterator for MembersIter<'a> {
    type Item = (&'a str, &'a Tree<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'a> Object<'a, TreeJson> for Members<'a> {
    type Node = &'a Tree<'a>;
    type MemberName = &'a str;
    type MembersIter = MembersIter<'a>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, key: &String) -> Option<&'a Tree<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn members(&self) -> MembersIter<'a> {
        MembersIter(self.0.iter())
    }
}

impl<'a> Array<'a, TreeJson> for Items<'a> {
    type Node = &'a Tree<'a>;
    type ElementsIter = std::slice::Iter<'a, Tree<'a>>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn elements(&self) -> std::slice::Iter<'a, Tree<'a>> {
        self.0.iter()
    }

    /// `uniqueItems`: a short array is compared pair by pair without building `Value`s (as
    /// jsonschema does up to the same length); a long one goes through jsonschema's hashing.
    fn is_unique(&self) -> bool {
        let items = self.0;
        if items.len() <= PAIRWISE_MAX {
            return items
                .iter()
                .enumerate()
                .all(|(i, a)| items[i + 1..].iter().all(|b| !json_equal(a, b)));
        }
        let values: Vec<Value> = self.0.iter().map(Tree::to_value).collect();
        jsonschema::json::unique::is_unique(&values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_meets_the_representation_contract() {
        let text = jsonschema::json::conformance::document().to_string();
        let tree = Tree::parse(text.as_bytes()).unwrap();
        jsonschema::json::conformance::assert_conformance::<TreeJson>(&&tree);
    }

    #[test]
    fn scalars_equal_values_as_jsonschema_says() {
        fn t(s: &str) -> Tree<'_> {
            Tree::parse(s.as_bytes()).unwrap()
        }
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        for (a, b, same) in [
            ("null", "null", true),
            ("null", "false", false),
            ("true", "true", true),
            ("true", "false", false),
            ("\"ready\"", "\"ready\"", true),
            ("\"ready\"", "\"error\"", false),
            ("1", "1.0", true),
            ("1", "2", false),
            ("1", "\"1\"", false),
            ("[1,{\"a\":2}]", "[1.0,{\"a\":2}]", true),
            ("[1]", "[2]", false),
            ("{}", "[]", false),
            ("[]", "null", false),
        ] {
            assert_eq!((&t(a)).equals_value(&v(b)), same, "{a} {b}");
        }
    }

    #[test]
    fn unique_items_are_judged_as_values_are() {
        let unique = |s: &str| {
            let tree = Tree::parse(s.as_bytes()).unwrap();
            (&tree).as_array().unwrap().is_unique()
        };
        assert!(unique("[]"));
        assert!(!unique("[null,null]"));
        assert!(unique("[null,false]"));
        assert!(unique("[{\"a\":1}]"));
        assert!(unique("[1,2]"));
        assert!(!unique("[1,1.0]"));
        assert!(!unique("[{\"a\":1},{\"a\":1}]"));
        assert!(!unique("[{\"a\":1,\"b\":[0]},{\"b\":[-0.0],\"a\":1.0}]"));
        assert!(unique("[{\"a\":1,\"b\":[0]},{\"b\":[0],\"a\":2}]"));
        assert!(unique("[{\"a\":1},{\"a\":1,\"b\":2}]"));
        assert!(unique("[[1],[1,2]]"));
        assert!(!unique("[true,null,\"s\",[1],true]"));
        assert!(unique("[true,null,\"s\",[1],false]"));
        // Past the pairwise length, jsonschema hashes.
        let long = |last: &str| {
            format!("[{}{last}]", (0..20).map(|i| format!("{i},")).collect::<String>())
        };
        assert!(unique(&long("20")));
        assert!(!unique(&long("3.0")));
    }

    #[test]
    fn a_node_is_itself_and_no_other() {
        let tree = Tree::parse(br#"{"a":[1,1]}"#).unwrap();
        let root = &tree;
        let a = root.as_object().unwrap().get(&"a".to_owned()).unwrap();
        let items: Vec<_> = a.as_array().unwrap().elements().collect();
        assert!(root.identity().is_some());
        assert_eq!(root.identity(), (&tree).identity());
        assert_ne!(root.identity(), a.identity());
        assert_ne!(items[0].identity(), items[1].identity());
        assert_eq!(
            items[0].identity(),
            Some(NodeIdentity::new(std::ptr::from_ref(items[0]) as usize))
        );
    }

    #[test]
    fn string_nodes_hold_the_name() {
        let mut buffer = None;
        TreeJson::with_string_node(&mut buffer, "name", |node| {
            assert_eq!(node.as_string().as_deref(), Some("name"));
        });
    }
}
