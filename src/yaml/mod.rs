//! The one door to YAML: strict parsing with located errors, and canonical, YAML-1.1-safe emission.
//!
//! Reading uses YAML 1.2 resolution with the YAML 1.1 traps turned into strings (`on`, `0777`,
//! `1_000` stay strings), because templates and people mean text there. Writing quotes every
//! string a YAML 1.1 reader (kubectl, the API server) could take for a bool, number, date or null.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

mod fast;
mod mismatch;
mod syntax;
mod text;
mod yaml11;

pub use mismatch::{Describe, Shape, Wanted};
pub use yaml11::{
    AmbiguousScalar, ambiguous_plain_scalars, kubectl_bool, kubectl_number, yaml11_non_string,
};

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
    from_str_described(src, &|_| None)
}

/// `from_str`, with the caller saying what each field takes (from its JSON Schema), so that a
/// value of the wrong type is reported in the field's terms (`a whole number from 0 to 65535`)
/// rather than the reader's (`string scalar`).
pub fn from_str_described<T: DeserializeOwned>(
    src: &str,
    describe: &Describe<'_>,
) -> Result<T, YamlError> {
    // Environment files are mostly of the block reader's shape, and reading each through the
    // general parser and serde made a full render 19-22% slower (wall and CPU, `fast/mod.rs`). Whatever the quick read cannot
    // take (other shapes, wrong types, unknown fields) goes the way it always went, so every
    // error keeps its located message.
    if let Some(value) = fast::strict::from_str_quick(src) {
        return Ok(value);
    }
    from_str_via_serde(src, describe)
}

/// The strict body of `from_str`: serde-saphyr, its path tracked for located errors.
fn from_str_via_serde<T: DeserializeOwned>(
    src: &str,
    describe: &Describe<'_>,
) -> Result<T, YamlError> {
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
        located_error(src, path, &err, describe)
    })
}

fn check_syntax(src: &str) -> Result<(), YamlError> {
    for event in Parser::new_from_str(src) {
        if let Err(e) = event {
            return Err(malformed(&e.info(), src, pos(e.marker())));
        }
    }
    Ok(())
}

/// A syntax error in the author's words (`syntax.rs`), or in the parser's when the table does
/// not know it.
fn malformed(info: &str, src: &str, at: Position) -> YamlError {
    let (position, message, hint) = match syntax::explain(info, src, at) {
        Some(e) => (e.position, e.message, e.hint),
        None => (
            at,
            info.to_string(),
            "check the indentation and that every bracket and quote is closed".into(),
        ),
    };
    YamlError {
        position,
        path: Path::default(),
        message: format!("malformed YAML: {message}"),
        hint: Some(hint),
    }
}

fn located_error(
    src: &str,
    path: Path,
    err: &serde_saphyr::Error,
    describe: &Describe<'_>,
) -> YamlError {
    use serde_saphyr::Error as E;
    let err = original_error(err);
    let fallback = err.location().map(|l| Position {
        line: l.line() as usize,
        column: l.column() as usize,
    });
    // For an unknown field the interesting node is the key itself, one level below the path
    // (serde_path_to_error has not entered it yet, except where the field is flattened).
    let located_path = match err {
        E::SerdeUnknownField { field: key, .. } | E::DuplicateMappingKey { key: Some(key), .. }
            if path.0.last() != Some(&Segment::Key(key.clone())) =>
        {
            path.key(key)
        }
        _ => path,
    };
    let position = match err {
        // The path names the first occurrence; the parser's location is the second, the one to
        // remove.
        E::DuplicateMappingKey { .. } => fallback,
        // The mapping that lacks the field: the reader's location is where the mapping ended.
        E::SerdeMissingField { .. } if located_path.0.is_empty() => {
            Some(Position { line: 1, column: 1 })
        }
        _ => None,
    }
    .or_else(|| locate(src, &located_path).filter(|_| !located_path.0.is_empty()))
    .or(fallback)
    .unwrap_or(Position { line: 1, column: 1 });
    let (message, hint) = match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => (
            format!(
                "unknown field `{field}`{}, expected {}",
                unseen_characters(field),
                one_of(expected)
            ),
            did_you_mean(field, &owned(expected))
                .or_else(|| Some("remove it, or move it to the mapping it belongs to".into())),
        ),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => (
            format!(
                "unknown value `{variant}`{}: this field takes {}",
                unseen_characters(variant),
                one_of(expected)
            ),
            did_you_mean(variant, &owned(expected)).or_else(|| {
                Some("write one of those values, spelled as shown (case matters)".into())
            }),
        ),
        E::SerdeMissingField { field, .. } => {
            let hint = match describe(&located_path.key(field)).map(|w| w.words) {
                // One value is possible (`apiVersion`): give the whole line.
                Some(w) if w.starts_with('`') && w.matches('`').count() == 2 => {
                    format!("add `{field}: {}`", w.trim_matches('`'))
                }
                Some(w) => format!("add `{field}:` here, {w}"),
                None => format!("add `{field}:` here"),
            };
            (
                format!("the required field `{field}` is missing"),
                Some(hint),
            )
        }
        other => plain_message(other, src, &located_path, describe),
    };
    YamlError {
        position,
        path: located_path,
        message,
        hint,
    }
}

/// The message and fix of an error, in the words of the file's author: serde-saphyr's own
/// texts name Rust types and its API (`use Option<String>`, `use from_str_multiple`, `Depth {
/// depth: 65 }`, `invalid u16`), which mean nothing to them.
fn plain_message(
    err: &serde_saphyr::Error,
    src: &str,
    path: &Path,
    describe: &Describe<'_>,
) -> (String, Option<String>) {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let text = |m: &str, h: &str| (m.to_string(), Some(h.to_string()));
    match err {
        E::DuplicateMappingKey { key: Some(key), .. } => (
            format!("duplicate key `{key}`: it is already set above in the same mapping"),
            Some("remove one of the two entries (YAML keeps neither silently)".into()),
        ),
        E::DuplicateMappingKey { key: None, .. } => text(
            "duplicate key: it is already set above in the same mapping",
            "remove one of the two entries",
        ),
        E::NullIntoString { .. } => text(
            "this value is empty (null), and a text is expected here",
            "write the text, quoted if it could be read as something else (`\"null\"`, `\"\"`), or remove the entry",
        ),
        E::MultipleDocuments { .. } => text(
            "the file holds more than one YAML document (a `---` line starts another)",
            "keep one document per file: remove the `---` line and what follows, or move it to its own file",
        ),
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => (
            format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            Some("no environment file or manifest nests this deep: flatten the value".into()),
        ),
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => text(
            "the YAML is too large to read: its anchors and aliases, or its size, expand past the reader's limits",
            "write the values out instead of repeating aliases, and keep large content out of the file",
        ),
        // Out of range only when it is a whole number at all (`70000` for a port, not `three`).
        E::InvalidScalar { ty, .. }
            if integer_range(ty).is_some() && found_scalar(src, path).parse::<i128>().is_ok() =>
        {
            let (lo, hi) = integer_range(ty).unwrap_or_default();
            let found = found_scalar(src, path);
            // The schema's range when it has one: a port's is 1 to 65535, not u16's.
            let wanted = describe(path)
                .map(|w| w.words)
                .unwrap_or_else(|| format!("a whole number from {lo} to {hi}"));
            (
                format!("`{found}` is not {wanted}"),
                Some(format!("write {wanted}")),
            )
        }
        // A value the type read but refused (a count beyond Kubernetes' int32).
        E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => {
            let found = Some(found_scalar(src, path))
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| unexpected.clone());
            (
                format!("`{found}` is not {expected}"),
                Some(format!("write {expected}")),
            )
        }
        other => {
            let found = mismatch::found_at(src, path);
            if let Some(wanted) = is_mismatch(other)
                .then(|| describe(path).or_else(|| expected_type(other)))
                .flatten()
            {
                return mismatch::message(&wanted, found.as_ref());
            }
            let message = serde_saphyr::MessageFormatter::format_message(
                &serde_saphyr::DefaultMessageFormatter,
                other,
            );
            // A syntax error serde met first (a template's output is read in one pass).
            let at = other.location().map(|l| Position {
                line: l.line() as usize,
                column: l.column() as usize,
            });
            if let Some(e) = at.and_then(|at| syntax::explain(&message, src, at)) {
                return (e.message, Some(e.hint));
            }
            if looks_internal(&message) {
                let hint = Some("check the value against `kubectl hadr schema`".into());
                ("this value cannot be read here".into(), hint)
            } else {
                (message.into_owned(), None)
            }
        }
    }
}

/// What a key holds that its reader cannot see: an invisible character (a zero-width or
/// non-breaking space) or a letter that looks like an ASCII one (Cyrillic `е`), which make
/// `replicas` and its did-you-mean look the same.
fn unseen_characters(key: &str) -> String {
    // Every field name is ASCII: anything else in an unknown key is worth naming.
    let unseen = key.char_indices().find(|(_, c)| !c.is_ascii_graphic());
    match unseen {
        Some((at, c)) => {
            let kind = if c.is_alphabetic() {
                "a non-ASCII letter"
            } else {
                "an invisible or space character"
            };
            format!(
                " (it holds {kind}, U+{:04X}, after `{}`)",
                u32::from(c),
                &key[..at]
            )
        }
        None => String::new(),
    }
}

/// The range of an integer type serde names (`u16`), for range errors.
fn integer_range(ty: &str) -> Option<(i128, i128)> {
    Some(match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// Whether a message speaks of Rust rather than of YAML: type names, paths, debug output.
fn looks_internal(message: &str) -> bool {
    const MARKERS: [&str; 9] = [
        "Option<",
        "::",
        "from_str",
        "{ ",
        "serde",
        "Deserialize",
        "struct ",
        "variant index",
        "Vec<",
    ];
    MARKERS.iter().any(|m| message.contains(m))
        || message
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| {
                matches!(
                    w,
                    "u8" | "u16"
                        | "u32"
                        | "u64"
                        | "u128"
                        | "usize"
                        | "i8"
                        | "i16"
                        | "i32"
                        | "i64"
                        | "i128"
                        | "isize"
                        | "f32"
                        | "f64"
                )
            })
}

/// The error itself, out of the wrappers that add a snippet or the alias it came through.
fn original_error(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = err
    {
        err = error;
    }
    err
}

fn one_of(expected: &[&str]) -> String {
    match expected {
        [] => "nothing here".to_string(),
        [one] => format!("`{one}`"),
        many => {
            let names: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", names.join(", "))
        }
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The closest accepted name, when it is close enough to be a likely typo.
pub fn did_you_mean(field: &str, expected: &[String]) -> Option<String> {
    let best = expected
        .iter()
        .map(|e| (strsim::jaro_winkler(field, e), e))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    (best.0 >= 0.8).then(|| format!("did you mean `{}`?", best.1))
}

/// Whether an error says the value has the wrong type or shape for its field.
fn is_mismatch(err: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    match err {
        E::SerdeInvalidType { .. }
        | E::Unexpected { .. }
        | E::InvalidScalar { .. }
        | E::InvalidBooleanStrict { .. }
        | E::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | E::UnexpectedValueForUnitEnumVariant { .. }
        | E::TaggedScalarCannotDeserializeIntoString { .. } => true,
        // An untagged enum (an integer or a percentage) that none of its types could read.
        E::Message { msg, .. } => msg.contains("did not match any variant"),
        _ => false,
    }
}

/// What a type error wanted, in words, from the type serde-saphyr names: the fallback for a
/// caller without a schema.
fn expected_type(err: &serde_saphyr::Error) -> Option<Wanted> {
    use serde_saphyr::Error as E;
    let expected = match err {
        E::SerdeInvalidType { expected, .. } | E::SerdeInvalidValue { expected, .. } => {
            expected.as_str()
        }
        E::InvalidScalar { ty, .. } | E::Unexpected { expected: ty, .. } => ty,
        E::InvalidBooleanStrict { .. } => "bool",
        _ => return None,
    };
    let scalar = |words: &str| Some(Wanted::new(words, Shape::Scalar));
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => scalar("a whole number such as `3`"),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => scalar("a whole number such as `-3`"),
        "f32" | "f64" => scalar("a number such as `0.5`"),
        "bool" | "a boolean" => scalar("`true` or `false`"),
        // The reader asks for a "string scalar" for every scalar field, numbers included.
        "string scalar" => scalar("a single value"),
        e if e.contains("string") || e == "char" => scalar("a string"),
        e if e.contains("sequence") || e.starts_with("tuple") => {
            Some(Wanted::new("a list", Shape::List))
        }
        e if e.contains("map") || e.starts_with("struct") => {
            Some(Wanted::new("a mapping", Shape::Mapping))
        }
        _ => None,
    }
}

/// The scalar written at a path, as written (empty when there is none).
fn found_scalar(src: &str, path: &Path) -> String {
    mismatch::found_at(src, path)
        .filter(|f| f.shape == Shape::Scalar)
        .and_then(|f| f.text)
        .unwrap_or_default()
}

/// A parser message with every quoted or backticked fragment replaced: parsers quote the text
/// they choke on, which in a Secret may be its value.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if matches!(c, '`' | '"' | '\'') {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// A reader error without any text of the file: where it is, and what is wrong with every
/// quoted fragment replaced. For files that hold credentials (a kubeconfig's tokens and keys),
/// whose reader would otherwise print the offending line.
pub fn error_without_text(err: &serde_saphyr::Error) -> (Option<Position>, String) {
    let err = original_error(err);
    let at = err.location().map(|l| Position {
        line: l.line() as usize,
        column: l.column() as usize,
    });
    let message =
        serde_saphyr::MessageFormatter::format_message(&serde_saphyr::DefaultMessageFormatter, err);
    let first = message.lines().next().unwrap_or_default();
    // The syntax table quotes nothing of the file; a type error says only what was wanted.
    let words = at
        .and_then(|at| syntax::explain(first, "", at))
        .map(|e| e.message)
        .or_else(|| {
            (is_mismatch(err).then(|| expected_type(err)).flatten())
                .map(|w| format!("the value here has the wrong type: {} is wanted", w.words))
        })
        .unwrap_or_else(|| redact_quoted(first));
    (at, words)
}

/// Whether the first document has a node at `path` (exactly there: `locate` falls back to the
/// deepest node it reached).
pub fn has_node(src: &str, path: &Path) -> bool {
    mismatch::found_at(src, path).is_some()
}

/// Finds the position of the node at `path`: for a mapping entry, its key. When the path
/// leaves the document early, the deepest node reached is returned.
pub fn locate(src: &str, path: &Path) -> Option<Position> {
    let mut parser = Parser::new_from_str(src);
    let (first, span) = first_node(&mut parser)?;
    Some(
        Locator {
            parser: &mut parser,
        }
        .find(first, pos(&span.start), &path.0),
    )
}

/// The event that opens the first node of the first document, and its span.
fn first_node<'i>(
    parser: &mut Parser<'i, serde_saphyr::granit_parser::StrInput<'i>>,
) -> Option<(Event<'i>, Span)> {
    loop {
        let (event, span) = parser.next()?.ok()?;
        match event {
            Event::StreamStart | Event::DocumentStart(..) => continue,
            ref e if is_presentation(e) => continue,
            Event::StreamEnd | Event::DocumentEnd => return None,
            first => return Some((first, span)),
        }
    }
}

/// A scalar as a YAML text writes it: its text before any resolution, whether it is plain
/// (unquoted, not a block scalar), and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceScalar {
    pub text: String,
    pub plain: bool,
    pub position: Position,
}

/// The scalar at `path` in the `doc`-th non-empty document of a stream (counted as `documents`
/// counts them), or `None` when there is no scalar there. Parses the text again: meant for the
/// rare value a check needs to see as written.
pub fn scalar_at(src: &str, doc: usize, path: &Path) -> Option<SourceScalar> {
    let mut parser = Parser::new_from_str(src);
    let mut seen = 0;
    loop {
        let (event, span) = parser.next()?.ok()?;
        match event {
            Event::StreamStart | Event::DocumentStart(..) | Event::DocumentEnd => continue,
            ref e if is_presentation(e) => continue,
            Event::StreamEnd => return None,
            Event::Scalar(ref v, ScalarStyle::Plain, ..)
                if matches!(v.as_ref(), "" | "~" | "null" | "Null" | "NULL") =>
            {
                continue;
            }
            root => {
                let mut locator = Locator {
                    parser: &mut parser,
                };
                if seen == doc {
                    return locator.find_scalar(root, span, &path.0);
                }
                locator.skip(root);
                seen += 1;
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

    /// The scalar at `path` below `node`, if the path leads to one.
    fn find_scalar(
        &mut self,
        node: Event<'i>,
        span: Span,
        path: &[Segment],
    ) -> Option<SourceScalar> {
        match self.node(node, span, path)? {
            (Event::Scalar(text, style, ..), span) => Some(SourceScalar {
                text: text.into_owned(),
                plain: style == ScalarStyle::Plain,
                position: pos(&span.start),
            }),
            _ => None,
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
    if let Some(read) = fast::block::block_documents(src) {
        return Ok(read.documents);
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
/// the block reader's path; without it a full render took 2.4-2.7x as long (`fast/mod.rs`).
pub fn template_output(src: &str) -> Result<TemplateOutput, YamlError> {
    if let Some(read) = fast::block::block_documents(src) {
        return Ok(read);
    }
    let documents = documents_via_serde(src)?;
    Ok(TemplateOutput {
        documents,
        ambiguous: ambiguous_plain_scalars(src),
    })
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
        Err(err) => Err(located_error(src, Path::default(), &err, &|_| None)),
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
            Value::String(s) => text::Text(s).serialize(serializer),
            other => other.serialize(serializer),
        }
    }
}

/// Writes one object as canonical YAML: stable key order, two-space indent, LF line ends,
/// one trailing newline, literal blocks for multi-line strings that kubectl's YAML 1.1 reader
/// reads back as written (double quotes for the others, `text.rs`) and YAML-1.1-safe quoting.
pub fn to_canonical(value: &Value) -> String {
    fast::emit::canonical(value, top_level_rank).unwrap_or_else(|| canonical_via_serde(value))
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
        .and_then(|v| fast::emit::in_order(&v, rank))
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
    fn a_multi_line_string_kubectl_cannot_read_as_a_block_is_double_quoted() {
        let v = serde_json::json!({"a": "\tindented\nline2\n", "b": "x\r\ny\n"});
        assert_eq!(
            to_canonical(&v),
            "a: \"\\tindented\\nline2\\n\"\nb: \"x\\r\\ny\\n\"\n"
        );
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
        // Issue 13 review: a zero-width space or a Cyrillic letter looked like the field.
        let err = from_str::<Outer>("app:\n  replicas\u{200b}: 3\n").unwrap_err();
        assert!(
            err.message
                .contains("(it holds an invisible or space character, U+200B, after `replicas`)"),
            "{}",
            err.message
        );
        let err = from_str::<Outer>("app:\n  r\u{435}plicas: 3\n").unwrap_err();
        assert!(
            err.message
                .contains("a non-ASCII letter, U+0435, after `r`"),
            "{}",
            err.message
        );
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
    fn a_duplicate_key_is_reported_at_its_position_without_advice_for_the_programmer() {
        let err = from_str::<Value>("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            err.message,
            "duplicate key `a`: it is already set above in the same mapping"
        );
        assert_eq!((err.position.line, err.position.column), (3, 1));
        // Issue 13 item 15: nested, the second occurrence, not the parent mapping.
        let err = from_str::<Value>("spec:\n  app:\n    name: a\n    port: 1\n    name: b\n")
            .unwrap_err();
        assert_eq!(err.path.to_string(), "spec.app.name");
        assert_eq!((err.position.line, err.position.column), (5, 5));
    }

    #[test]
    fn a_type_error_says_what_was_wanted_and_what_was_found() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            items: Vec<String>,
        }
        let err = from_str::<S>("items: some text\n").unwrap_err();
        assert_eq!(err.message, "expected a list, found `some text`");
        assert_eq!(
            err.hint.as_deref(),
            Some(
                "write one item per element: `[some, text]` (a command's arguments are items of their own), or `[\"some text\"]` for one item"
            ),
        );
        // Issue 13 item 15: a flow value's closing bracket is not part of what was found.
        let err = from_str::<S>("{items: {a: 1}}\n").unwrap_err();
        assert_eq!(err.message, "expected a list, found the mapping `{a: 1}`");
    }

    #[test]
    fn an_unknown_variant_is_reported_with_a_suggestion() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "lowercase")]
        #[allow(dead_code)]
        enum Survive {
            Zone,
            Region,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            survive: Survive,
        }
        let err = from_str::<S>("survive: regoin\n").unwrap_err();
        assert_eq!(err.path.to_string(), "survive");
        assert_eq!(err.position, Position { line: 1, column: 1 });
        assert_eq!(
            err.message,
            "unknown value `regoin`: this field takes one of `zone`, `region`"
        );
        assert_eq!(err.hint.as_deref(), Some("did you mean `region`?"));
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
}
