//! The block reader: template output and environment files read line by line, without the
//! general YAML parser, for the shape they almost always have (block mappings and sequences
//! indented with spaces, keys that are plain words or JSON strings, values that are plain
//! words and numbers, JSON strings or one-line flow collections). Anything else is declined
//! and read by serde-saphyr; what it reads, it reads exactly as serde-saphyr does (the
//! differential property test in `fast::tests`).

use serde_json::Value;

use crate::yaml::{AmbiguousScalar, MAX_DEPTH, Position, TemplateOutput, yaml11_non_string};

/// Template output too big for the quick path is left to serde and its budgets.
pub(in crate::yaml) const QUICK_MAX_BYTES: usize = 1 << 20;

/// `documents` and `ambiguous_plain_scalars` of `src` without the general YAML parser, for the
/// shape template output almost always has: block mappings and sequences indented with
/// spaces, keys that are plain words or JSON strings, and values that are plain words and
/// numbers or one-line JSON (`tojson`). `None` for anything else (serde-saphyr then reads it,
/// with its errors); when it reads a text, documents and warnings are exactly serde-saphyr's
/// and `ambiguous_plain_scalars`'.
pub(in crate::yaml) fn block_documents(src: &str) -> Option<TemplateOutput> {
    if src.len() > QUICK_MAX_BYTES || !block_safe_text(src) {
        return None;
    }
    let mut reader = BlockReader {
        lines: Vec::new(),
        next: 0,
        ambiguous: Vec::new(),
    };
    let mut documents = Vec::new();
    let mut lines = src.split('\n').enumerate();
    loop {
        reader.lines.clear();
        let mut separated = false;
        for (index, text) in lines.by_ref() {
            let text = text.trim_end_matches(' ');
            if text == "---" {
                separated = true;
                break;
            }
            let body = text.trim_start_matches(' ');
            if !body.is_empty() && !body.starts_with('#') {
                reader.lines.push(Line {
                    number: index + 1,
                    indent: text.len() - body.len(),
                    text: body,
                });
            }
        }
        // A document of only comments (or nothing) is a null root, which is dropped.
        if let Some(&first) = reader.lines.first() {
            reader.next = 1;
            documents.push(reader.mapping(first, 0)?);
            if reader.next != reader.lines.len() {
                return None;
            }
        }
        if !separated {
            break;
        }
    }
    Some(TemplateOutput {
        documents,
        ambiguous: reader.ambiguous,
    })
}

/// Rules out what the block reader does not reason about: other line breaks (`\r`, and the
/// YAML 1.1 ones), tabs, control and non-printable characters, byte order marks.
fn block_safe_text(src: &str) -> bool {
    let safe = |c: char| match c {
        '\n' | ' '..='~' => true,
        '\0'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    };
    if src.is_ascii() {
        // Without an early exit the loop vectorizes.
        src.bytes().fold(true, |ok, b| {
            ok & ((b == b'\n') | (b' '..=b'~').contains(&b))
        })
    } else {
        src.chars().all(safe)
    }
}

/// A line with content: its 1-based number, its indentation and the rest, trailing spaces
/// trimmed. After `- `, the item's content as a line of its own, indented to its column.
#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

struct BlockReader<'a> {
    /// The lines of one document that are neither blank nor comments.
    lines: Vec<Line<'a>>,
    next: usize,
    ambiguous: Vec<AmbiguousScalar>,
}

impl<'a> BlockReader<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.next).copied()
    }

    /// The node that starts on `line`, which is the line after `key:` or `-` and deeper.
    fn node(&mut self, line: Line<'a>, depth: usize) -> Option<Value> {
        if is_item(line.text) {
            self.sequence(line, depth)
        } else {
            self.mapping(line, depth)
        }
    }

    /// A block mapping whose first key is on `first`; `depth` is how many collections enclose
    /// it, as serde-saphyr's depth budget counts them.
    fn mapping(&mut self, first: Line<'a>, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut map = serde_json::Map::new();
        let mut line = first;
        loop {
            let (key, rest) = block_key(line.text)?;
            if key == "<<" || map.contains_key(&key) {
                return None;
            }
            let text = rest.trim_start_matches(' ');
            let value = if text.is_empty() {
                match self.peek() {
                    Some(next) if next.indent > first.indent => {
                        self.next += 1;
                        self.node(next, depth + 1)?
                    }
                    // YAML lets a mapping's sequence value sit at the key's own indentation.
                    Some(next) if next.indent == first.indent && is_item(next.text) => {
                        self.next += 1;
                        self.sequence(next, depth + 1)?
                    }
                    _ => Value::Null,
                }
            } else {
                self.scalar(line, text, depth + 1)?
            };
            map.insert(key, value);
            match self.peek() {
                Some(next) if next.indent == first.indent => {
                    self.next += 1;
                    line = next;
                }
                // A continuation line, or a misplaced one: the parser decides.
                Some(next) if next.indent > first.indent => return None,
                _ => return Some(Value::Object(map)),
            }
        }
    }

    /// A block sequence whose first `-` is on `first`.
    fn sequence(&mut self, first: Line<'a>, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut items = Vec::new();
        let mut line = first;
        loop {
            let text = line.text.get(1..)?.trim_start_matches(' ');
            let item = if text.is_empty() {
                match self.peek() {
                    Some(next) if next.indent > first.indent => {
                        self.next += 1;
                        self.node(next, depth + 1)?
                    }
                    _ => Value::Null,
                }
            } else if is_item(text) {
                return None;
            } else if block_key(text).is_some() {
                let column = line.indent + line.text.len() - text.len();
                let inner = Line {
                    number: line.number,
                    indent: column,
                    text,
                };
                self.mapping(inner, depth + 1)?
            } else {
                self.scalar(line, text, depth + 1)?
            };
            items.push(item);
            match self.peek() {
                Some(next) if next.indent == first.indent && is_item(next.text) => {
                    self.next += 1;
                    line = next;
                }
                Some(next) if next.indent > first.indent => return None,
                _ => return Some(Value::Array(items)),
            }
        }
    }

    /// A value that ends its line, `text` being that end of `line`: a JSON string, a one-line
    /// flow collection (`flow`), or a plain scalar read as serde-saphyr reads it, its YAML 1.1
    /// ambiguity included.
    fn scalar(&mut self, line: Line<'a>, text: &str, depth: usize) -> Option<Value> {
        let mut at = line.text.len() - text.len();
        if text.starts_with(['"', '{', '[']) {
            let value = if text.starts_with('"') {
                Value::String(quoted(line.text, &mut at)?)
            } else {
                self.flow(line, &mut at, depth)?
            };
            // Only spaces may follow, and the line's were trimmed: a comment is the parser's.
            return (at == line.text.len()).then_some(value);
        }
        let plain = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" -_./:+=~@%,()".contains(&b))
            && !text.contains(": ")
            && !text.ends_with(':');
        if !plain {
            return None;
        }
        self.plain(line, at, text)
    }

    /// The plain scalar `text`, which starts at byte `at` of `line`, as `quick_scalar` reads
    /// it, noting its YAML 1.1 ambiguity where `ambiguous_plain_scalars` notes it: at its start.
    fn plain(&mut self, line: Line<'a>, at: usize, text: &str) -> Option<Value> {
        let value = quick_scalar(text)?;
        if let Value::String(s) = &value
            && let Some(kind) = yaml11_non_string(s)
        {
            // The parser counts columns in characters, and a quoted key may hold any.
            let before = line.text.get(..at)?;
            self.ambiguous.push(AmbiguousScalar {
                position: Position {
                    line: line.number,
                    column: line.indent + before.chars().count() + 1,
                },
                value: s.clone(),
                yaml11_type: kind,
            });
        }
        Some(value)
    }

    /// The flow collection (`{...}` or `[...]`) that opens at byte `*at` of `line` and closes
    /// on the same line, `*at` left after it. Template output writes `tojson` this way and
    /// environment files their short maps and lists. Only the plain subset: entries of scalars
    /// (plain words and numbers, JSON strings) and collections, `key: value` in mappings with
    /// keys as `block_key` takes them; trailing commas, `?`, keys without values, single
    /// quotes, comments and whatever else YAML allows in flow are the parser's.
    fn flow(&mut self, line: Line<'a>, at: &mut usize, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let s = line.text.as_bytes();
        let mapping = *s.get(*at)? == b'{';
        let close = if mapping { b'}' } else { b']' };
        *at += 1;
        skip_spaces(s, at);
        let mut map = serde_json::Map::new();
        let mut items = Vec::new();
        if s.get(*at) != Some(&close) {
            loop {
                if mapping {
                    let key = flow_key(line.text, at)?;
                    if key == "<<" || map.contains_key(&key) {
                        return None;
                    }
                    let value = self.flow_value(line, at, depth + 1)?;
                    map.insert(key, value);
                } else {
                    let item = self.flow_value(line, at, depth + 1)?;
                    items.push(item);
                }
                skip_spaces(s, at);
                match *s.get(*at)? {
                    b',' => {
                        *at += 1;
                        skip_spaces(s, at);
                    }
                    c if c == close => break,
                    // `key: value` in a sequence, a second `:`, a comment: the parser's.
                    _ => return None,
                }
            }
        }
        *at += 1;
        Some(if mapping {
            Value::Object(map)
        } else {
            Value::Array(items)
        })
    }

    /// An entry's value in a flow collection, at byte `*at` of `line`; `*at` is left after it.
    /// An empty one (a trailing comma, `{a: }`) is declined: YAML reads some as null, some
    /// not at all.
    fn flow_value(&mut self, line: Line<'a>, at: &mut usize, depth: usize) -> Option<Value> {
        match line.text.as_bytes().get(*at)? {
            b'{' | b'[' => self.flow(line, at, depth),
            b'"' => quoted(line.text, at).map(Value::String),
            _ => {
                let start = *at;
                let text = flow_plain(line.text, at)?;
                self.plain(line, start, text)
            }
        }
    }
}

fn skip_spaces(s: &[u8], at: &mut usize) {
    while s.get(*at) == Some(&b' ') {
        *at += 1;
    }
}

/// The JSON string that starts at byte `*at` of `text`, `*at` left after its closing quote.
/// JSON escapes are a subset of YAML's and mean the same there; a string without escapes is
/// the text between the quotes (the block reader's text holds no control characters).
fn quoted(text: &str, at: &mut usize) -> Option<String> {
    let rest = text.get(*at..)?;
    let body = rest.get(1..)?;
    let end = body.find(['"', '\\'])?;
    if body.as_bytes()[end] == b'"' {
        *at += end + 2;
        return Some(body[..end].to_string());
    }
    let mut strings = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    let string = strings.next()?.ok()?;
    *at += strings.byte_offset();
    Some(string)
}

/// The plain scalar that starts at byte `*at` of `text`, in flow context, `*at` left after
/// it and its trailing spaces trimmed from it: the block reader's plain characters but the
/// flow indicators, which end it, as does a `:` that is not followed by a plain character.
/// `None` for other characters, and for an empty scalar.
fn flow_plain<'t>(text: &'t str, at: &mut usize) -> Option<&'t str> {
    let s = text.as_bytes();
    let start = *at;
    while let Some(&b) = s.get(*at) {
        match b {
            b',' | b']' | b'}' => break,
            b':' if matches!(
                s.get(*at + 1),
                None | Some(b' ' | b',' | b'[' | b']' | b'{' | b'}')
            ) =>
            {
                break;
            }
            _ if b.is_ascii_alphanumeric() || b" -_./:+=~@%()".contains(&b) => *at += 1,
            _ => return None,
        }
    }
    let plain = text.get(start..*at)?.trim_end_matches(' ');
    (!plain.is_empty()).then_some(plain)
}

/// A key and its `:` in a flow mapping, from byte `*at` of `text`, `*at` left at the value:
/// a plain word as `block_key` takes it, followed by `: `, or a JSON string followed by `:`
/// (JSON-like keys may have their value right after the colon).
fn flow_key(text: &str, at: &mut usize) -> Option<String> {
    let s = text.as_bytes();
    let start = *at;
    let key = if s.get(*at) == Some(&b'"') {
        quoted(text, at)?
    } else {
        let word = flow_plain(text, at)?;
        let ok = word.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
        if !ok || special_word(word) {
            return None;
        }
        word.to_string()
    };
    if *at - start > MAX_KEY_BYTES {
        return None;
    }
    let plain = s[start] != b'"';
    skip_spaces(s, at);
    if s.get(*at) != Some(&b':') {
        return None;
    }
    *at += 1;
    if plain && s.get(*at) != Some(&b' ') {
        return None;
    }
    skip_spaces(s, at);
    Some(key)
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// YAML limits implicit keys to 1024 characters; real keys are far shorter than this, and a
/// JSON key of this many bytes cannot be written in more than 1024 (six per `\\uXXXX`).
const MAX_KEY_BYTES: usize = 128;

/// Splits `key: rest` (or `key:`) when the key is a plain word that reads as a string, or a
/// JSON string.
fn block_key(text: &str) -> Option<(String, &str)> {
    let (key, rest) = if text.starts_with('"') {
        let mut strings = serde_json::Deserializer::from_str(text).into_iter::<String>();
        let key = strings.next()?.ok()?;
        (key, text.get(strings.byte_offset()..)?)
    } else {
        let end = text.find(':')?;
        let key = text.get(..end)?;
        let word = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
        // As `quick_scalar`, which reads such a word as a string unless it is special.
        if !word || special_word(key) {
            return None;
        }
        (key.to_string(), text.get(end..)?)
    };
    let rest = rest.strip_prefix(':')?;
    let short = text.len() - rest.len() <= MAX_KEY_BYTES;
    (short && (rest.is_empty() || rest.starts_with(' '))).then_some((key, rest))
}

/// What serde (with `options()`) makes of a plain scalar, when that is plain to see: `null`,
/// `~` and nothing are null, `true` and `false` booleans, decimal integers without a leading
/// zero numbers, and strings: a word that starts with a letter and is none of those (nor
/// `inf` or `nan` in any case), a path (`/healthz`) or a name (`_defaults.yaml`), and a quantity (`250m`, `256Mi`, `720h`:
/// a digit first, and a letter no number syntax uses). `None` for the rest (floats, octal,
/// `True`, `.inf`, ...).
pub(in crate::yaml) fn quick_scalar(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" => return Some(Value::Null),
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_alphabetic() {
        return (!special_word(text)).then(|| Value::String(text.to_string()));
    }
    // Kubernetes quantities and durations, and paths, fill environment files. No integer or
    // float syntax (hex, octal, binary, exponents, `inf`, `nan`) has the letters below.
    let unit = |b: u8| b.is_ascii_alphabetic() && !b"abcdefinoxABCDEFINOX".contains(&b);
    if first == b'/' || first == b'_' || (first.is_ascii_digit() && text.bytes().any(unit)) {
        return Some(Value::String(text.to_string()));
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let decimal = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !decimal {
        return None;
    }
    match text.strip_prefix('-') {
        Some(_) if digits == "0" => None,
        Some(_) => text.parse::<i64>().ok().map(Value::from),
        None => text.parse::<u64>().ok().map(Value::from),
    }
}

/// A word serde reads as something other than a string, in some case (`True`, `NULL`, `Inf`).
fn special_word(text: &str) -> bool {
    ["true", "false", "null", "inf", "infinity", "nan"]
        .iter()
        .any(|w| text.eq_ignore_ascii_case(w))
}
