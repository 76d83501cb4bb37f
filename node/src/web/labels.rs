//! Chinese and English labels for what the dashboard shows (GLOSSARY.md's names), and the
//! colours of the levels.

use super::lang::Lang;
use crate::disposal::record::State as DisposalState;
use crate::domain::directive::ResponseStatus;
use crate::domain::disposal::{Action, Outcome};
use crate::domain::{FocusPoint, Level, MeasureStatus, RiskStatus};
use crate::services::worker::WorkerState;

/// `I 特别重大 · extremely serious`.
pub fn level(l: Level) -> String {
    format!("{} {} · {}", l.as_str(), l.label_zh(), level_en(l))
}

/// The English name of a level.
pub fn level_en(l: Level) -> &'static str {
    match l {
        Level::I => "extremely serious",
        Level::II => "serious",
        Level::III => "relatively serious",
        Level::IV => "general",
    }
}

/// The colour a level is drawn in (red, orange, yellow, blue).
pub fn level_colour(l: Level) -> &'static str {
    match l {
        Level::I => "#d7263d",
        Level::II => "#f46036",
        Level::III => "#e8c547",
        Level::IV => "#2e86de",
    }
}

/// Text that stays readable on [`level_colour`].
pub fn level_ink(l: Level) -> &'static str {
    match l {
        Level::III => "#222",
        _ => "#fff",
    }
}

/// `突发事件触发点 · emergency trigger point`.
pub fn focus(f: FocusPoint) -> String {
    format!("{} · {}", f.label_zh(), focus_en(f))
}

/// The English name of a focus point.
pub fn focus_en(f: FocusPoint) -> &'static str {
    match f {
        FocusPoint::KeyWork => "key work centre",
        FocusPoint::MajorEvent => "major event",
        FocusPoint::ActivityConcentration => "activity concentration point",
        FocusPoint::EmergencyTrigger => "emergency trigger point",
        FocusPoint::ReformMeasure => "important reform measure",
        FocusPoint::PolicyAdjustment => "policy adjustment hot spot",
    }
}

/// `发现识别 · identified`.
pub fn status(s: RiskStatus) -> String {
    let zh = match s {
        RiskStatus::Identified => "发现识别",
        RiskStatus::Graded => "风险定级",
        RiskStatus::MeasuresSet => "制定措施",
        RiskStatus::Monitoring => "动态管理",
        RiskStatus::Resolved => "化解",
        RiskStatus::RuledOut => "排除",
    };
    format!("{zh} · {}", s.as_str())
}

/// `运行中 · running`: where a worker is in its life.
pub fn worker_state(s: &WorkerState) -> String {
    let zh = match s {
        WorkerState::Running => "运行中",
        WorkerState::Stopped => "已停止",
        WorkerState::Failed(_) => "故障",
    };
    format!("{zh} · {}", s.as_str())
}

// Labels in the page's language (county pages): Chinese from the domain's `label_zh()`
// where it has one, the English names otherwise.

/// A level in `lang`: `I 特别重大` or `I extremely serious`.
pub fn level_in(lang: Lang, l: Level) -> String {
    format!("{} {}", l.as_str(), lang.pick(l.label_zh(), level_en(l)))
}

/// A focus point in `lang`.
pub fn focus_in(lang: Lang, f: FocusPoint) -> &'static str {
    match lang {
        Lang::Zh => f.label_zh(),
        Lang::En => focus_en(f),
    }
}

/// A risk status in `lang`.
pub fn status_in(lang: Lang, s: RiskStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// A measure's status in `lang`.
pub fn measure_status_in(lang: Lang, s: MeasureStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// A directive's answer in `lang`.
pub fn response_in(lang: Lang, s: ResponseStatus) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.as_str(),
    }
}

/// What a disposal request asks, in `lang`.
pub fn action_in(lang: Lang, a: Action) -> &'static str {
    match lang {
        Lang::Zh => a.label_zh(),
        Lang::En => a.as_str(),
    }
}

/// Where a disposal request stands, in `lang`.
pub fn disposal_state_in(lang: Lang, s: DisposalState) -> &'static str {
    match (lang, s) {
        (Lang::Zh, DisposalState::Filed) => "已提交",
        (Lang::Zh, DisposalState::InReview) => "省级审核中",
        (Lang::Zh, DisposalState::Relayed) => "已转交",
        (Lang::Zh, DisposalState::Delivered) => "已送达",
        (Lang::Zh, DisposalState::Acknowledged) => "已签收",
        (Lang::Zh, DisposalState::Answered) => "已反馈",
        (Lang::Zh, DisposalState::Rejected) => "省级驳回",
        (Lang::Zh, DisposalState::Withdrawn) => "已撤回",
        (Lang::En, s) => s.as_str(),
    }
}

/// A partner's outcome, in `lang`.
pub fn outcome_in(lang: Lang, o: Outcome) -> &'static str {
    match lang {
        Lang::Zh => o.label_zh(),
        Lang::En => o.as_str(),
    }
}

// The province's pages (overview, county, risk, communications, linked risks, health, staff):
// column headings, a risk's fields, and the words their cells show, in the page's language.
// Exports keep the machine names (column keys, `as_str()` values).

/// The heading of column `key` of table `table` (a [`Table`](super::table::Table)'s id) in
/// `lang`; a key without one is shown as is.
pub fn column_in<'a>(lang: Lang, table: &str, key: &'a str) -> &'a str {
    let (zh, en) = match (table, key) {
        // Columns whose meaning depends on the table.
        ("counties" | "rises" | "health", "county") => ("区划代码", "Code"),
        ("risk-measures", "action") => ("措施内容", "Action"),
        ("risk-history", "action") => ("操作", "Action"),
        ("disposal", "action") => ("处置方式", "Action"),
        ("alerts" | "partners", "acknowledged") => ("已签收", "Acknowledged"),
        ("partners", "delivered") => ("已送达", "Delivered"),
        ("partners", "answered") => ("已反馈", "Answered"),
        ("partners", "name") => ("名称", "Name"),
        ("staff", "name") => ("用户名", "Name"),
        ("staff", "by") => ("创建人", "Saved by"),
        ("staff", "department") => ("部门", "Department"),
        ("reports", "by") => ("报送人", "Filed by"),
        (_, "level") => ("等级", "Level"),
        (_, "label") => ("名称", "Label"),
        (_, "active") => ("在管", "Active"),
        (_, "focus") => ("重点", "Focus point"),
        (_, "status") => ("状态", "Status"),
        (_, "risks") => ("风险数", "Risks"),
        (_, "county_name") => ("县(市、区)", "County"),
        (_, "county") => ("县(市、区)", "County"),
        (_, "I") => ("I级", "I"),
        (_, "II") => ("II级", "II"),
        (_, "III") => ("III级", "III"),
        (_, "IV") => ("IV级", "IV"),
        (_, "ungraded") => ("未定级", "Ungraded"),
        (_, "resolved") => ("已化解", "Resolved"),
        (_, "worst") => ("最高等级", "Worst level"),
        (_, "collection_rate") => ("采集率", "Collection rate"),
        (_, "discovery_rate") => ("发现率", "Discovery rate"),
        (_, "intake_open") => ("待研判", "Intake to triage"),
        (_, "day") => ("日期", "Day"),
        (_, "new") => ("新增", "New"),
        (_, "risk") => ("风险点", "Risk"),
        (_, "title") => ("标题", "Title"),
        (_, "from") => ("原等级", "From"),
        (_, "to") => ("新等级", "To"),
        (_, "at") => ("时间", "At"),
        (_, "source") => ("舆情源", "Source"),
        (_, "updated") => ("更新时间", "Updated"),
        (_, "field") => ("字段", "Field"),
        (_, "value") => ("内容", "Value"),
        (_, "measure") => ("防范措施", "Measure"),
        (_, "action") => ("操作", "Action"),
        (_, "owner") => ("责任人", "Owner"),
        (_, "due") => ("期限", "Due"),
        (_, "rev") => ("版本", "Revision"),
        (_, "author") => ("操作人", "Author"),
        (_, "summary") => ("摘要", "Summary"),
        (_, "alert") => ("预警通报", "Alert"),
        (_, "issuer") => ("发布方", "Issuer"),
        (_, "severity") => ("严重程度", "Severity"),
        (_, "headline") => ("标题", "Headline"),
        (_, "issued") => ("下发时间", "Issued"),
        (_, "recipients") => ("接收县数", "Recipients"),
        (_, "acknowledged") => ("签收时间", "Acknowledged"),
        (_, "overdue") => ("超期", "Overdue"),
        (_, "delivered") => ("送达时间", "Delivered"),
        (_, "by") => ("经办人", "By"),
        (_, "note") => ("备注", "Note"),
        (_, "report") => ("重大事项报告", "Report"),
        (_, "filed") => ("报送时间", "Filed"),
        (_, "automatic") => ("自动报送", "Automatic"),
        (_, "disposal") => ("处置请求", "Disposal request"),
        (_, "directive") => ("工作指令", "Directive"),
        (_, "kind") => ("类型", "Kind"),
        (_, "text") => ("内容", "Text"),
        (_, "deadline") => ("期限", "Deadline"),
        (_, "targets") => ("对象县数", "Targets"),
        (_, "responded") => ("已答复", "Responded"),
        (_, "response rate") => ("完成率", "Response rate"),
        (_, "answered") => ("答复时间", "Answered"),
        (_, "request") => ("处置请求", "Request"),
        (_, "requester") => ("请求方", "Requester"),
        (_, "partner") => ("合作平台", "Partner"),
        (_, "urls") => ("网址", "URLs"),
        (_, "state") => ("进度", "State"),
        (_, "outcome") => ("处置结果", "Outcome"),
        (_, "name") => ("名称", "Name"),
        (_, "relayed") => ("已转交", "Relayed"),
        (_, "mean time to acknowledge") => ("平均签收用时", "Mean time to acknowledge"),
        (_, "mean time to outcome") => ("平均处置用时", "Mean time to outcome"),
        (_, "group") => ("组", "Group"),
        (_, "counties") => ("涉及县", "Counties"),
        (_, "link") => ("连接", "Link"),
        (_, "last contact") => ("最近联系", "Last contact"),
        (_, "silent") => ("失联", "Silent"),
        (_, "behind") => ("待同步条目", "Entries behind"),
        (_, "refused") => ("拒收", "Refused"),
        (_, "last error") => ("最近错误", "Last error"),
        (_, "equivocations") => ("篡改告警", "Equivocations"),
        (_, "quarantined") => ("隔离", "Quarantined"),
        (_, "certificate expires") => ("证书到期", "Certificate expires"),
        (_, "display name") => ("姓名", "Display name"),
        (_, "department") => ("责任部门", "Department"),
        (_, "role") => ("角色", "Role"),
        (_, "since") => ("创建时间", "Since"),
        _ => return key,
    };
    lang.pick(zh, en)
}

/// The name of field `key` of a risk (the `risk` table's `field` column) in `lang`.
pub fn risk_field_in(lang: Lang, key: &str) -> &str {
    let (zh, en) = match key {
        "id" => ("编号", "ID"),
        "county" => ("县(市、区)", "County"),
        "title" => ("标题", "Title"),
        "description" => ("描述", "Description"),
        "focus" => ("重点", "Focus point"),
        "source" => ("舆情源", "Source"),
        "behaviours" => ("风险行为", "Risk behaviours"),
        "department" => ("责任部门", "Responsible department"),
        "status" => ("状态", "Status"),
        "scope" => ("共享范围", "Shared with"),
        "level" => ("等级", "Level"),
        "scores" => ("评分", "Scores"),
        "graded" => ("定级", "Graded"),
        "created" => ("创建时间", "Created"),
        "updated" => ("更新时间", "Updated"),
        _ => return key,
    };
    lang.pick(zh, en)
}

/// A worker's state in `lang`: `运行中` or `running`.
pub fn worker_state_in(lang: Lang, s: &WorkerState) -> &'static str {
    let zh = match s {
        WorkerState::Running => "运行中",
        WorkerState::Stopped => "已停止",
        WorkerState::Failed(_) => "故障",
    };
    lang.pick(zh, s.as_str())
}

/// `是` / `yes`, `否` / `no`.
pub fn yes_no_in(lang: Lang, yes: bool) -> &'static str {
    match yes {
        true => lang.pick("是", "yes"),
        false => lang.pick("否", "no"),
    }
}

/// `超期` / `overdue` when `overdue`, else nothing.
pub fn overdue_in(lang: Lang, overdue: bool) -> &'static str {
    if overdue {
        lang.pick("超期", "overdue")
    } else {
        ""
    }
}

/// A sync link's state (`connected`, `connecting`, `backoff`, `closed`, `never`) in `lang`.
pub fn link_in(lang: Lang, state: &str) -> &str {
    let zh = match state {
        "connected" => "已连接",
        "connecting" => "连接中",
        "backoff" => "等待重连",
        "closed" => "已断开",
        "never" => "从未连接",
        _ => return state,
    };
    lang.pick(zh, state)
}
