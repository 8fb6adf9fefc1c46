//! Talking to the test oracles (`testenv/tools/oracles/NAME`): one long-lived process per
//! oracle and test, asked one question at a time over its stdin/stdout, either framed
//! (`ask`: `<n>\n` then n bytes, one JSON line back) or one line each way (`ask_line`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::testenv;

/// A running oracle that answers each framed request (`<n>\n` then n bytes) with one JSON line.
pub struct Oracle {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the built oracle NAME (`hadr-testenv build` builds it).
    pub fn start(name: &str) -> Oracle {
        let path = testenv::oracle(name);
        let mut child = Command::new(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start oracle {}: {e}", path.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            name: name.to_string(),
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request and reads its answer.
    pub fn ask(&mut self, request: &[u8]) -> Value {
        writeln!(self.stdin, "{}", request.len()).expect("oracle stdin");
        self.stdin.write_all(request).expect("oracle stdin");
        self.stdin.flush().expect("oracle stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("oracle stdout");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("oracle {} answered {line:?}, not JSON: {e}", self.name))
    }
}

impl Oracle {
    /// For the line-protocol oracles (the cron and duration ones): sends one query line
    /// (without its newline) and returns the answer line.
    pub fn ask_line(&mut self, query: &str) -> String {
        assert!(!query.contains('\n'), "one query per line: {query:?}");
        writeln!(self.stdin, "{query}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("oracle {} stopped reading: {e}", self.name));
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("oracle {} did not answer: {e}", self.name));
        assert!(n > 0, "oracle {} exited on {query:?}", self.name);
        line.trim_end_matches('\n').to_string()
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Strings of up to seven pieces, each from `pieces` (mostly), any character, or a run of `x`
/// up to `longest` long: the adversarial text the differential tests generate.
pub fn text_of(
    pieces: &'static [&'static str],
    longest: usize,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        6 => proptest::sample::select(pieces).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => (1..=longest).prop_map(|n| "x".repeat(n)),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

/// Runs `test` on `cases` generated inputs, all asked of one running oracle NAME; panics
/// with proptest's minimal failing input.
pub fn differential<S: proptest::strategy::Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(&mut Oracle, S::Value) -> proptest::test_runner::TestCaseResult,
) {
    use proptest::test_runner::{Config, TestRunner};
    let oracle = std::cell::RefCell::new(Oracle::start(name));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, |input| test(&mut oracle.borrow_mut(), input)) {
        panic!("{e}");
    }
}
