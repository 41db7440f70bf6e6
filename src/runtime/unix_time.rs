//! Log requests' `since`: an RFC 3339 time as the `seconds.nanoseconds` unix time both
//! engines' REST APIs take.

use crate::core::error::RuntimeError;
use crate::core::model::RuntimeKind;

/// A log request's `since` as the unix time both engines take.
pub(crate) fn since_query(runtime: RuntimeKind, since: &str) -> Result<String, RuntimeError> {
    rfc3339_to_unix(since).ok_or_else(|| RuntimeError::Engine {
        runtime,
        message: format!(
            "since '{}' is not an RFC 3339 time after 1970 (e.g. 2026-11-29T10:00:00Z)",
            crate::core::names::printable(since)
        ),
    })
}

/// Converts an RFC 3339 time to the `seconds.nanoseconds` form Docker's `since` takes.
fn rfc3339_to_unix(s: &str) -> Option<String> {
    if !crate::core::clock::is_rfc3339(s) {
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
    let mut nanos = String::from("000000000");
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits: String = frac[..n].chars().take(9).collect();
        nanos.replace_range(..digits.len(), &digits);
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
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    if secs < 0 {
        return None;
    }
    Some(format!("{secs}.{nanos}"))
}

/// Howard Hinnant's civil-to-days algorithm (days since 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_conversion() {
        assert_eq!(
            rfc3339_to_unix("1970-01-01T00:00:00Z").as_deref(),
            Some("0.000000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T10:00:00Z").as_deref(),
            Some("1795946400.000000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T12:00:00.5+02:00").as_deref(),
            Some("1795946400.500000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T05:30:00-04:30").as_deref(),
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
            assert_eq!(rfc3339_to_unix(bad), None, "{bad}");
        }
    }
}
