//! One InfluxDB write over HTTP: 1.x `POST /write` or 2.x `POST /api/v2/write`, gzip when the body
//! is big enough to gain from it, and a verdict the sink can act on: stored, retry later, or
//! refused (with how many points a partial write dropped).

use std::io::{Read, Write};
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Where and how to write.
#[derive(Debug, Clone)]
pub enum InfluxTarget {
    V1 {
        url: String,
        database: String,
        retention_policy: Option<String>,
        username: Option<String>,
        password: Option<String>,
    },
    V2 {
        url: String,
        org: String,
        bucket: String,
        token: String,
    },
}

/// What one write came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub ok: bool,
    /// Worth sending again later: no answer, a timeout, 429 or a 5xx.
    pub retry: bool,
    /// HTTP status, or 0 when there was no answer.
    pub status: u16,
    pub error: Option<String>,
    /// Points InfluxDB dropped from a write it otherwise stored (1.x "partial write").
    pub dropped: Option<u64>,
    /// The server's `Retry-After`, capped at 5 minutes.
    pub retry_after: Option<Duration>,
}

pub(crate) struct Writer {
    agent: ureq::Agent,
    endpoint: String,
    origin: String,
    authorization: Option<String>,
    gzip_min: usize,
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Base64 of `user:password`, for HTTP basic authentication.
fn basic(user: &str, password: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Scheme, host and port of `url`, and its path without a trailing slash. Only plain HTTP: the
/// native path is for InfluxDB on the lab network; `https` stays with the JavaScript path.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            format!("{url}: the native ingestion path speaks plain http; use the JavaScript path (engine: 'js') for https")
        } else {
            format!("influx.url must be an http URL, got {url:?}")
        }
    })?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) {
        return Err(format!("influx.url has no usable host: {url:?}"));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "influx.url must not carry a query or fragment: {url:?}"
        ));
    }
    Ok((
        format!("http://{host}"),
        path.trim_end_matches('/').to_owned(),
    ))
}

impl Writer {
    pub(crate) fn new(
        target: &InfluxTarget,
        timeout: Duration,
        gzip_min: usize,
    ) -> Result<Writer, String> {
        let (origin, endpoint, authorization) = match target {
            InfluxTarget::V1 {
                url,
                database,
                retention_policy,
                username,
                password,
            } => {
                if database.is_empty() {
                    return Err("influx.database is required for InfluxDB 1.x".into());
                }
                let (origin, path) = split_url(url)?;
                let mut e = format!("{origin}{path}/write?db={}", encode(database));
                if let Some(rp) = retention_policy.as_deref().filter(|r| !r.is_empty()) {
                    e.push_str(&format!("&rp={}", encode(rp)));
                }
                e.push_str("&precision=ns");
                let auth = username
                    .as_deref()
                    .map(|u| basic(u, password.as_deref().unwrap_or("")));
                (origin, e, auth)
            }
            InfluxTarget::V2 {
                url,
                org,
                bucket,
                token,
            } => {
                for (name, v) in [("org", org), ("bucket", bucket), ("token", token)] {
                    if v.is_empty() {
                        return Err(format!("influx.{name} is required for InfluxDB 2.x"));
                    }
                }
                let (origin, path) = split_url(url)?;
                let e = format!(
                    "{origin}{path}/api/v2/write?org={}&bucket={}&precision=ns",
                    encode(org),
                    encode(bucket)
                );
                (origin, e, Some(format!("Token {token}")))
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections(2)
            .build()
            .into();
        Ok(Writer {
            agent,
            endpoint,
            origin,
            authorization,
            gzip_min,
        })
    }

    /// Sends one body of line protocol. Never fails: failures come back as an outcome.
    pub(crate) fn write(&self, body: &[u8]) -> Outcome {
        let mut req = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Accept", "application/json");
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let sent = if body.len() >= self.gzip_min {
            let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            let zipped = gz.write_all(body).and_then(|_| gz.finish());
            match zipped {
                Ok(z) => req.header("Content-Encoding", "gzip").send(&z[..]),
                Err(e) => return failed(format!("gzip: {e}")),
            }
        } else {
            req.send(body)
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return failed(describe(&e, &self.origin)),
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            // Read what is left so the connection can be used again.
            let _ = std::io::copy(&mut resp.body_mut().as_reader(), &mut std::io::sink());
            return Outcome {
                ok: true,
                status,
                ..Outcome::default()
            };
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(300.0)));
        let mut raw = Vec::new();
        let _ = resp.body_mut().as_reader().take(4000).read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let dropped = partial_write_dropped(status, &text);
        let short: String = text.trim().chars().take(500).collect();
        Outcome {
            ok: false,
            retry: status == 408 || status == 429 || status >= 500,
            status,
            error: Some(format!("HTTP {status} from {}: {short}", self.origin)),
            dropped,
            retry_after,
        }
    }
}

/// A failed request in the words the JavaScript path uses (`ECONNREFUSED ...`), so `lastError`
/// reads the same whichever engine wrote it.
fn describe(e: &ureq::Error, origin: &str) -> String {
    let code = match e {
        ureq::Error::Io(io) => match io.raw_os_error() {
            Some(libc::ECONNREFUSED) => "ECONNREFUSED",
            Some(libc::ECONNRESET) => "ECONNRESET",
            Some(libc::ETIMEDOUT) => "ETIMEDOUT",
            Some(libc::EHOSTUNREACH) => "EHOSTUNREACH",
            Some(libc::ENETUNREACH) => "ENETUNREACH",
            Some(libc::EPIPE) => "EPIPE",
            _ => "EIO",
        },
        ureq::Error::Timeout(_) => "ETIMEDOUT",
        ureq::Error::HostNotFound => "ENOTFOUND",
        ureq::Error::ConnectionFailed => "ECONNREFUSED",
        _ => "ERR_HTTP",
    };
    format!("{code} {e} ({origin})")
}

/// Points InfluxDB dropped from a write it otherwise stored: 1.x answers 400 and 2.x 422, with an
/// error text starting `partial write:` and ending `dropped=N`. The last `dropped=` counts (the
/// text quotes field names and values, which may contain that too). `unable to parse` lines are
/// not counted in N, so such an answer says nothing exact: None, and the batch is split instead.
fn partial_write_dropped(status: u16, text: &str) -> Option<u64> {
    if status != 400 && status != 422 {
        return None;
    }
    let error = text
        .split_once("\"error\":\"")
        .map_or(text, |(_, rest)| rest);
    if !error.starts_with("partial write:") || error.contains("unable to parse") {
        return None;
    }
    let at = error.rfind("dropped=")? + "dropped=".len();
    let digits: String = error[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn failed(error: String) -> Outcome {
    Outcome {
        retry: true,
        error: Some(error),
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_and_query_encoding() {
        assert_eq!(basic("a", "b"), "Basic YTpi");
        assert_eq!(basic("user", "pass word"), "Basic dXNlcjpwYXNzIHdvcmQ=");
        assert_eq!(basic("ab", ""), "Basic YWI6");
        assert_eq!(encode("lab db/1"), "lab%20db%2F1");
    }

    #[test]
    fn partial_writes() {
        let body = |e: &str| format!("{{\"error\":\"{e}\"}}");
        assert_eq!(
            partial_write_dropped(400, &body("partial write: field type conflict: input field \\\"dropped=0\\\" on measurement \\\"m\\\" is type float, already exists as type string dropped=1")),
            Some(1)
        );
        assert_eq!(
            partial_write_dropped(
                422,
                &body("partial write: points beyond retention policy dropped=3")
            ),
            Some(3)
        );
        assert_eq!(
            partial_write_dropped(400, &body("partial write: unable to parse 'm x=1 99999999999999999999': bad timestamp dropped=0")),
            None
        );
        assert_eq!(
            partial_write_dropped(400, &body("unable to parse 'x'")),
            None
        );
        assert_eq!(
            partial_write_dropped(500, &body("partial write: dropped=1")),
            None
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8086/").unwrap(),
            ("http://127.0.0.1:8086".to_owned(), String::new())
        );
        assert_eq!(
            split_url("http://h:1/influx/").unwrap().1,
            "/influx".to_owned()
        );
        assert!(split_url("https://h").unwrap_err().contains("https"));
        assert!(split_url("ftp://h").is_err());
        assert!(split_url("http://h/x?y=1").is_err());
    }
}
