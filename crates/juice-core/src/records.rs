//! The two binary record formats that cross between the core and its caller, in one place.
//! src/records.ts is their TypeScript mirror; both sides are tested against the same golden bytes
//! (`__test__/fixtures/records-golden.txt`).
//!
//! Every integer is a little-endian u32, and each record is a 12-byte header then its bytes:
//! - publish records (caller -> [`crate::Publisher::try_send`]):
//!   `type_len, topic_len (NO_TOPIC = none), payload_len, type, topic, payload`;
//! - inbox records ([`crate::Inbox`] -> caller):
//!   `type_id, topic_len, payload_len, topic frame, payload`.

use crate::error::{Error, Result};

/// Size of a record header in bytes (both formats).
pub const RECORD_HEADER: usize = 12;

/// `topic_len` of a publish record without a topic.
pub const NO_TOPIC: u32 = u32::MAX;

/// The u32 at `at`, if `buf` holds it.
fn le_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Appends publish records (the layout [`crate::Publisher::try_send`] reads).
#[derive(Default)]
pub struct BatchWriter {
    pub bytes: Vec<u8>,
}

impl BatchWriter {
    pub fn push(&mut self, type_name: &str, topic: Option<&str>, payload: &[u8]) {
        let b = &mut self.bytes;
        b.extend_from_slice(&(type_name.len() as u32).to_le_bytes());
        b.extend_from_slice(&topic.map_or(NO_TOPIC, |t| t.len() as u32).to_le_bytes());
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(type_name.as_bytes());
        b.extend_from_slice(topic.unwrap_or("").as_bytes());
        b.extend_from_slice(payload);
    }
}

/// One publish record, borrowed from its batch.
pub struct PublishRecord<'a> {
    pub type_name: &'a [u8],
    pub topic: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// Reads the publish record at `at`, returning it and the offset of the next one. The batch
/// comes from the caller, so every length is checked: a short batch is an error, never a panic.
pub fn read_publish(batch: &[u8], at: usize) -> Result<(PublishRecord<'_>, usize)> {
    let bad = || Error::invalid_arg(format!("publish batch is truncated at byte {at}"));
    let word = |i: usize| le_u32(batch, at + 4 * i).ok_or_else(bad);
    let (tl, ol, pl) = (word(0)? as usize, word(1)?, word(2)? as usize);
    let ol = (ol != NO_TOPIC).then_some(ol as usize);
    let t0 = at + RECORD_HEADER;
    let o0 = t0 + tl;
    let p0 = o0 + ol.unwrap_or(0);
    let end = p0 + pl;
    if end > batch.len() {
        return Err(bad());
    }
    Ok((
        PublishRecord {
            type_name: &batch[t0..o0],
            topic: ol.map(|_| &batch[o0..p0]),
            payload: &batch[p0..end],
        },
        end,
    ))
}

/// Appends one inbox record to `buf`.
pub(crate) fn push_inbox(buf: &mut Vec<u8>, type_id: u32, topic: &[u8], payload: &[u8]) {
    buf.extend_from_slice(&type_id.to_le_bytes());
    buf.extend_from_slice(&(topic.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(topic);
    buf.extend_from_slice(payload);
}

/// Length (header included) of the inbox record at `at` of a buffer the core wrote itself.
pub(crate) fn inbox_record_len(buf: &[u8], at: usize) -> usize {
    let word = |i: usize| le_u32(buf, at + 4 + 4 * i).expect("inbox record header") as usize;
    RECORD_HEADER + word(0) + word(1)
}

/// Reads inbox records back out of a batch: `(type_id, topic frame, payload)`. Stops at the
/// first record the batch does not hold whole.
pub fn read_inbox(bytes: &[u8]) -> impl Iterator<Item = (u32, &[u8], &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let id = le_u32(bytes, at)?;
        let tl = le_u32(bytes, at + 4)? as usize;
        let pl = le_u32(bytes, at + 8)? as usize;
        let t0 = at + RECORD_HEADER;
        let p0 = t0.checked_add(tl)?;
        let end = p0.checked_add(pl)?;
        if end > bytes.len() {
            return None;
        }
        at = end;
        Some((id, &bytes[t0..p0], &bytes[p0..end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name: hex` lines of the golden file shared with the TypeScript tests.
    fn golden(name: &str) -> Vec<u8> {
        let text = include_str!("../../../__test__/fixtures/records-golden.txt");
        let hex = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no {name} line in records-golden.txt"));
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn publish_records_match_the_golden_bytes() {
        let mut w = BatchWriter::default();
        w.push("Reading", Some("lab.fridge"), br#"{"t":1}"#);
        w.push("Ping", None, b"{}");
        w.push("Caf\u{e9}", Some(""), "\"\u{3bc}\"".as_bytes());
        assert_eq!(w.bytes, golden("publish"));
        let (a, next) = read_publish(&w.bytes, 0).unwrap();
        assert_eq!(
            (a.type_name, a.topic, a.payload),
            (
                &b"Reading"[..],
                Some(&b"lab.fridge"[..]),
                &br#"{"t":1}"#[..]
            )
        );
        let (b, next) = read_publish(&w.bytes, next).unwrap();
        assert_eq!((b.type_name, b.topic), (&b"Ping"[..], None));
        let (c, end) = read_publish(&w.bytes, next).unwrap();
        assert_eq!(
            c.topic,
            Some(&b""[..]),
            "an empty topic is not a missing one"
        );
        assert_eq!(end, w.bytes.len());
        for cut in 1..w.bytes.len() {
            let mut at = 0;
            while at < cut {
                match read_publish(&w.bytes[..cut], at) {
                    Ok((_, next)) => at = next,
                    Err(_) => break,
                }
            }
            assert!(at <= cut, "cut at {cut}");
        }
    }

    #[test]
    fn inbox_records_match_the_golden_bytes() {
        let mut buf = Vec::new();
        push_inbox(&mut buf, 0, b"Reading.lab.fridge.", br#"{"t":1}"#);
        push_inbox(&mut buf, 7, b"Ping.", b"{}");
        push_inbox(
            &mut buf,
            u32::MAX,
            "Caf\u{e9}.".as_bytes(),
            "\"\u{3bc}\"".as_bytes(),
        );
        assert_eq!(buf, golden("inbox"));
        let read: Vec<_> = read_inbox(&buf).collect();
        assert_eq!(read.len(), 3);
        assert_eq!(read[1], (7, &b"Ping."[..], &b"{}"[..]));
        assert_eq!(inbox_record_len(&buf, 0), RECORD_HEADER + 19 + 7);
        // A truncated batch yields its whole records only.
        assert_eq!(read_inbox(&buf[..buf.len() - 1]).count(), 2);
    }
}
