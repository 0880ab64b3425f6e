//! `NativeBridge`: the ZeroMQ <-> NATS bridge of the core, its counters, and closing off the JS
//! thread.

use std::sync::Arc;

use juice_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::{js_err, CodedError};

#[napi(object)]
pub struct BridgeOptions {
    pub frontend: String,
    pub backend: String,
    pub nats: String,
    pub nats_prefix: Option<String>,
}

#[napi(object)]
pub struct BridgeStats {
    pub to_nats: f64,
    pub to_zmq: f64,
    pub echoes: f64,
    pub malformed: f64,
    pub dropped: f64,
    pub nats_filters: f64,
    pub zmq_filters: f64,
    pub nats_connected: bool,
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
    pub fn close(&self) -> AsyncTask<CloseBridge> {
        AsyncTask::new(CloseBridge {
            inner: self.inner.clone(),
        })
    }
}

pub struct CloseBridge {
    inner: Arc<core::nats::Bridge>,
}

impl Task for CloseBridge {
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
