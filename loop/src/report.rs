//! What a loop run measured and checked.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// One asserted result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// The evidence.
    pub detail: String,
}

/// One point of an incident's timeline: seconds after the fault was injected.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// The step (`alert firing`, `incident recorded`, ...).
    pub step: String,
    /// Seconds after the fault, when it was seen.
    pub at: Option<f64>,
}

/// The timeline of one scenario's incident.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// The scenario.
    pub scenario: String,
    /// The incident id.
    pub incident_id: String,
    /// Its points, in loop order.
    pub points: Vec<Point>,
    /// Fault injected to record resolved (or escalated, for a fault the runbook cannot fix).
    pub mttr_seconds: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The factor durations were divided by.
    pub time_scale: u32,
    /// Each change made to the generated files.
    pub changes: Vec<String>,
    /// Each hop the harness did itself.
    pub emulated: Vec<String>,
    /// The incidents' timelines.
    pub timelines: Vec<Timeline>,
    /// The asserted results.
    pub checks: Vec<Check>,
    /// Counts (requests served, webhooks, events, notifications by type, ...).
    pub counts: serde_json::Map<String, Value>,
    /// Seconds the scenarios took (after set-up).
    pub scenario_seconds: f64,
}

impl Report {
    /// Records a check.
    pub fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        let detail = detail.into();
        println!(
            "  [{}] {name}: {detail}",
            if passed { "ok" } else { "FAILED" }
        );
        self.checks.push(Check {
            name: name.to_owned(),
            passed,
            detail,
        });
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The report as text: timelines with each hop's share of MTTR, the checks, the counts.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n==> report (durations divided by {}; see the changes above)",
            self.time_scale
        );
        for t in &self.timelines {
            let _ = writeln!(s, "\n{} — incident {}", t.scenario, t.incident_id);
            let mut previous: Option<f64> = Some(0.0);
            let _ = writeln!(
                s,
                "  {:<28} {:>9} {:>9} {:>7}",
                "step", "at (s)", "hop (s)", "share"
            );
            for p in &t.points {
                let hop = match (p.at, previous) {
                    (Some(a), Some(b)) => Some(a - b),
                    _ => None,
                };
                let share = match (hop, t.mttr_seconds) {
                    (Some(h), Some(m)) if m > 0.0 && p.at.is_some_and(|a| a <= m + 1e-9) => {
                        format!("{:.0}%", 100.0 * h / m)
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "  {:<28} {:>9} {:>9} {:>7}",
                    p.step,
                    p.at.map_or("—".into(), |a| format!("{a:.1}")),
                    hop.map_or(String::new(), |h| format!("{h:+.1}")),
                    share
                );
                if p.at.is_some() {
                    previous = p.at;
                }
            }
            let _ = writeln!(
                s,
                "  MTTR {}",
                t.mttr_seconds
                    .map_or("not reached".into(), |m| format!("{m:.1} s"))
            );
        }
        let _ = writeln!(s, "\nchecks:");
        for c in &self.checks {
            let _ = writeln!(
                s,
                "  [{}] {}: {}",
                if c.passed { "ok" } else { "FAILED" },
                c.name,
                c.detail
            );
        }
        let _ = writeln!(s, "\ncounts: {}", Value::Object(self.counts.clone()));
        let _ = writeln!(s, "scenarios took {:.0} s", self.scenario_seconds);
        s
    }
}
