//! Resource quantities (`250m`, `1Gi`, `1e3`) exactly as the API server reads them:
//! `resource.ParseQuantity` of k8s.io/apimachinery v0.36, quirks included (`.` and `-` are
//! zero, `1.Ki` is valid), proven by the differential tests against
//! `testenv/tools/oracles/k8s-apimachinery`.
//!
//! Grammar (apimachinery `quantity.go`): `[+-]? digits [. digits] suffix` where the suffix is a
//! binary SI one (`Ki Mi Gi Ti Pi Ei`), a decimal SI one (`n u m "" k M G T P E`) or a decimal
//! exponent (`e`/`E` and a signed 64-bit integer, truncated to 32 bits).

use std::cmp::Ordering;

/// A parsed quantity, kept exactly enough to compare two of them: `mantissa * 10^exp10 *
/// 2^exp2`, negative when `negative`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    negative: bool,
    /// The significant digits (at most 36 kept; a longer number loses only digits that no
    /// request and limit differ by).
    mantissa: u128,
    exp10: i64,
    /// Non-zero only for binary suffixes (`Ki`..`Ei`).
    exp2: u32,
    /// Whether non-zero digits past the 36th were dropped (they still round the value up).
    inexact: bool,
}

/// The largest binary-suffixed value the server keeps (`maxAllowed`, 2^63-1): `ParseQuantity`
/// caps larger ones to it.
const MAX_ALLOWED: i128 = i64::MAX as i128;

/// Why a text is not a quantity, in the API server's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityError {
    /// `ErrFormatWrong`: not a number followed by a suffix.
    Format,
    /// `ErrSuffix`: a suffix the server does not know (`GB`, `mi`, `mm`).
    Suffix,
    /// `ErrNumeric`: no digits where the server needs them (`Pi`, `.e-10`).
    Numeric,
}

impl std::fmt::Display for QuantityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuantityError::Format => "it is not a number followed by an optional unit",
            QuantityError::Suffix => "its unit is not one Kubernetes knows",
            QuantityError::Numeric => "it has no digits",
        })
    }
}

/// The suggestion for a quantity the server refuses: the units it knows, and the likely
/// meaning of common mistakes.
pub fn quantity_hint(text: &str) -> String {
    let t = text.trim();
    let guess = [
        ("B", ""),
        ("iB", "i"),
        ("mi", "Mi"),
        ("gi", "Gi"),
        ("ki", "Ki"),
        ("mm", "m"),
        ("KB", "k"),
        ("kb", "k"),
    ]
    .iter()
    .find_map(|(bad, good)| {
        let stem = t.strip_suffix(bad)?;
        let fixed = format!("{stem}{good}");
        parse_quantity(&fixed).is_ok().then_some(fixed)
    });
    let units = "use a number with one of the units Ki Mi Gi Ti Pi Ei (powers of 1024), m k M G T P E (powers of 1000), or an exponent such as `1e3`";
    match guess {
        Some(g) => format!("write `{g}`; {units}"),
        None => units.to_string(),
    }
}

/// Parses a quantity as `resource.ParseQuantity` does (no surrounding spaces: JSON decoding
/// trims them before, see `parse_quantity_json`).
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    let b = s.as_bytes();
    let mut pos = 0;
    let negative = b[0] == b'-';
    if matches!(b[0], b'-' | b'+') {
        pos = 1;
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int = &s[int_start..pos];
    let mut frac = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        frac = &s[start..pos];
    }
    let suffix = suffix_text(s, pos)?;
    let (exp10, exp2) = interpret_suffix(suffix)?;
    if int.is_empty() && frac.is_empty() && !fast_path(int, frac, exp10, exp2) {
        // The slow path reads the number with `inf.Dec.SetString`, which needs a digit; the
        // fast path takes "no digits" as zero (so `Ki` and `.` are 0, but `Pi` is an error).
        return Err(QuantityError::Numeric);
    }
    Ok(Quantity::from_digits(negative, int, frac, exp10, exp2))
}

/// Whether `ParseQuantity` takes its int64 fast path: its precision estimate leaves room and
/// the scale is at least nano.
fn fast_path(int: &str, frac: &str, exp10: i64, exp2: u32) -> bool {
    // The numerator without leading zeros, "0" when none is left.
    let num = int.trim_start_matches('0').len().max(1) as i64;
    let den = frac.len() as i64;
    if exp2 > 0 {
        // BinarySI: 15 - len(num) - exponent*3/10 - 1, and no fraction.
        return den == 0 && 15 - num - i64::from(exp2) * 3 / 10 > 0;
    }
    18 - (num + den) >= 0 && exp10 - den >= -9
}

/// Reads the suffix the way `parseQuantityString` does: any run of `eEinumkKMGTP`, an optional
/// sign, then digits to the end; anything else after the number is a format error.
fn suffix_text(s: &str, start: usize) -> Result<&str, QuantityError> {
    let b = s.as_bytes();
    let mut pos = start;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < b.len() {
        return Err(QuantityError::Format);
    }
    Ok(&s[start..])
}

/// The power of ten and of two a suffix stands for (`suffixHandler.interpret`).
fn interpret_suffix(suffix: &str) -> Result<(i64, u32), QuantityError> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = decimal {
        return Ok((e, 0));
    }
    let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        .iter()
        .position(|b| *b == suffix);
    if let Some(i) = binary {
        return Ok((0, 10 * (i as u32 + 1)));
    }
    match suffix.as_bytes() {
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            // strconv.ParseInt(rest, 10, 64), then int32(...): Go truncates to 32 bits.
            let parsed: i64 = go_parse_int(&suffix[1..]).ok_or(QuantityError::Suffix)?;
            Ok((i64::from(parsed as i32), 0))
        }
        _ => Err(QuantityError::Suffix),
    }
}

/// `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, in range.
fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// Reads a quantity from its JSON form, as `Quantity.UnmarshalJSON` does: a string or a
/// number (`null` is no quantity here: the field is left unset). The server trims
/// `strings.TrimSpace` of the *raw* JSON text between the quotes, where a tab or newline is an
/// escape (`\t`) that is not trimmed; only spaces are trimmed here, which refuses at most a
/// few exotic Unicode spaces the server would trim.
pub fn parse_quantity_json(value: &serde_json::Value) -> Option<Result<Quantity, QuantityError>> {
    match value {
        serde_json::Value::String(s) => Some(parse_quantity(s.trim_matches(' '))),
        serde_json::Value::Number(n) => Some(parse_quantity(&n.to_string())),
        _ => None,
    }
}

impl Quantity {
    fn from_digits(negative: bool, int: &str, frac: &str, exp10: i64, exp2: u32) -> Quantity {
        let mut mantissa: u128 = 0;
        let mut exp10 = exp10 - frac.len() as i64;
        let mut inexact = false;
        for c in int.bytes().chain(frac.bytes()) {
            let d = u128::from(c - b'0');
            if mantissa < 10u128.pow(36) {
                mantissa = mantissa * 10 + d;
            } else {
                // A digit past the 36th is dropped: the value keeps its magnitude.
                exp10 += 1;
                inexact |= d != 0;
            }
        }
        Quantity {
            negative: negative && (mantissa != 0 || inexact),
            mantissa,
            exp10,
            exp2,
            inexact,
        }
    }

    /// Whether it is below zero (the server refuses negative requests and limits).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Whether it is exactly zero (a volume of size 0 is refused by the server).
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0 && !self.inexact
    }

    /// The value as a float, for comparisons of numbers too long to compare digit by digit
    /// (binary values capped as the server caps them).
    fn approx(&self) -> f64 {
        let mut v = self.mantissa as f64
            * 10f64.powi(self.exp10.clamp(-400, 400) as i32)
            * 2f64.powi(self.exp2 as i32);
        if self.exp2 > 0 {
            v = v.min(MAX_ALLOWED as f64);
        }
        if self.negative { -v } else { v }
    }

    /// The value as the server keeps it, `units * 10^exp10` with `exp10 >= -9`: rounded away
    /// from zero to whole nano units (`inf.RoundUp` to `Nano`), and a binary-suffixed one capped
    /// at 2^63-1. `None` when it does not fit 128 bits.
    fn normalized(&self) -> Option<(i128, i64)> {
        let scaled = self.mantissa.checked_mul(1u128.checked_shl(self.exp2)?);
        let (mut m, mut e) = match scaled.and_then(|m| i128::try_from(m).ok()) {
            Some(m) => (m, self.exp10),
            None if self.exp2 > 0 => (MAX_ALLOWED, 0),
            None => return None,
        };
        if m == 0 && !self.inexact {
            // Zero with any exponent (`E400`) is zero.
            return Some((0, 0));
        }
        if e < -9 {
            let divisor = u32::try_from(-9 - e)
                .ok()
                .and_then(|s| 10i128.checked_pow(s));
            let rest = self.inexact || divisor.is_none_or(|d| m % d != 0);
            m = divisor.map_or(0, |d| m / d) + i128::from(rest && (m != 0 || self.inexact));
            e = -9;
        }
        if self.exp2 > 0 && exceeds(m, e, MAX_ALLOWED) {
            (m, e) = (MAX_ALLOWED, 0);
        }
        Some((if self.negative { -m } else { m }, e))
    }
}

/// Whether `m * 10^e` (`e >= -9`) is above `cap`.
fn exceeds(m: i128, e: i64, cap: i128) -> bool {
    let Ok(shift) = u32::try_from(e.unsigned_abs()) else {
        return true;
    };
    match 10i128.checked_pow(shift) {
        None => e > 0,
        Some(p) if e >= 0 => m.checked_mul(p).is_none_or(|v| v > cap),
        Some(p) => cap.checked_mul(p).is_some_and(|c| m > c),
    }
}

impl PartialOrd for Quantity {
    /// Compares values, as `Quantity.Cmp` does (units do not matter: `1Gi` == `1073741824`).
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        if let (Some((a, ea)), Some((b, eb))) = (self.normalized(), other.normalized()) {
            // Bring both to the smaller exponent, when that does not overflow.
            let e = ea.min(eb);
            let scale = |m: i128, from: i64| -> Option<i128> {
                let shift = u32::try_from(from - e).ok()?;
                m.checked_mul(10i128.checked_pow(shift)?)
            };
            if let (Some(a), Some(b)) = (scale(a, ea), scale(b, eb)) {
                return Some(a.cmp(&b));
            }
        }
        self.approx().partial_cmp(&other.approx())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_quantities_are_judged_as_the_api_server_does() {
        assert!(parse_quantity("1G").is_ok());
        assert_eq!(parse_quantity("1GB"), Err(QuantityError::Format));
        assert_eq!(parse_quantity("512mi"), Err(QuantityError::Suffix));
        assert_eq!(parse_quantity("250mm"), Err(QuantityError::Suffix));
        assert!(parse_quantity("1e3").is_ok());
        assert!(parse_quantity("250m").is_ok());
        assert!(parse_quantity("256Mi").is_ok());
    }

    #[test]
    fn go_quirks_are_kept() {
        for zero in ["-", "+", ".", "0", "-0.0"] {
            assert_eq!(parse_quantity(zero).map(|q| q.mantissa), Ok(0), "{zero}");
        }
        assert!(parse_quantity("1.Ki").is_ok());
        assert!(parse_quantity("1e4294967296").is_ok());
        assert_eq!(parse_quantity(""), Err(QuantityError::Format));
        assert_eq!(parse_quantity("1e"), Err(QuantityError::Suffix));
        assert_eq!(parse_quantity(" 1"), Err(QuantityError::Format));
        assert!(parse_quantity("Ki").is_ok() && parse_quantity("n").is_ok());
        assert_eq!(parse_quantity("Pi"), Err(QuantityError::Numeric));
        assert_eq!(parse_quantity(".e-10"), Err(QuantityError::Numeric));
    }

    #[test]
    fn quantities_compare_by_value_across_units() {
        let q = |s| parse_quantity(s).unwrap();
        assert_eq!(
            q("1Gi").partial_cmp(&q("1073741824")),
            Some(Ordering::Equal)
        );
        assert!(q("512Mi") < q("1Gi"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("100m") < q("1"));
        assert!(q("-1") < q("0"));
        assert_eq!(q("1e3").partial_cmp(&q("1k")), Some(Ordering::Equal));
        // The server caps binary values at 2^63-1 and rounds up to nano units.
        assert_eq!(
            q("-6000000Pi").partial_cmp(&q("-10000000000000000000Ki")),
            Some(Ordering::Equal)
        );
        assert_eq!(q("0.1n").partial_cmp(&q("1n")), Some(Ordering::Equal));
        assert_eq!(q("0").partial_cmp(&q("E400")), Some(Ordering::Equal));
        assert_eq!(
            q("1.0000000000000000000000000000000000000001").partial_cmp(&q("1000000001n")),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn a_json_quantity_may_be_a_number_or_a_padded_string() {
        let ok = |v: serde_json::Value| parse_quantity_json(&v).unwrap().is_ok();
        assert!(ok(serde_json::json!(" 1Gi ")));
        assert!(ok(serde_json::json!(0.5)));
        assert!(!ok(serde_json::json!("1GB")));
        assert!(parse_quantity_json(&serde_json::json!(null)).is_none());
    }

    #[test]
    fn hints_guess_the_unit_that_was_meant() {
        assert!(quantity_hint("1GB").starts_with("write `1G`"));
        assert!(quantity_hint("512mi").starts_with("write `512Mi`"));
        assert!(quantity_hint("250mm").starts_with("write `250m`"));
    }
}
