//! CRD `pattern`s as the API server reads them: Go's `regexp` (RE2 syntax; kube-openapi's
//! `validate.Pattern` compiles the pattern and calls `MatchString`, an unanchored search),
//! run with the `regex` crate, whose syntax is RE2's with three differences that change what
//! matches, rewritten here:
//!
//! - `\d`, `\w`, `\s`, `\b` and their negations are ASCII in Go (`\s` is `[\t\n\f\r ]`, no
//!   vertical tab) and Unicode-aware in `regex`;
//! - inside a bracket class, Go takes `[` (not starting `[:name:]`), `&&`, `--` and `~~` as
//!   literal characters, where `regex` reads a nested class or a set operation;
//! - Go reads `\123` as an octal escape, which `regex` needs switched on.
//!
//! A pattern `regex` still cannot compile (Go's `\Q...\E`, for one) is not checked: render
//! then accepts what the API server may refuse, rather than refuse what it accepts. The
//! differential test `tests/it/patterns.rs` holds this to Go's own `regexp` over generated
//! patterns and texts.

use regex::Regex;

/// Go's `\s`, inside a class.
const GO_SPACE: &str = r"\t\n\x0C\r ";
const GO_WORD: &str = "0-9A-Za-z_";

/// Compiles a Go (RE2) pattern so that it matches exactly the texts Go's `MatchString`
/// matches; `None` when it cannot be expressed for `regex`.
pub fn go_regex(pattern: &str) -> Option<Regex> {
    regex::RegexBuilder::new(&translate(pattern)?)
        .octal(true)
        .build()
        .ok()
}

/// Rewrites the Go-only meanings (see the module docs); `None` for a pattern that ends in a
/// lone backslash or an open class (Go refuses those too).
fn translate(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let next = *chars.get(i + 1)?;
                out.push_str(&escape_outside(next));
                i += 2;
            }
            '[' => i = class(&chars, i, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// `\X` outside a class.
fn escape_outside(c: char) -> String {
    match c {
        'd' => "[0-9]".into(),
        'D' => "[^0-9]".into(),
        'w' => format!("[{GO_WORD}]"),
        'W' => format!("[^{GO_WORD}]"),
        's' => format!("[{GO_SPACE}]"),
        'S' => format!("[^{GO_SPACE}]"),
        'b' => r"(?-u:\b)".into(),
        'B' => r"(?-u:\B)".into(),
        other => format!("\\{other}"),
    }
}

/// Copies the bracket class starting at `chars[start]` (`[`), returning the index after its
/// closing `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Option<usize> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` right after `[` or `[^` is a literal in both syntaxes.
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    let mut previous = None;
    loop {
        let c = *chars.get(i)?;
        match c {
            ']' => {
                out.push(']');
                return Some(i + 1);
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                let close = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == ':' && chars[j + 1] == ']')?;
                out.extend(&chars[i..close + 2]);
                previous = None;
                i = close + 2;
                continue;
            }
            '\\' => {
                let next = *chars.get(i + 1)?;
                out.push_str(&escape_inside(next));
                previous = None;
                i += 2;
                continue;
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // `--` would be a set difference for `regex`: the second `-` is a literal to Go.
            '-' if previous == Some('-') => out.push_str(r"\-"),
            _ => out.push(c),
        }
        previous = Some(c);
        i += 1;
    }
}

/// `\X` inside a class.
fn escape_inside(c: char) -> String {
    match c {
        'd' => "0-9".into(),
        'D' => "[^0-9]".into(),
        'w' => GO_WORD.into(),
        'W' => format!("[^{GO_WORD}]"),
        's' => GO_SPACE.into(),
        'S' => format!("[^{GO_SPACE}]"),
        other => format!("\\{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        go_regex(pattern).expect("compiles").is_match(text)
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert!(!matches(r"^\d$", "٣"));
        assert!(matches(r"^\d$", "3"));
        assert!(!matches(r"^\w$", "é"));
        assert!(!matches(r"^\s$", "\u{b}"));
        assert!(matches(r"^[\d\s]+$", "1 2\t3"));
        assert!(matches(r"^[^\w]$", "é"));
    }

    #[test]
    fn class_brackets_and_doubled_operators_are_literals_as_in_go() {
        assert!(matches(r"^[a[]$", "["));
        assert!(matches(r"^[a&&b]+$", "a&&b"));
        assert!(matches(r"^[+--]$", ","));
        assert!(matches(r"^[]a]$", "]"));
        assert!(matches(r"^[[:alpha:]-]+$", "ab-c"));
    }

    #[test]
    fn the_search_is_unanchored_like_match_string() {
        assert!(matches("b", "abc"));
        assert!(!matches("^b", "abc"));
    }

    #[test]
    fn octal_escapes_mean_what_go_reads() {
        assert!(matches(r"^\101$", "A"));
    }
}
