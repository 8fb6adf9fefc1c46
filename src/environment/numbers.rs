//! Whole numbers in free-form `values` that do not fit in 64 bits are refused, never rounded.
//!
//! The YAML reader gives such a number (`id: 12345678901234567890123`) as the nearest float,
//! which templates then wrote as `1.2345678901234568e+22`: a different number, silently.
//! Keeping every digit would need an arbitrary-precision number through minijinja, serde_json
//! and the writer, each of which rounds to a float somewhere; refusing is robust (nothing
//! downstream can round what never gets in) and the fix is one pair of quotes. The float is
//! traced back to its text in the file, so `1e22`, written as a float, stays accepted.

use serde_json::Value;

use super::EnvironmentError;
use super::extends::Loaded;
use crate::yaml::{self, Path as YamlPath};

/// Refuses the first whole number beyond 64 bits in the file's `spec.values` and
/// `spec.regions[].values`, with its file:line:column, field path and fix.
pub(super) fn check(loaded: &Loaded) -> Result<(), EnvironmentError> {
    let spec = YamlPath::default().key("spec");
    if let Some(values) = &loaded.doc.spec.values {
        walk(loaded, values, spec.key("values"))?;
    }
    for (i, region) in loaded.doc.spec.regions.iter().flatten().enumerate() {
        if let Some(values) = &region.values {
            walk(loaded, values, spec.key("regions").index(i).key("values"))?;
        }
    }
    Ok(())
}

fn walk(loaded: &Loaded, value: &Value, path: YamlPath) -> Result<(), EnvironmentError> {
    match value {
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| walk(loaded, v, path.key(k))),
        Value::Array(items) => {
            (items.iter().enumerate()).try_for_each(|(i, v)| walk(loaded, v, path.index(i)))
        }
        Value::Number(n) if n.is_f64() => {
            let Some(scalar) = yaml::scalar_at(&loaded.text, 0, &path) else {
                return Ok(());
            };
            let token = scalar.text;
            if !scalar.plain || !whole_number(&token) {
                return Ok(());
            }
            let mut err = loaded.error(
                path,
                format!("`{token}` is a whole number too large to keep exactly (more than 64 bits); it would be rounded"),
                Some(format!("quote it to keep it as text: `\"{token}\"`")),
            );
            err.position = Some(scalar.position);
            Err(err)
        }
        _ => Ok(()),
    }
}

/// A YAML integer literal: decimal with an optional sign, or `0x`/`0o` forms.
fn whole_number(token: &str) -> bool {
    let unsigned = token.strip_prefix(['-', '+']).unwrap_or(token);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return digits(hex, 16);
    }
    if let Some(oct) = unsigned.strip_prefix("0o") {
        return digits(oct, 8);
    }
    digits(unsigned, 10)
}

/// The largest count Kubernetes stores: replicas, seconds and PodDisruptionBudget numbers are
/// `int32` in the API (`k8s.io/api`), so a larger one is refused by the API server.
const INT32_MAX: u32 = i32::MAX as u32;

/// What an int32 count field takes, in the words of its error.
const COUNT: &str = "a whole number from 0 to 2147483647 (Kubernetes keeps it as int32)";

/// Reads a count that Kubernetes keeps as `int32`, refusing a negative one or one above
/// `INT32_MAX` with the range (rather than `u32`'s, which the API server would not take).
pub(super) fn int32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    // Through `deserialize_any`, not `i128`: an untagged enum (`IntOrPercent`) buffers its
    // input, and the buffer cannot give an `i128`.
    d.deserialize_any(Count)
}

struct Count;

impl Count {
    fn check<E: serde::de::Error>(n: i128) -> Result<u32, E> {
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= INT32_MAX)
            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Other(&n.to_string()), &COUNT))
    }
}

impl serde::de::Visitor<'_> for Count {
    type Value = u32;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(COUNT)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u32, E> {
        Count::check(n.into())
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u32, E> {
        Count::check(n.into())
    }

    fn visit_u128<E: serde::de::Error>(self, n: u128) -> Result<u32, E> {
        Count::check(i128::try_from(n).unwrap_or(i128::MAX))
    }

    fn visit_i128<E: serde::de::Error>(self, n: i128) -> Result<u32, E> {
        Count::check(n)
    }
}

/// `int32` for an optional field (`#[serde(default, deserialize_with = ...)]`).
pub(super) fn optional_int32<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u32>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Present(#[serde(deserialize_with = "int32")] u32);
    use serde::Deserialize;
    Ok(Option::<Present>::deserialize(d)?.map(|Present(n)| n))
}

#[cfg(test)]
mod tests {
    use crate::environment::load_spec;

    #[test]
    fn an_integer_beyond_64_bits_in_values_is_refused_with_where_and_fix() {
        let err = load_spec("  app: {name: web, image: x:1}\n  regions: [{name: east, context: c}]\n  values: {id: 12345678901234567890123}\n")
            .unwrap_err();
        assert_eq!(err.path.as_ref().unwrap().to_string(), "spec.values.id");
        assert_eq!(err.position.unwrap().to_string(), "6:16");
        assert!(
            err.message
                .contains("`12345678901234567890123` is a whole number too large"),
            "{}",
            err.message
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("quote it to keep it as text: `\"12345678901234567890123\"`")
        );
    }

    #[test]
    fn region_values_and_lists_are_checked_and_floats_and_fitting_numbers_pass() {
        let err = load_spec("  app: {name: web, image: x:1}\n  regions:\n    - name: east\n      context: c\n      values:\n        ids:\n          - 1\n          - -99999999999999999999\n")
            .unwrap_err();
        assert_eq!(
            err.path.unwrap().to_string(),
            "spec.regions[0].values.ids[1]"
        );
        load_spec("  app: {name: web, image: x:1}\n  regions: [{name: east, context: c}]\n  values: {a: 1e22, b: 18446744073709551615, c: -9223372036854775808, d: \"12345678901234567890123\", e: 0.5}\n")
            .unwrap();
    }
}
