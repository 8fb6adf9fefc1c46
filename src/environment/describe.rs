//! What each field of an environment file takes, in words, read from its JSON Schema (the one
//! `kubectl hadr schema` prints), for the messages of values of the wrong type: the reader
//! itself only knows that it wanted "a scalar".

use std::sync::OnceLock;

use serde_json::Value;

use crate::yaml::{Path, Segment, Shape, Wanted};

/// A mapping with more fields than this is described without listing them.
const MAX_FIELDS_LISTED: usize = 6;

/// What the field at `path` of an environment file takes, when the schema says.
pub(super) fn wanted(path: &Path) -> Option<Wanted> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let root = SCHEMA.get_or_init(super::json_schema);
    let mut node = root;
    for segment in &path.0 {
        node = step(root, node, segment)?;
    }
    words(root, node)
}

/// Follows `$ref` to its definition.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
        .and_then(|p| root.pointer(&format!("/{p}")))
        .unwrap_or(node)
}

/// The alternatives of an `anyOf` or `oneOf`, nested ones flattened, without `null` (every
/// field is optional).
fn alternatives<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let node = resolve(root, node);
    match node.get("anyOf").or_else(|| node.get("oneOf")) {
        Some(Value::Array(options)) => options
            .iter()
            .flat_map(|o| alternatives(root, o))
            .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
            .collect(),
        _ => vec![node],
    }
}

/// The schema of the child at one path segment.
fn step<'a>(root: &'a Value, node: &'a Value, segment: &Segment) -> Option<&'a Value> {
    alternatives(root, node)
        .into_iter()
        .find_map(|node| match segment {
            Segment::Key(key) => node
                .get("properties")
                .and_then(|p| p.get(key))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
            Segment::Index(_) => node.get("items"),
        })
}

fn words(root: &Value, node: &Value) -> Option<Wanted> {
    let described: Vec<Wanted> = alternatives(root, node)
        .into_iter()
        .filter_map(|n| one(root, n))
        .collect();
    let shape = described.first()?.shape;
    let words: Vec<&str> = described.iter().map(|w| w.words.as_str()).collect();
    Some(Wanted::new(words.join(" or "), shape))
}

/// One alternative in words.
fn one(root: &Value, node: &Value) -> Option<Wanted> {
    let scalar = |words: String| Some(Wanted::new(words, Shape::Scalar));
    if let Some(Value::String(only)) = node.get("const") {
        return scalar(format!("`{only}`"));
    }
    if let Some(Value::Array(values)) = node.get("enum") {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return scalar(format!("one of {}", names.join(", ")));
    }
    let ty = match node.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")?,
        _ => return None,
    };
    match ty {
        "integer" => scalar(integer_words(node)),
        "number" => scalar("a number".into()),
        "string" => scalar(match node.pointer("/examples/0").and_then(Value::as_str) {
            Some(example) => format!("a string such as `{example}`"),
            None => "a string".into(),
        }),
        "boolean" => scalar("`true` or `false`".into()),
        "array" => Some(Wanted::new(
            match node.get("items").and_then(|i| words(root, i)) {
                Some(item) => format!("a list of {}", plural(&item.words)),
                None => "a list".into(),
            },
            Shape::List,
        )),
        "object" => Some(Wanted::new(object_words(root, node), Shape::Mapping)),
        _ => None,
    }
}

/// "a whole number from 0 to 65535", from the schema's bounds.
fn integer_words(node: &Value) -> String {
    let bound = |k: &str| node.get(k).and_then(Value::as_i64);
    match (bound("minimum"), bound("maximum")) {
        (Some(lo), Some(hi)) => format!("a whole number from {lo} to {hi}"),
        (Some(lo), None) => format!("a whole number of {lo} or more"),
        _ => "a whole number".into(),
    }
}

/// A mapping's fields by name (the required ones first), or what its entries map to.
fn object_words(root: &Value, node: &Value) -> String {
    if let Some(Value::Object(fields)) = node.get("properties") {
        let required: Vec<&str> = match node.get("required") {
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut names: Vec<&str> = required.clone();
        names.extend(
            fields
                .keys()
                .map(String::as_str)
                .filter(|k| !required.contains(k)),
        );
        let shown: Vec<String> = (names.iter().take(MAX_FIELDS_LISTED))
            .map(|k| format!("`{k}`"))
            .collect();
        return match names.len().saturating_sub(MAX_FIELDS_LISTED) {
            0 => format!("a mapping with the fields {}", shown.join(", ")),
            more => format!(
                "a mapping with the fields {} and {more} more (`kubectl hadr schema` lists them)",
                shown.join(", ")
            ),
        };
    }
    match node
        .get("additionalProperties")
        .and_then(|a| words(root, a))
    {
        Some(entry) => format!("a mapping of names to {}", plural(&entry.words)),
        None => "a mapping".into(),
    }
}

/// "a string" → "strings", for "a list of strings".
fn plural(words: &str) -> String {
    const NOUNS: [(&str, &str); 5] = [
        ("a whole number", "whole numbers"),
        ("a number", "numbers"),
        ("a string", "strings"),
        ("a mapping", "mappings"),
        ("a list", "lists"),
    ];
    if let Some(values) = words.strip_prefix("one of ") {
        return format!("values from {values}");
    }
    NOUNS
        .iter()
        .find_map(|(one, many)| words.strip_prefix(one).map(|rest| format!("{many}{rest}")))
        .unwrap_or_else(|| words.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(keys: &[&str]) -> Path {
        Path(
            keys.iter()
                .map(|k| match k.parse() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Key(k.to_string()),
                })
                .collect(),
        )
    }

    #[test]
    fn each_field_is_described_by_its_type_bounds_and_values() {
        let w = |keys: &[&str]| wanted(&path(keys)).map(|w| w.words);
        assert_eq!(
            w(&["spec", "app", "port"]).as_deref(),
            Some("a whole number from 1 to 65535")
        );
        assert_eq!(
            w(&["spec", "app", "replicas"]).as_deref(),
            Some("a whole number from 0 to 2147483647")
        );
        assert_eq!(
            w(&["spec", "ha", "antiAffinity"]).as_deref(),
            Some("one of `required`, `preferred`, `none`")
        );
        assert_eq!(w(&["spec", "config", "A"]).as_deref(), Some("a string"));
        assert_eq!(
            w(&["spec", "ha", "disruptionBudget", "minAvailable"]).as_deref(),
            Some("a whole number from 0 to 2147483647 or a string such as `50%`")
        );
        let regions = wanted(&path(&["spec", "regions"])).unwrap();
        assert_eq!(regions.shape, Shape::List);
        assert!(
            regions
                .words
                .starts_with("a list of mappings with the fields `config`"),
            "{regions:?}"
        );
        assert_eq!(
            w(&["spec", "ha", "spread"]).as_deref(),
            Some("a list of values from `zone`, `hostname`")
        );
        assert_eq!(
            wanted(&path(&["spec", "regions", "0", "replicas"])).map(|w| w.shape),
            Some(Shape::Scalar)
        );
        assert_eq!(w(&["spec", "nothing"]), None);
    }

    /// Issue 13 item 15: the reviewer's inputs, flow style included, in the field's terms.
    #[test]
    fn issue_13_item_15_wrong_types_say_what_the_field_takes_and_what_was_found() {
        let err = |spec: &str| {
            let e = crate::environment::load_spec(spec).unwrap_err();
            let at = e.position.map(|p| p.to_string()).unwrap_or_default();
            let field = e.path.map(|p| p.to_string()).unwrap_or_default();
            (
                format!("{at} {field}: {}", e.message),
                e.hint.unwrap_or_default(),
            )
        };
        let regions = "  regions: [{name: east, context: c}]\n";
        let (message, _) = err(&format!(
            "  app: {{name: web, image: x:1, port: 70000}}\n{regions}"
        ));
        assert_eq!(
            message,
            "4:32 spec.app.port: `70000` is not a whole number from 1 to 65535"
        );
        let (message, hint) = err(&format!(
            "  app: {{name: web, image: x:1, port: [1]}}\n{regions}"
        ));
        assert_eq!(
            message,
            "4:32 spec.app.port: expected a whole number from 1 to 65535, found the list `[1]`"
        );
        assert_eq!(hint, "write one value here, not a list");
        let (message, _) = err(&format!(
            "  app: {{name: web, image: x:1}}\n{regions}  config: {{A: {{b: 1}}}}\n"
        ));
        assert_eq!(
            message,
            "6:12 spec.config.A: expected a string, found the mapping `{b: 1}`"
        );
        let (message, hint) = err("  app: {name: web, image: x:1}\n  regions: eastus2\n");
        assert!(
            message.starts_with(
                "5:3 spec.regions: expected a list of mappings with the fields `config`, `context`"
            ),
            "{message}"
        );
        assert!(message.ends_with("found `eastus2`"), "{message}");
        assert_eq!(
            hint,
            "a list of one is written `[eastus2]`, or as `- eastus2` on the line below"
        );
        let (message, _) = err(&format!("  app: web\n{regions}"));
        assert!(
            message.starts_with("4:3 spec.app: expected a mapping with the fields `image`"),
            "{message}"
        );
        let (message, hint) = err(&format!(
            "  app: {{name: web, image: x:1}}\n{regions}  ha: {{antiAffinity: sometimes}}\n"
        ));
        assert_eq!(
            message,
            "6:8 spec.ha.antiAffinity: unknown value `sometimes`: this field takes one of `required`, `preferred`, `none`"
        );
        assert_eq!(
            hint,
            "write one of those values, spelled as shown (case matters)"
        );
        let (message, _) = err(&format!(
            "  app: {{name: web, image: x:1}}\n{regions}  ha: {{disruptionBudget: {{minAvailable: -1}}}}\n"
        ));
        assert_eq!(
            message,
            "6:27 spec.ha.disruptionBudget.minAvailable: expected a whole number from 0 to 2147483647 or a string such as `50%`, found `-1`"
        );
    }

    /// Issue 13 review: `replicas: 010` said it is no whole number, with no reason.
    #[test]
    fn a_count_with_a_leading_zero_says_why_it_is_text() {
        let e = crate::environment::load_spec(
            "  app: {name: web, image: x:1, replicas: 010}\n  regions: [{name: east, context: c}]\n",
        )
        .unwrap_err();
        assert!(
            e.hint.unwrap_or_default().contains("leading zero"),
            "{}",
            e.message
        );
    }

    /// Issue 13 review: `replicas: 3000000000` was blamed on the built-in Deployment template,
    /// and `99999999999` was given u32's range; Kubernetes keeps counts as int32.
    #[test]
    fn counts_beyond_int32_are_refused_where_they_are_written_with_int32s_range() {
        for (spec, at, field) in [
            (
                "  app: {name: web, image: x:1, replicas: 3000000000}\n  regions: [{name: east, context: c}]\n",
                "4:32",
                "spec.app.replicas",
            ),
            (
                "  app: {name: web, image: x:1}\n  regions: [{name: east, context: c, replicas: 99999999999}]\n",
                "5:38",
                "spec.regions[0].replicas",
            ),
            (
                "  app: {name: web, image: x:1, readinessProbe: {periodSeconds: 2147483648}}\n  regions: [{name: east, context: c}]\n",
                "4:49",
                "spec.app.readinessProbe.periodSeconds",
            ),
            (
                "  app: {name: web, image: x:1}\n  regions: [{name: east, context: c}]\n  ha: {disruptionBudget: {minAvailable: 2147483648}}\n",
                "6:27",
                "spec.ha.disruptionBudget.minAvailable",
            ),
        ] {
            let e = crate::environment::load_spec(spec).unwrap_err();
            assert_eq!(e.position.unwrap().to_string(), at, "{spec}");
            assert_eq!(e.path.unwrap().to_string(), field);
            assert!(e.message.contains("from 0 to 2147483647"), "{}", e.message);
        }
        crate::environment::load_spec("  app: {name: web, image: x:1, replicas: 2147483647}\n  regions: [{name: east, context: c}]\n").unwrap();
    }
}
