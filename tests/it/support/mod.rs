//! Shared test support: temp workspaces, the binary under test, the local control plane.

pub mod oracle;
pub mod snapshot;
pub mod testenv;
pub mod workspace;

/// The command's exit code and its JSON output (`-o json`), whatever the code; a stdout that is
/// not JSON fails the test showing stdout and stderr.
pub fn json_of(cmd: &mut assert_cmd::Command) -> (Option<i32>, serde_json::Value) {
    let out = cmd.output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), value)
}
