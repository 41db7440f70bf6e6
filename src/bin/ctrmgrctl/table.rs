//! Plain-text tables sized to the terminal: columns as wide as their widest cell; when
//! the row is wider than a terminal, the columns marked to shrink give up width (their
//! cells end in `…`). Output that is not a terminal is never cut, so `grep` sees it all.
//! Hand-written: a table crate would cost more bytes than these few lines.

use crate::error::CtlError;
use std::io::IsTerminal;

/// Columns separated by this many spaces.
const GAP: usize = 3;
/// A shrinking column keeps at least this many characters.
const MIN_WIDTH: usize = 8;

/// A table being built.
pub struct Table {
    headers: Vec<&'static str>,
    shrink: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; `shrinkable` names those that may be cut to fit.
    pub fn new(headers: &[&'static str], shrinkable: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            shrink: headers.iter().map(|h| shrinkable.contains(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints the table to stdout, fitted to the terminal when stdout is one.
    pub fn print(&self) -> Result<(), CtlError> {
        let width = std::io::stdout()
            .is_terminal()
            .then(|| {
                console::Term::stdout()
                    .size_checked()
                    .map(|(_, cols)| usize::from(cols))
            })
            .flatten();
        crate::output::out(&self.render(width))
    }

    /// The table as text, fitted to `width` columns when given.
    pub fn render(&self, width: Option<usize>) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        if let Some(limit) = width {
            fit(&mut widths, &self.shrink, limit);
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                let text = cut(cell, *w);
                line.push_str(&text);
                if i + 1 < widths.len() {
                    let pad = w - text.chars().count() + GAP;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Narrows the shrinkable columns, widest first, until the row fits `limit`.
fn fit(widths: &mut [usize], shrink: &[bool], limit: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    while total(widths) > limit {
        let widest = (0..widths.len())
            .filter(|&i| shrink[i] && widths[i] > MIN_WIDTH)
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => return,
        }
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A byte count for people: `1.5 MB`, `312 kB`, `12 B` (1000-based, as docker prints).
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["NAME", "IMAGE", "STATE"], &["IMAGE"]);
        t.row(vec![
            "web".into(),
            "127.0.0.1:5000/some/long/image:1".into(),
            "running".into(),
        ]);
        t.row(vec!["db".into(), "redis:7".into(), "exited".into()]);
        t
    }

    #[test]
    fn columns_as_wide_as_their_cells() {
        assert_eq!(
            sample().render(None),
            "NAME   IMAGE                              STATE\n\
             web    127.0.0.1:5000/some/long/image:1   running\n\
             db     redis:7                            exited\n"
        );
    }

    #[test]
    fn shrinks_to_the_terminal() {
        let text = sample().render(Some(30));
        for line in text.lines() {
            assert!(line.chars().count() <= 30, "{line}");
        }
        assert!(text.contains("127.0.0.1:50…"), "{text}");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
