//! A direct writer of the canonical YAML form, for the values it can prove it writes exactly
//! as serde-saphyr does.
//!
//! With serde-saphyr's serializer a full render took 14-27% longer (`fast/mod.rs`): every scalar goes through its
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
pub(in crate::yaml) fn canonical(value: &Value, rank: fn(&str) -> u8) -> Option<String> {
    document(value, Order::Top(rank))
}

/// The text of a value whose mappings, at every level, are ordered by `rank` and then by
/// key, as serde-saphyr writes a struct whose fields come in that order; `None` as above.
pub(in crate::yaml) fn in_order(value: &Value, rank: fn(&str) -> u8) -> Option<String> {
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
        Position::Value => crate::yaml::emit_with_options(&crate::yaml::text::Text(s))?,
        Position::Key => {
            let mut one = serde_json::Map::new();
            one.insert(s.to_string(), Value::Null);
            let text = crate::yaml::emit_with_options(&Value::Object(one))?;
            // A key over 1024 characters takes the explicit form (`? key` then `: value` on
            // the next line): YAML readers look no further for the `:` of an implicit key.
            if text.starts_with("? ") {
                return None;
            }
            text.strip_suffix(": null\n")?.to_string()
        }
    };
    let line = text.strip_suffix('\n').unwrap_or(&text);
    (!line.is_empty() && !line.contains('\n')).then(|| line.to_string())
}
