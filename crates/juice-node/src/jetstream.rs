//! JetStream administration off the JS thread: make sure a stream exists, read its counts, read
//! the last event of a subject. Results travel as JSON text, errors as code and message (an
//! async task rejects with a plain status), like the proxy's queries.

use std::time::Duration;

use juice_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::proxy::QueryOutcome;

#[napi(object)]
pub struct StreamOptions {
    pub name: String,
    pub nats_prefix: Option<String>,
    pub types: Vec<String>,
    pub replicas: u32,
    pub max_age_ms: Option<f64>,
    pub last_value_only: bool,
}

enum Job {
    Ensure(core::nats::jetstream::StreamOptions),
    Info(String),
    Last {
        stream: String,
        prefix: String,
        type_name: String,
        topic: Option<String>,
    },
}

pub struct Admin {
    uri: String,
    job: Job,
}

fn summary_json(s: &core::nats::jetstream::StreamSummary) -> String {
    s.to_json()
}

impl Task for Admin {
    type Output = std::result::Result<Option<String>, core::Error>;
    type JsValue = QueryOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        use core::nats::jetstream as js;
        Ok(match &self.job {
            Job::Ensure(o) => js::ensure_stream(&self.uri, o).map(|s| Some(summary_json(&s))),
            Job::Info(name) => js::stream_info(&self.uri, name).map(|s| Some(summary_json(&s))),
            Job::Last {
                stream,
                prefix,
                type_name,
                topic,
            } => js::last_value(&self.uri, stream, prefix, type_name, topic.as_deref()),
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<QueryOutcome> {
        Ok(output
            .map(|json| json.unwrap_or_else(|| "null".to_string()))
            .into())
    }
}

fn prefix(p: Option<String>) -> String {
    p.unwrap_or_else(|| core::nats::subject::DEFAULT_PREFIX.to_string())
}

/// Creates the stream (or checks the existing one); resolves with its summary as JSON.
#[napi(ts_return_type = "Promise<QueryOutcome>")]
pub fn jetstream_ensure_stream(uri: String, opts: StreamOptions) -> AsyncTask<Admin> {
    AsyncTask::new(Admin {
        uri,
        job: Job::Ensure(core::nats::jetstream::StreamOptions {
            name: opts.name,
            prefix: prefix(opts.nats_prefix),
            types: opts.types,
            replicas: opts.replicas as usize,
            max_age: opts.max_age_ms.map(|ms| Duration::from_millis(ms as u64)),
            last_value_only: opts.last_value_only,
        }),
    })
}

/// The stream's summary as JSON.
#[napi(ts_return_type = "Promise<QueryOutcome>")]
pub fn jetstream_stream_info(uri: String, name: String) -> AsyncTask<Admin> {
    AsyncTask::new(Admin {
        uri,
        job: Job::Info(name),
    })
}

/// The payload of the last event stored for a type and topic, or "null".
#[napi(ts_return_type = "Promise<QueryOutcome>")]
pub fn jetstream_last_value(
    uri: String,
    stream: String,
    nats_prefix: Option<String>,
    type_name: String,
    topic: Option<String>,
) -> AsyncTask<Admin> {
    AsyncTask::new(Admin {
        uri,
        job: Job::Last {
            stream,
            prefix: prefix(nats_prefix),
            type_name,
            topic,
        },
    })
}
