//! Go's `time.ParseDuration`, byte for byte: what Velero reads a Schedule's `ttl` with (a
//! `metav1.Duration`) and what `@every` takes in a cron schedule. Proven against Go's own
//! function by the `duration` test oracle (tests/it/oracles.rs).

/// Why Go refuses a duration; the text follows Go's own error (`time: unknown unit "d" in
/// duration "7d"`) without the `time:` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    #[error("`{0}` is not a duration")]
    Invalid(String),
    #[error("`{0}` has a number without a unit")]
    MissingUnit(String),
    #[error(
        "`{value}` has the unit `{unit}`, which Go does not know (it knows ns, us, ms, s, m and h)"
    )]
    UnknownUnit { value: String, unit: String },
}

/// Nanoseconds in Go's units, as in Go's `unitMap` (`µs` is U+00B5, `μs` U+03BC).
fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

const LIMIT: u64 = 1 << 63;

/// Parses `s` as Go's `time.ParseDuration` does: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or `0`,
/// into nanoseconds (an `i64`, like Go's `Duration`). Fractions are scaled through an `f64`
/// as Go does, so `1.5h` is exactly 5400 s and rounding matches Go's.
pub fn parse_go_duration(s: &str) -> Result<i64, GoDurationError> {
    let invalid = || GoDurationError::Invalid(s.to_string());
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let (v, after_int) = leading_int(rest).ok_or_else(invalid)?;
        let pre = after_int.len() != rest.len();
        rest = after_int;
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(frac) = rest.strip_prefix('.') {
            let (x, sc, after) = leading_fraction(frac);
            post = after.len() != frac.len();
            (f, scale, rest) = (x, sc, after);
        }
        if !pre && !post {
            return Err(invalid());
        }
        let end = rest
            .bytes()
            .position(|c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(GoDurationError::MissingUnit(s.to_string()));
        }
        let (u, after_unit) = rest.split_at(end);
        rest = after_unit;
        let unit = unit(u).ok_or_else(|| GoDurationError::UnknownUnit {
            value: s.to_string(),
            unit: u.to_string(),
        })?;
        total = add_term(total, v, f, scale, unit).ok_or_else(invalid)?;
    }
    if neg {
        // -(1<<63) is the one value whose negation fits.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// One `value unit` term added to the running total, `None` past Go's limits.
fn add_term(total: u64, v: u64, f: u64, scale: f64, unit: u64) -> Option<u64> {
    if v > LIMIT / unit {
        return None;
    }
    let mut v = v * unit;
    if f > 0 {
        // As Go: float64 keeps nanosecond accuracy for fractions of hours.
        v += (f as f64 * (unit as f64 / scale)) as u64;
        if v > LIMIT {
            return None;
        }
    }
    let total = total + v;
    (total <= LIMIT).then_some(total)
}

/// Go's `leadingInt`: the leading digits, `None` on overflow past 1<<63.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let mut x: u64 = 0;
    let end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    for c in s[..end].bytes() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[end..]))
}

/// Go's `leadingFraction`: the leading digits as a numerator and a power-of-ten scale; digits
/// past what fits are consumed and ignored.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    let end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    for c in s[..end].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

/// A Go duration to write instead of `s` when `s` is what people mean by a duration but Go
/// refuses: days (`7d` -> `168h`, `1d12h` -> `36h`). `None` when there is nothing to suggest.
pub fn suggest_go_duration(s: &str) -> Option<String> {
    let secs = super::duration::parse_duration(s)?;
    let (h, m, sec) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, u) in [(h, "h"), (m, "m"), (sec, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    (parse_go_duration(&out).is_ok() && out != s).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn what_go_accepts() {
        assert_eq!(parse_go_duration("720h"), Ok(720 * 3600 * S));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400 * S));
        assert_eq!(parse_go_duration("1h30m"), Ok(5400 * S));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("-1h"), Ok(-3600 * S));
        assert_eq!(parse_go_duration("+.5s"), Ok(S / 2));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("-0"), Ok(0));
        assert_eq!(parse_go_duration("1µs1μs1us"), Ok(3000));
        assert_eq!(
            parse_go_duration("5."),
            Err(GoDurationError::MissingUnit("5.".into()))
        );
        assert_eq!(parse_go_duration("5.s"), Ok(5 * S));
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse_go_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
    }

    #[test]
    fn what_go_refuses() {
        for s in [
            "",
            "-",
            "+",
            "7d",
            "1",
            "1h 30m",
            ".s",
            "h",
            "1H",
            "2562047h47m16.854775808s",
            "1e3s",
            " 1s",
        ] {
            assert!(parse_go_duration(s).is_err(), "{s}");
        }
        assert_eq!(
            parse_go_duration("7d"),
            Err(GoDurationError::UnknownUnit {
                value: "7d".into(),
                unit: "d".into()
            })
        );
    }

    #[test]
    fn days_are_suggested_as_hours() {
        assert_eq!(suggest_go_duration("7d").as_deref(), Some("168h"));
        assert_eq!(suggest_go_duration("1d12h").as_deref(), Some("36h"));
        assert_eq!(suggest_go_duration("1x"), None);
    }
}
