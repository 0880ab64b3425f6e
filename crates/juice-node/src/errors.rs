//! How core results cross into JavaScript: errors carry the core's stable code, waits are
//! milliseconds, inbox copies are signed byte counts.

use std::time::Duration;

use juice_core as core;

/// Status type of thrown errors: the core's stable code (`ERR_JUICE_*`), which becomes the JS
/// error's `code`.
pub type CodedError = String;

pub fn js_err(e: core::Error) -> napi::Error<CodedError> {
    napi::Error::new(e.code.as_str().to_string(), e.message)
}

/// A wait in ms; None, infinite or beyond a year waits forever (Instant arithmetic must never
/// overflow, which would panic).
pub fn ms(timeout_ms: Option<f64>) -> Option<Duration> {
    const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
    match timeout_ms {
        Some(t) if t.is_nan() => Some(Duration::ZERO),
        Some(t) if t < YEAR_MS => Some(Duration::from_micros((t.max(0.0) * 1000.0) as u64)),
        _ => None,
    }
}

/// Bytes copied; 0 for nothing queued; minus the size needed when the next record does not fit.
pub fn copied(c: core::inbox::Copied) -> i64 {
    match c {
        core::inbox::Copied::Bytes(n) => n as i64,
        core::inbox::Copied::Empty => 0,
        core::inbox::Copied::NeedAtLeast(n) => -(n as i64),
    }
}
