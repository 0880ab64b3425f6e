//! Exact segment-wise matching of topic frames against subscriptions.
//!
//! A subscription is a topic frame prefix such as `T.` or `T.a.b.`. The tree is keyed by whole
//! segments, so a lookup walks one hash probe per segment of the incoming topic: its cost depends
//! on the depth of the topic, never on how many subscriptions exist. A node is "terminal" when a
//! subscription ends there; the incoming message matches if any node on its path is terminal.

use std::collections::HashMap;

use crate::wire::segments;

/// Every received message hashes each segment of its topic here, so the hasher is foldhash's
/// (several times faster than SipHash on short keys). The keys are filters, not the topics
/// peers send, and the seed is random per process, so colliding keys cannot be prepared.
type Children = HashMap<Box<[u8]>, Node, foldhash::fast::RandomState>;

#[derive(Default)]
struct Node {
    /// Child nodes by segment bytes.
    children: Children,
    /// How many live subscriptions end at this node (subscribing twice needs two unsubscribes,
    /// the same reference counting libzmq applies to its own filter).
    refs: u32,
    /// Set on the first-level nodes: the id of the event type whose name is this segment.
    type_id: Option<u32>,
}

/// Type id reported for a message that only a subscribe-all matched and whose type name was
/// never subscribed by name: the consumer has no class for it.
pub const UNKNOWN_TYPE: u32 = u32::MAX;

/// Result of a successful match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Id of the event type (the first segment), as assigned by [`TopicTree::add`].
    pub type_id: u32,
}

/// Dropping a deep tree recursively could exhaust the stack: take it apart with an explicit one.
impl Drop for Node {
    fn drop(&mut self) {
        let mut stack: Vec<Node> = self.children.drain().map(|(_, n)| n).collect();
        while let Some(mut n) = stack.pop() {
            stack.extend(n.children.drain().map(|(_, c)| c));
        }
    }
}

#[derive(Default)]
pub struct TopicTree {
    root: Node,
    /// Ids are handed out per type name and stay stable for the life of the tree, so the
    /// JavaScript side can cache the class for an id.
    type_ids: HashMap<String, u32>,
    /// Number of live subscriptions, counting duplicates.
    len: usize,
    /// Live subscribe-all subscriptions (the empty ZMQ prefix): every well-formed message matches.
    wildcard: u32,
}

impl TopicTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Id for a type name, assigning the next free one on first use.
    pub fn type_id(&mut self, type_name: &str) -> u32 {
        let next = self.type_ids.len() as u32;
        *self.type_ids.entry(type_name.to_owned()).or_insert(next)
    }

    /// Adds a subscription given as a topic frame prefix (`T.` or `T.a.b.`).
    /// Returns false, changing nothing, when the prefix is not well formed.
    pub fn add(&mut self, prefix: &[u8]) -> bool {
        let Some(mut segs) = segments(prefix) else {
            return false;
        };
        let Some(type_seg) = segs.next() else {
            return false;
        };
        let Ok(type_name) = std::str::from_utf8(type_seg) else {
            return false;
        };
        let id = self.type_id(type_name);
        let mut node = self.root.children.entry(type_seg.into()).or_default();
        node.type_id = Some(id);
        for seg in segs {
            node = node.children.entry(seg.into()).or_default();
        }
        node.refs += 1;
        self.len += 1;
        true
    }

    /// Removes one reference to a subscription. Returns false if it was not subscribed.
    /// Empty branches are pruned so that churn does not grow the tree.
    pub fn remove(&mut self, prefix: &[u8]) -> bool {
        let Some(segs) = segments(prefix) else {
            return false;
        };
        let path: Vec<&[u8]> = segs.collect();
        // Walk down once to check the subscription exists and to find the deepest node that must
        // stay (it has other subscriptions or other children); everything below it is cut off in
        // one removal. Iterative, so no topic depth can exhaust the stack.
        let mut keep_depth = 0;
        let mut node = &self.root;
        for (depth, seg) in path.iter().enumerate() {
            if depth > 0 && (node.refs > 0 || node.children.len() > 1) {
                keep_depth = depth;
            }
            match node.children.get(*seg) {
                Some(child) => node = child,
                None => return false,
            }
        }
        if node.refs == 0 {
            return false;
        }
        if node.refs > 1 || !node.children.is_empty() {
            Self::node_at_mut(&mut self.root, &path).refs -= 1;
        } else {
            // Type nodes keep their id entry in `type_ids`; only the nodes are pruned.
            let parent = Self::node_at_mut(&mut self.root, &path[..keep_depth]);
            parent.children.remove(path[keep_depth]);
        }
        self.len -= 1;
        true
    }

    /// The node at `path`, which the caller has checked exists.
    fn node_at_mut<'n>(mut node: &'n mut Node, path: &[&[u8]]) -> &'n mut Node {
        for seg in path {
            node = node
                .children
                .get_mut(*seg)
                .expect("path checked by the caller");
        }
        node
    }

    /// Adds a subscription to every message, whatever its type.
    pub fn add_all(&mut self) {
        self.wildcard += 1;
        self.len += 1;
    }

    /// Removes one subscribe-all. Returns false if there was none.
    pub fn remove_all(&mut self) -> bool {
        if self.wildcard == 0 {
            return false;
        }
        self.wildcard -= 1;
        self.len -= 1;
        true
    }

    /// Matches a received topic frame. `None` if no subscription covers it or it is malformed.
    pub fn matches(&self, topic_frame: &[u8]) -> Option<Match> {
        let mut segs = segments(topic_frame)?;
        let type_seg = segs.next()?;
        if let Some(m) = self
            .root
            .children
            .get(type_seg)
            .and_then(|n| Self::walk(n, segs))
        {
            return Some(m);
        }
        if self.wildcard == 0 {
            return None;
        }
        let type_id = std::str::from_utf8(type_seg)
            .ok()
            .and_then(|name| self.type_ids.get(name).copied())
            .unwrap_or(UNKNOWN_TYPE);
        Some(Match { type_id })
    }

    fn walk<'a>(type_node: &Node, segs: impl Iterator<Item = &'a [u8]>) -> Option<Match> {
        let type_id = type_node.type_id?;
        if type_node.refs > 0 {
            return Some(Match { type_id });
        }
        let mut node = type_node;
        for seg in segs {
            node = node.children.get(seg)?;
            if node.refs > 0 {
                return Some(Match { type_id });
            }
        }
        None
    }

    /// Number of live subscriptions, counting duplicates.
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(prefixes: &[&str]) -> TopicTree {
        let mut t = TopicTree::new();
        for p in prefixes {
            assert!(t.add(p.as_bytes()));
        }
        t
    }

    #[test]
    fn the_seed_topic_table() {
        let t = tree(&["E.a.b."]);
        assert!(t.matches(b"E.a.b.").is_some());
        assert!(t.matches(b"E.a.b.c.").is_some());
        assert!(t.matches(b"E.a.c.").is_none());
        assert!(t.matches(b"E.a.bb.").is_none());
        assert!(t.matches(b"E.a.").is_none());
        assert!(t.matches(b"E.").is_none());
    }

    #[test]
    fn type_only_subscription_matches_every_topic_of_that_type_and_no_other() {
        let t = tree(&["E."]);
        assert!(t.matches(b"E.").is_some());
        assert!(t.matches(b"E.x.y.").is_some());
        assert!(t.matches(b"EE.").is_none());
        assert!(t.matches(b"F.").is_none());
    }

    #[test]
    fn type_ids_are_stable_and_distinct() {
        let mut t = tree(&["A.", "B.x."]);
        let a = t.matches(b"A.q.").unwrap().type_id;
        let b = t.matches(b"B.x.y.").unwrap().type_id;
        assert_ne!(a, b);
        assert_eq!(t.type_id("A"), a);
        assert!(t.remove(b"A."));
        assert!(t.add(b"A.z."));
        assert_eq!(t.matches(b"A.z.").unwrap().type_id, a);
    }

    #[test]
    fn remove_is_reference_counted_and_prunes() {
        let mut t = tree(&["E.a.", "E.a."]);
        assert_eq!(t.len(), 2);
        assert!(t.remove(b"E.a."));
        assert!(t.matches(b"E.a.").is_some());
        assert!(t.remove(b"E.a."));
        assert!(t.matches(b"E.a.").is_none());
        assert!(!t.remove(b"E.a."));
        assert!(t.is_empty());
        assert!(t.root.children.is_empty());
    }

    #[test]
    fn malformed_input_never_matches_or_panics() {
        let t = tree(&["E."]);
        for bad in [&b""[..], b".", b"E", b"..", b".E.", b"\xff."] {
            assert!(t.matches(bad).is_none());
        }
        let mut t = TopicTree::new();
        assert!(!t.add(b"E"));
        assert!(!t.add(b""));
        assert!(!t.remove(b"E."));
    }

    #[test]
    fn subscribe_all_matches_every_type_and_names_unknown_ones() {
        let mut t = tree(&["A.x."]);
        let a = t.type_id("A");
        assert!(t.matches(b"A.y.").is_none());
        t.add_all();
        assert_eq!(t.matches(b"A.y.").unwrap().type_id, a);
        assert_eq!(t.matches(b"Zed.q.").unwrap().type_id, UNKNOWN_TYPE);
        assert!(t.matches(b"bad").is_none());
        assert!(t.remove_all());
        assert!(!t.remove_all());
        assert!(t.matches(b"Zed.q.").is_none());
    }

    #[test]
    fn a_hundred_thousand_segments_add_match_remove_and_drop_without_recursion() {
        // Run on a small stack: a recursive walk or drop of 100,000 levels would overflow it.
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| {
                let deep = format!("T.{}", "a.".repeat(100_000));
                let mut t = tree(&[deep.as_str(), "T.a.b."]);
                assert!(t.matches(format!("{deep}z.").as_bytes()).is_some());
                assert!(t.remove(deep.as_bytes()));
                assert!(!t.remove(deep.as_bytes()));
                assert!(t.matches(b"T.a.b.c.").is_some());
                assert!(t.matches(b"T.a.a.").is_none());
                assert!(t.add(deep.as_bytes()));
                drop(t);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn removing_one_branch_keeps_its_siblings_and_shared_ancestors() {
        let mut t = tree(&["E.a.", "E.a.b.c.", "E.a.b.d.", "E.x."]);
        assert!(t.remove(b"E.a.b.c."));
        assert!(t.matches(b"E.a.b.d.").is_some());
        assert!(t.matches(b"E.a.q.").is_some());
        assert!(t.remove(b"E.a."));
        assert!(t.matches(b"E.a.q.").is_none());
        assert!(t.matches(b"E.a.b.d.").is_some());
        assert!(!t.remove(b"E.a.b."));
        assert!(t.remove(b"E.a.b.d."));
        assert!(t.remove(b"E.x."));
        assert!(t.root.children.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn a_hundred_thousand_filters_still_match_exactly() {
        let mut t = TopicTree::new();
        for i in 0..100_000 {
            assert!(t.add(format!("T.qpu{}.fridge.", i).as_bytes()));
        }
        assert!(t.matches(b"T.qpu99999.fridge.mxc.").is_some());
        assert!(t.matches(b"T.qpu99999.fridgex.").is_none());
        assert!(t.matches(b"T.qpu100000.fridge.").is_none());
    }
}
