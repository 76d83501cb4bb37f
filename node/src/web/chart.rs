//! Charts drawn on the server as SVG: horizontal bars for counts by category, columns for
//! new and resolved risks per day. No script, no library; they print and scale.

use maud::{html, Markup};

use super::lang::Lang;

/// One bar: label, value, fill colour.
#[derive(Debug, Clone)]
pub struct Bar {
    /// What it counts.
    pub label: String,
    /// How many.
    pub value: u64,
    /// Its colour (CSS).
    pub colour: &'static str,
}

const BAR_HEIGHT: u64 = 22;
const LABEL_WIDTH: u64 = 250;
const BARS_WIDTH: u64 = 560;

/// Horizontal bars, longest = full width, each with its count.
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = BAR_HEIGHT * bars.len() as u64 + 4;
    let track = BARS_WIDTH - LABEL_WIDTH - 50;
    html! {
        figure.chart id=(id) {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (BARS_WIDTH) " " (height) } width=(BARS_WIDTH) height=(height) {
                @for (i, b) in bars.iter().enumerate() {
                    @let y = i as u64 * BAR_HEIGHT + 2;
                    @let w = b.value * track / max;
                    text x="0" y=(y + 15) font-size="12" { (b.label) }
                    rect x=(LABEL_WIDTH) y=(y + 2) width=(w.max(1)) height=(BAR_HEIGHT - 6) fill=(b.colour) rx="2" {}
                    text x=(LABEL_WIDTH + w + 6) y=(y + 15) font-size="12" data-value=(b.value) { (b.value) }
                }
            }
        }
    }
}

/// One day's column pair.
#[derive(Debug, Clone)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Identified that day.
    pub new: u64,
    /// Resolved that day.
    pub resolved: u64,
}

const DAYS_WIDTH: u64 = 760;
const DAYS_HEIGHT: u64 = 180;
const AXIS: u64 = 24;
const NEW_COLOUR: &str = "#c0392b";
const RESOLVED_COLOUR: &str = "#27ae60";

/// Columns of new (red) and resolved (green) risks per day, dates under every seventh.
pub fn days(id: &str, title: &str, days: &[Day]) -> Markup {
    let max = days
        .iter()
        .map(|d| d.new.max(d.resolved))
        .max()
        .unwrap_or(0)
        .max(1);
    let n = days.len().max(1) as u64;
    let slot = ((DAYS_WIDTH - 40) / n).max(2);
    let col = (slot / 2).saturating_sub(1).max(1);
    let plot = DAYS_HEIGHT - AXIS - 14;
    let height_of = |v: u64| v * plot / max;
    let lang = Lang::current();
    let (new, resolved) = (lang.pick("新增", "new"), lang.pick("化解", "resolved"));
    html! {
        figure.chart id=(id) {
            figcaption {
                (title) " "
                span style={ "color:" (NEW_COLOUR) } { "■ " (new) } " "
                span style={ "color:" (RESOLVED_COLOUR) } { "■ " (resolved) }
            }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (DAYS_WIDTH) " " (DAYS_HEIGHT) } width=(DAYS_WIDTH) height=(DAYS_HEIGHT) {
                text x="0" y="12" font-size="11" { (max) }
                line x1="36" y1=(DAYS_HEIGHT - AXIS) x2=(DAYS_WIDTH) y2=(DAYS_HEIGHT - AXIS) stroke="#999" {}
                @for (i, d) in days.iter().enumerate() {
                    @let x = 40 + i as u64 * slot;
                    @let base = DAYS_HEIGHT - AXIS;
                    rect x=(x) y=(base - height_of(d.new)) width=(col) height=(height_of(d.new)) fill=(NEW_COLOUR) {
                        title { (d.day) ": " (d.new) " " (new) }
                    }
                    rect x=(x + col) y=(base - height_of(d.resolved)) width=(col) height=(height_of(d.resolved)) fill=(RESOLVED_COLOUR) {
                        title { (d.day) ": " (d.resolved) " " (resolved) }
                    }
                    @if i % 7 == 0 {
                        text x=(x) y=(DAYS_HEIGHT - 8) font-size="10" { (d.day.get(5..).unwrap_or(&d.day)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest() {
        let svg = bars(
            "levels",
            "By level",
            &[
                Bar {
                    label: "I".into(),
                    value: 4,
                    colour: "red",
                },
                Bar {
                    label: "II".into(),
                    value: 2,
                    colour: "orange",
                },
            ],
        )
        .into_string();
        assert!(svg.contains("<svg"), "{svg}");
        let track = BARS_WIDTH - LABEL_WIDTH - 50;
        assert!(svg.contains(&format!("width=\"{track}\"")), "{svg}");
        assert!(svg.contains(&format!("width=\"{}\"", track / 2)), "{svg}");
        assert!(svg.contains("data-value=\"4\""));
    }

    #[test]
    fn days_draw_a_column_pair_each() {
        let d: Vec<Day> = (1..=30)
            .map(|i| Day {
                day: format!("2026-11-{i:02}"),
                new: i,
                resolved: 1,
            })
            .collect();
        let svg = days("days", "Per day", &d).into_string();
        assert_eq!(svg.matches("<rect").count(), 60);
        assert!(svg.contains("11-01"));
    }
}
