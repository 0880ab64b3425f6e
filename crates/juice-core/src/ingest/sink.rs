//! The native ingestion sink: subscribed events go from the subscriber's inbox to InfluxDB
//! without JavaScript.
//!
//!   receive thread (socket -> match -> inbox)
//!     -> convert thread: payload -> line ([`Compiled::write_line`]) -> batch (count, bytes, age)
//!     -> bounded hand-off (one batch) -> write thread: gzip, POST, retry, split refused batches
//!
//! Backpressure: while a batch is being written (or retried through an outage) the convert
//! thread waits for the hand-off, stops taking from the inbox, and a lossless inbox then stops
//! the receive thread reading, so libzmq's buffers and TCP hold the publishers back. Every event
//! taken ends in exactly one counter: written, rejected or lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{InfluxTarget, Outcome, Writer};
use super::line::{Compiled, Schema};
use crate::error::{Error, Result};
use crate::inbox::Copied;
use crate::records::read_inbox;
use crate::subscriber::{Subscriber, SubscriberOptions};

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
    /// Events the subscriber dropped because its queue was full (never in lossless mode).
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
        let sub = Arc::new(Subscriber::connect(uri, sub_opts)?);
        let schemas: Arc<RwLock<HashMap<u32, Arc<Compiled>>>> = Arc::default();
        let counters = Arc::new(Counters::default());
        let closing = Arc::new(AtomicBool::new(false));
        let give_up_at = Arc::new(Mutex::new(None));
        let close_timeout = opts.close_timeout;
        let (tx, rx) = sync_channel::<Batch>(1);
        let convert = Converter {
            sub: sub.clone(),
            schemas: schemas.clone(),
            counters: counters.clone(),
            opts: opts.clone(),
            out: tx,
        };
        let send = Sender {
            writer,
            counters: counters.clone(),
            closing: closing.clone(),
            give_up_at: give_up_at.clone(),
            opts,
        };
        let threads = vec![
            spawn("juice-ingest-convert", move || convert.run())?,
            spawn("juice-ingest-write", move || send.run(rx))?,
        ];
        Ok(IngestSink {
            sub,
            schemas,
            counters,
            closing,
            give_up_at,
            close_timeout,
            threads: Mutex::new(threads),
        })
    }

    /// Stores events of `type_name` (optionally narrowed to a topic) with `schema`. One type has
    /// one schema: registering it again with another is an error.
    pub fn subscribe(&self, type_name: &str, topic: Option<&str>, schema: &Schema) -> Result<()> {
        let compiled = Compiled::new(schema).map_err(Error::invalid_arg)?;
        // The schema is in place before the subscription exists, so no event meets a type
        // without one.
        let id = self.sub.type_id(type_name)?;
        self.schemas
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_insert_with(|| Arc::new(compiled));
        self.sub.subscribe(type_name, topic)?;
        Ok(())
    }

    pub fn stats(&self) -> IngestStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = self.sub.stats();
        let received = get(&c.received);
        let settled = get(&c.written) + get(&c.rejected) + get(&c.lost);
        IngestStats {
            received,
            written: get(&c.written),
            batches: get(&c.batches),
            retries: get(&c.retries),
            rejected: get(&c.rejected),
            overflow: s.dropped,
            buffered: s.queued + received.saturating_sub(settled),
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
        self.sub.close();
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

/// Takes events from the inbox and turns them into batches of lines.
struct Converter {
    sub: Arc<Subscriber>,
    schemas: Arc<RwLock<HashMap<u32, Arc<Compiled>>>>,
    counters: Arc<Counters>,
    opts: IngestOptions,
    out: SyncSender<Batch>,
}

/// What the convert thread reads from the inbox per take.
const TAKE_BUFFER: usize = 1 << 20;

impl Converter {
    fn run(self) {
        let mut buf = vec![0u8; TAKE_BUFFER];
        let mut batch = Batch::new();
        let mut oldest = Instant::now();
        let mut schemas: HashMap<u32, Arc<Compiled>> = HashMap::new();
        loop {
            let wait = if batch.len() == 0 {
                self.opts.flush_interval
            } else {
                (oldest + self.opts.flush_interval).saturating_duration_since(Instant::now())
            };
            let took = match self.sub.inbox().wait_take_into(&mut buf, Some(wait)) {
                Ok(t) => t,
                // Closed and emptied: what is batched is the last request.
                Err(_) => break,
            };
            match took {
                Copied::Bytes(n) => {
                    for (type_id, _topic, payload) in read_inbox(&buf[..n]) {
                        if batch.len() == 0 {
                            oldest = Instant::now();
                        }
                        self.convert(&mut schemas, type_id, payload, &mut batch);
                        let full = batch.len() >= self.opts.batch_size
                            || batch.body.len() >= self.opts.max_batch_bytes;
                        if full && !self.hand_over(&mut batch) {
                            return;
                        }
                    }
                }
                Copied::NeedAtLeast(n) => buf.resize(n.next_power_of_two(), 0),
                Copied::Empty => {}
            }
            if batch.len() > 0
                && oldest.elapsed() >= self.opts.flush_interval
                && !self.hand_over(&mut batch)
            {
                return;
            }
            if buf.len() > TAKE_BUFFER * 4 {
                // After one outsized event.
                buf = vec![0u8; TAKE_BUFFER];
            }
        }
        if batch.len() > 0 {
            self.hand_over(&mut batch);
        }
    }

    fn convert(
        &self,
        cache: &mut HashMap<u32, Arc<Compiled>>,
        type_id: u32,
        payload: &[u8],
        batch: &mut Batch,
    ) {
        self.counters.add(&self.counters.received, 1);
        let schema = match cache.get(&type_id) {
            Some(s) => s.clone(),
            None => {
                let found = self
                    .schemas
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&type_id)
                    .cloned();
                match found {
                    Some(s) => {
                        cache.insert(type_id, s.clone());
                        s
                    }
                    None => {
                        self.counters.add(&self.counters.rejected, 1);
                        self.counters
                            .error(format!("no schema for type id {type_id}"));
                        return;
                    }
                }
            }
        };
        let mark = batch.body.len();
        match schema.write_line(payload, now_nanos, &mut batch.body) {
            Ok(()) => {
                batch.body.push(b'\n');
                batch.ends.push(batch.body.len());
            }
            Err(e) => {
                batch.body.truncate(mark);
                self.counters.add(&self.counters.rejected, 1);
                self.counters.error(e);
            }
        }
    }

    /// Hands a full batch to the write thread, waiting while it is busy (that wait is the
    /// backpressure). False when the write thread is gone.
    fn hand_over(&self, batch: &mut Batch) -> bool {
        let full = std::mem::replace(batch, Batch::new());
        self.out.send(full).is_ok()
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
    fn run(self, rx: Receiver<Batch>) {
        while let Ok(batch) = rx.recv() {
            let n = batch.len();
            let done = self.deliver(&batch, 0, n);
            if done < n {
                self.counters.add(&self.counters.lost, (n - done) as u64);
            }
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
