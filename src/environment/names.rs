//! Names, keys and label values as the Kubernetes API server accepts them: the checks of
//! `k8s.io/apimachinery/pkg/util/validation` (v0.36, the testenv's apiserver), proven equal to
//! it by the differential tests against `testenv/tools/oracles/k8s-apimachinery`; and image
//! references as the kubelet parses them to pull (`image_reference`, proven against
//! `testenv/tools/oracles/distribution-reference`).
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

/// Longest repository path of an image reference (`RepositoryNameTotalLengthMax`).
const IMAGE_PATH_MAX: usize = 255;

/// Checks a container image reference as the kubelet reads it to pull the image:
/// `github.com/distribution/reference` v0.6.0 `ParseNormalizedNamed`, as Kubernetes v1.36's
/// `pkg/util/parsers.ParseImageName` calls it (proven equal by `tests/it/image_reference.rs`
/// against the oracle `distribution-reference`). The reference is a repository name of
/// `/`-separated lowercase components, the first of which may be a registry host with a port;
/// then a `:tag` of at most 128 word characters, `.` and `-` (not first); then an
/// `@algorithm:hex` digest, which go-digest takes only as sha256, sha384 or sha512 with
/// exactly 64, 96 or 128 lowercase hex digits. The repository path, counted after the
/// registry and with Docker Hub's `library/` in front of a one-component name, is at most 255
/// characters, and a bare 64-hex-digit image ID is refused. A reference it refuses fails
/// every pull (`InvalidImageName`), while the API server stores it without complaint.
pub fn image_reference(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii() || c.is_ascii_whitespace()) {
        return Err(if c.is_whitespace() {
            "it holds a space; an image reference has none"
        } else {
            "it holds a character that is not ASCII (a typographic quote?)"
        });
    }
    let grammar = ReferenceGrammar::get();
    let Some(found) = grammar.reference.captures(s) else {
        return Err(grammar_problem(s));
    };
    if s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(
            "it is a 64-hex-digit image ID, not a repository name; name the repository it belongs to, with the ID as its digest (`repository@sha256:<ID>`)",
        );
    }
    if let Some(digest) = found.get(3) {
        image_digest(digest.as_str())?;
    }
    let name = found.get(1).map_or("", |n| n.as_str());
    if repository_path_len(name, &grammar.host) > IMAGE_PATH_MAX {
        return Err(
            "its repository path is longer than 255 characters (counted after the registry host; a name without one counts as Docker Hub's `library/NAME`)",
        );
    }
    Ok(())
}

/// The reference grammar of distribution/reference's `regexp.go`: the whole reference
/// (captures: name, tag, digest), and a registry host with its optional port.
struct ReferenceGrammar {
    reference: regex::Regex,
    host: regex::Regex,
}

impl ReferenceGrammar {
    fn get() -> &'static ReferenceGrammar {
        use std::sync::OnceLock;
        static GRAMMAR: OnceLock<ReferenceGrammar> = OnceLock::new();
        GRAMMAR.get_or_init(|| {
            let alnum = "[a-z0-9]+";
            let separator = "(?:[._]|__|[-]+)";
            let component = format!("{alnum}(?:{separator}{alnum})*");
            let domain_part = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
            let host =
                format!(r"(?:{domain_part}(?:\.{domain_part})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?");
            let name = format!("(?:{host}/)?{component}(?:/{component})*");
            let tag = r"[\w][\w.-]{0,127}";
            let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
            let compile = |re: String| {
                regex::Regex::new(&re)
                    .unwrap_or_else(|e| unreachable!("the reference grammar compiles: {e}"))
            };
            ReferenceGrammar {
                reference: compile(format!("^({name})(?::({tag}))?(?:@({digest}))?$")),
                host: compile(format!("^{host}$")),
            }
        })
    }
}

/// Why a reference the grammar refuses is wrong: uppercase in the repository, or the shape.
fn grammar_problem(s: &str) -> &'static str {
    let name = s.split([':', '@']).next().unwrap_or(s);
    if name.contains(|c: char| c.is_ascii_uppercase()) {
        "the repository name has uppercase letters; it must be lowercase"
    } else {
        "it is not `[registry/]repository[:tag][@sha256:digest]` with a lowercase repository, a tag of letters, digits, `_`, `.` and `-` (not first), and a digest of 64 hex digits"
    }
}

/// Checks a digest the grammar let through as go-digest does (`Digest.Validate`): only the
/// algorithms it knows, each with exactly its number of lowercase hex digits.
fn image_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let (digits, wrong_length) = match algorithm {
        "sha256" => (64, "a sha256 digest must have exactly 64 hex digits"),
        "sha384" => (96, "a sha384 digest must have exactly 96 hex digits"),
        "sha512" => (128, "a sha512 digest must have exactly 128 hex digits"),
        _ => return Err("the digest's algorithm must be sha256, sha384 or sha512 (lowercase)"),
    };
    if hex.len() != digits {
        return Err(wrong_length);
    }
    if hex.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err("the digest's hex digits must be lowercase");
    }
    Ok(())
}

/// The length of the repository path `ParseNormalizedNamed` checks: a name with no `/` is
/// Docker Hub's `library/NAME`; a first component that is `localhost`, holds `.` or `:`, or
/// has uppercase is the registry and does not count (Docker Hub's names again get `library/`
/// before a one-component path), unless it is no valid host, when the whole name is the path.
fn repository_path_len(name: &str, host: &regex::Regex) -> usize {
    const LIBRARY: usize = "library/".len();
    let Some((first, rest)) = name.split_once('/') else {
        return LIBRARY + name.len();
    };
    let registry = first == "localhost"
        || first.contains(['.', ':'])
        || first.contains(|c: char| c.is_ascii_uppercase());
    if !registry || !host.is_match(first) {
        return name.len();
    }
    if matches!(first, "docker.io" | "index.docker.io") && !rest.contains('/') {
        return LIBRARY + rest.len();
    }
    rest.len()
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

    #[test]
    fn image_references_follow_the_distribution_reference_grammar() {
        let digest = "sha256:".to_string() + &"ab".repeat(32);
        for ok in [
            "nginx".to_string(),
            "nginx:1.25".into(),
            "registry.example.com/my-app:1.4.2".into(),
            "localhost:5000/team/app:v1_2.3-rc".into(),
            "[::1]:5000/app".into(),
            "a__b/c.d-e".into(),
            "Registry.Example.com/app".into(),
            format!("r.io/web@{digest}"),
            format!("r.io/web:1.0@{digest}"),
        ] {
            assert_eq!(image_reference(&ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("bad image", "space"),
            (
                "\u{201c}registry.example.com/my-app:1.4.2\u{201d}",
                "not ASCII",
            ),
            ("registry.example.com/My-App:1", "uppercase"),
            ("nginx:", "tag"),
            ("nginx:-1", "tag"),
            ("r.io/web@sha256:abc", "digest"),
            ("a//b", "repository"),
            ("-a", "repository"),
        ] {
            let problem = image_reference(bad).unwrap_err();
            assert!(problem.contains(why), "{bad}: {problem}");
        }
        let long_tag = format!("app:{}", "t".repeat(129));
        assert!(image_reference(&long_tag).is_err());
        assert!(
            image_reference(&"a".repeat(256))
                .unwrap_err()
                .contains("255")
        );
    }

    #[test]
    fn image_references_are_refused_beyond_the_grammar_as_the_kubelet_refuses_them() {
        let hex64 = "0123456789abcdef".repeat(4);
        for ok in [
            "a".repeat(247),
            format!("r.io/{}", "a".repeat(255)),
            format!("docker.io/{}", "a".repeat(247)),
            format!("foo_bar.baz/{}", "a".repeat(243)),
            format!("r.io/web@sha512:{}", hex64.repeat(2)),
            format!("{hex64}:latest"),
        ] {
            assert_eq!(image_reference(&ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            (hex64.clone(), "image ID"),
            (format!("r.io/web@sha256:{}", &hex64[..32]), "exactly 64"),
            (
                format!("r.io/web@sha256:{}", hex64.to_uppercase()),
                "lowercase",
            ),
            (format!("r.io/web@md5:{}", &hex64[..32]), "algorithm"),
            ("a".repeat(248), "library/"),
            (format!("docker.io/{}", "a".repeat(248)), "255"),
            (format!("foo_bar.baz/{}", "a".repeat(244)), "255"),
        ] {
            let problem = image_reference(&bad).unwrap_err();
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

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
