//! Protobuf conversions only the server makes: whole records to messages. The enum
//! conversions the CLI shares live in [`crate::wire`].

use fenghuo_proto::v1;

use crate::register::record::RiskRecord;
use crate::wire::{focus_to_proto, level_to_proto, measure_status_to_proto, status_to_proto};

/// A stored risk record as the API returns it.
pub fn risk_to_proto(r: &RiskRecord) -> v1::Risk {
    v1::Risk {
        id: r.id.clone(),
        origin: r.origin.clone(),
        title: r.title.clone(),
        description: r.description.clone(),
        focus: focus_to_proto(r.focus) as i32,
        source: r.source.clone(),
        behaviours: r.behaviours.clone(),
        department: r.department.clone(),
        status: status_to_proto(r.status) as i32,
        grade: r.grade.as_ref().map(|g| v1::Grade {
            influence: g.scores.influence,
            attention: g.scores.attention,
            diffusion: g.scores.diffusion,
            level: level_to_proto(g.effective_level()) as i32,
            standard_version: g.standard_version.clone(),
            graded_at_ms: g.graded_at_ms,
            graded_by: g.graded_by.clone(),
            computed_level: level_to_proto(g.level) as i32,
            override_reason: g.reason.clone(),
        }),
        measures: r
            .measures
            .iter()
            .map(|m| v1::Measure {
                id: m.id.clone(),
                action: m.action.clone(),
                owner: m.owner.clone(),
                due: m.due.clone(),
                status: measure_status_to_proto(m.status) as i32,
                overdue: m.overdue,
                note: m.note.clone(),
            })
            .collect(),
        history: r
            .history
            .iter()
            .map(|h| v1::HistoryEntry {
                rev: h.rev,
                feed: h.feed.to_proto() as i32,
                seq: h.seq,
                at_ms: h.at_ms,
                author: h.author.clone(),
                action: h.action.clone(),
                summary: h.summary.clone(),
            })
            .collect(),
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
        scope: r.scope.to_proto() as i32,
        closure: r.closure.as_ref().map(|c| v1::Closure {
            status: status_to_proto(c.closure.status()) as i32,
            text: c.text.clone(),
            at_ms: c.at_ms,
            by: c.by.clone(),
        }),
        shared_with: r.shared_with.clone(),
    }
}
