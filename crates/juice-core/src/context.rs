//! ZMQ contexts. The `zmq` crate's `Context` hides its raw handle, so it cannot set
//! `ZMQ_MAX_SOCKETS`; this thin wrapper owns the handle itself and hands out ordinary
//! `zmq::Socket`s.
//!
//! One process-wide context ([`global`]) serves every socket: publishers, subscribers, proxies
//! (CURVE ones too: they share one ZAP handler, see `curve.rs`) and queries. It lives as long as
//! the process; objects stop their own threads and close their own sockets.

use std::os::raw::{c_int, c_void};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Descriptors left for everything that is not a libzmq socket (files, the Node runtime, TCP
/// connections, which do not count against the socket limit but do use descriptors).
const FD_RESERVE: u64 = 256;

pub struct Ctx {
    raw: *mut c_void,
}

// SAFETY: a libzmq context is thread safe (zmq_ctx_* and zmq_socket may be called from any
// thread); the pointer is only ever passed to those functions.
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

impl Ctx {
    fn create() -> Result<Ctx> {
        // SAFETY: zmq_ctx_new has no preconditions; a null result is handled.
        let raw = unsafe { zmq_sys::zmq_ctx_new() };
        if raw.is_null() {
            return Err(Error::zmq("zmq_ctx_new", last_error()));
        }
        Ok(Ctx { raw })
    }

    /// Raises the socket limit (default 1023) to `n`, clipped to what libzmq supports. Only
    /// effective before the first socket is created.
    fn set_max_sockets(&self, n: u64) -> i32 {
        // SAFETY: the context is live; zmq_ctx_get/zmq_ctx_set only read and write its options.
        unsafe {
            let limit =
                zmq_sys::zmq_ctx_get(self.raw, zmq_sys::ZMQ_SOCKET_LIMIT as c_int).max(1023);
            let n = n.clamp(1023, limit as u64) as c_int;
            if zmq_sys::zmq_ctx_set(self.raw, zmq_sys::ZMQ_MAX_SOCKETS as c_int, n) != 0 {
                return 1023;
            }
            n
        }
    }

    /// Most sockets this context may hold at once.
    pub fn max_sockets(&self) -> i32 {
        // SAFETY: as above.
        unsafe { zmq_sys::zmq_ctx_get(self.raw, zmq_sys::ZMQ_MAX_SOCKETS as c_int) }
    }

    /// A new socket of this context.
    pub fn socket(&self, kind: zmq::SocketType) -> zmq::Result<zmq::Socket> {
        // SAFETY: the context is live for the call; a null result is turned into an error.
        let raw = unsafe { zmq_sys::zmq_socket(self.raw, socket_type(kind)) };
        if raw.is_null() {
            return Err(last_error());
        }
        // SAFETY: `raw` is a socket we just created and own; the returned Socket closes it.
        Ok(unsafe { zmq::Socket::from_raw(raw) })
    }
}

/// The process-wide context, with a socket limit sized to the process's descriptor limit: at
/// libzmq's default of 1023 a process could hold only about 200 subscribers.
pub fn global() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = match Ctx::create() {
            Ok(c) => c,
            // Out of memory or descriptors at the very start: nothing can work; report it on
            // the first socket instead of panicking here.
            Err(_) => Ctx {
                raw: std::ptr::null_mut(),
            },
        };
        if !ctx.raw.is_null() {
            ctx.set_max_sockets(fd_limit().saturating_sub(FD_RESERVE));
        }
        ctx
    })
}

/// The soft limit on open descriptors (Node raises it to the hard limit at startup).
fn fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    // rlim_t is u64 on the 64-bit targets built today, but not by definition.
    #[allow(clippy::unnecessary_cast)]
    let cur = lim.rlim_cur as u64;
    cur
}

fn last_error() -> zmq::Error {
    // SAFETY: zmq_errno reads libzmq's thread-local errno.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}

fn socket_type(kind: zmq::SocketType) -> c_int {
    use zmq::SocketType::*;
    (match kind {
        PAIR => zmq_sys::ZMQ_PAIR,
        PUB => zmq_sys::ZMQ_PUB,
        SUB => zmq_sys::ZMQ_SUB,
        REQ => zmq_sys::ZMQ_REQ,
        REP => zmq_sys::ZMQ_REP,
        DEALER => zmq_sys::ZMQ_DEALER,
        ROUTER => zmq_sys::ZMQ_ROUTER,
        PULL => zmq_sys::ZMQ_PULL,
        PUSH => zmq_sys::ZMQ_PUSH,
        XPUB => zmq_sys::ZMQ_XPUB,
        XSUB => zmq_sys::ZMQ_XSUB,
        STREAM => zmq_sys::ZMQ_STREAM,
    }) as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_context_allows_more_than_1023_sockets_when_descriptors_allow() {
        let want = fd_limit().saturating_sub(FD_RESERVE).max(1023);
        assert!(global().max_sockets() as u64 >= want.min(65535).min(1023));
        if fd_limit() > 4096 {
            assert!(global().max_sockets() > 1023, "{}", global().max_sockets());
        }
    }
}
