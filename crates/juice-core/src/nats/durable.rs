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
    // The stream may not exist yet, or the cluster may still be electing: keep trying, and say
    // why in handshakeError() meanwhile.
    let mut messages = loop {
        let attempt = async {
            let stream = js
                .get_stream(&opts.stream)
                .await
                .map_err(|e| e.to_string())?;
            let consumer = stream
                .get_or_create_consumer(&opts.name, config.clone())
                .await
                .map_err(|e| e.to_string())?;
            consumer
                .stream()
                .max_messages_per_batch(BATCH)
                .messages()
                .await
                .map_err(|e| e.to_string())
        };
        tokio::select! {
            r = attempt => match r {
                Ok(m) => break m,
                Err(why) => {
                    log.record_failure(format!("durable consumer {} on stream {}: {why}", opts.name, opts.stream));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            cmd = rx.recv() => {
                if let Some(DurableCmd::Quit(done)) = cmd {
                    let _ = done.send(());
                }
                return;
            }
        }
    };
    let mut held: VecDeque<jetstream::Message> = VecDeque::new();
    // Events taken so far that have been acknowledged (the front of `held` is the next one).
    let mut acked: u64 = 0;
    let mut pending = Pending::default();
    let mut frame = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut quit = None;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(DurableCmd::Acknowledge(n)) => ack_up_to(n, &mut held, &mut acked).await,
                Some(DurableCmd::Quit(done)) => { quit = Some(done); break; }
                None => break,
            },
            _ = tick.tick() => {
                if !opts.manual_ack {
                    let taken = sink.inbox.delivered.load(Ordering::Relaxed);
                    ack_up_to(taken, &mut held, &mut acked).await;
                }
            }
            first = messages.next(), if sink.inbox.room() > 0 => {
                let Some(first) = first else { break };
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
                    for m in batch.into_iter().flatten() {
                        if take_message(&m.message, &subjects, &sink, &tree, &mut frame, &mut pending) {
                            held.push_back(m);
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

/// Acknowledges held messages until `n` events in all are acknowledged.
async fn ack_up_to(n: u64, held: &mut VecDeque<jetstream::Message>, acked: &mut u64) {
    while *acked < n {
        let Some(m) = held.pop_front() else { break };
        let _ = m.ack().await;
        *acked += 1;
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
