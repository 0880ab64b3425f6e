//! What a publisher knows of who listens: the subscription prefixes the proxy has passed down to
//! it, so that every event sent while nobody matches it is counted as unrouted, exactly (libzmq
//! drops those without a word).
//!
//! Juice prefixes (`T.` and `T.topic.`) go into a [`TopicTree`], which matches a topic frame in one
//! probe per segment; anything else a peer subscribed to (a prefix without the trailing dot, or
//! the proxy's `.` beacon) is kept as a raw byte prefix, which is what libzmq matches by.

use crate::topic_tree::TopicTree;

/// The prefix a proxy of ours subscribes to on every publisher, so that upstream publishers stop
/// waiting for a first subscription at once. No Juice topic frame starts with a dot.
pub const BEACON: &[u8] = b".";

#[derive(Default)]
pub struct Routes {
    tree: TopicTree,
    /// Prefixes that are not Juice topic prefixes, with their reference counts.
    raw: Vec<(Vec<u8>, u32)>,
}

impl Routes {
    /// Applies one subscription notice (`\x01prefix` or `\x00prefix`) from the XPUB socket.
    /// Returns true for a subscribe by a subscriber (not the proxy's [`BEACON`], which says only
    /// that a proxy is there: our publishers keep waiting for a real subscription).
    pub fn notice(&mut self, msg: &[u8]) -> bool {
        match msg.split_first() {
            Some((1, prefix)) => {
                self.add(prefix);
                prefix != BEACON
            }
            Some((0, prefix)) => {
                self.remove(prefix);
                false
            }
            _ => false,
        }
    }

    fn add(&mut self, prefix: &[u8]) {
        if prefix.is_empty() {
            self.tree.add_all();
        } else if !self.tree.add(prefix) {
            match self.raw.iter_mut().find(|(p, _)| p == prefix) {
                Some((_, n)) => *n += 1,
                None => self.raw.push((prefix.to_vec(), 1)),
            }
        }
    }

    fn remove(&mut self, prefix: &[u8]) {
        if prefix.is_empty() {
            self.tree.remove_all();
        } else if !self.tree.remove(prefix) {
            if let Some(i) = self.raw.iter().position(|(p, _)| p == prefix) {
                self.raw[i].1 -= 1;
                if self.raw[i].1 == 0 {
                    self.raw.swap_remove(i);
                }
            }
        }
    }

    /// Whether some subscription matches this topic frame, i.e. libzmq will send it.
    pub fn routed(&self, frame: &[u8]) -> bool {
        self.tree.matches(frame).is_some() || self.raw.iter().any(|(p, _)| frame.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exactly_what_libzmq_would_send() {
        let mut r = Routes::default();
        assert!(!r.routed(b"T.a."));
        assert!(!r.notice(b"\x01."), "the beacon is not a subscriber");
        assert!(
            !r.routed(b"T.a."),
            "the proxy's beacon matches no Juice frame"
        );
        r.notice(b"\x01T.a.");
        assert!(r.routed(b"T.a."));
        assert!(r.routed(b"T.a.b."));
        assert!(!r.routed(b"T.ab."));
        assert!(!r.routed(b"U.a."));
        r.notice(b"\x01Odd");
        assert!(
            r.routed(b"Oddity."),
            "a raw prefix matches bytes, as libzmq does"
        );
        r.notice(b"\x00Odd");
        assert!(!r.routed(b"Oddity."));
        r.notice(b"\x01");
        assert!(r.routed(b"Z."));
        r.notice(b"\x00");
        r.notice(b"\x00T.a.");
        assert!(!r.routed(b"T.a."));
    }
}
