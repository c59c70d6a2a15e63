//! The emulator's starting data: [`Seed`] (accounts holding videos) and [`VideoInfo`].
//!
//! # Seed file format
//!
//! A seed file is JSON: a list of accounts, each with its videos. `duration_secs` is optional
//! (default 30), `ready_to_stream` too (default `true`), and `require_signed_urls` (default
//! `false`: a video that requires signed URLs serves its files only to a signed URL).
//!
//! ```json
//! {
//!   "accounts": [
//!     {
//!       "id": "023e105f4ecef8ad9ca31a8372d0c353",
//!       "videos": [
//!         { "id": "ea95132c15732412d22c1476fa83f27a", "ready_to_stream": true, "duration_secs": 120.5 },
//!         { "id": "0c1d2e3f405162738495a6b7c8d9eafb", "ready_to_stream": false },
//!         { "id": "5ec0de0f1a2b3c4d5e6f708192a3b4c5", "require_signed_urls": true }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! Ids are validated as the API validates them (1 to 32 hex digits); a video id may appear
//! only once per account; the first account is the one [`crate::RunningEmulator::account`]
//! returns.

use std::path::Path;

use cfstream_types::{AccountId, VideoId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::model::{Account, Video};
pub use crate::model::{DEFAULT_DURATION_SECS, VideoInfo};

/// The demo account of [`Seed::demo`].
pub const DEMO_ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The demo videos of [`Seed::demo`]: (id, ready to stream, duration in seconds, what it is).
pub const DEMO_VIDEOS: [(&str, bool, f64, &str); 4] = [
    ("ea95132c15732412d22c1476fa83f27a", true, 120.5, "ready to stream, two minutes"),
    ("5d5bc37ffcf54c9b82e996823bffbb81", true, 4.2, "ready to stream, short"),
    ("9d0e1a8b6a7c4f1e8f2b3c4d5e6f7a8b", true, 7260.0, "ready to stream, long (two hours)"),
    ("0c1d2e3f405162738495a6b7c8d9eafb", false, 60.0, "not ready to stream yet"),
];

/// The demo video of [`Seed::demo`] that requires signed URLs: ready to stream, 45 seconds,
/// after the [`DEMO_VIDEOS`]. Its plain file URL answers 401; a signed URL serves it.
pub const DEMO_SIGNED_VIDEO: &str = "5ec0de0f1a2b3c4d5e6f708192a3b4c5";

/// The data the emulator starts with (and returns to on reset): accounts holding videos.
///
/// See the [module docs](crate::seed) for the file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    accounts: Vec<Account>,
}

impl Default for Seed {
    fn default() -> Self {
        Seed::demo()
    }
}

impl Seed {
    /// The demo seed: account [`DEMO_ACCOUNT`] holding the [`DEMO_VIDEOS`] (ready and not
    /// ready, long and short), then [`DEMO_SIGNED_VIDEO`] (requires signed URLs).
    pub fn demo() -> Seed {
        let mut seed = Seed::empty_account(demo_account());
        for (id, ready, duration, _) in DEMO_VIDEOS {
            let id = VideoId::new(id).expect("DEMO_VIDEOS ids are 32 hex digits");
            seed.accounts[0].videos.push(Video::new(id, ready, duration));
        }
        let id = VideoId::new(DEMO_SIGNED_VIDEO).expect("DEMO_SIGNED_VIDEO is 32 hex digits");
        let mut signed = Video::new(id, true, 45.0);
        signed.require_signed_urls = true;
        seed.accounts[0].videos.push(signed);
        seed
    }

    /// A seed with one account and no videos (add them with [`Seed::with_video`] or through
    /// [`crate::Admin::add_video`]).
    pub fn empty_account(account: AccountId) -> Seed {
        Seed { accounts: vec![Account::new(account)] }
    }

    /// The same seed with one more video in `account` (the account is added if missing).
    ///
    /// A video id already in the account is replaced. A duration that is not a finite,
    /// non-negative number is replaced by the default ([`DEFAULT_DURATION_SECS`]).
    #[must_use]
    pub fn with_video(
        mut self,
        account: &AccountId,
        id: VideoId,
        ready_to_stream: bool,
        duration_secs: f64,
    ) -> Seed {
        let index = match self.accounts.iter().position(|a| &a.id == account) {
            Some(i) => i,
            None => {
                self.accounts.push(Account::new(account.clone()));
                self.accounts.len() - 1
            }
        };
        let videos = &mut self.accounts[index].videos;
        videos.retain(|v| v.id != id);
        videos.push(Video::new(id, ready_to_stream, duration_secs));
        self
    }

    /// Parses a seed from JSON text (see the [module docs](crate::seed)).
    pub fn from_json(text: &str) -> Result<Seed, Error> {
        let seed: Seed = serde_json::from_str(text).map_err(|e| {
            Error::with_source(ErrorKind::InvalidSeed, format!("invalid seed: {e}"), e)
        })?;
        seed.validate()?;
        Ok(seed)
    }

    /// Reads a seed file (see the [module docs](crate::seed)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Seed, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot read seed file '{}': {e}", path.display()),
                e,
            )
        })?;
        Seed::from_json(&text).map_err(|e| {
            Error::new(e.kind(), format!("invalid seed file '{}': {e}", path.display()))
        })
    }

    /// The seed as pretty JSON, in the file format.
    pub fn to_json(&self) -> String {
        // A Seed holds only strings, booleans and finite numbers: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The accounts, in order.
    pub fn accounts(&self) -> Vec<AccountId> {
        self.accounts.iter().map(|a| a.id.clone()).collect()
    }

    /// Every video, account by account.
    pub fn videos(&self) -> Vec<VideoInfo> {
        crate::model::videos(&self.accounts)
    }

    pub(crate) fn raw_accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.accounts.is_empty() {
            return Err(Error::new(ErrorKind::InvalidSeed, "seed has no account"));
        }
        crate::model::check_unique(&self.accounts, "the seed")
            .map_err(|e| Error::new(ErrorKind::InvalidSeed, e))?;
        for account in &self.accounts {
            if !account.keys.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidSeed,
                    format!(
                        "account '{}' has signing keys: a seed holds none (create them through the API)",
                        account.id
                    ),
                ));
            }
            for video in &account.videos {
                if !video.downloads.is_empty() {
                    return Err(Error::new(
                        ErrorKind::InvalidSeed,
                        format!("video '{}' has downloads: a seed holds none", video.id),
                    ));
                }
                if !(video.duration_secs.is_finite() && video.duration_secs >= 0.0) {
                    return Err(Error::new(
                        ErrorKind::InvalidSeed,
                        format!(
                            "video '{}' has an invalid duration_secs {}: must be a finite number >= 0",
                            video.id, video.duration_secs
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn demo_account() -> AccountId {
    AccountId::new(DEMO_ACCOUNT).expect("DEMO_ACCOUNT is 32 hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_is_valid_and_has_every_kind_of_video() {
        let seed = Seed::demo();
        seed.validate().unwrap();
        let videos = seed.videos();
        assert_eq!(videos.len(), 5);
        assert!(videos.iter().any(|v| !v.ready_to_stream));
        let signed: Vec<_> = videos.iter().filter(|v| v.require_signed_urls).collect();
        assert_eq!(signed.len(), 1);
        assert_eq!(signed[0].id.as_str(), DEMO_SIGNED_VIDEO);
        assert!(signed[0].ready_to_stream);
        // The first video ready to stream is an unsigned one.
        assert!(!videos.iter().find(|v| v.ready_to_stream).unwrap().require_signed_urls);
        assert!(videos.iter().any(|v| v.duration_secs > 3600.0));
        assert!(videos.iter().any(|v| v.duration_secs < 10.0));
        assert_eq!(seed.accounts()[0].as_str(), DEMO_ACCOUNT);
    }

    #[test]
    fn json_round_trip_and_defaults() {
        let seed = Seed::from_json(
            r#"{"accounts":[{"id":"abc","videos":[{"id":"def"},{"id":"123","ready_to_stream":false,"duration_secs":2}]}]}"#,
        )
        .unwrap();
        let v = seed.videos();
        assert!(v[0].ready_to_stream);
        assert!(!v[0].require_signed_urls);
        assert_eq!(v[0].duration_secs, DEFAULT_DURATION_SECS);
        assert!(!v[1].ready_to_stream);
        assert_eq!(Seed::from_json(&seed.to_json()).unwrap(), seed);
    }

    #[test]
    fn rejects_bad_seeds_naming_the_fault() {
        let e = Seed::from_json(r#"{"accounts":[{"id":"xyz"}]}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSeed);
        assert!(e.to_string().contains("invalid account id 'xyz'"), "{e}");
        let e = Seed::from_json(r#"{"accounts":[]}"#).unwrap_err();
        assert!(e.to_string().contains("no account"), "{e}");
        let e = Seed::from_json(r#"{"accounts":[{"id":"a","videos":[{"id":"b"},{"id":"b"}]}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("video 'b' appears twice"), "{e}");
        let e = Seed::from_json(
            r#"{"accounts":[{"id":"a","videos":[{"id":"b","duration_secs":-1}]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("duration_secs -1"), "{e}");
        let e = Seed::from_json(
            r#"{"accounts":[{"id":"a","keys":[{"id":"ab","created":"x","n":"AQ","e":"AQAB"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "account 'a' has signing keys: a seed holds none (create them through the API)"
        );
        let signed = Seed::from_json(
            r#"{"accounts":[{"id":"a","videos":[{"id":"b","require_signed_urls":true}]}]}"#,
        )
        .unwrap();
        assert!(signed.videos()[0].require_signed_urls);
        assert!(signed.to_json().contains("\"require_signed_urls\": true"));
        let e = Seed::from_json(r#"{"accounts":[{"id":"a","color":1}]}"#).unwrap_err();
        assert!(e.to_string().contains("color"), "{e}");
        let e = Seed::from_file("/nonexistent/seed.json").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("/nonexistent/seed.json"), "{e}");
    }

    #[test]
    fn with_video_adds_accounts_and_replaces_ids() {
        let a: AccountId = "aa".parse().unwrap();
        let b: AccountId = "bb".parse().unwrap();
        let v: VideoId = "01".parse().unwrap();
        let seed = Seed::empty_account(a.clone())
            .with_video(&a, v.clone(), true, 1.0)
            .with_video(&a, v.clone(), false, f64::NAN)
            .with_video(&b, v, true, 3.0);
        let videos = seed.videos();
        assert_eq!(videos.len(), 2);
        assert!(!videos[0].ready_to_stream);
        assert_eq!(videos[0].duration_secs, DEFAULT_DURATION_SECS);
        assert_eq!(videos[1].account, b);
    }
}
