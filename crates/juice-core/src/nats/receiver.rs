//! Receiving over NATS for a [`crate::Subscriber`]: the same topic tree, counters and inbox as
//! the ZeroMQ receive thread, fed from NATS subscriptions on the shared runtime.
//!
//! Per-message path (one task per NATS subscription pair, on the runtime thread):
//!   subject -> [`Subjects::frame_of_subject`] -> [`wire::check_message`] -> [`TopicTree::matches`]
//!   -> [`Pending::push`] -> once per burst already buffered by the client, [`Inbox::append`].
//!
//! Why a cover: NATS delivers a message once per matching subscription on a connection, while
//! Juice delivers it once per subscriber. Only filters that no other live filter contains are
//! subscribed on NATS (`T.a.` contains `T.a.b.`; the empty filter, "everything", contains all);
//! the topic tree still decides which subscription an event belongs to. When a wider filter
//! replaces narrower ones, it is subscribed before they are dropped, so a message in flight may
//! arrive twice but is never lost.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::{Client, Message};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::connect::{self, LinkEvents};
use super::interest;
use super::readers::{Merged, Readers};
use super::runtime;
use super::subject::Subjects;
use crate::error::{Error, Result};
use crate::handshake::HandshakeLog;
use crate::inbox::{Inbox, Pending};
use crate::subscriber::Counters;
use crate::topic_tree::TopicTree;
use crate::wire::{self, Malformed};

/// Most messages taken from one subscription before handing them to the inbox.
const DRAIN_LIMIT: usize = 4096;

/// How long `close()` waits for the receive tasks to stop.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How often a lossless receiver with a full inbox looks for room again.
const FULL_RECHECK: Duration = Duration::from_millis(5);

enum Cmd {
    Add(Vec<u8>),
    Remove(Vec<u8>),
    Quit(oneshot::Sender<()>),
}

/// What a receive task shares with the subscriber.
#[derive(Clone)]
pub(crate) struct Sink {
    pub inbox: Arc<Inbox>,
    pub counters: Arc<Counters>,
    pub tree: Arc<RwLock<TopicTree>>,
    pub max_payload: usize,
    pub lossless: bool,
}

pub(crate) struct Receiver {
    cmds: mpsc::UnboundedSender<Cmd>,
    events: Arc<LinkEvents>,
    closed: Mutex<bool>,
}

impl Receiver {
    pub(crate) fn start(
        uri: &str,
        prefix: &str,
        log: Arc<HandshakeLog>,
        sink: Sink,
    ) -> Result<Receiver> {
        let subjects = Subjects::new(prefix).map_err(|e| Error::invalid_arg(e.to_string()))?;
        let events = Arc::new(LinkEvents::default());
        let client = connect::connect(uri, "subscriber", log, events.clone())?;
        let (tx, rx) = mpsc::unbounded_channel();
        runtime::handle()?.spawn(manage(client, subjects, sink, rx));
        Ok(Receiver {
            cmds: tx,
            events,
            closed: Mutex::new(false),
        })
    }

    /// Adds (or with `add` false, removes) one subscription's filter frame; empty means all.
    pub(crate) fn filter(&self, add: bool, frame: &[u8]) -> Result<()> {
        let cmd = if add {
            Cmd::Add(frame.to_vec())
        } else {
            Cmd::Remove(frame.to_vec())
        };
        self.cmds.send(cmd).map_err(|_| Error::closed("subscriber"))
    }

    /// Messages the client dropped because this subscriber fell behind (a lower bound).
    pub(crate) fn slow_consumer(&self) -> u64 {
        self.events.slow_consumer.load(Ordering::Relaxed)
    }

    /// Stops every receive task and closes the connection. Safe to call more than once.
    pub(crate) fn close(&self) {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if *closed {
            return;
        }
        *closed = true;
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Quit(tx)).is_ok() {
            let _ = runtime::block_on(CLOSE_WAIT, rx);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}

/// The filters to subscribe on NATS: the live ones no other live filter contains. Frames end in
/// the separator, so a byte prefix is a segment prefix.
pub(crate) fn cover<'a>(live: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<Vec<u8>> {
    // In byte order a containing filter sorts right before everything it contains.
    let mut out: Vec<Vec<u8>> = Vec::new();
    for f in live {
        if out.last().is_some_and(|last| f.starts_with(last)) {
            continue;
        }
        out.push(f.clone());
    }
    out
}

async fn manage(
    client: Client,
    subjects: Subjects,
    sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
) {
    let mut live: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut readers = Readers::default();
    let mut quit = None;
    let announcer = Announcer::new(&client, &subjects).await;
    let mut query = client
        .subscribe(interest::query_subject(&subjects))
        .await
        .ok();
    let mut tick = tokio::time::interval(interest::ANNOUNCE_EVERY);
    let mut wanted: Vec<Vec<u8>> = Vec::new();
    let mut answered: Option<tokio::time::Instant> = None;
    loop {
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            _ = tick.tick() => {
                if !wanted.is_empty() {
                    announcer.say(&wanted).await;
                }
                continue;
            }
            Some(_) = next_query(&mut query) => {
                // Anyone may ask, as often as they like: answer at most every QUERY_ANSWER_EVERY
                // (the periodic announcement follows within ANNOUNCE_EVERY anyway), so a flood
                // of questions is not multiplied by every subscriber on the cluster.
                if !wanted.is_empty() && answered.is_none_or(|t| t.elapsed() >= QUERY_ANSWER_EVERY) {
                    answered = Some(tokio::time::Instant::now());
                    announcer.say(&wanted).await;
                }
                continue;
            }
        };
        match cmd {
            None => break,
            Some(Cmd::Add(f)) => *live.entry(f).or_default() += 1,
            Some(Cmd::Remove(f)) => {
                if let Some(n) = live.get_mut(&f) {
                    *n -= 1;
                    if *n == 0 {
                        live.remove(&f);
                    }
                }
            }
            Some(Cmd::Quit(done)) => {
                quit = Some(done);
                break;
            }
        }
        // Apply a burst of changes at once.
        if !rx.is_empty() {
            continue;
        }
        let next = cover(live.keys());
        if next == wanted {
            continue;
        }
        wanted = next;
        readers
            .follow(&client, &subjects, &wanted, |merged| {
                tokio::spawn(read(merged, subjects.clone(), sink.clone()))
            })
            .await;
        announcer.say(&wanted).await;
    }
    readers.clear();
    // Ends this subscriber's lease at once, rather than when it runs out.
    announcer.say(&[]).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    drop(client);
    if let Some(done) = quit {
        let _ = done.send(());
    }
}

/// Least time between two answers to interest queries.
const QUERY_ANSWER_EVERY: Duration = Duration::from_millis(250);

async fn next_query(q: &mut Option<async_nats::Subscriber>) -> Option<Message> {
    match q {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Tells bridges what this subscriber wants (see [`interest`]).
struct Announcer {
    client: Client,
    subjects: Subjects,
    subject: String,
    id: u64,
}

impl Announcer {
    async fn new(client: &Client, subjects: &Subjects) -> Announcer {
        Announcer {
            client: client.clone(),
            subjects: subjects.clone(),
            subject: interest::announce_subject(subjects),
            id: interest::new_id(),
        }
    }

    async fn say(&self, filters: &[Vec<u8>]) {
        let text = interest::encode(self.id, &self.subjects, filters);
        let _ = self.client.publish(self.subject.clone(), text.into()).await;
    }
}

async fn read(mut stream: Merged, subjects: Subjects, sink: Sink) {
    let mut pending = Pending::default();
    let mut frame = Vec::new();
    while let Some(first) = stream.next().await {
        let mut limit = DRAIN_LIMIT;
        if sink.lossless {
            // Wait for room rather than drop: the client buffers meanwhile, and past its own
            // limit reports a slow consumer (counted), since core NATS cannot push back.
            loop {
                let room = sink.inbox.room();
                if room > 0 || sink.inbox.is_closed() {
                    limit = room.clamp(1, DRAIN_LIMIT);
                    break;
                }
                tokio::time::sleep(FULL_RECHECK).await;
            }
        }
        {
            let tree = sink.tree.read().unwrap_or_else(|e| e.into_inner());
            take_message(&first, &subjects, &sink, &tree, &mut frame, &mut pending);
            let mut n = 1;
            while n < limit {
                match stream.next().now_or_never() {
                    Some(Some(m)) => {
                        take_message(&m, &subjects, &sink, &tree, &mut frame, &mut pending);
                    }
                    _ => break,
                }
                n += 1;
            }
        }
        sink.inbox.append(&mut pending);
    }
}

/// Counts one message and queues it if a subscription matches; returns whether it was queued
/// (otherwise it was malformed or unmatched, and counted as such).
pub(crate) fn take_message(
    msg: &Message,
    subjects: &Subjects,
    sink: &Sink,
    tree: &TopicTree,
    frame: &mut Vec<u8>,
    pending: &mut Pending,
) -> bool {
    let c = &sink.counters;
    c.received.fetch_add(1, Ordering::Relaxed);
    if subjects
        .frame_of_subject(msg.subject.as_str(), frame)
        .is_err()
    {
        c.malformed(Malformed::BadTopic);
        return false;
    }
    let text = match wire::check_message(frame, &msg.payload, sink.max_payload) {
        Ok(text) => text,
        Err(kind) => {
            c.malformed(kind);
            return false;
        }
    };
    match tree.matches(frame) {
        Some(m) => {
            pending.push(m.type_id, frame, text.as_bytes());
            true
        }
        None => {
            c.unmatched.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cover;

    fn c(live: &[&str]) -> Vec<String> {
        let mut v: Vec<Vec<u8>> = live.iter().map(|s| s.as_bytes().to_vec()).collect();
        v.sort();
        cover(v.iter())
            .into_iter()
            .map(|f| String::from_utf8(f).unwrap())
            .collect()
    }

    #[test]
    fn the_cover_keeps_only_filters_no_other_contains() {
        assert_eq!(c(&["T.a.", "T.a.b.", "T.ab."]), ["T.a.", "T.ab."]);
        assert_eq!(c(&["T.", "T.a.", "U.a."]), ["T.", "U.a."]);
        assert_eq!(c(&["", "T.", "U.a."]), [""]);
        assert_eq!(c(&["T.a.b.", "T.a.c."]), ["T.a.b.", "T.a.c."]);
        assert_eq!(c(&["TT.", "T."]), ["T.", "TT."]);
        assert!(c(&[]).is_empty());
    }
}
