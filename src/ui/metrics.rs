//! `sync --metrics-file`: the last sync as Prometheus gauges in the text exposition format,
//! built from the engine's events (never from inside the engine) and written atomically, so
//! node_exporter's textfile collector or a Pushgateway push never reads half a file.
//!
//! A file describes one run, so everything is a gauge of the last sync (a counter would restart
//! at every run). Names and labels are documented in `docs/sync.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::Phase;
use crate::sync::{DeleteReason, Event, Outcome, StepSummary};

/// A hook's result as the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookResult {
    Succeeded,
    Failed,
    /// Still running when the sync ended (a failure elsewhere, a deadline, Ctrl-C).
    Running,
    /// Deleted because the sync was interrupted.
    Terminated,
}

impl HookResult {
    fn as_str(self) -> &'static str {
        match self {
            HookResult::Succeeded => "Succeeded",
            HookResult::Failed => "Failed",
            HookResult::Running => "Running",
            HookResult::Terminated => "Terminated",
        }
    }
}

/// What the metrics need, gathered event by event.
#[derive(Debug, Default)]
pub struct SyncMetrics {
    /// Phase of each step number (SyncFail hooks run as the step after the last).
    step_phase: BTreeMap<usize, Phase>,
    /// Hooks in the order they were applied: (phase, `Kind/name`, object key, result).
    hooks: Vec<(Phase, String, String, HookResult)>,
    applied: u64,
    finished: Option<Finished>,
}

#[derive(Debug)]
struct Finished {
    outcome: Outcome,
    duration_ms: u64,
    steps: Vec<StepSummary>,
}

fn key(object: &crate::sync::ObjectInfo) -> String {
    format!("{}/{}", object.api_version, object.display())
}

impl SyncMetrics {
    pub fn new() -> Self {
        SyncMetrics::default()
    }

    /// Takes one event of the sync.
    pub fn event(&mut self, event: &Event) {
        match event {
            Event::StepStarted { step, phase, .. } => {
                self.step_phase.insert(*step, *phase);
            }
            Event::SyncFailStarted { .. } => {
                let next = self.step_phase.keys().next_back().map_or(1, |s| s + 1);
                self.step_phase.insert(next, Phase::SyncFail);
            }
            Event::Applied {
                step, object, hook, ..
            } => {
                self.applied += 1;
                if *hook {
                    let phase = self
                        .step_phase
                        .get(step)
                        .copied()
                        .unwrap_or(Phase::SyncFail);
                    let k = key(object);
                    // A hook applied again (BeforeHookCreation) is one hook.
                    self.hooks.retain(|(_, _, existing, _)| existing != &k);
                    let name = format!("{}/{}", object.kind, object.name);
                    self.hooks.push((phase, name, k, HookResult::Running));
                }
            }
            Event::Health { object, done, .. } if *done => {
                self.set_result(&key(object), HookResult::Succeeded, false);
            }
            Event::ObjectFailed { failure, .. } => {
                self.set_result(&key(&failure.object), HookResult::Failed, true);
            }
            Event::HookDeleted {
                object,
                reason: DeleteReason::Terminated,
            } => {
                self.set_result(&key(object), HookResult::Terminated, true);
            }
            Event::SyncFinished {
                outcome,
                duration_ms,
                steps,
                ..
            } => {
                self.finished = Some(Finished {
                    outcome: *outcome,
                    duration_ms: *duration_ms,
                    steps: steps.clone(),
                });
            }
            _ => {}
        }
    }

    fn set_result(&mut self, key: &str, result: HookResult, overrides: bool) {
        for (_, _, k, r) in &mut self.hooks {
            if k == key && (overrides || *r == HookResult::Running) {
                *r = result;
            }
        }
    }

    /// The exposition text; `None` before the sync finished. `app` labels every sample;
    /// `finished_at` is the time the sync ended.
    pub fn render(&self, app: &str, finished_at: SystemTime) -> Option<String> {
        let finished = self.finished.as_ref()?;
        let app = escape(app);
        let mut out = String::new();
        let mut family = |name: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{{app=\"{app}\"{labels}}} {value}");
            }
        };
        let one = |value: String| vec![(String::new(), value)];
        family(
            "waves_last_sync_success",
            "Whether the last sync succeeded (1) or failed or was interrupted (0).",
            &one(u8::from(finished.outcome == Outcome::Succeeded).to_string()),
        );
        let end = finished_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        family(
            "waves_last_sync_timestamp_seconds",
            "When the last sync ended, in seconds since the Unix epoch.",
            &one(format!("{end:.3}")),
        );
        family(
            "waves_last_sync_duration_seconds",
            "How long the last sync took.",
            &one(seconds(finished.duration_ms)),
        );
        let steps: Vec<(String, String)> = finished
            .steps
            .iter()
            .map(|s| {
                (
                    format!(",phase=\"{}\",wave=\"{}\"", s.phase.as_str(), s.wave),
                    seconds(s.duration_ms),
                )
            })
            .collect();
        family(
            "waves_last_step_duration_seconds",
            "How long each step (phase and wave) of the last sync took.",
            &steps,
        );
        let hooks: Vec<(String, String)> = self
            .hooks
            .iter()
            .map(|(phase, name, _, result)| {
                (
                    format!(
                        ",phase=\"{}\",hook=\"{}\",result=\"{}\"",
                        phase.as_str(),
                        escape(name),
                        result.as_str()
                    ),
                    "1".to_string(),
                )
            })
            .collect();
        family(
            "waves_last_hook_result",
            "The result of each hook the last sync ran (the sample with value 1 names it).",
            &hooks,
        );
        family(
            "waves_last_objects_applied",
            "Objects the last sync applied (hooks included).",
            &one(self.applied.to_string()),
        );
        Some(out)
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `text` to `path` atomically: a temporary file in the same directory (its name does
/// not end in `.prom`, so the textfile collector skips it), flushed to disk, then renamed over
/// `path`.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{Action, Failure, ObjectInfo};

    fn object(kind: &str, name: &str) -> ObjectInfo {
        ObjectInfo {
            api_version: "batch/v1".into(),
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
            source: String::new(),
        }
    }

    fn step(step: usize, phase: Phase, wave: i64, ms: u64) -> StepSummary {
        StepSummary {
            step,
            phase,
            wave,
            objects: 1,
            outcome: Outcome::Succeeded,
            duration_ms: ms,
        }
    }

    #[test]
    fn a_failed_sync_with_a_failed_hook_and_a_sync_fail_hook() {
        let mut m = SyncMetrics::new();
        let events = [
            Event::StepStarted {
                step: 1,
                steps: 2,
                phase: Phase::PreSync,
                wave: 0,
                objects: 1,
            },
            Event::Applied {
                step: 1,
                object: object("Job", "migrate"),
                action: Action::Created,
                hook: true,
            },
            Event::ObjectFailed {
                step: 1,
                failure: Failure {
                    object: object("Job", "migrate"),
                    message: "BackoffLimitExceeded".into(),
                    pod: None,
                    logs: vec![],
                    events: vec![],
                },
            },
            Event::SyncFailStarted { hooks: 1 },
            Event::Applied {
                step: 3,
                object: object("Job", "alert \"x\""),
                action: Action::Created,
                hook: true,
            },
            Event::Health {
                step: 3,
                object: object("Job", "alert \"x\""),
                status: crate::health::HealthStatus::Healthy,
                message: String::new(),
                done: true,
            },
            Event::SyncFinished {
                outcome: Outcome::Failed,
                message: "failed".into(),
                duration_ms: 2500,
                requests: 10,
                steps: vec![
                    step(1, Phase::PreSync, 0, 2000),
                    step(3, Phase::SyncFail, 0, 400),
                ],
                failures: vec![],
            },
        ];
        assert!(m.render("shop", UNIX_EPOCH).is_none());
        for e in &events {
            m.event(e);
        }
        let text = m
            .render("shop", UNIX_EPOCH + std::time::Duration::from_secs(10))
            .unwrap();
        for line in [
            "waves_last_sync_success{app=\"shop\"} 0",
            "waves_last_sync_timestamp_seconds{app=\"shop\"} 10.000",
            "waves_last_sync_duration_seconds{app=\"shop\"} 2.500",
            "waves_last_step_duration_seconds{app=\"shop\",phase=\"PreSync\",wave=\"0\"} 2.000",
            "waves_last_step_duration_seconds{app=\"shop\",phase=\"SyncFail\",wave=\"0\"} 0.400",
            "waves_last_hook_result{app=\"shop\",phase=\"PreSync\",hook=\"Job/migrate\",result=\"Failed\"} 1",
            "waves_last_hook_result{app=\"shop\",phase=\"SyncFail\",hook=\"Job/alert \\\"x\\\"\",result=\"Succeeded\"} 1",
            "waves_last_objects_applied{app=\"shop\"} 2",
            "# TYPE waves_last_hook_result gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waves.prom");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(write_atomically(&dir.path().join("missing/waves.prom"), "x").is_err());
    }
}
