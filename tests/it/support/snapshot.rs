//! CLI snapshots: a run of the binary as one text (exit code, stdout and stderr), and the
//! filters every snapshot shares, so that temp paths, versions, digests, content hashes and
//! timings do not make snapshots differ between machines and runs.

use assert_cmd::Command;

/// Runs `cmd` and shows everything a user sees of it.
pub fn cli(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run kubectl-hadr");
    let code = out
        .status
        .code()
        .map_or("killed by a signal".into(), |c| c.to_string());
    format!(
        "exit: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The shared filters, with `root` (a workspace or a test namespace's name) shown as
/// `[ROOT]`. Bind them for a test with `let _s = filters(...).bind_to_scope();`.
pub fn filters(root: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(root), "[ROOT]");
    s.add_filter(&regex_escape(env!("CARGO_PKG_VERSION")), "[VERSION]");
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    s.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    s.add_filter(r"\b\d+\.\ds\b", "[SECONDS]s");
    s
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
