//! The one error type of the command line: what went wrong, which exit code it means (SPEC §7)
//! and what the user can do about it. Subcommands return it; [`super::main`] prints it, once,
//! as `error: <message>` followed by one `hint: <hint>` line per hint.
//!
//! ```no_run
//! use kubectl_waves::cli::{CommandError, CommandResult, ErrorKind, exit};
//!
//! fn run(reachable: bool, healthy: bool) -> CommandResult {
//!     if !reachable {
//!         return Err(CommandError::cluster_unreachable("cannot reach https://127.0.0.1:6443")
//!             .hint("check --kubeconfig and --context"));
//!     }
//!     if !healthy {
//!         // The step that failed was reported as it happened: only the exit code is left.
//!         return Err(CommandError::reported(ErrorKind::Failed));
//!     }
//!     Ok(exit::OK)
//! }
//! ```

use std::fmt;

use super::exit;

/// What a subcommand returns: `Ok(code)` when it ran to the end (`code` is its verdict: 0, or 1
/// for "`diff` found changes" and the like), `Err` when it stopped on a problem.
pub type CommandResult = Result<u8, CommandError>;

/// The kinds of failure, each with its exit code (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The flags or the manifests are wrong; nothing was changed. Exit 2.
    BadInput,
    /// The command ran and did not succeed: a sync failed, a file could not be written, output
    /// could not be written, `annotate --check` found changes. Exit 1.
    Failed,
    /// Lint found errors and `--strict` was given. Exit 3.
    LintErrors,
    /// Ctrl-C or SIGTERM stopped the command. Exit 130.
    Interrupted,
    /// The cluster could not be reached (kubeconfig, context, network, TLS) before any change.
    /// Exit 2.
    ClusterUnreachable,
    /// The cluster refused a request (authentication, RBAC) before any change. Exit 2.
    ClusterForbidden,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::BadInput | ErrorKind::ClusterUnreachable | ErrorKind::ClusterForbidden => {
                exit::BAD_INPUT
            }
            ErrorKind::Failed => exit::FAILED,
            ErrorKind::LintErrors => exit::LINT_ERRORS,
            ErrorKind::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// A subcommand's failure: its kind (the exit code), a message and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub kind: ErrorKind,
    /// What went wrong, without the `error: ` prefix. Empty when the problem was reported
    /// already (diagnostics, per-file errors, events) and only the exit code is left to give.
    pub message: String,
    /// What to do about it, one line each, without the `hint: ` prefix.
    pub hints: Vec<String>,
}

impl CommandError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Only the exit code of `kind`: what went wrong has been printed already.
    pub fn reported(kind: ErrorKind) -> Self {
        CommandError::new(kind, String::new())
    }

    /// Bad flags or manifests (exit 2).
    pub fn bad_input(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::BadInput, message)
    }

    /// The command did not succeed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::Failed, message)
    }

    /// Lint errors with `--strict` (exit 3).
    pub fn lint_errors(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::LintErrors, message)
    }

    /// Stopped by Ctrl-C or SIGTERM (exit 130).
    pub fn interrupted(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::Interrupted, message)
    }

    /// The cluster could not be reached before any change (exit 2).
    pub fn cluster_unreachable(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::ClusterUnreachable, message)
    }

    /// The cluster refused a request before any change (exit 2).
    pub fn cluster_forbidden(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::ClusterForbidden, message)
    }

    /// Adds a hint: what the user can do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The text for stderr: `error: …` and `hint: …` lines, each ending in a newline; empty for
    /// an error that was reported already and has no hints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.message.is_empty() {
            out.push_str(&format!("error: {}\n", self.message));
        }
        for hint in &self.hints {
            out.push_str(&format!("hint: {hint}\n"));
        }
        out
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

/// Prints one `error: …` line about one item (a file, a cycle) on stderr, for commands that
/// report several problems before the [`CommandError`] that ends them.
pub fn report_error(message: impl fmt::Display) {
    eprintln!("error: {message}");
}

/// Prints one `warning: …` line on stderr.
pub fn report_warning(message: impl fmt::Display) {
    let message = message.to_string();
    eprintln!("warning: {}", crate::diagnostics::escape_control(&message));
}

/// Prints the error on stderr and returns the exit code: the end of every subcommand.
pub fn finish(result: CommandResult) -> u8 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render());
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_spec() {
        let codes: Vec<u8> = [
            ErrorKind::BadInput,
            ErrorKind::Failed,
            ErrorKind::LintErrors,
            ErrorKind::Interrupted,
            ErrorKind::ClusterUnreachable,
            ErrorKind::ClusterForbidden,
        ]
        .iter()
        .map(|k| k.exit_code())
        .collect();
        assert_eq!(codes, [2, 1, 3, 130, 2, 2]);
    }

    #[test]
    fn renders_message_then_hints() {
        let e = CommandError::cluster_forbidden("cannot list Secrets in shop")
            .hint("kubectl auth can-i list secrets -n shop")
            .hint("or ask for a Role that grants it");
        assert_eq!(
            e.render(),
            "error: cannot list Secrets in shop\nhint: kubectl auth can-i list secrets -n shop\nhint: or ask for a Role that grants it\n"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn reported_errors_print_nothing() {
        let e = CommandError::reported(ErrorKind::LintErrors);
        assert_eq!(e.render(), "");
        assert_eq!(e.exit_code(), 3);
        assert_eq!(finish(Ok(exit::OK)), 0);
        assert_eq!(finish(Err(e)), 3);
    }
}
