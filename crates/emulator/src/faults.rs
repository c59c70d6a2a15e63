//! Fault injection: [`Faults`], a list of [`FaultRule`]s that pick a [`Fault`] for requests to
//! a [`FaultRoute`], by probability (from a seeded generator, so a run is reproducible) or by a
//! script of the next answers.
//!
//! Faults are off by default. They apply to the five API operations, the four signed-URL
//! operations and the file route, never to the admin routes. They are serializable, so the admin route (`PUT
//! /__emulator/faults`) and the CLI take the same JSON:
//!
//! ```json
//! {
//!   "seed": 7,
//!   "rules": [
//!     { "trigger": "script", "route": "create_type",
//!       "answers": [ { "kind": "status", "status": 503 }, { "kind": "pass" } ] },
//!     { "trigger": "probability", "route": "list", "probability": 0.25,
//!       "fault": { "kind": "rate_limited", "retry_after_secs": 2 } }
//!   ]
//! }
//! ```
//!
//! For each request the rules are tried in order; the first that fires decides. A `script`
//! rule fires for the next `answers.len()` requests to its route, then never again (`pass`
//! answers normally but still uses up its turn). A `probability` rule fires with its
//! probability; each request to its route draws one number from the generator.
//!
//! This module also applies a drawn fault to a request (`apply`, crate-internal).

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use cfstream_types::{ErrorCode, Operation, SigningOperation};
use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::conn::ConnControl;
use crate::content::splitmix64;
use crate::error::{Error, ErrorKind};
use crate::respond;
use crate::shared::lock;

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultRoute {
    /// Every API operation and the file route (JSON `"any"`).
    Any,
    /// One API operation (JSON: its [`Operation::name`], like `"list"` or `"create_type"`).
    Api(Operation),
    /// One signed-URL operation (JSON: its [`SigningOperation::name`]: `"create_token"`,
    /// `"create_key"`, `"list_keys"` or `"delete_key"`).
    Signing(SigningOperation),
    /// The download file route, `/<uid>/downloads/<file>` (JSON `"file"`).
    File,
}

impl FaultRoute {
    fn covers(self, route: FaultRoute) -> bool {
        self == FaultRoute::Any || self == route
    }

    /// The route's name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            FaultRoute::Any => "any",
            FaultRoute::Api(op) => op.name(),
            FaultRoute::Signing(op) => op.name(),
            FaultRoute::File => "file",
        }
    }
}

impl fmt::Display for FaultRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultRoute {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "any" => Ok(FaultRoute::Any),
            "file" => Ok(FaultRoute::File),
            _ => Operation::ALL.into_iter().find(|op| op.name() == s).map(FaultRoute::Api)
                .or_else(|| SigningOperation::ALL.into_iter().find(|op| op.name() == s).map(FaultRoute::Signing))
                .ok_or_else(|| {
                let shown: String = s.chars().take(64).collect();
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "invalid fault route '{shown}': must be one of any, list, create, delete, create_type, delete_type, create_token, create_key, list_keys, delete_key, file"
                    ),
                )
            }),
        }
    }
}

impl Serialize for FaultRoute {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FaultRoute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn one() -> u64 {
    1
}

fn bad_gateway() -> u16 {
    502
}

/// One injected answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// Answer normally (a script's "let this one through").
    Pass,
    /// 429 with `retry-after` and the failure envelope (code 10429).
    RateLimited {
        /// The `retry-after` value, in seconds.
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    /// The failure envelope with this HTTP status (400 to 599; typically 500, 502 or 503), code
    /// `10000 + status`.
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// An HTML error page, as a proxy in front of the API would send, with this status.
    HtmlError {
        /// The HTTP status (default 502).
        #[serde(default = "bad_gateway")]
        status: u16,
    },
    /// The normal answer's headers (with its full `Content-Length`), then half of its body,
    /// then the connection closes.
    TruncatedBody,
    /// 200 with `application/json` and a body that is cut-off JSON.
    MalformedJson,
    /// The normal answer with `content-type: text/plain` instead of its own.
    WrongContentType,
    /// Wait this long, then answer normally (with `tokio::time::sleep`, so paused time drives it).
    Delay {
        /// The delay, in milliseconds.
        millis: u64,
    },
    /// Close the connection without answering (with `SO_LINGER` 0: the peer sees a reset).
    ConnectionReset,
}

impl Fault {
    fn validate(&self) -> Result<(), Error> {
        match self {
            Fault::Status { status } | Fault::HtmlError { status }
                if !(400..=599).contains(status) =>
            {
                Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid fault status {status}: must be from 400 to 599"),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// When and where faults fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FaultRule {
    /// Each request to `route` gets `fault` with probability `probability` (0 to 1).
    Probability {
        /// Where the rule applies.
        route: FaultRoute,
        /// The chance of firing, from 0 to 1.
        probability: f64,
        /// What to answer when it fires.
        fault: Fault,
    },
    /// The next `answers.len()` requests to `route` get these answers, in order.
    Script {
        /// Where the rule applies.
        route: FaultRoute,
        /// The answers, in order ([`Fault::Pass`] for a normal one).
        answers: Vec<Fault>,
    },
}

impl FaultRule {
    /// A probability rule.
    pub fn probability(route: FaultRoute, probability: f64, fault: Fault) -> Self {
        FaultRule::Probability { route, probability, fault }
    }

    /// A script rule.
    pub fn script(route: FaultRoute, answers: impl IntoIterator<Item = Fault>) -> Self {
        FaultRule::Script { route, answers: answers.into_iter().collect() }
    }

    fn route(&self) -> FaultRoute {
        match self {
            FaultRule::Probability { route, .. } | FaultRule::Script { route, .. } => *route,
        }
    }
}

/// The fault configuration: rules plus the seed of the generator the probability rules draw
/// from. The default has no rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Seed of the generator for probability rules.
    #[serde(default)]
    pub seed: u64,
    /// The rules, tried in order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// The same faults plus `rule`.
    #[must_use]
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The same faults with the generator seeded by `seed`.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Parses the JSON form (see the [module docs](crate::faults)) and validates it.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let faults: Faults = serde_json::from_str(text).map_err(|e| {
            Error::with_source(ErrorKind::InvalidArgument, format!("invalid faults: {e}"), e)
        })?;
        faults.validate()?;
        Ok(faults)
    }

    /// Checks probabilities (0 to 1) and statuses (400 to 599).
    pub fn validate(&self) -> Result<(), Error> {
        for (i, rule) in self.rules.iter().enumerate() {
            let at =
                |e: Error| Error::new(e.kind(), format!("fault rule {i} ({}): {e}", rule.route()));
            match rule {
                FaultRule::Probability { probability, fault, .. } => {
                    if !(probability.is_finite() && (0.0..=1.0).contains(probability)) {
                        return Err(at(Error::new(
                            ErrorKind::InvalidArgument,
                            format!("invalid probability {probability}: must be from 0 to 1"),
                        )));
                    }
                    fault.validate().map_err(at)?;
                }
                FaultRule::Script { answers, .. } => {
                    for fault in answers {
                        fault.validate().map_err(at)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The live state of the faults: the rules, the generator and how far each script has got.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    faults: Faults,
    rng: u64,
    positions: Vec<usize>,
}

impl FaultPlan {
    pub(crate) fn new(faults: Faults) -> Self {
        let positions = vec![0; faults.rules.len()];
        Self { rng: faults.seed, faults, positions }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.faults.rules.is_empty()
    }

    /// The answer for the next request to `route` (an [`FaultRoute::Api`] or
    /// [`FaultRoute::File`]).
    pub(crate) fn next(&mut self, route: FaultRoute) -> Fault {
        for (i, rule) in self.faults.rules.iter().enumerate() {
            if !rule.route().covers(route) {
                continue;
            }
            match rule {
                FaultRule::Script { answers, .. } => {
                    if let Some(answer) = answers.get(self.positions[i]) {
                        self.positions[i] += 1;
                        return answer.clone();
                    }
                }
                FaultRule::Probability { probability, fault, .. } => {
                    self.rng = self.rng.wrapping_add(1);
                    let draw = (splitmix64(self.rng) >> 11) as f64 / (1u64 << 53) as f64;
                    if draw < *probability {
                        return fault.clone();
                    }
                }
            }
        }
        Fault::Pass
    }
}

/// The faults in force, shared by every request: with no rules (the default), a request
/// draws [`Fault::Pass`] from one atomic load, without taking the plan's lock.
#[derive(Debug)]
pub(crate) struct FaultCell {
    /// Whether the plan has rules; written only with `plan` locked.
    any: AtomicBool,
    plan: Mutex<FaultPlan>,
}

impl FaultCell {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Self { any: AtomicBool::new(!plan.is_empty()), plan: Mutex::new(plan) }
    }

    /// Replaces the plan.
    pub(crate) fn set(&self, plan: FaultPlan) {
        let mut current = lock(&self.plan);
        self.any.store(!plan.is_empty(), Ordering::Release);
        *current = plan;
    }

    /// The faults in force.
    pub(crate) fn faults(&self) -> Faults {
        lock(&self.plan).faults().clone()
    }

    /// The fault for the next request to `route` (a [`FaultRoute::Api`], a
    /// [`FaultRoute::Signing`] or [`FaultRoute::File`]).
    pub(crate) fn draw(&self, route: FaultRoute) -> Fault {
        if !self.any.load(Ordering::Acquire) {
            return Fault::Pass;
        }
        let mut plan = lock(&self.plan);
        if plan.is_empty() { Fault::Pass } else { plan.next(route) }
    }
}

/// Answers a request under `fault` (see [`apply`]), with the normal answer's future inline
/// when nothing is injected (the common case), and the fault's larger future boxed only when
/// one is, so that every request's future stays small (hyper moves it into place per request).
pub(crate) async fn answer(
    fault: Fault,
    control: Option<Arc<ConnControl>>,
    answer: impl Future<Output = Response>,
) -> Response {
    if fault == Fault::Pass { answer.await } else { Box::pin(apply(&fault, control, answer)).await }
}

/// Answers a request under `fault`: a fault that replaces the answer is answered without
/// running `answer`; a delay waits first; one that alters the answer alters it. `control` is
/// the request's connection, which a reset drops.
pub(crate) async fn apply(
    fault: &Fault,
    control: Option<Arc<ConnControl>>,
    answer: impl Future<Output = Response>,
) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            respond::rate_limited(*retry_after_secs, "rate limited (injected fault)")
        }
        Fault::Status { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
            respond::failure(
                status,
                respond::status_code_for(status),
                format!("injected fault: {reason}"),
            )
        }
        Fault::HtmlError { status } => {
            respond::html_error(StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY))
        }
        Fault::MalformedJson => respond::malformed_json(),
        Fault::ConnectionReset => {
            if let Some(control) = control {
                control.reset();
                // The connection task drops this request with its connection.
                std::future::pending::<()>().await;
            }
            // Not served by our accept loop: closing early is the nearest we can do.
            let res = respond::failure(
                StatusCode::BAD_GATEWAY,
                ErrorCode::from(10502),
                "injected fault: reset",
            );
            respond::truncated(res).await
        }
        Fault::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
            answer.await
        }
        Fault::TruncatedBody => respond::truncated(answer.await).await,
        Fault::WrongContentType => respond::wrong_content_type(answer.await),
        Fault::Pass => answer.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_in_order_then_stop() {
        let faults = Faults::none().rule(FaultRule::script(
            FaultRoute::Api(Operation::List),
            [Fault::Status { status: 503 }, Fault::Pass, Fault::ConnectionReset],
        ));
        let mut plan = FaultPlan::new(faults);
        // Other routes are not affected and do not use up the script.
        assert_eq!(plan.next(FaultRoute::File), Fault::Pass);
        let list = FaultRoute::Api(Operation::List);
        assert_eq!(plan.next(list), Fault::Status { status: 503 });
        assert_eq!(plan.next(list), Fault::Pass);
        assert_eq!(plan.next(list), Fault::ConnectionReset);
        assert_eq!(plan.next(list), Fault::Pass);
    }

    #[test]
    fn the_cell_draws_only_from_a_plan_with_rules() {
        let list = FaultRoute::Api(Operation::List);
        let cell = FaultCell::new(FaultPlan::new(Faults::none()));
        assert_eq!(cell.draw(list), Fault::Pass);
        let script = Faults::none().rule(FaultRule::script(list, [Fault::MalformedJson]));
        cell.set(FaultPlan::new(script.clone()));
        assert_eq!(cell.faults(), script);
        assert_eq!(cell.draw(FaultRoute::File), Fault::Pass);
        assert_eq!(cell.draw(list), Fault::MalformedJson);
        assert_eq!(cell.draw(list), Fault::Pass);
        cell.set(FaultPlan::new(Faults::none()));
        assert_eq!(cell.faults(), Faults::none());
        assert_eq!(cell.draw(list), Fault::Pass);
        let again = FaultCell::new(FaultPlan::new(script));
        assert_eq!(again.draw(list), Fault::MalformedJson);
    }

    #[test]
    fn probabilities_are_reproducible_and_roughly_right() {
        let faults = Faults::none().seed(42).rule(FaultRule::probability(
            FaultRoute::Any,
            0.3,
            Fault::TruncatedBody,
        ));
        let run = |faults: &Faults| {
            let mut plan = FaultPlan::new(faults.clone());
            (0..1000).map(|_| plan.next(FaultRoute::File) != Fault::Pass).collect::<Vec<_>>()
        };
        let a = run(&faults);
        assert_eq!(a, run(&faults));
        assert_ne!(a, run(&faults.seed(43)));
        let fired = a.iter().filter(|f| **f).count();
        assert!((200..400).contains(&fired), "{fired}");
    }

    #[test]
    fn json_form_round_trips_and_validates() {
        let text = r#"{"seed":7,"rules":[
            {"trigger":"script","route":"create_type","answers":[{"kind":"status","status":503},{"kind":"pass"}]},
            {"trigger":"probability","route":"list","probability":0.25,"fault":{"kind":"rate_limited"}},
            {"trigger":"script","route":"file","answers":[{"kind":"html_error"},{"kind":"delay","millis":5},
              {"kind":"truncated_body"},{"kind":"malformed_json"},{"kind":"wrong_content_type"},{"kind":"connection_reset"}]}
        ]}"#;
        let faults = Faults::from_json(text).unwrap();
        assert_eq!(faults.rules.len(), 3);
        let back = Faults::from_json(&serde_json::to_string(&faults).unwrap()).unwrap();
        assert_eq!(back, faults);
        match &faults.rules[1] {
            FaultRule::Probability { fault, .. } => {
                assert_eq!(fault, &Fault::RateLimited { retry_after_secs: 1 });
            }
            other => panic!("{other:?}"),
        }
        for (bad, needle) in [
            (
                r#"{"rules":[{"trigger":"script","route":"lst","answers":[]}]}"#,
                "invalid fault route 'lst'",
            ),
            (
                r#"{"rules":[{"trigger":"probability","route":"list","probability":1.5,"fault":{"kind":"pass"}}]}"#,
                "probability 1.5",
            ),
            (
                r#"{"rules":[{"trigger":"script","route":"any","answers":[{"kind":"status","status":200}]}]}"#,
                "status 200",
            ),
            (
                r#"{"rules":[{"trigger":"script","route":"any","answers":[{"kind":"explode"}]}]}"#,
                "explode",
            ),
        ] {
            let e = Faults::from_json(bad).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
