//! Talking to the test oracles (`testenv/tools/oracles/NAME`): one long-lived process per
//! oracle and test, asked one question at a time over its stdin/stdout.

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

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
