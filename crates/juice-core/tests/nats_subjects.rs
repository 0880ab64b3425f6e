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

/// The lowest port the kernel picks for outgoing connections and for port 0.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A loopback port that was free a moment ago, below the ephemeral range: the nodes' own route
/// connections take ephemeral source ports, so a port picked there could be taken by one of them
/// before the node meant to listen on it starts. Never the same port twice in this process.
fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let low = 10_000u32;
    let high = u32::from(ephemeral_low());
    assert!(
        high > low + 1000,
        "ephemeral range starts at {high}: no room below it for test ports"
    );
    // A cheap pseudo-random walk seeded by pid and clock, so parallel test processes spread out.
    let mut x = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    let mut handed = HANDED_OUT.lock().unwrap();
    let handed = handed.get_or_insert_with(HashSet::new);
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = (low + (x % u64::from(high - low)) as u32) as u16;
        if handed.contains(&port) || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        handed.insert(port);
        return port;
    }
    panic!("no free loopback port in [{low}, {high})");
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

/// Why a start attempt failed: a node exited (a port taken between our check and its bind can
/// do that; worth another attempt on fresh ports), or the live nodes did not route (a defect).
enum StartFailure {
    NodeExited(String),
    NotRouted(String),
}

impl Cluster {
    fn start() -> Cluster {
        let mut exits = Vec::new();
        for _ in 0..3 {
            match Cluster::try_start() {
                Ok(c) => return c,
                Err(StartFailure::NodeExited(why)) => {
                    eprintln!("nats-server cluster start: {why}; trying again on fresh ports");
                    exits.push(why);
                }
                Err(StartFailure::NotRouted(why)) => panic!("{why}"),
            }
        }
        panic!("a nats-server node exited during startup three times: {exits:?}");
    }

    fn try_start() -> Result<Cluster, StartFailure> {
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
        // A name of its own, so that two clusters of parallel tests never merge, whatever ports
        // they end up with.
        let name = format!("juice-test-{}-{}", std::process::id(), route_ports[0]);
        let log = |i: usize| dir.join(format!("n{i}.log"));
        let mut nodes = Vec::new();
        for i in 0..3 {
            let child = Command::new(&bin)
                .args(["-a", "127.0.0.1", "-p", &client_ports[i].to_string()])
                .args(["-m", &http_ports[i].to_string(), "-n", &format!("n{i}")])
                .args(["--cluster_name", &name])
                .args(["-cluster", &format!("nats://127.0.0.1:{}", route_ports[i])])
                .args(["-routes", &routes])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log(i)).unwrap())
                .spawn()
                .expect("nats-server starts");
            nodes.push(child);
        }
        let mut cluster = Cluster {
            nodes,
            client_ports,
            _dir: TempDir(dir.clone()),
        };
        let tail = |i: usize| {
            let text = std::fs::read_to_string(log(i)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(8)..].join("\n")
        };
        // Routed: every node sees the other two.
        let deadline = Instant::now() + Duration::from_secs(20);
        for (i, &port) in http_ports.iter().enumerate() {
            loop {
                for (k, node) in cluster.nodes.iter_mut().enumerate() {
                    if let Ok(Some(status)) = node.try_wait() {
                        return Err(StartFailure::NodeExited(format!(
                            "node n{k} exited ({status}): {}",
                            tail(k)
                        )));
                    }
                }
                let body = http_get(port, "/routez").unwrap_or_default();
                // Two peers, each over one route or more (newer servers pool several).
                if num_routes(&body) >= 2 {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(StartFailure::NotRouted(format!(
                        "the three nats-server nodes did not route within 20 s; n{i} says {body}\n\
                         logs:\n{}\n{}\n{}",
                        tail(0),
                        tail(1),
                        tail(2)
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(cluster)
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
