//! Ids of alerts, reports, directives, consultations and disposal requests: the origin's
//! division code, a letter for the kind and a number (`510104-a3`).

/// What kind of item an id names, by its letter: `510104-a3` is an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A shared alert (`a`).
    Alert,
    /// A major-issue report (`r`).
    Report,
    /// A directive (`d`).
    Directive,
    /// A consultation (`c`).
    Consultation,
    /// A disposal request to a partner website (`x`).
    Disposal,
}

impl ItemKind {
    /// The letter of its ids.
    pub fn letter(self) -> char {
        match self {
            Self::Alert => 'a',
            Self::Report => 'r',
            Self::Directive => 'd',
            Self::Consultation => 'c',
            Self::Disposal => 'x',
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        Some(match c {
            'a' => Self::Alert,
            'r' => Self::Report,
            'd' => Self::Directive,
            'c' => Self::Consultation,
            'x' => Self::Disposal,
            _ => return None,
        })
    }

    /// For people: `alert`, `report`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Report => "report",
            Self::Directive => "directive",
            Self::Consultation => "consultation",
            Self::Disposal => "disposal request",
        }
    }
}

/// An item id taken apart: `510104-a3` is (`510104`, alert, 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId<'a> {
    /// Division code of the origin.
    pub unit: &'a str,
    /// What it is.
    pub kind: ItemKind,
    /// Its number among the origin's items of that kind.
    pub number: u64,
}

impl<'a> ItemId<'a> {
    /// Parses `510104-a3`; `None` for anything else.
    pub fn parse(id: &'a str) -> Option<Self> {
        let (unit, rest) = id.rsplit_once('-')?;
        let mut chars = rest.chars();
        let kind = ItemKind::from_letter(chars.next()?)?;
        let number: u64 = chars.as_str().parse().ok()?;
        if number == 0 || !matches!(unit.len(), 2 | 6) || !unit.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self { unit, kind, number })
    }

    /// The store key: ordered by origin, kind, then number.
    pub fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.unit.len() + 10);
        k.extend_from_slice(self.unit.as_bytes());
        k.push(b'-');
        k.push(self.kind.letter() as u8);
        k.extend_from_slice(&self.number.to_be_bytes());
        k
    }
}

impl ItemId<'_> {
    /// Says why this item cannot be written by `unit` as a `kind` (ids carry their origin and
    /// kind, so no one writes under another's name); `None` when it can.
    pub fn refuse_writer(&self, unit: &str, kind: ItemKind) -> Option<String> {
        (self.unit != unit || self.kind != kind).then(|| {
            format!(
                "{} {}-{}{} cannot be written by {unit}",
                kind.name(),
                self.unit,
                self.kind.letter(),
                self.number,
            )
        })
    }
}

impl<'a> ItemId<'a> {
    /// Parses `id` (trimmed) as an item of `kind`; the reason, for people, when it is not one.
    pub fn parse_as(id: &'a str, kind: ItemKind) -> Result<Self, String> {
        match Self::parse(id.trim()) {
            Some(parsed) if parsed.kind == kind => Ok(parsed),
            _ => Err(format!(
                "{id:?} is not an {} id (e.g. 510104-{}1)",
                kind.name(),
                kind.letter()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_name_origin_kind_and_number() {
        let id = ItemId::parse("510104-a12").unwrap();
        assert_eq!(
            (id.unit, id.kind, id.number),
            ("510104", ItemKind::Alert, 12)
        );
        assert_eq!(ItemId::parse("51-d3").unwrap().kind, ItemKind::Directive);
        assert_eq!(ItemId::parse("510104-x1").unwrap().kind, ItemKind::Disposal);
        for bad in [
            "510104-12",
            "510104-a0",
            "510104-z1",
            "5101-a1",
            "a1",
            "510104-a",
        ] {
            assert_eq!(ItemId::parse(bad), None, "{bad}");
        }
        // Keys sort by number, not by text.
        let k = |s| ItemId::parse(s).unwrap().key();
        assert!(k("510104-a2") < k("510104-a10"));
        assert!(ItemId::parse_as("510104-r1", ItemKind::Alert).is_err());
    }
}
