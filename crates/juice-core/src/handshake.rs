//! Watches a client socket's handshakes (libzmq socket monitor), so that a refused CURVE client is
//! told why it hears nothing instead of waiting in silence.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

#[derive(Default)]
pub struct HandshakeLog {
    failures: AtomicU64,
    last: Mutex<Option<String>>,
}

impl HandshakeLog {
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// What went wrong the last time, e.g. "the proxy refused this client (CURVE key not allowed)".
    pub fn last_error(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, why: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// The reading end of a socket monitor, polled by the thread that already serves the socket.
pub struct HandshakeMonitor {
    sock: zmq::Socket,
}

impl HandshakeMonitor {
    /// Starts monitoring `target` (a socket of `ctx`). Call before `connect`.
    pub fn attach(ctx: &zmq::Context, target: &zmq::Socket, name: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let addr = format!("inproc://juice-{name}-mon-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let events = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw()
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL.to_raw()
            | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw();
        target
            .monitor(&addr, events as i32)
            .map_err(|e| Error::zmq("socket monitor", e))?;
        let sock = ctx.socket(zmq::PAIR).map_err(|e| Error::zmq("monitor socket", e))?;
        sock.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        sock.connect(&addr).map_err(|e| Error::zmq("monitor connect", e))?;
        Ok(HandshakeMonitor { sock })
    }

    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.sock.as_poll_item(zmq::POLLIN)
    }

    /// Records every pending handshake event into `log`.
    pub fn drain(&self, log: &HandshakeLog) {
        while let Ok(frames) = self.sock.recv_multipart(zmq::DONTWAIT) {
            if let Some(why) = describe(&frames) {
                log.record(why);
            }
        }
    }
}

/// Turns a monitor message (event id + value, then the endpoint) into a sentence for the user.
fn describe(frames: &[Vec<u8>]) -> Option<String> {
    let head = frames.first()?;
    if head.len() < 6 {
        return None;
    }
    let event = u16::from_le_bytes([head[0], head[1]]);
    let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
    let endpoint = frames
        .get(1)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    // Matched on raw ids: the zmq crate's `SocketEvent::from_raw` panics on ids it does not know.
    let why = match u32::from(event) {
        zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH => format!(
            "the proxy at {endpoint} refused this client (status {value}): its CURVE public key is not on the proxy's allowlist"
        ),
        zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL => format!(
            "handshake with {endpoint} failed (ZMTP protocol error {value:#x}): the proxy and this client disagree on security (CURVE on one side only?)"
        ),
        zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL => format!(
            "handshake with {endpoint} failed: check curve.serverKey against the proxy's public key"
        ),
        _ => return None,
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u32, value: u32) -> Vec<Vec<u8>> {
        let mut head = (id as u16).to_le_bytes().to_vec();
        head.extend_from_slice(&value.to_le_bytes());
        vec![head, b"tcp://127.0.0.1:5122".to_vec()]
    }

    #[test]
    fn events_become_sentences() {
        let auth = describe(&event(zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400)).unwrap();
        assert!(auth.contains("tcp://127.0.0.1:5122") && auth.contains("allowlist"), "{auth}");
        assert!(describe(&event(zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x11)).unwrap().contains("CURVE"));
        assert_eq!(describe(&event(zmq_sys::ZMQ_EVENT_CONNECTED, 0)), None);
        assert_eq!(describe(&event(0x7fff, 0)), None);
        assert_eq!(describe(&[vec![1, 2]]), None);
        assert_eq!(describe(&[]), None);
    }
}
