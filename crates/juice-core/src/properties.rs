//! Property tests (proptest) for the code that reads untrusted bytes: the wire checks, the topic
//! tree, and the batch formats. They run a bounded number of cases in `cargo test`, so CI runs
//! them on every submission; `PROPTEST_CASES=100000 cargo test -p juice-core properties` runs longer.
//! They live inside the crate so that what they test can stay crate-private.

use crate::inbox::{Copied, Inbox, Pending};
use crate::records::read_inbox;
use crate::topic_tree::TopicTree;
use crate::wire;
use proptest::prelude::*;

/// Topic segments from a small alphabet, so generated topics and filters often overlap.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("ab".to_string()),
        "[a-c]{0,3}"
    ]
}

fn frame(segs: &[String]) -> Vec<u8> {
    let mut f = Vec::new();
    for s in segs {
        f.extend_from_slice(s.as_bytes());
        f.push(b'.');
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn wire_checks_never_panic(topic in proptest::collection::vec(any::<u8>(), 0..64),
                               payload in proptest::collection::vec(any::<u8>(), 0..64),
                               max in 0usize..128) {
        let _ = wire::check_message(&topic, &payload, max);
        let _ = wire::segments(&topic).map(|s| s.count());
    }

    #[test]
    fn tree_agrees_with_byte_prefix_matching(
        subs in proptest::collection::vec(proptest::collection::vec(segment(), 1..4), 0..12),
        topic in proptest::collection::vec(segment(), 1..5),
    ) {
        let mut tree = TopicTree::new();
        let prefixes: Vec<Vec<u8>> = subs.iter().map(|s| frame(s)).filter(|p| wire::segments(p).is_some()).collect();
        for p in &prefixes {
            prop_assert!(tree.add(p));
        }
        let t = frame(&topic);
        // Reference: ZMQ's byte-prefix rule, which with trailing dots is exact per segment.
        let expected = wire::segments(&t).is_some() && prefixes.iter().any(|p| t.starts_with(p));
        prop_assert_eq!(tree.matches(&t).is_some(), expected);
    }

    #[test]
    fn tree_add_remove_is_a_multiset(ops in proptest::collection::vec((any::<bool>(), proptest::collection::vec(segment(), 1..3)), 0..40)) {
        let mut tree = TopicTree::new();
        let mut model: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        for (add, segs) in ops {
            let p = frame(&segs);
            if wire::segments(&p).is_none() {
                prop_assert!(!tree.add(&p));
                continue;
            }
            if add {
                prop_assert!(tree.add(&p));
                *model.entry(p).or_default() += 1;
            } else {
                let had = model.get(&p).copied().unwrap_or(0) > 0;
                prop_assert_eq!(tree.remove(&p), had);
                if had { *model.get_mut(&p).unwrap() -= 1; }
            }
            prop_assert_eq!(tree.len(), model.values().sum::<usize>());
            for (q, n) in &model {
                prop_assert_eq!(tree.matches(q).is_some() || *n == 0, true);
            }
        }
    }

    #[test]
    fn inbox_records_round_trip(events in proptest::collection::vec((any::<u32>(), "[a-z.]{0,12}", proptest::collection::vec(any::<u8>(), 0..40)), 0..30)) {
        let inbox = Inbox::new(1000, 1 << 20, false);
        let mut pending = Pending::default();
        for (id, topic, payload) in &events {
            pending.push(*id, topic.as_bytes(), payload);
        }
        inbox.append(&mut pending);
        let mut out = vec![0u8; 1 << 20];
        let got: Vec<(u32, Vec<u8>, Vec<u8>)> = match inbox.take_into_or_arm(&mut out).unwrap() {
            Copied::Bytes(n) => read_inbox(&out[..n]).map(|(i, t, p)| (i, t.to_vec(), p.to_vec())).collect(),
            _ => vec![],
        };
        let want: Vec<(u32, Vec<u8>, Vec<u8>)> = events.iter().map(|(i, t, p)| (*i, t.as_bytes().to_vec(), p.clone())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn publish_batches_of_garbage_are_rejected_not_panics(batch in proptest::collection::vec(any::<u8>(), 0..80)) {
        // An unconnected publisher with no wait: try_send parses the batch before any socket I/O
        // matters, and must turn garbage into an error or a clean partial result.
        let p = crate::Publisher::connect("tcp://127.0.0.1:9", crate::PublisherOptions { subscription_wait_ms: 0, linger_ms: 0, ..Default::default() }).unwrap();
        let _ = p.try_send(&batch);
        p.close();
    }
}
