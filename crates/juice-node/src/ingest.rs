//! `NativeIngestSink`: the core's ingestion sink (events to InfluxDB without JavaScript), and
//! `lineOf`, the core's line for one payload (so tests can hold both paths to the same bytes).

use std::sync::Arc;

use juice_core as core;
use juice_core::ingest;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::closing::Closing;
use crate::errors::{js_err, CodedError};
use crate::options::{InfluxTarget, IngestOptions, SubscriberOptions};

#[napi(object)]
pub struct IngestStats {
    pub received: f64,
    pub written: f64,
    pub batches: f64,
    pub retries: f64,
    pub rejected: f64,
    pub overflow: f64,
    pub buffered: f64,
    pub lost: f64,
    pub malformed: f64,
    pub last_error: Option<String>,
}

fn schema_of(json: &str) -> Result<ingest::Schema, CodedError> {
    ingest::Schema::from_json(json).map_err(|e| js_err(core::Error::invalid_arg(e)))
}

#[napi]
pub struct NativeIngestSink {
    inner: Arc<ingest::IngestSink>,
}

#[napi]
impl NativeIngestSink {
    #[napi(constructor)]
    pub fn new(
        uri: String,
        subscriber: SubscriberOptions,
        influx: InfluxTarget,
        opts: IngestOptions,
    ) -> Result<Self, CodedError> {
        let target = influx.into_core().map_err(js_err)?;
        let inner = ingest::IngestSink::connect(&uri, subscriber.into(), &target, opts.into())
            .map_err(js_err)?;
        Ok(NativeIngestSink {
            inner: Arc::new(inner),
        })
    }

    /// Stores events of `typeName` (narrowed to `topic`) with the storage schema given as JSON:
    /// `{ measurement, tags, integerFields, fields, reserved }`.
    #[napi]
    pub fn subscribe(
        &self,
        type_name: String,
        topic: Option<String>,
        schema_json: String,
    ) -> Result<(), CodedError> {
        let schema = schema_of(&schema_json)?;
        self.inner
            .subscribe(&type_name, topic.as_deref(), &schema)
            .map_err(js_err)
    }

    #[napi]
    pub fn stats(&self) -> IngestStats {
        let s = self.inner.stats();
        IngestStats {
            received: s.received as f64,
            written: s.written as f64,
            batches: s.batches as f64,
            retries: s.retries as f64,
            rejected: s.rejected as f64,
            overflow: s.overflow as f64,
            buffered: s.buffered as f64,
            lost: s.lost as f64,
            malformed: s.malformed as f64,
            last_error: self.inner.last_error(),
        }
    }

    /// Why the last handshake with the proxy failed, if one did.
    #[napi]
    pub fn handshake_error(&self) -> Option<String> {
        self.inner.subscriber().handshake_error()
    }

    /// Stops reading and writes what is held (up to the close timeout), off the JS thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Closing> {
        let inner = self.inner.clone();
        AsyncTask::new(Closing::new(move || inner.close()))
    }
}

/// The line of InfluxDB line protocol the native path writes for `payload` under the storage
/// schema `schemaJson` (time 0 when the payload has none). Throws with the reason it cannot.
#[napi]
pub fn line_of(schema_json: String, payload: String) -> Result<String, CodedError> {
    let schema = schema_of(&schema_json)?;
    ingest::line_of(&schema, &payload).map_err(|e| js_err(core::Error::invalid_arg(e)))
}
