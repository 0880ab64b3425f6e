//! `NativeProxy`: the XSUB/XPUB proxy on its native thread, its counters and topic registry,
//! and the client side of its query endpoint.

use juice_core as core;
use napi::bindgen_prelude::{AsyncTask, Env, Result, Task};
use napi_derive::napi;

use crate::errors::{js_err, CodedError};
use crate::options::{ClientCurve, ProxyOptions};

#[napi(object)]
pub struct ProxyStats {
    pub messages: f64,
    pub bytes: f64,
    pub subscriptions: f64,
    /// CURVE handshakes admitted by the allowlist.
    pub auth_accepted: f64,
    /// CURVE handshakes refused.
    pub auth_denied: f64,
    /// Open connections from publishers (frontend).
    pub publishers: f64,
    /// Open connections from subscribers (backend).
    pub subscribers: f64,
    /// Backend notices not passed on (too long, or not a subscription).
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

/// What a query came to: its JSON answer, or the core error's code and message (an async task
/// rejects with a plain status, so the code travels here and TypeScript throws).
#[napi(object)]
pub struct QueryOutcome {
    pub json: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl From<std::result::Result<String, core::Error>> for QueryOutcome {
    fn from(r: std::result::Result<String, core::Error>) -> Self {
        match r {
            Ok(json) => QueryOutcome {
                json: Some(json),
                code: None,
                message: None,
            },
            Err(e) => QueryOutcome {
                json: None,
                code: Some(e.code.as_str().to_string()),
                message: Some(e.message),
            },
        }
    }
}

/// Sends `request` ("topics" or "stats") to a proxy's query endpoint, off the JS thread.
#[napi(ts_return_type = "Promise<QueryOutcome>")]
pub fn proxy_query(
    uri: String,
    request: String,
    timeout_ms: u32,
    curve: Option<ClientCurve>,
) -> AsyncTask<Query> {
    AsyncTask::new(Query {
        uri,
        request,
        timeout_ms: timeout_ms.min(i32::MAX as u32) as i32,
        keys: curve.map(Into::into),
    })
}

pub struct Query {
    uri: String,
    request: String,
    timeout_ms: i32,
    keys: Option<core::ClientKeys>,
}

impl Task for Query {
    type Output = std::result::Result<String, core::Error>;
    type JsValue = QueryOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(core::proxy::query(
            &self.uri,
            &self.request,
            self.timeout_ms,
            self.keys.as_ref(),
        ))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<QueryOutcome> {
        Ok(output.into())
    }
}

#[napi]
pub struct NativeProxy {
    inner: core::Proxy,
}

#[napi]
impl NativeProxy {
    #[napi(constructor)]
    pub fn new(opts: ProxyOptions) -> Result<Self, CodedError> {
        let inner = core::Proxy::start(opts.into()).map_err(js_err)?;
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
