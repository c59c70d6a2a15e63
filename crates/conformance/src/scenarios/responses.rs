//! The response checks: every answer of the five operations seen during the run, judged on
//! its own by the [`crate::Validator`]. Each check counts the answers it could judge: one
//! that judged none is SKIP with the reason, never PASS.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Ctx;
use crate::catalogue::{Check, CheckKind};
use crate::report::{CheckResult, Outcome};
use crate::transport::{BODY_CAP, Exchange};
use crate::validate::{Folded, Validator, Violation};

/// The response checks that can judge `x`: every answer has a status, a content type and a
/// body; the other rules need a JSON body of the right kind.
fn judged_by(validator: &Validator, x: &Exchange) -> Vec<Check> {
    let mut out = vec![Check::StatusDocumented, Check::ContentTypeJson, Check::BodySchema];
    if x.status == 429 {
        out.push(Check::RetryAfterOn429);
    }
    if x.oversize.is_some() {
        return out;
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

/// Every rule `x` breaks. A body over the cap is one violation of `body_schema` (it was not
/// read, so no other body rule is judged); its status and headers are judged as usual.
fn violations_of(validator: &Validator, x: &Exchange) -> Vec<Violation> {
    let Some(oversize) = &x.oversize else {
        return validator.check_http(x.op, x.status, &x.headers, &x.body);
    };
    let head = [Check::StatusDocumented, Check::ContentTypeJson, Check::RetryAfterOn429];
    let mut out: Vec<Violation> = validator
        .check_http(x.op, x.status, &x.headers, b"{}")
        .into_iter()
        .filter(|v| head.iter().any(|c| c.name() == v.check))
        .collect();
    out.push(Violation::new(
        Some(x.op),
        Check::BodySchema.name(),
        "",
        format!("a body must be at most {} MiB (the client reads no more)", BODY_CAP >> 20),
        oversize,
    ));
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

/// What the response checks have seen so far: answers are judged as they arrive, so no body
/// is kept after its answer has been judged.
#[derive(Default)]
pub(crate) struct ResponseLog {
    found: HashMap<Check, Folded>,
    broken: HashMap<Check, usize>,
    judged: HashMap<Check, usize>,
    seen: usize,
    saw_2xx: bool,
    spent: Duration,
}

impl ResponseLog {
    /// Judges one answer of the five operations.
    pub(crate) fn observe(&mut self, validator: &Validator, x: &Exchange) {
        let started = Instant::now();
        self.seen += 1;
        self.saw_2xx |= (200..=299).contains(&x.status);
        for check in judged_by(validator, x) {
            *self.judged.entry(check).or_default() += 1;
        }
        let mut broke: HashSet<Check> = HashSet::new();
        for v in violations_of(validator, x) {
            let Some(check) = Check::from_name(&v.check) else { continue };
            broke.insert(check);
            self.found.entry(check).or_default().push(v);
        }
        for check in broke {
            *self.broken.entry(check).or_default() += 1;
        }
        self.spent += started.elapsed();
    }
}

impl Ctx<'_> {
    /// Records the verdict of every response check on the answers seen during the run.
    pub(super) fn response_checks(&mut self) {
        let log = std::mem::take(&mut self.responses);
        let seen = log.seen;
        let mut found = log.found;
        for &check in Check::ALL.iter().filter(|c| c.info().kind == CheckKind::Response) {
            if !self.wants(check) {
                continue;
            }
            let violations = found.remove(&check).unwrap_or_default();
            let (outcome, reason) = if !violations.is_empty() {
                let n = log.broken.get(&check).copied().unwrap_or_default();
                (Outcome::Fail, Some(format!("{n} of {seen} answers broke it")))
            } else if log.judged.get(&check).copied().unwrap_or_default() == 0 {
                let reason = if seen == 0 {
                    "no answer of the five operations was seen"
                } else {
                    no_evidence(check, log.saw_2xx)
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
                    duration: log.spent,
                    violations: violations.into_vec(),
                },
            );
        }
    }
}
