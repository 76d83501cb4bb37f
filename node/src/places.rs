//! Names of China's administrative divisions by their GB/T 2260 code (`510104` → 锦江区,
//! `51` → 四川省), so people read `锦江区 510104` where the protocol says `510104`.
//!
//! The table (`places/divisions.tsv`: provinces, prefectures and county-level divisions) is
//! converted from an open data package by `deploy/tools/divisions.py`; its header names the
//! source, version and licence (see docs/places.md). It is compiled in and parsed once. Pure
//! data: this module imports nothing of ours.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The table as shipped: `#` comment lines, then `code<TAB>name` lines.
const TABLE: &str = include_str!("places/divisions.tsv");

/// Code → name, parsed on first use.
fn table() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(code, name)| (code.trim(), name.trim()))
            .filter(|(code, name)| !code.is_empty() && !name.is_empty())
            .collect()
    })
}

/// The official name of the division `code`: two digits for a province (`51`), four or six
/// for a prefecture (`5101`, `510100`), six for a county-level division (`510104`). `None`
/// for a code the table does not hold.
pub fn name_of(code: &str) -> Option<&'static str> {
    let code = code.trim();
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = table();
    match code.len() {
        2 | 4 => t.get(code).copied(),
        // `510000` is Sichuan and `510100` Chengdu in the six-digit form of the standard.
        6 => t.get(code).copied().or_else(|| {
            let short = code.trim_end_matches("00");
            matches!(short.len(), 2 | 4)
                .then(|| t.get(short).copied())
                .flatten()
        }),
        _ => None,
    }
}

/// How people see a division: its name, then its code (`锦江区 510104`). `given` (the name in
/// its certificate, when the province wrote one) wins over the table; a code the table lacks
/// and nobody named is shown bare.
pub fn display(code: &str, given: Option<&str>) -> String {
    match given
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or_else(|| name_of(code))
    {
        Some(name) => format!("{name} {code}"),
        None => code.to_owned(),
    }
}

/// Longest unit name accepted, in characters (the longest official county-level name is
/// about a dozen; `伊犁哈萨克自治州` style names and a suffix fit).
pub const MAX_UNIT_NAME: usize = 40;

/// Why a unit's name (for a certificate, or received in one) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitNameError {
    /// Nothing but spaces.
    #[error("a unit name must not be empty")]
    Empty,
    /// Longer than [`MAX_UNIT_NAME`] characters.
    #[error("a unit name has at most {MAX_UNIT_NAME} characters")]
    TooLong,
    /// A control, line-break or bidirectional formatting character, which would let a name
    /// rewrite the terminal or page it is shown on.
    #[error(
        "a unit name must not contain control or bidirectional formatting characters (U+{0:04X})"
    )]
    Control(u32),
}

/// `name`, trimmed, when it is acceptable as a unit's name: 1 to [`MAX_UNIT_NAME`]
/// characters, no control or bidirectional formatting characters.
pub fn check_unit_name(name: &str) -> Result<&str, UnitNameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UnitNameError::Empty);
    }
    if name.chars().count() > MAX_UNIT_NAME {
        return Err(UnitNameError::TooLong);
    }
    let bidi = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
    match name.chars().find(|c| c.is_control() || bidi(*c)) {
        Some(c) => Err(UnitNameError::Control(u32::from(c))),
        None => Ok(name),
    }
}

/// How many divisions the table names (for docs and tests).
pub fn len() -> usize {
    table().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_provinces_prefectures_and_counties() {
        assert_eq!(name_of("510104"), Some("锦江区"));
        assert_eq!(name_of("51"), Some("四川省"));
        assert_eq!(name_of("510000"), Some("四川省"));
        assert_eq!(name_of("5101"), Some("成都市"));
        assert_eq!(name_of("510100"), Some("成都市"));
        assert_eq!(name_of("110101"), Some("东城区"));
        assert_eq!(name_of("650102"), Some("天山区"));
        for unknown in ["", "5", "99", "519999", "51010x", "5101040"] {
            assert_eq!(name_of(unknown), None, "{unknown}");
        }
        // All of China: about 2,850 county-level divisions in 31 provinces (and HK, Macao).
        assert!(len() > 3_000, "{}", len());
    }

    #[test]
    fn unit_names_are_checked() {
        assert_eq!(check_unit_name(" 锦江区 "), Ok("锦江区"));
        assert_eq!(check_unit_name(""), Err(UnitNameError::Empty));
        assert_eq!(
            check_unit_name(&"区".repeat(41)),
            Err(UnitNameError::TooLong)
        );
        assert!(check_unit_name(&"区".repeat(40)).is_ok());
        for bad in ["锦江\n区", "锦江\u{1b}[2J", "\u{202e}区江锦", "a\u{7f}"] {
            assert!(
                matches!(check_unit_name(bad), Err(UnitNameError::Control(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn display_puts_the_name_before_the_code() {
        assert_eq!(display("510104", None), "锦江区 510104");
        assert_eq!(display("510104", Some("锦江")), "锦江 510104");
        assert_eq!(display("510104", Some("  ")), "锦江区 510104");
        assert_eq!(display("51", None), "四川省 51");
        assert_eq!(display("519999", None), "519999");
        assert_eq!(display("519999", Some("试验区")), "试验区 519999");
    }
}
