//! End-to-end through real sockets: publisher -> proxy -> subscriber, over tcp, ipc and inproc.

use std::time::{Duration, Instant};

use juice_core::inbox::Copied;
use juice_core::records::read_inbox;
use juice_core::*;

fn proxy() -> Proxy {
    Proxy::start(ProxyOptions {
        frontend: "tcp://127.0.0.1:0".into(),
        backend: "tcp://127.0.0.1:0".into(),
        ..Default::default()
    })
    .unwrap()
}

fn publish(p: &Publisher, type_name: &str, topic: Option<&str>, payload: &[u8]) -> Result<()> {
    let mut w = BatchWriter::default();
    w.push(type_name, topic, payload);
    p.send_blocking(&w.bytes, None).map(drop)
}

/// Collects (type_id, topic, payload) until `n` events arrived or 5 s passed, through the
/// same copy-into-a-buffer path the Node binding uses.
fn collect(sub: &Subscriber, n: usize) -> Vec<(u32, String, String)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.len() < n && Instant::now() < deadline {
        match sub
            .inbox()
            .wait_take_into(&mut buf, Some(Duration::from_millis(100)))
            .unwrap()
        {
            Copied::Bytes(len) => {
                for (id, t, p) in read_inbox(&buf[..len]) {
                    out.push((
                        id,
                        String::from_utf8(t.to_vec()).unwrap(),
                        String::from_utf8(p.to_vec()).unwrap(),
                    ));
                }
            }
            Copied::NeedAtLeast(size) => buf.resize(size, 0),
            Copied::Empty => {}
        }
    }
    out
}

#[test]
fn events_flow_and_filter_exactly_by_segment() {
    let px = proxy();
    let sub = Subscriber::connect(px.backend(), Default::default()).unwrap();
    let id = sub.subscribe("E", Some("a.b")).unwrap();
    // Wait for the subscription to reach the proxy before publishing.
    let t0 = Instant::now();
    while px.stats().subscriptions == 0 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let publisher = Publisher::connect(px.frontend(), Default::default()).unwrap();
    for topic in ["a.b", "a.bb", "a.c", "a", "a.b.c"] {
        publish(
            &publisher,
            "E",
            Some(topic),
            format!("{{\"t\":\"{topic}\"}}").as_bytes(),
        )
        .unwrap();
    }
    publish(&publisher, "Other", Some("a.b"), b"{}").unwrap();
    let err = publish(&publisher, "a.b", None, b"{}").unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    publisher.close();
    let got = collect(&sub, 2);
    let topics: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(topics, vec!["E.a.b.", "E.a.b.c."]);
    assert!(got.iter().all(|g| g.0 == id));
    assert_eq!(publisher.stats().sent, 6);
    sub.close();
    assert!(
        sub.inbox().take_into_or_arm(&mut [0u8; 64]).is_err(),
        "take after close must fail"
    );
    px.close();
    px.close();
}

#[test]
fn malformed_messages_are_counted_and_skipped() {
    let px = proxy();
    let sub = Subscriber::connect(px.backend(), Default::default()).unwrap();
    sub.subscribe("E", None).unwrap();
    let ctx = zmq::Context::new();
    let raw = ctx.socket(zmq::PUB).unwrap();
    raw.connect(px.frontend()).unwrap();
    let t0 = Instant::now();
    while px.stats().subscriptions == 0 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    raw.send("E.", 0).unwrap(); // one frame
    raw.send_multipart([&b"E."[..], b"{}", b"x"], 0).unwrap(); // three frames
    raw.send_multipart([&b"E.\xff."[..], b"{}"], 0).unwrap(); // bad utf-8 topic
    raw.send_multipart([&b"E.x"[..], b"{}"], 0).unwrap(); // no trailing dot
    raw.send_multipart([&b"E."[..], b"\xff"], 0).unwrap(); // bad utf-8 payload
    raw.send_multipart([&b"E.ok."[..], b"{\"ok\":1}"], 0)
        .unwrap();
    let got = collect(&sub, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "E.ok.");
    std::thread::sleep(Duration::from_millis(100));
    let s = sub.stats();
    assert_eq!(s.received, 6);
    assert_eq!(s.malformed_frames, 2);
    assert_eq!(s.malformed_utf8, 2);
    assert_eq!(s.malformed_topic, 1);
    assert_eq!(s.delivered, 1);
}

#[test]
fn close_flushes_everything_published() {
    let px = proxy();
    let sub = Subscriber::connect(px.backend(), Default::default()).unwrap();
    sub.subscribe("E", None).unwrap();
    let publisher = Publisher::connect(px.frontend(), Default::default()).unwrap();
    let n = 50_000;
    let mut w = BatchWriter::default();
    for i in 0..n {
        w.push("E", None, format!("{{\"i\":{i}}}").as_bytes());
        if w.bytes.len() > 1 << 16 {
            publisher.send_blocking(&w.bytes, None).unwrap();
            w.bytes.clear();
        }
    }
    publisher.send_blocking(&w.bytes, None).unwrap();
    publisher.close();
    assert_eq!(publisher.stats().sent, n as u64);
    let got = collect(&sub, n);
    assert_eq!(got.len(), n);
    assert_eq!(got.last().unwrap().2, format!("{{\"i\":{}}}", n - 1));
    assert_eq!(
        publish(&publisher, "E", None, b"{}").unwrap_err().code,
        ErrorCode::Closed
    );
}

#[test]
fn pub_sub_over_tcp_ipc_and_inproc_share_one_path() {
    let dir = std::env::temp_dir().join(format!("juice-core-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ipc = |name: &str| format!("ipc://{}", dir.join(name).display());
    let transports = [
        (
            "tcp",
            "tcp://127.0.0.1:0".to_string(),
            "tcp://127.0.0.1:0".to_string(),
        ),
        ("ipc", ipc("front"), ipc("back")),
        (
            "inproc",
            "inproc://core-test-front".into(),
            "inproc://core-test-back".into(),
        ),
    ];
    for (name, frontend, backend) in transports {
        let px = Proxy::start(ProxyOptions {
            frontend,
            backend,
            ..Default::default()
        })
        .unwrap();
        let sub = Subscriber::connect(px.backend(), Default::default()).unwrap();
        let id = sub.subscribe("E", Some(name)).unwrap();
        let t0 = Instant::now();
        while px.stats().subscriptions == 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let publisher = Publisher::connect(px.frontend(), Default::default()).unwrap();
        let n = 1000;
        let mut w = BatchWriter::default();
        for i in 0..n {
            w.push("E", Some(name), format!("{{\"i\":{i}}}").as_bytes());
        }
        w.push("E", Some("elsewhere"), b"{}");
        assert_eq!(
            publisher.send_blocking(&w.bytes, None).unwrap(),
            w.bytes.len()
        );
        let got = collect(&sub, n);
        assert_eq!(got.len(), n, "{name}: every event arrives");
        for (i, (type_id, topic, payload)) in got.iter().enumerate() {
            assert_eq!(*type_id, id);
            assert_eq!(topic, &format!("E.{name}."));
            assert_eq!(payload, &format!("{{\"i\":{i}}}"), "{name}: in order");
        }
        assert_eq!(
            publisher.stats().unrouted,
            1,
            "{name}: the unmatched event is counted"
        );
        publisher.close();
        sub.close();
        px.close();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
