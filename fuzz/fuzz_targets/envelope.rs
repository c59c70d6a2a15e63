//! Decoding arbitrary bytes as the two envelopes the client reads never panics, and whatever
//! decodes serializes and decodes again to the same value.
#![no_main]

use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = decode::<DownloadsEnvelope>(data) {
        let json = serde_json::to_vec(&env).expect("a decoded envelope serializes");
        let again = decode::<DownloadsEnvelope>(&json).expect("a re-serialized envelope decodes");
        assert_eq!(again, env, "downloads envelope round trip");
        // Reading the outcome never panics either.
        let _ = env.into_result().map(|d| d.iter().count());
    }
    if let Ok(env) = decode::<DeletedEnvelope>(data) {
        let json = serde_json::to_vec(&env).expect("a decoded envelope serializes");
        let again = decode::<DeletedEnvelope>(&json).expect("a re-serialized envelope decodes");
        assert_eq!(again, env, "deleted envelope round trip");
        let _ = env.into_result();
    }
});
