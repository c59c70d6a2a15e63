//! The response checks: every answer of the five operations seen during the run, judged on
//! its own by the [`crate::Validator`].

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::Ctx;
use crate::catalogue::{Check, CheckKind};
use crate::report::{CheckResult, Outcome};
use crate::validate::Violation;

impl Ctx<'_> {
    /// Judges every answer of the five operations seen during the run.
    pub(super) fn response_checks(&mut self) {
        let started = Instant::now();
        let mut found: HashMap<String, Vec<Violation>> = HashMap::new();
        let mut answers: HashMap<String, usize> = HashMap::new();
        let mut saw_200 = false;
        let mut saw_429 = false;
        for x in &self.http.exchanges {
            saw_200 |= (200..=299).contains(&x.status);
            saw_429 |= x.status == 429;
            let mut broke: HashSet<String> = HashSet::new();
            for v in self.validator.check_http(x.op, x.status, &x.headers, &x.body) {
                broke.insert(v.check.clone());
                found.entry(v.check.clone()).or_default().push(v);
            }
            for name in broke {
                *answers.entry(name).or_default() += 1;
            }
        }
        let elapsed = started.elapsed();
        let seen = self.http.exchanges.len();
        for &check in Check::ALL.iter().filter(|c| c.info().kind == CheckKind::Response) {
            if !self.wants(check) {
                continue;
            }
            let violations = found.remove(check.name()).unwrap_or_default();
            let skip = if !violations.is_empty() {
                None
            } else if seen == 0 {
                Some("no answer of the five operations was seen")
            } else if check == Check::RetryAfterOn429 && !saw_429 {
                Some("no 429 was seen")
            } else if check == Check::ClientModelDecodes && !saw_200 {
                Some("no 2XX answer was seen")
            } else {
                None
            };
            let (outcome, reason) = match (violations.is_empty(), skip) {
                (false, _) => {
                    let n = answers.get(check.name()).copied().unwrap_or_default();
                    (Outcome::Fail, Some(format!("{n} of {seen} answers broke it")))
                }
                (true, Some(reason)) => (Outcome::Skip, Some(reason.to_owned())),
                (true, None) => (Outcome::Pass, None),
            };
            self.results.record(
                check,
                CheckResult {
                    name: check.name().to_owned(),
                    description: check.info().description.to_owned(),
                    outcome,
                    reason,
                    duration: elapsed,
                    violations,
                },
            );
        }
    }
}
