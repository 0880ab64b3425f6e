//! The proxy's query endpoint, answering `topics` and `stats` with JSON, served by a thread of its
//! own so that building a large answer never holds up forwarding; and the client side of it,
//! [`query`].
//!
//! Clients are REQ sockets. The endpoint is a ROUTER rather than a REP: a REP must answer every
//! request and queues answers without limit for a client that pipelines requests and never
//! reads, each a copy of a possibly multi-megabyte topic list. The ROUTER keeps at most
//! [`REPLIES_QUEUED`] answers per client and drops (and counts) the rest.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::curve::ClientKeys;
use crate::error::{Error, ErrorCode, Result};
use crate::socket::{self, Control};
use crate::topic_registry::TopicRegistry;

/// Longest frame the endpoint reads; longer ones make libzmq drop the connection. The limit
/// applies to handshake commands too, and a CURVE INITIATE with its metadata takes a few hundred
/// bytes; requests themselves are a few bytes.
pub const MAX_REQUEST_BYTES: i64 = crate::proxy::MIN_FRAME_LIMIT as i64;

/// Answers libzmq may hold for one client that is not reading them.
pub const REPLIES_QUEUED: i32 = 2;

/// Prepares a bound query socket (a ROUTER): frame size limit, per-client reply bound, and
/// "fail instead of silently dropping" for full or vanished clients.
pub fn configure(sock: &mut zmq::Socket) -> Result<()> {
    sock.set_maxmsgsize(MAX_REQUEST_BYTES)
        .map_err(|e| Error::zmq("maxmsgsize", e))?;
    sock.set_sndhwm(REPLIES_QUEUED)
        .map_err(|e| Error::zmq("sndhwm", e))?;
    sock.set_router_mandatory(true)
        .map_err(|e| Error::zmq("router_mandatory", e))?;
    Ok(())
}

/// How long a rendered `topics` answer is reused: the registry changes only every 100 ms, so a
/// flood of requests costs one rendering per interval, not one per request.
const TOPICS_CACHE: Duration = Duration::from_millis(100);

/// Renders the `stats` answer; supplied by the proxy, which owns the counters.
pub type StatsJson = Box<dyn Fn() -> String + Send>;

pub struct QueryServer {
    control: Control,
    thread: Option<JoinHandle<()>>,
}

impl QueryServer {
    /// Serves `sock` (a bound REP socket) until [`QueryServer::close`].
    pub fn start(
        ctx: &crate::context::Ctx,
        sock: zmq::Socket,
        topics: Arc<TopicRegistry>,
        stats: StatsJson,
    ) -> Result<Self> {
        let (control, ctl) = Control::pair_in(ctx, "query")?;
        let mut server = Server {
            sock,
            ctl,
            topics,
            stats,
            cached: None,
        };
        let thread = std::thread::Builder::new()
            .name("juice-proxy-query".into())
            .spawn(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.run()));
            })
            .map_err(|e| Error::invalid_arg(format!("cannot start query thread: {e}")))?;
        Ok(QueryServer {
            control,
            thread: Some(thread),
        })
    }

    pub fn close(&mut self) {
        self.control.shut(b"q");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for QueryServer {
    fn drop(&mut self) {
        self.close();
    }
}

struct Server {
    sock: zmq::Socket,
    ctl: zmq::Socket,
    topics: Arc<TopicRegistry>,
    stats: StatsJson,
    cached: Option<(Instant, String)>,
}

impl Server {
    fn run(&mut self) {
        loop {
            let mut items = [
                self.ctl.as_poll_item(zmq::POLLIN),
                self.sock.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, -1) {
                Ok(_) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(_) => return,
            }
            if items[0].is_readable() {
                return;
            }
            if items[1].is_readable() {
                self.answer();
            }
        }
    }

    /// Answers every request waiting. A request is `[client id, empty, body]` as a REQ sends it;
    /// anything else is skipped.
    fn answer(&mut self) {
        while let Ok(frames) = self.sock.recv_multipart(zmq::DONTWAIT) {
            let [id, delimiter, body] = frames.as_slice() else {
                continue;
            };
            if !delimiter.is_empty() {
                continue;
            }
            let reply = match body.as_slice() {
                b"topics" => self.topics_json(),
                b"stats" => (self.stats)(),
                other => unknown_request(other),
            };
            // A client with REPLIES_QUEUED answers unread (or gone) gets none: EAGAIN or
            // EHOSTUNREACH on the first frame, and nothing of the message is queued.
            let sent = socket::send_frame(&self.sock, &id[..], zmq::SNDMORE | zmq::DONTWAIT);
            if sent.is_ok() {
                let _ = socket::send_frame(&self.sock, &b""[..], zmq::SNDMORE);
                let _ = socket::send_frame(&self.sock, reply.as_bytes(), 0);
            }
        }
    }

    fn topics_json(&mut self) -> String {
        if let Some((at, json)) = &self.cached {
            if at.elapsed() < TOPICS_CACHE {
                return json.clone();
            }
        }
        let json = topics_json(&self.topics);
        self.cached = Some((Instant::now(), json.clone()));
        json
    }
}

fn unknown_request(req: &[u8]) -> String {
    let what = String::from_utf8_lossy(&req[..req.len().min(64)]).into_owned();
    let error = format!("unknown request {what:?}; ask for \"topics\" or \"stats\"");
    serde_json::json!({ "error": error }).to_string()
}

/// The `topics` answer: `{"topics": [{"name", "lastSeenMs", "count"}...], "overflow"}`.
fn topics_json(reg: &TopicRegistry) -> String {
    #[derive(serde::Serialize)]
    struct Reply {
        topics: Vec<crate::topic_registry::TopicEntry>,
        overflow: u64,
    }
    let (topics, overflow) = reg.snapshot();
    serde_json::to_string(&Reply { topics, overflow }).unwrap_or_default()
}

/// Asks a proxy's query endpoint for `topics` or `stats` and returns its JSON answer.
pub fn query(
    uri: &str,
    request: &str,
    timeout_ms: i32,
    curve: Option<&ClientKeys>,
) -> Result<String> {
    let sock = socket::open(socket::context(), zmq::REQ, "query socket")?;
    sock.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
    if let Some(keys) = curve {
        keys.apply(&sock)?;
    }
    socket::connect(&sock, uri)?;
    sock.send(request.as_bytes(), 0)
        .map_err(|e| Error::zmq("query send", e))?;
    if sock.poll(zmq::POLLIN, timeout_ms as i64).unwrap_or(0) == 0 {
        return Err(Error::new(
            ErrorCode::Timeout,
            format!("no answer from the proxy's query endpoint at {uri} within {timeout_ms} ms (is a proxy running there with a query endpoint?)"),
        ));
    }
    let reply = sock
        .recv_bytes(0)
        .map_err(|e| Error::zmq("query recv", e))?;
    String::from_utf8(reply)
        .map_err(|_| Error::invalid_arg("the query endpoint answered with invalid UTF-8"))
}
