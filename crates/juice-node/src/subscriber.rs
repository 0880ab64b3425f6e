//! `NativeSubscriber`: subscriptions, and batches of received records (src/records.ts layout)
//! copied from the core's inbox into a JS buffer, waiting or not.

use juice_core as core;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::errors::{copied, js_err, ms, CodedError};
use crate::options::SubscriberOptions;

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
    /// Handshakes with the proxy that failed (refused CURVE key, security mismatch).
    pub handshake_failures: f64,
    /// A connection to the proxy is up (its handshake completed).
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
        let inner = core::Subscriber::connect(&uri, opts.into()).map_err(js_err)?;
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

    /// Durable subscribers with manual acknowledgement: the first `n` events taken are done.
    #[napi]
    pub fn acknowledge(&self, n: f64) -> Result<(), CodedError> {
        self.inner.acknowledge(n as u64).map_err(js_err)
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
