//! Time as the SPEC defines it (section 3): expiries, durations and the `--as-of` instant.
//! Nothing here reads the clock; the caller passes `as_of`.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A grant's `expires`: a date is valid through the end of that day in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Date(NaiveDate),
    At(DateTime<chrono::FixedOffset>),
}

impl Expiry {
    /// The first instant at which the grant is no longer valid.
    pub fn instant(&self) -> DateTime<Utc> {
        match self {
            Expiry::Date(d) => end_of_day(*d),
            Expiry::At(t) => t.with_timezone(&Utc),
        }
    }

    pub fn parse(text: &str) -> Result<Expiry, String> {
        if text.len() == 10 {
            return parse_date(text).map(Expiry::Date);
        }
        parse_timestamp(text).map(Expiry::At)
    }
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expiry::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Expiry::At(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

/// `D+1 00:00:00Z`: the instant a date-valued expiry or end date runs out.
pub fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    d.succ_opt()
        .unwrap_or(NaiveDate::MAX)
        .and_hms_opt(0, 0, 0)
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// Exactly `YYYY-MM-DD`, a real calendar day.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(format!("`{text}` is not a date of the form YYYY-MM-DD"));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a day of the calendar"))
}

/// RFC 3339 with seconds and an explicit offset; no leap seconds.
pub fn parse_timestamp(text: &str) -> Result<DateTime<chrono::FixedOffset>, String> {
    let b = text.as_bytes();
    let has_seconds = b.len() >= 19 && b[10] == b'T' && b[16] == b':';
    let has_offset = text.ends_with('Z') || {
        let tail = &b[b.len().saturating_sub(6)..];
        tail.len() == 6 && (tail[0] == b'+' || tail[0] == b'-') && tail[3] == b':'
    };
    if !has_seconds || !has_offset {
        return Err(format!(
            "`{text}` is not a date or an RFC 3339 timestamp with seconds and an offset"
        ));
    }
    if b.len() > 18 && &b[17..19] == b"60" {
        return Err(format!("`{text}` is a leap second"));
    }
    DateTime::parse_from_rfc3339(text).map_err(|_| format!("`{text}` is not a valid timestamp"))
}

/// `12h`, `90d`, `4w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration such as `12h`, `90d` or `4w`");
    let (num, unit) = text.split_at(text.len().checked_sub(1).ok_or_else(bad)?);
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) || num.starts_with('0') {
        return Err(bad());
    }
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n > 1_000_000 {
        return Err(bad());
    }
    match unit {
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        _ => Err(bad()),
    }
}

/// Renders a duration back in the largest unit that divides it.
pub fn format_duration(d: Duration) -> String {
    let h = d.num_hours();
    if h % 24 == 0 && h >= 48 {
        format!("{}d", h / 24)
    } else {
        format!("{h}h")
    }
}

/// `--as-of DATE|TIMESTAMP`: a date means 00:00:00Z of that day.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    match Expiry::parse(text)? {
        Expiry::Date(d) => Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default()),
        Expiry::At(t) => Ok(t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_lasts_through_its_day() {
        let e = Expiry::parse("2026-11-21").unwrap();
        assert_eq!(e.instant().to_rfc3339(), "2026-11-22T00:00:00+00:00");
    }

    #[test]
    fn sloppy_times_are_refused() {
        for bad in [
            "2026-1-01",
            "2026-02-30",
            "2026-12-20T10:00:00",
            "2026-12-20T10:00Z",
            "2026-12-31T23:59:60Z",
            "2026-12-20 10:00:00Z",
            "26-12-20",
        ] {
            assert!(Expiry::parse(bad).is_err(), "{bad}");
        }
        assert!(Expiry::parse("2026-12-20T10:00:00+02:00").is_ok());
        assert!(Expiry::parse("2026-12-20T10:00:00.5Z").is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("4w").unwrap(), Duration::days(28));
        for bad in ["", "d", "0d", "01d", "1y", "-1d", "1.5d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::days(90)), "90d");
        assert_eq!(format_duration(Duration::hours(24)), "24h");
        assert_eq!(format_duration(Duration::hours(48)), "2d");
        assert_eq!(format_duration(Duration::hours(36)), "36h");
    }

    #[test]
    fn as_of_date_is_midnight_utc() {
        assert_eq!(
            parse_as_of("2026-11-22").unwrap().to_rfc3339(),
            "2026-11-22T00:00:00+00:00"
        );
    }
}
