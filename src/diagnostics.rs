//! Coded findings about the input: bad annotations (errors unless `--lenient`) and lint.
//!
//! Every code is listed once in [`Code`], with its default severity and a one-line summary, so
//! `docs/diagnostics.md`, the tests and the output cannot drift apart.

use serde::Serialize;
use std::fmt;

use crate::source::Source;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $summary:literal;)*) => {
        /// Every diagnostic the tool can emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant),* }

        impl Code {
            /// All codes, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable identifier, e.g. `WAVES001`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// The severity before `--lenient` is applied.
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev),* }
            }

            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary),* }
            }
        }
    };
}

codes! {
    // Lint: ordering pitfalls that Argo CD accepts and that bite at run time.
    HookReadsLaterObject = "WAVES001", Error, "a hook reads a Secret or ConfigMap or mounts a PVC that this sync creates only in a later phase or wave";
    HookWithoutDeletePolicy = "WAVES002", Warning, "a Job hook has no explicit hook-delete-policy";
    HookBackoffLimit = "WAVES003", Warning, "a hook Job retries more than twice (backoffLimit unset or > 2)";
    FixedNameHookNoBeforeCreation = "WAVES004", Warning, "a fixed-name hook without BeforeHookCreation clashes with its leftover on the next sync";
    CustomResourceWithoutHealth = "WAVES005", Warning, "a custom resource kind has no health check, so its wave passes as soon as it is applied";
    WaveGap = "WAVES006", Warning, "a wave gap that no dependency needs (every wave costs a health gate)";
    HookRbacLater = "WAVES007", Error, "a hook's ServiceAccount or its RBAC is created in a later phase or wave than the hook";
    DependencyViolated = "WAVES008", Error, "an object is ordered before something it depends on (a warning for references nothing waits on: DNS names, routes, bindings, disruption budgets, APIServices)";
    SyncFailHookReadsLaterObject = "WAVES009", Error, "a SyncFail hook needs an object this sync creates after its first step, so it cannot start when the sync fails before that";
    // Input: values Argo CD would silently ignore; errors unless --lenient.
    InvalidWave = "WAVES101", Error, "the sync wave or Helm hook weight is not an integer";
    UnknownHookType = "WAVES102", Error, "unknown hook type (Argo CD drops the whole object)";
    UnknownDeletePolicy = "WAVES103", Error, "unknown hook delete policy (Argo CD ignores it)";
    UnknownSyncOption = "WAVES104", Error, "unknown sync option (Argo CD ignores it)";
    UnknownCompareOption = "WAVES105", Error, "unknown compare option (Argo CD ignores it)";
    UnknownAnnotation = "WAVES106", Error, "unknown annotation under argocd.argoproj.io/ or kubectl-waves.io/";
    InvalidReference = "WAVES107", Error, "a depends-on or produces entry is not a valid object reference";
    InvalidTimeout = "WAVES108", Error, "kubectl-waves.io/timeout is not a duration such as 90s or 5m";
    UnknownHelmHook = "WAVES109", Error, "unknown helm.sh/hook or helm.sh/hook-delete-policy value";
    // Warnings that stay warnings.
    AppLevelOptionOnResource = "WAVES120", Warning, "an Application-level sync option on a resource is ignored by Argo CD";
    HelmTestHookIgnored = "WAVES121", Warning, "a Helm test or rollback hook: Argo CD ignores the whole object";
    OptionWithoutEffect = "WAVES124", Warning, "a sync option that changes nothing on a resource (a default value, or a repeated Prune=/Delete=)";
    DeleteHookNotRun = "WAVES122", Warning, "a PreDelete/PostDelete hook is not run by sync";
    SyncFailWave = "WAVES125", Warning, "a sync wave on a SyncFail hook does nothing (SyncFail hooks run together)";
    // Input that no mode accepts: kubectl or Argo CD would reject it too.
    InvalidManifest = "WAVES201", Error, "the file is not valid YAML or JSON";
    NotAnObject = "WAVES202", Error, "a document is not a Kubernetes object (apiVersion, kind and metadata needed)";
    MissingName = "WAVES203", Error, "an object has neither metadata.name nor metadata.generateName";
    DuplicateObject = "WAVES204", Error, "the same object is defined twice";
    AnnotationNotString = "WAVES205", Error, "an annotation value is not a string (quote it)";
    UnreadableInput = "WAVES206", Error, "a file, directory or Git revision could not be read";
    WrongFieldType = "WAVES207", Error, "a field of a built-in kind has the wrong type (a string where an integer is required)";
    MissingRequiredField = "WAVES208", Error, "a built-in kind lacks a required field (a Deployment without spec.selector)";
}

impl Code {
    /// Whether the finding is about bad input (exit 2) rather than a lint of valid input.
    pub fn is_input_problem(self) -> bool {
        self.id()[5..] >= *"100"
    }

    /// Whether `--lenient` turns this error into a warning: only values that Argo CD would
    /// silently ignore; input that kubectl itself rejects stays an error.
    pub fn lenient_demotes(self) -> bool {
        ("100".."200").contains(&&self.id()[5..])
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// How much of a value a message quotes: enough to recognise it, never a whole 50 MB value.
pub const EXCERPT_CHARS: usize = 64;

/// `text` as a message quotes it: cut after [`EXCERPT_CHARS`] characters, saying how long the
/// whole is.
pub fn excerpt(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes in all)", &text[..cut], text.len()))
        }
    }
}

/// Appends `text` with control characters (C0, DEL, C1, and the Unicode line and paragraph
/// separators) escaped as `\n`, `\t`, `\u{1b}`...
pub fn escape_control_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// `text` with control characters escaped; borrowed when there are none.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        let mut out = String::with_capacity(text.len() + 8);
        escape_control_into(text, &mut out);
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The longest message a diagnostic keeps: a message quoting a huge value is cut in the
/// middle, whatever quoted it.
const MAX_MESSAGE: usize = 2048;

fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut head = MAX_MESSAGE / 2;
    while !message.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = message.len() - MAX_MESSAGE / 4;
    while !message.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{} …({} bytes cut)… {}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
}

/// One finding, tied to an object and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// The offending value's file and line (or its document's); `"path:line"` in JSON.
    pub source: Source,
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped or unset).
    pub object: String,
}

impl Diagnostic {
    /// A finding with the code's default severity.
    pub fn new(
        code: Code,
        source: &Source,
        object: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: code.default_severity(),
            code,
            message: bounded(message.into()),
            source: source.clone(),
            object: object.into(),
        }
    }
}

impl Diagnostic {
    /// The same finding at another severity (a code whose severity depends on the case).
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{}] {}: {}",
            self.source, self.severity, self.code, self.object, self.message
        )
    }
}

/// Sorts findings by source (path, then line), then code, then object, and drops exact
/// duplicates. Stable: findings with the same key keep their order.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        a.source
            .cmp(&b.source)
            .then(a.code.cmp(&b.code))
            .then(a.object.cmp(&b.object))
    });
    diagnostics.dedup();
}

/// Levenshtein distance, for "did you mean" suggestions on short identifiers.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `input`: a case/space-insensitive match first, else the nearest
/// within a small edit distance.
pub fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .collect::<String>()
            .to_lowercase()
    };
    let wanted = squash(input);
    if let Some(c) = candidates.iter().find(|c| squash(c) == wanted) {
        return Some(c);
    }
    let limit = (input.chars().count() / 4).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (edit_distance(&input.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut ids: Vec<_> = Code::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Code::ALL.len());
        assert!(
            ids.iter()
                .all(|id| id.starts_with("WAVES") && id.len() == 8)
        );
    }

    #[test]
    fn suggestions() {
        let hooks = ["PreSync", "Sync", "PostSync", "SyncFail", "Skip"];
        assert_eq!(did_you_mean("Presync", &hooks), Some("PreSync"));
        assert_eq!(did_you_mean("pre-sync", &hooks), Some("PreSync"));
        assert_eq!(did_you_mean("PostSnyc", &hooks), Some("PostSync"));
        assert_eq!(did_you_mean("Banana", &hooks), None);
        let pol = ["HookSucceeded", "HookFailed", "BeforeHookCreation"];
        assert_eq!(did_you_mean("Hook Succeeded", &pol), Some("HookSucceeded"));
        assert_eq!(did_you_mean("HookSucceded", &pol), Some("HookSucceeded"));
    }
}

#[cfg(test)]
mod docs {
    #[test]
    fn every_code_is_documented() {
        let page = include_str!("../docs/diagnostics.md");
        for code in super::Code::ALL {
            assert!(
                page.contains(&format!("| {} |", code.id())),
                "docs/diagnostics.md lacks {}",
                code.id()
            );
        }
    }
}
