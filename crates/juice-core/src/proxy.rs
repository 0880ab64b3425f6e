//! Proxy: the central XSUB/XPUB forwarder, run on a native thread.
//!
//! Publishers connect to the XSUB frontend, subscribers to the XPUB backend. Data flows
//! frontend -> backend frame by frame without copying (the `zmq::Message` is moved); subscription
//! notices flow backend -> frontend, so publishers and the proxy only send what someone wants.
//! The loop counts what it forwards; counters are atomics read by `stats()` from any thread.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::curve::{self, Allowlist, ServerKeys, ZapCounters, ZapHandler};
use crate::error::{Error, Result};
use crate::handshake::SocketMonitor;
use crate::query::QueryServer;
use crate::socket::{self, Control, RawFrame};
use crate::topic_registry::{Batch, TopicEntry, TopicRegistry};

/// Upstream Juice's task manager binds publishers' port 5122 and subscribers' port 5123.
pub const DEFAULT_FRONTEND: &str = "tcp://*:5122";
pub const DEFAULT_BACKEND: &str = "tcp://*:5123";

/// Messages forwarded per wake-up before control commands are looked at again.
const DRAIN_LIMIT: usize = 4096;

/// How often connection events (for the publisher/subscriber counts) are read.
const MONITOR_INTERVAL: Duration = Duration::from_millis(100);

/// Bytes a subscription notice may carry beyond its prefix before libzmq drops the peer: the
/// 0/1 byte of ZMTP 3.0, the command name of ZMTP 3.1 (`\x09SUBSCRIBE`), and CURVE's box.
const SUBSCRIPTION_FRAME_SLACK: usize = 64;

/// Smallest frame limit set on a socket that peers handshake with: libzmq applies the limit to
/// handshake commands as well, and a CURVE INITIATE with metadata can take several hundred bytes.
pub(crate) const MIN_FRAME_LIMIT: usize = 1024;

/// Stack of the proxy thread. libzmq 4.3.4 walks its subscription trie recursively, one level
/// per byte, on the thread that drives the socket; the frame limit bounds that depth, and this
/// leaves a wide margin over it.
const PROXY_STACK: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub frontend: String,
    pub backend: String,
    /// `ZMQ_RCVHWM` on the frontend, per publisher connection.
    pub rcv_hwm: i32,
    /// `ZMQ_SNDHWM` on the backend, per subscriber connection. A subscriber that falls this far
    /// behind loses messages at the proxy instead of stalling everyone else.
    pub snd_hwm: i32,
    /// `ZMQ_MAXMSGSIZE` on the frontend: a publisher sending a bigger message is disconnected
    /// (-1 = no limit).
    pub max_message_size: i64,
    /// Wait for a full subscriber instead of dropping for it (`ZMQ_XPUB_NODROP`). Nothing is lost
    /// between proxy and subscribers, but one stalled subscriber stalls every other one.
    pub lossless: bool,
    /// CURVE encryption on both endpoints, admitting only the listed client keys.
    pub curve: Option<ServerKeys>,
    /// Most distinct topics remembered for `topics()` (0 = do not track topics).
    pub max_topics: usize,
    /// A REP endpoint answering `topics` and `stats` requests with JSON (for `juice topics`).
    pub query: Option<String>,
    /// Longest subscription prefix (`Type.topic.`) passed on to publishers, in bytes. Longer
    /// ones are dropped and counted; a peer whose notice exceeds it by more than the framing
    /// slack is disconnected by libzmq before the notice is stored.
    pub max_subscription: usize,
    /// Most bytes the topic registry may hold (names plus bookkeeping).
    pub max_topics_bytes: usize,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            frontend: DEFAULT_FRONTEND.into(),
            backend: DEFAULT_BACKEND.into(),
            rcv_hwm: 100_000,
            snd_hwm: 100_000,
            max_message_size: 128 << 20,
            lossless: false,
            curve: None,
            max_topics: 100_000,
            query: None,
            max_subscription: 4096,
            max_topics_bytes: 16 << 20,
        }
    }
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Distinct subscription prefixes live on the backend (XPUB reports only the first subscribe
    /// and the last unsubscribe of each prefix).
    subscriptions: AtomicI64,
    /// Notices on the backend that were not passed on: longer than `max_subscription`, or not a
    /// subscription at all.
    rejected_subscriptions: AtomicU64,
    /// Open connections on each side.
    publishers: AtomicI64,
    subscribers: AtomicI64,
}

/// The proxy's counters (in the query endpoint's `stats` answer, with camelCase keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStats {
    /// Messages (whole multipart messages) forwarded to subscribers.
    pub messages: u64,
    /// Bytes forwarded, all frames counted.
    pub bytes: u64,
    /// Distinct live subscription prefixes.
    pub subscriptions: u64,
    /// CURVE handshakes the allowlist admitted.
    pub auth_accepted: u64,
    /// CURVE handshakes refused (unlisted key, or a client without CURVE).
    pub auth_denied: u64,
    /// Open connections from publishers (frontend) and subscribers (backend).
    pub publishers: u64,
    pub subscribers: u64,
    /// Backend notices dropped instead of being passed on to publishers (too long, or not a
    /// subscription).
    pub rejected_subscriptions: u64,
}

pub struct Proxy {
    frontend: String,
    backend: String,
    counters: Arc<Counters>,
    topics: Arc<TopicRegistry>,
    query: Option<String>,
    query_server: Mutex<Option<QueryServer>>,
    control: Control,
    thread: Mutex<Option<JoinHandle<()>>>,
    zap: Option<(ZapHandler, Allowlist, Arc<ZapCounters>)>,
}

impl Proxy {
    pub fn start(opts: ProxyOptions) -> Result<Self> {
        // Every socket lives in the process-wide context (inproc needs it); a CURVE proxy's
        // allowlist is found by the ZAP domain its sockets carry.
        let ctx = socket::context();
        let zap = match &opts.curve {
            Some(keys) => {
                let allow: Allowlist = Arc::new(std::sync::RwLock::new(curve::allowlist_from(
                    &keys.allowed_clients,
                )?));
                let counters = Arc::new(ZapCounters::default());
                let handler = ZapHandler::start(allow.clone(), counters.clone())?;
                Some((handler, allow, counters))
            }
            None => None,
        };
        let xsub = socket::open(ctx, zmq::XSUB, "proxy frontend socket")?;
        let mut xpub = socket::open(ctx, zmq::XPUB, "proxy backend socket")?;
        for s in [&xsub, &xpub] {
            s.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        }
        xsub.set_rcvhwm(opts.rcv_hwm)
            .map_err(|e| Error::zmq("rcvhwm", e))?;
        xpub.set_sndhwm(opts.snd_hwm)
            .map_err(|e| Error::zmq("sndhwm", e))?;
        // Subscriptions travel XPUB -> XSUB -> publishers. libzmq drops subscription messages
        // beyond the sending pipe's SNDHWM when it replays them to a new publisher, so with more
        // than 1000 filters some would vanish silently: never limit that direction.
        xsub.set_sndhwm(0).map_err(|e| Error::zmq("sndhwm", e))?;
        xpub.set_rcvhwm(0).map_err(|e| Error::zmq("rcvhwm", e))?;
        xsub.set_maxmsgsize(opts.max_message_size)
            .map_err(|e| Error::zmq("maxmsgsize", e))?;
        // Subscribers send only subscription notices: anything much longer than the longest
        // accepted subscription is an attack on memory (libzmq buffers whole frames) or on the
        // stack (its trie recurses per byte), and costs the peer its connection.
        let max_sub = opts.max_subscription.min(i32::MAX as usize / 2);
        xpub.set_maxmsgsize((max_sub + SUBSCRIPTION_FRAME_SLACK).max(MIN_FRAME_LIMIT) as i64)
            .map_err(|e| Error::zmq("maxmsgsize", e))?;
        if opts.lossless {
            socket::set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
        }
        // A beacon subscription, replayed by libzmq to every publisher as it connects: upstream
        // Juice publishers wait (up to 5 s) for a first subscription notice before their first
        // send, and on a quiet bus no subscriber would ever send one. `.` cannot start a Juice
        // topic frame (type names are non-empty and dot-free), so it matches no event and
        // publishers keep filtering by what subscribers really want.
        xsub.send([&[1u8][..], crate::routes::BEACON].concat(), 0)
            .map_err(|e| Error::zmq("beacon subscription", e))?;
        let mut query_sock = match &opts.query {
            Some(_) => Some(socket::open(ctx, zmq::ROUTER, "proxy query socket")?),
            None => None,
        };
        if let Some(keys) = &opts.curve {
            let domain = zap.as_ref().map_or("", |z| z.0.domain());
            curve::apply_server(&xsub, &keys.secret_key, domain)?;
            curve::apply_server(&xpub, &keys.secret_key, domain)?;
            if let Some(q) = &query_sock {
                curve::apply_server(q, &keys.secret_key, domain)?;
            }
        }
        let conn_events = zmq_sys::ZMQ_EVENT_ACCEPTED | zmq_sys::ZMQ_EVENT_DISCONNECTED;
        let front_mon = SocketMonitor::attach(ctx, &xsub, "proxy-front", conn_events)?;
        let back_mon = SocketMonitor::attach(ctx, &xpub, "proxy-back", conn_events)?;
        let frontend = socket::bind(&xsub, &opts.frontend)?;
        let backend = socket::bind(&xpub, &opts.backend)?;
        let query = match (&mut query_sock, &opts.query) {
            (Some(q), Some(uri)) => {
                q.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
                crate::query::configure(q)?;
                Some(socket::bind(q, uri)?)
            }
            _ => None,
        };
        let (control, ctl) = Control::pair_in(ctx, "proxy")?;
        let counters = Arc::new(Counters::default());
        let topics = Arc::new(TopicRegistry::new(opts.max_topics, opts.max_topics_bytes));
        let query_server = match query_sock {
            Some(q) => {
                let (c, z) = (counters.clone(), zap.as_ref().map(|z| z.2.clone()));
                let stats = Box::new(move || stats_json(&stats_of(&c, z.as_deref())));
                Some(QueryServer::start(ctx, q, topics.clone(), stats)?)
            }
            None => None,
        };
        let mut worker = Forwarder {
            xsub,
            xpub,
            ctl,
            front_mon,
            back_mon,
            counters: counters.clone(),
            topics: topics.clone(),
            track_topics: opts.max_topics > 0,
            batch: Batch::default(),
            max_subscription: max_sub,
        };
        let thread = std::thread::Builder::new()
            .name("juice-proxy".into())
            .stack_size(PROXY_STACK)
            .spawn(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.run()));
            })
            .map_err(|e| Error::invalid_arg(format!("cannot start proxy thread: {e}")))?;
        Ok(Proxy {
            frontend,
            backend,
            counters,
            topics,
            query,
            query_server: Mutex::new(query_server),
            control,
            thread: Mutex::new(Some(thread)),
            zap,
        })
    }

    /// Replaces the CURVE allowlist. Connections already admitted stay; new handshakes are judged
    /// by the new list.
    pub fn set_allowed_clients(&self, keys: &[String]) -> Result<()> {
        let Some((_, allow, _)) = &self.zap else {
            return Err(Error::invalid_arg(
                "this proxy was started without curve options",
            ));
        };
        let set = curve::allowlist_from(keys)?;
        *allow.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }

    /// The endpoint publishers connect to, with the real port when bound to port 0.
    pub fn frontend(&self) -> &str {
        &self.frontend
    }

    /// The endpoint subscribers connect to.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The bound query endpoint, if one was asked for.
    pub fn query_endpoint(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Topics forwarded so far (sorted by name), and messages whose new topic did not fit. The
    /// proxy thread publishes its tally every 100 ms, so the newest events may not be in it yet.
    pub fn topics(&self) -> (Vec<TopicEntry>, u64) {
        self.topics.snapshot()
    }

    pub fn stats(&self) -> ProxyStats {
        stats_of(&self.counters, self.zap.as_ref().map(|z| &*z.2))
    }

    /// Stops forwarding and unbinds both endpoints. Safe to call more than once.
    pub fn close(&self) {
        self.control.shut(b"q");
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        let query = self
            .query_server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(query);
        if let Some((zap, _, _)) = &self.zap {
            zap.close();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

fn stats_of(c: &Counters, zap: Option<&ZapCounters>) -> ProxyStats {
    let get = |a: &AtomicI64| a.load(Ordering::Relaxed).max(0) as u64;
    ProxyStats {
        messages: c.messages.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
        subscriptions: get(&c.subscriptions),
        auth_accepted: zap.map_or(0, |z| z.accepted.load(Ordering::Relaxed)),
        auth_denied: zap.map_or(0, |z| z.denied.load(Ordering::Relaxed)),
        publishers: get(&c.publishers),
        subscribers: get(&c.subscribers),
        rejected_subscriptions: c.rejected_subscriptions.load(Ordering::Relaxed),
    }
}

/// Everything the proxy thread owns.
struct Forwarder {
    xsub: zmq::Socket,
    xpub: zmq::Socket,
    ctl: zmq::Socket,
    front_mon: SocketMonitor,
    back_mon: SocketMonitor,
    counters: Arc<Counters>,
    topics: Arc<TopicRegistry>,
    track_topics: bool,
    /// Topics seen since the last commit to `topics`.
    batch: Batch,
    max_subscription: usize,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.front_mon.detach(&mut self.xsub);
        self.back_mon.detach(&mut self.xpub);
    }
}

impl Forwarder {
    fn run(&mut self) {
        let mut frame = RawFrame::new();
        let mut monitors_read = Instant::now();
        loop {
            let Some([quit, front, back]) = self.wait() else {
                return;
            };
            if quit {
                return;
            }
            if back {
                self.forward_subscriptions(&mut frame);
            }
            if front && !self.forward_messages(&mut frame) {
                return;
            }
            // Connection events are read, and the topic tally published, on a timer rather than
            // per wake-up: the forwarding loop stays as lean as a bare proxy's.
            let due = monitors_read.elapsed() >= MONITOR_INTERVAL;
            if due || self.batch.bytes() >= crate::topic_registry::BATCH_MERGE_BYTES {
                self.batch.try_commit(&self.topics);
            }
            if due {
                let c = &self.counters;
                self.front_mon
                    .drain(|ev, _, _| count_connection(&c.publishers, ev));
                self.back_mon
                    .drain(|ev, _, _| count_connection(&c.subscribers, ev));
                monitors_read = Instant::now();
            }
        }
    }

    /// Waits for work (or MONITOR_INTERVAL) and says which of control, frontend and backend
    /// are readable. None if polling failed for good.
    fn wait(&self) -> Option<[bool; 3]> {
        let timeout = MONITOR_INTERVAL.as_millis() as i64;
        let mut items = [
            self.ctl.as_poll_item(zmq::POLLIN),
            self.xsub.as_poll_item(zmq::POLLIN),
            self.xpub.as_poll_item(zmq::POLLIN),
        ];
        match zmq::poll(&mut items, timeout) {
            Ok(_) => Some([
                items[0].is_readable(),
                items[1].is_readable(),
                items[2].is_readable(),
            ]),
            Err(zmq::Error::EINTR) => Some([false; 3]),
            Err(_) => None,
        }
    }

    /// Subscription notices from subscribers, passed up to the publishers.
    fn forward_subscriptions(&mut self, frame: &mut RawFrame) {
        let c = &self.counters;
        while frame.recv(&mut self.xpub, zmq::DONTWAIT).is_ok() {
            // XPUB passes up a subscriber's data messages too; only well-formed notices within
            // the limit may reach the publishers' tries. A rejected subscribe's later unsubscribe
            // is dropped the same way, uncounted, since it was never passed on.
            let fits = frame.size() <= self.max_subscription + 1;
            match frame.first() {
                Some(1) if fits => {
                    c.subscriptions.fetch_add(1, Ordering::Relaxed);
                }
                Some(0) if fits => {
                    c.subscriptions.fetch_sub(1, Ordering::Relaxed);
                }
                Some(0) => continue,
                _ => {
                    c.rejected_subscriptions.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let _ = frame.send(&mut self.xsub, 0);
        }
    }

    /// Forwards up to DRAIN_LIMIT messages. Returns false if told to quit meanwhile.
    fn forward_messages(&mut self, frame: &mut RawFrame) -> bool {
        for _ in 0..DRAIN_LIMIT {
            if frame.recv(&mut self.xsub, zmq::DONTWAIT).is_err() {
                break;
            }
            if self.track_topics {
                self.batch.see(frame.bytes());
            }
            let mut bytes = 0u64;
            loop {
                let more = frame.more();
                bytes += frame.size() as u64;
                if !more {
                    // Counted before the last frame leaves: once a subscriber holds a message,
                    // stats() already includes it, so readers never see delivery ahead of count.
                    self.counters.messages.fetch_add(1, Ordering::Relaxed);
                    self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                let flags = if more { zmq::SNDMORE } else { 0 };
                // Without NODROP, XPUB never blocks: at a full subscriber pipe libzmq drops
                // for that subscriber only. With it (lossless), wait for room.
                if !send_waiting(frame, &mut self.xpub, &self.ctl, flags) {
                    return false;
                }
                if !more || frame.recv(&mut self.xsub, 0).is_err() {
                    break;
                }
            }
        }
        true
    }
}

fn count_connection(n: &AtomicI64, event: u32) {
    match event {
        zmq_sys::ZMQ_EVENT_ACCEPTED => {
            n.fetch_add(1, Ordering::Relaxed);
        }
        zmq_sys::ZMQ_EVENT_DISCONNECTED => {
            n.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

fn stats_json(s: &ProxyStats) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Sends `frame`, waiting while a lossless backend is full. Returns false if told to quit meanwhile.
fn send_waiting(
    frame: &mut RawFrame,
    xpub: &mut zmq::Socket,
    ctl: &zmq::Socket,
    flags: i32,
) -> bool {
    loop {
        match frame.send(xpub, flags | zmq::DONTWAIT) {
            Err(zmq::Error::EAGAIN) => {
                let mut items = [
                    ctl.as_poll_item(zmq::POLLIN),
                    xpub.as_poll_item(zmq::POLLOUT),
                ];
                if zmq::poll(&mut items, 100).is_ok() && items[0].is_readable() {
                    return false;
                }
            }
            // Other errors (no subscribers at all) drop the frame, as XPUB always does.
            _ => return true,
        }
    }
}

pub use crate::query::query;
