//! Names Kubernetes and the output directory accept.

/// Checks a DNS-1123 label (RFC 1123): what Kubernetes requires of namespaces and most names,
/// and what keeps a name from escaping the output directory.
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// Whether a key is a valid ConfigMap key: letters, digits, '-', '_' and '.', at most 253
/// characters, and neither `.` nor `..`.
pub(super) fn config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && key != "."
        && key != ".."
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
}
