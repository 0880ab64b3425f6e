//! JetStream persistence: streams for Juice events, publishing with acknowledgements and
//! deduplication, and the last value of a subject for dashboards.
//!
//! A persistent publisher gives every event a `Nats-Msg-Id` (its own random id and a sequence),
//! waits for the stream's acknowledgement of each, and republishes one that was not acknowledged
//! (a node died, the connection moved) under the same id: the stream's duplicate window turns
//! the repeat into a no-op, so an event is stored once however often it is sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, Subject};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::connect;
use super::runtime;
use super::subject::Subjects;
use crate::error::{Error, ErrorCode, Result};

/// How long a repeat of a message id is recognised by a stream we create.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Attempts to store one event before it is counted as failed.
const ATTEMPTS: u32 = 8;

/// How long to wait for one acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub name: String,
    pub prefix: String,
    /// Event types the stream keeps; empty: every type under the prefix.
    pub types: Vec<String>,
    pub replicas: usize,
    /// Oldest event kept (None: no limit).
    pub max_age: Option<Duration>,
    /// Keep only the last event of each subject: a last-value view.
    pub last_value_only: bool,
}

#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    pub name: String,
    pub subjects: Vec<String>,
    pub replicas: usize,
    pub messages: u64,
    pub bytes: u64,
}

impl StreamSummary {
    /// `{ name, subjects, replicas, messages, bytes }`, as the TypeScript layer reads it.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "name": self.name,
            "subjects": self.subjects,
            "replicas": self.replicas,
            "messages": self.messages,
            "bytes": self.bytes,
        })
        .to_string()
    }
}

fn admin_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("{what}: {e}"))
}

/// A short-lived client for administrative requests, failing at once when no server answers.
async fn admin_client(uri: &str) -> Result<Client> {
    let list = connect::servers(uri)?;
    async_nats::ConnectOptions::new()
        .name("juice-messaging admin")
        .connection_timeout(Duration::from_secs(5))
        .connect(list)
        .await
        .map_err(|e| Error::new(ErrorCode::InvalidUri, format!("NATS {uri}: {e}")))
}

/// The stream subjects for `types` (all types when empty).
fn subjects_for(subjects: &Subjects, types: &[String]) -> Result<Vec<String>> {
    if types.is_empty() {
        return Ok(vec![subjects.everything()]);
    }
    let mut out = Vec::new();
    for t in types {
        crate::wire::validate_type_name(t)?;
        let frame = crate::wire::topic_frame(t, None);
        let pair = subjects
            .filters_of_frame(&frame)
            .map_err(|e| Error::invalid_arg(e.to_string()))?;
        out.extend(pair);
    }
    Ok(out)
}

/// Creates the stream, or checks the one of that name has the same subjects. A replicated stream
/// on a cluster that has just started is retried until its peers have joined (up to 20 s).
pub fn ensure_stream(uri: &str, opts: &StreamOptions) -> Result<StreamSummary> {
    let subjects = Subjects::new(&opts.prefix).map_err(|e| Error::invalid_arg(e.to_string()))?;
    let wanted = subjects_for(&subjects, &opts.types)?;
    let config = stream::Config {
        name: opts.name.clone(),
        subjects: wanted.clone(),
        num_replicas: opts.replicas.max(1),
        max_age: opts.max_age.unwrap_or_default(),
        max_messages_per_subject: if opts.last_value_only { 1 } else { -1 },
        duplicate_window: DUPLICATE_WINDOW,
        allow_direct: true,
        ..Default::default()
    };
    let uri = uri.to_string();
    runtime::block_on(Duration::from_secs(60), async move {
        let js = jetstream::new(admin_client(&uri).await?);
        let until = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match js.get_or_create_stream(config.clone()).await {
                Ok(s) => break s,
                Err(e) if Instant::now() < until => {
                    // 10023 (insufficient resources) while a new cluster's peers join, or no
                    // meta leader yet: both pass.
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(admin_error("cannot create the JetStream stream", e)),
            }
        };
        let info = across_failover("cannot read the stream", || async {
            match stream.get_info().await {
                Ok(info) => Attempt::Done(Ok(info)),
                Err(e) => Attempt::Transient(e.to_string()),
            }
        })
        .await?;
        let mut have = info.config.subjects.clone();
        let mut want = wanted.clone();
        have.sort();
        want.sort();
        if have != want {
            return Err(Error::invalid_arg(format!(
                "stream {} exists with subjects {:?}, not {:?}; pick another name or change it with the nats CLI",
                info.config.name, info.config.subjects, wanted
            )));
        }
        Ok(summary(&info))
    })?
    .ok_or_else(|| Error::new(ErrorCode::Timeout, "NATS did not answer within 60 s"))?
}

fn summary(info: &stream::Info) -> StreamSummary {
    StreamSummary {
        name: info.config.name.clone(),
        subjects: info.config.subjects.clone(),
        replicas: info.config.num_replicas,
        messages: info.state.messages,
        bytes: info.state.bytes,
    }
}

/// How long an administrative query keeps trying while the cluster has no leader to answer it
/// (a node holding the meta or stream leadership died, and the others elect a new one).
const FAILOVER_WINDOW: Duration = Duration::from_secs(20);

/// How long an administrative call may take in all: connecting (5 s), the failover window, and
/// one last attempt of a few requests (5 s each).
const ADMIN_DEADLINE: Duration = Duration::from_secs(45);

/// An answer that does not change on asking again, or an outage that may pass.
enum Attempt<T> {
    Done(Result<T>),
    Transient(String),
}

/// Runs `attempt` until it is done, retrying transient failures for [`FAILOVER_WINDOW`]; the
/// last one is the error after that.
async fn across_failover<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Attempt<T>>,
{
    let until = Instant::now() + FAILOVER_WINDOW;
    loop {
        match attempt().await {
            Attempt::Done(r) => return r,
            Attempt::Transient(e) if Instant::now() >= until => {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!("{what}: no answer for {FAILOVER_WINDOW:?}; last: {e}"),
                ));
            }
            Attempt::Transient(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Runs one administrative call on a short-lived client, within [`ADMIN_DEADLINE`].
fn admin<T, F, Fut>(uri: &str, call: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(jetstream::Context) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>> + Send,
{
    let uri = uri.to_string();
    runtime::block_on(ADMIN_DEADLINE, async move {
        call(jetstream::new(admin_client(&uri).await?)).await
    })?
    .ok_or_else(|| {
        Error::new(
            ErrorCode::Timeout,
            format!("NATS did not answer within {ADMIN_DEADLINE:?}"),
        )
    })?
}

/// Looks the stream up; only "not found" (and a bad name) are final answers.
async fn stream_of(js: &jetstream::Context, name: &str) -> Attempt<stream::Stream> {
    use jetstream::context::GetStreamErrorKind as K;
    match js.get_stream(name).await {
        Ok(s) => Attempt::Done(Ok(s)),
        Err(e) => match e.kind() {
            K::EmptyName | K::InvalidStreamName => {
                Attempt::Done(Err(admin_error(&format!("no stream {name}"), e)))
            }
            K::JetStream(api) if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => {
                Attempt::Done(Err(admin_error(&format!("no stream {name}"), e)))
            }
            _ => Attempt::Transient(e.to_string()),
        },
    }
}

/// The stream's configuration and counts.
pub fn stream_info(uri: &str, name: &str) -> Result<StreamSummary> {
    let name = name.to_string();
    admin(uri, move |js| async move {
        across_failover("cannot read the stream", || async {
            let s = match stream_of(&js, &name).await {
                Attempt::Done(Ok(s)) => s,
                Attempt::Done(Err(e)) => return Attempt::Done(Err(e)),
                Attempt::Transient(e) => return Attempt::Transient(e),
            };
            match s.get_info().await {
                Ok(info) => Attempt::Done(Ok(summary(&info))),
                Err(e) => Attempt::Transient(e.to_string()),
            }
        })
        .await
    })
}

/// The last event stored for this type and exact topic, if any: its payload.
pub fn last_value(
    uri: &str,
    stream_name: &str,
    prefix: &str,
    type_name: &str,
    topic: Option<&str>,
) -> Result<Option<String>> {
    crate::wire::validate_type_name(type_name)?;
    if let Some(t) = topic {
        crate::wire::validate_topic(t.as_bytes())?;
    }
    let frame = crate::wire::topic_frame(type_name, topic);
    let subjects = Subjects::new(prefix).map_err(|e| Error::invalid_arg(e.to_string()))?;
    let mut subject = String::new();
    subjects
        .subject_of_frame(&frame, &mut subject)
        .map_err(|e| Error::invalid_arg(e.to_string()))?;
    let name = stream_name.to_string();
    admin(uri, move |js| async move {
        across_failover("cannot read the last value", || async {
            let s = match stream_of(&js, &name).await {
                Attempt::Done(Ok(s)) => s,
                Attempt::Done(Err(e)) => return Attempt::Done(Err(e)),
                Attempt::Transient(e) => return Attempt::Transient(e),
            };
            use stream::LastRawMessageErrorKind as K;
            match s.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Attempt::Done(
                    String::from_utf8(m.payload.to_vec())
                        .map(Some)
                        .map_err(|_| Error::invalid_arg("the stored event is not UTF-8")),
                ),
                Err(e) if e.kind() == K::NoMessageFound => Attempt::Done(Ok(None)),
                Err(e) if e.kind() == K::InvalidSubject => {
                    Attempt::Done(Err(admin_error("cannot read the last value", e)))
                }
                Err(e) => Attempt::Transient(e.to_string()),
            }
        })
        .await
    })
}

/// Counters of a persistent publisher.
#[derive(Default)]
pub(crate) struct PersistCounters {
    /// Events the stream acknowledged.
    pub acked: AtomicU64,
    /// Events still waiting for an acknowledgement.
    pub outstanding: AtomicU64,
    /// Republications after a missing acknowledgement.
    pub retried: AtomicU64,
    /// Events not stored after every attempt.
    pub failed: AtomicU64,
}

struct Unacked {
    ack: PublishAckFuture,
    subject: Subject,
    payload: Bytes,
    id: String,
}

/// The publishing side of persistence, owned by a NATS publisher.
pub(crate) struct Persist {
    js: jetstream::Context,
    id: u64,
    seq: AtomicU64,
    unacked: mpsc::UnboundedSender<Unacked>,
    pub counters: Arc<PersistCounters>,
    reasons: Arc<Reasons>,
}

/// Why events were not stored. A reason for a repeat is only worth showing while some event is
/// still being repeated: once every repeat succeeded, showing it would report a failure that did
/// not happen.
#[derive(Default)]
struct Reasons {
    /// The last event given up on.
    failed: Mutex<Option<String>>,
    /// Why the latest repeat was needed, and how many events are being repeated now.
    repeating: Mutex<(u64, Option<String>)>,
}

impl Reasons {
    fn current(&self) -> Option<String> {
        let failed = self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        failed.or_else(|| {
            let r = self.repeating.lock().unwrap_or_else(|e| e.into_inner());
            r.1.clone().filter(|_| r.0 > 0)
        })
    }

    fn give_up(&self, why: String) {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// One more event is being repeated, for `why`.
    fn begin_repeat(&self, why: String) {
        let mut r = self.repeating.lock().unwrap_or_else(|e| e.into_inner());
        r.0 += 1;
        r.1 = Some(why);
    }

    /// The repeats of one event ended (stored or given up).
    fn end_repeat(&self) {
        let mut r = self.repeating.lock().unwrap_or_else(|e| e.into_inner());
        r.0 = r.0.saturating_sub(1);
        if r.0 == 0 {
            r.1 = None;
        }
    }

    fn still_repeating(&self, why: String) {
        self.repeating.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(why);
    }
}

impl Persist {
    pub(crate) fn start(client: &Client) -> Result<Persist> {
        let handle = runtime::handle()?;
        // The context starts a task of its own, so it is built inside the runtime.
        let _in_runtime = handle.enter();
        let js = jetstream::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .build(client.clone());
        let counters = Arc::new(PersistCounters::default());
        let reasons = Arc::new(Reasons::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let settler = Settler {
            js: js.clone(),
            counters: counters.clone(),
            reasons: reasons.clone(),
            known: Mutex::new(HashMap::new()),
            lookup: tokio::sync::Mutex::new(()),
        };
        handle.spawn(confirm(settler, rx));
        Ok(Persist {
            js,
            id: super::interest::new_id(),
            seq: AtomicU64::new(0),
            unacked: tx,
            counters,
            reasons,
        })
    }

    /// Hands one event to JetStream without waiting. None: the client's window of unacknowledged
    /// events is full (would block).
    pub(crate) fn try_publish(&self, subject: &Subject, payload: Bytes) -> Option<Result<()>> {
        let seq = self.seq.load(Ordering::Relaxed);
        let id = format!("{:016x}-{seq}", self.id);
        let msg = PublishMessage::build()
            .payload(payload.clone())
            .message_id(&id);
        // Called from the JS thread; the client's futures expect the runtime's context.
        let handle = match runtime::handle() {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        let _in_runtime = handle.enter();
        let sent =
            futures_util::FutureExt::now_or_never(self.js.send_publish(subject.clone(), msg))?;
        Some(match sent {
            Ok(ack) => {
                self.seq.store(seq + 1, Ordering::Relaxed);
                self.counters.outstanding.fetch_add(1, Ordering::Relaxed);
                let _ = self.unacked.send(Unacked {
                    ack,
                    subject: subject.clone(),
                    payload,
                    id,
                });
                Ok(())
            }
            Err(e) => Err(Error::invalid_arg(format!(
                "JetStream refused the event: {e}"
            ))),
        })
    }

    pub(crate) fn outstanding(&self) -> u64 {
        self.counters.outstanding.load(Ordering::Relaxed)
    }

    /// The last reason an event was not stored, else why events are being repeated right now.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.reasons.current()
    }
}

/// What every acknowledgement task of one publisher shares.
struct Settler {
    js: jetstream::Context,
    counters: Arc<PersistCounters>,
    reasons: Arc<Reasons>,
    /// What is known of subjects JetStream answered "no stream" for (see [`Settler::captured`]).
    known: Mutex<HashMap<String, Known>>,
    /// One lookup at a time: the tasks of a burst of failures wait for the first answer.
    lookup: tokio::sync::Mutex<()>,
}

/// Whether a stream captures a subject, and since when that is known.
#[derive(Clone, Copy)]
struct Known {
    captured: bool,
    at: Instant,
}

/// How long an answer about a subject is trusted; how many subjects are remembered.
const KNOWN_FOR: Duration = Duration::from_secs(2);
const KNOWN_MAX: usize = 1024;

/// Settles every acknowledgement, each in its own task: after a node dies, thousands may time
/// out together, and waiting for them one after the other would take thousands of timeouts.
async fn confirm(settler: Settler, mut rx: mpsc::UnboundedReceiver<Unacked>) {
    let settler = Arc::new(settler);
    while let Some(u) = rx.recv().await {
        tokio::spawn(settle(settler.clone(), u));
    }
}

/// Waits for one acknowledgement; republishes under the same id until one comes or the attempts
/// run out (then the event is counted as failed, with the reason kept).
async fn settle(s: Arc<Settler>, u: Unacked) {
    let mut result = u.ack.await.map(|_| ());
    let mut attempt = 1;
    // Whether a stream captures the subject, once the client said "no stream".
    let mut captured = None;
    while let Err(e) = &result {
        // The client reports "no stream" when nothing answers the subject, which is also what a
        // stream whose leader just died looks like until the others elect one. Only when
        // JetStream says no stream captures the subject can no repeat help.
        if e.kind() == PublishErrorKind::StreamNotFound {
            captured = Some(s.captured(&u.subject).await);
        }
        if attempt >= ATTEMPTS || captured == Some(false) {
            break;
        }
        if attempt == 1 {
            s.reasons.begin_repeat(e.to_string());
        } else {
            s.reasons.still_repeating(e.to_string());
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
        attempt += 1;
        s.counters.retried.fetch_add(1, Ordering::Relaxed);
        let msg = PublishMessage::build()
            .payload(u.payload.clone())
            .message_id(&u.id);
        result = match s.js.send_publish(u.subject.clone(), msg).await {
            Ok(ack) => ack.await.map(|_| ()),
            Err(e) => Err(e),
        };
    }
    match result {
        Ok(()) => {
            s.counters.acked.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            s.reasons.give_up(match (e.kind(), captured) {
                (PublishErrorKind::StreamNotFound, Some(false)) => format!(
                    "no JetStream stream captures {}; create one with ensureStream()",
                    u.subject
                ),
                (PublishErrorKind::StreamNotFound, _) => format!(
                    "JetStream did not store an event on {}: its stream had no leader to answer \
                     after {ATTEMPTS} attempts",
                    u.subject
                ),
                _ => format!("JetStream did not store an event on {}: {e}", u.subject),
            });
            s.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    };
    if attempt > 1 {
        s.reasons.end_repeat();
    }
    s.counters.outstanding.fetch_sub(1, Ordering::Relaxed);
}

impl Settler {
    fn recall(&self, subject: &Subject) -> Option<bool> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .get(subject.as_str())
            .filter(|k| k.at.elapsed() < KNOWN_FOR)
            .map(|k| k.captured)
    }

    /// Whether a stream captures `subject`, as JetStream names it (`STREAM.NAMES` with the
    /// subject). An unanswered question counts as yes: the cluster is busy electing, and the
    /// next attempt asks again. Answers are kept for a moment and asked one at a time, so a
    /// burst of failures costs one request, not one each.
    async fn captured(&self, subject: &Subject) -> bool {
        if let Some(c) = self.recall(subject) {
            return c;
        }
        let _one = self.lookup.lock().await;
        if let Some(c) = self.recall(subject) {
            return c;
        }
        let captured = match self.js.stream_by_subject(subject.as_str()).await {
            Ok(_) => true,
            Err(e) => e.kind() != jetstream::context::GetStreamByNameErrorKind::NotFound,
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= KNOWN_MAX {
            known.clear();
        }
        known.insert(
            subject.to_string(),
            Known {
                captured,
                at: Instant::now(),
            },
        );
        captured
    }
}

#[cfg(test)]
mod tests {
    use super::Reasons;

    #[test]
    fn a_repeat_that_succeeded_leaves_no_reason_behind() {
        let r = Reasons::default();
        assert_eq!(r.current(), None);
        r.begin_repeat("no responders".into());
        r.begin_repeat("timed out".into());
        assert_eq!(r.current().as_deref(), Some("timed out"));
        r.end_repeat();
        assert_eq!(
            r.current().as_deref(),
            Some("timed out"),
            "one event still repeats"
        );
        r.end_repeat();
        assert_eq!(r.current(), None, "every repeat ended: nothing failed");
    }

    #[test]
    fn an_event_given_up_on_keeps_its_reason() {
        let r = Reasons::default();
        r.begin_repeat("timed out".into());
        r.give_up("JetStream did not store an event on a.b".into());
        r.end_repeat();
        assert_eq!(
            r.current().as_deref(),
            Some("JetStream did not store an event on a.b")
        );
        r.begin_repeat("no responders".into());
        r.end_repeat();
        assert_eq!(
            r.current().as_deref(),
            Some("JetStream did not store an event on a.b"),
            "a later success does not hide a loss"
        );
    }
}
