//! `diff` output: per step in execution order, a header with counts, one line per object
//! that is not unchanged, and unified diffs of the YAML (coloured on a terminal). Also the
//! two folders `KUBECTL_EXTERNAL_DIFF` is given, one file per object, named as kubectl
//! names them. Secret values arrive here masked already.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use owo_colors::{OwoColorize, Stream};
use serde_json::Value;

use crate::diff::{DiffAction, DiffReport, ObjectDiff, StepDiff, StepRef};

/// The order counts are listed in a step header.
const COUNT_ORDER: [DiffAction; 12] = [
    DiffAction::Create,
    DiffAction::CreateNotValidated,
    DiffAction::Change,
    DiffAction::Added,
    DiffAction::Changed,
    DiffAction::Moved,
    DiffAction::Removed,
    DiffAction::Prune,
    DiffAction::Keep,
    DiffAction::Rejected,
    DiffAction::WillRun,
    DiffAction::Unchanged,
];

/// The header counts of a step: `create 1, change 2, unchanged 3`.
fn counts(step: &StepDiff) -> String {
    let parts: Vec<String> = COUNT_ORDER
        .iter()
        .filter_map(|&a| {
            let n = step.count(a);
            (n > 0).then(|| format!("{} {n}", a.as_str()))
        })
        .collect();
    parts.join(", ")
}

fn paint_action(action: DiffAction) -> String {
    let text = action.as_str();
    let painted = match action {
        DiffAction::Create | DiffAction::CreateNotValidated | DiffAction::Added => text
            .if_supports_color(Stream::Stdout, |t| t.green().to_string())
            .to_string(),
        DiffAction::Prune | DiffAction::Removed | DiffAction::Rejected => text
            .if_supports_color(Stream::Stdout, |t| t.red().to_string())
            .to_string(),
        DiffAction::Change | DiffAction::Changed | DiffAction::Moved => text
            .if_supports_color(Stream::Stdout, |t| t.yellow().to_string())
            .to_string(),
        _ => text.to_string(),
    };
    // Pad on the plain text so colour codes do not shift the columns.
    let pad = 24usize.saturating_sub(text.chars().count());
    format!("{painted}{}", " ".repeat(pad))
}

/// The text report. `summary`: the step headers only.
pub fn render_text(report: &DiffReport, summary: bool) -> String {
    let mut out = String::new();
    // Objects that moved, by the step they left, so that step says where they went.
    let mut moved_away: BTreeMap<StepRef, Vec<(&ObjectDiff, StepRef)>> = BTreeMap::new();
    for step in &report.steps {
        for o in &step.objects {
            if let Some(from) = o.from {
                moved_away.entry(from).or_default().push((o, step.step));
            }
        }
    }
    let mut all_steps: Vec<StepRef> = report.steps.iter().map(|s| s.step).collect();
    all_steps.extend(moved_away.keys().copied());
    all_steps.sort();
    all_steps.dedup();
    let total = all_steps.len();
    for (i, step_ref) in all_steps.iter().enumerate() {
        let step = report.steps.iter().find(|s| s.step == *step_ref);
        let away = moved_away.get(step_ref).map(Vec::as_slice).unwrap_or(&[]);
        if i > 0 && !summary {
            out.push('\n');
        }
        let mut header = step.map(counts).unwrap_or_default();
        if !away.is_empty() {
            if !header.is_empty() {
                header.push_str(", ");
            }
            header.push_str(&format!("moved away {}", away.len()));
        }
        out.push_str(&super::heading(&format!(
            "STEP {}/{total}  {step_ref}  ({header})",
            i + 1
        )));
        out.push('\n');
        if summary {
            continue;
        }
        for (o, to) in away {
            out.push_str(&format!(
                "  {}{}  → {to}\n",
                paint_action_text("moved away"),
                o.object.display()
            ));
        }
        let Some(step) = step else { continue };
        for o in &step.objects {
            if o.action == DiffAction::Unchanged {
                continue;
            }
            out.push_str(&object_line(o));
        }
        for o in &step.objects {
            if matches!(
                o.action,
                DiffAction::Unchanged
                    | DiffAction::WillRun
                    | DiffAction::Keep
                    | DiffAction::Rejected
            ) || (o.action == DiffAction::Moved && o.patch.is_empty())
            {
                continue;
            }
            out.push_str(&unified(report, o));
        }
    }
    out.push_str(&footer(report));
    out
}

fn paint_action_text(text: &str) -> String {
    let pad = 24usize.saturating_sub(text.chars().count());
    format!(
        "{}{}",
        text.if_supports_color(Stream::Stdout, |t| t.yellow().to_string()),
        " ".repeat(pad)
    )
}

fn object_line(o: &ObjectDiff) -> String {
    let mut line = format!("  {}{}", paint_action(o.action), o.object.display());
    if !o.object.source.is_empty() {
        line.push_str(&format!("  ({})", o.object.source));
    }
    if let Some(message) = &o.message {
        line.push_str(&format!(": {message}"));
    } else if o.action == DiffAction::WillRun {
        line.push_str(": hook, recreated by every sync");
    }
    line.push('\n');
    if let Some(keys) = &o.secret_keys
        && !keys.is_empty()
    {
        let mut parts = Vec::new();
        for (label, list) in [
            ("added", &keys.added),
            ("removed", &keys.removed),
            ("changed", &keys.changed),
        ] {
            if !list.is_empty() {
                parts.push(format!("{label} {}", list.join(", ")));
            }
        }
        line.push_str(&format!(
            "  {}Secret keys: {} (values not shown)\n",
            " ".repeat(24),
            parts.join("; ")
        ));
    }
    line
}

/// The YAML of one side, "" when absent. Keys sorted, as kubectl prints them, so the order
/// a file or the server gives them in never shows as a change.
pub fn yaml(value: Option<&Value>) -> String {
    value
        .map(|v| {
            serde_saphyr::to_string(&sorted(v))
                .unwrap_or_else(|e| format!("# cannot render: {e}\n"))
        })
        .unwrap_or_default()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn unified(report: &DiffReport, o: &ObjectDiff) -> String {
    let before = yaml(o.before.as_ref());
    let after = yaml(o.after.as_ref());
    if before == after {
        return String::new();
    }
    let name = o.object.display();
    let diff = similar::TextDiff::from_lines(&before, &after);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{} {name}", report.from),
            &format!("{} {name}", report.to),
        )
        .to_string();
    let mut out = String::new();
    for line in text.lines() {
        let painted = if line.starts_with("+++") || line.starts_with("---") {
            line.if_supports_color(Stream::Stdout, |t| t.bold().to_string())
                .to_string()
        } else if line.starts_with('+') {
            line.if_supports_color(Stream::Stdout, |t| t.green().to_string())
                .to_string()
        } else if line.starts_with('-') {
            line.if_supports_color(Stream::Stdout, |t| t.red().to_string())
                .to_string()
        } else if line.starts_with("@@") {
            line.if_supports_color(Stream::Stdout, |t| t.cyan().to_string())
                .to_string()
        } else {
            line.to_string()
        };
        out.push_str(&painted);
        out.push('\n');
    }
    out
}

fn footer(report: &DiffReport) -> String {
    if report.steps.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = COUNT_ORDER
        .iter()
        .filter_map(|a| {
            report
                .totals
                .get(a.key())
                .map(|n| format!("{} {n}", a.as_str()))
        })
        .collect();
    format!(
        "\n{}: {}\n",
        if report.differs {
            "Differences"
        } else {
            "No differences"
        },
        parts.join(", ")
    )
}

/// kubectl's file name for an object: `[group.]version.Kind.namespace.name`.
pub fn external_file_name(o: &ObjectDiff) -> String {
    let (group, version) = match o.object.api_version.rsplit_once('/') {
        Some((g, v)) => (format!("{g}."), v),
        None => (String::new(), o.object.api_version.as_str()),
    };
    let name = format!(
        "{group}{version}.{}.{}.{}",
        o.object.kind, o.object.namespace, o.object.name
    );
    // A name is never a path.
    name.replace(['/', '\\'], "_")
}

/// Writes each side of every compared object into `from_dir` and `to_dir` (an absent side:
/// no file, as kubectl; `diff -N` reads it as empty). Hooks and kept objects are not
/// compared and get no file.
pub fn write_external(report: &DiffReport, from_dir: &Path, to_dir: &Path) -> io::Result<()> {
    for o in report.steps.iter().flat_map(|s| &s.objects) {
        if o.before.is_none() && o.after.is_none() {
            continue;
        }
        let name = external_file_name(o);
        if let Some(before) = &o.before {
            std::fs::write(from_dir.join(&name), yaml(Some(before)))?;
        }
        if let Some(after) = &o.after {
            std::fs::write(to_dir.join(&name), yaml(Some(after)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{ObjectInfo, StepDiff};
    use crate::model::Phase;
    use serde_json::json;

    fn info(kind: &str, name: &str) -> ObjectInfo {
        ObjectInfo {
            api_version: if kind == "Deployment" {
                "apps/v1"
            } else {
                "v1"
            }
            .into(),
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
            source: format!("app/{name}.yaml:1"),
        }
    }

    #[test]
    fn text_lists_steps_in_order_with_counts_and_masked_diffs() {
        let web = ObjectDiff::new(info("Deployment", "web"), DiffAction::Change).with_versions(
            Some(json!({"spec": {"replicas": 1}})),
            Some(json!({"spec": {"replicas": 3}})),
        );
        let secret = ObjectDiff::new(info("Secret", "db"), DiffAction::Change).with_versions(
            Some(json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "b2xk"}})),
            Some(json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "bmV3"}})),
        );
        let same = ObjectDiff::new(info("ConfigMap", "c"), DiffAction::Unchanged);
        let report = DiffReport::new(
            "live".into(),
            "desired".into(),
            vec![StepDiff::new(
                StepRef {
                    phase: Phase::Sync,
                    wave: 1,
                },
                vec![web, secret, same],
            )],
        );
        let text = render_text(&report, false);
        assert!(
            text.contains("STEP 1/1  Sync wave 1  (change 2, unchanged 1)"),
            "{text}"
        );
        assert!(text.contains("-  replicas: 1\n+  replicas: 3\n"), "{text}");
        assert!(
            text.contains("Secret keys: changed password (values not shown)"),
            "{text}"
        );
        assert!(text.contains("*** (after)"), "{text}");
        assert!(!text.contains("bmV3") && !text.contains("b2xk"), "{text}");
        assert!(
            !text.contains("ConfigMap/shop/c"),
            "unchanged objects are only counted"
        );
        assert!(
            text.ends_with("Differences: change 2, unchanged 1\n"),
            "{text}"
        );
        let summary = render_text(&report, true);
        assert!(!summary.contains("replicas"), "{summary}");
        assert_eq!(
            external_file_name(&report.steps[0].objects[0]),
            "apps.v1.Deployment.shop.web"
        );
        assert_eq!(
            external_file_name(&report.steps[0].objects[1]),
            "v1.Secret.shop.db"
        );
    }
}
