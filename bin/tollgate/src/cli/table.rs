//! A plain text table for the human output of `inbox list` and `entitlements show`.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Rows of cells under a header, printed with each column padded to its widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row. Each cell is made [`printable`]: cells hold stored values (device names, audit details) that a
    /// client or provider once sent.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|cell| printable(cell)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines, each ending with a newline, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let width = cell.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(width),
                    None => widths.push(width),
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    width.saturating_sub(cell.chars().count()) + 2,
                ));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `text` safe to print in a terminal: control characters and Unicode format characters (general category Cf:
/// bidi overrides and isolates, zero-width characters, the BOM) are shown as `\u{..}` escapes instead of acting on
/// the operator's terminal. Values stored before input cleaning dropped them can still hold them.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c.general_category() == GeneralCategory::Format {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `value`, or `-` for nothing.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let mut table = Table::new(&["ID", "STATUS"]);
        table.row(vec!["1".into(), "processed".into()]);
        table.row(vec!["1234".into(), "failed".into()]);
        assert_eq!(table.render(), "ID    STATUS\n1     processed\n1234  failed\n");
        assert_eq!(or_dash(None::<String>), "-");
        assert_eq!(or_dash(Some(3)), "3");
    }

    #[test]
    fn format_and_control_characters_print_as_escapes() {
        assert_eq!(printable("Work laptop"), "Work laptop");
        assert_eq!(printable("naïve 東京 😀"), "naïve 東京 😀");
        assert_eq!(
            printable("evil\u{202e}txt.exe\u{2066}\u{200b}\u{feff}\u{1b}[31m"),
            "evil\\u{202e}txt.exe\\u{2066}\\u{200b}\\u{feff}\\u{1b}[31m"
        );
        let mut table = Table::new(&["NAME"]);
        table.row(vec!["a\u{202e}b".into()]);
        assert_eq!(table.render(), "NAME\na\\u{202e}b\n");
    }
}
