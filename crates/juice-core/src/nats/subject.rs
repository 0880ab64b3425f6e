//! Juice topic frames as NATS subjects, reversibly.
//!
//! A frame `Type.a.b.` becomes `<prefix>.Type.a.b`: one NATS token per frame segment, so NATS's
//! token-wise matching is the Juice segment rule. A Juice subscription to `Type` with topic `a.b`
//! is the two NATS subscriptions `<prefix>.Type.a.b` and `<prefix>.Type.a.b.>`.
//!
//! NATS tokens cannot be empty or hold whitespace or dots, and a token that is exactly `*` or `>`
//! is a wildcard, while Juice segments may be anything. So each segment is escaped: bytes other
//! than ASCII letters, digits, `_` and `-` become `~` and two upper-case hex digits, and an empty
//! segment becomes a lone `~` (which no escape produces, since an escape is always three bytes).
//! Plain names, the usual case, go through unchanged.

use std::fmt;

/// Longest subject we send or subscribe to. The server refuses a protocol line (`HPUB <subject>
/// <sizes>`) beyond 4096 bytes and closes the connection, so the subject stays well below.
pub const MAX_SUBJECT_BYTES: usize = 4000;

/// The subject prefix when none is given.
pub const DEFAULT_PREFIX: &str = "juice";

const ESCAPE: u8 = b'~';

/// Why a subject or frame could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectError {
    /// The prefix is not one or more valid literal NATS tokens.
    BadPrefix(String),
    /// The frame does not have the `Type.[topic.]` shape.
    BadFrame,
    /// The subject would be longer than [`MAX_SUBJECT_BYTES`].
    TooLong(usize),
    /// A received subject is not under the prefix.
    ForeignSubject,
    /// A received subject has a token that no escaping produces.
    BadEscape,
}

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectError::BadPrefix(why) => write!(f, "NATS subject prefix {why}"),
            SubjectError::BadFrame => write!(f, "not a Juice topic frame (Type. or Type.topic.)"),
            SubjectError::TooLong(n) => write!(
                f,
                "the NATS subject would be {n} bytes long once escaped; the limit is {MAX_SUBJECT_BYTES}"
            ),
            SubjectError::ForeignSubject => write!(f, "subject is not under this prefix"),
            SubjectError::BadEscape => write!(
                f,
                "subject holds a token no Juice topic produces (or bytes that are not UTF-8)"
            ),
        }
    }
}

impl std::error::Error for SubjectError {}

/// The mapping for one prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// `prefix` is one or more dot-separated tokens (`juice`, `lab1.juice`), each made of printable
    /// ASCII other than `*`, `>` and `.`; it must not start with `$`, which NATS keeps for itself.
    /// Systems sharing a cluster need prefixes that are not token prefixes of one another: under
    /// `lab1`, the type `juice` would meet `lab1.juice`'s subjects.
    pub fn new(prefix: &str) -> Result<Subjects, SubjectError> {
        if prefix.starts_with('$') {
            return Err(SubjectError::BadPrefix(format!(
                "{prefix:?} starts with '$', which NATS reserves for its own subjects"
            )));
        }
        for token in prefix.split('.') {
            if token.is_empty() {
                return Err(SubjectError::BadPrefix(format!(
                    "{prefix:?} has an empty token (a leading, trailing or doubled '.')"
                )));
            }
            if let Some(c) = token
                .chars()
                .find(|c| !c.is_ascii_graphic() || matches!(c, '*' | '>'))
            {
                return Err(SubjectError::BadPrefix(format!(
                    "{prefix:?} holds {c:?}; use printable ASCII other than '*' and '>'"
                )));
            }
        }
        if prefix.len() > MAX_SUBJECT_BYTES / 4 {
            return Err(SubjectError::BadPrefix(format!(
                "is {} bytes long; the limit is {} bytes",
                prefix.len(),
                MAX_SUBJECT_BYTES / 4
            )));
        }
        Ok(Subjects {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The subject for the topic frame `frame` (`Type.` or `Type.a.b.`), written into `out`.
    pub fn subject_of_frame(&self, frame: &[u8], out: &mut String) -> Result<(), SubjectError> {
        let segments = crate::wire::segments(frame).ok_or(SubjectError::BadFrame)?;
        out.clear();
        out.push_str(&self.prefix);
        for segment in segments {
            out.push('.');
            escape_token(segment, out);
        }
        if out.len() > MAX_SUBJECT_BYTES {
            return Err(SubjectError::TooLong(out.len()));
        }
        Ok(())
    }

    /// The two NATS subscriptions that carry the Juice subscription whose prefix frame is
    /// `frame`: the topic itself and everything below it.
    pub fn filters_of_frame(&self, frame: &[u8]) -> Result<[String; 2], SubjectError> {
        let mut exact = String::new();
        self.subject_of_frame(frame, &mut exact)?;
        if exact.len() + 2 > MAX_SUBJECT_BYTES {
            return Err(SubjectError::TooLong(exact.len() + 2));
        }
        let below = format!("{exact}.>");
        Ok([exact, below])
    }

    /// The subscription that carries every Juice event under this prefix.
    pub fn everything(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// The topic frame a received subject stands for, written into `out`.
    pub fn frame_of_subject(&self, subject: &str, out: &mut Vec<u8>) -> Result<(), SubjectError> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(SubjectError::ForeignSubject)?;
        out.clear();
        let rest = rest.as_bytes();
        // Most subjects escape nothing: plain tokens between single dots are the frame as is.
        if plain_tokens(rest) {
            out.extend_from_slice(rest);
            out.push(crate::wire::SEP);
            return Ok(());
        }
        for token in rest.split(|&b| b == b'.') {
            unescape_token(token, out)?;
            out.push(crate::wire::SEP);
        }
        // The type segment must not be empty, and topics are text: the wire format has neither
        // an empty type nor bytes that are not UTF-8.
        if out.first() == Some(&crate::wire::SEP) || std::str::from_utf8(out).is_err() {
            return Err(SubjectError::BadEscape);
        }
        Ok(())
    }
}

/// Non-empty tokens of plain bytes between single dots: nothing to unescape.
fn plain_tokens(rest: &[u8]) -> bool {
    let mut after_dot = true;
    for &b in rest {
        if b == b'.' {
            if after_dot {
                return false;
            }
            after_dot = true;
        } else if plain(b) {
            after_dot = false;
        } else {
            return false;
        }
    }
    !after_dot
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn escape_token(segment: &[u8], out: &mut String) {
    if segment.is_empty() {
        out.push(ESCAPE as char);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push(ESCAPE as char);
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// Reverses [`escape_token`], refusing anything it would not have written (so that one frame
/// has exactly one subject, and a peer cannot smuggle a second spelling past a filter).
fn unescape_token(token: &[u8], out: &mut Vec<u8>) -> Result<(), SubjectError> {
    if token == [ESCAPE] {
        return Ok(());
    }
    if token.is_empty() {
        return Err(SubjectError::BadEscape);
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut i = 0;
    while i < token.len() {
        let b = token[i];
        if plain(b) {
            out.push(b);
            i += 1;
            continue;
        }
        if b != ESCAPE || i + 2 >= token.len() {
            return Err(SubjectError::BadEscape);
        }
        let (Some(hi), Some(lo)) = (hex(token[i + 1]), hex(token[i + 2])) else {
            return Err(SubjectError::BadEscape);
        };
        let v = hi << 4 | lo;
        // A plain byte is never escaped, and a dot never is either: segments cannot hold one.
        if plain(v) || v == crate::wire::SEP {
            return Err(SubjectError::BadEscape);
        }
        out.push(v);
        i += 3;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(frame: &str) -> String {
        let mut s = String::new();
        Subjects::new("juice")
            .unwrap()
            .subject_of_frame(frame.as_bytes(), &mut s)
            .unwrap();
        s
    }

    fn frame(subject: &str) -> Result<String, SubjectError> {
        let mut f = Vec::new();
        Subjects::new("juice")
            .unwrap()
            .frame_of_subject(subject, &mut f)?;
        Ok(String::from_utf8(f).unwrap())
    }

    #[test]
    fn plain_names_pass_unchanged_and_the_rest_is_escaped() {
        assert_eq!(subject("Telemetry."), "juice.Telemetry");
        assert_eq!(
            subject("Telemetry.qpu0.fridge-1."),
            "juice.Telemetry.qpu0.fridge-1"
        );
        assert_eq!(subject("T.a..b."), "juice.T.a.~.b");
        assert_eq!(subject("T.*.>.~."), "juice.T.~2A.~3E.~7E");
        assert_eq!(subject("T.lab a\tb."), "juice.T.lab~20a~09b");
        assert_eq!(subject("T.é."), "juice.T.~C3~A9");
    }

    #[test]
    fn subjects_map_back_to_their_frames() {
        for f in [
            "Telemetry.",
            "T.a..b.",
            "T.*.>.~.",
            "T.lab a\tb.",
            "T.é.",
            "T.a.",
            "T...",
        ] {
            assert_eq!(frame(&subject(f)).unwrap(), f);
        }
    }

    #[test]
    fn received_subjects_that_no_frame_produces_are_refused() {
        for s in [
            "juice",
            "juicy.T",
            "other.T",
            "juice.~",
            "juice.T.~2",
            "juice.T.~zz",
            "juice.T.~2a",
            "juice.T.~41",
            "juice.T.a b",
            "juice.T.a*",
            "juice.T..x",
            "juice.T~2Ea.b",
            "juice.T.a~2Eb",
            "juice.T.~FF",
            "juice.T.~C3",
        ] {
            assert!(frame(s).is_err(), "{s}");
        }
    }

    #[test]
    fn a_subscription_is_the_topic_and_everything_below_it() {
        let s = Subjects::new("lab1.juice").unwrap();
        assert_eq!(
            s.filters_of_frame(b"T.a.b.").unwrap(),
            [
                "lab1.juice.T.a.b".to_owned(),
                "lab1.juice.T.a.b.>".to_owned()
            ]
        );
        assert_eq!(s.everything(), "lab1.juice.>");
    }

    #[test]
    fn prefixes_are_checked() {
        for bad in [
            "", ".juice", "juice.", "a..b", "$SYS", "ju ice", "a.*", "a.>", "é",
        ] {
            assert!(Subjects::new(bad).is_err(), "{bad:?}");
        }
        let long = "j".repeat(MAX_SUBJECT_BYTES);
        assert!(Subjects::new(&long).is_err());
    }

    #[test]
    fn too_long_subjects_are_refused_with_the_limit() {
        let topic = "é".repeat(800);
        let mut out = String::new();
        let err = Subjects::new("juice")
            .unwrap()
            .subject_of_frame(format!("T.{topic}.").as_bytes(), &mut out)
            .unwrap_err();
        assert!(matches!(err, SubjectError::TooLong(n) if n > MAX_SUBJECT_BYTES));
        assert!(err.to_string().contains("4000"));
    }

    proptest::proptest! {
        /// Every frame round-trips, and every subject is made of valid literal NATS tokens.
        #[test]
        fn any_frame_round_trips(
            ty in "[A-Za-z_][A-Za-z0-9_~ *>é-]{0,8}",
            segs in proptest::collection::vec("[a-z0-9 .*>~_é\t-]{0,6}", 0..5),
        ) {
            let topic = segs.join(".");
            let f = if topic.is_empty() { format!("{ty}.") } else { format!("{ty}.{topic}.") };
            let s = subject(&f);
            for token in s.split('.') {
                proptest::prop_assert!(!token.is_empty());
                proptest::prop_assert!(token != "*" && token != ">");
                proptest::prop_assert!(token.bytes().all(|b| b.is_ascii_graphic()));
            }
            proptest::prop_assert_eq!(frame(&s).unwrap(), f);
        }
    }
}
