//! Man pages (clap_mangen) from the same definition as `--help`: `kubectl-waves.1` and one
//! `kubectl-waves-SUBCOMMAND.1` per visible subcommand. `scripts/release` puts them in the
//! archive; a test checks that each page carries its `--help` (flags and examples).

use std::path::{Path, PathBuf};

use clap::Command;

/// Writes the pages into `dir`; their paths, the root's first.
pub fn write_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut root = <super::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    root.build();
    let mut written = Vec::new();
    written.push(write_page(&root, "kubectl-waves", dir)?);
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("kubectl-waves-{}", sub.get_name());
        written.push(write_page(sub, &name, dir)?);
    }
    Ok(written)
}

fn write_page(cmd: &Command, name: &str, dir: &Path) -> std::io::Result<PathBuf> {
    let page = clap_mangen::Man::new(cmd.clone())
        .title(name.to_ascii_uppercase())
        .date(crate::version::BUILD_DATE)
        .source(format!("kubectl-waves {}", env!("CARGO_PKG_VERSION")))
        .manual("kubectl-waves manual");
    let path = dir.join(format!("{name}.1"));
    let mut bytes = Vec::new();
    page.render(&mut bytes)?;
    std::fs::write(&path, bytes)?;
    Ok(path)
}
