//! The figures of a run, each next to its ceiling, printed as they come and as a table.

use std::io::Write as _;
use std::sync::Mutex;

/// One printed figure: value, its ceiling (if any), the ratio.
pub struct Line {
    pub what: String,
    pub value: String,
    pub ceiling: String,
    pub ratio: Option<f64>,
}

#[derive(Default)]
pub struct Report {
    pub lines: Mutex<Vec<Line>>,
}

impl Report {
    pub fn add(&self, what: impl Into<String>, value: String, ceiling: String, ratio: Option<f64>) {
        let line = Line {
            what: what.into(),
            value,
            ceiling,
            ratio,
        };
        println!(
            "{:<58} {:>16}   {:<34} {}",
            line.what,
            line.value,
            line.ceiling,
            line.ratio
                .map(|r| format!("ratio {r:.2}"))
                .unwrap_or_default()
        );
        let _ = std::io::stdout().flush();
        self.lines.lock().unwrap().push(line);
    }

    pub fn markdown(&self) -> String {
        let mut out =
            String::from("| figure | value | ceiling (same run) | ratio |\n|---|---:|---|---:|\n");
        for l in self.lines.lock().unwrap().iter() {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                l.what,
                l.value,
                l.ceiling,
                l.ratio.map(|r| format!("{r:.2}")).unwrap_or_default()
            ));
        }
        out
    }
}
