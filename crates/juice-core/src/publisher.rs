//! Publisher: an XPUB socket the caller sends on directly, guarded by a mutex.
//!
//! Per-event path: the caller encodes events into a batch ([`crate::records::BatchWriter`]); one
//! call to [`Publisher::try_send`] builds each topic frame ([`FrameBuilder`]) and hands
//! both frames to libzmq, which queues them for its I/O thread. No extra thread or copy of ours
//! sits in between, and one call covers a whole batch.
//!
//! Why XPUB and not PUB: like the Python reference, the socket reports subscriptions, so the first
//! events can wait until the proxy has forwarded one (otherwise ZMQ's slow-joiner effect silently
//! loses them). `ZMQ_XPUB_NODROP` turns a full pipe into "would block" instead of a silent drop:
//! `try_send` stops there and reports how far it got; `wait_ready` waits for room.
//!
//! Publishers live in the process-wide context like every other socket (inproc needs it). To wait
//! in `close()` until queued messages are really written (bounded by linger), the publisher keeps
//! its socket monitor through the close: libzmq reports "monitor stopped" only when it destroys
//! the socket, which it does once its queue is written or linger has run out.
//!
//! Batches are publish records ([`crate::records`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::curve::ClientKeys;
use crate::error::{Error, Result};
use crate::handshake::{HandshakeLog, HandshakeMonitor};
use crate::nats::NatsPublisher;
use crate::records::read_publish;
use crate::routes::Routes;
use crate::socket::{self, Control};
use crate::wire::FrameBuilder;

/// Longest single wait inside [`Publisher::wait_ready`], so `close()` is never held up long.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// After the first subscription notice, the publisher also waits until notices stop arriving for
/// this long: a proxy replays its subscriptions in byte order, so with many filters the one an
/// event needs may come thousands of notices after the first. 100 ms rides out a scheduling
/// stall of the proxy's or our I/O thread mid-replay on a loaded machine (25 ms did not, in
/// review); it is paid once, before a new publisher's first event.
const SUBSCRIPTIONS_SETTLED: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// `ZMQ_SNDHWM`: messages libzmq buffers for the proxy connection before "would block".
    pub snd_hwm: i32,
    /// How long `close()` keeps trying to deliver queued events (`ZMQ_LINGER`), in ms.
    pub linger_ms: i32,
    /// How long the first events wait for a subscription to arrive from the proxy, in ms
    /// (5000 upstream).
    pub subscription_wait_ms: u64,
    /// CURVE keys, for a proxy that requires them.
    pub curve: Option<ClientKeys>,
    /// Over NATS: the subject prefix ([`crate::nats::subject::DEFAULT_PREFIX`] by default).
    pub nats_prefix: String,
    /// Over NATS: publish through JetStream, each event acknowledged by a stream.
    pub jetstream: bool,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        PublisherOptions {
            snd_hwm: 100_000,
            linger_ms: 5_000,
            subscription_wait_ms: 5_000,
            curve: None,
            nats_prefix: crate::nats::subject::DEFAULT_PREFIX.to_string(),
            jetstream: false,
        }
    }
}

/// A snapshot of a publisher's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Events handed to libzmq.
    pub sent: u64,
    /// Times a send found libzmq's pipe full (backpressure).
    pub blocked: u64,
    /// Events sent while no subscription on the connection matched them (the proxy down or not
    /// yet reached, or nobody subscribed to that type and topic): libzmq discards those, so they
    /// are counted here.
    pub unrouted: u64,
    /// Handshakes with the proxy that failed (refused CURVE key, security mismatch).
    pub handshake_failures: u64,
    /// Connected to the proxy (a handshake completed and the connection has not dropped).
    pub connected: bool,
    /// `close()` ran out of linger while libzmq still held events for the proxy, so libzmq
    /// discarded them. How many is not knowable through libzmq 4.3's API (its pipe statistics
    /// lag by up to half the high-water mark), but that some were lost is.
    pub linger_expired: bool,
    /// JetStream publishers: events a stream acknowledged.
    pub stored: u64,
    /// JetStream publishers: events not stored after every attempt.
    pub not_stored: u64,
    /// JetStream publishers: events sent again, under the same id, after an acknowledgement did
    /// not come (one per repeat; the stream stores each event once).
    pub resent: u64,
}

struct Inner {
    sock: Option<zmq::Socket>,
    /// Reports failed handshakes (a refused CURVE key); read by the watcher.
    monitor: Option<HandshakeMonitor>,
    /// `ZMQ_LINGER`: how long `close()` may wait for libzmq to write what it holds.
    linger: Duration,
    /// Subscriptions have arrived and settled (or the wait for them timed out): sends go
    /// straight out.
    ready: bool,
    /// When the latest subscription notice arrived, while not yet ready.
    last_notice: Option<Instant>,
    /// The subscriptions live on the connection, from the XPUB's notices (libzmq reports each
    /// prefix's first subscribe and last unsubscribe, and unsubscribes everything when the
    /// connection to the proxy drops).
    routes: Routes,
    /// The topic frame of the record being sent.
    frames: FrameBuilder,
}

/// How often the watcher thread reads subscription notices while the caller is not sending.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);

pub struct ZmqPublisher {
    shared: Arc<Shared>,
    /// Reads subscription notices in the background, so that a lost connection is known (and
    /// what is sent meanwhile counted as unrouted) even if the caller was idle when it happened:
    /// libzmq only reports it after a command round trip that needs the socket to be polled.
    watcher: Mutex<Option<JoinHandle<()>>>,
    /// Tells the watcher to stop, as every native thread here is told (see `socket::Control`).
    control: Control,
}

/// The state a publisher shares with its watcher thread; reached through `Deref`.
pub struct Shared {
    inner: Mutex<Inner>,
    /// When the first events stop waiting for a subscription.
    ready_deadline: Instant,
    sent: AtomicU64,
    blocked: AtomicU64,
    unrouted: AtomicU64,
    linger_expired: AtomicBool,
    handshakes: HandshakeLog,
}

impl std::ops::Deref for ZmqPublisher {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// Command on the control channel that stops the watcher.
const CMD_QUIT: u8 = b'q';

/// How much earlier than our clock libzmq's linger timer may fire: a few milliseconds at most,
/// and never so much that a short linger counts as expired when it was not.
fn linger_slack(linger: Duration) -> Duration {
    (linger / 10).min(Duration::from_millis(20))
}

fn watch(shared: Arc<Shared>, ctl: zmq::Socket) {
    loop {
        match ctl.poll(zmq::POLLIN, WATCH_INTERVAL.as_millis() as i64) {
            Ok(0) | Err(zmq::Error::EINTR) => {}
            // A command (only "quit" is sent), or the channel is gone.
            _ => return,
        }
        let mut guard = shared.lock();
        let inner = &mut *guard;
        let Some(sock) = inner.sock.as_ref() else {
            break;
        };
        if read_notices(sock, &mut inner.routes) {
            inner.last_notice = Some(Instant::now());
        }
        if let Some(m) = &inner.monitor {
            m.drain(&shared.handshakes);
        }
    }
}

impl ZmqPublisher {
    pub fn connect(uri: &str, opts: PublisherOptions) -> Result<Self> {
        let ctx = socket::context();
        let mut sock = socket::open(ctx, zmq::XPUB, "publisher socket")?;
        sock.set_sndhwm(opts.snd_hwm)
            .map_err(|e| Error::zmq("sndhwm", e))?;
        socket::set_int_option(&mut sock, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
        // Without IMMEDIATE a connecting socket keeps its pipe while the proxy is down and
        // replays it into a restarted proxy before any subscriber is back: a silent loss. With
        // it, the pipe ends with the connection, libzmq reports the lost subscriptions, and what
        // is sent meanwhile is counted as unrouted.
        sock.set_immediate(true)
            .map_err(|e| Error::zmq("immediate", e))?;
        sock.set_linger(opts.linger_ms)
            .map_err(|e| Error::zmq("linger", e))?;
        if let Some(keys) = &opts.curve {
            keys.apply(&sock)?;
        }
        let monitor = HandshakeMonitor::attach_until_closed(ctx, &sock, "pub")?;
        socket::connect(&sock, uri)?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                sock: Some(sock),
                monitor: Some(monitor),
                linger: Duration::from_millis(opts.linger_ms.max(0) as u64),
                ready: opts.subscription_wait_ms == 0,
                last_notice: None,
                routes: Routes::default(),
                frames: FrameBuilder::default(),
            }),
            ready_deadline: Instant::now() + Duration::from_millis(opts.subscription_wait_ms),
            sent: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            unrouted: AtomicU64::new(0),
            linger_expired: AtomicBool::new(false),
            handshakes: HandshakeLog::default(),
        });
        let (control, ctl) = Control::pair_in(ctx, "publisher")?;
        let s2 = shared.clone();
        let watcher = std::thread::Builder::new()
            .name("juice-pub-watch".into())
            .spawn(move || watch(s2, ctl))
            .map_err(|e| Error::invalid_arg(format!("cannot start publisher thread: {e}")))?;
        Ok(ZmqPublisher {
            shared,
            watcher: Mutex::new(Some(watcher)),
            control,
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends records from the start of `batch` without waiting. Returns how many bytes of the
    /// batch were sent: all of it, or up to the first record that found the pipe full or the
    /// publisher still waiting for its first subscription. Call [`Self::wait_ready`], then again
    /// with the rest.
    pub fn try_send(&self, batch: &[u8]) -> Result<usize> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let sock = inner
            .sock
            .as_ref()
            .ok_or_else(|| Error::closed("publisher"))?;
        if !inner.ready {
            inner.ready = self.settle(
                sock,
                &mut inner.last_notice,
                &mut inner.routes,
                Duration::ZERO,
            );
            if !inner.ready {
                return Ok(0);
            }
        } else {
            read_notices(sock, &mut inner.routes);
        }
        let mut at = 0;
        while at < batch.len() {
            let (rec, next) = read_publish(batch, at)?;
            let frame = inner.frames.build(rec.type_name, rec.topic)?;
            match socket::send_frame(sock, frame, zmq::SNDMORE | zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => {
                    self.blocked.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(Error::zmq("send", e)),
            }
            // Counted before the payload frame completes the message, so stats() never lags
            // behind what a subscriber already holds.
            self.sent.fetch_add(1, Ordering::Relaxed);
            if !inner.routes.routed(inner.frames.frame()) {
                self.unrouted.fetch_add(1, Ordering::Relaxed);
            }
            // Once the first frame is accepted, libzmq accepts the rest of the message.
            socket::send_frame(sock, rec.payload, 0).map_err(|e| Error::zmq("send", e))?;
            at = next;
        }
        Ok(at)
    }

    /// Waits (up to `timeout`, in slices of at most 100 ms) until sending can make progress:
    /// the first subscription arrived or its wait expired, and libzmq's pipe has room.
    /// Returns whether it is ready.
    pub fn wait_ready(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut guard = self.lock();
                let inner = &mut *guard;
                let sock = inner
                    .sock
                    .as_ref()
                    .ok_or_else(|| Error::closed("publisher"))?;
                let now = Instant::now();
                let slice = deadline.saturating_duration_since(now).min(WAIT_SLICE);
                if !inner.ready {
                    inner.ready =
                        self.settle(sock, &mut inner.last_notice, &mut inner.routes, slice);
                }
                if inner.ready
                    && sock
                        .poll(zmq::POLLOUT, slice.as_millis() as i64)
                        .unwrap_or(0)
                        > 0
                {
                    return Ok(true);
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// Reads subscription notices, waiting up to `wait` for more, and says whether the publisher
    /// is ready: subscriptions arrived and then settled, or the wait for them expired.
    fn settle(
        &self,
        sock: &zmq::Socket,
        last_notice: &mut Option<Instant>,
        routes: &mut Routes,
        wait: Duration,
    ) -> bool {
        let give_up = Instant::now() + wait;
        loop {
            if read_notices(sock, routes) {
                *last_notice = Some(Instant::now());
            }
            let now = Instant::now();
            if now >= self.ready_deadline {
                return true;
            }
            // Until the next decision point: settled, the overall deadline, or the caller's limit.
            let decide_at = match *last_notice {
                Some(t) if now >= t + SUBSCRIPTIONS_SETTLED => return true,
                Some(t) => (t + SUBSCRIPTIONS_SETTLED).min(self.ready_deadline),
                None => self.ready_deadline,
            };
            let until = decide_at.min(give_up);
            if until <= now {
                return false;
            }
            let ms = (until - now).as_millis().max(1) as i64;
            if sock.poll(zmq::POLLIN, ms).unwrap_or(0) == 0 && Instant::now() >= give_up {
                // Nothing new within the caller's limit; settled-ness is decided on the next call.
                return last_notice.is_some_and(|t| Instant::now() >= t + SUBSCRIPTIONS_SETTLED);
            }
        }
    }

    pub fn stats(&self) -> PublisherStats {
        PublisherStats {
            sent: self.sent.load(Ordering::Relaxed),
            blocked: self.blocked.load(Ordering::Relaxed),
            unrouted: self.unrouted.load(Ordering::Relaxed),
            handshake_failures: self.handshakes.failures(),
            connected: self.handshakes.connected() > 0,
            linger_expired: self.linger_expired.load(Ordering::Relaxed),
            stored: 0,
            not_stored: 0,
            resent: 0,
        }
    }

    /// Why the last handshake with the proxy failed, if one did.
    pub fn handshake_error(&self) -> Option<String> {
        self.handshakes.last_error()
    }

    pub fn is_closed(&self) -> bool {
        self.lock().sock.is_none()
    }

    /// Closes the socket and waits (up to linger) until libzmq has written out everything sent.
    /// Safe to call more than once.
    fn close_socket(&self) {
        let (sock, monitor, linger) = {
            let mut inner = self.lock();
            (inner.sock.take(), inner.monitor.take(), inner.linger)
        };
        // Closing hands the socket to libzmq's reaper, which writes what is queued (up to
        // linger) and then destroys it, reporting "monitor stopped": that is when close returns.
        let had_socket = sock.is_some();
        let t0 = Instant::now();
        drop(sock);
        if let Some(monitor) = monitor {
            let stopped = monitor.wait_closed(linger + Duration::from_secs(2));
            // libzmq destroys the socket as soon as its queue is written, or when its linger
            // timer fires with something left: taking the whole linger means the latter. libzmq's
            // timers read a cached clock and round to milliseconds, so they can fire a little
            // before our own clock says linger has passed (CI saw 999.x ms for a 1 s linger).
            if had_socket && !linger.is_zero() && t0.elapsed() + linger_slack(linger) >= linger {
                self.linger_expired.store(true, Ordering::Relaxed);
            }
            if !stopped {
                // libzmq may still send events to this reader: dropping it could stall libzmq's
                // I/O thread, so it is leaked instead (this has not been seen to happen).
                std::mem::forget(monitor);
            }
        }
    }
}

impl ZmqPublisher {
    /// Closes the socket and waits (up to linger) until libzmq has written out everything sent.
    /// Safe to call more than once.
    pub fn close(&self) {
        self.control.shut(&[CMD_QUIT]);
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = watcher {
            let _ = w.join();
        }
        self.shared.close_socket();
    }
}

impl Drop for ZmqPublisher {
    fn drop(&mut self) {
        self.close();
    }
}

/// Reads every pending subscription notice into `routes`. Returns true if one of them
/// subscribed. Notices pile up in an XPUB socket unless read, so this runs before every batch.
fn read_notices(sock: &zmq::Socket, routes: &mut Routes) -> bool {
    let mut subscribed = false;
    while let Ok(msg) = sock.recv_bytes(zmq::DONTWAIT) {
        subscribed |= routes.notice(&msg);
    }
    subscribed
}

/// A publisher on either transport: ZeroMQ (`tcp://`, `ipc://`, `inproc://`) or NATS
/// (`nats://`, a comma-separated list of servers). Both take the same batches and report the same
/// stats.
pub enum Publisher {
    Zmq(ZmqPublisher),
    Nats(Box<NatsPublisher>),
}

impl Publisher {
    pub fn connect(uri: &str, opts: PublisherOptions) -> Result<Self> {
        if crate::nats::is_nats_uri(uri) {
            let linger = Duration::from_millis(opts.linger_ms.max(0) as u64);
            let p = NatsPublisher::connect(uri, &opts.nats_prefix, linger, opts.jetstream)?;
            return Ok(Publisher::Nats(Box::new(p)));
        }
        if opts.jetstream {
            return Err(Error::invalid_arg(
                "jetstream needs a nats:// URI; a ZeroMQ proxy keeps no stream",
            ));
        }
        Ok(Publisher::Zmq(ZmqPublisher::connect(uri, opts)?))
    }

    /// Sends from `batch` without waiting; returns the bytes consumed.
    pub fn try_send(&self, batch: &[u8]) -> Result<usize> {
        match self {
            Publisher::Zmq(p) => p.try_send(batch),
            Publisher::Nats(p) => p.try_send(batch),
        }
    }

    /// Waits up to `timeout` until sending can make progress; returns whether it can.
    pub fn wait_ready(&self, timeout: Duration) -> Result<bool> {
        match self {
            Publisher::Zmq(p) => p.wait_ready(timeout),
            Publisher::Nats(p) => p.wait_ready(timeout),
        }
    }

    /// Sends the batch, blocking the caller while the publisher cannot make progress (the first
    /// subscription awaited, a full pipe or queue), for at most `limit` (None: as long as it
    /// takes). Returns the bytes consumed, less than the batch only when `limit` ran out.
    pub fn send_blocking(&self, batch: &[u8], limit: Option<Duration>) -> Result<usize> {
        let deadline = limit.map(|d| Instant::now() + d);
        let mut at = 0;
        while at < batch.len() {
            at += self.try_send(&batch[at..])?;
            if at < batch.len() {
                let wait = match deadline {
                    None => Duration::from_secs(3600),
                    Some(d) => match d.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => left,
                        _ => break,
                    },
                };
                self.wait_ready(wait)?;
            }
        }
        Ok(at)
    }

    pub fn stats(&self) -> PublisherStats {
        match self {
            Publisher::Zmq(p) => p.stats(),
            Publisher::Nats(p) => p.stats(),
        }
    }

    pub fn handshake_error(&self) -> Option<String> {
        match self {
            Publisher::Zmq(p) => p.handshake_error(),
            Publisher::Nats(p) => p.handshake_error(),
        }
    }

    pub fn is_closed(&self) -> bool {
        match self {
            Publisher::Zmq(p) => p.is_closed(),
            Publisher::Nats(p) => p.is_closed(),
        }
    }

    /// Closes, waiting up to linger for what was sent to be written out. Safe to call again.
    pub fn close(&self) {
        match self {
            Publisher::Zmq(p) => p.close(),
            Publisher::Nats(p) => p.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BatchWriter;

    #[test]
    fn truncated_batches_are_errors_not_panics() {
        let mut w = BatchWriter::default();
        w.push("T", Some("a.b"), b"{}");
        let full = w.bytes.clone();
        for cut in 1..full.len() {
            assert!(read_publish(&full[..cut], 0).is_err(), "cut at {cut}");
        }
        let (r, end) = read_publish(&full, 0).unwrap();
        assert_eq!(end, full.len());
        assert_eq!(r.type_name, b"T");
        assert_eq!(r.topic, Some(&b"a.b"[..]));
        assert_eq!(r.payload, b"{}");
        w.push("U", None, b"[]");
        let (r2, _) = read_publish(&w.bytes, end).unwrap();
        assert_eq!(r2.topic, None);
    }

    #[test]
    fn every_distinct_type_name_in_a_batch_is_validated() {
        // The send path checks a type name once per run of equal names. An empty name sent first
        // (equal to the empty cache) and a bad name after good ones must still be refused.
        let p = Publisher::connect(
            "tcp://127.0.0.1:9",
            PublisherOptions {
                subscription_wait_ms: 0,
                linger_ms: 0,
                ..Default::default()
            },
        )
        .unwrap();
        let mut w = BatchWriter::default();
        w.push("", None, b"{}");
        let err = p.try_send(&w.bytes).unwrap_err();
        assert!(err.message.contains("type name"), "{}", err.message);
        let mut w = BatchWriter::default();
        w.push("Good", None, b"{}");
        w.push("Good", Some("a"), b"{}");
        w.push("Bad.Name", None, b"{}");
        let err = p.try_send(&w.bytes).unwrap_err();
        assert!(err.message.contains("type name"), "{}", err.message);
        let mut w = BatchWriter::default();
        w.push("Good", None, b"{}");
        w.push("Other", None, b"{}");
        assert_eq!(p.try_send(&w.bytes).unwrap(), w.bytes.len());
        p.close();
    }
}
