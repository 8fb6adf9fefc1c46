//! Walks one object along its schema: the first problem the API server would refuse it for,
//! and the scalars to rewrite so the object means what kubectl would read from the template
//! (`0644` in an integer field is 420) or what the field needs (`8080` in a string field is
//! `"8080"`, with a warning).
//!
//! The rules follow how the API server decodes and checks a request with strict field
//! validation (what `kubectl apply` and our server-side apply send): Go's `encoding/json` into
//! the typed object (types, `int32`/`int64` ranges, unknown fields), the OpenAPI `required` and
//! `enum` lists, and server-side apply's list-map keys (no two entries with the same key).

use std::collections::HashSet;

use serde_json::{Number, Value};

use super::{Node, Schemas};
pub(crate) use crate::yaml::SourceScalar;
use crate::yaml::{self, Path, Segment};

/// Why the API server would refuse an object: the field (`spec.replicas`,
/// `data["port"]`), what is wrong and how to fix it. Never holds a Secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub(crate) field: String,
    /// The same field as a path into the object (to find it in a YAML text).
    pub(crate) path: Path,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// A scalar to replace before the object is written, and why (a warning for the author, or
/// `None` when the new value is exactly what kubectl reads from the template).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Action {
    pub(crate) path: Path,
    pub(crate) field: String,
    pub(crate) value: Value,
    /// The output line of the scalar and the warning's message and fix.
    pub(crate) warning: Option<(usize, String, String)>,
}

/// One step of a field path: a schema property (`.name`), a map entry (`["key"]`) or a list
/// index (`[0]`).
enum Step {
    Field(String),
    Entry(String),
    Index(usize),
}

/// The definitions whose `mode` and `defaultMode` are file modes, which the API server holds
/// to 0..=0777 (`validateKeyToPath`, `validateDownwardAPIVolumeFile` and the volume sources'
/// `defaultMode` checks in k8s.io/kubernetes pkg/apis/core/validation). The bundle test
/// `every_mode_field_is_a_file_mode` keeps the list whole.
pub(crate) const FILE_MODES: [&str; 6] = [
    "io.k8s.api.core.v1.ConfigMapVolumeSource",
    "io.k8s.api.core.v1.SecretVolumeSource",
    "io.k8s.api.core.v1.DownwardAPIVolumeSource",
    "io.k8s.api.core.v1.ProjectedVolumeSource",
    "io.k8s.api.core.v1.KeyToPath",
    "io.k8s.api.core.v1.DownwardAPIVolumeFile",
];

/// The largest magnitude an `f64` holds every integer below; a number read as a float beyond
/// it may have been an integer literal that lost digits.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

/// Checks `object` against `schema` (the schema of its kind). `source` finds the scalar at a
/// path as the template wrote it. Returns the rewrites to apply, or the first problem.
pub(crate) fn check(
    schemas: &Schemas,
    schema: &Node,
    object: &Value,
    secret: bool,
    source: &dyn Fn(&Path) -> Option<SourceScalar>,
) -> Result<Vec<Action>, Issue> {
    let mut walk = Walk {
        schemas,
        secret,
        source,
        steps: Vec::new(),
        actions: Vec::new(),
        file_mode: false,
    };
    walk.value(schema, object)?;
    Ok(walk.actions)
}

/// Refuses the integers of `object` that its reader rounded to a float: beyond 64 bits kubectl
/// would send a rounded number. For objects without a schema; the walk does it for the rest.
pub(crate) fn check_big_integers(
    object: &Value,
    source: &dyn Fn(&Path) -> Option<SourceScalar>,
) -> Result<(), Issue> {
    let schemas = Schemas {
        local: Default::default(),
    };
    let mut walk = Walk {
        schemas: &schemas,
        secret: false,
        source,
        steps: Vec::new(),
        actions: Vec::new(),
        file_mode: false,
    };
    walk.anything(object)
}

struct Walk<'a> {
    schemas: &'a Schemas,
    secret: bool,
    source: &'a dyn Fn(&Path) -> Option<SourceScalar>,
    steps: Vec<Step>,
    actions: Vec<Action>,
    /// Whether the field being walked is a file mode (see `FILE_MODES`).
    file_mode: bool,
}

impl Walk<'_> {
    fn value(&mut self, node: &Node, v: &Value) -> Result<(), Issue> {
        let modes = node.r.as_deref().is_some_and(|r| FILE_MODES.contains(&r));
        let node = self.schemas.resolve(node);
        if v.is_null() {
            // The API server reads null as the field's zero value (built-in types) or drops it
            // (custom resources, before validation).
            return Ok(());
        }
        match node.t.as_deref() {
            Some("object") => self.object(node, v, modes),
            Some("array") => self.array(node, v),
            Some("string") => self.string(node, v),
            Some("integer") => self.integer(node, v, false),
            Some("int-or-string") => self.integer(node, v, true),
            Some("number") | Some("number-or-string") => self.number(node, v),
            Some("boolean") => self.boolean(v),
            _ if node.p.is_some() => self.object(node, v, modes),
            _ => self.anything(v),
        }
    }

    /// A value the schema says nothing about: only its integers are checked.
    fn anything(&mut self, v: &Value) -> Result<(), Issue> {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    self.steps.push(Step::Entry(k.clone()));
                    self.anything(item)?;
                    self.steps.pop();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.steps.push(Step::Index(i));
                    self.anything(item)?;
                    self.steps.pop();
                }
            }
            Value::Number(n) => self.not_rounded(n)?,
            _ => {}
        }
        Ok(())
    }

    /// `modes`: the object is one whose `mode` and `defaultMode` are file modes.
    fn object(&mut self, node: &Node, v: &Value, modes: bool) -> Result<(), Issue> {
        let Some(map) = v.as_object() else {
            return Err(self.wrong_type("an object (a mapping of fields)", v));
        };
        for (key, item) in map {
            if let Some(child) = node.p.as_ref().and_then(|p| p.get(key)) {
                self.steps.push(Step::Field(key.clone()));
                self.file_mode = modes && matches!(key.as_str(), "mode" | "defaultMode");
                let checked = self.value(child, item);
                self.file_mode = false;
                checked?;
            } else if let Some(entry) = &node.a {
                self.steps.push(Step::Entry(key.clone()));
                self.value(entry, item)?;
            } else if node.u || node.p.is_none() {
                self.steps.push(Step::Entry(key.clone()));
                self.anything(item)?;
            } else {
                return Err(self.unknown_field(node, key));
            }
            self.steps.pop();
        }
        if let Some(missing) = node.q.iter().find(|f| !map.contains_key(*f)) {
            return Err(self.issue(
                format!("the required field `{missing}` is missing"),
                format!("add `{missing}` here"),
            ));
        }
        Ok(())
    }

    fn unknown_field(&mut self, node: &Node, key: &str) -> Issue {
        let mut known: Vec<String> = node.p.iter().flat_map(|p| p.keys().cloned()).collect();
        known.sort();
        let hint = match yaml::did_you_mean(key, &known) {
            Some(near) => format!("{near} (fields here: {})", known.join(", ")),
            None => format!("remove it, or use one of: {}", known.join(", ")),
        };
        self.steps.push(Step::Field(key.to_string()));
        let issue = self.issue(
            format!("unknown field `{key}`: the API server refuses it (strict field validation)"),
            hint,
        );
        self.steps.pop();
        issue
    }

    fn array(&mut self, node: &Node, v: &Value) -> Result<(), Issue> {
        let Some(items) = v.as_array() else {
            return Err(self.wrong_type("a list", v));
        };
        if let Some(min) = node.mini.filter(|m| items.len() < *m) {
            return Err(self.issue(
                format!("the list has {} items, fewer than {min}", items.len()),
                format!("give at least {min}"),
            ));
        }
        if let Some(max) = node.maxi.filter(|m| items.len() > *m) {
            return Err(self.issue(
                format!("the list has {} items, more than {max}", items.len()),
                format!("give at most {max}"),
            ));
        }
        let mut seen = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            self.steps.push(Step::Index(i));
            if let Some(each) = &node.i {
                self.value(each, item)?;
            }
            let key = match node.l.as_deref() {
                Some("map") if !node.k.is_empty() => Some(
                    node.k
                        .iter()
                        .map(|k| format!("{k}={}", item[k]))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Some("set") => Some(item.to_string()),
                _ => None,
            };
            if let Some(key) = key
                && !seen.insert(key.clone())
            {
                let shown = if self.secret {
                    "(not shown)".into()
                } else {
                    key
                };
                return Err(self.issue(
                    format!("a second entry with the same key ({shown}): server-side apply refuses duplicates in this list"),
                    "merge the two entries, or remove one".into(),
                ));
            }
            self.steps.pop();
        }
        Ok(())
    }

    fn string(&mut self, node: &Node, v: &Value) -> Result<(), Issue> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => self.as_text(v),
            _ => return Err(self.wrong_type("a string", v)),
        };
        self.in_enum(node, &Value::String(text.clone()))?;
        let length = text.chars().count();
        if node.minl.is_some_and(|m| length < m) || node.maxl.is_some_and(|m| length > m) {
            return Err(self.issue(
                format!(
                    "the text is {length} characters, outside {}..{}",
                    node.minl.unwrap_or(0),
                    node.maxl.map_or("".into(), |m| m.to_string())
                ),
                "shorten or lengthen it to fit".into(),
            ));
        }
        if node.matches_pattern(&text) == Some(false) {
            let pattern = node.pat.as_deref().unwrap_or_default();
            // The value is not shown: it may be a Secret's.
            return Err(self.issue(
                format!("the text does not match the schema's pattern `{pattern}`"),
                format!("change it to match `{pattern}` (Go RE2 syntax, found anywhere in the text unless anchored with ^ and $)"),
            ));
        }
        if node.f.as_deref() == Some("byte") && !is_base64(&text) {
            return Err(self.issue(
                "the value is not base64".into(),
                "encode it with `| b64encode`".into(),
            ));
        }
        Ok(())
    }

    /// A number or bool where a string is needed becomes the text the template wrote (every
    /// digit kept), with a warning: kubectl would send the number and the API server refuse it.
    fn as_text(&mut self, v: &Value) -> String {
        let path = self.path();
        let written = (self.source)(&path);
        let text = match &written {
            Some(s) if s.plain => s.text.clone(),
            _ => match v {
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            },
        };
        let what = if v.is_boolean() { "boolean" } else { "number" };
        let shown = if self.secret {
            "(a Secret's value, not shown)".to_string()
        } else {
            format!("`{text}`")
        };
        let field = self.field();
        self.actions.push(Action {
            warning: Some((
                written.map_or(0, |s| s.position.line),
                format!(
                    "`{field}` takes a string, and the template writes the {what} {shown} unquoted (kubectl would send a {what}, which the API server refuses); it is rendered as the string \"{}\"",
                    if self.secret { "…" } else { &text }
                ),
                "quote it in the template: `{{ value | string | tojson }}`".into(),
            )),
            path,
            field,
            value: Value::String(text.clone()),
        });
        text
    }

    /// `int32`/`int64` fields, and int-or-string ones (`int_or_string`): a whole number in
    /// range; a plain scalar kubectl reads as an integer (`0644`) becomes that integer.
    fn integer(&mut self, node: &Node, v: &Value, int_or_string: bool) -> Result<(), Issue> {
        let number = match v {
            Value::Number(n) => n.clone(),
            Value::String(s) => match self.kubectl_reads_number(s) {
                Some(n) => {
                    self.rewrite(Value::Number(n.clone()));
                    n
                }
                None if int_or_string => return self.in_enum(node, v),
                None => {
                    return Err(self.issue(
                        format!("{} where an integer is needed", self.describe(v)),
                        unquote_hint(s),
                    ));
                }
            },
            _ => return Err(self.wrong_type("an integer", v)),
        };
        self.not_rounded(&number)?;
        let whole = number.as_i64().map(i128::from).or_else(|| {
            number.as_u64().map(i128::from).or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            })
        });
        let Some(whole) = whole else {
            return Err(self.issue(
                format!("{} is not a whole number", self.describe(v)),
                "use an integer".into(),
            ));
        };
        let (lo, hi, bits) = match node.f.as_deref() {
            Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX), "32"),
            _ => (i128::from(i64::MIN), i128::from(i64::MAX), "64"),
        };
        if whole < lo || whole > hi {
            return Err(self.issue(
                format!("{whole} does not fit this {bits}-bit integer field ({lo}..{hi})"),
                format!("use a number from {lo} to {hi}"),
            ));
        }
        self.bounds(node, whole as f64)?;
        if self.file_mode {
            self.in_file_mode_range(whole)?;
        }
        Ok(())
    }

    /// The API server's rule for file modes (`fileModeErrorMsg` in k8s.io/kubernetes
    /// pkg/apis/core/validation): 0 to 0777 octal (511), both inclusive. The fix explains octal:
    /// a decimal number spelled with octal digits (644) most likely meant that octal mode.
    fn in_file_mode_range(&mut self, mode: i128) -> Result<(), Issue> {
        if (0..=0o777).contains(&mode) {
            return Ok(());
        }
        let written = (self.source)(&self.path())
            .filter(|w| w.plain)
            .map_or_else(|| mode.to_string(), |w| w.text);
        let digits = mode.to_string();
        let octal = digits.len() <= 3 && digits.bytes().all(|c| (b'0'..=b'7').contains(&c));
        let hint = if octal {
            let meant = i128::from_str_radix(&digits, 8).unwrap_or_default();
            format!(
                "did you mean octal 0{digits}? write 0{digits} unquoted (kubectl reads it as {meant}) or {meant}; a quoted \"0{digits}\" or `| int` gives the decimal {mode}"
            )
        } else {
            "write the mode in octal with a leading zero, unquoted, from 0000 to 0777 (digits 0-7 only: 0644 is rw-r--r--, which kubectl reads as 420), or its decimal value from 0 to 511".into()
        };
        Err(self.issue(
            format!(
                "the file mode `{written}` is {mode}: the API server refuses it (must be a number between 0 and 0777 (octal), both inclusive; 0 to 511 in decimal)"
            ),
            hint,
        ))
    }

    fn number(&mut self, node: &Node, v: &Value) -> Result<(), Issue> {
        match v {
            Value::Number(n) => {
                self.not_rounded(n)?;
                self.bounds(node, n.as_f64().unwrap_or(0.0))
            }
            // A Quantity (`number-or-string`): its syntax is checked by the object rules.
            Value::String(_) if node.t.as_deref() == Some("number-or-string") => Ok(()),
            _ => Err(self.wrong_type("a number", v)),
        }
    }

    fn boolean(&mut self, v: &Value) -> Result<(), Issue> {
        match v {
            Value::Bool(_) => Ok(()),
            // As for numbers: the text first, the template's scalar only for a candidate.
            Value::String(s) => match yaml::kubectl_bool(s)
                .and_then(|_| self.plain_text(s))
                .and_then(|t| yaml::kubectl_bool(&t))
            {
                Some(b) => {
                    self.rewrite(Value::Bool(b));
                    Ok(())
                }
                None => Err(self.issue(
                    format!("{} where true or false is needed", self.describe(v)),
                    "write `true` or `false` unquoted".into(),
                )),
            },
            _ => Err(self.wrong_type("true or false", v)),
        }
    }

    /// The number kubectl reads from this string's scalar, when the template wrote it plain.
    /// The text is tried first: the scalar counts only when its text is `s`, and finding it
    /// re-parses the template's output, which every `port: http` would otherwise pay for.
    fn kubectl_reads_number(&self, s: &str) -> Option<Number> {
        yaml::kubectl_number(s)?;
        self.plain_text(s).and_then(|t| yaml::kubectl_number(&t))
    }

    /// The text of the scalar at the current path when the template wrote `s` there plain.
    fn plain_text(&self, s: &str) -> Option<String> {
        let written = (self.source)(&self.path())?;
        (written.plain && written.text == s).then_some(written.text)
    }

    /// An integer literal beyond 64 bits was read as a rounded float: refused, never rounded.
    fn not_rounded(&mut self, n: &Number) -> Result<(), Issue> {
        let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.abs() >= EXACT_F64) else {
            return Ok(());
        };
        let written = (self.source)(&self.path());
        let literal = written.filter(|w| {
            let digits = w.text.trim_start_matches(['-', '+']).replace('_', "");
            w.plain && !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
        });
        match literal {
            Some(w) if f.fract() == 0.0 => Err(self.issue(
                format!(
                    "the integer {} does not fit in 64 bits: kubectl would send it rounded ({f:e})",
                    if self.secret { "(not shown)" } else { &w.text }
                ),
                "quote it to keep it as text (`| string | tojson`), or use a value that fits in 64 bits".into(),
            )),
            _ => Ok(()),
        }
    }

    fn bounds(&mut self, node: &Node, x: f64) -> Result<(), Issue> {
        if node.min.is_some_and(|m| x < m) || node.max.is_some_and(|m| x > m) {
            let range = format!(
                "{}..{}",
                node.min.map_or(String::new(), |m| m.to_string()),
                node.max.map_or(String::new(), |m| m.to_string())
            );
            return Err(self.issue(
                format!("{x} is outside {range}"),
                format!("use a value in {range}"),
            ));
        }
        Ok(())
    }

    fn in_enum(&mut self, node: &Node, v: &Value) -> Result<(), Issue> {
        let Some(allowed) = &node.e else {
            return Ok(());
        };
        if allowed.contains(v) {
            return Ok(());
        }
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        Err(self.issue(
            format!(
                "{} is not one of the values this field takes",
                self.describe(v)
            ),
            format!("use one of: {}", list.join(", ")),
        ))
    }

    fn rewrite(&mut self, value: Value) {
        let path = self.path();
        let field = self.field();
        self.actions.push(Action {
            path,
            field,
            value,
            warning: None,
        });
    }

    fn wrong_type(&self, wanted: &str, v: &Value) -> Issue {
        self.issue(
            format!("{} where {wanted} is needed", self.describe(v)),
            format!("write {wanted} here"),
        )
    }

    /// A value for a message: its type, and the value itself unless the object is a Secret.
    fn describe(&self, v: &Value) -> String {
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "the boolean",
            Value::Number(_) => "the number",
            Value::String(_) => "the string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        };
        match v {
            Value::Array(_) | Value::Object(_) | Value::Null => kind.to_string(),
            _ if self.secret => format!("{kind} (a Secret's value, not shown)"),
            Value::String(s) => format!("{kind} {s:?}"),
            other => format!("{kind} {other}"),
        }
    }

    fn issue(&self, message: String, hint: String) -> Issue {
        Issue {
            field: self.field(),
            path: self.path(),
            message,
            hint,
        }
    }

    fn path(&self) -> Path {
        Path(
            self.steps
                .iter()
                .map(|s| match s {
                    Step::Field(k) | Step::Entry(k) => Segment::Key(k.clone()),
                    Step::Index(i) => Segment::Index(*i),
                })
                .collect(),
        )
    }

    /// The field path as messages show it: `spec.containers[0].env[1].value`, `data["k"]`.
    fn field(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            match s {
                Step::Field(k) if out.is_empty() => out.push_str(k),
                Step::Field(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::Entry(k) => out.push_str(&format!("[{k:?}]")),
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            "(object)".into()
        } else {
            out
        }
    }
}

/// How to write the text `s` as the integer it holds. Digits with a leading zero are octal to
/// kubectl (`0644` is 420) only when written plain; `| int` would read them as decimal (644).
fn unquote_hint(s: &str) -> String {
    let digits = s.trim_start_matches(['-', '+']);
    let leading_zero =
        digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|c| c.is_ascii_digit());
    if leading_zero {
        let decimal = i64::from_str_radix(digits, 8).map_or(String::new(), |n| format!(", {n}"));
        format!(
            "write {s} unquoted: kubectl reads a plain {s} as octal{decimal}; from a value, emit it as `{{{{ value }}}}` without quotes or `| tojson` (not `| int`, which reads the text as the decimal {}), or write the decimal number",
            digits.trim_start_matches('0')
        )
    } else {
        "write the number unquoted (`{{ value }}`, or `{{ value | int }}` for text holding digits)"
            .into()
    }
}

fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}
