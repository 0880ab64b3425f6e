//! The raw reference pipeline for `npm run bench`: PUB, proxy and SUB on the `zmq` crate, with no
//! JavaScript and no JSON, in the same process layout as the Node pipelines. It is the machine's
//! limit with our own libzmq build.
//!
//!   juice-bench proxy bare|juice FRONT BACK       forward until stdin closes
//!   juice-bench pub FRONT N SIZE RATE              send N messages of SIZE bytes (RATE/s, 0 = max)
//!   juice-bench sub BACK N FILTERS                 receive until N or the end marker; print JSON
//!   juice-bench coresub BACK N                     the same through juice-core's Subscriber
//!
//! Topic frame `Telemetry.qpu0.fridge.mxc.`, subscription `Telemetry.qpu0.` (plus FILTERS-1 filters
//! that match nothing), end marker `Telemetry.qpu0.end.`. With RATE > 0 the publisher first sends
//! two seconds of unmeasured `Telemetry.qpu0.warmup.` events, then each payload starts with the
//! CLOCK_MONOTONIC send time in ns, and the subscriber reports one-way latency percentiles.

mod nats;

use std::io::Read;
use std::time::Duration;

const TOPIC: &[u8] = b"Telemetry.qpu0.fridge.mxc.";
const END: &[u8] = b"Telemetry.qpu0.end.";
/// Unmeasured events a paced publisher sends for a second before the measured stream.
const WARMUP: &[u8] = b"Telemetry.qpu0.warmup.";
const FILTER: &[u8] = b"Telemetry.qpu0.";

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn say(json: String) {
    println!("{json}");
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("missing or bad argument {i} ({what})"))
}

fn wait_for_stdin_close() {
    let mut buf = [0u8; 64];
    while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
}

fn proxy(kind: &str, front: &str, back: &str) {
    match kind {
        "juice" => {
            let p = juice_core::Proxy::start(juice_core::ProxyOptions {
                frontend: front.into(),
                backend: back.into(),
                rcv_hwm: 0,
                snd_hwm: 0,
                ..Default::default()
            })
            .expect("proxy start");
            say(format!(
                "{{\"ready\":true,\"frontend\":\"{}\",\"backend\":\"{}\"}}",
                p.frontend(),
                p.backend()
            ));
            wait_for_stdin_close();
            let s = p.stats();
            say(format!(
                "{{\"messages\":{},\"bytes\":{}}}",
                s.messages, s.bytes
            ));
        }
        _ => {
            let ctx = zmq::Context::new();
            let xsub = ctx.socket(zmq::XSUB).unwrap();
            let xpub = ctx.socket(zmq::XPUB).unwrap();
            xsub.set_rcvhwm(0).unwrap();
            xpub.set_sndhwm(0).unwrap();
            xsub.bind(front).unwrap();
            xpub.bind(back).unwrap();
            say(format!(
                "{{\"ready\":true,\"frontend\":\"{front}\",\"backend\":\"{back}\"}}"
            ));
            std::thread::spawn(move || {
                let _ = zmq::proxy(&xsub, &xpub);
            });
            wait_for_stdin_close();
            std::process::exit(0);
        }
    }
}

/// Sleeps until `due` (CLOCK_MONOTONIC ns) without spinning: a spinning publisher would take a
/// core from the pipeline it measures. The send time is read after waking, so oversleeping only
/// shifts the schedule; it never counts as latency.
fn sleep_until(due: u64) {
    let now = now_ns();
    if due > now {
        std::thread::sleep(Duration::from_nanos(due - now));
    }
}

fn publisher(front: &str, n: u64, size: usize, rate: f64) {
    let ctx = zmq::Context::new();
    let s = ctx.socket(zmq::XPUB).unwrap();
    s.set_sndhwm(0).unwrap();
    s.connect(front).unwrap();
    // Wait for a subscription to arrive through the proxy (no slow-joiner loss).
    if s.poll(zmq::POLLIN, 10_000).unwrap_or(0) > 0 {
        let _ = s.recv_bytes(0);
    }
    let mut buf = vec![b'x'; size.max(8)];
    // A paced run starts with two seconds of unmeasured events, as the Node publishers do.
    let warm = if rate > 0.0 { 2 * rate as u64 } else { 0 };
    let start = now_ns();
    for i in 0..warm + n {
        if rate > 0.0 {
            sleep_until(start + (i as f64 * 1e9 / rate) as u64);
            if i < warm {
                s.send(WARMUP, zmq::SNDMORE).unwrap();
                s.send("w", 0).unwrap();
                continue;
            }
            buf[..8].copy_from_slice(&now_ns().to_le_bytes());
        }
        s.send(TOPIC, zmq::SNDMORE).unwrap();
        s.send(&buf[..], 0).unwrap();
        if i % 4096 == 0 {
            while s.recv_bytes(zmq::DONTWAIT).is_ok() {}
        }
    }
    for _ in 0..20 {
        s.send(END, zmq::SNDMORE).unwrap();
        s.send("e", 0).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    s.set_linger(10_000).unwrap();
    drop(s);
    let _ = ctx;
    say(format!("{{\"sent\":{n}}}"));
}

fn subscriber(back: &str, n: u64, filters: u64) {
    let ctx = zmq::Context::new();
    let s = ctx.socket(zmq::SUB).unwrap();
    s.set_rcvhwm(0).unwrap();
    s.set_subscribe(FILTER).unwrap();
    for i in 1..filters {
        s.set_subscribe(format!("Telemetry.other{i}.fridge.").as_bytes())
            .unwrap();
    }
    s.connect(back).unwrap();
    say("{\"ready\":true}".into());
    let mut topic = zmq::Message::new();
    let mut payload = zmq::Message::new();
    let (mut got, mut first, mut last) = (0u64, 0u64, 0u64);
    let mut lat: Vec<f64> = Vec::new();
    while got < n {
        s.recv(&mut topic, 0).unwrap();
        s.recv(&mut payload, 0).unwrap();
        let t = now_ns();
        if &topic[..] == END {
            break;
        }
        if &topic[..] == WARMUP {
            continue;
        }
        if first == 0 {
            first = t;
        }
        last = t;
        got += 1;
        if payload.first() == Some(&b'{') {
            // A JSON event from a Node publisher: its "t" field is the send time in us.
            if let Some(us) = json_stamp_us(&payload) {
                lat.push((t / 1000) as f64 - us);
            }
        } else if payload.len() >= 8 && payload[0] != b'x' {
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[..8]);
            lat.push((t - u64::from_le_bytes(b)) as f64 / 1e3);
        }
    }
    let secs = (last - first) as f64 / 1e9;
    let rate = if secs > 0.0 {
        (got - 1) as f64 / secs
    } else {
        0.0
    };
    if lat.is_empty() {
        say(format!(
            "{{\"received\":{got},\"seconds\":{secs:.4},\"rate\":{rate:.0}}}"
        ));
    } else {
        lat.sort_by(|a, b| a.total_cmp(b));
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        say(format!(
            "{{\"received\":{got},\"seconds\":{secs:.4},\"rate\":{rate:.0},\"p50_us\":{:.1},\"p99_us\":{:.1},\"max_us\":{:.1}}}",
            p(0.5),
            p(0.99),
            lat[lat.len() - 1]
        ));
    }
}

/// The `"t":<microseconds>` field of a JSON payload, if present and non-zero.
fn json_stamp_us(payload: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(payload).ok()?;
    let at = text.find("\"t\":")? + 4;
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse::<f64>().ok().filter(|v| *v > 0.0)
}

/// The juice-core subscriber without JavaScript: isolates the native receive path's latency.
fn core_subscriber(back: &str, n: u64) {
    let sub = juice_core::Subscriber::connect(back, Default::default()).unwrap();
    sub.subscribe("Telemetry", Some("qpu0")).unwrap();
    say("{\"ready\":true}".into());
    let (mut got, mut lat) = (0u64, Vec::new());
    // The same copy-into-a-reused-buffer path the Node binding takes.
    let mut buf = vec![0u8; 1 << 20];
    'outer: while got < n {
        let len = match sub
            .inbox()
            .wait_take_into(&mut buf, Some(Duration::from_secs(30)))
            .unwrap()
        {
            juice_core::inbox::Copied::Bytes(len) => len,
            juice_core::inbox::Copied::NeedAtLeast(size) => {
                buf.resize(size, 0);
                continue;
            }
            juice_core::inbox::Copied::Empty => break,
        };
        let t = now_ns();
        for (_, topic, payload) in juice_core::records::read_inbox(&buf[..len]) {
            if topic == END {
                break 'outer;
            }
            if topic == WARMUP {
                continue;
            }
            got += 1;
            if let Some(us) = json_stamp_us(payload) {
                lat.push((t / 1000) as f64 - us);
            }
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    say(format!(
        "{{\"received\":{got},\"rate\":0,\"p50_us\":{:.1},\"p99_us\":{:.1}}}",
        p(0.5),
        p(0.99)
    ));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("proxy") => proxy(&args[2], &args[3], &args[4]),
        Some("pub") => publisher(
            &args[2],
            arg(&args, 3, "N"),
            arg(&args, 4, "SIZE"),
            arg(&args, 5, "RATE"),
        ),
        Some("coresub") => core_subscriber(&args[2], arg(&args, 3, "N")),
        Some("sub") => subscriber(&args[2], arg(&args, 3, "N"), arg(&args, 4, "FILTERS")),
        Some("natspub") => nats::publisher(&args[2], arg(&args, 3, "N"), arg(&args, 4, "SIZE")),
        Some("natssub") => nats::subscriber(&args[2], arg(&args, 3, "N")),
        _ => {
            eprintln!("usage: juice-bench proxy bare|juice FRONT BACK | pub FRONT N SIZE RATE | sub BACK N FILTERS | natspub URL N SIZE | natssub URL N");
            std::process::exit(2);
        }
    }
}
