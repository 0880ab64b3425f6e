//! Numbers as the JavaScript path prints them, so both ingestion paths write the same bytes:
//! `String(n)` (ECMAScript's Number::toString) and Python's `repr(float)` as our TypeScript
//! `pythonFloat` writes float tags. Both start from the shortest digits that round-trip, which
//! Rust's `{:e}` formatting gives as well.

use std::fmt::Write as _;

/// A small formatting buffer on the stack: floats are formatted per field, per event.
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl StackText {
    fn new() -> StackText {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Digits (at most 17) and the decimal exponent `n` such that value = 0.d1d2... x 10^n.
struct Digits {
    d: [u8; 20],
    k: usize,
    n: i32,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.d[..self.k]).unwrap_or("0")
    }

    /// From Rust's `{:e}` text, e.g. `1.2345e-7`.
    fn from_exp_text(text: &str) -> Digits {
        let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
        let mut d = Digits {
            d: [b'0'; 20],
            k: 0,
            n: exp.parse::<i32>().unwrap_or(0) + 1,
        };
        for c in mantissa.bytes().filter(u8::is_ascii_digit) {
            if d.k < d.d.len() {
                d.d[d.k] = c;
                d.k += 1;
            }
        }
        d
    }
}

/// Shortest round-trip digits of |v|. Among the shortest candidates, ECMAScript takes the one
/// closest to the value, and the even one on a tie (1886911643669009.25 prints as ...9.2); Rust's
/// shortest form may take the other, so long results are rounded to that length (half to even)
/// and used when that round-trips.
fn shortest(v: f64) -> Digits {
    let v = v.abs();
    let mut t = StackText::new();
    let _ = write!(t, "{v:e}");
    let digits = Digits::from_exp_text(t.as_str());
    // Below 16 digits, decimals of that length are spaced wider than two doubles, so only one
    // can round-trip: no tie to break.
    if digits.k >= 16 {
        let mut r = StackText::new();
        let _ = write!(r, "{:.*e}", digits.k - 1, v);
        if r.as_str().parse::<f64>() == Ok(v) {
            return Digits::from_exp_text(r.as_str());
        }
    }
    digits
}

/// "00", "01", ... "99", one after another.
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends a whole number in decimal.
pub(crate) fn push_int(v: i64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = v.unsigned_abs();
    // Two digits a step: a line's timestamp alone has nineteen.
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    if v < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or("0"));
}

/// `String(v)` in JavaScript (JSON has no NaN).
pub(crate) fn js_string(v: f64, out: &mut String) {
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    // Whole numbers below 2^53 (counters, sequence numbers) print as plain integers: each is the
    // only double near it, so its digits are also the shortest. Beyond, JavaScript prints the
    // shortest digits padded with zeros (-823667171459596300, not ...288).
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        push_int(v as i64, out);
        return;
    }
    if v < 0.0 {
        out.push('-');
    }
    let sh = shortest(v);
    let (digits, n) = (sh.as_str(), sh.n);
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        exponent_form(digits, n - 1, false, out);
    }
}

/// `d[.ddd]e±x`; Python pads the exponent to two digits, JavaScript does not.
fn exponent_form(digits: &str, e: i32, python: bool, out: &mut String) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if e < 0 { '-' } else { '+' });
    let abs = e.unsigned_abs();
    if python && abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
}

/// Python's `repr` of a float, as the TypeScript `pythonFloat` computes it (JSON has no NaN).
pub(crate) fn python_float(v: f64, out: &mut String) {
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if v.fract() == 0.0 && v.abs() < 1e16 {
        // JavaScript's toFixed(1) of an integer value: no sign for negative zero.
        if v == 0.0 {
            out.push_str("0.0");
        } else {
            out.push_str(&format!("{v:.1}"));
        }
        return;
    }
    let exp = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    if !(-4..16).contains(&exp) {
        if v < 0.0 {
            out.push('-');
        }
        let sh = shortest(v);
        exponent_form(sh.as_str(), sh.n - 1, true, out);
        return;
    }
    js_string(v, out);
}

/// `String(JSON.parse(text))` for the JSON number `text`, taken from the text itself when it is
/// already what JavaScript would print, which is the usual case and skips both conversions.
pub(crate) fn js_string_of_text(text: &str, out: &mut String) {
    if prints_as_itself(text) {
        out.push_str(text);
    } else {
        js_string(text.parse().unwrap_or(f64::NAN), out);
    }
}

/// Whether the JSON number `text` is exactly what `String()` prints for its value: plain
/// notation (no exponent, at most 21 integer digits, at most 5 zeros after "0."), no trailing
/// fraction zeros, no negative zero, and at most 15 significant digits. A decimal of 15
/// significant digits or fewer is the only such decimal that rounds to its double, so the
/// shortest digits JavaScript picks for that double are its own.
pub(crate) fn prints_as_itself(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac, dot) = match digits.iter().position(|&c| c == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..], true),
        None => (digits, &[][..], false),
    };
    if int.is_empty()
        || (dot && frac.is_empty())
        || int.len() > 21
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
        || (int.len() > 1 && int[0] == b'0')
        || frac.last() == Some(&b'0')
    {
        return false;
    }
    let significant = if int == b"0" {
        let zeros = frac.iter().take_while(|&&c| c == b'0').count();
        if frac.is_empty() {
            // "0" prints as itself; "-0" prints as "0".
            return digits.len() == b.len();
        }
        if zeros > 5 {
            return false;
        }
        frac.len() - zeros
    } else if frac.is_empty() {
        int.len() - int.iter().rev().take_while(|&&c| c == b'0').count()
    } else {
        int.len() + frac.len()
    };
    significant <= 15
}

/// Whether the JSON number `text` is a safe integer written as JavaScript prints it.
pub(crate) fn is_plain_safe_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    match digits {
        [b'0'] => digits.len() == text.len(),
        [b'1'..=b'9', rest @ ..] => rest.len() < 15 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `Number.isSafeInteger(v)`.
pub(crate) fn is_safe_integer(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_991.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        let mut s = String::new();
        js_string(v, &mut s);
        s
    }

    fn py(v: f64) -> String {
        let mut s = String::new();
        python_float(v, &mut s);
        s
    }

    /// Texts taken as they are must be what the conversion would print, and the usual texts
    /// must be taken so.
    #[test]
    fn numbers_printed_as_written() {
        for (text, itself) in [
            ("0", true),
            ("-0", false),
            ("-0.5", true),
            ("0.0123", true),
            ("0.000001", true),
            ("0.0000001", false),
            ("1.50", false),
            ("1.0", false),
            ("1e5", false),
            ("123456789012345", true),
            ("1234567890123456", false),
            ("12345678901234.5", true),
            ("123456789012345.6", false),
            ("100000000000000000000", true),
            ("1000000000000000000000", false),
            ("007", false),
            ("1.", false),
        ] {
            assert_eq!(prints_as_itself(text), itself, "{text}");
        }
        for (text, safe) in [
            ("0", true),
            ("-0", false),
            ("-12", true),
            ("999999999999999", true),
            ("1000000000000000", false),
            ("1.5", false),
            ("01", false),
        ] {
            assert_eq!(is_plain_safe_integer(text), safe, "{text}");
        }
    }

    #[test]
    fn whole_numbers_in_decimal() {
        for v in [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            -1,
            -10,
            -100,
            1796035884123456000,
            i64::MAX,
            i64::MIN,
        ] {
            let mut s = String::new();
            push_int(v, &mut s);
            assert_eq!(s, v.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn a_number_taken_as_written_is_what_javascript_prints(
            neg in proptest::bool::ANY,
            int in "(0|[1-9][0-9]{0,22})",
            frac in proptest::option::of("[0-9]{1,18}"),
        ) {
            let text = format!("{}{int}{}", if neg { "-" } else { "" }, frac.map(|f| format!(".{f}")).unwrap_or_default());
            let printed = js(text.parse().unwrap());
            if prints_as_itself(&text) {
                proptest::prop_assert_eq!(&printed, &text);
            }
            let whole: Result<i64, _> = text.parse();
            if let Ok(v) = whole {
                let mut s = String::new();
                push_int(v, &mut s);
                proptest::prop_assert_eq!(&s, &v.to_string());
            }
            if is_plain_safe_integer(&text) {
                proptest::prop_assert_eq!(&printed, &text);
                proptest::prop_assert!(is_safe_integer(text.parse().unwrap()));
            }
        }
    }

    #[test]
    fn javascript_number_to_string() {
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (123456789.125, "123456789.125"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (9007199254740993.0, "9007199254740992"),
            (1886911643669009.2, "1886911643669009.2"),
            (-823667171459596300.0, "-823667171459596300"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(js(v), want, "{v:e}");
        }
    }

    #[test]
    fn python_repr_of_floats() {
        for (v, want) in [
            (2.0, "2.0"),
            (-3.0, "-3.0"),
            (0.0, "0.0"),
            (1e-5, "1e-05"),
            (1.5e16, "1.5e+16"),
            (0.25, "0.25"),
            (1e16, "1e+16"),
            (-1.25e-7, "-1.25e-07"),
            (123.456, "123.456"),
        ] {
            assert_eq!(py(v), want, "{v:e}");
        }
    }
}
