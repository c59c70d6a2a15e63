//! The response checks: every answer of the five operations seen during the run, judged on
//! its own by the [`crate::Validator`]. Each check counts the answers it could judge: one
//! that judged none is SKIP with the reason, never PASS.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::Value;

use super::Ctx;
use crate::catalogue::{Check, CheckKind};
use crate::report::{CheckResult, Outcome};
use crate::transport::Exchange;
use crate::validate::{Validator, Violation};

/// The response checks that can judge `x`: every answer has a status, a content type and a
/// body; the other rules need a JSON body of the right kind.
fn judged_by(validator: &Validator, x: &Exchange) -> Vec<Check> {
    let mut out = vec![Check::StatusDocumented, Check::ContentTypeJson, Check::BodySchema];
    if x.status == 429 {
        out.push(Check::RetryAfterOn429);
    }
    let Ok(value) = serde_json::from_slice::<Value>(&x.body) else {
        return out;
    };
    let success = value.get("success").and_then(Value::as_bool);
    if success.is_some() && ((200..=299).contains(&x.status) || x.status >= 400) {
        out.push(Check::SuccessMatchesStatus);
    }
    if value.is_object() && (x.status >= 400 || success == Some(false)) {
        out.extend([Check::FailureHasErrors, Check::FailureResultNull]);
    }
    let has_code = ["errors", "messages"].iter().any(|field| {
        value
            .get(*field)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| i.get("code").is_some()))
    });
    if has_code {
        out.push(Check::ErrorCodeRange);
    }
    if (200..=299).contains(&x.status) && validator.schema_accepts(x.op, x.status, &value) {
        out.push(Check::ClientModelDecodes);
    }
    out
}

/// Why `check` judged nothing.
fn no_evidence(check: Check, saw_2xx: bool) -> &'static str {
    match check {
        Check::RetryAfterOn429 => "no 429 was seen",
        Check::ClientModelDecodes if !saw_2xx => "no 2XX answer was seen",
        Check::ClientModelDecodes => "no 2XX body that the schema accepts was seen",
        Check::SuccessMatchesStatus => "no JSON body with a boolean `success` was seen",
        Check::FailureHasErrors | Check::FailureResultNull => "no JSON failure body was seen",
        Check::ErrorCodeRange => "no error or message code was seen",
        _ => "no answer of the five operations was seen",
    }
}

impl Ctx<'_> {
    /// Judges every answer of the five operations seen during the run.
    pub(super) fn response_checks(&mut self) {
        let started = Instant::now();
        let mut found: HashMap<&'static str, Vec<Violation>> = HashMap::new();
        let mut broken: HashMap<&'static str, usize> = HashMap::new();
        let mut judged: HashMap<Check, usize> = HashMap::new();
        let mut saw_2xx = false;
        for x in &self.http.exchanges {
            saw_2xx |= (200..=299).contains(&x.status);
            for check in judged_by(&self.validator, x) {
                *judged.entry(check).or_default() += 1;
            }
            let mut broke: HashSet<&'static str> = HashSet::new();
            for v in self.validator.check_http(x.op, x.status, &x.headers, &x.body) {
                let Some(check) = Check::from_name(&v.check) else { continue };
                broke.insert(check.name());
                found.entry(check.name()).or_default().push(v);
            }
            for name in broke {
                *broken.entry(name).or_default() += 1;
            }
        }
        let elapsed = started.elapsed();
        let seen = self.http.exchanges.len();
        for &check in Check::ALL.iter().filter(|c| c.info().kind == CheckKind::Response) {
            if !self.wants(check) {
                continue;
            }
            let violations = found.remove(check.name()).unwrap_or_default();
            let (outcome, reason) = if !violations.is_empty() {
                let n = broken.get(check.name()).copied().unwrap_or_default();
                (Outcome::Fail, Some(format!("{n} of {seen} answers broke it")))
            } else if judged.get(&check).copied().unwrap_or_default() == 0 {
                let reason = if seen == 0 {
                    "no answer of the five operations was seen"
                } else {
                    no_evidence(check, saw_2xx)
                };
                (Outcome::Skip, Some(reason.to_owned()))
            } else {
                (Outcome::Pass, None)
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
