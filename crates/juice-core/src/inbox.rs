//! The bounded hand-off between a subscriber's receive thread and its consumer.
//!
//! The receive thread appends matched events as encoded records to one growing buffer; the
//! consumer takes the whole buffer at once. One take is one batch, so the JavaScript side crosses
//! N-API once per batch instead of once per event, and the payload bytes are copied exactly once
//! (from the ZMQ frame into the batch buffer).
//!
//! The records are inbox records ([`crate::records`]).
//!
//! The inbox is bounded both by event count and by bytes. What does not fit is dropped at the
//! tail and counted in `dropped`; nothing disappears without a count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::records::RECORD_HEADER;
use crate::records::{inbox_record_len as record_len, push_inbox};

/// Called (off the consumer's thread) when events arrive for a consumer that asked to be woken.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// A batch of encoded records taken out of the inbox (the tests' view; callers copy out).
#[cfg(test)]
pub(crate) struct Batch {
    pub bytes: Vec<u8>,
    pub count: usize,
}

/// Result of copying waiting records into a caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// This many bytes of whole records were copied (and removed from the inbox).
    Bytes(usize),
    /// Nothing was waiting (or, for a wait, the timeout passed).
    Empty,
    /// The next record alone needs a buffer of at least this many bytes.
    NeedAtLeast(usize),
}

/// Capacity an emptied buffer (the inbox's, or the receive thread's pending one) is shrunk back
/// to, so that one burst does not pin its peak for the life of the subscriber. 1 MiB holds
/// several thousand small events, more than one drain or take moves.
const KEEP_CAPACITY: usize = 1 << 20;

/// Records the receive thread collected from one drain of the socket, not yet in the inbox.
#[derive(Default)]
pub(crate) struct Pending {
    buf: Vec<u8>,
    /// End offset of each record in `buf`, so that a partial append stops on a record boundary.
    ends: Vec<usize>,
}

impl Pending {
    pub(crate) fn push(&mut self, type_id: u32, topic: &[u8], payload: &[u8]) {
        push_inbox(&mut self.buf, type_id, topic, payload);
        self.ends.push(self.buf.len());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        // Shrinking in place (rather than freeing and allocating again) keeps glibc from
        // raising its mmap threshold, after which freed buffers would stay resident.
        self.buf.shrink_to(KEEP_CAPACITY);
        self.ends.shrink_to(KEEP_CAPACITY / 64);
    }
}

struct State {
    /// Records; those before `head` have already been copied out.
    buf: Vec<u8>,
    /// Start of the first record not yet taken. Reading advances it instead of moving the rest
    /// of the buffer, so taking a large backlog in small pieces stays linear.
    head: usize,
    count: usize,
    /// The async consumer found the inbox empty and wants its waker called on the next append.
    armed: bool,
    closed: bool,
}

pub struct Inbox {
    state: Mutex<State>,
    ready: Condvar,
    max_events: usize,
    max_bytes: usize,
    /// Lossless mode: the receive thread stops reading instead of dropping, so `append` keeps
    /// everything it is given (the thread only reads what `room()` allows).
    lossless: bool,
    waker: Mutex<Option<Waker>>,
    /// Events dropped because the inbox was full.
    pub dropped: AtomicU64,
    /// Events handed to the consumer.
    pub delivered: AtomicU64,
}

impl Inbox {
    pub(crate) fn new(max_events: usize, max_bytes: usize, lossless: bool) -> Self {
        Inbox {
            state: Mutex::new(State {
                buf: Vec::new(),
                head: 0,
                count: 0,
                armed: false,
                closed: false,
            }),
            ready: Condvar::new(),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(RECORD_HEADER + 1),
            lossless,
            waker: Mutex::new(None),
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of plain counters and
        // buffers; the data is still structurally valid, so keep going rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_waker(&self, waker: Option<Waker>) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = waker;
    }

    /// Number of events waiting to be taken.
    pub(crate) fn len(&self) -> usize {
        self.lock().count
    }

    /// The bound on waiting events.
    pub(crate) fn capacity(&self) -> usize {
        self.max_events
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// How many more events fit under both bounds (0 once the byte bound is reached).
    pub(crate) fn room(&self) -> usize {
        let st = self.lock();
        if st.buf.len() - st.head >= self.max_bytes {
            0
        } else {
            self.max_events.saturating_sub(st.count)
        }
    }

    /// Moves the pending records in, dropping (and counting) what exceeds the bounds.
    pub(crate) fn append(&self, pending: &mut Pending) {
        if pending.is_empty() {
            return;
        }
        let wake;
        {
            let mut st = self.lock();
            if st.closed {
                pending.clear();
                return;
            }
            let room_events = self.max_events.saturating_sub(st.count);
            let room_bytes = self.max_bytes.saturating_sub(st.buf.len() - st.head);
            // Largest k such that the first k records fit both bounds.
            let mut k = pending.ends.len().min(room_events);
            while k > 0 && pending.ends[k - 1] > room_bytes {
                k -= 1;
            }
            if self.lossless {
                k = pending.ends.len();
            }
            if k > 0 {
                if st.head > 0 && st.head >= st.buf.len() / 2 {
                    // Reclaim the taken prefix once it is the larger part: amortised linear.
                    let head = std::mem::take(&mut st.head);
                    st.buf.drain(..head);
                }
                if st.count == 0 && k == pending.ends.len() {
                    // The consumer has taken everything: hand over the whole buffer, no copy.
                    std::mem::swap(&mut st.buf, &mut pending.buf);
                } else {
                    let end = pending.ends[k - 1];
                    st.buf.extend_from_slice(&pending.buf[..end]);
                }
                st.count += k;
            }
            let lost = pending.ends.len() - k;
            if lost > 0 {
                self.dropped.fetch_add(lost as u64, Ordering::Relaxed);
            }
            wake = k > 0 && std::mem::take(&mut st.armed);
        }
        pending.clear();
        self.ready.notify_all();
        if wake {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(w) = self
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            w();
        }
    }

    #[cfg(test)]
    fn take_locked(&self, st: &mut State) -> Option<Batch> {
        if st.count == 0 {
            return None;
        }
        let count = std::mem::take(&mut st.count);
        let head = std::mem::take(&mut st.head);
        let mut bytes = std::mem::take(&mut st.buf);
        bytes.drain(..head);
        self.delivered.fetch_add(count as u64, Ordering::Relaxed);
        Some(Batch { bytes, count })
    }

    /// Copies as many whole records as fit into `out` and removes them from the inbox. Copying
    /// into a buffer the consumer reuses means no allocation per batch on either side.
    fn copy_locked(&self, st: &mut State, out: &mut [u8]) -> Option<Copied> {
        if st.count == 0 {
            return None;
        }
        let head = st.head;
        let (mut end, mut n) = (head, 0);
        while end < st.buf.len() {
            let len = record_len(&st.buf, end);
            if end + len - head > out.len() {
                break;
            }
            end += len;
            n += 1;
        }
        if n == 0 {
            return Some(Copied::NeedAtLeast(record_len(&st.buf, head)));
        }
        let copied = end - head;
        out[..copied].copy_from_slice(&st.buf[head..end]);
        st.count -= n;
        if st.count == 0 {
            st.buf.clear();
            st.head = 0;
            st.buf.shrink_to(KEEP_CAPACITY);
        } else {
            st.head = end;
        }
        self.delivered.fetch_add(n as u64, Ordering::Relaxed);
        Some(Copied::Bytes(copied))
    }

    /// Applies `take` now; when it finds nothing, fails if closed, else arms the waker so the
    /// consumer is called back on the next append. Checking and arming under one lock means no
    /// wake-up can be lost.
    fn now_or_arm<T>(
        &self,
        take: impl FnOnce(&Self, &mut State) -> Option<T>,
    ) -> Result<Option<T>> {
        let mut st = self.lock();
        match take(self, &mut st) {
            Some(v) => Ok(Some(v)),
            None if st.closed => Err(Error::closed("subscriber")),
            None => {
                st.armed = true;
                Ok(None)
            }
        }
    }

    /// Blocks the calling thread (no spinning) until `take` finds something, the inbox closes,
    /// or the timeout passes (`None` waits forever). `Ok(None)` means the timeout passed.
    fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        mut take: impl FnMut(&Self, &mut State) -> Option<T>,
    ) -> Result<Option<T>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if let Some(v) = take(self, &mut st) {
                return Ok(Some(v));
            }
            if st.closed {
                return Err(Error::closed("subscriber"));
            }
            st = match deadline {
                None => self.ready.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(None);
                    }
                    self.ready
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Copies waiting records into `out` (see [`Copied`]), or arms the waker when there are none.
    pub fn take_into_or_arm(&self, out: &mut [u8]) -> Result<Copied> {
        Ok(self
            .now_or_arm(|me, st| me.copy_locked(st, out))?
            .unwrap_or(Copied::Empty))
    }

    /// Blocks until records can be copied into `out`; `Copied::Empty` when the timeout passed.
    pub fn wait_take_into(&self, out: &mut [u8], timeout: Option<Duration>) -> Result<Copied> {
        Ok(self
            .wait_for(timeout, |me, st| me.copy_locked(st, out))?
            .unwrap_or(Copied::Empty))
    }

    /// Takes everything waiting as one batch, without blocking.
    #[cfg(test)]
    pub(crate) fn try_take(&self) -> Result<Option<Batch>> {
        let mut st = self.lock();
        match self.take_locked(&mut st) {
            Some(b) => Ok(Some(b)),
            None if st.closed => Err(Error::closed("subscriber")),
            None => Ok(None),
        }
    }

    /// Takes everything waiting as one batch, or arms the waker and returns `None`.
    #[cfg(test)]
    pub(crate) fn take_or_arm(&self) -> Result<Option<Batch>> {
        self.now_or_arm(|me, st| me.take_locked(st))
    }

    /// Blocks until a batch can be taken; `Ok(None)` when the timeout passed.
    #[cfg(test)]
    pub(crate) fn wait_take(&self, timeout: Option<Duration>) -> Result<Option<Batch>> {
        self.wait_for(timeout, |me, st| me.take_locked(st))
    }

    /// Closes the inbox: waiting and future takes fail with "closed" once it is empty, and an
    /// armed consumer is woken so it can observe that.
    pub(crate) fn close(&self) {
        let wake = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.armed)
        };
        self.ready.notify_all();
        if wake {
            self.wake();
        }
        self.set_waker(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::read_inbox as records;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn pending(n: usize) -> Pending {
        let mut p = Pending::default();
        for i in 0..n {
            p.push(i as u32, b"T.", format!("{{\"i\":{i}}}").as_bytes());
        }
        p
    }

    #[test]
    fn overflow_is_counted_exactly_and_keeps_the_oldest() {
        let inbox = Inbox::new(10, 1 << 20, false);
        inbox.append(&mut pending(7));
        inbox.append(&mut pending(7));
        assert_eq!(inbox.len(), 10);
        assert_eq!(inbox.dropped.load(Ordering::Relaxed), 4);
        let b = inbox.try_take().unwrap().unwrap();
        assert_eq!(b.count, 10);
        let ids: Vec<u32> = records(&b.bytes).map(|r| r.0).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5, 6, 0, 1, 2]);
        assert_eq!(inbox.delivered.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn lossless_keeps_everything_and_reports_no_room() {
        let inbox = Inbox::new(10, 1 << 20, true);
        assert_eq!(inbox.room(), 10);
        inbox.append(&mut pending(7));
        assert_eq!(inbox.room(), 3);
        inbox.append(&mut pending(7));
        assert_eq!(inbox.len(), 14);
        assert_eq!(inbox.room(), 0);
        assert_eq!(inbox.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn copying_out_takes_whole_records_that_fit() {
        let inbox = Inbox::new(100, 1 << 20, false);
        inbox.append(&mut pending(3));
        let one = RECORD_HEADER + 2 + 7; // "T." and {"i":0}
        let mut small = vec![0u8; one - 1];
        assert_eq!(
            inbox.take_into_or_arm(&mut small).unwrap(),
            Copied::NeedAtLeast(one)
        );
        let mut two = vec![0u8; 2 * one + 3];
        assert_eq!(
            inbox.take_into_or_arm(&mut two).unwrap(),
            Copied::Bytes(2 * one)
        );
        assert_eq!(
            records(&two[..2 * one]).map(|r| r.0).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(inbox.len(), 1);
        assert_eq!(
            inbox.wait_take_into(&mut two, None).unwrap(),
            Copied::Bytes(one)
        );
        assert_eq!(inbox.take_into_or_arm(&mut two).unwrap(), Copied::Empty);
        assert_eq!(
            inbox
                .wait_take_into(&mut two, Some(Duration::from_millis(10)))
                .unwrap(),
            Copied::Empty
        );
        assert_eq!(inbox.delivered.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn byte_bound_applies_on_record_boundaries() {
        let inbox = Inbox::new(1000, 3 * (RECORD_HEADER + 2 + 7), false);
        inbox.append(&mut pending(5));
        assert_eq!(inbox.len(), 3);
        assert_eq!(inbox.dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn arming_wakes_exactly_once() {
        let inbox = Inbox::new(100, 1 << 20, false);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        inbox.set_waker(Some(Box::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })));
        assert!(inbox.take_or_arm().unwrap().is_none());
        inbox.append(&mut pending(1));
        inbox.append(&mut pending(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(inbox.take_or_arm().unwrap().unwrap().count, 2);
    }

    #[test]
    fn wait_take_times_out_then_fails_after_close() {
        let inbox = Arc::new(Inbox::new(100, 1 << 20, false));
        let t0 = Instant::now();
        assert!(inbox
            .wait_take(Some(Duration::from_millis(50)))
            .unwrap()
            .is_none());
        assert!(t0.elapsed() >= Duration::from_millis(50));
        let i2 = inbox.clone();
        let h = std::thread::spawn(move || i2.wait_take(None));
        std::thread::sleep(Duration::from_millis(20));
        inbox.close();
        assert!(h.join().unwrap().is_err());
    }
}
