//! The `extends` chain: an environment file and the defaults files it extends, read strictly
//! and merged field by field, the child winning.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::merge::Merge;
use super::schema::{EnvironmentFile, EnvironmentSpec, Kind};
use super::{API_VERSION, EnvironmentError};
use crate::yaml::{self, Path as YamlPath};

/// One file of an `extends` chain, kept with its text to locate errors in it.
pub(super) struct Loaded {
    pub(super) file: PathBuf,
    pub(super) text: String,
    pub(super) doc: EnvironmentFile,
}

impl Loaded {
    pub(super) fn error(
        &self,
        path: YamlPath,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> EnvironmentError {
        EnvironmentError {
            position: yaml::locate(&self.text, &path),
            file: self.file.clone(),
            path: Some(path),
            message: message.into(),
            hint,
        }
    }
}

/// An I/O failure in words, without the OS error number.
fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist (or is a link to nothing)".into(),
        kind => kind.to_string(),
    }
}

fn read(file: &Path) -> Result<Loaded, EnvironmentError> {
    let fail = |message: String, hint: Option<&str>| EnvironmentError {
        file: file.to_path_buf(),
        position: None,
        path: None,
        message,
        hint: hint.map(str::to_string),
    };
    let bytes = std::fs::read(file).map_err(|e| {
        fail(
            format!("cannot read it: {}", io_words(&e)),
            Some("make it a readable file (a link must point at one), or remove it"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        fail(
            format!("not UTF-8 (invalid byte at offset {at})"),
            Some("save the file as UTF-8"),
        )
    })?;
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(fail(
            "the file is empty".into(),
            Some("start from `kubectl hadr schema` or a file in environments/ of the examples"),
        ));
    }
    let doc: EnvironmentFile =
        yaml::from_str_described(&text, &super::describe::wanted).map_err(|e| {
            EnvironmentError {
                file: file.to_path_buf(),
                position: Some(e.position),
                path: Some(e.path),
                message: e.message,
                hint: e.hint,
            }
        })?;
    let loaded = Loaded {
        file: file.to_path_buf(),
        text,
        doc,
    };
    if loaded.doc.api_version != API_VERSION {
        return Err(loaded.error(
            YamlPath::default().key("apiVersion"),
            format!("unsupported apiVersion `{}`", loaded.doc.api_version),
            Some(format!("use `apiVersion: {API_VERSION}`")),
        ));
    }
    super::numbers::check(&loaded)?;
    Ok(loaded)
}

/// Reads an environment file and every file of its `extends` chain, child first.
pub(super) fn chain(file: &Path) -> Result<Vec<Loaded>, EnvironmentError> {
    let mut chain = Vec::new();
    let mut current = read(file)?;
    let mut seen = BTreeSet::from([canonical(file)]);
    while let Some(base) = current.doc.extends.clone() {
        let base_path = resolve_extends(&current, &base)?;
        if !seen.insert(canonical(&base_path)) {
            return Err(current.error(
                YamlPath::default().key("extends"),
                format!("`extends: {base}` makes a cycle"),
                Some("remove `extends` from one of the files in the cycle".into()),
            ));
        }
        let loaded = read(&base_path)?;
        if loaded.doc.kind != Kind::EnvironmentDefaults {
            return Err(loaded.error(
                YamlPath::default().key("kind"),
                "a file that others extend must be `kind: EnvironmentDefaults`",
                Some("set `kind: EnvironmentDefaults` and keep environment-specific fields out of it".into()),
            ));
        }
        chain.push(std::mem::replace(&mut current, loaded));
    }
    chain.push(current);
    Ok(chain)
}

/// Checks that the file a chain starts from is an environment named like its file (`stem`).
pub(super) fn check_top(top: &Loaded, stem: &str) -> Result<(), EnvironmentError> {
    if top.doc.kind != Kind::Environment {
        return Err(top.error(
            YamlPath::default().key("kind"),
            "this file is `kind: EnvironmentDefaults` but is not named like a partial",
            Some(format!(
                "rename it to `_{stem}.yaml` so it is only used through `extends`, or set `kind: Environment`"
            )),
        ));
    }
    if let Some(name) = &top.doc.metadata.name
        && name != stem
    {
        return Err(top.error(
            YamlPath::default().key("metadata").key("name"),
            format!("metadata.name `{name}` differs from the file name `{stem}`"),
            Some(format!(
                "set `name: {stem}` or rename the file to `{name}.yaml`"
            )),
        ));
    }
    Ok(())
}

/// The specs of a chain merged, each file over the ones it extends.
pub(super) fn merged_spec(chain: &[Loaded]) -> EnvironmentSpec {
    chain
        .iter()
        .rev()
        .fold(EnvironmentSpec::default(), |base, l| {
            l.doc.spec.clone().merge(base)
        })
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn resolve_extends(from: &Loaded, base: &str) -> Result<PathBuf, EnvironmentError> {
    let here = YamlPath::default().key("extends");
    let rel = Path::new(base);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(from.error(
            here,
            format!("`extends: {base}` must name a file beside this one"),
            Some("use a file name such as `_defaults.yaml` in the same directory".into()),
        ));
    }
    let path = from.file.parent().unwrap_or(Path::new(".")).join(rel);
    if !path.is_file() {
        return Err(from.error(
            here,
            format!("`extends: {base}`: no such file"),
            Some(sibling_hint(&path, base)),
        ));
    }
    Ok(path)
}

/// The YAML file beside `missing` whose name is closest to `base`, or the ones there are.
fn sibling_hint(missing: &Path, base: &str) -> String {
    let dir = missing.parent().unwrap_or(Path::new("."));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    names.sort();
    yaml::did_you_mean(base, &names).unwrap_or_else(|| match names.as_slice() {
        [] => "no YAML file is beside it: create the file, or remove `extends`".into(),
        _ => format!("the files beside it are {}", names.join(", ")),
    })
}

/// Finds the file of the chain that sets `path`, child first, to point an error at it.
pub(super) fn owner<'a>(chain: &'a [Loaded], path: &YamlPath) -> &'a Loaded {
    chain
        .iter()
        .find(|l| yaml::has_node(&l.text, path))
        .unwrap_or(&chain[0])
}
