//! `NativeBridge`: the ZeroMQ <-> NATS bridge of the core, its counters, and closing off the JS
//! thread.

use std::sync::Arc;

use juice_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::closing::Closing;
use crate::errors::{js_err, CodedError};

#[napi(object)]
pub struct BridgeOptions {
    pub frontend: String,
    pub backend: String,
    pub nats: String,
    pub nats_prefix: Option<String>,
}

/// A bridge's counters since it started.
#[napi(object)]
pub struct BridgeStats {
    /// Events forwarded from the proxy to NATS.
    pub to_nats: f64,
    /// Events forwarded from NATS into the proxy.
    pub to_zmq: f64,
    /// Copies of the bridge's own output that came back and were dropped (no loops).
    pub echoes: f64,
    /// Messages that were not Juice events (bad subject, frames or UTF-8), both directions.
    pub malformed: f64,
    /// Events lost at the bridge: its queue towards the proxy full, or NATS refusing them.
    pub dropped: f64,
    /// Filters NATS subscribers announced: what goes from the proxy to NATS.
    pub nats_filters: f64,
    /// ZeroMQ subscriptions the proxy passed up: what goes from NATS into the proxy.
    pub zmq_filters: f64,
    /// Connected to a NATS server now (the client reconnects by itself).
    pub nats_connected: bool,
    /// The proxy has been heard from: it passes its subscriptions up to the bridge.
    pub zmq_connected: bool,
}

#[napi]
pub struct NativeBridge {
    inner: Arc<core::nats::Bridge>,
}

#[napi]
impl NativeBridge {
    #[napi(constructor)]
    pub fn new(opts: BridgeOptions) -> Result<Self, CodedError> {
        let inner = core::nats::Bridge::start(core::nats::BridgeOptions {
            frontend: opts.frontend,
            backend: opts.backend,
            nats: opts.nats,
            nats_prefix: opts
                .nats_prefix
                .unwrap_or_else(|| core::nats::subject::DEFAULT_PREFIX.to_string()),
        })
        .map_err(js_err)?;
        Ok(NativeBridge {
            inner: Arc::new(inner),
        })
    }

    #[napi]
    pub fn stats(&self) -> BridgeStats {
        let s = self.inner.stats();
        BridgeStats {
            to_nats: s.to_nats as f64,
            to_zmq: s.to_zmq as f64,
            echoes: s.echoes as f64,
            malformed: s.malformed as f64,
            dropped: s.dropped as f64,
            nats_filters: s.nats_filters as f64,
            zmq_filters: s.zmq_filters as f64,
            nats_connected: s.nats_connected,
            zmq_connected: s.zmq_connected,
        }
    }

    #[napi]
    pub fn nats_error(&self) -> Option<String> {
        self.inner.nats_error()
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Closing> {
        let inner = self.inner.clone();
        AsyncTask::new(Closing::new(move || inner.close()))
    }
}
