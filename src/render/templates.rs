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
        }
    }

    /// The built-ins with a directory's templates over them (same name replaces, new names add).
    /// A missing directory is no error: a repository need not have templates of its own.
    pub fn with_overrides(dir: &Path) -> Result<TemplateSet, TemplateLoadError> {
        let mut set = TemplateSet::builtin();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(e) => {
                return Err(TemplateLoadError {
                    path: dir.to_path_buf(),
                    message: format!("cannot read the template directory: {e}"),
                });
            }
        };
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
            if name.starts_with('.') || !path.is_file() {
                continue;
            }
            if !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".j2")) {
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
            set.templates.insert(
                name.to_string(),
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
