//! Subcommands that exist in `--help` but are not built yet: they say so and exit 2, never
//! pretend.

use clap::Args;

/// Accepts anything so the message below is what the user sees, not a flag error.
#[derive(Debug, Args)]
pub struct NotYetArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub fn run(name: &str) -> super::CommandResult {
    Err(super::CommandError::bad_input(format!(
        "`kubectl waves {name}` is not built yet; `kubectl waves plan` shows the order it will follow (see README, \"Not built yet\")"
    )))
}
