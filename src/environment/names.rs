//! Names, keys and label values as the Kubernetes API server accepts them: the checks of
//! `k8s.io/apimachinery/pkg/util/validation` (v0.36, the testenv's apiserver), proven equal to
//! it by the differential tests against `testenv/tools/oracles/k8s-apimachinery`.
//!
//! Each check returns `Err(problem)`, the first rule the text breaks, in words a user can act
//! on (`it is longer than 63 characters`).

/// Longest DNS-1123 / DNS-1035 label, and longest label value or name part of a key.
pub const LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain, and longest ConfigMap or Secret key.
pub const SUBDOMAIN_MAX: usize = 253;

/// Checks a DNS-1123 label (RFC 1123): what Kubernetes requires of namespaces, and what keeps
/// a name from escaping the output directory. `IsDNS1123Label`.
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > LABEL_MAX {
        return Err("it is longer than 63 characters");
    }
    if !s.bytes().all(is_lower_alnum_or_dash) {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// Checks a DNS-1035 label (RFC 1035): what Kubernetes requires of Service names, which
/// become DNS names. Like a DNS-1123 label, but it starts with a letter. `IsDNS1035Label`.
pub fn dns1035_label(s: &str) -> Result<(), &'static str> {
    dns1123_label(s)?;
    if !s.as_bytes()[0].is_ascii_lowercase() {
        return Err("it must start with a lowercase letter");
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters in all;
/// what Kubernetes requires of most object names. `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > SUBDOMAIN_MAX {
        return Err("it is longer than 253 characters");
    }
    if !s.bytes().all(|c| is_lower_alnum_or_dash(c) || c == b'.') {
        return Err("only lowercase letters, digits, '-' and '.' are allowed");
    }
    // Each dot-separated part is a label: it starts and ends with a letter or digit.
    let bad_part = s
        .split('.')
        .any(|p| p.is_empty() || p.starts_with('-') || p.ends_with('-'));
    if bad_part {
        return Err(
            "it must start and end with a letter or digit, and so must each part between dots",
        );
    }
    Ok(())
}

/// Checks a qualified name: `[prefix/]name`, the shape of label and annotation keys. The
/// prefix is a DNS-1123 subdomain; the name is at most 63 letters, digits, '-', '_' and '.',
/// starting and ending with a letter or digit. `IsQualifiedName`.
pub fn qualified_name(s: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("the prefix before '/' is empty");
            }
            dns1123_subdomain(prefix).map_err(|_| {
                "the prefix before '/' must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
            })?;
            *name
        }
        _ => return Err("it has more than one '/'"),
    };
    if name.is_empty() {
        return Err("the name part is empty");
    }
    if name.len() > LABEL_MAX {
        return Err("the name part is longer than 63 characters");
    }
    if !is_label_text(name) {
        return Err(
            "the name part may hold only letters, digits, '-', '_' and '.', and must start and end with a letter or digit",
        );
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and
/// ending with a letter or digit. `IsValidLabelValue`.
pub fn label_value(s: &str) -> Result<(), &'static str> {
    if s.len() > LABEL_MAX {
        return Err("it is longer than 63 characters");
    }
    if !s.is_empty() && !is_label_text(s) {
        return Err(
            "it may hold only letters, digits, '-', '_' and '.', and must start and end with a letter or digit",
        );
    }
    Ok(())
}

/// Checks a ConfigMap or Secret key: letters, digits, '-', '_' and '.', at most 253
/// characters, and neither `.` nor starting with `..`. `IsConfigMapKey`.
pub fn config_map_key(key: &str) -> Result<(), &'static str> {
    if key.len() > SUBDOMAIN_MAX {
        return Err("it is longer than 253 characters");
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
    {
        return Err("it must be letters, digits, '-', '_' and '.' only");
    }
    if key == "." {
        return Err("it must not be '.'");
    }
    if key.starts_with("..") {
        return Err("it must not start with '..'");
    }
    Ok(())
}

fn is_lower_alnum_or_dash(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the text of label values and key names.
fn is_label_text(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_reject_path_escapes() {
        assert!(dns1123_label("eastus2").is_ok());
        for bad in ["..", "../x", "a/b", "Prod", "-a", "a-", "", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_service_name_starting_with_a_digit_is_not_a_dns1035_label() {
        assert_eq!(
            dns1035_label("7days-api"),
            Err("it must start with a lowercase letter")
        );
        assert!(dns1123_label("7days-api").is_ok());
        assert!(dns1035_label("days7-api").is_ok());
    }

    #[test]
    fn subdomains_are_dotted_labels_up_to_253_characters() {
        assert!(dns1123_subdomain("my-app.v1").is_ok());
        assert!(dns1123_subdomain(&"a".repeat(253)).is_ok());
        for bad in ["", "a..b", ".a", "a.", "a.-b", "A", "a_b", &"a".repeat(254)] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualified_names_take_one_subdomain_prefix() {
        for good in ["app", "app.kubernetes.io/name", "A_b.c", "x/Y"] {
            assert!(qualified_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a/b/c",
            "Ex.com/a",
            "-a",
            "a-",
            &"a".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_longer_than_63() {
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_x-Y").is_ok());
        assert!(label_value(&"a".repeat(64)).is_err());
        assert!(label_value("a b").is_err());
    }

    #[test]
    fn config_map_keys_refuse_dot_and_a_double_dot_prefix() {
        assert!(config_map_key("app.properties").is_ok());
        assert!(config_map_key("..").is_err());
        assert_eq!(config_map_key("..data"), Err("it must not start with '..'"));
        assert!(config_map_key(".hidden").is_ok());
        assert!(config_map_key(&"k".repeat(254)).is_err());
    }
}
