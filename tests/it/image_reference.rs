//! `names::image_reference` against the kubelet's own judge of an image reference: oracle
//! `distribution-reference` (`github.com/distribution/reference` v0.6.0
//! `ParseNormalizedNamed`, as `pkg/util/parsers.ParseImageName` calls it before a pull). Rust
//! must accept exactly the references Go parses: generated references built part by part
//! near each rule's edge, and the fixed cases of the unit test in `names.rs`.

use kubectl_hadr::environment::names::image_reference;
use proptest::prelude::*;

use crate::support::oracle::{Oracle, differential, text_of};

/// Go's verdict on one reference, and its answer line (the normalized name or the error).
fn go_parses(oracle: &mut Oracle, reference: &str) -> (bool, String) {
    let answer = oracle.ask_line(&serde_json::to_string(reference).unwrap());
    (answer.starts_with("ok\t"), answer)
}

fn assert_agrees(oracle: &mut Oracle, reference: &str) {
    let (go, answer) = go_parses(oracle, reference);
    assert_eq!(
        image_reference(reference).is_ok(),
        go,
        "{reference:?}: ours says {:?}, Go says {answer}",
        image_reference(reference)
    );
}

const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A registry host, with or without a port: DNS names, IPv4 and IPv6, Docker Hub's two
/// names, `localhost`, uppercase, and hosts the grammar refuses.
fn registry() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "localhost", "localhost:5000", "r.io", "R.Example.COM", "registry.example.com:443",
            "[::1]", "[::1]:5000", "[2001:DB8::1]:443", "[fe80::1%eth0]", "[::ffff:1.2.3.4]",
            "[]", "127.0.0.1:5000", "docker.io", "index.docker.io", "my-registry", "my_registry",
            "My-Registry", "-r.io", "r-.io", "r..io", ".r.io", "", "r.io:", "r.io:port", "r.io:-1",
            "a--b.io", "xn--bcher-kva.example",
        ])
        .prop_map(str::to_string),
        2 => "[a-zA-Z0-9][a-zA-Z0-9.-]{0,6}(:[0-9]{1,5})?",
    ]
}

/// One path component: lowercase runs joined by each separator the grammar knows (and some
/// it does not), uppercase, leading and trailing separators, non-ASCII and whitespace.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => "[a-z0-9]{1,3}((\\.|_|__|-|--|---)[a-z0-9]{1,3})?",
        2 => "[a-z0-9]{1,3}(\\.|_|__|___|-|--|---|\\._|-_)?[a-z0-9]{0,3}",
        2 => prop::sample::select(vec![
            "", "A", "App", "a__b", "a___b", "a..b", "a._b", "a-.b", "-a", "a-", "_a", "a_",
            ".a", "a.", "library", "é", "a b", "a\tb", "a\u{a0}b", "a\u{200b}", "a:b", "a@b",
            HEX64,
        ])
        .prop_map(str::to_string),
        1 => "[-a-zA-Z0-9._]{1,6}",
    ]
}

/// A tag: word characters, `.` and `-`, at and around its 128-character limit, with a
/// leading `.` or `-`, uppercase, empty, and with characters it may not hold.
fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9_][A-Za-z0-9_.-]{0,6}",
        2 => prop::sample::select(vec![
            "", ".x", "-x", "_x", "x.", "Latest", "v1.2.3-rc.1", "t t", "é", "a/b", "a:b", "a@b",
        ])
        .prop_map(str::to_string),
        1 => (prop::sample::select(vec!["t", ".", "-", "_", "T"]), 125usize..=130)
            .prop_map(|(first, n)| format!("{first}{}", "t".repeat(n - 1))),
    ]
}

/// A digest: the algorithms go-digest knows and some it does not, with 31, 32, 64 (and the
/// other lengths around sha384's and sha512's) hex digits, in either case.
fn digest() -> impl Strategy<Value = String> {
    let algorithm = prop::sample::select(vec![
        "sha256",
        "sha384",
        "sha512",
        "SHA256",
        "Sha512",
        "md5",
        "sha256+b64",
        "sha256.x",
        "multihash",
        "blake3",
        "",
        "1sha",
        "sha-256",
        "sha_256",
    ]);
    let length = prop::sample::select(vec![
        0usize, 1, 31, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129,
    ]);
    let case = prop::sample::select(vec!["lower", "upper", "mixed", "not hex"]);
    let hex = |length: usize| -> String { HEX64.chars().cycle().take(length).collect() };
    let valid = prop::sample::select(vec![("sha256", 64), ("sha384", 96), ("sha512", 128)])
        .prop_map(move |(algorithm, length)| format!("{algorithm}:{}", hex(length)));
    let any = (algorithm, length, case).prop_map(move |(algorithm, length, case)| {
        let hex = hex(length);
        let encoded = match case {
            "lower" => hex,
            "upper" => hex.to_ascii_uppercase(),
            "mixed" => hex.replacen('a', "A", 1),
            _ => hex.replacen('0', "g", 1),
        };
        format!("{algorithm}:{encoded}")
    });
    prop_oneof![1 => valid, 2 => any]
}

/// A repository path: one to four components, or one long run of `a` around the 255
/// characters the normalized path may have (Docker Hub names count with `library/`).
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::collection::vec(component(), 1..=4).prop_map(|c| c.join("/")),
        1 => (240usize..=260).prop_map(|n| "a".repeat(n)),
        1 => (240usize..=260).prop_map(|n| format!("team/{}", "a".repeat(n - 5))),
    ]
}

/// References put together part by part, `64-hex` image IDs, and loose text of the
/// reference's characters.
fn reference() -> impl Strategy<Value = String> {
    let parts = (
        prop::option::of(registry()),
        path(),
        prop::option::of(tag()),
        prop::option::weighted(0.4, prop_oneof![3 => digest(), 1 => Just(String::new())]),
    )
        .prop_map(|(registry, path, tag, digest)| {
            let mut s = registry.map(|r| format!("{r}/")).unwrap_or_default() + &path;
            if let Some(tag) = tag {
                s = s + ":" + &tag;
            }
            if let Some(digest) = digest {
                s = s + "@" + &digest;
            }
            s
        });
    let identifier = (
        "[0-9a-fA-F]{63,65}",
        prop::sample::select(vec!["", ":latest", "@"]),
    )
        .prop_map(|(hex, suffix)| hex + suffix);
    prop_oneof![
        8 => parts,
        1 => identifier,
        2 => text_of(
            &["/", ":", "@", ".", "_", "__", "-", "a", "A", "0", "sha256:", HEX64, "[::1]", " ", "é", "localhost"],
            260,
        ),
    ]
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn image_references_are_accepted_exactly_when_the_kubelet_parses_them() {
    differential(
        "distribution-reference",
        4000,
        reference(),
        |oracle, reference| {
            let (go, answer) = go_parses(oracle, &reference);
            prop_assert_eq!(
                image_reference(&reference).is_ok(),
                go,
                "{:?}: ours says {:?}, Go says {}",
                reference,
                image_reference(&reference),
                answer
            );
            Ok(())
        },
    );
}

/// The fixed cases of `names.rs`'s unit test, and the edges that unit test names in words.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn image_reference_unit_cases_have_the_kubelets_verdict() {
    let mut oracle = Oracle::start("distribution-reference");
    let sha = format!("sha256:{HEX64}");
    let mut cases: Vec<String> = [
        "nginx",
        "nginx:1.25",
        "registry.example.com/my-app:1.4.2",
        "localhost:5000/team/app:v1_2.3-rc",
        "[::1]:5000/app",
        "a__b/c.d-e",
        "Registry.Example.com/app",
        "",
        "bad image",
        "\u{201c}registry.example.com/my-app:1.4.2\u{201d}",
        "registry.example.com/My-App:1",
        "nginx:",
        "nginx:-1",
        "r.io/web@sha256:abc",
        "a//b",
        "-a",
    ]
    .map(str::to_string)
    .into();
    cases.push(format!("r.io/web@{sha}"));
    cases.push(format!("r.io/web:1.0@{sha}"));
    cases.push(format!("app:{}", "t".repeat(129)));
    cases.push("a".repeat(256));
    for case in &cases {
        assert_agrees(&mut oracle, case);
    }
}

/// What the differential test found `names.rs` accepting while the kubelet refuses it (and
/// the reverse), each with the kubelet's verdict: a bare image ID, digests go-digest does not
/// take, and the repository path's length counted after the registry and with `library/`.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn references_the_grammar_allows_have_the_kubelets_verdict_beyond_it() {
    let mut oracle = Oracle::start("distribution-reference");
    let a = |n: usize| "a".repeat(n);
    for (reference, pulls) in [
        (HEX64.to_string(), false),
        (format!("{HEX64}:latest"), true),
        (format!("r.io/web@sha256:{}", &HEX64[..32]), false),
        (format!("r.io/web@sha256:{}", HEX64.to_uppercase()), false),
        (format!("r.io/web@md5:{}", &HEX64[..32]), false),
        (format!("r.io/web@sha512:{HEX64}{HEX64}"), true),
        (format!("r.io/web@sha384:{HEX64}{}", &HEX64[..32]), true),
        (a(247), true),
        (a(248), false),
        (format!("docker.io/{}", a(248)), false),
        (format!("index.docker.io/{}", a(247)), true),
        (format!("team/{}", a(250)), true),
        (format!("team/{}", a(251)), false),
        (format!("r.io/{}", a(255)), true),
        (format!("localhost:5000/{}", a(255)), true),
        (format!("Team/{}", a(255)), true),
        (format!("foo_bar.baz/{}", a(243)), true),
        (format!("foo_bar.baz/{}", a(244)), false),
    ] {
        let (go, answer) = go_parses(&mut oracle, &reference);
        assert_eq!(go, pulls, "Go on {reference:?}: {answer}");
        assert_eq!(
            image_reference(&reference).is_ok(),
            pulls,
            "ours on {reference:?}: {:?}",
            image_reference(&reference)
        );
    }
}
