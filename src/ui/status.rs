//! Rendering `status`: a table per step in execution order with the step's verdict, the
//! blocking object marked `>` and explained under the tables, then one summary line.

use owo_colors::{OwoColorize, Stream};

use crate::health::HealthStatus;
use crate::status::{Blocker, ObjectStatus, StatusReport, StepVerdict};

/// The whole report as text (stdout).
pub fn render(report: &StatusReport) -> String {
    let total = report.steps.len();
    let blocker = report.blocking.as_ref();
    let mut out = String::new();
    for step in &report.steps {
        out.push_str(&format!(
            "{}  {}\n",
            crate::ui::heading(&format!(
                "STEP {}/{total}  {} wave {}",
                step.step, step.phase, step.wave
            )),
            verdict_text(step.verdict)
        ));
        let is_blocker = |o: &ObjectStatus| {
            blocker.is_some_and(|b| b.step == step.step && b.object.display() == o.display())
        };
        out.push_str(&indent(&objects_table(&step.objects, &is_blocker)));
        out.push('\n');
    }
    let ran: Vec<ObjectStatus> = report
        .sync_fail
        .iter()
        .filter(|o| o.hook_run.as_ref().is_some_and(|r| r.name.is_some()))
        .cloned()
        .collect();
    if !ran.is_empty() {
        out.push_str(&format!(
            "{}  (they run only when a sync fails)\n",
            crate::ui::heading("SYNCFAIL HOOKS")
        ));
        out.push_str(&indent(&objects_table(&ran, &|_| false)));
        out.push('\n');
    }
    if let Some(b) = blocker {
        out.push_str(&blocker_text(b, total));
    }
    out.push_str(&summary_line(report));
    out
}

/// `Healthy: all N steps done` or `Blocked at step …`.
pub fn summary_line(report: &StatusReport) -> String {
    if report.healthy {
        let text = "Healthy"
            .if_supports_color(Stream::Stdout, |t| t.green().bold().to_string())
            .to_string();
        format!("{text}: {}\n", report.summary)
    } else {
        let text = "Not healthy"
            .if_supports_color(Stream::Stdout, |t| t.red().bold().to_string())
            .to_string();
        format!("{text}: {}\n", report.summary)
    }
}

fn objects_table(objects: &[ObjectStatus], is_blocker: &dyn Fn(&ObjectStatus) -> bool) -> String {
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|o| {
            let mark = if is_blocker(o) { ">" } else { " " };
            let live = match &o.hook_run {
                Some(run) => format!("hook {}", run.result.as_str()),
                None => o.live.as_str().to_string(),
            };
            let mut message = o.message.clone();
            if let Some(pod) = &o.pod {
                if !message.is_empty() {
                    message.push_str("; ");
                }
                message.push_str(pod);
            }
            vec![
                format!("{mark} {}", o.display()),
                live,
                health_text(o.health),
                message,
            ]
        })
        .collect();
    crate::ui::table(&["  OBJECT", "LIVE", "HEALTH", "MESSAGE"], &rows)
}

fn blocker_text(b: &Blocker, total: usize) -> String {
    let mut out = format!(
        "{} step {}/{total} ({} wave {}): {}{}\n  {}\n",
        crate::ui::heading("Blocking:"),
        b.step,
        b.phase,
        b.wave,
        b.object.display(),
        if b.object.source.is_empty() {
            String::new()
        } else {
            format!(" ({})", b.object.source)
        },
        b.reason
    );
    if !b.events.is_empty() {
        let whose = b
            .evidence_pod
            .as_deref()
            .map(|p| format!("pod {p}"))
            .unwrap_or_else(|| "the object".into());
        out.push_str(&format!("  recent events of {whose}:\n"));
        for e in &b.events {
            out.push_str(&format!("    {e}\n"));
        }
    }
    if !b.logs.is_empty() {
        out.push_str(&format!(
            "  last {} log lines of pod {}:\n",
            b.logs.len(),
            b.evidence_pod.as_deref().unwrap_or("?")
        ));
        for l in &b.logs {
            out.push_str(&format!("    {l}\n"));
        }
    }
    out.push('\n');
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn verdict_text(v: StepVerdict) -> String {
    let s = v.as_str();
    match v {
        StepVerdict::Done => s
            .if_supports_color(Stream::Stdout, |t| t.green().to_string())
            .to_string(),
        StepVerdict::Blocking => s
            .if_supports_color(Stream::Stdout, |t| t.red().bold().to_string())
            .to_string(),
        _ => s.to_string(),
    }
}

fn health_text(status: HealthStatus) -> String {
    match status {
        HealthStatus::None => "-".into(),
        s => s.as_str().into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::LiveKey;
    use crate::health::HealthStatus;
    use crate::model::Phase;
    use crate::status::{
        Blocker, ObjectState, ObjectStatus, Presence, StatusReport, StepStatus, StepVerdict,
    };

    fn object(name: &str, live: Presence, health: HealthStatus, message: &str) -> ObjectStatus {
        ObjectStatus {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "shop".into(),
            name: name.into(),
            source: "app.yaml:1".into(),
            hook: false,
            live,
            health,
            message: message.into(),
            state: ObjectState::Waiting,
            hook_run: None,
            pod: None,
            index: 0,
            key: Some(LiveKey::new("", "ConfigMap", "shop", name)),
            stuck: None,
        }
    }

    #[test]
    fn marks_the_blocker_and_ends_with_the_summary() {
        owo_colors::set_override(false);
        let slow = object(
            "slow",
            Presence::Present,
            HealthStatus::Progressing,
            "waiting",
        );
        let report = StatusReport {
            healthy: false,
            summary: "blocked at step 1/1 (Sync wave 0): ConfigMap/shop/slow: Progressing: waiting"
                .into(),
            steps: vec![StepStatus {
                step: 1,
                phase: Phase::Sync,
                wave: 0,
                verdict: StepVerdict::Blocking,
                objects: vec![
                    object("a", Presence::Present, HealthStatus::None, ""),
                    slow.clone(),
                ],
            }],
            blocking: Some(Blocker {
                step: 1,
                phase: Phase::Sync,
                wave: 0,
                object: slow,
                reason: "Progressing: waiting".into(),
                logs: vec!["boom".into()],
                events: Vec::new(),
                evidence_pod: Some("slow-1".into()),
            }),
            sync_fail: Vec::new(),
        };
        let text = super::render(&report);
        assert_eq!(
            text,
            "STEP 1/1  Sync wave 0  blocking
    OBJECT                LIVE      HEALTH        MESSAGE
    ConfigMap/shop/a      present   -
  > ConfigMap/shop/slow   present   Progressing   waiting

Blocking: step 1/1 (Sync wave 0): ConfigMap/shop/slow (app.yaml:1)
  Progressing: waiting
  last 1 log lines of pod slow-1:
    boom

Not healthy: blocked at step 1/1 (Sync wave 0): ConfigMap/shop/slow: Progressing: waiting
"
        );
    }
}
