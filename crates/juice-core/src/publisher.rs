//! Publisher: an XPUB socket owned by a native send thread.
//!
//! Per-event path:
//!   caller: [`Publisher::publish`] encodes the topic frame and appends `(topic, payload)` to the
//!           bounded [`Outbox`] (one lock, one copy);
//!   thread: takes the whole outbox at once and sends each record as two frames.
//!
//! Why XPUB and not PUB: like the Python reference, the socket reports subscriptions, so the
//! thread can hold the first events until the proxy has forwarded a subscription (otherwise
//! ZMQ's slow-joiner effect silently loses them). `ZMQ_XPUB_NODROP` turns a full pipe into
//! backpressure instead of a silent drop: the thread waits, the outbox fills, and `publish`
//! reports "full" so the caller can wait.
//!
//! Each publisher has its own ZMQ context, so that `close()` can terminate it, which is the only
//! way libzmq offers to wait until queued messages have really been written (bounded by linger).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::socket;
use crate::wire;

#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Most events waiting for the send thread before `publish` reports "full".
    pub max_queue: usize,
    /// `ZMQ_SNDHWM`: messages libzmq buffers for the proxy connection.
    pub snd_hwm: i32,
    /// How long `close()` keeps trying to deliver queued events (`ZMQ_LINGER`), in ms.
    pub linger_ms: i32,
    /// How long the first events wait for a subscription to arrive from the proxy, in ms
    /// (5000 upstream).
    pub subscription_wait_ms: u64,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        PublisherOptions {
            max_queue: 100_000,
            snd_hwm: 100_000,
            linger_ms: 5_000,
            subscription_wait_ms: 5_000,
        }
    }
}

/// A snapshot of a publisher's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Events accepted by `publish`.
    pub published: u64,
    /// Events handed to libzmq.
    pub sent: u64,
    /// Events waiting in the outbox.
    pub queued: u64,
    /// Times the send thread found libzmq's pipe full and waited (backpressure).
    pub blocked: u64,
    /// Events that could not be handed to libzmq before close gave up.
    pub unsent: u64,
}

struct OutState {
    /// Pairs of (topic frame, payload).
    queue: VecDeque<(Vec<u8>, Vec<u8>)>,
    closed: bool,
}

/// Bounded queue between the publishing thread and the send thread.
struct Outbox {
    state: Mutex<OutState>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, OutState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    sent: AtomicU64,
    blocked: AtomicU64,
    unsent: AtomicU64,
}

pub struct Publisher {
    outbox: Arc<Outbox>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Publisher {
    pub fn connect(uri: &str, opts: PublisherOptions) -> Result<Self> {
        let ctx = zmq::Context::new();
        let mut sock = ctx.socket(zmq::XPUB).map_err(|e| Error::zmq("socket", e))?;
        sock.set_sndhwm(opts.snd_hwm).map_err(|e| Error::zmq("sndhwm", e))?;
        socket::set_int_option(&mut sock, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
        sock.set_linger(opts.linger_ms).map_err(|e| Error::zmq("linger", e))?;
        socket::connect(&sock, uri)?;
        let outbox = Arc::new(Outbox {
            state: Mutex::new(OutState {
                queue: VecDeque::new(),
                closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: opts.max_queue.max(1),
        });
        let counters = Arc::new(Counters::default());
        let worker = Sender {
            ctx,
            sock,
            outbox: outbox.clone(),
            counters: counters.clone(),
            subscription_wait: Duration::from_millis(opts.subscription_wait_ms),
        };
        let thread = std::thread::Builder::new()
            .name("juice-pub".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::invalid_arg(format!("cannot start send thread: {e}")))?;
        Ok(Publisher {
            outbox,
            counters,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one event. With `wait = false` it returns `Ok(false)` instead of waiting when the
    /// outbox is full; with `wait = true` it blocks the caller until there is room.
    pub fn publish(
        &self,
        type_name: &str,
        topic: Option<&str>,
        payload: Vec<u8>,
        wait: bool,
    ) -> Result<bool> {
        wire::validate_type_name(type_name)?;
        let frame = wire::topic_frame(type_name, topic);
        let mut st = self.outbox.lock();
        loop {
            if st.closed {
                return Err(Error::closed("publisher"));
            }
            if st.queue.len() < self.outbox.capacity {
                break;
            }
            if !wait {
                return Ok(false);
            }
            st = self
                .outbox
                .not_full
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        let was_empty = st.queue.is_empty();
        st.queue.push_back((frame, payload));
        drop(st);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.outbox.not_empty.notify_one();
        }
        Ok(true)
    }

    /// Blocks until the outbox has room, it closes, or the timeout passes. Returns true if there
    /// is room.
    pub fn wait_for_room(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut st = self.outbox.lock();
        loop {
            if st.closed {
                return Err(Error::closed("publisher"));
            }
            if st.queue.len() < self.outbox.capacity {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            st = self
                .outbox
                .not_full
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn stats(&self) -> PublisherStats {
        let c = &self.counters;
        PublisherStats {
            published: c.published.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            queued: self.outbox.lock().queue.len() as u64,
            blocked: c.blocked.load(Ordering::Relaxed),
            unsent: c.unsent.load(Ordering::Relaxed),
        }
    }

    /// Sends everything queued, then closes the socket and waits (up to linger) until libzmq has
    /// written it out. Safe to call more than once.
    pub fn close(&self) {
        {
            let mut st = self.outbox.lock();
            st.closed = true;
        }
        self.outbox.not_empty.notify_all();
        self.outbox.not_full.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.outbox.lock().closed
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.close();
    }
}

/// Everything the send thread owns.
struct Sender {
    ctx: zmq::Context,
    sock: zmq::Socket,
    outbox: Arc<Outbox>,
    counters: Arc<Counters>,
    subscription_wait: Duration,
}

impl Sender {
    fn run(self) {
        let Sender {
            mut ctx,
            sock,
            outbox,
            counters,
            subscription_wait,
        } = self;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve(&sock, &outbox, &counters, subscription_wait)
        }));
        // Whatever is still queued (only after a panic or a linger timeout) is counted, not lost
        // silently.
        let left = {
            let mut st = outbox.lock();
            st.closed = true;
            std::mem::take(&mut st.queue).len() as u64
        };
        counters.unsent.fetch_add(left, Ordering::Relaxed);
        outbox.not_full.notify_all();
        drop(sock);
        // Blocks until queued messages are written or linger expires.
        let _ = ctx.destroy();
    }
}

fn serve(sock: &zmq::Socket, outbox: &Outbox, counters: &Counters, subscription_wait: Duration) {
    let mut subscribed = false;
    let started = Instant::now();
    loop {
        let batch = {
            let mut st = outbox.lock();
            while st.queue.is_empty() && !st.closed {
                st = outbox.not_empty.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.queue.is_empty() {
                return;
            }
            std::mem::take(&mut st.queue)
        };
        outbox.not_full.notify_all();
        if !subscribed {
            let left = subscription_wait.saturating_sub(started.elapsed());
            wait_for_subscription(sock, left);
            subscribed = true;
        }
        drain_subscriptions(sock);
        let mut batch = batch;
        while let Some((topic, payload)) = batch.pop_front() {
            if !send_one(sock, &topic, &payload, counters) {
                counters
                    .unsent
                    .fetch_add(1 + batch.len() as u64, Ordering::Relaxed);
                return;
            }
            counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends one two-frame message, waiting while libzmq's pipe is full. Returns false if the socket
/// failed for good.
fn send_one(sock: &zmq::Socket, topic: &[u8], payload: &[u8], counters: &Counters) -> bool {
    loop {
        match sock.send(topic, zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => break,
            Err(zmq::Error::EAGAIN) => {
                counters.blocked.fetch_add(1, Ordering::Relaxed);
                // Reading subscriptions keeps the XPUB state current while we wait for room.
                drain_subscriptions(sock);
                let _ = sock.poll(zmq::POLLOUT, 100);
            }
            Err(zmq::Error::EINTR) => {}
            Err(_) => return false,
        }
    }
    // Once the first frame is accepted, the rest of the message is guaranteed to be.
    sock.send(payload, 0).is_ok()
}

/// Waits until the proxy forwards a subscription (first byte 1), or the time is up.
fn wait_for_subscription(sock: &zmq::Socket, mut left: Duration) {
    while !left.is_zero() {
        let t0 = Instant::now();
        if let Ok(n) = sock.poll(zmq::POLLIN, left.as_millis().max(1) as i64) {
            if n > 0 {
                if let Ok(msg) = sock.recv_bytes(zmq::DONTWAIT) {
                    if msg.first() == Some(&1) {
                        return;
                    }
                }
            }
        }
        left = left.saturating_sub(t0.elapsed());
    }
}

/// Subscription notices pile up in the XPUB socket unless read.
fn drain_subscriptions(sock: &zmq::Socket) {
    while sock.recv_bytes(zmq::DONTWAIT).is_ok() {}
}
