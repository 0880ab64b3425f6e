//! Publishing over NATS: each publish record becomes one NATS message on the subject of its
//! topic frame, with upstream's JSON payload unchanged.
//!
//! The caller's thread hands messages to the client's command queue without waiting
//! (`try_send`); a full queue (the server slow or away) is "would block", as a full libzmq pipe
//! is on the ZeroMQ side, and `wait_ready` waits until the client has written what it holds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::client::PublishErrorKind;
use async_nats::{Client, Subject};
use bytes::Bytes;
use futures_util::FutureExt;

use super::connect::{self, LinkEvents};
use super::jetstream::Persist;
use super::runtime;
use super::subject::Subjects;
use crate::error::{Error, ErrorCode, Result};
use crate::handshake::HandshakeLog;
use crate::publisher::PublisherStats;
use crate::records::read_publish;
use crate::wire::FrameBuilder;

/// Unacknowledged JetStream events at which `wait_ready` waits (the client allows 5,000).
const PERSIST_WINDOW: u64 = 4_000;

/// The server's `max_payload` until it has told us (NATS's own default).
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// The send path's reused state: the topic frame, and the subject of the last distinct frame
/// (a run of events on one topic reuses it: a `Subject` clone is a reference count, no copy).
#[derive(Default)]
struct Scratch {
    frames: FrameBuilder,
    subject_text: String,
    subject_of: Vec<u8>,
    subject: Option<Subject>,
}

pub struct NatsPublisher {
    client: Mutex<Option<Client>>,
    scratch: Mutex<Scratch>,
    subjects: Subjects,
    log: Arc<HandshakeLog>,
    events: Arc<LinkEvents>,
    linger: Duration,
    /// Publishing through JetStream, with acknowledgements.
    persist: Option<Persist>,
    sent: AtomicU64,
    blocked: AtomicU64,
    linger_expired: AtomicBool,
}

impl NatsPublisher {
    pub fn connect(uri: &str, prefix: &str, linger: Duration, jetstream: bool) -> Result<Self> {
        let subjects = Subjects::new(prefix).map_err(|e| Error::invalid_arg(e.to_string()))?;
        let log = Arc::new(HandshakeLog::default());
        let events = Arc::new(LinkEvents::default());
        let client = connect::connect(uri, "publisher", log.clone(), events.clone())?;
        let persist = if jetstream {
            Some(Persist::start(&client)?)
        } else {
            None
        };
        Ok(NatsPublisher {
            persist,
            client: Mutex::new(Some(client)),
            scratch: Mutex::new(Scratch::default()),
            subjects,
            log,
            events,
            linger,
            sent: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            linger_expired: AtomicBool::new(false),
        })
    }

    fn client(&self) -> Result<Client> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::closed("publisher"))
    }

    /// Queues records from `batch` without waiting; returns the bytes consumed. A record that
    /// cannot be sent (too large for the server, a subject beyond NATS's limit) is an error when
    /// it comes first, and otherwise ends the call just before it, so what precedes it is sent
    /// and counted.
    pub fn try_send(&self, batch: &[u8]) -> Result<usize> {
        let client = self.client()?;
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut *scratch;
        let max_payload = match client.server_info().max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n,
        };
        let mut window = Window::default();
        let mut at = 0;
        while at < batch.len() {
            let (rec, next) = read_publish(batch, at)?;
            let subject =
                match self.check(s, rec.type_name, rec.topic, rec.payload.len(), max_payload) {
                    Ok(subject) => subject,
                    Err(e) => return if at == 0 { Err(e) } else { Ok(at) },
                };
            let start = rec.payload.as_ptr() as usize - batch.as_ptr() as usize;
            let payload = window.slice(batch, start, rec.payload.len());
            if let Some(p) = &self.persist {
                match p.try_publish(&subject, payload) {
                    None => {
                        self.blocked.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(Ok(())) => {
                        self.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(e)) => return if at == 0 { Err(e) } else { Ok(at) },
                }
                at = next;
                continue;
            }
            // One poll: the client's queue takes the message now or not at all (tokio's bounded
            // send is cancel-safe, so a dropped attempt sends nothing).
            match client.publish(subject, payload).now_or_never() {
                None => {
                    self.blocked.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Ok(())) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                Some(Err(e)) => {
                    let err = publish_error(e, rec.payload.len(), max_payload);
                    return if at == 0 { Err(err) } else { Ok(at) };
                }
            }
            at = next;
        }
        Ok(at)
    }

    /// The record's subject, after checking what NATS would refuse.
    fn check(
        &self,
        s: &mut Scratch,
        type_name: &[u8],
        topic: Option<&[u8]>,
        size: usize,
        max_payload: usize,
    ) -> Result<Subject> {
        let frame = s.frames.build(type_name, topic)?;
        if size > max_payload {
            return Err(too_large(size, max_payload));
        }
        if let Some(subject) = s.subject.as_ref().filter(|_| s.subject_of == frame) {
            return Ok(subject.clone());
        }
        s.subject = None;
        self.subjects
            .subject_of_frame(frame, &mut s.subject_text)
            .map_err(|e| Error::invalid_arg(format!("cannot publish over NATS: {e}")))?;
        let subject = Subject::from(s.subject_text.as_str());
        s.subject_of.clear();
        s.subject_of.extend_from_slice(frame);
        s.subject = Some(subject.clone());
        Ok(subject)
    }

    /// Waits until the client has written out what it holds (the server is reachable and keeps
    /// up), at most `timeout`. Returns whether it did.
    pub fn wait_ready(&self, timeout: Duration) -> Result<bool> {
        let client = self.client()?;
        if let Some(p) = &self.persist {
            // Room in JetStream's window of unacknowledged events (5,000 in the client).
            let room = runtime::block_on(timeout, async {
                while p.outstanding() >= PERSIST_WINDOW {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })?;
            return Ok(room.is_some());
        }
        let flushed = runtime::block_on(timeout, client.flush())?;
        Ok(matches!(flushed, Some(Ok(()))))
    }

    pub fn stats(&self) -> PublisherStats {
        PublisherStats {
            sent: self.sent.load(Ordering::Relaxed),
            blocked: self.blocked.load(Ordering::Relaxed),
            // Core NATS tells a publisher nothing about interest: a message nobody subscribes
            // to is discarded by the server, unseen here.
            unrouted: 0,
            handshake_failures: self.log.failures(),
            connected: self.log.connected() > 0,
            linger_expired: self.linger_expired.load(Ordering::Relaxed),
            stored: self
                .persist
                .as_ref()
                .map_or(0, |p| p.counters.acked.load(Ordering::Relaxed)),
            not_stored: self
                .persist
                .as_ref()
                .map_or(0, |p| p.counters.failed.load(Ordering::Relaxed)),
            resent: self
                .persist
                .as_ref()
                .map_or(0, |p| p.counters.retried.load(Ordering::Relaxed)),
        }
    }

    /// The connection's last error, else the last reason JetStream did not store an event, else
    /// why events are being sent again right now.
    pub fn handshake_error(&self) -> Option<String> {
        self.log
            .last_error()
            .or_else(|| self.persist.as_ref().and_then(Persist::last_error))
    }

    pub fn reconnects(&self) -> u64 {
        self.events.reconnects.load(Ordering::Relaxed)
    }

    pub fn is_closed(&self) -> bool {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Waits up to linger until the client has written everything queued, then closes the
    /// connection. Safe to call more than once.
    pub fn close(&self) {
        let Some(client) = self.client.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let flushed = runtime::block_on(self.linger, async {
            let written = client.flush().await.is_ok();
            // A persistent publisher is done when the stream has answered for every event.
            if let Some(p) = &self.persist {
                while p.outstanding() > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            written
        });
        if !matches!(flushed, Ok(Some(true))) && self.sent.load(Ordering::Relaxed) > 0 {
            self.linger_expired.store(true, Ordering::Relaxed);
        }
        // The connection closes once its last handle is gone.
        drop(client);
        self.log.set_connected(false);
    }
}

impl Drop for NatsPublisher {
    fn drop(&mut self) {
        self.close();
    }
}

/// Payloads are copied out of the batch (it is borrowed from JavaScript) a window of records at
/// a time, and each is a reference-counted slice of its window: one allocation per window, not
/// per event. Windows keep a blocked send (which stops part-way, and is called again with the
/// rest) from copying the rest of a big batch each time.
#[derive(Default)]
struct Window {
    bytes: Bytes,
    /// Where `bytes` starts in the batch.
    from: usize,
}

const WINDOW_BYTES: usize = 64 * 1024;

impl Window {
    fn slice(&mut self, batch: &[u8], start: usize, len: usize) -> Bytes {
        let end = start + len;
        if start < self.from || end > self.from + self.bytes.len() {
            let to = batch.len().min(start + WINDOW_BYTES).max(end);
            self.bytes = Bytes::copy_from_slice(&batch[start..to]);
            self.from = start;
        }
        self.bytes.slice(start - self.from..end - self.from)
    }
}

fn too_large(size: usize, max: usize) -> Error {
    Error::invalid_arg(format!(
        "the event is {size} bytes, above the NATS server's max_payload of {max} bytes; \
         raise max_payload in the server configuration or send smaller events"
    ))
}

fn publish_error(e: async_nats::PublishError, size: usize, max: usize) -> Error {
    match e.kind() {
        PublishErrorKind::MaxPayloadExceeded => too_large(size, max),
        PublishErrorKind::InvalidSubject => {
            Error::invalid_arg(format!("NATS refused the subject: {e}"))
        }
        _ => Error::new(
            ErrorCode::Closed,
            format!("the NATS connection is closed: {e}"),
        ),
    }
}
