//! N-API bindings for juice-core. Translation only: options in, counters and byte buffers out,
//! core errors to JS errors with a stable `code`. No protocol logic lives here.

use std::sync::Arc;
use std::time::Duration;

use juice_core as core;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

/// Status type of thrown errors: the core's stable code (`ERR_JUICE_*`), which becomes the JS
/// error's `code`.
type CodedError = String;

fn js_err(e: core::Error) -> napi::Error<CodedError> {
    napi::Error::new(e.code.as_str().to_string(), e.message)
}

/// A wait in ms; None, infinite or beyond a year waits forever (Instant arithmetic must never
/// overflow, which would panic).
fn ms(timeout_ms: Option<f64>) -> Option<Duration> {
    const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
    match timeout_ms {
        Some(t) if t.is_nan() => Some(Duration::ZERO),
        Some(t) if t < YEAR_MS => Some(Duration::from_micros((t.max(0.0) * 1000.0) as u64)),
        _ => None,
    }
}

fn copied(c: core::inbox::Copied) -> i64 {
    match c {
        core::inbox::Copied::Bytes(n) => n as i64,
        core::inbox::Copied::Empty => 0,
        core::inbox::Copied::NeedAtLeast(n) => -(n as i64),
    }
}

/// A client's CURVE keys (Z85).
#[napi(object)]
pub struct ClientCurve {
    pub server_key: String,
    pub public_key: String,
    pub secret_key: String,
}

impl From<ClientCurve> for core::ClientKeys {
    fn from(c: ClientCurve) -> Self {
        core::ClientKeys {
            server_key: c.server_key,
            public_key: c.public_key,
            secret_key: c.secret_key,
        }
    }
}

/// The proxy's CURVE settings (Z85).
#[napi(object)]
pub struct ServerCurve {
    pub secret_key: String,
    pub allowed_clients: Vec<String>,
}

#[napi(object)]
pub struct KeyPair {
    pub public_key: String,
    pub secret_key: String,
}

#[napi]
pub fn generate_key_pair() -> Result<KeyPair, CodedError> {
    let k = core::curve::generate_key_pair().map_err(js_err)?;
    Ok(KeyPair {
        public_key: k.public_key,
        secret_key: k.secret_key,
    })
}

#[napi]
pub fn curve_public_key(secret_key: String) -> Result<String, CodedError> {
    core::curve::public_key_of(&secret_key).map_err(js_err)
}

#[napi]
pub fn curve_available() -> bool {
    core::curve::available()
}

#[napi(object)]
pub struct ProxyOptions {
    pub frontend: Option<String>,
    pub backend: Option<String>,
    pub rcv_hwm: Option<i32>,
    pub snd_hwm: Option<i32>,
    pub max_message_size: Option<f64>,
    pub lossless: Option<bool>,
    pub curve: Option<ServerCurve>,
    pub max_topics: Option<u32>,
    pub query: Option<String>,
    pub max_subscription: Option<u32>,
    pub max_topics_bytes: Option<f64>,
}

#[napi(object)]
pub struct ProxyStats {
    pub messages: f64,
    pub bytes: f64,
    pub subscriptions: f64,
    pub auth_accepted: f64,
    pub auth_denied: f64,
    pub publishers: f64,
    pub subscribers: f64,
    pub rejected_subscriptions: f64,
}

#[napi(object)]
pub struct TopicEntry {
    pub name: String,
    pub last_seen_ms: f64,
    pub count: f64,
}

#[napi(object)]
pub struct TopicList {
    pub topics: Vec<TopicEntry>,
    /// Messages on new topics that did not fit in the registry.
    pub overflow: f64,
}

/// Sends `request` ("topics" or "stats") to a proxy's query endpoint; returns its JSON answer.
#[napi]
pub fn proxy_query(
    uri: String,
    request: String,
    timeout_ms: u32,
    curve: Option<ClientCurve>,
) -> Result<String, CodedError> {
    let keys: Option<core::ClientKeys> = curve.map(Into::into);
    core::proxy::query(
        &uri,
        &request,
        timeout_ms.min(i32::MAX as u32) as i32,
        keys.as_ref(),
    )
    .map_err(js_err)
}

#[napi]
pub struct NativeProxy {
    inner: core::Proxy,
}

#[napi]
impl NativeProxy {
    #[napi(constructor)]
    pub fn new(opts: ProxyOptions) -> Result<Self, CodedError> {
        let d = core::ProxyOptions::default();
        let inner = core::Proxy::start(core::ProxyOptions {
            frontend: opts.frontend.unwrap_or(d.frontend),
            backend: opts.backend.unwrap_or(d.backend),
            rcv_hwm: opts.rcv_hwm.unwrap_or(d.rcv_hwm),
            snd_hwm: opts.snd_hwm.unwrap_or(d.snd_hwm),
            max_message_size: opts
                .max_message_size
                .map_or(d.max_message_size, |v| v as i64),
            lossless: opts.lossless.unwrap_or(d.lossless),
            curve: opts.curve.map(|c| core::ServerKeys {
                secret_key: c.secret_key,
                allowed_clients: c.allowed_clients,
            }),
            max_topics: opts.max_topics.map_or(d.max_topics, |v| v as usize),
            query: opts.query,
            max_subscription: opts
                .max_subscription
                .map_or(d.max_subscription, |v| v as usize),
            max_topics_bytes: opts
                .max_topics_bytes
                .map_or(d.max_topics_bytes, |v| v as usize),
        })
        .map_err(js_err)?;
        Ok(NativeProxy { inner })
    }

    #[napi(getter)]
    pub fn frontend(&self) -> String {
        self.inner.frontend().to_string()
    }

    #[napi(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend().to_string()
    }

    #[napi]
    pub fn stats(&self) -> ProxyStats {
        let s = self.inner.stats();
        ProxyStats {
            messages: s.messages as f64,
            bytes: s.bytes as f64,
            subscriptions: s.subscriptions as f64,
            auth_accepted: s.auth_accepted as f64,
            auth_denied: s.auth_denied as f64,
            publishers: s.publishers as f64,
            subscribers: s.subscribers as f64,
            rejected_subscriptions: s.rejected_subscriptions as f64,
        }
    }

    #[napi(getter)]
    pub fn query(&self) -> Option<String> {
        self.inner.query_endpoint().map(str::to_string)
    }

    #[napi]
    pub fn topics(&self) -> TopicList {
        let (topics, overflow) = self.inner.topics();
        TopicList {
            topics: topics
                .into_iter()
                .map(|t| TopicEntry {
                    name: t.name,
                    last_seen_ms: t.last_seen_ms as f64,
                    count: t.count as f64,
                })
                .collect(),
            overflow: overflow as f64,
        }
    }

    #[napi]
    pub fn set_allowed_clients(&self, keys: Vec<String>) -> Result<(), CodedError> {
        self.inner.set_allowed_clients(&keys).map_err(js_err)
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}

#[napi(object)]
pub struct PublisherOptions {
    pub snd_hwm: Option<i32>,
    pub linger_ms: Option<i32>,
    pub subscription_wait_ms: Option<u32>,
    pub curve: Option<ClientCurve>,
}

#[napi(object)]
pub struct PublisherStats {
    pub sent: f64,
    pub blocked: f64,
    pub unrouted: f64,
    pub handshake_failures: f64,
    pub connected: bool,
    pub linger_expired: bool,
}

/// Throws unless `name` can be an event type name on the wire.
#[napi]
pub fn validate_type_name(name: String) -> Result<(), CodedError> {
    core::wire::validate_type_name(&name).map_err(js_err)
}

#[napi]
pub struct NativePublisher {
    inner: Arc<core::Publisher>,
}

#[napi]
impl NativePublisher {
    #[napi(constructor)]
    pub fn new(uri: String, opts: PublisherOptions) -> Result<Self, CodedError> {
        let d = core::PublisherOptions::default();
        let inner = core::Publisher::connect(
            &uri,
            core::PublisherOptions {
                snd_hwm: opts.snd_hwm.unwrap_or(d.snd_hwm),
                linger_ms: opts.linger_ms.unwrap_or(d.linger_ms),
                subscription_wait_ms: opts
                    .subscription_wait_ms
                    .map_or(d.subscription_wait_ms, u64::from),
                curve: opts.curve.map(Into::into),
            },
        )
        .map_err(js_err)?;
        Ok(NativePublisher {
            inner: Arc::new(inner),
        })
    }

    /// Sends from an encoded batch without waiting; returns the bytes consumed.
    #[napi]
    pub fn try_send(&self, batch: &[u8]) -> Result<u32, CodedError> {
        self.inner.try_send(batch).map(|n| n as u32).map_err(js_err)
    }

    /// Sends a batch, blocking the JS thread while the publisher cannot make progress, for at
    /// most `limit_ms` (null: as long as it takes). Returns the bytes consumed.
    #[napi]
    pub fn send_blocking(&self, batch: &[u8], limit_ms: Option<f64>) -> Result<u32, CodedError> {
        self.inner
            .send_blocking(batch, ms(limit_ms))
            .map(|n| n as u32)
            .map_err(js_err)
    }

    /// Resolves (off the JS thread) once sending can make progress (true) or after the timeout.
    #[napi]
    pub fn wait_ready(&self, timeout_ms: u32) -> AsyncTask<WaitReady> {
        AsyncTask::new(WaitReady {
            inner: self.inner.clone(),
            timeout: Duration::from_millis(timeout_ms.into()),
        })
    }

    #[napi]
    pub fn stats(&self) -> PublisherStats {
        let s = self.inner.stats();
        PublisherStats {
            sent: s.sent as f64,
            blocked: s.blocked as f64,
            unrouted: s.unrouted as f64,
            handshake_failures: s.handshake_failures as f64,
            connected: s.connected,
            linger_expired: s.linger_expired,
        }
    }

    #[napi]
    pub fn handshake_error(&self) -> Option<String> {
        self.inner.handshake_error()
    }

    /// Closes on the calling thread, waiting up to linger for queued events to be written.
    #[napi]
    pub fn close_blocking(&self) {
        self.inner.close();
    }

    /// As `closeBlocking`, off the JS thread.
    #[napi]
    pub fn close(&self) -> AsyncTask<ClosePublisher> {
        AsyncTask::new(ClosePublisher {
            inner: self.inner.clone(),
        })
    }
}

pub struct WaitReady {
    inner: Arc<core::Publisher>,
    timeout: Duration,
}

impl Task for WaitReady {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        // A closed publisher is "ready": the caller's next send reports the closure.
        Ok(self.inner.wait_ready(self.timeout).unwrap_or(true))
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

pub struct ClosePublisher {
    inner: Arc<core::Publisher>,
}

impl Task for ClosePublisher {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.inner.close();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

#[napi(object)]
pub struct SubscriberOptions {
    pub max_queue: Option<u32>,
    pub max_queue_bytes: Option<f64>,
    pub max_payload: Option<f64>,
    pub rcv_hwm: Option<i32>,
    pub max_message_size: Option<f64>,
    pub lossless: Option<bool>,
    pub curve: Option<ClientCurve>,
}

#[napi(object)]
pub struct SubscriberStats {
    pub received: f64,
    pub delivered: f64,
    pub queued: f64,
    pub dropped: f64,
    pub malformed_frames: f64,
    pub malformed_utf8: f64,
    pub malformed_topic: f64,
    pub oversized: f64,
    pub unmatched: f64,
    pub subscriptions: f64,
    pub handshake_failures: f64,
    pub connected: bool,
}

#[napi]
pub struct NativeSubscriber {
    inner: core::Subscriber,
}

#[napi]
impl NativeSubscriber {
    #[napi(constructor)]
    pub fn new(uri: String, opts: SubscriberOptions) -> Result<Self, CodedError> {
        let d = core::SubscriberOptions::default();
        let inner = core::Subscriber::connect(
            &uri,
            core::SubscriberOptions {
                max_queue: opts.max_queue.map_or(d.max_queue, |v| v as usize),
                max_queue_bytes: opts
                    .max_queue_bytes
                    .map_or(d.max_queue_bytes, |v| v as usize),
                max_payload: opts.max_payload.map_or(d.max_payload, |v| v as usize),
                rcv_hwm: opts.rcv_hwm.unwrap_or(d.rcv_hwm),
                max_message_size: opts
                    .max_message_size
                    .map_or(d.max_message_size, |v| v as i64),
                lossless: opts.lossless.unwrap_or(d.lossless),
                curve: opts.curve.map(Into::into),
            },
        )
        .map_err(js_err)?;
        Ok(NativeSubscriber { inner })
    }

    /// Returns the numeric id that records of this type carry.
    #[napi]
    pub fn subscribe(&self, type_name: String, topic: Option<String>) -> Result<u32, CodedError> {
        self.inner
            .subscribe(&type_name, topic.as_deref())
            .map_err(js_err)
    }

    #[napi]
    pub fn subscribe_all(&self) -> Result<(), CodedError> {
        self.inner.subscribe_all().map_err(js_err)
    }

    #[napi]
    pub fn unsubscribe_all(&self) -> Result<bool, CodedError> {
        self.inner.unsubscribe_all().map_err(js_err)
    }

    #[napi]
    pub fn unsubscribe(
        &self,
        type_name: String,
        topic: Option<String>,
    ) -> Result<bool, CodedError> {
        self.inner
            .unsubscribe(&type_name, topic.as_deref())
            .map_err(js_err)
    }

    /// Registers the function called (with no arguments) when events arrive after an empty
    /// `takeOrArm`. The function does not keep the event loop alive.
    #[napi]
    pub fn set_waker(&self, waker: Function<(), ()>) -> Result<()> {
        let tsfn: ThreadsafeFunction<(), (), (), Status, false, true> = waker
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        self.inner.inbox().set_waker(Some(Box::new(move || {
            tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        })));
        Ok(())
    }

    /// Copies queued events (whole records) into `out`. Returns the bytes copied; 0 when nothing
    /// was queued (the waker is then armed); minus the size needed when the next record alone
    /// does not fit.
    #[napi]
    pub fn take_or_arm_into(&self, mut out: BufferSlice) -> Result<i64, CodedError> {
        self.inner
            .inbox()
            .take_into_or_arm(&mut out)
            .map(copied)
            .map_err(js_err)
    }

    /// As `takeOrArmInto`, but blocks the JS thread until events arrive or the timeout (ms;
    /// null = forever) passes; 0 on timeout.
    #[napi]
    pub fn wait_take_into(
        &self,
        mut out: BufferSlice,
        timeout_ms: Option<f64>,
    ) -> Result<i64, CodedError> {
        self.inner
            .inbox()
            .wait_take_into(&mut out, ms(timeout_ms))
            .map(copied)
            .map_err(js_err)
    }

    #[napi]
    pub fn stats(&self) -> SubscriberStats {
        let s = self.inner.stats();
        SubscriberStats {
            received: s.received as f64,
            delivered: s.delivered as f64,
            queued: s.queued as f64,
            dropped: s.dropped as f64,
            malformed_frames: s.malformed_frames as f64,
            malformed_utf8: s.malformed_utf8 as f64,
            malformed_topic: s.malformed_topic as f64,
            oversized: s.oversized as f64,
            unmatched: s.unmatched as f64,
            subscriptions: s.subscriptions as f64,
            handshake_failures: s.handshake_failures as f64,
            connected: s.connected,
        }
    }

    #[napi]
    pub fn handshake_error(&self) -> Option<String> {
        self.inner.handshake_error()
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}

/// Why a client (`role`: "publisher", "subscriber" or "query") cannot talk to `uri`, from a short raw
/// ZMTP exchange; null when the endpoint looks right or cannot be reached.
#[napi]
pub fn diagnose_endpoint(
    uri: String,
    role: String,
    have_curve: bool,
    timeout_ms: u32,
) -> Option<String> {
    let role = match role.as_str() {
        "publisher" => core::probe::Role::Publisher,
        "query" => core::probe::Role::Query,
        _ => core::probe::Role::Subscriber,
    };
    core::probe::diagnose(
        &uri,
        role,
        have_curve,
        Duration::from_millis(timeout_ms.into()),
    )
}
