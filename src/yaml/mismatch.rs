//! Type errors in the words of the file's author: what the field takes, what the file has
//! there, and how to fix it.
//!
//! What the file has is read back with the YAML parser, node by node, so a flow mapping's
//! closing `}` or `]` is never part of it (`port: 70000}` was shown before), and what the field
//! takes comes from the caller's schema when it has one: serde-saphyr says `string scalar` for
//! any scalar field that met a list or a mapping, a port included.

use serde_saphyr::granit_parser::{Event, Parser, Span};

use super::{Locator, Path, Segment, first_node, is_presentation};

/// The shape of a YAML node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A single value: a string, a number, a boolean or null.
    Scalar,
    List,
    Mapping,
}

/// What a field takes, in words (`a whole number from 0 to 65535`), and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub words: String,
    pub shape: Shape,
}

impl Wanted {
    pub fn new(words: impl Into<String>, shape: Shape) -> Wanted {
        Wanted {
            words: words.into(),
            shape,
        }
    }
}

/// Says what the field at a path takes, when the caller knows (from its JSON Schema).
pub type Describe<'a> = dyn Fn(&Path) -> Option<Wanted> + 'a;

/// The node a file has at a path: its shape, and its text as written when that fits on one
/// short line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) shape: Shape,
    pub(super) text: Option<String>,
}

/// Longer texts are described by their shape alone: a message is no place for a whole block.
const MAX_SHOWN: usize = 60;

impl Found {
    /// "`70000`", "the list `[1, 2]`", "a mapping".
    pub(super) fn described(&self) -> String {
        let noun = match self.shape {
            Shape::Scalar => "",
            Shape::List => "the list ",
            Shape::Mapping => "the mapping ",
        };
        match (&self.text, self.shape) {
            (Some(text), Shape::Scalar) if text.is_empty() => "nothing (an empty value)".into(),
            (Some(text), _) => format!("{noun}`{text}`"),
            (None, Shape::Scalar) => "a long value".into(),
            (None, Shape::List) => "a list".into(),
            (None, Shape::Mapping) => "a mapping".into(),
        }
    }
}

/// The message and fix of a value of the wrong type or shape.
pub(super) fn message(wanted: &Wanted, found: Option<&Found>) -> (String, Option<String>) {
    let Some(found) = found else {
        return (
            format!("expected {} here", wanted.words),
            Some(format!("write {}", wanted.words)),
        );
    };
    let message = format!("expected {}, found {}", wanted.words, found.described());
    let text = found.text.as_deref();
    let hint = match (wanted.shape, found.shape, text) {
        (Shape::List, Shape::Scalar, Some(one)) if one.contains(' ') && !one.starts_with(['"', '\'']) => {
            let words: Vec<&str> = one.split_whitespace().collect();
            format!(
                "write one item per element: `[{}]` (a command's arguments are items of their own), or `[\"{one}\"]` for one item",
                words.join(", ")
            )
        }
        (Shape::List, Shape::Scalar, Some(one)) if !one.is_empty() => {
            format!("a list of one is written `[{one}]`, or as `- {one}` on the line below")
        }
        (Shape::List, _, _) => {
            "write a list: `[a, b]`, or one `- item` per line below the key".into()
        }
        (Shape::Mapping, _, _) => {
            "write the fields below the key, indented, one `name: value` per line, or as `{name: value}`".into()
        }
        (Shape::Scalar, Shape::List | Shape::Mapping, _) => {
            format!("write one value here, not a {}", shape_noun(found.shape))
        }
        (Shape::Scalar, Shape::Scalar, Some(n)) if wanted.words.contains("whole number") && leading_zero(n) => {
            let plain = n.trim_start_matches('0');
            format!(
                "`{n}` has a leading zero, which YAML 1.1 readers (kubectl) take for an octal number, so it is read as text here: write `{}`",
                if plain.is_empty() { "0" } else { plain }
            )
        }
        (Shape::Scalar, Shape::Scalar, _) => format!("write {}", wanted.words),
    };
    (message, Some(hint))
}

/// `010`: digits after a leading zero.
fn leading_zero(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit())
}

fn shape_noun(shape: Shape) -> &'static str {
    match shape {
        Shape::Scalar => "single value",
        Shape::List => "list",
        Shape::Mapping => "mapping",
    }
}

/// The node of the first document at `path`, when the path leads to one.
pub(super) fn found_at(src: &str, path: &Path) -> Option<Found> {
    let mut parser = Parser::new_from_str(src);
    let (root, span) = first_node(&mut parser)?;
    let mut locator = Locator {
        parser: &mut parser,
    };
    let (node, span) = locator.node(root, span, &path.0)?;
    Some(locator.found(src, node, span))
}

impl<'i> Locator<'_, 'i> {
    pub(super) fn next_spanned(&mut self) -> Option<(Event<'i>, Span)> {
        loop {
            let (event, span) = self.parser.next()?.ok()?;
            if !is_presentation(&event) {
                return Some((event, span));
            }
        }
    }

    /// The event that opens the node at `path` below `node`, and its span.
    pub(super) fn node(
        &mut self,
        node: Event<'i>,
        span: Span,
        path: &[Segment],
    ) -> Option<(Event<'i>, Span)> {
        let Some((first, rest)) = path.split_first() else {
            return Some((node, span));
        };
        match (node, first) {
            (Event::MappingStart(..), Segment::Key(want)) => loop {
                let (key, _) = self.next_spanned()?;
                let matched = match &key {
                    Event::MappingEnd => return None,
                    Event::Scalar(k, ..) => k.as_ref() == want.as_str(),
                    _ => false,
                };
                if !matched {
                    self.skip(key);
                }
                let (value, value_span) = self.next_spanned()?;
                if matched {
                    return self.node(value, value_span, rest);
                }
                self.skip(value);
            },
            (Event::SequenceStart(..), Segment::Index(want)) => {
                for i in 0.. {
                    let (item, item_span) = self.next_spanned()?;
                    if matches!(item, Event::SequenceEnd) {
                        return None;
                    }
                    if i == *want {
                        return self.node(item, item_span, rest);
                    }
                    self.skip(item);
                }
                None
            }
            _ => None,
        }
    }

    /// The shape and text of a node whose opening event is `node`: a collection runs to the
    /// span of its closing event.
    fn found(&mut self, src: &str, node: Event<'i>, span: Span) -> Found {
        let (shape, end) = match node {
            Event::Scalar(..) | Event::Alias(..) => (Shape::Scalar, Some(span.end)),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let shape = if matches!(node, Event::MappingStart(..)) {
                    Shape::Mapping
                } else {
                    Shape::List
                };
                (shape, self.end_of_collection())
            }
            _ => (Shape::Scalar, None),
        };
        let text = end
            .and_then(|end| slice(src, span.start, end))
            .map(str::trim)
            .filter(|t| !t.contains('\n') && t.chars().count() <= MAX_SHOWN)
            .map(str::to_string);
        Found { shape, text }
    }

    /// The end of the collection whose opening event was just read.
    fn end_of_collection(&mut self) -> Option<serde_saphyr::granit_parser::Marker> {
        let mut depth = 1usize;
        loop {
            let (event, span) = self.next_spanned()?;
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(span.end);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The source text between two markers (character offsets, or byte offsets when the parser
/// kept them).
fn slice(
    src: &str,
    start: serde_saphyr::granit_parser::Marker,
    end: serde_saphyr::granit_parser::Marker,
) -> Option<&str> {
    let byte = |m: serde_saphyr::granit_parser::Marker| {
        m.byte_offset().or_else(|| {
            src.char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(src.len()))
                .nth(m.index())
        })
    };
    src.get(byte(start)?..byte(end)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, path: &str) -> Option<Found> {
        let path = Path(
            path.split('.')
                .map(|s| match s.parse() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Key(s.to_string()),
                })
                .collect(),
        );
        found_at(src, &path)
    }

    #[test]
    fn a_flow_value_is_read_without_the_brackets_that_close_around_it() {
        // Issue 13 item 15: `found 70000}` and `found {b: 1}}`.
        let found = at("app: {image: x, port: 70000}\n", "app.port").unwrap();
        assert_eq!(found.described(), "`70000`");
        let found = at("config: {A: {b: 1}}\n", "config.A").unwrap();
        assert_eq!(found.described(), "the mapping `{b: 1}`");
        let found = at("regions: [east, [1, 2]]\n", "regions.1").unwrap();
        assert_eq!(found.described(), "the list `[1, 2]`");
    }

    #[test]
    fn a_quoted_or_multi_line_value_is_shown_as_written_or_by_its_shape() {
        let found = at("a: \"x y\" # note\n", "a").unwrap();
        assert_eq!(found.described(), "`\"x y\"`");
        let found = at("a:\n  b: 1\n  c: 2\n", "a").unwrap();
        assert_eq!(found.described(), "a mapping");
        let found = at("é: [ü, ö]\n", "é").unwrap();
        assert_eq!(found.described(), "the list `[ü, ö]`");
        assert_eq!(at("a: 1\n", "b"), None);
        assert_eq!(
            at("a: 1\nb:\n", "b").unwrap().described(),
            "nothing (an empty value)"
        );
    }
}
