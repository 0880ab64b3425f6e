//! One NATS connection per publisher or subscriber, with its state fed into the same
//! [`HandshakeLog`] the ZeroMQ sockets report through, so `stats().connected` and the status
//! stream mean the same on both transports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

use super::runtime;
use crate::error::{Error, ErrorCode, Result};
use crate::handshake::HandshakeLog;

/// Commands (publishes, subscriptions) the client queues before `publish` reports "would block".
/// Larger than the client's default (2048) so a batch from JavaScript rarely stops half way.
const CLIENT_CAPACITY: usize = 65_536;

/// Whether `uri` names NATS servers rather than a ZeroMQ endpoint.
pub fn is_nats_uri(uri: &str) -> bool {
    let u = uri.trim_start();
    u.starts_with("nats://") || u.starts_with("tls://")
}

/// The servers of a `nats://a:4222,nats://b:4222` list, each checked.
pub(crate) fn servers(uri: &str) -> Result<Vec<String>> {
    let list: Vec<String> = uri
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if list.is_empty() {
        return Err(Error::new(ErrorCode::InvalidUri, "no NATS server given"));
    }
    for s in &list {
        if !is_nats_uri(s) {
            return Err(Error::new(
                ErrorCode::InvalidUri,
                format!(
                    "{s:?} in a NATS server list is not a nats:// (or tls://) URI; separate servers with commas"
                ),
            ));
        }
        if s.parse::<async_nats::ServerAddr>().is_err() {
            return Err(Error::new(
                ErrorCode::InvalidUri,
                format!("{s:?} is not a valid NATS server address (nats://host:port)"),
            ));
        }
    }
    Ok(list)
}

/// Counts what the client reports about the connection.
#[derive(Default)]
pub(crate) struct LinkEvents {
    /// Messages the client dropped because a subscription's buffer was full (NATS "slow
    /// consumer"). The client reports these through a bounded event queue, so this is a lower
    /// bound.
    pub slow_consumer: AtomicU64,
    /// Times the connection came back after a loss.
    pub reconnects: AtomicU64,
}

/// Connects in the background (like ZeroMQ, creating a client never waits for a server) and
/// reconnects without limit, to every server in the list and those the cluster advertises.
pub(crate) fn connect(
    uri: &str,
    role: &str,
    log: Arc<HandshakeLog>,
    events: Arc<LinkEvents>,
) -> Result<Client> {
    let list = servers(uri)?;
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let opts = ConnectOptions::new()
        .name(format!("juice-messaging {role}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .client_capacity(CLIENT_CAPACITY)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let (log, events, first) = (log.clone(), events.clone(), first.clone());
            async move {
                match event {
                    Event::Connected => {
                        log.set_connected(true);
                        if !first.swap(false, Ordering::Relaxed) {
                            events.reconnects.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Event::Disconnected | Event::Closed => log.set_connected(false),
                    Event::SlowConsumer(_) => {
                        events.slow_consumer.fetch_add(1, Ordering::Relaxed);
                    }
                    Event::ServerError(e) => log.record_failure(format!("NATS server: {e}")),
                    Event::ClientError(e) => log.record_failure(format!("NATS client: {e}")),
                    _ => {}
                }
            }
        });
    // With retry_on_initial_connect this returns at once; the limit only guards a defect.
    runtime::block_on(Duration::from_secs(30), opts.connect(list))?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidUri,
                format!("NATS {uri}: connecting did not start"),
            )
        })?
        .map_err(|e| Error::new(ErrorCode::InvalidUri, format!("NATS {uri}: {e}")))
}
