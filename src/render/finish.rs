//! A region's parsed template output -> `RenderedSet`: the standard labels, content-hashed
//! ConfigMap and Secret names with every reference to them rewritten, canonical bytes, one
//! file per object, and the set digest.

use std::collections::HashMap;

use serde_json::Value;

use super::hash::{self, Renames};
use super::manifest::{self, ObjectId};
use super::references::{self, Scope};
use super::{RenderError, RenderFailure, RenderedObject, RenderedSet, Warning};
use crate::yaml;

/// The new names of the content-hashed objects, per namespace (`None`: cluster-scoped).
type RenamesByNamespace = HashMap<Option<String>, Renames>;

/// Labels, content hashes, reference rewriting, canonical bytes and the set digest of the
/// objects of environment `env` in `region`, each with the template that produced it; and a
/// warning for each reference to a renamed object that nothing rewrote, with the field's key
/// and the old name it holds (its line is 0: the caller finds the template line).
pub(super) fn finish(
    env: &str,
    region: &str,
    mut objects: Vec<(Value, String)>,
    keep_objects: bool,
) -> Result<(RenderedSet, Vec<Unplaced>), RenderError> {
    let set = SetName { env, region };
    let renames = label_and_hash(&set, &mut objects)?;
    let mut warnings = Vec::new();
    let rendered = canonical_objects(&set, objects, &renames, keep_objects, &mut warnings)?;
    let set = RenderedSet {
        environment: env.into(),
        region: region.into(),
        digest: set_digest(&rendered),
        objects: rendered,
    };
    Ok((set, warnings))
}

/// A warning about a field, before its line in the template is known: the field's key and
/// the name it holds let the caller find the line.
pub(super) struct Unplaced {
    pub(super) warning: Warning,
    pub(super) key: String,
    pub(super) name: String,
}

/// The environment and region being finished, for the errors about their objects.
struct SetName<'a> {
    env: &'a str,
    region: &'a str,
}

impl SetName<'_> {
    fn error(&self, template: &str, message: String, hint: &str) -> RenderError {
        RenderError::from(RenderFailure::Object {
            template: template.into(),
            environment: self.env.into(),
            region: self.region.into(),
            message,
            hint: hint.into(),
        })
    }
}

/// Gives every object the standard labels, and every ConfigMap and Secret its content-hash
/// name; returns the renames, which references are rewritten by once all are known.
fn label_and_hash(
    set: &SetName<'_>,
    objects: &mut [(Value, String)],
) -> Result<RenamesByNamespace, RenderError> {
    let mut renames = RenamesByNamespace::new();
    for (object, template) in objects {
        let id = ObjectId::of(object).map_err(|m| {
            set.error(template, m, "every document must be a Kubernetes object with apiVersion, kind and metadata.name")
        })?;
        manifest::set_standard_labels(object, set.env, set.region);
        if id.api_version != "v1" || !matches!(id.kind.as_str(), "ConfigMap" | "Secret") {
            continue;
        }
        hash_config(set, object, id, template, &mut renames)?;
    }
    Ok(renames)
}

/// Renames a ConfigMap or Secret after its content (kustomize's suffix) and makes it
/// immutable, unless it opts out; a Secret with values must say they may go to git.
fn hash_config(
    set: &SetName<'_>,
    object: &mut Value,
    id: ObjectId,
    template: &str,
    renames: &mut RenamesByNamespace,
) -> Result<(), RenderError> {
    let annotations = object["metadata"].get("annotations");
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    if id.kind == "Secret" {
        let has_values = ["data", "stringData"].iter().any(|f| {
            object
                .get(*f)
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
        });
        if has_values && annotation(manifest::PLAINTEXT_SECRET_ANNOTATION) != Some("allow") {
            return Err(set.error(
                template,
                format!(
                    "Secret `{}` carries values, and rendered files go to git",
                    id.name
                ),
                "keep secret values out of templates (use an ExternalSecret or SealedSecret), or annotate the Secret `hadr.dev/plaintext-secret: allow` if these values are not secret",
            ));
        }
    }
    if annotation(manifest::HASH_SUFFIX_ANNOTATION) == Some("false") {
        return Ok(());
    }
    let Some(suffix) = hash::kustomize_suffix(object) else {
        return Ok(());
    };
    let new_name = format!("{}-{suffix}", id.name);
    object["metadata"]["name"] = Value::String(new_name.clone());
    object["immutable"] = Value::Bool(true);
    let table = renames.entry(id.namespace).or_default();
    let names = if id.kind == "ConfigMap" {
        &mut table.config_maps
    } else {
        &mut table.secrets
    };
    names.insert(id.name, new_name);
    Ok(())
}

/// Rewrites the references to renamed objects and emits each object's canonical bytes, in
/// file order; two objects with one file name are an error.
fn canonical_objects(
    set: &SetName<'_>,
    objects: Vec<(Value, String)>,
    renames: &RenamesByNamespace,
    keep_objects: bool,
    warnings: &mut Vec<Unplaced>,
) -> Result<Vec<RenderedObject>, RenderError> {
    let mut rendered: Vec<RenderedObject> = Vec::with_capacity(objects.len());
    for (mut object, template) in objects {
        let id = ObjectId::of(&object).map_err(|m| set.error(&template, m, ""))?;
        if !renames.is_empty() {
            let scope = scope_of(&id, renames);
            references::rewrite(&mut object, &scope);
            warnings.extend(dangling_warnings(&object, &id, &template, &scope));
        }
        let bytes = yaml::to_canonical(&object);
        rendered.push(RenderedObject {
            object: if keep_objects { object } else { Value::Null },
            file: id.file_name(),
            sha256: crate::digest::sha256_hex(bytes.as_bytes()),
            id,
            bytes,
            template,
        });
    }
    rendered.sort_by(|a, b| a.file.cmp(&b.file));
    if let Some(w) = rendered.windows(2).find(|w| w[0].file == w[1].file) {
        return Err(set.error(
            &w[1].template,
            format!("{} is rendered twice (also by {})", w[1].id, w[0].template),
            "give one of them another name, or override the built-in template by its name instead of adding a new one",
        ));
    }
    Ok(rendered)
}

/// The renames an object's references see: its own namespace's, or every namespace's for a
/// cluster-scoped kind.
fn scope_of<'a>(id: &ObjectId, renames: &'a RenamesByNamespace) -> Scope<'a> {
    let tables = if id.namespace.is_none() && references::cluster_scoped(&id.kind) {
        renames.values().collect()
    } else {
        renames.get(&id.namespace).into_iter().collect()
    };
    Scope { tables }
}

/// A warning (and the field's key and old name) per field that still names a renamed ConfigMap or Secret by its old name.
fn dangling_warnings(
    object: &Value,
    id: &ObjectId,
    template: &str,
    scope: &Scope<'_>,
) -> Vec<Unplaced> {
    references::dangling(object, scope)
        .into_iter()
        .map(|d| {
            let kind = d.target.kind();
            let warning = Warning {
                template: template.to_string(),
                line: 0,
                message: format!(
                    "{id} refers to {kind} `{}` at `{}`, but that {kind} is renamed `{}` after its content and nothing rewrites this field, so the reference will not find it",
                    d.old, d.path, d.new
                ),
                fix: format!(
                    "refer to the {kind} from a field kubectl-hadr rewrites (as kustomize's name references do), or annotate the {kind} `{}: \"false\"` to keep its name",
                    manifest::HASH_SUFFIX_ANNOTATION
                ),
            };
            let key = d.path.rsplit('.').next().unwrap_or_default();
            let key = key.split('[').next().unwrap_or_default().to_string();
            Unplaced {
                warning,
                key,
                name: d.old,
            }
        })
        .collect()
}

/// The set digest: sha256 of the multi-document stream of the objects, in file order.
fn set_digest(rendered: &[RenderedObject]) -> String {
    let mut stream = Vec::new();
    for o in rendered {
        stream.extend_from_slice(b"---\n");
        stream.extend_from_slice(o.bytes.as_bytes());
    }
    format!("sha256:{}", crate::digest::sha256_hex(&stream))
}
