//! The guides stay true to the tool: every `kubectl waves …` / `kubectl-waves …` command in
//! the Argo CD guide, the CI recipes and the troubleshooting page parses with the real command
//! line definition, and the troubleshooting page is its template with every `<!-- run: -->`
//! expanded by `scripts/troubleshooting` (so nobody edits outputs by hand).

use clap::Parser;

use crate::common::root;
use kubectl_waves::cli::Cli;

/// Commands in a Markdown file: the text after `kubectl waves ` or `kubectl-waves ` up to a
/// pipe, redirection, comment or line continuation, in shell words (quotes aside).
fn commands(file: &str) -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = ["kubectl waves ", "kubectl-waves "]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min()
        {
            let after = &rest[at.0 + at.1..];
            let end = after
                .find(['|', '>', '#', '\\', '`', ')', ';'])
                .unwrap_or(after.len());
            let words: Vec<String> = after[..end]
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_string())
                .collect();
            // Prose mentions (`kubectl waves <TAB>`, a bare name) are not commands.
            if words
                .first()
                .is_some_and(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            {
                found.push((i + 1, words));
            }
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn commands_in_the_guides_parse() {
    for file in ["docs/argocd.md", "docs/ci.md", "docs/troubleshooting.md"] {
        let found = commands(file);
        assert!(!found.is_empty(), "{file} shows no command");
        for (line, words) in found {
            let argv = std::iter::once("kubectl-waves".to_string()).chain(words.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!(
                    "{file}:{line}: `kubectl waves {}` does not parse:\n{e}",
                    words.join(" ")
                );
            }
        }
    }
}

#[test]
fn the_troubleshooting_page_is_its_template_expanded() {
    let template = std::fs::read_to_string(root().join("docs/troubleshooting/page.md.in")).unwrap();
    let page = std::fs::read_to_string(root().join("docs/troubleshooting.md")).unwrap();
    let mut page_lines = page.lines().peekable();
    let mut runs = 0;
    for line in template.lines() {
        if let Some(command) = line
            .strip_prefix("<!-- run: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            runs += 1;
            assert_eq!(
                page_lines.next(),
                Some("```text"),
                "output block of {command}"
            );
            assert_eq!(
                page_lines.next().map(String::from),
                Some(format!("$ {command}"))
            );
            let mut exit = None;
            for out in page_lines.by_ref() {
                if out == "```" {
                    break;
                }
                exit = out.strip_prefix("(exit ").map(str::to_string);
            }
            assert!(
                exit.is_some(),
                "{command}: the block ends with its exit code"
            );
        } else {
            assert_eq!(
                page_lines.next(),
                Some(line),
                "docs/troubleshooting.md differs from its template: run scripts/troubleshooting"
            );
        }
    }
    assert_eq!(page_lines.next(), None);
    assert!(runs >= 10, "{runs} captured commands");
    // The five problems, each with what kubectl waves printed.
    for text in [
        "deadline passed (--timeout 10s); still Progressing",
        "warning[WAVES004]",
        "CreateContainerConfigError: secret \"api-credentials\" not found",
        "warning[WAVES005]",
        "error[WAVES001]",
    ] {
        assert!(page.contains(text), "the page shows {text}");
    }
}
