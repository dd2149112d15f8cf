//! Rendering a sync's events: a live line on a terminal, plain timestamped lines otherwise
//! (both on stderr), JSON lines on stdout with `-o json`, and the summary table on stdout.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use owo_colors::{OwoColorize, Stream};

use crate::health::HealthStatus;
use crate::sync::{Event, Failure, Outcome, StepSummary};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A spinner line with what the running step waits for; finished lines above it.
    Live,
    /// One timestamped line per event (CI logs, pipes).
    Lines,
    /// `-o json`: one event per line on stdout, nothing on stderr but errors.
    Json,
}

impl Progress {
    /// Live on a terminal, plain lines otherwise; JSON when asked.
    pub fn detect(json: bool) -> Progress {
        if json {
            Progress::Json
        } else if std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_some_and(|t| t != "dumb")
        {
            Progress::Live
        } else {
            Progress::Lines
        }
    }
}

/// Consumes events and prints them; one place prints, the engine never does.
pub struct SyncRenderer {
    mode: Progress,
    spinner: Option<indicatif::ProgressBar>,
    step_title: String,
    /// The latest reason per awaited object of the running step, for the live line.
    waiting: Vec<(String, String)>,
    /// Graph order: objects not started yet and what each waits for.
    blocked: Vec<(String, Vec<String>)>,
    started: std::time::Instant,
    /// Steps of the plan (SyncFail hooks are reported as the one after the last).
    steps: usize,
}

impl SyncRenderer {
    pub fn new(mode: Progress) -> Self {
        let spinner = (mode == Progress::Live).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        SyncRenderer {
            mode,
            spinner,
            step_title: String::new(),
            waiting: Vec::new(),
            blocked: Vec::new(),
            started: std::time::Instant::now(),
            steps: 0,
        }
    }

    fn line(&self, text: &str) {
        match (&self.spinner, self.mode) {
            (Some(bar), _) => bar.println(text),
            (None, Progress::Lines) => {
                let elapsed = self.started.elapsed().as_secs_f64();
                eprintln!("[{elapsed:7.3}s] {text}");
            }
            _ => {}
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.spinner {
            let detail = match self.waiting.first() {
                Some((who, why)) if why.is_empty() => format!(": waiting for {who}"),
                Some((who, why)) => format!(": waiting for {who}: {why}"),
                None => String::new(),
            };
            let more = if self.waiting.len() > 1 {
                format!(" (+{} more)", self.waiting.len() - 1)
            } else {
                String::new()
            };
            // Graph order: the frontier, what runs and what the first blocked object waits for.
            let frontier = match self.blocked.first() {
                Some((who, on)) => format!(
                    "; {} not started ({who} waits for {})",
                    self.blocked.len(),
                    on.join(", ")
                ),
                None => String::new(),
            };
            bar.set_message(format!("{}{detail}{more}{frontier}", self.step_title));
        }
    }

    /// Shows one event.
    pub fn event(&mut self, event: &Event) {
        if self.mode == Progress::Json {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            // Each line carries the time since the sync started, so CI can time steps.
            let mut value = serde_json::to_value(event).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.insert(
                    "elapsedMs".into(),
                    (self.started.elapsed().as_millis() as u64).into(),
                );
            }
            if let Ok(text) = serde_json::to_string(&value) {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            return;
        }
        match event {
            Event::SyncStarted {
                sync_id,
                steps,
                objects,
                dry_run,
            } => {
                self.steps = *steps;
                self.line(&format!(
                    "sync {sync_id}: {steps} step{}, {objects} object{}{}",
                    plural(*steps),
                    plural(*objects),
                    if *dry_run { " (server dry run)" } else { "" }
                ))
            }
            Event::HealthConfig { source, checks } => {
                self.line(&format!("custom health checks: {checks} from {source}"))
            }
            Event::DryRunPassed { objects, deferred } => {
                let later = if *deferred > 0 {
                    format!(
                        "; {deferred} validated when applied (their Namespace or CRD is created by this sync)"
                    )
                } else {
                    String::new()
                };
                self.line(&format!(
                    "server-side dry run passed: {objects} object{}{later}",
                    plural(*objects)
                ))
            }
            Event::DryRunResult { object, action } => {
                // A result: stdout, as `kubectl apply --dry-run=server` prints it.
                println!("{} {} (server dry run)", object.display(), action.as_str());
            }
            Event::StepStarted {
                step,
                steps,
                phase,
                wave,
                objects,
            } => {
                self.step_title = format!("step {step}/{steps} {phase} wave {wave}");
                self.waiting.clear();
                self.blocked.clear();
                self.line(&format!(
                    "{}: {objects} object{}",
                    heading(&self.step_title),
                    plural(*objects)
                ));
                self.refresh();
            }
            Event::Applied {
                object,
                action,
                hook,
                ..
            } => self.line(&format!(
                "  {} {}{}",
                object.display(),
                action.as_str(),
                if *hook { " (hook)" } else { "" }
            )),
            Event::Health {
                object,
                status,
                message,
                done,
                ..
            } => {
                let who = object.display();
                self.waiting.retain(|(w, _)| w != &who);
                if !done {
                    self.waiting.push((who.clone(), message.clone()));
                }
                let text = if *status == HealthStatus::None {
                    format!("  {who} ready (no health check)")
                } else if message.is_empty() {
                    format!("  {who} {}", status_text(*status))
                } else {
                    format!("  {who} {}: {message}", status_text(*status))
                };
                if self.mode == Progress::Lines || *done || *status == HealthStatus::Degraded {
                    self.line(&text);
                }
                self.refresh();
            }
            Event::Waiting {
                object, waits_for, ..
            } => {
                let who = object.display();
                self.blocked.retain(|(w, _)| w != &who);
                if !waits_for.is_empty() {
                    if self.mode == Progress::Lines {
                        self.line(&format!("  {who} waits for {}", waits_for.join(", ")));
                    }
                    self.blocked.push((who, waits_for.clone()));
                }
                self.refresh();
            }
            Event::Inventory {
                name,
                namespace,
                group_kinds,
                ..
            } => self.line(&format!(
                "  inventory Secret/{namespace}/{name}: {} kind{}",
                group_kinds.len(),
                plural(group_kinds.len())
            )),
            Event::Pruned { object, .. } => self.line(&format!("  {} pruned", object.display())),
            Event::PruneSkipped { object, reason } => match object {
                Some(o) => self.line(&format!("  {} not pruned: {reason}", o.display())),
                None => self.line(&format!("prune: {reason}")),
            },
            Event::Warning { message } => {
                let label = "warning"
                    .if_supports_color(Stream::Stderr, |t| t.yellow().bold().to_string())
                    .to_string();
                match &self.spinner {
                    Some(bar) => bar.suspend(|| eprintln!("{label}: {message}")),
                    None => eprintln!("{label}: {message}"),
                }
            }
            Event::HookDeleted { object, reason } => {
                self.line(&format!("  {} deleted ({reason:?})", object.display()))
            }
            Event::HookKept { object } => self.line(&format!(
                "  {} left running (--keep-running-hooks)",
                object.display()
            )),
            Event::ObjectFailed { failure, .. } => {
                if let Some(bar) = &self.spinner {
                    bar.suspend(|| print_failure(failure));
                } else {
                    print_failure(failure);
                }
            }
            Event::StepFinished {
                step,
                outcome,
                duration_ms,
            } => {
                self.waiting.clear();
                self.blocked.clear();
                let which = if *step > self.steps {
                    "SyncFail hooks".to_string()
                } else {
                    format!("step {step}/{}", self.steps)
                };
                self.line(&format!(
                    "{which} {} in {}",
                    outcome_text(*outcome),
                    seconds(*duration_ms)
                ));
            }
            Event::SyncFailStarted { hooks } => {
                self.step_title = "SyncFail hooks".into();
                self.line(&format!(
                    "{}: {hooks} hook{}",
                    heading("SyncFail hooks"),
                    plural(*hooks)
                ))
            }
            Event::SyncFinished { .. } => {
                if let Some(bar) = self.spinner.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

/// The summary on stdout after the sync (text mode).
pub fn summary(
    outcome: Outcome,
    message: &str,
    steps: &[StepSummary],
    total: usize,
    requests: u64,
    duration: Duration,
) -> String {
    let mut out = String::new();
    if !steps.is_empty() {
        let rows: Vec<Vec<String>> = steps
            .iter()
            .map(|s| {
                vec![
                    if s.phase == crate::model::Phase::SyncFail {
                        "-".to_string()
                    } else {
                        format!("{}/{total}", s.step)
                    },
                    s.phase.to_string(),
                    if s.phase == crate::model::Phase::SyncFail {
                        "-".into()
                    } else {
                        s.wave.to_string()
                    },
                    s.objects.to_string(),
                    outcome_text(s.outcome),
                    seconds(s.duration_ms),
                ]
            })
            .collect();
        out.push_str(&super::table(
            &["STEP", "PHASE", "WAVE", "OBJECTS", "RESULT", "DURATION"],
            &rows,
        ));
        out.push('\n');
    }
    out.push_str(&format!(
        "Sync {}: {message} ({} total, {requests} API requests)\n",
        outcome_text(outcome),
        seconds(duration.as_millis() as u64)
    ));
    out
}

fn print_failure(f: &Failure) {
    let label = "error"
        .if_supports_color(Stream::Stderr, |t| t.red().bold().to_string())
        .to_string();
    let who = if f.object.kind.is_empty() {
        String::new()
    } else if f.object.source.is_empty() {
        format!("{}: ", f.object.display())
    } else {
        format!("{}: {}: ", f.object.source, f.object.display())
    };
    eprintln!("{label}: {who}{}", f.message);
    if !f.events.is_empty() {
        let whose = f
            .pod
            .as_deref()
            .map(|p| format!("pod {p}"))
            .unwrap_or_else(|| "object".into());
        eprintln!("  recent events of {whose}:");
        for e in &f.events {
            eprintln!("    {e}");
        }
    }
    if !f.logs.is_empty() {
        eprintln!(
            "  last {} log lines of pod {}:",
            f.logs.len(),
            f.pod.as_deref().unwrap_or("?")
        );
        for l in &f.logs {
            eprintln!("    {l}");
        }
    }
}

fn heading(text: &str) -> String {
    text.if_supports_color(Stream::Stderr, |t| t.bold().to_string())
        .to_string()
}

fn status_text(status: HealthStatus) -> String {
    let s = status.as_str();
    match status {
        HealthStatus::Healthy => s
            .if_supports_color(Stream::Stderr, |t| t.green().to_string())
            .to_string(),
        HealthStatus::Degraded => s
            .if_supports_color(Stream::Stderr, |t| t.red().to_string())
            .to_string(),
        HealthStatus::None => "no health check".into(),
        _ => s
            .if_supports_color(Stream::Stderr, |t| t.yellow().to_string())
            .to_string(),
    }
}

fn outcome_text(outcome: Outcome) -> String {
    outcome.as_str().to_string()
}

fn seconds(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
