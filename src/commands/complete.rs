//! Dynamic completion for `kubectl hadr`: subcommands, flags, environment and region names,
//! answered in the cobra `__complete` format that kubectl's plugin completion expects.

use std::path::Path;

/// Installed on PATH as `kubectl_complete-hadr`, kubectl (1.26+) runs it with the words typed
/// after `kubectl hadr`, the last being the one to complete.
pub const KUBECTL_PLUGIN_SCRIPT: &str = "#!/bin/sh\n# kubectl plugin completion for kubectl-hadr: install on PATH as kubectl_complete-hadr\nexec kubectl-hadr __complete \"$@\"\n";

/// cobra's ShellCompDirectiveNoFileComp: the shell must not fall back to file names.
const NO_FILE_COMPLETION: u8 = 4;

pub fn cobra_output(candidates: &[String]) -> String {
    let mut out = String::new();
    for c in candidates {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&format!(":{NO_FILE_COMPLETION}\n"));
    out
}

/// Candidates for the last of `words` (the words after `kubectl hadr`).
pub fn candidates(cmd: &clap::Command, root: &Path, words: &[String]) -> Vec<String> {
    let (current, before) = match words.split_last() {
        Some((c, b)) => (c.as_str(), b),
        None => ("", &[][..]),
    };
    let sub = before
        .iter()
        .find_map(|w| cmd.find_subcommand(w).filter(|s| !s.is_hide_set()));
    let mut out: Vec<String> = match (sub, before.last().map(String::as_str)) {
        (None, _) if !current.starts_with('-') => cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_string())
            .collect(),
        (Some(_), Some("--region")) => regions(root),
        (Some(s), _) if current.starts_with('-') => flags(s).chain(flags(cmd)).collect(),
        (None, _) => flags(cmd).collect(),
        (Some(s), _) if s.get_name() == "render" => environments(root),
        (Some(s), _) if s.get_name() == "completion" => [
            "bash",
            "zsh",
            "fish",
            "elvish",
            "powershell",
            "kubectl-plugin",
        ]
        .map(String::from)
        .to_vec(),
        _ => Vec::new(),
    };
    out.retain(|c| c.starts_with(current));
    out.sort();
    out.dedup();
    out
}

fn flags(cmd: &clap::Command) -> impl Iterator<Item = String> + '_ {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
}

fn environments(root: &Path) -> Vec<String> {
    crate::environment::discover(&root.join("environments"))
        .map(|found| found.into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

fn regions(root: &Path) -> Vec<String> {
    crate::environment::discover(&root.join("environments"))
        .map(|found| {
            found
                .iter()
                .filter_map(|(_, p)| crate::environment::load(p).ok())
                .flat_map(|e| e.regions.into_iter().map(|r| r.name))
                .collect()
        })
        .unwrap_or_default()
}
