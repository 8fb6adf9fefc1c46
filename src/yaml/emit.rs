//! A direct writer of the canonical YAML form, for the values it can prove it writes exactly
//! as serde-saphyr does.
//!
//! serde-saphyr's serializer was a tenth of a full render: every scalar goes through its
//! general quoting analysis and every node through serde's machinery. The layout of block
//! YAML is simple and fixed (two-space indents, sequences at their key's indentation, compact
//! mappings in sequence items); what needs care is how each scalar is written. A string in a
//! small, certainly plain class is written as is; any other string is written as serde-saphyr
//! writes it alone (remembered per thread, as names and labels repeat across objects); a
//! string it writes on several lines (block scalars) or a float makes the whole document go
//! through serde-saphyr. Unit tests compare both writers on a corpus and on generated values.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;

/// The canonical text of a manifest, or `None` when it has a value this writer leaves to
/// serde-saphyr. `rank` orders the keys of the top-level mapping.
pub(super) fn canonical(value: &Value, rank: fn(&str) -> u8) -> Option<String> {
    document(value, Order::Top(rank))
}

/// The text of a value whose mappings, at every level, are ordered by `rank` and then by
/// key, as serde-saphyr writes a struct whose fields come in that order; `None` as above.
pub(super) fn in_order(value: &Value, rank: fn(&str) -> u8) -> Option<String> {
    document(value, Order::Everywhere(rank))
}

fn document(value: &Value, order: Order) -> Option<String> {
    let Value::Object(map) = value else {
        return None;
    };
    let mut out = String::with_capacity(1024);
    if map.is_empty() {
        out.push_str("{}\n");
        return Some(out);
    }
    write_map(&mut out, map, 0, false, order)?;
    Some(out)
}

/// How a mapping's keys are ordered: by name, after a rank for the top-level mapping only
/// (manifests) or for every mapping (structs).
#[derive(Clone, Copy)]
enum Order {
    Top(fn(&str) -> u8),
    Everywhere(fn(&str) -> u8),
    Name,
}

impl Order {
    fn nested(self) -> Order {
        match self {
            Order::Everywhere(_) => self,
            _ => Order::Name,
        }
    }
}

fn write_map(
    out: &mut String,
    map: &serde_json::Map<String, Value>,
    indent: usize,
    inline_first: bool,
    order: Order,
) -> Option<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    match order {
        Order::Top(rank) | Order::Everywhere(rank) => {
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        }
        Order::Name if !keys.is_sorted() => keys.sort(),
        Order::Name => {}
    }
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        scalar(out, key, Position::Key)?;
        out.push(':');
        match &map[key] {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(out, m, indent + 2, false, order.nested())?;
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, indent, false, order.nested())?;
            }
            leaf => {
                out.push(' ');
                write_leaf(out, leaf)?;
            }
        }
    }
    Some(())
}

fn write_seq(
    out: &mut String,
    items: &[Value],
    indent: usize,
    inline_first: bool,
    order: Order,
) -> Option<()> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, m, indent + 2, true, order)?,
            Value::Array(inner) if !inner.is_empty() => {
                write_seq(out, inner, indent + 2, true, order)?
            }
            leaf => write_leaf(out, leaf)?,
        }
    }
    Some(())
}

/// A scalar or an empty collection, and the end of its line.
fn write_leaf(out: &mut String, value: &Value) -> Option<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        // Float formatting is serde-saphyr's own (shortest round trip, `.inf`, exponents).
        Value::Number(_) => return None,
        Value::String(s) => scalar(out, s, Position::Value)?,
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
    out.push('\n');
    Some(())
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Position {
    Key,
    Value,
}

/// How many strings each thread remembers before it starts again: names repeat within an
/// environment, and a fleet of 100,000 objects must not grow this without bound.
const REMEMBERED: usize = 1 << 14;

/// A string's text in a position, or `None` where it takes several lines.
type Remembered = HashMap<(Position, String), Option<Box<str>>>;

thread_local! {
    static WRITTEN: RefCell<Remembered> = RefCell::new(HashMap::new());
}

/// Writes a string as serde-saphyr writes it as a key or a block value, or `None` when that
/// takes more than one line.
fn scalar(out: &mut String, s: &str, position: Position) -> Option<()> {
    if certainly_plain(s) {
        out.push_str(s);
        return Some(());
    }
    WRITTEN.with(|memo| {
        let mut memo = memo.borrow_mut();
        let key = (position, s.to_string());
        if let Some(known) = memo.get(&key) {
            out.push_str(known.as_deref()?);
            return Some(());
        }
        let written = alone(s, position).map(String::into_boxed_str);
        if memo.len() >= REMEMBERED {
            memo.clear();
        }
        let text = memo.entry(key).or_insert(written).as_deref()?;
        out.push_str(text);
        Some(())
    })
}

/// Plain in every position: starts with a letter, holds only letters, digits and `._/-`, and
/// is none of the words a YAML 1.1 or 1.2 reader takes for a bool, null, or special float.
fn certainly_plain(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    let bytes = s.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.len() <= 256
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
        && !WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// serde-saphyr's text for one string in a position, when it is one line.
fn alone(s: &str, position: Position) -> Option<String> {
    let text = match position {
        Position::Value => super::emit_with_options(&s)?,
        Position::Key => {
            let mut one = serde_json::Map::new();
            one.insert(s.to_string(), Value::Null);
            super::emit_with_options(&Value::Object(one))?
                .strip_suffix(": null\n")?
                .to_string()
        }
    };
    let line = text.strip_suffix('\n').unwrap_or(&text);
    (!line.is_empty() && !line.contains('\n')).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rank(key: &str) -> u8 {
        super::super::top_level_rank(key)
    }

    fn slow(value: &Value) -> String {
        super::super::canonical_via_serde(value)
    }

    /// A deterministic generator (xorshift), so that a failure names a reproducible case.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn string(&mut self) -> String {
            const WORDS: &[&str] = &[
                "",
                "a",
                "app",
                "on",
                "Off",
                "y",
                "N",
                "yes",
                "null",
                "Null",
                "~",
                "true",
                "nan",
                ".inf",
                "-inf",
                "inf",
                "0",
                "1",
                "-3",
                "0777",
                "1_000",
                "0x1F",
                "1e3",
                "1.0",
                "1.0.0",
                "2026-01-01",
                "2026-01-01T10:00:00Z",
                "12:30",
                "<<",
                "=",
                "---",
                "...",
                "- x",
                "-x",
                "?x",
                "? x",
                ":x",
                "x:",
                "a: b",
                "a:b",
                "a #b",
                "a#b",
                "#c",
                " lead",
                "trail ",
                "he said \"hi\"",
                "a\\b",
                "a\tb",
                "é",
                "\u{1}",
                "line1\nline2",
                "a\n",
                "\n",
                "registry.example.com/app:1.0.0",
                "kubernetes.io/hostname",
                "250m",
                "512Mi",
                "/healthz",
                "DoNotSchedule",
                "app.kubernetes.io/name",
                "*x",
                "&a",
                "!t",
                "%x",
                "@x",
                "`x",
                "|x",
                ">x",
                "{x",
                "[x",
                "x]",
                "a, b",
                "'x",
                "\"x",
                "\u{feff}x",
                "\u{85}",
                "x\r",
                "_x",
            ];
            const CHARS: &[char] = &[
                'a', 'Z', '0', '9', ' ', ':', '#', '-', '.', '_', '/', '"', '\'', '\\', '\n', '\t',
                'é', '~', '*', '&', '!', '%', '@', '`', '|', '>', '?', ',', '[', ']', '{', '}',
                '<', '=', '+', 'e', 'x', 'n', 'o', 'y',
            ];
            if self.below(3) > 0 {
                WORDS[self.below(WORDS.len())].to_string()
            } else {
                (0..self.below(8))
                    .map(|_| CHARS[self.below(CHARS.len())])
                    .collect()
            }
        }

        fn value(&mut self, depth: usize) -> Value {
            let pick = if depth >= 4 {
                self.below(6)
            } else {
                self.below(9)
            };
            match pick {
                0 => Value::Null,
                1 => Value::Bool(self.below(2) == 1),
                2 => json!(self.next() as i64 >> self.below(64)),
                3 => json!(self.next()),
                4 => json!(self.below(1000) as f64 / 8.0),
                5 => Value::String(self.string()),
                6 | 7 => Value::Object(
                    (0..self.below(4))
                        .map(|_| (self.string(), self.value(depth + 1)))
                        .collect(),
                ),
                _ => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            }
        }
    }

    fn manifest() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "team-00000", "labels": {"app.kubernetes.io/name": "app", "hadr.dev/region": "eastus2"}},
            "spec": {
                "replicas": 3,
                "template": {"spec": {
                    "containers": [{"name": "app", "image": "registry.example.com/app:1.0.0",
                        "envFrom": [{"configMapRef": {"name": "app-config-7d49m26859"}}],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m"}}}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "labelSelector": {"matchLabels": {"app": "x"}}}],
                    "tolerations": [], "nodeSelector": {}, "x": [[1, 2], [], [{}], [{"a": null}]]
                }}
            },
            "data": {"SHARD": "0", "FEATURE_X": "on", "LOG_LEVEL": "info", "URL": "http://x:80/a b", "n": "N"}
        })
    }

    #[test]
    fn the_direct_writer_writes_a_manifest_byte_for_byte_as_serde_saphyr() {
        let value = manifest();
        let fast = canonical(&value, rank).expect("a usual manifest takes the direct path");
        assert_eq!(fast, slow(&value));
        // Again, with the strings remembered.
        assert_eq!(canonical(&value, rank).unwrap(), fast);
    }

    #[test]
    fn the_direct_writer_agrees_with_serde_saphyr_on_every_generated_value() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let mut direct = 0;
        for case in 0..20_000 {
            let mut top: serde_json::Map<String, Value> =
                (0..g.below(6)).map(|_| (g.string(), g.value(1))).collect();
            top.insert("apiVersion".into(), Value::String(g.string()));
            top.insert("kind".into(), Value::String(g.string()));
            let value = Value::Object(top);
            if let Some(fast) = canonical(&value, rank) {
                assert_eq!(fast, slow(&value), "case {case}: {value}");
                direct += 1;
            }
        }
        // Most values take the direct path, or the test would prove little.
        assert!(direct > 5_000, "only {direct} values written directly");
    }
}
