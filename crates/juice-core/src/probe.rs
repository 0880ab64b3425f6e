//! Diagnosing a client that cannot connect: a short raw ZMTP exchange with the endpoint reads its
//! greeting (security mechanism) and, without security, its READY command (socket type). That
//! tells "this is the proxy's publisher port" from "this proxy requires CURVE" from "nothing
//! speaks ZeroMQ here", which libzmq itself never reports (an incompatible socket type just
//! closes the connection, over and over).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What a client expects at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A publisher: expects the proxy's frontend (XSUB), or a SUB/XSUB.
    Publisher,
    /// A subscriber: expects the proxy's backend (XPUB), or a PUB/XPUB.
    Subscriber,
    /// A query client: expects the proxy's query endpoint (ROUTER), or a REP.
    Query,
}

/// What the endpoint said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// `NULL`, `PLAIN` or `CURVE`.
    pub mechanism: String,
    /// From its READY command; only readable without security.
    pub socket_type: Option<String>,
}

/// Reads a tcp endpoint's greeting and READY. None when it cannot be reached at all or is not a
/// ZMTP 3 peer (`Some(Err(..))` carries what was wrong, for the sentence).
pub(crate) fn probe(uri: &str, timeout: Duration) -> Option<std::result::Result<Peer, String>> {
    let addr = uri.strip_prefix("tcp://")?;
    let addr = addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    // Signature and major version only: libzmq then sends the rest of its greeting (with its
    // mechanism) but cannot yet compare mechanisms, so it does not hang up before we have read it.
    let ours = greeting();
    s.write_all(&ours[..11]).ok()?;
    let mut g = [0u8; 64];
    let got = read_up_to(&mut s, &mut g);
    if got == 0 {
        return None;
    }
    if g[0] != 0xff || (got >= 10 && g[9] != 0x7f) {
        return Some(Err("it does not speak ZeroMQ".into()));
    }
    if got < 64 || g[10] < 3 {
        return None;
    }
    let mechanism: String = g[12..32]
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    if mechanism != "NULL" {
        return Some(Ok(Peer {
            mechanism,
            socket_type: None,
        }));
    }
    let _ = s.write_all(&ours[11..]);
    let _ = s.write_all(&ready());
    Some(Ok(Peer {
        mechanism,
        socket_type: read_ready(&mut s),
    }))
}

/// A sentence saying why a client of `role` cannot talk to `uri`, or None if the endpoint looks
/// right (or cannot be reached, which the caller already reports).
pub fn diagnose(uri: &str, role: Role, have_curve: bool, timeout: Duration) -> Option<String> {
    let peer = match probe(uri, timeout)? {
        Err(why) => return Some(format!("{uri} is not a Juice proxy endpoint: {why}")),
        Ok(p) => p,
    };
    if peer.mechanism == "CURVE" && !have_curve {
        return Some(format!(
            "the proxy at {uri} requires CURVE: pass curve options (serverKey, publicKey, secretKey)"
        ));
    }
    if peer.mechanism == "NULL" && have_curve {
        return Some(format!(
            "the proxy at {uri} does not use CURVE, but this client was given curve options"
        ));
    }
    let ty = peer.socket_type?;
    match (role, ty.as_str()) {
        (Role::Subscriber, "XSUB") => Some(format!(
            "{uri} is a proxy's publisher port (XSUB); subscribers connect to its subscriber port (5123 by default)"
        )),
        (Role::Publisher, "XPUB") => Some(format!(
            "{uri} is a proxy's subscriber port (XPUB); publishers connect to its publisher port (5122 by default)"
        )),
        (Role::Query, "XSUB") => Some(format!(
            "{uri} is a proxy's publisher port (XSUB), not its query endpoint (juice proxy --query)"
        )),
        (Role::Query, "XPUB") => Some(format!(
            "{uri} is a proxy's subscriber port (XPUB), not its query endpoint (juice proxy --query)"
        )),
        (Role::Subscriber, "PUB" | "XPUB")
        | (Role::Publisher, "SUB" | "XSUB")
        | (Role::Query, "ROUTER" | "REP") => None,
        (_, other) => Some(format!(
            "{uri} is a ZeroMQ {other} socket, not a Juice proxy's {} port",
            match role {
                Role::Subscriber => "subscriber",
                Role::Publisher => "publisher",
                Role::Query => "query",
            }
        )),
    }
}

/// Reads until `buf` is full, the peer closes, or the read times out; returns the bytes read.
fn read_up_to(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// A ZMTP 3.0 greeting with the NULL mechanism, as a client.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A READY command announcing a PAIR socket: compatible with nothing a proxy binds, so the peer
/// closes the connection after sending its own READY, and nothing is subscribed or sent.
fn ready() -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(b"PAIR");
    let mut cmd = vec![0x04, body.len() as u8];
    cmd.extend_from_slice(&body);
    cmd
}

/// Reads the peer's READY command and returns its Socket-Type property.
fn read_ready(s: &mut TcpStream) -> Option<String> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).ok()?;
    let len = match head[0] {
        0x04 => head[1] as usize,
        0x06 => {
            let mut rest = [0u8; 7];
            s.read_exact(&mut rest).ok()?;
            let mut b = [0u8; 8];
            b[0] = head[1];
            b[1..].copy_from_slice(&rest);
            u64::from_be_bytes(b) as usize
        }
        _ => return None,
    };
    if len > 4096 {
        return None;
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    let props = body.strip_prefix(b"\x05READY")?;
    socket_type(props)
}

/// Finds the Socket-Type property in a READY command's metadata.
fn socket_type(mut props: &[u8]) -> Option<String> {
    while let Some((&n, rest)) = props.split_first() {
        let name = rest.get(..n as usize)?;
        let rest = &rest[n as usize..];
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let value = rest.get(4..4 + len)?;
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        props = &rest[4 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::global;

    fn bound(kind: zmq::SocketType) -> (zmq::Socket, String) {
        let s = global().socket(kind).unwrap();
        let ep = crate::socket::bind(&s, "tcp://127.0.0.1:0").unwrap();
        (s, ep)
    }

    #[test]
    fn swapped_ports_are_named() {
        let (_xsub, front) = bound(zmq::XSUB);
        let (_xpub, back) = bound(zmq::XPUB);
        let t = Duration::from_secs(2);
        let why = diagnose(&front, Role::Subscriber, false, t).unwrap();
        assert!(why.contains("publisher port (XSUB)"), "{why}");
        let why = diagnose(&back, Role::Publisher, false, t).unwrap();
        assert!(why.contains("subscriber port (XPUB)"), "{why}");
        assert_eq!(diagnose(&front, Role::Publisher, false, t), None);
        assert_eq!(diagnose(&back, Role::Subscriber, false, t), None);
        let why = diagnose(&back, Role::Subscriber, true, t).unwrap();
        assert!(why.contains("does not use CURVE"), "{why}");
    }

    #[test]
    fn non_zmq_and_unreachable_endpoints() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let why = diagnose(
            &format!("tcp://127.0.0.1:{port}"),
            Role::Subscriber,
            false,
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(why.contains("does not speak ZeroMQ"), "{why}");
        assert_eq!(
            diagnose(
                "tcp://127.0.0.1:1",
                Role::Subscriber,
                false,
                Duration::from_millis(500)
            ),
            None
        );
        assert_eq!(
            diagnose(
                "ipc:///tmp/x",
                Role::Subscriber,
                false,
                Duration::from_millis(500)
            ),
            None
        );
    }
}
