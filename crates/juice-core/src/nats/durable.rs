//! Reading a JetStream stream through a durable consumer, for a [`crate::Subscriber`]: events
//! come from where this consumer left off (in a previous process too), and each is acknowledged
//! only once the application has taken it (`get()` returned it) or, with manual
//! acknowledgement, once it says so (`acknowledge(n)`: the first n events taken are done).
//!
//! Events reach the inbox in stream order, and the inbox is lossless, so the n-th event taken is
//! the n-th matched message; those are kept here until acknowledged. Messages no subscription
//! matches, and malformed ones, are counted and acknowledged at once. A message left without an
//! acknowledgement for the consumer's `ack_wait` (a crash, a slow reader) is delivered again:
//! delivery is at least once.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::subject::Subjects;
use crate::handshake::HandshakeLog;
use crate::inbox::Pending;
use crate::nats::receiver::{take_message, Sink};

/// Messages asked for per pull request.
const BATCH: usize = 1000;

#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// The stream to read.
    pub stream: String,
    /// The durable consumer's name: the same name resumes where it left off.
    pub name: String,
    /// Acknowledge only on `acknowledge(n)`, not when `get()` returns an event.
    pub manual_ack: bool,
    /// How long the server waits for an acknowledgement before delivering again.
    pub ack_wait: Duration,
}

pub(crate) enum DurableCmd {
    /// The first n events taken are done with.
    Acknowledge(u64),
    Quit(oneshot::Sender<()>),
}

pub(crate) async fn consume(
    client: async_nats::Client,
    subjects: Subjects,
    sink: Sink,
    opts: DurableOptions,
    log: std::sync::Arc<HandshakeLog>,
    mut rx: mpsc::UnboundedReceiver<DurableCmd>,
) {
    let js = jetstream::new(client);
    let config = consumer::pull::Config {
        durable_name: Some(opts.name.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: opts.ack_wait,
        max_ack_pending: (sink.inbox.capacity() as i64).max(BATCH as i64 * 4),
        ..Default::default()
    };
    let mut acks = Acks {
        held: VecDeque::new(),
        acked: 0,
        manual: opts.manual_ack,
        sink: &sink,
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut opener = Opener {
        js: &js,
        config: &config,
        opts: &opts,
        log: &log,
        opened: None,
    };
    let Some(mut messages) = opener.open(&mut rx, &mut acks, &mut tick).await else {
        return;
    };
    let mut pending = Pending::default();
    let mut frame = Vec::new();
    let mut quit = None;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(DurableCmd::Acknowledge(n)) => acks.up_to(n).await,
                Some(DurableCmd::Quit(done)) => { quit = Some(done); break; }
                None => break,
            },
            _ = tick.tick() => acks.taken().await,
            first = messages.next(), if sink.inbox.room() > 0 => {
                let Some(first) = first else {
                    // The client ended this pull (a lost or deleted consumer, a refused
                    // request): open it again where the durable consumer is; what is held is
                    // acknowledged as before.
                    match opener.open(&mut rx, &mut acks, &mut tick).await {
                        Some(m) => { messages = m; continue; }
                        None => break,
                    }
                };
                let limit = sink.inbox.room().clamp(1, BATCH);
                let mut batch = vec![first];
                while batch.len() < limit {
                    match messages.next().now_or_never() {
                        Some(Some(m)) => batch.push(m),
                        _ => break,
                    }
                }
                let mut settled = Vec::new();
                {
                    // No await while the tree is read.
                    let tree = sink.tree.read().unwrap_or_else(|e| e.into_inner());
                    for m in batch {
                        // Missed heartbeats, a leader change: the client carries on by itself.
                        let m = match m {
                            Ok(m) => m,
                            Err(e) => {
                                log.record_failure(format!("durable consumer {}: {e}", opts.name));
                                continue;
                            }
                        };
                        if take_message(&m.message, &subjects, &sink, &tree, &mut frame, &mut pending) {
                            acks.held.push_back(m);
                        } else {
                            settled.push(m);
                        }
                    }
                }
                sink.inbox.append(&mut pending);
                for m in settled {
                    let _ = m.ack().await;
                }
            }
        }
    }
    if let Some(done) = quit {
        let _ = done.send(());
    }
}

/// The messages taken and not yet acknowledged, in the order the application takes them.
struct Acks<'a> {
    held: VecDeque<jetstream::Message>,
    /// Events taken so far that have been acknowledged (the front of `held` is the next one).
    acked: u64,
    manual: bool,
    sink: &'a Sink,
}

impl Acks<'_> {
    /// Acknowledges held messages until `n` events in all are acknowledged.
    async fn up_to(&mut self, n: u64) {
        while self.acked < n {
            let Some(m) = self.held.pop_front() else {
                break;
            };
            let _ = m.ack().await;
            self.acked += 1;
        }
    }

    /// Without manual acknowledgement, an event is done once `get()` returned it.
    async fn taken(&mut self) {
        if !self.manual {
            let taken = self.sink.inbox.delivered.load(Ordering::Relaxed);
            self.up_to(taken).await;
        }
    }
}

/// Why an open failed: worth another try, or not.
enum OpenError {
    Retry(String),
    Final(String),
}

/// Opens the consumer's message stream, the first time and again whenever the client ends it.
struct Opener<'a> {
    js: &'a jetstream::Context,
    config: &'a consumer::pull::Config,
    opts: &'a DurableOptions,
    log: &'a HandshakeLog,
    /// When the last stream was opened: one that ends at once is not reopened at once.
    opened: Option<tokio::time::Instant>,
}

/// How long one pull request waits, and how often the server says it is alive meanwhile.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
const PULL_HEARTBEAT: Duration = Duration::from_secs(1);

/// Least time between two opens of the message stream.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

impl Opener<'_> {
    /// The stream may not exist yet, or the cluster may still be electing: keeps trying every
    /// second, and says why in handshakeError() meanwhile. Acknowledgements go on while it waits.
    /// None on quit, or when the durable consumer was deleted since it was first opened (it is
    /// not created again: that would deliver the whole stream again).
    async fn open(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<DurableCmd>,
        acks: &mut Acks<'_>,
        tick: &mut tokio::time::Interval,
    ) -> Option<consumer::pull::Stream> {
        let first = self.opened.is_none();
        let mut not_before = self.opened.map(|t| t + REOPEN_EVERY);
        loop {
            if let Some(t) = not_before {
                let wait = tokio::time::sleep_until(t);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        cmd = rx.recv() => if !serve(cmd, acks).await { return None },
                        _ = tick.tick() => acks.taken().await,
                    }
                }
            }
            let result = {
                let attempt = self.attempt(first);
                tokio::pin!(attempt);
                loop {
                    tokio::select! {
                        r = &mut attempt => break r,
                        cmd = rx.recv() => if !serve(cmd, acks).await { return None },
                        _ = tick.tick() => acks.taken().await,
                    }
                }
            };
            let (o, s) = (&self.opts.name, &self.opts.stream);
            match result {
                Ok(m) => {
                    self.opened = Some(tokio::time::Instant::now());
                    return Some(m);
                }
                Err(OpenError::Final(why)) => {
                    self.log
                        .record_failure(format!("durable consumer {o} on stream {s}: {why}"));
                    return None;
                }
                Err(OpenError::Retry(why)) => {
                    self.log
                        .record_failure(format!("durable consumer {o} on stream {s}: {why}"));
                    not_before = Some(tokio::time::Instant::now() + REOPEN_EVERY);
                }
            }
        }
    }

    async fn attempt(&self, first: bool) -> Result<consumer::pull::Stream, OpenError> {
        let retry = |e: &dyn std::fmt::Display| OpenError::Retry(e.to_string());
        let stream = self
            .js
            .get_stream(&self.opts.stream)
            .await
            .map_err(|e| retry(&e))?;
        if !first {
            use jetstream::context::ConsumerInfoErrorKind as K;
            if let Err(e) = stream.consumer_info(&self.opts.name).await {
                return Err(if e.kind() == K::NotFound {
                    OpenError::Final(
                        "the consumer was deleted; this subscriber stops reading (a new one \
                         with this name would read the stream from its start)"
                            .into(),
                    )
                } else {
                    retry(&e)
                });
            }
        }
        let consumer = stream
            .get_or_create_consumer(&self.opts.name, self.config.clone())
            .await
            .map_err(|e| retry(&e))?;
        // Short pull requests with heartbeats: a pull held by a node that died is noticed and
        // replaced within seconds (the client's defaults, 30 s requests and 15 s heartbeats,
        // left a durable reader idle for up to half a minute after a failover).
        consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .expires(PULL_EXPIRES)
            .heartbeat(PULL_HEARTBEAT)
            .messages()
            .await
            .map_err(|e| retry(&e))
    }
}

/// One command while the stream is being opened; false on quit.
async fn serve(cmd: Option<DurableCmd>, acks: &mut Acks<'_>) -> bool {
    match cmd {
        Some(DurableCmd::Acknowledge(n)) => {
            acks.up_to(n).await;
            true
        }
        Some(DurableCmd::Quit(done)) => {
            let _ = done.send(());
            false
        }
        None => false,
    }
}

/// A subscriber's handle on its durable consumer task.
pub(crate) struct DurableLink {
    cmds: mpsc::UnboundedSender<DurableCmd>,
    closed: std::sync::Mutex<bool>,
}

impl DurableLink {
    pub(crate) fn start(
        uri: &str,
        prefix: &str,
        opts: DurableOptions,
        log: std::sync::Arc<HandshakeLog>,
        sink: Sink,
    ) -> crate::Result<DurableLink> {
        let subjects =
            Subjects::new(prefix).map_err(|e| crate::Error::invalid_arg(e.to_string()))?;
        if opts.stream.is_empty() || opts.name.is_empty() {
            return Err(crate::Error::invalid_arg(
                "a durable subscriber needs both a stream and a consumer name",
            ));
        }
        let events = std::sync::Arc::new(super::connect::LinkEvents::default());
        let client = super::connect::connect(uri, "durable subscriber", log.clone(), events)?;
        let (tx, rx) = mpsc::unbounded_channel();
        super::runtime::handle()?.spawn(consume(client, subjects, sink, opts, log, rx));
        Ok(DurableLink {
            cmds: tx,
            closed: std::sync::Mutex::new(false),
        })
    }

    pub(crate) fn acknowledge(&self, n: u64) -> crate::Result<()> {
        self.cmds
            .send(DurableCmd::Acknowledge(n))
            .map_err(|_| crate::Error::closed("subscriber"))
    }

    pub(crate) fn close(&self) {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if *closed {
            return;
        }
        *closed = true;
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(DurableCmd::Quit(tx)).is_ok() {
            let _ = super::runtime::block_on(Duration::from_secs(5), rx);
        }
    }
}

impl Drop for DurableLink {
    fn drop(&mut self) {
        self.close();
    }
}
