//! The one rule for the characters of text fields, local and received alike, and how text
//! holding what it refuses is shown: pure, so the domain's own checks (alert headlines,
//! URLs) and the content checks of every entry (`event::check`) share it.

/// How many lines a text field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Titles, names, departments, owners, sources: one line, no tabs.
    One,
    /// Descriptions, notes, summaries, reasons, instructions: line breaks and tabs too.
    Many,
}

/// The first character of `value` a field of `lines` may not hold: its position (1-based,
/// in characters) and what it is. The one rule for text, local and received:
///
/// - C0 controls (U+0000–U+001F), DEL and C1 controls (U+0080–U+009F) are refused: ESC
///   starts terminal escape sequences (`ESC[2J` clears a terminal), and all of them forge
///   lines or columns in logs, tables and exports. A multi-line field may hold `\n` and
///   `\t`, and `\r` (HTML forms send CRLF, and earlier builds kept it: received entries
///   still carry it); commands turn `\r\n` and `\r` into `\n` (`event::check::typed`), so nothing this
///   build writes holds one, and the CLI shows any it prints escaped.
/// - The bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) are
///   refused: invisible, they reorder what a person reads (a file name `exe.txt` that is
///   `txt.exe`, "Trojan Source", CVE-2021-42574). So are the implicit marks LRM, RLM and ALM
///   (U+200E, U+200F, U+061C): also invisible, they move digits and punctuation, and
///   Chinese (or Uyghur, or Latin) text renders right without them, since the Unicode bidi
///   algorithm orders strong characters by itself.
pub fn refused_char(value: &str, lines: Lines) -> Option<RefusedChar> {
    value.chars().enumerate().find_map(|(i, c)| {
        char_kind(c, lines).map(|kind| RefusedChar {
            position: i + 1,
            code_point: c as u32,
            kind,
        })
    })
}

/// What `c` is, when a field of `lines` may not hold it.
fn char_kind(c: char, lines: Lines) -> Option<CharKind> {
    Some(match c {
        '\n' | '\t' | '\r' if lines == Lines::Many => return None,
        '\n' | '\r' => CharKind::LineBreak,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => CharKind::Control,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => CharKind::BidiOverride,
        '\u{200e}' | '\u{200f}' | '\u{61c}' => CharKind::BidiMark,
        _ => return None,
    })
}

/// A character a text field may not hold, where it is (see [`refused_char`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedChar {
    /// 1-based, in characters.
    pub position: usize,
    /// Its code point.
    pub code_point: u32,
    /// What it is.
    pub kind: CharKind,
}

/// The kinds of character text fields refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharKind {
    /// `\n` or `\r` in a one-line field.
    LineBreak,
    /// Any other C0 control, DEL, a C1 control.
    Control,
    /// An embedding, override or isolate.
    BidiOverride,
    /// LRM, RLM, ALM.
    BidiMark,
}

impl std::fmt::Display for RefusedChar {
    /// "contains a control character (U+001B) at position 3", and the same in Chinese, for
    /// the CLI, gRPC clients and the dashboard alike.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (en, zh) = match self.kind {
            CharKind::LineBreak => ("a line break", "换行符"),
            CharKind::Control => ("a control character", "控制字符"),
            CharKind::BidiOverride => ("a bidirectional override character", "双向文本控制字符"),
            CharKind::BidiMark => ("a bidirectional mark", "双向文本标记"),
        };
        let (at, cp) = (self.position, self.code_point);
        write!(
            f,
            "contains {en} (U+{cp:04X}) at position {at} (第 {at} 个字符为{zh} U+{cp:04X}，请删除)"
        )
    }
}

/// `text` as a terminal or a page may show it: every character that could act on a terminal
/// or reorder what a person reads is written as a `\uXXXX` escape — C0 controls but line feed
/// and tab (ESC, CR, …), DEL, C1 controls, bidirectional overrides, isolates and marks: what
/// [`refused_char`] refuses in a multi-line field, and CR. Data that earlier builds accepted,
/// or that a client wrote around the checks, can hold them. The same escape is valid inside a
/// JSON string (where serde_json leaves DEL, C1 and the bidi characters as they are), so one
/// function serves the CLI's tables, its `--json` and the dashboard's pages.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| c == '\r' || char_kind(c, Lines::Many).is_some();
    if !text.chars().any(escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
