//! The subject mapping on a real three-node NATS cluster: a subscriber on one node, a publisher on
//! another, and the Juice topic rule (exact type, dot-segment topic prefix) holding for plain and
//! awkward topics alike. The server runs in pedantic mode, so it checks every subject we send.
//!
//! Needs `nats-server` (Debian's package; `node scripts/ensure-nats.js` installs it, and `npm test`
//! runs that first). Without it these tests fail and say so: they are never skipped silently.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use juice_core::nats::subject::Subjects;

fn nats_server() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin"])
    {
        let p = PathBuf::from(dir).join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    panic!("nats-server not found on PATH or in /usr/sbin: run `node scripts/ensure-nats.js` (npm test does)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Three routed servers on loopback, killed when dropped.
struct Cluster {
    nodes: Vec<Child>,
    client_ports: Vec<u16>,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

impl Cluster {
    fn start() -> Cluster {
        let bin = nats_server();
        let dir =
            std::env::temp_dir().join(format!("juice-nats-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let client_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let http_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let child = Command::new(&bin)
                .args(["-a", "127.0.0.1", "-p", &client_ports[i].to_string()])
                .args(["-m", &http_ports[i].to_string(), "-n", &format!("n{i}")])
                .args(["--cluster_name", "juice-test"])
                .args(["-cluster", &format!("nats://127.0.0.1:{}", route_ports[i])])
                .args(["-routes", &routes])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            nodes.push(child);
        }
        let cluster = Cluster {
            nodes,
            client_ports,
            _dir: TempDir(dir),
        };
        // Routed: every node sees the other two.
        let deadline = Instant::now() + Duration::from_secs(20);
        for &port in &http_ports {
            loop {
                let body = http_get(port, "/routez").unwrap_or_default();
                // Two peers, each over one route or more (newer servers pool several).
                if num_routes(&body) >= 2 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the three nats-server nodes did not route within 20 s: {body}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }
}

fn num_routes(routez: &str) -> u64 {
    let Some(at) = routez.find("\"num_routes\":") else {
        return 0;
    };
    routez[at + 13..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A minimal client of the NATS text protocol: enough to subscribe, publish and read messages.
struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut c = Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        let info = c.line().expect("INFO");
        assert!(info.starts_with("INFO "), "{info}");
        c.send("CONNECT {\"verbose\":false,\"pedantic\":true,\"protocol\":1}\r\n");
        c.ping();
        c
    }

    fn send(&mut self, text: &str) {
        self.w.write_all(text.as_bytes()).unwrap();
    }

    fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(_) => Some(l.trim_end().to_owned()),
            Err(_) => None,
        }
    }

    /// Round trip: everything sent before has been processed by the server.
    fn ping(&mut self) {
        self.send("PING\r\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.line().as_deref() {
                Some("PONG") => return,
                Some(l) if l.starts_with("-ERR") => panic!("server error: {l}"),
                _ => {}
            }
        }
        panic!("no PONG");
    }

    fn sub(&mut self, subject: &str, sid: u32) {
        self.send(&format!("SUB {subject} {sid}\r\n"));
    }

    fn publish(&mut self, subject: &str, payload: &str) {
        self.send(&format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()));
    }

    /// The next message as (subject, sid, payload), or None after `wait` without one.
    fn next(&mut self, wait: Duration) -> Option<(String, u32, String)> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let Some(l) = self.line() else { continue };
            if l == "PING" {
                self.send("PONG\r\n");
                continue;
            }
            assert!(!l.starts_with("-ERR"), "server error: {l}");
            let parts: Vec<&str> = l.split(' ').collect();
            if parts.first() != Some(&"MSG") {
                continue;
            }
            let n: usize = parts[parts.len() - 1].parse().unwrap();
            let mut body = vec![0u8; n + 2];
            self.r
                .get_mut()
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            self.r.read_exact(&mut body).unwrap();
            self.r
                .get_mut()
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            body.truncate(n);
            return Some((
                parts[1].to_owned(),
                parts[2].parse().unwrap(),
                String::from_utf8(body).unwrap(),
            ));
        }
        None
    }
}

fn subject(s: &Subjects, frame: &str) -> String {
    let mut out = String::new();
    s.subject_of_frame(frame.as_bytes(), &mut out).unwrap();
    out
}

/// Subscribes `frame`'s two filters on `sub` (sids `2k+1`, `2k+2`), then waits until a probe
/// published on `publ` arrives: interest travels over the routes in order, so every earlier
/// subscription has reached the other node too.
fn subscribe_all(sub: &mut Conn, publ: &mut Conn, s: &Subjects, frames: &[&str]) {
    for (k, f) in frames.iter().enumerate() {
        let [exact, below] = s.filters_of_frame(f.as_bytes()).unwrap();
        sub.sub(&exact, 2 * k as u32 + 1);
        sub.sub(&below, 2 * k as u32 + 2);
    }
    let probe = subject(s, "Probe.");
    sub.sub(&probe, 999);
    sub.ping();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publ.publish(&probe, "probe");
        publ.ping();
        if let Some((_, 999, _)) = sub.next(Duration::from_millis(100)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscriptions did not reach the other node within 10 s"
        );
    }
    // Late probe copies.
    while sub.next(Duration::from_millis(200)).is_some() {}
}

#[test]
fn the_juice_topic_rule_holds_across_nodes() {
    let cluster = Cluster::start();
    let s = Subjects::new("juice").unwrap();
    let mut sub = Conn::open(cluster.client_ports[0]);
    let mut publ = Conn::open(cluster.client_ports[1]);
    // Plain, and a topic whose segments are NATS wildcards, spaces and empty strings.
    subscribe_all(&mut sub, &mut publ, &s, &["T.a.b.", "T.*.", "W. x.."]);

    let sent = [
        "T.a.b.",
        "T.a.b.c.",
        "T.a.b.c.d.",
        "T.a.bb.",
        "T.a.",
        "T.",
        "U.a.b.",
        "T.a.b.*.",
        "T.a.b.>.",
        "T.a.b. x.",
        "T.a.b..",
        "T.*.",
        "T.*.q.",
        "T.x.",
        "T.>.",
        "W. x..",
        "W. x...deeper.",
        "W. x.",
        "W.x..",
    ];
    for (i, f) in sent.iter().enumerate() {
        publ.publish(&subject(&s, f), &format!("{{\"i\":{i}}}"));
    }
    publ.ping();
    let mut got = Vec::new();
    while let Some((subj, sid, payload)) = sub.next(Duration::from_millis(500)) {
        let mut frame = Vec::new();
        s.frame_of_subject(&subj, &mut frame).unwrap();
        got.push((String::from_utf8(frame).unwrap(), sid, payload));
    }
    let frames: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(
        frames,
        [
            "T.a.b.",
            "T.a.b.c.",
            "T.a.b.c.d.",
            "T.a.b.*.",
            "T.a.b.>.",
            "T.a.b. x.",
            "T.a.b..",
            "T.*.",
            "T.*.q.",
            "W. x..",
            "W. x...deeper.",
        ],
        "each matching event once, in order, and nothing else: {got:?}"
    );
    // The exact filter carries the topic itself; the `>` filter everything below it.
    let sids: Vec<u32> = got.iter().map(|g| g.1).collect();
    assert_eq!(sids, [1, 2, 2, 2, 2, 2, 2, 3, 4, 5, 6]);
    // Payloads arrive unchanged.
    assert_eq!(got[0].2, "{\"i\":0}");
}

#[test]
fn a_prefix_keeps_two_systems_apart_on_one_cluster() {
    let cluster = Cluster::start();
    let lab1 = Subjects::new("lab1.juice").unwrap();
    let lab2 = Subjects::new("lab2.juice").unwrap();
    let mut sub = Conn::open(cluster.client_ports[2]);
    let mut publ = Conn::open(cluster.client_ports[0]);
    subscribe_all(&mut sub, &mut publ, &lab1, &["T."]);
    publ.publish(&subject(&lab2, "T.a."), "{}");
    publ.publish(&subject(&lab1, "T.a."), "{}");
    publ.ping();
    let got: Vec<String> = std::iter::from_fn(|| sub.next(Duration::from_millis(500)))
        .map(|m| m.0)
        .collect();
    assert_eq!(got, ["lab1.juice.T.a"]);
    // A subject from another prefix is refused by name, not misread.
    assert!(lab1
        .frame_of_subject("lab2.juice.T.a", &mut Vec::new())
        .is_err());
}
