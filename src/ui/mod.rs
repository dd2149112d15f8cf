//! Rendering: tables for humans, JSON/YAML for machines, colour only on a terminal. The only
//! module that knows about colours and terminals.

pub mod diff;
pub mod gc;
pub mod metrics;
pub mod status;
pub mod sync;

use std::io::{self, Write};

use owo_colors::{OwoColorize, Stream};
use serde::Serialize;

use crate::diagnostics::{Diagnostic, Severity, escape_control};

/// `-o` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Yaml,
}

/// Turns colour off for the whole process (`--no-color`); `NO_COLOR` and non-terminals are
/// handled by owo-colors' detection.
pub fn init_color(no_color: bool) {
    if no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        owo_colors::set_override(false);
    }
}

/// A kubectl-style table: upper-case headers, columns separated by three spaces, no borders.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    // Cells come from the input: control characters are shown escaped, never sent. Borrowed
    // where nothing needs escaping: a table of many objects is not copied whole.
    let rows: Vec<Vec<std::borrow::Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape_control(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("   ");
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(|c| &**c));
    }
    out
}

/// Writes any serialisable result as JSON (pretty, trailing newline) or YAML.
pub fn write_data<T: Serialize>(
    out: &mut dyn Write,
    format: OutputFormat,
    data: &T,
) -> io::Result<()> {
    match format {
        OutputFormat::Yaml => {
            let text = serde_saphyr::to_string(data).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
        _ => {
            serde_json::to_writer_pretty(&mut *out, data).map_err(io::Error::other)?;
            out.write_all(b"\n")
        }
    }
}

/// One diagnostic as a line for stderr: `path:line: warning[WAVES003]: Kind/ns/name: message`.
pub fn diagnostic_line(d: &Diagnostic) -> String {
    let label = format!("{}[{}]", d.severity, d.code);
    let label = match d.severity {
        Severity::Error => label
            .if_supports_color(Stream::Stderr, |t| t.red().bold().to_string())
            .to_string(),
        Severity::Warning => label
            .if_supports_color(Stream::Stderr, |t| t.yellow().bold().to_string())
            .to_string(),
    };
    let object = if d.object == "-" {
        String::new()
    } else {
        format!("{}: ", d.object)
    };
    // Names and messages come from the input: control characters in them must not reach
    // the terminal.
    format!(
        "{}: {label}: {}{}",
        escape_control(&d.source.to_string()),
        escape_control(&object),
        escape_control(&d.message)
    )
}

/// Prints diagnostics on stderr, one per line.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for d in diags {
        let _ = writeln!(err, "{}", diagnostic_line(d));
    }
}

/// Bold text on stdout when it is a terminal.
pub fn heading(text: &str) -> String {
    text.if_supports_color(Stream::Stdout, |t| t.bold().to_string())
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let t = super::table(
            &["KIND", "NAME"],
            &[
                vec!["Deployment".into(), "api".into()],
                vec!["Job".into(), "x".into()],
            ],
        );
        assert_eq!(t, "KIND         NAME\nDeployment   api\nJob          x\n");
    }
}
