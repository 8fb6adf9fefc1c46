//! A running test oracle (a Go program from `testenv/tools/oracles`) spoken to line by line:
//! one query per line in, one answer per line out, so one process answers a whole
//! differential test.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct Oracle {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the built oracle NAME (`hadr-testenv build` builds it).
    pub fn start(name: &str) -> Oracle {
        let path = super::testenv::oracle(name);
        let mut child = Command::new(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            name: name.to_string(),
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one query line (without its newline) and returns the answer line.
    pub fn ask(&mut self, query: &str) -> String {
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
