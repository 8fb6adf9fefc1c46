//! Generated YAML for the differential property tests of the fast paths: the shapes render
//! emits and reads (nested block maps and lists, one-line flow collections, plain, quoted and
//! block scalars, YAML 1.1-ambiguous words, unicode, empty values), so that each fast path
//! can be held to serde-saphyr's result on texts nobody wrote by hand.

use proptest::prelude::*;
use serde_json::Value;

/// Words that decide how a scalar is typed: YAML 1.1 traps, YAML 1.2 specials, numbers at the
/// edges of the quick readers, and the text of real manifests.
const WORDS: &[&str] = &[
    "on",
    "off",
    "On",
    "NO",
    "no",
    "yes",
    "Yes",
    "y",
    "n",
    "Y",
    "true",
    "True",
    "false",
    "FALSE",
    "~",
    "null",
    "Null",
    "NULL",
    "0777",
    "007",
    "12:30",
    "190:20:30.15",
    "1_000",
    "2024-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "1e3",
    "1.5",
    ".inf",
    "-.inf",
    ".nan",
    "inf",
    "nan",
    "Infinity",
    "0x1F",
    "0o17",
    "0b101",
    "+1",
    "0",
    "-0",
    "7",
    "-12",
    "999999999999999999",
    "1000000000000000000",
    "-9223372036854775808",
    "18446744073709551616",
    "app",
    "eastus2",
    "info",
    "apps/v1",
    "v1.2.3",
    "250m",
    "256Mi",
    "720h",
    "1h30m",
    "/healthz",
    "_defaults.yaml",
    "registry.example.com/app:1.0.0",
    "kubernetes.io/hostname",
    "DoNotSchedule",
    "a b",
    "x@y%z=w+v~u",
    "http://x:80/a?b=1",
    "ok()",
    "-x",
    "a:b",
    "a, b",
    "#c",
    "a #b",
    "- x",
    "? x",
    ": x",
    "<<",
    "---",
    "...",
    "*x",
    "&a",
    "!t",
    "%x",
    "@x",
    "`x",
    "|x",
    ">x",
    "'x",
    "\"x",
    "[x",
    "{x",
    "x]",
    " lead",
    "trail ",
    "",
    "é",
    "café",
    "日本語",
    "😀",
    "a\u{85}b",
    "tab\there",
    "line1\nline2",
    "line1\nline2\n",
    "\n",
    "back\\slash",
];

/// A scalar's text.
pub(super) fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_string),
        1 => prop::collection::vec(
            prop::sample::select(&['a', 'Z', '0', '9', ' ', ':', '#', '-', '.', '_', '/', '"',
                '\'', '\\', '\n', 'é', '~', ',', '[', '{', '}', 'e', 'x', 'n', 'o', 'y'][..]),
            0..8,
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Style {
    Plain,
    Double,
    Single,
    Literal,
    Folded,
}

/// A node of a generated document, with the layout it is written in.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Scalar(String, Style),
    /// Entries, and whether the mapping is written in flow on one line.
    Map(Vec<(String, Style, Node)>, bool),
    List(Vec<Node>, bool),
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        6 => Just(Style::Plain),
        3 => Just(Style::Double),
        1 => Just(Style::Single),
        1 => Just(Style::Literal),
        1 => Just(Style::Folded),
    ]
}

fn key_style() -> impl Strategy<Value = Style> {
    prop_oneof![3 => Just(Style::Plain), 1 => Just(Style::Double)]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["name", "app", "a", "b", "spec", "labels", "app.kubernetes.io/name",
            "LOG_LEVEL", "_x", "x-y", "k8s"][..]).prop_map(str::to_string),
        1 => word(),
    ]
}

pub(super) fn node() -> impl Strategy<Value = Node> {
    let leaf = (word(), style()).prop_map(|(w, s)| Node::Scalar(w, s));
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            (
                prop::collection::vec((key(), key_style(), inner.clone()), 0..5),
                any::<bool>()
            )
                .prop_map(|(entries, flow)| Node::Map(entries, flow)),
            (prop::collection::vec(inner, 0..5), any::<bool>())
                .prop_map(|(items, flow)| Node::List(items, flow)),
        ]
    })
}

/// A stream of one to three documents whose roots are mappings, as template output is.
pub(super) fn stream() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::collection::vec((key(), key_style(), node()), 1..6),
            1..4,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(docs, comments, trailing_newline)| {
            let mut out = String::new();
            for (i, entries) in docs.into_iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                if comments {
                    out.push_str("# generated\n");
                }
                write_block_map(&mut out, &entries, 0);
            }
            if !trailing_newline {
                out.pop();
            }
            out
        })
}

fn scalar(text: &str, style: Style, indent: usize) -> String {
    match style {
        Style::Plain => text.to_string(),
        Style::Double => serde_json::to_string(text).unwrap_or_default(),
        Style::Single => format!("'{}'", text.replace('\'', "''")),
        Style::Literal | Style::Folded => {
            let pad = " ".repeat(indent + 2);
            let mut s = String::from(if matches!(style, Style::Literal) {
                "|"
            } else {
                ">"
            });
            for line in text.split('\n') {
                s.push('\n');
                s.push_str(&pad);
                s.push_str(line);
            }
            s
        }
    }
}

fn write_block_map(out: &mut String, entries: &[(String, Style, Node)], indent: usize) {
    for (k, ks, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(k, *ks, indent));
        out.push(':');
        write_value(out, v, indent);
    }
}

/// The rest of a line after `key:` or `-`, and the lines below it.
fn write_value(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Map(entries, false) if !entries.is_empty() => {
            out.push('\n');
            write_block_map(out, entries, indent + 2);
        }
        Node::List(items, false) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                write_value(out, item, indent + 2);
            }
        }
        Node::Scalar(text, _) if text.is_empty() => out.push('\n'),
        Node::Scalar(text, style) => {
            out.push(' ');
            out.push_str(&scalar(text, *style, indent));
            out.push('\n');
        }
        flow => {
            out.push(' ');
            write_flow(out, flow);
            out.push('\n');
        }
    }
}

fn write_flow(out: &mut String, node: &Node) {
    match node {
        Node::Scalar(text, Style::Plain) => out.push_str(text),
        Node::Scalar(text, Style::Single) => out.push_str(&scalar(text, Style::Single, 0)),
        // Block scalars cannot be written in flow: JSON instead.
        Node::Scalar(text, _) => out.push_str(&scalar(text, Style::Double, 0)),
        Node::Map(entries, _) => {
            out.push('{');
            for (i, (k, ks, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&scalar(k, *ks, 0));
                out.push_str(": ");
                write_flow(out, v);
            }
            out.push('}');
        }
        Node::List(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(out, item);
            }
            out.push(']');
        }
    }
}

/// A JSON value as render writes it: manifests of string keys, strings from `word`, whole
/// numbers, the odd float, nested maps and lists.
pub(super) fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (0..1000u32).prop_map(|n| Value::from(f64::from(n) / 8.0)),
        6 => word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 0..5)
                .prop_map(|e| Value::Object(e.into_iter().collect())),
            prop::collection::vec(inner, 0..5).prop_map(Value::Array),
        ]
    })
}

/// One edit of a generated text, as a person or a template slip makes it: a YAML-significant
/// character inserted or replaced, a character dropped, a line re-indented, duplicated or
/// dropped. Positions are fractions of the text, so that they apply to any text.
#[derive(Debug, Clone)]
pub(super) enum Edit {
    Insert(f64, char),
    Replace(f64, char),
    Delete(f64),
    Indent(f64, i8),
    Duplicate(f64),
    Drop(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    let ch = prop::sample::select(
        &[
            ' ', '\n', '-', ':', '#', '"', '\'', '{', '}', '[', ']', ',', '\\', '|', '>', '&', '*',
            '!', '?', '%', '@', '`', '~', '.', '_', '/', '0', '7', 'a', 'e', 'n', 'o', 'y', '\t',
            '\r', 'é',
        ][..],
    );
    prop_oneof![
        at.clone()
            .prop_flat_map(move |a| ch.clone().prop_map(move |c| Edit::Insert(a, c))),
        (
            at.clone(),
            prop::sample::select(&['-', ':', ' ', '"', '#', '{', '['][..])
        )
            .prop_map(|(a, c)| Edit::Replace(a, c)),
        at.clone().prop_map(Edit::Delete),
        (at.clone(), -3..=3i8).prop_map(|(a, d)| Edit::Indent(a, d)),
        at.clone().prop_map(Edit::Duplicate),
        at.prop_map(Edit::Drop),
    ]
}

/// `stream`, most often as generated, otherwise with one to three edits.
pub(super) fn edited_stream() -> impl Strategy<Value = String> {
    (stream(), prop::collection::vec(edit(), 0..4), any::<bool>()).prop_map(
        |(text, edits, keep)| {
            if keep {
                text
            } else {
                edits.iter().fold(text, |t, e| apply(&t, e))
            }
        },
    )
}

fn apply(text: &str, edit: &Edit) -> String {
    let boundary = |f: f64| {
        let mut at = ((text.len() as f64) * f) as usize;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let count = lines.len();
    let line = |f: f64| ((count as f64 * f) as usize).min(count - 1);
    let mut out = text.to_string();
    match *edit {
        Edit::Insert(f, c) => out.insert(boundary(f), c),
        Edit::Replace(f, _) | Edit::Delete(f) => {
            let at = boundary(f);
            let len = text[at..].chars().next().map_or(0, char::len_utf8);
            let with = match *edit {
                Edit::Replace(_, c) => c.to_string(),
                _ => String::new(),
            };
            out.replace_range(at..at + len, &with);
        }
        Edit::Indent(f, delta) => {
            let l = &mut lines[line(f)];
            let spaces = l.len() - l.trim_start_matches(' ').len();
            let keep = spaces.saturating_add_signed(isize::from(delta));
            *l = format!("{}{}", " ".repeat(keep), l.trim_start_matches(' '));
            out = lines.join("\n");
        }
        Edit::Duplicate(f) => {
            let i = line(f);
            let copy = lines[i].clone();
            lines.insert(i, copy);
            out = lines.join("\n");
        }
        Edit::Drop(f) => {
            lines.remove(line(f));
            out = lines.join("\n");
        }
    }
    out
}

/// A text of `corpus`, with one to three edits.
pub(super) fn edit_all(corpus: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(corpus),
        prop::collection::vec(edit(), 1..4),
    )
        .prop_map(|(text, edits)| edits.iter().fold(text.to_string(), |t, e| apply(&t, e)))
}
