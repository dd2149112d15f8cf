//! `gc` output: a kubectl-style table of leftover hooks with what `gc` does with each, a
//! summary line, and the JSON/YAML document.

use serde::Serialize;

use crate::gc::{Action, Leftover, State, format_age};

/// The `-o json|yaml` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcDocument<'a> {
    /// Whether `--yes` was given (deletions were carried out).
    pub deleted: bool,
    pub items: &'a [Leftover],
    /// Hook objects never touched (`Kind/namespace/name: why`).
    pub protected: &'a [String],
}

fn state_cell(l: &Leftover) -> String {
    let state = match l.state {
        State::Failed if !l.message.is_empty() => format!("failed: {}", one_line(&l.message, 60)),
        state => state.as_str().to_string(),
    };
    if l.terminating {
        format!("{state} (terminating)")
    } else {
        state
    }
}

fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// The table; `all_namespaces` adds the NAMESPACE column (as kubectl with `-A`).
pub fn table(leftovers: &[Leftover], all_namespaces: bool, done: bool) -> String {
    let mut headers = vec![
        "KIND", "NAME", "PHASE", "POLICY", "STATE", "AGE", "OWNER", "WHY LEFT", "ACTION",
    ];
    if done {
        headers.push("RESULT");
    }
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = leftovers
        .iter()
        .map(|l| {
            let mut row = vec![
                l.kind.clone(),
                l.name.clone(),
                if l.phase.is_empty() {
                    "-".into()
                } else {
                    l.phase.clone()
                },
                if l.delete_policies.is_empty() {
                    "-".into()
                } else {
                    l.delete_policies.join(",")
                },
                state_cell(l),
                l.age_seconds
                    .map(format_age)
                    .unwrap_or_else(|| "<unknown>".into()),
                l.owner
                    .as_ref()
                    .map(|o| o.display())
                    .unwrap_or_else(|| "-".into()),
                l.why_left.clone(),
                match &l.action {
                    Action::Delete if l.hook_finalizer => {
                        "delete (removing the hook finalizer)".to_string()
                    }
                    Action::Delete => "delete".to_string(),
                    Action::Keep(why) => format!("keep: {why}"),
                },
            ];
            if done {
                row.push(l.result.clone().unwrap_or_else(|| "-".into()));
            }
            if all_namespaces {
                row.insert(0, l.namespace.clone());
            }
            row
        })
        .collect();
    super::table(&headers, &rows)
}

/// The line after the table: how many would be (or were) deleted and kept.
pub fn summary(leftovers: &[Leftover], done: bool, failed: usize) -> String {
    let delete = leftovers
        .iter()
        .filter(|l| l.action == Action::Delete)
        .count();
    let kept = leftovers.len() - delete;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if done {
        format!("{} deleted, {failed} failed, {kept} kept.", delete - failed,)
    } else if delete == 0 {
        format!(
            "Nothing to delete; {kept} hook object{} kept.",
            plural(kept)
        )
    } else {
        format!(
            "{delete} hook object{} would be deleted, {kept} kept: run again with --yes to delete {}.",
            plural(delete),
            if delete == 1 { "it" } else { "them" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::{Origin, Owner};

    fn leftover(name: &str, action: Action) -> Leftover {
        Leftover {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: "shop".into(),
            name: name.into(),
            origin: Origin::Waves,
            phase: "PreSync".into(),
            delete_policies: vec!["HookSucceeded".into()],
            state: State::Failed,
            message: "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
            created: String::new(),
            age_seconds: Some(200),
            owner: Some(Owner::SyncId("abc".into())),
            why_left: "policy did not cover the outcome (HookSucceeded only)".into(),
            hook: name.into(),
            hook_finalizer: false,
            terminating: false,
            action,
            result: None,
        }
    }

    #[test]
    fn table_has_kubectl_columns() {
        let rows = [leftover("migrate", Action::Delete)];
        let text = table(&rows, true, false);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("NAMESPACE   KIND   NAME"), "{header}");
        assert!(
            header.contains("OWNER") && header.contains("WHY LEFT") && header.ends_with("ACTION"),
            "{header}"
        );
        let row = lines.next().unwrap();
        assert!(row.contains("failed: BackoffLimitExceeded"), "{row}");
        assert!(row.contains("3m20s"), "{row}");
        assert!(row.contains("sync abc"), "{row}");
        assert!(row.ends_with("delete"), "{row}");
    }

    #[test]
    fn summary_says_what_would_happen() {
        let rows = [
            leftover("a", Action::Delete),
            leftover("b", Action::Keep("running".into())),
        ];
        assert_eq!(
            summary(&rows, false, 0),
            "1 hook object would be deleted, 1 kept: run again with --yes to delete it."
        );
        assert_eq!(summary(&rows, true, 0), "1 deleted, 0 failed, 1 kept.");
    }
}
