//! Observation files: a CSV or an Excel workbook of observations, one per row, as officers
//! export them from a monitoring system's web page or type them up (`fenghuo intake import`).
//!
//! The header row names the columns, in any order, in English or in Chinese
//! ([`COLUMNS`]); columns this module does not know are ignored with a warning, and a missing
//! required one refuses the whole file by name. Each later row becomes an observation or a
//! [`RowError`] naming the row's line (as Excel numbers it, the header being line 1) and the
//! column, so a dry run tells the officer what to fix where. [`Sheet::checked`] adds the
//! checks every observation passes ([`Observation::check`]).
//!
//! Times without an offset are China time (+08:00): that is what officers type and what Excel
//! shows, and what Excel's date cells mean. A row without a `system_id` gets one derived from
//! its URL and capture time, so importing the same file twice records nothing new.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader};
use jiff::civil::DateTime;
use jiff::tz::{self, TimeZone};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::identity::validate_name;

use super::observation::{Engagement, Observation, ObservationError};

/// Most data rows in one file: a bound on the work one upload can ask for.
pub const MAX_ROWS: usize = 200_000;

/// Rows searched for the header row: a title or a blank line above it is common in exports.
const HEADER_SEARCH_ROWS: usize = 10;

/// One column an observation file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    /// Its name, as [`Observation`] names the field (and the English header).
    pub name: &'static str,
    /// The header names accepted for it (English first, then Chinese).
    pub headers: &'static [&'static str],
    /// Whether a file without it is refused; the others default (empty, 0, derived).
    pub required: bool,
}

/// Every column an observation file may have, in the order the documentation lists them.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "url",
        headers: &["url", "链接", "网址"],
        required: true,
    },
    Column {
        name: "platform",
        headers: &["platform", "平台"],
        required: true,
    },
    Column {
        name: "account",
        headers: &["account", "账号"],
        required: false,
    },
    Column {
        name: "text",
        headers: &["text", "内容"],
        required: true,
    },
    Column {
        name: "captured_at",
        headers: &["captured_at", "采集时间"],
        required: true,
    },
    Column {
        name: "views",
        headers: &["views", "阅读", "阅读量"],
        required: false,
    },
    Column {
        name: "reposts",
        headers: &["reposts", "转发", "转发量"],
        required: false,
    },
    Column {
        name: "comments",
        headers: &["comments", "评论", "评论量"],
        required: false,
    },
    Column {
        name: "likes",
        headers: &["likes", "点赞", "点赞量"],
        required: false,
    },
    Column {
        name: "system_id",
        headers: &["system_id", "编号"],
        required: false,
    },
    Column {
        name: "keywords",
        headers: &["keywords", "关键词"],
        required: false,
    },
];

/// Why a whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The system name the observations would carry is not a name.
    #[error("system: {0:?} is not a name of lower-case letters, digits, '-' and '_'")]
    System(String),
    /// A CSV file that is neither UTF-8 nor GB18030 (GBK) text.
    #[error("{0}: not text in UTF-8 or GB18030/GBK; save it from Excel as \"CSV UTF-8\"")]
    Encoding(String),
    /// The file could not be read as CSV or as a workbook.
    #[error("{name}: cannot be read as {format}: {reason}")]
    Unreadable {
        /// The file's name.
        name: String,
        /// `CSV` or `a workbook`.
        format: &'static str,
        /// What the reader said.
        reason: String,
    },
    /// The named sheet is not in the workbook (or the workbook has none).
    #[error("no sheet named {wanted:?}; the workbook has {found:?}")]
    NoSheet {
        /// The sheet asked for.
        wanted: String,
        /// The sheets there are.
        found: Vec<String>,
    },
    /// No row in the file names its columns.
    #[error("no header row: the file is empty")]
    Empty,
    /// A required column is missing.
    #[error("no column {name} (or {chinese}) in the header row")]
    MissingColumn {
        /// The column's English name.
        name: &'static str,
        /// Its Chinese header.
        chinese: &'static str,
    },
    /// Two header cells name the same column: which one counts would be a guess.
    #[error("column {name} appears twice in the header row (as {first:?} and {second:?})")]
    DuplicateColumn {
        /// The column's name.
        name: &'static str,
        /// The first header naming it.
        first: String,
        /// The second.
        second: String,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("more than {MAX_ROWS} rows; split the file")]
    TooManyRows,
}

/// What is wrong with one cell's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellProblem {
    /// Not a whole number (figures).
    #[error("{0:?} is not a number; write a whole number such as 3456, 3,456 or 1.2万")]
    NotANumber(String),
    /// A figure below zero.
    #[error("{0:?} is negative; figures count from 0")]
    Negative(String),
    /// A figure too large to be a count.
    #[error("{0:?} is too large")]
    TooLarge(String),
    /// Not a time in a form this module reads.
    #[error("{0:?} is not a time; write 2026-12-07 09:30 (China time), 2026-12-07T09:30:00+08:00 or Unix seconds")]
    NotATime(String),
    /// A required cell is empty.
    #[error("empty; every row needs one")]
    Empty,
}

/// Why one row is not an observation: names the column as the file's header does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A cell could not be read.
    #[error("{header}: {problem}")]
    Cell {
        /// The column's name ([`Column::name`]).
        column: &'static str,
        /// The header as the file writes it (`阅读`).
        header: String,
        /// What is wrong.
        problem: CellProblem,
    },
    /// The observation fails its checks ([`Observation::check`]).
    #[error("{}", check_text(.header, .error))]
    Check {
        /// The header of the column the check names, as the file writes it (or the field's
        /// name when the file has no such column, e.g. `system`).
        header: String,
        /// The refusal.
        error: ObservationError,
    },
}

/// A check's refusal under the file's header: `阅读 (views: -3 is negative)`.
fn check_text(header: &str, error: &ObservationError) -> String {
    if header == error.field() {
        error.to_string()
    } else {
        format!("{header} ({error})")
    }
}

impl RowError {
    /// The column's name ([`Column::name`], or the observation's field a check names).
    pub fn column(&self) -> &'static str {
        match self {
            Self::Cell { column, .. } => column,
            Self::Check { error, .. } => error.field(),
        }
    }
}

/// One data row of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its line as Excel numbers it (the header row is line 1 when it is the first).
    pub line: usize,
    /// The observation it holds, or what is wrong with it.
    pub result: Result<Observation, RowError>,
}

/// A file read: its rows, and what the officer should know about the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// Every non-empty data row, in file order.
    pub rows: Vec<Row>,
    /// Columns ignored, optional columns missing, rows above the header skipped.
    pub warnings: Vec<String>,
    /// Column name → header as the file writes it, to name columns in check errors.
    headers: BTreeMap<&'static str, String>,
}

impl Sheet {
    /// The rows with each observation checked as it will be on recording (`now_ms` is this
    /// node's clock), so a dry run reports check failures per row too.
    pub fn checked(self, now_ms: i64) -> Sheet {
        let headers = self.headers;
        let rows = self
            .rows
            .into_iter()
            .map(|row| Row {
                line: row.line,
                result: row.result.and_then(|o| {
                    o.check(now_ms).map_err(|error| RowError::Check {
                        header: headers
                            .get(error.field())
                            .cloned()
                            .unwrap_or_else(|| error.field().to_owned()),
                        error,
                    })
                }),
            })
            .collect();
        Sheet {
            rows,
            warnings: self.warnings,
            headers,
        }
    }

    /// The observations of the rows that have one.
    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.rows.iter().filter_map(|r| r.result.as_ref().ok())
    }

    /// The rows in error, with their lines.
    pub fn errors(&self) -> impl Iterator<Item = (usize, &RowError)> {
        self.rows
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.line, e)))
    }
}

/// Reads the file `name` (its bytes): an Excel workbook (first sheet) when its bytes say so,
/// CSV otherwise. `system` is the system name its observations carry (`import`).
pub fn read(name: &str, bytes: &[u8], system: &str) -> Result<Sheet, ImportError> {
    read_sheet(name, bytes, system, None)
}

/// [`read`], taking the workbook's sheet named `sheet` instead of its first.
pub fn read_sheet(
    name: &str,
    bytes: &[u8],
    system: &str,
    sheet: Option<&str>,
) -> Result<Sheet, ImportError> {
    validate_name(system).map_err(|_| ImportError::System(system.to_owned()))?;
    let cells = if is_workbook(bytes) {
        workbook_cells(name, bytes, sheet)?
    } else if has_workbook_name(name) {
        // Read as CSV it would only give confusing row errors.
        return Err(ImportError::Unreadable {
            name: name.to_owned(),
            format: "a workbook",
            reason: "its name says Excel but its content is not an Excel file".into(),
        });
    } else {
        csv_cells(name, bytes)?
    };
    rows_of(cells, system)
}

/// Whether the bytes are a workbook: a ZIP (xlsx, ods) or an OLE file (xls). The bytes
/// decide, not the name: a workbook saved as `导出.csv` is still read as one.
fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Whether the file's name says it is a workbook.
fn has_workbook_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    [".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// One cell, as either reader gives it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date cell: days since 1899-12-30, local time.
    ExcelDate(f64),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_owned(),
            Cell::Number(n) | Cell::ExcelDate(n) => number_text(*n),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// A number as a person writes it: `123456`, not `123456.0`.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Rows of cells with their lines (1-based).
type Cells = Vec<(usize, Vec<Cell>)>;

fn csv_cells(name: &str, bytes: &[u8]) -> Result<Cells, ImportError> {
    let text = decode(name, bytes)?;
    // Excel's "Unicode text" and some exports separate by tabs.
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // Excel shows a CSV record as one row, whatever line breaks its quoted cells hold, and a
    // blank line as an empty row; the reader skips blank lines. So a record's row is the
    // text line it starts on less the line breaks inside earlier records' cells.
    let mut extra_lines = 0;
    let (mut counted_to, mut line) = (0usize, 1usize);
    for (i, record) in reader.records().enumerate() {
        if i > MAX_ROWS + HEADER_SEARCH_ROWS {
            return Err(ImportError::TooManyRows);
        }
        let record = record.map_err(|e| ImportError::Unreadable {
            name: name.to_owned(),
            format: "CSV",
            reason: e.to_string(),
        })?;
        // The reader's position is where it started looking: before skipped blank lines.
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize);
        start = start.max(counted_to).min(text.len());
        let tail = text.get(start..).unwrap_or("");
        start += tail.len() - tail.trim_start_matches(['\r', '\n']).len();
        line += text
            .as_bytes()
            .get(counted_to..start)
            .map_or(0, |skipped| skipped.iter().filter(|&&b| b == b'\n').count());
        counted_to = start;
        rows.push((
            line.saturating_sub(extra_lines),
            record.iter().map(|s| Cell::Text(s.to_owned())).collect(),
        ));
        extra_lines += record
            .iter()
            .map(|s| s.matches('\n').count())
            .sum::<usize>();
    }
    Ok(rows)
}

/// The file's text: UTF-8 without its BOM, a UTF-16 file with its BOM, or GB18030 (which
/// GBK is a part of), as Excel in China saves "CSV".
fn decode(name: &str, bytes: &[u8]) -> Result<String, ImportError> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(ImportError::Encoding(name.to_owned()));
        }
        return Ok(text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(ImportError::Encoding(name.to_owned()));
    }
    Ok(text.into_owned())
}

fn workbook_cells(name: &str, bytes: &[u8], sheet: Option<&str>) -> Result<Cells, ImportError> {
    let unreadable = |e: calamine::Error| ImportError::Unreadable {
        name: name.to_owned(),
        format: "a workbook",
        reason: e.to_string(),
    };
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let names = book.sheet_names();
    let wanted = match sheet {
        Some(s) => names.iter().find(|n| n.as_str() == s).cloned(),
        None => names.first().cloned(),
    };
    let Some(wanted) = wanted else {
        return Err(ImportError::NoSheet {
            wanted: sheet.unwrap_or("(the first)").to_owned(),
            found: names,
        });
    };
    let range = book.worksheet_range(&wanted).map_err(unreadable)?;
    if range.height() > MAX_ROWS + HEADER_SEARCH_ROWS {
        return Err(ImportError::TooManyRows);
    }
    // The range starts at its first used cell; lines count from the sheet's top.
    let top = range.start().map_or(0, |(row, _)| row as usize);
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, row)| (top + i + 1, row.iter().map(cell_of).collect()))
        .collect();
    Ok(rows)
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(d) => Cell::ExcelDate(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

/// The header's names, trimmed and in lower case, for comparison.
fn header_key(s: &str) -> String {
    s.trim().trim_start_matches('\u{feff}').to_lowercase()
}

fn column_of(header: &str) -> Option<&'static Column> {
    let key = header_key(header);
    COLUMNS.iter().find(|c| c.headers.contains(&key.as_str()))
}

/// The header row's index in `cells`: the first row (of the first few) naming a column.
fn header_row(cells: &Cells) -> Option<usize> {
    cells
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .position(|(_, row)| row.iter().any(|c| column_of(&c.text()).is_some()))
}

fn rows_of(cells: Cells, system: &str) -> Result<Sheet, ImportError> {
    let mut warnings = Vec::new();
    let Some(h) = header_row(&cells) else {
        return if cells.iter().all(|(_, row)| row.iter().all(Cell::is_empty)) {
            Err(ImportError::Empty)
        } else {
            let first = COLUMNS[0];
            Err(ImportError::MissingColumn {
                name: first.name,
                chinese: first.headers[1],
            })
        };
    };
    let (header_line, header) = &cells[h];
    if h > 0 {
        warnings.push(format!(
            "lines above line {header_line} skipped: the header row is line {header_line}"
        ));
    }
    // Column name → (index in the row, header as written).
    let mut at: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
    for (i, cell) in header.iter().enumerate() {
        let written = cell.text();
        if written.is_empty() {
            continue;
        }
        match column_of(&written) {
            Some(col) => {
                if let Some((_, first)) = at.get(col.name) {
                    return Err(ImportError::DuplicateColumn {
                        name: col.name,
                        first: first.clone(),
                        second: written,
                    });
                }
                at.insert(col.name, (i, written));
            }
            None => warnings.push(format!(
                "column {written:?} is not one intake reads: ignored"
            )),
        }
    }
    for col in COLUMNS {
        if at.contains_key(col.name) {
            continue;
        }
        if col.required {
            return Err(ImportError::MissingColumn {
                name: col.name,
                chinese: col.headers[1],
            });
        }
        let what = match col.name {
            "account" => "accounts are empty",
            "system_id" => "each row's id is derived from its url and captured_at",
            "keywords" => continue,
            _ => "every row counts 0",
        };
        warnings.push(format!(
            "no column {} ({}): {what}",
            col.name, col.headers[1]
        ));
    }
    let rows: Vec<Row> = cells[h + 1..]
        .iter()
        .filter(|(_, row)| !row.iter().all(Cell::is_empty))
        .map(|(line, row)| Row {
            line: *line,
            result: observation_of(row, &at, system),
        })
        .collect();
    if rows.len() > MAX_ROWS {
        return Err(ImportError::TooManyRows);
    }
    Ok(Sheet {
        rows,
        warnings,
        headers: at.into_iter().map(|(k, (_, h))| (k, h)).collect(),
    })
}

/// The row's observation (not yet checked), or its first unreadable cell.
fn observation_of(
    row: &[Cell],
    at: &BTreeMap<&'static str, (usize, String)>,
    system: &str,
) -> Result<Observation, RowError> {
    let cell = |name: &str| -> &Cell {
        at.get(name)
            .and_then(|(i, _)| row.get(*i))
            .unwrap_or(&Cell::Empty)
    };
    let fail = |column: &'static str, problem: CellProblem| RowError::Cell {
        column,
        header: at
            .get(column)
            .map_or_else(|| column.to_owned(), |(_, h)| h.clone()),
        problem,
    };
    let figure = |column: &'static str| parse_figure(cell(column)).map_err(|p| fail(column, p));
    let captured = cell("captured_at");
    if captured.is_empty() {
        return Err(fail("captured_at", CellProblem::Empty));
    }
    let captured_at_ms = parse_time(captured).map_err(|p| fail("captured_at", p))?;
    let engagement = Engagement {
        views: figure("views")?,
        reposts: figure("reposts")?,
        comments: figure("comments")?,
        likes: figure("likes")?,
    };
    let url = cell("url").text();
    let keywords = cell("keywords")
        .text()
        .split([';', '；', '、'])
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let mut system_id = cell("system_id").text();
    if system_id.is_empty() {
        system_id = derived_id(&url, captured_at_ms);
    }
    Ok(Observation {
        platform: cell("platform").text(),
        account: cell("account").text(),
        text: match cell("text") {
            // Keep the text's own line breaks; [`Observation::check`] trims it.
            Cell::Text(s) => s.clone(),
            other => other.text(),
        },
        url,
        captured_at_ms,
        engagement,
        keywords,
        system: system.to_owned(),
        system_id,
    })
}

/// A stable id for a row without one: the same post at the same capture time is the same
/// submission, whichever file (CSV or workbook) it comes from.
fn derived_id(url: &str, captured_at_ms: i64) -> String {
    let digest = Sha256::digest(format!("{url}\n{captured_at_ms}").as_bytes());
    format!("row-{}", hex::encode(&digest[..16]))
}

/// A count: empty is 0; `3,456`, `1.2万` (or `1.2w`), `3亿` read as people write them.
fn parse_figure(cell: &Cell) -> Result<i64, CellProblem> {
    let raw = cell.text();
    if let Cell::Number(n) = cell {
        return figure_of_number(*n, &raw);
    }
    let s: String = raw
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '+'))
        .collect();
    if s.is_empty() {
        return Ok(0);
    }
    if s.starts_with('-') {
        return Err(CellProblem::Negative(raw));
    }
    let (digits, unit) = if let Some(d) = s.strip_suffix('万').or(s.strip_suffix(['w', 'W'])) {
        (d, 10_000u64)
    } else if let Some(d) = s.strip_suffix('亿') {
        (d, 100_000_000u64)
    } else {
        (s.as_str(), 1u64)
    };
    scaled(digits, unit).ok_or(CellProblem::NotANumber(raw.clone()))?
}

/// `digits` (decimal, maybe with a fraction) times `unit`, exactly; `None` when it is not a
/// number, `Some(Err)` when it is too large or leaves a fraction of a count.
fn scaled(digits: &str, unit: u64) -> Option<Result<i64, CellProblem>> {
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let too_large = || CellProblem::TooLarge(digits.to_owned());
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        match whole.parse() {
            Ok(w) => w,
            Err(_) => return Some(Err(too_large())),
        }
    };
    // The fraction's digits beyond the unit's zeros are dropped (1.23456万 → 12345).
    let mut frac_value = 0u64;
    let mut scale = unit;
    for b in frac.bytes() {
        if scale < 10 {
            break;
        }
        scale /= 10;
        frac_value += u64::from(b - b'0') * scale;
    }
    let total = whole
        .checked_mul(unit)
        .and_then(|w| w.checked_add(frac_value))
        .and_then(|t| i64::try_from(t).ok());
    Some(total.ok_or_else(too_large))
}

fn figure_of_number(n: f64, raw: &str) -> Result<i64, CellProblem> {
    if !n.is_finite() {
        return Err(CellProblem::NotANumber(raw.to_owned()));
    }
    if n < 0.0 {
        return Err(CellProblem::Negative(raw.to_owned()));
    }
    if n >= 9.0e18 {
        return Err(CellProblem::TooLarge(raw.to_owned()));
    }
    Ok(n.round() as i64)
}

/// China time, which officers' times without an offset mean (no daylight saving since 1991).
fn china() -> TimeZone {
    TimeZone::fixed(tz::offset(8))
}

/// A capture time, Unix ms: RFC 3339 with an offset; a local date and time (China time,
/// `-` or `/` between the date's parts, seconds optional); Unix seconds or milliseconds; an
/// Excel date (a date cell, or its serial number).
fn parse_time(cell: &Cell) -> Result<i64, CellProblem> {
    let raw = cell.text();
    let not_a_time = || CellProblem::NotATime(raw.clone());
    match cell {
        Cell::ExcelDate(days) => return excel_time(*days).ok_or_else(not_a_time),
        Cell::Number(n) => return number_time(*n).ok_or_else(not_a_time),
        _ => {}
    }
    let s = raw.as_str();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t.as_millisecond());
    }
    const LOCAL: &[&str] = &[
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d",
        "%Y/%m/%d",
    ];
    // Fractional seconds (`09:30:00.5`) are cut: capture times are not that precise.
    let whole_seconds = s.split_once('.').map_or(s, |(a, _)| a);
    let local = LOCAL.iter().find_map(|f| {
        DateTime::strptime(f, whole_seconds).ok().or_else(|| {
            jiff::civil::Date::strptime(f, whole_seconds)
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
    });
    if let Some(dt) = local {
        return china()
            .to_timestamp(dt)
            .map(|t| t.as_millisecond())
            .map_err(|_| not_a_time());
    }
    if let Ok(n) = s.parse::<f64>() {
        return number_time(n).ok_or_else(not_a_time);
    }
    Err(not_a_time())
}

/// A number as a time: an Excel serial date (below a million days), Unix seconds (from
/// 2001), or Unix milliseconds (from 1973).
fn number_time(n: f64) -> Option<i64> {
    if !n.is_finite() || n <= 0.0 {
        None
    } else if n < 1e6 {
        excel_time(n)
    } else if (1e9..1e11).contains(&n) {
        Some((n * 1000.0).round() as i64)
    } else if (1e11..1e14).contains(&n) {
        Some(n.round() as i64)
    } else {
        None
    }
}

/// An Excel serial date (days since 1899-12-30, fraction the time of day) read as China
/// time, to the second.
fn excel_time(days: f64) -> Option<i64> {
    if !days.is_finite() || !(1.0..1e6).contains(&days) {
        return None;
    }
    let seconds = (days * 86_400.0).round() as i64;
    let epoch = jiff::civil::date(1899, 12, 30).to_datetime(jiff::civil::Time::midnight());
    let local = epoch
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .ok()?;
    china().to_timestamp(local).ok().map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    /// 2026-12-07 09:30 +08:00.
    const DEC7: i64 = 1_796_607_000_000;

    fn ok_rows(sheet: &Sheet) -> Vec<&Observation> {
        sheet.observations().collect()
    }

    #[test]
    fn times_in_each_form() {
        let t = |s: &str| parse_time(&Cell::Text(s.into()));
        assert_eq!(t("2026-12-07T09:30:00+08:00"), Ok(DEC7));
        assert_eq!(t("2026-12-07T01:30:00Z"), Ok(DEC7));
        assert_eq!(t("2026-12-07 09:30"), Ok(DEC7));
        assert_eq!(t("2026-12-07 09:30:00"), Ok(DEC7));
        assert_eq!(t("2026/12/07 09:30"), Ok(DEC7));
        assert_eq!(t("2026/12/7 9:30"), Ok(DEC7));
        assert_eq!(t("1796607000"), Ok(DEC7));
        assert_eq!(t("1796607000000"), Ok(DEC7));
        assert_eq!(t("2026-12-07"), Ok(DEC7 - (9 * 60 + 30) * 60_000));
        assert!(matches!(t("昨天上午"), Err(CellProblem::NotATime(_))));
        assert!(matches!(
            t("2026-13-07 09:30"),
            Err(CellProblem::NotATime(_))
        ));
        // 2026-12-07 09:30 as Excel counts it: 46363 days and 9.5 hours.
        let serial = 46363.0 + 9.5 / 24.0;
        assert_eq!(parse_time(&Cell::ExcelDate(serial)), Ok(DEC7));
        assert_eq!(parse_time(&Cell::Number(serial)), Ok(DEC7));
        assert_eq!(parse_time(&Cell::Number(1_796_607_000.0)), Ok(DEC7));
    }

    #[test]
    fn figures_as_people_write_them() {
        let f = |s: &str| parse_figure(&Cell::Text(s.into()));
        assert_eq!(f(""), Ok(0));
        assert_eq!(f("3456"), Ok(3456));
        assert_eq!(f("3,456"), Ok(3456));
        assert_eq!(f("1.2万"), Ok(12_000));
        assert_eq!(f("1.2w"), Ok(12_000));
        assert_eq!(f("3亿"), Ok(300_000_000));
        assert_eq!(f("12.0"), Ok(12));
        assert!(matches!(f("-3"), Err(CellProblem::Negative(_))));
        assert!(matches!(f("很多"), Err(CellProblem::NotANumber(_))));
        assert!(matches!(f("1.2.3"), Err(CellProblem::NotANumber(_))));
        assert!(matches!(
            f("99999999999999999999"),
            Err(CellProblem::TooLarge(_))
        ));
        assert_eq!(parse_figure(&Cell::Number(42.0)), Ok(42));
        assert!(matches!(
            parse_figure(&Cell::Number(-1.0)),
            Err(CellProblem::Negative(_))
        ));
    }

    const ENGLISH: &str = "\
url,platform,account,text,captured_at,views,reposts,comments,likes,system_id,keywords,remark
https://weibo.com/u/1/p/2,weibo,@zhang_san,某村拆迁补偿款迟迟未发放,2026-12-07 09:30,\"3,456\",1.2万,5,,w-1,拆迁;补偿,x
https://bbs.example/t/9,某论坛,,\"多行
内容\",2026-12-07T09:30:00+08:00,1,2,3,4,,,
";

    #[test]
    fn a_csv_with_english_headers() {
        let sheet = read("obs.csv", ENGLISH.as_bytes(), "import").unwrap();
        assert_eq!(sheet.warnings.len(), 1, "{:?}", sheet.warnings);
        assert!(sheet.warnings[0].contains("remark"), "{:?}", sheet.warnings);
        let rows = ok_rows(&sheet);
        assert_eq!(rows.len(), 2);
        let a = rows[0];
        assert_eq!(a.url, "https://weibo.com/u/1/p/2");
        assert_eq!(a.account, "@zhang_san");
        assert_eq!(a.captured_at_ms, DEC7);
        assert_eq!(
            a.engagement,
            Engagement {
                views: 3456,
                reposts: 12_000,
                comments: 5,
                likes: 0
            }
        );
        assert_eq!(a.keywords, ["拆迁", "补偿"]);
        assert_eq!(a.system, "import");
        assert_eq!(a.system_id, "w-1");
        let b = rows[1];
        assert_eq!(b.text, "多行\n内容");
        assert!(b.system_id.starts_with("row-"));
        assert_eq!(sheet.rows[0].line, 2);
        assert_eq!(sheet.rows[1].line, 3);
        let checked = sheet.checked(DEC7);
        assert_eq!(checked.errors().count(), 0);
    }

    const CHINESE: &str = "\
编号,采集时间,链接,平台,账号,内容,阅读,转发,评论,点赞,关键词
,2026-12-07 09:30,https://weibo.com/u/1/p/2,微博,张三,某村拆迁补偿款迟迟未发放,100,10,5,20,拆迁、补偿；上访
";

    #[test]
    fn a_csv_with_chinese_headers_and_a_bom() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(CHINESE.as_bytes());
        let sheet = read("舆情.csv", &bytes, "import").unwrap();
        assert!(sheet.warnings.is_empty(), "{:?}", sheet.warnings);
        let rows = ok_rows(&sheet);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].platform, "微博");
        assert_eq!(rows[0].keywords, ["拆迁", "补偿", "上访"]);
        assert_eq!(rows[0].engagement.likes, 20);
    }

    #[test]
    fn a_gbk_csv_as_excel_in_china_saves_it() {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(CHINESE);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err());
        let sheet = read("舆情.csv", &bytes, "import").unwrap();
        let rows = ok_rows(&sheet);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text, "某村拆迁补偿款迟迟未发放");
        assert_eq!(rows[0].account, "张三");
    }

    #[test]
    fn excel_unicode_text_utf16_and_tab_separated() {
        let tsv = CHINESE.replace(',', "\t");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(tsv.encode_utf16().flat_map(u16::to_le_bytes));
        let sheet = read("舆情.txt", &bytes, "import").unwrap();
        let rows = ok_rows(&sheet);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].keywords, ["拆迁", "补偿", "上访"]);
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_column() {
        let csv = "\
链接,平台,内容,采集时间,阅读,转发
https://a.example/1,微博,好的一行,2026-12-07 09:30,1,2

https://a.example/2,微博,阅读为负,2026-12-07 09:30,-3,2
https://a.example/3,微博,时间不对,昨天,1,2
https://a.example/4,微博,转发不是数,2026-12-07 09:30,1,很多
ftp://a.example/5,微博,链接不对,2026-12-07 09:30,1,2
https://a.example/6,微博,,2026-12-07 09:30,1,2
";
        let sheet = read("bad.csv", csv.as_bytes(), "import")
            .unwrap()
            .checked(DEC7);
        let errors: Vec<(usize, &'static str, String)> = sheet
            .errors()
            .map(|(line, e)| (line, e.column(), e.to_string()))
            .collect();
        // The blank line 3 is skipped but counted.
        let lines: Vec<_> = errors.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            lines,
            [
                (4, "views"),
                (5, "captured_at"),
                (6, "reposts"),
                (7, "url"),
                (8, "text")
            ]
        );
        assert!(errors[0].2.starts_with("阅读: "), "{}", errors[0].2);
        assert!(errors[0].2.contains("negative"), "{}", errors[0].2);
        assert!(errors[1].2.contains("昨天"), "{}", errors[1].2);
        assert!(errors[3].2.starts_with("链接 (url: "), "{}", errors[3].2);
        assert_eq!(sheet.observations().count(), 1);
    }

    #[test]
    fn a_missing_required_column_refuses_the_file_by_name() {
        let csv = "url,platform,text\nhttps://a.example/1,weibo,x\n";
        assert_eq!(
            read("a.csv", csv.as_bytes(), "import"),
            Err(ImportError::MissingColumn {
                name: "captured_at",
                chinese: "采集时间"
            })
        );
        let dup = "url,链接,platform,text,captured_at\n";
        assert!(matches!(
            read("a.csv", dup.as_bytes(), "import"),
            Err(ImportError::DuplicateColumn { name: "url", .. })
        ));
        assert_eq!(read("a.csv", b"", "import"), Err(ImportError::Empty));
        assert!(matches!(
            read("a.csv", b"url,text\n", "Bad Name"),
            Err(ImportError::System(_))
        ));
    }

    #[test]
    fn a_title_row_above_the_header_is_skipped_with_a_warning() {
        let csv = format!("某县舆情报表,,\n{CHINESE}");
        let sheet = read("a.csv", csv.as_bytes(), "import").unwrap();
        assert_eq!(sheet.rows.len(), 1);
        assert_eq!(sheet.rows[0].line, 3);
        assert!(sheet.warnings[0].contains("line 2"), "{:?}", sheet.warnings);
    }

    #[test]
    fn reimporting_gives_the_same_system_ids() {
        let ids = |bytes: &[u8]| -> Vec<String> {
            read("a.csv", bytes, "import")
                .unwrap()
                .observations()
                .map(|o| o.system_id.clone())
                .collect()
        };
        let first = ids(ENGLISH.as_bytes());
        assert_eq!(first, ids(ENGLISH.as_bytes()));
        let chinese = ids(CHINESE.as_bytes());
        assert_eq!(chinese, ids(CHINESE.as_bytes()));
        // The same post at the same time has the same derived id in either file.
        let (gbk, _, _) = encoding_rs::GBK.encode(CHINESE);
        assert_eq!(chinese, ids(&gbk));
        assert_ne!(first[1], chinese[0]);
    }

    /// An xlsx written in the test: Chinese headers, a date cell, numbers as numbers.
    fn workbook() -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("舆情").unwrap();
        let headers = [
            "链接",
            "平台",
            "账号",
            "内容",
            "采集时间",
            "阅读",
            "转发",
            "评论",
            "点赞",
            "编号",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let when = ExcelDateTime::from_ymd(2026, 12, 7)
            .unwrap()
            .and_hms(9, 30, 0)
            .unwrap();
        sheet
            .write_string(1, 0, "https://weibo.com/u/1/p/2")
            .unwrap();
        sheet.write_string(1, 1, "微博").unwrap();
        sheet.write_number(1, 2, 123456).unwrap();
        sheet
            .write_string(1, 3, "某村拆迁补偿款迟迟未发放")
            .unwrap();
        sheet
            .write_datetime_with_format(1, 4, &when, &date)
            .unwrap();
        sheet.write_number(1, 5, 3456).unwrap();
        sheet.write_string(1, 6, "1.2万").unwrap();
        sheet.write_number(1, 7, 5).unwrap();
        sheet.write_number(1, 9, 77).unwrap();
        // Row 3 empty; row 4 has a typed time and a negative figure.
        sheet
            .write_string(3, 0, "https://weibo.com/u/1/p/3")
            .unwrap();
        sheet.write_string(3, 1, "微博").unwrap();
        sheet.write_string(3, 3, "另一条").unwrap();
        sheet.write_string(3, 4, "2026-12-07 09:30").unwrap();
        sheet.write_number(3, 5, -1).unwrap();
        let other = book.add_worksheet();
        other.set_name("说明").unwrap();
        other.write_string(0, 0, "这一页不是数据").unwrap();
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn an_xlsx_workbook() {
        let bytes = workbook();
        // The name does not matter: the bytes say it is a workbook.
        let sheet = read("export.csv", &bytes, "import").unwrap().checked(DEC7);
        assert_eq!(sheet.rows.len(), 2);
        let a = sheet.rows[0].result.as_ref().unwrap();
        assert_eq!(sheet.rows[0].line, 2);
        assert_eq!(a.captured_at_ms, DEC7);
        assert_eq!(a.account, "123456");
        assert_eq!(a.engagement.views, 3456);
        assert_eq!(a.engagement.reposts, 12_000);
        assert_eq!(a.engagement.likes, 0);
        assert_eq!(a.system_id, "77");
        assert_eq!(sheet.rows[1].line, 4);
        let e = sheet.rows[1].result.as_ref().unwrap_err();
        assert_eq!(e.column(), "views");
        // The named sheet, and a name that is not there.
        let notes = read_sheet("a.xlsx", &bytes, "import", Some("说明"));
        assert!(matches!(notes, Err(ImportError::MissingColumn { .. })));
        assert!(matches!(
            read_sheet("a.xlsx", &bytes, "import", Some("nope")),
            Err(ImportError::NoSheet { .. })
        ));
        assert!(matches!(
            read("a.xlsx", b"PK\x03\x04garbage", "import"),
            Err(ImportError::Unreadable { .. })
        ));
        assert!(matches!(
            read("a.xlsx", "url,text\n".as_bytes(), "import"),
            Err(ImportError::Unreadable {
                format: "a workbook",
                ..
            })
        ));
    }

    #[test]
    fn the_same_rows_from_csv_and_xlsx_derive_the_same_ids() {
        let csv = "链接,平台,内容,采集时间\nhttps://weibo.com/u/1/p/2,微博,x,2026-12-07 09:30\n";
        let from_csv = read("a.csv", csv.as_bytes(), "import").unwrap();
        let id = &from_csv.rows[0].result.as_ref().unwrap().system_id;
        assert_eq!(id, &derived_id("https://weibo.com/u/1/p/2", DEC7));
    }
}
