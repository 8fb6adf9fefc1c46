//! The one door to YAML: strict parsing with located errors, and canonical, YAML-1.1-safe emission.
//!
//! Reading uses YAML 1.2 resolution with the YAML 1.1 traps turned into strings (`on`, `0777`,
//! `1_000` stay strings), because templates and people mean text there. Writing quotes every
//! string a YAML 1.1 reader (kubectl, the API server) could take for a bool, number, date or null.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

mod emit;

/// Where in a YAML text something is (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One step of a path into a YAML document (`spec.regions[1].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path into a YAML document, displayed as `spec.regions[1].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn key(&self, key: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_string()));
        p
    }

    pub fn index(&self, index: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }

    pub fn parent(&self) -> Path {
        let mut p = self.clone();
        p.0.pop();
        p
    }

    fn from_serde(path: &serde_path_to_error::Path) -> Path {
        use serde_path_to_error::Segment as S;
        Path(
            path.iter()
                .filter_map(|s| match s {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } => Some(Segment::Key(key.clone())),
                    S::Enum { variant } => Some(Segment::Key(variant.clone())),
                    S::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML text that could not be read into the expected shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{position}: {path}: {message}")]
pub struct YamlError {
    pub position: Position,
    pub path: Path,
    pub message: String,
    /// A suggested fix, such as the field name the author probably meant.
    pub hint: Option<String>,
}

/// Nesting deeper than this is refused before serde sees it: no real manifest nests this deep,
/// and unbounded recursion is how a hostile file takes the process down.
const MAX_DEPTH: usize = 64;

fn options() -> serde_saphyr::Options {
    // Manifests reuse anchors rarely and never thousands of times; a tight replay budget makes
    // an alias bomb fail in milliseconds instead of seconds.
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    serde_saphyr::options! {
        alias_limits: alias_limits,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
        budget: serde_saphyr::budget! {
            max_events: 2_000_000,
            max_depth: MAX_DEPTH,
            max_nodes: 1_000_000,
            max_total_scalar_bytes: 64 * 1024 * 1024,
        },
    }
}

/// Reads one YAML document into `T`, strictly: unknown fields, wrong types and duplicate keys
/// are errors that carry the path and the position of the offending node.
pub fn from_str<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    // Environment files are mostly of the block reader's shape, and reading each through the
    // general parser and serde was an eighth of a full render. Whatever the quick read cannot
    // take (other shapes, wrong types, unknown fields) goes the way it always went, so every
    // error keeps its located message.
    if let Some(value) = from_str_quick(src) {
        return Ok(value);
    }
    from_str_via_serde(src)
}

/// `from_str` when the block reader reads `src` as one document and `T` takes that document
/// as `Strict` gives it; `None` otherwise. Where it gives a value, it is serde's: the block
/// reader reads as serde does, and `Strict` offers each node only in the form serde-saphyr
/// offers it (see there).
fn from_str_quick<T: DeserializeOwned>(src: &str) -> Option<T> {
    // serde-saphyr refuses a second document even when it is empty, which the block reader
    // drops: only a first `---` is left to it.
    let body = src.strip_prefix("---\n").unwrap_or(src);
    if body.starts_with("---") || body.contains("\n---") {
        return None;
    }
    let read = block_documents(src)?;
    let [document]: [Value; 1] = read.documents.try_into().ok()?;
    T::deserialize(Strict(document)).ok()
}

/// The strict body of `from_str`: serde-saphyr, its path tracked for located errors.
fn from_str_via_serde<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    let mut track = serde_path_to_error::Track::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(src, options(), |de| {
        T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    });
    result.map_err(|err| {
        // Malformed YAML is reported as such, not as the confusing field error serde may have
        // made of it. Only on failure: serde reads the whole stream with the same parser, so a
        // syntax error anywhere fails it too, and a second parse of every good file cost a
        // tenth of a no-change render.
        if let Err(syntax) = check_syntax(src) {
            return syntax;
        }
        let path = Path::from_serde(&track.path());
        located_error(src, path, &err)
    })
}

/// A document the block reader read, as a deserializer that offers each node in the one form
/// a YAML text gives it: a mapping only as a map (serde_json's `Value` also lets a struct be
/// read from a sequence), an enum only as a unit variant's name (`Value` also takes a
/// one-key map), an option as none only for null. Everything else is `deserialize_any`,
/// which sees what serde-saphyr's does, as `plain_documents` sees it, so self-describing
/// targets (untagged enums, `flatten`, `Value` fields) get the same content. Stricter than
/// needed is fine: a refusal only sends the text to serde-saphyr.
struct Strict(Value);

type StrictError = serde::de::value::Error;

impl<'de> serde::Deserializer<'de> for Strict {
    type Error = StrictError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        use serde::de::value::{MapDeserializer, SeqDeserializer};
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(n), _) => visitor.visit_u64(n),
                (None, Some(n)) => visitor.visit_i64(n),
                // The block reader reads no floats.
                _ => Err(serde::de::Error::custom("a float")),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(map) => {
                let mut map = MapDeserializer::new(map.into_iter().map(|(k, v)| (k, Strict(v))));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            _ => Err(serde::de::Error::custom("not a mapping")),
        }
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        use serde::de::IntoDeserializer;
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            _ => Err(serde::de::Error::custom("not a variant name")),
        }
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

impl<'de> serde::de::IntoDeserializer<'de, StrictError> for Strict {
    type Deserializer = Strict;

    fn into_deserializer(self) -> Strict {
        self
    }
}

fn check_syntax(src: &str) -> Result<(), YamlError> {
    for event in Parser::new_from_str(src) {
        if let Err(e) = event {
            return Err(YamlError {
                position: pos(e.marker()),
                path: Path::default(),
                message: format!("malformed YAML: {}", e.info()),
                hint: Some(
                    "check the indentation and that every bracket and quote is closed".into(),
                ),
            });
        }
    }
    Ok(())
}

fn located_error(src: &str, path: Path, err: &serde_saphyr::Error) -> YamlError {
    let raw = err.without_snippet().to_string();
    // serde-saphyr prefixes its own "line L column C:"; we print our own, more precise one.
    let message = strip_location_prefix(&raw).to_string();
    let fallback = err.location().map(|l| Position {
        line: l.line() as usize,
        column: l.column() as usize,
    });
    let unknown = unknown_field(&message);
    // For an unknown field the interesting node is the key itself, one level below the path.
    let is_variant = message.starts_with("unknown variant");
    let located_path: Path = match &unknown {
        Some(_) if is_variant => path.clone(),
        Some((field, _)) if path.0.last() != Some(&Segment::Key(field.clone())) => path.key(field),
        Some(_) => path.clone(),
        None => path.clone(),
    };
    let position = locate(src, &located_path)
        .filter(|_| !located_path.0.is_empty())
        .or(fallback)
        .unwrap_or(Position { line: 1, column: 1 });
    let hint = match unknown {
        Some((field, expected)) => did_you_mean(&field, &expected),
        None => type_hint(&message, src, position),
    };
    let message = if message.starts_with("duplicate mapping key") {
        message
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(&message)
            .to_string()
    } else {
        message
    };
    YamlError {
        position,
        path: located_path,
        message,
        hint,
    }
}

fn strip_location_prefix(s: &str) -> &str {
    let s = s.strip_prefix("error: ").unwrap_or(s);
    // And its suffix form, "... at line L column C" / "at line L, column C".
    let s = match s.rfind(" at line ") {
        Some(i)
            if s[i + 9..]
                .bytes()
                .all(|c| c.is_ascii_digit() || b" ,column".contains(&c)) =>
        {
            &s[..i]
        }
        _ => s,
    };
    if let Some(rest) = s.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains(" column ")
    {
        return &rest[idx + 2..];
    }
    s
}

/// Picks the field name and the accepted names out of serde's "unknown field" message.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split_once("expected ")
        .map(|(_, list)| {
            list.trim_start_matches("one of ")
                .split(", ")
                .map(|s| s.trim_matches(['`', ' ']).to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some((field.to_string(), expected))
}

/// The closest accepted name, when it is close enough to be a likely typo.
pub fn did_you_mean(field: &str, expected: &[String]) -> Option<String> {
    let best = expected
        .iter()
        .map(|e| (strsim::jaro_winkler(field, e), e))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    (best.0 >= 0.8).then(|| format!("did you mean `{}`?", best.1))
}

/// Says in words what a type error wanted, with the text that was found.
fn type_hint(message: &str, src: &str, at: Position) -> Option<String> {
    let found = src
        .lines()
        .nth(at.line.saturating_sub(1))
        .and_then(|l| l.get(at.column.saturating_sub(1)..))
        .map(|s| s.split(" #").next().unwrap_or(s).trim())
        // The position may be the key of the entry: show only its value.
        .map(|s| s.split_once(": ").map_or(s, |(_, v)| v.trim()))
        .unwrap_or_default();
    let wanted = match message {
        m if m.contains("u8") || m.contains("u16") || m.contains("u32") || m.contains("u64") => {
            "a whole number such as `3`"
        }
        m if m.contains("expected a string") || m.contains("string") => "a string",
        m if m.contains("sequence") => "a list such as `[a, b]`",
        m if m.contains("map") || m.contains("struct") => "a mapping of fields",
        m if m.contains("variant") => return None,
        _ => return None,
    };
    Some(format!("expected {wanted} here, found `{found}`"))
}

/// Finds the position of the node at `path`: for a mapping entry, its key. When the path
/// leaves the document early, the deepest node reached is returned.
pub fn locate(src: &str, path: &Path) -> Option<Position> {
    let mut parser = Parser::new_from_str(src);
    // Skip to the first node of the first document.
    loop {
        let (event, span) = parser.next()?.ok()?;
        match event {
            Event::StreamStart | Event::DocumentStart(..) => continue,
            ref e if is_presentation(e) => continue,
            Event::StreamEnd | Event::DocumentEnd => return None,
            first => {
                let here = pos(&span.start);
                return Some(
                    Locator {
                        parser: &mut parser,
                    }
                    .find(first, here, &path.0),
                );
            }
        }
    }
}

/// Comments and anchor metadata: events that are not nodes.
fn is_presentation(event: &Event<'_>) -> bool {
    matches!(event, Event::Comment(..) | Event::Anchor(..))
}

fn pos(m: &serde_saphyr::granit_parser::Marker) -> Position {
    Position {
        line: m.line(),
        column: m.col() + 1,
    }
}

struct Locator<'p, 'i> {
    parser: &'p mut Parser<'i, serde_saphyr::granit_parser::StrInput<'i>>,
}

impl<'i> Locator<'_, 'i> {
    fn next(&mut self) -> Option<(Event<'i>, Position)> {
        loop {
            let (event, span) = self.parser.next()?.ok()?;
            if !is_presentation(&event) {
                return Some((event, pos(&span.start)));
            }
        }
    }

    /// `node` is the event that opened the current node, at `here`.
    fn find(&mut self, node: Event<'i>, here: Position, path: &[Segment]) -> Position {
        let Some((first, rest)) = path.split_first() else {
            return here;
        };
        match (node, first) {
            (Event::MappingStart(..), Segment::Key(want)) => loop {
                let Some((key, key_pos)) = self.next() else {
                    return here;
                };
                let matched = match &key {
                    Event::MappingEnd => return here,
                    Event::Scalar(k, ..) => k.as_ref() == want.as_str(),
                    _ => false,
                };
                if !matched {
                    self.skip(key);
                }
                let Some((value, value_pos)) = self.next() else {
                    return here;
                };
                if matched {
                    return if rest.is_empty() {
                        key_pos
                    } else {
                        self.find(value, value_pos, rest)
                    };
                }
                self.skip(value);
            },
            (Event::SequenceStart(..), Segment::Index(want)) => {
                let mut i = 0;
                loop {
                    let Some((item, item_pos)) = self.next() else {
                        return here;
                    };
                    if matches!(item, Event::SequenceEnd) {
                        return here;
                    }
                    if i == *want {
                        return self.find(item, item_pos, rest);
                    }
                    self.skip(item);
                    i += 1;
                }
            }
            _ => here,
        }
    }

    fn skip(&mut self, node: Event<'i>) {
        let mut depth = match node {
            Event::MappingStart(..) | Event::SequenceStart(..) => 1usize,
            _ => return,
        };
        while depth > 0 {
            match self.next() {
                Some((Event::MappingStart(..) | Event::SequenceStart(..), _)) => depth += 1,
                Some((Event::MappingEnd | Event::SequenceEnd, _)) => depth -= 1,
                Some(_) => {}
                None => return,
            }
        }
    }
}

/// Parses a multi-document YAML stream (template output) into JSON values. Empty documents
/// (only comments, or nothing between `---` markers) are dropped.
pub fn documents(src: &str) -> Result<Vec<Value>, YamlError> {
    if let Some(docs) = plain_documents(src, None) {
        return Ok(docs);
    }
    documents_via_serde(src)
}

/// A template's output read: its documents (as `documents`) and its YAML 1.1 ambiguities (as
/// `ambiguous_plain_scalars`).
#[derive(Debug)]
pub struct TemplateOutput {
    pub documents: Vec<Value>,
    pub ambiguous: Vec<AmbiguousScalar>,
}

/// `documents` and `ambiguous_plain_scalars` of one text, from one parse when the text takes
/// the quick path: the second parse (and its line pre-scan) was a tenth of a full render.
pub fn template_output(src: &str) -> Result<TemplateOutput, YamlError> {
    if let Some(read) = block_documents(src) {
        return Ok(read);
    }
    let mut ambiguous = Vec::new();
    if let Some(documents) = plain_documents(src, Some(&mut ambiguous)) {
        return Ok(TemplateOutput {
            documents,
            ambiguous,
        });
    }
    let documents = documents_via_serde(src)?;
    Ok(TemplateOutput {
        documents,
        ambiguous: ambiguous_plain_scalars(src),
    })
}

/// Template output too big for the quick path is left to serde and its budgets.
const QUICK_MAX_BYTES: usize = 1 << 20;

/// `documents` for the usual shape of template output, straight from the parser's events:
/// mappings of string keys, sequences, and untagged, unanchored scalars whose type is plain to
/// see (`quick_scalar`). `None` for anything else, malformed text included: serde then decides,
/// with its errors. Parsing every template output through serde was a third of a full render.
/// With `ambiguous`, also collects what `ambiguous_plain_scalars` finds, in the same order.
fn plain_documents(
    src: &str,
    mut ambiguous: Option<&mut Vec<AmbiguousScalar>>,
) -> Option<Vec<Value>> {
    enum Frame {
        Seq(Vec<Value>),
        Map(serde_json::Map<String, Value>, Option<String>),
    }
    fn place(stack: &mut [Frame], root: &mut Option<Value>, value: Value) -> Option<()> {
        match stack.last_mut() {
            None if root.is_none() => *root = Some(value),
            None => return None,
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => {
                map.insert(key.take()?, value);
            }
        }
        Some(())
    }
    if src.len() > QUICK_MAX_BYTES {
        return None;
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    for event in Parser::new_from_str(src) {
        let (event, span) = event.ok()?;
        let in_key_position = matches!(stack.last(), Some(Frame::Map(_, None)));
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Comment(..) => {}
            Event::DocumentStart(_, version) => {
                if version.is_some() || root.is_some() || !stack.is_empty() {
                    return None;
                }
            }
            Event::DocumentEnd => match root.take() {
                None | Some(Value::Null) => {}
                Some(v @ Value::Object(_)) => docs.push(v),
                // Not an object: serde's path gives the same error, with its wording.
                Some(_) => return None,
            },
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                let value = if style == ScalarStyle::Plain {
                    let value = quick_scalar(&text)?;
                    if let Some(found) = ambiguous.as_deref_mut()
                        && !in_key_position
                        && let Value::String(s) = &value
                        && let Some(kind) = yaml11_non_string(s)
                    {
                        found.push(AmbiguousScalar {
                            position: pos(&span.start),
                            value: s.clone(),
                            yaml11_type: kind,
                        });
                    }
                    value
                } else {
                    Value::String(text.into_owned())
                };
                if in_key_position {
                    let Value::String(key) = value else {
                        return None;
                    };
                    let Some(Frame::Map(map, slot)) = stack.last_mut() else {
                        return None;
                    };
                    // Merge keys and duplicates are serde's to handle (or refuse).
                    if key == "<<" || map.contains_key(&key) {
                        return None;
                    }
                    *slot = Some(key);
                } else {
                    place(&mut stack, &mut root, value)?;
                }
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() || in_key_position || stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(Vec::new()),
                    _ => Frame::Map(serde_json::Map::new(), None),
                });
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq(items)) = stack.pop() else {
                    return None;
                };
                place(&mut stack, &mut root, Value::Array(items))?;
            }
            Event::MappingEnd => {
                let Some(Frame::Map(map, None)) = stack.pop() else {
                    return None;
                };
                place(&mut stack, &mut root, Value::Object(map))?;
            }
            // Aliases, anchors, and whatever a later parser version adds.
            _ => return None,
        }
    }
    (stack.is_empty() && root.is_none()).then_some(docs)
}

/// `plain_documents` without the general YAML parser, for the shape template output almost
/// always has: block mappings and sequences indented with spaces, keys that are plain words or
/// JSON strings, and values that are plain words and numbers or one-line JSON (`tojson`).
/// `None` for anything else, and for anything `plain_documents` would refuse; when it reads a
/// text, documents and warnings are exactly those of `plain_documents`. It exists for speed:
/// reading template output through the general parser, mostly its scanner, was a fifth to a
/// quarter of a full render, and this reads the usual shape five times faster.
fn block_documents(src: &str) -> Option<TemplateOutput> {
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
    /// it, as `plain_documents` counts them.
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
    /// flow collection (`flow`), or a plain scalar read as `plain_documents` reads it, its YAML
    /// 1.1 ambiguity included.
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
    /// it, noting its YAML 1.1 ambiguity where `plain_documents` notes it: at its start.
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
fn quick_scalar(text: &str) -> Option<Value> {
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

fn documents_via_serde(src: &str) -> Result<Vec<Value>, YamlError> {
    let docs: Result<Vec<Option<Value>>, _> =
        serde_saphyr::from_multiple_with_options(src, options());
    match docs {
        Ok(docs) => Ok(docs
            .into_iter()
            .flatten()
            .filter(|d| !d.is_null())
            .collect()),
        Err(err) => Err(located_error(src, Path::default(), &err)),
    }
}

/// A plain scalar in a YAML text that this reader takes as a string but a YAML 1.1 reader
/// (kubectl, the API server) would take as something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbiguousScalar {
    pub position: Position,
    pub value: String,
    /// What a YAML 1.1 reader makes of it: "boolean", "null", "integer", "float" or "timestamp".
    pub yaml11_type: &'static str,
}

/// Lists the plain scalars in value position whose meaning differs between this reader and a
/// YAML 1.1 reader. Mapping keys are left out: Kubernetes keys are field names.
pub fn ambiguous_plain_scalars(src: &str) -> Vec<AmbiguousScalar> {
    // Parsing every template output a second time cost a sixth of a render; most outputs
    // (their `{{ }}` JSON-escaped) hold no candidate token at all, so look before parsing.
    if !src.lines().any(line_has_candidate) {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut parser = Parser::new_from_str(src);
    // For each open collection: is it a mapping, and is the next scalar in it a key?
    let mut stack: Vec<(bool, bool)> = Vec::new();
    while let Some(Ok((event, span))) = parser.next() {
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                flip_key(&mut stack);
                stack.push((matches!(event, Event::MappingStart(..)), true));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, style, ..) => {
                let is_key = matches!(stack.last(), Some((true, true)));
                flip_key(&mut stack);
                if is_key || style != ScalarStyle::Plain {
                    continue;
                }
                if let Some(kind) = yaml11_non_string(&value)
                    && reads_as_string(&value)
                {
                    found.push(AmbiguousScalar {
                        position: pos(&span.start),
                        value: value.into_owned(),
                        yaml11_type: kind,
                    });
                }
            }
            Event::Alias(..) => flip_key(&mut stack),
            _ => {}
        }
    }
    found
}

/// Whether a line holds an unquoted token that a YAML 1.1 reader reads as something other
/// than a string while this reader might read it as a string. Over-inclusive on purpose: the
/// parse that follows decides.
fn line_has_candidate(line: &str) -> bool {
    let mut plain = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if q == '"' && c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                plain.push(' ');
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                plain.push(' ');
            }
            None if c == '#' => break,
            None => plain.push(c),
        }
    }
    plain
        .split(|c: char| c.is_whitespace() || ",[]{}".contains(c))
        .map(|t| t.trim_end_matches(':'))
        .filter(|t| !t.is_empty() && *t != "-")
        .any(|t| yaml11_non_string(t).is_some() && !plain_in_yaml12(t))
}

/// Tokens both readers agree are not strings: core-schema booleans, nulls and plain decimals.
fn plain_in_yaml12(t: &str) -> bool {
    if matches!(
        t,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "null" | "Null" | "NULL" | "~"
    ) {
        return true;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    !leading_zero
        && !t.contains('_')
        && (t.parse::<i64>().is_ok() || (t.contains('.') && t.parse::<f64>().is_ok()))
}

fn flip_key(stack: &mut [(bool, bool)]) {
    if let Some((true, next_is_key)) = stack.last_mut() {
        *next_is_key = !*next_is_key;
    }
}

/// Whether our reader takes this plain scalar as a string.
fn reads_as_string(s: &str) -> bool {
    matches!(
        serde_saphyr::from_str_with_options::<Value>(s, options()),
        Ok(Value::String(_))
    )
}

/// What a YAML 1.1 reader resolves a plain scalar to, when it is not a string.
/// Follows the YAML 1.1 type repository (bool, null, int, float, timestamp).
pub fn yaml11_non_string(s: &str) -> Option<&'static str> {
    const BOOLS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ];
    if BOOLS.contains(&s) {
        return Some("boolean");
    }
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        return Some("null");
    }
    if is_yaml11_int(s) {
        return Some("integer");
    }
    if is_yaml11_float(s) {
        return Some("float");
    }
    if is_yaml11_timestamp(s) {
        return Some("timestamp");
    }
    None
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(f)
}

fn is_sexagesimal_tail(s: &str) -> bool {
    // (:[0-5]?[0-9])+
    let mut parts = s.split(':');
    if parts.next() != Some("") {
        return false;
    }
    let mut n = 0;
    for p in parts {
        n += 1;
        let ok = match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    n > 0
}

fn is_yaml11_int(s: &str) -> bool {
    let u = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(b) = u.strip_prefix("0b") {
        return all(b, |c| c == b'0' || c == b'1' || c == b'_');
    }
    if let Some(x) = u.strip_prefix("0x") {
        return all(x, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    if u == "0" {
        return true;
    }
    if let Some(o) = u.strip_prefix('0') {
        return all(o, |c| (b'0'..=b'7').contains(&c) || c == b'_');
    }
    // [1-9][0-9_]* optionally followed by base-60 parts.
    let (head, tail) = match u.find(':') {
        Some(i) => (&u[..i], &u[i..]),
        None => (u, ""),
    };
    let head_ok = head
        .as_bytes()
        .first()
        .is_some_and(|c| (b'1'..=b'9').contains(c))
        && all(head, |c| c.is_ascii_digit() || c == b'_');
    head_ok && (tail.is_empty() || is_sexagesimal_tail(tail))
}

fn is_yaml11_float(s: &str) -> bool {
    let u = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(u, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    if let Some(colon) = u.find(':')
        && let Some(dot) = u.rfind('.')
        && colon < dot
    {
        let head = &u[..colon];
        return head.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && all(head, |c| c.is_ascii_digit() || c == b'_')
            && is_sexagesimal_tail(&u[colon..dot])
            && u[dot + 1..]
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'_');
    }
    // ([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?
    let (mantissa, exponent) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    if let Some(e) = exponent {
        let Some(digits) = e.strip_prefix(['-', '+']) else {
            return false;
        };
        if !all(digits, |c| c.is_ascii_digit()) {
            return false;
        }
    }
    let Some(dot) = mantissa.find('.') else {
        return false;
    };
    let whole = &mantissa[..dot];
    let frac = &mantissa[dot + 1..];
    (whole.is_empty()
        || (whole.as_bytes()[0].is_ascii_digit()
            && all(whole, |c| c.is_ascii_digit() || c == b'_')))
        && frac.bytes().all(|c| c.is_ascii_digit() || c == b'.')
}

fn is_yaml11_timestamp(s: &str) -> bool {
    // [0-9]{4}-[0-9]{1,2}-[0-9]{1,2} and the longer forms that start with it.
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let mut parts = rest.splitn(2, '-');
    let month = parts.next().unwrap_or("");
    let Some(day_and_time) = parts.next() else {
        return false;
    };
    let day_len = day_and_time.bytes().take_while(u8::is_ascii_digit).count();
    let ok_len = |p: &str| (1..=2).contains(&p.len()) && all(p, |c| c.is_ascii_digit());
    ok_len(month) && (1..=2).contains(&day_len) && {
        let after = &day_and_time[day_len..];
        after.is_empty() || after.starts_with(['T', 't', ' ', '\t'])
    }
}

/// A JSON value written in canonical order: `apiVersion`, `kind`, `metadata` first at the top,
/// every other mapping sorted by key, whatever order the map itself keeps.
struct Canonical<'a> {
    value: &'a Value,
    top: bool,
}

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|a, b| {
                    let rank = |k: &str| if self.top { top_level_rank(k) } else { 3 };
                    rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
                });
                let mut m = serializer.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(
                        k,
                        &Canonical {
                            value: &map[k],
                            top: false,
                        },
                    )?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut s = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    s.serialize_element(&Canonical {
                        value: item,
                        top: false,
                    })?;
                }
                s.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Writes one object as canonical YAML: stable key order, two-space indent, LF line ends,
/// one trailing newline, literal blocks for multi-line strings and YAML-1.1-safe quoting.
pub fn to_canonical(value: &Value) -> String {
    emit::canonical(value, top_level_rank).unwrap_or_else(|| canonical_via_serde(value))
}

/// The order of a manifest's top-level keys: `apiVersion`, `kind`, `metadata`, then the rest
/// by name (ties are broken by name).
fn top_level_rank(key: &str) -> u8 {
    match key {
        "apiVersion" => 0,
        "kind" => 1,
        "metadata" => 2,
        _ => 3,
    }
}

/// The canonical form as serde-saphyr writes it: the reference `emit` must agree with, and
/// what the values `emit` declines are written with.
fn canonical_via_serde(value: &Value) -> String {
    // Serializing a JSON value cannot fail: every key is a string and every number finite.
    let mut out = emit_with_options(&Canonical { value, top: true })
        .unwrap_or_else(|| unreachable!("a JSON value always serializes to YAML"));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// serde-saphyr with the canonical form's options.
fn emit_with_options<T: Serialize>(value: &T) -> Option<String> {
    let opts = serde_saphyr::ser_options! {
        indent_step: 2,
        // Folded scalars re-wrap long lines; a byte-stable diff wants them left alone.
        folded_wrap_chars: usize::MAX,
        prefer_block_scalars: true,
    };
    serde_saphyr::to_string_with_options(value, opts).ok()
}

/// Writes a value as YAML in its own key order (for reports and index files).
/// `to_string` of a struct whose fields (and those of the structs in it) `rank` orders as
/// they are declared, written directly where `emit` can (see `to_canonical`).
pub fn to_string_in_order<T: Serialize>(value: &T, rank: fn(&str) -> u8) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| emit::in_order(&v, rank))
        .unwrap_or_else(|| to_string(value))
}

pub fn to_string<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| unreachable!("report serializes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_non_strings_are_recognised() {
        for (s, t) in [
            ("on", "boolean"),
            ("NO", "boolean"),
            ("y", "boolean"),
            ("~", "null"),
            ("null", "null"),
            ("0777", "integer"),
            ("1_000", "integer"),
            ("12:30", "integer"),
            ("0x1F", "integer"),
            ("1.5", "float"),
            (".inf", "float"),
            ("-.inf", "float"),
            ("190:20:30.15", "float"),
            ("2024-01-01", "timestamp"),
            ("2001-12-14t21:59:43.10-05:00", "timestamp"),
        ] {
            assert_eq!(yaml11_non_string(s), Some(t), "{s}");
        }
        for s in [
            "1e3", "info", "eastus2", "12:60", "v1.2.3", "1.2.3.4x", "2024-1",
        ] {
            assert_eq!(yaml11_non_string(s), None, "{s}");
        }
    }

    #[test]
    fn canonical_output_quotes_every_yaml11_trap() {
        let traps = [
            "on",
            "off",
            "yes",
            "no",
            "NO",
            "y",
            "n",
            "~",
            "null",
            "2024-01-01",
            "12:30",
            "0777",
            "1_000",
            "1e3",
            ".inf",
        ];
        let mut data = serde_json::Map::new();
        for (i, t) in traps.iter().enumerate() {
            data.insert(format!("k{i:02}"), Value::String(t.to_string()));
        }
        let out = to_canonical(&Value::Object(data));
        for (line, t) in out.lines().zip(traps) {
            assert!(
                line.ends_with(&format!("\"{t}\"")) || line.ends_with(&format!("'{t}'")),
                "{line} should quote {t}"
            );
        }
    }

    #[test]
    fn canonical_order_puts_identity_first_and_sorts_the_rest() {
        let v: Value = serde_json::json!({"spec": {"b": 1, "a": 2}, "metadata": {"name": "x"}, "kind": "K", "apiVersion": "v1", "data": {}});
        assert_eq!(
            to_canonical(&v),
            "apiVersion: v1\nkind: K\nmetadata:\n  name: x\ndata: {}\nspec:\n  a: 2\n  b: 1\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let v = serde_json::json!({"a": "line1\nline2\n"});
        assert_eq!(to_canonical(&v), "a: |\n  line1\n  line2\n");
    }

    #[test]
    fn unknown_field_points_at_the_key_with_a_suggestion() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            replicas: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            app: Inner,
        }
        let err = from_str::<Outer>("app:\n  replica: 3\n").unwrap_err();
        assert_eq!(err.position, Position { line: 2, column: 3 });
        assert_eq!(err.path.to_string(), "app.replica");
        assert_eq!(err.hint.as_deref(), Some("did you mean `replicas`?"));
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            items: Vec<u16>,
        }
        let err = from_str::<S>("items:\n  - 1\n  - many\n").unwrap_err();
        assert_eq!(err.path.to_string(), "items[1]");
        assert_eq!(err.position.line, 3);
    }

    #[test]
    fn ambiguous_plain_values_are_found_but_keys_and_quoted_values_are_not() {
        let found = ambiguous_plain_scalars("on: x\na: on\nb: \"on\"\nc: [yes, 'no']\nd: 3\n");
        let got: Vec<_> = found
            .iter()
            .map(|f| (f.position.line, f.value.as_str()))
            .collect();
        assert_eq!(got, vec![(2, "on"), (4, "yes")]);
    }

    #[test]
    fn the_pre_filter_never_hides_a_trap() {
        for line in [
            "a: on",
            "- yes",
            "[1, y]",
            "k: 0777",
            "t: 12:30",
            "d: 2024-01-01",
            "u: 1_000",
            "x: .inf",
            "{a: NO}",
        ] {
            assert!(line_has_candidate(line), "{line}");
        }
        for line in [
            "a: \"on\"",
            "b: 'yes'",
            "replicas: 3",
            "ratio: 0.5",
            "ok: true",
            "name: web # on",
            "x: ~",
        ] {
            assert!(!line_has_candidate(line), "{line}");
        }
    }

    #[test]
    fn malformed_yaml_anywhere_is_reported_as_malformed() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            a: u32,
        }
        for src in [
            "a: 1\nb: [1, 2\n",
            "a: 1\nb: \"open\n",
            "a: 1\n]\n",
            "a: 1\n  b: 2\n",
            "a: 1\nb: {x: 1\n",
            "a: 1\n--- [\n",
            "a: [1, 2\n",
            "a: 1\nb: 'x\n",
        ] {
            let err = from_str::<Value>(src).expect_err(src);
            assert!(err.message.starts_with("malformed YAML"), "{src}: {err}");
            let err = from_str::<S>(src).expect_err(src);
            assert!(err.message.starts_with("malformed YAML"), "{src}: {err}");
        }
    }

    #[test]
    fn quick_scalars_read_as_serde_reads_them() {
        let tokens = [
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "true",
            "false",
            "True",
            "FALSE",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "0",
            "7",
            "42",
            "-1",
            "-0",
            "007",
            "0777",
            "1_000",
            "123456789012345678",
            "1234567890123456789012",
            "-9223372036854775808",
            "1.5",
            "1e3",
            "0x1F",
            "0o17",
            "+1",
            ".inf",
            "-.inf",
            ".nan",
            "inf",
            "Infinity",
            "NaN",
            "nan",
            "info",
            "eastus2",
            "v1.2.3",
            "apps/v1",
            "e3",
            "E5",
            "x86_64",
            "a b c",
            "12:30",
            "2024-01-01",
            "http://x",
            "abc-def",
            "ConfigMap",
            "Infinite",
            "nano",
            "250m",
            "256Mi",
            "720h",
            "1h30m",
            "8080tcp",
            "/healthz",
            "/",
            "_defaults.yaml",
            "_1",
            "_",
            "/a b:c",
            "1e3m",
            "1.5Gi",
            "0x1g",
            "0o17s",
            "0b1z",
            "1_000m",
            "12:30h",
            "1Infinity",
            "1nan",
            "2001-12-14t21:59:43.10-05:00",
            "1.0e+3k",
        ];
        let mut quick = 0;
        for t in tokens {
            if let Some(v) = quick_scalar(t) {
                quick += 1;
                let serde: Value =
                    serde_saphyr::from_str_with_options(&format!("k: {t}\n"), options())
                        .map(|m: serde_json::Map<String, Value>| m["k"].clone())
                        .unwrap();
                assert_eq!(v, serde, "`{t}`");
            }
        }
        assert!(
            quick > 25,
            "the quick path should cover most of these ({quick})"
        );
    }

    #[test]
    fn the_quick_path_reads_documents_as_serde_does_or_declines() {
        let streams = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  A: \"on\"\n  B: 'x'\n",
            "---\n# only a comment\n---\na: 1\nb: [1, two, {c: null}]\nd: {}\ne: []\n",
            "a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: -5\n",
            "a:\n  - x: 1\n    y: [a, b]\n  - ~\n",
            "on: x\na: on\nb: \"on\"\nc: [yes, 'no', {d: off, y: n}]\ne: Yes\n",
            "a: 1.5\n",
            "a: &x 1\nb: *x\n",
            "a: 1\na: 2\n",
            "<<: {a: 1}\nb: 2\n",
            "a: !!str 5\n",
            "- a\n- b\n",
            "just text\n",
            "a: [1, 2\n",
            "? [a]\n: 1\n",
            "1: x\n",
            "a: on\nb: 0777\n",
        ];
        let mut quick = 0;
        for src in streams {
            let mut ambiguous = Vec::new();
            if let Some(docs) = plain_documents(src, Some(&mut ambiguous)) {
                quick += 1;
                assert_eq!(docs, documents_via_serde(src).unwrap(), "{src}");
                assert_eq!(ambiguous, ambiguous_plain_scalars(src), "{src}");
            }
        }
        assert_eq!(quick, 5, "the first five streams take the quick path");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = "[".repeat(10_000);
        assert!(documents(&src).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(documents(&src).is_err());
    }

    /// Template output as the built-in templates render it (`tojson` values, whitespace
    /// control's leading blank line, no final newline), and a few values a fleet may hold.
    const RENDERED: &[&str] = &[
        "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"app-config\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/managed-by\": \"kubectl-hadr\", \"app.kubernetes.io/name\": \"app\", \"hadr.dev/environment\": \"env-00000\", \"hadr.dev/region\": \"eastus2\"}\ndata: {\"FEATURE_X\": \"on\", \"LOG_LEVEL\": \"info\", \"SHARD\": \"0\"}",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: "app"
  namespace: "team-00000"
  labels: {"app.kubernetes.io/managed-by": "kubectl-hadr", "app.kubernetes.io/name": "app", "hadr.dev/environment": "env-00000", "hadr.dev/region": "eastus2"}
spec:
  replicas: 4
  selector:
    matchLabels: {"app.kubernetes.io/name": "app"}
  template:
    metadata:
      labels: {"app.kubernetes.io/managed-by": "kubectl-hadr", "app.kubernetes.io/name": "app", "hadr.dev/environment": "env-00000", "hadr.dev/region": "eastus2"}
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: "topology.kubernetes.io/zone"
          whenUnsatisfiable: "DoNotSchedule"
          labelSelector:
            matchLabels: {"app.kubernetes.io/name": "app"}
        - maxSkew: 1
          topologyKey: "kubernetes.io/hostname"
          whenUnsatisfiable: "ScheduleAnyway"
          labelSelector:
            matchLabels: {"app.kubernetes.io/name": "app"}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels: {"app.kubernetes.io/name": "app"}
      containers:
        - name: "app"
          image: "registry.example.com/app:1.0.0"
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: "app-config"
            - configMapRef:
                name: "app-region"
          readinessProbe:
            httpGet:
              path: "/healthz"
              port: http
            initialDelaySeconds: 2
            periodSeconds: 5
          resources:
            requests:
              cpu: "250m"
              memory: "256Mi"
            limits:
              memory: "512Mi""#,
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: "web"
  namespace: "shop"
  labels: {"app.kubernetes.io/name": "web", "team": "caf\u00e9 \u003cfront\u003e"}
spec:
  replicas: 2
  selector:
    matchLabels: {"app.kubernetes.io/name": "web"}
  template:
    metadata:
      labels: {"app.kubernetes.io/name": "web"}
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels: {"app.kubernetes.io/name": "web"}
      containers:
        - name: "web"
          image: "ghcr.io/acme/web@sha256:0123abcd"
          ports:
            - name: http
              containerPort: 80
          envFrom:
            - configMapRef:
                name: "web-config"
            - configMapRef:
                name: "web-region"
          readinessProbe:
            httpGet:
              path: "/ready?full=1"
              port: http
            initialDelaySeconds: 0
            periodSeconds: 10
          resources:
            requests:"#,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"team-00000\"\n  labels: {\"app.kubernetes.io/managed-by\": \"kubectl-hadr\", \"hadr.dev/region\": \"eastus2\"}",
        "\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: \"app\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels: {\"app.kubernetes.io/name\": \"app\"}",
        "\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: \"app\"\n  namespace: \"team-1\"\n  labels: {}\nspec:\n  maxUnavailable: \"25%\"\n  selector:\n    matchLabels: {\"app.kubernetes.io/name\": \"app\"}",
        "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"app-region\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\", \"hadr.dev/region\": \"eastus2\"}\ndata:\n  REGION: \"eastus2\"\n  \"ROLE\": \"primary\"",
        r##"
apiVersion: v1
kind: ConfigMap
metadata:
  name: "app-region"
  namespace: "team-7"
  labels: {"app.kubernetes.io/name": "app"}
data:
  REGION: "westus3"
  "A\u003cB": "x \u0026 y"
  "MOTD": "line one\nline two\ttabbed \"quoted\" \\ back\/slash \ud83d\ude00 \u00e9t\u00e9"
  "EMPTY": ""
  "with space": "#not a comment: really"
  "yes": "no""##,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"app\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  selector: {\"app.kubernetes.io/name\": \"app\"}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http",
        "\napiVersion: velero.io/v1\nkind: Schedule\nmetadata:\n  name: \"app-env-00000\"\n  namespace: velero\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  schedule: \"0 */6 * * *\"\n  template:\n    includedNamespaces:\n      - \"team-00000\"\n    storageLocation: \"default\"\n    ttl: \"720h\"\n",
        "# generated\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {\"n\": [1, -2, true, false, null, {\"deep\": [[], {}]}], \"s\": \"\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    example.com/note: plain text, with commas (and parens)\n---\n",
    ];

    /// Environment files as people and the benchmark write them: block mappings with one-line
    /// flow collections of plain words, quantities, paths and JSON strings.
    const ENVIRONMENTS: &[&str] = &[
        "apiVersion: hadr.dev/v1alpha1\nkind: Environment\nmetadata: {name: env-00000}\nspec:\n  namespace: team-00000\n  app:\n    name: app\n    image: registry.example.com/app:1.0.0\n    port: 8080\n    replicas: 3\n    resources: {cpu: 250m, memory: 256Mi, memoryLimit: 512Mi}\n    readinessProbe: {path: /healthz, initialDelaySeconds: 2, periodSeconds: 5}\n  ha:\n    spread: [zone, hostname]\n    antiAffinity: required\n    disruptionBudget: {minAvailable: 2}\n    survive: region\n  dr:\n    rpo: 24h\n    rto: 30m\n    backup: {schedule: \"0 */6 * * *\", ttl: 720h, storageLocation: default}\n  config: {LOG_LEVEL: \"info\", FEATURE_X: \"on\", SHARD: \"0\"}\n  regions:\n    - {name: eastus2, context: c-0-eastus2, replicas: 4, config: {ROLE: primary}}\n    - {name: centralus, context: c-0-centralus, replicas: 3, config: {ROLE: secondary}}\n    - {name: westus3, context: c-0-westus3, replicas: 2, config: {ROLE: secondary}}\n",
        include_str!("../../environments/_defaults.yaml"),
        include_str!("../../environments/prod.yaml"),
        include_str!("../../environments/staging.yaml"),
        "apiVersion: hadr.dev/v1alpha1\nkind: Environment\nspec:\n  ha: {disruptionBudget: {maxUnavailable: \"25%\"}, spread: [ zone ], survive: zone}\n  config: { A: on, B: yes ,C: \"x\" }\n  values: {list: [[], {}, [1, -2, true, null, ~]], n: {m: [off]}, \"q\":\"r\"}\n  regions: [{name: a, zones: [a-1, a-2]}, {name: b}]\n",
    ];

    /// `from_str`'s quick read on one text: where it gives a value, serde-saphyr gives the same;
    /// whether it gave one.
    fn quick_read_agrees<T>(src: &str) -> bool
    where
        T: DeserializeOwned + Serialize + fmt::Debug,
    {
        let Some(quick) = from_str_quick::<T>(src) else {
            return false;
        };
        let slow = from_str_via_serde::<T>(src)
            .unwrap_or_else(|e| panic!("the quick read took what serde refuses: {src:?}: {e}"));
        let json = |v: &T| serde_json::to_value(v).unwrap();
        assert_eq!(json(&quick), json(&slow), "{src:?}");
        assert_eq!(format!("{quick:?}"), format!("{slow:?}"), "{src:?}");
        true
    }

    #[test]
    fn environment_files_read_quickly_as_serde_reads_them_or_not_at_all() {
        use crate::environment::EnvironmentFile;
        for src in ENVIRONMENTS {
            assert!(quick_read_agrees::<EnvironmentFile>(src), "{src}");
        }
        let bench = ENVIRONMENTS[0];
        // Shapes the quick read takes, each checked against serde.
        for (from, to) in [
            ("{minAvailable: 2}", "{minAvailable: \"50%\"}"),
            ("{minAvailable: 2}", "{maxUnavailable: \"2\"}"),
            ("apiVersion", "---\napiVersion"),
            ("kind: Environment", "kind: \"Environment\""),
            ("replicas: 3\n", "replicas:\n"),
            ("  dr:\n", "  values: {a: [1, {b: on}], c: null}\n  dr:\n"),
        ] {
            let src = bench.replacen(from, to, 1);
            assert_ne!(src, bench);
            assert!(quick_read_agrees::<EnvironmentFile>(&src), "{to}");
        }
        // Shapes it must leave to serde: what the block reader declines (a float, a duplicate
        // key, a comment after a flow collection, two documents) and what `Strict` refuses (a
        // number for a string, a sequence for a struct, a map for an enum, an unknown field).
        for (from, to) in [
            ("port: 8080", "port: 80.5"),
            ("namespace: team-00000", "namespace: 3"),
            ("SHARD: \"0\"", "SHARD: 0"),
            ("replicas: 3\n", "replicas: 3\n    replicas: 4\n"),
            ("{ROLE: primary}", "{ROLE: primary, ROLE: secondary}"),
            (
                "{cpu: 250m, memory: 256Mi, memoryLimit: 512Mi}",
                "[250m, 256Mi, 512Mi]",
            ),
            ("kind: Environment", "kind: {Environment: null}"),
            ("survive: region", "survive: [region]"),
            ("survive: region", "survive: planet"),
            ("rpo: 24h", "rpo: 24h\n    extra: x"),
            (
                "spread: [zone, hostname]",
                "spread: [zone, hostname] # both",
            ),
            ("{minAvailable: 2}", "{minAvailable: -1}"),
            ("{minAvailable: 2}", "{minAvailable: 25%}"),
            ("{minAvailable: 2}", "{minAvailable: true}"),
            (
                "metadata: {name: env-00000}",
                "metadata: {name: env-00000}\n---\nkind: x",
            ),
            ("metadata: {name: env-00000}", "metadata:"),
        ] {
            let src = bench.replacen(from, to, 1);
            assert_ne!(src, bench);
            assert!(from_str_quick::<EnvironmentFile>(&src).is_none(), "{src}");
            // And the result is serde's, errors with their positions included.
            let err =
                |r: Result<EnvironmentFile, YamlError>| r.map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(err(from_str(&src)), err(from_str_via_serde(&src)), "{src}");
        }
        // Texts the quick read may or may not take: around documents markers and empty files.
        for src in [
            "",
            "# nothing\n",
            "---\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: Environment\n---\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: Environment\n---\n# c\n",
            "# c\n---\napiVersion: hadr.dev/v1alpha1\nkind: Environment\n",
            "---\n---\napiVersion: hadr.dev/v1alpha1\nkind: Environment\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: EnvironmentDefaults\nspec: {}\nmetadata: {}\n",
        ] {
            quick_read_agrees::<EnvironmentFile>(src);
        }
        // Every mutation of the environment files, read both ways.
        let mut rng = Xorshift(0x1234_5678_9abc_def1);
        let (mut variants, mut read) = (0, 0);
        for src in ENVIRONMENTS {
            for _ in 0..300 {
                let text = mutate(src, &mut rng);
                variants += 1;
                read += usize::from(quick_read_agrees::<EnvironmentFile>(&text));
            }
        }
        assert!(read * 4 > variants, "read {read} of {variants} variants");
    }

    #[test]
    fn render_indexes_read_quickly_as_serde_reads_them() {
        use crate::render::manifest::{Index, IndexEntry, ObjectId};
        let entry = |name: &str, namespace: Option<&str>| IndexEntry {
            file: format!("{name}.yaml"),
            id: ObjectId {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: namespace.map(str::to_string),
                name: name.into(),
            },
            // A digest that starts with a digit and has only hex letters is left to serde.
            sha256: if name == "a" { "0123abcd" } else { "e3b0c442" }.into(),
        };
        let index = Index {
            api_version: "hadr.dev/v1alpha1".into(),
            kind: "Index".into(),
            environment: "prod".into(),
            region: "eastus2".into(),
            digest: "sha256:0123abcd".into(),
            objects: vec![
                entry("a", Some("ns")),
                entry("0777", None),
                entry("on", Some("1")),
            ],
        };
        let src = index.to_bytes();
        assert!(!quick_read_agrees::<Index>(&src), "{src}");
        assert_eq!(from_str::<Index>(&src).unwrap(), index);
        let mut index = index;
        index.objects.remove(0);
        let src = index.to_bytes();
        assert!(quick_read_agrees::<Index>(&src), "{src}");
        assert_eq!(from_str::<Index>(&src).unwrap(), index);
    }

    /// Shapes at the edge of what the block reader takes: each is read as `plain_documents`
    /// reads it, or declined.
    const EDGES: &[&str] = &[
        "a:\n- x\n- y\nb: 1\n",
        "a:\n  - x\n  - y\nb:\n- z\n",
        "items:\n- name: a\n  ports:\n  - 80\n  - 81\n- name: b\n  nested:\n    - k: v\n      l:\n      - m: n\n",
        "- a: 1\n",
        "a:\n-\n  b: 1\n-\n- - x\n",
        "a:\n-\n  - x\n-\n",
        "a:\n  b:\n",
        "a: 1\nb:\n---\nc:\n",
        "a: 1\n---\n\n# only a comment\n---\n---   \nb: 2\n--- \n",
        "# c\na: 1 # trailing\n",
        "a: # c\n  b: 1\n",
        "  # indented comment\na:\n    # deeper comment\n  b: 1\n# shallow comment\n  c: 2\n",
        "a: {}\nb: []\nc: [{}]\nd: [[]]\ne: {\"\": 0}\n",
        "a: \"\\u003c\\u0026\\u003e \\/ \\b\\f\\n\\r\\t \\ud83d\\ude00 \\u0000\"\n",
        "a: \"\\ud800\"\n",
        "a: \"\\x41\"\n",
        "a: \"\\e\"\n",
        "a: yes\nb: on\nc: y\nd: No\ne: OFF\nf: Y\n",
        "a: 0777\n",
        "a: 1_000\n",
        "a: 2026-01-01\n",
        "a: 12:30\n",
        "a: 1.5\n",
        "a: .inf\n",
        "a: -0\n",
        "a: -12\nb: 0\nc: 999999999999999999\ne: -999999999999999999\n",
        "d: 1000000000000000000\n",
        "d: -1000000000000000000\n",
        "a: [999999999999999999, -999999999999999999]\n",
        "b: [1000000000000000000]\n",
        "b: {\"c\": -1000000000000000000}\n",
        "\"\u{e9}\": yes\n\"\\u00e9x\": on\n",
        "a:\n- \"\u{e9}t\u{e9}\": 1\n  \"\u{e9}\": n\n",
        "\"a: b\": 1\n\"c # d\": [2]\n",
        "\"a\"  : 1\n",
        "a: x@y%z=w+v~u\n",
        "a: b\n    # c\nd: 1\n",
        "a:\n  b: 1\n---\n  c: 2\n",
        "-\n    a: 1\n  b: 2\n",
        "a:\n-\n    b: 1\n  c: 2\n",
        "a:\n- b:\n  - c\n- d\n",
        "a: [1.0]\n",
        "a: [1e3]\n",
        "a: [-0]\n",
        "yes: 1\non: 2\ny: 3\n",
        "true: 1\n",
        "Null: 1\n",
        "inf: 1\n",
        "a: True\n",
        "a: NaN\n",
        "a: ~\nb: null\nc:\n",
        "a: x   \nb: \"y\"   \nc: {}  \nd:   \n  - e  \n  -   \n",
        "a: x\n  continued\n",
        "a: x\n  # comment\n  continued\n",
        "a: \"x\"\n  b: 1\n",
        "a: 1\n  b: 2\n",
        "a:\n    b: 1\n  c: 2\n",
        "a:\n  b: 1\n c: 2\n",
        "- a\n- b\n",
        "just text\n",
        "a: 1\n- b\n",
        "- a: 1\n b: 2\n",
        "a:\n  - x\n  b: 1\n",
        "a:\n  - x\n    - y\n",
        "a:\n  - x\n   - y\n",
        "a:\n  -   b: 1\n      c: 2\n",
        "a:\n  -  x\n",
        "a: 1\na: 2\n",
        "a: {\"b\": 1, \"b\": 2}\n",
        "a: {\"<<\": 1}\n",
        "\"<<\": 1\n",
        "\"a\": 1\na: 2\n",
        "\"a\":1\n",
        "\"a\" : 1\n",
        "a : 1\n",
        "a:1\n",
        "a: b: c\n",
        "a: b:\n",
        "a: b:c\n",
        "a: http://example.com/x?y=1\n",
        "a: 'x'\n",
        "a: |\n  x\n",
        "a: >-\n  x\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "? a\n: 1\n",
        "a: [1, 2\n",
        "a: {b: 1}\n",
        "a: [a, b]\n",
        "a: \"x\" # c\n",
        "a: \"x\" y\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n...\n",
        "---\n- a\n",
        "--- a: 1\n",
        "---\n",
        "",
        "\n\n",
        "a: 1\r\n",
        "a:\t1\n",
        "\u{feff}a: 1\n",
        "a: \"\u{85}\"\n",
        "a: \"\u{2028}\"\n",
        "a: x y  z\n",
        "a: -x\n",
        "a: - x\n",
        "a: -\n",
        "a: ~x\n",
        "a: x#y\n",
        "a: x #y\n",
        "a: x,y\n",
        "a.b/c-d_e: 1\n",
        "a_: 1\n_a: 2\n",
        "1a: 1\n",
        "  a: 1\n  b: 2\n",
        "  a: 1\nb: 2\n",
        "a:\n  b:\n  - c\n  d: 1\n",
        "\"k\":\n  - 1\n\"l\":\n- 2\n",
        "- \"x\": 1\n  y: 2\n",
        "a:\n  - {\"b\": 1}\n  - [2]\n  - \"s\"\n  - 3\n  - t\n",
        "a:\n  - {\"b\": 1}\n    c: 1\n",
        "a: {b: 1, c: [x, y], d: {}}\n",
        "a: { b: 1 ,c: 2 }\n",
        "a: [ ]\nb: { }\nc: [ [ ] , { } ]\n",
        "a: [a, b,]\n",
        "a: {b: 1,}\n",
        "a: [,]\n",
        "a: {,}\n",
        "a: {b}\n",
        "a: {b, c: 1}\n",
        "a: {b: }\n",
        "a: {b:}\n",
        "a: {b:, c: 1}\n",
        "a: {b:1}\n",
        "a: {b :1}\n",
        "a: {b : 1}\n",
        "a: {\"b\":1}\n",
        "a: {\"b\":c}\n",
        "a: {\"b\" :c}\n",
        "a: {\"b\":[c]}\n",
        "a: {b:[c]}\n",
        "a: {b: [c]}\n",
        "a: {? b: 1}\n",
        "a: {? b}\n",
        "a: {'b': 1}\n",
        "a: ['x']\n",
        "a: [b: 1]\n",
        "a: [\"b\": 1]\n",
        "a: [b:]\n",
        "a: {b: c: d}\n",
        "a: {b: c:d}\n",
        "a: [c:d, e:f]\n",
        "a: [x:, y]\n",
        "a: {b: x y, c: x  y }\n",
        "a: {b: yes, c: [on, n], d: {e: Off}}\n",
        "a: [yes, [no, {b: y}]]\n",
        "a: {yes: 1}\n",
        "a: {True: 1}\n",
        "a: {1: 1}\n",
        "a: {b: 1, b: 2}\n",
        "a: {b: 1, \"b\": 2}\n",
        "a: {<<: {c: 1}}\n",
        "a: {b: [1, 2\n",
        "a: {b: [1, 2]\n  }\n",
        "a: {b: 1} # c\n",
        "a: {b: 1}#c\n",
        "a: {b: 1},\n",
        "a: [x] y\n",
        "a: [x]]\n",
        "a: {b: 1}}\n",
        "a: {b: 1]\n",
        "a: [1}\n",
        "a: {b: \"\\u00e9\", \"\u{e9}\": on}\n",
        "\"\u{e9}\": {b: on, c: [\"\u{e9}\", n]}\n",
        "- {a: on, b: [y]}\n- [off]\n",
        "a:\n  - {b: on}\n  - [y, {c: n}]\n",
        "a: [[[]], {b: [{}]}]\n",
        "a: {b: #c}\n",
        "a: [a#b]\n",
        "a: [a #b]\n",
        "a: [-x, -1, ~, null, true, 1.5]\n",
        "a: [-1, ~, null, true, false, 0]\n",
        "a: {b: -}\n",
        "a: [- x]\n",
        "a: [-]\n",
        "a: [a, {b: c}: d]\n",
        "a: {b: [c]: d}\n",
        "a: {b: {c: d}e}\n",
        "a: {[b]: c}\n",
        "a: {{b: c}: d}\n",
        "a: [x y:z, a/b:c, ok()]\n",
        "a: [x:y:z, \"p\"]\n",
        "a: [(x), @y, %z, =w]\n",
        "a: [&x y, *x]\n",
        "a: [!!str 1]\n",
        "a: [|, >]\n",
        "a: [`x`]\n",
        "a: {b: 'c'}\n",
        "a: [\"x\"y]\n",
        "a: [\"x\" , \"y\" ]\n",
        "a: [\"\\x41\"]\n",
        "a: [1.0, 1e3]\n",
        "a: [1000000000000000000]\n",
        "a: {b: 250m, c: 256Mi, d: /healthz, e: 720h, f: [1h30m, /x/y, 8080tcp]}\n",
        "a: 250m\nb: /healthz\nc: 2001-12-14t21:59:43.10-05:00\nd: [2001-12-14t21:59:43.10-05:00]\n",
        "a: [2026-01-01, 12:30, 0777, 1_000]\n",
        "a: {b: 0777}\n",
        "a: {b: x}   \n",
        "a: {  b:   x  ,   c:   [  y  ,  z  ]  }\n",
    ];

    /// Mappings nested `depth` deep, the innermost holding a scalar or three levels of JSON.
    fn nested(depth: usize, json: bool) -> String {
        let mut src = String::new();
        for i in 0..depth.saturating_sub(1) {
            src.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        let i = depth.saturating_sub(1);
        if json {
            src.push_str(&format!("{}k{i}: {{\"x\": [{{}}]}}\n", " ".repeat(i)));
        } else {
            src.push_str(&format!("{}k{i}: x\n", " ".repeat(i)));
        }
        src
    }

    /// The block reader's promise on one text: what it reads, it reads exactly as
    /// `plain_documents` does, warnings and their positions included; what that declines, it
    /// declines. Whether it read the text.
    fn block_reader_agrees(src: &str) -> bool {
        let Some(fast) = block_documents(src) else {
            return false;
        };
        let mut ambiguous = Vec::new();
        let Some(documents) = plain_documents(src, Some(&mut ambiguous)) else {
            panic!(
                "the block reader read what plain_documents declines: {src:?} -> {:?}",
                fast.documents
            );
        };
        assert_eq!(fast.documents, documents, "{src:?}");
        assert_eq!(fast.ambiguous, ambiguous, "{src:?}");
        true
    }

    #[test]
    fn the_block_reader_reads_rendered_template_output_as_the_parser_does() {
        for src in RENDERED.iter().chain(ENVIRONMENTS) {
            assert!(block_reader_agrees(src), "not on the fast path: {src}");
            assert!(template_output(src).is_ok());
        }
    }

    #[test]
    fn the_block_reader_agrees_with_the_parser_or_declines_at_the_edges() {
        let mut read = 0;
        for src in EDGES {
            read += usize::from(block_reader_agrees(src));
        }
        let deep: Vec<String> = (60..=MAX_DEPTH + 2)
            .flat_map(|d| [nested(d, false), nested(d, true)])
            .collect();
        for src in &deep {
            read += usize::from(block_reader_agrees(src));
        }
        assert!(read > 40, "the block reader read only {read} edge cases");
        for (src, warnings) in [
            (
                "a: yes\nb:\n- on\n- n\nc: {\"d\": \"on\"}\n",
                vec![(1, 4), (3, 3), (4, 3)],
            ),
            ("x:\n  - k: Off\n    y: No\n", vec![(2, 8), (3, 8)]),
            (
                "a: {b: on, c: [y, {d: n}], e: \"off\"}\n\"\u{e9}\": [ No ]\n",
                vec![(1, 8), (1, 16), (1, 23), (2, 8)],
            ),
        ] {
            let read = block_documents(src).expect(src);
            let at: Vec<_> = read
                .ambiguous
                .iter()
                .map(|a| (a.position.line, a.position.column))
                .collect();
            assert_eq!(at, warnings, "{src}");
            assert!(block_reader_agrees(src));
        }
    }

    /// A small xorshift generator: the mutations are the same on every run.
    struct Xorshift(u64);

    impl Xorshift {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    /// One random edit: a YAML-significant character inserted, deleted or replaced, or a line
    /// duplicated, swapped, dropped or re-indented.
    fn mutate(src: &str, rng: &mut Xorshift) -> String {
        const ALPHABET: &[char] = &[
            ' ', ' ', ' ', '\n', '-', ':', '#', '"', '\'', '{', '}', '[', ']', ',', '\\', '|', '>',
            '&', '*', '!', '?', '%', '@', '`', '~', '.', '_', '/', '0', '1', '7', '8', 'a', 'e',
            'n', 'o', 'u', 'y', 'Y', 'x', '\t', '\r', 'é',
        ];
        let boundary = |rng: &mut Xorshift, s: &str| {
            let mut at = rng.below(s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let mut lines: Vec<String> = src.split('\n').map(str::to_string).collect();
        let line = rng.below(lines.len());
        let other = rng.below(lines.len());
        let mut out = src.to_string();
        match rng.below(9) {
            0 | 1 => {
                let at = boundary(rng, &out);
                out.insert(at, ALPHABET[rng.below(ALPHABET.len())]);
            }
            2 | 3 => {
                let at = boundary(rng, &out);
                if let Some(c) = out[at..].chars().next() {
                    out.replace_range(at..at + c.len_utf8(), "");
                }
            }
            4 => {
                let at = boundary(rng, &out);
                if let Some(c) = out[at..].chars().next() {
                    let new = ALPHABET[rng.below(ALPHABET.len())].to_string();
                    out.replace_range(at..at + c.len_utf8(), &new);
                }
            }
            5 => {
                let copy = lines[line].clone();
                lines.insert(other, copy);
                out = lines.join("\n");
            }
            6 => {
                lines.swap(line, other);
                out = lines.join("\n");
            }
            7 => {
                lines.remove(line);
                out = lines.join("\n");
            }
            _ => {
                let l = &mut lines[line];
                match rng.below(4) {
                    0 => l.insert(0, ' '),
                    1 => l.insert_str(0, "  "),
                    _ => {
                        let n = rng.below(3).min(l.len() - l.trim_start_matches(' ').len());
                        l.replace_range(..n, "");
                    }
                }
                out = lines.join("\n");
            }
        }
        out
    }

    #[test]
    fn the_block_reader_agrees_with_the_parser_on_every_mutation_of_the_corpus() {
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        let mut check = |corpus: &[&str], each: usize| {
            let (mut variants, mut read) = (0, 0);
            for src in corpus {
                for _ in 0..each {
                    let mut text = mutate(src, &mut rng);
                    if rng.below(3) == 0 {
                        text = mutate(&text, &mut rng);
                    }
                    variants += 1;
                    read += usize::from(block_reader_agrees(&text));
                }
            }
            (variants, read)
        };
        // Many edits to real output leave it readable: the comparison is not vacuous.
        let (variants, read) = check(RENDERED, 800);
        assert!(read * 3 > variants, "read {read} of {variants} variants");
        let (variants, read) = check(ENVIRONMENTS, 1500);
        assert!(read * 3 > variants, "read {read} of {variants} variants");
        let (variants, read) = check(EDGES, 100);
        assert!(read * 6 > variants, "read {read} of {variants} variants");
    }

    #[test]
    fn the_block_reader_agrees_with_the_parser_on_random_indentation() {
        const LINES: &[&str] = &[
            "a:",
            "b: x",
            "c: on",
            "\"d\":",
            "\"e\": [1, {\"f\": null}]",
            "g: {}",
            "-",
            "- x",
            "- y: 1",
            "- z:",
            "- \"s\"",
            "- {\"t\": 2}",
            "- []",
            "---",
            "# note",
            "",
            "h: -3",
            "- - x",
            "i: x y",
        ];
        let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
        let (mut variants, mut read) = (0, 0);
        for _ in 0..6000 {
            let (mut src, mut indent) = (String::new(), 0usize);
            for _ in 0..1 + rng.below(8) {
                // Mostly the steps templates take, sometimes one off.
                let step = [0, 0, 0, 2, 2, -2, -2, -4, 1, -1, 3][rng.below(11)];
                indent = indent.saturating_add_signed(step);
                src.push_str(&" ".repeat(indent));
                src.push_str(LINES[rng.below(LINES.len())]);
                src.push('\n');
            }
            variants += 1;
            read += usize::from(block_reader_agrees(&src));
        }
        assert!(read * 10 > variants, "read {read} of {variants} texts");
    }
}
