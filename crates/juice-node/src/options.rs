//! Every option object JavaScript passes in, and its one conversion into the core's options.
//! A missing field takes the core's default; the TypeScript layer has already range-checked each
//! value (src/options.ts), so numbers arrive as whole, in-range f64s.

use juice_core as core;
use std::time::Duration;

use napi_derive::napi;

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
pub struct ProxyOptions {
    pub frontend: Option<String>,
    pub backend: Option<String>,
    /// `ZMQ_RCVHWM` of the XSUB frontend, per publisher connection.
    pub rcv_hwm: Option<i32>,
    /// `ZMQ_SNDHWM` of the XPUB backend, per subscriber connection.
    pub snd_hwm: Option<i32>,
    /// `ZMQ_MAXMSGSIZE` of the frontend; -1 for no limit.
    pub max_message_size: Option<f64>,
    /// `ZMQ_XPUB_NODROP` on the backend.
    pub lossless: Option<bool>,
    pub curve: Option<ServerCurve>,
    pub max_topics: Option<u32>,
    pub query: Option<String>,
    pub max_subscription: Option<u32>,
    pub max_topics_bytes: Option<f64>,
}

impl From<ProxyOptions> for core::ProxyOptions {
    fn from(o: ProxyOptions) -> Self {
        let d = core::ProxyOptions::default();
        core::ProxyOptions {
            frontend: o.frontend.unwrap_or(d.frontend),
            backend: o.backend.unwrap_or(d.backend),
            rcv_hwm: o.rcv_hwm.unwrap_or(d.rcv_hwm),
            snd_hwm: o.snd_hwm.unwrap_or(d.snd_hwm),
            max_message_size: o.max_message_size.map_or(d.max_message_size, |v| v as i64),
            lossless: o.lossless.unwrap_or(d.lossless),
            curve: o.curve.map(|c| core::ServerKeys {
                secret_key: c.secret_key,
                allowed_clients: c.allowed_clients,
            }),
            max_topics: o.max_topics.map_or(d.max_topics, |v| v as usize),
            query: o.query,
            max_subscription: o
                .max_subscription
                .map_or(d.max_subscription, |v| v as usize),
            max_topics_bytes: o
                .max_topics_bytes
                .map_or(d.max_topics_bytes, |v| v as usize),
        }
    }
}

#[napi(object)]
pub struct PublisherOptions {
    /// `ZMQ_SNDHWM`.
    pub snd_hwm: Option<i32>,
    /// `ZMQ_LINGER`, ms.
    pub linger_ms: Option<i32>,
    pub subscription_wait_ms: Option<u32>,
    pub curve: Option<ClientCurve>,
    /// Over NATS: the subject prefix (default "juice").
    pub nats_prefix: Option<String>,
    /// Over NATS: publish through JetStream, each event acknowledged by a stream.
    pub jetstream: Option<bool>,
}

impl From<PublisherOptions> for core::PublisherOptions {
    fn from(o: PublisherOptions) -> Self {
        let d = core::PublisherOptions::default();
        core::PublisherOptions {
            snd_hwm: o.snd_hwm.unwrap_or(d.snd_hwm),
            linger_ms: o.linger_ms.unwrap_or(d.linger_ms),
            subscription_wait_ms: o
                .subscription_wait_ms
                .map_or(d.subscription_wait_ms, u64::from),
            curve: o.curve.map(Into::into),
            nats_prefix: o.nats_prefix.unwrap_or(d.nats_prefix),
            jetstream: o.jetstream.unwrap_or(d.jetstream),
        }
    }
}

#[napi(object)]
pub struct SubscriberOptions {
    pub max_queue: Option<u32>,
    pub max_queue_bytes: Option<f64>,
    pub max_payload: Option<f64>,
    /// `ZMQ_RCVHWM`.
    pub rcv_hwm: Option<i32>,
    /// `ZMQ_MAXMSGSIZE`; -1 for no limit.
    pub max_message_size: Option<f64>,
    pub lossless: Option<bool>,
    pub curve: Option<ClientCurve>,
    /// Over NATS: the subject prefix (default "juice").
    pub nats_prefix: Option<String>,
    /// Over NATS: the JetStream stream a durable subscriber reads.
    pub stream: Option<String>,
    /// Over NATS: the durable consumer's name.
    pub durable: Option<String>,
    /// Acknowledge only on acknowledge(n).
    pub manual_ack: Option<bool>,
    pub ack_wait_ms: Option<f64>,
}

impl From<SubscriberOptions> for core::SubscriberOptions {
    fn from(o: SubscriberOptions) -> Self {
        let d = core::SubscriberOptions::default();
        core::SubscriberOptions {
            max_queue: o.max_queue.map_or(d.max_queue, |v| v as usize),
            max_queue_bytes: o.max_queue_bytes.map_or(d.max_queue_bytes, |v| v as usize),
            max_payload: o.max_payload.map_or(d.max_payload, |v| v as usize),
            rcv_hwm: o.rcv_hwm.unwrap_or(d.rcv_hwm),
            max_message_size: o.max_message_size.map_or(d.max_message_size, |v| v as i64),
            lossless: o.lossless.unwrap_or(d.lossless),
            curve: o.curve.map(Into::into),
            nats_prefix: o.nats_prefix.unwrap_or(d.nats_prefix),
            durable: o.durable.map(|name| core::nats::durable::DurableOptions {
                stream: o.stream.unwrap_or_default(),
                name,
                manual_ack: o.manual_ack.unwrap_or(false),
                ack_wait: Duration::from_millis(o.ack_wait_ms.unwrap_or(30_000.0) as u64),
            }),
        }
    }
}

/// Where the native sink writes: InfluxDB 1.x (`database`) or 2.x (`org`, `bucket`, `token`).
#[napi(object)]
pub struct InfluxTarget {
    pub version: u32,
    pub url: String,
    pub database: Option<String>,
    pub retention_policy: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub org: Option<String>,
    pub bucket: Option<String>,
    pub token: Option<String>,
}

impl InfluxTarget {
    pub fn into_core(self) -> core::Result<core::ingest::InfluxTarget> {
        let need = |v: Option<String>, name: &str| {
            v.ok_or_else(|| {
                core::Error::invalid_arg(format!(
                    "influx.{name} is required for InfluxDB {}.x",
                    self.version
                ))
            })
        };
        match self.version {
            1 => Ok(core::ingest::InfluxTarget::V1 {
                database: need(self.database.clone(), "database")?,
                url: self.url,
                retention_policy: self.retention_policy,
                username: self.username,
                password: self.password,
            }),
            2 => Ok(core::ingest::InfluxTarget::V2 {
                org: need(self.org.clone(), "org")?,
                bucket: need(self.bucket.clone(), "bucket")?,
                token: need(self.token.clone(), "token")?,
                url: self.url,
            }),
            v => Err(core::Error::invalid_arg(format!(
                "influx.version must be 1 or 2, got {v}"
            ))),
        }
    }
}

/// The native sink's batching and retry settings; times in milliseconds.
#[napi(object)]
pub struct IngestOptions {
    pub batch_size: Option<u32>,
    pub max_batch_bytes: Option<u32>,
    pub flush_interval_ms: Option<f64>,
    pub retry_min_ms: Option<f64>,
    pub retry_max_ms: Option<f64>,
    pub close_timeout_ms: Option<f64>,
    pub request_timeout_ms: Option<f64>,
    /// Bodies at least this big are gzipped (the TypeScript layer decides: never on loopback).
    pub gzip_min_bytes: Option<u32>,
}

impl From<IngestOptions> for core::ingest::IngestOptions {
    fn from(o: IngestOptions) -> Self {
        let d = core::ingest::IngestOptions::default();
        let dur = |v: Option<f64>, d: Duration| {
            v.map_or(d, |ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        };
        core::ingest::IngestOptions {
            batch_size: o.batch_size.map_or(d.batch_size, |v| v.max(1) as usize),
            max_batch_bytes: o
                .max_batch_bytes
                .map_or(d.max_batch_bytes, |v| v.max(1) as usize),
            flush_interval: dur(o.flush_interval_ms, d.flush_interval),
            retry_min: dur(o.retry_min_ms, d.retry_min),
            retry_max: dur(o.retry_max_ms, d.retry_max),
            close_timeout: dur(o.close_timeout_ms, d.close_timeout),
            request_timeout: dur(o.request_timeout_ms, d.request_timeout),
            gzip_min: o.gzip_min_bytes.map_or(d.gzip_min, |v| v as usize),
        }
    }
}
