//! How the canonical form writes a string value so that kubectl's reader (sigs.k8s.io/yaml over
//! go.yaml.in/yaml/v2, a YAML 1.1 reader) reads back exactly that string.
//!
//! serde-saphyr writes a multi-line string as a literal block (`|`), which reads back as
//! written only when the block has nothing a YAML 1.1 reader treats specially. Checked with
//! kubectl's reader (the `k8s-yaml` test oracle): a block whose first content line starts with
//! a tab is refused ("found a tab character where an indentation space is expected"), and
//! characters outside YAML's printable set (C0/C1 controls, DEL, NEL, U+2028/2029, BOM,
//! U+FFFE/FFFF) or a carriage return do not belong in a block at all. Such strings are written
//! double-quoted, where every character has an escape. Everything else keeps serde-saphyr's
//! choice, so ordinary config files stay readable literal blocks.

use serde::Serialize;

/// A string value as the canonical form writes it.
pub(super) struct Text<'a>(pub(super) &'a str);

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if literal_block_unsafe(self.0) {
            serde_saphyr::DoubleQuoted(self.0).serialize(serializer)
        } else {
            self.0.serialize(serializer)
        }
    }
}

/// Whether a string serde-saphyr may write as a literal block must be double-quoted instead.
/// Single-line strings never become blocks and keep serde-saphyr's quoting.
pub(super) fn literal_block_unsafe(s: &str) -> bool {
    if !s.contains('\n') {
        return false;
    }
    s.chars().any(|c| !block_safe_char(c)) || tab_before_indentation(s)
}

/// Characters a YAML 1.1 block scalar holds as themselves: YAML's printable set without the
/// line breaks other than LF (CR, NEL, U+2028, U+2029), without DEL and the C1 controls, and
/// without the byte order mark, which readers may drop.
fn block_safe_char(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        '\u{20}'..='\u{7e}' => true,
        '\u{2028}' | '\u{2029}' => false,
        '\u{a0}'..='\u{d7ff}' => true,
        '\u{e000}'..='\u{fffd}' => c != '\u{feff}',
        '\u{10000}'..='\u{10ffff}' => true,
        _ => false,
    }
}

/// Whether a tab appears in the leading white space of a line before the block's indentation
/// is known (the first line with other content, and the blank lines before it): a YAML 1.1
/// reader detecting the indentation refuses it.
fn tab_before_indentation(s: &str) -> bool {
    for line in s.split('\n') {
        let content = line.trim_start_matches([' ', '\t']);
        if line[..line.len() - content.len()].contains('\t') {
            return true;
        }
        if !content.is_empty() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_that_kubectl_reads_differently_are_double_quoted() {
        for s in [
            "\tindented\nline2\n",
            "\n\tx\n",
            " \t\nx",
            "a\r\nb\n",
            "a\u{85}b\nc",
            "a\u{7f}\nb",
            "a\u{2028}\nb",
            "\u{feff}x\ny",
            "x\ny\u{1}",
        ] {
            assert!(literal_block_unsafe(s), "{s:?}");
        }
        for s in ["line1\nline2\n", "a\n\tb", "  lead\nx\n", "café\n✓", "\ta"] {
            assert!(!literal_block_unsafe(s), "{s:?}");
        }
    }
}
