//! Id and download type parsing on arbitrary strings: no panic; what is accepted is only hex
//! (ids) or `[a-z0-9_-]` (types), so every path built from accepted values is one fixed shape
//! with no `..` segment, no `?`, no `#` and no `%`.
//!
//! Input: up to three strings separated by `\n` (account, video, type); a single string is
//! tried as all three.
#![no_main]

use cfstream_types::{AccountId, DownloadType, Endpoint, VideoId};
use libfuzzer_sys::fuzz_target;

fn check_path(e: &Endpoint) {
    let path = e.path();
    assert!(path.starts_with("/accounts/"), "path {path:?}");
    assert!(!path.contains(['?', '#', '%', '\\', ' ']), "path {path:?}");
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    assert!(
        segments.iter().all(|s| !s.is_empty() && *s != "." && *s != ".."),
        "path {path:?} has an empty, '.' or '..' segment"
    );
    let expected = if e.download_type().is_some() { 6 } else { 5 };
    assert_eq!(segments.len(), expected, "path {path:?}");
    let url = e.url("https://api.cloudflare.com/client/v4/");
    assert_eq!(url, format!("https://api.cloudflare.com/client/v4{path}"));
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let first = parts.next().unwrap_or_default();
    let (a, v, t) = match (parts.next(), parts.next()) {
        (Some(v), Some(t)) => (first, v, t),
        (Some(v), None) => (first, v, first),
        _ => (first, first, first),
    };

    let account = a.parse::<AccountId>();
    let video = v.parse::<VideoId>();
    let download_type = t.parse::<DownloadType>();
    for (s, ok) in [(a, account.is_ok()), (v, video.is_ok())] {
        let hex = (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
        assert_eq!(ok, hex, "id {s:?}");
    }
    if let Ok(dt) = &download_type {
        assert!(
            (1..=32).contains(&t.len())
                && t.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'_'
                    || b == b'-'),
            "download type {t:?}"
        );
        assert_eq!(dt.as_str(), t);
    }
    // Errors are bounded and never panic to format.
    if let Err(e) = &video {
        assert!(e.value().chars().count() <= 64);
        let _ = e.to_string();
    }
    if let Err(e) = &download_type {
        assert!(e.value().chars().count() <= 64);
        let _ = e.to_string();
    }

    if let (Ok(account), Ok(video)) = (&account, &video) {
        check_path(&Endpoint::list(account, video));
        check_path(&Endpoint::create(account, video));
        check_path(&Endpoint::delete(account, video));
        for dt in [DownloadType::Default, DownloadType::Audio] {
            check_path(&Endpoint::create_type(account, video, dt.clone()).expect("known type"));
            check_path(&Endpoint::delete_type(account, video, dt).expect("known type"));
        }
        // Whatever the type (parsed, or built by hand as a server's name would be), a typed
        // endpoint is either refused or safe.
        let raw = DownloadType::Other(t.to_owned());
        for dt in download_type.into_iter().chain([raw]) {
            let safe = dt.check_path_safe().is_ok();
            match Endpoint::create_type(account, video, dt.clone()) {
                Ok(e) => check_path(&e),
                Err(_) => assert!(!safe, "a path-safe type was refused: {dt:?}"),
            }
            match Endpoint::delete_type(account, video, dt) {
                Ok(e) => check_path(&e),
                Err(_) => assert!(!safe),
            }
        }
    }
});
