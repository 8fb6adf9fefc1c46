//! Content hashes: kustomize-compatible name suffixes for ConfigMaps and Secrets, and the
//! renames they make (the references are rewritten by `references.rs`).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::digest::sha256_hex;

/// The name suffix kustomize's configMapGenerator / secretGenerator gives this object, or
/// `None` for kinds other than ConfigMap and Secret.
///
/// kustomize hashes `{"data":D,"kind":K,"name":""}` (plus `binaryData` for a ConfigMap when it is
/// a map, `stringData` and `type` for a Secret), serialized by Go's encoding/json; the name is
/// always empty because kustomize looks it up under a key that never exists.
pub fn kustomize_suffix(object: &Value) -> Option<String> {
    let kind = object.get("kind")?.as_str()?;
    let empty = Value::String(String::new());
    let data = match object.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => &empty,
    };
    let mut doc = BTreeMap::new();
    match kind {
        "ConfigMap" => {
            if let Some(b @ Value::Object(_)) = object.get("binaryData") {
                doc.insert("binaryData", b.clone());
            }
        }
        "Secret" => {
            if let Some(s @ Value::Object(_)) = object.get("stringData") {
                doc.insert("stringData", s.clone());
            }
            let t = object.get("type").cloned().unwrap_or(empty.clone());
            doc.insert("type", t);
        }
        _ => return None,
    }
    doc.insert("data", data.clone());
    doc.insert("kind", Value::String(kind.to_string()));
    doc.insert("name", empty);
    let mut json = String::new();
    go_json(&serde_json::to_value(doc).ok()?, &mut json);
    Some(encode(&sha256_hex(json.as_bytes())))
}

/// kustomize keeps the first ten hex digits and swaps the ones that could spell words.
fn encode(hex: &str) -> String {
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// Serializes as Go's encoding/json (Go 1.22 and later) does: sorted keys, no spaces, `\b`,
/// `\f`, `\n`, `\r`, `\t` and `\u00XX` for the other control characters, HTML-safe escapes
/// (`<`, `>`, `&`) and U+2028/U+2029 escaped; DEL and other characters as they are. Checked
/// against kustomize's own hasher by the `kustomize-hash` oracle (tests/it/kustomize_parity.rs).
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(k, out);
                out.push(':');
                go_json(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Since Go 1.22 (kustomize v5.7.1 is built with a newer Go).
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Renames: (kind, old name) -> new name, for ConfigMaps and Secrets of one namespace.
#[derive(Debug, Default)]
pub struct Renames {
    pub config_maps: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

impl Renames {
    pub fn is_empty(&self) -> bool {
        self.config_maps.is_empty() && self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": data})
    }

    // Vectors produced by kustomize v5's configMapGenerator / secretGenerator.
    #[test]
    fn config_map_suffixes_match_kustomize() {
        assert_eq!(
            kustomize_suffix(&cm(json!({"K": "1"}))).unwrap(),
            "cd9c2m5dhf"
        );
        assert_eq!(
            kustomize_suffix(&cm(json!({"one": ""}))).unwrap(),
            "9g67k2htb6"
        );
        let no_data = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(kustomize_suffix(&no_data).unwrap(), "6ct58987ht");
    }

    #[test]
    fn secret_suffix_matches_kustomize() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "x"}, "data": {"password": "cDw+JnNz"}});
        assert_eq!(kustomize_suffix(&s).unwrap(), "2mb49b6m65");
    }

    // Vectors produced by `kustomize build` v5.7.1 (configMapGenerator literals and files).
    #[test]
    fn html_characters_and_non_ascii_values_match_kustomize() {
        let a = cm(json!({"html": "<a href=\"x\">&amp;</a>", "uni": "héllo wörld ✓"}));
        assert_eq!(kustomize_suffix(&a).unwrap(), "776h57758h");
    }

    #[test]
    fn binary_data_matches_kustomize() {
        let mut b = cm(json!({"K": "1"}));
        b["binaryData"] = json!({"bin.dat": "AP8Q"});
        assert_eq!(kustomize_suffix(&b).unwrap(), "tdcmghm7g4");
    }

    #[test]
    fn secret_with_html_and_non_ascii_values_matches_kustomize() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "s"}, "data": {"name": "em/Dqw==", "tok": "PCY+"}});
        assert_eq!(kustomize_suffix(&s).unwrap(), "k9hkgbd4h5");
    }

    /// Issue 13, item 10: Go 1.22+ writes `\f` and `\b` as such, not as `\u000c`/`\u0008`.
    /// Values from kustomize v5.7.1's code (the `kustomize-hash` oracle); the first is also
    /// what `kustomize build` v5.7.1 names `{PAGE_BREAK: "a\fb"}`.
    #[test]
    fn form_feed_and_backspace_values_match_kustomize() {
        let page_break = cm(json!({"PAGE_BREAK": "a\u{c}b"}));
        assert_eq!(kustomize_suffix(&page_break).unwrap(), "d586bdk8d5");
        let backspace = cm(json!({"PAGE_BREAK": "a\u{8}b"}));
        assert_eq!(kustomize_suffix(&backspace).unwrap(), "thb628ggfh");
    }

    #[test]
    fn control_characters_del_and_line_separators_match_kustomize() {
        let c = cm(
            json!({"DEL": "a\u{7f}b", "LS": "x\u{2028}y\u{2029}", "NUL": "\u{0}\u{1f}", "HTML": "<>&"}),
        );
        assert_eq!(kustomize_suffix(&c).unwrap(), "9546hc77dc");
        let s = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "x"}, "stringData": {"pw": "a\u{c}b<"}});
        assert_eq!(kustomize_suffix(&s).unwrap(), "72b7g226kk");
    }

    #[test]
    fn the_name_does_not_change_the_suffix() {
        let mut a = cm(json!({"K": "1"}));
        a["metadata"]["name"] = json!("other");
        assert_eq!(kustomize_suffix(&a).unwrap(), "cd9c2m5dhf");
    }

    #[test]
    fn go_json_escapes_html_characters_and_keeps_utf8() {
        let mut s = String::new();
        go_json(&json!({"b": "<a & b>", "a": "héllo\u{2028}"}), &mut s);
        assert_eq!(s, r#"{"a":"héllo\u2028","b":"\u003ca \u0026 b\u003e"}"#);
    }

    #[test]
    fn other_kinds_have_no_suffix() {
        assert!(kustomize_suffix(&json!({"kind": "Service"})).is_none());
    }
}
