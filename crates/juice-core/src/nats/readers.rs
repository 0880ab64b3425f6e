//! The NATS subscriptions that follow a set of Juice filters, shared by the subscriber's
//! receiver and the bridge: one reader task per filter frame, reading the filter's NATS
//! subscriptions (the topic itself and everything below it) merged into one stream.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_nats::{Client, Message, Subscriber};
use futures_util::Stream;
use tokio::task::JoinHandle;

use super::subject::Subjects;

/// The NATS subscriptions of one Juice filter (one or two), read as one stream, taking turns.
/// Not `futures::stream::SelectAll`: that queues its stream again, with an allocation, after
/// every message.
pub(crate) struct Merged {
    subs: Vec<Subscriber>,
    next: usize,
}

impl Stream for Merged {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let n = self.subs.len();
        let mut ended = 0;
        for i in 0..n {
            let k = (self.next + i) % n;
            match Pin::new(&mut self.subs[k]).poll_next(cx) {
                Poll::Ready(Some(m)) => {
                    self.next = (k + 1) % n;
                    return Poll::Ready(Some(m));
                }
                Poll::Ready(None) => ended += 1,
                Poll::Pending => {}
            }
        }
        if ended == n {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

#[derive(Default)]
pub(crate) struct Readers {
    tasks: HashMap<Vec<u8>, JoinHandle<()>>,
}

impl Readers {
    /// Makes the reader tasks match `wanted` (filter frames; empty = every event): starts a
    /// task (`spawn` of the merged stream) for each new frame, and stops those no longer wanted.
    /// A frame that cannot be subscribed (which happens only while the client closes) gets no
    /// task; the next change of interest tries it again.
    pub(crate) async fn follow(
        &mut self,
        client: &Client,
        subjects: &Subjects,
        wanted: &[Vec<u8>],
        mut spawn: impl FnMut(Merged) -> JoinHandle<()>,
    ) {
        for frame in wanted {
            if self.tasks.contains_key(frame) {
                continue;
            }
            if let Some(merged) = subscribe(client, subjects, frame).await {
                self.tasks.insert(frame.clone(), spawn(merged));
            }
        }
        self.tasks.retain(|frame, task| {
            let keep = wanted.contains(frame);
            if !keep {
                task.abort();
            }
            keep
        });
    }

    /// Stops every reader.
    pub(crate) fn clear(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Subscribes the NATS subjects of one filter frame; None if any subscription failed (those
/// made are dropped, which unsubscribes them).
async fn subscribe(client: &Client, subjects: &Subjects, frame: &[u8]) -> Option<Merged> {
    let filters: Vec<String> = if frame.is_empty() {
        vec![subjects.everything()]
    } else {
        subjects.filters_of_frame(frame).ok()?.to_vec()
    };
    let mut subs = Vec::with_capacity(filters.len());
    for f in filters {
        subs.push(client.subscribe(f).await.ok()?);
    }
    Some(Merged { subs, next: 0 })
}
