//! Shell completion as kubectl (≥ 1.26) asks plugins for it: kubectl runs
//! `kubectl_complete-waves ARGS… WORD` (the same binary under that name, or
//! `kubectl-waves __complete ARGS… WORD`) and reads Cobra's protocol back: one candidate per line
//! (`value<TAB>description`), then `:DIRECTIVE`. Subcommands, flags and enum values come from
//! the clap definition, `--context` from the kubeconfig, `-n` from the cluster, and paths are
//! left to the shell (the default directive), as kubectl's own completion does.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, Command, ValueHint};

/// Cobra's `ShellCompDirective` bits that kubectl's completion scripts act on.
pub mod directive {
    /// The shell may also complete file names (Cobra's default).
    pub const DEFAULT: u32 = 0;
    pub const ERROR: u32 = 1;
    pub const NO_SPACE: u32 = 2;
    pub const NO_FILE_COMP: u32 = 4;
    /// Only directories.
    pub const FILTER_DIRS: u32 = 16;
}

/// What completion may look up outside the command line definition.
pub trait Lookup {
    /// Context names of the kubeconfig (`--kubeconfig` if given on the line).
    fn contexts(&self, kubeconfig: Option<&PathBuf>) -> Vec<String>;
    /// Namespace names of the cluster the line points at.
    fn namespaces(&self, kubeconfig: Option<&PathBuf>, context: Option<&str>) -> Vec<String>;
}

/// The real sources: the kubeconfig on disk and the cluster (one list, given up after 2 s).
pub struct Live;

impl Lookup for Live {
    fn contexts(&self, kubeconfig: Option<&PathBuf>) -> Vec<String> {
        crate::cluster::kubeconfig_contexts(kubeconfig.map(|p| p.as_path()))
    }

    fn namespaces(&self, kubeconfig: Option<&PathBuf>, context: Option<&str>) -> Vec<String> {
        let options = crate::cluster::ConnectOptions {
            kubeconfig: kubeconfig.cloned(),
            context: context.map(str::to_string),
            namespace: None,
        };
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return Vec::new();
        };
        runtime
            .block_on(crate::cluster::namespace_names(
                &options,
                Duration::from_secs(2),
            ))
            .unwrap_or_default()
    }
}

/// Candidates for the last word of `words` (the words after `kubectl waves`), and the directive.
#[derive(Debug, PartialEq, Eq)]
pub struct Completions {
    pub candidates: Vec<(String, String)>,
    pub directive: u32,
}

impl Completions {
    fn of(candidates: Vec<(String, String)>, directive: u32) -> Self {
        Completions {
            candidates,
            directive,
        }
    }

    /// Cobra's wire format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (value, help) in &self.candidates {
            out.push_str(value);
            if !help.is_empty() {
                out.push('\t');
                out.push_str(help);
            }
            out.push('\n');
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// What the words before the last one leave open.
struct Position<'a> {
    command: &'a Command,
    /// A flag whose value is the word being completed.
    pending: Option<&'a Arg>,
    /// Positional words seen in `command` (after its name).
    positionals: usize,
    after_double_dash: bool,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
    })
}

fn find_short(cmd: &Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c))
}

/// A flag that consumes the next word as its value (not `--wait`, whose value is optional and
/// must be written `--wait=false`).
fn takes_separate_value(arg: &Arg) -> bool {
    arg.get_action().takes_values() && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

fn remember(pos: &mut Position<'_>, arg: &Arg, value: &str) {
    match arg.get_id().as_str() {
        "kubeconfig" => pos.kubeconfig = Some(PathBuf::from(value)),
        "context" => pos.context = Some(value.to_string()),
        _ => {}
    }
}

fn walk<'a>(root: &'a Command, words: &[String]) -> Position<'a> {
    let mut pos = Position {
        command: root,
        pending: None,
        positionals: 0,
        after_double_dash: false,
        kubeconfig: None,
        context: None,
    };
    for word in words {
        if let Some(arg) = pos.pending.take() {
            remember(&mut pos, arg, word);
            continue;
        }
        if pos.after_double_dash {
            pos.positionals += 1;
        } else if word == "--" {
            pos.after_double_dash = true;
        } else if let Some(flag) = word.strip_prefix("--") {
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            if let Some(arg) = find_long(pos.command, name) {
                match value {
                    Some(v) => remember(&mut pos, arg, v),
                    None if takes_separate_value(arg) => pos.pending = Some(arg),
                    None => {}
                }
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-n`, `-nshop`, `-n=shop`, or grouped booleans.
            for (i, c) in shorts.char_indices() {
                let Some(arg) = find_short(pos.command, c) else {
                    break;
                };
                if arg.get_action().takes_values() {
                    let rest = shorts[i + c.len_utf8()..].trim_start_matches('=');
                    if rest.is_empty() {
                        pos.pending = Some(arg);
                    } else {
                        remember(&mut pos, arg, rest);
                    }
                    break;
                }
            }
        } else if pos.positionals == 0
            && let Some(sub) = pos
                .command
                .get_subcommands()
                .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
        {
            pos.command = sub;
        } else {
            pos.positionals += 1;
        }
    }
    pos
}

fn help_of(arg: &Arg) -> String {
    arg.get_help()
        .map(|h| first_sentence(&h.to_string()))
        .unwrap_or_default()
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.find(". ") {
        Some(i) => line[..i].to_string(),
        None => line.trim_end_matches('.').to_string(),
    }
}

/// Completes a flag's value; `prefix` is put back in front (`--flag=`).
fn values(
    arg: &Arg,
    word: &str,
    prefix: &str,
    pos: &Position<'_>,
    lookup: &dyn Lookup,
) -> Completions {
    let filter = |names: Vec<String>| -> Vec<(String, String)> {
        names
            .into_iter()
            .filter(|n| n.starts_with(word))
            .map(|n| (format!("{prefix}{n}"), String::new()))
            .collect()
    };
    match arg.get_id().as_str() {
        "context" => {
            return Completions::of(
                filter(lookup.contexts(pos.kubeconfig.as_ref())),
                directive::NO_FILE_COMP,
            );
        }
        "namespace" => {
            return Completions::of(
                filter(lookup.namespaces(pos.kubeconfig.as_ref(), pos.context.as_deref())),
                directive::NO_FILE_COMP,
            );
        }
        _ => {}
    }
    let possible = arg.get_possible_values();
    if !possible.is_empty() {
        let candidates = possible
            .iter()
            .filter(|v| !v.is_hide_set() && v.get_name().starts_with(word))
            .map(|v| {
                (
                    format!("{prefix}{}", v.get_name()),
                    v.get_help()
                        .map(|h| first_sentence(&h.to_string()))
                        .unwrap_or_default(),
                )
            })
            .collect();
        return Completions::of(candidates, directive::NO_FILE_COMP);
    }
    match arg.get_value_hint() {
        // `--flag=` followed by a path: the shell cannot complete the joined word.
        ValueHint::AnyPath | ValueHint::FilePath if prefix.is_empty() => {
            Completions::of(Vec::new(), directive::DEFAULT)
        }
        ValueHint::DirPath if prefix.is_empty() => {
            Completions::of(Vec::new(), directive::FILTER_DIRS)
        }
        _ => Completions::of(Vec::new(), directive::NO_FILE_COMP),
    }
}

/// The completions for `words`, whose last word is the one being typed (possibly empty).
pub fn complete(root: &Command, words: &[String], lookup: &dyn Lookup) -> Completions {
    let (word, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", words),
    };
    let pos = walk(root, before);
    if let Some(arg) = pos.pending {
        return values(arg, word, "", &pos, lookup);
    }
    if !pos.after_double_dash && word.starts_with('-') {
        if let Some((name, value)) = word
            .strip_prefix("--")
            .and_then(|flag| flag.split_once('='))
        {
            return match find_long(pos.command, name) {
                Some(arg) => values(arg, value, &format!("--{name}="), &pos, lookup),
                None => Completions::of(Vec::new(), directive::NO_FILE_COMP),
            };
        }
        let mut candidates = Vec::new();
        for arg in pos.command.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                let flag = format!("--{long}");
                if flag.starts_with(word) {
                    candidates.push((flag, help_of(arg)));
                }
            }
            if word.len() == 1
                && let Some(short) = arg.get_short()
            {
                candidates.push((format!("-{short}"), help_of(arg)));
            }
        }
        return Completions::of(candidates, directive::NO_FILE_COMP);
    }
    let subcommands: Vec<(String, String)> = if pos.positionals == 0 && !pos.after_double_dash {
        pos.command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name().starts_with(word))
            .map(|s| {
                (
                    s.get_name().to_string(),
                    s.get_about()
                        .map(|a| first_sentence(&a.to_string()))
                        .unwrap_or_default(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    if pos.command.has_subcommands() {
        return Completions::of(subcommands, directive::NO_FILE_COMP);
    }
    let positional = pos
        .command
        .get_positionals()
        .filter(|a| !a.is_hide_set())
        .find(|a| {
            a.get_index().is_some_and(|i| i > pos.positionals)
                || a.get_num_args().is_some_and(|n| n.max_values() > 1)
        });
    match positional {
        Some(arg) => values(arg, word, "", &pos, lookup),
        None => Completions::of(Vec::new(), directive::NO_FILE_COMP),
    }
}

/// Runs completion for the process arguments after the program name (and after
/// `__complete`), prints Cobra's format, exits 0.
pub fn run(words: &[String]) -> std::process::ExitCode {
    let mut root = <super::Cli as clap::CommandFactory>::command();
    root.build();
    let completions = complete(&root, words, &Live);
    let text = completions.render();
    let _ = super::print(|out| out.write_all(text.as_bytes()));
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Lookup for Fixed {
        fn contexts(&self, kubeconfig: Option<&PathBuf>) -> Vec<String> {
            match kubeconfig {
                Some(p) if p.as_os_str() == "other" => vec!["other-ctx".into()],
                _ => vec!["kind-dev".into(), "prod".into()],
            }
        }
        fn namespaces(&self, _: Option<&PathBuf>, context: Option<&str>) -> Vec<String> {
            match context {
                Some("prod") => vec!["payments".into()],
                _ => vec!["default".into(), "shop".into(), "shipping".into()],
            }
        }
    }

    fn values_of(line: &[&str]) -> (Vec<String>, u32) {
        let mut root = <crate::cli::Cli as clap::CommandFactory>::command();
        root.build();
        let words: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        let c = complete(&root, &words, &Fixed);
        (
            c.candidates.into_iter().map(|(v, _)| v).collect(),
            c.directive,
        )
    }

    #[test]
    fn subcommands_complete_by_prefix_without_hidden_ones() {
        let (all, d) = values_of(&[""]);
        assert!(all.contains(&"sync".to_string()) && all.contains(&"plan".to_string()));
        assert!(!all.iter().any(|s| s == "man"), "hidden: {all:?}");
        assert_eq!(d, directive::NO_FILE_COMP);
        assert_eq!(values_of(&["s"]).0, ["sync", "status"]);
    }

    #[test]
    fn flags_of_the_subcommand_and_the_global_ones() {
        let (flags, d) = values_of(&["sync", "--wa"]);
        assert_eq!(flags, ["--wait", "--wave-timeout"]);
        assert_eq!(d, directive::NO_FILE_COMP);
        let (flags, _) = values_of(&["sync", "--con"]);
        assert_eq!(flags, ["--concurrency", "--confirm-prune", "--context"]);
        let (flags, _) = values_of(&["plan", "-"]);
        assert!(flags.contains(&"-n".to_string()) && flags.contains(&"--strict".to_string()));
    }

    #[test]
    fn enum_values_separate_and_joined() {
        assert_eq!(values_of(&["plan", "-o", ""]).0, ["text", "json", "yaml"]);
        assert_eq!(values_of(&["plan", "-o", "j"]).0, ["json"]);
        assert_eq!(
            values_of(&["sync", "--dry-run="]).0,
            ["--dry-run=server", "--dry-run=client"]
        );
        assert_eq!(values_of(&["completion", "fi"]).0, ["fish"]);
    }

    #[test]
    fn contexts_from_the_kubeconfig_named_on_the_line() {
        assert_eq!(
            values_of(&["sync", "--context", ""]).0,
            ["kind-dev", "prod"]
        );
        assert_eq!(
            values_of(&["--kubeconfig", "other", "sync", "--context", ""]).0,
            ["other-ctx"]
        );
        assert_eq!(values_of(&["sync", "--context=p"]).0, ["--context=prod"]);
    }

    #[test]
    fn namespaces_from_the_cluster_of_the_context_on_the_line() {
        assert_eq!(values_of(&["gc", "-n", "sh"]).0, ["shop", "shipping"]);
        assert_eq!(
            values_of(&["gc", "--context", "prod", "-n", ""]).0,
            ["payments"]
        );
        assert_eq!(
            values_of(&["gc", "--namespace=s"]).0,
            ["--namespace=shop", "--namespace=shipping"]
        );
    }

    #[test]
    fn paths_are_left_to_the_shell() {
        let (none, d) = values_of(&["plan", "fix"]);
        assert!(none.is_empty());
        assert_eq!(d, directive::DEFAULT);
        assert_eq!(values_of(&["sync", "-f", ""]).1, directive::DEFAULT);
        assert_eq!(
            values_of(&["sync", "--health-config", ""]).1,
            directive::DEFAULT
        );
        // An optional value (`--wait`) does not eat the next word: it is a path again.
        assert_eq!(values_of(&["sync", "--wait", "fix"]).1, directive::DEFAULT);
    }

    #[test]
    fn free_values_offer_nothing() {
        assert_eq!(
            values_of(&["sync", "--timeout", ""]),
            (vec![], directive::NO_FILE_COMP)
        );
    }

    #[test]
    fn wire_format_is_cobras() {
        let c = Completions::of(
            vec![
                ("sync".into(), "Apply".into()),
                ("plan".into(), String::new()),
            ],
            4,
        );
        assert_eq!(c.render(), "sync\tApply\nplan\n:4\n");
    }
}
