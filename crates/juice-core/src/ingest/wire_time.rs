//! Event times as InfluxDB nanoseconds, read from the wire text exactly as the TypeScript path
//! reads them (`WireTime`): milliseconds as `Date.parse` computes them for ISO 8601 text, plus the
//! fraction digits beyond the millisecond when the text has them, so two events microseconds
//! apart stay two points.

/// Most milliseconds from the epoch a JavaScript `Date` can hold, either way.
const MAX_MS: i64 = 8_640_000_000_000_000;

/// Nanoseconds since the epoch of a `time` given as text.
pub(crate) fn nanos_of_text(text: &str) -> Result<i128, String> {
    let parsed = parse_iso(text.as_bytes())
        .ok_or_else(|| format!("invalid event time: {}", quoted(text)))?;
    let extra = if parsed.upper_t {
        sub_millisecond_nanos(parsed.fraction)
    } else {
        0
    };
    Ok(parsed.ms as i128 * 1_000_000 + extra as i128)
}

/// Nanoseconds of a `time` given as a number of epoch milliseconds (as `new Date(ms)` reads it).
pub(crate) fn nanos_of_ms(ms: f64) -> Result<i128, String> {
    if !ms.is_finite() || ms.abs() > MAX_MS as f64 {
        return Err(format!("invalid event time: {ms}"));
    }
    Ok(ms.trunc() as i128 * 1_000_000)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Digits 4 to 9 of the fraction, as nanoseconds (the first three are in the milliseconds).
fn sub_millisecond_nanos(fraction: &[u8]) -> i64 {
    if fraction.len() <= 3 {
        return 0;
    }
    let mut n = 0i64;
    for i in 3..9 {
        n = n * 10 + fraction.get(i).map_or(0, |d| (d - b'0') as i64);
    }
    n
}

struct Parsed<'a> {
    ms: i64,
    fraction: &'a [u8],
    /// Date and time were separated by an upper-case `T`, the only form whose finer digits the
    /// TypeScript path reads.
    upper_t: bool,
}

struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.s.get(self.at..self.at + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(part.iter().fold(0, |v, d| v * 10 + (d - b'0') as i64))
    }
    fn run_of_digits(&mut self) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        &self.s[start..self.at]
    }
    fn done(&self) -> bool {
        self.at == self.s.len()
    }
}

/// ISO 8601 as V8's `Date.parse` accepts it: `YYYY[-MM[-DD]]`, then optionally a `T` (or `t`, or
/// a space) and `HH:MM[:SS[.fff...]]`, then `Z`, `±HH:MM`, `±HHMM` or nothing (taken as UTC, as
/// Juice stores UTC). Years may be `±YYYYYY`. Days up to 31 in any month roll over, as in V8.
fn parse_iso(s: &[u8]) -> Option<Parsed<'_>> {
    let mut c = Cursor { s, at: 0 };
    let year = match c.peek()? {
        b'+' | b'-' => {
            let neg = c.peek() == Some(b'-');
            c.at += 1;
            let y = c.digits(6)?;
            if neg && y == 0 {
                return None;
            }
            if neg {
                -y
            } else {
                y
            }
        }
        _ => c.digits(4)?,
    };
    let (mut month, mut day) = (1, 1);
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut milli) = (0, 0, 0, 0);
    let mut fraction: &[u8] = &[];
    let mut upper_t = false;
    let mut offset_min = 0i64;
    if !c.done() {
        let sep = c.peek()?;
        if sep != b'T' && sep != b't' && sep != b' ' {
            return None;
        }
        upper_t = sep == b'T';
        c.at += 1;
        hour = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        minute = c.digits(2)?;
        if c.eat(b':') {
            second = c.digits(2)?;
            if c.eat(b'.') {
                fraction = c.run_of_digits();
                if fraction.is_empty() {
                    return None;
                }
                milli = fraction
                    .iter()
                    .take(3)
                    .enumerate()
                    .map(|(i, d)| (d - b'0') as i64 * [100, 10, 1][i])
                    .sum();
            }
        }
        if hour > 24 || minute > 59 || second > 59 {
            return None;
        }
        if hour == 24 && (minute != 0 || second != 0 || milli != 0) {
            return None;
        }
        match c.peek() {
            None => {}
            Some(b'Z' | b'z') => c.at += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.at += 1;
                let h = c.digits(2)?;
                c.eat(b':');
                let m = c.digits(2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                offset_min = (h * 60 + m) * if sign == b'-' { -1 } else { 1 };
            }
            Some(_) => return None,
        }
        if !c.done() {
            return None;
        }
    }
    let days = days_from_civil(year, month, day);
    let ms = ((days * 24 + hour) * 60 + minute - offset_min) * 60_000 + second * 1000 + milli;
    (ms.abs() <= MAX_MS).then_some(Parsed {
        ms,
        fraction,
        upper_t,
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (a day past the month's end rolls over).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_parse_agreement() {
        // Expected values are V8's Date.parse (Node 20) of the same text, times 1e6.
        for (text, ms) in [
            ("2026-02-30T00:00:00Z", 1772409600000i64),
            ("2026-11-30T24:00:00Z", 1796083200000),
            ("2026-11-30", 1795996800000),
            ("2026-11", 1793491200000),
            ("2026", 1767225600000),
            ("2026-11-30T10:00Z", 1796032800000),
            ("2026-11-30t10:00:00z", 1796032800000),
            ("2026-11-30T10:00:00+0100", 1796029200000),
            ("2026-11-30 10:00:00Z", 1796032800000),
            ("+002026-11-30T10:00:00Z", 1796032800000),
            ("-000001-01-01T00:00:00Z", -62198755200000),
            ("2026-11-30T10:00:00.123-23:59", 1796119140123),
            ("0000-01-01T00:00:00Z", -62167219200000),
            ("+275760-09-13T00:00:00Z", 8640000000000000),
        ] {
            assert_eq!(nanos_of_text(text), Ok(ms as i128 * 1_000_000), "{text}");
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-11-30T24:00:01Z",
            "2026-11-30T23:60:00Z",
            "2026-11-30T10:00:00.Z",
            "2026-11-30T10:00:00+01",
            "2026-11-30T10:00:00.123+25:00",
            "+275760-09-13T00:00:00.001Z",
            "2026-11-30T10:00:00,5Z",
            "275760-09-13T00:00:00Z",
            "",
            "yesterday",
        ] {
            assert!(nanos_of_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fraction_digits_beyond_milliseconds_are_kept() {
        let base = 1796032800000i128 * 1_000_000;
        assert_eq!(
            nanos_of_text("2026-11-30T10:00:00.123456Z"),
            Ok(base + 123_456_000)
        );
        assert_eq!(
            nanos_of_text("2026-11-30T10:00:00.123456789Z"),
            Ok(base + 123_456_789)
        );
        assert_eq!(
            nanos_of_text("2026-11-30T10:00:00.1234567891Z"),
            Ok(base + 123_456_789)
        );
        assert_eq!(
            nanos_of_text("2026-11-30T10:00:00.1Z"),
            Ok(base + 100_000_000)
        );
        // The TypeScript path reads finer digits only after an upper-case T.
        assert_eq!(
            nanos_of_text("2026-11-30 10:00:00.123456Z"),
            Ok(base + 123_000_000)
        );
        assert_eq!(nanos_of_ms(1.9), Ok(1_000_000));
        assert_eq!(nanos_of_ms(-1.9), Ok(-1_000_000));
        assert!(nanos_of_ms(9e15).is_err());
    }
}
