//! The Juice pub/sub wire format, as the Python reference (`orangeqs.juice.messaging.zmq`) puts it
//! on the wire. See `docs/wire-format.md` for byte-level examples.
//!
//! A message is exactly two ZMQ frames:
//! 1. the topic frame: `TypeName.` or `TypeName.topic.` (UTF-8, always ending in a dot), which is
//!    also the ZMQ subscription prefix; the trailing dot is what makes ZMQ's byte-prefix filter
//!    respect segment boundaries (`T.a.b.` is not a prefix of `T.a.bb.`);
//! 2. the payload frame: the event as a UTF-8 JSON object.

use crate::error::{Error, Result};

/// Segment separator in topic frames.
pub(crate) const SEP: u8 = b'.';

/// Longest event type name, in UTF-8 bytes.
pub const MAX_TYPE_NAME_BYTES: usize = 256;
/// Longest topic a subscription may name, in UTF-8 bytes. Subscriptions end up in libzmq's
/// subscription tries (ours, the proxy's and every publisher's), which spend a node and, in
/// libzmq 4.3.4, a level of recursion per byte: a bound here keeps every one of them small.
pub const MAX_TOPIC_BYTES: usize = 1024;
/// Most dot-separated segments in a topic.
pub const MAX_TOPIC_SEGMENTS: usize = 128;

/// Rejects type names that cannot be told apart on the wire. A dot would make the type name
/// indistinguishable from a topic segment; the Python side never produces one because class
/// names cannot contain dots.
pub fn validate_type_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_arg("event type name must not be empty"));
    }
    if name.len() > MAX_TYPE_NAME_BYTES {
        return Err(Error::invalid_arg(format!(
            "event type name is {} bytes long; the limit is {MAX_TYPE_NAME_BYTES} bytes",
            name.len()
        )));
    }
    if name.as_bytes().contains(&SEP) {
        return Err(Error::invalid_arg(format!(
            "event type name {name:?} must not contain '.', which separates topic segments"
        )));
    }
    Ok(())
}

/// Rejects topics beyond [`MAX_TOPIC_BYTES`] or [`MAX_TOPIC_SEGMENTS`], naming the limit.
pub fn validate_topic(topic: &[u8]) -> Result<()> {
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(Error::invalid_arg(format!(
            "topic is {} bytes long; the limit is {MAX_TOPIC_BYTES} bytes (UTF-8)",
            topic.len()
        )));
    }
    let segments = topic.iter().filter(|&&b| b == SEP).count() + 1;
    if segments > MAX_TOPIC_SEGMENTS {
        return Err(Error::invalid_arg(format!(
            "topic has {segments} dot-separated segments; the limit is {MAX_TOPIC_SEGMENTS}"
        )));
    }
    Ok(())
}

/// Whether a subscription prefix frame (`T.` or `T.a.b.`) is one our own `subscribe()` could
/// make: a valid type name and a topic within [`MAX_TOPIC_BYTES`] and [`MAX_TOPIC_SEGMENTS`].
/// Filters that arrive from peers are held to it before they reach a socket (libzmq's
/// subscription trie recurses once per byte of a prefix).
pub(crate) fn filter_within_limits(frame: &[u8]) -> bool {
    let Some(body) = frame.strip_suffix(&[SEP]) else {
        return false;
    };
    let (type_name, topic) = match body.iter().position(|&b| b == SEP) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let type_ok = std::str::from_utf8(type_name).is_ok_and(|t| validate_type_name(t).is_ok());
    type_ok && topic.is_none_or(|t| !t.is_empty() && validate_topic(t).is_ok())
}

/// Builds the topic frame for a published event, or the subscription prefix for a filter:
/// both have the same shape. An empty topic means "no topic", as upstream's `if topic:` does.
pub(crate) fn topic_frame(type_name: &str, topic: Option<&str>) -> Vec<u8> {
    let topic = topic.filter(|t| !t.is_empty());
    let mut out = Vec::with_capacity(type_name.len() + topic.map_or(0, |t| t.len() + 1) + 1);
    out.extend_from_slice(type_name.as_bytes());
    out.push(SEP);
    if let Some(t) = topic {
        out.extend_from_slice(t.as_bytes());
        out.push(SEP);
    }
    out
}

/// Writes the topic frame into `out` (cleared first), from raw bytes; used on the send path to
/// reuse one buffer.
pub(crate) fn topic_frame_into(out: &mut Vec<u8>, type_name: &[u8], topic: Option<&[u8]>) {
    out.clear();
    out.extend_from_slice(type_name);
    out.push(SEP);
    if let Some(t) = topic.filter(|t| !t.is_empty()) {
        out.extend_from_slice(t);
        out.push(SEP);
    }
}

/// The topic frame of each record on a publisher's send path, in one reused buffer. Batches
/// usually repeat one type name, so each distinct run of names is validated once.
#[derive(Default)]
pub(crate) struct FrameBuilder {
    frame: Vec<u8>,
    checked_type: Vec<u8>,
}

impl FrameBuilder {
    /// Validates `type_name` (unless it is the one checked last) and builds the frame.
    pub(crate) fn build(&mut self, type_name: &[u8], topic: Option<&[u8]>) -> Result<&[u8]> {
        if type_name.is_empty() || type_name != &self.checked_type[..] {
            let name = std::str::from_utf8(type_name)
                .map_err(|_| Error::invalid_arg("event type name is not valid UTF-8"))?;
            validate_type_name(name)?;
            self.checked_type.clear();
            self.checked_type.extend_from_slice(type_name);
        }
        topic_frame_into(&mut self.frame, type_name, topic);
        Ok(&self.frame)
    }

    /// The frame built last.
    pub(crate) fn frame(&self) -> &[u8] {
        &self.frame
    }
}

/// Why an incoming message was skipped. Each kind is counted separately in the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Not exactly two frames.
    FrameCount,
    /// Topic or payload frame is not valid UTF-8.
    BadUtf8,
    /// Topic frame is empty or lacks the trailing dot.
    BadTopic,
    /// Payload larger than the subscriber's configured maximum.
    Oversized,
}

/// Splits a topic frame into its segments: `b"T.a.b."` yields `T`, `a`, `b`.
/// Returns `None` when the frame does not have the `TypeName.[topic.]` shape.
pub(crate) fn segments(frame: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    if frame.len() < 2 || *frame.last()? != SEP || frame[0] == SEP {
        return None;
    }
    Some(frame[..frame.len() - 1].split(|b| *b == SEP))
}

/// Checks a received two-frame message and returns `(topic_frame, payload)` if it is well formed.
pub(crate) fn check_message<'a>(
    topic: &'a [u8],
    payload: &'a [u8],
    max_payload: usize,
) -> std::result::Result<&'a str, Malformed> {
    if payload.len() > max_payload {
        return Err(Malformed::Oversized);
    }
    if std::str::from_utf8(topic).is_err() {
        return Err(Malformed::BadUtf8);
    }
    if segments(topic).is_none() {
        return Err(Malformed::BadTopic);
    }
    // The checked payload is handed on as text, so that no later reader validates it again.
    std::str::from_utf8(payload).map_err(|_| Malformed::BadUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_frames_match_the_python_reference() {
        assert_eq!(
            topic_frame("KernelStatusChanged", None),
            b"KernelStatusChanged."
        );
        assert_eq!(
            topic_frame("KernelStatusChanged", Some("")),
            b"KernelStatusChanged."
        );
        assert_eq!(topic_frame("K", Some("q1")), b"K.q1.");
        assert_eq!(topic_frame("K", Some("a.b")), b"K.a.b.");
        assert_eq!(topic_frame("Ünï", Some("ü")), "Ünï.ü.".as_bytes());
        let mut buf = b"junk".to_vec();
        topic_frame_into(&mut buf, b"K", Some(b"a.b"));
        assert_eq!(buf, b"K.a.b.");
        topic_frame_into(&mut buf, b"K", Some(b""));
        assert_eq!(buf, b"K.");
    }

    #[test]
    fn type_names_with_dots_are_rejected_by_name() {
        let err = validate_type_name("a.b").unwrap_err();
        assert!(err.message.contains("\"a.b\""), "{}", err.message);
        assert!(validate_type_name("").is_err());
        assert!(validate_type_name("Telemetry").is_ok());
    }

    #[test]
    fn long_names_and_topics_are_refused_naming_the_limit() {
        assert!(validate_type_name(&"T".repeat(MAX_TYPE_NAME_BYTES)).is_ok());
        let e = validate_type_name(&"T".repeat(MAX_TYPE_NAME_BYTES + 1)).unwrap_err();
        assert!(e.message.contains("256 bytes"), "{}", e.message);
        assert!(validate_topic("x".repeat(MAX_TOPIC_BYTES).as_bytes()).is_ok());
        let e = validate_topic("x".repeat(40_000).as_bytes()).unwrap_err();
        assert!(e.message.contains("1024 bytes"), "{}", e.message);
        assert!(validate_topic("a.".repeat(MAX_TOPIC_SEGMENTS - 1).as_bytes()).is_ok());
        let e = validate_topic("a.".repeat(MAX_TOPIC_SEGMENTS).as_bytes()).unwrap_err();
        assert!(e.message.contains("segments"), "{}", e.message);
    }

    #[test]
    fn segments_need_a_trailing_dot() {
        let segs: Vec<&[u8]> = segments(b"T.a.b.").unwrap().collect();
        assert_eq!(segs, vec![&b"T"[..], b"a", b"b"]);
        assert!(segments(b"T.a").is_none());
        assert!(segments(b"").is_none());
        assert!(segments(b".").is_none());
        assert!(segments(b".T.").is_none());
    }

    #[test]
    fn malformed_messages_are_classified() {
        assert_eq!(check_message(b"T.", b"{}", 10), Ok("{}"));
        assert_eq!(check_message(b"T", b"{}", 10), Err(Malformed::BadTopic));
        assert_eq!(
            check_message(b"T.\xff.", b"{}", 10),
            Err(Malformed::BadUtf8)
        );
        assert_eq!(check_message(b"T.", b"\xfe", 10), Err(Malformed::BadUtf8));
        assert_eq!(
            check_message(b"T.", b"{\"a\":1234567}", 10),
            Err(Malformed::Oversized)
        );
    }
}
