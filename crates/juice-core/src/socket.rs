//! Shared ZMQ plumbing: the process-wide context, endpoint checks, and the inproc control
//! channel that lets a caller wake a worker thread blocked in `zmq::poll`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::context::Ctx;

use crate::error::{Error, ErrorCode, Result};

/// One context for the whole process: libzmq recommends it, and it lets inproc endpoints work
/// between any two objects we create.
pub fn context() -> &'static Ctx {
    crate::context::global()
}

/// How long socket creation waits for libzmq's reaper to free slots (see [`retry_emfile`]).
const SOCKET_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `f` again while it fails with EMFILE, for up to two seconds. libzmq closes sockets in the
/// background (its reaper thread), and a context holds at most 1023 of them: a burst of short-lived
/// objects on a busy machine can find every slot still being reaped. Only a real excess (more
/// than the context's socket limit open at once) waits out the limit and fails.
pub fn retry_emfile<T>(what: &str, mut f: impl FnMut() -> zmq::Result<T>) -> Result<T> {
    let give_up = std::time::Instant::now() + SOCKET_SLOT_WAIT;
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match f() {
            Err(zmq::Error::EMFILE) if std::time::Instant::now() < give_up => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Err(zmq::Error::EMFILE) => {
                return Err(Error::zmq(
                    what,
                    zmq::Error::EMFILE,
                )
                .with_hint(&format!("this process may hold {} libzmq sockets (about 5 per subscriber), within its file-descriptor limit (ulimit -n); close publishers and subscribers you no longer need", context().max_sockets())))
            }
            Err(e) => return Err(Error::zmq(what, e)),
            Ok(v) => return Ok(v),
        }
    }
}

/// A new socket of `ctx`, waiting briefly for slots that are still being reaped.
pub fn open(ctx: &Ctx, kind: zmq::SocketType, what: &str) -> Result<zmq::Socket> {
    retry_emfile(what, || ctx.socket(kind))
}

/// Rejects URIs libzmq would misread, before touching a socket, with a message naming the URI.
pub fn check_uri(uri: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::new(
            ErrorCode::InvalidUri,
            format!("invalid URI {uri:?}: {why}"),
        ))
    };
    let Some((scheme, rest)) = uri.split_once("://") else {
        return bad("expected scheme://address, e.g. tcp://127.0.0.1:5123");
    };
    if rest.is_empty() {
        return bad("the address after :// is empty");
    }
    match scheme {
        "tcp" => {
            let Some((host, port)) = rest.rsplit_once(':') else {
                return bad("tcp needs host:port");
            };
            if host.is_empty() {
                return bad("tcp host is empty");
            }
            if port != "*" && port.parse::<u16>().is_err() {
                return bad("tcp port must be a number from 0 to 65535 or *");
            }
            Ok(())
        }
        "ipc" | "inproc" => Ok(()),
        _ => bad(&format!(
            "unsupported scheme {scheme:?}; use tcp, ipc or inproc"
        )),
    }
}

pub fn connect(sock: &zmq::Socket, uri: &str) -> Result<()> {
    check_uri(uri)?;
    sock.connect(uri).map_err(|e| {
        Error::new(
            ErrorCode::InvalidUri,
            format!("cannot connect to {uri:?}: {e}"),
        )
    })
}

/// Binds and returns the endpoint actually bound, so port 0 and `*` resolve to real ports.
pub fn bind(sock: &zmq::Socket, uri: &str) -> Result<String> {
    check_uri(uri)?;
    // libzmq spells "any port" as `*`; accept the more familiar port 0 too.
    let spelled = match uri.strip_suffix(":0") {
        Some(head) if uri.starts_with("tcp://") => format!("{head}:*"),
        _ => uri.to_owned(),
    };
    sock.bind(&spelled).map_err(|e| {
        // A malformed address is the URI's fault; anything else (in use, not local, no
        // permission) is the machine's.
        let code = match e {
            zmq::Error::EINVAL | zmq::Error::EPROTONOSUPPORT | zmq::Error::ENOCOMPATPROTO => {
                ErrorCode::InvalidUri
            }
            _ => ErrorCode::Bind,
        };
        Error::new(code, format!("cannot bind {uri:?}: {e}"))
    })?;
    match sock.get_last_endpoint() {
        Ok(Ok(ep)) => Ok(ep),
        _ => Ok(uri.to_owned()),
    }
}

/// Sets an integer socket option the `zmq` crate does not wrap (such as `ZMQ_XPUB_NODROP`).
pub fn set_int_option(sock: &mut zmq::Socket, option: u32, value: i32) -> Result<()> {
    // SAFETY: the socket pointer is valid for the life of `sock`, and the value pointer and size
    // describe a live i32, which is what libzmq reads for integer options.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            sock.as_mut_ptr(),
            option as std::os::raw::c_int,
            &value as *const i32 as *const std::os::raw::c_void,
            std::mem::size_of::<i32>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::zmq(
            &format!("setsockopt {option}"),
            zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }),
        ))
    }
}

/// Runs a libzmq call again for as long as a signal interrupts it (profilers and debuggers send
/// signals; an EINTR in the middle of a multipart message must not split it).
pub fn retry_eintr<T>(mut call: impl FnMut() -> zmq::Result<T>) -> zmq::Result<T> {
    loop {
        match call() {
            Err(zmq::Error::EINTR) => continue,
            other => return other,
        }
    }
}

/// Receives the next frame, retrying on EINTR.
pub fn recv_frame(sock: &zmq::Socket, msg: &mut zmq::Message, flags: i32) -> zmq::Result<()> {
    retry_eintr(|| sock.recv(msg, flags))
}

/// Sends a frame, retrying when a signal interrupts the call.
pub fn send_frame<T: zmq::Sendable + Clone>(
    sock: &zmq::Socket,
    data: T,
    flags: i32,
) -> zmq::Result<()> {
    retry_eintr(|| sock.send(data.clone(), flags))
}

/// A ZMQ frame handled through the C API, for the proxy's forwarding loop: unlike the `zmq`
/// crate's `send`, which consumes the message, a send interrupted by a signal leaves the frame
/// here to be sent again, so forwarding never loses or splits a message.
pub struct RawFrame {
    msg: zmq_sys::zmq_msg_t,
}

impl RawFrame {
    pub fn new() -> Self {
        // SAFETY: zmq_msg_init only writes the (zeroed) struct it is given; it cannot fail.
        unsafe {
            let mut msg: zmq_sys::zmq_msg_t = std::mem::zeroed();
            zmq_sys::zmq_msg_init(&mut msg);
            RawFrame { msg }
        }
    }

    fn result(rc: std::os::raw::c_int) -> zmq::Result<()> {
        if rc >= 0 {
            Ok(())
        } else {
            // SAFETY: zmq_errno reads libzmq's thread-local errno.
            Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
        }
    }

    /// Receives the next frame into `self`, retrying on EINTR.
    pub fn recv(&mut self, sock: &mut zmq::Socket, flags: i32) -> zmq::Result<()> {
        retry_eintr(|| {
            // SAFETY: both pointers are valid: the socket for the life of `sock`, the message
            // for the life of `self`, which libzmq closes and refills.
            Self::result(unsafe { zmq_sys::zmq_msg_recv(&mut self.msg, sock.as_mut_ptr(), flags) })
        })
    }

    /// Moves the frame into the socket (leaving `self` empty), retrying on EINTR.
    pub fn send(&mut self, sock: &mut zmq::Socket, flags: i32) -> zmq::Result<()> {
        retry_eintr(|| {
            // SAFETY: as in `recv`; on failure libzmq leaves the message untouched.
            Self::result(unsafe { zmq_sys::zmq_msg_send(&mut self.msg, sock.as_mut_ptr(), flags) })
        })
    }

    pub fn more(&self) -> bool {
        // SAFETY: the message is initialised for the life of `self`.
        unsafe { zmq_sys::zmq_msg_more(&self.msg) != 0 }
    }

    /// The frame's size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: as above.
        unsafe { zmq_sys::zmq_msg_size(&self.msg) }
    }

    /// The frame's bytes, valid until the next receive or send.
    pub fn bytes(&mut self) -> &[u8] {
        let len = self.size();
        if len == 0 {
            return &[];
        }
        // SAFETY: libzmq guarantees `len` readable bytes at zmq_msg_data while the message is
        // unchanged, and the returned borrow of `self` prevents any change meanwhile.
        unsafe {
            std::slice::from_raw_parts(zmq_sys::zmq_msg_data(&mut self.msg) as *const u8, len)
        }
    }

    /// First byte of the frame, if any.
    pub fn first(&mut self) -> Option<u8> {
        if self.size() == 0 {
            return None;
        }
        // SAFETY: the frame holds at least one byte at zmq_msg_data.
        Some(unsafe { *(zmq_sys::zmq_msg_data(&mut self.msg) as *const u8) })
    }
}

impl Default for RawFrame {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RawFrame {
    fn drop(&mut self) {
        // SAFETY: closing an initialised message exactly once.
        unsafe {
            zmq_sys::zmq_msg_close(&mut self.msg);
        }
    }
}

/// Caller's end of a worker's control channel. Commands are single ZMQ messages; the worker polls
/// its end together with its data sockets, so a command wakes it at once.
pub struct Control {
    sock: Mutex<Option<zmq::Socket>>,
}

impl Control {
    /// Creates a connected pair: the caller's `Control` and the worker's socket.
    pub fn pair(kind: &str) -> Result<(Control, zmq::Socket)> {
        Self::pair_in(context(), kind)
    }

    /// The same, in a given context (inproc endpoints only join sockets of one context).
    pub fn pair_in(ctx: &Ctx, kind: &str) -> Result<(Control, zmq::Socket)> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let addr = format!(
            "inproc://juice-{kind}-ctl-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let worker = open(ctx, zmq::PAIR, "control socket")?;
        worker
            .bind(&addr)
            .map_err(|e| Error::zmq("control bind", e))?;
        let caller = open(ctx, zmq::PAIR, "control socket")?;
        caller
            .connect(&addr)
            .map_err(|e| Error::zmq("control connect", e))?;
        Ok((
            Control {
                sock: Mutex::new(Some(caller)),
            },
            worker,
        ))
    }

    /// Sends one command. Fails with "closed" once `shut` has run.
    pub fn send(&self, what: &str, cmd: &[u8]) -> Result<()> {
        let guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let sock = guard.as_ref().ok_or_else(|| Error::closed(what))?;
        sock.send(cmd, 0).map_err(|e| Error::zmq("control send", e))
    }

    /// Sends a last command and closes the caller's end. Returns false if already shut.
    pub fn shut(&self, cmd: &[u8]) -> bool {
        let mut guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        match guard.take() {
            Some(sock) => {
                let _ = sock.send(cmd, 0);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_errors_name_the_uri() {
        for bad in [
            "",
            "localhost:5",
            "tcp://",
            "tcp://host",
            "tcp://h:99999",
            "udp://h:1",
            "tcp://:5",
        ] {
            let e = check_uri(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidUri);
            assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
        }
        for good in [
            "tcp://127.0.0.1:5123",
            "tcp://*:0",
            "tcp://[::1]:7",
            "ipc:///tmp/x",
            "inproc://a",
        ] {
            check_uri(good).unwrap();
        }
    }

    #[test]
    fn port_zero_binds_a_real_port() {
        let s = context().socket(zmq::PUB).unwrap();
        let ep = bind(&s, "tcp://127.0.0.1:0").unwrap();
        assert!(ep.starts_with("tcp://127.0.0.1:"));
        assert!(!ep.ends_with(":0"), "{ep}");
    }
}
