//! Signed URLs: videos that require them (seed, admin, state file), the signing-key endpoints,
//! the token endpoint, and the file route of a signed video (401 without a token, 403 for each
//! way a token can fail, the same bytes as the plain route for a valid one).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cfstream_emulator::{
    DEMO_SIGNED_VIDEO, Fault, FaultRoute, FaultRule, Faults, RunningEmulator, expected_file_bytes,
};
use cfstream_types::{DownloadType, SigningOperation, VideoId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::*;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn admin_url(emu: &RunningEmulator, p: &str) -> String {
    format!("http://{}/__emulator/{p}", emu.addr())
}

fn keys_url(emu: &RunningEmulator) -> String {
    format!("{}/accounts/{}/stream/keys", emu.base_url(), emu.account())
}

fn token_url(emu: &RunningEmulator, video: &str) -> String {
    format!("{}/accounts/{}/stream/{video}/token", emu.base_url(), emu.account())
}

fn file_url(emu: &RunningEmulator, id: &str) -> String {
    format!("http://{}/{id}/downloads/default.mp4", emu.addr())
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// A key created through the API: its id and its private key for jsonwebtoken.
struct ApiKey {
    id: String,
    pem_b64: String,
    signer: EncodingKey,
}

async fn create_key(emu: &RunningEmulator) -> ApiKey {
    let (s, _, body) = authed(client().post(keys_url(emu))).await;
    assert_eq!(s, 200, "{body}");
    let r = &body["result"];
    let pem_b64 = r["pem"].as_str().unwrap().to_owned();
    let pem = STANDARD.decode(&pem_b64).unwrap();
    ApiKey {
        id: r["id"].as_str().unwrap().to_owned(),
        signer: EncodingKey::from_rsa_pem(&pem).unwrap(),
        pem_b64,
    }
}

/// An RS256 token with header `kid` and these claims.
fn token(signer: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, signer).unwrap()
}

fn claims(sub: &str, kid: &str) -> Value {
    json!({"sub": sub, "kid": kid, "exp": now() + 600, "nbf": now() - 5, "downloadable": true})
}

/// An emulator whose signed demo video has a ready default download.
async fn with_ready_signed_download() -> RunningEmulator {
    let emu = start().await;
    let video = emu.signed_video().unwrap();
    let (s, _, body) = authed(client().post(downloads_url(&emu, video.as_str(), ""))).await;
    assert_eq!(s, 200, "{body}");
    emu
}

/// The claims of a token, read without checking it.
fn decode_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let part = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (part(parts[0]), part(parts[1]))
}

#[tokio::test]
async fn videos_require_signed_urls_by_seed_admin_and_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = builder().state_file(&path).start().await.unwrap();
    let signed = emu.signed_video().unwrap();
    assert_eq!(signed.as_str(), DEMO_SIGNED_VIDEO);
    let ready = emu.ready_video().unwrap();
    assert_ne!(ready, signed, "ready_video is never a signed one");
    let info = emu.videos().into_iter().find(|v| v.id == signed).unwrap();
    assert!(info.ready_to_stream && info.require_signed_urls);
    let c = client();

    // The admin route flips it, in both directions, and answers the video.
    let put = |video: &str, require: bool| {
        c.put(admin_url(&emu, "signed"))
            .json(&json!({"video": video, "require_signed_urls": require}))
    };
    let (s, _, body) = authed(put(ready.as_str(), true)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"]["require_signed_urls"], true);
    assert_eq!(body["result"]["id"], ready.as_str());
    let (_, _, state) = authed(c.get(admin_url(&emu, "state"))).await;
    let shown: Vec<(String, bool)> = state["result"]["accounts"][0]["videos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["require_signed_urls"] == true)
        .map(|v| (v["id"].as_str().unwrap().to_owned(), true))
        .collect();
    assert_eq!(shown, [(ready.to_string(), true), (signed.to_string(), true)]);
    let got = authed(put("abc", true)).await;
    assert_failure(&got, 404, 10404);
    let got = authed(c.put(admin_url(&emu, "signed")).json(&json!({"video": "abc"}))).await;
    assert_failure(&got, 400, 10400);
    assert_eq!(send(put(ready.as_str(), true)).await.0, 401, "admin routes need credentials");

    // Adding a video may make it require signed URLs; the default is not to.
    let (_, _, added) =
        authed(c.post(admin_url(&emu, "videos")).json(&json!({"require_signed_urls": true}))).await;
    assert_eq!(added["result"]["require_signed_urls"], true, "{added}");
    let (_, _, plain) = authed(c.post(admin_url(&emu, "videos")).json(&json!({}))).await;
    assert_eq!(plain["result"]["require_signed_urls"], false, "{plain}");

    // The state file keeps it across a restart.
    let (s, _, _) = authed(put(ready.as_str(), false)).await;
    assert_eq!(s, 200);
    emu.admin().set_require_signed_urls(&emu.account(), &ready, false).unwrap();
    let before = emu.videos();
    emu.shutdown().await;
    let emu = builder().state_file(&path).start().await.unwrap();
    assert_eq!(emu.videos(), before);
    let added_id: VideoId = added["result"]["id"].as_str().unwrap().parse().unwrap();
    assert!(emu.videos().iter().any(|v| v.id == added_id && v.require_signed_urls));
    let e = emu.admin().set_require_signed_urls(&emu.account(), &"abc".parse().unwrap(), true);
    assert_eq!(e.unwrap_err().kind(), cfstream_emulator::ErrorKind::UnknownVideo);
    emu.shutdown().await;

    // A state file of an older emulator (no such field) still loads: nothing requires them.
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        r#"{"version":1,"next_video":0,"accounts":[{"id":"ab","videos":[{"id":"cd","ready_to_stream":true,"duration_secs":1.0}]}]}"#,
    )
    .unwrap();
    let emu = builder().state_file(&old).start().await.unwrap();
    assert!(!emu.videos()[0].require_signed_urls);
    assert_eq!(emu.signed_video(), None);
}

#[tokio::test]
async fn signing_keys_are_created_listed_and_deleted() {
    let emu = start().await;
    let c = client();
    let (s, headers, body) = authed(c.post(keys_url(&emu))).await;
    assert_eq!(s, 200, "{body}");
    assert!(headers.contains_key("x-ratelimit-limit"), "rate limited as the API");
    assert_eq!(sorted_keys(&body), ["errors", "messages", "result", "success"]);
    assert_eq!((&body["success"], &body["errors"]), (&json!(true), &json!([])));
    let r = &body["result"];
    assert_eq!(sorted_keys(r), ["created", "id", "jwk", "pem"]);
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    humantime::parse_rfc3339(r["created"].as_str().unwrap()).unwrap();
    // `pem` is base64 of a PEM RSA private key; `jwk` is base64 of the public JWK.
    let pem = String::from_utf8(STANDARD.decode(r["pem"].as_str().unwrap()).unwrap()).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{}", &pem[..40]);
    assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let jwk: Value =
        serde_json::from_slice(&STANDARD.decode(r["jwk"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(sorted_keys(&jwk), ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["kid"]),
        (&json!("RSA"), &json!("RS256"), &json!(id))
    );
    assert_eq!(jwk["e"], "AQAB");
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "an RSA 2048 modulus");
    let decoded: cfstream_types::signed::SigningKeyEnvelope =
        cfstream_types::decode(body.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.result.unwrap().id.as_str(), id);

    let second = create_key(&emu).await;
    let (s, _, list) = authed(c.get(keys_url(&emu))).await;
    assert_eq!(s, 200);
    assert_eq!(
        list["result"],
        json!([
            {"id": id, "created": r["created"]},
            {"id": second.id, "created": list["result"][1]["created"]},
        ])
    );
    let (_, _, state) = authed(c.get(admin_url(&emu, "state"))).await;
    assert_eq!(state["result"]["accounts"][0]["signing_keys"], list["result"]);

    let key_url = format!("{}/{id}", keys_url(&emu));
    let (s, _, body) = authed(c.delete(&key_url)).await;
    assert_eq!(s, 200);
    check_deleted_shape(&body);
    let msg = assert_failure(&authed(c.delete(&key_url)).await, 404, 10404);
    assert_eq!(msg, format!("signing key '{id}' not found in account '{}'", emu.account()));
    assert_failure(&authed(c.delete(format!("{}/zz", keys_url(&emu)))).await, 404, 10404);
    let (_, _, list) = authed(c.get(keys_url(&emu))).await;
    assert_eq!(list["result"].as_array().unwrap().len(), 1);
    assert_eq!(list["result"][0]["id"], second.id);

    // Auth, account and method as the downloads operations.
    assert_failure(&send(c.get(keys_url(&emu))).await, 401, 9106);
    assert_failure(&send(c.get(keys_url(&emu)).bearer_auth("nope")).await, 403, 10000);
    let other = format!("{}/accounts/ab/stream/keys", emu.base_url());
    assert_failure(&authed(c.get(other)).await, 403, 10000);
    let got = authed(c.put(keys_url(&emu))).await;
    assert_failure(&got, 405, 10405);
    assert_eq!(got.1["allow"], "POST, GET, HEAD");
    let got = authed(c.get(&key_url)).await;
    assert_eq!(got.1["allow"], "DELETE");
}

#[tokio::test]
async fn signing_routes_take_faults_and_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let faults = Faults::none()
        .rule(FaultRule::script(
            FaultRoute::Signing(SigningOperation::ListKeys),
            [Fault::Status { status: 503 }],
        ))
        .rule(FaultRule::script(
            FaultRoute::Signing(SigningOperation::CreateToken),
            [Fault::RateLimited { retry_after_secs: 7 }],
        ));
    let emu = builder().faults(faults).state_file(&path).start().await.unwrap();
    let c = client();
    assert_failure(&authed(c.get(keys_url(&emu))).await, 503, 10503);
    assert_eq!(authed(c.get(keys_url(&emu))).await.0, 200, "the script is used up");
    let got = authed(c.post(token_url(&emu, DEMO_SIGNED_VIDEO))).await;
    assert_failure(&got, 429, 10429);
    assert_eq!(got.1["retry-after"], "7");
    // The routes' JSON names are the operations' names.
    for name in ["create_token", "create_key", "list_keys", "delete_key"] {
        let text = format!(r#"{{"rules":[{{"trigger":"script","route":"{name}","answers":[]}}]}}"#);
        let f = Faults::from_json(&text).unwrap();
        assert!(serde_json::to_string(&f).unwrap().contains(&format!("\"{name}\"")), "{name}");
    }

    let key = create_key(&emu).await;
    emu.shutdown().await;
    let emu = builder().state_file(&path).start().await.unwrap();
    let (_, _, list) = authed(c.get(keys_url(&emu))).await;
    assert_eq!(list["result"][0]["id"], key.id, "kept across a restart");
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(!on_disk.contains("PRIVATE"), "only the public key is kept");
    authed(c.post(downloads_url(&emu, DEMO_SIGNED_VIDEO, ""))).await;
    let t = token(&key.signer, &key.id, &claims(DEMO_SIGNED_VIDEO, &key.id));
    assert_eq!(c.get(file_url(&emu, &t)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_token_endpoint_signs_with_its_own_key_or_the_one_given() {
    let emu = with_ready_signed_download().await;
    let c = client();
    let url = token_url(&emu, DEMO_SIGNED_VIDEO);

    // No body: the defaults (not downloadable, one hour).
    let (s, _, body) = authed(c.post(&url)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(sorted_keys(&body["result"]), ["token"]);
    let t = body["result"]["token"].as_str().unwrap().to_owned();
    let decoded: cfstream_types::signed::TokenEnvelope =
        cfstream_types::decode(body.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.result.unwrap().token.expose(), t);
    let (header, claims_of) = decode_parts(&t);
    assert_eq!(header["alg"], "RS256");
    let own_kid = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(claims_of["kid"], own_kid);
    assert_eq!(claims_of["sub"], DEMO_SIGNED_VIDEO);
    assert_eq!(claims_of["downloadable"], false);
    let exp = claims_of["exp"].as_i64().unwrap();
    assert!((now() + 3590..=now() + 3600).contains(&exp), "{exp}");
    assert!(claims_of["nbf"].as_i64().unwrap() <= now());
    let got = send(c.get(file_url(&emu, &t))).await;
    assert_eq!(
        assert_failure(&got, 403, 10403),
        "invalid signed URL token: downloads need a token with downloadable: true"
    );

    // Downloadable, with an expiry: it serves the file; the own key's kid is stable.
    let body_json = json!({"downloadable": true, "exp": now() + 120, "nbf": now() - 10,
        "accessRules": [{"type": "any", "action": "allow"}]});
    let (s, _, body) = authed(c.post(&url).json(&body_json)).await;
    assert_eq!(s, 200, "{body}");
    let t = body["result"]["token"].as_str().unwrap();
    let (header, claims_of) = decode_parts(t);
    assert_eq!(header["kid"], own_kid);
    assert_eq!(claims_of["exp"], body_json["exp"]);
    assert_eq!(claims_of["nbf"], body_json["nbf"]);
    assert_eq!(claims_of["accessRules"], body_json["accessRules"]);
    let res = c.get(file_url(&emu, t)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), 10_000);

    // Signed with a key given by id and pem.
    let key = create_key(&emu).await;
    let (s, _, body) =
        authed(c.post(&url).json(&json!({"downloadable": true, "id": key.id, "pem": key.pem_b64})))
            .await;
    assert_eq!(s, 200, "{body}");
    let t = body["result"]["token"].as_str().unwrap();
    assert_eq!(decode_parts(t).0["kid"], key.id);
    assert_eq!(c.get(file_url(&emu, t)).send().await.unwrap().status(), 200);

    // The documented refusals: 400 naming the field.
    let cases = [
        (json!({"exp": now() + 24 * 3600 + 60}), "exp", "is more than 24 hours after"),
        (json!({"id": key.id}), "pem", "a signing key `id` without its `pem`"),
        (json!({"id": key.id, "exp": now() + 60}), "pem", "a signing key `id` without its `pem`"),
        (json!({"pem": key.pem_b64}), "id", "a signing key `pem` without its `id`"),
        (json!({"id": key.id, "pem": "%%%"}), "pem", "invalid pem: not base64"),
        (json!({"id": key.id, "pem": STANDARD.encode("hello")}), "pem", "invalid pem: not an RSA"),
        (json!({"downloadable": "yes"}), "body", "invalid token request"),
    ];
    for (req, pointer, needle) in cases {
        let got = authed(c.post(&url).json(&req)).await;
        let msg = assert_failure(&got, 400, 10400);
        assert!(msg.contains(needle), "{req}: {msg}");
        assert_eq!(got.2["errors"][0]["source"]["pointer"], pointer, "{req}");
    }
    assert_failure(&authed(c.post(&url).body("{")).await, 400, 10400);
    // Unknown video, unknown account, no credentials.
    let got = authed(c.post(token_url(&emu, "abc"))).await;
    assert_eq!(
        assert_failure(&got, 404, 10404),
        format!("video 'abc' not found in account '{}'", emu.account())
    );
    assert_failure(&authed(c.post(token_url(&emu, &"a".repeat(40)))).await, 400, 10400);
    assert_failure(&send(c.post(&url)).await, 401, 9106);
    let got = authed(c.get(&url)).await;
    assert_failure(&got, 405, 10405);
    assert_eq!(got.1["allow"], "POST");
}

#[tokio::test]
async fn the_file_of_a_signed_video_needs_a_valid_token() {
    let emu = with_ready_signed_download().await;
    let c = client();
    let video: VideoId = DEMO_SIGNED_VIDEO.parse().unwrap();
    let key = create_key(&emu).await;
    let other = create_key(&emu).await;

    // No token: 401, for GET and HEAD alike.
    let got = send(c.get(file_url(&emu, DEMO_SIGNED_VIDEO))).await;
    assert_eq!(
        assert_failure(&got, 401, 10401),
        "this video requires signed URLs: put a token with downloadable: true in place of the video id"
    );
    assert_eq!(c.head(file_url(&emu, DEMO_SIGNED_VIDEO)).send().await.unwrap().status(), 401);

    let good = claims(DEMO_SIGNED_VIDEO, &key.id);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let refusals: Vec<(&str, String, &str)> = vec![
        ("bad signature", token(&other.signer, &key.id, &good), "bad signature"),
        (
            "wrong sub",
            token(
                &key.signer,
                &key.id,
                &with(&|c| c["sub"] = json!("0123456789abcdef0123456789abcdef")),
            ),
            "its sub names no video",
        ),
        (
            "no sub",
            token(
                &key.signer,
                &key.id,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            ),
            "its sub names no video",
        ),
        (
            "unknown kid",
            token(
                &key.signer,
                "00000000000000000000000000000000",
                &with(&|c| c["kid"] = json!("00000000000000000000000000000000")),
            ),
            "its kid names no signing key",
        ),
        (
            "claim kid differs",
            token(&key.signer, &key.id, &with(&|c| c["kid"] = json!(other.id))),
            "its kid names no signing key",
        ),
        (
            "expired",
            token(&key.signer, &key.id, &with(&|c| c["exp"] = json!(now() - 10))),
            "expired (exp)",
        ),
        (
            "no exp",
            token(
                &key.signer,
                &key.id,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            "expired (exp)",
        ),
        (
            "not yet valid",
            token(&key.signer, &key.id, &with(&|c| c["nbf"] = json!(now() + 3600))),
            "not valid yet (nbf)",
        ),
        (
            "not downloadable",
            token(&key.signer, &key.id, &with(&|c| c["downloadable"] = json!(false))),
            "downloadable: true",
        ),
        (
            "downloadable absent",
            token(
                &key.signer,
                &key.id,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("downloadable");
                }),
            ),
            "downloadable: true",
        ),
        ("not a jwt", "aa.bb.cc".to_owned(), "not an RS256 JWT"),
    ];
    for (name, t, needle) in &refusals {
        let got = send(c.get(file_url(&emu, t))).await;
        let msg = assert_failure(&got, 403, 10403);
        assert!(msg.contains(needle), "{name}: {msg}");
        assert!(!msg.contains(t.as_str()), "{name}: the token is never echoed");
    }

    // A valid token: the same bytes, ranges, HEAD and filename as the plain route.
    let t = token(&key.signer, &key.id, &good);
    let url = file_url(&emu, &t);
    let expect =
        |start: u64, len: usize| expected_file_bytes(&video, &DownloadType::Default, start, len);
    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert_eq!(res.headers()["content-length"], "10000");
    assert!(res.bytes().await.unwrap()[..] == expect(0, 10_000)[..]);
    for (range, start, end) in
        [("bytes=0-99", 0, 99), ("bytes=9990-", 9990, 9999), ("bytes=-10", 9990, 9999)]
    {
        let res = c.get(&url).header("range", range).send().await.unwrap();
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(res.headers()["content-range"], format!("bytes {start}-{end}/10000"));
        assert_eq!(res.bytes().await.unwrap()[..], expect(start, (end - start + 1) as usize)[..]);
    }
    let got = send(c.get(&url).header("range", "bytes=10000-")).await;
    assert_failure(&got, 416, 10416);
    let res = c.head(&url).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["content-length"].clone()),
        (200, "10000".parse().unwrap())
    );
    assert!(res.bytes().await.unwrap().is_empty());
    let res = c.get(format!("{url}?filename=private_1")).send().await.unwrap();
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"private_1.mp4\"");
    let got = send(c.get(format!("{url}?filename=a.b"))).await;
    assert_failure(&got, 400, 10400);
    // Audio: 404 until made, then served with the same token.
    let audio = url.replace("default.mp4", "audio.m4a");
    assert_failure(&send(c.get(&audio)).await, 404, 10404);
    authed(c.post(downloads_url(&emu, DEMO_SIGNED_VIDEO, "/audio"))).await;
    let res = c.get(&audio).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "audio/mp4");
    assert!(
        res.bytes().await.unwrap()[..]
            == expected_file_bytes(&video, &DownloadType::Audio, 0, 10_000)[..]
    );

    // The token never reaches the request log.
    let log = emu.admin().requests();
    assert!(log.iter().all(|r| !r.path.contains(&t)), "{log:?}");
    assert!(log.iter().any(|r| r.path == "/[token]/downloads/default.mp4?filename=private_1"));

    // A deleted key's tokens are refused; unsigned videos keep their plain URLs, and a valid
    // token serves them too.
    let plain = ready_video(&emu);
    authed(c.post(downloads_url(&emu, &plain, ""))).await;
    assert_eq!(c.get(file_url(&emu, &plain)).send().await.unwrap().status(), 200);
    let t_plain = token(&key.signer, &key.id, &claims(&plain, &key.id));
    assert_eq!(c.get(file_url(&emu, &t_plain)).send().await.unwrap().status(), 200);
    authed(c.delete(format!("{}/{}", keys_url(&emu), key.id))).await;
    let got = send(c.get(&url)).await;
    assert!(assert_failure(&got, 403, 10403).contains("its kid names no signing key"));
    // A video that stops requiring signed URLs serves its plain URL again.
    emu.admin().set_require_signed_urls(&emu.account(), &video, false).unwrap();
    assert_eq!(c.get(file_url(&emu, DEMO_SIGNED_VIDEO)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_key_of_another_account_does_not_sign_for_this_one() {
    let emu = start().await;
    let c = client();
    let other: cfstream_types::AccountId = "0a".parse().unwrap();
    let foreign = emu.admin().add_video(&other, true);
    emu.admin().set_require_signed_urls(&other, &foreign, true).unwrap();
    authed(c.post(format!("{}/accounts/0a/stream/{foreign}/downloads", emu.base_url()))).await;
    let key = create_key(&emu).await;
    let t = token(&key.signer, &key.id, &claims(foreign.as_str(), &key.id));
    let got = send(c.get(file_url(&emu, &t))).await;
    assert!(assert_failure(&got, 403, 10403).contains("its kid names no signing key"));
}

/// `accessRules` are enforced on the file route: first to last, the first rule that matches
/// decides, none matching serves. The client is the test itself, on loopback; a country is
/// never known to the emulator.
#[tokio::test]
async fn access_rules_block_or_allow_the_file() {
    let emu = with_ready_signed_download().await;
    let c = client();
    let key = create_key(&emu).await;
    let with_rules = |rules: Value| {
        let mut cl = claims(DEMO_SIGNED_VIDEO, &key.id);
        cl["accessRules"] = rules;
        token(&key.signer, &key.id, &cl)
    };
    const BLOCKED: &str = "signed URL token refused: its accessRules block this client";
    const UNREADABLE: &str = "invalid signed URL token: its accessRules cannot be read (types any, ip.src, ip.geoip.country; actions allow, block; at most 5 rules)";
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("no rules", json!([]), None),
        (
            "block loopback",
            json!([{"type": "ip.src", "action": "block", "ip": ["127.0.0.0/8"]}]),
            Some(BLOCKED),
        ),
        (
            "block another network only",
            json!([{"type": "ip.src", "action": "block", "ip": ["10.0.0.0/8"]}]),
            None,
        ),
        (
            "allow this address, then block any",
            json!([{"type": "ip.src", "action": "allow", "ip": ["127.0.0.1"]}, {"type": "any", "action": "block"}]),
            None,
        ),
        (
            "allow other addresses (IPv6 too), then block any",
            json!([{"type": "ip.src", "action": "allow", "ip": ["93.184.216.0/24", "::1/128"]}, {"type": "any", "action": "block"}]),
            Some(BLOCKED),
        ),
        (
            "any block first",
            json!([{"type": "any", "action": "block"}, {"type": "any", "action": "allow"}]),
            Some(BLOCKED),
        ),
        (
            "any allow first",
            json!([{"type": "any", "action": "allow"}, {"type": "any", "action": "block"}]),
            None,
        ),
        (
            "allow a country, then block any: the country is unknown",
            json!([{"type": "ip.geoip.country", "action": "allow", "country": ["US", "MX"]}, {"type": "any", "action": "block"}]),
            Some(BLOCKED),
        ),
        (
            "block a country: never matches",
            json!([{"type": "ip.geoip.country", "action": "block", "country": ["US"]}]),
            None,
        ),
        (
            "an unknown type",
            json!([{"type": "ip.asn", "action": "block", "asn": 13335}]),
            Some(UNREADABLE),
        ),
        ("an unknown action", json!([{"type": "any", "action": "log"}]), Some(UNREADABLE)),
        (
            "an ip that is not one",
            json!([{"type": "ip.src", "action": "allow", "ip": ["localhost"]}]),
            Some(UNREADABLE),
        ),
        ("six rules", json!(vec![json!({"type": "any", "action": "allow"}); 6]), Some(UNREADABLE)),
    ];
    let video: VideoId = DEMO_SIGNED_VIDEO.parse().unwrap();
    let mut wrong = Vec::new();
    for (name, rules, refused) in cases {
        let t = with_rules(rules);
        let res = c.get(file_url(&emu, &t)).send().await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        let ok = match refused {
            None => {
                status == 200
                    && bytes[..]
                        == expected_file_bytes(&video, &DownloadType::Default, 0, 10_000)[..]
            }
            Some(message) => {
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                status == 403
                    && body["errors"][0]["code"] == 10403
                    && body["errors"][0]["message"] == message
            }
        };
        if !ok {
            wrong.push(format!(
                "{name}: {status} {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The token endpoint carries the rules into the token (which the file route then enforces)
/// and refuses rules it could not enforce.
#[tokio::test]
async fn the_token_endpoint_carries_access_rules_and_refuses_unreadable_ones() {
    let emu = with_ready_signed_download().await;
    let c = client();
    let ask = |rules: Value| {
        c.post(token_url(&emu, DEMO_SIGNED_VIDEO))
            .json(&json!({"downloadable": true, "accessRules": rules}))
    };
    let blocking = json!([{"type": "any", "action": "block"}]);
    let (s, _, body) = authed(ask(blocking.clone())).await;
    assert_eq!(s, 200, "{body}");
    let t = body["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(decode_parts(&t).1["accessRules"], blocking);
    let got = send(c.get(file_url(&emu, &t))).await;
    assert_eq!(
        assert_failure(&got, 403, 10403),
        "signed URL token refused: its accessRules block this client"
    );
    let (s, _, body) =
        authed(ask(json!([{"type": "ip.src", "action": "allow", "ip": ["127.0.0.1/32"]}]))).await;
    assert_eq!(s, 200, "{body}");
    let t = body["result"]["token"].as_str().unwrap();
    assert_eq!(c.get(file_url(&emu, t)).send().await.unwrap().status(), 200);

    let got =
        authed(ask(json!([{"type": "ip.src", "action": "allow", "ip": ["300.1.2.3"]}]))).await;
    assert_eq!(
        assert_failure(&got, 400, 10400),
        "invalid token request: accessRules[0]: ip '300.1.2.3' is neither an address nor a CIDR"
    );
    assert_eq!(got.2["errors"][0]["source"]["pointer"], "accessRules", "{}", got.2);
}
