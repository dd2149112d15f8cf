//! Where something came from: a file (or `<stdin>`, or `REV:path` for Git) and a line. A leaf
//! module: objects, diagnostics and plans all point at their input through it.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// Where an object came from: a display path (file, `<stdin>`, or `REV:path` for Git) and the
/// 1-based line of its document (or list item). Ordered by path, then line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub path: Arc<str>,
    /// 1-based; 0 when there is no line (an unreadable file).
    pub line: usize,
}

impl Source {
    pub fn new(path: impl Into<Arc<str>>, line: usize) -> Self {
        Source {
            path: path.into(),
            line,
        }
    }

    /// The same file at another line.
    pub fn at(&self, line: usize) -> Self {
        Source {
            path: self.path.clone(),
            line,
        }
    }
}

impl fmt::Display for Source {
    /// `path:line`, or just `path` when there is no line (an unreadable file).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path)
        } else {
            write!(f, "{}:{}", self.path, self.line)
        }
    }
}

/// Serialised as it is displayed: `"path:line"`.
impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Compares with the displayed form, `path:line`.
impl PartialEq<str> for Source {
    fn eq(&self, other: &str) -> bool {
        match other.rsplit_once(':') {
            Some((path, line)) if self.line != 0 => {
                *self.path == *path && line.parse() == Ok(self.line)
            }
            _ => self.line == 0 && *self.path == *other,
        }
    }
}

impl PartialEq<&str> for Source {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::Source;

    #[test]
    fn displays_compares_and_serialises_as_path_line() {
        let s = Source::new("deploy/app.yaml", 12);
        assert_eq!(s.to_string(), "deploy/app.yaml:12");
        assert_eq!(s, "deploy/app.yaml:12");
        assert_ne!(s, "deploy/app.yaml:1");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"deploy/app.yaml:12\"");
        let unreadable = Source::new("main:deploy/app.yaml", 0);
        assert_eq!(unreadable.to_string(), "main:deploy/app.yaml");
        assert_eq!(unreadable, "main:deploy/app.yaml");
    }

    #[test]
    fn orders_by_path_then_line_as_numbers() {
        let mut sources = [
            Source::new("b.yaml", 1),
            Source::new("a.yaml", 10),
            Source::new("a.yaml", 9),
            Source::new("a.yaml", 0),
        ];
        sources.sort();
        let shown: Vec<String> = sources.iter().map(Source::to_string).collect();
        assert_eq!(shown, ["a.yaml", "a.yaml:9", "a.yaml:10", "b.yaml:1"]);
    }
}
