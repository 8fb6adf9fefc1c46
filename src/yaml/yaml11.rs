//! YAML 1.1 traps: the plain scalars that this reader (YAML 1.2 resolution) takes as strings
//! but kubectl's and the API server's YAML 1.1 readers take as booleans, numbers, dates or
//! null (`on`, `no`, `0777`, `12:30`, `1_000`, `2024-01-01`, `.inf`, `~`).

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use serde_json::Value;

use super::{Position, options, pos};

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

/// What kubectl's YAML reader (`sigs.k8s.io/yaml`, go-yaml v2 `resolve`) makes of a plain
/// scalar that starts like a number: an integer (`strconv.ParseInt(s, 0, 64)` after removing
/// `_`, so `0644` is octal 420, `0x1F` 31, `0b101` 5, `0o17` 15; then `ParseUint`), else a
/// float when it matches go-yaml's float pattern, else `None` (kubectl reads a string).
/// Timestamps and the bool/null words are not numbers and give `None`.
pub fn kubectl_number(text: &str) -> Option<serde_json::Number> {
    if !text.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return None;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(n) = go_parse_int(&plain) {
        return Some(n);
    }
    go_style_float(&plain)
        .then(|| plain.parse::<f64>().ok())
        .flatten()
        .and_then(serde_json::Number::from_f64)
}

/// `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` (no sign) as go-yaml does.
fn go_parse_int(s: &str) -> Option<serde_json::Number> {
    let (negative, signed, body) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0b") => (2, &body[2..]),
        Some("0o") => (8, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let v = i128::try_from(magnitude).ok().map(|m| -m)?;
        return i64::try_from(v).ok().map(Into::into);
    }
    if let Ok(v) = i64::try_from(magnitude) {
        return Some(v.into());
    }
    // ParseUint takes no sign.
    (!signed)
        .then(|| u64::try_from(magnitude).ok())
        .flatten()
        .map(Into::into)
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn go_style_float(s: &str) -> bool {
    let u = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    let digits = |p: &str| all(p, |c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((whole, frac)) => digits(whole) && frac.bytes().all(|c| c.is_ascii_digit()),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// What kubectl's YAML reader makes of a plain scalar that is one of YAML 1.1's bool words
/// (`yes`, `on`, `n`, ...), else `None`.
pub fn kubectl_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_reads_leading_zeros_as_octal_and_keeps_64_bits() {
        let n = |s: &str| kubectl_number(s).map(|n| n.to_string());
        assert_eq!(n("0644").as_deref(), Some("420"));
        assert_eq!(n("0o17").as_deref(), Some("15"));
        assert_eq!(n("0x1F").as_deref(), Some("31"));
        assert_eq!(n("-0b101").as_deref(), Some("-5"));
        assert_eq!(n("1_000").as_deref(), Some("1000"));
        assert_eq!(
            n("18446744073709551615").as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(n("09").as_deref(), Some("9.0"));
        assert_eq!(n("1.5e3").as_deref(), Some("1500.0"));
        assert_eq!(n("12:30"), None);
        assert_eq!(n("v1"), None);
        assert_eq!(kubectl_bool("on"), Some(true));
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
}
