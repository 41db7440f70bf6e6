//! Podman 4.3's `logs --timestamps` prints every fragment of a partial line (output the
//! container wrote without a newline before pausing) with its own timestamp, so one line
//! reads `T1 from-hostT2 ` instead of `T1 from-host`. This removes those inner stamps.
//!
//! A fragment's stamp cannot be told apart from an identical RFC 3339 stamp the container
//! itself printed mid-line: an inner stamp is removed only when it is a complete stamp in
//! podman's format, followed by a space, and not earlier than the line's own stamp.

/// Length of the RFC 3339 stamp podman prints (`2026-11-29T04:26:59.515607297Z`, or with
/// a `+02:00` offset) at the start of `s`, if there is one.
fn stamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut end = 19;
    if b.get(end) == Some(&b'.') {
        let frac = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if !(1..=9).contains(&frac) {
            return None;
        }
        end += 1 + frac;
    }
    match b.get(end) {
        Some(b'Z') => Some(end + 1),
        Some(b'+' | b'-')
            if digits(end + 1..end + 3)
                && b.get(end + 3) == Some(&b':')
                && digits(end + 4..end + 6) =>
        {
            Some(end + 6)
        }
        _ => None,
    }
}

/// One `STAMP body` line with the stamps of its later fragments removed. A stamp at the
/// very start of the body is the container's own: a fragment is never empty.
fn join_line(line: &str) -> String {
    let Some(lead_len) = stamp_len(line) else {
        return line.to_owned();
    };
    let lead = &line[..lead_len];
    let head = (lead_len + 1).min(line.len());
    let body = &line[head..];
    let mut out = line[..head].to_owned();
    let mut i = 0;
    while let Some(c) = body[i..].chars().next() {
        let rest = &body[i..];
        if i > 0 {
            if let Some(n) = stamp_len(rest) {
                if rest[n..].starts_with(' ') && same_zone_not_earlier(lead, &rest[..n]) {
                    i += n + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Whether `inner` is in the same zone as `lead` and not earlier (both as podman prints).
fn same_zone_not_earlier(lead: &str, inner: &str) -> bool {
    let zone = |s: &str| {
        if s.ends_with('Z') {
            "Z".to_owned()
        } else {
            s[s.len() - 6..].to_owned()
        }
    };
    let key = |s: &str| {
        let z = zone(s);
        let body = &s[..s.len() - z.len()];
        let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
        format!("{secs}.{frac:0<9}")
    };
    zone(lead) == zone(inner) && key(inner) >= key(lead)
}

/// The text of one stream of `podman logs --timestamps`, each line's fragments joined.
pub fn join_fragments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(&join_line(body));
        out.push_str(newline);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_fragments_of_a_partial_line() {
        // Captured: `cat in.txt; echo` where in.txt has no trailing newline.
        let out = "2026-11-29T04:26:59.515520044Z from-host2026-11-29T04:26:59.515607297Z \n";
        assert_eq!(
            join_fragments(out),
            "2026-11-29T04:26:59.515520044Z from-host\n"
        );
        let three = "2026-11-29T04:26:59Z a2026-11-29T04:26:59.1Z b2026-11-29T04:27:00Z c";
        assert_eq!(join_fragments(three), "2026-11-29T04:26:59Z abc");
        let offset = "2026-11-29T05:26:59.5+01:00 x2026-11-29T05:26:59.6+01:00 y\n";
        assert_eq!(join_fragments(offset), "2026-11-29T05:26:59.5+01:00 xy\n");
    }

    #[test]
    fn keeps_what_the_container_printed() {
        for line in [
            "2026-11-29T04:26:59.5Z 2026-11-29T04:26:59.4Z app stamp at the start\n",
            "2026-11-29T04:26:59.5Z at 2026-11-29T04:20:00Z earlier than the line\n",
            "2026-11-29T04:26:59.5Z at 2026-11-29T04:27:00Znospace\n",
            "2026-11-29T04:26:59.5Z version 2026-11-29 and 12:00:00\n",
            "no stamp 2026-11-29T04:27:00Z here\n",
            "2026-11-29T04:26:59.5Z \n",
            "",
        ] {
            assert_eq!(join_fragments(line), line);
        }
    }

    #[test]
    fn recognises_stamps() {
        assert_eq!(stamp_len("2026-11-29T04:26:59Z rest"), Some(20));
        assert_eq!(stamp_len("2026-11-29T04:26:59.515607297Z"), Some(30));
        assert_eq!(stamp_len("2026-11-29T04:26:59.5+02:00"), Some(27));
        assert_eq!(stamp_len("2026-11-29T04:26:59.1234567891Z"), None);
        assert_eq!(stamp_len("2026-11-29 04:26:59Z"), None);
        assert_eq!(stamp_len("2026-11-29T04:26:59"), None);
        assert_eq!(stamp_len("2026"), None);
    }
}
