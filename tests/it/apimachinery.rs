//! Our Kubernetes name, key, label and quantity checks against k8s.io/apimachinery itself (the
//! version the testenv's kube-apiserver is built with), through the oracle
//! `testenv/tools/oracles/k8s-apimachinery`: generated inputs, and each input of issue 13 with
//! its right value.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use kubectl_hadr::environment::names;
use kubectl_hadr::environment::parse_quantity;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::testenv::oracle;

/// The oracle process, kept for the whole test binary: one request line, one answer line.
struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn ask(request: Value) -> Value {
    static ORACLE: OnceLock<Mutex<Oracle>> = OnceLock::new();
    let oracle = ORACLE.get_or_init(|| {
        let mut child = Command::new(oracle("k8s-apimachinery"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the k8s-apimachinery oracle");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Mutex::new(Oracle {
            _child: child,
            stdin,
            stdout,
        })
    });
    let mut o = oracle.lock().unwrap_or_else(|p| p.into_inner());
    writeln!(o.stdin, "{request}").unwrap();
    o.stdin.flush().unwrap();
    let mut line = String::new();
    o.stdout.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("oracle answered {line:?}: {e}"))
}

/// Whether apimachinery's FUNC accepts INPUT.
fn go_accepts(func: &str, input: &str) -> bool {
    ask(json!([func, input]))["errors"]
        .as_array()
        .is_some_and(Vec::is_empty)
}

type Check = fn(&str) -> Result<(), &'static str>;

const NAME_CHECKS: [(&str, Check); 6] = [
    ("dns1123_label", names::dns1123_label),
    ("dns1123_subdomain", names::dns1123_subdomain),
    ("dns1035_label", names::dns1035_label),
    ("qualified_name", names::qualified_name),
    ("label_value", names::label_value),
    ("config_map_key", names::config_map_key),
];

fn assert_names_agree(input: &str) {
    for (func, ours) in NAME_CHECKS {
        assert_eq!(
            ours(input).is_ok(),
            go_accepts(func, input),
            "{func}({input:?}): ours says {:?}",
            ours(input)
        );
    }
}

/// Names near the rules' edges: the characters they treat differently, lengths around 63 and
/// 253, and slashes and dots where prefixes and labels split.
fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-a-zA-Z0-9._/]{0,12}",
        "[a-z0-9][-a-z0-9.]{0,4}",
        "[-a-z0-9./_%:A-Z\\\\ ]{0,8}",
        (1usize..300, "[a-z0-9.-]{0,3}").prop_map(|(n, tail)| format!("{}{tail}", "a".repeat(n))),
        (1usize..80, 1usize..80).prop_map(|(p, n)| format!(
            "{}.io/{}",
            "p".repeat(p),
            "n".repeat(n)
        )),
    ]
}

/// Quantities as people write them and as they get them wrong: signs, digits on either side of
/// a point, every suffix the server knows and several it does not. Exponents stay small here:
/// apimachinery spins for minutes on more than 18 digits with an exponent near 2^31 (its
/// slow path scales an arbitrary-precision decimal by it); the named tests cover the 32- and
/// 64-bit edges with short numbers.
fn quantity_text() -> impl Strategy<Value = String> {
    let suffix = prop_oneof![
        prop::sample::select(vec![
            "",
            "n",
            "u",
            "m",
            "k",
            "M",
            "G",
            "T",
            "P",
            "E",
            "Ki",
            "Mi",
            "Gi",
            "Ti",
            "Pi",
            "Ei",
            "GB",
            "mi",
            "mm",
            "KB",
            "K",
            "i",
            "e",
            "E",
            "e3",
            "E-2",
            "e+5",
            "e-",
            "e-12",
            "e9223372036854775808",
            " ",
            "x",
            "Gi ",
        ])
        .prop_map(str::to_string),
        "[eEinumkKMGTP]{0,3}[-+]?[0-9]{0,3}",
    ];
    prop_oneof![
        4 => (
            prop::sample::select(vec!["", "+", "-"]),
            "[0-9]{0,22}",
            prop::option::of("[0-9]{0,22}"),
            suffix,
        )
            .prop_map(|(sign, int, frac, suffix)| match frac {
                Some(f) => format!("{sign}{int}.{f}{suffix}"),
                None => format!("{sign}{int}{suffix}"),
            }),
        1 => "[-+.0-9eEinumkKMGTPB ]{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "needs testenv: scripts/test runs it"]
    fn names_keys_and_label_values_are_judged_as_apimachinery_does(input in name_text()) {
        assert_names_agree(&input);
    }

    #[test]
    #[ignore = "needs testenv: scripts/test runs it"]
    fn quantities_parse_as_apimachinery_parses_them(input in quantity_text()) {
        let theirs = ask(json!(["quantity", input]));
        let go_ok = theirs["errors"].as_array().is_some_and(Vec::is_empty);
        prop_assert_eq!(parse_quantity(&input).is_ok(), go_ok, "{:?}: Go says {}", input, theirs);
    }

    #[test]
    #[ignore = "needs testenv: scripts/test runs it"]
    fn quantities_compare_as_apimachinery_compares_them(a in quantity_text(), b in quantity_text()) {
        let (Ok(qa), Ok(qb)) = (parse_quantity(&a), parse_quantity(&b)) else {
            return Ok(());
        };
        let theirs = ask(json!(["cmp", a, b]));
        let ours = qa.partial_cmp(&qb).map(|o| o as i8);
        prop_assert_eq!(ours.map(i64::from), theirs["cmp"].as_i64(), "{:?} vs {:?}", a, b);
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue_13_item_7_quantities_have_the_api_servers_verdict() {
    for (input, valid) in [
        ("1G", true),
        ("1GB", false),
        ("512mi", false),
        ("250mm", false),
        ("1e3", true),
        ("250m", true),
        ("512Mi", true),
        (".", true),
        ("-", true),
        ("1.Ki", true),
        ("", false),
        ("1e4294967296", true),
        ("1e9223372036854775807", true),
        ("1e9223372036854775808", false),
        ("1e-2147483649", true),
        ("1E+5", true),
        ("1e", false),
    ] {
        assert_eq!(go_accepts("quantity", input), valid, "Go: {input:?}");
        assert_eq!(parse_quantity(input).is_ok(), valid, "ours: {input:?}");
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue_13_item_7_a_memory_limit_below_the_request_compares_below_it() {
    for (limit, request, cmp) in [
        ("512Mi", "1Gi", -1),
        ("1Gi", "1073741824", 0),
        ("1G", "1Gi", -1),
    ] {
        assert_eq!(
            ask(json!(["cmp", limit, request]))["cmp"],
            cmp,
            "Go: {limit} vs {request}"
        );
        let ours = parse_quantity(limit)
            .unwrap()
            .partial_cmp(&parse_quantity(request).unwrap());
        assert_eq!(
            ours.map(|o| o as i64),
            Some(cmp),
            "ours: {limit} vs {request}"
        );
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue_13_item_4_7days_api_is_a_dns1123_label_but_no_dns1035_label() {
    assert!(go_accepts("dns1123_label", "7days-api"));
    assert!(!go_accepts("dns1035_label", "7days-api"));
    assert_names_agree("7days-api");
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn names_at_the_length_limits_are_judged_as_apimachinery_does() {
    for n in [62, 63, 64, 252, 253, 254] {
        assert_names_agree(&"a".repeat(n));
    }
    for input in [
        "..", "..a", ".", "a/b", "/a", "a/", "x.io/y/z", "A_b", "-", "a..b", ".a",
    ] {
        assert_names_agree(input);
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn a_json_quantity_padded_with_spaces_is_read_as_the_server_reads_it() {
    use kubectl_hadr::environment::parse_quantity_json;
    for text in [" 1Gi ", "1Gi", "  250m", "1 Gi"] {
        let raw = serde_json::to_string(text).unwrap();
        let go_ok = ask(json!(["quantity_json", raw]))["errors"]
            .as_array()
            .is_some_and(Vec::is_empty);
        let ours = parse_quantity_json(&json!(text)).unwrap().is_ok();
        assert_eq!(ours, go_ok, "{text:?}");
    }
}
