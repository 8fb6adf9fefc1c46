//! Environment -> RenderedSet: runs the templates for one region, parses their output, applies
//! labels, content hashes and reference rewriting, and emits canonical bytes.

pub mod cache;
mod finish;
pub mod hash;
pub mod manifest;
mod references;
pub mod schema;
pub mod templates;
mod tojson;
pub mod validate;
mod velero;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use minijinja::value::Serde;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::environment::{App, Dr, Environment, Ha, Region, StorageClass, Workload};
use crate::render::templates::{CrdFile, Origin, TemplateSet};
use crate::yaml;
use finish::finish;
use manifest::{Index, IndexEntry, ObjectId};

/// One object of a rendered set, in canonical form.
#[derive(Debug, Clone)]
pub struct RenderedObject {
    pub id: ObjectId,
    /// The object as rendered (what `bytes` says), for policy checks; `Null` unless the
    /// renderer was asked to keep objects (they cost several times their bytes in memory).
    pub object: Value,
    pub file: String,
    pub bytes: String,
    pub sha256: String,
    /// The template that produced it.
    pub template: String,
}

/// The objects of one environment in one region.
#[derive(Debug, Clone)]
pub struct RenderedSet {
    pub environment: String,
    pub region: String,
    /// Sorted by file name.
    pub objects: Vec<RenderedObject>,
    pub digest: String,
}

impl RenderedSet {
    pub fn index(&self) -> Index {
        Index {
            api_version: crate::environment::API_VERSION.into(),
            kind: "RenderedSet".into(),
            environment: self.environment.clone(),
            region: self.region.clone(),
            digest: self.digest.clone(),
            objects: self
                .objects
                .iter()
                .map(|o| IndexEntry {
                    file: o.file.clone(),
                    id: o.id.clone(),
                    sha256: o.sha256.clone(),
                })
                .collect(),
        }
    }

    /// Every file of the region directory, index included, by file name.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files: BTreeMap<String, Vec<u8>> = self
            .objects
            .iter()
            .map(|o| (o.file.clone(), o.bytes.clone().into_bytes()))
            .collect();
        files.insert(
            manifest::INDEX_FILE.to_string(),
            self.index().to_bytes().into_bytes(),
        );
        files
    }
}

/// Something a template did that works but probably is not what its author meant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    pub template: String,
    /// Line in the template, when it could be traced back; else the line of the output.
    pub line: usize,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}\n  fix: {}",
            self.template, self.line, self.message, self.fix
        )
    }
}

/// Why a region could not be rendered (boxed: errors are rare, results are everywhere).
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct RenderError(pub Box<RenderFailure>);

impl From<RenderFailure> for RenderError {
    fn from(f: RenderFailure) -> Self {
        RenderError(Box::new(f))
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderFailure {
    /// A template minijinja could not compile or run. `environment` and `region` are empty
    /// for a template that failed to compile (before any environment is rendered).
    #[error("{template}:{line}{}: {message}{}{}\n  help: {hint}", at_column(.column), detail(.snippet), rendering(.environment, .region))]
    Template {
        template: String,
        line: usize,
        /// 1-based, when minijinja said where in the line.
        column: Option<usize>,
        environment: String,
        region: String,
        message: String,
        snippet: Option<String>,
        hint: String,
    },
    #[error(
        "{template}{}: {message}\n  output line {line} | {text}\n  while rendering environment `{environment}`, region `{region}`\n  help: {hint}",
        template_line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    Output {
        template: String,
        /// The template line that wrote the output line, when it can be traced.
        template_line: Option<usize>,
        line: usize,
        text: String,
        environment: String,
        region: String,
        message: String,
        hint: String,
    },
    /// An object the API server would refuse (`validate`): which one, the field, why, the fix.
    #[error(
        "{template}: {object}: {field}: {message}\n  while rendering environment `{environment}`, region `{region}`\n  help: {hint}"
    )]
    Invalid {
        template: String,
        environment: String,
        region: String,
        object: String,
        field: String,
        message: String,
        hint: String,
    },
    #[error(
        "{template}: {message}\n  while rendering environment `{environment}`, region `{region}`\n  help: {hint}"
    )]
    Object {
        template: String,
        environment: String,
        region: String,
        message: String,
        hint: String,
    },
}

fn at_column(column: &Option<usize>) -> String {
    column.map(|c| format!(":{c}")).unwrap_or_default()
}

fn rendering(environment: &str, region: &str) -> String {
    match (environment, region) {
        ("", _) => String::new(),
        (e, r) => format!("\n  while rendering environment `{e}`, region `{r}`"),
    }
}

fn detail(snippet: &Option<String>) -> String {
    snippet
        .as_ref()
        .map(|s| format!("\n  {s}"))
        .unwrap_or_default()
}

/// The compiled template set, shared by every region being rendered.
pub struct Renderer {
    env: minijinja::Environment<'static>,
    set: TemplateSet,
    keep_objects: bool,
    /// Digest of every template's name, shown name and source (see `input_digest`).
    templates_digest: [u8; 32],
}

/// One region to render: its environment and the region itself.
pub type Job<'a> = (&'a Environment, &'a Region);

/// A region rendered, with the warnings its templates gave.
pub type RegionOutput = (RenderedSet, Vec<Warning>);

#[derive(Serialize)]
struct EnvironmentContext<'a> {
    name: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
struct RegionContext<'a> {
    name: &'a str,
    context: &'a str,
    config: &'a BTreeMap<String, String>,
}

/// What templates see. Documented in the README ("Template authoring").
#[derive(Serialize)]
struct Context<'a> {
    environment: EnvironmentContext<'a>,
    region: RegionContext<'a>,
    /// `none` when the environment has only `workloads`.
    app: Option<&'a App>,
    /// `spec.workloads` after region overrides, sorted by name.
    workloads: Vec<WorkloadContext<'a>>,
    storage_classes: &'a BTreeMap<String, StorageClass>,
    ha: &'a Ha,
    dr: &'a Dr,
    config: &'a BTreeMap<String, String>,
    values: &'a Value,
    labels: BTreeMap<&'static str, &'a str>,
    selector: BTreeMap<&'static str, &'a str>,
    pod_labels: BTreeMap<&'static str, &'a str>,
    topology_keys: BTreeMap<&'static str, &'static str>,
}

/// One workload as templates see it: its resolved fields, its labels and selector, and the data
/// of its ConfigMap (the environment's config, the workload's, `REGION`, the region's config).
#[derive(Serialize)]
struct WorkloadContext<'a> {
    #[serde(flatten)]
    workload: &'a Workload,
    labels: BTreeMap<&'static str, &'a str>,
    selector: BTreeMap<&'static str, &'a str>,
    pod_labels: BTreeMap<&'static str, &'a str>,
    config_data: BTreeMap<&'a str, &'a str>,
}

impl Renderer {
    /// Compiles every template; a syntax error names the template and line.
    pub fn new(set: TemplateSet) -> Result<Renderer, RenderError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_filter("tojson", tojson::tojson);
        for (name, t) in &set.templates {
            env.add_template_owned(name.clone(), t.source.clone())
                .map_err(|e| template_error(&set, e, "", ""))?;
        }
        let templates_digest = templates_digest(&set);
        Ok(Renderer {
            env,
            set,
            keep_objects: true,
            templates_digest,
        })
    }

    /// See `input_digest`.
    pub fn templates_digest(&self) -> &[u8; 32] {
        &self.templates_digest
    }

    /// Whether rendered objects keep their parsed form (for policy checks) besides their bytes.
    pub fn keep_objects(mut self, keep: bool) -> Renderer {
        self.keep_objects = keep;
        self
    }

    /// The regions of `environments` to render (only `only_region` when given), in order.
    pub fn jobs<'a>(environments: &'a [Environment], only_region: Option<&str>) -> Vec<Job<'a>> {
        environments
            .iter()
            .flat_map(|e| e.regions.iter().map(move |r| (e, r)))
            .filter(|(_, r)| only_region.is_none_or(|o| o == r.name))
            .collect()
    }

    /// Renders every region of every environment, in parallel. Either all succeed, or every
    /// error is returned (sorted, so the report is the same on every run).
    pub fn render_all(
        &self,
        environments: &[Environment],
        only_region: Option<&str>,
    ) -> Result<(Vec<RenderedSet>, Vec<Warning>), Vec<RenderError>> {
        let outputs = self.render_jobs(&Renderer::jobs(environments, only_region))?;
        let mut sets = Vec::with_capacity(outputs.len());
        let mut warnings = Vec::new();
        for (s, w) in outputs {
            sets.push(s);
            warnings.extend(w);
        }
        Ok((sets, merge_warnings(warnings)))
    }

    /// Renders the given regions, in parallel, keeping each region's warnings with it.
    pub fn render_jobs(&self, jobs: &[Job<'_>]) -> Result<Vec<RegionOutput>, Vec<RenderError>> {
        let outputs = self.render_jobs_then(jobs, |_, _| ())?;
        Ok(outputs.into_iter().map(|(o, ())| o).collect())
    }

    /// Renders the given regions in parallel and, on the thread that rendered it, passes each
    /// region with its job's index to `then` (to write it while other regions render).
    pub fn render_jobs_then<T: Send>(
        &self,
        jobs: &[Job<'_>],
        then: impl Fn(usize, &RegionOutput) -> T + Sync,
    ) -> Result<Vec<(RegionOutput, T)>, Vec<RenderError>> {
        let results: Vec<Result<(RegionOutput, T), RenderError>> = jobs
            .par_iter()
            .enumerate()
            .map(|(i, (e, r))| {
                let output = self.render_region(e, r)?;
                let after = then(i, &output);
                Ok((output, after))
            })
            .collect();
        let mut outputs = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(o) => outputs.push(o),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(outputs)
        } else {
            Err(errors)
        }
    }

    /// A digest of everything this renderer's output for one region depends on besides the
    /// program itself: the templates (names, sources, and the names shown in warnings) and the
    /// exact context the templates see, which holds the environment and region names and every
    /// value resolved through `extends` and region overrides. Same digest, same bytes.
    pub fn input_digest(&self, environment: &Environment, region: &Region) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"kubectl-hadr region input v1\0");
        h.update(self.templates_digest);
        // Serializing plain structs, maps and JSON values into a Vec cannot fail.
        let ctx = serde_json::to_vec(&context(environment, region)).unwrap_or_default();
        h.update((ctx.len() as u64).to_le_bytes());
        h.update(&ctx);
        h.finalize().into()
    }

    /// Renders one environment in one region.
    pub fn render_region(
        &self,
        environment: &Environment,
        region: &Region,
    ) -> Result<(RenderedSet, Vec<Warning>), RenderError> {
        let env_name = environment.name.as_str();
        let region_name = region.name.as_str();
        let ctx = minijinja::Value::from(Serde(&context(environment, region)));

        let mut objects: Vec<(Value, String)> = Vec::new();
        // Per object: its template's output and its document's index there, for the scalars
        // the schema check needs to see as written.
        let mut origins: Vec<(usize, usize)> = Vec::new();
        let mut outputs: Vec<String> = Vec::new();
        let mut warnings = Vec::new();
        let mut sources: HashMap<String, &str> = HashMap::new();
        // YAML 1.1 warnings by (output, output line): worded once the field's type is known.
        let mut ambiguous: Vec<((usize, usize), Warning)> = Vec::new();
        for name in self.set.renderable() {
            let template = self
                .env
                .get_template(name)
                .map_err(|e| template_error(&self.set, e, env_name, region_name))?;
            let output = template
                .render(&ctx)
                .map_err(|e| template_error(&self.set, e, env_name, region_name))?;
            let shown = display_name(&self.set, name);
            let source = &self.set.templates[name].source;
            let read = yaml::template_output(&output)
                .map_err(|e| output_error(&output, source, e, &shown, env_name, region_name))?;
            for a in read.ambiguous {
                let out_line = output.lines().nth(a.position.line - 1).unwrap_or_default();
                let line = source_line_for(source, out_line).unwrap_or(a.position.line);
                let value = if secret_near(&output, a.position.line) {
                    "(a Secret's value, not shown)"
                } else {
                    a.value.as_str()
                };
                let warning = ambiguity_warning(&shown, line, value, &a);
                ambiguous.push(((outputs.len(), a.position.line), warning));
            }
            let output_index = outputs.len();
            origins.extend((0..read.documents.len()).map(|d| (output_index, d)));
            objects.extend(read.documents.into_iter().map(|d| (d, shown.clone())));
            outputs.push(output);
            sources.insert(shown, source);
        }
        let checked = Checked {
            origins: &origins,
            outputs: &outputs,
            sources: &sources,
            env: env_name,
            region: region_name,
            velero: region.velero,
            crds: &self.set.crds,
        };
        let (checked_warnings, typed) = checked.check(&mut objects)?;
        for (at, warning) in ambiguous {
            warnings.push(match typed.get(&at) {
                Some((field, value)) => typed_scalar_warning(warning, field, value),
                None => warning,
            });
        }
        warnings.extend(checked_warnings);
        let (set, late) = finish(env_name, region_name, objects, self.keep_objects)?;
        for u in late {
            let source = sources.get(&u.warning.template).copied().unwrap_or("");
            let line = line_naming(source, &u.key, &u.name);
            warnings.push(Warning { line, ..u.warning });
        }
        Ok((set, warnings))
    }
}

/// What the object checks need to know about where each object came from.
struct Checked<'a> {
    /// Per object: the index of its template's output and of its document there.
    origins: &'a [(usize, usize)],
    outputs: &'a [String],
    /// Template shown name -> its source.
    sources: &'a HashMap<String, &'a str>,
    env: &'a str,
    region: &'a str,
    /// The Velero version the region runs: how it reads velero.io objects.
    velero: crate::environment::cron::VeleroVersion,
    /// The repository's `crds/` files.
    crds: &'a BTreeMap<String, CrdFile>,
}

impl Checked<'_> {
    /// Refuses the first object the API server would refuse (`validate`, then the object's
    /// OpenAPI schema), before anything is hashed or written, and rewrites the scalars the
    /// schema says kubectl would read otherwise (see `schema::check`), returning their warnings.
    /// Also returns the plain scalars rewritten silently to what kubectl reads (an integer
    /// or boolean field), by (output index, output line), with their field and new value.
    fn check(&self, objects: &mut [(Value, String)]) -> Result<(Vec<Warning>, Typed), RenderError> {
        let mut typed = Typed::new();
        let shipped = self.crds.values().flat_map(|f| &f.documents);
        let schemas = schema::Schemas::with_crds(objects.iter().map(|(o, _)| o).chain(shipped));
        let served = self.served(objects);
        let mut warnings = Vec::new();
        for (i, (object, template)) in objects.iter_mut().enumerate() {
            let invalid = |v: validate::Violation| RenderFailure::Invalid {
                template: template.clone(),
                environment: self.env.into(),
                region: self.region.into(),
                object: v.object,
                field: v.field,
                message: v.message,
                hint: v.hint,
            };
            let api = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            // First: the rules of a kind at a version the API server does not serve are moot.
            if let Some(unserved) = schemas.unserved(api, kind) {
                return Err(invalid(unserved_violation(object, api, kind, &unserved)).into());
            }
            if let Some(refused) = served.refusal(object, api, kind) {
                return Err(invalid(refused).into());
            }
            validate::check_object(object).map_err(invalid)?;
            velero::check_object(object, self.velero).map_err(invalid)?;
            let (output, doc) = self.origins[i];
            let text = self.outputs[output].as_str();
            let source = |path: &yaml::Path| yaml::scalar_at(text, doc, path);
            let result = match schemas.of(api, kind) {
                Some(node) => schema::check(&schemas, node, object, kind == "Secret", &source)
                    .and_then(|actions| schema::crd::check_rules(object).map(|()| actions)),
                None => schema::check_big_integers(object, &source).map(|()| Vec::new()),
            };
            let actions = result.map_err(|issue| {
                invalid(validate::Violation {
                    object: validate::shown_object(object),
                    field: issue.field,
                    message: issue.message,
                    hint: issue.hint,
                })
            })?;
            for action in actions {
                if action.warning.is_none()
                    && let Some(at) = source(&action.path)
                {
                    let value = (action.field.clone(), action.value.clone());
                    typed.insert((output, at.position.line), value);
                }
                if let Some((line, message, fix)) = action.warning {
                    let source = self.sources.get(template).copied().unwrap_or("");
                    let out_line = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
                    warnings.push(Warning {
                        template: template.clone(),
                        line: source_line_for(source, out_line).unwrap_or(line),
                        message,
                        fix,
                    });
                }
                if let Some(slot) = pointer_mut(object, &action.path) {
                    *slot = action.value;
                }
            }
        }
        Ok((warnings, typed))
    }

    /// The kinds and versions the CRDs of crds/ and of the rendered objects serve.
    fn served(&self, objects: &[(Value, String)]) -> schema::crd::Served {
        let shipped = self.crds.iter().flat_map(|(name, file)| {
            file.documents
                .iter()
                .map(move |d| (d, format!("crds/{name}")))
        });
        let rendered = objects
            .iter()
            .filter(|(o, _)| schema::crd::is_crd(o))
            .map(|(o, template)| (o, template.clone()));
        schema::crd::Served::collect(rendered.chain(shipped))
    }
}

/// See `Checked::check`: (output index, output line) -> (field, the value written).
type Typed = HashMap<(usize, usize), (String, Value)>;

/// The YAML 1.1 warning for a plain scalar in an integer or boolean field, which render writes
/// as kubectl reads it (`0644` is 420, `yes` is true): quoting would make it a type error, so
/// the fix is the spelling every reader agrees on.
fn typed_scalar_warning(warning: Warning, field: &str, value: &Value) -> Warning {
    let (what, takes) = if value.is_boolean() {
        ("the boolean", "true or false")
    } else {
        ("the integer", "an integer")
    };
    let shown = warning
        .message
        .split('`')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Warning {
        message: format!(
            "emits the plain scalar `{shown}`, which kubectl and the API server (YAML 1.1) read as {what} {value}; `{field}` takes {takes}, so render writes {value}"
        ),
        fix: format!(
            "write `{value}` to mean the same in every YAML reader (do not quote it: `{field}` refuses text)"
        ),
        ..warning
    }
}

/// The problem with an object of an apiVersion and kind the pinned Kubernetes (or Velero) does
/// not serve, and the apiVersion to use instead.
fn unserved_violation(
    object: &Value,
    api: &str,
    kind: &str,
    unserved: &schema::Unserved,
) -> validate::Violation {
    let hint = match unserved.instead.as_slice() {
        [] => format!(
            "no apiVersion of this Kubernetes serves a kind `{kind}`: check the kind's spelling, or put the CustomResourceDefinition that defines it in crds/"
        ),
        [one] => format!(
            "use `apiVersion: {one}` (the version that serves {kind}), and check the object against that version's fields"
        ),
        many => format!(
            "use one of the apiVersions that serve {kind}: {}",
            many.join(", ")
        ),
    };
    validate::Violation {
        object: validate::shown_object(object),
        field: "apiVersion".into(),
        message: format!(
            "`{api}` {kind} is not served by Kubernetes {} (a removed or never-served version): the API server refuses it",
            unserved.kubernetes
        ),
        hint,
    }
}

/// Checks the objects of one template's output `text` as `render` does (object rules, then
/// their OpenAPI schemas), returning them as render would write them, with the warnings; or the
/// first problem. For tests and tools that judge single objects.
pub fn check_output(text: &str) -> Result<(Vec<Value>, Vec<Warning>), RenderError> {
    let template = "(output)".to_string();
    let read = yaml::template_output(text).map_err(|e| RenderFailure::Object {
        template: template.clone(),
        environment: String::new(),
        region: String::new(),
        message: e.to_string(),
        hint: "write one YAML document per object".into(),
    })?;
    let origins: Vec<(usize, usize)> = (0..read.documents.len()).map(|d| (0, d)).collect();
    let mut objects: Vec<(Value, String)> = read
        .documents
        .into_iter()
        .map(|d| (d, template.clone()))
        .collect();
    let sources = HashMap::from([(template, text)]);
    let checked = Checked {
        origins: &origins,
        outputs: &[text.to_string()],
        sources: &sources,
        env: "",
        region: "",
        velero: crate::environment::cron::VeleroVersion::DEFAULT,
        crds: &BTreeMap::new(),
    };
    let (warnings, _) = checked.check(&mut objects)?;
    Ok((objects.into_iter().map(|(o, _)| o).collect(), warnings))
}

/// The value at `path` inside `value`.
fn pointer_mut<'v>(value: &'v mut Value, path: &yaml::Path) -> Option<&'v mut Value> {
    path.0.iter().try_fold(value, |v, step| match step {
        yaml::Segment::Key(k) => v.get_mut(k.as_str()),
        yaml::Segment::Index(i) => v.get_mut(*i),
    })
}

/// The warning for a plain scalar that kubectl (YAML 1.1) reads as other than the string this
/// reader takes it for. Quoting keeps the text; for the number, a spelling both readers agree
/// on (`420`, `0o644`); an integer field gets what kubectl reads either way (`schema::check`).
fn ambiguity_warning(
    template: &str,
    line: usize,
    shown: &str,
    a: &yaml::AmbiguousScalar,
) -> Warning {
    let secret = shown != a.value;
    let number = (a.yaml11_type == "integer" && !secret)
        .then(|| yaml::kubectl_number(&a.value))
        .flatten();
    let digits = a.value.trim_start_matches(['-', '+']);
    let octal = digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    let fix = match number {
        Some(n) => format!(
            "for the number, write `{n}`{} (where the schema wants an integer, render already writes {n}, as kubectl reads it); for the text, quote it: `{{{{ value | string | tojson }}}}`",
            if octal {
                format!(" or `0o{}`", digits.trim_start_matches('0'))
            } else {
                String::new()
            }
        ),
        None => {
            "quote it so it stays text: write the expression as `{{ value | string | tojson }}`"
                .into()
        }
    };
    Warning {
        template: template.into(),
        line,
        message: format!(
            "emits the plain scalar `{shown}`, which kubectl and the API server (YAML 1.1) read as {} {}, not the string it is here",
            if a.yaml11_type == "integer" {
                "an"
            } else {
                "a"
            },
            a.yaml11_type
        ),
        fix,
    }
}

/// What an error shows instead of a line of a template's output that holds a Secret.
const SECRET_LINE: &str = "(a line of a Secret: not shown, it may hold a secret value)";

/// A template's output that is no YAML, at the template line that wrote the failing output
/// line when it can be traced (`source_line_for`), with that output line (or, in a Secret's
/// document, neither it nor any quoted fragment of the message).
fn output_error(
    output: &str,
    source: &str,
    e: yaml::YamlError,
    template: &str,
    environment: &str,
    region: &str,
) -> RenderFailure {
    let secret = secret_near(output, e.position.line);
    let out_line = output
        .lines()
        .nth(e.position.line.saturating_sub(1))
        .unwrap_or_default();
    RenderFailure::Output {
        template: template.to_string(),
        template_line: source_line_for(source, out_line),
        line: e.position.line,
        text: if secret {
            SECRET_LINE.into()
        } else {
            out_line.to_string()
        },
        environment: environment.into(),
        region: region.into(),
        message: if secret {
            yaml::redact_quoted(&e.message)
        } else {
            e.message
        },
        hint: e.hint.filter(|_| !secret).unwrap_or_else(|| {
            "quote values with `| tojson`, and check the indentation of the lines the template emits".into()
        }),
    }
}

/// Whether line `line` (1-based) of a template's output may belong to a Secret: its document,
/// or the one before it, mentions one (`mentions_secret`). The document before too, because a
/// parser reports a quoted or flow value left open where the next `---` cuts it off; other
/// documents of the same template are shown as usual.
fn secret_near(output: &str, line: usize) -> bool {
    let mut documents = vec![String::new()];
    for (n, text) in output.lines().enumerate() {
        if n + 1 > line.max(1) && text.starts_with("---") {
            break;
        }
        if text.starts_with("---") {
            documents.push(String::new());
        }
        if let Some(current) = documents.last_mut() {
            current.push_str(text);
            current.push('\n');
        }
    }
    documents.iter().rev().take(2).any(|d| mentions_secret(d))
}

/// Whether a template's output holds (or may hold) a Secret, in any document and any style
/// (`kind: Secret`, quoted, flow mappings, JSON): then no line, value or quoted fragment of it
/// goes into a message. Errs towards hiding: a mention of the word as a kind is enough.
fn mentions_secret(output: &str) -> bool {
    output.match_indices("Secret").any(|(at, _)| {
        let before = output[..at].trim_end_matches(['"', '\'', ' ', '\t']);
        before.ends_with(':')
            && before[..before.len() - 1]
                .trim_end_matches(['"', '\''])
                .ends_with("kind")
    })
}

/// What the templates see for one region.
fn context<'a>(environment: &'a Environment, region: &'a Region) -> Context<'a> {
    let env_name = environment.name.as_str();
    let region_name = region.name.as_str();
    let standard_for = |name| {
        [
            ("app.kubernetes.io/name", name),
            (manifest::MANAGED_BY.0, manifest::MANAGED_BY.1),
            (manifest::ENVIRONMENT_LABEL, env_name),
            (manifest::REGION_LABEL, region_name),
        ]
    };
    // Without `spec.app`, the environment's own objects (Namespace, Schedule) are named for
    // the namespace.
    let app_name = region
        .app
        .as_ref()
        .map_or(environment.namespace.as_str(), |a| a.name.as_str());
    let standard = standard_for(app_name);
    let selector = BTreeMap::from([("app.kubernetes.io/name", app_name)]);
    let workloads = region
        .workloads
        .iter()
        .map(|w| {
            let selector = BTreeMap::from([("app.kubernetes.io/name", w.name.as_str())]);
            let mut config_data: BTreeMap<&str, &str> = w
                .config
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            config_data.insert("REGION", region_name);
            config_data.extend(region.config.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            WorkloadContext {
                workload: w,
                labels: standard_for(&w.name).into_iter().collect(),
                pod_labels: standard_for(&w.name)
                    .into_iter()
                    .chain(selector.clone())
                    .collect(),
                selector,
                config_data,
            }
        })
        .collect();
    Context {
        environment: EnvironmentContext {
            name: env_name,
            namespace: &environment.namespace,
        },
        region: RegionContext {
            name: region_name,
            context: &region.context,
            config: &region.config,
        },
        app: region.app.as_ref(),
        workloads,
        storage_classes: &region.storage_classes,
        ha: &environment.ha,
        dr: &environment.dr,
        config: &environment.config,
        values: &region.values,
        labels: standard.into_iter().collect(),
        selector: selector.clone(),
        pod_labels: standard.into_iter().chain(selector).collect(),
        topology_keys: BTreeMap::from([
            ("zone", "topology.kubernetes.io/zone"),
            ("hostname", "kubernetes.io/hostname"),
        ]),
    }
}

/// Sorted and without repeats: several regions often give the same warning.
pub fn merge_warnings(mut warnings: Vec<Warning>) -> Vec<Warning> {
    warnings.sort();
    warnings.dedup();
    warnings
}

/// See `Renderer::input_digest`. Each field is length-prefixed, so no two template sets hash
/// alike by moving bytes between a name and a source.
fn templates_digest(set: &TemplateSet) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |text: &str| {
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    };
    for name in set.templates.keys() {
        part(name);
        part(&display_name(set, name));
        part(&set.templates[name].source);
    }
    // The CRDs' schemas decide what render accepts: a changed crds/ file renders every region
    // again. The marker keeps a CRD file from ever hashing like a template.
    for (name, crd) in &set.crds {
        part("crds/");
        part(name);
        part(&crd.source);
    }
    h.finalize().into()
}

fn display_name(set: &TemplateSet, name: &str) -> String {
    match set.templates.get(name).map(|t| &t.origin) {
        Some(Origin::File(p)) => p.display().to_string(),
        _ => format!("{name} (built-in)"),
    }
}

fn template_error(set: &TemplateSet, e: minijinja::Error, env: &str, region: &str) -> RenderError {
    let name = e.name().unwrap_or("(unknown template)").to_string();
    let source = set.templates.get(&name).map(|t| t.source.as_str());
    // A template that writes a Secret may hold its value in its text (`plaintext-secret`):
    // then neither the expression nor a quoted fragment of the message is shown.
    let secret = source.is_some_and(mentions_secret);
    let range = e.range().zip(source).filter(|(r, src)| r.end <= src.len());
    let snippet = range.clone().map(|(r, src)| match secret {
        true => "at (a part of a Secret's template: not shown, it may hold a secret value)".into(),
        // A syntax error's range is the token the parser stopped at; no expression is whole.
        false if e.kind() == minijinja::ErrorKind::SyntaxError => format!("at `{}`", &src[r]),
        false => format!("at `{}`", enclosing_expression(src, r)),
    });
    let column = range.map(|(r, src)| {
        let line_start = src[..r.start].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..r.start].chars().count() + 1
    });
    let detail = e.detail().map(|d| {
        if secret {
            yaml::redact_quoted(d)
        } else {
            d.to_string()
        }
    });
    let message = match detail {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    RenderError::from(RenderFailure::Template {
        template: display_name(set, &name),
        line: e.line().unwrap_or(0),
        column,
        environment: env.into(),
        region: region.into(),
        hint: template_hint(&e),
        message,
        snippet,
    })
}

/// The `{{ ... }}` on the same line around a range of a template, else the range itself: a
/// filter's error points at the filter alone (`tojson`), and the value it was given is the
/// part that needs fixing (`app.nmae | tojson`).
fn enclosing_expression(src: &str, r: std::ops::Range<usize>) -> &str {
    let line_start = src[..r.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[r.end..].find('\n').map_or(src.len(), |i| r.end + i);
    let open = src[line_start..r.start].rfind("{{").map(|i| line_start + i);
    let close = src[r.end..line_end].find("}}").map(|i| r.end + i + 2);
    match (open, close) {
        (Some(o), Some(c)) if !src[o..r.start].contains("}}") => &src[o..c],
        _ => &src[r],
    }
}

/// What to do about a template error, by its kind.
fn template_hint(e: &minijinja::Error) -> String {
    use minijinja::ErrorKind as K;
    match e.kind() {
        K::UndefinedError => "check the spelling of the name; templates see environment, region, app, workloads, storage_classes, ha, dr, config, values, labels, selector, pod_labels and topology_keys (`| default(...)` gives a value to a key that may be missing)".into(),
        K::SyntaxError => "close every `{{` with `}}` and `{%` with `%}`, and every `{% if %}`/`{% for %}` with its `{% endif %}`/`{% endfor %}`".into(),
        K::UnknownFilter | K::UnknownTest | K::UnknownFunction => {
            let name = e.detail().and_then(|d| d.split_whitespace().nth(1)).unwrap_or_default();
            let known: Vec<String> = FILTERS.iter().map(|f| f.to_string()).collect();
            match yaml::did_you_mean(name, &known) {
                Some(guess) => guess,
                None => format!("the filters are minijinja's built-ins: {}", FILTERS.join(", ")),
            }
        }
        K::InvalidOperation => "check the types of the values the expression combines: `| int`, `| float` and `| string` convert".into(),
        _ => "see the template at the line above; `kubectl hadr render --help` lists what templates see".into(),
    }
}

/// minijinja's built-in filters (minijinja docs, `filters` module), `tojson` ours: for the
/// did-you-mean of an unknown filter.
const FILTERS: [&str; 45] = [
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
];

/// Traces an output line back to the template line that produced it: the first line that is
/// the same text, or whose literal text, with each `{{ ... }}` a wildcard, matches it.
/// The line of a template that holds a reference: the first with both the field's `key` and
/// the `name` it holds, else the first with the name, else line 1.
fn line_naming(source: &str, key: &str, name: &str) -> usize {
    let with = |f: &dyn Fn(&str) -> bool| source.lines().position(f);
    with(&|l| l.contains(key) && l.contains(name))
        .or_else(|| with(&|l| l.contains(name)))
        .map_or(1, |i| i + 1)
}

fn source_line_for(source: &str, output_line: &str) -> Option<usize> {
    // A literal line of the same text is a surer match than one with wildcards.
    if let Some(i) = source.lines().position(|line| line == output_line) {
        return Some(i + 1);
    }
    source.lines().enumerate().find_map(|(i, line)| {
        if !line.contains("{{") {
            return None;
        }
        let mut literals = Vec::new();
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            literals.push(&rest[..start]);
            rest = match rest[start..].find("}}") {
                Some(end) => &rest[start + end + 2..],
                None => "",
            };
        }
        literals.push(rest);
        let first = literals.first()?;
        let last = literals.last()?;
        let mut text = output_line.strip_prefix(first)?;
        for lit in &literals[1..literals.len() - 1] {
            let at = text.find(lit)?;
            text = &text[at + lit.len()..];
        }
        text.ends_with(last).then_some(i + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_in_every_style_and_their_fragments_hidden() {
        for secret in [
            "kind: Secret\n",
            "kind: \"Secret\"\n",
            "{apiVersion: v1, kind: 'Secret'}",
            "{\"kind\": \"Secret\"}",
            "---\nkind: ConfigMap\n---\nkind:   Secret\n",
        ] {
            assert!(mentions_secret(secret), "{secret}");
        }
        assert!(!mentions_secret(
            "kind: ConfigMap\ndata: {name: SecretName}\n"
        ));
        // Issue 13 review: only the Secret's document (and the one after it, where a value
        // left open is reported) is hidden, not every line of the template.
        let output = "kind: ConfigMap\ndata: {a: b}\n---\nkind: Secret\nstringData: {p: x}\n---\nkind: ConfigMap\ndata: {c: d}\n---\nkind: Service\n";
        let hidden: Vec<bool> = (1..=10).map(|l| secret_near(output, l)).collect();
        assert_eq!(
            hidden,
            [
                false, false, true, true, true, true, true, true, false, false
            ]
        );
        assert_eq!(
            yaml::redact_quoted("invalid value `hunter2` near \"x: y\""),
            "invalid value `…` near \"…\""
        );
    }

    fn deployment(pod_spec: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector:\n    matchLabels: {{app: d}}\n  template:\n    metadata:\n      labels: {{app: d}}\n    spec:\n{pod_spec}"
        )
    }

    fn refused(text: &str) -> RenderFailure {
        match check_output(text) {
            Err(e) => *e.0,
            Ok(o) => panic!("accepted: {o:?}"),
        }
    }

    #[test]
    fn a_plain_0644_in_an_integer_field_is_what_kubectl_reads() {
        let text = deployment(
            "      containers: [{name: c, image: i}]\n      volumes:\n      - name: v\n        configMap: {name: c, defaultMode: 0644}\n",
        );
        let (objects, warnings) = check_output(&text).expect("valid");
        assert_eq!(
            objects[0]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"],
            420
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        // Quoted, it is text: the API server refuses a string there.
        let text = text.replace("0644", "\"0644\"");
        let RenderFailure::Invalid { field, message, .. } = refused(&text) else {
            panic!()
        };
        assert_eq!(field, "spec.template.spec.volumes[0].configMap.defaultMode");
        assert!(message.contains("the string \"0644\" where an integer is needed"));
    }

    #[test]
    fn numbers_and_bools_in_string_fields_become_their_text_with_a_warning() {
        let text = deployment(
            "      containers:\n      - name: c\n        image: i\n        env:\n        - {name: PORT, value: 8080}\n        - {name: ON, value: True}\n        - {name: BIG, value: 123456789012345678901234567890}\n",
        );
        let (objects, warnings) = check_output(&text).expect("valid");
        let env = &objects[0]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], "8080");
        assert_eq!(env[1]["value"], "True");
        assert_eq!(env[2]["value"], "123456789012345678901234567890");
        assert_eq!(warnings.len(), 3);
        assert!(
            warnings[0]
                .message
                .contains("`spec.template.spec.containers[0].env[0].value` takes a string")
        );
        assert!(warnings[0].fix.contains("| string | tojson"));
    }

    #[test]
    fn schema_problems_name_the_field_and_the_fix() {
        let cases = [
            (
                "      containers: [{name: c, image: i, imagePullPolicy: Sometimes}]\n",
                "spec.template.spec.containers[0].imagePullPolicy",
                "use one of",
            ),
            (
                "      containers: [{name: c, image: i, imagePullPolcy: Always}]\n",
                "spec.template.spec.containers[0].imagePullPolcy",
                "did you mean `imagePullPolicy`",
            ),
            (
                "      containers: [{image: i}]\n",
                "spec.template.spec.containers[0]",
                "add `name`",
            ),
            (
                "      containers: [{name: c, image: i}, {name: c, image: j}]\n",
                "spec.template.spec.containers[1]",
                "merge the two",
            ),
            (
                "      containers: [{name: c, image: i}]\n      terminationGracePeriodSeconds: 1.5\n",
                "spec.template.spec.terminationGracePeriodSeconds",
                "use an integer",
            ),
            (
                "      containers: [{name: c, image: i}]\n      priority: 2147483648\n",
                "spec.template.spec.priority",
                "-2147483648 to 2147483647",
            ),
            (
                "      containers: [{name: c, image: i}]\n      activeDeadlineSeconds: 99999999999999999999\n",
                "spec.template.spec.activeDeadlineSeconds",
                "fits in 64 bits",
            ),
        ];
        for (spec, want_field, want_hint) in cases {
            let RenderFailure::Invalid {
                field,
                message,
                hint,
                object,
                ..
            } = refused(&deployment(spec))
            else {
                panic!("{spec}")
            };
            assert_eq!(
                (field.as_str(), object.as_str()),
                (want_field, "Deployment d"),
                "{spec}: {message}"
            );
            assert!(
                hint.contains(want_hint) || message.contains(want_hint),
                "{spec}: {message} / {hint}"
            );
        }
    }

    #[test]
    fn a_secret_value_is_never_shown_in_a_schema_problem() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\nstringData: {pw: 123456789012345678901234567890}\nimmutable: hunter2\n";
        let e = refused(text).to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let (_, warnings) = check_output(&text.replace("immutable: hunter2\n", "")).expect("valid");
        assert!(
            !format!("{warnings:?}").contains("1234567890"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_rendered_crd_checks_its_own_custom_resources() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer, maximum: 10}\n---\n";
        let cr = |size: &str| {
            format!(
                "{crd}apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w}}\nspec: {{size: {size}}}\n"
            )
        };
        if let Err(e) = check_output(&cr("3")) {
            panic!("{e}");
        }
        let RenderFailure::Invalid { field, .. } = refused(&cr("11")) else {
            panic!()
        };
        assert_eq!(field, "spec.size");
        let RenderFailure::Invalid { field, .. } = refused(&cr("{x: 1}")) else {
            panic!()
        };
        assert_eq!(field, "spec.size");
    }

    #[test]
    fn an_unserved_version_of_a_known_group_is_refused_naming_the_served_one() {
        let pdb = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1}\n";
        let cron = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec: {}\n";
        let ingress = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\n";
        let hpa =
            "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n";
        let typo = "apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: d}\n";
        let deployment = deployment("      containers: [{name: c, image: i}]\n");
        let deployment = deployment.replace("apps/v1", "apps/v1beta1");
        for (text, want) in [
            (deployment.as_str(), "use `apiVersion: apps/v1`"),
            (pdb, "use `apiVersion: policy/v1`"),
            (cron, "use `apiVersion: batch/v1`"),
            (ingress, "use `apiVersion: networking.k8s.io/v1`"),
            (hpa, "autoscaling/v1, autoscaling/v2"),
            (
                typo,
                "no apiVersion of this Kubernetes serves a kind `Deploymnt`",
            ),
        ] {
            let RenderFailure::Invalid {
                field,
                message,
                hint,
                ..
            } = refused(text)
            else {
                panic!("{text}")
            };
            assert_eq!(field, "apiVersion", "{text}");
            assert!(
                message.contains("is not served by Kubernetes v1.36"),
                "{message}"
            );
            assert!(hint.contains(want), "{text}: {hint}");
        }
        // Groups only other CRDs define are not judged here; a rendered CRD serves its kinds.
        let other = "apiVersion: example.com/v9\nkind: Widget\nmetadata: {name: w}\n";
        assert!(check_output(other).is_ok());
        let velero = "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: s}\nspec: {schedule: \"0 1 * * *\", template: {}}\n";
        assert!(check_output(velero).is_ok());
        let RenderFailure::Invalid { hint, .. } =
            refused(&velero.replace("velero.io/v1", "velero.io/v2"))
        else {
            panic!()
        };
        assert!(hint.contains("velero.io/v1"), "{hint}");
    }

    fn with_volume(volume: &str) -> String {
        deployment(&format!(
            "      containers: [{{name: c, image: i}}]\n      volumes:\n      - name: v\n        {volume}\n"
        ))
    }

    #[test]
    fn file_modes_outside_0_to_0777_are_refused_with_the_octal_fix() {
        let volumes = [
            (
                "configMap: {name: c, defaultMode: 644}",
                "configMap.defaultMode",
            ),
            (
                "secret: {secretName: s, defaultMode: 0999}",
                "secret.defaultMode",
            ),
            (
                "configMap: {name: c, items: [{key: k, path: p, mode: 1000}]}",
                "configMap.items[0].mode",
            ),
            ("downwardAPI: {defaultMode: 512}", "downwardAPI.defaultMode"),
            (
                "downwardAPI: {items: [{path: p, fieldRef: {fieldPath: metadata.name}, mode: -1}]}",
                "downwardAPI.items[0].mode",
            ),
            (
                "projected: {defaultMode: 1000, sources: []}",
                "projected.defaultMode",
            ),
            (
                "projected: {sources: [{secret: {name: s, items: [{key: k, path: p, mode: 777}]}}]}",
                "projected.sources[0].secret.items[0].mode",
            ),
        ];
        for (volume, want) in volumes {
            let RenderFailure::Invalid {
                field,
                message,
                hint,
                ..
            } = refused(&with_volume(volume))
            else {
                panic!("{volume}")
            };
            assert_eq!(field, format!("spec.template.spec.volumes[0].{want}"));
            assert!(message.contains("between 0 and 0777 (octal)"), "{message}");
            assert!(hint.contains("octal"), "{hint}");
        }
        let RenderFailure::Invalid { hint, .. } =
            refused(&with_volume("configMap: {name: c, defaultMode: 644}"))
        else {
            panic!()
        };
        assert!(
            hint.starts_with(
                "did you mean octal 0644? write 0644 unquoted (kubectl reads it as 420) or 420"
            ),
            "{hint}"
        );
        for ok in ["0", "0644", "420", "511", "0777"] {
            let text = with_volume(&format!("secret: {{secretName: s, defaultMode: {ok}}}"));
            assert!(check_output(&text).is_ok(), "{ok}");
        }
    }

    #[test]
    fn quoted_digits_with_a_leading_zero_are_not_told_to_use_int() {
        let RenderFailure::Invalid { hint, .. } =
            refused(&with_volume("configMap: {name: c, defaultMode: \"0644\"}"))
        else {
            panic!()
        };
        assert!(
            hint.starts_with("write 0644 unquoted: kubectl reads a plain 0644 as octal, 420;"),
            "{hint}"
        );
        assert!(!hint.contains("`{{ value | int }}`"), "{hint}");
        let RenderFailure::Invalid { hint, .. } =
            refused(&with_volume("configMap: {name: c, defaultMode: \"420\"}"))
        else {
            panic!()
        };
        assert!(hint.contains("| int"), "{hint}");
    }

    /// The reviewer's input: a Service port's `protocl` was "did you mean did you mean …??".
    #[test]
    fn an_unknown_field_hint_says_did_you_mean_once() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, protocl: TCP}]\n";
        let RenderFailure::Invalid { field, hint, .. } = refused(text) else {
            panic!()
        };
        assert_eq!(field, "spec.ports[0].protocl");
        assert!(
            hint.starts_with("did you mean `protocol`? (fields here: appProtocol, name,"),
            "{hint}"
        );
        assert_eq!(hint.matches("did you mean").count(), 1, "{hint}");
    }

    #[test]
    fn output_lines_trace_back_to_their_template_line() {
        let src = "data:\n{%- for k, v in config|items %}\n  {{ k }}: {{ v }}\n{%- endfor %}\nkind: {{ kind }}\n";
        assert_eq!(source_line_for(src, "  LOG: on"), Some(3));
        assert_eq!(source_line_for(src, "kind: x"), Some(5));
        assert_eq!(source_line_for(src, "nothing"), None);
    }
}
