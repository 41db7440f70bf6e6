//! `Since`: the instant a `logs` request starts from, parsed once from RFC 3339 by the
//! codec; the runtimes format it (unix `seconds.nanoseconds` for the engine APIs, RFC
//! 3339 in UTC for the CLIs) and never parse it again.
//!
//! # Implementation
//! A small hand-written parser: `time` 0.3 appears in Cargo.lock only through `cookie`
//! (ureq's cookie feature, which the agent does not enable), so no build compiles it
//! (`cargo tree --all-features -i time@0.3.55` prints nothing, checked 2026-12-07);
//! the `time` that is compiled (0.2, through tide) is unmaintained. Adding a date crate
//! for one line of RFC 3339 grammar would cost more than these lines.

use super::clock;
use super::names::{printable, InvalidValue};
use serde::Deserialize;

/// An instant at or after 1970-01-01T00:00:00Z, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Since {
    secs: u64,
    nanos: u32,
}

impl Since {
    /// Parses an RFC 3339 time (`2026-11-29T10:00:00Z`; fractional seconds and numeric
    /// offsets allowed) at or after the Unix epoch.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        parse_rfc3339(s).ok_or_else(|| {
            InvalidValue(format!(
                "'{}' is not an RFC 3339 time after 1970 such as 2026-11-29T10:00:00Z",
                printable(s)
            ))
        })
    }

    /// Whole seconds since the epoch.
    pub fn unix_secs(&self) -> u64 {
        self.secs
    }

    /// `seconds.nanoseconds` since the epoch, the form the Docker and libpod APIs take.
    pub fn unix_query(&self) -> String {
        format!("{}.{:09}", self.secs, self.nanos)
    }
}

impl TryFrom<String> for Since {
    type Error = InvalidValue;

    fn try_from(s: String) -> Result<Self, InvalidValue> {
        Self::parse(&s)
    }
}

/// RFC 3339 in UTC (`2026-11-29T10:00:00Z`, `2026-11-29T10:00:00.5Z`), as both CLIs take.
impl std::fmt::Display for Since {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whole = clock::rfc3339(self.secs);
        if self.nanos == 0 {
            return f.write_str(&whole);
        }
        let fraction = format!("{:09}", self.nanos);
        let date_time = whole.trim_end_matches('Z');
        write!(f, "{date_time}.{}Z", fraction.trim_end_matches('0'))
    }
}

/// Whether `s` has the shape of an RFC 3339 timestamp.
fn has_rfc3339_shape(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let head_ok = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !head_ok {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The instant `s` names, when it is RFC 3339 with fields in range and not before 1970.
fn parse_rfc3339(s: &str) -> Option<Since> {
    if !has_rfc3339_shape(s) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits: String = frac[..n].chars().take(9).collect();
        nanos = format!("{digits:0<9}").parse().ok()?;
        rest = &frac[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign, ..] => {
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            let o = h * 3600 + m * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        [] => return None,
    };
    let days = clock::days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(Since {
        secs: u64::try_from(secs).ok()?,
        nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(s: &str) -> Option<String> {
        Since::parse(s).ok().map(|t| t.unix_query())
    }

    #[test]
    fn rfc3339_conversion() {
        assert_eq!(unix("1970-01-01T00:00:00Z").as_deref(), Some("0.000000000"));
        assert_eq!(
            unix("2026-11-29T10:00:00Z").as_deref(),
            Some("1795946400.000000000")
        );
        assert_eq!(
            unix("2026-11-29T12:00:00.5+02:00").as_deref(),
            Some("1795946400.500000000")
        );
        assert_eq!(
            unix("2026-11-29T05:30:00-04:30").as_deref(),
            Some("1795946400.000000000")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-29 10:00:00Z",
            "2026-11-29T25:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(unix(bad), None, "{bad}");
        }
    }

    #[test]
    fn recognises_rfc3339() {
        assert!(Since::parse("2026-11-29T10:00:00Z").is_ok());
        assert!(Since::parse("2026-11-29T10:00:00.123+01:00").is_ok());
        assert!(Since::parse("2026-11-29t10:00:00z").is_ok());
        assert!(Since::parse("yesterday").is_err());
        assert!(Since::parse("2026-11-29 10:00:00").is_err());
        assert!(Since::parse("--since=1").is_err());
        assert!(Since::parse("2026-11-29T10:00:00.Z").is_err());
    }

    #[test]
    fn displays_in_utc_for_the_clis() {
        let at = |s: &str| Since::parse(s).unwrap().to_string();
        assert_eq!(at("2026-11-29T10:00:00Z"), "2026-11-29T10:00:00Z");
        assert_eq!(at("2026-11-29T12:00:00.50+02:00"), "2026-11-29T10:00:00.5Z");
        assert_eq!(at("2000-01-01T00:00:00+02:00"), "1999-12-31T22:00:00Z");
    }

    #[test]
    fn the_message_names_the_value() {
        let e = Since::parse("--follow").unwrap_err().to_string();
        assert!(e.contains("--follow") && e.contains("RFC 3339"), "{e}");
    }
}
