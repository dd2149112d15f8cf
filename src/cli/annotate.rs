//! `kubectl waves annotate` (not built yet).

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub fn run(_args: &AnnotateArgs, _global: &GlobalArgs) -> u8 {
    super::not_yet::run("annotate")
}
