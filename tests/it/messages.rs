//! Issue 13 as the user sees it: each bad input of items 4, 7, 8 and 15-17 through the binary,
//! its exit code and whole message pinned by a snapshot (what, where, how to fix; nothing
//! internal; nothing secret).

use crate::support::snapshot::{cli, filters};
use crate::support::workspace::Workspace;

/// The examples with `from` replaced by `to` in environments/prod.yaml.
fn prod_with(from: &str, to: &str) -> Workspace {
    let ws = Workspace::examples();
    let text = ws.read("environments/prod.yaml");
    assert!(text.contains(from), "fixture lacks {from:?}");
    ws.write("environments/prod.yaml", text.replacen(from, to, 1));
    ws
}

/// `kubectl hadr ARGS` in WS, as a snapshot text (bind `scope(ws)` for its filters).
fn run(ws: &Workspace, args: &[&str]) -> String {
    let out = cli(&mut ws.hadr(args));
    assert!(!out.contains("panicked"), "{out}");
    out
}

/// The shared snapshot filters for WS, for as long as the guard lives.
fn scope(ws: &Workspace) -> insta::internals::SettingsBindDropGuard {
    filters(&ws.root().display().to_string()).bind_to_scope()
}

#[test]
fn issue_13_item_4_a_service_name_starting_with_a_digit_is_refused() {
    let ws = prod_with(
        "    replicas: 3\n",
        "    replicas: 3\n    name: 7days-api\n",
    );
    let out = run(&ws, &["render", "prod"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_4_a_template_service_named_7days_is_refused_naming_template_object_and_field() {
    let ws = Workspace::examples();
    ws.write(
        "templates/legacy-service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: 7days\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  ports: [{port: 80}]\n",
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_7_invalid_quantities_are_refused_with_the_unit_meant() {
    for (quantity, meant) in [("1GB", "1G"), ("512mi", "512Mi"), ("250mm", "250m")] {
        let field = if quantity == "250mm" { "cpu" } else { "memory" };
        let ws = prod_with(
            "    replicas: 3\n",
            &format!("    replicas: 3\n    resources: {{{field}: {quantity}}}\n"),
        );
        let out = run(&ws, &["render", "prod"]);
        assert!(out.starts_with("exit: 2\n"), "{out}");
        assert!(
            out.contains(&format!(
                "spec.app.resources.{field}: `{quantity}` is not a Kubernetes quantity"
            )),
            "{out}"
        );
        assert!(out.contains(&format!("help: write `{meant}`")), "{out}");
    }
}

#[test]
fn issue_13_item_7_a_memory_limit_below_the_request_is_refused() {
    let ws = prod_with(
        "    replicas: 3\n",
        "    replicas: 3\n    resources: {memory: 1Gi, memoryLimit: 512Mi}\n",
    );
    let out = run(&ws, &["render", "prod"]);
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_8_a_config_map_over_one_mebibyte_is_refused() {
    let big = "x".repeat(1_100_000);
    let ws = prod_with(
        "    FEATURE_CHECKOUT_V2: \"on\"\n",
        &format!("    FEATURE_CHECKOUT_V2: \"on\"\n    BIG: {big}\n"),
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_15_a_null_config_value_says_so_in_plain_words() {
    let ws = prod_with(
        "    FEATURE_CHECKOUT_V2: \"on\"\n",
        "    LOG_FORMAT: null\n",
    );
    let out = run(&ws, &["render", "prod"]);
    assert!(!out.contains("Option<"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_15_a_port_out_of_range_names_the_range() {
    let ws = prod_with("    replicas: 3\n", "    replicas: 3\n    port: 70000\n");
    let out = run(&ws, &["render", "prod"]);
    assert!(!out.contains("u16"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_15_two_documents_and_deep_nesting_say_what_to_do() {
    let ws = Workspace::examples();
    let text = ws.read("environments/prod.yaml");
    ws.write(
        "environments/prod.yaml",
        format!("{text}---\nkind: Other\n"),
    );
    let two = run(&ws, &["render", "prod"]);
    assert!(!two.contains("from_str"), "{two}");
    let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
    ws.write(
        "environments/prod.yaml",
        text.replace(
            "    ingressHost: my-app.example.com\n",
            &format!("    deep: {deep}\n"),
        ),
    );
    let nested = run(&ws, &["render", "prod"]);
    assert!(!nested.contains("Depth"), "{nested}");
    let _s = scope(&ws);
    insta::assert_snapshot!(format!("{two}\n{nested}"));
}

#[test]
fn issue_13_item_15_a_duplicate_key_points_at_its_second_occurrence() {
    let ws = prod_with("    replicas: 3\n", "    replicas: 3\n    replicas: 4\n");
    let out = run(&ws, &["render", "prod"]);
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_15_a_253_character_config_map_name_has_a_real_help_line() {
    let ws = Workspace::examples();
    ws.write(
        "templates/long.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: my-app\ndata: {{A: b}}\n",
            "a".repeat(253)
        ),
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    assert!(!out.contains("help: \n"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_16_a_yaml_error_in_a_secret_template_never_shows_the_value() {
    let ws = Workspace::examples();
    ws.write(
        "templates/db-secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: my-app\n  annotations: {hadr.dev/plaintext-secret: allow}\nstringData:\n  password: {{ values.ingressHost }}: x\n",
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(!out.contains("my-app.example.com"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

#[test]
fn issue_13_item_16_a_yaml11_warning_in_a_secret_never_shows_the_value() {
    let ws = Workspace::examples();
    ws.write(
        "templates/flag-secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: flag\n  namespace: my-app\n  annotations: {hadr.dev/plaintext-secret: allow}\nstringData:\n  token: yes\n",
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    assert!(out.contains("a Secret's value, not shown"), "{out}");
    assert!(!out.contains("`yes`"), "{out}");
}

#[test]
fn issue_13_item_17_a_missing_context_lists_the_kubeconfig_and_its_closest_contexts() {
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    ws.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\ncontexts:\n  - {name: staging-centralus, context: {cluster: c, user: u}}\n  - {name: prod-eastus-2, context: {cluster: c, user: u}}\n  - {name: dev, context: {cluster: c, user: u}}\ncurrent-context: dev\n",
    );
    let kubeconfig = ws.root().join("kubeconfig");
    let out = run(
        &ws,
        &[
            "diff",
            "prod",
            "--region",
            "eastus2",
            "--kubeconfig",
            &kubeconfig.display().to_string(),
        ],
    );
    assert!(out.contains("`prod-eastus-2`, "), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

/// Review of issue 13: a whole number beyond 64 bits in `values` was rounded
/// (`1.2345678901234568e+22`) and exit 0; it is refused with where and the fix.
#[test]
fn review_an_integer_beyond_64_bits_in_values_is_refused_not_rounded() {
    let ws = prod_with(
        "    ingressHost: my-app.example.com\n",
        "    ingressHost: my-app.example.com\n    id: 12345678901234567890123\n",
    );
    let out = run(&ws, &["render", "prod"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

/// Review of issue 13: a kubeconfig that does not exist said `failed to read kubeconfig from
/// '"/tmp/nonexist"': No such file or directory (os error 2)` with no help; it names the file,
/// where its name came from, and the fixes.
#[test]
fn review_a_kubeconfig_that_does_not_exist_names_the_file_and_the_fix() {
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    let missing = ws.root().join("no-such-kubeconfig");
    let mut cmd = ws.hadr(&["diff", "prod", "--region", "eastus2"]);
    cmd.env("KUBECONFIG", &missing);
    let out = cli(&mut cmd);
    assert!(
        out.starts_with("exit: 2\n") || out.contains("does not exist"),
        "{out}"
    );
    assert!(!out.contains("os error"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

/// Review of issue 13: `port: 0` said `port must be between 1 and 65535` with no help line.
#[test]
fn review_port_zero_says_the_range_and_how_to_fix() {
    let ws = prod_with("    replicas: 3\n", "    replicas: 3\n    port: 0\n");
    let out = run(&ws, &["render", "prod"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(out.contains("help: "), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

/// A kubeconfig with DEAD as the server of `prod-eastus2`, a context whose cluster is not
/// defined, one whose server is no URL, and one whose user runs a missing plugin.
fn kubeconfig_with(ws: &Workspace, dead: &str, user: &str) -> String {
    ws.write(
        "kubeconfig",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n  - {{name: c1, cluster: {{server: '{dead}'}}}}\n  - {{name: c2, cluster: {{server: 'not a url'}}}}\nusers:\n  - name: u1\n    user: {user}\n  - {{name: u2, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: no-such-auth-plugin}}}}}}\ncontexts:\n  - {{name: prod-eastus2, context: {{cluster: c1, user: u1}}}}\n  - {{name: no-cluster, context: {{cluster: c9, user: u1}}}}\n  - {{name: bad-url, context: {{cluster: c2, user: u1}}}}\n  - {{name: exec, context: {{cluster: c1, user: u2}}}}\ncurrent-context: prod-eastus2\n"
        ),
    );
    ws.root().join("kubeconfig").display().to_string()
}

/// Review of issue 13: a kubeconfig that YAML cannot read printed the offending line, a
/// token and a key with it (`--> <input>:5:59`); it names the file, line and column only.
#[test]
fn review_an_unreadable_kubeconfig_names_where_and_never_shows_its_credentials() {
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    let user = "{token: SUPERSECRETTOKEN, client-key-data: \"LS0tSECRETKEY}";
    let kubeconfig = kubeconfig_with(&ws, "https://127.0.0.1:1", user);
    let out = run(
        &ws,
        &[
            "diff",
            "prod",
            "--region",
            "eastus2",
            "--kubeconfig",
            &kubeconfig,
        ],
    );
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(!out.contains("SECRET"), "{out}");
    assert!(
        out.contains("kubeconfig:8:54: the YAML cannot be read"),
        "{out}"
    );
    assert!(out.contains("help: "), "{out}");
}

/// Review of issue 13: a region whose server does not answer said `ServiceError: client
/// error (Connect)`; the kubeconfig's own mistakes said kube's words with no fix.
#[test]
fn review_an_unreachable_or_misconfigured_context_says_why_in_words_with_a_fix() {
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    // A port nothing listens on: bound once, then freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let server = format!("https://127.0.0.1:{port}");
    let kubeconfig = kubeconfig_with(&ws, &server, "{token: abc}");
    let diff = |context: &str| {
        let args = [
            "diff",
            "prod",
            "--region",
            "eastus2",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            context,
        ];
        run(&ws, &args)
    };
    let out = diff("prod-eastus2");
    assert!(
        out.contains(&format!("nothing answers at {server} (connection refused)")),
        "{out}"
    );
    assert!(!out.contains("ServiceError"), "{out}");
    let out = diff("no-cluster");
    assert!(
        out.contains("the context names cluster `c9`, which the kubeconfig does not define"),
        "{out}"
    );
    let out = diff("bad-url");
    assert!(
        out.contains("its cluster's `server:` is not a URL"),
        "{out}"
    );
    let out = diff("exec");
    assert!(
        out.contains("the credential plugin its user runs (`user.exec.command`) is not found"),
        "{out}"
    );
    assert!(out.contains("help: "), "{out}");
}

/// Review of issue 13: a template error in a Secret's template showed the expression, secret
/// value and all (`at "hunter2-SUPERSECRET" + 1`); a template that failed to compile said
/// `while rendering environment ``, region `` `.
#[test]
fn review_a_template_error_in_a_secret_template_never_shows_its_text() {
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: my-app\n  annotations: {hadr.dev/plaintext-secret: allow}\nstringData:\n";
    for line in [
        "  password: {{ \"hunter2-SUPERSECRET\" + 1 }}\n",
        "  password: {% if true %}hunter2-SUPERSECRET\n",
    ] {
        let ws = Workspace::examples();
        ws.write("templates/db-secret.yaml", format!("{secret}{line}"));
        let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
        assert!(out.starts_with("exit: 2\n"), "{out}");
        assert!(out.contains("templates/db-secret.yaml:8:"), "{out}");
        assert!(!out.contains("SUPERSECRET"), "{out}");
        assert!(!out.contains("environment ``"), "{out}");
        assert!(out.contains("help: "), "{out}");
    }
}

/// Review of issue 13: `{{ values.ingresHost | tojson }}` (a typo) rendered `host: null`,
/// exit 0: minijinja's strict mode lets a filter take an undefined value.
#[test]
fn review_a_misspelled_value_given_to_tojson_is_an_error_naming_the_expression() {
    let ws = Workspace::examples();
    ws.write(
        "templates/ingress-host.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: host\n  namespace: my-app\ndata:\n  host: {{ values.ingresHost | tojson }}\n",
    );
    let out = run(&ws, &["render", "prod", "--region", "eastus2"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    let _s = scope(&ws);
    insta::assert_snapshot!(out);
}

/// Review of issue 13: a bad value in `_defaults.yaml` was blamed on each environment that
/// extends it (`prod.yaml:9:5`, a line that sets another field), once per environment; a
/// misspelled `extends:` had no help.
#[test]
fn review_a_mistake_in_an_extended_file_is_reported_there_once() {
    let ws = Workspace::examples();
    let defaults = ws.read("environments/_defaults.yaml");
    ws.write(
        "environments/_defaults.yaml",
        defaults.replacen("    name: my-app\n", "    name: My.App\n", 1),
    );
    let out = run(&ws, &["render"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert_eq!(out.matches("error: ").count(), 1, "{out}");
    assert!(
        out.contains("environments/_defaults.yaml:8:5: spec.app.name: app name `My.App`"),
        "{out}"
    );
    ws.write("environments/_defaults.yaml", defaults);
    let prod = ws.read("environments/prod.yaml");
    ws.write(
        "environments/prod.yaml",
        prod.replacen("extends: _defaults.yaml", "extends: _default.yaml", 1),
    );
    let out = run(&ws, &["render", "prod"]);
    assert!(
        out.contains("help: did you mean `_defaults.yaml`?"),
        "{out}"
    );
}

/// Second review of issue 13: a failing credential plugin printed its command line with its
/// secret arguments and environment, and its output; a missing user was taken as anonymous;
/// a missing token file was called a missing plugin; files named in the kubeconfig showed
/// `os error 2`.
#[test]
fn review_credential_failures_say_which_and_never_show_the_plugin_s_arguments_or_output() {
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    ws.write(
        "kubeconfig",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n  - {{name: c1, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}\n  - {{name: ca, cluster: {{server: 'https://127.0.0.1:{port}', certificate-authority: /nonexistent/ca.crt}}}}\nusers:\n  - {{name: fails, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: /bin/false, args: [--token, SUPERSECRETARG], env: [{{name: PW, value: SUPERSECRETENV}}]}}}}}}\n  - {{name: prints, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: /bin/echo, args: [SUPERSECRET-not-json]}}}}}}\n  - {{name: tokenfile, user: {{tokenFile: /nonexistent/tok}}}}\n  - {{name: ok, user: {{token: abc}}}}\ncontexts:\n  - {{name: fails, context: {{cluster: c1, user: fails}}}}\n  - {{name: prints, context: {{cluster: c1, user: prints}}}}\n  - {{name: tokenfile, context: {{cluster: c1, user: tokenfile}}}}\n  - {{name: ca, context: {{cluster: ca, user: ok}}}}\n  - {{name: nouser, context: {{cluster: c1, user: nouser}}}}\ncurrent-context: fails\n"
        ),
    );
    let kubeconfig = ws.root().join("kubeconfig").display().to_string();
    let diff = |context: &str| {
        let args = [
            "diff",
            "prod",
            "--region",
            "eastus2",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            context,
        ];
        let out = run(&ws, &args);
        assert!(!out.contains("SUPERSECRET"), "{out}");
        assert!(!out.contains("os error"), "{out}");
        out
    };
    assert!(
        diff("fails")
            .contains("the credential plugin its user runs (`user.exec`) failed (exit status: 1)")
    );
    assert!(diff("prints").contains("answered with no ExecCredential"));
    assert!(
        diff("tokenfile")
            .contains("its user's `tokenFile` /nonexistent/tok cannot be read: it does not exist")
    );
    assert!(diff("ca").contains("its cluster's `certificate-authority` file /nonexistent/ca.crt cannot be read: it does not exist"));
    assert!(
        diff("nouser")
            .contains("the context names user `nouser`, which the kubeconfig does not define")
    );
}

/// Second review of issue 13: `staging.yml` beside `staging.yaml` rendered both into one
/// directory and left half-written output (`directory not empty`); `render prod.yaml` had
/// no help.
#[test]
fn review_two_files_of_one_environment_are_refused_before_anything_is_written() {
    let ws = Workspace::examples();
    ws.write(
        "environments/staging.yml",
        ws.read("environments/staging.yaml"),
    );
    let out = run(&ws, &["render", "--out", "out"]);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(out.contains("environment `staging` is defined by"), "{out}");
    assert!(!ws.root().join("out").exists(), "{out}");
    std::fs::remove_file(ws.root().join("environments/staging.yml")).unwrap();
    let out = run(&ws, &["render", "prod.yaml"]);
    assert!(
        out.contains("help: name the environment, not its file: `prod`"),
        "{out}"
    );
}
