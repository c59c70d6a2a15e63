//! Property: every signed-URL model (token request and answer, signing keys, access rules)
//! serializes to JSON and deserializes back equal, unknown fields and names included; tokens
//! and private keys never show in `Debug`.

use cfstream_types::signed::{
    AccessAction, AccessRule, AccessRuleType, SigningKeyEnvelope, SigningKeysEnvelope,
    TokenEnvelope, TokenFlags,
};
use cfstream_types::{
    Envelope, Secret, SignedToken, SigningKey, SigningKeyId, TokenRequest, TokenResult, decode,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// Unmodelled fields: the `x_` prefix keeps them apart from every modelled name.
fn extra() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x_[a-z]{1,6}", scalar(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn key_id() -> impl Strategy<Value = SigningKeyId> {
    "[0-9a-f]{32}".prop_map(|s| s.parse().unwrap())
}

fn base64ish() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{4,40}={0,2}"
}

fn rule_type() -> impl Strategy<Value = AccessRuleType> {
    prop_oneof![
        Just(AccessRuleType::Any),
        Just(AccessRuleType::IpSrc),
        Just(AccessRuleType::IpGeoipCountry),
        "ip\\.[a-z]{1,6}".prop_map(|s| AccessRuleType::from_wire(&s)),
    ]
}

fn action() -> impl Strategy<Value = AccessAction> {
    prop_oneof![
        Just(AccessAction::Allow),
        Just(AccessAction::Block),
        "[a-z]{1,6}".prop_map(|s| AccessAction::from_wire(&s)),
    ]
}

fn access_rule() -> impl Strategy<Value = AccessRule> {
    (
        rule_type(),
        action(),
        prop::option::of(prop::collection::vec("[0-9]{1,3}\\.[0-9]{1,3}\\.0\\.0/16", 0..3)),
        prop::option::of(prop::collection::vec("[A-Z]{2}", 0..3)),
        extra(),
    )
        .prop_map(|(t, a, ip, country, extra)| {
            let mut r = AccessRule::new(t, a);
            r.ip = ip;
            r.country = country;
            r.extra = extra;
            r
        })
}

fn token_request() -> impl Strategy<Value = TokenRequest> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        prop::option::of(prop::collection::vec(access_rule(), 0..3)),
        prop::option::of((prop::option::of(any::<bool>()), extra())),
        prop::option::of((key_id(), base64ish())),
        extra(),
    )
        .prop_map(|(downloadable, exp, nbf, rules, flags, key, extra)| {
            let mut r = TokenRequest::default();
            r.downloadable = downloadable;
            r.exp = exp;
            r.nbf = nbf;
            r.access_rules = rules;
            r.flags = flags.map(|(original, extra)| {
                let mut f = TokenFlags::default();
                f.original = original;
                f.extra = extra;
                f
            });
            if let Some((id, pem)) = key {
                r = r.signed_with(id, Secret::new(pem));
            }
            r.extra = extra;
            r
        })
}

/// A JWT-shaped token.
fn token() -> impl Strategy<Value = SignedToken> {
    ("[A-Za-z0-9_-]{8,24}", "[A-Za-z0-9_-]{8,40}", "[A-Za-z0-9_-]{8,40}")
        .prop_map(|(h, c, s)| SignedToken::new(format!("{h}.{c}.{s}")))
}

fn signing_key() -> impl Strategy<Value = SigningKey> {
    (
        key_id(),
        prop::option::of(base64ish()),
        prop::option::of(base64ish()),
        prop::option::of("20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z"),
        extra(),
    )
        .prop_map(|(id, pem, jwk, created, extra)| {
            let mut k = SigningKey::new(id);
            k.pem = pem.map(Secret::new);
            k.jwk = jwk.map(Secret::new);
            k.created = created;
            k.extra = extra;
            k
        })
}

proptest! {
    #[test]
    fn token_requests_round_trip(r in token_request()) {
        let json = serde_json::to_string(&r).unwrap();
        prop_assert_eq!(&decode::<TokenRequest>(json.as_bytes()).unwrap(), &r);
        // The private key goes on the wire, never into Debug.
        if let Some(pem) = &r.pem {
            let shown = format!("{:?}", r);
            prop_assert!(json.contains(pem.expose()));
            prop_assert!(!shown.contains(pem.expose()), "{}", shown);
        }
    }

    #[test]
    fn token_answers_round_trip(t in token(), extra in extra(), env_extra in extra()) {
        let mut result = TokenResult::new(t.clone());
        result.extra = extra;
        let mut env = Envelope::success(result);
        env.extra = env_extra;
        let json = serde_json::to_string(&env).unwrap();
        let back = decode::<TokenEnvelope>(json.as_bytes()).unwrap();
        prop_assert_eq!(&back, &env);
        prop_assert_eq!(back.result.as_ref().map(|r| r.token.expose()), Some(t.expose()));
        let shown = format!("{env:?}");
        prop_assert!(!shown.contains(t.expose()), "{}", shown);
    }

    #[test]
    fn signing_keys_round_trip(k in signing_key(), list in prop::collection::vec(signing_key(), 0..4)) {
        let env = Envelope::success(k.clone());
        let json = serde_json::to_string(&env).unwrap();
        prop_assert_eq!(decode::<SigningKeyEnvelope>(json.as_bytes()).unwrap(), env);
        let shown = format!("{:?}", k);
        for secret in k.pem.iter().chain(&k.jwk) {
            prop_assert!(!shown.contains(secret.expose()), "{}", shown);
        }
        let env = Envelope::success(list);
        let json = serde_json::to_string(&env).unwrap();
        prop_assert_eq!(decode::<SigningKeysEnvelope>(json.as_bytes()).unwrap(), env);
    }
}

#[test]
fn a_token_answer_without_a_token_names_the_field() {
    let body = br#"{"success":true,"errors":[],"messages":[],"result":{"tok":"x"}}"#;
    let e = decode::<TokenEnvelope>(body).unwrap_err();
    assert!(e.to_string().contains("missing field `token`"), "{e}");
    assert!(e.to_string().contains("result"), "{e}");
}
