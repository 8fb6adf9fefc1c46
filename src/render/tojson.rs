//! The templates' `tojson` filter: minijinja's, with the characters a YAML reader does not read
//! back as themselves written as `\uXXXX` escapes.
//!
//! minijinja (like serde_json) escapes only the C0 controls, so a value with DEL (U+007F), a C1
//! control (U+0080-U+009F), U+FFFE or U+FFFF reached the template output raw, and YAML readers
//! refuse those characters anywhere in a file (YAML's printable set; go.yaml.in/yaml/v2, which
//! kubectl reads with, says "control characters are not allowed"). NEL (U+0085), U+2028 and
//! U+2029 are printable but line breaks to a YAML 1.1 reader, which folds them inside a quoted
//! scalar; a byte order mark may be dropped. Kubernetes and kustomize accept all of them in a
//! string, so each is escaped: outside strings JSON holds only ASCII, and the escape stands for
//! the same character in JSON and in a YAML double-quoted scalar, so the value is unchanged.

use minijinja::value::{Kwargs, Value};

/// `tojson` as minijinja writes it (same arguments, same errors), with the escapes above.
pub(super) fn tojson(
    value: &Value,
    indent: Option<Value>,
    args: Kwargs,
) -> Result<Value, minijinja::Error> {
    // Strict mode makes printing an undefined value an error, but a filter receives it, and
    // minijinja's `tojson` writes it as `null`: a misspelled `values.ingresHost` rendered
    // `host: null` silently. `| default(none) | tojson` still writes an intended null.
    if value.is_undefined() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "the value given to `tojson` is undefined: a misspelled name, or a key the mapping does not have",
        ));
    }
    let json = minijinja::filters::tojson(value, indent, args)?;
    match json.as_str() {
        Some(text) if text.chars().any(needs_escape) => Ok(Value::from_safe_string(escaped(text))),
        _ => Ok(json),
    }
}

/// Characters a YAML reader refuses raw or reads as something else (see the module doc).
pub(crate) fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, value: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_filter("tojson", tojson);
        env.render_str(template, minijinja::context! { v => value })
            .unwrap()
    }

    #[test]
    fn characters_yaml_readers_refuse_or_fold_are_escaped() {
        assert_eq!(render("{{ v | tojson }}", "a\u{7f}b"), r#""a\u007fb""#);
        assert_eq!(
            render(
                "{{ v | tojson }}",
                "\u{80}\u{85}\u{9f}\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}"
            ),
            r#""\u0080\u0085\u009f\u2028\u2029\ufeff\ufffe\uffff""#
        );
        assert_eq!(render("{{ v | tojson }}", "é✓😀\t"), r#""é✓😀\t""#);
    }

    #[test]
    fn the_escaped_json_is_the_same_string() {
        let s = "x\u{7f}\u{85}\u{ffff}y";
        let json = render("{{ v | tojson(indent=2) }}", s);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s);
        assert!(!json.chars().any(needs_escape), "{json}");
    }
}
