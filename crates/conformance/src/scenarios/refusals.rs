//! The refusal checks, as data: each check with the requests that must be refused with a 4XX
//! failure envelope (no or wrong credentials, bad ids, unknown video, route, method and type).

use cfstream_types::Operation;
use reqwest::Method;

use super::Ctx;
use crate::catalogue::Check;
use crate::record::Rec;
use crate::transport::Auth;

/// A well-formed video id that no server should hold.
const UNKNOWN_VIDEO: &str = "0000000000000000000000000000f00d";
/// A download type the spec does not list.
const UNKNOWN_TYPE: &str = "hdr";

/// A request that must be refused with a 4XX failure envelope.
struct Probe {
    method: Method,
    path: String,
    op: Option<Operation>,
    auth: Auth,
    why: &'static str,
}

impl Ctx<'_> {
    /// The refusal checks, as data: each check with the requests that must be refused.
    fn refusal_probes(&self) -> Vec<(Check, Vec<Probe>)> {
        let (account, video) = (self.account(), self.video());
        let path = self.downloads_path(&account, &video);
        let long = "a".repeat(33);
        let list = Some(Operation::List);
        let get = |path: String, op, auth, why| Probe { method: Method::GET, path, op, auth, why };
        let mut missing = vec![get(path.clone(), list, Auth::Missing, "no credentials")];
        if self.target.writes_allowed() && !self.target.videos.is_empty() {
            missing.push(Probe {
                method: Method::POST,
                path: path.clone(),
                op: Some(Operation::Create),
                auth: Auth::Missing,
                why: "no credentials",
            });
        }
        vec![
            (Check::AuthMissingRejected, missing),
            (
                Check::AuthWrongRejected,
                vec![
                    get(path.clone(), list, Auth::WrongToken, "wrong api token"),
                    get(path.clone(), list, Auth::WrongKey, "wrong email + key"),
                ],
            ),
            (
                Check::IdTooLongRejected,
                vec![
                    get(
                        self.downloads_path(&account, &long),
                        list,
                        Auth::Given,
                        "33-character video id",
                    ),
                    get(
                        self.downloads_path(&long, &video),
                        list,
                        Auth::Given,
                        "33-character account id",
                    ),
                ],
            ),
            (
                Check::IdNotHexRejected,
                ["zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "not-a-hex-id"]
                    .map(|bad| {
                        get(
                            self.downloads_path(&account, bad),
                            list,
                            Auth::Given,
                            "non-hex video id",
                        )
                    })
                    .into(),
            ),
            (Check::UnknownVideoFailure, self.unknown_video_probes(&account)),
            (
                Check::UnknownRouteFailure,
                vec![
                    get(
                        // The downloads path with its last segment edited.
                        format!(
                            "{}/no-such-route",
                            path.strip_suffix("/downloads").unwrap_or(&path)
                        ),
                        None,
                        Auth::Given,
                        "unknown route",
                    ),
                    get("/no/such/route".to_owned(), None, Auth::Given, "unknown route"),
                ],
            ),
            (
                Check::MethodNotAllowedFailure,
                vec![Probe {
                    method: Method::PUT,
                    path,
                    op: None,
                    auth: Auth::Given,
                    why: "undocumented method",
                }],
            ),
        ]
    }

    /// Every operation on a well-formed video id that the account does not hold; the writes
    /// only where writes are allowed (they change nothing on a server that refuses them, but
    /// a live account is not written to without `--allow-writes`).
    fn unknown_video_probes(&self, account: &str) -> Vec<Probe> {
        let ops: &[Operation] =
            if self.target.writes_allowed() { &Operation::ALL } else { &[Operation::List] };
        ops.iter()
            .map(|&op| Probe {
                method: match op.method() {
                    cfstream_types::Method::Post => Method::POST,
                    cfstream_types::Method::Delete => Method::DELETE,
                    _ => Method::GET,
                },
                path: op.render(account, UNKNOWN_VIDEO, Some("default")),
                op: Some(op),
                auth: Auth::Given,
                why: "unknown video",
            })
            .collect()
    }

    /// Sends every selected refusal check's requests; each must get a 4XX failure envelope.
    pub(super) async fn refusal_checks(&mut self) {
        for (check, probes) in self.refusal_probes() {
            if !self.wants(check) {
                continue;
            }
            let mut rec = Rec::new(check);
            for p in probes {
                self.expect_failure(&mut rec, p.method, &p.path, p.op, p.auth, p.why).await;
            }
            self.finish(rec);
        }
    }

    /// `download_type_unknown_rejected`: create and delete of an unknown type on the scenario
    /// video are refused.
    pub(super) async fn unknown_type_refused(&mut self, account: &str, video: &str) {
        if !self.wants(Check::DownloadTypeUnknownRejected) {
            return;
        }
        let mut rec = Rec::new(Check::DownloadTypeUnknownRejected);
        let p = Operation::CreateType.render(account, video, Some(UNKNOWN_TYPE));
        self.expect_failure(
            &mut rec,
            Method::POST,
            &p,
            Some(Operation::CreateType),
            Auth::Given,
            "unknown download_type",
        )
        .await;
        self.expect_failure(
            &mut rec,
            Method::DELETE,
            &p,
            Some(Operation::DeleteType),
            Auth::Given,
            "unknown download_type",
        )
        .await;
        self.finish(rec);
    }
}
