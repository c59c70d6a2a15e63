//! What a soak found: per-operation statistics, the emulator's answers, memory, and the
//! invariants with their verdicts, rendered as the summary table.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

/// The operations a client task performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    Create,
    List,
    Wait,
    Fetch,
    Delete,
}

impl Op {
    pub(crate) const ALL: [Op; 5] = [Op::Create, Op::List, Op::Wait, Op::Fetch, Op::Delete];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::List => "list",
            Op::Wait => "wait",
            Op::Fetch => "fetch",
            Op::Delete => "delete",
        }
    }
}

/// The calls of one operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpStats {
    pub(crate) calls: u64,
    pub(crate) ok: u64,
    /// Failed calls by error kind (`timeout`, `dispatch`, `api 429`...).
    pub(crate) failed: BTreeMap<String, u64>,
    /// Calls that ran past their hard limit (cancelled by the soak).
    pub(crate) hung: u64,
    pub(crate) max: Duration,
}

impl OpStats {
    pub(crate) fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// One checked invariant.
#[derive(Debug, Clone)]
pub(crate) struct Invariant {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

/// Resident memory (VmRSS) of the process at three moments, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    pub(crate) start: Option<u64>,
    pub(crate) middle: Option<u64>,
    pub(crate) end: Option<u64>,
}

/// The whole outcome of a soak.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) header: String,
    pub(crate) elapsed: Duration,
    pub(crate) ops: BTreeMap<Op, OpStats>,
    pub(crate) answers: BTreeMap<u16, u64>,
    pub(crate) memory: Memory,
    pub(crate) invariants: Vec<Invariant>,
}

impl Report {
    /// Whether every invariant held.
    pub(crate) fn passed(&self) -> bool {
        self.invariants.iter().all(|i| i.ok)
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header)?;
        writeln!(f, "ran {:.1} s", self.elapsed.as_secs_f64())?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<8} {:>8} {:>8} {:>8} {:>6} {:>8}  failures by kind",
            "op", "calls", "ok", "failed", "hung", "max ms"
        )?;
        for op in Op::ALL {
            let s = self.ops.get(&op).cloned().unwrap_or_default();
            let kinds = s.failed.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>();
            writeln!(
                f,
                "{:<8} {:>8} {:>8} {:>8} {:>6} {:>8}  {}",
                op.name(),
                s.calls,
                s.ok,
                s.failed_total(),
                s.hung,
                s.max.as_millis(),
                if kinds.is_empty() { "-".to_owned() } else { kinds.join(", ") }
            )?;
        }
        writeln!(f)?;
        let total: u64 = self.answers.values().sum();
        let class = |c: u16| -> u64 {
            self.answers.iter().filter(|(s, _)| **s / 100 == c).map(|(_, n)| n).sum()
        };
        let mut statuses = String::new();
        for (s, n) in &self.answers {
            let _ = write!(statuses, " {s}:{n}");
        }
        writeln!(
            f,
            "emulator answers: {total} (2XX {}, 4XX {}, 5XX {}); by status:{statuses}",
            class(2),
            class(4),
            class(5)
        )?;
        writeln!(
            f,
            "memory (VmRSS): start {}, middle {}, end {}",
            mib(self.memory.start),
            mib(self.memory.middle),
            mib(self.memory.end)
        )?;
        writeln!(f)?;
        let width = self.invariants.iter().map(|i| i.name.len()).max().unwrap_or(9).max(9);
        writeln!(f, "{:<width$}  result  detail", "invariant")?;
        for i in &self.invariants {
            let verdict = if i.ok { "ok" } else { "BROKEN" };
            writeln!(f, "{:<width$}  {verdict:<6}  {}", i.name, i.detail)?;
        }
        writeln!(f)?;
        let broken = self.invariants.iter().filter(|i| !i.ok).count();
        if broken == 0 {
            write!(f, "soak passed: {} invariants held", self.invariants.len())
        } else {
            write!(f, "soak FAILED: {broken} of {} invariants broken", self.invariants.len())
        }
    }
}
