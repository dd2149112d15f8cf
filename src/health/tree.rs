//! A folder laid out as Argo CD's `resource_customizations` tree (`--resource-customizations
//! DIR`): `<group>/<Kind>/health.lua` (a core-group kind: `<Kind>/health.lua`), with `_` in a
//! folder name standing for `*` (`_.crossplane.io/_`), as argo-cd `util/lua/lua.go` reads its
//! embedded tree. Each script may have a `health_test.yaml` beside it:
//! `tests: [{healthStatus: {status, message}, inputPath}]`, run by `health --test`.
//!
//! Argo CD's order: configured (`argocd-cm`) scripts first, then the tree's exact folder, then
//! its wildcard folders in sorted order (the first that matches). Kinds the tree does not
//! cover keep our bundled and built-in checks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::CustomHealthCheck;
use super::{HealthConfigError, glob};

/// The script file of a folder.
pub const SCRIPT: &str = "health.lua";
/// The test file of a folder.
pub const TESTS: &str = "health_test.yaml";

/// One script of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeCheck {
    pub check: CustomHealthCheck,
    /// The folder, for its `health_test.yaml`.
    pub dir: PathBuf,
}

/// Reads every `health.lua` two folders (or one, for a core kind) below `root`.
pub(crate) fn load(root: &Path) -> Result<Vec<TreeCheck>, HealthConfigError> {
    let shown = crate::manifest::read::display_path(root);
    let io = |path: &Path, e: std::io::Error| HealthConfigError::Tree {
        path: crate::manifest::read::display_path(path),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(root).map_err(|e| io(root, e))?;
    if !meta.is_dir() {
        return Err(HealthConfigError::Tree {
            path: shown,
            message: "not a directory (expected a folder laid out as Argo CD's resource_customizations: <group>/<Kind>/health.lua)".into(),
        });
    }
    let mut out = Vec::new();
    for group in sorted_dirs(root).map_err(|e| io(root, e))? {
        let group_name = file_name(&group);
        // A core-group kind: `<Kind>/health.lua`.
        if group.join(SCRIPT).is_file() {
            out.push(read_check(&group, &group_name)?);
        }
        for kind in sorted_dirs(&group).map_err(|e| io(&group, e))? {
            if kind.join(SCRIPT).is_file() {
                let key = format!("{group_name}/{}", file_name(&kind));
                out.push(read_check(&kind, &key)?);
            }
        }
    }
    if out.is_empty() {
        return Err(HealthConfigError::Tree {
            path: shown,
            message: "no <group>/<Kind>/health.lua found in it".into(),
        });
    }
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sub-folders, sorted by name (not following symlinked folders, as `kubectl -R`).
fn sorted_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn read_check(dir: &Path, folder_key: &str) -> Result<TreeCheck, HealthConfigError> {
    let path = dir.join(SCRIPT);
    let script = crate::manifest::read::read_text_file(&path).map_err(|message| {
        HealthConfigError::Tree {
            path: crate::manifest::read::display_path(&path),
            message,
        }
    })?;
    let group_kind = folder_key.replace('_', "*");
    Ok(TreeCheck {
        check: CustomHealthCheck {
            group_kind,
            key: crate::manifest::read::display_path(&path),
            script: Arc::from(script),
            use_open_libs: true,
        },
        dir: dir.to_path_buf(),
    })
}

/// The tree's script for a group/kind: the exact folder, else the first wildcard folder (in
/// sorted order) that matches.
pub(crate) fn lookup<'a>(tree: &'a [TreeCheck], group: &str, kind: &str) -> Option<&'a TreeCheck> {
    let key = super::object::group_kind_key(group, kind);
    tree.iter().find(|t| t.check.group_kind == key).or_else(|| {
        tree.iter().find(|t| {
            glob::is_pattern(&t.check.group_kind) && glob::matches(&t.check.group_kind, &key)
        })
    })
}

/// One case of a `health_test.yaml`.
pub(crate) struct TestCase {
    pub input_path: String,
    pub status: String,
    pub message: String,
}

/// The field of a mapping, its name matched without regard to case, as Go's JSON decoding
/// (which Argo CD's test reads its YAML through) matches struct fields.
fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let map = v.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Reads `tests: [{inputPath, healthStatus: {status, message}}]`; absent strings are empty
/// (Go's zero values).
fn parse_tests(text: &str) -> Result<Vec<TestCase>, String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let text_of = |v: Option<&serde_json::Value>, what: &str| -> Result<String, String> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("{what} must be a string, not {other}")),
        }
    };
    let tests = match field(&doc, "tests") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(tests)) => tests,
        Some(_) => return Err("tests must be a list".into()),
    };
    tests
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = |what: &str| format!("tests[{i}].{what}");
            let health = field(t, "healthStatus");
            Ok(TestCase {
                input_path: text_of(field(t, "inputPath"), &at("inputPath"))?,
                status: text_of(
                    health.and_then(|h| field(h, "status")),
                    &at("healthStatus.status"),
                )?,
                message: text_of(
                    health.and_then(|h| field(h, "message")),
                    &at("healthStatus.message"),
                )?,
            })
        })
        .collect()
}

/// How one case of a `health_test.yaml` went.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseOutcome {
    /// The folder of the test file, relative to the tree (`argoproj.io/Rollout`).
    pub folder: String,
    /// The case's `inputPath`, as written.
    pub input_path: String,
    /// The expected status (as written; may be empty).
    pub expected_status: String,
    /// The expected message (empty when absent, as Go's zero value).
    pub expected_message: String,
    /// The status the script answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The message the script answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the case could not be run, or the script's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Status and message are exactly the expected ones.
    pub passed: bool,
}

/// Every case of every `health_test.yaml` of a tree.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeTestReport {
    /// The cases, folder by folder in sorted order, each file's cases in its order.
    pub cases: Vec<CaseOutcome>,
    /// Folders with a `health.lua` and no `health_test.yaml`.
    pub without_tests: Vec<String>,
}

impl TreeTestReport {
    /// How many cases failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }
}

/// Runs every `health_test.yaml` of the tree at `root` as Argo CD's `TestLuaHealthScript`
/// does: each input object is judged by the tree's script for its group/kind (exact folder,
/// else wildcard folder), the script alone: no pending-deletion or stale-generation rule and
/// no configured, bundled or built-in check. A case passes when status and message are
/// exactly the expected ones. A test file that is not valid YAML is an error (bad input);
/// an input that cannot be read fails its case.
pub fn run_tests(root: &Path) -> Result<TreeTestReport, HealthConfigError> {
    let tree = load(root)?;
    let mut report = TreeTestReport {
        cases: Vec::new(),
        without_tests: Vec::new(),
    };
    for t in &tree {
        let folder = t
            .dir
            .strip_prefix(root)
            .unwrap_or(&t.dir)
            .to_string_lossy()
            .into_owned();
        let test_path = t.dir.join(TESTS);
        if !test_path.is_file() {
            report.without_tests.push(folder);
            continue;
        }
        let shown = crate::manifest::read::display_path(&test_path);
        let text = crate::manifest::read::read_text_file(&test_path).map_err(|message| {
            HealthConfigError::Tree {
                path: shown.clone(),
                message,
            }
        })?;
        let cases = parse_tests(&text).map_err(|e| HealthConfigError::Tree {
            path: shown.clone(),
            message: format!(
                "not a health_test.yaml ({{tests: [{{inputPath, healthStatus}}]}}): {e}"
            ),
        })?;
        for case in cases {
            report.cases.push(run_case(&tree, &t.dir, &folder, case));
        }
    }
    Ok(report)
}

/// A test input read as Argo CD's test reads it (`sigs.k8s.io/yaml`): the first document,
/// a repeated key keeping its last value.
fn read_input(text: &str) -> Result<serde_json::Value, String> {
    let mut options = crate::manifest::parse::yaml_options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| e.to_string())?;
    docs.into_iter()
        .next()
        .ok_or_else(|| "no YAML document".to_string())
}

fn run_case(tree: &[TreeCheck], dir: &Path, folder: &str, case: TestCase) -> CaseOutcome {
    let mut outcome = CaseOutcome {
        folder: folder.to_string(),
        input_path: case.input_path.clone(),
        expected_status: case.status,
        expected_message: case.message,
        status: None,
        message: None,
        error: None,
        passed: false,
    };
    let input = dir.join(&case.input_path);
    let obj = match crate::manifest::read::read_text_file(&input).and_then(|text| {
        read_input(&text)
            .map_err(|e| format!("{}: {e}", crate::manifest::read::display_path(&input)))
    }) {
        Ok(v) => v,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };
    let gvk = super::object::Gvk::of(&obj);
    let Some(t) = lookup(tree, gvk.group, gvk.kind) else {
        outcome.error = Some(format!(
            "no health.lua in the tree for {}",
            super::object::group_kind_key(gvk.group, gvk.kind)
        ));
        return outcome;
    };
    match super::lua::run(&t.check, &obj) {
        Ok(h) => {
            outcome.passed = h.status.as_str() == outcome.expected_status
                && h.message == outcome.expected_message;
            outcome.status = Some(h.status.to_string());
            outcome.message = Some(h.message);
        }
        Err(e) => outcome.error = Some(e.to_string()),
    }
    outcome
}
