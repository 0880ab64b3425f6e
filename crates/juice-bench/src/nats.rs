//! The raw NATS reference: async-nats publishing and subscribing bytes, with no Juice code and no
//! JavaScript, to measure what the server and client allow on this machine. Subjects are those a
//! Juice event `Telemetry` with topic `qpu0.fridge.mxc` travels on, so the same subscriber also
//! measures the bridge (it announces its interest the way juice-messaging subscribers do).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;

use crate::say;

const SUBJECT: &str = "juice.Telemetry.qpu0.fridge.mxc";
const END: &str = "juice.Telemetry.qpu0.end";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

pub fn publisher(url: &str, n: u64, size: usize) {
    runtime().block_on(async {
        let client = async_nats::ConnectOptions::new()
            .client_capacity(65_536)
            .connect(url)
            .await
            .expect("connect to NATS");
        let body = Bytes::from(vec![b'x'; size]);
        for _ in 0..n {
            client
                .publish(SUBJECT, body.clone())
                .await
                .expect("publish");
        }
        for _ in 0..20 {
            client
                .publish(END, Bytes::from_static(b"e"))
                .await
                .expect("publish");
            client.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        client.flush().await.expect("flush");
        say(format!("{{\"sent\":{n}}}"));
    });
}

pub fn subscriber(url: &str, n: u64) {
    runtime().block_on(async {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("connect to NATS");
        let mut exact = client
            .subscribe("juice.Telemetry.qpu0")
            .await
            .expect("subscribe");
        let mut below = client
            .subscribe("juice.Telemetry.qpu0.>")
            .await
            .expect("subscribe");
        // Tell bridges what this subscriber wants, now and every second (see juice-core's
        // nats::interest): the id line, then the filter's subject.
        let announcer = client.clone();
        tokio::spawn(async move {
            loop {
                let _ = announcer
                    .publish(
                        "_JUICE.juice.interest",
                        Bytes::from_static(b"00000000000000b1\njuice.Telemetry.qpu0"),
                    )
                    .await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        client.flush().await.expect("flush");
        say("{\"ready\":true}".into());
        let (mut got, mut first, mut last) = (0u64, None::<Instant>, None::<Instant>);
        while got < n {
            let msg = tokio::select! {
                m = exact.next() => m,
                m = below.next() => m,
            };
            let Some(msg) = msg else { break };
            if msg.subject.as_str() == END {
                break;
            }
            let now = Instant::now();
            first.get_or_insert(now);
            last = Some(now);
            got += 1;
        }
        let secs = match (first, last) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let rate = if secs > 0.0 {
            (got - 1) as f64 / secs
        } else {
            0.0
        };
        say(format!(
            "{{\"received\":{got},\"seconds\":{secs:.4},\"rate\":{rate:.0}}}"
        ));
    });
}
