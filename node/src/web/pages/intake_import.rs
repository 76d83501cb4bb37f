//! Importing an observation file on a county's pages (`/intake/import`, 导入文件): the upload
//! form (CSV or Excel, both header languages, a template to download), a dry run that lists
//! each row's problem by line and column without recording anything, and the import itself,
//! which records the good rows through the county's [`IntakeDesk`] as `fenghuo intake import`
//! does and lists the rows it could not take.

use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};

use super::intake::desk;
use super::officer::{may_write, require_write};
use super::PageError;
use crate::intake::import::{self, CellProblem, ImportError, RowError};
use crate::intake::{Observation, ObservationError};
use crate::services::intake_desk::{BatchCounts, IntakeDesk};
use crate::timespec;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{same_secret, Staffer};
use crate::web::App;

/// The largest file accepted, bytes: an export of a month's observations fits many times.
pub const MAX_FILE: usize = 20 * 1024 * 1024;
/// The largest request body: the file and the form's few small fields.
pub const MAX_BODY: usize = MAX_FILE + 64 * 1024;
/// Observations recorded per commit: a big file does not hold the desk for one long commit.
const CHUNK: usize = 1000;
/// The system name observations carry when the form names none (as the CLI's default).
const DEFAULT_SYSTEM: &str = "import";
/// The template's header row and one example row (UTF-8, Chinese headers).
const TEMPLATE: &str = "链接,平台,账号,内容,采集时间,阅读,转发,评论,点赞,编号\r\n\
https://weibo.com/u/1234567890/p/100,weibo,@示例账号,城东片区拆迁补偿标准不公，村民准备明天去县政府,2026-12-07 09:30,12000,340,56,210,yq-0001\r\n";

/// What the form was sent with (kept to fill it again when the file is refused).
#[derive(Debug, Clone, Default)]
struct Fields {
    csrf: String,
    system: String,
    sheet: String,
    dry_run: bool,
    file_name: String,
    file: Vec<u8>,
    /// Whether a file part came at all (an empty file is a file).
    has_file: bool,
}

/// One row that was not recorded: its line as Excel numbers it, the column as the file
/// heads it, and why.
#[derive(Debug, Clone)]
struct RowProblem {
    line: usize,
    column: String,
    reason: String,
}

/// What reading (and maybe recording) a file came to.
#[derive(Debug, Default)]
struct Outcome {
    file: String,
    dry_run: bool,
    rows: usize,
    good: usize,
    problems: Vec<RowProblem>,
    warnings: Vec<String>,
    /// The desk's counts (a real import only).
    recorded: Option<BatchCounts>,
}

/// A cell's problem in the reader's language.
fn cell_text(p: &CellProblem, l: Lang) -> String {
    match l {
        Lang::En => p.to_string(),
        Lang::Zh => match p {
            CellProblem::NotANumber(v) => {
                format!("“{v}”不是数字；请写整数，如 3456、3,456 或 1.2万")
            }
            CellProblem::Negative(v) => format!("“{v}”是负数；数量从 0 起"),
            CellProblem::TooLarge(v) => format!("“{v}”太大"),
            CellProblem::NotATime(v) => format!(
                "“{v}”不是时间；请写 2026-12-07 09:30（北京时间）、2026-12-07T09:30:00+08:00 或 Unix 秒数"
            ),
            CellProblem::Empty => "为空；每行都必须填写".to_owned(),
        },
    }
}

/// A check's refusal in the reader's language (the URL's and the text's reasons stay as the
/// checks word them).
fn check_text(e: &ObservationError, l: Lang) -> String {
    match (l, e) {
        (Lang::Zh, ObservationError::Negative { value, .. }) => {
            format!("{value} 是负数；数量从 0 起")
        }
        (Lang::Zh, ObservationError::NotATime(_)) => "采集时间无效".to_owned(),
        (Lang::Zh, ObservationError::FromTheFuture { ahead_s, .. }) => {
            format!("采集时间比本节点时钟晚 {ahead_s} 秒（在将来）；请检查时间和时区")
        }
        (Lang::Zh, ObservationError::TooManyKeywords(n)) => format!("关键词太多（{n} 个）"),
        (Lang::Zh, ObservationError::System(s)) => {
            format!("系统名称“{s}”无效：只能用小写字母、数字、“-”和“_”")
        }
        _ => e.to_string(),
    }
}

/// A row's problem: (column as the file heads it, why).
fn row_problem(line: usize, e: &RowError, l: Lang) -> RowProblem {
    match e {
        RowError::Cell {
            header, problem, ..
        } => RowProblem {
            line,
            column: header.clone(),
            reason: cell_text(problem, l),
        },
        RowError::Check { header, error } => RowProblem {
            line,
            column: header.clone(),
            reason: check_text(error, l),
        },
    }
}

/// A whole-file refusal in the reader's language.
fn import_error_text(e: &ImportError, l: Lang) -> String {
    if l == Lang::En {
        return e.to_string();
    }
    match e {
        ImportError::System(s) => {
            format!("系统名称“{s}”无效：只能用小写字母、数字、“-”和“_”")
        }
        ImportError::Encoding(name) => {
            format!("{name}：不是 UTF-8 或 GB18030/GBK 文本；请在 Excel 中另存为“CSV UTF-8”")
        }
        ImportError::Unreadable { name, reason, .. } => {
            format!("{name}：无法读取（{reason}）")
        }
        ImportError::NoSheet { wanted, found } => format!(
            "工作簿中没有名为“{wanted}”的工作表；现有：{}",
            found.join("、")
        ),
        ImportError::Empty => "文件为空，没有表头行".to_owned(),
        ImportError::MissingColumn { name, chinese } => {
            format!("表头行中缺少“{chinese}”列（{name}）")
        }
        ImportError::DuplicateColumn {
            first,
            second,
            name,
            ..
        } => format!("表头中“{first}”和“{second}”是同一列（{name}）"),
        ImportError::TooManyRows => format!("超过 {} 行，请拆分文件后分别导入", import::MAX_ROWS),
    }
}

/// The message for a file over [`MAX_FILE`].
fn too_large(l: Lang) -> String {
    match l {
        Lang::Zh => format!(
            "文件太大：最多 {} MiB。请按日期拆分成几个文件分别导入。",
            MAX_FILE / 1024 / 1024
        ),
        Lang::En => format!(
            "the file is too large: at most {} MiB; split it by date and import the parts",
            MAX_FILE / 1024 / 1024
        ),
    }
}

/// The column explanation and the form, with `f` typed in and `refusal` above it.
fn form_page(staffer: &Staffer, f: &Fields, refusal: Option<&str>) -> Markup {
    let l = Lang::current();
    let system = if f.system.is_empty() {
        DEFAULT_SYSTEM
    } else {
        &f.system
    };
    let body = html! {
        p { a href="/intake" { "← " (l.pick("舆情采集", "Intake")) } }
        section #import-help {
            p {
                (l.pick(
                    "上传监测系统导出的 CSV 或 Excel（xlsx）文件，每行一条舆情。第一行是表头，列的顺序不限，中文或英文表头均可：",
                    "Upload a CSV or Excel (xlsx) file exported from a monitoring system, one observation per row. The first row names the columns, in any order, in Chinese or English:"
                ))
            }
            ul {
                li { strong { (l.pick("必填：", "Required: ")) } "链接 (url)、平台 (platform)、内容 (text)、采集时间 (captured_at)" }
                li { strong { (l.pick("选填：", "Optional: ")) } "账号 (account)、阅读 (views)、转发 (reposts)、评论 (comments)、点赞 (likes)、编号 (system_id)、关键词 (keywords)" }
                li { (l.pick(
                    "采集时间写作 2026-12-07 09:30（北京时间），数量可写 3,456 或 1.2万；没有编号时由链接和采集时间生成，同一文件重复导入不会重复记录。",
                    "Times as 2026-12-07 09:30 (China time); figures may be 3,456 or 1.2万. Without an id one is derived from the link and time, so importing a file twice records nothing new."
                )) }
            }
            p { a #import-template href="/intake/import/template.csv" download="fenghuo-intake-template.csv" { (l.pick("下载模板（CSV）", "Download the template (CSV)")) } }
        }
        @if may_write(staffer) {
            form.stack #form-import method="post" action="/intake/import" enctype="multipart/form-data" {
                (layout::csrf(staffer))
                @if let Some(r) = refusal {
                    p.error role="alert" data-stay #error-import {
                        @if !f.file_name.is_empty() { (f.file_name) "：" }
                        (r)
                    }
                }
                label for="import-file" { (l.pick("文件（CSV 或 XLSX，最大 20 MiB）", "File (CSV or XLSX, at most 20 MiB)")) }
                input #import-file type="file" name="file" required accept=".csv,.xlsx,.xls,.ods,text/csv";
                label for="import-system" { (l.pick("来源系统名称", "Source system name")) }
                input #import-system name="system" maxlength="63" value=(system);
                p.hint { (l.pick("小写字母、数字、“-”或“_”，例如 yuqing-2；默认 import", "lower-case letters, digits, '-' or '_', e.g. yuqing-2; import by default")) }
                label for="import-sheet" { (l.pick("工作表名称（可选）", "Sheet name (optional)")) }
                input #import-sheet name="sheet" maxlength="100" value=(f.sheet);
                p.hint { (l.pick("Excel 文件默认读取第一个工作表", "an Excel file's first sheet by default")) }
                label {
                    input #import-dry-run type="checkbox" name="dry_run" value="1" checked[f.dry_run];
                    " " (l.pick("只检查（试导入），不记录", "Dry run: check only, record nothing"))
                }
                div.actions { button type="submit" { (l.pick("导入", "Import")) } }
            }
        } @else {
            p.notice { (l.pick("只读账户不能导入文件", "a read-only account imports nothing")) }
        }
    };
    layout::page(
        staffer,
        l.pick("导入文件", "Import a file"),
        "/intake",
        None,
        body,
    )
}

/// GET /intake/import.
pub async fn form(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
) -> Result<Markup, PageError> {
    desk(&app)?;
    Ok(form_page(&staffer, &Fields::default(), None))
}

/// GET /intake/import/template.csv: the columns and an example row, UTF-8 with a BOM so
/// Excel shows the Chinese headers rather than mojibake.
pub async fn template(State(app): State<Arc<App>>) -> Result<Response, PageError> {
    desk(&app)?;
    let body = format!("\u{feff}{TEMPLATE}");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"fenghuo-intake-template.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// Why the posted form could not be read.
enum ReadFailure {
    /// The body is over [`MAX_BODY`].
    TooLarge,
    /// Not a multipart form, or a broken one.
    Broken(String),
}

/// Reads every part of the form (the file into memory, bounded by the route's body limit).
async fn read_fields(mut mp: Multipart) -> Result<Fields, ReadFailure> {
    let failed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ReadFailure::TooLarge
        } else {
            ReadFailure::Broken(e.body_text())
        }
    };
    let mut f = Fields::default();
    while let Some(field) = mp.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                f.file_name = field.file_name().unwrap_or_default().to_owned();
                f.has_file = true;
                let bytes = field.bytes().await.map_err(failed)?;
                if bytes.len() > MAX_FILE {
                    return Err(ReadFailure::TooLarge);
                }
                f.file = bytes.to_vec();
            }
            "csrf" | "system" | "sheet" | "dry_run" => {
                let text = field.text().await.map_err(failed)?;
                let text = text.trim().to_owned();
                match name.as_str() {
                    "csrf" => f.csrf = text,
                    "system" => f.system = text,
                    "sheet" => f.sheet = text,
                    _ => f.dry_run = !text.is_empty(),
                }
            }
            // A field this form does not have: read past it.
            _ => {
                field.bytes().await.map_err(failed)?;
            }
        }
    }
    Ok(f)
}

/// POST /intake/import: a dry run or an import of the uploaded file.
pub async fn submit(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let desk = desk(&app)?;
    require_write(&staffer)?;
    let l = Lang::current();
    let mp = multipart.map_err(|e| PageError::Bad(e.body_text()))?;
    let mut f = match read_fields(mp).await {
        Ok(f) => f,
        Err(ReadFailure::TooLarge) => {
            tracing::info!(staff = %staffer.name, "intake import refused: file too large");
            let page = form_page(&staffer, &Fields::default(), Some(&too_large(l)));
            return Ok((StatusCode::PAYLOAD_TOO_LARGE, page).into_response());
        }
        Err(ReadFailure::Broken(why)) => {
            return Err(PageError::Bad(format!(
                "{}{why}",
                l.pick("上传的表单不完整：", "the upload is incomplete: ")
            )))
        }
    };
    // Checked after reading: a multipart form's fields come in the page's order, but a
    // forged one may put the token anywhere.
    if !same_secret(&f.csrf, &staffer.csrf) {
        return Err(PageError::Forbidden(
            l.pick(
                "表单的安全令牌与当前会话不符：请刷新页面后重试",
                "the form's security token does not match your session: reload the page and try again",
            )
            .to_owned(),
        ));
    }
    if !f.has_file || (f.file.is_empty() && f.file_name.is_empty()) {
        let page = form_page(
            &staffer,
            &f,
            Some(l.pick("请选择要导入的文件", "choose a file to import")),
        );
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let system = if f.system.is_empty() {
        DEFAULT_SYSTEM.to_owned()
    } else {
        f.system.clone()
    };
    let name = if f.file_name.is_empty() {
        "upload".to_owned()
    } else {
        f.file_name.clone()
    };
    let sheet = (!f.sheet.is_empty()).then(|| f.sheet.clone());
    let now = timespec::now_ms();
    // Parsing a workbook of many thousand rows is CPU work: off the async threads.
    let bytes = std::mem::take(&mut f.file);
    let (read_name, read_system) = (name.clone(), system.clone());
    let parsed = tokio::task::spawn_blocking(move || {
        import::read_sheet(&read_name, &bytes, &read_system, sheet.as_deref())
            .map(|s| s.checked(now))
    })
    .await
    .map_err(|e| PageError::Internal(format!("reading the upload: {e}")))?;
    let sheet = match parsed {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(staff = %staffer.name, file = %name, error = %e, "intake import refused");
            let page = form_page(&staffer, &f, Some(&import_error_text(&e, l)));
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let mut out = Outcome {
        file: name.clone(),
        dry_run: f.dry_run,
        rows: sheet.rows.len(),
        warnings: sheet.warnings.clone(),
        problems: sheet.errors().map(|(n, e)| row_problem(n, e, l)).collect(),
        ..Outcome::default()
    };
    let good: Vec<(usize, Observation)> = sheet
        .rows
        .into_iter()
        .filter_map(|r| r.result.ok().map(|o| (r.line, o)))
        .collect();
    out.good = good.len();
    if !f.dry_run {
        let (counts, refused) = tokio::task::spawn_blocking(move || record(&desk, good, now))
            .await
            .map_err(|e| PageError::Internal(format!("recording the upload: {e}")))??;
        out.problems
            .extend(refused.into_iter().map(|(line, e)| RowProblem {
                line,
                column: match &e {
                    crate::intake::store::IntakeError::Invalid(o) => o.field().to_owned(),
                    crate::intake::store::IntakeError::Store(_) => String::new(),
                },
                reason: e.to_string(),
            }));
        out.problems.sort_by_key(|p| p.line);
        tracing::info!(staff = %staffer.name, file = %name, %system, rows = out.rows, new = counts.new_items, sightings = counts.sightings, repeats = counts.repeats, refused = counts.refused, "intake file imported on the county's pages");
        out.recorded = Some(counts);
    }
    Ok(result_page(&staffer, &out).into_response())
}

/// Records `good` in chunks of [`CHUNK`]: the counts, and the rows the desk refused with
/// their lines. A store failure stops there (the chunks before it stay recorded; importing
/// the file again records only what is missing).
fn record(
    desk: &IntakeDesk,
    good: Vec<(usize, Observation)>,
    now: i64,
) -> Result<(BatchCounts, Vec<(usize, crate::intake::store::IntakeError)>), PageError> {
    let mut counts = BatchCounts::default();
    let mut refused = Vec::new();
    let mut rest = good.into_iter().peekable();
    while rest.peek().is_some() {
        let (lines, batch): (Vec<usize>, Vec<Observation>) = rest.by_ref().take(CHUNK).unzip();
        let results = desk.record(batch, now)?;
        for (line, r) in lines.into_iter().zip(results) {
            counts.add(&r);
            if let Err(e) = r {
                refused.push((line, e));
            }
        }
    }
    Ok((counts, refused))
}

/// The result of a dry run or an import.
fn result_page(staffer: &Staffer, out: &Outcome) -> Markup {
    let l = Lang::current();
    let bad = out.rows - out.good;
    let summary = match l {
        Lang::Zh => format!(
            "共 {} 行，可导入 {} 行，有误 {} 行",
            out.rows, out.good, bad
        ),
        Lang::En => format!(
            "{} rows: {} can be imported, {} have errors",
            out.rows, out.good, bad
        ),
    };
    let title = if out.dry_run {
        l.pick("试导入结果（未记录）", "Dry run (nothing recorded)")
    } else {
        l.pick("导入结果", "Import result")
    };
    let body = html! {
        p { a href="/intake" { "← " (l.pick("舆情采集", "Intake")) } " · " a href="/intake/import" { (l.pick("再导入一个文件", "Import another file")) } }
        p #import-file-name { (l.pick("文件：", "File: ")) strong { (out.file) } }
        p #import-summary data-rows=(out.rows) data-good=(out.good) data-bad=(bad) { (summary) }
        @if out.dry_run {
            p.notice #import-dry-run-note { (l.pick("这是试导入：没有记录任何内容。确认无误后取消“只检查”再导入。", "A dry run: nothing was recorded. Import again without the dry run when it looks right.")) }
        }
        @if let Some(c) = &out.recorded {
            div.cards #import-counts data-new=(c.new_items) data-sightings=(c.sightings) data-repeats=(c.repeats) data-refused=(c.refused) {
                div.card { div { (l.pick("新条目", "New items")) } div.n #import-new { (c.new_items) } }
                div.card { div { (l.pick("重复发现", "Further sightings")) } div.n #import-sightings { (c.sightings) } }
                div.card { div { (l.pick("重复提交", "Repeats")) } div.n #import-repeats { (c.repeats) } }
                div.card { div { (l.pick("被拒", "Refused")) } div.n #import-refused { (c.refused) } }
            }
        }
        @if !out.warnings.is_empty() {
            h2 { (l.pick("提示", "Warnings")) }
            ul #import-warnings { @for w in &out.warnings { li { (w) } } }
        }
        h2 { (l.pick("有误的行", "Rows with errors")) }
        @if out.problems.is_empty() {
            p #import-no-errors { (l.pick("没有有误的行", "no row has an error")) }
        } @else {
            table #import-errors {
                thead { tr { th { (l.pick("行号", "Line")) } th { (l.pick("列", "Column")) } th { (l.pick("原因", "Reason")) } } }
                tbody {
                    @for p in &out.problems {
                        tr data-line=(p.line) {
                            td data-col="line" { (p.line) }
                            td data-col="column" { (p.column) }
                            td data-col="reason" { (p.reason) }
                        }
                    }
                }
            }
        }
        p { a #import-back href="/intake" { (l.pick("返回舆情采集列表", "Back to the intake list")) } }
    };
    layout::page(staffer, title, "/intake", None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_reads_back_as_one_good_row() {
        let bytes = format!("\u{feff}{TEMPLATE}");
        let sheet = import::read("template.csv", bytes.as_bytes(), DEFAULT_SYSTEM).unwrap();
        assert_eq!(sheet.rows.len(), 1);
        assert_eq!(sheet.errors().count(), 0, "{:?}", sheet.rows);
    }

    #[test]
    fn refusals_are_told_in_chinese() {
        let e = ImportError::MissingColumn {
            name: "url",
            chinese: "链接",
        };
        assert!(import_error_text(&e, Lang::Zh).contains("链接"));
        assert!(cell_text(&CellProblem::Empty, Lang::Zh).contains("为空"));
        assert!(too_large(Lang::Zh).contains("20 MiB"));
    }
}
