//! Tables: what a view shows as rows, drawn as HTML and exported as CSV or JSON from the
//! same data, so an export always has the page's rows. Exports keep their machine column keys
//! and cell texts whatever the reader's language; the page may show a cell in the reader's
//! language ([`Cell::shown`]) and head its columns with [`Table::headed`].

use maud::{html, Markup};
use serde_json::{Map, Value};

use crate::event::check::visible;

/// One cell: its text, and how the page shows it.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// What the cell says (and what exports carry).
    pub text: String,
    /// A count: exported as a JSON number.
    pub number: Option<u64>,
    /// The page links the cell here.
    pub link: Option<String>,
    /// Inline style for the page (a level's colour).
    pub style: Option<String>,
    /// Marks the cell as needing attention (overdue, silent).
    pub alarm: bool,
    /// What the page shows instead of `text`, in the reader's language (a label, a county's
    /// name beside its code); exports keep `text`.
    pub shown: Option<String>,
}

impl Cell {
    /// A text cell.
    pub fn text(t: impl Into<String>) -> Self {
        Self {
            text: t.into(),
            ..Self::default()
        }
    }

    /// A count.
    pub fn number(n: u64) -> Self {
        Self {
            text: n.to_string(),
            number: Some(n),
            ..Self::default()
        }
    }

    /// A level, in its colour; empty when ungraded.
    pub fn level(level: Option<crate::domain::Level>) -> Self {
        match level {
            Some(l) => Self::text(l.as_str()).style(format!(
                "background:{};color:{}",
                super::labels::level_colour(l),
                super::labels::level_ink(l)
            )),
            None => Self::text(""),
        }
    }

    /// Links the cell.
    pub fn link(mut self, href: impl Into<String>) -> Self {
        self.link = Some(href.into());
        self
    }

    /// Shows `s` on the page instead of the exported text.
    pub fn shown(mut self, s: impl Into<String>) -> Self {
        self.shown = Some(s.into());
        self
    }

    /// What the page shows.
    fn page_text(&self) -> &str {
        self.shown.as_deref().unwrap_or(&self.text)
    }

    /// Styles the cell.
    pub fn style(mut self, css: impl Into<String>) -> Self {
        self.style = Some(css.into());
        self
    }

    /// The cell's CSS classes, if any.
    fn class(&self) -> Option<&'static str> {
        match (self.number.is_some(), self.alarm) {
            (true, true) => Some("num alarm"),
            (true, false) => Some("num"),
            (false, true) => Some("alarm"),
            (false, false) => None,
        }
    }

    /// Marks the cell when `on`.
    pub fn alarm(mut self, on: bool) -> Self {
        self.alarm = on;
        self
    }
}

/// A table of a view.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name in export URLs (`/export/<id>.csv`) and its HTML id.
    pub id: &'static str,
    /// Its heading.
    pub title: String,
    /// Column names (also the CSV header, the JSON keys and each cell's `data-col`).
    pub columns: Vec<&'static str>,
    /// The columns' headings on the page, in the reader's language (empty: the names).
    pub headings: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
    /// Said when there are no rows.
    pub empty: &'static str,
}

impl Table {
    /// An empty table.
    pub fn new(id: &'static str, title: impl Into<String>, columns: Vec<&'static str>) -> Self {
        Self {
            id,
            title: title.into(),
            columns,
            headings: Vec::new(),
            rows: Vec::new(),
            empty: super::lang::Lang::current().pick("暂无", "nothing here"),
        }
    }

    /// Heads the columns in the page's language ([`labels::column_in`](super::labels::column_in));
    /// exports keep the column names.
    pub fn headed(mut self) -> Self {
        let lang = super::lang::Lang::current();
        self.headings = self
            .columns
            .iter()
            .map(|c| super::labels::column_in(lang, self.id, c).to_owned())
            .collect();
        self
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// The table as HTML, with links to its CSV and JSON exports (`query`: the view's
    /// filters, `?…` or empty).
    pub fn html(&self, query: &str) -> Markup {
        html! {
            section.table id=(self.id) {
                h2 {
                    (self.title)
                    span.exports {
                        a.export href={ "/export/" (self.id) ".csv" (query) } download { "CSV" }
                        " · "
                        a.export href={ "/export/" (self.id) ".json" (query) } { "JSON" }
                    }
                }
                @if self.rows.is_empty() {
                    p.empty { (self.empty) }
                } @else {
                    table {
                        thead { tr { @for (i, c) in self.columns.iter().enumerate() {
                            th data-col=(c) { (self.headings.get(i).map_or(*c, String::as_str)) }
                        } } }
                        tbody {
                            @for row in &self.rows {
                                tr {
                                    @for (i, cell) in row.iter().enumerate() {
                                        td data-col=(self.columns.get(i).copied().unwrap_or_default())
                                            class=[cell.class()]
                                            style=[cell.style.as_deref()] {
                                            @if let Some(href) = &cell.link {
                                                a href=(href) { (visible(cell.page_text())) }
                                            } @else {
                                                (visible(cell.page_text()))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The table as CSV (header, then a line per row), every text cell spreadsheet-safe.
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.columns)?;
        for row in &self.rows {
            w.write_record(row.iter().map(|c| spreadsheet_safe(c).into_owned()))?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The table as JSON: an array of objects keyed by column name, counts as numbers.
    pub fn json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let mut o = Map::new();
                    for (col, cell) in self.columns.iter().zip(row) {
                        let v = match cell.number {
                            Some(n) => Value::from(n),
                            None => Value::String(cell.text.clone()),
                        };
                        o.insert((*col).to_owned(), v);
                    }
                    Value::Object(o)
                })
                .collect(),
        )
    }
}

/// A cell as a spreadsheet will not run it: text a county typed (a title, a department) that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula
/// (`=HYPERLINK(…)`), so it gets a leading `'` (OWASP's rule for CSV injection). Counts stay
/// numbers.
fn spreadsheet_safe(cell: &Cell) -> std::borrow::Cow<'_, str> {
    let risky = cell.number.is_none() && cell.text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky {
        std::borrow::Cow::Owned(format!("'{}", cell.text))
    } else {
        std::borrow::Cow::Borrowed(cell.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_cells_never_start_a_formula() {
        let mut t = Table::new("risks", "Risks", vec!["title", "n"]);
        for text in [
            "=HYPERLINK(\"http://x\")",
            "@SUM(A1)",
            "+1+1",
            "-2",
            "\tx",
            "\rx",
        ] {
            t.row(vec![Cell::text(text), Cell::number(1)]);
        }
        t.row(vec![Cell::text("Bridge closure"), Cell::number(7)]);
        let csv = t.csv().unwrap();
        let cells: Vec<&str> = csv.lines().skip(1).collect();
        for line in &cells[..4] {
            // (A field with quotes in it is quoted as a whole.)
            assert!(line.starts_with('\'') || line.starts_with("\"'"), "{line}");
        }
        assert!(csv.contains("'\tx,1") && csv.contains("\"'\rx\""), "{csv}");
        assert!(csv.contains("Bridge closure,7"), "{csv}");
        // JSON carries the text as written: no spreadsheet reads it.
        assert_eq!(t.json()[2]["title"], "+1+1");
    }

    #[test]
    fn exports_equal_the_rows() {
        let mut t = Table::new("counties", "Counties", vec!["county", "I", "note"]);
        t.row(vec![
            Cell::text("510104").link("/county/510104"),
            Cell::number(3),
            Cell::text("a, \"quoted\" note"),
        ]);
        assert_eq!(
            t.csv().unwrap(),
            "county,I,note\n510104,3,\"a, \"\"quoted\"\" note\"\n"
        );
        assert_eq!(
            t.json(),
            serde_json::json!([{"county": "510104", "I": 3, "note": "a, \"quoted\" note"}])
        );
        let html = t.html("?level=I").into_string();
        assert!(
            html.contains("href=\"/export/counties.csv?level=I\""),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"/county/510104\">510104</a>"),
            "{html}"
        );
        assert!(html.contains("&quot;quoted&quot;"), "{html}");
    }

    #[test]
    fn pages_speak_the_readers_language_and_exports_keep_their_keys() {
        use crate::web::lang::{self, Lang};
        let table = || {
            let mut t = Table::new("receipts", "Receipts", vec!["county", "overdue"]).headed();
            t.row(vec![
                Cell::text("510104").shown("锦江区 510104"),
                Cell::text("overdue 超时").shown(Lang::current().pick("超时", "overdue")),
            ]);
            t
        };
        let zh = lang::with(Lang::Zh, false, || table().html("").into_string());
        assert!(
            zh.contains("<th data-col=\"county\">县(市、区)</th>"),
            "{zh}"
        );
        assert!(
            zh.contains(">锦江区 510104</td>") && zh.contains(">超时</td>"),
            "{zh}"
        );
        let en = lang::with(Lang::En, false, || table().html("").into_string());
        assert!(en.contains("<th data-col=\"overdue\">Overdue</th>"), "{en}");
        assert!(en.contains(">overdue</td>"), "{en}");
        for html in [&zh, &en] {
            assert!(html.contains("td data-col=\"county\""), "{html}");
        }
        let t = lang::with(Lang::En, false, table);
        assert_eq!(t.csv().unwrap(), "county,overdue\n510104,overdue 超时\n");
        let empty = lang::with(Lang::Zh, false, || Table::new("x", "X", vec!["a"]).html(""));
        assert!(empty.into_string().contains("暂无"));
    }

    #[test]
    fn pages_show_control_and_bidi_characters_escaped_and_exports_keep_them() {
        let mut t = Table::new("risks", "Risks", vec!["title"]);
        t.row(vec![Cell::text("Flood\u{1b}[2J \u{202e}gpj.exe <b>")]);
        let html = t.html("").into_string();
        assert!(
            html.contains("Flood\\u001b[2J \\u202egpj.exe &lt;b&gt;"),
            "{html}"
        );
        assert!(
            !html.contains('\u{202e}') && !html.contains('\u{1b}'),
            "{html}"
        );
        assert_eq!(t.json()[0]["title"], "Flood\u{1b}[2J \u{202e}gpj.exe <b>");
    }
}
