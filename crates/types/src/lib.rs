//! Typed model of Cloudflare Stream's MP4 downloads API, shared by the cfstream client,
//! emulator and conformance harness.
//!
//! It holds the validated ids ([`AccountId`], [`VideoId`]), the response [`Envelope`] and its
//! [`ApiFailure`], the downloads model ([`Downloads`], [`Download`], [`DownloadType`],
//! [`DownloadStatus`]), well-known [`ErrorCode`]s, and the five operations described once as
//! data ([`Operation`], [`Endpoint`]). The [`signed`] module models signed URLs (token
//! requests and answers, signing keys, the [`SignedToken`] secret) and their four operations,
//! in a table of their own. It does no I/O.
//!
//! # Example
//!
//! ```
//! use cfstream_types::{decode, DownloadType, DownloadsEnvelope, Endpoint, AccountId, VideoId};
//!
//! let account: AccountId = "023e105f4ecef8ad9ca31a8372d0c353".parse()?;
//! let video: VideoId = "ea95132c15732412d22c1476fa83f27a".parse()?;
//! let endpoint = Endpoint::create_type(&account, &video, DownloadType::Audio)?;
//! assert_eq!(endpoint.method().as_str(), "POST");
//! assert!(endpoint.path().ends_with("/stream/ea95132c15732412d22c1476fa83f27a/downloads/audio"));
//!
//! let body = br#"{"success":true,"errors":[],"messages":[],
//!   "result":{"audio":{"status":"inprogress","percentComplete":40}}}"#;
//! let downloads = decode::<DownloadsEnvelope>(body)?.into_result()?;
//! assert_eq!(downloads.get(&DownloadType::Audio).unwrap().percent_complete.get(), 40.0);
//!
//! // Ids are validated: nothing but 1 to 32 hex digits can reach a URL path.
//! assert!("../../etc".parse::<VideoId>().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! None: the crate depends on serde, serde_json, url and percent-encoding only.
#![deny(missing_docs)]

pub mod auth;
pub mod codes;
mod de;
pub mod download;
pub mod endpoint;
pub mod envelope;
pub mod ids;
pub mod signed;

pub use auth::{Credentials, CredentialsError, EnvCredentials, Secret};
pub use codes::ErrorCode;
pub use download::{
    Download, DownloadStatus, DownloadType, DownloadTypeError, Downloads, PercentComplete,
    PercentError,
};
pub use endpoint::{
    DEFAULT_BASE_URL, Endpoint, Method, Operation, PathParams, ResponseKind, match_path,
};
pub use envelope::{
    ApiFailure, ApiMessage, DecodeError, DeletedEnvelope, DownloadsEnvelope, Envelope,
    MessageSource, decode,
};
pub use ids::{AccountId, IdError, IdRule, SigningKeyId, VideoId};
pub use signed::{
    SignedToken, SigningEndpoint, SigningKey, SigningOperation, TokenRequest, TokenResult,
};
pub use url::Url;
