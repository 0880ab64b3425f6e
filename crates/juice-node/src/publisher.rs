//! `NativePublisher`: sends encoded batches (src/records.ts layout) through the core publisher;
//! waits and closes can run off the JS thread as async tasks.

use std::sync::Arc;
use std::time::Duration;

use juice_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::closing::Closing;
use crate::errors::{js_err, ms, CodedError};
use crate::options::PublisherOptions;

#[napi(object)]
pub struct PublisherStats {
    pub sent: f64,
    pub blocked: f64,
    pub unrouted: f64,
    pub handshake_failures: f64,
    pub connected: bool,
    /// `close()` ran out of linger with events still queued in libzmq (see core::PublisherStats).
    pub linger_expired: bool,
    /// JetStream publishers: events a stream acknowledged.
    pub stored: f64,
    /// JetStream publishers: events not stored after every attempt.
    pub not_stored: f64,
    /// JetStream publishers: events sent again after a missing acknowledgement (see core).
    pub resent: f64,
}

#[napi]
pub struct NativePublisher {
    inner: Arc<core::Publisher>,
}

#[napi]
impl NativePublisher {
    #[napi(constructor)]
    pub fn new(uri: String, opts: PublisherOptions) -> Result<Self, CodedError> {
        let inner = core::Publisher::connect(&uri, opts.into()).map_err(js_err)?;
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
    #[napi(ts_return_type = "Promise<boolean>")]
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
            stored: s.stored as f64,
            not_stored: s.not_stored as f64,
            resent: s.resent as f64,
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
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Closing> {
        let inner = self.inner.clone();
        AsyncTask::new(Closing::new(move || inner.close()))
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
