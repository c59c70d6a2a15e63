//! The lifecycle scenarios on the first video: create (legacy and typed routes) then list,
//! progress followed to the end, create again, delete then list (and the other type kept),
//! delete again.

use std::time::Instant;

use cfstream_types::{AccountId, DownloadType, Endpoint, Operation, VideoId};
use reqwest::Method;

use super::{Ctx, Snapshot, downloads_of, terminal};
use crate::catalogue::Check;
use crate::record::Rec;
use crate::runner::WaitProgress;
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
        let files = [
            Check::DownloadUrlServes,
            Check::DownloadUrlRange,
            Check::DownloadFileConsistent,
            Check::DownloadUrlFilename,
        ];
        let deletes = [Check::DeleteThenList, Check::DeleteScoped, Check::DeleteRepeatable];
        let creates = [Check::CreateThenList, Check::CreateTypeThenList, Check::CreateIdempotent];
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
        // The second create compares with downloads that ended: it follows progress too.
        let last = if self.wants_any(&progress)
            || self.wants_any(&files)
            || (writes && self.wants(Check::CreateIdempotent))
        {
            self.follow_progress(&account, &video).await
        } else {
            None
        };
        if writes && self.wants(Check::CreateIdempotent) {
            self.create_again(&account, &video, last.as_ref()).await;
        }
        if self.wants_any(&files) {
            self.fetch_files(last.as_ref()).await;
        }
        if writes && self.wants_any(&deletes) {
            self.delete_and_list(&account, &video).await;
        }
    }

    /// `create_idempotent`: creates both downloads again once they ended; each answer must be
    /// the same download (same url, progress not lower, ready still ready).
    async fn create_again(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        last: Option<&Snapshot>,
    ) {
        let mut rec = Rec::new(Check::CreateIdempotent);
        let Some(before) = last.filter(|s| !s.is_empty()) else {
            rec.skip = Some("no download was seen to create again".to_owned());
            return self.finish(rec);
        };
        let mut steps = vec![(Endpoint::create(account, video), "default")];
        // `audio` is path-safe, so the typed endpoint always builds.
        if let Ok(e) = Endpoint::create_type(account, video, DownloadType::Audio) {
            steps.push((e, "audio"));
        }
        for (endpoint, key) in steps {
            let Some(prev) = before.get(key) else { continue };
            let r = match self
                .send(Method::POST, &endpoint.path(), Some(endpoint.operation()), Auth::Given)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    rec.transport("second create", &e);
                    continue;
                }
            };
            let Some(json) = Self::expect_ok(&mut rec, &r) else { continue };
            let pointer = format!("/result/{key}");
            let Some(now) = downloads_of(&json).and_then(|mut d| d.remove(key)) else {
                rec.fail(
                    r.op,
                    pointer.as_str(),
                    format!("a second create must answer the {key} download"),
                    truncate(&json.to_string()),
                );
                continue;
            };
            if prev.status == "ready" && now.status != "ready" {
                rec.fail(
                    r.op,
                    format!("{pointer}/status"),
                    "a second create must leave a ready download ready (never restart it)",
                    &now.status,
                );
            }
            if let (Some(a), Some(b)) = (prev.percent, now.percent)
                && b < a
            {
                rec.fail(
                    r.op,
                    format!("{pointer}/percentComplete"),
                    format!("a second create must not take percentComplete back (was {a})"),
                    b.to_string(),
                );
            }
            if prev.url.is_some() && now.url != prev.url {
                rec.fail(
                    r.op,
                    format!("{pointer}/url"),
                    format!(
                        "a second create must answer the same url ({})",
                        prev.url.as_deref().unwrap_or_default()
                    ),
                    now.url.as_deref().unwrap_or("(absent)"),
                );
            }
        }
        self.finish(rec);
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

    /// Polls list until every download is final, an answer makes waiting pointless, or the
    /// deadline passes; judges the progress checks; returns the last downloads seen.
    ///
    /// The verdict is prompt: the wait stops at the first answer that is not a 200, that
    /// breaks a rule of its own (schema, status enum, ...), that takes progress back, changes
    /// a final status or loses a download. The deadline is only for a server that stays
    /// valid but never finishes.
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
        // The lists made before polling (after each create) are judged too.
        for pair in self.history.windows(2) {
            judge_progress(&mut mono, &pair[0], &pair[1]);
        }
        loop {
            let r = match self.list(account, video).await {
                Ok(r) => r,
                Err(e) => {
                    term.transport("polling list", &e);
                    break;
                }
            };
            if r.status == 429 && self.http.rate_limited() {
                break;
            } else if r.status == 429 {
                // Waited out by the transport; keep polling within the deadline.
            } else if r.status != 200 {
                term.fail(op, "status", "list must answer 200 while polling", r.status.to_string());
                break;
            } else if let Some(broken) = self.broken_rules(&r) {
                term.skip = Some(format!(
                    "stopped waiting at an answer that breaks {broken}: see that check"
                ));
                break;
            } else if let Some(now) = r.json().as_ref().and_then(downloads_of) {
                // `list` kept `now` as the newest of the history: anything before it that
                // showed a download means the downloads vanished, which progress_monotone
                // judges, rather than there being nothing to follow.
                let earlier = &self.history[..self.history.len().saturating_sub(1)];
                let vanished = earlier.iter().any(|s| !s.is_empty());
                if let [.., prev] = earlier {
                    let before = mono.violations.total();
                    judge_progress(&mut mono, prev, &now);
                    if mono.violations.total() > before {
                        term.skip =
                            Some("stopped waiting: progress broke progress_monotone".to_owned());
                        last = Some(now);
                        break;
                    }
                }
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
                if let (Some(reporter), false) = (&self.options.reporter, done) {
                    reporter.wait_progress(&WaitProgress {
                        video: video.to_string(),
                        downloads: now
                            .iter()
                            .filter(|(_, d)| !terminal(&d.status))
                            .map(|(t, d)| (t.clone(), d.percent))
                            .collect(),
                        waited: start.elapsed(),
                        deadline: self.options.deadline,
                    });
                }
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
        self.finish(mono);
        self.finish(term);
        last
    }

    /// The delete scenarios: delete audio (typed route), create it again, delete default
    /// (legacy route), delete audio again; after each delete the list must not show what
    /// was deleted (`delete_then_list`) and must show the other type as it was
    /// (`delete_scoped`); then every delete once more must still succeed.
    async fn delete_and_list(&mut self, account: &AccountId, video: &VideoId) {
        let mut gone = Rec::new(Check::DeleteThenList);
        let mut scoped = Rec::new(Check::DeleteScoped);
        let mut again = Rec::new(Check::DeleteRepeatable);
        let legacy = Endpoint::delete(account, video);
        // `audio` is path-safe, so the typed endpoints always build.
        let typed = Endpoint::delete_type(account, video, DownloadType::Audio).ok();
        let recreate = Endpoint::create_type(account, video, DownloadType::Audio).ok();
        // What the downloads are just before the first delete ("as it was" is judged on it).
        if let Err(e) = self.list(account, video).await {
            gone.transport("list", &e);
        }
        if let Some(typed) = &typed {
            self.delete_step(&mut gone, &mut scoped, typed, "audio", "default").await;
        }
        // Audio again, so that the legacy delete has another type to leave alone.
        let scoping = self.wants(Check::DeleteScoped);
        if let Some(create) = recreate.as_ref().filter(|_| scoping) {
            // Its failures are scoped's, but a create that works is no evidence of scoping.
            let mut setup = Rec::new(Check::DeleteScoped);
            let path = create.path();
            match self.send(Method::POST, &path, Some(create.operation()), Auth::Given).await {
                Ok(r) => {
                    Self::expect_ok(&mut setup, &r);
                }
                Err(e) => setup.transport("create audio again", &e),
            }
            if let Err(e) = self.list(account, video).await {
                setup.transport("list", &e);
            }
            scoped.absorb(setup);
        }
        self.delete_step(&mut gone, &mut scoped, &legacy, "default", "audio").await;
        if let Some(typed) = typed.as_ref().filter(|_| scoping) {
            let mut unused = Rec::new(Check::DeleteScoped);
            self.delete_step(&mut gone, &mut unused, typed, "audio", "default").await;
        }
        for endpoint in typed.iter().chain([&legacy]) {
            self.delete_expecting_ok(&mut again, endpoint, "second delete").await;
        }
        self.finish(gone);
        self.finish(scoped);
        self.finish(again);
    }

    /// Deletes `key` with `endpoint`, then lists: `key` must be gone (into `gone`), and `kept`
    /// listed as it was before, if it was (into `scoped`).
    async fn delete_step(
        &mut self,
        gone: &mut Rec,
        scoped: &mut Rec,
        endpoint: &Endpoint,
        key: &str,
        kept: &str,
    ) {
        let before = self.history.last().and_then(|s| s.get(kept).cloned());
        self.delete_expecting_ok(gone, endpoint, "delete").await;
        let r = match self.list(endpoint.account(), endpoint.video()).await {
            Ok(r) => r,
            Err(e) => return gone.transport("list", &e),
        };
        let Some(json) = Self::expect_ok(gone, &r) else { return };
        let pointer = format!("/result/{key}");
        if let Some(d) = json.pointer(&pointer) {
            gone.fail(
                r.op,
                pointer,
                format!("after delete, list must not show the {key} download"),
                d.to_string(),
            );
        }
        let Some(before) = before else { return };
        scoped.asserted = true;
        let after = downloads_of(&json).and_then(|mut d| d.remove(kept));
        let what = format!("{} must leave the {kept} download", endpoint.operation());
        match after {
            None => scoped.fail(r.op, format!("/result/{kept}"), what, "(absent)"),
            Some(after) if before.status == "ready" && after != before => scoped.fail(
                r.op,
                format!("/result/{kept}"),
                format!(
                    "{what} as it was ({} at {})",
                    before.status,
                    before.url.unwrap_or_default()
                ),
                format!("{} at {}", after.status, after.url.unwrap_or_default()),
            ),
            Some(_) => {}
        }
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
