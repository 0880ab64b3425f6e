//! The native ingestion sink: subscribed events go from the subscriber's inbox to InfluxDB
//! without JavaScript.
//!
//!   receive thread: socket -> match -> payload -> line ([`Compiled::write_line`])
//!     -> batch (count, bytes, age) -> [`BatchQueue`] (bounded, in batches)
//!   write thread: batch -> gzip -> POST -> retry, split refused batches
//!
//! Each message becomes a line where it is read: no copy into a queue, no thread hand-off per
//! event. Backpressure: while the queue is full (InfluxDB slow or down) the receive thread stops
//! reading, so libzmq's buffers and TCP hold the publishers back; in lossy mode it reads on and
//! drops (and counts) instead. Every event taken ends in exactly one counter: written, rejected,
//! overflow or lost.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{InfluxTarget, Outcome, Writer};
use super::line::{Compiled, LineWriter, Schema};
use crate::error::{Error, Result};
use crate::subscriber::{Consumer, Subscriber, SubscriberOptions};

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Points per request.
    pub batch_size: usize,
    /// About how many bytes of line protocol one request may carry.
    pub max_batch_bytes: usize,
    /// Longest a point waits for its batch to fill.
    pub flush_interval: Duration,
    /// Backoff between retries: starts at `retry_min`, doubles up to `retry_max`, with jitter.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How long `close()` keeps retrying what it holds before counting it as lost.
    pub close_timeout: Duration,
    /// Longest one HTTP request may take.
    pub request_timeout: Duration,
    /// Bodies at least this big are gzipped.
    pub gzip_min: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch_size: 5000,
            max_batch_bytes: 1 << 20,
            flush_interval: Duration::from_secs(1),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            close_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            gzip_min: 4096,
        }
    }
}

/// A snapshot of the sink's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestStats {
    /// Events taken from the subscriber's queue.
    pub received: u64,
    /// Points the database accepted.
    pub written: u64,
    /// Requests that succeeded.
    pub batches: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// Events that could not become points, and points the database refused.
    pub rejected: u64,
    /// Events dropped because the sink was full (only in lossy mode).
    pub overflow: u64,
    /// Events held: in the queue, or in batches not yet settled.
    pub buffered: u64,
    /// Points given up on by `close()` after its timeout.
    pub lost: u64,
    /// Messages from the network that were not well-formed events (counted, never stored).
    pub malformed: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    written: AtomicU64,
    batches: AtomicU64,
    retries: AtomicU64,
    rejected: AtomicU64,
    lost: AtomicU64,
    overflow: AtomicU64,
    /// Points in batches not yet settled (queued, being built, or in flight).
    held: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn add(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    fn error(&self, e: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// Lines of one request, each followed by a newline, and where each line ends.
struct Batch {
    body: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            body: Vec::new(),
            ends: Vec::new(),
        }
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    /// The request body of lines `from..to` (without the last newline, as the JavaScript path).
    fn slice(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        &self.body[start..self.ends[to - 1] - 1]
    }
}

pub struct IngestSink {
    sub: Arc<Subscriber>,
    schemas: Arc<RwLock<HashMap<u32, Arc<Compiled>>>>,
    counters: Arc<Counters>,
    queue: Arc<BatchQueue>,
    /// Set by `close()`: from then on the write thread gives up at `give_up_at`.
    closing: Arc<AtomicBool>,
    give_up_at: Arc<Mutex<Option<Instant>>>,
    close_timeout: Duration,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl IngestSink {
    pub fn connect(
        uri: &str,
        sub_opts: SubscriberOptions,
        target: &InfluxTarget,
        opts: IngestOptions,
    ) -> Result<IngestSink> {
        let writer =
            Writer::new(target, opts.request_timeout, opts.gzip_min).map_err(Error::invalid_arg)?;
        let schemas: Arc<RwLock<HashMap<u32, Arc<Compiled>>>> = Arc::default();
        let counters = Arc::new(Counters::default());
        let closing = Arc::new(AtomicBool::new(false));
        let give_up_at = Arc::new(Mutex::new(None));
        // The queue holds about `max_queue` events, in whole batches, and at least two batches
        // so that one can fill while another is written.
        let capacity = (sub_opts.max_queue / opts.batch_size.max(1)).max(2);
        let queue = Arc::new(BatchQueue::new(capacity));
        let batcher = LineBatcher {
            schemas: schemas.clone(),
            cache: Vec::new(),
            scratch: LineWriter::default(),
            counters: counters.clone(),
            queue: queue.clone(),
            lossless: sub_opts.lossless,
            batch: Batch::new(),
            oldest: Instant::now(),
            opts: opts.clone(),
        };
        let close_timeout = opts.close_timeout;
        let send = Sender {
            writer,
            counters: counters.clone(),
            closing: closing.clone(),
            give_up_at: give_up_at.clone(),
            opts,
        };
        let rx = queue.clone();
        let writer_thread = spawn("juice-ingest-write", move || send.run(&rx))?;
        let sub = match Subscriber::connect_with(uri, sub_opts, Some(Box::new(batcher))) {
            Ok(s) => s,
            Err(e) => {
                queue.close();
                let _ = writer_thread.join();
                return Err(e);
            }
        };
        Ok(IngestSink {
            sub: Arc::new(sub),
            schemas,
            counters,
            queue,
            closing,
            give_up_at,
            close_timeout,
            threads: Mutex::new(vec![writer_thread]),
        })
    }

    /// Stores events of `type_name` (optionally narrowed to a topic) with `schema`. One type has
    /// one schema: registering it again with another is an error.
    pub fn subscribe(&self, type_name: &str, topic: Option<&str>, schema: &Schema) -> Result<()> {
        let compiled = Compiled::new(schema).map_err(Error::invalid_arg)?;
        // The schema is in place before the subscription exists, so no event meets a type
        // without one.
        let id = self.sub.type_id(type_name)?;
        {
            let mut schemas = self.schemas.write().unwrap_or_else(|p| p.into_inner());
            match schemas.get(&id) {
                Some(known) if known.source != *schema => {
                    return Err(Error::invalid_arg(format!(
                        "{type_name} is already stored with another schema (measurement {:?}); one type has one schema",
                        known.source.measurement
                    )))
                }
                Some(_) => {}
                None => {
                    schemas.insert(id, Arc::new(compiled));
                }
            }
        }
        self.sub.subscribe(type_name, topic)?;
        Ok(())
    }

    pub fn stats(&self) -> IngestStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = self.sub.stats();
        IngestStats {
            received: get(&c.received),
            written: get(&c.written),
            batches: get(&c.batches),
            retries: get(&c.retries),
            rejected: get(&c.rejected),
            overflow: get(&c.overflow),
            buffered: get(&c.held),
            lost: get(&c.lost),
            malformed: s.malformed_frames + s.malformed_utf8 + s.malformed_topic + s.oversized,
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.counters
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn subscriber(&self) -> &Subscriber {
        &self.sub
    }

    /// Stops reading, writes everything held (retrying for up to the close timeout), and
    /// counts what could not be written as lost. Blocks until done; safe to call more than once.
    pub fn close(&self) {
        if !self.closing.swap(true, Ordering::SeqCst) {
            *self.give_up_at.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + self.close_timeout);
        }
        // The receive thread hands over its last batch as it stops; then the writer drains the
        // queue (up to the deadline) and stops too.
        self.sub.close();
        self.queue.close();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for IngestSink {
    fn drop(&mut self) {
        self.close();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        // A panic must never unwind into the host process.
        .spawn(move || {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        })
        .map_err(|e| Error::invalid_arg(format!("cannot start {name} thread: {e}")))
}

/// Nanoseconds since the epoch now, distinct per call (for events without a `time`): two events
/// stamped alike would be one point in InfluxDB.
fn now_nanos() -> i128 {
    static LAST: Mutex<i128> = Mutex::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    *last = now.max(*last + 1);
    *last
}

/// Batches waiting to be written, bounded in batches. The receive thread pushes, the write thread
/// pops; the receive thread reads `room()` instead of waiting, so it keeps serving commands.
struct BatchQueue {
    state: Mutex<(VecDeque<Batch>, bool)>,
    ready: Condvar,
    capacity: usize,
}

impl BatchQueue {
    fn new(capacity: usize) -> BatchQueue {
        BatchQueue {
            state: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
            capacity,
        }
    }

    fn free(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.capacity.saturating_sub(st.0.len())
    }

    /// Queues a batch, over capacity if need be (the caller checked `free()` unless stopping).
    fn push(&self, b: Batch) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .push_back(b);
        self.ready.notify_one();
    }

    /// The next batch; None once closed and empty.
    fn pop(&self) -> Option<Batch> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(b) = st.0.pop_front() {
                return Some(b);
            }
            if st.1 {
                return None;
            }
            st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.ready.notify_all();
    }
}

/// Turns matched events into lines on the receive thread, in batches by count, bytes and age.
struct LineBatcher {
    schemas: Arc<RwLock<HashMap<u32, Arc<Compiled>>>>,
    /// Schemas already looked up, by type id (one type's schema never changes once registered).
    cache: Vec<Option<Arc<Compiled>>>,
    scratch: LineWriter,
    counters: Arc<Counters>,
    queue: Arc<BatchQueue>,
    lossless: bool,
    batch: Batch,
    oldest: Instant,
    opts: IngestOptions,
}

impl LineBatcher {
    fn schema(&mut self, type_id: u32) -> Option<Arc<Compiled>> {
        let at = type_id as usize;
        if let Some(Some(s)) = self.cache.get(at) {
            return Some(s.clone());
        }
        let s = self
            .schemas
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&type_id)
            .cloned()?;
        if self.cache.len() <= at {
            self.cache.resize(at + 1, None);
        }
        self.cache[at] = Some(s.clone());
        Some(s)
    }

    fn full(&self) -> bool {
        self.batch.len() >= self.opts.batch_size
            || self.batch.body.len() >= self.opts.max_batch_bytes
    }

    fn hand_over(&mut self) {
        if self.batch.len() > 0 {
            // The next batch starts with room for one like this one, so it never regrows.
            let next = Batch {
                body: Vec::with_capacity(self.batch.body.len() + self.batch.body.len() / 8),
                ends: Vec::with_capacity(self.batch.ends.len()),
            };
            let full = std::mem::replace(&mut self.batch, next);
            self.queue.push(full);
        }
    }
}

impl Consumer for LineBatcher {
    fn room(&self) -> usize {
        if !self.lossless {
            return usize::MAX;
        }
        match self.queue.free() {
            0 => 0,
            free => (free * self.opts.batch_size).saturating_sub(self.batch.len()),
        }
    }

    fn take(&mut self, type_id: u32, payload: &str) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if self.full() {
            if self.queue.free() > 0 {
                self.hand_over();
            } else if !self.lossless {
                self.counters.overflow.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // Lossless with the queue full: the batch grows past its size instead of the queue
            // past its bound; `room()` already limits how much this drain reads.
        }
        // Looked up in the shared map on first sight only (which fills the cache), then borrowed
        // from the cache rather than cloned: this runs once per event.
        if !matches!(self.cache.get(type_id as usize), Some(Some(_))) {
            self.schema(type_id);
        }
        let Some(Some(schema)) = self.cache.get(type_id as usize) else {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            self.counters
                .error(format!("no storage schema for type id {type_id}"));
            return;
        };
        if self.batch.len() == 0 {
            self.oldest = Instant::now();
        }
        let body = &mut self.batch.body;
        let mark = body.len();
        match schema.write_line(payload, now_nanos, &mut self.scratch, body) {
            Ok(()) => {
                body.push(b'\n');
                self.batch.ends.push(body.len());
                self.counters.held.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                body.truncate(mark);
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                self.counters.error(e);
            }
        }
        if self.full() && self.queue.free() > 0 {
            self.hand_over();
        }
    }

    fn tick(&mut self) -> Option<Duration> {
        if self.batch.len() == 0 {
            return None;
        }
        let age = self.oldest.elapsed();
        if age >= self.opts.flush_interval {
            if self.queue.free() > 0 {
                self.hand_over();
                return None;
            }
            // Due but the queue is full: look again shortly.
            return Some(Duration::from_millis(5));
        }
        Some(self.opts.flush_interval - age)
    }

    fn finish(&mut self) {
        self.hand_over();
    }
}

/// Writes batches, one request at a time.
struct Sender {
    writer: Writer,
    counters: Arc<Counters>,
    closing: Arc<AtomicBool>,
    give_up_at: Arc<Mutex<Option<Instant>>>,
    opts: IngestOptions,
}

impl Sender {
    fn run(self, queue: &BatchQueue) {
        while let Some(batch) = queue.pop() {
            let n = batch.len();
            let done = self.deliver(&batch, 0, n);
            if done < n {
                self.counters.add(&self.counters.lost, (n - done) as u64);
            }
            self.counters.held.fetch_sub(n as u64, Ordering::Relaxed);
        }
    }

    fn give_up_at(&self) -> Option<Instant> {
        if !self.closing.load(Ordering::Relaxed) {
            return None;
        }
        *self.give_up_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes lines `from..to`, retrying what is worth retrying; a refused batch is settled point
    /// by point, from a partial-write answer or by halving. Returns how many lines from `from`
    /// are settled (all, unless close() gave up meanwhile).
    fn deliver(&self, batch: &Batch, from: usize, to: usize) -> usize {
        let n = to - from;
        let mut delay = self.opts.retry_min;
        let mut attempt = 0u32;
        loop {
            if let Some(end) = self.give_up_at() {
                if Instant::now() >= end {
                    return 0;
                }
            }
            if attempt > 0 {
                self.counters.add(&self.counters.retries, 1);
            }
            attempt += 1;
            let r = self.writer.write(batch.slice(from, to));
            if r.ok {
                self.counters.add(&self.counters.written, n as u64);
                self.counters.add(&self.counters.batches, 1);
                return n;
            }
            if let Some(e) = r.error.clone() {
                self.counters.error(e);
            }
            if !r.retry {
                return self.refused(batch, from, to, &r);
            }
            // The server's Retry-After when it gives one; otherwise backoff with jitter, which
            // keeps many sinks from retrying in step after a shared outage.
            let wait = r
                .retry_after
                .unwrap_or_else(|| delay.mul_f64(0.75 + jitter() * 0.5));
            self.sleep(wait);
            delay = (delay * 2).min(self.opts.retry_max);
        }
    }

    fn refused(&self, batch: &Batch, from: usize, to: usize, r: &Outcome) -> usize {
        let n = to - from;
        if let Some(dropped) = r.dropped.filter(|d| *d as usize <= n) {
            self.counters
                .add(&self.counters.written, (n - dropped as usize) as u64);
            self.counters.add(&self.counters.rejected, dropped);
            self.counters.add(&self.counters.batches, 1);
            return n;
        }
        // 400, 413 and 422 may be about one point; 401, 403 and 404 are about the database.
        let per_point = matches!(r.status, 400 | 413 | 422);
        if !per_point || n == 1 {
            self.counters.add(&self.counters.rejected, n as u64);
            return n;
        }
        let half = from + n / 2;
        let first = self.deliver(batch, from, half);
        if first < half - from {
            return first;
        }
        first + self.deliver(batch, half, to)
    }

    /// Sleeps up to `d`, waking early when close() sets a deadline that comes first.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let now = Instant::now();
            let end = self.give_up_at().map_or(until, |g| g.min(until));
            if now >= end {
                return;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}

/// A number in [0, 1) that differs between sinks and retries.
fn jitter() -> f64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let x = (t ^ std::process::id().wrapping_mul(0x9E37_79B9)).wrapping_mul(0x85EB_CA6B);
    (x >> 8) as f64 / (1u32 << 24) as f64
}
