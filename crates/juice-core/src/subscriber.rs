//! Subscriber: a SUB socket owned by a native receive thread.
//!
//! Per-event path (all on the receive thread):
//!   `zmq recv` (topic, payload) -> [`wire::check_message`] -> [`TopicTree::matches`]
//!   -> [`Pending::push`] -> once per drained burst, [`Inbox::append`].
//! The consumer takes whole batches from the [`Inbox`]. Only events matching a subscription
//! exactly are ever copied into the inbox; everything else is counted and skipped here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::curve::ClientKeys;
use crate::error::{Error, Result};
use crate::handshake::{HandshakeLog, HandshakeMonitor};
use crate::inbox::{Inbox, Pending};
use crate::nats::durable::{DurableLink, DurableOptions};
use crate::nats::receiver::{Receiver, Sink};
use crate::socket::{self, Control};
use crate::topic_tree::TopicTree;
use crate::wire::{self, Malformed};

/// Most messages read in one go before handing them to the inbox, so that a flood cannot keep
/// control commands (subscribe, close) waiting.
const DRAIN_LIMIT: usize = 4096;

const CMD_SUBSCRIBE: u8 = b'+';
const CMD_UNSUBSCRIBE: u8 = b'-';
const CMD_QUIT: u8 = b'q';

#[derive(Debug, Clone)]
pub struct SubscriberOptions {
    /// Most events waiting in the inbox for the consumer; beyond it events are dropped and counted.
    pub max_queue: usize,
    /// Most bytes waiting in the inbox.
    pub max_queue_bytes: usize,
    /// Payloads larger than this are skipped and counted as oversized.
    pub max_payload: usize,
    /// `ZMQ_RCVHWM`: messages libzmq buffers per connection before the sender side drops.
    pub rcv_hwm: i32,
    /// `ZMQ_MAXMSGSIZE`: a hard limit above which libzmq drops the connection (-1 = none).
    pub max_message_size: i64,
    /// Stop reading when the inbox is full instead of dropping: the backlog then builds up in
    /// libzmq and, with a lossless proxy and publisher, holds the publisher back.
    pub lossless: bool,
    /// CURVE keys, for a proxy that requires them.
    pub curve: Option<ClientKeys>,
    /// Over NATS: the subject prefix ([`crate::nats::subject::DEFAULT_PREFIX`] by default).
    pub nats_prefix: String,
    /// Over NATS: read a JetStream stream through this durable consumer instead of live events.
    pub durable: Option<DurableOptions>,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        SubscriberOptions {
            max_queue: 100_000,
            max_queue_bytes: 256 << 20,
            max_payload: 64 << 20,
            rcv_hwm: 100_000,
            max_message_size: 128 << 20,
            lossless: false,
            curve: None,
            nats_prefix: crate::nats::subject::DEFAULT_PREFIX.to_string(),
            durable: None,
        }
    }
}

/// Counters the receive thread (or the NATS receive tasks) write.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    frame_count: AtomicU64,
    bad_utf8: AtomicU64,
    bad_topic: AtomicU64,
    oversized: AtomicU64,
    pub(crate) unmatched: AtomicU64,
}

impl Counters {
    pub(crate) fn malformed(&self, kind: Malformed) {
        let c = match kind {
            Malformed::FrameCount => &self.frame_count,
            Malformed::BadUtf8 => &self.bad_utf8,
            Malformed::BadTopic => &self.bad_topic,
            Malformed::Oversized => &self.oversized,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of a subscriber's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberStats {
    /// Messages read from the socket, well formed or not.
    pub received: u64,
    /// Events taken by the consumer.
    pub delivered: u64,
    /// Events waiting in the inbox.
    pub queued: u64,
    /// Matching events dropped because the inbox was full; over NATS, also messages the client
    /// dropped because this subscriber fell behind (NATS's "slow consumer", a lower bound).
    pub dropped: u64,
    /// Messages without exactly two frames.
    pub malformed_frames: u64,
    /// Topic or payload not valid UTF-8.
    pub malformed_utf8: u64,
    /// Topic frame not of the form `Type.[topic.]`.
    pub malformed_topic: u64,
    /// Payloads above `max_payload`.
    pub oversized: u64,
    /// Well-formed messages no subscription matched (an unknown type, or in flight across an
    /// unsubscribe).
    pub unmatched: u64,
    /// Live subscriptions.
    pub subscriptions: u64,
    /// Handshakes with the proxy that failed (refused CURVE key, security mismatch).
    pub handshake_failures: u64,
    /// Connected to the proxy (a handshake completed and the connection has not dropped).
    pub connected: bool,
}

/// Takes matched events on the receive thread itself, in place of the inbox: the native
/// ingestion sink converts each message where it is read, with no copy and no thread hand-off.
pub(crate) trait Consumer: Send {
    /// How many more events it can take now; 0 stops reading (backpressure).
    fn room(&self) -> usize;
    /// Takes one matched event (its payload checked as UTF-8).
    fn take(&mut self, type_id: u32, payload: &str);
    /// Hands over what is due; returns how long until it is next due (None: nothing pending).
    fn tick(&mut self) -> Option<Duration>;
    /// The thread is stopping: hand over everything held.
    fn finish(&mut self);
}

pub struct Subscriber {
    inbox: Arc<Inbox>,
    counters: Arc<Counters>,
    handshakes: Arc<HandshakeLog>,
    /// Shared with the receive thread; written only by `subscribe`/`unsubscribe`, which update it
    /// before the ZMQ filter changes, so no event can pass the filter without a tree entry.
    tree: Arc<RwLock<TopicTree>>,
    link: Link,
}

/// How filters reach the transport, and how it stops.
enum Link {
    /// Commands to the ZeroMQ receive thread, which owns the SUB socket.
    Zmq {
        control: Control,
        thread: Mutex<Option<JoinHandle<()>>>,
    },
    Nats(Receiver),
    /// A JetStream durable consumer: subscriptions filter locally, the stream decides the rest.
    Durable(DurableLink),
}

impl Link {
    fn filter(&self, add: bool, prefix: &[u8]) -> Result<()> {
        match self {
            Link::Zmq { control, .. } => {
                let mut cmd = Vec::with_capacity(prefix.len() + 1);
                cmd.push(if add { CMD_SUBSCRIBE } else { CMD_UNSUBSCRIBE });
                cmd.extend_from_slice(prefix);
                control.send("subscriber", &cmd)
            }
            Link::Nats(r) => r.filter(add, prefix),
            Link::Durable(_) => Ok(()),
        }
    }

    fn close(&self) {
        match self {
            Link::Zmq { control, thread } => {
                control.shut(&[CMD_QUIT]);
                let handle = thread.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(h) = handle {
                    let _ = h.join();
                }
            }
            Link::Nats(r) => r.close(),
            Link::Durable(d) => d.close(),
        }
    }
}

impl Subscriber {
    pub fn connect(uri: &str, opts: SubscriberOptions) -> Result<Self> {
        Self::connect_with(uri, opts, None)
    }

    /// As `connect`, with matched events going to `consumer` on the receive thread instead of
    /// the inbox.
    pub(crate) fn connect_with(
        uri: &str,
        opts: SubscriberOptions,
        consumer: Option<Box<dyn Consumer>>,
    ) -> Result<Self> {
        if crate::nats::is_nats_uri(uri) {
            if consumer.is_some() {
                return Err(Error::invalid_arg(
                    "native ingestion over NATS is not supported yet; run the sink on a ZeroMQ proxy (juice bridge carries NATS events there)",
                ));
            }
            return Self::connect_nats(uri, opts);
        }
        if opts.durable.is_some() {
            return Err(Error::invalid_arg(
                "a durable subscriber needs a nats:// URI; a ZeroMQ proxy keeps no stream",
            ));
        }
        let ctx = socket::context();
        let sub = socket::open(ctx, zmq::SUB, "subscriber socket")?;
        sub.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        sub.set_rcvhwm(opts.rcv_hwm)
            .map_err(|e| Error::zmq("rcvhwm", e))?;
        // A SUB socket sends only subscriptions upstream, and libzmq silently drops those beyond
        // SNDHWM (default 1000) when it replays them on (re)connect: never limit them.
        sub.set_sndhwm(0).map_err(|e| Error::zmq("sndhwm", e))?;
        sub.set_maxmsgsize(opts.max_message_size)
            .map_err(|e| Error::zmq("maxmsgsize", e))?;
        if let Some(keys) = &opts.curve {
            keys.apply(&sub)?;
        }
        let monitor = HandshakeMonitor::attach(ctx, &sub, "sub")?;
        let handshakes = Arc::new(HandshakeLog::default());
        socket::connect(&sub, uri)?;
        let (control, ctl) = Control::pair("sub")?;
        let inbox = Arc::new(Inbox::new(
            opts.max_queue,
            opts.max_queue_bytes,
            opts.lossless,
        ));
        let counters = Arc::new(Counters::default());
        let tree = Arc::new(RwLock::new(TopicTree::new()));
        let worker = Worker {
            sub,
            ctl,
            monitor,
            handshakes: handshakes.clone(),
            inbox: inbox.clone(),
            counters: counters.clone(),
            tree: tree.clone(),
            max_payload: opts.max_payload,
            lossless: opts.lossless,
            consumer,
        };
        let thread = std::thread::Builder::new()
            .name("juice-sub".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::invalid_arg(format!("cannot start receive thread: {e}")))?;
        Ok(Subscriber {
            inbox,
            counters,
            handshakes,
            tree,
            link: Link::Zmq {
                control,
                thread: Mutex::new(Some(thread)),
            },
        })
    }

    fn connect_nats(uri: &str, opts: SubscriberOptions) -> Result<Self> {
        // A durable subscriber never drops: what it has not taken stays in the stream.
        let lossless = opts.lossless || opts.durable.is_some();
        let inbox = Arc::new(Inbox::new(opts.max_queue, opts.max_queue_bytes, lossless));
        let counters = Arc::new(Counters::default());
        let tree = Arc::new(RwLock::new(TopicTree::new()));
        let handshakes = Arc::new(HandshakeLog::default());
        let sink = Sink {
            inbox: inbox.clone(),
            counters: counters.clone(),
            tree: tree.clone(),
            max_payload: opts.max_payload,
            lossless,
        };
        let link = match opts.durable {
            Some(d) => Link::Durable(DurableLink::start(
                uri,
                &opts.nats_prefix,
                d,
                handshakes.clone(),
                sink,
            )?),
            None => Link::Nats(Receiver::start(
                uri,
                &opts.nats_prefix,
                handshakes.clone(),
                sink,
            )?),
        };
        Ok(Subscriber {
            inbox,
            counters,
            handshakes,
            tree,
            link,
        })
    }

    /// The id `type_name` has (or will have) in inbox records, without subscribing to it.
    pub(crate) fn type_id(&self, type_name: &str) -> Result<u32> {
        wire::validate_type_name(type_name)?;
        Ok(self
            .tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .type_id(type_name))
    }

    /// Subscribes to one event type, optionally narrowed to a topic prefix. Returns the type's id
    /// as it appears in inbox records.
    pub fn subscribe(&self, type_name: &str, topic: Option<&str>) -> Result<u32> {
        wire::validate_type_name(type_name)?;
        if let Some(t) = topic {
            wire::validate_topic(t.as_bytes())?;
        }
        let prefix = wire::topic_frame(type_name, topic);
        let id = {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let id = tree.type_id(type_name);
            tree.add(&prefix);
            id
        };
        if let Err(e) = self.link.filter(true, &prefix) {
            self.tree
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&prefix);
            return Err(e);
        }
        Ok(id)
    }

    /// Subscribes to every message on the bus, whatever its type. Types never subscribed by name
    /// arrive with type id [`crate::topic_tree::UNKNOWN_TYPE`].
    pub fn subscribe_all(&self) -> Result<()> {
        self.tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_all();
        self.link.filter(true, &[])
    }

    /// Removes one `subscribe_all`. Returns false when there was none.
    pub fn unsubscribe_all(&self) -> Result<bool> {
        if !self
            .tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove_all()
        {
            return Ok(false);
        }
        self.link.filter(false, &[])?;
        Ok(true)
    }

    /// Removes one matching `subscribe`. Returns false when there was none.
    pub fn unsubscribe(&self, type_name: &str, topic: Option<&str>) -> Result<bool> {
        wire::validate_type_name(type_name)?;
        if let Some(t) = topic {
            wire::validate_topic(t.as_bytes())?;
        }
        let prefix = wire::topic_frame(type_name, topic);
        if !self
            .tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&prefix)
        {
            return Ok(false);
        }
        self.link.filter(false, &prefix)?;
        Ok(true)
    }

    pub fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    pub fn stats(&self) -> SubscriberStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SubscriberStats {
            received: get(&c.received),
            delivered: get(&self.inbox.delivered),
            queued: self.inbox.len() as u64,
            dropped: get(&self.inbox.dropped) + self.slow_consumer(),
            malformed_frames: get(&c.frame_count),
            malformed_utf8: get(&c.bad_utf8),
            malformed_topic: get(&c.bad_topic),
            oversized: get(&c.oversized),
            unmatched: get(&c.unmatched),
            subscriptions: self.tree.read().unwrap_or_else(|e| e.into_inner()).len() as u64,
            handshake_failures: self.handshakes.failures(),
            connected: self.handshakes.connected() > 0,
        }
    }

    /// Why the last handshake with the proxy failed, if one did.
    pub fn handshake_error(&self) -> Option<String> {
        self.handshakes.last_error()
    }

    /// Stops the receive thread and waits for it. Events already in the inbox can still be taken;
    /// after that, takes fail with "closed". Safe to call more than once.
    pub fn close(&self) {
        self.link.close();
        self.inbox.close();
    }

    fn slow_consumer(&self) -> u64 {
        match &self.link {
            Link::Nats(r) => r.slow_consumer(),
            Link::Zmq { .. } | Link::Durable(_) => 0,
        }
    }

    /// A durable subscriber with manual acknowledgement: the first `n` events taken (counted
    /// from the start of this subscriber) are done with, and the stream may forget them.
    pub fn acknowledge(&self, n: u64) -> Result<()> {
        match &self.link {
            Link::Durable(d) => d.acknowledge(n),
            _ => Err(Error::invalid_arg(
                "acknowledge() is for durable NATS subscribers (options stream and durable)",
            )),
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.close();
    }
}

/// Everything the receive thread owns.
struct Worker {
    sub: zmq::Socket,
    ctl: zmq::Socket,
    monitor: HandshakeMonitor,
    handshakes: Arc<HandshakeLog>,
    inbox: Arc<Inbox>,
    counters: Arc<Counters>,
    tree: Arc<RwLock<TopicTree>>,
    max_payload: usize,
    lossless: bool,
    consumer: Option<Box<dyn Consumer>>,
}

/// Most messages a closing consumer takes from what libzmq had already received.
const FINAL_DRAIN_LIMIT: usize = 100_000;

/// How often a lossless receive thread with a full inbox looks for room again.
const FULL_RECHECK_MS: i64 = 5;

impl Drop for Worker {
    fn drop(&mut self) {
        self.monitor.detach(&mut self.sub);
    }
}

impl Worker {
    fn run(self) {
        // A panic must never unwind into libzmq or the host process; a stopped thread closes the
        // inbox so the consumer sees "closed" instead of waiting forever.
        let inbox = self.inbox.clone();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.serve()));
        inbox.close();
    }

    fn serve(mut self) {
        let mut topic = zmq::Message::new();
        let mut payload = zmq::Message::new();
        let mut pending = Pending::default();
        loop {
            let room = match &self.consumer {
                Some(c) => c.room().min(DRAIN_LIMIT),
                None if self.lossless => self.inbox.room().min(DRAIN_LIMIT),
                None => DRAIN_LIMIT,
            };
            // A consumer with a partial batch wants a turn when it falls due, traffic or not.
            let due = self
                .consumer
                .as_mut()
                .and_then(|c| c.tick())
                .map(|d| d.as_millis().clamp(1, i64::MAX as u128) as i64);
            // A lossless thread with a full inbox leaves the socket unread (so libzmq's buffers and
            // then TCP push back) and only looks at commands until the consumer makes room.
            let (mut items, timeout) = if room == 0 {
                (
                    [
                        self.ctl.as_poll_item(zmq::POLLIN),
                        self.sub.as_poll_item(zmq::PollEvents::empty()),
                        self.monitor.poll_item(),
                    ],
                    FULL_RECHECK_MS,
                )
            } else {
                (
                    [
                        self.ctl.as_poll_item(zmq::POLLIN),
                        self.sub.as_poll_item(zmq::POLLIN),
                        self.monitor.poll_item(),
                    ],
                    -1,
                )
            };
            let timeout = match due {
                Some(d) if timeout < 0 || d < timeout => d,
                _ => timeout,
            };
            match zmq::poll(&mut items, timeout) {
                Ok(_) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(_) => return self.finish(&mut topic, &mut payload, &mut pending),
            }
            let (ctl_ready, sub_ready) = (items[0].is_readable(), items[1].is_readable());
            if items[2].is_readable() {
                self.monitor.drain(&self.handshakes);
            }
            if ctl_ready && !self.handle_commands() {
                return self.finish(&mut topic, &mut payload, &mut pending);
            }
            if sub_ready && room > 0 {
                self.drain(&mut topic, &mut payload, &mut pending, room);
            }
        }
    }

    /// On the way out, a consumer gets what libzmq has already received (a lossless pipeline
    /// would otherwise lose it at close), and then hands over everything it holds.
    fn finish(
        &mut self,
        topic: &mut zmq::Message,
        payload: &mut zmq::Message,
        pending: &mut Pending,
    ) {
        if self.consumer.is_none() {
            return;
        }
        // Bounded: publishers released by the closing sink may keep sending.
        self.drain(topic, payload, pending, FINAL_DRAIN_LIMIT);
        if let Some(c) = self.consumer.as_mut() {
            c.finish();
        }
    }

    /// Applies queued commands. Returns false on quit.
    fn handle_commands(&self) -> bool {
        while let Ok(cmd) = self.ctl.recv_bytes(zmq::DONTWAIT) {
            let Some((&op, prefix)) = cmd.split_first() else {
                continue;
            };
            let res = match op {
                CMD_SUBSCRIBE => self.sub.set_subscribe(prefix),
                CMD_UNSUBSCRIBE => self.sub.set_unsubscribe(prefix),
                _ => return false,
            };
            debug_assert!(res.is_ok());
        }
        true
    }

    /// Reads up to `limit` messages.
    fn drain(
        &mut self,
        topic: &mut zmq::Message,
        payload: &mut zmq::Message,
        pending: &mut Pending,
        limit: usize,
    ) {
        let tree = self.tree.read().unwrap_or_else(|e| e.into_inner());
        for _ in 0..limit {
            if socket::recv_frame(&self.sub, topic, zmq::DONTWAIT).is_err() {
                break;
            }
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            if !topic.get_more() {
                self.counters.malformed(Malformed::FrameCount);
                continue;
            }
            // The rest of a multipart message is delivered atomically, so this cannot block.
            if socket::recv_frame(&self.sub, payload, 0).is_err() {
                break;
            }
            if payload.get_more() {
                self.skip_rest(payload);
                self.counters.malformed(Malformed::FrameCount);
                continue;
            }
            let text = match wire::check_message(topic, payload, self.max_payload) {
                Ok(text) => text,
                Err(kind) => {
                    self.counters.malformed(kind);
                    continue;
                }
            };
            match tree.matches(topic) {
                Some(m) => match self.consumer.as_mut() {
                    Some(c) => c.take(m.type_id, text),
                    None => pending.push(m.type_id, topic, payload),
                },
                None => {
                    self.counters.unmatched.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        drop(tree);
        self.inbox.append(pending);
    }

    fn skip_rest(&self, msg: &mut zmq::Message) {
        while msg.get_more() {
            if socket::recv_frame(&self.sub, msg, 0).is_err() {
                return;
            }
        }
    }
}
