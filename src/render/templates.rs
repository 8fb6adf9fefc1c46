//! The template set: built-in templates embedded from `templates/`, overridden or extended by a
//! repository's own `templates/` directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::schema::crd;
use crate::yaml;

/// The built-in templates, compiled into the binary.
const BUILTIN: &[(&str, &str)] = &[
    (
        "namespace.yaml",
        include_str!("../../templates/namespace.yaml"),
    ),
    (
        "configmap.yaml",
        include_str!("../../templates/configmap.yaml"),
    ),
    (
        "region-configmap.yaml",
        include_str!("../../templates/region-configmap.yaml"),
    ),
    (
        "deployment.yaml",
        include_str!("../../templates/deployment.yaml"),
    ),
    ("service.yaml", include_str!("../../templates/service.yaml")),
    ("pdb.yaml", include_str!("../../templates/pdb.yaml")),
    (
        "workload.yaml",
        include_str!("../../templates/workload.yaml"),
    ),
    (
        "workload-service.yaml",
        include_str!("../../templates/workload-service.yaml"),
    ),
    (
        "workload-pdb.yaml",
        include_str!("../../templates/workload-pdb.yaml"),
    ),
    (
        "workload-configmap.yaml",
        include_str!("../../templates/workload-configmap.yaml"),
    ),
    (
        "velero-schedule.yaml",
        include_str!("../../templates/velero-schedule.yaml"),
    ),
];

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Template {
    pub source: String,
    pub origin: Origin,
}

/// Templates by name. Names starting with `_` are partials: available to `include` and
/// `import`, never rendered on their own.
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    pub templates: BTreeMap<String, Template>,
    /// The repository's `crds/` folder, by file name: CustomResourceDefinitions whose schemas
    /// check the custom resources the templates render (as Helm's `crds/`: they are not
    /// rendered or applied by us).
    pub crds: BTreeMap<String, CrdFile>,
}

/// One file of `crds/`: its text (part of every region's input digest) and its documents.
#[derive(Debug, Clone)]
pub struct CrdFile {
    pub path: PathBuf,
    pub source: String,
    pub documents: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at(.position))]
pub struct TemplateLoadError {
    pub path: PathBuf,
    /// Where in the file, when known.
    pub position: Option<crate::yaml::Position>,
    pub message: String,
}

fn at(position: &Option<crate::yaml::Position>) -> String {
    position.map(|p| format!(":{p}")).unwrap_or_default()
}

impl TemplateSet {
    pub fn builtin() -> TemplateSet {
        TemplateSet {
            templates: BUILTIN
                .iter()
                .map(|(name, source)| {
                    (
                        name.to_string(),
                        Template {
                            source: source.to_string(),
                            origin: Origin::BuiltIn,
                        },
                    )
                })
                .collect(),
            crds: BTreeMap::new(),
        }
    }

    /// Adds the CustomResourceDefinitions of a `crds/` directory (`*.yaml`, `*.yml`; a
    /// missing directory is none). Errors: an unreadable or non-UTF-8 file, malformed YAML
    /// (with its line), or a document that is not an `apiextensions.k8s.io/v1`
    /// CustomResourceDefinition, or a CRD the API server would refuse (`crd::check_definition`;
    /// the error names the file, line and column, the field and the fix).
    pub fn with_crds(mut self, dir: &Path) -> Result<TemplateSet, TemplateLoadError> {
        for (name, path, source) in yaml_files(dir, &["yaml", "yml"])? {
            let documents = crate::yaml::documents(&source).map_err(|e| TemplateLoadError {
                path: path.clone(),
                position: None,
                message: e.to_string(),
            })?;
            for (i, d) in documents.iter().enumerate() {
                if !crd::is_crd(d) {
                    return Err(TemplateLoadError {
                        path: path.clone(),
                        position: None,
                        message: format!(
                            "document {} is a {} {}, not a CustomResourceDefinition\n  help: crds/ holds only apiextensions.k8s.io/v1 CustomResourceDefinitions; put other objects in templates/",
                            i + 1,
                            d["apiVersion"].as_str().unwrap_or("(no apiVersion)"),
                            d["kind"].as_str().unwrap_or("(no kind)"),
                        ),
                    });
                }
                crd::check_definition(d)
                    .map_err(|issue| invalid_crd(&path, &source, (i, documents.len()), issue))?;
            }
            self.crds.insert(
                name,
                CrdFile {
                    path,
                    source,
                    documents,
                },
            );
        }
        Ok(self)
    }

    /// The built-ins with a directory's templates over them (same name replaces, new names add).
    /// A missing directory is no error: a repository need not have templates of its own.
    pub fn with_overrides(dir: &Path) -> Result<TemplateSet, TemplateLoadError> {
        let mut set = TemplateSet::builtin();
        for (name, path, source) in yaml_files(dir, &["yaml", "yml", "j2"])? {
            set.templates.insert(
                name,
                Template {
                    source,
                    origin: Origin::File(path),
                },
            );
        }
        Ok(set)
    }

    /// The templates that yield objects, in name order.
    pub fn renderable(&self) -> impl Iterator<Item = &str> {
        self.templates
            .keys()
            .map(String::as_str)
            .filter(|n| !n.starts_with('_'))
    }
}

/// The error for a CRD of a crds/ file that the API server would refuse: `doc` is its index
/// and the file's number of documents.
fn invalid_crd(
    path: &Path,
    source: &str,
    doc: (usize, usize),
    issue: super::schema::Issue,
) -> TemplateLoadError {
    TemplateLoadError {
        path: path.to_path_buf(),
        position: locate_in(source, doc, &issue.path),
        message: format!("{}: {}\n  help: {}", issue.path, issue.message, issue.hint),
    }
}

/// Where `path` is in the `doc`-th document of `source`: the document's own text (split at
/// `---` lines) is searched, and its position moved by the lines before it. `None` when the
/// split does not give the documents the reader found.
fn locate_in(
    source: &str,
    (doc, count): (usize, usize),
    path: &yaml::Path,
) -> Option<yaml::Position> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        if line.starts_with("---") {
            starts.push(offset + line.len());
        }
        offset += line.len();
    }
    let texts: Vec<(usize, &str)> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let end = starts.get(i + 1).map_or(source.len(), |&e| e);
            (s, &source[s..end])
        })
        .filter(|(_, t)| yaml::documents(t).is_ok_and(|d| !d.is_empty()))
        .collect();
    if texts.len() != count {
        return None;
    }
    let (start, text) = texts.get(doc)?;
    let before = source[..*start].matches('\n').count();
    let at = yaml::locate(text, path)?;
    Some(yaml::Position {
        line: at.line + before,
        column: at.column,
    })
}

/// The UTF-8 files of DIR whose names end in `.EXT` for one of EXTENSIONS (hidden files and
/// subdirectories left out): name, path and text, by name. A missing directory has none.
fn yaml_files(
    dir: &Path,
    extensions: &[&str],
) -> Result<Vec<(String, PathBuf, String)>, TemplateLoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TemplateLoadError {
                path: dir.to_path_buf(),
                position: None,
                message: format!("cannot read the directory: {e}"),
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| TemplateLoadError {
                path: dir.to_path_buf(),
                position: None,
                message: e.to_string(),
            })?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let wanted = extensions
            .iter()
            .any(|ext| name.strip_suffix(ext).is_some_and(|n| n.ends_with('.')));
        if name.starts_with('.') || !path.is_file() || !wanted {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| TemplateLoadError {
            path: path.clone(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        let source = String::from_utf8(bytes).map_err(|e| TemplateLoadError {
            path: path.clone(),
            position: None,
            message: format!(
                "not UTF-8 (invalid byte at offset {}); save it as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        })?;
        out.push((name.to_string(), path, source));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
