//! The one place that writes to stdout and stderr: reports for people (text) and machines (JSON).

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::pipeline::RenderReport;
use crate::render::Warning;
use crate::tree::ChangeKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub struct Printer {
    format: Format,
    color: bool,
}

impl Printer {
    pub fn new(format: Format) -> Printer {
        let color = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Printer { format, color }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Writes raw text to stdout (schemas, completion scripts).
    pub fn raw(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
    }

    pub fn json<T: Serialize>(&self, value: &T) {
        let mut s = serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        self.raw(&s);
    }

    pub fn warnings(&self, warnings: &[Warning]) {
        let mut err = io::stderr().lock();
        for w in warnings {
            let _ = writeln!(err, "{} {w}", self.paint("33", "warning:"));
        }
    }

    /// Errors go to stderr in both formats; JSON also gets them on stdout for machines.
    pub fn errors(&self, messages: &[String]) {
        let mut err = io::stderr().lock();
        for m in messages {
            let _ = writeln!(err, "{} {m}", self.paint("31", "error:"));
        }
        if self.format == Format::Json {
            self.json(&serde_json::json!({ "errors": messages }));
        }
    }

    pub fn render_report(&self, report: &RenderReport) {
        if self.format == Format::Json {
            self.json(report);
            self.warnings(&report.warnings);
            return;
        }
        self.warnings(&report.warnings);
        let mut out = String::new();
        for s in &report.sets {
            out.push_str(&format!(
                "{}/{}  {} objects  {}\n",
                s.environment, s.region, s.objects, s.digest
            ));
        }
        for c in &report.changes {
            let (mark, code) = match c.kind {
                ChangeKind::Added => ("+", "32"),
                ChangeKind::Changed => ("~", "33"),
                ChangeKind::Removed => ("-", "31"),
            };
            out.push_str(&format!(
                "{} {}\n",
                self.paint(code, mark),
                report.out.join(&c.path).display()
            ));
        }
        match report.up_to_date {
            Some(true) => out.push_str(&format!("{} is up to date\n", report.out.display())),
            Some(false) => out.push_str(&format!(
                "{} is not what the sources render ({} files differ); run `kubectl hadr render` and commit\n",
                report.out.display(),
                report.changes.len()
            )),
            None if report.changes.is_empty() && report.commit.is_none() => {
                out.push_str("nothing changed\n")
            }
            None => {}
        }
        if let Some(c) = &report.commit {
            match &c.id {
                Some(id) => out.push_str(&format!(
                    "committed {} to {}\n",
                    &id[..12.min(id.len())],
                    c.target
                )),
                None => out.push_str(&format!("nothing to commit on {}\n", c.target)),
            }
        }
        self.raw(&out);
    }
}
