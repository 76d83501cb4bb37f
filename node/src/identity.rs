//! Who is who: division codes (GB/T 2260) and the identities that certificates carry as a
//! URI SAN (`fenghuo://county/510104`, `fenghuo://staff/510104/zhang`, ...).

use std::fmt;
use std::str::FromStr;

/// The URI scheme of every Fenghuo identity.
pub const SCHEME: &str = "fenghuo://";

/// Province-level codes of GB/T 2260 (the first two digits of every division code).
const PROVINCE_CODES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// Why a code, name or identity URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// A county code is six digits naming a county-level division.
    #[error("county code {0:?} is not valid: expected six digits of a county-level division (GB/T 2260), e.g. 510104")]
    BadCounty(String),
    /// A province code is two digits naming a province-level division.
    #[error("province code {0:?} is not valid: expected the two digits of a province-level division (GB/T 2260), e.g. 51")]
    BadProvince(String),
    /// Either form was expected.
    #[error("division code {0:?} is not valid: expected a county (six digits, e.g. 510104) or a province (two digits, e.g. 51)")]
    BadDivision(String),
    /// Partner and staff names end up in file names and URIs.
    #[error("name {0:?} is not valid: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")]
    BadName(String),
    /// The URI does not have one of the five shapes.
    #[error("identity {0:?} is not a Fenghuo identity (fenghuo://county/CODE, fenghuo://province/CODE, fenghuo://partner/NAME, fenghuo://staff/CODE/NAME, fenghuo://intake/COUNTY/SYSTEM)")]
    BadUri(String),
}

/// A validated administrative division code: a county (six digits) or a province (two).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    /// A county code: six digits, a known province prefix, not ending in `00`.
    pub fn county(code: &str) -> Result<Self, IdentityError> {
        let ok = code.len() == 6
            && code.bytes().all(|b| b.is_ascii_digit())
            && PROVINCE_CODES.contains(&&code[..2])
            && &code[4..] != "00";
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(IdentityError::BadCounty(code.to_owned()))
        }
    }

    /// A province code: two digits of a province-level division.
    pub fn province(code: &str) -> Result<Self, IdentityError> {
        if PROVINCE_CODES.contains(&code) {
            Ok(Self(code.to_owned()))
        } else {
            Err(IdentityError::BadProvince(code.to_owned()))
        }
    }

    /// Either a county or a province code, told apart by length.
    pub fn parse(code: &str) -> Result<Self, IdentityError> {
        match code.len() {
            6 => Self::county(code),
            2 => Self::province(code),
            _ => Err(IdentityError::BadDivision(code.to_owned())),
        }
    }

    /// True for a county code.
    pub fn is_county(&self) -> bool {
        self.0.len() == 6
    }

    /// The two-digit province this division lies in.
    pub fn province_code(&self) -> &str {
        &self.0[..2]
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a partner or staff name.
pub fn validate_name(name: &str) -> Result<(), IdentityError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(IdentityError::BadName(name.to_owned()))
    }
}

/// A certificate holder, as named by its URI SAN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A county node.
    County(DivisionCode),
    /// The provincial gateway (or any machine acting for the province).
    Province(DivisionCode),
    /// A partner website.
    Partner(String),
    /// A person acting for a county or the province.
    Staff {
        /// The county or province the person acts for.
        unit: DivisionCode,
        /// The person's login-style name.
        name: String,
    },
    /// A monitoring system feeding a county's intake (舆情监测系统): it may submit
    /// observations to that county's node and do nothing else.
    Intake {
        /// The county whose node it feeds.
        county: DivisionCode,
        /// The system's name, which its observations carry (`yuqing-1`).
        system: String,
    },
}

impl Identity {
    /// A county node's identity.
    pub fn county(code: &str) -> Result<Self, IdentityError> {
        DivisionCode::county(code).map(Self::County)
    }

    /// The province's identity.
    pub fn province(code: &str) -> Result<Self, IdentityError> {
        DivisionCode::province(code).map(Self::Province)
    }

    /// A partner website's identity.
    pub fn partner(name: &str) -> Result<Self, IdentityError> {
        validate_name(name)?;
        Ok(Self::Partner(name.to_owned()))
    }

    /// A staff member of a county or province.
    pub fn staff(unit: &str, name: &str) -> Result<Self, IdentityError> {
        validate_name(name)?;
        Ok(Self::Staff {
            unit: DivisionCode::parse(unit)?,
            name: name.to_owned(),
        })
    }

    /// A monitoring system feeding `county`'s intake.
    pub fn intake(county: &str, system: &str) -> Result<Self, IdentityError> {
        validate_name(system)?;
        Ok(Self::Intake {
            county: DivisionCode::county(county)?,
            system: system.to_owned(),
        })
    }

    /// The identity without the scheme, e.g. `county/510104`: used as feed origins and authors.
    pub fn path(&self) -> String {
        match self {
            Self::County(c) => format!("county/{c}"),
            Self::Province(c) => format!("province/{c}"),
            Self::Partner(n) => format!("partner/{n}"),
            Self::Staff { unit, name } => format!("staff/{unit}/{name}"),
            Self::Intake { county, system } => format!("intake/{county}/{system}"),
        }
    }

    /// The URI SAN, e.g. `fenghuo://county/510104`.
    pub fn uri(&self) -> String {
        format!("{SCHEME}{}", self.path())
    }

    /// The file stem the CA uses for this identity, e.g. `staff-510104-zhang`.
    pub fn file_stem(&self) -> String {
        self.path().replace('/', "-")
    }

    /// The division this identity acts for, if any (partners act for none, and a monitoring
    /// system acts for no one: it only feeds its county's intake).
    pub fn unit(&self) -> Option<&DivisionCode> {
        match self {
            Self::County(c) | Self::Province(c) => Some(c),
            Self::Staff { unit, .. } => Some(unit),
            Self::Partner(_) | Self::Intake { .. } => None,
        }
    }

    /// The node this identity belongs to, which the CLI expects to talk to unless told
    /// otherwise: a node is its own; a staff member's is their county's node or, for
    /// provincial staff, the gateway. Partners belong to no node.
    pub fn home_node(&self) -> Option<Identity> {
        match self {
            Self::County(_) | Self::Province(_) => Some(self.clone()),
            Self::Staff { unit, .. } if unit.is_county() => Some(Self::County(unit.clone())),
            Self::Staff { unit, .. } => Some(Self::Province(unit.clone())),
            Self::Intake { county, .. } => Some(Self::County(county.clone())),
            Self::Partner(_) => None,
        }
    }

    /// True for the identity of a server: a county node or the provincial gateway.
    pub fn is_node(&self) -> bool {
        matches!(self, Self::County(_) | Self::Province(_))
    }

    /// Parses `county/510104` (the form without scheme).
    pub fn from_path(path: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::BadUri(path.to_owned());
        let mut parts = path.split('/');
        let kind = parts.next().ok_or_else(bad)?;
        let a = parts.next().ok_or_else(bad)?;
        let b = parts.next();
        if parts.next().is_some() {
            return Err(bad());
        }
        match (kind, b) {
            ("county", None) => Self::county(a),
            ("province", None) => Self::province(a),
            ("partner", None) => Self::partner(a),
            ("staff", Some(name)) => Self::staff(a, name),
            ("intake", Some(system)) => Self::intake(a, system),
            _ => Err(bad()),
        }
    }
}

impl FromStr for Identity {
    type Err = IdentityError;

    /// Parses the URI form, `fenghuo://county/510104`.
    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        let path = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| IdentityError::BadUri(uri.to_owned()))?;
        Self::from_path(path).map_err(|e| match e {
            IdentityError::BadUri(_) => IdentityError::BadUri(uri.to_owned()),
            other => other,
        })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

/// True for the province's two-digit code (the gateway), false for a county's.
pub fn is_province(unit: &str) -> bool {
    unit.len() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitoring_systems_identity_names_its_county_and_acts_for_no_unit() {
        let id: Identity = "fenghuo://intake/510104/yuqing-1".parse().unwrap();
        assert_eq!(id, Identity::intake("510104", "yuqing-1").unwrap());
        assert_eq!(id.file_stem(), "intake-510104-yuqing-1");
        assert_eq!(id.unit(), None);
        assert_eq!(id.home_node(), Some(Identity::county("510104").unwrap()));
        assert!(!id.is_node());
        for bad in [
            "intake/51/x",
            "intake/510104/Bad",
            "intake/510104",
            "intake/510104/a/b",
        ] {
            assert!(Identity::from_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn county_codes_are_checked() {
        assert!(DivisionCode::county("510104").is_ok());
        for bad in ["51010", "5101044", "510100", "991234", "51a104", ""] {
            assert!(DivisionCode::county(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn province_codes_are_checked() {
        assert!(DivisionCode::province("51").is_ok());
        assert!(DivisionCode::province("99").is_err());
        assert!(DivisionCode::province("510104").is_err());
    }

    #[test]
    fn uris_round_trip() {
        for uri in [
            "fenghuo://county/510104",
            "fenghuo://province/51",
            "fenghuo://partner/weibo",
            "fenghuo://staff/510104/zhang",
            "fenghuo://staff/51/li",
        ] {
            let id: Identity = uri.parse().unwrap();
            assert_eq!(id.uri(), uri);
        }
        let staff: Identity = "fenghuo://staff/510104/zhang".parse().unwrap();
        assert_eq!(staff.file_stem(), "staff-510104-zhang");
        assert_eq!(staff.unit().unwrap().as_str(), "510104");
    }

    #[test]
    fn each_identity_belongs_to_its_units_node() {
        let home = |uri: &str| {
            uri.parse::<Identity>()
                .unwrap()
                .home_node()
                .map(|n| n.uri())
        };
        let county = Some("fenghuo://county/510104".to_owned());
        let province = Some("fenghuo://province/51".to_owned());
        assert_eq!(home("fenghuo://staff/510104/zhang"), county);
        assert_eq!(home("fenghuo://county/510104"), county);
        assert_eq!(home("fenghuo://staff/51/wang"), province);
        assert_eq!(home("fenghuo://province/51"), province);
        assert_eq!(home("fenghuo://partner/weibo"), None);
        assert!(home("fenghuo://staff/510105/li") != county);
    }

    #[test]
    fn bad_uris_are_refused() {
        for uri in [
            "https://county/510104",
            "fenghuo://county/5101",
            "fenghuo://staff/510104",
            "fenghuo://staff/510104/Zhang",
            "fenghuo://partner/a/b",
            "fenghuo://mayor/510104",
        ] {
            assert!(uri.parse::<Identity>().is_err(), "{uri} accepted");
        }
    }
}
