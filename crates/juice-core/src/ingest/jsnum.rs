//! Numbers as the JavaScript path prints them, so both ingestion paths write the same bytes:
//! `String(n)` (ECMAScript's Number::toString) and Python's `repr(float)` as our TypeScript
//! `pythonFloat` writes float tags. Both start from the shortest digits that round-trip, which
//! Rust's `{:e}` formatting gives as well.

use std::fmt::Write as _;

/// Shortest round-trip digits and the decimal exponent `n` such that value = 0.d1d2... x 10^n.
/// Among the shortest candidates, ECMAScript takes the one closest to the value, and the even
/// one on a tie (1886911643669009.25 prints as ...9.2); Rust's shortest form may take the other,
/// so the digits come from correctly rounding to that length (half to even) when that
/// round-trips.
fn shortest(v: f64) -> (String, i32) {
    let v = v.abs();
    let split = |text: &str| -> (String, i32) {
        let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        (digits, exp.parse::<i32>().unwrap_or(0) + 1)
    };
    let (digits, n) = split(&format!("{v:e}"));
    // Below 16 digits, decimals of that length are spaced wider than two doubles, so only one
    // can round-trip: no tie to break.
    if digits.len() >= 16 {
        let rounded = format!("{:.*e}", digits.len() - 1, v);
        if rounded.parse::<f64>() == Ok(v) {
            return split(&rounded);
        }
    }
    (digits, n)
}

/// `String(v)` in JavaScript, for a finite `v`.
pub(crate) fn js_string(v: f64, out: &mut String) {
    if v == 0.0 {
        out.push('0');
        return;
    }
    // Whole numbers below 2^63 (counters, sequence numbers) print as plain integers.
    if v.fract() == 0.0 && v.abs() < 9.2e18 {
        let _ = write!(out, "{}", v as i64);
        return;
    }
    if v < 0.0 {
        out.push('-');
    }
    let (digits, n) = shortest(v);
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        exponent_form(&digits, n - 1, false, out);
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

/// Python's `repr` of a finite float, as the TypeScript `pythonFloat` computes it.
pub(crate) fn python_float(v: f64, out: &mut String) {
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
        let (digits, n) = shortest(v);
        exponent_form(&digits, n - 1, true, out);
        return;
    }
    js_string(v, out);
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
