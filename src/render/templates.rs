//! The template set: built-in templates embedded from `templates/`, overridden or extended by a
//! repository's own `templates/` directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
#[error("{}: {message}", path.display())]
pub struct TemplateLoadError {
    pub path: PathBuf,
    pub message: String,
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
    /// CustomResourceDefinition.
    pub fn with_crds(mut self, dir: &Path) -> Result<TemplateSet, TemplateLoadError> {
        for (name, path, source) in yaml_files(dir, &["yaml", "yml"])? {
            let documents = crate::yaml::documents(&source).map_err(|e| TemplateLoadError {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for (i, d) in documents.iter().enumerate() {
                if d["apiVersion"] != "apiextensions.k8s.io/v1"
                    || d["kind"] != "CustomResourceDefinition"
                {
                    return Err(TemplateLoadError {
                        path: path.clone(),
                        message: format!(
                            "document {} is a {} {}, not a CustomResourceDefinition\n  help: crds/ holds only apiextensions.k8s.io/v1 CustomResourceDefinitions; put other objects in templates/",
                            i + 1,
                            d["apiVersion"].as_str().unwrap_or("(no apiVersion)"),
                            d["kind"].as_str().unwrap_or("(no kind)"),
                        ),
                    });
                }
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
                message: format!("cannot read the directory: {e}"),
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| TemplateLoadError {
                path: dir.to_path_buf(),
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
            message: format!("cannot read: {e}"),
        })?;
        let source = String::from_utf8(bytes).map_err(|e| TemplateLoadError {
            path: path.clone(),
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
