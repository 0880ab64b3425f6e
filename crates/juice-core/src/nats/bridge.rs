//! The bridge between a ZeroMQ proxy and a NATS cluster, both ways, forwarding only what someone
//! on the other side subscribes to.
//!
//! ZeroMQ -> NATS: a SUB socket on the proxy's backend, subscribed to the filters NATS subscribers
//! announce ([`super::interest`]); each event goes out on its subject with a `Juice-Origin`
//! header naming this bridge.
//! NATS -> ZeroMQ: an XPUB socket on the proxy's frontend learns every ZeroMQ subscription from
//! the proxy; the bridge subscribes to those on NATS and publishes what arrives into the proxy.
//!
//! No loops:
//! - NATS side: messages carrying this bridge's own `Juice-Origin` are dropped (counted).
//! - ZeroMQ side: frames carry no headers, and the proxy hands what the bridge published to every
//!   matching subscriber, the bridge's own SUB included. The bridge remembers a hash of each
//!   (topic, payload) it sent into the proxy for [`ECHO_WINDOW`] and drops the first copy that
//!   comes back (counted as an echo). An identical event published by a real ZeroMQ publisher
//!   inside that window is the one case this cannot tell apart; it is counted, never silent.
//! - Its own SUB subscriptions must not read as ZeroMQ interest when the proxy passes them up:
//!   the SUB subscribes `T.a` for the filter `T.a.` (the same events and a few more, filtered
//!   here), a prefix no Juice subscriber sends, so the XPUB side can tell them apart.
//!
//! Threads: the ZeroMQ sockets belong to one native thread; the NATS side runs on the shared
//! runtime and hands messages over through a queue and a wake-up on the control socket.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::connect::{self, LinkEvents};
use super::interest::{self, Leases};
use super::readers::Readers;
use super::receiver::cover;
use super::runtime;
use super::subject::Subjects;
use crate::error::{Error, Result};
use crate::handshake::HandshakeLog;
use crate::routes::BEACON;
use crate::socket::{self, Control};
use crate::topic_tree::TopicTree;
use crate::wire;

/// How long the bridge remembers what it published into the proxy, to recognise the echo.
pub const ECHO_WINDOW: Duration = Duration::from_secs(5);

/// The header naming the bridge that put a message on NATS.
pub const ORIGIN_HEADER: &str = "Juice-Origin";

/// Most messages moved per turn in each direction, so commands are never kept waiting.
const BATCH: usize = 4096;

/// Most messages waiting for the ZeroMQ thread; beyond it NATS messages are dropped (counted).
const MAX_OUTBOX: usize = 100_000;

const CMD_QUIT: u8 = b'q';
const CMD_WAKE: u8 = b'w';
const CMD_FILTERS: u8 = b'f';

#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The proxy's publisher endpoint (its XSUB), e.g. `tcp://lab-pc:5122`.
    pub frontend: String,
    /// The proxy's subscriber endpoint (its XPUB), e.g. `tcp://lab-pc:5123`.
    pub backend: String,
    /// NATS servers, `nats://a:4222[,nats://b:4222...]`.
    pub nats: String,
    pub nats_prefix: String,
}

/// A snapshot of the bridge's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Events forwarded from the proxy to NATS.
    pub to_nats: u64,
    /// Events forwarded from NATS into the proxy.
    pub to_zmq: u64,
    /// Copies of the bridge's own output that came back and were dropped, both sides.
    pub echoes: u64,
    /// Messages that were not Juice events (bad subject, frames or UTF-8), both sides.
    pub malformed: u64,
    /// Events lost at the bridge: its queue towards the proxy full, or NATS refusing them.
    pub dropped: u64,
    /// Filters NATS subscribers announced (the bridge forwards these to NATS).
    pub nats_filters: u64,
    /// ZeroMQ subscriptions the proxy passed up (the bridge forwards these from NATS).
    pub zmq_filters: u64,
    /// Connected to a NATS server now (the client reconnects by itself).
    pub nats_connected: bool,
    /// The proxy has been heard from: it passes its subscriptions up to the bridge.
    pub zmq_connected: bool,
}

#[derive(Default)]
struct Counters {
    to_nats: AtomicU64,
    to_zmq: AtomicU64,
    echoes: AtomicU64,
    malformed: AtomicU64,
    dropped: AtomicU64,
    nats_filters: AtomicU64,
    zmq_filters: AtomicU64,
    zmq_connected: AtomicBool,
}

/// What the NATS side hands to the ZeroMQ thread.
struct Outbox {
    queue: Mutex<VecDeque<(Vec<u8>, Bytes)>>,
}

pub struct Bridge {
    control: Arc<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
    nats_quit: Mutex<Option<mpsc::UnboundedSender<NatsCmd>>>,
    counters: Arc<Counters>,
    nats_log: Arc<HandshakeLog>,
}

enum NatsCmd {
    /// The ZeroMQ side's subscriptions, as the NATS filters to subscribe (cover applied).
    ZmqInterest(Vec<Vec<u8>>),
    Quit(tokio::sync::oneshot::Sender<()>),
}

impl Bridge {
    pub fn start(opts: BridgeOptions) -> Result<Bridge> {
        let subjects =
            Subjects::new(&opts.nats_prefix).map_err(|e| Error::invalid_arg(e.to_string()))?;
        let ctx = socket::context();
        let xpub = socket::open(ctx, zmq::XPUB, "bridge publisher socket")?;
        xpub.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        xpub.set_sndhwm(100_000)
            .map_err(|e| Error::zmq("sndhwm", e))?;
        let sub = socket::open(ctx, zmq::SUB, "bridge subscriber socket")?;
        sub.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        sub.set_sndhwm(0).map_err(|e| Error::zmq("sndhwm", e))?;
        sub.set_rcvhwm(100_000)
            .map_err(|e| Error::zmq("rcvhwm", e))?;
        socket::connect(&xpub, &opts.frontend)?;
        socket::connect(&sub, &opts.backend)?;
        let (control, ctl) = Control::pair("bridge")?;
        let control = Arc::new(control);
        let counters = Arc::new(Counters::default());
        let outbox = Arc::new(Outbox {
            queue: Mutex::new(VecDeque::new()),
        });
        let nats_log = Arc::new(HandshakeLog::default());
        let events = Arc::new(LinkEvents::default());
        let client = connect::connect(&opts.nats, "bridge", nats_log.clone(), events)?;
        let id = interest::new_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let nats = NatsSide {
            client: client.clone(),
            subjects: subjects.clone(),
            origin: format!("{id:016x}"),
            counters: counters.clone(),
            outbox: outbox.clone(),
            control: control.clone(),
        };
        runtime::handle()?.spawn(nats.run(rx));
        let zmq_side = ZmqSide {
            xpub,
            sub,
            ctl,
            client,
            subjects,
            origin: format!("{id:016x}"),
            counters: counters.clone(),
            outbox,
            to_nats: tx.clone(),
            zmq_prefixes: BTreeMap::new(),
            own: BTreeSet::new(),
            nats_tree: TopicTree::new(),
            echo: EchoWindow::default(),
        };
        let thread = std::thread::Builder::new()
            .name("juice-bridge".into())
            .spawn(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| zmq_side.run()));
            })
            .map_err(|e| Error::invalid_arg(format!("cannot start the bridge thread: {e}")))?;
        Ok(Bridge {
            control,
            thread: Mutex::new(Some(thread)),
            nats_quit: Mutex::new(Some(tx)),
            counters,
            nats_log,
        })
    }

    pub fn stats(&self) -> BridgeStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BridgeStats {
            to_nats: get(&c.to_nats),
            to_zmq: get(&c.to_zmq),
            echoes: get(&c.echoes),
            malformed: get(&c.malformed),
            dropped: get(&c.dropped),
            nats_filters: get(&c.nats_filters),
            zmq_filters: get(&c.zmq_filters),
            nats_connected: self.nats_log.connected() > 0,
            zmq_connected: c.zmq_connected.load(Ordering::Relaxed),
        }
    }

    /// The NATS client's last error, if any.
    pub fn nats_error(&self) -> Option<String> {
        self.nats_log.last_error()
    }

    /// Stops both directions and closes every connection. Safe to call more than once.
    pub fn close(&self) {
        self.control.shut(&[CMD_QUIT]);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        let tx = self
            .nats_quit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = tx {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(NatsCmd::Quit(done)).is_ok() {
                let _ = runtime::block_on(Duration::from_secs(5), wait);
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.close();
    }
}

/// Hashes of (topic, payload) sent into the proxy recently, with how many copies are due back.
#[derive(Default)]
struct EchoWindow {
    due: HashMap<u64, u32>,
    order: VecDeque<(Instant, u64)>,
}

impl EchoWindow {
    fn key(frame: &[u8], payload: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        frame.hash(&mut h);
        payload.hash(&mut h);
        h.finish()
    }

    fn sent(&mut self, key: u64, now: Instant) {
        *self.due.entry(key).or_default() += 1;
        self.order.push_back((now, key));
    }

    /// Whether this message is one of ours coming back (and if so, forgets one copy).
    fn returned(&mut self, key: u64) -> bool {
        match self.due.get_mut(&key) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.due.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.order.front() {
            if now.duration_since(at) < ECHO_WINDOW {
                break;
            }
            self.order.pop_front();
            if let Some(n) = self.due.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.due.remove(&key);
                }
            }
        }
    }
}

/// The ZeroMQ end, on its own thread.
struct ZmqSide {
    xpub: zmq::Socket,
    sub: zmq::Socket,
    ctl: zmq::Socket,
    client: Client,
    subjects: Subjects,
    origin: String,
    counters: Arc<Counters>,
    outbox: Arc<Outbox>,
    to_nats: mpsc::UnboundedSender<NatsCmd>,
    /// Subscriptions the proxy passed up (not our own), with reference counts.
    zmq_prefixes: BTreeMap<Vec<u8>, u32>,
    /// The SUB's own prefixes (NATS interest, each frame without its trailing dot).
    own: BTreeSet<Vec<u8>>,
    /// NATS interest as a tree, to drop what the wider SUB prefixes let through.
    nats_tree: TopicTree,
    echo: EchoWindow,
}

impl ZmqSide {
    fn run(mut self) {
        let mut topic = zmq::Message::new();
        let mut payload = zmq::Message::new();
        loop {
            let mut items = [
                self.ctl.as_poll_item(zmq::POLLIN),
                self.xpub.as_poll_item(zmq::POLLIN),
                self.sub.as_poll_item(zmq::POLLIN),
            ];
            // The NATS side wakes this thread only when its queue goes from empty to not, so
            // leftovers of a long queue are taken on the next turn without waiting.
            let timeout = if self.outbox_empty() { 1000 } else { 0 };
            match zmq::poll(&mut items, timeout) {
                Ok(_) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(_) => return,
            }
            let (ctl, notices, data) = (
                items[0].is_readable(),
                items[1].is_readable(),
                items[2].is_readable(),
            );
            self.echo.expire(Instant::now());
            if ctl && !self.commands() {
                return;
            }
            if notices {
                self.read_notices();
            }
            if data {
                self.forward_to_nats(&mut topic, &mut payload);
            }
            self.forward_to_zmq();
        }
    }

    /// Returns false on quit.
    fn commands(&mut self) -> bool {
        while let Ok(cmd) = self.ctl.recv_bytes(zmq::DONTWAIT) {
            match cmd.split_first() {
                Some((&CMD_WAKE, _)) => self.forward_to_zmq(),
                Some((&CMD_FILTERS, list)) => self.set_nats_interest(list),
                _ => return false,
            }
        }
        true
    }

    /// Subscribes the SUB to what NATS subscribers want: `list` holds frames, each after its
    /// length (u32, little-endian); an empty frame means everything.
    fn set_nats_interest(&mut self, mut list: &[u8]) {
        let mut frames: Vec<Vec<u8>> = Vec::new();
        while list.len() >= 4 {
            let n = u32::from_le_bytes([list[0], list[1], list[2], list[3]]) as usize;
            let Some(frame) = list.get(4..4 + n) else {
                break;
            };
            frames.push(frame.to_vec());
            list = &list[4 + n..];
        }
        let mut tree = TopicTree::new();
        let mut wanted = BTreeSet::new();
        for f in &frames {
            if f.is_empty() {
                tree.add_all();
                wanted.insert(Vec::new());
            } else {
                tree.add(f);
                wanted.insert(f[..f.len() - 1].to_vec());
            }
        }
        for gone in self.own.difference(&wanted) {
            let _ = self.sub.set_unsubscribe(gone);
        }
        for new in wanted.difference(&self.own) {
            let _ = self.sub.set_subscribe(new);
        }
        self.own = wanted;
        self.nats_tree = tree;
        self.counters
            .nats_filters
            .store(frames.len() as u64, Ordering::Relaxed);
    }

    /// Reads the subscriptions the proxy passes up and tells the NATS side what to subscribe.
    fn read_notices(&mut self) {
        let mut changed = false;
        while let Ok(msg) = self.xpub.recv_bytes(zmq::DONTWAIT) {
            let Some((&op, prefix)) = msg.split_first() else {
                continue;
            };
            self.counters.zmq_connected.store(true, Ordering::Relaxed);
            // The proxy's beacon, and our own SUB's prefixes passed back up, are nobody's interest.
            if prefix == BEACON || (self.own.contains(prefix) && !prefix.is_empty()) {
                continue;
            }
            match op {
                1 => *self.zmq_prefixes.entry(prefix.to_vec()).or_default() += 1,
                0 => {
                    if let Some(n) = self.zmq_prefixes.get_mut(prefix) {
                        *n -= 1;
                        if *n == 0 {
                            self.zmq_prefixes.remove(prefix);
                        }
                    }
                }
                _ => continue,
            }
            changed = true;
        }
        if !changed {
            return;
        }
        // A prefix that is not a whole Juice frame cannot be a NATS filter: take everything
        // under the prefix and let the proxy do the byte matching.
        let frames: Vec<Vec<u8>> = if self
            .zmq_prefixes
            .keys()
            .any(|p| p.is_empty() || wire::segments(p).is_none())
        {
            vec![Vec::new()]
        } else {
            cover(self.zmq_prefixes.keys())
        };
        self.counters
            .zmq_filters
            .store(self.zmq_prefixes.len() as u64, Ordering::Relaxed);
        let _ = self.to_nats.send(NatsCmd::ZmqInterest(frames));
    }

    fn forward_to_nats(&mut self, topic: &mut zmq::Message, payload: &mut zmq::Message) {
        let mut out: Vec<(String, Bytes)> = Vec::new();
        let mut subject = String::new();
        for _ in 0..BATCH {
            if socket::recv_frame(&self.sub, topic, zmq::DONTWAIT).is_err() {
                break;
            }
            if !topic.get_more() {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if socket::recv_frame(&self.sub, payload, 0).is_err() {
                break;
            }
            if payload.get_more() {
                while payload.get_more() {
                    if socket::recv_frame(&self.sub, payload, 0).is_err() {
                        break;
                    }
                }
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if wire::check_message(topic, payload, usize::MAX).is_err() {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if self.nats_tree.matches(topic).is_none() {
                continue; // let through by a wider SUB prefix; nobody on NATS wants it
            }
            // Hashing costs more than the rest of the hop: only while echoes are due.
            if !self.echo.is_empty() && self.echo.returned(EchoWindow::key(topic, payload)) {
                self.counters.echoes.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if self.subjects.subject_of_frame(topic, &mut subject).is_err() {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            out.push((subject.clone(), Bytes::copy_from_slice(payload)));
        }
        if out.is_empty() {
            return;
        }
        let n = out.len() as u64;
        let client = self.client.clone();
        let origin = self.origin.clone();
        // Waiting here holds back the proxy's backend, where libzmq buffers and counts; a NATS
        // outage longer than the limit loses the batch, counted.
        let sent = runtime::block_on(Duration::from_secs(10), async move {
            let mut ok = 0u64;
            let mut origin_header = HeaderMap::new();
            origin_header.insert(ORIGIN_HEADER, origin.as_str());
            for (subject, body) in out {
                let headers = origin_header.clone();
                if client
                    .publish_with_headers(subject, headers, body)
                    .await
                    .is_ok()
                {
                    ok += 1;
                }
            }
            ok
        });
        let ok = sent.ok().flatten().unwrap_or(0);
        self.counters.to_nats.fetch_add(ok, Ordering::Relaxed);
        self.counters.dropped.fetch_add(n - ok, Ordering::Relaxed);
    }

    fn forward_to_zmq(&mut self) {
        let batch: Vec<(Vec<u8>, Bytes)> = {
            let mut q = self.outbox.queue.lock().unwrap_or_else(|e| e.into_inner());
            let n = q.len().min(BATCH);
            q.drain(..n).collect()
        };
        let now = Instant::now();
        for (frame, body) in &batch {
            let key = EchoWindow::key(frame, body);
            match self
                .xpub
                .send(&frame[..], zmq::SNDMORE | zmq::DONTWAIT)
                .and_then(|()| self.xpub.send(&body[..], 0))
            {
                Ok(()) => {
                    // Only events someone on the proxy subscribed to come back to our SUB, and
                    // only if NATS wants them too: remember just those.
                    if self.nats_tree.matches(frame).is_some() {
                        self.echo.sent(key, now);
                    }
                    self.counters.to_zmq.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn outbox_empty(&self) -> bool {
        self.outbox
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

/// The NATS end, on the shared runtime.
struct NatsSide {
    client: Client,
    subjects: Subjects,
    origin: String,
    counters: Arc<Counters>,
    outbox: Arc<Outbox>,
    control: Arc<Control>,
}

impl NatsSide {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<NatsCmd>) {
        let this = Arc::new(self);
        let mut leases = Leases::default();
        let mut announcements = this
            .client
            .subscribe(interest::announce_subject(&this.subjects))
            .await
            .ok();
        // Ask every subscriber to announce now rather than at its next round.
        let _ = this
            .client
            .publish(interest::query_subject(&this.subjects), Bytes::new())
            .await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut readers = Readers::default();
        let mut quit = None;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(NatsCmd::ZmqInterest(frames)) => this.follow(&frames, &mut readers).await,
                    Some(NatsCmd::Quit(done)) => { quit = Some(done); break; }
                    None => break,
                },
                Some(msg) = next(&mut announcements) => {
                    // Announcements no subscriber of ours would make, or beyond the bounds, are
                    // counted and ignored.
                    match interest::decode(&this.subjects, &msg.payload)
                        .map(|(id, filters)| leases.renew(id, filters, Instant::now()))
                    {
                        Some(Ok(true)) => this.tell_zmq(&leases),
                        Some(Ok(false)) => {}
                        Some(Err(_)) | None => {
                            this.counters.malformed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ = tick.tick() => {
                    if leases.expire(Instant::now()) {
                        this.tell_zmq(&leases);
                    }
                }
            }
        }
        readers.clear();
        let _ = tokio::time::timeout(Duration::from_secs(1), this.client.flush()).await;
        if let Some(done) = quit {
            let _ = done.send(());
        }
    }

    /// Sends the NATS interest (cover of every lease) to the ZeroMQ thread.
    fn tell_zmq(&self, leases: &Leases) {
        let union = leases.union();
        let frames = cover(union.iter());
        let mut cmd = vec![CMD_FILTERS];
        for f in &frames {
            cmd.extend_from_slice(&(f.len() as u32).to_le_bytes());
            cmd.extend_from_slice(f);
        }
        let _ = self.control.send("bridge", &cmd);
    }

    /// Reads from NATS what the proxy's subscribers want (the ZeroMQ interest, as a cover).
    async fn follow(self: &Arc<Self>, frames: &[Vec<u8>], readers: &mut Readers) {
        readers
            .follow(&self.client, &self.subjects, frames, |mut merged| {
                let this = self.clone();
                tokio::spawn(async move {
                    while let Some(msg) = merged.next().await {
                        this.take(msg);
                    }
                })
            })
            .await;
    }

    fn take(&self, msg: async_nats::Message) {
        let c = &self.counters;
        let ours = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(ORIGIN_HEADER))
            .is_some_and(|v| v.as_str() == self.origin);
        if ours {
            c.echoes.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut frame = Vec::new();
        if self
            .subjects
            .frame_of_subject(&msg.subject, &mut frame)
            .is_err()
            || std::str::from_utf8(&msg.payload).is_err()
        {
            c.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = {
            let mut q = self.outbox.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() >= MAX_OUTBOX {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.push_back((frame, msg.payload));
            q.len() == 1
        };
        if was_empty {
            let _ = self.control.send("bridge", &[CMD_WAKE]);
        }
    }
}

async fn next(s: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}
