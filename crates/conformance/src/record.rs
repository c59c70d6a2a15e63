//! Recording: the running state of one check ([`Rec`]) and the results of a run so far
//! ([`Results`]): which checks are selected, which are decided, and the reporter told of each.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cfstream_types::Operation;

use crate::catalogue::Check;
use crate::report::{CheckResult, Outcome};
use crate::runner::Reporter;
use crate::transport::error_chain;
use crate::validate::{Folded, Violation};

/// The running state of one check.
pub(crate) struct Rec {
    pub(crate) check: Check,
    started: Instant,
    pub(crate) violations: Folded,
    pub(crate) asserted: bool,
    pub(crate) skip: Option<String>,
}

impl Rec {
    pub(crate) fn new(check: Check) -> Self {
        Self {
            check,
            started: Instant::now(),
            violations: Folded::default(),
            asserted: false,
            skip: None,
        }
    }

    pub(crate) fn fail(
        &mut self,
        op: Option<Operation>,
        pointer: impl Into<String>,
        rule: impl Into<String>,
        value: impl AsRef<str>,
    ) {
        self.asserted = true;
        self.violations.push(Violation::new(op, self.check.name(), pointer, rule, value));
    }

    /// Takes the violations of `other` (a step of this check that is not evidence by itself).
    pub(crate) fn absorb(&mut self, other: Rec) {
        for v in other.violations.into_vec() {
            self.asserted = true;
            self.violations.push(v);
        }
    }

    pub(crate) fn transport(&mut self, what: &str, e: &reqwest::Error) {
        self.fail(None, "request", format!("{what} failed"), error_chain(e));
    }
}

/// The results of a run so far.
pub(crate) struct Results {
    selected: HashSet<Check>,
    done: HashMap<Check, CheckResult>,
    reporter: Option<Arc<dyn Reporter>>,
}

impl Results {
    pub(crate) fn new(selected: &[Check], reporter: Option<Arc<dyn Reporter>>) -> Self {
        Self { selected: selected.iter().copied().collect(), done: HashMap::new(), reporter }
    }

    /// Whether `check` is selected and has no result yet.
    pub(crate) fn wants(&self, check: Check) -> bool {
        self.selected.contains(&check) && !self.done.contains_key(&check)
    }

    /// Whether any of `checks` is wanted.
    pub(crate) fn wants_any(&self, checks: &[Check]) -> bool {
        checks.iter().any(|c| self.wants(*c))
    }

    pub(crate) fn record(&mut self, check: Check, result: CheckResult) {
        if let Some(r) = &self.reporter {
            r.check_finished(&result);
        }
        self.done.insert(check, result);
    }

    /// Skips `check` with `reason`, if it is wanted.
    pub(crate) fn skip(&mut self, check: Check, reason: impl Into<String>) {
        if self.wants(check) {
            self.record(
                check,
                CheckResult {
                    name: check.name().to_owned(),
                    description: check.info().description.to_owned(),
                    outcome: Outcome::Skip,
                    reason: Some(reason.into()),
                    duration: Duration::ZERO,
                    violations: vec![],
                },
            );
        }
    }

    /// Ends `rec`: fail with violations, pass if it asserted anything, skip otherwise.
    pub(crate) fn finish(&mut self, rec: Rec) {
        if !self.wants(rec.check) {
            return;
        }
        let (outcome, reason) = if !rec.violations.is_empty() {
            (Outcome::Fail, None)
        } else if let Some(reason) = rec.skip {
            (Outcome::Skip, Some(reason))
        } else if rec.asserted {
            (Outcome::Pass, None)
        } else {
            (Outcome::Skip, Some("nothing to check".to_owned()))
        };
        self.record(
            rec.check,
            CheckResult {
                name: rec.check.name().to_owned(),
                description: rec.check.info().description.to_owned(),
                outcome,
                reason,
                duration: rec.started.elapsed(),
                violations: rec.violations.into_vec(),
            },
        );
    }

    /// The results of `order`, in that order (a check without a result is left out).
    pub(crate) fn into_ordered(mut self, order: &[Check]) -> Vec<CheckResult> {
        order.iter().filter_map(|c| self.done.remove(c)).collect()
    }
}
