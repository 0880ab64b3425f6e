//! Proxy: the central XSUB/XPUB forwarder, run on a native thread.
//!
//! Publishers connect to the XSUB frontend, subscribers to the XPUB backend. Data flows
//! frontend -> backend frame by frame without copying (the `zmq::Message` is moved); subscription
//! notices flow backend -> frontend, so publishers and the proxy only send what someone wants.
//! The loop counts what it forwards; counters are atomics read by `stats()` from any thread.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::curve::{self, Allowlist, ServerKeys, ZapCounters, ZapHandler};
use crate::error::{Error, Result};
use crate::socket::{self, Control, RawFrame};

/// Upstream Juice's task manager binds publishers' port 5122 and subscribers' port 5123.
pub const DEFAULT_FRONTEND: &str = "tcp://*:5122";
pub const DEFAULT_BACKEND: &str = "tcp://*:5123";

/// Messages forwarded per wake-up before control commands are looked at again.
const DRAIN_LIMIT: usize = 4096;

#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub frontend: String,
    pub backend: String,
    /// `ZMQ_RCVHWM` on the frontend, per publisher connection.
    pub rcv_hwm: i32,
    /// `ZMQ_SNDHWM` on the backend, per subscriber connection. A subscriber that falls this far
    /// behind loses messages at the proxy instead of stalling everyone else.
    pub snd_hwm: i32,
    /// `ZMQ_MAXMSGSIZE` on the frontend: a publisher sending a bigger message is disconnected
    /// (-1 = no limit).
    pub max_message_size: i64,
    /// Wait for a full subscriber instead of dropping for it (`ZMQ_XPUB_NODROP`). Nothing is lost
    /// between proxy and subscribers, but one stalled subscriber stalls every other one.
    pub lossless: bool,
    /// CURVE encryption on both endpoints, admitting only the listed client keys.
    pub curve: Option<ServerKeys>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            frontend: DEFAULT_FRONTEND.into(),
            backend: DEFAULT_BACKEND.into(),
            rcv_hwm: 100_000,
            snd_hwm: 100_000,
            max_message_size: 128 << 20,
            lossless: false,
            curve: None,
        }
    }
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Distinct subscription prefixes live on the backend (XPUB reports only the first subscribe
    /// and the last unsubscribe of each prefix).
    subscriptions: AtomicI64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Messages (whole multipart messages) forwarded to subscribers.
    pub messages: u64,
    /// Bytes forwarded, all frames counted.
    pub bytes: u64,
    /// Distinct live subscription prefixes.
    pub subscriptions: u64,
    /// CURVE handshakes the allowlist admitted.
    pub auth_accepted: u64,
    /// CURVE handshakes refused (unlisted key, or a client without CURVE).
    pub auth_denied: u64,
}

pub struct Proxy {
    frontend: String,
    backend: String,
    counters: Arc<Counters>,
    control: Control,
    thread: Mutex<Option<JoinHandle<()>>>,
    zap: Option<(ZapHandler, Allowlist, Arc<ZapCounters>)>,
    /// Terminated by `close()` once every socket of it is closed: a CURVE proxy's own context
    /// holds threads and descriptors that must not wait for the garbage collector.
    ctx: Mutex<Option<zmq::Context>>,
}

impl Proxy {
    pub fn start(opts: ProxyOptions) -> Result<Self> {
        // ZAP handlers are per context, so a CURVE proxy gets a context of its own; it must not
        // judge connections to other sockets of this process.
        let ctx = match opts.curve {
            Some(_) => zmq::Context::new(),
            None => socket::context().clone(),
        };
        let zap = match &opts.curve {
            Some(keys) => {
                let allow: Allowlist = Arc::new(std::sync::RwLock::new(curve::allowlist_from(
                    &keys.allowed_clients,
                )?));
                let counters = Arc::new(ZapCounters::default());
                let handler = ZapHandler::start(&ctx, allow.clone(), counters.clone())?;
                Some((handler, allow, counters))
            }
            None => None,
        };
        let mut xsub = ctx.socket(zmq::XSUB).map_err(|e| Error::zmq("socket", e))?;
        let mut xpub = ctx.socket(zmq::XPUB).map_err(|e| Error::zmq("socket", e))?;
        for s in [&xsub, &xpub] {
            s.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
        }
        xsub.set_rcvhwm(opts.rcv_hwm)
            .map_err(|e| Error::zmq("rcvhwm", e))?;
        xpub.set_sndhwm(opts.snd_hwm)
            .map_err(|e| Error::zmq("sndhwm", e))?;
        // Subscriptions travel XPUB -> XSUB -> publishers. libzmq drops subscription messages
        // beyond the sending pipe's SNDHWM when it replays them to a new publisher, so with more
        // than 1000 filters some would vanish silently: never limit that direction.
        xsub.set_sndhwm(0).map_err(|e| Error::zmq("sndhwm", e))?;
        xpub.set_rcvhwm(0).map_err(|e| Error::zmq("rcvhwm", e))?;
        xsub.set_maxmsgsize(opts.max_message_size)
            .map_err(|e| Error::zmq("maxmsgsize", e))?;
        if opts.lossless {
            socket::set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
        }
        if let Some(keys) = &opts.curve {
            curve::apply_server(&xsub, &keys.secret_key)?;
            curve::apply_server(&xpub, &keys.secret_key)?;
        }
        let frontend = socket::bind(&xsub, &opts.frontend)?;
        let backend = socket::bind(&xpub, &opts.backend)?;
        let (control, ctl) = Control::pair_in(&ctx, "proxy")?;
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("juice-proxy".into())
            .spawn(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    forward(&mut xsub, &mut xpub, &ctl, &c)
                }));
            })
            .map_err(|e| Error::invalid_arg(format!("cannot start proxy thread: {e}")))?;
        Ok(Proxy {
            frontend,
            backend,
            counters,
            control,
            thread: Mutex::new(Some(thread)),
            zap,
            ctx: Mutex::new(Some(ctx)),
        })
    }

    /// Replaces the CURVE allowlist. Connections already admitted stay; new handshakes are judged
    /// by the new list.
    pub fn set_allowed_clients(&self, keys: &[String]) -> Result<()> {
        let Some((_, allow, _)) = &self.zap else {
            return Err(Error::invalid_arg(
                "this proxy was started without curve options",
            ));
        };
        let set = curve::allowlist_from(keys)?;
        *allow.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }

    /// The endpoint publishers connect to, with the real port when bound to port 0.
    pub fn frontend(&self) -> &str {
        &self.frontend
    }

    /// The endpoint subscribers connect to.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            messages: c.messages.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            subscriptions: c.subscriptions.load(Ordering::Relaxed).max(0) as u64,
            auth_accepted: self
                .zap
                .as_ref()
                .map_or(0, |z| z.2.accepted.load(Ordering::Relaxed)),
            auth_denied: self
                .zap
                .as_ref()
                .map_or(0, |z| z.2.denied.load(Ordering::Relaxed)),
        }
    }

    /// Stops forwarding and unbinds both endpoints. Safe to call more than once.
    pub fn close(&self) {
        self.control.shut(b"q");
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        if let Some((zap, _, _)) = &self.zap {
            zap.close();
        }
        // Dropping the last handle terminates the context (the global one is only a clone).
        drop(self.ctx.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

fn forward(xsub: &mut zmq::Socket, xpub: &mut zmq::Socket, ctl: &zmq::Socket, c: &Counters) {
    let mut frame = RawFrame::new();
    loop {
        let mut items = [
            ctl.as_poll_item(zmq::POLLIN),
            xsub.as_poll_item(zmq::POLLIN),
            xpub.as_poll_item(zmq::POLLIN),
        ];
        match zmq::poll(&mut items, -1) {
            Ok(_) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(_) => return,
        }
        let (ctl_ready, front_ready, back_ready) = (
            items[0].is_readable(),
            items[1].is_readable(),
            items[2].is_readable(),
        );
        if ctl_ready {
            return;
        }
        if back_ready {
            // Subscription notices from subscribers, passed up to the publishers.
            while frame.recv(xpub, zmq::DONTWAIT).is_ok() {
                match frame.first() {
                    Some(1) => {
                        c.subscriptions.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(0) => {
                        c.subscriptions.fetch_sub(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                let _ = frame.send(xsub, 0);
            }
        }
        if front_ready {
            let (mut n, mut bytes) = (0u64, 0u64);
            for _ in 0..DRAIN_LIMIT {
                if frame.recv(xsub, zmq::DONTWAIT).is_err() {
                    break;
                }
                loop {
                    let more = frame.more();
                    bytes += frame.len() as u64;
                    let flags = if more { zmq::SNDMORE } else { 0 };
                    // Without NODROP, XPUB never blocks: at a full subscriber pipe libzmq drops
                    // for that subscriber only. With it (lossless), wait for room.
                    if !send_waiting(&mut frame, xpub, ctl, flags) {
                        return;
                    }
                    if !more || frame.recv(xsub, 0).is_err() {
                        break;
                    }
                }
                n += 1;
            }
            c.messages.fetch_add(n, Ordering::Relaxed);
            c.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// Sends `frame`, waiting while a lossless backend is full. Returns false if told to quit meanwhile.
fn send_waiting(
    frame: &mut RawFrame,
    xpub: &mut zmq::Socket,
    ctl: &zmq::Socket,
    flags: i32,
) -> bool {
    loop {
        match frame.send(xpub, flags | zmq::DONTWAIT) {
            Err(zmq::Error::EAGAIN) => {
                let mut items = [
                    ctl.as_poll_item(zmq::POLLIN),
                    xpub.as_poll_item(zmq::POLLOUT),
                ];
                if zmq::poll(&mut items, 100).is_ok() && items[0].is_readable() {
                    return false;
                }
            }
            // Other errors (no subscribers at all) drop the frame, as XPUB always does.
            _ => return true,
        }
    }
}
