//! CURVE security: key handling, socket setup, and the proxy's ZAP handler.
//!
//! Keys travel as 40-character Z85 strings (the form libzmq, pyzmq and `zmq_curve_keypair` use).
//! A CURVE proxy encrypts both of its sockets and asks a ZAP handler, run on its own thread, to
//! admit each connecting client by its public key. Clients that are not on the allowlist, or that
//! speak no CURVE at all, fail the handshake and never exchange a message.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::socket::{self, Control};

/// libzmq sends ZAP requests to this fixed inproc endpoint of the socket's context.
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// Whether the linked libzmq was built with CURVE. Our build turns it on (.cargo/config.toml);
/// this guards against a build that lost it, with an error instead of a plaintext "secure" proxy.
pub fn available() -> bool {
    zmq::has("curve").unwrap_or(false)
}

fn require_curve() -> Result<()> {
    if available() {
        Ok(())
    } else {
        Err(Error::invalid_arg(
            "CURVE is not available: this build of libzmq was compiled without it (libsodium)",
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub public_key: String,
    pub secret_key: String,
}

/// A fresh CURVE key pair from libsodium's random source.
pub fn generate_key_pair() -> Result<KeyPair> {
    require_curve()?;
    let pair = zmq::CurveKeyPair::new().map_err(|e| Error::zmq("curve keypair", e))?;
    let enc = |k: &[u8]| zmq::z85_encode(k).map_err(|e| Error::invalid_arg(format!("z85: {e}")));
    Ok(KeyPair {
        public_key: enc(&pair.public_key)?,
        secret_key: enc(&pair.secret_key)?,
    })
}

/// ZeroMQ's Z85 alphabet (RFC 32); libzmq's decoder does not reject other characters itself.
const Z85_ALPHABET: &str =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Decodes a Z85 key, naming the option that held it when it is not a 32-byte key.
pub(crate) fn decode_key(option: &str, z85: &str) -> Result<[u8; 32]> {
    let bad = |why: &str| {
        Err(Error::invalid_arg(format!(
            "{option} is not a CURVE key: {why} (expected 40 Z85 characters, as made by generateKeyPair())"
        )))
    };
    if z85.len() != 40 {
        return bad(&format!("it has {} characters", z85.chars().count()));
    }
    if let Some(c) = z85.chars().find(|c| !Z85_ALPHABET.contains(*c)) {
        return bad(&format!("{c:?} is not a Z85 character"));
    }
    match zmq::z85_decode(z85) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            Ok(key)
        }
        _ => bad("it does not decode to 32 bytes"),
    }
}

// Part of libzmq's public API (zmq.h), but not re-exported by zmq-sys.
extern "C" {
    fn zmq_curve_public(
        z85_public: *mut std::os::raw::c_char,
        z85_secret: *const std::os::raw::c_char,
    ) -> std::os::raw::c_int;
}

/// The public key that belongs to a secret key.
pub fn public_key_of(secret_z85: &str) -> Result<String> {
    require_curve()?;
    decode_key("secretKey", secret_z85)?;
    let secret =
        CString::new(secret_z85).map_err(|_| Error::invalid_arg("secretKey contains NUL"))?;
    let mut public = [0 as std::os::raw::c_char; 41];
    // SAFETY: libzmq writes 40 characters plus a NUL into the 41-byte buffer and reads the
    // NUL-terminated 40-character secret key we checked above.
    let rc = unsafe { zmq_curve_public(public.as_mut_ptr(), secret.as_ptr()) };
    if rc != 0 {
        return Err(Error::invalid_arg("secretKey was rejected by libzmq"));
    }
    // SAFETY: on success the buffer holds a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(public.as_ptr()) };
    Ok(s.to_string_lossy().into_owned())
}

/// A client's CURVE settings: its own key pair and the proxy's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys {
    pub server_key: String,
    pub public_key: String,
    pub secret_key: String,
}

impl ClientKeys {
    /// Makes `sock` a CURVE client. Must run before `connect`.
    pub(crate) fn apply(&self, sock: &zmq::Socket) -> Result<()> {
        require_curve()?;
        let server = decode_key("curve.serverKey", &self.server_key)?;
        let public = decode_key("curve.publicKey", &self.public_key)?;
        let secret = decode_key("curve.secretKey", &self.secret_key)?;
        let derived = public_key_of(&self.secret_key)?;
        if derived != self.public_key {
            return Err(Error::invalid_arg(
                "curve.publicKey does not belong to curve.secretKey (they must come from one generateKeyPair())",
            ));
        }
        sock.set_curve_serverkey(&server)
            .map_err(|e| Error::zmq("curve serverkey", e))?;
        sock.set_curve_publickey(&public)
            .map_err(|e| Error::zmq("curve publickey", e))?;
        sock.set_curve_secretkey(&secret)
            .map_err(|e| Error::zmq("curve secretkey", e))?;
        Ok(())
    }
}

/// The proxy's CURVE settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKeys {
    pub secret_key: String,
    /// Client public keys (Z85) allowed to connect, as publisher or subscriber.
    pub allowed_clients: Vec<String>,
}

/// The set of admitted client keys, shared between the proxy (which may replace it) and the ZAP
/// thread (which reads it per handshake).
pub(crate) type Allowlist = Arc<RwLock<HashSet<[u8; 32]>>>;

pub(crate) fn allowlist_from(keys: &[String]) -> Result<HashSet<[u8; 32]>> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| decode_key(&format!("curve.allowedClients[{i}]"), k))
        .collect()
}

/// Makes `sock` a CURVE server whose handshakes the ZAP handler judges under `zap_domain`.
/// Must run before `bind`.
pub(crate) fn apply_server(sock: &zmq::Socket, secret_z85: &str, zap_domain: &str) -> Result<()> {
    require_curve()?;
    let secret = decode_key("curve.secretKey", secret_z85)?;
    sock.set_curve_server(true)
        .map_err(|e| Error::zmq("curve server", e))?;
    sock.set_curve_secretkey(&secret)
        .map_err(|e| Error::zmq("curve secretkey", e))?;
    // A non-empty domain makes libzmq consult the ZAP handler for every handshake; the handler
    // finds this proxy's allowlist by it.
    sock.set_zap_domain(zap_domain)
        .map_err(|e| Error::zmq("zap domain", e))?;
    Ok(())
}

#[derive(Default)]
pub(crate) struct ZapCounters {
    pub accepted: AtomicU64,
    pub denied: AtomicU64,
}

/// The allowlist and counters of one CURVE proxy, found by its ZAP domain.
type Domain = (Allowlist, Arc<ZapCounters>);
type Domains = Arc<RwLock<HashMap<String, Domain>>>;

/// The process's one ZAP handler (RFC 27): libzmq binds ZAP per context, and every socket of
/// ours lives in the process-wide context, so CURVE proxies share one handler and are told apart
/// by the ZAP domain their sockets carry. It runs while at least one CURVE proxy is open.
struct ZapService {
    control: Control,
    thread: JoinHandle<()>,
    domains: Domains,
}

static ZAP: Mutex<Option<ZapService>> = Mutex::new(None);

/// A CURVE proxy's registration with the ZAP handler; unregisters (and stops the handler when it
/// was the last) on close or drop.
pub(crate) struct ZapHandler {
    domain: String,
    closed: Mutex<bool>,
}

impl ZapHandler {
    /// Registers an allowlist under a new domain, starting the handler if it is not running.
    /// Must run before the proxy's sockets accept connections: with no handler bound, libzmq would
    /// let every client in.
    pub(crate) fn start(allow: Allowlist, counters: Arc<ZapCounters>) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let domain = format!("juice-proxy-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut zap = ZAP.lock().unwrap_or_else(|e| e.into_inner());
        if zap.is_none() {
            *zap = Some(start_service()?);
        }
        if let Some(service) = zap.as_ref() {
            service
                .domains
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(domain.clone(), (allow, counters));
        }
        Ok(ZapHandler {
            domain,
            closed: Mutex::new(false),
        })
    }

    /// The ZAP domain to set on the proxy's sockets (see [`apply_server`]).
    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }

    pub(crate) fn close(&self) {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if *closed {
            return;
        }
        *closed = true;
        let mut zap = ZAP.lock().unwrap_or_else(|e| e.into_inner());
        let last = match zap.as_ref() {
            Some(service) => {
                let mut domains = service.domains.write().unwrap_or_else(|e| e.into_inner());
                domains.remove(&self.domain);
                domains.is_empty()
            }
            None => false,
        };
        if last {
            if let Some(service) = zap.take() {
                service.control.shut(b"q");
                let _ = service.thread.join();
            }
        }
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        self.close();
    }
}

fn start_service() -> Result<ZapService> {
    let ctx = socket::context();
    let rep = socket::open(ctx, zmq::REP, "zap socket")?;
    rep.set_linger(0).map_err(|e| Error::zmq("linger", e))?;
    // The previous handler unbinds before it closes, so the name is normally free at once.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match rep.bind(ZAP_ENDPOINT) {
            Ok(()) => break,
            Err(zmq::Error::EADDRINUSE) if std::time::Instant::now() < give_up => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(e) => return Err(Error::zmq("zap bind", e)),
        }
    }
    let (control, ctl) = Control::pair_in(ctx, "zap")?;
    let domains: Domains = Arc::default();
    let d2 = domains.clone();
    let thread = std::thread::Builder::new()
        .name("juice-zap".into())
        .spawn(move || {
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(&rep, &ctl, &d2)));
        })
        .map_err(|e| Error::invalid_arg(format!("cannot start ZAP thread: {e}")))?;
    Ok(ZapService {
        control,
        thread,
        domains,
    })
}

fn serve(rep: &zmq::Socket, ctl: &zmq::Socket, domains: &Domains) {
    loop {
        let mut items = [ctl.as_poll_item(zmq::POLLIN), rep.as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, -1) {
            Ok(_) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(_) => return,
        }
        if items[0].is_readable() {
            // Unbinding is immediate for inproc, unlike closing: the next handler can bind.
            let _ = rep.unbind(ZAP_ENDPOINT);
            return;
        }
        if !items[1].is_readable() {
            continue;
        }
        let frames = match rep.recv_multipart(zmq::DONTWAIT) {
            Ok(f) => f,
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => continue,
            Err(_) => return,
        };
        let domain = frames
            .get(2)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| domains.read().ok()?.get(d).cloned());
        let (request_id, status, text) = match &domain {
            Some((allow, _)) => decide(&frames, allow),
            None => (
                frames.get(1).cloned().unwrap_or_default(),
                &b"400"[..],
                &b"unknown ZAP domain"[..],
            ),
        };
        if let Some((_, counters)) = &domain {
            let counter = if status == b"200" {
                &counters.accepted
            } else {
                &counters.denied
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let out: [&[u8]; 6] = [b"1.0", &request_id, status, text, b"", b""];
        let _ = rep.send_multipart(out, 0);
    }
}

/// Returns (request id, status code, status text) for one ZAP request:
/// version, request id, domain, address, identity, mechanism, credentials...
fn decide(frames: &[Vec<u8>], allow: &Allowlist) -> (Vec<u8>, &'static [u8], &'static [u8]) {
    let id = frames.get(1).cloned().unwrap_or_default();
    if frames.len() < 6 || frames[0] != b"1.0" {
        return (id, b"500", b"malformed ZAP request");
    }
    if frames[5] != b"CURVE" {
        return (id, b"400", b"only CURVE clients are admitted");
    }
    let Some(key) = frames
        .get(6)
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
    else {
        return (id, b"400", b"no CURVE public key");
    };
    let admitted = allow.read().map(|set| set.contains(&key)).unwrap_or(false);
    if admitted {
        (id, b"200", b"OK")
    } else {
        (id, b"400", b"public key not on the allowlist")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_compiled_in() {
        assert!(
            available(),
            "libzmq was built without CURVE; see .cargo/config.toml"
        );
    }

    #[test]
    fn keys_round_trip_and_public_is_derived() {
        let pair = generate_key_pair().unwrap();
        assert_eq!(pair.public_key.len(), 40);
        assert_ne!(pair.public_key, pair.secret_key);
        assert_eq!(public_key_of(&pair.secret_key).unwrap(), pair.public_key);
        decode_key("k", &pair.public_key).unwrap();
    }

    #[test]
    fn bad_keys_name_the_option() {
        let e = decode_key("curve.serverKey", "short").unwrap_err();
        assert!(
            e.message.contains("curve.serverKey") && e.message.contains("5 characters"),
            "{e}"
        );
        let e = decode_key("x", &"~".repeat(40)).unwrap_err();
        assert!(e.message.contains("'~' is not a Z85 character"), "{e}");
    }

    #[test]
    fn zap_decisions() {
        let listed = [7u8; 32];
        let allow: Allowlist = Arc::new(RwLock::new([listed].into_iter().collect()));
        let req = |mech: &[u8], key: &[u8]| -> Vec<Vec<u8>> {
            vec![
                b"1.0".to_vec(),
                b"7".to_vec(),
                b"juice".to_vec(),
                b"127.0.0.1".to_vec(),
                vec![],
                mech.to_vec(),
                key.to_vec(),
            ]
        };
        assert_eq!(decide(&req(b"CURVE", &listed), &allow).1, b"200");
        assert_eq!(decide(&req(b"CURVE", &[8u8; 32]), &allow).1, b"400");
        assert_eq!(decide(&req(b"NULL", b""), &allow).1, b"400");
        assert_eq!(decide(&req(b"CURVE", b"short"), &allow).1, b"400");
        assert_eq!(decide(&[b"2.0".to_vec()], &allow).1, b"500");
        assert_eq!(decide(&req(b"CURVE", &listed), &allow).0, b"7");
    }
}
