//! Signed URLs: the signing-key endpoints (real RSA 2048 keys, of which only the public part is
//! kept), the token endpoint (RS256 tokens signed by the emulator's own key or by the key the
//! request gives), and the check of a token that stands in a file URL in place of the video id.
//!
//! Tokens follow the conventions of the whole project: header `{"alg":"RS256","kid":KEY_ID}`,
//! claims `sub` (the video), `kid`, `exp`, `nbf` (unix seconds), `downloadable`, and optional
//! `accessRules`.
//!
//! `accessRules` are enforced on the file route as Cloudflare documents them (Stream's "Video
//! access control"; the facts file lists the rule shapes): evaluated first to last, the first
//! rule that matches applies its `action` (`allow` serves, `block` answers 403) and no further
//! rule is looked at; when none matches, the token holds. `any` matches every request; `ip.src`
//! matches the client's address against its addresses and CIDR ranges (an IPv4 entry never
//! matches an IPv6 client, and the reverse; an IPv4-mapped IPv6 client is read as IPv4).
//! **What the emulator cannot know**: it has no GeoIP data and its clients are local, so a
//! client's country is unknown and an `ip.geoip.country` rule never matches (a token that
//! allows only some countries, then blocks `any`, is refused); a request that did not come
//! through the emulator's own accept loop has no address, and no `ip.src` rule matches it.
//! A token whose rules the emulator cannot read (an unknown `type` or `action`, `ip.src`
//! without `ip` or with an entry that is neither an address nor a CIDR, `ip.geoip.country`
//! without `country`, more than 5 rules) is refused with 403 rather than guessed at, and the
//! token endpoint answers 400 to a request that carries such rules.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cfstream_types::endpoint::PathParams;
use cfstream_types::signed::{AccessAction, AccessRule, AccessRuleType, TokenRequestError};
use cfstream_types::{
    AccountId, ErrorCode, SignedToken, SigningKey, SigningKeyId, SigningOperation, TokenRequest,
    TokenResult, VideoId,
};
use http::StatusCode;
use ipnet::IpNet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::{id_error, unknown_account, unknown_video};
use crate::input::{MAX_BODY, read_body};
use crate::model::SavedKey;
use crate::respond::{self, failure, failure_at};
use crate::shared::Shared;
use crate::state::Missing;

/// How long a token lives when the request does not say: one hour.
pub(crate) const DEFAULT_TOKEN_SECS: i64 = 60 * 60;

/// Unix seconds now, by the system clock (the clock tokens are checked against).
pub(crate) fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// The most rules a token's `accessRules` may hold (Cloudflare's documented limit).
pub(crate) const MAX_ACCESS_RULES: usize = 5;

/// What an access rule matches, once read.
#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    /// Every request.
    Any,
    /// Clients whose address is in one of these networks (an address is a /32 or /128).
    Ip(Vec<IpNet>),
    /// Clients from one of these countries: never known to the emulator.
    Country,
}

/// One access rule, read: what it matches and whether it allows.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    matcher: Matcher,
    allow: bool,
}

/// Reads `rules` (a token's or a token request's `accessRules`), or says which one cannot be
/// read and why.
fn read_rules(rules: &[AccessRule]) -> Result<Vec<Rule>, String> {
    if rules.len() > MAX_ACCESS_RULES {
        return Err(format!(
            "accessRules: {} rules, at most {MAX_ACCESS_RULES} are allowed",
            rules.len()
        ));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let allow = match &rule.action {
                AccessAction::Allow => true,
                AccessAction::Block => false,
                other => {
                    return Err(format!(
                        "accessRules[{i}]: unknown action '{other}' (allow or block)"
                    ));
                }
            };
            let matcher = match &rule.rule_type {
                AccessRuleType::Any => Matcher::Any,
                AccessRuleType::IpSrc => {
                    let Some(list) = &rule.ip else {
                        return Err(format!("accessRules[{i}]: ip.src without ip"));
                    };
                    let nets = list
                        .iter()
                        .map(|entry| {
                            entry
                                .parse::<IpNet>()
                                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                                .map_err(|_| {
                                    let shown: String = entry.chars().take(64).collect();
                                    format!(
                                        "accessRules[{i}]: ip '{shown}' is neither an address nor a CIDR"
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Matcher::Ip(nets)
                }
                AccessRuleType::IpGeoipCountry => {
                    if rule.country.is_none() {
                        return Err(format!("accessRules[{i}]: ip.geoip.country without country"));
                    }
                    Matcher::Country
                }
                other => {
                    let shown: String = other.as_str().chars().take(64).collect();
                    return Err(format!(
                        "accessRules[{i}]: unknown type '{shown}' (any, ip.src or ip.geoip.country)"
                    ));
                }
            };
            Ok(Rule { matcher, allow })
        })
        .collect()
}

/// Whether `rules` let a client at `client` (unknown: `None`) through: first to last, the first
/// rule that matches decides; none matching lets it through.
fn rules_allow(rules: &[Rule], client: Option<IpAddr>) -> bool {
    let client = client.map(|ip| ip.to_canonical());
    for rule in rules {
        let matched = match &rule.matcher {
            Matcher::Any => true,
            Matcher::Ip(nets) => client.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Matcher::Country => false,
        };
        if matched {
            return rule.allow;
        }
    }
    true
}

/// The raw segments of a signing route: the account, and the video or key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SigningParams<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) identifier: Option<&'a str>,
}

/// The segments of `path` if it matches `template` (`{...}` parts match one non-empty
/// segment).
fn match_template<'a>(template: &str, path: &'a str) -> Option<SigningParams<'a>> {
    let mut params = SigningParams { account_id: "", identifier: None };
    let mut got = path.split('/');
    for want in template.split('/') {
        let seg = got.next()?;
        match want {
            "{account_id}" if !seg.is_empty() => params.account_id = seg,
            "{identifier}" if !seg.is_empty() => params.identifier = Some(seg),
            literal if literal == seg && !literal.starts_with('{') => {}
            _ => return None,
        }
    }
    got.next().is_none().then_some(params)
}

/// The signing operations whose path template `path` matches (relative to the base URL),
/// with its segments, from the types' table.
pub(crate) fn matches(path: &str) -> Vec<(SigningOperation, SigningParams<'_>)> {
    SigningOperation::ALL
        .into_iter()
        .filter_map(|op| Some((op, match_template(op.path_template(), path)?)))
        .collect()
}

/// The private key, answered once: `pem` (base64 of a PKCS#8 PEM) and `jwk` (base64 of the
/// JWK JSON).
struct NewKey {
    saved: SavedKey,
    pem: String,
    jwk: String,
    signer: EncodingKey,
}

fn pem_of(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

fn new_key_id() -> Result<SigningKeyId, String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|e| format!("random: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    SigningKeyId::new(hex).map_err(|e| e.to_string())
}

/// Generates an RSA 2048 key. Slow-ish and blocking: call on the blocking pool.
fn generate() -> Result<NewKey, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("rsa keygen: {e}"))?;
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|e| format!("pkcs8: {e}"))?;
    let pem = pem_of(der.as_ref());
    let signer =
        EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("signing key: {e}"))?;
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    let id = new_key_id()?;
    let jwk = serde_json::json!({
        "kty": "RSA", "n": n, "e": e, "kid": id, "alg": "RS256", "use": "sig",
    });
    let created = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Ok(NewKey {
        saved: SavedKey { id, created, n, e },
        pem: STANDARD.encode(pem),
        jwk: STANDARD.encode(jwk.to_string()),
        signer,
    })
}

async fn generate_off_runtime() -> Result<NewKey, String> {
    tokio::task::spawn_blocking(generate).await.map_err(|e| format!("key task: {e}"))?
}

/// The emulator's own signing key, which the token endpoint signs with when the request names
/// no key: generated on first use (a key takes a while to generate, and most runs never need
/// one), then the same for the life of the process. Never saved.
pub(crate) struct OwnKey {
    id: SigningKeyId,
    signer: EncodingKey,
    verifier: DecodingKey,
}

impl std::fmt::Debug for OwnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnKey").field("id", &self.id).finish_non_exhaustive()
    }
}

async fn own_key(shared: &Shared) -> Result<&OwnKey, String> {
    shared
        .own_key
        .get_or_try_init(|| async {
            let key = generate_off_runtime().await?;
            let verifier = verifier_of(&key.saved)?;
            Ok(OwnKey { id: key.saved.id, signer: key.signer, verifier })
        })
        .await
}

fn verifier_of(key: &SavedKey) -> Result<DecodingKey, String> {
    DecodingKey::from_rsa_components(&key.n, &key.e).map_err(|e| format!("public key: {e}"))
}

/// The claims of a token, as signed and as checked.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) downloadable: Option<bool>,
    #[serde(rename = "accessRules", default, skip_serializing_if = "Option::is_none")]
    pub(crate) access_rules: Option<Vec<AccessRule>>,
}

fn internal(what: &str, cause: &str) -> Response {
    tracing::error!(cause, "{what}");
    failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::from(10500),
        format!("internal error: {what}"),
    )
}

/// The token endpoint and the signing-key endpoints, once routed, authenticated and past their
/// faults.
pub(crate) async fn operate(
    shared: &Arc<Shared>,
    op: SigningOperation,
    params: SigningParams<'_>,
    body: Body,
) -> Response {
    let account_id = PathParams::decoded(params.account_id);
    let identifier = params.identifier.map(PathParams::decoded);
    let account = AccountId::new(&*account_id);
    if let Err(e) = &account
        && let Some(res) = id_error(e, "account_id")
    {
        return res;
    }
    if let Some(id) = &identifier
        && let Err(e) = VideoId::new(&**id)
        && let Some(res) = id_error(&e, "identifier")
    {
        return res;
    }
    let Ok(account) = account else { return unknown_account(&account_id) };
    if !shared.store().has_account(&account) {
        return unknown_account(account.as_str());
    }
    match op {
        SigningOperation::CreateToken => {
            let id = identifier.unwrap_or_default();
            let video = match VideoId::new(&*id) {
                Ok(v) if shared.store().video(&account, &v).is_ok() => v,
                _ => return unknown_video(account.as_str(), &id),
            };
            create_token(shared, &video, body).await
        }
        SigningOperation::CreateKey => {
            if let Err(res) = read_body(body, MAX_BODY).await {
                return res;
            }
            let key = match generate_off_runtime().await {
                Ok(k) => k,
                Err(e) => return internal("cannot generate a signing key", &e),
            };
            let (a, saved) = (account.clone(), key.saved.clone());
            match shared.change_async(move |store| store.add_key(&a, saved)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return unknown_account(account.as_str()),
                Err(e) => return respond::not_saved(&e),
            }
            let mut answer = SigningKey::new(key.saved.id);
            answer.pem = Some(key.pem.into());
            answer.jwk = Some(key.jwk.into());
            answer.created = Some(key.saved.created);
            respond::success(answer)
        }
        SigningOperation::ListKeys => match shared.store().keys(&account) {
            Ok(keys) => respond::success(
                keys.iter()
                    .map(|k| {
                        let mut key = SigningKey::new(k.id.clone());
                        key.created = Some(k.created.clone());
                        key
                    })
                    .collect::<Vec<_>>(),
            ),
            Err(_) => unknown_account(account.as_str()),
        },
        SigningOperation::DeleteKey => {
            let id = identifier.unwrap_or_default();
            let not_found = || {
                failure(
                    StatusCode::NOT_FOUND,
                    ErrorCode::from(10404),
                    format!("signing key '{id}' not found in account '{account}'"),
                )
            };
            let Ok(key) = SigningKeyId::new(&*id) else { return not_found() };
            let a = account.clone();
            match shared.change_async(move |store| store.delete_key(&a, &key)).await {
                Ok(Ok(true)) => respond::success("ok"),
                Ok(Ok(false)) => not_found(),
                Ok(Err(_)) => unknown_account(account.as_str()),
                Err(e) => respond::not_saved(&e),
            }
        }
        _ => respond::no_route(),
    }
}

fn bad_request(message: String, pointer: &str) -> Response {
    failure_at(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message, pointer)
}

/// `POST .../stream/{identifier}/token`: an optional body (empty means the defaults).
async fn create_token(shared: &Shared, video: &VideoId, body: Body) -> Response {
    let buf = match read_body(body, MAX_BODY).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let request: TokenRequest = if buf.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        match serde_json::from_slice(&buf) {
            Ok(r) => r,
            Err(e) => return bad_request(format!("invalid token request: {e}"), "body"),
        }
    };
    let now = unix_now();
    if let Err(e) = request.check(now) {
        let pointer = match e {
            TokenRequestError::IdWithoutPem => "pem",
            TokenRequestError::PemWithoutId => "id",
            _ => "exp",
        };
        return bad_request(e.to_string(), pointer);
    }
    if let Some(rules) = &request.access_rules
        && let Err(why) = read_rules(rules)
    {
        return bad_request(format!("invalid token request: {why}"), "accessRules");
    }
    let exp = request.exp.unwrap_or(now.saturating_add(DEFAULT_TOKEN_SECS));
    let mut claims = Claims {
        sub: Some(video.to_string()),
        kid: None,
        exp: Some(exp),
        nbf: Some(request.nbf.unwrap_or(now)),
        downloadable: Some(request.downloadable.unwrap_or(false)),
        access_rules: request.access_rules,
    };
    let (kid, signer) = match (request.id, request.pem) {
        (Some(id), Some(pem)) => {
            let Some(pem) = STANDARD.decode(pem.expose().trim()).ok() else {
                return bad_request("invalid pem: not base64 (the pem of a signing key is the base64 of its PEM text)".into(), "pem");
            };
            match EncodingKey::from_rsa_pem(&pem) {
                Ok(key) => (id.to_string(), key),
                Err(_) => {
                    return bad_request(
                        "invalid pem: not an RSA private key in PEM form".into(),
                        "pem",
                    );
                }
            }
        }
        _ => match own_key(shared).await {
            Ok(own) => (own.id.to_string(), own.signer.clone()),
            Err(e) => return internal("cannot generate the emulator's signing key", &e),
        },
    };
    claims.kid = Some(kid.clone());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid);
    header.typ = None;
    match jsonwebtoken::encode(&header, &claims, &signer) {
        Ok(token) => respond::success(TokenResult::new(SignedToken::new(token))),
        // A PEM that parses but cannot sign (too short a key, for one).
        Err(e) => bad_request(format!("invalid pem: cannot sign with it: {e}"), "pem"),
    }
}

/// Whether a file URL's first segment is shaped like a token (three dot-separated parts) rather
/// than a video id.
pub(crate) fn looks_like_token(segment: &str) -> bool {
    segment.split('.').count() == 3
}

/// Why a token is refused: said in the 403's message, never with the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed,
    UnknownVideo,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    NotDownloadable,
    UnreadableRules,
    Blocked,
}

impl Refusal {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Malformed => "invalid signed URL token: not an RS256 JWT with a kid",
            Refusal::UnknownVideo => "invalid signed URL token: its sub names no video",
            Refusal::UnknownKey => "invalid signed URL token: its kid names no signing key",
            Refusal::BadSignature => "invalid signed URL token: bad signature",
            Refusal::Expired => "invalid signed URL token: expired (exp)",
            Refusal::NotYetValid => "invalid signed URL token: not valid yet (nbf)",
            Refusal::NotDownloadable => {
                "invalid signed URL token: downloads need a token with downloadable: true"
            }
            Refusal::UnreadableRules => {
                "invalid signed URL token: its accessRules cannot be read (types any, ip.src, ip.geoip.country; actions allow, block; at most 5 rules)"
            }
            Refusal::Blocked => "signed URL token refused: its accessRules block this client",
        }
    }
}

/// Checks `token` (from a file URL) at unix time `now`: an RS256 signature by the emulator's
/// own key or by a signing key of the video's account that is not deleted, `kid` in the header
/// (and the same in the claims, if there), `sub` a video, `exp` after now, `nbf` (if any) not
/// after now, `downloadable: true`, and `accessRules` (if any) letting `client` through (see
/// the module docs). Returns the video.
pub(crate) fn verify(
    shared: &Shared,
    token: &str,
    now: i64,
    client: Option<IpAddr>,
) -> Result<VideoId, Refusal> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(Refusal::Malformed);
    }
    let kid = header.kid.ok_or(Refusal::Malformed)?;
    // The claims are read unverified only to find the video, whose account holds the key.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .map_err(|_| Refusal::Malformed)?
        .claims;
    let video = unverified
        .sub
        .as_deref()
        .and_then(|s| VideoId::new(s).ok())
        .ok_or(Refusal::UnknownVideo)?;
    let verifier = {
        let store = shared.store();
        let (account, _) = store.find_video(&video).ok_or(Refusal::UnknownVideo)?;
        let own = shared.own_key.get().filter(|k| k.id.as_str() == kid);
        match own {
            Some(own) => own.verifier.clone(),
            None => {
                let keys = store.keys(account).map_err(|_: Missing| Refusal::UnknownKey)?;
                let key = keys.iter().find(|k| k.id.as_str() == kid).ok_or(Refusal::UnknownKey)?;
                verifier_of(key).map_err(|_| Refusal::UnknownKey)?
            }
        }
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &verifier, &validation)
        .map_err(|_| Refusal::BadSignature)?
        .claims;
    if claims.kid.as_deref().is_some_and(|k| k != kid) {
        return Err(Refusal::UnknownKey);
    }
    match claims.exp {
        Some(exp) if now < exp => {}
        _ => return Err(Refusal::Expired),
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(Refusal::NotYetValid);
    }
    if claims.downloadable != Some(true) {
        return Err(Refusal::NotDownloadable);
    }
    if let Some(rules) = &claims.access_rules {
        let rules = read_rules(rules).map_err(|_| Refusal::UnreadableRules)?;
        if !rules_allow(&rules, client) {
            return Err(Refusal::Blocked);
        }
    }
    Ok(video)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: serde_json::Value) -> Vec<AccessRule> {
        serde_json::from_value(json).unwrap()
    }

    fn verdict(json: serde_json::Value, client: Option<&str>) -> Result<bool, String> {
        let read = read_rules(&rules(json))?;
        Ok(rules_allow(&read, client.map(|c| c.parse().unwrap())))
    }

    #[test]
    fn access_rules_apply_first_to_last_and_no_match_allows() {
        use serde_json::json;
        let v4 = Some("127.0.0.1");
        assert_eq!(verdict(json!([]), v4), Ok(true));
        assert_eq!(verdict(json!([{"type": "any", "action": "block"}]), v4), Ok(false));
        let first_wins =
            json!([{"type": "any", "action": "allow"}, {"type": "any", "action": "block"}]);
        assert_eq!(verdict(first_wins, v4), Ok(true));
        let allow_then_block = |ip: serde_json::Value| json!([{"type": "ip.src", "action": "allow", "ip": ip}, {"type": "any", "action": "block"}]);
        assert_eq!(verdict(allow_then_block(json!(["127.0.0.0/8"])), v4), Ok(true));
        assert_eq!(verdict(allow_then_block(json!(["127.0.0.1"])), v4), Ok(true));
        assert_eq!(verdict(allow_then_block(json!(["127.0.0.2", "10.0.0.0/8"])), v4), Ok(false));
        // An IPv6 entry never matches an IPv4 client, nor the reverse; a mapped one is IPv4.
        assert_eq!(verdict(allow_then_block(json!(["::1/128"])), v4), Ok(false));
        assert_eq!(verdict(allow_then_block(json!(["::1"])), Some("::1")), Ok(true));
        assert_eq!(verdict(allow_then_block(json!(["127.0.0.1"])), Some("::1")), Ok(false));
        assert_eq!(
            verdict(allow_then_block(json!(["127.0.0.1"])), Some("::ffff:127.0.0.1")),
            Ok(true)
        );
        // No address known: no ip.src rule matches.
        assert_eq!(verdict(allow_then_block(json!(["0.0.0.0/0"])), None), Ok(false));
        // A country is never known: the rule never matches, either way.
        let allow_us = json!([
            {"type": "ip.geoip.country", "action": "allow", "country": ["US"]},
            {"type": "any", "action": "block"}
        ]);
        assert_eq!(verdict(allow_us, v4), Ok(false));
        let block_us = json!([{"type": "ip.geoip.country", "action": "block", "country": ["US"]}]);
        assert_eq!(verdict(block_us, v4), Ok(true));
    }

    #[test]
    fn unreadable_access_rules_say_which_and_why() {
        use serde_json::json;
        let why = |j: serde_json::Value| verdict(j, Some("127.0.0.1")).unwrap_err();
        assert_eq!(
            why(json!([{"type": "any", "action": "allow"}, {"type": "ip.asn", "action": "block"}])),
            "accessRules[1]: unknown type 'ip.asn' (any, ip.src or ip.geoip.country)"
        );
        assert_eq!(
            why(json!([{"type": "any", "action": "log"}])),
            "accessRules[0]: unknown action 'log' (allow or block)"
        );
        assert_eq!(
            why(json!([{"type": "ip.src", "action": "allow"}])),
            "accessRules[0]: ip.src without ip"
        );
        assert_eq!(
            why(json!([{"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/8", "10.0.0.300"]}])),
            "accessRules[0]: ip '10.0.0.300' is neither an address nor a CIDR"
        );
        assert_eq!(
            why(json!([{"type": "ip.geoip.country", "action": "block"}])),
            "accessRules[0]: ip.geoip.country without country"
        );
        let six: Vec<serde_json::Value> =
            (0..6).map(|_| json!({"type": "any", "action": "allow"})).collect();
        assert_eq!(why(json!(six)), "accessRules: 6 rules, at most 5 are allowed");
        let five: Vec<serde_json::Value> =
            (0..5).map(|_| json!({"type": "any", "action": "allow"})).collect();
        assert_eq!(verdict(json!(five), None), Ok(true));
    }

    #[test]
    fn templates_match_by_segment() {
        let m = matches("/accounts/a/stream/keys");
        let ops: Vec<_> = m.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, [SigningOperation::CreateKey, SigningOperation::ListKeys]);
        assert_eq!(m[0].1.account_id, "a");
        let m = matches("/accounts/a/stream/b/token");
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].0, m[0].1.identifier), (SigningOperation::CreateToken, Some("b")));
        let m = matches("/accounts/a/stream/keys/k1");
        assert_eq!((m[0].0, m[0].1.identifier), (SigningOperation::DeleteKey, Some("k1")));
        for miss in [
            "/accounts//stream/keys",
            "/accounts/a/stream/keys/",
            "/accounts/a/stream//token",
            "/accounts/a/stream/b/token/x",
            "/accounts/a/stream/b/downloads",
        ] {
            assert!(matches(miss).is_empty(), "{miss}");
        }
    }

    #[test]
    fn pem_lines_are_64_wide() {
        let pem = pem_of(&[7u8; 100]);
        let lines: Vec<_> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PRIVATE KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END PRIVATE KEY-----"));
        assert_eq!(STANDARD.decode(lines[1..lines.len() - 1].concat()).unwrap(), [7u8; 100]);
    }
}
