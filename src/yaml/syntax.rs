//! Malformed YAML in the author's words. The parser's texts (libyaml's, which kubectl prints
//! too) say what the parser was doing ("while parsing a block mapping, did not find expected
//! key"), not what is wrong in the file or how to fix it. The messages quote nothing of the
//! file but an alias's name, so that a Secret's template can show them unredacted.

use super::{MAX_DEPTH, Position};

/// What is wrong, in words, the fix, and where (the parser's position, or the line that
/// holds the real cause when the parser stopped later: a tab or a non-breaking space that
/// indents a line is reported on the line after it).
pub(super) struct Explained {
    pub(super) position: Position,
    pub(super) message: String,
    pub(super) hint: String,
}

/// Explains the parser message `info` at `at` in `src`; `None` for a message this table does
/// not know (the caller keeps the parser's own words).
pub(super) fn explain(info: &str, src: &str, at: Position) -> Option<Explained> {
    if let Some(found) = bad_indentation(src, at, info.contains("tab")) {
        return Some(found);
    }
    let here = |message: &str, hint: &str| {
        Some(Explained {
            position: at,
            message: message.into(),
            hint: hint.into(),
        })
    };
    let info = info.to_ascii_lowercase();
    let has = |s: &str| info.contains(s);
    if has("tab") {
        here(
            "a tab indents this line, and YAML indents with spaces only",
            "indent with ordinary spaces instead of a tab",
        )
    } else if has("mapping values are not allowed") {
        here(
            "a key is not allowed here: the line is indented deeper than the entries beside it, or an unquoted value holds a colon followed by a space",
            "indent the key like the keys beside it, or quote a value that contains `: `",
        )
    } else if has("unknown escape") || has("hexadecimal number") || has("surrogate") {
        here(
            "a double-quoted value holds a backslash escape YAML does not know",
            "write `\\\\` for a backslash, or put the value in single quotes, where `\\` is plain text",
        )
    } else if has("quote") || has("quoted scalar") {
        here(
            "a quoted value is never closed",
            "close the quote on the same value, or escape a quote inside it (`\\\"`, or `''` in single quotes)",
        )
    } else if has("did not find expected key") || has("invalid indentation") {
        here(
            "this line is not indented like the other keys of its mapping",
            "indent it with the same number of spaces as the keys beside it",
        )
    } else if has("expected '-' indicator") || has("block sequence entries are not allowed") {
        here(
            "a list here mixes dash entries and key-value lines at the same indentation, or starts on its key's line",
            "write every entry of the list with `- `, each on its own line below its key, indented",
        )
    } else if has("unknown anchor") {
        let alias = alias_at(src, at);
        here(
            &format!("the alias `*{alias}` refers to no anchor `&{alias}` defined above it"),
            &format!(
                "mark the value to repeat with `&{alias}` before its first use, or write the value out"
            ),
        )
    } else if has("flow mapping") || has("',' or '}'") {
        here(
            "an opening brace is not closed by a closing brace, or two of its entries lack the comma between them",
            "close the mapping with `}` and separate its entries with `,`",
        )
    } else if has("flow sequence") || has("',' or ']'") {
        here(
            "an opening bracket is not closed by a closing bracket, or two of its items lack the comma between them",
            "close the list with `]` and separate its items with `,`",
        )
    } else if has("recursion limit") {
        here(
            &format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            "no environment file or manifest nests this deep: flatten the value",
        )
    } else {
        None
    }
}

/// A line, up to the error, indented with a tab or a non-breaking space: YAML indents with
/// spaces only, and the parser reports such a line where it gives up, often the next one.
fn bad_indentation(src: &str, at: Position, tab_reported: bool) -> Option<Explained> {
    for (n, line) in src.lines().enumerate().take(at.line + 1) {
        let indent = line.len() - line.trim_start_matches([' ', '\t', '\u{a0}']).len();
        let Some(column) = line[..indent].find(['\t', '\u{a0}']) else {
            continue;
        };
        let tab = line[column..].starts_with('\t');
        if tab && !tab_reported {
            continue;
        }
        let what = if tab {
            "a tab"
        } else {
            "a non-breaking space (U+00A0)"
        };
        return Some(Explained {
            position: Position {
                line: n + 1,
                column: line[..column].chars().count() + 1,
            },
            message: format!("{what} indents this line, and YAML indents with spaces only"),
            hint: format!("indent with ordinary spaces instead of {what}"),
        });
    }
    None
}

/// The name of the alias written at `at` (`*name`), for its message.
fn alias_at(src: &str, at: Position) -> String {
    let line = src
        .lines()
        .nth(at.line.saturating_sub(1))
        .unwrap_or_default();
    line.char_indices()
        .filter(|(_, c)| *c == '*')
        .map(|(i, _)| &line[i + 1..])
        .map(|rest| {
            rest.split(|c: char| c.is_whitespace() || ",]}".contains(c))
                .next()
                .unwrap_or_default()
        })
        .find(|name| !name.is_empty())
        .unwrap_or("…")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::{Value, from_str};

    fn error(src: &str) -> String {
        let e = from_str::<Value>(src).unwrap_err();
        format!(
            "{}: {} / {}",
            e.position,
            e.message,
            e.hint.unwrap_or_default()
        )
    }

    /// Issue 13 review: the parser's own words reached users, on the wrong line.
    #[test]
    fn malformed_yaml_says_what_is_wrong_where_it_is_and_the_fix() {
        let tab = error("spec:\n  app:\n    image: x\n\treplicas: 3\n");
        assert!(
            tab.starts_with("4:1: malformed YAML: a tab indents this line"),
            "{tab}"
        );
        let nbsp = error("a:\n  b: 1\n\u{a0}\u{a0}c: 2\n  d: 3\n");
        assert!(
            nbsp.starts_with("3:1: malformed YAML: a non-breaking space"),
            "{nbsp}"
        );
        let alias = error("a: *nope\n");
        assert!(
            alias.contains("the alias `*nope` refers to no anchor `&nope`"),
            "{alias}"
        );
        let flow = error("a: {b: 1\nc: 2\n");
        assert!(flow.contains("an opening brace is not closed"), "{flow}");
        let indent = error("spec:\n  app:\n    image: x\n     replicas: 3\n");
        assert!(indent.contains("a key is not allowed here"), "{indent}");
        let mixed = error("w:\n  - name: web\n  worker: {}\n");
        assert!(mixed.contains("mixes dash entries"), "{mixed}");
        let escape = error("a: \"C:\\q\"\n");
        assert!(
            escape.contains("a backslash escape YAML does not know"),
            "{escape}"
        );
        let quote = error("a: \"open\nb: c\n");
        assert!(quote.contains("a quoted value is never closed"), "{quote}");
        for e in [tab, nbsp, alias, flow, indent, mixed, quote] {
            assert!(
                !e.contains("while parsing") && !e.contains("while scanning"),
                "{e}"
            );
        }
    }
}
