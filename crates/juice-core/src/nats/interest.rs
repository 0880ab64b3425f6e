//! Who on NATS wants what, for the bridge. A NATS client cannot see the server's subscriptions,
//! so every NATS subscriber of ours announces its filters on a control subject: whenever they
//! change, every [`ANNOUNCE_EVERY`], and when asked. The bridge keeps each announcement as a lease
//! that ends after [`LEASE`] without renewal, so a subscriber that died stops costing traffic.
//!
//! Control subjects live outside the event prefix (`_JUICE.<prefix>.interest`), so no event type
//! can collide with them. An announcement is text: the announcer's id on the first line, then one
//! filter per line as the escaped subject of its frame, or `>` for everything.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::subject::Subjects;

pub(crate) const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);
pub(crate) const LEASE: Duration = Duration::from_secs(7);

/// Bounds on what announcers may make a bridge hold (and subscribe on the proxy): anyone who may
/// publish on the cluster can announce, so a broken or hostile one must not grow it without end.
pub(crate) const MAX_ANNOUNCERS: usize = 4096;
pub(crate) const MAX_FILTERS: usize = 65_536;

pub(crate) fn announce_subject(subjects: &Subjects) -> String {
    format!("_JUICE.{}.interest", subjects.prefix())
}

pub(crate) fn query_subject(subjects: &Subjects) -> String {
    format!("_JUICE.{}.interest.query", subjects.prefix())
}

/// An id for an announcer or a bridge, unique enough across processes and machines.
pub(crate) fn new_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS; the rest separates ids within one process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

/// The announcement of `filters` (frames; empty = everything) by `id`.
pub(crate) fn encode(id: u64, subjects: &Subjects, filters: &[Vec<u8>]) -> String {
    let mut out = format!("{id:016x}");
    let mut subject = String::new();
    for f in filters {
        out.push('\n');
        if f.is_empty() {
            out.push('>');
        } else if subjects.subject_of_frame(f, &mut subject).is_ok() {
            out.push_str(&subject);
        }
    }
    out
}

/// The announcer's id and its filters; None for a payload no announcer of ours writes,
/// including a filter our `subscribe()` would refuse (too long or too deep: see
/// [`crate::wire::filter_within_limits`]) and more than [`MAX_FILTERS`] of them.
pub(crate) fn decode(subjects: &Subjects, payload: &[u8]) -> Option<(u64, Vec<Vec<u8>>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut lines = text.split('\n');
    let id = u64::from_str_radix(lines.next()?, 16).ok()?;
    let mut filters = Vec::new();
    for line in lines {
        if filters.len() == MAX_FILTERS {
            return None;
        }
        if line == ">" {
            filters.push(Vec::new());
        } else {
            let mut frame = Vec::new();
            subjects.frame_of_subject(line, &mut frame).ok()?;
            if !crate::wire::filter_within_limits(&frame) {
                return None;
            }
            filters.push(frame);
        }
    }
    Some((id, filters))
}

/// Announcements in force.
#[derive(Default)]
pub(crate) struct Leases {
    by_id: HashMap<u64, (Vec<Vec<u8>>, Instant)>,
    /// Filters over all leases, counting repeats.
    filters: usize,
}

/// An announcement beyond [`MAX_ANNOUNCERS`] or [`MAX_FILTERS`]: not recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused;

impl Leases {
    /// Records an announcement; returns whether the union of filters may have changed.
    pub(crate) fn renew(
        &mut self,
        id: u64,
        filters: Vec<Vec<u8>>,
        now: Instant,
    ) -> Result<bool, Refused> {
        let held = self.by_id.get(&id).map_or(0, |(old, _)| old.len());
        if filters.is_empty() {
            self.filters -= held;
            return Ok(self.by_id.remove(&id).is_some());
        }
        let new_id = held == 0 && !self.by_id.contains_key(&id);
        if (new_id && self.by_id.len() >= MAX_ANNOUNCERS)
            || self.filters - held + filters.len() > MAX_FILTERS
        {
            return Err(Refused);
        }
        let changed = self.by_id.get(&id).is_none_or(|(old, _)| *old != filters);
        self.filters = self.filters - held + filters.len();
        self.by_id.insert(id, (filters, now + LEASE));
        Ok(changed)
    }

    /// Drops leases not renewed in time; returns whether any was dropped.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let before = self.by_id.len();
        let mut freed = 0;
        self.by_id.retain(|_, (f, until)| {
            let keep = *until > now;
            if !keep {
                freed += f.len();
            }
            keep
        });
        self.filters -= freed;
        self.by_id.len() != before
    }

    /// Every filter someone holds, in byte order.
    pub(crate) fn union(&self) -> BTreeSet<Vec<u8>> {
        self.by_id
            .values()
            .flat_map(|(f, _)| f.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_and_leases_expire() {
        let s = Subjects::new("lab.juice").unwrap();
        let filters = vec![b"T.a b.".to_vec(), Vec::new(), b"U.".to_vec()];
        let text = encode(7, &s, &filters);
        assert_eq!(decode(&s, text.as_bytes()), Some((7, filters.clone())));
        assert_eq!(decode(&s, b"zz\nlab.juice.T"), None);
        assert_eq!(decode(&s, b"1\nother.T"), None);

        let t0 = Instant::now();
        let mut l = Leases::default();
        assert_eq!(l.renew(1, vec![b"T.".to_vec()], t0), Ok(true));
        assert_eq!(l.renew(1, vec![b"T.".to_vec()], t0), Ok(false));
        assert_eq!(l.renew(2, vec![b"U.a.".to_vec()], t0), Ok(true));
        assert_eq!(l.union().len(), 2);
        assert_eq!(
            l.renew(2, Vec::new(), t0),
            Ok(true),
            "an empty announcement ends the lease"
        );
        assert!(!l.expire(t0 + LEASE / 2));
        assert!(l.expire(t0 + LEASE + Duration::from_millis(1)));
        assert!(l.union().is_empty());
        assert_eq!(l.filters, 0);
    }

    #[test]
    fn filters_beyond_subscribe_limits_and_too_many_announcers_are_refused() {
        let s = Subjects::new("juice").unwrap();
        let long = format!("T.{}.", "x".repeat(crate::wire::MAX_TOPIC_BYTES + 1));
        let deep = format!("T.{}", "a.".repeat(crate::wire::MAX_TOPIC_SEGMENTS + 1));
        for bad in [long.as_bytes(), deep.as_bytes()] {
            let mut subject = String::new();
            s.subject_of_frame(bad, &mut subject).unwrap();
            assert_eq!(decode(&s, format!("1\n{subject}").as_bytes()), None);
        }
        let ok = format!("T.{}.", "x".repeat(crate::wire::MAX_TOPIC_BYTES));
        let mut subject = String::new();
        s.subject_of_frame(ok.as_bytes(), &mut subject).unwrap();
        assert!(decode(&s, format!("1\n{subject}").as_bytes()).is_some());

        let t0 = Instant::now();
        let mut l = Leases::default();
        for id in 0..MAX_ANNOUNCERS as u64 {
            assert!(l.renew(id, vec![b"T.".to_vec()], t0).is_ok());
        }
        assert_eq!(l.renew(u64::MAX, vec![b"T.".to_vec()], t0), Err(Refused));
        assert!(
            l.renew(0, vec![b"U.".to_vec()], t0).is_ok(),
            "a known announcer may change"
        );
        let many = vec![b"T.".to_vec(); MAX_FILTERS];
        assert_eq!(l.renew(1, many, t0), Err(Refused));
        assert!(l.expire(t0 + LEASE + Duration::from_millis(1)));
        assert_eq!(l.filters, 0);
    }
}
