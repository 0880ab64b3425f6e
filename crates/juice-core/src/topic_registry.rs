//! The topics a proxy has forwarded, with when each was last seen and how often: what
//! `juice topics` lists (upstream's task manager keeps the same registry of its proxy).
//!
//! The proxy thread records into a private batch map and merges it into the shared registry once
//! per drained batch, so the hot path never takes a lock per message and a burst on one topic
//! costs one byte comparison per message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// One topic's record (in the query endpoint's JSON, with camelCase keys).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicEntry {
    /// `Type.topic` (or `Type` for events without a topic), the wire frame without its last dot.
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub last_seen_ms: u64,
    pub count: u64,
}

/// Longest topic frame recorded. Longer ones are counted in `overflow`: a peer must not be able
/// to make the proxy keep arbitrarily large names.
pub const MAX_NAME_BYTES: usize = 2048;

/// What one recorded topic costs beyond its name (hash entry, counters, allocation), used to
/// bound the registry in bytes.
const ENTRY_OVERHEAD: usize = 64;

/// A batch holding this many bytes of topic names is merged at once rather than on the timer.
pub const BATCH_MERGE_BYTES: usize = 1 << 20;

pub struct TopicRegistry {
    max_topics: usize,
    max_bytes: usize,
    inner: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    topics: HashMap<Vec<u8>, (u64, u64)>,
    /// Bytes the recorded topics take, names plus [`ENTRY_OVERHEAD`] each.
    bytes: usize,
    /// Messages whose topic was new while the registry was full, or was longer than
    /// [`MAX_NAME_BYTES`]: counted, not recorded.
    overflow: u64,
}

impl TopicRegistry {
    pub fn new(max_topics: usize, max_bytes: usize) -> Self {
        TopicRegistry {
            max_topics,
            max_bytes,
            inner: Mutex::new(Shared::default()),
        }
    }

    /// Bytes the recorded topics take (names plus bookkeeping).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Everything seen so far, by name. The lock is held only to copy the raw entries: names
    /// are decoded and sorted after it is released, so the proxy thread's merges never wait long.
    pub fn snapshot(&self) -> (Vec<TopicEntry>, u64) {
        let (raw, overflow) = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let raw: Vec<(Vec<u8>, u64, u64)> = inner
                .topics
                .iter()
                .map(|(frame, &(seen, count))| (frame.clone(), seen, count))
                .collect();
            (raw, inner.overflow)
        };
        let mut out: Vec<TopicEntry> = raw
            .into_iter()
            .map(|(frame, last_seen_ms, count)| TopicEntry {
                name: display_name(&frame),
                last_seen_ms,
                count,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        (out, overflow)
    }

    /// Merges a batch. With `wait` false it gives up at once when a reader holds the lock (the
    /// batch is kept for the next try), so forwarding never waits for a query.
    fn merge(&self, batch: &mut Batch, wait: bool) -> bool {
        let mut inner = match self.inner.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if !wait => return false,
            Err(std::sync::TryLockError::WouldBlock) => {
                self.inner.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        inner.overflow += std::mem::take(&mut batch.too_long);
        // In first-seen order, so that which topics fit into a nearly full registry is decided
        // by arrival, not by hash order.
        for (frame, n) in batch.tally.drain(..) {
            let cost = frame.len() + ENTRY_OVERHEAD;
            let full = inner.topics.len() >= self.max_topics || inner.bytes + cost > self.max_bytes;
            match inner.topics.get_mut(&frame) {
                Some(e) => *e = (now, e.1 + n),
                None if full => inner.overflow += n,
                None => {
                    inner.topics.insert(frame, (now, n));
                    inner.bytes += cost;
                }
            }
        }
        batch.bytes = 0;
        true
    }
}

/// The proxy thread's per-batch tally.
#[derive(Default)]
pub struct Batch {
    /// Topics of this batch in first-seen order, with counts; `index` finds them.
    tally: Vec<(Vec<u8>, u64)>,
    index: HashMap<Vec<u8>, usize>,
    last: Vec<u8>,
    last_n: u64,
    /// Bytes of names in `tally`.
    bytes: usize,
    /// Messages whose topic was too long to record.
    too_long: u64,
}

impl Batch {
    /// Notes one message with this topic frame.
    pub fn see(&mut self, frame: &[u8]) {
        if frame.len() > MAX_NAME_BYTES {
            self.too_long += 1;
            return;
        }
        if self.last_n > 0 && self.last == frame {
            self.last_n += 1;
            return;
        }
        self.flush_last();
        self.last.clear();
        self.last.extend_from_slice(frame);
        self.last_n = 1;
    }

    fn flush_last(&mut self) {
        if self.last_n > 0 {
            match self.index.get(self.last.as_slice()) {
                Some(&i) => self.tally[i].1 += self.last_n,
                None => {
                    self.index.insert(self.last.clone(), self.tally.len());
                    self.tally.push((self.last.clone(), self.last_n));
                    self.bytes += self.last.len();
                }
            }
            self.last_n = 0;
        }
    }

    /// Hands the tally to the shared registry, waiting for its lock.
    #[cfg(test)]
    pub fn commit(&mut self, registry: &TopicRegistry) {
        self.commit_with(registry, true);
    }

    /// Hands the tally over unless a reader holds the registry; a batch that has grown past
    /// [`BATCH_MERGE_BYTES`] waits for the lock so that the batch itself stays bounded.
    pub fn try_commit(&mut self, registry: &TopicRegistry) {
        let wait = self.bytes >= BATCH_MERGE_BYTES;
        self.commit_with(registry, wait);
    }

    /// Bytes of topic names waiting in this batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn commit_with(&mut self, registry: &TopicRegistry, wait: bool) {
        self.flush_last();
        if (!self.tally.is_empty() || self.too_long > 0) && registry.merge(self, wait) {
            self.index.clear();
        }
    }
}

/// The wire frame `Type.topic.` as upstream lists it: `Type.topic`, lossy UTF-8.
fn display_name(frame: &[u8]) -> String {
    let trimmed = frame.strip_suffix(b".").unwrap_or(frame);
    String::from_utf8_lossy(trimmed).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_and_interleavings() {
        let reg = TopicRegistry::new(10, 1 << 20);
        let mut b = Batch::default();
        for f in [&b"A.x."[..], b"A.x.", b"B.", b"A.x.", b"B.", b"C.y.z."] {
            b.see(f);
        }
        b.commit(&reg);
        b.see(b"B.");
        b.commit(&reg);
        let (topics, overflow) = reg.snapshot();
        let got: Vec<(&str, u64)> = topics.iter().map(|t| (t.name.as_str(), t.count)).collect();
        assert_eq!(got, vec![("A.x", 3), ("B", 3), ("C.y.z", 1)]);
        assert_eq!(overflow, 0);
        assert!(topics.iter().all(|t| t.last_seen_ms > 1_600_000_000_000));
    }

    #[test]
    fn a_full_registry_counts_overflow_but_updates_known_topics() {
        let reg = TopicRegistry::new(2, 1 << 20);
        let mut b = Batch::default();
        for f in [&b"A."[..], b"B.", b"C.", b"C.", b"A."] {
            b.see(f);
            b.commit(&reg);
        }
        let (topics, overflow) = reg.snapshot();
        assert_eq!(topics.len(), 2);
        assert_eq!(overflow, 2);
        assert_eq!(topics[0].count, 2);
    }

    #[test]
    fn the_registry_is_bounded_in_bytes_and_skips_overlong_names() {
        let reg = TopicRegistry::new(1_000_000, 10 * (1000 + ENTRY_OVERHEAD));
        let mut b = Batch::default();
        for i in 0..100 {
            let mut frame = format!("T.{i:04}.").into_bytes();
            frame.resize(1000, b'x');
            b.see(&frame);
        }
        b.see(&vec![b'y'; MAX_NAME_BYTES + 1]);
        b.commit(&reg);
        let (topics, overflow) = reg.snapshot();
        assert_eq!(topics.len(), 10);
        assert_eq!(overflow, 91);
        assert!(reg.bytes() <= 10 * (1000 + ENTRY_OVERHEAD));
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn names_are_lossy_utf8() {
        assert_eq!(display_name(b"T.a\xffb."), "T.a\u{fffd}b");
    }
}
