//! Socket monitors (libzmq's connection events), read by the thread that already serves the
//! socket: a client learns whether it is connected and why a handshake failed, so a refused CURVE
//! client is told why it hears nothing; the proxy counts its connected clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::socket;

#[derive(Default)]
pub struct HandshakeLog {
    failures: AtomicU64,
    /// Connections that completed a handshake and have not dropped since.
    connected: AtomicU64,
    last: Mutex<Option<String>>,
}

impl HandshakeLog {
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// What went wrong the last time, e.g. "the proxy refused this client (CURVE key not allowed)".
    pub fn last_error(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A link that reports its state as a whole (a NATS connection) sets it here.
    pub(crate) fn set_connected(&self, up: bool) {
        self.connected.store(u64::from(up), Ordering::Relaxed);
    }

    pub(crate) fn record_failure(&self, why: String) {
        self.record(why);
    }

    fn record(&self, why: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// The reading end of a socket monitor, polled by the thread that already serves the socket.
pub struct SocketMonitor {
    sock: zmq::Socket,
}

impl SocketMonitor {
    /// Starts monitoring `events` (a mask of `ZMQ_EVENT_*`) of `target`, a socket of `ctx`.
    /// Call before `connect`/`bind`, so no event is missed.
    pub fn attach(
        ctx: &crate::context::Ctx,
        target: &zmq::Socket,
        name: &str,
        events: u32,
    ) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let addr = format!(
            "inproc://juice-{name}-mon-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        socket::retry_emfile("socket monitor", || target.monitor(&addr, events as i32))?;
        let sock = socket::open(ctx, zmq::PAIR, "monitor socket")?;
        sock.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        // libzmq sends events with a blocking send from its I/O thread: a full pipe would stall
        // every socket of the context, so the pipe has no limit (events are few and small).
        sock.set_rcvhwm(0).map_err(|e| Error::zmq("rcvhwm", e))?;
        sock.connect(&addr)
            .map_err(|e| Error::zmq("monitor connect", e))?;
        Ok(SocketMonitor { sock })
    }

    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.sock.as_poll_item(zmq::POLLIN)
    }

    /// Stops monitoring `target`. Must run before `target` is closed and before this reader is
    /// dropped: libzmq emits events while it tears a closed socket down, and its blocking send
    /// to a monitor pipe without a reader would hang the context's I/O thread for good.
    pub fn detach(&self, target: &mut zmq::Socket) {
        // SAFETY: `target` is a live socket, used from the thread that owns it; a null endpoint
        // is libzmq's documented way to stop a monitor.
        unsafe {
            zmq_sys::zmq_socket_monitor(target.as_mut_ptr(), std::ptr::null(), 0);
        }
    }

    /// After `target` was closed with `ZMQ_EVENT_MONITOR_STOPPED` in the mask: reads events
    /// until libzmq reports the monitor stopped, which it does when it finally destroys the
    /// socket, i.e. once everything queued was written or linger ran out. Returns false if that
    /// took longer than `timeout` (the reader must then be kept, not dropped).
    pub fn wait_stopped(&self, timeout: std::time::Duration) -> bool {
        let give_up = std::time::Instant::now() + timeout;
        loop {
            let mut stopped = false;
            self.drain(|event, _, _| stopped |= event == zmq_sys::ZMQ_EVENT_MONITOR_STOPPED);
            if stopped {
                return true;
            }
            let left = give_up.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut items = [self.poll_item()];
            let _ = zmq::poll(&mut items, left.as_millis().clamp(1, 1000) as i64);
        }
    }

    /// Calls `on_event(event id, value, endpoint frames)` for every pending event.
    pub fn drain(&self, mut on_event: impl FnMut(u32, u32, &[Vec<u8>])) {
        while let Ok(frames) = self.sock.recv_multipart(zmq::DONTWAIT) {
            if let Some(head) = frames.first().filter(|h| h.len() >= 6) {
                let event = u16::from_le_bytes([head[0], head[1]]) as u32;
                let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
                on_event(event, value, &frames);
            }
        }
    }
}

/// A client socket's monitor: connection state and handshake failures.
pub struct HandshakeMonitor(SocketMonitor);

impl HandshakeMonitor {
    pub fn attach(ctx: &crate::context::Ctx, target: &zmq::Socket, name: &str) -> Result<Self> {
        SocketMonitor::attach(ctx, target, name, Self::EVENTS).map(HandshakeMonitor)
    }

    /// As [`HandshakeMonitor::attach`], also reporting when libzmq destroys the socket, for a
    /// close that waits on [`HandshakeMonitor::wait_closed`] instead of detaching.
    pub fn attach_until_closed(
        ctx: &crate::context::Ctx,
        target: &zmq::Socket,
        name: &str,
    ) -> Result<Self> {
        let events = Self::EVENTS | zmq_sys::ZMQ_EVENT_MONITOR_STOPPED;
        SocketMonitor::attach(ctx, target, name, events).map(HandshakeMonitor)
    }

    const EVENTS: u32 = zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        | zmq_sys::ZMQ_EVENT_HANDSHAKE_SUCCEEDED
        | zmq_sys::ZMQ_EVENT_DISCONNECTED;

    /// See [`SocketMonitor::wait_stopped`].
    pub fn wait_closed(&self, timeout: std::time::Duration) -> bool {
        self.0.wait_stopped(timeout)
    }

    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.0.poll_item()
    }

    /// See [`SocketMonitor::detach`].
    pub fn detach(&self, target: &mut zmq::Socket) {
        self.0.detach(target)
    }

    /// Records every pending event into `log`.
    pub fn drain(&self, log: &HandshakeLog) {
        self.0.drain(|event, _, frames| match event {
            zmq_sys::ZMQ_EVENT_HANDSHAKE_SUCCEEDED => {
                log.connected.fetch_add(1, Ordering::Relaxed);
            }
            zmq_sys::ZMQ_EVENT_DISCONNECTED => {
                // Only connections that completed a handshake were counted.
                let _ = log
                    .connected
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            }
            _ => {
                if let Some(why) = describe(frames) {
                    log.record(why);
                }
            }
        });
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
            "handshake with {endpoint} failed: check that CURVE is on (or off) on both sides and that curve.serverKey is the proxy's public key"
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
        assert!(
            auth.contains("tcp://127.0.0.1:5122") && auth.contains("allowlist"),
            "{auth}"
        );
        assert!(
            describe(&event(zmq_sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x11))
                .unwrap()
                .contains("CURVE")
        );
        assert_eq!(describe(&event(zmq_sys::ZMQ_EVENT_CONNECTED, 0)), None);
        assert_eq!(describe(&event(0x7fff, 0)), None);
        assert_eq!(describe(&[vec![1, 2]]), None);
        assert_eq!(describe(&[]), None);
    }
}
