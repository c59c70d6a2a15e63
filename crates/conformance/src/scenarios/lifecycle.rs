//! The lifecycle scenarios on the first video: create (legacy and typed routes) then list,
//! progress followed to the end, delete then list, delete again.

use std::time::Instant;

use cfstream_types::{AccountId, DownloadType, Endpoint, Operation, VideoId};
use reqwest::Method;

use super::{Ctx, Snapshot, downloads_of, terminal};
use crate::catalogue::Check;
use crate::record::Rec;
use crate::transport::Auth;
use crate::validate::truncate;

impl Ctx<'_> {
    /// The scenarios on the first video: create, progress, file, delete.
    pub(super) async fn video_flow(&mut self) {
        let (Some(account), Some(video)) =
            (self.target.account.clone(), self.target.videos.first().cloned())
        else {
            return;
        };
        if self.target.credentials.is_none() {
            return;
        }
        let writes = self.target.writes_allowed();
        self.unknown_type_refused(account.as_str(), video.as_str()).await;

        let progress = [Check::ProgressMonotone, Check::ProgressTerminates];
        let files = [Check::DownloadUrlServes, Check::DownloadUrlRange];
        let deletes = [Check::DeleteThenList, Check::DeleteRepeatable];
        let creates = [Check::CreateThenList, Check::CreateTypeThenList];
        // Every later scenario needs downloads to exist: create them when any of them runs.
        let needs_downloads = creates.iter().chain(&progress).chain(&files).chain(&deletes);
        if writes && needs_downloads.copied().any(|c| self.wants(c)) {
            self.create_and_list(
                Check::CreateThenList,
                &Endpoint::create(&account, &video),
                DownloadType::Default,
            )
            .await;
            // `audio` is path-safe, so the typed endpoint always builds.
            if let Ok(e) = Endpoint::create_type(&account, &video, DownloadType::Audio) {
                self.create_and_list(Check::CreateTypeThenList, &e, DownloadType::Audio).await;
            }
        }
        let last = if self.wants_any(&progress) || self.wants_any(&files) {
            self.follow_progress(&account, &video).await
        } else {
            None
        };
        if self.wants_any(&files) {
            self.fetch_files(last.as_ref()).await;
        }
        if writes && self.wants_any(&deletes) {
            self.delete_and_list(&account, &video).await;
        }
    }

    async fn create_and_list(&mut self, check: Check, endpoint: &Endpoint, t: DownloadType) {
        let mut rec = Rec::new(check);
        let key = t.as_str();
        let pointer = format!("/result/{key}");
        match self
            .send(Method::POST, &endpoint.path(), Some(endpoint.operation()), Auth::Given)
            .await
        {
            Ok(r) => {
                if let Some(json) = Self::expect_ok(&mut rec, &r)
                    && json.pointer(&pointer).is_none_or(|d| !d.is_object())
                {
                    rec.fail(
                        r.op,
                        pointer.as_str(),
                        format!("{} must answer the {key} download", r.what),
                        truncate(&json.to_string()),
                    );
                }
            }
            Err(e) => rec.transport("create", &e),
        }
        match self.list(endpoint.account(), endpoint.video()).await {
            Ok(r) => {
                if let Some(json) = Self::expect_ok(&mut rec, &r)
                    && json.pointer(&pointer).is_none_or(|d| !d.is_object())
                {
                    rec.fail(
                        r.op,
                        pointer.as_str(),
                        format!("after create, list must show the {key} download"),
                        truncate(&json.to_string()),
                    );
                }
            }
            Err(e) => rec.transport("list", &e),
        }
        self.finish(rec);
    }

    /// Polls list until every download is final or the deadline passes; judges the progress
    /// checks; returns the last downloads seen.
    pub(super) async fn follow_progress(
        &mut self,
        account: &AccountId,
        video: &VideoId,
    ) -> Option<Snapshot> {
        let mut mono = Rec::new(Check::ProgressMonotone);
        let mut term = Rec::new(Check::ProgressTerminates);
        let start = Instant::now();
        let mut last: Option<Snapshot> = None;
        let mut first = true;
        let op = Some(Operation::List);
        loop {
            let snapshot = match self.list(account, video).await {
                Ok(r) if r.status == 200 => r.json().as_ref().and_then(downloads_of),
                Ok(r) if r.status == 429 => None,
                Ok(r) => {
                    term.fail(
                        op,
                        "status",
                        "list must answer 200 while polling",
                        r.status.to_string(),
                    );
                    break;
                }
                Err(e) => {
                    term.transport("polling list", &e);
                    break;
                }
            };
            if let Some(now) = snapshot {
                // `list` kept `now` as the newest of the history: anything before it that
                // showed a download means the downloads vanished, which progress_monotone
                // judges below, rather than there being nothing to follow.
                let earlier = &self.history[..self.history.len().saturating_sub(1)];
                let vanished = earlier.iter().any(|s| !s.is_empty());
                if first && now.is_empty() && vanished {
                    term.skip = Some("every download vanished before it ended".to_owned());
                    last = Some(now);
                    break;
                }
                if first && now.is_empty() {
                    let reason = if self.target.writes_allowed() {
                        "no download to follow: creating one failed"
                    } else {
                        "no download to follow and writes are not allowed (--allow-writes)"
                    };
                    mono.skip = Some(reason.to_owned());
                    term.skip = Some(reason.to_owned());
                    last = Some(now);
                    break;
                }
                first = false;
                mono.asserted = true;
                let done = now.values().all(|d| terminal(&d.status));
                last = Some(now);
                if done {
                    term.asserted = true;
                    break;
                }
            }
            if start.elapsed() >= self.options.deadline {
                term.asserted = true;
                for (t, d) in last.iter().flatten().filter(|(_, d)| !terminal(&d.status)) {
                    term.fail(
                        op,
                        format!("/result/{t}/status"),
                        format!("must end ready or error within {:?}", self.options.deadline),
                        format!("{} at {}%", d.status, d.percent.unwrap_or(f64::NAN)),
                    );
                }
                if last.is_none() {
                    term.fail(
                        op,
                        "",
                        format!("no successful list within {:?}", self.options.deadline),
                        "",
                    );
                }
                break;
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
        if mono.skip.is_none() {
            for pair in self.history.windows(2) {
                judge_progress(&mut mono, &pair[0], &pair[1]);
            }
        }
        self.finish(mono);
        self.finish(term);
        last
    }

    async fn delete_and_list(&mut self, account: &AccountId, video: &VideoId) {
        let mut then_list = Rec::new(Check::DeleteThenList);
        let mut again = Rec::new(Check::DeleteRepeatable);
        // `audio` is path-safe, so the typed endpoint always builds.
        let steps: Vec<_> = Endpoint::delete_type(account, video, DownloadType::Audio)
            .map(|e| (e, "audio"))
            .into_iter()
            .chain([(Endpoint::delete(account, video), "default")])
            .collect();
        for (endpoint, key) in &steps {
            self.delete_expecting_ok(&mut then_list, endpoint, "delete").await;
            match self.list(account, video).await {
                Ok(r) => {
                    if let Some(json) = Self::expect_ok(&mut then_list, &r) {
                        let pointer = format!("/result/{key}");
                        if let Some(d) = json.pointer(&pointer) {
                            then_list.fail(
                                r.op,
                                pointer,
                                format!("after delete, list must not show the {key} download"),
                                d.to_string(),
                            );
                        }
                    }
                }
                Err(e) => then_list.transport("list", &e),
            }
        }
        for (endpoint, _) in &steps {
            self.delete_expecting_ok(&mut again, endpoint, "second delete").await;
        }
        self.finish(then_list);
        self.finish(again);
    }

    /// Sends `endpoint` (a delete) and records into `rec` whether it answered a success.
    async fn delete_expecting_ok(&mut self, rec: &mut Rec, endpoint: &Endpoint, what: &str) {
        let path = endpoint.path();
        match self.send(Method::DELETE, &path, Some(endpoint.operation()), Auth::Given).await {
            Ok(r) => {
                Self::expect_ok(rec, &r);
            }
            Err(e) => rec.transport(what, &e),
        }
    }
}

fn judge_progress(rec: &mut Rec, prev: &Snapshot, now: &Snapshot) {
    let op = Some(Operation::List);
    for (t, before) in prev {
        let Some(after) = now.get(t) else {
            rec.fail(
                op,
                format!("/result/{t}"),
                "a download must not vanish while polled",
                "(absent)",
            );
            continue;
        };
        if terminal(&before.status) && after.status != before.status {
            rec.fail(
                op,
                format!("/result/{t}/status"),
                format!("a final status must not change (was {})", before.status),
                &after.status,
            );
        }
        if let (Some(a), Some(b)) = (before.percent, after.percent)
            && b < a
        {
            rec.fail(
                op,
                format!("/result/{t}/percentComplete"),
                format!("percentComplete must never decrease (was {a})"),
                b.to_string(),
            );
        }
    }
}
